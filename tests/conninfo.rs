//! Connection settings against libpq 13.3's texts.
//!
//! Every expected text in `LIBPQ_ERRORS` was printed by the reference libpq, with
//! `python3 shared/tools/rexref libpq '<string>'` (libpq fails these before any connection
//! attempt, so it prints the parse or check text). The texts keep libpq's final `\n`; our
//! `Display` leaves it off. Everything runs with an explicit `Env`: no test reads or sets the
//! process environment.

#[path = "support/scratch.rs"]
mod scratch;

use std::time::Duration;

use pgcluster::compat::rex::DbSetting;
use pgcluster::conninfo::{Address, Config, ConnInfoError, Env, Resolved, TargetSessionAttrs};
use scratch::Scratch;

/// An environment that names nothing on this machine: no service or password files, a
/// fixed operating-system user.
fn env() -> Env {
    Env::empty()
        .with_os_user("aladdin")
        .with_home("/nonexistent/h3-home")
        .with("PGSYSCONFDIR", "/nonexistent/h3-sysconf")
}

fn resolve(s: &str, env: &Env) -> Result<Resolved, ConnInfoError> {
    Config::parse(s)?.resolve(env)
}

/// (connection string, libpq 13.3's `PQerrorMessage`) from `rexref libpq`.
const LIBPQ_ERRORS: &[(&str, &str)] = &[
    ("host localhost", "missing \"=\" after \"host\" in connection info string\n"),
    ("foo", "missing \"=\" after \"foo\" in connection info string\n"),
    ("host='localhost", "unterminated quoted string in connection info string\n"),
    ("host='x\\'", "unterminated quoted string in connection info string\n"),
    ("foo=bar", "invalid connection option \"foo\"\n"),
    ("nosuchoption=1", "invalid connection option \"nosuchoption\"\n"),
    ("sslcrldir=/x", "invalid connection option \"sslcrldir\"\n"),
    ("=x", "invalid connection option \"\"\n"),
    ("host=a,b hostaddr=127.0.0.1", "could not match 2 host names to 1 hostaddr values\n"),
    ("host=a hostaddr=127.0.0.1,127.0.0.2", "could not match 1 host names to 2 hostaddr values\n"),
    ("host=a,b port=1,2,3", "could not match 3 port numbers to 2 hosts\n"),
    ("host=a,b,c port=1,2", "could not match 2 port numbers to 3 hosts\n"),
    ("port=1,2", "could not match 2 port numbers to 1 hosts\n"),
    ("sslmode=bogus", "invalid sslmode value: \"bogus\"\n"),
    ("sslmode=", "invalid sslmode value: \"\"\n"),
    ("channel_binding=maybe", "invalid channel_binding value: \"maybe\"\n"),
    ("gssencmode=x", "invalid gssencmode value: \"x\"\n"),
    ("target_session_attrs=bogus", "invalid target_session_attrs value: \"bogus\"\n"),
    ("target_session_attrs=", "invalid target_session_attrs value: \"\"\n"),
    ("ssl_min_protocol_version=x", "invalid ssl_min_protocol_version value: \"x\"\n"),
    ("ssl_max_protocol_version=TLSv2", "invalid ssl_max_protocol_version value: \"TLSv2\"\n"),
    ("ssl_min_protocol_version=TLSv1.3 ssl_max_protocol_version=TLSv1.2", "invalid SSL protocol version range\n"),
    ("ssl_min_protocol_version=TLSv1.1 ssl_max_protocol_version=TLSv1", "invalid SSL protocol version range\n"),
    ("service=nosuchservice", "definition of service \"nosuchservice\" not found\n"),
    ("channel_binding=maybe sslmode=bogus", "invalid channel_binding value: \"maybe\"\n"),
    ("sslmode=bogus target_session_attrs=x", "invalid sslmode value: \"bogus\"\n"),
    ("host=a,b port=1,2,3 sslmode=bogus", "could not match 3 port numbers to 2 hosts\n"),
    ("postgresql://[::1", "end of string reached when looking for matching \"]\" in IPv6 host address in URI: \"postgresql://[::1\"\n"),
    ("postgresql://[]/db", "IPv6 host address may not be empty in URI: \"postgresql://[]/db\"\n"),
    ("postgresql://[::1]x/db", "unexpected character \"x\" at position 19 in URI (expected \":\" or \"/\"): \"postgresql://[::1]x/db\"\n"),
    ("postgresql:///db?sslmode=require=x", "extra key/value separator \"=\" in URI query parameter: \"sslmode\"\n"),
    ("postgresql:///db?sslmode", "missing key/value separator \"=\" in URI query parameter: \"sslmode\"\n"),
    ("postgresql:///db?foo=bar", "invalid URI query parameter: \"foo\"\n"),
    ("postgresql:///db?f%6fo=bar", "invalid URI query parameter: \"foo\"\n"),
    ("postgresql://h/d%zzb", "invalid percent-encoded token: \"d%zzb\"\n"),
    ("postgresql://u%zz@h/db", "invalid percent-encoded token: \"u%zz\"\n"),
    // libpq quotes the password ("p%zz"); pgcluster never does.
    ("postgresql://u:p%zz@h/db", "invalid percent-encoded token: \"xxx\"\n"),
    ("postgresql://h/d%00b", "forbidden value %00 in percent-encoded value: \"d%00b\"\n"),
    ("postgresql://h/db%", "invalid percent-encoded token: \"db%\"\n"),
    ("postgresql://h/db%4", "invalid percent-encoded token: \"db%4\"\n"),
    ("postgresql://h1,h%2/db", "invalid percent-encoded token: \"h1,h%2\"\n"),
    ("postgresql://h:5%zz/db", "invalid percent-encoded token: \"5%zz\"\n"),
    ("postgresql:///db?application_name=1&&b=2", "missing key/value separator \"=\" in URI query parameter: \"\"\n"),
    ("postgresql:///db?&", "missing key/value separator \"=\" in URI query parameter: \"\"\n"),
    ("postgresql:///db?ssl=yes", "invalid URI query parameter: \"ssl\"\n"),
    ("postgresql:///db?ssl=true&sslmode=bogus", "invalid sslmode value: \"bogus\"\n"),
    ("postgresql:///db?host=a,b&port=1,2,3", "could not match 3 port numbers to 2 hosts\n"),
    ("postgres:///db?channel_binding=x", "invalid channel_binding value: \"x\"\n"),
    ("postgresql:///db?application_name=%zz", "invalid percent-encoded token: \"%zz\"\n"),
];

#[test]
fn libpq_parse_and_check_texts() {
    let env = env();
    for (input, expected) in LIBPQ_ERRORS {
        let err = match resolve(input, &env) {
            Ok(r) => panic!("{input:?} resolved: {r:?}"),
            Err(e) => e,
        };
        assert_eq!(format!("{err}\n"), *expected, "{input:?}");
    }
}

/// (connection string, libpq 16's text) for `require_auth`, from libpq 16's
/// `connectOptions2` (fe-connect.c): the value is checked after the host and port lists and
/// the password file, before `channel_binding` and `sslmode`. Elements are split at commas
/// and not trimmed; each method, `none` included, may be named once.
const LIBPQ_16_REQUIRE_AUTH_ERRORS: &[(&str, &str)] = &[
    (
        "require_auth=kerberos",
        "invalid require_auth value: \"kerberos\"\n",
    ),
    (
        "require_auth=!kerberos",
        "invalid require_auth value: \"kerberos\"\n",
    ),
    (
        "require_auth=SCRAM-SHA-256",
        "invalid require_auth value: \"SCRAM-SHA-256\"\n",
    ),
    (
        "require_auth=scram-sha-256,",
        "invalid require_auth value: \"\"\n",
    ),
    (
        "require_auth='md5, password'",
        "invalid require_auth value: \" password\"\n",
    ),
    (
        "require_auth=password,!md5",
        "negative require_auth method \"!md5\" cannot be mixed with non-negative methods\n",
    ),
    (
        "require_auth=!password,md5",
        "require_auth method \"md5\" cannot be mixed with negative methods\n",
    ),
    (
        "require_auth=md5,md5",
        "require_auth method \"md5\" is specified more than once\n",
    ),
    (
        "require_auth=!md5,!password,!md5",
        "require_auth method \"!md5\" is specified more than once\n",
    ),
    (
        "require_auth=none,scram-sha-256,none",
        "require_auth method \"none\" is specified more than once\n",
    ),
    (
        "require_auth=!none,!none",
        "require_auth method \"!none\" is specified more than once\n",
    ),
    (
        "postgresql:///db?require_auth=gss,x",
        "invalid require_auth value: \"x\"\n",
    ),
    (
        "postgresql:///db?require_auth=%21password%2Cmd5",
        "require_auth method \"md5\" cannot be mixed with negative methods\n",
    ),
    // The order of the checks.
    (
        "require_auth=x channel_binding=maybe",
        "invalid require_auth value: \"x\"\n",
    ),
    (
        "require_auth=x sslmode=bogus target_session_attrs=x",
        "invalid require_auth value: \"x\"\n",
    ),
    (
        "channel_binding=maybe require_auth=scram-sha-256",
        "invalid channel_binding value: \"maybe\"\n",
    ),
    (
        "host=a,b port=1,2,3 require_auth=x",
        "could not match 3 port numbers to 2 hosts\n",
    ),
    (
        "service=nosuchservice require_auth=x",
        "definition of service \"nosuchservice\" not found\n",
    ),
];

#[test]
fn require_auth_texts() {
    for (input, expected) in LIBPQ_16_REQUIRE_AUTH_ERRORS {
        let err = match resolve(input, &env()) {
            Ok(r) => panic!("{input:?} resolved: {r:?}"),
            Err(e) => e,
        };
        assert_eq!(format!("{err}\n"), *expected, "{input:?}");
    }
    // PGREQUIREAUTH is checked the same way.
    let e = env().with("PGREQUIREAUTH", "scram-sha-256,scram-sha-256");
    assert_eq!(
        resolve("", &e).unwrap_err().to_string(),
        "require_auth method \"scram-sha-256\" is specified more than once"
    );
}

/// `require_auth` (libpq 16) is accepted as a keyword, in URIs, in service files and from
/// `PGREQUIREAUTH`, and reaches the connection as the parsed policy.
#[test]
fn require_auth_is_a_keyword() {
    let required = |s: &str, e: &Env| {
        resolve(s, e)
            .unwrap()
            .require_auth
            .map(|r| r.as_str().to_owned())
    };
    // No requirement unless given; an empty value is none (as libpq).
    assert_eq!(required("", &env()), None);
    assert_eq!(required("require_auth=''", &env()), None);
    for value in [
        "password",
        "md5",
        "gss",
        "sspi",
        "scram-sha-256",
        "none",
        "!none",
        "scram-sha-256,none",
        "md5,password,scram-sha-256",
        "!password,!md5",
        "!password,!none",
    ] {
        assert_eq!(
            required(&format!("require_auth={value}"), &env()).as_deref(),
            Some(value)
        );
    }
    assert_eq!(
        required(
            "postgresql://h/db?require_auth=%21password&channel_binding=require",
            &env()
        )
        .as_deref(),
        Some("!password")
    );
    // The environment, and the keyword over the environment.
    let e = env().with("PGREQUIREAUTH", "md5");
    assert_eq!(required("", &e).as_deref(), Some("md5"));
    assert_eq!(
        required("require_auth=scram-sha-256", &e).as_deref(),
        Some("scram-sha-256")
    );
    // An empty keyword value still overrides the variable, as libpq's defaults only fill
    // keywords not given.
    assert_eq!(required("require_auth=''", &e), None);
    // A service file may set it too.
    let dir = Scratch::new("conninfo");
    let file = dir.file_with_mode("services", "[strict]\nrequire_auth=scram-sha-256\n", 0o644);
    let e = env().with("PGSERVICEFILE", &file);
    assert_eq!(
        required("service=strict", &e).as_deref(),
        Some("scram-sha-256")
    );
    assert_eq!(
        Config::parse("require_auth=none host=h")
            .unwrap()
            .render_redacted(),
        "host=h require_auth=none"
    );
}

/// (connection string, libpq 17's text) for the two later keywords, from libpq 17's
/// `connectOptions2` (fe-connect.c): `sslnegotiation` is checked right after `sslmode`,
/// before the TLS versions; `sslsni` is never checked.
#[cfg(feature = "tls")]
const LIBPQ_17_ERRORS: &[(&str, &str)] = &[
    ("sslnegotiation=tls", "invalid sslnegotiation value: \"tls\"\n"),
    ("sslnegotiation=Direct sslmode=require", "invalid sslnegotiation value: \"Direct\"\n"),
    ("sslnegotiation=", "invalid sslnegotiation value: \"\"\n"),
    ("postgresql:///db?sslnegotiation=x", "invalid sslnegotiation value: \"x\"\n"),
    ("sslnegotiation=direct", "weak sslmode \"prefer\" may not be used with sslnegotiation=direct (use \"require\", \"verify-ca\", or \"verify-full\")\n"),
    ("sslnegotiation=direct sslmode=allow", "weak sslmode \"allow\" may not be used with sslnegotiation=direct (use \"require\", \"verify-ca\", or \"verify-full\")\n"),
    ("sslnegotiation=direct sslmode=disable host=/tmp", "weak sslmode \"disable\" may not be used with sslnegotiation=direct (use \"require\", \"verify-ca\", or \"verify-full\")\n"),
    ("sslmode=bogus sslnegotiation=x", "invalid sslmode value: \"bogus\"\n"),
    ("channel_binding=x sslnegotiation=x", "invalid channel_binding value: \"x\"\n"),
    ("sslnegotiation=x ssl_min_protocol_version=x", "invalid sslnegotiation value: \"x\"\n"),
    ("sslnegotiation=direct ssl_min_protocol_version=x", "weak sslmode \"prefer\" may not be used with sslnegotiation=direct (use \"require\", \"verify-ca\", or \"verify-full\")\n"),
    ("sslnegotiation=direct sslmode=require ssl_min_protocol_version=x", "invalid ssl_min_protocol_version value: \"x\"\n"),
];

#[cfg(feature = "tls")]
#[test]
fn sslnegotiation_texts() {
    for (input, expected) in LIBPQ_17_ERRORS {
        let err = match resolve(input, &env()) {
            Ok(r) => panic!("{input:?} resolved: {r:?}"),
            Err(e) => e,
        };
        assert_eq!(format!("{err}\n"), *expected, "{input:?}");
    }
    // The variables are checked the same way.
    let e = env().with("PGSSLNEGOTIATION", "direct");
    assert_eq!(
        resolve("", &e).unwrap_err().to_string(),
        "weak sslmode \"prefer\" may not be used with sslnegotiation=direct (use \"require\", \
         \"verify-ca\", or \"verify-full\")"
    );
    let e = env().with("PGSSLNEGOTIATION", "yes");
    assert_eq!(
        resolve("sslmode=require", &e).unwrap_err().to_string(),
        "invalid sslnegotiation value: \"yes\""
    );
}

/// `sslsni` (libpq 14) and `sslnegotiation` (libpq 17) are accepted as keywords, in URIs,
/// in service files and from `PGSSLSNI` / `PGSSLNEGOTIATION`, and reach the TLS settings.
#[cfg(feature = "tls")]
#[test]
fn sslsni_and_sslnegotiation() {
    let tls = |s: &str, e: &Env| {
        let t = resolve(s, e).unwrap().tls;
        (t.sni, t.direct)
    };
    // Defaults: SNI on, SSLRequest first.
    assert_eq!(tls("", &env()), (true, false));
    assert_eq!(
        tls("sslsni=1 sslnegotiation=postgres", &env()),
        (true, false)
    );
    assert_eq!(tls("sslsni=0", &env()), (false, false));
    // As libpq 14+, only a value starting with `1` turns SNI on; nothing else is checked.
    assert_eq!(tls("sslsni=10", &env()), (true, false));
    for off in ["yes", "true", "''", "on"] {
        assert_eq!(
            tls(&format!("sslsni={off}"), &env()),
            (false, false),
            "{off}"
        );
    }
    for mode in ["require", "verify-ca", "verify-full"] {
        assert_eq!(
            tls(&format!("sslnegotiation=direct sslmode={mode}"), &env()),
            (true, true),
            "{mode}"
        );
    }
    assert_eq!(
        tls(
            "postgresql://h/db?sslsni=0&sslnegotiation=direct&sslmode=verify-full",
            &env()
        ),
        (false, true)
    );
    // sslrootcert=system without sslmode means verify-full (PostgreSQL 16): strong enough.
    assert_eq!(
        tls("sslnegotiation=direct sslrootcert=system", &env()),
        (true, true)
    );
    // The environment, and the keyword over the environment.
    let e = env()
        .with("PGSSLSNI", "0")
        .with("PGSSLNEGOTIATION", "direct")
        .with("PGSSLMODE", "require");
    assert_eq!(tls("", &e), (false, true));
    assert_eq!(tls("sslsni=1 sslnegotiation=postgres", &e), (true, false));
    // A service file may set them too.
    let dir = Scratch::new("conninfo");
    let file = dir.file_with_mode(
        "services",
        "[direct]\nsslnegotiation=direct\nsslmode=verify-ca\nsslsni=0\n",
        0o644,
    );
    let e = env().with("PGSERVICEFILE", &file);
    assert_eq!(tls("service=direct", &e), (false, true));
}

/// Where libpq 13.3 (with TLS and GSSAPI) goes on to connect, a build without them stops.
#[cfg(not(feature = "tls"))]
#[test]
fn no_tls_no_gssapi() {
    let env = env();
    for mode in ["require", "verify-ca", "verify-full"] {
        let err = resolve(&format!("sslmode={mode}"), &env).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("sslmode value \"{mode}\" invalid when SSL support is not compiled in")
        );
    }
    // libpq 13's text when built without SSL.
    let tls = "sslmode value \"require\" invalid when SSL support is not compiled in";
    assert_eq!(resolve("requiressl=1", &env).unwrap_err().to_string(), tls);
    assert_eq!(
        resolve("postgresql:///db?ssl=true", &env)
            .unwrap_err()
            .to_string(),
        tls
    );
    let e = env.clone().with("PGSSLMODE", "require");
    assert_eq!(resolve("", &e).unwrap_err().to_string(), tls);
    let e = env.clone().with("PGREQUIRESSL", "1");
    assert_eq!(resolve("", &e).unwrap_err().to_string(), tls);
    // PGSSLMODE wins over PGREQUIRESSL; the keyword wins over both.
    let e = env
        .clone()
        .with("PGREQUIRESSL", "1")
        .with("PGSSLMODE", "disable");
    assert!(resolve("", &e).is_ok());
    let e = env.clone().with("PGSSLMODE", "require");
    assert!(resolve("sslmode=prefer", &e).is_ok());
    for mode in ["disable", "allow", "prefer"] {
        assert!(resolve(&format!("sslmode={mode}"), &env).is_ok(), "{mode}");
    }
    assert!(resolve("requiressl=0", &env).is_ok());
    // libpq 17's text for direct TLS in a build without TLS.
    assert_eq!(
        resolve("sslnegotiation=direct sslmode=prefer", &env)
            .unwrap_err()
            .to_string(),
        "sslnegotiation value \"direct\" invalid when SSL support is not compiled in"
    );
    assert!(resolve("sslnegotiation=postgres sslsni=0", &env).is_ok());
    assert_eq!(
        resolve("gssencmode=require", &env).unwrap_err().to_string(),
        "gssencmode value \"require\" invalid when GSSAPI support is not compiled in"
    );
}

#[test]
fn defaults() {
    let r = resolve("", &env()).unwrap();
    assert_eq!(r.targets.len(), 1);
    let t = &r.targets[0];
    assert_eq!(t.address, Address::Unix("/var/run/postgresql".into()));
    assert_eq!(t.host, "/var/run/postgresql");
    assert_eq!(t.hostaddr, None);
    assert_eq!(t.port_text, "5432");
    assert_eq!(t.port, Ok(5432));
    assert_eq!(r.user, "aladdin");
    assert_eq!(r.dbname, "aladdin");
    assert_eq!(r.password, None);
    assert_eq!(r.password_file, None);
    assert_eq!(r.connect_timeout, None);
    assert_eq!(
        r.startup_params,
        vec![("client_encoding".into(), "UTF8".into())]
    );
    assert_eq!(r.target_session_attrs, TargetSessionAttrs::Any);
    assert!(r.warnings.is_empty());
}

#[test]
fn environment() {
    let e = env()
        .with("PGHOST", "db.example")
        .with("PGPORT", "6543")
        .with("PGUSER", "u")
        .with("PGDATABASE", "d")
        .with("PGPASSWORD", "pw")
        .with("PGAPPNAME", "app")
        .with("PGOPTIONS", "-c x=1")
        .with("PGTARGETSESSIONATTRS", "read-write")
        .with("PGCONNECT_TIMEOUT", "1")
        .with("PGDATESTYLE", "ISO")
        .with("PGTZ", "Default")
        .with("PGGEQO", "off");
    let r = resolve("", &e).unwrap();
    assert_eq!(r.targets[0].address, Address::Tcp("db.example".into()));
    assert_eq!(r.targets[0].port, Ok(6543));
    assert_eq!((r.user.as_str(), r.dbname.as_str()), ("u", "d"));
    assert_eq!(r.password.as_deref(), Some("pw"));
    assert_eq!(r.target_session_attrs, TargetSessionAttrs::ReadWrite);
    assert_eq!(r.connect_timeout, Some(Duration::from_secs(2)));
    let params: Vec<(&str, &str)> = r
        .startup_params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        params,
        [
            ("options", "-c x=1"),
            ("application_name", "app"),
            ("client_encoding", "UTF8"),
            ("datestyle", "ISO"),
            ("geqo", "off"),
        ]
    );
    // Given keywords win, even empty ones (`host=''` is the default socket, not PGHOST);
    // empty URI parts are not given.
    let r = resolve("host='' user=v dbname=''", &e).unwrap();
    assert_eq!(
        r.targets[0].address,
        Address::Unix("/var/run/postgresql".into())
    );
    assert_eq!((r.user.as_str(), r.dbname.as_str()), ("v", "v"));
    let r = resolve(
        "postgresql://:@/?application_name=x&client_encoding=LATIN1",
        &e,
    )
    .unwrap();
    assert_eq!(r.targets[0].address, Address::Tcp("db.example".into()));
    assert_eq!(r.user, "u");
    assert!(r
        .startup_params
        .contains(&("application_name".into(), "x".into())));
    assert!(r
        .startup_params
        .contains(&("client_encoding".into(), "LATIN1".into())));
}

#[test]
fn connect_timeouts() {
    let t = |s: &str| resolve(&format!("connect_timeout={s}"), &env()).map(|r| r.connect_timeout);
    assert_eq!(t("0"), Ok(None));
    assert_eq!(t("-5"), Ok(None));
    assert_eq!(t("1"), Ok(Some(Duration::from_secs(2))));
    assert_eq!(t("2"), Ok(Some(Duration::from_secs(2))));
    assert_eq!(t("' 30 '"), Ok(Some(Duration::from_secs(30))));
    // A bad value resolves: libpq reports it only once an attempt would wait (see
    // tests/connect_failures.rs).
    let bad = |conninfo: &str, e: &Env| {
        let r = resolve(conninfo, e).unwrap();
        assert_eq!(r.connect_timeout, None);
        r.connect_timeout_error.unwrap().to_string()
    };
    for value in ["''", "x", "99999999999", "1.5"] {
        assert_eq!(
            bad(&format!("connect_timeout={value}"), &env()),
            format!(
                "invalid integer value \"{}\" for connection option \"connect_timeout\"",
                value.trim_matches('\'')
            )
        );
    }
    assert_eq!(
        bad("", &env().with("PGCONNECT_TIMEOUT", "soon")),
        "invalid integer value \"soon\" for connection option \"connect_timeout\""
    );
}

/// Host lists and per-host ports. libpq's texts for bad ports (from `rexref libpq`):
/// `host=127.0.0.1,127.0.0.1 port=70000,1` gives `invalid port number: "70000"\n` and
/// then the refused text for port 1; `postgresql://u@[::1]:5x` gives
/// `invalid integer value "5x" for connection option "port"\n`.
#[test]
fn hosts_and_ports() {
    let r = resolve("host=127.0.0.1,127.0.0.1 port=70000,1", &env()).unwrap();
    assert_eq!(
        r.targets[0].port,
        Err("invalid port number: \"70000\"".into())
    );
    assert_eq!(r.targets[0].port_text, "70000");
    assert_eq!(r.targets[1].port, Ok(1));
    let r = resolve("postgresql://u@[::1]:5x", &env()).unwrap();
    assert_eq!(r.targets[0].address, Address::Tcp("::1".into()));
    assert_eq!(
        r.targets[0].port,
        Err("invalid integer value \"5x\" for connection option \"port\"".into())
    );
    // One port for every host; an empty element is 5432; the text is kept as given.
    let r = resolve("host=a,/tmp/s,,b port=' 002345 '", &env()).unwrap();
    let got: Vec<(&Address, &str, Result<u16, String>)> = r
        .targets
        .iter()
        .map(|t| (&t.address, t.port_text.as_str(), t.port.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (&Address::Tcp("a".into()), " 002345 ", Ok(2345)),
            (&Address::Unix("/tmp/s".into()), " 002345 ", Ok(2345)),
            (
                &Address::Unix("/var/run/postgresql".into()),
                " 002345 ",
                Ok(2345)
            ),
            (&Address::Tcp("b".into()), " 002345 ", Ok(2345)),
        ]
    );
    let r = resolve("postgresql://a,b:1,[::1]:2/db", &env()).unwrap();
    let got: Vec<(&str, &str)> = r
        .targets
        .iter()
        .map(|t| (t.host.as_str(), t.port_text.as_str()))
        .collect();
    assert_eq!(got, [("a", "5432"), ("b", "1"), ("::1", "2")]);
    // hostaddr: no lookup, the host name is kept for messages and the password file.
    let r = resolve("host=localhost hostaddr=127.0.0.1 port=1", &env()).unwrap();
    assert_eq!(r.targets[0].address, Address::Tcp("127.0.0.1".into()));
    assert_eq!(r.targets[0].host, "localhost");
    assert_eq!(r.targets[0].hostaddr.as_deref(), Some("127.0.0.1"));
    let r = resolve("hostaddr=127.0.0.1,::1", &env()).unwrap();
    assert_eq!(r.targets[1].address, Address::Tcp("::1".into()));
    assert_eq!(r.targets[1].host, "");
    let r = resolve("postgresql://%2Ftmp%2Fdir:2345/db", &env()).unwrap();
    assert_eq!(r.targets[0].address, Address::Unix("/tmp/dir".into()));
    let r = resolve("postgresql:///db?host=/tmp/dir", &env()).unwrap();
    assert_eq!(r.targets[0].address, Address::Unix("/tmp/dir".into()));
}

/// messages.md §5.1: rex hands libpq keywords; a port outside 1..65535 gets libpq's text.
#[test]
fn rex_settings() {
    let db = DbSetting::parse("pgsql://aladdin:opensesame@127.0.0.1:2345/deploy_demo").unwrap();
    let r = Config::from_rex(&db).resolve(&env()).unwrap();
    assert_eq!(r.targets[0].address, Address::Tcp("127.0.0.1".into()));
    assert_eq!(r.targets[0].port_text, "2345");
    assert_eq!(
        (r.user.as_str(), r.dbname.as_str()),
        ("aladdin", "deploy_demo")
    );
    assert_eq!(r.password.as_deref(), Some("opensesame"));
    for (uri, text) in [
        ("pgsql://:99999/postgres", "invalid port number: \"99999\""),
        ("pgsql://:0/postgres", "invalid port number: \"0\""),
        ("pgsql://h:007/postgres", ""),
    ] {
        let db = DbSetting::parse(uri).unwrap();
        let r = Config::from_rex(&db).resolve(&env()).unwrap();
        match &r.targets[0].port {
            Ok(p) => assert_eq!((*p, text), (7, "")),
            Err(e) => assert_eq!(e, text),
        }
    }
    // Options after `?` are not passed on.
    let db = DbSetting::parse("pgsql:///db?sslmode=require").unwrap();
    assert!(Config::from_rex(&db).resolve(&env()).is_ok());
    let db = DbSetting::parse("pgsql://%2Ftmp%2Fpg:5433/postgres").unwrap();
    let r = Config::from_rex(&db).resolve(&env()).unwrap();
    assert_eq!(r.targets[0].address, Address::Unix("/tmp/pg".into()));
}

#[test]
fn password_file() {
    let dir = Scratch::new("conninfo");
    let file = dir.file_with_mode(
        "pgpass",
        "# hosts\nlocalhost:5432:deploy_demo:aladdin:from-socket\n\
         db.example:*:*:aladdin:tcp\\:pw\n*:*:*:*:any\n",
        0o600,
    );
    let e = env().with("PGPASSFILE", &file);
    let r = resolve("dbname=deploy_demo", &e).unwrap();
    assert_eq!(r.password.as_deref(), Some("from-socket"));
    assert_eq!(r.password_file.as_deref(), Some(file.as_str()));
    assert_eq!(r.password_for(0), (Some("from-socket"), true));
    // Per host: the file's entry for each host and port.
    let r = resolve("host=db.example,/tmp dbname=deploy_demo", &e).unwrap();
    assert_eq!(r.password_for(0), (Some("tcp:pw"), true));
    assert_eq!(r.password_for(1), (Some("any"), true));
    // A given password (keyword or PGPASSWORD) means no lookup.
    let r = resolve("password=given", &e).unwrap();
    assert_eq!(r.password.as_deref(), Some("given"));
    assert_eq!(r.password_file, None);
    assert_eq!(r.password_for(0), (Some("given"), false));
    let r = resolve("", &e.clone().with("PGPASSWORD", "envpw")).unwrap();
    assert_eq!(r.password.as_deref(), Some("envpw"));
    assert_eq!(r.password_file, None);
    // The host name is looked up, else the hostaddr (checked with libpq 13.3's `PQpass`).
    let f = dir.file_with_mode(
        "ha",
        "127.0.0.1:1:*:*:addrpw\nlocalhost:1:*:*:hostpw\n",
        0o600,
    );
    let e2 = env().with("PGPASSFILE", &f);
    let r = resolve("hostaddr=127.0.0.1 port=1", &e2).unwrap();
    assert_eq!(r.password.as_deref(), Some("addrpw"));
    let r = resolve("host=localhost hostaddr=127.0.0.1 port=1", &e2).unwrap();
    assert_eq!(r.password.as_deref(), Some("hostpw"));
    // `passfile` beats PGPASSFILE; ~/.pgpass is the default.
    let other = dir.file_with_mode("other", "*:*:*:*:other\n", 0o600);
    let r = resolve(&format!("passfile={other}"), &e).unwrap();
    assert_eq!(r.password.as_deref(), Some("other"));
    let home = Scratch::new("conninfo");
    home.file_with_mode(".pgpass", "*:*:*:aladdin:homepw\n", 0o600);
    let r = resolve("", &env().with_home(home.path_str())).unwrap();
    assert_eq!(r.password.as_deref(), Some("homepw"));
    assert_eq!(
        r.password_file,
        Some(format!("{}/.pgpass", home.path_str()))
    );
}

/// messages.md §4.4: a group/world-readable file is ignored, with libpq's warning.
#[test]
fn password_file_permissions() {
    let dir = Scratch::new("conninfo");
    let file = dir.file_with_mode("pgpass", "*:*:*:*:secret\n", 0o644);
    let r = resolve("", &env().with("PGPASSFILE", &file)).unwrap();
    assert_eq!(r.password, None);
    assert_eq!(
        r.warnings,
        [format!(
            "WARNING: password file \"{file}\" has group or world access; \
             permissions should be u=rw (0600) or less"
        )]
    );
}

#[test]
fn service_files() {
    let dir = Scratch::new("conninfo");
    let file = dir.file_with_mode(
        "services",
        "[main]\nhost=/tmp/svc\nport=7777\nuser=svcuser\n\n[bad]\nhost\n[nested]\nservice=main\n",
        0o644,
    );
    let e = env().with("PGSERVICEFILE", &file).with("PGUSER", "envuser");
    // The service fills what was not given, before the environment.
    let r = resolve("service=main port=1", &e).unwrap();
    assert_eq!(r.targets[0].address, Address::Unix("/tmp/svc".into()));
    assert_eq!(r.targets[0].port, Ok(1));
    assert_eq!(r.user, "svcuser");
    let r = resolve("", &e.clone().with("PGSERVICE", "main")).unwrap();
    assert_eq!(r.targets[0].port, Ok(7777));
    assert_eq!(
        resolve("service=bad", &e).unwrap_err().to_string(),
        format!("syntax error in service file \"{file}\", line 7")
    );
    assert_eq!(
        resolve("service=nested", &e).unwrap_err().to_string(),
        format!("nested service specifications not supported in service file \"{file}\", line 9")
    );
    // Not in PGSERVICEFILE: then PGSYSCONFDIR/pg_service.conf.
    let sys = Scratch::new("conninfo");
    sys.file_with_mode("pg_service.conf", "[other]\ndbname=sysdb\n", 0o644);
    let e2 = e.clone().with("PGSYSCONFDIR", sys.path_str());
    assert_eq!(resolve("service=other", &e2).unwrap().dbname, "sysdb");
    assert_eq!(
        resolve("service=none", &e2).unwrap_err().to_string(),
        "definition of service \"none\" not found"
    );
    // ~/.pg_service.conf when PGSERVICEFILE is not set.
    let home = Scratch::new("conninfo");
    home.file_with_mode(".pg_service.conf", "[mine]\ndbname=homedb\n", 0o600);
    let e3 = env().with_home(home.path_str());
    assert_eq!(resolve("service=mine", &e3).unwrap().dbname, "homedb");
    let missing = format!("{}/missing", dir.path_str());
    assert_eq!(
        resolve("service=main", &env().with("PGSERVICEFILE", &missing))
            .unwrap_err()
            .to_string(),
        format!("service file \"{missing}\" not found")
    );
}
