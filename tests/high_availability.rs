//! High availability on a real primary and two hot standbys (`TestServer::start_standby`)
//! of the server at hand (`.ci/run` runs the suite on 14, 15, 16, 17 and 18):
//!
//! - every `target_session_attrs` value against every order of the three hosts, through
//!   `Cluster::connect`, each connection saying which host and port it reached, the
//!   server's version and whether it is in recovery (checked against the server's own
//!   `current_setting('port')` and `pg_is_in_recovery()`);
//! - a Cluster's maintenance connections go to the primary when the setting lists several
//!   hosts and names no `target_session_attrs`, and follow the setting (or
//!   `PGTARGETSESSIONATTRS`) when it names one;
//! - a standby promoted and the old primary stopped: the next Cluster call, whose kept
//!   connection died with the old primary, succeeds on the new primary;
//! - `pgcluster connect --json` says which server it reached;
//! - `load_balance_hosts=random` spreads connections over the three hosts.
//!
//! A kept connection whose server now refuses writes (`25006`): a real server turned
//! read-only under it (`default_transaction_read_only` by `ALTER SYSTEM` and a reload,
//! which its idle session takes up), and a scripted server for a new connection refused
//! the same way (`a_kept_connection_refused_as_read_only_is_replaced`).
#![cfg(feature = "testing")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use pgcluster::blocking::Cluster;
use pgcluster::conninfo::Env;
use pgcluster::testing::TestServer;

/// The three servers.
struct Trio {
    primary: TestServer,
    standbys: [TestServer; 2],
}

impl Trio {
    fn start() -> Self {
        let primary = TestServer::new().expect("the primary starts");
        let standbys =
            [(); 2].map(|()| TestServer::start_standby(&primary).expect("a standby starts"));
        Self { primary, standbys }
    }

    /// `host=127.0.0.1,... port=<ports>` and `extra`, as the superuser (the standbys have
    /// the primary's password).
    fn setting(&self, ports: &[u16], extra: &str) -> String {
        let hosts = vec!["127.0.0.1"; ports.len()].join(",");
        let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
        format!(
            "host={hosts} port={} user=postgres dbname=postgres password={} sslmode=disable {extra}",
            ports.join(","),
            self.primary.password()
        )
    }

    /// A Cluster for `setting`, with `env` as its whole environment.
    fn cluster(&self, setting: &str, env: Env) -> Cluster {
        Cluster::new(setting).expect("setting").with_env(env)
    }
}

/// Every order of `items`.
fn orders(items: &[u16]) -> Vec<Vec<u16>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for (i, first) in items.iter().enumerate() {
        let mut rest = items.to_vec();
        rest.remove(i);
        for mut tail in orders(&rest) {
            tail.insert(0, *first);
            all.push(tail);
        }
    }
    all
}

/// Connects with `cluster.connect(None)` and returns the port reached, after checking that
/// what the connection says of its server is what the server says of itself.
fn reached(cluster: &Cluster, version_num: u32) -> u16 {
    let mut conn = cluster
        .connect(None)
        .unwrap_or_else(|e| panic!("{cluster:?}: {e}"));
    let row = conn
        .simple_query("SELECT current_setting('port'), pg_catalog.pg_is_in_recovery()::text")
        .expect("query")
        .remove(0)
        .rows
        .remove(0);
    let port: u16 = row[0].as_deref().expect("port").parse().expect("a port");
    let in_recovery = row[1].as_deref() == Some("true");
    assert_eq!(conn.host(), "127.0.0.1");
    assert_eq!(conn.port(), port);
    assert_eq!(conn.server_version_num(), Some(version_num));
    assert_eq!(conn.in_recovery().expect("in_recovery"), in_recovery);
    // PostgreSQL 14 and later report it at startup.
    assert_eq!(conn.in_hot_standby(), Some(in_recovery));
    conn.close();
    port
}

fn check() {
    let mut trio = Trio::start();
    let p = trio.primary.port();
    let [s1, s2] = [trio.standbys[0].port(), trio.standbys[1].port()];
    let version_num: u32 = trio
        .primary
        .psql("SHOW server_version_num")
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    // Every value against every order: `any` takes the first host; the primary's values
    // the primary wherever it is; the standby's values the first standby listed.
    for order in orders(&[p, s1, s2]) {
        let first_standby = *order.iter().find(|&&port| port != p).unwrap();
        for (mode, expected) in [
            ("any", order[0]),
            ("read-write", p),
            ("primary", p),
            ("read-only", first_standby),
            ("standby", first_standby),
            ("prefer-standby", first_standby),
        ] {
            let setting = trio.setting(&order, &format!("target_session_attrs={mode}"));
            let cluster = trio.cluster(&setting, Env::empty());
            assert_eq!(reached(&cluster, version_num), expected, "{mode} {order:?}");
        }
    }

    // Several hosts, no target_session_attrs: maintenance goes to the primary, listed
    // last; `connect` takes the first host, as libpq does.
    let standbys_first = trio.setting(&[s1, s2, p], "");
    let cluster = trio.cluster(&standbys_first, Env::empty());
    cluster
        .create("ha_on_the_primary")
        .expect("create on the primary");
    assert!(cluster.exists("ha_on_the_primary").unwrap());
    assert_eq!(
        trio.primary
            .psql("SELECT count(*) FROM pg_database WHERE datname = 'ha_on_the_primary'")
            .unwrap()
            .trim(),
        "1"
    );
    assert_eq!(reached(&cluster, version_num), s1);
    cluster.drop_database("ha_on_the_primary").unwrap();
    // A setting that names a value is followed: `any` takes the standby listed first,
    // which refuses to write, whether the setting or PGTARGETSESSIONATTRS says it.
    let read_only = "Got an error from the database server:\n    \
                     cannot execute CREATE DATABASE in a read-only transaction";
    let named = trio.cluster(
        &trio.setting(&[s1, s2, p], "target_session_attrs=any"),
        Env::empty(),
    );
    assert_eq!(
        named.create("ha_not_made").unwrap_err().to_string(),
        read_only
    );
    let from_env = trio.cluster(
        &standbys_first,
        Env::empty().with("PGTARGETSESSIONATTRS", "any"),
    );
    assert_eq!(
        from_env.create("ha_not_made").unwrap_err().to_string(),
        read_only
    );
    // One host: followed as given, even a standby.
    let one = trio.cluster(&trio.setting(&[s2], ""), Env::empty());
    assert_eq!(
        one.create("ha_not_made").unwrap_err().to_string(),
        read_only
    );

    #[cfg(feature = "cli")]
    connect_json(&trio, &[s1, s2, p]);

    // load_balance_hosts=random spreads connections over the hosts: 60 connections miss
    // one of three hosts with a chance of 3 * (2/3)^60, about 3e-11. Without it every one
    // goes to the first host. Maintenance still goes to the primary.
    let spread = trio.cluster(
        &trio.setting(&[s1, s2, p], "load_balance_hosts=random"),
        Env::empty(),
    );
    let mut seen: Vec<u16> = (0..60).map(|_| reached(&spread, version_num)).collect();
    seen.sort_unstable();
    seen.dedup();
    let mut all = vec![p, s1, s2];
    all.sort_unstable();
    assert_eq!(seen, all);
    let ordered = trio.cluster(&trio.setting(&[s1, s2, p], ""), Env::empty());
    assert!((0..10).all(|_| reached(&ordered, version_num) == s1));
    spread
        .create("ha_balanced")
        .expect("maintenance on the primary");
    spread.drop_database("ha_balanced").unwrap();

    // A failover: the cluster keeps a connection to the primary (listed between the
    // standbys), the primary stops and the first standby is promoted, while the second
    // stays a standby, listed first. The next call drops the dead kept connection, and the
    // new one passes the standby by and reaches the new primary.
    let cluster = trio.cluster(&trio.setting(&[s2, p, s1], ""), Env::empty());
    assert!(!cluster.exists("ha_after_failover").unwrap());
    trio.primary.stop().expect("stop the primary");
    trio.standbys[0]
        .promote()
        .expect("promote the first standby");
    cluster
        .create("ha_after_failover")
        .expect("create after the failover");
    assert_eq!(
        trio.standbys[0]
            .psql("SELECT count(*) FROM pg_database WHERE datname = 'ha_after_failover'")
            .unwrap()
            .trim(),
        "1"
    );
    assert!(cluster.exists("ha_after_failover").unwrap());
    cluster.drop_database("ha_after_failover").unwrap();
    let primary = trio.cluster(
        &trio.setting(&[s2, p, s1], "target_session_attrs=primary"),
        Env::empty(),
    );
    assert_eq!(reached(&primary, version_num), s1);
}

/// `pgcluster connect --json` says which server it reached: the first host (a standby)
/// without `target_session_attrs`, the primary with `primary`.
#[cfg(feature = "cli")]
fn connect_json(trio: &Trio, ports: &[u16]) {
    let version = trio.primary.psql("SHOW server_version").unwrap();
    let json = |setting: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pgcluster"))
            .env_clear()
            .args(["--db", setting, "connect", "--json"])
            .output()
            .expect("run pgcluster");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        String::from_utf8(out.stdout).unwrap()
    };
    let check = |stdout: String, port: u16, in_recovery: bool| {
        let head =
            format!(r#"{{"database":"postgres","host":"127.0.0.1","port":{port},"backend_pid":"#);
        let tail = format!(
            r#""server_version":"{}","in_recovery":{in_recovery}}}"#,
            version.trim()
        );
        assert!(
            stdout.starts_with(&head) && stdout.trim_end().ends_with(&tail),
            "{stdout}"
        );
    };
    check(json(&trio.setting(ports, "")), ports[0], true);
    check(
        json(&trio.setting(ports, "target_session_attrs=primary")),
        trio.primary.port(),
        false,
    );
}

#[test]
fn high_availability_on_the_server_at_hand() {
    check();
}

/// One backend message.
fn message(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend_from_slice(&u32::try_from(body.len() + 4).unwrap().to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// A scripted server on 127.0.0.1: for each connection in turn, the startup's replies
/// (a trust login to a PostgreSQL 15.0), then one reply per simple query, each from the
/// connection's list; it stops reading a connection at Terminate or end of file.
fn scripted(connections: Vec<Vec<Vec<u8>>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for replies in connections {
            let Ok((socket, _)) = listener.accept() else {
                return;
            };
            serve(socket, replies);
        }
    });
    port
}

fn serve(mut socket: TcpStream, replies: Vec<Vec<u8>>) {
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut len = [0u8; 4];
    if socket.read_exact(&mut len).is_err() {
        return;
    }
    let mut startup = vec![0u8; (u32::from_be_bytes(len) as usize).saturating_sub(4)];
    let _ = socket.read_exact(&mut startup);
    let mut ready = message(b'R', &[0, 0, 0, 0]);
    ready.extend(message(b'S', b"server_version\x0015.0\x00"));
    ready.extend(message(b'K', &[0, 0, 0, 1, 0, 0, 0, 2]));
    ready.extend(message(b'Z', b"I"));
    let _ = socket.write_all(&ready);
    let mut replies = replies.into_iter();
    loop {
        let mut head = [0u8; 5];
        if socket.read_exact(&mut head).is_err() || head[0] == b'X' {
            return;
        }
        let n = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0u8; n.saturating_sub(4)];
        if socket.read_exact(&mut body).is_err() {
            return;
        }
        if head[0] == b'Q' {
            let Some(reply) = replies.next() else { return };
            let _ = socket.write_all(&reply);
        }
    }
}

/// A kept maintenance connection whose server refuses the statement as read-only (as a
/// standby answers) is dropped, and the statement sent on a new connection; a new
/// connection refused the same way is the error (nothing is tried a third time).
#[test]
fn a_kept_connection_refused_as_read_only_is_replaced() {
    let done = {
        let mut reply = message(b'C', b"CREATE DATABASE\x00");
        reply.extend(message(b'Z', b"I"));
        reply
    };
    let read_only = {
        let mut reply = message(
            b'E',
            b"SERROR\x00VERROR\x00C25006\x00Mcannot execute CREATE DATABASE in a read-only transaction\x00\x00",
        );
        reply.extend(message(b'Z', b"I"));
        reply
    };
    let port = scripted(vec![
        vec![done.clone(), read_only.clone()],
        vec![done, read_only.clone()],
        vec![read_only],
    ]);
    let cluster = Cluster::new(&format!(
        "host=127.0.0.1 port={port} user=u dbname=postgres sslmode=disable"
    ))
    .unwrap()
    .with_env(Env::empty());
    // The first connection takes the first statement and is kept ...
    cluster.create("a").expect("the first create");
    // ... then refuses the second as read-only: the second connection takes it.
    cluster
        .create("b")
        .expect("the second create, on a new connection");
    // The second refuses the third: a new one is tried, and its refusal is the error.
    assert_eq!(
        cluster.create("c").unwrap_err().to_string(),
        "Got an error from the database server:\n    \
         cannot execute CREATE DATABASE in a read-only transaction"
    );
}

/// Two servers, `read-write` asked for: the Cluster's kept connection to the first finds
/// it read-only at its next statement (25006), is dropped, and the statement goes to a new
/// connection, which passes over the now read-only first server for the second. Nothing
/// is made on the first.
#[test]
fn a_kept_connection_on_a_server_turned_read_only_is_replaced() {
    let first = TestServer::new().expect("the first server starts");
    let second = TestServer::new().expect("the second server starts");
    let setting = format!(
        "host=127.0.0.1,127.0.0.1 port={},{} user=postgres dbname=postgres sslmode=disable \
         target_session_attrs=read-write",
        first.port(),
        second.port()
    );
    // Each server's own password, from the password file.
    let pgpass = std::env::temp_dir().join(format!("pgcluster-ha-pgpass-{}", std::process::id()));
    std::fs::write(
        &pgpass,
        format!(
            "127.0.0.1:{}:*:postgres:{}\n127.0.0.1:{}:*:postgres:{}\n",
            first.port(),
            first.password(),
            second.port(),
            second.password()
        ),
    )
    .expect("write the password file");
    std::fs::set_permissions(&pgpass, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod 600");
    let cluster = Cluster::new(&setting)
        .expect("setting")
        .with_env(Env::empty().with("PGPASSFILE", pgpass.to_str().expect("utf-8 path")));
    cluster
        .create("ha_ro_before")
        .expect("create on the first server");
    let on = |server: &TestServer, name: &str| {
        server
            .psql(&format!(
                "SELECT count(*) FROM pg_database WHERE datname = '{name}'"
            ))
            .expect("pg_database")
            .trim()
            == "1"
    };
    assert!(on(&first, "ha_ro_before") && !on(&second, "ha_ro_before"));
    first
        .psql("ALTER SYSTEM SET default_transaction_read_only = on; SELECT pg_reload_conf()")
        .expect("the first server turns read-only");
    // The reload reaches every session before its next statement; wait until a new one
    // sees it, so the kept one does too.
    let started = std::time::Instant::now();
    while first
        .psql("SHOW default_transaction_read_only")
        .expect("SHOW")
        .trim()
        != "on"
    {
        assert!(started.elapsed() < Duration::from_secs(30), "no reload");
        std::thread::sleep(Duration::from_millis(20));
    }
    cluster
        .create("ha_ro_after")
        .expect("the create, on a new connection to the second server");
    assert!(on(&second, "ha_ro_after") && !on(&first, "ha_ro_after"));
    // The kept connection did try it first, and was refused as read-only.
    let refused = "cannot execute CREATE DATABASE in a read-only transaction";
    let started = std::time::Instant::now();
    while !first.log().contains(refused) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{}",
            first.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(cluster
        .exists("ha_ro_after")
        .expect("exists, on the second server"));
    let _ = std::fs::remove_file(&pgpass);
}
