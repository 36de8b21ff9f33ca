//! `cancel()` through CancelRequest: a new socket to the same server, the backend's key,
//! then a wait for the server to close that socket (as libpq's `PQcancel`), so that the
//! cancel has been handled when the call returns. When the connection is encrypted, so is
//! its cancel request (libpq 17's `PQcancelCreate`): the same SSLRequest (or direct TLS),
//! settings and server name as the connection's handshake, and never in the clear.

use std::fmt;
use std::io;
use std::net::SocketAddr;
#[cfg(unix)]
use std::path::PathBuf;
#[cfg(feature = "tls")]
use std::sync::Arc;
use std::time::{Duration, Instant};

use pgcluster_protocol::frontend;

use super::session::Connection;
#[cfg(feature = "tls")]
use crate::connect::tls::TlsUsed;
#[cfg(unix)]
use crate::driver::FullBacklog;
use crate::driver::{Kind, OpenError, Peer};
use crate::io_text::strerror;
use crate::transport::Stream;

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
    /// The connection's TLS handshake, when it is encrypted: the request goes the same way.
    #[cfg(feature = "tls")]
    tls: Option<Arc<TlsUsed>>,
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

    /// A failure of the encrypted request's SSLRequest exchange or handshake, in libpq's
    /// words for it (`server does not support SSL, but SSL was required`, ...).
    #[cfg(feature = "tls")]
    fn tls(e: &impl fmt::Display) -> Self {
        Self {
            message: format!("{e}\n"),
        }
    }

    fn open(e: OpenError) -> Self {
        match e {
            // libpq's cancel socket sets no TCP_NODELAY: a failure to set it on ours is
            // part of getting a socket.
            OpenError::Create(e) | OpenError::NoDelay(e) => Self::new("socket", &e),
            OpenError::Connect(e) => Self::new("connect", &e),
            OpenError::Option(e) => Self::new("connect", &e.source),
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
    /// The target, the process id and whether the request goes encrypted; the secret key
    /// is not shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelToken")
            .field("target", &self.target)
            .field("process_id", &self.process_id)
            .field("tls", &self.is_tls())
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
    /// `send()`); on an encrypted connection, a late answer to the SSLRequest is
    /// `PQcancel() -- recv() failed: ...`, and a late TLS handshake the TLS error's text.
    /// The request sent, a server that does not close the socket in time ends the wait
    /// without an error, as a failed read does in libpq.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether the request goes encrypted: the connection it cancels is.
    pub fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// The driver of the connection this token cancels.
    pub(crate) fn driver(&self) -> Kind {
        self.driver
    }

    /// Asks the server to cancel the statement the connection is running (nothing
    /// happens if it is idle). The statement then fails with `ERROR:  canceling statement
    /// due to user request`. Returns once the server has closed the cancel socket.
    ///
    /// The request goes over TLS when the connection does, with the connection's settings
    /// and server name; a server that now refuses TLS gets nothing (`server does not
    /// support SSL, but SSL was required`), whatever the `sslmode`.
    ///
    /// # Errors
    ///
    /// [`CancelError`] when the server cannot be reached, the request not sent, or TLS
    /// not started.
    #[cfg(feature = "async")]
    pub async fn cancel(&self) -> Result<(), CancelError> {
        self.deliver(Kind::Async).await
    }

    /// Sends a CancelRequest for this token's statement, blocking the calling thread (no
    /// runtime needed; any thread): connects to the server the connection went to, sends
    /// the request (over TLS when the connection uses it, as `cancel` does) and
    /// waits until the server closes the socket. A statement still running then fails
    /// with `ERROR:  canceling statement due to user request`; a request that arrives
    /// after the statement ended does nothing.
    ///
    /// # Errors
    ///
    /// [`CancelError`] when the server cannot be reached, the request not sent, or TLS
    /// not started; whether the statement was cancelled is the connection's to say, never
    /// this call's.
    pub fn cancel_blocking(&self) -> Result<(), CancelError> {
        #[cfg(feature = "blocking")]
        return crate::driver::block_on(self.deliver(Kind::Blocking));
        // Without the blocking driver, the async one on a runtime of its own.
        #[cfg(not(feature = "blocking"))]
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| CancelError::new("socket", &e))?
            .block_on(self.deliver(Kind::Async))
    }

    /// Connects within the timeout, starts TLS if the connection uses it, sends the
    /// request, then waits for EOF for the rest of the timeout; like libpq, a failed (or
    /// late) read is not an error.
    async fn deliver(&self, kind: Kind) -> Result<(), CancelError> {
        let deadline = Instant::now().checked_add(self.timeout);
        let socket = match &self.target {
            Target::Tcp(addr) => kind
                .open_tcp(*addr, &Default::default(), deadline)
                .await
                .map_err(CancelError::open)?,
            #[cfg(unix)]
            Target::Unix(path) => kind
                .open_unix(path, deadline, FullBacklog::Wait)
                .await
                .map_err(|e| CancelError::new("connect", &e))?,
        };
        let mut stream = Stream::new(socket);
        stream.set_deadline(deadline);
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            stream = start_tls(stream, tls).await?;
        }
        stream
            .write_all(&self.packet)
            .await
            .map_err(|e| CancelError::new("send", &e))?;
        let mut byte = [0u8; 1];
        let _ = stream.read(&mut byte, None).await;
        Ok(())
    }
}

/// TLS on a cancel socket as the connection had it: SSLRequest answered `S` (refusal or
/// anything else fails: the connection was encrypted, so the request must be), or at once
/// with `sslnegotiation=direct`; then the handshake with the connection's settings.
#[cfg(feature = "tls")]
async fn start_tls(mut stream: Stream, tls: &TlsUsed) -> Result<Stream, CancelError> {
    use pgcluster_protocol::ssl::{Encryption, Negotiation, NegotiationError, Outcome};
    if !tls.settings.direct {
        let mut ssl = Negotiation::new(Encryption::Ssl, true);
        let mut request = Vec::new();
        ssl.request(&mut request);
        stream
            .write_all(&request)
            .await
            .map_err(|e| CancelError::new("send", &e))?;
        // All that arrived, so that bytes after `S` are seen (CVE-2021-23222).
        let mut answer = [0u8; 64];
        let n = stream
            .read(&mut answer, None)
            .await
            .map_err(|e| CancelError::new("recv", &e))?;
        if n == 0 {
            return Err(CancelError {
                message: crate::io_text::SERVER_CLOSED.to_owned(),
            });
        }
        match ssl.handle(answer.get(..n).unwrap_or_default()) {
            Ok(Some(Outcome::Accepted)) => {}
            Ok(_) => {
                return Err(CancelError::tls(&NegotiationError::Required {
                    encryption: Encryption::Ssl,
                }))
            }
            Err(e) => return Err(CancelError::tls(&e)),
        }
    }
    let (stream, _) = crate::connect::tls::handshake(stream, &tls.settings, &tls.host)
        .await
        .map_err(|e| CancelError::tls(&e))?;
    Ok(stream)
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
            #[cfg(feature = "tls")]
            tls: self.reached.tls.clone(),
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
            #[cfg(feature = "tls")]
            tls: None,
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

    /// A token of an encrypted connection to `addr`: its request only ever goes over TLS.
    #[cfg(feature = "tls")]
    fn tls_token(addr: SocketAddr) -> CancelToken {
        CancelToken {
            tls: Some(Arc::new(TlsUsed {
                settings: crate::tls::TlsSettings::default(),
                host: "127.0.0.1".to_owned(),
            })),
            ..token(Target::Tcp(addr))
        }
    }

    /// Runs `cancel` once on each driver of the build against a fresh listener whose
    /// `serve` sees each connection; returns what `serve` returned for each.
    #[cfg(feature = "tls")]
    fn on_each_driver<T: Send + 'static>(
        serve: fn(std::net::TcpStream) -> T,
        check: impl Fn(Result<(), CancelError>, Duration),
    ) -> Vec<T> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let runs = if cfg!(all(feature = "async", feature = "blocking")) {
            2
        } else {
            1
        };
        let server = std::thread::spawn(move || {
            (0..runs)
                .map(|_| serve(listener.accept().unwrap().0))
                .collect::<Vec<T>>()
        });
        let t = tls_token(addr).with_timeout(Duration::from_millis(300));
        let started = Instant::now();
        check(t.cancel_blocking(), started.elapsed());
        #[cfg(all(feature = "async", feature = "blocking"))]
        {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let started = Instant::now();
            check(rt.block_on(t.cancel()), started.elapsed());
        }
        server.join().unwrap()
    }

    /// The connection was encrypted; a server that now answers SSLRequest with `N` gets
    /// nothing more: no byte of the key crosses the wire in the clear.
    #[cfg(feature = "tls")]
    #[test]
    fn an_encrypted_connections_request_is_never_sent_in_the_clear() {
        let got = on_each_driver(
            |mut s| {
                let mut request = [0u8; 8];
                io::Read::read_exact(&mut s, &mut request).unwrap();
                io::Write::write_all(&mut s, b"N").unwrap();
                let mut rest = Vec::new();
                io::Read::read_to_end(&mut s, &mut rest).unwrap();
                (request, rest)
            },
            |result, _| {
                assert_eq!(
                    result.unwrap_err().message,
                    "server does not support SSL, but SSL was required\n"
                );
            },
        );
        for (request, rest) in got {
            assert_eq!(request, [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
            assert_eq!(rest, b"");
        }
    }

    /// A server that takes the SSLRequest and never answers holds the caller only for the
    /// token's timeout; the request is not sent.
    #[cfg(feature = "tls")]
    #[test]
    fn a_silent_server_during_the_ssl_request_times_out() {
        let got = on_each_driver(
            |mut s| {
                let mut request = [0u8; 8];
                io::Read::read_exact(&mut s, &mut request).unwrap();
                let mut rest = Vec::new();
                let _ = io::Read::read_to_end(&mut s, &mut rest);
                rest
            },
            |result, elapsed| {
                let e = result.unwrap_err();
                assert!(
                    e.message.starts_with("PQcancel() -- recv() failed: "),
                    "{e}"
                );
                assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
            },
        );
        assert!(got.iter().all(Vec::is_empty), "{got:?}");
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
            format!("CancelToken {{ target: Tcp({addr}), process_id: 42, tls: false, .. }}")
        );
        assert_eq!(t.process_id(), 42);
    }
}
