//! HMAC-SHA-256 (RFC 2104 over FIPS 180-4's SHA-256 from the `sha2` crate), for SCRAM.
//!
//! `HMAC(K, m) = H((K' ^ opad) || H((K' ^ ipad) || m))`, where `K'` is the key zero-padded
//! to SHA-256's 64-byte block, or the key's digest (padded) when the key is longer than a
//! block. PBKDF2 (`Hi()` in [`crate::auth::scram`]) runs its rounds on SHA-256's
//! compression function directly, from the states after the two padded key blocks
//! ([`key_block`] gives it the block). Checked against RFC 4231's test cases and, in the
//! property tests and a fuzz target, against the `hmac` crate.
//!
//! ```
//! use pgcluster_protocol::crypto::hmac::HmacSha256;
//!
//! // RFC 4231, test case 2.
//! let mut mac = HmacSha256::new(b"Jefe");
//! mac.update(b"what do ya want ");
//! mac.update(b"for nothing?");
//! let tag = mac.finalize();
//! assert_eq!(tag[..4], [0x5b, 0xdc, 0xc1, 0x46]);
//! assert_eq!(tag, HmacSha256::mac(b"Jefe", b"what do ya want for nothing?"));
//!
//! let mut mac = HmacSha256::new(b"Jefe");
//! mac.update(b"what do ya want for nothing?");
//! assert!(mac.verify(&tag));
//! ```

use sha2::{Digest, Sha256};

/// Bytes in one SHA-256 block, and so in HMAC's padded key.
pub const BLOCK_LEN: usize = 64;

/// Bytes in an HMAC-SHA-256 tag (a SHA-256 digest).
pub const TAG_LEN: usize = 32;

/// RFC 2104's inner pad byte.
pub(crate) const IPAD: u8 = 0x36;
/// RFC 2104's outer pad byte.
pub(crate) const OPAD: u8 = 0x5c;

/// HMAC's key block `K'`: `key` zero-padded to [`BLOCK_LEN`] bytes, or its SHA-256 digest
/// (zero-padded) when `key` is longer than a block.
pub fn key_block(key: &[u8]) -> [u8; BLOCK_LEN] {
    let mut block = [0u8; BLOCK_LEN];
    if key.len() > BLOCK_LEN {
        for (b, d) in block.iter_mut().zip(Sha256::digest(key)) {
            *b = d;
        }
    } else {
        for (b, k) in block.iter_mut().zip(key) {
            *b = *k;
        }
    }
    block
}

/// An HMAC-SHA-256 computation in progress: the inner hash with the message so far and
/// the outer hash with its key block. Cloning one keyed computation reuses both key
/// blocks' hashing. `Debug` shows nothing of the key.
#[derive(Clone)]
pub struct HmacSha256 {
    inner: Sha256,
    outer: Sha256,
}

impl std::fmt::Debug for HmacSha256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacSha256 { .. }")
    }
}

impl HmacSha256 {
    /// A computation keyed with `key` (any length, as RFC 2104 allows).
    pub fn new(key: &[u8]) -> Self {
        let key = key_block(key);
        let mut inner = Sha256::new();
        inner.update(key.map(|k| k ^ IPAD));
        let mut outer = Sha256::new();
        outer.update(key.map(|k| k ^ OPAD));
        Self { inner, outer }
    }

    /// The tag of `data` under `key` in one call.
    pub fn mac(key: &[u8], data: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = Self::new(key);
        mac.update(data);
        mac.finalize()
    }

    /// Appends `data` to the message.
    pub fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    /// The tag of the message.
    pub fn finalize(self) -> [u8; TAG_LEN] {
        let Self { inner, mut outer } = self;
        outer.update(inner.finalize());
        outer.finalize().into()
    }

    /// Whether the message's tag is `expected`, compared in time independent of where
    /// they differ (a wrong length is `false` at once: lengths are public).
    pub fn verify(self, expected: &[u8]) -> bool {
        constant_time_eq(&self.finalize(), expected)
    }
}

/// `a == b`, looking at every byte whatever the first difference (for equal lengths).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| {
        // black_box keeps the optimiser from turning the fold into an early exit.
        std::hint::black_box(acc | (x ^ y))
    });
    diff == 0
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;

    fn unhex(text: &str) -> Vec<u8> {
        let text: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        text.chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    /// RFC 4231, section 4: the HMAC-SHA-256 results of test cases 1-7 (case 5's output is
    /// truncated to 128 bits there; compared on that prefix).
    #[test]
    fn rfc_4231_test_cases() {
        let cases: [(Vec<u8>, Vec<u8>, &str); 7] = [
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            (
                (1..=25).collect(),
                vec![0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                vec![0x0c; 20],
                b"Test With Truncation".to_vec(),
                "a3b6167473100ee06e0c796c2955552b",
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                vec![0xaa; 131],
                b"This is a test using a larger than block-size key and a larger than \
                  block-size data. The key needs to be hashed before being used by the \
                  HMAC algorithm."
                    .to_vec(),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (n, (key, data, want)) in cases.iter().enumerate() {
            let want = unhex(want);
            let tag = HmacSha256::mac(key, data);
            assert_eq!(tag[..want.len()], want[..], "test case {}", n + 1);
        }
    }

    #[test]
    fn verify_takes_only_the_right_tag() {
        let tag = HmacSha256::mac(b"key", b"message");
        let keyed = || {
            let mut mac = HmacSha256::new(b"key");
            mac.update(b"message");
            mac
        };
        assert!(keyed().verify(&tag));
        for at in [0, 15, 31] {
            let mut wrong = tag;
            wrong[at] ^= 1;
            assert!(!keyed().verify(&wrong), "byte {at} flipped");
        }
        assert!(!keyed().verify(&tag[..31]));
        assert!(!keyed().verify(&[]));
    }

    #[test]
    fn key_blocks_pad_short_keys_and_hash_long_ones() {
        let short = key_block(b"abc");
        assert_eq!(&short[..3], b"abc");
        assert!(short[3..].iter().all(|&b| b == 0));
        assert_eq!(key_block(&[7; 64]), [7; 64]);
        let long = key_block(&[7; 65]);
        assert_eq!(long[..32], Sha256::digest([7; 65])[..]);
        assert!(long[32..].iter().all(|&b| b == 0));
    }

    #[test]
    fn debug_shows_nothing_of_the_key() {
        assert_eq!(
            format!("{:?}", HmacSha256::new(b"hunter2")),
            "HmacSha256 { .. }"
        );
    }
}
