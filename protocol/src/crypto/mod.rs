//! The hash functions authentication needs besides SHA-256 (which is the `sha2` crate's,
//! for its hardware-accelerated compression): MD5 for the `md5` method, HMAC-SHA-256 for
//! SCRAM.

pub mod hmac;
pub mod md5;
