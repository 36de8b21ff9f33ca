//! A bounded cursor over a message body: no read can go past its end.
//!
//! Every read checks its length against what is left. Running out of bytes is the error
//! the reader was built with: `LengthMismatch` for most messages (libpq 13's
//! `message contents do not agree with length in message type "%c"`), `InsufficientData`
//! for the ones where libpq says `insufficient data in "%c" message` (`T`, `t`, `D`).
//! [`Reader::finish`] refuses bytes left over, always with `LengthMismatch`.
//!
//! ```
//! use pgcluster_protocol::reader::Reader;
//! use pgcluster_protocol::ProtocolError;
//!
//! let mut r = Reader::new(b'C', b"SELECT 1\0");
//! assert_eq!(r.cstr().unwrap(), b"SELECT 1");
//! r.finish().unwrap();
//!
//! let mut r = Reader::new(b'Z', b"I?");
//! assert_eq!(r.u8().unwrap(), b'I');
//! assert_eq!(r.finish(), Err(ProtocolError::LengthMismatch { tag: b'Z' }));
//! ```

use crate::ProtocolError;

/// A cursor over one message body.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
    tag: u8,
    short: ProtocolError,
}

impl<'a> Reader<'a> {
    /// A reader whose short reads are `LengthMismatch { tag }`.
    pub fn new(tag: u8, body: &'a [u8]) -> Self {
        Self {
            rest: body,
            tag,
            short: ProtocolError::LengthMismatch { tag },
        }
    }

    /// A reader whose short reads are `InsufficientData { tag }` (libpq's wording for
    /// `T`, `t` and `D`).
    pub fn insufficient(tag: u8, body: &'a [u8]) -> Self {
        Self {
            rest: body,
            tag,
            short: ProtocolError::InsufficientData { tag },
        }
    }

    /// The message type byte this reader reports in its errors.
    pub fn tag(&self) -> u8 {
        self.tag
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// The error for a read past the end.
    pub fn short_error(&self) -> ProtocolError {
        self.short.clone()
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
        match self.rest.split_at_checked(n) {
            Some((head, tail)) => {
                self.rest = tail;
                Ok(head)
            }
            None => Err(self.short.clone()),
        }
    }

    /// The next `N` bytes as an array.
    fn array<const N: usize>(&mut self) -> Result<[u8; N], ProtocolError> {
        let bytes = self.bytes(N)?;
        <[u8; N]>::try_from(bytes).map_err(|_| self.short.clone())
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, ProtocolError> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    /// A big-endian `i16`.
    pub fn i16(&mut self) -> Result<i16, ProtocolError> {
        self.array().map(i16::from_be_bytes)
    }

    /// A big-endian `u16` (libpq reads 2-byte counts unsigned).
    pub fn u16(&mut self) -> Result<u16, ProtocolError> {
        self.array().map(u16::from_be_bytes)
    }

    /// A big-endian `i32`.
    pub fn i32(&mut self) -> Result<i32, ProtocolError> {
        self.array().map(i32::from_be_bytes)
    }

    /// A big-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, ProtocolError> {
        self.array().map(u32::from_be_bytes)
    }

    /// A NUL-terminated string, without its NUL. The NUL must be inside the body.
    pub fn cstr(&mut self) -> Result<&'a [u8], ProtocolError> {
        let nul = self
            .rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| self.short.clone())?;
        let s = self.bytes(nul)?;
        self.bytes(1)?;
        Ok(s)
    }

    /// A NUL-terminated string decoded lossily (the server may send invalid UTF-8), as
    /// [`lossy_string`] decodes it.
    pub fn string(&mut self) -> Result<String, ProtocolError> {
        self.cstr().map(lossy_string)
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.rest)
    }

    /// Succeeds only if every byte was read; otherwise `LengthMismatch { tag }`.
    pub fn finish(&self) -> Result<(), ProtocolError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(ProtocolError::LengthMismatch { tag: self.tag })
        }
    }
}

/// `bytes` as text, each invalid UTF-8 sequence replaced by U+FFFD: exactly
/// [`String::from_utf8_lossy`], but valid text (what servers nearly always send) takes
/// [`std::str::from_utf8`]'s faster check and is copied once.
///
/// ```
/// use pgcluster_protocol::reader::lossy_string;
///
/// assert_eq!(lossy_string(b"caf\xc3\xa9"), "café");
/// assert_eq!(lossy_string(b"a\xffb"), "a\u{fffd}b");
/// ```
pub fn lossy_string(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => {
            // Grown while each bad byte became three: what is kept is what it holds.
            let mut text = String::from_utf8_lossy(bytes).into_owned();
            text.shrink_to_fit();
            text
        }
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

    #[test]
    fn reads_integers_big_endian() {
        let body = [
            0x01, 0x02, 0xff, 0xfe, 0x80, 0x00, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff, 7,
        ];
        let mut r = Reader::new(b'K', &body);
        assert_eq!(r.i16(), Ok(0x0102));
        assert_eq!(r.u16(), Ok(0xfffe));
        assert_eq!(r.i32(), Ok(i32::MIN + 1));
        assert_eq!(r.u32(), Ok(u32::MAX));
        assert_eq!(r.u8(), Ok(7));
        assert_eq!(r.remaining(), 0);
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn short_reads_use_the_configured_error() {
        let mut r = Reader::new(b'Z', &[1, 2, 3]);
        assert_eq!(
            r.i32().map_err(|e| e.to_string()),
            Err("message contents do not agree with length in message type \"Z\"".to_owned())
        );
        // A failed read consumes nothing.
        assert_eq!(r.remaining(), 3);
        let mut r = Reader::insufficient(b'T', &[1]);
        assert_eq!(
            r.i16().map_err(|e| e.to_string()),
            Err("insufficient data in \"T\" message".to_owned())
        );
        assert_eq!(
            r.bytes(2),
            Err(ProtocolError::InsufficientData { tag: b'T' })
        );
        assert_eq!(r.bytes(1), Ok(&[1u8][..]));
        assert_eq!(r.bytes(0), Ok(&[][..]));
        assert_eq!(
            r.bytes(usize::MAX),
            Err(ProtocolError::InsufficientData { tag: b'T' })
        );
    }

    #[test]
    fn cstr_needs_its_nul_inside_the_body() {
        let mut r = Reader::new(b'S', b"a\0bc");
        assert_eq!(r.cstr(), Ok(&b"a"[..]));
        assert_eq!(r.cstr(), Err(ProtocolError::LengthMismatch { tag: b'S' }));
        assert_eq!(r.rest(), b"bc");
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn string_is_lossy() {
        let mut r = Reader::new(b'S', b"a\xffb\0");
        assert_eq!(r.string(), Ok("a\u{fffd}b".to_owned()));
    }

    #[test]
    fn lossy_string_is_from_utf8_lossy() {
        let cases: [&[u8]; 7] = [
            b"",
            b"plain ascii",
            "ünïcödé ✓ 𝄞".as_bytes(),
            b"\xff",
            b"trunc\xe2\x82",
            b"\xed\xa0\x80 surrogate",
            b"mixed \xc3\xa9\xc3 \xf0\x9f\x98\x80\x80",
        ];
        for bytes in cases {
            assert_eq!(
                lossy_string(bytes),
                String::from_utf8_lossy(bytes),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn finish_refuses_trailing_bytes_as_length_mismatch() {
        let r = Reader::insufficient(b'T', b"x");
        assert_eq!(
            r.finish().map_err(|e| e.to_string()),
            Err("message contents do not agree with length in message type \"T\"".to_owned())
        );
    }
}
