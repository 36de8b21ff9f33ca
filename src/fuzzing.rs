//! Harness functions for the `fuzz/` targets whose code is crate-private. Not a stable
//! API (hidden from the docs).
//!
//! Compiled only with the `fuzzing` feature (which `fuzz/` turns on) and in tests, so the
//! library itself never contains these panicking checks. Each function takes arbitrary
//! bytes and asserts invariants, not only "no panic".
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a fuzz harness reports a broken invariant by panicking"
)]

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::conninfo::{Config, Env};
use crate::engine::attempt::OpenStage;
use crate::engine::connect::{Action, Connect};

/// The password every configuration uses: it must never appear in a message.
const PASSWORD: &str = "fuzz-sekret-pw";

/// The configurations the first input byte picks from: several hosts, names to look up,
/// Unix sockets, every `sslmode`, direct TLS, `target_session_attrs` checks (and
/// `prefer-standby`'s second pass), `connect_timeout`
/// (good and bad), bad ports and keepalive settings.
const CONFIGS: &[&str] = &[
    "host=127.0.0.1 user=u dbname=d sslmode=disable",
    "host=db.example,127.0.0.1 user=u dbname=d connect_timeout=2 sslmode=prefer",
    "host=a.example,b.example,/tmp port=5432,5433,5434 user=u dbname=d connect_timeout=3 sslmode=allow target_session_attrs=read-write",
    "host=127.0.0.1,127.0.0.2 user=u dbname=d sslmode=require connect_timeout=2",
    "host=localhost hostaddr=127.0.0.1 user=u dbname=d sslmode=verify-full sslnegotiation=direct",
    "host=/tmp,127.0.0.1 user=u dbname=d connect_timeout=abc sslmode=prefer",
    "host=db.example,127.0.0.1,x.example port=1,99999,x user=u dbname=d sslmode=disable",
    "host=db.example user=u dbname=d keepalives_idle=x connect_timeout=2",
    "host=127.0.0.1,db.example user=u dbname=d target_session_attrs=read-write sslmode=prefer",
    "host=db.example user=u dbname=d sslmode=require channel_binding=require require_auth=scram-sha-256",
    "host=127.0.0.1,db.example,/tmp user=u dbname=d target_session_attrs=prefer-standby sslmode=prefer connect_timeout=2",
    "host=db.example,127.0.0.1 user=u dbname=d target_session_attrs=primary sslmode=disable",
    "host=db.example,127.0.0.1,/tmp user=u dbname=d load_balance_hosts=random target_session_attrs=standby sslmode=prefer",
];

/// Input bytes, read one at a time; zeros once they run out.
struct Input<'a> {
    data: &'a [u8],
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// Drives the connect machine with results drawn from `data`: lookups that fail or give
/// 0..=3 addresses, opens that fail at any stage or time out, TLS that fails or succeeds,
/// writes that fail, reads of arbitrary bytes, EOF, I/O errors and timeouts, missing
/// nonces, and a clock that jumps forward by arbitrary steps.
///
/// Invariants: no panic; Done or Failed within a bound of steps linear in the input;
/// the deadlines seen never go backwards, and no I/O of an attempt is asked for at or
/// past its deadline; sockets are opened one at a time and only used while open; Done
/// leaves an open socket, TLS exactly when a handshake succeeded on it; Failed's message
/// is the replay of the failures gathered, ends in a newline when not empty, and never
/// holds the password (unless the server's bytes did).
pub fn engine_connect(data: &[u8]) {
    let _ = run_engine_connect(data);
}

/// How a run of [`engine_connect`] ended.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    Done,
    /// With libpq's whole message.
    Failed(String),
}

fn run_engine_connect(data: &[u8]) -> Ending {
    let mut input = Input { data };
    let conninfo = CONFIGS[usize::from(input.byte()) % CONFIGS.len()];
    let config = Config::parse(&format!("{conninfo} password={PASSWORD}"))
        .and_then(|c| c.resolve(&Env::empty()))
        .expect("the harness's own settings parse");
    // The shuffles' seed (load_balance_hosts=random) varies with the input, without
    // taking a byte from it.
    let seed = u64::try_from(data.len()).unwrap_or_default();
    let mut conn = Connect::new(config, seed);
    let start = Instant::now();
    let mut now = start;
    let max_steps = 400 + 8 * data.len();
    let mut socket_open = false;
    let mut tls = false;
    let mut last_deadline: Option<Instant> = None;
    let mut terminate = Vec::new();
    pgcluster_protocol::frontend::terminate(&mut terminate);
    for _ in 0..max_steps {
        // The clock: mostly small steps, sometimes seconds.
        let step = input.byte();
        now += match step {
            0..=199 => Duration::from_micros(u64::from(step)),
            200..=249 => Duration::from_millis(u64::from(step - 200) * 100),
            _ => Duration::from_secs(u64::from(step - 249)),
        };
        let action = conn.poll(now);
        let deadline = conn.deadline();
        if let Some(d) = deadline {
            if let Some(last) = last_deadline {
                assert!(d >= last, "a deadline went backwards");
            }
            last_deadline = Some(d);
        }
        let in_attempt_io = match &action {
            Action::OpenTcp { .. } | Action::OpenUnix { .. } | Action::Receive | Action::Nonce => {
                true
            }
            #[cfg(feature = "tls")]
            Action::StartTls { .. } => true,
            Action::Send(bytes) => *bytes != terminate,
            _ => false,
        };
        if in_attempt_io {
            if let Some(d) = deadline {
                assert!(now < d, "I/O asked for past the deadline: {action:?}");
            }
        }
        match action {
            Action::Resolve { host, port } => {
                assert!(
                    host.parse::<IpAddr>().is_err(),
                    "a numeric host is not looked up"
                );
                let b = input.byte();
                let result = if b % 4 == 0 {
                    Err(io::Error::other(
                        "failed to lookup address information: Name or service not known",
                    ))
                } else {
                    Ok((0..(b >> 2) % 4)
                        .map(|i| SocketAddr::new(IpAddr::from([10, 0, 0, i]), port))
                        .collect())
                };
                conn.handle_resolved(now, result);
            }
            Action::OpenTcp { .. } | Action::OpenUnix { .. } => {
                assert!(!socket_open, "a socket opened while another is open");
                let b = input.byte();
                let stage = match b % 8 {
                    0 | 1 => None,
                    2 | 5 => Some(OpenStage::Socket),
                    3 => Some(OpenStage::SetOption("TCP_KEEPIDLE")),
                    4 => Some(OpenStage::NoDelay),
                    6 => {
                        now = deadline.unwrap_or(now);
                        conn.handle_timeout(now);
                        continue;
                    }
                    _ => Some(OpenStage::Connect),
                };
                match stage {
                    None => {
                        socket_open = true;
                        tls = false;
                        conn.handle_opened(now, Ok(()));
                    }
                    Some(stage) => {
                        conn.handle_opened(now, Err((stage, io::Error::from_raw_os_error(111))))
                    }
                }
            }
            #[cfg(feature = "tls")]
            Action::StartTls { host } => {
                assert!(socket_open && !tls, "TLS started without a plain socket");
                let _ = host;
                use crate::tls::TlsError;
                match input.byte() % 5 {
                    0 => conn.handle_tls(
                        now,
                        Err(TlsError::Handshake("certificate verify failed".to_owned())),
                    ),
                    // TLS is up; only the channel-binding hash could not be computed.
                    1 => {
                        tls = true;
                        conn.handle_tls(now, Ok(Err(TlsError::SignatureAlgorithm)));
                    }
                    2 => {
                        now = deadline.unwrap_or(now);
                        conn.handle_timeout(now);
                    }
                    _ => {
                        tls = true;
                        conn.handle_tls(now, Ok(Ok(vec![0x5a; 32])));
                    }
                }
            }
            Action::Send(bytes) => {
                assert!(socket_open, "a write without a socket");
                assert!(!bytes.is_empty(), "an empty write");
                let secret = PASSWORD.as_bytes();
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret)
                        || bytes.first() == Some(&b'p'),
                    "the password outside a password message"
                );
                match input.byte() % 16 {
                    15 => conn.handle_io_error(now, io::Error::from_raw_os_error(32)),
                    14 => {
                        now = deadline.unwrap_or(now);
                        conn.handle_timeout(now);
                    }
                    _ => {}
                }
            }
            Action::Receive => {
                assert!(socket_open, "a read without a socket");
                if input.is_empty() {
                    conn.handle_eof(now);
                    continue;
                }
                let b = input.byte();
                match b {
                    0 => conn.handle_eof(now),
                    1 => conn.handle_io_error(now, io::Error::from_raw_os_error(104)),
                    2 => {
                        now = deadline.unwrap_or(now + Duration::from_secs(1));
                        conn.handle_timeout(now);
                    }
                    n => {
                        let chunk = input.take(usize::from(n - 2)).to_vec();
                        conn.handle_received(now, &chunk);
                    }
                }
            }
            Action::Nonce => {
                assert!(socket_open, "a nonce without a socket");
                let nonce = (input.byte() != 0xff).then_some([7u8; 18]);
                conn.handle_nonce(now, nonce);
            }
            Action::Close => {
                assert!(socket_open, "a close without a socket");
                socket_open = false;
                tls = false;
            }
            Action::Done(established) => {
                assert!(socket_open, "Done without a socket");
                assert_eq!(established.tls, tls);
                return Ending::Done;
            }
            Action::Failed(e) => {
                assert!(!socket_open, "Failed with a socket left open");
                assert_eq!(e.message, conn.failures().render().0);
                assert!(e.message.is_empty() || e.message.ends_with('\n'));
                // Unless the server's own bytes held it (its texts are shown as sent).
                let secret = PASSWORD.as_bytes();
                let from_server = data.windows(secret.len()).any(|w| w == secret);
                assert!(
                    from_server || !e.message.contains(PASSWORD),
                    "the password in a message"
                );
                // Terminal: it stays failed.
                assert!(matches!(conn.poll(now), Action::Failed(_)));
                return Ending::Failed(e.message);
            }
        }
    }
    panic!("no Done or Failed within {max_steps} steps");
}

// The harness's configurations ask for TLS (`sslmode=require`, direct TLS), which a build
// without `tls` refuses when the settings are resolved.
#[cfg(all(test, feature = "tls"))]
mod tests {
    use super::{run_engine_connect, Ending};

    /// The committed seeds reach where their names say (so the fuzzer starts from
    /// connections that get through startup, SCRAM, TLS and the read-write test), the
    /// failed ones with libpq's message.
    #[test]
    fn engine_connect_seeds_reach_their_ends() {
        let seed = |name: &str| {
            std::fs::read(format!(
                "{}/fuzz/corpus/engine_connect/{name}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap()
        };
        let failed = |message: &str| Ending::Failed(message.to_owned());
        for (name, ending) in [
            ("trust_disable", Ending::Done),
            ("scram", Ending::Done),
            ("scram_without_nonce", failed("could not generate nonce\n")),
            ("tls_require", Ending::Done),
            ("prefer_refused_then_plain", Ending::Done),
            ("read_only_then_next", Ending::Done),
            ("fatal", failed("FATAL:  no pg_hba.conf entry\n")),
            ("stall", failed("timeout expired\n")),
        ] {
            assert_eq!(run_engine_connect(&seed(name)), ending, "{name}");
        }
    }

    /// The rows harness over its committed seeds (two columns with NULLs and empties,
    /// seventy rows past the index steps, no columns, mismatched counts, long values).
    #[test]
    fn rows_seeds_hold() {
        for (name, pushed) in [
            ("two_columns", 4),
            ("one_column_many", 70),
            ("no_columns", 3),
            ("mismatched_counts", 2),
            ("long_value", 2),
        ] {
            let path = format!("{}/fuzz/corpus/rows/{name}", env!("CARGO_MANIFEST_DIR"));
            assert_eq!(super::rows(&std::fs::read(path).unwrap()), pushed, "{name}");
        }
    }

    /// The exchange harness ends on a plain query's replies, after a violation, and on a
    /// malformed ReadyForQuery; it runs out on replies with no ReadyForQuery.
    #[test]
    fn engine_exchange_reaches_its_ends() {
        // Tags are indexes into the harness's table: T=0, D=1, C=2, Z=5.
        let mut select = vec![0u8]; // a simple query
        select.extend_from_slice(&[2, 9]);
        select.extend_from_slice(b"SELECT 0\0");
        select.extend_from_slice(&[5, 1, b'I']);
        assert!(super::engine_exchange(&select));
        let mut violation = vec![0u8, 1, 0]; // a DataRow before any RowDescription
        violation.extend_from_slice(&[0, 0, 5, 1, b'I']);
        assert!(super::engine_exchange(&violation));
        assert!(super::engine_exchange(&[0, 5, 1, b'?'])); // malformed ReadyForQuery
        assert!(!super::engine_exchange(&[0, 2, 9]));
        // The committed seeds all end.
        for name in ["select", "violation", "malformed_ready", "extended"] {
            let path = format!(
                "{}/fuzz/corpus/engine_exchange/{name}",
                env!("CARGO_MANIFEST_DIR")
            );
            assert!(
                super::engine_exchange(&std::fs::read(path).unwrap()),
                "{name}"
            );
        }
    }

    /// The harness over inputs from a small generator: every configuration, many shapes.
    #[test]
    fn engine_connect_invariants_hold() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for len in 0..3000usize {
            let mut data = Vec::with_capacity(len % 300);
            for _ in 0..len % 300 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                data.push(seed.to_le_bytes()[0]);
            }
            if let Some(first) = data.first_mut() {
                *first = u8::try_from(len % 256).unwrap();
            }
            super::engine_connect(&data);
        }
    }
}

/// A connection string that parses is rendered back to one that parses to the same
/// settings, passwords included (`Config::render_with_secrets`, crate-private); its
/// redacted rendering parses to the same settings with every secret (`password`,
/// `sslpassword`) `xxx`; and neither the redacted rendering nor `Debug` shows a secret of
/// four bytes or more (unless the other settings' values hold the same text).
pub fn conninfo_round_trip(text: &str) {
    let Ok(config) = Config::parse(text) else {
        return;
    };
    let rendered = config.render_with_secrets();
    assert_eq!(
        Config::parse(&rendered).as_ref(),
        Ok(&config),
        "{rendered:?} does not parse back to the settings of {text:?}"
    );
    let mut masked = config.clone();
    for key in ["password", "sslpassword"] {
        if config.get(key).is_some() {
            masked.set(key, crate::conninfo::redact::MASK).unwrap();
        }
    }
    let redacted = config.render_redacted();
    assert_eq!(
        Config::parse(&redacted).as_ref(),
        Ok(&masked),
        "{redacted:?}"
    );
    let debug = format!("{config:?}");
    for key in ["password", "sslpassword"] {
        let Some(secret) = config.get(key).filter(|s| s.len() >= 4) else {
            continue;
        };
        // The other values may hold the same text (or Debug's escapes of them may).
        if !masked.render_with_secrets().contains(secret) {
            assert!(!redacted.contains(secret), "{redacted:?} shows {key}");
        }
        if !format!("{masked:?}").contains(secret) {
            assert!(!debug.contains(secret), "{debug:?} shows {key}");
        }
    }
}

/// The rows decoder (`crate::rows`) on arbitrary DataRow bodies: `data[0] % 9` columns
/// (named `c0`, `c1`, ...), then bodies each as a 2-byte length and that many bytes. A
/// body that parses as a DataRow with the columns' count is pushed, as the query machine
/// does (it refuses the others). Then: as many rows as pushed; iteration gives back every
/// value, NULLs as NULLs; [`Rows::get`](crate::rows::Rows::get) agrees with iteration for
/// every index, and is `None` past the end; by name, a column is its position's value; the
/// buffer holds the values and at most 5 bytes of length each (LEB128 of a `u32`).
/// Returns how many rows were pushed.
pub fn rows(data: &[u8]) -> usize {
    use pgcluster_protocol::backend::{DataRow, FieldDescription, RowDescription};
    use pgcluster_protocol::buffer::Bytes;

    use crate::rows::{text_column, Rows};

    let Some((&width, mut rest)) = data.split_first() else {
        return 0;
    };
    let width = usize::from(width % 9);
    let columns: Vec<FieldDescription> =
        (0..width).map(|i| text_column(&format!("c{i}"))).collect();
    let mut rows = Rows::new(std::sync::Arc::new(RowDescription { fields: columns }));
    let mut pushed: Vec<Vec<Option<Vec<u8>>>> = Vec::new();
    while let [a, b, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*a, *b])).min(tail.len());
        let (body, next) = tail.split_at(len);
        rest = next;
        let Ok(row) = DataRow::parse(&Bytes::from(body.to_vec())) else {
            continue;
        };
        if row.len() != width {
            continue;
        }
        rows.push(&row);
        pushed.push(row.values().map(|v| v.map(<[u8]>::to_vec)).collect());
    }
    assert_eq!(rows.len(), pushed.len());
    let mut iterated = 0;
    for (i, (row, expected)) in rows.iter().zip(&pushed).enumerate() {
        let got: Vec<Option<Vec<u8>>> = row.values().map(|v| v.map(<[u8]>::to_vec)).collect();
        assert_eq!(&got, expected, "row {i}");
        let again = rows.get(i).expect("a row within the length");
        let by_index: Vec<Option<Vec<u8>>> =
            again.values().map(|v| v.map(<[u8]>::to_vec)).collect();
        assert_eq!(&by_index, expected, "get({i})");
        for (c, value) in expected.iter().enumerate() {
            assert_eq!(row.get_bytes(format!("c{c}").as_str()), value.as_deref());
            assert_eq!(row.is_null(c), value.is_none());
        }
        iterated += 1;
    }
    assert_eq!(iterated, pushed.len());
    assert!(rows.get(pushed.len()).is_none());
    let values: usize = pushed.iter().map(Vec::len).sum();
    let bytes: usize = pushed.iter().flatten().flatten().map(Vec::len).sum();
    assert!(
        rows.data_len() <= bytes + 5 * values,
        "{} bytes held",
        rows.data_len()
    );
    pushed.len()
}

/// Drives one query's `Exchange` (`src/engine/exchange.rs`) with replies drawn
/// from `data`: a simple query, or an extended batch of 0..=7 drawn steps; then frames,
/// each a tag (mostly one a query's replies use), a length byte and that many body bytes.
///
/// Invariants: no panic; at most one violation, whose text ends in a newline; after it,
/// nothing is reported until ReadyForQuery; a ReadyForQuery after a violation carries no
/// status; the first ReadyForQuery ends the exchange, which then gives its memo back.
/// Returns whether the exchange ended.
pub fn engine_exchange(data: &[u8]) -> bool {
    use pgcluster_protocol::frame::Frame;
    use pgcluster_protocol::query::{ExtendedQuery, Memo, Sent, SimpleQuery};

    use crate::engine::exchange::{Exchange, Machine, Step};

    const TAGS: &[u8] = b"TDCIEZNSAGHdcf123tnsK";
    const SENT: [Sent; 6] = [
        Sent::Parse,
        Sent::Bind,
        Sent::DescribeStatement,
        Sent::DescribePortal,
        Sent::Execute,
        Sent::Close,
    ];
    let mut input = Input { data };
    let first = input.byte();
    let machine = match first % 2 {
        0 => Machine::Simple(SimpleQuery::new()),
        _ => {
            let sent: Vec<Sent> = (0..(first >> 1) % 8)
                .map(|_| SENT[usize::from(input.byte()) % SENT.len()])
                .collect();
            Machine::Extended(ExtendedQuery::new(&sent))
        }
    };
    let (mut machine, mut memo) = (machine, Memo::default());
    let mut exchange = Exchange::new(&mut machine, &mut memo);
    let mut violated = false;
    while !input.is_empty() {
        let tag = TAGS[usize::from(input.byte()) % TAGS.len()];
        let len = usize::from(input.byte());
        let frame = Frame::new(tag, input.take(len).to_vec());
        match exchange.handle(frame, |_| assert!(!violated, "a row after a violation")) {
            Step::Nothing => {}
            Step::Event(event) => assert!(!violated, "{event:?} after a violation"),
            Step::Violation(text) => {
                assert!(!violated, "a second violation: {text:?}");
                assert!(text.ends_with('\n'), "{text:?}");
                violated = true;
            }
            Step::Over { status, violation } => {
                assert!(
                    !(violated && status.is_some()),
                    "a status after a violation"
                );
                if let Some(text) = violation {
                    assert!(!violated && text.ends_with('\n'), "{text:?}");
                }
                exchange.finish(&mut memo);
                return true;
            }
        }
    }
    false
}
