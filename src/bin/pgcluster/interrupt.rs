//! SIGINT and SIGTERM while a verb runs: the work is stopped, not abandoned.
//!
//! The first signal calls the cluster's [`Interrupter`]: the statement under way is
//! cancelled (a CancelRequest, as Ctrl-C in `psql` sends) and no new one starts. The verb
//! then ends on its own, after the clean-up it owes (an `overwrite` drops its temporary
//! copy), and [`finish`] prints what `pg_database` shows and exits with 130 (SIGINT) or 143
//! (SIGTERM), 128 plus the signal's number, as shells report a process a signal killed.
//! If the verb has not ended [`WAIT`] after the signal, the program exits anyway, saying
//! so. A second signal exits at once, without waiting for the clean-up. A signal while a
//! question waits for its answer exits at once too: nothing was changed.
//!
//! Signals are caught with `signal-hook` (its handler only writes to a pipe; a thread of
//! ours reads it), so no `unsafe` is needed here. The library installs no handler.

use std::io::Write;
use std::process::{self, ExitCode};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use pgcluster::cluster::Interrupter;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::output;

/// How long after the first signal the program waits for the verb to end (the cancelled
/// statement, the check of `pg_database`, the clean-up) before it exits anyway.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// The first signal received, 0 before any; [`TIMEOUT`] when --timeout ran out first.
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// What [`SIGNAL`] holds once --timeout ran out before any signal (no signal's number).
const TIMEOUT: i32 = -1;

/// The exit status after --timeout ran out, timeout(1)'s.
const TIMED_OUT: i32 = 124;

/// --timeout's seconds, for the message.
static TIMEOUT_SECS: AtomicU64 = AtomicU64::new(0);

/// True while a question waits for an answer: a signal then exits at once (nothing is
/// under way, nothing was changed).
static AT_PROMPT: AtomicBool = AtomicBool::new(false);

/// Held by whoever prints the last words and exits, so that the main thread, the watchdog
/// and a second signal never print over one another.
static LAST_WORDS: Mutex<()> = Mutex::new(());

/// Catches SIGINT and SIGTERM from now on, calling `interrupter` on the first one; with a
/// `timeout`, calls it then too if no signal came first (--timeout).
pub(crate) fn install(interrupter: Interrupter, timeout: Option<Duration>) -> std::io::Result<()> {
    if let Some(timeout) = timeout {
        TIMEOUT_SECS.store(timeout.as_secs(), Ordering::SeqCst);
        let interrupter = interrupter.clone();
        thread::Builder::new()
            .name("pgcluster-timeout".into())
            .spawn(move || {
                thread::sleep(timeout);
                if SIGNAL
                    .compare_exchange(0, TIMEOUT, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
                {
                    first(TIMEOUT, &interrupter);
                }
            })?;
    }
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    thread::Builder::new()
        .name("pgcluster-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if SIGNAL
                    .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
                {
                    first(signal, &interrupter);
                } else {
                    last_words(
                        status(SIGNAL.load(Ordering::SeqCst)),
                        "pgcluster: interrupted again: exiting at once, without cleaning up \
                         (`pgcluster cleanup` drops the temporary databases left behind)",
                    );
                }
            }
        })?;
    Ok(())
}

/// Runs `ask` (a question on the terminal) so that a signal meanwhile exits at once.
pub(crate) fn at_prompt<T>(ask: impl FnOnce() -> T) -> T {
    AT_PROMPT.store(true, Ordering::SeqCst);
    let answer = ask();
    AT_PROMPT.store(false, Ordering::SeqCst);
    answer
}

/// The first signal: say so, cancel (on a thread of its own: a server that does not answer
/// must not hold up the watchdog), and start the watchdog.
fn first(signal: i32, interrupter: &Interrupter) {
    if AT_PROMPT.load(Ordering::SeqCst) {
        // The question's line is left open: start on a new one.
        last_words(status(signal), "\ninterrupted: nothing was changed");
    }
    {
        let _quiet = LAST_WORDS.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = output::stderr_line(&if signal == TIMEOUT {
            format!(
                "pgcluster: timed out after {} s: cancelling the statement under way (Ctrl-C to exit at once, without cleaning up)",
                TIMEOUT_SECS.load(Ordering::SeqCst)
            )
        } else {
            format!(
                "pgcluster: {}: cancelling the statement under way (again to exit at once, without cleaning up)",
                name(signal)
            )
        });
    }
    let interrupter = interrupter.clone();
    let _ = thread::Builder::new()
        .name("pgcluster-cancel".into())
        .spawn(move || {
            if let Err(e) = interrupter.interrupt() {
                let _quiet = LAST_WORDS.lock().unwrap_or_else(PoisonError::into_inner);
                let _ = output::stderr_line(&format!(
                    "pgcluster: could not send the cancel request: {}",
                    crate::escape::message(&e.to_string())
                ));
            }
        });
    let _ = thread::Builder::new()
        .name("pgcluster-watchdog".into())
        .spawn(move || {
            thread::sleep(WAIT);
            last_words(
                status(signal),
                &format!(
                    "pgcluster: the interrupted work did not end within {} s; exiting without \
                     waiting for it (pg_database was not checked: `pgcluster list` shows it)",
                    WAIT.as_secs()
                ),
            );
        });
}

fn name(signal: i32) -> &'static str {
    if signal == SIGTERM {
        "SIGTERM"
    } else {
        "SIGINT"
    }
}

/// The status the program exits with after `signal` (see [`status`]).
pub(crate) fn exit_status(signal: i32) -> u8 {
    u8::try_from(status(signal)).unwrap_or(u8::MAX)
}

/// 128 + the signal's number: 130 for SIGINT, 143 for SIGTERM; 124 after --timeout.
fn status(signal: i32) -> i32 {
    if signal == TIMEOUT {
        TIMED_OUT
    } else {
        128 + signal
    }
}

/// Prints `message` on stderr and exits with `code`, unless another thread is already
/// doing so (then this one waits for the process to end).
fn last_words(code: i32, message: &str) -> ! {
    let _only = LAST_WORDS.lock().unwrap_or_else(PoisonError::into_inner);
    let _ = std::io::stdout().flush();
    let _ = output::stderr_line(message);
    process::exit(code)
}

/// Ends the program once the verb returned: `report(signal)` says how it ended (`signal`
/// is the one that interrupted it, if one did) and gives the exit status when no signal
/// came; after a signal, the status is 128 + the signal. The last-words lock is held from
/// here on, so that a watchdog or a second signal cannot print over the report, nor exit
/// with another status.
pub(crate) fn finish(report: impl FnOnce(Option<i32>) -> ExitCode) -> ExitCode {
    let only = LAST_WORDS.lock().unwrap_or_else(PoisonError::into_inner);
    let signal = match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    };
    let code = report(signal);
    if let Some(signal) = signal {
        let _ = std::io::stdout().flush();
        process::exit(status(signal));
    }
    // Kept until the process ends.
    std::mem::forget(only);
    code
}
