//! Fakes for the connection's unit tests (a startup's end, backend messages, a connection
//! over a socket pair), and the tests of the query exchange against a scripted peer.
//!
//! The exchange tests run on each driver the build has ([`each_driver`]). Their peer is a
//! std socket that writes each reply before the query is sent (the socket's buffer holds
//! it), so neither driver waits on the test's own thread.

use pgcluster_protocol::frame::FrameReader;
use pgcluster_protocol::limits::Limits;
use pgcluster_protocol::startup::Ready;
use std::future::Future;
use std::io::Write;
use std::os::unix::net::UnixStream;

use super::*;
use crate::driver::Kind;
use crate::error::Error;
use crate::io_text::SERVER_CLOSED;
use crate::transport::Stream;

/// What a trust login's startup ends with (for tests that fake a connection).
pub(crate) fn ready() -> Ready {
    // `Ready` is non-exhaustive; build it the only way another crate can.
    let frames = [
        (b'R', &[0u8, 0, 0, 0][..]),
        (b'S', b"server_version\x0015.18\x00"),
        (b'K', &[0, 0, 0, 42, 0, 0, 0, 7]),
        (b'Z', b"I"),
    ];
    let mut machine = pgcluster_protocol::startup::Startup::new(
        pgcluster_protocol::startup::StartupConfig::new("u"),
    );
    let mut out = Vec::new();
    machine.start(&mut out).unwrap();
    for (tag, body) in frames {
        let frame = pgcluster_protocol::frame::Frame {
            tag,
            body: pgcluster_protocol::buffer::Bytes::copy_from_slice(body),
        };
        if let pgcluster_protocol::startup::Step::Done(r) = machine.handle(frame, &mut out).unwrap()
        {
            return r;
        }
    }
    panic!("startup did not finish");
}

/// One backend message: type byte, length word, body.
pub(crate) fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend_from_slice(&u32::try_from(body.len() + 4).unwrap().to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// A connection just after startup on driver `kind`, and the server's end of its socket
/// (a std socket, written to without blocking). Called inside [`Kind::run`] (tokio
/// registers the socket with the running runtime).
pub(crate) fn connected(kind: Kind) -> (Connection, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    let conn = Connection::from_parts(
        stream(kind, a),
        FrameReader::new(Limits::default()),
        ready(),
    );
    (conn, b)
}

/// The client's end of a socket pair on driver `kind`.
fn stream(kind: Kind, a: UnixStream) -> Stream {
    match kind {
        #[cfg(feature = "blocking")]
        Kind::Blocking => Stream::from(a),
        #[cfg(feature = "async")]
        Kind::Async => {
            a.set_nonblocking(true).unwrap();
            Stream::from(tokio::net::UnixStream::from_std(a).unwrap())
        }
    }
}

/// Runs `test` on each driver of the build, as that driver's API runs it.
pub(crate) fn each_driver<F: Future<Output = ()>>(test: impl Fn(Kind) -> F) {
    for kind in Kind::all() {
        kind.run(test(kind));
    }
}

// Dropping a query half way needs a timer that can drop the future: tokio's.
#[cfg(feature = "async")]
#[test]
fn a_query_dropped_half_way_breaks_the_connection() {
    Kind::Async.run(async {
        let (mut conn, _b) = connected(Kind::Async);
        // The peer never answers: the query is still waiting when the timeout drops it.
        let cancelled =
            tokio::time::timeout(std::time::Duration::ZERO, conn.simple_query("select 1")).await;
        assert!(cancelled.is_err());
        assert_eq!(conn.state(), State::Open);
        assert_eq!(conn.simple_query("select 1").await, Err(Error::Closed));
        assert_eq!(conn.state(), State::Broken);
    });
}

#[test]
fn repr_state_and_parameters() {
    each_driver(|kind| async move {
        let (mut conn, _b) = connected(kind);
        conn.set_dsn("dbname=deploy_demo".into());
        let repr = conn.repr();
        let addr = format!("{:p}", &conn);
        assert_eq!(
            repr,
            format!("<connection object at {addr}; dsn: 'dbname=deploy_demo', closed: 0>")
        );
        assert_eq!(conn.parameter("server_version"), Some("15.18"));
        assert_eq!(conn.backend_pid(), Some(42));
        conn.close().await;
        assert_eq!(conn.state(), State::Closed);
        assert!(conn.repr().ends_with(", closed: 1>"));
        assert_eq!(
            format!("{conn:?}"),
            "Connection { dsn: \"dbname=deploy_demo\", state: Closed, backend_pid: Some(42), .. }"
        );
        assert_eq!(conn.simple_query("select 1").await, Err(Error::Closed));
    });
}

#[test]
fn rows_nulls_notices_and_server_close_after_fatal() {
    each_driver(|kind| async move {
        let (mut conn, mut b) = connected(kind);
        let mut reply = Vec::new();
        let mut t = vec![0, 1];
        t.extend_from_slice(b"x\0");
        t.extend_from_slice(&[
            0, 0, 0, 0, 0, 0, 0, 0, 0, 25, 255, 255, 255, 255, 255, 255, 0, 0,
        ]);
        reply.extend(msg(b'N', b"SNOTICE\0VNOTICE\0C00000\0Mhello\0\0"));
        reply.extend(msg(b'T', &t));
        reply.extend(msg(b'D', &[0, 1, 0, 0, 0, 1, b'a']));
        reply.extend(msg(b'D', &[0, 1, 255, 255, 255, 255]));
        reply.extend(msg(b'C', b"SELECT 2\0"));
        reply.extend(msg(b'I', b""));
        reply.extend(msg(b'Z', b"I"));
        b.write_all(&reply).unwrap();
        let results = conn.simple_query("select x; ").await.unwrap();
        assert_eq!(results.len(), 2);
        assert_eq!(
            results[0].rows,
            vec![vec![Some("a".to_owned())], vec![None]]
        );
        assert_eq!(results[0].tag, "SELECT 2");
        assert_eq!(results[0].columns[0].name, "x");
        assert_eq!(results[1].tag, "");
        let notices = conn.take_notices();
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].message.as_deref(), Some("hello"));

        b.write_all(&msg(
            b'E',
            b"SFATAL\0VFATAL\0C57P01\0Mterminating connection due to administrator command\0\0",
        ))
        .unwrap();
        drop(b);
        let err = conn.simple_query("select 1").await.unwrap_err();
        let Error::Query(e) = err else {
            panic!("not a query error: {err:?}")
        };
        assert_eq!(
            e.message,
            format!("FATAL:  terminating connection due to administrator command\n{SERVER_CLOSED}")
        );
        assert!(e.connection_lost);
        assert_eq!(conn.state(), State::Broken);
        assert!(conn.repr().ends_with(", closed: 2>"));
        assert_eq!(conn.simple_query("select 1").await, Err(Error::Closed));
    });
}

#[test]
fn lost_sync_breaks_and_bad_ready_for_query_ends_the_query() {
    each_driver(|kind| async move {
        let (mut conn, mut b) = connected(kind);
        b.write_all(&msg(b'Z', b"II")).unwrap();
        let err = conn.simple_query("select 1").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "Got an error from the database server:\n    message contents do not agree with length in message type \"Z\""
        );
        assert_eq!(conn.state(), State::Open);

        let mut reply = b"C".to_vec();
        reply.extend_from_slice(&40000u32.to_be_bytes());
        b.write_all(&reply).unwrap();
        let Err(Error::Query(e)) = conn.simple_query("select 1").await else {
            panic!("expected a query error")
        };
        assert_eq!(
            e.message,
            "lost synchronization with server: got message type \"C\", length 40000\n"
        );
        assert!(e.connection_lost);
        assert_eq!(conn.state(), State::Broken);
    });
}

#[test]
fn unknown_message_keeps_the_connection_and_eof_appends_server_closed() {
    each_driver(|kind| async move {
        let (mut conn, mut b) = connected(kind);
        let mut reply = msg(b'q', b"");
        reply.extend(msg(b'Z', b"I"));
        b.write_all(&reply).unwrap();
        let err = conn.simple_query("select 1").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "Got an error from the database server:\n    unexpected response from server; first received character was \"q\""
        );
        assert_eq!(conn.state(), State::Open);
        b.write_all(&msg(b'q', b"")).unwrap();
        drop(b);
        let err = conn.simple_query("select 1").await.unwrap_err();
        let Error::Query(e) = err else {
            panic!("not a query error: {err:?}")
        };
        assert_eq!(
            e.message,
            format!("unexpected response from server; first received character was \"q\"\n{SERVER_CLOSED}")
        );
    });
}

#[test]
fn the_server_reached_its_version_and_hot_standby() {
    each_driver(|kind| async move {
        let (mut conn, _peer) = connected(kind);
        // Made from parts: no host-list entry.
        assert_eq!((conn.host(), conn.port()), ("", 0));
        assert_eq!(conn.server_version(), Some("15.18"));
        assert_eq!(conn.server_version_num(), Some(150_018));
        assert_eq!(conn.in_hot_standby(), None, "not reported");
        for (version, num) in [
            ("18.6", Some(180_006)),
            ("15.14 (Debian 15.14-0+deb12u1)", Some(150_014)),
            ("18devel", Some(180_000)),
            ("17beta2", Some(170_000)),
            ("9.6.24", Some(90_600)),
            ("99999999999999999999", Some(u32::MAX)),
            ("x", None),
        ] {
            conn.set_parameter("server_version".into(), version.into());
            assert_eq!(conn.server_version_num(), num, "{version}");
        }
        conn.set_parameter("in_hot_standby".into(), "on".into());
        assert_eq!(conn.in_hot_standby(), Some(true));
        conn.set_parameter("in_hot_standby".into(), "off".into());
        assert_eq!(conn.in_hot_standby(), Some(false));
    });
}
