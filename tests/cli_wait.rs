//! `pgcluster wait`: pg_isready's answers and exit statuses, through the program, against
//! a real server (accepting, up but refusing a login, appearing while it waits), a closed
//! port (no response), and a scripted server for "the database system is starting up"
//! (57P03), which a real server says only for an instant.
#![cfg(all(feature = "testing", feature = "cli"))]

#[path = "support/cli.rs"]
mod cli;
mod support;

use std::io;
use std::net::{TcpListener, TcpStream};
use std::thread;

use cli::{command, run, server};
use support::threaded::closed_port;
use support::{error_response, FakeServer, Step};

fn tcp(port: u16, db: &str) -> String {
    format!("postgres://postgres@127.0.0.1:{port}/{db}")
}

#[test]
fn accepting_and_up_but_refusing_a_login_are_both_ready() {
    let port = server().port();
    let password = server().password().to_owned();
    let vars = [("PGPASSWORD", password.as_str())];
    let shown = format!("127.0.0.1:{port} - accepting connections\n");
    assert_eq!(
        run(&["wait", "-d", &tcp(port, "postgres")], &vars),
        (0, shown.clone(), String::new())
    );
    // A missing database and a wrong password need a running server: ready (PQping).
    assert_eq!(
        run(&["wait", "-d", &tcp(port, "nodb_h7")], &vars),
        (0, shown.clone(), String::new())
    );
    assert_eq!(
        run(
            &["wait", "-d", &tcp(port, "postgres")],
            &[("PGPASSWORD", "wrong")]
        ),
        (0, shown, String::new())
    );
    // Over the socket, quiet: the status alone.
    assert_eq!(run(&["-q", "wait"], &[]), (0, String::new(), String::new()));
}

#[test]
fn no_response_and_no_attempt() {
    let port = closed_port();
    assert_eq!(
        run(&["wait", "--timeout", "0", "-d", &tcp(port, "x")], &[]),
        (
            2,
            format!("127.0.0.1:{port} - no response\n"),
            String::new()
        )
    );
    assert_eq!(
        run(
            &["-q", "wait", "--timeout", "1", "-d", &tcp(port, "x")],
            &[]
        ),
        (2, String::new(), String::new())
    );
    // Bad arguments and unusable settings: 3, pg_isready's "no attempt".
    let (status, stdout, stderr) = run(&["wait", "--timeout", "soon"], &[]);
    assert_eq!((status, stdout.as_str()), (3, ""));
    assert!(stderr.contains("invalid value 'soon'"), "{stderr}");
    let (status, _, stderr) = run(&["wait", "--bogus"], &[]);
    assert_eq!(status, 3, "{stderr}");
    // Also past a global option's value that looks like a verb.
    let (status, _, stderr) = run(&["--maintenance-db", "list", "wait", "--bogus"], &[]);
    assert_eq!(status, 3, "{stderr}");
    let (status, _, stderr) = run(&["wait", "-d", "pgsql:///db?a=1&"], &[]);
    assert_eq!(status, 3, "{stderr}");
    assert!(
        stderr.starts_with("Error: expected a connection URI"),
        "{stderr}"
    );
    // A setting libpq refuses before any attempt (not one it reports while connecting,
    // such as port=notanumber: that is "no response" for libpq too).
    let (status, stdout, stderr) = run(&["wait", "-d", "sslmode=sometimes"], &[]);
    assert_eq!(
        (status, stdout.as_str(), stderr.as_str()),
        (
            3,
            "",
            "Error: Failed to connect to the database server:\n    invalid sslmode value: \"sometimes\"\n"
        )
    );
    // Other verbs keep clap's 2 for a usage error; --timeout is one where it does not apply.
    assert_eq!(run(&["exists", "--bogus"], &[]).0, 2);
    assert_eq!(
        run(
            &["--timeout", "5", "template", "drop", "pgcluster_tpl_x"],
            &[]
        ),
        (
            2,
            String::new(),
            "Error: --timeout does not apply to `demo`, `template` and `completions`\n".to_owned()
        )
    );
}

#[test]
fn starting_up_is_rejecting() {
    let fake = support::run(FakeServer::start(vec![
        Step::ReadStartup,
        Step::Send(error_response(
            "FATAL",
            "57P03",
            "the database system is starting up",
        )),
        Step::Close,
    ]));
    let db = format!("{}?sslmode=disable", tcp(fake.port, "x"));
    let (status, stdout, stderr) = run(&["wait", "--timeout", "1", "-d", &db], &[]);
    assert_eq!(
        (status, stdout, stderr),
        (
            1,
            format!("127.0.0.1:{} - rejecting connections\n", fake.port),
            String::new()
        )
    );
    // It kept trying until the timeout: more than one connection.
    assert!(fake.accepted() >= 2, "{}", fake.accepted());
}

/// Forwards every connection to `port` on 127.0.0.1 to the shared server, from now on.
fn forward(listener: TcpListener) {
    let upstream = server().port();
    thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(up) = TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            for (mut from, mut to) in [
                (client.try_clone().unwrap(), up.try_clone().unwrap()),
                (up, client),
            ] {
                thread::spawn(move || {
                    let _ = io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
            }
        }
    });
}

#[test]
fn it_waits_until_the_server_appears() {
    // Bound and released, since this test listens on it later (`closed_port` holds its
    // ports).
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let password = server().password().to_owned();
    let mut child = command(&[("PGPASSWORD", &password)])
        .args(["wait", "--timeout", "300", "-d", &tcp(port, "postgres")])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn pgcluster wait");
    // Nothing listens: it is still trying (it cannot have ended: nothing answered).
    thread::sleep(std::time::Duration::from_millis(700));
    assert!(
        child.try_wait().unwrap().is_none(),
        "wait ended with nothing to reach"
    );
    forward(TcpListener::bind(("127.0.0.1", port)).expect("bind the closed port"));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("127.0.0.1:{port} - accepting connections\n")
    );
}
