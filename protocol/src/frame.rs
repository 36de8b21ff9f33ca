//! Cutting the server's byte stream into frames: a type byte, a length word, a body.

use bytes::{Bytes, BytesMut};

use crate::limits::Limits;
use crate::ProtocolError;

/// One complete backend message: its type byte and its body (without the length word).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The message type byte, e.g. `b'Z'`.
    pub tag: u8,
    /// The body, `length word - 4` bytes.
    pub body: Bytes,
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
        let _ = (&limits, BytesMut::new());
        todo!()
    }

    /// Appends received bytes.
    pub fn extend_from_slice(&mut self, data: &[u8]) {
        let _ = data;
        todo!()
    }

    /// The buffer to read into (e.g. with tokio's `read_buf`): at least
    /// [`FrameReader::READ_CHUNK`] bytes of spare capacity, never more than that is reserved
    /// ahead of the data.
    pub fn read_buf(&mut self) -> &mut BytesMut {
        todo!()
    }

    /// Spare capacity reserved by [`FrameReader::read_buf`].
    pub const READ_CHUNK: usize = 8192;

    /// The next complete frame, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, ProtocolError> {
        todo!()
    }

    /// How many received bytes are not yet returned as frames.
    pub fn buffered(&self) -> usize {
        todo!()
    }

    /// Takes one raw byte (the single-byte reply to SSLRequest / GSSENCRequest).
    /// `None` if no byte is buffered.
    pub fn take_byte(&mut self) -> Option<u8> {
        todo!()
    }
}
