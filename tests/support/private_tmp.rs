//! A temporary directory of one test's own, given to a child process as its `TMPDIR`, so
//! that the throwaway servers (and poolers) a killed child leaves behind are found by this
//! test's sweep alone. Without it, another test run on the machine could sweep them first:
//! every process's first server start sweeps `/tmp`, and CI runs two suites at once.
//!
//! Include it with `#[path = "support/private_tmp.rs"] mod private_tmp;`, and give the
//! binary the child test its sweeps run in:
//!
//! ```ignore
//! #[test]
//! fn sweep_child() {
//!     private_tmp::sweep_child();
//! }
//! ```
#![allow(dead_code, unreachable_pub)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Set in the child that runs the sweep.
const SWEEP_CHILD_VAR: &str = "PGCLUSTER_TEST_SWEEP_CHILD";

/// A directory under `/tmp`, to be a child's `TMPDIR`; on drop, whatever a failed test
/// left in it is swept (servers stopped), then it is removed.
pub struct PrivateTmp(PathBuf);

impl PrivateTmp {
    /// A new empty directory named for `tag`, with `/tmp`'s mode 1777: when the tests run
    /// as root, servers run as `postgres`, whose directories go in it, and the sweep
    /// removes them as that user.
    pub fn new(tag: &str) -> Self {
        let dir = PathBuf::from(format!("/tmp/pgc-tmp-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).expect("private TMPDIR");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `pgcluster::testing::sweep_servers()` as a process with this `TMPDIR` runs it (in
    /// this binary's `sweep_child` test): what it removed, here and in `/tmp`.
    pub fn sweep(&self) -> Vec<PathBuf> {
        let output = self.sweep_child().output().expect("sweep child runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("\nswept\n"),
            "sweep child: {output:?}"
        );
        stdout
            .lines()
            .filter_map(|l| l.strip_prefix("removed="))
            .map(PathBuf::from)
            .collect()
    }

    fn sweep_child(&self) -> Command {
        let mut child = Command::new(std::env::current_exe().expect("test binary"));
        child
            .args(["sweep_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(SWEEP_CHILD_VAR, "1")
            .env("TMPDIR", &self.0);
        child
    }
}

impl Drop for PrivateTmp {
    fn drop(&mut self) {
        // What a failed test left: stopped and removed, without asserting (this may run
        // while the test panics).
        if std::fs::read_dir(&self.0).is_ok_and(|mut d| d.next().is_some()) {
            let _ = self.sweep_child().output();
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The body of the binary's `sweep_child` test: in the child `PrivateTmp::sweep` starts,
/// sweeps and prints each directory removed; elsewhere nothing.
pub fn sweep_child() {
    if std::env::var_os(SWEEP_CHILD_VAR).is_none() {
        return;
    }
    let removed = pgcluster::testing::sweep_servers().expect("servers swept");
    // After the harness's `test sweep_child ... `.
    println!();
    for dir in removed {
        println!("removed={}", dir.display());
    }
    println!("swept");
}
