//! Clones of a template made ahead, so that handing a test its fresh database is a rename.
//!
//! A template keeps up to [`Migrations::ready`](super::Migrations::ready) clones ready. They
//! are made in the background, one at a time, by a thread that runs only while the store is
//! short (and holds the template alive while it does); [`Template::fresh`](super::Template)
//! takes one and renames it to the test's name (`ALTER DATABASE .. RENAME`, no file copied),
//! or clones one itself when none is ready. A ready clone is made exactly as a fresh
//! database is (the same `CREATE DATABASE`, then its owner record), named
//! `pgcluster_db_<pid>_<n>_<family>_ready`; no session ever connects to it before it is handed out,
//! so it holds exactly the template's content. A run killed meanwhile leaves them as it
//! leaves fresh databases: recorded as this process's, and swept once it is gone.

use std::sync::{Arc, Mutex, MutexGuard};

use super::clone_method::CloneMethod;
use super::names::fresh_name_with;

/// What the store is filled from: a template's shared state (`template::Shared`).
pub(super) trait Source: Send + Sync + 'static {
    /// The store this source fills.
    fn ready(&self) -> &Ready;
    /// The template's family, which names its clones.
    fn family(&self) -> &str;
    /// Makes one clone named `name`, with its owner record; how it was cloned, or `Err` if
    /// it could not be made (then nothing more is made ahead).
    fn clone_ready(&self, name: &str) -> Result<CloneMethod, ()>;
}

/// The last word of a ready clone's name, after the template's family.
const READY_TAIL: &str = "ready";

/// The ready clones of one template.
#[derive(Debug, Default)]
pub(super) struct Ready {
    /// How many to keep ready (0: none).
    target: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Made, not handed out: (name, how it was cloned).
    clones: Vec<(String, CloneMethod)>,
    /// Whether a filling thread runs.
    filling: bool,
    /// Set when a clone failed: nothing more is made ahead (the test's own clone reports
    /// the error).
    failed: bool,
}

impl Ready {
    pub(super) fn new(target: usize) -> Self {
        Self {
            target,
            state: Mutex::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A ready clone, if there is one.
    pub(super) fn take(&self) -> Option<(String, CloneMethod)> {
        self.state().clones.pop()
    }

    /// Takes every ready clone (for the template's drop).
    pub(super) fn take_all(&self) -> Vec<String> {
        let mut state = self.state();
        state.clones.drain(..).map(|(n, _)| n).collect()
    }
}

/// Starts filling `shared`'s store in the background unless it is full, a filling thread
/// runs, or making one failed before.
pub(super) fn refill<S: Source>(shared: &Arc<S>) {
    let ready = shared.ready();
    {
        let mut state = ready.state();
        if ready.target == 0 || state.filling || state.failed || state.clones.len() >= ready.target
        {
            return;
        }
        state.filling = true;
    }
    let shared = Arc::clone(shared);
    let spawned = std::thread::Builder::new()
        .name("pgcluster-ready-clones".into())
        .spawn(move || fill(&*shared));
    if spawned.is_err() {
        ready.state().filling = false;
    }
}

/// Makes clones until the store is full (checked under the same lock that ends the
/// filling, so that a clone taken meanwhile is always made again).
fn fill<S: Source>(shared: &S) {
    let ready = shared.ready();
    loop {
        {
            let mut state = ready.state();
            if state.clones.len() >= ready.target {
                state.filling = false;
                return;
            }
        }
        let name = fresh_name_with(&format!("{}_{READY_TAIL}", shared.family()));
        let made = shared.clone_ready(&name);
        let mut state = ready.state();
        match made {
            Ok(method) => state.clones.push((name, method)),
            Err(_) => {
                state.failed = true;
                state.filling = false;
                return;
            }
        }
    }
}
