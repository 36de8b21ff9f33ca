//! `Cluster::overwrite`: replace a database by a new one under the same name, keeping what
//! the old one was.
//!
//! The old database is read from the catalogs first ([`catalog`]); the new one is made
//! under a temporary name with the old one's `CREATE DATABASE` options (those given anew
//! win), gets its comment, privileges and settings ([`restore`]), and only then takes the
//! name, in one transaction with the old one's move to another temporary name; the old one
//! is dropped last.

mod catalog;
mod restore;

use super::name::quote_ident;
use super::options::{CreateOptions, LocaleProvider};
use super::temporary::{self, Role};
use super::{
    force_too_old, is_cancel, read_interrupted, too_old, Cluster, DatabaseName, DropOptions, Mode,
};
use crate::connection::QueryResult;
use crate::error::{Destructive, Error, Stage};
use catalog::{Catalog, Template};

/// How many times in all [`Cluster::overwrite_with`] tries when the missing database it
/// was about to create keeps appearing meanwhile.
const OVERWRITE_ATTEMPTS: u32 = 3;

/// SQLSTATE `duplicate_database`.
const DUPLICATE_DATABASE: &str = "42P04";
/// SQLSTATE `unique_violation`, and the index that refuses a second database of a name:
/// a rename racing another session's `CREATE DATABASE` of the name gets this instead of
/// 42P04 when both passed the name check before either committed (seen on PostgreSQL 18).
const UNIQUE_VIOLATION: &str = "23505";
const DATNAME_INDEX: &str = "pg_database_datname_index";

/// Whether `e` says the name a database was to take is already taken.
fn name_taken(e: &Error) -> bool {
    match e.sqlstate() {
        Some(DUPLICATE_DATABASE) => true,
        Some(UNIQUE_VIOLATION) => e
            .server_error()
            .and_then(|f| f.constraint.as_deref())
            .is_some_and(|c| c == DATNAME_INDEX),
        _ => false,
    }
}

/// How one overwrite went, when it did not fail.
enum Overwritten {
    Done,
    /// The missing database appeared before the new one took its name: start again.
    NameTaken,
}

/// The template `CREATE DATABASE` copies when none is named.
const DEFAULT_TEMPLATE: &str = "template1";
/// The one template `CREATE DATABASE` copies to another encoding or locale.
const PRISTINE_TEMPLATE: &str = "template0";

impl Cluster {
    /// Replaces database `name` (`None`: the database the setting names explicitly, never
    /// a default, as in [`Self::drop_database`]) by a new, empty one that keeps what the old
    /// one was: [`Cluster::overwrite_with`] with no options (the template as it chooses).
    pub async fn overwrite(&self, name: impl DatabaseName) -> Result<(), Error> {
        self.overwrite_with(name, &CreateOptions::new()).await
    }

    /// Replaces database `name` (`None`: the database the setting names explicitly, never
    /// a default, as in [`Self::drop_database`]) by a new one, so that the name is never
    /// missing and never shows a half-made database.
    ///
    /// The new database keeps what the old one was, unless `options` gives it anew: owner,
    /// encoding, collation and character classes, locale provider, ICU or builtin locale
    /// and ICU rules, tablespace, template flag, whether it allows connections, connection
    /// limit (all read in one query before anything is changed), and its comment,
    /// privileges (`datacl`, reproduced exactly; a new owner takes the old one's place in
    /// them) and settings (`ALTER DATABASE ... SET` and `ALTER ROLE ... IN DATABASE ...
    /// SET`). Its content is that of the template, not the old database's.
    ///
    /// With no template given, the server's default (`template1`) is copied, as
    /// [`Cluster::create`] does, unless the encoding, locale or locale provider differ from
    /// `template1`'s: `CREATE DATABASE` can copy only `template0` to another encoding or
    /// locale, so `template0` is copied then. A missing database is created with `options`
    /// alone, by the same rule.
    ///
    /// Copying needs what the same statements need: ownership (or membership in the
    /// owner) for the comment and the database's settings, `ALTER ROLE`'s privileges for a
    /// role's settings, and, for a privilege granted by a role other than the owner, being
    /// able to become that role (`SET ROLE`). Without them, the server's refusal is the
    /// error, and the old database is left as it was. Not copied: security labels.
    ///
    /// Needs PostgreSQL 13 or later (the old database goes with `DROP DATABASE ... WITH
    /// (FORCE)`): an older server gets [`Error::ServerTooOld`] before anything is sent.
    ///
    /// The new database is made under a temporary name and given the comment, privileges
    /// and settings there, in one transaction; the two names are swapped in another, then
    /// the old database (no longer a template) is dropped, its sessions ended. On failure,
    /// the old database is still there under its name, or the new one is; any database
    /// left behind is named in the error.
    ///
    /// A missing database that another session creates meanwhile (two overwrites of a new
    /// name at once, say) is overwritten in turn: the rename that would have put the new
    /// database in its place finds the name taken (`42P04`, or `23505` on
    /// `pg_database`'s name index when the two raced closer still), so the new database is
    /// dropped and the overwrite starts again from the catalogs, up to
    /// three times in all.
    pub async fn overwrite_with(
        &self,
        name: impl DatabaseName,
        options: &CreateOptions,
    ) -> Result<(), Error> {
        let name = self.destructive_target(name.database_name(), Destructive::Overwrite)?;
        let mut attempt = 1;
        loop {
            let again = attempt < OVERWRITE_ATTEMPTS;
            match self.overwrite_once(&name, options, again).await? {
                Overwritten::Done => return Ok(()),
                Overwritten::NameTaken => attempt += 1,
            }
        }
    }

    /// One overwrite of `name`. With `again`, a missing `name` that someone else created
    /// before the new database could take it is [`Overwritten::NameTaken`] (the new one
    /// dropped); without, the server's refusal.
    async fn overwrite_once(
        &self,
        name: &str,
        options: &CreateOptions,
        again: bool,
    ) -> Result<Overwritten, Error> {
        let (catalog, server_version) = self.read_catalog(name, options).await?;
        let existed = catalog.old.is_some();
        let mut create = match &catalog.old {
            Some(old) => options.clone().over(old.options.clone(), server_version),
            None => options.clone(),
        };
        choose_template(&mut create, &catalog, server_version);
        let fresh = temporary_name("new");
        let old = temporary_name("old");
        // Everything is built before anything is changed.
        let restore = match &catalog.old {
            Some(old_db) => {
                let owner = create.owner.as_deref().unwrap_or(old_db.owner.as_str());
                restore::sql(&fresh, owner, old_db)?
            }
            None => None,
        };
        match self.create_with(fresh.as_str(), &create).await {
            Ok(()) => {}
            // It may have been made (the CREATE finished first): drop it.
            Err(e @ Error::Interrupted(_)) => return Err(self.without(name, &fresh, e).await),
            Err(e) => return Err(e),
        }
        if let Some(restore) = restore {
            if let Err(e) = self.ddl(&[&fresh], &restore).await {
                return Err(self.without(name, &fresh, e).await);
            }
        }
        let swap = if existed {
            // A template cannot be dropped: the old one stops being one as it moves away.
            let untemplate = if catalog.old.as_ref().is_some_and(|o| o.is_template) {
                format!(" ALTER DATABASE {} IS_TEMPLATE false;", quote_ident(&old))
            } else {
                String::new()
            };
            format!(
                "BEGIN; ALTER DATABASE {n} RENAME TO {o};{untemplate} ALTER DATABASE {f} RENAME TO {n}; COMMIT;",
                n = quote_ident(name),
                o = quote_ident(&old),
                f = quote_ident(&fresh)
            )
        } else {
            format!(
                "ALTER DATABASE {} RENAME TO {};",
                quote_ident(&fresh),
                quote_ident(name)
            )
        };
        let swapped = match self.ddl(&[name, &fresh], &swap).await {
            Ok(()) => Ok(()),
            // The swap committed before the cancel took effect: finish the job.
            Err(Error::Interrupted(i)) if i.stage == Stage::Finished => Err(i),
            // Created by someone else since the catalogs said it was missing.
            Err(e) if !existed && again && name_taken(&e) => {
                let e = self.without(name, &fresh, e).await;
                return match e {
                    Error::LeftBehind { .. } => Err(e),
                    _ => Ok(Overwritten::NameTaken),
                };
            }
            // `database "x" is being accessed by other users`: the sessions on it.
            Err(e) => {
                let e = self.with_sessions(e, name).await;
                return Err(self.without(name, &fresh, e).await);
            }
        };
        if existed {
            // Owed: an interrupt does not stop it, or the old database would be left.
            if let Err(e) = self.drop_owed(&old, DropOptions::new().force(true)).await {
                return Err(Error::left_behind(e, Some(old)));
            }
        }
        swapped.map(|()| Overwritten::Done).map_err(|mut i| {
            if existed {
                i.dropped = Some(old);
            }
            Error::Interrupted(i)
        })
    }

    /// Drops the new database `fresh` after `cause` stopped the overwrite of `name` (also
    /// after an interrupt: it is owed): `cause`, naming `fresh` if it could not be dropped
    /// (see [`Cluster::discard`]).
    async fn without(&self, name: &str, fresh: &str, cause: Error) -> Error {
        self.discard(cause, name, fresh).await
    }

    /// The catalogs' answer about `name` and the templates `options` may copy, and the
    /// server's version: one read-only query, on a maintenance connection. As in
    /// [`Cluster::read`], a reused idle connection the server had just ended is replaced
    /// and the query sent once more.
    async fn read_catalog(
        &self,
        name: &str,
        options: &CreateOptions,
    ) -> Result<(Catalog, u32), Error> {
        let params = [
            Some(name),
            options.encoding.as_deref(),
            options.template.as_deref(),
        ];
        loop {
            if self.refused(Mode::Work) {
                return Err(read_interrupted(&catalog::sql(0), Stage::NotStarted));
            }
            let (db, mut conn, reused) = self.maintenance_reused(&[]).await?;
            // The old database goes with `DROP DATABASE ... WITH (FORCE)`: 13 or later.
            if let Some(e) = too_old(options, &conn).or_else(|| force_too_old(&conn)) {
                self.release(db, conn);
                return Err(e);
            }
            let version = conn.server_version_num().unwrap_or(0);
            let sql = catalog::sql(version);
            let Some(flight) = self.begin(Mode::Work, &conn) else {
                self.release(db, conn);
                return Err(read_interrupted(&sql, Stage::NotStarted));
            };
            let result: Result<QueryResult, Error> = flight.run(conn.query(&sql, &params)).await;
            let interrupted = flight.finish();
            if !interrupted {
                self.release(db, conn);
            }
            match result {
                Err(Error::Query(e)) if reused && e.connection_lost => continue,
                Err(e) if interrupted && is_cancel(&e) => {
                    return Err(read_interrupted(&sql, Stage::Cancelled))
                }
                result => return Ok((catalog::parse(&result?)?, version)),
            }
        }
    }
}

/// Sets `options`' template when none was given and `template1` cannot be copied to the
/// encoding, locale or provider asked for, which only `template0` can be; and leaves out a
/// tablespace taken from the old database that is the template's own (naming it would
/// need `CREATE` on it, even `pg_default`).
fn choose_template(options: &mut CreateOptions, catalog: &Catalog, server_version_num: u32) {
    if options.template.is_none() {
        if let Some(t1) = catalog
            .templates
            .iter()
            .find(|t| t.name == DEFAULT_TEMPLATE)
        {
            if !copies_to(t1, options, catalog, server_version_num) {
                options.template = Some(PRISTINE_TEMPLATE.to_owned());
            }
        }
    }
    let template = options.template.as_deref().unwrap_or(DEFAULT_TEMPLATE);
    let template = catalog.templates.iter().find(|t| t.name == template);
    if let (Some(old), Some(template)) = (&catalog.old, template) {
        if options.tablespace.as_deref() == Some(old.tablespace.as_str())
            && template.tablespace == old.tablespace
        {
            options.tablespace = None;
        }
    }
}

/// Whether `CREATE DATABASE` accepts copying `template` (not `template0`) with `options`:
/// the same encoding, collation, character classes and provider, and with ICU or builtin
/// the same locale (and ICU rules). Locales are compared as the server does, as strings.
fn copies_to(
    template: &Template,
    options: &CreateOptions,
    catalog: &Catalog,
    server_version_num: u32,
) -> bool {
    // Given anew: the server's own name for it; else the old database's (the server's
    // name too), or the default.
    let encoding = catalog
        .given_encoding
        .as_deref()
        .or(options.encoding.as_deref())
        .unwrap_or("UTF8");
    if encoding != template.encoding {
        return false;
    }
    let locale = options.locale.as_deref();
    let differs = |asked: Option<&str>, have: &str| asked.is_some_and(|a| a != have);
    if differs(options.lc_collate.as_deref().or(locale), &template.collate)
        || differs(options.lc_ctype.as_deref().or(locale), &template.ctype)
    {
        return false;
    }
    if options.locale_provider.is_some() && options.locale_provider != template.provider {
        return false;
    }
    let provider = options.locale_provider.or(template.provider);
    let have = template.locale.as_deref().unwrap_or_default();
    match provider {
        Some(LocaleProvider::Icu) => {
            let asked = options
                .icu_locale
                .as_deref()
                .or(locale.filter(|_| server_version_num >= 160_000));
            let rules = template.rules.as_deref().unwrap_or_default();
            !differs(asked, have) && !differs(options.icu_rules.as_deref(), rules)
        }
        Some(LocaleProvider::Builtin) => {
            let asked = options
                .builtin_locale
                .as_deref()
                .or(locale.filter(|_| server_version_num >= 170_000));
            !differs(asked, have)
        }
        Some(LocaleProvider::Libc) | None => true,
    }
}
/// A name for a database that exists only during `overwrite`, unique to this process.
fn temporary_name(role: &str) -> String {
    temporary::new_name(if role == "old" { Role::Old } else { Role::New })
}

#[cfg(test)]
mod tests {
    use super::catalog::OldDatabase;
    use super::*;

    fn template(name: &str, tablespace: &str) -> Template {
        Template {
            name: name.into(),
            encoding: "UTF8".into(),
            collate: "C.UTF-8".into(),
            ctype: "C.UTF-8".into(),
            provider: Some(LocaleProvider::Libc),
            locale: None,
            rules: None,
            tablespace: tablespace.into(),
        }
    }

    fn catalog(old_tablespace: Option<&str>, given_encoding: Option<&str>) -> Catalog {
        Catalog {
            old: old_tablespace.map(|ts| OldDatabase {
                options: CreateOptions::new(),
                owner: "alice".into(),
                tablespace: ts.into(),
                is_template: false,
                comment: None,
                acl: None,
                settings: Vec::new(),
            }),
            templates: vec![
                template("template0", "pg_default"),
                template("template1", "pg_default"),
            ],
            given_encoding: given_encoding.map(str::to_owned),
        }
    }

    fn chosen(mut options: CreateOptions, catalog: &Catalog, version: u32) -> CreateOptions {
        choose_template(&mut options, catalog, version);
        options
    }

    #[test]
    fn template0_only_when_template1_cannot_be_copied() {
        let none = catalog(None, None);
        // What template1 is: copied as create does.
        let same = CreateOptions::new()
            .lc_collate("C.UTF-8")
            .lc_ctype("C.UTF-8");
        assert_eq!(chosen(same.clone(), &none, 150_000).template, None);
        assert_eq!(chosen(CreateOptions::new(), &none, 150_000).template, None);
        // Another spelling of UTF8, as the server names it.
        let spelled = catalog(None, Some("UTF8"));
        let utf8 = CreateOptions::new().encoding("utf-8");
        assert_eq!(chosen(utf8, &spelled, 150_000).template, None);
        // Another encoding, collation, character classes, locale or provider: template0.
        let other = [
            CreateOptions::new().encoding("LATIN1"),
            same.clone().lc_collate("C"),
            same.clone().lc_ctype("C"),
            CreateOptions::new().locale("C.utf8"),
            same.clone().locale_provider(LocaleProvider::Icu),
        ];
        for options in other {
            assert_eq!(
                chosen(options.clone(), &none, 150_000).template.as_deref(),
                Some("template0"),
                "{options:?}"
            );
        }
        // A template given is kept.
        let given = CreateOptions::new().template("t").encoding("LATIN1");
        assert_eq!(chosen(given, &none, 150_000).template.as_deref(), Some("t"));
    }

    #[test]
    fn the_templates_own_tablespace_is_not_named() {
        let in_default = catalog(Some("pg_default"), None);
        let options = CreateOptions::new().tablespace("pg_default");
        assert_eq!(chosen(options, &in_default, 150_000).tablespace, None);
        let elsewhere = catalog(Some("ts"), None);
        let options = CreateOptions::new().tablespace("ts");
        assert_eq!(
            chosen(options, &elsewhere, 150_000).tablespace.as_deref(),
            Some("ts")
        );
    }
}
