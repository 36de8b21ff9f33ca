//! Shared test helpers for fault tests: a scripted fake server (tokio, 127.0.0.1:0), a TCP
//! relay in front of a real server that can delay, fragment, stall or cut, server messages
//! built with our own backend encoders, and a per-binary lock for tests that count file
//! descriptors.
//!
//! The fake server and the relay run on a background runtime of their own ([`background`]),
//! never on the test's: a test on the blocking driver holds its thread in each call, and
//! one on the async driver may too.
//!
//! Include it with `mod support;`. The older threaded fake server of
//! `tests/fake_server/` is re-exported as [`threaded`] (its constants and helpers are the
//! ones every fault test compares against).
#![allow(dead_code, unused_imports, unreachable_pub)]

#[path = "../fake_server/mod.rs"]
pub mod threaded;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use pgcluster_protocol::backend::{
    Authentication, BackendMessage, DataRow, FieldDescription, RowDescription, TransactionStatus,
};
use pgcluster_protocol::error_fields::ErrorFields;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub use threaded::{closed_port, refused, SERVER_CLOSED};

// ---------------------------------------------------------------------------------------
// Running tests: a lock so that tests counting file descriptors run alone.

static FD_LOCK: RwLock<()> = RwLock::new(());

/// Holds the lock shared, for a synchronous test (one that must not count descriptors but
/// opens some).
pub fn shared() -> std::sync::RwLockReadGuard<'static, ()> {
    FD_LOCK.read().unwrap_or_else(|e| e.into_inner())
}

/// Holds the lock exclusively, for a test that counts file descriptors: no other
/// `run`/`shared`/`alone` test of this binary runs meanwhile. The background
/// runtime is started first, so its own descriptors are not counted.
pub fn alone() -> std::sync::RwLockWriteGuard<'static, ()> {
    let alone = FD_LOCK.write().unwrap_or_else(|e| e.into_inner());
    background();
    alone
}

/// The runtime the fake servers and relays run on: a current-thread runtime driven by a
/// thread of its own, started on first use and kept for the life of the test binary.
pub fn background() -> &'static tokio::runtime::Handle {
    static BACKGROUND: std::sync::OnceLock<tokio::runtime::Handle> = std::sync::OnceLock::new();
    BACKGROUND.get_or_init(|| {
        let runtime = runtime();
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name("fake-servers".to_owned())
            .spawn(move || runtime.block_on(std::future::pending::<()>()))
            .expect("fake servers' thread");
        handle
    })
}

/// Binds 127.0.0.1:0 for the background runtime; returns the listener and its port.
fn bind_loopback() -> (std::net::TcpListener, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let port = listener.local_addr().expect("local addr").port();
    (listener, port)
}

/// Runs `test` on a fresh current-thread runtime, alongside other `run` tests.
pub fn run<F: Future>(test: F) -> F::Output {
    let _shared = FD_LOCK.read().unwrap_or_else(|e| e.into_inner());
    runtime().block_on(test)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// How many file descriptors this process has open (`/proc/self/fd`).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
}

/// The process ids whose parent is `parent` (`/proc/*/stat`), zombies included.
pub fn children_of(parent: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            children.push(pid);
        }
    }
    children
}

// ---------------------------------------------------------------------------------------
// Server messages, built with the protocol crate's backend encoders.

fn encode(message: &BackendMessage) -> Vec<u8> {
    let mut out = Vec::new();
    message.encode(&mut out).expect("encodable test message");
    out
}

/// AuthenticationOk.
pub fn auth_ok() -> Vec<u8> {
    encode(&BackendMessage::Authentication(Authentication::Ok))
}

/// AuthenticationSASL offering SCRAM-SHA-256.
pub fn auth_sasl() -> Vec<u8> {
    encode(&BackendMessage::Authentication(Authentication::Sasl(vec![
        "SCRAM-SHA-256".to_owned(),
    ])))
}

/// ReadyForQuery, idle.
pub fn ready() -> Vec<u8> {
    encode(&BackendMessage::ReadyForQuery(TransactionStatus::Idle))
}

/// What a server sends after AuthenticationOk: a few ParameterStatus, BackendKeyData,
/// ReadyForQuery.
pub fn startup_tail() -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in [
        ("server_version", "15.0"),
        ("server_encoding", "UTF8"),
        ("client_encoding", "UTF8"),
        ("standard_conforming_strings", "on"),
        ("integer_datetimes", "on"),
    ] {
        out.extend(encode(&BackendMessage::ParameterStatus {
            name: name.to_owned(),
            value: value.to_owned(),
        }));
    }
    out.extend(encode(&BackendMessage::BackendKeyData {
        process_id: 4242,
        secret_key: [0, 0, 0, 7][..].into(),
    }));
    out.extend(ready());
    out
}

/// A whole successful startup: AuthenticationOk and [`startup_tail`].
pub fn startup_ok() -> Vec<u8> {
    let mut out = auth_ok();
    out.extend(startup_tail());
    out
}

/// The answer to a simple query returning one text column `column` with `rows`, then
/// ReadyForQuery.
pub fn query_answer(column: &str, rows: &[Option<&str>]) -> Vec<u8> {
    let mut out = encode(&BackendMessage::RowDescription(RowDescription {
        fields: vec![FieldDescription {
            name: column.to_owned(),
            table_oid: 0,
            column_id: 0,
            type_oid: 25,
            type_size: -1,
            type_modifier: -1,
            format: 0,
        }],
    }));
    for row in rows {
        let row = DataRow::from_values(&[row.map(str::as_bytes)]).expect("short row");
        out.extend(encode(&BackendMessage::DataRow(row)));
    }
    out.extend(encode(&BackendMessage::CommandComplete(format!(
        "SELECT {}",
        rows.len()
    ))));
    out.extend(ready());
    out
}

/// An ErrorResponse with severity, SQLSTATE and message.
pub fn error_response(severity: &str, code: &str, message: &str) -> Vec<u8> {
    let mut fields = ErrorFields::default();
    fields.severity = Some(severity.to_owned());
    fields.severity_nonlocalized = Some(severity.to_owned());
    fields.code = Some(code.to_owned());
    fields.message = Some(message.to_owned());
    encode(&BackendMessage::ErrorResponse(fields))
}

/// An ErrorResponse whose message is raw bytes (invalid UTF-8 or control bytes, which
/// `ErrorFields` cannot hold).
pub fn raw_error_response(severity: &str, code: &str, message: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for (field, value) in [
        (b'S', severity.as_bytes()),
        (b'V', severity.as_bytes()),
        (b'C', code.as_bytes()),
        (b'M', message),
    ] {
        body.push(field);
        body.extend_from_slice(value);
        body.push(0);
    }
    body.push(0);
    threaded::message(b'E', &body)
}

// ---------------------------------------------------------------------------------------
// The scripted fake server.

/// One step of a fake server's script, run for every connection it accepts.
#[derive(Debug, Clone)]
pub enum Step {
    /// Reads one startup packet (length word, then body; no type byte).
    ReadStartup,
    /// Reads one frontend message (type byte, length word, body).
    ReadMessage,
    /// Sends these bytes in one write.
    Send(Vec<u8>),
    /// Sends these bytes one byte per write (`TCP_NODELAY`, so one segment each).
    SendBytewise(Vec<u8>),
    /// Sends the first `n` bytes of these, then closes the connection.
    SendCut(Vec<u8>, usize),
    /// Says nothing until the client goes away (reads and discards what it sends).
    Stall,
    /// Closes the connection (FIN).
    Close,
    /// Resets the connection (`SO_LINGER` 0: RST instead of FIN).
    Reset,
}

/// A scripted fake server on 127.0.0.1, on a port the system chose. Every connection gets
/// the whole script; a connection that reaches the end of it is closed. Stops (and drops
/// every connection) when dropped.
pub struct FakeServer {
    /// The TCP port.
    pub port: u16,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl FakeServer {
    /// Starts serving `script` on the [`background`] runtime (async only so that its
    /// callers read as they did when it ran on theirs).
    pub async fn start(script: Vec<Step>) -> Self {
        let (listener, port) = bind_loopback();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        let task = background().spawn(async move {
            let listener = TcpListener::from_std(listener).expect("tokio listener");
            let mut connections = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let script = script.clone();
                connections.push(AbortOnDrop(tokio::spawn(serve(socket, script))));
            }
        });
        Self {
            port,
            accepted,
            task,
        }
    }

    /// How many connections were accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// `host=127.0.0.1 port=P user=u dbname=d` and `extra`.
    pub fn conninfo(&self, extra: &str) -> String {
        format!("host=127.0.0.1 port={} user=u dbname=d {extra}", self.port)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn serve(mut socket: TcpStream, script: Vec<Step>) {
    let _ = socket.set_nodelay(true);
    for step in script {
        let ok = match step {
            Step::ReadStartup => read_startup(&mut socket).await,
            Step::ReadMessage => read_message(&mut socket).await,
            Step::Send(bytes) => socket.write_all(&bytes).await.is_ok(),
            Step::SendBytewise(bytes) => {
                let mut ok = true;
                for b in bytes {
                    if socket.write_all(&[b]).await.is_err() {
                        ok = false;
                        break;
                    }
                }
                ok
            }
            Step::SendCut(bytes, n) => {
                let _ = socket.write_all(&bytes[..n.min(bytes.len())]).await;
                false
            }
            Step::Stall => {
                let mut buf = [0u8; 1024];
                while matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {}
                false
            }
            Step::Close => false,
            Step::Reset => {
                let _ = socket.set_zero_linger();
                false
            }
        };
        if !ok {
            break;
        }
    }
}

async fn read_startup(socket: &mut TcpStream) -> bool {
    let Ok(len) = socket.read_u32().await else {
        return false;
    };
    let n = usize::try_from(len)
        .unwrap_or(0)
        .saturating_sub(4)
        .min(10_000);
    let mut body = vec![0u8; n];
    socket.read_exact(&mut body).await.is_ok()
}

async fn read_message(socket: &mut TcpStream) -> bool {
    if socket.read_u8().await.is_err() {
        return false;
    }
    read_startup(socket).await
}

// ---------------------------------------------------------------------------------------
// The relay.

/// What a [`Relay`] does to the traffic it forwards.
#[derive(Debug, Clone, Default)]
pub struct RelayOptions {
    /// Waits this long before forwarding each chunk read.
    pub latency: Duration,
    /// Forwards every chunk one byte per write.
    pub fragment: bool,
    /// Closes both sides once this many bytes (both directions together) were forwarded.
    pub cut_after: Option<usize>,
    /// With `Some((seed, percent, max))`: each connection, with probability `percent`/100,
    /// is cut after a pseudo-random number of bytes below `max`.
    pub random_cuts: Option<(u64, u64, usize)>,
    /// Keeps what each connection's client sent ([`Relay::sent_by_clients`]).
    pub record: bool,
}

/// What the clients of a [`Relay`] sent, one buffer per connection in the order accepted.
type Recorded = Arc<Mutex<Vec<Arc<Mutex<Vec<u8>>>>>>;

/// A TCP relay on 127.0.0.1 in front of `upstream_port`. Stops (and drops every
/// connection) when dropped.
pub struct Relay {
    /// The port clients connect to.
    pub port: u16,
    paused: Arc<AtomicBool>,
    cuts: Arc<AtomicUsize>,
    recorded: Recorded,
    task: JoinHandle<()>,
}

impl Relay {
    /// Starts a relay to 127.0.0.1:`upstream_port` on the [`background`] runtime (async
    /// only so that its callers read as they did when it ran on theirs).
    pub async fn start(upstream_port: u16, options: RelayOptions) -> Self {
        let (listener, port) = bind_loopback();
        let paused = Arc::new(AtomicBool::new(false));
        let cuts = Arc::new(AtomicUsize::new(0));
        let (p, c) = (Arc::clone(&paused), Arc::clone(&cuts));
        let rng = Arc::new(AtomicU64::new(
            options.random_cuts.map_or(1, |(seed, _, _)| seed | 1),
        ));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let recorded = Recorded::default();
        let record_into = Arc::clone(&recorded);
        let task = background().spawn(async move {
            let listener = TcpListener::from_std(listener).expect("tokio listener");
            while let Ok((client, _)) = listener.accept().await {
                let mut options = options.clone();
                if let Some((_, percent, max)) = options.random_cuts {
                    let r = next_random(&rng);
                    if r % 100 < percent {
                        let max = u64::try_from(max.max(1)).unwrap_or(u64::MAX);
                        options.cut_after = Some(usize::try_from((r / 100) % max).unwrap_or(0));
                    }
                }
                let (p, c) = (Arc::clone(&p), Arc::clone(&c));
                let record = options.record.then(|| {
                    let buffer = Arc::new(Mutex::new(Vec::new()));
                    lock(&record_into).push(Arc::clone(&buffer));
                    buffer
                });
                let handle = tokio::spawn(pump(client, upstream_port, options, p, c, record));
                connections
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(AbortOnDrop(handle));
            }
        });
        Self {
            port,
            paused,
            cuts,
            recorded,
            task,
        }
    }

    /// What each connection's client sent so far, in the order the connections came
    /// (with [`RelayOptions::record`]; empty otherwise).
    pub fn sent_by_clients(&self) -> Vec<Vec<u8>> {
        lock(&self.recorded)
            .iter()
            .map(|b| lock(b).clone())
            .collect()
    }

    /// Stops forwarding (in both directions, on every connection) while keeping the sockets
    /// open; [`resume`](Self::resume) starts again.
    pub fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
    }

    /// Forwards again after [`pause`](Self::pause).
    pub fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
    }

    /// How many connections were cut so far.
    pub fn cuts(&self) -> usize {
        self.cuts.load(Ordering::SeqCst)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// xorshift64*: enough for spreading cuts, and reproducible from the seed.
fn next_random(state: &AtomicU64) -> u64 {
    let mut x = state.load(Ordering::SeqCst);
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    state.store(x, Ordering::SeqCst);
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

async fn pump(
    mut client: TcpStream,
    upstream_port: u16,
    options: RelayOptions,
    paused: Arc<AtomicBool>,
    cuts: Arc<AtomicUsize>,
    record: Option<Arc<Mutex<Vec<u8>>>>,
) {
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream_port)).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    let mut forwarded = 0usize;
    let mut from_client = vec![0u8; 8192];
    let mut from_server = vec![0u8; 8192];
    loop {
        if options.cut_after.is_some_and(|cut| forwarded >= cut) {
            cuts.fetch_add(1, Ordering::SeqCst);
            return;
        }
        let (chunk, to_server) = tokio::select! {
            r = cr.read(&mut from_client) => match r {
                Ok(n) if n > 0 => (&from_client[..n], true),
                _ => return,
            },
            r = sr.read(&mut from_server) => match r {
                Ok(n) if n > 0 => (&from_server[..n], false),
                _ => return,
            },
        };
        while paused.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if !options.latency.is_zero() {
            tokio::time::sleep(options.latency).await;
        }
        let allowed = match options.cut_after {
            Some(cut) => chunk.len().min(cut.saturating_sub(forwarded)),
            None => chunk.len(),
        };
        let chunk = &chunk[..allowed];
        forwarded = forwarded.saturating_add(allowed);
        if let (true, Some(record)) = (to_server, &record) {
            lock(record).extend_from_slice(chunk);
        }
        let sent = if options.fragment {
            let mut ok = true;
            for b in chunk {
                let w = if to_server {
                    sw.write_all(std::slice::from_ref(b)).await
                } else {
                    cw.write_all(std::slice::from_ref(b)).await
                };
                if w.is_err() {
                    ok = false;
                    break;
                }
            }
            ok
        } else if to_server {
            sw.write_all(chunk).await.is_ok()
        } else {
            cw.write_all(chunk).await.is_ok()
        };
        if !sent {
            return;
        }
    }
}

/// A mutex's value, also after a panic elsewhere held it.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
