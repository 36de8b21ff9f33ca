//! `pgcluster wait [--timeout SECONDS]`: until the server accepts connections, with
//! `pg_isready`'s exit statuses (0 accepting, 1 rejecting, 2 no response, 3 no attempt:
//! bad arguments or settings). Each try is libpq's `PQping` ([`Cluster::ping`]).

use std::ffi::OsString;
use std::thread;
use std::time::{Duration, Instant};

use pgcluster::blocking::Cluster;
use pgcluster::cluster::Ping;

use crate::json::Json;
use crate::output::{self, Failure};

/// `pg_isready`'s exit status for bad arguments (a usage error of `wait` included).
pub(crate) const NO_ATTEMPT: u8 = 3;

/// How long `wait` keeps trying without `--timeout`.
pub(crate) const DEFAULT_TIMEOUT_SECS: u64 = 60;

/// The pause between two tries.
const PAUSE: Duration = Duration::from_millis(250);

/// `pg_isready`'s default bound on one try (`-t 3`), when the setting has no
/// `connect_timeout`.
const TRY_TIMEOUT: Duration = Duration::from_secs(3);

/// Tries until the server accepts connections, settings turn out unusable, `timeout`
/// passes or the program is interrupted; prints `SERVER - accepting connections` (the last
/// answer) unless `quiet` (with `--json`: `{"server","status","exit_status"}`); gives the
/// last answer.
pub(crate) fn run(cluster: &Cluster, timeout: Duration, quiet: bool) -> Result<Ping, Failure> {
    // Settings libpq would refuse before any attempt: say why, with pg_isready's status.
    let server = cluster
        .server()
        .map_err(|e| Failure::from(e).with_status(NO_ATTEMPT))?;
    let deadline = Instant::now() + timeout;
    let interrupter = cluster.interrupter();
    let ping = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ping = cluster.ping(Some(left.clamp(Duration::from_secs(1), TRY_TIMEOUT)));
        let left = deadline.saturating_duration_since(Instant::now());
        if matches!(ping, Ping::Accepting | Ping::NoAttempt)
            || left.is_zero()
            || interrupter.is_interrupted()
        {
            break ping;
        }
        thread::sleep(left.min(PAUSE));
    };
    if output::is_json() {
        output::json_line(&Json::object([
            ("server", server.as_str().into()),
            ("status", ping.text().into()),
            ("exit_status", Json::UInt(ping.exit_status().into())),
        ]))?;
    } else if !quiet {
        output::stdout_line(&format!(
            "{} - {}",
            crate::escape::line(&server),
            ping.text()
        ))?;
    }
    Ok(ping)
}

/// Whether the command line runs `wait` (its usage errors then exit with 3, as
/// `pg_isready`'s): the first argument that is neither an option nor the value of a global
/// option that takes one (`-d`/`--db`, `--maintenance-db`, `--timeout`).
pub(crate) fn is_wait(args: impl IntoIterator<Item = OsString>) -> bool {
    let mut args = args.into_iter().skip(1);
    while let Some(arg) = args.next() {
        if ["-d", "--db", "--maintenance-db", "--timeout"]
            .map(OsString::from)
            .contains(&arg)
        {
            args.next();
        } else if !arg.to_string_lossy().starts_with('-') {
            return arg == "wait";
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<OsString> {
        line.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn the_verb_is_found_past_the_global_options() {
        assert!(is_wait(words("pgcluster wait --timeout x")));
        assert!(is_wait(words("pgcluster -q --db wait wait")));
        assert!(is_wait(words("pgcluster -d x --db=y -q wait")));
        assert!(is_wait(words(
            "pgcluster --maintenance-db list wait --bogus"
        )));
        assert!(!is_wait(words("pgcluster --db wait list")));
        assert!(!is_wait(words("pgcluster exists wait")));
        assert!(!is_wait(words("pgcluster")));
    }
}
