//! New sockets, made with the system calls libpq makes: `socket(2)`, the TCP options of
//! `PQconnectPoll` with `setsockopt(2)`, a `connect(2)` that returns at once, and
//! `SO_ERROR` after it. Both drivers open their sockets here; once connected, a socket is
//! a std stream (or a tokio one made from it) and nothing here is used again.
//!
//! Why not `socket2`: std and tokio cannot set `TCP_KEEPIDLE`, `TCP_KEEPINTVL`,
//! `TCP_KEEPCNT` or `TCP_USER_TIMEOUT`, nor connect a socket that has options set already.
//! `socket2` can, but the blocking build would carry one more crate for six integer
//! options and a connect, over the C library that `poll(2)` needs anyway
//! ([`super::wait`]). Here each option is set once, in libpq's order (`socket2`'s
//! keepalive setter sets `SO_KEEPALIVE` and every option given before it again on each
//! call), and a TCP socket is non-blocking from `socket(2)` on (`SOCK_NONBLOCK`: no
//! `fcntl(2)` pair per connection). The tests read every option back through `socket2`,
//! which stays a test dependency.
//!
//! Written for Linux (and Android, the same C library interface): the option names and
//! `SOCK_NONBLOCK` / `SOCK_CLOEXEC` at `socket(2)` are Linux's, as `TCP_USER_TIMEOUT`
//! already was through `socket2`.
#![allow(
    unsafe_code,
    reason = "socket(2), setsockopt(2), getsockopt(2) and connect(2) on a socket this module owns: std has no safe form of them for a socket not yet connected"
)]

#[cfg(not(any(target_os = "linux", target_os = "android")))]
compile_error!("pgcluster's sockets are written for Linux's socket options (src/driver/socket.rs)");

use std::io;
use std::mem;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
#[cfg(feature = "blocking")]
use std::os::unix::{ffi::OsStrExt, net::UnixStream};
#[cfg(feature = "blocking")]
use std::path::Path;

use libc::{c_int, socklen_t};

/// An integer option libpq sets on a TCP socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TcpOption {
    /// `TCP_NODELAY`: send each message at once.
    NoDelay,
    /// `SO_KEEPALIVE`: probe an idle connection.
    KeepAlive,
    /// `TCP_KEEPIDLE`: seconds idle before the first probe.
    KeepIdle,
    /// `TCP_KEEPINTVL`: seconds between probes.
    KeepInterval,
    /// `TCP_KEEPCNT`: probes unanswered before the connection is dropped.
    KeepCount,
    /// `TCP_USER_TIMEOUT`: milliseconds sent data may stay unacknowledged.
    UserTimeout,
}

impl TcpOption {
    /// `setsockopt`'s level and name for this option, and its C name.
    fn spec(self) -> (c_int, c_int, &'static str) {
        match self {
            Self::NoDelay => (libc::IPPROTO_TCP, libc::TCP_NODELAY, "TCP_NODELAY"),
            Self::KeepAlive => (libc::SOL_SOCKET, libc::SO_KEEPALIVE, "SO_KEEPALIVE"),
            Self::KeepIdle => (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, "TCP_KEEPIDLE"),
            Self::KeepInterval => (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, "TCP_KEEPINTVL"),
            Self::KeepCount => (libc::IPPROTO_TCP, libc::TCP_KEEPCNT, "TCP_KEEPCNT"),
            Self::UserTimeout => (
                libc::IPPROTO_TCP,
                libc::TCP_USER_TIMEOUT,
                "TCP_USER_TIMEOUT",
            ),
        }
    }

    /// The option's C name, as libpq's `setsockopt(%s) failed` shows it.
    pub(crate) fn name(self) -> &'static str {
        self.spec().2
    }
}

/// A socket just made, not connected yet. Closed when dropped.
#[derive(Debug)]
pub(crate) struct NewSocket(OwnedFd);

impl NewSocket {
    /// A TCP socket for `addr`'s family: non-blocking, closed on `exec`.
    pub(crate) fn tcp(addr: &SocketAddr) -> io::Result<Self> {
        let domain = match addr {
            SocketAddr::V4(_) => libc::AF_INET,
            SocketAddr::V6(_) => libc::AF_INET6,
        };
        let kind = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
        Self::new(domain, kind, libc::IPPROTO_TCP)
    }

    /// A Unix-domain stream socket: non-blocking (a `connect(2)` to a listener whose
    /// backlog is full fails at once with `EAGAIN`), closed on `exec`.
    #[cfg(feature = "blocking")]
    pub(crate) fn unix() -> io::Result<Self> {
        let kind = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
        Self::new(libc::AF_UNIX, kind, 0)
    }

    /// A Unix-domain stream socket in blocking mode (a `connect(2)` to a listener whose
    /// backlog is full waits for room), closed on `exec`.
    #[cfg(feature = "blocking")]
    pub(crate) fn unix_blocking() -> io::Result<Self> {
        Self::new(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0)
    }

    fn new(domain: c_int, kind: c_int, protocol: c_int) -> io::Result<Self> {
        // SAFETY: socket(2) takes no pointer and touches no memory of ours.
        let fd = unsafe { libc::socket(domain, kind, protocol) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by socket(2): an open descriptor that nothing else
        // owns or will close.
        Ok(Self(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Sets `option` to `value`.
    pub(crate) fn set(&self, option: TcpOption, value: u32) -> io::Result<()> {
        let value = c_int::try_from(value).map_err(|_| io::ErrorKind::InvalidInput)?;
        let (level, name, _) = option.spec();
        // SAFETY: the value pointer and length describe `value`, a live `c_int` that
        // setsockopt(2) only reads during the call; the descriptor is ours and open.
        let done = unsafe {
            libc::setsockopt(
                self.0.as_raw_fd(),
                level,
                name,
                std::ptr::from_ref(&value).cast(),
                len_of::<c_int>(),
            )
        };
        check(done)
    }
}

impl AsFd for NewSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl From<NewSocket> for TcpStream {
    fn from(socket: NewSocket) -> Self {
        Self::from(socket.0)
    }
}

#[cfg(feature = "blocking")]
impl From<NewSocket> for UnixStream {
    fn from(socket: NewSocket) -> Self {
        Self::from(socket.0)
    }
}

/// Starts connecting `fd` (a socket not connected yet) to `addr`. On a non-blocking socket
/// the usual answer is an error whose `raw_os_error()` is `EINPROGRESS`: wait until the
/// socket is writable, then see [`take_error`].
#[cfg(feature = "blocking")]
pub(crate) fn connect(fd: BorrowedFd<'_>, addr: &Address) -> io::Result<()> {
    let (ptr, len) = addr.as_raw();
    // SAFETY: `ptr` and `len` describe a live, initialised socket address owned by `addr`,
    // which outlives the call; connect(2) only reads it. The descriptor is open for the
    // call (`fd` borrows it).
    check(unsafe { libc::connect(fd.as_raw_fd(), ptr, len) })
}

/// The socket's pending error (`SO_ERROR`), which reading clears: how a non-blocking
/// `connect(2)` ended once the socket is writable. `None` if it succeeded.
#[cfg(feature = "blocking")]
pub(crate) fn take_error(fd: BorrowedFd<'_>) -> io::Result<Option<io::Error>> {
    let mut value: c_int = 0;
    let mut len = len_of::<c_int>();
    // SAFETY: the value pointer and `len` describe `value`, a live `c_int` that
    // getsockopt(2) may write during the call, and `len` is a live `socklen_t` it updates;
    // the descriptor is open for the call (`fd` borrows it).
    let done = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            std::ptr::from_mut(&mut value).cast(),
            &mut len,
        )
    };
    check(done)?;
    Ok((value != 0).then(|| io::Error::from_raw_os_error(value)))
}

/// A socket address as `connect(2)` takes it.
#[cfg(feature = "blocking")]
pub(crate) enum Address {
    V4(libc::sockaddr_in),
    V6(libc::sockaddr_in6),
    Unix(libc::sockaddr_un),
}

#[cfg(feature = "blocking")]
impl Address {
    /// The address of a Unix-domain socket at `path`. [`io::ErrorKind::InvalidInput`] if
    /// the path holds a NUL byte or does not fit `sun_path` with its terminating NUL.
    pub(crate) fn unix(path: &Path) -> io::Result<Self> {
        let bytes = path.as_os_str().as_bytes();
        let mut addr = libc::sockaddr_un {
            sun_family: family(libc::AF_UNIX),
            sun_path: [0; 108],
        };
        if bytes.contains(&0) || bytes.len() >= addr.sun_path.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a Unix-domain socket path must be shorter than 108 bytes and hold no NUL",
            ));
        }
        for (to, &from) in addr.sun_path.iter_mut().zip(bytes) {
            *to = libc::c_char::from_ne_bytes([from]);
        }
        Ok(Self::Unix(addr))
    }

    /// The pointer and length `connect(2)` takes.
    fn as_raw(&self) -> (*const libc::sockaddr, socklen_t) {
        match self {
            Self::V4(a) => (std::ptr::from_ref(a).cast(), len_of::<libc::sockaddr_in>()),
            Self::V6(a) => (std::ptr::from_ref(a).cast(), len_of::<libc::sockaddr_in6>()),
            Self::Unix(a) => (std::ptr::from_ref(a).cast(), len_of::<libc::sockaddr_un>()),
        }
    }
}

#[cfg(feature = "blocking")]
impl From<SocketAddr> for Address {
    fn from(addr: SocketAddr) -> Self {
        match addr {
            SocketAddr::V4(a) => Self::V4(libc::sockaddr_in {
                sin_family: family(libc::AF_INET),
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            }),
            SocketAddr::V6(a) => Self::V6(libc::sockaddr_in6 {
                sin6_family: family(libc::AF_INET6),
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            }),
        }
    }
}

/// `AF_*` as a socket address's family field.
#[cfg(feature = "blocking")]
fn family(af: c_int) -> libc::sa_family_t {
    // The AF_* constants are small (under 64): they fit the 16-bit field.
    libc::sa_family_t::try_from(af).unwrap_or(libc::sa_family_t::MAX)
}

/// The size of `T` as a `socklen_t` (socket addresses and option values are a few bytes).
fn len_of<T>() -> socklen_t {
    socklen_t::try_from(mem::size_of::<T>()).unwrap_or(socklen_t::MAX)
}

/// A system call's `0` or `-1` (with `errno`) as a `Result`.
fn check(done: c_int) -> io::Result<()> {
    if done < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use socket2::SockRef;
    use std::time::Duration;

    /// Whether `FD_CLOEXEC` is set on the socket.
    fn closed_on_exec(socket: &NewSocket) -> bool {
        // SAFETY: fcntl(2) with F_GETFD takes no pointer; the descriptor is open.
        let flags = unsafe { libc::fcntl(socket.as_fd().as_raw_fd(), libc::F_GETFD) };
        assert!(flags >= 0, "{}", io::Error::last_os_error());
        flags & libc::FD_CLOEXEC != 0
    }

    #[test]
    fn tcp_sockets_are_non_blocking_and_close_on_exec() {
        for addr in ["127.0.0.1:5432", "[::1]:5432"] {
            let addr: SocketAddr = addr.parse().unwrap();
            let socket = match NewSocket::tcp(&addr) {
                // A kernel without IPv6 has no such socket to make.
                Err(e) if addr.is_ipv6() && e.raw_os_error() == Some(libc::EAFNOSUPPORT) => {
                    continue
                }
                other => other.unwrap(),
            };
            let sock = SockRef::from(&socket);
            assert!(sock.nonblocking().unwrap());
            assert!(closed_on_exec(&socket));
            assert_eq!(sock.domain().unwrap(), socket2::Domain::for_address(addr));
            assert_eq!(sock.protocol().unwrap(), Some(socket2::Protocol::TCP));
        }
        #[cfg(feature = "blocking")]
        for (socket, nonblocking) in [
            (NewSocket::unix().unwrap(), true),
            (NewSocket::unix_blocking().unwrap(), false),
        ] {
            let sock = SockRef::from(&socket);
            assert_eq!(sock.nonblocking().unwrap(), nonblocking);
            assert!(closed_on_exec(&socket));
            assert_eq!(sock.domain().unwrap(), socket2::Domain::UNIX);
        }
    }

    #[test]
    fn options_set_and_refused() {
        // Each option read back is in `super::tests` (through `Kind::tcp_socket`).
        let socket = NewSocket::tcp(&"127.0.0.1:5432".parse().unwrap()).unwrap();
        socket.set(TcpOption::UserTimeout, 2500).unwrap();
        assert_eq!(
            SockRef::from(&socket).tcp_user_timeout().unwrap(),
            Some(Duration::from_millis(2500))
        );
        // The kernel's refusal comes back as its errno; a value past a C int is refused
        // before the call.
        let e = socket.set(TcpOption::KeepIdle, 0).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        let e = socket.set(TcpOption::KeepCount, u32::MAX).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(TcpOption::KeepInterval.name(), "TCP_KEEPINTVL");
    }

    #[cfg(feature = "blocking")]
    #[test]
    fn connect_refused_accepted_and_unix() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let socket = NewSocket::tcp(&addr).unwrap();
        match connect(socket.as_fd(), &addr.into()) {
            Ok(()) => {}
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EINPROGRESS), "{e}"),
        }
        let (_accepted, from) = listener.accept().unwrap();
        let stream = TcpStream::from(socket);
        // Connected by now (the listener accepted it): no pending error.
        assert!(take_error(stream.as_fd()).unwrap().is_none());
        assert_eq!(stream.peer_addr().unwrap(), addr);
        assert_eq!(stream.local_addr().unwrap(), from);

        // Nothing listens on a port just freed: refused, once the connect has ended. A
        // blocking socket waits for that end inside connect(2). Should another process
        // take the port in between, try another one.
        drop(listener);
        let refused = (0..10).find_map(|_| {
            let closed = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap();
            let blocking = TcpStream::from(NewSocket::tcp(&closed).unwrap());
            blocking.set_nonblocking(false).unwrap();
            connect(blocking.as_fd(), &closed.into()).err()
        });
        let e = refused.expect("ten freed ports in a row were taken by another process");
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");

        let dir = std::env::temp_dir().join(format!("pgcluster-socket-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("s");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let socket = NewSocket::unix().unwrap();
        connect(socket.as_fd(), &Address::unix(&path).unwrap()).unwrap();
        let stream = UnixStream::from(socket);
        let peer = stream.peer_addr().unwrap();
        assert_eq!(peer.as_pathname(), Some(path.as_path()));
        drop(listener);
        let missing = NewSocket::unix().unwrap();
        let e = connect(
            missing.as_fd(),
            &Address::unix(&dir.join("missing")).unwrap(),
        )
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(feature = "blocking")]
    #[test]
    fn addresses() {
        let long = Path::new("/").join("x".repeat(107));
        assert_eq!(
            Address::unix(&long).err().map(|e| e.kind()),
            Some(io::ErrorKind::InvalidInput)
        );
        let fits = Path::new("/").join("x".repeat(106));
        assert!(Address::unix(&fits).is_ok());
        assert!(Address::unix(Path::new("/tmp/a\0b")).is_err());
        let Address::V4(v4) = Address::from("10.1.2.3:5433".parse::<SocketAddr>().unwrap()) else {
            panic!("not IPv4");
        };
        assert_eq!(v4.sin_port, 5433u16.to_be());
        assert_eq!(v4.sin_addr.s_addr.to_ne_bytes(), [10, 1, 2, 3]);
        let Address::V6(v6) = Address::from("[fe80::1%3]:5433".parse::<SocketAddr>().unwrap())
        else {
            panic!("not IPv6");
        };
        assert_eq!(v6.sin6_scope_id, 3);
        assert_eq!(v6.sin6_addr.s6_addr[0], 0xfe);
        assert_eq!(v6.sin6_addr.s6_addr[15], 1);
    }
}
