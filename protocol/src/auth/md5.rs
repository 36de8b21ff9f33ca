//! MD5 password hashing: `"md5" + md5_hex(md5_hex(password + user) + salt)`.

use crate::crypto::md5::Md5;

/// The PasswordMessage payload for an MD5 request.
///
/// ```
/// use pgcluster_protocol::auth::md5::md5_password;
/// assert_eq!(
///     md5_password(b"md5_user", b"password", [0x2a, 0x3d, 0x8f, 0xe0]),
///     "md562af4dd09bbb41884907a838a3233294"
/// );
/// ```
pub fn md5_password(user: &[u8], password: &[u8], salt: [u8; 4]) -> String {
    let mut inner = Md5::new();
    inner.update(password);
    inner.update(user);
    let inner_hex = hex(&inner.finalize());

    let mut outer = Md5::new();
    outer.update(inner_hex.as_bytes());
    outer.update(&salt);
    let mut result = String::with_capacity(35);
    result.push_str("md5");
    result.push_str(&hex(&outer.finalize()));
    result
}

/// Lowercase hexadecimal, as PostgreSQL's `bytesToHex`.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len().saturating_mul(2));
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;

    /// Expected values computed independently with Python:
    /// `"md5" + hashlib.md5(hashlib.md5(p + u).hexdigest().encode() + salt).hexdigest()`.
    #[test]
    fn known_answers() {
        assert_eq!(
            md5_password(b"md5_user", b"password", [0x2a, 0x3d, 0x8f, 0xe0]),
            "md562af4dd09bbb41884907a838a3233294"
        );
        assert_eq!(
            md5_password(b"aladdin", b"opensesame", [1, 2, 3, 4]),
            "md5253a7ba04e49837722e1efadb8765d09"
        );
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
    }
}
