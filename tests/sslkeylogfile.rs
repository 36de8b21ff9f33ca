//! `sslkeylogfile` (libpq 18) against a real TLS server: the connection's TLS secrets are
//! appended to the file, one NSS key log line each; a file that cannot be opened does not
//! fail the connection.
//!
//! Reference: libpq 18.6's `psql` with `sslmode=require sslkeylogfile=<file>` against a
//! TLS 1.3 server wrote five lines, `SERVER_HANDSHAKE_TRAFFIC_SECRET`, `EXPORTER_SECRET`,
//! `SERVER_TRAFFIC_SECRET_0`, `CLIENT_HANDSHAKE_TRAFFIC_SECRET`, `CLIENT_TRAFFIC_SECRET_0`,
//! each `<label> <client random, 64 hex digits> <secret, 96 hex digits>`, to a file it
//! created with mode 0600; with a file in a missing directory it connected and printed
//! `WARNING: could not open SSL key logging file "<file>": No such file or directory` once
//! per line on stderr. `PGSSLKEYLOGFILE` was ignored: libpq 18 has no such variable.
#![cfg(all(feature = "testing", feature = "tls"))]

mod connecting;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;

use connecting::{connect_with, on_each_driver, resolve, resolve_env};
use pgcluster::conninfo::Env;
use pgcluster::testing::{TestCerts, TestServer};

#[test]
fn tls_secrets_go_to_the_key_log_file() {
    let certs = TestCerts::generate().expect("certificates");
    let server = TestServer::builder()
        .tls(&certs)
        .start()
        .expect("a TLS server starts");
    let dir = certs.dir().join("keylog");
    std::fs::create_dir_all(&dir).unwrap();
    let base = format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres password={} sslmode=require",
        server.port(),
        server.password()
    );
    on_each_driver(|driver| {
        let (base, dir) = (&base, &dir);
        async move {
            let file = dir.join(format!("{driver:?}.log"));
            let conninfo = format!("{base} sslkeylogfile={}", file.display());
            for _ in 0..2 {
                let mut conn = connect_with(driver, &resolve(&conninfo), &conninfo).await;
                conn.close().await;
            }
            let text = std::fs::read_to_string(&file).expect("the key log was written");
            let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
            // Two connections, five TLS 1.3 secrets each.
            assert_eq!(lines.len(), 10, "{text}");
            let labels: BTreeSet<&str> = lines.iter().map(|l| l[0]).collect();
            assert_eq!(
                labels,
                BTreeSet::from([
                    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                    "CLIENT_TRAFFIC_SECRET_0",
                    "EXPORTER_SECRET",
                    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                    "SERVER_TRAFFIC_SECRET_0",
                ])
            );
            let hex = |s: &str, len: usize| {
                s.len() == len
                    && s.bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            };
            for line in &lines {
                assert_eq!(line.len(), 3, "{line:?}");
                // The secret is as long as the cipher suite's hash (SHA-256 or SHA-384).
                assert!(
                    hex(line[1], 64) && (hex(line[2], 64) || hex(line[2], 96)),
                    "{line:?}"
                );
            }
            // One client random per connection.
            let randoms: BTreeSet<&str> = lines.iter().map(|l| l[1]).collect();
            assert_eq!(randoms.len(), 2);
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);

            // A file that cannot be opened: connected all the same.
            let conninfo = format!("{base} sslkeylogfile=/nonexistent/pgc-keylog/keys.log");
            let mut conn = connect_with(driver, &resolve(&conninfo), &conninfo).await;
            conn.close().await;
            // No keyword, no file: PGSSLKEYLOGFILE means nothing.
            let unused = dir.join(format!("{driver:?}-env.log"));
            let env = Env::empty().with("PGSSLKEYLOGFILE", unused.to_str().unwrap());
            let mut conn = connect_with(driver, &resolve_env(base, &env), base).await;
            conn.close().await;
            assert!(!unused.exists());
        }
    });
}
