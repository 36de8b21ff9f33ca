//! The connection as a complete client, for both the async [`crate::Connection`] and the
//! blocking [`crate::blocking::Connection`]: transactions and autocommit, `cancel()`
//! through CancelRequest, waiting for LISTEN/NOTIFY notifications, COPY in and out, and
//! conveniences on [`QueryResult`](crate::connection::QueryResult).

mod cancel;
mod copy;
mod notify;
mod results;
mod transaction;

pub use cancel::{CancelError, CancelToken};
pub use transaction::{BlockingTransaction, Transaction};
