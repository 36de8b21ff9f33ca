//! The blocking API: the same connection and cluster code as the async API, on the
//! blocking driver's std sockets (no tokio, no runtime, no other thread). Each call
//! blocks the calling thread until done.
//!
//! [`Connection`] is defined in this tree, below the cluster layer; the blocking
//! [`Cluster`] is the cluster layer's own (`cluster::blocking`), re-exported here.

pub(crate) mod connection;
mod copy;
mod transaction;

pub use crate::cluster::blocking::{get_cluster, Cluster};
pub use connection::Connection;
pub use transaction::BlockingTransaction;
