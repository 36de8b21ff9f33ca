//! Random bytes from the operating system: `/dev/urandom`, read with `std::fs`.
//!
//! Three places need randomness: the SCRAM client nonce, a test server's password and the
//! salt of a temporary database name. Linux, the BSDs and macOS all have `/dev/urandom`,
//! which never blocks once the kernel's pool is seeded (at boot, long before a client
//! runs), so reading it is enough and spares the `getrandom` crate. (With feature `tls`,
//! ring still brings `getrandom` for its own use.)
//!
//! The device is opened once, on first use, and the handle kept for the life of the
//! process (as the `getrandom` crate keeps its fallback's), so that a connection's nonce
//! costs one `read` and not an `open`, a `read` and a `close`. A failed open is not
//! kept: the next call tries again.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::sync::OnceLock;

/// The device read.
pub(crate) const DEVICE: &str = "/dev/urandom";

/// Why no random bytes could be had.
#[derive(Debug)]
pub(crate) enum RandomError {
    /// `/dev/urandom` could not be opened.
    Open(io::Error),
    /// Reading `/dev/urandom` failed (or it ended, which a character device does not).
    Read(io::Error),
}

impl fmt::Display for RandomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open(e) => write!(f, "cannot open {DEVICE}: {e}"),
            Self::Read(e) => write!(f, "cannot read {DEVICE}: {e}"),
        }
    }
}

impl std::error::Error for RandomError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Open(e) | Self::Read(e) => Some(e),
        }
    }
}

/// Fills `buf` with random bytes from [`DEVICE`].
pub(crate) fn fill(buf: &mut [u8]) -> Result<(), RandomError> {
    let mut device = device()?;
    // `read_exact` retries on EINTR and reports an early end as UnexpectedEof.
    device.read_exact(buf).map_err(RandomError::Read)
}

/// The process's handle on [`DEVICE`], opened on the first call that needs it.
fn device() -> Result<&'static File, RandomError> {
    static HANDLE: OnceLock<File> = OnceLock::new();
    if let Some(file) = HANDLE.get() {
        return Ok(file);
    }
    let file = File::open(DEVICE).map_err(RandomError::Open)?;
    // Threads that open it at the same time all get the one handle kept; the others'
    // are closed here.
    Ok(HANDLE.get_or_init(|| file))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn fills_the_whole_buffer_with_fresh_bytes() {
        // 32 bytes: the chance that two reads are equal, or that one is all zeros, is 2^-256.
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        fill(&mut a).unwrap();
        fill(&mut b).unwrap();
        assert_ne!(a, [0; 32]);
        assert_ne!(a, b);
        fill(&mut []).unwrap();
    }

    #[test]
    fn the_device_is_opened_once() {
        let first = device().unwrap();
        let again = std::thread::spawn(|| std::ptr::from_ref(device().unwrap()) as usize)
            .join()
            .unwrap();
        assert!(std::ptr::eq(first, device().unwrap()));
        assert_eq!(std::ptr::from_ref(first) as usize, again);
        let mut bytes = [0u8; 16];
        fill(&mut bytes).unwrap();
        assert_ne!(bytes, [0; 16]);
    }

    #[test]
    fn errors_say_what_failed_and_keep_the_cause() {
        let open = RandomError::Open(io::Error::from_raw_os_error(2));
        assert_eq!(
            open.to_string(),
            "cannot open /dev/urandom: No such file or directory (os error 2)"
        );
        assert_eq!(
            open.source().unwrap().to_string(),
            "No such file or directory (os error 2)"
        );
        let read = RandomError::Read(io::Error::from(io::ErrorKind::UnexpectedEof));
        assert_eq!(
            read.to_string(),
            "cannot read /dev/urandom: unexpected end of file"
        );
        assert!(read
            .source()
            .unwrap()
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::UnexpectedEof));
    }
}
