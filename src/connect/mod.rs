//! Opening a connection: the loop that runs the sans-IO connect machine
//! ([`crate::engine::connect`]) over sockets. Each [`Action`] the machine asks for is one
//! small function here (look up, open, TLS, write, read); the machine holds every rule
//! (libpq 13's host and address walk, its error texts, `connect_timeout`, the TLS plan,
//! startup and authentication, the read-write test). The TLS handshake over a socket is the
//! `tls` module's.

#[cfg(feature = "tls")]
pub(crate) mod tls;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use pgcluster_protocol::frame::FrameReader;
use pgcluster_protocol::startup::Ready;

use crate::conninfo::{Resolved, SocketOptions};
#[cfg(unix)]
use crate::driver::FullBacklog;
use crate::driver::{Kind, OpenError};
use crate::engine::attempt::ConnectError;
use crate::engine::attempt::OpenStage;
use crate::engine::connect::{Action, Connect};
use crate::transport::Stream;

/// Most bytes read at once while connecting (the startup exchange is a few hundred).
const READ_CHUNK: usize = 8192;

/// What a successful attempt becomes: built from what the startup exchange leaves. The
/// connection module (above this one) implements it for its `Connection`, so this module
/// never names the connection type.
pub(crate) trait Session: Sized + Send {
    /// A session whose startup exchange has just finished, on the host-list entry `reached`.
    fn established(stream: Stream, reader: FrameReader, ready: Ready, reached: Reached) -> Self;
}

/// The host-list entry a connection reached, as libpq's `PQhost` and `PQport` show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Reached {
    /// The entry's `host` as given (a name, an address, a socket directory), or its
    /// `hostaddr` when no `host` was given.
    pub(crate) host: String,
    /// Its port.
    pub(crate) port: u16,
    /// The TLS settings and server name of the connection's handshake, `None` in the
    /// clear: its cancel requests go encrypted alike (libpq 17's `PQcancelCreate`).
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<std::sync::Arc<tls::TlsUsed>>,
}

/// Why a wait ended without its result.
struct Elapsed;

/// `future`, or [`Elapsed`] at `deadline`. On the async driver a tokio timer stops it; on
/// the blocking driver every socket operation is bounded by the deadline itself (the
/// stream's or the one passed in), so an operation that ends once it has passed is
/// [`Elapsed`].
async fn until<T>(
    kind: Kind,
    deadline: Option<Instant>,
    future: impl Future<Output = T>,
) -> Result<T, Elapsed> {
    match (kind, deadline) {
        (_, None) => Ok(future.await),
        #[cfg(feature = "async")]
        (Kind::Async, Some(deadline)) => {
            tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), future)
                .await
                .map_err(|_| Elapsed)
        }
        #[cfg(feature = "blocking")]
        (Kind::Blocking, Some(deadline)) => {
            let out = future.await;
            if Instant::now() >= deadline {
                Err(Elapsed)
            } else {
                Ok(out)
            }
        }
    }
}

/// Connects to the first target that accepts us, as libpq 13's `PQconnectdb` does, with
/// sockets of driver `kind`.
pub(crate) async fn connect<C: Session>(config: &Resolved, kind: Kind) -> Result<C, ConnectError> {
    let mut engine = Connect::new(config.clone(), shuffle_seed(config));
    let mut socket: Option<Stream> = None;
    let mut buf = vec![0u8; READ_CHUNK];
    // The server name of the last handshake: the one the connection's stream went through
    // if it ends encrypted.
    #[cfg(feature = "tls")]
    let mut tls_host = String::new();
    // The blocking driver bounds each socket operation by the attempt's deadline.
    let bounded = |deadline: Option<Instant>| match kind {
        #[cfg(feature = "blocking")]
        Kind::Blocking => deadline,
        #[cfg(feature = "async")]
        Kind::Async => deadline.and(None),
    };
    loop {
        let action = engine.poll(Instant::now());
        let deadline = engine.deadline();
        if let Some(stream) = socket.as_mut() {
            stream.set_deadline(bounded(deadline));
        }
        match action {
            Action::Resolve { host, port } => {
                let result = kind.resolve(&host, port).await;
                engine.handle_resolved(Instant::now(), result);
            }
            Action::OpenTcp { addr, options } => {
                match until(
                    kind,
                    deadline,
                    open_tcp(kind, addr, &options, bounded(deadline)),
                )
                .await
                {
                    Ok(Ok(stream)) => {
                        socket = Some(stream);
                        engine.handle_opened(Instant::now(), Ok(()));
                    }
                    Ok(Err(e)) => engine.handle_opened(Instant::now(), Err(e)),
                    Err(Elapsed) => engine.handle_timeout(Instant::now()),
                }
            }
            Action::OpenUnix { path } => {
                match until(kind, deadline, open_unix(kind, &path, bounded(deadline))).await {
                    Ok(Ok(stream)) => {
                        socket = Some(stream);
                        engine.handle_opened(Instant::now(), Ok(()));
                    }
                    Ok(Err(e)) => engine.handle_opened(Instant::now(), Err(e)),
                    Err(Elapsed) => engine.handle_timeout(Instant::now()),
                }
            }
            #[cfg(feature = "tls")]
            Action::StartTls { host } => {
                tls_host.clone_from(&host);
                let result = match socket.take() {
                    Some(tcp) if tcp.is_plain_tcp() => {
                        match until(kind, deadline, tls::handshake(tcp, &config.tls, &host)).await {
                            Ok(Ok((stream, end_point))) => {
                                socket = Some(stream);
                                Some(Ok(end_point))
                            }
                            Ok(Err(e)) => Some(Err(e)),
                            Err(Elapsed) => None,
                        }
                    }
                    other => {
                        socket = other;
                        Some(Err(crate::tls::TlsError::Handshake(
                            "no TCP socket to start TLS on".to_owned(),
                        )))
                    }
                };
                match result {
                    Some(result) => engine.handle_tls(Instant::now(), result),
                    None => engine.handle_timeout(Instant::now()),
                }
            }
            Action::Send(bytes) => match until(kind, deadline, send(socket.as_mut(), &bytes)).await
            {
                Ok(Ok(())) => {}
                Ok(Err(e)) => engine.handle_io_error(Instant::now(), e),
                Err(Elapsed) => engine.handle_timeout(Instant::now()),
            },
            Action::Receive => {
                match until(kind, deadline, receive(socket.as_mut(), &mut buf)).await {
                    Ok(Ok(0)) => engine.handle_eof(Instant::now()),
                    Ok(Ok(n)) => {
                        engine.handle_received(Instant::now(), buf.get(..n).unwrap_or_default())
                    }
                    Ok(Err(e)) => engine.handle_io_error(Instant::now(), e),
                    Err(Elapsed) => engine.handle_timeout(Instant::now()),
                }
            }
            Action::Nonce => engine.handle_nonce(Instant::now(), nonce()),
            Action::Close => socket = None,
            Action::Done(established) => {
                let Some(mut stream) = socket.take() else {
                    // The machine never finishes without the socket it opened.
                    return Err(ConnectError::local(
                        crate::io_text::SERVER_CLOSED.to_owned(),
                    ));
                };
                let established = *established;
                debug_assert_eq!(established.tls, stream.is_tls());
                // Connected: no deadline bounds the connection's reads and writes.
                stream.set_deadline(None);
                let reached = Reached {
                    host: established.host,
                    port: established.port,
                    #[cfg(feature = "tls")]
                    tls: stream.is_tls().then(|| {
                        std::sync::Arc::new(tls::TlsUsed {
                            settings: config.tls.clone(),
                            host: tls_host,
                        })
                    }),
                };
                return Ok(C::established(
                    stream,
                    established.reader,
                    established.ready,
                    reached,
                ));
            }
            Action::Failed(e) => return Err(e),
        }
    }
}

/// The seed of `load_balance_hosts=random`'s shuffles: from the operating system's random
/// source, else (as libpq's `libpq_prng_init`) from the time and the process ID. Drawn only
/// when the setting asks for it.
fn shuffle_seed(config: &Resolved) -> u64 {
    if config.load_balance_hosts != crate::conninfo::LoadBalanceHosts::Random {
        return 0;
    }
    let mut seed = [0u8; 8];
    if crate::random::fill(&mut seed).is_ok() {
        return u64::from_le_bytes(seed);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    // Only the low bits matter for a seed.
    #[allow(
        clippy::cast_possible_truncation,
        reason = "the low 64 bits are the seed"
    )]
    let low = nanos as u64;
    low ^ u64::from(std::process::id()).rotate_left(32)
}

/// The SCRAM client nonce's random bytes.
fn nonce() -> Option<[u8; 18]> {
    let mut nonce = [0u8; 18];
    crate::random::fill(&mut nonce).ok().map(|()| nonce)
}

/// A TCP socket with libpq's options (`TCP_NODELAY` among them), connected (by `deadline`).
async fn open_tcp(
    kind: Kind,
    addr: SocketAddr,
    options: &SocketOptions,
    deadline: Option<Instant>,
) -> Result<Stream, (OpenStage, io::Error)> {
    let stage = |e| match e {
        OpenError::Create(e) => (OpenStage::Socket, e),
        OpenError::Option(e) => (OpenStage::SetOption(e.option), e.source),
        OpenError::Connect(e) => (OpenStage::Connect, e),
        OpenError::NoDelay(e) => (OpenStage::NoDelay, e),
    };
    let socket = kind.tcp_socket(addr, options).map_err(stage)?;
    socket
        .connect(deadline)
        .await
        .map(Stream::new)
        .map_err(stage)
}

/// A Unix-domain socket, connected (by `deadline`).
#[cfg(unix)]
async fn open_unix(
    kind: Kind,
    path: &str,
    deadline: Option<Instant>,
) -> Result<Stream, (OpenStage, io::Error)> {
    kind.open_unix(std::path::Path::new(path), deadline, FullBacklog::Fail)
        .await
        .map(Stream::new)
        .map_err(|e| (OpenStage::Connect, e))
}

#[cfg(not(unix))]
async fn open_unix(
    _kind: Kind,
    _path: &str,
    _deadline: Option<Instant>,
) -> Result<Stream, (OpenStage, io::Error)> {
    Err((
        OpenStage::UnixUnsupported,
        io::ErrorKind::Unsupported.into(),
    ))
}

/// Writes all of `bytes`.
async fn send(socket: Option<&mut Stream>, bytes: &[u8]) -> io::Result<()> {
    let socket = socket.ok_or(io::ErrorKind::NotConnected)?;
    socket.write_all(bytes).await
}

/// Reads what is there (0: the server closed the connection).
async fn receive(socket: Option<&mut Stream>, buf: &mut [u8]) -> io::Result<usize> {
    socket
        .ok_or(io::ErrorKind::NotConnected)?
        .read(buf, None)
        .await
}
