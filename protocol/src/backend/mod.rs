//! Decoding backend (server-to-client) messages from frames.
//!
//! [`BackendMessage::parse`] decodes one [`Frame`] with libpq 13's error texts: a body
//! shorter or longer than its fields is `LengthMismatch` (`message contents do not agree
//! with length in message type "%c"`), except where libpq says `insufficient data in "%c"
//! message` (a `T`, `t` or `D` too short for its counts). Server strings are decoded
//! lossily; nothing here panics on server data.
//!
//! ```
//! use pgcluster_protocol::backend::{BackendMessage, TransactionStatus};
//! use pgcluster_protocol::frame::Frame;
//!
//! let msg = BackendMessage::parse(&Frame::new(b'Z', &b"I"[..])).unwrap();
//! assert_eq!(msg, BackendMessage::ReadyForQuery(TransactionStatus::Idle));
//! let err = BackendMessage::parse(&Frame::new(b'Z', &b"II"[..])).unwrap_err();
//! assert_eq!(err.to_string(), "message contents do not agree with length in message type \"Z\"");
//! ```

use crate::buffer::Bytes;

use crate::error_fields::ErrorFields;
use crate::frame::Frame;
use crate::reader::Reader;
use crate::ProtocolError;

mod auth;
mod copy;
mod encode;
mod query;

/// Message type bytes of the backend messages.
pub mod tag {
    /// `R` Authentication*
    pub const AUTHENTICATION: u8 = b'R';
    /// `K`
    pub const BACKEND_KEY_DATA: u8 = b'K';
    /// `2`
    pub const BIND_COMPLETE: u8 = b'2';
    /// `3`
    pub const CLOSE_COMPLETE: u8 = b'3';
    /// `C`
    pub const COMMAND_COMPLETE: u8 = b'C';
    /// `d`
    pub const COPY_DATA: u8 = b'd';
    /// `c`
    pub const COPY_DONE: u8 = b'c';
    /// `G`
    pub const COPY_IN_RESPONSE: u8 = b'G';
    /// `H`
    pub const COPY_OUT_RESPONSE: u8 = b'H';
    /// `W`
    pub const COPY_BOTH_RESPONSE: u8 = b'W';
    /// `D`
    pub const DATA_ROW: u8 = b'D';
    /// `I`
    pub const EMPTY_QUERY_RESPONSE: u8 = b'I';
    /// `E`
    pub const ERROR_RESPONSE: u8 = b'E';
    /// `V`
    pub const FUNCTION_CALL_RESPONSE: u8 = b'V';
    /// `v`
    pub const NEGOTIATE_PROTOCOL_VERSION: u8 = b'v';
    /// `n`
    pub const NO_DATA: u8 = b'n';
    /// `N`
    pub const NOTICE_RESPONSE: u8 = b'N';
    /// `A`
    pub const NOTIFICATION_RESPONSE: u8 = b'A';
    /// `t`
    pub const PARAMETER_DESCRIPTION: u8 = b't';
    /// `S`
    pub const PARAMETER_STATUS: u8 = b'S';
    /// `1`
    pub const PARSE_COMPLETE: u8 = b'1';
    /// `s`
    pub const PORTAL_SUSPENDED: u8 = b's';
    /// `Z`
    pub const READY_FOR_QUERY: u8 = b'Z';
    /// `T`
    pub const ROW_DESCRIPTION: u8 = b'T';
}

/// A decoded backend message.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendMessage {
    /// `R`
    Authentication(Authentication),
    /// `K`
    BackendKeyData {
        /// Process id of the backend.
        process_id: i32,
        /// Secret key for CancelRequest: the rest of the body, of any length here
        /// ([`crate::backend_key::BackendKey::parse`] checks it for a protocol version).
        secret_key: Bytes,
    },
    /// `2`
    BindComplete,
    /// `3`
    CloseComplete,
    /// `C`: the command tag, e.g. `CREATE DATABASE` or `SELECT 1`.
    CommandComplete(String),
    /// `d`
    CopyData(Bytes),
    /// `c`
    CopyDone,
    /// `G`
    CopyInResponse(CopyResponse),
    /// `H`
    CopyOutResponse(CopyResponse),
    /// `W`
    CopyBothResponse(CopyResponse),
    /// `D`
    DataRow(DataRow),
    /// `I`
    EmptyQueryResponse,
    /// `E`
    ErrorResponse(ErrorFields),
    /// `V` (refused by the query machines; decoded so it can be reported)
    FunctionCallResponse(Option<Bytes>),
    /// `v`
    NegotiateProtocolVersion {
        /// Newest minor protocol version the server supports.
        newest_minor: i32,
        /// Protocol options the server did not recognize.
        unrecognized: Vec<String>,
    },
    /// `n`
    NoData,
    /// `N`
    NoticeResponse(ErrorFields),
    /// `A`
    NotificationResponse {
        /// Process id of the notifying backend.
        process_id: i32,
        /// Channel name.
        channel: String,
        /// Payload string.
        payload: String,
    },
    /// `t`: parameter type OIDs.
    ParameterDescription(Vec<u32>),
    /// `S`
    ParameterStatus {
        /// Parameter name.
        name: String,
        /// Current value.
        value: String,
    },
    /// `1`
    ParseComplete,
    /// `s`
    PortalSuspended,
    /// `Z`
    ReadyForQuery(TransactionStatus),
    /// `T`
    RowDescription(RowDescription),
}

impl BackendMessage {
    /// Decodes a frame. Unknown tags are `UnexpectedMessage`; a body that does not match its
    /// length is `LengthMismatch` (or `InsufficientData` where libpq says so).
    pub fn parse(frame: &Frame) -> Result<Self, ProtocolError> {
        let t = frame.tag;
        let body = &frame.body;
        let mut r = Reader::new(t, body);
        let msg = match t {
            tag::AUTHENTICATION => return auth::parse(body).map(Self::Authentication),
            tag::BACKEND_KEY_DATA => {
                let process_id = r.i32()?;
                return Ok(Self::BackendKeyData {
                    process_id,
                    secret_key: body.slice_ref(r.rest()),
                });
            }
            tag::BIND_COMPLETE
            | tag::CLOSE_COMPLETE
            | tag::COPY_DONE
            | tag::EMPTY_QUERY_RESPONSE
            | tag::NO_DATA
            | tag::PARSE_COMPLETE
            | tag::PORTAL_SUSPENDED => {
                parse_empty(t, body)?;
                return Ok(match t {
                    tag::BIND_COMPLETE => Self::BindComplete,
                    tag::CLOSE_COMPLETE => Self::CloseComplete,
                    tag::COPY_DONE => Self::CopyDone,
                    tag::EMPTY_QUERY_RESPONSE => Self::EmptyQueryResponse,
                    tag::NO_DATA => Self::NoData,
                    tag::PARSE_COMPLETE => Self::ParseComplete,
                    _ => Self::PortalSuspended,
                });
            }
            tag::COMMAND_COMPLETE => {
                return parse_command_complete(body).map(Self::CommandComplete)
            }
            tag::COPY_DATA => return Ok(Self::CopyData(body.clone())),
            tag::COPY_IN_RESPONSE => return parse_copy_response(t, body).map(Self::CopyInResponse),
            tag::COPY_OUT_RESPONSE => {
                return parse_copy_response(t, body).map(Self::CopyOutResponse)
            }
            tag::COPY_BOTH_RESPONSE => {
                return parse_copy_response(t, body).map(Self::CopyBothResponse)
            }
            tag::DATA_ROW => return DataRow::parse(body).map(Self::DataRow),
            tag::ERROR_RESPONSE => return ErrorFields::parse(t, body).map(Self::ErrorResponse),
            tag::NOTICE_RESPONSE => return ErrorFields::parse(t, body).map(Self::NoticeResponse),
            tag::FUNCTION_CALL_RESPONSE => {
                let len = r.i32()?;
                let value = match usize::try_from(len) {
                    Ok(n) => Some(body.slice_ref(r.bytes(n)?)),
                    Err(_) if len == -1 => None,
                    Err(_) => return Err(ProtocolError::LengthMismatch { tag: t }),
                };
                Self::FunctionCallResponse(value)
            }
            tag::NEGOTIATE_PROTOCOL_VERSION => {
                let newest_minor = r.i32()?;
                let count = usize::try_from(r.i32()?)
                    .map_err(|_| ProtocolError::LengthMismatch { tag: t })?;
                // Each name takes at least one byte: bound the allocation by the body.
                let mut unrecognized = Vec::with_capacity(count.min(r.remaining()));
                for _ in 0..count {
                    unrecognized.push(r.string()?);
                }
                Self::NegotiateProtocolVersion {
                    newest_minor,
                    unrecognized,
                }
            }
            tag::NOTIFICATION_RESPONSE => Self::NotificationResponse {
                process_id: r.i32()?,
                channel: r.string()?,
                payload: r.string()?,
            },
            tag::PARAMETER_DESCRIPTION => {
                return query::parse_parameter_description(body).map(Self::ParameterDescription)
            }
            tag::PARAMETER_STATUS => Self::ParameterStatus {
                name: r.string()?,
                value: r.string()?,
            },
            tag::READY_FOR_QUERY => return parse_ready_for_query(body).map(Self::ReadyForQuery),
            tag::ROW_DESCRIPTION => {
                return query::parse_row_description(body).map(Self::RowDescription)
            }
            _ => return Err(ProtocolError::UnexpectedMessage { tag: t }),
        };
        r.finish()?;
        Ok(msg)
    }
}

// The decoders of single messages, shared by [`BackendMessage::parse`] and the query
// machines (which decode the messages of a query's reply without building a
// `BackendMessage`, a large value to move).

/// Checks the empty body of a message that carries nothing (`1`, `2`, `3`, `c`, `I`,
/// `n`, `s`).
pub(crate) fn parse_empty(t: u8, body: &[u8]) -> Result<(), ProtocolError> {
    Reader::new(t, body).finish()
}

/// Decodes a `C` body: the command tag.
pub(crate) fn parse_command_complete(body: &[u8]) -> Result<String, ProtocolError> {
    let mut r = Reader::new(tag::COMMAND_COMPLETE, body);
    let command = r.string()?;
    r.finish()?;
    Ok(command)
}

/// Decodes a `Z` body: the transaction status.
pub(crate) fn parse_ready_for_query(body: &[u8]) -> Result<TransactionStatus, ProtocolError> {
    let mut r = Reader::new(tag::READY_FOR_QUERY, body);
    let status = match r.u8()? {
        b'I' => TransactionStatus::Idle,
        b'T' => TransactionStatus::InTransaction,
        b'E' => TransactionStatus::Failed,
        status => return Err(ProtocolError::InvalidTransactionStatus { status }),
    };
    r.finish()?;
    Ok(status)
}

/// Decodes a `G`, `H` or `W` body (`t` is its tag).
pub(crate) fn parse_copy_response(t: u8, body: &[u8]) -> Result<CopyResponse, ProtocolError> {
    let mut r = Reader::new(t, body);
    let response = copy::parse_response(&mut r)?;
    r.finish()?;
    Ok(response)
}

pub(crate) use query::{parse_parameter_description, parse_row_description};

/// An authentication request (`R`).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    /// 0
    Ok,
    /// 2
    KerberosV5,
    /// 3
    CleartextPassword,
    /// 5
    Md5Password {
        /// The 4-byte salt.
        salt: [u8; 4],
    },
    /// 6
    ScmCredential,
    /// 7
    Gss,
    /// 8
    GssContinue(Bytes),
    /// 9
    Sspi,
    /// 10: the mechanism names offered.
    Sasl(Vec<String>),
    /// 11
    SaslContinue(Bytes),
    /// 12
    SaslFinal(Bytes),
    /// Any other code (including 1 and 4).
    Other(u32),
}

/// Transaction status from ReadyForQuery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionStatus {
    /// `I`
    Idle,
    /// `T`
    InTransaction,
    /// `E`
    Failed,
}

/// CopyIn/CopyOut/CopyBoth response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyResponse {
    /// 0 text, 1 binary.
    pub format: i8,
    /// Per-column format codes.
    pub column_formats: Vec<i16>,
}

/// One column of a RowDescription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDescription {
    /// Column name.
    pub name: String,
    /// Table OID, or 0.
    pub table_oid: u32,
    /// Column attribute number, or 0.
    pub column_id: i16,
    /// Data type OID.
    pub type_oid: u32,
    /// Data type size (negative: variable width).
    pub type_size: i16,
    /// Type modifier.
    pub type_modifier: i32,
    /// Format code: 0 text, 1 binary.
    pub format: i16,
}

/// A RowDescription (`T`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowDescription {
    /// The columns, in order.
    pub fields: Vec<FieldDescription>,
}

/// A DataRow (`D`), validated on decode; values borrow from the frame's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataRow {
    body: Bytes,
    len: u16,
}

impl DataRow {
    /// Number of values.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True when the row has no values.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The values in order; `None` is SQL NULL. Allocates nothing.
    pub fn values(&self) -> impl Iterator<Item = Option<&[u8]>> + '_ {
        DataRowValues {
            rest: self.body.get(2..).unwrap_or_default(),
            left: self.len,
        }
    }

    /// Decodes and validates a `D` body: every value length is -1 (NULL) or lies inside
    /// the body, and nothing follows the last value.
    pub fn parse(body: &Bytes) -> Result<Self, ProtocolError> {
        Self::parse_owned(body.clone())
    }

    /// [`DataRow::parse`] of a body the caller gives away (a frame's, which is then
    /// dropped): the row keeps it, with no second reference to count.
    pub(crate) fn parse_owned(body: Bytes) -> Result<Self, ProtocolError> {
        let len = Self::check(&body)?;
        Ok(Self { body, len })
    }

    /// Checks a `D` body; its value count.
    fn check(body: &[u8]) -> Result<u16, ProtocolError> {
        let mut r = Reader::insufficient(tag::DATA_ROW, body);
        let len = r.u16()?;
        for _ in 0..len {
            let n = r.i32()?;
            match usize::try_from(n) {
                Ok(n) => {
                    r.bytes(n)?;
                }
                Err(_) if n == -1 => {}
                // libpq 13.3 takes any negative length as NULL; only -1 means NULL in the
                // protocol, so anything else is refused.
                Err(_) => return Err(ProtocolError::LengthMismatch { tag: tag::DATA_ROW }),
            }
        }
        r.finish()?;
        Ok(len)
    }

    /// The frame body this row was decoded from (count word included).
    pub fn body(&self) -> &Bytes {
        &self.body
    }
}

/// Iterator over the values of a validated [`DataRow`].
struct DataRowValues<'a> {
    rest: &'a [u8],
    left: u16,
}

impl<'a> Iterator for DataRowValues<'a> {
    type Item = Option<&'a [u8]>;

    fn next(&mut self) -> Option<Self::Item> {
        self.left = self.left.checked_sub(1)?;
        let mut r = Reader::new(tag::DATA_ROW, self.rest);
        // The row was validated by `DataRow::parse`; should that ever fail, stop.
        let n = r.i32().ok()?;
        let value = match usize::try_from(n) {
            Ok(n) => Some(r.bytes(n).ok()?),
            Err(_) => None,
        };
        self.rest = r.rest();
        Some(value)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(usize::from(self.left)))
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a test fails loudly on unexpected input"
)]
pub(crate) mod tests {
    use super::*;
    use crate::frame::FrameReader;
    use crate::limits::Limits;

    // Captured from a PostgreSQL 15.18 server (trust/md5/scram/password pg_hba lines,
    // `lc_messages=C`) with the Python socket scripts in `protocol/tests/data/`
    // (`capture.py NAME QUERY...` dumps every reply byte after the startup exchange;
    // `authcap.py USER NAME` dumps the first message after a startup packet).

    /// Startup (user postgres, trust) up to ReadyForQuery, then `select 1 as one`.
    pub(crate) const CAPTURED_STARTUP_AND_SELECT: &[u8] =
        include_bytes!("../../tests/data/startup_select.bin");
    const TYPES: &[u8] = include_bytes!("../../tests/data/types.bin");
    const NOTICE: &[u8] = include_bytes!("../../tests/data/notice.bin");
    const EMPTY: &[u8] = include_bytes!("../../tests/data/empty.bin");
    const MULTI: &[u8] = include_bytes!("../../tests/data/multi.bin");
    const COPY_OUT: &[u8] = include_bytes!("../../tests/data/copyout.bin");
    const NOTIFY: &[u8] = include_bytes!("../../tests/data/notify.bin");
    const SYNTAX: &[u8] = include_bytes!("../../tests/data/syntax.bin");
    const AUTH_MD5: &[u8] = include_bytes!("../../tests/data/auth_md5.bin");
    const AUTH_SASL: &[u8] = include_bytes!("../../tests/data/auth_sasl.bin");
    const AUTH_CLEARTEXT: &[u8] = include_bytes!("../../tests/data/auth_cleartext.bin");
    const AUTH_REJECT: &[u8] = include_bytes!("../../tests/data/auth_reject.bin");

    fn decode_all(stream: &[u8]) -> Vec<BackendMessage> {
        let mut r = FrameReader::new(Limits::default());
        r.extend_from_slice(stream);
        let mut out = Vec::new();
        while let Some(f) = r.next_frame().unwrap() {
            out.push(BackendMessage::parse(&f).unwrap());
        }
        assert_eq!(r.buffered(), 0);
        out
    }

    fn parse(tag: u8, body: &[u8]) -> Result<BackendMessage, ProtocolError> {
        BackendMessage::parse(&Frame::new(tag, Bytes::copy_from_slice(body)))
    }

    fn err_text(tag: u8, body: &[u8]) -> String {
        parse(tag, body).unwrap_err().to_string()
    }

    fn field(name: &str, type_oid: u32, type_size: i16) -> FieldDescription {
        FieldDescription {
            name: name.to_owned(),
            table_oid: 0,
            column_id: 0,
            type_oid,
            type_size,
            type_modifier: -1,
            format: 0,
        }
    }

    #[test]
    fn captured_startup_and_select() {
        let msgs = decode_all(CAPTURED_STARTUP_AND_SELECT);
        assert_eq!(msgs[0], BackendMessage::Authentication(Authentication::Ok));
        let params: Vec<(String, String)> = msgs
            .iter()
            .filter_map(|m| match m {
                BackendMessage::ParameterStatus { name, value } => {
                    Some((name.clone(), value.clone()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(params.len(), 13);
        assert!(params.contains(&("server_encoding".to_owned(), "UTF8".to_owned())));
        assert!(params.contains(&("TimeZone".to_owned(), "Etc/UTC".to_owned())));
        let n = msgs.len();
        assert!(matches!(msgs[n - 6], BackendMessage::BackendKeyData { .. }));
        assert_eq!(
            msgs[n - 5],
            BackendMessage::ReadyForQuery(TransactionStatus::Idle)
        );
        assert_eq!(
            msgs[n - 4],
            BackendMessage::RowDescription(RowDescription {
                fields: vec![field("one", 23, 4)]
            })
        );
        let BackendMessage::DataRow(row) = &msgs[n - 3] else {
            panic!("{:?}", msgs[n - 3]);
        };
        assert_eq!(row.values().collect::<Vec<_>>(), vec![Some(&b"1"[..])]);
        assert_eq!(
            msgs[n - 2],
            BackendMessage::CommandComplete("SELECT 1".to_owned())
        );
        assert_eq!(
            msgs[n - 1],
            BackendMessage::ReadyForQuery(TransactionStatus::Idle)
        );
    }

    #[test]
    fn captured_row_with_null_and_empty_values() {
        // select 1::int4 as a, null::text as b, 'x'::text as c, ''::text as d
        let msgs = decode_all(TYPES);
        let BackendMessage::RowDescription(desc) = &msgs[0] else {
            panic!("{:?}", msgs[0]);
        };
        assert_eq!(
            desc.fields,
            vec![
                field("a", 23, 4),
                field("b", 25, -1),
                field("c", 25, -1),
                field("d", 25, -1)
            ]
        );
        let BackendMessage::DataRow(row) = &msgs[1] else {
            panic!("{:?}", msgs[1]);
        };
        assert_eq!(row.len(), 4);
        assert!(!row.is_empty());
        assert_eq!(
            row.values().collect::<Vec<_>>(),
            vec![Some(&b"1"[..]), None, Some(&b"x"[..]), Some(&b""[..])]
        );
        assert_eq!(&row.body()[..2], &[0, 4]);
    }

    #[test]
    fn captured_notice_empty_multi_copy_notify_error() {
        let msgs = decode_all(NOTICE);
        let BackendMessage::NoticeResponse(n) = &msgs[0] else {
            panic!("{:?}", msgs[0]);
        };
        assert_eq!(
            n.libpq_text(None),
            "NOTICE:  database \"msgcat_nosuch\" does not exist, skipping\n"
        );
        assert_eq!(
            msgs[1],
            BackendMessage::CommandComplete("DROP DATABASE".to_owned())
        );

        assert_eq!(
            decode_all(EMPTY),
            vec![
                BackendMessage::EmptyQueryResponse,
                BackendMessage::ReadyForQuery(TransactionStatus::Idle)
            ]
        );

        let tags: Vec<String> = decode_all(MULTI)
            .into_iter()
            .filter_map(|m| match m {
                BackendMessage::CommandComplete(t) => Some(t),
                _ => None,
            })
            .collect();
        assert_eq!(tags, vec!["SELECT 1", "SELECT 1"]);

        // COPY (select 1, 'a') TO STDOUT
        assert_eq!(
            decode_all(COPY_OUT),
            vec![
                BackendMessage::CopyOutResponse(CopyResponse {
                    format: 0,
                    column_formats: vec![0, 0]
                }),
                BackendMessage::CopyData(Bytes::copy_from_slice(b"1\ta\n")),
                BackendMessage::CopyDone,
                BackendMessage::CommandComplete("COPY 1".to_owned()),
                BackendMessage::ReadyForQuery(TransactionStatus::Idle),
            ]
        );

        // LISTEN c1; NOTIFY c1, 'payload' (the backend notifies itself).
        let msgs = decode_all(NOTIFY);
        assert!(msgs.iter().any(|m| matches!(
            m,
            BackendMessage::NotificationResponse { channel, payload, .. }
                if channel == "c1" && payload == "payload"
        )));

        let msgs = decode_all(SYNTAX);
        let BackendMessage::ErrorResponse(e) = &msgs[0] else {
            panic!("{:?}", msgs[0]);
        };
        assert_eq!(
            e.libpq_text(Some("selec 1")),
            "ERROR:  syntax error at or near \"selec\"\nLINE 1: selec 1\n        ^\n"
        );
    }

    #[test]
    fn captured_auth_requests() {
        let one = |s: &[u8]| decode_all(s).remove(0);
        assert_eq!(
            one(AUTH_CLEARTEXT),
            BackendMessage::Authentication(Authentication::CleartextPassword)
        );
        let BackendMessage::Authentication(Authentication::Md5Password { salt }) = one(AUTH_MD5)
        else {
            panic!()
        };
        assert_eq!(salt, [0xe8, 0x31, 0xa3, 0xc8]);
        assert_eq!(
            one(AUTH_SASL),
            BackendMessage::Authentication(Authentication::Sasl(vec!["SCRAM-SHA-256".to_owned()]))
        );
        let BackendMessage::ErrorResponse(e) = one(AUTH_REJECT) else {
            panic!()
        };
        assert_eq!(
            e.libpq_text(None),
            "FATAL:  pg_hba.conf rejects connection for host \"127.0.0.1\", user \"nobody\", database \"postgres\", no encryption\n"
        );
    }

    #[test]
    fn authentication_codes() {
        let auth = |body: &[u8]| match parse(b'R', body) {
            Ok(BackendMessage::Authentication(a)) => Ok(a),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        assert_eq!(auth(&[0, 0, 0, 2]), Ok(Authentication::KerberosV5));
        assert_eq!(auth(&[0, 0, 0, 6]), Ok(Authentication::ScmCredential));
        assert_eq!(auth(&[0, 0, 0, 7]), Ok(Authentication::Gss));
        assert_eq!(auth(&[0, 0, 0, 9]), Ok(Authentication::Sspi));
        assert_eq!(
            auth(&[0, 0, 0, 8, 1, 2]),
            Ok(Authentication::GssContinue(Bytes::copy_from_slice(&[1, 2])))
        );
        assert_eq!(
            auth(b"\0\0\0\x0br=abc"),
            Ok(Authentication::SaslContinue(Bytes::copy_from_slice(
                b"r=abc"
            )))
        );
        assert_eq!(
            auth(b"\0\0\0\x0cv=xyz"),
            Ok(Authentication::SaslFinal(Bytes::copy_from_slice(b"v=xyz")))
        );
        assert_eq!(auth(&[0, 0, 0, 1]), Ok(Authentication::Other(1)));
        assert_eq!(auth(&[0, 0, 0, 4, 9]), Ok(Authentication::Other(4)));
        assert_eq!(
            auth(&[0xff, 0xff, 0xff, 0xff]),
            Ok(Authentication::Other(u32::MAX))
        );
        assert_eq!(
            auth(b"\0\0\0\x0aSCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0"),
            Ok(Authentication::Sasl(vec![
                "SCRAM-SHA-256-PLUS".to_owned(),
                "SCRAM-SHA-256".to_owned()
            ]))
        );
        let mismatch = Err(ProtocolError::LengthMismatch { tag: b'R' });
        assert_eq!(auth(&[0, 0, 0]), mismatch);
        assert_eq!(auth(&[0, 0, 0, 0, 0]), mismatch);
        assert_eq!(auth(&[0, 0, 0, 5, 1, 2, 3]), mismatch);
        assert_eq!(auth(&[0, 0, 0, 5, 1, 2, 3, 4, 5]), mismatch);
        assert_eq!(auth(b"\0\0\0\x0aSCRAM-SHA-256\0"), mismatch);
        assert_eq!(auth(b"\0\0\0\x0aSCRAM-SHA-256\0\0x"), mismatch);
    }

    #[test]
    fn small_messages() {
        assert_eq!(
            parse(b'K', &[0, 0, 0, 7, 0xff, 0xff, 0xff, 0xfe]),
            Ok(BackendMessage::BackendKeyData {
                process_id: 7,
                secret_key: Bytes::from(&[0xff, 0xff, 0xff, 0xfe])
            })
        );
        // Protocol 3.2's keys are longer; the startup machine checks the length.
        assert_eq!(
            parse(b'K', &[0, 0, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8]),
            Ok(BackendMessage::BackendKeyData {
                process_id: 7,
                secret_key: Bytes::from(&[1, 2, 3, 4, 5, 6, 7, 8])
            })
        );
        for (tag, msg) in [
            (b'2', BackendMessage::BindComplete),
            (b'3', BackendMessage::CloseComplete),
            (b'c', BackendMessage::CopyDone),
            (b'I', BackendMessage::EmptyQueryResponse),
            (b'n', BackendMessage::NoData),
            (b'1', BackendMessage::ParseComplete),
            (b's', BackendMessage::PortalSuspended),
        ] {
            assert_eq!(parse(tag, b""), Ok(msg));
            assert_eq!(
                err_text(tag, b"x"),
                format!(
                    "message contents do not agree with length in message type \"{}\"",
                    char::from(tag)
                )
            );
        }
        assert_eq!(
            parse(b'Z', b"T"),
            Ok(BackendMessage::ReadyForQuery(
                TransactionStatus::InTransaction
            ))
        );
        assert_eq!(
            parse(b'Z', b"E"),
            Ok(BackendMessage::ReadyForQuery(TransactionStatus::Failed))
        );
        assert_eq!(
            err_text(b'Z', b"?"),
            "invalid transaction status \"?\" in \"Z\" message"
        );
        assert_eq!(
            parse(b'V', &[0xff, 0xff, 0xff, 0xff]),
            Ok(BackendMessage::FunctionCallResponse(None))
        );
        assert_eq!(
            parse(b'V', &[0, 0, 0, 2, 8, 9]),
            Ok(BackendMessage::FunctionCallResponse(Some(
                Bytes::copy_from_slice(&[8, 9])
            )))
        );
        assert_eq!(
            err_text(b'V', &[0xff, 0xff, 0xff, 0xfe]),
            "message contents do not agree with length in message type \"V\""
        );
        assert_eq!(
            parse(b'v', b"\0\0\0\0\0\0\0\x02_pq_.a\0_pq_.b\0"),
            Ok(BackendMessage::NegotiateProtocolVersion {
                newest_minor: 0,
                unrecognized: vec!["_pq_.a".to_owned(), "_pq_.b".to_owned()]
            })
        );
        assert_eq!(
            err_text(b'v', b"\0\0\0\0\x7f\xff\xff\xff"),
            "message contents do not agree with length in message type \"v\""
        );
        assert_eq!(
            parse(b't', &[0, 2, 0, 0, 0, 23, 0, 0, 0, 25]),
            Ok(BackendMessage::ParameterDescription(vec![23, 25]))
        );
        assert_eq!(
            err_text(b't', &[0, 2, 0, 0, 0, 23]),
            "insufficient data in \"t\" message"
        );
        assert_eq!(
            parse(b'G', &[1, 0, 1, 0, 1]),
            Ok(BackendMessage::CopyInResponse(CopyResponse {
                format: 1,
                column_formats: vec![1]
            }))
        );
        assert_eq!(
            parse(b'W', &[0, 0, 0]),
            Ok(BackendMessage::CopyBothResponse(CopyResponse {
                format: 0,
                column_formats: vec![]
            }))
        );
        assert_eq!(
            err_text(b'H', &[0, 0xff, 0xff]),
            "message contents do not agree with length in message type \"H\""
        );
        assert_eq!(
            parse(b'A', b"\0\0\0\x05ch\0pay\xff\0"),
            Ok(BackendMessage::NotificationResponse {
                process_id: 5,
                channel: "ch".to_owned(),
                payload: "pay\u{fffd}".to_owned()
            })
        );
    }

    #[test]
    fn hostile_bodies_have_libpq_texts() {
        // Z with a 2-byte body.
        assert_eq!(
            err_text(b'Z', b"II"),
            "message contents do not agree with length in message type \"Z\""
        );
        assert_eq!(
            err_text(b'Z', b""),
            "message contents do not agree with length in message type \"Z\""
        );
        // T with extra bytes (libpq 13.3 has no "extraneous data" text).
        let mut t = vec![0, 1];
        t.extend_from_slice(b"one\0\0\0\0\0\0\0\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0");
        assert!(parse(b'T', &t).is_ok());
        t.push(0);
        assert_eq!(
            err_text(b'T', &t),
            "message contents do not agree with length in message type \"T\""
        );
        // T too short for its field count, or a name without NUL.
        assert_eq!(
            err_text(b'T', &[0, 2, b'a', 0, 0]),
            "insufficient data in \"T\" message"
        );
        assert_eq!(
            err_text(b'T', &[0, 1, b'a']),
            "insufficient data in \"T\" message"
        );
        assert_eq!(err_text(b'T', &[0]), "insufficient data in \"T\" message");
        // A huge field count with a tiny body allocates nothing big and fails.
        assert_eq!(
            err_text(b'T', &[0xff, 0xff]),
            "insufficient data in \"T\" message"
        );
        // Missing NUL in strings.
        assert_eq!(
            err_text(b'C', b"SELECT 1"),
            "message contents do not agree with length in message type \"C\""
        );
        assert_eq!(
            err_text(b'S', b"name\0value"),
            "message contents do not agree with length in message type \"S\""
        );
        // libpq 13.3 against a scripted server: an `S` with a trailing byte fails the
        // connection with exactly this text.
        assert_eq!(
            err_text(b'S', b"name\0value\0x"),
            "message contents do not agree with length in message type \"S\""
        );
        assert_eq!(
            err_text(b'E', b"SERROR\0Mx"),
            "message contents do not agree with length in message type \"E\""
        );
        // Unknown tag.
        assert_eq!(
            err_text(b'q', b""),
            "unexpected response from server; first received character was \"q\""
        );
    }

    #[test]
    fn data_row_is_validated_on_parse() {
        // Value past the end.
        assert_eq!(
            err_text(b'D', &[0, 1, 0, 0, 0, 5, b'a']),
            "insufficient data in \"D\" message"
        );
        // Count says two values, one present.
        assert_eq!(
            err_text(b'D', &[0, 2, 0, 0, 0, 1, b'a']),
            "insufficient data in \"D\" message"
        );
        // No count at all; truncated length word.
        assert_eq!(err_text(b'D', &[0]), "insufficient data in \"D\" message");
        assert_eq!(
            err_text(b'D', &[0, 1, 0, 0]),
            "insufficient data in \"D\" message"
        );
        // Bytes after the last value.
        assert_eq!(
            err_text(b'D', &[0, 1, 0, 0, 0, 1, b'a', b'b']),
            "message contents do not agree with length in message type \"D\""
        );
        // Negative lengths other than -1 (libpq 13.3 reads -2 as NULL; we refuse it).
        assert_eq!(
            err_text(b'D', &[0, 1, 0xff, 0xff, 0xff, 0xfe]),
            "message contents do not agree with length in message type \"D\""
        );
        assert_eq!(
            err_text(b'D', &[0, 1, 0x80, 0, 0, 0]),
            "message contents do not agree with length in message type \"D\""
        );
        // Empty row.
        let Ok(BackendMessage::DataRow(row)) = parse(b'D', &[0, 0]) else {
            panic!()
        };
        assert!(row.is_empty());
        assert_eq!(row.values().count(), 0);
        // 65535 NULLs (count is unsigned, as in libpq).
        let mut body = vec![0xff, 0xff];
        for _ in 0..0xffff {
            body.extend_from_slice(&[0xff; 4]);
        }
        let Ok(BackendMessage::DataRow(row)) = parse(b'D', &body) else {
            panic!()
        };
        assert_eq!(row.len(), 65535);
        assert!(row.values().all(|v| v.is_none()));
    }
}
