//! Who made a database or a throwaway server, recorded so that a later run can tell
//! whether its maker is gone (a run killed with SIGKILL leaves what it made behind).
//!
//! A process is named by its pid and its start time (field 22 of `/proc/<pid>/stat`, in
//! clock ticks since boot), so that another process given the same pid later is not taken
//! for it; and by the kernel's boot id and the inode of its pid namespace, so that a pid is
//! only ever looked up where it means the same process (not after a reboot, not in another
//! container, not on another machine sharing the database server).

use std::fs;
use std::sync::OnceLock;

/// The first word of a record.
const TAG: &str = "pgcluster-owner";

/// A process, named so that it can be told apart from any later one with its pid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Owner {
    /// `/proc/sys/kernel/random/boot_id`.
    boot: String,
    /// The inode of `/proc/<pid>/ns/pid`.
    pidns: u64,
    pid: u32,
    /// Field 22 of `/proc/<pid>/stat`.
    start: u64,
}

impl Owner {
    /// This process (`None` where `/proc` does not tell: then nothing is recorded, and
    /// nothing is ever swept).
    pub(super) fn current() -> Option<&'static Owner> {
        static CURRENT: OnceLock<Option<Owner>> = OnceLock::new();
        CURRENT
            .get_or_init(|| Self::of(std::process::id()))
            .as_ref()
    }

    /// The running process `pid` of this pid namespace, if there is one.
    pub(super) fn of(pid: u32) -> Option<Owner> {
        let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        Some(Owner {
            boot: boot.trim().to_owned(),
            pidns: pid_namespace()?,
            pid,
            start: stat(pid)?.start,
        })
    }

    /// The record: `pgcluster-owner boot=<id> pidns=<inode> pid=<pid> start=<ticks>`.
    pub(super) fn record(&self) -> String {
        format!(
            "{TAG} boot={} pidns={} pid={} start={}",
            self.boot, self.pidns, self.pid, self.start
        )
    }

    /// The owner in a [record](Self::record) (`None` for any other text).
    pub(super) fn parse(text: &str) -> Option<Owner> {
        let mut words = text.trim().split(' ');
        if words.next() != Some(TAG) {
            return None;
        }
        let mut field = |name: &str| {
            words
                .next()?
                .strip_prefix(name)?
                .strip_prefix('=')
                .map(str::to_owned)
        };
        let owner = Owner {
            boot: field("boot")?,
            pidns: field("pidns")?.parse().ok()?,
            pid: field("pid")?.parse().ok()?,
            start: field("start")?.parse().ok()?,
        };
        words.next().is_none().then_some(owner)
    }

    /// The owner's pid.
    pub(super) fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the owner is known to be gone: it lived in this boot and pid namespace, and
    /// no process of its pid and start time runs now. `false` whenever that cannot be told
    /// (another machine, container or boot): what it made is left alone.
    pub(super) fn is_gone(&self) -> bool {
        let Some(me) = Self::current() else {
            return false;
        };
        if self.boot != me.boot || self.pidns != me.pidns {
            return false;
        }
        // A zombie has exited: it holds nothing any more.
        stat(self.pid).filter(|s| !s.exited()).map(|s| s.start) != Some(self.start)
    }
}

/// The inode of this process's pid namespace (`pid:[4026531836]`).
fn pid_namespace() -> Option<u64> {
    let link = fs::read_link("/proc/self/ns/pid").ok()?;
    let link = link.to_str()?;
    link.strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok()
}

/// What `/proc/<pid>/stat` tells of a process, read once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stat {
    /// Field 3: `R`, `S`, `D`, `Z` (zombie), `X` (dead), ...
    state: char,
    /// Field 22: when the process started, in clock ticks since boot.
    start: u64,
}

impl Stat {
    /// Whether the process has exited (a zombie that only its parent has yet to reap, or
    /// dead).
    pub(super) fn exited(self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

/// The state and start time of process `pid`, if it exists.
pub(super) fn stat(pid: u32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &str) -> Option<Stat> {
    // The command name (field 2) is in parentheses and may hold spaces and parentheses.
    let rest = text.get(text.rfind(')')?.checked_add(1)?..)?;
    // `rest` starts at field 3.
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some(Stat { state, start })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse() {
        let line = "42 (a) (b c) Z 1 42 42 0 -1 4194560 97 0 0 0 0 0 0 0 20 0 1 0 \
                    12345 0 0 18446744073709551615";
        let zombie = parse_stat(line).unwrap();
        assert_eq!(
            zombie,
            Stat {
                state: 'Z',
                start: 12345
            }
        );
        assert!(zombie.exited());
        assert!(!parse_stat(&line.replace(" Z ", " S ")).unwrap().exited());
        assert_eq!(parse_stat("42 (a) S 1 2"), None);
        assert_eq!(parse_stat("no parenthesis"), None);
        let me = stat(std::process::id()).unwrap();
        assert!(!me.exited());
    }

    #[test]
    fn records_round_trip_and_nothing_else_parses() {
        let me = Owner::current().expect("/proc tells");
        assert_eq!(me.pid(), std::process::id());
        assert_eq!(Owner::parse(&me.record()).as_ref(), Some(me));
        assert!(!me.is_gone());
        for text in [
            "",
            "pgcluster-owner",
            "someone boot=a pidns=1 pid=2 start=3",
            "pgcluster-owner boot=a pidns=1 pid=2",
            "pgcluster-owner boot=a pidns=1 pid=2 start=3 more=4",
            "pgcluster-owner boot=a pidns=x pid=2 start=3",
            "pgcluster-owner pidns=1 boot=a pid=2 start=3",
        ] {
            assert_eq!(Owner::parse(text), None, "{text}");
        }
        assert_eq!(
            Owner::parse("pgcluster-owner boot=a-b pidns=1 pid=2 start=3\n"),
            Some(Owner {
                boot: "a-b".into(),
                pidns: 1,
                pid: 2,
                start: 3
            })
        );
    }

    #[test]
    fn a_reused_pid_or_an_exited_process_is_gone_and_elsewhere_is_unknown() {
        let me = Owner::current().expect("/proc tells").clone();
        // The same pid, started at another time: another process.
        let reused = Owner {
            start: me.start + 1,
            ..me.clone()
        };
        assert!(reused.is_gone());
        let mut child = std::process::Command::new("true").spawn().expect("true");
        let exited = Owner::of(child.id()).expect("the child runs or is a zombie");
        child.wait().expect("reaped");
        assert!(exited.is_gone());
        // Another boot or pid namespace: cannot tell, so not gone.
        let other_boot = Owner {
            boot: "another".into(),
            ..reused.clone()
        };
        assert!(!other_boot.is_gone());
        let other_ns = Owner {
            pidns: me.pidns + 1,
            ..reused
        };
        assert!(!other_ns.is_gone());
    }
}
