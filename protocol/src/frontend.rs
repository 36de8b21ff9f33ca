//! Encoders for frontend (client-to-server) messages. Each appends one message to the
//! caller's buffer; on error nothing is appended.
//!
//! Length words are back-patched through `i32::try_from`, so an oversized message is
//! [`EncodeError::TooLong`], never a wrapped length; a NUL inside a string sent
//! NUL-terminated is [`EncodeError::ContainsNul`], never a different message on the wire.
//!
//! ```
//! use pgcluster_protocol::frontend::{self, EncodeError};
//!
//! let mut out = Vec::new();
//! frontend::query("select 1", &mut out).unwrap();
//! assert_eq!(out, b"Q\0\0\0\x0dselect 1\0");
//! assert_eq!(
//!     frontend::query("select 1\0; drop", &mut out),
//!     Err(EncodeError::ContainsNul { what: "query" })
//! );
//! assert_eq!(out.len(), 14); // unchanged
//! ```

use std::fmt;

use crate::backend_key::BackendKey;
use crate::version::ProtocolVersion;

/// What the caller asked to send cannot be encoded. Never caused by the server.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// A string that is sent NUL-terminated contains a NUL byte.
    ContainsNul {
        /// Which string (e.g. `"query"`, `"user"`).
        what: &'static str,
    },
    /// The message would be longer than a length word can say (`i32::MAX`).
    TooLong,
    /// A startup parameter name is empty: on the wire it would end the parameter list
    /// early, and the server would read a different packet.
    EmptyName {
        /// Which name (`"startup parameter name"`).
        what: &'static str,
    },
    /// More items than an `i16` count can say.
    TooMany {
        /// What was counted (e.g. `"parameters"`).
        what: &'static str,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ContainsNul { what } => write!(f, "the {what} contains a NUL byte"),
            Self::EmptyName { what } => write!(f, "the {what} is empty"),
            Self::TooLong => f.write_str("message too long to send"),
            Self::TooMany { what } => write!(f, "too many {what} to send"),
        }
    }
}

impl std::error::Error for EncodeError {}

/// Protocol version 3.0, as sent in StartupMessage.
pub const PROTOCOL_VERSION_3_0: i32 = 196_608;
/// The request code of CancelRequest.
pub const CANCEL_REQUEST_CODE: i32 = 80_877_102;
/// The request code of SSLRequest.
pub const SSL_REQUEST_CODE: i32 = 80_877_103;
/// The request code of GSSENCRequest.
pub const GSSENC_REQUEST_CODE: i32 = 80_877_104;

/// Largest length word a message may have (`i32::MAX`).
const MAX_LEN: usize = i32::MAX as usize;

/// What Describe and Close refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A prepared statement (`S`).
    Statement,
    /// A portal (`P`).
    Portal,
}

impl Target {
    fn byte(self) -> u8 {
        match self {
            Self::Statement => b'S',
            Self::Portal => b'P',
        }
    }
}

/// StartupMessage, protocol 3.0, with the given `(name, value)` parameters
/// (`user` first by convention). An empty name is refused: it would end the list.
pub fn startup(params: &[(&str, &str)], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    startup_version(ProtocolVersion::V3_0, params, out)
}

/// StartupMessage asking for protocol `version` (3.2: PostgreSQL 18's long cancel keys),
/// otherwise as [`startup`].
///
/// ```
/// use pgcluster_protocol::frontend;
/// use pgcluster_protocol::version::ProtocolVersion;
/// let mut out = Vec::new();
/// frontend::startup_version(ProtocolVersion::V3_2, &[("user", "u")], &mut out).unwrap();
/// assert_eq!(out, b"\0\0\0\x10\0\x03\0\x02user\0u\0\0");
/// ```
pub fn startup_version(
    version: ProtocolVersion,
    params: &[(&str, &str)],
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    message(None, out, |out| {
        out.extend_from_slice(&version.code().to_be_bytes());
        for (name, value) in params {
            if name.is_empty() {
                return Err(EncodeError::EmptyName {
                    what: "startup parameter name",
                });
            }
            cstr(name.as_bytes(), "startup parameter name", out)?;
            cstr(value.as_bytes(), "startup parameter value", out)?;
        }
        out.push(0);
        Ok(())
    })
}

/// PasswordMessage (`p`) carrying a NUL-terminated password or MD5 hash.
pub fn password(password: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    message(Some(b'p'), out, |out| cstr(password, "password", out))
}

/// SASLInitialResponse (`p`): the mechanism and the client's initial response.
pub fn sasl_initial_response(
    mechanism: &str,
    data: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    message(Some(b'p'), out, |out| {
        cstr(mechanism.as_bytes(), "SASL mechanism", out)?;
        let len = i32::try_from(data.len()).map_err(|_| EncodeError::TooLong)?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(data);
        Ok(())
    })
}

/// SASLInitialResponse (`p`) without an initial response (length -1).
pub fn sasl_initial_response_without_data(
    mechanism: &str,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    message(Some(b'p'), out, |out| {
        cstr(mechanism.as_bytes(), "SASL mechanism", out)?;
        out.extend_from_slice(&(-1i32).to_be_bytes());
        Ok(())
    })
}

/// SASLResponse (`p`).
pub fn sasl_response(data: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    message(Some(b'p'), out, |out| {
        out.extend_from_slice(data);
        Ok(())
    })
}

/// Query (`Q`). A NUL in `sql` is refused (the server would answer `invalid message format`).
pub fn query(sql: &str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    message(Some(b'Q'), out, |out| cstr(sql.as_bytes(), "query", out))
}

/// Parse (`P`): prepares `sql` as statement `name` (empty: the unnamed statement), with
/// parameter type OIDs (0: let the server infer).
pub fn parse(
    name: &str,
    sql: &str,
    param_types: &[u32],
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    message(Some(b'P'), out, |out| {
        cstr(name.as_bytes(), "statement name", out)?;
        cstr(sql.as_bytes(), "query", out)?;
        count(param_types.len(), "parameter types", out)?;
        for oid in param_types {
            out.extend_from_slice(&oid.to_be_bytes());
        }
        Ok(())
    })
}

/// Bind (`B`): binds `params` (`None` is SQL NULL) to statement `statement`, creating
/// portal `portal`. `param_formats` and `result_formats` are format codes (0 text,
/// 1 binary): none means all text, one applies to all, otherwise one per item.
pub fn bind(
    portal: &str,
    statement: &str,
    param_formats: &[i16],
    params: &[Option<&[u8]>],
    result_formats: &[i16],
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    message(Some(b'B'), out, |out| {
        cstr(portal.as_bytes(), "portal name", out)?;
        cstr(statement.as_bytes(), "statement name", out)?;
        count(param_formats.len(), "parameter formats", out)?;
        for f in param_formats {
            out.extend_from_slice(&f.to_be_bytes());
        }
        count(params.len(), "parameters", out)?;
        for param in params {
            match param {
                None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(value) => {
                    let len = i32::try_from(value.len()).map_err(|_| EncodeError::TooLong)?;
                    out.extend_from_slice(&len.to_be_bytes());
                    out.extend_from_slice(value);
                }
            }
        }
        count(result_formats.len(), "result formats", out)?;
        for f in result_formats {
            out.extend_from_slice(&f.to_be_bytes());
        }
        Ok(())
    })
}

/// Describe (`D`) a statement or a portal.
pub fn describe(target: Target, name: &str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    message(Some(b'D'), out, |out| {
        out.push(target.byte());
        cstr(name.as_bytes(), "name", out)
    })
}

/// Execute (`E`) a portal; `max_rows` 0 means no limit.
pub fn execute(portal: &str, max_rows: i32, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    message(Some(b'E'), out, |out| {
        cstr(portal.as_bytes(), "portal name", out)?;
        out.extend_from_slice(&max_rows.to_be_bytes());
        Ok(())
    })
}

/// Close (`C`) a statement or a portal.
pub fn close(target: Target, name: &str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    message(Some(b'C'), out, |out| {
        out.push(target.byte());
        cstr(name.as_bytes(), "name", out)
    })
}

/// Sync (`S`).
pub fn sync(out: &mut Vec<u8>) {
    empty(b'S', out);
}

/// Flush (`H`).
pub fn flush(out: &mut Vec<u8>) {
    empty(b'H', out);
}

/// CopyData (`d`).
pub fn copy_data(data: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    message(Some(b'd'), out, |out| {
        out.extend_from_slice(data);
        Ok(())
    })
}

/// CopyDone (`c`).
pub fn copy_done(out: &mut Vec<u8>) {
    empty(b'c', out);
}

/// CopyFail (`f`) with an error message.
pub fn copy_fail(message_text: &str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    message(Some(b'f'), out, |out| {
        cstr(message_text.as_bytes(), "error message", out)
    })
}

/// CancelRequest, sent on a new connection instead of a StartupMessage: the process id
/// and the whole key, 4 bytes in protocol 3.0, up to 256 in 3.2 (16 to 268 bytes in all).
///
/// ```
/// use pgcluster_protocol::backend_key::BackendKey;
/// use pgcluster_protocol::frontend;
/// let mut out = Vec::new();
/// frontend::cancel_request(&BackendKey::new(42, &[7; 32]).unwrap(), &mut out).unwrap();
/// assert_eq!(out.len(), 44);
/// assert_eq!(out[..12], [0, 0, 0, 44, 4, 210, 22, 46, 0, 0, 0, 42]);
/// ```
pub fn cancel_request(key: &BackendKey, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    message(None, out, |out| {
        out.extend_from_slice(&CANCEL_REQUEST_CODE.to_be_bytes());
        out.extend_from_slice(&key.process_id().to_be_bytes());
        out.extend_from_slice(key.secret());
        Ok(())
    })
}

/// SSLRequest; the server answers with one byte, `S` or `N`.
pub fn ssl_request(out: &mut Vec<u8>) {
    out.extend_from_slice(&8i32.to_be_bytes());
    out.extend_from_slice(&SSL_REQUEST_CODE.to_be_bytes());
}

/// GSSENCRequest; the server answers with one byte, `G` or `N`.
pub fn gssenc_request(out: &mut Vec<u8>) {
    out.extend_from_slice(&8i32.to_be_bytes());
    out.extend_from_slice(&GSSENC_REQUEST_CODE.to_be_bytes());
}

/// Terminate (`X`).
pub fn terminate(out: &mut Vec<u8>) {
    empty(b'X', out);
}

/// A message with no body.
fn empty(tag: u8, out: &mut Vec<u8>) {
    out.push(tag);
    out.extend_from_slice(&4i32.to_be_bytes());
}

/// Appends one message: the tag (none for the startup-phase packets), a length word
/// back-patched once `body` has written the rest. On error, `out` is cut back.
pub(crate) fn message(
    tag: Option<u8>,
    out: &mut Vec<u8>,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    message_max(tag, out, MAX_LEN, body)
}

/// [`message`] with a smaller length cap (tests).
fn message_max(
    tag: Option<u8>,
    out: &mut Vec<u8>,
    max_len: usize,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let start = out.len();
    let result = (|| {
        out.extend(tag);
        let len_at = out.len();
        out.extend_from_slice(&[0; 4]);
        body(out)?;
        let len = out.len().saturating_sub(len_at);
        if len > max_len {
            return Err(EncodeError::TooLong);
        }
        let len = i32::try_from(len).map_err(|_| EncodeError::TooLong)?;
        let end = len_at.checked_add(4).ok_or(EncodeError::TooLong)?;
        out.get_mut(len_at..end)
            .ok_or(EncodeError::TooLong)?
            .copy_from_slice(&len.to_be_bytes());
        Ok(())
    })();
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// A NUL-terminated string; a NUL inside is refused.
pub(crate) fn cstr(s: &[u8], what: &'static str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    if s.contains(&0) {
        return Err(EncodeError::ContainsNul { what });
    }
    out.extend_from_slice(s);
    out.push(0);
    Ok(())
}

/// An `i16` count of items.
pub(crate) fn count(n: usize, what: &'static str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let n = i16::try_from(n).map_err(|_| EncodeError::TooMany { what })?;
    out.extend_from_slice(&n.to_be_bytes());
    Ok(())
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;
    use crate::backend::BackendMessage;

    fn enc(f: impl FnOnce(&mut Vec<u8>) -> Result<(), EncodeError>) -> Vec<u8> {
        let mut out = b"prev".to_vec();
        f(&mut out).unwrap();
        assert_eq!(&out[..4], b"prev");
        out.split_off(4)
    }

    /// An error leaves `out` exactly as it was.
    fn refused(f: impl FnOnce(&mut Vec<u8>) -> Result<(), EncodeError>) -> EncodeError {
        let mut out = b"prev".to_vec();
        let err = f(&mut out).unwrap_err();
        assert_eq!(out, b"prev");
        err
    }

    #[test]
    fn startup_bytes() {
        // As libpq 13 sends it for user=postgres dbname=postgres (minus its extra params).
        assert_eq!(
            enc(|o| startup(&[("user", "postgres"), ("database", "postgres")], o)),
            b"\0\0\0\x29\0\x03\0\0user\0postgres\0database\0postgres\0\0"
        );
        assert_eq!(enc(|o| startup(&[], o)), b"\0\0\0\x09\0\x03\0\0\0");
        assert_eq!(
            refused(|o| startup(&[("user", "a\0b")], o)),
            EncodeError::ContainsNul {
                what: "startup parameter value"
            }
        );
        assert_eq!(
            refused(|o| startup(&[("us\0er", "a")], o)).to_string(),
            "the startup parameter name contains a NUL byte"
        );
        // An empty name would be read as the end of the list.
        assert_eq!(
            refused(|o| startup(&[("user", "a"), ("", "x")], o)).to_string(),
            "the startup parameter name is empty"
        );
    }

    #[test]
    fn auth_messages() {
        assert_eq!(enc(|o| password(b"secret", o)), b"p\0\0\0\x0bsecret\0");
        assert_eq!(enc(|o| password(b"md5abc", o)), b"p\0\0\0\x0bmd5abc\0");
        assert_eq!(
            refused(|o| password(b"se\0cret", o)).to_string(),
            "the password contains a NUL byte"
        );
        assert_eq!(
            enc(|o| sasl_initial_response("SCRAM-SHA-256", b"n,,n=,r=abc", o)),
            b"p\0\0\0\x21SCRAM-SHA-256\0\0\0\0\x0bn,,n=,r=abc"
        );
        assert_eq!(
            enc(|o| sasl_initial_response_without_data("SCRAM-SHA-256", o)),
            b"p\0\0\0\x16SCRAM-SHA-256\0\xff\xff\xff\xff"
        );
        assert_eq!(enc(|o| sasl_response(b"c=biws", o)), b"p\0\0\0\x0ac=biws");
    }

    #[test]
    fn simple_messages() {
        assert_eq!(enc(|o| query("select 1", o)), b"Q\0\0\0\x0dselect 1\0");
        assert_eq!(enc(|o| query("", o)), b"Q\0\0\0\x05\0");
        assert_eq!(
            refused(|o| query("select 1\0", o)).to_string(),
            "the query contains a NUL byte"
        );
        let infallible = |f: fn(&mut Vec<u8>)| {
            let mut o = Vec::new();
            f(&mut o);
            o
        };
        assert_eq!(infallible(terminate), b"X\0\0\0\x04");
        assert_eq!(infallible(sync), b"S\0\0\0\x04");
        assert_eq!(infallible(flush), b"H\0\0\0\x04");
        assert_eq!(infallible(copy_done), b"c\0\0\0\x04");
        assert_eq!(infallible(ssl_request), b"\0\0\0\x08\x04\xd2\x16\x2f");
        assert_eq!(infallible(gssenc_request), b"\0\0\0\x08\x04\xd2\x16\x30");
        let mut o = Vec::new();
        let key = BackendKey::new(0x0102_0304, &[0xff; 4]).unwrap();
        cancel_request(&key, &mut o).unwrap();
        assert_eq!(
            o,
            b"\0\0\0\x10\x04\xd2\x16\x2e\x01\x02\x03\x04\xff\xff\xff\xff"
        );
        // Protocol 3.2's longest key: 12 + 256 bytes.
        o.clear();
        let key = BackendKey::new(9, &[0x11; 256]).unwrap();
        cancel_request(&key, &mut o).unwrap();
        assert_eq!(o[..12], [0, 0, 1, 12, 4, 210, 22, 46, 0, 0, 0, 9]);
        assert_eq!(o[12..], [0x11; 256]);
    }

    #[test]
    fn extended_query_messages() {
        assert_eq!(
            enc(|o| parse("s1", "select $1", &[23], o)),
            b"P\0\0\0\x17s1\0select $1\0\0\x01\0\0\0\x17"
        );
        assert_eq!(
            enc(|o| bind("", "s1", &[1], &[Some(b"\0\0\0\x07"), None, Some(b"")], &[0, 1], o)),
            b"B\0\0\0\x24\0s1\0\0\x01\0\x01\0\x03\0\0\0\x04\0\0\0\x07\xff\xff\xff\xff\0\0\0\0\0\x02\0\0\0\x01"
        );
        assert_eq!(
            enc(|o| bind("", "", &[], &[], &[], o)),
            b"B\0\0\0\x0c\0\0\0\0\0\0\0\0"
        );
        assert_eq!(
            enc(|o| describe(Target::Statement, "s1", o)),
            b"D\0\0\0\x08Ss1\0"
        );
        assert_eq!(enc(|o| describe(Target::Portal, "", o)), b"D\0\0\0\x06P\0");
        assert_eq!(enc(|o| execute("", 0, o)), b"E\0\0\0\x09\0\0\0\0\0");
        assert_eq!(enc(|o| execute("p", 10, o)), b"E\0\0\0\x0ap\0\0\0\0\x0a");
        assert_eq!(
            enc(|o| close(Target::Statement, "s1", o)),
            b"C\0\0\0\x08Ss1\0"
        );
        assert_eq!(enc(|o| close(Target::Portal, "p", o)), b"C\0\0\0\x07Pp\0");
        assert_eq!(
            refused(|o| parse("s\0", "select 1", &[], o)),
            EncodeError::ContainsNul {
                what: "statement name"
            }
        );
        assert_eq!(
            refused(|o| bind("", "", &[], &vec![None; 40_000], &[], o)).to_string(),
            "too many parameters to send"
        );
        assert_eq!(
            refused(|o| parse("", "x", &vec![0; 32_768], o)).to_string(),
            "too many parameter types to send"
        );
        // 32767 is the most an i16 count can say.
        let ok = enc(|o| parse("", "x", &vec![0; 32_767], o));
        assert_eq!(&ok[8..10], &[0x7f, 0xff]);
    }

    #[test]
    fn copy_messages() {
        assert_eq!(enc(|o| copy_data(b"1\ta\n", o)), b"d\0\0\0\x081\ta\n");
        assert_eq!(enc(|o| copy_fail("oops", o)), b"f\0\0\0\x09oops\0");
        assert_eq!(
            refused(|o| copy_fail("o\0ps", o)).to_string(),
            "the error message contains a NUL byte"
        );
    }

    #[test]
    fn too_long_writes_nothing() {
        let mut out = b"prev".to_vec();
        let err = message_max(Some(b'd'), &mut out, 10, |o| {
            o.extend_from_slice(&[1; 7]);
            Ok(())
        })
        .unwrap_err();
        assert_eq!(err, EncodeError::TooLong);
        assert_eq!(err.to_string(), "message too long to send");
        assert_eq!(out, b"prev");
        // Exactly at the cap is fine.
        message_max(Some(b'd'), &mut out, 10, |o| {
            o.extend_from_slice(&[1; 6]);
            Ok(())
        })
        .unwrap();
        assert_eq!(out, b"prevd\0\0\0\x0a\x01\x01\x01\x01\x01\x01");
    }

    /// Encoders that have a backend twin with the same layout round-trip through it.
    #[test]
    fn copy_data_round_trips_through_the_decoder() {
        let bytes = enc(|o| copy_data(b"row\n", o));
        let mut frames = crate::frame::FrameReader::new(crate::limits::Limits::default());
        frames.extend_from_slice(&bytes);
        let frame = frames.next_frame().unwrap().unwrap();
        assert_eq!(
            BackendMessage::parse(&frame).unwrap(),
            BackendMessage::CopyData(crate::buffer::Bytes::copy_from_slice(b"row\n"))
        );
    }
}
