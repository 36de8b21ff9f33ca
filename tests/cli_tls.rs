//! The `pgcluster` program over TLS, as the examples run it: `--db
//! 'postgres://…?sslmode=verify-full&sslrootcert=ca.pem' connect` against a real ssl = on
//! PostgreSQL server with certificates made at test time, and the failures a user meets
//! first (wrong host name, untrusted root, a server without TLS).
//!
//! Each expected text was printed by `python3 /work/shared/tools/rexref libpq '<the same
//! setting as key=value>'` (libpq 13.3) against servers set up as these are, with the same
//! environment (only a `HOME`, and `PGPASSWORD`: these servers trust nobody over TCP); only
//! ports and paths differ. rex's own URI reading hands
//! libpq no query parameters, so `rexref connect` cannot take these settings.
#![cfg(all(feature = "testing", feature = "cli", feature = "tls"))]

use std::path::Path;
use std::process::Command;

use pgcluster::testing::{TestCerts, TestServer};

/// `connect` with `--db uri`, in an environment of only a `HOME` without `~/.postgresql`
/// and `PGPASSWORD` (the TLS server's password): exit status, stdout, stderr.
fn connect(uri: &str, home: &Path, password: &str) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pgcluster"))
        .env_clear()
        .env("HOME", home)
        .env("PGPASSWORD", password)
        .env("PGSYSCONFDIR", home.join("no-sysconf"))
        .args(["--db", uri, "connect"])
        .output()
        .expect("pgcluster runs");
    let text = |b: Vec<u8>| String::from_utf8(b).expect("utf-8 output");
    (
        out.status.code().expect("exit status"),
        text(out.stdout),
        text(out.stderr),
    )
}

/// rex's layout of a connect failure (one line of libpq text here).
fn failed(libpq: &str) -> (i32, String, String) {
    (
        1,
        String::new(),
        format!("Error: Failed to connect to the database server:\n    {libpq}\n"),
    )
}

#[test]
fn connect_over_tls_as_libpq_13_does() {
    let certs = TestCerts::generate().expect("openssl makes the certificates");
    let ssl_on = TestServer::builder()
        .tls(&certs)
        .start()
        .expect("a TLS server starts");
    let ssl_off = TestServer::new().expect("a plain server starts");
    let home = certs.dir().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let ca = certs.ca().display().to_string();
    let other = certs.other_ca().unwrap().cert.display().to_string();
    let (on, pw) = (ssl_on.port(), ssl_on.password());

    // verify-full with the CA that signed the server's certificate (for `localhost` and
    // `127.0.0.1`): connected (verify-full never falls back to a plain connection).
    let (status, stdout, stderr) = connect(
        &format!(
            "postgres://postgres@localhost:{on}/postgres?sslmode=verify-full&sslrootcert={ca}"
        ),
        &home,
        pw,
    );
    assert_eq!((status, stderr.as_str()), (0, ""));
    let dsn =
        format!("; dsn: 'host=localhost port={on} user=postgres dbname=postgres', closed: 0>\n");
    assert!(
        stdout.starts_with("<connection object at 0x") && stdout.ends_with(&dsn),
        "{stdout}"
    );

    // A host name the certificate does not name, at the server's address. libpq 14+ counts
    // the certificate's IP address as another name.
    assert_eq!(
        connect(
            &format!(
                "postgres://postgres@wrong.example:{on}/postgres?sslmode=verify-full\
                 &sslrootcert={ca}&hostaddr=127.0.0.1"
            ),
            &home,
            pw,
        ),
        failed(
            "server certificate for \"localhost\" (and 1 other name) does not match host name \
             \"wrong.example\""
        )
    );

    // A root file that did not sign the server's certificate.
    assert_eq!(
        connect(
            &format!(
                "postgres://postgres@localhost:{on}/postgres?sslmode=verify-ca&sslrootcert={other}"
            ),
            &home,
            pw,
        ),
        failed("SSL error: certificate verify failed: unable to get local issuer certificate")
    );

    // TLS required by a server without it.
    assert_eq!(
        connect(
            &format!(
                "postgres://postgres@127.0.0.1:{}/postgres?sslmode=require",
                ssl_off.port()
            ),
            &home,
            pw,
        ),
        failed("server does not support SSL, but SSL was required")
    );
}
