//! Typed limits on what the server can make us buffer or compute.

/// Largest length word libpq accepts for message types other than `T D d V E N A`.
pub const MAX_SHORT_MESSAGE_LEN: u32 = 30_000;

/// Message types that may be longer than [`MAX_SHORT_MESSAGE_LEN`] (as in libpq's
/// `VALID_LONG_MESSAGE_TYPE`).
pub const LONG_MESSAGE_TYPES: &[u8] = b"TDdVENA";

/// Configurable caps. `Limits::default()` is right for almost every client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest length word accepted for the long types (`T D d V E N A`).
    /// Default 1 GiB + 4: PostgreSQL never sends a field over 1 GiB, the `varlena` limit.
    pub max_long_message_len: u32,
    /// Largest SCRAM iteration count accepted, checked before any hashing. Default 100 000:
    /// PostgreSQL's default is 4096; a hostile server could otherwise make the client run
    /// PBKDF2 for hours (`i=4294967295`).
    pub max_scram_iterations: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_long_message_len: (1 << 30) + 4,
            max_scram_iterations: 100_000,
        }
    }
}
