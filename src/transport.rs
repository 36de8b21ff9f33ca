//! The byte transport under a connection: one seam over the socket kinds.
//!
//! [`Stream`] is the only type the connection layer reads from and writes to. TCP and
//! Unix-domain sockets are its variants today; TLS (rustls) slots in as a third variant
//! without touching the protocol crate or the connection's logic.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;

/// A connected socket to a PostgreSQL server.
#[derive(Debug)]
#[non_exhaustive]
pub enum Stream {
    /// TCP (with `TCP_NODELAY` and keepalives on).
    Tcp(TcpStream),
    /// A Unix-domain socket.
    #[cfg(unix)]
    Unix(UnixStream),
    /// TLS over TCP (feature `tls`).
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Stream {
    /// Writes as much of `buf` as the socket takes right now, without waiting.
    /// Used to send Terminate from `Drop`, where nothing can be awaited.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.try_write(buf),
            #[cfg(unix)]
            Self::Unix(s) => s.try_write(buf),
            // Encrypting needs `&mut`: a TLS connection just closes its socket on drop.
            #[cfg(feature = "tls")]
            Self::Tls(_) => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        if let Self::Tls(_) = self {
            return true;
        }
        false
    }
}

impl Stream {
    /// Takes the socket out of its runtime (deregistered, still open), so that it can be
    /// resumed later on any runtime. `goodbye` is written (without waiting) if the parked
    /// socket is dropped instead of resumed.
    pub(crate) fn park(self, goodbye: Vec<u8>) -> Option<ParkedStream> {
        let socket = match self {
            Self::Tcp(s) => ParkedSocket::Tcp(s.into_std().ok()?),
            #[cfg(unix)]
            Self::Unix(s) => ParkedSocket::Unix(s.into_std().ok()?),
            // The TLS session state cannot leave with the socket.
            #[cfg(feature = "tls")]
            Self::Tls(_) => return None,
        };
        Some(ParkedStream {
            socket: Some(socket),
            goodbye,
        })
    }
}

/// A socket taken out of its runtime by [`Stream::park`]. It is in non-blocking mode.
#[derive(Debug)]
pub(crate) struct ParkedStream {
    socket: Option<ParkedSocket>,
    goodbye: Vec<u8>,
}

#[derive(Debug)]
enum ParkedSocket {
    Tcp(std::net::TcpStream),
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixStream),
}

impl ParkedSocket {
    fn as_io(&self) -> &dyn IoRef {
        match self {
            Self::Tcp(s) => s,
            #[cfg(unix)]
            Self::Unix(s) => s,
        }
    }
}

/// `Read` and `Write` on a shared reference, as std's sockets have them.
trait IoRef {
    fn read_now(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn write_now(&self, buf: &[u8]) -> io::Result<usize>;
}

impl IoRef for std::net::TcpStream {
    fn read_now(&self, buf: &mut [u8]) -> io::Result<usize> {
        io::Read::read(&mut &*self, buf)
    }
    fn write_now(&self, buf: &[u8]) -> io::Result<usize> {
        io::Write::write(&mut &*self, buf)
    }
}

#[cfg(unix)]
impl IoRef for std::os::unix::net::UnixStream {
    fn read_now(&self, buf: &mut [u8]) -> io::Result<usize> {
        io::Read::read(&mut &*self, buf)
    }
    fn write_now(&self, buf: &[u8]) -> io::Result<usize> {
        io::Write::write(&mut &*self, buf)
    }
}

impl ParkedStream {
    /// Registers the socket with the current runtime again, if the server stayed silent
    /// while it was parked. An idle server that sent anything, or closed the socket (a
    /// terminated backend sends a FATAL, then closes), makes this an error: the socket is
    /// then closed.
    pub(crate) fn resume(mut self) -> io::Result<Stream> {
        let socket = self.socket.take().ok_or(io::ErrorKind::NotConnected)?;
        let mut probe = [0u8; 1];
        match socket.as_io().read_now(&mut probe) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the server spoke or closed the connection while it was idle",
                ))
            }
        }
        Ok(match socket {
            ParkedSocket::Tcp(s) => Stream::Tcp(TcpStream::from_std(s)?),
            #[cfg(unix)]
            ParkedSocket::Unix(s) => Stream::Unix(UnixStream::from_std(s)?),
        })
    }
}

impl Drop for ParkedStream {
    fn drop(&mut self) {
        if let Some(socket) = &self.socket {
            let _ = socket.as_io().write_now(&self.goodbye);
        }
    }
}

impl From<TcpStream> for Stream {
    fn from(s: TcpStream) -> Self {
        Self::Tcp(s)
    }
}

#[cfg(unix)]
impl From<UnixStream> for Stream {
    fn from(s: UnixStream) -> Self {
        Self::Unix(s)
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(unix)]
            Self::Unix(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(unix)]
            Self::Unix(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_flush(cx),
            #[cfg(unix)]
            Self::Unix(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(unix)]
            Self::Unix(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn tcp_and_unix_carry_bytes_both_ways() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("test runtime");
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let (client, server) =
                tokio::join!(TcpStream::connect(addr), async { listener.accept().await });
            let mut client = Stream::from(client.unwrap());
            let (mut server, _) = server.unwrap();
            client.write_all(b"ping").await.unwrap();
            let mut got = [0u8; 4];
            server.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"ping");
            server.write_all(b"pong").await.unwrap();
            client.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"pong");

            let (a, mut b) = UnixStream::pair().unwrap();
            let a = Stream::from(a);
            assert_eq!(a.try_write(b"X").unwrap(), 1);
            let mut one = [0u8; 1];
            b.read_exact(&mut one).await.unwrap();
            assert_eq!(&one, b"X");
        });
    }
}
