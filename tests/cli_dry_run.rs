//! `--dry-run`: the statements each changing verb would run, and on which maintenance
//! database, through the program against a real server that logs every statement it gets
//! (`log_statement = 'all'`): the log shows that only read-only lookups arrived, and
//! `pg_database` that nothing changed. A drain plans without waiting.
#![cfg(all(feature = "testing", feature = "cli"))]

#[path = "support/cli.rs"]
mod cli;

use std::process::Command;

use pgcluster::testing::TestServer;

fn pgcluster(server: &TestServer, args: &[&str]) -> (i32, String, String) {
    cli::output(
        cli::command_on(server, &[])
            .args(["--db", "pgsql:///postgres", "--dry-run"])
            .args(args),
    )
}

const HEAD: &str = "-- dry run: nothing was changed; this would run:\n";

#[test]
fn dry_runs_send_only_reads() {
    let server = TestServer::builder()
        .conf_line("log_statement = 'all'")
        .start()
        .expect("a server that logs every statement");
    server
        .psql("CREATE DATABASE dry_app; CREATE DATABASE dry_tpl IS_TEMPLATE true")
        .unwrap();
    let databases = || {
        server
            .psql("SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database")
            .unwrap()
    };
    let before = databases();
    let log_before = server.log().len();
    let rows: [(&[&str], String); 6] = [
        (
            &["create", "dry_new", "--template", "dry_tpl"],
            format!("{HEAD}-- on database \"postgres\"\nCREATE DATABASE \"dry_new\" WITH ENCODING = \"UTF8\" TEMPLATE = \"dry_tpl\";\n"),
        ),
        (
            &["clone", "dry_app", "dry_copy"],
            format!("{HEAD}-- on database \"postgres\"\nCREATE DATABASE \"dry_copy\" WITH ENCODING = \"UTF8\" TEMPLATE = \"dry_app\";\n"),
        ),
        (
            &["drop", "dry_app", "--force"],
            format!("{HEAD}-- on database \"postgres\"\nDROP DATABASE \"dry_app\" WITH (FORCE);\n"),
        ),
        (
            &["drop", "postgres"],
            format!("{HEAD}-- on database \"template1\"\nDROP DATABASE \"postgres\";\n"),
        ),
        (
            &["rename", "dry_moved", "dry_app"],
            format!("{HEAD}-- on database \"postgres\"\nALTER DATABASE \"dry_app\" RENAME TO \"dry_moved\";\n"),
        ),
        // No question without NAME either: nothing will change.
        (&["exists", "dry_app"], "true\n".to_owned()),
    ];
    for (args, expected) in &rows {
        assert_eq!(
            pgcluster(&server, args),
            (0, expected.clone(), String::new()),
            "{args:?}"
        );
    }
    // overwrite: the temporary names are random; the shape is fixed.
    let (status, stdout, stderr) = pgcluster(&server, &["overwrite", "dry_app"]);
    assert_eq!((status, stderr.as_str()), (0, ""));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    assert_eq!(lines[1], "-- on database \"postgres\"");
    assert!(
        lines[2].starts_with("CREATE DATABASE \"pgcluster_new_"),
        "{stdout}"
    );
    assert!(
        lines[3].starts_with("BEGIN; ALTER DATABASE \"dry_app\" RENAME TO \"pgcluster_old_"),
        "{stdout}"
    );
    assert!(
        lines[4].starts_with("DROP DATABASE \"pgcluster_old_"),
        "{stdout}"
    );
    assert!(lines[4].ends_with("\" WITH (FORCE);"), "{stdout}");
    // JSON: the verb's object with the statements.
    let (status, stdout, _) = pgcluster(&server, &["--json", "drop", "dry_app"]);
    assert_eq!(
        (status, stdout.as_str()),
        (
            0,
            "{\"action\":\"drop\",\"database\":\"dry_app\",\"dry_run\":true,\"statements\":[{\"database\":\"postgres\",\"sql\":\"DROP DATABASE \\\"dry_app\\\";\"}]}\n"
        )
    );

    assert_eq!(databases(), before, "a dry run changed pg_database");
    let log = server.log();
    let sent = &log[log_before..];
    let statements: Vec<&str> = sent
        .lines()
        .filter_map(|l| l.split_once("statement: ").map(|(_, s)| s))
        .collect();
    assert!(
        statements.iter().any(|s| s.contains("pg_database")),
        "the reads are logged:\n{sent}"
    );
    for statement in &statements {
        let upper = statement.to_uppercase();
        assert!(
            !["CREATE ", "DROP ", "ALTER ", "PG_TERMINATE_BACKEND"]
                .iter()
                .any(|w| upper.contains(w)),
            "a dry run sent {statement}"
        );
    }
    server
        .psql("ALTER DATABASE dry_tpl IS_TEMPLATE false; DROP DATABASE dry_tpl; DROP DATABASE dry_app")
        .unwrap();
}

#[test]
fn not_for_the_demo_or_templates() {
    let out = Command::new(env!("CARGO_BIN_EXE_pgcluster"))
        .args(["--dry-run", "demo"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// `drop --drain` in a dry run waits for nothing, even with a session on the database: it
/// plans `ALLOW_CONNECTIONS false` and the drop, and the database still allows connections.
#[test]
fn a_dry_run_drain_plans_without_waiting() {
    let server = TestServer::shared().expect("a throwaway PostgreSQL server");
    server
        .psql("DROP DATABASE IF EXISTS dry_held WITH (FORCE); CREATE DATABASE dry_held")
        .unwrap();
    let held = pgcluster::blocking::Cluster::new("pgsql:///dry_held")
        .unwrap()
        .with_env(server.env())
        .connect(None)
        .unwrap();
    assert_eq!(
        pgcluster(server, &["drop", "dry_held", "--drain=5"]),
        (
            0,
            format!(
                "{HEAD}-- on database \"postgres\"\n\
                 ALTER DATABASE \"dry_held\" ALLOW_CONNECTIONS false;\n\
                 DROP DATABASE \"dry_held\";\n"
            ),
            String::new()
        )
    );
    let allowed = server
        .psql("SELECT datallowconn FROM pg_database WHERE datname = 'dry_held'")
        .unwrap();
    assert_eq!(allowed.trim(), "t");
    drop(held);
    server.psql("DROP DATABASE dry_held WITH (FORCE)").unwrap();
}
