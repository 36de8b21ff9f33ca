//! Several hosts against a real primary and hot standby (`TestServer::start_standby`), on
//! both drivers: every `target_session_attrs` value in both orders of hosts, and
//! `load_balance_hosts=random` spreading connections over the two.
//!
//! `any` and `read-write` are libpq 13's values, with its texts (tests/standby.rs pins them
//! against `rexref`); `read-only`, `primary`, `standby` and `prefer-standby` came with
//! libpq 14, and their texts are libpq 18's. Those were printed by libpq 18.6's `psql`
//! (`/var/tmp/pgcluster-ci/postgresql-18.6.0/.../bin/psql`, `LD_LIBRARY_PATH` its `lib/`)
//! against this pair, with `psql: error: ` taken off, e.g.
//! `psql 'host=127.0.0.1 port=36177 ... target_session_attrs=read-only'` →
//! `connection to server at "127.0.0.1", port 36177 failed: session is not read-only`,
//! `host=localhost port=34463 ... target_session_attrs=primary` →
//! `connection to server at "localhost" (127.0.0.1), port 34463 failed: server is in hot
//! standby mode`, `host=<socket dir> port=34463 ... primary` → `connection to server on
//! socket "<socket dir>/.s.PGSQL.34463" failed: server is in hot standby mode`, and for each
//! value and order of the two hosts the port psql reached is the one asserted here.
#![cfg(feature = "testing")]

mod connecting;
mod fake_server;

use connecting::{failure, on_each_driver, resolve, Driver};
use fake_server::{closed_port, refused};
use pgcluster::testing::TestServer;

/// The pair's ports, the standby's socket directory and the (shared) password.
struct Pair {
    primary: u16,
    standby: u16,
    sock: String,
    password: String,
}

impl Pair {
    fn setting(&self, hosts: &str, ports: &str, mode: &str) -> String {
        format!(
            "host={hosts} port={ports} user=postgres dbname=postgres password={} \
             sslmode=disable target_session_attrs={mode}",
            self.password
        )
    }
}

/// The port of the server reached.
async fn reached(driver: Driver, conninfo: &str) -> u16 {
    let mut conn = match driver.connect(&resolve(conninfo)).await {
        Ok(conn) => conn,
        Err(e) => panic!("connect {conninfo:?}: {}", e.message),
    };
    let results = conn
        .simple_query("SELECT current_setting('port')")
        .await
        .expect("query");
    let port = results[0].rows[0][0].clone().expect("port");
    conn.close().await;
    port.parse().expect("a port")
}

#[test]
fn every_value_against_a_primary_and_a_standby() {
    let primary = TestServer::new().expect("primary starts");
    let standby = TestServer::start_standby(&primary).expect("standby starts");
    let pair = Pair {
        primary: primary.port(),
        standby: standby.port(),
        sock: standby.socket_dir().display().to_string(),
        password: primary.password().to_owned(),
    };
    on_each_driver(|driver| both_orders(driver, &pair));
    on_each_driver(|driver| turned_down(driver, &pair));
    on_each_driver(|driver| load_balanced(driver, &pair));
}

/// Connections made with `load_balance_hosts=random`.
const SPREAD_TRIES: usize = 60;

async fn load_balanced(driver: Driver, pair: &Pair) {
    let (p, s) = (pair.primary, pair.standby);
    let hosts = format!("127.0.0.1,127.0.0.1 port={p},{s}");
    let count = |setting: String| async move {
        let mut primary = 0usize;
        for _ in 0..SPREAD_TRIES {
            if reached(driver, &setting).await == p {
                primary += 1;
            }
        }
        primary
    };
    // Each connection starts at either host with probability 1/2: 60 tries leave fewer
    // than 5 on one host with probability 2 * P(Binomial(60, 1/2) < 5) ~ 7e-13.
    let random = format!(
        "host={hosts} user=postgres dbname=postgres password={} sslmode=disable \
         load_balance_hosts=random",
        pair.password
    );
    let on_primary = count(random.clone()).await;
    assert!(
        (5..=SPREAD_TRIES - 5).contains(&on_primary),
        "{on_primary} of {SPREAD_TRIES} on the primary"
    );
    // disable (the default): always the first host.
    let ordered = random.replace("random", "disable");
    assert_eq!(count(ordered).await, SPREAD_TRIES);
    // random with a target: always the server that fits.
    assert_eq!(
        count(format!("{random} target_session_attrs=primary")).await,
        SPREAD_TRIES
    );
}

async fn both_orders(driver: Driver, pair: &Pair) {
    let (p, s) = (pair.primary, pair.standby);
    // (value, reached with the primary first, reached with the standby first)
    let cases = [
        ("any", p, s),
        ("read-write", p, p),
        ("read-only", s, s),
        ("primary", p, p),
        ("standby", s, s),
        ("prefer-standby", s, s),
    ];
    for (mode, primary_first, standby_first) in cases {
        let setting = pair.setting("127.0.0.1,127.0.0.1", &format!("{p},{s}"), mode);
        assert_eq!(reached(driver, &setting).await, primary_first, "{mode}");
        let setting = pair.setting("127.0.0.1,127.0.0.1", &format!("{s},{p}"), mode);
        assert_eq!(reached(driver, &setting).await, standby_first, "{mode}");
    }
    // prefer-standby with no standby in the list: the second pass takes the primary.
    let setting = pair.setting("127.0.0.1,127.0.0.1", &format!("{p},{p}"), "prefer-standby");
    assert_eq!(reached(driver, &setting).await, p);
    // ... and after a refused port too.
    let closed = closed_port();
    let setting = pair.setting(
        "127.0.0.1,127.0.0.1",
        &format!("{closed},{p}"),
        "prefer-standby",
    );
    assert_eq!(reached(driver, &setting).await, p);
}

async fn turned_down(driver: Driver, pair: &Pair) {
    let (p, s, sock) = (pair.primary, pair.standby, &pair.sock);
    let at = |host: &str, port: u16, reason: &str| {
        format!("connection to server at \"{host}\", port {port} failed: {reason}\n")
    };
    let cases = [
        (
            pair.setting("127.0.0.1", &p.to_string(), "read-only"),
            at("127.0.0.1", p, "session is not read-only"),
        ),
        (
            pair.setting("localhost", &s.to_string(), "primary"),
            format!(
                "connection to server at \"localhost\" (127.0.0.1), port {s} failed: \
                 server is in hot standby mode\n"
            ),
        ),
        (
            pair.setting(sock, &s.to_string(), "primary"),
            format!(
                "connection to server on socket \"{sock}/.s.PGSQL.{s}\" failed: \
                 server is in hot standby mode\n"
            ),
        ),
        (
            format!(
                "hostaddr=127.0.0.1 host=x {}",
                pair.setting("x", &s.to_string(), "primary")
            ),
            at("127.0.0.1", s, "server is in hot standby mode"),
        ),
        (
            pair.setting("127.0.0.1", &p.to_string(), "standby"),
            at("127.0.0.1", p, "server is not in hot standby mode"),
        ),
        // Two primaries: one text each.
        (
            pair.setting("127.0.0.1,127.0.0.1", &format!("{p},{p}"), "standby"),
            format!(
                "{}{}",
                at("127.0.0.1", p, "server is not in hot standby mode"),
                at("127.0.0.1", p, "server is not in hot standby mode")
            ),
        ),
        // libpq 13's value keeps libpq 13's text.
        (
            pair.setting("127.0.0.1", &s.to_string(), "read-write"),
            format!("could not make a writable connection to server \"127.0.0.1:{s}\"\n"),
        ),
    ];
    for (setting, expected) in cases {
        assert_eq!(failure(driver, &setting).await, expected, "{setting}");
    }
    // A standby turned down, then a refused port: both texts are kept.
    let closed = closed_port();
    assert_eq!(
        failure(
            driver,
            &pair.setting("127.0.0.1,127.0.0.1", &format!("{s},{closed}"), "primary")
        )
        .await,
        format!(
            "{}{}",
            at("127.0.0.1", s, "server is in hot standby mode"),
            refused(&closed.to_string())
        )
    );
}
