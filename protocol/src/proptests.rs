//! Property tests without a property-testing dependency: a small deterministic PRNG
//! (SplitMix64, fixed seeds, so a failure replays exactly) draws many random messages.
//!
//! - Every frontend encoder against a decoder written here from the protocol
//!   documentation: the bytes decode to exactly the inputs, the length word is right,
//!   nothing but the message is appended, and refused inputs append nothing.
//! - Every backend message: `encode` → [`FrameReader`] → [`BackendMessage::parse`] gives the
//!   message back, and re-encoding gives the same bytes.
//! - The query machines: every valid reply (simple, or extended for a random batch),
//!   with notices, parameter changes and notifications anywhere, gives its events in
//!   order; an extended reply missing one answer is refused.
//! - The frame reader: any chunking of a stream (valid or garbage) gives the same frames
//!   and the same ending as one piece, with memory bounded by the bytes received.
//! - Startup framing: on random server streams, [`Startup::next_frame`] refuses only what
//!   libpq refuses before authentication, frames what the plain reader frames, and gives
//!   the same outcome for any chunking.
//! - The codecs: our MD5, HMAC-SHA-256 and base64 give what the `md-5`, `hmac` and
//!   `base64` crates (dev-dependencies only) give, for random inputs fed in random pieces;
//!   our strict base64 decoder accepts exactly what the crate's `STANDARD` engine does.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a test fails loudly on unexpected input"
)]

use std::sync::Arc;

use crate::backend_key::BackendKey;
use crate::buffer::Bytes;

use crate::backend::{
    Authentication, BackendMessage, CopyResponse, DataRow, FieldDescription, RowDescription,
    TransactionStatus,
};
use crate::error_fields::ErrorFields;
use crate::frame::{Frame, FrameReader};
use crate::frontend::{self, EncodeError, Target};
use crate::limits::Limits;
use crate::query::{ExtendedQuery, QueryEvent, Sent, SimpleQuery};
use crate::startup::{Startup, StartupConfig, StartupError, Step};
use crate::ProtocolError;

/// SplitMix64: tiny, fast, and good enough to spread test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n).unwrap()).unwrap()
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.next().to_be_bytes()[..4].try_into().unwrap())
    }

    fn i32(&mut self) -> i32 {
        i32::from_be_bytes(self.u32().to_be_bytes())
    }

    fn i16(&mut self) -> i16 {
        i16::from_be_bytes(self.u32().to_be_bytes()[..2].try_into().unwrap())
    }

    /// A small length, now and then 0 or a larger one.
    fn len(&mut self) -> usize {
        match self.below(10) {
            0 => 0,
            1 => self.below(300),
            _ => self.below(12),
        }
    }

    fn bytes(&mut self) -> Vec<u8> {
        let n = self.len();
        (0..n).map(|_| self.next().to_be_bytes()[0]).collect()
    }

    /// Bytes without a NUL.
    fn bytes_no_nul(&mut self) -> Vec<u8> {
        self.bytes()
            .into_iter()
            .map(|b| if b == 0 { 1 } else { b })
            .collect()
    }

    /// A valid UTF-8 string without NUL, mixing ASCII, multi-byte and control characters.
    fn string(&mut self) -> String {
        const POOL: &[char] = &[
            'a', 'z', 'A', 'Q', '0', '9', ' ', '\'', '"', '\\', ',', '=', '\n', '\t', '\u{1}',
            '\u{7f}', 'é', 'ß', '€', '日', '😀',
        ];
        let n = self.len();
        (0..n).map(|_| POOL[self.below(POOL.len())]).collect()
    }

    fn non_empty_string(&mut self) -> String {
        let mut s = self.string();
        if s.is_empty() {
            s.push('m');
        }
        s
    }

    fn opt_bytes(&mut self) -> Option<Vec<u8>> {
        (!self.chance(4)).then(|| self.bytes())
    }

    fn target(&mut self) -> Target {
        if self.chance(2) {
            Target::Statement
        } else {
            Target::Portal
        }
    }

    fn vec<T>(&mut self, mut f: impl FnMut(&mut Self) -> T) -> Vec<T> {
        let n = self.len().min(40);
        (0..n).map(|_| f(self)).collect()
    }
}

// ---------------------------------------------------------------------------------------
// Frontend messages

/// A frontend message with owned inputs: what the encoders are called with.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fe {
    Startup(Vec<(String, String)>),
    Password(Vec<u8>),
    SaslInitial(String, Option<Vec<u8>>),
    SaslResponse(Vec<u8>),
    Query(String),
    Parse(String, String, Vec<u32>),
    Bind {
        portal: String,
        statement: String,
        param_formats: Vec<i16>,
        params: Vec<Option<Vec<u8>>>,
        result_formats: Vec<i16>,
    },
    Describe(Target, String),
    Execute(String, i32),
    Close(Target, String),
    Sync,
    Flush,
    CopyData(Vec<u8>),
    CopyDone,
    CopyFail(String),
    /// Process id and a 4..=256-byte key.
    Cancel(i32, Vec<u8>),
    Ssl,
    Gssenc,
    Terminate,
}

const FE_KINDS: usize = 19;

fn random_fe(rng: &mut Rng) -> Fe {
    match rng.below(FE_KINDS) {
        0 => Fe::Startup(rng.vec(|r| (r.non_empty_string(), r.string()))),
        1 => Fe::Password(rng.bytes_no_nul()),
        2 => Fe::SaslInitial(rng.string(), rng.opt_bytes()),
        3 => Fe::SaslResponse(rng.bytes()),
        4 => Fe::Query(rng.string()),
        5 => Fe::Parse(rng.string(), rng.string(), rng.vec(Rng::u32)),
        6 => Fe::Bind {
            portal: rng.string(),
            statement: rng.string(),
            param_formats: rng.vec(Rng::i16),
            params: rng.vec(Rng::opt_bytes),
            result_formats: rng.vec(Rng::i16),
        },
        7 => Fe::Describe(rng.target(), rng.string()),
        8 => Fe::Execute(rng.string(), rng.i32()),
        9 => Fe::Close(rng.target(), rng.string()),
        10 => Fe::Sync,
        11 => Fe::Flush,
        12 => Fe::CopyData(rng.bytes()),
        13 => Fe::CopyDone,
        14 => Fe::CopyFail(rng.string()),
        15 => {
            let mut key = rng.bytes();
            key.resize(4 + rng.below(253), 0x5A);
            Fe::Cancel(rng.i32(), key)
        }
        16 => Fe::Ssl,
        17 => Fe::Gssenc,
        _ => Fe::Terminate,
    }
}

/// Calls the real encoder for `m`.
fn encode_fe(m: &Fe, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    match m {
        Fe::Startup(params) => {
            let params: Vec<(&str, &str)> = params
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            frontend::startup(&params, out)
        }
        Fe::Password(p) => frontend::password(p, out),
        Fe::SaslInitial(mechanism, Some(data)) => {
            frontend::sasl_initial_response(mechanism, data, out)
        }
        Fe::SaslInitial(mechanism, None) => {
            frontend::sasl_initial_response_without_data(mechanism, out)
        }
        Fe::SaslResponse(data) => frontend::sasl_response(data, out),
        Fe::Query(sql) => frontend::query(sql, out),
        Fe::Parse(name, sql, types) => frontend::parse(name, sql, types, out),
        Fe::Bind {
            portal,
            statement,
            param_formats,
            params,
            result_formats,
        } => {
            let params: Vec<Option<&[u8]>> = params.iter().map(|p| p.as_deref()).collect();
            frontend::bind(
                portal,
                statement,
                param_formats,
                &params,
                result_formats,
                out,
            )
        }
        Fe::Describe(target, name) => frontend::describe(*target, name, out),
        Fe::Execute(portal, max_rows) => frontend::execute(portal, *max_rows, out),
        Fe::Close(target, name) => frontend::close(*target, name, out),
        Fe::Sync => {
            frontend::sync(out);
            Ok(())
        }
        Fe::Flush => {
            frontend::flush(out);
            Ok(())
        }
        Fe::CopyData(data) => frontend::copy_data(data, out),
        Fe::CopyDone => {
            frontend::copy_done(out);
            Ok(())
        }
        Fe::CopyFail(text) => frontend::copy_fail(text, out),
        Fe::Cancel(pid, key) => frontend::cancel_request(&BackendKey::new(*pid, key).unwrap(), out),
        Fe::Ssl => {
            frontend::ssl_request(out);
            Ok(())
        }
        Fe::Gssenc => {
            frontend::gssenc_request(out);
            Ok(())
        }
        Fe::Terminate => {
            frontend::terminate(out);
            Ok(())
        }
    }
}

/// Reads a frontend message body, as a server would.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        assert!(
            self.0.len() >= n,
            "body too short: want {n}, have {}",
            self.0.len()
        );
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        head
    }

    fn u8(&mut self) -> u8 {
        self.take(1)[0]
    }

    fn i16(&mut self) -> i16 {
        i16::from_be_bytes(self.take(2).try_into().unwrap())
    }

    fn i32(&mut self) -> i32 {
        i32::from_be_bytes(self.take(4).try_into().unwrap())
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.take(4).try_into().unwrap())
    }

    fn count(&mut self) -> usize {
        usize::try_from(self.i16()).unwrap()
    }

    fn cstr_bytes(&mut self) -> Vec<u8> {
        let at = self
            .0
            .iter()
            .position(|&b| b == 0)
            .expect("a NUL terminator");
        let s = self.take(at).to_vec();
        assert_eq!(self.u8(), 0);
        s
    }

    fn cstr(&mut self) -> String {
        String::from_utf8(self.cstr_bytes()).unwrap()
    }

    fn target(&mut self) -> Target {
        match self.u8() {
            b'S' => Target::Statement,
            b'P' => Target::Portal,
            other => panic!("bad Describe/Close target {other}"),
        }
    }

    fn rest(&mut self) -> Vec<u8> {
        let rest = self.0.to_vec();
        self.0 = &[];
        rest
    }

    fn length_prefixed(&mut self) -> Option<Vec<u8>> {
        match self.i32() {
            -1 => None,
            n => Some(self.take(usize::try_from(n).unwrap()).to_vec()),
        }
    }
}

/// Decodes one message from the start of `wire`; `like` says which message it must be
/// (three messages share the tag `p`). Returns the message and the bytes it took.
fn decode_fe(like: &Fe, wire: &[u8]) -> (Fe, usize) {
    let untagged = matches!(like, Fe::Startup(_) | Fe::Cancel(..) | Fe::Ssl | Fe::Gssenc);
    let (tag, len_at) = if untagged {
        (None, 0)
    } else {
        (Some(wire[0]), 1)
    };
    let len = usize::try_from(i32::from_be_bytes(
        wire[len_at..len_at + 4].try_into().unwrap(),
    ))
    .unwrap();
    assert!(len >= 4);
    let total = len_at + len;
    let mut c = Cursor(&wire[len_at + 4..total]);
    let expect_tag = |t: u8| assert_eq!(tag, Some(t), "tag of {like:?}");
    let msg = match like {
        Fe::Startup(_) => {
            assert_eq!(c.i32(), frontend::PROTOCOL_VERSION_3_0);
            let mut params = Vec::new();
            loop {
                let name = c.cstr();
                if name.is_empty() {
                    break;
                }
                params.push((name, c.cstr()));
            }
            Fe::Startup(params)
        }
        Fe::Cancel(..) => {
            assert!((16..=268).contains(&len));
            assert_eq!(c.i32(), frontend::CANCEL_REQUEST_CODE);
            Fe::Cancel(c.i32(), c.take(len - 12).to_vec())
        }
        Fe::Ssl => {
            assert_eq!(len, 8);
            assert_eq!(c.i32(), frontend::SSL_REQUEST_CODE);
            Fe::Ssl
        }
        Fe::Gssenc => {
            assert_eq!(len, 8);
            assert_eq!(c.i32(), frontend::GSSENC_REQUEST_CODE);
            Fe::Gssenc
        }
        Fe::Password(_) => {
            expect_tag(b'p');
            Fe::Password(c.cstr_bytes())
        }
        Fe::SaslInitial(..) => {
            expect_tag(b'p');
            Fe::SaslInitial(c.cstr(), c.length_prefixed())
        }
        Fe::SaslResponse(_) => {
            expect_tag(b'p');
            Fe::SaslResponse(c.rest())
        }
        Fe::Query(_) => {
            expect_tag(b'Q');
            Fe::Query(c.cstr())
        }
        Fe::Parse(..) => {
            expect_tag(b'P');
            let name = c.cstr();
            let sql = c.cstr();
            let n = c.count();
            Fe::Parse(name, sql, (0..n).map(|_| c.u32()).collect())
        }
        Fe::Bind { .. } => {
            expect_tag(b'B');
            let portal = c.cstr();
            let statement = c.cstr();
            let n = c.count();
            let param_formats = (0..n).map(|_| c.i16()).collect();
            let n = c.count();
            let params = (0..n).map(|_| c.length_prefixed()).collect();
            let n = c.count();
            let result_formats = (0..n).map(|_| c.i16()).collect();
            Fe::Bind {
                portal,
                statement,
                param_formats,
                params,
                result_formats,
            }
        }
        Fe::Describe(..) => {
            expect_tag(b'D');
            Fe::Describe(c.target(), c.cstr())
        }
        Fe::Execute(..) => {
            expect_tag(b'E');
            Fe::Execute(c.cstr(), c.i32())
        }
        Fe::Close(..) => {
            expect_tag(b'C');
            Fe::Close(c.target(), c.cstr())
        }
        Fe::Sync => {
            expect_tag(b'S');
            Fe::Sync
        }
        Fe::Flush => {
            expect_tag(b'H');
            Fe::Flush
        }
        Fe::CopyData(_) => {
            expect_tag(b'd');
            Fe::CopyData(c.rest())
        }
        Fe::CopyDone => {
            expect_tag(b'c');
            Fe::CopyDone
        }
        Fe::CopyFail(_) => {
            expect_tag(b'f');
            Fe::CopyFail(c.cstr())
        }
        Fe::Terminate => {
            expect_tag(b'X');
            Fe::Terminate
        }
    };
    assert!(c.0.is_empty(), "{} bytes left in {like:?}", c.0.len());
    (msg, total)
}

/// Puts a NUL into one of the NUL-terminated strings of `m`; false if it has none.
fn poison(m: &mut Fe, rng: &mut Rng) -> bool {
    fn put(s: &mut String, rng: &mut Rng) {
        let mut at = rng.below(s.len() + 1);
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        s.insert(at, '\0');
    }
    match m {
        Fe::Startup(params) if !params.is_empty() => {
            let i = rng.below(params.len());
            let (name, value) = &mut params[i];
            if rng.chance(4) {
                // An empty name is refused too (it would end the list).
                name.clear();
                return true;
            }
            put(if rng.chance(2) { name } else { value }, rng);
        }
        Fe::Password(p) => p.insert(rng.below(p.len() + 1), 0),
        Fe::SaslInitial(s, _)
        | Fe::Query(s)
        | Fe::Describe(_, s)
        | Fe::Execute(s, _)
        | Fe::Close(_, s)
        | Fe::CopyFail(s) => put(s, rng),
        Fe::Parse(name, sql, _) => put(if rng.chance(2) { name } else { sql }, rng),
        Fe::Bind {
            portal, statement, ..
        } => put(if rng.chance(2) { portal } else { statement }, rng),
        _ => return false,
    }
    true
}

#[test]
fn frontend_encoders_round_trip_through_a_server_side_decoder() {
    let mut rng = Rng(0x5EED_F00D);
    let mut seen = [0usize; FE_KINDS];
    let mut stream = Vec::new();
    let mut sent = Vec::new();
    for _ in 0..20_000 {
        let m = random_fe(&mut rng);
        // Something already in the buffer stays untouched.
        let prefix = rng.bytes();
        let mut out = prefix.clone();
        encode_fe(&m, &mut out).unwrap();
        assert_eq!(out[..prefix.len()], prefix[..]);
        let (back, used) = decode_fe(&m, &out[prefix.len()..]);
        assert_eq!(back, m);
        assert_eq!(
            prefix.len() + used,
            out.len(),
            "only the message is appended"
        );
        // A second encoding is the same bytes.
        let mut again = Vec::new();
        encode_fe(&back, &mut again).unwrap();
        assert_eq!(again[..], out[prefix.len()..]);
        seen[match &m {
            Fe::Startup(_) => 0,
            Fe::Password(_) => 1,
            Fe::SaslInitial(..) => 2,
            Fe::SaslResponse(_) => 3,
            Fe::Query(_) => 4,
            Fe::Parse(..) => 5,
            Fe::Bind { .. } => 6,
            Fe::Describe(..) => 7,
            Fe::Execute(..) => 8,
            Fe::Close(..) => 9,
            Fe::Sync => 10,
            Fe::Flush => 11,
            Fe::CopyData(_) => 12,
            Fe::CopyDone => 13,
            Fe::CopyFail(_) => 14,
            Fe::Cancel(..) => 15,
            Fe::Ssl => 16,
            Fe::Gssenc => 17,
            Fe::Terminate => 18,
        }] += 1;
        if sent.len() < 500 {
            stream.extend_from_slice(&out[prefix.len()..]);
            sent.push(m);
        }
    }
    assert!(seen.iter().all(|&n| n > 500), "every kind drawn: {seen:?}");
    // Messages written back to back decode in order.
    let mut at = 0;
    for m in &sent {
        let (back, used) = decode_fe(m, &stream[at..]);
        assert_eq!(&back, m);
        at += used;
    }
    assert_eq!(at, stream.len());
}

#[test]
fn frontend_encoders_refuse_a_nul_or_an_empty_name_and_write_nothing() {
    let mut rng = Rng(0xBAD_0000);
    let mut refused = 0;
    for _ in 0..20_000 {
        let mut m = random_fe(&mut rng);
        if !poison(&mut m, &mut rng) {
            continue;
        }
        let prefix = rng.bytes();
        let mut out = prefix.clone();
        let err = encode_fe(&m, &mut out).unwrap_err();
        match err {
            EncodeError::ContainsNul { .. } => {
                assert!(err.to_string().ends_with(" contains a NUL byte"));
            }
            EncodeError::EmptyName { .. } => {
                assert_eq!(err.to_string(), "the startup parameter name is empty");
            }
            _ => panic!("{m:?}: {err:?}"),
        }
        assert_eq!(out, prefix, "{m:?}");
        refused += 1;
    }
    assert!(refused > 10_000, "{refused}");
}

#[test]
fn frontend_counts_over_i16_are_refused_and_write_nothing() {
    let oids = vec![23u32; 32_768];
    let mut out = b"kept".to_vec();
    assert_eq!(
        frontend::parse("", "select", &oids, &mut out),
        Err(EncodeError::TooMany {
            what: "parameter types"
        })
    );
    assert_eq!(out, b"kept");
    // One fewer fits, and decodes back.
    frontend::parse("", "select", &oids[1..], &mut out).unwrap();
    let m = Fe::Parse(String::new(), "select".to_owned(), oids[1..].to_vec());
    assert_eq!(decode_fe(&m, &out[4..]), (m, out.len() - 4));

    let formats = vec![1i16; 32_768];
    let params = vec![None; 32_768];
    for (pf, p, rf, what) in [
        (
            &formats[..],
            &params[..1],
            &formats[..1],
            "parameter formats",
        ),
        (&formats[..1], &params[..], &formats[..1], "parameters"),
        (&formats[..1], &params[..1], &formats[..], "result formats"),
    ] {
        let mut out = b"kept".to_vec();
        assert_eq!(
            frontend::bind("", "", pf, p, rf, &mut out),
            Err(EncodeError::TooMany { what })
        );
        assert_eq!(out, b"kept");
    }
}

// ---------------------------------------------------------------------------------------
// Backend messages

/// Authentication codes with a variant of their own.
const KNOWN_AUTH_CODES: &[u32] = &[0, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12];

/// Field codes with a slot of their own in [`ErrorFields`].
const KNOWN_FIELD_CODES: &[u8] = b"SVCMDHPpqWstcdnFLR";

fn random_error_fields(rng: &mut Rng, is_notice: bool) -> ErrorFields {
    let mut f = ErrorFields {
        is_notice,
        ..ErrorFields::default()
    };
    let slots = [
        &mut f.severity,
        &mut f.severity_nonlocalized,
        &mut f.code,
        &mut f.message,
        &mut f.detail,
        &mut f.hint,
        &mut f.position,
        &mut f.internal_position,
        &mut f.internal_query,
        &mut f.context,
        &mut f.schema,
        &mut f.table,
        &mut f.column,
        &mut f.data_type,
        &mut f.constraint,
        &mut f.file,
        &mut f.line,
        &mut f.routine,
    ];
    for slot in slots {
        if rng.chance(2) {
            *slot = Some(rng.string());
        }
    }
    for _ in 0..rng.below(3) {
        let mut code = rng.next().to_be_bytes()[0];
        while code == 0 || KNOWN_FIELD_CODES.contains(&code) {
            code = code.wrapping_add(1);
        }
        f.other.push((code, rng.string()));
    }
    f
}

fn random_auth(rng: &mut Rng) -> Authentication {
    match rng.below(13) {
        0 => Authentication::Ok,
        1 => Authentication::KerberosV5,
        2 => Authentication::CleartextPassword,
        3 => Authentication::Md5Password {
            salt: rng.u32().to_be_bytes(),
        },
        4 => Authentication::ScmCredential,
        5 => Authentication::Gss,
        6 => Authentication::GssContinue(Bytes::from(rng.bytes())),
        7 => Authentication::Sspi,
        8 => Authentication::Sasl(rng.vec(Rng::non_empty_string)),
        9 => Authentication::SaslContinue(Bytes::from(rng.bytes())),
        10 => Authentication::SaslFinal(Bytes::from(rng.bytes())),
        _ => {
            let mut code = rng.u32() % 40;
            while KNOWN_AUTH_CODES.contains(&code) {
                code = rng.u32();
            }
            Authentication::Other(code)
        }
    }
}

fn random_copy_response(rng: &mut Rng) -> CopyResponse {
    CopyResponse {
        format: i8::from_be_bytes([rng.next().to_be_bytes()[0]]),
        column_formats: rng.vec(Rng::i16),
    }
}

const BE_KINDS: usize = 24;

fn random_be(rng: &mut Rng) -> BackendMessage {
    match rng.below(BE_KINDS) {
        0 => BackendMessage::Authentication(random_auth(rng)),
        1 => BackendMessage::BackendKeyData {
            process_id: rng.i32(),
            secret_key: Bytes::from(rng.bytes()),
        },
        2 => BackendMessage::BindComplete,
        3 => BackendMessage::CloseComplete,
        4 => BackendMessage::CommandComplete(rng.string()),
        5 => {
            // Now and then longer than the 30 000 bytes a short type may have.
            let mut data = rng.bytes();
            if rng.chance(50) {
                data.resize(30_001 + rng.below(5_000), 0xA5);
            }
            BackendMessage::CopyData(Bytes::from(data))
        }
        6 => BackendMessage::CopyDone,
        7 => BackendMessage::CopyInResponse(random_copy_response(rng)),
        8 => BackendMessage::CopyOutResponse(random_copy_response(rng)),
        9 => BackendMessage::CopyBothResponse(random_copy_response(rng)),
        10 => {
            let values = rng.vec(Rng::opt_bytes);
            let values: Vec<Option<&[u8]>> = values.iter().map(|v| v.as_deref()).collect();
            BackendMessage::DataRow(DataRow::from_values(&values).unwrap())
        }
        11 => BackendMessage::EmptyQueryResponse,
        12 => BackendMessage::ErrorResponse(random_error_fields(rng, false)),
        13 => BackendMessage::FunctionCallResponse(rng.opt_bytes().map(Bytes::from)),
        14 => BackendMessage::NegotiateProtocolVersion {
            newest_minor: rng.i32(),
            unrecognized: rng.vec(Rng::string),
        },
        15 => BackendMessage::NoData,
        16 => BackendMessage::NoticeResponse(random_error_fields(rng, true)),
        17 => BackendMessage::NotificationResponse {
            process_id: rng.i32(),
            channel: rng.string(),
            payload: rng.string(),
        },
        18 => BackendMessage::ParameterDescription(rng.vec(Rng::u32)),
        19 => BackendMessage::ParameterStatus {
            name: rng.string(),
            value: rng.string(),
        },
        20 => BackendMessage::ParseComplete,
        21 => BackendMessage::PortalSuspended,
        22 => BackendMessage::ReadyForQuery(
            [
                TransactionStatus::Idle,
                TransactionStatus::InTransaction,
                TransactionStatus::Failed,
            ][rng.below(3)],
        ),
        _ => BackendMessage::RowDescription(random_description(rng)),
    }
}

fn random_description(rng: &mut Rng) -> RowDescription {
    RowDescription {
        fields: rng.vec(|r| FieldDescription {
            name: r.string(),
            table_oid: r.u32(),
            column_id: r.i16(),
            type_oid: r.u32(),
            type_size: r.i16(),
            type_modifier: r.i32(),
            format: r.i16(),
        }),
    }
}

fn all_frames(reader: &mut FrameReader) -> Result<Vec<Frame>, ProtocolError> {
    let mut out = Vec::new();
    while let Some(frame) = reader.next_frame()? {
        out.push(frame);
    }
    Ok(out)
}

#[test]
fn backend_messages_round_trip_through_the_frame_reader_and_parse() {
    let mut rng = Rng(0x0BAC_CE4D);
    let mut tags = std::collections::BTreeSet::new();
    let mut stream = Vec::new();
    let mut sent = Vec::new();
    for _ in 0..20_000 {
        let m = random_be(&mut rng);
        let mut wire = Vec::new();
        m.encode(&mut wire).unwrap();
        assert_eq!(wire[0], m.tag());
        let mut reader = FrameReader::new(Limits::default());
        reader.extend_from_slice(&wire);
        let frame = reader.next_frame().unwrap().unwrap();
        assert_eq!(reader.buffered(), 0, "one frame per message: {m:?}");
        let back = BackendMessage::parse(&frame).unwrap();
        assert_eq!(back, m);
        let mut again = Vec::new();
        back.encode(&mut again).unwrap();
        assert_eq!(again, wire);
        tags.insert(m.tag());
        if sent.len() < 2_000 {
            stream.extend_from_slice(&wire);
            sent.push(m);
        }
    }
    assert_eq!(tags.len(), BE_KINDS, "every message drawn");
    // Back to back, the stream decodes to the same messages in order.
    let mut reader = FrameReader::new(Limits::default());
    reader.extend_from_slice(&stream);
    let back: Vec<BackendMessage> = all_frames(&mut reader)
        .unwrap()
        .iter()
        .map(|f| BackendMessage::parse(f).unwrap())
        .collect();
    assert_eq!(back, sent);
    assert_eq!(reader.buffered(), 0);
}

#[test]
fn backend_encode_refuses_what_it_cannot_say_and_writes_nothing() {
    let cases = [
        BackendMessage::CommandComplete("SELECT\0 1".to_owned()),
        BackendMessage::Authentication(Authentication::Sasl(vec![String::new()])),
        BackendMessage::ErrorResponse(ErrorFields {
            other: vec![(0, "x".to_owned())],
            ..ErrorFields::default()
        }),
        BackendMessage::ParameterDescription(vec![0; 65_536]),
    ];
    for m in cases {
        let mut out = b"kept".to_vec();
        assert!(m.encode(&mut out).is_err(), "{m:?}");
        assert_eq!(out, b"kept");
    }
}

// ---------------------------------------------------------------------------------------
// Frame reader chunking

/// What a reader made of a stream: the frames, then the error or the bytes left over.
type Outcome = (Vec<Frame>, Result<usize, ProtocolError>);

/// Feeds `stream` in chunks whose sizes `sizes` draws, draining after each chunk; checks
/// that memory stays bounded by the bytes received.
fn feed(limits: Limits, stream: &[u8], mut sizes: impl FnMut() -> usize) -> Outcome {
    let mut reader = FrameReader::new(limits);
    let mut frames = Vec::new();
    let mut rest = stream;
    let mut received = 0usize;
    loop {
        let (chunk, tail) = rest.split_at(sizes().min(rest.len()));
        rest = tail;
        received += chunk.len();
        if rest.len() % 2 == 0 {
            crate::fuzzing::receive(&mut reader, chunk);
        } else {
            reader.extend_from_slice(chunk);
        }
        loop {
            match reader.next_frame() {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(err) => {
                    assert_eq!(reader.buffered(), 0);
                    return (frames, Err(err));
                }
            }
        }
        assert!(reader.capacity() <= 2 * (received + FrameReader::READ_CHUNK));
        if rest.is_empty() {
            return (frames, Ok(reader.buffered()));
        }
    }
}

/// A stream of pieces that look like frames: real tags and lengths, now and then a bad
/// length word, a huge claimed length, or random bytes.
fn random_stream(rng: &mut Rng) -> Vec<u8> {
    const TAGS: &[u8] = b"R K23CdcGHWDIEVvnNAtS1sZTXp\0\xff";
    let mut s = Vec::new();
    for _ in 0..rng.below(30) {
        match rng.below(20) {
            0 => s.extend(rng.bytes()),
            1 => {
                s.push(TAGS[rng.below(TAGS.len())]);
                s.extend_from_slice(&rng.i32().to_be_bytes());
            }
            2 => {
                s.push(TAGS[rng.below(TAGS.len())]);
                s.extend_from_slice(&i32::try_from(rng.below(5)).unwrap().to_be_bytes());
            }
            _ => {
                let body = rng.bytes();
                s.push(TAGS[rng.below(TAGS.len())]);
                s.extend_from_slice(&i32::try_from(body.len() + 4).unwrap().to_be_bytes());
                s.extend_from_slice(&body);
            }
        }
    }
    if rng.chance(3) {
        // A truncated tail.
        let cut = rng.below(s.len() + 1);
        s.truncate(cut);
    }
    s
}

#[test]
fn any_chunking_gives_the_same_frames_and_ending_as_one_piece() {
    let mut rng = Rng(0xC4_0C4_0C4);
    let mut errors = 0;
    let mut frames_seen = 0;
    for i in 0..5_000 {
        let stream = random_stream(&mut rng);
        let limits = if i % 4 == 0 {
            Limits {
                max_long_message_len: 4 + u32::try_from(rng.below(64)).unwrap(),
                ..Limits::default()
            }
        } else {
            Limits::default()
        };
        let whole = feed(limits, &stream, || usize::MAX);
        let byte_by_byte = feed(limits, &stream, || 1);
        assert_eq!(byte_by_byte, whole, "byte by byte: {stream:?}");
        let mut chunk_rng = Rng(rng.next());
        let random = feed(limits, &stream, || 1 + chunk_rng.below(40));
        assert_eq!(random, whole, "random chunks: {stream:?}");
        // The frames account for the stream up to the error or the leftover bytes.
        let used: usize = whole.0.iter().map(|f| 5 + f.body.len()).sum();
        match &whole.1 {
            Ok(left) => assert_eq!(used + left, stream.len()),
            Err(_) => {
                assert!(used + 5 <= stream.len());
                errors += 1;
            }
        }
        frames_seen += whole.0.len();
    }
    // Both endings and plenty of frames were exercised.
    assert!(errors > 500 && errors < 4_500, "{errors} errors");
    assert!(frames_seen > 10_000, "{frames_seen} frames");
}

// ---------------------------------------------------------------------------------------
// Startup framing

/// A server's first bytes: pre-3.0 error texts, `R`/`E` headers with any length word,
/// garbage, random messages, and complete trust startups.
fn random_startup_stream(rng: &mut Rng) -> Vec<u8> {
    fn put(m: BackendMessage, s: &mut Vec<u8>) {
        // A refused message writes nothing.
        let _ = m.encode(s);
    }
    let mut s = Vec::new();
    for _ in 0..1 + rng.below(5) {
        match rng.below(12) {
            0 => {
                s.push(b'E');
                s.extend(rng.bytes_no_nul());
                if !rng.chance(4) {
                    s.push(0);
                }
            }
            1 => {
                s.push(if rng.chance(2) { b'R' } else { b'E' });
                s.extend_from_slice(&rng.i32().to_be_bytes());
            }
            2 => s.extend(random_stream(rng)),
            3 => put(
                BackendMessage::ErrorResponse(random_error_fields(rng, false)),
                &mut s,
            ),
            4 => put(BackendMessage::Authentication(random_auth(rng)), &mut s),
            5 => put(random_be(rng), &mut s),
            _ => {
                put(BackendMessage::Authentication(Authentication::Ok), &mut s);
                for _ in 0..rng.below(4) {
                    let (name, value) = (rng.string(), rng.string());
                    put(BackendMessage::ParameterStatus { name, value }, &mut s);
                }
                put(
                    BackendMessage::ReadyForQuery(TransactionStatus::Idle),
                    &mut s,
                );
            }
        }
    }
    s
}

/// [`Startup::next_frame`] on random server streams: the `startup` fuzz harness's
/// invariants (any chunking gives the same replies and ending, refusals before
/// authentication are libpq's for the bytes there), and every frame it gives is the one
/// the plain frame reader cuts at that point.
#[test]
fn startup_framing_is_libpqs_for_any_stream_and_chunking() {
    let mut rng = Rng(0x57A2_7F2A);
    // Pre-3.0 texts, refused types or lengths, Done, other endings.
    let mut endings = [0usize; 4];
    for _ in 0..3_000 {
        let stream = random_startup_stream(&mut rng);
        let mut data = vec![rng.next().to_be_bytes()[0]];
        data.extend_from_slice(&stream);
        crate::fuzzing::startup(&data);

        let mut config = StartupConfig::new("u");
        config.password = Some(b"pw".to_vec());
        config.limits.max_scram_iterations = 16;
        let mut m = Startup::new(config);
        m.start(&mut Vec::new()).unwrap();
        let mut reader = FrameReader::new(Limits::default());
        reader.extend_from_slice(&stream);
        let mut plain = FrameReader::new(Limits::default());
        plain.extend_from_slice(&stream);
        let ending = loop {
            match m.next_frame(&mut reader) {
                Ok(Some(frame)) => {
                    assert_eq!(plain.next_frame(), Ok(Some(frame.clone())));
                    let mut step = m.handle(frame, &mut Vec::new());
                    if let Ok(Step::Nonce) = step {
                        step = m.handle_nonce([0; 18], &mut Vec::new());
                    }
                    match step {
                        Ok(Step::Continue | Step::Nonce) => {}
                        Ok(Step::Done(_)) => break 2,
                        Err(_) => break 3,
                    }
                }
                Ok(None) => break 3,
                Err(StartupError::PreV3Error(_)) => break 0,
                Err(StartupError::Protocol(ProtocolError::ExpectedAuthRequest { .. })) => break 1,
                Err(_) => break 3,
            }
        };
        endings[ending] += 1;
    }
    assert!(endings.iter().all(|&n| n > 150), "{endings:?}");
}

// ---------------------------------------------------------------------------------------
// Query machines

/// A message the server may send at any point of a query, with its event.
fn random_async(rng: &mut Rng) -> (BackendMessage, QueryEvent) {
    match rng.below(3) {
        0 => {
            let fields = random_error_fields(rng, true);
            (
                BackendMessage::NoticeResponse(fields.clone()),
                QueryEvent::Notice(Box::new(fields)),
            )
        }
        1 => {
            let (name, value) = (rng.string(), rng.string());
            (
                BackendMessage::ParameterStatus {
                    name: name.clone(),
                    value: value.clone(),
                },
                QueryEvent::ParameterStatus { name, value },
            )
        }
        _ => {
            let (process_id, channel, payload) = (rng.i32(), rng.string(), rng.string());
            (
                BackendMessage::NotificationResponse {
                    process_id,
                    channel: channel.clone(),
                    payload: payload.clone(),
                },
                QueryEvent::Notification {
                    process_id,
                    channel,
                    payload,
                },
            )
        }
    }
}

/// A server reply and the events a machine must turn it into, one per message.
#[derive(Default)]
struct Reply(Vec<(BackendMessage, QueryEvent)>);

impl Reply {
    /// Appends a message, with now and then an asynchronous one before it.
    fn push(&mut self, rng: &mut Rng, msg: BackendMessage, event: QueryEvent) {
        while rng.chance(8) {
            self.0.push(random_async(rng));
        }
        self.0.push((msg, event));
    }

    fn description(&mut self, rng: &mut Rng) -> usize {
        let d = random_description(rng);
        let columns = d.fields.len();
        self.push(
            rng,
            BackendMessage::RowDescription(d.clone()),
            QueryEvent::RowDescription(Arc::new(d)),
        );
        columns
    }

    fn rows(&mut self, rng: &mut Rng, columns: usize) {
        for _ in 0..rng.below(5) {
            let values: Vec<Option<Vec<u8>>> = (0..columns).map(|_| rng.opt_bytes()).collect();
            let values: Vec<Option<&[u8]>> = values.iter().map(|v| v.as_deref()).collect();
            let row = DataRow::from_values(&values).unwrap();
            self.push(
                rng,
                BackendMessage::DataRow(row.clone()),
                QueryEvent::Row(row),
            );
        }
    }

    fn command_complete(&mut self, rng: &mut Rng) {
        let tag = rng.string();
        self.push(
            rng,
            BackendMessage::CommandComplete(tag.clone()),
            QueryEvent::CommandComplete(tag.into()),
        );
    }

    /// An ErrorResponse, then (as a server may still have them in flight) rows and
    /// descriptions that are discarded.
    fn error(&mut self, rng: &mut Rng) {
        let fields = random_error_fields(rng, false);
        self.push(
            rng,
            BackendMessage::ErrorResponse(fields.clone()),
            QueryEvent::Error(Box::new(fields)),
        );
        for _ in 0..rng.below(3) {
            let row = DataRow::from_values(&[Some(b"late")]).unwrap();
            self.push(
                rng,
                BackendMessage::DataRow(row),
                QueryEvent::Discarded(b'D'),
            );
        }
    }

    fn ready(&mut self, rng: &mut Rng) {
        let status = [
            TransactionStatus::Idle,
            TransactionStatus::InTransaction,
            TransactionStatus::Failed,
        ][rng.below(3)];
        self.push(
            rng,
            BackendMessage::ReadyForQuery(status),
            QueryEvent::Ready(status),
        );
    }
}

/// A valid reply to a simple query of several statements.
fn random_simple_reply(rng: &mut Rng) -> Reply {
    let mut reply = Reply::default();
    for _ in 0..rng.below(4) {
        match rng.below(4) {
            0 => {
                let columns = reply.description(rng);
                reply.rows(rng, columns);
                reply.command_complete(rng);
            }
            1 => reply.command_complete(rng),
            2 => reply.push(
                rng,
                BackendMessage::EmptyQueryResponse,
                QueryEvent::EmptyQuery,
            ),
            _ => {
                let r = random_copy_response(rng);
                reply.push(
                    rng,
                    BackendMessage::CopyOutResponse(r.clone()),
                    QueryEvent::CopyOut(r),
                );
                for _ in 0..rng.below(4) {
                    let data = Bytes::from(rng.bytes());
                    reply.push(
                        rng,
                        BackendMessage::CopyData(data.clone()),
                        QueryEvent::CopyData(data),
                    );
                }
                reply.push(rng, BackendMessage::CopyDone, QueryEvent::CopyDone);
                reply.command_complete(rng);
            }
        }
    }
    if rng.chance(3) {
        reply.error(rng);
    }
    reply.ready(rng);
    reply
}

/// A random extended-protocol batch and a valid reply to it (and its Sync).
fn random_extended_reply(rng: &mut Rng) -> (Vec<Sent>, Reply) {
    const KINDS: [Sent; 6] = [
        Sent::Parse,
        Sent::Bind,
        Sent::DescribeStatement,
        Sent::DescribePortal,
        Sent::Execute,
        Sent::Close,
    ];
    let sent: Vec<Sent> = (0..1 + rng.below(6))
        .map(|_| KINDS[rng.below(KINDS.len())])
        .collect();
    let fail_at = rng.chance(3).then(|| rng.below(sent.len() + 1));
    let mut reply = Reply::default();
    let mut columns = None;
    for (i, s) in sent.iter().enumerate() {
        if fail_at == Some(i) {
            break;
        }
        match s {
            Sent::Parse => reply.push(
                rng,
                BackendMessage::ParseComplete,
                QueryEvent::ParseComplete,
            ),
            Sent::Bind => reply.push(rng, BackendMessage::BindComplete, QueryEvent::BindComplete),
            Sent::Close => reply.push(
                rng,
                BackendMessage::CloseComplete,
                QueryEvent::CloseComplete,
            ),
            Sent::DescribeStatement | Sent::DescribePortal => {
                if *s == Sent::DescribeStatement {
                    let oids = rng.vec(Rng::u32);
                    reply.push(
                        rng,
                        BackendMessage::ParameterDescription(oids.clone()),
                        QueryEvent::ParameterDescription(oids),
                    );
                }
                if rng.chance(3) {
                    reply.push(rng, BackendMessage::NoData, QueryEvent::NoData);
                    columns = None;
                } else {
                    columns = Some(reply.description(rng));
                }
            }
            Sent::Execute => {
                if let Some(columns) = columns {
                    reply.rows(rng, columns);
                }
                match rng.below(3) {
                    0 => reply.push(
                        rng,
                        BackendMessage::EmptyQueryResponse,
                        QueryEvent::EmptyQuery,
                    ),
                    1 => reply.push(
                        rng,
                        BackendMessage::PortalSuspended,
                        QueryEvent::PortalSuspended,
                    ),
                    _ => reply.command_complete(rng),
                }
            }
        }
    }
    if fail_at.is_some() {
        reply.error(rng);
    }
    reply.ready(rng);
    (sent, reply)
}

/// Encodes `reply`, feeds it in random chunks through a [`FrameReader`] to `handle`, and
/// checks every event; then a message after ReadyForQuery is refused.
fn check_reply(
    rng: &mut Rng,
    reply: &Reply,
    mut handle: impl FnMut(Frame) -> Result<QueryEvent, ProtocolError>,
    mut is_done: impl FnMut() -> bool,
) {
    let mut stream = Vec::new();
    for (msg, _) in &reply.0 {
        msg.encode(&mut stream).unwrap();
    }
    let mut reader = FrameReader::new(Limits::default());
    let mut expected = reply.0.iter().map(|(_, event)| event);
    let mut rest = &stream[..];
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at((1 + rng.below(64)).min(rest.len()));
        rest = tail;
        reader.extend_from_slice(chunk);
        while let Some(frame) = reader.next_frame().unwrap() {
            assert!(!is_done(), "done before the end");
            let event = handle(frame).unwrap();
            assert_eq!(Some(&event), expected.next());
        }
    }
    assert_eq!(expected.next(), None);
    assert!(is_done());
    let late = Frame::new(b'Z', &b"I"[..]);
    assert_eq!(
        handle(late),
        Err(ProtocolError::UnexpectedMessage { tag: b'Z' })
    );
}

#[test]
fn simple_query_machine_accepts_every_valid_reply() {
    let mut rng = Rng(0x51_4D_50_1E);
    for _ in 0..3_000 {
        let reply = random_simple_reply(&mut rng);
        let machine = std::cell::RefCell::new(SimpleQuery::new());
        check_reply(
            &mut rng,
            &reply,
            |f| machine.borrow_mut().handle(f),
            || machine.borrow().is_done(),
        );
    }
}

#[test]
fn extended_query_machine_accepts_every_valid_reply() {
    let mut rng = Rng(0xE7_7E_4D_ED);
    for _ in 0..3_000 {
        let (sent, reply) = random_extended_reply(&mut rng);
        let machine = std::cell::RefCell::new(ExtendedQuery::new(&sent));
        check_reply(
            &mut rng,
            &reply,
            |f| machine.borrow_mut().handle(f),
            || machine.borrow().is_done(),
        );
    }
}

#[test]
fn extended_query_machine_refuses_a_reply_out_of_order() {
    // Dropping one answer from a valid reply (not an asynchronous message) leaves a
    // reply the machine must refuse, as UnexpectedMessage, before ReadyForQuery passes.
    let mut rng = Rng(0x0DD_0DE4);
    let mut refused = 0;
    for _ in 0..3_000 {
        let (sent, reply) = random_extended_reply(&mut rng);
        let answers: Vec<usize> = reply
            .0
            .iter()
            .enumerate()
            .filter(|(_, (m, _))| {
                matches!(
                    m,
                    BackendMessage::ParseComplete
                        | BackendMessage::BindComplete
                        | BackendMessage::CloseComplete
                        | BackendMessage::ParameterDescription(_)
                        | BackendMessage::NoData
                        | BackendMessage::CommandComplete(_)
                        | BackendMessage::EmptyQueryResponse
                        | BackendMessage::PortalSuspended
                )
            })
            .map(|(i, _)| i)
            .collect();
        if answers.is_empty() || reply.0.iter().any(|(m, _)| m.tag() == b'E') {
            continue;
        }
        let drop_at = answers[rng.below(answers.len())];
        let mut machine = ExtendedQuery::new(&sent);
        let mut result = Ok(());
        for (i, (msg, _)) in reply.0.iter().enumerate() {
            if i == drop_at {
                continue;
            }
            let mut wire = Vec::new();
            msg.encode(&mut wire).unwrap();
            let mut reader = FrameReader::new(Limits::default());
            reader.extend_from_slice(&wire);
            if let Err(err) = machine.handle(reader.next_frame().unwrap().unwrap()) {
                result = Err(err);
                break;
            }
        }
        let err = result.unwrap_err();
        assert!(
            matches!(
                err,
                ProtocolError::UnexpectedMessage { .. }
                    | ProtocolError::DataWithoutDescription
                    | ProtocolError::FieldCount
            ),
            "{err:?}"
        );
        assert!(!machine.is_done());
        refused += 1;
    }
    assert!(refused > 1_000, "{refused}");
}

// ---------------------------------------------------------------------------------------
// The codecs against the crates they replace (dev-dependencies only).

/// Input for a digest: now and then long (several blocks), else around one block.
fn digest_input(rng: &mut Rng) -> Vec<u8> {
    let n = match rng.below(8) {
        0 => rng.below(1000),
        1 => 0,
        _ => rng.below(130),
    };
    (0..n).map(|_| rng.next().to_be_bytes()[0]).collect()
}

/// `data` cut at random places (empty pieces included).
fn pieces<'a>(rng: &mut Rng, data: &'a [u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (head, tail) = rest.split_at(rng.below(rest.len().min(70) + 1));
        out.push(head);
        rest = tail;
    }
    out
}

#[test]
fn md5_matches_the_md5_crate() {
    use ::md5::Digest as _;
    let mut rng = Rng(0x6d64_3500);
    for _ in 0..3_000 {
        let data = digest_input(&mut rng);
        let mut ours = crate::crypto::md5::Md5::new();
        for piece in pieces(&mut rng, &data) {
            ours.update(piece);
        }
        let theirs: [u8; 16] = ::md5::Md5::digest(&data).into();
        assert_eq!(ours.finalize(), theirs, "{data:?}");
        assert_eq!(crate::crypto::md5::Md5::digest(&data), theirs);
    }
}

#[test]
fn hmac_sha256_matches_the_hmac_crate() {
    use ::hmac::Mac as _;
    type Theirs = ::hmac::Hmac<sha2::Sha256>;
    let mut rng = Rng(0x686d_6163);
    for _ in 0..3_000 {
        // Keys below, at and above SHA-256's 64-byte block.
        let key = digest_input(&mut rng);
        let data = digest_input(&mut rng);
        let mut ours = crate::crypto::hmac::HmacSha256::new(&key);
        for piece in pieces(&mut rng, &data) {
            ours.update(piece);
        }
        let mut theirs = Theirs::new_from_slice(&key).unwrap();
        theirs.update(&data);
        let theirs: [u8; 32] = theirs.finalize().into_bytes().into();
        let tag = ours.clone().finalize();
        assert_eq!(tag, theirs, "key {key:?}, data {data:?}");
        assert!(ours.verify(&theirs));
        assert_eq!(crate::crypto::hmac::HmacSha256::mac(&key, &data), theirs);
    }
}

/// Text for a base64 decoder: valid base64 (of random bytes), then sometimes mangled
/// with bytes that matter to a decoder (padding, symbols, white space, others).
fn base64_text(rng: &mut Rng) -> Vec<u8> {
    const NEAR: &[u8] = b"=AQgwZa09+/-_ \n\r.\0\xff";
    let data: Vec<u8> = (0..rng.below(40))
        .map(|_| rng.next().to_be_bytes()[0])
        .collect();
    let mut text = crate::encoding::base64::encode(&data).into_bytes();
    for _ in 0..rng.below(3) {
        let pos = rng.below(text.len() + 1);
        let byte = NEAR[rng.below(NEAR.len())];
        match rng.below(3) {
            0 if pos < text.len() => text[pos] = byte,
            1 if pos < text.len() => {
                text.remove(pos);
            }
            _ => text.insert(pos, byte),
        }
    }
    text
}

#[test]
fn base64_matches_the_base64_crates_standard_engine() {
    use ::base64::engine::general_purpose::STANDARD;
    use ::base64::Engine as _;
    let mut rng = Rng(0x6236_3400);
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..20_000 {
        let data = digest_input(&mut rng);
        assert_eq!(
            crate::encoding::base64::encode(&data),
            STANDARD.encode(&data)
        );
        let text = base64_text(&mut rng);
        let ours = crate::encoding::base64::decode(&text);
        let theirs = STANDARD.decode(&text);
        assert_eq!(
            ours.as_ref().ok(),
            theirs.as_ref().ok(),
            "{:?}: ours {ours:?}, theirs {theirs:?}",
            String::from_utf8_lossy(&text)
        );
        if ours.is_ok() {
            accepted += 1;
        } else {
            refused += 1;
        }
    }
    // Both outcomes are well represented, so the comparison means something.
    assert!(
        accepted > 5_000 && refused > 5_000,
        "{accepted} accepted, {refused} refused"
    );
}
