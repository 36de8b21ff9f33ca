//! Name resolution and client addresses that need a network of their own: unknown host
//! names (without ever asking a real DNS server), `localhost` resolving to `::1` then
//! `127.0.0.1`, and a client address no `pg_hba.conf` line matches.
//!
//! The test re-executes itself under `unshare --net --mount` (root only) with
//! [`CHILD_VAR`] set. In that namespace only `lo` exists (brought up, plus the address
//! `10.99.0.1`), `/etc/resolv.conf` is a bind mount of a file naming `127.0.0.1` as the
//! only nameserver, and `/etc/hosts` one mapping `localhost` to `::1` and `127.0.0.1`.
//! While nothing listens on port 53 a lookup fails at once with `Temporary failure in name
//! resolution`; with the test's stub (which answers every query with NXDOMAIN) it fails
//! with `Name or service not known`.
//!
//! Every expected text was printed by `python3 /work/shared/tools/rexref libpq '...'` (or
//! `rexref connect URI`), libpq 13.3, run in a namespace set up the same way, with a
//! PostgreSQL 15 server listening on `*` with `TestServer`'s `pg_hba.conf`, and the same
//! kind of stub (port 47124 and 2345 there; only the ports differ).
#![cfg(feature = "testing")]

mod connecting;
mod fake_server;

#[path = "support/scratch.rs"]
mod scratch;

use std::net::UdpSocket;
use std::process::Command;

use connecting::{failure, on_each_driver, resolve, Driver};
use fake_server::{closed_port, refused};
use pgcluster::conninfo::Env;
use pgcluster::testing::TestServer;
use scratch::Scratch;

/// Set in the re-executed test process, which runs inside the namespace.
const CHILD_VAR: &str = "PGCLUSTER_TEST_NETNS_CHILD";
/// The namespace's own address besides loopback: no `pg_hba.conf` line names it.
const OTHER_ADDR: &str = "10.99.0.1";

/// Brings `lo` up, adds [`OTHER_ADDR`], bind-mounts the two files, then runs the test.
const SETUP: &str = r#"set -e
ip link set lo up
ip addr add 10.99.0.1/32 dev lo
mount --bind "$PGC_NETNS_RESOLV" /etc/resolv.conf
mount --bind "$PGC_NETNS_HOSTS" /etc/hosts
exec "$@"
"#;

#[test]
fn lookups_and_addresses_in_a_network_namespace() {
    if std::env::var_os(CHILD_VAR).is_some() {
        in_namespace();
        return;
    }
    if !is_root() {
        eprintln!("skipped: unshare --net --mount needs root");
        return;
    }
    let dir = Scratch::new("netns");
    let resolv = dir.file("resolv.conf", "nameserver 127.0.0.1\n");
    let hosts = dir.file("hosts", "::1 localhost\n127.0.0.1 localhost\n");
    let exe = std::env::current_exe().expect("test executable");
    let out = Command::new("unshare")
        .args(["--net", "--mount", "--", "sh", "-c", SETUP, "sh"])
        .arg(exe)
        .args([
            "--exact",
            "lookups_and_addresses_in_a_network_namespace",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_VAR, "1")
        .env("PGC_NETNS_RESOLV", &resolv)
        .env("PGC_NETNS_HOSTS", &hosts)
        .output()
        .expect("run unshare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "in the namespace: {}\n{stdout}\n{stderr}",
        out.status
    );
    // The child really ran the checks (and not zero tests).
    assert!(
        stdout.contains("namespace checks done"),
        "{stdout}\n{stderr}"
    );
}

/// Runs inside the namespace. Each stage runs on both drivers (name lookups and the
/// address walk are each driver's own) before the next: the namespace has one port 53,
/// free in the first stage and the stub's in the second.
fn in_namespace() {
    let closed = closed_port();
    on_each_driver(|driver| without_a_nameserver(driver, closed));
    // A nameserver that knows no names.
    start_nxdomain_stub();
    // A server on every address; connecting to OTHER_ADDR comes from OTHER_ADDR.
    let server = TestServer::builder()
        .conf_line("listen_addresses = '*'")
        .start()
        .expect("server in the namespace");
    on_each_driver(|driver| with_the_stub(driver, closed, &server));
    drop(server);
    println!("namespace checks done");
}

async fn without_a_nameserver(driver: Driver, closed: u16) {
    // No nameserver answers: glibc gives up at once.
    assert_eq!(
        failure(driver, &format!("host=nosuchhost.invalid port={closed} user=u dbname=d")).await,
        "could not translate host name \"nosuchhost.invalid\" to address: Temporary failure in name resolution\n"
    );
}

async fn with_the_stub(driver: Driver, closed: u16, server: &TestServer) {
    let b = refused(&closed.to_string());
    let unknown = "could not translate host name \"nosuchhost.invalid\" to address: Name or service not known\n";
    assert_eq!(
        failure(
            driver,
            &format!("host=nosuchhost.invalid port={closed} user=u dbname=d")
        )
        .await,
        unknown
    );
    // messages.md §3.3: refused, then unknown host name; a failed lookup goes on to
    // the next host.
    assert_eq!(
        failure(
            driver,
            &format!("host=127.0.0.1,nosuchhost.invalid port={closed} user=u dbname=d")
        )
        .await,
        format!("{b}{unknown}")
    );
    assert_eq!(
        failure(
            driver,
            &format!("host=nosuchhost.invalid,127.0.0.1 port={closed} user=u dbname=d")
        )
        .await,
        format!("{unknown}{b}")
    );
    // Through rex's setting and the Cluster API (`rexref connect
    // pgsql://nosuchhost.invalid:2345/x`).
    let cluster = driver
        .cluster(&format!("pgsql://nosuchhost.invalid:{closed}/x"))
        .expect("setting")
        .with_env(Env::empty());
    let e = cluster.connect(None).await.expect_err("unknown host");
    assert_eq!(
        e.to_string(),
        "Failed to connect to the database server:\n    could not translate host name \"nosuchhost.invalid\" to address: Name or service not known"
    );

    // localhost is ::1 then 127.0.0.1 here: one block each, in that order.
    let localhost = format!(
        "could not connect to server: Connection refused\n\tIs the server running on host \"localhost\" (::1) and accepting\n\tTCP/IP connections on port {closed}?\n\
         could not connect to server: Connection refused\n\tIs the server running on host \"localhost\" (127.0.0.1) and accepting\n\tTCP/IP connections on port {closed}?\n"
    );
    assert_eq!(
        failure(
            driver,
            &format!("host=localhost port={closed} user=u dbname=d")
        )
        .await,
        localhost
    );

    let port = server.port();
    let no_entry = format!(
        "FATAL:  no pg_hba.conf entry for host \"{OTHER_ADDR}\", user \"postgres\", database \"postgres\", no encryption\n"
    );
    let user = format!(
        "user=postgres dbname=postgres password={}",
        server.password()
    );
    assert_eq!(
        failure(driver, &format!("host={OTHER_ADDR} port={port} {user}")).await,
        no_entry
    );
    // Refused, then no pg_hba entry: added.
    assert_eq!(
        failure(
            driver,
            &format!("host=127.0.0.1,{OTHER_ADDR} port={closed},{port} {user}")
        )
        .await,
        format!("{b}{no_entry}")
    );
    // No pg_hba entry first: it stops, the refused port is never tried.
    assert_eq!(
        failure(
            driver,
            &format!("host={OTHER_ADDR},127.0.0.1 port={port},{closed} {user}")
        )
        .await,
        no_entry
    );
    // Both localhost blocks, then the FATAL.
    assert_eq!(
        failure(
            driver,
            &format!("host=localhost,{OTHER_ADDR} port={closed},{port} {user}")
        )
        .await,
        format!("{localhost}{no_entry}")
    );
    // The same server is reachable over loopback.
    let mut conn = driver
        .connect(&resolve(&format!(
            "host=localhost,{OTHER_ADDR} port={port} {user}"
        )))
        .await
        .expect("localhost connects");
    conn.close().await;
}

/// A DNS server on 127.0.0.1:53 (inside the namespace only) that answers every query
/// with NXDOMAIN: the query's ID, question and RD flag, with QR, RA and rcode 3.
fn start_nxdomain_stub() {
    let socket = UdpSocket::bind("127.0.0.1:53").expect("bind the stub on port 53");
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            let Some(query) = buf.get(..n) else { continue };
            let (Some(id), Some(&flags), Some(counts), Some(rest)) = (
                query.get(..2),
                query.get(2),
                query.get(4..6),
                query.get(12..),
            ) else {
                continue;
            };
            let mut answer = Vec::with_capacity(n);
            answer.extend_from_slice(id);
            answer.push(0x80 | (flags & 0x01));
            answer.push(0x83);
            answer.extend_from_slice(counts);
            answer.extend_from_slice(&[0; 6]);
            answer.extend_from_slice(rest);
            let _ = socket.send_to(&answer, peer);
        }
    });
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}
