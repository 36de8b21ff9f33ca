//! `DATABASE_URL` from a `.env` file in the current directory, as sqlx-cli reads it (with
//! the `dotenvy` crate's format), when neither `--db` nor the environment gives one; and
//! `DATABASE_URL_UNPOOLED` (the direct URL past a pooler) the same way. Only those
//! variables are taken; the environment always wins over the file.
//!
//! The format: one `KEY=VALUE` a line, optionally after `export `; blank lines and lines
//! starting with `#` are skipped. A value is unquoted (a backslash escapes the next
//! character; a blank ends it, and only a `# comment` may follow), in single quotes
//! (literal), or in double quotes (`\\`, `\"`, `\$`, `\n` escaped). `$NAME` and `${NAME}`
//! outside single quotes are replaced by the environment's `NAME`, else by the file's own
//! earlier `NAME`, else by nothing. The first `DATABASE_URL` counts (dotenvy sets a variable
//! only when it is not set yet). A line that does not parse is skipped (sqlx-cli ignores the
//! file's errors); a value spanning lines is not supported.

use std::collections::HashMap;
use std::path::Path;

/// Variable `want` (`DATABASE_URL`, `DATABASE_URL_UNPOOLED`) in `dir/.env`, if the file
/// exists and sets it; `env` gives the environment's variables for `$NAME` substitution.
pub(crate) fn variable(
    dir: &Path,
    want: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(".env")).ok()?;
    let mut seen: HashMap<String, String> = HashMap::new();
    for line in text.lines() {
        let Some((key, value)) = parse_line(line, &|name: &str| {
            env(name).or_else(|| seen.get(name).cloned())
        }) else {
            continue;
        };
        if key == want {
            return Some(value);
        }
        seen.entry(key).or_insert(value);
    }
    None
}

/// One line's `(key, value)`; `None` for a blank line, a comment or a line that does not
/// parse.
fn parse_line(line: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Option<(String, String)> {
    let line = line.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
    let (key, value) = line.split_once('=')?;
    let key = key.trim_end();
    let key_ok = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.".contains(&b));
    if !key_ok {
        return None;
    }
    Some((key.to_owned(), parse_value(value.trim_start(), lookup)?))
}

/// How the characters being read are quoted.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Single,
    Double,
}

fn parse_value(value: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let mut out = String::new();
    let mut quote = Quote::None;
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Quote::Single, '\'') | (Quote::Double, '"') => quote = Quote::None,
            (Quote::Single, c) => out.push(c),
            (Quote::None, '\'') => quote = Quote::Single,
            (Quote::None, '"') => quote = Quote::Double,
            (Quote::None | Quote::Double, '\\') => match (quote, chars.next()?) {
                (Quote::Double, 'n') => out.push('\n'),
                (_, escaped) => out.push(escaped),
            },
            (Quote::None | Quote::Double, '$') => {
                let name = variable_name(&mut chars)?;
                if name.is_empty() {
                    out.push('$');
                } else if let Some(v) = lookup(&name) {
                    out.push_str(&v);
                }
            }
            (Quote::None, c) if c.is_whitespace() => {
                // Only a comment may follow.
                let rest: String = chars.collect();
                let rest = rest.trim_start();
                return (rest.is_empty() || rest.starts_with('#')).then_some(out);
            }
            (_, c) => out.push(c),
        }
    }
    (quote == Quote::None).then_some(out)
}

/// The name after a `$`: `{NAME}` or a run of `[A-Za-z0-9_]`; empty if none follows.
fn variable_name(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<String> {
    let mut name = String::new();
    if chars.peek() == Some(&'{') {
        chars.next();
        loop {
            match chars.next()? {
                '}' => return Some(name),
                c => name.push(c),
            }
        }
    }
    while let Some(&c) = chars.peek() {
        if !(c.is_ascii_alphanumeric() || c == '_') {
            break;
        }
        name.push(c);
        chars.next();
    }
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Option<String> {
        let dir = std::env::temp_dir().join(format!(
            "pgcluster-dotenv-{}-{}",
            std::process::id(),
            text.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(".env"), text).unwrap();
        let got = variable(&dir, "DATABASE_URL", |name| {
            (name == "USER").then(|| "alice".to_owned())
        });
        std::fs::remove_dir_all(&dir).unwrap();
        got
    }

    #[test]
    fn values_read_as_dotenvy_reads_them() {
        let rows = [
            ("DATABASE_URL=postgres:///app\n", Some("postgres:///app")),
            (
                "export DATABASE_URL = postgres:///app # the app\n",
                Some("postgres:///app"),
            ),
            (
                "# DATABASE_URL=x\n\nDATABASE_URL='a $USER b'\n",
                Some("a $USER b"),
            ),
            (
                "DATABASE_URL=\"a ${USER} \\\"b\\\" \\$x\"",
                Some("a alice \"b\" $x"),
            ),
            (
                "DATABASE_URL=postgres://$USER@h/db",
                Some("postgres://alice@h/db"),
            ),
            (
                "HOST=h\nDATABASE_URL=postgres://${HOST}/db",
                Some("postgres://h/db"),
            ),
            ("DATABASE_URL=a\\ b", Some("a b")),
            ("DATABASE_URL=a\nDATABASE_URL=b", Some("a")),
            ("DATABASE_URL=a b\nDATABASE_URL=c", Some("c")),
            ("DATABASE_URL='open\n", None),
            ("OTHER=x\n", None),
        ];
        for (text, expected) in rows {
            assert_eq!(url(text).as_deref(), expected, "{text:?}");
        }
    }

    #[test]
    fn the_unpooled_url_beside_the_pooled_one() {
        let dir =
            std::env::temp_dir().join(format!("pgcluster-dotenv-{}-unpooled", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(".env"),
            "DATABASE_URL=postgres://pooler:6432/app\n\
             DATABASE_URL_UNPOOLED=postgres://db:5432/app\n",
        )
        .unwrap();
        let none = |_: &str| None;
        let pooled = variable(&dir, "DATABASE_URL", none);
        let direct = variable(&dir, "DATABASE_URL_UNPOOLED", none);
        let other = variable(&dir, "PGCLUSTER_MAINTENANCE_URL", none);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(pooled.as_deref(), Some("postgres://pooler:6432/app"));
        assert_eq!(direct.as_deref(), Some("postgres://db:5432/app"));
        assert_eq!(other, None);
    }
}
