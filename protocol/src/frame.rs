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

use std::sync::Arc;

use crate::buffer::Bytes;
use crate::limits::{Limits, LONG_MESSAGE_TYPES, MAX_SHORT_MESSAGE_LEN};
use crate::ProtocolError;

/// Length of a frame header: the type byte and the length word.
const HEADER_LEN: usize = 5;

/// One complete backend message: its type byte and its body (without the length word).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The message type byte, e.g. `b'Z'`.
    pub tag: u8,
    /// The body, `length word - 4` bytes: a range of the reader's buffer, not a copy.
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
///
/// Bytes are received into one shared buffer ([`FrameReader::spare`], then
/// [`FrameReader::commit`]), and frames are ranges of it ([`Bytes`]): cutting a frame
/// copies nothing. Once no frame of the buffer is alive, the unread rest is moved to its
/// front and it is written to again; while one is, the unread rest (the start of a frame
/// not complete yet) moves to a new buffer.
#[derive(Debug)]
pub struct FrameReader {
    /// Every byte is initialized: `data.len()` is the capacity.
    buf: Arc<Vec<u8>>,
    /// `buf[start..end]` is received and not yet cut into frames; `start <= end <= len`.
    start: usize,
    end: usize,
    limits: Limits,
    failed: Option<ProtocolError>,
}

impl FrameReader {
    /// A reader with the given limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            buf: Arc::new(Vec::new()),
            start: 0,
            end: 0,
            limits,
            failed: None,
        }
    }

    /// Appends received bytes. After an error they are dropped: nothing more is buffered.
    pub fn extend_from_slice(&mut self, data: &[u8]) {
        if self.failed.is_some() || data.is_empty() {
            return;
        }
        self.reserve(data.len());
        let (start, end) = (self.end, self.end.saturating_add(data.len()));
        // `reserve` left `buf[end..]` unshared and long enough.
        if let Some(dst) = Arc::get_mut(&mut self.buf).and_then(|b| b.get_mut(start..end)) {
            dst.copy_from_slice(data);
            self.end = end;
        }
    }

    /// The buffer to read into: all the room after the data, at least
    /// [`FrameReader::READ_CHUNK`] bytes (more when the buffer has grown for a large
    /// message, or kept its room after one). Tell the reader how many were filled with
    /// [`FrameReader::commit`]:
    ///
    /// ```
    /// use pgcluster_protocol::frame::FrameReader;
    /// use pgcluster_protocol::limits::Limits;
    /// use std::io::Read;
    ///
    /// let mut socket: &[u8] = b"Z\0\0\0\x05I";
    /// let mut frames = FrameReader::new(Limits::default());
    /// let n = socket.read(frames.spare()).unwrap();
    /// frames.commit(n);
    /// assert_eq!(frames.next_frame().unwrap().unwrap().tag, b'Z');
    /// ```
    ///
    /// (Growth is by doubling, so capacity stays within about twice the bytes actually
    /// buffered plus one chunk.)
    pub fn spare(&mut self) -> &mut [u8] {
        if self.failed.is_some() {
            // Whatever is read now is dropped by `commit`; reuse what is there.
            self.start = 0;
            self.end = 0;
        }
        self.reserve(Self::READ_CHUNK);
        let end = self.end;
        match Arc::get_mut(&mut self.buf) {
            Some(buf) => buf.get_mut(end..).unwrap_or_default(),
            // `reserve` left the buffer unshared.
            None => &mut [],
        }
    }

    /// Records that the first `n` bytes of [`FrameReader::spare`] were filled (more than
    /// it offered counts as all of it). After an error they are dropped.
    pub fn commit(&mut self, n: usize) {
        if self.failed.is_some() {
            return;
        }
        self.end = self.end.saturating_add(n).min(self.buf.len());
    }

    /// Spare room that [`FrameReader::spare`] offers at least.
    pub const READ_CHUNK: usize = 8192;

    /// An empty buffer larger than this is let go rather than kept for the next frames,
    /// so that one large frame does not pin its memory for the connection's life.
    const KEEP: usize = 8 * Self::READ_CHUNK;

    /// Makes `buf[end..]` unshared and at least `extra` bytes long.
    ///
    /// Growth is by doubling, but never past the end of the frame being received when its
    /// header is here: a frame of n bytes leaves a buffer of n bytes (not up to 2n), and a
    /// header claiming more than was sent makes the buffer grow only with what arrives.
    fn reserve(&mut self, extra: usize) {
        let unread = self.end.saturating_sub(self.start);
        let needed = unread.saturating_add(extra);
        // The whole frame's size (type byte and length word), once its header is here.
        let frame = self
            .unread()
            .get(1..HEADER_LEN)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .and_then(|b| usize::try_from(u32::from_be_bytes(b)).ok())
            .map(|len| len.saturating_add(1));
        let grown = |doubled: usize| match frame {
            Some(frame) => doubled.min(needed.max(frame.saturating_add(Self::READ_CHUNK))),
            None => doubled,
        };
        if let Some(buf) = Arc::get_mut(&mut self.buf) {
            if unread == 0 && buf.len() > Self::KEEP.max(needed) {
                *buf = vec![0; needed.max(Self::READ_CHUNK)];
                self.start = 0;
                self.end = 0;
                return;
            }
            if buf.len().saturating_sub(self.end) >= extra {
                return;
            }
            // Move the unread rest to the front; grow (doubling) if that is not enough.
            buf.copy_within(self.start..self.end, 0);
            self.start = 0;
            self.end = unread;
            if buf.len() < needed {
                let len = grown(needed.max(buf.len().saturating_mul(2)));
                // Exactly: `resize` alone would double the capacity again past `len`.
                buf.reserve_exact(len.saturating_sub(buf.len()));
                buf.resize(len, 0);
            }
            return;
        }
        // A frame still holds the buffer: start a new one with the unread rest.
        let len = grown(needed.max(unread.saturating_mul(2)));
        let mut fresh = vec![0; len];
        if let (Some(dst), Some(src)) =
            (fresh.get_mut(..unread), self.buf.get(self.start..self.end))
        {
            dst.copy_from_slice(src);
        }
        self.buf = Arc::new(fresh);
        self.start = 0;
        self.end = unread;
    }

    /// The received bytes not yet cut into frames.
    fn unread(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or_default()
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, ProtocolError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let Some(header) = self.unread().get(..HEADER_LEN) else {
            return Ok(None);
        };
        let (tag, body_len) = match check_header(header, &self.limits) {
            Ok(parts) => parts,
            Err(err) => {
                self.failed = Some(err.clone());
                self.buf = Arc::new(Vec::new());
                self.start = 0;
                self.end = 0;
                return Err(err);
            }
        };
        let frame_len = match HEADER_LEN.checked_add(body_len) {
            Some(n) if n <= self.buffered() => n,
            _ => return Ok(None),
        };
        // Both within `start..end`: checked above.
        let body_start = self.start.saturating_add(HEADER_LEN);
        let frame_end = self.start.saturating_add(frame_len);
        let Some(body) = Bytes::shared(&self.buf, body_start, frame_end) else {
            return Ok(None);
        };
        self.start = frame_end;
        Ok(Some(Frame { tag, body }))
    }

    /// How many received bytes are not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// The received bytes not yet returned as frames (empty after an error), for a caller
    /// that must look at raw bytes before framing them, as libpq does during startup
    /// (see [`Startup::next_frame`](crate::startup::Startup::next_frame)).
    pub fn peek(&self) -> &[u8] {
        self.unread()
    }

    /// Capacity of the internal buffer (for tests of bounded memory).
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Takes one raw byte (the single-byte reply to SSLRequest / GSSENCRequest).
    /// `None` if no byte is buffered.
    pub fn take_byte(&mut self) -> Option<u8> {
        if self.failed.is_some() {
            return None;
        }
        let byte = *self.unread().first()?;
        self.start = self.start.saturating_add(1);
        Some(byte)
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

    /// Reads `data` as the I/O layer does: into `spare`, then `commit`.
    fn receive(r: &mut FrameReader, mut data: &[u8]) {
        while !data.is_empty() {
            let spare = r.spare();
            assert!(spare.len() >= FrameReader::READ_CHUNK);
            let n = spare.len().min(data.len());
            spare[..n].copy_from_slice(&data[..n]);
            r.commit(n);
            data = &data[n..];
        }
    }

    #[test]
    fn spare_offers_one_chunk() {
        let mut r = FrameReader::new(Limits::default());
        let buf = r.spare();
        assert!(buf.len() >= FrameReader::READ_CHUNK);
        assert!(buf.len() <= 2 * FrameReader::READ_CHUNK);
        let z = msg(b'Z', b"I");
        buf[..z.len()].copy_from_slice(&z);
        r.commit(z.len());
        let f = r.next_frame().unwrap().unwrap();
        assert_eq!(f, Frame::new(b'Z', &b"I"[..]));
        // Committing more than was offered counts as all of it, never past the buffer.
        let offered = r.spare().len();
        r.commit(usize::MAX);
        assert_eq!(r.buffered(), offered);
    }

    #[test]
    fn the_buffer_is_reused_once_frames_are_gone_and_left_alone_while_they_live() {
        let mut r = FrameReader::new(Limits::default());
        let z = msg(b'Z', b"I");
        // A frame and the first 3 bytes of the next.
        receive(&mut r, &[&z[..], &z[..3]].concat());
        let first = r.next_frame().unwrap().unwrap();
        let held = Arc::clone(&r.buf);
        // Room enough, but the frame is alive: the rest moves, the frame keeps its bytes.
        receive(&mut r, &z[3..]);
        assert!(!Arc::ptr_eq(&held, &r.buf));
        assert_eq!(first.body.as_slice(), b"I");
        assert_eq!(r.next_frame().unwrap().unwrap(), first);
        drop((first, held));
        // Nothing alive: the same buffer is written again, from the front.
        let before = Arc::as_ptr(&r.buf);
        for _ in 0..10_000 {
            receive(&mut r, &z);
            assert_eq!(r.next_frame().unwrap().unwrap().tag, b'Z');
        }
        assert_eq!(Arc::as_ptr(&r.buf), before);
        assert!(r.capacity() <= 2 * FrameReader::READ_CHUNK);
    }

    #[test]
    fn a_large_frame_grows_the_buffer_by_doubling() {
        let mut r = FrameReader::new(Limits::default());
        let big = msg(b'D', &vec![1; 1_000_000]);
        let mut grows = 0;
        let mut capacity = 0;
        for piece in big.chunks(1000) {
            receive(&mut r, piece);
            if r.capacity() != capacity {
                grows += 1;
                capacity = r.capacity();
            }
        }
        assert!(grows < 12, "{grows} reallocations");
        // Never past the frame's end (and one chunk): its header said how long it is.
        assert!(r.capacity() <= big.len() + FrameReader::READ_CHUNK);
        assert_eq!(r.next_frame().unwrap().unwrap().body.len(), 1_000_000);
        // Empty again: the large buffer is let go at the next read.
        assert!(r.spare().len() <= 2 * FrameReader::READ_CHUNK);
        assert!(r.capacity() <= FrameReader::KEEP);
    }

    /// A header claiming more than is sent does not make the buffer grow ahead of the
    /// bytes: growth follows what arrives.
    #[test]
    fn a_claimed_length_is_not_allocated_ahead() {
        let mut r = FrameReader::new(Limits::default());
        receive(&mut r, &header(b'D', 1 << 30));
        for _ in 0..100 {
            receive(&mut r, &[0; 1000]);
        }
        assert!(r.capacity() <= 2 * (100_005 + FrameReader::READ_CHUNK));
        assert_eq!(r.next_frame(), Ok(None));
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
        receive(&mut r, &header(b'D', cap));
        assert_eq!(r.next_frame(), Ok(None));
        receive(&mut r, &[0; 100]);
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
        assert!(f.body.shares(&r.buf), "the body is not a copy");
    }
}
