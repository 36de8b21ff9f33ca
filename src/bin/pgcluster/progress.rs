//! A progress line for long operations on a terminal: after about a second, on stderr,
//! `cloning "big" (7617 MB) into "copy": 3 s`, rewritten in place each second, and erased
//! when the operation ends. Nothing when stderr is not a terminal, with `-q` or `--json`,
//! or when the operation ends within the second.

use std::io::{self, IsTerminal, Write};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use pgcluster::blocking::Cluster;

use crate::list::pretty_size;
use crate::{escape, output};

/// How long an operation runs before its progress line shows.
const AFTER: Duration = Duration::from_secs(1);

/// Runs `work` (copying database `source` into `target`; `verb`: `cloning`, ...) with the
/// progress line beside it when stderr is a terminal and the output is neither quiet nor
/// JSON. The source's size is read (`pg_database_size`, through `cluster`'s `list`) only
/// once the line shows.
pub(crate) fn copying<T>(
    cluster: &Cluster,
    (verb, source, target): (&str, &str, &str),
    quiet: bool,
    work: impl FnOnce() -> T,
) -> T {
    if quiet || output::is_json() || !io::stderr().is_terminal() {
        return work();
    }
    let (stop, stopped) = mpsc::channel::<()>();
    thread::scope(|scope| {
        let started = Instant::now();
        scope.spawn(move || {
            if !matches!(stopped.recv_timeout(AFTER), Err(RecvTimeoutError::Timeout)) {
                return;
            }
            let size = cluster
                .list()
                .ok()
                .and_then(|all| all.into_iter().find(|d| d.name == source))
                .and_then(|d| d.size)
                .map(|bytes| format!(" ({})", pretty_size(bytes)))
                .unwrap_or_default();
            let head = format!(
                "{verb} \"{}\"{size} into \"{}\"",
                escape::line(source),
                escape::line(target)
            );
            loop {
                show(&format!(
                    "\r{head}: {} s\x1b[K",
                    started.elapsed().as_secs()
                ));
                if !matches!(
                    stopped.recv_timeout(Duration::from_secs(1)),
                    Err(RecvTimeoutError::Timeout)
                ) {
                    break;
                }
            }
            // Erased: what follows starts on a clean line.
            show("\r\x1b[K");
        });
        let result = work();
        drop(stop);
        result
    })
}

/// The database a verb acts on, for the line: `name`, else the setting's (empty if even
/// that is unknown: the verb itself then says why).
pub(crate) fn target(cluster: &Cluster, name: Option<&str>) -> String {
    name.map(str::to_owned)
        .or_else(|| cluster.database().ok())
        .unwrap_or_default()
}

/// Writes `text` to stderr as it is (no newline); a failure is not the operation's.
fn show(text: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}
