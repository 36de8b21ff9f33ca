//! Which server a connection reached: the host-list entry (libpq's `PQhost` and `PQport`),
//! the server's version, and whether it is in recovery (a standby).

use super::copy::CopyIo;
use super::session::Connection;
use crate::error::Error;

/// What `pg_is_in_recovery()` is asked with: schema-qualified, as the cluster's queries are.
const IN_RECOVERY_QUERY: &str = "SELECT pg_catalog.pg_is_in_recovery()";

impl Connection {
    /// The host-list entry this connection reached, as libpq's `PQhost` shows it: its
    /// `host` as given (a name, an address, a socket directory), or its `hostaddr` when no
    /// `host` was given. With several hosts (`host=a,b`), the one that accepted it.
    pub fn host(&self) -> &str {
        &self.reached.host
    }

    /// The port of the host-list entry this connection reached (libpq's `PQport`).
    pub fn port(&self) -> u16 {
        self.reached.port
    }

    /// The server's version as it reported it (`server_version`, e.g. `18.6` or
    /// `15.14 (Debian 15.14-0+deb12u1)`).
    pub fn server_version(&self) -> Option<&str> {
        self.parameter("server_version")
    }

    /// The server's version as a number (`server_version_num`'s layout: `150014` for
    /// 15.14, `90600` for 9.6.x, `170000` for `17devel`); `None` if the server reported no
    /// version, or one that does not start with a number. A number too large for a `u32`
    /// reads as `u32::MAX`, the newest version there can be.
    pub fn server_version_num(&self) -> Option<u32> {
        self.server_version()
            .map(version_num)
            .filter(|&num| num != 0)
    }

    /// Whether the server is a hot standby, as it last reported (`in_hot_standby`, which
    /// PostgreSQL 14 and later send at startup and again when a standby is promoted);
    /// `None` from an older server. A connection can only be open on a standby in hot
    /// standby, so this is whether the server is in recovery. To ask the server now, see
    /// [`Connection::in_recovery`].
    pub fn in_hot_standby(&self) -> Option<bool> {
        self.parameter("in_hot_standby").map(|v| v == "on")
    }

    /// Asks the server whether it is in recovery (`SELECT pg_catalog.pg_is_in_recovery()`,
    /// any version): `true` on a standby. Sent as is, without autocommit's `BEGIN`.
    pub async fn in_recovery(&mut self) -> Result<bool, Error> {
        let results = self
            .simple_query_with(IN_RECOVERY_QUERY, &mut CopyIo::Refuse)
            .await?;
        match results
            .first()
            .and_then(|r| r.rows.first())
            .and_then(|row| row.first())
        {
            Some(Some(v)) if v == "t" => Ok(true),
            Some(Some(v)) if v == "f" => Ok(false),
            other => Err(Error::Unexpected(format!(
                "pg_is_in_recovery() answered {other:?}"
            ))),
        }
    }
}

/// `server_version` (`16.4`, `9.6.24`, `17devel`) as `server_version_num`; 0 when it does
/// not start with a number. The server sends it, so every step is checked: a number too
/// large for a `u32` reads as the newest version there can be (`u32::MAX`), never wraps
/// into an old one.
pub(crate) fn version_num(text: &str) -> u32 {
    let mut parts = text.split(|c: char| !c.is_ascii_digit());
    let number = |part: &str| part.parse::<u32>().unwrap_or(u32::MAX);
    let major = match parts.next() {
        Some(part) if !part.is_empty() => number(part),
        _ => return 0,
    };
    let minor = parts.next().filter(|m| !m.is_empty()).map_or(0, number);
    let (major_scale, minor_scale) = if major >= 10 {
        (10_000, 1)
    } else {
        (10_000, 100)
    };
    major
        .checked_mul(major_scale)
        .and_then(|v| v.checked_add(minor.checked_mul(minor_scale)?))
        .unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::version_num;

    /// `server_version` comes from the server: a hostile one's overflowing number reads as
    /// the newest version, never panics and never wraps into an old one (which would make
    /// an option look unsupported).
    #[test]
    fn server_version_is_read_with_checked_arithmetic() {
        let cases: [(&str, u32); 11] = [
            ("16.4", 160_004),
            ("17devel", 170_000),
            ("9.6.24", 90_600),
            ("13.1 (Debian 13.1-1)", 130_001),
            ("", 0),
            ("devel", 0),
            ("429497.0", u32::MAX),
            ("4294967295.1", u32::MAX),
            ("99999999999999999999", u32::MAX),
            ("16.99999999999999999999", u32::MAX),
            ("9.42949673", u32::MAX),
        ];
        for (text, num) in cases {
            assert_eq!(version_num(text), num, "{text:?}");
        }
    }
}
