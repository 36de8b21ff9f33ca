//! Behind a real PgBouncer (`pgcluster::testing::PgBouncer`, Debian's `pgbouncer`, which
//! `.ci/run` installs) in front of a real throwaway server: connecting (SCRAM through the
//! pooler, and trust), simple and extended queries with parameters, transactions and
//! `exists()` in session and in transaction pooling; LISTEN/NOTIFY in session pooling;
//! what transaction pooling cannot do (named prepared statements). Run with
//! `cargo test --all-features --test pooler`. Without `pgbouncer` installed these tests
//! fail, saying so: CI installs it.
#![cfg(feature = "testing")]

use std::sync::OnceLock;
use std::time::Duration;

use pgcluster::blocking::{Cluster, Connection};
use pgcluster::testing::{PgBouncer, PoolMode, PoolerAuth, TestServer, SCRAM_ROLE, SUPERUSER};

fn server() -> &'static TestServer {
    TestServer::shared().expect("test server starts")
}

/// One pooler per mode for the tests that share it; kept for the life of the process (the
/// guardian stops it when the process is gone).
fn pooler(mode: PoolMode) -> &'static PgBouncer {
    static SESSION: OnceLock<PgBouncer> = OnceLock::new();
    static TRANSACTION: OnceLock<PgBouncer> = OnceLock::new();
    let cell = match mode {
        PoolMode::Session => &SESSION,
        PoolMode::Transaction => &TRANSACTION,
    };
    cell.get_or_init(|| {
        PgBouncer::start(server(), mode).unwrap_or_else(|e| panic!("pgbouncer starts: {e}"))
    })
}

const MODES: [PoolMode; 2] = [PoolMode::Session, PoolMode::Transaction];

/// A cluster whose setting points at the pooler over TCP, as `role` (SCRAM).
fn pooled_cluster(pooler: &PgBouncer, role: &str, db: &str) -> Cluster {
    Cluster::new(&pooler.tcp_uri(role, db)).expect("setting parses")
}

fn value(conn: &mut Connection, sql: &str, params: &[Option<&str>]) -> Option<String> {
    let result = conn
        .query(sql, params)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    result.rows[0][0].clone()
}

#[test]
fn connects_through_the_pooler_with_scram_and_with_trust() {
    for mode in MODES {
        let pooler = pooler(mode);
        // SCRAM to the pooler over TCP, for a superuser and for a plain role.
        for role in [SUPERUSER, SCRAM_ROLE] {
            let cluster = pooled_cluster(pooler, role, "postgres");
            let mut conn = cluster
                .connect(None)
                .unwrap_or_else(|e| panic!("{mode:?} as {role}: {e}"));
            assert_eq!(
                value(&mut conn, "SELECT current_user", &[]).as_deref(),
                Some(role)
            );
            // The pooler's server connection comes over the server's socket.
            assert_eq!(
                value(&mut conn, "SELECT inet_client_addr()::text", &[]),
                None
            );
            conn.close();
        }
        // A wrong password is refused by the pooler itself.
        let wrong = pooler
            .tcp_uri(SCRAM_ROLE, "postgres")
            .replace(pooler.password(), "wrong");
        let err = Cluster::new(&wrong).unwrap().connect(None).unwrap_err();
        // PgBouncer's own text (the server's would be `password authentication failed`).
        assert!(
            err.to_string()
                .contains("FATAL:  SASL authentication failed"),
            "{mode:?}: {err}"
        );
    }
    let trust = PgBouncer::builder(server())
        .auth(PoolerAuth::Trust)
        .start()
        .expect("pgbouncer starts");
    let cluster = Cluster::new(&trust.uri(SUPERUSER, "postgres")).unwrap();
    let mut conn = cluster.connect(None).expect("trust through the socket");
    assert_eq!(value(&mut conn, "SELECT 6 * 7", &[]).as_deref(), Some("42"));
    conn.close();
}

#[test]
fn queries_transactions_and_exists_in_both_modes() {
    for mode in MODES {
        let pooler = pooler(mode);
        let cluster = pooled_cluster(pooler, SUPERUSER, "postgres");
        let mut conn = cluster.connect(None).expect("connects");
        // Simple query protocol, several statements.
        let results = conn.simple_query("SELECT 1; SELECT 'two'").expect("simple");
        assert_eq!(results.len(), 2);
        assert_eq!(results[1].rows[0][0].as_deref(), Some("two"));
        // Extended protocol with parameters, many times over (unnamed statements: no name
        // to collide on whichever server connection the pooler picks).
        for n in 0..20 {
            let text = n.to_string();
            assert_eq!(
                value(&mut conn, "SELECT $1::int * 2", &[Some(&text)]),
                Some((n * 2).to_string()),
                "{mode:?}"
            );
        }
        assert_eq!(
            value(&mut conn, "SELECT $1::text IS NULL", &[None]).as_deref(),
            Some("t")
        );
        // A transaction keeps its server connection: its temporary table is seen to the end.
        conn.simple_query("BEGIN").unwrap();
        conn.simple_query("CREATE TEMPORARY TABLE pooled (n int) ON COMMIT DROP")
            .unwrap();
        conn.query("INSERT INTO pooled VALUES ($1)", &[Some("7")])
            .unwrap();
        assert_eq!(
            value(&mut conn, "SELECT sum(n)::text FROM pooled", &[]).as_deref(),
            Some("7")
        );
        conn.simple_query("COMMIT").unwrap();
        // A rolled-back one leaves nothing.
        conn.simple_query("BEGIN; CREATE TABLE pooled_rollback (n int)")
            .unwrap();
        conn.simple_query("ROLLBACK").unwrap();
        assert_eq!(
            value(
                &mut conn,
                "SELECT to_regclass('pooled_rollback')::text",
                &[]
            ),
            None
        );
        conn.close();
        // exists() through the pooler.
        assert!(cluster.exists("postgres").expect("exists"), "{mode:?}");
        assert!(
            !cluster.exists("pgc_pooler_nosuch").expect("exists"),
            "{mode:?}"
        );
    }
}

#[test]
fn named_prepared_statements_in_session_pooling() {
    let pooler = pooler(PoolMode::Session);
    let cluster = pooled_cluster(pooler, SUPERUSER, "postgres");
    let mut conn = cluster.connect(None).unwrap();
    let statement = conn.prepare("SELECT $1::int + 1").expect("prepare");
    for n in ["1", "41"] {
        let result = conn
            .query_prepared(&statement, &[Some(n)])
            .expect("execute");
        assert_eq!(
            result.rows[0][0],
            Some((n.parse::<i32>().unwrap() + 1).to_string())
        );
    }
    conn.close();
}

#[test]
fn listen_notify_in_session_pooling() {
    let pooler = pooler(PoolMode::Session);
    let cluster = pooled_cluster(pooler, SUPERUSER, "postgres");
    let mut listener = cluster.connect(None).unwrap();
    listener.simple_query("LISTEN pooled_channel").unwrap();
    let mut sender = cluster.connect(None).unwrap();
    sender
        .simple_query("NOTIFY pooled_channel, 'through pgbouncer'")
        .unwrap();
    let n = listener
        .wait_for_notification(Duration::from_secs(10))
        .expect("waits")
        .expect("a notification within 10 s");
    assert_eq!(n.channel, "pooled_channel");
    assert_eq!(n.payload, "through pgbouncer");
    sender.close();
    listener.close();
}

/// Transaction pooling hands each transaction (each statement outside one) whichever server
/// connection is free, so a named statement (`Connection::prepare`, `pgcluster_<n>` per
/// connection) may meet another client's of the same name, or be missing: both are the
/// server's own clear errors. `query`/`query_rows` use the unnamed statement and never do.
/// (PgBouncer 1.21's `max_prepared_statements` would track named statements; Debian 12 has
/// 1.18.) A pooler of its own, so that no other test takes its server connections.
#[test]
fn named_prepared_statements_in_transaction_pooling_fail_clearly() {
    let pooler = PgBouncer::start(server(), PoolMode::Transaction).expect("pgbouncer starts");
    let cluster = pooled_cluster(&pooler, SUPERUSER, "postgres");
    let mut a = cluster.connect(None).unwrap();
    let statement = a.prepare("SELECT $1::int + 1").expect("prepare");
    // `b`'s first name is `a`'s, on the server connection `a` has just given back.
    let mut b = cluster.connect(None).unwrap();
    let err = b.prepare("SELECT 2").expect_err("the name is taken there");
    assert_eq!(err.sqlstate(), Some("42P05"), "{err}");
    assert!(
        err.to_string()
            .contains("prepared statement \"pgcluster_0\" already exists"),
        "{err}"
    );
    // `b` keeps that server connection in a transaction: `a` gets another one, where its
    // statement does not exist.
    b.simple_query("BEGIN").unwrap();
    let err = a
        .query_prepared(&statement, &[Some("1")])
        .expect_err("not on this server connection");
    assert_eq!(err.sqlstate(), Some("26000"), "{err}");
    assert!(
        err.to_string()
            .contains("prepared statement \"pgcluster_0\" does not exist"),
        "{err}"
    );
    // The unnamed statement works on either.
    assert_eq!(
        value(&mut a, "SELECT $1::int + 1", &[Some("1")]).as_deref(),
        Some("2")
    );
    b.simple_query("COMMIT").unwrap();
    assert_eq!(
        value(&mut b, "SELECT $1::int + 1", &[Some("2")]).as_deref(),
        Some("3")
    );
    a.close();
    b.close();
}
