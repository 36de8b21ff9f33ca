//! RowDescription (`T`) and ParameterDescription (`t`) bodies.

use super::{tag, FieldDescription, RowDescription};
use crate::reader::Reader;
use crate::ProtocolError;

/// Smallest encoding of one field description: an empty name (its NUL) and 18 bytes.
const MIN_FIELD_LEN: usize = 19;

/// Decodes a `T` body. Too short for its field count: `insufficient data in "T" message`;
/// bytes left over: `message contents do not agree with length in message type "T"`
/// (libpq 13.3 has no `extraneous data` text).
pub(crate) fn parse_row_description(body: &[u8]) -> Result<RowDescription, ProtocolError> {
    let mut r = Reader::insufficient(tag::ROW_DESCRIPTION, body);
    // libpq reads the count unsigned.
    let count = usize::from(r.u16()?);
    let mut fields = Vec::with_capacity(count.min(r.remaining() / MIN_FIELD_LEN));
    for _ in 0..count {
        fields.push(FieldDescription {
            name: r.string()?,
            table_oid: r.u32()?,
            column_id: r.i16()?,
            type_oid: r.u32()?,
            type_size: r.i16()?,
            type_modifier: r.i32()?,
            format: r.i16()?,
        });
    }
    r.finish()?;
    Ok(RowDescription { fields })
}

/// Decodes a `t` body: a count and that many type OIDs.
pub(crate) fn parse_parameter_description(body: &[u8]) -> Result<Vec<u32>, ProtocolError> {
    let mut r = Reader::insufficient(tag::PARAMETER_DESCRIPTION, body);
    let count = usize::from(r.u16()?);
    let mut oids = Vec::with_capacity(count.min(r.remaining() / 4));
    for _ in 0..count {
        oids.push(r.u32()?);
    }
    r.finish()?;
    Ok(oids)
}
