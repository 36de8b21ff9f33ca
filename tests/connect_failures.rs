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
use connecting::{both_drivers, Driver};

// Every test runs on both drivers (`name::blocking`, `name::tokio`): the texts are built
// from what each driver's sockets report, and none of these is slow.

async fn failure(driver: Driver, conninfo: &str) -> String {
    connecting::connect_error_with(driver, &resolve(conninfo))
        .await
        .message
}

both_drivers!(refused_single_host);
async fn refused_single_host(driver: Driver) {
    let p = closed_port();
    assert_eq!(
        failure(driver, &format!("host=127.0.0.1 port={p} user=u dbname=d")).await,
        refused(&p.to_string())
    );
}

both_drivers!(refused_port_is_printed_as_given);
async fn refused_port_is_printed_as_given(driver: Driver) {
    let p = closed_port();
    assert_eq!(
        failure(
            driver,
            &format!("host=127.0.0.1 port=00{p} user=u dbname=d")
        )
        .await,
        refused(&format!("00{p}"))
    );
}

both_drivers!(refused_twice_adds_both_blocks);
async fn refused_twice_adds_both_blocks(driver: Driver) {
    let (p1, p2) = (closed_port(), closed_port());
    assert_eq!(
        failure(
            driver,
            &format!("host=127.0.0.1,127.0.0.1 port={p1},{p2} user=u dbname=d")
        )
        .await,
        format!("{}{}", refused(&p1.to_string()), refused(&p2.to_string()))
    );
}

both_drivers!(invalid_port_then_refused);
async fn invalid_port_then_refused(driver: Driver) {
    let p = closed_port();
    assert_eq!(
        failure(
            driver,
            &format!("host=127.0.0.1,127.0.0.1 port=70000,{p} user=u dbname=d")
        )
        .await,
        format!(
            "invalid port number: \"70000\"\n{}",
            refused(&p.to_string())
        )
    );
}

both_drivers!(non_integer_port_stops);
async fn non_integer_port_stops(driver: Driver) {
    let p = closed_port();
    assert_eq!(
        failure(
            driver,
            &format!("host=127.0.0.1,127.0.0.1 port=abc,{p} user=u dbname=d")
        )
        .await,
        "invalid integer value \"abc\" for connection option \"port\"\n"
    );
    assert_eq!(
        failure(
            driver,
            &format!("host=127.0.0.1,127.0.0.1 port={p},abc user=u dbname=d")
        )
        .await,
        format!(
            "{}invalid integer value \"abc\" for connection option \"port\"\n",
            refused(&p.to_string())
        )
    );
}

both_drivers!(ipv6_written_long_shows_the_short_address);
async fn ipv6_written_long_shows_the_short_address(driver: Driver) {
    let p = closed_port();
    let text = failure(
        driver,
        &format!("host=0:0:0:0:0:0:0:1 port={p} user=u dbname=d"),
    )
    .await;
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

both_drivers!(hostaddr_is_shown_without_parentheses_and_must_be_numeric);
async fn hostaddr_is_shown_without_parentheses_and_must_be_numeric(driver: Driver) {
    let p = closed_port();
    assert_eq!(
        failure(
            driver,
            &format!("host=localhost hostaddr=127.0.0.1 port={p} user=u dbname=d")
        )
        .await,
        refused(&p.to_string())
    );
    assert_eq!(
        failure(driver, &format!("hostaddr=abc port={p} user=u dbname=d")).await,
        "could not parse network address \"abc\": Name or service not known\n"
    );
}

both_drivers!(missing_socket_directory);
async fn missing_socket_directory(driver: Driver) {
    assert_eq!(
        failure(driver, "host=/tmp/pgc-h5-no-such-dir port=2345 user=u dbname=d").await,
        "could not connect to server: No such file or directory\n\tIs the server running locally and accepting\n\tconnections on Unix domain socket \"/tmp/pgc-h5-no-such-dir/.s.PGSQL.2345\"?\n"
    );
}

both_drivers!(socket_path_too_long_then_refused);
async fn socket_path_too_long_then_refused(driver: Driver) {
    let dir = format!("/tmp/{}", "a".repeat(89));
    let p = closed_port();
    assert_eq!(
        failure(
            driver,
            &format!("host={dir},127.0.0.1 port=5432,{p} user=u dbname=d")
        )
        .await,
        format!(
            "Unix-domain socket path \"{dir}/.s.PGSQL.5432\" is too long (maximum 107 bytes)\n{}",
            refused(&p.to_string())
        )
    );
}

both_drivers!(server_closes_after_startup_packet);
async fn server_closes_after_startup_packet(driver: Driver) {
    let server = FakeServer::start(Script::ReadThenClose, 1);
    assert_eq!(
        failure(
            driver,
            &format!("host=127.0.0.1 port={} user=u dbname=d", server.port)
        )
        .await,
        SERVER_CLOSED
    );
    server.join();
}

both_drivers!(server_closed_replaces_earlier_texts);
async fn server_closed_replaces_earlier_texts(driver: Driver) {
    let p = closed_port();
    let server = FakeServer::start(Script::ReadThenClose, 1);
    assert_eq!(
        failure(
            driver,
            &format!(
                "host=127.0.0.1,127.0.0.1 port={p},{} user=u dbname=d",
                server.port
            )
        )
        .await,
        SERVER_CLOSED
    );
    server.join();
}

both_drivers!(garbage_instead_of_authentication_request_adds);
async fn garbage_instead_of_authentication_request_adds(driver: Driver) {
    let p = closed_port();
    let server = FakeServer::start(Script::Reply(b"XXXXXXXX".to_vec()), 2);
    assert_eq!(
        failure(
            driver,
            &format!("host=127.0.0.1 port={} user=u dbname=d", server.port)
        )
        .await,
        "expected authentication request from server, but received X\n"
    );
    assert_eq!(
        failure(
            driver,
            &format!(
                "host=127.0.0.1,127.0.0.1 port={p},{} user=u dbname=d",
                server.port
            )
        )
        .await,
        format!(
            "{}expected authentication request from server, but received X\n",
            refused(&p.to_string())
        )
    );
    server.join();
}

both_drivers!(authentication_request_longer_than_2000_bytes);
async fn authentication_request_longer_than_2000_bytes(driver: Driver) {
    let server = FakeServer::start(Script::Reply(message(b'R', &[0; 2996])), 1);
    assert_eq!(
        failure(
            driver,
            &format!("host=127.0.0.1 port={} user=u dbname=d", server.port)
        )
        .await,
        "expected authentication request from server, but received R\n"
    );
    server.join();
}

both_drivers!(non_error_message_after_authentication_ok);
async fn non_error_message_after_authentication_ok(driver: Driver) {
    let mut reply = auth_ok();
    reply.extend(message(b'C', b"SELECT 1\0"));
    let server = FakeServer::start(Script::Reply(reply), 1);
    assert_eq!(
        failure(
            driver,
            &format!("host=127.0.0.1 port={} user=u dbname=d", server.port)
        )
        .await,
        "unexpected message from server during startup\n"
    );
    server.join();
}

both_drivers!(server_closes_after_authentication_ok);
async fn server_closes_after_authentication_ok(driver: Driver) {
    let server = FakeServer::start(Script::ReplyThenClose(auth_ok()), 1);
    assert_eq!(
        failure(
            driver,
            &format!("host=127.0.0.1 port={} user=u dbname=d", server.port)
        )
        .await,
        SERVER_CLOSED
    );
    server.join();
}

both_drivers!(pre_v3_error_text_is_reported);
/// A pre-3.0 server's error: libpq 13 adds its text and retries with protocol 2.0;
/// pgcluster has no protocol 2.0, so it reports the text and stops (messages.md §4.3).
async fn pre_v3_error_text_is_reported(driver: Driver) {
    let p = closed_port();
    let server = FakeServer::start(
        Script::Reply(b"EFATAL:  unsupported frontend protocol\0".to_vec()),
        1,
    );
    assert_eq!(
        failure(
            driver,
            &format!(
                "host=127.0.0.1,127.0.0.1 port={p},{} user=u dbname=d",
                server.port
            )
        )
        .await,
        format!(
            "{}FATAL:  unsupported frontend protocol\n",
            refused(&p.to_string())
        )
    );
    server.join();
}

both_drivers!(silent_server_times_out_then_next_host);
async fn silent_server_times_out_then_next_host(driver: Driver) {
    let (p1, p3) = (closed_port(), closed_port());
    let server = FakeServer::start(Script::Silent, 2);
    let started = Instant::now();
    assert_eq!(
        failure(
            driver,
            &format!(
                "host=127.0.0.1 port={} user=u dbname=d connect_timeout=2",
                server.port
            )
        )
        .await,
        "timeout expired\n"
    );
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(1900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    // refused, no answer, refused: the timeout replaces the first block.
    assert_eq!(
        failure(driver, &format!(
            "host=127.0.0.1,127.0.0.1,127.0.0.1 port={p1},{},{p3} user=u dbname=d connect_timeout=2",
            server.port
        ))
        .await,
        format!("timeout expired\n{}", refused(&p3.to_string()))
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    server.join();
}

both_drivers!(a_full_unix_socket_backlog_fails_at_once_and_the_next_host_is_tried);
/// A Unix-domain listener whose backlog is full refuses a non-blocking connect with
/// `EAGAIN`, and libpq's socket is non-blocking: `rexref libpq` (libpq 13.3) gave both
/// texts at once, the first with and without `connect_timeout`, for a Python listener with
/// `listen(0)` and its queue filled; the second shows the next host tried (a closed port).
async fn a_full_unix_socket_backlog_fails_at_once_and_the_next_host_is_tried(driver: Driver) {
    let dir = std::env::temp_dir().join(format!("pgc-backlog-{}-{driver:?}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    let path = dir.join(".s.PGSQL.5999");
    let listener =
        socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
    listener
        .bind(&socket2::SockAddr::unix(&path).unwrap())
        .unwrap();
    listener.listen(0).unwrap();
    // Fill the backlog: queued connections the listener never accepts.
    let mut queued = Vec::new();
    loop {
        let s = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
        s.set_nonblocking(true).unwrap();
        match s.connect(&socket2::SockAddr::unix(&path).unwrap()) {
            Ok(()) => queued.push(s),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
        assert!(queued.len() < 1000, "the backlog never filled");
    }
    let full = format!(
        "could not connect to server: Resource temporarily unavailable\n\tIs the server running locally and accepting\n\tconnections on Unix domain socket \"{}\"?\n",
        path.display()
    );
    let dir_text = dir.display().to_string();
    let started = Instant::now();
    assert_eq!(
        failure(
            driver,
            &format!("host={dir_text} port=5999 user=u dbname=d")
        )
        .await,
        full
    );
    let p = closed_port();
    assert_eq!(
        failure(
            driver,
            &format!("host={dir_text},127.0.0.1 port=5999,{p} user=u dbname=d connect_timeout=10")
        )
        .await,
        format!("{full}{}", refused(&p.to_string()))
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(queued);
    drop(listener);
    std::fs::remove_dir_all(&dir).unwrap();
}

both_drivers!(refused_error_has_no_fields_and_displays_indented);
async fn refused_error_has_no_fields_and_displays_indented(driver: Driver) {
    let p = closed_port();
    let err = connecting::connect_error_with(
        driver,
        &resolve(&format!("host=127.0.0.1 port={p} user=u dbname=d")),
    )
    .await;
    assert_eq!(err.message, refused(&p.to_string()));
    assert_eq!(err.fields, None);
    assert_eq!(
        pgcluster::Error::Connect(err).to_string(),
        format!("Failed to connect to the database server:\n    could not connect to server: Connection refused\n    \tIs the server running on host \"127.0.0.1\" and accepting\n    \tTCP/IP connections on port {p}?")
    );
}

both_drivers!(a_bad_connect_timeout_is_read_when_an_attempt_would_wait);
/// libpq 13 reads `connect_timeout` only once an attempt would wait: hosts that fail at once
/// are reported first, then a bad value stops everything; when every host fails at once it
/// is never reported. Texts from `rexref libpq` with the same strings.
async fn a_bad_connect_timeout_is_read_when_an_attempt_would_wait(driver: Driver) {
    let p = closed_port();
    let no_socket = |port: &str| {
        format!(
            "could not connect to server: No such file or directory\n\tIs the server running locally and accepting\n\tconnections on Unix domain socket \"/nonexistent/.s.PGSQL.{port}\"?\n"
        )
    };
    let bad = "invalid integer value \"abc\" for connection option \"connect_timeout\"\n";
    assert_eq!(
        failure(driver, "host=/nonexistent connect_timeout=abc").await,
        no_socket("5432")
    );
    assert_eq!(
        failure(
            driver,
            &format!("host=/nonexistent,127.0.0.1 port={p} connect_timeout=abc")
        )
        .await,
        format!("{}{bad}", no_socket(&p.to_string()))
    );
    assert_eq!(
        failure(
            driver,
            &format!("host=127.0.0.1,/nonexistent port={p} connect_timeout=abc")
        )
        .await,
        bad
    );
}
