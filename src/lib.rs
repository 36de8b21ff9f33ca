//! pgcluster: PostgreSQL cluster management on a hand-written wire-protocol client.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod blocking;
mod connect;
pub mod conninfo;
pub mod connection;
pub mod error;
#[cfg(feature = "tls")]
pub mod tls;
pub mod transport;
#[cfg(feature = "testing")]
pub mod testing;

pub use connection::Connection;
pub use error::Error;
