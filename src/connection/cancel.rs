//! `cancel()` through CancelRequest: a new socket to the same server, the backend's key,
//! then a wait for the server to close that socket (as libpq's `PQcancel`), so that the
//! cancel has been handled when the call returns.

use std::fmt;
use std::io;
use std::net::SocketAddr;
#[cfg(unix)]
use std::path::PathBuf;
use std::time::{Duration, Instant};

use pgcluster_protocol::frontend;

use super::session::Connection;
use crate::driver::{Kind, Peer};
use crate::io_text::strerror;

/// What cancels the statement a connection is running: it holds the address the
/// connection used and the backend's key (BackendKeyData). Cheap to clone; send it to
/// another thread or task, since the connection itself is busy while its statement runs.
#[derive(Clone, PartialEq, Eq)]
pub struct CancelToken {
    target: Target,
    process_id: i32,
    /// The CancelRequest: the process id and the whole key (4 bytes in protocol 3.0, up
    /// to 256 in 3.2).
    packet: Vec<u8>,
    /// The driver of the connection it cancels.
    driver: Kind,
    /// How long the whole request may take: connecting, sending, and waiting for the
    /// server to close the socket.
    timeout: Duration,
}

/// [`CancelToken`]'s default timeout. libpq's `PQcancel` has none: a server that accepts
/// and never answers would hold the caller for ever.
pub const DEFAULT_CANCEL_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the connection's socket goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Tcp(SocketAddr),
    #[cfg(unix)]
    Unix(PathBuf),
}

/// A cancel request that could not be delivered, with libpq 13's text for it (e.g.
/// `PQcancel() -- connect() failed: Connection refused`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelError {
    /// libpq's message, ending in a newline.
    pub message: String,
}

impl CancelError {
    fn new(step: &str, e: &io::Error) -> Self {
        Self {
            message: format!("PQcancel() -- {step}() failed: {}\n", strerror(e)),
        }
    }
}

impl fmt::Display for CancelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message.trim_end_matches('\n'))
    }
}

impl std::error::Error for CancelError {}

impl fmt::Debug for CancelToken {
    /// The target and the process id; the secret key is not shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelToken")
            .field("target", &self.target)
            .field("process_id", &self.process_id)
            .finish_non_exhaustive()
    }
}

impl CancelToken {
    /// The backend process whose statement this token cancels.
    pub fn process_id(&self) -> i32 {
        self.process_id
    }

    /// This token with another timeout for the whole request (connecting, sending, waiting
    /// for the server to close the socket); [`DEFAULT_CANCEL_TIMEOUT`] otherwise. Connecting
    /// or sending late is `PQcancel() -- connect() failed: Connection timed out` (or
    /// `send()`); the request sent, a server that does not close the socket in time ends
    /// the wait without an error, as a failed read does in libpq.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    #[cfg(feature = "async")]
    fn deadline(&self) -> Option<Instant> {
        Instant::now().checked_add(self.timeout)
    }

    fn packet(&self) -> Vec<u8> {
        self.packet.clone()
    }

    /// The driver of the connection this token cancels.
    pub(crate) fn driver(&self) -> Kind {
        self.driver
    }

    /// Asks the server to cancel the statement the connection is running (nothing
    /// happens if it is idle). The statement then fails with `ERROR:  canceling statement
    /// due to user request`. Returns once the server has closed the cancel socket.
    #[cfg(feature = "async")]
    pub async fn cancel(&self) -> Result<(), CancelError> {
        let packet = self.packet();
        let kind = Kind::Async;
        let deadline = self.deadline();
        let mut socket = match &self.target {
            Target::Tcp(addr) => kind
                .open_tcp(*addr, &Default::default(), deadline)
                .await
                .map_err(|e| match e {
                    crate::driver::OpenError::Create(e) => CancelError::new("socket", &e),
                    crate::driver::OpenError::Connect(e) | crate::driver::OpenError::NoDelay(e) => {
                        CancelError::new("connect", &e)
                    }
                    crate::driver::OpenError::Option(e) => CancelError::new("connect", &e.source),
                })?,
            #[cfg(unix)]
            Target::Unix(path) => kind
                .open_unix(path, deadline)
                .await
                .map_err(|e| CancelError::new("connect", &e))?,
        };
        // Sends the request, then waits for EOF; like libpq, a failed read is not an
        // error.
        socket
            .write_all(&packet, deadline)
            .await
            .map_err(|e| CancelError::new("send", &e))?;
        let mut byte = [0u8; 1];
        let _ = socket.read(&mut byte, deadline).await;
        Ok(())
    }

    /// Sends a CancelRequest for this token's statement, blocking the calling thread (no
    /// runtime needed; any thread): connects to the server the connection went to, sends
    /// the request and waits until the server closes the socket. A statement still
    /// running then fails with `ERROR:  canceling statement due to user request`; a
    /// request that arrives after the statement ended does nothing.
    ///
    /// # Errors
    ///
    /// [`CancelError`] when the server cannot be reached or the request not sent; whether
    /// the statement was cancelled is the connection's to say, never this call's.
    pub fn cancel_blocking(&self) -> Result<(), CancelError> {
        let packet = self.packet();
        let started = Instant::now();
        // What is left of the timeout (never zero, which the socket calls refuse).
        let left = || {
            self.timeout
                .saturating_sub(started.elapsed())
                .max(Duration::from_millis(1))
        };
        let connect_failed = |e: io::Error| CancelError::new("connect", &e);
        match &self.target {
            Target::Tcp(addr) => {
                let mut socket =
                    std::net::TcpStream::connect_timeout(addr, left()).map_err(connect_failed)?;
                deliver_blocking(&mut socket, &packet, left)
            }
            #[cfg(unix)]
            Target::Unix(path) => {
                let mut socket =
                    std::os::unix::net::UnixStream::connect(path).map_err(connect_failed)?;
                deliver_blocking(&mut socket, &packet, left)
            }
        }
    }
}

/// A blocking socket whose reads and writes can time out.
trait Timed: io::Read + io::Write {
    fn set_timeouts(&self, read: Option<Duration>, write: Option<Duration>) -> io::Result<()>;
}

impl Timed for std::net::TcpStream {
    fn set_timeouts(&self, read: Option<Duration>, write: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(read)?;
        self.set_write_timeout(write)
    }
}

#[cfg(unix)]
impl Timed for std::os::unix::net::UnixStream {
    fn set_timeouts(&self, read: Option<Duration>, write: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(read)?;
        self.set_write_timeout(write)
    }
}

/// Sends the request within what is `left` of the timeout, then waits for EOF for the rest
/// of it; like libpq, a failed (or late) read is not an error.
fn deliver_blocking<S: Timed>(
    socket: &mut S,
    packet: &[u8],
    left: impl Fn() -> Duration,
) -> Result<(), CancelError> {
    socket
        .set_timeouts(None, Some(left()))
        .map_err(|e| CancelError::new("send", &e))?;
    socket
        .write_all(packet)
        .map_err(|e| CancelError::new("send", &e))?;
    let _ = socket.set_timeouts(Some(left()), None);
    let mut byte = [0u8; 1];
    let _ = socket.read(&mut byte);
    Ok(())
}

impl Connection {
    /// A token that cancels this connection's running statement from elsewhere; `None`
    /// once the connection is closed or broken, or if the server sent no BackendKeyData.
    pub fn cancel_token(&self) -> Option<CancelToken> {
        let key = self.backend_key.as_ref()?;
        let mut packet = Vec::new();
        // A BackendKey's bounded length always encodes.
        frontend::cancel_request(key, &mut packet).ok()?;
        let stream = self.stream.as_ref()?;
        let target = match stream.peer()? {
            Peer::Tcp(addr) => Target::Tcp(addr),
            #[cfg(unix)]
            Peer::Unix(path) => Target::Unix(path),
        };
        Some(CancelToken {
            target,
            process_id: key.process_id(),
            packet,
            driver: stream.kind(),
            timeout: DEFAULT_CANCEL_TIMEOUT,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(target: Target) -> CancelToken {
        let key = pgcluster_protocol::backend_key::BackendKey::new(42, &[0, 0, 0, 7]).unwrap();
        let mut packet = Vec::new();
        frontend::cancel_request(&key, &mut packet).unwrap();
        CancelToken {
            target,
            process_id: 42,
            packet,
            #[cfg(feature = "async")]
            driver: Kind::Async,
            #[cfg(not(feature = "async"))]
            driver: Kind::Blocking,
            timeout: DEFAULT_CANCEL_TIMEOUT,
        }
    }

    /// A server that takes the request and never closes the socket: the call returns
    /// once the timeout is over (the request was delivered), on both drivers.
    #[test]
    fn a_server_that_never_closes_does_not_hold_the_caller() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (held, hold) = std::sync::mpsc::channel();
        let server = std::thread::spawn(move || {
            let mut kept = Vec::new();
            for _ in 0..if cfg!(feature = "async") { 2 } else { 1 } {
                let (mut s, _) = listener.accept().unwrap();
                let mut got = [0u8; 16];
                io::Read::read_exact(&mut s, &mut got).unwrap();
                kept.push(s);
            }
            // Keep the sockets open until the test is done.
            let _ = hold.recv();
            kept.len()
        });
        let t = token(Target::Tcp(addr)).with_timeout(Duration::from_millis(50));
        t.cancel_blocking().unwrap();
        #[cfg(feature = "async")]
        {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(t.cancel()).unwrap();
        }
        held.send(()).unwrap();
        assert_eq!(
            server.join().unwrap(),
            if cfg!(feature = "async") { 2 } else { 1 }
        );
    }

    #[test]
    fn sends_the_request_and_waits_for_the_server_to_close() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut got = [0u8; 16];
            io::Read::read_exact(&mut s, &mut got).unwrap();
            got
        });
        token(Target::Tcp(addr)).cancel_blocking().unwrap();
        let got = server.join().unwrap();
        assert_eq!(got, [0, 0, 0, 16, 4, 210, 22, 46, 0, 0, 0, 42, 0, 0, 0, 7]);
    }

    #[test]
    fn refused_has_libpqs_text_and_debug_hides_the_key() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let t = token(Target::Tcp(addr));
        let e = t.cancel_blocking().unwrap_err();
        assert_eq!(
            e.message,
            "PQcancel() -- connect() failed: Connection refused\n"
        );
        assert_eq!(
            e.to_string(),
            "PQcancel() -- connect() failed: Connection refused"
        );
        #[cfg(feature = "async")]
        {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            assert_eq!(rt.block_on(t.cancel()), Err(e));
        }
        assert_eq!(
            format!("{t:?}"),
            format!("CancelToken {{ target: Tcp({addr}), process_id: 42, .. }}")
        );
        assert_eq!(t.process_id(), 42);
    }
}
