//! `target_session_attrs=read-write` against a real primary and hot standby
//! (`TestServer::start_standby`), before and after the standby is promoted.
//!
//! Both drivers run every check (`connecting::on_each_driver`): the read-write probe and
//! the walk to the next host are connect paths of each driver's own.
//!
//! Expected texts were printed by `python3 /work/shared/tools/rexref libpq '...'`
//! (libpq 13.3, `sslmode=disable`) against a PostgreSQL 15 primary on port 47123 and its
//! `pg_basebackup -R` hot standby on port 47124, e.g.
//! `rexref libpq 'host=/tmp/h9pg/sock,127.0.0.1 port=47124 user=postgres dbname=postgres
//! target_session_attrs=read-write'` →
//! `'could not make a writable connection to server "/tmp/h9pg/sock:47124"\ncould not make
//! a writable connection to server "127.0.0.1:47124"\n'`, and `OK` (connected) for the
//! primary in either place of the list. Only the ports and the socket directory differ here.
#![cfg(feature = "testing")]

mod connecting;
mod fake_server;

use connecting::{failure, on_each_driver, resolve, Driver};
use fake_server::{closed_port, refused};
use pgcluster::testing::TestServer;

/// `host=<hosts> port=<ports> user=postgres dbname=postgres password=<password>
/// target_session_attrs=read-write` (a standby has its primary's password)
fn read_write(hosts: &str, ports: &str, password: &str) -> String {
    format!(
        "host={hosts} port={ports} user=postgres dbname=postgres password={password} \
         target_session_attrs=read-write"
    )
}

/// Connects and returns the server's port and whether it is in recovery.
async fn reached(driver: Driver, conninfo: &str) -> (String, String) {
    let mut conn = match driver.connect(&resolve(conninfo)).await {
        Ok(conn) => conn,
        Err(e) => panic!("connect {conninfo:?}: {}", e.message),
    };
    let results = conn
        .simple_query("SELECT current_setting('port'), pg_is_in_recovery()::text")
        .await
        .expect("query");
    let row = &results[0].rows[0];
    let values = (
        row[0].clone().expect("port"),
        row[1].clone().expect("in recovery"),
    );
    conn.close().await;
    values
}

/// One primary and standby for both drivers (a promotion cannot be undone, and a pair is
/// slow to make): each stage runs on both drivers before the next.
#[test]
fn read_write_finds_the_primary_and_follows_a_promotion() {
    let mut primary = TestServer::new().expect("primary starts");
    let standby = TestServer::start_standby(&primary).expect("standby starts");
    let (p, s) = (primary.port(), standby.port());
    let sock = standby.socket_dir().display().to_string();
    let pw = primary.password().to_owned();
    assert_eq!(standby.password(), pw);

    on_each_driver(|driver| before_promotion(driver, p, s, &sock, &pw));

    // Promote the standby and stop the old primary: the same setting finds the new one.
    standby.promote().expect("promote");
    primary.stop().expect("stop the old primary");
    on_each_driver(|driver| after_promotion(driver, p, s, &pw));
}

async fn before_promotion(driver: Driver, p: u16, s: u16, sock: &str, pw: &str) {
    // The primary is found in either order.
    let primary_reached = (p.to_string(), "false".to_owned());
    assert_eq!(
        reached(
            driver,
            &read_write("127.0.0.1,127.0.0.1", &format!("{s},{p}"), pw)
        )
        .await,
        primary_reached
    );
    assert_eq!(
        reached(
            driver,
            &read_write("127.0.0.1,127.0.0.1", &format!("{p},{s}"), pw)
        )
        .await,
        primary_reached
    );
    // Without the setting, the first host is taken, read-only or not.
    assert_eq!(
        reached(
            driver,
            &format!(
                "host=127.0.0.1,127.0.0.1 port={s},{p} user=postgres dbname=postgres password={pw}"
            )
        )
        .await,
        (s.to_string(), "true".to_owned())
    );

    // Two read-only entries: one text each, with the host and port as given.
    assert_eq!(
        failure(
            driver,
            &read_write(&format!("{sock},127.0.0.1"), &s.to_string(), pw)
        )
        .await,
        format!(
            "could not make a writable connection to server \"{sock}:{s}\"\n\
             could not make a writable connection to server \"127.0.0.1:{s}\"\n"
        )
    );
    // A read-only server, then a refused port: both texts are kept.
    let closed = closed_port();
    assert_eq!(
        failure(
            driver,
            &read_write("127.0.0.1,127.0.0.1", &format!("{s},{closed}"), pw)
        )
        .await,
        format!(
            "could not make a writable connection to server \"127.0.0.1:{s}\"\n{}",
            refused(&closed.to_string())
        )
    );
}

async fn after_promotion(driver: Driver, p: u16, s: u16, pw: &str) {
    let new_primary = (s.to_string(), "false".to_owned());
    assert_eq!(
        reached(
            driver,
            &read_write("127.0.0.1,127.0.0.1", &format!("{p},{s}"), pw)
        )
        .await,
        new_primary
    );
    assert_eq!(
        reached(
            driver,
            &read_write("127.0.0.1,127.0.0.1", &format!("{s},{p}"), pw)
        )
        .await,
        new_primary
    );
}
