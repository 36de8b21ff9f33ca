//! Secrets (passwords, salted passwords, SCRAM keys) wiped before their memory is given
//! back, as they are kept: in a `Secret` or a `ScramKeys`. Transient copies are not:
//! the password message on its way to the socket (cleartext, or MD5's inner digest),
//! and the keys' intermediate values on the stack while they are derived.
//!
//! With the `zeroize` feature (which pgcluster's `tls` feature turns on: the crate is in
//! every TLS build's tree through rustls anyway) the wipe is zeroize's volatile writes.
//! Without it the bytes are overwritten and then passed to [`std::hint::black_box`], so
//! that the compiler must assume they are read: the best safe Rust can do (this crate
//! forbids `unsafe`), and what keeps the blocking build's tree at its size.

use std::ops::{Deref, DerefMut};

/// Overwrites `bytes` with zeros, in a way the compiler does not remove.
pub(crate) fn wipe(bytes: &mut [u8]) {
    #[cfg(feature = "zeroize")]
    zeroize::Zeroize::zeroize(bytes);
    #[cfg(not(feature = "zeroize"))]
    {
        bytes.fill(0);
        std::hint::black_box(&*bytes);
    }
}

/// Wipes a string that held a secret (a password from a setting, the environment or a
/// password file): every byte of its buffer, spare capacity included, is overwritten as
/// the other secrets of this crate are, and the string is left empty, its buffer kept.
///
/// ```
/// let mut password = String::from("s3cret");
/// pgcluster_protocol::secret::wipe_string(&mut password);
/// assert!(password.is_empty());
/// ```
pub fn wipe_string(text: &mut String) {
    // The string's own buffer, taken without a copy (no `unsafe` needed).
    let mut bytes = std::mem::take(text).into_bytes();
    wipe_vec(&mut bytes);
    // Empty bytes are valid UTF-8: the buffer goes back to the string.
    *text = String::from_utf8(bytes).unwrap_or_default();
}

/// Wipes a byte buffer that held secrets (a password file's contents, say), spare
/// capacity included, and leaves it empty, its buffer kept.
pub fn wipe_vec(bytes: &mut Vec<u8>) {
    bytes.wipe();
}

/// What a [`Secret`] can hold.
pub(crate) trait Wipe {
    /// Overwrites every byte it holds, spare capacity included.
    fn wipe(&mut self);
}

impl<const N: usize> Wipe for [u8; N] {
    fn wipe(&mut self) {
        wipe(self);
    }
}

impl Wipe for Vec<u8> {
    fn wipe(&mut self) {
        // Within the capacity, so nothing is reallocated.
        self.resize(self.capacity(), 0);
        wipe(self);
        self.clear();
    }
}

/// A value wiped when dropped; it derefs to what it holds.
pub(crate) struct Secret<T: Wipe>(T);

impl<T: Wipe> Secret<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(value)
    }
}

impl<T: Wipe> Deref for Secret<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Wipe> DerefMut for Secret<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: Wipe> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.wipe();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wiped_vectors_keep_their_buffer_and_hold_zeros() {
        let mut v = Vec::with_capacity(16);
        v.extend_from_slice(b"secret");
        let before = v.as_ptr();
        v.wipe();
        assert!(v.is_empty());
        assert_eq!(v.as_ptr(), before, "not reallocated");
        v.resize(16, 1);
        v.truncate(0);
        let mut a = *b"key!";
        a.wipe();
        assert_eq!(a, [0; 4]);
        let mut s = Secret::new(b"pw".to_vec());
        s.push(b'!');
        assert_eq!(&**s, b"pw!");
    }
}
