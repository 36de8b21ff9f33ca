//! `drop` and `overwrite` without NAME, through the real binary on a real server: a setting
//! that names no database is refused (a default such as the user name is never dropped);
//! with no terminal an explicitly named database is acted on as before; on a terminal (a
//! pseudo-terminal here, driven by python3's `pty` module) the program asks
//! `[y/N]` first, and only `y`/`yes` goes on; `-y`/`--yes` skips the question. Each case
//! checks what `pg_database` holds afterwards, with `psql`.
#![cfg(all(feature = "testing", feature = "cli"))]

use std::process::{Command, Stdio};

use pgcluster::testing::TestServer;

#[path = "support/cli.rs"]
mod cli;
mod terminal;

/// Exit status of a question declined.
const DECLINED: i32 = 3;
/// What a declined question prints after the answer.
const CANCELLED: &str = "Cancelled: nothing was changed.\n";

fn shared() -> &'static TestServer {
    TestServer::shared().expect("a throwaway PostgreSQL server")
}

/// `program` with `server`'s PGHOST, PGPORT and PGUSER and `vars`, no DATABASE_URL, no
/// PGDATABASE or PGSERVICE and no system service file.
fn command(program: &str, server: &TestServer, vars: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_remove("DATABASE_URL")
        .env_remove("PGDATABASE")
        .env_remove("PGSERVICE")
        .env("PGSYSCONFDIR", "/nonexistent/h3-sysconf")
        .stdin(Stdio::null());
    for (k, v) in server.env_vars() {
        cmd.env(k, v);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

/// Runs the program with no terminal (stdin empty, stdout and stderr captured): status,
/// stdout, stderr.
fn run(server: &TestServer, args: &[&str], vars: &[(&str, &str)]) -> (i32, String, String) {
    cli::output(command(env!("CARGO_BIN_EXE_pgcluster"), server, vars).args(args))
}

/// Runs the program on a pseudo-terminal (stdin, stdout and stderr), typing `answer` at
/// the question: status, and what the terminal showed (line ends as `\n`).
fn run_on_terminal(server: &TestServer, args: &[&str], answer: &str) -> (i32, String) {
    terminal::run(command("python3", server, &[]), answer, args)
}

/// Every database name, sorted, as `psql` lists them.
fn datnames(server: &TestServer) -> Vec<String> {
    let out = server
        .psql("SELECT datname FROM pg_catalog.pg_database ORDER BY datname")
        .expect("psql");
    out.lines().map(str::to_owned).collect()
}

fn has(server: &TestServer, name: &str) -> bool {
    datnames(server).iter().any(|n| n == name)
}

/// Makes database `name` afresh, holding a table `marker`.
fn with_marker(server: &TestServer, name: &str) {
    server
        .psql(&format!("DROP DATABASE IF EXISTS {name}"))
        .expect("drop");
    server
        .psql(&format!("CREATE DATABASE {name}"))
        .expect("create");
    server
        .psql_db(name, "CREATE TABLE marker (x int)")
        .expect("marker");
}

/// Whether database `name` still holds its table `marker` (false: a fresh one).
fn has_marker(server: &TestServer, name: &str) -> bool {
    let out = server
        .psql_db(
            name,
            "SELECT count(*) FROM pg_catalog.pg_class WHERE relname = 'marker'",
        )
        .expect("psql");
    out.trim() == "1"
}

/// The question for `name` on `server`, as the terminal shows it.
fn question(server: &TestServer, verb: &str, name: &str, tail: &str) -> String {
    format!(
        "{verb} database \"{name}\" on {}/.s.PGSQL.{}{tail}? [y/N] ",
        server.socket_dir().display(),
        server.port()
    )
}

/// Environment variables for a case.
type Vars<'a> = &'a [(&'a str, &'a str)];

fn refusal(action: &str, participle: &str, default: &str) -> String {
    format!(
        "Error: refusing to {action} without a name: the setting names no database, and the \
         default (\"{default}\") is never {participle}; give the name, or name the database in \
         the setting (a URI path or dbname=)\n"
    )
}

#[test]
fn a_setting_naming_no_database_is_refused() {
    // A server of its own: no other test changes its list of databases meanwhile.
    let server = TestServer::new().expect("a throwaway PostgreSQL server");
    with_marker(&server, "victim");
    with_marker(&server, "bystander");
    let before = datnames(&server);
    assert!(before.iter().any(|n| n == "postgres"), "{before:?}");
    let sock = server.socket_dir().display().to_string();
    let port = server.port().to_string();
    // The report's setting: a URI naming user and server, no database.
    let uri = format!("postgres://postgres@{}:{port}", sock.replace('/', "%2F"));
    let cases: [(&str, Vars, &str); 5] = [
        (&uri, &[], "postgres"),
        ("postgres://", &[], "postgres"),
        ("user=postgres", &[], "postgres"),
        ("dbname=''", &[], "postgres"),
        // PGDATABASE is a default, not a name.
        ("user=postgres", &[("PGDATABASE", "victim")], "victim"),
    ];
    for (setting, vars, default) in cases {
        for (verb, participle) in [("drop", "dropped"), ("overwrite", "overwritten")] {
            for extra in [&[][..], &["--yes"], &["-y"]] {
                let mut args = vec!["--db", setting, verb];
                args.extend(extra);
                if verb == "drop" {
                    args.push("--force");
                }
                assert_eq!(
                    run(&server, &args, vars),
                    (1, String::new(), refusal(verb, participle, default)),
                    "{args:?} {vars:?}"
                );
                assert_eq!(datnames(&server), before, "{args:?} {vars:?}");
            }
        }
        let args = ["--db", setting, "rename", "renamed"];
        assert_eq!(
            run(&server, &args, vars),
            (1, String::new(), refusal("rename", "renamed", default)),
            "{args:?} {vars:?}"
        );
        assert_eq!(datnames(&server), before, "{args:?} {vars:?}");
    }
    // On a terminal too, with no question asked first.
    for verb in ["drop", "overwrite"] {
        let participle = if verb == "drop" {
            "dropped"
        } else {
            "overwritten"
        };
        let (status, shown) = run_on_terminal(&server, &["--db", &uri, verb], "y");
        assert_eq!(
            (status, shown),
            (1, refusal(verb, participle, "postgres")),
            "{verb} on a terminal"
        );
        assert_eq!(datnames(&server), before, "{verb} on a terminal");
    }
    assert!(has_marker(&server, "victim") && has_marker(&server, "bystander"));
    // Still usable: maintenance goes through `postgres`.
    assert_eq!(
        run(&server, &["--db", "pgsql:///victim", "exists"], &[]),
        (0, "true\n".to_owned(), String::new())
    );
}

#[test]
fn with_no_terminal_the_named_database_is_acted_on() {
    let server = shared();
    let name = "cli_destructive_script";
    let bystander = "cli_destructive_script_bystander";
    with_marker(server, bystander);
    // `dbname=` in a key=value string, a rex path and a libpq URI path.
    let settings = [
        format!("dbname={name}"),
        format!("pgsql:///{name}"),
        format!("postgres:///{name}"),
    ];
    for setting in &settings {
        with_marker(server, name);
        assert_eq!(
            run(server, &["--db", setting, "overwrite"], &[]),
            (0, String::new(), String::new()),
            "{setting}"
        );
        assert!(has(server, name), "{setting}: overwritten, not dropped");
        assert!(!has_marker(server, name), "{setting}: a fresh database");
        assert_eq!(
            run(server, &["--db", setting, "drop"], &[]),
            (0, String::new(), String::new()),
            "{setting}"
        );
        assert!(!has(server, name), "{setting}: dropped");
        assert!(has_marker(server, bystander), "{setting}: bystander kept");
        assert!(has(server, "postgres"), "{setting}");
    }
    server
        .psql(&format!("DROP DATABASE {bystander}"))
        .expect("drop");
}

#[test]
fn on_a_terminal_drop_asks_first() {
    let server = shared();
    let name = "cli_destructive_tty_drop";
    let setting = format!("dbname={name}");
    let asked = question(server, "Drop", name, "");
    with_marker(server, name);
    // Anything but y/yes keeps the database.
    for answer in ["n", "", "no", "yess", "<EOF>"] {
        let (status, shown) = run_on_terminal(server, &["--db", &setting, "drop"], answer);
        let echoed = if answer == "<EOF>" { "" } else { answer };
        assert_eq!(
            (status, shown),
            (DECLINED, format!("{asked}{echoed}\n{CANCELLED}")),
            "answer {answer:?}"
        );
        assert!(has_marker(server, name), "answer {answer:?}: kept");
    }
    // y and yes drop it.
    for answer in ["y", "YES"] {
        let (status, shown) = run_on_terminal(server, &["--db", &setting, "drop"], answer);
        assert_eq!((status, shown), (0, format!("{asked}{answer}\n")));
        assert!(!has(server, name), "answer {answer:?}: dropped");
        with_marker(server, name);
    }
    // --yes and -y: no question.
    for yes in ["--yes", "-y"] {
        let (status, shown) = run_on_terminal(server, &["--db", &setting, "drop", yes], "n");
        assert_eq!((status, shown), (0, String::new()), "{yes}");
        assert!(!has(server, name), "{yes}: dropped");
        with_marker(server, name);
    }
    // A NAME given on the command line: no question either.
    let (status, shown) =
        run_on_terminal(server, &["--db", "pgsql:///postgres", "drop", name], "n");
    assert_eq!((status, shown), (0, String::new()));
    assert!(!has(server, name));
    assert!(has(server, "postgres"));
}

#[test]
fn on_a_terminal_overwrite_asks_first() {
    let server = shared();
    let name = "cli_destructive_tty_overwrite";
    let setting = format!("pgsql:///{name}");
    with_marker(server, name);
    let asked = question(server, "Overwrite", name, " with a fresh one");
    for answer in ["n", "N", ""] {
        let (status, shown) = run_on_terminal(server, &["--db", &setting, "overwrite"], answer);
        assert_eq!(
            (status, shown),
            (DECLINED, format!("{asked}{answer}\n{CANCELLED}")),
            "answer {answer:?}"
        );
        assert!(
            has_marker(server, name),
            "answer {answer:?}: not overwritten"
        );
    }
    let (status, shown) = run_on_terminal(server, &["--db", &setting, "overwrite"], "y");
    assert_eq!((status, shown), (0, format!("{asked}y\n")));
    assert!(
        has(server, name) && !has_marker(server, name),
        "overwritten"
    );

    // With a template, the question names it.
    with_marker(server, name);
    let asked = question(server, "Overwrite", name, " with a copy of \"template0\"");
    let args = ["--db", &setting, "overwrite", "--template", "template0"];
    let (status, shown) = run_on_terminal(server, &args, "no");
    assert_eq!(
        (status, shown),
        (DECLINED, format!("{asked}no\n{CANCELLED}"))
    );
    assert!(has_marker(server, name), "not overwritten");
    let (status, shown) = run_on_terminal(server, &args, "yes");
    assert_eq!((status, shown), (0, format!("{asked}yes\n")));
    assert!(
        has(server, name) && !has_marker(server, name),
        "overwritten"
    );

    with_marker(server, name);
    let (status, shown) = run_on_terminal(server, &["--db", &setting, "overwrite", "--yes"], "n");
    assert_eq!((status, shown), (0, String::new()), "--yes: no question");
    assert!(
        has(server, name) && !has_marker(server, name),
        "--yes: overwritten"
    );
    server.psql(&format!("DROP DATABASE {name}")).expect("drop");
}

#[test]
fn help_says_when_drop_and_overwrite_ask() {
    let server = shared();
    for verb in ["drop", "overwrite"] {
        let (status, stdout, _) = run(server, &[verb, "--help"], &[]);
        assert_eq!(status, 0, "{verb} --help");
        for needle in [
            "-y, --yes",
            "Do not ask for confirmation on a terminal",
            "a setting that names none is refused (exit status 1)",
            "anything but `y` or `yes` changes nothing and exits with 3",
            "With no terminal (scripts, CI) nothing is asked",
        ] {
            assert!(
                stdout.contains(needle),
                "{verb} --help lacks {needle:?}:\n{stdout}"
            );
        }
    }
    let (_, stdout, _) = run(server, &["--help"], &[]);
    assert!(stdout.contains("3 when"), "{stdout}");
}
