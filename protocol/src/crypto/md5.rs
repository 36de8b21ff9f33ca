//! MD5 (RFC 1321), for PostgreSQL's `md5` password authentication only.
//!
//! MD5 is broken as a cryptographic hash; PostgreSQL's md5 method still uses it, and this
//! is all it is here for (see [`crate::auth::md5`]). Checked against RFC 1321's test suite
//! and, in the property tests and a fuzz target, against the `md-5` crate.
//!
//! ```
//! use pgcluster_protocol::crypto::md5::Md5;
//!
//! assert_eq!(
//!     Md5::digest(b"abc"),
//!     *b"\x90\x01\x50\x98\x3c\xd2\x4f\xb0\xd6\x96\x3f\x7d\x28\xe1\x7f\x72"
//! );
//! let mut md5 = Md5::new();
//! md5.update(b"a");
//! md5.update(b"bc");
//! assert_eq!(md5.finalize(), Md5::digest(b"abc"));
//! ```

/// Bytes in one MD5 block.
const BLOCK_LEN: usize = 64;

/// Bytes in an MD5 digest.
pub const DIGEST_LEN: usize = 16;

/// RFC 1321's initial state (A, B, C, D), section 3.3.
const INITIAL: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// The padding's bytes: 0x80, then zeros.
const PADDING: [u8; BLOCK_LEN] = {
    let mut pad = [0; BLOCK_LEN];
    pad[0] = 0x80;
    pad
};

/// An MD5 computation in progress: feed it with [`Md5::update`], end it with
/// [`Md5::finalize`].
#[derive(Clone)]
pub struct Md5 {
    state: [u32; 4],
    /// The start of a block not yet complete.
    block: [u8; BLOCK_LEN],
    /// How many bytes of `block` are filled (always `< BLOCK_LEN` between calls).
    filled: usize,
    /// Message length in bytes so far, modulo 2^64 (RFC 1321 keeps the bit length
    /// modulo 2^64, section 3.2).
    len: u64,
}

impl Default for Md5 {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Md5 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The state is derived from a password: not shown.
        f.write_str("Md5 { .. }")
    }
}

impl Md5 {
    /// A computation over the empty message.
    pub fn new() -> Self {
        Self {
            state: INITIAL,
            block: [0; BLOCK_LEN],
            filled: 0,
            len: 0,
        }
    }

    /// The digest of `data` in one call.
    pub fn digest(data: &[u8]) -> [u8; DIGEST_LEN] {
        let mut md5 = Self::new();
        md5.update(data);
        md5.finalize()
    }

    /// Appends `data` to the message.
    pub fn update(&mut self, mut data: &[u8]) {
        // usize fits u64 on every target Rust supports; the length wraps as RFC 1321 says.
        self.len = self
            .len
            .wrapping_add(u64::try_from(data.len()).unwrap_or(u64::MAX));
        if self.filled > 0 {
            let want = BLOCK_LEN.saturating_sub(self.filled);
            let (head, rest) = data.split_at(want.min(data.len()));
            if let Some(dst) = self
                .block
                .get_mut(self.filled..self.filled.saturating_add(head.len()))
            {
                dst.copy_from_slice(head);
            }
            self.filled = self.filled.saturating_add(head.len());
            data = rest;
            if self.filled < BLOCK_LEN {
                return;
            }
            let block = self.block;
            compress(&mut self.state, &block);
            self.filled = 0;
        }
        let mut blocks = data.chunks_exact(BLOCK_LEN);
        for block in &mut blocks {
            if let Ok(block) = <&[u8; BLOCK_LEN]>::try_from(block) {
                compress(&mut self.state, block);
            }
        }
        let rest = blocks.remainder();
        if let Some(dst) = self.block.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        self.filled = rest.len();
    }

    /// The digest of everything passed to [`Md5::update`].
    pub fn finalize(mut self) -> [u8; DIGEST_LEN] {
        // Padding (section 3.1): 0x80, zeros up to 56 mod 64, then the bit length
        // little-endian (section 3.2), modulo 2^64.
        let bits = self.len.wrapping_mul(8).to_le_bytes();
        let pad_len = if self.filled < 56 {
            56usize.saturating_sub(self.filled)
        } else {
            120usize.saturating_sub(self.filled)
        };
        self.update(PADDING.get(..pad_len).unwrap_or_default());
        self.update(&bits);
        debug_assert_eq!(self.filled, 0);
        let mut out = [0u8; DIGEST_LEN];
        for (bytes, word) in out.chunks_exact_mut(4).zip(self.state) {
            bytes.copy_from_slice(&word.to_le_bytes());
        }
        out
    }
}

/// One round operation: `a = b + ((a + f(b, c, d) + x + t) <<< s)`.
macro_rules! step {
    ($f:ident, $a:ident, $b:ident, $c:ident, $d:ident, $x:expr, $s:literal, $t:literal) => {
        $a = $b.wrapping_add(
            $a.wrapping_add($f($b, $c, $d))
                .wrapping_add($x)
                .wrapping_add($t)
                .rotate_left($s),
        );
    };
}

fn f(x: u32, y: u32, z: u32) -> u32 {
    (x & y) | (!x & z)
}

fn g(x: u32, y: u32, z: u32) -> u32 {
    (x & z) | (y & !z)
}

fn h(x: u32, y: u32, z: u32) -> u32 {
    x ^ y ^ z
}

fn i(x: u32, y: u32, z: u32) -> u32 {
    y ^ (x | !z)
}

/// Processes one 64-byte block (RFC 1321, section 3.4; the constants are its table `T`).
fn compress(state: &mut [u32; 4], block: &[u8; BLOCK_LEN]) {
    let mut x = [0u32; 16];
    for (word, bytes) in x.iter_mut().zip(block.chunks_exact(4)) {
        let mut le = [0u8; 4];
        le.copy_from_slice(bytes);
        *word = u32::from_le_bytes(le);
    }
    let [mut a, mut b, mut c, mut d] = *state;

    // Round 1.
    step!(f, a, b, c, d, x[0], 7, 0xd76a_a478);
    step!(f, d, a, b, c, x[1], 12, 0xe8c7_b756);
    step!(f, c, d, a, b, x[2], 17, 0x2420_70db);
    step!(f, b, c, d, a, x[3], 22, 0xc1bd_ceee);
    step!(f, a, b, c, d, x[4], 7, 0xf57c_0faf);
    step!(f, d, a, b, c, x[5], 12, 0x4787_c62a);
    step!(f, c, d, a, b, x[6], 17, 0xa830_4613);
    step!(f, b, c, d, a, x[7], 22, 0xfd46_9501);
    step!(f, a, b, c, d, x[8], 7, 0x6980_98d8);
    step!(f, d, a, b, c, x[9], 12, 0x8b44_f7af);
    step!(f, c, d, a, b, x[10], 17, 0xffff_5bb1);
    step!(f, b, c, d, a, x[11], 22, 0x895c_d7be);
    step!(f, a, b, c, d, x[12], 7, 0x6b90_1122);
    step!(f, d, a, b, c, x[13], 12, 0xfd98_7193);
    step!(f, c, d, a, b, x[14], 17, 0xa679_438e);
    step!(f, b, c, d, a, x[15], 22, 0x49b4_0821);

    // Round 2.
    step!(g, a, b, c, d, x[1], 5, 0xf61e_2562);
    step!(g, d, a, b, c, x[6], 9, 0xc040_b340);
    step!(g, c, d, a, b, x[11], 14, 0x265e_5a51);
    step!(g, b, c, d, a, x[0], 20, 0xe9b6_c7aa);
    step!(g, a, b, c, d, x[5], 5, 0xd62f_105d);
    step!(g, d, a, b, c, x[10], 9, 0x0244_1453);
    step!(g, c, d, a, b, x[15], 14, 0xd8a1_e681);
    step!(g, b, c, d, a, x[4], 20, 0xe7d3_fbc8);
    step!(g, a, b, c, d, x[9], 5, 0x21e1_cde6);
    step!(g, d, a, b, c, x[14], 9, 0xc337_07d6);
    step!(g, c, d, a, b, x[3], 14, 0xf4d5_0d87);
    step!(g, b, c, d, a, x[8], 20, 0x455a_14ed);
    step!(g, a, b, c, d, x[13], 5, 0xa9e3_e905);
    step!(g, d, a, b, c, x[2], 9, 0xfcef_a3f8);
    step!(g, c, d, a, b, x[7], 14, 0x676f_02d9);
    step!(g, b, c, d, a, x[12], 20, 0x8d2a_4c8a);

    // Round 3.
    step!(h, a, b, c, d, x[5], 4, 0xfffa_3942);
    step!(h, d, a, b, c, x[8], 11, 0x8771_f681);
    step!(h, c, d, a, b, x[11], 16, 0x6d9d_6122);
    step!(h, b, c, d, a, x[14], 23, 0xfde5_380c);
    step!(h, a, b, c, d, x[1], 4, 0xa4be_ea44);
    step!(h, d, a, b, c, x[4], 11, 0x4bde_cfa9);
    step!(h, c, d, a, b, x[7], 16, 0xf6bb_4b60);
    step!(h, b, c, d, a, x[10], 23, 0xbebf_bc70);
    step!(h, a, b, c, d, x[13], 4, 0x289b_7ec6);
    step!(h, d, a, b, c, x[0], 11, 0xeaa1_27fa);
    step!(h, c, d, a, b, x[3], 16, 0xd4ef_3085);
    step!(h, b, c, d, a, x[6], 23, 0x0488_1d05);
    step!(h, a, b, c, d, x[9], 4, 0xd9d4_d039);
    step!(h, d, a, b, c, x[12], 11, 0xe6db_99e5);
    step!(h, c, d, a, b, x[15], 16, 0x1fa2_7cf8);
    step!(h, b, c, d, a, x[2], 23, 0xc4ac_5665);

    // Round 4.
    step!(i, a, b, c, d, x[0], 6, 0xf429_2244);
    step!(i, d, a, b, c, x[7], 10, 0x432a_ff97);
    step!(i, c, d, a, b, x[14], 15, 0xab94_23a7);
    step!(i, b, c, d, a, x[5], 21, 0xfc93_a039);
    step!(i, a, b, c, d, x[12], 6, 0x655b_59c3);
    step!(i, d, a, b, c, x[3], 10, 0x8f0c_cc92);
    step!(i, c, d, a, b, x[10], 15, 0xffef_f47d);
    step!(i, b, c, d, a, x[1], 21, 0x8584_5dd1);
    step!(i, a, b, c, d, x[8], 6, 0x6fa8_7e4f);
    step!(i, d, a, b, c, x[15], 10, 0xfe2c_e6e0);
    step!(i, c, d, a, b, x[6], 15, 0xa301_4314);
    step!(i, b, c, d, a, x[13], 21, 0x4e08_11a1);
    step!(i, a, b, c, d, x[4], 6, 0xf753_7e82);
    step!(i, d, a, b, c, x[11], 10, 0xbd3a_f235);
    step!(i, c, d, a, b, x[2], 15, 0x2ad7_d2bb);
    step!(i, b, c, d, a, x[9], 21, 0xeb86_d391);

    for (s, v) in state.iter_mut().zip([a, b, c, d]) {
        *s = s.wrapping_add(v);
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// RFC 1321, appendix A.5 ("MD5 test suite").
    #[test]
    fn rfc_1321_test_suite() {
        let cases: [(&[u8], &str); 7] = [
            (b"", "d41d8cd98f00b204e9800998ecf8427e"),
            (b"a", "0cc175b9c0f1b6a831c399e269772661"),
            (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
            (b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                b"abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
            (
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                "d174ab98d277d9f5a5611c2c9f419d9f",
            ),
            (
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(hex(&Md5::digest(input)), want, "{input:?}");
        }
    }

    #[test]
    fn any_split_of_the_input_gives_the_same_digest() {
        // Lengths around the padding boundary (55, 56, 63, 64) and several blocks.
        let data: Vec<u8> = (0..200u8).collect();
        for len in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 200] {
            let whole = Md5::digest(&data[..len]);
            for cut in 0..=len {
                let mut md5 = Md5::new();
                md5.update(&data[..cut]);
                md5.update(&[]);
                md5.update(&data[cut..len]);
                assert_eq!(md5.finalize(), whole, "len {len}, cut at {cut}");
            }
        }
    }

    #[test]
    fn debug_shows_no_state() {
        let mut md5 = Md5::new();
        md5.update(b"secret");
        assert_eq!(format!("{md5:?}"), "Md5 { .. }");
    }
}
