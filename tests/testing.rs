//! Throwaway servers (`pgcluster::testing`): roles, hba, restart, cleanup and standbys.
//! Run with `cargo test --features testing --test testing`.
#![cfg(feature = "testing")]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use pgcluster::testing::{
    Init, StopMode, TestServer, MD5_ROLE, PASSWORD_ROLE, REJECT_ROLE, SCRAM_ROLE,
};

/// Set (to `exit` or `wait`) in the environment of the child process that `guardian_child`
/// runs in.
const CHILD_VAR: &str = "PGCLUSTER_TESTING_GUARDIAN_CHILD";
/// Upper bound for cleanup after the owner is gone (the guardian polls every 200 ms).
const CLEANUP_BOUND: Duration = Duration::from_secs(30);

/// Runs the `psql` client as `user` over TCP (or the socket when `password` is `None`; an
/// empty password is none), with nothing from our own environment.
fn client_psql(server: &TestServer, user: &str, password: Option<&str>, sql: &str) -> Output {
    let mut cmd = Command::new(server.bin_dir().join("psql"));
    for (key, _) in std::env::vars() {
        if key.starts_with("PG") {
            cmd.env_remove(key);
        }
    }
    let host = match password {
        Some(password) => {
            cmd.env("PGPASSWORD", password);
            server.host_tcp().to_owned()
        }
        None => server.socket_dir().display().to_string(),
    };
    cmd.args(["-X", "-A", "-t", "-w", "-h", &host, "-p"])
        .arg(server.port().to_string())
        .args(["-U", user, "-d", "postgres", "-c", sql])
        .output()
        .expect("psql runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Processes whose command line mentions `needle` (e.g. a data directory).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(needle) {
                found.push(cmdline);
            }
        }
    }
    found
}

/// What is left of a server whose postmaster was `pid` and whose private directory was
/// `dir`: the directory, the living postmaster, or any process (such as the guardian) whose command
/// line mentions the directory.
fn leftovers(dir: &Path, pid: u32) -> Vec<String> {
    let mut left = processes_mentioning(&dir.display().to_string());
    if dir.exists() {
        left.push(format!("directory {}", dir.display()));
    }
    // A zombie has exited; only its parent (init, once pg_ctl is gone) has yet to reap it.
    if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
        if !status.contains("State:\tZ") {
            left.push(format!("postmaster {pid} is alive"));
        }
    }
    left
}

fn wait_until_cleaned_up(dir: &Path, pid: u32) {
    let start = Instant::now();
    while !leftovers(dir, pid).is_empty() {
        assert!(
            start.elapsed() < CLEANUP_BOUND,
            "not cleaned up: {:?}",
            leftovers(dir, pid)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The OS user's name, as libpq would take it.
fn os_user() -> String {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .expect("Uid line")
        .to_owned();
    let passwd = std::fs::read_to_string("/etc/passwd").expect("passwd");
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.get(2) == Some(&uid.as_str()))
        .map(|f| f[0].to_owned())
        .expect("our uid is in /etc/passwd")
}

#[test]
fn roles_exist_with_their_password_storage() {
    let server = TestServer::shared().expect("shared server starts");
    let rows = server
        .psql(&format!(
            "SELECT rolname, CASE WHEN rolpassword = 'md5' || md5('{}' || rolname) \
             THEN 'md5' WHEN rolpassword LIKE 'SCRAM-SHA-256$4096:%' THEN 'scram' \
             ELSE coalesce(rolpassword, 'none') END \
             FROM pg_authid WHERE rolname LIKE 'pgcluster%' ORDER BY 1",
            server.password()
        ))
        .expect("psql");
    assert_eq!(
        rows,
        "pgcluster_md5|md5\npgcluster_password|scram\npgcluster_reject|none\npgcluster_scram|scram\n"
    );
    let user = os_user();
    if user != "postgres" {
        let sql = format!(
            "SELECT rolsuper, rolcanlogin, rolpassword LIKE 'SCRAM-SHA-256$4096:%' \
             FROM pg_authid WHERE rolname = '{user}'"
        );
        assert_eq!(server.psql(&sql).expect("psql"), "t|t|t\n");
    }
    let sql = "SELECT rolpassword LIKE 'SCRAM-SHA-256$4096:%' FROM pg_authid \
               WHERE rolname = 'postgres'";
    assert_eq!(server.psql(sql).expect("psql"), "t\n");
}

#[test]
fn hba_methods_over_tcp() {
    let server = TestServer::shared().expect("shared server starts");
    let password = server.password();
    for role in [PASSWORD_ROLE, MD5_ROLE, SCRAM_ROLE] {
        let ok = client_psql(server, role, Some(password), "SELECT current_user");
        assert_eq!(stdout(&ok), format!("{role}\n"), "{}", stderr(&ok));
        let bad = client_psql(server, role, Some("wrong"), "SELECT 1");
        assert!(!bad.status.success());
        let expected = format!("FATAL:  password authentication failed for user \"{role}\"\n");
        assert!(stderr(&bad).ends_with(&expected), "{}", stderr(&bad));
    }
    let rejected = client_psql(server, REJECT_ROLE, Some(password), "SELECT 1");
    let expected = format!(
        "FATAL:  pg_hba.conf rejects connection for host \"127.0.0.1\", user \
         \"{REJECT_ROLE}\", database \"postgres\", no encryption\n"
    );
    assert!(
        stderr(&rejected).ends_with(&expected),
        "{}",
        stderr(&rejected)
    );
    // The socket trusts everyone; over TCP, the other roles need the password too.
    let local = client_psql(server, REJECT_ROLE, None, "SELECT current_user");
    assert_eq!(
        stdout(&local),
        format!("{REJECT_ROLE}\n"),
        "{}",
        stderr(&local)
    );
    let tcp = client_psql(server, "postgres", Some(password), "SELECT current_user");
    assert_eq!(stdout(&tcp), "postgres\n", "{}", stderr(&tcp));
    let wrong = client_psql(server, "postgres", Some("wrong"), "SELECT 1");
    assert!(
        stderr(&wrong).ends_with("FATAL:  password authentication failed for user \"postgres\"\n"),
        "{}",
        stderr(&wrong)
    );
    let none = client_psql(server, "postgres", Some(""), "SELECT 1");
    assert!(
        stderr(&none).ends_with("fe_sendauth: no password supplied\n"),
        "{}",
        stderr(&none)
    );
}

#[test]
fn uris_and_environment() {
    let server = TestServer::shared().expect("shared server starts");
    let sock = server.socket_dir().display().to_string();
    let port = server.port();
    assert_eq!(server.host_tcp(), "127.0.0.1");
    assert_eq!(
        server.uri("postgres", "db"),
        format!("pgsql://postgres@{}:{port}/db", sock.replace('/', "%2F"))
    );
    let password = server.password();
    assert_eq!(password.len(), 32, "{password}");
    assert!(
        password.bytes().all(|b| b.is_ascii_hexdigit()),
        "{password}"
    );
    assert_eq!(
        server.tcp_uri(MD5_ROLE, "db"),
        format!("pgsql://pgcluster_md5:{password}@127.0.0.1:{port}/db")
    );
    assert_eq!(
        server.env_vars(),
        [
            ("PGHOST".to_owned(), sock.clone()),
            ("PGPORT".to_owned(), port.to_string()),
            ("PGUSER".to_owned(), "postgres".to_owned()),
        ]
    );
    let env = server.env();
    assert_eq!(env.get("PGHOST"), Some(sock.as_str()));
    assert_eq!(env.get("PGPORT"), Some(port.to_string().as_str()));
    assert_eq!(env.get("PGUSER"), Some("postgres"));
    assert_eq!(env.get("PGDATABASE"), None);
    assert_eq!(env.get("PGPASSWORD"), None);
    assert_eq!(
        server.tcp_env_vars(),
        [
            ("PGHOST".to_owned(), "127.0.0.1".to_owned()),
            ("PGPORT".to_owned(), port.to_string()),
            ("PGUSER".to_owned(), "postgres".to_owned()),
            ("PGPASSWORD".to_owned(), password.to_owned()),
        ]
    );
    let tcp = server.tcp_env();
    assert_eq!(tcp.get("PGHOST"), Some("127.0.0.1"));
    assert_eq!(tcp.get("PGPASSWORD"), Some(password));
    // Debug never shows the password.
    let debug = format!("{server:?}");
    assert!(!debug.contains(password), "{debug}");
    assert!(debug.contains("password: _"), "{debug}");
    // Unix socket paths must fit in sun_path.
    assert!(sock.len() + "/.s.PGSQL.65535".len() < 107, "{sock}");
    // The shared server is one per process.
    assert!(std::ptr::eq(server, TestServer::shared().expect("shared")));
    assert!(server
        .log()
        .contains("database system is ready to accept connections"));
}

#[test]
fn psql_reports_errors() {
    let server = TestServer::shared().expect("shared server starts");
    let err = server.psql("SELECT 1; SELECT nope; SELECT 2").unwrap_err();
    assert_eq!(
        err.to_string(),
        "psql failed (exit status: 3):\nERROR:  column \"nope\" does not exist\n\
         LINE 1: SELECT nope;\n               ^\n1"
    );
}

#[test]
fn builder_options() {
    let server = TestServer::builder()
        .max_connections(7)
        .conf_line("work_mem = '3MB'")
        .hba_line("local all pgcluster_reject reject")
        .start()
        .expect("server starts");
    assert_eq!(
        server.psql("SHOW max_connections; SHOW work_mem; SHOW lc_messages; SHOW fsync"),
        Ok("7\n3MB\nC\noff\n".to_owned())
    );
    let local = client_psql(&server, REJECT_ROLE, None, "SELECT 1");
    assert!(
        stderr(&local).ends_with(&format!(
            "FATAL:  pg_hba.conf rejects connection for host \"[local]\", user \
             \"{REJECT_ROLE}\", database \"postgres\", no encryption\n"
        )),
        "{}",
        stderr(&local)
    );
}

#[test]
fn gives_up_when_the_port_stays_taken() {
    // A caller's `port` line overrides the free port we pick, so every attempt clashes.
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("address").port();
    let err = TestServer::builder()
        .conf_line(&format!("port = {port}"))
        .start()
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "the server found its port taken by another process 5 times in a row; \
             last server log:\n"
        ),
        "{err}"
    );
    let bind = "could not bind IPv4 address \"127.0.0.1\": Address already in use";
    assert!(err.contains(bind), "{err}");
}

#[test]
fn two_servers_stop_start_and_drop() {
    let mut a = TestServer::new().expect("first server starts");
    let b = TestServer::new().expect("second server starts");
    assert_ne!(a.port(), b.port());
    assert_ne!(a.password(), b.password());
    assert_ne!(a.data_dir(), b.data_dir());
    for server in [&a, &b] {
        let port = server.psql("SHOW port").expect("psql");
        assert_eq!(port, format!("{}\n", server.port()));
    }

    let port = a.port();
    let first_pid = a.pid().expect("running");
    a.stop().expect("stop");
    assert_eq!(a.pid(), None);
    assert!(a.psql("SELECT 1").is_err());
    assert_eq!(b.psql("SELECT 1"), Ok("1\n".to_owned()));
    a.start().expect("start again");
    assert_eq!(a.port(), port);
    assert_ne!(a.pid(), Some(first_pid));
    assert_eq!(a.psql("SHOW port"), Ok(format!("{port}\n")));
    a.reload().expect("reload");
    a.stop_mode(StopMode::Immediate).expect("immediate stop");
    a.start().expect("start after crash");
    assert_eq!(a.psql("SELECT 1"), Ok("1\n".to_owned()));
    a.stop_mode(StopMode::Smart).expect("smart stop");
    assert_eq!(a.pid(), None);
    let err = a.stop().unwrap_err().to_string();
    assert!(
        err.starts_with("pg_ctl stop failed (exit status: 1):\n"),
        "{err}"
    );
    a.start().expect("start after smart stop");

    let (dir, pid) = (a.dir().to_owned(), a.pid().expect("running"));
    drop(a);
    assert_eq!(leftovers(&dir, pid), Vec::<String>::new());
    assert_eq!(b.psql("SELECT 1"), Ok("1\n".to_owned()));
    let (dir, pid) = (b.dir().to_owned(), b.pid().expect("running"));
    drop(b);
    assert_eq!(leftovers(&dir, pid), Vec::<String>::new());
}

#[test]
fn drop_runs_while_panicking() {
    let (sender, receiver) = std::sync::mpsc::channel();
    let result = std::panic::catch_unwind(move || {
        let server = TestServer::new().expect("server starts");
        let _ = sender.send((server.dir().to_owned(), server.pid().expect("running")));
        panic!("test panic with a running server");
    });
    assert!(result.is_err());
    let (dir, pid) = receiver.recv().expect("server started");
    assert_eq!(leftovers(&dir, pid), Vec::<String>::new());
}

/// Not a test on its own: the guardian tests run it in a child process, which starts a
/// server, prints where it is, and then exits without running any destructor (`exit`) or
/// waits to be interrupted (`wait`).
#[test]
fn guardian_child() {
    let Some(mode) = std::env::var_os(CHILD_VAR) else {
        return;
    };
    let server = TestServer::new().expect("server starts");
    println!(
        "\ndir={}\npid={}",
        server.dir().display(),
        server.pid().expect("running")
    );
    if mode == "wait" {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    }
    std::process::exit(0);
}

/// Runs `guardian_child` in a new process group, and returns it with its server's
/// directory and postmaster pid.
fn spawn_guardian_child(mode: &str) -> (Child, PathBuf, u32) {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "guardian_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_VAR, mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .process_group(0)
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
    let pid = field("pid=").parse().expect("pid");
    (child, dir, pid)
}

#[test]
fn guardian_cleans_up_after_exit() {
    let (mut child, dir, pid) = spawn_guardian_child("exit");
    assert!(child.wait().expect("child ends").success());
    wait_until_cleaned_up(&dir, pid);
}

/// A postmaster that never gets ready and never writes `postmaster.pid`, so `pg_ctl` cannot
/// stop it: the failed start kills it (with the shell that started it) before it returns.
#[test]
fn a_postmaster_that_never_gets_ready_does_not_outlive_the_failed_start() {
    let scratch = std::env::temp_dir().join(format!("pgc-fake-bin-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("fake bin dir");
    std::fs::set_permissions(&scratch, std::fs::Permissions::from_mode(0o755)).expect("mode");
    let marker = scratch.display().to_string();
    let script = |name: &str, body: &str| {
        let path = scratch.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("fake program");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("mode");
    };
    // initdb: a data directory with what the configuration steps touch.
    script(
        "initdb",
        r#"while [ $# -gt 0 ]; do [ "$1" = -D ] && d=$2; shift; done
mkdir -p "$d" && echo 15 > "$d/PG_VERSION" && : > "$d/postgresql.conf""#,
    );
    // Its command line names the fake directory; its `sleep`s are in its process group.
    script("postgres", "while :; do sleep 1; done");
    script("pg_ctl", "exit 1");
    let result = TestServer::builder()
        .bin_dir(&scratch)
        .no_initdb_cache()
        .timeout(Duration::from_secs(1))
        .start();
    let left = processes_mentioning(&marker);
    std::fs::remove_dir_all(&scratch).expect("fake bin dir removed");
    let err = result.expect_err("the start fails").to_string();
    assert!(err.contains("not ready after 1 s"), "{err}");
    assert_eq!(left, Vec::<String>::new());
}

/// Item 3: a server that outlives its process (as a test binary's `TestServer::shared()`
/// does: the guardian stops it once the binary has exited) leaves no zombie `postgres` for
/// `init` to reap: until the postmaster is gone, its parent is the shell that started it,
/// which reaps it. (The `init` of this project's CI machines reaps orphans only every two
/// seconds or so; sampled every 5 ms, a postmaster left to it was seen there each time.)
#[test]
fn a_server_outliving_its_process_is_reaped_by_its_shell_not_init() {
    let (mut child, dir, pid) = spawn_guardian_child("exit");
    assert!(child.wait().expect("child ends").success());
    let started = start_of(pid).expect("the postmaster runs on");
    let since = Instant::now();
    let mut parents = Vec::new();
    while start_of(pid) == Some(started) {
        let ppid = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                let after = stat.get(stat.rfind(')')? + 1..)?.to_owned();
                after.split_whitespace().nth(1)?.parse::<u32>().ok()
            });
        let parent = ppid.map(|ppid| {
            let cmdline = std::fs::read(format!("/proc/{ppid}/cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).replace('\0', " ")
        });
        // A shell that has just reaped it (and exited) shows no command line: only a
        // postmaster still there with another parent counts.
        if let Some(parent) = parent.filter(|p| !p.contains("pgcluster-postmaster")) {
            if start_of(pid) == Some(started) && !parents.contains(&parent) {
                parents.push(parent);
            }
        }
        assert!(
            since.elapsed() < CLEANUP_BOUND,
            "postmaster {pid} still there"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(parents, Vec::<String>::new(), "other parents of {pid}");
    wait_until_cleaned_up(&dir, pid);
}

#[test]
fn guardian_cleans_up_after_ctrl_c() {
    let (mut child, dir, pid) = spawn_guardian_child("wait");
    // What Ctrl-C in a terminal does: SIGINT to the whole foreground process group. A
    // process started in the background by a non-interactive shell inherits SIGINT
    // ignored, and so does the child; there SIGTERM stands in for it.
    let (name, number) = if sigint_ignored() {
        ("-TERM", 15)
    } else {
        ("-INT", 2)
    };
    let group = format!("-{}", child.id());
    let status = Command::new("kill")
        .args([name, "--", &group])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let status = child.wait().expect("child ends");
    assert_eq!(status.signal(), Some(number), "{status}");
    wait_until_cleaned_up(&dir, pid);
}

/// Whether this process ignores SIGINT (bit 1 of `SigIgn` in `/proc/self/status`).
fn sigint_ignored() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << 1) != 0)
}

#[test]
fn hot_standby_and_promote() {
    let primary = TestServer::new().expect("primary starts");
    primary
        .psql("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
        .expect("setup");
    let standby = TestServer::start_standby(&primary).expect("standby starts");
    assert_ne!(standby.port(), primary.port());
    // The roles come from the primary, and so does their password.
    assert_eq!(standby.password(), primary.password());
    assert_eq!(
        standby.psql("SELECT pg_is_in_recovery()"),
        Ok("t\n".to_owned())
    );
    assert_eq!(standby.psql("SELECT x FROM t"), Ok("1\n".to_owned()));
    let err = standby.psql("INSERT INTO t VALUES (2)").unwrap_err();
    assert!(
        err.to_string()
            .contains("ERROR:  cannot execute INSERT in a read-only transaction"),
        "{err}"
    );
    // Streaming replication: a new row reaches the standby.
    primary.psql("INSERT INTO t VALUES (3)").expect("insert");
    let start = Instant::now();
    while standby.psql("SELECT count(*) FROM t") != Ok("2\n".to_owned()) {
        assert!(
            start.elapsed() < CLEANUP_BOUND,
            "row not replicated; standby log:\n{}\nprimary log:\n{}",
            standby.log(),
            primary.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    standby.promote().expect("promote");
    assert_eq!(
        standby.psql("SELECT pg_is_in_recovery()"),
        Ok("f\n".to_owned())
    );
    standby
        .psql("INSERT INTO t VALUES (4)")
        .expect("writable after promote");
    assert_eq!(primary.psql("SELECT count(*) FROM t"), Ok("2\n".to_owned()));
}

/// Whether this process runs as root (effective uid 0).
fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        == Some("0")
}

/// `program args` as the OS user `nobody` (`runuser -u nobody --`), in `/`, with only
/// `PATH` and `vars` in its environment and no terminal.
fn as_nobody(program: &Path, args: &[String], vars: &[(&str, &str)]) -> Output {
    let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("runuser is installed");
    let mut cmd = Command::new(runuser);
    cmd.args(["-u", "nobody", "--"])
        .arg(program)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .envs(vars.iter().copied())
        .current_dir("/")
        .stdin(Stdio::null());
    cmd.output().expect("runuser runs")
}

/// `psql -X -A -t -w -c 'SELECT 1'` with `conninfo`, as `nobody`, with `password` (if any)
/// as `PGPASSWORD`.
fn psql_as_nobody(server: &TestServer, conninfo: &str, password: Option<&str>) -> Output {
    let args = ["-X", "-A", "-t", "-w", "-d", conninfo, "-c", "SELECT 1"].map(str::to_owned);
    let vars: Vec<(&str, &str)> = password.map(|p| ("PGPASSWORD", p)).into_iter().collect();
    as_nobody(&server.bin_dir().join("psql"), &args, &vars)
}

/// What a run that must have failed printed, with its exit status checked.
fn failed_text(output: &Output, what: &str) -> String {
    assert!(!output.status.success(), "{what}: {}", stdout(output));
    assert_eq!(stdout(output), "", "{what}");
    stderr(output)
}

/// Another OS user gets nowhere: not through the socket (its directory is 0700), not over
/// TCP as any role without the server's password (nothing is trusted there), whether with
/// `psql` or with our own client; the owner connects both ways.
#[test]
fn another_os_user_cannot_connect() {
    if !is_root() {
        println!("skipped: switching to the OS user nobody needs root");
        return;
    }
    let server = TestServer::new().expect("server starts");
    let port = server.port();
    let sock = server.socket_dir().display().to_string();
    let socket = format!("host={sock} port={port} user=postgres dbname=postgres");
    let tcp = |user: &str| format!("host=127.0.0.1 port={port} user={user} dbname=postgres");

    // The owner: over the socket without a password, over TCP with it.
    let owner = client_psql(&server, "postgres", None, "SELECT current_user");
    assert_eq!(stdout(&owner), "postgres\n", "{}", stderr(&owner));
    let owner = client_psql(
        &server,
        "postgres",
        Some(server.password()),
        "SELECT current_user",
    );
    assert_eq!(stdout(&owner), "postgres\n", "{}", stderr(&owner));

    // nobody, over the socket: the directory is closed to it.
    let text = failed_text(&psql_as_nobody(&server, &socket, None), "socket");
    assert!(
        text.contains(&format!(
            "{sock}/.s.PGSQL.{port}\" failed: Permission denied"
        )),
        "{text}"
    );

    // nobody, over TCP: every role needs the password. Without one, libpq gives up before
    // sending anything; the old public password of the test roles is refused.
    let mut roles = vec!["postgres".to_owned(), os_user()];
    roles.extend([PASSWORD_ROLE, MD5_ROLE, SCRAM_ROLE].map(str::to_owned));
    roles.dedup();
    for role in &roles {
        let text = failed_text(&psql_as_nobody(&server, &tcp(role), None), role);
        assert!(
            text.ends_with("fe_sendauth: no password supplied\n"),
            "{role}: {text}"
        );
        let guessed = psql_as_nobody(&server, &tcp(role), Some("pgcluster-secret"));
        let text = failed_text(&guessed, role);
        assert!(
            text.ends_with(&format!(
                "FATAL:  password authentication failed for user \"{role}\"\n"
            )),
            "{role}: {text}"
        );
    }
    let text = failed_text(
        &psql_as_nobody(&server, &tcp(REJECT_ROLE), Some("pgcluster-secret")),
        REJECT_ROLE,
    );
    assert!(
        text.contains("FATAL:  pg_hba.conf rejects connection"),
        "{text}"
    );

    // Our own client, through the pgcluster binary, fares no better.
    #[cfg(feature = "cli")]
    {
        let cli = Path::new(env!("CARGO_BIN_EXE_pgcluster"));
        let executable = as_nobody(
            Path::new("test"),
            &["-x".into(), cli.display().to_string()],
            &[],
        );
        if !executable.status.success() {
            println!(
                "pgcluster part skipped: nobody cannot run {}",
                cli.display()
            );
            return;
        }
        let run = |setting: String| {
            let output = as_nobody(
                cli,
                &["--db".into(), setting.clone(), "connect".into()],
                &[],
            );
            (output.status.code(), failed_text(&output, &setting))
        };
        let (status, text) = run(format!("postgresql:///postgres?host={sock}&port={port}"));
        assert_eq!(status, Some(1), "{text}");
        assert!(text.contains("Permission denied"), "{text}");
        for role in &roles {
            let (status, text) = run(format!("postgres://{role}@127.0.0.1:{port}/postgres"));
            assert_eq!(status, Some(1), "{text}");
            assert!(text.contains("fe_sendauth: no password supplied"), "{text}");
            let (status, text) = run(format!(
                "postgres://{role}:pgcluster-secret@127.0.0.1:{port}/postgres"
            ));
            assert_eq!(status, Some(1), "{text}");
            assert!(
                text.contains(&format!(
                    "FATAL:  password authentication failed for user \"{role}\""
                )),
                "{text}"
            );
        }
    }
}

/// The uid in `/etc/passwd` of the OS user `name`.
fn uid_of(name: &str) -> u32 {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("passwd");
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&name))
        .and_then(|f| f.get(2)?.parse().ok())
        .unwrap_or_else(|| panic!("{name} is in /etc/passwd"))
}

/// The private, socket and data directories are the server user's alone (0700); the files
/// we write are 0600; and the server's loaded `pg_hba.conf` trusts nothing over TCP.
#[test]
fn directories_are_private_and_tcp_trusts_nobody() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let server = TestServer::shared().expect("shared server starts");
    let me = os_user();
    let owner = uid_of(if is_root() { "postgres" } else { &me });
    let data = server.data_dir();
    for dir in [server.dir(), server.socket_dir(), data] {
        let meta = std::fs::metadata(dir).expect("directory");
        let mode = meta.permissions().mode() & 0o7777;
        assert_eq!((meta.uid(), mode), (owner, 0o700), "{}", dir.display());
    }
    for file in ["pg_hba.conf", "pgcluster.conf", "postgresql.conf"] {
        let meta = std::fs::metadata(data.join(file)).expect("file");
        let mode = meta.permissions().mode() & 0o7777;
        assert_eq!((meta.uid(), mode), (owner, 0o600), "{file}");
    }
    let rules = server
        .psql(
            "SELECT type, auth_method, coalesce(error, '') FROM pg_hba_file_rules \
             ORDER BY line_number",
        )
        .expect("pg_hba_file_rules");
    let rules: Vec<Vec<&str>> = rules.lines().map(|l| l.split('|').collect()).collect();
    assert!(rules.iter().all(|r| r[2].is_empty()), "{rules:?}");
    let host: Vec<&Vec<&str>> = rules.iter().filter(|r| r[0] == "host").collect();
    assert!(!host.is_empty(), "{rules:?}");
    assert!(host.iter().all(|r| r[1] != "trust"), "{rules:?}");
    assert!(host.iter().any(|r| r[1] == "scram-sha-256"), "{rules:?}");
    // Only the socket trusts, since only the owner can reach it.
    assert!(rules
        .iter()
        .filter(|r| r[1] == "trust")
        .all(|r| r[0] == "local"));
    // Test certificates are private too.
    let certs = pgcluster::testing::TestCerts::generate().expect("certificates");
    let mode = std::fs::metadata(certs.dir())
        .expect("dir")
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o700);
}

/// As root, what the server's OS user puts in its directory cannot make root read a file
/// of root's: a `server.log` replaced by a symlink to one is read as that user, and fails.
#[test]
fn the_log_is_not_read_through_a_symlink_as_root() {
    if !is_root() {
        println!("skipped: no other OS user to guard against when not root");
        return;
    }
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let server = TestServer::new().expect("server starts");
    assert!(server.log().contains("ready to accept connections"));
    let root_only = std::env::temp_dir().join(format!("pgc-root-only-{}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&root_only)
        .expect("root's directory");
    let secret = root_only.join("secret");
    std::fs::write(&secret, "root's own secret\n").expect("secret");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let log = server.dir().join("server.log");
    let planted = Command::new("runuser")
        .args(["-u", "postgres", "--", "ln", "-sf"])
        .args([&secret, &log])
        .status()
        .expect("runuser runs");
    let read = server.log();
    let _ = std::fs::remove_dir_all(&root_only);
    assert!(planted.success());
    assert!(std::fs::symlink_metadata(&log)
        .expect("the link")
        .file_type()
        .is_symlink());
    assert_eq!(read, "");
    // The server itself is untouched.
    assert_eq!(server.psql("SELECT 1"), Ok("1\n".to_owned()));
}

/// The parent pid of `pid` (field 4 of `/proc/<pid>/stat`).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.get(stat.rfind(')')? + 1..)?;
    after.split_whitespace().nth(1)?.parse().ok()
}

/// The processes of the servers in directories whose paths start with `dir`: every
/// process whose command line mentions it (the postmaster, `runuser` and `sh` around it,
/// the guardian) and their children (the postmaster's backends).
fn server_processes(dir: &str) -> Vec<u32> {
    let all: Vec<u32> = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    let mentioning: Vec<u32> = all
        .iter()
        .copied()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(dir))
        })
        .collect();
    let mut found = mentioning.clone();
    for pid in all {
        if parent_of(pid).is_some_and(|p| mentioning.contains(&p)) && !found.contains(&pid) {
            found.push(pid);
        }
    }
    found
}

/// When `pid` started (field 22 of `/proc/<pid>/stat`), to tell it from a later process
/// given the same pid.
fn start_of(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.get(stat.rfind(')')? + 1..)?;
    after.split_whitespace().nth(19)?.parse().ok()
}

/// `pids` with their start times.
fn started(pids: &[u32]) -> Vec<(u32, u64)> {
    pids.iter()
        .filter_map(|&pid| Some((pid, start_of(pid)?)))
        .collect()
}

/// Those of `pids` (with their start times) that still exist, zombies included.
fn existing(pids: &[(u32, u64)]) -> Vec<u32> {
    pids.iter()
        .filter(|(pid, start)| start_of(*pid) == Some(*start))
        .map(|(pid, _)| *pid)
        .collect()
}

/// Item 3: `stop` returns only once the postmaster has exited and been reaped, and `drop`
/// only once the guardian has too: not even a zombie is left for `init` to reap.
#[test]
fn after_stop_and_drop_no_process_of_the_server_is_left_not_even_a_zombie() {
    let mut server = TestServer::new().expect("server starts");
    let dir = server.dir().display().to_string();
    let postmaster = server.pid().expect("running");
    let before = started(&server_processes(&dir));
    assert!(before.iter().any(|(p, _)| *p == postmaster), "{before:?}");
    let guardian = processes_mentioning("pgcluster-guardian")
        .iter()
        .any(|c| c.contains(&dir));
    assert!(guardian, "the guardian runs");
    server.stop().expect("stop");
    // Right after: only the guardian, waiting for the server to be dropped.
    let left: Vec<String> = existing(&before)
        .into_iter()
        .map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).replace('\0', " ")
        })
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].contains("pgcluster-guardian"), "{left:?}");
    server.start().expect("start again");
    let again = started(&server_processes(&dir));
    assert!(again.len() > 2, "{again:?}");
    drop(server);
    assert_eq!(existing(&again), Vec::<u32>::new());
    assert!(!Path::new(&dir).exists());
}

/// Item 3: `pgcluster demo` returns only after its server's processes are all gone.
#[cfg(feature = "cli")]
#[test]
fn pgcluster_demo_returns_after_its_server_is_gone() {
    let mut demo = Command::new(env!("CARGO_BIN_EXE_pgcluster"))
        .arg("demo")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("demo runs");
    let dir = format!("pgcluster-test-{}-", demo.id());
    let mut seen = Vec::new();
    let status = loop {
        for pid in started(&server_processes(&dir)) {
            if !seen.contains(&pid) {
                seen.push(pid);
            }
        }
        if let Some(status) = demo.try_wait().expect("demo") {
            break status;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    assert!(seen.len() > 2, "the demo's server was seen: {seen:?}");
    assert_eq!(existing(&seen), Vec::<u32>::new());
}

/// `SELECT system_identifier FROM pg_control_system()`: the same for copies of one
/// `initdb`.
fn system_identifier(server: &TestServer) -> String {
    server
        .psql("SELECT system_identifier FROM pg_control_system()")
        .expect("psql")
}

/// Item 5: `initdb` runs once per cache (two servers starting at once on an empty cache
/// build it once), later servers copy it, and the cache is private to the servers' user.
#[test]
fn initdb_runs_once_per_cache_and_servers_copy_it() {
    let cache = Path::new("/tmp").join(format!("pgcluster-initdb-test-{}", std::process::id()));
    let start = || TestServer::builder().initdb_cache(&cache).start();
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(start);
        let b = s.spawn(start);
        (a.join().expect("a"), b.join().expect("b"))
    });
    let (a, b) = (a.expect("a starts"), b.expect("b starts"));
    let c = start().expect("c starts");
    let plain = TestServer::builder()
        .no_initdb_cache()
        .start()
        .expect("plain starts");
    let entries: Vec<String> = std::fs::read_dir(&cache)
        .expect("the cache exists")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let meta = std::fs::metadata(&cache).expect("cache");
    let server_uid = std::fs::metadata(a.dir()).expect("dir").uid();
    let ids = [&a, &b, &c, &plain].map(system_identifier);
    let inits = [a.init(), b.init(), c.init(), plain.init()];
    drop((a, b, c, plain));
    std::fs::remove_dir_all(&cache).expect("cache removed");

    let built = inits[..2].iter().filter(|i| **i == Init::Built).count();
    assert_eq!(built, 1, "{inits:?}");
    assert!(inits[..2].contains(&Init::Hit), "{inits:?}");
    assert_eq!(inits[2..], [Init::Hit, Init::Plain]);
    assert_eq!(
        entries.len(),
        1,
        "one entry, nothing temporary: {entries:?}"
    );
    assert_eq!(entries[0].len(), 32, "{entries:?}");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o700);
    assert_eq!(meta.uid(), server_uid);
    assert!(
        ids[0] == ids[1] && ids[1] == ids[2],
        "copies of one initdb: {ids:?}"
    );
    assert_ne!(ids[0], ids[3], "its own initdb: {ids:?}");
}
