//! Shared, immutable byte slices: a frame's body and what is decoded from it without
//! copying (a DataRow's values, CopyData's payload).
//!
//! [`Bytes`] is a range of a reference-counted `Vec<u8>`. The frame reader
//! ([`FrameReader`](crate::frame::FrameReader)) receives into one such vector and hands
//! out frames as ranges of it: cutting a frame copies nothing, and the vector is written
//! to again (from the front) once no frame of it is alive. Cloning a `Bytes` copies no
//! data either.
//!
//! ```
//! use pgcluster_protocol::buffer::Bytes;
//!
//! let all = Bytes::from(b"key=value".to_vec());
//! let value = all.slice(4..).unwrap();
//! assert_eq!(&value[..], b"value");
//! assert_eq!(value, Bytes::copy_from_slice(b"value"));
//! assert_eq!(format!("{value:?}"), "b\"value\"");
//! assert!(all.slice(4..10).is_none()); // past the end
//! ```

use std::fmt;
use std::ops::{Bound, Deref, RangeBounds};
use std::sync::Arc;

/// An immutable range of shared bytes; derefs to `[u8]`. Equality, ordering and hashing
/// are those of the bytes.
#[derive(Clone)]
pub struct Bytes {
    data: Arc<Vec<u8>>,
    /// `start <= end <= data.len()`, kept by every constructor.
    start: usize,
    end: usize,
}

impl Bytes {
    /// No bytes.
    pub fn new() -> Self {
        Self::from(Vec::new())
    }

    /// A copy of `data`.
    pub fn copy_from_slice(data: &[u8]) -> Self {
        Self::from(data.to_vec())
    }

    /// `data[range]` of a shared vector, if the range lies within it.
    pub(crate) fn shared(data: &Arc<Vec<u8>>, start: usize, end: usize) -> Option<Self> {
        (start <= end && end <= data.len()).then(|| Self {
            data: Arc::clone(data),
            start,
            end,
        })
    }

    /// The sub-range `range` of these bytes (sharing them), `None` if it does not lie
    /// within them.
    pub fn slice(&self, range: impl RangeBounds<usize>) -> Option<Self> {
        let start = match range.start_bound() {
            Bound::Included(&n) => n,
            Bound::Excluded(&n) => n.checked_add(1)?,
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&n) => n.checked_add(1)?,
            Bound::Excluded(&n) => n,
            Bound::Unbounded => self.len(),
        };
        if start > end || end > self.len() {
            return None;
        }
        Self::shared(
            &self.data,
            self.start.checked_add(start)?,
            self.start.checked_add(end)?,
        )
    }

    /// `sub`, a slice borrowed from these bytes (e.g. a value a decoder found in a body),
    /// as a `Bytes` sharing them. A slice from elsewhere is copied, so this never fails.
    pub fn slice_ref(&self, sub: &[u8]) -> Self {
        let base = self.as_slice().as_ptr() as usize;
        let at = (sub.as_ptr() as usize).checked_sub(base);
        let range = at.and_then(|at| Some((at, at.checked_add(sub.len())?)));
        match range {
            Some((start, end)) if end <= self.len() && !sub.is_empty() => self
                .slice(start..end)
                .unwrap_or_else(|| Self::copy_from_slice(sub)),
            _ => Self::copy_from_slice(sub),
        }
    }

    /// Whether these bytes are a range of `data` (tests of zero-copy).
    #[cfg(test)]
    pub(crate) fn shares(&self, data: &Arc<Vec<u8>>) -> bool {
        Arc::ptr_eq(&self.data, data)
    }

    /// The bytes as a slice.
    pub fn as_slice(&self) -> &[u8] {
        self.data.get(self.start..self.end).unwrap_or_default()
    }
}

impl Default for Bytes {
    fn default() -> Self {
        Self::new()
    }
}

impl Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(data: Vec<u8>) -> Self {
        let end = data.len();
        Self {
            data: Arc::new(data),
            start: 0,
            end,
        }
    }
}

impl From<String> for Bytes {
    fn from(text: String) -> Self {
        Self::from(text.into_bytes())
    }
}

impl From<&str> for Bytes {
    fn from(text: &str) -> Self {
        Self::copy_from_slice(text.as_bytes())
    }
}

impl From<&[u8]> for Bytes {
    fn from(data: &[u8]) -> Self {
        Self::copy_from_slice(data)
    }
}

impl<const N: usize> From<&[u8; N]> for Bytes {
    fn from(data: &[u8; N]) -> Self {
        Self::copy_from_slice(data)
    }
}

impl PartialEq for Bytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Bytes {}

impl PartialEq<[u8]> for Bytes {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<&[u8]> for Bytes {
    fn eq(&self, other: &&[u8]) -> bool {
        self.as_slice() == *other
    }
}

impl PartialOrd for Bytes {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Bytes {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl std::hash::Hash for Bytes {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

/// A byte string literal: `b"..."` with `\n`, `\r`, `\t`, `\\`, `\"`, `\0` and `\xNN`
/// escapes, printable ASCII as is.
impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("b\"")?;
        for &b in self.as_slice() {
            match b {
                b'\n' => f.write_str("\\n")?,
                b'\r' => f.write_str("\\r")?,
                b'\t' => f.write_str("\\t")?,
                b'\\' | b'"' => write!(f, "\\{}", char::from(b))?,
                b'\0' => f.write_str("\\0")?,
                0x20..=0x7e => write!(f, "{}", char::from(b))?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        f.write_str("\"")
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
    fn slices_share_and_stay_in_bounds() {
        let all = Bytes::from(b"0123456789".to_vec());
        let mid = all.slice(2..8).unwrap();
        assert_eq!(mid.as_slice(), b"234567");
        assert_eq!(mid.slice(1..=2).unwrap().as_slice(), b"34");
        assert_eq!(mid.slice(..).unwrap(), mid);
        assert_eq!(mid.slice(6..).unwrap().as_slice(), b"");
        assert!(mid.slice(7..).is_none());
        assert!(mid.slice(..7).is_none());
        assert!(mid.slice(..=usize::MAX).is_none());
        assert!(Arc::ptr_eq(&mid.data, &all.data), "no copy");
    }

    #[test]
    fn slice_ref_shares_a_borrowed_part_and_copies_anything_else() {
        let all = Bytes::from(b"0123456789".to_vec());
        let part = all.slice_ref(&all[3..6]);
        assert_eq!(part.as_slice(), b"345");
        assert!(Arc::ptr_eq(&part.data, &all.data), "no copy");
        let tail = all.slice(5..).unwrap();
        assert_eq!(tail.slice_ref(&tail[5..]).as_slice(), b"");
        let elsewhere = tail.slice_ref(&all[..2]);
        assert_eq!(elsewhere.as_slice(), b"01");
        assert!(!Arc::ptr_eq(&elsewhere.data, &all.data));
        let overlapping = tail.slice_ref(&all[4..7]);
        assert_eq!(overlapping.as_slice(), b"456");
    }

    #[test]
    fn equality_and_debug_are_the_bytes() {
        let a = Bytes::copy_from_slice(b"a\n\"\\\0\x7f\xffz");
        let b = Bytes::from(b"xa\n\"\\\0\x7f\xffz".to_vec())
            .slice(1..)
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(a, b"a\n\"\\\0\x7f\xffz"[..]);
        assert_eq!(format!("{a:?}"), r#"b"a\n\"\\\0\x7f\xffz""#);
        assert_eq!(Bytes::new(), Bytes::default());
        assert!(Bytes::new().is_empty());
        let (a, b) = (Bytes::from("a"), Bytes::from(String::from("b")));
        assert!(a < b);
    }
}
