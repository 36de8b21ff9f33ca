//! SCRAM-SHA-256 client (RFC 5802, RFC 7677), without channel binding.

use std::fmt;

/// A SCRAM failure, with libpq 13's text.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScramError {
    /// `invalid SCRAM response (nonce mismatch)`
    NonceMismatch,
    /// `incorrect server signature`
    IncorrectServerSignature,
}

impl fmt::Display for ScramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NonceMismatch => f.write_str("invalid SCRAM response (nonce mismatch)"),
            Self::IncorrectServerSignature => f.write_str("incorrect server signature"),
        }
    }
}

impl std::error::Error for ScramError {}
