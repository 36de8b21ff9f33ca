//! The password never shows: the program is run through its failure paths (settings that
//! do not parse, wrong passwords, refused connections, failed verbs, `--json` errors) with a
//! known password, and every byte it prints on stdout and stderr is searched for it.
#![cfg(feature = "cli")]

#[path = "support/cli.rs"]
mod cli;
mod fake_server;

use fake_server::closed_port;
use pgcluster::testing::HOST_TCP;

/// The secret part of every password below; no output may hold it.
const SECRET: &str = "s3cr3tQz";

#[test]
fn no_failure_path_prints_the_password() {
    let server = cli::server();
    let port = server.port();
    let closed = closed_port();
    let pw = format!("Pw-{SECRET}");
    let settings = [
        // Settings that do not parse.
        format!("pgsql://postgres:{pw}@{HOST_TCP}:{port}"),
        format!("pgsql://postgres:{pw}@[::1/postgres"),
        format!("pgsql://postgres:{pw}%zz@{HOST_TCP}:{port}/postgres"),
        format!("pgsql://postgres:{pw}%00@{HOST_TCP}:{port}/postgres"),
        format!("pgsql://postgres:{pw}@{HOST_TCP}:{port}/postgres?bad%zz=1"),
        // A rex setting that does not parse, with the password where htsql's pattern
        // does not expect it (differential_conninfo found the first three): a `?` in it,
        // no `//`, a single `/`, and password options in the query.
        format!("pgsql://postgres:Pw?{SECRET}@{HOST_TCP}:{port}/postgres"),
        format!("pgsql:postgres:{pw}@{HOST_TCP}:{port}/postgres"),
        format!("pgsql//postgres:{pw}@{HOST_TCP}:{port}/postgres"),
        format!("pgsql:/postgres:{pw}@{HOST_TCP}:{port}/postgres"),
        format!("pgsql://postgres@{HOST_TCP}:{port}/postgres?a=b@c&password={pw}"),
        format!("pgsql://postgres@{HOST_TCP}:{port}/postgres?sslpassword={pw}&x"),
        format!("pgsql://postgres:{pw}@{HOST_TCP}:{port}/post gres"),
        format!("pgsql://postgres:{pw}%@{HOST_TCP}:{port}/postgres"),
        format!("pgsql://postgres:{pw}@{HOST_TCP}:x{port}/postgres"),
        format!("pgsql://postgres:{pw}@[::1]x/postgres"),
        format!("postgres://postgres:{pw}@[::1/postgres"),
        format!("postgres://postgres:{pw}@[]/postgres"),
        format!("postgres://postgres:{pw}@[::1]x/postgres"),
        format!("postgres://postgres:{pw}%zz@{HOST_TCP}/postgres"),
        format!("postgres://postgres:{pw}%00@{HOST_TCP}/postgres"),
        format!("postgres://postgres@{HOST_TCP}/postgres?password={pw}%zz"),
        format!("postgres://postgres@{HOST_TCP}/postgres?password={pw}%00"),
        format!("postgres://postgres:{pw}@{HOST_TCP}/postgres?nosuchoption=1"),
        format!("postgres://postgres:{pw}@{HOST_TCP}/postgres?sslmode=bogus"),
        format!("host={HOST_TCP} password={pw} dbname='unclosed"),
        format!("host={HOST_TCP} password='{pw}' nosuchoption=1"),
        format!("host={HOST_TCP} password={pw} port=notaport"),
        format!("host={HOST_TCP} password={pw} sslmode=verify-full sslrootcert=/nonexistent"),
        // Settings that parse, then fail to connect or authenticate.
        format!("pgsql://postgres:{pw}@{HOST_TCP}:{port}/postgres"),
        format!("pgsql://postgres:{pw}@{HOST_TCP}:{closed}/postgres"),
        format!("postgres://postgres:{pw}@{HOST_TCP}:{port}/postgres"),
        format!("postgres://pgcluster_md5:{pw}@{HOST_TCP}:{port}/postgres"),
        format!("postgres://pgcluster_password:{pw}@{HOST_TCP}:{port}/postgres"),
        format!("host={HOST_TCP} port={closed} user=postgres password={pw} dbname=postgres"),
        format!("host={HOST_TCP} port={port} user=postgres password={pw} dbname=nosuchdb"),
    ];
    let verbs: [&[&str]; 4] = [&["list"], &["exists"], &["drop", "nosuchdb_x"], &["create"]];
    let mut runs = 0;
    for setting in &settings {
        for verb in verbs {
            for json in [false, true] {
                let mut args = vec!["--db", setting.as_str()];
                if json {
                    args.push("--json");
                }
                args.extend_from_slice(verb);
                let (status, stdout, stderr) = cli::run(&args, &[]);
                assert_ne!(status, 0, "{args:?} should fail");
                for (stream, text) in [("stdout", &stdout), ("stderr", &stderr)] {
                    assert!(
                        !text.contains(SECRET),
                        "{args:?}: the password on {stream}:\n{text}"
                    );
                }
                runs += 1;
            }
        }
        // The same setting from the environment, and a wrong password from PGPASSWORD over
        // TCP.
        let port_text = port.to_string();
        let from_env: [&[(&str, &str)]; 2] = [
            &[
                ("DATABASE_URL", setting.as_str()),
                ("PGPASSWORD", pw.as_str()),
            ],
            &[
                ("PGHOST", HOST_TCP),
                ("PGPORT", &port_text),
                ("PGPASSWORD", pw.as_str()),
            ],
        ];
        for vars in from_env {
            let (status, stdout, stderr) = cli::run(&["list"], vars);
            assert_ne!(status, 0, "{vars:?} should fail");
            assert!(
                !stdout.contains(SECRET) && !stderr.contains(SECRET),
                "{vars:?}:\n{stdout}{stderr}"
            );
            runs += 1;
        }
    }
    assert_eq!(runs, settings.len() * 10);
}
