//! The `pgcluster` program run against this test binary's shared throwaway server, for the
//! CLI tests. Include it with `#[path = "support/cli.rs"] mod cli;`.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::process::Command;

use pgcluster::testing::TestServer;

/// This process's throwaway server.
pub(crate) fn server() -> &'static TestServer {
    TestServer::shared().expect("a throwaway PostgreSQL server")
}

/// Runs the program with the server's `PGHOST`, `PGPORT` and `PGUSER` only (the socket: no
/// password) and `--db pgsql:///postgres`; returns (status, stdout, stderr).
pub(crate) fn pgcluster(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["--db", "pgsql:///postgres"];
    all.extend_from_slice(args);
    run(&all, &[])
}

/// Runs the program with `args` (any bytes), the server's `PGHOST`, `PGPORT` and `PGUSER`
/// and `vars` as its whole environment; returns (status, stdout, stderr).
pub(crate) fn run<S: AsRef<OsStr>>(args: &[S], vars: &[(&str, &str)]) -> (i32, String, String) {
    output(command(vars).args(args))
}

/// The program's command with the server's `PGHOST`, `PGPORT` and `PGUSER` and `vars` as
/// its whole environment.
pub(crate) fn command(vars: &[(&str, &str)]) -> Command {
    command_on(server(), vars)
}

/// [`command`] for another server than this binary's shared one.
pub(crate) fn command_on(server: &TestServer, vars: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgcluster"));
    cmd.env_clear().envs(server.env_vars());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

/// Runs `cmd` to its end: (status, stdout, stderr), both UTF-8.
pub(crate) fn output(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("run pgcluster");
    (
        out.status.code().expect("exit status"),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8(out.stderr).expect("utf-8 stderr"),
    )
}
