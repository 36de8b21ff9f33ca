//! The byte transport under a connection: a driver's [`Socket`] plus, when the connection
//! is encrypted, its TLS session. Reads and writes go through TLS transparently.
//!
//! [`Stream`] is the only type the connection layer reads from and writes to; it is
//! written once over either driver (see [`crate::driver`]). [`WireError`] is why a read or
//! a write of it failed, in libpq's words.

use std::fmt;
use std::io;
use std::time::Instant;

use pgcluster_protocol::frame::FrameReader;

use crate::driver::{Kind, Parked, Peer, Progress, Socket};
use crate::engine::attempt::{receive_error_text, write_closed};
#[cfg(feature = "tls")]
use crate::engine::tls::{Plaintext, TlsSession};
use crate::io_text::{send_error_text, SERVER_CLOSED};

/// A connected socket to a PostgreSQL server, encrypted or not.
#[derive(Debug)]
pub(crate) struct Stream {
    inner: Inner,
    /// The deadline of every read and write until it changes: a connect attempt's
    /// `connect_timeout`, while it runs.
    deadline: Option<Instant>,
}

#[derive(Debug)]
enum Inner {
    /// In the clear (TCP with `TCP_NODELAY` and keepalives, or a Unix-domain socket).
    Plain(Socket),
    /// TLS over TCP (feature `tls`): the engine's sans-IO session over the socket.
    #[cfg(feature = "tls")]
    Tls(Box<Tls>),
}

/// A TLS connection: the socket and the engine's TLS session, whose ciphertext this moves
/// to and from the socket. The same code serves either driver's socket.
#[cfg(feature = "tls")]
#[derive(Debug)]
struct Tls {
    socket: Socket,
    session: TlsSession,
    /// Ciphertext read from the socket, handed to the session at once.
    input: Vec<u8>,
}

/// Most ciphertext read from the socket at once: one TLS record and its header.
#[cfg(feature = "tls")]
const CIPHERTEXT_READ: usize = 16 * 1024 + 256;

impl Stream {
    /// A stream in the clear over `socket`, with no deadline.
    pub(crate) fn new(socket: Socket) -> Self {
        Self {
            inner: Inner::Plain(socket),
            deadline: None,
        }
    }

    /// TLS over this stream's socket, whose handshake `session` finished (see
    /// [`Stream::handshake`]); the stream's deadline stays.
    #[cfg(feature = "tls")]
    pub(crate) fn into_tls(self, session: TlsSession) -> Result<Self, Self> {
        match self.inner {
            Inner::Plain(socket) => Ok(Self {
                inner: Inner::Tls(Box::new(Tls {
                    socket,
                    session,
                    input: vec![0; CIPHERTEXT_READ],
                })),
                deadline: self.deadline,
            }),
            inner @ Inner::Tls(_) => Err(Self {
                inner,
                deadline: self.deadline,
            }),
        }
    }

    /// Runs a TLS handshake over this stream in the clear: sends what `session` has, and
    /// reads while it is handshaking. On failure, the alert the session queued is sent if
    /// the socket takes it at once.
    #[cfg(feature = "tls")]
    pub(crate) async fn handshake(
        &mut self,
        session: &mut TlsSession,
    ) -> Result<(), HandshakeError> {
        let mut buf = vec![0u8; CIPHERTEXT_READ];
        let result = async {
            loop {
                let out = session.output();
                if !out.is_empty() {
                    let n = out.len();
                    self.write_all(out).await.map_err(HandshakeError::Socket)?;
                    session.sent(n);
                    continue;
                }
                if !session.is_handshaking() {
                    return Ok(());
                }
                let n = self
                    .read(&mut buf, None)
                    .await
                    .map_err(HandshakeError::Socket)?;
                if n == 0 {
                    return Err(HandshakeError::Session(
                        crate::engine::tls::SessionError::Eof,
                    ));
                }
                session
                    .receive(buf.get(..n).unwrap_or_default())
                    .map_err(HandshakeError::Session)?;
            }
        }
        .await;
        if result.is_err() {
            if let Ok(n) = self.try_write(session.output()) {
                session.sent(n);
            }
        }
        result
    }

    /// Whether the stream is TCP in the clear (where TLS can start).
    #[cfg(feature = "tls")]
    pub(crate) fn is_plain_tcp(&self) -> bool {
        matches!(&self.inner, Inner::Plain(socket) if socket.is_tcp())
    }

    /// The driver of the socket under the stream.
    pub(crate) fn kind(&self) -> Kind {
        match &self.inner {
            Inner::Plain(socket) => socket.kind(),
            #[cfg(feature = "tls")]
            Inner::Tls(tls) => tls.socket.kind(),
        }
    }

    /// Sets the deadline of every later read and write (`None`: none).
    #[allow(dead_code, reason = "for the connect attempt's deadline")]
    pub(crate) fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// The earlier of the stream's deadline and `deadline`.
    fn deadline_with(&self, deadline: Option<Instant>) -> Option<Instant> {
        match (self.deadline, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Reads at least one byte into `buf` (0 at the end of the stream), by `deadline` and
    /// the stream's own ([`io::ErrorKind::TimedOut`] past them).
    pub(crate) async fn read(
        &mut self,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> io::Result<usize> {
        let deadline = self.deadline_with(deadline);
        match &mut self.inner {
            Inner::Plain(socket) => socket.read(buf, deadline).await,
            #[cfg(feature = "tls")]
            Inner::Tls(tls) => tls.read(buf, deadline).await,
        }
    }

    /// Reads what has arrived into `reader`'s buffer (see [`Stream::read`]).
    pub(crate) async fn read_into(
        &mut self,
        reader: &mut FrameReader,
        deadline: Option<Instant>,
    ) -> io::Result<usize> {
        let n = self.read(reader.spare(), deadline).await?;
        reader.commit(n);
        Ok(n)
    }

    /// Writes all of `buf`, by the stream's deadline.
    pub(crate) async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let deadline = self.deadline;
        match &mut self.inner {
            Inner::Plain(socket) => socket.write_all(buf, deadline).await,
            #[cfg(feature = "tls")]
            Inner::Tls(tls) => tls.write_all(buf, deadline).await,
        }
    }

    /// Writes all of `buf`; whenever the socket takes no more, reads what the server sends
    /// meanwhile into `reader` (handled once the caller reads replies). A server that
    /// sends something for each row of a COPY (a notice from a trigger, say) blocks once we
    /// stop reading, and then stops reading our data: without this, both sides would wait
    /// for ever. After the end of the stream, only the write can end this (a closed socket
    /// fails it).
    pub(crate) async fn write_draining(
        &mut self,
        buf: &[u8],
        reader: &mut FrameReader,
    ) -> io::Result<()> {
        let mut rest = buf;
        let mut eof = false;
        while !rest.is_empty() || self.has_output() {
            let input = if eof { None } else { Some(reader.spare()) };
            match self.write_or_read(rest, input).await? {
                Progress::Wrote(n) => rest = rest.get(n..).unwrap_or_default(),
                Progress::Read(0) => eof = true,
                Progress::Read(n) => reader.commit(n),
            }
        }
        Ok(())
    }

    /// One step of [`Stream::write_draining`].
    async fn write_or_read(
        &mut self,
        out: &[u8],
        input: Option<&mut [u8]>,
    ) -> io::Result<Progress> {
        match &mut self.inner {
            Inner::Plain(socket) => socket.write_or_read(out, input).await,
            #[cfg(feature = "tls")]
            Inner::Tls(tls) => tls.write_or_read(out, input).await,
        }
    }

    /// Whether encrypted bytes wait to be sent.
    fn has_output(&mut self) -> bool {
        match &mut self.inner {
            Inner::Plain(_) => false,
            #[cfg(feature = "tls")]
            Inner::Tls(tls) => !tls.session.output().is_empty(),
        }
    }

    /// Writes as much of `buf` as the socket takes right now, without waiting. Used to
    /// send Terminate from `Drop`, where nothing can be awaited.
    pub(crate) fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match &self.inner {
            Inner::Plain(socket) => socket.try_write(buf),
            // Encrypting needs `&mut`: a TLS connection just closes its socket on drop.
            #[cfg(feature = "tls")]
            Inner::Tls(_) => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    /// Ends the stream before the socket is closed: on TLS, sends close_notify. A plain
    /// stream needs nothing (as libpq, no `shutdown(2)`: closing the socket is the end).
    /// Errors are ignored: the connection is going away.
    pub(crate) async fn finish(&mut self) {
        match &mut self.inner {
            Inner::Plain(_) => {}
            #[cfg(feature = "tls")]
            Inner::Tls(tls) => {
                tls.session.close();
                let deadline = self.deadline;
                let _ = tls.flush(deadline).await;
            }
        }
    }

    /// Whether the connection is encrypted.
    pub(crate) fn is_tls(&self) -> bool {
        match &self.inner {
            Inner::Plain(_) => false,
            #[cfg(feature = "tls")]
            Inner::Tls(_) => true,
        }
    }

    /// Where the socket goes. A TLS stream gives its TCP socket's address: libpq sends
    /// CancelRequest unencrypted.
    pub(crate) fn peer(&self) -> Option<Peer> {
        match &self.inner {
            Inner::Plain(socket) => socket.peer(),
            #[cfg(feature = "tls")]
            Inner::Tls(tls) => tls.socket.peer(),
        }
    }

    /// Puts an idle stream aside so that it can be resumed later, on any runtime (a tokio
    /// socket leaves its runtime). `goodbye` is written (without waiting) if the parked
    /// stream is dropped instead of resumed. `None` for TLS: the session cannot leave
    /// with the socket.
    pub(crate) fn park(self, goodbye: Vec<u8>) -> Option<ParkedStream> {
        let socket = match self.inner {
            Inner::Plain(socket) => socket.park().ok()?,
            #[cfg(feature = "tls")]
            Inner::Tls(_) => return None,
        };
        Some(ParkedStream {
            socket: Some(socket),
            goodbye,
        })
    }
}

/// A tokio Unix socket as a stream (tests).
#[cfg(all(test, feature = "async", unix))]
impl From<tokio::net::UnixStream> for Stream {
    fn from(s: tokio::net::UnixStream) -> Self {
        Self::new(Socket::Async(crate::driver::tokio::Socket::Unix(s)))
    }
}

/// A std Unix socket as a stream of the blocking driver (tests).
#[cfg(all(test, feature = "blocking", unix))]
impl From<std::os::unix::net::UnixStream> for Stream {
    fn from(s: std::os::unix::net::UnixStream) -> Self {
        Self::new(Socket::Blocking(
            crate::driver::blocking::Socket::from_unix(s).expect("non-blocking mode"),
        ))
    }
}

/// Why a TLS handshake failed: the socket, or TLS itself.
#[cfg(feature = "tls")]
#[derive(Debug)]
pub(crate) enum HandshakeError {
    /// A read or write failed.
    Socket(io::Error),
    /// The session refused what the server sent, or the server ended the stream.
    Session(crate::engine::tls::SessionError),
}

#[cfg(feature = "tls")]
impl Tls {
    /// Sends all the ciphertext the session has.
    async fn flush(&mut self, deadline: Option<Instant>) -> io::Result<()> {
        loop {
            let out = self.session.output();
            if out.is_empty() {
                return Ok(());
            }
            let n = out.len();
            self.socket.write_all(out, deadline).await?;
            self.session.sent(n);
        }
    }

    /// Sends what the session queued if the socket takes it at once (an alert after a TLS
    /// error, a record that a read made due).
    fn send_now(&mut self) {
        let out = self.session.output();
        if out.is_empty() {
            return;
        }
        if let Ok(n) = self.socket.try_write(out) {
            self.session.sent(n);
        }
    }

    /// Plaintext into `buf`: what the session holds, else ciphertext read from the socket.
    async fn read(&mut self, buf: &mut [u8], deadline: Option<Instant>) -> io::Result<usize> {
        loop {
            match self.session.read(buf) {
                Ok(Plaintext::Data(n)) => return Ok(n),
                Ok(Plaintext::Closed) => return Ok(0),
                Ok(Plaintext::NeedMore) => {}
                Err(e) => {
                    self.send_now();
                    return Err(e.into());
                }
            }
            let n = self.socket.read(&mut self.input, deadline).await?;
            let received = match self.input.get(..n) {
                Some([]) | None => {
                    self.session.receive_eof();
                    Ok(())
                }
                Some(ciphertext) => self.session.receive(ciphertext),
            };
            if let Err(e) = received {
                self.send_now();
                return Err(e.into());
            }
        }
    }

    /// Encrypts all of `buf` and sends it.
    async fn write_all(&mut self, buf: &[u8], deadline: Option<Instant>) -> io::Result<()> {
        let mut rest = buf;
        loop {
            self.flush(deadline).await?;
            if rest.is_empty() {
                return Ok(());
            }
            let n = self.session.write(rest);
            rest = rest.get(n..).unwrap_or_default();
        }
    }

    /// One step of [`Stream::write_draining`]: takes plaintext from `out` once the
    /// ciphertext before it is sent; while the socket takes none, reads ciphertext and
    /// hands what plaintext it gives to `input`.
    async fn write_or_read(
        &mut self,
        out: &[u8],
        mut input: Option<&mut [u8]>,
    ) -> io::Result<Progress> {
        loop {
            if self.session.output().is_empty() {
                return Ok(Progress::Wrote(self.session.write(out)));
            }
            let reading = input.is_some();
            let pending = self.session.output();
            let progress = self
                .socket
                .write_or_read(pending, reading.then_some(&mut self.input[..]))
                .await?;
            match progress {
                Progress::Wrote(n) => self.session.sent(n),
                Progress::Read(n) => {
                    match self.input.get(..n) {
                        Some([]) | None => self.session.receive_eof(),
                        Some(ciphertext) => self.session.receive(ciphertext)?,
                    }
                    if let Some(input) = input.as_deref_mut() {
                        match self.session.read(input)? {
                            Plaintext::Data(n) => return Ok(Progress::Read(n)),
                            Plaintext::Closed => return Ok(Progress::Read(0)),
                            Plaintext::NeedMore if n == 0 => return Ok(Progress::Read(0)),
                            Plaintext::NeedMore => {}
                        }
                    }
                }
            }
        }
    }
}

/// A stream put aside by [`Stream::park`].
#[derive(Debug)]
pub(crate) struct ParkedStream {
    socket: Option<Parked>,
    goodbye: Vec<u8>,
}

impl ParkedStream {
    /// The stream again, if the server stayed silent while it was parked. An idle server
    /// that sent anything, or closed the socket (a terminated backend sends a FATAL, then
    /// closes), makes this an error: the socket is then closed.
    pub(crate) fn resume(mut self) -> io::Result<Stream> {
        let socket = self.socket.take().ok_or(io::ErrorKind::NotConnected)?;
        socket.resume().map(Stream::new)
    }
}

impl Drop for ParkedStream {
    fn drop(&mut self) {
        if let Some(socket) = &self.socket {
            let _ = socket.try_write(&self.goodbye);
        }
    }
}

/// Why the connection to the server failed under a read or a write of its stream. `Display` is libpq
/// 13's text with its final newline, as the error buffer holds it.
#[derive(Debug)]
pub(crate) enum WireError {
    /// There is no socket any more: an earlier failure dropped it.
    Gone,
    /// The server ended the stream while a reply was awaited. On TLS it ended TLS first
    /// (close_notify), which libpq reports as such; else it closed the connection.
    Closed {
        /// Whether the stream was TLS.
        tls: bool,
    },
    /// A read failed.
    Receive(io::Error),
    /// A write failed.
    Send(io::Error),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Gone => f.write_str(SERVER_CLOSED),
            Self::Closed { tls } => write_closed(f, *tls),
            Self::Receive(e) => f.write_str(&receive_error_text(e)),
            Self::Send(e) => f.write_str(&send_error_text(e)),
        }
    }
}

impl std::error::Error for WireError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Gone | Self::Closed { .. } => None,
            Self::Receive(e) | Self::Send(e) => Some(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_errors_are_the_texts_with_their_cause() {
        use std::error::Error as _;
        assert_eq!(WireError::Gone.to_string(), SERVER_CLOSED);
        assert_eq!(WireError::Closed { tls: false }.to_string(), SERVER_CLOSED);
        #[cfg(feature = "tls")]
        assert_eq!(
            WireError::Closed { tls: true }.to_string(),
            format!("{}\n", crate::tls::TlsError::Closed)
        );
        let e = WireError::Receive(io::Error::from_raw_os_error(5));
        assert_eq!(
            e.to_string(),
            "could not receive data from server: Input/output error\n"
        );
        assert!(e.source().is_some());
        let e = WireError::Send(io::Error::from_raw_os_error(32));
        assert_eq!(e.to_string(), SERVER_CLOSED);
        assert!(e.source().is_some());
        assert!(WireError::Gone.source().is_none());
    }

    /// Bytes both ways over TCP and a Unix socket, through each driver's sockets.
    #[test]
    fn tcp_and_unix_carry_bytes_both_ways() {
        #[cfg(feature = "async")]
        {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("test runtime");
            rt.block_on(async {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let options = Default::default();
                let (client, server) = tokio::join!(
                    crate::driver::Kind::Async.open_tcp(addr, &options, None),
                    async { listener.accept().await }
                );
                let mut client = Stream::new(client.unwrap());
                let (mut server, _) = server.unwrap();
                client.write_all(b"ping").await.unwrap();
                let mut got = [0u8; 4];
                server.read_exact(&mut got).await.unwrap();
                assert_eq!(&got, b"ping");
                server.write_all(b"pong").await.unwrap();
                let mut reader = FrameReader::new(Default::default());
                let mut n = 0;
                while n < 4 {
                    n += client.read_into(&mut reader, None).await.unwrap();
                }
                assert_eq!(reader.peek(), b"pong");

                let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
                let a = Stream::new(Socket::Async(crate::driver::tokio::Socket::Unix(a)));
                assert_eq!(a.try_write(b"X").unwrap(), 1);
                let mut one = [0u8; 1];
                b.read_exact(&mut one).await.unwrap();
                assert_eq!(&one, b"X");
            });
        }
        #[cfg(feature = "blocking")]
        {
            use std::io::{Read, Write};
            let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
            let mut a = Stream::new(Socket::Blocking(
                crate::driver::blocking::Socket::from_unix(a).unwrap(),
            ));
            crate::driver::block_on(a.write_all(b"ping")).unwrap();
            let mut got = [0u8; 4];
            b.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"ping");
            b.write_all(b"pong").unwrap();
            let mut reader = FrameReader::new(Default::default());
            let mut n = 0;
            while n < 4 {
                n += crate::driver::block_on(a.read_into(&mut reader, None)).unwrap();
            }
            assert_eq!(reader.peek(), b"pong");
            assert_eq!(a.try_write(b"X").unwrap(), 1);
            b.read_exact(&mut got[..1]).unwrap();
            assert_eq!(&got[..1], b"X");
            // The stream's deadline bounds a read.
            a.set_deadline(Some(Instant::now()));
            let e = crate::driver::block_on(a.read_into(&mut reader, None)).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::TimedOut);
            assert_eq!(reader.peek(), b"pong", "nothing lost");
        }
    }
}
