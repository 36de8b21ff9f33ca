//! pgcluster: PostgreSQL cluster management on a hand-written wire-protocol client.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod blocking;
pub mod client;
pub mod cluster;
mod connect;
pub mod connection;
pub mod conninfo;
pub mod error;
pub mod rows;
pub mod scram_cache;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "tls")]
pub mod tls;
pub mod transport;

pub use cluster::{get_cluster, Cluster};
pub use connection::Connection;
pub use error::Error;

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
