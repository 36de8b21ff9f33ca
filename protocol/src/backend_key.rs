//! BackendKeyData (`K`): the backend's process id and the secret key a CancelRequest
//! must present, checked as libpq 18 checks it. Protocol 3.0 keys are 4 bytes; from 3.2
//! (PostgreSQL 18) a key is 4 to 256 bytes (PostgreSQL 18 sends 32).
//!
//! ```
//! use pgcluster_protocol::backend_key::BackendKey;
//! use pgcluster_protocol::version::ProtocolVersion;
//! let mut body = 4242i32.to_be_bytes().to_vec();
//! body.extend_from_slice(&[7; 32]);
//! let key = BackendKey::parse(&body, ProtocolVersion::V3_2).unwrap();
//! assert_eq!((key.process_id(), key.secret().len()), (4242, 32));
//! assert_eq!(
//!     BackendKey::parse(&body, ProtocolVersion::V3_0).unwrap_err().to_string(),
//!     "received invalid BackendKeyData message: cancel key with length 32 not allowed in \
//!      protocol version 3.0 (must be 4 bytes)"
//! );
//! ```

use std::fmt;

use crate::version::ProtocolVersion;

/// Shortest cancel key libpq 18 accepts, and the only length protocol 3.0 has.
pub const MIN_CANCEL_KEY_LEN: usize = 4;

/// Longest cancel key libpq 18 accepts (protocol 3.2).
pub const MAX_CANCEL_KEY_LEN: usize = 256;

/// A backend's process id and cancel key. The key is
/// [`MIN_CANCEL_KEY_LEN`]..=[`MAX_CANCEL_KEY_LEN`] bytes; `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct BackendKey {
    process_id: i32,
    secret: Box<[u8]>,
}

impl BackendKey {
    /// A key from its parts; `None` if `secret` is not 4..=256 bytes long.
    pub fn new(process_id: i32, secret: &[u8]) -> Option<Self> {
        (MIN_CANCEL_KEY_LEN..=MAX_CANCEL_KEY_LEN)
            .contains(&secret.len())
            .then(|| Self {
                process_id,
                secret: secret.into(),
            })
    }

    /// libpq 18's `getBackendKeyData` on a `K` body received at protocol `version`. The
    /// key is everything after the process id: its length is the body's minus 4, which
    /// is negative for a body shorter than a process id (libpq reports `-2` for a 2-byte
    /// body, having read the id past the message).
    pub fn parse(body: &[u8], version: ProtocolVersion) -> Result<Self, BackendKeyError> {
        let len = i64::try_from(body.len())
            .ok()
            .and_then(|n| n.checked_sub(4))
            .unwrap_or(i64::MAX);
        if version == ProtocolVersion::V3_0 && len != 4 {
            return Err(BackendKeyError::NotIn30 { len });
        }
        let (id, secret) = body
            .split_first_chunk::<4>()
            .ok_or(BackendKeyError::TooShort { len })?;
        if secret.len() < MIN_CANCEL_KEY_LEN {
            return Err(BackendKeyError::TooShort { len });
        }
        Self::new(i32::from_be_bytes(*id), secret).ok_or(BackendKeyError::TooLong { len })
    }

    /// The backend's process id.
    pub fn process_id(&self) -> i32 {
        self.process_id
    }

    /// The secret key, for CancelRequest.
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }
}

impl fmt::Debug for BackendKey {
    /// The process id and the key's length; never the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendKey")
            .field("process_id", &self.process_id)
            .field("secret_len", &self.secret.len())
            .finish()
    }
}

/// A BackendKeyData refused. `Display` is libpq 18's text; `len` is the key's length as
/// libpq computes it (the body's length minus 4).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendKeyError {
    /// `…: cancel key with length %d not allowed in protocol version 3.0 (must be 4 bytes)`
    NotIn30 {
        /// The key's length.
        len: i64,
    },
    /// `…: cancel key with length %d is too short (minimum 4 bytes)`
    TooShort {
        /// The key's length.
        len: i64,
    },
    /// `…: cancel key with length %d is too long (maximum 256 bytes)`
    TooLong {
        /// The key's length.
        len: i64,
    },
}

impl fmt::Display for BackendKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("received invalid BackendKeyData message: cancel key with length ")?;
        match self {
            Self::NotIn30 { len } => write!(
                f,
                "{len} not allowed in protocol version 3.0 (must be {MIN_CANCEL_KEY_LEN} bytes)"
            ),
            Self::TooShort { len } => {
                write!(f, "{len} is too short (minimum {MIN_CANCEL_KEY_LEN} bytes)")
            }
            Self::TooLong { len } => {
                write!(f, "{len} is too long (maximum {MAX_CANCEL_KEY_LEN} bytes)")
            }
        }
    }
}

impl std::error::Error for BackendKeyError {}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;
    use ProtocolVersion::{V3_0, V3_2};

    fn body(key_len: usize) -> Vec<u8> {
        let mut b = 99i32.to_be_bytes().to_vec();
        b.resize(4 + key_len, 0xAB);
        b
    }

    /// The texts psql 18.6 prints for the same bodies from a scripted server.
    #[test]
    fn libpq_18_lengths_and_texts() {
        let prefix = "received invalid BackendKeyData message: cancel key with length ";
        let cases: [(&[u8], ProtocolVersion, &str); 8] = [
            (
                &body(32),
                V3_0,
                "32 not allowed in protocol version 3.0 (must be 4 bytes)",
            ),
            (
                &body(0),
                V3_0,
                "0 not allowed in protocol version 3.0 (must be 4 bytes)",
            ),
            (
                b"ab",
                V3_0,
                "-2 not allowed in protocol version 3.0 (must be 4 bytes)",
            ),
            (&body(3), V3_2, "3 is too short (minimum 4 bytes)"),
            (&body(0), V3_2, "0 is too short (minimum 4 bytes)"),
            (b"ab", V3_2, "-2 is too short (minimum 4 bytes)"),
            (&body(257), V3_2, "257 is too long (maximum 256 bytes)"),
            (&body(29_990), V3_2, "29990 is too long (maximum 256 bytes)"),
        ];
        for (b, version, text) in cases {
            let e = BackendKey::parse(b, version).unwrap_err();
            assert_eq!(e.to_string(), format!("{prefix}{text}"));
        }
    }

    #[test]
    fn accepted_keys_keep_their_bytes_and_hide_them() {
        for (len, version) in [(4, V3_0), (4, V3_2), (32, V3_2), (256, V3_2)] {
            let key = BackendKey::parse(&body(len), version).unwrap();
            assert_eq!(key.process_id(), 99);
            assert_eq!(key.secret(), vec![0xAB; len].as_slice());
        }
        let key = BackendKey::new(7, &[1, 2, 3, 4]).unwrap();
        assert_eq!(
            format!("{key:?}"),
            "BackendKey { process_id: 7, secret_len: 4 }"
        );
        assert_eq!(BackendKey::new(7, &[1, 2, 3]), None);
        assert_eq!(BackendKey::new(7, &[0; 257]), None);
    }
}
