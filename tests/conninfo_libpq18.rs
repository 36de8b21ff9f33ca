//! The connection keywords and values libpq 14–18 added, against libpq 18.6's texts.
//!
//! Every expected text was printed by libpq 18.6 itself
//! (`/var/tmp/pgcluster-ci/postgresql-18.6.0/.../lib/libpq.so.5.18`: `PQconnectdb` then
//! `PQerrorMessage`, through Python's ctypes), which checks these values before any
//! connection attempt. `PQconndefaults` of the same library gives the keyword table:
//! `target_session_attrs` (`PGTARGETSESSIONATTRS`, default `any`) and `load_balance_hosts`
//! (`PGLOADBALANCEHOSTS`, default `disable`) at the end of libpq 13's list, `sslkeylogfile`
//! (no environment variable, no default) after them.

use pgcluster::conninfo::{
    Config, ConnInfoError, Env, LoadBalanceHosts, Resolved, TargetSessionAttrs,
};

fn env() -> Env {
    Env::empty()
        .with_os_user("aladdin")
        .with_home("/nonexistent/h5-home")
        .with("PGSYSCONFDIR", "/nonexistent/h5-sysconf")
}

fn resolve(s: &str, env: &Env) -> Result<Resolved, ConnInfoError> {
    Config::parse(s)?.resolve(env)
}

/// (connection string, libpq 18.6's `PQerrorMessage`).
const LIBPQ_18_ERRORS: &[(&str, &str)] = &[
    (
        "target_session_attrs=x",
        "invalid target_session_attrs value: \"x\"\n",
    ),
    (
        "target_session_attrs=",
        "invalid target_session_attrs value: \"\"\n",
    ),
    (
        "target_session_attrs=Primary",
        "invalid target_session_attrs value: \"Primary\"\n",
    ),
    (
        "target_session_attrs=read_only",
        "invalid target_session_attrs value: \"read_only\"\n",
    ),
    (
        "postgresql:///db?target_session_attrs=standby%20",
        "invalid target_session_attrs value: \"standby \"\n",
    ),
    // The order of the checks: gssencmode, then target_session_attrs.
    (
        "gssencmode=bad target_session_attrs=x",
        "invalid gssencmode value: \"bad\"\n",
    ),
];

#[test]
fn value_texts() {
    for (input, expected) in LIBPQ_18_ERRORS {
        let err = match resolve(input, &env()) {
            Ok(r) => panic!("{input:?} resolved: {r:?}"),
            Err(e) => e,
        };
        assert_eq!(format!("{err}\n"), *expected, "{input:?}");
    }
    let e = env().with("PGTARGETSESSIONATTRS", "secondary");
    assert_eq!(
        resolve("", &e).unwrap_err().to_string(),
        "invalid target_session_attrs value: \"secondary\""
    );
}

#[test]
fn target_session_attrs_values_keyword_uri_and_environment() {
    assert_eq!(
        resolve("", &env()).unwrap().target_session_attrs,
        TargetSessionAttrs::Any
    );
    for value in TargetSessionAttrs::ALL {
        let name = value.as_str();
        let from_keyword = resolve(&format!("target_session_attrs={name}"), &env()).unwrap();
        assert_eq!(from_keyword.target_session_attrs, value);
        let from_uri = resolve(
            &format!("postgresql://a,b/db?target_session_attrs={name}"),
            &env(),
        )
        .unwrap();
        assert_eq!(from_uri.target_session_attrs, value);
        let e = env().with("PGTARGETSESSIONATTRS", name);
        assert_eq!(resolve("", &e).unwrap().target_session_attrs, value);
    }
    // The keyword wins over the environment.
    let e = env().with("PGTARGETSESSIONATTRS", "standby");
    assert_eq!(
        resolve("target_session_attrs=primary", &e)
            .unwrap()
            .target_session_attrs,
        TargetSessionAttrs::Primary
    );
}

#[test]
fn load_balance_hosts_keyword_uri_and_environment() {
    assert_eq!(
        resolve("host=a,b", &env()).unwrap().load_balance_hosts,
        LoadBalanceHosts::Disable
    );
    for (text, value) in [
        ("disable", LoadBalanceHosts::Disable),
        ("random", LoadBalanceHosts::Random),
    ] {
        let r = resolve(&format!("host=a,b load_balance_hosts={text}"), &env()).unwrap();
        assert_eq!(r.load_balance_hosts, value);
        let r = resolve(
            &format!("postgres://a,b/db?load_balance_hosts={text}"),
            &env(),
        )
        .unwrap();
        assert_eq!(r.load_balance_hosts, value);
        let e = env().with("PGLOADBALANCEHOSTS", text);
        assert_eq!(resolve("host=a,b", &e).unwrap().load_balance_hosts, value);
        assert_eq!(value.to_string(), text);
    }
    let e = env().with("PGLOADBALANCEHOSTS", "sometimes");
    assert_eq!(
        resolve("", &e).unwrap_err().to_string(),
        "invalid load_balance_hosts value: \"sometimes\""
    );
    // The keyword wins over the environment.
    let e = env().with("PGLOADBALANCEHOSTS", "random");
    assert_eq!(
        resolve("load_balance_hosts=disable", &e)
            .unwrap()
            .load_balance_hosts,
        LoadBalanceHosts::Disable
    );
}

/// The later keywords render where libpq 18's `PQconndefaults` lists them.
#[test]
fn later_keywords_render_in_libpq_18_order() {
    let c = Config::parse(
        "sslkeylogfile=/tmp/k load_balance_hosts=random host=a,b target_session_attrs=standby",
    )
    .unwrap();
    assert_eq!(
        c.render_redacted(),
        "host=a,b target_session_attrs=standby load_balance_hosts=random sslkeylogfile=/tmp/k"
    );
}

/// `sslkeylogfile` (libpq 18) is a keyword with no environment variable and no default;
/// empty means none.
#[cfg(feature = "tls")]
#[test]
fn sslkeylogfile_is_a_keyword_without_an_environment_variable() {
    let file = |s: &str, e: &Env| resolve(s, e).unwrap().tls.key_log_file;
    assert_eq!(file("", &env()), None);
    assert_eq!(file("sslkeylogfile=''", &env()), None);
    assert_eq!(
        file("sslkeylogfile=/tmp/keys.log", &env()).as_deref(),
        Some("/tmp/keys.log")
    );
    assert_eq!(
        file("postgresql://h/db?sslkeylogfile=%2Ftmp%2Fk", &env()).as_deref(),
        Some("/tmp/k")
    );
    let e = env().with("PGSSLKEYLOGFILE", "/tmp/keys.log");
    assert_eq!(file("", &e), None);
}

/// `~` is `$HOME` when set and not empty (libpq 15+); an `Env` that fixes the home wins.
#[test]
fn home_is_dollar_home() {
    let without_fixed_home = |vars: &[(&str, &str)]| {
        let mut e = Env::empty()
            .with_os_user("aladdin")
            .with("PGSYSCONFDIR", "/nonexistent/h5-sysconf");
        for (k, v) in vars {
            e = e.with(k, v);
        }
        resolve("host=h", &e).unwrap().passfile
    };
    assert_eq!(
        without_fixed_home(&[("HOME", "/nonexistent/h5-dollar-home")]).as_deref(),
        Some("/nonexistent/h5-dollar-home/.pgpass")
    );
    // Empty: the password database's (whatever it says here, not "/.pgpass").
    assert_ne!(
        without_fixed_home(&[("HOME", "")]).as_deref(),
        Some("/.pgpass")
    );
    let fixed = env().with("HOME", "/nonexistent/h5-dollar-home");
    assert_eq!(
        resolve("host=h", &fixed).unwrap().passfile.as_deref(),
        Some("/nonexistent/h5-home/.pgpass")
    );
}
