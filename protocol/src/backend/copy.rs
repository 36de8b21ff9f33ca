//! CopyInResponse, CopyOutResponse and CopyBothResponse bodies.

use super::CopyResponse;
use crate::reader::Reader;
use crate::ProtocolError;

/// Decodes the overall format and the per-column formats (the caller checks the end).
pub(super) fn parse_response(r: &mut Reader<'_>) -> Result<CopyResponse, ProtocolError> {
    let format = i8::from_be_bytes([r.u8()?]);
    // libpq reads the count unsigned.
    let count = usize::from(r.u16()?);
    let mut column_formats = Vec::with_capacity(count.min(r.remaining() / 2));
    for _ in 0..count {
        column_formats.push(r.i16()?);
    }
    Ok(CopyResponse {
        format,
        column_formats,
    })
}
