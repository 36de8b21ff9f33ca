//! Test helpers: scripted fake servers on 127.0.0.1.
#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What a fake server does with each connection.
#[derive(Debug, Clone)]
pub enum Script {
    /// Reads the startup packet, then closes the socket.
    ReadThenClose,
    /// Reads the startup packet, then says nothing until the client goes away.
    Silent,
    /// Reads the startup packet, sends these bytes, then waits for the client to go away.
    Reply(Vec<u8>),
    /// Reads the startup packet, sends these bytes, then closes the socket.
    ReplyThenClose(Vec<u8>),
    /// Reads the startup packet, sends `hello`, reads one frontend message (a query), then
    /// sends `reply` and waits for the client to go away; with no reply, closes instead.
    Converse {
        hello: Vec<u8>,
        reply: Option<Vec<u8>>,
    },
}

/// A fake server on 127.0.0.1, on a port the system chose. Serves `connections`
/// connections, then its thread ends. Every socket has a 30 s read timeout, so a test that
/// goes wrong cannot hang forever.
pub struct FakeServer {
    pub port: u16,
    thread: Option<JoinHandle<()>>,
    /// The first packet of each connection (startup packet or CancelRequest), length word
    /// included, in order.
    packets: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl FakeServer {
    pub fn start(script: Script, connections: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let packets = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&packets);
        let thread = std::thread::spawn(move || {
            for _ in 0..connections {
                let Ok((socket, _)) = listener.accept() else {
                    return;
                };
                serve(socket, &script, &seen);
            }
        });
        Self {
            port,
            thread: Some(thread),
            packets,
        }
    }

    /// Waits for the server thread (all its connections served); returns the first packet
    /// of each connection (startup packet or CancelRequest), in order.
    pub fn join(mut self) -> Vec<Vec<u8>> {
        if let Some(t) = self.thread.take() {
            t.join().expect("fake server thread");
        }
        std::mem::take(&mut *self.packets.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

fn serve(mut socket: TcpStream, script: &Script, packets: &Mutex<Vec<Vec<u8>>>) {
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let packet = read_startup(&mut socket);
    packets
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(packet);
    match script {
        Script::ReadThenClose => {}
        Script::Silent => drain(&mut socket),
        Script::Reply(bytes) => {
            let _ = socket.write_all(bytes);
            drain(&mut socket);
        }
        Script::ReplyThenClose(bytes) => {
            let _ = socket.write_all(bytes);
        }
        Script::Converse { hello, reply } => {
            if socket.write_all(hello).is_err() || !read_message(&mut socket) {
                return;
            }
            if let Some(reply) = reply {
                if socket.write_all(reply).is_ok() {
                    drain(&mut socket);
                }
            }
        }
    }
}

/// Reads one frontend message (type byte, length word, body); whether it was all there.
fn read_message(socket: &mut TcpStream) -> bool {
    let mut head = [0u8; 5];
    if socket.read_exact(&mut head).is_err() {
        return false;
    }
    let n = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
    let mut body = vec![
        0u8;
        usize::try_from(n)
            .unwrap_or(0)
            .saturating_sub(4)
            .min(10_000)
    ];
    socket.read_exact(&mut body).is_ok()
}

/// Reads one length-prefixed startup packet; returns what it read.
fn read_startup(socket: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 4];
    if socket.read_exact(&mut len).is_err() {
        return Vec::new();
    }
    let n = usize::try_from(u32::from_be_bytes(len)).unwrap_or(0);
    let mut body = vec![0u8; n.saturating_sub(4).min(10_000)];
    let _ = socket.read_exact(&mut body);
    let mut packet = len.to_vec();
    packet.extend(body);
    packet
}

/// Reads until the client closes (or the read timeout).
fn drain(socket: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    while matches!(socket.read(&mut buf), Ok(n) if n > 0) {}
}

/// A port on 127.0.0.1 where nothing listens, for as long as this process runs: a socket
/// bound to it and never listening holds it (a connection to it is refused), so that no
/// other listener (another test's, or another test run's, on the same machine) can take it
/// meanwhile, as one could take a port merely bound and released.
pub fn closed_port() -> u16 {
    static HELD: Mutex<Vec<socket2::Socket>> = Mutex::new(Vec::new());
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
        .expect("a TCP socket");
    let any_port = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    socket.bind(&any_port.into()).expect("bind 127.0.0.1:0");
    let port = socket
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .expect("its address")
        .port();
    HELD.lock().unwrap_or_else(|e| e.into_inner()).push(socket);
    port
}

/// libpq 13's refused block for TCP on 127.0.0.1 (`B(p)` in messages.md §3.3).
pub fn refused(port: &str) -> String {
    format!(
        "could not connect to server: Connection refused\n\tIs the server running on host \"127.0.0.1\" and accepting\n\tTCP/IP connections on port {port}?\n"
    )
}

/// libpq's text for a socket that closed.
pub const SERVER_CLOSED: &str = "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n\tbefore or while processing the request.\n";

/// One backend message: type byte, length word, body.
pub fn message(tag: u8, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len() + 4).expect("short test message");
    let mut out = vec![tag];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// AuthenticationOk.
pub fn auth_ok() -> Vec<u8> {
    message(b'R', &[0, 0, 0, 0])
}
