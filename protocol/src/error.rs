//! Errors for protocol violations by the server, with libpq 13's texts.

use std::fmt;

/// The server broke the protocol. `Display` is libpq 13's text, without the final newline.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// `lost synchronization with server: got message type "%c", length %d`
    LostSync {
        /// The message type byte.
        tag: u8,
        /// The length as libpq prints it (raw length word, read as signed).
        len: i32,
    },
    /// `message contents do not agree with length in message type "%c"`
    LengthMismatch {
        /// The message type byte.
        tag: u8,
    },
    /// `unexpected response from server; first received character was "%c"`
    UnexpectedMessage {
        /// The message type byte.
        tag: u8,
    },
    /// `unexpected field count in "D" message`
    FieldCount,
    /// `server sent data ("D" message) without prior row description ("T" message)`
    DataWithoutDescription,
    /// `insufficient data in "%c" message`
    InsufficientData {
        /// The message type byte.
        tag: u8,
    },
    /// `expected authentication request from server, but received %c`
    ExpectedAuthRequest {
        /// The message type byte.
        tag: u8,
    },
    /// `unexpected message from server during startup`
    UnexpectedDuringStartup,
    /// `invalid transaction status "%c" in "Z" message` (pgcluster's own text: libpq 13
    /// records an unknown status as `PQTRANS_UNKNOWN` without a message).
    InvalidTransactionStatus {
        /// The status byte received.
        status: u8,
    },
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = |tag: &u8| char::from(*tag);
        match self {
            Self::LostSync { tag, len } => write!(
                f,
                "lost synchronization with server: got message type \"{}\", length {len}",
                c(tag)
            ),
            Self::LengthMismatch { tag } => write!(
                f,
                "message contents do not agree with length in message type \"{}\"",
                c(tag)
            ),
            Self::UnexpectedMessage { tag } => write!(
                f,
                "unexpected response from server; first received character was \"{}\"",
                c(tag)
            ),
            Self::FieldCount => f.write_str("unexpected field count in \"D\" message"),
            Self::DataWithoutDescription => f.write_str(
                "server sent data (\"D\" message) without prior row description (\"T\" message)",
            ),
            Self::InsufficientData { tag } => {
                write!(f, "insufficient data in \"{}\" message", c(tag))
            }
            Self::ExpectedAuthRequest { tag } => write!(
                f,
                "expected authentication request from server, but received {}",
                c(tag)
            ),
            Self::UnexpectedDuringStartup => {
                f.write_str("unexpected message from server during startup")
            }
            Self::InvalidTransactionStatus { status } => write!(
                f,
                "invalid transaction status \"{}\" in \"Z\" message",
                c(status)
            ),
        }
    }
}

impl std::error::Error for ProtocolError {}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;

    #[test]
    fn display_is_libpq_13_text() {
        let cases: [(ProtocolError, &str); 9] = [
            (
                ProtocolError::LostSync {
                    tag: b'D',
                    len: 2147483628,
                },
                "lost synchronization with server: got message type \"D\", length 2147483628",
            ),
            (
                ProtocolError::LostSync {
                    tag: b'C',
                    len: -16,
                },
                "lost synchronization with server: got message type \"C\", length -16",
            ),
            (
                ProtocolError::LengthMismatch { tag: b'Z' },
                "message contents do not agree with length in message type \"Z\"",
            ),
            (
                ProtocolError::UnexpectedMessage { tag: b'q' },
                "unexpected response from server; first received character was \"q\"",
            ),
            (
                ProtocolError::FieldCount,
                "unexpected field count in \"D\" message",
            ),
            (
                ProtocolError::DataWithoutDescription,
                "server sent data (\"D\" message) without prior row description (\"T\" message)",
            ),
            (
                ProtocolError::InsufficientData { tag: b'T' },
                "insufficient data in \"T\" message",
            ),
            (
                ProtocolError::ExpectedAuthRequest { tag: b'X' },
                "expected authentication request from server, but received X",
            ),
            (
                ProtocolError::UnexpectedDuringStartup,
                "unexpected message from server during startup",
            ),
        ];
        for (err, text) in cases {
            assert_eq!(err.to_string(), text);
        }
        assert_eq!(
            ProtocolError::InvalidTransactionStatus { status: b'?' }.to_string(),
            "invalid transaction status \"?\" in \"Z\" message"
        );
    }
}
