//! A server older than PostgreSQL 13, which has no `DROP DATABASE ... WITH (FORCE)`. None
//! can be had here (the oldest is 14), so a fake one that says it is 12.22 and records what
//! each connection sends: `drop --force` and `overwrite` (which drops the old database with
//! `FORCE`) are refused with the version they need (`drop --force --drain` too, before it
//! drains), and nothing is sent after the startup
//! packet but Terminate. A plain drop, which 12 has, is sent, which shows that the fake
//! records what reaches it.
#![cfg(feature = "blocking")]

mod fake_server;

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use fake_server::{auth_ok, message};
use pgcluster::blocking::Cluster;
use pgcluster::cluster::DropOptions;
use pgcluster::conninfo::Env;
use pgcluster::Error;

/// Terminate: `X`, length 4.
const TERMINATE: &[u8] = b"X\0\0\0\x04";

/// A fake PostgreSQL 12.22: every connection gets AuthenticationOk, the parameters, and
/// ReadyForQuery; every simple query gets `CommandComplete "DROP DATABASE"` and
/// ReadyForQuery. When a connection ends, what it sent after its startup packet goes to
/// the receiver.
struct Fake12 {
    port: u16,
    accepted: Arc<AtomicUsize>,
    reported: Cell<usize>,
    sent: mpsc::Receiver<Vec<u8>>,
}

impl Fake12 {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let (tx, sent) = mpsc::channel();
        let count = Arc::clone(&accepted);
        std::thread::spawn(move || {
            for socket in listener.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                let tx = tx.clone();
                std::thread::spawn(move || {
                    let _ = tx.send(serve(socket));
                });
            }
        });
        Self {
            port,
            accepted,
            reported: Cell::new(0),
            sent,
        }
    }

    /// A cluster on the fake server, with no environment.
    fn cluster(&self) -> Cluster {
        Cluster::new(&format!(
            "postgres://u@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        ))
        .expect("setting")
        .with_env(Env::empty())
    }

    /// What each connection accepted since the last call sent after its startup packet,
    /// once each has ended (the caller dropped its cluster).
    fn sent(&self) -> Vec<Vec<u8>> {
        let accepted = self.accepted.load(Ordering::SeqCst);
        let new = accepted - self.reported.replace(accepted);
        (0..new)
            .map(|_| {
                self.sent
                    .recv_timeout(Duration::from_secs(30))
                    .expect("the connection ends")
            })
            .collect()
    }
}

fn serve(mut socket: TcpStream) -> Vec<u8> {
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let mut len = [0u8; 4];
    socket.read_exact(&mut len).expect("startup length");
    let len = usize::try_from(u32::from_be_bytes(len)).expect("length");
    let mut startup = vec![0u8; len.saturating_sub(4)];
    socket.read_exact(&mut startup).expect("startup packet");
    let mut reply = auth_ok();
    for (name, value) in [
        ("server_version", "12.22"),
        ("server_encoding", "UTF8"),
        ("client_encoding", "UTF8"),
        ("standard_conforming_strings", "on"),
        ("integer_datetimes", "on"),
    ] {
        reply.extend(message(b'S', format!("{name}\0{value}\0").as_bytes()));
    }
    reply.extend(message(b'K', &[0, 0, 0x10, 0x92, 0, 0, 0, 7]));
    reply.extend(message(b'Z', b"I"));
    socket.write_all(&reply).expect("startup reply");
    let mut sent = Vec::new();
    loop {
        let mut header = [0u8; 5];
        if socket.read_exact(&mut header).is_err() {
            return sent;
        }
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        let mut body = vec![0u8; usize::try_from(len).expect("length").saturating_sub(4)];
        if socket.read_exact(&mut body).is_err() {
            return sent;
        }
        sent.extend_from_slice(&header);
        sent.extend_from_slice(&body);
        if header[0] == b'Q' {
            let mut answer = message(b'C', b"DROP DATABASE\0");
            answer.extend(message(b'Z', b"I"));
            socket.write_all(&answer).expect("answer");
        }
    }
}

#[test]
fn drop_force_and_overwrite_name_the_version_they_need_and_send_nothing() {
    let fake = Fake12::start();
    let cluster = fake.cluster();
    let expected = "DROP DATABASE option FORCE needs PostgreSQL 13 or later; the server is \
                    PostgreSQL 12.22, and nothing was sent";
    let e = cluster
        .drop_database_with("old_db", &DropOptions::new().force(true))
        .unwrap_err();
    assert!(matches!(e, Error::ServerTooOld(_)), "{e:?}");
    assert_eq!(e.to_string(), expected);
    let e = cluster.overwrite("old_db").unwrap_err();
    assert!(matches!(e, Error::ServerTooOld(_)), "{e:?}");
    assert_eq!(e.to_string(), expected);
    // With a drain too: refused before ALLOW_CONNECTIONS is touched or a session read.
    let drain = DropOptions::new()
        .force(true)
        .drain(Duration::from_secs(30));
    let e = cluster.drop_database_with("old_db", &drain).unwrap_err();
    assert!(matches!(e, Error::ServerTooOld(_)), "{e:?}");
    assert_eq!(e.to_string(), expected);
    drop(cluster);
    let sent = fake.sent();
    assert!(!sent.is_empty(), "the cluster connected");
    for bytes in sent {
        assert!(
            bytes.is_empty() || bytes == TERMINATE,
            "sent after the startup packet: {:?}",
            String::from_utf8_lossy(&bytes)
        );
    }

    // A plain drop is for 12 as for any version: the statement is sent.
    let cluster = fake.cluster();
    cluster.drop_database("old_db").expect("plain drop");
    drop(cluster);
    let sent = fake.sent().concat();
    let query = message(b'Q', b"DROP DATABASE \"old_db\";\0");
    assert!(
        sent.windows(query.len()).any(|w| w == query),
        "{:?}",
        String::from_utf8_lossy(&sent)
    );
}
