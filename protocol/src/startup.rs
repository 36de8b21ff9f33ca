//! The startup and authentication exchange as a state machine: frames in, bytes out.
//!
//! ```text
//! let mut startup = Startup::new(config);
//! startup.start(&mut out)?;                 // StartupMessage appended to `out`
//! // I/O layer: write `out`, read into a FrameReader, then for each frame
//! // (`startup.next_frame(&mut reader)?`, which applies libpq's pre-authentication checks):
//! let mut step = startup.handle(frame, &mut out)?; // may append a password message to `out`
//! if let Step::Nonce = step {               // SCRAM: 18 bytes from a CSPRNG, asked for only now
//!     step = startup.handle_nonce(random_bytes, &mut out)?;
//! }
//! match step {
//!     Step::Continue | Step::Nonce => {}    // write `out` if not empty, read more
//!     Step::Done(ready) => return Ok(ready),
//! }
//! ```

#![expect(
    clippy::result_large_err,
    reason = "StartupError carries ErrorFields by value: it happens at most once per \
              connection, and callers move the fields out"
)]

use std::fmt;

use crate::auth::policy::{AuthPolicy, ChannelBindingMode, PolicyError, Progress};
use crate::auth::scram::{
    ChannelBinding, ScramClient, ScramError, ScramKeys, SCRAM_SHA_256, SCRAM_SHA_256_PLUS,
};
use crate::auth::{md5::md5_password, unsupported_method, AuthError};
use crate::backend::{tag, Authentication, BackendMessage};
use crate::backend_key::{BackendKey, BackendKeyError};
use crate::error_fields::ErrorFields;
use crate::frame::{Frame, FrameReader};
use crate::frontend::{self, EncodeError};
use crate::kept::Kept;
use crate::limits::{Limits, MAX_PRE_V3_ERROR_LEN, MAX_SHORT_MESSAGE_LEN};
use crate::parameters::{Parameters, TooManyParameters};
use crate::version::{self, NegotiationError, ProtocolVersion, VersionRange, MAX_NEGOTIATE_LEN};
use crate::ProtocolError;

/// Largest length word libpq 13 accepts for an authentication request (`R`) during startup.
pub const MAX_AUTH_REQUEST_LEN: u32 = 2000;

/// What the startup exchange needs to know. The password is only used if the server asks.
#[derive(Clone)]
#[non_exhaustive]
pub struct StartupConfig {
    /// Role name (`user`).
    pub user: String,
    /// Database name; the server defaults it to the user name when absent.
    pub database: Option<String>,
    /// Password, if any. An empty password counts as none (libpq).
    pub password: Option<Vec<u8>>,
    /// Further startup parameters, e.g. `("client_encoding", "UTF8")`, `("application_name", ..)`,
    /// `("options", ..)`. Sent after `user` and `database`, in this order.
    pub params: Vec<(String, String)>,
    /// Caps on server-controlled work.
    pub limits: Limits,
    /// Which authentication requests may be answered (`channel_binding`, `require_auth`).
    /// The default allows what libpq 13 allows.
    pub auth_policy: AuthPolicy,
    /// On a TLS connection, the hash of the server's certificate for SCRAM channel binding
    /// (`tls-server-end-point`, RFC 5929), or the TLS layer's text for why there is none
    /// (e.g. `could not find digest for NID UNDEF` for an Ed25519 certificate). `None` on a
    /// plain connection. The error matters only when SCRAM-SHA-256-PLUS is chosen
    /// ([`AuthError::NoEndPoint`]), as in libpq: trust, password, MD5 and unbound SCRAM
    /// connections never need the hash.
    pub tls_server_end_point: Option<Result<Vec<u8>, String>>,
    /// SCRAM keys derived for this password in earlier connections (see
    /// [`ScramKeys`]): if the server sends the salt and iteration count of one of them,
    /// PBKDF2 is skipped. Only keys of [`StartupConfig::password`] belong here.
    pub scram_keys: Vec<ScramKeys>,
    /// The protocol versions allowed (`min_protocol_version`, `max_protocol_version`):
    /// StartupMessage asks for the highest; a server's NegotiateProtocolVersion may bring
    /// it down to the lowest. The default is libpq 18's, 3.0 only.
    pub protocol: VersionRange,
}

impl StartupConfig {
    /// A config for `user`, with no database, no password and no other parameters.
    pub fn new(user: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            database: None,
            password: None,
            params: Vec::new(),
            limits: Limits::default(),
            auth_policy: AuthPolicy::default(),
            tls_server_end_point: None,
            scram_keys: Vec::new(),
            protocol: VersionRange::default(),
        }
    }
}

impl Drop for StartupConfig {
    /// The password is zeroed before its memory is given back (the SCRAM keys zero
    /// themselves).
    fn drop(&mut self) {
        if let Some(password) = &mut self.password {
            crate::secret::Wipe::wipe(password);
        }
    }
}

impl fmt::Debug for StartupConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartupConfig")
            .field("user", &self.user)
            .field("database", &self.database)
            .field("password", &self.password.as_ref().map(|_| "_"))
            .field("params", &self.params)
            .field("limits", &self.limits)
            .field("auth_policy", &self.auth_policy)
            .field("tls", &self.tls_server_end_point.is_some())
            .field("scram_keys", &self.scram_keys.len())
            .field("protocol", &self.protocol)
            .finish()
    }
}

/// The server is ready for queries.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Ready {
    /// ParameterStatus values (later values replace earlier ones), at most
    /// [`Limits::max_parameters`] names.
    pub parameters: Parameters,
    /// BackendKeyData (the last one received), for CancelRequest.
    pub backend_key: Option<BackendKey>,
    /// The protocol version in use: the one asked for, or the one NegotiateProtocolVersion
    /// brought it down to.
    pub protocol_version: ProtocolVersion,
    /// NoticeResponses received during startup, at most [`Limits::max_notice_bytes`] of
    /// them (the oldest dropped and counted).
    pub notices: Kept<ErrorFields>,
    /// The keys of a completed SCRAM exchange (the server's signature checked), to be
    /// passed in [`StartupConfig::scram_keys`] next time.
    pub scram_keys: Option<ScramKeys>,
}

impl Default for Ready {
    /// Nothing received yet, with the default [`Limits`].
    fn default() -> Self {
        Self::new(&Limits::default())
    }
}

impl Ready {
    /// Nothing received yet; `limits` bound the parameters and notices kept.
    pub fn new(limits: &Limits) -> Self {
        Self {
            parameters: Parameters::new(limits.max_parameters),
            backend_key: None,
            protocol_version: ProtocolVersion::default(),
            notices: Kept::new(limits.max_notice_bytes),
            scram_keys: None,
        }
    }

    /// Keeps a NoticeResponse (within [`Limits::max_notice_bytes`]).
    pub fn add_notice(&mut self, notice: ErrorFields) {
        let size = notice.kept_size();
        self.notices.push(notice, size);
    }
}

/// What happened after a frame was handled.
#[derive(Debug)]
#[must_use]
#[expect(
    clippy::large_enum_variant,
    reason = "Done comes once per connection, and Ready is moved out of it at once"
)]
pub enum Step {
    /// Send whatever was appended to `out` (maybe nothing), then read more.
    Continue,
    /// The server asked for SCRAM and a mechanism is chosen: the exchange needs the client
    /// nonce's 18 random bytes, which [`Startup::handle_nonce`] takes. Nothing was
    /// appended to `out`. As in libpq, randomness is drawn only here: a trust, password or
    /// MD5 login never needs it.
    Nonce,
    /// Authentication succeeded and the server sent ReadyForQuery.
    Done(Ready),
}

/// Why startup failed. `Display` is libpq 13's text (no final newline, except that
/// `Server` is the full multi-line libpq layout *with* its final newline removed);
/// libpq 18's for protocol 3.2's `Negotiation` and `BackendKey`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "a startup error happens at most once per connection; callers move `fields` out"
)]
pub enum StartupError {
    /// The server broke the protocol.
    Protocol(ProtocolError),
    /// The server's NegotiateProtocolVersion was refused (libpq 18's checks).
    Negotiation(NegotiationError),
    /// The server's BackendKeyData was refused (libpq 18's checks).
    BackendKey(BackendKeyError),
    /// A client-side authentication failure (libpq: replaces the error buffer).
    Auth(AuthError),
    /// The server sent an ErrorResponse. `authenticated` tells whether AuthenticationOk had
    /// arrived (libpq adds pre-authentication errors to its buffer, and replaces it with
    /// later ones).
    Server {
        /// The error's fields.
        fields: ErrorFields,
        /// Whether AuthenticationOk had been received.
        authenticated: bool,
    },
    /// A pre-3.0 error message (an `E` whose length is outside 8..=30000): its raw text.
    PreV3Error(String),
    /// A pre-3.0 error message with no NUL in its first [`MAX_PRE_V3_ERROR_LEN`] bytes
    /// (libpq 13 reads on without limit).
    PreV3ErrorTooLong,
    /// The server reported more distinct parameters than [`Limits::max_parameters`]
    /// before ReadyForQuery.
    TooManyParameters(TooManyParameters),
    /// Something we were asked to send cannot be encoded (e.g. a NUL in the user name).
    Encode(EncodeError),
    /// The caller used the machine out of order: `handle` before `start`, `start` twice,
    /// or anything after `Step::Done`. Never caused by the server; not sticky.
    OutOfOrder,
}

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protocol(e) => e.fmt(f),
            Self::Negotiation(e) => e.fmt(f),
            Self::BackendKey(e) => e.fmt(f),
            Self::Auth(e) => e.fmt(f),
            Self::Server { fields, .. } => {
                let text = fields.libpq_text(None);
                f.write_str(text.strip_suffix('\n').unwrap_or(&text))
            }
            Self::PreV3Error(text) => f.write_str(text),
            Self::PreV3ErrorTooLong => write!(
                f,
                "pre-3.0 error message from server has no end within {MAX_PRE_V3_ERROR_LEN} bytes"
            ),
            Self::TooManyParameters(e) => e.fmt(f),
            Self::Encode(e) => e.fmt(f),
            Self::OutOfOrder => f.write_str("startup exchange step called out of order"),
        }
    }
}

impl std::error::Error for StartupError {}

impl From<ProtocolError> for StartupError {
    fn from(e: ProtocolError) -> Self {
        Self::Protocol(e)
    }
}

impl From<NegotiationError> for StartupError {
    fn from(e: NegotiationError) -> Self {
        Self::Negotiation(e)
    }
}

impl From<BackendKeyError> for StartupError {
    fn from(e: BackendKeyError) -> Self {
        Self::BackendKey(e)
    }
}

impl From<AuthError> for StartupError {
    fn from(e: AuthError) -> Self {
        Self::Auth(e)
    }
}

impl From<PolicyError> for StartupError {
    fn from(e: PolicyError) -> Self {
        Self::Auth(AuthError::Policy(e))
    }
}

impl From<TooManyParameters> for StartupError {
    fn from(e: TooManyParameters) -> Self {
        Self::TooManyParameters(e)
    }
}

impl From<EncodeError> for StartupError {
    fn from(e: EncodeError) -> Self {
        Self::Encode(e)
    }
}

/// The startup/authentication state machine. Errors are sticky.
///
/// It follows libpq 13's `PQconnectPoll`: before AuthenticationOk only `R` and `E` are
/// accepted (and, as libpq 18, one NegotiateProtocolVersion `v`); a password is written
/// only in answer to a request for one, and only after the [`AuthPolicy`] has allowed
/// that request.
#[derive(Debug)]
pub struct Startup {
    config: StartupConfig,
    state: State,
    scram_garbage: Option<ScramError>,
    /// The protocol version in use (asked for, or negotiated down).
    version: ProtocolVersion,
    /// Whether a NegotiateProtocolVersion has arrived (a second one is refused).
    negotiated: bool,
}

#[derive(Debug)]
enum State {
    New,
    Authenticating {
        scram: Option<ScramClient>,
        progress: Progress,
    },
    /// AuthenticationSASL chose SCRAM with this binding: waiting for the client nonce.
    AwaitingNonce {
        binding: ChannelBinding,
        progress: Progress,
    },
    Authenticated(Ready),
    Done,
    Failed(Box<StartupError>),
    /// Failed on the server's ErrorResponse, which can be large: the frame it was decoded
    /// from is kept (a range of the reader's buffer, no copy) and decoded again for each
    /// later call, so that the error is never held twice.
    FailedServer {
        frame: Frame,
        authenticated: bool,
    },
}

impl Startup {
    /// A machine for `config`. The SCRAM client nonce is asked for when the server
    /// requests SCRAM ([`Step::Nonce`]).
    pub fn new(config: StartupConfig) -> Self {
        Self {
            config,
            state: State::New,
            scram_garbage: None,
            version: ProtocolVersion::default(),
            negotiated: false,
        }
    }

    /// Appends the StartupMessage to `out`, asking for the highest protocol version
    /// allowed: `user`, `database` if any, then `params`.
    pub fn start(&mut self, out: &mut Vec<u8>) -> Result<(), StartupError> {
        if !matches!(self.state, State::New) {
            return Err(self.sticky_error().unwrap_or(StartupError::OutOfOrder));
        }
        let c = &self.config;
        // A password is sent NUL-terminated (cleartext) or hashed (MD5, SCRAM); no server
        // can hold one with a NUL, and libpq cannot be given one. Refused here, before the
        // startup packet, whatever method the server would ask for.
        if c.password.as_deref().is_some_and(|p| p.contains(&0)) {
            let e = EncodeError::ContainsNul { what: "password" };
            return Err(self.fail(e.into()));
        }
        let mut params: Vec<(&str, &str)> = Vec::with_capacity(c.params.len().saturating_add(2));
        params.push(("user", &c.user));
        if let Some(db) = &c.database {
            params.push(("database", db));
        }
        params.extend(c.params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        self.version = c.protocol.max();
        if let Err(e) = frontend::startup_version(self.version, &params, out) {
            return Err(self.fail(e.into()));
        }
        self.state = State::Authenticating {
            scram: None,
            progress: Progress::default(),
        };
        Ok(())
    }

    /// Handles one frame from the server; may append a reply to `out`. On error nothing is
    /// appended, and every later call returns the same error.
    pub fn handle(&mut self, frame: Frame, out: &mut Vec<u8>) -> Result<Step, StartupError> {
        let mut reply = Vec::new();
        let result = match std::mem::replace(&mut self.state, State::Done) {
            State::Failed(e) => Err(*e),
            State::FailedServer {
                frame: failed,
                authenticated,
            } => {
                let e = server_error(&failed, authenticated);
                self.state = State::FailedServer {
                    frame: failed,
                    authenticated,
                };
                return Err(e);
            }
            State::New => {
                self.state = State::New;
                return Err(StartupError::OutOfOrder);
            }
            State::Done => return Err(StartupError::OutOfOrder),
            State::Authenticating { scram, progress }
                if frame.tag == tag::NEGOTIATE_PROTOCOL_VERSION =>
            {
                self.state = State::Authenticating { scram, progress };
                self.negotiate(&frame).map(|()| Step::Continue)
            }
            State::Authenticating {
                mut scram,
                mut progress,
            } => {
                let result = self.authenticate(&frame, &mut scram, &mut progress, &mut reply);
                if let Some(garbage) = scram.as_ref().and_then(ScramClient::garbage) {
                    self.scram_garbage = Some(garbage.clone());
                }
                result.map(|answer| match answer {
                    Answer::Authenticated => {
                        self.state = State::Authenticated(Ready {
                            scram_keys: scram
                                .as_ref()
                                .filter(|s| s.is_done())
                                .and_then(ScramClient::keys)
                                .cloned(),
                            protocol_version: self.version,
                            ..Ready::new(&self.config.limits)
                        });
                        Step::Continue
                    }
                    Answer::Continue => {
                        self.state = State::Authenticating { scram, progress };
                        Step::Continue
                    }
                    Answer::Nonce(binding) => {
                        self.state = State::AwaitingNonce { binding, progress };
                        Step::Nonce
                    }
                })
            }
            State::AwaitingNonce { binding, progress } => {
                self.state = State::AwaitingNonce { binding, progress };
                return Err(StartupError::OutOfOrder);
            }
            State::Authenticated(mut ready) => after_auth(&frame, &mut ready).map(|done| {
                if done {
                    Step::Done(ready)
                } else {
                    self.state = State::Authenticated(ready);
                    Step::Continue
                }
            }),
        };
        match result {
            Ok(step) => {
                out.extend_from_slice(&reply);
                Ok(step)
            }
            // The server's error is kept as its frame, not as a second copy of it.
            Err(e @ StartupError::Server { authenticated, .. })
                if frame.tag == tag::ERROR_RESPONSE =>
            {
                self.state = State::FailedServer {
                    frame,
                    authenticated,
                };
                Err(e)
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// The client nonce that [`Step::Nonce`] asked for: 18 bytes from a CSPRNG (tests fix
    /// them). Appends the SASLInitialResponse to `out`. On error nothing is appended, and
    /// every later call returns the same error; called when no nonce is awaited it is
    /// [`StartupError::OutOfOrder`] (or the error the machine already failed with).
    pub fn handle_nonce(
        &mut self,
        nonce: [u8; 18],
        out: &mut Vec<u8>,
    ) -> Result<Step, StartupError> {
        let State::AwaitingNonce { binding, progress } = &self.state else {
            return Err(self.sticky_error().unwrap_or(StartupError::OutOfOrder));
        };
        let (binding, progress) = (binding.clone(), *progress);
        match self.sasl_start(nonce, binding, out) {
            Ok(client) => {
                self.state = State::Authenticating {
                    scram: Some(client),
                    progress,
                };
                Ok(Step::Continue)
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// The next frame for [`Startup::handle`], cut from `reader` as libpq 13 reads during
    /// startup; `Ok(None)` when more bytes are needed.
    ///
    /// Before AuthenticationOk libpq looks at the raw bytes before any framing: only `R`
    /// and `E` are accepted (on the type byte alone, as soon as it is here), and libpq
    /// 18's `v`; an `R` or a `v` must be 8..=2000 bytes long, and an `E` outside 8..=30000 is a pre-3.0 server's error:
    /// its text runs from right after the type byte to the first NUL. Such a "length
    /// word" is often far beyond what [`FrameReader`] accepts (`FATA` claims 1.1 GiB), so
    /// these checks come first, with the errors [`Startup::handle`] gives for the same
    /// message: the I/O layer only feeds bytes. After AuthenticationOk this is
    /// [`FrameReader::next_frame`] (a framing error is
    /// [`ProtocolError::LostSync`]).
    ///
    /// Nothing is consumed on an error. Errors are sticky, shared with `handle`; called
    /// before [`Startup::start`] or after `Step::Done` it is
    /// [`StartupError::OutOfOrder`].
    pub fn next_frame(&mut self, reader: &mut FrameReader) -> Result<Option<Frame>, StartupError> {
        match &self.state {
            State::Authenticating { .. } => match check_before_auth(reader.peek()) {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(e) => return Err(self.fail(e)),
            },
            State::Authenticated(_) => {}
            State::Failed(e) => return Err(StartupError::clone(e)),
            State::FailedServer {
                frame,
                authenticated,
            } => return Err(server_error(frame, *authenticated)),
            State::New | State::Done | State::AwaitingNonce { .. } => {
                return Err(StartupError::OutOfOrder)
            }
        }
        reader.next_frame().map_err(|e| self.fail(e.into()))
    }

    /// True once `Step::Done` has been returned.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// True once AuthenticationOk has been accepted.
    pub fn is_authenticated(&self) -> bool {
        matches!(self.state, State::Authenticated(_) | State::Done)
    }

    /// The "garbage at end of …" SCRAM complaint that libpq 13 records and ignores, if any
    /// (for logging).
    pub fn scram_garbage(&self) -> Option<&ScramError> {
        self.scram_garbage.as_ref()
    }

    /// The protocol version asked for, or negotiated down to so far.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.version
    }

    /// NegotiateProtocolVersion before AuthenticationOk, as libpq 18's `PQconnectPoll`
    /// and `pqGetNegotiateProtocolVersion3` read it. Bytes of the body after what libpq
    /// reads are, for libpq, the next message: a type byte other than `R`, `E` or `v`
    /// gives its `expected authentication request` text; otherwise libpq would read a
    /// message out of the remains, which framing cannot repeat: that is
    /// [`ProtocolError::LengthMismatch`].
    fn negotiate(&mut self, frame: &Frame) -> Result<(), StartupError> {
        if !length_word(frame).is_some_and(|n| (8..=MAX_NEGOTIATE_LEN).contains(&n)) {
            return Err(NegotiationError::Invalid.into());
        }
        if std::mem::replace(&mut self.negotiated, true) {
            return Err(NegotiationError::Duplicate.into());
        }
        let (version, read) = version::negotiate(&frame.body, self.config.protocol)?;
        self.version = version;
        match frame.body.get(read..).and_then(<[u8]>::first) {
            None => Ok(()),
            Some(&next) if accepted_before_auth(next) => {
                Err(ProtocolError::LengthMismatch { tag: frame.tag }.into())
            }
            Some(&next) => Err(ProtocolError::ExpectedAuthRequest { tag: next }.into()),
        }
    }

    /// The error the machine failed with, if it has: every later call returns it.
    fn sticky_error(&self) -> Option<StartupError> {
        match &self.state {
            State::Failed(e) => Some(StartupError::clone(e)),
            State::FailedServer {
                frame,
                authenticated,
            } => Some(server_error(frame, *authenticated)),
            _ => None,
        }
    }

    fn fail(&mut self, e: StartupError) -> StartupError {
        self.state = State::Failed(Box::new(e.clone()));
        e
    }

    /// Before AuthenticationOk (libpq's `CONNECTION_AWAITING_RESPONSE`): what the frame
    /// asks of the client.
    fn authenticate(
        &self,
        frame: &Frame,
        scram: &mut Option<ScramClient>,
        progress: &mut Progress,
        reply: &mut Vec<u8>,
    ) -> Result<Answer, StartupError> {
        let length_word = length_word(frame);
        match frame.tag {
            tag::AUTHENTICATION => {
                if !length_word.is_some_and(|n| (8..=MAX_AUTH_REQUEST_LEN).contains(&n)) {
                    return Err(ProtocolError::ExpectedAuthRequest { tag: frame.tag }.into());
                }
            }
            tag::ERROR_RESPONSE => {
                if !length_word.is_some_and(|n| (8..=MAX_SHORT_MESSAGE_LEN).contains(&n)) {
                    return Err(pre_v3_error(length_word, &frame.body));
                }
                return Err(StartupError::Server {
                    fields: ErrorFields::parse(frame.tag, &frame.body)?,
                    authenticated: false,
                });
            }
            other => return Err(ProtocolError::ExpectedAuthRequest { tag: other }.into()),
        }

        let code = match frame.body.get(..4) {
            Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
            _ => return Err(ProtocolError::ExpectedAuthRequest { tag: frame.tag }.into()),
        };
        // libpq's check_expected_areq comes before the request is even looked at.
        self.config.auth_policy.check(code, *progress)?;
        let request = match BackendMessage::parse(frame) {
            Ok(BackendMessage::Authentication(request)) => request,
            Ok(_) => return Err(ProtocolError::ExpectedAuthRequest { tag: frame.tag }.into()),
            Err(_) if code == 10 => return Err(mechanism_list_error(&frame.body)),
            Err(e) => return Err(e.into()),
        };

        match request {
            Authentication::Ok => {
                if scram.as_ref().is_some_and(|s| !s.is_done()) {
                    return Err(AuthError::OkBeforeSaslCompleted.into());
                }
                Ok(Answer::Authenticated)
            }
            Authentication::CleartextPassword => {
                frontend::password(self.password()?, reply)?;
                progress.client_finished_auth = true;
                Ok(Answer::Continue)
            }
            Authentication::Md5Password { salt } => {
                let hash = md5_password(self.config.user.as_bytes(), self.password()?, salt);
                frontend::password(hash.as_bytes(), reply)?;
                progress.client_finished_auth = true;
                Ok(Answer::Continue)
            }
            Authentication::Sasl(mechanisms) => self
                .sasl_init(scram.is_some(), &mechanisms)
                .map(Answer::Nonce),
            Authentication::SaslContinue(data) => {
                sasl_continue(scram, progress, &data, false, reply)?;
                Ok(Answer::Continue)
            }
            Authentication::SaslFinal(data) => {
                sasl_continue(scram, progress, &data, true, reply)?;
                Ok(Answer::Continue)
            }
            _ => Err(unsupported_method(code)
                .unwrap_or(AuthError::MethodNotSupported(code))
                .into()),
        }
    }

    /// The password, or libpq's `fe_sendauth: no password supplied` if it is missing or
    /// empty.
    fn password(&self) -> Result<&[u8], AuthError> {
        match self.config.password.as_deref() {
            Some(p) if !p.is_empty() => Ok(p),
            _ => Err(AuthError::NoPasswordSupplied),
        }
    }

    /// libpq 13's `pg_SASL_init` up to the nonce: choose the mechanism and its channel
    /// binding, and check that there is a password.
    fn sasl_init(
        &self,
        duplicate: bool,
        mechanisms: &[String],
    ) -> Result<ChannelBinding, StartupError> {
        let policy = &self.config.auth_policy;
        let tls = self.config.tls_server_end_point.as_ref();
        if policy.channel_binding == ChannelBindingMode::Require && tls.is_none() {
            return Err(PolicyError::BindingRequiresSsl.into());
        }
        if duplicate {
            return Err(AuthError::DuplicateSasl.into());
        }
        // `Some(None)`: SCRAM-SHA-256-PLUS, bound to the certificate's hash.
        let mut selected: Option<Option<ChannelBinding>> = None;
        for mechanism in mechanisms {
            if mechanism == SCRAM_SHA_256_PLUS {
                match tls {
                    Some(_) if policy.channel_binding != ChannelBindingMode::Disable => {
                        selected = Some(None);
                    }
                    Some(_) => {}
                    None => return Err(AuthError::PlusOverNonSsl.into()),
                }
            } else if mechanism == SCRAM_SHA_256 && selected.is_none() {
                selected = Some(Some(match tls {
                    Some(_) if policy.channel_binding != ChannelBindingMode::Disable => {
                        ChannelBinding::NotOffered
                    }
                    _ => ChannelBinding::None,
                }));
            }
        }
        let selected = selected.ok_or(AuthError::NoSupportedMechanism)?;
        if policy.channel_binding == ChannelBindingMode::Require && selected.is_some() {
            return Err(PolicyError::BindingNotOffered.into());
        }
        // libpq asks for the password before it looks at the hash.
        self.password()?;
        // The hash is looked at only now that SCRAM-SHA-256-PLUS is chosen; without one the
        // exchange stops (never an unbound exchange instead).
        let binding = match (selected, tls) {
            (Some(binding), _) => binding,
            (None, Some(Ok(hash))) => ChannelBinding::TlsServerEndPoint(hash.clone()),
            (None, Some(Err(reason))) => return Err(AuthError::NoEndPoint(reason.clone()).into()),
            (None, None) => return Err(AuthError::PlusOverNonSsl.into()),
        };
        Ok(binding)
    }

    /// The rest of `pg_SASL_init`, with the nonce: the SCRAM client, and its first message
    /// (the SASLInitialResponse) appended to `out`.
    fn sasl_start(
        &self,
        nonce: [u8; 18],
        binding: ChannelBinding,
        out: &mut Vec<u8>,
    ) -> Result<ScramClient, StartupError> {
        let mut client = ScramClient::new(self.password()?, nonce, binding, self.config.limits)
            .with_known_keys(self.config.scram_keys.clone());
        let first = client.client_first().map_err(AuthError::Scram)?;
        let mut reply = Vec::new();
        frontend::sasl_initial_response(client.mechanism(), &first, &mut reply)?;
        out.extend_from_slice(&reply);
        Ok(client)
    }
}

/// What an authentication request asks of the client.
enum Answer {
    /// Nothing more than the reply appended (maybe none): read on.
    Continue,
    /// The request was AuthenticationOk.
    Authenticated,
    /// SCRAM with this channel binding: the client nonce is needed.
    Nonce(ChannelBinding),
}

/// libpq 13's `pg_SASL_continue` for AuthenticationSASLContinue (`final` false) and
/// AuthenticationSASLFinal (`final` true).
fn sasl_continue(
    scram: &mut Option<ScramClient>,
    progress: &mut Progress,
    data: &[u8],
    final_message: bool,
    reply: &mut Vec<u8>,
) -> Result<(), StartupError> {
    let client = scram.as_mut().ok_or(AuthError::SaslContinueWithoutSasl)?;
    let response = if client.awaits_server_final() {
        client.server_final(data).map_err(AuthError::Scram)?;
        progress.client_finished_auth = true;
        progress.channel_bound = client.channel_bound();
        None
    } else {
        // In any other state this reports the input's faults or an invalid state.
        Some(client.server_first(data).map_err(AuthError::Scram)?)
    };
    if final_message && !client.is_done() {
        return Err(AuthError::SaslFinalNotCompleted.into());
    }
    if let Some(response) = response {
        frontend::sasl_response(&response, reply)?;
    }
    Ok(())
}

/// The error of a machine that failed on the ErrorResponse `frame`, decoded again: the
/// same as the first time, the decoding being a function of the bytes.
fn server_error(frame: &Frame, authenticated: bool) -> StartupError {
    match ErrorFields::parse(frame.tag, &frame.body) {
        Ok(fields) => StartupError::Server {
            fields,
            authenticated,
        },
        Err(e) => e.into(),
    }
}

/// A frame's length word (its body's length plus 4), if it fits in a `u32`.
fn length_word(frame: &Frame) -> Option<u32> {
    u32::try_from(frame.body.len())
        .ok()
        .and_then(|n| n.checked_add(4))
}

/// The message types libpq 18 reads before AuthenticationOk.
fn accepted_before_auth(tag: u8) -> bool {
    [
        tag::AUTHENTICATION,
        tag::ERROR_RESPONSE,
        tag::NEGOTIATE_PROTOCOL_VERSION,
    ]
    .contains(&tag)
}

/// After AuthenticationOk (libpq's `CONNECTION_AUTH_OK`). Returns whether the frame was
/// ReadyForQuery. BackendKeyData is checked for the protocol version in use (libpq 18's
/// `getBackendKeyData`), before it is decoded: a body too short for a process id has
/// libpq 18's text too.
fn after_auth(frame: &Frame, ready: &mut Ready) -> Result<bool, StartupError> {
    match frame.tag {
        tag::BACKEND_KEY_DATA => {
            ready.backend_key = Some(BackendKey::parse(&frame.body, ready.protocol_version)?);
            return Ok(false);
        }
        // libpq's pqParseInput3 has no case for `v`, whatever its body.
        tag::NEGOTIATE_PROTOCOL_VERSION => {
            return Err(ProtocolError::UnexpectedMessage { tag: frame.tag }.into())
        }
        _ => {}
    }
    match BackendMessage::parse(frame)? {
        BackendMessage::ReadyForQuery(_) => return Ok(true),
        BackendMessage::ParameterStatus { name, value } => ready.parameters.set(name, value)?,
        BackendMessage::NoticeResponse(fields) => ready.add_notice(fields),
        // libpq keeps a NOTIFY for later and connects; there is no one to give it to yet.
        BackendMessage::NotificationResponse { .. } => {}
        BackendMessage::ErrorResponse(fields) => {
            return Err(StartupError::Server {
                fields,
                authenticated: true,
            })
        }
        BackendMessage::DataRow(_) => return Err(ProtocolError::DataWithoutDescription.into()),
        // libpq's pqParseInput3 has no case for `R` once authenticated.
        BackendMessage::Authentication(_) => {
            return Err(ProtocolError::UnexpectedMessage { tag: frame.tag }.into())
        }
        _ => return Err(ProtocolError::UnexpectedDuringStartup.into()),
    }
    Ok(false)
}

/// Why an AuthenticationSASL body did not decode. libpq 13 reads names up to an empty one
/// and leaves any bytes after it in the stream, where they are read as the next message:
/// a trailing `j` gives `expected authentication request from server, but received j`.
fn mechanism_list_error(body: &[u8]) -> StartupError {
    let mut rest = body.get(4..).unwrap_or_default();
    while let Some(nul) = rest.iter().position(|&b| b == 0) {
        let (name, after) = rest.split_at(nul);
        rest = after.get(1..).unwrap_or_default();
        if name.is_empty() {
            return match rest.first() {
                Some(&tag) if tag != tag::AUTHENTICATION && tag != tag::ERROR_RESPONSE => {
                    ProtocolError::ExpectedAuthRequest { tag }.into()
                }
                _ => AuthError::InvalidMechanismList.into(),
            };
        }
    }
    AuthError::InvalidMechanismList.into()
}

/// libpq 13 reads a too-short or too-long `E` during startup as a pre-3.0 server's error:
/// the text from right after the type byte (length word included) up to the first NUL.
fn pre_v3_error(length_word: Option<u32>, body: &[u8]) -> StartupError {
    let mut raw = length_word.unwrap_or(u32::MAX).to_be_bytes().to_vec();
    raw.extend_from_slice(body);
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    pre_v3_text(raw.get(..end).unwrap_or_default())
}

fn pre_v3_text(text: &[u8]) -> StartupError {
    StartupError::PreV3Error(String::from_utf8_lossy(text).into_owned())
}

/// libpq 13's checks (and libpq 18's for `v`) on the raw bytes of the next message while
/// it awaits an authentication request (`PQconnectPoll`, `CONNECTION_AWAITING_RESPONSE`): `Ok(true)`
/// when the header is one to frame, `Ok(false)` when more bytes are needed to tell.
///
/// The type byte is checked alone; then the length word. A pre-3.0 error is read up to
/// its NUL, as libpq's `pqGets_append` does, but only for [`MAX_PRE_V3_ERROR_LEN`] bytes
/// (libpq 13 reads on without limit).
fn check_before_auth(buf: &[u8]) -> Result<bool, StartupError> {
    let Some(&first) = buf.first() else {
        return Ok(false);
    };
    if !accepted_before_auth(first) {
        return Err(ProtocolError::ExpectedAuthRequest { tag: first }.into());
    }
    let Some(len) = buf
        .get(1..5)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
    else {
        return Ok(false);
    };
    match first {
        tag::AUTHENTICATION if !(8..=MAX_AUTH_REQUEST_LEN).contains(&len) => {
            Err(ProtocolError::ExpectedAuthRequest { tag: first }.into())
        }
        tag::NEGOTIATE_PROTOCOL_VERSION if !(8..=MAX_NEGOTIATE_LEN).contains(&len) => {
            Err(NegotiationError::Invalid.into())
        }
        tag::ERROR_RESPONSE if !(8..=MAX_SHORT_MESSAGE_LEN).contains(&len) => {
            let text = buf.get(1..).unwrap_or_default();
            match text.iter().position(|&b| b == 0) {
                Some(nul) if nul <= MAX_PRE_V3_ERROR_LEN => {
                    Err(pre_v3_text(text.get(..nul).unwrap_or_default()))
                }
                Some(_) => Err(StartupError::PreV3ErrorTooLong),
                None if text.len() > MAX_PRE_V3_ERROR_LEN => Err(StartupError::PreV3ErrorTooLong),
                None => Ok(false),
            }
        }
        _ => Ok(true),
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a test fails loudly on unexpected input"
)]
mod negotiation_tests;

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;
    use crate::auth::policy::RequireAuth;
    use crate::auth::scram::server;
    use crate::frame::FrameReader;

    const NONCE: [u8; 18] = [7; 18];

    fn config(password: Option<&str>) -> StartupConfig {
        let mut c = StartupConfig::new("alice");
        c.database = Some("db".to_owned());
        c.password = password.map(|p| p.as_bytes().to_vec());
        c
    }

    /// A started machine; the StartupMessage is checked and dropped.
    fn started(c: StartupConfig) -> Startup {
        let mut m = Startup::new(c);
        let mut out = Vec::new();
        m.start(&mut out).unwrap();
        assert!(!out.is_empty());
        m
    }

    fn auth(code: u32, payload: &[u8]) -> Frame {
        let mut body = code.to_be_bytes().to_vec();
        body.extend_from_slice(payload);
        Frame::new(b'R', body)
    }

    fn error_frame(tag: u8, severity: &str, code: &str, message: &str) -> Frame {
        let mut body = Vec::new();
        for (t, v) in [
            (b'S', severity),
            (b'V', severity),
            (b'C', code),
            (b'M', message),
        ] {
            body.push(t);
            body.extend_from_slice(v.as_bytes());
            body.push(0);
        }
        body.push(0);
        Frame::new(tag, body)
    }

    fn param(name: &str, value: &str) -> Frame {
        Frame::new(b'S', format!("{name}\0{value}\0").into_bytes())
    }

    fn ready_frame() -> Frame {
        Frame::new(b'Z', &b"I"[..])
    }

    /// Feeds a frame that must be accepted; returns what the machine wrote.
    /// A [`Step::Nonce`] is answered with [`NONCE`].
    fn feed(m: &mut Startup, frame: Frame) -> Vec<u8> {
        let mut out = Vec::new();
        match m.handle(frame, &mut out).unwrap() {
            Step::Continue => out,
            Step::Nonce => {
                assert!(out.is_empty());
                match m.handle_nonce(NONCE, &mut out).unwrap() {
                    Step::Continue => out,
                    step => panic!("unexpected {step:?} after the nonce"),
                }
            }
            Step::Done(_) => panic!("unexpected Done"),
        }
    }

    /// Feeds a frame that must fail; returns the error text and checks nothing was written.
    /// A [`Step::Nonce`] is answered with [`NONCE`]: the password's SASLprep comes then.
    fn refuse(m: &mut Startup, frame: Frame) -> String {
        let mut out = Vec::new();
        let err = match m.handle(frame, &mut out) {
            Ok(Step::Nonce) => m.handle_nonce(NONCE, &mut out).unwrap_err(),
            other => other.unwrap_err(),
        };
        assert!(out.is_empty(), "written on error: {out:?}");
        err.to_string()
    }

    fn finish(m: &mut Startup) -> Ready {
        assert!(feed(m, auth(0, b"")).is_empty());
        assert!(feed(m, param("server_version", "15.18")).is_empty());
        assert!(feed(m, Frame::new(b'K', &[0, 0, 0, 42, 0, 0, 0, 7][..])).is_empty());
        let mut out = Vec::new();
        match m.handle(ready_frame(), &mut out).unwrap() {
            Step::Done(ready) => {
                assert!(out.is_empty());
                ready
            }
            Step::Continue | Step::Nonce => panic!("expected Done"),
        }
    }

    fn encoded(f: impl FnOnce(&mut Vec<u8>) -> Result<(), EncodeError>) -> Vec<u8> {
        let mut out = Vec::new();
        f(&mut out).unwrap();
        out
    }

    #[test]
    fn startup_message_bytes() {
        let mut c = config(Some("hunter2"));
        c.params = vec![("application_name".to_owned(), "x".to_owned())];
        let mut m = Startup::new(c);
        let mut out = Vec::new();
        m.start(&mut out).unwrap();
        let body = b"\x00\x03\x00\x00user\0alice\0database\0db\0application_name\0x\0\0";
        let mut expected = u32::try_from(body.len() + 4)
            .unwrap()
            .to_be_bytes()
            .to_vec();
        expected.extend_from_slice(body);
        assert_eq!(out, expected);
    }

    #[test]
    fn startup_without_database() {
        let mut m = Startup::new(StartupConfig::new("bob"));
        let mut out = Vec::new();
        m.start(&mut out).unwrap();
        assert_eq!(&out[4..], b"\x00\x03\x00\x00user\0bob\0\0");
    }

    #[test]
    fn nul_in_user_is_an_encode_error_and_sticky() {
        let mut m = Startup::new(StartupConfig::new("a\0b"));
        let mut out = Vec::new();
        let err = m.start(&mut out).unwrap_err();
        assert!(out.is_empty());
        assert!(matches!(err, StartupError::Encode(_)));
        assert_eq!(m.start(&mut out).unwrap_err(), err);
        assert_eq!(m.handle(auth(0, b""), &mut out).unwrap_err(), err);
    }

    #[test]
    fn nul_in_password_is_refused_before_the_startup_packet() {
        let mut m = Startup::new(config(Some("pa\0ss")));
        let mut out = Vec::new();
        let err = m.start(&mut out).unwrap_err();
        assert!(out.is_empty());
        assert_eq!(err.to_string(), "the password contains a NUL byte");
        // Whatever the server would then ask for (MD5 would hash it, SCRAM derive from it).
        assert_eq!(m.handle(auth(5, b"salt"), &mut out).unwrap_err(), err);
        assert!(out.is_empty());
    }

    #[test]
    fn out_of_order_calls() {
        let mut m = Startup::new(config(None));
        let mut out = Vec::new();
        assert_eq!(
            m.handle(auth(0, b""), &mut out).unwrap_err().to_string(),
            "startup exchange step called out of order"
        );
        m.start(&mut out).unwrap();
        assert_eq!(m.start(&mut out).unwrap_err(), StartupError::OutOfOrder);
        let _ = finish(&mut m);
        assert!(m.is_done());
        assert_eq!(
            m.handle(ready_frame(), &mut out).unwrap_err(),
            StartupError::OutOfOrder
        );
    }

    /// Trust authentication, replayed from a capture of a PostgreSQL 15.18 server.
    #[test]
    fn trust_with_captured_server_bytes() {
        let mut m = started(config(Some("hunter2")));
        let mut reader = FrameReader::new(Limits::default());
        reader.extend_from_slice(include_bytes!("../tests/data/startup_select.bin"));
        let mut out = Vec::new();
        let ready = loop {
            let frame = reader.next_frame().unwrap().unwrap();
            if let Step::Done(ready) = m.handle(frame, &mut out).unwrap() {
                break ready;
            }
        };
        assert!(out.is_empty(), "trust must not send anything");
        assert!(m.is_authenticated());
        let get = |name: &str| ready.parameters.get(name);
        assert_eq!(get("client_encoding"), Some("UTF8"));
        assert_eq!(get("DateStyle"), Some("ISO, MDY"));
        assert!(ready.backend_key.is_some());
        assert!(ready.notices.is_empty());
    }

    #[test]
    fn ready_collects_parameters_key_and_notices() {
        let mut m = started(config(None));
        assert!(feed(&mut m, auth(0, b"")).is_empty());
        feed(&mut m, param("a", "1"));
        feed(&mut m, param("b", "2"));
        feed(&mut m, param("a", "3"));
        feed(&mut m, error_frame(b'N', "WARNING", "01000", "careful"));
        feed(&mut m, Frame::new(b'A', &b"\0\0\0\x01ch\0pl\0"[..]));
        feed(&mut m, Frame::new(b'K', &[0, 0, 0, 1, 0, 0, 0, 2][..]));
        let mut out = Vec::new();
        let Step::Done(ready) = m.handle(ready_frame(), &mut out).unwrap() else {
            panic!("expected Done");
        };
        assert_eq!(
            ready.parameters.iter().collect::<Vec<_>>(),
            [("a", "3"), ("b", "2")]
        );
        assert_eq!(ready.backend_key, BackendKey::new(1, &[0, 0, 0, 2]));
        assert_eq!(ready.notices.len(), 1);
        let notice = ready.notices.iter().next().unwrap();
        assert_eq!(notice.message.as_deref(), Some("careful"));
    }

    #[test]
    fn cleartext_password() {
        let mut m = started(config(Some("secret")));
        let out = feed(&mut m, auth(3, b""));
        assert_eq!(out, b"p\0\0\0\x0bsecret\0");
        let ready = finish(&mut m);
        assert_eq!(ready.backend_key, BackendKey::new(42, &[0, 0, 0, 7]));
    }

    #[test]
    fn md5_password_answer() {
        let mut c = config(Some("password"));
        c.user = "md5_user".to_owned();
        let mut m = started(c);
        let out = feed(&mut m, auth(5, &[0x2a, 0x3d, 0x8f, 0xe0]));
        assert_eq!(
            out,
            encoded(|o| frontend::password(b"md562af4dd09bbb41884907a838a3233294", o))
        );
        let _ = finish(&mut m);
    }

    /// Runs a SCRAM exchange against a server computed with the same primitives; returns
    /// the machine after the server's final message.
    fn scram_exchange(password: &str, server_password: &str) -> (Startup, Result<Vec<u8>, String>) {
        scram_exchange_with(config(Some(password)), password, server_password)
    }

    fn scram_exchange_with(
        config: StartupConfig,
        password: &str,
        server_password: &str,
    ) -> (Startup, Result<Vec<u8>, String>) {
        let mut m = started(config);
        let out = feed(&mut m, auth(10, b"SCRAM-SHA-256\0\0"));
        let prefix = b"pSCRAM-SHA-256\0";
        assert_eq!(out[0], b'p');
        assert_eq!(&out[5..prefix.len() + 4], &prefix[1..]);
        let client_first = out[prefix.len() + 8..].to_vec();
        assert_eq!(
            out,
            encoded(|o| frontend::sasl_initial_response("SCRAM-SHA-256", &client_first, o))
        );
        assert_eq!(client_first, b"n,,n=,r=BwcHBwcHBwcHBwcHBwcHBwcH");

        let salt = b"0123456789abcdef";
        let server_first = server::server_first(&client_first, "SRV", salt, 4096);
        let out = feed(&mut m, auth(11, &server_first));
        let client_final = out[5..].to_vec();
        assert_eq!(out, encoded(|o| frontend::sasl_response(&client_final, o)));
        for sent in [&client_first, &client_final] {
            assert!(!contains(sent, password.as_bytes()), "password sent");
        }
        let result = server::server_final(
            server_password.as_bytes(),
            salt,
            4096,
            &client_first,
            &server_first,
            &client_final,
        )
        .ok_or_else(|| "wrong proof".to_owned());
        (m, result)
    }

    #[test]
    fn the_nonce_is_asked_for_only_when_scram_is_chosen() {
        // Trust, cleartext and MD5 logins never ask.
        for request in [auth(3, b""), auth(5, b"salt")] {
            let mut m = started(config(Some("pw")));
            let mut out = Vec::new();
            assert!(matches!(m.handle(request, &mut out), Ok(Step::Continue)));
            assert!(out.starts_with(b"p"));
            assert!(finish(&mut m).scram_keys.is_none());
        }
        let mut m = started(config(Some("pw")));
        assert_eq!(
            m.handle_nonce(NONCE, &mut Vec::new()).unwrap_err(),
            StartupError::OutOfOrder
        );
        let mut out = Vec::new();
        let sasl = auth(10, b"SCRAM-SHA-256\0\0");
        assert!(matches!(m.handle(sasl.clone(), &mut out), Ok(Step::Nonce)));
        assert!(out.is_empty());
        // Until the nonce comes, the machine takes no frame, and is not failed by one.
        let mut reader = FrameReader::new(Limits::default());
        reader.extend_from_slice(b"R\0\0\0\x08\0\0\0\0");
        assert_eq!(m.next_frame(&mut reader), Err(StartupError::OutOfOrder));
        assert_eq!(reader.buffered(), 9);
        assert_eq!(
            m.handle(sasl, &mut out).unwrap_err(),
            StartupError::OutOfOrder
        );
        assert!(matches!(
            m.handle_nonce([1; 18], &mut out),
            Ok(Step::Continue)
        ));
        assert_eq!(
            out,
            encoded(|o| frontend::sasl_initial_response(
                "SCRAM-SHA-256",
                b"n,,n=,r=AQEBAQEBAQEBAQEBAQEBAQEB",
                o
            ))
        );
        assert_eq!(
            m.handle_nonce(NONCE, &mut Vec::new()).unwrap_err(),
            StartupError::OutOfOrder
        );
    }

    #[test]
    fn a_failed_machine_refuses_the_nonce_with_its_error() {
        let long = "x".repeat(1025);
        let mut m = started(config(Some(&long)));
        let mut out = Vec::new();
        assert!(matches!(
            m.handle(auth(10, b"SCRAM-SHA-256\0\0"), &mut out),
            Ok(Step::Nonce)
        ));
        let err = m.handle_nonce(NONCE, &mut out).unwrap_err();
        assert_eq!(err.to_string(), "out of memory");
        assert!(out.is_empty());
        assert_eq!(m.handle_nonce(NONCE, &mut out).unwrap_err(), err);
        assert_eq!(m.handle(auth(0, b""), &mut out).unwrap_err(), err);
    }

    #[test]
    fn scram_success() {
        let (mut m, server_final) = scram_exchange("pencil", "pencil");
        assert!(feed(&mut m, auth(12, &server_final.unwrap())).is_empty());
        let keys = finish(&mut m).scram_keys.unwrap();
        assert_eq!(
            (keys.salt.as_slice(), keys.iterations),
            (&b"0123456789abcdef"[..], 4096)
        );
    }

    #[test]
    fn scram_with_known_keys_succeeds_and_reports_them_again() {
        let (mut m, server_final) = scram_exchange("pencil", "pencil");
        assert!(feed(&mut m, auth(12, &server_final.unwrap())).is_empty());
        let keys = finish(&mut m).scram_keys.unwrap();

        let mut c = config(Some("pencil"));
        c.scram_keys = vec![keys.clone()];
        let (mut m, server_final) = scram_exchange_with(c, "pencil", "pencil");
        assert!(feed(&mut m, auth(12, &server_final.unwrap())).is_empty());
        assert_eq!(finish(&mut m).scram_keys, Some(keys.clone()));

        // Keys that are not this password's make the server refuse the proof.
        let mut c = config(Some("pencil"));
        let mut wrong = keys.clone();
        wrong.client_key = [1; 32];
        c.scram_keys = vec![wrong];
        let (_, server_final) = scram_exchange_with(c, "pencil", "pencil");
        assert_eq!(server_final, Err("wrong proof".to_owned()));
    }

    #[test]
    fn no_keys_without_a_completed_scram_exchange() {
        // Trust: AuthenticationOk straight away.
        let mut m = started(config(Some("pencil")));
        assert_eq!(finish(&mut m).scram_keys, None);
    }

    #[test]
    fn sasl_message_after_a_completed_exchange() {
        let (mut m, server_final) = scram_exchange("pencil", "pencil");
        let server_final = server_final.unwrap();
        assert!(feed(&mut m, auth(12, &server_final)).is_empty());
        assert_eq!(
            refuse(&mut m, auth(12, &server_final)),
            "invalid SCRAM exchange state"
        );
        let (mut m, server_final) = scram_exchange("pencil", "pencil");
        assert!(feed(&mut m, auth(11, &server_final.unwrap())).is_empty());
        assert_eq!(
            refuse(&mut m, auth(11, b"")),
            "malformed SCRAM message (empty message)"
        );
    }

    #[test]
    fn scram_server_final_through_sasl_continue_is_accepted() {
        // libpq 13 also takes the server-final-message from an AuthenticationSASLContinue.
        let (mut m, server_final) = scram_exchange("pencil", "pencil");
        assert!(feed(&mut m, auth(11, &server_final.unwrap())).is_empty());
        let _ = finish(&mut m);
    }

    #[test]
    fn scram_wrong_server_signature() {
        let (mut m, server_final) = scram_exchange("pencil", "pencil");
        let mut v = server_final.unwrap();
        let last = v.len() - 2;
        v[last] = if v[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(refuse(&mut m, auth(12, &v)), "incorrect server signature");
        // Sticky.
        assert_eq!(refuse(&mut m, auth(0, b"")), "incorrect server signature");
    }

    #[test]
    fn scram_wrong_password_is_the_servers_fatal() {
        let (mut m, server_final) = scram_exchange("pencil", "other");
        assert!(server_final.is_err());
        let text = refuse(
            &mut m,
            error_frame(
                b'E',
                "FATAL",
                "28P01",
                "password authentication failed for user \"alice\"",
            ),
        );
        assert_eq!(
            text,
            "FATAL:  password authentication failed for user \"alice\""
        );
    }

    #[test]
    fn scram_errors_from_server_messages() {
        let mut m = started(config(Some("pw")));
        feed(&mut m, auth(10, b"SCRAM-SHA-256\0\0"));
        assert_eq!(
            refuse(&mut m, auth(11, b"r=someone-else,s=QUJD,i=4096")),
            "invalid SCRAM response (nonce mismatch)"
        );

        let mut m = started(config(Some("pw")));
        feed(&mut m, auth(10, b"SCRAM-SHA-256\0\0"));
        assert_eq!(
            refuse(
                &mut m,
                auth(11, b"r=BwcHBwcHBwcHBwcHBwcHBwcHx,s=QUJD,i=2147483647")
            ),
            "SCRAM iteration count 2147483647 exceeds the limit of 100000"
        );

        // Checked with rexref (libpq 13.3) against a fake server.
        let mut m = started(config(Some("pw")));
        feed(&mut m, auth(10, b"SCRAM-SHA-256\0\0"));
        assert_eq!(
            refuse(
                &mut m,
                auth(11, b"r=BwcHBwcHBwcHBwcHBwcHBwcHx,s=QUJD,i=4294967295")
            ),
            "malformed SCRAM message (invalid iteration count)"
        );

        let mut m = started(config(Some("pw")));
        feed(&mut m, auth(10, b"SCRAM-SHA-256\0\0"));
        assert_eq!(
            refuse(&mut m, auth(11, b"")),
            "malformed SCRAM message (empty message)"
        );
    }

    /// A hostile `i=4294967295` (and the largest count that passes libpq's parse) is
    /// refused before any PBKDF2 round: hashing either count would run for hours, so the
    /// generous bound (50 ms for five refusals, for noisy machines) cannot hold if any
    /// hashing happened. Measured on the 2-core dev VM (2026-11-25): 1.2-30 µs per refusal
    /// in a debug build, 0.23-3.5 µs in release (the first call is the slow one); for
    /// scale, the 100 000 iterations the cap allows take 546 ms (debug) / 10 ms (release).
    #[test]
    fn huge_iteration_count_is_refused_before_any_hashing() {
        let cases = [
            (
                "4294967295",
                "malformed SCRAM message (invalid iteration count)",
            ),
            (
                "2147483647",
                "SCRAM iteration count 2147483647 exceeds the limit of 100000",
            ),
        ];
        for (count, expected) in cases {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..5 {
                let mut m = started(config(Some("pw")));
                feed(&mut m, auth(10, b"SCRAM-SHA-256\0\0"));
                let first = format!("r=BwcHBwcHBwcHBwcHBwcHBwcHx,s=QUJD,i={count}");
                let frame = auth(11, first.as_bytes());
                let started_at = std::time::Instant::now();
                let text = refuse(&mut m, frame);
                total += started_at.elapsed();
                assert_eq!(text, expected);
            }
            assert!(
                total < std::time::Duration::from_millis(50),
                "i={count}: 5 refusals took {total:?}"
            );
        }
    }

    #[test]
    fn scram_garbage_is_ignored() {
        let mut m = started(config(Some("pw")));
        let out = feed(&mut m, auth(10, b"SCRAM-SHA-256\0\0"));
        let client_first = out[23..].to_vec();
        let mut sf = server::server_first(&client_first, "x", b"salt", 1);
        sf.extend_from_slice(b",z=1");
        let fin = feed(&mut m, auth(11, &sf));
        assert_eq!(
            m.scram_garbage().map(ToString::to_string).as_deref(),
            Some("malformed SCRAM message (garbage at end of server-first-message)")
        );
        let sfin = server::server_final(b"pw", b"salt", 1, &client_first, &sf, &fin[5..]);
        assert!(feed(&mut m, auth(12, &sfin.unwrap())).is_empty());
        let _ = finish(&mut m);
        // Still there for logging once the exchange is over.
        assert!(m.scram_garbage().is_some());
    }

    /// A SASLFinal whose content is no server-first-message either: libpq 13.3 reports
    /// the SCRAM text (checked with rexref against a fake server).
    #[test]
    fn sasl_final_with_malformed_content() {
        let mut m = started(config(Some("pw")));
        feed(&mut m, auth(10, b"SCRAM-SHA-256\0\0"));
        assert_eq!(
            refuse(&mut m, auth(12, b"x=1")),
            "malformed SCRAM message (attribute \"r\" expected)"
        );
    }

    #[test]
    fn sasl_final_carrying_server_first() {
        let mut m = started(config(Some("pw")));
        feed(&mut m, auth(10, b"SCRAM-SHA-256\0\0"));
        assert_eq!(
            refuse(&mut m, auth(12, b"r=BwcHBwcHBwcHBwcHBwcHBwcHx,s=QUJD,i=1")),
            "AuthenticationSASLFinal received from server, but SASL authentication was not completed"
        );
    }

    #[test]
    fn authentication_ok_before_scram_completes() {
        let mut m = started(config(Some("pw")));
        feed(&mut m, auth(10, b"SCRAM-SHA-256\0\0"));
        assert_eq!(
            refuse(&mut m, auth(0, b"")),
            "server accepted authentication before the SCRAM exchange was completed"
        );

        let mut m = started(config(Some("pw")));
        feed(&mut m, auth(10, b"SCRAM-SHA-256\0\0"));
        assert!(!feed(&mut m, auth(11, b"r=BwcHBwcHBwcHBwcHBwcHBwcHx,s=QUJD,i=1")).is_empty());
        assert_eq!(
            refuse(&mut m, auth(0, b"")),
            "server accepted authentication before the SCRAM exchange was completed"
        );
    }

    #[test]
    fn sasl_request_errors() {
        let text = |password: Option<&str>, frames: &[Frame]| {
            let mut m = started(config(password));
            let (last, first) = frames.split_last().unwrap();
            for f in first {
                feed(&mut m, f.clone());
            }
            refuse(&mut m, last.clone())
        };
        let sasl = auth(10, b"SCRAM-SHA-256\0\0");
        assert_eq!(
            text(Some("pw"), &[auth(11, b"r=x")]),
            "fe_sendauth: invalid authentication request from server: AUTH_REQ_SASL_CONT without AUTH_REQ_SASL"
        );
        assert_eq!(
            text(Some("pw"), &[auth(12, b"v=x")]),
            "fe_sendauth: invalid authentication request from server: AUTH_REQ_SASL_CONT without AUTH_REQ_SASL"
        );
        assert_eq!(
            text(Some("pw"), &[sasl.clone(), sasl.clone()]),
            "duplicate SASL authentication request"
        );
        assert_eq!(
            text(Some("pw"), &[auth(10, b"SCRAM-SHA-1\0OTHER\0\0")]),
            "none of the server's SASL authentication mechanisms are supported"
        );
        assert_eq!(
            text(Some("pw"), &[auth(10, b"\0")]),
            "none of the server's SASL authentication mechanisms are supported"
        );
        assert_eq!(
            text(Some("pw"), &[auth(10, b"SCRAM-SHA-256-PLUS\0\0")]),
            "server offered SCRAM-SHA-256-PLUS authentication over a non-SSL connection"
        );
        assert_eq!(
            text(
                Some("pw"),
                &[auth(10, b"SCRAM-SHA-256\0SCRAM-SHA-256-PLUS\0\0")]
            ),
            "server offered SCRAM-SHA-256-PLUS authentication over a non-SSL connection"
        );
        assert_eq!(
            text(Some("pw"), &[auth(10, b"SCRAM-SHA-256")]),
            "fe_sendauth: invalid authentication request from server: invalid list of authentication mechanisms"
        );
        // libpq 13.3 does not skip what follows the list: it reads it as the next message.
        assert_eq!(
            text(Some("pw"), &[auth(10, b"SCRAM-SHA-256\0\0junk")]),
            "expected authentication request from server, but received j"
        );
        assert_eq!(
            text(None, std::slice::from_ref(&sasl)),
            "fe_sendauth: no password supplied"
        );
        assert_eq!(text(Some(""), &[sasl]), "fe_sendauth: no password supplied");
        let long = "x".repeat(1025);
        assert_eq!(
            text(Some(&long), &[auth(10, b"SCRAM-SHA-256\0\0")]),
            "out of memory"
        );
    }

    #[test]
    fn no_password_supplied() {
        for password in [None, Some("")] {
            for request in [auth(3, b""), auth(5, b"salt")] {
                let mut m = started(config(password));
                assert_eq!(refuse(&mut m, request), "fe_sendauth: no password supplied");
            }
        }
    }

    #[test]
    fn unsupported_methods() {
        for (code, text) in [
            (1, "Kerberos 4 authentication not supported"),
            (2, "Kerberos 5 authentication not supported"),
            (4, "Crypt authentication not supported"),
            (6, "SCM_CRED authentication method not supported"),
            (7, "GSSAPI authentication not supported"),
            (8, "GSSAPI authentication not supported"),
            (9, "SSPI authentication not supported"),
            (13, "authentication method 13 not supported"),
        ] {
            let mut m = started(config(Some("pw")));
            assert_eq!(refuse(&mut m, auth(code, b"")), text, "code {code}");
        }
    }

    #[test]
    fn libpq_startup_framing_rules() {
        let received_r = "expected authentication request from server, but received R";
        let mut m = started(config(Some("pw")));
        assert_eq!(refuse(&mut m, Frame::new(b'R', &b"\0\0\0"[..])), received_r);
        let mut m = started(config(Some("pw")));
        assert_eq!(refuse(&mut m, auth(10, &[b'x'; 1993])), received_r);
        // 2000 bytes exactly is still an authentication request.
        let mut m = started(config(Some("pw")));
        assert_eq!(
            refuse(&mut m, auth(13, &[0; 1992])),
            "authentication method 13 not supported"
        );
        for tag in [b'S', b'N', b'Z', b'K', b'X'] {
            let mut m = started(config(Some("pw")));
            assert_eq!(
                refuse(&mut m, Frame::new(tag, &b"I"[..])),
                format!(
                    "expected authentication request from server, but received {}",
                    char::from(tag)
                )
            );
        }
    }

    #[test]
    fn pre_v3_errors() {
        // An `E` of length 30001: its "text" starts at the length word, whose first byte
        // is NUL, so libpq 13 reports an empty line.
        let mut m = started(config(None));
        let err = m
            .handle(Frame::new(b'E', vec![b'x'; 29_997]), &mut Vec::new())
            .unwrap_err();
        assert_eq!(err, StartupError::PreV3Error(String::new()));
        let mut m = started(config(None));
        let err = m
            .handle(Frame::new(b'E', &b"ab"[..]), &mut Vec::new())
            .unwrap_err();
        assert_eq!(err, StartupError::PreV3Error(String::new()));
        // A protocol-2 server's text, as libpq reads it: the "length" is its first bytes.
        let err = pre_v3_error(Some(u32::from_be_bytes(*b"FATA")), b"L:  old server\0junk");
        assert_eq!(err.to_string(), "FATAL:  old server");
    }

    /// Feeds `pieces` one after the other to `reader`, asking `m.next_frame` after each;
    /// returns the frames it gave and its first error.
    fn next_frames(
        m: &mut Startup,
        reader: &mut FrameReader,
        pieces: &[&[u8]],
    ) -> (Vec<Frame>, Option<StartupError>) {
        let mut frames = Vec::new();
        for piece in pieces {
            reader.extend_from_slice(piece);
            loop {
                match m.next_frame(reader) {
                    Ok(Some(frame)) => frames.push(frame),
                    Ok(None) => break,
                    Err(e) => return (frames, Some(e)),
                }
            }
        }
        (frames, None)
    }

    /// The first error `next_frame` gives on a fresh machine fed `pieces`, as text.
    fn framing_error(pieces: &[&[u8]]) -> Option<String> {
        let mut m = started(config(Some("pw")));
        let mut reader = FrameReader::new(Limits::default());
        let (frames, err) = next_frames(&mut m, &mut reader, pieces);
        assert!(frames.is_empty(), "{frames:?}");
        err.map(|e| e.to_string())
    }

    /// libpq 13's raw checks before authentication: the type byte alone, then the length
    /// word, and a pre-3.0 error read up to its NUL (the cases `connect.rs` used to check
    /// itself; their texts are the ones the fault tests see from a real socket).
    #[test]
    fn raw_checks_before_authentication() {
        let received = |tag: char| {
            Some(format!(
                "expected authentication request from server, but received {tag}"
            ))
        };
        // Not enough bytes to tell.
        assert_eq!(framing_error(&[b""]), None);
        assert_eq!(framing_error(&[b"R\0\0"]), None);
        assert_eq!(framing_error(&[b"R\0\0\0\x08"]), None);
        assert_eq!(framing_error(&[b"E\0\0\x75\x30"]), None);
        assert_eq!(framing_error(&[b"EFATAL:  old"]), None);
        // The type byte is refused before its length word arrives.
        assert_eq!(framing_error(&[b"X"]), received('X'));
        assert_eq!(framing_error(&[b"N"]), received('N'));
        // An `R` outside 8..=2000, also when the length word comes in pieces.
        assert_eq!(framing_error(&[b"R\0\0\x07\xd1"]), received('R'));
        assert_eq!(framing_error(&[b"R\0\0\0\x07"]), received('R'));
        assert_eq!(framing_error(&[b"R", b"\0\0", b"\x07\xd1"]), received('R'));
        assert_eq!(framing_error(&[b"R\xff\xff\xff\xff"]), received('R'));
        // A pre-3.0 server's error: the text up to the NUL, however it arrives.
        assert_eq!(
            framing_error(&[b"EFATAL:  old server\0"]),
            Some("FATAL:  old server".to_owned())
        );
        assert_eq!(
            framing_error(&[b"EFA", b"TAL:  old", b" server\0junk"]),
            Some("FATAL:  old server".to_owned())
        );
        // A length word starting with NUL outside 8..=30000 is an empty text at once.
        assert_eq!(framing_error(&[b"E\0\0\x75\x31"]), Some(String::new()));
        assert_eq!(framing_error(&[b"E\0\0\0\x07"]), Some(String::new()));
        assert_eq!(
            framing_error(&[b"E\xffFATAL\0"]),
            Some("\u{fffd}FATAL".to_owned())
        );
    }

    /// A pre-3.0 error is looked for up to [`MAX_PRE_V3_ERROR_LEN`] bytes, not without end
    /// as in libpq 13: what the reader holds stays bounded.
    #[test]
    fn pre_v3_error_without_its_nul_is_cut_off() {
        let too_long = "pre-3.0 error message from server has no end within 30000 bytes".to_owned();
        let mut text = b"EFATAL:  ".to_vec();
        text.resize(MAX_PRE_V3_ERROR_LEN + 1, b'x');
        // Exactly the cap (type byte aside) without a NUL: more may come.
        assert_eq!(framing_error(&[&text]), None);
        text.push(b'x');
        assert_eq!(framing_error(&[&text]), Some(too_long.clone()));
        // In pieces, as a socket delivers it: the error as soon as the cap is passed.
        let mut m = started(config(None));
        let mut reader = FrameReader::new(Limits::default());
        let chunk = [b'y'; 4096];
        let mut pieces: Vec<&[u8]> = vec![b"E"];
        pieces.extend(std::iter::repeat_n(&chunk[..], 100));
        let (_, err) = next_frames(&mut m, &mut reader, &pieces);
        assert_eq!(err.map(|e| e.to_string()), Some(too_long.clone()));
        assert!(reader.buffered() <= MAX_PRE_V3_ERROR_LEN + 4096 + 1);
        // A NUL past the cap does not make it a text.
        text.push(0);
        assert_eq!(framing_error(&[&text]), Some(too_long));
        // A NUL at the cap does.
        text.truncate(MAX_PRE_V3_ERROR_LEN + 1);
        text.push(0);
        assert_eq!(
            framing_error(&[&text]).map(|t| t.len()),
            Some(MAX_PRE_V3_ERROR_LEN)
        );
    }

    /// ParameterStatus names stop at [`Limits::max_parameters`]; values of known names
    /// still change.
    #[test]
    fn too_many_parameters_during_startup() {
        let mut c = config(None);
        c.limits = Limits {
            max_parameters: 3,
            ..Limits::default()
        };
        let mut m = started(c);
        assert!(feed(&mut m, auth(0, b"")).is_empty());
        for name in ["a", "b", "c", "a", "c"] {
            feed(&mut m, param(name, "v"));
        }
        assert_eq!(
            refuse(&mut m, param("d", "v")),
            "server reported more than 3 distinct parameters (ParameterStatus)"
        );
        assert!(matches!(
            m.handle(ready_frame(), &mut Vec::new()),
            Err(StartupError::TooManyParameters(_))
        ));
        // The default cap, reached with a flood of 50 000 names: an error, quickly.
        let mut m = started(config(None));
        assert!(feed(&mut m, auth(0, b"")).is_empty());
        let limit = Limits::default().max_parameters;
        let err = (0..50_000)
            .find_map(|i| {
                m.handle(param(&format!("p{i}"), "v"), &mut Vec::new())
                    .err()
            })
            .unwrap();
        assert_eq!(
            err,
            StartupError::TooManyParameters(TooManyParameters { limit })
        );
    }

    /// Notices during startup are kept within [`Limits::max_notice_bytes`], the newest
    /// ones, the others counted.
    #[test]
    fn startup_notices_are_bounded() {
        let mut m = started(config(None));
        assert!(feed(&mut m, auth(0, b"")).is_empty());
        let text = "n".repeat(1000);
        for _ in 0..10_000 {
            feed(&mut m, error_frame(b'N', "NOTICE", "00000", &text));
        }
        feed(&mut m, error_frame(b'N', "NOTICE", "00000", "last"));
        let Step::Done(ready) = m.handle(ready_frame(), &mut Vec::new()).unwrap() else {
            panic!("expected Done");
        };
        let max = Limits::default().max_notice_bytes;
        assert!(ready.notices.bytes() <= max);
        assert!(ready.notices.len() > 100, "{}", ready.notices.len());
        assert_eq!(
            u64::try_from(ready.notices.len()).unwrap() + ready.notices.dropped(),
            10_001
        );
        let last = ready.notices.iter().last().unwrap();
        assert_eq!(last.message.as_deref(), Some("last"));
    }

    /// The server's error is sticky as the others, though kept as its frame (decoded again
    /// for each later call) rather than as a second copy.
    #[test]
    fn server_errors_are_sticky_without_a_copy() {
        for authenticated in [false, true] {
            let mut m = started(config(None));
            if authenticated {
                assert!(feed(&mut m, auth(0, b"")).is_empty());
            }
            let error = error_frame(b'E', "FATAL", "28000", "no thanks");
            let text = refuse(&mut m, error);
            assert_eq!(text, "FATAL:  no thanks");
            let again = m.handle(ready_frame(), &mut Vec::new()).unwrap_err();
            let StartupError::Server {
                fields,
                authenticated: was,
            } = &again
            else {
                panic!("{again:?}");
            };
            assert_eq!(
                (fields.code.as_deref(), *was),
                (Some("28000"), authenticated)
            );
            let mut reader = FrameReader::new(Limits::default());
            reader.extend_from_slice(b"Z\0\0\0\x05I");
            assert_eq!(m.next_frame(&mut reader), Err(again.clone()));
            assert_eq!(m.start(&mut Vec::new()), Err(again));
            assert!(!m.is_done());
        }
    }

    #[test]
    fn next_frame_errors_are_sticky_and_shared_with_handle() {
        let mut m = started(config(Some("pw")));
        let mut reader = FrameReader::new(Limits::default());
        let (_, err) = next_frames(&mut m, &mut reader, &[b"EFATAL:  old server\0"]);
        let err = err.unwrap();
        assert_eq!(
            err,
            StartupError::PreV3Error("FATAL:  old server".to_owned())
        );
        assert_eq!(m.next_frame(&mut reader), Err(err.clone()));
        assert_eq!(
            m.handle(auth(0, b""), &mut Vec::new()).err(),
            Some(err.clone())
        );
        // Nothing was consumed.
        assert_eq!(reader.peek(), b"EFATAL:  old server\0");
        // And a `handle` error makes `next_frame` fail the same way.
        let mut m = started(config(None));
        let first = refuse(&mut m, auth(3, b""));
        let mut reader = FrameReader::new(Limits::default());
        reader.extend_from_slice(b"R\0\0\0\x08\0\0\0\0");
        assert_eq!(m.next_frame(&mut reader).unwrap_err().to_string(), first);
    }

    #[test]
    fn next_frame_out_of_order() {
        let mut reader = FrameReader::new(Limits::default());
        reader.extend_from_slice(b"R\0\0\0\x08\0\0\0\0");
        let mut m = Startup::new(config(None));
        assert_eq!(m.next_frame(&mut reader), Err(StartupError::OutOfOrder));
        let mut m = started(config(None));
        let _ = finish(&mut m);
        assert_eq!(m.next_frame(&mut reader), Err(StartupError::OutOfOrder));
        // Not sticky, and nothing consumed.
        assert_eq!(reader.buffered(), 9);
    }

    /// After AuthenticationOk the raw checks are off: any type is framed (and judged by
    /// `handle`), and a bad length word is the frame reader's lost synchronization.
    #[test]
    fn next_frame_after_authentication_is_the_frame_reader() {
        let mut m = started(config(None));
        let mut reader = FrameReader::new(Limits::default());
        let mut stream = Vec::new();
        for frame in [auth(0, b""), param("a", "1")] {
            BackendMessage::parse(&frame)
                .unwrap()
                .encode(&mut stream)
                .unwrap();
        }
        stream.extend_from_slice(b"C\0\0\x75\x31");
        reader.extend_from_slice(&stream);
        let ok = m.next_frame(&mut reader).unwrap().unwrap();
        assert!(feed(&mut m, ok).is_empty());
        let s = m.next_frame(&mut reader).unwrap().unwrap();
        assert_eq!(s.tag, b'S');
        assert!(feed(&mut m, s).is_empty());
        let err = m.next_frame(&mut reader).unwrap_err();
        assert_eq!(
            err.to_string(),
            "lost synchronization with server: got message type \"C\", length 30001"
        );
        assert!(matches!(
            err,
            StartupError::Protocol(ProtocolError::LostSync { .. })
        ));
        assert_eq!(m.next_frame(&mut reader), Err(err));
    }

    /// The captured trust startup, fed one byte at a time through `next_frame`.
    #[test]
    fn captured_startup_byte_by_byte_through_next_frame() {
        let mut m = started(config(Some("hunter2")));
        let mut reader = FrameReader::new(Limits::default());
        let mut done = None;
        for byte in include_bytes!("../tests/data/startup_select.bin").chunks(1) {
            reader.extend_from_slice(byte);
            while done.is_none() {
                let Some(frame) = m.next_frame(&mut reader).unwrap() else {
                    break;
                };
                if let Step::Done(ready) = m.handle(frame, &mut Vec::new()).unwrap() {
                    done = Some(ready);
                }
            }
        }
        let ready = done.unwrap();
        assert!(ready.backend_key.is_some());
        // The query's reply after ReadyForQuery is left for the query machine.
        assert!(reader.buffered() > 0);
    }

    #[test]
    fn server_error_before_and_after_authentication() {
        let mut m = started(config(None));
        let err = m
            .handle(
                error_frame(b'E', "FATAL", "28000", "no pg_hba.conf entry"),
                &mut Vec::new(),
            )
            .unwrap_err();
        assert!(matches!(
            err,
            StartupError::Server {
                authenticated: false,
                ..
            }
        ));
        assert_eq!(err.to_string(), "FATAL:  no pg_hba.conf entry");

        let mut m = started(config(None));
        feed(&mut m, auth(0, b""));
        let err = m
            .handle(
                error_frame(b'E', "FATAL", "3D000", "database \"db\" does not exist"),
                &mut Vec::new(),
            )
            .unwrap_err();
        assert!(matches!(
            err,
            StartupError::Server {
                authenticated: true,
                ..
            }
        ));
        assert_eq!(err.to_string(), "FATAL:  database \"db\" does not exist");
        // Sticky.
        assert_eq!(m.handle(ready_frame(), &mut Vec::new()).unwrap_err(), err);
    }

    #[test]
    fn unexpected_messages_after_authentication() {
        let after_ok = |frame: Frame| {
            let mut m = started(config(None));
            feed(&mut m, auth(0, b""));
            refuse(&mut m, frame)
        };
        assert_eq!(
            after_ok(Frame::new(b'C', &b"SELECT 1\0"[..])),
            "unexpected message from server during startup"
        );
        assert_eq!(
            after_ok(Frame::new(b'I', &b""[..])),
            "unexpected message from server during startup"
        );
        assert_eq!(
            after_ok(Frame::new(b'D', &b"\0\0"[..])),
            "server sent data (\"D\" message) without prior row description (\"T\" message)"
        );
        assert_eq!(
            after_ok(Frame::new(b'q', &b""[..])),
            "unexpected response from server; first received character was \"q\""
        );
        assert_eq!(
            after_ok(auth(0, b"")),
            "unexpected response from server; first received character was \"R\""
        );
        assert_eq!(
            after_ok(Frame::new(b'Z', &b"II"[..])),
            "message contents do not agree with length in message type \"Z\""
        );
    }

    #[test]
    fn errors_are_sticky() {
        let mut m = started(config(None));
        let first = refuse(&mut m, auth(3, b""));
        assert_eq!(first, "fe_sendauth: no password supplied");
        assert_eq!(refuse(&mut m, auth(0, b"")), first);
        assert_eq!(refuse(&mut m, ready_frame()), first);
        assert_eq!(m.start(&mut Vec::new()).unwrap_err().to_string(), first);
    }

    /// The password never leaves before a request for it, and never on trust.
    #[test]
    fn no_password_byte_before_the_server_asks() {
        let password = "hunter2-secret";
        let mut m = Startup::new(config(Some(password)));
        let mut all = Vec::new();
        m.start(&mut all).unwrap();
        all.extend(feed(&mut m, auth(0, b"")));
        all.extend(feed(&mut m, param("a", "b")));
        let Step::Done(_) = m.handle(ready_frame(), &mut all).unwrap() else {
            panic!("expected Done");
        };
        assert!(!contains(&all, password.as_bytes()));

        // Refused requests write nothing at all.
        for request in [
            auth(7, b""),
            auth(10, b"SCRAM-SHA-256-PLUS\0\0"),
            auth(13, b""),
        ] {
            let mut m = started(config(Some(password)));
            let mut out = Vec::new();
            assert!(m.handle(request, &mut out).is_err());
            assert!(out.is_empty());
        }
        // SCRAM never sends the password itself (checked inside `scram_exchange`).
        let (mut m, server_final) = scram_exchange(password, password);
        assert!(feed(&mut m, auth(12, &server_final.unwrap())).is_empty());
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn policy_refuses_before_any_password_byte() {
        let mut c = config(Some("pw"));
        c.auth_policy.require_auth = RequireAuth::parse("scram-sha-256").unwrap();
        let mut m = started(c.clone());
        assert_eq!(
            refuse(&mut m, auth(3, b"")),
            "authentication method requirement \"scram-sha-256\" failed: server requested a cleartext password"
        );
        let mut m = started(c.clone());
        assert_eq!(
            refuse(&mut m, auth(5, b"salt")),
            "authentication method requirement \"scram-sha-256\" failed: server requested a hashed password"
        );
        let mut m = started(c);
        assert_eq!(
            refuse(&mut m, auth(0, b"")),
            "authentication method requirement \"scram-sha-256\" failed: server did not complete authentication"
        );

        let mut c = config(Some("pw"));
        c.auth_policy.channel_binding = ChannelBindingMode::Require;
        let mut m = started(c.clone());
        assert_eq!(
            refuse(&mut m, auth(3, b"")),
            "channel binding required but not supported by server's authentication request"
        );
        let mut m = started(c.clone());
        assert_eq!(
            refuse(&mut m, auth(0, b"")),
            "channel binding required, but server authenticated client without channel binding"
        );
        let mut m = started(c);
        assert_eq!(
            refuse(&mut m, auth(10, b"SCRAM-SHA-256\0\0")),
            "channel binding required, but SSL not in use"
        );
    }

    #[test]
    fn channel_binding_over_tls() {
        let mut c = config(Some("pw"));
        c.tls_server_end_point = Some(Ok(b"CERTHASH".to_vec()));
        let mut m = started(c.clone());
        let out = feed(&mut m, auth(10, b"SCRAM-SHA-256\0SCRAM-SHA-256-PLUS\0\0"));
        assert!(out.starts_with(b"p\0\0\0"));
        assert!(contains(&out, b"SCRAM-SHA-256-PLUS\0"));
        assert!(contains(&out, b"p=tls-server-end-point,,n=,r="));

        let mut m = started(c.clone());
        let out = feed(&mut m, auth(10, b"SCRAM-SHA-256\0\0"));
        assert!(contains(&out, b"y,,n=,r="));

        c.auth_policy.channel_binding = ChannelBindingMode::Require;
        let mut m = started(c);
        assert_eq!(
            refuse(&mut m, auth(10, b"SCRAM-SHA-256\0\0")),
            "channel binding is required, but server did not offer an authentication method that supports channel binding"
        );
    }

    /// A TLS connection whose certificate gives no binding hash (Ed25519, Ed448): fine
    /// until SCRAM-SHA-256-PLUS is chosen, then the TLS layer's text, whatever
    /// `channel_binding` asks (never an unbound exchange instead).
    #[test]
    fn no_binding_hash_matters_only_for_scram_sha_256_plus() {
        let mut c = config(Some("pw"));
        c.tls_server_end_point = Some(Err("could not find digest for NID UNDEF".to_owned()));
        let both = b"SCRAM-SHA-256\0SCRAM-SHA-256-PLUS\0\0";
        for mode in [ChannelBindingMode::Prefer, ChannelBindingMode::Require] {
            c.auth_policy.channel_binding = mode;
            let mut m = started(c.clone());
            assert_eq!(
                refuse(&mut m, auth(10, both)),
                "could not find digest for NID UNDEF",
                "{mode:?}"
            );
        }
        // Unbound SCRAM where PLUS is not offered, or binding is off.
        c.auth_policy.channel_binding = ChannelBindingMode::Prefer;
        let out = feed(&mut started(c.clone()), auth(10, b"SCRAM-SHA-256\0\0"));
        assert!(contains(&out, b"y,,n=,r="));
        c.auth_policy.channel_binding = ChannelBindingMode::Disable;
        let out = feed(&mut started(c.clone()), auth(10, both));
        assert!(contains(&out, b"n,,n=,r="));
        // Password and MD5 never look at it.
        c.auth_policy.channel_binding = ChannelBindingMode::Prefer;
        let out = feed(&mut started(c.clone()), auth(3, b""));
        assert!(out.starts_with(b"p"));
        let out = feed(&mut started(c), auth(5, b"salt"));
        assert!(out.starts_with(b"p"));
    }
}
