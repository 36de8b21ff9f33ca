//! Connection settings: rex `pgsql://` URIs, libpq `postgres://` URIs and `key=value`
//! strings, the `PG*` environment, password and service files, resolved libpq 13's way.
//!
//! - [`Config::parse`] reads a libpq 13 connection string (`keyvalue`, `uri`);
//! - [`Config::from_rex`] (in [`crate::compat::rex`]) takes what rex hands psycopg2 from a
//!   [`crate::compat::rex::DbSetting`];
//! - [`Config::resolve`] applies the service file, the environment and the defaults and
//!   checks the values (libpq's `conninfo_add_defaults` and `connectOptions2`), giving a
//!   [`Resolved`];
//!
//! Every error text is libpq 13.3's (as `shared/tools/rexref libpq` prints it), without the
//! final newline, except for the later keywords: libpq 16's for `require_auth`, libpq 17's
//! for `sslnegotiation`, libpq 14's (as libpq 18 has them) for the values of
//! `target_session_attrs` that libpq 13 did not have, libpq 18's for
//! `min_protocol_version` and `max_protocol_version`.

mod keepalives;
pub(crate) mod keyvalue;
mod load_balance;
pub(crate) mod osuser;
mod password;
mod pgpass;
mod protocol;
pub(crate) mod redact;
mod resolve;
pub(crate) mod scheme;
mod service;
mod target;
#[cfg(feature = "tls")]
pub(crate) mod tls;
mod uri;

use pgcluster_protocol::secret::wipe_string;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use pgcluster_protocol::auth::policy::{ChannelBindingMode, RequireAuth, RequireAuthParseError};
use pgcluster_protocol::version::VersionRange;

pub use keepalives::{SocketOptions, TcpSettings};
pub use load_balance::LoadBalanceHosts;
pub use password::Password;
pub use target::TargetSessionAttrs;

/// A parse or resolution failure. `Display` is libpq 13's text without the final newline
/// (e.g. `invalid connection option "foo"`), or htsql's text for a rex URI.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnInfoError {
    /// `invalid %s value: "%s"` for `sslmode`, `sslnegotiation` (libpq 17),
    /// `channel_binding`, `gssencmode`, `target_session_attrs`, `ssl_min_protocol_version`,
    /// `ssl_max_protocol_version`, `min_protocol_version` and `max_protocol_version`
    /// (libpq 18).
    BadValue {
        /// The keyword.
        option: &'static str,
        /// The value given.
        value: String,
    },
    /// `forbidden value %00 in percent-encoded value: "%s"`
    ForbiddenNul(String),
    /// `NUL byte in connection info string` (pgcluster's own: libpq's strings end at a
    /// NUL, so it would read less than was given; pgcluster refuses it in a connection
    /// string and in a keyword or value given to [`Config::set`]).
    NulByte,
    /// `gssencmode value "%s" invalid when GSSAPI support is not compiled in` (we have no
    /// GSSAPI, as a libpq built without it).
    GssUnsupported(String),
    /// `could not match %d host names to %d hostaddr values`
    HostaddrMismatch {
        /// Number of host names.
        hosts: usize,
        /// Number of hostaddr values.
        hostaddrs: usize,
    },
    /// `invalid integer value "%s" for connection option "%s"`
    InvalidInteger {
        /// The value given.
        value: String,
        /// The keyword (`connect_timeout` or `port`).
        option: &'static str,
    },
    /// `invalid connection option "%s"`
    InvalidOption(String),
    /// `invalid percent-encoded token: "%s"` (the whole undecoded URI component)
    InvalidPercent(String),
    /// `local user with ID %d does not exist` (no user name given, none for our user ID)
    LocalUser(u32),
    /// `missing "=" after "%s" in connection info string`
    MissingEquals(String),
    /// `nested service specifications not supported in service file "%s", line %d`
    NestedService {
        /// The service file.
        file: String,
        /// 1-based line number.
        line: usize,
    },
    /// `could not match %d port numbers to %d hosts`
    PortMismatch {
        /// Number of ports.
        ports: usize,
        /// Number of hosts.
        hosts: usize,
    },
    /// A `require_auth` value libpq 16 refuses, with its text (e.g. `invalid require_auth
    /// value: "%s"`, `require_auth method "%s" is specified more than once`).
    RequireAuth(RequireAuthParseError),
    /// `service file "%s" not found`
    ServiceFileNotFound(String),
    /// `line %d too long in service file "%s"`
    ServiceLineTooLong {
        /// The service file.
        file: String,
        /// 1-based line number.
        line: usize,
    },
    /// `definition of service "%s" not found`
    ServiceNotFound(String),
    /// `syntax error in service file "%s", line %d`
    ServiceSyntax {
        /// The service file.
        file: String,
        /// 1-based line number.
        line: usize,
    },
    /// `"min_protocol_version" is greater than "max_protocol_version"` (libpq 18)
    ProtocolRange,
    /// `invalid SSL protocol version range`
    SslRange,
    /// `%s value "%s" invalid when SSL support is not compiled in` (libpq 17's text, for
    /// `sslnegotiation=direct` in a build without the `tls` feature).
    SslUnsupported {
        /// The keyword.
        option: &'static str,
        /// The value given.
        value: String,
    },
    /// `sslmode value "%s" invalid when SSL support is not compiled in` (libpq 13's text
    /// without SSL; for `require`, `verify-ca` and `verify-full`, and `requiressl=1`, in a
    /// build without the `tls` feature).
    TlsUnsupported(String),
    /// `unterminated quoted string in connection info string`
    UnterminatedQuote,
    /// `IPv6 host address may not be empty in URI: "%s"`
    UriEmptyIpv6(String),
    /// `extra key/value separator "=" in URI query parameter: "%s"`
    UriExtraEquals(String),
    /// `invalid URI query parameter: "%s"` (the decoded keyword)
    UriInvalidParam(String),
    /// `missing key/value separator "=" in URI query parameter: "%s"`
    UriMissingEquals(String),
    /// `unexpected character "%c" at position %d in URI (expected ":" or "/"): "%s"`
    UriUnexpectedChar {
        /// The character found.
        found: char,
        /// 1-based byte position in the whole URI.
        position: usize,
        /// The URI.
        uri: String,
    },
    /// `end of string reached when looking for matching "]" in IPv6 host address in URI: "%s"`
    UriUnterminatedIpv6(String),
    /// `weak sslmode "%s" may not be used with sslnegotiation=direct (use "require",
    /// "verify-ca", or "verify-full")` (libpq 17's text).
    WeakModeWithDirect(String),
}

impl fmt::Display for ConnInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadValue { option, value } => write!(f, "invalid {option} value: \"{value}\""),
            Self::ForbiddenNul(s) => {
                write!(f, "forbidden value %00 in percent-encoded value: \"{s}\"")
            }
            Self::NulByte => f.write_str("NUL byte in connection info string"),
            Self::GssUnsupported(v) => write!(
                f,
                "gssencmode value \"{v}\" invalid when GSSAPI support is not compiled in"
            ),
            Self::HostaddrMismatch { hosts, hostaddrs } => write!(
                f,
                "could not match {hosts} host names to {hostaddrs} hostaddr values"
            ),
            Self::InvalidInteger { value, option } => write!(
                f,
                "invalid integer value \"{value}\" for connection option \"{option}\""
            ),
            Self::InvalidOption(k) => write!(f, "invalid connection option \"{k}\""),
            Self::InvalidPercent(s) => write!(f, "invalid percent-encoded token: \"{s}\""),
            Self::LocalUser(uid) => write!(f, "local user with ID {uid} does not exist"),
            Self::MissingEquals(k) => {
                write!(f, "missing \"=\" after \"{k}\" in connection info string")
            }
            Self::NestedService { file, line } => write!(
                f,
                "nested service specifications not supported in service file \"{file}\", line {line}"
            ),
            Self::PortMismatch { ports, hosts } => {
                write!(f, "could not match {ports} port numbers to {hosts} hosts")
            }
            Self::RequireAuth(e) => e.fmt(f),
            Self::ServiceFileNotFound(s) => write!(f, "service file \"{s}\" not found"),
            Self::ServiceLineTooLong { file, line } => {
                write!(f, "line {line} too long in service file \"{file}\"")
            }
            Self::ServiceNotFound(s) => write!(f, "definition of service \"{s}\" not found"),
            Self::ServiceSyntax { file, line } => {
                write!(f, "syntax error in service file \"{file}\", line {line}")
            }
            Self::ProtocolRange => f.write_str(
                "\"min_protocol_version\" is greater than \"max_protocol_version\"",
            ),
            Self::SslRange => f.write_str("invalid SSL protocol version range"),
            Self::SslUnsupported { option, value } => write!(
                f,
                "{option} value \"{value}\" invalid when SSL support is not compiled in"
            ),
            Self::TlsUnsupported(mode) => write!(
                f,
                "sslmode value \"{mode}\" invalid when SSL support is not compiled in"
            ),
            Self::UnterminatedQuote => {
                f.write_str("unterminated quoted string in connection info string")
            }
            Self::UriEmptyIpv6(u) => {
                write!(f, "IPv6 host address may not be empty in URI: \"{u}\"")
            }
            Self::UriExtraEquals(k) => write!(
                f,
                "extra key/value separator \"=\" in URI query parameter: \"{k}\""
            ),
            Self::UriInvalidParam(k) => write!(f, "invalid URI query parameter: \"{k}\""),
            Self::UriMissingEquals(k) => write!(
                f,
                "missing key/value separator \"=\" in URI query parameter: \"{k}\""
            ),
            Self::UriUnexpectedChar {
                found,
                position,
                uri,
            } => write!(
                f,
                "unexpected character \"{found}\" at position {position} in URI \
                 (expected \":\" or \"/\"): \"{uri}\""
            ),
            Self::UriUnterminatedIpv6(u) => write!(
                f,
                "end of string reached when looking for matching \"]\" in IPv6 host address \
                 in URI: \"{u}\""
            ),
            Self::WeakModeWithDirect(mode) => write!(
                f,
                "weak sslmode \"{mode}\" may not be used with sslnegotiation=direct (use \
                 \"require\", \"verify-ca\", or \"verify-full\")"
            ),
        }
    }
}

impl std::error::Error for ConnInfoError {}

/// The process environment as libpq reads it. Tests pass their own.
///
/// Besides variables, an `Env` may fix the operating-system user and home directory; when
/// they are not fixed, [`Config::resolve`] looks them up as libpq 18 does. The user is the
/// password database's entry for the effective user ID (never `$USER`). The home directory
/// (for `~/.pgpass`, `~/.pg_service.conf` and `~/.postgresql/`) is `$HOME` when it is set
/// and not empty, else the password database's: libpq 15 made that change (libpq 13 and 14
/// read the password database only).
///
/// ```
/// use pgcluster::conninfo::{Config, Env};
/// let dir = std::env::temp_dir().join(format!("pgc-home-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join(".pg_service.conf"), "[app]\nhost=/from-home\n").unwrap();
/// let env = Env::empty().with("HOME", dir.to_str().unwrap()).with("PGSERVICE", "app");
/// let r = Config::parse("user=u").unwrap().resolve(&env).unwrap();
/// assert_eq!(r.targets[0].host, "/from-home");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
    os_user: Option<String>,
    home: Option<String>,
}

impl Env {
    /// A snapshot of the process environment (`PG*`, `HOME`, `USER`, ...).
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
            ..Self::default()
        }
    }

    /// An empty environment.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Sets one variable (builder style).
    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.vars.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Fixes the operating-system user name (the default `user`), instead of looking up the
    /// effective user ID in `/etc/passwd`.
    pub fn with_os_user(mut self, name: &str) -> Self {
        self.os_user = Some(name.to_owned());
        self
    }

    /// Fixes the home directory (for `~/.pgpass` and `~/.pg_service.conf`), instead of
    /// taking `$HOME` or, without it, the effective user ID's entry in `/etc/passwd`.
    pub fn with_home(mut self, dir: &str) -> Self {
        self.home = Some(dir.to_owned());
        self
    }

    /// One variable's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }
}

impl fmt::Debug for Env {
    /// Shows the `PG*` variables only, with `PGPASSWORD` as `_`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in self.vars.iter().filter(|(k, _)| k.starts_with("PG")) {
            if k == "PGPASSWORD" {
                m.entry(k, &"_");
            } else {
                m.entry(k, v);
            }
        }
        m.finish()
    }
}

/// libpq 13's connection keywords (`PQconninfoOptions` in fe-connect.c, in that order):
/// keyword, environment variable, compiled-in default. Later ones are added where libpq 18
/// lists them: `sslnegotiation` (PostgreSQL 17), `sslsni` (PostgreSQL 14), `require_auth`
/// (PostgreSQL 16), `min_protocol_version` and `max_protocol_version` (PostgreSQL 18),
/// `load_balance_hosts` (PostgreSQL 16) and `sslkeylogfile` (PostgreSQL 18, no environment
/// variable).
pub(crate) const KEYWORDS: &[(&str, Option<&str>, Option<&str>)] = &[
    ("authtype", Some("PGAUTHTYPE"), Some("")),
    ("service", Some("PGSERVICE"), None),
    ("user", Some("PGUSER"), None),
    ("password", Some("PGPASSWORD"), None),
    ("passfile", Some("PGPASSFILE"), None),
    ("channel_binding", Some("PGCHANNELBINDING"), Some("prefer")),
    ("connect_timeout", Some("PGCONNECT_TIMEOUT"), None),
    ("dbname", Some("PGDATABASE"), None),
    ("host", Some("PGHOST"), None),
    ("hostaddr", Some("PGHOSTADDR"), None),
    ("port", Some("PGPORT"), Some(DEFAULT_PORT)),
    ("client_encoding", Some("PGCLIENTENCODING"), None),
    ("tty", Some("PGTTY"), Some("")),
    ("options", Some("PGOPTIONS"), Some("")),
    ("application_name", Some("PGAPPNAME"), None),
    ("fallback_application_name", None, None),
    ("keepalives", None, None),
    ("keepalives_idle", None, None),
    ("keepalives_interval", None, None),
    ("keepalives_count", None, None),
    ("tcp_user_timeout", None, None),
    ("sslmode", Some("PGSSLMODE"), Some("prefer")),
    ("sslnegotiation", Some("PGSSLNEGOTIATION"), Some("postgres")),
    ("sslcompression", Some("PGSSLCOMPRESSION"), Some("0")),
    ("sslcert", Some("PGSSLCERT"), None),
    ("sslkey", Some("PGSSLKEY"), None),
    ("sslpassword", None, None),
    ("sslrootcert", Some("PGSSLROOTCERT"), None),
    ("sslcrl", Some("PGSSLCRL"), None),
    ("sslsni", Some("PGSSLSNI"), Some("1")),
    ("requirepeer", Some("PGREQUIREPEER"), None),
    ("require_auth", Some("PGREQUIREAUTH"), None),
    ("min_protocol_version", Some("PGMINPROTOCOLVERSION"), None),
    ("max_protocol_version", Some("PGMAXPROTOCOLVERSION"), None),
    (
        "ssl_min_protocol_version",
        Some("PGSSLMINPROTOCOLVERSION"),
        Some("TLSv1.2"),
    ),
    (
        "ssl_max_protocol_version",
        Some("PGSSLMAXPROTOCOLVERSION"),
        None,
    ),
    ("gssencmode", Some("PGGSSENCMODE"), Some("prefer")),
    ("krbsrvname", Some("PGKRBSRVNAME"), Some("postgres")),
    ("gsslib", Some("PGGSSLIB"), None),
    ("replication", None, None),
    (
        "target_session_attrs",
        Some("PGTARGETSESSIONATTRS"),
        Some("any"),
    ),
    (
        "load_balance_hosts",
        Some("PGLOADBALANCEHOSTS"),
        Some("disable"),
    ),
    ("sslkeylogfile", None, None),
];

/// libpq's `DEF_PGPORT_STR`.
pub(crate) const DEFAULT_PORT: &str = "5432";

/// The reference libpq's `DEFAULT_PGSOCKET_DIR` (Debian's, also in the psycopg2 wheel).
pub const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

/// Whether `key` is a connection keyword (libpq 13's or one of the later ones in
/// [`KEYWORDS`]).
fn is_keyword(key: &str) -> bool {
    KEYWORDS.iter().any(|(k, _, _)| *k == key)
}

/// Connection settings as given: libpq keywords and their values, before defaults and the
/// environment are applied. Build with [`Config::parse`]; change with [`Config::set`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Keyword → value, for the keywords that were given.
    params: BTreeMap<String, String>,
}

/// The values of `password` and `sslpassword` are wiped when the setting goes.
impl Drop for Config {
    fn drop(&mut self) {
        for (key, value) in &mut self.params {
            if key == "password" || key == "sslpassword" {
                wipe_string(value);
            }
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.params {
            if k == "password" || k == "sslpassword" {
                m.entry(k, &"_");
            } else {
                m.entry(k, v);
            }
        }
        m.finish()
    }
}

impl Config {
    /// Parses a libpq connection string: `postgres://` / `postgresql://` URI, or
    /// `key=value` pairs. (The rex `pgsql://` form is [`crate::compat::rex::DbSetting`].)
    ///
    /// ```
    /// use pgcluster::conninfo::Config;
    /// let c = Config::parse("host=/tmp port='5433' dbname=x").unwrap();
    /// assert_eq!(c.get("port"), Some("5433"));
    /// let e = Config::parse("foo=bar").unwrap_err();
    /// assert_eq!(e.to_string(), "invalid connection option \"foo\"");
    /// ```
    pub fn parse(s: &str) -> Result<Self, ConnInfoError> {
        if s.contains('\0') {
            return Err(ConnInfoError::NulByte);
        }
        if scheme::prefix_len(s).is_some() {
            uri::parse(s)
        } else {
            keyvalue::parse(s)
        }
    }

    /// A configuration holding exactly `params` (keywords the caller knows to be valid).
    pub(crate) fn from_params(params: BTreeMap<String, String>) -> Self {
        Self { params }
    }

    /// Sets a keyword, checking that it is one (libpq 13's, or a later one pgcluster knows:
    /// `sslnegotiation`, `sslsni`, `require_auth`, `load_balance_hosts`, ...; any other is
    /// `invalid connection option`). As in libpq, `requiressl` is
    /// stored as `sslmode` (`require` when the value starts with `1`, else `prefer`). A NUL
    /// in the keyword or the value is refused ([`ConnInfoError::NulByte`]).
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self, ConnInfoError> {
        if key.contains('\0') || value.contains('\0') {
            return Err(ConnInfoError::NulByte);
        }
        let (key, value) = if key == "requiressl" {
            let mode = if value.starts_with('1') {
                "require"
            } else {
                "prefer"
            };
            ("sslmode", mode)
        } else {
            (key, value)
        };
        if !is_keyword(key) {
            return Err(ConnInfoError::InvalidOption(key.to_owned()));
        }
        self.params.insert(key.to_owned(), value.to_owned());
        Ok(self)
    }

    /// Removes a keyword's value (as if it had not been given).
    pub fn unset(&mut self, key: &str) -> &mut Self {
        self.params.remove(key);
        self
    }

    /// A keyword's value as given.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    /// The settings as a libpq `key=value` string, in libpq's keyword order, with the
    /// passwords shown as `xxx`.
    pub fn render_redacted(&self) -> String {
        self.render(true)
    }

    /// The settings as a libpq `key=value` string that parses back to the same settings,
    /// in libpq's keyword order, passwords included: for the round-trip checks of the fuzz
    /// harness and the unit tests only. Never print it; [`Config::render_redacted`] is the
    /// one to show.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn render_with_secrets(&self) -> String {
        self.render(false)
    }

    fn render(&self, redact: bool) -> String {
        let mut parts = Vec::new();
        for (key, _, _) in KEYWORDS {
            if let Some(v) = self.params.get(*key) {
                let v = if redact && redact::is_secret(key.as_bytes()) {
                    redact::MASK
                } else {
                    v.as_str()
                };
                parts.push(format!("{key}={}", keyvalue::escape_value(v)));
            }
        }
        parts.join(" ")
    }

    /// Applies the environment, service file and defaults (libpq's `conninfo_add_defaults`)
    /// and checks the values, giving what a connection attempt needs.
    ///
    /// Reads the service files and the password file named by the settings and `env`, and,
    /// unless `env` fixes them, `/proc/self/status` and `/etc/passwd` for the user name and
    /// (without `$HOME`) the home directory.
    pub fn resolve(&self, env: &Env) -> Result<Resolved, ConnInfoError> {
        resolve::resolve(&self.params, env)
    }
}

/// Where one connection attempt goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// TCP to a host name (to be resolved) or a numeric address.
    Tcp(String),
    /// A Unix-domain socket directory; the socket is `<dir>/.s.PGSQL.<port>`.
    Unix(String),
}

/// One entry of the host list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The `host` value as given (`""` when only a `hostaddr` is given; the default socket
    /// directory when neither is given, as libpq fills it in).
    pub host: String,
    /// The `hostaddr` value, if any (then no name lookup happens).
    pub hostaddr: Option<String>,
    /// Where to connect.
    pub address: Address,
    /// The port string as given (`"5432"` when absent); libpq prints it verbatim.
    pub port_text: String,
    /// The port, or the libpq error text to report for this entry
    /// (`invalid port number: "%s"` or `invalid integer value ...`).
    pub port: Result<u16, String>,
}

/// Settings with defaults and environment applied: everything a connection attempt needs.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resolved {
    /// Hosts to try, in order.
    pub targets: Vec<Target>,
    /// Role name.
    pub user: String,
    /// Password, if one is known (given, `PGPASSWORD`, or password file). With several
    /// hosts and a password file, this is the first host's; see [`Resolved::password_for`].
    pub password: Option<Password>,
    /// The password file the password came from, if it did (for libpq's
    /// `password retrieved from file "%s"`).
    pub password_file: Option<String>,
    /// Database name.
    pub dbname: String,
    /// `connect_timeout` (already raised to libpq's 2 s minimum), `None` = wait forever.
    pub connect_timeout: Option<Duration>,
    /// A `connect_timeout` that is not an integer. libpq 13 reads the value only when its
    /// first connection attempt would wait (a TCP connect under way, or a Unix socket
    /// connected): the hosts that fail before that are reported first, then this error
    /// stops everything. When every host fails at once, it is never reported.
    pub connect_timeout_error: Option<ConnInfoError>,
    /// Startup parameters to send besides user and database (`options`, `application_name`,
    /// `client_encoding` ...).
    pub startup_params: Vec<(String, String)>,
    /// `target_session_attrs`.
    pub target_session_attrs: TargetSessionAttrs,
    /// Whether `target_session_attrs` was given at all (the setting, its service file or
    /// `PGTARGETSESSIONATTRS`), `any` included, rather than left to its default.
    pub target_session_attrs_given: bool,
    /// `load_balance_hosts` (libpq 16).
    pub load_balance_hosts: LoadBalanceHosts,
    /// The TCP keepalive settings, checked for each TCP address when connecting.
    pub tcp: TcpSettings,
    /// Warnings libpq would print on stderr (e.g. a world-readable password file).
    pub warnings: Vec<String>,
    /// The password given (keyword or `PGPASSWORD`), used for every host.
    pub given_password: Option<Password>,
    /// Per target (same index as `targets`): the password found in the password file, when
    /// no password was given.
    pub file_passwords: Vec<Option<Password>>,
    /// The password file that was consulted (`passfile`, `PGPASSFILE` or `~/.pgpass`).
    pub passfile: Option<String>,
    /// `channel_binding`.
    pub channel_binding: ChannelBindingMode,
    /// `require_auth` (libpq 16), `None` when not given or empty: the authentication
    /// requests the server may make, checked before anything is sent in reply.
    pub require_auth: Option<RequireAuth>,
    /// `min_protocol_version` and `max_protocol_version` (libpq 18; by default 3.0 only).
    pub protocol: VersionRange,
    /// The TLS settings (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`, ...).
    #[cfg(feature = "tls")]
    pub tls: tls::TlsSettings,
}

impl Resolved {
    /// The password for target `index` (libpq: the password file's entry for that host
    /// and port wins over the given password), and whether it came from the password file.
    pub fn password_for(&self, index: usize) -> (Option<&str>, bool) {
        match self.file_passwords.get(index) {
            Some(Some(p)) => (Some(p.as_str()), true),
            _ => (self.given_password.as_deref(), false),
        }
    }
}

impl fmt::Debug for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut f = f.debug_struct("Resolved");
        f.field("targets", &self.targets)
            .field("user", &self.user)
            .field("password", &self.password)
            .field("password_file", &self.password_file)
            .field("dbname", &self.dbname)
            .field("connect_timeout", &self.connect_timeout)
            .field("connect_timeout_error", &self.connect_timeout_error)
            .field("startup_params", &self.startup_params)
            .field("target_session_attrs", &self.target_session_attrs)
            .field("load_balance_hosts", &self.load_balance_hosts)
            .field("tcp", &self.tcp)
            .field("warnings", &self.warnings)
            .field("given_password", &self.given_password)
            .field("file_passwords", &self.file_passwords)
            .field("passfile", &self.passfile)
            .field("channel_binding", &self.channel_binding)
            .field("require_auth", &self.require_auth)
            .field("protocol", &self.protocol);
        #[cfg(feature = "tls")]
        f.field("tls", &self.tls);
        f.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_checks_keywords() {
        let mut c = Config::default();
        c.set("host", "h").unwrap().set("port", "1").unwrap();
        assert_eq!(c.get("host"), Some("h"));
        assert_eq!(
            c.set("nosuchoption", "password").unwrap_err().to_string(),
            "invalid connection option \"nosuchoption\""
        );
        // Values are checked when resolving, not when set.
        c.set("require_auth", "kerberos").unwrap();
        assert_eq!(c.get("require_auth"), Some("kerberos"));
        c.set("requiressl", "1").unwrap();
        assert_eq!(c.get("sslmode"), Some("require"));
        c.set("requiressl", "0").unwrap();
        assert_eq!(c.get("sslmode"), Some("prefer"));
        c.unset("sslmode");
        assert_eq!(c.get("sslmode"), None);
    }

    #[test]
    fn later_keywords_render_in_libpq_17_order() {
        let c = Config::parse(
            "require_auth=!md5 sslsni=0 host=h sslnegotiation=direct sslmode=require \
             ssl_min_protocol_version=TLSv1.3 requirepeer=postgres",
        )
        .unwrap();
        assert_eq!(
            c.render_redacted(),
            "host=h sslmode=require sslnegotiation=direct sslsni=0 requirepeer=postgres \
             require_auth=!md5 ssl_min_protocol_version=TLSv1.3"
        );
    }

    #[test]
    fn render_and_debug_hide_passwords() {
        let c = Config::parse("password=secret host='my host' user=u dbname=it\\'s").unwrap();
        assert_eq!(
            c.render_redacted(),
            "user=u password=xxx dbname=it\\'s host='my host'"
        );
        let debug = format!("{c:?}");
        assert!(!debug.contains("secret"), "{debug}");
    }

    #[test]
    fn resolved_debug_hides_passwords_and_shows_the_auth_settings() {
        let mut r = Config::parse(
            "password=secret host=h user=u dbname=d channel_binding=require \
             require_auth=scram-sha-256",
        )
        .unwrap()
        .resolve(&Env::empty())
        .unwrap();
        r.file_passwords = vec![Some("filesecret".into()), None];
        let debug = format!("{r:?}");
        assert!(!debug.contains("secret"), "{debug}");
        assert!(debug.contains("given_password: Some(\"_\")"), "{debug}");
        assert!(
            debug.contains("file_passwords: [Some(\"_\"), None]"),
            "{debug}"
        );
        assert!(debug.contains("channel_binding: Require"), "{debug}");
        assert!(debug.contains("scram-sha-256"), "{debug}");
    }

    #[test]
    fn env_debug_hides_the_password() {
        let e = Env::empty()
            .with("PGPASSWORD", "secret")
            .with("PGHOST", "h")
            .with("HOME", "/root");
        assert_eq!(
            format!("{e:?}"),
            "{\"PGHOST\": \"h\", \"PGPASSWORD\": \"_\"}"
        );
    }

    #[test]
    fn error_texts() {
        let rows: Vec<(ConnInfoError, &str)> = vec![
            (
                ConnInfoError::BadValue {
                    option: "sslmode",
                    value: "bogus".into(),
                },
                "invalid sslmode value: \"bogus\"",
            ),
            #[cfg(not(feature = "tls"))]
            (
                ConnInfoError::TlsUnsupported("require".into()),
                "sslmode value \"require\" invalid when SSL support is not compiled in",
            ),
            (
                ConnInfoError::UriUnexpectedChar {
                    found: 'x',
                    position: 19,
                    uri: "postgresql://[::1]x/db".into(),
                },
                "unexpected character \"x\" at position 19 in URI (expected \":\" or \"/\"): \"postgresql://[::1]x/db\"",
            ),
            (ConnInfoError::LocalUser(1234), "local user with ID 1234 does not exist"),
            (ConnInfoError::NulByte, "NUL byte in connection info string"),
            (
                ConnInfoError::ServiceFileNotFound("/x".into()),
                "service file \"/x\" not found",
            ),
            (
                ConnInfoError::ServiceLineTooLong {
                    file: "/x".into(),
                    line: 3,
                },
                "line 3 too long in service file \"/x\"",
            ),
            (
                ConnInfoError::NestedService {
                    file: "/x".into(),
                    line: 2,
                },
                "nested service specifications not supported in service file \"/x\", line 2",
            ),
            (
                ConnInfoError::SslUnsupported {
                    option: "sslnegotiation",
                    value: "direct".into(),
                },
                "sslnegotiation value \"direct\" invalid when SSL support is not compiled in",
            ),
            (
                ConnInfoError::WeakModeWithDirect("allow".into()),
                "weak sslmode \"allow\" may not be used with sslnegotiation=direct (use \
                 \"require\", \"verify-ca\", or \"verify-full\")",
            ),
            (
                ConnInfoError::RequireAuth(RequireAuth::parse("md5,!md5").unwrap_err()),
                "negative require_auth method \"!md5\" cannot be mixed with non-negative methods",
            ),
            (
                ConnInfoError::GssUnsupported("require".into()),
                "gssencmode value \"require\" invalid when GSSAPI support is not compiled in",
            ),
        ];
        for (e, text) in rows {
            assert_eq!(e.to_string(), text);
        }
    }
}
