//! libpq 13's `key=value` connection strings (`conninfo_parse` in fe-connect.c).
//!
//! Pairs are separated by whitespace; whitespace may surround `=`. A value is either
//! unquoted (ends at whitespace; `\` escapes the next character) or in single quotes
//! (`\` escapes the next character, `''` is not special). A later keyword replaces an
//! earlier one.

use std::ops::Range;

use super::{Config, ConnInfoError};

/// C's `isspace` in the C locale.
pub(crate) fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Parses a `key=value` string into a [`Config`].
pub(super) fn parse(s: &str) -> Result<Config, ConnInfoError> {
    let mut config = Config::default();
    // As libpq, each keyword is checked as soon as its pair has been read, so an unknown
    // keyword is reported before a syntax error further on.
    each_pair(s, |key, value, _| config.set(&key, &value).map(|_| ()))?;
    Ok(config)
}

/// Calls `f` on each pair of a `key=value` string, in order, with the byte range of the
/// value as written (quotes and escapes included), stopping at the first error.
pub(super) fn each_pair(
    s: &str,
    mut f: impl FnMut(String, String, Range<usize>) -> Result<(), ConnInfoError>,
) -> Result<(), ConnInfoError> {
    let b = s.as_bytes();
    let at = |i: usize| b.get(i).copied();
    let mut i = 0usize;
    while let Some(c) = at(i) {
        if is_c_space(c) {
            i += 1;
            continue;
        }
        // The keyword: up to `=` or whitespace.
        let start = i;
        while at(i).is_some_and(|c| c != b'=' && !is_c_space(c)) {
            i += 1;
        }
        let key = bytes_to_string(b.get(start..i).unwrap_or_default());
        while at(i).is_some_and(is_c_space) {
            i += 1;
        }
        if at(i) != Some(b'=') {
            return Err(ConnInfoError::MissingEquals(key));
        }
        i += 1;
        while at(i).is_some_and(is_c_space) {
            i += 1;
        }
        let mut value = Vec::new();
        let value_start = i;
        let mut value_end = i;
        if at(i) == Some(b'\'') {
            i += 1;
            loop {
                match at(i) {
                    None => return Err(ConnInfoError::UnterminatedQuote),
                    Some(b'\\') => {
                        i += 1;
                        if let Some(c) = at(i) {
                            value.push(c);
                            i += 1;
                        }
                    }
                    Some(b'\'') => {
                        i += 1;
                        value_end = i;
                        break;
                    }
                    Some(c) => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while let Some(c) = at(i) {
                if is_c_space(c) {
                    // The blank ends the value; it is not part of it.
                    i += 1;
                    break;
                }
                if c == b'\\' {
                    i += 1;
                    if let Some(c) = at(i) {
                        value.push(c);
                        i += 1;
                    }
                } else {
                    value.push(c);
                    i += 1;
                }
                value_end = i;
            }
        }
        f(key, bytes_to_string(&value), value_start..value_end)?;
    }
    Ok(())
}

/// The input is UTF-8 and is only ever split at ASCII bytes, so this never loses anything;
/// `from_utf8_lossy` keeps it panic-free all the same.
fn bytes_to_string(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// psycopg2's value escaping: `''` for an empty value; `\` and `'` get a backslash; a value
/// containing whitespace (Python's `str.isspace`) is wrapped in single quotes. libpq's
/// `key=value` parser reads the result back as the original value. (Used for
/// [`Config::render_redacted`](super::Config::render_redacted) too; public as
/// `pgcluster::compat::psycopg2::escape_value`.)
pub fn escape_value(v: &str) -> String {
    if v.is_empty() {
        return "''".to_owned();
    }
    let escaped = v.replace('\\', "\\\\").replace('\'', "\\'");
    if v.chars().any(py_isspace) {
        format!("'{escaped}'")
    } else {
        escaped
    }
}

/// Python's `str.isspace` for one character.
fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        each_pair(s, |k, v, _| {
            out.push((k, v));
            Ok(())
        })
        .unwrap();
        out
    }

    fn kv(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn syntax() {
        assert_eq!(p(""), kv(&[]));
        assert_eq!(
            p("  host = a   port=1 "),
            kv(&[("host", "a"), ("port", "1")])
        );
        assert_eq!(p("host= port=1"), kv(&[("host", "port=1")]));
        assert_eq!(p("host=''"), kv(&[("host", "")]));
        assert_eq!(p("host="), kv(&[("host", "")]));
        assert_eq!(p("a='x y\\'z\\\\'b=1"), kv(&[("a", "x y'z\\"), ("b", "1")]));
        assert_eq!(p("a=it\\'s b=c\\ d"), kv(&[("a", "it's"), ("b", "c d")]));
        assert_eq!(p("a=x\\"), kv(&[("a", "x")]));
        assert_eq!(p("a=x'y"), kv(&[("a", "x'y")]));
        assert_eq!(p("a=é\tb=ü"), kv(&[("a", "é"), ("b", "ü")]));
        assert_eq!(p("=x"), kv(&[("", "x")]));
    }

    /// Texts from `rexref libpq '<string>'`.
    #[test]
    fn errors() {
        let rows = [
            (
                "host localhost",
                "missing \"=\" after \"host\" in connection info string",
            ),
            (
                "foo",
                "missing \"=\" after \"foo\" in connection info string",
            ),
            (
                "host='localhost",
                "unterminated quoted string in connection info string",
            ),
            (
                "host='x\\'",
                "unterminated quoted string in connection info string",
            ),
            ("foo=bar", "invalid connection option \"foo\""),
            (
                "nosuchoption=1",
                "invalid connection option \"nosuchoption\"",
            ),
            ("x=y foo", "invalid connection option \"x\""),
            (
                "host=a foo",
                "missing \"=\" after \"foo\" in connection info string",
            ),
        ];
        for (input, text) in rows {
            assert_eq!(parse(input).unwrap_err().to_string(), text, "{input}");
        }
    }

    #[test]
    fn later_wins_and_requiressl() {
        let c = parse("port=1 port=2 requiressl=1").unwrap();
        assert_eq!(c.get("port"), Some("2"));
        assert_eq!(c.get("sslmode"), Some("require"));
    }
}
