//! Client authentication: cleartext, MD5 and SCRAM-SHA-256, with libpq 13's texts.

pub mod md5;
pub mod scram;

use std::fmt;

/// A client-side authentication failure. `Display` is libpq 13's text without the final
/// newline. In libpq each of these replaces the error buffer and stops the attempt.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// `fe_sendauth: no password supplied`
    NoPasswordSupplied,
    /// `authentication method %u not supported`
    MethodNotSupported(u32),
    /// SCRAM exchange failures.
    Scram(scram::ScramError),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoPasswordSupplied => f.write_str("fe_sendauth: no password supplied"),
            Self::MethodNotSupported(code) => {
                write!(f, "authentication method {code} not supported")
            }
            Self::Scram(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for AuthError {}
