//! `drop --drain[=SECONDS]` and the sessions that block a drop, on a real server: a held
//! session is waited for and shown, a drain that times out gives up and allows connections
//! again, `--force` ends what is left, and the server's "being accessed by other users"
//! carries the sessions (`Error::InUse`), shown on a terminal with what to do. In the
//! library: a database that refused connections before is left so, `sessions` checks its
//! name, and `postgres` itself drains (its sessions read on `template1`).
#![cfg(all(feature = "testing", feature = "cli"))]

#[path = "support/cli.rs"]
mod cli;
mod terminal;

use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

use cli::{command, pgcluster, server};
use pgcluster::blocking::Cluster;
use pgcluster::cluster::DropOptions;
use pgcluster::error::AfterDrain;
use pgcluster::testing::TestServer;
use pgcluster::Error;

fn cluster() -> Cluster {
    Cluster::new("postgres:///postgres?application_name=h7_holder")
        .unwrap()
        .with_env(server().env())
}

fn fresh(name: &str) {
    server()
        .psql(&format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE); CREATE DATABASE {name}"
        ))
        .unwrap();
}

fn row(name: &str) -> String {
    server()
        .psql(&format!(
            "SELECT datallowconn FROM pg_database WHERE datname = '{name}'"
        ))
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn a_drain_waits_for_the_sessions_and_shows_them() {
    fresh("drain_h7_wait");
    let mut held = cluster().connect("drain_h7_wait").unwrap();
    let pid = held.backend_pid().unwrap();
    let mut child = command(&[])
        .args([
            "--db",
            "pgsql:///postgres",
            "drop",
            "drain_h7_wait",
            "--drain=300",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Its first report names the session held here; then the session goes.
    let mut stderr = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("since ") {
        let n = stderr.read(&mut buf).unwrap();
        assert!(n > 0, "stderr ended: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    // New connections are refused meanwhile.
    assert_eq!(row("drain_h7_wait"), "f");
    assert!(cluster().connect("drain_h7_wait").is_err());
    held.close();
    let status = child.wait().unwrap();
    stderr.read_to_end(&mut seen).unwrap();
    let shown = String::from_utf8(seen).unwrap();
    assert_eq!(status.code(), Some(0), "{shown}");
    assert!(
        shown.starts_with("waiting for 1 session on \"drain_h7_wait\" to end ("),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "  pid {pid}  user postgres  application h7_holder  from local  since "
        )),
        "{shown}"
    );
    assert_eq!(row("drain_h7_wait"), "", "dropped");
}

#[test]
fn a_drain_that_times_out_gives_up_and_allows_connections_again() {
    fresh("drain_h7_timeout");
    let held = cluster().connect("drain_h7_timeout").unwrap();
    let (status, stdout, stderr) = pgcluster(&["drop", "drain_h7_timeout", "--drain=1"]);
    assert_eq!((status, stdout.as_str()), (1, ""), "{stderr}");
    assert!(
        stderr.ends_with("Error: database \"drain_h7_timeout\" was not dropped: 1 session still connected after 1 s of waiting (connections to it are allowed again)\n"),
        "{stderr}"
    );
    assert_eq!(row("drain_h7_timeout"), "t");
    // With --force, what is left when time is up is ended.
    let (status, _, stderr) =
        pgcluster(&["-q", "drop", "drain_h7_timeout", "--drain=1", "--force"]);
    assert_eq!((status, stderr.as_str()), (0, ""));
    assert_eq!(row("drain_h7_timeout"), "");
    drop(held);
}

/// Ctrl-C (SIGINT) while a drain waits: the wait ends, `ALLOW_CONNECTIONS` is put back as
/// it was, the database is still there, and the status is 130.
#[test]
fn an_interrupted_drain_allows_connections_again() {
    fresh("drain_h7_sigint");
    let held = cluster().connect("drain_h7_sigint").unwrap();
    let mut child = command(&[])
        .args([
            "--db",
            "pgsql:///postgres",
            "drop",
            "drain_h7_sigint",
            "--drain=300",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("since ") {
        let n = stderr.read(&mut buf).unwrap();
        assert!(n > 0, "stderr ended: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    assert_eq!(
        row("drain_h7_sigint"),
        "f",
        "connections refused while it waits"
    );
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    stderr.read_to_end(&mut seen).unwrap();
    let shown = String::from_utf8(seen).unwrap();
    assert_eq!(status.code(), Some(130), "{shown}");
    assert!(
        shown.contains("pgcluster: SIGINT: cancelling the statement under way"),
        "{shown}"
    );
    assert_eq!(row("drain_h7_sigint"), "t", "allowed again: {shown}");
    drop(held);
    server()
        .psql("DROP DATABASE drain_h7_sigint WITH (FORCE)")
        .unwrap();
}

#[test]
fn being_accessed_by_other_users_carries_the_sessions() {
    fresh("drain_h7_busy");
    let held = cluster().connect("drain_h7_busy").unwrap();
    let pid = held.backend_pid().unwrap();
    // The server waits 5 s for the session to go, then refuses.
    let e = cluster().drop_database("drain_h7_busy").unwrap_err();
    assert!(
        e.to_string().starts_with(
            "Got an error from the database server:\n    database \"drain_h7_busy\" is being accessed by other users"
        ),
        "{e}"
    );
    assert_eq!(e.sqlstate(), Some("55006"));
    let Error::InUse(in_use) = &e else {
        panic!("not InUse: {e:?}")
    };
    assert_eq!(in_use.sessions.len(), 1, "{in_use:?}");
    assert_eq!(in_use.sessions[0].pid, pid);
    assert_eq!(in_use.sessions[0].application_name, "h7_holder");
    assert_eq!(in_use.sessions[0].client_addr, None);
    // The CLI on a terminal shows them and what to do.
    let mut python = std::process::Command::new("python3");
    python.env_clear().envs(server().env_vars());
    let (status, shown) = terminal::run(
        python,
        "n",
        &["--db", "pgsql:///postgres", "drop", "drain_h7_busy"],
    );
    assert_eq!(status, 1, "{shown}");
    assert!(
        shown.contains(&format!(
            "connected to \"drain_h7_busy\":\n  pid {pid}  user postgres  application h7_holder"
        )),
        "{shown}"
    );
    assert!(
        shown.contains("`--drain` waits for them to end; `--force` ends them\nError: Got an error from the database server:\n    database \"drain_h7_busy\" is being accessed by other users"),
        "{shown}"
    );
    drop(held);
    server()
        .psql("DROP DATABASE drain_h7_busy WITH (FORCE)")
        .unwrap();
}

/// A database that allowed no connections before the drain is left so, and the error says
/// that instead of "allowed again".
#[test]
fn a_drain_of_a_database_that_refused_connections_leaves_it_so() {
    fresh("drain_h7_closed");
    let held = cluster().connect("drain_h7_closed").unwrap();
    server()
        .psql("ALTER DATABASE drain_h7_closed ALLOW_CONNECTIONS false")
        .unwrap();
    let e = cluster()
        .drop_database_with(
            "drain_h7_closed",
            &DropOptions::new().drain(Duration::from_secs(1)),
        )
        .unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Drain {
                after: AfterDrain::NotAllowedBefore,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "database \"drain_h7_closed\" was not dropped: 1 session still connected after 1 s of \
         waiting (it allowed no connections before, and still does not)"
    );
    assert_eq!(row("drain_h7_closed"), "f");
    drop(held);
    server()
        .psql("DROP DATABASE drain_h7_closed WITH (FORCE)")
        .unwrap();
}

/// `sessions` checks the name before any I/O, as every call that takes one does, and
/// `None` is the database the setting names.
#[test]
fn sessions_checks_the_name_and_takes_the_settings_database() {
    fresh("drain_h7_sessions");
    let held = cluster().connect("drain_h7_sessions").unwrap();
    let pid = held.backend_pid().unwrap();
    for bad in ["", "a\0b", &"x".repeat(64)] {
        let e = cluster().sessions(bad).unwrap_err();
        assert!(matches!(e, Error::InvalidName(_)), "{bad:?}: {e:?}");
    }
    let named = Cluster::new("postgres:///drain_h7_sessions")
        .unwrap()
        .with_env(server().env());
    let pids: Vec<i32> = named
        .sessions(None)
        .unwrap()
        .iter()
        .map(|s| s.pid)
        .collect();
    assert_eq!(pids, vec![pid]);
    drop(held);
    server()
        .psql("DROP DATABASE drain_h7_sessions WITH (FORCE)")
        .unwrap();
}

/// Draining `postgres` itself: the sessions are read on `template1` (a database with
/// `ALLOW_CONNECTIONS false` refuses our connections too), and the drop goes through; then,
/// with no `postgres`, the cluster's calls go on on `template1`. On a server of its own,
/// since it loses `postgres`.
#[test]
fn a_drain_of_postgres_reads_the_sessions_on_template1() {
    let own = TestServer::new().expect("a throwaway PostgreSQL server");
    let cluster = Cluster::new("pgsql:///postgres")
        .unwrap()
        .with_env(own.env());
    assert!(cluster.exists("postgres").unwrap());
    cluster
        .drop_database_with(
            "postgres",
            &DropOptions::new().drain(Duration::from_secs(30)),
        )
        .expect("postgres drained and dropped");
    // Read on template1 directly: the cluster's own reads go to `postgres`.
    let mut on_template1 = Cluster::new("pgsql:///template1")
        .unwrap()
        .with_env(own.env())
        .connect(None)
        .unwrap();
    let left = on_template1
        .query(
            "SELECT count(*) FROM pg_catalog.pg_database WHERE datname = 'postgres'",
            &[],
        )
        .unwrap();
    assert_eq!(left.row(0).and_then(|row| row.get(0)), Some("0"));
    // Closed: a session on template1 would block copying it.
    on_template1.close();
    // With no `postgres`, maintenance goes on on template1, as createdb and dropdb do.
    assert!(cluster.exists("template1").unwrap());
    assert!(!cluster.exists("postgres").unwrap());
    cluster.create("drain_h7_after").unwrap();
    assert!(cluster
        .list()
        .unwrap()
        .iter()
        .any(|d| d.name == "drain_h7_after"));
    cluster.drop_database("drain_h7_after").unwrap();
    cluster.create("postgres").unwrap();
    assert!(cluster.exists("postgres").unwrap());
}
