//! Harness functions for the `fuzz/` targets. Not a stable API.
//!
//! Each function takes arbitrary bytes and asserts invariants (not just "no panic"):
//! chunking equivalence and bounded memory for the framer, decode → encode → decode for
//! messages, bounded and well-formed texts for error fields, state-machine rules for SCRAM.
//! Each `fuzz/fuzz_targets/<name>.rs` is one line calling the function of the same name.
//! They also run as unit tests over the captured server bytes in `protocol/tests/data/`.
//!
//! Compiled only with the `fuzzing` feature (which `fuzz/` turns on) and in tests, so the
//! library itself never contains these panicking checks.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a fuzz harness reports a broken invariant by panicking"
)]

use crate::auth::scram::{ChannelBinding, ScramClient};
use crate::backend::{Authentication, BackendMessage};
use crate::error_fields::ErrorFields;
use crate::frame::{Frame, FrameReader};
use crate::limits::{
    Limits, LONG_MESSAGE_TYPES, MAX_PRE_V3_ERROR_LEN, MAX_SHORT_MESSAGE_LEN,
    MAX_UNKNOWN_ERROR_FIELDS,
};
use crate::query::{ExtendedQuery, QueryEvent, SimpleQuery};
use crate::startup::{Startup, StartupConfig, StartupError, Step};
use crate::version::{NegotiationError, ProtocolVersion, VersionRange};
use crate::ProtocolError;

/// Gives `data` to `reader` as the I/O layer does: read into [`FrameReader::spare`] (no
/// more than it offers at a time), then [`FrameReader::commit`].
pub fn receive(reader: &mut FrameReader, mut data: &[u8]) {
    while !data.is_empty() {
        let spare = reader.spare();
        assert!(spare.len() >= FrameReader::READ_CHUNK);
        let n = spare.len().min(data.len());
        spare[..n].copy_from_slice(&data[..n]);
        reader.commit(n);
        data = &data[n..];
    }
}

/// What a [`FrameReader`] made of a stream: its frames, then how it ended.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    frames: Vec<Frame>,
    end: Result<usize, ProtocolError>,
}

/// Feeds `chunks` to a fresh reader (through `spare` and `commit`, as the I/O layer does), draining
/// frames after each chunk, and checks the per-call invariants.
fn run_frames(limits: Limits, chunks: &[&[u8]]) -> Outcome {
    let input: usize = chunks.iter().map(|c| c.len()).sum();
    let mut reader = FrameReader::new(limits);
    let mut frames = Vec::new();
    let mut consumed = 0usize;
    let mut end = Ok(0);
    'feed: for chunk in chunks {
        receive(&mut reader, chunk);
        loop {
            match reader.next_frame() {
                Ok(Some(frame)) => {
                    let len = u32::try_from(frame.body.len() + 4).unwrap();
                    if LONG_MESSAGE_TYPES.contains(&frame.tag) {
                        assert!(len <= limits.max_long_message_len);
                    } else {
                        assert!(len <= MAX_SHORT_MESSAGE_LEN);
                    }
                    consumed += 5 + frame.body.len();
                    frames.push(frame);
                }
                Ok(None) => break,
                Err(err) => {
                    // Sticky, and nothing more is kept.
                    assert_eq!(reader.next_frame(), Err(err.clone()));
                    reader.extend_from_slice(b"more");
                    assert_eq!(reader.next_frame(), Err(err.clone()));
                    assert_eq!(reader.buffered(), 0);
                    end = Err(err);
                    break 'feed;
                }
            }
        }
        // Memory follows the bytes received, never a claimed length.
        assert!(reader.capacity() <= 2 * (input + FrameReader::READ_CHUNK));
    }
    assert!(consumed <= input);
    if end.is_ok() {
        assert_eq!(consumed + reader.buffered(), input);
        end = Ok(reader.buffered());
    }
    Outcome { frames, end }
}

/// Splits `data` into chunks whose sizes come from a small generator seeded by `seed`.
fn chunks(data: &[u8], seed: u8) -> Vec<&[u8]> {
    let mut state = u32::from(seed) | 1;
    let mut rest = data;
    let mut out = Vec::new();
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let size = usize::try_from((state >> 16) % 17).unwrap() + 1;
        let (head, tail) = rest.split_at(size.min(rest.len()));
        out.push(head);
        rest = tail;
    }
    out
}

/// `data[0]` picks the chunking and the limits; the rest is the server's stream. Any
/// chunking gives the same frames and the same ending as one piece; consumed <= input;
/// the buffer stays proportional to the input.
pub fn frame_reader(data: &[u8]) {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    let limits = if seed & 0x80 != 0 {
        Limits {
            max_long_message_len: 64,
            ..Limits::default()
        }
    } else {
        Limits::default()
    };
    let whole = run_frames(limits, &[stream]);
    let split = run_frames(limits, &chunks(stream, seed));
    assert_eq!(whole, split);
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(whole, run_frames(limits, &bytes));
}

/// Decodes every frame of `data`. A decoded message re-encodes, and the encoding decodes
/// to the same message; a DataRow's values add up to its body; a refusal is one of the
/// errors libpq would give for that tag.
pub fn backend_message(data: &[u8]) {
    let outcome = run_frames(Limits::default(), &[data]);
    for frame in &outcome.frames {
        match BackendMessage::parse(frame) {
            Ok(msg) => check_message(frame, &msg),
            Err(err) => check_refusal(frame.tag, &err),
        }
    }
}

fn check_message(frame: &Frame, msg: &BackendMessage) {
    assert_eq!(msg.tag(), frame.tag);
    if let BackendMessage::DataRow(row) = msg {
        let values: Vec<Option<&[u8]>> = row.values().collect();
        assert_eq!(values.len(), row.len());
        let data: usize = values.iter().flatten().map(|v| v.len()).sum();
        assert_eq!(2 + 4 * row.len() + data, frame.body.len());
    }
    let mut out = Vec::new();
    msg.encode(&mut out).expect("a decoded message encodes");
    let mut reader = FrameReader::new(Limits::default());
    reader.extend_from_slice(&out);
    let again = reader.next_frame().unwrap().expect("one whole frame");
    assert_eq!(reader.buffered(), 0);
    // The encoding holds the fields kept: those past MAX_UNKNOWN_ERROR_FIELDS were only
    // counted, so they decode as not dropped.
    let mut kept = msg.clone();
    if let BackendMessage::ErrorResponse(f) | BackendMessage::NoticeResponse(f) = &mut kept {
        f.other_dropped = 0;
    }
    assert_eq!(BackendMessage::parse(&again), Ok(kept));
    // Messages without strings or ignored bytes re-encode byte for byte.
    if matches!(
        msg,
        BackendMessage::DataRow(_)
            | BackendMessage::CopyData(_)
            | BackendMessage::BackendKeyData { .. }
            | BackendMessage::ReadyForQuery(_)
            | BackendMessage::ParameterDescription(_)
    ) {
        assert_eq!(again, *frame);
    }
}

fn check_refusal(tag: u8, err: &ProtocolError) {
    let known = b"RK23CdcGHWDIEVvnNAtS1sZT".contains(&tag);
    let allowed = match err {
        ProtocolError::UnexpectedMessage { tag: t } => !known && *t == tag,
        ProtocolError::LengthMismatch { tag: t } => known && *t == tag,
        ProtocolError::InsufficientData { tag: t } => *t == tag && b"TtD".contains(&tag),
        ProtocolError::InvalidTransactionStatus { .. } => tag == b'Z',
        _ => false,
    };
    assert!(
        allowed,
        "tag {:?}: unexpected error {err:?}",
        char::from(tag)
    );
}

/// `data[0]` picks `E` or `N`; the rest is a body, optionally followed by `0xFE` and a
/// query text. Parsing never panics; the text ends in a newline, starts with the
/// severity, contains the message, and stays within a fixed margin of the input size.
pub fn error_fields(data: &[u8]) {
    let Some((&seed, rest)) = data.split_first() else {
        return;
    };
    let tag = if seed & 1 == 0 { b'E' } else { b'N' };
    let (body, query) = match rest.iter().position(|&b| b == 0xFE) {
        Some(at) => (&rest[..at], Some(String::from_utf8_lossy(&rest[at + 1..]))),
        None => (rest, None),
    };
    let fields = match ErrorFields::parse(tag, body) {
        Ok(fields) => fields,
        Err(err) => {
            assert_eq!(err, ProtocolError::LengthMismatch { tag });
            return;
        }
    };
    assert_eq!(fields.is_notice, tag == b'N');
    // What is kept stays within a constant of the body: unknown fields are capped, and
    // invalid UTF-8 at most triples in size.
    assert!(fields.other.len() <= MAX_UNKNOWN_ERROR_FIELDS);
    assert!(fields.other_dropped == 0 || fields.other.len() == MAX_UNKNOWN_ERROR_FIELDS);
    assert!(
        fields.kept_size() <= 3 * body.len() + 2000,
        "{} bytes kept for {} bytes of body",
        fields.kept_size(),
        body.len()
    );
    for query in [query.as_deref(), None] {
        let text = fields.libpq_text(query);
        assert!(text.ends_with('\n'));
        if let Some(severity) = &fields.severity {
            assert!(text.starts_with(&format!("{severity}:  ")));
        }
        if let Some(message) = &fields.message {
            assert!(text.contains(message.as_str()));
        }
        // Each field is printed at most once, the LINE block is at most 60 columns wide
        // (4 bytes a character) plus its caret line, and the labels are short.
        assert!(
            text.len() <= 3 * body.len() + 1000,
            "{} bytes of text for {} bytes of body",
            text.len(),
            body.len()
        );
    }
}

/// The client nonce of [`scram`]: base64 of 18 zero bytes.
const SCRAM_CLIENT_NONCE: &str = "AAAAAAAAAAAAAAAAAAAAAAAA";

/// `data[0]` bit 0 prefixes the server-first with the right nonce (to get past the
/// check); the rest is server-first, then `0xFF`, then server-final. The client's
/// messages have their fixed shape, and every failure is final.
pub fn scram(data: &[u8]) {
    let Some((&seed, rest)) = data.split_first() else {
        return;
    };
    let (first, last) = match rest.iter().position(|&b| b == 0xFF) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    let mut server_first = Vec::new();
    if seed & 1 == 1 {
        server_first.extend_from_slice(b"r=");
        server_first.extend_from_slice(SCRAM_CLIENT_NONCE.as_bytes());
    }
    server_first.extend_from_slice(first);
    // Few iterations: fuzzing time goes into parsing, not PBKDF2.
    let limits = Limits {
        max_scram_iterations: 16,
        ..Limits::default()
    };
    let mut client = ScramClient::new(b"pencil", [0; 18], ChannelBinding::None, limits);
    let client_first = client.client_first().unwrap();
    assert_eq!(
        client_first,
        format!("n,,n=,r={SCRAM_CLIENT_NONCE}").as_bytes()
    );
    assert!(client.awaits_server_first());
    match client.server_first(&server_first) {
        Ok(msg) => {
            let prefix = format!("c=biws,r={SCRAM_CLIENT_NONCE}");
            assert!(msg.starts_with(prefix.as_bytes()));
            let proof_at = msg.windows(3).rposition(|w| w == b",p=").expect("a proof");
            assert_eq!(msg.len() - proof_at - 3, 44, "base64 of 32 bytes");
            assert!(client.awaits_server_final());
        }
        Err(_) => {
            assert!(!client.awaits_server_final());
            assert!(client.server_final(last).is_err());
            assert!(!client.is_done());
            return;
        }
    }
    match client.server_final(last) {
        Ok(()) => assert!(client.is_done()),
        Err(_) => {
            assert!(!client.is_done());
            assert!(client.server_final(last).is_err());
        }
    }
    assert!(client.client_first().is_err());
}

/// The password of [`startup`]: easy to spot in the client's output.
const STARTUP_PASSWORD: &[u8] = b"fuzz-secret-pw";

/// What the startup machine made of a stream: what it wrote in reply to each frame it
/// took, then how it ended (`Ok(true)`: Done; `Ok(false)`: waiting for more bytes).
type StartupOutcome = (Vec<Vec<u8>>, Result<bool, StartupError>);

/// `data[0]` bit 0: a password is configured; bits 1..: the chunking, and bits 1 and 2
/// also the protocol versions allowed (3.0 only, 3.0 to 3.2, 3.2 only). The rest is the
/// server's byte stream, framed by [`Startup::next_frame`] (libpq's raw checks before
/// authentication) and fed to the machine frame by frame. The client sends a password
/// message only in direct reply to a password request (`R` 3, 5, 10 or 11), never
/// without a password configured, the cleartext password only after `R` 3; a failure is
/// final and appends nothing; one piece, random chunks and byte-by-byte feeding give the
/// same replies and the same ending. The StartupMessage asks for the highest version
/// allowed; the version a connection ends with is within the range, and its cancel key
/// has a length that version allows.
pub fn startup(data: &[u8]) {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    let with_password = seed & 1 == 1;
    let (min, max) = match (seed >> 1) & 3 {
        0 => (ProtocolVersion::V3_0, ProtocolVersion::V3_0),
        2 => (ProtocolVersion::V3_2, ProtocolVersion::V3_2),
        _ => (ProtocolVersion::V3_0, ProtocolVersion::V3_2),
    };
    let range = VersionRange::new(min, max).unwrap();
    let whole = run_startup(with_password, range, &[stream]);
    let split = run_startup(with_password, range, &chunks(stream, seed));
    assert_eq!(whole, split);
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(whole, run_startup(with_password, range, &bytes));
}

/// Feeds `chunks` to a fresh reader and a started machine, taking frames through
/// `next_frame` after each chunk, and checks the per-frame invariants.
fn run_startup(with_password: bool, range: VersionRange, chunks: &[&[u8]]) -> StartupOutcome {
    let mut config = StartupConfig::new("fuzz");
    config.protocol = range;
    config.database = Some("db".to_owned());
    config.password = with_password.then(|| STARTUP_PASSWORD.to_vec());
    // Few iterations: fuzzing time goes into parsing, not PBKDF2.
    config.limits = Limits {
        max_scram_iterations: 16,
        ..Limits::default()
    };
    let mut machine = Startup::new(config);
    let mut out = Vec::new();
    machine.start(&mut out).unwrap();
    assert!(!contains(&out, STARTUP_PASSWORD));
    assert_eq!(out[4..8], range.max().code().to_be_bytes());
    let mut frames = FrameReader::new(Limits::default());
    let mut replies = Vec::new();
    for chunk in chunks {
        receive(&mut frames, chunk);
        loop {
            let authenticated = machine.is_authenticated();
            let frame = match machine.next_frame(&mut frames) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(err) => {
                    if !authenticated {
                        check_refused_before_auth(&err, frames.peek());
                    }
                    // Final, for both entry points, and nothing was consumed.
                    let left = frames.buffered();
                    assert_eq!(machine.next_frame(&mut frames).err(), Some(err.clone()));
                    assert_eq!(frames.buffered(), left);
                    let mut again = Vec::new();
                    assert_eq!(
                        machine
                            .handle(Frame::new(b'Z', &b"I"[..]), &mut again)
                            .err(),
                        Some(err.clone())
                    );
                    assert!(again.is_empty());
                    return (replies, Err(err));
                }
            };
            if !authenticated {
                // Only what libpq frames before authentication gets through.
                let len = frame.body.len() + 4;
                match frame.tag {
                    b'R' => assert!((8..=2000).contains(&len)),
                    b'E' => assert!((8..=30_000).contains(&len)),
                    b'v' => assert!((8..=2000).contains(&len)),
                    other => panic!("{other} framed before authentication"),
                }
            }
            let mut reply = Vec::new();
            let request = match (frame.tag, BackendMessage::parse(&frame)) {
                (b'R', Ok(BackendMessage::Authentication(auth))) => Some(auth),
                _ => None,
            };
            let mut step = machine.handle(frame.clone(), &mut reply);
            if let Ok(Step::Nonce) = step {
                // SCRAM was chosen: nothing is written before the nonce is given.
                assert!(reply.is_empty());
                assert!(matches!(request, Some(Authentication::Sasl(_))));
                step = machine.handle_nonce([0; 18], &mut reply);
            }
            match step {
                Ok(step) => {
                    check_startup_reply(&reply, request.as_ref(), with_password);
                    replies.push(reply);
                    let version = machine.protocol_version();
                    assert!(range.min() <= version && version <= range.max());
                    if let Step::Done(ready) = step {
                        assert_eq!(ready.protocol_version, version);
                        if let Some(key) = &ready.backend_key {
                            let len = key.secret().len();
                            match version {
                                ProtocolVersion::V3_0 => assert_eq!(len, 4),
                                _ => assert!((4..=256).contains(&len)),
                            }
                        }
                        assert!(machine.is_done());
                        assert!(machine.is_authenticated());
                        return (replies, Ok(true));
                    }
                }
                Err(err) => {
                    assert!(reply.is_empty(), "{err:?} with a reply");
                    let mut again = Vec::new();
                    assert_eq!(machine.handle(frame, &mut again).err(), Some(err.clone()));
                    assert!(again.is_empty());
                    assert_eq!(machine.next_frame(&mut frames).err(), Some(err.clone()));
                    return (replies, Err(err));
                }
            }
        }
    }
    (replies, Ok(false))
}

/// A refusal by `next_frame` before authentication is one of libpq's, for the bytes
/// that are there: a type other than `R`/`E`, an `R` of a bad length, or a pre-3.0
/// error's text up to its NUL.
fn check_refused_before_auth(err: &StartupError, pending: &[u8]) {
    match err {
        StartupError::Protocol(ProtocolError::ExpectedAuthRequest { tag }) => {
            assert_eq!(pending.first(), Some(tag));
            if *tag == b'R' {
                let len = u32::from_be_bytes(pending[1..5].try_into().unwrap());
                assert!(!(8..=2000).contains(&len));
            } else {
                assert!(*tag != b'E' && *tag != b'v');
            }
        }
        StartupError::Negotiation(NegotiationError::Invalid) => {
            assert_eq!(pending.first(), Some(&b'v'));
            let len = u32::from_be_bytes(pending[1..5].try_into().unwrap());
            assert!(!(8..=2000).contains(&len));
        }
        StartupError::PreV3Error(text) => {
            assert_eq!(pending.first(), Some(&b'E'));
            let len = u32::from_be_bytes(pending[1..5].try_into().unwrap());
            assert!(!(8..=MAX_SHORT_MESSAGE_LEN).contains(&len));
            let raw = &pending[1..];
            let nul = raw.iter().position(|&b| b == 0).unwrap();
            assert_eq!(*text, String::from_utf8_lossy(&raw[..nul]));
        }
        StartupError::PreV3ErrorTooLong => {
            assert_eq!(pending.first(), Some(&b'E'));
            let len = u32::from_be_bytes(pending[1..5].try_into().unwrap());
            assert!(!(8..=MAX_SHORT_MESSAGE_LEN).contains(&len));
            // No NUL within the cap: the text would be longer than it.
            let raw = &pending[1..];
            assert!(raw.len() > MAX_PRE_V3_ERROR_LEN);
            assert!(!raw[..=MAX_PRE_V3_ERROR_LEN].contains(&0));
        }
        other => panic!("refused before authentication with {other:?}"),
    }
}

fn check_startup_reply(reply: &[u8], request: Option<&Authentication>, with_password: bool) {
    if reply.is_empty() {
        return;
    }
    assert!(with_password, "a reply without a password configured");
    assert_eq!(reply.first(), Some(&b'p'));
    let body = &reply[5..];
    match request {
        Some(Authentication::CleartextPassword) => {
            assert_eq!(body, b"fuzz-secret-pw\0");
        }
        Some(Authentication::Md5Password { .. }) => {
            assert_eq!(body.len(), 36);
            assert!(body.starts_with(b"md5"));
        }
        Some(Authentication::Sasl(_)) => {
            assert!(body.starts_with(b"SCRAM-SHA-256"));
            assert!(!contains(reply, STARTUP_PASSWORD));
        }
        Some(Authentication::SaslContinue(server_first)) => {
            assert!(body.starts_with(b"c="));
            // The client-final echoes the server's nonce, which may contain anything
            // (even the password): only the client's own bytes must not.
            let nonce = server_first
                .strip_prefix(b"r=")
                .and_then(|rest| rest.split(|&b| b == b',').next())
                .expect("a client-final answers a server-first with a nonce");
            let echoed = [b",r=", nonce, b","].concat();
            let at = reply
                .windows(echoed.len())
                .position(|w| w == echoed.as_slice())
                .expect("the nonce is echoed");
            let (before, after) = reply.split_at(at);
            assert!(!contains(before, STARTUP_PASSWORD));
            assert!(!contains(&after[echoed.len()..], STARTUP_PASSWORD));
        }
        other => panic!("a password message in reply to {other:?}"),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `data[0]` bit 0 picks the extended protocol (Parse, Bind, Describe, Execute, Sync),
/// otherwise the simple one; the rest is the server's reply. Rows have the field count of
/// the last RowDescription; nothing is accepted after ReadyForQuery; failures are final.
pub fn query(data: &[u8]) {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    let mut simple = SimpleQuery::new();
    let mut extended = ExtendedQuery::default();
    let mut handle = |frame: Frame| {
        if seed & 1 == 0 {
            simple.handle(frame)
        } else {
            extended.handle(frame)
        }
    };
    let mut frames = FrameReader::new(Limits::default());
    frames.extend_from_slice(stream);
    let mut columns = None;
    let mut done = false;
    while let Ok(Some(frame)) = frames.next_frame() {
        match handle(frame.clone()) {
            Ok(event) => {
                assert!(!done, "an event after ReadyForQuery: {event:?}");
                match event {
                    QueryEvent::RowDescription(d) => columns = Some(d.fields.len()),
                    QueryEvent::Row(row) => {
                        assert_eq!(Some(row.len()), columns);
                        assert_eq!(row.values().count(), row.len());
                    }
                    QueryEvent::Ready(_) => done = true,
                    _ => {}
                }
            }
            Err(err) => {
                assert_eq!(handle(frame), Err(err));
                break;
            }
        }
    }
    let finished = if seed & 1 == 0 {
        simple.is_done()
    } else {
        extended.is_done()
    };
    assert_eq!(finished, done);
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTURES: [&[u8]; 10] = [
        include_bytes!("../tests/data/startup_select.bin"),
        include_bytes!("../tests/data/types.bin"),
        include_bytes!("../tests/data/notice.bin"),
        include_bytes!("../tests/data/copyout.bin"),
        include_bytes!("../tests/data/notify.bin"),
        include_bytes!("../tests/data/raise.bin"),
        include_bytes!("../tests/data/syntax.bin"),
        include_bytes!("../tests/data/multi.bin"),
        include_bytes!("../tests/data/auth_sasl.bin"),
        include_bytes!("../tests/data/auth_reject.bin"),
    ];

    #[test]
    fn harnesses_accept_the_captures() {
        for capture in CAPTURES {
            for seed in [0u8, 1, 0x80, 0xff] {
                let mut data = vec![seed];
                data.extend_from_slice(capture);
                frame_reader(&data);
                error_fields(&data);
                scram(&data);
                startup(&data);
                query(&data);
            }
            backend_message(capture);
            // Truncated and corrupted variants.
            for cut in (0..capture.len()).step_by(7) {
                backend_message(&capture[..cut]);
                let mut bad = capture.to_vec();
                bad[cut] ^= 0x55;
                backend_message(&bad);
                frame_reader(&bad);
            }
        }
    }

    #[test]
    fn backend_message_harness_on_an_error_with_too_many_unknown_fields() {
        // Found by `cargo fuzz run backend_message`: one unknown field more than is kept.
        let mut body = Vec::new();
        for i in 0..=MAX_UNKNOWN_ERROR_FIELDS {
            body.push(b'!');
            body.extend_from_slice(format!("unknown {i}").as_bytes());
            body.push(0);
        }
        body.push(0);
        let mut data = vec![b'E'];
        data.extend_from_slice(&u32::try_from(body.len() + 4).unwrap().to_be_bytes());
        data.extend_from_slice(&body);
        backend_message(&data);
    }

    #[test]
    fn error_fields_harness_on_a_captured_error() {
        // The `E` body of `selec 1`, then its query after 0xFE.
        let mut data = vec![0u8];
        data.extend_from_slice(&include_bytes!("../tests/data/syntax.bin")[5..94]);
        data.push(0xFE);
        data.extend_from_slice(b"selec 1");
        error_fields(&data);
    }

    /// Server streams for the startup harness, built with the backend encoders.
    pub(super) fn scripted_startups() -> Vec<Vec<u8>> {
        use crate::backend::TransactionStatus;
        let end = [
            BackendMessage::Authentication(Authentication::Ok),
            BackendMessage::ParameterStatus {
                name: "server_version".into(),
                value: "15.18".into(),
            },
            BackendMessage::BackendKeyData {
                process_id: 7,
                secret_key: crate::buffer::Bytes::from(&[0, 0, 0, 9]),
            },
            BackendMessage::ReadyForQuery(TransactionStatus::Idle),
        ];
        let first = format!("r={SCRAM_CLIENT_NONCE}srv,s=QSXCR+Q6sek8bf92,i=4");
        let scripts = [
            vec![BackendMessage::Authentication(
                Authentication::CleartextPassword,
            )],
            // A PostgreSQL 15 server's answer to a request for 3.2.
            vec![
                BackendMessage::NegotiateProtocolVersion {
                    newest_minor: ProtocolVersion::V3_0.code(),
                    unrecognized: Vec::new(),
                },
                BackendMessage::Authentication(Authentication::CleartextPassword),
            ],
            vec![BackendMessage::Authentication(
                Authentication::Md5Password { salt: [1, 2, 3, 4] },
            )],
            vec![
                BackendMessage::Authentication(Authentication::Sasl(vec!["SCRAM-SHA-256".into()])),
                BackendMessage::Authentication(Authentication::SaslContinue(first.into())),
                BackendMessage::Authentication(Authentication::SaslFinal("v=AAAA".into())),
            ],
        ];
        // PostgreSQL 18's 32-byte key, refused at 3.0.
        let mut long_key = end.clone();
        long_key[2] = BackendMessage::BackendKeyData {
            process_id: 7,
            secret_key: crate::buffer::Bytes::from(&[9; 32]),
        };
        let encode = |script: &[BackendMessage], end: &[BackendMessage]| {
            let mut out = Vec::new();
            for msg in script.iter().chain(end) {
                msg.encode(&mut out).unwrap();
            }
            out
        };
        let mut streams: Vec<Vec<u8>> = scripts.iter().map(|s| encode(s, &end)).collect();
        streams.push(encode(&[], &long_key));
        streams
    }

    /// Found by the 10-minute `startup` run (2026-11-25): a server nonce containing the
    /// password, echoed in the client-final, tripped the harness's own check. The client
    /// was right; the harness now looks only at the client's bytes.
    #[test]
    fn startup_harness_server_nonce_with_the_password() {
        let crash: &[u8] = b"\x01R\0\0\0\x17\0\0\0\x0aSCRAM-SHA-256\0\0R\0\0\0\x3c\0\0\0\x0b\
            r=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAfuzz-secret-pw,s=,i=4R\0I";
        startup(crash);
        // The machine did answer with the client-final: the harness's check was reached.
        let mut config = StartupConfig::new("fuzz");
        config.password = Some(STARTUP_PASSWORD.to_vec());
        let mut machine = Startup::new(config);
        machine.start(&mut Vec::new()).unwrap();
        let mut frames = FrameReader::new(Limits::default());
        frames.extend_from_slice(&crash[1..]);
        let mut out = Vec::new();
        let step = machine.handle(frames.next_frame().unwrap().unwrap(), &mut out);
        assert!(matches!(step, Ok(Step::Nonce)));
        let step = machine.handle_nonce([0; 18], &mut out);
        assert!(matches!(step, Ok(Step::Continue)));
        out.clear();
        let step = machine.handle(frames.next_frame().unwrap().unwrap(), &mut out);
        assert!(matches!(step, Ok(Step::Continue)));
        assert!(out.starts_with(b"p"));
        assert!(contains(
            &out,
            b",r=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAfuzz-secret-pw,p="
        ));
    }

    #[test]
    fn startup_harness_on_scripted_servers() {
        for stream in scripted_startups() {
            // With and without a password; 3.0 only, 3.0 to 3.2, 3.2 only.
            for seed in [0u8, 1, 2, 3, 4, 5] {
                let mut data = vec![seed];
                data.extend_from_slice(&stream);
                startup(&data);
                for cut in 0..stream.len() {
                    startup(&data[..cut + 1]);
                }
            }
        }
    }

    /// The raw checks before authentication, through the harness (which also feeds each
    /// in random chunks and byte by byte).
    #[test]
    fn startup_harness_on_refused_first_bytes() {
        for stream in [
            &b"EFATAL:  old server\0"[..],
            b"EFATAL:  no NUL yet",
            b"E\0\0\x75\x31",
            b"R\0\0\x07\xd1\0\0\0\0",
            b"R\0\0\0\x07",
            b"Z\0\0\0\x05I",
            b"R\0\0\0\x08\0\0\0\0C\0\0\x75\x31",
        ] {
            for seed in [0u8, 1, 0x7e, 0xff] {
                let mut data = vec![seed];
                data.extend_from_slice(stream);
                startup(&data);
            }
        }
        let (replies, end) = run_startup(
            false,
            VersionRange::default(),
            &[b"EFATAL:  old", b" server\0"],
        );
        assert!(replies.is_empty());
        assert_eq!(
            end,
            Err(StartupError::PreV3Error("FATAL:  old server".to_owned()))
        );
    }

    /// A pre-3.0 error without a NUL in its first 30000 bytes, through the harness, and
    /// error bodies of many unknown fields.
    #[test]
    fn harnesses_on_the_memory_caps() {
        let mut long = vec![0u8];
        long.extend_from_slice(b"EFATAL:  ");
        long.resize(MAX_PRE_V3_ERROR_LEN + 100, b'x');
        startup(&long);
        let (_, end) = run_startup(false, VersionRange::default(), &[&long[1..]]);
        assert_eq!(end, Err(StartupError::PreV3ErrorTooLong));
        let mut body = vec![0u8];
        for _ in 0..1000 {
            body.extend_from_slice(b"X\0");
        }
        body.push(0);
        error_fields(&body);
    }

    #[test]
    fn scram_harness_reaches_the_client_final() {
        let mut data = vec![1u8];
        data.extend_from_slice(b"srvnonce,s=QSXCR+Q6sek8bf92,i=4\xffv=AAAA");
        scram(&data);
        // The same server-first passes the client's checks.
        let mut client =
            ScramClient::new(b"pencil", [0; 18], ChannelBinding::None, Limits::default());
        client.client_first().unwrap();
        let first = format!("r={SCRAM_CLIENT_NONCE}srvnonce,s=QSXCR+Q6sek8bf92,i=4");
        assert!(client.server_first(first.as_bytes()).is_ok());
    }
}
