//! The startup machine with protocol 3.2: the version asked for, NegotiateProtocolVersion
//! before authentication, and BackendKeyData checked for the version in use. Each refusal
//! is the text psql 18.6 prints against a scripted server sending the same bytes.

use super::*;
use crate::frame::FrameReader;
use ProtocolVersion::{V3_0, V3_2};

const V30: i32 = 0x0003_0000;
const V32: i32 = 0x0003_0002;

fn machine(min: ProtocolVersion, max: ProtocolVersion) -> (Startup, Vec<u8>) {
    let mut c = StartupConfig::new("alice");
    c.password = Some(b"pw".to_vec());
    c.protocol = VersionRange::new(min, max).unwrap();
    let mut m = Startup::new(c);
    let mut out = Vec::new();
    m.start(&mut out).unwrap();
    (m, out)
}

fn v(version: i32, names: &[&str]) -> Frame {
    let mut body = version.to_be_bytes().to_vec();
    body.extend_from_slice(&i32::try_from(names.len()).unwrap().to_be_bytes());
    for n in names {
        body.extend_from_slice(n.as_bytes());
        body.push(0);
    }
    Frame::new(b'v', body)
}

fn key(len: usize) -> Frame {
    let mut body = 4242i32.to_be_bytes().to_vec();
    body.resize(4 + len, 0x3C);
    Frame::new(b'K', body)
}

/// Feeds a frame that is accepted without a reply and without finishing.
fn ok(m: &mut Startup, frame: Frame) {
    let mut out = Vec::new();
    assert!(matches!(m.handle(frame, &mut out), Ok(Step::Continue)));
    assert!(out.is_empty());
}

fn refused(m: &mut Startup, frame: Frame) -> String {
    let mut out = Vec::new();
    let e = m.handle(frame, &mut out).unwrap_err();
    assert!(out.is_empty());
    e.to_string()
}

fn auth_ok() -> Frame {
    Frame::new(b'R', &[0, 0, 0, 0][..])
}

fn finish(m: &mut Startup) -> Ready {
    match m.handle(Frame::new(b'Z', &b"I"[..]), &mut Vec::new()) {
        Ok(Step::Done(ready)) => ready,
        other => panic!("expected Done: {other:?}"),
    }
}

#[test]
fn asks_for_the_highest_version_allowed() {
    for (min, max, word) in [
        (V3_0, V3_0, [0, 3, 0, 0]),
        (V3_0, V3_2, [0, 3, 0, 2]),
        (V3_2, V3_2, [0, 3, 0, 2]),
    ] {
        let (m, out) = machine(min, max);
        assert_eq!(out[4..8], word);
        assert_eq!(m.protocol_version(), max);
    }
}

#[test]
fn postgresql_18_gives_3_2_and_a_long_key() {
    let (mut m, _) = machine(V3_0, V3_2);
    ok(&mut m, auth_ok());
    ok(&mut m, key(32));
    let ready = finish(&mut m);
    assert_eq!(ready.protocol_version, V3_2);
    let key = ready.backend_key.unwrap();
    assert_eq!((key.process_id(), key.secret()), (4242, &[0x3C; 32][..]));
}

#[test]
fn an_older_server_brings_it_down_to_3_0() {
    let (mut m, _) = machine(V3_0, V3_2);
    ok(&mut m, v(V30, &[]));
    assert_eq!(m.protocol_version(), V3_0);
    // The password exchange goes on as before; a `v` may come after a request too.
    let mut out = Vec::new();
    assert!(matches!(
        m.handle(Frame::new(b'R', &[0, 0, 0, 3][..]), &mut out),
        Ok(Step::Continue)
    ));
    assert_eq!(out, b"p\0\0\0\x07pw\0");
    ok(&mut m, auth_ok());
    assert_eq!(
        refused(&mut m, key(32)),
        "received invalid BackendKeyData message: cancel key with length 32 not allowed in \
         protocol version 3.0 (must be 4 bytes)"
    );

    let (mut m, _) = machine(V3_0, V3_2);
    ok(&mut m, v(V30, &[]));
    ok(&mut m, auth_ok());
    ok(&mut m, key(4));
    let ready = finish(&mut m);
    assert_eq!(ready.protocol_version, V3_0);
    assert_eq!(ready.backend_key.unwrap().secret().len(), 4);
}

#[test]
fn a_password_request_then_negotiation_is_accepted() {
    let (mut m, _) = machine(V3_0, V3_2);
    let mut out = Vec::new();
    assert!(matches!(
        m.handle(Frame::new(b'R', &[0, 0, 0, 3][..]), &mut out),
        Ok(Step::Continue)
    ));
    ok(&mut m, v(V30, &[]));
    assert_eq!(m.protocol_version(), V3_0);
}

#[test]
fn refusals_have_libpq_18_texts() {
    let invalid = "received invalid protocol negotiation message";
    let cases: Vec<(ProtocolVersion, ProtocolVersion, Vec<Frame>, String)> = vec![
        (
            V3_2,
            V3_2,
            vec![v(V30, &[])],
            "server only supports protocol version 3.0, but \"min_protocol_version\" was set \
             to 3.2"
                .to_owned(),
        ),
        (
            V3_0,
            V3_2,
            vec![v(V30, &[]), v(V30, &[])],
            "received duplicate protocol negotiation message".to_owned(),
        ),
        (
            V3_0,
            V3_2,
            vec![v(V32 + 1, &[])],
            format!("{invalid}: server requested downgrade to a higher-numbered version"),
        ),
        (
            V3_0,
            V3_0,
            vec![v(V32, &[])],
            format!("{invalid}: server requested downgrade to a higher-numbered version"),
        ),
        (
            V3_0,
            V3_2,
            vec![v(V32, &[])],
            format!("{invalid}: server negotiated but asks for no changes"),
        ),
        (
            V3_0,
            V3_2,
            vec![v(V30, &["_pq_.x"])],
            format!(
                "{invalid}: server reported an unsupported parameter that was not requested \
                 (\"_pq_.x\")"
            ),
        ),
        (
            V3_0,
            V3_2,
            vec![Frame::new(b'v', &[0, 3, 0, 0][..])],
            format!("{invalid}: message too short"),
        ),
        (
            V3_0,
            V3_2,
            vec![Frame::new(b'v', &[0, 3, 0, 0, 0, 0, 0, 0, b'x', b'x'][..])],
            "expected authentication request from server, but received x".to_owned(),
        ),
        (
            V3_0,
            V3_2,
            vec![Frame::new(b'v', &[0, 3, 0, 0, 0, 0, 0, 0, b'R'][..])],
            "message contents do not agree with length in message type \"v\"".to_owned(),
        ),
        (
            V3_0,
            V3_2,
            vec![auth_ok(), v(V30, &[])],
            "unexpected response from server; first received character was \"v\"".to_owned(),
        ),
        (
            V3_0,
            V3_2,
            vec![auth_ok(), key(257)],
            "received invalid BackendKeyData message: cancel key with length 257 is too long \
             (maximum 256 bytes)"
                .to_owned(),
        ),
        (
            V3_0,
            V3_2,
            vec![auth_ok(), key(3)],
            "received invalid BackendKeyData message: cancel key with length 3 is too short \
             (minimum 4 bytes)"
                .to_owned(),
        ),
        (
            V3_0,
            V3_2,
            vec![auth_ok(), Frame::new(b'K', &b"ab"[..])],
            "received invalid BackendKeyData message: cancel key with length -2 is too short \
             (minimum 4 bytes)"
                .to_owned(),
        ),
    ];
    for (min, max, frames, text) in cases {
        let (mut m, _) = machine(min, max);
        let (last, before) = frames.split_last().unwrap();
        for f in before {
            ok(&mut m, f.clone());
        }
        assert_eq!(refused(&mut m, last.clone()), text);
        // Sticky.
        assert_eq!(refused(&mut m, auth_ok()), text);
    }
}

#[test]
fn next_frame_refuses_a_negotiation_of_a_bad_length_on_its_header() {
    for len in [7u32, 2001, 0x7fff_ffff] {
        let (mut m, _) = machine(V3_0, V3_2);
        let mut reader = FrameReader::new(Limits::default());
        reader.extend_from_slice(b"v");
        reader.extend_from_slice(&len.to_be_bytes());
        assert_eq!(
            m.next_frame(&mut reader).unwrap_err().to_string(),
            "received invalid protocol negotiation message"
        );
    }
    // 8 and 2000 are framed.
    for len in [8u32, 2000] {
        let (mut m, _) = machine(V3_0, V3_2);
        let mut reader = FrameReader::new(Limits::default());
        reader.extend_from_slice(b"v");
        reader.extend_from_slice(&len.to_be_bytes());
        reader.extend_from_slice(&vec![0; usize::try_from(len - 4).unwrap()]);
        assert_eq!(m.next_frame(&mut reader).unwrap().unwrap().tag, b'v');
    }
}
