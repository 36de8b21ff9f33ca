//! The SSLRequest and GSSENCRequest negotiation that precedes a startup packet.
//!
//! The client sends an 8-byte request ([`Negotiation::request`]) and the server answers with
//! a single byte: `S` (or `G` for GSSAPI) to go on with the encrypted handshake, `N` to refuse.
//! [`Negotiation::handle`] turns the bytes received so far into a typed [`Outcome`], with
//! libpq 13's texts for the failures and two checks that libpq added later for security:
//!
//! - **CVE-2021-23222** (libpq 13.5): bytes that arrive together with `S`, before the TLS
//!   handshake, were written by someone before encryption started, possibly a
//!   man-in-the-middle who wants them read as if they came through TLS. They fail the
//!   connection: `received unencrypted data after SSL response`.
//! - **CVE-2024-10977** (libpq 13.17): an ErrorResponse (`E`) sent in reply to SSLRequest
//!   arrives before any authentication of the server, so its text is never shown, only
//!   `server sent an error response during SSL exchange`.
//!
//! The caller must pass **everything** it has read since the request, in one slice: reading
//! into a buffer larger than one byte is what lets the first check see the extra bytes.
//!
//! ```
//! use pgcluster_protocol::ssl::{Encryption, Negotiation, Outcome};
//!
//! let mut ssl = Negotiation::new(Encryption::Ssl, true);
//! let mut out = Vec::new();
//! ssl.request(&mut out);
//! assert_eq!(out, [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
//! assert_eq!(ssl.handle(b""), Ok(None)); // nothing received yet: read more
//! assert_eq!(ssl.handle(b"S"), Ok(Some(Outcome::Accepted)));
//!
//! let mut ssl = Negotiation::new(Encryption::Ssl, true);
//! let err = ssl.handle(b"SX").unwrap_err();
//! assert_eq!(err.to_string(), "received unencrypted data after SSL response");
//! ```

use std::fmt;

use crate::frontend;

/// Which encryption the request asks for.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    /// GSSAPI encryption (GSSENCRequest, answered `G` or `N`).
    Gss,
    /// TLS (SSLRequest, answered `S` or `N`).
    Ssl,
}

impl Encryption {
    /// The byte with which the server accepts the request.
    fn accept_byte(self) -> u8 {
        match self {
            Self::Gss => b'G',
            Self::Ssl => b'S',
        }
    }
}

/// How the server answered, when that does not fail the connection.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `S` / `G`: start the encrypted handshake on this socket now. Exactly one byte was
    /// consumed and nothing else had arrived.
    Accepted,
    /// `N` (encryption not required): send the startup packet in the clear on this socket.
    /// Exactly one byte was consumed; any further bytes of the input belong to the startup
    /// exchange.
    Refused,
    /// `E` in reply to GSSENCRequest, encryption not required: the server may predate
    /// GSSENCRequest (PostgreSQL 11 and older answer it with an ErrorResponse). As libpq
    /// does, close this socket and connect again without GSSAPI encryption. The server's
    /// text is not shown.
    RetryWithoutEncryption,
}

/// Why the negotiation failed. `Display` is libpq's text, without the final newline.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NegotiationError {
    /// An `E` answered the request (CVE-2024-10977): `server sent an error response during
    /// SSL exchange` (libpq 13.17+), or its GSSAPI counterpart.
    ErrorResponse {
        /// The request that was answered.
        encryption: Encryption,
    },
    /// An answer other than `S`/`G`, `N` or `E`: `received invalid response to SSL
    /// negotiation: %c` (or `GSSAPI`).
    InvalidResponse {
        /// The request that was answered.
        encryption: Encryption,
        /// The byte received.
        byte: u8,
    },
    /// `N` while encryption is required: `server does not support SSL, but SSL was required`
    /// (libpq 13's GSSAPI text for `gssencmode=require`).
    Required {
        /// The request that was refused.
        encryption: Encryption,
    },
    /// More bytes arrived together with `S`/`G` (CVE-2021-23222): `received unencrypted data
    /// after SSL response` (libpq 13.5+), or its GSSAPI counterpart.
    UnencryptedData {
        /// The request that was answered.
        encryption: Encryption,
    },
}

impl fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ErrorResponse {
                encryption: Encryption::Ssl,
            } => f.write_str("server sent an error response during SSL exchange"),
            Self::ErrorResponse {
                encryption: Encryption::Gss,
            } => f.write_str("server sent an error response during GSS encryption exchange"),
            Self::InvalidResponse {
                encryption: Encryption::Ssl,
                byte,
            } => write!(
                f,
                "received invalid response to SSL negotiation: {}",
                char::from(*byte)
            ),
            Self::InvalidResponse {
                encryption: Encryption::Gss,
                byte,
            } => write!(
                f,
                "received invalid response to GSSAPI negotiation: {}",
                char::from(*byte)
            ),
            Self::Required {
                encryption: Encryption::Ssl,
            } => f.write_str("server does not support SSL, but SSL was required"),
            Self::Required {
                encryption: Encryption::Gss,
            } => f.write_str(
                "GSSAPI encryption required but was impossible (possibly no credential cache, \
                 no server support, or using a local socket)",
            ),
            Self::UnencryptedData {
                encryption: Encryption::Ssl,
            } => f.write_str("received unencrypted data after SSL response"),
            Self::UnencryptedData {
                encryption: Encryption::Gss,
            } => f.write_str("received unencrypted data after GSSAPI encryption response"),
        }
    }
}

impl std::error::Error for NegotiationError {}

/// One SSLRequest or GSSENCRequest exchange. Errors are sticky: once [`handle`] failed,
/// every later call returns the same error; once it succeeded, the same outcome.
///
/// [`handle`]: Negotiation::handle
#[derive(Debug, Clone)]
pub struct Negotiation {
    encryption: Encryption,
    required: bool,
    state: Option<Result<Outcome, NegotiationError>>,
}

impl Negotiation {
    /// A negotiation for `encryption`. With `required` (`sslmode=require`, `verify-ca`,
    /// `verify-full`; `gssencmode=require`) a refusal fails the connection; otherwise the
    /// caller goes on in the clear.
    pub fn new(encryption: Encryption, required: bool) -> Self {
        Self {
            encryption,
            required,
            state: None,
        }
    }

    /// Appends the 8-byte request to `out`.
    pub fn request(&self, out: &mut Vec<u8>) {
        match self.encryption {
            Encryption::Gss => frontend::gssenc_request(out),
            Encryption::Ssl => frontend::ssl_request(out),
        }
    }

    /// Looks at everything received since the request. `Ok(None)`: nothing yet, read more.
    pub fn handle(&mut self, received: &[u8]) -> Result<Option<Outcome>, NegotiationError> {
        if let Some(done) = &self.state {
            return done.clone().map(Some);
        }
        let Some((&first, rest)) = received.split_first() else {
            return Ok(None);
        };
        let encryption = self.encryption;
        let result = if first == encryption.accept_byte() {
            if rest.is_empty() {
                Ok(Outcome::Accepted)
            } else {
                Err(NegotiationError::UnencryptedData { encryption })
            }
        } else if first == b'N' {
            if self.required {
                Err(NegotiationError::Required { encryption })
            } else {
                Ok(Outcome::Refused)
            }
        } else if first == b'E' {
            match encryption {
                Encryption::Gss if !self.required => Ok(Outcome::RetryWithoutEncryption),
                _ => Err(NegotiationError::ErrorResponse { encryption }),
            }
        } else {
            Err(NegotiationError::InvalidResponse {
                encryption,
                byte: first,
            })
        };
        self.state = Some(result.clone());
        result.map(Some)
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;

    fn ssl(required: bool, input: &[u8]) -> Result<Option<Outcome>, NegotiationError> {
        Negotiation::new(Encryption::Ssl, required).handle(input)
    }

    #[test]
    fn requests_are_the_protocol_codes() {
        let mut out = Vec::new();
        Negotiation::new(Encryption::Ssl, false).request(&mut out);
        // 1234 << 16 | 5679 = 80877103
        assert_eq!(out, [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
        out.clear();
        Negotiation::new(Encryption::Gss, false).request(&mut out);
        // 1234 << 16 | 5680 = 80877104
        assert_eq!(out, [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30]);
    }

    #[test]
    fn nothing_received_means_read_more() {
        assert_eq!(ssl(false, b""), Ok(None));
        assert_eq!(ssl(true, b""), Ok(None));
    }

    #[test]
    fn s_alone_starts_the_handshake() {
        assert_eq!(ssl(false, b"S"), Ok(Some(Outcome::Accepted)));
        assert_eq!(ssl(true, b"S"), Ok(Some(Outcome::Accepted)));
    }

    #[test]
    fn n_falls_back_unless_required() {
        assert_eq!(ssl(false, b"N"), Ok(Some(Outcome::Refused)));
        // Bytes after N are the start of the startup exchange, not this machine's concern.
        assert_eq!(ssl(false, b"NR\0\0\0\x08"), Ok(Some(Outcome::Refused)));
        let err = ssl(true, b"N").unwrap_err();
        assert_eq!(
            err.to_string(),
            "server does not support SSL, but SSL was required"
        );
    }

    #[test]
    fn unencrypted_data_after_s_fails_cve_2021_23222() {
        for input in [&b"SR"[..], b"S\0", b"SS", b"SR\0\0\0\x08\0\0\0\0"] {
            for required in [false, true] {
                let err = ssl(required, input).unwrap_err();
                assert_eq!(
                    err.to_string(),
                    "received unencrypted data after SSL response"
                );
            }
        }
    }

    #[test]
    fn error_response_text_is_never_shown_cve_2024_10977() {
        let mut reply = b"E\0\0\0\x4aSFATAL\0C53300\0M".to_vec();
        reply.extend_from_slice(b"INJECTED: sorry, too many clients already\0\0");
        for required in [false, true] {
            for input in [&b"E"[..], &reply] {
                let err = ssl(required, input).unwrap_err();
                assert_eq!(
                    err.to_string(),
                    "server sent an error response during SSL exchange"
                );
                assert!(!format!("{err:?}").contains("INJECTED"));
            }
        }
    }

    #[test]
    fn any_other_byte_is_an_invalid_response() {
        assert_eq!(
            ssl(true, b"X").unwrap_err().to_string(),
            "received invalid response to SSL negotiation: X"
        );
        assert_eq!(
            ssl(false, b"R\0\0\0\x08").unwrap_err().to_string(),
            "received invalid response to SSL negotiation: R"
        );
        // G answers GSSENCRequest, not SSLRequest.
        assert_eq!(
            ssl(false, b"G").unwrap_err(),
            NegotiationError::InvalidResponse {
                encryption: Encryption::Ssl,
                byte: b'G'
            }
        );
    }

    #[test]
    fn outcome_and_error_are_sticky() {
        let mut n = Negotiation::new(Encryption::Ssl, true);
        assert_eq!(n.handle(b""), Ok(None));
        let err = n.handle(b"N").unwrap_err();
        assert_eq!(n.handle(b"S"), Err(err));
        let mut n = Negotiation::new(Encryption::Ssl, false);
        assert_eq!(n.handle(b"S"), Ok(Some(Outcome::Accepted)));
        assert_eq!(n.handle(b"SX"), Ok(Some(Outcome::Accepted)));
    }

    #[test]
    fn gssapi_answers() {
        let gss =
            |required, input: &[u8]| Negotiation::new(Encryption::Gss, required).handle(input);
        assert_eq!(gss(false, b"G"), Ok(Some(Outcome::Accepted)));
        assert_eq!(gss(false, b"N"), Ok(Some(Outcome::Refused)));
        assert_eq!(gss(false, b"E"), Ok(Some(Outcome::RetryWithoutEncryption)));
        let texts = [
            (
                gss(true, b"E"),
                "server sent an error response during GSS encryption exchange",
            ),
            (
                gss(true, b"N"),
                "GSSAPI encryption required but was impossible (possibly no credential cache, \
                 no server support, or using a local socket)",
            ),
            (
                gss(false, b"Gx"),
                "received unencrypted data after GSSAPI encryption response",
            ),
            (
                gss(false, b"S"),
                "received invalid response to GSSAPI negotiation: S",
            ),
        ];
        for (result, text) in texts {
            assert_eq!(result.unwrap_err().to_string(), text);
        }
    }
}
