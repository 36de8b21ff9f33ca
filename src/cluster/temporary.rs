//! The names of the databases pgcluster makes for a moment (an `overwrite`'s new copy and
//! the old database while it is being replaced), and recognising them when interrupted work
//! left one behind.
//!
//! **Stable contract.** pgcluster names such a database, and only such a database,
//!
//! ```text
//! pgcluster_<role>_<pid>_<n>_<salt>
//! ```
//!
//! where `<role>` is `new` or `old`, `<pid>` is the process id of the program that made it
//! and `<n>` a counter within that process (both decimal, as Rust prints a `u32`: no sign,
//! no leading zero), and `<salt>` is 8 lower-case hexadecimal digits. [`is_temporary_name`]
//! accepts exactly these names, and `Cluster::leftovers` / `Cluster::cleanup` and
//! `pgcluster cleanup` act on nothing else.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};

/// The prefix every temporary name starts with.
const PREFIX: &str = "pgcluster_";

/// What a temporary database holds during an `overwrite`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The new copy, before it takes the name.
    New,
    /// The database being replaced, after it gave up the name.
    Old,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Old => "old",
        }
    }
}

/// A temporary name's parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TemporaryName {
    role: Role,
    pid: u32,
    n: u32,
    salt: u32,
}

impl fmt::Display for TemporaryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}{}_{}_{}_{:08x}",
            self.role.as_str(),
            self.pid,
            self.n,
            self.salt
        )
    }
}

/// A new temporary name for `role`, unique to this process.
pub(crate) fn new_name(role: Role) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut random = [0u8; 4];
    let salt = crate::random::fill(&mut random).map_or(0, |()| u32::from_le_bytes(random));
    TemporaryName {
        role,
        pid: std::process::id(),
        n,
        salt,
    }
    .to_string()
}

/// Whether `name` is one pgcluster makes for a temporary database (an `overwrite`'s):
///
/// ```text
/// pgcluster_<role>_<pid>_<n>_<salt>
/// ```
///
/// `<role>` is `new` or `old`; `<pid>` (the process id) and `<n>` (a counter in that
/// process) are decimal as Rust prints a `u32` (no sign, no leading zero); `<salt>` is 8
/// lower-case hexadecimal digits. This is a stable contract: pgcluster names no other
/// database so, and `Cluster::leftovers`, `Cluster::cleanup` and `pgcluster cleanup` act
/// on these names only. `pgcluster_new_2690_0_a650f1d0` is one; `pgcluster_new_x`,
/// `pgcluster_new_1_2_3` and `pgcluster_new_01_2_a650f1d0` are not.
pub fn is_temporary_name(name: &str) -> bool {
    parse(name).is_some()
}

fn parse(name: &str) -> Option<TemporaryName> {
    let rest = name.strip_prefix(PREFIX)?;
    let (role, rest) = rest.split_once('_')?;
    let role = match role {
        "new" => Role::New,
        "old" => Role::Old,
        _ => return None,
    };
    let mut parts = rest.split('_');
    let pid = decimal(parts.next()?)?;
    let n = decimal(parts.next()?)?;
    let salt = parts.next()?;
    if parts.next().is_some()
        || salt.len() != 8
        || !salt.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let salt = u32::from_str_radix(salt, 16).ok()?;
    Some(TemporaryName { role, pid, n, salt })
}

/// A `u32` written as Rust writes it: ASCII digits, no sign, no leading zero.
fn decimal(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_made_are_recognised_and_round_trip() {
        for role in [Role::New, Role::Old] {
            let name = new_name(role);
            let parsed = parse(&name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(parsed.role, role);
            assert_eq!(parsed.pid, std::process::id());
            assert_eq!(parsed.to_string(), name);
            assert!(name.len() <= 63);
        }
        let widest = TemporaryName {
            role: Role::Old,
            pid: u32::MAX,
            n: u32::MAX,
            salt: u32::MAX,
        }
        .to_string();
        assert_eq!(widest, "pgcluster_old_4294967295_4294967295_ffffffff");
        assert!(is_temporary_name(&widest));
        assert!(is_temporary_name("pgcluster_new_2690_0_a650f1d0"));
        assert!(is_temporary_name("pgcluster_old_1_0_00000000"));
    }

    #[test]
    fn look_alikes_are_not_temporary_names() {
        for name in [
            "",
            "pgcluster_new_x",
            "pgcluster_new_1_2_3",
            "pgcluster_new_1_2_a650f1d",
            "pgcluster_new_1_2_a650f1d00",
            "pgcluster_new_1_2_A650F1D0",
            "pgcluster_new_01_2_a650f1d0",
            "pgcluster_new_1_02_a650f1d0",
            "pgcluster_new_+1_2_a650f1d0",
            "pgcluster_new__2_a650f1d0",
            "pgcluster_new_4294967296_2_a650f1d0",
            "pgcluster_new_1_2_a650f1d0_",
            "pgcluster_new_1_2_a650f1d0_x",
            "pgcluster_mid_1_2_a650f1d0",
            "pgcluster_NEW_1_2_a650f1d0",
            "Pgcluster_new_1_2_a650f1d0",
            "xpgcluster_new_1_2_a650f1d0",
            "pgcluster_new_1_2_a650f1d0 ",
            "pgcluster_new_1_2_a650f1d0\n",
            "pgcluster_new_١_2_a650f1d0",
        ] {
            assert!(!is_temporary_name(name), "{name:?}");
        }
    }
}
