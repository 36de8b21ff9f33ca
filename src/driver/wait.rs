//! Waiting for a socket to be readable or writable: `poll(2)`, a system call the blocking
//! driver needs that std does not offer.
//!
//! One call into the C library, on a `pollfd` that lives on this function's stack; the
//! library's other `unsafe` makes new sockets ([`super::socket`]). Once connected, the
//! driver uses std's safe socket API on sockets in non-blocking mode, as libpq's are
//! (`pqWait` → `poll`, then `recv`).
//!
//! Why not the socket timeouts that std does offer: a thread asleep in `read(2)` is woken
//! by the kernel differently from one asleep in `poll(2)`. With client and server on one
//! core, the floor client of `../shared/bench` took 13.9 µs per `SELECT 1` blocking in
//! `read` and 11.5 µs with a `poll` before each `read` (libpq: 12.0); see
//! `benches/RESULTS.md`. A timeout also cost a `setsockopt` each time it changed, and
//! waiting for "either readable or writable" (COPY FROM STDIN) took two timed calls in
//! turn.
#![allow(
    unsafe_code,
    reason = "poll(2) has no safe wrapper in std or in the crates already in the tree"
)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Instant;

use super::Remaining;

/// What to wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interest {
    /// Something to read (or the peer's EOF, or an error).
    Read,
    /// Room to write (or an error).
    Write,
    /// Either.
    ReadOrWrite,
}

/// What a socket was found ready for. An error or hang-up on the socket makes it ready for
/// both: the next read or write reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ready {
    /// A read will not wait.
    pub(crate) read: bool,
    /// A write will not wait.
    pub(crate) write: bool,
}

/// Waits until `fd` is ready for `interest`, or until `deadline` has passed: then `None`.
/// A deadline already passed still looks once, without waiting, so that what has arrived
/// is taken. A signal's interruption waits again.
pub(crate) fn wait(
    fd: BorrowedFd<'_>,
    interest: Interest,
    deadline: Option<Instant>,
) -> io::Result<Option<Ready>> {
    let events = match interest {
        Interest::Read => libc::POLLIN,
        Interest::Write => libc::POLLOUT,
        Interest::ReadOrWrite => libc::POLLIN | libc::POLLOUT,
    };
    loop {
        let (timeout, last) = match Remaining::until(deadline) {
            Remaining::Forever => (-1, false),
            Remaining::Left(left) => (millis_up(left), false),
            Remaining::Expired => (0, true),
        };
        let mut entry = libc::pollfd {
            fd: fd.as_raw_fd(),
            events,
            revents: 0,
        };
        // SAFETY: `entry` is one valid, initialised `pollfd` that this call borrows
        // exclusively and that outlives it (nfds = 1 matches); `poll` keeps no pointer to
        // it. The descriptor is open for the whole call: `fd` borrows it.
        let n = unsafe { libc::poll(&mut entry, 1, timeout) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n > 0 {
            let failed = entry.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0;
            return Ok(Some(Ready {
                read: failed || entry.revents & libc::POLLIN != 0,
                write: failed || entry.revents & libc::POLLOUT != 0,
            }));
        }
        if last {
            return Ok(None);
        }
        // Timed out: the deadline has passed (the timeout is rounded up), or the clock
        // says it is still ahead; either way the next turn decides.
    }
}

/// `left` in whole milliseconds for `poll`, rounded up (so that a wait never ends before
/// its deadline) and capped at what a C `int` holds.
fn millis_up(left: std::time::Duration) -> libc::c_int {
    let millis = left.as_nanos().div_ceil(1_000_000);
    libc::c_int::try_from(millis).unwrap_or(libc::c_int::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    #[test]
    fn readable_writable_and_deadlines() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let soon = || Some(Instant::now() + Duration::from_millis(20));
        // Nothing to read: the deadline ends the wait, not before it.
        let start = Instant::now();
        assert_eq!(wait(a.as_fd(), Interest::Read, soon()).unwrap(), None);
        assert!(start.elapsed() >= Duration::from_millis(20));
        // Passed already: one look, no wait.
        assert_eq!(
            wait(a.as_fd(), Interest::Read, Some(Instant::now())).unwrap(),
            None
        );
        // Room to write at once.
        let ready = wait(a.as_fd(), Interest::ReadOrWrite, None).unwrap();
        assert_eq!(
            ready,
            Some(Ready {
                read: false,
                write: true
            })
        );
        // Data waiting: readable, even past the deadline.
        b.write_all(b"x").unwrap();
        let ready = wait(a.as_fd(), Interest::Read, Some(Instant::now())).unwrap();
        assert_eq!(
            ready,
            Some(Ready {
                read: true,
                write: false
            })
        );
        // A closed peer: ready for both, so that the next call sees it.
        drop(b);
        let (a2, b2) = UnixStream::pair().unwrap();
        drop(b2);
        let ready = wait(a2.as_fd(), Interest::Write, None).unwrap().unwrap();
        assert!(ready.read && ready.write, "{ready:?}");
        drop(a);
    }

    #[test]
    fn timeouts_round_up_and_saturate() {
        assert_eq!(millis_up(Duration::ZERO), 0);
        assert_eq!(millis_up(Duration::from_nanos(1)), 1);
        assert_eq!(millis_up(Duration::from_micros(1000)), 1);
        assert_eq!(millis_up(Duration::from_micros(1001)), 2);
        assert_eq!(millis_up(Duration::from_secs(u64::MAX)), libc::c_int::MAX);
    }
}
