//! What a database is, read from the catalogs in one read-only query before `overwrite`
//! replaces it: its `CREATE DATABASE` options, comment, privileges and settings, and what
//! the templates it could be made from are.
//!
//! The query names only the columns the server has: `datlocprovider` and `daticulocale`
//! from PostgreSQL 15, `daticurules` from 16, and from 17 `datlocale`, which replaces
//! `daticulocale` (and also holds the builtin provider's locale).

use crate::cluster::options::{CreateOptions, LocaleProvider};
use crate::connection::QueryResult;
use crate::error::Error;

/// What the catalogs say, for one `overwrite`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Catalog {
    /// The database to replace, if it exists.
    pub(super) old: Option<OldDatabase>,
    /// `template1`, `template0` and the template asked for, those that exist.
    pub(super) templates: Vec<Template>,
    /// The server's own name for the encoding given anew (`pg_encoding_to_char`), empty if
    /// the server knows no such encoding; `None` when none was given.
    pub(super) given_encoding: Option<String>,
}

/// The database `overwrite` replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OldDatabase {
    /// What `CREATE DATABASE` can set, each property that differs from `CREATE DATABASE`'s
    /// own default given: owner, encoding, collation, character classes, locale provider,
    /// ICU or builtin locale, ICU rules, tablespace, template flag, connections allowed,
    /// connection limit.
    pub(super) options: CreateOptions,
    /// Its owner (also in `options`).
    pub(super) owner: String,
    /// Its tablespace (also in `options`).
    pub(super) tablespace: String,
    /// Whether it is a template (it must stop being one before it can be dropped).
    pub(super) is_template: bool,
    /// Its comment (`pg_shdescription`).
    pub(super) comment: Option<String>,
    /// Its privileges, one entry per privilege in `datacl` order (`aclexplode`); `None` for
    /// a NULL `datacl` (the built-in defaults).
    pub(super) acl: Option<Vec<Privilege>>,
    /// Its settings (`pg_db_role_setting`): for every role first, then per role.
    pub(super) settings: Vec<DatabaseSetting>,
}

/// One privilege of `datacl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Privilege {
    /// The role that granted it.
    pub(super) grantor: String,
    /// The role it is granted to; `None` for `PUBLIC`.
    pub(super) grantee: Option<String>,
    /// What is granted.
    pub(super) kind: PrivilegeKind,
    /// Whether it is held `WITH GRANT OPTION`.
    pub(super) grantable: bool,
}

/// The privileges a database has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum PrivilegeKind {
    Create,
    Temporary,
    Connect,
}

impl PrivilegeKind {
    fn from_catalog(name: &str) -> Option<Self> {
        match name {
            "CREATE" => Some(Self::Create),
            "TEMPORARY" => Some(Self::Temporary),
            "CONNECT" => Some(Self::Connect),
            _ => None,
        }
    }

    /// The keyword in `GRANT`.
    pub(super) fn keyword(self) -> &'static str {
        match self {
            Self::Create => "CREATE",
            Self::Temporary => "TEMPORARY",
            Self::Connect => "CONNECT",
        }
    }
}

/// One entry of `pg_db_role_setting.setconfig` for the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DatabaseSetting {
    /// The role it applies to (`ALTER ROLE r IN DATABASE d SET`); `None` for every role
    /// (`ALTER DATABASE d SET`).
    pub(super) role: Option<String>,
    /// `name=value`, as the server keeps it.
    pub(super) entry: String,
}

/// What a template database is, as `CREATE DATABASE` compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Template {
    pub(super) name: String,
    pub(super) encoding: String,
    pub(super) collate: String,
    pub(super) ctype: String,
    /// `None` before PostgreSQL 15.
    pub(super) provider: Option<LocaleProvider>,
    /// The ICU (15+) or builtin (17+) locale.
    pub(super) locale: Option<String>,
    /// ICU rules (16+).
    pub(super) rules: Option<String>,
    pub(super) tablespace: String,
}

/// The columns, by server version: the locale provider, its locale and the ICU rules, as
/// `text`, NULL where the server has no such column.
fn locale_columns(alias: &str, server_version_num: u32) -> String {
    let provider = if server_version_num >= 150_000 {
        format!("{alias}.datlocprovider::text")
    } else {
        "NULL::text".to_owned()
    };
    let locale = if server_version_num >= 170_000 {
        format!("{alias}.datlocale::text")
    } else if server_version_num >= 150_000 {
        format!("{alias}.daticulocale::text")
    } else {
        "NULL::text".to_owned()
    };
    let rules = if server_version_num >= 160_000 {
        format!("{alias}.daticurules::text")
    } else {
        "NULL::text".to_owned()
    };
    format!("{provider}, {locale}, {rules}")
}

/// The query, for a server of version `server_version_num`. Parameters: `$1` the database,
/// `$2` the encoding given anew (or NULL), `$3` the template given (or NULL). Every row is
/// `kind, sub, ord` and 14 `text` columns, sorted by the first three:
/// - `d`: the database (oid, owner, encoding, collate, ctype, provider, locale, rules,
///   connection limit, tablespace, is template, allows connections, `datacl IS NULL`,
///   comment);
/// - `p`: one privilege (grantor, grantee or NULL for PUBLIC, privilege, grantable), in
///   `datacl` order;
/// - `s`: one setting (role or NULL, `name=value`), by role then in `setconfig` order;
/// - `t`: a template (name, encoding, collate, ctype, provider, locale, rules, tablespace);
/// - `u`: the server's name for encoding `$2`.
pub(super) fn sql(server_version_num: u32) -> String {
    let d_locale = locale_columns("d", server_version_num);
    let t_locale = locale_columns("t", server_version_num);
    format!(
        "WITH target AS (SELECT d.* FROM pg_catalog.pg_database AS d \
                         WHERE d.datname::text = $1::text) \
         SELECT 'd'::text AS kind, 0::int8 AS sub, 0::int8 AS ord, d.oid::text, \
                pg_catalog.pg_get_userbyid(d.datdba)::text, \
                pg_catalog.pg_encoding_to_char(d.encoding)::text, d.datcollate::text, \
                d.datctype::text, {d_locale}, d.datconnlimit::text, s.spcname::text, \
                d.datistemplate::text, d.datallowconn::text, (d.datacl IS NULL)::text, \
                pg_catalog.shobj_description(d.oid, 'pg_database')::text \
           FROM target AS d JOIN pg_catalog.pg_tablespace AS s ON s.oid = d.dattablespace \
         UNION ALL \
         SELECT 'p', 0, a.ord, pg_catalog.pg_get_userbyid(a.grantor)::text, \
                CASE WHEN a.grantee = 0 THEN NULL \
                     ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END, \
                a.privilege_type::text, a.is_grantable::text, \
                NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL \
           FROM target AS d, \
                pg_catalog.aclexplode(d.datacl) WITH ORDINALITY \
                  AS a(grantor, grantee, privilege_type, is_grantable, ord) \
         UNION ALL \
         SELECT 's', r.setrole::oid::int8, c.ord, \
                CASE WHEN r.setrole = 0 THEN NULL \
                     ELSE pg_catalog.pg_get_userbyid(r.setrole)::text END, \
                c.entry, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL \
           FROM target AS d \
           JOIN pg_catalog.pg_db_role_setting AS r ON r.setdatabase = d.oid, \
                pg_catalog.unnest(r.setconfig) WITH ORDINALITY AS c(entry, ord) \
         UNION ALL \
         SELECT 't', 0, 0, t.datname::text, pg_catalog.pg_encoding_to_char(t.encoding)::text, \
                t.datcollate::text, t.datctype::text, {t_locale}, s.spcname::text, \
                NULL, NULL, NULL, NULL, NULL, NULL \
           FROM pg_catalog.pg_database AS t \
           JOIN pg_catalog.pg_tablespace AS s ON s.oid = t.dattablespace \
          WHERE t.datname::text IN ('template1', 'template0') \
             OR t.datname::text = $3::text \
         UNION ALL \
         SELECT 'u', 0, 0, \
                pg_catalog.pg_encoding_to_char(pg_catalog.pg_char_to_encoding($2::text))::text, \
                NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL \
          WHERE $2::text IS NOT NULL \
         ORDER BY 1, 2, 3"
    )
}

fn bad_row() -> Error {
    Error::Unexpected(
        "the catalogs returned a row of an unexpected shape for the database to overwrite".into(),
    )
}

fn text(value: &Option<String>) -> Result<String, Error> {
    value.clone().ok_or_else(bad_row)
}

fn flag(value: &Option<String>) -> Result<bool, Error> {
    match value.as_deref() {
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        _ => Err(bad_row()),
    }
}

fn provider(value: &Option<String>) -> Result<Option<LocaleProvider>, Error> {
    value
        .as_deref()
        .map(|code| LocaleProvider::from_catalog(code).ok_or_else(bad_row))
        .transpose()
}

/// Reads the query's result.
pub(super) fn parse(result: &QueryResult) -> Result<Catalog, Error> {
    let mut catalog = Catalog {
        old: None,
        templates: Vec::new(),
        given_encoding: None,
    };
    let mut acl = Vec::new();
    let mut settings = Vec::new();
    for row in &result.rows {
        let [kind, _sub, _ord, c @ ..] = row.as_slice() else {
            return Err(bad_row());
        };
        let [c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14] = c else {
            return Err(bad_row());
        };
        match kind.as_deref() {
            Some("d") if catalog.old.is_none() => {
                catalog.old = Some(old_database([
                    c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14,
                ])?);
            }
            Some("p") => acl.push(Privilege {
                grantor: text(c1)?,
                grantee: c2.clone(),
                kind: c3
                    .as_deref()
                    .and_then(PrivilegeKind::from_catalog)
                    .ok_or_else(|| {
                        Error::Unexpected(format!(
                            "the database to overwrite has a privilege this program does not \
                             know: {:?}",
                            c3.as_deref().unwrap_or_default()
                        ))
                    })?,
                grantable: flag(c4)?,
            }),
            Some("s") => settings.push(DatabaseSetting {
                role: c1.clone(),
                entry: text(c2)?,
            }),
            Some("t") => catalog.templates.push(Template {
                name: text(c1)?,
                encoding: text(c2)?,
                collate: text(c3)?,
                ctype: text(c4)?,
                provider: provider(c5)?,
                locale: c6.clone(),
                rules: c7.clone(),
                tablespace: text(c8)?,
            }),
            Some("u") => catalog.given_encoding = Some(text(c1)?),
            _ => return Err(bad_row()),
        }
    }
    if let Some(old) = &mut catalog.old {
        if old.acl.is_some() {
            old.acl = Some(acl);
        } else if !acl.is_empty() {
            return Err(bad_row());
        }
        old.settings = settings;
    } else if !acl.is_empty() || !settings.is_empty() {
        return Err(bad_row());
    }
    Ok(catalog)
}

/// The `d` row.
fn old_database(c: [&Option<String>; 14]) -> Result<OldDatabase, Error> {
    let [_oid, owner, encoding, collate, ctype, provider_code, locale, rules, limit, tablespace, is_template, allow, acl_null, comment] =
        c;
    let owner = text(owner)?;
    let tablespace = text(tablespace)?;
    let is_template = flag(is_template)?;
    let provider = provider(provider_code)?;
    let limit: i32 = limit
        .as_deref()
        .and_then(|v| v.parse().ok())
        .ok_or_else(bad_row)?;
    let mut options = CreateOptions::new()
        .owner(&owner)
        .encoding(&text(encoding)?)
        .lc_collate(&text(collate)?)
        .lc_ctype(&text(ctype)?)
        .tablespace(&tablespace);
    if let Some(provider) = provider {
        options = options.locale_provider(provider);
        match (provider, locale) {
            (LocaleProvider::Icu, Some(locale)) => options = options.icu_locale(locale),
            (LocaleProvider::Builtin, Some(locale)) => options = options.builtin_locale(locale),
            _ => {}
        }
        if let (LocaleProvider::Icu, Some(rules)) = (provider, rules) {
            options = options.icu_rules(rules);
        }
    }
    if is_template {
        options = options.is_template(true);
    }
    if !flag(allow)? {
        options = options.allow_connections(false);
    }
    // -1 is no limit, the default; -2 marks a database a failed DROP left invalid, which
    // CREATE DATABASE does not take.
    if limit >= 0 {
        options = options.connection_limit(limit);
    }
    Ok(OldDatabase {
        options,
        owner,
        tablespace,
        is_template,
        comment: comment.clone(),
        acl: if flag(acl_null)? {
            None
        } else {
            Some(Vec::new())
        },
        settings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_follow_the_server_version() {
        let v14 = sql(140_011);
        assert!(!v14.contains("datlocprovider") && !v14.contains("daticu"));
        assert!(!v14.contains("datlocale"));
        let v15 = sql(150_018);
        assert!(v15.contains("d.datlocprovider::text, d.daticulocale::text, NULL::text"));
        assert!(!v15.contains("daticurules") && !v15.contains("datlocale"));
        let v16 = sql(160_004);
        assert!(v16.contains("d.datlocprovider::text, d.daticulocale::text, d.daticurules::text"));
        for v in [170_000, 180_001] {
            let s = sql(v);
            assert!(s.contains("t.datlocprovider::text, t.datlocale::text, t.daticurules::text"));
            assert!(!s.contains("daticulocale"));
        }
    }

    fn row(values: &[Option<&str>]) -> Vec<Option<String>> {
        values.iter().map(|v| v.map(str::to_owned)).collect()
    }

    #[test]
    fn rows_are_read_into_options() {
        let mut d = vec![
            Some("d"),
            Some("0"),
            Some("0"),
            Some("16384"),
            Some("alice"),
        ];
        d.extend([
            Some("LATIN1"),
            Some("C"),
            Some("C"),
            Some("i"),
            Some("und"),
            None,
        ]);
        d.extend([
            Some("5"),
            Some("ts1"),
            Some("true"),
            Some("false"),
            Some("false"),
        ]);
        d.push(Some("it's"));
        let mut p = vec![Some("p"), Some("0"), Some("1"), Some("alice"), None];
        p.extend([Some("TEMPORARY"), Some("false")]);
        p.extend([None; 10]);
        let mut s = vec![Some("s"), Some("0"), Some("1"), None, Some("work_mem=8MB")];
        s.extend([None; 12]);
        let result = QueryResult {
            columns: Vec::new(),
            rows: vec![row(&d), row(&p), row(&s)],
            tag: String::new(),
        };
        let catalog = parse(&result).unwrap();
        let old = catalog.old.unwrap();
        assert_eq!(
            old.options,
            CreateOptions::new()
                .owner("alice")
                .encoding("LATIN1")
                .lc_collate("C")
                .lc_ctype("C")
                .tablespace("ts1")
                .locale_provider(LocaleProvider::Icu)
                .icu_locale("und")
                .is_template(true)
                .allow_connections(false)
                .connection_limit(5)
        );
        assert_eq!(old.comment.as_deref(), Some("it's"));
        assert_eq!(
            old.acl,
            Some(vec![Privilege {
                grantor: "alice".into(),
                grantee: None,
                kind: PrivilegeKind::Temporary,
                grantable: false
            }])
        );
        assert_eq!(old.settings[0].entry, "work_mem=8MB");
        // A privilege without a database, or an unknown one, is refused.
        let lone = QueryResult {
            columns: Vec::new(),
            rows: vec![row(&p)],
            tag: String::new(),
        };
        assert!(parse(&lone).is_err());
        p[5] = Some("SUPERPOWER");
        let odd = QueryResult {
            columns: Vec::new(),
            rows: vec![row(&d), row(&p)],
            tag: String::new(),
        };
        assert!(parse(&odd).is_err());
    }
}
