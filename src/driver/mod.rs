//! The two thin drivers under a connection: sockets, DNS and deadlines, nothing else.
//!
//! The connection and cluster code is written once, as `async fn`s over this seam:
//!
//! - [`Kind`] says which driver a connection uses; it is fixed when the connection is
//!   opened. [`Kind::Blocking`] (feature `blocking`) is `std::net` and
//!   `std::os::unix::net`: every operation waits in `poll(2)` until it is done or its
//!   deadline passes, and never returns `Pending`. [`Kind::Async`] (feature
//!   `async`) is tokio: operations await readiness, and deadlines are tokio timers.
//! - [`Socket`] is a connected socket of either driver.
//! - [`block_on`] runs a future on the calling thread without a runtime. A blocking-API
//!   call is `block_on(the async call)` on a [`Kind::Blocking`] connection: since nothing
//!   in it ever waits for a wake-up, it finishes on its first poll.
//!
//! The blocking API opens only [`Kind::Blocking`] sockets and the async API only
//! [`Kind::Async`] ones, so a socket that blocks its thread is never reachable from the
//! async API (it would block the runtime).

#[cfg(feature = "blocking")]
pub(crate) mod blocking;
mod socket;
mod std_stream;
#[cfg(feature = "async")]
pub(crate) mod tokio;
#[cfg(all(feature = "blocking", unix))]
mod wait;

#[cfg(all(feature = "blocking", not(unix)))]
compile_error!("the blocking driver waits with poll(2): feature `blocking` needs a Unix");

#[cfg(not(any(feature = "blocking", feature = "async")))]
compile_error!("pgcluster needs a driver: enable feature `blocking`, `async`, or both");

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
#[cfg(unix)]
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::conninfo::SocketOptions;
use crate::io_text::strerror;
use socket::{NewSocket, TcpOption};

/// Which driver a connection's sockets belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `std::net`: non-blocking sockets, waited on with `poll(2)`.
    #[cfg(feature = "blocking")]
    Blocking,
    /// tokio: readiness and timers of the current runtime.
    #[cfg(feature = "async")]
    Async,
}

impl Kind {
    /// The addresses of `host` (a name or a numeric address), in `getaddrinfo` order. A
    /// failure is std's error for it (`failed to lookup address information: ...`).
    pub(crate) async fn resolve(self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        match self {
            #[cfg(feature = "blocking")]
            Self::Blocking => blocking::resolve(host, port),
            #[cfg(feature = "async")]
            Self::Async => self::tokio::resolve(host, port).await,
        }
    }

    /// A TCP socket for `addr` (`SOCK_CLOEXEC`, non-blocking) with the options libpq sets
    /// before `connect()`, in its order (`TCP_NODELAY`, then the keepalive ones); not
    /// connected yet ([`TcpSocket::connect`]).
    pub(crate) fn tcp_socket(
        self,
        addr: SocketAddr,
        options: &SocketOptions,
    ) -> Result<TcpSocket, OpenError> {
        let socket = NewSocket::tcp(&addr).map_err(OpenError::Create)?;
        socket
            .set(TcpOption::NoDelay, 1)
            .map_err(OpenError::NoDelay)?;
        apply_socket_options(&socket, options).map_err(OpenError::Option)?;
        Ok(TcpSocket {
            kind: self,
            socket,
            addr,
        })
    }

    /// A TCP connection to `addr` with `options` set: [`Kind::tcp_socket`], then
    /// [`TcpSocket::connect`].
    #[allow(dead_code, reason = "the seam's one-call form, for the connect loop")]
    pub(crate) async fn open_tcp(
        self,
        addr: SocketAddr,
        options: &SocketOptions,
        deadline: Option<Instant>,
    ) -> Result<Socket, OpenError> {
        self.tcp_socket(addr, options)?.connect(deadline).await
    }

    /// A connection to the Unix-domain socket at `path`; [`io::ErrorKind::TimedOut`] if it
    /// is not made by `deadline`. `full` says what a listener whose backlog is full does
    /// to it (the async driver's connect always fails at once: tokio's sockets are
    /// non-blocking).
    #[cfg(unix)]
    pub(crate) async fn open_unix(
        self,
        path: &Path,
        deadline: Option<Instant>,
        full: FullBacklog,
    ) -> io::Result<Socket> {
        match self {
            #[cfg(feature = "blocking")]
            Self::Blocking => blocking::open_unix(path, deadline, full).map(Socket::Blocking),
            #[cfg(feature = "async")]
            Self::Async => {
                // tokio's socket is non-blocking: its connect cannot wait for room.
                let _ = full;
                self::tokio::open_unix(path, deadline)
                    .await
                    .map(Socket::Async)
            }
        }
    }

    /// Waits until `deadline` (at once if it has passed).
    #[allow(
        dead_code,
        reason = "the seam's timer, for the connect loop and resends"
    )]
    pub(crate) async fn sleep_until(self, deadline: Instant) {
        match self {
            #[cfg(feature = "blocking")]
            Self::Blocking => {
                std::thread::sleep(deadline.saturating_duration_since(Instant::now()))
            }
            #[cfg(feature = "async")]
            Self::Async => ::tokio::time::sleep_until(deadline.into()).await,
        }
    }
}

/// What a Unix-domain connect does when the listener's backlog is full.
#[cfg(unix)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FullBacklog {
    /// Fail at once with `EAGAIN` (`Resource temporarily unavailable`), as libpq's
    /// connection does: its socket is non-blocking before `connect(2)`.
    Fail,
    /// Wait for room until the deadline, as libpq's `PQcancel` does: its socket blocks.
    Wait,
}

/// A TCP socket with its options set, not connected yet (see [`Kind::tcp_socket`]).
#[derive(Debug)]
pub(crate) struct TcpSocket {
    kind: Kind,
    socket: NewSocket,
    addr: SocketAddr,
}

impl TcpSocket {
    /// Connects. A connection not made by `deadline` is [`OpenError::Connect`] with
    /// [`io::ErrorKind::TimedOut`].
    pub(crate) async fn connect(self, deadline: Option<Instant>) -> Result<Socket, OpenError> {
        let Self { kind, socket, addr } = self;
        match kind {
            #[cfg(feature = "blocking")]
            Kind::Blocking => blocking::connect_tcp(socket, addr, deadline).map(Socket::Blocking),
            #[cfg(feature = "async")]
            Kind::Async => self::tokio::connect_tcp(socket, addr, deadline)
                .await
                .map(Socket::Async),
        }
    }
}

/// Why a TCP connection could not be opened, by step (libpq words each differently).
#[derive(Debug)]
pub(crate) enum OpenError {
    /// `socket()` failed.
    Create(io::Error),
    /// `TCP_NODELAY` could not be set.
    NoDelay(io::Error),
    /// A keepalive option libpq sets could not be set.
    Option(SocketOptionError),
    /// `connect()` failed, or did not finish by the deadline ([`io::ErrorKind::TimedOut`]).
    Connect(io::Error),
}

impl fmt::Display for OpenError {
    /// libpq's text for each step, without the final newline; a failed `connect()` is
    /// `strerror`'s text alone (libpq wraps it with the host and port).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Create(e) => write!(f, "could not create socket: {}", strerror(e)),
            Self::Option(e) => e.fmt(f),
            Self::Connect(e) => f.write_str(&strerror(e)),
            Self::NoDelay(e) => write!(
                f,
                "could not set socket to TCP no delay mode: {}",
                strerror(e)
            ),
        }
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Create(e) | Self::Connect(e) | Self::NoDelay(e) => Some(e),
            Self::Option(e) => Some(e),
        }
    }
}

/// A TCP option libpq sets could not be set: `setsockopt(%s) failed: %s` (no final
/// newline).
#[derive(Debug)]
pub(crate) struct SocketOptionError {
    /// The option's C name, e.g. `TCP_KEEPIDLE`.
    pub(crate) option: &'static str,
    pub(crate) source: io::Error,
}

impl fmt::Display for SocketOptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "setsockopt({}) failed: {}",
            self.option,
            strerror(&self.source)
        )
    }
}

impl std::error::Error for SocketOptionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Sets the keepalive options libpq sets, in its order; none with `keepalives=0`.
fn apply_socket_options(
    socket: &NewSocket,
    options: &SocketOptions,
) -> Result<(), SocketOptionError> {
    if !options.keepalive {
        return Ok(());
    }
    let settings = [
        (TcpOption::KeepAlive, Some(1)),
        (TcpOption::KeepIdle, options.keepalive_idle),
        (TcpOption::KeepInterval, options.keepalive_interval),
        (TcpOption::KeepCount, options.keepalive_count),
        (TcpOption::UserTimeout, options.tcp_user_timeout),
    ];
    for (option, value) in settings {
        if let Some(value) = value {
            socket
                .set(option, value)
                .map_err(|source| SocketOptionError {
                    option: option.name(),
                    source,
                })?;
        }
    }
    Ok(())
}

/// A connected socket of either driver.
#[derive(Debug)]
pub(crate) enum Socket {
    /// A `std::net` socket ([`Kind::Blocking`]).
    #[cfg(feature = "blocking")]
    Blocking(blocking::Socket),
    /// A tokio socket ([`Kind::Async`]).
    #[cfg(feature = "async")]
    Async(self::tokio::Socket),
}

/// What one [`Socket::write_or_read`] step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Progress {
    /// This many bytes of the output were written (at least one).
    Wrote(usize),
    /// This many bytes were read into the input buffer (0: the peer closed its side).
    Read(usize),
}

/// Where a socket goes: what a CancelRequest connects to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Peer {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix-domain socket's path.
    #[cfg(unix)]
    Unix(PathBuf),
}

impl Socket {
    /// The driver this socket belongs to.
    #[allow(
        dead_code,
        reason = "for the callers that pick a driver by the socket's"
    )]
    pub(crate) fn kind(&self) -> Kind {
        match self {
            #[cfg(feature = "blocking")]
            Self::Blocking(_) => Kind::Blocking,
            #[cfg(feature = "async")]
            Self::Async(_) => Kind::Async,
        }
    }

    /// Whether this is a TCP socket (not a Unix-domain one).
    #[cfg(feature = "tls")]
    pub(crate) fn is_tcp(&self) -> bool {
        match self {
            #[cfg(feature = "blocking")]
            Self::Blocking(s) => s.is_tcp(),
            #[cfg(feature = "async")]
            Self::Async(s) => matches!(s, self::tokio::Socket::Tcp(_)),
        }
    }

    /// Reads at least one byte into `buf` (0 at EOF). [`io::ErrorKind::TimedOut`] once
    /// `deadline` has passed with nothing read; a deadline already passed still takes
    /// what has arrived.
    pub(crate) async fn read(
        &mut self,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> io::Result<usize> {
        match self {
            #[cfg(feature = "blocking")]
            Self::Blocking(s) => s.read(buf, deadline),
            #[cfg(feature = "async")]
            Self::Async(s) => s.read(buf, deadline).await,
        }
    }

    /// Writes all of `buf`; [`io::ErrorKind::TimedOut`] if that is not done by
    /// `deadline` (some of it may have been written).
    pub(crate) async fn write_all(
        &mut self,
        buf: &[u8],
        deadline: Option<Instant>,
    ) -> io::Result<()> {
        match self {
            #[cfg(feature = "blocking")]
            Self::Blocking(s) => s.write_all(buf, deadline),
            #[cfg(feature = "async")]
            Self::Async(s) => s.write_all(buf, deadline).await,
        }
    }

    /// Writes some of `out` or, while the peer takes none of it, reads into `input` (when
    /// given): whichever can be done first. A sender that must keep reading what the peer
    /// sends meanwhile (COPY FROM STDIN to a server that sends a notice per row) loops on
    /// this, so that neither side waits for the other for ever.
    #[allow(dead_code, reason = "for COPY FROM STDIN")]
    pub(crate) async fn write_or_read(
        &mut self,
        out: &[u8],
        input: Option<&mut [u8]>,
    ) -> io::Result<Progress> {
        match self {
            #[cfg(feature = "blocking")]
            Self::Blocking(s) => s.write_or_read(out, input),
            #[cfg(feature = "async")]
            Self::Async(s) => s.write_or_read(out, input).await,
        }
    }

    /// Writes as much of `buf` as the socket takes right now, without waiting: for
    /// Terminate from `Drop`, where nothing can be awaited.
    pub(crate) fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            #[cfg(feature = "blocking")]
            Self::Blocking(s) => s.try_write(buf),
            #[cfg(feature = "async")]
            Self::Async(s) => s.try_write(buf),
        }
    }

    /// The peer's address, if the socket still knows it.
    pub(crate) fn peer(&self) -> Option<Peer> {
        match self {
            #[cfg(feature = "blocking")]
            Self::Blocking(s) => s.peer(),
            #[cfg(feature = "async")]
            Self::Async(s) => s.peer(),
        }
    }

    /// Makes an idle socket ready to wait, unused, for [`Parked::resume`] (a tokio socket
    /// leaves its runtime, so that any runtime can resume it; a std one stays as it is).
    pub(crate) fn park(self) -> io::Result<Parked> {
        match self {
            #[cfg(feature = "blocking")]
            Self::Blocking(s) => Ok(Parked::Blocking(s)),
            #[cfg(feature = "async")]
            Self::Async(s) => s.park().map(Parked::Async),
        }
    }
}

/// An idle socket put aside by [`Socket::park`].
#[derive(Debug)]
pub(crate) enum Parked {
    #[cfg(feature = "blocking")]
    Blocking(blocking::Socket),
    #[cfg(feature = "async")]
    Async(std_stream::StdStream),
}

impl Parked {
    /// The socket again, if the peer stayed silent while it was parked. A peer that sent
    /// anything or closed the socket (a terminated backend sends a FATAL, then closes)
    /// makes this an error. A tokio socket joins the current runtime.
    pub(crate) fn resume(self) -> io::Result<Socket> {
        match self {
            #[cfg(feature = "blocking")]
            Self::Blocking(s) => s.check_idle().map(|()| Socket::Blocking(s)),
            #[cfg(feature = "async")]
            Self::Async(s) => self::tokio::Socket::resume(s).map(Socket::Async),
        }
    }

    /// [`Socket::try_write`] on the parked socket.
    pub(crate) fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            #[cfg(feature = "blocking")]
            Self::Blocking(s) => s.try_write(buf),
            #[cfg(feature = "async")]
            Self::Async(s) => s.write(buf),
        }
    }
}

/// The error of a peer that spoke or closed the socket while it was parked.
pub(crate) fn spoke_while_idle() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "the server spoke or closed the connection while it was idle",
    )
}

/// The error for a deadline that passed: [`io::ErrorKind::TimedOut`], told apart from a
/// connection's own `ETIMEDOUT` (e.g. `tcp_user_timeout`) by [`is_deadline`].
pub(crate) fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, DeadlinePassed)
}

/// Whether `e` is [`timed_out`]'s error.
pub(crate) fn is_deadline(e: &io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.is::<DeadlinePassed>())
}

/// The cause of [`timed_out`]'s error.
#[derive(Debug)]
struct DeadlinePassed;

impl fmt::Display for DeadlinePassed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the deadline passed")
    }
}

impl std::error::Error for DeadlinePassed {}

/// Runs `future` to its end on the calling thread: no runtime, no other thread. While it
/// is pending the thread parks, and its waker unparks it. On a [`Kind::Blocking`]
/// connection nothing is ever pending, so a call finishes on its first poll.
///
/// It drives no tokio socket or timer (they need a runtime); the blocking API never gives
/// it one.
#[cfg(feature = "blocking")]
#[allow(dead_code, reason = "the blocking API moves onto it next")]
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    /// Unparks the thread that runs [`block_on`].
    struct ThreadWaker(std::thread::Thread);

    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }

    thread_local! {
        /// One waker per thread, made on its first call: no allocation per call.
        static WAKER: Waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    }

    let mut future = std::pin::pin!(future);
    // The thread's waker is lent, not cloned: no reference count to change per call.
    WAKER.with(|waker| {
        let mut cx = Context::from_waker(waker);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            // A wake-up that came between the poll and here makes this return at once.
            std::thread::park();
        }
    })
}

/// What is left of the time until `deadline`.
#[cfg_attr(not(feature = "blocking"), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Remaining {
    /// No deadline.
    Forever,
    /// This much time, more than zero.
    Left(Duration),
    /// The deadline has passed.
    Expired,
}

#[cfg_attr(not(feature = "blocking"), allow(dead_code))]
impl Remaining {
    /// The time left until `deadline`, as of now.
    pub(crate) fn until(deadline: Option<Instant>) -> Self {
        match deadline {
            None => Self::Forever,
            Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Self::Left(left),
                _ => Self::Expired,
            },
        }
    }
}

/// For the tests that run on each driver the build has.
#[cfg(test)]
impl Kind {
    /// Every driver of this build.
    pub(crate) fn all() -> Vec<Self> {
        vec![
            #[cfg(feature = "blocking")]
            Self::Blocking,
            #[cfg(feature = "async")]
            Self::Async,
        ]
    }

    /// Runs `future` as this driver's API does: with [`block_on`] (no runtime), or on a
    /// fresh current-thread tokio runtime.
    pub(crate) fn run<T>(self, future: impl std::future::Future<Output = T>) -> T {
        match self {
            #[cfg(feature = "blocking")]
            Self::Blocking => block_on(future),
            #[cfg(feature = "async")]
            Self::Async => ::tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a test runtime")
                .block_on(future),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_socket_options_are_set_on_new_tcp_sockets() {
        use std::time::Duration;

        let addr: SocketAddr = "127.0.0.1:5432".parse().unwrap();
        let options = SocketOptions {
            keepalive: true,
            keepalive_idle: Some(7),
            keepalive_interval: Some(3),
            keepalive_count: Some(4),
            tcp_user_timeout: Some(2500),
        };
        for kind in Kind::all() {
            let socket = kind.tcp_socket(addr, &options).unwrap().socket;
            let sock = socket2::SockRef::from(&socket);
            assert!(sock.nonblocking().unwrap());
            assert!(sock.tcp_nodelay().unwrap());
            assert!(sock.keepalive().unwrap());
            assert_eq!(sock.tcp_keepalive_time().unwrap(), Duration::from_secs(7));
            assert_eq!(
                sock.tcp_keepalive_interval().unwrap(),
                Duration::from_secs(3)
            );
            assert_eq!(sock.tcp_keepalive_retries().unwrap(), 4);
            assert_eq!(
                sock.tcp_user_timeout().unwrap(),
                Some(Duration::from_millis(2500))
            );
            // keepalives=0: TCP_NODELAY only.
            let socket = kind
                .tcp_socket(addr, &SocketOptions::default())
                .unwrap()
                .socket;
            let sock = socket2::SockRef::from(&socket);
            assert!(sock.tcp_nodelay().unwrap());
            assert!(!sock.keepalive().unwrap());
            assert_eq!(sock.tcp_user_timeout().unwrap(), None);
        }
        // A value the kernel refuses names its option, as libpq's text does.
        let refused = SocketOptions {
            keepalive: true,
            keepalive_count: Some(100_000),
            ..SocketOptions::default()
        };
        let e = Kind::all()[0].tcp_socket(addr, &refused).unwrap_err();
        assert!(
            matches!(&e, OpenError::Option(o) if o.option == "TCP_KEEPCNT"),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "setsockopt(TCP_KEEPCNT) failed: Invalid argument"
        );
    }

    #[test]
    fn socket_option_and_open_failures_keep_their_cause() {
        let e = SocketOptionError {
            option: "TCP_KEEPIDLE",
            source: io::Error::from_raw_os_error(22),
        };
        assert_eq!(
            e.to_string(),
            "setsockopt(TCP_KEEPIDLE) failed: Invalid argument"
        );
        let source = std::error::Error::source(&e).unwrap();
        assert_eq!(source.to_string(), "Invalid argument (os error 22)");
        let e = OpenError::Connect(io::Error::from_raw_os_error(111));
        assert_eq!(e.to_string(), "Connection refused");
        assert!(std::error::Error::source(&e).is_some());
        let e = OpenError::NoDelay(io::Error::from_raw_os_error(22));
        assert_eq!(
            e.to_string(),
            "could not set socket to TCP no delay mode: Invalid argument"
        );
        let e = OpenError::Create(io::Error::from_raw_os_error(24));
        assert_eq!(
            e.to_string(),
            "could not create socket: Too many open files"
        );
    }

    #[test]
    fn remaining_time() {
        assert_eq!(Remaining::until(None), Remaining::Forever);
        let past = Instant::now();
        assert_eq!(Remaining::until(Some(past)), Remaining::Expired);
        let later = Instant::now() + Duration::from_secs(3600);
        assert!(matches!(
            Remaining::until(Some(later)),
            Remaining::Left(d) if d > Duration::from_secs(3000)
        ));
    }

    #[cfg(feature = "blocking")]
    #[test]
    fn block_on_parks_until_woken_from_another_thread() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        use std::task::Poll;

        assert_eq!(block_on(async { 42 }), 42);
        // Pending until another thread sets the flag and wakes the waker.
        let flag = Arc::new(AtomicBool::new(false));
        let mut started = false;
        let polls = std::cell::Cell::new(0u32);
        let out = block_on(std::future::poll_fn(|cx| {
            polls.set(polls.get() + 1);
            if flag.load(Ordering::SeqCst) {
                return Poll::Ready("woken");
            }
            if !started {
                started = true;
                let flag = Arc::clone(&flag);
                let waker = cx.waker().clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(20));
                    flag.store(true, Ordering::SeqCst);
                    waker.wake();
                });
            }
            Poll::Pending
        }));
        assert_eq!(out, "woken");
        assert!(polls.get() >= 2);
    }

    /// Both drivers, through the seam: bytes both ways over loopback TCP and a Unix socket
    /// pair, a deadline that passes with nothing to read, EOF.
    #[cfg(feature = "blocking")]
    #[test]
    fn blocking_sockets_through_the_seam() {
        run_seam_checks(Kind::Blocking, |f| Kind::Blocking.run(f));
    }

    #[cfg(feature = "async")]
    #[test]
    fn tokio_sockets_through_the_seam() {
        run_seam_checks(Kind::Async, |f| Kind::Async.run(f));
    }

    type BoxedTest = std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

    /// The same checks for either driver; `run` drives a future to its end.
    fn run_seam_checks(kind: Kind, run: impl Fn(BoxedTest)) {
        use std::io::{Read, Write};

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut got = [0u8; 4];
            s.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"ping");
            s.write_all(b"pong").unwrap();
            // Silent until the client gives up on a read, then EOF.
            let mut byte = [0u8; 1];
            s.read_exact(&mut byte).unwrap();
            assert_eq!(&byte, b"!");
        });
        run(Box::pin(async move {
            let options = SocketOptions::default();
            let mut socket = kind.open_tcp(addr, &options, None).await.unwrap();
            assert_eq!(socket.kind(), kind);
            assert_eq!(socket.peer(), Some(Peer::Tcp(addr)));
            socket.write_all(b"ping", None).await.unwrap();
            let mut got = [0u8; 4];
            let mut filled = 0;
            while filled < 4 {
                let n = socket.read(&mut got[filled..], None).await.unwrap();
                assert!(n > 0);
                filled += n;
            }
            assert_eq!(&got, b"pong");
            // Nothing comes: the deadline passes.
            let deadline = Instant::now() + Duration::from_millis(50);
            let e = socket.read(&mut got, Some(deadline)).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::TimedOut);
            assert!(is_deadline(&e));
            assert!(Instant::now() >= deadline);
            // A deadline already passed, still nothing there.
            let e = socket
                .read(&mut got, Some(Instant::now()))
                .await
                .unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::TimedOut);
            // The socket still works after the timeouts.
            socket.write_all(b"!", None).await.unwrap();
            assert_eq!(socket.read(&mut got, None).await.unwrap(), 0);
        }));
        peer.join().unwrap();

        // Refused: the connect step's error. The port was free a moment ago; should
        // another process on this machine take it in between, try another one.
        run(Box::pin(async move {
            for _ in 0..10 {
                let closed = {
                    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                    l.local_addr().unwrap()
                };
                match kind.open_tcp(closed, &SocketOptions::default(), None).await {
                    Ok(_taken) => continue,
                    Err(e) => {
                        assert!(matches!(&e, OpenError::Connect(_)), "{e:?}");
                        assert_eq!(e.to_string(), "Connection refused");
                        return;
                    }
                }
            }
            panic!("ten closed ports in a row were taken by another process");
        }));

        #[cfg(unix)]
        {
            let dir = std::env::temp_dir().join(format!(
                "pgcluster-driver-{}-{:?}",
                std::process::id(),
                kind
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir(&dir).unwrap();
            let path = dir.join("sock");
            let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
            let peer = std::thread::spawn(move || {
                let (mut s, _) = listener.accept().unwrap();
                let mut got = [0u8; 2];
                s.read_exact(&mut got).unwrap();
                s.write_all(&got).unwrap();
                // Read until the client closes the socket.
                let mut rest = Vec::new();
                s.read_to_end(&mut rest).unwrap();
                rest
            });
            let path2 = path.clone();
            run(Box::pin(async move {
                let mut socket = kind
                    .open_unix(&path2, None, FullBacklog::Fail)
                    .await
                    .unwrap();
                assert_eq!(socket.peer(), Some(Peer::Unix(path2.clone())));
                socket.write_all(b"hi", None).await.unwrap();
                let mut got = [0u8; 2];
                let mut filled = 0;
                while filled < 2 {
                    filled += socket.read(&mut got[filled..], None).await.unwrap();
                }
                assert_eq!(&got, b"hi");
                assert_eq!(socket.try_write(b"X").unwrap(), 1);
                drop(socket);
            }));
            assert_eq!(peer.join().unwrap(), b"X");
            let missing = dir.join("missing");
            run(Box::pin(async move {
                let e = kind
                    .open_unix(&missing, None, FullBacklog::Fail)
                    .await
                    .unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::NotFound);
            }));
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
