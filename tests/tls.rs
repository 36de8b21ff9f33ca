//! TLS against real PostgreSQL servers with certificates made at test time, cancel over
//! TLS included (at the end).
//!
//! Expected texts come from `python3 /work/shared/tools/rexref libpq '...'` (libpq 13.3)
//! against the same kind of server: ssl = on with a CA-signed certificate for `localhost`
//! and `127.0.0.1`, and an ssl-off server. Where libpq changed since, pgcluster follows
//! libpq 14+ (the certificate's `iPAddress` entries) and libpq 18 (`certificate verify
//! failed: <OpenSSL's reason>`, which 18 gives only for `sslrootcert=system`), and refuses a
//! plaintext retry after a failed verification (README, "When things fail").
#![cfg(all(feature = "tls", feature = "testing"))]

mod connecting;
mod support;

use std::sync::{Arc, OnceLock};

use pgcluster::testing::{KeyKind, TestCerts, TestServer};
use pgcluster::tls::{handshake_error, tls_server_end_point, SslMode, TlsSettings};
use pgcluster_protocol::ssl::{Encryption, Negotiation, Outcome};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A role that must log in with a client certificate (`cert` in `pg_hba.conf`, TLS only).
const CERT_ROLE: &str = "pgcluster_cert";

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
            .hba_line(&format!("hostssl all {CERT_ROLE} 127.0.0.1/32 cert"))
            .hba_line(&format!("hostssl all {CERT_ROLE} ::1/128 cert"))
            .start()
            .expect("a TLS server starts");
        server
            .psql(&format!("CREATE ROLE {CERT_ROLE} LOGIN"))
            .expect("create the certificate role");
        Tls { certs, server }
    })
}

/// SSLRequest, then the handshake with `settings` for `host`, as a connection does it (the
/// handshake by rustls's own blocking I/O, on a thread).
async fn handshake(
    port: u16,
    settings: &TlsSettings,
    host: &str,
) -> Result<rustls::ClientConnection, String> {
    let client = settings.client(host).map_err(|e| e.to_string())?;
    let mut tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let mut ssl = Negotiation::new(Encryption::Ssl, settings.effective_mode().requires_tls());
    let mut out = Vec::new();
    ssl.request(&mut out);
    tcp.write_all(&out).await.expect("send SSLRequest");
    let mut buf = vec![0u8; 64];
    let mut got = Vec::new();
    loop {
        let n = tcp.read(&mut buf).await.expect("read answer");
        assert!(n > 0, "server closed");
        got.extend_from_slice(&buf[..n]);
        match ssl.handle(&got).map_err(|e| e.to_string())? {
            None => continue,
            Some(Outcome::Accepted) => break,
            Some(other) => return Err(format!("{other:?}")),
        }
    }
    let mut tcp = tcp.into_std().expect("a std socket");
    tcp.set_nonblocking(false).expect("blocking mode");
    tokio::task::spawn_blocking(move || {
        let failed = |e: std::io::Error| handshake_error(&e).to_string();
        let mut conn = rustls::ClientConnection::new(client.config, client.server_name)
            .map_err(|e| failed(std::io::Error::other(e)))?;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).map_err(failed)?;
        }
        Ok(conn)
    })
    .await
    .expect("the handshake thread")
}

fn settings(mode: SslMode, root: Option<&std::path::Path>) -> TlsSettings {
    let mut s = TlsSettings::default();
    s.mode = Some(mode);
    s.root_cert = root.map(|p| p.display().to_string());
    // No default files from the real home directory.
    s.home = Some(std::env::temp_dir().join("pgcluster-no-home"));
    s
}

#[tokio::test]
async fn verify_full_accepts_localhost() {
    let t = tls();
    let s = settings(SslMode::VerifyFull, Some(&t.certs.ca()));
    let conn = handshake(t.server.port(), &s, "localhost").await.unwrap();
    let cert = &conn.peer_certificates().expect("a server certificate")[0];
    // The server certificate is signed with ecdsa-with-SHA256: the binding is its SHA-256.
    let hash = tls_server_end_point(cert).unwrap();
    assert_eq!(hash.len(), 32);
}

#[tokio::test]
async fn verify_full_wrong_host_name() {
    let t = tls();
    let s = settings(SslMode::VerifyFull, Some(&t.certs.ca()));
    // rexref: host=127.0.0.2 hostaddr=127.0.0.1 sslmode=verify-full sslrootcert=ca.crt
    assert_eq!(
        handshake(t.server.port(), &s, "127.0.0.2")
            .await
            .unwrap_err(),
        "server certificate for \"localhost\" (and 1 other name) does not match host name \
         \"127.0.0.2\""
    );
    // libpq 14+ matches the iPAddress entry (libpq 13 ignored it).
    handshake(t.server.port(), &s, "127.0.0.1").await.unwrap();
}

#[tokio::test]
async fn untrusted_ca() {
    let t = tls();
    let other = t.certs.other_ca().unwrap().cert;
    for mode in [SslMode::VerifyCa, SslMode::VerifyFull, SslMode::Require] {
        // With a root file, require verifies the chain too (libpq).
        let s = settings(mode, Some(&other));
        assert_eq!(
            handshake(t.server.port(), &s, "localhost")
                .await
                .unwrap_err(),
            "SSL error: certificate verify failed: unable to get local issuer certificate",
            "{mode}"
        );
    }
    // Without one, require checks nothing.
    let s = settings(SslMode::Require, None);
    handshake(t.server.port(), &s, "localhost").await.unwrap();
}

#[tokio::test]
async fn expired_certificate() {
    let certs = TestCerts::generate().unwrap();
    let expired = certs.expired_server().unwrap();
    let server = TestServer::builder()
        .tls_files(&expired, &certs.ca())
        .start()
        .unwrap();
    let s = settings(SslMode::VerifyCa, Some(&certs.ca()));
    assert_eq!(
        handshake(server.port(), &s, "localhost").await.unwrap_err(),
        "SSL error: certificate verify failed: certificate has expired"
    );
    handshake(
        server.port(),
        &settings(SslMode::Require, None),
        "localhost",
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn ssl_off_server_refuses() {
    let server = TestServer::shared().unwrap();
    let s = settings(SslMode::Require, None);
    assert_eq!(
        handshake(server.port(), &s, "localhost").await.unwrap_err(),
        "server does not support SSL, but SSL was required"
    );
    let s = settings(SslMode::Prefer, None);
    assert_eq!(
        handshake(server.port(), &s, "localhost").await.unwrap_err(),
        "Refused"
    );
}

#[tokio::test]
async fn client_certificate_files() {
    let t = tls();
    let client = t.certs.client("pgcluster_cert").unwrap();
    let mut s = settings(SslMode::VerifyFull, Some(&t.certs.ca()));
    s.cert = Some(client.cert.display().to_string());
    s.key = Some(client.key.display().to_string());
    handshake(t.server.port(), &s, "localhost").await.unwrap();
    // The server's key does not belong to the client certificate.
    s.key = Some(t.certs.server().key.display().to_string());
    assert_eq!(
        handshake(t.server.port(), &s, "localhost")
            .await
            .unwrap_err(),
        format!(
            "could not load private key file \"{}\": key values mismatch",
            t.certs.server().key.display()
        )
    );
    s.key = Some("/nonexistent/key".into());
    assert_eq!(
        handshake(t.server.port(), &s, "localhost")
            .await
            .unwrap_err(),
        "certificate present, but not private key file \"/nonexistent/key\""
    );
    s.key = Some(t.certs.ca().display().to_string());
    assert_eq!(
        handshake(t.server.port(), &s, "localhost")
            .await
            .unwrap_err(),
        format!(
            "private key file \"{}\" has group or world access; file must have permissions \
             u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) \
             or less if owned by root",
            t.certs.ca().display()
        )
    );
}

// ---- Through the connection layer (conninfo -> Connection::connect) ----
//
// Every test from here on runs on both drivers (`name::blocking`, `name::tokio`;
// `connecting::Driver`): TLS runs over each driver's socket, and the texts of a failed
// handshake, an alert or a close_notify come from what that socket read. The tests above
// drive `pgcluster::tls` directly, under no connection, and stay as they are.

use connecting::{both_drivers, AnyConnection, Driver};
use pgcluster::conninfo::{Config, Env};
use pgcluster::testing::{MD5_ROLE, PASSWORD_ROLE, REJECT_ROLE, SCRAM_ROLE};

/// `~/.postgresql` of a home directory that does not exist.
const NO_HOME: &str = "/nonexistent/pgcluster-home";

async fn connect(driver: Driver, conninfo: &str) -> Result<AnyConnection, String> {
    connect_env(driver, conninfo, &Env::empty().with_home(NO_HOME)).await
}

/// Connects on `driver` with `env` as the environment (no process variables are read or
/// set).
async fn connect_env(driver: Driver, conninfo: &str, env: &Env) -> Result<AnyConnection, String> {
    let resolved = Config::parse(conninfo)
        .map_err(|e| e.to_string())?
        .resolve(env)
        .map_err(|e| e.to_string())?;
    driver.connect(&resolved).await.map_err(|e| e.message)
}

/// `t` or `f`: whether this session is encrypted, from `pg_stat_ssl`.
async fn ssl_in_use(conn: &mut AnyConnection) -> String {
    let results = conn
        .simple_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .await
        .expect("pg_stat_ssl");
    results[0].rows[0][0].clone().expect("not null")
}

both_drivers!(every_sslmode_against_an_ssl_on_server);
async fn every_sslmode_against_an_ssl_on_server(driver: Driver) {
    let t = tls();
    let ca = t.certs.ca().display().to_string();
    for (mode, ssl) in [
        ("disable", "f"),
        ("allow", "f"),
        ("prefer", "t"),
        ("require", "t"),
        ("verify-ca", "t"),
        ("verify-full", "t"),
    ] {
        let mut conn = connect(
            driver,
            &format!(
                "host=localhost port={} user=postgres password={} dbname=postgres sslmode={mode} \
             sslrootcert={ca}",
                t.server.port(),
                t.server.password()
            ),
        )
        .await
        .unwrap_or_else(|e| panic!("{mode}: {e}"));
        assert_eq!(ssl_in_use(&mut conn).await, ssl, "{mode}");
        conn.close().await;
    }
}

both_drivers!(every_sslmode_against_an_ssl_off_server);
async fn every_sslmode_against_an_ssl_off_server(driver: Driver) {
    let server = TestServer::shared().unwrap();
    for mode in ["disable", "allow", "prefer"] {
        let mut conn = connect(
            driver,
            &format!(
                "host=localhost port={} user=postgres password={} dbname=postgres sslmode={mode}",
                server.port(),
                server.password()
            ),
        )
        .await
        .unwrap_or_else(|e| panic!("{mode}: {e}"));
        assert_eq!(ssl_in_use(&mut conn).await, "f", "{mode}");
        conn.close().await;
    }
    // rexref: the same text for each; the root file is never looked at.
    for mode in ["require", "verify-ca", "verify-full"] {
        assert_eq!(
            connect(
                driver,
                &format!(
                    "host=localhost port={} user=postgres dbname=postgres sslmode={mode}",
                    server.port()
                )
            )
            .await
            .unwrap_err(),
            "server does not support SSL, but SSL was required\n",
            "{mode}"
        );
    }
}

both_drivers!(connection_level_certificate_failures);
async fn connection_level_certificate_failures(driver: Driver) {
    let t = tls();
    let p = t.server.port();
    let ca = t.certs.ca().display().to_string();
    let other = t.certs.other_ca().unwrap().cert.display().to_string();
    // rexref: host=127.0.0.2 hostaddr=127.0.0.1 sslmode=verify-full sslrootcert=ca.crt
    assert_eq!(
        connect(
            driver,
            &format!(
                "host=127.0.0.2 hostaddr=127.0.0.1 port={p} user=postgres dbname=postgres \
             sslmode=verify-full sslrootcert={ca}"
            )
        )
        .await
        .unwrap_err(),
        "server certificate for \"localhost\" (and 1 other name) does not match host name \
         \"127.0.0.2\"\n"
    );
    assert_eq!(
        connect(
            driver,
            &format!(
                "host=localhost port={p} user=postgres dbname=postgres sslmode=verify-ca \
             sslrootcert={other}"
            )
        )
        .await
        .unwrap_err(),
        "SSL error: certificate verify failed: unable to get local issuer certificate\n"
    );
    assert_eq!(
        connect(
            driver,
            &format!("host=localhost port={p} user=postgres dbname=postgres sslmode=verify-ca")
        )
        .await
        .unwrap_err(),
        format!(
            "root certificate file \"{NO_HOME}/.postgresql/root.crt\" does not exist\n\
             Either provide the file or change sslmode to disable server certificate \
             verification.\n"
        )
    );
    // prefer with a root file the server fails: no plaintext retry (libpq 13-18 retry in
    // the clear; pgcluster does not, see README's failure section).
    assert_eq!(
        connect(
            driver,
            &format!(
                "host=localhost port={p} user=postgres password={} dbname=postgres \
                 sslmode=prefer sslrootcert={other}",
                t.server.password()
            ),
        )
        .await
        .unwrap_err(),
        "SSL error: certificate verify failed: unable to get local issuer certificate\n"
    );
}

both_drivers!(scram_sha_256_plus_over_tls);
async fn scram_sha_256_plus_over_tls(driver: Driver) {
    let t = tls();
    let (p, pw) = (t.server.port(), t.server.password());
    let ca = t.certs.ca().display().to_string();
    // channel_binding=require succeeds only if the server accepted SCRAM-SHA-256-PLUS with
    // our tls-server-end-point binding (libpq: "channel binding required, but server
    // authenticated client without channel binding" otherwise).
    let mut conn = connect(
        driver,
        &format!(
            "host=localhost port={p} user={SCRAM_ROLE} password={pw} dbname=postgres \
         sslmode=verify-full sslrootcert={ca} channel_binding=require"
        ),
    )
    .await
    .unwrap();
    assert_eq!(ssl_in_use(&mut conn).await, "t");
    conn.close().await;
    // rexref: sslmode=disable channel_binding=require
    assert_eq!(
        connect(
            driver,
            &format!(
                "host=localhost port={p} user={SCRAM_ROLE} password={pw} dbname=postgres \
             sslmode=disable channel_binding=require"
            )
        )
        .await
        .unwrap_err(),
        "channel binding required, but SSL not in use\n"
    );
}

both_drivers!(require_auth_with_channel_binding_refuses_every_downgrade);
/// `require_auth=scram-sha-256` with `channel_binding=require` (issue 9): only a SCRAM
/// exchange bound to this TLS channel connects; every downgrade is refused before any
/// reply (tests/connection.rs checks that not a byte follows the startup packet).
async fn require_auth_with_channel_binding_refuses_every_downgrade(driver: Driver) {
    let t = tls();
    let p = &t.server;
    let ca = t.certs.ca().display().to_string();
    let strict = "require_auth=scram-sha-256 channel_binding=require";
    let conninfo = |server: &TestServer, user: &str, ssl: &str| {
        format!(
            "host=localhost port={} user={user} password={} dbname=postgres {ssl} {strict}",
            server.port(),
            server.password()
        )
    };
    let verified = format!("sslmode=verify-full sslrootcert={ca}");
    // CERT_ROLE's `cert` line: the server completes authentication without asking for
    // anything.
    let client = t.certs.client(CERT_ROLE).unwrap();
    let with_cert = format!(
        "{verified} sslcert={} sslkey={}",
        client.cert.display(),
        client.key.display()
    );
    // SCRAM-SHA-256-PLUS over TLS: the only way channel_binding=require accepts the
    // AuthenticationOk.
    let mut conn = connect(driver, &conninfo(p, SCRAM_ROLE, &verified))
        .await
        .unwrap();
    assert_eq!(ssl_in_use(&mut conn).await, "t");
    conn.close().await;
    // No TLS: the server offers SCRAM-SHA-256 only, refused before the first SCRAM message.
    // With allow, the plain attempt comes first and the refusal ends everything, as in
    // libpq (only a server error makes allow or prefer try again).
    let plain = TestServer::shared().unwrap();
    for (server, ssl) in [
        (p, "sslmode=disable"),
        (p, "sslmode=allow"),
        (plain, "sslmode=prefer"),
        (plain, "sslmode=allow"),
    ] {
        assert_eq!(
            connect(driver, &conninfo(server, SCRAM_ROLE, ssl))
                .await
                .unwrap_err(),
            "channel binding required, but SSL not in use\n",
            "{ssl}"
        );
    }
    // Over TLS, a weaker method or none at all: require_auth speaks first (libpq 16).
    let failed = |reason: &str| {
        format!("authentication method requirement \"scram-sha-256\" failed: {reason}\n")
    };
    for (user, ssl, reason) in [
        (
            PASSWORD_ROLE,
            &verified,
            "server requested a cleartext password",
        ),
        (MD5_ROLE, &verified, "server requested a hashed password"),
        (
            CERT_ROLE,
            &with_cert,
            "server did not complete authentication",
        ),
    ] {
        assert_eq!(
            connect(driver, &conninfo(p, user, ssl)).await.unwrap_err(),
            failed(reason),
            "{user}"
        );
    }
    // channel_binding=require alone refuses them too, with its own texts.
    let bound_only = |user: &str, ssl: &str| {
        format!(
            "host=localhost port={} user={user} password={} dbname=postgres {ssl} \
             channel_binding=require",
            p.port(),
            p.password()
        )
    };
    assert_eq!(
        connect(driver, &bound_only(MD5_ROLE, &verified))
            .await
            .unwrap_err(),
        "channel binding required but not supported by server's authentication request\n"
    );
    assert_eq!(
        connect(driver, &bound_only(CERT_ROLE, &with_cert))
            .await
            .unwrap_err(),
        "channel binding required, but server authenticated client without channel binding\n"
    );
}

both_drivers!(client_certificate_authentication);
async fn client_certificate_authentication(driver: Driver) {
    let t = tls();
    let p = t.server.port();
    let ca = t.certs.ca().display().to_string();
    let client = t.certs.client(CERT_ROLE).unwrap();
    let base = format!(
        "host=127.0.0.1 port={p} user={CERT_ROLE} dbname=postgres sslmode=verify-ca \
         sslrootcert={ca}"
    );
    let mut conn = connect(
        driver,
        &format!(
            "{base} sslcert={} sslkey={}",
            client.cert.display(),
            client.key.display()
        ),
    )
    .await
    .unwrap();
    assert_eq!(ssl_in_use(&mut conn).await, "t");
    conn.close().await;
    // rexref: the same hba line without a client certificate.
    assert_eq!(
        connect(driver, &base).await.unwrap_err(),
        "FATAL:  connection requires a valid client certificate\n"
    );
    // A certificate for another user (rexref: certuser with a certificate for postgres).
    let server = t.certs.client("someone_else").unwrap();
    assert_eq!(
        connect(
            driver,
            &format!(
                "{base} sslcert={} sslkey={}",
                server.cert.display(),
                server.key.display()
            )
        )
        .await
        .unwrap_err(),
        format!("FATAL:  certificate authentication failed for user \"{CERT_ROLE}\"\n")
    );
}

both_drivers!(prefer_and_allow_retry_after_a_server_error);
async fn prefer_and_allow_retry_after_a_server_error(driver: Driver) {
    let t = tls();
    let p = t.server.port();
    let text = |encryption: &str| {
        format!(
            "FATAL:  pg_hba.conf rejects connection for host \"127.0.0.1\", user \
             \"{REJECT_ROLE}\", database \"postgres\", {encryption}\n"
        )
    };
    // rexref: user=bothreject sslmode=prefer / sslmode=allow
    assert_eq!(
        connect(
            driver,
            &format!("host=127.0.0.1 port={p} user={REJECT_ROLE} dbname=postgres sslmode=prefer")
        )
        .await
        .unwrap_err(),
        format!("{}{}", text("SSL encryption"), text("no encryption"))
    );
    assert_eq!(
        connect(
            driver,
            &format!("host=127.0.0.1 port={p} user={REJECT_ROLE} dbname=postgres sslmode=allow")
        )
        .await
        .unwrap_err(),
        format!("{}{}", text("no encryption"), text("SSL encryption"))
    );
    // rexref: a failed handshake replaces the buffer (libpq 13's printfPQExpBuffer).
    let other = t.certs.other_ca().unwrap().cert.display().to_string();
    assert_eq!(
        connect(
            driver,
            &format!(
                "host=127.0.0.1 port={p} user={REJECT_ROLE} dbname=postgres sslmode=allow \
             sslrootcert={other}"
            )
        )
        .await
        .unwrap_err(),
        "SSL error: certificate verify failed: unable to get local issuer certificate\n"
    );
    assert_eq!(
        connect(
            driver,
            &format!(
                "host=127.0.0.1 port={p} user={REJECT_ROLE} dbname=postgres sslmode=prefer \
             sslrootcert={other}"
            )
        )
        .await
        .unwrap_err(),
        // No plaintext retry after a failed verification (see above).
        "SSL error: certificate verify failed: unable to get local issuer certificate\n"
    );
}

// ---- sslsni and sslnegotiation ----

/// libpq's text when the server closes the connection after the handshake without
/// ending TLS first (rexref against a fake server that does so).
const TLS_EOF: &str = "SSL SYSCALL error: EOF detected\n";

/// A rustls server configuration with the test server certificate, offering `alpn`.
fn fake_server_config(certs: &TestCerts, alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let pair = certs.server();
    let chain = CertificateDer::pem_file_iter(&pair.cert)
        .expect("server certificate")
        .collect::<Result<Vec<_>, _>>()
        .expect("server certificate");
    let key = PrivateKeyDer::from_pem_file(&pair.key).expect("server key");
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("server certificate and key");
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// What a fake TLS server saw of one client.
#[derive(Debug)]
struct Hello {
    /// The first six bytes the client sent: the start of an SSLRequest, or a TLS record
    /// header and the handshake message type.
    first: [u8; 6],
    /// The Server Name Indication, if any.
    sni: Option<String>,
    /// The ALPN protocol agreed on.
    alpn: Option<Vec<u8>>,
}

/// A listener on 127.0.0.1 for a fake server on `support::background()`, never on the
/// test's own thread (a blocking connect there would starve it); and its port.
fn listen() -> (std::net::TcpListener, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    let port = listener.local_addr().expect("local address").port();
    (listener, port)
}

/// A fake server for one connection: with `direct`, the TLS handshake at once; else it
/// reads SSLRequest and answers `S` first. After the handshake it reads the startup packet
/// and hangs up, after ending TLS (close_notify) if `close_notify`.
async fn fake_tls_server(
    config: Arc<rustls::ServerConfig>,
    direct: bool,
    close_notify: bool,
) -> (u16, tokio::task::JoinHandle<Hello>) {
    // rustls's own blocking I/O, on a thread.
    let (listener, port) = listen();
    listener.set_nonblocking(false).expect("blocking accept");
    let server = support::background().spawn_blocking(move || {
        use std::io::{Read as _, Write as _};
        let (mut tcp, _) = listener.accept().expect("accept");
        let mut first = [0u8; 6];
        while tcp.peek(&mut first).expect("peek") < first.len() {}
        if !direct {
            let mut request = [0u8; 8];
            tcp.read_exact(&mut request).expect("SSLRequest");
            assert_eq!(request, [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
            tcp.write_all(b"S").expect("answer S");
        }
        let mut conn = rustls::ServerConnection::new(config).expect("a TLS server");
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).expect("TLS handshake");
        }
        let hello = Hello {
            first,
            sni: conn.server_name().map(str::to_owned),
            alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
        };
        let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
        // All of the startup packet, so that closing sends FIN, not RST.
        let mut len = [0u8; 4];
        tls.read_exact(&mut len).expect("startup packet length");
        let rest = usize::try_from(u32::from_be_bytes(len)).expect("length") - len.len();
        tls.read_exact(&mut vec![0; rest]).expect("startup packet");
        if close_notify {
            tls.conn.send_close_notify();
            tls.flush().expect("close_notify");
            tcp.shutdown(std::net::Shutdown::Write).expect("FIN");
        }
        hello
    });
    (port, server)
}

/// The first bytes of an SSLRequest: its length (8) and the start of its code.
const SSL_REQUEST_START: [u8; 6] = [0, 0, 0, 8, 0x04, 0xd2];

both_drivers!(sslsni_decides_the_server_name_indication);
async fn sslsni_decides_the_server_name_indication(driver: Driver) {
    let t = tls();
    let ca = t.certs.ca().display().to_string();
    for (sni, sent) in [
        ("", Some("localhost")),
        ("sslsni=1", Some("localhost")),
        ("sslsni=0", None),
    ] {
        let (port, server) = fake_tls_server(fake_server_config(&t.certs, &[]), false, false).await;
        let err = connect(
            driver,
            &format!(
                "host=localhost hostaddr=127.0.0.1 port={port} user=postgres dbname=postgres \
             sslmode=verify-full sslrootcert={ca} {sni}"
            ),
        )
        .await
        .unwrap_err();
        assert_eq!(err, TLS_EOF, "{sni}");
        let hello = server.await.unwrap();
        assert_eq!(hello.first, SSL_REQUEST_START, "{sni}");
        assert_eq!(hello.sni.as_deref(), sent, "{sni}");
    }
}

both_drivers!(sslsni_0_still_verifies_the_server);
async fn sslsni_0_still_verifies_the_server(driver: Driver) {
    let t = tls();
    let p = t.server.port();
    let ca = t.certs.ca().display().to_string();
    for mode in ["verify-ca", "verify-full"] {
        let mut conn = connect(
            driver,
            &format!(
                "host=localhost port={p} user=postgres password={} dbname=postgres sslmode={mode} \
             sslrootcert={ca} sslsni=0",
                t.server.password()
            ),
        )
        .await
        .unwrap_or_else(|e| panic!("{mode}: {e}"));
        assert_eq!(ssl_in_use(&mut conn).await, "t", "{mode}");
        conn.close().await;
    }
    // Without SNI the host name is still checked against the certificate.
    assert_eq!(
        connect(
            driver,
            &format!(
                "host=127.0.0.2 hostaddr=127.0.0.1 port={p} user=postgres dbname=postgres \
             sslmode=verify-full sslrootcert={ca} sslsni=0"
            )
        )
        .await
        .unwrap_err(),
        "server certificate for \"localhost\" (and 1 other name) does not match host name \
         \"127.0.0.2\"\n"
    );
}

both_drivers!(sslnegotiation_direct_starts_with_a_client_hello);
async fn sslnegotiation_direct_starts_with_a_client_hello(driver: Driver) {
    let t = tls();
    let ca = t.certs.ca().display().to_string();
    let config = fake_server_config(&t.certs, &[pgcluster::tls::ALPN_POSTGRESQL]);
    let (port, server) = fake_tls_server(config, true, false).await;
    let err = connect(
        driver,
        &format!(
            "host=localhost port={port} user=postgres dbname=postgres sslmode=verify-full \
         sslrootcert={ca} sslnegotiation=direct"
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(err, TLS_EOF);
    let hello = server.await.unwrap();
    // A TLS handshake record (22, version 3.1, two length bytes) holding a ClientHello (1):
    // no SSLRequest first.
    assert_eq!(
        (&hello.first[..3], hello.first[5]),
        (&[0x16, 0x03, 0x01][..], 1)
    );
    assert_eq!(hello.sni.as_deref(), Some("localhost"));
    assert_eq!(hello.alpn.as_deref(), Some(&b"postgresql"[..]));
}

both_drivers!(sslnegotiation_direct_against_the_server);
/// `sslnegotiation=direct` against the server at hand. From PostgreSQL 17: TLS from the
/// first byte (the fake-server test above shows that no SSLRequest goes first), verified,
/// with SCRAM-SHA-256-PLUS bound to it. Before 17 the server reads the ClientHello as a
/// startup packet of absurd length and hangs up, and the error says which version is needed.
async fn sslnegotiation_direct_against_the_server(driver: Driver) {
    let t = tls();
    let conninfo = format!(
        "host=localhost port={} user={SCRAM_ROLE} password={} dbname=postgres \
         sslrootcert={} sslnegotiation=direct sslmode=verify-full channel_binding=require",
        t.server.port(),
        t.server.password(),
        t.certs.ca().display()
    );
    if t.server.server_version_num().expect("version") < 170_000 {
        assert_eq!(
            connect(driver, &conninfo).await.unwrap_err(),
            "server does not support direct SSL negotiation (sslnegotiation=direct needs \
             PostgreSQL 17 or later)\n"
        );
        return;
    }
    let mut conn = connect(driver, &conninfo)
        .await
        .expect("direct TLS connects");
    assert_eq!(ssl_in_use(&mut conn).await, "t");
    conn.close().await;
}

// ---- The PGSSL* environment variables ----

/// Environment variables: (name, value).
type Vars<'a> = &'a [(&'a str, &'a str)];

/// `NO_HOME` as the home directory, and `vars`.
fn env_with(vars: Vars<'_>) -> Env {
    vars.iter()
        .fold(Env::empty().with_home(NO_HOME), |env, (k, v)| {
            env.with(k, v)
        })
}

both_drivers!(pgsslmode_and_pgsslrootcert);
/// Texts from `rexref libpq` with the same variables set (libpq 13.3 reads them from the
/// process environment; these tests pass them in an `Env`).
async fn pgsslmode_and_pgsslrootcert(driver: Driver) {
    let t = tls();
    let base = format!(
        "host=localhost port={} user=postgres password={} dbname=postgres",
        t.server.port(),
        t.server.password()
    );
    let ca = t.certs.ca().display().to_string();
    let other = t.certs.other_ca().unwrap().cert.display().to_string();
    // (variables, keywords, pg_stat_ssl.ssl)
    let cases: [(Vars<'_>, &str, &str); 5] = [
        (
            &[("PGSSLMODE", "verify-full"), ("PGSSLROOTCERT", &ca)],
            "",
            "t",
        ),
        (&[("PGSSLMODE", "disable"), ("PGSSLROOTCERT", &ca)], "", "f"),
        (&[("PGSSLMODE", "require")], "", "t"),
        // The keyword wins over the variable.
        (&[("PGSSLMODE", "disable")], "sslmode=require", "t"),
        (
            &[("PGSSLMODE", "verify-full"), ("PGSSLROOTCERT", &other)],
            "sslmode=disable",
            "f",
        ),
    ];
    for (vars, extra, ssl) in cases {
        let mut conn = connect_env(driver, &format!("{base} {extra}"), &env_with(vars))
            .await
            .unwrap_or_else(|e| panic!("{vars:?} {extra}: {e}"));
        assert_eq!(ssl_in_use(&mut conn).await, ssl, "{vars:?} {extra}");
        conn.close().await;
    }
    // rexref: PGSSLMODE=verify-ca PGSSLROOTCERT=<other CA>
    let untrusted = env_with(&[("PGSSLMODE", "verify-ca"), ("PGSSLROOTCERT", &other)]);
    assert_eq!(
        connect_env(driver, &base, &untrusted).await.unwrap_err(),
        "SSL error: certificate verify failed: unable to get local issuer certificate\n"
    );
    // ... unless the keyword names the right root file.
    let mut conn = connect_env(driver, &format!("{base} sslrootcert={ca}"), &untrusted)
        .await
        .unwrap();
    assert_eq!(ssl_in_use(&mut conn).await, "t");
    conn.close().await;
    // rexref: PGSSLMODE=verify-ca alone looks for ~/.postgresql/root.crt.
    assert_eq!(
        connect_env(driver, &base, &env_with(&[("PGSSLMODE", "verify-ca")]))
            .await
            .unwrap_err(),
        format!(
            "root certificate file \"{NO_HOME}/.postgresql/root.crt\" does not exist\n\
             Either provide the file or change sslmode to disable server certificate \
             verification.\n"
        )
    );
}

both_drivers!(pgsslcert_and_pgsslkey);
async fn pgsslcert_and_pgsslkey(driver: Driver) {
    let t = tls();
    let base = format!(
        "host=localhost port={} user={CERT_ROLE} dbname=postgres",
        t.server.port()
    );
    let ca = t.certs.ca().display().to_string();
    let client = t.certs.client(CERT_ROLE).unwrap();
    let (cert, key) = (
        client.cert.display().to_string(),
        client.key.display().to_string(),
    );
    let wrong_key = t.certs.server().key.display().to_string();
    let vars = |key: &str| {
        env_with(&[
            ("PGSSLMODE", "verify-full"),
            ("PGSSLROOTCERT", &ca),
            ("PGSSLCERT", &cert),
            ("PGSSLKEY", key),
        ])
    };
    // The `cert` line of pg_hba.conf admits the role only with its certificate.
    let mut conn = connect_env(driver, &base, &vars(&key)).await.unwrap();
    assert_eq!(ssl_in_use(&mut conn).await, "t");
    conn.close().await;
    // rexref: PGSSLKEY names the server's key.
    let mismatch =
        format!("could not load private key file \"{wrong_key}\": key values mismatch\n");
    assert_eq!(
        connect_env(driver, &base, &vars(&wrong_key))
            .await
            .unwrap_err(),
        mismatch
    );
    // The keyword wins over the variable, both ways.
    let mut conn = connect_env(driver, &format!("{base} sslkey={key}"), &vars(&wrong_key))
        .await
        .unwrap();
    conn.close().await;
    assert_eq!(
        connect_env(driver, &format!("{base} sslkey={wrong_key}"), &vars(&key))
            .await
            .unwrap_err(),
        mismatch
    );
    // Without PGSSLCERT the role is refused (rexref: the same hba line, no certificate).
    let no_cert = env_with(&[("PGSSLMODE", "verify-full"), ("PGSSLROOTCERT", &ca)]);
    assert_eq!(
        connect_env(driver, &base, &no_cert).await.unwrap_err(),
        "FATAL:  connection requires a valid client certificate\n"
    );
}

both_drivers!(pgsslsni_and_pgsslnegotiation);
async fn pgsslsni_and_pgsslnegotiation(driver: Driver) {
    let t = tls();
    let ca = t.certs.ca().display().to_string();
    // The fake servers never get as far as the password.
    let pw = t.server.password();
    let conninfo = |port: u16, extra: &str| {
        format!("host=localhost port={port} user=postgres password={pw} dbname=postgres {extra}")
    };
    let no_sni = env_with(&[
        ("PGSSLSNI", "0"),
        ("PGSSLMODE", "verify-full"),
        ("PGSSLROOTCERT", &ca),
    ]);
    for (extra, sent) in [("", None), ("sslsni=1", Some("localhost"))] {
        let (port, server) = fake_tls_server(fake_server_config(&t.certs, &[]), false, false).await;
        assert_eq!(
            connect_env(driver, &conninfo(port, extra), &no_sni)
                .await
                .unwrap_err(),
            TLS_EOF
        );
        assert_eq!(server.await.unwrap().sni.as_deref(), sent, "{extra}");
    }
    // PostgreSQL 15 with PGSSLSNI=0: still verified.
    let mut conn = connect_env(driver, &conninfo(t.server.port(), ""), &no_sni)
        .await
        .unwrap();
    assert_eq!(ssl_in_use(&mut conn).await, "t");
    conn.close().await;
    // PGSSLNEGOTIATION=direct: a ClientHello first; the keyword switches it back.
    let direct = env_with(&[
        ("PGSSLNEGOTIATION", "direct"),
        ("PGSSLMODE", "verify-full"),
        ("PGSSLROOTCERT", &ca),
    ]);
    for (extra, first) in [("", 0x16), ("sslnegotiation=postgres", 0)] {
        let config = fake_server_config(&t.certs, &[pgcluster::tls::ALPN_POSTGRESQL]);
        let (port, server) = fake_tls_server(config, first == 0x16, false).await;
        assert_eq!(
            connect_env(driver, &conninfo(port, extra), &direct)
                .await
                .unwrap_err(),
            TLS_EOF
        );
        assert_eq!(server.await.unwrap().first[0], first, "{extra}");
    }
}

// ---- TLS alerts from the server ----

both_drivers!(refused_client_certificates_read_as_openssl_alerts);
/// The server refuses a client certificate it cannot verify with a fatal alert: in the
/// handshake with TLS 1.2, and with TLS 1.3 after it, on the first read. rexref (libpq 13.3
/// with OpenSSL 1.1.1) prints the same text for both, with the same files. (With TLS 1.3,
/// libpq 13 now and then adds `could not send startup packet: Connection reset by peer`,
/// when the alert beats its startup packet; pgcluster's write does not fail there.)
async fn refused_client_certificates_read_as_openssl_alerts(driver: Driver) {
    let t = tls();
    let other_ca = t.certs.other_ca().unwrap();
    let server = t.certs.server();
    let cases = [
        // A certificate from a CA the server does not trust (self-signed here).
        (
            &other_ca.cert,
            &other_ca.key,
            "SSL error: tlsv1 alert unknown ca\n",
        ),
        // A certificate from the trusted CA, but for servers only (extendedKeyUsage).
        (
            &server.cert,
            &server.key,
            "SSL error: sslv3 alert unsupported certificate\n",
        ),
    ];
    for max in ["", "ssl_max_protocol_version=TLSv1.2"] {
        for (cert, key, text) in cases {
            assert_eq!(
                connect(
                    driver,
                    &format!(
                        "host=localhost port={} user={CERT_ROLE} dbname=postgres sslmode=require \
                     sslcert={} sslkey={} {max}",
                        t.server.port(),
                        cert.display(),
                        key.display()
                    )
                )
                .await
                .unwrap_err(),
                text,
                "{} {max}",
                cert.display()
            );
        }
    }
}

both_drivers!(no_common_tls_version);
/// rexref against a server with `ssl_min_protocol_version = 'TLSv1.3'` and the client's
/// `ssl_max_protocol_version=TLSv1.2`: OpenSSL's protocol_version alert, and libpq's hint
/// with the client's range.
async fn no_common_tls_version(driver: Driver) {
    let certs = TestCerts::generate().unwrap();
    let server = TestServer::builder()
        .tls(&certs)
        .conf_line("ssl_min_protocol_version = 'TLSv1.3'")
        .start()
        .unwrap();
    assert_eq!(
        connect(
            driver,
            &format!(
                "host=localhost port={} user=postgres dbname=postgres sslmode=require \
             ssl_max_protocol_version=TLSv1.2",
                server.port()
            )
        )
        .await
        .unwrap_err(),
        "SSL error: tlsv1 alert protocol version\nThis may indicate that the server does not \
         support any SSL protocol version between TLSv1.2 and TLSv1.2.\n"
    );
}

/// A fake server that answers SSLRequest with `S`, reads the ClientHello, sends a fatal
/// alert in the clear, and waits for the client to hang up.
async fn alerting_server(alert: u8) -> (u16, tokio::task::JoinHandle<()>) {
    let (listener, port) = listen();
    let server = support::background().spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        let (mut tcp, _) = listener.accept().await.expect("accept");
        let mut request = [0u8; 8];
        tcp.read_exact(&mut request).await.expect("SSLRequest");
        tcp.write_all(b"S").await.expect("answer S");
        let mut hello = vec![0u8; 4096];
        let n = tcp.read(&mut hello).await.expect("ClientHello");
        assert_eq!(hello.get(..1), Some(&[0x16][..]), "{n} bytes");
        // An alert record: type 21, version 3.3, length 2, level fatal (2), the alert.
        tcp.write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, alert])
            .await
            .expect("alert");
        while tcp.read(&mut hello).await.is_ok_and(|n| n > 0) {}
    });
    (port, server)
}

both_drivers!(alerts_from_a_fake_server);
/// Alerts PostgreSQL does not send but another TLS server might. Each text is what rexref
/// printed when a fake server sent the same bytes (OpenSSL has no text for
/// no_application_protocol, 120: libpq shows its error code).
async fn alerts_from_a_fake_server(driver: Driver) {
    for (alert, text) in [
        (116, "SSL error: tlsv13 alert certificate required\n"),
        (40, "SSL error: sslv3 alert handshake failure\n"),
        (120, "SSL error: SSL error code 336151648\n"),
        (
            70,
            "SSL error: tlsv1 alert protocol version\nThis may indicate that the server does \
             not support any SSL protocol version between TLSv1.2 and TLSv1.3.\n",
        ),
    ] {
        let (port, server) = alerting_server(alert).await;
        assert_eq!(
            connect(
                driver,
                &format!("host=127.0.0.1 port={port} user=x dbname=x sslmode=require")
            )
            .await
            .unwrap_err(),
            text,
            "{alert}"
        );
        server.await.unwrap();
    }
}

both_drivers!(close_notify_while_waiting);
/// rexref: a fake server that ends TLS (close_notify) after the handshake.
async fn close_notify_while_waiting(driver: Driver) {
    let t = tls();
    let (port, server) = fake_tls_server(fake_server_config(&t.certs, &[]), false, true).await;
    assert_eq!(
        connect(
            driver,
            &format!("host=localhost port={port} user=postgres dbname=postgres sslmode=require")
        )
        .await
        .unwrap_err(),
        "SSL connection has been closed unexpectedly\n"
    );
    server.await.unwrap();
}

both_drivers!(terminated_backend_over_tls_and_over_tcp);
/// rexref exec (libpq 13.3) against the same server: a backend that ends over TLS sends
/// close_notify after its FATAL, which libpq reports in TLS's words; over plain TCP the
/// same termination is the server closing the connection.
async fn terminated_backend_over_tls_and_over_tcp(driver: Driver) {
    let t = tls();
    let conninfo = |mode: &str| {
        format!(
            "host=localhost port={} user=postgres password={} dbname=postgres sslmode={mode}",
            t.server.port(),
            t.server.password()
        )
    };
    let fatal = "FATAL:  terminating connection due to administrator command\n";
    for (mode, end) in [
        ("require", "SSL connection has been closed unexpectedly\n"),
        (
            "disable",
            "server closed the connection unexpectedly\n\tThis probably means the server \
             terminated abnormally\n\tbefore or while processing the request.\n",
        ),
    ] {
        let mut conn = connect(driver, &conninfo(mode)).await.expect("connects");
        match conn
            .simple_query("SELECT pg_terminate_backend(pg_backend_pid())")
            .await
        {
            Err(pgcluster::error::Error::Query(e)) => {
                assert_eq!(e.message, format!("{fatal}{end}"), "sslmode={mode}");
                assert!(e.connection_lost);
            }
            other => panic!("sslmode={mode}: {other:?}"),
        }
    }
}

// ---- a root file in use: verified TLS, never plaintext ----

both_drivers!(self_signed_root_file_with_prefer_is_verified_tls);
/// The advisory class "silent plaintext": a server with the PostgreSQL documentation's
/// self-signed certificate (`openssl req -x509`, `CA:TRUE`), and that certificate in
/// `~/.postgresql/root.crt`. With the default `sslmode=prefer`, psql (OpenSSL) connects
/// with verified TLS; so must pgcluster, and `verify-ca`/`verify-full` (by name and by IP
/// address) too. With a root file the server fails, `prefer` is refused with OpenSSL's
/// reason, never retried in the clear, though the server takes plaintext connections.
async fn self_signed_root_file_with_prefer_is_verified_tls(driver: Driver) {
    let certs = TestCerts::generate().unwrap();
    let own = certs.self_signed_server(KeyKind::EcdsaP256).unwrap();
    let server = TestServer::builder()
        .tls_files(&own, &own.cert)
        .start()
        .unwrap();
    let home = certs.dir().join(format!("home-{driver:?}"));
    std::fs::create_dir_all(home.join(".postgresql")).unwrap();
    let root = home.join(pgcluster::tls::ROOT_CERT_FILE);
    std::fs::copy(&own.cert, &root).unwrap();
    let env = Env::empty().with_home(home.to_str().unwrap());
    let conninfo = |host: &str, extra: &str| {
        format!(
            "host={host} port={} user=postgres password={} dbname=postgres {extra}",
            server.port(),
            server.password()
        )
    };
    for (host, extra) in [
        ("localhost", ""),
        ("localhost", "sslmode=verify-ca"),
        ("localhost", "sslmode=verify-full"),
        ("127.0.0.1", "sslmode=verify-full"),
    ] {
        let mut conn = connect_env(driver, &conninfo(host, extra), &env)
            .await
            .unwrap_or_else(|e| panic!("{host} {extra}: {e}"));
        assert_eq!(ssl_in_use(&mut conn).await, "t", "{host} {extra}");
        conn.close().await;
    }
    // The server takes plaintext: sslmode=disable connects in the clear.
    let mut conn = connect_env(driver, &conninfo("localhost", "sslmode=disable"), &env)
        .await
        .unwrap();
    assert_eq!(ssl_in_use(&mut conn).await, "f");
    conn.close().await;
    // A root file the server's certificate is not in: refused, and not in the clear.
    std::fs::copy(certs.ca(), &root).unwrap();
    assert_eq!(
        connect_env(driver, &conninfo("localhost", ""), &env)
            .await
            .unwrap_err(),
        "SSL error: certificate verify failed: self-signed certificate\n"
    );
}

both_drivers!(ed25519_and_rsa_pss_server_certificates);
/// The advisory class "channel binding downgraded" (pgjdbc CVE-2026-54291): a server
/// certificate signed with Ed25519 has no `tls-server-end-point` hash. Roles that need no
/// binding (md5, password, SCRAM with `channel_binding=disable`) still connect over
/// verified TLS; SCRAM-SHA-256-PLUS, chosen with `channel_binding=require` (or `prefer`),
/// stops with libpq's text, never an unbound exchange. An RSASSA-PSS server key, which
/// WebPKI does not take and psql does: the handshake works (verified), and its binding
/// hash is the PSS parameters' SHA-256: `channel_binding=require` succeeds only if the
/// server, which computes it with OpenSSL, got the same.
async fn ed25519_and_rsa_pss_server_certificates(driver: Driver) {
    let certs = TestCerts::generate().unwrap();
    for kind in [KeyKind::Ed25519, KeyKind::RsaPss] {
        let own = certs.self_signed_server(kind).unwrap();
        let server = TestServer::builder()
            .tls_files(&own, &own.cert)
            .start()
            .unwrap();
        let root = own.cert.display().to_string();
        let conninfo = |user: &str, extra: &str| {
            format!(
                "host=localhost port={} user={user} password={} dbname=postgres \
                 sslmode=verify-full sslrootcert={root} {extra}",
                server.port(),
                server.password()
            )
        };
        for (user, extra) in [
            (MD5_ROLE, ""),
            (PASSWORD_ROLE, ""),
            (SCRAM_ROLE, "channel_binding=disable"),
        ] {
            let mut conn = connect(driver, &conninfo(user, extra))
                .await
                .unwrap_or_else(|e| panic!("{kind:?} {user} {extra}: {e}"));
            assert_eq!(ssl_in_use(&mut conn).await, "t", "{kind:?} {user}");
            conn.close().await;
        }
        let bound = connect(driver, &conninfo(SCRAM_ROLE, "channel_binding=require")).await;
        match kind {
            KeyKind::Ed25519 => {
                assert_eq!(bound.unwrap_err(), "could not find digest for NID UNDEF\n");
                assert_eq!(
                    connect(driver, &conninfo(SCRAM_ROLE, "channel_binding=prefer"))
                        .await
                        .unwrap_err(),
                    "could not find digest for NID UNDEF\n"
                );
            }
            _ => {
                let mut conn = bound.unwrap_or_else(|e| panic!("{kind:?}: {e}"));
                assert_eq!(ssl_in_use(&mut conn).await, "t");
                conn.close().await;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Cancel over TLS (issue 17, libpq 17's `PQcancelCreate`): a connection that is encrypted
// sends its CancelRequest encrypted too, with the same SSLRequest (or direct TLS),
// settings and server name, so the backend's secret key never crosses the wire in the
// clear. Through a relay that keeps what each client sent: the statement is cancelled, and
// no connection's bytes hold the plaintext CancelRequest. The same relay sees it in the
// clear when the connection is not encrypted, so the check can fail.

use std::time::{Duration, Instant};

use support::{Relay, RelayOptions};

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
                    connecting::connect_with(driver, &connecting::resolve(&conninfo), &conninfo)
                        .await;
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
