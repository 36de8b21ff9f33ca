//! Connection failures, with libpq 13.3's exact texts.
//!
//! Every expected text was produced by `python3 /work/shared/tools/rexref libpq '...'`
//! (libpq 13.3, `sslmode=disable`) against the same kind of target: closed ports on
//! 127.0.0.1, a missing socket directory, and Python fake servers scripted like the ones
//! in `fake_server/` (accept then close, silent, garbage). Only the port numbers differ.

mod connecting;
mod fake_server;

use std::time::{Duration, Instant};

use fake_server::{auth_ok, closed_port, message, refused, FakeServer, Script, SERVER_CLOSED};

// The fake servers here speak no SSL negotiation: `sslmode=disable` unless a conninfo says
// otherwise.
use connecting::resolve_plain as resolve;

async fn failure(conninfo: &str) -> String {
    connecting::connect_error_with(&resolve(conninfo))
        .await
        .message
}

#[tokio::test]
async fn refused_single_host() {
    let p = closed_port();
    assert_eq!(
        failure(&format!("host=127.0.0.1 port={p} user=u dbname=d")).await,
        refused(&p.to_string())
    );
}

#[tokio::test]
async fn refused_port_is_printed_as_given() {
    let p = closed_port();
    assert_eq!(
        failure(&format!("host=127.0.0.1 port=00{p} user=u dbname=d")).await,
        refused(&format!("00{p}"))
    );
}

#[tokio::test]
async fn refused_twice_adds_both_blocks() {
    let (p1, p2) = (closed_port(), closed_port());
    assert_eq!(
        failure(&format!(
            "host=127.0.0.1,127.0.0.1 port={p1},{p2} user=u dbname=d"
        ))
        .await,
        format!("{}{}", refused(&p1.to_string()), refused(&p2.to_string()))
    );
}

#[tokio::test]
async fn invalid_port_then_refused() {
    let p = closed_port();
    assert_eq!(
        failure(&format!(
            "host=127.0.0.1,127.0.0.1 port=70000,{p} user=u dbname=d"
        ))
        .await,
        format!(
            "invalid port number: \"70000\"\n{}",
            refused(&p.to_string())
        )
    );
}

#[tokio::test]
async fn non_integer_port_stops() {
    let p = closed_port();
    assert_eq!(
        failure(&format!(
            "host=127.0.0.1,127.0.0.1 port=abc,{p} user=u dbname=d"
        ))
        .await,
        "invalid integer value \"abc\" for connection option \"port\"\n"
    );
    assert_eq!(
        failure(&format!(
            "host=127.0.0.1,127.0.0.1 port={p},abc user=u dbname=d"
        ))
        .await,
        format!(
            "{}invalid integer value \"abc\" for connection option \"port\"\n",
            refused(&p.to_string())
        )
    );
}

#[tokio::test]
async fn ipv6_written_long_shows_the_short_address() {
    let p = closed_port();
    let text = failure(&format!("host=0:0:0:0:0:0:0:1 port={p} user=u dbname=d")).await;
    // The strerror part depends on whether the machine has IPv6; the rest does not.
    let (first, rest) = text.split_once('\n').expect("two lines");
    assert!(
        first.starts_with("could not connect to server: "),
        "{text:?}"
    );
    assert_eq!(
        rest,
        format!("\tIs the server running on host \"0:0:0:0:0:0:0:1\" (::1) and accepting\n\tTCP/IP connections on port {p}?\n")
    );
}

#[tokio::test]
async fn hostaddr_is_shown_without_parentheses_and_must_be_numeric() {
    let p = closed_port();
    assert_eq!(
        failure(&format!(
            "host=localhost hostaddr=127.0.0.1 port={p} user=u dbname=d"
        ))
        .await,
        refused(&p.to_string())
    );
    assert_eq!(
        failure(&format!("hostaddr=abc port={p} user=u dbname=d")).await,
        "could not parse network address \"abc\": Name or service not known\n"
    );
}

#[tokio::test]
async fn missing_socket_directory() {
    assert_eq!(
        failure("host=/tmp/pgc-h5-no-such-dir port=2345 user=u dbname=d").await,
        "could not connect to server: No such file or directory\n\tIs the server running locally and accepting\n\tconnections on Unix domain socket \"/tmp/pgc-h5-no-such-dir/.s.PGSQL.2345\"?\n"
    );
}

#[tokio::test]
async fn socket_path_too_long_then_refused() {
    let dir = format!("/tmp/{}", "a".repeat(89));
    let p = closed_port();
    assert_eq!(
        failure(&format!(
            "host={dir},127.0.0.1 port=5432,{p} user=u dbname=d"
        ))
        .await,
        format!(
            "Unix-domain socket path \"{dir}/.s.PGSQL.5432\" is too long (maximum 107 bytes)\n{}",
            refused(&p.to_string())
        )
    );
}

#[tokio::test]
async fn server_closes_after_startup_packet() {
    let server = FakeServer::start(Script::ReadThenClose, 1);
    assert_eq!(
        failure(&format!(
            "host=127.0.0.1 port={} user=u dbname=d",
            server.port
        ))
        .await,
        SERVER_CLOSED
    );
    server.join();
}

#[tokio::test]
async fn server_closed_replaces_earlier_texts() {
    let p = closed_port();
    let server = FakeServer::start(Script::ReadThenClose, 1);
    assert_eq!(
        failure(&format!(
            "host=127.0.0.1,127.0.0.1 port={p},{} user=u dbname=d",
            server.port
        ))
        .await,
        SERVER_CLOSED
    );
    server.join();
}

#[tokio::test]
async fn garbage_instead_of_authentication_request_adds() {
    let p = closed_port();
    let server = FakeServer::start(Script::Reply(b"XXXXXXXX".to_vec()), 2);
    assert_eq!(
        failure(&format!(
            "host=127.0.0.1 port={} user=u dbname=d",
            server.port
        ))
        .await,
        "expected authentication request from server, but received X\n"
    );
    assert_eq!(
        failure(&format!(
            "host=127.0.0.1,127.0.0.1 port={p},{} user=u dbname=d",
            server.port
        ))
        .await,
        format!(
            "{}expected authentication request from server, but received X\n",
            refused(&p.to_string())
        )
    );
    server.join();
}

#[tokio::test]
async fn authentication_request_longer_than_2000_bytes() {
    let server = FakeServer::start(Script::Reply(message(b'R', &[0; 2996])), 1);
    assert_eq!(
        failure(&format!(
            "host=127.0.0.1 port={} user=u dbname=d",
            server.port
        ))
        .await,
        "expected authentication request from server, but received R\n"
    );
    server.join();
}

#[tokio::test]
async fn non_error_message_after_authentication_ok() {
    let mut reply = auth_ok();
    reply.extend(message(b'C', b"SELECT 1\0"));
    let server = FakeServer::start(Script::Reply(reply), 1);
    assert_eq!(
        failure(&format!(
            "host=127.0.0.1 port={} user=u dbname=d",
            server.port
        ))
        .await,
        "unexpected message from server during startup\n"
    );
    server.join();
}

#[tokio::test]
async fn server_closes_after_authentication_ok() {
    let server = FakeServer::start(Script::ReplyThenClose(auth_ok()), 1);
    assert_eq!(
        failure(&format!(
            "host=127.0.0.1 port={} user=u dbname=d",
            server.port
        ))
        .await,
        SERVER_CLOSED
    );
    server.join();
}

/// A pre-3.0 server's error: libpq 13 adds its text and retries with protocol 2.0;
/// pgcluster has no protocol 2.0, so it reports the text and stops (messages.md §4.3).
#[tokio::test]
async fn pre_v3_error_text_is_reported() {
    let p = closed_port();
    let server = FakeServer::start(
        Script::Reply(b"EFATAL:  unsupported frontend protocol\0".to_vec()),
        1,
    );
    assert_eq!(
        failure(&format!(
            "host=127.0.0.1,127.0.0.1 port={p},{} user=u dbname=d",
            server.port
        ))
        .await,
        format!(
            "{}FATAL:  unsupported frontend protocol\n",
            refused(&p.to_string())
        )
    );
    server.join();
}

#[tokio::test]
async fn silent_server_times_out_then_next_host() {
    let (p1, p3) = (closed_port(), closed_port());
    let server = FakeServer::start(Script::Silent, 2);
    let started = Instant::now();
    assert_eq!(
        failure(&format!(
            "host=127.0.0.1 port={} user=u dbname=d connect_timeout=2",
            server.port
        ))
        .await,
        "timeout expired\n"
    );
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(1900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    // refused, no answer, refused: the timeout replaces the first block.
    assert_eq!(
        failure(&format!(
            "host=127.0.0.1,127.0.0.1,127.0.0.1 port={p1},{},{p3} user=u dbname=d connect_timeout=2",
            server.port
        ))
        .await,
        format!("timeout expired\n{}", refused(&p3.to_string()))
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    server.join();
}

#[test]
fn blocking_facade_reports_the_same_texts() {
    let p = closed_port();
    let err = pgcluster::blocking::Connection::connect(&resolve(&format!(
        "host=127.0.0.1 port={p} user=u dbname=d"
    )))
    .unwrap_err();
    assert_eq!(err.message, refused(&p.to_string()));
    assert_eq!(err.fields, None);
    assert_eq!(
        pgcluster::Error::Connect(err).to_string(),
        format!("Failed to connect to the database server:\n    could not connect to server: Connection refused\n    \tIs the server running on host \"127.0.0.1\" and accepting\n    \tTCP/IP connections on port {p}?")
    );
}

/// libpq 13 reads `connect_timeout` only once an attempt would wait: hosts that fail at once
/// are reported first, then a bad value stops everything; when every host fails at once it
/// is never reported. Texts from `rexref libpq` with the same strings.
#[tokio::test]
async fn a_bad_connect_timeout_is_read_when_an_attempt_would_wait() {
    let p = closed_port();
    let no_socket = |port: &str| {
        format!(
            "could not connect to server: No such file or directory\n\tIs the server running locally and accepting\n\tconnections on Unix domain socket \"/nonexistent/.s.PGSQL.{port}\"?\n"
        )
    };
    let bad = "invalid integer value \"abc\" for connection option \"connect_timeout\"\n";
    assert_eq!(
        failure("host=/nonexistent connect_timeout=abc").await,
        no_socket("5432")
    );
    assert_eq!(
        failure(&format!(
            "host=/nonexistent,127.0.0.1 port={p} connect_timeout=abc"
        ))
        .await,
        format!("{}{bad}", no_socket(&p.to_string()))
    );
    assert_eq!(
        failure(&format!(
            "host=127.0.0.1,/nonexistent port={p} connect_timeout=abc"
        ))
        .await,
        bad
    );
}
