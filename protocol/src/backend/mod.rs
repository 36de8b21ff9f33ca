//! Decoding backend (server-to-client) messages from frames.

use bytes::Bytes;

use crate::error_fields::ErrorFields;
use crate::frame::Frame;
use crate::ProtocolError;

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
        /// Secret key for CancelRequest.
        secret_key: i32,
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
        let _ = frame;
        todo!()
    }
}

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

    /// The values in order; `None` is SQL NULL.
    pub fn values(&self) -> impl Iterator<Item = Option<&[u8]>> + '_ {
        let _ = &self.body;
        std::iter::empty()
    }

    /// The frame body this row was decoded from (count word included).
    pub fn body(&self) -> &Bytes {
        &self.body
    }
}
