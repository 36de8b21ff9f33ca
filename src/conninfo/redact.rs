//! Connection settings shown as the user wrote them, every password replaced by `xxx`: a
//! `Cluster`'s repr of a libpq URI or `key=value` string, and a setting quoted in an error.

use super::keyvalue;
use super::scheme::{prefix_len, scheme_end};

/// The keywords whose values are secrets.
const SECRETS: [&[u8]; 2] = [b"password", b"sslpassword"];

/// What replaces a secret.
pub(crate) const MASK: &str = "xxx";

/// Whether `keyword` names a secret (`password`, `sslpassword`).
pub(crate) fn is_secret(keyword: &[u8]) -> bool {
    SECRETS.contains(&keyword)
}

/// A libpq setting that parsed (a `postgres://` URI or a `key=value` string) as written,
/// with the password of a URI's user part and every `password` and `sslpassword` value
/// shown as `xxx`.
pub(crate) fn libpq(text: &str) -> String {
    match prefix_len(text) {
        Some(start) => uri_text(text, start, credentials_end_libpq(text, start)),
        None => key_value(text),
    }
}

/// A setting that did not parse, quoted in an error: anything after `scheme://` up to the
/// last `@` before the query (a rex password may hold `/`) is a user part, its password
/// shown as `xxx`, and so is every `password` or `sslpassword` option after `?`. Text that
/// is not a URI is redacted as a `key=value` string, as far as it reads as one.
pub(crate) fn unparsed(text: &str) -> String {
    let Some(start) = scheme_end(text) else {
        return key_value(text);
    };
    let query = text.find('?').unwrap_or(text.len());
    let at = text.get(start..query).and_then(|s| s.rfind('@'));
    uri_text(text, start, at.map(|at| start + at))
}

/// libpq's rule: a user part only if an `@` comes before the first `/`.
fn credentials_end_libpq(text: &str, start: usize) -> Option<usize> {
    let rest = text.get(start..)?;
    let end = rest
        .find(['@', '/'])
        .filter(|&i| rest.as_bytes().get(i) == Some(&b'@'))?;
    Some(start + end)
}

/// `text` with the password between `start` and `at` (the user part's `@`) and the secret
/// query values masked.
fn uri_text(text: &str, start: usize, at: Option<usize>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest_from = start;
    out.push_str(text.get(..start).unwrap_or(""));
    if let Some(at) = at {
        let user_part = text.get(start..at).unwrap_or("");
        match user_part.find(':') {
            Some(colon) => {
                out.push_str(user_part.get(..=colon).unwrap_or(""));
                out.push_str(MASK);
            }
            None => out.push_str(user_part),
        }
        rest_from = at;
    }
    let rest = text.get(rest_from..).unwrap_or("");
    let Some(q) = rest.find('?') else {
        out.push_str(rest);
        return out;
    };
    out.push_str(rest.get(..=q).unwrap_or(""));
    let query = rest.get(q + 1..).unwrap_or("");
    let items: Vec<String> = query
        .split('&')
        .map(|item| match item.split_once('=') {
            Some((key, _)) if is_secret(&percent_decoded(key)) => format!("{key}={MASK}"),
            _ => item.to_owned(),
        })
        .collect();
    out.push_str(&items.join("&"));
    out
}

/// A `key=value` string with each secret value, as written, replaced by `xxx`. When the
/// text does not parse and what follows the last pair that did names a password, that part
/// is cut off.
fn key_value(text: &str) -> String {
    let mut secrets = Vec::new();
    let mut parsed_to = 0;
    let complete = keyvalue::each_pair(text, |key, _, value| {
        if is_secret(key.as_bytes()) {
            secrets.push(value.clone());
        }
        parsed_to = value.end;
        Ok(())
    })
    .is_ok();
    let rest = text.get(parsed_to..).unwrap_or("");
    let end = if complete || !rest.contains("password") {
        text.len()
    } else {
        parsed_to
    };
    let mut out = String::with_capacity(end);
    let mut from = 0;
    for value in secrets {
        out.push_str(text.get(from..value.start).unwrap_or(""));
        out.push_str(MASK);
        from = value.end;
    }
    out.push_str(text.get(from..end).unwrap_or(""));
    out
}

/// `%XX` decoded (anything else kept): enough to recognise a keyword.
fn percent_decoded(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(byte) if c == b'%' => {
                out.push(byte);
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_settings_keep_their_form() {
        let rows = [
            ("postgres:///cf_demo", "postgres:///cf_demo"),
            (
                "postgresql://u:secret@h:5/x?application_name=a",
                "postgresql://u:xxx@h:5/x?application_name=a",
            ),
            (
                "postgres://u@h/x?pass%77ord=s&sslpassword=t&a=b",
                "postgres://u@h/x?pass%77ord=xxx&sslpassword=xxx&a=b",
            ),
            // libpq: no user part when the `@` comes after the first `/`.
            ("postgres://h/d@b", "postgres://h/d@b"),
            (
                "host=h  password='a b'\tdbname=x sslpassword=p\\ q",
                "host=h  password=xxx\tdbname=x sslpassword=xxx",
            ),
            ("password=s", "password=xxx"),
            ("dbname = x password = s ", "dbname = x password = xxx "),
        ];
        for (given, shown) in rows {
            assert_eq!(libpq(given), shown, "{given}");
        }
    }

    #[test]
    fn unparsed_settings_never_show_a_password() {
        let rows = [
            ("pgsql:///db?a=1&", "pgsql:///db?a=1&"),
            ("pgsql://u:se/cr@et@h/db?=1", "pgsql://u:xxx@h/db?=1"),
            ("pgsql://u@h/db?password=s&", "pgsql://u@h/db?password=xxx&"),
            ("dbname=x password='s", "dbname=x"),
            ("postgres", "postgres"),
            ("dbname=x what", "dbname=x what"),
        ];
        for (given, shown) in rows {
            assert_eq!(unparsed(given), shown, "{given}");
        }
    }
}
