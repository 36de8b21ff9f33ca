//! Server certificate checks as libpq 13 makes them.
//!
//! - `sslmode=require` without a root certificate file: no check at all (libpq only
//!   encrypts). The handshake signatures are still verified, so the server must hold the
//!   key of the certificate it shows.
//! - `verify-ca`, or `require` when a root certificate file exists: the chain must lead to
//!   a trusted root, and the certificate must be in its validity period; the host name is
//!   not looked at.
//! - `verify-full`: the chain, then the host name against the certificate's names with
//!   libpq's rules ([`check_host_name`]).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, OtherError, SignatureScheme};

use super::cert::{names, CertName};
use super::TlsError;

/// What the verifier checks.
#[derive(Debug)]
pub(crate) enum Check {
    /// Nothing (`sslmode=require` without a root file).
    Nothing,
    /// The chain only (`verify-ca`, or `require` with a root file).
    Chain(Arc<WebPkiServerVerifier>),
    /// The chain and the host name (`verify-full`).
    ChainAndHost(Arc<WebPkiServerVerifier>, String),
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

/// Checks the chain with rustls's WebPKI verifier, ignoring its host-name verdict (which it
/// gives only after the chain passed).
fn check_chain(
    webpki: &WebPkiServerVerifier,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    server_name: &ServerName<'_>,
    ocsp_response: &[u8],
    now: UnixTime,
) -> Result<(), Error> {
    match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
        Ok(_)
        | Err(Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        )) => Ok(()),
        Err(e) => Err(e),
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
            Check::Chain(webpki) => check_chain(
                webpki,
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            )?,
            Check::ChainAndHost(webpki, host) => {
                check_chain(
                    webpki,
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
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// libpq 13's `wildcard_certificate_match`: `*.` followed by a suffix that ends the host
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

/// Whether one certificate name matches `host`: exactly, ignoring ASCII case, or through a
/// wildcard.
fn name_matches(name: &CertName, host: &str) -> bool {
    let (CertName::Dns(n) | CertName::CommonName(n)) = name;
    n.eq_ignore_ascii_case(host) || wildcard_match(n, host)
}

/// libpq 13's `pq_verify_peer_name_matches_certificate`, with its texts: one of the names
/// must match `host`.
pub(crate) fn check_host_name(names: &[CertName], host: &str) -> Result<(), TlsError> {
    if host.is_empty() {
        return Err(TlsError::HostNameMissing);
    }
    if names.iter().any(|n| name_matches(n, host)) {
        return Ok(());
    }
    let Some(first) = names.first() else {
        return Err(TlsError::CertificateNames);
    };
    let (CertName::Dns(first) | CertName::CommonName(first)) = first;
    Err(TlsError::HostMismatch {
        first: first.clone(),
        others: names.len().saturating_sub(1),
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

    fn dns(n: &str) -> CertName {
        CertName::Dns(n.to_owned())
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
    fn host_names_match_as_in_libpq() {
        let names = [dns("db.example.com"), dns("localhost")];
        check_host_name(&names, "LOCALHOST").unwrap();
        check_host_name(&[CertName::CommonName("db".into())], "db").unwrap();
        check_host_name(&[CertName::CommonName("127.0.0.1".into())], "127.0.0.1").unwrap();
    }

    #[test]
    fn mismatch_texts() {
        let cases: [(&[CertName], &str, &str); 5] = [
            (
                &[dns("localhost")],
                "otherhost",
                "server certificate for \"localhost\" does not match host name \"otherhost\"",
            ),
            (
                &[dns("a"), dns("b")],
                "c",
                "server certificate for \"a\" (and 1 other name) does not match host name \"c\"",
            ),
            (
                &[dns("a"), dns("b"), dns("*.example.com")],
                "c",
                "server certificate for \"a\" (and 2 other names) does not match host name \"c\"",
            ),
            (
                &[],
                "c",
                "could not get server's host name from server certificate",
            ),
            (
                &[dns("a")],
                "",
                "host name must be specified for a verified SSL connection",
            ),
        ];
        for (names, host, text) in cases {
            assert_eq!(check_host_name(names, host).unwrap_err().to_string(), text);
        }
    }
}
