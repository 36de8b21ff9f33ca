//! psycopg2's dsn, as a connection's repr shows it (messages.md §2.5).
//!
//! psycopg2 joins the keyword arguments as `key=value` with single spaces, `dbname` moved
//! to the end. When a password is present, the dsn shown is rebuilt from libpq's view of
//! the connection, in libpq's keyword order, with the password as `xxx`.

pub use crate::conninfo::keyvalue::escape_value;

/// libpq's keyword order for the keywords psycopg2 can show.
const LIBPQ_ORDER: [&str; 12] = [
    "user",
    "password",
    "passfile",
    "channel_binding",
    "connect_timeout",
    "dbname",
    "host",
    "hostaddr",
    "port",
    "client_encoding",
    "options",
    "application_name",
];

/// psycopg2's dsn for rex's keyword arguments (libpq keywords: `dbname`, `host`, `port`,
/// `user`, `password`; `database` is taken as `dbname`), in the order rex passed them.
///
/// ```
/// use pgcluster::compat::psycopg2::psycopg2_dsn;
/// let dsn = psycopg2_dsn(&[("dbname", "my db"), ("host", "127.0.0.1"), ("port", "5433"),
///                          ("user", "aladdin"), ("password", "opensesame")]);
/// assert_eq!(dsn, "user=aladdin password=xxx dbname='my db' host=127.0.0.1 port=5433");
/// ```
pub fn psycopg2_dsn(kwargs: &[(&str, &str)]) -> String {
    let canonical = |k: &str| if k == "database" { "dbname" } else { k }.to_owned();
    let mut items: Vec<(String, &str)> = kwargs
        .iter()
        .filter(|(k, _)| canonical(k) != "dbname")
        .map(|(k, v)| (canonical(k), *v))
        .collect();
    if let Some((_, v)) = kwargs.iter().rev().find(|(k, _)| canonical(k) == "dbname") {
        items.push(("dbname".to_owned(), v));
    }
    if items.iter().any(|(k, _)| k == "password") {
        let mut out = Vec::new();
        for key in LIBPQ_ORDER {
            if let Some((_, v)) = items.iter().find(|(k, _)| k == key) {
                let v = if key == "password" { "xxx" } else { v };
                out.push(format!("{key}={}", escape_value(v)));
            }
        }
        return out.join(" ");
    }
    items
        .iter()
        .map(|(k, v)| format!("{k}={}", escape_value(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// psycopg2's `strip_severity`: drops a leading `ERROR:  `, `FATAL:  ` or `PANIC:  ` once,
/// when the text is longer than those 8 bytes.
pub(crate) fn strip_severity(message: &str) -> &str {
    if message.len() > 8 {
        for prefix in ["ERROR:  ", "FATAL:  ", "PANIC:  "] {
            if let Some(rest) = message.strip_prefix(prefix) {
                return rest;
            }
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    /// messages.md §2.5, every row ([verified] P L).
    #[test]
    fn dsn_table() {
        let tcp = [
            ("host", "127.0.0.1"),
            ("port", "5433"),
            ("user", "postgres"),
        ];
        let with = |name: &'static str, rest: &[(&'static str, &'static str)]| {
            let mut v = vec![("dbname", name)];
            v.extend_from_slice(rest);
            psycopg2_dsn(&v)
        };
        assert_eq!(with("deploy_demo", &[]), "dbname=deploy_demo");
        assert_eq!(
            with("my db", &tcp),
            "host=127.0.0.1 port=5433 user=postgres dbname='my db'"
        );
        assert_eq!(
            with("it's", &tcp),
            "host=127.0.0.1 port=5433 user=postgres dbname=it\\'s"
        );
        assert_eq!(
            with("back\\slash", &tcp),
            "host=127.0.0.1 port=5433 user=postgres dbname=back\\\\slash"
        );
        assert_eq!(
            with(
                "postgres",
                &[("host", "/tmp/pg"), ("port", "5433"), ("user", "postgres")]
            ),
            "host=/tmp/pg port=5433 user=postgres dbname=postgres"
        );
        assert_eq!(
            with(
                "my db",
                &[
                    ("host", "127.0.0.1"),
                    ("port", "5433"),
                    ("user", "aladdin"),
                    ("password", "opensesame")
                ]
            ),
            "user=aladdin password=xxx dbname='my db' host=127.0.0.1 port=5433"
        );
    }

    #[test]
    fn escaping() {
        assert_eq!(escape_value(""), "''");
        assert_eq!(escape_value("a b"), "'a b'");
        assert_eq!(escape_value("it's x"), "'it\\'s x'");
        assert_eq!(escape_value("a\tb"), "'a\tb'");
        assert_eq!(escape_value("a\u{1f}b"), "'a\u{1f}b'");
        assert_eq!(escape_value("é"), "é");
        assert_eq!(
            psycopg2_dsn(&[("database", "d"), ("host", "")]),
            "host='' dbname=d"
        );
        assert_eq!(
            psycopg2_dsn(&[("database", "d"), ("password", "")]),
            "password=xxx dbname=d"
        );
    }

    #[test]
    fn strip_severity_needs_more_than_the_prefix() {
        assert_eq!(strip_severity("ERROR:  x"), "x");
        assert_eq!(strip_severity("ERROR:  "), "ERROR:  ");
        assert_eq!(strip_severity("WARNING:  w"), "WARNING:  w");
    }
}
