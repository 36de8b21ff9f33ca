//! Secrets (passwords, salted passwords, SCRAM keys) wiped before their memory is given
//! back.
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
