//! Certificates made at test time with the `openssl` command: the one generator under both
//! the crate's unit tests and the testing layer's [`TestCerts`](crate::testing::TestCerts).
//!
//! [`CertFiles::generate`] makes, in a directory the caller owns:
//! - a CA (`ca.crt`), which a test server also trusts for client certificates;
//! - a server certificate for `localhost` and `127.0.0.1` signed by it (`server.crt`);
//! - on request, client certificates ([`CertFiles::client`]), an expired server
//!   certificate ([`CertFiles::expired_server`]) and a second, untrusted CA
//!   ([`CertFiles::other_ca`]).
//!
//! Keys are P-256 ECDSA: fast to make, and verified by every TLS stack involved. Nothing
//! here depends on the layers above: the unit tests of the engine and of the connect loop
//! use it directly ([`UnitCerts`]), and the testing layer wraps it with a private directory
//! that outlives no process.
#![cfg_attr(
    not(feature = "testing"),
    allow(
        dead_code,
        unreachable_pub,
        reason = "without the testing layer only the unit tests use it, and only in part"
    )
)]

use std::fmt;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Certificate validity of the good certificates, in days.
const DAYS: &str = "3650";

/// The key of a certificate made by `CertFiles::self_signed_server`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA on P-256 (signed with ecdsa-with-SHA256).
    EcdsaP256,
    /// Ed25519: a certificate signed with it has no channel-binding hash.
    Ed25519,
    /// RSASSA-PSS (`id-RSASSA-PSS`, 2048 bits), signed with RSASSA-PSS and SHA-256.
    RsaPss,
}

impl KeyKind {
    fn file_part(self) -> &'static str {
        match self {
            Self::EcdsaP256 => "ec",
            Self::Ed25519 => "ed25519",
            Self::RsaPss => "rsa-pss",
        }
    }

    /// `openssl req -newkey`'s arguments.
    fn newkey(self) -> &'static [&'static str] {
        match self {
            Self::EcdsaP256 => &["ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
            Self::Ed25519 => &["ed25519"],
            Self::RsaPss => &["rsa-pss", "-pkeyopt", "rsa_keygen_bits:2048"],
        }
    }
}

/// A certificate and its private key (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPair {
    /// The certificate.
    pub cert: PathBuf,
    /// Its private key (mode 0600).
    pub key: PathBuf,
}

/// A rustls server configuration with this pair, offering ALPN `postgresql`: the in-memory
/// TLS server of the crate's unit tests.
#[cfg(all(test, feature = "tls"))]
#[allow(
    clippy::unwrap_used,
    reason = "test certificates that fail to load fail the test"
)]
impl CertPair {
    pub(crate) fn rustls_server_config(&self) -> std::sync::Arc<rustls::ServerConfig> {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};

        let chain: Vec<_> = CertificateDer::pem_file_iter(&self.cert)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(&self.key).unwrap();
        let mut config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        config.alpn_protocols = vec![crate::tls::ALPN_POSTGRESQL.to_vec()];
        std::sync::Arc::new(config)
    }
}

/// Why a certificate could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CertError {
    /// `openssl` failed.
    Command {
        /// The program and its subcommand, e.g. `openssl req`.
        program: String,
        /// How it ended, e.g. `exit status: 1`.
        status: String,
        /// Its stderr and stdout, trimmed.
        output: String,
    },
    /// A file or process operation failed.
    Io {
        /// What was being done, e.g. `write`.
        action: &'static str,
        /// The file or program concerned.
        path: String,
        /// The operating system's message.
        message: String,
    },
}

impl CertError {
    fn io(action: &'static str, path: impl AsRef<Path>, err: &std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.as_ref().display().to_string(),
            message: err.to_string(),
        }
    }
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Command {
                program,
                status,
                output,
            } => command_failed(f, program, status, output),
            Self::Io {
                action,
                path,
                message,
            } => io_failed(f, action, path, message),
        }
    }
}

/// The text of a program that failed, as this module's and the testing layer's errors
/// show it: `openssl req failed (exit status: 1)`, then its output if any.
pub(crate) fn command_failed(
    f: &mut fmt::Formatter<'_>,
    program: &str,
    status: &str,
    output: &str,
) -> fmt::Result {
    write!(f, "{program} failed ({status})")?;
    if output.is_empty() {
        Ok(())
    } else {
        write!(f, ":\n{output}")
    }
}

/// The text of a failed file or process operation: `cannot {action} {path}: {message}`.
pub(crate) fn io_failed(
    f: &mut fmt::Formatter<'_>,
    action: &str,
    path: &str,
    message: &str,
) -> fmt::Result {
    write!(f, "cannot {action} {path}: {message}")
}

impl std::error::Error for CertError {}

/// The certificate files in one directory, each made once, when first asked for.
#[derive(Debug)]
pub(crate) struct CertFiles {
    dir: PathBuf,
    /// Serializes making files, so that tests sharing one set can ask for the same
    /// certificate at once.
    lock: Mutex<()>,
}

impl CertFiles {
    /// Makes the CA and the server certificate (for `localhost` and `127.0.0.1`) in `dir`,
    /// an empty directory that only this user can read.
    pub(crate) fn generate(dir: PathBuf) -> Result<Self, CertError> {
        let files = Self {
            dir,
            lock: Mutex::new(()),
        };
        files.make_ca("ca", "pgcluster test CA")?;
        files.make_signed(
            "server",
            "ca",
            "/CN=localhost",
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n\
             basicConstraints=CA:FALSE\n\
             extendedKeyUsage=serverAuth\n",
            DAYS,
        )?;
        Ok(files)
    }

    /// The directory holding the files.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA certificate (`sslrootcert` for clients, `ssl_ca_file` for the server).
    pub(crate) fn ca(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// The server certificate (for `localhost` and `127.0.0.1`) and key.
    pub(crate) fn server(&self) -> CertPair {
        self.pair("server")
    }

    /// A client certificate for `user` (its CN), signed by the CA.
    pub(crate) fn client(&self, user: &str) -> Result<CertPair, CertError> {
        let name = format!("client-{}", hex(user));
        let _made_once = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        if self.pair(&name).cert.exists() {
            return Ok(self.pair(&name));
        }
        let subject = format!("/CN={}", user.replace(['/', '\\'], "_"));
        self.make_signed(
            &name,
            "ca",
            &subject,
            "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
            DAYS,
        )?;
        Ok(self.pair(&name))
    }

    /// A server certificate for `localhost` and `127.0.0.1`, signed by the CA, that expired
    /// before it became valid (`notAfter` one day before `notBefore`).
    pub(crate) fn expired_server(&self) -> Result<CertPair, CertError> {
        let _made_once = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        if self.pair("expired").cert.exists() {
            return Ok(self.pair("expired"));
        }
        self.make_signed(
            "expired",
            "ca",
            "/CN=localhost",
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
            "-1",
        )?;
        Ok(self.pair("expired"))
    }

    /// A self-signed server certificate for `localhost` and `127.0.0.1` with a `kind` key,
    /// made the way the PostgreSQL documentation makes one (`openssl req -new -x509
    /// -nodes`), which openssl's default configuration marks `CA:TRUE`: its own root file
    /// for a client. Being self-signed, it is signed with its own key's algorithm (Ed25519,
    /// RSASSA-PSS), which decides its channel-binding hash.
    pub(crate) fn self_signed_server(&self, kind: KeyKind) -> Result<CertPair, CertError> {
        let _made_once = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let name = format!("self-signed-{}", kind.file_part());
        let pair = self.pair(&name);
        if pair.cert.exists() {
            return Ok(pair);
        }
        let (key, cert) = (format!("{name}.key"), format!("{name}.crt"));
        let mut args = vec!["req", "-new", "-x509", "-days", DAYS, "-nodes", "-newkey"];
        args.extend_from_slice(kind.newkey());
        args.extend_from_slice(&[
            "-keyout",
            &key,
            "-out",
            &cert,
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ]);
        self.openssl(&args)?;
        self.private(&key)?;
        Ok(pair)
    }

    /// A second CA (its self-signed certificate and key) that signed nothing else.
    pub(crate) fn other_ca(&self) -> Result<CertPair, CertError> {
        let _made_once = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        if !self.pair("other-ca").cert.exists() {
            self.make_ca("other-ca", "pgcluster untrusted CA")?;
        }
        Ok(self.pair("other-ca"))
    }

    fn pair(&self, name: &str) -> CertPair {
        CertPair {
            cert: self.dir.join(format!("{name}.crt")),
            key: self.dir.join(format!("{name}.key")),
        }
    }

    fn openssl(&self, args: &[&str]) -> Result<(), CertError> {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(&self.dir)
            .output()
            .map_err(|e| CertError::io("run", "openssl", &e))?;
        if output.status.success() {
            return Ok(());
        }
        let (stderr, stdout) = (
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout),
        );
        let text = [stderr.trim(), stdout.trim()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("\n");
        Err(CertError::Command {
            program: format!("openssl {}", args.first().unwrap_or(&"")),
            status: output.status.to_string(),
            output: text,
        })
    }

    fn make_ca(&self, name: &str, cn: &str) -> Result<(), CertError> {
        let (key, cert, subject) = (
            format!("{name}.key"),
            format!("{name}.crt"),
            format!("/CN={cn}"),
        );
        self.openssl(&[
            "req",
            "-x509",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &cert,
            "-days",
            DAYS,
            "-subj",
            &subject,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ])?;
        self.private(&key)
    }

    fn make_signed(
        &self,
        name: &str,
        ca: &str,
        subject: &str,
        extensions: &str,
        days: &str,
    ) -> Result<(), CertError> {
        let (key, csr, cert, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("{name}.ext"),
        );
        let ext_path = self.dir.join(&ext);
        fs::write(&ext_path, extensions).map_err(|e| CertError::io("write", &ext_path, &e))?;
        self.openssl(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            subject,
        ])?;
        self.private(&key)?;
        let (ca_cert, ca_key) = (format!("{ca}.crt"), format!("{ca}.key"));
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_cert,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &cert,
            "-days",
            days,
            "-extfile",
            &ext,
        ])
    }

    /// Makes a key file readable by its owner only, as libpq and the server demand.
    fn private(&self, name: &str) -> Result<(), CertError> {
        let path = self.dir.join(name);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
            .map_err(|e| CertError::io("set permissions of", &path, &e))
    }
}

/// A file-name-safe form of a user name.
fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The unit tests' certificates: [`CertFiles`] in a directory of their own (mode 0700,
/// under the temporary directory), removed on drop. One per test that needs them.
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct UnitCerts(CertFiles);

#[cfg(test)]
impl UnitCerts {
    /// Makes the CA and the server certificate in a new directory.
    pub(crate) fn generate() -> Result<Self, CertError> {
        use std::os::unix::fs::DirBuilderExt;
        use std::sync::atomic::{AtomicU32, Ordering};

        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("pgcluster-unit-certs-{}-{n}", std::process::id()));
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| CertError::io("create directory", &dir, &e))?;
        match CertFiles::generate(dir.clone()) {
            Ok(files) => Ok(Self(files)),
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
impl std::ops::Deref for UnitCerts {
    type Target = CertFiles;
    fn deref(&self) -> &CertFiles {
        &self.0
    }
}

#[cfg(test)]
impl Drop for UnitCerts {
    fn drop(&mut self) {
        // Nothing to report to in a destructor; a leftover directory is harmless.
        let _ = fs::remove_dir_all(self.0.dir());
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(hex("a/b"), "612f62");
    }

    #[test]
    fn unit_certs_are_made_and_removed() {
        let certs = UnitCerts::generate().unwrap();
        let dir = certs.dir().to_path_buf();
        assert!(certs.ca().exists() && certs.server().key.exists());
        let mode = fs::metadata(certs.server().key)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        drop(certs);
        assert!(!dir.exists());
    }
}
