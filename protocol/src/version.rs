//! Protocol versions (3.0 and PostgreSQL 18's 3.2) and the client's side of
//! NegotiateProtocolVersion (`v`), with libpq 18's checks and texts.
//!
//! The client asks for its highest allowed version in StartupMessage; a server that
//! speaks less answers `v` with the newest version it has, before authentication. libpq 18
//! (`pqGetNegotiateProtocolVersion3`) takes that version if it is at least the lowest one
//! allowed, and refuses a `v` that names a version higher than the one asked for, one
//! below 3.0, the never-released 3.1, a negative option count, no change at all, or any
//! protocol option (`_pq_.…`): libpq 18 requests none, so every option named was not
//! requested. (libpq 18 has no "grease" version or option; that came after it.)
//!
//! ```
//! use pgcluster_protocol::version::{negotiate, ProtocolVersion, VersionRange};
//! let range = VersionRange::new(ProtocolVersion::V3_0, ProtocolVersion::V3_2).unwrap();
//! // A PostgreSQL 15 server answers a request for 3.2 with 3.0 and no options.
//! let body = [0, 3, 0, 0, 0, 0, 0, 0];
//! assert_eq!(negotiate(&body, range), Ok((ProtocolVersion::V3_0, 8)));
//! let strict = VersionRange::new(ProtocolVersion::V3_2, ProtocolVersion::V3_2).unwrap();
//! assert_eq!(
//!     negotiate(&body, strict).unwrap_err().to_string(),
//!     "server only supports protocol version 3.0, but \"min_protocol_version\" was set to 3.2"
//! );
//! ```

use std::fmt;

/// Largest length word libpq 18 accepts for NegotiateProtocolVersion (as for an
/// authentication request); below 8 it is refused too.
pub const MAX_NEGOTIATE_LEN: u32 = 2000;

/// The prefix of a protocol option's name.
pub const OPTION_PREFIX: &str = "_pq_.";

/// A protocol version pgcluster speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ProtocolVersion {
    /// 3.0: every PostgreSQL since 7.4; 4-byte cancel keys.
    #[default]
    V3_0,
    /// 3.2 (PostgreSQL 18): cancel keys of up to 256 bytes.
    V3_2,
}

impl ProtocolVersion {
    /// The newest version pgcluster speaks (`latest`).
    pub const LATEST: Self = Self::V3_2;

    /// The version word of StartupMessage: major in the high 16 bits, minor in the low.
    pub const fn code(self) -> i32 {
        match self {
            Self::V3_0 => 3 << 16,
            Self::V3_2 => (3 << 16) | 2,
        }
    }

    /// The version a version word names, if pgcluster speaks it.
    pub fn from_code(code: i32) -> Option<Self> {
        [Self::V3_0, Self::V3_2]
            .into_iter()
            .find(|v| v.code() == code)
    }

    /// A `min_protocol_version` / `max_protocol_version` value as libpq 18 reads it:
    /// exactly `3.0`, `3.2` or `latest`.
    ///
    /// ```
    /// use pgcluster_protocol::version::ProtocolVersion;
    /// assert_eq!(ProtocolVersion::parse("latest"), Some(ProtocolVersion::V3_2));
    /// assert_eq!(ProtocolVersion::parse("3.1"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "3.0" => Some(Self::V3_0),
            "3.2" | "latest" => Some(Self::V3_2),
            _ => None,
        }
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_code(f, self.code())
    }
}

/// `major.minor` of a version word, as libpq prints one (`%d.%d`).
fn write_code(f: &mut fmt::Formatter<'_>, code: i32) -> fmt::Result {
    write!(f, "{}.{}", code >> 16, code & 0xffff)
}

/// The versions a connection may use: it asks for `max`, and takes what a server
/// offers down to `min`. The default is libpq 18's: 3.0 only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VersionRange {
    min: ProtocolVersion,
    max: ProtocolVersion,
}

impl VersionRange {
    /// The range `min..=max`; `None` if `min` is above `max`.
    pub fn new(min: ProtocolVersion, max: ProtocolVersion) -> Option<Self> {
        (min <= max).then_some(Self { min, max })
    }

    /// The lowest version accepted.
    pub fn min(self) -> ProtocolVersion {
        self.min
    }

    /// The version asked for.
    pub fn max(self) -> ProtocolVersion {
        self.max
    }
}

/// A NegotiateProtocolVersion refused. `Display` is libpq 18's text.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NegotiationError {
    /// `received invalid protocol negotiation message`: its length word is outside
    /// 8..=[`MAX_NEGOTIATE_LEN`].
    Invalid,
    /// `received duplicate protocol negotiation message`
    Duplicate,
    /// `…: message too short` (the body ends before the version, the count or a name).
    TooShort,
    /// `…: server requested downgrade to a higher-numbered version`
    Higher,
    /// `…: server requested downgrade to pre-3.0 protocol version`
    PreV3,
    /// `…: server requested downgrade to non-existent 3.1 protocol version`
    Reserved31,
    /// `…: server reported negative number of unsupported parameters`
    NegativeCount,
    /// `…: server negotiated but asks for no changes`
    NoChanges,
    /// `server only supports protocol version %d.%d, but "min_protocol_version" was set to
    /// %d.%d`
    BelowMinimum {
        /// The server's version word.
        server: i32,
        /// `min_protocol_version`.
        min: ProtocolVersion,
    },
    /// `…: server reported unsupported parameter name without a "_pq_." prefix ("%s")`
    NoPrefix(String),
    /// `…: server reported an unsupported parameter that was not requested ("%s")`
    NotRequested(String),
}

impl fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let invalid = "received invalid protocol negotiation message";
        match self {
            Self::Invalid => f.write_str(invalid),
            Self::Duplicate => f.write_str("received duplicate protocol negotiation message"),
            Self::TooShort => write!(f, "{invalid}: message too short"),
            Self::Higher => write!(
                f,
                "{invalid}: server requested downgrade to a higher-numbered version"
            ),
            Self::PreV3 => write!(
                f,
                "{invalid}: server requested downgrade to pre-3.0 protocol version"
            ),
            Self::Reserved31 => write!(
                f,
                "{invalid}: server requested downgrade to non-existent 3.1 protocol version"
            ),
            Self::NegativeCount => write!(
                f,
                "{invalid}: server reported negative number of unsupported parameters"
            ),
            Self::NoChanges => write!(f, "{invalid}: server negotiated but asks for no changes"),
            Self::BelowMinimum { server, min } => {
                f.write_str("server only supports protocol version ")?;
                write_code(f, *server)?;
                write!(f, ", but \"min_protocol_version\" was set to {min}")
            }
            Self::NoPrefix(name) => write!(
                f,
                "{invalid}: server reported unsupported parameter name without a \
                 \"{OPTION_PREFIX}\" prefix (\"{name}\")"
            ),
            Self::NotRequested(name) => write!(
                f,
                "{invalid}: server reported an unsupported parameter that was not requested \
                 (\"{name}\")"
            ),
        }
    }
}

impl std::error::Error for NegotiationError {}

/// libpq 18's reading of a NegotiateProtocolVersion body for a connection that asked for
/// `range.max()` with no protocol options: the version the connection goes on with, and
/// how many bytes of `body` libpq reads (what follows them, libpq reads as the next
/// message). The checks run in libpq's order, so a bad version is reported before a bad
/// option name.
pub fn negotiate(
    body: &[u8],
    range: VersionRange,
) -> Result<(ProtocolVersion, usize), NegotiationError> {
    let word = |at: usize| -> Result<i32, NegotiationError> {
        let end = at.checked_add(4).ok_or(NegotiationError::TooShort)?;
        body.get(at..end)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(i32::from_be_bytes)
            .ok_or(NegotiationError::TooShort)
    };
    let server = word(0)?;
    let count = word(4)?;
    let asked = range.max.code();
    if server > asked {
        return Err(NegotiationError::Higher);
    }
    if server < ProtocolVersion::V3_0.code() {
        return Err(NegotiationError::PreV3);
    }
    if server == ProtocolVersion::V3_0.code() + 1 {
        return Err(NegotiationError::Reserved31);
    }
    if count < 0 {
        return Err(NegotiationError::NegativeCount);
    }
    if server == asked && count == 0 {
        return Err(NegotiationError::NoChanges);
    }
    if server < range.min.code() {
        return Err(NegotiationError::BelowMinimum {
            server,
            min: range.min,
        });
    }
    // 3.0 <= server <= asked <= 3.2 and not 3.1: a version pgcluster speaks.
    let version = ProtocolVersion::from_code(server).ok_or(NegotiationError::Higher)?;
    if count > 0 {
        // We request no options: the first one named is refused.
        let names = body.get(8..).unwrap_or_default();
        let nul = names
            .iter()
            .position(|&b| b == 0)
            .ok_or(NegotiationError::TooShort)?;
        let name = String::from_utf8_lossy(names.get(..nul).unwrap_or_default()).into_owned();
        return Err(if name.starts_with(OPTION_PREFIX) {
            NegotiationError::NotRequested(name)
        } else {
            NegotiationError::NoPrefix(name)
        });
    }
    Ok((version, 8))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;

    const V30: i32 = 0x0003_0000;
    const V32: i32 = 0x0003_0002;

    fn body(version: i32, count: i32, names: &[&str]) -> Vec<u8> {
        let mut b = version.to_be_bytes().to_vec();
        b.extend_from_slice(&count.to_be_bytes());
        for n in names {
            b.extend_from_slice(n.as_bytes());
            b.push(0);
        }
        b
    }

    fn range(min: ProtocolVersion, max: ProtocolVersion) -> VersionRange {
        VersionRange::new(min, max).unwrap()
    }

    use ProtocolVersion::{V3_0, V3_2};

    #[test]
    fn versions_codes_and_values() {
        assert_eq!(V3_0.code(), 196_608);
        assert_eq!(V3_2.code(), 196_610);
        assert_eq!(ProtocolVersion::from_code(196_610), Some(V3_2));
        assert_eq!(ProtocolVersion::from_code(196_609), None);
        assert_eq!(V3_2.to_string(), "3.2");
        assert_eq!(ProtocolVersion::LATEST, V3_2);
        assert_eq!(ProtocolVersion::default(), V3_0);
        assert_eq!(VersionRange::default(), range(V3_0, V3_0));
        assert_eq!(VersionRange::new(V3_2, V3_0), None);
        for good in ["3.0", "3.2", "latest"] {
            assert!(ProtocolVersion::parse(good).is_some(), "{good}");
        }
        // As libpq 18.6 (psql 18 refuses each of these).
        for bad in [
            "", "3.1", "3", "3.", "3.00", "03.0", " 3.0", "3.0 ", "+3.0", "LATEST", "4.0", "2.0",
        ] {
            assert_eq!(ProtocolVersion::parse(bad), None, "{bad:?}");
        }
    }

    /// Each case and its text as psql 18.6 prints it against a scripted server.
    #[test]
    fn libpq_18_checks_and_texts() {
        let up = range(V3_0, V3_2);
        let cases: Vec<(Vec<u8>, VersionRange, &str)> = vec![
            (
                body(V32 + 1, 0, &[]),
                up,
                "received invalid protocol negotiation message: server requested downgrade to \
                 a higher-numbered version",
            ),
            (
                body(V32, 0, &[]),
                range(V3_0, V3_0),
                "received invalid protocol negotiation message: server requested downgrade to \
                 a higher-numbered version",
            ),
            (
                body(V32, 0, &[]),
                up,
                "received invalid protocol negotiation message: server negotiated but asks for \
                 no changes",
            ),
            (
                body(V30, 0, &[]),
                range(V3_0, V3_0),
                "received invalid protocol negotiation message: server negotiated but asks for \
                 no changes",
            ),
            (
                body(V30 + 1, 0, &[]),
                up,
                "received invalid protocol negotiation message: server requested downgrade to \
                 non-existent 3.1 protocol version",
            ),
            (
                body(0x0002_0000, 0, &[]),
                up,
                "received invalid protocol negotiation message: server requested downgrade to \
                 pre-3.0 protocol version",
            ),
            (
                body(V30, -1, &[]),
                up,
                "received invalid protocol negotiation message: server reported negative number \
                 of unsupported parameters",
            ),
            (
                body(V30, 1, &["foo"]),
                up,
                "received invalid protocol negotiation message: server reported unsupported \
                 parameter name without a \"_pq_.\" prefix (\"foo\")",
            ),
            (
                body(V30, 1, &["_pq_.x"]),
                up,
                "received invalid protocol negotiation message: server reported an unsupported \
                 parameter that was not requested (\"_pq_.x\")",
            ),
            (
                body(V32, 1, &["_pq_.x"]),
                up,
                "received invalid protocol negotiation message: server reported an unsupported \
                 parameter that was not requested (\"_pq_.x\")",
            ),
            (
                body(V30, 0, &[]),
                range(V3_2, V3_2),
                "server only supports protocol version 3.0, but \"min_protocol_version\" was \
                 set to 3.2",
            ),
            (
                body(V30, 1, &[]),
                up,
                "received invalid protocol negotiation message: message too short",
            ),
            (
                V30.to_be_bytes().to_vec(),
                up,
                "received invalid protocol negotiation message: message too short",
            ),
        ];
        for (b, r, text) in cases {
            assert_eq!(negotiate(&b, r).unwrap_err().to_string(), text, "{b:?}");
        }
        assert_eq!(
            NegotiationError::Invalid.to_string(),
            "received invalid protocol negotiation message"
        );
        assert_eq!(
            NegotiationError::Duplicate.to_string(),
            "received duplicate protocol negotiation message"
        );
    }

    #[test]
    fn falls_back_and_reports_what_it_read() {
        let up = range(V3_0, V3_2);
        assert_eq!(negotiate(&body(V30, 0, &[]), up), Ok((V3_0, 8)));
        // Bytes after the count are not part of the message for libpq.
        let mut long = body(V30, 0, &[]);
        long.extend_from_slice(b"xx");
        assert_eq!(negotiate(&long, up), Ok((V3_0, 8)));
        // A bad version is found before a bad name.
        assert_eq!(
            negotiate(&body(V32 + 5, 1, &["bad"]), up),
            Err(NegotiationError::Higher)
        );
    }
}
