//! Authentication requests (`R`).

use crate::buffer::Bytes;

use super::{tag, Authentication};
use crate::reader::Reader;
use crate::ProtocolError;

/// Decodes the body of an `R` message.
pub(super) fn parse(body: &Bytes) -> Result<Authentication, ProtocolError> {
    let mut r = Reader::new(tag::AUTHENTICATION, body);
    let code = r.u32()?;
    let auth = match code {
        0 => Authentication::Ok,
        2 => Authentication::KerberosV5,
        3 => Authentication::CleartextPassword,
        5 => {
            let salt = r.bytes(4)?;
            let salt = <[u8; 4]>::try_from(salt).map_err(|_| r.short_error())?;
            Authentication::Md5Password { salt }
        }
        6 => Authentication::ScmCredential,
        7 => Authentication::Gss,
        8 => Authentication::GssContinue(body.slice_ref(r.rest())),
        9 => Authentication::Sspi,
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
        // Unsupported methods: the client refuses them whatever follows the code.
        other => {
            r.rest();
            Authentication::Other(other)
        }
    };
    r.finish()?;
    Ok(auth)
}
