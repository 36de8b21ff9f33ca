//! Harnesses for the targets whose code lives outside `pgcluster-protocol` (which has its
//! own in `pgcluster_protocol::fuzzing`).
#![forbid(unsafe_code)]

use pgcluster::compat::rex::DbSetting;
use pgcluster::conninfo::Config;
use pgcluster_protocol::crypto::hmac::HmacSha256;
use pgcluster_protocol::crypto::md5::Md5;
use pgcluster_protocol::encoding::base64;

/// Arbitrary text to both connection-string parsers: never a panic, each parser gives the
/// same answer twice (no hidden state), and libpq settings that parse render back to text
/// that parses to the same settings (`pgcluster::fuzzing::conninfo_round_trip`: parse ->
/// render -> parse is stable, and the redacted rendering hides the passwords).
pub fn conninfo(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let config = Config::parse(&text);
    assert_eq!(config, Config::parse(&text));
    pgcluster::fuzzing::conninfo_round_trip(&text);
    if let Ok(config) = &config {
        let _ = format!("{config:?}");
    }
    let setting = DbSetting::parse(&text);
    assert_eq!(setting, DbSetting::parse(&text));
    if let Ok(setting) = &setting {
        let _ = format!("{setting:?}");
    }
}

/// Our MD5, HMAC-SHA-256 and base64 against the crates they replaced, on arbitrary input:
/// the same digests and tags (input fed in pieces cut where the first byte says), the
/// same encoding, and our strict decoder accepts exactly what `STANDARD` accepts, with
/// the same bytes.
pub fn codecs(data: &[u8]) {
    use ::base64::Engine as _;
    use ::hmac::Mac as _;
    use ::md5::Digest as _;

    let (cut, rest) = match data.split_first() {
        Some((&cut, rest)) => (usize::from(cut), rest),
        None => (0, data),
    };
    let (head, tail) = rest.split_at(cut.min(rest.len()));

    let mut md5 = Md5::new();
    md5.update(head);
    md5.update(tail);
    let theirs: [u8; 16] = ::md5::Md5::digest(rest).into();
    assert_eq!(md5.finalize(), theirs);

    // The head is the key, the tail the message.
    let mut mac = HmacSha256::new(head);
    let (t1, t2) = tail.split_at(tail.len() / 2);
    mac.update(t1);
    mac.update(t2);
    let mut reference = ::hmac::Hmac::<sha2::Sha256>::new_from_slice(head).expect("any key");
    reference.update(tail);
    let theirs: [u8; 32] = reference.finalize().into_bytes().into();
    assert!(mac.clone().verify(&theirs));
    assert_eq!(mac.finalize(), theirs);

    let standard = ::base64::engine::general_purpose::STANDARD;
    assert_eq!(base64::encode(rest), standard.encode(rest));
    assert_eq!(base64::decode(rest).ok(), standard.decode(rest).ok());
    let encoded = base64::encode(rest);
    assert_eq!(base64::decode(encoded.as_bytes()).as_deref(), Ok(rest));
}
