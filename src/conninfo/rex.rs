//! The rex/htsql setting `engine://username:password@host:port/database?options`.

use std::fmt;

/// A parsed rex/htsql database setting (htsql's `DB`).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DbSetting {
    /// Engine name, e.g. `pgsql`.
    pub engine: String,
    /// User name.
    pub username: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// Host (a socket directory when it starts with `/`).
    pub host: Option<String>,
    /// Port.
    pub port: Option<u16>,
    /// Database name.
    pub database: String,
    /// Options after `?`, sorted by key.
    pub options: Option<std::collections::BTreeMap<String, String>>,
}

/// htsql's parse errors, with its exact texts.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RexSettingError {
    /// `expected a connection URI of the form 'engine://username:password@host:port/database?options'; got %r`
    Malformed(String),
    /// `expected port to be an integer; got %r`
    Port(String),
}

impl DbSetting {
    /// Parses by htsql's rules (percent-decoded components).
    pub fn parse(s: &str) -> Result<Self, RexSettingError> {
        let _ = s;
        todo!()
    }

    /// htsql's `str(db)`, with the password replaced by `xxx` when `redact`.
    pub fn render(&self, redact: bool) -> String {
        let _ = redact;
        todo!()
    }
}

impl fmt::Debug for DbSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(true))
    }
}

impl fmt::Display for RexSettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let _ = f;
        todo!("htsql texts with Python repr of the input")
    }
}

impl std::error::Error for RexSettingError {}
