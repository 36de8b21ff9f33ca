//! TLS as bytes in and bytes out (feature `tls`): rustls's own sans-IO API
//! ([`rustls::ClientConnection`]'s `read_tls` / `process_new_packets` / `reader` / `writer`
//! / `write_tls`) over byte buffers, with no socket and no clock.
//!
//! A driver moves the bytes: what it reads from the socket goes to
//! [`TlsSession::receive`] (or [`TlsSession::receive_eof`] at the end of the stream), what
//! [`TlsSession::output`] holds goes to the socket (then [`TlsSession::sent`] says how much
//! went). Plaintext comes out of [`TlsSession::read`] and goes in through
//! [`TlsSession::write`]. The handshake is the same loop: send the output, and while
//! [`TlsSession::is_handshaking`], read and receive.
//!
//! Errors are [`SessionError`]; its `Display` is libpq 13's text (the `tls` module's
//! [`TlsError`] words), and it converts to the [`io::Error`] a TLS stream's read reports.

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;

use rustls::ClientConnection;

use crate::tls::{rustls_error_text, tls_server_end_point, TlsClient, TlsError};

/// One client TLS session: rustls's connection plus the ciphertext not yet taken by rustls
/// (it takes at most its buffer's worth at a time, and none while 16 KiB of plaintext wait
/// to be read) and the ciphertext not yet sent.
#[derive(Debug)]
pub(crate) struct TlsSession {
    conn: ClientConnection,
    /// Received ciphertext rustls has not taken yet.
    input: Vec<u8>,
    /// The transport ended; rustls is told once `input` is empty.
    eof: bool,
    /// Ciphertext to send: `output[sent..]` has not been sent yet.
    output: Vec<u8>,
    sent: usize,
}

/// What [`TlsSession::read`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plaintext {
    /// This many bytes of plaintext were copied out.
    Data(usize),
    /// The server ended TLS (close_notify): no more plaintext will come.
    Closed,
    /// Nothing to read until more ciphertext is received.
    NeedMore,
}

/// Why the session failed. `Display` is libpq 13's text, without the final newline.
#[derive(Debug)]
pub(crate) enum SessionError {
    /// rustls refused what the server sent (a bad certificate, a malformed record), or the
    /// server sent a fatal alert: `SSL error: %s` in OpenSSL's words, or the certificate
    /// check's own text.
    Tls(rustls::Error),
    /// The transport ended without close_notify: `SSL SYSCALL error: EOF detected`.
    Eof,
    /// rustls could not take received ciphertext (its buffer is full of an unfinished
    /// message): `SSL SYSCALL error: %s`.
    Buffer(io::Error),
}

impl SessionError {
    /// The error as libpq words it.
    pub(crate) fn libpq(&self) -> TlsError {
        match self {
            Self::Tls(e) => rustls_error_text(e),
            Self::Eof => TlsError::Eof,
            Self::Buffer(e) => TlsError::Syscall(crate::io_text::strerror(e)),
        }
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.libpq(), f)
    }
}

impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Tls(e) => Some(e),
            Self::Eof => None,
            Self::Buffer(e) => Some(e),
        }
    }
}

/// The error a TLS stream's read reports, as the `tls` module's `read_error` reads it back:
/// a rustls error inside `InvalidData`, the end without close_notify as `UnexpectedEof`.
impl From<SessionError> for io::Error {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Tls(e) => io::Error::new(io::ErrorKind::InvalidData, e),
            SessionError::Eof => io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection without ending TLS",
            ),
            SessionError::Buffer(e) => e,
        }
    }
}

impl TlsSession {
    /// A session for `client`'s configuration and server name. The ClientHello is in
    /// [`output`](Self::output) at once.
    pub(crate) fn new(client: &TlsClient) -> Result<Self, SessionError> {
        let conn = ClientConnection::new(Arc::clone(&client.config), client.server_name.clone())
            .map_err(SessionError::Tls)?;
        Ok(Self {
            conn,
            input: Vec::new(),
            eof: false,
            output: Vec::new(),
            sent: 0,
        })
    }

    /// Whether the handshake is still going on.
    pub(crate) fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Takes ciphertext read from the socket. An error is final; the alert rustls queued
    /// for the server is then in [`output`](Self::output) (send it if the socket takes it
    /// at once).
    pub(crate) fn receive(&mut self, mut ciphertext: &[u8]) -> Result<(), SessionError> {
        if self.input.is_empty() {
            self.take(&mut ciphertext)?;
        }
        self.input.extend_from_slice(ciphertext);
        self.take_input()
    }

    /// The socket reached the end of the stream (a read returned 0).
    pub(crate) fn receive_eof(&mut self) {
        self.eof = true;
        self.give_eof();
    }

    /// Copies received plaintext into `out`.
    pub(crate) fn read(&mut self, out: &mut [u8]) -> Result<Plaintext, SessionError> {
        loop {
            match self.conn.reader().read(out) {
                Ok(0) if !out.is_empty() => return Ok(Plaintext::Closed),
                Ok(n) => return Ok(Plaintext::Data(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // No plaintext is waiting, so rustls takes more ciphertext now.
                    if self.input.is_empty() {
                        if self.eof && self.give_eof() {
                            continue;
                        }
                        return Ok(Plaintext::NeedMore);
                    }
                    let before = self.input.len();
                    self.take_input()?;
                    if self.input.len() == before {
                        return Ok(Plaintext::NeedMore);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(SessionError::Eof)
                }
                Err(e) => return Err(SessionError::Buffer(e)),
            }
        }
    }

    /// Queues plaintext to send; returns how much was taken (all of it unless 64 KiB of
    /// ciphertext already wait in [`output`](Self::output)).
    pub(crate) fn write(&mut self, plaintext: &[u8]) -> usize {
        // rustls's writer only buffers: it fails on nothing.
        self.conn.writer().write(plaintext).unwrap_or(0)
    }

    /// Ends TLS: a close_notify alert is queued in [`output`](Self::output).
    pub(crate) fn close(&mut self) {
        self.conn.send_close_notify();
    }

    /// The ciphertext to send now (empty when there is none).
    pub(crate) fn output(&mut self) -> &[u8] {
        if self.sent >= self.output.len() {
            self.output.clear();
            self.sent = 0;
            while self.conn.wants_write() {
                // Writing into a `Vec` cannot fail.
                if self.conn.write_tls(&mut self.output).is_err() {
                    break;
                }
            }
        }
        self.output.get(self.sent..).unwrap_or_default()
    }

    /// `n` bytes of [`output`](Self::output) went to the socket.
    pub(crate) fn sent(&mut self, n: usize) {
        self.sent = self.sent.saturating_add(n).min(self.output.len());
    }

    /// SCRAM-SHA-256-PLUS's channel binding: the `tls-server-end-point` hash of the
    /// server certificate (RFC 5929), or why it cannot be computed.
    pub(crate) fn end_point(&self) -> Result<Vec<u8>, TlsError> {
        match self.conn.peer_certificates() {
            Some([cert, ..]) => tls_server_end_point(cert),
            _ => Err(TlsError::SignatureAlgorithm),
        }
    }

    /// The ALPN protocol the server agreed to, if any.
    #[cfg(test)]
    pub(crate) fn alpn_protocol(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    /// Gives rustls what it takes of `input`.
    fn take_input(&mut self) -> Result<(), SessionError> {
        let mut input = std::mem::take(&mut self.input);
        let mut rest = input.as_slice();
        let result = self.take(&mut rest);
        let taken = input.len().saturating_sub(rest.len());
        input.drain(..taken);
        self.input = input;
        if self.input.is_empty() && self.eof {
            self.give_eof();
        }
        result
    }

    /// Gives rustls ciphertext from the front of `ciphertext` until it is all taken or
    /// rustls stops taking it (plaintext waits to be read, or TLS was ended).
    fn take(&mut self, ciphertext: &mut &[u8]) -> Result<(), SessionError> {
        while !ciphertext.is_empty() {
            match self.conn.read_tls(ciphertext) {
                // close_notify was received: nothing after it is read.
                Ok(0) => {
                    *ciphertext = &[];
                    break;
                }
                Ok(_) => {
                    self.conn.process_new_packets().map_err(SessionError::Tls)?;
                }
                Err(e) => {
                    let state = self.conn.process_new_packets().map_err(SessionError::Tls)?;
                    if state.plaintext_bytes_to_read() > 0 {
                        // The plaintext buffer is full: the rest waits for a read.
                        break;
                    }
                    return Err(SessionError::Buffer(e));
                }
            }
        }
        Ok(())
    }

    /// Tells rustls the stream ended, once it took all received ciphertext; whether it was
    /// told now.
    fn give_eof(&mut self) -> bool {
        if !self.input.is_empty() {
            return false;
        }
        let mut nothing: &[u8] = &[];
        matches!(self.conn.read_tls(&mut nothing), Ok(0))
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;
    use crate::test_certs::{CertPair, KeyKind, UnitCerts};
    use crate::tls::{SslMode, TlsSettings, ALPN_POSTGRESQL};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    use rustls::ServerConnection;

    /// A CA and a server certificate of the test's own, removed when it ends.
    fn certs() -> UnitCerts {
        UnitCerts::generate().unwrap()
    }

    /// A rustls server with the test server certificate (or `pair`), offering ALPN
    /// `postgresql`.
    fn server_with(pair: &CertPair) -> ServerConnection {
        ServerConnection::new(pair.rustls_server_config()).unwrap()
    }

    fn server(certs: &UnitCerts) -> ServerConnection {
        server_with(&certs.server())
    }

    fn client(mode: SslMode, root: Option<std::path::PathBuf>, host: &str) -> TlsSession {
        let settings = TlsSettings {
            mode: Some(mode),
            root_cert: root.map(|p| p.display().to_string()),
            home: Some(std::env::temp_dir().join("pgcluster-no-home")),
            ..TlsSettings::default()
        };
        TlsSession::new(&settings.client(host).unwrap()).unwrap()
    }

    /// Moves the client's output to the server, in pieces of at most `piece` bytes; returns
    /// the plaintext the server received (none after its close_notify).
    fn to_server(client: &mut TlsSession, server: &mut ServerConnection, piece: usize) -> Vec<u8> {
        let out = client.output().to_vec();
        client.sent(out.len());
        let mut got = Vec::new();
        for mut chunk in out.chunks(piece) {
            while !chunk.is_empty() {
                if server.read_tls(&mut chunk).unwrap() == 0 {
                    return got;
                }
                server.process_new_packets().unwrap();
                match server.reader().read_to_end(&mut got) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => panic!("{e}"),
                }
            }
        }
        got
    }

    /// Whether the client has output.
    fn has_output(client: &mut TlsSession) -> bool {
        !client.output().is_empty()
    }

    /// Moves the server's output to the client, in pieces of at most `piece` bytes.
    fn to_client(
        server: &mut ServerConnection,
        client: &mut TlsSession,
        piece: usize,
    ) -> Result<bool, SessionError> {
        let mut out = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut out).unwrap();
        }
        for chunk in out.chunks(piece) {
            client.receive(chunk)?;
        }
        Ok(!out.is_empty())
    }

    /// Runs the handshake to its end (or the first error), `piece` bytes at a time.
    fn handshake(
        client: &mut TlsSession,
        server: &mut ServerConnection,
        piece: usize,
    ) -> Result<(), SessionError> {
        assert!(client.is_handshaking());
        for _ in 0..20 {
            let a = has_output(client);
            assert!(to_server(client, server, piece).is_empty());
            let b = to_client(server, client, piece)?;
            if !a && !b {
                break;
            }
        }
        assert!(!client.is_handshaking() && !server.is_handshaking());
        Ok(())
    }

    /// Everything the client can read now.
    fn read_all(client: &mut TlsSession, chunk: usize) -> (Vec<u8>, Plaintext) {
        let mut got = Vec::new();
        let mut buf = vec![0u8; chunk];
        loop {
            match client.read(&mut buf).unwrap() {
                Plaintext::Data(n) => got.extend_from_slice(&buf[..n]),
                end => return (got, end),
            }
        }
    }

    #[test]
    fn handshake_then_data_both_ways_then_close_notify() {
        let certs = certs();
        for piece in [1, 7, 100_000] {
            let mut c = client(SslMode::VerifyFull, Some(certs.ca()), "localhost");
            let mut s = server(&certs);
            handshake(&mut c, &mut s, piece).unwrap();
            assert_eq!(c.alpn_protocol(), Some(ALPN_POSTGRESQL));
            assert_eq!(s.alpn_protocol(), Some(ALPN_POSTGRESQL));
            // ecdsa-with-SHA256: the binding is the certificate's SHA-256.
            let der = std::fs::read_to_string(certs.server().cert).unwrap();
            let cert = CertificateDer::from_pem_slice(der.as_bytes()).unwrap();
            assert_eq!(c.end_point().unwrap(), tls_server_end_point(&cert).unwrap());
            assert_eq!(c.end_point().unwrap().len(), 32);

            assert_eq!(read_all(&mut c, 64).1, Plaintext::NeedMore);
            assert_eq!(c.write(b"ping"), 4);
            assert_eq!(to_server(&mut c, &mut s, piece), b"ping");

            s.writer().write_all(b"pong").unwrap();
            to_client(&mut s, &mut c, piece).unwrap();
            assert_eq!(read_all(&mut c, 3), (b"pong".to_vec(), Plaintext::NeedMore));

            // The server ends TLS: the client reads the end, even after the socket's EOF.
            s.send_close_notify();
            to_client(&mut s, &mut c, piece).unwrap();
            c.receive_eof();
            assert_eq!(read_all(&mut c, 64), (Vec::new(), Plaintext::Closed));

            // The client ends TLS.
            c.close();
            assert!(has_output(&mut c));
            assert!(to_server(&mut c, &mut s, piece).is_empty());
            let mut got = [0u8; 4];
            assert_eq!(s.reader().read(&mut got).unwrap(), 0, "close_notify");
        }
    }

    /// More than rustls buffers at once (16 KiB of plaintext, 64 KiB of ciphertext) each
    /// way, received in one piece and read in small ones.
    #[test]
    fn large_data_goes_through_the_buffers() {
        let certs = certs();
        let mut c = client(SslMode::Require, None, "localhost");
        let mut s = server(&certs);
        handshake(&mut c, &mut s, 100_000).unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();

        let mut rest = data.as_slice();
        let mut got = Vec::new();
        while !rest.is_empty() {
            let n = c.write(rest);
            assert!(n > 0);
            rest = &rest[n..];
            got.extend(to_server(&mut c, &mut s, 100_000));
        }
        assert!(got == data, "client to server");

        // All of it at once: the client keeps what rustls cannot take yet.
        s.set_buffer_limit(None);
        s.writer().write_all(&data).unwrap();
        to_client(&mut s, &mut c, usize::MAX).unwrap();
        let (got, end) = read_all(&mut c, 1000);
        assert_eq!(end, Plaintext::NeedMore);
        assert!(got == data, "server to client: {} bytes", got.len());
    }

    #[test]
    fn eof_without_close_notify() {
        let certs = certs();
        let mut c = client(SslMode::Require, None, "localhost");
        let mut s = server(&certs);
        handshake(&mut c, &mut s, 100_000).unwrap();
        s.writer().write_all(b"last").unwrap();
        to_client(&mut s, &mut c, 100_000).unwrap();
        c.receive_eof();
        // What came before the end is read first.
        let mut buf = [0u8; 64];
        assert_eq!(c.read(&mut buf).unwrap(), Plaintext::Data(4));
        let e = c.read(&mut buf).unwrap_err();
        assert_eq!(e.to_string(), "SSL SYSCALL error: EOF detected");
        assert_eq!(io::Error::from(e).kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn untrusted_certificate_is_refused() {
        let certs = certs();
        let other = certs.other_ca().unwrap().cert;
        let mut c = client(SslMode::VerifyCa, Some(other), "localhost");
        let e = handshake(&mut c, &mut server(&certs), 100_000).unwrap_err();
        assert_eq!(
            e.to_string(),
            "SSL error: certificate verify failed: unable to get local issuer certificate"
        );
        assert!(std::error::Error::source(&e).is_some());
        // The client tells the server why (a fatal alert), and the error stays.
        assert!(!c.output().is_empty());
        assert!(c.receive(b"\x17\x03\x03\x00\x01x").is_err());
    }

    #[test]
    fn expired_certificate_is_refused() {
        let certs = certs();
        let mut c = client(SslMode::VerifyCa, Some(certs.ca()), "localhost");
        let mut s = server_with(&certs.expired_server().unwrap());
        let e = handshake(&mut c, &mut s, 100_000).unwrap_err();
        assert_eq!(
            e.to_string(),
            "SSL error: certificate verify failed: certificate has expired"
        );
    }

    /// The PostgreSQL documentation's self-signed server certificate (`openssl req -x509`,
    /// `CA:TRUE`) as its own root file: trusted as OpenSSL trusts it, for `verify-ca` and
    /// `verify-full`; without it in the root file, refused with OpenSSL's reason.
    #[test]
    fn self_signed_server_certificate_in_the_root_file() {
        let certs = certs();
        let own = certs.self_signed_server(KeyKind::EcdsaP256).unwrap();
        for mode in [SslMode::VerifyCa, SslMode::VerifyFull, SslMode::Require] {
            let mut c = client(mode, Some(own.cert.clone()), "localhost");
            handshake(&mut c, &mut server_with(&own), 100_000).unwrap();
        }
        let mut c = client(SslMode::VerifyFull, Some(own.cert.clone()), "127.0.0.2");
        let e = handshake(&mut c, &mut server_with(&own), 100_000).unwrap_err();
        assert_eq!(
            e.to_string(),
            "server certificate for \"localhost\" (and 1 other name) does not match host \
             name \"127.0.0.2\""
        );
        let mut c = client(SslMode::VerifyCa, Some(certs.ca()), "localhost");
        let e = handshake(&mut c, &mut server_with(&own), 100_000).unwrap_err();
        assert_eq!(
            e.to_string(),
            "SSL error: certificate verify failed: self-signed certificate"
        );
    }

    /// An Ed25519 server key: the handshake works, verified against the certificate as its
    /// own root, and there is no binding hash. (rustls cannot serve an RSASSA-PSS key: the
    /// real-server tests in tests/tls.rs cover that one.)
    #[test]
    fn ed25519_server_key() {
        let certs = certs();
        for (kind, hash) in [(KeyKind::Ed25519, None::<usize>)] {
            let own = certs.self_signed_server(kind).unwrap();
            for (mode, root) in [
                (SslMode::VerifyFull, Some(own.cert.clone())),
                (SslMode::Require, None),
            ] {
                let mut c = client(mode, root, "localhost");
                handshake(&mut c, &mut server_with(&own), 100_000)
                    .unwrap_or_else(|e| panic!("{kind:?} {mode}: {e}"));
                assert_eq!(c.end_point().ok().map(|h| h.len()), hash, "{kind:?}");
            }
        }
    }

    /// libpq 14+: `verify-full` to an IP address matches the certificate's `iPAddress`.
    #[test]
    fn verify_full_matches_ip_address_entries() {
        let certs = certs();
        let mut c = client(SslMode::VerifyFull, Some(certs.ca()), "127.0.0.1");
        handshake(&mut c, &mut server(&certs), 100_000).unwrap();
    }

    #[test]
    fn wrong_host_name_is_refused_in_libpq_words() {
        let certs = certs();
        let mut c = client(SslMode::VerifyFull, Some(certs.ca()), "127.0.0.2");
        let e = handshake(&mut c, &mut server(&certs), 100_000).unwrap_err();
        assert_eq!(
            e.to_string(),
            "server certificate for \"localhost\" (and 1 other name) does not match host \
             name \"127.0.0.2\""
        );
    }

    #[test]
    fn an_alert_from_the_server() {
        let mut c = client(SslMode::Require, None, "localhost");
        assert_eq!(c.output()[0], 0x16, "a ClientHello");
        let n = c.output().len();
        c.sent(n);
        assert!(c.output().is_empty());
        // type alert, TLS 1.2, length 2, fatal, unknown_ca
        let e = c
            .receive(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 48])
            .unwrap_err();
        assert_eq!(e.to_string(), "SSL error: tlsv1 alert unknown ca");
        let io = io::Error::from(e);
        assert_eq!(
            crate::tls::read_error(&io).unwrap().to_string(),
            "SSL error: tlsv1 alert unknown ca"
        );
    }

    #[test]
    fn plaintext_where_a_record_belongs() {
        let mut c = client(SslMode::Require, None, "localhost");
        let n = c.output().len();
        c.sent(n);
        // A server without TLS answers with an ErrorResponse.
        let e = c.receive(b"EFATAL\0\0\0\0\0\0\0").unwrap_err();
        assert!(
            matches!(e, SessionError::Tls(rustls::Error::InvalidMessage(_))),
            "{e:?}"
        );
        assert!(e.to_string().starts_with("SSL error: "), "{e}");
    }

    #[test]
    fn output_is_taken_in_parts() {
        let mut c = client(SslMode::Require, None, "localhost");
        let hello = c.output().to_vec();
        c.sent(5);
        assert_eq!(c.output(), &hello[5..]);
        c.sent(usize::MAX);
        assert!(c.output().is_empty());
    }
}
