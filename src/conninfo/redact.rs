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
/// last `@` (a rex password may hold `/` or `?`, and a setting that does not parse may hold
/// anything) is a user part, its password shown as `xxx`, and so is every option after `?`
/// whose name ends in `password`. Text that is not a URI is redacted as a `key=value`
/// string, as far as it reads as one, and then as a URI's user part would be (`pgsql:u:pw@h`
/// and `pgsql//u:pw@h` name a password too).
pub(crate) fn unparsed(text: &str) -> String {
    match scheme_end(text) {
        Some(start) => {
            let at = text.get(start..).and_then(|s| s.rfind('@'));
            uri_text(text, start, at.map(|at| start + at))
        }
        None => {
            let text = key_value(text);
            let at = text.rfind('@');
            match at.and_then(|at| text.get(..at)?.find(':')) {
                Some(colon) => uri_text(&text, colon, at),
                None => text,
            }
        }
    }
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
    out.push_str(text.get(rest_from..).unwrap_or(""));
    // The query's items: split at every `&` after the scheme, so that an item after a
    // `?` or an `@` the user part's mask took in (text that did not parse) is seen too.
    let rest = out.split_off(start);
    let items: Vec<String> = rest
        .split('&')
        .map(|item| match item.split_once('=') {
            Some((key, _)) if names_secret(&percent_decoded(key)) => format!("{key}={MASK}"),
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

/// Whether a query item's key names a secret: `password`, `sslpassword`, or anything that
/// ends in `password` (the first item holds all that comes before the `?`).
fn names_secret(key: &[u8]) -> bool {
    is_secret(key) || key.ends_with(b"password")
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
            // A `?` in the password: the last `@` ends the user part.
            ("pgsql://u:Pw?s3cret@h/db", "pgsql://u:xxx@h/db"),
            (
                "pgsql://u@h/db?a=b@c&password=s",
                "pgsql://u@h/db?a=b@c&password=xxx",
            ),
            (
                "pgsql://u?x@h/db?password=s",
                "pgsql://u?x@h/db?password=xxx",
            ),
            // Not `scheme://`, and not `key=value` either.
            ("pgsql:u:s3cret@h/db", "pgsql:xxx@h/db"),
            ("pgsql//u:s3cret@h/db", "pgsql//u:xxx@h/db"),
            (
                "pgsql//u:s3cret@h/db?password=t",
                "pgsql//u:xxx@h/db?password=xxx",
            ),
            // The last `@` in the query, the password after it.
            (
                "pgsql://u@h:1/db?a=b@c&password=s",
                "pgsql://u@h:xxx@c&password=xxx",
            ),
        ];
        for (given, shown) in rows {
            assert_eq!(unparsed(given), shown, "{given}");
        }
    }
}
