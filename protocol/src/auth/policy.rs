//! Which authentication requests the client may answer, decided before any password byte
//! is sent: `channel_binding` (libpq 13) and `require_auth` (libpq 16, with its texts).
//!
//! With the defaults (`channel_binding=prefer`, no `require_auth`) every request passes,
//! which is libpq 13's behaviour.

use std::fmt;

/// The `channel_binding` connection option.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ChannelBindingMode {
    /// `disable`: never use channel binding.
    Disable,
    /// `prefer` (the default): use it when the server offers it over TLS.
    #[default]
    Prefer,
    /// `require`: refuse any authentication that does not bind the channel.
    Require,
}

/// Request codes of AuthenticationXXX messages, as named in libpq.
mod code {
    pub(super) const OK: u32 = 0;
    pub(super) const PASSWORD: u32 = 3;
    pub(super) const MD5: u32 = 5;
    pub(super) const GSS: u32 = 7;
    pub(super) const GSS_CONT: u32 = 8;
    pub(super) const SSPI: u32 = 9;
    pub(super) const SASL: u32 = 10;
    pub(super) const SASL_CONT: u32 = 11;
    pub(super) const SASL_FIN: u32 = 12;
}

/// A parsed `require_auth` value (libpq 16): a comma-separated list of `password`, `md5`,
/// `gss`, `sspi`, `scram-sha-256` and `none`, all plain or all negated with `!`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequireAuth {
    raw: String,
    /// Bit `n` set: request code `n` may be answered.
    allowed: u32,
    /// An AuthenticationOk must follow a completed exchange.
    auth_required: bool,
}

impl RequireAuth {
    /// Parses a `require_auth` value as libpq 16's `connectOptions2` does. An empty value
    /// means no requirement (`Ok(None)`). Elements are split at commas and not trimmed
    /// (`"md5, password"` names the method `" password"`, which is invalid), and each
    /// method, `none` included, may be named once.
    ///
    /// ```
    /// use pgcluster_protocol::auth::policy::RequireAuth;
    /// assert_eq!(RequireAuth::parse("!password,!md5").unwrap().unwrap().as_str(), "!password,!md5");
    /// assert_eq!(
    ///     RequireAuth::parse("none,none").unwrap_err().to_string(),
    ///     "require_auth method \"none\" is specified more than once"
    /// );
    /// ```
    pub fn parse(value: &str) -> Result<Option<Self>, RequireAuthParseError> {
        if value.is_empty() {
            return Ok(None);
        }
        let mut policy = Self {
            raw: value.to_owned(),
            allowed: 0,
            auth_required: true,
        };
        let mut negated = false;
        for (i, part) in value.split(',').enumerate() {
            let method = match part.strip_prefix('!') {
                Some(method) => {
                    if i == 0 {
                        policy.auth_required = false;
                        policy.allowed = u32::MAX;
                    } else if !negated {
                        return Err(RequireAuthParseError::NegativeMixed(part.to_owned()));
                    }
                    negated = true;
                    method
                }
                None if negated => {
                    return Err(RequireAuthParseError::PositiveMixed(part.to_owned()));
                }
                None => part,
            };
            let bits = match method {
                "password" => 1 << code::PASSWORD,
                "md5" => 1 << code::MD5,
                "gss" => (1 << code::GSS) | (1 << code::GSS_CONT),
                "sspi" => (1 << code::SSPI) | (1 << code::GSS_CONT),
                "scram-sha-256" => {
                    (1 << code::SASL) | (1 << code::SASL_CONT) | (1 << code::SASL_FIN)
                }
                "none" => {
                    // `none` allows a connection without an authentication exchange
                    // (trust, cert), `!none` forbids it; either only once.
                    if policy.auth_required == negated {
                        return Err(RequireAuthParseError::Duplicate(part.to_owned()));
                    }
                    policy.auth_required = negated;
                    continue;
                }
                _ => return Err(RequireAuthParseError::InvalidValue(method.to_owned())),
            };
            let duplicate = if negated {
                policy.allowed & bits == 0
            } else {
                policy.allowed & bits == bits
            };
            if duplicate {
                return Err(RequireAuthParseError::Duplicate(part.to_owned()));
            }
            if negated {
                policy.allowed &= !bits;
            } else {
                policy.allowed |= bits;
            }
        }
        Ok(Some(policy))
    }

    /// The value as given, for error texts.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    fn allows(&self, code: u32) -> bool {
        1u32.checked_shl(code)
            .is_some_and(|bit| self.allowed & bit != 0)
    }
}

/// Why a `require_auth` value is invalid. `Display` is libpq 16's text.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequireAuthParseError {
    /// `negative require_auth method "%s" cannot be mixed with non-negative methods`
    NegativeMixed(String),
    /// `require_auth method "%s" cannot be mixed with negative methods`
    PositiveMixed(String),
    /// `invalid require_auth value: "%s"`
    InvalidValue(String),
    /// `require_auth method "%s" is specified more than once`
    Duplicate(String),
}

impl fmt::Display for RequireAuthParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NegativeMixed(m) => write!(
                f,
                "negative require_auth method \"{m}\" cannot be mixed with non-negative methods"
            ),
            Self::PositiveMixed(m) => write!(
                f,
                "require_auth method \"{m}\" cannot be mixed with negative methods"
            ),
            Self::InvalidValue(m) => write!(f, "invalid require_auth value: \"{m}\""),
            Self::Duplicate(m) => {
                write!(f, "require_auth method \"{m}\" is specified more than once")
            }
        }
    }
}

impl std::error::Error for RequireAuthParseError {}

/// The client's authentication policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthPolicy {
    /// `channel_binding`.
    pub channel_binding: ChannelBindingMode,
    /// `require_auth`, if set.
    pub require_auth: Option<RequireAuth>,
}

/// What the exchange has done so far, as the policy needs to know it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// A password was sent, or a SCRAM exchange verified the server (libpq's
    /// `client_finished_auth`).
    pub client_finished_auth: bool,
    /// The SCRAM exchange used channel binding.
    pub channel_bound: bool,
}

impl AuthPolicy {
    /// libpq 16's `check_expected_areq`: may a request with this code be answered (or, for
    /// AuthenticationOk, accepted)? Called before anything is sent in reply.
    pub fn check(&self, request: u32, progress: Progress) -> Result<(), PolicyError> {
        if let Some(req) = &self.require_auth {
            let reason = match request {
                code::OK if !req.auth_required || progress.client_finished_auth => None,
                code::OK => Some(RequireAuthReason::NotCompleted),
                code::PASSWORD
                | code::MD5
                | code::GSS
                | code::GSS_CONT
                | code::SSPI
                | code::SASL
                | code::SASL_CONT
                | code::SASL_FIN
                    if req.allows(request) =>
                {
                    None
                }
                other => Some(RequireAuthReason::from_code(other)),
            };
            if let Some(reason) = reason {
                return Err(PolicyError::RequireAuth {
                    requirement: req.raw.clone(),
                    reason,
                });
            }
        }
        if self.channel_binding == ChannelBindingMode::Require {
            match request {
                code::SASL | code::SASL_CONT | code::SASL_FIN => {}
                code::OK if progress.channel_bound => {}
                code::OK => return Err(PolicyError::AuthenticatedWithoutBinding),
                _ => return Err(PolicyError::BindingNotSupportedByRequest),
            }
        }
        Ok(())
    }
}

/// The reason part of a `require_auth` failure (libpq 16's texts).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequireAuthReason {
    /// `server did not complete authentication`
    NotCompleted,
    /// `server requested a cleartext password`
    Cleartext,
    /// `server requested a hashed password`
    Md5,
    /// `server requested GSSAPI authentication`
    Gss,
    /// `server requested SSPI authentication`
    Sspi,
    /// `server requested SASL authentication`
    Sasl,
    /// `server requested an unknown authentication type`
    Unknown,
}

impl RequireAuthReason {
    fn from_code(code: u32) -> Self {
        match code {
            code::PASSWORD => Self::Cleartext,
            code::MD5 => Self::Md5,
            code::GSS | code::GSS_CONT => Self::Gss,
            code::SSPI => Self::Sspi,
            code::SASL | code::SASL_CONT | code::SASL_FIN => Self::Sasl,
            _ => Self::Unknown,
        }
    }
}

impl fmt::Display for RequireAuthReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotCompleted => "server did not complete authentication",
            Self::Cleartext => "server requested a cleartext password",
            Self::Md5 => "server requested a hashed password",
            Self::Gss => "server requested GSSAPI authentication",
            Self::Sspi => "server requested SSPI authentication",
            Self::Sasl => "server requested SASL authentication",
            Self::Unknown => "server requested an unknown authentication type",
        })
    }
}

/// An authentication request the policy refuses. `Display` is libpq's text (13 for
/// channel binding, 16 for `require_auth`).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyError {
    /// `authentication method requirement "%s" failed: %s`
    RequireAuth {
        /// The `require_auth` value as given.
        requirement: String,
        /// Why.
        reason: RequireAuthReason,
    },
    /// `channel binding required but not supported by server's authentication request`
    BindingNotSupportedByRequest,
    /// `channel binding required, but server authenticated client without channel binding`
    AuthenticatedWithoutBinding,
    /// `channel binding required, but SSL not in use`
    BindingRequiresSsl,
    /// `channel binding is required, but server did not offer an authentication method that supports channel binding`
    BindingNotOffered,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RequireAuth {
                requirement,
                reason,
            } => write!(
                f,
                "authentication method requirement \"{requirement}\" failed: {reason}"
            ),
            Self::BindingNotSupportedByRequest => f.write_str(
                "channel binding required but not supported by server's authentication request",
            ),
            Self::AuthenticatedWithoutBinding => f.write_str(
                "channel binding required, but server authenticated client without channel binding",
            ),
            Self::BindingRequiresSsl => f.write_str("channel binding required, but SSL not in use"),
            Self::BindingNotOffered => f.write_str(
                "channel binding is required, but server did not offer an authentication \
                 method that supports channel binding",
            ),
        }
    }
}

impl std::error::Error for PolicyError {}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;

    fn policy(require_auth: &str) -> AuthPolicy {
        AuthPolicy {
            channel_binding: ChannelBindingMode::Prefer,
            require_auth: RequireAuth::parse(require_auth).unwrap(),
        }
    }

    fn refusal(p: &AuthPolicy, request: u32, progress: Progress) -> String {
        p.check(request, progress).unwrap_err().to_string()
    }

    const FRESH: Progress = Progress {
        client_finished_auth: false,
        channel_bound: false,
    };
    const FINISHED: Progress = Progress {
        client_finished_auth: true,
        channel_bound: false,
    };

    #[test]
    fn default_policy_allows_everything() {
        let p = AuthPolicy::default();
        for code in 0..=13 {
            assert_eq!(p.check(code, FRESH), Ok(()));
        }
    }

    #[test]
    fn require_scram() {
        let p = policy("scram-sha-256");
        for code in [10, 11, 12] {
            assert_eq!(p.check(code, FRESH), Ok(()));
        }
        assert_eq!(
            refusal(&p, 3, FRESH),
            "authentication method requirement \"scram-sha-256\" failed: server requested a cleartext password"
        );
        assert_eq!(
            refusal(&p, 5, FRESH),
            "authentication method requirement \"scram-sha-256\" failed: server requested a hashed password"
        );
        assert_eq!(
            refusal(&p, 7, FRESH),
            "authentication method requirement \"scram-sha-256\" failed: server requested GSSAPI authentication"
        );
        assert_eq!(
            refusal(&p, 9, FRESH),
            "authentication method requirement \"scram-sha-256\" failed: server requested SSPI authentication"
        );
        assert_eq!(
            refusal(&p, 13, FRESH),
            "authentication method requirement \"scram-sha-256\" failed: server requested an unknown authentication type"
        );
        assert_eq!(
            refusal(&p, 0, FRESH),
            "authentication method requirement \"scram-sha-256\" failed: server did not complete authentication"
        );
        assert_eq!(p.check(0, FINISHED), Ok(()));
    }

    #[test]
    fn negated_and_none() {
        let p = policy("!password,!md5");
        assert_eq!(p.check(0, FRESH), Ok(()));
        assert_eq!(p.check(10, FRESH), Ok(()));
        assert_eq!(
            refusal(&p, 5, FRESH),
            "authentication method requirement \"!password,!md5\" failed: server requested a hashed password"
        );
        let p = policy("md5,none");
        assert_eq!(p.check(0, FRESH), Ok(()));
        assert_eq!(
            refusal(&p, 10, FRESH),
            "authentication method requirement \"md5,none\" failed: server requested SASL authentication"
        );
        let p = policy("!none");
        assert_eq!(
            refusal(&p, 0, FRESH),
            "authentication method requirement \"!none\" failed: server did not complete authentication"
        );
        assert_eq!(p.check(3, FRESH), Ok(()));
        assert_eq!(RequireAuth::parse(""), Ok(None));
    }

    #[test]
    fn parse_errors() {
        let err = |s: &str| RequireAuth::parse(s).unwrap_err().to_string();
        assert_eq!(
            err("password,!md5"),
            "negative require_auth method \"!md5\" cannot be mixed with non-negative methods"
        );
        assert_eq!(
            err("!password,md5"),
            "require_auth method \"md5\" cannot be mixed with negative methods"
        );
        assert_eq!(err("kerberos"), "invalid require_auth value: \"kerberos\"");
        assert_eq!(err("!kerberos"), "invalid require_auth value: \"kerberos\"");
        assert_eq!(
            err("md5,md5"),
            "require_auth method \"md5\" is specified more than once"
        );
        assert_eq!(
            err("!md5,!md5"),
            "require_auth method \"!md5\" is specified more than once"
        );
        // libpq 16: `none` and `!none` count as methods for duplicates too.
        assert_eq!(
            err("none,md5,none"),
            "require_auth method \"none\" is specified more than once"
        );
        assert_eq!(
            err("!md5,!none,!none"),
            "require_auth method \"!none\" is specified more than once"
        );
        assert_eq!(
            err("!none,!none"),
            "require_auth method \"!none\" is specified more than once"
        );
        // Elements are not trimmed, and an empty one is an invalid value.
        assert_eq!(
            err("md5, password"),
            "invalid require_auth value: \" password\""
        );
        assert_eq!(err("md5 "), "invalid require_auth value: \"md5 \"");
        assert_eq!(err("md5,"), "invalid require_auth value: \"\"");
        assert_eq!(err(","), "invalid require_auth value: \"\"");
        assert_eq!(err("!"), "invalid require_auth value: \"\"");
        assert_eq!(err("MD5"), "invalid require_auth value: \"MD5\"");
        // The first error in the list wins.
        assert_eq!(
            err("md5,md5,!x"),
            "require_auth method \"md5\" is specified more than once"
        );
        // gss and sspi share GSS_CONT: naming both is no duplicate, either way round.
        assert!(RequireAuth::parse("gss,sspi").unwrap().is_some());
        assert!(RequireAuth::parse("!gss,!sspi").unwrap().is_some());
        assert!(RequireAuth::parse("none,md5").unwrap().is_some());
        assert!(RequireAuth::parse("!none,!md5").unwrap().is_some());
    }

    #[test]
    fn channel_binding_require() {
        let p = AuthPolicy {
            channel_binding: ChannelBindingMode::Require,
            require_auth: None,
        };
        for code in [10, 11, 12] {
            assert_eq!(p.check(code, FRESH), Ok(()));
        }
        assert_eq!(
            refusal(&p, 3, FRESH),
            "channel binding required but not supported by server's authentication request"
        );
        assert_eq!(
            refusal(&p, 5, FRESH),
            "channel binding required but not supported by server's authentication request"
        );
        assert_eq!(
            refusal(&p, 0, FRESH),
            "channel binding required, but server authenticated client without channel binding"
        );
        let bound = Progress {
            client_finished_auth: true,
            channel_bound: true,
        };
        assert_eq!(p.check(0, bound), Ok(()));
        assert_eq!(
            PolicyError::BindingRequiresSsl.to_string(),
            "channel binding required, but SSL not in use"
        );
        assert_eq!(
            PolicyError::BindingNotOffered.to_string(),
            "channel binding is required, but server did not offer an authentication method that supports channel binding"
        );
    }
}
