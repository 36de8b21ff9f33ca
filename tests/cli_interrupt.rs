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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use pgcluster::blocking::Cluster;
use pgcluster::conninfo::Env;
use pgcluster::error::Stage;
use pgcluster::testing::TestServer;
use pgcluster::Error;

mod support;
#[cfg(feature = "cli")]
mod terminal;

use support::{Relay, RelayOptions};

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

/// (Re)creates database `name` holding one table, `kept`, with the row `original`.
fn database_holding_original(name: &str) {
    psql(&format!("DROP DATABASE IF EXISTS {name}"));
    psql(&format!("CREATE DATABASE {name}"));
    server()
        .psql_db(name, "CREATE TABLE kept AS SELECT 'original'::text AS what")
        .unwrap();
}

/// Asserts that database `name` still holds what [`database_holding_original`] put there.
fn assert_holds_original(name: &str) {
    assert_eq!(
        server()
            .psql_db(name, "SELECT what FROM kept")
            .unwrap()
            .trim(),
        "original"
    );
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

/// The large database the copies are made from: ~450 MB, which the server's default
/// strategy (WAL_LOG) copies in seconds here. Made once per run, with `psql`.
const BIG: &str = "intr_big";

/// The tests that copy the large database run one at a time (2 shared cores).
static HEAVY: Mutex<()> = Mutex::new(());

fn heavy() -> MutexGuard<'static, ()> {
    let guard = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    static MADE: OnceLock<()> = OnceLock::new();
    MADE.get_or_init(|| {
        psql(&format!("DROP DATABASE IF EXISTS {BIG}"));
        psql(&format!("CREATE DATABASE {BIG}"));
        server()
            .psql_db(
                BIG,
                "CREATE TABLE filler AS SELECT g, repeat('x', 1000) AS pad \
                 FROM generate_series(1, 400000) AS g",
            )
            .expect("fill the large database");
    });
    guard
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
            let result = cluster.copy_database(&source, copy);
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
        cluster.drop_database(source).unwrap_err().to_string(),
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
fn an_overwrite_interrupted_at_the_swap_drops_its_copy_and_keeps_the_database() {
    let _heavy = heavy();
    let target = "intr_lib_overwritten";
    database_holding_original(target);
    // A session renaming the database in an open transaction holds its lock: the swap
    // waits for it (the copy and its comment and privileges are done by then).
    let holder = cluster();
    let mut lock = holder.connect("postgres").unwrap();
    lock.simple_query(&format!(
        "BEGIN; ALTER DATABASE {target} RENAME TO {target}_held"
    ))
    .unwrap();

    let cluster = cluster();
    let interrupter = cluster.interrupter();
    let worker = thread::spawn(move || cluster.overwrite(target));
    wait_for("the swap waiting", || {
        psql(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' \
             AND wait_event_type = 'Lock' \
             AND query LIKE 'BEGIN; ALTER DATABASE \"{target}\" RENAME TO%'"
        )) != "0"
    });
    interrupter.interrupt().unwrap();
    let e = worker.join().unwrap().unwrap_err();
    let Error::Interrupted(i) = &e else {
        panic!("not an interrupt: {e}");
    };
    assert_eq!(i.stage, Stage::Cancelled);
    let fresh = i.dropped.clone().expect("the new copy was dropped");
    assert!(
        pgcluster::cluster::is_temporary_name(&fresh) && fresh.starts_with("pgcluster_new_"),
        "{fresh}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "interrupted: ALTER DATABASE \"{target}\" was cancelled; pg_database shows database \"{target}\"; the temporary database \"{fresh}\" was dropped"
        )
    );
    lock.simple_query("ROLLBACK").unwrap();
    lock.close();
    assert!(!listed(&fresh));
    assert_eq!(
        psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'pgcluster\\_%'"),
        "0"
    );
    assert_holds_original(target);
    psql(&format!("DROP DATABASE {target}"));
}

/// A relay in front of the server's TCP port, on a runtime of its own (a thread that runs
/// until `stop` is set).
fn relay(stop: Arc<AtomicBool>) -> Relay {
    let (tx, rx) = std::sync::mpsc::channel();
    let port = server().port();
    thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let relay = Relay::start(port, RelayOptions::default()).await;
            tx.send(relay).expect("hand over the relay");
            while !stop.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
    });
    rx.recv().expect("a relay")
}

#[test]
fn a_statement_and_its_cancel_arriving_in_either_order_end_cancelled() {
    let _heavy = heavy();
    let copy = "intr_relay_copy";
    psql(&format!("DROP DATABASE IF EXISTS {copy}"));
    let stop = Arc::new(AtomicBool::new(false));
    let relay = relay(Arc::clone(&stop));
    let setting = format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres password={} sslmode=disable",
        relay.port,
        server().password()
    );
    let cluster = Cluster::new(&setting).unwrap().with_env(Env::empty());
    // A maintenance connection through the relay, kept for the clone.
    assert!(!cluster.exists(copy).unwrap());

    // The relay holds the CREATE DATABASE and the CancelRequest, then lets both go at
    // once: whichever reaches the server first, the copy must end cancelled. (A cancel
    // that comes first finds the backend idle and is dropped; the statement under way
    // sends it again.)
    relay.pause();
    let interrupter = cluster.interrupter();
    let worker = thread::spawn(move || {
        let result = cluster.copy_database(BIG, copy);
        (cluster, result)
    });
    wait_for("the clone registered", || {
        format!("{interrupter:?}").contains("in_flight: 1")
    });
    let canceller = {
        let interrupter = interrupter.clone();
        thread::spawn(move || interrupter.interrupt())
    };
    // Give the CancelRequest time to reach the relay (it waits there either way).
    thread::sleep(Duration::from_millis(300));
    relay.resume();
    canceller.join().unwrap().unwrap();
    let (_cluster, result) = worker.join().unwrap();
    let e = result.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "interrupted: CREATE DATABASE \"{copy}\" was cancelled; pg_database shows no database \"{copy}\""
        )
    );
    thread::sleep(Duration::from_secs(2));
    assert!(!listed(copy), "the cancelled copy appeared later");
    stop.store(true, Ordering::SeqCst);
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
    let e = cluster.create("intr_idle_new").unwrap_err();
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

// ---------------------------------------------------------------------------------------
// The program, interrupted by a signal.

#[cfg(feature = "cli")]
mod program {
    use std::process::{Child, Command, Stdio};

    use super::*;

    /// `python3` with the server's `PG*` variables, for [`terminal::run`].
    fn python() -> Command {
        let mut cmd = Command::new("python3");
        cmd.env_remove("DATABASE_URL");
        for (k, v) in server().env_vars() {
            cmd.env(k, v);
        }
        cmd
    }

    /// `pgcluster ARGS` with the server's `PG*` variables, its output captured.
    fn spawn(args: &[&str]) -> Child {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgcluster"));
        cmd.args(args)
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in server().env_vars() {
            cmd.env(k, v);
        }
        cmd.spawn().expect("run pgcluster")
    }

    /// Sends `signal` (`INT`, `TERM`) to `child` with `kill`.
    fn kill(child: &Child, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal}");
    }

    /// Waits for `child` (bounded); returns (status, stdout, stderr).
    fn finish(child: Child) -> (i32, String, String) {
        let pid = child.id();
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        let out = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("pgcluster (pid {pid}) never ended"))
            .expect("wait for pgcluster");
        (
            out.status
                .code()
                .expect("an exit status, not a signal death"),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    /// Every database whose name starts with `prefix`.
    fn named_like(prefix: &str) -> Vec<String> {
        let out = psql(&format!(
            "SELECT datname FROM pg_database WHERE starts_with(datname, '{prefix}') ORDER BY 1"
        ));
        out.lines().map(str::to_owned).collect()
    }

    /// Waits until a `CREATE DATABASE` of a name starting with `prefix` runs; that name.
    fn wait_for_create_like(prefix: &str) -> String {
        let mut name = String::new();
        wait_for(&format!("CREATE DATABASE \"{prefix}...\" running"), || {
            name = psql(&format!(
                "SELECT substring(query FROM '^CREATE DATABASE \"([^\"]+)\"') \
                 FROM pg_stat_activity WHERE state = 'active' \
                 AND query LIKE 'CREATE DATABASE \"{prefix}%' LIMIT 1"
            ));
            !name.is_empty()
        });
        name
    }

    fn notice(signal: &str) -> String {
        format!(
            "pgcluster: {signal}: cancelling the statement under way (again to exit at once, without cleaning up)\n"
        )
    }

    #[test]
    fn sigint_mid_clone_cancels_the_copy() {
        let _heavy = heavy();
        let copy = "intr_big3";
        psql(&format!("DROP DATABASE IF EXISTS {copy}"));
        let child = spawn(&["--db", "pgsql:///postgres", "clone", BIG, copy]);
        wait_for_create(copy);
        kill(&child, "INT");
        let (status, stdout, stderr) = finish(child);
        assert_eq!(
            (status, stdout.as_str(), stderr.as_str()),
            (
                130,
                "",
                format!(
                    "{}interrupted: CREATE DATABASE \"{copy}\" was cancelled; pg_database shows no database \"{copy}\"\n",
                    notice("SIGINT")
                )
                .as_str()
            )
        );
        assert!(!listed(copy));
        // A statement left running would finish and commit the copy a few seconds later.
        thread::sleep(Duration::from_secs(2));
        assert!(!listed(copy), "the cancelled copy appeared later");
        assert!(
            psql(&format!(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'CREATE DATABASE \"{copy}\"%'"
            )) == "0",
            "the statement is still running"
        );
    }

    /// `--timeout 1` on a clone that waits for a lock (a session renaming the source in an
    /// open transaction): after a second the copy is cancelled as Ctrl-C cancels it, and
    /// the program exits with 124 (timeout(1)'s status). The same setting on a verb done in
    /// time changes nothing; `wait` keeps its own meaning of it.
    #[test]
    fn timeout_cancels_the_statement_under_way() {
        let source = "intr_timeout_source";
        let copy = "intr_timeout_copy";
        psql(&format!("DROP DATABASE IF EXISTS {copy}"));
        psql(&format!("DROP DATABASE IF EXISTS {source}"));
        psql(&format!("CREATE DATABASE {source}"));
        let holder = cluster();
        let mut lock = holder.connect("postgres").unwrap();
        lock.simple_query(&format!(
            "BEGIN; ALTER DATABASE {source} RENAME TO {source}_held"
        ))
        .unwrap();
        let clone_within_1s = |options: &[&str]| {
            let mut args = vec!["--db", "pgsql:///postgres"];
            args.extend_from_slice(options);
            args.extend(["clone", source, copy, "--timeout", "1"]);
            finish(spawn(&args))
        };
        let started = Instant::now();
        let (status, stdout, stderr) = clone_within_1s(&[]);
        assert_eq!(
            (status, stdout.as_str(), stderr.as_str()),
            (
                124,
                "",
                format!(
                    "pgcluster: timed out after 1 s: cancelling the statement under way (Ctrl-C to exit at once, without cleaning up)\n\
                     interrupted: CREATE DATABASE \"{copy}\" was cancelled; pg_database shows no database \"{copy}\"\n"
                )
                .as_str()
            )
        );
        assert!(started.elapsed() >= Duration::from_secs(1));
        // With --json, the error object gives the status the program exits with.
        let (status, stdout, stderr) = clone_within_1s(&["--json"]);
        assert_eq!((status, stdout.as_str()), (124, ""), "{stderr}");
        let last = stderr.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("{\"error\":\"interrupted: CREATE DATABASE")
                && last.contains("\"exit_status\":124,")
                && last.ends_with(",\"interrupted\":true}"),
            "{stderr}"
        );
        lock.simple_query("ROLLBACK").unwrap();
        lock.close();
        assert!(listed(source) && !listed(copy));
        // In time: done, as without --timeout.
        let done = spawn(&[
            "--db",
            "pgsql:///postgres",
            "--timeout",
            "60",
            "clone",
            source,
            copy,
        ]);
        assert_eq!(finish(done), (0, String::new(), String::new()));
        assert!(listed(copy));
        psql(&format!("DROP DATABASE {copy}"));
        psql(&format!("DROP DATABASE {source}"));
    }

    /// On a terminal, a clone still running after a second shows a progress line on
    /// stderr (the source's size, the seconds so far), rewritten in place and erased at
    /// the end. The clone waits for a lock that is let go after about 2.5 s.
    #[test]
    fn a_long_clone_shows_its_progress_on_a_terminal() {
        let source = "intr_progress_source";
        let copy = "intr_progress_copy";
        psql(&format!("DROP DATABASE IF EXISTS {copy}"));
        psql(&format!("DROP DATABASE IF EXISTS {source}"));
        psql(&format!("CREATE DATABASE {source}"));
        let holder = cluster();
        let mut lock = holder.connect("postgres").unwrap();
        lock.simple_query(&format!(
            "BEGIN; ALTER DATABASE {source} RENAME TO {source}_held"
        ))
        .unwrap();
        let release = thread::spawn(move || {
            wait_for_create(copy);
            thread::sleep(Duration::from_millis(2500));
            lock.simple_query("ROLLBACK").unwrap();
            lock.close();
        });
        let (status, shown) = terminal::run(
            python(),
            "",
            &["--db", "pgsql:///postgres", "clone", source, copy],
        );
        release.join().unwrap();
        assert_eq!(status, 0, "{shown:?}");
        let line = "\r\x1b[K";
        assert!(shown.ends_with(line), "erased at the end: {shown:?}");
        let head = format!("\rcloning \"{source}\" (");
        assert!(shown.starts_with(&head), "{shown:?}");
        assert!(
            shown.contains(&format!(" into \"{copy}\": 1 s\x1b[K")),
            "{shown:?}"
        );
        assert!(
            shown.contains(&format!(" into \"{copy}\": 2 s\x1b[K")),
            "{shown:?}"
        );
        assert!(!shown.contains('\n'), "{shown:?}");
        assert!(listed(copy));
        psql(&format!("DROP DATABASE {copy}"));
        psql(&format!("DROP DATABASE {source}"));
    }

    #[test]
    fn sigterm_mid_overwrite_keeps_the_database_and_drops_the_copy() {
        let _heavy = heavy();
        let target = "intr_overwritten";
        database_holding_original(target);
        let child = spawn(&[
            "--db",
            "pgsql:///postgres",
            "overwrite",
            target,
            "--template",
            BIG,
        ]);
        let fresh = wait_for_create_like("pgcluster_new_");
        assert!(
            fresh.starts_with(&format!("pgcluster_new_{}_", child.id())),
            "{fresh}"
        );
        kill(&child, "TERM");
        let (status, stdout, stderr) = finish(child);
        assert_eq!(
            (status, stdout.as_str(), stderr.as_str()),
            (
                143,
                "",
                format!(
                    "{}interrupted: CREATE DATABASE \"{fresh}\" was cancelled; pg_database shows database \"{target}\"\n",
                    notice("SIGTERM")
                )
                .as_str()
            )
        );
        let check = || {
            assert_eq!(named_like("pgcluster_"), Vec::<String>::new());
            assert_holds_original(target);
        };
        check();
        thread::sleep(Duration::from_secs(2));
        check();
        psql(&format!("DROP DATABASE {target}"));
    }

    #[test]
    fn cleanup_drops_exactly_the_leftover_names() {
        // No large copy, but the check of "nothing else" needs no other test's leftovers.
        let _heavy = heavy();
        let leftovers = [
            "pgcluster_new_2690_0_a650f1d0",
            "pgcluster_old_4294967295_17_00c0ffee",
        ];
        let look_alikes = [
            "pgcluster_new_x",
            "pgcluster_new_1_2_3",
            "pgcluster_new_01_2_a650f1d0",
            "pgcluster_new_2690_0_A650F1D0",
            "pgcluster_mid_2690_0_a650f1d0",
            "pgcluster_new_2690_0_a650f1d0_x",
        ];
        for name in leftovers.iter().chain(&look_alikes) {
            psql(&format!("DROP DATABASE IF EXISTS \"{name}\""));
            psql(&format!("CREATE DATABASE \"{name}\""));
        }
        let run = |args: &[&str]| {
            let mut all = vec!["--db", "pgsql:///postgres", "cleanup"];
            all.extend(args);
            finish(spawn(&all))
        };
        let (status, stdout, stderr) = run(&["--dry-run"]);
        assert_eq!((status, stderr.as_str()), (0, ""), "{stdout}");
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 4, "{stdout}");
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["name", "size"]
        );
        for (line, name) in lines[1..3].iter().zip(leftovers) {
            let cells: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(cells[0], name, "{stdout}");
            assert!(cells[1].parse::<u64>().unwrap() > 0, "{stdout}");
        }
        assert_eq!(lines[3], "dry run: nothing dropped");
        // With -q, the table only; with --json, the statements a real run would send.
        let (status, stdout, _) = run(&["--dry-run", "-q"]);
        assert_eq!((status, stdout.lines().count()), (0, 3), "{stdout}");
        let (status, stdout, stderr) = run(&["--dry-run", "--json"]);
        assert_eq!((status, stderr.as_str()), (0, ""), "{stdout}");
        assert!(
            stdout.ends_with(&format!(
                "\"dropped\":[],\"dry_run\":true,\"statements\":[\
                 {{\"database\":\"postgres\",\"sql\":\"DROP DATABASE IF EXISTS \\\"{}\\\";\"}},\
                 {{\"database\":\"postgres\",\"sql\":\"DROP DATABASE IF EXISTS \\\"{}\\\";\"}}]}}\n",
                leftovers[0], leftovers[1]
            )),
            "{stdout}"
        );
        assert!(leftovers.iter().all(|n| listed(n)));

        // No terminal: no question.
        let (status, stdout, stderr) = run(&[]);
        assert_eq!((status, stderr.as_str()), (0, ""), "{stdout}");
        assert!(
            stdout.ends_with(&format!(
                "dropped {}\ndropped {}\n",
                leftovers[0], leftovers[1]
            )),
            "{stdout}"
        );
        assert!(leftovers.iter().all(|n| !listed(n)));
        assert!(look_alikes.iter().all(|n| listed(n)));
        assert_eq!(
            run(&[]),
            (
                0,
                "no databases left behind by pgcluster\n".to_owned(),
                String::new()
            )
        );

        // The library's own call sees the same.
        let cluster = cluster();
        psql(&format!("CREATE DATABASE \"{}\"", leftovers[0]));
        let found: Vec<String> = cluster
            .leftovers()
            .unwrap()
            .into_iter()
            .map(|d| d.name)
            .collect();
        assert_eq!(found, [leftovers[0]]);
        let dropped: Vec<String> = cluster
            .cleanup()
            .unwrap()
            .into_iter()
            .map(|d| d.name)
            .collect();
        assert_eq!(dropped, [leftovers[0]]);
        assert!(!listed(leftovers[0]));
        assert!(look_alikes.iter().all(|n| listed(n)));
        for name in look_alikes {
            psql(&format!("DROP DATABASE \"{name}\""));
        }
    }

    #[test]
    fn cleanup_on_a_terminal_asks_and_ctrl_c_there_changes_nothing() {
        let _heavy = heavy();
        let leftover = "pgcluster_old_77_3_0badcafe";
        psql(&format!("DROP DATABASE IF EXISTS \"{leftover}\""));
        psql(&format!("CREATE DATABASE \"{leftover}\""));
        let args = ["--db", "pgsql:///postgres", "cleanup"];
        let asked = |shown: &str| {
            let (table, rest) = shown
                .split_once("Drop 1 database listed above? [y/N] ")
                .unwrap_or_else(|| panic!("no question: {shown:?}"));
            assert!(
                table.starts_with("name  ") && table.contains(leftover),
                "{shown:?}"
            );
            rest.to_owned()
        };
        let (status, shown) = terminal::run(python(), "n", &args);
        assert_eq!(
            (status, asked(&shown)),
            (3, "n\nCancelled: nothing was changed.\n".to_owned())
        );
        assert!(listed(leftover));
        // Ctrl-C at the question: SIGINT from the terminal, nothing under way to wait for.
        let (status, shown) = terminal::run(python(), "<INT>", &args);
        let rest = asked(&shown);
        assert_eq!(status, 130, "{shown:?}");
        assert!(
            rest.ends_with("\ninterrupted: nothing was changed\n"),
            "{shown:?}"
        );
        assert!(listed(leftover));
        let (status, shown) = terminal::run(python(), "y", &args);
        assert_eq!(
            (status, asked(&shown)),
            (0, format!("y\ndropped {leftover}\n"))
        );
        assert!(!listed(leftover));
    }
}
