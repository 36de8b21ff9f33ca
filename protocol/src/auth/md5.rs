//! MD5 password hashing: `"md5" + md5_hex(md5_hex(password + user) + salt)`.

/// The PasswordMessage payload for an MD5 request.
pub fn md5_password(user: &[u8], password: &[u8], salt: [u8; 4]) -> String {
    let _ = (user, password, salt);
    todo!()
}
