//! `CREATE DATABASE`'s options of PostgreSQL 15–18 ([`CreateOptions`]) against the server
//! at hand (`.ci/run` runs the suite on 14, 15, 16, 17 and 18; see README's "Supported
//! PostgreSQL versions").
//!
//! On a server that has an option, the database is made and `pg_database` shows it; on
//! one too old for it, `create_with` and `overwrite_with` fail with an error that names
//! the option and the version it needs, and the server log (`log_statement = all`) shows
//! that nothing about the database was sent. The versions an
//! option first appeared in were checked with `psql` on 14.23, 15, 16.15 and 17.11: 14 says
//! `option "oid" not recognized` (and the same for `collation_version`, `strategy`,
//! `locale_provider`, `icu_locale`), 15 for `icu_rules` and `builtin_locale`, 16 for
//! `builtin_locale`.
//!
//! The PyPI builds of 16–18 have no ICU: there an ICU database is refused by the server
//! itself (`ICU is not supported in this build`), which shows that the option was sent
//! and parsed.
#![cfg(feature = "testing")]

use pgcluster::blocking::Cluster;
use pgcluster::cluster::{CreateOptions, LocaleProvider, Strategy};
use pgcluster::testing::TestServer;
use pgcluster::Error;

/// One option of the matrix: the options; those of them that not every version has, in the
/// statement's order, each with the first version that has it (an older server is told of
/// the first it lacks); and the query on the database's row of `pg_database` whose answer
/// shows they were taken, with that answer as a function of the version (the catalog
/// columns moved in 17).
struct Case {
    label: &'static str,
    options: CreateOptions,
    needs: &'static [(&'static str, u32)],
    shows: fn(u32) -> (&'static str, &'static str),
    icu: bool,
}

fn cases() -> Vec<Case> {
    let icu = || {
        CreateOptions::new()
            .template("template0")
            .locale_provider(LocaleProvider::Icu)
            .icu_locale("und")
    };
    vec![
        Case {
            label: "locale",
            options: CreateOptions::new().template("template0").locale("C"),
            needs: &[("LOCALE", 130_000)],
            shows: |_| ("datcollate || '/' || datctype", "C/C"),
            icu: false,
        },
        Case {
            label: "allow_connections",
            options: CreateOptions::new().allow_connections(false),
            needs: &[("ALLOW_CONNECTIONS", 90_500)],
            shows: |_| ("datallowconn::text", "false"),
            icu: false,
        },
        Case {
            label: "libc",
            options: CreateOptions::new().locale_provider(LocaleProvider::Libc),
            needs: &[("LOCALE_PROVIDER", 150_000)],
            shows: |_| ("datlocprovider::text", "c"),
            icu: false,
        },
        Case {
            label: "icu_locale",
            options: icu(),
            needs: &[("LOCALE_PROVIDER", 150_000)],
            shows: |v| {
                if v >= 170_000 {
                    ("datlocprovider::text || '/' || datlocale", "i/und")
                } else {
                    ("datlocprovider::text || '/' || daticulocale", "i/und")
                }
            },
            icu: true,
        },
        Case {
            label: "icu_rules",
            options: icu().icu_rules("&a < b's \\ c"),
            needs: &[("LOCALE_PROVIDER", 150_000), ("ICU_RULES", 160_000)],
            shows: |_| ("daticurules", "&a < b's \\ c"),
            icu: true,
        },
        Case {
            label: "builtin",
            options: CreateOptions::new()
                .template("template0")
                .locale_provider(LocaleProvider::Builtin)
                .builtin_locale("C.UTF-8"),
            needs: &[("LOCALE_PROVIDER = builtin", 170_000)],
            shows: |_| ("datlocprovider::text || '/' || datlocale", "b/C.UTF-8"),
            icu: false,
        },
        Case {
            label: "collation_version",
            options: CreateOptions::new()
                .template("template0")
                .collation_version("153.'1\\"),
            needs: &[("COLLATION_VERSION", 150_000)],
            shows: |_| ("datcollversion", "153.'1\\"),
            icu: false,
        },
        Case {
            label: "strategy",
            options: CreateOptions::new().strategy(Strategy::FileCopy),
            needs: &[("STRATEGY", 150_000)],
            shows: |_| ("datname IS NOT NULL", "t"),
            icu: false,
        },
        Case {
            label: "oid",
            options: CreateOptions::new().oid(4_000_000_123),
            needs: &[("OID", 150_000)],
            shows: |_| ("oid::text", "4000000123"),
            icu: false,
        },
    ]
}

/// The whole matrix on the server at hand.
#[test]
fn create_options_on_the_server_at_hand() {
    let server = TestServer::builder()
        .conf_line("log_statement = 'all'")
        .start()
        .expect("a throwaway server starts");
    let cluster = Cluster::new("pgsql:///postgres")
        .unwrap()
        .with_env(server.env());
    let version = server.server_version_num().unwrap();
    // Only an ICU build has the ICU root collation (16+ have `unicode`, provider `i`, in
    // every build).
    let has_icu = server
        .psql("SELECT count(*) > 0 FROM pg_collation WHERE collname = 'und-x-icu'")
        .unwrap()
        .trim()
        == "t";
    let (major, minor) = (version / 10_000, version % 10_000);
    for case in cases() {
        let name = format!("create_options_{}", case.label);
        let result = cluster.create_with(&name, &case.options);
        if let Some(&(option, first)) = case.needs.iter().find(|(_, first)| version < *first) {
            let needs = first / 10_000;
            let needs = if needs >= 10 {
                needs.to_string()
            } else {
                format!("{needs}.{}", first % 10_000 / 100)
            };
            let expected = format!(
                "CREATE DATABASE option {option} needs PostgreSQL {needs} or later; the server \
                 is PostgreSQL {major}.{minor}, and nothing was sent"
            );
            let e = result.expect_err(case.label);
            assert!(matches!(e, Error::ServerTooOld(_)), "{}: {e:?}", case.label);
            assert_eq!(e.to_string(), expected);
            // overwrite refuses them before it reads the catalog.
            let e = cluster
                .overwrite_with(&name, &case.options)
                .expect_err(case.label);
            assert_eq!(e.to_string(), expected);
            assert!(
                !server.log().contains(&name),
                "{}: the statement reached the server:\n{}",
                case.label,
                server.log()
            );
            continue;
        }
        if case.icu && !has_icu {
            let e = result.expect_err(case.label);
            assert_eq!(e.sqlstate(), Some("0A000"), "{}: {e}", case.label);
            assert!(e.to_string().contains("ICU is not supported in this build"));
            assert!(server
                .log()
                .contains(&format!("CREATE DATABASE \"{name}\"")));
            continue;
        }
        result.unwrap_or_else(|e| panic!("{}: {e}", case.label));
        assert!(server
            .log()
            .contains(&format!("CREATE DATABASE \"{name}\"")));
        let (column, expected) = (case.shows)(version);
        let shown = server
            .psql(&format!(
                "SELECT {column} FROM pg_database WHERE datname = '{name}'"
            ))
            .unwrap();
        assert_eq!(shown.trim(), expected, "{}", case.label);
        cluster.drop_database(&name).unwrap();
    }
}

/// The CLI's flags for the same options, on the default server: taken (`pg_database` shows
/// them), and refused before anything is sent when the server is too old for one.
#[cfg(feature = "cli")]
#[test]
fn cli_create_options() {
    let server = TestServer::builder()
        .conf_line("log_statement = 'all'")
        .start()
        .expect("a throwaway server starts");
    // On this server, not the shared one `support/cli.rs` runs against.
    let pgcluster = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pgcluster"))
            .env_clear()
            .envs(server.env_vars())
            .args(["--db", "pgsql:///postgres"])
            .args(args)
            .output()
            .expect("run pgcluster");
        let stderr = String::from_utf8(out.stderr).expect("utf-8 stderr");
        (out.status.code().expect("exit status"), stderr)
    };
    let version = server.server_version_num().unwrap();
    let (major, minor) = (version / 10_000, version % 10_000);
    if version >= 150_000 {
        let taken = pgcluster(&[
            "create",
            "cli_options",
            "--template",
            "template0",
            "--locale-provider",
            "libc",
            "--collation-version",
            "1.2",
            "--allow-connections",
            "false",
            "--oid",
            "70000",
        ]);
        assert_eq!(taken, (0, String::new()));
        assert_eq!(
            server
                .psql(
                    "SELECT oid, datlocprovider, datcollversion, datallowconn FROM pg_database \
                     WHERE datname = 'cli_options'"
                )
                .unwrap()
                .trim(),
            "70000|c|1.2|f"
        );
        server.psql("DROP DATABASE cli_options").unwrap();
    }
    if version < 170_000 {
        let refused = pgcluster(&[
            "create",
            "cli_builtin",
            "--template",
            "template0",
            "--locale-provider",
            "builtin",
            "--builtin-locale",
            "C.UTF-8",
        ]);
        assert_eq!(
            refused,
            (
                1,
                format!(
                    "Error: CREATE DATABASE option LOCALE_PROVIDER = builtin needs PostgreSQL \
                     17 or later; the server is PostgreSQL {major}.{minor}, and nothing was \
                     sent\n"
                )
            )
        );
        assert!(!server.log().contains("cli_builtin"), "{}", server.log());
    }
}
