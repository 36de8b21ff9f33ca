//! Interrupting the work, on a real server: the library's `Interrupter` on the blocking
//! `Cluster` from another thread, and SIGINT / SIGTERM sent to the `pgcluster` program in
//! the middle of a `clone` or `overwrite` of a database large enough to take seconds; then
//! `pgcluster cleanup`. Each test asserts what `pg_database` holds afterwards (read with
//! `psql`, not our client), and again a while later: a cancelled `CREATE DATABASE` must
//! not finish in the background.
//!
//! No timing is asserted: the tests poll `pg_stat_activity` until the statement is seen
//! running, and bound every wait generously ("never hangs").
#![cfg(feature = "testing")]

use std::thread;
use std::time::{Duration, Instant};

use pgcluster::blocking::Cluster;
use pgcluster::error::Stage;
use pgcluster::testing::TestServer;
use pgcluster::Error;

fn server() -> &'static TestServer {
    TestServer::shared().expect("a throwaway PostgreSQL server")
}

fn cluster() -> Cluster {
    Cluster::new("pgsql:///postgres")
        .unwrap()
        .with_env(server().env())
}

/// Runs `sql` with `psql` on `postgres`; its output, trimmed.
fn psql(sql: &str) -> String {
    server()
        .psql(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .trim()
        .to_owned()
}

/// Whether `pg_database` lists `name` (through `psql`).
fn listed(name: &str) -> bool {
    psql(&format!(
        "SELECT count(*) FROM pg_database WHERE datname = '{name}'"
    )) == "1"
}

/// Polls until `cond` holds; panics after a generous bound.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !cond() {
        assert!(Instant::now() < deadline, "never saw {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until a `CREATE DATABASE "name"` is running (seen in `pg_stat_activity`).
fn wait_for_create(name: &str) {
    wait_for(&format!("CREATE DATABASE \"{name}\" running"), || {
        psql(&format!(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE state = 'active' AND query LIKE 'CREATE DATABASE \"{name}\"%'"
        )) != "0"
    });
}

#[test]
fn the_interrupter_cancels_a_blocked_clone_from_another_thread() {
    let source = "intr_lib_source";
    let copy = "intr_lib_copy";
    psql(&format!("DROP DATABASE IF EXISTS {copy}"));
    psql(&format!("DROP DATABASE IF EXISTS {source}"));
    psql(&format!("CREATE DATABASE {source}"));

    // A session renaming the source in an open transaction holds its lock, so the copy
    // waits for it: a statement that runs until it is cancelled, whatever the machine's
    // speed.
    let holder = cluster();
    let mut lock = holder.connect("postgres").unwrap();
    lock.simple_query(&format!(
        "BEGIN; ALTER DATABASE {source} RENAME TO {source}_held"
    ))
    .unwrap();

    let cluster = cluster();
    let interrupter = cluster.interrupter();
    assert!(!interrupter.is_interrupted());
    let worker = {
        let source = source.to_owned();
        thread::spawn(move || {
            let result = cluster.clone(&source, copy);
            (cluster, result)
        })
    };
    wait_for_create(copy);
    interrupter.interrupt().unwrap();
    assert!(interrupter.is_interrupted());
    let (cluster, result) = worker.join().unwrap();
    let e = result.unwrap_err();
    let Error::Interrupted(i) = &e else {
        panic!("not an interrupt: {e}");
    };
    assert_eq!(i.stage, Stage::Cancelled);
    assert_eq!(i.exists, Some(false));
    assert!(i
        .statement
        .starts_with(&format!("CREATE DATABASE \"{copy}\"")));
    assert_eq!(
        e.to_string(),
        format!(
            "interrupted: CREATE DATABASE \"{copy}\" was cancelled; pg_database shows no database \"{copy}\""
        )
    );

    // Nothing new starts on an interrupted cluster; the name is checked first.
    assert_eq!(
        cluster.exists(copy).unwrap_err().to_string(),
        "interrupted: a query of pg_database was not started"
    );
    assert_eq!(
        cluster.drop(source).unwrap_err().to_string(),
        format!(
            "interrupted: DROP DATABASE \"{source}\" was not started; pg_database shows database \"{source}\""
        )
    );

    lock.simple_query("ROLLBACK").unwrap();
    lock.close();
    assert!(listed(source) && !listed(copy));
    // The cancelled copy does not appear later.
    thread::sleep(Duration::from_secs(2));
    assert!(!listed(copy));
    psql(&format!("DROP DATABASE {source}"));
}

#[test]
fn an_interrupter_of_an_idle_cluster_only_marks_it() {
    let cluster = cluster();
    assert!(!cluster.exists("intr_idle_none").unwrap());
    let interrupter = cluster.interrupter();
    let other = interrupter.clone();
    thread::spawn(move || other.interrupt())
        .join()
        .unwrap()
        .unwrap();
    assert!(interrupter.is_interrupted());
    let e = cluster.create("intr_idle_new", None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "interrupted: CREATE DATABASE \"intr_idle_new\" was not started; pg_database shows no database \"intr_idle_new\""
    );
    assert!(!listed("intr_idle_new"));
    assert_eq!(
        cluster.list().unwrap_err().to_string(),
        "interrupted: a query of pg_database was not started"
    );
    // Another cluster of the same setting is not interrupted.
    assert!(!self::cluster().exists("intr_idle_new").unwrap());
}
