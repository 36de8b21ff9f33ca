//! `drop --drain`: the sessions left, shown on stderr while it waits; and, on a terminal,
//! the sessions that made the server refuse a drop, rename, clone or overwrite, with what
//! to do about them (the pooler's own marked `(pooler)`).

use std::io::IsTerminal;
use std::time::Duration;

use pgcluster::blocking::Cluster;
use pgcluster::cluster::{DropOptions, Session};
use pgcluster::Error;

use crate::escape;
use crate::output::{self, Failure};

/// Drops `name` with `options`, showing the sessions a drain waits for (when they change,
/// unless `quiet` or `--json`); a refusal because of sessions shows them on a terminal.
pub(crate) fn drop(
    cluster: &Cluster,
    name: Option<&str>,
    options: &DropOptions,
    quiet: bool,
) -> Result<(), Failure> {
    let database = name
        .or_else(|| cluster.named_database())
        .unwrap_or_default()
        .to_owned();
    let show = !quiet && !output::is_json();
    let mut last: Vec<i32> = Vec::new();
    let mut watch = |sessions: &[Session], left: Duration| {
        let pids: Vec<i32> = sessions.iter().map(|s| s.pid).collect();
        if show && pids != last {
            let _ = output::stderr_line(&format!(
                "waiting for {} session{} on \"{}\" to end ({} s left; new connections are refused):\n{}",
                sessions.len(),
                if sessions.len() == 1 { "" } else { "s" },
                database.escape_debug(),
                left.as_secs(),
                table(sessions)
            ));
        }
        last = pids;
    };
    match cluster.drop_database_watching(name, options, &mut watch) {
        Ok(()) => Ok(()),
        Err(Error::InUse(e)) if show && std::io::stderr().is_terminal() => {
            let mut text = format!(
                "connected to \"{}\":\n{}\n`--drain` waits for them to end; `--force` ends them",
                database.escape_debug(),
                table(&e.sessions)
            );
            if e.pooler_sessions().next().is_some() {
                text.push('\n');
                text.push_str(&pooler_hint(&database, "drop", true));
            }
            let _ = output::stderr_line(&text);
            Err(Error::InUse(e).into())
        }
        Err(e) => Err(e.into()),
    }
}

/// A `rename`, `clone` or `overwrite` refused because of the sessions on `database` (the
/// one renamed, copied or overwritten): on a terminal (unless `quiet` or `--json`), they
/// are shown before the error, and what to do about the pooler's.
pub(crate) fn explain(
    result: Result<(), Error>,
    database: &str,
    action: &str,
    quiet: bool,
) -> Result<(), Failure> {
    match result {
        Err(Error::InUse(e)) if !quiet && !output::is_json() && std::io::stderr().is_terminal() => {
            let mut text = format!(
                "connected to \"{}\":\n{}",
                database.escape_debug(),
                table(&e.sessions)
            );
            if e.pooler_sessions().next().is_some() {
                text.push('\n');
                text.push_str(&pooler_hint(database, action, false));
            }
            let _ = output::stderr_line(&text);
            Err(Error::InUse(e).into())
        }
        result => result.map_err(Failure::from),
    }
}

/// What to do about the pooler's own sessions on `database` (marked `(pooler)`) before
/// `action` (`drop`, `rename`, `clone`, `overwrite`); `force`: whether `--force` is at hand.
fn pooler_hint(database: &str, action: &str, force: bool) -> String {
    let quoted = format!("\"{}\"", database.replace('"', "\"\""));
    format!(
        "the sessions marked (pooler) are most likely the pooler's own server connections, \
         kept after its clients left: {}close them on the pooler (on PgBouncer's admin \
         console, database pgbouncer: `KILL {q}`, or `PAUSE {q}` until the {action} is done, \
         then `RESUME {q}`); `--maintenance-db` (or DATABASE_URL_UNPOOLED) sends pgcluster's \
         own statements past the pooler",
        if force {
            "`--force` ends them like any other; or "
        } else {
            ""
        },
        q = escape::cell(&quoted)
    )
}

/// One line per session, indented: pid, user, application, client address (`local` for a
/// Unix socket), connected since, `(pooler)` for the pooler's; the texts escaped.
fn table(sessions: &[Session]) -> String {
    sessions
        .iter()
        .map(|s| {
            format!(
                "  pid {}  user {}  application {}  from {}  since {}{}",
                s.pid,
                escape::cell(s.user.as_deref().unwrap_or("?")),
                escape::cell(if s.application_name.is_empty() {
                    "-"
                } else {
                    &s.application_name
                }),
                escape::cell(s.client_addr.as_deref().unwrap_or("local")),
                escape::cell(s.backend_start.as_deref().unwrap_or("?")),
                if s.pooler { "  (pooler)" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
