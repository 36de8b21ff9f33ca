//! Connection settings: rex `pgsql://` URIs, libpq `postgres://` URIs and `key=value`
//! strings, the `PG*` environment, password and service files, resolved libpq 13's way.

pub mod rex;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// A parse or resolution failure. `Display` is libpq 13's text without the final newline
/// (e.g. `invalid connection option "foo"`), or htsql's text for a rex URI.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnInfoError {
    /// `invalid connection option "%s"`
    InvalidOption(String),
}

impl fmt::Display for ConnInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidOption(k) => write!(f, "invalid connection option \"{k}\""),
        }
    }
}

impl std::error::Error for ConnInfoError {}

/// The process environment as libpq reads it. Tests pass their own.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// A snapshot of the process environment (`PG*`, `HOME`, `USER`, ...).
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
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

    /// One variable's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }
}

/// Connection settings as given: libpq keywords and their values, before defaults and the
/// environment are applied. Build with [`Config::parse`]; change with [`Config::set`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Keyword → value, for the keywords that were given.
    params: BTreeMap<String, String>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.params {
            if k == "password" {
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
    /// `key=value` pairs. (The rex `pgsql://` form is [`rex::DbSetting`].)
    pub fn parse(s: &str) -> Result<Self, ConnInfoError> {
        let _ = s;
        todo!()
    }

    /// Sets a keyword, checking that libpq 13 knows it.
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self, ConnInfoError> {
        let _ = (key, value);
        todo!()
    }

    /// A keyword's value as given.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    /// Applies the environment, service file and defaults (libpq's `conninfo_add_defaults`)
    /// and checks the values, giving what a connection attempt needs.
    pub fn resolve(&self, env: &Env) -> Result<Resolved, ConnInfoError> {
        let _ = env;
        todo!()
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
    /// The `host` value as given (`""` when absent).
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
    /// Password, if one is known (given, `PGPASSWORD`, or password file).
    pub password: Option<String>,
    /// The password file the password came from, if it did (for libpq's
    /// `password retrieved from file "%s"`).
    pub password_file: Option<String>,
    /// Database name.
    pub dbname: String,
    /// `connect_timeout` (already raised to libpq's 2 s minimum), `None` = wait forever.
    pub connect_timeout: Option<Duration>,
    /// Startup parameters to send besides user and database (`options`, `application_name`,
    /// `client_encoding` ...).
    pub startup_params: Vec<(String, String)>,
    /// `target_session_attrs=read-write`.
    pub read_write: bool,
    /// Warnings libpq would print on stderr (e.g. a world-readable password file).
    pub warnings: Vec<String>,
}

impl fmt::Debug for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolved")
            .field("targets", &self.targets)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "_"))
            .field("dbname", &self.dbname)
            .field("connect_timeout", &self.connect_timeout)
            .field("startup_params", &self.startup_params)
            .field("read_write", &self.read_write)
            .finish()
    }
}
