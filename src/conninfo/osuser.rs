//! The operating-system user, found the way libpq 13 finds it: the effective user ID
//! (`geteuid`), looked up in the password database (`getpwuid_r`). Here without libc: the
//! ID comes from `/proc/<pid>/status`, the entry from `/etc/passwd`. The throwaway servers
//! of `testing` look users up here too.

/// The effective user ID of this process.
pub(crate) fn effective_uid() -> Option<u32> {
    effective_uid_of("self")
}

/// The effective user ID of process `pid` (a number, or `self`), from the `Uid:` line of
/// `/proc/<pid>/status` (real, effective, saved, filesystem).
pub(crate) fn effective_uid_of(pid: &str) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    uid_from_status(&status)
}

/// The user name and home directory of `uid`, from `/etc/passwd`.
pub(crate) fn passwd_entry(uid: u32) -> Option<(String, String)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let entry = entries(&passwd).find(|e| e.uid == uid)?;
    Some((entry.name.to_owned(), entry.home.to_owned()))
}

/// The user ID and group ID of the user `name`, from `/etc/passwd`.
#[cfg(feature = "testing")]
pub(crate) fn passwd_ids(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let entry = entries(&passwd).find(|e| e.name == name)?;
    Some((entry.uid, entry.gid))
}

fn uid_from_status(status: &str) -> Option<u32> {
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// One well-formed line of `/etc/passwd`.
#[derive(Debug, PartialEq, Eq)]
struct Entry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

/// The well-formed lines of `/etc/passwd` (a name, numeric IDs, a home field).
fn entries(passwd: &str) -> impl Iterator<Item = Entry<'_>> {
    passwd.lines().filter_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.as_slice() {
            [name, _, uid, gid, _, home, ..] if !name.is_empty() => Some(Entry {
                name,
                uid: uid.parse().ok()?,
                gid: gid.parse().ok()?,
                home,
            }),
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
                      broken:x:notanumber:1::/:\n\
                      :x:5:5::/:\n\
                      postgres:x:102:105:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash\n";
        let all: Vec<Entry> = entries(passwd).collect();
        assert_eq!(
            all,
            [
                Entry {
                    name: "root",
                    uid: 0,
                    gid: 0,
                    home: "/root"
                },
                Entry {
                    name: "postgres",
                    uid: 102,
                    gid: 105,
                    home: "/var/lib/postgresql"
                }
            ]
        );
    }

    #[test]
    fn this_process_has_a_user() {
        // Every process has an effective user ID, and it is this process's.
        assert!(effective_uid().is_some());
        let pid = std::process::id().to_string();
        assert_eq!(effective_uid_of(&pid), effective_uid());
        assert_eq!(effective_uid_of("0"), None);
    }
}
