//! The names of fresh databases: `pgcluster_db_<pid>_<n>_<thread name>`, which say whose
//! each one is (the sweep reads them back).

use std::sync::atomic::{AtomicU64, Ordering};

/// The prefix of every fresh database's name.
pub const FRESH_PREFIX: &str = "pgcluster_db_";
/// PostgreSQL's longest name, in bytes.
const MAX_NAME_LEN: usize = 63;

/// A new name for a fresh database of this process and thread.
pub(super) fn fresh_name() -> String {
    let thread = std::thread::current();
    fresh_name_with(thread.name().unwrap_or("thread"))
}

/// A new name for a database of this process, ending in `tail` (made of `a-z0-9_`).
pub(super) fn fresh_name_with(tail: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    name_for(std::process::id(), n, tail)
}

/// `pgcluster_db_<pid>_<n>_<thread>`, the thread name made of `a-z0-9_` and cut from the
/// front to fit 63 bytes (the end of a test's path names it best).
pub(super) fn name_for(pid: u32, n: u64, thread: &str) -> String {
    let head = format!("{FRESH_PREFIX}{pid}_{n}_");
    let mut tail = String::new();
    for c in thread.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            tail.push(c);
        } else if !tail.ends_with('_') {
            tail.push('_');
        }
    }
    let tail = tail.trim_matches('_');
    let room = MAX_NAME_LEN.saturating_sub(head.len());
    // ASCII only, so any byte offset is a character boundary.
    let tail = tail.get(tail.len().saturating_sub(room)..).unwrap_or("");
    let tail = tail.trim_start_matches('_');
    let tail = if tail.is_empty() { "thread" } else { tail };
    format!("{head}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_tell_the_test_and_process() {
        assert_eq!(
            name_for(1234, 0, "template::tests::fresh_works"),
            "pgcluster_db_1234_0_template_tests_fresh_works"
        );
        assert_eq!(name_for(1, 7, "Main"), "pgcluster_db_1_7_main");
        assert_eq!(name_for(1, 7, "::"), "pgcluster_db_1_7_thread");
        assert_eq!(name_for(1, 7, "é"), "pgcluster_db_1_7_thread");
        let long = name_for(
            4_194_304,
            123_456,
            "a::very::long::module::path::to_a_test_with_a_long_name",
        );
        assert_eq!(long.len(), 63, "{long}");
        assert_eq!(
            long,
            "pgcluster_db_4194304_123456_ule_path_to_a_test_with_a_long_name"
        );
        assert!(long.ends_with("to_a_test_with_a_long_name"));
    }
}
