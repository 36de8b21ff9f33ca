//! libpq 13's `postgresql://` and `postgres://` URIs (`conninfo_uri_parse_options` in
//! fe-connect.c):
//!
//! `postgresql://[user[:password]@][netloc][:port][,...][/dbname][?param1=value1&...]`
//!
//! where `netloc` is a name, an IPv4 address or a bracketed IPv6 address. Every component is
//! percent-decoded (`%00` refused); the host list and the port list are each decoded as a
//! whole, commas included.

use super::scheme::prefix_len;
use super::{redact, Config, ConnInfoError};

/// Parses a URI into a [`Config`].
pub(super) fn parse(uri: &str) -> Result<Config, ConnInfoError> {
    let b = uri.as_bytes();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let slice = |from: usize, to: usize| uri.get(from..to).unwrap_or("");
    let mut config = Config::default();
    let start = prefix_len(uri).ok_or_else(|| ConnInfoError::UriInvalidParam(uri.to_owned()))?;

    // Credentials: only if an `@` comes before the first `/`.
    let mut p = start;
    while at(p) != 0 && at(p) != b'@' && at(p) != b'/' {
        p += 1;
    }
    if at(p) == b'@' {
        let at_sign = p;
        let mut q = start;
        while at(q) != b':' && at(q) != b'@' {
            q += 1;
        }
        store(&mut config, "user", slice(start, q))?;
        if at(q) == b':' {
            store(&mut config, "password", slice(q + 1, at_sign))?;
        }
        p = at_sign + 1;
    } else {
        p = start;
    }

    // netloc[:port] pairs, separated by commas.
    let mut hosts = String::new();
    let mut ports = String::new();
    let mut prevchar;
    loop {
        if at(p) == b'[' {
            let host_start = p + 1;
            p = host_start;
            while at(p) != 0 && at(p) != b']' {
                p += 1;
            }
            if at(p) == 0 {
                return Err(ConnInfoError::UriUnterminatedIpv6(redact::libpq(uri)));
            }
            if p == host_start {
                return Err(ConnInfoError::UriEmptyIpv6(redact::libpq(uri)));
            }
            hosts.push_str(slice(host_start, p));
            p += 1;
            if !matches!(at(p), 0 | b':' | b'/' | b'?' | b',') {
                let found = uri.get(p..).and_then(|r| r.chars().next()).unwrap_or('?');
                return Err(ConnInfoError::UriUnexpectedChar {
                    found,
                    position: p + 1,
                    uri: redact::libpq(uri),
                });
            }
        } else {
            let host_start = p;
            while !matches!(at(p), 0 | b':' | b'/' | b'?' | b',') {
                p += 1;
            }
            hosts.push_str(slice(host_start, p));
        }
        prevchar = at(p);
        if prevchar == b':' {
            p += 1;
            let port_start = p;
            while !matches!(at(p), 0 | b'/' | b'?' | b',') {
                p += 1;
            }
            ports.push_str(slice(port_start, p));
            prevchar = at(p);
        }
        if prevchar != b',' {
            break;
        }
        p += 1;
        hosts.push(',');
        ports.push(',');
    }
    store(&mut config, "host", &hosts)?;
    store(&mut config, "port", &ports)?;

    if prevchar != 0 && prevchar != b'?' {
        p += 1;
        let db_start = p;
        while at(p) != 0 && at(p) != b'?' {
            p += 1;
        }
        prevchar = at(p);
        store(&mut config, "dbname", slice(db_start, p))?;
    }
    if prevchar != 0 {
        parse_params(slice(p + 1, b.len()), &mut config)?;
    }
    Ok(config)
}

/// Stores a percent-encoded component, unless it is empty (libpq then leaves the keyword
/// unset, so that the environment and defaults still apply).
fn store(config: &mut Config, key: &str, raw: &str) -> Result<(), ConnInfoError> {
    if raw.is_empty() {
        return Ok(());
    }
    let value = decode(raw).map_err(|e| masked_if_secret(key, e))?;
    config.set(key, &value)?;
    Ok(())
}

/// A decoding error of a secret's value (`password`, `sslpassword`) names `xxx`, not the
/// value: libpq would quote the password itself.
fn masked_if_secret(key: &str, e: ConnInfoError) -> ConnInfoError {
    if !redact::is_secret(key.as_bytes()) {
        return e;
    }
    match e {
        ConnInfoError::InvalidPercent(_) => ConnInfoError::InvalidPercent(redact::MASK.to_owned()),
        ConnInfoError::ForbiddenNul(_) => ConnInfoError::ForbiddenNul(redact::MASK.to_owned()),
        other => other,
    }
}

/// The query part: `key=value` pairs separated by `&`.
fn parse_params(params: &str, config: &mut Config) -> Result<(), ConnInfoError> {
    if params.is_empty() {
        return Ok(());
    }
    let items: Vec<&str> = params.split('&').collect();
    let count = items.len();
    for (n, item) in items.into_iter().enumerate() {
        // `a=1&` ends with an empty item, which libpq never looks at.
        if item.is_empty() && n + 1 == count {
            break;
        }
        let Some((raw_key, raw_value)) = item.split_once('=') else {
            return Err(ConnInfoError::UriMissingEquals(item.to_owned()));
        };
        if raw_value.contains('=') {
            return Err(ConnInfoError::UriExtraEquals(raw_key.to_owned()));
        }
        let key = decode(raw_key)?;
        let value = decode(raw_value).map_err(|e| masked_if_secret(&key, e))?;
        // JDBC compatibility: `ssl=true` is `sslmode=require`.
        let (key_to_set, value_to_set) = if key == "ssl" && value == "true" {
            ("sslmode", "require")
        } else {
            (key.as_str(), value.as_str())
        };
        if config.set(key_to_set, value_to_set).is_err() {
            return Err(ConnInfoError::UriInvalidParam(key));
        }
    }
    Ok(())
}

/// `conninfo_uri_decode`: `%XX` (either case) decoded; a bad token or `%00` is an error
/// naming the whole undecoded component.
fn decode(s: &str) -> Result<String, ConnInfoError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0usize;
    while let Some(&c) = b.get(i) {
        if c != b'%' {
            out.push(c);
            i += 1;
            continue;
        }
        let hi = b.get(i + 1).and_then(|&h| hex(h));
        let lo = b.get(i + 2).and_then(|&l| hex(l));
        let (Some(hi), Some(lo)) = (hi, lo) else {
            return Err(ConnInfoError::InvalidPercent(s.to_owned()));
        };
        let v = hi << 4 | lo;
        if v == 0 {
            return Err(ConnInfoError::ForbiddenNul(s.to_owned()));
        }
        out.push(v);
        i += 3;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(uri: &str, key: &str) -> Option<String> {
        parse(uri).unwrap().get(key).map(str::to_owned)
    }

    #[test]
    fn components() {
        let u = "postgresql://us%20er:p%40ss@h1:1,[::1]:2,h3/d%2Fb?application_name=x%20y&connect_timeout=5";
        assert_eq!(get(u, "user").as_deref(), Some("us er"));
        assert_eq!(get(u, "password").as_deref(), Some("p@ss"));
        assert_eq!(get(u, "host").as_deref(), Some("h1,::1,h3"));
        assert_eq!(get(u, "port").as_deref(), Some("1,2,"));
        assert_eq!(get(u, "dbname").as_deref(), Some("d/b"));
        assert_eq!(get(u, "application_name").as_deref(), Some("x y"));
        assert_eq!(get(u, "connect_timeout").as_deref(), Some("5"));
    }

    #[test]
    fn empty_parts_stay_unset() {
        let c = parse("postgres://").unwrap();
        assert_eq!(c, Config::default());
        let c = parse("postgresql://:@/?").unwrap();
        assert_eq!(c, Config::default());
        let c = parse("postgresql://u@").unwrap();
        assert_eq!(c.get("user"), Some("u"));
        assert_eq!(c.get("host"), None);
    }

    #[test]
    fn sockets_and_params() {
        assert_eq!(
            get("postgresql://%2Ftmp%2Fdir:2345/db", "host").as_deref(),
            Some("/tmp/dir")
        );
        assert_eq!(
            get("postgresql:///db?host=/tmp/dir", "host").as_deref(),
            Some("/tmp/dir")
        );
        assert_eq!(
            get("postgresql:///db?ssl=true", "sslmode").as_deref(),
            Some("require")
        );
        assert_eq!(
            get("postgresql:///db?requiressl=1", "sslmode").as_deref(),
            Some("require")
        );
        assert_eq!(get("postgresql:///db?applic%61tion_name=1&", "host"), None);
        assert_eq!(
            get("postgresql://h?dbname=x", "dbname").as_deref(),
            Some("x")
        );
        assert_eq!(get("postgresql://h/a@b", "dbname").as_deref(), Some("a@b"));
        assert_eq!(get("postgresql://h/a@b", "user"), None);
    }

    /// Texts from `rexref libpq '<uri>'`.
    #[test]
    fn errors() {
        let rows = [
            (
                "postgresql://[::1",
                "end of string reached when looking for matching \"]\" in IPv6 host address in URI: \"postgresql://[::1\"",
            ),
            (
                "postgresql://[]/db",
                "IPv6 host address may not be empty in URI: \"postgresql://[]/db\"",
            ),
            (
                "postgresql://[::1]x/db",
                "unexpected character \"x\" at position 19 in URI (expected \":\" or \"/\"): \"postgresql://[::1]x/db\"",
            ),
            (
                "postgresql:///db?sslmode=require=x",
                "extra key/value separator \"=\" in URI query parameter: \"sslmode\"",
            ),
            (
                "postgresql:///db?sslmode",
                "missing key/value separator \"=\" in URI query parameter: \"sslmode\"",
            ),
            ("postgresql:///db?foo=bar", "invalid URI query parameter: \"foo\""),
            ("postgresql:///db?f%6fo=bar", "invalid URI query parameter: \"foo\""),
            ("postgresql://h/d%zzb", "invalid percent-encoded token: \"d%zzb\""),
            ("postgresql://u%zz@h/db", "invalid percent-encoded token: \"u%zz\""),
            ("postgresql://h/d%00b", "forbidden value %00 in percent-encoded value: \"d%00b\""),
            ("postgresql://h/db%", "invalid percent-encoded token: \"db%\""),
            // A password is never quoted (libpq would): the URI with it masked, or `xxx`.
            (
                "postgresql://u:s3cret@[::1/db",
                "end of string reached when looking for matching \"]\" in IPv6 host address in URI: \"postgresql://u:xxx@[::1/db\"",
            ),
            (
                "postgresql://u:s3cret@[]/db?password=s3cret",
                "IPv6 host address may not be empty in URI: \"postgresql://u:xxx@[]/db?password=xxx\"",
            ),
            (
                "postgresql://u:s3cret@[::1]x/db",
                "unexpected character \"x\" at position 28 in URI (expected \":\" or \"/\"): \"postgresql://u:xxx@[::1]x/db\"",
            ),
            ("postgresql://u:s3%zzcret@h/db", "invalid percent-encoded token: \"xxx\""),
            ("postgresql://u:s3%00cret@h/db", "forbidden value %00 in percent-encoded value: \"xxx\""),
            ("postgresql://h/db?password=s3%zz", "invalid percent-encoded token: \"xxx\""),
            ("postgresql://h/db?sslp%61ssword=s3%00", "forbidden value %00 in percent-encoded value: \"xxx\""),
            ("postgresql://h1,h%2/db", "invalid percent-encoded token: \"h1,h%2\""),
            (
                "postgresql:///db?application_name=1&&b=2",
                "missing key/value separator \"=\" in URI query parameter: \"\"",
            ),
            ("postgresql:///db?&", "missing key/value separator \"=\" in URI query parameter: \"\""),
            ("postgresql:///db?a=1&&b=2", "invalid URI query parameter: \"a\""),
        ];
        for (input, text) in rows {
            assert_eq!(parse(input).unwrap_err().to_string(), text, "{input}");
        }
    }
}
