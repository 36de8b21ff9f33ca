//! Typed limits on what the server can make us buffer or compute.
//!
//! Every limit here bounds the memory a server's messages can make the client hold by a
//! small constant times the bytes received, plus a fixed amount: nothing the server sends
//! piles up without an end.

/// Largest length word libpq accepts for message types other than `T D d V E N A`.
pub const MAX_SHORT_MESSAGE_LEN: u32 = 30_000;

/// Message types that may be longer than [`MAX_SHORT_MESSAGE_LEN`] (as in libpq's
/// `VALID_LONG_MESSAGE_TYPE`).
pub const LONG_MESSAGE_TYPES: &[u8] = b"TDdVENA";

/// Fields with codes this crate does not know kept per ErrorResponse or NoticeResponse
/// ([`ErrorFields::other`](crate::error_fields::ErrorFields::other)); later ones are only
/// counted ([`ErrorFields::other_dropped`](crate::error_fields::ErrorFields::other_dropped)).
/// PostgreSQL sends none; without a cap, a body of empty unknown fields (2 bytes each on the
/// wire) would cost 16 times its size or more.
pub const MAX_UNKNOWN_ERROR_FIELDS: usize = 16;

/// Longest pre-3.0 error text read before authentication, in bytes, looking for its NUL
/// (the postmaster of a pre-7.4 server sends a line of text). libpq 13 reads without limit;
/// past this the connection fails with
/// [`StartupError::PreV3ErrorTooLong`](crate::startup::StartupError::PreV3ErrorTooLong).
pub const MAX_PRE_V3_ERROR_LEN: usize = MAX_SHORT_MESSAGE_LEN as usize;

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
    /// Most distinct ParameterStatus names kept
    /// ([`Parameters`](crate::parameters::Parameters)). Default 1000: PostgreSQL 18 reports
    /// about 16. During startup one more is
    /// [`StartupError::TooManyParameters`](crate::startup::StartupError::TooManyParameters).
    pub max_parameters: usize,
    /// Most bytes of NoticeResponses kept unread (as counted by
    /// [`ErrorFields::kept_size`](crate::error_fields::ErrorFields::kept_size)); past it the
    /// oldest are dropped and counted. Default 1 MiB.
    pub max_notice_bytes: usize,
    /// Most bytes of NotificationResponses kept unread (channel and payload, plus a fixed
    /// amount each); past it the oldest are dropped and counted. Default 16 MiB (2000 of
    /// PostgreSQL's largest, 8000-byte payloads).
    pub max_notification_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_long_message_len: (1 << 30) + 4,
            max_scram_iterations: 100_000,
            max_parameters: 1000,
            max_notice_bytes: 1 << 20,
            max_notification_bytes: 16 << 20,
        }
    }
}
