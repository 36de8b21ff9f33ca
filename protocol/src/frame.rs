//! Cutting the server's byte stream into frames: a type byte, a length word, a body.
//!
//! ```
//! use pgcluster_protocol::frame::FrameReader;
//! use pgcluster_protocol::limits::Limits;
//!
//! let mut frames = FrameReader::new(Limits::default());
//! frames.extend_from_slice(b"Z\0\0\0\x05");
//! assert_eq!(frames.next_frame(), Ok(None)); // body not here yet
//! frames.extend_from_slice(b"I");
//! let frame = frames.next_frame().unwrap().unwrap();
//! assert_eq!((frame.tag, &frame.body[..]), (b'Z', &b"I"[..]));
//! assert_eq!(frames.buffered(), 0);
//!
//! frames.extend_from_slice(b"C\0\0\x75\x31"); // 30001 > 30000 for a short type
//! assert_eq!(
//!     frames.next_frame().unwrap_err().to_string(),
//!     "lost synchronization with server: got message type \"C\", length 30001"
//! );
//! ```

use bytes::{Buf, Bytes, BytesMut};

use crate::limits::{Limits, LONG_MESSAGE_TYPES, MAX_SHORT_MESSAGE_LEN};
use crate::ProtocolError;

/// Length of a frame header: the type byte and the length word.
const HEADER_LEN: usize = 5;

/// One complete backend message: its type byte and its body (without the length word).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The message type byte, e.g. `b'Z'`.
    pub tag: u8,
    /// The body, `length word - 4` bytes.
    pub body: Bytes,
}

impl Frame {
    /// A frame from its parts (tests, fake servers).
    pub fn new(tag: u8, body: impl Into<Bytes>) -> Self {
        Self {
            tag,
            body: body.into(),
        }
    }
}

/// Cuts frames out of received bytes. Returns `Ok(None)` until a frame is complete.
///
/// The header (type and length) is checked as soon as its 5 bytes are here; the buffer
/// grows only with bytes actually received, never to the length a frame claims.
/// An error is sticky: every later call returns it again.
#[derive(Debug)]
pub struct FrameReader {
    buf: BytesMut,
    limits: Limits,
    failed: Option<ProtocolError>,
}

impl FrameReader {
    /// A reader with the given limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            buf: BytesMut::new(),
            limits,
            failed: None,
        }
    }

    /// Appends received bytes. After an error they are dropped: nothing more is buffered.
    pub fn extend_from_slice(&mut self, data: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(data);
        }
    }

    /// The buffer to read into (e.g. with tokio's `read_buf`): at least
    /// [`FrameReader::READ_CHUNK`] bytes of spare capacity, never more than that is reserved
    /// ahead of the data.
    ///
    /// (Growth itself is `BytesMut`'s amortized doubling, so capacity stays within about
    /// twice the bytes actually buffered plus one chunk.)
    pub fn read_buf(&mut self) -> &mut BytesMut {
        let spare = self.buf.capacity().saturating_sub(self.buf.len());
        if spare < Self::READ_CHUNK {
            if self.buf.is_empty() {
                // Start afresh instead of growing an allocation frames may still share.
                self.buf = BytesMut::with_capacity(Self::READ_CHUNK);
            } else {
                self.buf.reserve(Self::READ_CHUNK);
            }
        }
        &mut self.buf
    }

    /// Spare capacity reserved by [`FrameReader::read_buf`].
    pub const READ_CHUNK: usize = 8192;

    /// The next complete frame, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, ProtocolError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let Some(header) = self.buf.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let (tag, body_len) = match check_header(header, &self.limits) {
            Ok(parts) => parts,
            Err(err) => {
                self.failed = Some(err.clone());
                self.buf = BytesMut::new();
                return Err(err);
            }
        };
        // Checked, and within the buffer, so split_to cannot panic.
        let frame_len = match HEADER_LEN.checked_add(body_len) {
            Some(n) if n <= self.buf.len() => n,
            _ => return Ok(None),
        };
        let mut frame = self.buf.split_to(frame_len);
        frame.advance(HEADER_LEN);
        Ok(Some(Frame {
            tag,
            body: frame.freeze(),
        }))
    }

    /// How many received bytes are not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The received bytes not yet returned as frames (empty after an error), for a caller
    /// that must look at raw bytes before framing them, as libpq does during startup
    /// (see [`Startup::next_frame`](crate::startup::Startup::next_frame)).
    pub fn peek(&self) -> &[u8] {
        &self.buf
    }

    /// Capacity of the internal buffer (for tests of bounded memory).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Takes one raw byte (the single-byte reply to SSLRequest / GSSENCRequest).
    /// `None` if no byte is buffered.
    pub fn take_byte(&mut self) -> Option<u8> {
        if self.failed.is_some() || self.buf.is_empty() {
            return None;
        }
        Some(self.buf.get_u8())
    }
}

/// Checks a 5-byte header: the tag and the body length, or libpq's lost-sync error.
fn check_header(header: &[u8], limits: &Limits) -> Result<(u8, usize), ProtocolError> {
    let (&tag, len_word) = header
        .split_first()
        .ok_or(ProtocolError::LostSync { tag: 0, len: 0 })?;
    let len_word: [u8; 4] = len_word
        .try_into()
        .map_err(|_| ProtocolError::LostSync { tag, len: 0 })?;
    let raw = i32::from_be_bytes(len_word);
    let lost = |len| ProtocolError::LostSync { tag, len };
    // Negative (>= 2^31 on the wire) and 0..=3 are both below the minimum.
    let len = u32::try_from(raw)
        .ok()
        .filter(|&n| n >= 4)
        .ok_or(lost(raw))?;
    if LONG_MESSAGE_TYPES.contains(&tag) {
        if len > limits.max_long_message_len {
            // libpq 13 prints the body length when it cannot grow its buffer.
            return Err(lost(raw.saturating_sub(4)));
        }
    } else if len > MAX_SHORT_MESSAGE_LEN {
        return Err(lost(raw));
    }
    let body_len = len
        .checked_sub(4)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or(lost(raw))?;
    Ok((tag, body_len))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;

    fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        let len = u32::try_from(body.len() + 4).unwrap();
        v.extend_from_slice(&len.to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    fn header(tag: u8, len: u32) -> Vec<u8> {
        let mut v = vec![tag];
        v.extend_from_slice(&len.to_be_bytes());
        v
    }

    fn all_frames(reader: &mut FrameReader) -> Result<Vec<Frame>, ProtocolError> {
        let mut out = Vec::new();
        while let Some(f) = reader.next_frame()? {
            out.push(f);
        }
        Ok(out)
    }

    /// The error, as text, for a stream fed in one piece.
    fn error_text(stream: &[u8]) -> String {
        let mut r = FrameReader::new(Limits::default());
        r.extend_from_slice(stream);
        let err = all_frames(&mut r).unwrap_err();
        // Sticky, and nothing stays buffered.
        assert_eq!(r.next_frame(), Err(err.clone()));
        r.extend_from_slice(b"more bytes");
        assert_eq!(r.next_frame(), Err(err.clone()));
        assert_eq!(r.buffered(), 0);
        assert_eq!(r.take_byte(), None);
        err.to_string()
    }

    /// The startup reply of a PostgreSQL 15 server, trust authentication, then the reply
    /// to `select 1 as one` (taken from `backend::tests::CAPTURED_STARTUP_AND_SELECT`).
    fn stream() -> Vec<u8> {
        crate::backend::tests::CAPTURED_STARTUP_AND_SELECT.to_vec()
    }

    #[test]
    fn whole_stream_in_one_piece() {
        let s = stream();
        let mut r = FrameReader::new(Limits::default());
        r.extend_from_slice(&s);
        let frames = all_frames(&mut r).unwrap();
        assert_eq!(r.buffered(), 0);
        let tags: Vec<u8> = frames.iter().map(|f| f.tag).collect();
        assert_eq!(tags.first(), Some(&b'R'));
        assert_eq!(tags.last(), Some(&b'Z'));
        let total: usize = frames.iter().map(|f| f.body.len() + 5).sum();
        assert_eq!(total, s.len());
    }

    #[test]
    fn every_proper_prefix_is_not_yet() {
        let one = msg(b'C', b"SELECT 1\0");
        for cut in 0..one.len() {
            let mut r = FrameReader::new(Limits::default());
            r.extend_from_slice(&one[..cut]);
            assert_eq!(r.next_frame(), Ok(None), "prefix of {cut} bytes");
            assert_eq!(r.buffered(), cut);
        }
        let s = stream();
        let mut whole = FrameReader::new(Limits::default());
        whole.extend_from_slice(&s);
        let frames = all_frames(&mut whole).unwrap();
        for cut in 0..s.len() {
            let mut r = FrameReader::new(Limits::default());
            r.extend_from_slice(&s[..cut]);
            let got = all_frames(&mut r).unwrap();
            // Only complete frames come out, and they are the first ones of the stream.
            assert!(got.len() < frames.len());
            assert_eq!(got[..], frames[..got.len()]);
            let used: usize = got.iter().map(|f| f.body.len() + 5).sum();
            assert_eq!(r.buffered(), cut - used);
        }
    }

    #[test]
    fn split_at_every_offset_gives_the_same_frames() {
        let s = stream();
        let mut whole = FrameReader::new(Limits::default());
        whole.extend_from_slice(&s);
        let expected = all_frames(&mut whole).unwrap();
        for cut in 0..=s.len() {
            let mut r = FrameReader::new(Limits::default());
            let mut got = Vec::new();
            r.extend_from_slice(&s[..cut]);
            got.extend(all_frames(&mut r).unwrap());
            r.extend_from_slice(&s[cut..]);
            got.extend(all_frames(&mut r).unwrap());
            assert_eq!(got, expected, "split at {cut}");
        }
        // And byte by byte.
        let mut r = FrameReader::new(Limits::default());
        let mut got = Vec::new();
        for b in &s {
            r.extend_from_slice(std::slice::from_ref(b));
            got.extend(all_frames(&mut r).unwrap());
        }
        assert_eq!(got, expected);
    }

    #[test]
    fn read_buf_reserves_one_chunk() {
        let mut r = FrameReader::new(Limits::default());
        let buf = r.read_buf();
        assert!(buf.capacity() >= FrameReader::READ_CHUNK);
        assert!(buf.capacity() <= 2 * FrameReader::READ_CHUNK);
        buf.extend_from_slice(&msg(b'Z', b"I"));
        let f = r.next_frame().unwrap().unwrap();
        assert_eq!(f, Frame::new(b'Z', &b"I"[..]));
    }

    #[test]
    fn length_below_four_is_lost_sync_with_raw_length() {
        assert_eq!(
            error_text(&header(b'Z', 3)),
            "lost synchronization with server: got message type \"Z\", length 3"
        );
        assert_eq!(
            error_text(&header(b'D', 0)),
            "lost synchronization with server: got message type \"D\", length 0"
        );
    }

    #[test]
    fn huge_length_word_reads_as_negative() {
        assert_eq!(
            error_text(&header(b'C', 0xFFFF_FFF0)),
            "lost synchronization with server: got message type \"C\", length -16"
        );
        assert_eq!(
            error_text(&header(b'D', 0x8000_0000)),
            "lost synchronization with server: got message type \"D\", length -2147483648"
        );
    }

    #[test]
    fn short_types_are_capped_at_30000() {
        assert_eq!(
            error_text(&header(b'C', 30_001)),
            "lost synchronization with server: got message type \"C\", length 30001"
        );
        assert_eq!(
            error_text(&header(b'C', 40_000)),
            "lost synchronization with server: got message type \"C\", length 40000"
        );
        // 30000 is accepted: not yet complete, no error.
        let mut r = FrameReader::new(Limits::default());
        r.extend_from_slice(&header(b'C', 30_000));
        assert_eq!(r.next_frame(), Ok(None));
        let mut body = vec![b'x'; 29_995];
        body.push(0);
        r.extend_from_slice(&body);
        let f = r.next_frame().unwrap().unwrap();
        assert_eq!((f.tag, f.body.len()), (b'C', 29_996));
    }

    #[test]
    fn long_types_pass_30000() {
        for &tag in LONG_MESSAGE_TYPES {
            let mut r = FrameReader::new(Limits::default());
            r.extend_from_slice(&header(tag, 40_000));
            assert_eq!(r.next_frame(), Ok(None));
            r.extend_from_slice(&vec![0; 39_996]);
            let f = r.next_frame().unwrap().unwrap();
            assert_eq!((f.tag, f.body.len()), (tag, 39_996));
        }
    }

    #[test]
    fn huge_long_message_is_lost_sync_with_body_length_and_no_allocation() {
        assert_eq!(
            error_text(&header(b'D', 0x7FFF_FFF0)),
            "lost synchronization with server: got message type \"D\", length 2147483628"
        );
        // Just under the cap: accepted, waiting for bytes, memory stays small.
        let cap = Limits::default().max_long_message_len;
        let mut r = FrameReader::new(Limits::default());
        r.read_buf().extend_from_slice(&header(b'D', cap));
        assert_eq!(r.next_frame(), Ok(None));
        r.read_buf().extend_from_slice(&[0; 100]);
        assert_eq!(r.next_frame(), Ok(None));
        assert_eq!(r.buffered(), 105);
        assert!(
            r.capacity() <= 2 * FrameReader::READ_CHUNK,
            "{}",
            r.capacity()
        );
        let small = Limits {
            max_long_message_len: 1000,
            ..Limits::default()
        };
        let mut r = FrameReader::new(small);
        r.extend_from_slice(&header(b'N', 1001));
        assert_eq!(
            r.next_frame().unwrap_err().to_string(),
            "lost synchronization with server: got message type \"N\", length 997"
        );
    }

    #[test]
    fn header_is_checked_before_the_body_arrives() {
        let mut r = FrameReader::new(Limits::default());
        r.extend_from_slice(&msg(b'Z', b"I"));
        r.extend_from_slice(&header(b'S', 50_000));
        assert_eq!(r.next_frame().unwrap().unwrap().tag, b'Z');
        assert_eq!(
            r.next_frame(),
            Err(ProtocolError::LostSync {
                tag: b'S',
                len: 50_000
            })
        );
    }

    #[test]
    fn take_byte_for_ssl_reply() {
        let mut r = FrameReader::new(Limits::default());
        assert_eq!(r.take_byte(), None);
        r.extend_from_slice(b"N");
        r.extend_from_slice(&msg(b'Z', b"I"));
        assert_eq!(r.take_byte(), Some(b'N'));
        assert_eq!(r.next_frame().unwrap().unwrap().tag, b'Z');
    }

    #[test]
    fn frames_share_the_buffer() {
        let mut r = FrameReader::new(Limits::default());
        r.extend_from_slice(&msg(b'd', &[7; 1000]));
        let f = r.next_frame().unwrap().unwrap();
        assert_eq!(f.body, Bytes::from(vec![7; 1000]));
        assert_eq!(r.buffered(), 0);
    }
}
