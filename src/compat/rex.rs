//! The rex/htsql setting `engine://username:password@host:port/database?options`.
//!
//! This is htsql's `DB` class (`htsql.core.util.DB`) as `shared/tools/rexref` shows it: the
//! same regular expression (matched by hand here, trying the alternatives in the order
//! Python's backtracking would), `urllib.parse.unquote` on every component, Python's `int()`
//! on the port, and `str(db)` for [`DbSetting::render`].

use std::collections::BTreeMap;
use std::fmt;

use super::pyprintable::decimal_value;
use super::pyrepr::py_repr;
use crate::conninfo::Config;

/// A parsed rex/htsql database setting (htsql's `DB`).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DbSetting {
    /// Engine name, e.g. `pgsql`.
    pub engine: String,
    /// User name.
    pub username: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// Host (a socket directory when it starts with `/`).
    pub host: Option<String>,
    /// Port, as Python's `int()` read it: any integer htsql accepts, even one libpq will
    /// refuse later (`0`, `99999`, `-1`), so that libpq's own text can be reported.
    pub port: Option<i64>,
    /// Database name.
    pub database: String,
    /// Options after `?`, sorted by key.
    pub options: Option<BTreeMap<String, String>>,
}

/// htsql's parse errors, with its exact texts.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RexSettingError {
    /// `expected a connection URI of the form 'engine://username:password@host:port/database?options'; got %r`
    /// (the text as given, any password in it shown as `xxx`)
    Malformed(String),
    /// `expected port to be an integer; got %r` (the percent-decoded port text)
    Port(String),
}

impl DbSetting {
    /// Parses by htsql's rules (percent-decoded components).
    pub fn parse(s: &str) -> Result<Self, RexSettingError> {
        let raw = match_pattern(s)
            .or_else(|| {
                // Python's `$` also matches just before a final newline.
                s.strip_suffix('\n').and_then(match_pattern)
            })
            .ok_or_else(|| RexSettingError::Malformed(crate::conninfo::redact::unparsed(s)))?;
        let port = match raw.port {
            None => None,
            Some(p) => {
                let text = unquote(p);
                match python_int(&text) {
                    Some(n) => Some(n),
                    None => return Err(RexSettingError::Port(text)),
                }
            }
        };
        let options = raw.options.map(|opts| {
            let mut map = BTreeMap::new();
            for item in opts.split('&') {
                let (k, v) = item.split_once('=').unwrap_or((item, ""));
                map.insert(unquote(k), unquote(v));
            }
            map
        });
        Ok(Self {
            engine: unquote(raw.engine),
            username: raw.username.map(unquote),
            password: raw.password.map(unquote),
            host: raw.host.map(unquote),
            port,
            database: unquote(raw.database),
            options,
        })
    }

    /// htsql's `str(db)`, with the password (and the `password` and `sslpassword` options,
    /// which rex does not pass on but a user may have written) replaced by `xxx` when
    /// `redact`.
    pub fn render(&self, redact: bool) -> String {
        let mut out = String::new();
        out.push_str(&self.engine);
        out.push_str("://");
        if self.username.is_some()
            || self.password.is_some()
            || (self.host.is_none() && self.port.is_some())
        {
            if let Some(u) = &self.username {
                out.push_str(&quote(u, ""));
            }
            if let Some(p) = &self.password {
                out.push(':');
                if redact {
                    out.push_str("xxx");
                } else {
                    out.push_str(&quote(p, ""));
                }
            }
            out.push('@');
        }
        if let Some(h) = &self.host {
            out.push_str(&quote(h, ""));
        }
        if let Some(p) = self.port {
            out.push(':');
            out.push_str(&p.to_string());
        }
        out.push('/');
        out.push_str(&quote(&self.database, "/"));
        if let Some(opts) = &self.options {
            out.push('?');
            let items: Vec<String> = opts
                .iter()
                .map(|(k, v)| {
                    if redact && crate::conninfo::redact::is_secret(k.as_bytes()) {
                        format!("{}=xxx", quote(k, ""))
                    } else {
                        format!("{}={}", quote(k, ""), quote(v, "/"))
                    }
                })
                .collect();
            out.push_str(&items.join("&"));
        }
        out
    }
}

/// What rex hands psycopg2 for a setting.
impl Config {
    /// What rex hands psycopg2 for a setting: `dbname` (the database), and `host`, `port`,
    /// `user` and `password` when set. Options after `?` are not passed (as in rex).
    pub fn from_rex(db: &DbSetting) -> Self {
        let mut params = BTreeMap::new();
        params.insert("dbname".to_owned(), db.database.clone());
        if let Some(h) = &db.host {
            params.insert("host".to_owned(), h.clone());
        }
        if let Some(p) = db.port {
            params.insert("port".to_owned(), p.to_string());
        }
        if let Some(u) = &db.username {
            params.insert("user".to_owned(), u.clone());
        }
        if let Some(p) = &db.password {
            params.insert("password".to_owned(), p.clone());
        }
        Self::from_params(params)
    }
}

impl fmt::Debug for DbSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(true))
    }
}

impl fmt::Display for RexSettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(text) => write!(
                f,
                "expected a connection URI of the form \
                 'engine://username:password@host:port/database?options'; got {}",
                py_repr(text)
            ),
            Self::Port(text) => {
                write!(f, "expected port to be an integer; got {}", py_repr(text))
            }
        }
    }
}

impl std::error::Error for RexSettingError {}

/// `urllib.parse.unquote`: `%XX` runs are decoded as UTF-8 (invalid bytes become U+FFFD);
/// a `%` not followed by two hex digits stays as it is.
pub(crate) fn unquote(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut pending: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes.get(i) == Some(&b'%') {
            let hi = bytes.get(i.saturating_add(1)).and_then(|&b| hex_value(b));
            let lo = bytes.get(i.saturating_add(2)).and_then(|&b| hex_value(b));
            if let (Some(hi), Some(lo)) = (hi, lo) {
                pending.push(hi << 4 | lo);
                i = i.saturating_add(3);
                continue;
            }
        }
        if !pending.is_empty() {
            out.push_str(&String::from_utf8_lossy(&pending));
            pending.clear();
        }
        // Copy one whole character (s is valid UTF-8, so `i` is on a boundary here).
        let ch = s.get(i..).and_then(|rest| rest.chars().next());
        match ch {
            Some(c) => {
                out.push(c);
                i = i.saturating_add(c.len_utf8());
            }
            None => break,
        }
    }
    if !pending.is_empty() {
        out.push_str(&String::from_utf8_lossy(&pending));
    }
    out
}

/// `urllib.parse.quote(s, safe)`: UTF-8 bytes other than `A-Za-z0-9_.-~` and `safe` become
/// `%XX` (upper-case hex).
pub(crate) fn quote(s: &str, safe: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"_.-~".contains(&b) || safe.as_bytes().contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Python's `int(text)` for a `str`: surrounding whitespace, an optional sign, decimal
/// digits (any script's) with single `_` between them. `None` where Python raises `ValueError`, and also
/// (unlike Python) for values outside `i64`.
fn python_int(text: &str) -> Option<i64> {
    let t = text.trim_matches(|c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c));
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, t.get(1..)?),
        Some(b'+') => (false, t.get(1..)?),
        _ => (false, t),
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') {
        return None;
    }
    let mut value: i64 = 0;
    let mut prev_underscore = false;
    for c in digits.chars() {
        if c == '_' {
            if prev_underscore {
                return None;
            }
            prev_underscore = true;
            continue;
        }
        prev_underscore = false;
        let d = i64::from(decimal_value(c)?);
        value = value.checked_mul(10)?;
        value = if negative {
            value.checked_sub(d)?
        } else {
            value.checked_add(d)?
        };
    }
    Some(value)
}

/// The raw (still percent-encoded) groups of htsql's pattern.
struct RawMatch<'a> {
    engine: &'a str,
    username: Option<&'a str>,
    password: Option<&'a str>,
    host: Option<&'a str>,
    port: Option<&'a str>,
    database: &'a str,
    options: Option<&'a str>,
}

/// `KEY = [%0-9a-zA-Z_.-]`
fn is_key(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"%_.-".contains(&c)
}

/// ``VALUE = [%0-9a-zA-Z`~!#$^*()_+\\|\[\]{};'",.<>/-]``
fn is_value(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"%`~!#$^*()_+\\|[]{};'\",.<>/-".contains(&c)
}

/// The longest prefix of `s` made of bytes accepted by `class`, and the rest.
fn span(s: &str, class: fn(u8) -> bool) -> (&str, &str) {
    let n = s.bytes().take_while(|&b| class(b)).count();
    // Both classes are ASCII-only, so `n` is a character boundary.
    (s.get(..n).unwrap_or(""), s.get(n..).unwrap_or(""))
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// Matches htsql's regular expression against the whole of `s`.
///
/// ```text
/// ^ (?P<engine> KEY ) :
///   (?: // (?: (?P<username> KEY )? (?: : (?P<password> VALUE )? )? @ )?
///          (?: (?P<host> KEY )? (?: : (?P<port> KEY )? )? )? / )?
///   (?P<database> VALUE )
///   (?: \? (?P<options> KEY = (?: VALUE )? (?: & KEY = (?: VALUE )? )* )? )? $
/// ```
///
/// The character classes make every group's extent unique, so the only choices are whether
/// the `//` part and its credentials are present; they are tried in Python's order (present
/// before absent).
fn match_pattern(s: &str) -> Option<RawMatch<'_>> {
    let (engine, rest) = span(s, is_key);
    let engine = non_empty(engine)?;
    let rest = rest.strip_prefix(':')?;

    if let Some(after_slashes) = rest.strip_prefix("//") {
        // With credentials, then without.
        for with_credentials in [true, false] {
            let (username, password, netloc) = if with_credentials {
                match credentials(after_slashes) {
                    Some(c) => c,
                    None => continue,
                }
            } else {
                (None, None, after_slashes)
            };
            let (host, after_host) = span(netloc, is_key);
            let (port, after_port) = match after_host.strip_prefix(':') {
                Some(p) => {
                    let (port, after) = span(p, is_key);
                    (non_empty(port), after)
                }
                None => (None, after_host),
            };
            let Some(tail) = after_port.strip_prefix('/') else {
                continue;
            };
            if let Some((database, options)) = database_and_options(tail) {
                return Some(RawMatch {
                    engine,
                    username,
                    password,
                    host: non_empty(host),
                    port,
                    database,
                    options,
                });
            }
        }
    }
    let (database, options) = database_and_options(rest)?;
    Some(RawMatch {
        engine,
        username: None,
        password: None,
        host: None,
        port: None,
        database,
        options,
    })
}

/// Username, password, and the text after the `@`.
type Credentials<'a> = (Option<&'a str>, Option<&'a str>, &'a str);

/// `(?P<username> KEY )? (?: : (?P<password> VALUE )? )? @`, and what follows it.
fn credentials(s: &str) -> Option<Credentials<'_>> {
    let (user, rest) = span(s, is_key);
    if let Some(after) = rest.strip_prefix('@') {
        return Some((non_empty(user), None, after));
    }
    let rest = rest.strip_prefix(':')?;
    let (password, rest) = span(rest, is_value);
    let after = rest.strip_prefix('@')?;
    Some((non_empty(user), non_empty(password), after))
}

/// `(?P<database> VALUE ) (?: \? (?P<options> ...)? )? $`
fn database_and_options(s: &str) -> Option<(&str, Option<&str>)> {
    let (database, rest) = span(s, is_value);
    let database = non_empty(database)?;
    if rest.is_empty() {
        return Some((database, None));
    }
    let opts = rest.strip_prefix('?')?;
    if opts.is_empty() {
        return Some((database, None));
    }
    for item in opts.split('&') {
        let (key, value) = item.split_once('=')?;
        let (k, k_rest) = span(key, is_key);
        let (_, v_rest) = span(value, is_value);
        if k.is_empty() || !k_rest.is_empty() || !v_rest.is_empty() {
            return None;
        }
    }
    Some((database, Some(opts)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr_of(uri: &str) -> String {
        format!(
            "Cluster({})",
            py_repr(&DbSetting::parse(uri).unwrap().render(false))
        )
    }

    /// messages.md §2.4, every row (verified with `rexref cluster URI`).
    #[test]
    fn cluster_repr_table() {
        let rows = [
            ("pgsql:///deploy_demo", "Cluster('pgsql:///deploy_demo')"),
            ("pgsql:deploy_demo", "Cluster('pgsql:///deploy_demo')"),
            (
                "pgsql://aladdin:opensesame@127.0.0.1:2345/deploy_demo",
                "Cluster('pgsql://aladdin:opensesame@127.0.0.1:2345/deploy_demo')",
            ),
            (
                "pgsql://:5433/deploy_demo",
                "Cluster('pgsql://@:5433/deploy_demo')",
            ),
            (
                "pgsql://%2Ftmp%2Fsock:5433/deploy_demo",
                "Cluster('pgsql://%2Ftmp%2Fsock:5433/deploy_demo')",
            ),
            ("pgsql:///it's", "Cluster('pgsql:///it%27s')"),
            (
                "pgsql://u:p%40ss@h/db?sslmode=require&connect_timeout=5",
                "Cluster('pgsql://u:p%40ss@h/db?connect_timeout=5&sslmode=require')",
            ),
        ];
        for (input, expected) in rows {
            assert_eq!(repr_of(input), expected, "{input}");
        }
    }

    /// More inputs, expected texts from `rexref cluster URI`.
    #[test]
    fn cluster_repr_rexref() {
        let rows = [
            ("pgsql://db", "Cluster('pgsql://///db')"),
            ("pgsql://h:007/db", "Cluster('pgsql://h:7/db')"),
            ("pgsql://u@/db", "Cluster('pgsql://u@/db')"),
            ("pgsql://u:@h/db", "Cluster('pgsql://u@h/db')"),
            ("pgsql://:p@h/db", "Cluster('pgsql://:p@h/db')"),
            ("pgsql://u:a/b@h/db", "Cluster('pgsql://u:a%2Fb@h/db')"),
            ("pgsql:///a/b%20c", "Cluster('pgsql:///a/b%20c')"),
            ("pgsql:///db?", "Cluster('pgsql:///db')"),
            ("pgsql:///db?a=", "Cluster('pgsql:///db?a=')"),
            ("pgsql:///db?b=1&a=2&b=3", "Cluster('pgsql:///db?a=2&b=3')"),
            ("pgsql:///db?x=a/b", "Cluster('pgsql:///db?x=a/b')"),
            ("pgsql:///d%C3%A9", "Cluster('pgsql:///d%C3%A9')"),
            ("pgsql:///d%ff", "Cluster('pgsql:///d%EF%BF%BD')"),
            ("pgsql:///d%zz", "Cluster('pgsql:///d%25zz')"),
            ("pgsql://h:-5/db", "Cluster('pgsql://h:-5/db')"),
            ("pgsql://h:%2B1_0/db", "Cluster('pgsql://h:10/db')"),
            ("pgsql://h:%D9%A1%D9%A2/db", "Cluster('pgsql://h:12/db')"),
            ("pgsql:///db\n", "Cluster('pgsql:///db')"),
            ("pgsql://u:p@h:5/db", "Cluster('pgsql://u:p@h:5/db')"),
        ];
        for (input, expected) in rows {
            assert_eq!(repr_of(input), expected, "{input}");
        }
    }

    #[test]
    fn redacted_render() {
        let db = DbSetting::parse("pgsql://aladdin:opensesame@127.0.0.1:2345/deploy_demo").unwrap();
        assert_eq!(
            db.render(true),
            "pgsql://aladdin:xxx@127.0.0.1:2345/deploy_demo"
        );
        assert_eq!(
            format!("{db:?}"),
            "pgsql://aladdin:xxx@127.0.0.1:2345/deploy_demo"
        );
        let db = DbSetting::parse("pgsql://:secret@h/db").unwrap();
        assert_eq!(db.render(true), "pgsql://:xxx@h/db");
    }

    #[test]
    fn components() {
        let db = DbSetting::parse("pgsql://u%20x:p%3Aw@%2Ftmp%2Fpg:5433/my%20db?a=1").unwrap();
        assert_eq!(db.engine, "pgsql");
        assert_eq!(db.username.as_deref(), Some("u x"));
        assert_eq!(db.password.as_deref(), Some("p:w"));
        assert_eq!(db.host.as_deref(), Some("/tmp/pg"));
        assert_eq!(db.port, Some(5433));
        assert_eq!(db.database, "my db");
        let opts = db.options.unwrap();
        assert_eq!(opts.get("a").map(String::as_str), Some("1"));
        let db = DbSetting::parse("pgsql:///postgres").unwrap();
        assert_eq!(
            (db.username, db.password, db.host, db.port),
            (None, None, None, None)
        );
        assert_eq!(db.options, None);
    }

    /// Error texts, expected from `rexref cluster URI`.
    #[test]
    fn errors() {
        let rows = [
            (
                "postgres",
                "expected a connection URI of the form 'engine://username:password@host:port/database?options'; got 'postgres'",
            ),
            (
                "pgsql://h:5/",
                "expected a connection URI of the form 'engine://username:password@host:port/database?options'; got 'pgsql://h:5/'",
            ),
            (
                "pgsql:///my db",
                "expected a connection URI of the form 'engine://username:password@host:port/database?options'; got 'pgsql:///my db'",
            ),
            (
                "pgsql:///it's \"x\"",
                "expected a connection URI of the form 'engine://username:password@host:port/database?options'; got 'pgsql:///it\\'s \"x\"'",
            ),
            (
                "pgsql:///it's x",
                "expected a connection URI of the form 'engine://username:password@host:port/database?options'; got \"pgsql:///it's x\"",
            ),
            (
                "pgsql:///a\tb\u{1}é\u{2028}",
                "expected a connection URI of the form 'engine://username:password@host:port/database?options'; got 'pgsql:///a\\tb\\x01é\\u2028'",
            ),
            (
                "pgsql:///db?a",
                "expected a connection URI of the form 'engine://username:password@host:port/database?options'; got 'pgsql:///db?a'",
            ),
            ("pgsql://h:abc/db", "expected port to be an integer; got 'abc'"),
            ("pgsql://h:%27/db", "expected port to be an integer; got \"'\""),
            ("pgsql://h:1__0/db", "expected port to be an integer; got '1__0'"),
        ];
        for (input, expected) in rows {
            assert_eq!(
                DbSetting::parse(input).unwrap_err().to_string(),
                expected,
                "{input}"
            );
        }
    }

    #[test]
    fn python_repr() {
        assert_eq!(py_repr("abc"), "'abc'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("it's \"q\""), "'it\\'s \"q\"'");
        assert_eq!(py_repr("a\\b"), "'a\\\\b'");
        assert_eq!(py_repr("\t\n\r"), "'\\t\\n\\r'");
        assert_eq!(py_repr("\u{0}\u{7f}\u{85}\u{a0}"), "'\\x00\\x7f\\x85\\xa0'");
        assert_eq!(py_repr("é€"), "'é€'");
        assert_eq!(py_repr("\u{2028}\u{feff}"), "'\\u2028\\ufeff'");
        assert_eq!(py_repr("\u{10ffff}"), "'\\U0010ffff'");
        assert_eq!(py_repr(""), "''");
    }

    #[test]
    fn python_ints() {
        assert_eq!(python_int(" 12 "), Some(12));
        assert_eq!(python_int("+7"), Some(7));
        assert_eq!(python_int("-0"), Some(0));
        assert_eq!(python_int("1_000"), Some(1000));
        assert_eq!(python_int("007"), Some(7));
        assert_eq!(python_int("\u{661}\u{662}"), Some(12));
        for bad in ["", " ", "_1", "1_", "1__0", "0x10", "1.0", "+", "- 1"] {
            assert_eq!(python_int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("/tmp/a b", ""), "%2Ftmp%2Fa%20b");
        assert_eq!(quote("/tmp/a b", "/"), "/tmp/a%20b");
        assert_eq!(quote("a~_.-", ""), "a~_.-");
        assert_eq!(unquote("%41%zz%"), "A%zz%");
        assert_eq!(unquote("%C3%A9x%e2%82"), "éx\u{fffd}");
    }

    #[test]
    fn from_rex_passes_five_keywords() {
        let db = DbSetting::parse("pgsql://u:p@h:007/db?sslmode=require").unwrap();
        let c = Config::from_rex(&db);
        assert_eq!(c.get("dbname"), Some("db"));
        assert_eq!(c.get("host"), Some("h"));
        assert_eq!(c.get("port"), Some("7"));
        assert_eq!(c.get("user"), Some("u"));
        assert_eq!(c.get("password"), Some("p"));
        assert_eq!(c.get("sslmode"), None);
        let c = Config::from_rex(&DbSetting::parse("pgsql:///db").unwrap());
        assert_eq!(c.render_redacted(), "dbname=db");
    }
}
