//! The few facts pgcluster reads from a server certificate itself: its host names (for
//! `sslmode=verify-full`, as libpq 13 checks them) and its signature algorithm (for the
//! `tls-server-end-point` channel binding of SCRAM-SHA-256-PLUS, RFC 5929).
//!
//! A small DER walker with checked lengths: every length comes from the server, so every
//! slice is taken with `get`, never by indexing.

use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

use super::TlsError;

/// DER tags used here.
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
const BOOLEAN: u8 = 0x01;
/// `[0] EXPLICIT Version`, `[3] EXPLICIT Extensions` in `TBSCertificate`.
const CONTEXT_0: u8 = 0xa0;
const CONTEXT_3: u8 = 0xa3;
/// `GeneralName` choice `dNSName [2] IA5String`.
const GN_DNS_NAME: u8 = 0x82;

/// `id-ce-subjectAltName` (2.5.29.17).
const OID_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
/// `id-at-commonName` (2.5.4.3).
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// One DER element: its tag and contents.
#[derive(Debug, Clone, Copy)]
struct Tlv<'a> {
    tag: u8,
    body: &'a [u8],
}

/// Reads DER elements one after another from a byte slice.
struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(input: &'a [u8]) -> Self {
        Self { rest: input }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next element, or `None` when the input is malformed or exhausted. Only definite
    /// lengths of up to four bytes are accepted (DER requires definite lengths).
    fn next(&mut self) -> Option<Tlv<'a>> {
        let (&tag, rest) = self.rest.split_first()?;
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 {
                return None;
            }
            let (bytes, after) = rest.split_at_checked(count)?;
            rest = after;
            bytes.iter().try_fold(0usize, |acc, &b| {
                acc.checked_mul(256)?.checked_add(usize::from(b))
            })?
        };
        let (body, after) = rest.split_at_checked(len)?;
        self.rest = after;
        Some(Tlv { tag, body })
    }

    /// The next element, which must have `tag`.
    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        self.next().filter(|t| t.tag == tag).map(|t| t.body)
    }
}

/// The parts of a certificate used here.
struct Parsed<'a> {
    /// `TBSCertificate` contents.
    tbs: &'a [u8],
    /// The OID (contents) of the outer `signatureAlgorithm`.
    signature_oid: &'a [u8],
}

fn parse(cert: &[u8]) -> Option<Parsed<'_>> {
    let mut outer = Der::new(cert);
    let mut certificate = Der::new(outer.expect(SEQUENCE)?);
    let tbs = certificate.expect(SEQUENCE)?;
    let mut algorithm = Der::new(certificate.expect(SEQUENCE)?);
    let signature_oid = algorithm.expect(OID)?;
    Some(Parsed { tbs, signature_oid })
}

/// `TBSCertificate`'s subject and extensions (the latter empty when absent).
fn subject_and_extensions(tbs: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut fields = Der::new(tbs);
    let mut field = fields.next()?;
    if field.tag == CONTEXT_0 {
        field = fields.next()?; // serialNumber after the version
    }
    let _serial = field;
    let _signature = fields.expect(SEQUENCE)?;
    let _issuer = fields.expect(SEQUENCE)?;
    let _validity = fields.expect(SEQUENCE)?;
    let subject = fields.expect(SEQUENCE)?;
    let mut extensions: &[u8] = &[];
    while let Some(t) = fields.next() {
        if t.tag == CONTEXT_3 {
            extensions = Der::new(t.body).expect(SEQUENCE)?;
        }
    }
    Some((subject, extensions))
}

/// A name the certificate presents for its server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CertName {
    /// A `dNSName` entry of subjectAltName.
    Dns(String),
    /// The subject's commonName (used only when there is no `dNSName` entry).
    CommonName(String),
}

/// The names of a server certificate as libpq 13 reads them: the `dNSName` entries of
/// subjectAltName, or, when there are none, the subject's first commonName. `iPAddress`
/// entries are ignored, as libpq 13 does (14 and later match them): with libpq 13, a
/// `verify-full` connection to `127.0.0.1` needs that address as a DNS name or CN.
pub(crate) fn names(cert: &[u8]) -> Result<Vec<CertName>, TlsError> {
    let bad = || TlsError::CertificateNames;
    let parsed = parse(cert).ok_or_else(bad)?;
    let (subject, extensions) = subject_and_extensions(parsed.tbs).ok_or_else(bad)?;
    let mut names = Vec::new();
    let mut list = Der::new(extensions);
    while !list.is_empty() {
        let mut extension = Der::new(list.expect(SEQUENCE).ok_or_else(bad)?);
        let oid = extension.expect(OID).ok_or_else(bad)?;
        let mut value = extension.next().ok_or_else(bad)?;
        if value.tag == BOOLEAN {
            value = extension.next().ok_or_else(bad)?;
        }
        if oid != OID_SUBJECT_ALT_NAME || value.tag != OCTET_STRING {
            continue;
        }
        let mut general_names = Der::new(Der::new(value.body).expect(SEQUENCE).ok_or_else(bad)?);
        while let Some(name) = general_names.next() {
            if name.tag == GN_DNS_NAME {
                names.push(CertName::Dns(
                    String::from_utf8_lossy(name.body).into_owned(),
                ));
            }
        }
        if !general_names.is_empty() {
            return Err(bad());
        }
    }
    if !names.iter().any(|n| matches!(n, CertName::Dns(_))) {
        // libpq 13: the first commonName of the subject.
        let mut rdns = Der::new(subject);
        let mut common_name = None;
        while let Some(rdn) = rdns.next() {
            if rdn.tag != SET {
                return Err(bad());
            }
            let mut attributes = Der::new(rdn.body);
            while let Some(attribute) = attributes.next() {
                let mut parts = Der::new(attribute.body);
                if common_name.is_none() && parts.expect(OID) == Some(OID_COMMON_NAME) {
                    let value = parts.next().ok_or_else(bad)?;
                    common_name = Some(String::from_utf8_lossy(value.body).into_owned());
                }
            }
        }
        if let Some(cn) = common_name {
            names.push(CertName::CommonName(cn));
        }
    }
    Ok(names)
}

/// The hash functions RFC 5929 can pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

/// What the signature algorithm tells about the binding hash.
enum Algorithm {
    Hash(Hash),
    /// Known to OpenSSL, but with no digest of its own (Ed25519, Ed448, RSASSA-PSS): libpq
    /// fails with `could not find digest for NID UNDEF`.
    NoDigest,
}

/// The signature algorithm OID (contents, without tag and length) → the binding hash.
fn algorithm(oid: &[u8]) -> Option<Algorithm> {
    const PKCS1: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    const ECDSA_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01];
    const ECDSA_SHA2: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03];
    const DSA_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x03];
    const NIST_SIG: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03];
    const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
    const ED448: &[u8] = &[0x2b, 0x65, 0x71];
    use Algorithm::{Hash as H, NoDigest};
    if oid == ECDSA_SHA1 || oid == DSA_SHA1 || oid == ED25519 || oid == ED448 {
        return Some(if oid == ED25519 || oid == ED448 {
            NoDigest
        } else {
            H(Hash::Sha256) // RFC 5929: SHA-1 is replaced by SHA-256
        });
    }
    let (prefix, last) = oid.split_at_checked(oid.len().checked_sub(1)?)?;
    let last = *last.first()?;
    Some(match (prefix, last) {
        // md5WithRSAEncryption, sha1WithRSAEncryption → SHA-256 (RFC 5929)
        (PKCS1, 4 | 5) => H(Hash::Sha256),
        (PKCS1, 10) => NoDigest, // RSASSA-PSS
        (PKCS1, 11) => H(Hash::Sha256),
        (PKCS1, 12) => H(Hash::Sha384),
        (PKCS1, 13) => H(Hash::Sha512),
        (PKCS1, 14) => H(Hash::Sha224),
        (ECDSA_SHA2, 1) => H(Hash::Sha224),
        (ECDSA_SHA2, 2) => H(Hash::Sha256),
        (ECDSA_SHA2, 3) => H(Hash::Sha384),
        (ECDSA_SHA2, 4) => H(Hash::Sha512),
        // dsa-with-sha224, dsa-with-sha256
        (NIST_SIG, 1) => H(Hash::Sha224),
        (NIST_SIG, 2) => H(Hash::Sha256),
        _ => return None,
    })
}

/// The `tls-server-end-point` channel-binding data for SCRAM-SHA-256-PLUS: the server
/// certificate (DER) hashed with the hash of its signature algorithm, MD5 and SHA-1 replaced
/// by SHA-256 (RFC 5929 §4.1). An algorithm without a usable hash is an error, never an
/// empty binding.
pub fn tls_server_end_point(cert: &[u8]) -> Result<Vec<u8>, TlsError> {
    let parsed = parse(cert).ok_or(TlsError::SignatureAlgorithm)?;
    let hash = match algorithm(parsed.signature_oid) {
        Some(Algorithm::Hash(hash)) => hash,
        Some(Algorithm::NoDigest) => return Err(TlsError::NoDigest),
        None => return Err(TlsError::SignatureAlgorithm),
    };
    Ok(match hash {
        Hash::Sha224 => Sha224::digest(cert).to_vec(),
        Hash::Sha256 => Sha256::digest(cert).to_vec(),
        Hash::Sha384 => Sha384::digest(cert).to_vec(),
        Hash::Sha512 => Sha512::digest(cert).to_vec(),
    })
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;

    /// DER element with a short or long length.
    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = body.len();
        if len < 0x80 {
            out.push(u8::try_from(len).unwrap());
        } else {
            let bytes = u32::try_from(len).unwrap().to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            out.push(0x80 | u8::try_from(4 - skip).unwrap());
            out.extend_from_slice(&bytes[skip..]);
        }
        out.extend_from_slice(body);
        out
    }

    fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    /// A structurally valid certificate (not signed) with the given parts.
    fn cert(sig_oid: &[u8], cn: Option<&str>, san: &[(u8, &[u8])]) -> Vec<u8> {
        let alg = tlv(SEQUENCE, &tlv(OID, sig_oid));
        let mut subject = Vec::new();
        if let Some(cn) = cn {
            let attribute = tlv(
                SEQUENCE,
                &cat(&[tlv(OID, OID_COMMON_NAME), tlv(0x0c, cn.as_bytes())]),
            );
            subject = tlv(SET, &attribute);
        }
        let mut tbs = cat(&[
            tlv(CONTEXT_0, &tlv(0x02, &[2])),
            tlv(0x02, &[1]),
            alg.clone(),
            tlv(SEQUENCE, &[]),
            tlv(SEQUENCE, &[]),
            tlv(SEQUENCE, &subject),
            tlv(SEQUENCE, &[]),
        ]);
        if !san.is_empty() {
            let names: Vec<u8> = san.iter().flat_map(|(t, v)| tlv(*t, v)).collect();
            let basic = tlv(
                SEQUENCE,
                &cat(&[
                    tlv(OID, &[0x55, 0x1d, 0x13]),
                    tlv(BOOLEAN, &[0xff]),
                    tlv(OCTET_STRING, &tlv(SEQUENCE, &[])),
                ]),
            );
            let ext = tlv(
                SEQUENCE,
                &cat(&[
                    tlv(OID, OID_SUBJECT_ALT_NAME),
                    tlv(OCTET_STRING, &tlv(SEQUENCE, &names)),
                ]),
            );
            tbs.extend(tlv(CONTEXT_3, &tlv(SEQUENCE, &cat(&[basic, ext]))));
        }
        tlv(
            SEQUENCE,
            &cat(&[tlv(SEQUENCE, &tbs), alg, tlv(0x03, &[0, 1, 2, 3])]),
        )
    }

    /// `iPAddress [7]` in a GeneralName.
    const GN_IP_ADDRESS: u8 = 0x87;
    const SHA256_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];

    #[test]
    fn binding_hash_follows_the_signature_algorithm() {
        let cases: [(&[u8], usize); 11] = [
            (&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x04], 32), // md5 → sha256
            (&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05], 32), // sha1 → sha256
            (SHA256_RSA, 32),
            (&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c], 48),
            (&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d], 64),
            (&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0e], 28),
            (&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01], 32), // ecdsa-with-SHA1
            (&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02], 32),
            (&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03], 48),
            (&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04], 64),
            (&[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x02], 32),
        ];
        for (oid, len) in cases {
            let der = cert(oid, Some("x"), &[]);
            let hash = tls_server_end_point(&der).unwrap();
            assert_eq!(hash.len(), len, "{oid:x?}");
        }
        let der = cert(SHA256_RSA, None, &[]);
        assert_eq!(
            tls_server_end_point(&der).unwrap(),
            Sha256::digest(&der).to_vec()
        );
    }

    #[test]
    fn unknown_or_hashless_algorithms_are_errors() {
        let ed25519 = cert(&[0x2b, 0x65, 0x70], None, &[]);
        let pss = cert(
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a],
            None,
            &[],
        );
        for der in [ed25519, pss] {
            let err = tls_server_end_point(&der).unwrap_err();
            assert_eq!(err.to_string(), "could not find digest for NID UNDEF");
        }
        let unknown = cert(&[0x2a, 0x03, 0x04], None, &[]);
        for der in [unknown, vec![], vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff]] {
            let err = tls_server_end_point(&der).unwrap_err();
            assert_eq!(
                err.to_string(),
                "could not determine server certificate signature algorithm"
            );
        }
    }

    #[test]
    fn names_prefer_san_dns_entries_over_common_name() {
        let der = cert(
            SHA256_RSA,
            Some("cn.example"),
            &[
                (GN_DNS_NAME, b"localhost"),
                (GN_IP_ADDRESS, &[127, 0, 0, 1]),
            ],
        );
        assert_eq!(names(&der).unwrap(), [CertName::Dns("localhost".into())]);
        let der = cert(SHA256_RSA, Some("db.example"), &[]);
        assert_eq!(
            names(&der).unwrap(),
            [CertName::CommonName("db.example".into())]
        );
        let der = cert(SHA256_RSA, Some("cn"), &[(GN_IP_ADDRESS, &[10, 0, 0, 1])]);
        assert_eq!(names(&der).unwrap(), [CertName::CommonName("cn".into())]);
        assert_eq!(names(&cert(SHA256_RSA, None, &[])).unwrap(), []);
    }

    #[test]
    fn truncated_certificates_never_panic() {
        let der = cert(SHA256_RSA, Some("cn"), &[(GN_DNS_NAME, b"localhost")]);
        for n in 0..der.len() {
            let _ = names(&der[..n]);
            let _ = tls_server_end_point(&der[..n]);
        }
    }
}
