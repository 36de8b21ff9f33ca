//! SCRAM-SHA-256 client (RFC 5802, RFC 7677), as libpq 13's `fe-auth-scram.c`.
//!
//! The exchange is an explicit state machine:
//!
//! ```text
//! ScramClient::new ─ client_first() ─> server_first(msg) ─> server_final(msg) ─> done
//!    (Initial)          (FirstSent)        (FinalSent)            (Done)
//! ```
//!
//! A call out of order returns [`ScramError::InvalidState`] (once its input has passed the
//! framing checks every message gets: not empty, no NUL); nothing here panics. The only
//! randomness is the client nonce, which the caller passes in (18 raw bytes, base64-encoded
//! as libpq does). The iteration count is checked against
//! [`Limits::max_scram_iterations`](crate::limits::Limits) before any hashing.
//!
//! Password preparation: libpq runs the password through SASLprep (RFC 4013) when it is
//! valid UTF-8, and falls back to the raw bytes otherwise. A pure-ASCII password is used
//! as is (libpq's fast path, implemented here). For a non-ASCII password this module uses
//! the raw bytes: the NFKC normalisation, the mapping tables and the prohibited-character
//! checks of SASLprep are not implemented, so a non-ASCII password whose SASLprep form
//! differs from its raw bytes does not authenticate.
//!
//! ```
//! use pgcluster_protocol::auth::scram::{ChannelBinding, ScramClient};
//! use pgcluster_protocol::limits::Limits;
//!
//! let mut scram = ScramClient::new(b"pencil", [7; 18], ChannelBinding::None, Limits::default());
//! let first = scram.client_first().unwrap();
//! assert_eq!(first, b"n,,n=,r=BwcHBwcHBwcHBwcHBwcHBwcH".to_vec());
//! ```

use std::fmt;

use sha2::digest::consts::U64;
use sha2::digest::generic_array::GenericArray;
use sha2::{Digest, Sha256};

use crate::secret::{wipe, Secret};

use crate::crypto::hmac::{key_block, HmacSha256, IPAD, OPAD};
use crate::encoding::base64;
use crate::limits::Limits;

/// The SASL mechanism name of SCRAM-SHA-256.
pub const SCRAM_SHA_256: &str = "SCRAM-SHA-256";
/// The SASL mechanism name of SCRAM-SHA-256 with channel binding.
pub const SCRAM_SHA_256_PLUS: &str = "SCRAM-SHA-256-PLUS";

/// Longest password libpq's SASLprep accepts (`MAX_PASSWORD_LENGTH`); a longer one makes
/// libpq 13 fail with `out of memory`.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Length of a SHA-256 digest, and so of every SCRAM key and signature.
const KEY_LEN: usize = 32;

/// A SCRAM failure. `Display` is libpq 13's text without the final newline, except for
/// [`ScramError::TooManyIterations`], which is pgcluster's own.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScramError {
    /// `malformed SCRAM message (attribute "%c" expected)`
    AttributeExpected(u8),
    /// `could not calculate client proof` (cannot happen with HMAC-SHA-256; libpq 14's text)
    ClientProof,
    /// `malformed SCRAM message (empty message)`
    EmptyMessage,
    /// `malformed SCRAM message (expected character "=" for attribute "%c")`
    EqualsExpected(u8),
    /// `malformed SCRAM message (garbage at end of server-final-message)`. Recorded only:
    /// libpq 13 goes on with the exchange.
    GarbageAfterServerFinal,
    /// `malformed SCRAM message (garbage at end of server-first-message)`. Recorded only:
    /// libpq 13 goes on with the exchange.
    GarbageAfterServerFirst,
    /// `incorrect server signature`
    IncorrectServerSignature,
    /// `malformed SCRAM message (invalid iteration count)`
    InvalidIterationCount,
    /// `malformed SCRAM message (invalid salt)`
    InvalidSalt,
    /// `malformed SCRAM message (invalid server signature)`: `v=` does not decode to 32 bytes.
    InvalidServerSignature,
    /// `invalid SCRAM exchange state`: a step was called out of order.
    InvalidState,
    /// `malformed SCRAM message (length mismatch)`: a NUL inside the message.
    LengthMismatch,
    /// `invalid SCRAM response (nonce mismatch)`
    NonceMismatch,
    /// `out of memory`: libpq 13's text for a password longer than [`MAX_PASSWORD_LEN`].
    PasswordTooLong,
    /// `error received from server in SCRAM exchange: %s` (server-final `e=...`).
    ServerError(String),
    /// `SCRAM iteration count %u exceeds the limit of %u` (pgcluster's own check, made
    /// before any hashing).
    TooManyIterations {
        /// The count the server asked for.
        count: u64,
        /// [`Limits::max_scram_iterations`].
        limit: u32,
    },
}

impl fmt::Display for ScramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = |attr: &u8| char::from(*attr);
        match self {
            Self::AttributeExpected(a) => write!(
                f,
                "malformed SCRAM message (attribute \"{}\" expected)",
                c(a)
            ),
            Self::ClientProof => f.write_str("could not calculate client proof"),
            Self::EmptyMessage => f.write_str("malformed SCRAM message (empty message)"),
            Self::EqualsExpected(a) => write!(
                f,
                "malformed SCRAM message (expected character \"=\" for attribute \"{}\")",
                c(a)
            ),
            Self::GarbageAfterServerFinal => {
                f.write_str("malformed SCRAM message (garbage at end of server-final-message)")
            }
            Self::GarbageAfterServerFirst => {
                f.write_str("malformed SCRAM message (garbage at end of server-first-message)")
            }
            Self::IncorrectServerSignature => f.write_str("incorrect server signature"),
            Self::InvalidIterationCount => {
                f.write_str("malformed SCRAM message (invalid iteration count)")
            }
            Self::InvalidSalt => f.write_str("malformed SCRAM message (invalid salt)"),
            Self::InvalidServerSignature => {
                f.write_str("malformed SCRAM message (invalid server signature)")
            }
            Self::InvalidState => f.write_str("invalid SCRAM exchange state"),
            Self::LengthMismatch => f.write_str("malformed SCRAM message (length mismatch)"),
            Self::NonceMismatch => f.write_str("invalid SCRAM response (nonce mismatch)"),
            Self::PasswordTooLong => f.write_str("out of memory"),
            Self::ServerError(msg) => {
                write!(f, "error received from server in SCRAM exchange: {msg}")
            }
            Self::TooManyIterations { count, limit } => write!(
                f,
                "SCRAM iteration count {count} exceeds the limit of {limit}"
            ),
        }
    }
}

impl std::error::Error for ScramError {}

/// What the client says about channel binding in its GS2 header.
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq)]
pub enum ChannelBinding {
    /// `n,,`: the client does not support channel binding (no TLS).
    None,
    /// `y,,`: the client supports it, but the server did not offer SCRAM-SHA-256-PLUS.
    NotOffered,
    /// `p=tls-server-end-point,,`: bind to the server certificate's hash (RFC 5929), for
    /// SCRAM-SHA-256-PLUS over TLS.
    TlsServerEndPoint(Vec<u8>),
}

impl ChannelBinding {
    fn gs2_header(&self) -> &'static [u8] {
        match self {
            Self::None => b"n,,",
            Self::NotOffered => b"y,,",
            Self::TlsServerEndPoint(_) => b"p=tls-server-end-point,,",
        }
    }

    /// The `c=` attribute's value: base64 of the GS2 header and any binding data.
    fn cbind_input(&self) -> Vec<u8> {
        let mut data = self.gs2_header().to_vec();
        if let Self::TlsServerEndPoint(hash) = self {
            data.extend_from_slice(hash);
        }
        base64::encode(&data).into_bytes()
    }
}

impl fmt::Debug for ChannelBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "None",
            Self::NotOffered => "NotOffered",
            Self::TlsServerEndPoint(_) => "TlsServerEndPoint(_)",
        })
    }
}

/// The keys PBKDF2 yields for one password, salt and iteration count: `ClientKey` and
/// `ServerKey` of RFC 5802. Knowing them spares an exchange the key derivation (4096
/// rounds of HMAC-SHA-256 with PostgreSQL's default), as libpq 18's `scram_client_key`
/// and `scram_server_key` do. They are password equivalents: `Debug` does not show them.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramKeys {
    /// The salt the server sent (decoded).
    pub salt: Vec<u8>,
    /// The iteration count the server sent.
    pub iterations: u32,
    /// `HMAC(SaltedPassword, "Client Key")`.
    pub client_key: [u8; KEY_LEN],
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: [u8; KEY_LEN],
}

impl ScramKeys {
    /// Derives the keys of `password` (already SASLprepped) with PBKDF2.
    fn derive(password: &[u8], salt: Vec<u8>, iterations: u32) -> Self {
        let salted = Secret::new(hi(password, &salt, iterations));
        Self {
            salt,
            iterations,
            client_key: HmacSha256::mac(&*salted, b"Client Key"),
            server_key: HmacSha256::mac(&*salted, b"Server Key"),
        }
    }
}

impl Drop for ScramKeys {
    /// The keys are password equivalents: zeroed before the memory is given back.
    fn drop(&mut self) {
        wipe(&mut self.client_key);
        wipe(&mut self.server_key);
    }
}

impl fmt::Debug for ScramKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramKeys")
            .field("salt_len", &self.salt.len())
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// The client side of one SCRAM-SHA-256 exchange. Secrets are not shown by `Debug`.
pub struct ScramClient {
    state: State,
    channel_binding: ChannelBinding,
    limits: Limits,
    garbage: Option<ScramError>,
    /// Keys derived earlier for this password; one matching the server's salt and
    /// iteration count is used instead of PBKDF2.
    known_keys: Vec<ScramKeys>,
    /// The keys of this exchange, once the server-first-message has been handled.
    keys: Option<ScramKeys>,
    /// Whether `keys` came from `known_keys`.
    keys_were_known: bool,
}

enum State {
    Initial {
        password: Secret<Vec<u8>>,
        /// `n=<user>,r=<nonce>`
        client_first_bare: Vec<u8>,
        nonce_len: usize,
    },
    FirstSent {
        password: Secret<Vec<u8>>,
        client_first_bare: Vec<u8>,
        nonce_len: usize,
    },
    FinalSent {
        server_key: Secret<[u8; KEY_LEN]>,
        auth_message: Vec<u8>,
    },
    Done,
    Failed,
}

impl fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Initial { .. } => "Initial",
            State::FirstSent { .. } => "FirstSent",
            State::FinalSent { .. } => "FinalSent",
            State::Done => "Done",
            State::Failed => "Failed",
        };
        f.debug_struct("ScramClient")
            .field("state", &state)
            .field("channel_binding", &self.channel_binding)
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    /// A client for `password`. `nonce` is 18 random bytes (from a CSPRNG); the client
    /// nonce is their base64 form, as libpq's. The user name is sent empty (`n=`), as
    /// libpq does: the server uses the startup packet's.
    pub fn new(
        password: &[u8],
        nonce: [u8; 18],
        channel_binding: ChannelBinding,
        limits: Limits,
    ) -> Self {
        Self::with_raw_nonce(
            password,
            b"",
            base64::encode(&nonce).as_bytes(),
            channel_binding,
            limits,
        )
    }

    /// `new` with the user name and the printable client nonce given directly (for test
    /// vectors such as RFC 7677's).
    fn with_raw_nonce(
        password: &[u8],
        user: &[u8],
        client_nonce: &[u8],
        channel_binding: ChannelBinding,
        limits: Limits,
    ) -> Self {
        let mut client_first_bare = b"n=".to_vec();
        client_first_bare.extend_from_slice(user);
        client_first_bare.extend_from_slice(b",r=");
        client_first_bare.extend_from_slice(client_nonce);
        Self {
            state: State::Initial {
                password: Secret::new(password.to_vec()),
                client_first_bare,
                nonce_len: client_nonce.len(),
            },
            channel_binding,
            limits,
            garbage: None,
            known_keys: Vec::new(),
            keys: None,
            keys_were_known: false,
        }
    }

    /// Keys derived for this password in earlier exchanges (e.g. from a cache). If the
    /// server sends the salt and iteration count of one of them, it is used and PBKDF2
    /// is skipped. Keys derived from another password make the exchange fail as a wrong
    /// password does, so only pass keys of this password.
    #[must_use]
    pub fn with_known_keys(mut self, keys: Vec<ScramKeys>) -> Self {
        self.known_keys = keys;
        self
    }

    /// The keys of this exchange (derived or known), once the server-first-message has
    /// been handled. Worth keeping only once [`ScramClient::is_done`].
    pub fn keys(&self) -> Option<&ScramKeys> {
        self.keys.as_ref()
    }

    /// True when [`ScramClient::keys`] came from the known keys, without PBKDF2.
    pub fn used_known_keys(&self) -> bool {
        self.keys_were_known
    }

    /// The SASL mechanism this client speaks, for SASLInitialResponse.
    pub fn mechanism(&self) -> &'static str {
        match self.channel_binding {
            ChannelBinding::TlsServerEndPoint(_) => SCRAM_SHA_256_PLUS,
            _ => SCRAM_SHA_256,
        }
    }

    /// The client-first-message (`n,,n=,r=<nonce>`). A password longer than
    /// [`MAX_PASSWORD_LEN`] fails here, with libpq 13's text.
    pub fn client_first(&mut self) -> Result<Vec<u8>, ScramError> {
        match std::mem::replace(&mut self.state, State::Failed) {
            State::Initial {
                password,
                client_first_bare,
                nonce_len,
            } => {
                let password = sasl_prep(password)?;
                let mut msg = self.channel_binding.gs2_header().to_vec();
                msg.extend_from_slice(&client_first_bare);
                self.state = State::FirstSent {
                    password,
                    client_first_bare,
                    nonce_len,
                };
                Ok(msg)
            }
            _ => Err(ScramError::InvalidState),
        }
    }

    /// Handles the server-first-message (`r=..,s=..,i=..`); returns the
    /// client-final-message (`c=..,r=..,p=..`).
    pub fn server_first(&mut self, input: &[u8]) -> Result<Vec<u8>, ScramError> {
        let (password, client_first_bare, nonce_len) =
            match std::mem::replace(&mut self.state, State::Failed) {
                State::FirstSent {
                    password,
                    client_first_bare,
                    nonce_len,
                } => (password, client_first_bare, nonce_len),
                _ => {
                    check_input(input)?;
                    return Err(ScramError::InvalidState);
                }
            };
        check_input(input)?;

        let mut rest = input;
        let nonce = read_attr_value(&mut rest, b'r')?;
        let client_nonce = client_first_bare
            .len()
            .checked_sub(nonce_len)
            .and_then(|start| client_first_bare.get(start..))
            .ok_or(ScramError::InvalidState)?;
        if !nonce.starts_with(client_nonce) {
            return Err(ScramError::NonceMismatch);
        }
        let salt =
            pg_b64_decode(read_attr_value(&mut rest, b's')?).ok_or(ScramError::InvalidSalt)?;
        let iterations = parse_iterations(read_attr_value(&mut rest, b'i')?)?;
        if !rest.is_empty() {
            self.garbage = Some(ScramError::GarbageAfterServerFirst);
        }
        let limit = self.limits.max_scram_iterations;
        let iterations = u32::try_from(iterations)
            .ok()
            .filter(|&n| n <= limit)
            .ok_or(ScramError::TooManyIterations {
                count: iterations,
                limit,
            })?;

        let known = self
            .known_keys
            .iter()
            .position(|k| k.iterations == iterations && k.salt == salt);
        let keys = match known {
            Some(i) => {
                self.keys_were_known = true;
                self.known_keys.swap_remove(i)
            }
            None => ScramKeys::derive(&password, salt, iterations),
        };
        let client_key = keys.client_key;
        let stored_key: [u8; KEY_LEN] = Sha256::digest(client_key).into();
        let server_key = keys.server_key;
        self.keys = Some(keys);

        let mut final_without_proof = b"c=".to_vec();
        final_without_proof.extend_from_slice(&self.channel_binding.cbind_input());
        final_without_proof.extend_from_slice(b",r=");
        final_without_proof.extend_from_slice(nonce);

        let mut auth_message = client_first_bare;
        auth_message.push(b',');
        auth_message.extend_from_slice(input);
        auth_message.push(b',');
        auth_message.extend_from_slice(&final_without_proof);

        let client_signature = HmacSha256::mac(&stored_key, &auth_message);
        let mut proof = client_key;
        for (p, s) in proof.iter_mut().zip(client_signature) {
            *p ^= s;
        }

        let mut msg = final_without_proof;
        msg.extend_from_slice(b",p=");
        msg.extend_from_slice(base64::encode(&proof).as_bytes());
        self.state = State::FinalSent {
            server_key: Secret::new(server_key),
            auth_message,
        };
        Ok(msg)
    }

    /// Handles the server-final-message (`v=..` or `e=..`) and verifies the server's
    /// signature in constant time.
    pub fn server_final(&mut self, input: &[u8]) -> Result<(), ScramError> {
        let (server_key, auth_message) = match std::mem::replace(&mut self.state, State::Failed) {
            State::FinalSent {
                server_key,
                auth_message,
            } => (server_key, auth_message),
            _ => {
                check_input(input)?;
                return Err(ScramError::InvalidState);
            }
        };
        check_input(input)?;

        let mut rest = input;
        if rest.first() == Some(&b'e') {
            let msg = read_attr_value(&mut rest, b'e')?;
            return Err(ScramError::ServerError(
                String::from_utf8_lossy(msg).into_owned(),
            ));
        }
        let encoded = read_attr_value(&mut rest, b'v')?;
        if !rest.is_empty() {
            self.garbage = Some(ScramError::GarbageAfterServerFinal);
        }
        let signature = pg_b64_decode(encoded)
            .filter(|s| s.len() == KEY_LEN)
            .ok_or(ScramError::InvalidServerSignature)?;

        let mut mac = HmacSha256::new(&*server_key);
        mac.update(&auth_message);
        if !mac.verify(&signature) {
            return Err(ScramError::IncorrectServerSignature);
        }
        self.state = State::Done;
        Ok(())
    }

    /// True once the server's signature has been verified.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// True when the next step is [`ScramClient::server_first`].
    pub fn awaits_server_first(&self) -> bool {
        matches!(self.state, State::FirstSent { .. })
    }

    /// True when the next step is [`ScramClient::server_final`].
    pub fn awaits_server_final(&self) -> bool {
        matches!(self.state, State::FinalSent { .. })
    }

    /// True when the exchange used channel binding (`SCRAM-SHA-256-PLUS`).
    pub fn channel_bound(&self) -> bool {
        matches!(self.channel_binding, ChannelBinding::TlsServerEndPoint(_))
    }

    /// The "garbage at end of …" complaint libpq 13 records and then ignores, if any.
    pub fn garbage(&self) -> Option<&ScramError> {
        self.garbage.as_ref()
    }
}

/// libpq's checks on every server message: not empty, no NUL inside.
fn check_input(input: &[u8]) -> Result<(), ScramError> {
    if input.is_empty() {
        Err(ScramError::EmptyMessage)
    } else if input.contains(&0) {
        Err(ScramError::LengthMismatch)
    } else {
        Ok(())
    }
}

/// libpq's `read_attr_value`: `<attr>=<value>` up to the next `,` (consumed) or the end.
fn read_attr_value<'a>(input: &mut &'a [u8], attr: u8) -> Result<&'a [u8], ScramError> {
    let rest = match *input {
        [a, b'=', rest @ ..] if *a == attr => rest,
        [a, ..] if *a == attr => return Err(ScramError::EqualsExpected(attr)),
        _ => return Err(ScramError::AttributeExpected(attr)),
    };
    match rest.iter().position(|&b| b == b',') {
        Some(comma) => {
            let (value, after) = rest.split_at(comma);
            *input = after.get(1..).unwrap_or_default();
            Ok(value)
        }
        None => {
            *input = &[];
            Ok(rest)
        }
    }
}

/// libpq 13 parses `i=` with `strtol` into an `int` and requires the number to end the
/// value and to be at least 1. `strtol` skips leading white space, takes a sign, and
/// saturates at the range of a 64-bit `long`; the `int` keeps its low 32 bits, so
/// `i=4294967295` is `-1` there: libpq 13.3 answers `invalid iteration count` (checked
/// with rexref against a fake server). We give libpq's text wherever its truncated value is
/// below 1, and otherwise return the full count, which the caller checks against the cap
/// (so a count libpq would truncate to a small positive number is never used). A negative
/// count is always invalid here.
fn parse_iterations(value: &[u8]) -> Result<u64, ScramError> {
    let trimmed = match value.iter().position(|b| !b" \t\n\x0b\x0c\r".contains(b)) {
        Some(start) => value.get(start..).unwrap_or_default(),
        None => &[],
    };
    let (negative, digits) = match trimmed {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, trimmed),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) || negative {
        return Err(ScramError::InvalidIterationCount);
    }
    let count = digits.iter().fold(0u64, |n, d| {
        n.saturating_mul(10)
            .saturating_add(u64::from(d - b'0'))
            .min(i64::MAX.unsigned_abs())
    });
    let [_, _, _, _, a, b, c, d] = count.to_be_bytes();
    if count < 1 || i32::from_be_bytes([a, b, c, d]) < 1 {
        return Err(ScramError::InvalidIterationCount);
    }
    Ok(count)
}

/// PostgreSQL's `pg_b64_decode` (src/common/base64.c, 13): white space is an error, `=`
/// only after 2 or 3 symbols of a group, and the input must end on a group boundary.
/// Unlike strict decoders it accepts non-zero trailing bits and symbols after padding.
fn pg_b64_decode(src: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut buf: u32 = 0;
    let mut pos = 0u8;
    let mut end = 0u8;
    for &c in src {
        let b = if c == b'=' {
            if end == 0 {
                end = match pos {
                    2 => 1,
                    3 => 2,
                    _ => return None,
                };
            }
            0
        } else {
            b64_value(c)?
        };
        buf = (buf << 6) | u32::from(b);
        pos += 1;
        if pos == 4 {
            let [_, b0, b1, b2] = buf.to_be_bytes();
            out.push(b0);
            if end == 0 || end > 1 {
                out.push(b1);
            }
            if end == 0 || end > 2 {
                out.push(b2);
            }
            buf = 0;
            pos = 0;
        }
    }
    (pos == 0).then_some(out)
}

fn b64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// libpq's `pg_saslprep` for the cases implemented: too long is an error, pure ASCII
/// passes unchanged, and anything else is used raw (see the module docs).
fn sasl_prep(password: Secret<Vec<u8>>) -> Result<Secret<Vec<u8>>, ScramError> {
    if password.len() > MAX_PASSWORD_LEN {
        return Err(ScramError::PasswordTooLong);
    }
    Ok(password)
}

/// SHA-256's initial hash value (FIPS 180-4, section 5.3.3).
const SHA256_IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// One 64-byte SHA-256 block.
type Block = GenericArray<u8, U64>;

/// The SHA-256 state after the block `key ^ pad`: HMAC's inner (`0x36`) or outer (`0x5c`)
/// key block, hashed once for all rounds.
fn pad_state(key: &[u8; 64], pad: u8) -> [u32; 8] {
    let mut block = Block::default();
    for (b, k) in block.iter_mut().zip(key) {
        *b = k ^ pad;
    }
    let mut state = SHA256_IV;
    sha2::compress256(&mut state, std::slice::from_ref(&block));
    state
}

/// Writes a SHA-256 state (a digest) big-endian into the first 32 bytes of `block`.
fn put_digest(block: &mut Block, state: [u32; 8]) {
    for (chunk, word) in block.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
}

/// `Hi()` of RFC 5802: PBKDF2-HMAC-SHA-256 with one output block.
///
/// The HMAC's inner and outer key blocks are hashed once; each round is then exactly two
/// SHA-256 compressions of one prepared block (the previous round's 32 bytes, SHA-256
/// padding and the bit length of key block plus message), with no buffering or copying
/// in between.
fn hi(password: &[u8], salt: &[u8], iterations: u32) -> [u8; KEY_LEN] {
    // U1 = HMAC(password, salt || INT(1)): the salt has any length.
    let mut mac = HmacSha256::new(password);
    mac.update(salt);
    mac.update(&1u32.to_be_bytes());
    let first = mac.finalize();

    // HMAC's key block: the password, or its digest if longer than a block; zero padded.
    let key = key_block(password);
    let inner = pad_state(&key, IPAD);
    let outer = pad_state(&key, OPAD);

    // The message block of every later hash: 32 bytes, 0x80, zeros, then the total
    // length in bits (64 + 32 bytes = 768 = 0x0300) big-endian in the last 8 bytes.
    let mut block = Block::default();
    for (b, u) in block.iter_mut().zip(first) {
        *b = u;
    }
    if let Some(b) = block.get_mut(KEY_LEN) {
        *b = 0x80;
    }
    if let Some(b) = block.get_mut(62) {
        *b = 0x03;
    }
    let mut acc = [0u32; 8];
    for (word, bytes) in acc.iter_mut().zip(first.chunks_exact(4)) {
        let mut be = [0u8; 4];
        be.copy_from_slice(bytes);
        *word = u32::from_be_bytes(be);
    }
    rounds(&inner, &outer, &mut block, &mut acc, iterations);
    let mut result = [0u8; KEY_LEN];
    for (bytes, word) in result.chunks_exact_mut(4).zip(acc) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    result
}

/// Rounds 2..=`iterations` of `Hi()`: `acc` (U1 so far, as big-endian words) is XORed with
/// each round's digest. Kept out of line so that its code does not depend on where it is
/// inlined: inlined, the loop measured 30% slower in one build.
#[inline(never)]
fn rounds(
    inner: &[u32; 8],
    outer: &[u32; 8],
    block: &mut Block,
    acc: &mut [u32; 8],
    iterations: u32,
) {
    for _ in 1..iterations {
        let mut state = *inner;
        sha2::compress256(&mut state, std::slice::from_ref(block));
        put_digest(block, state);
        let mut state = *outer;
        sha2::compress256(&mut state, std::slice::from_ref(block));
        put_digest(block, state);
        for (a, w) in acc.iter_mut().zip(state) {
            *a ^= w;
        }
    }
}

/// Server-side computations, for tests elsewhere in the crate (a fake server's replies).
#[cfg(test)]
pub(crate) mod server {
    use super::*;

    /// The server-first-message for `client_first` (as sent by the client), with the
    /// server nonce suffix, salt and iteration count given.
    pub(crate) fn server_first(client_first: &[u8], suffix: &str, salt: &[u8], i: u32) -> Vec<u8> {
        let nonce_at = client_first
            .windows(3)
            .position(|w| w == b",r=")
            .map(|p| p + 3);
        let nonce = nonce_at
            .and_then(|p| client_first.get(p..))
            .unwrap_or_default();
        let mut msg = b"r=".to_vec();
        msg.extend_from_slice(nonce);
        msg.extend_from_slice(suffix.as_bytes());
        msg.extend_from_slice(b",s=");
        msg.extend_from_slice(base64::encode(salt).as_bytes());
        msg.extend_from_slice(format!(",i={i}").as_bytes());
        msg
    }

    /// Checks the client's proof as a server would, and returns the server-final-message.
    /// `None` if the proof is wrong.
    pub(crate) fn server_final(
        password: &[u8],
        salt: &[u8],
        i: u32,
        client_first: &[u8],
        server_first: &[u8],
        client_final: &[u8],
    ) -> Option<Vec<u8>> {
        let salted = hi(password, salt, i);
        let client_key = HmacSha256::mac(&salted, b"Client Key");
        let stored_key: [u8; KEY_LEN] = Sha256::digest(client_key).into();
        let server_key = HmacSha256::mac(&salted, b"Server Key");
        let proof_at = client_final.windows(3).position(|w| w == b",p=")?;
        let (without_proof, proof) = client_final.split_at(proof_at);
        let proof = base64::decode(proof.get(3..)?).ok()?;
        let bare = client_first.get(3..)?;
        let auth_message = [bare, server_first, without_proof].join(&b","[..]);
        let signature = HmacSha256::mac(&stored_key, &auth_message);
        let recovered: Vec<u8> = proof.iter().zip(signature).map(|(p, s)| p ^ s).collect();
        if Sha256::digest(&recovered).as_slice() != stored_key {
            return None;
        }
        let server_signature = HmacSha256::mac(&server_key, &auth_message);
        Some(format!("v={}", base64::encode(&server_signature)).into_bytes())
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;

    const RFC_SERVER_FIRST: &[u8] =
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const RFC_CLIENT_FINAL: &[u8] = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const RFC_SERVER_FINAL: &[u8] = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn rfc_client() -> ScramClient {
        ScramClient::with_raw_nonce(
            b"pencil",
            b"user",
            b"rOprNGfwEbeRWgbNEkqO",
            ChannelBinding::None,
            Limits::default(),
        )
    }

    /// A client whose client-first has been sent, nonce `AAAA…` (18 zero bytes).
    fn sent() -> ScramClient {
        let mut c = ScramClient::new(b"pw", [0; 18], ChannelBinding::None, Limits::default());
        assert_eq!(
            c.client_first().unwrap(),
            b"n,,n=,r=AAAAAAAAAAAAAAAAAAAAAAAA".to_vec()
        );
        c
    }

    const NONCE: &str = "AAAAAAAAAAAAAAAAAAAAAAAA";

    fn first_err(msg: &str) -> String {
        sent().server_first(msg.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn rfc7677_vector() {
        let mut c = rfc_client();
        assert_eq!(
            c.client_first().unwrap(),
            b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO".to_vec()
        );
        assert!(c.awaits_server_first());
        let client_final = c.server_first(RFC_SERVER_FIRST).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&client_final),
            String::from_utf8_lossy(RFC_CLIENT_FINAL)
        );
        assert!(c.awaits_server_final());
        c.server_final(RFC_SERVER_FINAL).unwrap();
        assert!(c.is_done());
        assert_eq!(c.garbage(), None);
    }

    #[test]
    fn rfc7677_wrong_signature() {
        let mut c = rfc_client();
        c.client_first().unwrap();
        c.server_first(RFC_SERVER_FIRST).unwrap();
        let err = c
            .server_final(b"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap_err();
        assert_eq!(err.to_string(), "incorrect server signature");
        assert!(!c.is_done());
        // The machine is now failed: any further step is out of order.
        assert_eq!(
            c.server_final(RFC_SERVER_FINAL).unwrap_err().to_string(),
            "invalid SCRAM exchange state"
        );
    }

    #[test]
    fn round_trip_with_test_server() {
        let mut c = ScramClient::new(b"secret", [9; 18], ChannelBinding::None, Limits::default());
        let cf = c.client_first().unwrap();
        let sf = server::server_first(&cf, "srv", b"salty", 4096);
        let fin = c.server_first(&sf).unwrap();
        let sfin = server::server_final(b"secret", b"salty", 4096, &cf, &sf, &fin).unwrap();
        c.server_final(&sfin).unwrap();
        assert!(c.is_done());
        // A server that knows another password rejects the proof.
        assert!(server::server_final(b"other", b"salty", 4096, &cf, &sf, &fin).is_none());
    }

    #[test]
    fn out_of_order_calls_are_errors() {
        let mut c = ScramClient::new(b"pw", [0; 18], ChannelBinding::None, Limits::default());
        assert_eq!(
            c.server_first(b"r=x").unwrap_err(),
            ScramError::InvalidState
        );
        // Every call after a failure is out of order.
        assert_eq!(c.client_first().unwrap_err(), ScramError::InvalidState);

        let mut c = sent();
        assert_eq!(c.client_first().unwrap_err(), ScramError::InvalidState);
        let mut c = sent();
        assert_eq!(
            c.server_final(b"v=x").unwrap_err(),
            ScramError::InvalidState
        );
        // libpq checks the input before the state.
        let mut c = sent();
        assert_eq!(c.server_final(b"").unwrap_err(), ScramError::EmptyMessage);
        assert_eq!(
            ScramError::InvalidState.to_string(),
            "invalid SCRAM exchange state"
        );
    }

    #[test]
    fn malformed_server_first_texts() {
        assert_eq!(first_err(""), "malformed SCRAM message (empty message)");
        assert_eq!(
            first_err(&format!("r={NONCE}\0,s=QUJD,i=1")),
            "malformed SCRAM message (length mismatch)"
        );
        assert_eq!(
            first_err("x=abc"),
            "malformed SCRAM message (attribute \"r\" expected)"
        );
        assert_eq!(
            first_err(&format!("r{NONCE}")),
            "malformed SCRAM message (expected character \"=\" for attribute \"r\")"
        );
        assert_eq!(
            first_err("r=BBBBBBBBBBBBBBBBBBBBBBBBxyz,s=QUJD,i=4096"),
            "invalid SCRAM response (nonce mismatch)"
        );
        assert_eq!(
            first_err("r=AAAA,s=QUJD,i=4096"),
            "invalid SCRAM response (nonce mismatch)"
        );
        assert_eq!(
            first_err(&format!("r={NONCE}x,i=4096")),
            "malformed SCRAM message (attribute \"s\" expected)"
        );
        assert_eq!(
            first_err(&format!("r={NONCE}x,s=!!!!,i=4096")),
            "malformed SCRAM message (invalid salt)"
        );
        assert_eq!(
            first_err(&format!("r={NONCE}x,s=QUJ,i=4096")),
            "malformed SCRAM message (invalid salt)"
        );
        assert_eq!(
            first_err(&format!("r={NONCE}x,s=QU JD,i=4096")),
            "malformed SCRAM message (invalid salt)"
        );
        assert_eq!(
            first_err(&format!("r={NONCE}x,s=QUJD")),
            "malformed SCRAM message (attribute \"i\" expected)"
        );
        assert_eq!(
            first_err(&format!("r={NONCE}x,s=QUJD,i")),
            "malformed SCRAM message (expected character \"=\" for attribute \"i\")"
        );
        for bad in ["0", "abc", "", "-5", "12x", "1 "] {
            assert_eq!(
                first_err(&format!("r={NONCE}x,s=QUJD,i={bad}")),
                "malformed SCRAM message (invalid iteration count)",
                "i={bad}"
            );
        }
    }

    #[test]
    fn iteration_cap_is_checked_before_hashing() {
        // With hashing first, i=2147483647 would run for hours; this returns at once.
        assert_eq!(
            first_err(&format!("r={NONCE}x,s=QUJD,i=2147483647")),
            "SCRAM iteration count 2147483647 exceeds the limit of 100000"
        );
        // libpq 13 truncates to an int: these are -1, i32::MIN and -1 there (invalid) ...
        for invalid in ["4294967295", "2147483648", "99999999999999999999999"] {
            assert_eq!(
                first_err(&format!("r={NONCE}x,s=QUJD,i={invalid}")),
                "malformed SCRAM message (invalid iteration count)",
                "i={invalid}"
            );
        }
        // ... and this one is 1 there, which we never use: the full count is capped.
        assert_eq!(
            first_err(&format!("r={NONCE}x,s=QUJD,i=4294967297")),
            "SCRAM iteration count 4294967297 exceeds the limit of 100000"
        );
        assert_eq!(
            first_err(&format!("r={NONCE}x,s=QUJD,i=100001")),
            "SCRAM iteration count 100001 exceeds the limit of 100000"
        );
        // The cap itself is allowed, and strtol's leading blanks and sign are accepted.
        let limits = Limits {
            max_scram_iterations: 3,
            ..Limits::default()
        };
        for ok in ["3", " +3", "\t1"] {
            let mut c = ScramClient::new(b"pw", [0; 18], ChannelBinding::None, limits);
            c.client_first().unwrap();
            c.server_first(format!("r={NONCE}x,s=QUJD,i={ok}").as_bytes())
                .unwrap();
        }
    }

    #[test]
    fn garbage_is_recorded_but_the_exchange_goes_on() {
        let mut c = ScramClient::new(b"pw", [1; 18], ChannelBinding::None, Limits::default());
        let cf = c.client_first().unwrap();
        let mut sf = server::server_first(&cf, "s", b"salt", 16);
        sf.extend_from_slice(b",m=extra");
        let fin = c.server_first(&sf).unwrap();
        assert_eq!(
            c.garbage().map(ToString::to_string).as_deref(),
            Some("malformed SCRAM message (garbage at end of server-first-message)")
        );
        let mut sfin = server::server_final(b"pw", b"salt", 16, &cf, &sf, &fin).unwrap();
        sfin.extend_from_slice(b",x=1");
        c.server_final(&sfin).unwrap();
        assert!(c.is_done());
        assert_eq!(
            c.garbage().map(ToString::to_string).as_deref(),
            Some("malformed SCRAM message (garbage at end of server-final-message)")
        );
    }

    #[test]
    fn a_trailing_comma_is_not_garbage() {
        let mut c = sent();
        c.server_first(format!("r={NONCE}x,s=QUJD,i=1,").as_bytes())
            .unwrap();
        assert_eq!(c.garbage(), None);
    }

    fn final_err(msg: &[u8]) -> String {
        let mut c = rfc_client();
        c.client_first().unwrap();
        c.server_first(RFC_SERVER_FIRST).unwrap();
        c.server_final(msg).unwrap_err().to_string()
    }

    #[test]
    fn malformed_server_final_texts() {
        assert_eq!(final_err(b""), "malformed SCRAM message (empty message)");
        assert_eq!(
            final_err(b"v=6rri\0"),
            "malformed SCRAM message (length mismatch)"
        );
        assert_eq!(
            final_err(b"e=invalid-proof"),
            "error received from server in SCRAM exchange: invalid-proof"
        );
        assert_eq!(
            final_err(b"e=other-error,v=xyz"),
            "error received from server in SCRAM exchange: other-error"
        );
        assert_eq!(
            final_err(b"ex"),
            "malformed SCRAM message (expected character \"=\" for attribute \"e\")"
        );
        assert_eq!(
            final_err(b"x=1"),
            "malformed SCRAM message (attribute \"v\" expected)"
        );
        assert_eq!(
            final_err(b"v6rri"),
            "malformed SCRAM message (expected character \"=\" for attribute \"v\")"
        );
        assert_eq!(
            final_err(b"v=QUJD"),
            "malformed SCRAM message (invalid server signature)"
        );
        assert_eq!(
            final_err(b"v=not base64"),
            "malformed SCRAM message (invalid server signature)"
        );
        assert_eq!(
            final_err(b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            "incorrect server signature"
        );
    }

    #[test]
    fn password_too_long_is_libpq_out_of_memory() {
        let long = vec![b'a'; MAX_PASSWORD_LEN + 1];
        let mut c = ScramClient::new(&long, [0; 18], ChannelBinding::None, Limits::default());
        assert_eq!(c.client_first().unwrap_err().to_string(), "out of memory");
        let ok = vec![b'a'; MAX_PASSWORD_LEN];
        let mut c = ScramClient::new(&ok, [0; 18], ChannelBinding::None, Limits::default());
        c.client_first().unwrap();
    }

    #[test]
    fn channel_binding_headers() {
        let mut c = ScramClient::new(
            b"pw",
            [0; 18],
            ChannelBinding::NotOffered,
            Limits::default(),
        );
        assert_eq!(c.mechanism(), "SCRAM-SHA-256");
        assert_eq!(
            c.client_first().unwrap(),
            b"y,,n=,r=AAAAAAAAAAAAAAAAAAAAAAAA".to_vec()
        );
        let fin = c
            .server_first(format!("r={NONCE}x,s=QUJD,i=1").as_bytes())
            .unwrap();
        // base64("y,,") = "eSws"
        assert!(fin.starts_with(format!("c=eSws,r={NONCE}x,p=").as_bytes()));

        let cb = ChannelBinding::TlsServerEndPoint(b"HASH".to_vec());
        let mut c = ScramClient::new(b"pw", [0; 18], cb, Limits::default());
        assert_eq!(c.mechanism(), "SCRAM-SHA-256-PLUS");
        assert!(c.channel_bound());
        assert_eq!(
            c.client_first().unwrap(),
            b"p=tls-server-end-point,,n=,r=AAAAAAAAAAAAAAAAAAAAAAAA".to_vec()
        );
        let fin = c
            .server_first(format!("r={NONCE}x,s=QUJD,i=1").as_bytes())
            .unwrap();
        let c_attr = base64::encode(b"p=tls-server-end-point,,HASH");
        assert!(fin.starts_with(format!("c={c_attr},r=").as_bytes()));
    }

    #[test]
    fn pg_base64_quirks() {
        assert_eq!(pg_b64_decode(b""), Some(vec![]));
        assert_eq!(pg_b64_decode(b"QUJD"), Some(b"ABC".to_vec()));
        assert_eq!(pg_b64_decode(b"QUI="), Some(b"AB".to_vec()));
        assert_eq!(pg_b64_decode(b"QQ=="), Some(b"A".to_vec()));
        // Non-zero trailing bits are accepted, as PostgreSQL does.
        assert_eq!(pg_b64_decode(b"QR=="), Some(b"A".to_vec()));
        assert_eq!(pg_b64_decode(b"Q==="), None);
        assert_eq!(pg_b64_decode(b"QUJ"), None);
        assert_eq!(pg_b64_decode(b"QU\nJD"), None);
        assert_eq!(pg_b64_decode(b"QU-D"), None);
    }

    #[test]
    fn debug_hides_secrets() {
        let c = ScramClient::new(b"hunter2", [0; 18], ChannelBinding::None, Limits::default());
        let text = format!("{c:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(
            text,
            "ScramClient { state: \"Initial\", channel_binding: None, .. }"
        );
    }

    /// PBKDF2 the textbook way: the keyed HMAC cloned for every round.
    fn reference_hi(password: &[u8], salt: &[u8], iterations: u32) -> [u8; KEY_LEN] {
        let prf = HmacSha256::new(password);
        let mut mac = prf.clone();
        mac.update(salt);
        mac.update(&1u32.to_be_bytes());
        let mut u = mac.finalize();
        let mut result = u;
        for _ in 1..iterations {
            let mut mac = prf.clone();
            mac.update(&u);
            u = mac.finalize();
            for (r, x) in result.iter_mut().zip(u) {
                *r ^= x;
            }
        }
        result
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn pbkdf2_hmac_sha256_vectors() {
        // The PBKDF2-HMAC-SHA-256 test vectors (dkLen 32) for P="password", S="salt".
        let cases = [
            (
                1,
                "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b",
            ),
            (
                2,
                "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43",
            ),
            (
                4096,
                "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a",
            ),
        ];
        for (iterations, want) in cases {
            assert_eq!(hex(&hi(b"password", b"salt", iterations)), want);
        }
    }

    #[test]
    fn pbkdf2_matches_the_textbook_loop_for_every_key_length() {
        // Keys up to one block are padded, longer ones hashed first.
        for len in [0, 1, 31, 32, 63, 64, 65, 100, 1024] {
            let password = vec![b'k'; len];
            for iterations in [1, 2, 3, 17] {
                assert_eq!(
                    hi(&password, b"NaCl", iterations),
                    reference_hi(&password, b"NaCl", iterations),
                    "len {len}, {iterations} iterations"
                );
            }
        }
    }

    /// One whole exchange against the test server; returns the client and its final message.
    fn exchange(
        password: &[u8],
        known: Vec<ScramKeys>,
        salt: &[u8],
        i: u32,
    ) -> (ScramClient, Vec<u8>, Option<Vec<u8>>) {
        let mut c = ScramClient::new(password, [5; 18], ChannelBinding::None, Limits::default())
            .with_known_keys(known);
        let cf = c.client_first().unwrap();
        let sf = server::server_first(&cf, "srv", salt, i);
        let fin = c.server_first(&sf).unwrap();
        let sfin = server::server_final(b"secret", salt, i, &cf, &sf, &fin);
        if let Some(sfin) = &sfin {
            c.server_final(sfin).unwrap();
        }
        (c, fin, sfin)
    }

    #[test]
    fn known_keys_skip_pbkdf2_and_give_the_same_proof() {
        let (fresh, fin, ok) = exchange(b"secret", Vec::new(), b"salty", 4096);
        assert!(ok.is_some() && fresh.is_done());
        assert!(!fresh.used_known_keys());
        let keys = fresh.keys().unwrap().clone();
        assert_eq!(
            (keys.salt.as_slice(), keys.iterations),
            (&b"salty"[..], 4096)
        );

        // The same salt and count: the known keys are used, and the proof is the same.
        let other = ScramKeys {
            salt: b"other salt".to_vec(),
            ..keys.clone()
        };
        let (cached, fin2, ok2) =
            exchange(b"secret", vec![other.clone(), keys.clone()], b"salty", 4096);
        assert!(ok2.is_some() && cached.is_done());
        assert!(cached.used_known_keys());
        assert_eq!(fin2, fin);
        assert_eq!(cached.keys(), Some(&keys));

        // Another salt or count: derived afresh.
        let (c, _, ok3) = exchange(b"secret", vec![keys.clone()], b"salty", 4095);
        assert!(ok3.is_some() && !c.used_known_keys());
        assert_eq!(c.keys().unwrap().iterations, 4095);

        // Keys of another password fail like a wrong password: the server rejects the proof.
        let wrong = exchange(b"secret", Vec::new(), b"pepper", 16)
            .0
            .keys()
            .unwrap()
            .clone();
        let mut wrong = wrong;
        wrong.client_key = [0; KEY_LEN];
        let (c, _, rejected) = exchange(b"secret", vec![wrong], b"pepper", 16);
        assert!(rejected.is_none() && c.used_known_keys() && !c.is_done());
    }

    #[test]
    fn keys_debug_hides_secrets() {
        let (c, _, _) = exchange(b"secret", Vec::new(), b"salty", 2);
        assert_eq!(
            format!("{:?}", c.keys().unwrap()),
            "ScramKeys { salt_len: 5, iterations: 2, .. }"
        );
    }
}
