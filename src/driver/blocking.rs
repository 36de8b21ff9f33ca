//! The blocking driver: `std::net` and `std::os::unix::net` sockets, waited on with
//! `poll(2)` ([`super::wait`]).
//!
//! Every operation returns when done, so a future over this driver is ready on its first
//! poll. The sockets are in non-blocking mode, as libpq's are: a read or write that would
//! wait returns, and the driver waits in `poll` with the time left to the deadline. No
//! poller thread, no runtime, no socket timeouts.

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Instant;

use super::socket::{connect, take_error, Address, NewSocket};
use super::std_stream::StdStream;
use super::wait::{wait, Interest, Ready};
use super::{timed_out, FullBacklog, OpenError, Peer, Progress, Remaining};

/// `getaddrinfo` through std.
pub(crate) fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    (host, port).to_socket_addrs().map(Iterator::collect)
}

/// Connects `socket` (in non-blocking mode, [`super::Kind::tcp_socket`]) to `addr` within
/// `deadline`.
pub(crate) fn connect_tcp(
    socket: NewSocket,
    addr: SocketAddr,
    deadline: Option<Instant>,
) -> Result<Socket, OpenError> {
    connect_within(&socket, &addr.into(), deadline).map_err(OpenError::Connect)?;
    Ok(Socket::new(StdStream::Tcp(TcpStream::from(socket))))
}

/// Connects `socket`, in non-blocking mode, to `address` within `deadline`, as libpq's
/// `PQconnectPoll` does: `connect(2)`; if that is in progress, a wait until the socket is
/// writable, then its `SO_ERROR`.
fn connect_within(
    socket: &NewSocket,
    address: &Address,
    deadline: Option<Instant>,
) -> io::Result<()> {
    if Remaining::until(deadline) == Remaining::Expired {
        return Err(timed_out());
    }
    match connect(socket.as_fd(), address) {
        Ok(()) => Ok(()),
        // In progress; or interrupted by a signal, after which it goes on the same way.
        Err(e)
            if e.raw_os_error() == Some(libc::EINPROGRESS)
                || e.kind() == io::ErrorKind::Interrupted =>
        {
            if wait(socket.as_fd(), Interest::Write, deadline)?.is_none() {
                return Err(timed_out());
            }
            take_error(socket.as_fd())?.map_or(Ok(()), Err)
        }
        Err(e) => Err(e),
    }
}

/// Connects to the Unix-domain socket at `path` within `deadline`. A listener whose
/// backlog is full fails the connect at once with `EAGAIN` ([`FullBacklog::Fail`], a
/// non-blocking socket, as libpq's connection has), or makes it wait for room
/// ([`FullBacklog::Wait`], a blocking `connect(2)` bounded by the send timeout, as libpq's
/// `PQcancel` blocks).
pub(crate) fn open_unix(
    path: &Path,
    deadline: Option<Instant>,
    full: FullBacklog,
) -> io::Result<Socket> {
    let address = Address::unix(path)?;
    let stream = match full {
        FullBacklog::Fail => {
            let socket = NewSocket::unix()?;
            connect_within(&socket, &address, deadline)?;
            UnixStream::from(socket)
        }
        FullBacklog::Wait => {
            let timeout = match Remaining::until(deadline) {
                Remaining::Forever => None,
                Remaining::Left(left) => Some(left),
                Remaining::Expired => return Err(timed_out()),
            };
            let stream = UnixStream::from(NewSocket::unix_blocking()?);
            // Linux bounds a Unix-domain connect() by the send timeout. (It is left set: a
            // non-blocking socket's writes never wait for it.)
            if timeout.is_some() {
                stream.set_write_timeout(timeout)?;
            }
            match connect(stream.as_fd(), &address) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(timed_out()),
                other => other?,
            }
            stream.set_nonblocking(true)?;
            stream
        }
    };
    Ok(Socket::new(StdStream::Unix(stream)))
}

/// A connected std socket in non-blocking mode.
#[derive(Debug)]
pub(crate) struct Socket {
    io: StdStream,
    /// The last read filled its buffer, so more is likely waiting: the next read tries
    /// before it waits. (Otherwise it waits first, as libpq does after sending a query:
    /// the reply is not there yet.)
    more: bool,
}

impl Socket {
    fn new(io: StdStream) -> Self {
        Self { io, more: false }
    }

    /// A socket of this driver over a connected std Unix stream (switched to
    /// non-blocking mode).
    #[allow(dead_code, reason = "tests and callers holding a std stream already")]
    pub(crate) fn from_unix(stream: UnixStream) -> io::Result<Self> {
        StdStream::unix(stream).map(Self::new)
    }

    /// Waits for `interest` until `deadline`; [`timed_out`] when it passes first.
    fn wait(&self, interest: Interest, deadline: Option<Instant>) -> io::Result<Ready> {
        wait(self.io.fd(), interest, deadline)?.ok_or_else(timed_out)
    }

    /// One read that does not wait: `None` when nothing has arrived. Notes whether it
    /// filled `buf` ([`Socket::more`]).
    fn read_now(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self.io.read(buf) {
            Ok(n) => {
                self.more = n > 0 && n == buf.len();
                Ok(Some(n))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.more = false;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// See [`super::Socket::read`].
    pub(crate) fn read(&mut self, buf: &mut [u8], deadline: Option<Instant>) -> io::Result<usize> {
        loop {
            if !self.more {
                self.wait(Interest::Read, deadline)?;
            }
            if let Some(n) = self.read_now(buf)? {
                return Ok(n);
            }
        }
    }

    /// See [`super::Socket::write_all`].
    pub(crate) fn write_all(&mut self, buf: &[u8], deadline: Option<Instant>) -> io::Result<()> {
        let mut rest = buf;
        while !rest.is_empty() {
            if Remaining::until(deadline) == Remaining::Expired {
                return Err(timed_out());
            }
            match self.io.write(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => rest = rest.get(n..).unwrap_or_default(),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.wait(Interest::Write, deadline)?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// See [`super::Socket::write_or_read`]: a write; when the socket takes nothing, a
    /// wait for room to write or (with `input`) something to read, whichever comes first.
    pub(crate) fn write_or_read(
        &mut self,
        out: &[u8],
        mut input: Option<&mut [u8]>,
    ) -> io::Result<Progress> {
        loop {
            match self.io.write(out) {
                Ok(0) if !out.is_empty() => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => return Ok(Progress::Wrote(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            let Some(input) = input.as_deref_mut() else {
                self.wait(Interest::Write, None)?;
                continue;
            };
            if self.wait(Interest::ReadOrWrite, None)?.read {
                if let Some(n) = self.read_now(input)? {
                    return Ok(Progress::Read(n));
                }
            }
        }
    }

    /// See [`super::Socket::try_write`].
    pub(crate) fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.write(buf)
    }

    /// Whether this is a TCP socket.
    #[cfg(feature = "tls")]
    pub(crate) fn is_tcp(&self) -> bool {
        matches!(self.io, StdStream::Tcp(_))
    }

    /// See [`super::Socket::peer`].
    pub(crate) fn peer(&self) -> Option<Peer> {
        self.io.peer()
    }

    /// Ok if the peer has sent nothing and not closed the socket (one read that does not
    /// wait).
    pub(crate) fn check_idle(&self) -> io::Result<()> {
        self.io.check_idle()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    /// A plain read of the Unix socket, with nothing sent, returns at once.
    fn assert_non_blocking(s: &Socket) {
        let StdStream::Unix(u) = &s.io else {
            panic!("not a Unix-domain socket");
        };
        let mut one = [0u8; 1];
        assert_eq!(
            (&*u).read(&mut one).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    }

    fn pair() -> (Socket, UnixStream) {
        let (a, b) = UnixStream::pair().unwrap();
        (Socket::from_unix(a).unwrap(), b)
    }

    #[test]
    fn a_read_that_filled_its_buffer_reads_again_before_it_waits() {
        let (mut s, mut peer) = pair();
        peer.write_all(b"0123456789").unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(s.read(&mut buf, None).unwrap(), 4);
        assert!(s.more, "a full buffer: more is likely there");
        assert_eq!(s.read(&mut buf, None).unwrap(), 4);
        assert_eq!(s.read(&mut buf, None).unwrap(), 2);
        assert_eq!(&buf[..2], b"89");
        assert!(!s.more, "a short read: the next one waits first");
        // A full buffer with nothing behind it: the read that tries first finds nothing,
        // then waits, and a deadline still ends the wait.
        peer.write_all(b"abcd").unwrap();
        assert_eq!(s.read(&mut buf, None).unwrap(), 4);
        assert!(s.more);
        let deadline = Instant::now() + Duration::from_millis(20);
        let e = s.read(&mut buf, Some(deadline)).unwrap_err();
        assert!(super::super::is_deadline(&e), "{e:?}");
        assert!(!s.more);
        // Without a deadline, the wait lasts until the peer speaks.
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            peer.write_all(b"late").unwrap();
            peer
        });
        assert_eq!(s.read(&mut buf, None).unwrap(), 4);
        assert_eq!(&buf, b"late");
        drop(writer.join().unwrap());
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
    fn write_or_read_without_input_waits_for_room() {
        let (mut s, mut peer) = pair();
        let chunk = vec![0u8; 64 << 10];
        while s.try_write(&chunk).is_ok() {}
        while s.try_write(b"m").is_ok() {}
        // Full: the write waits until the peer has read some.
        let reader = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let mut buf = vec![0u8; 256 << 10];
            let n = peer.read(&mut buf).unwrap();
            assert!(n > 0);
            peer
        });
        let start = Instant::now();
        match s.write_or_read(b"more", None).unwrap() {
            Progress::Wrote(n) => assert!(n > 0),
            other => panic!("{other:?}"),
        }
        assert!(start.elapsed() >= Duration::from_millis(15));
        drop(reader.join().unwrap());
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
        // The socket itself is non-blocking: a plain read returns at once.
        assert_non_blocking(&s);
        peer.write_all(b"N").unwrap();
        assert_eq!(
            s.check_idle().unwrap_err().kind(),
            io::ErrorKind::ConnectionAborted
        );
        let (s, peer) = pair();
        drop(peer);
        assert!(s.check_idle().is_err(), "a closed peer is noticed");
    }

    /// A listener with `listen(0)` and its one queue place taken: full.
    fn full_listener(dir: &Path) -> (socket2::Socket, Vec<socket2::Socket>, std::path::PathBuf) {
        let path = dir.join("s");
        let address = socket2::SockAddr::unix(&path).unwrap();
        let unix = || socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None);
        let listener = unix().unwrap();
        listener.bind(&address).unwrap();
        listener.listen(0).unwrap();
        let mut queued = Vec::new();
        loop {
            let s = unix().unwrap();
            s.set_nonblocking(true).unwrap();
            match s.connect(&address) {
                Ok(()) => queued.push(s),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
            assert!(queued.len() < 1000, "the backlog never filled");
        }
        (listener, queued, path)
    }

    #[test]
    fn a_full_backlog_fails_at_once_or_is_waited_out() {
        let dir = std::env::temp_dir().join(format!("pgcluster-backlog-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let (listener, queued, path) = full_listener(&dir);
        // A connection's socket: EAGAIN at once, deadline or not.
        for deadline in [None, Some(Instant::now() + Duration::from_secs(30))] {
            let e = open_unix(&path, deadline, FullBacklog::Fail).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "{e}");
        }
        // A cancel's socket waits for room: until the deadline...
        let deadline = Instant::now() + Duration::from_millis(50);
        let e = open_unix(&path, Some(deadline), FullBacklog::Wait).unwrap_err();
        assert!(super::super::is_deadline(&e), "{e:?}");
        assert!(Instant::now() >= deadline);
        // ... or until the listener takes a connection off its queue, then it connects
        // and its socket is non-blocking like every other of this driver.
        let taker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            let taken = listener.accept().unwrap();
            (listener, taken)
        });
        let s = open_unix(&path, None, FullBacklog::Wait).unwrap();
        assert_non_blocking(&s);
        drop(taker.join().unwrap());
        drop(queued);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn connect_deadline_and_refusal() {
        let deadline = Instant::now() + Duration::from_secs(30);
        // A port freed a moment ago: refused, unless another process took it in between
        // (then another one is tried).
        let refused = (0..10).find_map(|_| {
            let closed = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap();
            connect_tcp(NewSocket::tcp(&closed).unwrap(), closed, Some(deadline)).err()
        });
        let e = refused.expect("ten freed ports in a row were taken by another process");
        assert_eq!(e.to_string(), "Connection refused");
        // A deadline already passed: no connect is tried.
        let closed: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let socket = || NewSocket::tcp(&closed).unwrap();
        let e = connect_tcp(socket(), closed, Some(Instant::now())).unwrap_err();
        assert!(
            matches!(&e, OpenError::Connect(e) if e.kind() == io::ErrorKind::TimedOut),
            "{e:?}"
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let s = connect_tcp(socket(), addr, Some(deadline)).unwrap();
        assert!(matches!(s.io, StdStream::Tcp(_)));
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
