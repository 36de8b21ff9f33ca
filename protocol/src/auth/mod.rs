//! Client authentication: cleartext, MD5 and SCRAM-SHA-256, with libpq 13's texts.
//!
//! [`policy`] decides, before any password byte is sent, whether an authentication
//! request may be answered at all (`channel_binding`, PostgreSQL 16's `require_auth`).

pub mod md5;
pub mod policy;
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
    /// `Kerberos 4 authentication not supported` (request code 1)
    Kerberos4,
    /// `Kerberos 5 authentication not supported` (request code 2)
    Kerberos5,
    /// `Crypt authentication not supported` (request code 4)
    Crypt,
    /// `SCM_CRED authentication method not supported` (request code 6)
    ScmCredential,
    /// `GSSAPI authentication not supported` (request codes 7 and 8; no GSSAPI here)
    Gssapi,
    /// `SSPI authentication not supported` (request code 9)
    Sspi,
    /// `fe_sendauth: invalid authentication request from server: AUTH_REQ_SASL_CONT without AUTH_REQ_SASL`
    SaslContinueWithoutSasl,
    /// `duplicate SASL authentication request`
    DuplicateSasl,
    /// `fe_sendauth: invalid authentication request from server: invalid list of authentication mechanisms`
    InvalidMechanismList,
    /// `none of the server's SASL authentication mechanisms are supported`
    NoSupportedMechanism,
    /// `server offered SCRAM-SHA-256-PLUS authentication over a non-SSL connection`
    PlusOverNonSsl,
    /// `AuthenticationSASLFinal received from server, but SASL authentication was not completed`
    SaslFinalNotCompleted,
    /// SCRAM-SHA-256-PLUS was chosen, but the TLS connection gives no `tls-server-end-point`
    /// hash: the TLS layer's text (libpq's `could not find digest for NID UNDEF` for an
    /// Ed25519 or Ed448 certificate), shown as given.
    NoEndPoint(String),
    /// `server accepted authentication before the SCRAM exchange was completed`
    /// (pgcluster's own, stricter than libpq 13, which connects).
    OkBeforeSaslCompleted,
    /// An authentication request refused by the [`policy`] (channel binding or
    /// `require_auth`), before any password byte was sent.
    Policy(policy::PolicyError),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoPasswordSupplied => f.write_str("fe_sendauth: no password supplied"),
            Self::MethodNotSupported(code) => {
                write!(f, "authentication method {code} not supported")
            }
            Self::Scram(e) => e.fmt(f),
            Self::Kerberos4 => f.write_str("Kerberos 4 authentication not supported"),
            Self::Kerberos5 => f.write_str("Kerberos 5 authentication not supported"),
            Self::Crypt => f.write_str("Crypt authentication not supported"),
            Self::ScmCredential => f.write_str("SCM_CRED authentication method not supported"),
            Self::Gssapi => f.write_str("GSSAPI authentication not supported"),
            Self::Sspi => f.write_str("SSPI authentication not supported"),
            Self::SaslContinueWithoutSasl => f.write_str(
                "fe_sendauth: invalid authentication request from server: \
                 AUTH_REQ_SASL_CONT without AUTH_REQ_SASL",
            ),
            Self::DuplicateSasl => f.write_str("duplicate SASL authentication request"),
            Self::InvalidMechanismList => f.write_str(
                "fe_sendauth: invalid authentication request from server: \
                 invalid list of authentication mechanisms",
            ),
            Self::NoSupportedMechanism => {
                f.write_str("none of the server's SASL authentication mechanisms are supported")
            }
            Self::PlusOverNonSsl => f.write_str(
                "server offered SCRAM-SHA-256-PLUS authentication over a non-SSL connection",
            ),
            Self::SaslFinalNotCompleted => f.write_str(
                "AuthenticationSASLFinal received from server, \
                 but SASL authentication was not completed",
            ),
            Self::NoEndPoint(reason) => f.write_str(reason),
            Self::OkBeforeSaslCompleted => f.write_str(
                "server accepted authentication before the SCRAM exchange was completed",
            ),
            Self::Policy(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for AuthError {}

impl From<scram::ScramError> for AuthError {
    fn from(e: scram::ScramError) -> Self {
        Self::Scram(e)
    }
}

impl From<policy::PolicyError> for AuthError {
    fn from(e: policy::PolicyError) -> Self {
        Self::Policy(e)
    }
}

/// The error libpq 13 gives for an authentication request code it cannot answer, or
/// `None` for the codes it can (0 Ok, 3 cleartext, 5 MD5, 10-12 SASL).
pub fn unsupported_method(code: u32) -> Option<AuthError> {
    match code {
        0 | 3 | 5 | 10..=12 => None,
        1 => Some(AuthError::Kerberos4),
        2 => Some(AuthError::Kerberos5),
        4 => Some(AuthError::Crypt),
        6 => Some(AuthError::ScmCredential),
        7 | 8 => Some(AuthError::Gssapi),
        9 => Some(AuthError::Sspi),
        other => Some(AuthError::MethodNotSupported(other)),
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        let cases: &[(AuthError, &str)] = &[
            (AuthError::NoPasswordSupplied, "fe_sendauth: no password supplied"),
            (AuthError::MethodNotSupported(13), "authentication method 13 not supported"),
            (AuthError::Kerberos4, "Kerberos 4 authentication not supported"),
            (AuthError::Kerberos5, "Kerberos 5 authentication not supported"),
            (AuthError::Crypt, "Crypt authentication not supported"),
            (AuthError::ScmCredential, "SCM_CRED authentication method not supported"),
            (AuthError::Gssapi, "GSSAPI authentication not supported"),
            (AuthError::Sspi, "SSPI authentication not supported"),
            (
                AuthError::SaslContinueWithoutSasl,
                "fe_sendauth: invalid authentication request from server: AUTH_REQ_SASL_CONT without AUTH_REQ_SASL",
            ),
            (AuthError::DuplicateSasl, "duplicate SASL authentication request"),
            (
                AuthError::InvalidMechanismList,
                "fe_sendauth: invalid authentication request from server: invalid list of authentication mechanisms",
            ),
            (
                AuthError::NoSupportedMechanism,
                "none of the server's SASL authentication mechanisms are supported",
            ),
            (
                AuthError::PlusOverNonSsl,
                "server offered SCRAM-SHA-256-PLUS authentication over a non-SSL connection",
            ),
            (
                AuthError::SaslFinalNotCompleted,
                "AuthenticationSASLFinal received from server, but SASL authentication was not completed",
            ),
            (
                AuthError::OkBeforeSaslCompleted,
                "server accepted authentication before the SCRAM exchange was completed",
            ),
            (
                AuthError::Scram(scram::ScramError::NonceMismatch),
                "invalid SCRAM response (nonce mismatch)",
            ),
            (
                AuthError::Scram(scram::ScramError::TooManyIterations {
                    count: 4_294_967_295,
                    limit: 100_000,
                }),
                "SCRAM iteration count 4294967295 exceeds the limit of 100000",
            ),
        ];
        for (err, text) in cases {
            assert_eq!(err.to_string(), *text);
        }
    }

    #[test]
    fn unsupported_codes() {
        for code in [0, 3, 5, 10, 11, 12] {
            assert_eq!(unsupported_method(code), None);
        }
        assert_eq!(unsupported_method(1), Some(AuthError::Kerberos4));
        assert_eq!(unsupported_method(2), Some(AuthError::Kerberos5));
        assert_eq!(unsupported_method(4), Some(AuthError::Crypt));
        assert_eq!(unsupported_method(6), Some(AuthError::ScmCredential));
        assert_eq!(unsupported_method(7), Some(AuthError::Gssapi));
        assert_eq!(unsupported_method(8), Some(AuthError::Gssapi));
        assert_eq!(unsupported_method(9), Some(AuthError::Sspi));
        assert_eq!(
            unsupported_method(13),
            Some(AuthError::MethodNotSupported(13))
        );
        assert_eq!(
            unsupported_method(u32::MAX)
                .map(|e| e.to_string())
                .as_deref(),
            Some("authentication method 4294967295 not supported")
        );
    }
}
