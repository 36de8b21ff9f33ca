//! The `pgcluster` program with libpq settings: URIs, `key=value` strings, multi-host lists,
//! `PGPASSFILE` and `PGSERVICEFILE`. A failed connection prints
//! `Error: Failed to connect to the database server:` and libpq's text laid out as rex does
//! (messages.md §2.1: every non-empty line indented by four spaces, no final newline).
//!
//! Each expected libpq text was printed by `python3 /work/shared/tools/rexref libpq '<same
//! setting>'` (libpq 13.3) with the same environment, or by `rexref connect URI` for
//! `pgsql://` settings (rex hands libpq only host, port, user, password and database). For
//! the password-file cases the server was a PostgreSQL 15 set up as `TestServer` is (port
//! 47124 there); only ports and paths differ. The programs run with a cleared environment.
#![cfg(all(feature = "testing", feature = "cli"))]

#[path = "support/cli.rs"]
mod cli;
mod fake_server;

#[path = "support/scratch.rs"]
mod scratch;

use std::process::Command;

use fake_server::{closed_port, refused};
use pgcluster::testing::{TestServer, PASSWORD_ROLE};
use scratch::Scratch;

const PREFIX: &str = "Error: Failed to connect to the database server:\n";

/// The CLI with only `vars` in its environment (and no system service file).
fn pgcluster(db: &str, args: &[&str], vars: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgcluster"));
    cmd.env_clear()
        .env("PGSYSCONFDIR", "/nonexistent/h9-sysconf")
        .arg("--db")
        .arg(db)
        .args(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cli::output(&mut cmd)
}

/// rex's layout of a connect failure: the prefix, then libpq's text with each non-empty
/// line indented by four spaces, without the final newline; then the program's newline.
fn laid_out(libpq: &str) -> String {
    let body: Vec<String> = libpq
        .trim_end_matches('\n')
        .split('\n')
        .map(|line| {
            if line.is_empty() {
                String::new()
            } else {
                format!("    {line}")
            }
        })
        .collect();
    format!("{PREFIX}{}\n", body.join("\n"))
}

/// Runs `connect` and checks it fails with exactly `libpq`'s text.
fn assert_connect_fails(db: &str, vars: &[(&str, &str)], libpq: &str) {
    let (status, stdout, stderr) = pgcluster(db, &["connect"], vars);
    assert_eq!((status, stdout.as_str()), (1, ""), "{db}: {stderr}");
    assert_eq!(stderr, laid_out(libpq), "{db}");
}

#[test]
fn missing_socket_directory_in_a_uri() {
    // rexref libpq 'postgres:///x?host=/nonexistent'
    let (status, stdout, stderr) = pgcluster("postgres:///x?host=/nonexistent", &["connect"], &[]);
    assert_eq!((status, stdout.as_str()), (1, ""));
    assert_eq!(
        stderr,
        "Error: Failed to connect to the database server:\n    could not connect to server: No such file or directory\n    \tIs the server running locally and accepting\n    \tconnections on Unix domain socket \"/nonexistent/.s.PGSQL.5432\"?\n"
    );
    // The same through every verb that connects (they open `postgres` first).
    let libpq = "could not connect to server: No such file or directory\n\tIs the server running locally and accepting\n\tconnections on Unix domain socket \"/nonexistent/.s.PGSQL.5432\"?\n";
    for args in [
        &["exists"][..],
        &["create"],
        &["drop"],
        &["list"],
        &["rename", "y"],
    ] {
        let (status, stdout, stderr) = pgcluster("postgresql:///x?host=/nonexistent", args, &[]);
        assert_eq!((status, stdout.as_str()), (1, ""), "{args:?}");
        assert_eq!(stderr, laid_out(libpq), "{args:?}");
    }
    // rex's own form: `rexref connect pgsql://:2345/postgres`, the default socket directory.
    assert_connect_fails(
        "pgsql://:2345/postgres",
        &[],
        "could not connect to server: No such file or directory\n\tIs the server running locally and accepting\n\tconnections on Unix domain socket \"/var/run/postgresql/.s.PGSQL.2345\"?\n",
    );
}

#[test]
fn multi_host_settings_print_every_host() {
    let (p1, p2) = (closed_port(), closed_port());
    let both = format!("{}{}", refused(&p1.to_string()), refused(&p2.to_string()));
    for db in [
        format!("postgresql://127.0.0.1:{p1},127.0.0.1:{p2}/x"),
        format!("host=127.0.0.1,127.0.0.1 port={p1},{p2} dbname=x"),
        format!("postgres:///x?host=127.0.0.1,127.0.0.1&port={p1},{p2}"),
    ] {
        assert_connect_fails(&db, &[], &both);
    }
    // rexref libpq 'host=127.0.0.1,127.0.0.1 port=70000,P dbname=x'
    assert_connect_fails(
        &format!("host=127.0.0.1,127.0.0.1 port=70000,{p1} dbname=x"),
        &[],
        &format!(
            "invalid port number: \"70000\"\n{}",
            refused(&p1.to_string())
        ),
    );
    // rexref libpq 'postgresql:///x?keepalives=x&host=127.0.0.1,127.0.0.1'
    assert_connect_fails(
        "postgresql:///x?keepalives=x&host=127.0.0.1,127.0.0.1",
        &[],
        "keepalives parameter must be an integer\nkeepalives parameter must be an integer\n",
    );
    // Parse errors of libpq settings are connect failures too (libpq reports them there).
    assert_connect_fails(
        "host=a,b port=1,2,3",
        &[],
        "could not match 3 port numbers to 2 hosts\n",
    );
    assert_connect_fails("foo=bar", &[], "invalid connection option \"foo\"\n");
}

#[test]
fn service_files() {
    let dir = Scratch::new("services");
    let (p1, p2) = (closed_port(), closed_port());
    let services = dir.file_with_mode(
        "services",
        format!(
            "# test services\n[refused]\nhost=127.0.0.1,127.0.0.1\nport={p1},{p2}\ndbname=x\n\n[nosock]\nhost=/nonexistent\nport=2345\n"
        ),
        0o644,
    );
    let vars = [("PGSERVICEFILE", services.as_str())];
    let nosock = "could not connect to server: No such file or directory\n\tIs the server running locally and accepting\n\tconnections on Unix domain socket \"/nonexistent/.s.PGSQL.2345\"?\n";
    assert_connect_fails(
        "service=refused",
        &vars,
        &format!("{}{}", refused(&p1.to_string()), refused(&p2.to_string())),
    );
    assert_connect_fails("postgresql:///?service=nosock", &vars, nosock);
    // PGSERVICE applies to rex settings too (`rexref connect pgsql:///y`).
    let with_env = [
        ("PGSERVICEFILE", services.as_str()),
        ("PGSERVICE", "nosock"),
    ];
    assert_connect_fails("pgsql:///y", &with_env, nosock);
    assert_connect_fails("dbname=y", &with_env, nosock);
    assert_connect_fails(
        "service=missing",
        &vars,
        "definition of service \"missing\" not found\n",
    );
    let bad = dir.file_with_mode("bad", "[bad]\nhost\n", 0o644);
    assert_connect_fails(
        "service=bad",
        &[("PGSERVICEFILE", bad.as_str())],
        &format!("syntax error in service file \"{bad}\", line 2\n"),
    );
    let nested = dir.file_with_mode("nested", "[n]\nservice=other\n", 0o644);
    assert_connect_fails(
        "service=n",
        &[("PGSERVICEFILE", nested.as_str())],
        &format!(
            "nested service specifications not supported in service file \"{nested}\", line 2\n"
        ),
    );
    let missing = dir.path().join("nofile").display().to_string();
    assert_connect_fails(
        "service=x",
        &[("PGSERVICEFILE", missing.as_str())],
        &format!("service file \"{missing}\" not found\n"),
    );
}

#[test]
fn password_files() {
    let server = TestServer::shared().expect("test server");
    let (port, password) = (server.port(), server.password());
    let dir = Scratch::new("pgpass");
    let wrong = dir.file_with_mode(
        "wrong",
        format!("127.0.0.1:{port}:*:{PASSWORD_ROLE}:wrong\n"),
        0o600,
    );
    let fatal = format!(
        "FATAL:  password authentication failed for user \"{PASSWORD_ROLE}\"\npassword retrieved from file \"{wrong}\"\n"
    );
    let vars = [("PGPASSFILE", wrong.as_str())];
    // `rexref connect pgsql://pgcluster_password@127.0.0.1:P/postgres` with PGPASSFILE.
    assert_connect_fails(
        &format!("pgsql://{PASSWORD_ROLE}@127.0.0.1:{port}/postgres"),
        &vars,
        &fatal,
    );
    // After an earlier host's text (rexref libpq 'host=127.0.0.1,127.0.0.1 port=C,P ...').
    let closed = closed_port();
    assert_connect_fails(
        &format!(
            "host=127.0.0.1,127.0.0.1 port={closed},{port} user={PASSWORD_ROLE} dbname=postgres"
        ),
        &vars,
        &format!("{}{fatal}", refused(&closed.to_string())),
    );

    // Group- or world-readable: ignored. libpq warns on stderr; the error is libpq's.
    let open = dir.file_with_mode(
        "open",
        format!("127.0.0.1:{port}:*:{PASSWORD_ROLE}:{password}\n"),
        0o644,
    );
    let (status, stdout, stderr) = pgcluster(
        &format!("pgsql://{PASSWORD_ROLE}@127.0.0.1:{port}/postgres"),
        &["connect"],
        &[("PGPASSFILE", open.as_str())],
    );
    assert_eq!((status, stdout.as_str()), (1, ""));
    let warning = format!(
        "WARNING: password file \"{open}\" has group or world access; permissions should be u=rw (0600) or less\n"
    );
    assert_eq!(
        stderr,
        format!(
            "{warning}{}",
            laid_out("fe_sendauth: no password supplied\n")
        )
    );

    // The right password from the file: connected, and the dsn shows no password.
    let right = dir.file_with_mode(
        "right",
        format!("127.0.0.1:{port}:*:{PASSWORD_ROLE}:{password}\n"),
        0o600,
    );
    let (status, stdout, stderr) = pgcluster(
        &format!("pgsql://{PASSWORD_ROLE}@127.0.0.1:{port}/postgres"),
        &["connect"],
        &[("PGPASSFILE", right.as_str())],
    );
    assert_eq!((status, stderr.as_str()), (0, ""));
    let dsn = format!(
        "dsn: 'host=127.0.0.1 port={port} user={PASSWORD_ROLE} dbname=postgres', closed: 0>\n"
    );
    assert!(
        stdout.starts_with("<connection object at 0x") && stdout.ends_with(&dsn),
        "{stdout}"
    );
}

#[test]
fn every_postgresql_form_is_a_cluster() {
    // rex took only `pgsql`: `rexref get postgres:///x` says "Expected a PostgreSQL
    // database"; pgcluster accepts libpq's forms and shows them as given, the password hidden.
    let rows = [
        ("pgsql:///x", "Cluster('pgsql:///x')\n"),
        ("pgsql:x", "Cluster('pgsql:///x')\n"),
        ("postgres:///x", "Cluster('postgres:///x')\n"),
        (
            "postgresql://u:secret@h:5/x?application_name=a",
            "Cluster('postgresql://u:xxx@h:5/x?application_name=a')\n",
        ),
        (
            "host=h port=5 dbname=x password=secret",
            "Cluster('host=h port=5 dbname=x password=xxx')\n",
        ),
    ];
    for (db, shown) in rows {
        let (status, stdout, stderr) = pgcluster(db, &["cluster"], &[]);
        assert_eq!(
            (status, stdout.as_str(), stderr.as_str()),
            (0, shown, ""),
            "{db}"
        );
    }
    // Anything else is refused as rex refuses it (`rexref get mysql:///x`).
    let (status, stdout, stderr) = pgcluster("mysql:///x", &["cluster"], &[]);
    assert_eq!(
        (status, stdout.as_str(), stderr.as_str()),
        (
            1,
            "",
            "Error: Expected a PostgreSQL database; got:\n    mysql:///x\n"
        )
    );
}
