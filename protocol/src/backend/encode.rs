//! Encoding backend messages: what a server sends. For scripted fake servers in tests and
//! for the fuzzers' decode → encode → decode checks; a client never sends these.

use crate::buffer::Bytes;

use super::{
    tag, Authentication, BackendMessage, CopyResponse, DataRow, RowDescription, TransactionStatus,
};
use crate::error_fields::ErrorFields;
use crate::frontend::{cstr, message, EncodeError};

impl BackendMessage {
    /// The message's type byte.
    pub fn tag(&self) -> u8 {
        match self {
            Self::Authentication(_) => tag::AUTHENTICATION,
            Self::BackendKeyData { .. } => tag::BACKEND_KEY_DATA,
            Self::BindComplete => tag::BIND_COMPLETE,
            Self::CloseComplete => tag::CLOSE_COMPLETE,
            Self::CommandComplete(_) => tag::COMMAND_COMPLETE,
            Self::CopyData(_) => tag::COPY_DATA,
            Self::CopyDone => tag::COPY_DONE,
            Self::CopyInResponse(_) => tag::COPY_IN_RESPONSE,
            Self::CopyOutResponse(_) => tag::COPY_OUT_RESPONSE,
            Self::CopyBothResponse(_) => tag::COPY_BOTH_RESPONSE,
            Self::DataRow(_) => tag::DATA_ROW,
            Self::EmptyQueryResponse => tag::EMPTY_QUERY_RESPONSE,
            Self::ErrorResponse(_) => tag::ERROR_RESPONSE,
            Self::FunctionCallResponse(_) => tag::FUNCTION_CALL_RESPONSE,
            Self::NegotiateProtocolVersion { .. } => tag::NEGOTIATE_PROTOCOL_VERSION,
            Self::NoData => tag::NO_DATA,
            Self::NoticeResponse(_) => tag::NOTICE_RESPONSE,
            Self::NotificationResponse { .. } => tag::NOTIFICATION_RESPONSE,
            Self::ParameterDescription(_) => tag::PARAMETER_DESCRIPTION,
            Self::ParameterStatus { .. } => tag::PARAMETER_STATUS,
            Self::ParseComplete => tag::PARSE_COMPLETE,
            Self::PortalSuspended => tag::PORTAL_SUSPENDED,
            Self::ReadyForQuery(_) => tag::READY_FOR_QUERY,
            Self::RowDescription(_) => tag::ROW_DESCRIPTION,
        }
    }

    /// Appends the message as a server would send it. On error nothing is appended.
    ///
    /// ```
    /// use pgcluster_protocol::backend::{BackendMessage, TransactionStatus};
    ///
    /// let mut out = Vec::new();
    /// BackendMessage::ReadyForQuery(TransactionStatus::Idle).encode(&mut out).unwrap();
    /// assert_eq!(out, b"Z\0\0\0\x05I");
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        message(Some(self.tag()), out, |out| self.encode_body(out))
    }

    fn encode_body(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            Self::Authentication(auth) => encode_auth(auth, out)?,
            Self::BackendKeyData {
                process_id,
                secret_key,
            } => {
                out.extend_from_slice(&process_id.to_be_bytes());
                out.extend_from_slice(secret_key);
            }
            Self::BindComplete
            | Self::CloseComplete
            | Self::CopyDone
            | Self::EmptyQueryResponse
            | Self::NoData
            | Self::ParseComplete
            | Self::PortalSuspended => {}
            Self::CommandComplete(command) => cstr(command.as_bytes(), "command tag", out)?,
            Self::CopyData(data) => out.extend_from_slice(data),
            Self::CopyInResponse(r) | Self::CopyOutResponse(r) | Self::CopyBothResponse(r) => {
                encode_copy_response(r, out)?;
            }
            Self::DataRow(row) => out.extend_from_slice(row.body()),
            Self::ErrorResponse(fields) | Self::NoticeResponse(fields) => {
                encode_error_fields(fields, out)?;
            }
            Self::FunctionCallResponse(value) => match value {
                None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(value) => {
                    let len = i32::try_from(value.len()).map_err(|_| EncodeError::TooLong)?;
                    out.extend_from_slice(&len.to_be_bytes());
                    out.extend_from_slice(value);
                }
            },
            Self::NegotiateProtocolVersion {
                newest_minor,
                unrecognized,
            } => {
                out.extend_from_slice(&newest_minor.to_be_bytes());
                let n = i32::try_from(unrecognized.len()).map_err(|_| EncodeError::TooMany {
                    what: "protocol options",
                })?;
                out.extend_from_slice(&n.to_be_bytes());
                for option in unrecognized {
                    cstr(option.as_bytes(), "protocol option", out)?;
                }
            }
            Self::NotificationResponse {
                process_id,
                channel,
                payload,
            } => {
                out.extend_from_slice(&process_id.to_be_bytes());
                cstr(channel.as_bytes(), "channel", out)?;
                cstr(payload.as_bytes(), "payload", out)?;
            }
            Self::ParameterDescription(oids) => {
                count16(oids.len(), "parameter types", out)?;
                for oid in oids {
                    out.extend_from_slice(&oid.to_be_bytes());
                }
            }
            Self::ParameterStatus { name, value } => {
                cstr(name.as_bytes(), "parameter name", out)?;
                cstr(value.as_bytes(), "parameter value", out)?;
            }
            Self::ReadyForQuery(status) => out.push(match status {
                TransactionStatus::Idle => b'I',
                TransactionStatus::InTransaction => b'T',
                TransactionStatus::Failed => b'E',
            }),
            Self::RowDescription(desc) => encode_row_description(desc, out)?,
        }
        Ok(())
    }
}

impl DataRow {
    /// A row with the given values (`None` is SQL NULL), for fake servers.
    pub fn from_values(values: &[Option<&[u8]>]) -> Result<Self, EncodeError> {
        let mut body = Vec::new();
        count16(values.len(), "values", &mut body)?;
        for value in values {
            match value {
                None => body.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(v) => {
                    let len = i32::try_from(v.len()).map_err(|_| EncodeError::TooLong)?;
                    body.extend_from_slice(&len.to_be_bytes());
                    body.extend_from_slice(v);
                }
            }
        }
        // Built above with matching lengths, so it validates.
        Self::parse(&Bytes::from(body)).map_err(|_| EncodeError::TooLong)
    }
}

/// A `u16` count, as libpq reads 2-byte counts.
fn count16(n: usize, what: &'static str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let n = u16::try_from(n).map_err(|_| EncodeError::TooMany { what })?;
    out.extend_from_slice(&n.to_be_bytes());
    Ok(())
}

fn encode_auth(auth: &Authentication, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let (code, data): (u32, &[u8]) = match auth {
        Authentication::Ok => (0, b""),
        Authentication::KerberosV5 => (2, b""),
        Authentication::CleartextPassword => (3, b""),
        Authentication::Md5Password { salt } => (5, salt),
        Authentication::ScmCredential => (6, b""),
        Authentication::Gss => (7, b""),
        Authentication::GssContinue(data) => (8, data),
        Authentication::Sspi => (9, b""),
        Authentication::Sasl(mechanisms) => {
            out.extend_from_slice(&10u32.to_be_bytes());
            for m in mechanisms {
                if m.is_empty() {
                    // An empty name would end the list early.
                    return Err(EncodeError::ContainsNul {
                        what: "SASL mechanism",
                    });
                }
                cstr(m.as_bytes(), "SASL mechanism", out)?;
            }
            out.push(0);
            return Ok(());
        }
        Authentication::SaslContinue(data) => (11, data),
        Authentication::SaslFinal(data) => (12, data),
        Authentication::Other(code) => (*code, b""),
    };
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(data);
    Ok(())
}

fn encode_copy_response(r: &CopyResponse, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    out.extend_from_slice(&r.format.to_be_bytes());
    count16(r.column_formats.len(), "columns", out)?;
    for f in &r.column_formats {
        out.extend_from_slice(&f.to_be_bytes());
    }
    Ok(())
}

fn encode_row_description(desc: &RowDescription, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    count16(desc.fields.len(), "columns", out)?;
    for f in &desc.fields {
        cstr(f.name.as_bytes(), "column name", out)?;
        out.extend_from_slice(&f.table_oid.to_be_bytes());
        out.extend_from_slice(&f.column_id.to_be_bytes());
        out.extend_from_slice(&f.type_oid.to_be_bytes());
        out.extend_from_slice(&f.type_size.to_be_bytes());
        out.extend_from_slice(&f.type_modifier.to_be_bytes());
        out.extend_from_slice(&f.format.to_be_bytes());
    }
    Ok(())
}

/// The fields in PostgreSQL's order, then the unknown ones; `is_notice` is the tag's job.
fn encode_error_fields(fields: &ErrorFields, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let known = [
        (b'S', &fields.severity),
        (b'V', &fields.severity_nonlocalized),
        (b'C', &fields.code),
        (b'M', &fields.message),
        (b'D', &fields.detail),
        (b'H', &fields.hint),
        (b'P', &fields.position),
        (b'p', &fields.internal_position),
        (b'q', &fields.internal_query),
        (b'W', &fields.context),
        (b's', &fields.schema),
        (b't', &fields.table),
        (b'c', &fields.column),
        (b'd', &fields.data_type),
        (b'n', &fields.constraint),
        (b'F', &fields.file),
        (b'L', &fields.line),
        (b'R', &fields.routine),
    ];
    let known = known
        .iter()
        .filter_map(|(code, value)| value.as_ref().map(|v| (*code, v.as_str())));
    let other = fields.other.iter().map(|(code, v)| (*code, v.as_str()));
    for (code, value) in known.chain(other) {
        if code == 0 {
            return Err(EncodeError::ContainsNul { what: "field code" });
        }
        out.push(code);
        cstr(value.as_bytes(), "error field", out)?;
    }
    out.push(0);
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
    use crate::frame::FrameReader;
    use crate::limits::Limits;

    /// Every captured stream re-encodes to exactly the bytes the server sent (the server
    /// sends error fields in the order we encode them, and no duplicates).
    #[test]
    fn captured_streams_round_trip_byte_for_byte() {
        for stream in [
            super::super::tests::CAPTURED_STARTUP_AND_SELECT,
            include_bytes!("../../tests/data/types.bin"),
            include_bytes!("../../tests/data/notice.bin"),
            include_bytes!("../../tests/data/copyout.bin"),
            include_bytes!("../../tests/data/notify.bin"),
            include_bytes!("../../tests/data/raise.bin"),
            include_bytes!("../../tests/data/auth_md5.bin"),
            include_bytes!("../../tests/data/auth_sasl.bin"),
            include_bytes!("../../tests/data/auth_reject.bin"),
        ] {
            let mut r = FrameReader::new(Limits::default());
            r.extend_from_slice(stream);
            let mut out = Vec::new();
            while let Some(f) = r.next_frame().unwrap() {
                BackendMessage::parse(&f).unwrap().encode(&mut out).unwrap();
            }
            assert_eq!(out, stream);
        }
    }

    #[test]
    fn fake_server_messages() {
        let mut out = Vec::new();
        let row = DataRow::from_values(&[Some(b"1"), None, Some(b"")]).unwrap();
        assert_eq!(
            row.values().collect::<Vec<_>>(),
            vec![Some(&b"1"[..]), None, Some(&b""[..])]
        );
        BackendMessage::DataRow(row).encode(&mut out).unwrap();
        assert_eq!(out, b"D\0\0\0\x13\0\x03\0\0\0\x011\xff\xff\xff\xff\0\0\0\0");
        out.clear();
        BackendMessage::Authentication(Authentication::Sasl(vec!["SCRAM-SHA-256".into()]))
            .encode(&mut out)
            .unwrap();
        assert_eq!(out, include_bytes!("../../tests/data/auth_sasl.bin"));
        let err = BackendMessage::CommandComplete("a\0b".into())
            .encode(&mut out)
            .unwrap_err();
        assert_eq!(err.to_string(), "the command tag contains a NUL byte");
        assert_eq!(out, include_bytes!("../../tests/data/auth_sasl.bin"));
    }
}
