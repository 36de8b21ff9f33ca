//! The connect loop's TLS handshake over a fresh TCP socket: written once over a
//! [`Stream`] in the clear, so over either driver's socket. The rustls configuration comes
//! from the `tls` module, the session is the engine's; this is where the two meet a socket.
//!
//! The connect loop calls only [`handshake`] (the SSLRequest exchange is the connect
//! engine's); [`negotiate`] is run by the tests.
#![allow(dead_code, reason = "negotiate() is run by the tests only")]

use std::io;

use pgcluster_protocol::ssl::{Encryption, Negotiation, NegotiationError, Outcome};

use crate::engine::tls::{SessionError, TlsSession};
use crate::tls::{handshake_error, TlsError, TlsSettings};
use crate::transport::{HandshakeError, Stream};

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
        stream: Stream,
        end_point: Result<Vec<u8>, TlsError>,
    },
    /// The server said `N` and TLS is not required: go on in the clear. `received` holds
    /// any bytes that came after the `N` (the start of the startup exchange).
    Plain { stream: Stream, received: Vec<u8> },
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

/// Sends SSLRequest on `stream` (TCP in the clear) and, if the server agrees, runs the
/// TLS handshake for `host` (the `host` option as given, for SNI and the `verify-full`
/// check).
pub(crate) async fn negotiate(
    mut stream: Stream,
    settings: &TlsSettings,
    host: &str,
) -> Result<Negotiated, NegotiateError> {
    settings.check().map_err(NegotiateError::Tls)?;
    if settings.direct {
        return tls(stream, settings, host).await;
    }
    let mut ssl = Negotiation::new(Encryption::Ssl, settings.effective_mode().requires_tls());
    let mut out = Vec::new();
    ssl.request(&mut out);
    stream.write_all(&out).await.map_err(NegotiateError::Send)?;
    let mut received = Vec::new();
    let mut buf = [0u8; ANSWER_BUFFER];
    let outcome = loop {
        let n = stream
            .read(&mut buf, None)
            .await
            .map_err(NegotiateError::Receive)?;
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
        Outcome::Accepted => tls(stream, settings, host).await,
        _ => Ok(Negotiated::Plain {
            stream,
            received: received.get(1..).unwrap_or_default().to_vec(),
        }),
    }
}

/// The handshake as [`negotiate`] reports it.
async fn tls(
    stream: Stream,
    settings: &TlsSettings,
    host: &str,
) -> Result<Negotiated, NegotiateError> {
    let (stream, end_point) = handshake(stream, settings, host)
        .await
        .map_err(NegotiateError::Tls)?;
    Ok(Negotiated::Tls { stream, end_point })
}

/// The TLS handshake on `stream` (TCP in the clear) for `host` (the `host` option as
/// given, for SNI and the `verify-full` check), once the server said `S` or at once for
/// direct TLS: reads the certificate files ([`TlsSettings::client`]), then runs the
/// engine's session over the socket. Returns the encrypted stream and the
/// channel-binding data (or why it cannot be computed). With `sslnegotiation=direct`, a
/// server that closes the connection or answers in the clear does not support direct TLS
/// (PostgreSQL 16 and older read the ClientHello as a startup packet of absurd length and
/// hang up). A protocol_version alert gets libpq's hint naming the version range.
pub(crate) async fn handshake(
    mut stream: Stream,
    settings: &TlsSettings,
    host: &str,
) -> Result<(Stream, Result<Vec<u8>, TlsError>), TlsError> {
    let client = settings.client(host)?;
    let mut session =
        TlsSession::new(&client).map_err(|e| failure(&HandshakeError::Session(e), settings))?;
    stream
        .handshake(&mut session)
        .await
        .map_err(|e| failure(&e, settings))?;
    let end_point = session.end_point();
    let stream = stream
        .into_tls(session)
        .map_err(|_| TlsError::Syscall("the connection is encrypted already".to_owned()))?;
    Ok((stream, end_point))
}

/// libpq's text for a failed handshake, with direct TLS's and the version range's hints.
fn failure(e: &HandshakeError, settings: &TlsSettings) -> TlsError {
    let direct = settings.direct;
    let rustls_error = match e {
        HandshakeError::Session(SessionError::Tls(e)) => Some(e),
        _ => None,
    };
    let err = match e {
        HandshakeError::Socket(io) => handshake_error(io),
        HandshakeError::Session(session) => session.libpq(),
    };
    match err {
        TlsError::Eof | TlsError::Syscall(_) if direct => TlsError::DirectUnsupported,
        _ if matches!(
            rustls_error,
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
            if direct && matches!(rustls_error, Some(rustls::Error::InvalidMessage(_))) =>
        {
            TlsError::DirectUnsupported
        }
        other => other,
    }
}

// The fake servers and the client's socket are tokio's: these tests need the async driver.
#[cfg(all(test, feature = "async"))]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;
    use crate::tls::SslMode;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

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
        let result = negotiate(Stream::from(tcp), &settings, "localhost").await;
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
        let result = negotiate(Stream::from(tcp), &settings, "localhost").await;
        server.await.unwrap();
        assert_eq!(
            text(result),
            "server does not support direct SSL negotiation (sslnegotiation=direct needs \
             PostgreSQL 17 or later)"
        );
    }

    #[tokio::test]
    async fn direct_tls_with_alpn() {
        let certs = crate::test_certs::UnitCerts::generate().unwrap();
        let pair = certs.server();
        let config = pair.rustls_server_config();
        // The server: rustls's own blocking stream, on a thread.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::task::spawn_blocking(move || {
            use std::io::{Read as _, Write as _};
            let (s, _) = listener.accept().unwrap();
            let conn = rustls::ServerConnection::new(config).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, s);
            let mut got = [0u8; 4];
            tls.read_exact(&mut got).unwrap();
            assert_eq!(tls.conn.alpn_protocol(), Some(&b"postgresql"[..]));
            tls.write_all(b"pong").unwrap();
            tls.conn.send_close_notify();
            tls.flush().unwrap();
            got
        });
        let settings = TlsSettings {
            mode: Some(SslMode::VerifyFull),
            root_cert: Some(certs.ca().display().to_string()),
            direct: true,
            ..TlsSettings::default()
        };
        let tcp = TcpStream::connect(addr).await.unwrap();
        let Negotiated::Tls { stream, end_point } =
            negotiate(Stream::from(tcp), &settings, "localhost")
                .await
                .unwrap()
        else {
            panic!("no TLS");
        };
        assert_eq!(end_point.unwrap().len(), 32);
        let mut stream = stream;
        assert!(stream.is_tls());
        stream.write_all(b"ping").await.unwrap();
        let mut got = Vec::new();
        // "pong", then the server's close_notify ends the stream.
        let mut buf = [0u8; 64];
        loop {
            let n = stream.read(&mut buf, None).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"pong");
        assert_eq!(&server.await.unwrap(), b"ping");
    }
}
