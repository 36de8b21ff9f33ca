//! Opening a connection libpq 13's way: each host in order, each address in order, with
//! `connect_timeout` per address, and libpq's rules for what a failure adds to the error
//! message, what it replaces, and whether the next address or host is tried.
//!
//! The protocol itself (startup, authentication) is the sans-IO [`Startup`] machine; this
//! module only moves bytes and keeps the error buffer.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};

#[cfg(feature = "tls")]
use pgcluster_protocol::auth::policy::ChannelBindingMode;
use pgcluster_protocol::error_fields::ErrorFields;
use pgcluster_protocol::frame::FrameReader;
use pgcluster_protocol::limits::Limits;
use pgcluster_protocol::startup::{Ready, Startup, StartupConfig, StartupError, Step};
use pgcluster_protocol::ProtocolError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::time::Instant;

use crate::conninfo::{Address, Resolved, SocketOptions, Target};
use crate::error::ConnectError;
use crate::io_text::{send_error_text, strerror, WireError};
use crate::scram_cache;
use crate::transport::Stream;

/// `sizeof(sun_path) - 1` on Linux: the longest Unix-domain socket path libpq accepts.
const MAX_UNIX_PATH: usize = 107;

/// The SQLSTATE of `password authentication failed`.
const INVALID_PASSWORD: &str = "28P01";

/// What a successful attempt becomes: built from what the startup exchange leaves, and
/// asked the read-write question. The connection module (above this one) implements it
/// for its `Connection`, so this module never names the connection type.
pub(crate) trait Session: Sized + Send {
    /// A session whose startup exchange has just finished.
    fn established(stream: Stream, reader: FrameReader, ready: Ready) -> Self;

    /// The value `SHOW transaction_read_only` gave in its one row (SQL NULL as an empty
    /// text); `None` when the query failed or gave other than exactly one row.
    fn transaction_read_only(&mut self) -> impl Future<Output = Option<String>> + Send;

    /// Sends Terminate and closes the socket.
    fn end(&mut self) -> impl Future<Output = ()> + Send;
}

/// Connects to the first target that accepts us, as libpq 13's `PQconnectdb` does.
pub(crate) async fn connect<C: Session>(config: &Resolved) -> Result<C, ConnectError> {
    let mut buffer = ErrorBuffer::default();
    for (index, target) in config.targets.iter().enumerate() {
        let password = Password::for_target(config, index);
        match connect_target(config, target, &password, &mut buffer).await {
            TargetOutcome::Connected(conn) => return Ok(*conn),
            TargetOutcome::NextHost => {}
            TargetOutcome::Stop => break,
        }
    }
    Err(ConnectError::rendered(
        buffer.text,
        buffer.fields.map(Box::new),
    ))
}

/// The password for one host-list entry, and the password file it came from, if it did.
#[derive(Debug, Clone, Copy)]
struct Password<'a> {
    value: Option<&'a str>,
    file: Option<&'a str>,
}

impl<'a> Password<'a> {
    fn for_target(config: &'a Resolved, index: usize) -> Self {
        let (value, from_file) = config.password_for(index);
        let file = if from_file {
            config
                .passfile
                .as_deref()
                .or(config.password_file.as_deref())
        } else {
            None
        };
        Self { value, file }
    }
}

/// libpq's `conn->errorMessage` during a connection attempt.
#[derive(Debug, Default)]
struct ErrorBuffer {
    text: String,
    fields: Option<ErrorFields>,
}

impl ErrorBuffer {
    /// Appends one text (ending in `\n`).
    fn add(&mut self, text: &str) {
        self.text.push_str(text);
    }

    /// Drops what was there, then appends.
    fn replace(&mut self, text: &str) {
        self.text.clear();
        self.fields = None;
        self.text.push_str(text);
    }
}

/// What to do after one entry of the host list.
enum TargetOutcome<C> {
    Connected(Box<C>),
    NextHost,
    Stop,
}

/// Whether a failure's text is appended to the buffer or replaces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Buffer {
    Add,
    Replace,
}

/// Where libpq goes after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Then {
    NextAddress,
    NextHost,
    Stop,
}

/// One failed attempt at one address.
#[derive(Debug)]
struct Failure {
    text: String,
    buffer: Buffer,
    then: Then,
    /// Boxed: `ErrorFields` is large and failures travel in `Result`s.
    fields: Option<Box<ErrorFields>>,
}

impl Failure {
    fn new(text: String, buffer: Buffer, then: Then) -> Self {
        Self {
            text,
            buffer,
            then,
            fields: None,
        }
    }
}

/// A resolved place to connect to, with what libpq shows for it.
#[derive(Debug, Clone)]
enum Endpoint {
    Tcp {
        addr: SocketAddr,
        /// `host` as given, or `hostaddr` when one is given.
        shown_host: String,
        /// Whether to add ` (%s)` with the numeric address.
        show_addr: bool,
    },
    Unix {
        path: String,
    },
}

async fn connect_target<C: Session>(
    config: &Resolved,
    target: &Target,
    password: &Password<'_>,
    buffer: &mut ErrorBuffer,
) -> TargetOutcome<C> {
    let port = match &target.port {
        Ok(port) => *port,
        Err(text) => {
            let line = with_newline(text);
            buffer.add(&line);
            // A non-integer port stops everything; an out-of-range one skips this host.
            return if text.starts_with("invalid port number") {
                TargetOutcome::NextHost
            } else {
                TargetOutcome::Stop
            };
        }
    };
    let endpoints = match resolve(target, port).await {
        Ok(endpoints) => endpoints,
        Err(e) => {
            buffer.add(&format!("{e}\n"));
            return TargetOutcome::NextHost;
        }
    };
    for endpoint in &endpoints {
        let attempt = attempt(config, target, password, endpoint);
        let result = match config.connect_timeout {
            Some(timeout) => {
                let deadline = Instant::now() + timeout;
                match tokio::time::timeout_at(deadline, attempt).await {
                    Ok(result) => result,
                    Err(_) => Err(Failure::new(
                        "timeout expired\n".to_owned(),
                        Buffer::Replace,
                        Then::NextAddress,
                    )),
                }
            }
            None => attempt.await,
        };
        match result {
            Ok(conn) => return TargetOutcome::Connected(Box::new(conn)),
            Err(failure) => {
                match failure.buffer {
                    Buffer::Add => buffer.add(&failure.text),
                    Buffer::Replace => buffer.replace(&failure.text),
                }
                if let Some(fields) = failure.fields {
                    buffer.fields = Some(*fields);
                }
                match failure.then {
                    Then::NextAddress => {}
                    Then::NextHost => return TargetOutcome::NextHost,
                    Then::Stop => return TargetOutcome::Stop,
                }
            }
        }
    }
    TargetOutcome::NextHost
}

/// Why the addresses of one host-list entry could not be had. `Display` is libpq 13's
/// text, without the final newline.
#[derive(Debug)]
enum ResolveError {
    /// The socket path is longer than `sun_path` holds.
    PathTooLong { path: String },
    /// `hostaddr` is not a numeric address.
    Hostaddr {
        hostaddr: String,
        source: std::net::AddrParseError,
    },
    /// The host name lookup failed.
    Lookup { host: String, source: io::Error },
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PathTooLong { path } => write!(
                f,
                "Unix-domain socket path \"{path}\" is too long (maximum {MAX_UNIX_PATH} bytes)"
            ),
            // getaddrinfo's text for a non-numeric address under AI_NUMERICHOST.
            Self::Hostaddr { hostaddr, .. } => write!(
                f,
                "could not parse network address \"{hostaddr}\": Name or service not known"
            ),
            Self::Lookup { host, source } => write!(
                f,
                "could not translate host name \"{host}\" to address: {}",
                gai_strerror(source)
            ),
        }
    }
}

impl std::error::Error for ResolveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::PathTooLong { .. } => None,
            Self::Hostaddr { source, .. } => Some(source),
            Self::Lookup { source, .. } => Some(source),
        }
    }
}

/// The addresses of one host-list entry, in `getaddrinfo` order.
async fn resolve(target: &Target, port: u16) -> Result<Vec<Endpoint>, ResolveError> {
    match &target.address {
        Address::Unix(dir) => {
            // libpq's UNIXSOCK_PATH prints the port as a number, not as given.
            let path = format!("{dir}/.s.PGSQL.{port}");
            if path.len() > MAX_UNIX_PATH {
                return Err(ResolveError::PathTooLong { path });
            }
            Ok(vec![Endpoint::Unix { path }])
        }
        Address::Tcp(host) => {
            if let Some(hostaddr) = &target.hostaddr {
                let ip: IpAddr =
                    hostaddr
                        .trim()
                        .parse()
                        .map_err(|source| ResolveError::Hostaddr {
                            hostaddr: hostaddr.clone(),
                            source,
                        })?;
                return Ok(vec![Endpoint::Tcp {
                    addr: SocketAddr::new(ip, port),
                    shown_host: hostaddr.clone(),
                    show_addr: false,
                }]);
            }
            let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
                Ok(ip) => vec![SocketAddr::new(ip, port)],
                Err(_) => tokio::net::lookup_host((host.as_str(), port))
                    .await
                    .map_err(|source| ResolveError::Lookup {
                        host: host.clone(),
                        source,
                    })?
                    .collect(),
            };
            Ok(addrs
                .into_iter()
                .map(|addr| Endpoint::Tcp {
                    addr,
                    shown_host: host.clone(),
                    show_addr: addr.ip().to_string() != *host,
                })
                .collect())
        }
    }
}

/// One attempt at one address: socket, startup, authentication, the read-write test.
async fn attempt<C: Session>(
    config: &Resolved,
    target: &Target,
    password: &Password<'_>,
    endpoint: &Endpoint,
) -> Result<C, Failure> {
    // Whether each try uses TLS: libpq's `prefer` tries TLS, then (after a failed
    // handshake or a server error before authentication) plain; `allow` the other way.
    let plan: &[bool] = tls_plan(config, endpoint);
    let mut earlier: Option<Failure> = None;
    for (i, &use_tls) in plan.iter().enumerate() {
        let last = i + 1 == plan.len();
        match try_once(config, target, password, endpoint, use_tls).await {
            Ok(conn) => return Ok(conn),
            Err((failure, retry)) => {
                // The later text adds to the earlier one, unless it replaces the buffer.
                let failure = match earlier.take() {
                    Some(first) if failure.buffer == Buffer::Add => Failure {
                        text: first.text + &failure.text,
                        buffer: first.buffer,
                        then: failure.then,
                        fields: failure.fields,
                    },
                    _ => failure,
                };
                if retry && !last {
                    earlier = Some(failure);
                    continue;
                }
                return Err(failure);
            }
        }
    }
    Err(earlier.unwrap_or_else(|| Failure::new(String::new(), Buffer::Add, Then::Stop)))
}

/// Which tries to make at one address, TLS or not (TLS only over TCP).
fn tls_plan(config: &Resolved, endpoint: &Endpoint) -> &'static [bool] {
    #[cfg(feature = "tls")]
    if matches!(endpoint, Endpoint::Tcp { .. }) {
        use crate::tls::SslMode;
        return match config.tls.effective_mode() {
            SslMode::Disable => &[false],
            SslMode::Allow => &[false, true],
            SslMode::Prefer => &[true, false],
            _ => &[true],
        };
    }
    let _ = (config, endpoint);
    &[false]
}

/// One connection at one address. On failure, whether the `prefer`/`allow` retry applies.
async fn try_once<C: Session>(
    config: &Resolved,
    target: &Target,
    password: &Password<'_>,
    endpoint: &Endpoint,
    use_tls: bool,
) -> Result<C, (Failure, bool)> {
    let stream = open_socket(endpoint, &target.port_text, config)
        .await
        .map_err(|f| (f, false))?;
    let mut reader = FrameReader::new(Limits::default());
    let (mut stream, end_point) = if use_tls {
        start_tls(config, target, stream, &mut reader).await?
    } else {
        (stream, None)
    };
    // A server error before authentication is retried with the other choice, but only if
    // this try really used what it meant to (`prefer` after `N` does not retry).
    let retry_on_server_error = use_tls == stream.is_tls();
    let ready = startup(config, password, &mut stream, &mut reader, end_point)
        .await
        .map_err(|f| {
            let before_auth = f.buffer == Buffer::Add && f.fields.is_some();
            (f, before_auth && retry_on_server_error)
        })?;
    let mut conn = C::established(stream, reader, ready);
    if config.read_write {
        read_write_test(&mut conn, target)
            .await
            .map_err(|f| (f, false))?;
    }
    Ok(conn)
}

/// The channel-binding data of a TLS connection, or why there is none.
#[cfg(feature = "tls")]
type EndPoint = Option<Result<Vec<u8>, crate::tls::TlsError>>;
#[cfg(not(feature = "tls"))]
type EndPoint = Option<std::convert::Infallible>;

/// SSLRequest and the handshake, with libpq 13's texts: a TLS failure replaces the buffer
/// (and `prefer` retries without TLS); a bad answer adds.
#[cfg(feature = "tls")]
async fn start_tls(
    config: &Resolved,
    target: &Target,
    stream: Stream,
    reader: &mut FrameReader,
) -> Result<(Stream, EndPoint), (Failure, bool)> {
    use crate::tls::{negotiate, NegotiateError, Negotiated, SslMode};
    let Stream::Tcp(tcp) = stream else {
        return Ok((stream, None));
    };
    let stop = |text: String, buffer| Failure::new(text, buffer, Then::Stop);
    match negotiate(tcp, &config.tls, &target.host).await {
        Ok(Negotiated::Tls { stream, end_point }) => Ok((Stream::Tls(stream), Some(end_point))),
        Ok(Negotiated::Plain { stream, received }) => {
            reader.extend_from_slice(&received);
            Ok((Stream::Tcp(stream), None))
        }
        Err(NegotiateError::Tls(e)) => Err((
            stop(format!("{e}\n"), Buffer::Replace),
            config.tls.effective_mode() == SslMode::Prefer,
        )),
        Err(NegotiateError::Answer(e)) => Err((stop(format!("{e}\n"), Buffer::Add), false)),
        Err(NegotiateError::Send(e)) => Err((
            stop(
                format!("could not send SSL negotiation packet: {}\n", strerror(&e)),
                Buffer::Add,
            ),
            false,
        )),
        Err(NegotiateError::Receive(e)) => Err((
            stop(WireError::Receive(e).to_string(), Buffer::Replace),
            false,
        )),
        Err(NegotiateError::Closed) => Err((
            stop(crate::io_text::SERVER_CLOSED.to_owned(), Buffer::Replace),
            false,
        )),
    }
}

#[cfg(not(feature = "tls"))]
async fn start_tls(
    _config: &Resolved,
    _target: &Target,
    stream: Stream,
    _reader: &mut FrameReader,
) -> Result<(Stream, EndPoint), (Failure, bool)> {
    Ok((stream, None))
}

/// A TCP option libpq sets could not be set: `setsockopt(%s) failed: %s` (no final
/// newline).
#[derive(Debug)]
struct SocketOptionError {
    /// The option's C name, e.g. `TCP_KEEPIDLE`.
    option: &'static str,
    source: io::Error,
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

/// Sets the TCP options libpq sets, in its order.
fn apply_socket_options(
    socket: &TcpSocket,
    options: &SocketOptions,
) -> Result<(), SocketOptionError> {
    use std::time::Duration;
    let sock = socket2::SockRef::from(socket);
    let failed = |option, source| SocketOptionError { option, source };
    if !options.keepalive {
        return Ok(());
    }
    sock.set_keepalive(true)
        .map_err(|e| failed("SO_KEEPALIVE", e))?;
    let mut keepalive = socket2::TcpKeepalive::new();
    if let Some(secs) = options.keepalive_idle {
        keepalive = keepalive.with_time(Duration::from_secs(secs.into()));
        sock.set_tcp_keepalive(&keepalive)
            .map_err(|e| failed("TCP_KEEPIDLE", e))?;
    }
    if let Some(secs) = options.keepalive_interval {
        keepalive = keepalive.with_interval(Duration::from_secs(secs.into()));
        sock.set_tcp_keepalive(&keepalive)
            .map_err(|e| failed("TCP_KEEPINTVL", e))?;
    }
    if let Some(count) = options.keepalive_count {
        keepalive = keepalive.with_retries(count);
        sock.set_tcp_keepalive(&keepalive)
            .map_err(|e| failed("TCP_KEEPCNT", e))?;
    }
    if let Some(ms) = options.tcp_user_timeout {
        sock.set_tcp_user_timeout(Some(Duration::from_millis(ms.into())))
            .map_err(|e| failed("TCP_USER_TIMEOUT", e))?;
    }
    Ok(())
}

async fn open_socket(
    endpoint: &Endpoint,
    port_text: &str,
    config: &Resolved,
) -> Result<Stream, Failure> {
    let tcp = &config.tcp;
    let next = |text: String| Failure::new(text, Buffer::Add, Then::NextAddress);
    // libpq reads connect_timeout once an attempt would wait (a TCP connect under way, a
    // Unix socket connected): a bad value is added there, and stops everything.
    let bad_timeout = || {
        config
            .connect_timeout_error
            .as_ref()
            .map(|e| Failure::new(format!("{e}\n"), Buffer::Add, Then::Stop))
    };
    match endpoint {
        Endpoint::Tcp {
            addr,
            shown_host,
            show_addr,
        } => {
            let socket = if addr.is_ipv4() {
                TcpSocket::new_v4()
            } else {
                TcpSocket::new_v6()
            }
            .map_err(|e| next(format!("could not create socket: {}\n", strerror(&e))))?;
            // libpq checks and sets the keepalive settings for each TCP address, before
            // connect(), each with its own text.
            let options = tcp.socket_options().map_err(next)?;
            apply_socket_options(&socket, &options).map_err(|e| next(format!("{e}\n")))?;
            if let Some(failure) = bad_timeout() {
                return Err(failure);
            }
            let stream = socket.connect(*addr).await.map_err(|e| {
                let port = shown_port(port_text);
                let shown = if *show_addr {
                    format!("\"{shown_host}\" ({})", addr.ip())
                } else {
                    format!("\"{shown_host}\"")
                };
                next(format!(
                    "could not connect to server: {}\n\tIs the server running on host {shown} and accepting\n\tTCP/IP connections on port {port}?\n",
                    strerror(&e)
                ))
            })?;
            stream.set_nodelay(true).map_err(|e| {
                next(format!(
                    "could not set socket to TCP no delay mode: {}\n",
                    strerror(&e)
                ))
            })?;
            Ok(Stream::Tcp(stream))
        }
        #[cfg(unix)]
        Endpoint::Unix { path } => {
            let stream = tokio::net::UnixStream::connect(path).await.map_err(|e| {
                next(format!(
                    "could not connect to server: {}\n\tIs the server running locally and accepting\n\tconnections on Unix domain socket \"{path}\"?\n",
                    strerror(&e)
                ))
            })?;
            if let Some(failure) = bad_timeout() {
                return Err(failure);
            }
            Ok(Stream::Unix(stream))
        }
        #[cfg(not(unix))]
        Endpoint::Unix { path } => Err(next(format!(
            "could not translate Unix-domain socket path \"{path}\" to address: Address family not supported\n"
        ))),
    }
}

/// Runs the startup exchange over a fresh socket.
async fn startup(
    config: &Resolved,
    password: &Password<'_>,
    stream: &mut Stream,
    reader: &mut FrameReader,
    end_point: EndPoint,
) -> Result<Ready, Failure> {
    let mut startup_config = StartupConfig::new(config.user.clone());
    startup_config.auth_policy.channel_binding = config.channel_binding;
    startup_config.auth_policy.require_auth = config.require_auth.clone();
    #[cfg(feature = "tls")]
    match end_point {
        Some(Ok(hash)) => startup_config.tls_server_end_point = Some(hash),
        // An unusable binding is an error, never "no binding" (unless binding is off).
        Some(Err(e)) if config.channel_binding != ChannelBindingMode::Disable => {
            return Err(Failure::new(format!("{e}\n"), Buffer::Replace, Then::Stop));
        }
        _ => {}
    }
    #[cfg(not(feature = "tls"))]
    let _ = end_point;
    startup_config.database = Some(config.dbname.clone());
    startup_config.password = password.value.map(|p| p.as_bytes().to_vec());
    if let Some(p) = password.value {
        startup_config.scram_keys = scram_cache::lookup(p.as_bytes());
    }
    startup_config.params = config.startup_params.clone();
    let mut nonce = [0u8; 18];
    if crate::random::fill(&mut nonce).is_err() {
        return Err(Failure::new(
            "could not generate nonce\n".to_owned(),
            Buffer::Replace,
            Then::Stop,
        ));
    }
    let mut machine = Startup::new(startup_config, nonce);
    let mut out = Vec::new();
    machine
        .start(&mut out)
        .map_err(|e| startup_failure(password, e))?;
    stream.write_all(&out).await.map_err(|e| {
        Failure::new(
            format!("could not send startup packet: {}\n", strerror(&e)),
            Buffer::Add,
            Then::Stop,
        )
    })?;
    out.clear();
    loop {
        // The machine frames what was read, with libpq's raw checks before authentication.
        let Some(frame) = machine
            .next_frame(reader)
            .map_err(|e| startup_failure(password, e))?
        else {
            read_into(stream, reader).await?;
            continue;
        };
        match machine
            .handle(frame, &mut out)
            .map_err(|e| startup_failure(password, e))?
        {
            Step::Continue => {}
            Step::Done(mut ready) => {
                if let (Some(keys), Some(p)) = (ready.scram_keys.take(), password.value) {
                    scram_cache::insert(p.as_bytes(), keys);
                }
                return Ok(ready);
            }
        }
        if !out.is_empty() {
            stream
                .write_all(&out)
                .await
                .map_err(|e| Failure::new(send_error_text(&e), Buffer::Replace, Then::Stop))?;
            out.clear();
        }
    }
}

/// Reads more bytes; EOF and errors are libpq's texts, which replace the buffer and stop.
async fn read_into(stream: &mut Stream, reader: &mut FrameReader) -> Result<(), Failure> {
    match stream.read(reader.spare()).await {
        Ok(0) => Err(Failure::new(
            WireError::closed(stream).to_string(),
            Buffer::Replace,
            Then::Stop,
        )),
        Ok(n) => {
            reader.commit(n);
            Ok(())
        }
        Err(e) => Err(Failure::new(
            WireError::Receive(e).to_string(),
            Buffer::Replace,
            Then::Stop,
        )),
    }
}

/// libpq's text and buffer rule for a failed startup: a server error before
/// authentication adds (after it, replaces); a client-side authentication failure and a
/// lost synchronization replace; the rest (a refused message type, a pre-3.0 server's
/// text) adds. Each stops the walk.
fn startup_failure(password: &Password<'_>, e: StartupError) -> Failure {
    match e {
        StartupError::Server {
            fields,
            authenticated,
        } => {
            let mut text = fields.libpq_text(None);
            if fields.code.as_deref() == Some(INVALID_PASSWORD) {
                if let Some(file) = password.file {
                    text.push_str(&format!("password retrieved from file \"{file}\"\n"));
                }
            }
            let buffer = if authenticated {
                Buffer::Replace
            } else {
                Buffer::Add
            };
            Failure {
                text,
                buffer,
                then: Then::Stop,
                fields: Some(Box::new(fields)),
            }
        }
        StartupError::Auth(e) => Failure::new(format!("{e}\n"), Buffer::Replace, Then::Stop),
        StartupError::Protocol(e @ ProtocolError::LostSync { .. }) => {
            Failure::new(format!("{e}\n"), Buffer::Replace, Then::Stop)
        }
        // libpq appends a newline to the postmaster's text, whatever it ends with.
        StartupError::PreV3Error(text) => {
            Failure::new(format!("{text}\n"), Buffer::Add, Then::Stop)
        }
        other => Failure::new(with_newline(&other.to_string()), Buffer::Add, Then::Stop),
    }
}

/// `target_session_attrs=read-write`: libpq 13's `SHOW transaction_read_only` test.
async fn read_write_test(conn: &mut impl Session, target: &Target) -> Result<(), Failure> {
    // As in the connect failure texts: `hostaddr` when given, else `host`.
    let host = target.hostaddr.as_deref().unwrap_or(&target.host);
    let server = format!("\"{host}:{}\"", shown_port(&target.port_text));
    let next_host = |text: String| Failure::new(text, Buffer::Add, Then::NextHost);
    // libpq: a value starting with "on" is read-only.
    let text = match conn.transaction_read_only().await {
        Some(v) if !v.starts_with("on") => return Ok(()),
        Some(_) => format!("could not make a writable connection to server {server}\n"),
        None => format!("test \"SHOW transaction_read_only\" failed on server {server}\n"),
    };
    conn.end().await;
    Err(next_host(text))
}

/// The port as libpq prints it: as given, or `5432` when empty.
fn shown_port(port_text: &str) -> &str {
    if port_text.is_empty() {
        "5432"
    } else {
        port_text
    }
}

/// `gai_strerror`: a failed lookup's text without the standard library's prefix.
fn gai_strerror(e: &io::Error) -> String {
    let text = e.to_string();
    text.strip_prefix("failed to lookup address information: ")
        .unwrap_or(&text)
        .to_owned()
}

fn with_newline(text: &str) -> String {
    let mut line = text.strip_suffix('\n').unwrap_or(text).to_owned();
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalive_settings_are_applied_to_the_socket() {
        let socket = TcpSocket::new_v4().unwrap();
        let options = SocketOptions {
            keepalive: true,
            keepalive_idle: Some(7),
            keepalive_interval: Some(3),
            keepalive_count: Some(4),
            tcp_user_timeout: Some(2500),
        };
        apply_socket_options(&socket, &options).unwrap();
        let sock = socket2::SockRef::from(&socket);
        assert!(sock.keepalive().unwrap());
        assert_eq!(
            sock.tcp_keepalive_time().unwrap(),
            std::time::Duration::from_secs(7)
        );
        assert_eq!(
            sock.tcp_keepalive_interval().unwrap(),
            std::time::Duration::from_secs(3)
        );
        assert_eq!(sock.tcp_keepalive_retries().unwrap(), 4);
        assert_eq!(
            sock.tcp_user_timeout().unwrap(),
            Some(std::time::Duration::from_millis(2500))
        );
        // keepalives=0: nothing is set.
        let socket = TcpSocket::new_v4().unwrap();
        apply_socket_options(&socket, &SocketOptions::default()).unwrap();
        assert!(!socket2::SockRef::from(&socket).keepalive().unwrap());
    }

    #[test]
    fn lookup_and_socket_option_failures_keep_their_cause() {
        let e = ResolveError::Lookup {
            host: "nohost.invalid".to_owned(),
            source: io::Error::other(
                "failed to lookup address information: Name or service not known",
            ),
        };
        assert_eq!(
            e.to_string(),
            "could not translate host name \"nohost.invalid\" to address: Name or service not known"
        );
        assert!(std::error::Error::source(&e).is_some());
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
    }

    #[test]
    fn gai_strerror_strips_the_std_prefix() {
        let e = io::Error::other("failed to lookup address information: Name or service not known");
        assert_eq!(gai_strerror(&e), "Name or service not known");
    }

    #[test]
    fn buffer_adds_and_replaces() {
        let mut b = ErrorBuffer::default();
        b.add("a\n");
        b.add("b\n");
        assert_eq!(b.text, "a\nb\n");
        b.replace("timeout expired\n");
        assert_eq!(b.text, "timeout expired\n");
    }

    /// The buffer rules for what the startup machine refuses (its texts are checked in
    /// the protocol crate): libpq's texts end in one newline.
    #[test]
    fn startup_failures_keep_libpq_buffer_rules() {
        let none = Password {
            value: None,
            file: None,
        };
        let f = startup_failure(
            &none,
            ProtocolError::ExpectedAuthRequest { tag: b'X' }.into(),
        );
        assert_eq!(
            f.text,
            "expected authentication request from server, but received X\n"
        );
        assert_eq!((f.buffer, f.then), (Buffer::Add, Then::Stop));
        let f = startup_failure(
            &none,
            ProtocolError::LostSync {
                tag: b'C',
                len: 40000,
            }
            .into(),
        );
        assert_eq!(
            f.text,
            "lost synchronization with server: got message type \"C\", length 40000\n"
        );
        assert_eq!((f.buffer, f.then), (Buffer::Replace, Then::Stop));
        for (text, shown) in [
            ("FATAL:  old server", "FATAL:  old server\n"),
            ("FATAL:  old server\n", "FATAL:  old server\n\n"),
            ("", "\n"),
        ] {
            let f = startup_failure(&none, StartupError::PreV3Error(text.to_owned()));
            assert_eq!(f.text, shown);
            assert_eq!((f.buffer, f.then), (Buffer::Add, Then::Stop));
        }
    }

    fn target(address: Address, hostaddr: Option<&str>, host: &str) -> Target {
        Target {
            host: host.to_owned(),
            hostaddr: hostaddr.map(str::to_owned),
            address,
            port_text: "5432".to_owned(),
            port: Ok(5432),
        }
    }

    #[test]
    fn numeric_hosts_are_not_looked_up_and_show_the_address_only_when_different() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("test runtime");
        rt.block_on(async {
            let t = target(Address::Tcp("0:0:0:0:0:0:0:1".into()), None, "0:0:0:0:0:0:0:1");
            let e = resolve(&t, 1).await.unwrap();
            assert!(
                matches!(&e[..], [Endpoint::Tcp { show_addr: true, addr, .. }] if addr.to_string() == "[::1]:1")
            );
            let t = target(Address::Tcp("127.0.0.1".into()), None, "127.0.0.1");
            let e = resolve(&t, 1).await.unwrap();
            assert!(matches!(&e[..], [Endpoint::Tcp { show_addr: false, .. }]));
            let t = target(Address::Tcp("localhost".into()), Some("abc"), "localhost");
            let e = resolve(&t, 1).await.unwrap_err();
            assert_eq!(
                e.to_string(),
                "could not parse network address \"abc\": Name or service not known"
            );
            assert!(std::error::Error::source(&e).is_some());
            let dir = format!("/tmp/{}", "a".repeat(88));
            let t = target(Address::Unix(dir.clone()), None, &dir);
            // 5 + 88 + 14 = 107 bytes: the longest accepted.
            assert!(resolve(&t, 5432).await.is_ok());
            let dir = format!("/tmp/{}", "a".repeat(89));
            let t = target(Address::Unix(dir.clone()), None, &dir);
            assert_eq!(
                resolve(&t, 5432).await.unwrap_err().to_string(),
                format!("Unix-domain socket path \"{dir}/.s.PGSQL.5432\" is too long (maximum 107 bytes)")
            );
        });
    }
}
