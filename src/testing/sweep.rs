//! Throwaway servers left behind by runs that were killed, swept by a later run.
//!
//! Normally the guardian stops a server whose owner is gone. When the guardian was killed
//! too (a whole process tree killed with SIGKILL, say), the postmaster runs on and the
//! private directory stays. Each private directory therefore holds a file `owner` with the
//! [owner records](super::owner) of the process that made it and of its guardian; the first
//! server a process starts (and [`sweep_servers`]) sweeps every directory that is
//!
//! - in `$TMPDIR`, `/dev/shm` or `/tmp` and named `pgcluster-test-<pid>-<n>-<hex>`,
//! - a directory (not a symlink) owned by the user the servers run as,
//! - with an `owner` file naming that `<pid>`, whose owner and guardian are both gone.
//!
//! Its postmaster (the process named in `postmaster.pid`, if it is a `postgres` of that
//! user working in that data directory) is stopped (`SIGQUIT`, an immediate shutdown), so
//! is a [`PgBouncer`](super::PgBouncer)'s `pgbouncer` (named in `pgbouncer.pid`, if it is a
//! `pgbouncer` of that user working in that directory: `SIGTERM`), and the directory is
//! removed, as that user. Nothing else is ever touched.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Once;

use super::os::{temp_bases, wait_exited, RunAs, REAP_BOUND};
use super::owner::Owner;
use super::Error;
use crate::conninfo::osuser;

/// The file with the owner records in a private directory.
pub(super) const OWNER_FILE: &str = "owner";
/// The start of a private directory's name.
pub(super) const DIR_PREFIX: &str = "pgcluster-test-";

/// The text of a private directory's `owner` file: this process's record, then the
/// guardian's (empty where `/proc` does not tell).
pub(super) fn server_record(guardian: u32) -> String {
    let line = |owner: Option<Owner>| owner.map(|o| o.record()).unwrap_or_default();
    format!(
        "{}\n{}\n",
        line(Owner::current().cloned()),
        line(Owner::of(guardian))
    )
}

/// Sweeps the servers of gone owners once per process (the first server started does).
pub(super) fn sweep_once(run_as: &RunAs) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = sweep_as(run_as);
    });
}

/// Stops and removes the throwaway servers that runs killed with their guardians left
/// behind (see the [module documentation](super) of `testing`, "Crash safety"), and
/// returns the private directories removed. The first [`TestServer`](super::TestServer)
/// a process starts does this too.
///
/// ```
/// let removed = pgcluster::testing::sweep_servers()?;
/// for dir in removed {
///     println!("removed a server left behind: {}", dir.display());
/// }
/// # Ok::<(), pgcluster::testing::Error>(())
/// ```
pub fn sweep_servers() -> Result<Vec<PathBuf>, Error> {
    sweep_as(&RunAs::detect()?)
}

fn sweep_as(run_as: &RunAs) -> Result<Vec<PathBuf>, Error> {
    let uid = match run_as {
        RunAs::Postgres { uid, .. } => *uid,
        RunAs::Me => {
            let Some(uid) = osuser::effective_uid() else {
                return Ok(Vec::new());
            };
            uid
        }
    };
    let bases = temp_bases();
    let mut removed = Vec::new();
    for base in bases {
        // The base is not theirs: resolving it follows nothing they made.
        let Ok(base) = fs::canonicalize(&base) else {
            continue;
        };
        let Ok(entries) = fs::read_dir(&base) else {
            continue;
        };
        for entry in entries.flatten() {
            let dir = entry.path();
            if removed.contains(&dir) {
                continue;
            }
            if sweep_dir(run_as, uid, &dir)? {
                removed.push(dir);
            }
        }
    }
    Ok(removed)
}

/// The `<pid>` of a private directory's name `pgcluster-test-<pid>-<n>-<hex>`.
pub(super) fn dir_pid(name: &str) -> Option<u32> {
    let mut parts = name.strip_prefix(DIR_PREFIX)?.split('-');
    let pid = parts.next()?;
    let n = parts.next()?;
    let hex = parts.next()?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let ok = digits(pid)
        && digits(n)
        && !hex.is_empty()
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && parts.next().is_none();
    ok.then(|| pid.parse().ok()).flatten()
}

/// Sweeps `dir` if it is a server directory of a gone owner; whether it did.
fn sweep_dir(run_as: &RunAs, uid: u32, dir: &Path) -> Result<bool, Error> {
    let Some(pid) = dir.file_name().and_then(|n| n.to_str()).and_then(dir_pid) else {
        return Ok(false);
    };
    let ours = fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir() && m.uid() == uid);
    if !ours {
        return Ok(false);
    }
    let Some(record) = run_as.read_file(&dir.join(OWNER_FILE)) else {
        return Ok(false);
    };
    let record = String::from_utf8_lossy(&record);
    let mut lines = record.lines();
    let owner = lines.next().and_then(Owner::parse);
    if !owner.is_some_and(|o| o.pid() == pid && o.is_gone()) {
        return Ok(false);
    }
    // A guardian still running is cleaning up itself.
    if let Some(guardian) = lines.next().and_then(Owner::parse) {
        if !guardian.is_gone() {
            return Ok(false);
        }
    }
    stop_postmaster(run_as, uid, &dir.join("data"));
    stop_pgbouncer(run_as, uid, dir);
    let status = run_as
        .command(
            Path::new("rm"),
            [OsStr::new("-rf"), OsStr::new("--"), dir.as_os_str()],
        )
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| Error::io("run", "rm", &e))?;
    Ok(status.success() && fs::symlink_metadata(dir).is_err())
}

/// Stops the postmaster of `data`, if the pid in its `postmaster.pid` is a `postgres`
/// process of `uid` working in `data` (so that a reused pid is never signalled), and waits
/// until it has exited.
fn stop_postmaster(run_as: &RunAs, uid: u32, data: &Path) {
    let Some(text) = run_as.read_file(&data.join("postmaster.pid")) else {
        return;
    };
    let Some(pid) = String::from_utf8_lossy(&text)
        .lines()
        .next()
        .and_then(|l| l.trim().parse::<u32>().ok())
    else {
        return;
    };
    if !is_postmaster_of(pid, uid, data) {
        return;
    }
    // An immediate shutdown.
    signal_and_wait(pid, "-QUIT");
}

/// Stops the [`PgBouncer`](super::PgBouncer) of private directory `dir`, if the pid in its
/// `pgbouncer.pid` is a `pgbouncer` process of `uid` working in `dir` (so that a reused pid
/// is never signalled), and waits until it has exited.
fn stop_pgbouncer(run_as: &RunAs, uid: u32, dir: &Path) {
    let Some(text) = run_as.read_file(&dir.join("pgbouncer.pid")) else {
        return;
    };
    let Ok(pid) = String::from_utf8_lossy(&text).trim().parse::<u32>() else {
        return;
    };
    if !is_process_of(pid, "pgbouncer", uid, dir) {
        return;
    }
    signal_and_wait(pid, "-TERM");
}

/// Sends `signal` (`kill`'s flag) to `pid`, then waits until it has exited (bounded).
fn signal_and_wait(pid: u32, signal: &str) {
    let signalled = Command::new("kill")
        .args([signal, &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if signalled {
        wait_exited(pid, REAP_BOUND);
    }
}

/// Whether process `pid` is a `postgres` of `uid` whose working directory is `data`.
fn is_postmaster_of(pid: u32, uid: u32, data: &Path) -> bool {
    is_process_of(pid, "postgres", uid, data)
}

/// Whether process `pid` is a `program` of `uid` whose working directory is `dir`.
fn is_process_of(pid: u32, program: &str, uid: u32, dir: &Path) -> bool {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let comm = fs::read_to_string(proc.join("comm")).unwrap_or_default();
    let cwd = fs::read_link(proc.join("cwd")).ok();
    comm.trim() == program
        && osuser::effective_uid_of(&pid.to_string()) == Some(uid)
        && cwd.as_deref() == Some(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_private_directory_names_are_recognised() {
        assert_eq!(dir_pid("pgcluster-test-1234-0-1a2b"), Some(1234));
        assert_eq!(dir_pid("pgcluster-test-1-22-f"), Some(1));
        for name in [
            "pgcluster-test-1234-0",
            "pgcluster-test-1234-0-",
            "pgcluster-test-x-0-1a",
            "pgcluster-test-1234-0-1a-x",
            "pgcluster-test-1234-0-xyz",
            "pgcluster-tests-1234-0-1a",
            "pgcluster-unit-1234",
            "other-1234-0-1a",
        ] {
            assert_eq!(dir_pid(name), None, "{name}");
        }
    }
}
