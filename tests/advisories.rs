//! The advisory-class matrix (issue 17, item 2): one test per class of the 2024–2026
//! advisories in PostgreSQL clients, provoked by a scripted server on loopback, asserting
//! what pgcluster does on both drivers. README's "Advisory classes" table names each test.
//!
//! Each scripted server here serves one connection on its own thread and, once its script
//! is done, keeps every byte the client sends until it closes: a test can then assert that
//! nothing more crossed the wire (a retry in the clear would be a second connection, which
//! nothing accepts).
//!
//! Expected texts are libpq's where it has one (messages.md; for CVE-2021-23222 and
//! CVE-2024-10977, the texts of their fixes in libpq 13.5 and 13.17, messages.md §9: the
//! reference libpq 13.3 has neither), else pgcluster's own.

mod connecting;
mod fake_server;

#[path = "support/scratch.rs"]
mod scratch;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fake_server::{auth_ok, message};

use connecting::{both_drivers, resolve, resolve_plain, AnyConnection, Driver};
use pgcluster::connection::State;
use pgcluster::conninfo::{Config, Env};
use pgcluster::error::{Error, QueryError};
use scratch::Scratch;

/// Far above the milliseconds these take: a hang guard only.
const FAST: Duration = Duration::from_secs(10);

/// The SSLRequest packet.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 4, 210, 22, 47];

/// A one-connection server on 127.0.0.1 running `script` on its own thread.
struct OneShot<T> {
    port: u16,
    thread: JoinHandle<(T, Vec<u8>)>,
}

fn one_shot<T: Send + 'static>(
    script: impl FnOnce(&mut TcpStream) -> T + Send + 'static,
) -> OneShot<T> {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local addr").port();
    let thread = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().expect("accept");
        drop(listener);
        socket
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("read timeout");
        socket.set_nodelay(true).expect("nodelay");
        let result = script(&mut socket);
        let mut rest = Vec::new();
        let _ = socket.read_to_end(&mut rest);
        (result, rest)
    });
    OneShot { port, thread }
}

impl<T> OneShot<T> {
    fn conninfo(&self, extra: &str) -> String {
        format!("host=127.0.0.1 port={} user=u dbname=d {extra}", self.port)
    }

    /// What the script returned, and every byte the client sent after it.
    fn join(self) -> (T, Vec<u8>) {
        self.thread.join().expect("scripted server thread")
    }
}

/// Reads a startup packet (length word and body); returns it whole.
fn read_startup(s: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).expect("startup length");
    let n = usize::try_from(u32::from_be_bytes(len)).expect("length");
    let mut body = vec![0u8; n.checked_sub(4).expect("length >= 4")];
    s.read_exact(&mut body).expect("startup body");
    [len.to_vec(), body].concat()
}

/// Reads one frontend message; returns its type byte and body.
fn read_message(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 5];
    s.read_exact(&mut head).expect("message header");
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
    let mut body = vec![0u8; usize::try_from(len).expect("length") - 4];
    s.read_exact(&mut body).expect("message body");
    (head[0], body)
}

/// AuthenticationOk, a server_version, BackendKeyData and ReadyForQuery.
fn startup_ok() -> Vec<u8> {
    [
        auth_ok(),
        message(b'S', b"server_version\x0015.0\0"),
        message(b'S', b"client_encoding\0UTF8\0"),
        message(b'K', &[0, 0, 16, 146, 0, 0, 0, 7]),
        message(b'Z', b"I"),
    ]
    .concat()
}

async fn connect_error(driver: Driver, conninfo: &str) -> String {
    connecting::connect_error_with(driver, &resolve(conninfo))
        .await
        .message
}

fn query_error(result: Result<Vec<pgcluster::connection::QueryResult>, Error>) -> QueryError {
    match result {
        Err(Error::Query(e)) => e,
        other => panic!("expected a query error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// SSL negotiation.

both_drivers!(s_then_plaintext_in_the_same_read);
/// CVE-2021-23222: bytes after the `S`, in the same read, would be taken as if they came
/// over TLS. They are refused with libpq's text, and nothing more is sent.
async fn s_then_plaintext_in_the_same_read(driver: Driver) {
    for mode in ["prefer", "require", "verify-full"] {
        let server = one_shot(|s| {
            let mut request = [0u8; 8];
            s.read_exact(&mut request).expect("SSLRequest");
            assert_eq!(request, SSL_REQUEST);
            s.write_all(&[b"S".as_slice(), &startup_ok()].concat())
                .expect("write");
        });
        let started = Instant::now();
        let text = connect_error(driver, &server.conninfo(&format!("sslmode={mode}"))).await;
        assert!(started.elapsed() < FAST);
        assert_eq!(
            text, "received unencrypted data after SSL response\n",
            "{mode}"
        );
        let ((), rest) = server.join();
        assert_eq!(rest, b"", "sslmode={mode}: nothing after the SSLRequest");
    }
}

both_drivers!(error_response_to_ssl_request);
/// CVE-2024-10977: an ErrorResponse to SSLRequest comes from a server not yet
/// authenticated (or a man in the middle): its text is never shown, and no plaintext
/// retry follows.
async fn error_response_to_ssl_request(driver: Driver) {
    let error = message(
        b'E',
        b"SFATAL\0VFATAL\0C28000\0MINJECTED: please visit evil.example\0\0",
    );
    for mode in ["prefer", "require"] {
        let reply = error.clone();
        let server = one_shot(move |s| {
            let mut request = [0u8; 8];
            s.read_exact(&mut request).expect("SSLRequest");
            assert_eq!(request, SSL_REQUEST);
            s.write_all(&reply).expect("write");
        });
        let text = connect_error(driver, &server.conninfo(&format!("sslmode={mode}"))).await;
        assert_eq!(
            text, "server sent an error response during SSL exchange\n",
            "{mode}"
        );
        assert!(!text.contains("INJECTED"));
        let ((), rest) = server.join();
        assert_eq!(rest, b"", "sslmode={mode}: nothing after the SSLRequest");
    }
}

// ---------------------------------------------------------------------------------------
// SCRAM.

/// AuthenticationSASL offering `mechanisms`.
fn auth_sasl(mechanisms: &[&str]) -> Vec<u8> {
    let mut body = 10i32.to_be_bytes().to_vec();
    for m in mechanisms {
        body.extend_from_slice(m.as_bytes());
        body.push(0);
    }
    body.push(0);
    message(b'R', &body)
}

/// SASLInitialResponse's mechanism and client-first message.
fn sasl_initial(s: &mut TcpStream) -> (String, String) {
    let (tag, body) = read_message(s);
    assert_eq!(tag, b'p');
    let nul = body.iter().position(|&b| b == 0).expect("mechanism's NUL");
    let mechanism = String::from_utf8(body[..nul].to_vec()).expect("UTF-8");
    let data = String::from_utf8(body[nul + 5..].to_vec()).expect("UTF-8");
    (mechanism, data)
}

/// Plays a SCRAM server up to server-first with `i=iterations` (the client's nonce
/// echoed, so that only the iteration count is wrong).
fn scram_server_first(iterations: &'static str) -> impl FnOnce(&mut TcpStream) + Send {
    move |s| {
        read_startup(s);
        s.write_all(&auth_sasl(&["SCRAM-SHA-256"])).expect("write");
        let (mechanism, first) = sasl_initial(s);
        assert_eq!(mechanism, "SCRAM-SHA-256");
        let nonce = first.split_once(",r=").expect("client nonce").1;
        let server_first = format!("r={nonce}srvnonce,s=c2FsdHNhbHRzYWx0,i={iterations}");
        let mut body = 11i32.to_be_bytes().to_vec();
        body.extend_from_slice(server_first.as_bytes());
        s.write_all(&message(b'R', &body)).expect("write");
    }
}

both_drivers!(scram_iteration_counts_over_the_cap);
/// pgjdbc CVE-2026-42198: a server-first `i=4294967295` would hold the client in PBKDF2
/// for hours. The count is checked against `Limits::max_scram_iterations` (100 000)
/// before any hashing; nothing is sent after SASLInitialResponse. libpq 13 has no cap, so
/// the text is pgcluster's.
async fn scram_iteration_counts_over_the_cap(driver: Driver) {
    for (iterations, expected) in [
        // As in libpq 13, the count is read as an `int`: this one is -1, malformed
        // (libpq 13.3's text, `rexref libpq` against a Python server scripted the same).
        (
            "4294967295",
            "malformed SCRAM message (invalid iteration count)\n",
        ),
        (
            "2147483647",
            "SCRAM iteration count 2147483647 exceeds the limit of 100000\n",
        ),
        (
            "100001",
            "SCRAM iteration count 100001 exceeds the limit of 100000\n",
        ),
    ] {
        let server = one_shot(scram_server_first(iterations));
        let started = Instant::now();
        let text = connect_error(driver, &server.conninfo("sslmode=disable password=secret")).await;
        assert!(started.elapsed() < FAST, "i={iterations}: no PBKDF2 run");
        assert_eq!(text, expected);
        let ((), rest) = server.join();
        assert_eq!(rest, b"", "i={iterations}: no SASLResponse");
    }
}

both_drivers!(scram_sha_256_plus_over_a_plain_connection);
/// SCRAM-SHA-256-PLUS offered without TLS (a man in the middle that stripped it): refused
/// with libpq's text wherever it is in the list, even next to SCRAM-SHA-256 (libpq 13's
/// `pg_SASL_init`: the server would refuse an unbound exchange anyway), and no SASL
/// message is sent. libpq 13.3 (`rexref libpq`) gives the same for both orders, and
/// sends nothing either.
async fn scram_sha_256_plus_over_a_plain_connection(driver: Driver) {
    for offered in [
        &["SCRAM-SHA-256-PLUS"][..],
        &["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"],
        &["SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"],
    ] {
        let server = one_shot(move |s| {
            read_startup(s);
            s.write_all(&auth_sasl(offered)).expect("write");
        });
        assert_eq!(
            connect_error(driver, &server.conninfo("sslmode=disable password=secret")).await,
            "server offered SCRAM-SHA-256-PLUS authentication over a non-SSL connection\n",
            "{offered:?}"
        );
        assert_eq!(server.join().1, b"", "{offered:?}: no SASLInitialResponse");
    }

    // With `channel_binding=require`, neither is acceptable without TLS.
    let server = one_shot(|s| {
        read_startup(s);
        s.write_all(&auth_sasl(&["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]))
            .expect("write");
    });
    assert_eq!(
        connect_error(
            driver,
            &server.conninfo("sslmode=disable password=secret channel_binding=require")
        )
        .await,
        "channel binding required, but SSL not in use\n"
    );
    assert_eq!(server.join().1, b"", "no SASLInitialResponse");
}

// ---------------------------------------------------------------------------------------
// Received messages.

/// A server that completes startup, reads one query and answers `answer`; the
/// connection's query error and what the client sent after the query.
async fn answer_query(driver: Driver, answer: Vec<u8>) -> (QueryError, State, Vec<u8>) {
    let server = one_shot(move |s| {
        read_startup(s);
        s.write_all(&startup_ok()).expect("write");
        let (tag, _) = read_message(s);
        assert_eq!(tag, b'Q');
        s.write_all(&answer).expect("write");
    });
    let conninfo = server.conninfo("");
    let mut conn: AnyConnection =
        connecting::connect_with(driver, &resolve_plain(&conninfo), &conninfo).await;
    let started = Instant::now();
    let e = query_error(conn.simple_query("SELECT x").await);
    assert!(started.elapsed() < FAST);
    let state = conn.state();
    drop(conn);
    let ((), rest) = server.join();
    (e, state, rest)
}

both_drivers!(declared_lengths_below_four_and_over_the_cap);
/// Length words 0 to 3 (shorter than the length word itself) and over the caps (30 000
/// for most types, 1 GiB + 4 for `T D d V E N A`): libpq's lost-synchronization text for
/// each, the connection broken, nothing read past the length word.
async fn declared_lengths_below_four_and_over_the_cap(driver: Driver) {
    let mut cases: Vec<(u8, u32)> = (0..4).map(|n| (b'D', n)).collect();
    cases.extend([(b'C', 0), (b'C', 3), (b'C', 30_001), (b'D', (1 << 30) + 5)]);
    for (tag, len) in cases {
        let mut answer = vec![tag];
        answer.extend_from_slice(&len.to_be_bytes());
        answer.extend_from_slice(&[0; 16]);
        let (e, state, _) = answer_query(driver, answer).await;
        // As libpq, a long type's length is shown without its own 4 bytes once it is
        // over the cap (the check after `msgLength -= 4`), a short type's as received.
        let shown = if len > 30_000 && tag == b'D' {
            len - 4
        } else {
            len
        };
        assert_eq!(
            e.message,
            format!(
                "lost synchronization with server: got message type \"{}\", length {shown}\n",
                char::from(tag)
            )
        );
        assert!(e.connection_lost, "{e:?}");
        assert_eq!(state, State::Broken, "length {len}");
    }
}

/// A RowDescription of `columns` text columns.
fn row_description(columns: usize) -> Vec<u8> {
    let mut body = u16::try_from(columns).unwrap().to_be_bytes().to_vec();
    for i in 0..columns {
        body.extend_from_slice(format!("c{i}\0").as_bytes());
        body.extend_from_slice(&[0; 6]);
        body.extend_from_slice(&25u32.to_be_bytes());
        body.extend_from_slice(&(-1i16).to_be_bytes());
        body.extend_from_slice(&(-1i32).to_be_bytes());
        body.extend_from_slice(&0u16.to_be_bytes());
    }
    message(b'T', &body)
}

/// A DataRow of `values`.
fn data_row(values: &[&str]) -> Vec<u8> {
    let mut body = u16::try_from(values.len()).unwrap().to_be_bytes().to_vec();
    for v in values {
        body.extend_from_slice(&u32::try_from(v.len()).unwrap().to_be_bytes());
        body.extend_from_slice(v.as_bytes());
    }
    message(b'D', &body)
}

both_drivers!(data_row_field_count_disagrees_with_row_description);
/// rust-postgres (June 2026): a DataRow with more or fewer values than RowDescription
/// has columns. The query fails with libpq's text; never a panic, never a row read
/// against the wrong columns. As in libpq 13 (`getAnotherTuple`), the message is skipped
/// and the rest of the answer read to ReadyForQuery: the connection stays in sync and the
/// next query works.
async fn data_row_field_count_disagrees_with_row_description(driver: Driver) {
    for (columns, values) in [
        (1, vec!["a", "b"]),
        (2, vec!["a"]),
        (2, vec![]),
        (0, vec!["a"]),
    ] {
        let answer = [
            row_description(columns),
            data_row(&values),
            message(b'C', b"SELECT 1\0"),
            message(b'Z', b"I"),
        ]
        .concat();
        let server = one_shot(move |s| {
            read_startup(s);
            s.write_all(&startup_ok()).expect("write");
            assert_eq!(read_message(s).0, b'Q');
            s.write_all(&answer).expect("write");
            assert_eq!(read_message(s).0, b'Q');
            let good = [
                row_description(1),
                data_row(&["ok"]),
                message(b'C', b"SELECT 1\0"),
                message(b'Z', b"I"),
            ];
            s.write_all(&good.concat()).expect("write");
        });
        let conninfo = server.conninfo("");
        let mut conn = connecting::connect_with(driver, &resolve_plain(&conninfo), &conninfo).await;
        let e = query_error(conn.simple_query("SELECT x").await);
        assert_eq!(e.message, "unexpected field count in \"D\" message\n");
        assert!(!e.connection_lost, "{columns} columns, {values:?}");
        assert_eq!(conn.state(), State::Open, "{columns} columns, {values:?}");
        let results = conn.simple_query("SELECT ok").await.expect("next query");
        assert_eq!(results[0].rows, vec![vec![Some("ok".to_owned())]]);
        drop(conn);
        server.join();
    }
}

// ---------------------------------------------------------------------------------------
// NUL bytes in what is sent NUL-terminated.

/// A server that keeps every byte of its one connection. When the client never connected,
/// [`Listening::received`] connects once itself, sending nothing, to end the thread.
struct Listening {
    port: u16,
    thread: JoinHandle<Vec<u8>>,
}

fn listening() -> Listening {
    let server = one_shot(|_| ());
    Listening {
        port: server.port,
        thread: std::thread::spawn(move || server.join().1),
    }
}

impl Listening {
    /// Every byte received on the first connection accepted (the test's own empty one if
    /// the client never connected).
    fn received(self) -> Vec<u8> {
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        self.thread.join().expect("listening thread")
    }
}

/// What connecting with `conninfo` and `key` = `value` as the only environment gives:
/// the error's text (resolving or connecting), and every byte the server received.
async fn with_env(driver: Driver, key: &str, value: &str) -> (String, Vec<u8>) {
    let server = listening();
    let conninfo = format!("host=127.0.0.1 port={} sslmode=disable", server.port);
    let config = Config::parse(&conninfo).expect("parses");
    let text = match config.resolve(&Env::empty().with(key, value)) {
        Err(e) => format!("{e}\n"),
        Ok(resolved) => match driver.connect(&resolved).await {
            Ok(conn) => panic!("{key}: connected: {conn:?}"),
            Err(e) => e.message,
        },
    };
    (text, server.received())
}

both_drivers!(nul_bytes_in_startup_parameters_and_names);
/// A NUL would end a string early on the wire, so that the server reads another user,
/// database or option than the one given (the startup-packet half of the NUL advisories).
/// In a conninfo string it is refused by the parser (libpq's text); from the environment
/// (which a caller's `Env` may fill from anywhere) at the startup packet's encoding,
/// before a byte is written; a Cluster refuses a database name holding one.
async fn nul_bytes_in_startup_parameters_and_names(driver: Driver) {
    for conninfo in ["user='u\0v'", "dbname=d\0b", "options='-c x=\0y'"] {
        assert_eq!(
            Config::parse(conninfo)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err("NUL byte in connection info string".to_owned()),
            "{conninfo:?}"
        );
    }
    assert_eq!(
        Config::parse("")
            .expect("empty")
            .set("application_name", "a\0b")
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err("NUL byte in connection info string".to_owned())
    );
    for (key, value) in [
        ("PGUSER", "u\0v"),
        ("PGDATABASE", "d\0b"),
        ("PGAPPNAME", "a\0b"),
        ("PGOPTIONS", "-c x=\0y"),
    ] {
        let (text, received) = with_env(driver, key, value).await;
        assert_eq!(
            text, "the startup parameter value contains a NUL byte\n",
            "{key}"
        );
        assert_eq!(received, b"", "{key}: nothing sent");
    }

    let server = listening();
    let cluster = driver
        .cluster(&format!(
            "host=127.0.0.1 port={} sslmode=disable user=u",
            server.port
        ))
        .expect("cluster");
    let e = cluster
        .connect("a\0b")
        .await
        .expect_err("a NUL in the name");
    assert_eq!(
        e.to_string(),
        "Invalid database name \"a\\0b\": it contains a NUL byte"
    );
    assert_eq!(server.received(), b"", "nothing sent");
}

both_drivers!(nul_bytes_in_passwords);
/// A password holding a NUL (from `PGPASSWORD`, or a `.pgpass` line, which a conninfo
/// string cannot give) is refused before the startup packet, whatever the server would
/// ask for: once, MD5 sent a hash of it and SCRAM went on while cleartext refused it.
async fn nul_bytes_in_passwords(driver: Driver) {
    let dir = Scratch::new(&format!("advisories-{}", driver.name()));
    // As libpq, a password file others can read is ignored.
    let passfile = dir.file_with_mode("pgpass", b"*:*:*:*:pa\0ss\n", 0o600);
    for (key, value) in [("PGPASSWORD", "pa\0ss"), ("PGPASSFILE", passfile.as_str())] {
        let (text, received) = with_env(driver, key, value).await;
        assert_eq!(text, "the password contains a NUL byte\n", "{key}");
        assert_eq!(received, b"", "{key}: nothing sent");
    }
}

both_drivers!(counts_over_what_the_wire_can_say_are_never_sent);
/// The send side of the length-overflow advisories (pgx CVE-2024-27304, Npgsql
/// CVE-2024-32655, sqlx RUSTSEC-2024-0363) at a size a test can afford: a Bind whose
/// parameter count does not fit its `Int16` (32 768 parameters) wraps nothing and writes
/// nothing, not even the Parse before it; the connection stays usable. (A value over
/// `i32::MAX` bytes takes the same path, `message too long to send`; its test is
/// `frontend` `too_long_writes_nothing`, with a small cap standing for `i32::MAX`.)
async fn counts_over_what_the_wire_can_say_are_never_sent(driver: Driver) {
    let server = one_shot(|s| {
        read_startup(s);
        s.write_all(&startup_ok()).expect("write");
    });
    let conninfo = server.conninfo("");
    let mut conn = connecting::connect_with(driver, &resolve_plain(&conninfo), &conninfo).await;
    let params = vec![None; 32_768];
    let e = match conn.query("SELECT 1", &params).await {
        Err(Error::Query(e)) => e,
        other => panic!("expected a query error, got {other:?}"),
    };
    assert_eq!(e.message, "too many parameters to send\n");
    assert!(!e.connection_lost);
    assert_eq!(conn.state(), State::Open);
    drop(conn);
    // Only the Terminate of the drop.
    let ((), rest) = server.join();
    assert_eq!(rest, b"X\0\0\0\x04");
}
