//! Stopping a `Cluster`'s work from another thread (a signal-handling thread, a UI, a
//! watchdog): [`Interrupter`].
//!
//! Every maintenance statement a `Cluster` sends is a *flight*, registered with the
//! cluster's interrupt state before it is sent and removed once its answer is in.
//! [`Interrupter::interrupt`] marks the state interrupted and, in the same critical section,
//! takes the flights then registered; it sends a CancelRequest for each of them. A flight
//! that registers later sees the mark and is never sent ([`Stage::NotStarted`]), so a
//! statement starting just as the interrupt arrives is either cancelled or not started.
//!
//! A CancelRequest that reaches the server before the statement does is ignored by the
//! server (the backend is still idle), so each flight that was under way when the interrupt
//! came also gets CancelRequests, every [`RESEND`], until its statement has ended: an
//! async flight sends them itself (its statement's future is polled with the resends'),
//! and for a blocking one, whose thread is blocked in its socket, [`Interrupter::interrupt`]
//! starts a thread that sends them.
//!
//! A connection whose statement was under way when the interrupt came is closed, never
//! reused: a CancelRequest still on its way must not reach a later statement. The
//! statements an interrupted operation still owes (dropping an `overwrite`'s temporary
//! copy, reading `pg_database` to report the outcome) are sent untracked: they are neither
//! refused nor cancelled.
//!
//! [`Stage::NotStarted`]: crate::error::Stage::NotStarted

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};
use std::time::Duration;

use crate::connection::{CancelError, CancelToken};
use crate::driver::Kind;

/// How often a flight under way re-sends its CancelRequest after an interrupt, until its
/// statement ends.
pub(crate) const RESEND: Duration = Duration::from_millis(250);

/// Stops the work of the [`Cluster`](crate::doc_api::Cluster) it came from
/// ([`Cluster::interrupter`](crate::doc_api::Cluster::interrupter)). Cheap to clone; send it to any
/// thread. It installs no signal handler: a program that wants Ctrl-C to stop the work
/// calls [`interrupt`](Self::interrupt) from its own handler (the `pgcluster` command does
/// so for SIGINT and SIGTERM).
///
/// Once interrupted, a cluster stays interrupted: every later work statement fails with
/// [`Error::Interrupted`](crate::Error::Interrupted) without being sent. Make a new
/// `Cluster` to go on working.
///
/// It acts on the statements the cluster sends itself (`create`, `drop_database`, `exists`,
/// `list`, `overwrite`, ...), not on connections handed out by `connect`: those are the
/// caller's, with their own [`CancelToken`].
#[derive(Clone)]
pub struct Interrupter {
    state: Arc<State>,
}

impl Interrupter {
    pub(crate) fn new(state: Arc<State>) -> Self {
        Self { state }
    }

    /// Marks the cluster interrupted, so that no new work statement starts, and sends a
    /// CancelRequest for every statement it has under way. Blocks the calling thread until
    /// each request was delivered (the server closes the cancel socket), as libpq's
    /// `PQcancel` does; needs no runtime. The interrupted calls then return
    /// [`Error::Interrupted`](crate::Error::Interrupted) once their statements have ended.
    /// Calling it again sends the requests again.
    ///
    /// Returns the first delivery failure (libpq's text); the other requests are still
    /// sent, and the flights keep re-sending theirs until their statements end.
    pub fn interrupt(&self) -> Result<(), CancelError> {
        let (tokens, wakers, resent) = {
            let mut flights = self.state.lock();
            flights.interrupted = true;
            let tokens: Vec<CancelToken> = flights
                .flights
                .iter()
                .filter_map(|f| f.token.clone())
                .collect();
            let wakers: Vec<Waker> = flights
                .flights
                .iter_mut()
                .filter_map(|f| f.waker.take())
                .collect();
            let resent: Vec<(u64, CancelToken)> = flights
                .flights
                .iter()
                .filter_map(|f| Some((f.id, f.token.clone()?)))
                .filter(|(_, token)| resent_by_thread(token))
                .collect();
            (tokens, wakers, resent)
        };
        for waker in wakers {
            waker.wake();
        }
        let mut first = None;
        for token in tokens {
            if let Err(e) = token.cancel_blocking() {
                first.get_or_insert(e);
            }
        }
        if !resent.is_empty() {
            let state = Arc::clone(&self.state);
            // Without the thread only the resends are lost: the first requests went.
            let _ = std::thread::Builder::new()
                .name("pgcluster-cancel".to_owned())
                .spawn(move || resend(&state, resent));
        }
        first.map_or(Ok(()), Err)
    }

    /// Whether [`interrupt`](Self::interrupt) was called.
    pub fn is_interrupted(&self) -> bool {
        self.state.is_interrupted()
    }
}

/// Whether a flight's CancelRequests are re-sent by [`resend`]'s thread: those of a
/// blocking connection, whose own thread is blocked in its socket until the statement
/// ends.
fn resent_by_thread(token: &CancelToken) -> bool {
    match token.driver() {
        #[cfg(feature = "blocking")]
        Kind::Blocking => true,
        #[cfg(feature = "async")]
        Kind::Async => false,
    }
}

/// Sends each flight's CancelRequest again every [`RESEND`], until every one has ended.
fn resend(state: &State, mut flights: Vec<(u64, CancelToken)>) {
    loop {
        std::thread::sleep(RESEND);
        {
            let under_way = state.lock();
            flights.retain(|(id, _)| under_way.flights.iter().any(|f| f.id == *id));
        }
        if flights.is_empty() {
            return;
        }
        for (_, token) in &flights {
            // A failed delivery is tried again at the next turn.
            let _ = token.cancel_blocking();
        }
    }
}

impl fmt::Debug for Interrupter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flights = self.state.lock();
        f.debug_struct("Interrupter")
            .field("interrupted", &flights.interrupted)
            .field("in_flight", &flights.flights.len())
            .finish()
    }
}

/// A cluster's interrupt state, shared by the cluster and its interrupters.
#[derive(Default)]
pub(crate) struct State {
    flights: Mutex<Flights>,
}

#[derive(Default)]
struct Flights {
    interrupted: bool,
    next_id: u64,
    flights: Vec<Entry>,
}

/// One statement under way.
struct Entry {
    id: u64,
    token: Option<CancelToken>,
    /// The task to wake when the interrupt comes, once it has waited for it.
    waker: Option<Waker>,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Flights> {
        self.flights.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the cluster was interrupted.
    pub(crate) fn is_interrupted(&self) -> bool {
        self.lock().interrupted
    }

    /// Registers a work statement about to be sent on the connection `token` cancels;
    /// `None` if the cluster is interrupted (the statement must not be sent).
    pub(crate) fn begin(self: &Arc<Self>, token: Option<CancelToken>) -> Option<Flight> {
        let mut flights = self.lock();
        if flights.interrupted {
            return None;
        }
        let id = flights.next_id;
        flights.next_id = flights.next_id.wrapping_add(1);
        flights.flights.push(Entry {
            id,
            token: token.clone(),
            waker: None,
        });
        Some(Flight {
            tracked: Some(Tracked {
                state: Arc::clone(self),
                id,
                token,
            }),
        })
    }

    /// Ready once the cluster is interrupted; until then, keeps `cx`'s waker in flight `id`.
    fn poll_interrupted(&self, id: u64, waker: &Waker) -> Poll<()> {
        let mut flights = self.lock();
        if flights.interrupted {
            return Poll::Ready(());
        }
        if let Some(entry) = flights.flights.iter_mut().find(|f| f.id == id) {
            match &entry.waker {
                Some(w) if w.will_wake(waker) => {}
                _ => entry.waker = Some(waker.clone()),
            }
        }
        Poll::Pending
    }

    fn end(&self, id: u64) -> bool {
        let mut flights = self.lock();
        flights.flights.retain(|f| f.id != id);
        flights.interrupted
    }
}

/// A statement being sent: tracked (work, which an interrupt cancels) or not (what an
/// interrupted operation still owes).
pub(crate) struct Flight {
    tracked: Option<Tracked>,
}

struct Tracked {
    state: Arc<State>,
    id: u64,
    token: Option<CancelToken>,
}

impl Flight {
    /// A statement no interrupt refuses or cancels.
    pub(crate) fn untracked() -> Self {
        Self { tracked: None }
    }

    /// Runs `statement`. If the cluster is interrupted meanwhile, a CancelRequest is sent
    /// every [`RESEND`] until the statement ends (the first one came from
    /// [`Interrupter::interrupt`] itself).
    pub(crate) async fn run<F: Future>(&self, statement: F) -> F::Output {
        let mut statement = pin!(statement);
        let mut cancelling = pin!(self.keep_cancelling());
        poll_fn(|cx| {
            if let Poll::Ready(out) = statement.as_mut().poll(cx) {
                return Poll::Ready(out);
            }
            // Never ready: it ends when `statement` does.
            let _ = cancelling.as_mut().poll(cx);
            Poll::Pending
        })
        .await
    }

    async fn keep_cancelling(&self) {
        let Some(tracked) = &self.tracked else {
            return std::future::pending().await;
        };
        poll_fn(|cx| tracked.state.poll_interrupted(tracked.id, cx.waker())).await;
        let Some(token) = &tracked.token else {
            return std::future::pending().await;
        };
        match token.driver() {
            #[cfg(feature = "async")]
            Kind::Async => loop {
                Kind::Async
                    .sleep_until(std::time::Instant::now() + RESEND)
                    .await;
                // A failed delivery is tried again at the next turn.
                let _ = token.cancel().await;
            },
            // A blocking flight's resends come from the interrupter's thread.
            #[cfg(feature = "blocking")]
            Kind::Blocking => std::future::pending().await,
        }
    }

    /// Ends the flight. True if the cluster was interrupted by then: the statement may have
    /// been cancelled, and its connection must not be reused.
    pub(crate) fn finish(mut self) -> bool {
        self.tracked.take().is_some_and(|t| t.state.end(t.id))
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        if let Some(t) = self.tracked.take() {
            t.state.end(t.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flight_after_the_interrupt_is_refused() {
        let state = Arc::new(State::default());
        let interrupter = Interrupter::new(Arc::clone(&state));
        assert!(!interrupter.is_interrupted());
        let before = state.begin(None).expect("not interrupted yet");
        assert_eq!(state.lock().flights.len(), 1);
        interrupter.interrupt().unwrap();
        assert!(interrupter.is_interrupted());
        assert!(state.begin(None).is_none());
        assert!(before.finish(), "the flight saw the interrupt");
        assert!(state.lock().flights.is_empty());
    }

    #[test]
    fn a_flight_that_ended_before_the_interrupt_is_not_marked() {
        let state = Arc::new(State::default());
        let flight = state.begin(None).unwrap();
        assert!(!flight.finish());
        assert!(!Flight::untracked().finish());
        let dropped = state.begin(None).unwrap();
        drop(dropped);
        assert!(state.lock().flights.is_empty());
    }

    #[test]
    fn a_waiting_flight_is_woken_and_the_statement_still_decides_the_end() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let state = Arc::new(State::default());
        let interrupter = Interrupter::new(Arc::clone(&state));
        let flight = state.begin(None).unwrap();
        let out = rt.block_on(async {
            let statement = async {
                // Wait until the flight has parked its waker, then interrupt.
                tokio::task::yield_now().await;
                assert!(state.lock().flights[0].waker.is_some());
                interrupter.interrupt().unwrap();
                tokio::task::yield_now().await;
                42
            };
            flight.run(statement).await
        });
        assert_eq!(out, 42);
        assert!(flight.finish());
        assert_eq!(
            format!("{interrupter:?}"),
            "Interrupter { interrupted: true, in_flight: 0 }"
        );
    }
}
