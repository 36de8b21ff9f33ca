//! The old path of the connection's client items (transactions, cancel): they live in
//! [`crate::connection`] now, and are re-exported here so that `pgcluster::client::...`
//! keeps working.

pub use crate::connection::{BlockingTransaction, CancelError, CancelToken, Transaction};
