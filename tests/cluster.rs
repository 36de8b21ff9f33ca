//! The Cluster API on a real server: name safety, every operation, races, busy databases,
//! overwrite failures and what overwrite keeps, invalid databases, missing privileges, and a
//! connection lost mid-DDL.
//!
//! Drivers: a test that runs `for_each_driver(|driver| ...)` runs its checks on the
//! blocking API, then again on the async one (`connecting::SyncCluster`: the same calls;
//! the async ones run to the end on a current-thread runtime), one after the other, since
//! both would use the same database names on the shared server. Those are the ones whose
//! behaviour involves the driver (sessions held and ended under a call, a connection lost
//! mid-DDL, the warm connection reused or replaced when dead, a connect refused, threads
//! racing) and the cheap ones. The overwrite tests built on `overwrite_fixture` check what
//! the server's catalogs hold after SQL the cluster layer wrote once for both drivers,
//! and are the slow ones: they stay on the blocking API (and the async
//! `overwrite_with` calls of `overwrite_with_options_given_anew`), as do the two that
//! already cover both APIs side by side (`one_cluster_shared_by_threads_and_runtimes`,
//! `async_nameless_drop_and_overwrite`) and `server_names_...`, which does no I/O.
#![cfg(feature = "testing")]

mod connecting;
mod overwrite_fixture;

use std::sync::{Arc, Barrier, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use connecting::{each_driver_at_once, for_each_driver, Driver, SyncCluster};
use overwrite_fixture::{has_marker, properties, temporary_databases, Fixture};
use pgcluster::blocking::Cluster;
use pgcluster::cluster::{CreateOptions, DropOptions};
use pgcluster::error::Destructive;
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

/// The shared server's `postgres` database on `driver`.
fn cluster_on(driver: Driver) -> SyncCluster {
    driver
        .sync_cluster("pgsql:///postgres")
        .unwrap()
        .with_env(server().env())
}

fn cluster_as(driver: Driver, user: &str) -> SyncCluster {
    driver
        .sync_cluster(&format!("pgsql://{user}@/postgres"))
        .unwrap()
        .with_env(server().env())
}

/// Every database name, as the server lists them (checked with `psql`, not our client).
fn names() -> Vec<String> {
    // One name per line would break on names with newlines: use a separator byte instead.
    let out = server()
        .psql("SELECT string_agg(encode(convert_to(datname, 'UTF8'), 'hex'), ',') FROM pg_database")
        .unwrap();
    out.trim()
        .split(',')
        .map(|hex| {
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            String::from_utf8(bytes).unwrap()
        })
        .collect()
}

fn count(name: &str) -> usize {
    names().iter().filter(|n| *n == name).count()
}

/// Held by each test that overwrites: one asserts that no temporary database of
/// `overwrite` is left, which another one running would briefly have.
fn one_overwrite_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn text(r: Result<(), Error>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn awkward_names_round_trip() {
    for_each_driver(|driver| {
        let c = cluster_on(driver);
        let names_to_try = [
            "it's \"quoted\"",
            "with space; DROP DATABASE postgres; --",
            "back\\slash",
            "MixedCase",
            "ünïcødé 数据库",
            "line\nbreak",
            // exactly 63 bytes
            &"n".repeat(63),
        ];
        for name in names_to_try {
            assert!(!c.exists(name).unwrap(), "{name:?}");
            c.create(name).unwrap();
            assert!(c.exists(name).unwrap(), "{name:?}");
            assert_eq!(count(name), 1, "{name:?} as the server lists it");
            let renamed = format!("{}~", &name[..name.len().min(40)]);
            c.rename(&renamed, name).unwrap();
            assert_eq!((count(name), count(&renamed)), (0, 1), "{name:?}");
            c.copy_database(&renamed, name).unwrap();
            assert_eq!(count(name), 1, "{name:?} cloned");
            c.drop_database(name).unwrap();
            c.drop_database(renamed.as_str()).unwrap();
            assert!(!c.exists(name).unwrap(), "{name:?}");
        }
        assert!(!names().iter().any(|n| n == "postgres~"));
        assert_eq!(count("postgres"), 1);
    });
}

#[test]
fn names_over_63_bytes_are_refused_and_the_neighbour_is_untouched() {
    for_each_driver(|driver| {
        let c = cluster_on(driver);
        let base = "x".repeat(63);
        c.create(base.as_str()).unwrap();
        let long = format!("{base}y");
        let expected = format!(
            "Invalid database name \"{long}\": it is 64 bytes long, and PostgreSQL names are at most \
             63 bytes (the server would cut it and act on another name)"
        );
        assert_eq!(text(c.drop_database(long.as_str())), expected);
        assert_eq!(text(c.create(long.as_str())), expected);
        assert_eq!(text(c.rename(&long, base.as_str())), expected);
        assert_eq!(c.exists(long.as_str()).unwrap_err().to_string(), expected);
        assert_eq!(count(&base), 1, "the 63-byte neighbour is still there");
        assert_eq!(
            text(c.create("")),
            "Invalid database name: the name is empty"
        );
        assert_eq!(
            text(c.create("a\0b")),
            "Invalid database name \"a\\0b\": it contains a NUL byte"
        );
        c.drop_database(base.as_str()).unwrap();
    });
}

#[test]
fn standard_conforming_strings_off_changes_nothing() {
    server()
        .psql("CREATE ROLE scs_off LOGIN SUPERUSER; ALTER ROLE scs_off SET standard_conforming_strings = off")
        .unwrap();
    for_each_driver(|driver| {
        let c = cluster_as(driver, "scs_off");
        let name = "scs\\off'";
        c.create(name).unwrap();
        assert!(c.exists(name).unwrap());
        assert!(!c.exists("scs\\\\off'").unwrap());
        c.drop_database(name).unwrap();
        assert_eq!(count(name), 0);
    });
}

/// Runs `op` on `threads` threads at once, each with its own Cluster; checks that exactly
/// one succeeds and returns every result.
fn race(
    driver: Driver,
    threads: usize,
    op: impl Fn(&SyncCluster) -> Result<(), Error> + Send + Copy + 'static,
) -> Vec<Result<(), String>> {
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let barrier = barrier.clone();
            thread::spawn(move || {
                let c = cluster_on(driver);
                barrier.wait();
                op(&c).map_err(|e| e.to_string())
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    results
}

#[test]
fn four_threads_create_one_name() {
    for_each_driver(|driver| {
        let name = "race_create";
        let results = race(driver, 4, move |c| c.create(name));
        for e in results.iter().filter_map(|r| r.as_ref().err()) {
            let lost_race = "Got an error from the database server:\n    duplicate key value violates unique constraint \"pg_database_datname_index\"\n    DETAIL:  Key (datname)=(race_create) already exists.";
            let late =
                "Got an error from the database server:\n    database \"race_create\" already exists";
            assert!(e == lost_race || e == late, "{e}");
        }
        assert_eq!(count(name), 1);
        cluster_on(driver).drop_database(name).unwrap();
    });
}

#[test]
fn three_threads_drop_one_name() {
    for_each_driver(|driver| {
        let name = "race_drop";
        cluster_on(driver).create(name).unwrap();
        let results = race(driver, 3, move |c| c.drop_database(name));
        for e in results.iter().filter_map(|r| r.as_ref().err()) {
            assert_eq!(
                e,
                "Got an error from the database server:\n    database \"race_drop\" does not exist"
            );
        }
        assert_eq!(count(name), 0);
    });
}

#[test]
fn busy_database_drop_rename_clone_and_force() {
    each_driver_at_once(|driver| {
        let c = cluster_on(driver);
        let name = &format!("busy_db_{}", driver.name());
        let copy = &format!("{name}_copy");
        c.create(name).unwrap();
        let mut session = c.connect(name).unwrap();
        let busy = "\n    DETAIL:  There is 1 other session using the database.";
        assert_eq!(
            text(c.drop_database(name)),
            format!("Got an error from the database server:\n    database \"{name}\" is being accessed by other users{busy}")
        );
        assert_eq!(
            text(c.rename(format!("{name}_2"), name)),
            format!("Got an error from the database server:\n    database \"{name}\" is being accessed by other users{busy}")
        );
        assert_eq!(
            text(c.copy_database(name, copy)),
            format!("Got an error from the database server:\n    source database \"{name}\" is being accessed by other users{busy}")
        );
        assert_eq!(count(copy), 0);
        c.drop_database_with(name, &DropOptions::new().force(true))
            .unwrap();
        assert_eq!(count(name), 0);
        // The forced drop ended the session.
        let err = session.simple_query("SELECT 1").unwrap_err().to_string();
        assert!(
            err.starts_with("Got an error from the database server:\n    terminating connection due to administrator command"),
            "{err}"
        );
        c.drop_database_with(name, &DropOptions::new().if_exists(true))
            .unwrap();
    });
}

#[test]
fn overwrite_keeps_the_name_through_failures() {
    let _alone = one_overwrite_at_a_time();
    let c = cluster();
    let name = "overwrite_db";
    c.create(name).unwrap();
    server()
        .psql_db(
            name,
            "CREATE TABLE marker (x int); INSERT INTO marker VALUES (42)",
        )
        .unwrap();
    // Other tests create databases at the same time: look only at overwrite's own names.
    let leftovers = || {
        names()
            .into_iter()
            .filter(|n| n.starts_with("pgcluster_new_") || n.starts_with("pgcluster_old_"))
            .collect::<Vec<_>>()
    };
    // The create step fails: the original and its marker survive, nothing is left behind.
    assert_eq!(
        text(c.overwrite_with(name, &CreateOptions::new().template("no_such_template"))),
        "Got an error from the database server:\n    template database \"no_such_template\" does not exist"
    );
    assert_eq!(leftovers(), Vec::<String>::new());
    assert_eq!(
        server().psql_db(name, "SELECT x FROM marker").unwrap(),
        "42\n"
    );
    // The swap fails (a session holds the database): still the original.
    let session = c.connect(name).unwrap();
    let err = text(c.overwrite(name));
    assert!(err.contains("is being accessed by other users"), "{err}");
    assert_eq!(leftovers(), Vec::<String>::new());
    assert_eq!(
        server().psql_db(name, "SELECT x FROM marker").unwrap(),
        "42\n"
    );
    drop(session);
    // Success: a fresh, empty database under the same name.
    c.overwrite(name).unwrap();
    assert_eq!(count(name), 1);
    assert_eq!(
        server()
            .psql_db(
                name,
                "SELECT count(*) FROM pg_tables WHERE tablename = 'marker'"
            )
            .unwrap(),
        "0\n"
    );
    assert_eq!(leftovers(), Vec::<String>::new());
    // Overwriting a missing database creates it.
    c.drop_database(name).unwrap();
    c.overwrite(name).unwrap();
    assert_eq!(count(name), 1);
    c.drop_database(name).unwrap();
}

#[test]
fn list_shows_every_database() {
    for_each_driver(|driver| {
        let c = cluster_on(driver);
        let name = "listed_db";
        c.create_with(
            name,
            &CreateOptions::new().connection_limit(3).is_template(true),
        )
        .unwrap();
        let list = c.list().unwrap();
        let listed: Vec<&str> = list.iter().map(|d| d.name.as_str()).collect();
        let mut sorted = listed.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(listed, sorted, "by name, once each");
        for db in ["postgres", "template0", "template1", name] {
            assert!(listed.contains(&db), "{db} in {listed:?}");
        }
        assert!(
            !list
                .iter()
                .find(|d| d.name == "template0")
                .unwrap()
                .allow_connections
        );
        let info = list.iter().find(|d| d.name == name).unwrap();
        assert_eq!(info.encoding, "UTF8");
        assert_eq!(info.connection_limit, 3);
        assert!(info.is_template && info.allow_connections && info.is_valid);
        assert!(info.size.unwrap() > 0);
        // A template cannot be dropped until it is no longer one.
        assert_eq!(
            text(c.drop_database(name)),
            "Got an error from the database server:\n    cannot drop a template database"
        );
        server()
            .psql("ALTER DATABASE listed_db IS_TEMPLATE false")
            .unwrap();
        c.drop_database(name).unwrap();
    });
}

#[test]
fn invalid_database() {
    for_each_driver(|driver| {
        let c = cluster_on(driver);
        let name = "half_dropped";
        c.create(name).unwrap();
        // What an interrupted DROP DATABASE leaves behind on 15.4+.
        server()
            .psql("UPDATE pg_database SET datconnlimit = -2 WHERE datname = 'half_dropped'")
            .unwrap();
        let info = c
            .list()
            .unwrap()
            .into_iter()
            .find(|d| d.name == name)
            .unwrap();
        assert!(!info.is_valid);
        assert_eq!(info.size, None);
        assert_eq!(
            c.connect(name).unwrap_err().to_string(),
            "Failed to connect to the database server:\n    FATAL:  cannot connect to invalid database \"half_dropped\"\n    HINT:  Use DROP DATABASE to drop invalid databases."
        );
        assert_eq!(
            text(c.copy_database(name, "half_copy")),
            "Got an error from the database server:\n    cannot use invalid database \"half_dropped\" as template\n    HINT:  Use DROP DATABASE to drop invalid databases."
        );
        c.drop_database(name).unwrap();
        assert_eq!(count(name), 0);
    });
}

#[test]
fn role_without_createdb() {
    server().psql("CREATE ROLE no_createdb LOGIN").unwrap();
    for_each_driver(|driver| {
        let c = cluster_as(driver, "no_createdb");
        assert_eq!(
            text(c.create("not_allowed")),
            "Got an error from the database server:\n    permission denied to create database"
        );
        assert_eq!(count("not_allowed"), 0);
    });
}

#[test]
fn connection_lost_mid_ddl_is_an_unknown_outcome() {
    for_each_driver(|driver| {
        let c = cluster_on(driver);
        let template = "ddl_template";
        c.create(template).unwrap();
        // A session on the template makes CREATE DATABASE wait (up to 5 s) before failing:
        // long enough to terminate our maintenance session in the middle of it.
        let holder = c.connect(template).unwrap();
        let killer = thread::spawn(|| {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                let out = server()
                    .psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'CREATE DATABASE \"ddl_copy\"%'")
                    .unwrap();
                if out.contains('t') {
                    return true;
                }
                thread::sleep(Duration::from_millis(20));
            }
            false
        });
        let err = c.copy_database(template, "ddl_copy").unwrap_err();
        assert!(
            killer.join().unwrap(),
            "the CREATE DATABASE was seen and terminated"
        );
        assert!(matches!(err, Error::OutcomeUnknown(_)), "{err:?}");
        // It names the server: the socket directory (the setting's host) and the port.
        assert_eq!(
            err.to_string(),
            format!(
                "Got an error from the database server:\n    terminating connection due to administrator command\n    \
                 server closed the connection unexpectedly\n    \tThis probably means the server terminated abnormally\n    \
                 \tbefore or while processing the request.\n\
                 The connection to server \"{}:{}\" was lost after this statement was sent, so its outcome is unknown; it was not retried:\n    \
                 CREATE DATABASE \"ddl_copy\" WITH ENCODING = \"UTF8\" TEMPLATE = \"ddl_template\";\n\
                 After reconnecting, database \"ddl_copy\" does not exist.",
                server().socket_dir().display(),
                server().port()
            )
        );
        drop(holder);
        c.drop_database(template).unwrap();
    });
}

/// Client backends connected to `postgres`, other than psql's: its own, and those of
/// earlier calls that a loaded machine has not finished ending yet (psql names itself in
/// `application_name`; pgcluster sets none).
fn maintenance_sessions(server: &TestServer) -> Vec<String> {
    let out = server
        .psql("SELECT pid FROM pg_stat_activity WHERE datname = 'postgres' AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name <> 'psql' ORDER BY pid")
        .unwrap();
    out.lines().map(str::to_owned).collect()
}

/// [`maintenance_sessions`] once there are at most `count` (or its last sample after 5 s):
/// a backend whose client has closed its connection (the test server's own set-up, a
/// terminated session) may still be listed for a while on a loaded machine.
fn settled_sessions(server: &TestServer, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut sessions = maintenance_sessions(server);
    while sessions.len() > count && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
        sessions = maintenance_sessions(server);
    }
    sessions
}

#[test]
fn a_warm_cluster_reuses_one_connection_and_replaces_a_dead_one() {
    for_each_driver(|driver| {
        let server = TestServer::new().unwrap();
        let c = driver
            .sync_cluster("pgsql:///postgres")
            .unwrap()
            .with_env(server.env());
        assert!(c.exists("postgres").unwrap());
        let first = settled_sessions(&server, 1);
        assert_eq!(first.len(), 1, "{first:?}");
        for _ in 0..20 {
            assert!(!c.exists("nope").unwrap());
        }
        c.create("warm").unwrap();
        c.drop_database("warm").unwrap();
        assert_eq!(
            maintenance_sessions(&server),
            first,
            "the same backend served every call"
        );
        // The server ends the idle session: the next call notices and opens a new one.
        server
            .psql(&format!("SELECT pg_terminate_backend({})", first[0]))
            .unwrap();
        assert!(c.exists("postgres").unwrap());
        c.create("warm").unwrap();
        c.drop_database("warm").unwrap();
        let second = settled_sessions(&server, 1);
        assert_eq!(second.len(), 1, "{second:?}");
        assert_ne!(second, first);
        // Acting on `postgres` itself goes through template1 and first lets go of the idle
        // session, which would otherwise block copying `postgres`.
        c.copy_database("postgres", "copy_of_postgres").unwrap();
        c.drop_database("copy_of_postgres").unwrap();
        drop(c);
        assert_eq!(
            settled_sessions(&server, 0),
            Vec::<String>::new(),
            "Terminate sent on drop"
        );
    });
}

#[test]
fn one_cluster_shared_by_threads_and_runtimes() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<pgcluster::Cluster>();
    assert_send_sync::<Cluster>();

    // The async Cluster used from several threads, each with a runtime of its own: idle
    // connections move between runtimes.
    let c = Arc::new(
        pgcluster::Cluster::new("pgsql:///postgres")
            .unwrap()
            .with_env(server().env()),
    );
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let c = c.clone();
            thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let name = format!("shared_{i}");
                    for _ in 0..5 {
                        assert!(!c.exists(&name).await.unwrap());
                        c.create(&name).await.unwrap();
                        assert!(c.exists(&name).await.unwrap());
                        c.drop_database(&name).await.unwrap();
                    }
                });
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    // The blocking Cluster from several threads at once.
    let c = Arc::new(cluster());
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let c = c.clone();
            thread::spawn(move || {
                let name = format!("shared_blocking_{i}");
                for _ in 0..5 {
                    c.create(&name).unwrap();
                    assert!(c.exists(&name).unwrap());
                    c.drop_database(&name).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// A nameless drop, overwrite or rename acts only on a database the setting names.

/// The text of the refusal, for `action` and the default it did not take.
fn not_named(action: &str, participle: &str, default: &str) -> String {
    format!(
        "refusing to {action} without a name: the setting names no database, and the default \
         (\"{default}\") is never {participle}; give the name, or name the database in the \
         setting (a URI path or dbname=)"
    )
}

/// Checks that `drop(None)`, `drop_with(None, ..)`, `overwrite(None, ..)` and
/// `rename(.., None)` on `c` are refused, naming `default`, and that `default` and
/// `postgres` are still there afterwards.
fn assert_nameless_refused(c: &SyncCluster, default: &str) {
    assert_eq!(c.named_database(), None, "{c:?}");
    assert_eq!(c.database().unwrap(), default, "{c:?}");
    let drop = not_named("drop", "dropped", default);
    match c.drop_database(None) {
        Err(Error::DatabaseNotNamed {
            action: Destructive::Drop,
            default: Some(d),
        }) => assert_eq!(d, default),
        other => panic!("{c:?}: drop(None) gave {other:?}"),
    }
    assert_eq!(text(c.drop_database(None)), drop, "{c:?}");
    let forced = DropOptions::new().force(true).if_exists(true);
    assert_eq!(text(c.drop_database_with(None, &forced)), drop, "{c:?}");
    assert_eq!(
        text(c.overwrite(None)),
        not_named("overwrite", "overwritten", default),
        "{c:?}"
    );
    assert_eq!(
        text(c.overwrite_with(None, &CreateOptions::new().template("template0"))),
        not_named("overwrite", "overwritten", default),
        "{c:?}"
    );
    assert_eq!(
        text(c.rename("cluster_nameless_renamed", None)),
        not_named("rename", "renamed", default),
        "{c:?}"
    );
    assert_eq!(count(default), 1, "{c:?}: {default} is still there");
    assert_eq!(count("postgres"), 1, "{c:?}: postgres is still there");
    assert_eq!(count("cluster_nameless_renamed"), 0);
}

#[test]
fn nameless_drop_overwrite_rename_never_take_a_default() {
    for_each_driver(|driver| {
        let victim = "cluster_nameless_victim";
        cluster_on(driver)
            .drop_database_with(victim, &DropOptions::new().if_exists(true))
            .unwrap();
        cluster_on(driver).create(victim).unwrap();
        server()
            .psql_db(
                victim,
                "CREATE TABLE marker (x int); INSERT INTO marker VALUES (1);",
            )
            .unwrap();
        let service_dir =
            std::env::temp_dir().join(format!("pgc-h3-service-{}", std::process::id()));
        std::fs::create_dir_all(&service_dir).unwrap();
        let service_file = service_dir.join("pg_service.conf");
        std::fs::write(&service_file, format!("[victim]\ndbname={victim}\n")).unwrap();
        let service_file = service_file.display().to_string();

        // The user name's default: the URI of the report (no path), an empty path, a
        // `key=value` string without dbname, an empty dbname.
        for setting in [
            "postgres://postgres@",
            "postgres:///",
            "user=postgres",
            "dbname=''",
        ] {
            let c = driver
                .sync_cluster(setting)
                .unwrap()
                .with_env(server().env());
            assert_nameless_refused(&c, "postgres");
        }
        // PGDATABASE and a service file's dbname are defaults too.
        let c = driver
            .sync_cluster("user=postgres")
            .unwrap()
            .with_env(server().env().with("PGDATABASE", victim));
        assert_nameless_refused(&c, victim);
        // ... which the other methods still take.
        assert!(c.exists(None).unwrap());
        let mut conn = c.connect(None).unwrap();
        let rows = conn.simple_query("SELECT x FROM marker").unwrap();
        assert_eq!(rows[0].rows[0][0].as_deref(), Some("1"));
        conn.close();
        let c = driver
            .sync_cluster("service=victim")
            .unwrap()
            .with_env(server().env().with("PGSERVICEFILE", &service_file));
        assert_nameless_refused(&c, victim);
        assert!(c.exists(None).unwrap());
        assert_eq!(
            server()
                .psql_db(victim, "SELECT x FROM marker")
                .unwrap()
                .trim(),
            "1",
            "the victim was not overwritten"
        );
        let _ = std::fs::remove_dir_all(&service_dir);
        cluster_on(driver).drop_database(victim).unwrap();
    });
}

#[test]
fn nameless_refusal_comes_before_any_connection() {
    for_each_driver(|driver| {
        // Nothing listens on port 1: a connection attempt would fail with a connect error.
        let c = driver
            .sync_cluster("postgres://postgres@127.0.0.1:1")
            .unwrap();
        assert!(matches!(
            c.drop_database(None),
            Err(Error::DatabaseNotNamed {
                action: Destructive::Drop,
                default: Some(_),
            })
        ));
        assert!(matches!(
            c.overwrite(None),
            Err(Error::DatabaseNotNamed {
                action: Destructive::Overwrite,
                ..
            })
        ));
        // The same setting naming its database does try to connect.
        let named = driver
            .sync_cluster("postgres://postgres@127.0.0.1:1/some_db")
            .unwrap();
        assert_eq!(named.named_database(), Some("some_db"));
        assert!(matches!(named.drop_database(None), Err(Error::Connect(_))));
        assert_eq!(named.server().unwrap(), "127.0.0.1:1");
    });
}

#[test]
fn nameless_drop_overwrite_rename_act_on_the_named_database() {
    for_each_driver(|driver| {
        let _alone = one_overwrite_at_a_time();
        let name = "cluster_named_target";
        let renamed = "cluster_named_target_renamed";
        let neighbour = "cluster_named_neighbour";
        for db in [name, renamed, neighbour] {
            cluster_on(driver)
                .drop_database_with(db, &DropOptions::new().if_exists(true))
                .unwrap();
        }
        cluster_on(driver).create(neighbour).unwrap();
        let by_uri = driver
            .sync_cluster(&format!("postgres:///{name}"))
            .unwrap()
            .with_env(server().env());
        let by_keyword = driver
            .sync_cluster(&format!("user=postgres dbname={name}"))
            .unwrap()
            .with_env(server().env().with("PGDATABASE", neighbour));
        for c in [&by_uri, &by_keyword] {
            assert_eq!(c.named_database(), Some(name));
            cluster_on(driver).create(name).unwrap();
            server()
                .psql_db(name, "CREATE TABLE marker (x int);")
                .unwrap();
            c.overwrite(None).unwrap();
            assert_eq!(count(name), 1, "{c:?}: overwritten, still there");
            assert_eq!(
                server()
                    .psql_db(
                        name,
                        "SELECT count(*) FROM pg_class WHERE relname = 'marker'"
                    )
                    .unwrap()
                    .trim(),
                "0",
                "{c:?}: a fresh database"
            );
            c.rename(renamed, None).unwrap();
            assert_eq!((count(name), count(renamed)), (0, 1), "{c:?}");
            cluster_on(driver).rename(name, renamed).unwrap();
            c.drop_database(None).unwrap();
            assert_eq!(count(name), 0, "{c:?}: dropped");
            assert_eq!(count(neighbour), 1, "{c:?}: the neighbour is untouched");
            assert_eq!(count("postgres"), 1);
        }
        cluster_on(driver).drop_database(neighbour).unwrap();
    });
}

#[test]
fn async_nameless_drop_and_overwrite() {
    let _alone = one_overwrite_at_a_time();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let name = "cluster_async_named_target";
    cluster()
        .drop_database_with(name, &DropOptions::new().if_exists(true))
        .unwrap();
    cluster().create(name).unwrap();
    // (The blocking `Cluster` above cannot run inside the runtime.)
    rt.block_on(async {
        let nameless = pgcluster::Cluster::new("user=postgres")
            .unwrap()
            .with_env(server().env().with("PGDATABASE", name));
        assert_eq!(nameless.named_database(), None);
        let refused = nameless.drop_database(None).await.unwrap_err();
        assert_eq!(refused.to_string(), not_named("drop", "dropped", name));
        let refused = nameless
            .drop_database_with(None, &DropOptions::new().force(true))
            .await
            .unwrap_err();
        assert_eq!(refused.to_string(), not_named("drop", "dropped", name));
        let refused = nameless.overwrite(None).await.unwrap_err();
        assert_eq!(
            refused.to_string(),
            not_named("overwrite", "overwritten", name)
        );
        let refused = nameless.rename("x", None).await.unwrap_err();
        assert_eq!(refused.to_string(), not_named("rename", "renamed", name));
        assert_eq!(count(name), 1);
        assert!(
            nameless.exists(None).await.unwrap(),
            "exists keeps the default"
        );

        let named = pgcluster::Cluster::new(&format!("dbname={name}"))
            .unwrap()
            .with_env(server().env());
        assert_eq!(named.named_database(), Some(name));
        named.overwrite(None).await.unwrap();
        assert_eq!(count(name), 1);
        named.drop_database(None).await.unwrap();
        assert_eq!(count(name), 0);
        assert_eq!(count("postgres"), 1);
    });
}

#[test]
fn server_names_where_connections_go_without_the_password() {
    let env = pgcluster::conninfo::Env::empty().with_os_user("someone");
    let c = Cluster::new(
        "host=/tmp/sock/,::1,db.example hostaddr=,,192.0.2.1 port=1,2,3 password=secret",
    )
    .unwrap()
    .with_env(env.clone());
    assert_eq!(
        c.server().unwrap(),
        "/tmp/sock/.s.PGSQL.1, [::1]:2, db.example:3"
    );
    let c = Cluster::new("pgsql://u:secret@127.0.0.1:5455/d")
        .unwrap()
        .with_env(env.clone());
    assert_eq!(c.server().unwrap(), "127.0.0.1:5455");
    // No host: libpq's default socket, and PGPORT.
    let c = Cluster::new("user=u")
        .unwrap()
        .with_env(env.with("PGPORT", "6543"));
    assert_eq!(c.server().unwrap(), "/var/run/postgresql/.s.PGSQL.6543");
}

#[test]
fn overwrite_keeps_what_the_database_was() {
    let _alone = one_overwrite_at_a_time();
    let server = server();
    let fixture = Fixture::new(server, "ow_keep");
    let name = "ow_keep_db";
    fixture.database(name);
    let (oid, before) = properties(server, name).unwrap();
    assert_eq!(before, fixture.expected(), "the fixture is as meant");
    assert!(has_marker(server, name));
    // Through a superuser whose sessions have standard_conforming_strings off: the
    // comment's backslash and quote must still come through as they were.
    server
        .psql(
            "DO $$BEGIN CREATE ROLE ow_scs_off LOGIN SUPERUSER; \
             EXCEPTION WHEN duplicate_object THEN END$$; \
             ALTER ROLE ow_scs_off SET standard_conforming_strings = off",
        )
        .unwrap();
    let c = cluster_as(Driver::Blocking, "ow_scs_off");
    c.overwrite(name).unwrap();
    let (new_oid, after) = properties(server, name).unwrap();
    assert_eq!(after, before, "every property kept");
    assert_ne!(new_oid, oid, "a new database");
    assert!(!has_marker(server, name), "with fresh content");
    assert_eq!(temporary_databases(server), Vec::<String>::new());
    // Overwritten again: the same again.
    c.overwrite(name).unwrap();
    assert_eq!(properties(server, name).unwrap().1, before);
    // A template given anew that cannot take the old encoding: the server refuses, and
    // the database is still the one it was.
    let (kept_oid, _) = properties(server, name).unwrap();
    let err = text(c.overwrite_with(name, &CreateOptions::new().template("template1")));
    assert_eq!(
        err,
        "Got an error from the database server:\n    new encoding (LATIN1) is incompatible with \
         the encoding of the template database (UTF8)\n    HINT:  Use the same encoding as in the \
         template database, or use template0 as template."
    );
    assert_eq!(properties(server, name).unwrap(), (kept_oid, before));
    assert_eq!(temporary_databases(server), Vec::<String>::new());
    fixture.drop_database(name);
}

#[test]
fn overwrite_with_options_given_anew() {
    let _alone = one_overwrite_at_a_time();
    let server = server();
    let fixture = Fixture::new(server, "ow_anew");
    let (name, reference) = ("ow_anew_db", "ow_anew_ref");
    fixture.database(name);
    // What ALTER DATABASE ... OWNER TO makes of the privileges is what overwrite must make
    // of them with a new owner.
    fixture.database(reference);
    server
        .psql(&format!(
            "ALTER DATABASE {reference} OWNER TO {}; ALTER DATABASE {reference} CONNECTION LIMIT 7",
            fixture.bob
        ))
        .unwrap();
    let (_, expected) = properties(server, reference).unwrap();
    let (oid, before) = properties(server, name).unwrap();
    assert_eq!(before, fixture.expected());
    let c = pgcluster::Cluster::new("pgsql:///postgres")
        .unwrap()
        .with_env(server.env());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let options = CreateOptions::new().owner(&fixture.bob).connection_limit(7);
    rt.block_on(c.overwrite_with(name, &options)).unwrap();
    let (new_oid, after) = properties(server, name).unwrap();
    assert_ne!(new_oid, oid);
    assert!(!has_marker(server, name));
    assert_eq!(after, expected, "as ALTER DATABASE would have made it");
    assert!(
        after.starts_with(&format!("{}|LATIN1|C|C|c||7|", fixture.bob)),
        "{after}"
    );
    // A template flag given anew wins too, and the old template can then be dropped.
    rt.block_on(c.overwrite_with(name, &CreateOptions::new().is_template(false)))
        .unwrap();
    let (_, after) = properties(server, name).unwrap();
    assert_eq!(after, expected.replace("|t|t|", "|f|t|"));
    // So do an encoding and a locale: it replaces both the collation and the character
    // classes.
    rt.block_on(c.overwrite_with(
        name,
        &CreateOptions::new().encoding("utf-8").locale("C.utf8"),
    ))
    .unwrap();
    let (_, after) = properties(server, name).unwrap();
    assert_eq!(
        after,
        expected
            .replace("|t|t|", "|f|t|")
            .replace("|LATIN1|C|C|", "|UTF8|C.utf8|C.utf8|")
    );
    assert_eq!(temporary_databases(server), Vec::<String>::new());
    fixture.drop_database(name);
    fixture.drop_database(reference);
}

#[test]
fn overwrite_of_a_missing_database_creates_it() {
    let _alone = one_overwrite_at_a_time();
    let server = server();
    let c = cluster();
    let name = "ow_missing_db";
    assert_eq!(properties(server, name), None);
    // LATIN1 with locale C cannot be copied from template1: template0 is.
    c.overwrite_with(
        name,
        &CreateOptions::new()
            .encoding("latin1")
            .locale("C")
            .connection_limit(3),
    )
    .unwrap();
    let (_, made) = properties(server, name).unwrap();
    assert_eq!(made, "postgres|LATIN1|C|C|c||3|pg_default|f|t|||");
    c.drop_database(name).unwrap();
    // With nothing given: what create makes.
    c.overwrite(name).unwrap();
    let (_, made) = properties(server, name).unwrap();
    let (_, template1) = properties(server, "template1").unwrap();
    assert_eq!(
        made,
        template1
            .replace("|t|t|{=c/postgres,postgres=CTc/postgres}|", "|f|t||")
            .replace("|default template for new databases|", "||"),
        "{template1}"
    );
    c.drop_database(name).unwrap();
}

#[test]
/// With ICU where the server has it (Debian's builds), else with the builtin provider of
/// PostgreSQL 17 (PyPI's builds have no ICU); a server with neither says it skips.
fn overwrite_keeps_the_locale_provider_and_default_privileges() {
    let _alone = one_overwrite_at_a_time();
    let server = server();
    let name = "ow_icu_db";
    let version = server.server_version_num().expect("server version");
    let has_icu = version >= 150_000
        && server
            .psql("SELECT count(*) > 0 FROM pg_collation WHERE collname = 'und-x-icu'")
            .expect("look for ICU")
            == "t\n";
    let (provider, locale, anew, other) = if has_icu {
        (
            "icu ICU_LOCALE",
            "und-u-ks-level2",
            CreateOptions::new().icu_locale("de"),
            "de",
        )
    } else if version >= 170_000 {
        (
            "builtin BUILTIN_LOCALE",
            "C.UTF-8",
            CreateOptions::new().builtin_locale("C"),
            "C",
        )
    } else {
        eprintln!("skipped: PostgreSQL {version} has neither ICU nor the builtin provider");
        return;
    };
    server
        .psql(&format!(
            "CREATE DATABASE {name} LOCALE_PROVIDER {provider} '{locale}' TEMPLATE template0"
        ))
        .unwrap();
    let (oid, before) = properties(server, name).unwrap();
    // A NULL datacl (the defaults), no comment, no settings.
    let letter = &provider[..1];
    assert_eq!(
        before,
        format!("postgres|UTF8|C|C|{letter}|{locale}|-1|pg_default|f|t|||")
    );
    let c = cluster();
    c.overwrite(name).unwrap();
    let (new_oid, after) = properties(server, name).unwrap();
    assert_ne!(new_oid, oid);
    assert_eq!(after, before);
    // Another locale given anew wins.
    c.overwrite_with(name, &anew).unwrap();
    let (_, after) = properties(server, name).unwrap();
    assert_eq!(after, before.replace(locale, other));
    c.drop_database(name).unwrap();
}

#[test]
fn overwrite_that_cannot_copy_everything_changes_nothing() {
    let _alone = one_overwrite_at_a_time();
    let server = server();
    // A maintenance role that may create the owner's databases but not alter other roles:
    // the new copy cannot get the role-specific setting, so it never takes the name.
    server
        .psql(
            "DO $$BEGIN CREATE ROLE ow_fail_alice; CREATE ROLE ow_fail_bob; \
               CREATE ROLE ow_fail_maint LOGIN CREATEDB; \
             EXCEPTION WHEN duplicate_object THEN END$$; \
             GRANT ow_fail_alice TO ow_fail_maint; \
             CREATE DATABASE ow_fail_db OWNER ow_fail_alice; \
             COMMENT ON DATABASE ow_fail_db IS 'kept'; \
             ALTER ROLE ow_fail_bob IN DATABASE ow_fail_db SET work_mem = '16MB'",
        )
        .unwrap();
    let name = "ow_fail_db";
    server.psql_db(name, "CREATE TABLE marker (x int)").unwrap();
    let before = properties(server, name).unwrap();
    assert!(
        before.1.ends_with("|kept|ow_fail_bob:work_mem=16MB"),
        "{}",
        before.1
    );
    let err = text(cluster_as(Driver::Blocking, "ow_fail_maint").overwrite(name));
    // PostgreSQL 16 says more (its CREATEROLE rules changed).
    let denied = if server.server_version_num().expect("version") >= 160_000 {
        "permission denied to alter role\n    DETAIL:  Only roles with the CREATEROLE \
         attribute and the ADMIN option on role \"ow_fail_bob\" may alter this role."
    } else {
        "permission denied"
    };
    assert_eq!(
        err,
        format!("Got an error from the database server:\n    {denied}")
    );
    assert_eq!(
        properties(server, name).unwrap(),
        before,
        "the same database"
    );
    assert!(has_marker(server, name));
    assert_eq!(temporary_databases(server), Vec::<String>::new());
    // As a superuser it goes through.
    cluster().overwrite(name).unwrap();
    let after = properties(server, name).unwrap();
    assert_ne!(after.0, before.0);
    assert_eq!(after.1, before.1);
    cluster().drop_database(name).unwrap();
}
