//! libpq 13's texts for what happens to the socket under a connection: the server closed
//! it, a read or a write failed, and `strerror`'s wording of an I/O error. Used while
//! connecting and on an open connection alike.

use std::fmt;
use std::io;

/// libpq's text for a socket that closed under it (`pqReadData`'s `definitelyEOF`).
pub(crate) const SERVER_CLOSED: &str = "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n\tbefore or while processing the request.\n";

/// `strerror(errno)`: an I/O error's text without Rust's ` (os error N)` suffix.
pub(crate) fn strerror(e: &io::Error) -> String {
    let text = e.to_string();
    match e.raw_os_error() {
        Some(code) => {
            let suffix = format!(" (os error {code})");
            text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
        }
        None => text,
    }
}

/// libpq's text for a failed read: TLS's own texts for a TLS error (an alert from the
/// server: `SSL error: %s`; the connection closed without close_notify:
/// `SSL SYSCALL error: EOF detected`); a reset is the server closing the connection.
pub(crate) fn receive_error_text(e: &io::Error) -> String {
    #[cfg(feature = "tls")]
    if let Some(tls) = crate::tls::read_error(e) {
        return format!("{tls}\n");
    }
    if is_reset(e) {
        SERVER_CLOSED.to_owned()
    } else {
        format!("could not receive data from server: {}\n", strerror(e))
    }
}

/// libpq's text for a failed write: a reset or broken pipe is the server closing it.
pub(crate) fn send_error_text(e: &io::Error) -> String {
    if is_reset(e) {
        SERVER_CLOSED.to_owned()
    } else {
        format!("could not send data to server: {}\n", strerror(e))
    }
}

/// ECONNRESET, EPIPE (and an unexpected EOF, which some readers report as an error).
fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionAborted
    )
}

/// Why the connection to the server failed under a read or a write. `Display` is libpq
/// 13's text with its final newline, as the error buffer holds it.
#[derive(Debug)]
pub(crate) enum WireError {
    /// There is no socket any more: an earlier failure dropped it.
    Gone,
    /// The server ended the stream while a reply was awaited. On TLS it ended TLS first
    /// (close_notify), which libpq reports as such; else it closed the connection.
    Closed {
        /// Whether the stream was TLS.
        tls: bool,
    },
    /// A read failed.
    Receive(io::Error),
    /// A write failed.
    Send(io::Error),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Gone => f.write_str(SERVER_CLOSED),
            Self::Closed { tls } => {
                #[cfg(feature = "tls")]
                if *tls {
                    return writeln!(f, "{}", crate::tls::TlsError::Closed);
                }
                let _ = tls;
                f.write_str(SERVER_CLOSED)
            }
            Self::Receive(e) => f.write_str(&receive_error_text(e)),
            Self::Send(e) => f.write_str(&send_error_text(e)),
        }
    }
}

impl std::error::Error for WireError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Gone | Self::Closed { .. } => None,
            Self::Receive(e) | Self::Send(e) => Some(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strerror_strips_the_os_error_suffix() {
        let e = io::Error::from_raw_os_error(111);
        assert_eq!(strerror(&e), "Connection refused");
        let e = io::Error::from_raw_os_error(2);
        assert_eq!(strerror(&e), "No such file or directory");
        let e = io::Error::other("plain");
        assert_eq!(strerror(&e), "plain");
    }

    #[test]
    fn wire_errors_are_the_texts_with_their_cause() {
        use std::error::Error as _;
        assert_eq!(WireError::Gone.to_string(), SERVER_CLOSED);
        assert_eq!(WireError::Closed { tls: false }.to_string(), SERVER_CLOSED);
        #[cfg(feature = "tls")]
        assert_eq!(
            WireError::Closed { tls: true }.to_string(),
            format!("{}\n", crate::tls::TlsError::Closed)
        );
        let e = WireError::Receive(io::Error::from_raw_os_error(5));
        assert_eq!(
            e.to_string(),
            "could not receive data from server: Input/output error\n"
        );
        assert!(e.source().is_some());
        let e = WireError::Send(io::Error::from_raw_os_error(32));
        assert_eq!(e.to_string(), SERVER_CLOSED);
        assert!(e.source().is_some());
        assert!(WireError::Gone.source().is_none());
    }

    #[test]
    fn read_and_write_failure_texts() {
        let reset = io::Error::from_raw_os_error(104);
        assert_eq!(receive_error_text(&reset), SERVER_CLOSED);
        let pipe = io::Error::from_raw_os_error(32);
        assert_eq!(send_error_text(&pipe), SERVER_CLOSED);
        let other = io::Error::from_raw_os_error(5);
        assert_eq!(
            receive_error_text(&other),
            "could not receive data from server: Input/output error\n"
        );
        assert_eq!(
            send_error_text(&other),
            "could not send data to server: Input/output error\n"
        );
    }

    /// On TLS, libpq 13's `pgtls_read` texts (rexref, against fake servers).
    #[cfg(feature = "tls")]
    #[test]
    fn tls_read_failure_texts() {
        let alert = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::UnknownCA),
        );
        assert_eq!(
            receive_error_text(&alert),
            "SSL error: tlsv1 alert unknown ca\n"
        );
        let truncated = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(
            receive_error_text(&truncated),
            "SSL SYSCALL error: EOF detected\n"
        );
    }
}
