//! Typed attempt failures: why one host-list entry, one address or one try at an address
//! failed, and libpq 13's rules for each (whether its text adds to the error buffer or
//! replaces it, and where the walk goes next).
//!
//! A connect failure is the list of them, in order ([`Failures`]); replaying the list with
//! each failure's [`Rule`] gives libpq's `PQerrorMessage` byte for byte. Each failure's
//! `Display` is its libpq text with the final newline, as the buffer holds it.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use pgcluster_protocol::error_fields::ErrorFields;
use pgcluster_protocol::ssl::NegotiationError;
use pgcluster_protocol::startup::StartupError;
use pgcluster_protocol::ProtocolError;

use crate::conninfo::ConnInfoError;
use crate::io_text::{send_error_text, socket_receive_error_text, strerror, SERVER_CLOSED};

/// `sizeof(sun_path) - 1` on Linux: the longest Unix-domain socket path libpq accepts.
pub(crate) const MAX_UNIX_PATH: usize = 107;

/// The SQLSTATE of `password authentication failed`.
const INVALID_PASSWORD: &str = "28P01";

/// libpq 13's text for a failed read: TLS's own texts for a TLS error (an alert from the
/// server: `SSL error: %s`; the connection closed without close_notify:
/// `SSL SYSCALL error: EOF detected`), else the plain socket's. Used while connecting and
/// on an open connection alike.
pub(crate) fn receive_error_text(e: &io::Error) -> String {
    #[cfg(feature = "tls")]
    if let Some(tls) = crate::tls::read_error(e) {
        return format!("{tls}\n");
    }
    socket_receive_error_text(e)
}

/// libpq 13's text for a stream the server ended while a reply was awaited: on TLS it
/// ended TLS first (close_notify), which libpq reports as such; else it closed the
/// connection.
pub(crate) fn write_closed(f: &mut fmt::Formatter<'_>, tls: bool) -> fmt::Result {
    #[cfg(feature = "tls")]
    if tls {
        return writeln!(f, "{}", crate::tls::TlsError::Closed);
    }
    let _ = tls;
    f.write_str(SERVER_CLOSED)
}

/// Whether a failure's text is appended to libpq's buffer or replaces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// Appended.
    Add,
    /// What was there is dropped first (and the server error fields with it).
    Replace,
}

/// Where libpq goes after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Then {
    /// The next address of the same host (or the next host when none is left).
    NextAddress,
    /// The next host-list entry.
    NextHost,
    /// Nothing more is tried.
    Stop,
}

/// An operating-system error, shared so that failures can be cloned and compared.
/// `Display` is `strerror`'s text; `source()` is the `io::Error`.
#[derive(Debug, Clone)]
pub(crate) struct OsError(Arc<io::Error>);

impl OsError {
    pub(crate) fn new(e: io::Error) -> Self {
        Self(Arc::new(e))
    }

    pub(crate) fn io(&self) -> &io::Error {
        &self.0
    }
}

impl PartialEq for OsError {
    fn eq(&self, other: &Self) -> bool {
        self.0.kind() == other.0.kind()
            && self.0.raw_os_error() == other.0.raw_os_error()
            && self.0.to_string() == other.0.to_string()
    }
}

impl Eq for OsError {}

impl fmt::Display for OsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&strerror(&self.0))
    }
}

impl std::error::Error for OsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// Why the addresses of one host-list entry could not be had. `Display` is libpq 13's
/// text, without the final newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResolveError {
    /// The socket path is longer than `sun_path` holds.
    PathTooLong { path: String },
    /// `hostaddr` is not a numeric address.
    Hostaddr {
        hostaddr: String,
        source: std::net::AddrParseError,
    },
    /// The host name lookup failed.
    Lookup { host: String, source: OsError },
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
                gai_strerror(source.io())
            ),
        }
    }
}

impl std::error::Error for ResolveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::PathTooLong { .. } => None,
            Self::Hostaddr { source, .. } => Some(source),
            Self::Lookup { source, .. } => Some(source.io()),
        }
    }
}

/// `gai_strerror`: a failed lookup's text without the standard library's prefix.
pub(crate) fn gai_strerror(e: &io::Error) -> String {
    let text = e.to_string();
    text.strip_prefix("failed to lookup address information: ")
        .unwrap_or(&text)
        .to_owned()
}

/// Which step of opening a socket failed (the driver says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenStage {
    /// `socket()`.
    Socket,
    /// `setsockopt()` of the named option (e.g. `TCP_KEEPIDLE`).
    SetOption(&'static str),
    /// `connect()`.
    Connect,
    /// `TCP_NODELAY`, before the keepalive options (as libpq sets it).
    NoDelay,
    /// Unix-domain sockets do not exist on this platform.
    #[cfg(not(unix))]
    UnixUnsupported,
}

/// Where a socket was to go, as libpq's texts show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    /// A TCP address.
    Tcp {
        /// `host` as given, or `hostaddr` when one is given.
        shown_host: String,
        /// The numeric address, when libpq adds ` (%s)` with it.
        addr: Option<IpAddr>,
        /// The port as libpq prints it.
        port: String,
    },
    /// A Unix-domain socket's path.
    Unix { path: String },
}

/// libpq 18's `emitHostIdentityInfo`: `connection to server at "%s" (%s), port %s failed: `
/// (the address only when libpq 13 shows it too), or `connection to server on socket "%s"
/// failed: `.
impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp {
                shown_host,
                addr: Some(addr),
                port,
            } => write!(
                f,
                "connection to server at \"{shown_host}\" ({addr}), port {port} failed: "
            ),
            Self::Tcp {
                shown_host, port, ..
            } => write!(
                f,
                "connection to server at \"{shown_host}\", port {port} failed: "
            ),
            Self::Unix { path } => write!(f, "connection to server on socket \"{path}\" failed: "),
        }
    }
}

/// A socket could not be opened. `Display` is libpq 13's text with its final newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenError {
    pub(crate) place: Place,
    pub(crate) stage: OpenStage,
    pub(crate) source: OsError,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.source;
        match (self.stage, &self.place) {
            (OpenStage::Socket, _) => writeln!(f, "could not create socket: {e}"),
            (OpenStage::SetOption(option), _) => writeln!(f, "setsockopt({option}) failed: {e}"),
            (OpenStage::NoDelay, _) => {
                writeln!(f, "could not set socket to TCP no delay mode: {e}")
            }
            #[cfg(not(unix))]
            (OpenStage::UnixUnsupported, Place::Unix { path })
            | (OpenStage::UnixUnsupported, Place::Tcp { shown_host: path, .. }) => writeln!(
                f,
                "could not translate Unix-domain socket path \"{path}\" to address: Address family not supported"
            ),
            (
                OpenStage::Connect,
                Place::Tcp {
                    shown_host,
                    addr,
                    port,
                },
            ) => {
                write!(
                    f,
                    "could not connect to server: {e}\n\tIs the server running on host \"{shown_host}\" "
                )?;
                if let Some(addr) = addr {
                    write!(f, "({addr}) ")?;
                }
                write!(f, "and accepting\n\tTCP/IP connections on port {port}?\n")
            }
            (OpenStage::Connect, Place::Unix { path }) => write!(
                f,
                "could not connect to server: {e}\n\tIs the server running locally and accepting\n\tconnections on Unix domain socket \"{path}\"?\n"
            ),
        }
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.io())
    }
}

/// Why the `target_session_attrs` check turned a server down. `read-write`, which libpq 13
/// had, keeps libpq 13's texts; the values libpq 14 added have libpq 18's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProbeOutcome {
    /// `read-write`: the session is read-only.
    ReadOnly,
    /// `read-write`: `SHOW transaction_read_only` failed, or gave other than one row.
    Failed,
    /// `read-only`: the session is not read-only.
    NotReadOnly,
    /// `primary`: the server is in hot standby.
    HotStandby,
    /// `standby`, `prefer-standby`: the server is not in hot standby.
    NotHotStandby,
    /// The values libpq 14 added: the check's query (named as libpq names it, e.g.
    /// `SELECT pg_is_in_recovery()`) failed, or gave other than one row.
    QueryFailed(&'static str),
}

/// The server's error that failed the `target_session_attrs` check's query, and that
/// query: libpq shows a query's error (its `LINE` context included) in front of the
/// check's own line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProbeError {
    /// Shared, as [`AttemptFailure::Startup`]'s error is.
    pub(crate) fields: Arc<ErrorFields>,
    pub(crate) sql: &'static str,
}

/// One failed step of a connection attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AttemptFailure {
    /// The entry's port is not usable: conninfo's text (`invalid port number: "%s"` skips
    /// the host; `invalid integer value ...` stops everything).
    Port { text: String },
    /// The host's addresses could not be had.
    Resolve(ResolveError),
    /// A keepalive setting is not usable for a TCP address: conninfo's text.
    SocketOptions { text: String },
    /// `connect_timeout` is not an integer (read when an attempt would first wait).
    ConnectTimeoutSetting(ConnInfoError),
    /// The socket could not be opened.
    Open(OpenError),
    /// `connect_timeout` passed during the attempt at one address.
    Timeout,
    /// TLS could not be set up or the handshake failed.
    #[cfg(feature = "tls")]
    Tls(crate::tls::TlsError),
    /// The answer to SSLRequest fails the connection.
    SslAnswer(NegotiationError),
    /// SSLRequest could not be sent.
    SslSend(OsError),
    /// The server closed the connection while an answer was awaited (`tls`: it was TLS,
    /// and ended it first).
    Closed { tls: bool },
    /// A read failed.
    Receive(OsError),
    /// The startup packet could not be sent.
    StartupSend(OsError),
    /// A later write of the startup exchange failed.
    Send(OsError),
    /// No SCRAM nonce could be drawn.
    Nonce,
    /// The startup exchange failed (server error, authentication, protocol).
    Startup {
        /// Shared: it carries `ErrorFields` by value, and the walk's failures are copied
        /// into the connect error; a server's large message is then not copied with them.
        error: Arc<StartupError>,
        /// The password file the password came from, if it did.
        password_file: Option<String>,
    },
    /// The `target_session_attrs` check turned the server down.
    Probe {
        outcome: ProbeOutcome,
        /// The server's error that failed the check's query.
        error: Option<ProbeError>,
        /// `"host:port"` as libpq 13 shows it, quotes included.
        server: String,
        /// The address, as libpq 18 names it in front of its texts.
        place: Place,
    },
    /// The connection was lost while the check's query was under way (`cause`: closed, a
    /// failed read or write). libpq gives up there (`error_return`): no other host is
    /// tried. `place` is libpq 18's prefix, for the values libpq 14 added.
    ProbeLost {
        cause: Box<AttemptFailure>,
        place: Option<Place>,
    },
}

impl AttemptFailure {
    /// libpq's rule for this failure's text.
    pub(crate) fn rule(&self) -> Rule {
        match self {
            Self::Port { .. }
            | Self::Resolve(_)
            | Self::SocketOptions { .. }
            | Self::ConnectTimeoutSetting(_)
            | Self::Open(_)
            | Self::SslAnswer(_)
            | Self::SslSend(_)
            | Self::StartupSend(_)
            | Self::Probe { .. }
            | Self::ProbeLost { .. } => Rule::Add,
            Self::Timeout
            | Self::Closed { .. }
            | Self::Receive(_)
            | Self::Send(_)
            | Self::Nonce => Rule::Replace,
            #[cfg(feature = "tls")]
            Self::Tls(_) => Rule::Replace,
            Self::Startup { error, .. } => match &**error {
                StartupError::Server { authenticated, .. } => {
                    if *authenticated {
                        Rule::Replace
                    } else {
                        Rule::Add
                    }
                }
                StartupError::Auth(_) | StartupError::Protocol(ProtocolError::LostSync { .. }) => {
                    Rule::Replace
                }
                _ => Rule::Add,
            },
        }
    }

    /// Where libpq goes after this failure.
    pub(crate) fn then(&self) -> Then {
        match self {
            Self::Port { text } if text.starts_with("invalid port number") => Then::NextHost,
            Self::Resolve(_) | Self::Probe { .. } => Then::NextHost,
            Self::SocketOptions { .. } | Self::Open(_) | Self::Timeout => Then::NextAddress,
            _ => Then::Stop,
        }
    }

    /// The server's error fields, when the failure carries them.
    pub(crate) fn fields(&self) -> Option<&ErrorFields> {
        match self {
            Self::Startup { error, .. } => match &**error {
                StartupError::Server { fields, .. } => Some(fields),
                _ => None,
            },
            _ => None,
        }
    }

    /// A server error before authentication: `prefer` and `allow` try the other choice.
    pub(crate) fn is_server_error_before_auth(&self) -> bool {
        match self {
            Self::Startup { error, .. } => matches!(
                **error,
                StartupError::Server {
                    authenticated: false,
                    ..
                }
            ),
            _ => false,
        }
    }
}

impl fmt::Display for AttemptFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Port { text } | Self::SocketOptions { text } => f.write_str(&with_newline(text)),
            Self::Resolve(e) => writeln!(f, "{e}"),
            Self::ConnectTimeoutSetting(e) => writeln!(f, "{e}"),
            Self::Open(e) => e.fmt(f),
            Self::Timeout => f.write_str("timeout expired\n"),
            #[cfg(feature = "tls")]
            Self::Tls(e) => writeln!(f, "{e}"),
            Self::SslAnswer(e) => writeln!(f, "{e}"),
            Self::SslSend(e) => writeln!(f, "could not send SSL negotiation packet: {e}"),
            Self::Closed { tls } => write_closed(f, *tls),
            Self::Receive(e) => f.write_str(&receive_error_text(e.io())),
            Self::StartupSend(e) => writeln!(f, "could not send startup packet: {e}"),
            Self::Send(e) => f.write_str(&send_error_text(e.io())),
            Self::Nonce => f.write_str("could not generate nonce\n"),
            Self::Startup {
                error,
                password_file,
            } => match &**error {
                StartupError::Server { fields, .. } => {
                    f.write_str(&fields.libpq_text(None))?;
                    if fields.code.as_deref() == Some(INVALID_PASSWORD) {
                        if let Some(file) = password_file {
                            writeln!(f, "password retrieved from file \"{file}\"")?;
                        }
                    }
                    Ok(())
                }
                StartupError::Auth(e) => writeln!(f, "{e}"),
                StartupError::Protocol(e @ ProtocolError::LostSync { .. }) => writeln!(f, "{e}"),
                // libpq appends a newline to the postmaster's text, whatever it ends with.
                StartupError::PreV3Error(text) => writeln!(f, "{text}"),
                other => f.write_str(&with_newline(&other.to_string())),
            },
            Self::ProbeLost { cause, place } => {
                if let Some(place) = place {
                    write!(f, "{place}")?;
                }
                cause.fmt(f)
            }
            Self::Probe {
                outcome,
                error,
                server,
                place,
            } => {
                // `read-write`, which libpq 13 had, keeps libpq 13's texts; the values
                // libpq 14 added start with libpq 18's place.
                if !matches!(outcome, ProbeOutcome::ReadOnly | ProbeOutcome::Failed) {
                    write!(f, "{place}")?;
                }
                // The query's error first, as libpq appends it when the result comes.
                if let Some(error) = error {
                    f.write_str(&error.fields.libpq_text(Some(error.sql)))?;
                }
                match outcome {
                    ProbeOutcome::ReadOnly => {
                        writeln!(f, "could not make a writable connection to server {server}")
                    }
                    ProbeOutcome::Failed => writeln!(
                        f,
                        "test \"SHOW transaction_read_only\" failed on server {server}"
                    ),
                    ProbeOutcome::NotReadOnly => f.write_str("session is not read-only\n"),
                    ProbeOutcome::HotStandby => f.write_str("server is in hot standby mode\n"),
                    ProbeOutcome::NotHotStandby => {
                        f.write_str("server is not in hot standby mode\n")
                    }
                    ProbeOutcome::QueryFailed(label) => writeln!(f, "\"{label}\" failed"),
                }
            }
        }
    }
}

impl std::error::Error for AttemptFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Resolve(e) => Some(e),
            Self::ConnectTimeoutSetting(e) => Some(e),
            Self::Open(e) => Some(e),
            #[cfg(feature = "tls")]
            Self::Tls(e) => Some(e),
            Self::SslAnswer(e) => Some(e),
            Self::SslSend(e) | Self::Receive(e) | Self::StartupSend(e) | Self::Send(e) => {
                Some(e.io())
            }
            Self::Startup { error, .. } => Some(&**error),
            Self::ProbeLost { cause, .. } => Some(&**cause),
            Self::Port { .. }
            | Self::SocketOptions { .. }
            | Self::Timeout
            | Self::Closed { .. }
            | Self::Nonce
            | Self::Probe { .. } => None,
        }
    }
}

/// One recorded failure.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    failure: AttemptFailure,
    /// False when a later try at the same address (`prefer`/`allow`) took over: its text
    /// stays, but its server error fields are not the connection's.
    keeps_fields: bool,
}

/// A connect failure: every attempt failure, in order. Replaying them gives libpq's
/// message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Failures {
    entries: Vec<Entry>,
}

impl Failures {
    /// Records a failure after the ones before it.
    pub(crate) fn push(&mut self, failure: AttemptFailure) {
        self.entries.push(Entry {
            failure,
            keeps_fields: true,
        });
    }

    /// Records the failure of a `prefer`/`allow` retry at the same address, after the
    /// earlier try's: libpq's text for the pair is the earlier text plus the later one
    /// (unless the later one replaces the buffer), and the fields are the later one's.
    pub(crate) fn push_retry(&mut self, failure: AttemptFailure) {
        if let Some(last) = self.entries.last_mut() {
            last.keeps_fields = false;
        }
        self.push(failure);
    }

    /// The last failure.
    pub(crate) fn last(&self) -> Option<&AttemptFailure> {
        self.entries.last().map(|e| &e.failure)
    }

    /// How many failures there are.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// libpq's `PQerrorMessage` (each failure added or replacing, in order) and the server
    /// error fields the buffer holds at the end.
    pub(crate) fn render(&self) -> (String, Option<Box<ErrorFields>>) {
        use fmt::Write as _;
        let mut text = String::new();
        let mut fields: Option<&ErrorFields> = None;
        for entry in &self.entries {
            if entry.failure.rule() == Rule::Replace {
                text.clear();
                fields = None;
            }
            let _ = write!(text, "{}", entry.failure);
            if entry.keeps_fields {
                if let Some(f) = entry.failure.fields() {
                    fields = Some(f);
                }
            }
        }
        (text, fields.map(|f| Box::new(f.clone())))
    }
}

/// A failed connection attempt: libpq 13's `PQerrorMessage`, built by its rules for adding
/// and replacing texts across hosts.
///
/// It holds the typed failure of each attempt (per host, address and try), in order;
/// `message` and `fields` are what replaying them by libpq's rules gives, and `Display` is
/// `message`. `source()` is the last attempt's failure (whose own `source()` is its cause,
/// e.g. the operating system's error).
#[derive(Debug, Clone)]
pub struct ConnectError {
    /// The whole message, every line ending in `\n`, as libpq's buffer holds it.
    pub message: String,
    /// The server's error, when the attempt that ended it got one.
    pub fields: Option<Box<ErrorFields>>,
    /// The typed failures `message` was rendered from (empty for a failure outside the
    /// attempts, e.g. no runtime).
    failures: Failures,
}

impl ConnectError {
    /// The error of a connect walk that failed: its failures, rendered by libpq's rules.
    pub(crate) fn from_failures(failures: Failures) -> Self {
        let (message, fields) = failures.render();
        Self {
            message,
            fields,
            failures,
        }
    }

    /// A failure outside the attempts (its text ends in `\n`).
    pub(crate) fn local(message: String) -> Self {
        Self {
            message,
            fields: None,
            failures: Failures::default(),
        }
    }

    /// How many attempt failures the message was built from.
    #[cfg(test)]
    pub(crate) fn failure_count(&self) -> usize {
        self.failures.len()
    }
}

/// What a connection attempt says about the server, as libpq's `PQping` tells it (and
/// `pg_isready` reports it by its exit status, [`Ping::exit_status`]).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ping {
    /// The server accepts connections (`PQPING_OK`): a session was opened, or the server
    /// asked for authentication, or it refused with any error but "cannot connect now"
    /// (a wrong password or a missing database: the server is up).
    Accepting,
    /// The server is running but refuses connections for now (`PQPING_REJECT`: SQLSTATE
    /// 57P03, starting up, shutting down, in crash recovery).
    Rejecting,
    /// No server answered (`PQPING_NO_RESPONSE`): no error from a server at all.
    NoResponse,
    /// No attempt was made: the settings are not usable (`PQPING_NO_ATTEMPT`).
    NoAttempt,
}

impl Ping {
    /// `pg_isready`'s exit status: 0, 1, 2, 3 in the order of the variants.
    pub fn exit_status(self) -> u8 {
        match self {
            Self::Accepting => 0,
            Self::Rejecting => 1,
            Self::NoResponse => 2,
            Self::NoAttempt => 3,
        }
    }

    /// `pg_isready`'s words: `accepting connections`, `rejecting connections`, `no
    /// response`, `no attempt`.
    pub fn text(self) -> &'static str {
        match self {
            Self::Accepting => "accepting connections",
            Self::Rejecting => "rejecting connections",
            Self::NoResponse => "no response",
            Self::NoAttempt => "no attempt",
        }
    }
}

/// SQLSTATE `cannot_connect_now`.
const CANNOT_CONNECT_NOW: &str = "57P03";

impl ConnectError {
    /// What libpq's `internal_ping` makes of this failure: accepting if the last attempt
    /// got as far as authentication (an authentication request, a session, the read-write
    /// probe), else by the last server error's SQLSTATE: none is no response, 57P03 is
    /// rejecting, any other is accepting.
    pub fn ping(&self) -> Ping {
        let authenticating = self.failures.last().is_some_and(|f| match f {
            AttemptFailure::Startup { error, .. } => matches!(
                **error,
                StartupError::Auth(_)
                    | StartupError::Server {
                        authenticated: true,
                        ..
                    }
            ),
            AttemptFailure::Probe { .. } => true,
            _ => false,
        });
        if authenticating {
            return Ping::Accepting;
        }
        let sqlstate = self
            .failures
            .entries
            .iter()
            .rev()
            .find_map(|e| e.failure.fields().and_then(|f| f.code.as_deref()));
        match sqlstate {
            None => Ping::NoResponse,
            Some(CANNOT_CONNECT_NOW) => Ping::Rejecting,
            Some(_) => Ping::Accepting,
        }
    }
}

impl PartialEq for ConnectError {
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message && self.fields == other.fields
    }
}

impl Eq for ConnectError {}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.failures
            .last()
            .map(|f| f as &(dyn std::error::Error + 'static))
    }
}

/// `text` with exactly one final newline.
pub(crate) fn with_newline(text: &str) -> String {
    let mut line = text.strip_suffix('\n').unwrap_or(text).to_owned();
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On TLS, libpq 13's `pgtls_read` texts (rexref, against fake servers).
    #[cfg(feature = "tls")]
    #[test]
    fn tls_read_failure_texts() {
        let alert = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::UnknownCA),
        );
        assert_eq!(
            receive_error_text(&alert),
            "SSL error: tlsv1 alert unknown ca\n"
        );
        let truncated = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(
            receive_error_text(&truncated),
            "SSL SYSCALL error: EOF detected\n"
        );
    }

    #[test]
    fn lookup_failures_keep_their_cause() {
        let e = ResolveError::Lookup {
            host: "nohost.invalid".to_owned(),
            source: OsError::new(io::Error::other(
                "failed to lookup address information: Name or service not known",
            )),
        };
        assert_eq!(
            e.to_string(),
            "could not translate host name \"nohost.invalid\" to address: Name or service not known"
        );
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn gai_strerror_strips_the_std_prefix() {
        let e = io::Error::other("failed to lookup address information: Name or service not known");
        assert_eq!(gai_strerror(&e), "Name or service not known");
    }

    #[test]
    fn open_failures_are_libpq_texts() {
        let refused = OsError::new(io::Error::from_raw_os_error(111));
        let tcp = |addr: Option<IpAddr>| Place::Tcp {
            shown_host: "localhost".to_owned(),
            addr,
            port: "5432".to_owned(),
        };
        let e = OpenError {
            place: tcp(Some(IpAddr::from([127, 0, 0, 1]))),
            stage: OpenStage::Connect,
            source: refused.clone(),
        };
        assert_eq!(
            e.to_string(),
            "could not connect to server: Connection refused\n\tIs the server running on host \"localhost\" (127.0.0.1) and accepting\n\tTCP/IP connections on port 5432?\n"
        );
        let e = OpenError {
            place: tcp(None),
            stage: OpenStage::Connect,
            source: refused.clone(),
        };
        assert_eq!(
            e.to_string(),
            "could not connect to server: Connection refused\n\tIs the server running on host \"localhost\" and accepting\n\tTCP/IP connections on port 5432?\n"
        );
        let e = OpenError {
            place: Place::Unix {
                path: "/tmp/.s.PGSQL.5432".to_owned(),
            },
            stage: OpenStage::Connect,
            source: OsError::new(io::Error::from_raw_os_error(2)),
        };
        assert_eq!(
            e.to_string(),
            "could not connect to server: No such file or directory\n\tIs the server running locally and accepting\n\tconnections on Unix domain socket \"/tmp/.s.PGSQL.5432\"?\n"
        );
        let e = OpenError {
            place: tcp(None),
            stage: OpenStage::SetOption("TCP_KEEPIDLE"),
            source: OsError::new(io::Error::from_raw_os_error(22)),
        };
        assert_eq!(
            e.to_string(),
            "setsockopt(TCP_KEEPIDLE) failed: Invalid argument\n"
        );
        let source = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("Invalid argument (os error 22)"));
        let e = OpenError {
            place: tcp(None),
            stage: OpenStage::NoDelay,
            source: OsError::new(io::Error::from_raw_os_error(9)),
        };
        assert_eq!(
            e.to_string(),
            "could not set socket to TCP no delay mode: Bad file descriptor\n"
        );
    }

    #[test]
    fn replaying_adds_and_replaces() {
        let mut f = Failures::default();
        f.push(AttemptFailure::Port {
            text: "invalid port number: \"x\"".to_owned(),
        });
        f.push(AttemptFailure::SocketOptions {
            text: "keepalives parameter must be an integer\n".to_owned(),
        });
        assert_eq!(
            f.render().0,
            "invalid port number: \"x\"\nkeepalives parameter must be an integer\n"
        );
        f.push(AttemptFailure::Timeout);
        assert_eq!(f.render().0, "timeout expired\n");
        assert_eq!(f.len(), 3);
    }

    /// The buffer rules for what the startup machine refuses (its texts are checked in
    /// the protocol crate): libpq's texts end in one newline.
    #[test]
    fn startup_failures_keep_libpq_buffer_rules() {
        let startup = |error: StartupError| AttemptFailure::Startup {
            error: Arc::new(error),
            password_file: None,
        };
        let f = startup(ProtocolError::ExpectedAuthRequest { tag: b'X' }.into());
        assert_eq!(
            f.to_string(),
            "expected authentication request from server, but received X\n"
        );
        assert_eq!((f.rule(), f.then()), (Rule::Add, Then::Stop));
        let f = startup(
            ProtocolError::LostSync {
                tag: b'C',
                len: 40000,
            }
            .into(),
        );
        assert_eq!(
            f.to_string(),
            "lost synchronization with server: got message type \"C\", length 40000\n"
        );
        assert_eq!((f.rule(), f.then()), (Rule::Replace, Then::Stop));
        for (text, shown) in [
            ("FATAL:  old server", "FATAL:  old server\n"),
            ("FATAL:  old server\n", "FATAL:  old server\n\n"),
            ("", "\n"),
        ] {
            let f = startup(StartupError::PreV3Error(text.to_owned()));
            assert_eq!(f.to_string(), shown);
            assert_eq!((f.rule(), f.then()), (Rule::Add, Then::Stop));
        }
    }
}
