//! The startup and authentication exchange as a state machine: frames in, bytes out.
//!
//! ```text
//! let mut startup = Startup::new(config, client_nonce);
//! startup.start(&mut out)?;                 // StartupMessage appended to `out`
//! // I/O layer: write `out`, read into a FrameReader, then for each frame:
//! match startup.handle(frame, &mut out)? {  // may append a password message to `out`
//!     Step::Continue => {}                  // write `out` if not empty, read more
//!     Step::Done(ready) => return Ok(ready),
//! }
//! ```

use std::fmt;

use crate::auth::AuthError;
use crate::error_fields::ErrorFields;
use crate::frame::Frame;
use crate::frontend::EncodeError;
use crate::limits::Limits;
use crate::ProtocolError;

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
            .finish()
    }
}

/// The server is ready for queries.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Ready {
    /// ParameterStatus values, in arrival order (later values replace earlier ones).
    pub parameters: Vec<(String, String)>,
    /// BackendKeyData `(process_id, secret_key)`, for CancelRequest.
    pub backend_key: Option<(i32, i32)>,
    /// NoticeResponses received during startup.
    pub notices: Vec<ErrorFields>,
}

/// What happened after a frame was handled.
#[derive(Debug)]
#[must_use]
pub enum Step {
    /// Send whatever was appended to `out` (maybe nothing), then read more.
    Continue,
    /// Authentication succeeded and the server sent ReadyForQuery.
    Done(Ready),
}

/// Why startup failed. `Display` is libpq 13's text (no final newline, except that
/// `Server` is the full multi-line libpq layout *with* its final newline removed).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartupError {
    /// The server broke the protocol.
    Protocol(ProtocolError),
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
    /// Something we were asked to send cannot be encoded (e.g. a NUL in the user name).
    Encode(EncodeError),
}

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protocol(e) => e.fmt(f),
            Self::Auth(e) => e.fmt(f),
            Self::Server { fields, .. } => {
                let text = fields.libpq_text(None);
                f.write_str(text.strip_suffix('\n').unwrap_or(&text))
            }
            Self::PreV3Error(text) => f.write_str(text),
            Self::Encode(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for StartupError {}

/// The startup/authentication state machine. Errors are sticky.
#[derive(Debug)]
pub struct Startup {
    config: StartupConfig,
    client_nonce: [u8; 18],
}

impl Startup {
    /// A machine for `config`. `client_nonce` is the SCRAM client nonce's raw bytes (the
    /// caller draws them from a CSPRNG; tests fix them).
    pub fn new(config: StartupConfig, client_nonce: [u8; 18]) -> Self {
        Self {
            config,
            client_nonce,
        }
    }

    /// Appends the StartupMessage to `out`.
    pub fn start(&mut self, out: &mut Vec<u8>) -> Result<(), StartupError> {
        let _ = (out, &self.config, &self.client_nonce);
        todo!()
    }

    /// Handles one frame from the server; may append a reply to `out`.
    pub fn handle(&mut self, frame: Frame, out: &mut Vec<u8>) -> Result<Step, StartupError> {
        let _ = (frame, out);
        todo!()
    }
}
