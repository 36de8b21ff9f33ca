//! A scratch directory for one test, removed when it drops (also when the test panics).
//!
//! Include it with `#[path = "support/scratch.rs"] mod scratch;`. Each directory is new:
//! its name holds the tag, the process id and a counter, so tests of one binary running at
//! once, and several binaries, never share one.
#![allow(dead_code, unreachable_pub)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A directory under the system's temporary directory, removed with everything in it on
/// drop.
pub struct Scratch(PathBuf);

impl Scratch {
    /// A new empty directory named for `tag`.
    pub fn new(tag: &str) -> Self {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("pgc-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Self(dir)
    }

    /// Writes `text` to the file `name` in the directory; returns its path.
    pub fn file(&self, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write a scratch file");
        path
    }

    /// Writes `text` to the file `name` with permissions `mode` (e.g. `0o600`, as libpq
    /// wants of a password file); returns its path as a string.
    pub fn file_with_mode(&self, name: &str, text: impl AsRef<[u8]>, mode: u32) -> String {
        let path = self.file(name, text);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        path.to_str().expect("a UTF-8 temporary path").to_owned()
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The directory's path as a string (for a setting or an argument).
    pub fn path_str(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temporary path")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
