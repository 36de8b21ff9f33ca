//! Authentication requests (`R`).

use crate::buffer::Bytes;

use super::{tag, Authentication};
use crate::reader::Reader;
use crate::ProtocolError;

/// Decodes the body of an `R` message.
pub(super) fn parse(body: &Bytes) -> Result<Authentication, ProtocolError> {
    let mut r = Reader::new(tag::AUTHENTICATION, body);
    let code = r.u32()?;
    // Unsupported methods: the client refuses them whatever follows the code (libpq's
    // pg_fe_sendauth reads no further).
    let mut unsupported = |auth: Authentication| {
        r.rest();
        auth
    };
    let auth = match code {
        0 => Authentication::Ok,
        2 => unsupported(Authentication::KerberosV5),
        3 => Authentication::CleartextPassword,
        5 => {
            let salt = r.bytes(4)?;
            let salt = <[u8; 4]>::try_from(salt).map_err(|_| r.short_error())?;
            Authentication::Md5Password { salt }
        }
        6 => unsupported(Authentication::ScmCredential),
        7 => unsupported(Authentication::Gss),
        8 => Authentication::GssContinue(body.slice_ref(r.rest())),
        9 => unsupported(Authentication::Sspi),
        10 => {
            let mut mechanisms = Vec::new();
            loop {
                let name = r.cstr()?;
                if name.is_empty() {
                    break;
                }
                mechanisms.push(String::from_utf8_lossy(name).into_owned());
            }
            Authentication::Sasl(mechanisms)
        }
        11 => Authentication::SaslContinue(body.slice_ref(r.rest())),
        12 => Authentication::SaslFinal(body.slice_ref(r.rest())),
        other => unsupported(Authentication::Other(other)),
    };
    r.finish()?;
    Ok(auth)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;

    /// An unsupported method is refused as such, whatever bytes follow its code; a
    /// supported one must be exactly as long as its message says.
    #[test]
    fn unsupported_methods_are_read_no_further() {
        let with_tail = |code: u32| {
            let mut body = code.to_be_bytes().to_vec();
            body.extend_from_slice(b"tail");
            parse(&Bytes::copy_from_slice(&body))
        };
        assert_eq!(with_tail(2).unwrap(), Authentication::KerberosV5);
        assert_eq!(with_tail(6).unwrap(), Authentication::ScmCredential);
        assert_eq!(with_tail(7).unwrap(), Authentication::Gss);
        assert_eq!(with_tail(9).unwrap(), Authentication::Sspi);
        assert_eq!(with_tail(42).unwrap(), Authentication::Other(42));
        assert!(with_tail(0).is_err());
        assert!(with_tail(3).is_err());
    }
}
