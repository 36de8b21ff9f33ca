//! The connection as a real client, on a throwaway server (`pgcluster::testing`), for both
//! the async and the blocking connection: autocommit and transactions, `cancel()`,
//! LISTEN/NOTIFY, COPY in and out, column names and types. Run with
//! `cargo test --features testing --test client`.
//!
//! The server's texts (`canceling statement due to user request`, `CREATE DATABASE cannot
//! run inside a transaction block`, ...) are PostgreSQL 15's, laid out as rex shows them.
#![cfg(feature = "testing")]

mod connecting;

use std::io;
use std::time::{Duration, Instant};

use connecting::{both_drivers, resolve, Driver};
use pgcluster::client::CancelToken;
use pgcluster::connection::State;
use pgcluster::error::Error;
use pgcluster::testing::TestServer;
use pgcluster::{blocking, Connection};
use pgcluster_protocol::backend::TransactionStatus;

/// libpq's text after the server closed the socket.
const SERVER_CLOSED: &str = "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n\tbefore or while processing the request.\n";

/// Upper bound for anything that should take well under a second.
const LONG: Duration = Duration::from_secs(30);

fn server() -> &'static TestServer {
    TestServer::shared().expect("test server starts")
}

/// Over the Unix socket, as the superuser (trust).
fn socket_conninfo() -> String {
    let s = server();
    format!(
        "host={} port={} user=postgres dbname=postgres",
        s.socket_dir().display(),
        s.port()
    )
}

/// Over TCP, as the superuser (with the server's password).
fn tcp_conninfo() -> String {
    format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres password={}",
        server().port(),
        server().password()
    )
}

/// Connects on the async API; panics with the error's text. (The tests here come in
/// async and blocking twins, `blocking_*`, written against each API's own calls, for the
/// calls only one API has the shape of (transaction guards, tokens, writers and readers);
/// the COPY deadlock test runs on both drivers through `connecting::AnyConnection`.)
async fn connect(conninfo: &str) -> Connection {
    match Connection::connect(&resolve(conninfo)).await {
        Ok(conn) => conn,
        Err(e) => panic!("connect {conninfo:?}: {}", e.message),
    }
}

fn connect_blocking(conninfo: &str) -> blocking::Connection {
    match blocking::Connection::connect(&resolve(conninfo)) {
        Ok(conn) => conn,
        Err(e) => panic!("connect {conninfo:?}: {}", e.message),
    }
}

async fn one_value(conn: &mut Connection, sql: &str) -> Option<String> {
    let results = conn.simple_query(sql).await.expect("query");
    results[0].rows[0][0].clone()
}

fn one_value_blocking(conn: &mut blocking::Connection, sql: &str) -> Option<String> {
    let results = conn.simple_query(sql).expect("query");
    results[0].rows[0][0].clone()
}

/// Rows in `table`, counted by another connection (so only committed rows count).
fn committed_rows(table: &str) -> String {
    server()
        .psql(&format!("SELECT count(*) FROM {table}"))
        .expect("psql")
        .trim()
        .to_owned()
}

#[tokio::test]
async fn autocommit_off_sends_begin_and_commit_or_rollback_ends_it() {
    server()
        .psql("DROP TABLE IF EXISTS pgc_client_ac; CREATE TABLE pgc_client_ac (i int)")
        .unwrap();
    let mut conn = connect(&socket_conninfo()).await;
    assert!(conn.autocommit());
    conn.simple_query("INSERT INTO pgc_client_ac VALUES (1)")
        .await
        .unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
    assert_eq!(committed_rows("pgc_client_ac"), "1");

    conn.set_autocommit(false).unwrap();
    assert!(!conn.autocommit());
    // Nothing is sent until the first statement.
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
    conn.query("INSERT INTO pgc_client_ac VALUES ($1::int)", &[Some("2")])
        .await
        .unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::InTransaction);
    assert_eq!(committed_rows("pgc_client_ac"), "1");
    let e = conn.set_autocommit(true).unwrap_err();
    assert_eq!(
        e.to_string(),
        "set_session cannot be used inside a transaction"
    );
    conn.commit().await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
    assert_eq!(committed_rows("pgc_client_ac"), "2");

    conn.simple_query("INSERT INTO pgc_client_ac VALUES (3)")
        .await
        .unwrap();
    conn.rollback().await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
    assert_eq!(committed_rows("pgc_client_ac"), "2");
    // With no transaction open, both are no-ops (as psycopg2).
    conn.commit().await.unwrap();
    conn.rollback().await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);

    // The BEGIN is real: the server refuses CREATE DATABASE inside it.
    let e = conn
        .simple_query("CREATE DATABASE pgc_client_never")
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Got an error from the database server:\n    CREATE DATABASE cannot run inside a transaction block"
    );
    assert_eq!(conn.transaction_status(), TransactionStatus::Failed);
    // A COMMIT of a failed transaction is the server's ROLLBACK: an error here.
    let e = conn.commit().await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "the transaction was rolled back, not committed: a statement in it had failed"
    );
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);

    conn.set_autocommit(true).unwrap();
    conn.simple_query("DROP TABLE pgc_client_ac").await.unwrap();
    conn.close().await;
    assert_eq!(conn.set_autocommit(false), Err(Error::Closed));
    assert_eq!(conn.commit().await, Err(Error::Closed));
}

#[tokio::test]
async fn async_cluster_connect_with_autocommit_off() {
    let cluster = pgcluster::Cluster::new("pgsql:///postgres")
        .unwrap()
        .with_env(server().env());
    let mut conn = cluster.connect_with(None, false).await.unwrap();
    assert!(!conn.autocommit());
    assert_eq!(
        one_value(&mut conn, "SELECT current_database()")
            .await
            .as_deref(),
        Some("postgres")
    );
    assert_eq!(conn.transaction_status(), TransactionStatus::InTransaction);
    conn.rollback().await.unwrap();
    let conn = cluster.connect_with("postgres", true).await.unwrap();
    assert!(conn.autocommit());
}

#[tokio::test]
async fn transaction_guard_commits_or_rolls_back() {
    server()
        .psql("DROP TABLE IF EXISTS pgc_client_tx; CREATE TABLE pgc_client_tx (i int)")
        .unwrap();
    let mut conn = connect(&tcp_conninfo()).await;

    let mut tx = conn.transaction().await.unwrap();
    tx.simple_query("INSERT INTO pgc_client_tx VALUES (1)")
        .await
        .unwrap();
    assert_eq!(tx.transaction_status(), TransactionStatus::InTransaction);
    assert_eq!(committed_rows("pgc_client_tx"), "0");
    tx.commit().await.unwrap();
    assert_eq!(committed_rows("pgc_client_tx"), "1");

    let mut tx = conn.transaction().await.unwrap();
    tx.simple_query("INSERT INTO pgc_client_tx VALUES (2)")
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
    assert_eq!(committed_rows("pgc_client_tx"), "1");

    // A guard dropped half-way (here: an early return with `?`) leaves a rollback pending,
    // sent before the next statement.
    async fn insert_then_fail(conn: &mut Connection) -> Result<(), Error> {
        let mut tx = conn.transaction().await?;
        tx.simple_query("INSERT INTO pgc_client_tx VALUES (3)")
            .await?;
        tx.simple_query("SELECT 1/0").await?;
        tx.commit().await
    }
    let e = insert_then_fail(&mut conn).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "Got an error from the database server:\n    division by zero"
    );
    assert_eq!(conn.transaction_status(), TransactionStatus::Failed);
    assert_eq!(
        one_value(&mut conn, "SELECT count(*) FROM pgc_client_tx")
            .await
            .as_deref(),
        Some("1")
    );
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);

    // Dropped without an error, the work is still not committed, even by a later commit().
    {
        let mut tx = conn.transaction().await.unwrap();
        tx.simple_query("INSERT INTO pgc_client_tx VALUES (4)")
            .await
            .unwrap();
    }
    conn.commit().await.unwrap();
    assert_eq!(committed_rows("pgc_client_tx"), "1");

    // A failed statement makes the guard's commit an error.
    let mut tx = conn.transaction().await.unwrap();
    tx.simple_query("INSERT INTO pgc_client_tx VALUES (5)")
        .await
        .unwrap();
    tx.simple_query("SELECT 1/0").await.unwrap_err();
    let e = tx.commit().await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "the transaction was rolled back, not committed: a statement in it had failed"
    );
    assert_eq!(committed_rows("pgc_client_tx"), "1");

    // Only one at a time.
    conn.simple_query("BEGIN").await.unwrap();
    let Err(e) = conn.transaction().await else {
        panic!("a second transaction opened");
    };
    assert_eq!(
        e.to_string(),
        "a transaction is already open on this connection"
    );
    conn.rollback().await.unwrap();

    // With autocommit off, the guard's BEGIN is the only one.
    conn.set_autocommit(false).unwrap();
    let mut tx = conn.transaction().await.unwrap();
    tx.simple_query("INSERT INTO pgc_client_tx VALUES (6)")
        .await
        .unwrap();
    assert!(tx.take_notices().is_empty(), "no second BEGIN warning");
    tx.commit().await.unwrap();
    assert_eq!(committed_rows("pgc_client_tx"), "2");
    conn.set_autocommit(true).unwrap();
    conn.simple_query("DROP TABLE pgc_client_tx").await.unwrap();
    conn.close().await;
}

#[test]
fn blocking_transactions_and_cluster_connect_with() {
    server()
        .psql("DROP TABLE IF EXISTS pgc_client_btx; CREATE TABLE pgc_client_btx (i int)")
        .unwrap();
    let cluster = blocking::Cluster::new("pgsql:///postgres")
        .unwrap()
        .with_env(server().env());
    let mut conn = cluster.connect_with(None, false).unwrap();
    assert!(!conn.autocommit());
    conn.simple_query("INSERT INTO pgc_client_btx VALUES (1)")
        .unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::InTransaction);
    assert_eq!(committed_rows("pgc_client_btx"), "0");
    conn.commit().unwrap();
    assert_eq!(committed_rows("pgc_client_btx"), "1");
    conn.simple_query("INSERT INTO pgc_client_btx VALUES (2)")
        .unwrap();
    conn.rollback().unwrap();
    assert_eq!(committed_rows("pgc_client_btx"), "1");
    let e = conn
        .simple_query("DROP DATABASE pgc_client_never")
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Got an error from the database server:\n    DROP DATABASE cannot run inside a transaction block"
    );
    conn.rollback().unwrap();
    conn.set_autocommit(true).unwrap();

    let mut conn = cluster.connect_with(None, true).unwrap();
    assert!(conn.autocommit());
    let tx = conn.transaction().unwrap();
    drop(tx);
    // The blocking guard rolls back at once.
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);

    let mut tx = conn.transaction().unwrap();
    tx.simple_query("INSERT INTO pgc_client_btx VALUES (3)")
        .unwrap();
    drop(tx);
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
    assert_eq!(committed_rows("pgc_client_btx"), "1");

    let mut tx = conn.transaction().unwrap();
    tx.simple_query("INSERT INTO pgc_client_btx VALUES (4)")
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(committed_rows("pgc_client_btx"), "2");

    let n = conn
        .in_transaction(|c| {
            c.simple_query("INSERT INTO pgc_client_btx VALUES (5), (6)")?;
            Ok(c.simple_query("SELECT count(*) FROM pgc_client_btx")?[0].rows[0][0].clone())
        })
        .unwrap();
    assert_eq!(n.as_deref(), Some("4"));
    assert_eq!(committed_rows("pgc_client_btx"), "4");
    let e = conn
        .in_transaction(|c| {
            c.simple_query("INSERT INTO pgc_client_btx VALUES (7)")?;
            c.simple_query("SELECT 1/0")
        })
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Got an error from the database server:\n    division by zero"
    );
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);
    assert_eq!(committed_rows("pgc_client_btx"), "4");
    conn.simple_query("DROP TABLE pgc_client_btx").unwrap();
}

/// Waits until backend `pid` is running a statement (polling `pg_stat_activity`).
async fn until_active(watcher: &mut Connection, pid: i32) {
    let start = Instant::now();
    loop {
        let r = watcher
            .query(
                "SELECT state FROM pg_stat_activity WHERE pid = $1::int",
                &[Some(&pid.to_string())],
            )
            .await
            .unwrap();
        if r.rows.first().and_then(|row| row[0].as_deref()) == Some("active") {
            return;
        }
        assert!(start.elapsed() < LONG, "backend {pid} never became active");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

const CANCELED: &str =
    "Got an error from the database server:\n    canceling statement due to user request";

#[tokio::test]
async fn cancel_a_long_statement_from_another_task() {
    for conninfo in [socket_conninfo(), tcp_conninfo()] {
        let mut conn = connect(&conninfo).await;
        let mut watcher = connect(&conninfo).await;
        let token: CancelToken = conn.cancel_token().expect("a cancel token");
        assert_eq!(Some(token.process_id()), conn.backend_pid());
        let pid = token.process_id();
        let start = Instant::now();
        let (result, ()) = tokio::join!(conn.simple_query("SELECT pg_sleep(30)"), async {
            until_active(&mut watcher, pid).await;
            token.cancel().await.expect("cancel delivered");
        });
        let e = result.unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(20), "{conninfo}");
        assert_eq!(e.to_string(), CANCELED);
        assert_eq!(e.sqlstate(), Some("57014"));
        assert_eq!(conn.state(), State::Open);
        assert_eq!(one_value(&mut conn, "SELECT 1").await.as_deref(), Some("1"));
        // Cancelling an idle connection does nothing.
        token.cancel().await.unwrap();
        assert_eq!(one_value(&mut conn, "SELECT 2").await.as_deref(), Some("2"));
        conn.close().await;
        assert!(conn.cancel_token().is_none());
        watcher.close().await;
    }
}

#[test]
fn cancel_a_blocking_statement_from_another_thread() {
    for conninfo in [tcp_conninfo(), socket_conninfo()] {
        let mut conn = connect_blocking(&conninfo);
        let token = conn.cancel_token().expect("a cancel token");
        let watcher_conninfo = conninfo.clone();
        let canceller = std::thread::spawn(move || {
            let mut watcher = connect_blocking(&watcher_conninfo);
            let pid = token.process_id().to_string();
            let start = Instant::now();
            loop {
                let r = watcher
                    .query(
                        "SELECT state FROM pg_stat_activity WHERE pid = $1::int",
                        &[Some(&pid)],
                    )
                    .unwrap();
                if r.rows.first().and_then(|row| row[0].as_deref()) == Some("active") {
                    break;
                }
                assert!(start.elapsed() < LONG, "backend {pid} never became active");
                std::thread::sleep(Duration::from_millis(10));
            }
            token.cancel_blocking()
        });
        let start = Instant::now();
        let e = conn.simple_query("SELECT pg_sleep(30)").unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(20), "{conninfo}");
        canceller.join().unwrap().expect("cancel delivered");
        assert_eq!(e.to_string(), CANCELED);
        assert_eq!(conn.state(), State::Open);
        assert_eq!(
            one_value_blocking(&mut conn, "SELECT 'still usable'").as_deref(),
            Some("still usable")
        );
    }
}

#[tokio::test]
async fn wait_for_notifications_from_another_connection() {
    let mut listener = connect(&socket_conninfo()).await;
    let mut sender = connect(&tcp_conninfo()).await;
    listener
        .simple_query("LISTEN pgc_client_chan")
        .await
        .unwrap();
    assert_eq!(
        listener.wait_for_notification(Duration::ZERO).await,
        Ok(None)
    );
    let start = Instant::now();
    let (got, sent) = tokio::join!(
        listener.wait_for_notification(LONG),
        sender.simple_query("NOTIFY pgc_client_chan, 'first'")
    );
    sent.unwrap();
    let n = got.unwrap().expect("a notification");
    assert!(start.elapsed() < LONG);
    assert_eq!(n.channel, "pgc_client_chan");
    assert_eq!(n.payload, "first");
    assert_eq!(Some(n.process_id), sender.backend_pid());

    // Sent before the wait: read from the socket at once, in order.
    sender
        .simple_query(
            "SELECT pg_notify('pgc_client_chan', 'second'); SELECT pg_notify('pgc_client_chan', 'third')",
        )
        .await
        .unwrap();
    for payload in ["second", "third"] {
        let n = listener.wait_for_notification(LONG).await.unwrap().unwrap();
        assert_eq!(n.payload, payload);
    }
    // One that arrived during a query is kept and comes first.
    listener
        .simple_query("NOTIFY pgc_client_chan, 'own'")
        .await
        .unwrap();
    let n = listener
        .wait_for_notification(Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(n.map(|n| n.payload).as_deref(), Some("own"));
    assert!(listener.take_notifications().is_empty());

    // A dropped transaction guard is rolled back before waiting.
    drop(listener.transaction().await.unwrap());
    assert_eq!(
        listener.transaction_status(),
        TransactionStatus::InTransaction
    );
    assert_eq!(
        listener.wait_for_notification(Duration::ZERO).await,
        Ok(None)
    );
    assert_eq!(listener.transaction_status(), TransactionStatus::Idle);

    // A terminated backend ends the wait with the server's FATAL.
    let pid = listener.backend_pid().unwrap().to_string();
    let params = [Some(pid.as_str())];
    let (got, terminated) = tokio::join!(
        listener.wait_for_notification(LONG),
        sender.query("SELECT pg_terminate_backend($1::int)", &params)
    );
    assert_eq!(terminated.unwrap().rows[0][0].as_deref(), Some("t"));
    let Err(Error::Query(e)) = got else {
        panic!("expected the connection to be lost: {got:?}");
    };
    assert_eq!(
        e.message,
        format!("FATAL:  terminating connection due to administrator command\n{SERVER_CLOSED}")
    );
    assert!(e.connection_lost);
    assert_eq!(listener.state(), State::Broken);
    sender.close().await;
}

#[test]
fn blocking_wait_for_notification() {
    let mut listener = connect_blocking(&socket_conninfo());
    listener.simple_query("LISTEN \"pgc client Chan\"").unwrap();
    assert_eq!(listener.wait_for_notification(Duration::ZERO), Ok(None));
    let sender = std::thread::spawn(|| {
        let mut sender = connect_blocking(&tcp_conninfo());
        sender
            .query(
                "SELECT pg_notify('pgc client Chan', $1)",
                &[Some("payload with 'quotes' and é")],
            )
            .unwrap();
        sender.backend_pid()
    });
    let n = listener.wait_for_notification(LONG).unwrap().unwrap();
    let sender_pid = sender.join().unwrap();
    assert_eq!(n.channel, "pgc client Chan");
    assert_eq!(n.payload, "payload with 'quotes' and é");
    assert_eq!(Some(n.process_id), sender_pid);
}

/// A reader that fails after some bytes.
struct FailingReader {
    data: &'static [u8],
}

impl io::Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.data.is_empty() {
            return Err(io::Error::other("disk on fire"));
        }
        let n = self.data.len().min(buf.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

impl tokio::io::AsyncRead for FailingReader {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let this = self.get_mut();
        let n = io::Read::read(this, buf.initialize_unfilled())?;
        buf.advance(n);
        std::task::Poll::Ready(Ok(()))
    }
}

/// A writer that fails once `room` bytes are written.
struct FailingWriter {
    room: usize,
}

impl io::Write for FailingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.room == 0 {
            return Err(io::Error::other("disk full"));
        }
        let n = self.room.min(buf.len());
        self.room -= n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl tokio::io::AsyncWrite for FailingWriter {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        std::task::Poll::Ready(io::Write::write(self.get_mut(), buf))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn copy_in_and_out() {
    let mut conn = connect(&socket_conninfo()).await;
    conn.simple_query("CREATE TEMP TABLE pgc_client_copy (id int, name text)")
        .await
        .unwrap();
    let r = conn
        .copy_in(
            "COPY pgc_client_copy FROM STDIN",
            b"1\tone\n2\t\\N\n3\ttab\\there\n",
        )
        .await
        .unwrap();
    assert_eq!(r.tag, "COPY 3");
    assert_eq!(r.rows_affected(), Some(3));
    let data = conn
        .copy_out("COPY pgc_client_copy TO STDOUT")
        .await
        .unwrap();
    assert_eq!(data, b"1\tone\n2\t\\N\n3\ttab\\there\n");
    let csv = conn
        .copy_out(
            "COPY (SELECT * FROM pgc_client_copy ORDER BY id DESC) TO STDOUT (FORMAT csv, HEADER)",
        )
        .await
        .unwrap();
    assert_eq!(csv, b"id,name\n3,tab\there\n2,\n1,one\n");

    // Bad data: the server's error with its CONTEXT; nothing is inserted.
    let e = conn
        .copy_in("COPY pgc_client_copy FROM STDIN", b"4\tfour\nx\ty\n")
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Got an error from the database server:\n    invalid input syntax for type integer: \"x\"\n    CONTEXT:  COPY pgc_client_copy, line 2, column id: \"x\""
    );
    // A reader that fails: CopyFail, and the server's error for it.
    let e = conn
        .copy_in_from(
            "COPY pgc_client_copy FROM STDIN",
            FailingReader { data: b"5\tfive\n" },
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Got an error from the database server:\n    COPY from stdin failed: error reading the COPY data: disk on fire\n    CONTEXT:  COPY pgc_client_copy, line 2"
    );
    assert_eq!(
        one_value(&mut conn, "SELECT count(*) FROM pgc_client_copy")
            .await
            .as_deref(),
        Some("3")
    );

    // More data than one CopyData message carries, both ways.
    let mut big = Vec::new();
    for i in 0..50_000 {
        big.extend_from_slice(format!("{i}\trow number {i}\n").as_bytes());
    }
    assert!(big.len() > 4 * 64 * 1024);
    conn.simple_query("TRUNCATE pgc_client_copy").await.unwrap();
    let r = conn
        .copy_in("COPY pgc_client_copy FROM STDIN", &big)
        .await
        .unwrap();
    assert_eq!(r.rows_affected(), Some(50_000));
    let back = conn
        .copy_out("COPY (SELECT * FROM pgc_client_copy ORDER BY id) TO STDOUT")
        .await
        .unwrap();
    assert_eq!(back, big);

    // Streamed to a writer as it arrives.
    let mut streamed = Vec::new();
    let r = conn
        .copy_out_to(
            "COPY (SELECT * FROM pgc_client_copy ORDER BY id) TO STDOUT",
            &mut streamed,
        )
        .await
        .unwrap();
    assert_eq!(r.tag, "COPY 50000");
    assert_eq!(streamed, big);
    // A writer that fails: the rest is drained, the connection stays usable.
    let e = conn
        .copy_out_to(
            "COPY pgc_client_copy TO STDOUT",
            FailingWriter { room: 100_000 },
        )
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "could not write the COPY data: disk full");
    assert_eq!(one_value(&mut conn, "SELECT 3").await.as_deref(), Some("3"));

    // A plain query still refuses COPY FROM STDIN, and stays usable.
    let e = conn
        .simple_query("COPY pgc_client_copy FROM STDIN")
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Got an error from the database server:\n    COPY from stdin failed: COPY FROM STDIN is not supported by this connection\n    CONTEXT:  COPY pgc_client_copy, line 1"
    );
    // Server errors before any data.
    let e = conn
        .copy_out("COPY pgc_client_missing TO STDOUT")
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Got an error from the database server:\n    relation \"pgc_client_missing\" does not exist"
    );
    assert_eq!(conn.state(), State::Open);
    conn.close().await;
}

#[test]
fn blocking_copy_in_and_out() {
    let mut conn = connect_blocking(&tcp_conninfo());
    conn.set_autocommit(false).unwrap();
    conn.simple_query("CREATE TEMP TABLE pgc_client_bcopy (id int, name text)")
        .unwrap();
    let r = conn
        .copy_in_from(
            "COPY pgc_client_bcopy FROM STDIN (FORMAT csv)",
            &b"1,\"a, b\"\n2,\n"[..],
        )
        .unwrap();
    assert_eq!(r.rows_affected(), Some(2));
    assert_eq!(conn.transaction_status(), TransactionStatus::InTransaction);
    assert_eq!(
        conn.copy_out("COPY pgc_client_bcopy TO STDOUT (FORMAT csv)")
            .unwrap(),
        b"1,\"a, b\"\n2,\n"
    );
    let e = conn
        .copy_in_from(
            "COPY pgc_client_bcopy FROM STDIN",
            FailingReader { data: b"" },
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Got an error from the database server:\n    COPY from stdin failed: error reading the COPY data: disk on fire\n    CONTEXT:  COPY pgc_client_bcopy, line 1"
    );
    conn.rollback().unwrap();
    let mut file = Vec::new();
    let r = conn
        .copy_out_to(
            "COPY (SELECT g, g * 2 FROM generate_series(1, 3) g) TO STDOUT",
            io::Cursor::new(&mut file),
        )
        .unwrap();
    assert_eq!(r.rows_affected(), Some(3));
    assert_eq!(file, b"1\t2\n2\t4\n3\t6\n");
    let e = conn
        .copy_out_to(
            "COPY (SELECT repeat('x', 1000)) TO STDOUT",
            FailingWriter { room: 10 },
        )
        .unwrap_err();
    assert_eq!(e.to_string(), "could not write the COPY data: disk full");
    assert_eq!(conn.transaction_status(), TransactionStatus::InTransaction);
    conn.rollback().unwrap();
    let e = conn
        .copy_out("COPY pgc_client_bcopy TO STDOUT")
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Got an error from the database server:\n    relation \"pgc_client_bcopy\" does not exist"
    );
}

#[tokio::test]
async fn column_names_and_types() {
    let mut conn = connect(&socket_conninfo()).await;
    let results = conn
        .simple_query("SELECT 1 AS id, 'x'::text AS \"Name\", now() AS at, NULL::bool")
        .await
        .unwrap();
    let r = &results[0];
    assert_eq!(r.column_names(), vec!["id", "Name", "at", "bool"]);
    assert_eq!(r.column_types(), vec![23, 25, 1184, 16]);
    assert_eq!(r.column_index("Name"), Some(1));
    assert_eq!(r.column_index("name"), None);
    assert_eq!(r.rows_affected(), Some(1));

    let r = conn
        .query(
            "SELECT $1::int8 AS big, $2::numeric AS n",
            &[Some("9007199254740993"), None],
        )
        .await
        .unwrap();
    assert_eq!(r.column_names(), vec!["big", "n"]);
    assert_eq!(r.column_types(), vec![20, 1700]);
    assert_eq!(
        r.rows,
        vec![vec![Some("9007199254740993".to_owned()), None]]
    );
    let r = conn
        .query("CREATE TEMP TABLE pgc_client_cols ()", &[])
        .await
        .unwrap();
    assert!(r.column_names().is_empty());
    assert_eq!(r.rows_affected(), None);
    conn.close().await;
}

#[test]
fn blocking_column_names_and_types() {
    let mut conn = connect_blocking(&socket_conninfo());
    let r = conn
        .query(
            "SELECT $1::text AS greeting, 2.5::float8 AS x",
            &[Some("hi")],
        )
        .unwrap();
    assert_eq!(r.column_names(), vec!["greeting", "x"]);
    assert_eq!(r.column_types(), vec![25, 701]);
    assert_eq!(
        r.rows,
        vec![vec![Some("hi".to_owned()), Some("2.5".to_owned())]]
    );
}

/// What users hand to other threads and tasks can go there.
#[test]
fn tokens_and_futures_can_move_between_threads() {
    fn send_sync_clone<T: Send + Sync + Clone + 'static>() {}
    fn send<T: Send>(_: &T) {}
    send_sync_clone::<CancelToken>();
    send_sync_clone::<pgcluster::client::CancelError>();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut conn = rt.block_on(connect(&socket_conninfo()));
    send(&conn.wait_for_notification(Duration::ZERO));
    send(&conn.copy_in_from("COPY x FROM STDIN", &b""[..]));
    send(&conn.copy_out("COPY x TO STDOUT"));
    send(&conn.copy_out_to("COPY x TO STDOUT", tokio::io::sink()));
    send(&conn.transaction());
    send(&conn.commit());
    let token = conn.cancel_token().unwrap();
    send(&token.cancel());
    rt.block_on(conn.close());
}

both_drivers!(copy_in_with_a_notice_per_row_does_not_deadlock);
/// A trigger sends a notice per row: the server blocks on sending them once we stop
/// reading, and stops reading our data. `copy_in` reads while it writes. On both drivers
/// (`name::blocking`, `name::tokio`): each has its own way of reading while writing.
async fn copy_in_with_a_notice_per_row_does_not_deadlock(driver: Driver) {
    let mut conn = connecting::connect(driver, &socket_conninfo()).await;
    conn.simple_query(
        "CREATE TEMP TABLE pgc_client_noisy (i int, t text);
         CREATE FUNCTION pg_temp.pgc_noisy() RETURNS trigger LANGUAGE plpgsql AS
           $$BEGIN RAISE NOTICE '%', repeat('n', 1000); RETURN NEW; END$$;
         CREATE TRIGGER pgc_noisy BEFORE INSERT ON pgc_client_noisy
           FOR EACH ROW EXECUTE FUNCTION pg_temp.pgc_noisy()",
    )
    .await
    .unwrap();
    let mut data = Vec::new();
    for i in 0..20_000 {
        data.extend_from_slice(format!("{i}\t{}\n", "t".repeat(1000)).as_bytes());
    }
    let (mut conn, r) = driver
        .spawn(async move {
            let r = conn
                .copy_in("COPY pgc_client_noisy FROM STDIN", &data)
                .await;
            (conn, r)
        })
        .join_within(LONG)
        .await
        .expect("no deadlock");
    let r = r.unwrap();
    assert_eq!(r.rows_affected(), Some(20_000));
    // 20 MB of notices: the newest that fit the notice limit (1 MiB) are kept, the others
    // counted as dropped.
    let notices = conn.take_notices();
    assert!(
        !notices.is_empty() && notices.len() < 20_000,
        "{}",
        notices.len()
    );
    assert_eq!(
        u64::try_from(notices.len()).unwrap() + conn.notices_dropped(),
        20_000
    );
    assert_eq!(
        notices.last().and_then(|n| n.message.as_deref()),
        Some("n".repeat(1000).as_str())
    );
}
