//! SSLRequest and the TLS handshake over a fresh TCP socket, for the connection layer.

use std::io;
use std::sync::Arc;

use pgcluster_protocol::ssl::{Encryption, Negotiation, NegotiationError, Outcome};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::{handshake_error, tls_server_end_point, TlsError, TlsSettings};

/// Most bytes read at once while waiting for the one-byte answer. Anything beyond the
/// first byte is either the start of the startup exchange (after `N`) or an attack (after
/// `S`), so a small buffer is enough to see it.
const ANSWER_BUFFER: usize = 512;

/// How the socket goes on after SSLRequest.
#[derive(Debug)]
pub(crate) enum Negotiated {
    /// TLS is up. The channel-binding data is the server certificate's
    /// `tls-server-end-point` hash, or why it could not be computed.
    Tls {
        stream: Box<TlsStream<TcpStream>>,
        end_point: Result<Vec<u8>, TlsError>,
    },
    /// The server said `N` and TLS is not required: go on in the clear. `received` holds
    /// any bytes that came after the `N` (the start of the startup exchange).
    Plain {
        stream: TcpStream,
        received: Vec<u8>,
    },
}

/// Why TLS could not be negotiated.
#[derive(Debug)]
pub(crate) enum NegotiateError {
    /// The settings or files are unusable, or the handshake failed (libpq 13: replaces the
    /// message buffer; `prefer` retries without TLS).
    Tls(TlsError),
    /// The answer to SSLRequest fails the connection (libpq: adds; stop).
    Answer(NegotiationError),
    /// `could not send SSL negotiation packet: %s`
    Send(io::Error),
    /// Reading the answer failed.
    Receive(io::Error),
    /// The server closed the connection before answering.
    Closed,
}

/// Sends SSLRequest on `tcp` and, if the server agrees, runs the TLS handshake for `host`
/// (the `host` option as given, for SNI and the `verify-full` check).
pub(crate) async fn negotiate(
    mut tcp: TcpStream,
    settings: &TlsSettings,
    host: &str,
) -> Result<Negotiated, NegotiateError> {
    settings.check().map_err(NegotiateError::Tls)?;
    if settings.direct {
        let client = settings.client(host).map_err(NegotiateError::Tls)?;
        return handshake(client, tcp, settings).await;
    }
    let mut ssl = Negotiation::new(Encryption::Ssl, settings.effective_mode().requires_tls());
    let mut out = Vec::new();
    ssl.request(&mut out);
    tcp.write_all(&out).await.map_err(NegotiateError::Send)?;
    let mut received = Vec::new();
    let mut buf = [0u8; ANSWER_BUFFER];
    let outcome = loop {
        let n = tcp.read(&mut buf).await.map_err(NegotiateError::Receive)?;
        if n == 0 {
            return Err(NegotiateError::Closed);
        }
        received.extend_from_slice(buf.get(..n).unwrap_or_default());
        if let Some(outcome) = ssl.handle(&received).map_err(NegotiateError::Answer)? {
            break outcome;
        }
    };
    match outcome {
        // As libpq, read the certificate files only once the server said `S`: a server
        // without TLS is reported as such even when a file is missing.
        Outcome::Accepted => {
            let client = settings.client(host).map_err(NegotiateError::Tls)?;
            handshake(client, tcp, settings).await
        }
        _ => Ok(Negotiated::Plain {
            stream: tcp,
            received: received.get(1..).unwrap_or_default().to_vec(),
        }),
    }
}

/// The TLS handshake. With `sslnegotiation=direct`, a server that closes the connection or
/// answers in the clear does not support direct TLS (PostgreSQL 16 and older read the
/// ClientHello as a startup packet of absurd length and hang up). A protocol_version alert
/// gets libpq's hint naming the version range.
async fn handshake(
    client: super::TlsClient,
    tcp: TcpStream,
    settings: &TlsSettings,
) -> Result<Negotiated, NegotiateError> {
    let direct = settings.direct;
    let stream = TlsConnector::from(Arc::clone(&client.config))
        .connect(client.server_name, tcp)
        .await
        .map_err(|e| {
            let err = handshake_error(&e);
            NegotiateError::Tls(match err {
                TlsError::Eof | TlsError::Syscall(_) if direct => TlsError::DirectUnsupported,
                _ if matches!(
                    e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
                    Some(rustls::Error::AlertReceived(
                        rustls::AlertDescription::ProtocolVersion
                    ))
                ) =>
                {
                    TlsError::ProtocolVersion {
                        min: settings.min_version,
                        max: settings.max_version,
                    }
                }
                TlsError::Handshake(_)
                    if direct
                        && matches!(
                            e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
                            Some(rustls::Error::InvalidMessage(_))
                        ) =>
                {
                    TlsError::DirectUnsupported
                }
                other => other,
            })
        })?;
    let end_point = match stream.get_ref().1.peer_certificates() {
        Some([cert, ..]) => tls_server_end_point(cert),
        _ => Err(TlsError::SignatureAlgorithm),
    };
    Ok(Negotiated::Tls {
        stream: Box::new(stream),
        end_point,
    })
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;
    use crate::tls::SslMode;
    use tokio::net::TcpListener;

    /// A fake server that reads the 8-byte SSLRequest, answers `reply`, and closes.
    async fn answer(reply: &'static [u8], mode: SslMode) -> Result<Negotiated, NegotiateError> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 8];
            s.read_exact(&mut request).await.unwrap();
            assert_eq!(request, [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
            s.write_all(reply).await.unwrap();
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let settings = TlsSettings {
            mode: Some(mode),
            home: Some(std::env::temp_dir().join("pgcluster-no-home")),
            ..TlsSettings::default()
        };
        let result = negotiate(tcp, &settings, "localhost").await;
        server.await.unwrap();
        result
    }

    fn text(result: Result<Negotiated, NegotiateError>) -> String {
        match result {
            Err(NegotiateError::Answer(e)) => e.to_string(),
            Err(NegotiateError::Tls(e)) => e.to_string(),
            other => format!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn unencrypted_bytes_after_s_cve_2021_23222() {
        assert_eq!(
            text(answer(b"SR\0\0\0\x08\0\0\0\0", SslMode::Require).await),
            "received unencrypted data after SSL response"
        );
    }

    #[tokio::test]
    async fn error_response_is_hidden_cve_2024_10977() {
        let reply = b"E\0\0\0\x30SFATAL\0C53300\0MINJECTED: sorry, too many clients\0\0";
        for mode in [SslMode::Prefer, SslMode::Require] {
            assert_eq!(
                text(answer(reply, mode).await),
                "server sent an error response during SSL exchange"
            );
        }
    }

    #[tokio::test]
    async fn refusal() {
        assert_eq!(
            text(answer(b"N", SslMode::Require).await),
            "server does not support SSL, but SSL was required"
        );
        match answer(b"NR", SslMode::Prefer).await {
            Ok(Negotiated::Plain { received, .. }) => assert_eq!(received, b"R"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            text(answer(b"X", SslMode::Prefer).await),
            "received invalid response to SSL negotiation: X"
        );
        assert!(matches!(
            answer(b"", SslMode::Prefer).await,
            Err(NegotiateError::Closed)
        ));
    }

    #[tokio::test]
    async fn a_plain_server_answering_s_fails_the_handshake() {
        // The server says S, then closes instead of speaking TLS.
        assert_eq!(
            text(answer(b"S", SslMode::Require).await),
            "SSL SYSCALL error: EOF detected"
        );
    }

    #[tokio::test]
    async fn direct_tls_to_a_server_without_it() {
        // PostgreSQL 16 and older read the ClientHello as a startup packet and hang up.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut first = [0u8; 8];
            s.read_exact(&mut first).await.unwrap();
            assert_eq!(first[0], 0x16, "a TLS handshake record");
        });
        let settings = TlsSettings {
            mode: Some(SslMode::Require),
            direct: true,
            home: Some(std::env::temp_dir().join("pgcluster-no-home")),
            ..TlsSettings::default()
        };
        let tcp = TcpStream::connect(addr).await.unwrap();
        let result = negotiate(tcp, &settings, "localhost").await;
        server.await.unwrap();
        assert_eq!(
            text(result),
            "server does not support direct SSL negotiation (sslnegotiation=direct needs \
             PostgreSQL 17 or later)"
        );
    }

    #[cfg(feature = "testing")]
    #[tokio::test]
    async fn direct_tls_with_alpn() {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};

        let certs = crate::testing::TestCerts::generate().unwrap();
        let pair = certs.server();
        let chain: Vec<_> = CertificateDer::pem_file_iter(&pair.cert)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(&pair.key).unwrap();
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        config.alpn_protocols = vec![crate::tls::ALPN_POSTGRESQL.to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let mut tls = acceptor.accept(s).await.unwrap();
            assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"postgresql"[..]));
            let mut got = [0u8; 4];
            tls.read_exact(&mut got).await.unwrap();
            got
        });
        let settings = TlsSettings {
            mode: Some(SslMode::VerifyFull),
            root_cert: Some(certs.ca().display().to_string()),
            direct: true,
            ..TlsSettings::default()
        };
        let tcp = TcpStream::connect(addr).await.unwrap();
        let Negotiated::Tls {
            mut stream,
            end_point,
        } = negotiate(tcp, &settings, "localhost").await.unwrap()
        else {
            panic!("no TLS");
        };
        assert_eq!(end_point.unwrap().len(), 32);
        stream.write_all(b"ping").await.unwrap();
        stream.flush().await.unwrap();
        assert_eq!(&server.await.unwrap(), b"ping");
    }
}
