//! `~` is `$HOME` when it is set (libpq 15 and later; libpq 13 and 14 read the password
//! database only), for the password file, as a new user meets it: `HOME` names a directory
//! holding a `.pgpass` (mode 600) and the program connects with its password.
//!
//! Checked against the libpqs here: with `HOME=/tmp/h5home` holding a
//! `.pg_service.conf` and `PGSERVICE` naming its service, libpq 14.23 says `definition of
//! service "foo" not found` (it read root's home, `/root`, from `/etc/passwd`), while
//! libpq 15.18 (Debian's), 16.15, 17.11 and 18.6 take the service's host from `$HOME`.
#![cfg(feature = "testing")]

mod connecting;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use connecting::{connect_with, on_each_driver, resolve_env};
use pgcluster::conninfo::Env;
use pgcluster::testing::TestServer;

/// A directory holding `.pgpass` with `line` (mode 600), removed on drop.
struct Home(PathBuf);

impl Home {
    fn new(name: &str, line: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("pgc-home-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("home");
        let file = dir.join(".pgpass");
        std::fs::write(&file, format!("{line}\n")).expect(".pgpass");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        Self(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn text(&self) -> &str {
        self.0.to_str().expect("a UTF-8 path")
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_password_file_in_home_is_used() {
    let server = TestServer::new().expect("server starts");
    let port = server.port();
    let home = Home::new(
        "pgpass",
        &format!("127.0.0.1:{port}:*:postgres:{}", server.password()),
    );
    let conninfo =
        format!("host=127.0.0.1 port={port} user=postgres dbname=postgres sslmode=disable");

    // The library, with only HOME in the environment.
    let env = Env::empty().with("HOME", home.text());
    let config = resolve_env(&conninfo, &env);
    assert_eq!(
        config.passfile.as_deref(),
        Some(format!("{}/.pgpass", home.text()).as_str())
    );
    assert_eq!(config.password_for(0), (Some(server.password()), true));
    on_each_driver(|driver| {
        let (config, conninfo) = (&config, &conninfo);
        async move {
            let mut conn = connect_with(driver, config, conninfo).await;
            conn.close().await;
        }
    });

    // The program, as a new user runs it: HOME and nothing else.
    let out = Command::new(env!("CARGO_BIN_EXE_pgcluster"))
        .env_clear()
        .env("HOME", home.path())
        .args([
            "--db",
            &format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode=disable"),
            "connect",
        ])
        .output()
        .expect("pgcluster runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("no password supplied"), "{stderr}");

    // A wrong password from that file: libpq's text names the file.
    let wrong = Home::new("wrong", &format!("127.0.0.1:{port}:*:postgres:not-it"));
    let env = Env::empty().with("HOME", wrong.text());
    let config = resolve_env(&conninfo, &env);
    on_each_driver(|driver| {
        let (config, wrong) = (&config, &wrong);
        async move {
            let e = match driver.connect(config).await {
                Ok(_) => panic!("connected with a wrong password"),
                Err(e) => e,
            };
            assert!(
                e.message.ends_with(&format!(
                    "password retrieved from file \"{}/.pgpass\"\n",
                    wrong.text()
                )),
                "{}",
                e.message
            );
        }
    });
}
