//! Protocol 3.2 (PostgreSQL 18): `min_protocol_version` / `max_protocol_version`, the
//! version asked for in StartupMessage, NegotiateProtocolVersion, BackendKeyData with
//! long keys and CancelRequest carrying them, on both drivers.
//!
//! Scripted servers play what a real one will not: a refusal, a lie, keys of bad
//! lengths, options never asked for. Each expected text is what psql 18.6 (libpq 18)
//! prints against a scripted server sending the same bytes. Real servers: the server at
//! hand, whatever its version (CI's matrix runs this on 14 to 18: 18 speaks 3.2, the
//! others answer NegotiateProtocolVersion with 3.0), and PostgreSQL 18 from
//! `$PGCLUSTER_TEST_PG18_BIN` on a machine whose own server is older.

mod connecting;
mod fake_server;

use fake_server::{auth_ok, message, FakeServer, Script};
use pgcluster::ProtocolVersion;

use connecting::resolve_plain as resolve;
use connecting::{both_drivers, AnyConnection, Driver};

const V30: i32 = 0x0003_0000;
const V32: i32 = 0x0003_0002;

fn negotiate(version: i32, options: &[&str]) -> Vec<u8> {
    let mut body = version.to_be_bytes().to_vec();
    body.extend_from_slice(&i32::try_from(options.len()).unwrap().to_be_bytes());
    for o in options {
        body.extend_from_slice(o.as_bytes());
        body.push(0);
    }
    message(b'v', &body)
}

/// BackendKeyData for process 4242 with a key of `len` bytes.
fn key_data(len: usize) -> Vec<u8> {
    let mut body = 4242i32.to_be_bytes().to_vec();
    body.extend((0..len).map(|i| u8::try_from(i % 251).unwrap()));
    message(b'K', &body)
}

fn ready() -> Vec<u8> {
    message(b'Z', b"I")
}

fn script(parts: &[Vec<u8>]) -> Script {
    Script::Reply(parts.concat())
}

fn conninfo(port: u16, extra: &str) -> String {
    format!("host=127.0.0.1 port={port} user=u dbname=d {extra}")
}

async fn connect(driver: Driver, conninfo: &str) -> AnyConnection {
    connecting::connect_with(driver, &resolve(conninfo), conninfo).await
}

async fn failure(driver: Driver, conninfo: &str) -> String {
    connecting::connect_error_with(driver, &resolve(conninfo))
        .await
        .message
}

/// The protocol version word of a startup packet.
fn version_word(packet: &[u8]) -> i32 {
    i32::from_be_bytes(packet[4..8].try_into().unwrap())
}

both_drivers!(asks_for_3_2_and_cancels_with_the_whole_key);
/// The version asked for in StartupMessage, the version in use, and the CancelRequest
/// carrying the whole key (PostgreSQL 18 sends 32 bytes; up to 256 are allowed), as the
/// scripted server received them.
async fn asks_for_3_2_and_cancels_with_the_whole_key(driver: Driver) {
    for (extra, word, key_len) in [
        ("max_protocol_version=3.2", V32, 32),
        ("max_protocol_version=latest", V32, 256),
        ("min_protocol_version=3.2", V32, 4),
        ("", V30, 4),
        ("max_protocol_version=3.0", V30, 4),
    ] {
        let server = FakeServer::start(script(&[auth_ok(), key_data(key_len), ready()]), 2);
        let mut conn = connect(driver, &conninfo(server.port, extra)).await;
        let expected = ProtocolVersion::from_code(word).unwrap();
        assert_eq!(conn.protocol_version(), expected, "{extra}");
        assert_eq!(conn.backend_pid(), Some(4242));
        let token = conn.cancel_token().expect("a cancel token");
        // The scripted server serves one connection at a time: this one goes first.
        conn.close().await;
        token.cancel_blocking().expect("cancel delivered");
        let packets = server.join();
        assert_eq!(version_word(&packets[0]), word, "{extra}");
        let cancel = &packets[1];
        let mut expected = u32::try_from(12 + key_len).unwrap().to_be_bytes().to_vec();
        expected.extend_from_slice(&80_877_102i32.to_be_bytes());
        expected.extend_from_slice(&4242i32.to_be_bytes());
        expected.extend((0..key_len).map(|i| u8::try_from(i % 251).unwrap()));
        assert_eq!(*cancel, expected, "{extra}");
    }
}

both_drivers!(falls_back_to_3_0_when_the_server_offers_it);
/// A server older than 18 answers a request for 3.2 with NegotiateProtocolVersion 3.0;
/// the connection goes on at 3.0 with a 4-byte key.
async fn falls_back_to_3_0_when_the_server_offers_it(driver: Driver) {
    let server = FakeServer::start(
        script(&[negotiate(V30, &[]), auth_ok(), key_data(4), ready()]),
        1,
    );
    let mut conn = connect(driver, &conninfo(server.port, "max_protocol_version=3.2")).await;
    assert_eq!(conn.protocol_version(), ProtocolVersion::V3_0);
    assert_eq!(conn.backend_pid(), Some(4242));
    conn.close().await;
    server.join();
}

both_drivers!(refusing_lying_and_bad_keys_have_libpq_18_texts);
/// Each server stream, the settings, and libpq 18's text for it.
async fn refusing_lying_and_bad_keys_have_libpq_18_texts(driver: Driver) {
    let invalid = "received invalid protocol negotiation message";
    let bad_key = "received invalid BackendKeyData message: cancel key with length";
    let cases: Vec<(&str, Vec<Vec<u8>>, String)> = vec![
        // Refusing: the server offers less than the lowest allowed.
        (
            "min_protocol_version=3.2",
            vec![negotiate(V30, &[])],
            "server only supports protocol version 3.0, but \"min_protocol_version\" was set \
             to 3.2"
                .to_owned(),
        ),
        // Lying: a version higher than the one asked for.
        (
            "",
            vec![negotiate(V32, &[])],
            format!("{invalid}: server requested downgrade to a higher-numbered version"),
        ),
        (
            "max_protocol_version=3.2",
            vec![negotiate(V32 + 1, &[])],
            format!("{invalid}: server requested downgrade to a higher-numbered version"),
        ),
        // Lying: "negotiating" the very version asked for, changing nothing.
        (
            "max_protocol_version=3.2",
            vec![negotiate(V32, &[])],
            format!("{invalid}: server negotiated but asks for no changes"),
        ),
        (
            "max_protocol_version=3.2",
            vec![negotiate(V30 + 1, &[])],
            format!("{invalid}: server requested downgrade to non-existent 3.1 protocol version"),
        ),
        // Unknown options: we request none.
        (
            "max_protocol_version=3.2",
            vec![negotiate(V30, &["_pq_.compression"])],
            format!(
                "{invalid}: server reported an unsupported parameter that was not requested \
                 (\"_pq_.compression\")"
            ),
        ),
        (
            "max_protocol_version=3.2",
            vec![negotiate(V30, &["compression"])],
            format!(
                "{invalid}: server reported unsupported parameter name without a \"_pq_.\" \
                 prefix (\"compression\")"
            ),
        ),
        (
            "max_protocol_version=3.2",
            vec![negotiate(V30, &[]), negotiate(V30, &[])],
            "received duplicate protocol negotiation message".to_owned(),
        ),
        (
            "max_protocol_version=3.2",
            vec![message(b'v', &[0, 3, 0])],
            invalid.to_owned(),
        ),
        (
            "max_protocol_version=3.2",
            vec![auth_ok(), negotiate(V30, &[])],
            "unexpected response from server; first received character was \"v\"".to_owned(),
        ),
        // Keys: long ones need 3.2, and none is under 4 or over 256 bytes.
        (
            "",
            vec![auth_ok(), key_data(32)],
            format!("{bad_key} 32 not allowed in protocol version 3.0 (must be 4 bytes)"),
        ),
        (
            "max_protocol_version=3.2",
            vec![negotiate(V30, &[]), auth_ok(), key_data(32)],
            format!("{bad_key} 32 not allowed in protocol version 3.0 (must be 4 bytes)"),
        ),
        (
            "max_protocol_version=3.2",
            vec![auth_ok(), key_data(257)],
            format!("{bad_key} 257 is too long (maximum 256 bytes)"),
        ),
        (
            "max_protocol_version=3.2",
            vec![auth_ok(), key_data(3)],
            format!("{bad_key} 3 is too short (minimum 4 bytes)"),
        ),
        (
            "max_protocol_version=3.2",
            vec![auth_ok(), message(b'K', b"ab")],
            format!("{bad_key} -2 is too short (minimum 4 bytes)"),
        ),
    ];
    for (extra, parts, text) in cases {
        let server = FakeServer::start(script(&parts), 1);
        assert_eq!(
            failure(driver, &conninfo(server.port, extra)).await,
            format!("{text}\n"),
            "{extra} {parts:?}"
        );
        server.join();
    }
}

/// Real servers: `pgcluster::testing` starts them.
#[cfg(feature = "testing")]
mod real_servers {
    use std::time::{Duration, Instant};

    use pgcluster::testing::TestServer;

    use super::*;

    /// A generous bound for a backend to start running a statement.
    const LONG: Duration = Duration::from_secs(60);

    /// Over TCP as the superuser of `server`, with `extra` settings.
    fn server_conninfo(server: &TestServer, extra: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres password={} {extra}",
            server.port(),
            server.password()
        )
    }

    /// Cancels `conn`'s `pg_sleep` through its token once `watcher` sees it running; the
    /// statement must end cancelled and the connection stay usable. (A token with a cut key
    /// would be ignored by the server, and the statement would end normally.)
    async fn cancel_works(driver: Driver, conn: &mut AnyConnection, watcher: &mut AnyConnection) {
        let token = conn.cancel_token().expect("a cancel token");
        let pid = token.process_id().to_string();
        let (result, ()) = driver
            .join(conn.simple_query("SELECT pg_sleep(120)"), async {
                let start = Instant::now();
                loop {
                    let r = watcher
                        .query(
                            "SELECT state FROM pg_stat_activity WHERE pid = $1::int",
                            &[Some(&pid)],
                        )
                        .await
                        .unwrap();
                    if r.rows.first().and_then(|row| row[0].as_deref()) == Some("active") {
                        break;
                    }
                    assert!(start.elapsed() < LONG, "backend {pid} never became active");
                    driver.sleep(Duration::from_millis(10)).await;
                }
                token.cancel_blocking().expect("cancel delivered");
            })
            .await;
        let e = result.expect_err("the statement is cancelled");
        assert_eq!(e.sqlstate(), Some("57014"), "{e}");
        let r = conn.simple_query("SELECT 1").await.unwrap();
        assert_eq!(r[0].rows[0][0].as_deref(), Some("1"));
    }

    /// Every setting against a real `server`, for its version: from PostgreSQL 18, 3.2 when
    /// asked for (with the server's 32-byte key, which the cancel must carry whole), else 3.0
    /// (the server answers NegotiateProtocolVersion); 3.0 by default; cancel works each time;
    /// `min_protocol_version=3.2` before 18 fails with libpq 18's text.
    async fn against_a_real_server(driver: Driver, server: &TestServer) {
        let version = server.server_version_num().expect("server version");
        let has_3_2 = version >= 180_000;
        let mut watcher = connect(driver, &server_conninfo(server, "")).await;
        for (extra, on_18) in [
            ("", ProtocolVersion::V3_0),
            ("max_protocol_version=3.0", ProtocolVersion::V3_0),
            ("max_protocol_version=3.2", ProtocolVersion::V3_2),
            ("max_protocol_version=latest", ProtocolVersion::V3_2),
            ("min_protocol_version=3.2", ProtocolVersion::V3_2),
        ] {
            let conninfo = server_conninfo(server, extra);
            if !has_3_2 && extra.starts_with("min") {
                assert_eq!(
                    failure(driver, &conninfo).await,
                    "server only supports protocol version 3.0, but \"min_protocol_version\" was \
                     set to 3.2\n"
                );
                continue;
            }
            let mut conn = connect(driver, &conninfo).await;
            let expected = if has_3_2 {
                on_18
            } else {
                ProtocolVersion::V3_0
            };
            assert_eq!(conn.protocol_version(), expected, "{extra} on {version}");
            cancel_works(driver, &mut conn, &mut watcher).await;
            conn.close().await;
        }
        watcher.close().await;
    }

    both_drivers!(the_server_at_hand);
    /// The shared test server, whichever version it is (CI runs the suite on 14 to 18).
    async fn the_server_at_hand(driver: Driver) {
        against_a_real_server(driver, TestServer::shared().expect("test server starts")).await;
    }

    both_drivers!(postgresql_18_when_the_server_at_hand_is_older);
    /// PostgreSQL 18 from `$PGCLUSTER_TEST_PG18_BIN` (e.g. `bash .ci/postgresql 18.6.0`), for a
    /// machine whose own server is older; skipped without it, or when the server at hand is 18
    /// already (the test above covers it then).
    async fn postgresql_18_when_the_server_at_hand_is_older(driver: Driver) {
        let Some(bin) = std::env::var_os("PGCLUSTER_TEST_PG18_BIN") else {
            eprintln!("skipped: PGCLUSTER_TEST_PG18_BIN is not set");
            return;
        };
        let shared = TestServer::shared().expect("test server starts");
        if shared.server_version_num().expect("server version") >= 180_000 {
            eprintln!("skipped: the server at hand is PostgreSQL 18 or later");
            return;
        }
        let server = TestServer::builder()
            .bin_dir(bin)
            .start()
            .expect("a PostgreSQL 18 server starts");
        let version = server.server_version_num().expect("server version");
        assert!((180_000..190_000).contains(&version), "{version}");
        against_a_real_server(driver, &server).await;
    }
}
