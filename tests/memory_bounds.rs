//! Memory per received byte (issue 17): for each flood a hostile server can send, the peak
//! of live heap bytes while the client takes it stays within a stated bound, a small
//! constant times the largest message plus a fixed amount, or a fixed amount where the
//! client keeps only a bounded part.
//!
//! Memory is measured in-process with a counting global allocator (this test binary's
//! own), not RSS: the count is exact and the same on a loaded machine. The floods come from
//! the scripted fake server (tests/fake_server/) on loopback, in this process: its script
//! is built before the measurement starts, so only what the client allocates counts (and
//! the fake server's few small buffers). The floods run one at a time (one lock), so that
//! no other test's allocations are counted.
//!
//! Before the fixes: a 10 MB ErrorResponse after AuthenticationOk took the CLI to 342 MB,
//! 100 000 one-KB notices at startup 157 MB, notifications during a query without end, a
//! pre-3.0 error without its NUL 700 MB in 20 s, and 50 000 ParameterStatus names 8.4 s.
//!
//! | flood | measured peak | bound asserted |
//! |---|---|---|
//! | ErrorResponse of 2M empty unknown fields (4 MiB) | 2.0x | 2x + 1 MiB |
//! | ErrorResponse with a 4 MiB message, at startup | 3.0x | 4x + 1 MiB |
//! | ErrorResponse with a 4 MiB message, to a query | 3.0x | 4x + 1 MiB |
//! | 20 000 one-KB notices at startup (20 MB) | 1.5 MB | 2 x 1 MiB + 2 MiB |
//! | 40 000 notices + 40 000 notifications of 1 KB in a query (80 MB) | 18.5 MB | 1.5 x 17 MiB + 2 MiB |
//! | 40 000 one-KB notices while waiting for a notification (40 MB) | 1.5 MB | 2 x 1 MiB + 2 MiB |
//! | 50 000 ParameterStatus names | 0.1 MB, refused at 1001 | 2 MiB, < 10 s |
//! | 100 000 updates of 999 names | 0.1 MB | 2 MiB, < 10 s |
//! | pre-3.0 error, 8 MiB without NUL | 0.06 MB, refused at 30000 B | 1 MiB |
//! | 400 `DROP DATABASE IF EXISTS` (a NOTICE each) on one Cluster | 0 B kept (676 B each before) | < 100 B each |

// The counting allocator is the one `unsafe` of the package outside its dependencies: an
// `unsafe impl GlobalAlloc` that passes every call on to `System`.
#![allow(unsafe_code)]
// On the blocking API (the floods are the same bytes for either driver).
#![cfg(feature = "blocking")]

mod fake_server;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use fake_server::{auth_ok, message, FakeServer, Script};
use pgcluster::blocking::Connection;
use pgcluster::connection::State;
use pgcluster::conninfo::{Config, Env, Resolved};
use pgcluster::error::ConnectError;
use pgcluster_protocol::limits::Limits;

/// The system allocator, counting the bytes live and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    /// Blocks this thread allocated (a `realloc` counts as one): the server's and the
    /// harness's other threads do not count.
    static BLOCKS: Cell<usize> = const { Cell::new(0) };
}

#[cfg(feature = "testing")]
fn blocks() -> usize {
    BLOCKS.with(Cell::get)
}

fn grew(n: usize) {
    // `try_with`: a thread being torn down may still allocate.
    let _ = BLOCKS.try_with(|b| b.set(b.get().saturating_add(1)));
    let now = LIVE.fetch_add(n, Ordering::Relaxed).saturating_add(n);
    PEAK.fetch_max(now, Ordering::Relaxed);
}

fn shrank(n: usize) {
    LIVE.fetch_sub(n, Ordering::Relaxed);
}

// SAFETY: every call is passed on to `System` unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is `System`'s.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is `System`'s.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract is `System`'s.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // Counted as the new block allocated before the old one is freed: realloc may
            // copy, and then both are live for a moment.
            grew(new_size);
            shrank(layout.size());
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One test at a time, from its first allocation to its last: the counters are the
/// process's.
static ALONE: Mutex<()> = Mutex::new(());

fn alone() -> MutexGuard<'static, ()> {
    ALONE.lock().unwrap_or_else(|e| e.into_inner())
}

const MIB: usize = 1 << 20;

/// Runs `f`; returns its result and the peak of live bytes above those live when it began.
fn peak_during<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let result = f();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    (result, peak)
}

fn resolve(conninfo: &str) -> Resolved {
    Config::parse(conninfo)
        .expect("conninfo parses")
        .resolve(&Env::empty().with("PGSSLMODE", "disable"))
        .expect("conninfo resolves")
}

/// Starts a fake server answering one connection with `reply`, then connects to it (the
/// blocking API) and runs `then` on the connection; returns what the connection gave, the
/// peak of live bytes meanwhile (the reply excluded: it was built before) and the time it
/// took. The caller holds [`alone`].
fn flood<R>(
    reply: Vec<u8>,
    then: impl FnOnce(Connection) -> R,
) -> (Result<R, ConnectError>, usize, Duration) {
    let server = FakeServer::start(Script::Reply(reply), 1);
    let config = resolve(&format!(
        "host=127.0.0.1 port={} user=u dbname=d connect_timeout=20",
        server.port
    ));
    let start = Instant::now();
    let (result, peak) = peak_during(|| Connection::connect(&config).map(then));
    let took = start.elapsed();
    drop(result.as_ref().err().map(ToString::to_string));
    server.join();
    (result, peak, took)
}

/// What a trust login's server sends up to its ReadyForQuery, with `extra` before it.
fn startup_with(extra: &[u8]) -> Vec<u8> {
    let mut out = auth_ok();
    out.extend(message(b'S', b"server_version\x0015.18\x00"));
    out.extend(message(b'K', &[0, 0, 0, 42, 0, 0, 0, 7]));
    out.extend_from_slice(extra);
    out.extend(message(b'Z', b"I"));
    out
}

fn notice(text: &str) -> Vec<u8> {
    message(
        b'N',
        format!("SNOTICE\0VNOTICE\0C00000\0M{text}\0\0").as_bytes(),
    )
}

/// An ErrorResponse after AuthenticationOk made of `n` empty fields of a code libpq does
/// not know (2 bytes each on the wire, 32 bytes each kept before the fix), then a message.
#[test]
fn error_of_unknown_fields_costs_about_its_size() {
    let _alone = alone();
    let n = 2 * MIB;
    let mut body = b"SFATAL\0VFATAL\0C28000\0".to_vec();
    for _ in 0..n {
        body.extend_from_slice(b"X\0");
    }
    body.extend_from_slice(b"Mno thanks\0\0");
    let size = body.len();
    let mut reply = auth_ok();
    reply.extend(message(b'E', &body));
    let (result, peak, _) = flood(reply, drop);
    let e = result.unwrap_err();
    assert_eq!(e.to_string(), "FATAL:  no thanks\n");
    // The reader's buffer, grown by doubling but never past the message's end (twice the
    // size while the last growth copies it), and a fixed amount.
    let bound = 2 * size + MIB;
    eprintln!("unknown fields: message {size} B, peak {peak} B, bound {bound} B");
    assert!(peak < bound, "peak {peak} B for a {size} B message");
}

/// An ErrorResponse after AuthenticationOk with one 4 MiB field: each copy of the text is
/// one more times the size (measured 3.0x at the peak: the fields in the walk's failures,
/// libpq's text of them being copied into the connect error's message, then the connect
/// error's own copy of the fields; the startup machine keeps its error as the frame, not
/// as a copy).
#[test]
fn error_with_a_large_message_costs_a_few_times_its_size() {
    let _alone = alone();
    let text = "m".repeat(4 * MIB);
    let body = format!("SFATAL\0VFATAL\0C28000\0M{text}\0\0");
    let size = body.len();
    let mut reply = auth_ok();
    reply.extend(message(b'E', body.as_bytes()));
    let (result, peak, _) = flood(reply, drop);
    let e = result.unwrap_err();
    // (Compared without printing 4 MiB on a failure.)
    assert!(e.to_string() == format!("FATAL:  {text}\n"), "libpq's text");
    let bound = 4 * size + MIB;
    eprintln!("large error: message {size} B, peak {peak} B, bound {bound} B");
    assert!(peak < bound, "peak {peak} B for a {size} B message");
}

/// 20 000 one-KB notices during startup (20 MB): the connection keeps the newest within
/// `max_notice_bytes` (1 MiB) and counts the others.
#[test]
fn notices_at_startup_are_bounded() {
    let _alone = alone();
    let count = 20_000;
    let text = "n".repeat(1000);
    let mut extra = Vec::new();
    for _ in 0..count {
        extra.extend(notice(&text));
    }
    extra.extend(notice("last"));
    let (result, peak, _) = flood(startup_with(&extra), |mut conn| {
        let dropped = conn.notices_dropped();
        let notices = conn.take_notices();
        (notices.len(), dropped, notices.last().cloned())
    });
    let (kept, dropped, last) = result.unwrap();
    assert_eq!(u64::try_from(kept).unwrap() + dropped, count + 1);
    assert_eq!(last.unwrap().message.as_deref(), Some("last"));
    let max = Limits::default().max_notice_bytes;
    let bound = 2 * max + 2 * MIB;
    eprintln!("startup notices: {count} × 1 KB, kept {kept}, peak {peak} B, bound {bound} B");
    assert!(peak < bound, "peak {peak} B");
}

/// Notices and notifications during a query, 40 MB of each: bounded by
/// `max_notice_bytes` and `max_notification_bytes`.
#[test]
fn notices_and_notifications_during_a_query_are_bounded() {
    let _alone = alone();
    let count: u64 = 40_000;
    let text = "n".repeat(1000);
    let mut body = b"\0\0\0\x09chan\0".to_vec();
    body.extend_from_slice(text.as_bytes());
    body.push(0);
    let notification = message(b'A', &body);
    let one_notice = notice(&text);
    let mut reply = startup_with(b"");
    for _ in 0..count {
        reply.extend_from_slice(&one_notice);
        reply.extend_from_slice(&notification);
    }
    reply.extend(message(b'C', b"SELECT 0\0"));
    reply.extend(message(b'Z', b"I"));
    let (result, peak, _) = flood(reply, |mut conn| {
        conn.simple_query("select").expect("the query's replies");
        let notices = conn.take_notices().len();
        let notifications = conn.take_notifications().len();
        (
            notices,
            conn.notices_dropped(),
            notifications,
            conn.notifications_dropped(),
        )
    });
    let (notices, notices_dropped, notifications, notifications_dropped) = result.unwrap();
    assert_eq!(u64::try_from(notices).unwrap() + notices_dropped, count);
    assert_eq!(
        u64::try_from(notifications).unwrap() + notifications_dropped,
        count
    );
    assert!(notices_dropped > 0 && notifications_dropped > 0);
    let limits = Limits::default();
    let kept = limits.max_notice_bytes + limits.max_notification_bytes;
    let bound = kept + kept / 2 + 2 * MIB;
    eprintln!(
        "query: {count} notices and notifications of 1 KB, kept {notices} and {notifications}, \
         peak {peak} B, bound {bound} B"
    );
    assert!(peak < bound, "peak {peak} B");
}

/// 50 000 ParameterStatus names during startup: refused at the 1001st, at once and with
/// little memory (before: 8.4 s, quadratic, half of it after connect_timeout).
#[test]
fn parameter_status_flood_is_refused_at_the_cap() {
    let _alone = alone();
    let mut extra = Vec::new();
    for i in 0..50_000 {
        extra.extend(message(b'S', format!("p{i}\0value\0").as_bytes()));
    }
    let (result, peak, took) = flood(startup_with(&extra), drop);
    assert_eq!(
        result.unwrap_err().to_string(),
        "server reported more than 1000 distinct parameters (ParameterStatus)\n"
    );
    let bound = 2 * MIB;
    eprintln!("parameters: 50 000 names, peak {peak} B, bound {bound} B, {took:?}");
    assert!(peak < bound, "peak {peak} B");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

/// 100 000 ParameterStatus messages for 999 names (under the cap of 1000 with
/// `server_version`): linear, so the connection opens at once (under 1 s here, unoptimised).
#[test]
fn parameter_status_updates_are_linear() {
    let _alone = alone();
    let mut extra = Vec::new();
    for i in 0..100_000 {
        extra.extend(message(
            b'S',
            format!("p{}\0value{i}\0", i % 999).as_bytes(),
        ));
    }
    let (result, peak, took) = flood(startup_with(&extra), |conn| {
        conn.parameter("p998").map(str::to_owned)
    });
    assert_eq!(result.unwrap().as_deref(), Some("value99899"));
    let bound = 2 * MIB;
    eprintln!("parameter updates: 100 000 for 999 names, peak {peak} B, {took:?}");
    assert!(peak < bound, "peak {peak} B");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

/// A pre-3.0 error (`E` then text) with no NUL in 8 MB: refused after 30000 bytes, where
/// libpq 13 reads on (700 MB in 20 s).
#[test]
fn pre_v3_error_without_its_nul_is_refused() {
    let _alone = alone();
    let mut reply = b"EFATAL:  ".to_vec();
    reply.resize(8 * MIB, b'x');
    let (result, peak, _) = flood(reply, drop);
    assert_eq!(
        result.unwrap_err().to_string(),
        "pre-3.0 error message from server has no end within 30000 bytes\n"
    );
    let bound = MIB;
    eprintln!("pre-3.0 error: 8 MiB without NUL, peak {peak} B, bound {bound} B");
    assert!(peak < bound, "peak {peak} B");
}

/// An ErrorResponse to a query, with one 4 MiB field: the query error holds its text and
/// its fields (measured 3.0x at the peak, with the reader's buffer).
#[test]
fn query_error_with_a_large_message_costs_a_few_times_its_size() {
    let _alone = alone();
    let text = "m".repeat(4 * MIB);
    let body = format!("SERROR\0VERROR\0C42000\0M{text}\0\0");
    let size = body.len();
    let mut reply = startup_with(b"");
    reply.extend(message(b'E', body.as_bytes()));
    reply.extend(message(b'Z', b"I"));
    let (result, peak, _) = flood(reply, |mut conn| {
        let e = conn.simple_query("select").unwrap_err();
        (e, conn.state())
    });
    let (e, state) = result.unwrap();
    assert_eq!(state, State::Open);
    // (Compared without printing 4 MiB on a failure.)
    let message = e.server_error().and_then(|f| f.message.as_deref());
    assert!(message == Some(text.as_str()), "the server's message");
    let bound = 4 * size + MIB;
    eprintln!("query error: message {size} B, peak {peak} B, bound {bound} B");
    assert!(peak < bound, "peak {peak} B for a {size} B message");
}

/// The whole startup exchange is inside `connect_timeout`: a server that floods
/// ParameterStatus updates after AuthenticationOk and never sends ReadyForQuery is given
/// up on when the timeout expires (before the fix, half of a 50 000-name flood's work ran
/// after it, once ReadyForQuery had come).
#[test]
fn parameter_status_flood_without_ready_times_out() {
    let _alone = alone();
    let mut reply = auth_ok();
    for i in 0..100_000 {
        reply.extend(message(
            b'S',
            format!("p{}\0value{i}\0", i % 999).as_bytes(),
        ));
    }
    let server = FakeServer::start(Script::Reply(reply), 1);
    let config = resolve(&format!(
        "host=127.0.0.1 port={} user=u dbname=d connect_timeout=2",
        server.port
    ));
    let start = Instant::now();
    let e = Connection::connect(&config).unwrap_err();
    let took = start.elapsed();
    assert_eq!(e.to_string(), "timeout expired\n");
    eprintln!("parameter flood without ReadyForQuery: timed out after {took:?}");
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    server.join();
}

/// A Cluster's pooled connection keeps no notices: 400 `DROP DATABASE IF EXISTS` of a
/// missing database (each a NOTICE "does not exist, skipping") leave the live bytes where
/// they were (before: about 0.72 KB more for each).
#[cfg(feature = "testing")]
#[test]
fn a_clusters_pooled_connection_keeps_no_notices() {
    use pgcluster::cluster::DropOptions;

    let _alone = alone();
    let server = pgcluster::testing::TestServer::shared().expect("a throwaway server");
    let cluster = pgcluster::blocking::Cluster::new("pgsql:///postgres")
        .expect("the setting")
        .with_env(server.env());
    let options = DropOptions::new().if_exists(true);
    let drop_missing = || {
        cluster
            .drop_database_with("memory_bounds_never_there", &options)
            .expect("DROP DATABASE IF EXISTS");
    };
    // The pool and every cache warmed up first.
    for _ in 0..20 {
        drop_missing();
    }
    let before = LIVE.load(Ordering::Relaxed);
    let count = 400;
    for _ in 0..count {
        drop_missing();
    }
    let grown = LIVE.load(Ordering::Relaxed).saturating_sub(before);
    eprintln!("{count} drops on one Cluster: {grown} B more live");
    assert!(grown < count * 100, "{grown} B more after {count} drops");
}

/// A query run again on the same connection allocates a fixed few blocks: with
/// `simple_query_rows`, the result's buffer and the vector of results (the columns and the
/// command tag are shared with the connection's memo of the last reply); with
/// `simple_query`, a `String` per value and per column name and the vectors around them.
#[cfg(feature = "testing")]
#[test]
fn a_repeated_one_row_query_allocates_a_fixed_few_blocks() {
    let _alone = alone();
    let server = pgcluster::testing::TestServer::shared().expect("a throwaway server");
    let config = Config::parse("dbname=postgres")
        .and_then(|c| c.resolve(&server.env()))
        .expect("the setting");
    let mut conn = Connection::connect(&config).expect("connects");
    let count = 200;
    let blocks_in_count_queries = |conn: &mut Connection, rows: bool| {
        let run = |conn: &mut Connection| {
            if rows {
                let results = conn.simple_query_rows("SELECT 1").expect("SELECT 1");
                let value = results[0].get(0).and_then(|r| r.get_bytes(0));
                assert_eq!(value, Some(&b"1"[..]));
            } else {
                let results = conn.simple_query("SELECT 1").expect("SELECT 1");
                assert_eq!(results[0].rows[0][0].as_deref(), Some("1"));
            }
        };
        // Warmed up first: the memo, the connection's buffers.
        for _ in 0..3 {
            run(conn);
        }
        let before = blocks();
        for _ in 0..count {
            run(conn);
        }
        blocks().saturating_sub(before)
    };
    // Totals, not averages: one stray block in any query shows.
    let compact = blocks_in_count_queries(&mut conn, true);
    let strings = blocks_in_count_queries(&mut conn, false);
    eprintln!("blocks in {count} SELECT 1: {compact} in Rows, {strings} as strings");
    // Rows: its buffer and the result vector.
    assert_eq!(compact, 2 * count, "Rows");
    // Strings: the column vector and its name, the tag, the rows, the row, the value, the
    // result vector.
    assert_eq!(strings, 7 * count, "strings");
}

/// 40 000 one-KB notices while waiting for a notification (idle, as a pooled connection
/// is between operations): bounded as during a query, then the notification is returned.
#[test]
fn notices_while_waiting_for_a_notification_are_bounded() {
    let _alone = alone();
    let count: u64 = 40_000;
    let one_notice = notice(&"n".repeat(1000));
    let mut reply = startup_with(b"");
    for _ in 0..count {
        reply.extend_from_slice(&one_notice);
    }
    reply.extend(message(b'A', b"\0\0\0\x09chan\0done\0"));
    let (result, peak, _) = flood(reply, |mut conn| {
        let n = conn
            .wait_for_notification(Duration::from_secs(20))
            .expect("the wait")
            .expect("a notification");
        (n.payload, conn.take_notices().len(), conn.notices_dropped())
    });
    let (payload, kept, dropped) = result.unwrap();
    assert_eq!(payload, "done");
    assert_eq!(u64::try_from(kept).unwrap() + dropped, count);
    let bound = 2 * Limits::default().max_notice_bytes + 2 * MIB;
    eprintln!("idle: {count} notices of 1 KB, kept {kept}, peak {peak} B, bound {bound} B");
    assert!(peak < bound, "peak {peak} B");
}
