//! The blocking driver: `std::net` and `std::os::unix::net` sockets in blocking mode.
//!
//! Every operation blocks in its system call and returns when done, so a future over
//! this driver is ready on its first poll. A deadline is the socket's read or write
//! timeout (`SO_RCVTIMEO` / `SO_SNDTIMEO`), set only when it changes: an operation with no
//! deadline after one with no deadline costs no extra system call. No poller thread, no
//! runtime.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
#[cfg(unix)]
use std::os::unix::net::UnixStream;
#[cfg(unix)]
use std::path::Path;
use std::time::{Duration, Instant};

use super::{spoke_while_idle, timed_out, OpenError, Peer, Progress, Remaining};

/// How long a write in [`Socket::write_or_read`] waits for the peer to take data before
/// reading what the peer sent meanwhile.
const WRITE_TICK: Duration = Duration::from_millis(20);
/// How long [`Socket::write_or_read`] then waits for something to read before writing
/// again.
const READ_TICK: Duration = Duration::from_millis(1);

/// `getaddrinfo` through std.
pub(crate) fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    (host, port).to_socket_addrs().map(Iterator::collect)
}

/// Connects `socket` to `addr` (within `deadline`), then sets `TCP_NODELAY`.
pub(crate) fn connect_tcp(
    socket: socket2::Socket,
    addr: SocketAddr,
    deadline: Option<Instant>,
) -> Result<Socket, OpenError> {
    let addr = socket2::SockAddr::from(addr);
    match Remaining::until(deadline) {
        Remaining::Forever => socket.connect(&addr),
        Remaining::Left(left) => socket.connect_timeout(&addr, left),
        Remaining::Expired => Err(timed_out()),
    }
    .map_err(OpenError::Connect)?;
    let stream = TcpStream::from(socket);
    stream.set_nodelay(true).map_err(OpenError::NoDelay)?;
    Ok(Socket::new(Io::Tcp(stream)))
}

/// Connects to the Unix-domain socket at `path` within `deadline` (a listener whose
/// backlog is full makes `connect()` wait).
#[cfg(unix)]
pub(crate) fn open_unix(path: &Path, deadline: Option<Instant>) -> io::Result<Socket> {
    let timeout = match Remaining::until(deadline) {
        Remaining::Forever => None,
        Remaining::Left(left) => Some(left),
        Remaining::Expired => return Err(timed_out()),
    };
    let stream = match timeout {
        None => UnixStream::connect(path)?,
        Some(left) => {
            let address = socket2::SockAddr::unix(path)?;
            let socket = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)?;
            // Linux bounds a Unix-domain connect() by the send timeout.
            socket.set_write_timeout(Some(left))?;
            match socket.connect(&address) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(timed_out()),
                other => other?,
            }
            socket.set_write_timeout(None)?;
            UnixStream::from(socket)
        }
    };
    Ok(Socket::new(Io::Unix(stream)))
}

/// A connected std socket, with the timeouts last set on it.
#[derive(Debug)]
pub(crate) struct Socket {
    io: Io,
    /// `SO_RCVTIMEO` as last set (`None`: none).
    read_timeout: Option<Duration>,
    /// `SO_SNDTIMEO` as last set.
    write_timeout: Option<Duration>,
    /// [`Socket::write_or_read`] read last time: it reads first.
    draining: bool,
}

#[derive(Debug)]
enum Io {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
}

impl Io {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => (&*s).read(buf),
            #[cfg(unix)]
            Self::Unix(s) => (&*s).read(buf),
        }
    }

    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => (&*s).write(buf),
            #[cfg(unix)]
            Self::Unix(s) => (&*s).write(buf),
        }
    }

    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.set_read_timeout(timeout),
            #[cfg(unix)]
            Self::Unix(s) => s.set_read_timeout(timeout),
        }
    }

    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.set_write_timeout(timeout),
            #[cfg(unix)]
            Self::Unix(s) => s.set_write_timeout(timeout),
        }
    }

    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.set_nonblocking(nonblocking),
            #[cfg(unix)]
            Self::Unix(s) => s.set_nonblocking(nonblocking),
        }
    }

    fn shutdown(&self) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.shutdown(Shutdown::Write),
            #[cfg(unix)]
            Self::Unix(s) => s.shutdown(Shutdown::Write),
        }
    }

    /// One read or write that does not wait: the socket in non-blocking mode for it.
    fn now<T>(&self, mut op: impl FnMut(&Self) -> io::Result<T>) -> io::Result<T> {
        self.set_nonblocking(true)?;
        let result = loop {
            match op(self) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        self.set_nonblocking(false)?;
        result
    }
}

/// Whether a read or write error is its socket timeout expiring (`EAGAIN`; an
/// `ETIMEDOUT` is the connection's own failure, e.g. `tcp_user_timeout`).
fn is_timeout(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

impl Socket {
    fn new(io: Io) -> Self {
        Self {
            io,
            read_timeout: None,
            write_timeout: None,
            draining: false,
        }
    }

    /// A socket of this driver over a connected std stream (blocking mode, no timeouts).
    #[allow(dead_code, reason = "tests and callers holding a std stream already")]
    pub(crate) fn from_tcp(stream: TcpStream) -> Self {
        Self::new(Io::Tcp(stream))
    }

    /// A socket of this driver over a connected std Unix stream (blocking mode, no
    /// timeouts).
    #[cfg(unix)]
    #[allow(dead_code, reason = "tests and callers holding a std stream already")]
    pub(crate) fn from_unix(stream: UnixStream) -> Self {
        Self::new(Io::Unix(stream))
    }

    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        if self.read_timeout != timeout {
            self.io.set_read_timeout(timeout)?;
            self.read_timeout = timeout;
        }
        Ok(())
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        if self.write_timeout != timeout {
            self.io.set_write_timeout(timeout)?;
            self.write_timeout = timeout;
        }
        Ok(())
    }

    /// See [`super::Socket::read`].
    pub(crate) fn read(&mut self, buf: &mut [u8], deadline: Option<Instant>) -> io::Result<usize> {
        loop {
            let timeout = match Remaining::until(deadline) {
                Remaining::Forever => None,
                Remaining::Left(left) => Some(left),
                // Past the deadline, what has arrived is still taken.
                Remaining::Expired => {
                    return match self.io.now(|io| io.read(&mut *buf)) {
                        Err(e) if is_timeout(&e) => Err(timed_out()),
                        other => other,
                    }
                }
            };
            self.set_read_timeout(timeout)?;
            match self.io.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The deadline decides, at the next turn.
                Err(e) if deadline.is_some() && is_timeout(&e) => {}
                other => return other,
            }
        }
    }

    /// See [`super::Socket::write_all`].
    pub(crate) fn write_all(&mut self, buf: &[u8], deadline: Option<Instant>) -> io::Result<()> {
        let mut rest = buf;
        while !rest.is_empty() {
            let timeout = match Remaining::until(deadline) {
                Remaining::Forever => None,
                Remaining::Left(left) => Some(left),
                Remaining::Expired => return Err(timed_out()),
            };
            self.set_write_timeout(timeout)?;
            match self.io.write(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => rest = rest.get(n..).unwrap_or_default(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if deadline.is_some() && is_timeout(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// See [`super::Socket::write_or_read`]: a write bounded by [`WRITE_TICK`]; when it
    /// took nothing, a read bounded by [`READ_TICK`]; and again. After a read, reading
    /// goes first until nothing more comes within a [`READ_TICK`], so that a peer that
    /// sends a lot is drained at once. (std has no `poll()`, and nothing here may use
    /// `unsafe`.)
    pub(crate) fn write_or_read(
        &mut self,
        out: &[u8],
        mut input: Option<&mut [u8]>,
    ) -> io::Result<Progress> {
        loop {
            if self.draining {
                match input.as_deref_mut() {
                    Some(input) => match self.read_for(input, READ_TICK)? {
                        Some(n) => return Ok(Progress::Read(n)),
                        None => self.draining = false,
                    },
                    None => self.draining = false,
                }
            }
            self.set_write_timeout(Some(WRITE_TICK))?;
            match self.io.write(out) {
                Ok(0) if !out.is_empty() => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => return Ok(Progress::Wrote(n)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted || is_timeout(&e) => {}
                Err(e) => return Err(e),
            }
            if let Some(input) = input.as_deref_mut() {
                if let Some(n) = self.read_for(input, READ_TICK)? {
                    self.draining = n > 0;
                    return Ok(Progress::Read(n));
                }
            }
        }
    }

    /// One read waiting at most `timeout`; `None` when nothing came.
    fn read_for(&mut self, input: &mut [u8], timeout: Duration) -> io::Result<Option<usize>> {
        self.set_read_timeout(Some(timeout))?;
        match self.io.read(input) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted || is_timeout(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// See [`super::Socket::try_write`].
    pub(crate) fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.now(|io| io.write(buf))
    }

    /// See [`super::Socket::shutdown`].
    pub(crate) fn shutdown(&mut self) {
        let _ = self.io.shutdown();
    }

    /// Whether this is a TCP socket.
    #[cfg(feature = "tls")]
    pub(crate) fn is_tcp(&self) -> bool {
        matches!(self.io, Io::Tcp(_))
    }

    /// See [`super::Socket::peer`].
    pub(crate) fn peer(&self) -> Option<Peer> {
        match &self.io {
            Io::Tcp(s) => s.peer_addr().ok().map(Peer::Tcp),
            #[cfg(unix)]
            Io::Unix(s) => s
                .peer_addr()
                .ok()?
                .as_pathname()
                .map(|p| Peer::Unix(p.to_path_buf())),
        }
    }

    /// Ok if the peer has sent nothing and not closed the socket (one read that does not
    /// wait).
    pub(crate) fn check_idle(&self) -> io::Result<()> {
        let mut probe = [0u8; 1];
        match self.io.now(|io| io.read(&mut probe)) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(e),
            Ok(_) => Err(spoke_while_idle()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    fn pair() -> (Socket, UnixStream) {
        let (a, b) = UnixStream::pair().unwrap();
        (Socket::from_unix(a), b)
    }

    #[test]
    fn timeouts_are_set_only_when_they_change() {
        let (mut s, mut peer) = pair();
        peer.write_all(b"ab").unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(s.read(&mut buf, None).unwrap(), 2);
        assert_eq!((s.read_timeout, s.write_timeout), (None, None));
        let deadline = Instant::now() + Duration::from_secs(60);
        peer.write_all(b"c").unwrap();
        assert_eq!(s.read(&mut buf, Some(deadline)).unwrap(), 1);
        let set = s.read_timeout.expect("a read timeout for the deadline");
        assert!(set <= Duration::from_secs(60));
        match &s.io {
            Io::Unix(u) => assert!(u.read_timeout().unwrap().is_some()),
            Io::Tcp(_) => unreachable!(),
        }
        // The same deadline again: a new remaining time, set again (a deadline moves).
        peer.write_all(b"e").unwrap();
        assert_eq!(s.read(&mut buf, Some(deadline)).unwrap(), 1);
        assert!(s.read_timeout.is_some_and(|t| t <= set));
        // Back to no deadline: cleared once.
        peer.write_all(b"d").unwrap();
        assert_eq!(s.read(&mut buf, None).unwrap(), 1);
        assert_eq!(s.read_timeout, None);
        match &s.io {
            Io::Unix(u) => assert_eq!(u.read_timeout().unwrap(), None),
            Io::Tcp(_) => unreachable!(),
        }
    }

    #[test]
    fn a_deadline_gives_timed_out_and_the_socket_stays_usable() {
        let (mut s, mut peer) = pair();
        let mut buf = [0u8; 8];
        let deadline = Instant::now() + Duration::from_millis(30);
        let e = s.read(&mut buf, Some(deadline)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(Instant::now() >= deadline);
        // Past the deadline, what has arrived is still read.
        peer.write_all(b"late").unwrap();
        assert_eq!(s.read(&mut buf, Some(deadline)).unwrap(), 4);
        assert_eq!(&buf[..4], b"late");
        // And a socket whose peer takes nothing times out writing.
        let big = vec![0u8; 16 << 20];
        let deadline = Instant::now() + Duration::from_millis(30);
        let e = s.write_all(&big, Some(deadline)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        // Blocking mode again: a read with no deadline waits for the data.
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            peer.write_all(b"x").unwrap();
            peer
        });
        let mut one = [0u8; 1];
        assert_eq!(s.read(&mut one, None).unwrap(), 1);
        assert_eq!(&one, b"x");
        drop(writer.join().unwrap());
    }

    #[test]
    fn write_or_read_drains_a_peer_that_stops_reading() {
        // The peer sends a lot and reads nothing until all of it was read by us: a plain
        // blocking write of a lot would wait for ever.
        let (mut s, mut peer) = pair();
        let size = 8 << 20;
        let peer = std::thread::spawn(move || {
            let chunk = vec![7u8; 64 << 10];
            let mut sent = 0;
            while sent < size {
                peer.write_all(&chunk).unwrap();
                sent += chunk.len();
            }
            let mut got = Vec::new();
            let mut buf = vec![0u8; 64 << 10];
            while got.len() < size {
                let n = peer.read(&mut buf).unwrap();
                assert!(n > 0);
                got.extend_from_slice(&buf[..n]);
            }
            got.len()
        });
        let out = vec![1u8; size];
        let mut rest = &out[..];
        let mut input = vec![0u8; 64 << 10];
        let mut read = 0;
        while !rest.is_empty() {
            match s.write_or_read(rest, Some(&mut input)).unwrap() {
                Progress::Wrote(n) => rest = &rest[n..],
                Progress::Read(n) => {
                    assert!(n > 0);
                    read += n;
                }
            }
        }
        while read < size {
            read += s.read(&mut input, None).unwrap();
        }
        assert_eq!(read, size);
        assert_eq!(peer.join().unwrap(), size);
    }

    #[test]
    fn try_write_never_waits_and_idle_check_sees_the_peer() {
        let (s, mut peer) = pair();
        s.check_idle().unwrap();
        // Fill the socket: try_write stops with WouldBlock instead of waiting.
        let chunk = vec![0u8; 64 << 10];
        let e = loop {
            match s.try_write(&chunk) {
                Ok(_) => {}
                Err(e) => break e,
            }
        };
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        // Still blocking mode for everything else.
        match &s.io {
            Io::Unix(u) => {
                let mut one = [0u8; 1];
                u.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
                assert_eq!(
                    (&*u).read(&mut one).unwrap_err().kind(),
                    io::ErrorKind::WouldBlock
                );
                u.set_read_timeout(None).unwrap();
            }
            Io::Tcp(_) => unreachable!(),
        }
        peer.write_all(b"N").unwrap();
        assert_eq!(
            s.check_idle().unwrap_err().kind(),
            io::ErrorKind::ConnectionAborted
        );
        let (s, peer) = pair();
        drop(peer);
        assert!(s.check_idle().is_err(), "a closed peer is noticed");
    }

    #[test]
    fn connect_deadline_and_refusal() {
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let socket = || {
            socket2::Socket::new(
                socket2::Domain::IPV4,
                socket2::Type::STREAM,
                Some(socket2::Protocol::TCP),
            )
            .unwrap()
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let e = connect_tcp(socket(), closed, Some(deadline)).unwrap_err();
        assert_eq!(e.to_string(), "Connection refused");
        let e = connect_tcp(socket(), closed, Some(Instant::now())).unwrap_err();
        assert!(
            matches!(&e, OpenError::Connect(e) if e.kind() == io::ErrorKind::TimedOut),
            "{e:?}"
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let s = connect_tcp(socket(), addr, Some(deadline)).unwrap();
        match &s.io {
            Io::Tcp(t) => assert!(t.nodelay().unwrap()),
            #[cfg(unix)]
            Io::Unix(_) => unreachable!(),
        }
        assert_eq!(s.peer(), Some(Peer::Tcp(addr)));
        let e = resolve("nohost.invalid", 5432).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("failed to lookup address information: "),
            "{e}"
        );
        assert_eq!(
            resolve("127.0.0.1", 7).unwrap(),
            vec!["127.0.0.1:7".parse::<SocketAddr>().unwrap()]
        );
    }
}
