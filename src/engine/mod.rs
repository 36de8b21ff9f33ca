//! The sans-IO connection engine: no sockets, no clock reads.
//!
//! Nothing here does I/O, reads the clock or draws random bytes: a machine says what to do
//! next (look up this host, open this address, send these bytes, read, start TLS) and
//! takes the results, with the current time passed in. Both drivers run the same machines.
//!
//! - [`connect`]: libpq 13's connect walk (hosts, addresses, `connect_timeout`, the TLS
//!   plan, startup and authentication, the `target_session_attrs` check).
//! - [`exchange`]: one query's replies: the protocol machine that checks them, skipping to
//!   ReadyForQuery after a violation, the end of the query.
//! - [`copy_in`]: what to send for `COPY ... FROM STDIN`, from what reading the data gave.
//! - [`idle`]: what the server's messages mean while the connection waits for a
//!   notification.
//! - [`target`]: the `target_session_attrs` check's rules (libpq 18's).
//! - [`shuffle`]: `load_balance_hosts=random`'s shuffles, from a seed the caller draws.
//! - [`attempt`]: the typed failures of one attempt; a connect failure is a list of them
//!   whose text is libpq's.
//! - `tls` (feature `tls`): rustls's sans-IO client session over byte buffers.

pub(crate) mod attempt;
pub(crate) mod connect;
pub(crate) mod copy_in;
pub(crate) mod exchange;
pub(crate) mod idle;
pub(crate) mod shuffle;
pub(crate) mod target;
#[cfg(feature = "tls")]
pub(crate) mod tls;
