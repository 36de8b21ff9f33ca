//! `pgcluster overwrite` through the real program against a real server: the new database
//! keeps what the old one was (owner, encoding, locale, connection limit, tablespace,
//! template flag, comment, privileges, settings), `create`'s options given anew win, and a
//! missing database is created. Every check reads `pg_database` and its neighbours with
//! `psql`.
#![cfg(all(feature = "testing", feature = "cli"))]

#[path = "support/cli.rs"]
mod cli;
mod overwrite_fixture;

use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use cli::{pgcluster, server};
use overwrite_fixture::{has_marker, properties, temporary_databases, Fixture};

/// Held by each test that overwrites: each asserts that no temporary database of
/// `overwrite` is left, which another one running would briefly have.
fn one_overwrite_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

const OK: (i32, &str, &str) = (0, "", "");

fn ok(args: &[&str]) {
    let (status, stdout, stderr) = pgcluster(args);
    assert_eq!((status, stdout.as_str(), stderr.as_str()), OK, "{args:?}");
}

#[test]
fn overwrite_keeps_the_database_and_takes_create_options() {
    let _alone = one_overwrite_at_a_time();
    let server = server();
    let fixture = Fixture::new(server, "cli_ow");
    let name = "cli_ow_db";
    fixture.database(name);
    let (oid, before) = properties(server, name).unwrap();
    assert_eq!(before, fixture.expected(), "the fixture is as meant");

    ok(&["overwrite", name]);
    let (new_oid, after) = properties(server, name).unwrap();
    assert_eq!(after, before, "every property kept");
    assert_ne!(new_oid, oid, "a new database");
    assert!(!has_marker(server, name), "with fresh content");

    // Options given anew win; the rest is kept, the new owner in the old one's place in
    // the privileges (as ALTER DATABASE ... OWNER TO makes them).
    let reference = "cli_ow_ref";
    fixture.database(reference);
    server
        .psql(&format!(
            "ALTER DATABASE {reference} OWNER TO {}; ALTER DATABASE {reference} CONNECTION LIMIT 7",
            fixture.bob
        ))
        .unwrap();
    let (_, expected) = properties(server, reference).unwrap();
    ok(&[
        "overwrite",
        name,
        "--owner",
        &fixture.bob,
        "--connection-limit",
        "7",
    ]);
    let (_, after) = properties(server, name).unwrap();
    assert_eq!(after, expected);
    assert!(
        after.starts_with(&format!("{}|LATIN1|C|C|c||7|cli_ow_ts|t|", fixture.bob)),
        "{after}"
    );

    // A template that cannot take the old encoding: the server's refusal, exit 1, and the
    // database is the one it was.
    let kept = properties(server, name).unwrap();
    let (status, stdout, stderr) = pgcluster(&["overwrite", name, "--template", "template1"]);
    assert_eq!((status, stdout.as_str()), (1, ""));
    assert_eq!(
        stderr,
        "Error: Got an error from the database server:\n    new encoding (LATIN1) is \
         incompatible with the encoding of the template database (UTF8)\n    HINT:  Use the \
         same encoding as in the template database, or use template0 as template.\n"
    );
    assert_eq!(properties(server, name).unwrap(), kept);
    assert_eq!(temporary_databases(server), Vec::<String>::new());

    fixture.drop_database(name);
    fixture.drop_database(reference);
}

#[test]
fn overwrite_of_a_missing_database_creates_it() {
    let _alone = one_overwrite_at_a_time();
    let server = server();
    let name = "cli_ow_missing";
    assert_eq!(properties(server, name), None);
    // As create would, with the options given; template0, since template1 (UTF8) cannot
    // be copied to LATIN1.
    ok(&[
        "overwrite",
        name,
        "--encoding",
        "LATIN1",
        "--locale",
        "C",
        "--connection-limit",
        "2",
        "--is-template",
    ]);
    let (_, made) = properties(server, name).unwrap();
    assert_eq!(made, "postgres|LATIN1|C|C|c||2|pg_default|t|t|||");
    // And overwritten again, it stays so.
    ok(&["overwrite", name]);
    assert_eq!(properties(server, name).unwrap().1, made);
    server
        .psql(&format!(
            "ALTER DATABASE {name} IS_TEMPLATE false; DROP DATABASE {name}"
        ))
        .unwrap();
    assert_eq!(temporary_databases(server), Vec::<String>::new());
}

/// Several programs at once, each on its own thread: (status, stdout, stderr) of each.
fn at_once(runs: Vec<Vec<String>>) -> Vec<(i32, String, String)> {
    let threads: Vec<_> = runs
        .into_iter()
        .map(|args| {
            std::thread::spawn(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                pgcluster(&args)
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().expect("a run"))
        .collect()
}

/// Overwrites of one missing name from several processes at once: one creates it, and
/// each other one, finding the name taken when its new database is about to take it,
/// starts again and overwrites that one in turn (never `database ... already exists`).
/// Clones of one source at once all succeed too: `CREATE DATABASE ... TEMPLATE` takes a
/// lock on the source that concurrent copies share.
#[test]
fn overwrites_and_clones_from_several_processes_at_once() {
    let _alone = one_overwrite_at_a_time();
    let server = server();
    let name = "cli_ow_racing";
    for round in 0..3 {
        assert_eq!(properties(server, name), None, "round {round}");
        let runs = (0..4)
            .map(|_| vec!["overwrite".into(), "--yes".into(), name.into()])
            .collect();
        for (status, stdout, stderr) in at_once(runs) {
            assert_eq!(
                (status, stdout.as_str(), stderr.as_str()),
                OK,
                "round {round}"
            );
        }
        assert!(properties(server, name).is_some(), "round {round}");
        assert_eq!(temporary_databases(server), Vec::<String>::new());
        server.psql(&format!("DROP DATABASE {name}")).unwrap();
    }
    let source = "cli_ow_clone_source";
    server
        .psql(&format!(
            "CREATE DATABASE {source}; ALTER DATABASE {source} IS_TEMPLATE true"
        ))
        .unwrap();
    server
        .psql_db(
            source,
            "CREATE TABLE t AS SELECT g FROM generate_series(1, 20000) g",
        )
        .unwrap();
    let copies: Vec<String> = (0..6).map(|i| format!("cli_ow_clone_{i}")).collect();
    let runs = copies
        .iter()
        .map(|copy| vec!["clone".into(), source.into(), copy.clone()])
        .collect();
    for (status, stdout, stderr) in at_once(runs) {
        assert_eq!((status, stdout.as_str(), stderr.as_str()), OK);
    }
    for copy in &copies {
        assert_eq!(
            server
                .psql_db(copy, "SELECT count(*) FROM t")
                .unwrap()
                .trim(),
            "20000",
            "{copy}"
        );
        server.psql(&format!("DROP DATABASE {copy}")).unwrap();
    }
    server
        .psql(&format!(
            "ALTER DATABASE {source} IS_TEMPLATE false; DROP DATABASE {source}"
        ))
        .unwrap();
}

#[test]
fn help_says_what_is_kept_and_what_a_missing_database_becomes() {
    let out = Command::new(env!("CARGO_BIN_EXE_pgcluster"))
        .args(["overwrite", "--help"])
        .output()
        .expect("run pgcluster");
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap().replace('\n', " ");
    for words in [
        "owner, encoding, locale",
        "connection limit, tablespace",
        "comment, privileges and settings",
        "the options given win",
        "If database NAME does not exist, it is created as `create` would, with the options given",
        "template0 when the encoding or locale differ",
        "if another session creates it meanwhile, that one is overwritten in turn",
    ] {
        assert!(help.contains(words), "{words:?} in {help}");
    }
    for option in [
        "--template",
        "--owner",
        "--encoding",
        "--locale",
        "--lc-collate",
        "--lc-ctype",
        "--tablespace",
        "--strategy",
        "--is-template",
        "--connection-limit",
    ] {
        assert!(help.contains(option), "{option} in {help}");
    }
}
