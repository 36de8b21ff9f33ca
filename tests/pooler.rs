//! Behind a real PgBouncer (`pgcluster::testing::PgBouncer`, Debian's `pgbouncer`, which
//! `.ci/run` installs) in front of a real throwaway server, in session and in transaction
//! pooling:
//!
//! - connecting (SCRAM to the pooler, `auth_type = scram-sha-256`, and trust), simple and
//!   extended queries with parameters, transactions, `exists()`; LISTEN/NOTIFY in session
//!   pooling; what transaction pooling cannot do (named prepared statements: the server's
//!   own errors);
//! - the pooler in the way: a drop, rename, clone, create (template1) or overwrite refused
//!   because of the pooler's own idle server connection says so (`InUse::pooler`), and
//!   goes through after PgBouncer's `KILL` or with `FORCE`;
//! - the maintenance setting (`Cluster::with_maintenance`; the CLI's `--maintenance-db`,
//!   `PGCLUSTER_MAINTENANCE_URL`, `DATABASE_URL_UNPOOLED`): nothing of pgcluster's own goes
//!   through the pooler (its `SHOW SERVERS`), while `connect()` does;
//! - the CLI on a terminal naming the pooler's sessions and what to do;
//! - the harness: a pooler stopped and its directory removed on drop, and by the guardian
//!   when its owner exits without destructors, and by the next run's sweep when both were
//!   killed; a failed start says why.
//!
//! Run with `cargo test --all-features --test pooler`. Without `pgbouncer` installed these
//! tests fail, saying so: CI installs it.
#![cfg(feature = "testing")]

#[path = "support/cli.rs"]
mod cli;
#[path = "support/private_tmp.rs"]
mod private_tmp;
mod terminal;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use pgcluster::blocking::{Cluster, Connection};
use pgcluster::cluster::DropOptions;
use pgcluster::testing::{PgBouncer, PoolMode, PoolerAuth, TestServer, SCRAM_ROLE, SUPERUSER};
use pgcluster::Error;
use private_tmp::PrivateTmp;

fn server() -> &'static TestServer {
    TestServer::shared().expect("test server starts")
}

/// One pooler per mode for the tests that share it; kept for the life of the process (the
/// guardian stops it when the process is gone).
fn pooler(mode: PoolMode) -> &'static PgBouncer {
    static SESSION: OnceLock<PgBouncer> = OnceLock::new();
    static TRANSACTION: OnceLock<PgBouncer> = OnceLock::new();
    let cell = match mode {
        PoolMode::Session => &SESSION,
        PoolMode::Transaction => &TRANSACTION,
    };
    cell.get_or_init(|| {
        PgBouncer::start(server(), mode).unwrap_or_else(|e| panic!("pgbouncer starts: {e}"))
    })
}

const MODES: [PoolMode; 2] = [PoolMode::Session, PoolMode::Transaction];

/// Runs `test` for each pool mode at once, each on a thread of its own, with that mode's
/// name suffix: the refusals wait out the server's 5 s each, so the modes' waits overlap
/// instead of adding up (each mode's databases have names of their own).
fn each_mode_at_once(test: impl Fn(PoolMode, &str) + Sync) {
    std::thread::scope(|scope| {
        for mode in MODES {
            let suffix = match mode {
                PoolMode::Session => "session",
                PoolMode::Transaction => "transaction",
            };
            let test = &test;
            scope.spawn(move || test(mode, suffix));
        }
    });
}

/// A cluster whose setting points at the pooler over TCP, as `role` (SCRAM).
fn pooled_cluster(pooler: &PgBouncer, role: &str, db: &str) -> Cluster {
    Cluster::new(&pooler.tcp_uri(role, db)).expect("setting parses")
}

fn value(conn: &mut Connection, sql: &str, params: &[Option<&str>]) -> Option<String> {
    let result = conn
        .query(sql, params)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    result.rows[0][0].clone()
}

#[test]
fn connects_through_the_pooler_with_scram_and_with_trust() {
    for mode in MODES {
        let pooler = pooler(mode);
        // SCRAM to the pooler over TCP, for a superuser and for a plain role.
        for role in [SUPERUSER, SCRAM_ROLE] {
            let cluster = pooled_cluster(pooler, role, "postgres");
            let mut conn = cluster
                .connect(None)
                .unwrap_or_else(|e| panic!("{mode:?} as {role}: {e}"));
            assert_eq!(
                value(&mut conn, "SELECT current_user", &[]).as_deref(),
                Some(role)
            );
            // The pooler's server connection comes over the server's socket.
            assert_eq!(
                value(&mut conn, "SELECT inet_client_addr()::text", &[]),
                None
            );
            conn.close();
        }
        // A wrong password is refused by the pooler itself.
        let wrong = pooler
            .tcp_uri(SCRAM_ROLE, "postgres")
            .replace(pooler.password(), "wrong");
        let err = Cluster::new(&wrong).unwrap().connect(None).unwrap_err();
        // PgBouncer's own text (the server's would be `password authentication failed`).
        assert!(
            err.to_string()
                .contains("FATAL:  SASL authentication failed"),
            "{mode:?}: {err}"
        );
    }
    let trust = PgBouncer::builder(server())
        .auth(PoolerAuth::Trust)
        .start()
        .expect("pgbouncer starts");
    // Trust only where only the owner can reach: the 0700 socket directory, never TCP.
    assert!(std::net::TcpStream::connect(("127.0.0.1", trust.port())).is_err());
    let cluster = Cluster::new(&trust.uri(SUPERUSER, "postgres")).unwrap();
    let mut conn = cluster.connect(None).expect("trust through the socket");
    assert_eq!(value(&mut conn, "SELECT 6 * 7", &[]).as_deref(), Some("42"));
    conn.close();
}

#[test]
fn queries_transactions_and_exists_in_both_modes() {
    for mode in MODES {
        let pooler = pooler(mode);
        let cluster = pooled_cluster(pooler, SUPERUSER, "postgres");
        let mut conn = cluster.connect(None).expect("connects");
        // Simple query protocol, several statements.
        let results = conn.simple_query("SELECT 1; SELECT 'two'").expect("simple");
        assert_eq!(results.len(), 2);
        assert_eq!(results[1].rows[0][0].as_deref(), Some("two"));
        // Extended protocol with parameters, many times over (unnamed statements: no name
        // to collide on whichever server connection the pooler picks).
        for n in 0..20 {
            let text = n.to_string();
            assert_eq!(
                value(&mut conn, "SELECT $1::int * 2", &[Some(&text)]),
                Some((n * 2).to_string()),
                "{mode:?}"
            );
        }
        assert_eq!(
            value(&mut conn, "SELECT $1::text IS NULL", &[None]).as_deref(),
            Some("t")
        );
        // A transaction keeps its server connection: its temporary table is seen to the end.
        conn.simple_query("BEGIN").unwrap();
        conn.simple_query("CREATE TEMPORARY TABLE pooled (n int) ON COMMIT DROP")
            .unwrap();
        conn.query("INSERT INTO pooled VALUES ($1)", &[Some("7")])
            .unwrap();
        assert_eq!(
            value(&mut conn, "SELECT sum(n)::text FROM pooled", &[]).as_deref(),
            Some("7")
        );
        conn.simple_query("COMMIT").unwrap();
        // A rolled-back one leaves nothing.
        conn.simple_query("BEGIN; CREATE TABLE pooled_rollback (n int)")
            .unwrap();
        conn.simple_query("ROLLBACK").unwrap();
        assert_eq!(
            value(
                &mut conn,
                "SELECT to_regclass('pooled_rollback')::text",
                &[]
            ),
            None
        );
        conn.close();
        // exists() through the pooler.
        assert!(cluster.exists("postgres").expect("exists"), "{mode:?}");
        assert!(
            !cluster.exists("pgc_pooler_nosuch").expect("exists"),
            "{mode:?}"
        );
    }
}

#[test]
fn named_prepared_statements_in_session_pooling() {
    let pooler = pooler(PoolMode::Session);
    let cluster = pooled_cluster(pooler, SUPERUSER, "postgres");
    let mut conn = cluster.connect(None).unwrap();
    let statement = conn.prepare("SELECT $1::int + 1").expect("prepare");
    for n in ["1", "41"] {
        let result = conn
            .query_prepared(&statement, &[Some(n)])
            .expect("execute");
        assert_eq!(
            result.rows[0][0],
            Some((n.parse::<i32>().unwrap() + 1).to_string())
        );
    }
    conn.close();
}

#[test]
fn listen_notify_in_session_pooling() {
    let pooler = pooler(PoolMode::Session);
    let cluster = pooled_cluster(pooler, SUPERUSER, "postgres");
    let mut listener = cluster.connect(None).unwrap();
    listener.simple_query("LISTEN pooled_channel").unwrap();
    let mut sender = cluster.connect(None).unwrap();
    sender
        .simple_query("NOTIFY pooled_channel, 'through pgbouncer'")
        .unwrap();
    let n = listener
        .wait_for_notification(Duration::from_secs(10))
        .expect("waits")
        .expect("a notification within 10 s");
    assert_eq!(n.channel, "pooled_channel");
    assert_eq!(n.payload, "through pgbouncer");
    sender.close();
    listener.close();
}

/// Transaction pooling hands each transaction (each statement outside one) whichever server
/// connection is free, so a named statement (`Connection::prepare`, `pgcluster_<n>` per
/// connection) may meet another client's of the same name, or be missing: both are the
/// server's own clear errors. `query`/`query_rows` use the unnamed statement and never do.
/// (PgBouncer 1.21's `max_prepared_statements` would track named statements; Debian 12 has
/// 1.18.) A pooler of its own, so that no other test takes its server connections.
#[test]
fn named_prepared_statements_in_transaction_pooling_fail_clearly() {
    let pooler = PgBouncer::start(server(), PoolMode::Transaction).expect("pgbouncer starts");
    let cluster = pooled_cluster(&pooler, SUPERUSER, "postgres");
    let mut a = cluster.connect(None).unwrap();
    let statement = a.prepare("SELECT $1::int + 1").expect("prepare");
    // `b`'s first name is `a`'s, on the server connection `a` has just given back.
    let mut b = cluster.connect(None).unwrap();
    let err = b.prepare("SELECT 2").expect_err("the name is taken there");
    assert_eq!(err.sqlstate(), Some("42P05"), "{err}");
    assert!(
        err.to_string()
            .contains("prepared statement \"pgcluster_0\" already exists"),
        "{err}"
    );
    // `b` keeps that server connection in a transaction: `a` gets another one, where its
    // statement does not exist.
    b.simple_query("BEGIN").unwrap();
    let err = a
        .query_prepared(&statement, &[Some("1")])
        .expect_err("not on this server connection");
    assert_eq!(err.sqlstate(), Some("26000"), "{err}");
    assert!(
        err.to_string()
            .contains("prepared statement \"pgcluster_0\" does not exist"),
        "{err}"
    );
    // The unnamed statement works on either.
    assert_eq!(
        value(&mut a, "SELECT $1::int + 1", &[Some("1")]).as_deref(),
        Some("2")
    );
    b.simple_query("COMMIT").unwrap();
    assert_eq!(
        value(&mut b, "SELECT $1::int + 1", &[Some("2")]).as_deref(),
        Some("3")
    );
    a.close();
    b.close();
}

/// A cluster straight to the server over TCP (SCRAM), no pooler.
fn direct_uri(db: &str) -> String {
    server().tcp_uri(SUPERUSER, db)
}

/// Creates database `name` afresh, straight on the server.
fn fresh(name: &str) {
    server()
        .psql(&format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE); CREATE DATABASE {name}"
        ))
        .unwrap();
}

fn exists_on_server(name: &str) -> bool {
    server()
        .psql(&format!(
            "SELECT count(*) FROM pg_database WHERE datname = '{name}'"
        ))
        .unwrap()
        .trim()
        == "1"
}

/// The databases the pooler holds server connections to (`SHOW SERVERS`), sorted.
fn pooled_databases(pooler: &PgBouncer) -> Vec<String> {
    let shown = pooler.admin("SHOW SERVERS").expect("SHOW SERVERS");
    let mut dbs: Vec<String> = shown
        .lines()
        .filter_map(|line| line.split('|').nth(2).map(str::to_owned))
        .collect();
    dbs.sort();
    dbs.dedup();
    dbs
}

/// A client used `db` through the pooler and left: the pooler keeps its server connection.
fn use_through(pooler: &PgBouncer, db: &str) {
    let mut conn = pooled_cluster(pooler, SUPERUSER, db).connect(None).unwrap();
    assert_eq!(value(&mut conn, "SELECT 1", &[]).as_deref(), Some("1"));
    conn.close();
    assert!(
        pooled_databases(pooler).contains(&db.to_owned()),
        "{}",
        pooler.admin("SHOW SERVERS").unwrap()
    );
}

const BUSY: &str = "\n    DETAIL:  There is 1 other session using the database.";

#[test]
fn a_drop_refused_by_the_poolers_own_connection_says_so() {
    each_mode_at_once(|mode, suffix| {
        let pooler = PgBouncer::start(server(), mode).expect("pgbouncer starts");
        let name: &str = &format!("pgc_pool_busy_{suffix}");
        fresh(name);
        use_through(&pooler, name);
        let cluster = pooled_cluster(&pooler, SUPERUSER, "postgres");
        // A drop, a rename and a copy, each of a database the pooler holds, are refused
        // alike; databases of their own, so that the three refusals (each after the
        // server's 5 s) come at once.
        let (renamed, copied): (&str, &str) = (&format!("{name}_r"), &format!("{name}_c"));
        for db in [renamed, copied] {
            fresh(db);
            use_through(&pooler, db);
        }
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let err = cluster
                    .drop_database(name)
                    .expect_err("the pooler is on it");
                // The server's text, unchanged.
                assert_eq!(
                    err.to_string(),
                    format!(
                        "Got an error from the database server:\n    database \"{name}\" is \
                         being accessed by other users{BUSY}"
                    )
                );
                let Error::InUse(in_use) = &err else {
                    panic!("{mode:?}: not InUse: {err:?}")
                };
                assert!(in_use.pooler, "{mode:?}: {in_use:?}");
                assert_eq!(in_use.pooler_sessions().count(), 1, "{mode:?}: {in_use:?}");
                // The pooler reaches the server over its Unix socket.
                assert_eq!(in_use.sessions[0].client_addr, None);
            });
            scope.spawn(|| {
                let Err(Error::InUse(rename)) = cluster.rename(format!("{name}_2"), renamed) else {
                    panic!("{mode:?}: rename not refused with InUse")
                };
                assert_eq!(rename.pooler_sessions().count(), 1, "{rename:?}");
            });
            scope.spawn(|| {
                let Err(Error::InUse(copy)) = cluster.copy_database(copied, format!("{name}_copy"))
                else {
                    panic!("{mode:?}: copy not refused with InUse")
                };
                assert_eq!(copy.pooler_sessions().count(), 1, "{copy:?}");
                assert!(copy.cause.message.contains("source database"), "{copy:?}");
            });
        });
        for db in [renamed, copied] {
            cluster
                .drop_database_with(db, &DropOptions::new().force(true))
                .expect("forced");
        }
        // PgBouncer's KILL closes its connections to the database (new clients wait until
        // RESUME): then the drop goes through.
        pooler.admin(&format!("KILL {name}")).expect("KILL");
        cluster
            .drop_database(name)
            .expect("dropped once the pooler let go");
        assert!(!exists_on_server(name));
        pooler.admin(&format!("RESUME {name}")).expect("RESUME");
        // With FORCE the pooler's session is ended like any other.
        fresh(name);
        use_through(&pooler, name);
        cluster
            .drop_database_with(name, &DropOptions::new().force(true))
            .expect("forced");
        assert!(!exists_on_server(name));
        // The pooler takes clients again afterwards.
        let mut conn = cluster.connect(None).unwrap();
        assert_eq!(value(&mut conn, "SELECT 1", &[]).as_deref(), Some("1"));
        conn.close();
    });
}

/// A `CREATE DATABASE` while the pooler is on the template (`template1` here) is refused
/// the same way. On servers of its own: meanwhile every create from that server's
/// `template1` fails too.
#[test]
fn a_create_refused_by_the_poolers_connection_to_template1_says_so() {
    each_mode_at_once(|mode, _| {
        let own = TestServer::builder().start().expect("own server");
        let pooler = PgBouncer::start(&own, mode).expect("pgbouncer starts");
        let cluster = pooled_cluster(&pooler, SUPERUSER, "postgres");
        use_through(&pooler, "template1");
        let Err(Error::InUse(create)) = cluster.create("pgc_pool_busy_new") else {
            panic!("{mode:?}: create not refused with InUse")
        };
        assert!(
            create
                .cause
                .message
                .contains("source database \"template1\""),
            "{create:?}"
        );
        assert!(create.pooler, "{mode:?}: {create:?}");
        assert_eq!(create.pooler_sessions().count(), 1, "{create:?}");
        pooler.admin("KILL template1").expect("KILL");
        pooler.admin("RESUME template1").expect("RESUME");
        cluster
            .create("pgc_pool_busy_new")
            .expect("created once the pooler let go");
    });
}

#[test]
fn without_a_pooler_no_session_is_called_the_poolers() {
    let pooler = PgBouncer::start(server(), PoolMode::Session).expect("pgbouncer starts");
    let name = "pgc_pool_direct_busy";
    fresh(name);
    use_through(&pooler, name);
    // A direct cluster cannot tell the pooler's session from any other.
    let direct = Cluster::new(&direct_uri("postgres")).unwrap();
    let Err(Error::InUse(in_use)) = direct.drop_database(name) else {
        panic!("not InUse")
    };
    assert!(!in_use.pooler, "{in_use:?}");
    assert_eq!(in_use.sessions.len(), 1);
    assert_eq!(in_use.pooler_sessions().count(), 0);
    direct
        .drop_database_with(name, &DropOptions::new().force(true))
        .unwrap();
}

#[test]
fn the_maintenance_setting_goes_past_the_pooler() {
    each_mode_at_once(|mode, suffix| {
        let pooler = PgBouncer::start(server(), mode).expect("pgbouncer starts");
        let name: &str = &format!("pgc_pool_maint_{suffix}");
        let cluster = pooled_cluster(&pooler, SUPERUSER, name)
            .with_maintenance(&direct_uri("app_is_not_used"))
            .unwrap();
        assert_eq!(
            cluster.maintenance_repr(),
            Some(format!(
                "'pgsql://postgres:xxx@127.0.0.1:{}/app_is_not_used'",
                server().port()
            ))
        );
        assert!(!format!("{:?}{}", cluster, cluster.repr()).contains(server().password()));
        let _ = cluster.drop_database_with(name, &DropOptions::new().if_exists(true).force(true));
        cluster.create(None).expect("created");
        assert!(cluster.exists(None).unwrap());
        assert!(cluster.list().unwrap().iter().any(|d| d.name == name));
        // None of it went through the pooler.
        assert_eq!(pooled_databases(&pooler), Vec::<String>::new(), "{mode:?}");
        // connect() does: the pooler hands out a process id of its own.
        let mut conn = cluster.connect(None).unwrap();
        let pid = value(&mut conn, "SELECT pg_backend_pid()::text", &[]);
        assert_ne!(pid, conn.backend_pid().map(|p| p.to_string()), "{mode:?}");
        conn.close();
        assert_eq!(pooled_databases(&pooler), vec![name.to_owned()], "{mode:?}");
        // Its idle server connection still blocks the drop; the error names the pooler.
        let Err(Error::InUse(in_use)) = cluster.drop_database(None) else {
            panic!("not InUse")
        };
        assert!(in_use.pooler, "{in_use:?}");
        assert_eq!(in_use.pooler_sessions().count(), 1, "{in_use:?}");
        cluster
            .drop_database_with(None, &DropOptions::new().force(true))
            .expect("forced");
        assert!(!exists_on_server(name));
        // Without it, the same goes through the pooler (to `postgres`).
        let plain = pooled_cluster(&pooler, SUPERUSER, name);
        plain.create(None).unwrap();
        assert!(pooled_databases(&pooler).contains(&"postgres".to_owned()));
        plain
            .drop_database_with(None, &DropOptions::new().force(true))
            .unwrap();
    });
}

#[test]
fn cli_maintenance_db_and_database_url_unpooled() {
    let pooler = PgBouncer::start(server(), PoolMode::Transaction).expect("pgbouncer starts");
    let pooled = pooler.tcp_uri(SUPERUSER, "postgres");
    let direct = direct_uri("postgres");
    let name = "pgc_pool_cli";
    // --maintenance-db: nothing through the pooler.
    let (status, out, err) = cli::run(
        &["--db", &pooled, "--maintenance-db", &direct, "create", name],
        &[],
    );
    assert_eq!(status, 0, "{out}{err}");
    assert!(exists_on_server(name));
    let (status, out, err) = cli::run(
        &["--db", &pooled, "--maintenance-db", &direct, "exists", name],
        &[],
    );
    assert_eq!((status, out.as_str()), (0, "true\n"), "{err}");
    assert_eq!(pooled_databases(&pooler), Vec::<String>::new());
    // `cluster --json` says where each goes, without the password.
    let (status, out, err) = cli::run(
        &[
            "--db",
            &pooled,
            "--maintenance-db",
            &direct,
            "--json",
            "cluster",
        ],
        &[],
    );
    assert_eq!(status, 0, "{err}");
    assert_eq!(
        out,
        format!(
            "{{\"repr\":\"Cluster('pgsql://postgres:xxx@127.0.0.1:{}/postgres')\",\
             \"database\":\"postgres\",\"server\":\"127.0.0.1:{}\",\
             \"maintenance_server\":\"127.0.0.1:{}\"}}\n",
            pooler.port(),
            pooler.port(),
            server().port()
        )
    );
    // PGCLUSTER_MAINTENANCE_URL, and DATABASE_URL with DATABASE_URL_UNPOOLED.
    for vars in [
        vec![
            ("DATABASE_URL", pooled.as_str()),
            ("PGCLUSTER_MAINTENANCE_URL", direct.as_str()),
        ],
        vec![
            ("DATABASE_URL", pooled.as_str()),
            ("DATABASE_URL_UNPOOLED", direct.as_str()),
        ],
    ] {
        let (status, out, err) = cli::run(&["drop", "-y", name], &vars);
        assert_eq!(status, 0, "{vars:?}: {out}{err}");
        assert!(!exists_on_server(name));
        let (status, out, err) = cli::run(&["create", name], &vars);
        assert_eq!(status, 0, "{vars:?}: {out}{err}");
        assert!(!(out + &err).contains(pooler.password()));
        assert_eq!(pooled_databases(&pooler), Vec::<String>::new(), "{vars:?}");
    }
    // DATABASE_URL_UNPOOLED belongs to DATABASE_URL: an explicit --db does not take it.
    let (status, out, err) = cli::run(
        &["--db", &pooled, "exists", name],
        &[("DATABASE_URL_UNPOOLED", direct.as_str())],
    );
    assert_eq!((status, out.as_str()), (0, "true\n"), "{err}");
    assert_eq!(pooled_databases(&pooler), vec!["postgres".to_owned()]);
    server().psql(&format!("DROP DATABASE {name}")).unwrap();
}

#[test]
fn cli_on_a_terminal_names_the_pooler_and_what_to_do() {
    let pooler = PgBouncer::start(server(), PoolMode::Session).expect("pgbouncer starts");
    let pooled = pooler.tcp_uri(SUPERUSER, "postgres");
    // A drop, a rename and a clone, each refused because of the pooler's connection to a
    // database of its own, all at once (each waits out the server's 5 s).
    let name = "pgc_pool_cli_busy";
    let (renamed, cloned) = ("pgc_pool_cli_busy_r", "pgc_pool_cli_busy_c");
    for db in [name, renamed, cloned] {
        fresh(db);
        use_through(&pooler, db);
    }
    let on_a_terminal = |args: &[&str]| {
        let mut python = std::process::Command::new("python3");
        python.env_clear();
        let mut all = vec!["--db", pooled.as_str()];
        all.extend(args);
        terminal::run(python, "y", &all)
    };
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let (status, shown) = on_a_terminal(&["drop", name]);
            assert_eq!(status, 1, "{shown}");
            assert!(shown.contains("from local  since "), "{shown}");
            assert!(
                shown
                    .contains("  (pooler)\n`--drain` waits for them to end; `--force` ends them\n"),
                "{shown}"
            );
            assert!(
                shown.contains(&format!(
                    "the sessions marked (pooler) are most likely the pooler's own server \
                     connections, kept after its clients left: `--force` ends them like any \
                     other; or close them on the pooler (on PgBouncer's admin console, database \
                     pgbouncer: `KILL \"{name}\"`, or `PAUSE \"{name}\"` until the drop is done, \
                     then `RESUME \"{name}\"`); `--maintenance-db` (or DATABASE_URL_UNPOOLED) \
                     sends pgcluster's own statements past the pooler\nError: Got an error from \
                     the database server:\n    database \"{name}\" is being accessed by other \
                     users{BUSY}"
                )),
                "{shown}"
            );
            assert!(!shown.contains(pooler.password()), "{shown}");
        });
        // Renaming and copying: the same sessions, and what to do (no `--force` there).
        for (args, db, action) in [
            (["rename", "pgc_pool_cli_other", renamed], renamed, "rename"),
            (["clone", cloned, "pgc_pool_cli_copy"], cloned, "clone"),
        ] {
            let on_a_terminal = &on_a_terminal;
            scope.spawn(move || {
                let (status, shown) = on_a_terminal(&args);
                assert_eq!(status, 1, "{shown}");
                assert!(
                    shown.contains(&format!(
                        "  (pooler)\nthe sessions marked (pooler) are most likely the pooler's \
                         own server connections, kept after its clients left: close them on the \
                         pooler (on PgBouncer's admin console, database pgbouncer: `KILL \
                         \"{db}\"`, or `PAUSE \"{db}\"` until the {action} is done, then `RESUME \
                         \"{db}\"`); `--maintenance-db` (or DATABASE_URL_UNPOOLED) sends \
                         pgcluster's own statements past the pooler\nError: Got an error from \
                         the database server:\n    "
                    )),
                    "{shown}"
                );
                assert!(
                    shown.contains("is being accessed by other users"),
                    "{shown}"
                );
            });
        }
    });
    // --force: the pooler's sessions ended like any other.
    for db in [name, renamed, cloned] {
        let (status, out, err) = cli::run(&["--db", &pooled, "drop", "-y", "--force", db], &[]);
        assert_eq!(status, 0, "{out}{err}");
        assert!(!exists_on_server(db));
    }
}

/// `overwrite` swaps in a new database by renaming the old one: the pooler's idle server
/// connection on it makes the server refuse, as a rename, and the error says so; the old
/// database stays as it was. Once the pooler let go (`KILL`), it goes through.
#[test]
fn overwrite_through_the_pooler() {
    each_mode_at_once(|mode, suffix| {
        let pooler = PgBouncer::start(server(), mode).expect("pgbouncer starts");
        let name: &str = &format!("pgc_pool_overwrite_{suffix}");
        fresh(name);
        server()
            .psql_db(name, "CREATE TABLE old_stuff (n int)")
            .unwrap();
        use_through(&pooler, name);
        let cluster = pooled_cluster(&pooler, SUPERUSER, name);
        let Err(Error::InUse(in_use)) = cluster.overwrite(None) else {
            panic!("{mode:?}: overwrite not refused with InUse")
        };
        assert!(in_use.pooler, "{in_use:?}");
        assert_eq!(in_use.pooler_sessions().count(), 1, "{in_use:?}");
        assert_eq!(
            server()
                .psql_db(name, "SELECT to_regclass('old_stuff')::text")
                .unwrap(),
            "old_stuff\n"
        );
        pooler.admin(&format!("KILL {name}")).expect("KILL");
        cluster
            .overwrite(None)
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        pooler.admin(&format!("RESUME {name}")).expect("RESUME");
        let mut conn = cluster.connect(None).unwrap();
        assert_eq!(
            value(&mut conn, "SELECT to_regclass('old_stuff')::text", &[]),
            None,
            "{mode:?}"
        );
        conn.close();
        cluster
            .drop_database_with(None, &DropOptions::new().force(true))
            .unwrap();
    });
}

/// Whether process `pid` is gone (or a zombie, exited).
fn gone(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_or(true, |status| status.contains("State:\tZ"))
}

/// Waits up to 30 s until the pooler `pid` has exited and `dir` is removed.
fn wait_until_cleaned_up(dir: &Path, pid: u32) {
    let started = Instant::now();
    while !gone(pid) || dir.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "left: pid {pid} gone {}, {} exists {}",
            gone(pid),
            dir.display(),
            dir.exists()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn dropping_the_pooler_stops_it_and_removes_its_directory() {
    let pooler = PgBouncer::start(server(), PoolMode::Session).expect("pgbouncer starts");
    let (dir, pid) = (pooler.dir().to_owned(), pooler.pid().expect("running"));
    assert!(!gone(pid));
    let ini = std::fs::metadata(dir.join("pgbouncer.ini")).expect("its config");
    assert!(ini.is_file());
    drop(pooler);
    // Drop waits for it: nothing is left when it returns.
    assert!(gone(pid), "pgbouncer {pid} still runs");
    assert!(!dir.exists(), "{} is left", dir.display());
}

#[test]
fn a_pooler_that_cannot_start_says_why() {
    let err = PgBouncer::builder(server())
        .conf_line("pool_mode = no_such_mode")
        .start()
        .expect_err("a bad setting");
    let text = err.to_string();
    assert!(text.starts_with("pgbouncer failed ("), "{text}");
    assert!(text.contains("no_such_mode"), "{text}");
    assert!(!text.contains(server().password()), "{text}");
}

/// Set in the environment of the child process that `pooler_guardian_child` runs in.
const CHILD_VAR: &str = "PGCLUSTER_POOLER_GUARDIAN_CHILD";

/// Not a test on its own: `the_guardian_stops_a_pooler_whose_owner_is_gone` runs it in a
/// child process, which starts a pooler, says where it is, and exits without running any
/// destructor.
#[test]
fn pooler_guardian_child() {
    if std::env::var_os(CHILD_VAR).is_none() {
        return;
    }
    let pooler = PgBouncer::start(server(), PoolMode::Session).expect("pgbouncer starts");
    println!(
        "\ndir={}\npid={}",
        pooler.dir().display(),
        pooler.pid().expect("running")
    );
    std::process::exit(0);
}

#[test]
fn the_guardian_stops_a_pooler_whose_owner_is_gone() {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "pooler_guardian_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_VAR, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("child runs");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut field = |name: &str| loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(value) = line.strip_prefix(name) {
                    break value.to_owned();
                }
            }
            other => panic!("no {name} from the child: {other:?}"),
        }
    };
    let dir = PathBuf::from(field("dir="));
    let pid: u32 = field("pid=").parse().expect("pid");
    assert!(child.wait().expect("child ends").success());
    wait_until_cleaned_up(&dir, pid);
}

/// Set in the environment of the child process that `pooler_sweep_child` runs in.
const SWEEP_CHILD_VAR: &str = "PGCLUSTER_POOLER_SWEEP_CHILD";

/// Not a test on its own: [`PrivateTmp::sweep`] runs it in a child process.
#[test]
fn sweep_child() {
    private_tmp::sweep_child();
}

/// Not a test on its own: `a_killed_runs_pooler_is_swept` runs it in a child process, which
/// starts a server and a pooler, says where they are, and waits to be killed.
#[test]
fn pooler_sweep_child() {
    if std::env::var_os(SWEEP_CHILD_VAR).is_none() {
        return;
    }
    let server = TestServer::new().expect("server starts");
    let pooler = PgBouncer::start(&server, PoolMode::Session).expect("pgbouncer starts");
    println!(
        "\nserver={}\ndir={}\npid={}",
        server.dir().display(),
        pooler.dir().display(),
        pooler.pid().expect("running")
    );
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    std::process::exit(0);
}

/// The processes whose command line mentions every one of `needles`.
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

fn kill9(pid: u32) {
    let status = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -KILL {pid}");
}

/// A run killed with its guardians (the whole process tree, SIGKILL) leaves its pooler
/// running; the next run's sweep stops it and removes its directory, as it does a server's.
#[test]
fn a_killed_runs_pooler_is_swept() {
    // The child's own TMPDIR: no other run's sweep takes what it leaves before this one.
    let tmp = PrivateTmp::new("pooler-sweep");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "pooler_sweep_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SWEEP_CHILD_VAR, "1")
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("child runs");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut field = |name: &str| loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(value) = line.strip_prefix(name) {
                    break value.to_owned();
                }
            }
            other => panic!("no {name} from the child: {other:?}"),
        }
    };
    let server_dir = PathBuf::from(field("server="));
    let dir = PathBuf::from(field("dir="));
    let pid: u32 = field("pid=").parse().expect("pid");
    // The guardians first: one still alive when the child goes would clean up itself.
    for d in [&server_dir, &dir] {
        let guardians = pids_mentioning(&["pgcluster-guardian", &d.display().to_string()]);
        assert_eq!(guardians.len(), 1, "{guardians:?}");
        kill9(guardians[0]);
    }
    kill9(child.id());
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(200));
    assert!(!gone(pid), "pgbouncer {pid} went without a sweep");
    assert!(dir.exists());
    assert!(dir.starts_with(tmp.path()), "{dir:?}");
    let removed = tmp.sweep();
    assert!(removed.contains(&dir), "{removed:?}");
    assert!(removed.contains(&server_dir), "{removed:?}");
    wait_until_cleaned_up(&dir, pid);
}

/// A hosted pooler often serves the application's database only: pgcluster's own work
/// goes by the maintenance setting, and the pooler in the way is still told apart (seen
/// through the setting's own database).
#[test]
fn a_pooler_serving_only_the_apps_database() {
    let name = "pgc_pool_only";
    fresh(name);
    let pooler = PgBouncer::builder(server())
        .pool_mode(PoolMode::Transaction)
        .only_databases(&[name])
        .start()
        .expect("pgbouncer starts");
    let pooled = pooled_cluster(&pooler, SUPERUSER, name);
    // Without the maintenance setting, nothing of pgcluster's own can go through it.
    let err = pooled.exists(None).expect_err("no database postgres there");
    assert!(
        err.to_string().contains("no such database: postgres"),
        "{err}"
    );
    let cluster = pooled.with_maintenance(&direct_uri("postgres")).unwrap();
    assert!(cluster.exists(None).unwrap());
    use_through(&pooler, name);
    let Err(Error::InUse(in_use)) = cluster.drop_database(None) else {
        panic!("not InUse")
    };
    assert!(in_use.pooler, "{in_use:?}");
    assert_eq!(in_use.pooler_sessions().count(), 1, "{in_use:?}");
    cluster
        .drop_database_with(None, &DropOptions::new().force(true))
        .unwrap();
    assert!(!exists_on_server(name));
}
