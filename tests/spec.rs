//! Every example of `cluster.rst`, on a throwaway server: through both APIs, through
//! the CLI, and (where `../shared/tools/rexref` is present) against the reference itself.
#![cfg(all(feature = "testing", feature = "cli"))]

mod connecting;

use std::path::PathBuf;
use std::process::{Command, Output};

use connecting::{for_each_driver, Driver};
use pgcluster::testing::TestServer;

const REFUSED: &str = "Error: Failed to connect to the database server:\n    could not connect to server: Connection refused\n    \tIs the server running on host \"127.0.0.1\" and accepting\n    \tTCP/IP connections on port 2345?";

fn server() -> &'static TestServer {
    TestServer::shared().expect("a throwaway PostgreSQL server")
}

fn err<T: std::fmt::Debug>(r: Result<T, pgcluster::Error>) -> String {
    format!("Error: {}", r.unwrap_err())
}

fn assert_connection_repr(got: &str, dsn: &str, closed: u8) {
    let tail = format!("; dsn: '{dsn}', closed: {closed}>");
    let addr = got
        .strip_prefix("<connection object at 0x")
        .and_then(|rest| rest.strip_suffix(&tail))
        .unwrap_or_else(|| panic!("unexpected connection repr: {got}"));
    assert!(
        !addr.is_empty()
            && addr
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "address {addr:?} in {got}"
    );
}

/// The whole document, in order, through the blocking API, then again through the async
/// one (one after the other: the same database names).
#[test]
fn cluster_rst_through_the_api() {
    for_each_driver(through_the_api);
}

fn through_the_api(driver: Driver) {
    let env = server().env();
    // The spec's application database, under a name of this test's own.
    let app = "spec_api_demo";
    let derived = "spec_api_demo_derived";
    let setting = format!("pgsql:///{app}");
    driver
        .sync_cluster(&setting)
        .unwrap()
        .with_env(env.clone())
        .create(None)
        .unwrap();

    let cluster = driver
        .sync_get_cluster(&setting)
        .unwrap()
        .with_env(env.clone());
    assert_eq!(cluster.repr(), format!("Cluster('pgsql:///{app}')"));
    assert_eq!(
        err(driver.sync_get_cluster("mysql:///deploy_demo")),
        "Error: Expected a PostgreSQL database; got:\n    mysql:///deploy_demo"
    );

    cluster.create(derived).unwrap();
    assert!(cluster.exists(derived).unwrap());
    cluster.drop_database(derived).unwrap();
    assert!(!cluster.exists(derived).unwrap());
    assert_eq!(
        err(cluster.drop_database(derived)),
        format!("Error: Got an error from the database server:\n    database \"{derived}\" does not exist")
    );

    let mut connection = cluster.connect(None).unwrap();
    assert_connection_repr(&connection.repr(), &format!("dbname={app}"), 0);
    connection.close();
    assert_connection_repr(&connection.repr(), &format!("dbname={app}"), 1);

    cluster.create(derived).unwrap();
    let mut connection = cluster.connect(derived).unwrap();
    assert_connection_repr(&connection.repr(), &format!("dbname={derived}"), 0);
    let rows = connection
        .simple_query("SELECT current_database(), NULL::text")
        .unwrap();
    assert_eq!(rows[0].rows, vec![vec![Some(derived.to_owned()), None]]);
    connection.close();

    cluster.drop_database(derived).unwrap();
    assert_eq!(
        err(cluster.connect(derived)),
        format!("Error: Failed to connect to the database server:\n    FATAL:  database \"{derived}\" does not exist")
    );

    let cluster_2345 = driver
        .sync_cluster("pgsql://aladdin:opensesame@127.0.0.1:2345/deploy_demo")
        .unwrap()
        .with_env(env);
    assert_eq!(err(cluster_2345.connect(None)), REFUSED);
    // A Debug never shows the password.
    assert_eq!(
        cluster_2345.repr(),
        "Cluster('pgsql://aladdin:xxx@127.0.0.1:2345/deploy_demo')"
    );

    cluster.drop_database(None).unwrap();
}

fn cli(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgcluster"));
    cmd.args(args).env_remove("DATABASE_URL");
    for (k, v) in server().env_vars() {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Runs the CLI; returns (status, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let out = cli(args);
    (
        out.status.code().unwrap(),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[test]
fn cluster_rst_through_the_cli() {
    let db = "pgsql:///spec_cli_demo";
    let derived = "spec_cli_demo_derived";
    assert_eq!(
        run(&["--db", db, "create"]),
        (0, String::new(), String::new())
    );
    assert_eq!(
        run(&["--db", db, "cluster"]),
        (
            0,
            "Cluster('pgsql:///spec_cli_demo')\n".into(),
            String::new()
        )
    );
    assert_eq!(
        run(&["--db", "mysql:///deploy_demo", "cluster"]),
        (
            1,
            String::new(),
            "Error: Expected a PostgreSQL database; got:\n    mysql:///deploy_demo\n".into()
        )
    );
    assert_eq!(
        run(&["--db", db, "create", derived]),
        (0, String::new(), String::new())
    );
    assert_eq!(
        run(&["--db", db, "exists", derived]),
        (0, "true\n".into(), String::new())
    );
    assert_eq!(
        run(&["--db", db, "drop", derived]),
        (0, String::new(), String::new())
    );
    assert_eq!(
        run(&["--db", db, "exists", derived]),
        (0, "false\n".into(), String::new())
    );
    assert_eq!(
        run(&["--db", db, "drop", derived]),
        (
            1,
            String::new(),
            format!("Error: Got an error from the database server:\n    database \"{derived}\" does not exist\n")
        )
    );
    let (status, stdout, stderr) = run(&["--db", db, "connect"]);
    assert_eq!((status, stderr.as_str()), (0, ""));
    assert_connection_repr(stdout.trim_end_matches('\n'), "dbname=spec_cli_demo", 0);
    assert_eq!(
        run(&["--db", db, "clone", "spec_cli_demo", derived]),
        (0, String::new(), String::new())
    );
    let (status, stdout, _) = run(&["--db", db, "connect", derived]);
    assert_eq!(status, 0);
    assert_connection_repr(
        stdout.trim_end_matches('\n'),
        &format!("dbname={derived}"),
        0,
    );
    assert_eq!(
        run(&["--db", db, "drop", derived]),
        (0, String::new(), String::new())
    );
    assert_eq!(
        run(&["--db", db, "connect", derived]),
        (
            1,
            String::new(),
            format!("Error: Failed to connect to the database server:\n    FATAL:  database \"{derived}\" does not exist\n")
        )
    );
    assert_eq!(
        run(&[
            "--db",
            "pgsql://aladdin:opensesame@127.0.0.1:2345/deploy_demo",
            "connect"
        ]),
        (1, String::new(), format!("{REFUSED}\n"))
    );
    // DATABASE_URL is the fallback for --db.
    let out = Command::new(env!("CARGO_BIN_EXE_pgcluster"))
        .args(["cluster"])
        .env("DATABASE_URL", db)
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "Cluster('pgsql:///spec_cli_demo')\n");
    assert_eq!(
        run(&["--db", db, "rename", "spec_cli_demo_renamed"]),
        (0, String::new(), String::new())
    );
    assert_eq!(
        run(&["--db", "pgsql:///spec_cli_demo_renamed", "drop"]),
        (0, String::new(), String::new())
    );
    for verb in [
        "exists", "create", "drop", "clone", "rename", "connect", "cluster", "demo",
    ] {
        let (status, stdout, _) = run(&[verb, "--help"]);
        assert_eq!(status, 0, "{verb} --help");
        assert!(
            stdout.contains("Usage: pgcluster"),
            "{verb} --help: {stdout}"
        );
    }
}

fn rexref() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/rexref");
    path.exists().then_some(path)
}

/// rexref's output for a verb, in our CLI's form: errors on stderr, `True` as `true`.
fn reference(rexref: &PathBuf, verb: &str, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new("python3");
    cmd.arg(rexref).arg(verb).args(args);
    for (k, v) in server().env_vars() {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let status = out.status.code().unwrap();
    let stdout = text(&out.stdout);
    if status == 0 {
        let stdout = match stdout.as_str() {
            "True\n" => "true\n".to_owned(),
            "False\n" => "false\n".to_owned(),
            _ => stdout,
        };
        (0, stdout, String::new())
    } else {
        (status, String::new(), stdout)
    }
}

/// The CLI prints what the reference prints, for every example of the spec.
#[test]
fn cli_matches_rexref() {
    let Some(rexref) = rexref() else {
        eprintln!("skipped: ../shared/tools/rexref not found");
        return;
    };
    let db = "pgsql:///spec_ref_demo";
    let derived = "spec_ref_demo_derived";
    let connect_debug = |out: (i32, String, String)| {
        // Same repr apart from the address.
        let (status, stdout, stderr) = out;
        let masked = match stdout.split_once("; dsn: ") {
            Some((_, tail)) => format!("<connection object at ...; dsn: {tail}"),
            None => stdout,
        };
        (status, masked, stderr)
    };
    let steps: Vec<(&str, Vec<&str>)> = vec![
        ("create", vec![db]),
        ("get", vec![db]),
        ("get", vec!["mysql:///deploy_demo"]),
        ("create", vec![db, derived]),
        ("exists", vec![db, derived]),
        ("drop", vec![db, derived]),
        ("exists", vec![db, derived]),
        ("drop", vec![db, derived]),
        ("connect", vec![db]),
        ("create", vec![db, derived]),
        ("connect", vec![db, derived]),
        ("drop", vec![db, derived]),
        ("connect", vec![db, derived]),
        (
            "connect",
            vec!["pgsql://aladdin:opensesame@127.0.0.1:2345/deploy_demo"],
        ),
        ("clone", vec![db, "spec_ref_demo", derived]),
        ("rename", vec![db, "spec_ref_demo_2", derived]),
        ("exists", vec![db, "spec_ref_demo_2"]),
        ("drop", vec![db, "spec_ref_demo_2"]),
        ("drop", vec![db]),
    ];
    for (verb, args) in steps {
        // Ours first (each side must act on the state the previous step left), then undo
        // what ours did so the reference acts on the same state.
        let ours_verb = if verb == "get" { "cluster" } else { verb };
        let mut ours_args = vec!["--db", args[0], ours_verb];
        ours_args.extend(&args[1..]);
        let ours = connect_debug(run(&ours_args));
        let undo = undo_of(verb, &args);
        if ours.0 == 0 {
            if let Some(undo) = &undo {
                let _ = run(undo);
            }
        }
        let theirs = connect_debug(reference(&rexref, verb, &args));
        assert_eq!(ours, theirs, "{verb} {args:?}");
    }
}

/// The CLI call that undoes a successful step, so that both sides start from one state.
fn undo_of<'a>(verb: &str, args: &[&'a str]) -> Option<Vec<&'a str>> {
    let db = args[0];
    match verb {
        "create" => Some(match args.get(1) {
            Some(name) => vec!["--db", db, "drop", name],
            None => vec!["--db", db, "drop"],
        }),
        "drop" => Some(match args.get(1) {
            Some(name) => vec!["--db", db, "create", name],
            None => vec!["--db", db, "create"],
        }),
        "clone" => Some(vec!["--db", db, "drop", args[2]]),
        "rename" => Some(vec!["--db", db, "rename", args[2], args[1]]),
        _ => None,
    }
}
