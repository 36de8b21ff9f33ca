//! From given settings to a [`Resolved`]: libpq 13's `conninfo_add_defaults` (service
//! file, environment, compiled-in defaults) and `connectOptions2` (host list, ports, user,
//! database, password file, value checks), plus the `connect_timeout` and port checks
//! libpq makes when it starts connecting.

use std::collections::BTreeMap;
use std::time::Duration;

use pgcluster_protocol::auth::policy::{ChannelBindingMode, RequireAuth};
use pgcluster_protocol::secret::wipe_string;

use super::keyvalue::is_c_space;
use super::pgpass::{self, Lookup};
use super::protocol;
use super::{
    osuser, service, Address, ConnInfoError, Env, LoadBalanceHosts, Password, Resolved, Target,
    TargetSessionAttrs, TcpSettings, DEFAULT_PORT, DEFAULT_SOCKET_DIR, KEYWORDS,
};

/// libpq's `DEF_PGPORT`.
const DEFAULT_PORT_NUMBER: u16 = 5432;

/// libpq raises a positive `connect_timeout` below this to it (fe-connect.c
/// `connectDBComplete`: "Rounding could cause connection to fail unexpectedly quickly").
const MIN_CONNECT_TIMEOUT_SECS: u64 = 2;

/// Startup parameters libpq 13 takes from the environment (`EnvironmentOptions`), unless
/// the value is `default`.
const ENVIRONMENT_OPTIONS: [(&str, &str); 3] = [
    ("PGDATESTYLE", "datestyle"),
    ("PGTZ", "timezone"),
    ("PGGEQO", "geqo"),
];

/// The effective user ID and its `/etc/passwd` entry (name, home), if any.
type Passwd = (u32, Option<(String, String)>);

/// The operating-system user, looked up once and only when needed.
struct Identity<'a> {
    env: &'a Env,
    looked_up: Option<Option<Passwd>>,
}

impl<'a> Identity<'a> {
    fn new(env: &'a Env) -> Self {
        Self {
            env,
            looked_up: None,
        }
    }

    fn passwd(&mut self) -> Option<&Passwd> {
        self.looked_up
            .get_or_insert_with(|| {
                osuser::effective_uid().map(|uid| (uid, osuser::passwd_entry(uid)))
            })
            .as_ref()
    }

    /// The user name, or the error libpq reports when there is none.
    fn user(&mut self) -> Result<String, ConnInfoError> {
        if let Some(u) = &self.env.os_user {
            return Ok(u.clone());
        }
        match self.passwd() {
            Some((_, Some((name, _)))) => Ok(name.clone()),
            Some((uid, None)) => Err(ConnInfoError::LocalUser(*uid)),
            None => Err(ConnInfoError::LocalUser(u32::MAX)),
        }
    }

    /// libpq 15+'s `pqGetHomeDirectory`: `$HOME` unless unset or empty, else the password
    /// database's.
    fn home(&mut self) -> Option<String> {
        if let Some(h) = &self.env.home {
            return Some(h.clone());
        }
        if let Some(h) = self.env.get("HOME").filter(|h| !h.is_empty()) {
            return Some(h.to_owned());
        }
        match self.passwd() {
            Some((_, Some((_, home)))) => Some(home.clone()),
            _ => None,
        }
    }
}

/// See the module documentation.
pub(super) fn resolve(
    given: &BTreeMap<String, String>,
    env: &Env,
) -> Result<Resolved, ConnInfoError> {
    let mut ident = Identity::new(env);
    let mut opts = given.clone();
    let home = if opts.contains_key("service") || env.get("PGSERVICE").is_some() {
        ident.home()
    } else {
        None
    };
    service::apply(&mut opts, env, home.as_deref())?;
    let sslmode_given = opts.contains_key("sslmode")
        || env.get("PGSSLMODE").is_some()
        || env.get("PGREQUIRESSL").is_some_and(|v| v.starts_with('1'));
    let target_session_attrs_given =
        opts.contains_key("target_session_attrs") || env.get("PGTARGETSESSIONATTRS").is_some();
    add_defaults(&mut opts, env, &mut ident);
    let non_empty = |k: &str| opts.get(k).map(String::as_str).filter(|v| !v.is_empty());

    let (targets, raw_ports) = host_list(&opts)?;
    let user = match non_empty("user") {
        Some(u) => u.to_owned(),
        None => ident.user()?,
    };
    let dbname = non_empty("dbname").unwrap_or(&user).to_owned();

    // The password: given, else per host from the password file.
    let given_password = non_empty("password").map(Password::from);
    let mut file_passwords = vec![None; targets.len()];
    let mut warnings = Vec::new();
    let mut passfile = None;
    if given_password.is_none() {
        passfile = match non_empty("passfile") {
            Some(f) => Some(f.to_owned()),
            None => ident.home().map(|h| format!("{h}/.pgpass")),
        };
        if let Some(file) = &passfile {
            for ((target, port), slot) in targets.iter().zip(&raw_ports).zip(&mut file_passwords) {
                // libpq looks up the host name, else the hostaddr.
                let host = match (&target.hostaddr, target.host.is_empty()) {
                    (Some(addr), true) => addr.as_str(),
                    _ => target.host.as_str(),
                };
                let key = pgpass::Key {
                    host,
                    port,
                    dbname: &dbname,
                    user: &user,
                };
                match pgpass::lookup(file, &key) {
                    Lookup::Found(p) => *slot = Some(p),
                    Lookup::NotFound => {}
                    Lookup::Ignored(w) => warnings.push(w),
                }
            }
        }
    }

    let require_auth = check_values(&opts, sslmode_given)?;
    let protocol = protocol::range(&opts)?;
    // libpq reads connect_timeout only once its first connection attempt would wait:
    // a bad value is reported then (see `Resolved::connect_timeout_error`).
    let (connect_timeout, connect_timeout_error) =
        match connect_timeout(opts.get("connect_timeout").map(String::as_str)) {
            Ok(timeout) => (timeout, None),
            Err(e) => (None, Some(e)),
        };

    let first_file_password = file_passwords.first().cloned().flatten();
    let password_file = first_file_password.as_ref().and(passfile.clone());
    let resolved = Resolved {
        targets,
        user,
        password: given_password.clone().or(first_file_password),
        password_file,
        dbname,
        connect_timeout,
        connect_timeout_error,
        startup_params: startup_params(&opts, env),
        target_session_attrs: opts
            .get("target_session_attrs")
            .and_then(|v| TargetSessionAttrs::parse(v))
            .unwrap_or_default(),
        target_session_attrs_given,
        load_balance_hosts: opts
            .get("load_balance_hosts")
            .and_then(|v| LoadBalanceHosts::parse(v))
            .unwrap_or_default(),
        tcp: TcpSettings {
            keepalives: opts.get("keepalives").cloned(),
            keepalives_idle: opts.get("keepalives_idle").cloned(),
            keepalives_interval: opts.get("keepalives_interval").cloned(),
            keepalives_count: opts.get("keepalives_count").cloned(),
            tcp_user_timeout: opts.get("tcp_user_timeout").cloned(),
        },
        warnings,
        given_password,
        file_passwords,
        passfile,
        channel_binding: match opts.get("channel_binding").map(String::as_str) {
            Some("disable") => ChannelBindingMode::Disable,
            Some("require") => ChannelBindingMode::Require,
            _ => ChannelBindingMode::Prefer,
        },
        require_auth,
        protocol,
        #[cfg(feature = "tls")]
        tls: tls_settings(&opts, sslmode_given, &mut ident),
    };
    // The merged options' copies of the secrets (the Resolved holds its own).
    for key in ["password", "sslpassword"] {
        if let Some(value) = opts.get_mut(key) {
            wipe_string(value);
        }
    }
    Ok(resolved)
}

/// The `ssl*` options as [`TlsSettings`](super::tls::TlsSettings) (values already checked). `mode` is
/// `None` when `sslmode` was not given (keyword, service file or environment).
#[cfg(feature = "tls")]
fn tls_settings(
    opts: &BTreeMap<String, String>,
    sslmode_given: bool,
    ident: &mut Identity<'_>,
) -> super::tls::TlsSettings {
    use super::tls::{SslMode, TlsSettings, TlsVersion};
    let non_empty = |k: &str| opts.get(k).filter(|v| !v.is_empty()).cloned();
    TlsSettings {
        mode: opts
            .get("sslmode")
            .filter(|_| sslmode_given)
            .and_then(|m| SslMode::parse(m)),
        root_cert: non_empty("sslrootcert"),
        cert: non_empty("sslcert"),
        key: non_empty("sslkey"),
        min_version: opts
            .get("ssl_min_protocol_version")
            .and_then(|v| TlsVersion::parse(v)),
        max_version: opts
            .get("ssl_max_protocol_version")
            .and_then(|v| TlsVersion::parse(v)),
        // As libpq 14+: SNI only when the value starts with `1` (no other check).
        sni: opts.get("sslsni").is_some_and(|v| v.starts_with('1')),
        home: ident.home().map(std::path::PathBuf::from),
        direct: opts.get("sslnegotiation").map(String::as_str) == Some("direct"),
        key_log_file: non_empty("sslkeylogfile"),
    }
}

/// `connectOptions2`'s host list: one entry per `hostaddr` element if given, else per `host`
/// element, else one; with each entry's port text as given (`""` when absent).
fn host_list(opts: &BTreeMap<String, String>) -> Result<(Vec<Target>, Vec<String>), ConnInfoError> {
    let list = |k: &str| {
        opts.get(k)
            .filter(|v| !v.is_empty())
            .map(|v| v.split(',').collect::<Vec<&str>>())
    };
    let hostaddrs = list("hostaddr");
    let hosts = list("host");
    let count = match (&hostaddrs, &hosts) {
        (Some(a), _) => a.len(),
        (None, Some(h)) => h.len(),
        (None, None) => 1,
    };
    if let Some(h) = &hosts {
        if h.len() != count {
            return Err(ConnInfoError::HostaddrMismatch {
                hosts: h.len(),
                hostaddrs: count,
            });
        }
    }
    let ports: Vec<&str> = match list("port") {
        None => vec![""; count],
        // One port applies to every host.
        Some(p) if p.len() == 1 => vec![p.first().copied().unwrap_or(""); count],
        Some(p) if p.len() == count => p,
        Some(p) => {
            return Err(ConnInfoError::PortMismatch {
                ports: p.len(),
                hosts: count,
            })
        }
    };
    let mut targets = Vec::with_capacity(count);
    for (i, raw_port) in ports.iter().enumerate() {
        let host = hosts.as_ref().and_then(|h| h.get(i)).copied().unwrap_or("");
        let hostaddr = hostaddrs
            .as_ref()
            .and_then(|a| a.get(i))
            .copied()
            .filter(|a| !a.is_empty());
        let (host, address) = match hostaddr {
            Some(a) => (host, Address::Tcp(a.to_owned())),
            None if host.starts_with('/') => (host, Address::Unix(host.to_owned())),
            None if !host.is_empty() => (host, Address::Tcp(host.to_owned())),
            None => (
                DEFAULT_SOCKET_DIR,
                Address::Unix(DEFAULT_SOCKET_DIR.to_owned()),
            ),
        };
        let (port_text, port) = if raw_port.is_empty() {
            (DEFAULT_PORT.to_owned(), Ok(DEFAULT_PORT_NUMBER))
        } else {
            ((*raw_port).to_owned(), check_port(raw_port))
        };
        targets.push(Target {
            host: host.to_owned(),
            hostaddr: hostaddr.map(str::to_owned),
            address,
            port_text,
            port,
        });
    }
    Ok((targets, ports.into_iter().map(str::to_owned).collect()))
}

/// `connect_timeout` as libpq reads it when it starts connecting: an integer; positive
/// values below 2 s count as 2 s; zero or negative means no timeout.
fn connect_timeout(value: Option<&str>) -> Result<Option<Duration>, ConnInfoError> {
    let Some(text) = value else {
        return Ok(None);
    };
    let secs = parse_int(text).ok_or_else(|| ConnInfoError::InvalidInteger {
        value: text.to_owned(),
        option: "connect_timeout",
    })?;
    Ok(u64::try_from(secs)
        .ok()
        .filter(|&s| s > 0)
        .map(|s| Duration::from_secs(s.max(MIN_CONNECT_TIMEOUT_SECS))))
}

/// The startup parameters libpq 13 sends besides `user` and `database`
/// (`build_startup_packet`), in its order; `client_encoding` is always sent (UTF-8 unless
/// given), since our texts are UTF-8. `fallback_application_name` is no parameter of the
/// server's: it is sent as `application_name` when that is not given at all (given
/// empty, neither is sent).
fn startup_params(opts: &BTreeMap<String, String>, env: &Env) -> Vec<(String, String)> {
    fn non_empty(v: Option<&String>) -> Option<&str> {
        v.map(String::as_str).filter(|v| !v.is_empty())
    }
    let mut params = Vec::new();
    for key in ["replication", "options"] {
        if let Some(v) = non_empty(opts.get(key)) {
            params.push((key.to_owned(), v.to_owned()));
        }
    }
    let application_name = opts
        .get("application_name")
        .or_else(|| opts.get("fallback_application_name"));
    if let Some(v) = non_empty(application_name) {
        params.push(("application_name".to_owned(), v.to_owned()));
    }
    let encoding = match non_empty(opts.get("client_encoding")) {
        // "auto" takes the locale's encoding; ours is always UTF-8.
        Some("auto") | None => "UTF8",
        Some(e) => e,
    };
    params.push(("client_encoding".to_owned(), encoding.to_owned()));
    for (var, name) in ENVIRONMENT_OPTIONS {
        if let Some(v) = env.get(var) {
            if !v.eq_ignore_ascii_case("default") {
                params.push((name.to_owned(), v.to_owned()));
            }
        }
    }
    params
}

/// `conninfo_add_defaults` after the service file: for each keyword not given, its
/// environment variable, else (for `sslmode`) `PGREQUIRESSL=1`, else the compiled-in
/// default, else (for `user`) the operating-system user.
fn add_defaults(opts: &mut BTreeMap<String, String>, env: &Env, ident: &mut Identity<'_>) {
    for &(key, var, compiled) in KEYWORDS {
        if opts.contains_key(key) {
            continue;
        }
        if let Some(v) = var.and_then(|var| env.get(var)) {
            opts.insert(key.to_owned(), v.to_owned());
            continue;
        }
        if key == "sslmode" && env.get("PGREQUIRESSL").is_some_and(|v| v.starts_with('1')) {
            opts.insert(key.to_owned(), "require".to_owned());
            continue;
        }
        if let Some(c) = compiled {
            opts.insert(key.to_owned(), c.to_owned());
            continue;
        }
        if key == "user" {
            if let Ok(u) = ident.user() {
                opts.insert(key.to_owned(), u);
            }
        }
    }
}

/// The value checks of `connectOptions2`, in its order (`require_auth` first, as libpq 16
/// checks it right after the password file; `sslnegotiation` where libpq 17 checks it,
/// right after `sslmode`). `sslmode_given`: whether `sslmode` came from the settings, a
/// service file or the environment rather than the compiled-in default. Returns the
/// parsed `require_auth`.
fn check_values(
    opts: &BTreeMap<String, String>,
    #[cfg_attr(
        not(feature = "tls"),
        allow(
            unused_variables,
            reason = "only a TLS build looks at the mode for direct"
        )
    )]
    sslmode_given: bool,
) -> Result<Option<RequireAuth>, ConnInfoError> {
    let get = |k: &str| opts.get(k).map(String::as_str);
    let bad = |option: &'static str, value: &str| ConnInfoError::BadValue {
        option,
        value: value.to_owned(),
    };
    let require_auth = RequireAuth::parse(get("require_auth").unwrap_or(""))
        .map_err(ConnInfoError::RequireAuth)?;
    if let Some(v) = get("channel_binding") {
        if !["disable", "prefer", "require"].contains(&v) {
            return Err(bad("channel_binding", v));
        }
    }
    if let Some(v) = get("sslmode") {
        match v {
            "disable" | "allow" | "prefer" => {}
            #[cfg(feature = "tls")]
            "require" | "verify-ca" | "verify-full" => {}
            #[cfg(not(feature = "tls"))]
            "require" | "verify-ca" | "verify-full" => {
                return Err(ConnInfoError::TlsUnsupported(v.to_owned()))
            }
            _ => return Err(bad("sslmode", v)),
        }
    }
    if let Some(v) = get("sslnegotiation") {
        match v {
            "postgres" => {}
            #[cfg(feature = "tls")]
            "direct" => {
                // The mode in effect: `sslrootcert=system` without `sslmode` means
                // `verify-full` (PostgreSQL 16).
                let mode = match get("sslmode") {
                    Some(m) if sslmode_given => m,
                    _ if get("sslrootcert") == Some(super::tls::SYSTEM_ROOTS) => "verify-full",
                    _ => "prefer",
                };
                if !matches!(mode, "require" | "verify-ca" | "verify-full") {
                    return Err(ConnInfoError::WeakModeWithDirect(mode.to_owned()));
                }
            }
            #[cfg(not(feature = "tls"))]
            "direct" => {
                return Err(ConnInfoError::SslUnsupported {
                    option: "sslnegotiation",
                    value: v.to_owned(),
                })
            }
            _ => return Err(bad("sslnegotiation", v)),
        }
    }
    let min = get("ssl_min_protocol_version").unwrap_or("");
    let max = get("ssl_max_protocol_version").unwrap_or("");
    if !tls_version_ok(min) {
        return Err(bad("ssl_min_protocol_version", min));
    }
    if !tls_version_ok(max) {
        return Err(bad("ssl_max_protocol_version", max));
    }
    if !tls_range_ok(min, max) {
        return Err(ConnInfoError::SslRange);
    }
    if let Some(v) = get("gssencmode") {
        match v {
            "disable" | "prefer" => {}
            "require" => return Err(ConnInfoError::GssUnsupported(v.to_owned())),
            _ => return Err(bad("gssencmode", v)),
        }
    }
    if let Some(v) = get("target_session_attrs") {
        if TargetSessionAttrs::parse(v).is_none() {
            return Err(bad("target_session_attrs", v));
        }
    }
    if let Some(v) = get("load_balance_hosts") {
        if LoadBalanceHosts::parse(v).is_none() {
            return Err(bad("load_balance_hosts", v));
        }
    }
    Ok(require_auth)
}

/// `sslVerifyProtocolVersion`: empty, or one of the TLS versions (any case).
fn tls_version_ok(v: &str) -> bool {
    v.is_empty()
        || ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
            .iter()
            .any(|t| t.eq_ignore_ascii_case(v))
}

/// `sslVerifyProtocolRange`.
fn tls_range_ok(min: &str, max: &str) -> bool {
    if min.is_empty() || max.is_empty() || min.eq_ignore_ascii_case("TLSv1") {
        return true;
    }
    if max.eq_ignore_ascii_case("TLSv1") {
        return false;
    }
    min.to_ascii_lowercase() <= max.to_ascii_lowercase()
}

/// The port check libpq makes for each host as it tries it.
fn check_port(text: &str) -> Result<u16, String> {
    let n = parse_int(text).ok_or_else(|| {
        ConnInfoError::InvalidInteger {
            value: text.to_owned(),
            option: "port",
        }
        .to_string()
    })?;
    u16::try_from(n)
        .ok()
        .filter(|&p| p >= 1)
        .ok_or_else(|| format!("invalid port number: \"{text}\""))
}

/// libpq's `parse_int_param`: `strtol` base 10 (leading whitespace, optional sign), an
/// `int`'s range, trailing whitespace only.
pub(super) fn parse_int(text: &str) -> Option<i32> {
    let b = text.as_bytes();
    let mut i = 0usize;
    while b.get(i).copied().is_some_and(is_c_space) {
        i += 1;
    }
    let negative = match b.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits_start = i;
    let mut value: i64 = 0;
    let mut overflow = false;
    while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
        let d = i64::from(d - b'0');
        match value.checked_mul(10).and_then(|v| v.checked_add(d)) {
            Some(v) => value = v,
            None => overflow = true,
        }
        i += 1;
    }
    if i == digits_start || overflow {
        return None;
    }
    while b.get(i).copied().is_some_and(is_c_space) {
        i += 1;
    }
    if i != b.len() {
        return None;
    }
    let value = if negative { -value } else { value };
    i32::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conninfo::Config;

    /// `target_session_attrs` counts as given from the setting, its service file or the
    /// environment, and only then (the Cluster's several-hosts rule reads this).
    #[test]
    fn target_session_attrs_given_from_every_source() {
        let dir = std::env::temp_dir().join(format!("pgcluster-tsa-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("services.conf");
        std::fs::write(
            &file,
            "[any]\ntarget_session_attrs=any\n[plain]\nport=5433\n",
        )
        .unwrap();
        let file = file.to_str().unwrap();
        let given = |setting: &str, env: Env| {
            let r = Config::parse(setting).unwrap().resolve(&env).unwrap();
            (r.target_session_attrs_given, r.target_session_attrs)
        };
        let env = || Env::empty().with("PGSERVICEFILE", file);
        assert_eq!(given("host=a,b", env()), (false, TargetSessionAttrs::Any));
        assert_eq!(
            given("host=a,b service=plain", env()),
            (false, TargetSessionAttrs::Any)
        );
        assert_eq!(
            given("host=a,b service=any", env()),
            (true, TargetSessionAttrs::Any)
        );
        assert_eq!(
            given("host=a,b", env().with("PGSERVICE", "any")),
            (true, TargetSessionAttrs::Any)
        );
        assert_eq!(
            given("host=a,b", env().with("PGTARGETSESSIONATTRS", "read-write")),
            (true, TargetSessionAttrs::ReadWrite)
        );
        assert_eq!(
            given("host=a,b target_session_attrs=any", env()),
            (true, TargetSessionAttrs::Any)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ints() {
        assert_eq!(parse_int("5432"), Some(5432));
        assert_eq!(parse_int(" 12 "), Some(12));
        assert_eq!(parse_int("\t-3\n"), Some(-3));
        assert_eq!(parse_int("+0"), Some(0));
        assert_eq!(parse_int("2147483647"), Some(i32::MAX));
        for bad in [
            "",
            " ",
            "x",
            "5432x",
            "1 2",
            "2147483648",
            "99999999999999999999",
            "-",
        ] {
            assert_eq!(parse_int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ports() {
        assert_eq!(check_port("002345"), Ok(2345));
        assert_eq!(check_port(" 1 "), Ok(1));
        assert_eq!(
            check_port("0"),
            Err("invalid port number: \"0\"".to_owned())
        );
        assert_eq!(
            check_port("-1"),
            Err("invalid port number: \"-1\"".to_owned())
        );
        assert_eq!(
            check_port("70000"),
            Err("invalid port number: \"70000\"".to_owned())
        );
        assert_eq!(
            check_port("abc"),
            Err("invalid integer value \"abc\" for connection option \"port\"".to_owned())
        );
    }

    #[test]
    fn tls_ranges() {
        assert!(tls_range_ok("TLSv1.2", ""));
        assert!(tls_range_ok("tlsv1", "TLSv1"));
        assert!(!tls_range_ok("TLSv1.1", "TLSv1"));
        assert!(!tls_range_ok("TLSv1.3", "TLSv1.2"));
        assert!(tls_range_ok("TLSv1.2", "tlsv1.3"));
        assert!(tls_version_ok("tlsV1.3"));
        assert!(!tls_version_ok("TLSv1.4"));
    }
}
