//! Base64 (RFC 4648, section 4: the standard alphabet, with `=` padding), for SCRAM.
//!
//! [`encode`] pads; [`decode`] is strict, as SCRAM's attributes are canonical: the input
//! is whole 4-symbol groups, `=` appears only as the last one or two symbols of the last
//! group, and the bits a padded group does not use are zero (RFC 4648, section 3.5). It
//! accepts exactly what the `base64` crate's `STANDARD` engine accepts (checked in the
//! property tests and a fuzz target). The server's messages are decoded with PostgreSQL's
//! own, laxer rules in [`crate::auth::scram`].
//!
//! ```
//! use pgcluster_protocol::encoding::base64::{decode, encode, DecodeError};
//!
//! assert_eq!(encode(b"pencil"), "cGVuY2ls");
//! assert_eq!(encode(b"pen"), "cGVu");
//! assert_eq!(encode(b"pe"), "cGU=");
//! assert_eq!(decode(b"cGU=").unwrap(), b"pe");
//! assert_eq!(decode(b"cGU"), Err(DecodeError::Length(3)));
//! assert_eq!(decode(b"cGV="), Err(DecodeError::TrailingBits { offset: 2 }));
//! assert_eq!(
//!     decode(b"cG U").unwrap_err().to_string(),
//!     "invalid base64: byte 0x20 at offset 2"
//! );
//! ```

use std::fmt;

/// The standard alphabet (RFC 4648, table 1).
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Marks a byte outside the alphabet in [`DECODE`].
const INVALID: u8 = 0xff;

/// Each byte's 6-bit value, or [`INVALID`].
#[allow(
    clippy::cast_possible_truncation,
    clippy::indexing_slicing,
    reason = "a const loop over the 64 symbols: i < 64, and a u8 indexes 256 entries"
)]
const DECODE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Why a text is not canonical padded base64.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The length (given) is not a multiple of 4.
    Length(usize),
    /// A byte that is neither in the alphabet nor padding where padding may be.
    Byte {
        /// Where it is.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// The symbol at `offset`, the last before the padding, has bits set that the
    /// decoded bytes do not use.
    TrailingBits {
        /// Where the symbol is.
        offset: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length(len) => {
                write!(f, "invalid base64: length {len} is not a multiple of 4")
            }
            Self::Byte { offset, byte } => {
                write!(f, "invalid base64: byte 0x{byte:02x} at offset {offset}")
            }
            Self::TrailingBits { offset } => {
                write!(
                    f,
                    "invalid base64: unused bits set in the symbol at offset {offset}"
                )
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Length of the encoding of `len` bytes: `4 * ceil(len / 3)`, `None` on overflow.
pub fn encoded_len(len: usize) -> Option<usize> {
    len.div_ceil(3).checked_mul(4)
}

/// The symbol of the low 6 bits of `bits`.
fn symbol(bits: u32) -> u8 {
    // The index is below 64, so `get` always succeeds.
    let index = usize::try_from(bits & 0x3f).unwrap_or_default();
    ALPHABET.get(index).copied().unwrap_or(b'A')
}

/// Appends the padded base64 of `data` to `out`.
pub fn encode_into(data: &[u8], out: &mut Vec<u8>) {
    if let Some(len) = encoded_len(data.len()) {
        out.reserve(len);
    }
    let mut groups = data.chunks_exact(3);
    for group in &mut groups {
        let [a, b, c] = [group.first(), group.get(1), group.get(2)]
            .map(|b| b.copied().map(u32::from).unwrap_or_default());
        let bits = (a << 16) | (b << 8) | c;
        out.extend_from_slice(&[
            symbol(bits >> 18),
            symbol(bits >> 12),
            symbol(bits >> 6),
            symbol(bits),
        ]);
    }
    match *groups.remainder() {
        [a] => {
            let bits = u32::from(a) << 16;
            out.extend_from_slice(&[symbol(bits >> 18), symbol(bits >> 12), b'=', b'=']);
        }
        [a, b] => {
            let bits = (u32::from(a) << 16) | (u32::from(b) << 8);
            out.extend_from_slice(&[
                symbol(bits >> 18),
                symbol(bits >> 12),
                symbol(bits >> 6),
                b'=',
            ]);
        }
        _ => {}
    }
}

/// The padded base64 of `data`.
pub fn encode(data: &[u8]) -> String {
    let mut out = Vec::new();
    encode_into(data, &mut out);
    // Only alphabet symbols and `=` were written: ASCII.
    String::from_utf8(out).unwrap_or_default()
}

/// The bytes `text` encodes, if it is canonical padded base64 (see the module docs).
pub fn decode(text: &[u8]) -> Result<Vec<u8>, DecodeError> {
    if text.len() % 4 != 0 {
        return Err(DecodeError::Length(text.len()));
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let last_group = text.len().saturating_sub(4);
    for (group_at, group) in (0..).step_by(4).zip(text.chunks_exact(4)) {
        let is_last = group_at == last_group;
        // Padding: only in the last group, as its last one or two symbols.
        let pad = match group {
            [.., b'=', b'='] if is_last => 2,
            [.., b'='] if is_last => 1,
            _ => 0,
        };
        let mut bits = 0u32;
        for (at, &byte) in (group_at..).zip(group.iter().take(4 - pad)) {
            let value = DECODE.get(usize::from(byte)).copied().unwrap_or(INVALID);
            if value == INVALID {
                return Err(DecodeError::Byte { offset: at, byte });
            }
            bits = (bits << 6) | u32::from(value);
        }
        let [_, b0, b1, b2] = (bits << (6 * pad)).to_be_bytes();
        match pad {
            0 => out.extend_from_slice(&[b0, b1, b2]),
            1 if b2 == 0 => out.extend_from_slice(&[b0, b1]),
            2 if b1 == 0 => out.push(b0),
            _ => {
                return Err(DecodeError::TrailingBits {
                    offset: group_at.saturating_add(3 - pad),
                })
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;

    /// RFC 4648, section 10.
    #[test]
    fn rfc_4648_test_vectors() {
        let cases: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
        ];
        for (data, text) in cases {
            assert_eq!(encode(data), text);
            assert_eq!(decode(text.as_bytes()).unwrap(), data, "{text}");
        }
    }

    #[test]
    fn every_byte_value_round_trips() {
        let data: Vec<u8> = (0..=255).collect();
        for len in 0..=data.len() {
            let text = encode(&data[..len]);
            assert_eq!(Some(text.len()), encoded_len(len));
            assert_eq!(decode(text.as_bytes()).unwrap(), &data[..len]);
        }
        assert_eq!(
            encode(&[0xfb, 0xff, 0xbf]),
            "+/+/",
            "the two last symbols are + and /"
        );
    }

    #[test]
    fn refuses_what_is_not_canonical() {
        use DecodeError::*;
        let cases: [(&[u8], DecodeError); 14] = [
            (b"Z", Length(1)),
            (b"Zm9", Length(3)),
            (b"Zg=", Length(3)),
            (b"Zg===", Length(5)),
            (b"Zg", Length(2)),
            (
                b"====",
                Byte {
                    offset: 0,
                    byte: b'=',
                },
            ),
            (
                b"Z===",
                Byte {
                    offset: 1,
                    byte: b'=',
                },
            ),
            (
                b"Zg==Zg==",
                Byte {
                    offset: 2,
                    byte: b'=',
                },
            ),
            (
                b"Z=g=",
                Byte {
                    offset: 1,
                    byte: b'=',
                },
            ),
            (b"Zm9v\nYg==", Length(9)),
            (
                b"Zm9vY g=",
                Byte {
                    offset: 5,
                    byte: b' ',
                },
            ),
            (
                b"Zm-v",
                Byte {
                    offset: 2,
                    byte: b'-',
                },
            ),
            (b"Zh==", TrailingBits { offset: 1 }),
            (b"Zm9=", TrailingBits { offset: 2 }),
        ];
        for (text, want) in cases {
            assert_eq!(
                decode(text),
                Err(want),
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
        assert_eq!(decode(b"Zm8=").unwrap(), b"fo");
        assert_eq!(
            decode(b"\xff\xff\xff\xff"),
            Err(Byte {
                offset: 0,
                byte: 0xff
            })
        );
    }

    #[test]
    fn error_texts() {
        assert_eq!(
            DecodeError::Length(5).to_string(),
            "invalid base64: length 5 is not a multiple of 4"
        );
        assert_eq!(
            DecodeError::TrailingBits { offset: 2 }.to_string(),
            "invalid base64: unused bits set in the symbol at offset 2"
        );
    }
}
