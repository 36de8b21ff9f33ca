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
/// `GeneralName` choice `iPAddress [7] OCTET STRING`.
const GN_IP_ADDRESS: u8 = 0x87;

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
    /// Its parameters (contents), when they are a SEQUENCE (RSASSA-PSS-params).
    signature_params: Option<&'a [u8]>,
}

fn parse(cert: &[u8]) -> Option<Parsed<'_>> {
    let mut outer = Der::new(cert);
    let mut certificate = Der::new(outer.expect(SEQUENCE)?);
    let tbs = certificate.expect(SEQUENCE)?;
    let mut algorithm = Der::new(certificate.expect(SEQUENCE)?);
    let signature_oid = algorithm.expect(OID)?;
    let signature_params = algorithm
        .next()
        .filter(|t| t.tag == SEQUENCE)
        .map(|t| t.body);
    Some(Parsed {
        tbs,
        signature_oid,
        signature_params,
    })
}

/// The `TBSCertificate` fields read here (contents, without tag and length).
struct Tbs<'a> {
    issuer: &'a [u8],
    validity: &'a [u8],
    subject: &'a [u8],
    subject_public_key_info: &'a [u8],
    /// Empty when the certificate has none.
    extensions: &'a [u8],
}

fn tbs_fields(tbs: &[u8]) -> Option<Tbs<'_>> {
    let mut fields = Der::new(tbs);
    let mut field = fields.next()?;
    if field.tag == CONTEXT_0 {
        field = fields.next()?; // serialNumber after the version
    }
    let _serial = field;
    let _signature = fields.expect(SEQUENCE)?;
    let issuer = fields.expect(SEQUENCE)?;
    let validity = fields.expect(SEQUENCE)?;
    let subject = fields.expect(SEQUENCE)?;
    let subject_public_key_info = fields.expect(SEQUENCE)?;
    let mut extensions: &[u8] = &[];
    while let Some(t) = fields.next() {
        if t.tag == CONTEXT_3 {
            extensions = Der::new(t.body).expect(SEQUENCE)?;
        }
    }
    Some(Tbs {
        issuer,
        validity,
        subject,
        subject_public_key_info,
        extensions,
    })
}

/// A subjectAltName entry libpq looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SanName {
    /// A `dNSName` entry.
    Dns(Vec<u8>),
    /// An `iPAddress` entry: the address in network byte order (4 or 16 bytes when well
    /// formed).
    Ip(Vec<u8>),
}

/// The names of a server certificate that libpq 14+ matches against the host name: the
/// `dNSName` and `iPAddress` entries of subjectAltName, in order, and the subject's first
/// commonName.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CertNames {
    /// The subjectAltName entries of the two kinds, in the certificate's order.
    pub(crate) san: Vec<SanName>,
    /// The subject's first commonName.
    pub(crate) common_name: Option<Vec<u8>>,
}

/// Reads the names [`CertNames`] holds from a certificate (DER).
pub(crate) fn names(cert: &[u8]) -> Result<CertNames, TlsError> {
    let bad = || TlsError::CertificateNames;
    let parsed = parse(cert).ok_or_else(bad)?;
    let Tbs {
        subject,
        extensions,
        ..
    } = tbs_fields(parsed.tbs).ok_or_else(bad)?;
    let mut names = CertNames::default();
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
            match name.tag {
                GN_DNS_NAME => names.san.push(SanName::Dns(name.body.to_vec())),
                GN_IP_ADDRESS => names.san.push(SanName::Ip(name.body.to_vec())),
                _ => {}
            }
        }
        if !general_names.is_empty() {
            return Err(bad());
        }
    }
    let mut rdns = Der::new(subject);
    while let Some(rdn) = rdns.next() {
        if rdn.tag != SET {
            return Err(bad());
        }
        let mut attributes = Der::new(rdn.body);
        while let Some(attribute) = attributes.next() {
            let mut parts = Der::new(attribute.body);
            if names.common_name.is_none() && parts.expect(OID) == Some(OID_COMMON_NAME) {
                let value = parts.next().ok_or_else(bad)?;
                names.common_name = Some(value.body.to_vec());
            }
        }
    }
    Ok(names)
}

/// Whether a certificate names itself as its issuer (its issuer and subject are the same
/// DER), as a self-signed certificate does.
pub(crate) fn is_self_issued(cert: &[u8]) -> bool {
    parse(cert)
        .and_then(|p| tbs_fields(p.tbs))
        .is_some_and(|t| t.issuer == t.subject)
}

/// The RSA public key (`RSAPublicKey`, DER) of a certificate whose key is an
/// `id-RSASSA-PSS` key (RFC 4055), which WebPKI does not take; `None` for any other key.
pub(crate) fn rsa_pss_public_key(cert: &[u8]) -> Option<&[u8]> {
    const BIT_STRING: u8 = 0x03;
    const ID_RSASSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
    let tbs = tbs_fields(parse(cert)?.tbs)?;
    let mut spki = Der::new(tbs.subject_public_key_info);
    let mut algorithm = Der::new(spki.expect(SEQUENCE)?);
    if algorithm.expect(OID)? != ID_RSASSA_PSS {
        return None;
    }
    let (&unused_bits, key) = spki.expect(BIT_STRING)?.split_first()?;
    (unused_bits == 0).then_some(key)
}

/// A certificate's validity period, in seconds since the Unix epoch: `(notBefore,
/// notAfter)`; `None` when it cannot be read.
pub(crate) fn validity(cert: &[u8]) -> Option<(i64, i64)> {
    let tbs = tbs_fields(parse(cert)?.tbs)?;
    let mut period = Der::new(tbs.validity);
    let not_before = der_time(period.next()?)?;
    let not_after = der_time(period.next()?)?;
    Some((not_before, not_after))
}

/// `UTCTime` (`YYMMDDHHMMSSZ`, 1950–2049) or `GeneralizedTime` (`YYYYMMDDHHMMSSZ`), as DER
/// requires them, in seconds since the Unix epoch.
fn der_time(t: Tlv<'_>) -> Option<i64> {
    const UTC_TIME: u8 = 0x17;
    const GENERALIZED_TIME: u8 = 0x18;
    let text = std::str::from_utf8(t.body).ok()?.strip_suffix('Z')?;
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (year, rest) = match (t.tag, text.len()) {
        (UTC_TIME, 12) => {
            let yy = number(0..2)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, 2)
        }
        (GENERALIZED_TIME, 14) => (number(0..4)?, 4),
        _ => return None,
    };
    let field = |i: usize| number(rest + 2 * i..rest + 2 * i + 2);
    let (month, day, hour, minute, second) =
        (field(0)?, field(1)?, field(2)?, field(3)?, field(4)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm), proleptic Gregorian.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
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
    /// Known to OpenSSL, but with no digest of its own (Ed25519, Ed448): libpq fails with
    /// `could not find digest for NID UNDEF`.
    NoDigest,
    /// RSASSA-PSS: the hash is in its parameters.
    Pss,
}

/// The hash of RSASSA-PSS-params (RFC 4055: `hashAlgorithm [0]`, SHA-1 when absent), as
/// OpenSSL's `X509_get_signature_info` reports it to libpq; SHA-1 becomes SHA-256 (RFC 5929).
fn pss_hash(params: Option<&[u8]>) -> Option<Hash> {
    const SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
    const NIST_HASH: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02];
    let mut fields = Der::new(params?);
    let oid = match fields.next() {
        None => return Some(Hash::Sha256),
        Some(t) if t.tag == CONTEXT_0 => {
            let mut identifier = Der::new(Der::new(t.body).expect(SEQUENCE)?);
            identifier.expect(OID)?
        }
        Some(_) => return Some(Hash::Sha256), // no hashAlgorithm: the SHA-1 default
    };
    if oid == SHA1 {
        return Some(Hash::Sha256);
    }
    let (prefix, last) = oid.split_at_checked(oid.len().checked_sub(1)?)?;
    match (prefix, last.first()?) {
        (NIST_HASH, 1) => Some(Hash::Sha256),
        (NIST_HASH, 2) => Some(Hash::Sha384),
        (NIST_HASH, 3) => Some(Hash::Sha512),
        (NIST_HASH, 4) => Some(Hash::Sha224),
        _ => None,
    }
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
        (PKCS1, 10) => Algorithm::Pss,
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
        Some(Algorithm::Pss) => {
            pss_hash(parsed.signature_params).ok_or(TlsError::SignatureAlgorithm)?
        }
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
        let ed448 = cert(&[0x2b, 0x65, 0x71], None, &[]);
        for der in [ed25519, ed448] {
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
    fn names_keep_san_entries_in_order_and_the_first_common_name() {
        let der = cert(
            SHA256_RSA,
            Some("cn.example"),
            &[
                (GN_DNS_NAME, b"localhost"),
                (GN_IP_ADDRESS, &[127, 0, 0, 1]),
                (0x86, b"https://uri.example"),
            ],
        );
        assert_eq!(
            names(&der).unwrap(),
            CertNames {
                san: vec![
                    SanName::Dns(b"localhost".to_vec()),
                    SanName::Ip(vec![127, 0, 0, 1])
                ],
                common_name: Some(b"cn.example".to_vec()),
            }
        );
        assert_eq!(
            names(&cert(SHA256_RSA, None, &[])).unwrap(),
            CertNames::default()
        );
    }

    #[test]
    fn der_times() {
        let utc = |s: &str| {
            der_time(Tlv {
                tag: 0x17,
                body: s.as_bytes(),
            })
        };
        let general = |s: &str| {
            der_time(Tlv {
                tag: 0x18,
                body: s.as_bytes(),
            })
        };
        assert_eq!(utc("700101000000Z"), Some(0));
        assert_eq!(utc("000301000000Z"), Some(951_868_800)); // 2000-03-01
        assert_eq!(general("20380119031408Z"), Some(2_147_483_648));
        assert_eq!(utc("491231235959Z"), Some(2_524_607_999)); // 2049
        assert_eq!(general("19691231235959Z"), Some(-1));
        for bad in [
            "700101000000",
            "7001010000Z",
            "701301000000Z",
            "70010100000aZ",
            "+00101000000Z",
        ] {
            assert_eq!(utc(bad), None, "{bad}");
        }
    }

    /// RSASSA-PSS: the hash of its parameters (OpenSSL's `X509_get_signature_info`, which
    /// libpq uses), SHA-1 (the default) becoming SHA-256.
    #[test]
    fn rsa_pss_binds_with_the_hash_of_its_parameters() {
        const PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
        let nist = |n: u8| vec![0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, n];
        let with_params = |params: Option<Vec<u8>>| {
            let mut alg = tlv(OID, PSS);
            if let Some(p) = params {
                alg.extend(tlv(SEQUENCE, &p));
            }
            tlv(
                SEQUENCE,
                &cat(&[tlv(SEQUENCE, &[]), tlv(SEQUENCE, &alg), tlv(0x03, &[0])]),
            )
        };
        let hash_param = |oid: &[u8]| tlv(CONTEXT_0, &tlv(SEQUENCE, &tlv(OID, oid)));
        let cases: [(Option<Vec<u8>>, usize); 6] = [
            (Some(hash_param(&nist(1))), 32),
            (Some(hash_param(&nist(2))), 48),
            (Some(hash_param(&nist(3))), 64),
            (Some(hash_param(&nist(4))), 28),
            (Some(hash_param(&[0x2b, 0x0e, 0x03, 0x02, 0x1a])), 32),
            (Some(Vec::new()), 32),
        ];
        for (params, len) in cases {
            let der = with_params(params.clone());
            assert_eq!(
                tls_server_end_point(&der).unwrap().len(),
                len,
                "{params:x?}"
            );
        }
        let der = with_params(Some(hash_param(&nist(1))));
        assert_eq!(
            tls_server_end_point(&der).unwrap(),
            Sha256::digest(&der).to_vec()
        );
        for bad in [None, Some(hash_param(&[0x2a, 0x03]))] {
            assert_eq!(
                tls_server_end_point(&with_params(bad)).unwrap_err(),
                TlsError::SignatureAlgorithm
            );
        }
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
