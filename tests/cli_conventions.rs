//! The conventions of psql, createdb and sqlx-cli, through the `pgcluster` program on a
//! real server: the PG* environment when no setting is given, `-d`/`-q`/`-y`, `.env`'s
//! `DATABASE_URL`, shell completions, `list`'s readable sizes, `exists -q`'s status.
#![cfg(all(feature = "testing", feature = "cli"))]

#[path = "support/cli.rs"]
mod cli;

#[path = "support/scratch.rs"]
mod scratch;

use cli::{command, output, run, server};
use scratch::Scratch;

/// A scratch directory (the program's current directory), removed on drop.
struct Dir(Scratch);

impl Dir {
    fn new(name: &str, dotenv: Option<&str>) -> Self {
        let dir = Scratch::new(name);
        if let Some(text) = dotenv {
            dir.file(".env", text);
        }
        Self(dir)
    }

    /// Runs the program in this directory with the server's PG* variables and `vars`.
    fn run(&self, args: &[&str], vars: &[(&str, &str)]) -> (i32, String, String) {
        output(command(vars).current_dir(self.0.path()).args(args))
    }
}

fn out(status: i32, stdout: &str) -> (i32, String, String) {
    (status, stdout.to_owned(), String::new())
}

#[test]
fn without_a_setting_the_pg_environment_is_used_as_psql_does() {
    let dir = Dir::new("pgenv", None);
    // PGHOST, PGPORT and PGUSER only, as `psql -l` needs: libpq's defaults do the rest.
    assert_eq!(dir.run(&["exists", "template1"], &[]), out(0, "true\n"));
    assert_eq!(dir.run(&["exists", "nope_h7"], &[]), out(0, "false\n"));
    assert_eq!(
        dir.run(&["exists"], &[("PGDATABASE", "template1")]),
        out(0, "true\n")
    );
    assert_eq!(dir.run(&["cluster"], &[]), out(0, "Cluster('')\n"));
    // A default is never dropped: the environment names no database explicitly.
    let (status, stdout, stderr) = dir.run(&["drop", "-y"], &[("PGDATABASE", "template1")]);
    assert_eq!((status, stdout.as_str()), (1, ""));
    assert!(
        stderr.starts_with("Error: refusing to drop without a name"),
        "{stderr}"
    );
    // The program's old complaint about a missing setting is gone.
    assert!(
        !stderr.contains("Expected a PostgreSQL database"),
        "{stderr}"
    );
}

#[test]
fn short_flags() {
    assert_eq!(
        run(&["-d", "pgsql:///postgres", "exists", "template1"], &[]),
        out(0, "true\n")
    );
    assert_eq!(
        run(
            &["exists", "-d", "pgsql:///postgres", "-q", "template1"],
            &[]
        ),
        out(0, "")
    );
    // -y: no question, and here no terminal either: the drop of a missing database fails
    // as the server says.
    let (status, _, stderr) = run(&["-d", "pgsql:///postgres", "drop", "-y", "nope_h7"], &[]);
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains("database \"nope_h7\" does not exist"),
        "{stderr}"
    );
}

#[test]
fn exists_answers_by_exit_status_when_quiet() {
    let setting = "pgsql:///postgres";
    assert_eq!(
        run(&["-q", "-d", setting, "exists", "template1"], &[]),
        out(0, "")
    );
    assert_eq!(
        run(&["-q", "-d", setting, "exists", "nope_h7"], &[]),
        out(4, "")
    );
    // A failure to find out is 1, with the error.
    let (status, stdout, stderr) = run(
        &["--quiet", "-d", "postgres:///x?host=/nonexistent", "exists"],
        &[],
    );
    assert_eq!((status, stdout.as_str()), (1, ""));
    assert!(
        stderr.starts_with("Error: Failed to connect to the database server:"),
        "{stderr}"
    );
}

#[test]
fn dotenv_database_url_as_sqlx_cli_reads_it() {
    let port = server().port().to_string();
    let dir = Dir::new(
        "dotenv",
        Some("# the app\nexport DATABASE_URL=\"postgres:///template1?port=${PGPORT}\" # local\n"),
    );
    assert_eq!(
        dir.run(&["cluster"], &[]),
        out(
            0,
            &format!("Cluster('postgres:///template1?port={port}')\n")
        )
    );
    assert_eq!(dir.run(&["exists"], &[]), out(0, "true\n"));
    // The environment wins over the file, and --db over both.
    assert_eq!(
        dir.run(&["cluster"], &[("DATABASE_URL", "pgsql:///envdb")]),
        out(0, "Cluster('pgsql:///envdb')\n")
    );
    assert_eq!(
        dir.run(
            &["--db", "pgsql:///flagdb", "cluster"],
            &[("DATABASE_URL", "pgsql:///envdb")]
        ),
        out(0, "Cluster('pgsql:///flagdb')\n")
    );
    // Only the current directory's file counts.
    let sub = dir.0.path().join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    let out_sub = command(&[])
        .current_dir(&sub)
        .arg("cluster")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out_sub.stdout), "Cluster('')\n");
}

#[test]
fn completions_cover_every_verb_and_flag() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (status, script, stderr) = run(&["completions", shell], &[]);
        assert_eq!((status, stderr.as_str()), (0, ""), "{shell}");
        for word in [
            "exists",
            "create",
            "drop",
            "clone",
            "rename",
            "overwrite",
            "cleanup",
            "list",
            "connect",
            "cluster",
            "template",
            "completions",
            "if-exists",
            "connection-limit",
            "quiet",
        ] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
    }
    let (status, _, stderr) = run(&["completions", "tcsh"], &[]);
    assert_eq!(status, 2, "{stderr}");
}

#[test]
fn list_shows_sizes_as_psql_does() {
    let (status, table, stderr) = run(&["-d", "pgsql:///postgres", "list"], &[]);
    assert_eq!((status, stderr.as_str()), (0, ""));
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    let size_column = header.iter().position(|h| *h == "size").unwrap();
    let mut checked = 0;
    for db in ["template0", "template1"] {
        let line = table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(db))
            .unwrap_or_else(|| panic!("{db} in\n{table}"));
        // "7572 kB": two words in one cell; the cells before it have no blanks.
        let words: Vec<&str> = line.split_whitespace().collect();
        let shown = format!("{} {}", words[size_column], words[size_column + 1]);
        let psql = server()
            .psql(&format!("SELECT pg_size_pretty(pg_database_size('{db}'))"))
            .unwrap();
        assert_eq!(shown, psql.trim(), "{db}");
        assert!(shown.ends_with(" kB") || shown.ends_with(" MB"), "{shown}");
        checked += 1;
    }
    assert_eq!(checked, 2);
}

/// `DATABASE_URL_UNPOOLED` belongs to `DATABASE_URL`: with the PG* environment alone (no
/// `DATABASE_URL` anywhere) it is not the maintenance setting; with `./.env`'s
/// `DATABASE_URL` it is.
#[test]
fn the_unpooled_url_goes_only_with_database_url() {
    let unpooled = [(
        "DATABASE_URL_UNPOOLED",
        "postgres://u@elsewhere.invalid:6543/x",
    )];
    let maintenance = |dir: &Dir| {
        let (status, stdout, stderr) = dir.run(&["--json", "cluster"], &unpooled);
        assert_eq!(status, 0, "{stderr}");
        stdout.contains("\"maintenance_server\":\"elsewhere.invalid:6543\"")
    };
    assert!(!maintenance(&Dir::new("unpooled_alone", None)));
    let port = server().port();
    let with_url = Dir::new(
        "unpooled_with_url",
        Some(&format!("DATABASE_URL=postgres:///app?port={port}\n")),
    );
    assert!(maintenance(&with_url));
}
