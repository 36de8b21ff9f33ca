//! Certificates made at test time with the `openssl` command, for servers started with
//! [`Builder::tls`](super::Builder::tls): the crate's one certificate generator (its
//! `test_certs` module, below every layer), in a private directory removed on drop.
//!
//! [`TestCerts::generate`] makes:
//! - a CA (`ca.crt`), which the server also trusts for client certificates;
//! - a server certificate for `localhost` and `127.0.0.1` signed by it (`server.crt`);
//! - on request, client certificates ([`TestCerts::client`]), an expired server certificate
//!   ([`TestCerts::expired_server`]) and a second, untrusted CA ([`TestCerts::other_ca`]).
//!
//! Keys are P-256 ECDSA: fast to make, and verified by every TLS stack involved.

use std::fs;
use std::path::{Path, PathBuf};

use super::os::{create_private_dir, spawn_guardian};
use super::Error;
use crate::test_certs::{CertError, CertFiles};
pub use crate::test_certs::{CertPair, KeyKind};

/// Test certificates in a private directory; dropping this removes the directory.
#[derive(Debug)]
pub struct TestCerts {
    files: CertFiles,
    /// Removes the directory once this process is gone, for a `TestCerts` kept in a
    /// `static` (whose `Drop` never runs).
    _guardian: std::process::Child,
}

impl TestCerts {
    /// Makes the CA and the server certificate (for `localhost` and `127.0.0.1`).
    pub fn generate() -> Result<Self, Error> {
        let dir = create_private_dir(false)?;
        let guardian = spawn_guardian(&dir, Vec::new())?;
        // On failure the guardian removes the directory once this process is gone.
        let files = CertFiles::generate(dir)?;
        Ok(Self {
            files,
            _guardian: guardian,
        })
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        self.files.dir()
    }

    /// The CA certificate (`sslrootcert` for clients, `ssl_ca_file` for the server).
    pub fn ca(&self) -> PathBuf {
        self.files.ca()
    }

    /// The server certificate (for `localhost` and `127.0.0.1`) and key.
    pub fn server(&self) -> CertPair {
        self.files.server()
    }

    /// A client certificate for `user` (its CN), signed by the CA, for `cert` authentication.
    pub fn client(&self, user: &str) -> Result<CertPair, Error> {
        Ok(self.files.client(user)?)
    }

    /// A server certificate for `localhost` and `127.0.0.1`, signed by the CA, that expired
    /// before it became valid (`notAfter` one day before `notBefore`).
    pub fn expired_server(&self) -> Result<CertPair, Error> {
        Ok(self.files.expired_server()?)
    }

    /// A self-signed server certificate for `localhost` and `127.0.0.1` with a `kind` key
    /// (signed with it), made as the PostgreSQL documentation makes one (`openssl req -new
    /// -x509 -nodes`, so `CA:TRUE`):
    /// start a server with it as both certificate and CA
    /// ([`Builder::tls_files`](super::Builder::tls_files)), and give clients the same file as
    /// their root certificate.
    pub fn self_signed_server(&self, kind: KeyKind) -> Result<CertPair, Error> {
        Ok(self.files.self_signed_server(kind)?)
    }

    /// A second CA (its self-signed certificate and key) that signed nothing the server
    /// uses: a client trusting only it must refuse the server, and a server must refuse it
    /// as a client certificate.
    pub fn other_ca(&self) -> Result<CertPair, Error> {
        Ok(self.files.other_ca()?)
    }
}

impl Drop for TestCerts {
    fn drop(&mut self) {
        // Nothing to report to in a destructor; a leftover directory is harmless.
        let _ = fs::remove_dir_all(self.files.dir());
    }
}

impl From<CertError> for Error {
    fn from(e: CertError) -> Self {
        match e {
            CertError::Command {
                program,
                status,
                output,
            } => Self::Command {
                program,
                status,
                output,
            },
            CertError::Io {
                action,
                path,
                message,
            } => Self::Io {
                action,
                path,
                message,
            },
        }
    }
}
