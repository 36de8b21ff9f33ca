//! Server certificate checks as libpq makes them.
//!
//! - `sslmode=require` without a root certificate file: no check at all (libpq only
//!   encrypts). The handshake signatures are still verified, so the server must hold the
//!   key of the certificate it shows.
//! - `verify-ca`, or `prefer`/`require` when a root certificate file exists: the chain must
//!   lead to a trusted root, and the certificate must be in its validity period; the host
//!   name is not looked at. As OpenSSL, a server certificate that is itself in the root
//!   file is trusted as it is (the PostgreSQL documentation's self-signed certificate,
//!   which `openssl req -x509` marks `CA:TRUE`), within its validity period.
//! - `verify-full`: the chain, then the host name against the certificate's names with
//!   libpq 14+'s rules ([`check_host_name`]: `dNSName` and `iPAddress` entries, the
//!   commonName when no entry of the host's kind exists).
//!
//! A failed chain check is [`TlsError::Verify`], with OpenSSL's words for why.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, OtherError, SignatureScheme};

use super::cert::{is_self_issued, names, rsa_pss_public_key, validity, CertNames, SanName};
use super::TlsError;

/// The trusted roots: rustls's WebPKI verifier over them, and their DER, to trust a server
/// certificate found among them as OpenSSL does.
#[derive(Debug)]
pub(crate) struct Roots {
    webpki: Arc<WebPkiServerVerifier>,
    certs: Vec<CertificateDer<'static>>,
}

impl Roots {
    pub(crate) fn new(
        webpki: Arc<WebPkiServerVerifier>,
        certs: Vec<CertificateDer<'static>>,
    ) -> Self {
        Self { webpki, certs }
    }
}

/// What the verifier checks.
#[derive(Debug)]
pub(crate) enum Check {
    /// Nothing (`sslmode=require` without a root file).
    Nothing,
    /// The chain only (`verify-ca`, or `prefer`/`require` with a root file).
    Chain(Roots),
    /// The chain and the host name (`verify-full`).
    ChainAndHost(Roots, String),
}

/// pgcluster's [`ServerCertVerifier`]: libpq's checks per `sslmode`.
#[derive(Debug)]
pub(crate) struct Verifier {
    check: Check,
    provider: Arc<CryptoProvider>,
}

impl Verifier {
    pub(crate) fn new(check: Check, provider: Arc<CryptoProvider>) -> Self {
        Self { check, provider }
    }
}

/// Wraps one of our errors so that it comes back out of rustls unchanged.
pub(crate) fn wrap(err: TlsError) -> Error {
    Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(err))))
}

/// A failed chain check in OpenSSL's words.
fn verify_failed(reason: &str) -> Error {
    wrap(TlsError::Verify {
        reason: reason.to_owned(),
    })
}

/// OpenSSL's `X509_verify_cert_error_string` for what rustls's WebPKI verifier refused. A
/// lone self-signed certificate that is not a root is `self-signed certificate`, whatever
/// else WebPKI saw first (OpenSSL builds the chain before anything else).
fn reason(e: &Error, end_entity: &[u8], intermediates: usize) -> String {
    if intermediates == 0 && is_self_issued(end_entity) {
        return "self-signed certificate".to_owned();
    }
    let text = match e {
        Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => "unable to get local issuer certificate",
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "certificate has expired"
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "certificate is not yet valid"
            }
            CertificateError::BadSignature => "certificate signature failure",
            CertificateError::Revoked => "certificate revoked",
            CertificateError::UnhandledCriticalExtension => "unhandled critical extension",
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "unsupported certificate purpose"
            }
            _ => return e.to_string(),
        },
        _ => return e.to_string(),
    };
    text.to_owned()
}

/// Checks the chain, ignoring the WebPKI verifier's host-name verdict (which it gives only
/// after the chain passed). A server certificate that is one of the roots is trusted as it
/// is, within its validity period (OpenSSL finds it in its store and looks no further).
fn check_chain(
    roots: &Roots,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    server_name: &ServerName<'_>,
    ocsp_response: &[u8],
    now: UnixTime,
) -> Result<(), Error> {
    if roots
        .certs
        .iter()
        .any(|r| r.as_ref() == end_entity.as_ref())
    {
        let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        return match validity(end_entity) {
            Some((not_before, _)) if now < not_before => {
                Err(verify_failed("certificate is not yet valid"))
            }
            Some((_, not_after)) if now > not_after => {
                Err(verify_failed("certificate has expired"))
            }
            Some(_) => Ok(()),
            None => Err(verify_failed(
                "format error in certificate's notAfter field",
            )),
        };
    }
    match roots.webpki.verify_server_cert(
        end_entity,
        intermediates,
        server_name,
        ocsp_response,
        now,
    ) {
        Ok(_)
        | Err(Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        )) => Ok(()),
        Err(e) => Err(verify_failed(&reason(&e, end_entity, intermediates.len()))),
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        match &self.check {
            Check::Nothing => {}
            Check::Chain(roots) => check_chain(
                roots,
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            )?,
            Check::ChainAndHost(roots, host) => {
                check_chain(
                    roots,
                    end_entity,
                    intermediates,
                    server_name,
                    ocsp_response,
                    now,
                )?;
                let names = names(end_entity).map_err(wrap)?;
                check_host_name(&names, host).map_err(wrap)?;
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        if let Some(rsae) = rsa_pss_pss_as_rsae(dss.scheme) {
            return self.verify_rsa_pss_key(rsae, message, cert, dss);
        }
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        if let Some(rsae) = rsa_pss_pss_as_rsae(dss.scheme) {
            return self.verify_rsa_pss_key(rsae, message, cert, dss);
        }
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        let mut schemes = self
            .provider
            .signature_verification_algorithms
            .supported_schemes();
        schemes.extend(
            RSA_PSS_PSS
                .iter()
                .map(|(pss, _)| SignatureScheme::from(*pss)),
        );
        schemes
    }
}

/// The TLS signature schemes of an `id-RSASSA-PSS` key (`rsa_pss_pss_sha256` ... , RFC 8446
/// §4.2.3), which rustls does not name, with the `rsa_pss_rsae_*` scheme whose signature is
/// the same computation over an `rsaEncryption` key. OpenSSL (psql) takes such a server
/// key; WebPKI does not, so pgcluster checks these signatures itself.
const RSA_PSS_PSS: [(u16, SignatureScheme); 3] = [
    (0x0809, SignatureScheme::RSA_PSS_SHA256),
    (0x080a, SignatureScheme::RSA_PSS_SHA384),
    (0x080b, SignatureScheme::RSA_PSS_SHA512),
];

fn rsa_pss_pss_as_rsae(scheme: SignatureScheme) -> Option<SignatureScheme> {
    let code = u16::from(scheme);
    RSA_PSS_PSS
        .iter()
        .find(|(pss, _)| *pss == code)
        .map(|(_, rsae)| *rsae)
}

impl Verifier {
    /// Checks an `rsa_pss_pss_*` handshake signature: the certificate's key must be an
    /// `id-RSASSA-PSS` key, and the signature RSASSA-PSS with the scheme's hash (the
    /// provider's `rsa_pss_rsae_*` algorithm, given the bare RSA key).
    fn verify_rsa_pss_key(
        &self,
        rsae: SignatureScheme,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let key = rsa_pss_public_key(cert)
            .ok_or(Error::InvalidCertificate(CertificateError::BadEncoding))?;
        let algorithm = self
            .provider
            .signature_verification_algorithms
            .mapping
            .iter()
            .find(|(scheme, _)| *scheme == rsae)
            .and_then(|(_, algorithms)| algorithms.first())
            .ok_or(Error::PeerMisbehaved(
                rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
            ))?;
        algorithm
            .verify_signature(key, message, dss.signature())
            .map_err(|_| Error::InvalidCertificate(CertificateError::BadSignature))?;
        Ok(HandshakeSignatureValid::assertion())
    }
}

/// libpq's `wildcard_certificate_match`: `*.` followed by a suffix that ends the host
/// name, the wildcard covering exactly one (non-empty) label; case-insensitive.
fn wildcard_match(pattern: &str, host: &str) -> bool {
    let Some(suffix) = pattern.strip_prefix('*') else {
        return false;
    };
    if pattern.len() < 3 || !suffix.starts_with('.') || pattern.len() > host.len() {
        return false;
    }
    let Some(split) = host.len().checked_sub(suffix.len()) else {
        return false;
    };
    match (host.get(..split), host.get(split..)) {
        (Some(label), Some(tail)) => tail.eq_ignore_ascii_case(suffix) && !label.contains('.'),
        _ => false,
    }
}

/// glibc's `inet_aton`, which libpq uses to tell an IPv4 address: one to four numbers
/// (decimal, `0` octal or `0x` hex) separated by dots, the last filling the remaining bytes;
/// anything after a space is ignored.
fn inet_aton(host: &str) -> Option<Ipv4Addr> {
    let text = host.split(|c: char| c.is_ascii_whitespace()).next()?;
    let parts: Vec<&str> = text.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut numbers = Vec::with_capacity(parts.len());
    for part in &parts {
        let (digits, radix) = if let Some(hex) = part.strip_prefix("0x").or(part.strip_prefix("0X"))
        {
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (part.get(1..)?, 8)
        } else {
            (*part, 10)
        };
        if digits.is_empty() && radix != 16 {
            return None;
        }
        let value = if digits.is_empty() {
            0 // glibc takes a bare `0x` as zero
        } else {
            u32::from_str_radix(digits, radix).ok()?
        };
        numbers.push(value);
    }
    let (last, leading) = numbers.split_last()?;
    let mut address: u32 = 0;
    for (i, byte) in leading.iter().enumerate() {
        let byte = u8::try_from(*byte).ok()?;
        address |= u32::from(byte) << (24 - 8 * i);
    }
    let room = 32 - 8 * leading.len();
    if room < 32 && *last >> room != 0 {
        return None;
    }
    Some(Ipv4Addr::from(address | last))
}

/// The host as libpq's `is_ip_address` reads it: its bytes when it is an IPv4 address (as
/// `inet_aton` takes them) or an IPv6 address.
fn host_address(host: &str) -> Option<Vec<u8>> {
    match inet_aton(host) {
        Some(v4) => Some(v4.octets().to_vec()),
        None => host.parse::<Ipv6Addr>().ok().map(|v6| v6.octets().to_vec()),
    }
}

/// A name from the certificate as text, refused when it holds a NUL (CVE-2009-4034).
fn name_text(bytes: &[u8]) -> Result<String, TlsError> {
    if bytes.contains(&0) {
        return Err(TlsError::NameEmbeddedNull);
    }
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

/// One DNS name or commonName against `host`: exactly, ignoring ASCII case, or through a
/// wildcard.
fn name_matches(name: &str, host: &str) -> bool {
    name.eq_ignore_ascii_case(host) || wildcard_match(name, host)
}

/// One `iPAddress` entry against `host`, and the entry as text.
fn address_matches(entry: &[u8], host: &str) -> Result<(bool, String), TlsError> {
    let shown = match entry.len() {
        4 => <[u8; 4]>::try_from(entry).map(|a| Ipv4Addr::from(a).to_string()),
        16 => <[u8; 16]>::try_from(entry).map(|a| Ipv6Addr::from(a).to_string()),
        n => return Err(TlsError::IpAddressLength(n)),
    }
    .map_err(|_| TlsError::IpAddressLength(entry.len()))?;
    let host_bytes = match entry.len() {
        4 => inet_aton(host).map(|a| a.octets().to_vec()),
        _ => host.parse::<Ipv6Addr>().ok().map(|a| a.octets().to_vec()),
    };
    Ok((host_bytes.as_deref() == Some(entry), shown))
}

/// libpq 14+'s `pq_verify_peer_name_matches_certificate`, with its texts. The
/// subjectAltName entries are tried in order, `dNSName` by name and `iPAddress` by address;
/// the commonName is tried only when no entry is of the host's kind (an IP address, or a
/// name).
pub(crate) fn check_host_name(names: &CertNames, host: &str) -> Result<(), TlsError> {
    if host.is_empty() {
        return Err(TlsError::HostNameMissing);
    }
    let host_is_address = host_address(host).is_some();
    let mut examined: usize = 0;
    let mut first: Option<String> = None;
    let mut check_common_name = true;
    for entry in &names.san {
        let (matched, shown) = match entry {
            SanName::Dns(bytes) => {
                let name = name_text(bytes)?;
                (name_matches(&name, host), name)
            }
            SanName::Ip(bytes) => address_matches(bytes, host)?,
        };
        if matches!(entry, SanName::Ip(_)) == host_is_address {
            check_common_name = false;
        }
        examined = examined.saturating_add(1);
        first.get_or_insert(shown);
        if matched {
            return Ok(());
        }
    }
    if check_common_name {
        if let Some(cn) = &names.common_name {
            let name = name_text(cn)?;
            examined = examined.saturating_add(1);
            let matched = name_matches(&name, host);
            first.get_or_insert(name);
            if matched {
                return Ok(());
            }
        }
    }
    let Some(first) = first else {
        return Err(TlsError::CertificateNames);
    };
    Err(TlsError::HostMismatch {
        first,
        others: examined.saturating_sub(1),
        host: host.to_owned(),
    })
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;

    fn dns(n: &str) -> SanName {
        SanName::Dns(n.as_bytes().to_vec())
    }

    fn names(san: &[SanName], cn: Option<&str>) -> CertNames {
        CertNames {
            san: san.to_vec(),
            common_name: cn.map(|c| c.as_bytes().to_vec()),
        }
    }

    #[test]
    fn wildcards_cover_one_label() {
        assert!(wildcard_match("*.example.com", "db.example.com"));
        assert!(wildcard_match("*.Example.COM", "DB.example.com"));
        assert!(!wildcard_match("*.example.com", "a.b.example.com"));
        assert!(!wildcard_match("*.example.com", "example.com"));
        assert!(!wildcard_match("*.example.com", ".example.com"));
        assert!(!wildcard_match("*example.com", "dbexample.com"));
        assert!(!wildcard_match("*.", "a."));
        assert!(!wildcard_match("db.*.com", "db.example.com"));
        assert!(!wildcard_match("*.é.com", "xé.com"));
    }

    #[test]
    fn inet_aton_reads_what_glibc_reads() {
        let cases: [(&str, Option<[u8; 4]>); 10] = [
            ("127.0.0.1", Some([127, 0, 0, 1])),
            ("127.1", Some([127, 0, 0, 1])),
            ("0x7f.1", Some([127, 0, 0, 1])),
            ("0177.0.0.1", Some([127, 0, 0, 1])),
            ("2130706433", Some([127, 0, 0, 1])),
            ("10.1.258", Some([10, 1, 1, 2])),
            ("127.0.0.1 trailing", Some([127, 0, 0, 1])),
            ("256.0.0.1", None),
            ("localhost", None),
            ("1.2.3.4.5", None),
        ];
        for (text, bytes) in cases {
            assert_eq!(inet_aton(text).map(|a| a.octets()), bytes, "{text}");
        }
        assert_eq!(inet_aton("08"), None);
        assert_eq!(inet_aton(""), None);
    }

    #[test]
    fn host_names_match_as_in_libpq() {
        let both = names(&[dns("db.example.com"), dns("localhost")], None);
        check_host_name(&both, "LOCALHOST").unwrap();
        check_host_name(&names(&[], Some("db")), "db").unwrap();
        check_host_name(&names(&[], Some("127.0.0.1")), "127.0.0.1").unwrap();
    }

    /// libpq 14+: `iPAddress` entries match an address host; the commonName counts only
    /// when no entry is of the host's kind.
    #[test]
    fn ip_addresses_match_as_in_libpq_14() {
        let v4 = SanName::Ip(vec![127, 0, 0, 1]);
        let v6 = SanName::Ip(std::net::Ipv6Addr::LOCALHOST.octets().to_vec());
        let server = names(&[dns("localhost"), v4.clone()], Some("localhost"));
        check_host_name(&server, "127.0.0.1").unwrap();
        check_host_name(&server, "127.1").unwrap();
        check_host_name(&names(std::slice::from_ref(&v6), None), "::1").unwrap();
        assert_eq!(
            check_host_name(&server, "127.0.0.2")
                .unwrap_err()
                .to_string(),
            "server certificate for \"localhost\" (and 1 other name) does not match host \
             name \"127.0.0.2\""
        );
        // An address host with only DNS entries: the commonName still counts.
        let dns_only = names(&[dns("db")], Some("10.0.0.1"));
        check_host_name(&dns_only, "10.0.0.1").unwrap();
        // A name host with only address entries: so does the commonName.
        let ip_only = names(std::slice::from_ref(&v4), Some("db"));
        check_host_name(&ip_only, "db").unwrap();
        // ... but not when an entry is of the host's kind.
        let ip_and_cn = names(&[v4], Some("10.0.0.1"));
        assert_eq!(
            check_host_name(&ip_and_cn, "10.0.0.1")
                .unwrap_err()
                .to_string(),
            "server certificate for \"127.0.0.1\" does not match host name \"10.0.0.1\""
        );
        assert_eq!(
            check_host_name(&names(&[v6], None), "localhost")
                .unwrap_err()
                .to_string(),
            "server certificate for \"::1\" does not match host name \"localhost\""
        );
        assert_eq!(
            check_host_name(&names(&[SanName::Ip(vec![1, 2, 3])], None), "db")
                .unwrap_err()
                .to_string(),
            "certificate contains IP address with invalid length 3"
        );
        assert_eq!(
            check_host_name(&names(&[dns("a\0b")], None), "a")
                .unwrap_err()
                .to_string(),
            "SSL certificate's name contains embedded null"
        );
    }

    #[test]
    fn mismatch_texts() {
        let cases: [(CertNames, &str, &str); 5] = [
            (
                names(&[dns("localhost")], None),
                "otherhost",
                "server certificate for \"localhost\" does not match host name \"otherhost\"",
            ),
            (
                names(&[dns("a"), dns("b")], None),
                "c",
                "server certificate for \"a\" (and 1 other name) does not match host name \"c\"",
            ),
            (
                names(&[dns("a"), dns("b"), dns("*.example.com")], None),
                "c",
                "server certificate for \"a\" (and 2 other names) does not match host name \"c\"",
            ),
            (
                names(&[], None),
                "c",
                "could not get server's host name from server certificate",
            ),
            (
                names(&[dns("a")], None),
                "",
                "host name must be specified for a verified SSL connection",
            ),
        ];
        for (names, host, text) in cases {
            assert_eq!(check_host_name(&names, host).unwrap_err().to_string(), text);
        }
    }
}
