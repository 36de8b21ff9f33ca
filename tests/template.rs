//! Templates keyed by their migrations and fresh databases per test
//! (`pgcluster::testing::{Migrations, Template, FreshDatabase}`), on a real server.
//! Run with `cargo test --features testing --test template`.
#![cfg(feature = "testing")]

#[path = "support/private_tmp.rs"]
mod private_tmp;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use pgcluster::conninfo::{Config, Env};
use pgcluster::testing::{
    CloneMethod, FreshDatabase, Migrations, Template, TemplateError, TestServer, FRESH_PREFIX,
    TEMPLATE_PREFIX, TEST_URL_VAR,
};
use private_tmp::PrivateTmp;

/// Set in the environment of the child processes these tests run (`builder_child`,
/// `panicking_child`): the server's connection string.
const CHILD_SERVER: &str = "PGCLUSTER_TEMPLATE_CHILD_SERVER";
/// The family a child builds.
const CHILD_FAMILY: &str = "PGCLUSTER_TEMPLATE_CHILD_FAMILY";
/// The file a building child's setup appends its pid to.
const CHILD_MARKER: &str = "PGCLUSTER_TEMPLATE_CHILD_MARKER";

/// The example migrations (also the README's).
fn migrations_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/migrations")
}

/// One server for this binary, with room for 8 threads' connections and their clones.
fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        TestServer::builder()
            .max_connections(60)
            .start()
            .expect("server starts")
    })
}

/// Tests that compare the whole of `pg_database` before and after take this exclusively;
/// the others share it, so that none changes `pg_database` in the meantime.
static PG_DATABASE: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    PG_DATABASE.read().unwrap_or_else(|e| e.into_inner())
}

fn alone() -> RwLockWriteGuard<'static, ()> {
    PG_DATABASE.write().unwrap_or_else(|e| e.into_inner())
}

/// The server's connection string for `build_at` (socket, superuser).
fn conninfo(server: &TestServer) -> String {
    format!(
        "host={} port={} user=postgres",
        server.socket_dir().display(),
        server.port()
    )
}

/// `pg_database` as (name → oid, xmin, datistemplate, datallowconn): a row changed in any
/// way gets a new xmin. Without this process's clones made ahead (`..._ready`), which the
/// templates of other tests make and drop in the background.
fn databases(server: &TestServer) -> BTreeMap<String, String> {
    all_databases(server)
        .into_iter()
        .filter(|(name, _)| !is_ready_clone(name))
        .collect()
}

/// `pg_database` as [`databases`] shows it, with the clones made ahead.
fn all_databases(server: &TestServer) -> BTreeMap<String, String> {
    server
        .psql("SELECT datname, oid || ',' || xmin || ',' || datistemplate || ',' || datallowconn FROM pg_database")
        .expect("psql")
        .lines()
        .map(|l| {
            let (name, rest) = l.split_once('|').expect("two columns");
            (name.to_owned(), rest.to_owned())
        })
        .collect()
}

/// Whether `name` is one of this process's clones made ahead:
/// `pgcluster_db_<pid>_<n>_<family>_ready`.
fn is_ready_clone(name: &str) -> bool {
    name.strip_prefix(&format!("{FRESH_PREFIX}{}_", std::process::id()))
        .is_some_and(|rest| rest.ends_with("_ready"))
}

/// This process's clones made ahead for `family`, as (name → oid).
fn ready_clones(server: &TestServer, family: &str) -> BTreeMap<String, String> {
    all_databases(server)
        .into_iter()
        .filter(|(name, _)| is_ready_clone(name) && name.ends_with(&format!("_{family}_ready")))
        .map(|(name, row)| {
            let oid = row.split(',').next().expect("oid").to_owned();
            (name, oid)
        })
        .collect()
}

/// Waits (up to a minute: the clones are made in the background on a busy machine) until
/// `family` has `n` clones made ahead; them.
fn wait_for_ready(server: &TestServer, family: &str, n: usize) -> BTreeMap<String, String> {
    let started = Instant::now();
    loop {
        let ready = ready_clones(server, family);
        if ready.len() == n || started.elapsed() > Duration::from_secs(60) {
            return ready;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The oid of database `name`.
fn oid(server: &TestServer, name: &str) -> String {
    all_databases(server)
        .get(name)
        .and_then(|row| row.split(',').next())
        .unwrap_or_else(|| panic!("{name} exists"))
        .to_owned()
}

/// The databases whose names start with `prefix`.
fn named(server: &TestServer, prefix: &str) -> Vec<String> {
    databases(server)
        .into_keys()
        .filter(|n| n.starts_with(prefix))
        .collect()
}

fn exists(server: &TestServer, name: &str) -> bool {
    databases(server).contains_key(name)
}

/// The users of a fresh database of `template`.
fn users(template: &Template) -> Vec<String> {
    users_in(&template.fresh().expect("fresh database"))
}

/// The users in `db`.
fn users_in(db: &FreshDatabase) -> Vec<String> {
    let mut conn = db.connect().expect("connects");
    let result = conn
        .query("SELECT name FROM users ORDER BY id", &[])
        .expect("query");
    conn.close();
    result
        .rows
        .into_iter()
        .map(|r| r[0].clone().expect("not null"))
        .collect()
}

#[test]
fn template_has_the_migrations_and_the_setup_and_is_flagged() {
    let _lock = shared();
    let server = server();
    let template = Migrations::new("flags")
        .dir(migrations_dir())
        .setup("1", |conn| {
            conn.simple_query("INSERT INTO users (name) VALUES ('admin')")?;
            Ok(())
        })
        .build(server)
        .expect("template builds");
    assert!(template.built_now());
    assert!(template.name().starts_with("pgcluster_tpl_flags_"));
    assert_eq!(template.name().len(), "pgcluster_tpl_flags_".len() + 12);
    assert!(template
        .key()
        .starts_with(&template.name()["pgcluster_tpl_flags_".len()..]));
    let flags = server
        .psql(&format!(
            "SELECT datistemplate, datallowconn FROM pg_database WHERE datname = '{}'",
            template.name()
        ))
        .expect("psql");
    assert_eq!(flags, "t|f\n");
    assert!(named(server, "pgcluster_tpb_flags_").is_empty());
    assert_eq!(users(&template), ["admin"]);
    // The second migration file ran too.
    let db = template.fresh().expect("fresh");
    let mut conn = db.connect().expect("connects");
    conn.simple_query("INSERT INTO posts (author, title) VALUES (1, 'hello')")
        .expect("posts exists, with its foreign key");
    let e = conn
        .simple_query("INSERT INTO posts (author, title) VALUES (2, 'nobody')")
        .unwrap_err();
    assert_eq!(e.sqlstate(), Some("23503"), "{e}");
}

#[test]
fn concurrent_builders_in_threads_build_once_and_share_it() {
    let _lock = shared();
    let server = server();
    let runs = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(2));
    let builders: Vec<_> = (0..2)
        .map(|_| {
            let (runs, barrier) = (Arc::clone(&runs), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let migrations =
                    Migrations::new("threads")
                        .dir(migrations_dir())
                        .setup("1", move |conn| {
                            runs.fetch_add(1, Ordering::SeqCst);
                            // Widen the window in which the other builder waits for the lock.
                            std::thread::sleep(Duration::from_millis(300));
                            conn.simple_query("INSERT INTO users (name) VALUES ('built once')")?;
                            Ok(())
                        });
                barrier.wait();
                migrations.build(server).expect("template builds")
            })
        })
        .collect();
    let templates: Vec<Template> = builders
        .into_iter()
        .map(|b| b.join().expect("builder ends"))
        .collect();
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the setup ran once");
    assert_eq!(templates[0].name(), templates[1].name());
    assert_eq!(
        templates.iter().filter(|t| t.built_now()).count(),
        1,
        "{templates:?}"
    );
    assert_eq!(
        named(server, "pgcluster_tpl_threads_"),
        [templates[0].name()]
    );
    assert!(named(server, "pgcluster_tpb_threads_").is_empty());
    for template in &templates {
        assert_eq!(users(template), ["built once"]);
    }
}

/// Not a test on its own: `concurrent_builders_in_processes_build_once` runs it in child
/// processes, which build the template of `CHILD_FAMILY` on the server of `CHILD_SERVER`
/// and print its name.
#[test]
fn builder_child() {
    let (Ok(server), Ok(family), Ok(marker)) = (
        std::env::var(CHILD_SERVER),
        std::env::var(CHILD_FAMILY),
        std::env::var(CHILD_MARKER),
    ) else {
        return;
    };
    let template = Migrations::new(&family)
        .dir(migrations_dir())
        .setup("1", move |conn| {
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&marker)?;
            writeln!(file, "{}", std::process::id())?;
            std::thread::sleep(Duration::from_millis(300));
            conn.simple_query("INSERT INTO users (name) VALUES ('from a child')")?;
            Ok(())
        })
        .build_at(&server)
        .expect("template builds");
    println!(
        "\ntemplate={}\nbuilt_now={}",
        template.name(),
        template.built_now()
    );
}

fn run_child(test: &str, vars: &[(&str, &str)]) -> std::process::Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .envs(vars.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("child runs")
}

fn field<'a>(output: &'a Output, name: &str) -> Option<&'a str> {
    std::str::from_utf8(&output.stdout)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(name))
}

#[test]
fn concurrent_builders_in_processes_build_once() {
    let _lock = shared();
    let server = server();
    let marker =
        std::env::temp_dir().join(format!("pgcluster-template-marker-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let info = conninfo(server);
    let marker_text = marker.display().to_string();
    let vars = [
        (CHILD_SERVER, info.as_str()),
        (CHILD_FAMILY, "processes"),
        (CHILD_MARKER, marker_text.as_str()),
    ];
    let children = [
        run_child("builder_child", &vars),
        run_child("builder_child", &vars),
    ];
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("child ends"))
        .collect();
    for output in &outputs {
        assert!(
            output.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let names: Vec<_> = outputs
        .iter()
        .map(|o| field(o, "template=").expect("a name"))
        .collect();
    assert_eq!(names[0], names[1]);
    let built: Vec<_> = outputs
        .iter()
        .map(|o| field(o, "built_now=").expect("built_now"))
        .collect();
    assert_eq!(
        built.iter().filter(|b| **b == "true").count(),
        1,
        "{built:?}"
    );
    let marker_lines = std::fs::read_to_string(&marker).expect("the setup ran");
    assert_eq!(marker_lines.lines().count(), 1, "{marker_lines}");
    std::fs::remove_file(&marker).expect("marker removed");
    assert_eq!(named(server, "pgcluster_tpl_processes_"), [names[0]]);
    assert!(named(server, "pgcluster_tpb_processes_").is_empty());
    // This process finds it, and so does not build it again.
    let again = Migrations::new("processes")
        .dir(migrations_dir())
        .setup("1", |_| panic!("must not run: the template exists"))
        .build(server)
        .expect("template found");
    assert!(!again.built_now());
    assert_eq!(again.name(), names[0]);
    assert_eq!(users(&again), ["from a child"]);
}

#[test]
fn templates_of_old_keys_are_swept_and_nothing_else_is_touched() {
    // No clones made ahead: the rows compared are all the test's own doing.
    let _lock = alone();
    let server = server();
    let v1 = Migrations::new("sweep")
        .dir(migrations_dir())
        .setup("1", |_| Ok(()))
        .ready(0)
        .build(server)
        .expect("v1 builds");
    assert!(v1.built_now());
    let reused = Migrations::new("sweep")
        .dir(migrations_dir())
        .setup("1", |_| Ok(()))
        .ready(0)
        .build(server)
        .expect("v1 again");
    assert!(!reused.built_now());
    assert_eq!(reused.name(), v1.name());
    // Look-alikes that are not this family's templates, and another family's template.
    let decoys = [
        "pgcluster_tpl_sweep_x_0123456789ab",
        "pgcluster_tpl_sweep_0123456789ab_x",
        "pgcluster_tpl_sweep_0123456789aB",
        "pgcluster_tpl_sweepy_0123456789ab",
        "sweep_0123456789ab",
    ];
    for decoy in decoys {
        server
            .psql(&format!("CREATE DATABASE \"{decoy}\""))
            .expect("decoy");
    }
    let other = Migrations::new("sweep_other")
        .dir(migrations_dir())
        .ready(0)
        .build(server)
        .expect("other family builds");
    let fresh = v1.fresh().expect("a fresh database of v1");
    let before = databases(server);

    let v2 = Migrations::new("sweep")
        .dir(migrations_dir())
        .setup("2", |_| Ok(()))
        .ready(0)
        .build(server)
        .expect("v2 builds");
    assert!(v2.built_now());
    assert_ne!(v2.name(), v1.name());
    let after = databases(server);
    assert!(!after.contains_key(v1.name()), "v1 swept: {after:?}");
    assert!(after.contains_key(v2.name()));
    // Everything else is as it was, row for row (a changed row has a new xmin).
    let mut expected = before.clone();
    expected.remove(v1.name());
    let mut got = after.clone();
    got.remove(v2.name());
    assert_eq!(got, expected);
    for name in decoys.iter().copied().chain([other.name(), fresh.name()]) {
        assert!(after.contains_key(name), "{name} kept");
    }
    // A fresh database of the swept template still drops.
    let name = fresh.name().to_owned();
    fresh.remove().expect("dropped");
    assert!(!exists(server, &name));
    // An old handle rebuilds its template when it was swept meanwhile (and so sweeps v2).
    assert_eq!(users(&v1), Vec::<String>::new());
    assert!(exists(server, v1.name()));
    assert!(!exists(server, v2.name()));
    for decoy in decoys {
        server
            .psql(&format!("DROP DATABASE \"{decoy}\""))
            .expect("decoy dropped");
    }
}

/// The 55006 errors ("... is being accessed by other users") in the server's log after
/// byte `start`.
fn busy_errors(server: &TestServer, start: usize) -> usize {
    let log = server.log();
    log.get(start..)
        .unwrap_or("")
        .matches("is being accessed by other users")
        .count()
}

#[test]
fn a_hundred_tests_on_eight_threads_each_get_a_fresh_database() {
    let _lock = alone();
    let server = server();
    let template = Migrations::new("many")
        .dir(migrations_dir())
        .build(server)
        .expect("template builds");
    let before = databases(server);
    let log_start = server.log().len();
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..8)
        .map(|i| {
            let (template, next) = (template.clone(), Arc::clone(&next));
            std::thread::Builder::new()
                .name(format!("many::worker_{i}"))
                .spawn(move || {
                    let mut failures = Vec::new();
                    let mut methods = Vec::new();
                    while next.fetch_add(1, Ordering::SeqCst) < 100 {
                        let outcome = (|| -> Result<(), Box<dyn std::error::Error>> {
                            let db = template.fresh()?;
                            assert!(db
                                .name()
                                .starts_with(&format!("{FRESH_PREFIX}{}_", std::process::id())));
                            assert!(db.name().ends_with(&format!("_many_worker_{i}")), "{db:?}");
                            methods.push(db.clone_method());
                            let mut conn = db.connect()?;
                            conn.simple_query("INSERT INTO users (name) VALUES ('mine')")?;
                            let count = conn.query("SELECT count(*) FROM users", &[])?;
                            assert_eq!(count.rows, [[Some("1".to_owned())]]);
                            conn.close();
                            db.remove()?;
                            Ok(())
                        })();
                        if let Err(e) = outcome {
                            failures.push(e.to_string());
                        }
                    }
                    (failures, methods)
                })
                .expect("thread starts")
        })
        .collect();
    let mut methods = Vec::new();
    for worker in workers {
        let (failures, m) = worker.join().expect("worker ends");
        assert_eq!(failures, Vec::<String>::new());
        methods.extend(m);
    }
    assert_eq!(methods.len(), 100);
    let expected = match template.server_version() {
        v if v >= 180_000 => None,
        v if v >= 150_000 => Some(CloneMethod::FileCopy),
        _ => Some(CloneMethod::Copy),
    };
    if let Some(expected) = expected {
        assert!(methods.iter().all(|m| *m == expected), "{methods:?}");
    }
    assert_eq!(databases(server), before, "nothing left, nothing touched");
    // Not even a retried 55006: the server logged none while the clones ran.
    assert_eq!(busy_errors(server, log_start), 0);
}

#[test]
fn clones_made_ahead_are_renamed_into_place_one_per_test() {
    let _lock = shared();
    let server = server();
    let template = Migrations::new("ahead")
        .dir(migrations_dir())
        .setup("1", |conn| {
            conn.simple_query("INSERT INTO users (name) VALUES ('admin')")?;
            Ok(())
        })
        .ready(2)
        .build(server)
        .expect("template builds");
    let ready = wait_for_ready(server, "ahead", 2);
    assert_eq!(ready.len(), 2, "{ready:?}");
    // Two tests take them: each gets one of them, renamed (a rename keeps the oid; a clone
    // would have a new one), under its own name.
    let (a, b) = (template.fresh().expect("a"), template.fresh().expect("b"));
    let (oid_a, oid_b) = (oid(server, a.name()), oid(server, b.name()));
    assert_ne!(oid_a, oid_b);
    let oids: BTreeSet<&String> = ready.values().collect();
    assert!(oids.contains(&oid_a) && oids.contains(&oid_b), "{ready:?}");
    assert!(a.name().ends_with("_into_place_one_per_test"), "{a:?}");
    let now = all_databases(server);
    for name in ready.keys() {
        assert!(!now.contains_key(name), "{name} renamed");
    }
    // Each holds the template's content, and is its test's alone.
    assert_eq!(users(&template).len(), 1);
    let mut conn = a.connect().expect("connects");
    conn.simple_query("INSERT INTO users (name) VALUES ('only in a')")
        .expect("insert");
    conn.close();
    assert_eq!(users_in(&a), ["admin", "only in a"]);
    assert_eq!(users_in(&b), ["admin"]);
    // Dropped like any fresh database; the store is made full again, with new clones.
    let (name_a, name_b) = (a.name().to_owned(), b.name().to_owned());
    a.remove().expect("a dropped");
    drop(b);
    assert!(!exists(server, &name_a) && !exists(server, &name_b));
    let refilled = wait_for_ready(server, "ahead", 2);
    assert_eq!(refilled.len(), 2, "{refilled:?}");
    assert!(
        refilled.keys().all(|n| !ready.contains_key(n)),
        "{refilled:?}"
    );
    // The last handle gone, no clone made ahead is left.
    drop(template);
    let left = wait_for_ready(server, "ahead", 0);
    assert_eq!(left, BTreeMap::new());
}

#[test]
fn a_passing_tests_database_is_dropped() {
    let _lock = shared();
    let server = server();
    let template = Migrations::new("passing")
        .dir(migrations_dir())
        .build(server)
        .expect("template builds");
    let db = template.fresh().expect("fresh");
    let name = db.name().to_owned();
    assert!(exists(server, &name));
    // A session still open when the handle drops does not keep it.
    let mut conn = db.connect().expect("connects");
    conn.simple_query("SELECT 1").expect("query");
    drop(db);
    assert!(!exists(server, &name));
    drop(conn);
    // `keep` keeps it and gives its URI, which psql takes.
    let kept = template.fresh().expect("fresh");
    let name = kept.name().to_owned();
    let uri = kept.keep();
    assert!(uri.starts_with("postgres://postgres@%2F"), "{uri}");
    let output = Command::new(server.bin_dir().join("psql"))
        .args(["-X", "-A", "-t", &uri, "-c", "SELECT current_database()"])
        .env_remove("PGHOST")
        .env_remove("PGPORT")
        .env_remove("PGDATABASE")
        .output()
        .expect("psql runs");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("{name}\n"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    server
        .psql(&format!("DROP DATABASE {name}"))
        .expect("dropped");
}

/// Not a test on its own: `a_panicking_tests_database_is_kept` runs it in a child process,
/// which takes a fresh database and panics.
#[test]
fn panicking_child() {
    let Ok(server) = std::env::var(CHILD_SERVER) else {
        return;
    };
    let template = Migrations::new("panicking")
        .dir(migrations_dir())
        .build_at(&server)
        .expect("template builds");
    let db = template.fresh().expect("fresh");
    let mut conn = db.connect().expect("connects");
    conn.simple_query("INSERT INTO users (name) VALUES ('evidence')")
        .expect("insert");
    panic!("the test fails while holding {}", db.name());
}

#[test]
fn a_panicking_tests_database_is_kept() {
    // Alone: a template built meanwhile would sweep the kept database (its owner is gone).
    let _lock = alone();
    let server = server();
    let info = conninfo(server);
    let output = run_child("panicking_child", &[(CHILD_SERVER, info.as_str())])
        .wait_with_output()
        .expect("child ends");
    assert!(!output.status.success(), "the child test fails");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("pgcluster: test failed; kept its database: psql '"))
        .unwrap_or_else(|| panic!("no kept line in:\n{stderr}"));
    let uri = line.strip_suffix('\'').expect("quoted");
    assert!(!uri.contains(server.password()));
    // The URI leads psql into the database as the test left it.
    let output = Command::new(server.bin_dir().join("psql"))
        .args([
            "-X",
            "-A",
            "-t",
            uri,
            "-c",
            "SELECT current_database(), name FROM users",
        ])
        .output()
        .expect("psql runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let (name, user) = stdout
        .trim_end()
        .split_once('|')
        .unwrap_or_else(|| panic!("{stdout}{}", String::from_utf8_lossy(&output.stderr)));
    assert_eq!(user, "evidence");
    assert!(name.starts_with(FRESH_PREFIX), "{name}");
    assert!(name.ends_with("_panicking_child"), "{name}");
    assert!(
        stderr.contains(&format!("while holding {name}")),
        "{stderr}"
    );
    server
        .psql(&format!("DROP DATABASE {name}"))
        .expect("dropped");
}

#[test]
fn a_busy_template_is_reported_with_its_sessions() {
    let _lock = alone();
    let server = server();
    // No clone made ahead: each `fresh` clones the template.
    let template = Migrations::new("busy")
        .dir(migrations_dir())
        .ready(0)
        .build(server)
        .expect("template builds");
    let mut before = databases(server);
    // Something outside pgcluster lets connections in and holds one.
    server
        .psql(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS true",
            template.name()
        ))
        .expect("psql");
    let mut config = Config::parse(&conninfo(server)).expect("conninfo");
    config
        .set("dbname", template.name())
        .expect("dbname")
        .set("application_name", "busy_holder")
        .expect("application_name");
    let mut holder =
        pgcluster::blocking::Connection::connect(&config.resolve(&Env::empty()).expect("resolves"))
            .expect("connects");
    let pid = holder.backend_pid().expect("pid");
    let log_start = server.log().len();
    let e = template.fresh().expect_err("busy");
    // The server logs each 55006 (what the test of a hundred clones counts).
    assert!(busy_errors(server, log_start) >= 1, "{}", server.log());
    let TemplateError::Busy {
        database, sessions, ..
    } = &e
    else {
        panic!("not Busy: {e:?}");
    };
    assert_eq!(database, template.name());
    let session = sessions
        .iter()
        .find(|s| s.pid == pid)
        .unwrap_or_else(|| panic!("holder not named: {e}"));
    assert_eq!(session.application_name, "busy_holder");
    assert_eq!(session.user.as_deref(), Some("postgres"));
    assert_eq!(session.client_addr, None);
    let text = e.to_string();
    assert!(
        text.contains(&format!(
            "\n  pid {pid}, user postgres, application_name \"busy_holder\", client local socket"
        )),
        "{text}"
    );
    holder.close();
    server
        .psql(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS false",
            template.name()
        ))
        .expect("psql");
    // Nothing was left by the failed clones, nothing else was touched (but the template's
    // row, by the two ALTERs), and clones work again.
    let mut after = databases(server);
    after.remove(template.name());
    before.remove(template.name());
    assert_eq!(after, before);
    let db = template.fresh().expect("fresh again");
    drop(db);
}

#[test]
fn a_failing_migration_leaves_nothing() {
    let _lock = alone();
    let server = server();
    let dir = std::env::temp_dir().join(format!("pgcluster-bad-migrations-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("001_ok.sql"), "CREATE TABLE t (x int);").expect("write");
    std::fs::write(dir.join("002_bad.sql"), "CREATE TABLE t (x int);").expect("write");
    let before = databases(server);
    let e = Migrations::new("failing")
        .dir(&dir)
        .build(server)
        .expect_err("fails");
    let TemplateError::Migration { path, source } = &e else {
        panic!("not Migration: {e:?}");
    };
    assert_eq!(path, &dir.join("002_bad.sql"));
    assert_eq!(source.sqlstate(), Some("42P07"), "{e}");
    assert!(e
        .to_string()
        .starts_with(&format!("migration {} failed: ", path.display())));
    let e = Migrations::new("failing")
        .setup("1", |_| Err("no luck".into()))
        .build(server)
        .expect_err("fails");
    assert_eq!(
        e.to_string(),
        "template setup (version \"1\") failed: no luck"
    );
    assert_eq!(databases(server), before);
    let bad = Migrations::new("Bad-Family")
        .build(server)
        .expect_err("refused");
    assert!(matches!(bad, TemplateError::Family { .. }), "{bad:?}");
    std::fs::remove_dir_all(&dir).expect("removed");
    assert!(named(server, TEMPLATE_PREFIX)
        .iter()
        .all(|n| !n.starts_with("pgcluster_tpl_failing_")));
}

#[test]
fn libpq_uris_work_with_psql_and_errors_convert() {
    let _lock = shared();
    let server = server();
    let run = |uri: &str, password: Option<&str>| {
        let mut cmd = Command::new(server.bin_dir().join("psql"));
        for (key, _) in std::env::vars() {
            if key.starts_with("PG") {
                cmd.env_remove(key);
            }
        }
        if let Some(password) = password {
            // Only to show that the URI's own password is used, not this one.
            cmd.env("PGPASSWORD", password);
        }
        let output = cmd
            .args([
                "-X",
                "-A",
                "-t",
                "-w",
                uri,
                "-c",
                "SELECT current_user, current_database()",
            ])
            .output()
            .expect("psql runs");
        (
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    server
        .psql("CREATE DATABASE \"uri test/db\"")
        .expect("database with a space and a slash");
    let uri = server.libpq_uri("postgres", "uri test/db");
    assert!(uri.starts_with("postgres://postgres@%2F"), "{uri}");
    assert!(uri.ends_with("/uri%20test%2Fdb"), "{uri}");
    assert_eq!(run(&uri, None).0, "postgres|uri test/db\n");
    let tcp = server.libpq_tcp_uri(pgcluster::testing::SCRAM_ROLE, "uri test/db");
    assert_eq!(
        tcp,
        format!(
            "postgres://pgcluster_scram:{}@127.0.0.1:{}/uri%20test%2Fdb",
            server.password(),
            server.port()
        )
    );
    let (out, err) = run(&tcp, Some("wrong"));
    assert_eq!(out, "pgcluster_scram|uri test/db\n", "{err}");
    // Our own client takes them too.
    let cluster = pgcluster::blocking::Cluster::new(&uri).expect("parses");
    assert!(cluster.exists(None).expect("exists"));
    server
        .psql("DROP DATABASE \"uri test/db\"")
        .expect("dropped");

    // A test server's error converts into pgcluster::Error, text unchanged.
    fn start_in(dir: &Path) -> Result<TestServer, pgcluster::Error> {
        Ok(TestServer::builder().bin_dir(dir).start()?)
    }
    let missing = Path::new("/nonexistent/pgcluster/bin");
    let e = start_in(missing).expect_err("no programs there");
    let direct = TestServer::builder()
        .bin_dir(missing)
        .start()
        .expect_err("no programs there");
    assert!(matches!(e, pgcluster::Error::TestServer(_)), "{e:?}");
    assert_eq!(e.to_string(), direct.to_string());
    // The testing layer's own error is the wrapper's source, fields and all.
    let pgcluster::Error::TestServer(wrapped) = &e else {
        unreachable!("matched above")
    };
    let inner = std::error::Error::source(wrapped)
        .and_then(|s| s.downcast_ref::<pgcluster::testing::Error>());
    assert_eq!(inner, Some(&direct));
}

/// Set in the environment of `crash_child` and `url_child`.
const CRASH_CHILD: &str = "PGCLUSTER_TEMPLATE_CRASH_CHILD";

/// The `a-z0-9_` family whose template `crash_child` leaves half built.
const HALF_FAMILY: &str = "crash_half";

fn half_built() -> Migrations {
    Migrations::new(HALF_FAMILY)
        .dir(migrations_dir())
        .setup("1", |_| {
            println!("building");
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        })
}

/// Not a test on its own: `a_killed_run_is_swept_and_nothing_else` runs it in a child
/// process (with `PGCLUSTER_TEST_URL` set), which takes two fresh databases, starts a
/// throwaway server of its own, starts building a template whose setup never returns,
/// prints what it holds, and waits to be killed.
#[test]
fn crash_child() {
    if std::env::var_os(CRASH_CHILD).is_none() {
        return;
    }
    let template = Migrations::new("crash")
        .dir(migrations_dir())
        .build_default()
        .expect("template builds on PGCLUSTER_TEST_URL");
    let dbs: Vec<_> = (0..2).map(|_| template.fresh().expect("fresh")).collect();
    let own = TestServer::new().expect("own server");
    // After the harness's `test crash_child ... `.
    println!();
    for db in &dbs {
        println!("db={}", db.name());
    }
    println!("dir={}", own.dir().display());
    println!("postmaster={}", own.pid().expect("running"));
    let _ = half_built().build_default();
    unreachable!("the setup never returns");
}

/// Not a test on its own: [`PrivateTmp::sweep`] runs it in a child process.
#[test]
fn sweep_child() {
    private_tmp::sweep_child();
}

/// This process's owner record, as pgcluster writes it (the format is part of what is
/// checked: a record the test makes is taken for a live owner).
fn live_record() -> String {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").expect("boot id");
    let ns = std::fs::read_link("/proc/self/ns/pid").expect("pid namespace");
    let ns = ns.to_str().expect("text");
    let ns = ns.trim_start_matches("pid:[").trim_end_matches(']');
    let stat = std::fs::read_to_string("/proc/self/stat").expect("stat");
    let after = &stat[stat.rfind(')').expect("comm") + 1..];
    let start = after.split_whitespace().nth(19).expect("field 22");
    format!(
        "pgcluster-owner boot={} pidns={ns} pid={} start={start}",
        boot.trim(),
        std::process::id()
    )
}

/// The pids of processes whose command line mentions all of `needles`.
fn pids_mentioning(needles: &[&str]) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if needles.iter().all(|n| cmdline.contains(n)) {
                found.push(pid);
            }
        }
    }
    found
}

/// Whether `pid` runs (exists and is no zombie).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .is_ok_and(|s| !s.lines().any(|l| l.starts_with("State:\tZ")))
}

/// The `<pid>` in the name of a server's directory, `pgcluster-test-<pid>-<n>-<hex>`.
fn dir_pid(dir: &Path) -> u32 {
    let name = dir.file_name().and_then(|n| n.to_str()).expect("a name");
    let rest = name
        .strip_prefix("pgcluster-test-")
        .expect("a server's directory");
    rest.split('-')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a pid")
}

fn kill9(pid: u32) {
    let status = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {pid}");
}

/// A directory made to look like a server's, owned by `uid`, with `record` as its owner
/// file.
fn decoy_dir(path: &Path, uid: u32, record: Option<&str>) {
    std::fs::create_dir(path).expect("decoy directory");
    if let Some(record) = record {
        let file = path.join("owner");
        std::fs::write(&file, record).expect("decoy record");
        std::os::unix::fs::chown(&file, Some(uid), None).expect("chown");
    }
    std::os::unix::fs::chown(path, Some(uid), None).expect("chown");
}

/// Item 3 of the crash safety: a run killed with SIGKILL, its guardian too, leaves two fresh
/// databases, a half-built template and a running throwaway server; the next run's sweeps
/// remove exactly those, and nothing made to look like them that is not a gone owner's.
#[test]
fn a_killed_run_is_swept_and_nothing_else() {
    let _lock = alone();
    let server = server();
    let info = conninfo(server);
    let template = Migrations::new("crash")
        .dir(migrations_dir())
        .build(server)
        .expect("template builds");
    // The child's own TMPDIR: no other run's sweep takes its server before this one.
    let private = PrivateTmp::new("template-crash");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CRASH_CHILD, "1")
        .env(TEST_URL_VAR, &info)
        .env("TMPDIR", private.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("child runs");
    let (mut dbs, mut dir, mut postmaster) = (Vec::new(), None, None);
    let lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    for line in lines {
        let line = line.expect("child output");
        if let Some(db) = line.strip_prefix("db=") {
            dbs.push(db.to_owned());
        } else if let Some(d) = line.strip_prefix("dir=") {
            dir = Some(PathBuf::from(d));
        } else if let Some(p) = line.strip_prefix("postmaster=") {
            postmaster = Some(p.parse::<u32>().expect("pid"));
        } else if line == "building" {
            break;
        }
    }
    let (dir, postmaster) = (dir.expect("dir"), postmaster.expect("postmaster"));
    let dir_text = dir.display().to_string();
    let guardians = pids_mentioning(&["pgcluster-guardian", &dir_text]);
    assert_eq!(guardians.len(), 1, "{guardians:?}");
    let child_pid = child.id();
    // The guardian first: once the child is gone, a guardian still alive sees its pipe
    // close and stops the server, which a killed run's guardian (killed with it) cannot.
    kill9(guardians[0]);
    kill9(child_pid);
    child.wait().expect("child reaped");
    let gone = Instant::now();
    while running(guardians[0]) {
        assert!(gone.elapsed() < Duration::from_secs(30), "guardian runs");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Left behind:
    assert!(dir.is_dir() && dir.starts_with(private.path()), "{dir:?}");
    let owner_file = std::fs::read_to_string(dir.join("owner")).expect("owner record");
    assert!(running(postmaster));
    let half = format!(
        "pgcluster_tpb_{HALF_FAMILY}_{}",
        &half_built().key().expect("key")[..12]
    );
    assert!(exists(server, &half));
    for db in &dbs {
        assert!(exists(server, db), "{db}");
    }

    // Made to look similar: ours but with a live owner, no record, a record naming
    // another pid or another boot, or not ours.
    let their_record = server
        .psql(&format!(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database \
             WHERE datname = '{}'",
            dbs[0]
        ))
        .expect("the child's record");
    let their_record = their_record.trim_end().to_owned();
    assert!(
        their_record.starts_with("pgcluster-owner boot="),
        "{their_record}"
    );
    let me = std::process::id();
    let other_boot = {
        let (_, tail) = their_record.split_once(" pidns=").expect("fields");
        format!("pgcluster-owner boot=00000000-0000-0000-0000-000000000000 pidns={tail}")
    };
    let decoy_dbs = [
        (format!("pgcluster_db_{me}_77_live_owner"), live_record()),
        (
            format!("pgcluster_db_{child_pid}_78_no_record"),
            String::new(),
        ),
        (
            format!("pgcluster_db_{child_pid}_79_not_a_record"),
            "kept by hand".to_owned(),
        ),
        (
            format!("pgcluster_db_{child_pid}_80_other_boot"),
            other_boot.clone(),
        ),
        (
            "pgcluster_db_1_81_other_pid".to_owned(),
            their_record.clone(),
        ),
        (
            format!("pgcluster_{child_pid}_82_other_prefix"),
            their_record.clone(),
        ),
    ];
    for (name, comment) in &decoy_dbs {
        let mut sql = format!("CREATE DATABASE {name} TEMPLATE template0;");
        if !comment.is_empty() {
            sql.push_str(&format!("COMMENT ON DATABASE {name} IS '{comment}';"));
        }
        server.psql(&sql).expect("decoy database");
    }
    // The servers' user, who owns every server's directory.
    let server_uid = std::fs::metadata(server.dir()).expect("dir").uid();
    let my_uid = std::fs::metadata("/proc/self").expect("proc").uid();
    let tmp = Path::new("/tmp");
    let decoy_dirs = [
        (
            tmp.join(format!("pgcluster-test-{me}-90-dec0")),
            Some(format!("{}\n", live_record())),
        ),
        (
            tmp.join(format!("pgcluster-test-{child_pid}-91-dec1")),
            None,
        ),
        (
            tmp.join(format!("pgcluster-test-{child_pid}-92-dec2")),
            Some(format!("{other_boot}\n")),
        ),
        (
            tmp.join(format!("pgcluster-test-1-93-dec3{me:x}")),
            Some(owner_file.clone()),
        ),
    ];
    for (path, record) in &decoy_dirs {
        decoy_dir(path, server_uid, record.as_deref());
    }
    // A symlink to a directory with the dead owner's record, named like a server's.
    let real = tmp.join(format!("pgcluster-decoy-{me}"));
    decoy_dir(&real, server_uid, Some(&owner_file));
    let link = tmp.join(format!("pgcluster-test-{child_pid}-94-dec4"));
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    // Not the servers' user's (only possible to make as root).
    let foreign = tmp.join(format!("pgcluster-test-{child_pid}-95-dec5"));
    let foreign = (my_uid == 0 && server_uid != 0).then(|| {
        decoy_dir(&foreign, 0, Some(&owner_file));
        foreign
    });

    // The next run (with the child's TMPDIR, and /tmp, where the decoys are).
    let removed = private.sweep();
    let mut dropped = BTreeSet::new();
    let mut expected: BTreeSet<String> = dbs.iter().cloned().collect();
    expected.insert(half.clone());
    let swept = Instant::now();
    // The killed child's sessions end (and free their locks) once their backends notice.
    while dropped != expected && swept.elapsed() < Duration::from_secs(30) {
        dropped.extend(template.sweep().expect("databases swept"));
        std::thread::sleep(Duration::from_millis(20));
    }
    let survivors: Vec<bool> = decoy_dirs
        .iter()
        .map(|(p, _)| p.is_dir())
        .chain([link.is_symlink(), real.is_dir()])
        .chain(foreign.iter().map(|f| f.is_dir()))
        .collect();
    let dbs_left: Vec<bool> = decoy_dbs.iter().map(|(n, _)| exists(server, n)).collect();
    // Clean up before asserting.
    for (name, _) in &decoy_dbs {
        let _ = server.psql(&format!("DROP DATABASE IF EXISTS {name}"));
    }
    for (path, _) in &decoy_dirs {
        let _ = std::fs::remove_dir_all(path);
    }
    let _ = std::fs::remove_file(&link);
    let _ = std::fs::remove_dir_all(&real);
    if let Some(f) = &foreign {
        let _ = std::fs::remove_dir_all(f);
    }

    assert_eq!(dropped, expected);
    assert!(!dir.exists(), "{removed:?}");
    assert!(!running(postmaster));
    // Nothing else but what another run left in /tmp, also of a gone owner.
    assert!(removed.contains(&dir), "{removed:?}");
    assert!(
        removed.iter().all(|r| r == &dir || !running(dir_pid(r))),
        "{removed:?}"
    );
    assert!(survivors.iter().all(|s| *s), "{survivors:?}");
    assert!(dbs_left.iter().all(|s| *s), "{dbs_left:?}");
    assert!(exists(server, template.name()));
}

/// Not a test on its own: `pgcluster_test_url_is_used_instead_of_a_throwaway_server` runs
/// it with `PGCLUSTER_TEST_URL` set.
#[test]
fn url_child() {
    if std::env::var_os(CRASH_CHILD).is_none() {
        return;
    }
    let template = Migrations::new("url")
        .dir(migrations_dir())
        .build_default()
        .expect("template builds");
    let db = template.fresh().expect("fresh");
    println!("\ntemplate={}", template.name());
    println!("db={}", db.name());
    println!("uri={}", db.uri());
    let mine = format!("pgcluster-test-{}-", std::process::id());
    let throwaway = std::fs::read_dir("/tmp")
        .into_iter()
        .chain(std::fs::read_dir("/dev/shm"))
        .chain(std::fs::read_dir(std::env::temp_dir()))
        .flatten()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with(&mine));
    println!("throwaway={throwaway}");
    let _ = db.keep();
}

#[test]
fn pgcluster_test_url_is_used_instead_of_a_throwaway_server() {
    // Alone: the child keeps its database and exits, and any template built meanwhile by
    // a test beside this one sweeps the databases of owners that are gone.
    let _lock = alone();
    let server = server();
    let url = server.libpq_tcp_uri("postgres", "postgres");
    let output = run_child("url_child", &[(CRASH_CHILD, "1"), (TEST_URL_VAR, &url)])
        .wait_with_output()
        .expect("child ends");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let db = field(&output, "db=").expect("db").to_owned();
    let name = field(&output, "template=").expect("template").to_owned();
    let uri = field(&output, "uri=").expect("uri").to_owned();
    let left = exists(server, &db);
    let _ = server.psql(&format!("DROP DATABASE IF EXISTS {db}"));
    assert!(left, "{db} is on the server of PGCLUSTER_TEST_URL");
    assert!(exists(server, &name), "{name}");
    assert_eq!(field(&output, "throwaway="), Some("false"));
    // A libpq URI of the setting's server, with no password.
    assert_eq!(
        uri,
        format!("postgres://postgres@127.0.0.1:{}/{db}", server.port())
    );
}
