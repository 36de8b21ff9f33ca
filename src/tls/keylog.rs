//! `sslkeylogfile` (libpq 18): each TLS secret of a connection is appended to the file as
//! one line of the NSS key log format (`LABEL <client random hex> <secret hex>`), which
//! Wireshark reads to decrypt a capture.
//!
//! As libpq 18's `SSL_CTX_keylog_cb` (fe-secure-openssl.c): the file is opened for each
//! line (append, created with mode 0600), and a failure to open or write it does not fail
//! the connection: the warning is printed on standard error, once per line not logged
//! (`WARNING: could not open SSL key logging file "%s": %m`). This is the one text the
//! library prints itself, as libpq does: the secrets are asked for by whoever set the
//! keyword, while the handshake runs.

use std::fs::OpenOptions;
use std::io::{self, Write};
#[cfg(unix)]
use std::os::unix::fs::OpenOptionsExt;

use crate::io_text::strerror;

/// Writes key log lines to one file. `Debug` shows the file name only.
#[derive(Debug)]
pub(crate) struct KeyLogFile {
    path: String,
}

impl KeyLogFile {
    pub(crate) fn new(path: &str) -> Self {
        Self {
            path: path.to_owned(),
        }
    }

    /// Appends one line; libpq's warning text when that fails.
    fn append(&self, line: &[u8]) -> Result<(), String> {
        let mut options = OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        options.mode(0o600);
        let mut file = options.open(&self.path).map_err(|e| {
            format!(
                "WARNING: could not open SSL key logging file \"{}\": {}",
                self.path,
                strerror(&e)
            )
        })?;
        file.write_all(line).map_err(|e: io::Error| {
            format!(
                "WARNING: could not write to SSL key logging file \"{}\": {}",
                self.path,
                strerror(&e)
            )
        })
    }
}

/// One NSS key log line, with its newline.
pub(crate) fn line(label: &str, client_random: &[u8], secret: &[u8]) -> Vec<u8> {
    let mut text = String::with_capacity(
        label
            .len()
            .saturating_add(client_random.len().saturating_mul(2))
            .saturating_add(secret.len().saturating_mul(2))
            .saturating_add(3),
    );
    text.push_str(label);
    for part in [client_random, secret] {
        text.push(' ');
        for byte in part {
            text.push_str(&format!("{byte:02x}"));
        }
    }
    text.push('\n');
    text.into_bytes()
}

impl rustls::KeyLog for KeyLogFile {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        if let Err(warning) = self.append(&line(label, client_random, secret)) {
            eprintln!("{warning}");
        }
    }

    fn will_log(&self, _label: &str) -> bool {
        true
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_nss_key_log_lines_appended_to_a_private_file() {
        assert_eq!(
            line("CLIENT_RANDOM", &[0x00, 0xab], &[0x0f]),
            b"CLIENT_RANDOM 00ab 0f\n"
        );
        let dir = std::env::temp_dir().join(format!("pgc-keylog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keys.log");
        let log = KeyLogFile::new(path.to_str().unwrap());
        log.append(b"A 01 02\n").unwrap();
        log.append(b"B 03 04\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"A 01 02\nB 03 04\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // libpq 18.6's texts (psql with sslkeylogfile naming a missing directory, and a
        // directory).
        let missing = KeyLogFile::new("/nonexistent/dir/keys.log");
        assert_eq!(
            missing.append(b"x\n").unwrap_err(),
            "WARNING: could not open SSL key logging file \"/nonexistent/dir/keys.log\": \
             No such file or directory"
        );
        let directory = KeyLogFile::new(dir.to_str().unwrap());
        assert_eq!(
            directory.append(b"x\n").unwrap_err(),
            format!(
                "WARNING: could not open SSL key logging file \"{}\": Is a directory",
                dir.display()
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
