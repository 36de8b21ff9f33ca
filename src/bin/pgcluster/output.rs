//! Writing to stdout and stderr without panicking, and the exit statuses.
//!
//! `println!` panics when the write fails (exit 101 and a panic message): a reader that
//! stops early (`pgcluster list | head -1`, a broken pipe) or a full disk
//! (`pgcluster list >/dev/full`) did that. Here every write is a `write_all` on the locked
//! handle followed by a flush, and its failure is a [`WriteError`] that ends the program
//! through the ordinary error path (so destructors run: the demo's throwaway server is
//! stopped and its directory removed).
//!
//! Exit statuses (also in `--help` and README):
//!
//! - 0: success.
//! - 1 ([`FAILED`]): the operation failed; stderr has `Error: ` and the message.
//! - 2: a usage error (clap's).
//! - 3: a question was declined (`main`).
//! - 4: `exists -q` found no such database (`main`).
//! - 74 ([`OUTPUT_FAILED`], `EX_IOERR` of sysexits.h): the output could not be written
//!   (full disk, I/O error); stderr has `Error: could not write to stdout: ...` when stderr
//!   itself can still be written. The operation itself had been carried out.
//! - 141 ([`BROKEN_PIPE`]): the reader of stdout or stderr went away (`EPIPE`); nothing
//!   more is printed. 141 = 128 + SIGPIPE is what a shell reports for `ls | head` (`ls` is
//!   killed by SIGPIPE), so `set -o pipefail` scripts see the same as with the coreutils.
//!   The Rust runtime ignores SIGPIPE, and restoring its default would kill the process
//!   before the demo stops its server (and needs `unsafe`, which the crate forbids), so the
//!   status is returned instead. Unlike ripgrep (which exits 0), the status is not 0: the
//!   output was cut short, and the demo did not get to check every example.

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use pgcluster::ErrorFields;

use crate::escape;
use crate::json::{self, Json};

/// The operation failed.
pub(crate) const FAILED: u8 = 1;
/// A usage error (clap's status; `wait` uses `pg_isready`'s 3).
pub(crate) const USAGE: u8 = 2;
/// The output could not be written (`EX_IOERR`).
pub(crate) const OUTPUT_FAILED: u8 = 74;
/// The reader went away: 128 + SIGPIPE, as a shell reports a process SIGPIPE killed.
pub(crate) const BROKEN_PIPE: u8 = 141;

/// A standard stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        })
    }
}

/// Writing to stdout or stderr failed.
#[derive(Debug)]
pub(crate) struct WriteError {
    /// The stream written to.
    pub(crate) stream: Stream,
    /// The operating system's error.
    pub(crate) source: io::Error,
}

impl WriteError {
    /// Whether the reader went away (`EPIPE`).
    pub(crate) fn is_broken_pipe(&self) -> bool {
        self.source.kind() == io::ErrorKind::BrokenPipe
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not write to {}: {}", self.stream, self.source)
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Writes all of `text` to `stream` on its locked handle, then flushes it.
pub(crate) fn write(stream: Stream, text: &str) -> Result<(), WriteError> {
    let result = match stream {
        Stream::Stdout => {
            let mut out = io::stdout().lock();
            out.write_all(text.as_bytes()).and_then(|()| out.flush())
        }
        Stream::Stderr => {
            let mut err = io::stderr().lock();
            err.write_all(text.as_bytes()).and_then(|()| err.flush())
        }
    };
    result.map_err(|source| WriteError { stream, source })
}

/// Writes `text` (already escaped as it needs) and a newline to stdout.
pub(crate) fn stdout_line(text: &str) -> Result<(), WriteError> {
    write(Stream::Stdout, &format!("{text}\n"))
}

/// Writes `text` (already escaped as it needs) and a newline to stderr.
pub(crate) fn stderr_line(text: &str) -> Result<(), WriteError> {
    write(Stream::Stderr, &format!("{text}\n"))
}

/// Whether `--json` was given: results and errors are then JSON objects.
static JSON: AtomicBool = AtomicBool::new(false);

/// Turns `--json` on for the rest of the run.
pub(crate) fn set_json(on: bool) {
    JSON.store(on, Ordering::SeqCst);
}

/// Whether `--json` was given.
pub(crate) fn is_json() -> bool {
    JSON.load(Ordering::SeqCst)
}

/// Writes one JSON value and a newline to stdout.
pub(crate) fn json_line(value: &Json) -> Result<(), WriteError> {
    stdout_line(&value.render())
}

/// Writes a warning (a server's or libpq's text) to stderr, escaped as a message; with
/// `--json`, as `{"warning":TEXT}`.
pub(crate) fn warning(text: &str) -> Result<(), WriteError> {
    if is_json() {
        stderr_line(&Json::object([("warning", text.into())]).render())
    } else {
        stderr_line(&escape::message(text))
    }
}

/// Why the program ends unsuccessfully.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The operation failed: `Error: ` and the message (escaped) on stderr, exit `status`
    /// (1, or `wait`'s 3); with `--json`, an object with the text, the SQLSTATE and the
    /// server's fields (see [`Failure::report`]).
    Operation {
        status: u8,
        text: String,
        server: Option<Box<ErrorFields>>,
    },
    /// The operation was interrupted (SIGINT, SIGTERM): the message, `interrupted: ...`,
    /// alone on stderr (escaped); the status is the signal's (see `interrupt`).
    Interrupted(String),
    /// The output could not be written: exit 141 for a broken pipe, else 74.
    Output(WriteError),
}

impl Failure {
    /// An operation's failure with this text (no server fields), exit status 1.
    pub(crate) fn operation(text: impl Into<String>) -> Self {
        Self::Operation {
            status: FAILED,
            text: text.into(),
            server: None,
        }
    }

    /// The same failure with another exit status, if it is an operation's.
    pub(crate) fn with_status(self, new: u8) -> Self {
        match self {
            Self::Operation { text, server, .. } => Self::Operation {
                status: new,
                text,
                server,
            },
            other => other,
        }
    }
}

impl From<WriteError> for Failure {
    fn from(e: WriteError) -> Self {
        Self::Output(e)
    }
}

impl From<pgcluster::Error> for Failure {
    fn from(e: pgcluster::Error) -> Self {
        if is_interrupt(&e) {
            Self::Interrupted(e.to_string())
        } else {
            Self::Operation {
                status: FAILED,
                text: e.to_string(),
                server: e.server_error().cloned().map(Box::new),
            }
        }
    }
}

/// Whether `e` is an interrupted call's report (perhaps naming a database left behind).
fn is_interrupt(e: &pgcluster::Error) -> bool {
    match e {
        pgcluster::Error::Interrupted(_) => true,
        pgcluster::Error::LeftBehind { cause, .. } => is_interrupt(cause),
        _ => false,
    }
}

impl From<Box<dyn std::error::Error>> for Failure {
    fn from(e: Box<dyn std::error::Error>) -> Self {
        match e.downcast::<WriteError>() {
            Ok(e) => Self::Output(*e),
            Err(e) => Self::operation(e.to_string()),
        }
    }
}

/// The JSON object of an error on stderr: `error` (the text `Error: ` would precede),
/// `exit_status`, `sqlstate` (null when the server sent none) and `server` (the server's
/// fields by name, null when it sent none), and `TAG: true` for each of `tags`.
pub(crate) fn error_json(
    text: &str,
    status: u8,
    server: Option<&ErrorFields>,
    tags: &[&'static str],
) -> String {
    let mut fields = vec![
        ("error", Json::from(text)),
        ("exit_status", Json::UInt(status.into())),
        ("sqlstate", server.and_then(|f| f.code.as_deref()).into()),
        ("server", server.map_or(Json::Null, json::server_fields)),
    ];
    fields.extend(tags.iter().map(|tag| (*tag, Json::Bool(true))));
    Json::object(fields).render()
}

impl Failure {
    /// Reports the failure on stderr (if it still can) and gives the exit status. With
    /// `--json`, the report is one [`error_json`] object.
    pub(crate) fn report(self) -> ExitCode {
        self.report_exiting(None)
    }

    /// [`Failure::report`] for a program that exits with `exiting` whatever the failure
    /// (after a signal or `--timeout`): the JSON object's `exit_status` says so.
    pub(crate) fn report_exiting(self, exiting: Option<u8>) -> ExitCode {
        let json = is_json();
        match self {
            Self::Operation {
                status,
                text,
                server,
            } => {
                // If stderr cannot take it either, the status still says it failed.
                let _ = stderr_line(&if json {
                    error_json(&text, exiting.unwrap_or(status), server.as_deref(), &[])
                } else {
                    format!("Error: {}", escape::message(&text))
                });
                ExitCode::from(status)
            }
            Self::Interrupted(message) => {
                let _ = stderr_line(&if json {
                    error_json(&message, exiting.unwrap_or(FAILED), None, &["interrupted"])
                } else {
                    escape::message(&message)
                });
                ExitCode::from(FAILED)
            }
            Self::Output(e) if e.is_broken_pipe() => ExitCode::from(BROKEN_PIPE),
            Self::Output(e) => {
                let text = e.to_string();
                let _ = stderr_line(&if json {
                    error_json(&text, exiting.unwrap_or(OUTPUT_FAILED), None, &[])
                } else {
                    format!("Error: {}", escape::message(&text))
                });
                ExitCode::from(OUTPUT_FAILED)
            }
        }
    }
}

/// The exit status of a run, after reporting its failure; `exiting`: the status the
/// program exits with whatever the failure (see [`Failure::report_exiting`]).
pub(crate) fn exit(result: Result<(), Failure>, exiting: Option<u8>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report_exiting(exiting),
    }
}

/// Ends a `try_parse` failure as clap would, without its panics or swallowed errors: help
/// and version go to stdout with clap's styling; a usage error goes to stderr, plain and
/// escaped (it quotes the arguments given), with status `usage`.
pub(crate) fn clap_exit(e: &clap::Error, usage: u8) -> ExitCode {
    use clap::error::ErrorKind;
    let written = match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => e
            .print()
            .and_then(|()| io::stdout().lock().flush())
            .map_err(|source| WriteError {
                stream: Stream::Stdout,
                source,
            }),
        _ => write(Stream::Stderr, &escape::message(&e.render().to_string())),
    };
    match written {
        Ok(()) if e.use_stderr() => ExitCode::from(usage),
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => Failure::Output(e).report(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_errors_say_what_failed() {
        let e = WriteError {
            stream: Stream::Stdout,
            source: io::Error::from_raw_os_error(28),
        };
        assert_eq!(
            e.to_string(),
            "could not write to stdout: No space left on device (os error 28)"
        );
        assert!(!e.is_broken_pipe());
        assert!(std::error::Error::source(&e).is_some());
        let pipe = WriteError {
            stream: Stream::Stderr,
            source: io::Error::from(io::ErrorKind::BrokenPipe),
        };
        assert!(pipe.is_broken_pipe());
    }

    #[test]
    fn a_boxed_write_error_stays_an_output_failure() {
        let boxed: Box<dyn std::error::Error> = Box::new(WriteError {
            stream: Stream::Stdout,
            source: io::Error::from(io::ErrorKind::BrokenPipe),
        });
        assert!(matches!(Failure::from(boxed), Failure::Output(e) if e.is_broken_pipe()));
        let other: Box<dyn std::error::Error> = "4 of 20 examples differ".into();
        assert!(
            matches!(Failure::from(other), Failure::Operation { text, .. } if text == "4 of 20 examples differ")
        );
    }
}
