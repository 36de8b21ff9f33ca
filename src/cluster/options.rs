//! Options of `CREATE DATABASE` and `DROP DATABASE`, as typed builders.
//!
//! Every value is sent as a quoted identifier or a number, never pasted into a string
//! literal: PostgreSQL's grammar takes an identifier wherever these options take a string
//! (`ENCODING = "UTF8"`, `LC_COLLATE = "C"`).

use std::fmt::Write as _;

use super::name::{self, quote_ident, NameError};

/// How `CREATE DATABASE` copies the template (PostgreSQL 15 and later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// `WAL_LOG`: copy block by block through the WAL (the default since 15).
    WalLog,
    /// `FILE_COPY`: copy the files and checkpoint (the only way before 15).
    FileCopy,
}

/// Options for [`crate::Cluster::create_with`]. The default is rex's:
/// `ENCODING = 'UTF-8'` from the server's default template.
///
/// ```
/// use pgcluster::cluster::CreateOptions;
///
/// let options = CreateOptions::new().template("deploy_demo").owner("alice").connection_limit(5);
/// assert_eq!(
///     options.sql("copy").unwrap(),
///     r#"CREATE DATABASE "copy" WITH ENCODING = "UTF8" TEMPLATE = "deploy_demo" OWNER = "alice" CONNECTION LIMIT = 5;"#
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct CreateOptions {
    template: Option<String>,
    owner: Option<String>,
    encoding: Option<String>,
    locale: Option<String>,
    lc_collate: Option<String>,
    lc_ctype: Option<String>,
    tablespace: Option<String>,
    strategy: Option<Strategy>,
    is_template: Option<bool>,
    connection_limit: Option<i32>,
}

impl CreateOptions {
    /// rex's defaults: UTF-8, the server's default template.
    pub fn new() -> Self {
        Self::default()
    }

    /// Copy this database (`TEMPLATE`).
    pub fn template(mut self, name: &str) -> Self {
        self.template = Some(name.to_owned());
        self
    }

    /// The database the copy is made from, if set.
    pub fn template_name(&self) -> Option<&str> {
        self.template.as_deref()
    }

    /// The owning role (`OWNER`).
    pub fn owner(mut self, role: &str) -> Self {
        self.owner = Some(role.to_owned());
        self
    }

    /// The encoding (`ENCODING`); the default is UTF-8.
    pub fn encoding(mut self, encoding: &str) -> Self {
        self.encoding = Some(encoding.to_owned());
        self
    }

    /// Both collation and character classification (`LOCALE`).
    pub fn locale(mut self, locale: &str) -> Self {
        self.locale = Some(locale.to_owned());
        self
    }

    /// The collation (`LC_COLLATE`).
    pub fn lc_collate(mut self, locale: &str) -> Self {
        self.lc_collate = Some(locale.to_owned());
        self
    }

    /// The character classification (`LC_CTYPE`).
    pub fn lc_ctype(mut self, locale: &str) -> Self {
        self.lc_ctype = Some(locale.to_owned());
        self
    }

    /// The default tablespace (`TABLESPACE`).
    pub fn tablespace(mut self, tablespace: &str) -> Self {
        self.tablespace = Some(tablespace.to_owned());
        self
    }

    /// How the template is copied (`STRATEGY`, PostgreSQL 15+).
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = Some(strategy);
        self
    }

    /// Whether the new database is a template (`IS_TEMPLATE`).
    pub fn is_template(mut self, yes: bool) -> Self {
        self.is_template = Some(yes);
        self
    }

    /// How many sessions may connect at once, -1 for no limit (`CONNECTION LIMIT`).
    pub fn connection_limit(mut self, limit: i32) -> Self {
        self.connection_limit = Some(limit);
        self
    }

    /// The `CREATE DATABASE` statement for `name`. Every name and value is checked
    /// (non-empty, at most 63 bytes, no NUL) before anything is built.
    pub fn sql(&self, name: &str) -> Result<String, NameError> {
        let mut sql = format!("CREATE DATABASE {} WITH", quote_ident(name::check(name)?));
        let encoding = self.encoding.as_deref().unwrap_or("UTF8");
        let mut item = |key: &str, value: &str| -> Result<(), NameError> {
            let value = name::check(value)?;
            let _ = write!(sql, " {key} = {}", quote_ident(value));
            Ok(())
        };
        item("ENCODING", encoding)?;
        for (key, value) in [
            ("TEMPLATE", &self.template),
            ("OWNER", &self.owner),
            ("LOCALE", &self.locale),
            ("LC_COLLATE", &self.lc_collate),
            ("LC_CTYPE", &self.lc_ctype),
            ("TABLESPACE", &self.tablespace),
        ] {
            if let Some(value) = value {
                item(key, value)?;
            }
        }
        if let Some(strategy) = self.strategy {
            sql.push_str(match strategy {
                Strategy::WalLog => " STRATEGY = WAL_LOG",
                Strategy::FileCopy => " STRATEGY = FILE_COPY",
            });
        }
        if let Some(yes) = self.is_template {
            let _ = write!(sql, " IS_TEMPLATE = {yes}");
        }
        if let Some(limit) = self.connection_limit {
            let _ = write!(sql, " CONNECTION LIMIT = {limit}");
        }
        sql.push(';');
        Ok(sql)
    }
}

/// Options for [`crate::Cluster::drop_with`].
///
/// ```
/// use pgcluster::cluster::DropOptions;
///
/// let options = DropOptions::new().if_exists(true).force(true);
/// assert_eq!(options.sql("old").unwrap(), r#"DROP DATABASE IF EXISTS "old" WITH (FORCE);"#);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[must_use]
pub struct DropOptions {
    if_exists: bool,
    force: bool,
}

impl DropOptions {
    /// A plain `DROP DATABASE`: an error if the database is missing or in use.
    pub fn new() -> Self {
        Self::default()
    }

    /// No error when the database does not exist (`IF EXISTS`).
    pub fn if_exists(mut self, yes: bool) -> Self {
        self.if_exists = yes;
        self
    }

    /// Terminate the sessions connected to it first (`WITH (FORCE)`, PostgreSQL 13+; older
    /// servers: new logins are blocked and the sessions terminated before the drop).
    pub fn force(mut self, yes: bool) -> Self {
        self.force = yes;
        self
    }

    /// Whether `force` is set.
    pub fn is_force(&self) -> bool {
        self.force
    }

    /// The `DROP DATABASE` statement for `name` (PostgreSQL 13+ syntax).
    pub fn sql(&self, name: &str) -> Result<String, NameError> {
        self.sql_for(name, true)
    }

    /// The statement, with `WITH (FORCE)` only when the server has it.
    pub(crate) fn sql_for(&self, name: &str, server_has_force: bool) -> Result<String, NameError> {
        let mut sql = String::from("DROP DATABASE ");
        if self.if_exists {
            sql.push_str("IF EXISTS ");
        }
        sql.push_str(&quote_ident(name::check(name)?));
        if self.force && server_has_force {
            sql.push_str(" WITH (FORCE)");
        }
        sql.push(';');
        Ok(sql)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_defaults_to_utf8_and_quotes_everything() {
        assert_eq!(
            CreateOptions::new().sql("my db").unwrap(),
            r#"CREATE DATABASE "my db" WITH ENCODING = "UTF8";"#
        );
        let all = CreateOptions::new()
            .template("t\"1")
            .encoding("LATIN1")
            .locale("C")
            .lc_collate("C")
            .lc_ctype("C")
            .tablespace("pg_default")
            .strategy(Strategy::FileCopy)
            .is_template(false)
            .connection_limit(-1);
        assert_eq!(
            all.sql("x").unwrap(),
            r#"CREATE DATABASE "x" WITH ENCODING = "LATIN1" TEMPLATE = "t""1" LOCALE = "C" LC_COLLATE = "C" LC_CTYPE = "C" TABLESPACE = "pg_default" STRATEGY = FILE_COPY IS_TEMPLATE = false CONNECTION LIMIT = -1;"#
        );
    }

    #[test]
    fn bad_values_are_refused_before_any_sql() {
        assert_eq!(CreateOptions::new().sql(""), Err(NameError::Empty));
        assert_eq!(
            CreateOptions::new().owner("").sql("x"),
            Err(NameError::Empty)
        );
        assert!(CreateOptions::new()
            .locale(&"x".repeat(64))
            .sql("x")
            .is_err());
        assert_eq!(
            DropOptions::new().sql("a\0"),
            Err(NameError::Nul { name: "a\0".into() })
        );
    }

    #[test]
    fn drop_variants() {
        assert_eq!(
            DropOptions::new().sql("x").unwrap(),
            r#"DROP DATABASE "x";"#
        );
        assert_eq!(
            DropOptions::new().force(true).sql_for("x", false).unwrap(),
            r#"DROP DATABASE "x";"#
        );
    }
}
