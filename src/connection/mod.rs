//! The connection: a socket plus the protocol machines, no protocol logic of its own. Its
//! API is async (`Connection`, feature `async`); without that feature it is only the core
//! of the blocking connection, and this module holds the types both APIs share.
//!
//! This module only names its parts and re-exports their public items:
//!
//! - `session`: the `Connection` itself (its fields, private to this tree, opening and
//!   closing, what the session reports), [`State`], [`QueryResult`], [`Notification`];
//! - `query`: simple and extended queries, prepared statements ([`Statement`]);
//! - `exchange`: the one read loop, and the exchange on it that sends a query and reads its
//!   replies;
//! - `copy`: COPY in and out;
//! - `notify`: waiting for LISTEN/NOTIFY notifications (on the same read loop);
//! - `transaction`: autocommit and transactions (`Transaction`, the async guard);
//! - `cancel`: CancelRequest ([`CancelToken`]);
//! - `results`: conveniences on [`QueryResult`];
//! - `server`: which server it reached (host, port, version, in recovery);
//! - `park`: an idle connection taken out of its runtime, for the cluster's reuse.

mod cancel;
mod copy;
mod exchange;
mod notify;
mod park;
mod query;
mod results;
mod server;
mod session;
#[cfg(test)]
pub(crate) mod tests;
mod transaction;

pub use cancel::{CancelError, CancelToken, DEFAULT_CANCEL_TIMEOUT};
#[cfg(feature = "blocking")]
pub(crate) use copy::{Sink, Source};
pub(crate) use park::ParkedConnection;
pub use query::Statement;
#[cfg(feature = "async")]
pub use session::Connection;
/// Without `async`, the connection under [`crate::blocking::Connection`] only.
#[cfg(not(feature = "async"))]
pub(crate) use session::Connection;
pub use session::{Notification, QueryResult, State};
#[cfg(feature = "async")]
pub use transaction::Transaction;
