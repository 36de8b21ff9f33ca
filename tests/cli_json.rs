//! `--json` on every verb, through the program against a real server: one object per
//! result with the documented field names, and an error as one object on stderr with the
//! text, the exit status, the SQLSTATE and the server's fields.
#![cfg(all(feature = "testing", feature = "cli"))]

#[path = "support/cli.rs"]
mod cli;

use cli::{pgcluster, run, server};

fn ok(stdout: &str) -> (i32, String, String) {
    (0, format!("{stdout}\n"), String::new())
}

#[test]
fn every_verb_prints_one_object() {
    let _ = pgcluster(&["drop", "--if-exists", "json_h7_a"]);
    let _ = pgcluster(&["drop", "--if-exists", "json_h7_b"]);
    let _ = pgcluster(&["drop", "--if-exists", "json_h7_c"]);
    let rows: [(&[&str], &str); 8] = [
        (
            &["exists", "json_h7_a"],
            r#"{"database":"json_h7_a","exists":false}"#,
        ),
        (
            &["create", "json_h7_a"],
            r#"{"action":"create","database":"json_h7_a","template":null}"#,
        ),
        (
            &["exists", "json_h7_a"],
            r#"{"database":"json_h7_a","exists":true}"#,
        ),
        (
            &["clone", "json_h7_a", "json_h7_b"],
            r#"{"action":"clone","database":"json_h7_b","template":"json_h7_a"}"#,
        ),
        (
            &["rename", "json_h7_c", "json_h7_b"],
            r#"{"action":"rename","database":"json_h7_b","new":"json_h7_c"}"#,
        ),
        (
            &["overwrite", "json_h7_c", "--template", "json_h7_a"],
            r#"{"action":"overwrite","database":"json_h7_c","template":"json_h7_a"}"#,
        ),
        (
            &["drop", "json_h7_c"],
            r#"{"action":"drop","database":"json_h7_c"}"#,
        ),
        (
            &["drop", "json_h7_a"],
            r#"{"action":"drop","database":"json_h7_a"}"#,
        ),
    ];
    for (args, object) in rows {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        assert_eq!(pgcluster(&all), ok(object), "{args:?}");
    }
    let sock = server().socket_dir().display().to_string();
    let port = server().port();
    assert_eq!(
        pgcluster(&["cluster", "--json"]),
        ok(&format!(
            r#"{{"repr":"Cluster('pgsql:///postgres')","database":"postgres","server":"{sock}/.s.PGSQL.{port}"}}"#
        ))
    );
    assert_eq!(
        pgcluster(&["wait", "--json"]),
        ok(&format!(
            r#"{{"server":"{sock}/.s.PGSQL.{port}","status":"accepting connections","exit_status":0}}"#
        ))
    );
    assert_eq!(
        pgcluster(&["--json", "cleanup", "--dry-run"]),
        ok(r#"{"action":"cleanup","databases":[],"dropped":[],"dry_run":true,"statements":[]}"#)
    );
    // `list` keeps its array of objects.
    let (status, list, stderr) = pgcluster(&["--json", "list"]);
    assert_eq!((status, stderr.as_str()), (0, ""));
    assert!(list.starts_with("[{\"name\":"), "{list}");
    assert!(
        list.contains(r#""name":"template1","owner":"postgres""#),
        "{list}"
    );
    assert!(!list.contains("json_h7_"), "{list}");
}

#[test]
fn connect_names_the_host_and_port() {
    let sock = server().socket_dir().display().to_string();
    let port = server().port();
    let (status, stdout, stderr) = pgcluster(&["connect", "--json", "template1"]);
    assert_eq!((status, stderr.as_str()), (0, ""));
    let head = format!(r#"{{"database":"template1","host":"{sock}","port":{port},"backend_pid":"#);
    let version = server().psql("SHOW server_version").unwrap();
    let tail = format!(
        r#","dsn":"dbname=template1","server_version":"{}","in_recovery":false}}"#,
        version.trim()
    );
    assert!(
        stdout.starts_with(&head) && stdout.trim_end().ends_with(&tail),
        "{stdout}"
    );
    let pid = &stdout[head.len()..stdout.trim_end().len() - tail.len()];
    assert!(pid.parse::<u32>().is_ok_and(|p| p > 0), "{stdout}");
}

#[test]
fn errors_are_one_object_on_stderr() {
    let (status, stdout, stderr) = pgcluster(&["--json", "drop", "json_h7_missing"]);
    assert_eq!((status, stdout.as_str()), (1, ""));
    let head = concat!(
        r#"{"error":"Got an error from the database server:\n    database \"json_h7_missing\" does not exist","#,
        r#""exit_status":1,"sqlstate":"3D000","server":{"severity":"ERROR","severity_nonlocalized":"ERROR","code":"3D000","#,
        r#""message":"database \"json_h7_missing\" does not exist","file":""#
    );
    assert!(stderr.starts_with(head), "{stderr}");
    assert!(stderr.ends_with("\"routine\":\"dropdb\"}}\n"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // A failure before any server: no SQLSTATE, no server fields.
    let (status, _, stderr) = run(
        &["--json", "-d", "postgres:///x?host=/nonexistent", "exists"],
        &[],
    );
    assert_eq!(status, 1);
    // (PGPORT is the server's.)
    let port = server().port();
    assert_eq!(
        stderr,
        format!(
            "{}{port}{}",
            r#"{"error":"Failed to connect to the database server:\n    could not connect to server: No such file or directory\n    \tIs the server running locally and accepting\n    \tconnections on Unix domain socket \"/nonexistent/.s.PGSQL."#,
            concat!(
                r#"\"?","exit_status":1,"sqlstate":null,"server":null}"#,
                "\n"
            )
        )
    );
    // A refused name, and `wait`'s own statuses.
    let (status, _, stderr) = pgcluster(&["--json", "create", ""]);
    assert_eq!(
        (status, stderr.as_str()),
        (
            1,
            "{\"error\":\"Invalid database name: the name is empty\",\"exit_status\":1,\"sqlstate\":null,\"server\":null}\n"
        )
    );
    let (status, _, stderr) = run(&["--json", "wait", "-d", "sslmode=maybe"], &[]);
    assert_eq!(status, 3);
    assert!(stderr.contains(r#""exit_status":3"#), "{stderr}");
    // Not for the demo or the completions.
    let (status, _, stderr) = run(&["--json", "completions", "bash"], &[]);
    assert_eq!(status, 2, "{stderr}");
}
