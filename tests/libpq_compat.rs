//! libpq 13 compatibility end to end: the keepalive settings, `localhost` with this
//! machine's `/etc/hosts`, read-only servers named by name and by address, and the dsn of
//! a connection's `Debug` for every combination of host, port, user, password and database.
//!
//! Every test runs on both drivers (`name::blocking`, `name::tokio`; `connecting::Driver`):
//! keepalives are socket options, and name lookups and the address walk are the drivers'
//! own; all of these are quick.
//!
//! Expected texts were printed by `python3 /work/shared/tools/rexref libpq '...'` and
//! `rexref connect URI [NAME]` (libpq 13.3, psycopg2 2.9.1) against closed ports and a
//! PostgreSQL 15 server set up as `TestServer` is (port 47124 there, with `PGHOST`,
//! `PGPORT`, `PGUSER=postgres` and `PGPASSWORD` set for the dsn table); only the ports
//! differ. The rows of messages.md §3.3 that need their own name resolution (`localhost`
//! → `::1`, `127.0.0.1`; unknown host names; no `pg_hba.conf` entry) are in `tests/dns.rs`.
#![cfg(feature = "testing")]

mod connecting;
mod fake_server;

use std::net::ToSocketAddrs;

use connecting::{both_drivers, failure, resolve, Driver};
use fake_server::{closed_port, refused};
use pgcluster::testing::{TestServer, PASSWORD_ROLE};

fn server() -> &'static TestServer {
    TestServer::shared().expect("test server starts")
}

both_drivers!(keepalives_are_checked_for_each_tcp_address);
async fn keepalives_are_checked_for_each_tcp_address(driver: Driver) {
    let (p1, p2) = (closed_port(), closed_port());
    let two = format!("host=127.0.0.1,127.0.0.1 port={p1},{p2} user=u dbname=d");
    // rexref libpq 'host=127.0.0.1,127.0.0.1 port=2345,2346 keepalives=x ...'
    assert_eq!(
        failure(driver, &format!("{two} keepalives=x")).await,
        "keepalives parameter must be an integer\nkeepalives parameter must be an integer\n"
    );
    // The other settings are read only when keepalives are on, and stop nothing: each
    // address gets its text and the next one is tried.
    assert_eq!(
        failure(
            driver,
            &format!("{two} keepalives_idle=abc keepalives_count=x")
        )
        .await,
        "invalid integer value \"abc\" for connection option \"keepalives_idle\"\n\
         invalid integer value \"abc\" for connection option \"keepalives_idle\"\n"
    );
    assert_eq!(
        failure(driver, &format!("{two} keepalives_count=128")).await,
        "setsockopt(TCP_KEEPCNT) failed: Invalid argument\nsetsockopt(TCP_KEEPCNT) failed: Invalid argument\n"
    );
    assert_eq!(
        failure(
            driver,
            &format!("{two} keepalives=0 keepalives_idle=x tcp_user_timeout=y")
        )
        .await,
        format!("{}{}", refused(&p1.to_string()), refused(&p2.to_string()))
    );
    // Only TCP sockets are checked: the same bad values over a Unix socket connect
    // (rexref libpq 'host=<socket dir> ... keepalives=x keepalives_idle=y' → OK).
    let s = server();
    let mut conn = match driver
        .connect(&resolve(&format!(
            "host={} port={} user=postgres dbname=postgres keepalives=x keepalives_idle=y",
            s.socket_dir().display(),
            s.port()
        )))
        .await
    {
        Ok(conn) => conn,
        Err(e) => panic!("{}", e.message),
    };
    conn.close().await;
    // Valid values connect over TCP.
    let mut conn = match driver.connect(&resolve(&format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres password={} keepalives=1 keepalives_idle=30 keepalives_interval=5 keepalives_count=3 tcp_user_timeout=1000",
        s.port(),
        s.password()
    )))
    .await
    {
        Ok(conn) => conn,
        Err(e) => panic!("{}", e.message),
    };
    conn.close().await;
}

both_drivers!(localhost_gets_one_block_per_address);
async fn localhost_gets_one_block_per_address(driver: Driver) {
    // Here `/etc/hosts` maps localhost to 127.0.0.1 only, and rexref printed one block:
    // rexref libpq 'host=localhost port=2345 ...' → 'could not connect to server:
    // Connection refused\n\tIs the server running on host "localhost" (127.0.0.1) and
    // accepting\n\tTCP/IP connections on port 2345?\n'. On a machine that also maps ::1,
    // libpq prints one block per address, in getaddrinfo's order (tests/dns.rs shows it).
    let p = closed_port();
    let expected: String = ("localhost", p)
        .to_socket_addrs()
        .expect("localhost resolves")
        .map(|addr| {
            format!(
                "could not connect to server: Connection refused\n\tIs the server running on host \"localhost\" ({}) and accepting\n\tTCP/IP connections on port {p}?\n",
                addr.ip()
            )
        })
        .collect();
    assert!(expected.contains("(127.0.0.1)"), "{expected}");
    assert_eq!(
        failure(driver, &format!("host=localhost port={p} user=u dbname=d")).await,
        expected
    );
}

both_drivers!(read_only_by_address_and_by_name);
async fn read_only_by_address_and_by_name(driver: Driver) {
    let (port, password) = (server().port(), server().password());
    // rexref libpq 'host=127.0.0.1,localhost port=47124 ... target_session_attrs=read-write'
    // against a hot standby; here the sessions are made read-only by `options`.
    assert_eq!(
        failure(driver, &format!(
            "host=127.0.0.1,localhost port={port} user=postgres dbname=postgres password={password} target_session_attrs=read-write options='-c default_transaction_read_only=on'"
        ))
        .await,
        format!(
            "could not make a writable connection to server \"127.0.0.1:{port}\"\n\
             could not make a writable connection to server \"localhost:{port}\"\n"
        )
    );
}

/// The rows of the dsn table: host, port, user, password given or not (database
/// `postgres`), and the dsn `rexref connect` showed, with `{P}` for the port.
const DSN_ROWS: [(bool, bool, bool, bool, &str); 16] = [
    (false, false, false, false, "dbname=postgres"),
    (false, false, false, true, "password=xxx dbname=postgres"),
    (
        false,
        false,
        true,
        false,
        "user=pgcluster_password dbname=postgres",
    ),
    (
        false,
        false,
        true,
        true,
        "user=pgcluster_password password=xxx dbname=postgres",
    ),
    (false, true, false, false, "port={P} dbname=postgres"),
    (
        false,
        true,
        false,
        true,
        "password=xxx dbname=postgres port={P}",
    ),
    (
        false,
        true,
        true,
        false,
        "port={P} user=pgcluster_password dbname=postgres",
    ),
    (
        false,
        true,
        true,
        true,
        "user=pgcluster_password password=xxx dbname=postgres port={P}",
    ),
    (true, false, false, false, "host=127.0.0.1 dbname=postgres"),
    (
        true,
        false,
        false,
        true,
        "password=xxx dbname=postgres host=127.0.0.1",
    ),
    (
        true,
        false,
        true,
        false,
        "host=127.0.0.1 user=pgcluster_password dbname=postgres",
    ),
    (
        true,
        false,
        true,
        true,
        "user=pgcluster_password password=xxx dbname=postgres host=127.0.0.1",
    ),
    (
        true,
        true,
        false,
        false,
        "host=127.0.0.1 port={P} dbname=postgres",
    ),
    (
        true,
        true,
        false,
        true,
        "password=xxx dbname=postgres host=127.0.0.1 port={P}",
    ),
    (
        true,
        true,
        true,
        false,
        "host=127.0.0.1 port={P} user=pgcluster_password dbname=postgres",
    ),
    (
        true,
        true,
        true,
        true,
        "user=pgcluster_password password=xxx dbname=postgres host=127.0.0.1 port={P}",
    ),
];

/// A database name that needs quoting and both escapes.
const ODD_DB: &str = "h9 it's\\x";
/// How psycopg2 shows it: `rexref connect URI "h9 it's\x"` printed `dbname='h9 it\'s\\x'`.
const ODD_DB_SHOWN: &str = "dbname='h9 it\\'s\\\\x'";

both_drivers!(connection_dsn_for_every_combination);
async fn connection_dsn_for_every_combination(driver: Driver) {
    let s = server();
    // Made once for both drivers' runs, which share the server.
    static ODD_DB_MADE: std::sync::Once = std::sync::Once::new();
    ODD_DB_MADE.call_once(|| {
        s.psql("CREATE DATABASE \"h9 it's\\x\"")
            .expect("create the odd database");
    });
    let port = s.port().to_string();
    // What the URI leaves out comes from the environment; PGPASSWORD lets the password
    // role log in over TCP when the URI has no password (rex does not show it).
    let pw = s.password();
    let env = s.env().with("PGPASSWORD", pw);
    for (host, with_port, user, password, dsn) in DSN_ROWS {
        let userinfo = match (user, password) {
            (false, false) if with_port && !host => "@".to_owned(),
            (false, false) => String::new(),
            (true, false) => format!("{PASSWORD_ROLE}@"),
            (false, true) => format!(":{pw}@"),
            (true, true) => format!("{PASSWORD_ROLE}:{pw}@"),
        };
        let uri = format!(
            "pgsql://{userinfo}{}{}/postgres",
            if host { "127.0.0.1" } else { "" },
            if with_port {
                format!(":{port}")
            } else {
                String::new()
            }
        );
        let cluster = driver.cluster(&uri).expect("setting").with_env(env.clone());
        let expected = dsn.replace("{P}", &port);
        for (name, shown) in [
            (None, expected.clone()),
            (
                Some(ODD_DB),
                expected.replace("dbname=postgres", ODD_DB_SHOWN),
            ),
        ] {
            let mut conn = match cluster.connect(name).await {
                Ok(conn) => conn,
                Err(e) => panic!("{uri} {name:?}: {e}"),
            };
            let repr = conn.repr();
            let (address, rest) = repr.split_once("; ").expect("repr");
            assert!(address.starts_with("<connection object at 0x"), "{repr}");
            assert_eq!(
                rest,
                format!("dsn: '{shown}', closed: 0>"),
                "{uri} {name:?}"
            );
            conn.close().await;
        }
    }
}
