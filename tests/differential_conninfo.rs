//! Differential testing of the settings parser against libpq itself.
//!
//! Connection strings are generated — `key=value` strings and `postgres://` URIs from a
//! structured generator, and mutations of a seed corpus — from a seeded PRNG (splitmix64),
//! so that a run is reproducible: `PGCLUSTER_DIFF_SEED` (default 17) and
//! `PGCLUSTER_DIFF_CASES` (default 120,000, about 10 s). The test is `#[ignore]`d, as it
//! needs python3 and both libpqs (fetched from PyPI on first use): `.ci/run` runs it in its
//! own step (`cargo test --all-features --test differential_conninfo -- --ignored`).
//!
//! Each case goes to [`Config::parse`] and to `PQconninfoParse` of two real libpqs, driven
//! by a Python co-process (`tests/differential/libpq_oracle.py`, ctypes, many cases a
//! round trip):
//!
//! - libpq 13.3, the reference of every text pgcluster prints (`shared/tools/rexref`'s
//!   `_libpq()`: the psycopg2-binary 2.9.1 wheel, cached in `~/.cache/rexref`);
//! - libpq 18.6 for the keywords libpq 13 did not have (`bash .ci/postgresql 18.6.0`
//!   prints its bin directory; the library is `../lib/libpq.so.5.18`).
//!
//! The answer expected of pgcluster is libpq 13's, unless libpq 13 refused a keyword that
//! pgcluster takes from a later libpq ([`NEWER`]): then it is libpq 18's. Both the
//! settings (every keyword's value) and the error texts must agree byte for byte; the only
//! differences allowed are the ones in [`DELIBERATE`], each with its reason. Every case is
//! also checked without libpq: the password never shows in an error, the redacted
//! rendering or `Debug`, and parse → render → parse is stable.
//!
//! A second run (`PGCLUSTER_DIFF_RESOLVE_CASES`, default 20,000) resolves settings with a
//! generated `PG*` environment, password files and service files ([`Config::resolve`])
//! and compares them with libpq 13's `PQconnectStart` (then `PQconninfo` and `PQpass`; the
//! hosts are socket directories that do not exist and numeric addresses, so nothing
//! waits): the option errors, and the user, database, password, hosts, ports, startup
//! options, sslmode, channel_binding and target_session_attrs resolved. The same again
//! (half as many cases) with libpq 18 for the later keywords (`require_auth`,
//! `min_protocol_version`, `max_protocol_version`, `load_balance_hosts`,
//! `sslnegotiation`, `sslsni`, `sslkeylogfile`, libpq 14's `target_session_attrs`), in the
//! setting and in their environment variables.
//!
//! A third run (`PGCLUSTER_DIFF_REX_CASES`, default 30,000) parses rex settings
//! (`pgsql://...`, htsql's form) with [`DbSetting::parse`] and with rexref's `DB` class
//! (htsql's own regular expression, `urllib.parse.unquote`, `int()`): the same fields,
//! the same `str(db)`, the same errors (the password masked).
//!
//! A fourth test connects (`PQconnectdb`, and pgcluster's blocking driver) to fake
//! servers that say they are PostgreSQL 13, so that the `target_session_attrs` check
//! asks with a query, which fails (an error, a lost connection) or gives either answer:
//! every value, over six walks of two servers, compared with libpq 13 for `read-write`
//! and libpq 18 for the values libpq 14 added.
#![cfg(feature = "fuzzing")]

mod fake_server;
#[path = "support/scratch.rs"]
mod scratch;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use fake_server::{auth_ok, message, FakeServer, Script};
use pgcluster::compat::rex::DbSetting;
use pgcluster::conninfo::{
    Config, ConnInfoError, Env, LoadBalanceHosts, TargetSessionAttrs, DEFAULT_SOCKET_DIR,
};
use scratch::Scratch;

/// The differences from libpq that are deliberate: (name, reason). Every case that differs
/// from libpq must fall under one of these; the run prints how many did.
const DELIBERATE: &[(&str, &str)] = &[
    (
        "password-masked",
        "a password is never echoed: where libpq quotes a URI or a token that holds the \
         password (an unclosed or empty `[` host, a bad `%` escape or `%00` in the password \
         or in a password/sslpassword query value), pgcluster shows the URI with the \
         password as `xxx`, or the token as `xxx`. A rex setting htsql refuses is quoted \
         with its user part's password and its password options masked (htsql quotes it \
         whole)",
    ),
    (
        "not-utf-8",
        "settings are Rust strings: percent-decoded bytes that are not UTF-8 become U+FFFD \
         (in values, and in the keyword quoted by `invalid URI query parameter`), and \
         `unexpected character \"%c\"` shows the whole character where libpq shows its \
         first byte only",
    ),
    (
        "later-keyword-not-implemented",
        "keywords of libpq 14–18 that pgcluster does not implement (sslcertmode, sslcrldir, \
         gssdelegation, scram_client_key, scram_server_key, oauth_*) are refused as unknown \
         (`invalid connection option`), as libpq 13 refuses them",
    ),
    (
        "uri-spaces-as-libpq-13",
        "a URI's spaces are read as libpq 13 reads them, kept where they are; libpq 17 \
         trims them at the ends of each component (keywords included) and refuses them \
         inside (`unexpected spaces found in \"%s\", use percent-encoded spaces (%20) \
         instead`). So a URI with a space and a later keyword, which only libpq 18 can \
         answer, is counted, not compared",
    ),
    (
        "target-session-attrs-of-libpq-14",
        "target_session_attrs takes libpq 14's values (read-only, primary, standby, \
         prefer-standby), which libpq 13 refuses (`invalid target_session_attrs value`); \
         their texts are libpq 18's (tests/conninfo_libpq18.rs)",
    ),
    (
        "nul-refused",
        "a NUL byte in a connection string, keyword or value is refused (`NUL byte in \
         connection info string`): libpq's strings end at it, so libpq would silently read \
         less than was given (`postgresql://h/db\\0?sslmode=require` loses its sslmode). \
         No libpq can be asked, so the generator writes no NUL; `nul_is_refused` checks it",
    ),
    (
        "tty-authtype-kept",
        "libpq 14 dropped `tty` and `authtype` (long ignored); pgcluster keeps \
         libpq 13's keyword table, so a string that mixes them with a keyword of libpq 14+ \
         has no libpq that parses it all (counted, not compared)",
    ),
];

/// Keywords pgcluster takes that libpq 13 did not have (libpq 14–18's).
const NEWER: &[&str] = &[
    "sslnegotiation",
    "sslsni",
    "require_auth",
    "min_protocol_version",
    "max_protocol_version",
    "load_balance_hosts",
    "sslkeylogfile",
];

/// The secret part of every generated password: no message may show it.
const SECRET: &str = "Sekr3tQ";

// ---------------------------------------------------------------------------------------
// The generator.

/// splitmix64: small, fast, and the same sequence on every machine.
/// The generator's state; `raw` records that a case was written with some value not
/// escaped, so that where its password ends is not known.
struct Rng {
    state: u64,
    raw: bool,
    /// How many broken escapes or raw special characters `component` wrote.
    broken: usize,
}

impl Rng {
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap()).unwrap()
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// libpq 13's keywords (the common ones weighted by repetition), `requiressl`, the later
/// ones pgcluster takes, later ones it does not, and no keyword at all.
const KEYWORDS: &[&str] = &[
    "host",
    "host",
    "host",
    "port",
    "port",
    "dbname",
    "dbname",
    "user",
    "user",
    "password",
    "password",
    "password",
    "sslpassword",
    "hostaddr",
    "passfile",
    "connect_timeout",
    "client_encoding",
    "options",
    "application_name",
    "fallback_application_name",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "sslmode",
    "sslmode",
    "requiressl",
    "sslcompression",
    "sslcert",
    "sslkey",
    "sslrootcert",
    "sslcrl",
    "requirepeer",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "gssencmode",
    "krbsrvname",
    "gsslib",
    "replication",
    "target_session_attrs",
    "channel_binding",
    "service",
    "authtype",
    "tty",
    // Later keywords pgcluster takes.
    "sslnegotiation",
    "sslsni",
    "require_auth",
    "min_protocol_version",
    "max_protocol_version",
    "load_balance_hosts",
    "sslkeylogfile",
    // Later keywords pgcluster does not take, and none at all.
    "sslcertmode",
    "gssdelegation",
    "oauth_issuer",
    "foo",
    "Host",
    "",
    "ssl",
    "pass word",
    "dbname ",
    "é",
    "servicefile",
];

/// Values: plain, spaced, quoted, escaped, numeric, lists, non-ASCII, and the keyword
/// values libpq checks.
const VALUES: &[&str] = &[
    "",
    "a",
    "x y",
    "it's",
    "back\\slash",
    "5432",
    "-1",
    "99999",
    "1,2",
    "/tmp",
    "h1,h2",
    "::1",
    "127.0.0.1",
    "é",
    "日本語",
    "a=b",
    "'",
    "\\",
    " ",
    "\t",
    "require",
    "disable",
    "verify-full",
    "prefer",
    "any",
    "read-write",
    "scram-sha-256",
    "!md5",
    "3.0",
    "3.2",
    "latest",
    "direct",
    "postgres",
    "1",
    "0",
    "true",
    "a b c",
    "%41",
    "a&b",
    "a?b",
    "a@b",
    "[::1]",
    "x'y'z",
    "''",
    "\\'",
    "a\\ b",
    "tab\there",
    "new\nline",
];

/// Characters the mutations insert and the values are built from.
const ALPHABET: &[char] = &[
    'a', 'Z', '0', '9', ' ', '\t', '\n', '\r', '\x0b', '\x0c', '=', '\'', '\\', '%', '@', ':', '/',
    '?', '&', '[', ']', ',', '#', '"', ';', '.', '-', '_', 'é', '€', '\u{a0}', '日', '\x01', '~',
    '+', '*',
];

fn random_text(rng: &mut Rng, max: usize) -> String {
    let n = rng.below(max + 1);
    (0..n).map(|_| *rng.pick(ALPHABET)).collect()
}

fn value(rng: &mut Rng, key: &str) -> String {
    let base = if rng.chance(70) {
        (*rng.pick(VALUES)).to_owned()
    } else {
        random_text(rng, 8)
    };
    if key.ends_with("password") {
        // A password always holds the secret, with what is around it drawn as any value.
        let tail = if rng.chance(50) {
            (*rng.pick(VALUES)).to_owned()
        } else {
            random_text(rng, 4)
        };
        return format!("{base}{SECRET}{tail}");
    }
    base
}

fn blanks(rng: &mut Rng, at_least: usize) -> String {
    let n = at_least + rng.below(3);
    (0..n)
        .map(|_| *rng.pick(&[' ', ' ', ' ', '\t', '\n', '\r', '\x0b', '\x0c']))
        .collect()
}

/// One `key=value` string.
fn key_value(rng: &mut Rng) -> String {
    let mut out = blanks(rng, 0);
    let pairs = 1 + rng.below(5);
    for n in 0..pairs {
        if n > 0 {
            out.push_str(&blanks(rng, 1));
        }
        let key = *rng.pick(KEYWORDS);
        out.push_str(key);
        if rng.chance(3) {
            continue; // no `=`
        }
        if rng.chance(15) {
            out.push_str(&blanks(rng, 1));
        }
        out.push('=');
        if rng.chance(15) {
            out.push_str(&blanks(rng, 1));
        }
        let v = value(rng, key);
        match rng.below(10) {
            // Quoted, escaping `\` and `'` (sometimes left unterminated).
            0..=3 => {
                out.push('\'');
                for c in v.chars() {
                    if c == '\\' || c == '\'' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                if rng.chance(3) {
                    rng.raw = true; // the next quote closes it
                } else {
                    out.push('\'');
                }
            }
            // Bare, escaping blanks, `\` and a leading `'` (an empty one takes what
            // follows the blanks after it as its value: `host= port=1`).
            4..=8 => {
                rng.raw |= v.is_empty();
                for (i, c) in v.chars().enumerate() {
                    if c == '\\' || c.is_ascii_whitespace() || c == '\x0b' || (i == 0 && c == '\'')
                    {
                        out.push('\\');
                    }
                    out.push(c);
                }
            }
            // As it is.
            _ => {
                rng.raw = true;
                out.push_str(&v);
            }
        }
    }
    out.push_str(&blanks(rng, 0));
    out
}

/// Percent-encodes what a URI component may not hold as it is, mostly; sometimes leaves
/// a character raw, encodes a harmless one, or writes a broken escape.
fn component(rng: &mut Rng, s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let special = !(c.is_ascii_alphanumeric() || "-._~".contains(c));
        if (special && !rng.chance(8)) || (!special && rng.chance(5)) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                if rng.chance(50) {
                    out.push_str(&format!("%{b:02X}"));
                } else {
                    out.push_str(&format!("%{b:02x}"));
                }
            }
        } else {
            rng.raw |= special;
            rng.broken += usize::from(special);
            out.push(c);
        }
    }
    if rng.chance(3) {
        let broken = *rng.pick(&["%", "%z", "%0", "%00", "%g1", "%4", "%FF", "%C3%28"]);
        let at = rng.below(out.len() + 1);
        if out.is_char_boundary(at) {
            out.insert_str(at, broken);
            rng.broken += 1;
        }
    }
    out
}

const HOSTS: &[&str] = &[
    "h1",
    "db.example",
    "127.0.0.1",
    "[::1]",
    "[fe80::1%25eth0]",
    "",
    "[]",
    "%2Ftmp",
    "%2Fvar%2Frun%2Fpostgresql",
    "[::1",
    "localhost",
    "h-2",
    "[::1]x",
    "é",
];

const PORTS: &[&str] = &["5432", "", "1", "65535", "99999", "x", "-1", " 5", "5432a"];

/// One `postgres://` or `postgresql://` URI.
fn uri(rng: &mut Rng) -> String {
    let mut out = (*rng.pick(&["postgresql://", "postgres://"])).to_owned();
    if rng.chance(50) {
        let user = value(rng, "user");
        out.push_str(&component(rng, &user));
        if rng.chance(70) {
            out.push(':');
            let password = value(rng, "password");
            out.push_str(&component(rng, &password));
        }
        out.push('@');
    }
    let hosts = rng.below(4);
    for n in 0..hosts {
        if n > 0 {
            out.push(',');
        }
        out.push_str(rng.pick::<&str>(HOSTS));
        if rng.chance(40) {
            out.push(':');
            out.push_str(rng.pick::<&str>(PORTS));
        }
    }
    if rng.chance(70) {
        out.push('/');
        let db = value(rng, "dbname");
        out.push_str(&component(rng, &db));
    }
    if rng.chance(60) {
        out.push('?');
        let params = rng.below(4);
        for n in 0..params {
            if n > 0 {
                out.push('&');
            }
            let key = *rng.pick(KEYWORDS);
            let before = rng.broken;
            out.push_str(&component(rng, key));
            // A key no longer `password` once written (a broken escape in it, or a special
            // character left raw) holds no password.
            if key.ends_with("password") && rng.broken > before {
                rng.raw = true;
            }
            match rng.below(30) {
                0 => continue, // no `=`
                1 => out.push_str("=a="),
                _ => {
                    out.push('=');
                    let v = value(rng, key);
                    out.push_str(&component(rng, &v));
                }
            }
        }
        if rng.chance(10) {
            out.push('&');
        }
    }
    out
}

/// Settings from the hand-written tests and libpq's documentation, for the mutations.
const SEEDS: &[&str] = &[
    "host=localhost port=5432 dbname=mydb connect_timeout=10",
    "host=/tmp port='5433' dbname=x user=u password='a b'",
    "  host = a   port=1 ",
    "a='x y\\'z\\\\'b=1",
    "postgresql://",
    "postgresql://localhost",
    "postgresql://localhost:5433",
    "postgresql://localhost/mydb",
    "postgresql://user@localhost",
    "postgresql://user:secret@localhost",
    "postgresql://other@localhost/otherdb?connect_timeout=10&application_name=myapp",
    "postgresql://host1:123,host2:456/somedb?target_session_attrs=any&application_name=myapp",
    "postgresql:///mydb?host=localhost&port=5433",
    "postgresql://[2001:db8::1234]/database",
    "postgresql:///dbname?host=/var/lib/postgresql",
    "postgresql://%2Fvar%2Flib%2Fpostgresql/dbname",
    "postgresql://us%20er:p%40ss@h1:1,[::1]:2,h3/d%2Fb?application_name=x%20y",
    "postgres://u:pw@h/x?pass%77ord=s&sslpassword=t&a=b",
    "postgresql:///db?ssl=true&requiressl=1",
    "host=h sslmode=verify-full sslnegotiation=direct require_auth=!md5,!password",
    "postgresql://h/db?load_balance_hosts=random&min_protocol_version=3.2",
    "service=app user=u options='-c search_path=x'",
];

fn mutate(rng: &mut Rng, corpus: &[String]) -> String {
    let mut chars: Vec<char> = rng.pick(corpus).chars().collect();
    for _ in 0..1 + rng.below(4) {
        let len = chars.len();
        match rng.below(6) {
            0 => chars.insert(rng.below(len + 1), *rng.pick(ALPHABET)),
            1 if len > 0 => {
                chars.remove(rng.below(len));
            }
            2 if len > 0 => chars[rng.below(len)] = *rng.pick(ALPHABET),
            3 if len > 0 => {
                let from = rng.below(len);
                let to = (from + 1 + rng.below(8)).min(len);
                let copy: Vec<char> = chars[from..to].to_vec();
                let at = rng.below(len + 1);
                chars.splice(at..at, copy);
            }
            4 => chars.truncate(rng.below(len + 1)),
            _ => {
                let other: Vec<char> = rng.pick(corpus).chars().collect();
                let from = rng.below(other.len() + 1);
                let at = rng.below(len + 1);
                chars.splice(at..at, other[from..].iter().copied());
            }
        }
    }
    chars.into_iter().collect()
}

/// A case, and whether its passwords are where the generator put them (so that the
/// secret may never show in an error).
struct Case {
    text: String,
    structured: bool,
}

fn cases(seed: u64, count: usize) -> Vec<Case> {
    let mut rng = Rng {
        state: seed,
        raw: false,
        broken: 0,
    };
    let mut corpus: Vec<String> = SEEDS.iter().map(|s| (*s).to_owned()).collect();
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        rng.raw = false;
        let case = match rng.below(20) {
            0..=7 => Case {
                text: key_value(&mut rng),
                structured: true,
            },
            8..=14 => Case {
                text: uri(&mut rng),
                structured: true,
            },
            _ => Case {
                text: mutate(&mut rng, &corpus),
                structured: false,
            },
        };
        // NUL cannot reach libpq (a C string ends there): no case holds one. See
        // `nul_is_refused` for what pgcluster does with it.
        if case.text.contains('\0') {
            continue;
        }
        let case = Case {
            structured: case.structured && !rng.raw,
            ..case
        };
        if corpus.len() < 2000 && rng.chance(5) {
            corpus.push(case.text.clone());
        }
        out.push(case);
    }
    out
}

// ---------------------------------------------------------------------------------------
// The oracle.

/// What one libpq said: the keywords it set (value bytes), or its error message.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Set(BTreeMap<String, Vec<u8>>),
    Error(Vec<u8>),
}

fn hex(s: &[u8]) -> String {
    s.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex from the oracle"))
        .collect()
}

fn answer(s: &str) -> Answer {
    if let Some(e) = s.strip_prefix('E') {
        return Answer::Error(unhex(e));
    }
    let set = s.strip_prefix('O').expect("O or E from the oracle");
    Answer::Set(
        set.split(' ')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').expect("keyword=value");
                (k.to_owned(), unhex(v))
            })
            .collect(),
    )
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// libpq 18's shared library, through `.ci/postgresql` (which fetches it when missing).
fn libpq18() -> PathBuf {
    let out = Command::new("bash")
        .arg(repo().join(".ci/postgresql"))
        .arg("18.6.0")
        .stderr(Stdio::inherit())
        .output()
        .expect("run .ci/postgresql");
    assert!(out.status.success(), "bash .ci/postgresql 18.6.0 failed");
    let bin = String::from_utf8(out.stdout).expect("a path");
    let lib = Path::new(bin.trim()).join("../lib/libpq.so.5.18");
    assert!(lib.exists(), "no {}", lib.display());
    lib
}

/// Both libpqs' answers for every case, and their keyword tables.
struct Oracle {
    k13: BTreeSet<String>,
    k18: BTreeSet<String>,
    answers: Vec<(Answer, Answer)>,
}

/// Runs the oracle over `lines` (one request each): the keyword tables of libpq 13 and 18,
/// and one answer line per request.
fn run_oracle(lines: Vec<String>) -> (BTreeSet<String>, BTreeSet<String>, Vec<String>) {
    let rexref = repo().join("../shared/tools/rexref");
    assert!(rexref.exists(), "no {}", rexref.display());
    let mut child = Command::new("python3")
        .arg(repo().join("tests/differential/libpq_oracle.py"))
        .arg(&rexref)
        .arg(libpq18())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start python3");
    let mut stdin = child.stdin.take().expect("stdin");
    let count = lines.len();
    let writer = std::thread::spawn(move || {
        for (n, line) in lines.iter().enumerate() {
            stdin.write_all(line.as_bytes()).expect("write a case");
            if n % 4096 == 4095 {
                stdin.write_all(b"F\n").expect("write a flush");
            }
        }
        // Dropping stdin ends the oracle's loop.
    });
    let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut table = |prefix: &str| -> BTreeSet<String> {
        let line = out.next().expect("a keyword table").expect("read");
        let rest = line.strip_prefix(prefix).expect("the keyword table");
        rest.split(' ').map(str::to_owned).collect()
    };
    let k13 = table("K13 ");
    let k18 = table("K18 ");
    let answers: Vec<String> = out
        .by_ref()
        .take(count)
        .map(|l| l.expect("read an answer"))
        .collect();
    writer.join().expect("the writer");
    assert!(
        child.wait().expect("the oracle").success(),
        "the oracle failed"
    );
    assert_eq!(answers.len(), count, "an answer for every case");
    (k13, k18, answers)
}

fn ask_libpq(cases: &[Case]) -> Oracle {
    let lines: Vec<String> = cases
        .iter()
        .map(|c| format!("C{}\n", hex(c.text.as_bytes())))
        .collect();
    let (k13, k18, lines) = run_oracle(lines);
    let answers = lines
        .iter()
        .map(|line| {
            let (a13, a18) = line.split_once('\t').expect("two answers");
            (answer(a13), answer(a18))
        })
        .collect();
    Oracle { k13, k18, answers }
}

// ---------------------------------------------------------------------------------------
// The comparison.

/// What pgcluster said, in libpq's terms.
fn ours(text: &str, keywords: &BTreeSet<String>) -> Answer {
    match Config::parse(text) {
        Ok(c) => Answer::Set(
            keywords
                .iter()
                .filter_map(|k| c.get(k).map(|v| (k.clone(), v.as_bytes().to_vec())))
                .collect(),
        ),
        Err(e) => Answer::Error(format!("{e}\n").into_bytes()),
    }
}

/// The keyword an `invalid connection option` / `invalid URI query parameter` error names.
fn refused_keyword(message: &[u8]) -> Option<String> {
    let m = String::from_utf8_lossy(message);
    let rest = m
        .strip_prefix("invalid connection option \"")
        .or_else(|| m.strip_prefix("invalid URI query parameter: \""))?;
    Some(rest.strip_suffix("\"\n")?.to_owned())
}

fn lossy(a: &Answer) -> Answer {
    match a {
        Answer::Set(m) => Answer::Set(
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        String::from_utf8_lossy(v).into_owned().into_bytes(),
                    )
                })
                .collect(),
        ),
        Answer::Error(e) => Answer::Error(String::from_utf8_lossy(e).into_owned().into_bytes()),
    }
}

/// An error's text up to its first quote: what kind of error it is.
fn error_kind(message: &[u8]) -> &[u8] {
    let end = message
        .iter()
        .position(|&b| b == b'"')
        .unwrap_or(message.len());
    &message[..end]
}

fn lossy_bytes(b: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(b).into_owned().into_bytes()
}

/// Our `unexpected character "%c"` error with the character as libpq prints it: its first
/// byte only, which for a character beyond ASCII is not UTF-8 (so U+FFFD here).
fn unexpected_character_as_byte(ours: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(ours);
    let prefix = "unexpected character \"";
    let Some(rest) = text.strip_prefix(prefix) else {
        return Vec::new();
    };
    let Some(c) = rest.chars().next().filter(|c| !c.is_ascii()) else {
        return Vec::new();
    };
    format!("{prefix}\u{fffd}{}", &rest[c.len_utf8()..]).into_bytes()
}

/// Whether `ours` is `theirs` with some parts (the secrets) replaced by `xxx`: each `xxx`
/// of `ours` stands for any text, the rest must be the same.
fn masks(ours: &[u8], theirs: &[u8]) -> bool {
    let ours = String::from_utf8_lossy(ours);
    let theirs = String::from_utf8_lossy(theirs);
    let pieces: Vec<&str> = ours.split("xxx").collect();
    if pieces.len() < 2 {
        return false;
    }
    let (first, last) = (pieces[0], pieces[pieces.len() - 1]);
    if !theirs.starts_with(first)
        || !theirs.ends_with(last)
        || theirs.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &theirs[first.len()..theirs.len() - last.len()];
    for piece in &pieces[1..pieces.len() - 1] {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

enum Verdict {
    Same,
    Deliberate(&'static str),
    Differs(String),
}

fn compare(
    case: &Case,
    ours: &Answer,
    theirs: &Answer,
    pg_keywords: &BTreeSet<String>,
    k18: &BTreeSet<String>,
) -> Verdict {
    if ours == theirs {
        return Verdict::Same;
    }
    if lossy(ours) == lossy(theirs) {
        return Verdict::Deliberate("not-utf-8");
    }
    if let (Answer::Error(o), Answer::Error(t)) = (ours, theirs) {
        if unexpected_character_as_byte(o) == lossy_bytes(t) {
            return Verdict::Deliberate("not-utf-8");
        }
    }
    match (ours, theirs) {
        (Answer::Error(o), Answer::Set(set)) => {
            let extra: Vec<&String> = set.keys().filter(|k| !pg_keywords.contains(*k)).collect();
            match refused_keyword(o) {
                Some(k) if extra.contains(&&k) => {
                    return Verdict::Deliberate("later-keyword-not-implemented")
                }
                _ => {}
            }
        }
        (Answer::Error(o), Answer::Error(t)) => {
            // Refused a later keyword pgcluster does not implement before libpq 18 reached
            // its own error further on.
            if refused_keyword(o).is_some_and(|k| !pg_keywords.contains(&k) && k18.contains(&k)) {
                return Verdict::Deliberate("later-keyword-not-implemented");
            }
            let o = match unexpected_character_as_byte(o) {
                v if v.is_empty() => o.clone(),
                v => v,
            };
            if error_kind(&o) == error_kind(t) && masks(&o, t) {
                return Verdict::Deliberate("password-masked");
            }
        }
        _ => {}
    }
    Verdict::Differs(format!(
        "{:?}\n  pgcluster: {}\n  libpq:     {}",
        case.text,
        show(ours),
        show(theirs)
    ))
}

fn show(a: &Answer) -> String {
    match a {
        Answer::Error(e) => format!("error {:?}", String::from_utf8_lossy(e)),
        Answer::Set(m) => format!(
            "{:?}",
            m.iter()
                .map(|(k, v)| (k.as_str(), String::from_utf8_lossy(v).into_owned()))
                .collect::<Vec<_>>()
        ),
    }
}

/// The checks that need no libpq: no secret in an error, in the redacted rendering or in
/// `Debug`; parse → render → parse stable; a rex setting's error hides the password too.
fn check_without_libpq(case: &Case) {
    pgcluster::fuzzing::conninfo_round_trip(&case.text);
    if !case.structured {
        return;
    }
    match Config::parse(&case.text) {
        Err(e) => assert!(
            !e.to_string().contains(SECRET),
            "{:?}: the password in the error: {e}",
            case.text
        ),
        Ok(c) => {
            let shown = format!("{} {c:?}", c.render_redacted());
            assert!(!shown.contains(SECRET), "{:?}: {shown}", case.text);
        }
    }
    // The same URI as a rex setting (`pgsql://...`).
    if let Some(rest) = case
        .text
        .split_once("://")
        .filter(|(scheme, _)| scheme.starts_with("postgres"))
        .map(|(_, r)| r)
    {
        let rex = format!("pgsql://{rest}");
        match DbSetting::parse(&rex) {
            Err(e) => assert!(
                !e.to_string().contains(SECRET),
                "{rex:?}: the password in the error: {e}"
            ),
            Ok(s) => assert!(!format!("{s:?}").contains(SECRET), "{rex:?}: {s:?}"),
        }
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |v| v.parse().expect("a number"))
}

#[test]
#[ignore = "needs python3, libpq 13 and libpq 18 (fetched on first use): run by .ci/run's \
            differential step, or with --ignored"]
fn conninfo_parse_agrees_with_libpq() {
    let seed = env_number("PGCLUSTER_DIFF_SEED", 17);
    let count = usize::try_from(env_number("PGCLUSTER_DIFF_CASES", 120_000)).unwrap();
    let started = Instant::now();
    let cases = cases(seed, count);
    let oracle = ask_libpq(&cases);
    let newer: BTreeSet<String> = NEWER.iter().map(|k| (*k).to_owned()).collect();
    // pgcluster's keywords: libpq 13's and the later ones it implements.
    let pg_keywords: BTreeSet<String> = oracle.k13.union(&newer).cloned().collect();
    assert!(
        newer.is_subset(&oracle.k18),
        "{newer:?} not all in libpq 18"
    );
    let all_keywords: BTreeSet<String> = oracle.k13.union(&oracle.k18).cloned().collect();

    let mut same = 0usize;
    let mut from18 = 0usize;
    let mut errors = 0usize;
    let mut deliberate: BTreeMap<&str, usize> = BTreeMap::new();
    let mut differences = Vec::new();
    for (case, (a13, a18)) in cases.iter().zip(&oracle.answers) {
        check_without_libpq(case);
        let ours = ours(&case.text, &all_keywords);
        // libpq 13's answer, unless it refused a keyword pgcluster has from a later libpq.
        let theirs = match a13 {
            Answer::Error(e) if refused_keyword(e).is_some_and(|k| newer.contains(&k)) => {
                if let Answer::Error(e18) = a18 {
                    if refused_keyword(e18).is_some_and(|k| k == "tty" || k == "authtype") {
                        *deliberate.entry("tty-authtype-kept").or_default() += 1;
                        continue;
                    }
                }
                if case.text.starts_with("postgres") && case.text.contains(' ') {
                    *deliberate.entry("uri-spaces-as-libpq-13").or_default() += 1;
                    continue;
                }
                from18 += 1;
                a18
            }
            _ => a13,
        };
        if matches!(theirs, Answer::Error(_)) {
            errors += 1;
        }
        match compare(case, &ours, theirs, &pg_keywords, &oracle.k18) {
            Verdict::Same => same += 1,
            Verdict::Deliberate(name) => *deliberate.entry(name).or_default() += 1,
            Verdict::Differs(d) => differences.push(d),
        }
    }
    let elapsed = started.elapsed();
    println!(
        "differential conninfo: {} cases (seed {seed}) in {:.1} s: {same} the same as libpq \
         ({errors} errors; {from18} answered by libpq 18), deliberate {deliberate:?}, \
         {} different",
        cases.len(),
        elapsed.as_secs_f64(),
        differences.len()
    );
    for name in deliberate.keys() {
        assert!(
            DELIBERATE.iter().any(|(n, _)| n == name),
            "{name} is not in DELIBERATE"
        );
    }
    let skipped = deliberate.get("tty-authtype-kept").copied().unwrap_or(0)
        + deliberate
            .get("uri-spaces-as-libpq-13")
            .copied()
            .unwrap_or(0);
    assert!(skipped * 50 <= cases.len(), "{skipped} cases had no oracle");
    // Both kinds of answer were exercised in bulk.
    assert!(errors * 10 > cases.len() && (cases.len() - errors) * 10 > cases.len());
    assert!(
        differences.is_empty(),
        "{} differences from libpq, the first ones:\n{}",
        differences.len(),
        differences
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// A NUL cannot reach libpq (its strings end there, so it would read less than was
/// given: `postgresql://h/db\0?sslmode=require` would lose its `sslmode`), so no generated
/// case holds one; pgcluster refuses it wherever it is.
#[test]
fn nul_is_refused() {
    for text in [
        "host=a\0b",
        "dbname='x\0y'",
        "\0",
        "password=s\0ecret",
        "postgresql://h/d\0b",
        "postgresql://h/db\0?sslmode=require",
    ] {
        let e = Config::parse(text).unwrap_err();
        assert_eq!(
            e.to_string(),
            "NUL byte in connection info string",
            "{text:?}"
        );
    }
    let mut c = Config::default();
    assert_eq!(c.set("host", "a\0b").unwrap_err(), ConnInfoError::NulByte);
    assert_eq!(c.set("ho\0st", "a").unwrap_err(), ConnInfoError::NulByte);
    assert_eq!(c, Config::default());
}

// ---------------------------------------------------------------------------------------
// Resolution: settings and the PG* environment, against libpq 13's PQconnectStart.

/// Environment variables and the values drawn for them. Hosts are socket directories that
/// do not exist, numeric addresses or `localhost` (`/etc/hosts`): libpq never waits.
const ENV_VARS: &[(&str, &[&str])] = &[
    (
        "PGHOST",
        &[
            "/nonexistent/e",
            "/nonexistent/e1,/nonexistent/e2",
            "",
            "127.0.0.1",
            "localhost",
            ",",
        ],
    ),
    ("PGHOSTADDR", &["127.0.0.1", "", "127.0.0.1,127.0.0.1"]),
    ("PGPORT", &["1", "", "2,3", "x", "5432", "1,"]),
    ("PGUSER", &["envuser", "", "u v"]),
    ("PGPASSWORD", &["envpw", ""]),
    ("PGDATABASE", &["envdb", ""]),
    ("PGAPPNAME", &["envapp", ""]),
    ("PGOPTIONS", &["-c x=y", ""]),
    (
        "PGSSLMODE",
        &["disable", "require", "verify-full", "bogus", ""],
    ),
    ("PGREQUIRESSL", &["1", "0"]),
    ("PGCHANNELBINDING", &["require", "disable", "bogus"]),
    ("PGTARGETSESSIONATTRS", &["any", "read-write", "bogus"]),
    ("PGGSSENCMODE", &["disable", "prefer", "bogus"]),
    ("PGSSLMINPROTOCOLVERSION", &["TLSv1.3", "TLSv1", "bogus"]),
    ("PGSSLMAXPROTOCOLVERSION", &["TLSv1.2", "TLSv1", "bogus"]),
    ("PGCONNECT_TIMEOUT", &["5", "x"]),
    ("PGPASSFILE", &["/nonexistent/pgpass"]),
];

/// Keywords and the values drawn for them in the setting (libpq 13's keywords only: the
/// environment variables of later ones mean nothing to libpq 13).
const SETTING_VALUES: &[(&str, &[&str])] = &[
    (
        "host",
        &[
            "/nonexistent/s",
            "/nonexistent/s1,/nonexistent/s2",
            "",
            "127.0.0.1",
            ",/nonexistent/s",
        ],
    ),
    ("hostaddr", &["127.0.0.1", "", "127.0.0.1,127.0.0.1"]),
    ("port", &["1", "", "2,3", "x", "1,2,3"]),
    ("user", &["setuser", ""]),
    ("password", &["setpw", ""]),
    ("dbname", &["setdb", "", "a b"]),
    ("application_name", &["setapp", ""]),
    ("fallback_application_name", &["fb", ""]),
    ("options", &["-c a=b", ""]),
    (
        "sslmode",
        &[
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "bogus",
            "",
        ],
    ),
    ("requiressl", &["1", "0"]),
    ("channel_binding", &["prefer", "require", "bogus", ""]),
    (
        "target_session_attrs",
        &["any", "read-write", "read-only", "bogus", ""],
    ),
    ("gssencmode", &["disable", "prefer", "bogus", ""]),
    (
        "ssl_min_protocol_version",
        &["TLSv1.2", "TLSv1.3", "bogus", ""],
    ),
    (
        "ssl_max_protocol_version",
        &["TLSv1.1", "TLSv1.3", "bogus", ""],
    ),
    ("service", &["nosuchservice", "", "svc1"]),
    ("connect_timeout", &["0", "10", "x", ""]),
    ("passfile", &["/nonexistent/pgpass2", ""]),
];

struct ResolveCase {
    setting: String,
    env: Vec<(&'static str, String)>,
}

/// Lines of the password files: fields drawn from these (`*`, `\:`, `\\`, the default
/// socket directory read as `localhost`), and broken or ignored lines.
const PGPASS_HOSTS: &[&str] = &[
    "*",
    "*",
    "*",
    "localhost",
    "localhost",
    "/nonexistent/s",
    "/nonexistent/e",
    "127.0.0.1",
    "/var/run/postgresql",
    "/nonexistent/s1",
    "h\\:x",
];
const PGPASS_PORTS: &[&str] = &["*", "*", "5432", "5432", "1", "2"];
const PGPASS_DBS: &[&str] = &["*", "*", "*", "setdb", "envdb", "root", "svcdb", "a b"];
const PGPASS_USERS: &[&str] = &[
    "*", "*", "*", "root", "root", "setuser", "envuser", "svcuser",
];
const PGPASS_PASSWORDS: &[&str] = &[
    "filepw1",
    "file\\:pw2",
    "file\\\\pw3",
    "",
    "filepw4:x",
    "fp\\",
];

fn pgpass_file(rng: &mut Rng) -> String {
    let mut out = String::new();
    for _ in 0..1 + rng.below(6) {
        let line = match rng.below(12) {
            0 => "# a comment".to_owned(),
            1 => String::new(),
            2 => format!(
                "{}:{}:{}",
                rng.pick::<&str>(PGPASS_HOSTS),
                rng.pick::<&str>(PGPASS_PORTS),
                rng.pick::<&str>(PGPASS_DBS)
            ),
            _ => format!(
                "{}:{}:{}:{}:{}",
                rng.pick::<&str>(PGPASS_HOSTS),
                rng.pick::<&str>(PGPASS_PORTS),
                rng.pick::<&str>(PGPASS_DBS),
                rng.pick::<&str>(PGPASS_USERS),
                rng.pick::<&str>(PGPASS_PASSWORDS)
            ),
        };
        out.push_str(&line);
        out.push_str(if rng.chance(10) { "\r\n" } else { "\n" });
    }
    out
}

/// Service files: sections `[svc1]`..`[svc3]` of keyword lines, comments, blanks, and
/// lines libpq refuses (no `=`, an unknown keyword, a nested `service`).
const SERVICE_LINES: &[&str] = &[
    "host=/nonexistent/v",
    "host=/nonexistent/v1,/nonexistent/v2",
    "port=1",
    "port=2,3",
    "dbname=svcdb",
    "user=svcuser",
    "password=svcpw",
    "application_name=svcapp",
    "options=-c s=t",
    "sslmode=require",
    "sslmode=bogus",
    "target_session_attrs=read-write",
    "  host = /nonexistent/sp  ",
    "# comment",
    "",
    "noequals",
    "foo=1",
    "service=other",
    "dbname=",
    "hostaddr=127.0.0.1",
];

fn service_file(rng: &mut Rng) -> String {
    let mut out = String::new();
    if rng.chance(20) {
        out.push_str("dbname=before_any_section\n");
    }
    for n in 1..=3 {
        out.push_str(&format!("[svc{n}]\n"));
        for _ in 0..rng.below(5) {
            let line = if rng.chance(85) {
                let l = *rng.pick(SERVICE_LINES);
                // Mostly the lines libpq takes.
                if ["noequals", "foo=1", "service=other"].contains(&l) && rng.chance(70) {
                    "dbname=svcdb"
                } else {
                    l
                }
            } else {
                "user=svcuser"
            };
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Writes `count` password files and service files into `dir` (0600, as libpq wants a
/// password file), and returns their paths.
fn write_files(dir: &Scratch, rng: &mut Rng, count: usize) -> (Vec<String>, Vec<String>) {
    let mut pgpass = Vec::new();
    let mut services = Vec::new();
    for n in 0..count {
        pgpass.push(dir.file_with_mode(&format!("pgpass-{n}"), pgpass_file(rng), 0o600));
        let path = dir.file(&format!("service-{n}"), service_file(rng));
        services.push(path.to_str().expect("a UTF-8 path").to_owned());
    }
    (pgpass, services)
}

/// The cases, with the password and service files they name written into `dir`.
fn resolve_cases(dir: &Scratch, seed: u64, count: usize) -> Vec<ResolveCase> {
    let mut rng = Rng {
        state: seed ^ 0x5EED,
        raw: false,
        broken: 0,
    };
    let (pgpass, services) = write_files(dir, &mut rng, 64);
    // A value that libpq refuses, drawn again most of the time (so that most cases
    // resolve and their values are compared).
    let draw = |rng: &mut Rng, values: &[&'static str]| -> &'static str {
        let v = *rng.pick(values);
        if (v == "bogus" || v == "x") && rng.chance(75) {
            values[rng.below(values.len())]
        } else {
            v
        }
    };
    (0..count)
        .map(|_| {
            let mut parts = Vec::new();
            let mut env: Vec<(&'static str, String)> = Vec::new();
            for _ in 0..rng.below(5) {
                let (key, values) = rng.pick(SETTING_VALUES);
                let value = draw(&mut rng, values);
                parts.push(format!(
                    "{key}={}",
                    pgcluster::compat::psycopg2::escape_value(value)
                ));
            }
            for (var, values) in ENV_VARS {
                if rng.chance(20) {
                    env.push((*var, draw(&mut rng, values).to_owned()));
                }
            }
            // A password file (the setting's passfile or PGPASSFILE), a service file.
            if rng.chance(40) {
                let file = rng.pick(&pgpass).clone();
                if rng.chance(50) {
                    parts.push(format!("passfile={file}"));
                } else {
                    env.push(("PGPASSFILE", file));
                }
            }
            if rng.chance(30) {
                env.push(("PGSERVICEFILE", rng.pick(&services).clone()));
                let name = *rng.pick(&["svc1", "svc2", "svc3", "svc4"]);
                if rng.chance(50) {
                    parts.push(format!("service={name}"));
                } else {
                    env.push(("PGSERVICE", name.to_owned()));
                }
            }
            ResolveCase {
                setting: parts.join(" "),
                env,
            }
        })
        .collect()
}

/// The later keywords (libpq 14–18) pgcluster takes, their environment variables, and the
/// values drawn for them, for the resolution run against libpq 18.
const LATER_VALUES: &[(&str, Option<&str>, &[&str])] = &[
    (
        "require_auth",
        Some("PGREQUIREAUTH"),
        &[
            "md5",
            "!md5",
            "scram-sha-256",
            "password,md5",
            "none",
            "!none",
            "bogus",
            "md5,!md5",
            "md5,md5",
            "",
            "!password,!md5",
            "scram-sha-256,none",
        ],
    ),
    (
        "min_protocol_version",
        Some("PGMINPROTOCOLVERSION"),
        &["3.0", "3.2", "latest", "3.1", "x", "", "3", "4.0"],
    ),
    (
        "max_protocol_version",
        Some("PGMAXPROTOCOLVERSION"),
        &["3.0", "3.2", "latest", "3.1", "x", ""],
    ),
    (
        "load_balance_hosts",
        Some("PGLOADBALANCEHOSTS"),
        &["disable", "random", "bogus", ""],
    ),
    (
        "sslnegotiation",
        Some("PGSSLNEGOTIATION"),
        &["postgres", "direct", "bogus", ""],
    ),
    ("sslsni", Some("PGSSLSNI"), &["0", "1", ""]),
    (
        "target_session_attrs",
        Some("PGTARGETSESSIONATTRS"),
        &[
            "read-only",
            "primary",
            "standby",
            "prefer-standby",
            "any",
            "bogus",
        ],
    ),
    (
        "sslmode",
        Some("PGSSLMODE"),
        &["disable", "prefer", "require", "verify-full"],
    ),
    ("sslkeylogfile", None, &["/nonexistent/keylog", ""]),
];

/// Cases for libpq 18: the later keywords (in the setting or the environment), with a
/// few of libpq 13's keywords at values both libpqs take.
fn later_resolve_cases(seed: u64, count: usize) -> Vec<ResolveCase> {
    let mut rng = Rng {
        state: seed ^ 0x18,
        raw: false,
        broken: 0,
    };
    let plain: &[(&str, &[&str])] = &[
        (
            "host",
            &[
                "/nonexistent/s",
                "/nonexistent/s1,/nonexistent/s2",
                "127.0.0.1",
            ],
        ),
        ("port", &["1", "2,3"]),
        ("user", &["setuser"]),
        ("dbname", &["setdb"]),
        ("password", &["setpw"]),
        ("application_name", &["setapp"]),
    ];
    (0..count)
        .map(|_| {
            let mut parts = Vec::new();
            let mut env: Vec<(&'static str, String)> = Vec::new();
            for _ in 0..rng.below(3) {
                let (key, values) = rng.pick(plain);
                parts.push(format!("{key}={}", rng.pick::<&str>(values)));
            }
            for _ in 0..1 + rng.below(3) {
                let (key, var, values) = rng.pick(LATER_VALUES);
                let value = *rng.pick::<&str>(values);
                match var {
                    Some(var) if rng.chance(40) => env.push((var, value.to_owned())),
                    _ => parts.push(format!(
                        "{key}={}",
                        pgcluster::compat::psycopg2::escape_value(value)
                    )),
                }
            }
            ResolveCase {
                setting: parts.join(" "),
                env,
            }
        })
        .collect()
}

/// The environment every case starts from: no service file anywhere.
const BASE_ENV: &[(&str, &str)] = &[("PGSYSCONFDIR", "/nonexistent/sysconf")];

fn compare_resolved(
    case: &ResolveCase,
    theirs: &Answer,
    deliberate: &mut BTreeMap<&'static str, usize>,
) -> Option<String> {
    let mut env = Env::empty();
    for (k, v) in BASE_ENV {
        env = env.with(k, v);
    }
    for (k, v) in &case.env {
        env = env.with(k, v);
    }
    let ours = Config::parse(&case.setting).and_then(|c| c.resolve(&env));
    // No password of the setting, the environment or the files shows in an error or in
    // `Debug`.
    let shown = match &ours {
        Ok(r) => format!("{r:?}"),
        Err(e) => format!("{e} {e:?}"),
    };
    for secret in ["setpw", "envpw", "svcpw", "filepw", "pw2", "pw3"] {
        assert!(
            !shown.contains(secret),
            "{case:?}: {shown}",
            case = case.setting
        );
    }
    let differs = |what: &str| {
        Some(format!(
            "{:?} with {:?}: {what}\n  pgcluster: {ours:?}\n  libpq:     {}",
            case.setting,
            case.env,
            show(theirs)
        ))
    };
    let set = match (theirs, &ours) {
        (Answer::Error(t), Err(e)) => {
            return (format!("{e}\n").as_bytes() != t.as_slice()).then(|| differs("the error"))?;
        }
        (Answer::Error(t), Ok(r)) => {
            let t = String::from_utf8_lossy(t);
            // libpq checks a port when it connects to its host: so does pgcluster, which
            // keeps the text for then (`Target::port`).
            if r.targets.first().is_some_and(|first| {
                first
                    .port
                    .as_ref()
                    .is_err_and(|e| t.starts_with(&format!("{e}\n")))
            }) {
                return None;
            }
            for value in ["read-only", "primary", "standby", "prefer-standby"] {
                if t == format!("invalid target_session_attrs value: \"{value}\"\n") {
                    *deliberate
                        .entry("target-session-attrs-of-libpq-14")
                        .or_default() += 1;
                    return None;
                }
            }
            return differs("error or not");
        }
        (Answer::Set(_), Err(_)) => return differs("error or not"),
        (Answer::Set(set), Ok(_)) => set,
    };
    let r = ours.as_ref().expect("resolved");
    if r.password_file.is_some() {
        *deliberate
            .entry("(same: a password from a file)")
            .or_default() += 1;
    }
    let get = |k: &str| set.get(k).map(|v| String::from_utf8_lossy(v).into_owned());
    if get("user").as_deref() != Some(r.user.as_str()) {
        return differs("user");
    }
    if get("dbname").as_deref() != Some(r.dbname.as_str()) {
        return differs("dbname");
    }
    // libpq's PQpass is the password of the host it is trying (or the given one): with
    // several hosts and a password file, which one depends on how far it got.
    let comparable = r.targets.len() == 1 || r.given_password.is_some() || r.passfile.is_none();
    let password = if r.targets.len() == 1 {
        r.password_for(0).0
    } else {
        r.given_password.as_deref()
    };
    if comparable && get("@pass").unwrap_or_default() != password.unwrap_or_default() {
        return differs("password");
    }
    let startup = |name: &str| {
        r.startup_params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if get("options").filter(|v| !v.is_empty()) != startup("options") {
        return differs("options");
    }
    // What libpq's build_startup_packet sends: application_name, else (not given at all)
    // fallback_application_name, as application_name.
    let application_name = get("application_name").or_else(|| get("fallback_application_name"));
    if application_name.filter(|v| !v.is_empty()) != startup("application_name")
        || startup("fallback_application_name").is_some()
    {
        return differs("application_name");
    }
    // sslmode (libpq says `prefer` when none was given), channel_binding and
    // target_session_attrs.
    let sslmode = r.tls.mode.map_or("prefer", |m| m.as_str());
    if get("sslmode").as_deref() != Some(sslmode) {
        return differs("sslmode");
    }
    let binding = format!("{:?}", r.channel_binding).to_lowercase();
    if get("channel_binding").as_deref() != Some(binding.as_str()) {
        return differs("channel_binding");
    }
    let attrs = get("target_session_attrs").and_then(|v| TargetSessionAttrs::parse(&v));
    if attrs != Some(r.target_session_attrs) {
        return differs("target_session_attrs");
    }
    // libpq 18's later keywords: load_balance_hosts, sslnegotiation, sslsni.
    if let Some(v) = get("load_balance_hosts") {
        if LoadBalanceHosts::parse(&v) != Some(r.load_balance_hosts) {
            return differs("load_balance_hosts");
        }
    }
    if get("sslnegotiation").is_some_and(|v| (v == "direct") != r.tls.direct) {
        return differs("sslnegotiation");
    }
    if get("sslsni").is_some_and(|v| v.starts_with('1') != r.tls.sni) {
        return differs("sslsni");
    }
    // The host list (without hostaddr: each entry, an empty one the default socket
    // directory) and the ports (one for every host, or one each; an empty one 5432).
    if get("hostaddr").unwrap_or_default().is_empty() {
        let hosts: Vec<String> = get("host")
            .unwrap_or_default()
            .split(',')
            .map(|h| if h.is_empty() { DEFAULT_SOCKET_DIR } else { h }.to_owned())
            .collect();
        let ours: Vec<&str> = r.targets.iter().map(|t| t.host.as_str()).collect();
        if hosts != ours {
            return differs("hosts");
        }
    }
    let port = get("port").unwrap_or_default();
    let ports: Vec<&str> = port.split(',').collect();
    for (i, t) in r.targets.iter().enumerate() {
        let p = if ports.len() == 1 {
            ports[0]
        } else {
            ports.get(i).copied().unwrap_or("")
        };
        let p = if p.is_empty() { "5432" } else { p };
        if t.port_text != p {
            return differs("ports");
        }
    }
    None
}

#[test]
#[ignore = "needs python3, libpq 13 and libpq 18 (fetched on first use): run by .ci/run's \
            differential step, or with --ignored"]
fn resolution_with_the_environment_agrees_with_libpq_13() {
    let seed = env_number("PGCLUSTER_DIFF_SEED", 17);
    let count = usize::try_from(env_number("PGCLUSTER_DIFF_RESOLVE_CASES", 20_000)).unwrap();
    // The password and service files go with it, also when the test fails.
    let files = Scratch::new("differential");
    check_resolution("libpq 13", 'R', &resolve_cases(&files, seed, count), seed);
}

#[test]
#[ignore = "needs python3, libpq 13 and libpq 18 (fetched on first use): run by .ci/run's \
            differential step, or with --ignored"]
fn resolution_of_later_keywords_agrees_with_libpq_18() {
    let seed = env_number("PGCLUSTER_DIFF_SEED", 17);
    let count = usize::try_from(env_number("PGCLUSTER_DIFF_RESOLVE_CASES", 20_000)).unwrap();
    check_resolution("libpq 18", 'S', &later_resolve_cases(seed, count / 2), seed);
}

/// Resolves `cases` with pgcluster and with the oracle's libpq (`request`: `R` for libpq
/// 13, `S` for libpq 18) and compares them.
fn check_resolution(libpq: &str, request: char, cases: &[ResolveCase], seed: u64) {
    let started = Instant::now();
    let lines = cases
        .iter()
        .map(|c| {
            let env: String = BASE_ENV
                .iter()
                .map(|(k, v)| format!("{k}={v}\n"))
                .chain(c.env.iter().map(|(k, v)| format!("{k}={v}\n")))
                .collect();
            format!(
                "{request}{} {}\n",
                hex(c.setting.as_bytes()),
                hex(env.as_bytes())
            )
        })
        .collect();
    let (_, _, answers) = run_oracle(lines);
    let mut errors = 0;
    let mut differences = Vec::new();
    let mut deliberate: BTreeMap<&str, usize> = BTreeMap::new();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for (case, line) in cases.iter().zip(&answers) {
        let theirs = answer(line);
        errors += usize::from(matches!(theirs, Answer::Error(_)));
        if let Answer::Error(e) = &theirs {
            let text = String::from_utf8_lossy(e);
            let kind = text.split('"').next().unwrap_or("").to_owned();
            *kinds.entry(kind).or_default() += 1;
        }
        if let Some(d) = compare_resolved(case, &theirs, &mut deliberate) {
            differences.push(d);
        }
    }
    println!(
        "differential resolution ({libpq}): {} cases (seed {seed}) in {:.1} s: {errors} errors, \
         deliberate {deliberate:?}, {} different",
        cases.len(),
        started.elapsed().as_secs_f64(),
        differences.len()
    );
    println!("libpq's errors: {kinds:?}");
    for name in deliberate.keys().filter(|n| !n.starts_with('(')) {
        assert!(
            DELIBERATE.iter().any(|(n, _)| n == name),
            "{name} is not in DELIBERATE"
        );
    }
    assert!(
        differences.is_empty(),
        "{} differences from {libpq}, the first ones:\n{}",
        differences.len(),
        differences
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(errors * 10 > cases.len() && (cases.len() - errors) * 10 > cases.len());
}

// ---------------------------------------------------------------------------------------
// rex settings (`pgsql://...`): DbSetting against rexref's htsql DB class.

/// rex settings: the generated URIs with rex's scheme, htsql's other forms, and mutations.
fn rex_cases(seed: u64, count: usize) -> Vec<String> {
    let mut rng = Rng {
        state: seed ^ 0x4E58,
        raw: false,
        broken: 0,
    };
    let seeds: Vec<String> = [
        "pgsql:///db",
        "pgsql://u:pw@h:5432/db?a=1&b=",
        "pgsql://:2345/postgres",
        "pgsql:db",
        "pgsql://u@/db",
        "pgsql://h/db?x=y",
        "pgsql://u:p%40w@h:+5_4/d%2Fb",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    (0..count)
        .map(|_| match rng.below(10) {
            0..=6 => {
                let u = uri(&mut rng);
                let rest = u.split_once("://").map_or("", |(_, r)| r).to_owned();
                let scheme =
                    *rng.pick(&["pgsql://", "pgsql://", "pgsql:", "mysql://", "pg-sql://"]);
                format!("{scheme}{rest}")
            }
            _ => mutate(&mut rng, &seeds),
        })
        .filter(|s| !s.contains('\0'))
        .collect()
}

fn rex_ours(text: &str) -> Answer {
    match DbSetting::parse(text) {
        Err(e) => Answer::Error(e.to_string().into_bytes()),
        Ok(db) => {
            let mut m = BTreeMap::new();
            m.insert("engine".to_owned(), db.engine.clone().into_bytes());
            for (name, value) in [
                ("username", &db.username),
                ("password", &db.password),
                ("host", &db.host),
            ] {
                if let Some(v) = value {
                    m.insert(name.to_owned(), v.clone().into_bytes());
                }
            }
            m.insert("database".to_owned(), db.database.clone().into_bytes());
            if let Some(p) = db.port {
                m.insert("port".to_owned(), p.to_string().into_bytes());
            }
            if let Some(opts) = &db.options {
                m.insert("options".to_owned(), Vec::new());
                for (k, v) in opts {
                    m.insert(format!("opt:{}", hex(k.as_bytes())), v.clone().into_bytes());
                }
            }
            m.insert("str".to_owned(), db.render(false).into_bytes());
            Answer::Set(m)
        }
    }
}

#[test]
#[ignore = "needs python3, libpq 13 and libpq 18 (fetched on first use): run by .ci/run's \
            differential step, or with --ignored"]
fn rex_settings_agree_with_rexref() {
    let seed = env_number("PGCLUSTER_DIFF_SEED", 17);
    let count = usize::try_from(env_number("PGCLUSTER_DIFF_REX_CASES", 30_000)).unwrap();
    let started = Instant::now();
    let cases = rex_cases(seed, count);
    let lines = cases
        .iter()
        .map(|c| format!("X{}\n", hex(c.as_bytes())))
        .collect();
    let (_, _, answers) = run_oracle(lines);
    let mut same = 0;
    let mut errors = 0;
    let mut deliberate: BTreeMap<&str, usize> = BTreeMap::new();
    let mut differences = Vec::new();
    for (text, line) in cases.iter().zip(&answers) {
        let theirs = answer(line);
        let ours = rex_ours(text);
        errors += usize::from(matches!(theirs, Answer::Error(_)));
        if ours == theirs {
            same += 1;
            continue;
        }
        // Both refuse the setting as malformed, pgcluster quoting it with what may be a
        // password masked (and Python's repr then choosing its quotes for what is left).
        let malformed = "expected a connection URI of the form \
                         'engine://username:password@host:port/database?options'; got ";
        if let (Answer::Error(o), Answer::Error(t)) = (&ours, &theirs) {
            if o.starts_with(malformed.as_bytes()) && t.starts_with(malformed.as_bytes()) {
                *deliberate.entry("password-masked").or_default() += 1;
                continue;
            }
        }
        differences.push(format!(
            "{text:?}\n  pgcluster: {}\n  rexref:    {}",
            show(&ours),
            show(&theirs)
        ));
    }
    println!(
        "differential rex: {} cases (seed {seed}) in {:.1} s: {same} the same as rexref \
         ({errors} errors), deliberate {deliberate:?}, {} different",
        cases.len(),
        started.elapsed().as_secs_f64(),
        differences.len()
    );
    assert!(errors * 10 > cases.len() && (cases.len() - errors) * 10 > cases.len());
    assert!(
        differences.is_empty(),
        "{} differences from rexref, the first ones:\n{}",
        differences.len(),
        differences
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// The `target_session_attrs` check's query, when it fails: against libpq 13 (read-write,
// which it had) and libpq 18 (the values libpq 14 added) themselves, connecting to fake
// servers that say they are PostgreSQL 13 (no `in_hot_standby`, so the check asks).

/// What a fake server does with the check's query.
#[derive(Debug, Clone, Copy)]
enum Check {
    /// Answers with an error.
    Error,
    /// Closes the connection.
    Lost,
    /// Answers as a primary (`off`, `f`) or a standby (`on`, `t`).
    Answer { standby: bool },
}

/// A fake PostgreSQL 13 on 127.0.0.1 that lets anyone in and then does `check` with the
/// query of `mode`'s check, for up to four connections: libpq's walk and pgcluster's, each
/// up to two passes (`prefer-standby`).
fn fake_13(mode: &str, check: Check) -> FakeServer {
    let mut hello = auth_ok();
    hello.extend(message(b'S', b"server_version\x0013.0\0"));
    hello.extend(message(b'K', &[0, 0, 0, 1, 0, 0, 0, 2]));
    hello.extend(message(b'Z', b"I"));
    let reply = match check {
        Check::Lost => None,
        Check::Error => Some(message(
            b'E',
            b"SERROR\0VERROR\0C42883\0Mfunction does not exist\0\0",
        )),
        Check::Answer { standby } => {
            // `SHOW transaction_read_only` for these two, `pg_is_in_recovery()` otherwise.
            let show = matches!(mode, "read-write" | "read-only");
            let value: &[u8] = match (show, standby) {
                (true, true) => b"on",
                (true, false) => b"off",
                (false, true) => b"t",
                (false, false) => b"f",
            };
            // One text column `x`, one row.
            let mut columns = vec![0, 1];
            columns.extend_from_slice(b"x\0");
            columns.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 25, 255, 255, 255, 255]);
            columns.extend_from_slice(&[255, 255, 255, 255, 0, 0]);
            let mut row = vec![0, 1];
            row.extend_from_slice(&u32::try_from(value.len()).unwrap().to_be_bytes());
            row.extend_from_slice(value);
            let mut rows = message(b'T', &columns);
            rows.extend(message(b'D', &row));
            rows.extend(message(b'C', b"SHOW\0"));
            Some(rows)
        }
    };
    let reply = reply.map(|mut r| {
        r.extend(message(b'Z', b"I"));
        r
    });
    FakeServer::start(Script::Converse { hello, reply }, 4)
}

#[test]
#[ignore = "needs python3, libpq 13 and libpq 18 (fetched on first use): run by .ci/run's \
            differential step, or with --ignored"]
fn a_failed_target_check_reads_as_libpq_says() {
    use Check::{Answer, Error, Lost};
    let primary = Answer { standby: false };
    let standby = Answer { standby: true };
    let walks = [
        [Error, primary],
        [Error, Lost],
        [Lost, primary],
        [standby, Error],
        [primary, standby],
        [Error, Error],
    ];
    let mut cases = Vec::new();
    for mode in [
        "read-write",
        "read-only",
        "primary",
        "standby",
        "prefer-standby",
    ] {
        for walk in walks {
            let servers = [fake_13(mode, walk[0]), fake_13(mode, walk[1])];
            let (p1, p2) = (servers[0].port, servers[1].port);
            let conninfo = format!(
                "host=127.0.0.1,127.0.0.1 port={p1},{p2} user=u dbname=d sslmode=disable \
                 gssencmode=disable target_session_attrs={mode}"
            );
            cases.push((mode, conninfo, walk, servers));
        }
    }
    // libpq 13's answer for read-write (its texts are pgcluster's), libpq 18's otherwise.
    let lines = cases
        .iter()
        .map(|(mode, conninfo, ..)| {
            let which = if *mode == "read-write" { 'D' } else { 'T' };
            format!("{which}{}\n", hex(conninfo.as_bytes()))
        })
        .collect();
    let (_, _, answers) = run_oracle(lines);
    let mut differences = Vec::new();
    for ((mode, conninfo, walk, _), theirs) in cases.iter().zip(&answers) {
        let config = Config::parse(conninfo)
            .and_then(|c| c.resolve(&Env::empty()))
            .expect("the setting resolves");
        let ours = match pgcluster::blocking::Connection::connect(&config) {
            Ok(conn) => format!("O{}", conn.port()),
            Err(e) => format!("E{}", hex(e.message.as_bytes())),
        };
        if &ours != theirs {
            let show = |a: &str| match a.strip_prefix('E') {
                Some(e) => String::from_utf8_lossy(&unhex(e)).into_owned(),
                None => a.to_owned(),
            };
            differences.push(format!(
                "{mode} {walk:?}:\n  ours:  {:?}\n  libpq: {:?}",
                show(&ours),
                show(theirs)
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    println!("{} walks, each as libpq says", cases.len());
}
