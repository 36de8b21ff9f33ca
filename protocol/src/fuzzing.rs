//! Harness functions for the `fuzz/` targets. Not a stable API.
