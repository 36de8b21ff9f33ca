//! Which connection setting a `Cluster` was made from, and how it turns into the
//! settings of one connection.

use crate::compat::psycopg2::psycopg2_dsn;
use crate::compat::rex::{DbSetting, RexSettingError};
use crate::conninfo::{redact, scheme, Config};
use crate::error::Error;

/// The engines `get_cluster` takes for PostgreSQL (rex itself took only `pgsql`).
const POSTGRES_ENGINES: [&str; 3] = ["pgsql", "postgres", "postgresql"];

/// A cluster's connection setting, in the form it was given.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Setting {
    /// rex/htsql `engine://user:pass@host:port/database`: rex passes only host, port, user,
    /// password and database to libpq.
    Rex(DbSetting),
    /// A libpq `postgres://` URI or `key=value` string: every keyword is kept, and the
    /// text as given (passwords shown as `xxx`), when there was one.
    LibPq {
        config: Config,
        given: Option<String>,
    },
}

impl Setting {
    /// Parses any form. libpq URIs and `key=value` strings go to the libpq parser; anything
    /// else of the form `engine:...` is a rex setting, whatever its engine.
    pub(crate) fn parse(text: &str) -> Result<Self, Error> {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Self::libpq(text);
        }
        match DbSetting::parse(text) {
            Ok(db) => Ok(Self::Rex(db)),
            // Not `engine:...` at all: a libpq `key=value` string, if it has an `=` and does
            // not start as a URI (`pgsql:///db?a=1&` is a malformed rex URI: no libpq
            // keyword can hold `://`).
            Err(e @ RexSettingError::Malformed(_)) => {
                if text.contains('=') && scheme::scheme_end(text).is_none() {
                    Self::libpq(text)
                } else {
                    Err(e.into())
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A libpq setting, its text kept (redacted) for the repr.
    pub(crate) fn libpq(text: &str) -> Result<Self, Error> {
        Ok(Self::LibPq {
            config: Config::parse(text)?,
            given: Some(redact::libpq(text)),
        })
    }

    /// What `get_cluster` checks: a PostgreSQL engine.
    pub(crate) fn check_postgres(&self) -> Result<(), Error> {
        match self {
            Self::Rex(db) if !POSTGRES_ENGINES.contains(&db.engine.as_str()) => {
                Err(Error::NotPostgres {
                    setting: db.render(true),
                })
            }
            _ => Ok(()),
        }
    }

    /// The database the setting names explicitly, if it names one: a rex setting's
    /// database (the form requires one), a libpq URI's path or `?dbname=`, or `dbname=` in
    /// a `key=value` string. An empty `dbname` names none (libpq then takes the default,
    /// as for a missing one); so do `PGDATABASE`, a service file and the user name, which
    /// come in only when a connection is opened.
    pub(crate) fn database(&self) -> Option<&str> {
        match self {
            Self::Rex(db) => Some(db.database.as_str()),
            Self::LibPq { config, .. } => config.get("dbname"),
        }
        .filter(|name| !name.is_empty())
    }

    /// The libpq settings the setting stands for (rex passes on only host, port, user,
    /// password and database).
    pub(crate) fn base_config(&self) -> Config {
        match self {
            Self::Rex(db) => Config::from_rex(db),
            Self::LibPq { config, .. } => config.clone(),
        }
    }

    /// The settings of a connection to `dbname`, and psycopg2's dsn for it.
    pub(crate) fn connection(&self, dbname: &str) -> Result<(Config, String), Error> {
        let mut config = self.base_config();
        config.set("dbname", dbname)?;
        // psycopg2 is handed (database, host, port, user, password), in that order.
        let mut kwargs: Vec<(&str, &str)> = vec![("dbname", dbname)];
        for key in ["host", "port", "user", "password"] {
            if let Some(value) = config.get(key) {
                kwargs.push((key, value));
            }
        }
        let dsn = psycopg2_dsn(&kwargs);
        Ok((config, dsn))
    }

    /// The text inside `Cluster('...')`: a rex setting as rex shows it, a libpq one as it
    /// was given (settings made from a [`Config`] in libpq's `key=value` form); never shows
    /// a password.
    pub(crate) fn render(&self) -> String {
        match self {
            Self::Rex(db) => db.render(true),
            Self::LibPq {
                given: Some(given), ..
            } => given.clone(),
            Self::LibPq { config, .. } => config.render_redacted(),
        }
    }
}
