//! Sans-IO core of the PostgreSQL frontend/backend protocol, versions 3.0 and 3.2, for
//! clients.
//!
//! This crate never touches a socket, a clock or a random-number generator: bytes go in,
//! bytes and typed events come out. The I/O layer (the `pgcluster` crate) moves bytes
//! between a socket and these machines; tests and fuzzers drive the same machines from
//! memory.
//!
//! - [`frame::FrameReader`] cuts a byte stream into [`frame::Frame`]s, bounded by [`limits::Limits`].
//! - [`backend::BackendMessage`] decodes a frame; [`frontend`] encodes what a client sends.
//! - [`startup::Startup`] runs the startup and authentication exchange, with the
//!   protocol version negotiation of [`version`] and the cancel keys of [`backend_key`].
//! - [`query`] checks the order of a query's replies and turns them into events.
//! - [`ssl::Negotiation`] reads the answer to SSLRequest, with the CVE-2021-23222 and
//!   CVE-2024-10977 guards.
//! - Its own small codecs, so that `sha2` is its one dependency: [`buffer::Bytes`] (frames
//!   as shared ranges of the reader's buffer), [`crypto::md5`], [`crypto::hmac`]
//!   (HMAC-SHA-256) and [`encoding::base64`].
//!
//! Every hostile-server case has a unit test asserting libpq 13's text; property tests
//! (deterministic, in `src/proptests.rs`) round-trip every frontend and backend message
//! and check the frame reader's chunking equivalence and the query machines' order rules;
//! `fuzz/` runs cargo-fuzz targets over harnesses compiled in with the `fuzzing` feature.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]
#![deny(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

pub mod auth;
pub mod backend;
pub mod backend_key;
pub mod buffer;
pub mod crypto;
pub mod encoding;
pub mod error;
pub mod error_fields;
pub mod frame;
pub mod frontend;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod kept;
pub mod limits;
pub mod parameters;
#[cfg(test)]
mod proptests;
pub mod query;
pub mod reader;
pub mod secret;
pub mod ssl;
pub mod startup;
pub mod version;

pub use error::ProtocolError;
