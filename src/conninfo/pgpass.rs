//! The password file (`~/.pgpass`, `PGPASSFILE`, `passfile`), read as libpq 13's
//! `passwordFromFile` reads it.
//!
//! Lines are `hostname:port:database:username:password`; `*` matches anything, `\` escapes
//! `:` and `\`, lines starting with `#` are comments. The host `localhost` also matches the
//! default socket directory (and an empty host). A file that is not a plain file, or that
//! the group or others may access, is ignored with a warning.

use pgcluster_protocol::secret::wipe_vec;

use super::Password;
use std::os::unix::fs::PermissionsExt;

use super::{DEFAULT_PORT, DEFAULT_SOCKET_DIR};

/// What looking up a password in the file gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Lookup {
    /// The password of the first matching line.
    Found(Password),
    /// No file, no matching line, or nothing to look up.
    NotFound,
    /// The file was ignored; libpq's warning text (without the final newline).
    Ignored(String),
}

/// The key libpq matches the file against.
pub(super) struct Key<'a> {
    /// `host`, else `hostaddr` (may be empty).
    pub(super) host: &'a str,
    /// The port text (may be empty).
    pub(super) port: &'a str,
    /// Database name.
    pub(super) dbname: &'a str,
    /// User name.
    pub(super) user: &'a str,
}

/// Looks up `key` in the password file at `path`.
pub(super) fn lookup(path: &str, key: &Key<'_>) -> Lookup {
    if key.dbname.is_empty() || key.user.is_empty() {
        return Lookup::NotFound;
    }
    let host = if key.host.is_empty() || key.host == DEFAULT_SOCKET_DIR {
        "localhost"
    } else {
        key.host
    };
    let port = if key.port.is_empty() {
        DEFAULT_PORT
    } else {
        key.port
    };
    // As libpq: a file that cannot be opened is ignored; the checks are made on the file
    // opened (fstat), so what is read is what was checked.
    let Ok(mut file) = std::fs::File::open(path) else {
        return Lookup::NotFound;
    };
    let Ok(meta) = file.metadata() else {
        return Lookup::NotFound;
    };
    if !meta.is_file() {
        return Lookup::Ignored(format!(
            "WARNING: password file \"{path}\" is not a plain file"
        ));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Lookup::Ignored(format!(
            "WARNING: password file \"{path}\" has group or world access; \
             permissions should be u=rw (0600) or less"
        ));
    }
    let mut contents = Vec::new();
    if std::io::Read::read_to_end(&mut file, &mut contents).is_err() {
        return Lookup::NotFound;
    }
    let found = find(&contents, [host, port, key.dbname, key.user]);
    // The file holds every password in it, not only the one looked for.
    wipe_vec(&mut contents);
    match found {
        Some(p) => Lookup::Found(Password::from(p)),
        None => Lookup::NotFound,
    }
}

/// The password of the first line of `contents` matching the four fields.
fn find(contents: &[u8], fields: [&str; 4]) -> Option<String> {
    for line in contents.split(|&b| b == b'\n') {
        if line.first() == Some(&b'#') {
            continue;
        }
        let mut end = line.len();
        while end > 0 && matches!(line.get(end - 1), Some(b'\r' | b'\n')) {
            end -= 1;
        }
        let mut rest = line.get(..end)?;
        if rest.is_empty() {
            continue;
        }
        let mut matched = true;
        for field in fields {
            match match_field(rest, field.as_bytes()) {
                Some(r) => rest = r,
                None => {
                    matched = false;
                    break;
                }
            }
        }
        if matched {
            return Some(unescape_password(rest));
        }
    }
    None
}

/// libpq's `pwdfMatchesString`: the rest of the line after a field matching `token`.
fn match_field<'a>(buf: &'a [u8], token: &[u8]) -> Option<&'a [u8]> {
    if buf.starts_with(b"*:") {
        return buf.get(2..);
    }
    let mut t = 0usize;
    let mut k = 0usize;
    let mut bslash = false;
    while t < buf.len() {
        if buf.get(t) == Some(&b'\\') && !bslash {
            t += 1;
            bslash = true;
        }
        let c = buf.get(t);
        if c == Some(&b':') && k == token.len() && !bslash {
            return buf.get(t + 1..);
        }
        bslash = false;
        let want = token.get(k)?;
        if c == Some(want) {
            t += 1;
            k += 1;
        } else {
            return None;
        }
    }
    None
}

/// The password field: up to an unescaped `:`, with `\x` read as `x`.
fn unescape_password(field: &[u8]) -> String {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0usize;
    while let Some(&c) = field.get(i) {
        if c == b':' {
            break;
        }
        let mut c = c;
        if c == b'\\' {
            if let Some(&next) = field.get(i + 1) {
                i += 1;
                c = next;
            }
        }
        out.push(c);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &[u8] = b"# comment\n\
        h1:5432:db:u:plain\n\
        h2:*:*:u:any\\:colon\\\\back:ignored\n\
        we\\:ird:1:db:u:escaped-host\r\n\
        localhost:5432:db:u:local\n\
        *:*:*:*:fallback";

    fn f(host: &str, port: &str, db: &str, user: &str) -> Option<String> {
        find(FILE, [host, port, db, user])
    }

    #[test]
    fn matching() {
        assert_eq!(f("h1", "5432", "db", "u").as_deref(), Some("plain"));
        assert_eq!(f("h2", "1", "x", "u").as_deref(), Some("any:colon\\back"));
        assert_eq!(f("we:ird", "1", "db", "u").as_deref(), Some("escaped-host"));
        assert_eq!(f("localhost", "5432", "db", "u").as_deref(), Some("local"));
        assert_eq!(f("h1", "5433", "db", "u").as_deref(), Some("fallback"));
        assert_eq!(find(b"h1:5432:db:u:pw", ["h1", "5432", "db", "v"]), None);
        assert_eq!(find(b"h1:5432:db:u", ["h1", "5432", "db", "u"]), None);
        assert_eq!(
            find(b"h1:5432:db:u:", ["h1", "5432", "db", "u"]).as_deref(),
            Some("")
        );
        assert_eq!(find(b"#h1:5432:db:u:x", ["#h1", "5432", "db", "u"]), None);
        assert_eq!(
            find(b"h:1:d:u:pw\\", ["h", "1", "d", "u"]).as_deref(),
            Some("pw\\")
        );
    }

    #[test]
    fn file_rules() {
        let dir = std::env::temp_dir().join(format!("pgc-pgpass-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pgpass");
        let p = path.to_str().unwrap();
        std::fs::write(&path, "localhost:5432:db:u:secret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let key = |host| Key {
            host,
            port: "",
            dbname: "db",
            user: "u",
        };
        assert_eq!(lookup(p, &key("")), Lookup::Found("secret".into()));
        assert_eq!(
            lookup(p, &key(DEFAULT_SOCKET_DIR)),
            Lookup::Found("secret".into())
        );
        assert_eq!(lookup(p, &key("/tmp")), Lookup::NotFound);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            lookup(p, &key("")),
            Lookup::Ignored(format!(
                "WARNING: password file \"{p}\" has group or world access; \
                 permissions should be u=rw (0600) or less"
            ))
        );
        let d = dir.to_str().unwrap();
        assert_eq!(
            lookup(d, &key("")),
            Lookup::Ignored(format!(
                "WARNING: password file \"{d}\" is not a plain file"
            ))
        );
        assert_eq!(lookup(&format!("{d}/missing"), &key("")), Lookup::NotFound);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
