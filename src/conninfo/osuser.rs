//! The operating-system user, found the way libpq 13 finds it: the effective user ID
//! (`geteuid`), looked up in the password database (`getpwuid_r`). Here without libc: the
//! ID comes from `/proc/self/status`, the entry from `/etc/passwd`.

/// The effective user ID, from the `Uid:` line of `/proc/self/status` (real, effective,
/// saved, filesystem).
pub(super) fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    uid_from_status(&status)
}

/// The user name and home directory of `uid`, from `/etc/passwd`.
pub(super) fn passwd_entry(uid: u32) -> Option<(String, String)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    entry_from_passwd(&passwd, uid)
}

fn uid_from_status(status: &str) -> Option<u32> {
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

fn entry_from_passwd(passwd: &str, uid: u32) -> Option<(String, String)> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.as_slice() {
            [name, _, id, _, _, home, ..] if id.parse() == Ok(uid) && !name.is_empty() => {
                Some(((*name).to_owned(), (*home).to_owned()))
            }
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_passwd() {
        let status = "Name:\tcat\nUid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n";
        assert_eq!(uid_from_status(status), Some(0));
        assert_eq!(uid_from_status("Name:\tx\n"), None);
        let passwd = "# comment\nroot:x:0:0:root:/root:/bin/bash\n\
                      postgres:x:102:105:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash\n";
        assert_eq!(
            entry_from_passwd(passwd, 102),
            Some(("postgres".to_owned(), "/var/lib/postgresql".to_owned()))
        );
        assert_eq!(
            entry_from_passwd(passwd, 0),
            Some(("root".to_owned(), "/root".to_owned()))
        );
        assert_eq!(entry_from_passwd(passwd, 7), None);
    }

    #[test]
    fn this_process_has_a_user() {
        // Every process has an effective user ID.
        assert!(effective_uid().is_some());
    }
}
