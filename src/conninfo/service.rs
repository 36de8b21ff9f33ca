//! Connection service files (`service=name`, `PGSERVICE`), read as libpq 13's
//! `parseServiceInfo` and `parseServiceFile` read them.
//!
//! The files tried are `PGSERVICEFILE` (else `~/.pg_service.conf`, if it exists), then
//! `pg_service.conf` in `PGSYSCONFDIR` (else the reference build's
//! `/usr/local/etc/postgresql`), if it exists. Within a file, `[name]` starts a section
//! and `key=value` lines set keywords that were not given already.

use std::collections::BTreeMap;

use super::{is_keyword, ConnInfoError, Env};
use crate::conninfo::keyvalue::is_c_space;

/// The `SYSCONFDIR` compiled into the reference libpq (psycopg2-binary 2.9.1).
const SYSCONFDIR: &str = "/usr/local/etc/postgresql";

/// libpq reads service files with `fgets` into a 256-byte buffer and refuses a line that
/// fills it (255 bytes or more, counting the newline).
const MAX_LINE: usize = 255;

/// Applies the service named by `service` or `PGSERVICE`, if any, to `options`.
pub(super) fn apply(
    options: &mut BTreeMap<String, String>,
    env: &Env,
    home: Option<&str>,
) -> Result<(), ConnInfoError> {
    let Some(service) = options
        .get("service")
        .cloned()
        .or_else(|| env.get("PGSERVICE").map(str::to_owned))
    else {
        return Ok(());
    };
    let mut found = false;
    let first = match env.get("PGSERVICEFILE") {
        Some(file) => Some(file.to_owned()),
        None => home
            .map(|h| format!("{h}/.pg_service.conf"))
            .filter(|f| std::fs::metadata(f).is_ok()),
    };
    if let Some(file) = first {
        parse_file(&file, &service, options, &mut found)?;
        if found {
            return Ok(());
        }
    }
    let dir = env.get("PGSYSCONFDIR").unwrap_or(SYSCONFDIR);
    let file = format!("{dir}/pg_service.conf");
    if std::fs::metadata(&file).is_ok() {
        parse_file(&file, &service, options, &mut found)?;
    }
    if found {
        Ok(())
    } else {
        Err(ConnInfoError::ServiceNotFound(service))
    }
}

fn parse_file(
    file: &str,
    service: &str,
    options: &mut BTreeMap<String, String>,
    found: &mut bool,
) -> Result<(), ConnInfoError> {
    let contents =
        std::fs::read(file).map_err(|_| ConnInfoError::ServiceFileNotFound(file.to_owned()))?;
    parse_contents(&contents, file, service, options, found)
}

fn parse_contents(
    contents: &[u8],
    file: &str,
    service: &str,
    options: &mut BTreeMap<String, String>,
    found: &mut bool,
) -> Result<(), ConnInfoError> {
    let mut rest = contents;
    let mut line_no = 0usize;
    while !rest.is_empty() {
        line_no += 1;
        // One `fgets`: up to and including a newline, at most MAX_LINE bytes.
        let len = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |n| n + 1)
            .min(MAX_LINE);
        let (raw, after) = rest.split_at(len);
        rest = after;
        if raw.len() >= MAX_LINE {
            return Err(ConnInfoError::ServiceLineTooLong {
                file: file.to_owned(),
                line: line_no,
            });
        }
        let line = trim(raw);
        if line.is_empty() || line.first() == Some(&b'#') {
            continue;
        }
        if line.first() == Some(&b'[') {
            if *found {
                return Ok(());
            }
            let name = service.as_bytes();
            *found = line.get(1..).is_some_and(|l| l.starts_with(name))
                && line.get(name.len() + 1) == Some(&b']');
            continue;
        }
        if !*found {
            continue;
        }
        let syntax = || ConnInfoError::ServiceSyntax {
            file: file.to_owned(),
            line: line_no,
        };
        let eq = line.iter().position(|&b| b == b'=').ok_or_else(syntax)?;
        let (key, value) = line.split_at(eq);
        let key = String::from_utf8_lossy(key).into_owned();
        let value = String::from_utf8_lossy(value.get(1..).unwrap_or_default()).into_owned();
        if key == "service" {
            return Err(ConnInfoError::NestedService {
                file: file.to_owned(),
                line: line_no,
            });
        }
        if !is_keyword(&key) {
            return Err(syntax());
        }
        options.entry(key).or_insert(value);
    }
    Ok(())
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_c_space(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_c_space(*last) {
            break;
        }
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        contents: &str,
        service: &str,
    ) -> (Result<(), ConnInfoError>, BTreeMap<String, String>, bool) {
        let mut opts = BTreeMap::new();
        opts.insert("port".to_owned(), "1".to_owned());
        let mut found = false;
        let r = parse_contents(contents.as_bytes(), "/f", service, &mut opts, &mut found);
        (r, opts, found)
    }

    #[test]
    fn sections() {
        let file =
            "# c\n[other]\nhost=o\n  [svc]  \n host=h \nport=2\ndbname=a=b\n[next]\nuser=x\n";
        let (r, opts, found) = run(file, "svc");
        assert_eq!(r, Ok(()));
        assert!(found);
        assert_eq!(opts.get("host").map(String::as_str), Some("h"));
        assert_eq!(
            opts.get("port").map(String::as_str),
            Some("1"),
            "given values win"
        );
        assert_eq!(opts.get("dbname").map(String::as_str), Some("a=b"));
        assert_eq!(opts.get("user"), None);
        let (r, _, found) = run(file, "nope");
        assert_eq!(r, Ok(()));
        assert!(!found);
        // libpq compares only the name's length before the `]`... and then wants `]`.
        let (_, _, found) = run("[svc]trailing\nhost=h\n", "svc");
        assert!(found);
        let (_, _, found) = run("[svcx]\nhost=h\n", "svc");
        assert!(!found);
    }

    #[test]
    fn errors() {
        let (r, _, _) = run("[s]\nhost\n", "s");
        assert_eq!(
            r.unwrap_err().to_string(),
            "syntax error in service file \"/f\", line 2"
        );
        let (r, _, _) = run("[s]\nhost = x\n", "s");
        assert_eq!(
            r.unwrap_err().to_string(),
            "syntax error in service file \"/f\", line 2"
        );
        let (r, _, _) = run("[s]\n\nservice=t\n", "s");
        assert_eq!(
            r.unwrap_err().to_string(),
            "nested service specifications not supported in service file \"/f\", line 3"
        );
        let long = format!("[s]\nhost={}\n", "x".repeat(249));
        let (r, _, _) = run(&long, "s");
        assert_eq!(
            r.unwrap_err().to_string(),
            "line 2 too long in service file \"/f\""
        );
        let ok = format!("[s]\nhost={}\n", "x".repeat(248));
        let (r, _, _) = run(&ok, "s");
        assert_eq!(r, Ok(()));
        // Lines of other sections are not checked.
        let (r, _, _) = run("[t]\ngarbage\n", "s");
        assert_eq!(r, Ok(()));
    }
}
