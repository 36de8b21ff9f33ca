//! Running the `pgcluster` program on a pseudo-terminal, driven by python3's `pty` module,
//! to test what it does for a person at a terminal (its `[y/N]` questions, Ctrl-C).
//!
//! Include it with `mod terminal;`.
#![allow(dead_code, unreachable_pub)]

use std::process::Command;

/// Drives a program on a pseudo-terminal: `python3 -c PTY_DRIVER ANSWER PROGRAM ARGS...`.
/// When the program's output shows `[y/N] `, ANSWER and a newline are typed (`<EOF>`: an
/// end of input instead, Ctrl-D; `<INT>`: Ctrl-C, which the terminal turns into SIGINT).
/// Prints everything the terminal showed (stdout and stderr both, the typed answer echoed)
/// and exits with the program's status. A program still running after 300 s is killed, so
/// that a test never hangs.
pub const PTY_DRIVER: &str = r#"
import os, pty, select, sys, time
answer, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
out, typed = b"", False
deadline = time.monotonic() + 300
while True:
    left = deadline - time.monotonic()
    if left <= 0:
        os.kill(pid, 9)
        break
    if not select.select([fd], [], [], left)[0]:
        continue
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
    if not typed and b"[y/N] " in out:
        keys = {"<EOF>": b"\x04", "<INT>": b"\x03"}
        os.write(fd, keys.get(answer, answer.encode() + b"\n"))
        typed = True
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.stdout.flush()
sys.exit(os.waitstatus_to_exitcode(status))
"#;

/// Runs `pgcluster ARGS` through `python3` (`python`: the command to run it with, its
/// environment set) on a pseudo-terminal (stdin, stdout and stderr), typing `answer` at the
/// question: the status, and what the terminal showed (line ends as `\n`).
pub fn run(mut python: Command, answer: &str, args: &[&str]) -> (i32, String) {
    let out = python
        .arg("-c")
        .arg(PTY_DRIVER)
        .arg(answer)
        .arg(env!("CARGO_BIN_EXE_pgcluster"))
        .args(args)
        .output()
        .expect("run python3 with pgcluster on a pseudo-terminal");
    let shown = String::from_utf8(out.stdout)
        .expect("utf-8 terminal output")
        .replace("\r\n", "\n");
    (out.status.code().expect("exit status"), shown)
}
