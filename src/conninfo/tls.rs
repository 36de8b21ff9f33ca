//! The TLS connection options as settings (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`,
//! `sslsni`, `ssl_min_protocol_version`, `ssl_max_protocol_version`, `sslnegotiation`,
//! `sslkeylogfile`), public as `pgcluster::tls::*`. They are plain values: the `tls` module builds the rustls
//! configuration from them ([`TlsSettings::check`], [`TlsSettings::client`]).

use std::fmt;
use std::path::PathBuf;

/// The `sslrootcert` value that means the platform's trusted roots (PostgreSQL 16): the
/// system's CA bundle file, where OpenSSL finds it.
pub const SYSTEM_ROOTS: &str = "system";

/// The `sslmode` connection option.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SslMode {
    /// `disable`: never TLS.
    Disable,
    /// `allow`: plain first; TLS only if the server refuses the plain connection.
    Allow,
    /// `prefer` (the default): TLS if the server offers it, else plain.
    Prefer,
    /// `require`: TLS, without certificate checks (unless a root certificate file exists,
    /// when it behaves as `verify-ca`, as libpq does).
    Require,
    /// `verify-ca`: TLS, and the certificate chain must lead to a trusted root.
    VerifyCa,
    /// `verify-full`: `verify-ca`, and the certificate must name the host.
    VerifyFull,
}

impl SslMode {
    /// Parses one of libpq's six values (exactly, as libpq compares them).
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "disable" => Self::Disable,
            "allow" => Self::Allow,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => return None,
        })
    }

    /// The option value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Allow => "allow",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }

    /// Whether a server without TLS fails the connection (`require` and the verify modes).
    pub fn requires_tls(self) -> bool {
        self >= Self::Require
    }

    /// Whether the server certificate must be verified (`verify-ca`, `verify-full`).
    pub fn verifies(self) -> bool {
        self >= Self::VerifyCa
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value of `ssl_min_protocol_version` / `ssl_max_protocol_version`.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// `TLSv1`
    Tls1_0,
    /// `TLSv1.1`
    Tls1_1,
    /// `TLSv1.2`
    Tls1_2,
    /// `TLSv1.3`
    Tls1_3,
}

impl TlsVersion {
    /// Parses `TLSv1`, `TLSv1.1`, `TLSv1.2` or `TLSv1.3`, in any case (as libpq).
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value.to_ascii_lowercase().as_str() {
            "tlsv1" => Self::Tls1_0,
            "tlsv1.1" => Self::Tls1_1,
            "tlsv1.2" => Self::Tls1_2,
            "tlsv1.3" => Self::Tls1_3,
            _ => return None,
        })
    }

    /// The option value as libpq spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tls1_0 => "TLSv1",
            Self::Tls1_1 => "TLSv1.1",
            Self::Tls1_2 => "TLSv1.2",
            Self::Tls1_3 => "TLSv1.3",
        }
    }
}

/// The TLS connection options. `Debug` shows no key material (there is none here: only
/// file names).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsSettings {
    /// `sslmode`; `None` when not set (`prefer`, or `verify-full` with
    /// `sslrootcert=system`, as in PostgreSQL 16).
    pub mode: Option<SslMode>,
    /// `sslrootcert`: a PEM file, or [`SYSTEM_ROOTS`].
    pub root_cert: Option<String>,
    /// `sslcert`: the client certificate chain (PEM).
    pub cert: Option<String>,
    /// `sslkey`: the client certificate's private key (PEM).
    pub key: Option<String>,
    /// `sslsni`: send the host name in the handshake (Server Name Indication); on by default.
    pub sni: bool,
    /// `ssl_min_protocol_version` (libpq 13's default: `TLSv1.2`).
    pub min_version: Option<TlsVersion>,
    /// `ssl_max_protocol_version` (no maximum by default).
    pub max_version: Option<TlsVersion>,
    /// The home directory, for libpq's default files under `~/.postgresql/`.
    pub home: Option<PathBuf>,
    /// `sslnegotiation=direct` (PostgreSQL 17): start the TLS handshake at once, without
    /// SSLRequest. Needs `sslmode` `require` or stricter, and a server that supports it.
    pub direct: bool,
    /// `sslkeylogfile` (libpq 18): the file each TLS secret is appended to (NSS key log
    /// format), for decrypting a capture. No environment variable sets it.
    pub key_log_file: Option<String>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self {
            mode: None,
            root_cert: None,
            cert: None,
            key: None,
            sni: true,
            min_version: Some(TlsVersion::Tls1_2),
            max_version: None,
            home: None,
            direct: false,
            key_log_file: None,
        }
    }
}

impl TlsSettings {
    /// The effective `sslmode`: as given, else `verify-full` with `sslrootcert=system`
    /// (PostgreSQL 16), else `prefer`.
    pub fn effective_mode(&self) -> SslMode {
        match self.mode {
            Some(mode) => mode,
            None if self.root_cert.as_deref() == Some(SYSTEM_ROOTS) => SslMode::VerifyFull,
            None => SslMode::Prefer,
        }
    }
}
