//! Database names: checked before any I/O, always sent as quoted identifiers.
//!
//! Defined in a module below [`crate::error`] (whose [`Error::InvalidName`](crate::Error)
//! holds a [`NameError`]) and re-exported here, where they have always been.

pub use crate::dbname::{check, quote_ident, NameError, MAX_NAME_BYTES};
