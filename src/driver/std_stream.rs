//! A connected std socket in non-blocking mode: what the blocking driver waits on with
//! `poll(2)`, and what a parked tokio socket is while it is out of its runtime.

use std::io::{self, Read, Write};
use std::net::TcpStream;
#[cfg(unix)]
use std::os::fd::{AsFd, BorrowedFd};
#[cfg(unix)]
use std::os::unix::net::UnixStream;

use super::{spoke_while_idle, Peer};

/// A TCP or Unix-domain std stream; every read and write returns at once
/// ([`io::ErrorKind::WouldBlock`] when it would wait).
#[derive(Debug)]
pub(crate) enum StdStream {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
}

// An async-only build uses what a parked tokio socket needs (read, write, check_idle).
#[cfg_attr(
    not(feature = "blocking"),
    allow(dead_code, reason = "the rest is the blocking driver's")
)]
impl StdStream {
    /// `stream`, switched to non-blocking mode.
    #[cfg(unix)]
    pub(crate) fn unix(stream: UnixStream) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        Ok(Self::Unix(stream))
    }

    /// One `read(2)`, retried when a signal interrupts it.
    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        retrying(|| match self {
            Self::Tcp(s) => (&*s).read(buf),
            #[cfg(unix)]
            Self::Unix(s) => (&*s).read(buf),
        })
    }

    /// One write, retried when a signal interrupts it: as much of `buf` as the socket takes
    /// now. (std sends with `MSG_NOSIGNAL` on Linux, TCP and Unix-domain alike: a closed
    /// peer is `EPIPE`, never a SIGPIPE, even in a host program that does not ignore it.)
    pub(crate) fn write(&self, buf: &[u8]) -> io::Result<usize> {
        retrying(|| match self {
            Self::Tcp(s) => (&*s).write(buf),
            #[cfg(unix)]
            Self::Unix(s) => (&*s).write(buf),
        })
    }

    /// Ok if the peer has sent nothing and not closed the socket (one read that does not
    /// wait); [`spoke_while_idle`] if it did.
    pub(crate) fn check_idle(&self) -> io::Result<()> {
        let mut probe = [0u8; 1];
        match self.read(&mut probe) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(e),
            Ok(_) => Err(spoke_while_idle()),
        }
    }

    /// The peer's address, if the socket still knows it.
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

    /// The descriptor, to wait on.
    #[cfg(unix)]
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Self::Tcp(s) => s.as_fd(),
            Self::Unix(s) => s.as_fd(),
        }
    }
}

/// `op` again for as long as a signal interrupts it.
fn retrying<T>(mut op: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}
