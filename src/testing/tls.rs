//! Certificates made at test time with the `openssl` command, for servers started with
//! [`Builder::tls`](super::Builder::tls).
//!
//! [`TestCerts::generate`] makes, in a private directory removed on drop:
//! - a CA (`ca.crt`), which the server also trusts for client certificates;
//! - a server certificate for `localhost` and `127.0.0.1` signed by it (`server.crt`);
//! - on request, client certificates ([`TestCerts::client`]), an expired server certificate
//!   ([`TestCerts::expired_server`]) and a second, untrusted CA ([`TestCerts::other_ca`]).
//!
//! Keys are P-256 ECDSA: fast to make, and verified by every TLS stack involved.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use super::os::{create_private_dir, spawn_guardian};
use super::{checked, Error};

/// Certificate validity of the good certificates, in days.
const DAYS: &str = "3650";

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

/// Test certificates in a private directory; dropping this removes the directory.
#[derive(Debug)]
pub struct TestCerts {
    dir: PathBuf,
    /// Serializes making files, so that tests sharing one `TestCerts` can ask for the same
    /// certificate at once; each is made once.
    lock: Mutex<()>,
    /// Removes the directory once this process is gone, for a `TestCerts` kept in a
    /// `static` (whose `Drop` never runs).
    _guardian: std::process::Child,
}

impl TestCerts {
    /// Makes the CA and the server certificate (for `localhost` and `127.0.0.1`).
    pub fn generate() -> Result<Self, Error> {
        let dir = create_private_dir(false)?;
        let guardian = spawn_guardian(&dir, Vec::new())?;
        let certs = Self {
            dir,
            lock: Mutex::new(()),
            _guardian: guardian,
        };
        certs.make_ca("ca", "pgcluster test CA")?;
        certs.make_signed(
            "server",
            "ca",
            "/CN=localhost",
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n\
             basicConstraints=CA:FALSE\n\
             extendedKeyUsage=serverAuth\n",
            DAYS,
        )?;
        Ok(certs)
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA certificate (`sslrootcert` for clients, `ssl_ca_file` for the server).
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// The server certificate (for `localhost` and `127.0.0.1`) and key.
    pub fn server(&self) -> CertPair {
        self.pair("server")
    }

    /// A client certificate for `user` (its CN), signed by the CA, for `cert` authentication.
    pub fn client(&self, user: &str) -> Result<CertPair, Error> {
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
    pub fn expired_server(&self) -> Result<CertPair, Error> {
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

    /// A second CA (its self-signed certificate and key) that signed nothing the server
    /// uses: a client trusting only it must refuse the server, and a server must refuse it
    /// as a client certificate.
    pub fn other_ca(&self) -> Result<CertPair, Error> {
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

    fn openssl(&self, args: &[&str]) -> Result<(), Error> {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(&self.dir)
            .output()
            .map_err(|e| Error::io("run", "openssl", &e))?;
        checked(
            &format!("openssl {}", args.first().unwrap_or(&"")),
            output,
            String::new(),
        )
        .map(|_| ())
    }

    fn make_ca(&self, name: &str, cn: &str) -> Result<(), Error> {
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
    ) -> Result<(), Error> {
        let (key, csr, cert, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("{name}.ext"),
        );
        let ext_path = self.dir.join(&ext);
        fs::write(&ext_path, extensions).map_err(|e| Error::io("write", &ext_path, &e))?;
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
    fn private(&self, name: &str) -> Result<(), Error> {
        let path = self.dir.join(name);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io("set permissions of", &path, &e))
    }
}

impl Drop for TestCerts {
    fn drop(&mut self) {
        // Nothing to report to in a destructor; a leftover directory is harmless.
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A file-name-safe form of a user name.
fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
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
}
