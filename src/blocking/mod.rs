//! The blocking API: the same connection and cluster code as the async API, on the
//! blocking driver's std sockets (no tokio, no runtime, no other thread). Each call
//! blocks the calling thread until done.
//!
//! This tree is a facade over the layers below it: [`Connection`] runs the connection
//! layer's code, and [`Cluster`] the cluster layer's, each call to its end on the calling
//! thread.

mod cluster;
pub(crate) mod connection;
mod copy;
mod transaction;

pub use cluster::{get_cluster, Cluster};
pub use connection::Connection;
pub use transaction::BlockingTransaction;
