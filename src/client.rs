//! The old path of the connection's client items (transactions, cancel): they live in
//! [`crate::connection`] and [`crate::blocking`] now, and are re-exported here so that
//! `pgcluster::client::...` keeps working.

#[cfg(feature = "blocking")]
pub use crate::blocking::BlockingTransaction;
pub use crate::connection::{CancelError, CancelToken, Transaction};
