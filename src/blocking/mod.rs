//! The blocking facade: the async [`crate::Connection`] driven by its own current-thread
//! tokio runtime. Nothing is spawned; each call blocks the calling thread until done.
//!
//! [`Connection`] is defined in this tree, below the cluster layer; the blocking
//! [`Cluster`] is the cluster layer's own (`cluster::blocking`), re-exported here.

pub(crate) mod connection;
mod copy;
mod transaction;

pub use crate::cluster::blocking::{get_cluster, Cluster};
pub use connection::Connection;
pub use transaction::BlockingTransaction;
