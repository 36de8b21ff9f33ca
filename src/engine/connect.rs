//! The connect machine: opening a connection libpq 13's way, sans-IO.
//!
//! Each host in order, each address in order, with `connect_timeout` per address;
//! libpq's rules for what a failure adds to the error message, what it replaces, and
//! whether the next address or host is tried; the SSLRequest / direct-TLS plan
//! (`sslmode=prefer` tries TLS, then plain; `allow` the other way); startup and
//! authentication (the protocol crate's [`Startup`]); and the `target_session_attrs` check
//! ([`super::target`]: ParameterStatus, else `SHOW transaction_read_only` or
//! `SELECT pg_catalog.pg_is_in_recovery()` through the protocol crate's [`SimpleQuery`]),
//! with `prefer-standby`'s second pass over every host.
//!
//! The machine does no I/O and reads no clock: [`Connect::poll`] says what to do next
//! ([`Action`]), the caller does it and hands the result back with a `handle_*` method,
//! passing the current time in. Randomness is the caller's: the SCRAM nonce is asked for
//! with [`Action::Nonce`], and `load_balance_hosts=random` shuffles (the hosts once, each
//! host's addresses when they are looked up) from the seed given to [`Connect::new`].

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use pgcluster_protocol::backend::TransactionStatus;
use pgcluster_protocol::error_fields::ErrorFields;
use pgcluster_protocol::frame::FrameReader;
use pgcluster_protocol::frontend;
use pgcluster_protocol::limits::Limits;
use pgcluster_protocol::query::{QueryEvent, SimpleQuery};
use pgcluster_protocol::ssl::{Encryption, Negotiation, Outcome};
use pgcluster_protocol::startup::{Ready, Startup, StartupConfig, Step};

use super::attempt::ConnectError;
use super::attempt::{
    AttemptFailure, Failures, OpenError, OpenStage, OsError, Place, ProbeError, ProbeOutcome,
    ResolveError, Then, MAX_UNIX_PATH,
};
use super::shuffle::Shuffler;
use super::target::{self, Query, ServerState, Verdict};
use crate::conninfo::{Address, LoadBalanceHosts, Resolved, SocketOptions, TargetSessionAttrs};
use crate::scram_cache;

/// What the caller does next.
#[derive(Debug)]
pub(crate) enum Action {
    /// Look up `host` (not a numeric address); answer with [`Connect::handle_resolved`].
    /// No deadline applies.
    Resolve { host: String, port: u16 },
    /// Open a TCP socket with these options and connect it to `addr` (then set
    /// `TCP_NODELAY`); answer with [`Connect::handle_opened`].
    OpenTcp {
        addr: SocketAddr,
        options: SocketOptions,
    },
    /// Connect a Unix-domain socket to `path`; answer with [`Connect::handle_opened`].
    OpenUnix { path: String },
    /// Run the TLS handshake on the open socket, with the configuration's TLS settings, for
    /// `host` (the `host` option as given: SNI and the `verify-full` check); answer with
    /// [`Connect::handle_tls`]. Afterwards `Send` and `Receive` are through TLS.
    #[cfg(feature = "tls")]
    StartTls { host: String },
    /// Write all these bytes. Success needs no answer (the next `poll` means it was
    /// written); a failure is [`Connect::handle_io_error`] or [`Connect::handle_timeout`].
    Send(Vec<u8>),
    /// Read what the server sends; answer with [`Connect::handle_received`],
    /// [`Connect::handle_eof`], [`Connect::handle_io_error`] or
    /// [`Connect::handle_timeout`].
    Receive,
    /// Draw 18 random bytes for the SCRAM nonce (asked for only once the server has
    /// chosen SCRAM); answer with [`Connect::handle_nonce`].
    Nonce,
    /// Close the socket (no answer).
    Close,
    /// Connected: the socket stays open and carries on with this.
    Done(Box<Established>),
    /// Nothing more to try: libpq's whole message.
    Failed(ConnectError),
}

/// What a successful attempt leaves for the connection.
#[derive(Debug)]
pub(crate) struct Established {
    /// Bytes received beyond the startup exchange (and the `target_session_attrs` check).
    pub(crate) reader: FrameReader,
    /// What the startup exchange gave (updated by the check's messages).
    pub(crate) ready: Ready,
    /// Whether the socket is TLS.
    pub(crate) tls: bool,
    /// The host-list entry reached, as libpq's `PQhost` shows it: its `host` as given (a
    /// name, an address, a socket directory), or its `hostaddr` when no `host` was given.
    pub(crate) host: String,
    /// Its port (libpq's `PQport`).
    pub(crate) port: u16,
}

/// A resolved place to connect to, with what libpq shows for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
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

/// What a sent buffer was, for the text of a failed write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sending {
    #[cfg_attr(not(feature = "tls"), allow(dead_code, reason = "TLS only"))]
    SslRequest,
    StartupPacket,
    Startup,
    Probe,
    Terminate,
}

/// The I/O the caller was last asked for, to attribute errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaiting {
    Nothing,
    Send(Sending),
    Receive,
    /// The startup machine chose SCRAM and waits for the client nonce.
    Nonce,
}

/// The channel-binding data of a TLS connection, or why there is none.
#[cfg(feature = "tls")]
type EndPoint = Option<Result<Vec<u8>, crate::tls::TlsError>>;
#[cfg(not(feature = "tls"))]
type EndPoint = Option<std::convert::Infallible>;

#[derive(Debug)]
enum State {
    /// Start host-list entry `self.target`.
    StartTarget,
    /// Waiting for the addresses of a name.
    Resolving { host: String, port: u16 },
    /// Start the next address of the current entry.
    StartAddress,
    /// Start try `self.try_index` of the TLS plan at the current address.
    StartTry,
    /// Waiting for the socket.
    Opening,
    /// SSLRequest sent; waiting for the answer.
    #[cfg_attr(not(feature = "tls"), allow(dead_code, reason = "TLS only"))]
    Negotiating {
        negotiation: Negotiation,
        received: Vec<u8>,
    },
    /// Waiting for the TLS handshake.
    #[cfg(feature = "tls")]
    Handshaking,
    /// The startup exchange.
    Startup(Box<Startup>),
    /// The `target_session_attrs` check's query.
    Probe(Box<Probe>),
    /// Done or Failed was returned.
    Over,
}

/// The `target_session_attrs` check's query under way.
#[derive(Debug)]
struct Probe {
    query: Query,
    machine: SimpleQuery,
    ready: Ready,
    /// Statements finished so far.
    results: usize,
    /// Rows of the first statement.
    rows: usize,
    /// The first row's first value (SQL NULL as empty).
    value: Option<Vec<u8>>,
    /// The server answered with an error (the first one).
    error: Option<Box<ErrorFields>>,
}

/// The connect machine. See the module documentation.
#[derive(Debug)]
pub(crate) struct Connect {
    config: Resolved,
    failures: Failures,
    state: State,
    /// The host-list entry being tried.
    target: usize,
    /// `prefer-standby` found no standby and goes over the hosts again, taking any server.
    second_pass: bool,
    /// What the server connected to has said about itself.
    server: ServerState,
    /// `load_balance_hosts=random`'s generator.
    shuffler: Option<Shuffler>,
    /// The addresses of the current entry, and the next one to try.
    endpoints: Vec<Endpoint>,
    next_endpoint: usize,
    /// The address being tried.
    endpoint: Option<Endpoint>,
    /// The port of the current entry.
    port: u16,
    /// The TLS plan at the current address, and the try under way.
    plan: &'static [bool],
    try_index: usize,
    /// `connect_timeout`'s end for the current address.
    deadline: Option<Instant>,
    /// Whether a socket is open (it must be closed before the next one).
    socket_open: bool,
    /// Whether the open socket is TLS.
    tls_up: bool,
    /// The terminal action not yet returned, and bytes to send before anything else.
    queue: VecDeque<Action>,
    out: Vec<u8>,
    out_kind: Sending,
    awaiting: Awaiting,
    reader: FrameReader,
}

impl Connect {
    /// A machine that will try `config`'s hosts in order, or, with
    /// `load_balance_hosts=random`, in an order drawn from `seed` (libpq seeds its generator
    /// from the operating system's random source; so should the caller). Without it the
    /// seed is not used.
    pub(crate) fn new(mut config: Resolved, seed: u64) -> Self {
        let mut shuffler =
            (config.load_balance_hosts == LoadBalanceHosts::Random).then(|| Shuffler::new(seed));
        if let Some(shuffler) = &mut shuffler {
            // Each host keeps its password file entry.
            let mut hosts: Vec<_> = std::mem::take(&mut config.targets)
                .into_iter()
                .zip(std::mem::take(&mut config.file_passwords))
                .collect();
            shuffler.shuffle(&mut hosts);
            (config.targets, config.file_passwords) = hosts.into_iter().unzip();
        }
        Self {
            shuffler,
            config,
            failures: Failures::default(),
            state: State::StartTarget,
            target: 0,
            second_pass: false,
            server: ServerState::default(),
            endpoints: Vec::new(),
            next_endpoint: 0,
            endpoint: None,
            port: 0,
            plan: &[false],
            try_index: 0,
            deadline: None,
            socket_open: false,
            tls_up: false,
            queue: VecDeque::new(),
            out: Vec::new(),
            out_kind: Sending::Startup,
            awaiting: Awaiting::Nothing,
            reader: FrameReader::new(Limits::default()),
        }
    }

    /// The deadline of the I/O asked for (`connect_timeout` at the current address), if
    /// any. A resolve has none.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        if self.in_attempt() || self.awaiting != Awaiting::Nothing || !self.out.is_empty() {
            self.deadline
        } else {
            None
        }
    }

    /// The failures gathered so far.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn failures(&self) -> &Failures {
        &self.failures
    }

    /// What to do next. `now` is the current time (never read here).
    pub(crate) fn poll(&mut self, now: Instant) -> Action {
        // A poll after a write means it was written.
        if let Awaiting::Send(_) = self.awaiting {
            self.awaiting = Awaiting::Nothing;
        }
        loop {
            if self.in_attempt() && self.deadline.is_some_and(|d| now >= d) {
                self.fail(AttemptFailure::Timeout, false);
                continue;
            }
            if !self.out.is_empty() {
                self.awaiting = Awaiting::Send(self.out_kind);
                return Action::Send(std::mem::take(&mut self.out));
            }
            if let Some(action) = self.queue.pop_front() {
                return action;
            }
            if let Some(action) = self.step(now) {
                return action;
            }
        }
    }

    /// One transition; `Some` when the caller must act.
    fn step(&mut self, now: Instant) -> Option<Action> {
        match &mut self.state {
            State::StartTarget => {
                self.start_target();
                None
            }
            State::Resolving { host, port } => Some(Action::Resolve {
                host: host.clone(),
                port: *port,
            }),
            State::StartAddress => {
                self.start_address(now);
                None
            }
            State::StartTry => self.start_try(),
            State::Opening => Some(match &self.endpoint {
                Some(Endpoint::Tcp { addr, .. }) => match self.config.tcp.socket_options() {
                    Ok(options) => Action::OpenTcp {
                        addr: *addr,
                        options,
                    },
                    Err(text) => {
                        self.fail(AttemptFailure::SocketOptions { text }, false);
                        return None;
                    }
                },
                Some(Endpoint::Unix { path }) => Action::OpenUnix { path: path.clone() },
                None => {
                    self.state = State::StartAddress;
                    return None;
                }
            }),
            State::Negotiating { .. } => {
                self.awaiting = Awaiting::Receive;
                Some(Action::Receive)
            }
            #[cfg(feature = "tls")]
            State::Handshaking => Some(Action::StartTls {
                host: self.current_host().to_owned(),
            }),
            State::Startup(_) => self.step_startup(),
            State::Probe(_) => self.step_probe(),
            State::Over => Some(Action::Failed(self.error())),
        }
    }

    /// The entry's port and addresses (numeric ones without a lookup).
    fn start_target(&mut self) {
        if self.target >= self.config.targets.len()
            && self.config.target_session_attrs == TargetSessionAttrs::PreferStandby
            && !self.second_pass
            && !self.config.targets.is_empty()
        {
            // No standby anywhere: start over, taking any server.
            self.second_pass = true;
            self.target = 0;
        }
        let Some(target) = self.config.targets.get(self.target) else {
            self.finish_failed();
            return;
        };
        self.endpoints.clear();
        self.next_endpoint = 0;
        let port = match &target.port {
            Ok(port) => *port,
            Err(text) => {
                let failure = AttemptFailure::Port { text: text.clone() };
                let then = failure.then();
                self.failures.push(failure);
                self.go(then);
                return;
            }
        };
        self.port = port;
        let resolved = match &target.address {
            Address::Unix(dir) => {
                // libpq's UNIXSOCK_PATH prints the port as a number, not as given.
                let path = format!("{dir}/.s.PGSQL.{port}");
                if path.len() > MAX_UNIX_PATH {
                    Err(ResolveError::PathTooLong { path })
                } else {
                    Ok(vec![Endpoint::Unix { path }])
                }
            }
            Address::Tcp(host) => match &target.hostaddr {
                Some(hostaddr) => match hostaddr.trim().parse::<IpAddr>() {
                    Ok(ip) => Ok(vec![Endpoint::Tcp {
                        addr: SocketAddr::new(ip, port),
                        shown_host: hostaddr.clone(),
                        show_addr: false,
                    }]),
                    Err(source) => Err(ResolveError::Hostaddr {
                        hostaddr: hostaddr.clone(),
                        source,
                    }),
                },
                None => match host.parse::<IpAddr>() {
                    Ok(ip) => Ok(tcp_endpoints(host, vec![SocketAddr::new(ip, port)])),
                    Err(_) => {
                        self.state = State::Resolving {
                            host: host.clone(),
                            port,
                        };
                        return;
                    }
                },
            },
        };
        match resolved {
            Ok(endpoints) => {
                self.endpoints = endpoints;
                self.state = State::StartAddress;
            }
            Err(e) => {
                self.failures.push(AttemptFailure::Resolve(e));
                self.go(Then::NextHost);
            }
        }
    }

    /// The addresses of the name being looked up, in `getaddrinfo` order.
    pub(crate) fn handle_resolved(&mut self, _now: Instant, result: io::Result<Vec<SocketAddr>>) {
        let State::Resolving { host, .. } = &self.state else {
            return;
        };
        match result {
            Ok(addrs) => {
                self.endpoints = tcp_endpoints(host, addrs);
                if let Some(shuffler) = &mut self.shuffler {
                    shuffler.shuffle(&mut self.endpoints);
                }
                self.state = State::StartAddress;
            }
            Err(source) => {
                let host = host.clone();
                self.failures
                    .push(AttemptFailure::Resolve(ResolveError::Lookup {
                        host,
                        source: OsError::new(source),
                    }));
                self.go(Then::NextHost);
            }
        }
    }

    fn start_address(&mut self, now: Instant) {
        let Some(endpoint) = self.endpoints.get(self.next_endpoint).cloned() else {
            self.go(Then::NextHost);
            return;
        };
        self.next_endpoint = self.next_endpoint.saturating_add(1);
        self.plan = self.tls_plan(&endpoint);
        self.try_index = 0;
        self.endpoint = Some(endpoint);
        self.deadline = self
            .config
            .connect_timeout
            .and_then(|timeout| now.checked_add(timeout));
        self.state = State::StartTry;
    }

    /// Which tries to make at one address, TLS or not (TLS only over TCP).
    fn tls_plan(&self, endpoint: &Endpoint) -> &'static [bool] {
        #[cfg(feature = "tls")]
        if matches!(endpoint, Endpoint::Tcp { .. }) {
            use crate::tls::SslMode;
            return match self.config.tls.effective_mode() {
                SslMode::Disable => &[false],
                SslMode::Allow => &[false, true],
                SslMode::Prefer => &[true, false],
                _ => &[true],
            };
        }
        let _ = endpoint;
        &[false]
    }

    fn start_try(&mut self) -> Option<Action> {
        self.reader = FrameReader::new(Limits::default());
        self.tls_up = false;
        // libpq reads connect_timeout once an attempt would wait (a TCP connect under way,
        // a Unix socket connected): a bad value is added there, and stops everything. The
        // TCP options are checked first, for each TCP address.
        if let Some(Endpoint::Tcp { .. }) = &self.endpoint {
            if let Err(text) = self.config.tcp.socket_options() {
                self.fail(AttemptFailure::SocketOptions { text }, false);
                return None;
            }
            if self.bad_timeout() {
                return None;
            }
        }
        self.state = State::Opening;
        None
    }

    /// Records a `connect_timeout` that is not an integer, if it is not.
    fn bad_timeout(&mut self) -> bool {
        match &self.config.connect_timeout_error {
            Some(e) => {
                let failure = AttemptFailure::ConnectTimeoutSetting(e.clone());
                self.fail(failure, false);
                true
            }
            None => false,
        }
    }

    /// The socket asked for is open, or why it is not.
    pub(crate) fn handle_opened(
        &mut self,
        _now: Instant,
        result: Result<(), (OpenStage, io::Error)>,
    ) {
        if !matches!(self.state, State::Opening) {
            return;
        }
        let Some(endpoint) = self.endpoint.clone() else {
            return;
        };
        if let Err((stage, source)) = result {
            let e = OpenError {
                place: self.place(),
                stage,
                source: OsError::new(source),
            };
            self.fail(AttemptFailure::Open(e), false);
            return;
        }
        self.socket_open = true;
        match endpoint {
            Endpoint::Unix { .. } => {
                if !self.bad_timeout() {
                    self.begin_startup(None);
                }
            }
            Endpoint::Tcp { .. } => {
                let use_tls = self.plan.get(self.try_index).copied().unwrap_or(false);
                if use_tls {
                    self.start_tls_negotiation();
                } else {
                    self.begin_startup(None);
                }
            }
        }
    }

    #[cfg(feature = "tls")]
    fn start_tls_negotiation(&mut self) {
        use crate::tls::SslMode;
        let settings = &self.config.tls;
        if let Err(e) = settings.check() {
            let retry = settings.effective_mode() == SslMode::Prefer;
            self.fail(AttemptFailure::Tls(e), retry);
            return;
        }
        if settings.direct {
            self.state = State::Handshaking;
            return;
        }
        let negotiation =
            Negotiation::new(Encryption::Ssl, settings.effective_mode().requires_tls());
        negotiation.request(&mut self.out);
        self.out_kind = Sending::SslRequest;
        self.state = State::Negotiating {
            negotiation,
            received: Vec::new(),
        };
    }

    #[cfg(not(feature = "tls"))]
    fn start_tls_negotiation(&mut self) {
        let _ = (Encryption::Ssl, Negotiation::new);
        self.begin_startup(None);
    }

    /// The TLS handshake asked for is done: the channel-binding data (or why there is
    /// none), or why the handshake failed.
    #[cfg(feature = "tls")]
    pub(crate) fn handle_tls(
        &mut self,
        _now: Instant,
        result: Result<Result<Vec<u8>, crate::tls::TlsError>, crate::tls::TlsError>,
    ) {
        use crate::tls::SslMode;
        if !matches!(self.state, State::Handshaking) {
            return;
        }
        match result {
            Ok(end_point) => {
                self.tls_up = true;
                self.begin_startup(Some(end_point));
            }
            Err(e) => {
                let retry = self.config.tls.effective_mode() == SslMode::Prefer
                    && !e.is_verification_failure();
                self.fail(AttemptFailure::Tls(e), retry);
            }
        }
    }

    /// The socket is ready for the startup packet: the startup machine, and its packet to
    /// send.
    fn begin_startup(&mut self, end_point: EndPoint) {
        let mut startup = self.startup_config(end_point);
        startup.database = Some(self.config.dbname.clone());
        let mut machine = Startup::new(startup);
        let mut out = Vec::new();
        if let Err(error) = machine.start(&mut out) {
            let failure = self.startup_failure(error);
            self.fail(failure, false);
            return;
        }
        self.out = out;
        self.out_kind = Sending::StartupPacket;
        self.state = State::Startup(Box::new(machine));
    }

    /// The nonce asked for, or `None` when no random bytes could be had (libpq's `could
    /// not generate nonce`, where libpq draws it: once the server has asked for SCRAM).
    pub(crate) fn handle_nonce(&mut self, _now: Instant, nonce: Option<[u8; 18]>) {
        let State::Startup(machine) = &mut self.state else {
            return;
        };
        if self.awaiting != Awaiting::Nonce {
            return;
        }
        self.awaiting = Awaiting::Nothing;
        let Some(nonce) = nonce else {
            self.fail(AttemptFailure::Nonce, false);
            return;
        };
        self.out_kind = Sending::Startup;
        if let Err(error) = machine.handle_nonce(nonce, &mut self.out) {
            let failure = self.startup_failure(error);
            self.fail(failure, false);
        }
    }

    fn startup_config(&self, end_point: EndPoint) -> StartupConfig {
        let config = &self.config;
        let mut startup = StartupConfig::new(config.user.clone());
        startup.auth_policy.channel_binding = config.channel_binding;
        startup.auth_policy.require_auth = config.require_auth.clone();
        startup.protocol = config.protocol;
        // The hash, or why there is none: the protocol looks at it only when
        // SCRAM-SHA-256-PLUS is chosen (libpq), so trust, password and MD5 roles connect
        // whatever the certificate's signature algorithm.
        #[cfg(feature = "tls")]
        {
            startup.tls_server_end_point = end_point.map(|r| r.map_err(|e| e.to_string()));
        }
        #[cfg(not(feature = "tls"))]
        let _ = end_point;
        let (password, _) = config.password_for(self.target);
        startup.password = password.map(|p| p.as_bytes().to_vec());
        if let Some(p) = password {
            startup.scram_keys = scram_cache::lookup(p.as_bytes());
        }
        startup.params = config.startup_params.clone();
        startup
    }

    /// Bytes from the server.
    pub(crate) fn handle_received(&mut self, _now: Instant, bytes: &[u8]) {
        if self.awaiting == Awaiting::Receive {
            self.awaiting = Awaiting::Nothing;
        }
        match &mut self.state {
            State::Negotiating {
                negotiation,
                received,
            } => {
                received.extend_from_slice(bytes);
                match negotiation.handle(received) {
                    Ok(None) => {}
                    // As libpq, read the certificate files only once the server said `S`:
                    // a server without TLS is reported as such even when a file is missing.
                    Ok(Some(Outcome::Accepted)) => {
                        #[cfg(feature = "tls")]
                        {
                            self.state = State::Handshaking;
                        }
                    }
                    Ok(Some(_)) => {
                        // `N`: on in the clear; what came after it is the startup exchange.
                        let rest = received.get(1..).unwrap_or_default().to_vec();
                        self.reader.extend_from_slice(&rest);
                        self.begin_startup(None);
                    }
                    Err(e) => self.fail(AttemptFailure::SslAnswer(e), false),
                }
            }
            State::Startup(_) | State::Probe(_) => self.reader.extend_from_slice(bytes),
            _ => {}
        }
    }

    /// The server closed the connection.
    pub(crate) fn handle_eof(&mut self, _now: Instant) {
        self.awaiting = Awaiting::Nothing;
        match &self.state {
            State::Negotiating { .. } => self.fail(AttemptFailure::Closed { tls: false }, false),
            State::Startup(_) => {
                let tls = self.tls_up;
                self.fail(AttemptFailure::Closed { tls }, false);
            }
            State::Probe(_) => {
                let tls = self.tls_up;
                self.probe_lost(AttemptFailure::Closed { tls });
            }
            _ => {}
        }
    }

    /// A write or a read failed (not at the deadline).
    pub(crate) fn handle_io_error(&mut self, _now: Instant, error: io::Error) {
        let awaiting = std::mem::replace(&mut self.awaiting, Awaiting::Nothing);
        let e = OsError::new(error);
        match awaiting {
            Awaiting::Send(Sending::Terminate) | Awaiting::Nothing if !self.in_attempt() => {}
            Awaiting::Send(Sending::SslRequest) => self.fail(AttemptFailure::SslSend(e), false),
            Awaiting::Send(Sending::StartupPacket) => {
                self.fail(AttemptFailure::StartupSend(e), false)
            }
            Awaiting::Send(Sending::Startup) => self.fail(AttemptFailure::Send(e), false),
            Awaiting::Send(Sending::Probe) => self.probe_lost(AttemptFailure::Send(e)),
            _ => match &self.state {
                State::Probe(_) => self.probe_lost(AttemptFailure::Receive(e)),
                State::Negotiating { .. } | State::Startup(_) => {
                    self.fail(AttemptFailure::Receive(e), false)
                }
                _ => {}
            },
        }
    }

    /// The deadline passed while waiting.
    pub(crate) fn handle_timeout(&mut self, _now: Instant) {
        self.awaiting = Awaiting::Nothing;
        if self.in_attempt() {
            self.fail(AttemptFailure::Timeout, false);
        }
    }

    fn step_startup(&mut self) -> Option<Action> {
        let State::Startup(machine) = &mut self.state else {
            return None;
        };
        if self.awaiting == Awaiting::Nonce {
            return Some(Action::Nonce);
        }
        // The machine frames what was read, with libpq's raw checks before authentication.
        let result = match machine.next_frame(&mut self.reader) {
            Ok(Some(frame)) => machine.handle(frame, &mut self.out),
            Ok(None) => {
                self.awaiting = Awaiting::Receive;
                return Some(Action::Receive);
            }
            Err(e) => Err(e),
        };
        self.out_kind = Sending::Startup;
        match result {
            Ok(Step::Continue) => None,
            Ok(Step::Nonce) => {
                self.awaiting = Awaiting::Nonce;
                Some(Action::Nonce)
            }
            Ok(Step::Done(mut ready)) => {
                let (password, _) = self.config.password_for(self.target);
                if let (Some(keys), Some(p)) = (ready.scram_keys.take(), password) {
                    scram_cache::insert(p.as_bytes(), keys);
                }
                self.server = ServerState::from_ready(&ready);
                self.check_target(ready);
                None
            }
            Err(error) => {
                self.out.clear();
                let failure = self.startup_failure(error);
                // A server error before authentication is retried with the other choice,
                // but only if this try really used what it meant to (`prefer` after `N`
                // does not retry).
                let use_tls = self.plan.get(self.try_index).copied().unwrap_or(false);
                let retry = failure.is_server_error_before_auth() && use_tls == self.tls_up;
                self.fail(failure, retry);
                None
            }
        }
    }

    fn startup_failure(&self, error: pgcluster_protocol::startup::StartupError) -> AttemptFailure {
        let (_, from_file) = self.config.password_for(self.target);
        let password_file = if from_file {
            self.config
                .passfile
                .clone()
                .or_else(|| self.config.password_file.clone())
        } else {
            None
        };
        AttemptFailure::Startup {
            error: std::sync::Arc::new(error),
            password_file,
        }
    }

    /// The `target_session_attrs` check, with what the server has said so far: keep the
    /// connection, turn the server down, or ask it.
    fn check_target(&mut self, ready: Ready) {
        let mode = self.config.target_session_attrs;
        match target::check(mode, self.second_pass, &self.server) {
            Verdict::Accept => self.finish_done(ready),
            Verdict::Reject(outcome) => self.probe_rejected(outcome, None, true),
            Verdict::Ask(query) => {
                if frontend::query(query.sql(), &mut self.out).is_err() {
                    self.out.clear();
                }
                self.out_kind = Sending::Probe;
                self.state = State::Probe(Box::new(Probe {
                    query,
                    machine: SimpleQuery::new(),
                    ready,
                    results: 0,
                    rows: 0,
                    value: None,
                    error: None,
                }));
            }
        }
    }

    fn step_probe(&mut self) -> Option<Action> {
        let State::Probe(probe) = &mut self.state else {
            return None;
        };
        let frame = match self.reader.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                self.awaiting = Awaiting::Receive;
                return Some(Action::Receive);
            }
            Err(_) => {
                self.probe_failed();
                return None;
            }
        };
        let event = match probe.machine.handle(frame) {
            Ok(event) => event,
            Err(_) => {
                self.probe_failed();
                return None;
            }
        };
        match event {
            QueryEvent::Row(row) if probe.results == 0 => {
                probe.rows = probe.rows.saturating_add(1);
                if probe.rows == 1 {
                    probe.value = Some(
                        row.values()
                            .next()
                            .flatten()
                            .map(<[u8]>::to_vec)
                            .unwrap_or_default(),
                    );
                }
            }
            QueryEvent::CommandComplete(_) | QueryEvent::EmptyQuery => {
                probe.results = probe.results.saturating_add(1);
            }
            QueryEvent::Error(fields) => {
                probe.error.get_or_insert(fields);
            }
            QueryEvent::Notice(fields) => probe.ready.add_notice(*fields),
            QueryEvent::ParameterStatus { name, value } => {
                self.server.parameter(&name, &value);
                // As on an open connection, a new name past the cap is ignored.
                let _ignored = probe.ready.parameters.set(name, value);
            }
            QueryEvent::CopyIn(_) | QueryEvent::CopyOut(_) => {
                self.probe_failed();
                return None;
            }
            QueryEvent::Ready(status) => {
                // libpq: the first result must be rows, exactly one.
                let _: TransactionStatus = status;
                let answered = probe.error.is_none() && probe.results >= 1 && probe.rows == 1;
                if !answered {
                    let error = probe.error.take().map(|fields| ProbeError {
                        fields: Arc::from(fields),
                        sql: probe.query.sql(),
                    });
                    self.probe_rejected(self.query_failed(), error, true);
                    return None;
                }
                let State::Probe(probe) = std::mem::replace(&mut self.state, State::Over) else {
                    return None;
                };
                let probe = *probe;
                self.server
                    .answer(probe.query, probe.value.as_deref().unwrap_or_default());
                self.check_target(probe.ready);
            }
            _ => {}
        }
        None
    }

    /// The check's answer could not be read (a protocol error, COPY): no Terminate, and
    /// the next host.
    fn probe_failed(&mut self) {
        self.probe_rejected(self.query_failed(), None, false);
    }

    /// The connection was lost while the check's query was under way (`cause`): libpq
    /// gives up there, as it does when the socket fails (`error_return`), with no other
    /// host tried.
    fn probe_lost(&mut self, cause: AttemptFailure) {
        let place = (self.config.target_session_attrs != TargetSessionAttrs::ReadWrite)
            .then(|| self.place());
        let lost = AttemptFailure::ProbeLost {
            cause: Box::new(cause),
            place,
        };
        self.fail(lost, false);
    }

    /// The failure of the check's query under way: libpq 13's text for `read-write`.
    fn query_failed(&self) -> ProbeOutcome {
        match (&self.state, self.config.target_session_attrs) {
            (_, TargetSessionAttrs::ReadWrite) => ProbeOutcome::Failed,
            (State::Probe(probe), _) => ProbeOutcome::QueryFailed(probe.query.label()),
            _ => ProbeOutcome::Failed,
        }
    }

    /// The check turned the server down: Terminate (when the connection is still in
    /// step), close, and the next host.
    fn probe_rejected(&mut self, outcome: ProbeOutcome, error: Option<ProbeError>, healthy: bool) {
        let target = self.config.targets.get(self.target);
        // As in the connect failure texts: `hostaddr` when given, else `host`.
        let host = target
            .map(|t| t.hostaddr.as_deref().unwrap_or(&t.host))
            .unwrap_or_default();
        let server = format!("\"{host}:{}\"", self.shown_port());
        let place = self.place();
        self.out.clear();
        if healthy {
            frontend::terminate(&mut self.out);
            self.out_kind = Sending::Terminate;
        }
        self.record(AttemptFailure::Probe {
            outcome,
            error,
            server,
            place,
        });
        self.close_socket();
        self.go(Then::NextHost);
    }

    /// Records `failure` and goes where libpq goes; with `retry`, the next try of the plan
    /// at the same address when there is one.
    fn fail(&mut self, failure: AttemptFailure, retry: bool) {
        self.out.clear();
        self.awaiting = Awaiting::Nothing;
        let then = failure.then();
        self.record(failure);
        // Nothing more is read from this socket: let go of what its reader holds (a large
        // message's buffer) before the error is built.
        self.reader = FrameReader::new(Limits::default());
        self.close_socket();
        let next_try = self.try_index.saturating_add(1);
        if retry && next_try < self.plan.len() && self.in_attempt() {
            self.try_index = next_try;
            self.state = State::StartTry;
            return;
        }
        self.go(then);
    }

    /// Records a failure at the current address (after the earlier try's, on a retry).
    fn record(&mut self, failure: AttemptFailure) {
        if self.try_index > 0 {
            self.failures.push_retry(failure);
        } else {
            self.failures.push(failure);
        }
    }

    fn close_socket(&mut self) {
        if self.socket_open {
            self.socket_open = false;
            self.queue.push_back(Action::Close);
        }
    }

    fn go(&mut self, then: Then) {
        match then {
            Then::NextAddress => self.state = State::StartAddress,
            Then::NextHost => {
                self.target = self.target.saturating_add(1);
                self.state = State::StartTarget;
            }
            Then::Stop => self.finish_failed(),
        }
    }

    fn finish_failed(&mut self) {
        self.state = State::Over;
        self.queue.push_back(Action::Failed(self.error()));
    }

    fn finish_done(&mut self, ready: Ready) {
        self.state = State::Over;
        let reader = std::mem::replace(&mut self.reader, FrameReader::new(Limits::default()));
        self.socket_open = false;
        let host = match self.config.targets.get(self.target) {
            Some(t) if t.host.is_empty() => t.hostaddr.clone().unwrap_or_default(),
            Some(t) => t.host.clone(),
            None => String::new(),
        };
        self.queue.push_back(Action::Done(Box::new(Established {
            reader,
            ready,
            tls: self.tls_up,
            host,
            port: self.port,
        })));
    }

    fn error(&self) -> ConnectError {
        ConnectError::from_failures(self.failures.clone())
    }

    /// Whether an attempt at an address is under way (`connect_timeout` applies).
    fn in_attempt(&self) -> bool {
        match self.state {
            State::StartTry
            | State::Opening
            | State::Negotiating { .. }
            | State::Startup(_)
            | State::Probe(_) => true,
            #[cfg(feature = "tls")]
            State::Handshaking => true,
            State::StartTarget | State::Resolving { .. } | State::StartAddress | State::Over => {
                false
            }
        }
    }

    /// The `host` option of the current entry, as given.
    #[cfg_attr(not(feature = "tls"), allow(dead_code, reason = "TLS only"))]
    fn current_host(&self) -> &str {
        self.config
            .targets
            .get(self.target)
            .map(|t| t.host.as_str())
            .unwrap_or_default()
    }

    /// The address being tried, as libpq's texts show it.
    fn place(&self) -> Place {
        match &self.endpoint {
            Some(Endpoint::Tcp {
                addr,
                shown_host,
                show_addr,
            }) => Place::Tcp {
                shown_host: shown_host.clone(),
                addr: show_addr.then(|| addr.ip()),
                port: self.shown_port().to_owned(),
            },
            Some(Endpoint::Unix { path }) => Place::Unix { path: path.clone() },
            None => Place::Unix {
                path: String::new(),
            },
        }
    }

    /// The port as libpq prints it: as given, or `5432` when empty.
    fn shown_port(&self) -> &str {
        match self.config.targets.get(self.target) {
            Some(t) if !t.port_text.is_empty() => &t.port_text,
            _ => "5432",
        }
    }
}

/// A name's addresses, with what libpq shows for each.
fn tcp_endpoints(host: &str, addrs: Vec<SocketAddr>) -> Vec<Endpoint> {
    addrs
        .into_iter()
        .map(|addr| Endpoint::Tcp {
            addr,
            shown_host: host.to_owned(),
            show_addr: addr.ip().to_string() != *host,
        })
        .collect()
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    //! The connect walk with no socket and a made-up clock: a scripted world answers each
    //! action. Expected texts are libpq 13's, as the socket tests (tests/connect_failures.rs,
    //! tests/libpq_compat.rs, tests/tls.rs) pin them against real and fake servers.

    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;
    use crate::conninfo::{Config, Env};
    use pgcluster_protocol::backend_key::BackendKey;

    /// What happens when a socket is opened to an address (one entry per open).
    enum Open {
        /// `connect()` fails with ECONNREFUSED.
        Refuse,
        /// `connect()` never finishes.
        Stall,
        /// Accepted: each Receive gets the next chunk; then EOF. `None` is a chunk that
        /// never comes (the server stays silent).
        Serve(Vec<Option<Vec<u8>>>),
    }

    #[derive(Default)]
    struct World {
        dns: HashMap<String, Vec<IpAddr>>,
        opens: HashMap<SocketAddr, VecDeque<Open>>,
        /// Results of StartTls, in order.
        #[cfg(feature = "tls")]
        tls: VecDeque<Result<Vec<u8>, crate::tls::TlsError>>,
        /// Every address opened, in order.
        opened: Vec<SocketAddr>,
        /// Per opened socket, what was sent on it.
        sent: Vec<Vec<u8>>,
        closes: usize,
        /// Nonces asked for.
        nonces: usize,
        /// The deadlines seen with each I/O action.
        deadlines: Vec<Option<Instant>>,
    }

    impl World {
        fn on(&mut self, addr: &str, open: Open) -> &mut Self {
            let addr: SocketAddr = addr.parse().unwrap();
            self.opens.entry(addr).or_default().push_back(open);
            self
        }

        /// Runs the machine to its end. The clock moves 1 ms per step, and to the
        /// deadline when the world stalls.
        fn run(
            &mut self,
            conn: &mut Connect,
            start: Instant,
        ) -> (Result<Established, ConnectError>, Instant) {
            let mut now = start;
            let mut serving: VecDeque<Option<Vec<u8>>> = VecDeque::new();
            for _ in 0..10_000 {
                now += Duration::from_millis(1);
                let action = conn.poll(now);
                if !matches!(
                    action,
                    Action::Resolve { .. } | Action::Done(_) | Action::Failed(_)
                ) {
                    self.deadlines.push(conn.deadline());
                }
                match action {
                    Action::Resolve { host, port } => {
                        let result = match self.dns.get(&host) {
                            Some(ips) => {
                                Ok(ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect())
                            }
                            None => Err(io::Error::other(
                                "failed to lookup address information: Name or service not known",
                            )),
                        };
                        conn.handle_resolved(now, result);
                    }
                    Action::OpenTcp { addr, .. } => {
                        self.opened.push(addr);
                        let open = self
                            .opens
                            .get_mut(&addr)
                            .and_then(VecDeque::pop_front)
                            .unwrap_or(Open::Refuse);
                        match open {
                            Open::Refuse => conn.handle_opened(
                                now,
                                Err((OpenStage::Connect, io::Error::from_raw_os_error(111))),
                            ),
                            Open::Stall => {
                                now = conn.deadline().unwrap();
                                conn.handle_timeout(now);
                            }
                            Open::Serve(chunks) => {
                                self.sent.push(Vec::new());
                                serving = chunks.into();
                                conn.handle_opened(now, Ok(()));
                            }
                        }
                    }
                    Action::OpenUnix { path } => panic!("unix {path}"),
                    #[cfg(feature = "tls")]
                    Action::StartTls { host } => {
                        assert!(!host.is_empty());
                        let result = self.tls.pop_front().unwrap();
                        conn.handle_tls(now, result.map(Ok));
                    }
                    Action::Send(bytes) => self.sent.last_mut().unwrap().extend_from_slice(&bytes),
                    Action::Receive => match serving.pop_front() {
                        Some(Some(chunk)) => conn.handle_received(now, &chunk),
                        Some(None) => {
                            now = conn.deadline().unwrap();
                            conn.handle_timeout(now);
                        }
                        None => conn.handle_eof(now),
                    },
                    Action::Nonce => {
                        self.nonces += 1;
                        conn.handle_nonce(now, Some([0; 18]));
                    }
                    Action::Close => self.closes += 1,
                    Action::Done(established) => return (Ok(*established), now),
                    Action::Failed(e) => return (Err(e), now),
                }
            }
            panic!("the machine did not finish");
        }
    }

    /// A machine for `conninfo` (seed 0: only `load_balance_hosts=random` reads it).
    fn machine(conninfo: &str) -> Connect {
        Connect::new(config(conninfo), 0)
    }

    fn config(conninfo: &str) -> Resolved {
        Config::parse(conninfo)
            .and_then(|c| c.resolve(&Env::empty()))
            .unwrap()
    }

    fn message(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![tag];
        m.extend_from_slice(&u32::try_from(body.len() + 4).unwrap().to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    /// AuthenticationOk, BackendKeyData, one ParameterStatus, ReadyForQuery.
    fn trust() -> Vec<u8> {
        let mut m = message(b'R', &0u32.to_be_bytes());
        let mut key = 4242u32.to_be_bytes().to_vec();
        key.extend_from_slice(&7u32.to_be_bytes());
        m.extend(message(b'K', &key));
        m.extend(message(b'S', b"server_version\x0015.0\x00"));
        m.extend(message(b'Z', b"I"));
        m
    }

    fn error_response(severity: &str, code: &str, text: &str) -> Vec<u8> {
        let body = format!("S{severity}\0V{severity}\0C{code}\0M{text}\0\0");
        message(b'E', body.as_bytes())
    }

    /// The reply to `SHOW transaction_read_only`.
    fn show(value: &str) -> Vec<u8> {
        one_value("transaction_read_only", value, b"SHOW")
    }

    /// The reply to `SELECT pg_catalog.pg_is_in_recovery()`.
    fn in_recovery(value: &str) -> Vec<u8> {
        one_value("pg_is_in_recovery", value, b"SELECT 1")
    }

    /// A one-row, one-column reply, then ReadyForQuery.
    fn one_value(column: &str, value: &str, tag: &[u8]) -> Vec<u8> {
        let mut description = 1u16.to_be_bytes().to_vec();
        description.extend_from_slice(column.as_bytes());
        description.push(0);
        description.extend_from_slice(&[0; 4]); // table oid
        description.extend_from_slice(&[0; 2]); // column
        description.extend_from_slice(&25u32.to_be_bytes()); // text
        description.extend_from_slice(&(-1i16).to_be_bytes());
        description.extend_from_slice(&(-1i32).to_be_bytes());
        description.extend_from_slice(&[0; 2]); // text format
        let mut m = message(b'T', &description);
        let mut row = 1u16.to_be_bytes().to_vec();
        row.extend_from_slice(&u32::try_from(value.len()).unwrap().to_be_bytes());
        row.extend_from_slice(value.as_bytes());
        m.extend(message(b'D', &row));
        let mut tag = tag.to_vec();
        tag.push(0);
        m.extend(message(b'C', &tag));
        m.extend(message(b'Z', b"I"));
        m
    }

    /// What PostgreSQL 14 and later report at startup: `trust()` with
    /// `default_transaction_read_only` and `in_hot_standby`.
    fn trust_reporting(read_only: &str, hot_standby: &str) -> Vec<u8> {
        let mut m = message(b'R', &0u32.to_be_bytes());
        m.extend(message(b'S', b"server_version\x0018.0\x00"));
        m.extend(message(
            b'S',
            format!("default_transaction_read_only\0{read_only}\0").as_bytes(),
        ));
        m.extend(message(
            b'S',
            format!("in_hot_standby\0{hot_standby}\0").as_bytes(),
        ));
        m.extend(message(b'Z', b"I"));
        m
    }

    fn primary() -> Open {
        Open::Serve(vec![Some(trust_reporting("off", "off"))])
    }

    fn standby() -> Open {
        Open::Serve(vec![Some(trust_reporting("off", "on"))])
    }

    /// Whether a Query message went out on `sent`.
    fn queried(sent: &[u8], sql: &str) -> bool {
        let mut query = Vec::new();
        frontend::query(sql, &mut query).unwrap();
        sent.windows(query.len()).any(|w| w == query)
    }

    /// libpq 18's line for a server turned down at `127.0.0.1:port`.
    fn at(port: u16, reason: &str) -> String {
        format!("connection to server at \"127.0.0.1\", port {port} failed: {reason}\n")
    }

    fn refused(host: &str, addr: Option<&str>, port: u16) -> String {
        let shown = match addr {
            Some(addr) => format!("\"{host}\" ({addr})"),
            None => format!("\"{host}\""),
        };
        format!(
            "could not connect to server: Connection refused\n\tIs the server running on host {shown} and accepting\n\tTCP/IP connections on port {port}?\n"
        )
    }

    fn text(conn: &Connect) -> String {
        conn.failures().render().0
    }

    /// Whether `sent` holds the startup packet's user and database.
    fn has_startup(sent: &[u8]) -> bool {
        let wanted: &[u8] = b"user\0u\0database\0d\0";
        sent.windows(wanted.len()).any(|w| w == wanted)
    }

    #[test]
    fn refused_then_stalled_past_connect_timeout_then_connected() {
        let mut world = World::default();
        let ips: Vec<IpAddr> = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        world.dns.insert("db.example".to_owned(), ips);
        world
            .on("10.0.0.1:5432", Open::Refuse)
            .on("10.0.0.2:5432", Open::Stall)
            .on("10.0.0.3:5432", Open::Serve(vec![Some(trust())]));
        let mut conn = machine("host=db.example user=u dbname=d connect_timeout=2 sslmode=disable");
        let start = Instant::now();
        let (result, end) = world.run(&mut conn, start);
        let established = result.unwrap();
        assert_eq!(
            established.ready.backend_key,
            BackendKey::new(4242, &[0, 0, 0, 7])
        );
        assert_eq!(
            established.ready.parameters.iter().collect::<Vec<_>>(),
            [("server_version", "15.0")]
        );
        assert!(!established.tls);
        // The refusal was added, then the timeout replaced it.
        assert_eq!(conn.failures().len(), 2);
        assert_eq!(text(&conn), "timeout expired\n");
        assert_eq!(world.opened.len(), 3);
        // The stalled address waited its 2 s from when it was tried, on the clock given.
        assert!(end >= start + Duration::from_secs(2));
        assert!(end < start + Duration::from_secs(3));
        assert!(has_startup(&world.sent[0]), "{:?}", world.sent[0]);
        // A trust login draws no random bytes (libpq draws the nonce for SCRAM only).
        assert_eq!(world.nonces, 0);

        // The same walk with the third refused too: libpq's text.
        let mut world = World::default();
        world.dns.insert(
            "db.example".to_owned(),
            vec![
                "10.0.0.1".parse().unwrap(),
                "10.0.0.2".parse().unwrap(),
                "10.0.0.3".parse().unwrap(),
            ],
        );
        world.on("10.0.0.2:5432", Open::Stall);
        let mut conn = machine("host=db.example user=u dbname=d connect_timeout=2 sslmode=disable");
        let e = world.run(&mut conn, start).0.unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "timeout expired\n{}",
                refused("db.example", Some("10.0.0.3"), 5432)
            )
        );
        assert_eq!(e.fields, None);
        assert_eq!(e.failure_count(), 3);
        let source = std::error::Error::source(&e).unwrap();
        assert_eq!(
            source.to_string(),
            refused("db.example", Some("10.0.0.3"), 5432)
        );
        assert!(source.source().is_some(), "the OS error is the cause");
    }

    #[test]
    fn deadlines_come_from_the_clock_given_and_never_go_backwards() {
        let mut world = World::default();
        world
            .on("127.0.0.1:5432", Open::Serve(vec![None]))
            .on("127.0.0.2:5432", Open::Serve(vec![Some(trust())]));
        let mut conn =
            machine("host=127.0.0.1,127.0.0.2 user=u dbname=d connect_timeout=5 sslmode=disable");
        let start = Instant::now();
        let (result, _) = world.run(&mut conn, start);
        assert!(result.is_ok());
        // A silent server: the timeout replaced nothing and the next host connected.
        assert_eq!(text(&conn), "timeout expired\n");
        let deadlines: Vec<Instant> = world.deadlines.iter().flatten().copied().collect();
        assert!(deadlines.windows(2).all(|w| w[0] <= w[1]), "{deadlines:?}");
        let first = deadlines[0];
        assert!(first > start + Duration::from_secs(5) - Duration::from_millis(10));
        assert!(*deadlines.last().unwrap() > first + Duration::from_secs(5));
    }

    #[test]
    fn no_connect_timeout_means_no_deadline() {
        let mut world = World::default();
        world.on("127.0.0.1:5432", Open::Serve(vec![Some(trust())]));
        let mut conn = machine("host=127.0.0.1 user=u dbname=d sslmode=disable");
        assert!(world.run(&mut conn, Instant::now()).0.is_ok());
        assert!(world.deadlines.iter().all(Option::is_none));
    }

    #[test]
    fn a_server_fatal_stops_the_walk_as_libpq_13_does() {
        // libpq 13 goes to error_return on an ErrorResponse during startup: the second
        // host is never tried (tests/connect_failures.rs pins the same against a fake
        // server).
        let mut world = World::default();
        world
            .on(
                "127.0.0.1:5432",
                Open::Serve(vec![Some(error_response(
                    "FATAL",
                    "28000",
                    "no pg_hba.conf entry for host \"127.0.0.1\"",
                ))]),
            )
            .on("127.0.0.2:5432", Open::Serve(vec![Some(trust())]));
        let mut conn = machine("host=127.0.0.1,127.0.0.2 user=u dbname=d sslmode=disable");
        let e = world.run(&mut conn, Instant::now()).0.unwrap_err();
        assert_eq!(
            e.message,
            "FATAL:  no pg_hba.conf entry for host \"127.0.0.1\"\n"
        );
        assert_eq!(e.fields.and_then(|f| f.code).as_deref(), Some("28000"));
        assert_eq!(world.opened.len(), 1);
        assert_eq!(world.closes, 1);

        // After a refusal it is added to the refusal's text.
        let mut world = World::default();
        world.on(
            "127.0.0.2:5433",
            Open::Serve(vec![Some(
                b"EFATAL:  unsupported frontend protocol\0".to_vec(),
            )]),
        );
        let mut conn =
            machine("host=127.0.0.1,127.0.0.2 port=5432,5433 user=u dbname=d sslmode=disable");
        let e = world.run(&mut conn, Instant::now()).0.unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "{}FATAL:  unsupported frontend protocol\n",
                refused("127.0.0.1", None, 5432)
            )
        );
    }

    #[test]
    fn an_error_after_authentication_replaces_the_buffer() {
        let mut world = World::default();
        let mut reply = message(b'R', &0u32.to_be_bytes());
        reply.extend(error_response(
            "FATAL",
            "3D000",
            "database \"d\" does not exist",
        ));
        world.on("127.0.0.2:5432", Open::Serve(vec![Some(reply)]));
        let mut conn = machine("host=127.0.0.1,127.0.0.2 user=u dbname=d sslmode=disable");
        let e = world.run(&mut conn, Instant::now()).0.unwrap_err();
        assert_eq!(e.message, "FATAL:  database \"d\" does not exist\n");
        assert_eq!(e.fields.and_then(|f| f.code).as_deref(), Some("3D000"));
    }

    #[test]
    fn a_read_only_server_is_skipped() {
        let mut world = World::default();
        let mut read_only = trust();
        read_only.extend(show("on"));
        world
            .on(
                "127.0.0.1:5432",
                Open::Serve(vec![Some(trust()), Some(show("on"))]),
            )
            .on("127.0.0.1:5433", Open::Serve(vec![Some(read_only)]))
            .on(
                "127.0.0.1:5434",
                Open::Serve(vec![Some(trust()), Some(show("off"))]),
            );
        let mut conn = machine(
            "host=127.0.0.1,localhost,127.0.0.1 hostaddr=,127.0.0.1, port=5432,5433,5434 \
             user=u dbname=d sslmode=disable target_session_attrs=read-write",
        );
        let established = world.run(&mut conn, Instant::now()).0.unwrap();
        assert_eq!(
            established.ready.backend_key,
            BackendKey::new(4242, &[0, 0, 0, 7])
        );
        assert_eq!(
            text(&conn),
            "could not make a writable connection to server \"127.0.0.1:5432\"\n\
             could not make a writable connection to server \"127.0.0.1:5433\"\n"
        );
        // Each read-only server was sent the query, then Terminate, and closed.
        let mut query = Vec::new();
        frontend::query(Query::TransactionReadOnly.sql(), &mut query).unwrap();
        let mut terminate = Vec::new();
        frontend::terminate(&mut terminate);
        for sent in &world.sent[..2] {
            assert!(sent.ends_with(&[query.as_slice(), &terminate].concat()));
        }
        assert!(world.sent[2].ends_with(&query));
        assert_eq!(world.closes, 2);
    }

    #[test]
    fn a_failed_read_only_test_names_the_server() {
        let mut world = World::default();
        let mut failed = error_response("ERROR", "42704", "unrecognized configuration parameter");
        failed.extend(message(b'Z', b"I"));
        world
            .on(
                "127.0.0.1:5432",
                Open::Serve(vec![Some(trust()), Some(failed)]),
            )
            // The connection is lost during the test: no Terminate.
            .on("127.0.0.1:5433", Open::Serve(vec![Some(trust())]));
        let mut conn = machine(
            "host=127.0.0.1,127.0.0.1 port=5432,5433 user=u dbname=d sslmode=disable \
             target_session_attrs=read-write",
        );
        let e = world.run(&mut conn, Instant::now()).0.unwrap_err();
        // libpq 13 (rexref libpq, against a fake server doing this): the query's error in
        // front of the test's line, and a connection lost during the test ends the walk.
        assert_eq!(
            e.message,
            format!(
                "ERROR:  unrecognized configuration parameter\n\
                 test \"SHOW transaction_read_only\" failed on server \"127.0.0.1:5432\"\n\
                 {}",
                crate::io_text::SERVER_CLOSED
            )
        );
        let mut terminate = Vec::new();
        frontend::terminate(&mut terminate);
        assert!(world.sent[0].ends_with(&terminate));
        assert!(!world.sent[1].ends_with(&terminate));
    }

    #[cfg(feature = "tls")]
    #[test]
    fn ssl_refused_then_plain_with_prefer() {
        let mut world = World::default();
        // `N` and the start of the startup exchange in one read.
        let mut reply = b"N".to_vec();
        reply.extend(trust());
        world.on("127.0.0.1:5432", Open::Serve(vec![Some(reply)]));
        let mut conn = machine("host=127.0.0.1 user=u dbname=d sslmode=prefer");
        let established = world.run(&mut conn, Instant::now()).0.unwrap();
        assert!(!established.tls);
        let mut request = Vec::new();
        frontend::ssl_request(&mut request);
        assert!(world.sent[0].starts_with(&request));
        assert!(has_startup(&world.sent[0]));
        assert_eq!(conn.failures().len(), 0);

        // require: a refusal is libpq's error, added.
        let mut world = World::default();
        world.on("127.0.0.1:5432", Open::Serve(vec![Some(b"N".to_vec())]));
        let mut conn = machine("host=127.0.0.1 user=u dbname=d sslmode=require");
        let e = world.run(&mut conn, Instant::now()).0.unwrap_err();
        assert_eq!(
            e.message,
            "server does not support SSL, but SSL was required\n"
        );
    }

    #[cfg(feature = "tls")]
    #[test]
    fn tls_then_a_server_error_retries_in_the_clear_with_prefer() {
        let text = |encryption: &str| {
            format!(
                "pg_hba.conf rejects connection for host \"127.0.0.1\", user \"u\", database \"d\", {encryption}"
            )
        };
        let mut world = World::default();
        world.tls.push_back(Ok(vec![7; 32]));
        world
            .on(
                "127.0.0.1:5432",
                Open::Serve(vec![
                    Some(b"S".to_vec()),
                    Some(error_response("FATAL", "28000", &text("SSL encryption"))),
                ]),
            )
            .on(
                "127.0.0.1:5432",
                Open::Serve(vec![Some(error_response(
                    "FATAL",
                    "28000",
                    &text("no encryption"),
                ))]),
            );
        let mut conn = machine("host=127.0.0.1 user=u dbname=d sslmode=prefer");
        let e = world.run(&mut conn, Instant::now()).0.unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "FATAL:  {}\nFATAL:  {}\n",
                text("SSL encryption"),
                text("no encryption")
            )
        );
        assert_eq!(world.opened.len(), 2);
        assert_eq!(world.closes, 2);
        // The second try sent no SSLRequest.
        let mut request = Vec::new();
        frontend::ssl_request(&mut request);
        assert!(world.sent[0].starts_with(&request));
        assert!(!world.sent[1].starts_with(&request));
    }

    /// A server certificate that failed a root file's check never leads to a plaintext
    /// retry, even with `prefer`: the next host is tried instead.
    #[cfg(feature = "tls")]
    #[test]
    fn a_failed_verification_never_retries_in_the_clear() {
        let mut world = World::default();
        world.tls.push_back(Err(crate::tls::TlsError::Verify {
            reason: "self-signed certificate".to_owned(),
        }));
        world
            .on("127.0.0.1:5432", Open::Serve(vec![Some(b"S".to_vec())]))
            .on("127.0.0.1:5432", Open::Serve(vec![Some(trust())]));
        let mut conn = machine("host=127.0.0.1 user=u dbname=d sslmode=prefer");
        let e = world.run(&mut conn, Instant::now()).0.unwrap_err();
        assert_eq!(
            e.message,
            "SSL error: certificate verify failed: self-signed certificate\n"
        );
        // One connection only: the SSLRequest; no startup packet went out in the clear.
        assert_eq!(world.sent.len(), 1);
        assert!(!has_startup(&world.sent[0]));
    }

    #[cfg(feature = "tls")]
    #[test]
    fn a_failed_handshake_replaces_and_prefer_connects_in_the_clear() {
        let mut world = World::default();
        world.tls.push_back(Err(crate::tls::TlsError::Handshake(
            "certificate verify failed".to_owned(),
        )));
        world
            .on("127.0.0.1:5432", Open::Refuse)
            .on("127.0.0.2:5432", Open::Serve(vec![Some(b"S".to_vec())]))
            .on("127.0.0.2:5432", Open::Serve(vec![Some(trust())]));
        let mut conn = machine("host=127.0.0.1,127.0.0.2 user=u dbname=d sslmode=prefer");
        let established = world.run(&mut conn, Instant::now()).0.unwrap();
        assert!(!established.tls);
        assert_eq!(text(&conn), "SSL error: certificate verify failed\n");

        // allow: plain first; a server error then TLS, whose handshake fails: replaced.
        let mut world = World::default();
        world.tls.push_back(Err(crate::tls::TlsError::Handshake(
            "certificate verify failed".to_owned(),
        )));
        world
            .on(
                "127.0.0.1:5432",
                Open::Serve(vec![Some(error_response("FATAL", "28000", "rejected"))]),
            )
            .on("127.0.0.1:5432", Open::Serve(vec![Some(b"S".to_vec())]));
        let mut conn = machine("host=127.0.0.1 user=u dbname=d sslmode=allow");
        let e = world.run(&mut conn, Instant::now()).0.unwrap_err();
        assert_eq!(e.message, "SSL error: certificate verify failed\n");
        assert_eq!(e.fields, None);
    }

    #[cfg(feature = "tls")]
    #[test]
    fn tls_up_then_connected() {
        let mut world = World::default();
        world.tls.push_back(Ok(vec![7; 32]));
        world.on(
            "127.0.0.1:5432",
            Open::Serve(vec![Some(b"S".to_vec()), Some(trust())]),
        );
        let mut conn = machine("host=127.0.0.1 user=u dbname=d sslmode=require");
        let established = world.run(&mut conn, Instant::now()).0.unwrap();
        assert!(established.tls);
        // Bytes after `S` are refused (CVE-2021-23222), added, and stop.
        let mut world = World::default();
        world.on("127.0.0.1:5432", Open::Serve(vec![Some(b"SR".to_vec())]));
        let mut conn = machine("host=127.0.0.1,127.0.0.2 user=u dbname=d sslmode=require");
        let e = world.run(&mut conn, Instant::now()).0.unwrap_err();
        assert_eq!(e.message, "received unencrypted data after SSL response\n");
        assert_eq!(world.opened.len(), 1);
    }

    #[test]
    fn host_list_texts_before_any_socket() {
        let mut world = World::default();
        let mut conn = machine(
            "host=nohost.invalid,localhost,127.0.0.1 hostaddr=,abc, port=5432,5432,99999 \
             user=u dbname=d sslmode=disable",
        );
        let e = world.run(&mut conn, Instant::now()).0.unwrap_err();
        assert_eq!(
            e.message,
            "could not translate host name \"nohost.invalid\" to address: Name or service not known\n\
             could not parse network address \"abc\": Name or service not known\n\
             invalid port number: \"99999\"\n"
        );
        assert!(world.opened.is_empty());

        // A connect_timeout that is not an integer is reported when a TCP connect would
        // first wait, after what failed before it, and stops.
        let mut world = World::default();
        let mut conn = machine(
            "host=nohost.invalid,127.0.0.1,127.0.0.2 user=u dbname=d sslmode=disable \
             connect_timeout=abc",
        );
        let e = world.run(&mut conn, Instant::now()).0.unwrap_err();
        assert!(
            e.message.starts_with(
                "could not translate host name \"nohost.invalid\" to address: Name or service not known\n"
            ),
            "{}",
            e.message
        );
        assert_eq!(e.message.lines().count(), 2, "{}", e.message);
        assert!(world.opened.is_empty());
    }

    #[test]
    fn eof_during_startup_is_server_closed() {
        let mut world = World::default();
        world.on("127.0.0.1:5432", Open::Serve(vec![]));
        let mut conn = machine("host=127.0.0.1,127.0.0.2 user=u dbname=d sslmode=disable");
        let e = world.run(&mut conn, Instant::now()).0.unwrap_err();
        assert_eq!(e.message, crate::io_text::SERVER_CLOSED);
        assert_eq!(world.opened.len(), 1);
    }

    #[test]
    fn a_nonce_that_cannot_be_drawn_fails_the_attempt() {
        let mut conn = machine("host=127.0.0.1 user=u password=pw dbname=d sslmode=disable");
        let now = Instant::now();
        assert!(matches!(conn.poll(now), Action::OpenTcp { .. }));
        conn.handle_opened(now, Ok(()));
        assert!(matches!(conn.poll(now), Action::Send(_)));
        assert!(matches!(conn.poll(now), Action::Receive));
        // The nonce is asked for once the server asks for SCRAM, and until it comes.
        conn.handle_received(now, &message(b'R', b"\0\0\0\x0aSCRAM-SHA-256\0\0"));
        assert!(matches!(conn.poll(now), Action::Nonce));
        assert!(matches!(conn.poll(now), Action::Nonce));
        conn.handle_nonce(now, None);
        assert!(matches!(conn.poll(now), Action::Close));
        match conn.poll(now) {
            Action::Failed(e) => assert_eq!(e.message, "could not generate nonce\n"),
            other => panic!("{other:?}"),
        }
        // Polled again, it stays failed.
        assert!(matches!(conn.poll(now), Action::Failed(_)));
    }

    #[test]
    fn numeric_hosts_are_not_looked_up_and_show_the_address_only_when_different() {
        let mut conn =
            machine("host=0:0:0:0:0:0:0:1,127.0.0.1 port=1 user=u dbname=d sslmode=disable");
        let e = World::default()
            .run(&mut conn, Instant::now())
            .0
            .unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "{}{}",
                refused("0:0:0:0:0:0:0:1", Some("::1"), 1),
                refused("127.0.0.1", None, 1)
            )
        );
    }

    #[test]
    fn unix_socket_paths_longer_than_sun_path_are_refused() {
        // 5 + 88 + 14 = 107 bytes: the longest accepted.
        let dir = format!("/tmp/{}", "a".repeat(88));
        let mut conn = machine(&format!("host={dir} user=u dbname=d"));
        match conn.poll(Instant::now()) {
            Action::OpenUnix { path } => assert_eq!(path, format!("{dir}/.s.PGSQL.5432")),
            other => panic!("{other:?}"),
        }
        let dir = format!("/tmp/{}", "a".repeat(89));
        let mut conn = machine(&format!("host={dir} user=u dbname=d"));
        match conn.poll(Instant::now()) {
            Action::Failed(e) => assert_eq!(
                e.message,
                format!(
                    "Unix-domain socket path \"{dir}/.s.PGSQL.5432\" is too long (maximum 107 bytes)\n"
                )
            ),
            other => panic!("{other:?}"),
        }
    }

    const TWO_HOSTS: &str =
        "host=127.0.0.1,127.0.0.1 port=5432,5433 user=u dbname=d sslmode=disable";

    /// Runs `target_session_attrs=mode` over `hosts` (one `Open` per address, in order).
    fn walk(mode: &str, opens: Vec<(&str, Open)>) -> (Result<Established, ConnectError>, World) {
        let mut world = World::default();
        for (addr, open) in opens {
            world.on(addr, open);
        }
        let mut conn = machine(&format!("{TWO_HOSTS} target_session_attrs={mode}"));
        let result = world.run(&mut conn, Instant::now()).0;
        (result, world)
    }

    #[test]
    fn what_the_server_reports_decides_without_a_query() {
        // Every value against a primary then a standby, and a standby then a primary, both
        // reporting as PostgreSQL 14+ do: which port is kept, and the text of the one
        // turned down (libpq 13's for read-write, libpq 18's for the others).
        // (port kept, text of the server turned down) with the primary first, the standby
        // first.
        type Outcomes = [(u16, Option<String>); 2];
        let cases: [(&str, Outcomes); 6] = [
            ("any", [(5432, None), (5432, None)]),
            (
                "read-write",
                [
                    (5432, None),
                    (
                        5433,
                        Some(
                            "could not make a writable connection to server \"127.0.0.1:5432\"\n"
                                .to_owned(),
                        ),
                    ),
                ],
            ),
            (
                "read-only",
                [
                    (5433, Some(at(5432, "session is not read-only"))),
                    (5432, None),
                ],
            ),
            (
                "primary",
                [
                    (5432, None),
                    (5433, Some(at(5432, "server is in hot standby mode"))),
                ],
            ),
            (
                "standby",
                [
                    (5433, Some(at(5432, "server is not in hot standby mode"))),
                    (5432, None),
                ],
            ),
            (
                "prefer-standby",
                [
                    (5433, Some(at(5432, "server is not in hot standby mode"))),
                    (5432, None),
                ],
            ),
        ];
        for (mode, [primary_first, standby_first]) in cases {
            for (order, (port, text)) in [
                ("primary first", primary_first),
                ("standby first", standby_first),
            ] {
                let (a, b) = if order == "primary first" {
                    (primary(), standby())
                } else {
                    (standby(), primary())
                };
                let (result, world) =
                    walk(mode, vec![("127.0.0.1:5432", a), ("127.0.0.1:5433", b)]);
                assert!(result.is_ok(), "{mode} {order}: {result:?}");
                let kept = world.opened.last().unwrap().port();
                assert_eq!(kept, port, "{mode} {order}");
                assert_eq!(
                    world.opened.len(),
                    if text.is_some() { 2 } else { 1 },
                    "{mode} {order}"
                );
                // Nothing was asked: the ParameterStatus messages decided.
                for sent in &world.sent {
                    for sql in [Query::TransactionReadOnly.sql(), Query::InRecovery.sql()] {
                        assert!(!queried(sent, sql), "{mode} {order}: {sql} was sent");
                    }
                }
                if text.is_some() {
                    let mut terminate = Vec::new();
                    frontend::terminate(&mut terminate);
                    assert!(world.sent[0].ends_with(&terminate), "{mode} {order}");
                    assert_eq!(world.closes, 1);
                }
            }
        }
        // The texts of the servers turned down, when no server will do.
        for (mode, first, text) in [
            ("read-only", primary(), at(5432, "session is not read-only")),
            (
                "primary",
                standby(),
                at(5432, "server is in hot standby mode"),
            ),
            (
                "standby",
                primary(),
                at(5432, "server is not in hot standby mode"),
            ),
        ] {
            let (result, _) = walk(mode, vec![("127.0.0.1:5432", first)]);
            let e = result.unwrap_err();
            let refused_second = refused("127.0.0.1", None, 5433);
            assert_eq!(e.message, format!("{text}{refused_second}"), "{mode}");
            assert_eq!(e.fields, None);
        }
    }

    #[test]
    fn a_server_that_reports_nothing_is_asked() {
        // As PostgreSQL 13 and older: the check asks, then decides.
        let (result, world) = walk(
            "primary",
            vec![
                (
                    "127.0.0.1:5432",
                    Open::Serve(vec![Some(trust()), Some(in_recovery("t"))]),
                ),
                (
                    "127.0.0.1:5433",
                    Open::Serve(vec![Some(trust()), Some(in_recovery("f"))]),
                ),
            ],
        );
        let established = result.unwrap();
        assert_eq!(
            established.ready.backend_key,
            BackendKey::new(4242, &[0, 0, 0, 7])
        );
        assert_eq!(world.opened.len(), 2);
        let sql = "SELECT pg_catalog.pg_is_in_recovery()";
        assert!(queried(&world.sent[0], sql) && queried(&world.sent[1], sql));

        let (result, world) = walk(
            "read-only",
            vec![
                (
                    "127.0.0.1:5432",
                    Open::Serve(vec![Some(trust()), Some(show("off"))]),
                ),
                (
                    "127.0.0.1:5433",
                    Open::Serve(vec![Some(trust()), Some(show("on"))]),
                ),
            ],
        );
        assert!(result.is_ok());
        assert!(queried(&world.sent[0], "SHOW transaction_read_only"));
        assert_eq!(world.opened.len(), 2);

        let (result, _) = walk(
            "standby",
            vec![
                (
                    "127.0.0.1:5432",
                    Open::Serve(vec![Some(trust()), Some(in_recovery("f"))]),
                ),
                (
                    "127.0.0.1:5433",
                    Open::Serve(vec![Some(trust()), Some(in_recovery("f"))]),
                ),
            ],
        );
        assert_eq!(
            result.unwrap_err().message,
            format!(
                "{}{}",
                at(5432, "server is not in hot standby mode"),
                at(5433, "server is not in hot standby mode")
            )
        );
    }

    #[test]
    fn a_failed_check_query_names_the_server_in_libpq_18_words() {
        let mut failed = error_response("ERROR", "42883", "function does not exist");
        failed.extend(message(b'Z', b"I"));
        let (result, world) = walk(
            "standby",
            vec![
                (
                    "127.0.0.1:5432",
                    Open::Serve(vec![Some(trust()), Some(failed.clone())]),
                ),
                // The connection is lost during the query.
                ("127.0.0.1:5433", Open::Serve(vec![Some(trust())])),
            ],
        );
        // libpq 18 (its psql, against a fake server doing this): the same, in its words.
        assert_eq!(
            result.unwrap_err().message,
            format!(
                "{}{}",
                at(
                    5432,
                    "ERROR:  function does not exist\n\"SELECT pg_is_in_recovery()\" failed"
                ),
                at(5433, crate::io_text::SERVER_CLOSED.trim_end())
            )
        );
        let mut terminate = Vec::new();
        frontend::terminate(&mut terminate);
        assert!(world.sent[0].ends_with(&terminate));
        assert!(!world.sent[1].ends_with(&terminate));

        let (result, _) = walk(
            "read-only",
            vec![(
                "127.0.0.1:5432",
                Open::Serve(vec![Some(trust()), Some(failed)]),
            )],
        );
        assert_eq!(
            result.unwrap_err().message,
            format!(
                "{}{}",
                at(
                    5432,
                    "ERROR:  function does not exist\n\"SHOW transaction_read_only\" failed"
                ),
                refused("127.0.0.1", None, 5433)
            )
        );
    }

    #[test]
    fn prefer_standby_takes_any_server_in_a_second_pass() {
        // Two primaries: both turned down, then the first taken.
        let (result, world) = walk(
            "prefer-standby",
            vec![
                ("127.0.0.1:5432", primary()),
                ("127.0.0.1:5433", primary()),
                ("127.0.0.1:5432", primary()),
            ],
        );
        assert!(result.is_ok(), "{result:?}");
        let ports: Vec<u16> = world.opened.iter().map(SocketAddr::port).collect();
        assert_eq!(ports, [5432, 5433, 5432]);
        assert_eq!(world.closes, 2);

        // The first refused, the second a primary: the second pass tries the first again.
        let (result, world) = walk(
            "prefer-standby",
            vec![("127.0.0.1:5433", primary()), ("127.0.0.1:5433", primary())],
        );
        assert!(result.is_ok(), "{result:?}");
        let ports: Vec<u16> = world.opened.iter().map(SocketAddr::port).collect();
        assert_eq!(ports, [5432, 5433, 5432, 5433]);

        // Nothing answers: each host's failure twice, in order.
        let (result, world) = walk("prefer-standby", vec![]);
        let once = format!(
            "{}{}",
            refused("127.0.0.1", None, 5432),
            refused("127.0.0.1", None, 5433)
        );
        assert_eq!(result.unwrap_err().message, format!("{once}{once}"));
        assert_eq!(world.opened.len(), 4);

        // A server error stops everything: no second pass.
        let (result, world) = walk(
            "prefer-standby",
            vec![(
                "127.0.0.1:5432",
                Open::Serve(vec![Some(error_response("FATAL", "28000", "no"))]),
            )],
        );
        assert_eq!(result.unwrap_err().message, "FATAL:  no\n");
        assert_eq!(world.opened.len(), 1);

        // standby has no second pass.
        let (result, world) = walk("standby", vec![("127.0.0.1:5432", primary())]);
        assert!(result.is_err());
        assert_eq!(world.opened.len(), 2);
    }

    /// The ports opened, in order, when every address refuses.
    fn ports_tried(conninfo: &str, seed: u64, dns: &[(&str, &[&str])]) -> Vec<SocketAddr> {
        let mut world = World::default();
        for (name, ips) in dns {
            let ips = ips.iter().map(|ip| ip.parse().unwrap()).collect();
            world.dns.insert((*name).to_owned(), ips);
        }
        let mut conn = Connect::new(config(conninfo), seed);
        assert!(world.run(&mut conn, Instant::now()).0.is_err());
        world.opened
    }

    #[test]
    fn load_balance_hosts_random_shuffles_hosts_and_addresses() {
        let hosts = "host=127.0.0.1,127.0.0.2,127.0.0.3 user=u dbname=d sslmode=disable";
        // disable (the default): the order given, whatever the seed.
        for seed in 0..20 {
            let opened = ports_tried(&format!("{hosts} load_balance_hosts=disable"), seed, &[]);
            let ips: Vec<String> = opened.iter().map(|a| a.ip().to_string()).collect();
            assert_eq!(ips, ["127.0.0.1", "127.0.0.2", "127.0.0.3"]);
        }
        // random: every host once, and each first in about a third of 600 seeds (binomial
        // sd ~11.5; 140..260 is over 5 sd either side, and the seeds are fixed anyway).
        let mut first = HashMap::new();
        for seed in 0..600 {
            let opened = ports_tried(&format!("{hosts} load_balance_hosts=random"), seed, &[]);
            let mut ips: Vec<String> = opened.iter().map(|a| a.ip().to_string()).collect();
            *first.entry(ips[0].clone()).or_insert(0u32) += 1;
            ips.sort();
            assert_eq!(ips, ["127.0.0.1", "127.0.0.2", "127.0.0.3"]);
        }
        assert_eq!(first.len(), 3);
        assert!(first.values().all(|n| (140..260).contains(n)), "{first:?}");

        // A name's addresses are shuffled too, each time the name is looked up.
        let dns: &[(&str, &[&str])] = &[("db.example", &["10.0.0.1", "10.0.0.2"])];
        let mut first = HashMap::new();
        for seed in 0..400 {
            let opened = ports_tried(
                "host=db.example user=u dbname=d sslmode=disable load_balance_hosts=random",
                seed,
                dns,
            );
            assert_eq!(opened.len(), 2);
            *first.entry(opened[0].ip()).or_insert(0u32) += 1;
        }
        assert_eq!(first.len(), 2);
        assert!(first.values().all(|n| (140..260).contains(n)), "{first:?}");
        let opened = ports_tried("host=db.example user=u dbname=d sslmode=disable", 1, dns);
        let ips: Vec<String> = opened.iter().map(|a| a.ip().to_string()).collect();
        assert_eq!(
            ips,
            ["10.0.0.1", "10.0.0.2"],
            "resolver order without random"
        );
    }

    #[test]
    fn shuffled_hosts_keep_their_password_file_entries() {
        let mut resolved = config(
            "host=127.0.0.1,127.0.0.2,127.0.0.3 user=u dbname=d sslmode=disable \
             load_balance_hosts=random",
        );
        resolved.file_passwords = vec![Some("one".into()), Some("two".into()), None];
        let mut orders = std::collections::HashSet::new();
        for seed in 0..50 {
            let conn = Connect::new(resolved.clone(), seed);
            let pairs: Vec<(String, Option<&str>)> = conn
                .config
                .targets
                .iter()
                .enumerate()
                .map(|(i, t)| (t.host.clone(), conn.config.password_for(i).0))
                .collect();
            for (host, password) in &pairs {
                let expected = match host.as_str() {
                    "127.0.0.1" => Some("one"),
                    "127.0.0.2" => Some("two"),
                    _ => None,
                };
                assert_eq!(*password, expected, "{pairs:?}");
            }
            orders.insert(pairs.into_iter().map(|(h, _)| h).collect::<Vec<_>>());
        }
        assert_eq!(orders.len(), 6, "every order of three hosts comes up");
    }

    #[test]
    fn prefer_standby_second_pass_keeps_the_shuffled_order() {
        // libpq shuffles the hosts once: the second pass goes over them in the same order.
        let mut world = World::default();
        for port in [5432, 5433, 5434] {
            for _ in 0..2 {
                world.on(&format!("127.0.0.1:{port}"), Open::Refuse);
            }
        }
        let mut conn = Connect::new(
            config(
                "host=127.0.0.1,127.0.0.1,127.0.0.1 port=5432,5433,5434 user=u dbname=d sslmode=disable \
                 load_balance_hosts=random target_session_attrs=prefer-standby",
            ),
            3,
        );
        let _ = world.run(&mut conn, Instant::now());
        assert_eq!(world.opened.len(), 6);
        assert_eq!(world.opened[..3], world.opened[3..]);
    }
}
