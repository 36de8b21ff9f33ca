//! The byte transport under a connection: one seam over the socket kinds.
//!
//! [`Stream`] is the only type the connection layer reads from and writes to. TCP and
//! Unix-domain sockets are its variants; TLS is a third, [`TlsStream`]: the TCP socket and
//! the engine's sans-IO TLS session, whose bytes this module moves (feature `tls`).

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
    Tls(Box<TlsStream>),
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

/// A TLS connection: the TCP socket and the engine's TLS session, whose ciphertext this
/// moves to and from the socket (rustls's sans-IO API; the same session serves any driver).
#[cfg(feature = "tls")]
#[derive(Debug)]
pub struct TlsStream {
    tcp: TcpStream,
    session: crate::engine::tls::TlsSession,
    /// close_notify was queued by a shutdown.
    closing: bool,
}

/// Most ciphertext read from the socket at once: one TLS record and its header.
#[cfg(feature = "tls")]
const CIPHERTEXT_READ: usize = 16 * 1024 + 256;

#[cfg(feature = "tls")]
impl TlsStream {
    /// A connection whose handshake `session` finished over `tcp`.
    pub(crate) fn new(tcp: TcpStream, session: crate::engine::tls::TlsSession) -> Self {
        Self {
            tcp,
            session,
            closing: false,
        }
    }

    /// The TCP socket under TLS (its addresses; CancelRequest goes to the same server
    /// unencrypted).
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Sends the session's queued ciphertext, as far as the socket takes it.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let out = self.session.output();
            if out.is_empty() {
                return Poll::Ready(Ok(()));
            }
            match Pin::new(&mut self.tcp).poll_write(cx, out) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.session.sent(n),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// After a TLS error: sends the alert rustls queued if the socket takes it at once.
    fn send_alert(&mut self) {
        let out = self.session.output();
        if let Ok(n) = self.tcp.try_write(out) {
            self.session.sent(n);
        }
    }

    fn poll_read_plaintext(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        use crate::engine::tls::Plaintext;
        // Queued records go out first when the socket takes them; a full socket does not
        // stop the read (COPY writes while it drains), and a failed send is the read's to
        // report in its own words (the server's alert, or the end of the stream).
        let _ = self.poll_send(cx);
        loop {
            match self.session.read(buf.initialize_unfilled()) {
                Ok(Plaintext::Data(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Plaintext::Closed) => return Poll::Ready(Ok(())),
                Ok(Plaintext::NeedMore) => {}
                Err(e) => {
                    self.send_alert();
                    return Poll::Ready(Err(e.into()));
                }
            }
            // Not zeroed first: the socket fills what it reads.
            let mut ciphertext = [std::mem::MaybeUninit::<u8>::uninit(); CIPHERTEXT_READ];
            let mut read = ReadBuf::uninit(&mut ciphertext);
            match Pin::new(&mut self.tcp).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
            if read.filled().is_empty() {
                self.session.receive_eof();
            } else if let Err(e) = self.session.receive(read.filled()) {
                self.send_alert();
                return Poll::Ready(Err(e.into()));
            }
        }
    }

    /// Sends what is queued, then takes plaintext (as much as the session buffers) and
    /// sends what the socket takes of it now; the rest goes with the next write, flush or
    /// read.
    fn poll_write_plaintext(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.poll_send(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other.map_ok(|()| 0),
        }
        let n = self.session.write(buf);
        // Taken: an error sending it now is reported by the next call.
        let _ = self.poll_send(cx);
        Poll::Ready(Ok(n))
    }

    fn poll_flush_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.poll_send(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.tcp).poll_flush(cx),
            other => other,
        }
    }

    /// Ends TLS (close_notify), then the TCP stream's writing half.
    fn poll_shutdown_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.closing {
            self.session.close();
            self.closing = true;
        }
        match self.poll_send(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.tcp).poll_shutdown(cx),
            other => other,
        }
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
            Self::Tls(s) => s.poll_read_plaintext(cx, buf),
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
            Self::Tls(s) => s.poll_write_plaintext(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_flush(cx),
            #[cfg(unix)]
            Self::Unix(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            Self::Tls(s) => s.poll_flush_tls(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(unix)]
            Self::Unix(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            Self::Tls(s) => s.poll_shutdown_tls(cx),
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

    /// Over TLS, a megabyte each way through the hand-written `AsyncRead`/`AsyncWrite`
    /// (the socket fills, so writes wait and resume), then the server's close_notify reads
    /// as the end of the stream. The server is rustls's own blocking stream on a thread.
    #[cfg(all(feature = "tls", feature = "testing"))]
    #[test]
    fn tls_carries_a_megabyte_each_way() {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        use std::sync::Arc;

        let certs = crate::testing::TestCerts::generate().unwrap();
        let pair = certs.server();
        let chain: Vec<_> = CertificateDer::pem_file_iter(&pair.cert)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(&pair.key).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8).collect();
        let expected = data.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            use std::io::{Read as _, Write as _};
            let (s, _) = listener.accept().unwrap();
            // Small socket buffers, so that the client's reads and writes wait often.
            socket2::SockRef::from(&s)
                .set_recv_buffer_size(32 * 1024)
                .unwrap();
            socket2::SockRef::from(&s)
                .set_send_buffer_size(32 * 1024)
                .unwrap();
            let conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, s);
            let mut got = vec![0u8; expected.len()];
            tls.read_exact(&mut got).unwrap();
            assert!(got == expected, "the server got what was sent");
            tls.write_all(&got).unwrap();
            tls.conn.send_close_notify();
            tls.flush().unwrap();
        });

        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("test runtime");
        rt.block_on(async {
            let settings = crate::tls::TlsSettings {
                mode: Some(crate::tls::SslMode::VerifyFull),
                root_cert: Some(certs.ca().display().to_string()),
                direct: true,
                ..crate::tls::TlsSettings::default()
            };
            let tcp = TcpStream::connect(addr).await.unwrap();
            socket2::SockRef::from(&tcp)
                .set_send_buffer_size(32 * 1024)
                .unwrap();
            socket2::SockRef::from(&tcp)
                .set_recv_buffer_size(32 * 1024)
                .unwrap();
            let crate::tls::Negotiated::Tls { stream, .. } =
                crate::tls::negotiate(tcp, &settings, "localhost")
                    .await
                    .unwrap()
            else {
                panic!("no TLS");
            };
            let mut stream = Stream::Tls(stream);
            assert!(stream.is_tls());
            assert!(
                stream.try_write(b"X").is_err(),
                "never encrypts from a shared borrow"
            );
            stream.write_all(&data).await.unwrap();
            stream.flush().await.unwrap();
            let mut back = Vec::new();
            stream.read_to_end(&mut back).await.unwrap();
            assert!(back == data, "{} bytes back", back.len());
            stream.shutdown().await.unwrap();
        });
        server.join().unwrap();
    }
}
