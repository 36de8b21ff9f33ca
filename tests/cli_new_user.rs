//! The `pgcluster` program as a new user first tries it, on a real server: malformed
//! settings get rex's words (never a password), any NAME the shell passes is checked as a
//! name, and `cluster` shows a libpq setting as it was given.
//!
//! Expected rex texts: `python3 /work/shared/tools/rexref cluster 'SETTING'` (libpq 13,
//! htsql's parser).
#![cfg(all(feature = "testing", feature = "cli"))]

#[path = "support/cli.rs"]
mod cli;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use cli::server;

fn pgcluster<S: AsRef<OsStr>>(args: &[S]) -> (i32, String, String) {
    cli::run(args, &[])
}

const FORM: &str =
    "expected a connection URI of the form 'engine://username:password@host:port/database?options'";

#[test]
fn a_malformed_query_part_gets_rexs_words_without_the_password() {
    let rows = [
        // rexref cluster 'pgsql:///db?a=1&' / 'pgsql:///db?=1'
        ("pgsql:///db?a=1&", "'pgsql:///db?a=1&'"),
        ("pgsql:///db?=1", "'pgsql:///db?=1'"),
        // rex would show the password; it is hidden here.
        (
            "pgsql://u:opensesame@h/db?a=1&",
            "'pgsql://u:xxx@h/db?a=1&'",
        ),
        ("pgsql://u:open/sesame@h/db?=1", "'pgsql://u:xxx@h/db?=1'"),
    ];
    for (setting, shown) in rows {
        for verb in ["cluster", "exists", "drop"] {
            let (status, stdout, stderr) = pgcluster(&["--db", setting, verb]);
            assert_eq!(
                (status, stdout.as_str(), stderr),
                (1, "", format!("Error: {FORM}; got {shown}\n")),
                "{setting} {verb}"
            );
        }
    }
    // A key=value string still is one.
    let (status, stdout, _) = pgcluster(&["--db", "dbname=postgres", "exists"]);
    assert_eq!((status, stdout.as_str()), (0, "true\n"));
}

#[test]
fn a_name_that_is_not_utf8_is_an_invalid_name() {
    let bad = OsStr::from_bytes(b"caf\xe9");
    let setting = server().uri("postgres", "postgres");
    let expected = "Error: Invalid database name \"caf\\xe9\": it is not valid UTF-8\n";
    let runs: [Vec<&OsStr>; 6] = [
        vec![OsStr::new("exists"), bad],
        vec![OsStr::new("create"), bad],
        vec![OsStr::new("drop"), bad],
        vec![OsStr::new("clone"), bad, OsStr::new("x")],
        vec![OsStr::new("clone"), OsStr::new("postgres"), bad],
        vec![OsStr::new("rename"), bad, OsStr::new("x")],
    ];
    for args in runs {
        let mut all = vec![OsStr::new("--db"), OsStr::new(&setting)];
        all.extend(args.iter().copied());
        let (status, stdout, stderr) = pgcluster(&all);
        assert_eq!(
            (status, stdout.as_str(), stderr.as_str()),
            (1, "", expected),
            "{args:?}"
        );
    }
    // Nothing was made under a lossy name.
    let listed = server()
        .psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'caf%' OR datname = 'x'")
        .unwrap();
    assert_eq!(listed.trim(), "0");
}

#[test]
fn cluster_shows_a_libpq_setting_as_given() {
    let rows = [
        ("postgres:///cf_demo", "Cluster('postgres:///cf_demo')\n"),
        (
            "postgresql://u:secret@h:5/x?application_name=a&password=s",
            "Cluster('postgresql://u:xxx@h:5/x?application_name=a&password=xxx')\n",
        ),
        (
            "host=h port=5 dbname=x password='open sesame'",
            "Cluster('host=h port=5 dbname=x password=xxx')\n",
        ),
    ];
    for (setting, shown) in rows {
        let (status, stdout, stderr) = pgcluster(&["--db", setting, "cluster"]);
        assert_eq!(
            (status, stdout.as_str(), stderr.as_str()),
            (0, shown, ""),
            "{setting}"
        );
    }
}
