//! The crate stays sans-IO and light: its one required normal dependency is `sha2`, and
//! `zeroize` is optional (secrets wiped with volatile writes; MD5, HMAC-SHA-256, base64
//! and the frame buffer are its own; no tokio, no runtime, no socket crate), and its source names no socket, file, thread, clock or randomness API outside
//! its unit tests.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a test fails loudly on unexpected input"
)]

use std::fs;
use std::path::{Path, PathBuf};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn normal_dependencies_are_the_pure_ones() {
    let manifest = fs::read_to_string(Path::new(MANIFEST_DIR).join("Cargo.toml")).unwrap();
    let (mut deps, mut optional) = (Vec::new(), Vec::new());
    let mut in_deps = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', ' ']).next().unwrap().to_owned();
            if line.contains("optional = true") {
                optional.push(name);
            } else {
                deps.push(name);
            }
        }
    }
    assert_eq!(deps, ["sha2"]);
    assert_eq!(optional, ["zeroize"]);
    assert!(!manifest.contains("tokio"), "tokio in protocol/Cargo.toml");
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The part of a source file before its unit tests (`#[cfg(test)]` at the start of a
/// line: the test module, by house style at the bottom of each module).
fn non_test_part(text: &str) -> &str {
    match text.find("\n#[cfg(test)]") {
        Some(at) => &text[..at],
        None => text,
    }
}

#[test]
fn no_io_clock_or_randomness_in_the_library() {
    const FORBIDDEN: &[&str] = &[
        "tokio::",
        "std::net",
        "std::os::",
        "std::fs",
        "std::io::Read",
        "std::io::Write",
        "std::thread",
        "std::process",
        "std::time",
        "std::env",
        "SystemTime",
        "Instant",
        "rand::",
        "getrandom",
        "unsafe ",
    ];
    let mut files = Vec::new();
    rust_files(&Path::new(MANIFEST_DIR).join("src"), &mut files);
    assert!(files.len() > 10, "{files:?}");
    let mut found = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy();
        if name == "proptests.rs" {
            continue; // `#[cfg(test)] mod proptests;` in lib.rs
        }
        let text = fs::read_to_string(file).unwrap();
        for (n, line) in non_test_part(&text).lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for bad in FORBIDDEN {
                if code.contains(bad) {
                    found.push(format!("{}:{}: {line}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "I/O in the sans-IO crate:\n{}",
        found.join("\n")
    );
}
