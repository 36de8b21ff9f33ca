//! Text encodings of binary data used by the protocol's authentication.

pub mod base64;
