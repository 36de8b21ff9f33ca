//! libpq 13's TCP socket options: `keepalives`, `keepalives_idle`, `keepalives_interval`,
//! `keepalives_count` and `tcp_user_timeout`. libpq reads them for each TCP address, right
//! after it creates the socket (so a bad value is reported once per address, and the next
//! address is tried); Unix-domain sockets ignore them.

use super::resolve::parse_int;

/// Linux's `MAX_TCP_KEEPIDLE`: the largest `TCP_KEEPIDLE` the kernel accepts.
const MAX_KEEPIDLE: i32 = 32_767;
/// Linux's `MAX_TCP_KEEPINTVL`.
const MAX_KEEPINTVL: i32 = 32_767;
/// Linux's `MAX_TCP_KEEPCNT`.
const MAX_KEEPCNT: i32 = 127;

/// The TCP socket settings as given (`None` when not given), checked per address by
/// [`TcpSettings::socket_options`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpSettings {
    /// `keepalives`: `0` turns keepalives off; anything else that `strtol` reads whole
    /// turns them on (the default).
    pub keepalives: Option<String>,
    /// `keepalives_idle`, seconds.
    pub keepalives_idle: Option<String>,
    /// `keepalives_interval`, seconds.
    pub keepalives_interval: Option<String>,
    /// `keepalives_count`.
    pub keepalives_count: Option<String>,
    /// `tcp_user_timeout`, milliseconds.
    pub tcp_user_timeout: Option<String>,
}

/// What to set on a TCP socket before connecting it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketOptions {
    /// `SO_KEEPALIVE`.
    pub keepalive: bool,
    /// `TCP_KEEPIDLE`, seconds.
    pub keepalive_idle: Option<u32>,
    /// `TCP_KEEPINTVL`, seconds.
    pub keepalive_interval: Option<u32>,
    /// `TCP_KEEPCNT`.
    pub keepalive_count: Option<u32>,
    /// `TCP_USER_TIMEOUT`, milliseconds (libpq sets it only when keepalives are on).
    pub tcp_user_timeout: Option<u32>,
}

impl TcpSettings {
    /// libpq 13's checks, in its order (`PQconnectPoll`, `CONNECTION_NEEDED`): the socket
    /// options, or the text libpq adds (with its final `\n`) before it goes on to the next
    /// address:
    /// - `keepalives parameter must be an integer` (`useKeepalives`: `strtol` must read
    ///   the whole value, which is then cut to a C `int`);
    /// - `invalid integer value "%s" for connection option "%s"` for the other four;
    /// - `setsockopt(%s) failed: Invalid argument` for a value Linux refuses (negative
    ///   values count as 0; the limits are the kernel's `MAX_TCP_KEEP*`).
    pub fn socket_options(&self) -> Result<SocketOptions, String> {
        let keepalive = match &self.keepalives {
            None => true,
            Some(v) => match strtol_whole(v) {
                Some(n) => n != 0,
                None => return Err("keepalives parameter must be an integer\n".to_owned()),
            },
        };
        let mut options = SocketOptions {
            keepalive,
            ..SocketOptions::default()
        };
        if !keepalive {
            return Ok(options);
        }
        options.keepalive_idle = kernel_value(
            self.keepalives_idle.as_deref(),
            "keepalives_idle",
            "TCP_KEEPIDLE",
            MAX_KEEPIDLE,
        )?;
        options.keepalive_interval = kernel_value(
            self.keepalives_interval.as_deref(),
            "keepalives_interval",
            "TCP_KEEPINTVL",
            MAX_KEEPINTVL,
        )?;
        options.keepalive_count = kernel_value(
            self.keepalives_count.as_deref(),
            "keepalives_count",
            "TCP_KEEPCNT",
            MAX_KEEPCNT,
        )?;
        if let Some(v) = &self.tcp_user_timeout {
            let n = int_param(v, "tcp_user_timeout")?;
            options.tcp_user_timeout = Some(u32::try_from(n).unwrap_or(0));
        }
        Ok(options)
    }
}

/// libpq's `parse_int_param`, with its text on failure.
fn int_param(value: &str, option: &str) -> Result<i32, String> {
    parse_int(value).ok_or_else(|| {
        format!("invalid integer value \"{value}\" for connection option \"{option}\"\n")
    })
}

/// A keepalive value: parsed, negative as 0, then the kernel's `1..=max` check.
fn kernel_value(
    value: Option<&str>,
    option: &str,
    sockopt: &str,
    max: i32,
) -> Result<Option<u32>, String> {
    let Some(value) = value else {
        return Ok(None);
    };
    let n = int_param(value, option)?.max(0);
    if !(1..=max).contains(&n) {
        return Err(format!("setsockopt({sockopt}) failed: Invalid argument\n"));
    }
    Ok(u32::try_from(n).ok())
}

/// `(int) strtol(value, &end, 10)` when `*end == '\0'`: leading C whitespace, a sign,
/// digits (none is 0, as long as nothing follows), clamped to `long`, then cut to `int`.
fn strtol_whole(value: &str) -> Option<i32> {
    let b = value.as_bytes();
    let start = b
        .iter()
        .position(|&c| !super::keyvalue::is_c_space(c))
        .unwrap_or(b.len());
    let rest = b.get(start..).unwrap_or_default();
    let (negative, digits) = match rest.first() {
        Some(b'-') => (true, rest.get(1..).unwrap_or_default()),
        Some(b'+') => (false, rest.get(1..).unwrap_or_default()),
        _ => (false, rest),
    };
    if digits.is_empty() {
        // No conversion: `end` is the start of the string, so only "" passes.
        return value.is_empty().then_some(0);
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: i64 = 0;
    for d in digits {
        n = n
            .saturating_mul(10)
            .saturating_add(i64::from(d.wrapping_sub(b'0')));
    }
    // strtol clamps to LONG_MIN / LONG_MAX.
    let n = if negative {
        if n == i64::MAX {
            i64::MIN
        } else {
            -n
        }
    } else {
        n
    };
    // The conversion to int keeps the low 32 bits.
    Some(n as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> TcpSettings {
        let mut s = TcpSettings::default();
        for (k, v) in pairs {
            let slot = match *k {
                "keepalives" => &mut s.keepalives,
                "keepalives_idle" => &mut s.keepalives_idle,
                "keepalives_interval" => &mut s.keepalives_interval,
                "keepalives_count" => &mut s.keepalives_count,
                "tcp_user_timeout" => &mut s.tcp_user_timeout,
                other => panic!("{other}"),
            };
            *slot = Some((*v).to_owned());
        }
        s
    }

    /// Each expected text is what `rexref libpq 'host=127.0.0.1 port=2345 <settings>'`
    /// printed (libpq 13.3); `Ok` rows were refused connections there.
    #[test]
    fn libpq_texts() {
        let err = |pairs: &[(&str, &str)]| settings(pairs).socket_options().unwrap_err();
        let must = "keepalives parameter must be an integer\n";
        assert_eq!(err(&[("keepalives", "x")]), must);
        assert_eq!(err(&[("keepalives", "2x")]), must);
        assert_eq!(err(&[("keepalives", "1 ")]), must);
        assert_eq!(err(&[("keepalives", " ")]), must);
        assert_eq!(
            err(&[("keepalives_idle", "abc"), ("keepalives_count", "x")]),
            "invalid integer value \"abc\" for connection option \"keepalives_idle\"\n"
        );
        assert_eq!(
            err(&[("keepalives", "-1"), ("keepalives_idle", "x")]),
            "invalid integer value \"x\" for connection option \"keepalives_idle\"\n"
        );
        assert_eq!(
            err(&[
                ("keepalives", "99999999999999999999"),
                ("keepalives_idle", "x")
            ]),
            "invalid integer value \"x\" for connection option \"keepalives_idle\"\n"
        );
        for v in ["0", "-5", "32768"] {
            assert_eq!(
                err(&[("keepalives_idle", v)]),
                "setsockopt(TCP_KEEPIDLE) failed: Invalid argument\n"
            );
        }
        assert_eq!(
            err(&[("keepalives_idle", "0"), ("keepalives_interval", "x")]),
            "setsockopt(TCP_KEEPIDLE) failed: Invalid argument\n"
        );
        assert_eq!(
            err(&[("keepalives_interval", "32768")]),
            "setsockopt(TCP_KEEPINTVL) failed: Invalid argument\n"
        );
        assert_eq!(
            err(&[("keepalives_count", "128")]),
            "setsockopt(TCP_KEEPCNT) failed: Invalid argument\n"
        );
        assert_eq!(
            err(&[("keepalives", "1"), ("tcp_user_timeout", "y")]),
            "invalid integer value \"y\" for connection option \"tcp_user_timeout\"\n"
        );

        let ok = |pairs: &[(&str, &str)]| settings(pairs).socket_options().unwrap();
        assert!(ok(&[]).keepalive);
        assert_eq!(
            ok(&[("keepalives_count", "127")]).keepalive_count,
            Some(127)
        );
        assert_eq!(
            ok(&[("keepalives_idle", "32767")]).keepalive_idle,
            Some(32767)
        );
        assert_eq!(ok(&[("tcp_user_timeout", "0")]).tcp_user_timeout, Some(0));
        assert_eq!(ok(&[("tcp_user_timeout", "-1")]).tcp_user_timeout, Some(0));
        // Off: the other four are not read at all.
        let off = ok(&[
            ("keepalives", "0"),
            ("keepalives_idle", "x"),
            ("tcp_user_timeout", "y"),
        ]);
        assert_eq!(off, SocketOptions::default());
        // 2^32 is 0 once cut to an int: off.
        assert!(!ok(&[("keepalives", "4294967296"), ("keepalives_idle", "x")]).keepalive);
        assert!(!ok(&[("keepalives", ""), ("keepalives_idle", "x")]).keepalive);
        let spaced = ok(&[("keepalives", " 1"), ("keepalives_idle", " 5 ")]);
        assert_eq!((spaced.keepalive, spaced.keepalive_idle), (true, Some(5)));
    }
}
