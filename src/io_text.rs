//! libpq 13's texts for what happens to the socket under a connection: the server closed
//! it, a read or a write failed, and `strerror`'s wording of an I/O error. Used while
//! connecting and on an open connection alike.

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

/// libpq's text for a failed read on a plain socket: a reset is the server closing the
/// connection. (On TLS, TLS's own texts come first: the engine's `attempt` module.)
pub(crate) fn socket_receive_error_text(e: &io::Error) -> String {
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
    fn read_and_write_failure_texts() {
        let reset = io::Error::from_raw_os_error(104);
        assert_eq!(socket_receive_error_text(&reset), SERVER_CLOSED);
        let pipe = io::Error::from_raw_os_error(32);
        assert_eq!(send_error_text(&pipe), SERVER_CLOSED);
        let other = io::Error::from_raw_os_error(5);
        assert_eq!(
            socket_receive_error_text(&other),
            "could not receive data from server: Input/output error\n"
        );
        assert_eq!(
            send_error_text(&other),
            "could not send data to server: Input/output error\n"
        );
    }
}
