//! The sans-IO connection engine: no sockets, no clock reads.

#[cfg(feature = "tls")]
#[allow(
    dead_code,
    reason = "the transport's TLS arm uses it from the next commit on"
)]
pub(crate) mod tls;
