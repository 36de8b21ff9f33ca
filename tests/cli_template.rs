//! `pgcluster template build|clone|drop` through the real program against a real server:
//! what `pg_database` shows afterwards (the template flagged, the clone made from it and
//! dropped), that a second build reuses the first one's template, and that a bad
//! directory or a failing migration is a clear error that leaves nothing behind.
#![cfg(all(feature = "testing", feature = "cli"))]

#[path = "support/cli.rs"]
mod cli;
#[path = "support/scratch.rs"]
mod scratch;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use cli::{pgcluster, server};
use scratch::Scratch;

/// The example migrations (001_users.sql, 002_posts.sql).
fn migrations_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/migrations")
}

/// Runs it and expects success and empty stderr; its stdout's one line.
fn line(args: &[&str]) -> String {
    let (status, stdout, stderr) = pgcluster(args);
    assert_eq!((status, stderr.as_str()), (0, ""), "{args:?}: {stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: one line: {stdout:?}");
    lines[0].to_owned()
}

/// The databases whose names start with `prefix`, as (name, oid, datistemplate,
/// datallowconn), sorted.
fn databases(prefix: &str) -> Vec<(String, String, String, String)> {
    server()
        .psql(&format!(
            "SELECT datname, oid, datistemplate, datallowconn FROM pg_database \
             WHERE starts_with(datname, '{prefix}') ORDER BY 1"
        ))
        .expect("psql")
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            assert_eq!(f.len(), 4, "{l}");
            (f[0].into(), f[1].into(), f[2].into(), f[3].into())
        })
        .collect()
}

fn names(prefix: &str) -> Vec<String> {
    databases(prefix).into_iter().map(|d| d.0).collect()
}

/// A scratch directory holding the migration `files` (name, text).
fn migrations(tag: &str, files: &[(&str, &str)]) -> Scratch {
    let dir = Scratch::new(&format!("cli-template-{tag}"));
    for (name, text) in files {
        dir.file(name, text);
    }
    dir
}

/// Runs `sql` with psql on the database of `url`, as a Go or Python client would connect.
fn psql_url(url: &str, sql: &str) -> String {
    let out = Command::new(server().bin_dir().join("psql"))
        .env_clear()
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn build_makes_a_flagged_template_and_a_second_build_reuses_it() {
    let dir = migrations_dir();
    let dir = dir.to_str().unwrap();
    let name = line(&["template", "build", "--family", "cli_build", dir]);
    assert!(name.starts_with("pgcluster_tpl_cli_build_"), "{name}");
    let built = databases("pgcluster_tpl_cli_build_");
    assert_eq!(built.len(), 1, "{built:?}");
    let (listed, oid, is_template, allow_conn) = built[0].clone();
    assert_eq!(listed, name);
    assert_eq!((is_template.as_str(), allow_conn.as_str()), ("t", "f"));
    assert!(
        names("pgcluster_tpb_cli_build_").is_empty(),
        "no half-built template"
    );

    // The same inputs: the same template, not built again (same oid).
    assert_eq!(
        line(&["template", "build", "--family", "cli_build", dir]),
        name
    );
    assert_eq!(databases("pgcluster_tpl_cli_build_"), built);

    // Another --version is another key: a new template, and the old one is swept.
    let v2 = line(&[
        "template",
        "build",
        "--family",
        "cli_build",
        "--version",
        "2",
        dir,
    ]);
    assert_ne!(v2, name);
    assert_eq!(names("pgcluster_tpl_cli_build_"), [v2.as_str()]);
    assert_ne!(databases("pgcluster_tpl_cli_build_")[0].1, oid);

    // Dropping a template: its flag is cleared first; nothing is asked without a terminal.
    assert_eq!(
        pgcluster(&["template", "drop", &v2]),
        (0, String::new(), String::new())
    );
    assert!(names("pgcluster_tpl_cli_build_").is_empty());
    assert_eq!(
        pgcluster(&["template", "drop", "--if-exists", &v2]),
        (0, String::new(), String::new())
    );
}

#[test]
fn clone_prints_a_url_of_a_fresh_database_that_drop_removes() {
    let dir = migrations_dir();
    let dir = dir.to_str().unwrap();
    let template = line(&["template", "build", "--family", "cli_clone", dir]);
    let url = line(&["template", "clone", "--family", "cli_clone", dir]);
    assert!(url.starts_with("postgres://postgres@%2F"), "{url}");
    assert!(!url.contains(server().password()), "no password in {url}");
    let name = url.rsplit('/').next().unwrap().to_owned();
    // Named after its owner: the process that ran pgcluster (this test binary).
    assert!(
        name.starts_with(&format!("pgcluster_db_{}_", std::process::id())),
        "{name}"
    );
    let fresh = databases(&name);
    assert_eq!(fresh.len(), 1, "{fresh:?}");
    assert_eq!((fresh[0].2.as_str(), fresh[0].3.as_str()), ("f", "t"));
    // It has the template's tables, and a client takes the URL as it is (one statement a
    // run: psql before 15 prints only the last result of several).
    assert_eq!(
        psql_url(&url, "INSERT INTO users (name) VALUES ('a')"),
        "INSERT 0 1\n"
    );
    assert_eq!(psql_url(&url, "SELECT count(*) FROM posts"), "0\n");
    // The template is the one `build` made, untouched.
    assert_eq!(names("pgcluster_tpl_cli_clone_"), [template.as_str()]);

    // A second clone is another database; --owner names its owner (a process that lives
    // as long as this test, so that no build sweeps its database meanwhile).
    let mut holder = Command::new("sleep").arg("60").spawn().expect("sleep runs");
    let holder_pid = holder.id().to_string();
    let other = line(&[
        "template",
        "clone",
        "--family",
        "cli_clone",
        "--owner",
        &holder_pid,
        dir,
    ]);
    let other_name = other.rsplit('/').next().unwrap().to_owned();
    assert!(
        other_name.starts_with(&format!("pgcluster_db_{holder_pid}_")),
        "{other_name}"
    );
    assert_eq!(names(&other_name), [other_name.as_str()]);

    // Drop by URL and by name.
    assert_eq!(
        pgcluster(&["template", "drop", &url]),
        (0, String::new(), String::new())
    );
    assert!(names(&name).is_empty());
    assert_eq!(
        pgcluster(&["template", "drop", &other_name]),
        (0, String::new(), String::new())
    );
    assert!(names(&other_name).is_empty());
    holder.kill().expect("kill");
    holder.wait().expect("reaped");
    // Gone: an error, unless --if-exists.
    let (status, _, stderr) = pgcluster(&["template", "drop", &name]);
    assert_eq!(status, 1);
    assert!(stderr.starts_with("Error: "), "{stderr}");
    assert_eq!(
        pgcluster(&["template", "drop", "--if-exists", &name]),
        (0, String::new(), String::new())
    );
    // `template` goes where --db says, whatever maintenance setting there is (here one
    // that nothing answers): it connects to what it builds.
    assert_eq!(
        cli::run(
            &[
                "--db",
                "pgsql:///postgres",
                "template",
                "drop",
                "--if-exists",
                &name
            ],
            &[("PGCLUSTER_MAINTENANCE_URL", "postgres://u@127.0.0.1:1/x")]
        ),
        (0, String::new(), String::new())
    );
    assert_eq!(names("pgcluster_tpl_cli_clone_"), [template.as_str()]);
    assert_eq!(
        pgcluster(&["template", "drop", "-y", &template]),
        (0, String::new(), String::new())
    );
}

#[test]
fn drop_refuses_databases_it_did_not_make() {
    server().psql("CREATE DATABASE cli_tpl_keep").unwrap();
    for argument in [
        "cli_tpl_keep",
        "postgres://postgres@%2Ftmp:5432/cli_tpl_keep",
        "template1",
    ] {
        let (status, stdout, stderr) = pgcluster(&["template", "drop", "-y", argument]);
        assert_eq!((status, stdout.as_str()), (1, ""), "{argument}");
        let name = argument.rsplit('/').next().unwrap();
        assert_eq!(
            stderr,
            format!(
                "Error: \"{name}\" is not a database `pgcluster template` made \
                 (pgcluster_db_... or pgcluster_tpl_...); `pgcluster drop` drops any database\n"
            )
        );
    }
    assert_eq!(names("cli_tpl_keep"), ["cli_tpl_keep"]);
    server().psql("DROP DATABASE cli_tpl_keep").unwrap();
}

/// A name over 63 bytes is refused before anything is sent: the server would cut it to
/// 63, the name of another template, whose flag the ALTER would clear.
#[test]
fn drop_refuses_a_name_too_long_before_it_touches_the_one_it_would_be_cut_to() {
    let kept = format!("pgcluster_tpl_{}", "k".repeat(49));
    assert_eq!(kept.len(), 63);
    server()
        .psql(&format!(
            "DROP DATABASE IF EXISTS {kept}; CREATE DATABASE {kept} IS_TEMPLATE true"
        ))
        .unwrap();
    let long = format!("{kept}x");
    let (status, stdout, stderr) = pgcluster(&["template", "drop", "-y", &long]);
    assert_eq!((status, stdout.as_str()), (1, ""), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "Error: Invalid database name \"{long}\": it is 64 bytes long"
        )),
        "{stderr}"
    );
    let row = databases(&kept);
    assert_eq!(
        (row.len(), row[0].2.as_str()),
        (1, "t"),
        "still a template: {row:?}"
    );
    server()
        .psql(&format!(
            "ALTER DATABASE {kept} IS_TEMPLATE false; DROP DATABASE {kept}"
        ))
        .unwrap();
}

#[test]
fn a_bad_directory_is_a_clear_error_and_nothing_is_made() {
    let missing = std::env::temp_dir().join(format!(
        "pgcluster-cli-template-{}-missing",
        std::process::id()
    ));
    let missing = missing.to_str().unwrap();
    for verb in ["build", "clone"] {
        let (status, stdout, stderr) =
            pgcluster(&["template", verb, "--family", "cli_missing", missing]);
        assert_eq!((status, stdout.as_str()), (1, ""), "{verb}");
        assert!(
            stderr.starts_with(&format!("Error: cannot read migrations {missing}: ")),
            "{verb}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    assert!(names("pgcluster_tpl_cli_missing_").is_empty());
    assert!(names("pgcluster_tpb_cli_missing_").is_empty());

    // A migration that fails: the error names the file and the server's message.
    let broken = migrations(
        "broken",
        &[
            ("001_ok.sql", "CREATE TABLE t (id int);"),
            ("002_bad.sql", "CREATE TABLE t (id int);"),
        ],
    );
    let failed_file = broken.path().join("002_bad.sql");
    // The clone's owner is a process of its own: this binary's other tests own fresh
    // databases of their own meanwhile, so only its name tells this clone's apart.
    let mut owner = Command::new("sleep").arg("60").spawn().expect("sleep runs");
    let owner_pid = owner.id().to_string();
    for verb in ["build", "clone"] {
        let mut args = vec!["template", verb, "--family", "cli_broken"];
        if verb == "clone" {
            args.extend(["--owner", &owner_pid]);
        }
        args.push(broken.path_str());
        let (status, stdout, stderr) = pgcluster(&args);
        assert_eq!((status, stdout.as_str()), (1, ""), "{verb}");
        assert!(
            stderr.starts_with(&format!(
                "Error: migration {} failed: ",
                failed_file.display()
            )) && stderr.contains("relation \"t\" already exists"),
            "{verb}: {stderr}"
        );
    }
    assert!(names("pgcluster_tpl_cli_broken_").is_empty());
    assert!(names("pgcluster_tpb_cli_broken_").is_empty());
    assert!(names(&format!("pgcluster_db_{owner_pid}_")).is_empty());
    owner.kill().expect("kill");
    owner.wait().expect("reaped");

    // A family that is not one: said before anything is made.
    let (status, _, stderr) = pgcluster(&["template", "build", "--family", "Bad-Name", missing]);
    assert_eq!(status, 1);
    assert_eq!(
        stderr,
        "Error: template family \"Bad-Name\" must be 1 to 36 bytes of a-z, 0-9 and _\n"
    );
}

#[test]
fn the_family_defaults_to_the_directory_name() {
    let scratch = Scratch::new("cli-template-default");
    let dir = scratch.path().join("Cli-Default");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("001.sql"), "CREATE TABLE x (id int);").unwrap();
    let name = line(&["template", "build", dir.to_str().unwrap()]);
    assert!(name.starts_with("pgcluster_tpl_cli_default_"), "{name}");
    assert_eq!(
        pgcluster(&["template", "drop", "--yes", &name]),
        (0, String::new(), String::new())
    );
}

#[test]
fn a_clone_whose_owner_is_gone_is_swept_by_the_next_build() {
    let dir = migrations_dir();
    let dir = dir.to_str().unwrap();
    // A stand-in for a Python or Go test run that is killed holding its database.
    let mut run = Command::new("sleep").arg("60").spawn().expect("sleep runs");
    let owner = run.id().to_string();
    let url = line(&[
        "template", "clone", "--family", "cli_gone", "--owner", &owner, dir,
    ]);
    let name = url.rsplit('/').next().unwrap().to_owned();
    assert!(
        name.starts_with(&format!("pgcluster_db_{owner}_")),
        "{name}"
    );
    // While the owner runs, a build leaves its database alone.
    let template = line(&["template", "build", "--family", "cli_gone", dir]);
    assert_eq!(names(&name), [name.as_str()]);
    run.kill().expect("kill");
    run.wait().expect("reaped");
    // Once it is gone, the next build drops it, and nothing else.
    assert_eq!(
        line(&["template", "build", "--family", "cli_gone", dir]),
        template
    );
    assert!(names(&name).is_empty(), "{name} swept");
    assert_eq!(names("pgcluster_tpl_cli_gone_"), [template.as_str()]);
    assert_eq!(
        pgcluster(&["template", "drop", "-y", &template]),
        (0, String::new(), String::new())
    );
}
