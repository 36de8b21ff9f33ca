//! Opening a connection: the loop that runs the sans-IO connect machine
//! ([`crate::engine::connect`]) over sockets. Each [`Action`] the machine asks for is one
//! small function here (look up, open, TLS, write, read); the machine holds every rule
//! (libpq 13's host and address walk, its error texts, `connect_timeout`, the TLS plan,
//! startup and authentication, the read-write test).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use pgcluster_protocol::frame::FrameReader;
use pgcluster_protocol::startup::Ready;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

use crate::conninfo::{Resolved, SocketOptions};
use crate::engine::attempt::OpenStage;
use crate::engine::connect::{Action, Connect};
use crate::error::ConnectError;
use crate::transport::Stream;

/// Most bytes read at once while connecting (the startup exchange is a few hundred).
const READ_CHUNK: usize = 8192;

/// What a successful attempt becomes: built from what the startup exchange leaves. The
/// connection module (above this one) implements it for its `Connection`, so this module
/// never names the connection type.
pub(crate) trait Session: Sized + Send {
    /// A session whose startup exchange has just finished.
    fn established(stream: Stream, reader: FrameReader, ready: Ready) -> Self;
}

/// Why a wait ended without its result.
struct Elapsed;

/// `future`, or [`Elapsed`] at `deadline`.
async fn until<T>(
    deadline: Option<Instant>,
    future: impl Future<Output = T>,
) -> Result<T, Elapsed> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), future)
            .await
            .map_err(|_| Elapsed),
        None => Ok(future.await),
    }
}

/// Connects to the first target that accepts us, as libpq 13's `PQconnectdb` does.
pub(crate) async fn connect<C: Session>(config: &Resolved) -> Result<C, ConnectError> {
    let mut engine = Connect::new(config.clone());
    let mut socket: Option<Stream> = None;
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let action = engine.poll(Instant::now());
        let deadline = engine.deadline();
        match action {
            Action::Resolve { host, port } => {
                let result = resolve(&host, port).await;
                engine.handle_resolved(Instant::now(), result);
            }
            Action::OpenTcp { addr, options } => {
                match until(deadline, open_tcp(addr, &options)).await {
                    Ok(Ok(stream)) => {
                        socket = Some(stream);
                        engine.handle_opened(Instant::now(), Ok(()));
                    }
                    Ok(Err(e)) => engine.handle_opened(Instant::now(), Err(e)),
                    Err(Elapsed) => engine.handle_timeout(Instant::now()),
                }
            }
            Action::OpenUnix { path } => match until(deadline, open_unix(&path)).await {
                Ok(Ok(stream)) => {
                    socket = Some(stream);
                    engine.handle_opened(Instant::now(), Ok(()));
                }
                Ok(Err(e)) => engine.handle_opened(Instant::now(), Err(e)),
                Err(Elapsed) => engine.handle_timeout(Instant::now()),
            },
            #[cfg(feature = "tls")]
            Action::StartTls { host } => {
                let result = match socket.take() {
                    Some(Stream::Tcp(tcp)) => {
                        match until(
                            deadline,
                            crate::tls::negotiate::handshake(tcp, &config.tls, &host),
                        )
                        .await
                        {
                            Ok(Ok((stream, end_point))) => {
                                socket = Some(Stream::Tls(stream));
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
            Action::Send(bytes) => match until(deadline, send(socket.as_mut(), &bytes)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => engine.handle_io_error(Instant::now(), e),
                Err(Elapsed) => engine.handle_timeout(Instant::now()),
            },
            Action::Receive => match until(deadline, receive(socket.as_mut(), &mut buf)).await {
                Ok(Ok(0)) => engine.handle_eof(Instant::now()),
                Ok(Ok(n)) => {
                    engine.handle_received(Instant::now(), buf.get(..n).unwrap_or_default())
                }
                Ok(Err(e)) => engine.handle_io_error(Instant::now(), e),
                Err(Elapsed) => engine.handle_timeout(Instant::now()),
            },
            Action::Nonce => engine.handle_nonce(Instant::now(), nonce()),
            Action::Close => socket = None,
            Action::Done(established) => {
                let Some(stream) = socket.take() else {
                    // The machine never finishes without the socket it opened.
                    return Err(ConnectError::local(
                        crate::io_text::SERVER_CLOSED.to_owned(),
                    ));
                };
                let established = *established;
                debug_assert_eq!(established.tls, stream.is_tls());
                return Ok(C::established(
                    stream,
                    established.reader,
                    established.ready,
                ));
            }
            Action::Failed(e) => return Err(e),
        }
    }
}

/// The SCRAM client nonce's random bytes.
fn nonce() -> Option<[u8; 18]> {
    let mut nonce = [0u8; 18];
    crate::random::fill(&mut nonce).ok().map(|()| nonce)
}

/// A host name's addresses, in `getaddrinfo` order.
async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    Ok(tokio::net::lookup_host((host, port)).await?.collect())
}

/// A TCP socket with libpq's options, connected, with `TCP_NODELAY`.
async fn open_tcp(
    addr: SocketAddr,
    options: &SocketOptions,
) -> Result<Stream, (OpenStage, io::Error)> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| (OpenStage::Socket, e))?;
    apply_socket_options(&socket, options)
        .map_err(|(option, e)| (OpenStage::SetOption(option), e))?;
    let stream = socket
        .connect(addr)
        .await
        .map_err(|e| (OpenStage::Connect, e))?;
    stream
        .set_nodelay(true)
        .map_err(|e| (OpenStage::NoDelay, e))?;
    Ok(Stream::Tcp(stream))
}

/// A Unix-domain socket, connected.
#[cfg(unix)]
async fn open_unix(path: &str) -> Result<Stream, (OpenStage, io::Error)> {
    tokio::net::UnixStream::connect(path)
        .await
        .map(Stream::Unix)
        .map_err(|e| (OpenStage::Connect, e))
}

#[cfg(not(unix))]
async fn open_unix(_path: &str) -> Result<Stream, (OpenStage, io::Error)> {
    Err((
        OpenStage::UnixUnsupported,
        io::ErrorKind::Unsupported.into(),
    ))
}

/// Writes all of `bytes`.
async fn send(socket: Option<&mut Stream>, bytes: &[u8]) -> io::Result<()> {
    let socket = socket.ok_or(io::ErrorKind::NotConnected)?;
    socket.write_all(bytes).await?;
    socket.flush().await
}

/// Reads what is there (0: the server closed the connection).
async fn receive(socket: Option<&mut Stream>, buf: &mut [u8]) -> io::Result<usize> {
    socket.ok_or(io::ErrorKind::NotConnected)?.read(buf).await
}

/// Sets the TCP options libpq sets, in its order; on failure, the option's C name.
fn apply_socket_options(
    socket: &TcpSocket,
    options: &SocketOptions,
) -> Result<(), (&'static str, io::Error)> {
    use std::time::Duration;
    let sock = socket2::SockRef::from(socket);
    let failed = |option: &'static str| move |e| (option, e);
    if !options.keepalive {
        return Ok(());
    }
    sock.set_keepalive(true).map_err(failed("SO_KEEPALIVE"))?;
    let mut keepalive = socket2::TcpKeepalive::new();
    if let Some(secs) = options.keepalive_idle {
        keepalive = keepalive.with_time(Duration::from_secs(secs.into()));
        sock.set_tcp_keepalive(&keepalive)
            .map_err(failed("TCP_KEEPIDLE"))?;
    }
    if let Some(secs) = options.keepalive_interval {
        keepalive = keepalive.with_interval(Duration::from_secs(secs.into()));
        sock.set_tcp_keepalive(&keepalive)
            .map_err(failed("TCP_KEEPINTVL"))?;
    }
    if let Some(count) = options.keepalive_count {
        keepalive = keepalive.with_retries(count);
        sock.set_tcp_keepalive(&keepalive)
            .map_err(failed("TCP_KEEPCNT"))?;
    }
    if let Some(ms) = options.tcp_user_timeout {
        sock.set_tcp_user_timeout(Some(Duration::from_millis(ms.into())))
            .map_err(failed("TCP_USER_TIMEOUT"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalive_settings_are_applied_to_the_socket() {
        let socket = TcpSocket::new_v4().unwrap();
        let options = SocketOptions {
            keepalive: true,
            keepalive_idle: Some(7),
            keepalive_interval: Some(3),
            keepalive_count: Some(4),
            tcp_user_timeout: Some(2500),
        };
        apply_socket_options(&socket, &options).unwrap();
        let sock = socket2::SockRef::from(&socket);
        assert!(sock.keepalive().unwrap());
        assert_eq!(
            sock.tcp_keepalive_time().unwrap(),
            std::time::Duration::from_secs(7)
        );
        assert_eq!(
            sock.tcp_keepalive_interval().unwrap(),
            std::time::Duration::from_secs(3)
        );
        assert_eq!(sock.tcp_keepalive_retries().unwrap(), 4);
        assert_eq!(
            sock.tcp_user_timeout().unwrap(),
            Some(std::time::Duration::from_millis(2500))
        );
        // keepalives=0: nothing is set.
        let socket = TcpSocket::new_v4().unwrap();
        apply_socket_options(&socket, &SocketOptions::default()).unwrap();
        assert!(!socket2::SockRef::from(&socket).keepalive().unwrap());
    }
}
