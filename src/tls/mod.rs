//! TLS for connections (feature `tls`, on by default): rustls with the ring provider,
//! configured from libpq's settings with libpq 13's texts.
//!
//! [`TlsSettings`] holds the `ssl*` connection options (they are settings, defined with the
//! rest of them in `conninfo` and re-exported here). [`TlsSettings::client`] turns them
//! into a [`TlsClient`] for one host: it reads the root certificate file (`sslrootcert`, by
//! default `~/.postgresql/root.crt`), the client certificate and key (`sslcert`/`sslkey`, by
//! default `~/.postgresql/postgresql.crt` and `.key`), and picks the certificate checks of
//! the `sslmode` (see the `verify` module). [`handshake_error`] maps a failed handshake to
//! libpq's text, and [`tls_server_end_point`] computes SCRAM-SHA-256-PLUS's channel binding.
//!
//! The SSLRequest exchange before the handshake is the protocol crate's
//! [`pgcluster_protocol::ssl`].

mod cert;
mod keylog;
mod verify;

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};

pub use crate::conninfo::tls::{SslMode, TlsSettings, TlsVersion, SYSTEM_ROOTS};
use crate::io_text::strerror;
pub use cert::tls_server_end_point;
use verify::{Check, Roots, Verifier};

/// libpq's default root certificate file, under the home directory.
pub const ROOT_CERT_FILE: &str = ".postgresql/root.crt";
/// libpq's default client certificate file, under the home directory.
pub const USER_CERT_FILE: &str = ".postgresql/postgresql.crt";
/// libpq's default client key file, under the home directory.
pub const USER_KEY_FILE: &str = ".postgresql/postgresql.key";
/// The ALPN protocol name PostgreSQL 17 registered for its wire protocol.
pub const ALPN_POSTGRESQL: &[u8] = b"postgresql";

/// What a TLS handshake with one host needs.
#[derive(Debug, Clone)]
pub struct TlsClient {
    /// The rustls configuration (certificate checks, client certificate, versions, SNI).
    pub config: Arc<ClientConfig>,
    /// The name given to rustls: the host for SNI. pgcluster's own verifier checks the host
    /// name, so this matters only for SNI (an IP address or a name rustls cannot use sends
    /// none).
    pub server_name: ServerName<'static>,
}

/// Why TLS could not be set up or the handshake failed. `Display` is libpq 13's text,
/// without the final newline.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsError {
    /// `could not get server's host name from server certificate`
    CertificateNames,
    /// `could not open certificate file "%s": %s`
    CertOpen {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// `could not read certificate file "%s": %s`
    CertRead {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// `SSL connection has been closed unexpectedly`: the server ended TLS (close_notify)
    /// while a reply was awaited.
    Closed,
    /// `server does not support direct SSL negotiation (sslnegotiation=direct needs
    /// PostgreSQL 17 or later)` (pgcluster's text): with `sslnegotiation=direct`, the server
    /// hung up on the ClientHello or answered in the clear.
    DirectUnsupported,
    /// `SSL SYSCALL error: EOF detected`: the server closed the connection in the handshake,
    /// or later without ending TLS first.
    Eof,
    /// `SSL error: certificate verify failed: %s`: the server certificate's chain did not
    /// check out, with OpenSSL's reason (`X509_verify_cert_error_string`, e.g.
    /// `self-signed certificate`, `certificate has expired`). libpq 18 gives the reason only
    /// for `sslrootcert=system`; pgcluster always does.
    Verify {
        /// OpenSSL's words for why.
        reason: String,
    },
    /// `SSL certificate's name contains embedded null`
    NameEmbeddedNull,
    /// `certificate contains IP address with invalid length %zu` (libpq 14+).
    IpAddressLength(usize),
    /// `SSL error: %s`: the handshake failed, or the
    /// server sent a TLS alert (in OpenSSL's words, e.g. `tlsv1 alert unknown ca`).
    Handshake(String),
    /// `host name must be specified for a verified SSL connection`
    HostNameMissing,
    /// `server certificate for "%s" does not match host name "%s"`, with
    /// `(and %d other name[s])` when the certificate has more names.
    HostMismatch {
        /// The certificate's first name.
        first: String,
        /// How many other names it has.
        others: usize,
        /// The host name connected to.
        host: String,
    },
    /// `could not load private key file "%s": %s`, e.g. `key values mismatch` when the key
    /// is not the certificate's.
    KeyLoad {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// `certificate present, but not private key file "%s"`
    KeyMissing {
        /// The key file.
        path: String,
    },
    /// `private key file "%s" is not a regular file`
    KeyNotRegular {
        /// The key file.
        path: String,
    },
    /// `private key file "%s" has group or world access; file must have permissions u=rw
    /// (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) or less
    /// if owned by root` (libpq 14+'s text and rule)
    KeyPermissions {
        /// The key file.
        path: String,
    },
    /// `could not find digest for NID UNDEF`: the server certificate's signature algorithm
    /// has no hash for channel binding (Ed25519, Ed448).
    NoDigest,
    /// `could not get home directory to locate root certificate file` and libpq's hint.
    NoHomeForRootCert,
    /// `root certificate file "%s" does not exist` and libpq's hint.
    RootCertMissing {
        /// The file.
        path: String,
    },
    /// `could not read root certificate file "%s": %s`
    RootCertRead {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// `SSL error: tlsv1 alert protocol version` and libpq's hint `This may indicate that
    /// the server does not support any SSL protocol version between %s and %s.`: the
    /// server refused every TLS version offered.
    ProtocolVersion {
        /// `ssl_min_protocol_version` (shown as `TLSv1` when not set).
        min: Option<TlsVersion>,
        /// `ssl_max_protocol_version` (shown as `TLSv1.3` when not set).
        max: Option<TlsVersion>,
    },
    /// `could not determine server certificate signature algorithm`
    SignatureAlgorithm,
    /// `ssl_max_protocol_version value "%s" is not supported: pgcluster supports TLSv1.2 and
    /// TLSv1.3` (pgcluster's text: rustls has no TLS 1.0 or 1.1).
    UnsupportedVersion {
        /// The value.
        value: TlsVersion,
    },
    /// `SSL SYSCALL error: %s`: a socket error in the handshake.
    Syscall(String),
    /// `weak sslmode "%s" may not be used with sslnegotiation=direct (use "require",
    /// "verify-ca", or "verify-full")` (PostgreSQL 17's text).
    WeakModeWithDirect {
        /// The mode given.
        mode: SslMode,
    },
    /// `weak sslmode "%s" may not be used with sslrootcert=system (use "verify-full")`
    /// (PostgreSQL 16's text).
    WeakModeWithSystemRoots {
        /// The mode given.
        mode: SslMode,
    },
}

/// OpenSSL's reason for a certificate or key file without a PEM item of the expected kind.
const NO_START_LINE: &str = "no start line";
/// OpenSSL's reason for a root certificate file without a certificate.
const NO_CERTIFICATE: &str = "no certificate or crl found";

/// A client certificate chain, its key, and the key file's name for error texts.
struct ClientCert {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    key_path: String,
}

/// libpq's hint after a missing root certificate file.
const ROOT_HINT: &str =
    "Either provide the file or change sslmode to disable server certificate verification.";

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CertificateNames => {
                f.write_str("could not get server's host name from server certificate")
            }
            Self::CertOpen { path, reason } => {
                write!(f, "could not open certificate file \"{path}\": {reason}")
            }
            Self::CertRead { path, reason } => {
                write!(f, "could not read certificate file \"{path}\": {reason}")
            }
            Self::Closed => f.write_str("SSL connection has been closed unexpectedly"),
            Self::DirectUnsupported => f.write_str(
                "server does not support direct SSL negotiation (sslnegotiation=direct needs \
                 PostgreSQL 17 or later)",
            ),
            Self::Eof => f.write_str("SSL SYSCALL error: EOF detected"),
            Self::Handshake(reason) => write!(f, "SSL error: {reason}"),
            Self::Verify { reason } => {
                write!(f, "SSL error: certificate verify failed: {reason}")
            }
            Self::NameEmbeddedNull => f.write_str("SSL certificate's name contains embedded null"),
            Self::IpAddressLength(n) => {
                write!(f, "certificate contains IP address with invalid length {n}")
            }
            Self::HostNameMissing => {
                f.write_str("host name must be specified for a verified SSL connection")
            }
            Self::HostMismatch {
                first,
                others: 0,
                host,
            } => write!(
                f,
                "server certificate for \"{first}\" does not match host name \"{host}\""
            ),
            Self::HostMismatch {
                first,
                others,
                host,
            } => write!(
                f,
                "server certificate for \"{first}\" (and {others} other name{}) does not \
                 match host name \"{host}\"",
                if *others == 1 { "" } else { "s" }
            ),
            Self::KeyLoad { path, reason } => {
                write!(f, "could not load private key file \"{path}\": {reason}")
            }
            Self::KeyMissing { path } => {
                write!(
                    f,
                    "certificate present, but not private key file \"{path}\""
                )
            }
            Self::KeyNotRegular { path } => {
                write!(f, "private key file \"{path}\" is not a regular file")
            }
            Self::KeyPermissions { path } => write!(
                f,
                "private key file \"{path}\" has group or world access; file must have \
                 permissions u=rw (0600) or less if owned by the current user, or permissions \
                 u=rw,g=r (0640) or less if owned by root"
            ),
            Self::NoDigest => f.write_str("could not find digest for NID UNDEF"),
            Self::NoHomeForRootCert => write!(
                f,
                "could not get home directory to locate root certificate file\n{ROOT_HINT}"
            ),
            Self::RootCertMissing { path } => {
                write!(
                    f,
                    "root certificate file \"{path}\" does not exist\n{ROOT_HINT}"
                )
            }
            Self::RootCertRead { path, reason } => {
                write!(
                    f,
                    "could not read root certificate file \"{path}\": {reason}"
                )
            }
            Self::ProtocolVersion { min, max } => write!(
                f,
                "SSL error: tlsv1 alert protocol version\nThis may indicate that the server \
                 does not support any SSL protocol version between {} and {}.",
                min.map_or("TLSv1", TlsVersion::as_str),
                max.map_or("TLSv1.3", TlsVersion::as_str)
            ),
            Self::SignatureAlgorithm => {
                f.write_str("could not determine server certificate signature algorithm")
            }
            Self::UnsupportedVersion { value } => write!(
                f,
                "ssl_max_protocol_version value \"{}\" is not supported: pgcluster supports \
                 TLSv1.2 and TLSv1.3",
                value.as_str()
            ),
            Self::Syscall(reason) => write!(f, "SSL SYSCALL error: {reason}"),
            Self::WeakModeWithDirect { mode } => write!(
                f,
                "weak sslmode \"{mode}\" may not be used with sslnegotiation=direct (use \
                 \"require\", \"verify-ca\", or \"verify-full\")"
            ),
            Self::WeakModeWithSystemRoots { mode } => write!(
                f,
                "weak sslmode \"{mode}\" may not be used with sslrootcert=system (use \
                 \"verify-full\")"
            ),
        }
    }
}

impl std::error::Error for TlsError {}

impl TlsError {
    /// Whether this is the server certificate failing the checks of a root file (its chain,
    /// or for `verify-full` its names). `sslmode=prefer` then never retries in the clear:
    /// an attacker who cannot pass the check must not get a plaintext connection instead
    /// (libpq 13–18 do retry; pgcluster is stricter here on purpose).
    pub fn is_verification_failure(&self) -> bool {
        matches!(
            self,
            Self::Verify { .. }
                | Self::HostMismatch { .. }
                | Self::CertificateNames
                | Self::NameEmbeddedNull
                | Self::IpAddressLength(_)
        )
    }
}

/// Where OpenSSL's default trust store is on the common systems (PostgreSQL 16's
/// `sslrootcert=system` uses it): Debian/Ubuntu, Fedora/RHEL, Alpine/macOS, SUSE.
const SYSTEM_ROOT_FILES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
    "/etc/ssl/ca-bundle.pem",
];

/// The platform's trusted roots, read from its bundle file (certificates the platform
/// ships but rustls cannot parse are skipped, as OpenSSL skips them).
fn system_roots() -> Result<(RootCertStore, Vec<CertificateDer<'static>>), TlsError> {
    let Some(path) = SYSTEM_ROOT_FILES.iter().find(|p| fs::metadata(p).is_ok()) else {
        return Err(TlsError::RootCertMissing {
            path: SYSTEM_ROOT_FILES[0].to_owned(),
        });
    };
    let read = |reason: String| TlsError::RootCertRead {
        path: (*path).to_owned(),
        reason,
    };
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| read(pem_reason(&e, NO_CERTIFICATE)))?
        .filter_map(Result::ok)
        .collect();
    let mut store = RootCertStore::empty();
    store.add_parsable_certificates(certs.iter().cloned());
    if store.is_empty() {
        return Err(read(NO_CERTIFICATE.to_owned()));
    }
    Ok((store, certs))
}

/// OpenSSL's reason for a PEM file that could not be used; `none` when it holds no item
/// of the kind wanted.
fn pem_reason(e: &pem::Error, none: &str) -> String {
    match e {
        pem::Error::Io(io) => strerror(io),
        pem::Error::NoItemsFound | pem::Error::IllegalSectionStart { .. } => none.to_owned(),
        pem::Error::MissingSectionEnd { .. } => "bad end line".to_owned(),
        pem::Error::Base64Decode(_) => "bad base64 decode".to_owned(),
        _ => "bad pem file".to_owned(),
    }
}

/// The ring provider, with rustls's default cipher suites and key exchanges.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// Building the rustls configuration from the settings.
impl TlsSettings {
    /// Checks the settings that do not depend on files: `sslrootcert=system` needs
    /// `verify-full`, and a TLS version range must overlap TLS 1.2–1.3.
    pub fn check(&self) -> Result<(), TlsError> {
        let mode = self.effective_mode();
        if self.root_cert.as_deref() == Some(SYSTEM_ROOTS) && mode != SslMode::VerifyFull {
            return Err(TlsError::WeakModeWithSystemRoots { mode });
        }
        if self.direct && !mode.requires_tls() {
            return Err(TlsError::WeakModeWithDirect { mode });
        }
        self.versions().map(|_| ())
    }

    /// The protocol versions rustls may use.
    fn versions(&self) -> Result<Vec<&'static SupportedProtocolVersion>, TlsError> {
        let min = self.min_version.unwrap_or(TlsVersion::Tls1_0);
        let max = self.max_version.unwrap_or(TlsVersion::Tls1_3);
        if max < TlsVersion::Tls1_2 {
            return Err(TlsError::UnsupportedVersion { value: max });
        }
        let mut versions = Vec::new();
        if min <= TlsVersion::Tls1_2 {
            versions.push(&rustls::version::TLS12);
        }
        if max >= TlsVersion::Tls1_3 {
            versions.push(&rustls::version::TLS13);
        }
        Ok(versions)
    }

    /// A file option's value, or libpq's default under the home directory; `None` when
    /// neither exists.
    fn file(&self, value: Option<&str>, default: &str) -> Option<PathBuf> {
        match value.filter(|v| !v.is_empty()) {
            Some(v) => Some(PathBuf::from(v)),
            None => self.home.as_ref().map(|h| h.join(default)),
        }
    }

    /// The trusted roots and their certificates: `None` when there is no root file and the
    /// mode does not verify (`require` without a file checks nothing, as in libpq).
    #[allow(
        clippy::type_complexity,
        reason = "the store and the certificates it was made of, used once"
    )]
    fn roots(
        &self,
        mode: SslMode,
    ) -> Result<Option<(RootCertStore, Vec<CertificateDer<'static>>)>, TlsError> {
        if self.root_cert.as_deref() == Some(SYSTEM_ROOTS) {
            return system_roots().map(Some);
        }
        let path = self.file(self.root_cert.as_deref(), ROOT_CERT_FILE);
        let Some(path) = path.filter(|p| fs::metadata(p).is_ok()) else {
            if !mode.verifies() {
                return Ok(None);
            }
            return Err(match self.file(self.root_cert.as_deref(), ROOT_CERT_FILE) {
                Some(p) => TlsError::RootCertMissing {
                    path: p.display().to_string(),
                },
                None => TlsError::NoHomeForRootCert,
            });
        };
        let read = |reason: String| TlsError::RootCertRead {
            path: path.display().to_string(),
            reason,
        };
        let certs = CertificateDer::pem_file_iter(&path)
            .map_err(|e| read(pem_reason(&e, NO_CERTIFICATE)))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| read(pem_reason(&e, NO_CERTIFICATE)))?;
        if certs.is_empty() {
            return Err(read(NO_CERTIFICATE.to_owned()));
        }
        let mut store = RootCertStore::empty();
        for cert in &certs {
            store
                .add(cert.clone())
                .map_err(|e| read(e.to_string().to_lowercase()))?;
        }
        Ok(Some((store, certs)))
    }

    /// The client certificate chain and key, when `sslcert` (or the default file) exists.
    fn client_cert(&self) -> Result<Option<ClientCert>, TlsError> {
        let Some(cert_path) = self.file(self.cert.as_deref(), USER_CERT_FILE) else {
            return Ok(None);
        };
        let shown = cert_path.display().to_string();
        match fs::metadata(&cert_path) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(TlsError::CertOpen {
                    path: shown,
                    reason: strerror(&e),
                })
            }
        }
        // OpenSSL's reason for whatever cannot be read as PEM, a directory included.
        let read = |_| TlsError::CertRead {
            path: shown.clone(),
            reason: NO_START_LINE.to_owned(),
        };
        let chain = CertificateDer::pem_file_iter(&cert_path)
            .map_err(read)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(read)?;
        if chain.is_empty() {
            return Err(read(pem::Error::NoItemsFound));
        }
        let key_path = self
            .file(self.key.as_deref(), USER_KEY_FILE)
            .unwrap_or_else(|| PathBuf::from(USER_KEY_FILE));
        let key = load_key(&key_path)?;
        Ok(Some(ClientCert {
            chain,
            key,
            key_path: key_path.display().to_string(),
        }))
    }

    /// The rustls configuration for a connection to `host` (the `host` option as given; for
    /// `verify-full` the certificate must name it).
    pub fn client(&self, host: &str) -> Result<TlsClient, TlsError> {
        self.check()?;
        let mode = self.effective_mode();
        let provider = provider();
        let roots = self.roots(mode)?;
        let check = match roots {
            None => Check::Nothing,
            Some((store, certs)) => {
                let webpki =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
                        .build()
                        .map_err(|e| TlsError::Handshake(e.to_string().to_lowercase()))?;
                let roots = Roots::new(webpki, certs);
                if mode == SslMode::VerifyFull {
                    if host.is_empty() {
                        return Err(TlsError::HostNameMissing);
                    }
                    Check::ChainAndHost(roots, host.to_owned())
                } else {
                    Check::Chain(roots)
                }
            }
        };
        let versions = self.versions()?;
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| TlsError::Handshake(e.to_string().to_lowercase()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Verifier::new(check, provider)));
        let mut config = match self.client_cert()? {
            None => builder.with_no_client_auth(),
            Some(ClientCert {
                chain,
                key,
                key_path,
            }) => builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| TlsError::KeyLoad {
                    path: key_path,
                    reason: match e {
                        rustls::Error::InconsistentKeys(_) => "key values mismatch".to_owned(),
                        other => other.to_string().to_lowercase(),
                    },
                })?,
        };
        config.enable_sni = self.sni;
        if let Some(path) = self.key_log_file.as_deref().filter(|p| !p.is_empty()) {
            config.key_log = Arc::new(keylog::KeyLogFile::new(path));
        }
        // PostgreSQL 17 requires this ALPN protocol for direct TLS; older servers ignore it.
        config.alpn_protocols = vec![ALPN_POSTGRESQL.to_vec()];
        let server_name = ServerName::try_from(host.to_owned()).unwrap_or(ServerName::IpAddress(
            std::net::Ipv4Addr::UNSPECIFIED.into(),
        ));
        Ok(TlsClient {
            config: Arc::new(config),
            server_name,
        })
    }
}

/// Loads the client key with libpq 18's checks, made on the file opened (so what is read is
/// what was checked): it exists, is a regular file, and (on Unix) is not readable by others
/// nor by its group, except that a key owned by root may be group-readable (0640: a
/// system-wide key shared through a group), as libpq 14+ allows.
fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let shown = path.display().to_string();
    let missing = || TlsError::KeyMissing {
        path: shown.clone(),
    };
    let mut file = fs::File::open(path).map_err(|_| missing())?;
    let meta = file.metadata().map_err(|_| missing())?;
    if !meta.is_file() {
        return Err(TlsError::KeyNotRegular { path: shown });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if key_mode_refused(meta.uid(), meta.mode()) {
            return Err(TlsError::KeyPermissions { path: shown });
        }
    }
    let mut pem = Vec::new();
    io::Read::read_to_end(&mut file, &mut pem).map_err(|e| TlsError::KeyLoad {
        path: shown.clone(),
        reason: strerror(&e),
    })?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| TlsError::KeyLoad {
        path: shown,
        reason: pem_reason(&e, NO_START_LINE),
    })
}

/// libpq 14+'s rule for a client key's mode: root's key may be `u=rw,g=r` (0640) or less,
/// anyone else's `u=rw` (0600) or less.
fn key_mode_refused(owner_uid: u32, mode: u32) -> bool {
    const GROUP_WRITE_EXECUTE: u32 = 0o030;
    const OTHERS: u32 = 0o007;
    const GROUP: u32 = 0o070;
    if owner_uid == 0 {
        mode & (GROUP_WRITE_EXECUTE | OTHERS) != 0
    } else {
        mode & (GROUP | OTHERS) != 0
    }
}

/// libpq's text for a failed handshake (or a failed first read after it, where TLS 1.3
/// reports a refused client certificate).
pub fn handshake_error(e: &io::Error) -> TlsError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        return TlsError::Eof;
    }
    let Some(rustls_error) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
        return TlsError::Syscall(strerror(e));
    };
    rustls_error_text(rustls_error)
}

/// libpq 13's text for a failed read on an established TLS connection (`pgtls_read`), or
/// `None` when `e` is a plain socket error: a TLS error, such as an alert the server sent
/// after the handshake (TLS 1.3 reports a refused client certificate that way), is
/// `SSL error: %s`; the connection closing without TLS's close_notify is
/// `SSL SYSCALL error: EOF detected`.
pub fn read_error(e: &io::Error) -> Option<TlsError> {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        return Some(TlsError::Eof);
    }
    e.get_ref()
        .and_then(|i| i.downcast_ref::<rustls::Error>())
        .map(rustls_error_text)
}

/// Maps a rustls error to libpq's (OpenSSL's) wording where there is one.
pub(crate) fn rustls_error_text(e: &rustls::Error) -> TlsError {
    use rustls::{CertificateError, Error};
    match e {
        Error::InvalidCertificate(CertificateError::Other(other)) => {
            match other.0.downcast_ref::<TlsError>() {
                Some(ours) => ours.clone(),
                None => TlsError::Handshake("certificate verify failed".to_owned()),
            }
        }
        Error::InvalidCertificate(_) => TlsError::Handshake("certificate verify failed".to_owned()),
        Error::AlertReceived(alert) => TlsError::Handshake(alert_reason(*alert)),
        other => TlsError::Handshake(other.to_string()),
    }
}

/// OpenSSL 1.1.1's reason for a fatal alert from the server (`SSL_R_SSLV3_ALERT_*`,
/// `SSL_R_TLSV1_ALERT_*` ...), which libpq 13 shows after `SSL error: `. OpenSSL has no
/// text for a few alerts; libpq then shows `SSL error code %lu` with OpenSSL's packed error
/// code (library SSL, function `ssl3_read_bytes`, reason 1000 + the alert), as below.
fn alert_reason(alert: rustls::AlertDescription) -> String {
    use rustls::AlertDescription as A;
    let text = match alert {
        A::UnexpectedMessage => "sslv3 alert unexpected message",
        A::BadRecordMac => "sslv3 alert bad record mac",
        A::DecryptionFailed => "tlsv1 alert decryption failed",
        A::RecordOverflow => "tlsv1 alert record overflow",
        A::DecompressionFailure => "sslv3 alert decompression failure",
        A::HandshakeFailure => "sslv3 alert handshake failure",
        A::NoCertificate => "sslv3 alert no certificate",
        A::BadCertificate => "sslv3 alert bad certificate",
        A::UnsupportedCertificate => "sslv3 alert unsupported certificate",
        A::CertificateRevoked => "sslv3 alert certificate revoked",
        A::CertificateExpired => "sslv3 alert certificate expired",
        A::CertificateUnknown => "sslv3 alert certificate unknown",
        A::IllegalParameter => "sslv3 alert illegal parameter",
        A::UnknownCA => "tlsv1 alert unknown ca",
        A::AccessDenied => "tlsv1 alert access denied",
        A::DecodeError => "tlsv1 alert decode error",
        A::DecryptError => "tlsv1 alert decrypt error",
        A::ExportRestriction => "tlsv1 alert export restriction",
        A::ProtocolVersion => "tlsv1 alert protocol version",
        A::InsufficientSecurity => "tlsv1 alert insufficient security",
        A::InternalError => "tlsv1 alert internal error",
        A::InappropriateFallback => "tlsv1 alert inappropriate fallback",
        A::UserCanceled => "tlsv1 alert user cancelled",
        A::NoRenegotiation => "tlsv1 alert no renegotiation",
        A::MissingExtension => "tlsv13 alert missing extension",
        A::UnsupportedExtension => "tlsv1 unsupported extension",
        A::CertificateUnobtainable => "tlsv1 certificate unobtainable",
        A::UnrecognisedName => "tlsv1 unrecognized name",
        A::BadCertificateStatusResponse => "tlsv1 bad certificate status response",
        A::BadCertificateHashValue => "tlsv1 bad certificate hash value",
        A::CertificateRequired => "tlsv13 alert certificate required",
        other => {
            return format!(
                "SSL error code {}",
                OPENSSL_ALERT_ERROR_BASE + u64::from(u8::from(other))
            )
        }
    };
    text.to_owned()
}

/// OpenSSL 1.1.1's packed error code for a fatal alert, less the alert number:
/// `ERR_PACK(ERR_LIB_SSL = 20, SSL_F_SSL3_READ_BYTES = 148, SSL_AD_REASON_OFFSET = 1000)`.
const OPENSSL_ALERT_ERROR_BASE: u64 = (20 << 24) | (148 << 12) | 1000;

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;

    #[test]
    fn system_roots_come_from_the_platform_bundle() {
        match SYSTEM_ROOT_FILES.iter().find(|p| fs::metadata(p).is_ok()) {
            // Debian's ca-certificates bundle holds over a hundred roots.
            Some(_) => assert!(system_roots().unwrap().0.len() > 50),
            None => assert_eq!(
                system_roots().unwrap_err(),
                TlsError::RootCertMissing {
                    path: SYSTEM_ROOT_FILES[0].to_owned()
                }
            ),
        }
    }

    #[test]
    fn modes_parse_and_order() {
        for text in [
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ] {
            assert_eq!(SslMode::parse(text).unwrap().as_str(), text);
        }
        assert_eq!(SslMode::parse("Require"), None);
        assert!(!SslMode::Prefer.requires_tls());
        assert!(SslMode::Require.requires_tls() && !SslMode::Require.verifies());
        assert!(SslMode::VerifyCa.verifies() && SslMode::VerifyFull.verifies());
    }

    #[test]
    fn versions() {
        assert_eq!(TlsVersion::parse("tlsV1.3"), Some(TlsVersion::Tls1_3));
        assert_eq!(TlsVersion::parse("TLSv1"), Some(TlsVersion::Tls1_0));
        assert_eq!(TlsVersion::parse("TLSv2"), None);
        let mut s = TlsSettings::default();
        assert_eq!(s.versions().unwrap().len(), 2);
        s.min_version = Some(TlsVersion::Tls1_3);
        assert_eq!(s.versions().unwrap(), [&rustls::version::TLS13]);
        s.min_version = None;
        s.max_version = Some(TlsVersion::Tls1_2);
        assert_eq!(s.versions().unwrap(), [&rustls::version::TLS12]);
        s.max_version = Some(TlsVersion::Tls1_1);
        assert_eq!(
            s.check().unwrap_err().to_string(),
            "ssl_max_protocol_version value \"TLSv1.1\" is not supported: pgcluster supports \
             TLSv1.2 and TLSv1.3"
        );
    }

    #[test]
    fn system_roots_need_verify_full() {
        let mut s = TlsSettings {
            root_cert: Some("system".into()),
            ..TlsSettings::default()
        };
        assert_eq!(s.effective_mode(), SslMode::VerifyFull);
        s.client("db.example.com").unwrap();
        s.mode = Some(SslMode::Require);
        assert_eq!(
            s.client("db").unwrap_err().to_string(),
            "weak sslmode \"require\" may not be used with sslrootcert=system (use \
             \"verify-full\")"
        );
    }

    #[test]
    fn direct_needs_require_or_stricter() {
        let mut s = TlsSettings {
            direct: true,
            mode: Some(SslMode::Prefer),
            ..TlsSettings::default()
        };
        assert_eq!(
            s.check().unwrap_err().to_string(),
            "weak sslmode \"prefer\" may not be used with sslnegotiation=direct (use \
             \"require\", \"verify-ca\", or \"verify-full\")"
        );
        s.mode = Some(SslMode::Require);
        s.check().unwrap();
    }

    #[test]
    fn missing_root_file_fails_only_the_verify_modes() {
        let dir = std::env::temp_dir().join(format!("pgcluster-tls-none-{}", std::process::id()));
        let mut s = TlsSettings {
            home: Some(dir.clone()),
            mode: Some(SslMode::Require),
            ..TlsSettings::default()
        };
        s.client("localhost").unwrap();
        s.mode = Some(SslMode::VerifyCa);
        assert_eq!(
            s.client("localhost").unwrap_err().to_string(),
            format!(
                "root certificate file \"{}/.postgresql/root.crt\" does not exist\nEither \
                 provide the file or change sslmode to disable server certificate verification.",
                dir.display()
            )
        );
        s.home = None;
        assert_eq!(
            s.client("localhost").unwrap_err().to_string(),
            "could not get home directory to locate root certificate file\nEither provide the \
             file or change sslmode to disable server certificate verification."
        );
        s.root_cert = Some("/nonexistent/ca.pem".into());
        assert_eq!(
            s.client("localhost").unwrap_err(),
            TlsError::RootCertMissing {
                path: "/nonexistent/ca.pem".into()
            }
        );
    }

    /// libpq 14+: root's key may be group-readable, nobody's may be group-writable or
    /// readable by others; anyone else's must be 0600 or less.
    #[test]
    fn client_key_modes_as_libpq() {
        for (uid, mode, refused) in [
            (1000, 0o600, false),
            (1000, 0o400, false),
            (1000, 0o640, true),
            (1000, 0o604, true),
            (0, 0o640, false),
            (0, 0o600, false),
            (0, 0o660, true),
            (0, 0o650, true),
            (0, 0o644, true),
            (0, 0o641, true),
        ] {
            assert_eq!(key_mode_refused(uid, mode), refused, "{uid} {mode:o}");
        }
    }

    #[test]
    fn error_texts() {
        let cases: [(TlsError, &str); 6] = [
            (TlsError::Eof, "SSL SYSCALL error: EOF detected"),
            (
                TlsError::Handshake("certificate verify failed".into()),
                "SSL error: certificate verify failed",
            ),
            (
                TlsError::KeyPermissions { path: "k".into() },
                "private key file \"k\" has group or world access; file must have permissions \
                 u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r \
                 (0640) or less if owned by root",
            ),
            (
                TlsError::KeyMissing { path: "k".into() },
                "certificate present, but not private key file \"k\"",
            ),
            (
                TlsError::CertRead {
                    path: "c".into(),
                    reason: "no certificate found".into(),
                },
                "could not read certificate file \"c\": no certificate found",
            ),
            (
                TlsError::RootCertRead {
                    path: "r".into(),
                    reason: "no certificate or crl found".into(),
                },
                "could not read root certificate file \"r\": no certificate or crl found",
            ),
        ];
        for (err, text) in cases {
            assert_eq!(err.to_string(), text);
        }
    }

    /// Every alert rustls knows, with the text `rexref libpq '... sslmode=require'` printed
    /// when a fake server answered its ClientHello with that fatal alert (libpq 13.3 with
    /// the OpenSSL 1.1.1 of the psycopg2-binary 2.9.1 wheel).
    #[test]
    fn alerts_read_as_openssl_1_1_1_words() {
        let rexref = [
            (10, "sslv3 alert unexpected message"),
            (20, "sslv3 alert bad record mac"),
            (21, "tlsv1 alert decryption failed"),
            (22, "tlsv1 alert record overflow"),
            (30, "sslv3 alert decompression failure"),
            (40, "sslv3 alert handshake failure"),
            (41, "sslv3 alert no certificate"),
            (42, "sslv3 alert bad certificate"),
            (43, "sslv3 alert unsupported certificate"),
            (44, "sslv3 alert certificate revoked"),
            (45, "sslv3 alert certificate expired"),
            (46, "sslv3 alert certificate unknown"),
            (47, "sslv3 alert illegal parameter"),
            (48, "tlsv1 alert unknown ca"),
            (49, "tlsv1 alert access denied"),
            (50, "tlsv1 alert decode error"),
            (51, "tlsv1 alert decrypt error"),
            (60, "tlsv1 alert export restriction"),
            (70, "tlsv1 alert protocol version"),
            (71, "tlsv1 alert insufficient security"),
            (80, "tlsv1 alert internal error"),
            (86, "tlsv1 alert inappropriate fallback"),
            (90, "tlsv1 alert user cancelled"),
            (100, "tlsv1 alert no renegotiation"),
            (109, "tlsv13 alert missing extension"),
            (110, "tlsv1 unsupported extension"),
            (111, "tlsv1 certificate unobtainable"),
            (112, "tlsv1 unrecognized name"),
            (113, "tlsv1 bad certificate status response"),
            (114, "tlsv1 bad certificate hash value"),
            (115, "SSL error code 336151643"),
            (116, "tlsv13 alert certificate required"),
            (120, "SSL error code 336151648"),
            (121, "SSL error code 336151649"),
            (200, "SSL error code 336151728"),
        ];
        for (alert, text) in rexref {
            let e = io::Error::new(
                io::ErrorKind::InvalidData,
                rustls::Error::AlertReceived(rustls::AlertDescription::from(alert)),
            );
            assert_eq!(
                handshake_error(&e).to_string(),
                format!("SSL error: {text}"),
                "{alert}"
            );
            assert_eq!(read_error(&e), Some(handshake_error(&e)), "{alert}");
        }
    }

    #[test]
    fn read_errors() {
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(
            read_error(&eof).unwrap().to_string(),
            "SSL SYSCALL error: EOF detected"
        );
        // Plain socket errors are not TLS's.
        assert_eq!(
            read_error(&io::Error::from(io::ErrorKind::ConnectionReset)),
            None
        );
        assert_eq!(
            TlsError::Closed.to_string(),
            "SSL connection has been closed unexpectedly"
        );
    }

    /// rexref: a fake server answering with a protocol_version alert, with
    /// `ssl_max_protocol_version=TLSv1.2`, then `ssl_min_protocol_version=TLSv1`.
    #[test]
    fn protocol_version_hint() {
        let e = TlsError::ProtocolVersion {
            min: Some(TlsVersion::Tls1_2),
            max: Some(TlsVersion::Tls1_2),
        };
        assert_eq!(
            e.to_string(),
            "SSL error: tlsv1 alert protocol version\nThis may indicate that the server does \
             not support any SSL protocol version between TLSv1.2 and TLSv1.2."
        );
        let e = TlsError::ProtocolVersion {
            min: Some(TlsVersion::Tls1_0),
            max: None,
        };
        assert_eq!(
            e.to_string(),
            "SSL error: tlsv1 alert protocol version\nThis may indicate that the server does \
             not support any SSL protocol version between TLSv1 and TLSv1.3."
        );
    }

    #[test]
    fn handshake_errors_map_to_openssl_words() {
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(handshake_error(&eof), TlsError::Eof);
        let unknown = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert_eq!(
            handshake_error(&unknown).to_string(),
            "SSL error: certificate verify failed"
        );
        let ours = io::Error::new(
            io::ErrorKind::InvalidData,
            verify::wrap(TlsError::HostMismatch {
                first: "localhost".into(),
                others: 0,
                host: "127.0.0.2".into(),
            }),
        );
        assert_eq!(
            handshake_error(&ours).to_string(),
            "server certificate for \"localhost\" does not match host name \"127.0.0.2\""
        );
        let alert = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::UnknownCA),
        );
        assert_eq!(
            handshake_error(&alert).to_string(),
            "SSL error: tlsv1 alert unknown ca"
        );
    }
}
