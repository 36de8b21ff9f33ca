//! The `pgcluster` program's output: never a panic, and nothing raw from a name or a
//! server.
//!
//! - A write that fails ends the program with the documented status: 141 (quietly) when
//!   the reader went away, 74 and `Error: could not write to stdout: ...` for any other
//!   write error (`/dev/full`). The demo stops its throwaway server and removes its
//!   directory on that path too.
//! - Names, owners, encodings and locales are escaped in the `list` table (newline, tab,
//!   control characters, bidi controls, backslash), one database per line, aligned by
//!   terminal columns (CJK and fullwidth characters take two, combining marks none); error
//!   messages and warnings escape everything but their newlines and tabs.
//!
//! Real databases with hostile names on a `TestServer`; a scripted fake server for what a
//! real server will not send (an encoding or a locale holding terminal escapes).
#![cfg(all(feature = "testing", feature = "cli"))]

mod support;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use pgcluster::blocking::Cluster;
use pgcluster::cluster::{CreateOptions, DropOptions};
use pgcluster::testing::{TestServer, PASSWORD_ROLE};
use support::{startup_ok, FakeServer, Step};

/// The exit status for a write error other than a broken pipe (`EX_IOERR`).
const OUTPUT_FAILED: i32 = 74;
/// The exit status when the reader went away: 128 + SIGPIPE, as shells report it.
const BROKEN_PIPE: i32 = 141;

fn server() -> &'static TestServer {
    TestServer::shared().expect("test server")
}

/// The superuser's setting for the shared server (over its socket).
fn setting() -> String {
    server().uri("postgres", "postgres")
}

fn cli() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgcluster"));
    cmd.env_remove("DATABASE_URL");
    cmd
}

/// Runs the program with `--db db` and `args`; the status must be a plain exit code (no
/// signal), and stdout and stderr UTF-8.
fn run(db: &str, args: &[&str]) -> (i32, String, String) {
    let out = cli()
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run pgcluster");
    decoded(out)
}

fn decoded(out: Output) -> (i32, String, String) {
    (
        out.status.code().expect("an exit status, not a signal"),
        String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    )
}

/// Whether `c` must never reach a terminal raw (control characters, bidi controls, line
/// and paragraph separators).
fn hazard(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{61c}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// Fails if `text` holds a hazard other than the `allowed` ones.
fn assert_no_raw_hazard(text: &str, allowed: &[char]) {
    for c in text.chars() {
        assert!(
            !hazard(c) || allowed.contains(&c),
            "raw {c:?} in the output: {text:?}"
        );
    }
}

/// Terminal columns, as the test knows them for the characters it uses: the CJK and
/// fullwidth ones take two, the combining acute accent none, everything else one.
fn columns(s: &str) -> usize {
    s.chars()
        .map(|c| match c {
            '\u{301}' => 0,
            '数' | '据' | '库' | '\u{ff01}'..='\u{ff5e}' => 2,
            _ => 1,
        })
        .sum()
}

/// The column at which each field of `line` starts (fields hold at most single spaces,
/// as a size's `7572 kB`, and are two or more spaces apart).
fn field_starts(line: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut column = 0;
    let mut blanks = 2;
    for c in line.chars() {
        if c != ' ' && blanks >= 2 {
            starts.push(column);
        }
        blanks = if c == ' ' { blanks + 1 } else { 0 };
        column += columns(&c.to_string());
    }
    starts
}

/// The fields of a table line (two or more spaces apart).
fn fields(line: &str) -> Vec<&str> {
    line.split("  ")
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .collect()
}

fn cluster() -> Cluster {
    Cluster::new(&setting()).expect("setting")
}

/// Databases with hostile names (and the escaped cell each must show as), made once.
const NAMES: &[(&str, &str)] = &[
    ("h2_nl\nproduction", "h2_nl\\nproduction"),
    ("h2_tab\tx", "h2_tab\\tx"),
    ("h2_\u{1b}[31mred\u{1b}[0m", "h2_\\u{1b}[31mred\\u{1b}[0m"),
    ("h2_\u{9b}2J", "h2_\\u{9b}2J"),
    ("h2_\u{202e}exe.txt", "h2_\\u{202e}exe.txt"),
    ("h2_\u{2066}iso\u{2069}", "h2_\\u{2066}iso\\u{2069}"),
    ("h2_\u{7f}\u{1}\r", "h2_\\u{7f}\\u{1}\\r"),
    ("h2_back\\nslash", "h2_back\\\\nslash"),
    ("h2_数据库", "h2_数据库"),
    ("h2_ｆｕｌｌ", "h2_ｆｕｌｌ"),
    ("h2_e\u{301}te\u{301}", "h2_e\u{301}te\u{301}"),
];

/// The owner of `h2_tab\tx`: a role whose name holds a tab.
const OWNER: (&str, &str) = ("h2_own\ter", "h2_own\\ter");

fn hostile_databases() {
    static MADE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    MADE.get_or_init(|| {
        let s = server();
        s.psql(&format!(
            "DROP ROLE IF EXISTS \"{0}\"; CREATE ROLE \"{0}\"",
            OWNER.0
        ))
        .expect("create role");
        let c = cluster();
        for (name, _) in NAMES {
            c.drop_database_with(*name, &DropOptions::new().if_exists(true))
                .expect("drop");
            let options = if name.starts_with("h2_tab") {
                CreateOptions::new().owner(OWNER.0)
            } else {
                CreateOptions::new()
            };
            c.create_with(*name, &options).expect("create");
        }
    });
}

#[test]
fn list_shows_each_database_on_one_aligned_line() {
    hostile_databases();
    let (status, stdout, stderr) = run(&setting(), &["list"]);
    assert_eq!((status, stderr.as_str()), (0, ""), "{stdout}");
    assert_no_raw_hazard(&stdout, &['\n']);
    let lines: Vec<&str> = stdout.lines().collect();
    let count = server()
        .psql("SELECT count(*) FROM pg_database")
        .expect("count");
    let count: usize = count.trim().parse().expect("a count");
    assert_eq!(lines.len(), 1 + count, "one line per database:\n{stdout}");

    // Each hostile database is on exactly one line, starting with its escaped name; the
    // role with a tab in its name shows escaped too.
    for (name, cell) in NAMES {
        let rows: Vec<&&str> = lines
            .iter()
            .filter(|l| l.starts_with(&format!("{cell} ")))
            .collect();
        assert_eq!(rows.len(), 1, "{name:?} in\n{stdout}");
        let owner = if name.starts_with("h2_tab") {
            OWNER.1
        } else {
            "postgres"
        };
        let fields = fields(rows[0]);
        assert_eq!(fields[..2], [*cell, owner], "{}", rows[0]);
        assert_eq!(fields.len(), 9, "{}", rows[0]);
    }

    // Every field starts at the same terminal column on every line.
    let header = field_starts(lines[0]);
    assert_eq!(header.len(), 9, "{}", lines[0]);
    for line in &lines {
        assert_eq!(field_starts(line), header, "misaligned:\n{stdout}");
    }
    // The widest name sets the second column: `h2_\u{1b}[31mred\u{1b}[0m`, 25 columns.
    assert_eq!(header[1], 25 + 2);

    // `--json` holds the exact names.
    let (status, json, _) = run(&setting(), &["list", "--json"]);
    assert_eq!(status, 0);
    assert!(json.contains("\"name\":\"h2_nl\\nproduction\""), "{json}");
    assert!(
        json.contains("\"name\":\"h2_\\u001b[31mred\\u001b[0m\""),
        "{json}"
    );
    assert!(json.contains("\"name\":\"h2_\\u202eexe.txt\""), "{json}");
    assert!(json.contains("\"name\":\"h2_数据库\""), "{json}");
}

/// A row of the fake `pg_database` answer.
fn row(cells: [&str; 9]) -> Vec<Option<String>> {
    cells
        .iter()
        .map(|c| (*c != "NULL").then(|| (*c).to_owned()))
        .collect()
}

/// The answer to the list query: nine text columns and `rows`, then ReadyForQuery.
fn list_answer(rows: &[Vec<Option<String>>]) -> Vec<u8> {
    use pgcluster_protocol::backend::{
        BackendMessage, DataRow, FieldDescription, RowDescription, TransactionStatus,
    };
    let field = |name: &str| FieldDescription {
        name: name.to_owned(),
        table_oid: 0,
        column_id: 0,
        type_oid: 25,
        type_size: -1,
        type_modifier: -1,
        format: 0,
    };
    let mut messages = vec![BackendMessage::RowDescription(RowDescription {
        fields: [
            "datname",
            "owner",
            "encoding",
            "datcollate",
            "datctype",
            "size",
            "datistemplate",
            "datallowconn",
            "datconnlimit",
        ]
        .map(field)
        .to_vec(),
    })];
    for r in rows {
        let values: Vec<Option<&[u8]>> =
            r.iter().map(|v| v.as_deref().map(str::as_bytes)).collect();
        messages.push(BackendMessage::DataRow(
            DataRow::from_values(&values).expect("short row"),
        ));
    }
    messages.push(BackendMessage::CommandComplete(format!(
        "SELECT {}",
        rows.len()
    )));
    messages.push(BackendMessage::ReadyForQuery(TransactionStatus::Idle));
    let mut out = Vec::new();
    for m in &messages {
        m.encode(&mut out).expect("encodable");
    }
    out
}

/// A hostile server's `pg_database` (an encoding and locales no real server has), laid out
/// exactly: every text column escaped, one line per database, wide characters counted as
/// two columns and combining marks as none.
#[test]
fn list_table_of_a_hostile_server_is_exact() {
    let rows = [
        row([
            "app", "postgres", "UTF8", "C", "C", "7654321", "f", "t", "-1",
        ]),
        row([
            "x\nproduction",
            "evil\t",
            "UTF8\u{1b}]0;owned\u{7}",
            "C\u{9b}2J",
            "\u{202e}C",
            "NULL",
            "f",
            "t",
            "5",
        ]),
        row([
            "数据库",
            "ｒｏｌｅ",
            "EUC_CN",
            "zh_CN",
            "zh_CN",
            "123",
            "t",
            "f",
            "-2",
        ]),
        row([
            "cafe\u{301}",
            "a\\b",
            "LATIN1",
            "fr_FR",
            "fr_FR",
            "8",
            "f",
            "t",
            "-1",
        ]),
    ];
    let answer = list_answer(&rows);
    let (status, stdout, stderr) = support::run(async move {
        let fake = FakeServer::start(vec![
            Step::ReadStartup,
            Step::Send(startup_ok()),
            Step::ReadMessage,
            Step::Send(answer),
            Step::Stall,
        ])
        .await;
        let db = fake.conninfo("sslmode=disable");
        tokio::task::spawn_blocking(move || run(&db, &["list"]))
            .await
            .expect("join")
    });
    assert_eq!((status, stderr.as_str()), (0, ""));
    assert_eq!(
        stdout,
        "name           owner     encoding                 collate    ctype      size       template  connections  limit\n\
         app            postgres  UTF8                     C          C          7475 kB    false     true         -1\n\
         x\\nproduction  evil\\t    UTF8\\u{1b}]0;owned\\u{7}  C\\u{9b}2J  \\u{202e}C  -          false     true         5\n\
         数据库         ｒｏｌｅ  EUC_CN                   zh_CN      zh_CN      123 bytes  true      invalid      -2\n\
         cafe\u{301}           a\\\\b      LATIN1                   fr_FR      fr_FR      8 bytes    false     true         -1\n"
    );
}

/// `/dev/full` as stdout: the write fails with ENOSPC; the program says so and exits 74.
#[test]
fn list_to_a_full_disk_is_an_error_with_status_74() {
    let full = File::options()
        .write(true)
        .open("/dev/full")
        .expect("open /dev/full");
    let out = cli()
        .arg("--db")
        .arg(setting())
        .arg("list")
        .stdout(full)
        .output()
        .expect("run pgcluster");
    let (status, _, stderr) = decoded(out);
    assert_eq!(status, OUTPUT_FAILED, "{stderr}");
    assert_eq!(
        stderr,
        "Error: could not write to stdout: No space left on device (os error 28)\n"
    );
}

/// A pipe whose reader is already gone: the write end of the standard input of a `true`
/// that has exited. The first write to it fails with EPIPE, every time.
fn closed_pipe() -> Stdio {
    let mut reader = Command::new("true")
        .stdin(Stdio::piped())
        .spawn()
        .expect("run true");
    let write_end = reader.stdin.take().expect("stdin pipe");
    assert!(reader.wait().expect("wait for true").success());
    Stdio::from(write_end)
}

#[test]
fn list_to_a_closed_pipe_exits_141_quietly() {
    for args in [&["list"][..], &["list", "--json"], &["exists", "postgres"]] {
        let out = cli()
            .arg("--db")
            .arg(setting())
            .args(args)
            .stdout(closed_pipe())
            .output()
            .expect("run pgcluster");
        let (status, _, stderr) = decoded(out);
        assert_eq!((status, stderr.as_str()), (BROKEN_PIPE, ""), "{args:?}");
    }
    // Help, too (clap's writer).
    let out = cli()
        .arg("--help")
        .stdout(closed_pipe())
        .output()
        .expect("run pgcluster");
    assert_eq!(decoded(out).0, BROKEN_PIPE);
    let full = File::options().write(true).open("/dev/full").expect("open");
    let out = cli()
        .arg("--help")
        .stdout(full)
        .output()
        .expect("run pgcluster");
    let (status, _, stderr) = decoded(out);
    assert_eq!(
        (status, stderr.as_str()),
        (
            OUTPUT_FAILED,
            "Error: could not write to stdout: No space left on device (os error 28)\n"
        )
    );
}

/// A closed stderr while an error is reported: the status is still the operation's.
#[test]
fn a_failed_operation_with_a_closed_stderr_still_exits_1() {
    let out = cli()
        .args(["--db", &setting(), "drop", "h2_no_such_database"])
        .stderr(closed_pipe())
        .output()
        .expect("run pgcluster");
    assert_eq!(out.status.code(), Some(1));
}

/// Whether any file or process is left of the throwaway servers of process `pid`: its
/// private directories (`pgcluster-test-<pid>-...` under the temporary directory,
/// `/dev/shm` or `/tmp`) and processes whose command line names one.
fn leftovers_of(pid: u32) -> Vec<String> {
    let prefix = format!("pgcluster-test-{pid}-");
    let mut found = Vec::new();
    for base in [std::env::temp_dir(), "/dev/shm".into(), "/tmp".into()] {
        for entry in std::fs::read_dir(&base).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                found.push(entry.path().display().to_string());
            }
        }
    }
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(&prefix) {
                found.push(format!("process {:?}: {cmdline}", entry.file_name()));
            }
        }
    }
    found
}

/// `pgcluster demo | head -3`: the reader goes away once the server is up; the demo exits
/// 141 without a word, after stopping the server and removing its directory.
#[test]
fn demo_into_a_reader_that_stops_early_cleans_up() {
    let mut child = cli()
        .arg("demo")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pgcluster demo");
    let pid = child.id();
    let mut lines = BufReader::new(child.stdout.take().expect("stdout"));
    let mut socket_dir = None;
    for _ in 0..3 {
        let mut line = String::new();
        if lines.read_line(&mut line).expect("read") == 0 {
            break;
        }
        if let Some((_, dir)) = line.trim_end().split_once(", socket directory ") {
            socket_dir = Some(dir.to_owned());
        }
    }
    let socket_dir = socket_dir.expect("the demo names its socket directory");
    assert!(Path::new(&socket_dir).exists(), "the server is up");
    assert!(!leftovers_of(pid).is_empty(), "the leftover check sees it");
    drop(lines);
    let out = child.wait_with_output().expect("wait for the demo");
    let (status, _, stderr) = decoded(out);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!((status, stderr.as_str()), (BROKEN_PIPE, ""));
    assert!(!Path::new(&socket_dir).exists(), "{socket_dir} is left");
    assert_eq!(leftovers_of(pid), Vec::<String>::new());
}

#[test]
fn demo_to_a_full_disk_is_an_error_with_status_74() {
    let full = File::options().write(true).open("/dev/full").expect("open");
    let child = cli()
        .arg("demo")
        .stdout(full)
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pgcluster demo");
    let pid = child.id();
    let (status, _, stderr) = decoded(child.wait_with_output().expect("wait"));
    assert_eq!(
        (status, stderr.as_str()),
        (
            OUTPUT_FAILED,
            "Error: could not write to stdout: No space left on device (os error 28)\n"
        )
    );
    assert_eq!(leftovers_of(pid), Vec::<String>::new());
}

/// The server's message quotes the name: its escape and bidi override are escaped, the
/// rex layout is kept (a line break, `\r` included, starts a line indented by four
/// spaces, as `str.splitlines` splits it).
#[test]
fn error_messages_escape_names() {
    let (status, stdout, stderr) = run(&setting(), &["drop", "h2_\u{1b}[2J\u{202e}gone\r"]);
    assert_eq!((status, stdout.as_str()), (1, ""));
    assert_eq!(
        stderr,
        "Error: Got an error from the database server:\n    database \"h2_\\u{1b}[2J\\u{202e}gone\n    \" does not exist\n"
    );
}

/// libpq's warning names the password file: a terminal escape in its path is escaped.
#[test]
fn warnings_escape_their_texts() {
    let dir = std::env::temp_dir().join(format!("pgc-h2-\u{1b}[7m-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let file = dir.join("pgpass");
    std::fs::write(&file, "*:*:*:*:wrong\n").expect("write");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let s = server();
    let out = cli()
        .args([
            "--db",
            &format!("pgsql://{PASSWORD_ROLE}@127.0.0.1:{}/postgres", s.port()),
            "connect",
        ])
        .env("PGPASSFILE", &file)
        .output()
        .expect("run pgcluster");
    let _ = std::fs::remove_dir_all(&dir);
    let (status, _, stderr) = decoded(out);
    assert_eq!(status, 1, "{stderr}");
    let shown = file.display().to_string().replace('\u{1b}', "\\u{1b}");
    assert!(
        stderr.starts_with(&format!(
            "WARNING: password file \"{shown}\" has group or world access; permissions should be u=rw (0600) or less\n"
        )),
        "{stderr}"
    );
    assert_no_raw_hazard(&stderr, &['\n', '\t']);
}

/// `connect` and `cluster` print one line each, whatever the name holds.
#[test]
fn connect_and_cluster_print_one_line() {
    hostile_databases();
    let (status, stdout, stderr) = run(&setting(), &["connect", "h2_nl\nproduction"]);
    assert_eq!((status, stderr.as_str()), (0, ""));
    assert!(stdout.starts_with("<connection object at "), "{stdout}");
    assert!(stdout.contains("h2_nl\\nproduction"), "{stdout}");
    assert_eq!(stdout.matches('\n').count(), 1, "{stdout}");
    assert_no_raw_hazard(&stdout, &['\n']);

    let (status, stdout, stderr) = run(&setting(), &["connect", "h2_\u{1b}[31mred\u{1b}[0m"]);
    assert_eq!((status, stderr.as_str()), (0, ""));
    assert!(stdout.contains("h2_\\u{1b}[31mred\\u{1b}[0m"), "{stdout}");
    assert_no_raw_hazard(&stdout, &['\n']);

    let (status, stdout, stderr) = run("dbname='h2_\u{202e}x\n\u{1b}'", &["cluster"]);
    assert_eq!((status, stderr.as_str()), (0, ""));
    assert_eq!(stdout.matches('\n').count(), 1, "{stdout}");
    assert!(stdout.starts_with("Cluster(\"dbname='h2_"), "{stdout}");
    assert_no_raw_hazard(&stdout, &['\n']);
}
