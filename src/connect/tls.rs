//! The connect loop's TLS handshake over a fresh TCP socket: written once over a
//! [`Stream`] in the clear, so over either driver's socket. The rustls configuration comes
//! from the `tls` module, the session is the engine's; this is where the two meet a socket.
//! The SSLRequest exchange before it is the connect engine's.

use crate::engine::tls::{SessionError, TlsSession};
use crate::tls::{handshake_error, TlsError, TlsSettings};
use crate::transport::{HandshakeError, Stream};

/// What a connection's TLS handshake went by: its settings and the server name (the `host`
/// option as given), kept for the cancel requests of that connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsUsed {
    pub(crate) settings: TlsSettings,
    pub(crate) host: String,
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

// Through the whole connect loop (the engine's SSLRequest exchange, then this handshake)
// against scripted servers on their own threads, on each driver of the build.
#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use std::future::Future;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    use pgcluster_protocol::frame::FrameReader;
    use pgcluster_protocol::startup::Ready;

    use super::super::{connect, Session};
    use super::*;
    use crate::conninfo::{Config, Env};
    use crate::driver::Kind;
    use crate::engine::attempt::ConnectError;
    use crate::io_text::SERVER_CLOSED;

    /// What a connect that got through startup leaves: its socket.
    struct Up(Stream);

    impl Session for Up {
        fn established(
            stream: Stream,
            _reader: FrameReader,
            _ready: Ready,
            _reached: super::super::Reached,
        ) -> Self {
            Self(stream)
        }
    }

    /// The SSLRequest packet.
    const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

    /// AuthenticationOk, then ReadyForQuery (idle): a trust login's answer to startup.
    const TRUST: &[u8] = b"R\0\0\0\x08\0\0\0\0Z\0\0\0\x05I";

    /// Reads one length-prefixed startup packet (StartupMessage or SSLRequest), all of it.
    fn read_packet(s: &mut impl Read) -> Vec<u8> {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).unwrap();
        let len = usize::try_from(u32::from_be_bytes(len)).unwrap();
        let mut packet = len.to_be_bytes()[4..].to_vec();
        packet.resize(len, 0);
        s.read_exact(&mut packet[4..]).unwrap();
        packet
    }

    /// On each driver: a server on a thread that takes one connection (then refuses any
    /// other) and runs `script` on it, and a connection to it with `settings` (after the
    /// `localhost` name, the address 127.0.0.1, user and database). `check` gets the
    /// outcome inside the driver's run, so that it can still use the stream.
    fn connect_each<F: Future<Output = ()>>(
        settings: &str,
        script: impl Fn(TcpStream) + Send + Sync + 'static,
        check: impl Fn(Result<Up, ConnectError>) -> F,
    ) {
        let script = std::sync::Arc::new(script);
        for kind in Kind::all() {
            let script = std::sync::Arc::clone(&script);
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let server = std::thread::spawn(move || {
                let (s, _) = listener.accept().unwrap();
                drop(listener);
                script(s);
            });
            let home = std::env::temp_dir().join("pgcluster-no-home");
            let config = Config::parse(&format!(
                "host=localhost hostaddr=127.0.0.1 port={port} user=u dbname=d {settings}"
            ))
            .and_then(|c| c.resolve(&Env::empty().with_home(&home.display().to_string())))
            .unwrap();
            kind.run(async { check(connect::<Up>(&config, kind).await).await });
            server.join().unwrap();
        }
    }

    /// Asserts that each driver's connect to a server running `script` fails with libpq's
    /// message `expected`.
    fn fails(settings: &str, script: impl Fn(TcpStream) + Send + Sync + 'static, expected: &str) {
        connect_each(settings, script, |result| async move {
            match result {
                Ok(_) => panic!("connected; expected {expected:?}"),
                Err(e) => assert_eq!(e.message, expected),
            }
        });
    }

    /// A server that reads SSLRequest, answers `reply`, then closes.
    fn answer(reply: &'static [u8]) -> impl Fn(TcpStream) + Send + Sync + 'static {
        move |mut s| {
            let mut request = [0u8; 8];
            s.read_exact(&mut request).unwrap();
            assert_eq!(request, SSL_REQUEST);
            s.write_all(reply).unwrap();
        }
    }

    #[test]
    fn unencrypted_bytes_after_s_cve_2021_23222() {
        fails(
            "sslmode=require",
            answer(b"SR\0\0\0\x08\0\0\0\0"),
            "received unencrypted data after SSL response\n",
        );
    }

    #[test]
    fn error_response_is_hidden_cve_2024_10977() {
        let reply = b"E\0\0\0\x30SFATAL\0C53300\0MINJECTED: sorry, too many clients\0\0";
        for mode in ["sslmode=prefer", "sslmode=require"] {
            fails(
                mode,
                answer(reply),
                "server sent an error response during SSL exchange\n",
            );
        }
    }

    #[test]
    fn refusal() {
        fails(
            "sslmode=require",
            answer(b"N"),
            "server does not support SSL, but SSL was required\n",
        );
        fails(
            "sslmode=prefer",
            answer(b"X"),
            "received invalid response to SSL negotiation: X\n",
        );
        fails("sslmode=prefer", answer(b""), SERVER_CLOSED);
    }

    #[test]
    fn bytes_after_n_are_the_start_of_the_startup_exchange() {
        // `N` and the whole trust login in one write, before the startup packet is read.
        let script = |mut s: TcpStream| {
            assert_eq!(read_packet(&mut s), SSL_REQUEST);
            let mut reply = b"N".to_vec();
            reply.extend_from_slice(TRUST);
            s.write_all(&reply).unwrap();
            let startup = read_packet(&mut s);
            assert_eq!(startup[4..8], [0, 3, 0, 0], "protocol 3.0");
        };
        connect_each("sslmode=prefer", script, |result| async move {
            assert!(!result.unwrap().0.is_tls());
        });
    }

    #[test]
    fn a_plain_server_answering_s_fails_the_handshake() {
        // The server says S, reads the ClientHello whole (so that closing sends FIN, not
        // RST over unread bytes), then closes instead of speaking TLS.
        let script = |mut s: TcpStream| {
            let mut request = [0u8; 8];
            s.read_exact(&mut request).unwrap();
            assert_eq!(request, SSL_REQUEST);
            s.write_all(b"S").unwrap();
            let mut header = [0u8; 5];
            s.read_exact(&mut header).unwrap();
            assert_eq!(header[0], 0x16, "a TLS handshake record");
            let mut hello = vec![0u8; usize::from(u16::from_be_bytes([header[3], header[4]]))];
            s.read_exact(&mut hello).unwrap();
        };
        fails(
            "sslmode=require",
            script,
            "SSL SYSCALL error: EOF detected\n",
        );
    }

    #[test]
    fn direct_tls_to_a_server_without_it() {
        // PostgreSQL 16 and older read the ClientHello as a startup packet and hang up.
        let script = |mut s: TcpStream| {
            let mut first = [0u8; 8];
            s.read_exact(&mut first).unwrap();
            assert_eq!(first[0], 0x16, "a TLS handshake record");
        };
        fails(
            "sslmode=require sslnegotiation=direct",
            script,
            "server does not support direct SSL negotiation (sslnegotiation=direct needs \
             PostgreSQL 17 or later)\n",
        );
    }

    #[test]
    fn direct_tls_with_alpn_then_startup_inside_it() {
        let certs = crate::test_certs::UnitCerts::generate().unwrap();
        let config = certs.server().rustls_server_config();
        // The server: rustls's own blocking stream, on the script's thread.
        let script = move |s: TcpStream| {
            let conn = rustls::ServerConnection::new(std::sync::Arc::clone(&config)).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, s);
            let startup = read_packet(&mut tls);
            assert_eq!(tls.conn.alpn_protocol(), Some(&b"postgresql"[..]));
            assert_eq!(startup[4..8], [0, 3, 0, 0], "protocol 3.0");
            tls.write_all(TRUST).unwrap();
            let mut got = [0u8; 4];
            tls.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"ping");
            tls.write_all(b"pong").unwrap();
            tls.conn.send_close_notify();
            tls.flush().unwrap();
        };
        let settings = format!(
            "sslmode=verify-full sslnegotiation=direct sslrootcert={}",
            certs.ca().display()
        );
        connect_each(&settings, script, |result| async move {
            let Up(mut stream) = result.unwrap();
            assert!(stream.is_tls());
            stream.write_all(b"ping").await.unwrap();
            // "pong", then the server's close_notify ends the stream.
            let mut got = Vec::new();
            let mut buf = [0u8; 64];
            loop {
                let n = stream.read(&mut buf, None).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, b"pong");
        });
    }
}
