//! The `pgcluster` program run against this test binary's shared throwaway server, for the
//! CLI tests. Include it with `#[path = "support/cli.rs"] mod cli;`.

use std::process::Command;

use pgcluster::testing::TestServer;

/// This process's throwaway server.
pub(crate) fn server() -> &'static TestServer {
    TestServer::shared().expect("a throwaway PostgreSQL server")
}

/// Runs the program with the server's `PGHOST`, `PGPORT` and `PGUSER` only (the socket: no
/// password) and `--db pgsql:///postgres`; returns (status, stdout, stderr).
pub(crate) fn pgcluster(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pgcluster"))
        .env_clear()
        .envs(server().env_vars())
        .arg("--db")
        .arg("pgsql:///postgres")
        .args(args)
        .output()
        .expect("run pgcluster");
    (
        out.status.code().expect("exit status"),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8(out.stderr).expect("utf-8 stderr"),
    )
}
