//! Options of `CREATE DATABASE` and `DROP DATABASE`, as typed builders.
//!
//! Every value is sent as a quoted identifier or a number: PostgreSQL's grammar takes an
//! identifier wherever these options take a string (`ENCODING = "UTF8"`, `LC_COLLATE =
//! "C"`). Only ICU rules and a collation version, which may be longer than an identifier
//! (the server would cut one at 63 bytes), go as string literals ([`quote_literal`]).
//!
//! Each option names the first PostgreSQL version that has it ([`CreateOptions::needs`]):
//! on an older server the statement is not sent.

use std::fmt::Write as _;
use std::time::Duration;

use super::literal::quote_literal;
use super::name::{self, quote_ident, NameError};

/// How `CREATE DATABASE` copies the template (PostgreSQL 15 and later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// `WAL_LOG`: copy block by block through the WAL (the default since 15).
    WalLog,
    /// `FILE_COPY`: copy the files and checkpoint (the only way before 15).
    FileCopy,
}

/// Which library provides a database's collations (`LOCALE_PROVIDER`, PostgreSQL 15+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocaleProvider {
    /// The C library's locales (`libc`, the only one before 15).
    Libc,
    /// ICU (`icu`); the ICU locale is [`CreateOptions::icu_locale`].
    Icu,
    /// PostgreSQL's own (`builtin`, 17+); its locale is [`CreateOptions::builtin_locale`].
    Builtin,
}

impl LocaleProvider {
    /// The provider `pg_database.datlocprovider` names: `c`, `i` or `b`.
    pub(crate) fn from_catalog(code: &str) -> Option<Self> {
        match code {
            "c" => Some(Self::Libc),
            "i" => Some(Self::Icu),
            "b" => Some(Self::Builtin),
            _ => None,
        }
    }

    fn keyword(self) -> &'static str {
        match self {
            Self::Libc => "libc",
            Self::Icu => "icu",
            Self::Builtin => "builtin",
        }
    }
}

/// Options for [`Cluster::create_with`](crate::doc_api::Cluster::create_with). The default
/// is rex's: `ENCODING = 'UTF-8'` from the server's default template.
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
///
/// Each option is either given or not; one not given is left out of the statement (the
/// server then takes it from the template), except the encoding, UTF-8 when not given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct CreateOptions {
    pub(super) template: Option<String>,
    pub(super) owner: Option<String>,
    pub(super) encoding: Option<String>,
    pub(super) locale: Option<String>,
    pub(super) lc_collate: Option<String>,
    pub(super) lc_ctype: Option<String>,
    pub(super) locale_provider: Option<LocaleProvider>,
    pub(super) icu_locale: Option<String>,
    pub(super) icu_rules: Option<String>,
    pub(super) builtin_locale: Option<String>,
    pub(super) tablespace: Option<String>,
    pub(super) strategy: Option<Strategy>,
    pub(super) is_template: Option<bool>,
    pub(super) allow_connections: Option<bool>,
    pub(super) connection_limit: Option<i32>,
    pub(super) collation_version: Option<String>,
    pub(super) oid: Option<u32>,
}

/// An option of `CREATE DATABASE` given that a server is too old for: its keyword (with the
/// value, when only the value is new, as `LOCALE_PROVIDER = builtin`) and the first
/// PostgreSQL version that has it, as `server_version_num` (`160000` for 16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// The option, as `CREATE DATABASE` spells it: `ICU_RULES`.
    pub option: &'static str,
    /// The first version that has it, as `server_version_num`.
    pub version_num: u32,
}

impl CreateOptions {
    /// rex's defaults: UTF-8, the server's default template.
    pub fn new() -> Self {
        Self::default()
    }

    /// Copy this database (`TEMPLATE`).
    pub fn template(mut self, name: impl AsRef<str>) -> Self {
        self.template = Some(name.as_ref().to_owned());
        self
    }

    /// The database the copy is made from, if set.
    pub fn template_name(&self) -> Option<&str> {
        self.template.as_deref()
    }

    /// The owning role (`OWNER`).
    pub fn owner(mut self, role: impl AsRef<str>) -> Self {
        self.owner = Some(role.as_ref().to_owned());
        self
    }

    /// The encoding (`ENCODING`); the default is UTF-8.
    pub fn encoding(mut self, encoding: impl AsRef<str>) -> Self {
        self.encoding = Some(encoding.as_ref().to_owned());
        self
    }

    /// Both collation and character classification (`LOCALE`).
    pub fn locale(mut self, locale: impl AsRef<str>) -> Self {
        self.locale = Some(locale.as_ref().to_owned());
        self
    }

    /// The collation (`LC_COLLATE`).
    pub fn lc_collate(mut self, locale: impl AsRef<str>) -> Self {
        self.lc_collate = Some(locale.as_ref().to_owned());
        self
    }

    /// The character classification (`LC_CTYPE`).
    pub fn lc_ctype(mut self, locale: impl AsRef<str>) -> Self {
        self.lc_ctype = Some(locale.as_ref().to_owned());
        self
    }

    /// Which library provides the collations (`LOCALE_PROVIDER`, PostgreSQL 15+).
    pub fn locale_provider(mut self, provider: LocaleProvider) -> Self {
        self.locale_provider = Some(provider);
        self
    }

    /// The ICU locale, with the ICU provider (`ICU_LOCALE`, PostgreSQL 15+).
    pub fn icu_locale(mut self, locale: impl AsRef<str>) -> Self {
        self.icu_locale = Some(locale.as_ref().to_owned());
        self
    }

    /// Collation rules for the ICU locale (`ICU_RULES`, PostgreSQL 16+).
    pub fn icu_rules(mut self, rules: impl AsRef<str>) -> Self {
        self.icu_rules = Some(rules.as_ref().to_owned());
        self
    }

    /// The builtin provider's locale (`BUILTIN_LOCALE`, PostgreSQL 17+).
    pub fn builtin_locale(mut self, locale: impl AsRef<str>) -> Self {
        self.builtin_locale = Some(locale.as_ref().to_owned());
        self
    }

    /// The default tablespace (`TABLESPACE`).
    pub fn tablespace(mut self, tablespace: impl AsRef<str>) -> Self {
        self.tablespace = Some(tablespace.as_ref().to_owned());
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

    /// Whether anyone may connect to it (`ALLOW_CONNECTIONS`).
    pub fn allow_connections(mut self, yes: bool) -> Self {
        self.allow_connections = Some(yes);
        self
    }

    /// How many sessions may connect at once, -1 for no limit (`CONNECTION LIMIT`).
    pub fn connection_limit(mut self, limit: i32) -> Self {
        self.connection_limit = Some(limit);
        self
    }

    /// The collation version recorded for the new database (`COLLATION_VERSION`,
    /// PostgreSQL 15+; meant for `pg_upgrade`: the server takes it on trust).
    pub fn collation_version(mut self, version: impl AsRef<str>) -> Self {
        self.collation_version = Some(version.as_ref().to_owned());
        self
    }

    /// The new database's object identifier (`OID`, PostgreSQL 15+; the server refuses one
    /// below 16384 or already taken).
    pub fn oid(mut self, oid: u32) -> Self {
        self.oid = Some(oid);
        self
    }

    /// The options given, each with the first PostgreSQL version that has it, in the
    /// statement's order (`ALLOW_CONNECTIONS` and `IS_TEMPLATE` are 9.5's, `LOCALE` 13's;
    /// `STRATEGY`, `LOCALE_PROVIDER`, `ICU_LOCALE`, `COLLATION_VERSION` and `OID` 15's;
    /// `ICU_RULES` 16's; `BUILTIN_LOCALE` and `LOCALE_PROVIDER = builtin` 17's).
    ///
    /// ```
    /// use pgcluster::cluster::{CreateOptions, Needs};
    ///
    /// let options = CreateOptions::new().oid(20_000).icu_rules("&a < b");
    /// assert_eq!(
    ///     options.needs(),
    ///     [
    ///         Needs { option: "ICU_RULES", version_num: 160_000 },
    ///         Needs { option: "OID", version_num: 150_000 },
    ///     ]
    /// );
    /// // The first one a PostgreSQL 15 server lacks:
    /// assert_eq!(options.unsupported_on(150_014).map(|n| n.option), Some("ICU_RULES"));
    /// assert_eq!(options.unsupported_on(160_000), None);
    /// ```
    pub fn needs(&self) -> Vec<Needs> {
        let provider = self.locale_provider.map(|p| match p {
            LocaleProvider::Builtin => ("LOCALE_PROVIDER = builtin", 170_000),
            LocaleProvider::Libc | LocaleProvider::Icu => ("LOCALE_PROVIDER", 150_000),
        });
        [
            self.locale.as_ref().map(|_| ("LOCALE", 130_000)),
            provider,
            self.icu_locale.as_ref().map(|_| ("ICU_LOCALE", 150_000)),
            self.builtin_locale
                .as_ref()
                .map(|_| ("BUILTIN_LOCALE", 170_000)),
            self.icu_rules.as_ref().map(|_| ("ICU_RULES", 160_000)),
            self.collation_version
                .as_ref()
                .map(|_| ("COLLATION_VERSION", 150_000)),
            self.strategy.map(|_| ("STRATEGY", 150_000)),
            self.is_template.map(|_| ("IS_TEMPLATE", 90_500)),
            self.allow_connections
                .map(|_| ("ALLOW_CONNECTIONS", 90_500)),
            self.oid.map(|_| ("OID", 150_000)),
        ]
        .into_iter()
        .flatten()
        .map(|(option, version_num)| Needs {
            option,
            version_num,
        })
        .collect()
    }

    /// The first option given (in the statement's order) that a server of version
    /// `server_version_num` does not have; `None` when it has them all, or when its version
    /// is unknown (`0`: the server did not say; it is then left to the server).
    pub fn unsupported_on(&self, server_version_num: u32) -> Option<Needs> {
        if server_version_num == 0 {
            return None;
        }
        self.needs()
            .into_iter()
            .find(|needs| server_version_num < needs.version_num)
    }

    /// These options (given anew) over `old` (what a database was): each option given here
    /// wins, and one not given is taken from `old`, as `CREATE DATABASE` reads them on a
    /// server of version `server_version_num`:
    /// - a `locale` given anew replaces `old`'s collation and character classes, and, from
    ///   PostgreSQL 16 (ICU) and 17 (builtin), where `LOCALE` sets those too, its ICU and
    ///   builtin locales;
    /// - a provider given anew that differs from `old`'s drops `old`'s ICU locale, ICU rules
    ///   and builtin locale, which belong to `old`'s provider;
    /// - the template, the strategy, the collation version and the OID are never taken from
    ///   `old`.
    pub(crate) fn over(self, old: Self, server_version_num: u32) -> Self {
        let locale_given = self.locale.is_some();
        let same_provider = self.locale_provider.is_none()
            || old.locale_provider.is_none()
            || self.locale_provider == old.locale_provider;
        let keep = |given: Option<String>, old: Option<String>, keep_old: bool| {
            given.or(if keep_old { old } else { None })
        };
        Self {
            template: self.template,
            owner: self.owner.or(old.owner),
            encoding: self.encoding.or(old.encoding),
            locale: self.locale,
            lc_collate: keep(self.lc_collate, old.lc_collate, !locale_given),
            lc_ctype: keep(self.lc_ctype, old.lc_ctype, !locale_given),
            locale_provider: self.locale_provider.or(old.locale_provider),
            icu_locale: keep(
                self.icu_locale,
                old.icu_locale,
                same_provider && !(locale_given && server_version_num >= 160_000),
            ),
            icu_rules: keep(self.icu_rules, old.icu_rules, same_provider),
            builtin_locale: keep(
                self.builtin_locale,
                old.builtin_locale,
                same_provider && !(locale_given && server_version_num >= 170_000),
            ),
            tablespace: self.tablespace.or(old.tablespace),
            strategy: self.strategy,
            is_template: self.is_template.or(old.is_template),
            allow_connections: self.allow_connections.or(old.allow_connections),
            connection_limit: self.connection_limit.or(old.connection_limit),
            // The new database's own: the current collation version, a fresh OID.
            collation_version: self.collation_version,
            oid: self.oid,
        }
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
        ] {
            if let Some(value) = value {
                item(key, value)?;
            }
        }
        if let Some(provider) = self.locale_provider {
            item("LOCALE_PROVIDER", provider.keyword())?;
        }
        for (key, value) in [
            ("ICU_LOCALE", &self.icu_locale),
            ("BUILTIN_LOCALE", &self.builtin_locale),
        ] {
            if let Some(value) = value {
                item(key, value)?;
            }
        }
        for (key, value) in [
            ("ICU_RULES", &self.icu_rules),
            ("COLLATION_VERSION", &self.collation_version),
        ] {
            if let Some(value) = value {
                let literal = quote_literal(value).ok_or_else(|| NameError::Nul {
                    name: value.clone(),
                })?;
                let _ = write!(sql, " {key} = {literal}");
            }
        }
        if let Some(tablespace) = &self.tablespace {
            let tablespace = name::check(tablespace)?;
            let _ = write!(sql, " TABLESPACE = {}", quote_ident(tablespace));
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
        if let Some(yes) = self.allow_connections {
            let _ = write!(sql, " ALLOW_CONNECTIONS = {yes}");
        }
        if let Some(limit) = self.connection_limit {
            let _ = write!(sql, " CONNECTION LIMIT = {limit}");
        }
        if let Some(oid) = self.oid {
            let _ = write!(sql, " OID = {oid}");
        }
        sql.push(';');
        Ok(sql)
    }
}

/// Options for [`Cluster::drop_database_with`](crate::doc_api::Cluster::drop_database_with).
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
    drain: Option<Duration>,
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

    /// Terminate the sessions connected to it first (`WITH (FORCE)`, PostgreSQL 13+; an
    /// older server gets [`crate::Error::ServerTooOld`] before anything is sent).
    pub fn force(mut self, yes: bool) -> Self {
        self.force = yes;
        self
    }

    /// Whether `force` is set.
    pub fn is_force(&self) -> bool {
        self.force
    }

    /// Wait up to `timeout` for the sessions on the database to end before dropping it:
    /// `ALLOW_CONNECTIONS false` first (no new session), then the drop as soon as no
    /// session is left. When time is up, [`force`](Self::force) drops it anyway (ending
    /// the sessions left); without it the drop gives up with
    /// [`Error::Drain`](crate::Error::Drain). Unless it was dropped, the database allows
    /// connections again afterwards if it did before (also after a failure or an
    /// interrupt). The sessions are read on the maintenance database (`template1` when
    /// the database is `postgres`).
    pub fn drain(mut self, timeout: Duration) -> Self {
        self.drain = Some(timeout);
        self
    }

    /// The drain's timeout, if one was set.
    pub fn drain_timeout(&self) -> Option<Duration> {
        self.drain
    }

    /// The `DROP DATABASE` statement for `name` (PostgreSQL 13+ syntax).
    pub fn sql(&self, name: &str) -> Result<String, NameError> {
        let mut sql = String::from("DROP DATABASE ");
        if self.if_exists {
            sql.push_str("IF EXISTS ");
        }
        sql.push_str(&quote_ident(name::check(name)?));
        if self.force {
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
    fn locale_providers_and_connections() {
        let icu = CreateOptions::new()
            .locale_provider(LocaleProvider::Icu)
            .icu_locale("und-u-ks-level2")
            .icu_rules(r"&a < b \ c's")
            .allow_connections(false);
        assert_eq!(
            icu.sql("x").unwrap(),
            r#"CREATE DATABASE "x" WITH ENCODING = "UTF8" LOCALE_PROVIDER = "icu" ICU_LOCALE = "und-u-ks-level2" ICU_RULES = E'&a < b \\ c''s' ALLOW_CONNECTIONS = false;"#
        );
        let builtin = CreateOptions::new()
            .locale_provider(LocaleProvider::Builtin)
            .builtin_locale("C.UTF-8");
        assert_eq!(
            builtin.sql("x").unwrap(),
            r#"CREATE DATABASE "x" WITH ENCODING = "UTF8" LOCALE_PROVIDER = "builtin" BUILTIN_LOCALE = "C.UTF-8";"#
        );
        assert_eq!(
            CreateOptions::new().icu_rules("a\0").sql("x"),
            Err(NameError::Nul { name: "a\0".into() })
        );
    }

    #[test]
    fn collation_version_and_oid() {
        let options = CreateOptions::new()
            .collation_version(r"153.1'\")
            .connection_limit(3)
            .oid(4_000_000_000);
        assert_eq!(
            options.sql("x").unwrap(),
            r#"CREATE DATABASE "x" WITH ENCODING = "UTF8" COLLATION_VERSION = E'153.1''\\' CONNECTION LIMIT = 3 OID = 4000000000;"#
        );
        assert_eq!(
            CreateOptions::new().collation_version("1\0").sql("x"),
            Err(NameError::Nul { name: "1\0".into() })
        );
        // Neither is taken from the database an overwrite replaces.
        let anew = CreateOptions::new().over(options, 150_000);
        assert_eq!((anew.collation_version, anew.oid), (None, None));
    }

    #[test]
    fn each_option_names_the_first_version_that_has_it() {
        let needs = |options: CreateOptions| {
            options
                .needs()
                .iter()
                .map(|n| (n.option, n.version_num))
                .collect::<Vec<_>>()
        };
        assert_eq!(needs(CreateOptions::new().template("t").owner("o")), []);
        assert_eq!(
            needs(
                CreateOptions::new()
                    .allow_connections(true)
                    .is_template(true)
                    .locale("C")
                    .locale_provider(LocaleProvider::Icu)
                    .icu_locale("und")
                    .icu_rules("")
                    .collation_version("1")
                    .strategy(Strategy::WalLog)
                    .oid(16_384)
            ),
            [
                ("LOCALE", 130_000),
                ("LOCALE_PROVIDER", 150_000),
                ("ICU_LOCALE", 150_000),
                ("ICU_RULES", 160_000),
                ("COLLATION_VERSION", 150_000),
                ("STRATEGY", 150_000),
                ("IS_TEMPLATE", 90_500),
                ("ALLOW_CONNECTIONS", 90_500),
                ("OID", 150_000),
            ]
        );
        let builtin = CreateOptions::new()
            .locale_provider(LocaleProvider::Builtin)
            .builtin_locale("C.UTF-8");
        assert_eq!(
            needs(builtin.clone()),
            [
                ("LOCALE_PROVIDER = builtin", 170_000),
                ("BUILTIN_LOCALE", 170_000)
            ]
        );
        assert_eq!(
            builtin.unsupported_on(160_013).map(|n| n.option),
            Some("LOCALE_PROVIDER = builtin")
        );
        assert_eq!(builtin.unsupported_on(170_000), None);
        // A server that did not say its version: left to the server.
        assert_eq!(builtin.unsupported_on(0), None);
        assert_eq!(
            CreateOptions::new()
                .locale_provider(LocaleProvider::Libc)
                .unsupported_on(140_023)
                .map(|n| (n.option, n.version_num)),
            Some(("LOCALE_PROVIDER", 150_000))
        );
    }

    #[test]
    fn options_given_anew_win_over_the_old_ones() {
        let old = CreateOptions::new()
            .owner("alice")
            .encoding("LATIN1")
            .lc_collate("C")
            .lc_ctype("C")
            .locale_provider(LocaleProvider::Icu)
            .icu_locale("de")
            .icu_rules("&a < b")
            .tablespace("ts")
            .is_template(true)
            .connection_limit(5);
        let kept = CreateOptions::new().over(old.clone(), 150_000);
        assert_eq!(kept, old);
        let anew = CreateOptions::new()
            .template("t")
            .owner("bob")
            .connection_limit(7)
            .is_template(false)
            .strategy(Strategy::FileCopy);
        assert_eq!(
            anew.over(old.clone(), 150_000),
            old.clone()
                .template("t")
                .owner("bob")
                .connection_limit(7)
                .is_template(false)
                .strategy(Strategy::FileCopy)
        );
        // A locale replaces collation and character classes; from 16 the ICU locale too.
        let locale = CreateOptions::new().locale("C.utf8");
        let mut on15 = old.clone();
        on15.lc_collate = None;
        on15.lc_ctype = None;
        on15.locale = Some("C.utf8".into());
        assert_eq!(locale.clone().over(old.clone(), 150_000), on15);
        let mut on16 = on15.clone();
        on16.icu_locale = None;
        assert_eq!(locale.over(old.clone(), 160_000), on16);
        // Another provider: nothing of the old provider's.
        let libc = CreateOptions::new().locale_provider(LocaleProvider::Libc);
        let mut moved = old.clone();
        moved.locale_provider = Some(LocaleProvider::Libc);
        moved.icu_locale = None;
        moved.icu_rules = None;
        assert_eq!(libc.over(old, 170_000), moved);
    }

    #[test]
    fn bad_values_are_refused_before_any_sql() {
        assert_eq!(CreateOptions::new().sql(""), Err(NameError::Empty));
        assert_eq!(
            CreateOptions::new().owner("").sql("x"),
            Err(NameError::Empty)
        );
        assert!(CreateOptions::new()
            .locale("x".repeat(64))
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
            DropOptions::new().force(true).sql("x").unwrap(),
            r#"DROP DATABASE "x" WITH (FORCE);"#
        );
    }
}
