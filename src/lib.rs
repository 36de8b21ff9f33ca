//! pgcluster: PostgreSQL cluster management on a hand-written wire-protocol client.
//!
//! A [`Cluster`](crate::doc_api::Cluster) is the PostgreSQL server a connection setting points at (a rex
//! `pgsql://` URI, a libpq `postgres://` URI or `key=value` string, with the `PG*`
//! environment, `.pgpass` and service files as libpq reads them). It tests, creates,
//! drops, clones, renames, overwrites and lists the databases in that server, and opens
//! connections to any of them (the spec's calls and their names here: [`cluster`]). Everything runs on pgcluster's own client of the
//! PostgreSQL wire protocol (no libpq), and every failure is reported in exactly the words
//! libpq 13 and the server use.
//!
//! # Layers
//!
//! Each layer uses only the ones before it:
//!
//! - **Protocol** — the `pgcluster-protocol` crate (`protocol/`): sans-IO framing with
//!   bounds, the messages, SCRAM-SHA-256 / MD5 / cleartext authentication, ErrorResponse
//!   fields, and the startup and query state machines. No sockets, no clock.
//! - **Connection settings** — [`conninfo`]: parsing and resolving settings as libpq 13
//!   does.
//! - **Connection** — [`connection`] (its transaction and cancel items also under their
//!   old path, [`client`]), the
//!   async `Connection` on tokio (feature `async`): libpq's host and address walk, TLS (`tls`, feature `tls`),
//!   queries (simple and extended, prepared statements), compact or streamed rows
//!   ([`rows`], values by position or by column name), transactions and autocommit, COPY,
//!   LISTEN/NOTIFY and cancel.
//! - **Cluster** — [`cluster`], the async `Cluster` and `get_cluster` (feature `async`):
//!   the database operations of the spec, on one server, touching no database but the one
//!   named.
//! - **Blocking facade** — `blocking` (feature `blocking`): `blocking::Connection` and
//!   `blocking::Cluster`, the same calls without `async`, on std sockets, for programs
//!   with no runtime.
//! - **Testing** — `testing` (feature `testing`): throwaway PostgreSQL servers (initdb and
//!   pg_ctl on a free port, in a private directory, removed on drop) for tests and demos.
//! - **CLI** — the `pgcluster` program (`src/bin/pgcluster/`, feature `cli`), on the
//!   blocking API. Its dependencies never reach library users.
//!
//! # Example
//!
//! A throwaway server, a database made in it, a query, a value read by column name, and
//! the database dropped again (blocking API; this example runs with the `testing` feature,
//! which needs the PostgreSQL server programs installed):
//!
//! ```
//! # #[cfg(feature = "testing")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use pgcluster::blocking::Cluster;
//! use pgcluster::testing::TestServer;
//!
//! let server = TestServer::new()?;
//! // The server's Unix socket, as the superuser, database `postgres`.
//! let cluster = Cluster::new(&server.uri("postgres", "postgres"))?;
//!
//! // Names are any string (`&str`, `String`, `&String`, `Cow<str>`); `None` is the
//! // setting's database.
//! let name = String::from("crate_docs_demo");
//! cluster.create(&name)?;
//! assert!(cluster.exists(&name)?);
//! assert!(cluster.exists(None)?); // `postgres`
//!
//! let mut conn = cluster.connect(&name)?;
//! let result = conn.query(
//!     "SELECT current_database() AS name, $1::int * 2 AS answer",
//!     &[Some("21")],
//! )?;
//! let row = result.row(0).expect("one row");
//! assert_eq!(row.get("name"), Some("crate_docs_demo"));
//! assert_eq!(row.get("answer"), Some("42"));
//! conn.close();
//!
//! // A copy, then both dropped (`drop_database` and `copy_database` are the spec's
//! // `drop` and `clone`: names the std traits do not shadow through an `Arc`).
//! cluster.copy_database(&name, "crate_docs_copy")?;
//! cluster.drop_database("crate_docs_copy")?;
//! cluster.drop_database(&name)?;
//! assert!(!cluster.exists(name)?);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "testing"))]
//! # fn main() {}
//! ```
//!
#![cfg_attr(
    feature = "async",
    doc = "The async API is the same with `.await` on each call: [`get_cluster`] or \
           [`Cluster::new`], and [`Connection`]."
)]
//!
//! # Protocol types
//!
//! The wire-protocol types that appear in this crate's API ([`ErrorFields`],
//! [`TransactionStatus`], [`FieldDescription`], [`ChannelBindingMode`], [`RequireAuth`],
//! [`RequireAuthParseError`]) are re-exported at the crate root, so `pgcluster` alone is
//! enough to name them:
//!
//! ```
//! use pgcluster::connection::QueryResult;
//! use pgcluster::{Error, ErrorFields, FieldDescription, TransactionStatus};
//!
//! # #[cfg(feature = "blocking")]
//! fn idle(conn: &pgcluster::blocking::Connection) -> bool {
//!     conn.transaction_status() == TransactionStatus::Idle
//! }
//! fn sqlstate(e: &Error) -> Option<&str> {
//!     e.server_error().and_then(|f: &ErrorFields| f.code.as_deref())
//! }
//! fn column_names(result: &QueryResult) -> Vec<&str> {
//!     result.columns.iter().map(|c: &FieldDescription| c.name.as_str()).collect()
//! }
//! ```
// One module allows `unsafe`: src/driver/wait.rs, the blocking driver's call to poll(2).
#![deny(unsafe_code, clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

#[cfg(feature = "blocking")]
pub mod blocking;
// Without `async`, the async `Cluster` and `Connection` are crate-private, the cores of
// the blocking ones: their `pub` methods are then reached only through those. Every
// build with `async` still checks `unreachable_pub` in these trees.
#[cfg_attr(
    not(feature = "async"),
    allow(
        unreachable_pub,
        reason = "the async API is crate-private without `async`"
    )
)]
pub mod cluster;
pub mod compat;
mod connect;
#[cfg_attr(
    not(feature = "async"),
    allow(
        unreachable_pub,
        reason = "the async API is crate-private without `async`"
    )
)]
pub mod connection;
pub mod conninfo;
mod dbname;
mod driver;
mod engine;
pub mod error;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod io_text;
mod random;
pub mod rows;
pub mod scram_cache;
#[cfg(any(test, feature = "testing"))]
mod test_certs;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "tls")]
pub mod tls;
mod transport;

/// The `Cluster` and `Connection` that the docs shared by both APIs link to: the async ones,
/// or the blocking ones without `async`, so that no link breaks with either driver alone.
#[cfg(doc)]
mod doc_api {
    #[cfg(not(feature = "async"))]
    pub(crate) use crate::blocking::{Cluster, Connection};
    #[cfg(feature = "async")]
    pub(crate) use crate::{cluster::Cluster, connection::Connection};
}

/// The old path of the connection's client items (transactions, cancel): they live in
/// [`connection`] and `blocking` now, and are re-exported here so that
/// `pgcluster::client::...` keeps working.
pub mod client {
    #[cfg(feature = "blocking")]
    pub use crate::blocking::BlockingTransaction;
    #[cfg(feature = "async")]
    pub use crate::connection::Transaction;
    pub use crate::connection::{CancelError, CancelToken};
}

#[cfg(feature = "async")]
pub use cluster::{get_cluster, Cluster};
#[cfg(feature = "async")]
pub use connection::Connection;
pub use error::Error;

// The protocol crate's types that appear in this crate's public API, re-exported so that
// a user need not depend on `pgcluster-protocol`.
pub use pgcluster_protocol::auth::policy::{
    ChannelBindingMode, RequireAuth, RequireAuthParseError,
};
pub use pgcluster_protocol::backend::{FieldDescription, TransactionStatus};
pub use pgcluster_protocol::error_fields::ErrorFields;
pub use pgcluster_protocol::version::{ProtocolVersion, VersionRange};

/// The README's examples, compiled as doctests. They use the blocking API, of the default
/// features: a build without `blocking` (`async` alone) does not compile them.
#[cfg(all(doctest, feature = "blocking"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
