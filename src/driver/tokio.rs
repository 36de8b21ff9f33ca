//! The async driver: tokio sockets, registered with the current runtime; tokio timers
//! for deadlines.

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
#[cfg(unix)]
use std::path::Path;
use std::pin::Pin;
use std::task::Poll;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;

use super::socket::NewSocket;
use super::std_stream::StdStream;
use super::{timed_out, OpenError, Peer, Progress};

/// `getaddrinfo` on tokio's blocking pool.
pub(crate) async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    tokio::net::lookup_host((host, port))
        .await
        .map(Iterator::collect)
}

/// Connects `socket` (in non-blocking mode, [`super::Kind::tcp_socket`]) to `addr` within
/// `deadline`.
pub(crate) async fn connect_tcp(
    socket: NewSocket,
    addr: SocketAddr,
    deadline: Option<Instant>,
) -> Result<Socket, OpenError> {
    let socket = tokio::net::TcpSocket::from_std_stream(socket.into());
    within(deadline, socket.connect(addr))
        .await
        .map(Socket::Tcp)
        .map_err(OpenError::Connect)
}

/// Connects to the Unix-domain socket at `path` within `deadline`.
#[cfg(unix)]
pub(crate) async fn open_unix(path: &Path, deadline: Option<Instant>) -> io::Result<Socket> {
    within(deadline, UnixStream::connect(path))
        .await
        .map(Socket::Unix)
}

/// `operation`, or [`io::ErrorKind::TimedOut`] if it is not done by `deadline` (it is
/// polled once even then, so what is ready is still taken).
async fn within<T>(
    deadline: Option<Instant>,
    operation: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    match deadline {
        None => operation.await,
        Some(deadline) => tokio::time::timeout_at(deadline.into(), operation)
            .await
            .unwrap_or_else(|_elapsed| Err(timed_out())),
    }
}

/// A connected tokio socket.
#[derive(Debug)]
pub(crate) enum Socket {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
}

impl Socket {
    /// See [`super::Socket::read`].
    pub(crate) async fn read(
        &mut self,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => within(deadline, s.read(buf)).await,
            #[cfg(unix)]
            Self::Unix(s) => within(deadline, s.read(buf)).await,
        }
    }

    /// See [`super::Socket::write_all`].
    pub(crate) async fn write_all(
        &mut self,
        buf: &[u8],
        deadline: Option<Instant>,
    ) -> io::Result<()> {
        match self {
            Self::Tcp(s) => within(deadline, s.write_all(buf)).await,
            #[cfg(unix)]
            Self::Unix(s) => within(deadline, s.write_all(buf)).await,
        }
    }

    fn io(&mut self) -> Pin<&mut (dyn AsyncReadWrite + Send + Unpin)> {
        match self {
            Self::Tcp(s) => Pin::new(s),
            #[cfg(unix)]
            Self::Unix(s) => Pin::new(s),
        }
    }

    /// See [`super::Socket::write_or_read`].
    pub(crate) async fn write_or_read(
        &mut self,
        out: &[u8],
        mut input: Option<&mut [u8]>,
    ) -> io::Result<Progress> {
        poll_fn(|cx| {
            match self.io().poll_write(cx, out) {
                Poll::Ready(Ok(0)) if !out.is_empty() => {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()))
                }
                Poll::Ready(result) => return Poll::Ready(result.map(Progress::Wrote)),
                Poll::Pending => {}
            }
            let Some(input) = input.as_deref_mut() else {
                return Poll::Pending;
            };
            let mut buf = ReadBuf::new(input);
            match self.io().poll_read(cx, &mut buf) {
                Poll::Ready(result) => {
                    Poll::Ready(result.map(|()| Progress::Read(buf.filled().len())))
                }
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }

    /// See [`super::Socket::try_write`].
    pub(crate) fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.try_write(buf),
            #[cfg(unix)]
            Self::Unix(s) => s.try_write(buf),
        }
    }

    /// See [`super::Socket::peer`].
    pub(crate) fn peer(&self) -> Option<Peer> {
        match self {
            Self::Tcp(s) => s.peer_addr().ok().map(Peer::Tcp),
            #[cfg(unix)]
            Self::Unix(s) => s
                .peer_addr()
                .ok()?
                .as_pathname()
                .map(|p| Peer::Unix(p.to_path_buf())),
        }
    }

    /// Takes the socket out of its runtime (deregistered, still open, non-blocking).
    pub(crate) fn park(self) -> io::Result<StdStream> {
        Ok(match self {
            Self::Tcp(s) => StdStream::Tcp(s.into_std()?),
            #[cfg(unix)]
            Self::Unix(s) => StdStream::Unix(s.into_std()?),
        })
    }

    /// A parked socket registered with the current runtime again, if the peer stayed
    /// silent ([`StdStream::check_idle`]).
    pub(crate) fn resume(parked: StdStream) -> io::Result<Self> {
        parked.check_idle()?;
        Ok(match parked {
            StdStream::Tcp(s) => Self::Tcp(TcpStream::from_std(s)?),
            #[cfg(unix)]
            StdStream::Unix(s) => Self::Unix(UnixStream::from_std(s)?),
        })
    }

    /// The tokio TCP stream under this socket, for TLS through tokio-rustls; the socket
    /// back if it is not TCP.
    #[allow(dead_code, reason = "until TLS runs over the driver's sockets")]
    pub(crate) fn into_tcp(self) -> Result<TcpStream, Self> {
        match self {
            Self::Tcp(s) => Ok(s),
            #[cfg(unix)]
            other @ Self::Unix(_) => Err(other),
        }
    }
}

/// Reading and writing, for [`Socket::write_or_read`]'s one code path over both kinds.
trait AsyncReadWrite: AsyncRead + AsyncWrite {}

impl<T: AsyncRead + AsyncWrite> AsyncReadWrite for T {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn write_or_read_drains_and_park_resume_probe() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (a, mut peer) = UnixStream::pair().unwrap();
            let mut s = Socket::Unix(a);
            let size = 4 << 20;
            let peer_task = async {
                let chunk = vec![7u8; 64 << 10];
                let mut sent = 0;
                while sent < size {
                    peer.write_all(&chunk).await.unwrap();
                    sent += chunk.len();
                }
                let mut got = 0;
                let mut buf = vec![0u8; 64 << 10];
                while got < size {
                    let n = peer.read(&mut buf).await.unwrap();
                    assert!(n > 0);
                    got += n;
                }
                (peer, got)
            };
            let ours = async {
                let out = vec![1u8; size];
                let mut rest = &out[..];
                let mut input = vec![0u8; 64 << 10];
                let mut read = 0;
                while !rest.is_empty() {
                    match s.write_or_read(rest, Some(&mut input)).await.unwrap() {
                        Progress::Wrote(n) => rest = &rest[n..],
                        Progress::Read(n) => read += n,
                    }
                }
                while read < size {
                    read += s.read(&mut input, None).await.unwrap();
                }
                read
            };
            let ((peer, got), read) = tokio::join!(peer_task, ours);
            assert_eq!((got, read), (size, size));

            // A deadline with nothing to read.
            let mut buf = [0u8; 4];
            let deadline = Instant::now() + Duration::from_millis(20);
            let e = s.read(&mut buf, Some(deadline)).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::TimedOut);

            // Parked while the peer is silent: resumed; after it spoke: refused.
            let parked = s.park().unwrap();
            let s = Socket::resume(parked).unwrap();
            let mut peer = peer;
            peer.write_all(b"N").await.unwrap();
            let parked = s.park().unwrap();
            assert_eq!(parked.write(b"X").unwrap(), 1);
            assert_eq!(
                Socket::resume(parked).unwrap_err().kind(),
                io::ErrorKind::ConnectionAborted
            );
            let mut one = [0u8; 1];
            peer.read_exact(&mut one).await.unwrap();
            assert_eq!(&one, b"X");
        });
    }
}
