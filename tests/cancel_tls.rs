//! Cancel over TLS (issue 17, libpq 17's `PQcancelCreate`): a connection that is encrypted
//! sends its CancelRequest encrypted too, with the same SSLRequest (or direct TLS),
//! settings and server name, so the backend's secret key never crosses the wire in the
//! clear. Against a real ssl = on server, through a relay that keeps what each client
//! sent: the statement is cancelled, and no connection's bytes hold the plaintext
//! CancelRequest. The same relay sees it in the clear when the connection is not
//! encrypted, so the check can fail.
#![cfg(all(feature = "tls", feature = "testing"))]

mod connecting;
mod support;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use pgcluster::testing::{TestCerts, TestServer};
use support::{Relay, RelayOptions};

use connecting::{both_drivers, resolve, Driver};

/// Certificates and an ssl = on server shared by the tests of this file.
struct Tls {
    certs: TestCerts,
    server: TestServer,
}

fn tls() -> &'static Tls {
    static TLS: OnceLock<Tls> = OnceLock::new();
    TLS.get_or_init(|| {
        let certs = TestCerts::generate().expect("openssl makes the certificates");
        let server = TestServer::builder()
            .tls(&certs)
            .start()
            .expect("a TLS server starts");
        Tls { certs, server }
    })
}

/// SSLRequest.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// The start of a plaintext CancelRequest for `pid`: its length (16 with a 4-byte key),
/// the cancel request code, the process id.
fn plaintext_cancel(pid: i32) -> Vec<u8> {
    let mut packet = vec![0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e];
    packet.extend_from_slice(&pid.to_be_bytes());
    packet
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Waits until backend `pid` runs a statement (read with psql, not our client).
fn until_active(server: &TestServer, pid: i32) {
    let started = Instant::now();
    loop {
        let state = server
            .psql(&format!(
                "SELECT state FROM pg_stat_activity WHERE pid = {pid}"
            ))
            .expect("pg_stat_activity");
        if state.trim() == "active" {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "backend {pid} never became active"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

both_drivers!(sync a_tls_connections_cancel_goes_encrypted);
/// With each way of encrypting (SSLRequest; direct TLS on a server that has it) and in
/// the clear: the statement is cancelled by a request from another thread, on the token's
/// blocking and async calls, and the relay's record says how it went.
fn a_tls_connections_cancel_goes_encrypted(driver: Driver) {
    let t = tls();
    let ca = t.certs.ca().display().to_string();
    let direct = t.server.server_version_num().expect("the version") >= 170_000;
    let mut cases = vec![("sslmode=verify-ca", true), ("sslmode=disable", false)];
    if direct {
        cases.push(("sslmode=require sslnegotiation=direct", true));
    }
    for (settings, encrypted) in cases {
        for call in ["cancel_blocking", "cancel"] {
            let relay = connecting::block_on(Relay::start(
                t.server.port(),
                RelayOptions {
                    record: true,
                    ..RelayOptions::default()
                },
            ));
            let conninfo = format!(
                "host=127.0.0.1 port={} user=postgres password={} dbname=postgres \
                 sslrootcert={ca} {settings}",
                relay.port,
                t.server.password()
            );
            let pid = driver.run(async {
                let mut conn =
                    connecting::connect_with(driver, &resolve(&conninfo), &conninfo).await;
                let token = conn.cancel_token().expect("a cancel token");
                assert_eq!(token.is_tls(), encrypted, "{settings}");
                let pid = token.process_id();
                let canceller = std::thread::spawn(move || {
                    until_active(&tls().server, pid);
                    if call == "cancel" {
                        tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .expect("a runtime")
                            .block_on(token.cancel())
                    } else {
                        token.cancel_blocking()
                    }
                });
                let started = Instant::now();
                let e = conn
                    .simple_query("SELECT pg_sleep(30)")
                    .await
                    .expect_err("cancelled");
                assert!(started.elapsed() < Duration::from_secs(20), "{settings}");
                assert_eq!(e.sqlstate(), Some("57014"), "{settings} {call}: {e}");
                canceller
                    .join()
                    .expect("the canceller")
                    .unwrap_or_else(|e| panic!("{settings} {call}: {e}"));
                conn.close().await;
                pid
            });
            let sent = relay.sent_by_clients();
            assert_eq!(
                sent.len(),
                2,
                "{settings} {call}: the session, then the cancel"
            );
            let cancel = &sent[1];
            let plain = plaintext_cancel(pid);
            if encrypted {
                for bytes in &sent {
                    assert!(
                        !contains(bytes, &plain),
                        "{settings} {call}: key in the clear"
                    );
                }
                if settings.contains("direct") {
                    // A TLS handshake record (ClientHello) at once.
                    assert_eq!(cancel.first(), Some(&0x16), "{settings} {call}");
                } else {
                    assert!(cancel.starts_with(&SSL_REQUEST), "{settings} {call}");
                    assert_eq!(cancel.get(8), Some(&0x16), "{settings} {call}");
                }
            } else {
                assert!(cancel.starts_with(&plain), "{settings} {call}: {cancel:?}");
                assert_eq!(cancel.len(), 16, "{settings} {call}");
            }
        }
    }
}
