//! `target_session_attrs`: which kind of server a connection must reach. libpq 10 had
//! `any` and `read-write`; libpq 14 added `read-only`, `primary`, `standby` and
//! `prefer-standby`, which libpq 18 keeps as they are.

use std::fmt;

/// `target_session_attrs` (default `any`). The connect walk checks each server it reaches
/// and moves on to the next host when the server is not of the kind asked for.
///
/// ```
/// use pgcluster::conninfo::{Config, Env, TargetSessionAttrs};
/// let r = Config::parse("host=a,b target_session_attrs=prefer-standby user=u")
///     .unwrap()
///     .resolve(&Env::empty())
///     .unwrap();
/// assert_eq!(r.target_session_attrs, TargetSessionAttrs::PreferStandby);
/// assert_eq!(r.target_session_attrs.to_string(), "prefer-standby");
/// let e = Config::parse("target_session_attrs=Primary user=u")
///     .unwrap()
///     .resolve(&Env::empty())
///     .unwrap_err();
/// assert_eq!(e.to_string(), "invalid target_session_attrs value: \"Primary\"");
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TargetSessionAttrs {
    /// Any server.
    #[default]
    Any,
    /// A session that is not read-only: neither `default_transaction_read_only` nor hot
    /// standby.
    ReadWrite,
    /// A read-only session: `default_transaction_read_only` on, or a hot standby (libpq 14).
    ReadOnly,
    /// A server not in hot standby (libpq 14).
    Primary,
    /// A server in hot standby (libpq 14).
    Standby,
    /// A standby if any host has one; else, in a second pass over all the hosts, any
    /// server (libpq 14).
    PreferStandby,
}

impl TargetSessionAttrs {
    /// The six values, as libpq spells them.
    pub const ALL: [Self; 6] = [
        Self::Any,
        Self::ReadWrite,
        Self::ReadOnly,
        Self::Primary,
        Self::Standby,
        Self::PreferStandby,
    ];

    /// The value for `text` (exact spelling, as libpq compares it), if it is one.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == text)
    }

    /// The keyword value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Any => "any",
            Self::ReadWrite => "read-write",
            Self::ReadOnly => "read-only",
            Self::Primary => "primary",
            Self::Standby => "standby",
            Self::PreferStandby => "prefer-standby",
        }
    }
}

impl fmt::Display for TargetSessionAttrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_and_nothing_else_parses() {
        for v in TargetSessionAttrs::ALL {
            assert_eq!(TargetSessionAttrs::parse(v.as_str()), Some(v));
        }
        for bad in [
            "",
            "ANY",
            "read_write",
            "readwrite",
            " any",
            "prefer-primary",
        ] {
            assert_eq!(TargetSessionAttrs::parse(bad), None, "{bad:?}");
        }
    }
}
