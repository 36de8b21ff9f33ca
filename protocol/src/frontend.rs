//! Encoders for frontend (client-to-server) messages. Each appends one message to the
//! caller's buffer; on error nothing is appended.

use std::fmt;

/// What the caller asked to send cannot be encoded. Never caused by the server.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// A string that is sent NUL-terminated contains a NUL byte.
    ContainsNul {
        /// Which string (e.g. `"query"`, `"user"`).
        what: &'static str,
    },
    /// The message would be longer than a length word can say (`i32::MAX`).
    TooLong,
    /// More items than an `i16` count can say.
    TooMany {
        /// What was counted (e.g. `"parameters"`).
        what: &'static str,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ContainsNul { what } => write!(f, "the {what} contains a NUL byte"),
            Self::TooLong => f.write_str("message too long to send"),
            Self::TooMany { what } => write!(f, "too many {what} to send"),
        }
    }
}

impl std::error::Error for EncodeError {}

/// StartupMessage, protocol 3.0, with the given `(name, value)` parameters
/// (`user` first by convention).
pub fn startup(params: &[(&str, &str)], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let _ = (params, out);
    todo!()
}

/// PasswordMessage (`p`) carrying a NUL-terminated password or MD5 hash.
pub fn password(password: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let _ = (password, out);
    todo!()
}

/// SASLInitialResponse (`p`).
pub fn sasl_initial_response(mechanism: &str, data: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let _ = (mechanism, data, out);
    todo!()
}

/// SASLResponse (`p`).
pub fn sasl_response(data: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let _ = (data, out);
    todo!()
}

/// Query (`Q`). A NUL in `sql` is refused (the server would answer `invalid message format`).
pub fn query(sql: &str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let _ = (sql, out);
    todo!()
}

/// Terminate (`X`).
pub fn terminate(out: &mut Vec<u8>) {
    let _ = out;
    todo!()
}
