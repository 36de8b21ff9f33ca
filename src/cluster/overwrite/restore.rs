//! The statements that give the new database what `CREATE DATABASE` cannot: the old one's
//! comment, privileges and settings. They run in one transaction on the new database under
//! its temporary name, before the names are swapped.

use std::collections::HashSet;
use std::fmt::Write as _;

use super::catalog::{DatabaseSetting, OldDatabase, Privilege, PrivilegeKind};
use crate::cluster::literal::quote_literal;
use crate::cluster::name::{quote_ident, MAX_NAME_BYTES};
use crate::error::Error;

/// The settings whose value the server keeps as a list of quoted elements
/// (`GUC_LIST_QUOTE`), the list pg_dump's `variable_is_guc_list_quote` knows.
const LIST_QUOTE_SETTINGS: [&str; 6] = [
    "local_preload_libraries",
    "search_path",
    "session_preload_libraries",
    "shared_preload_libraries",
    "temp_tablespaces",
    "unix_socket_directories",
];

/// The statements for database `fresh`, owned by `owner`, to get `old`'s comment,
/// privileges and settings, as one transaction; `None` when there is nothing to do. Where
/// `old`'s owner appears in its privileges, `owner` takes its place (as `ALTER DATABASE
/// OWNER TO` would do).
pub(super) fn sql(fresh: &str, owner: &str, old: &OldDatabase) -> Result<Option<String>, Error> {
    let db = quote_ident(fresh);
    let mut sql = String::new();
    if let Some(comment) = &old.comment {
        let _ = write!(sql, "COMMENT ON DATABASE {db} IS {};", literal(comment)?);
    }
    if let Some(acl) = &old.acl {
        privileges(&mut sql, &db, &old.owner, owner, acl);
    }
    for setting in &old.settings {
        sql.push_str(&setting_sql(&db, setting)?);
    }
    Ok((!sql.is_empty()).then(|| format!("BEGIN;{sql}COMMIT;")))
}

fn literal(value: &str) -> Result<String, Error> {
    quote_literal(value).ok_or_else(|| {
        Error::Unexpected("the database to overwrite has a text holding a NUL byte".into())
    })
}

/// One `datacl` entry: what `grantor` gave `grantee`.
struct Item<'a> {
    grantor: &'a str,
    grantee: Option<&'a str>,
    plain: Vec<PrivilegeKind>,
    grantable: Vec<PrivilegeKind>,
}

/// The grants and revokes that turn the new database's default privileges (the owner's
/// and PUBLIC's `CONNECT` and `TEMPORARY`) into exactly `acl`: every default revoked, then
/// each entry of `acl` granted in its order, by its grantor. A grant by the owner is made
/// directly (a superuser's grant counts as the owner's); one by another role is made as
/// that role (`SET LOCAL ROLE`), once that role holds the grant option it needs.
fn privileges<'a>(
    sql: &mut String,
    db: &str,
    old_owner: &str,
    owner: &'a str,
    acl: &'a [Privilege],
) {
    let owner_ident = quote_ident(owner);
    let _ = write!(
        sql,
        "REVOKE ALL ON DATABASE {db} FROM PUBLIC;REVOKE ALL ON DATABASE {db} FROM {owner_ident};"
    );
    // aclexplode gives one row per privilege, entry after entry: group them back.
    let mut items: Vec<Item<'a>> = Vec::new();
    for p in acl {
        let grantor = mapped(&p.grantor, old_owner, owner);
        let grantee = p.grantee.as_deref().map(|g| mapped(g, old_owner, owner));
        let item = match items.last_mut() {
            Some(last) if last.grantor == grantor && last.grantee == grantee => last,
            _ => {
                items.push(Item {
                    grantor,
                    grantee,
                    plain: Vec::new(),
                    grantable: Vec::new(),
                });
                items.last_mut().expect("just pushed")
            }
        };
        if p.grantable {
            item.grantable.push(p.kind);
        } else {
            item.plain.push(p.kind);
        }
    }
    // Grant options held so far, by role (the owner holds them all implicitly).
    let mut held: HashSet<(&str, PrivilegeKind)> = HashSet::new();
    let mut pending: Vec<&Item<'_>> = items.iter().collect();
    while !pending.is_empty() {
        let before = pending.len();
        let mut waiting = Vec::new();
        for item in pending {
            let ready = item.grantor == owner
                || item
                    .plain
                    .iter()
                    .chain(&item.grantable)
                    .all(|kind| held.contains(&(item.grantor, *kind)));
            if ready {
                grant(sql, db, owner, item);
                if let Some(grantee) = item.grantee {
                    held.extend(item.grantable.iter().map(|kind| (grantee, *kind)));
                }
            } else {
                waiting.push(item);
            }
        }
        if waiting.len() == before {
            // Nobody could have granted these: let the server say why.
            for item in &waiting {
                grant(sql, db, owner, item);
            }
            break;
        }
        pending = waiting;
    }
}

/// `name`, or `owner` if it is `old_owner`.
fn mapped<'a>(name: &'a str, old_owner: &str, owner: &'a str) -> &'a str {
    if name == old_owner {
        owner
    } else {
        name
    }
}

fn grant(sql: &mut String, db: &str, owner: &str, item: &Item<'_>) {
    let grantee = item
        .grantee
        .map_or_else(|| "PUBLIC".to_owned(), quote_ident);
    let as_grantor = item.grantor != owner;
    if as_grantor {
        let _ = write!(sql, "SET LOCAL ROLE {};", quote_ident(item.grantor));
    }
    for (kinds, option) in [(&item.plain, ""), (&item.grantable, " WITH GRANT OPTION")] {
        if kinds.is_empty() {
            continue;
        }
        let list: Vec<&str> = kinds.iter().map(|k| k.keyword()).collect();
        let _ = write!(
            sql,
            "GRANT {} ON DATABASE {db} TO {grantee}{option};",
            list.join(", ")
        );
    }
    if as_grantor {
        sql.push_str("RESET ROLE;");
    }
}

/// `ALTER DATABASE ... SET` (or `ALTER ROLE ... IN DATABASE ... SET`) for one
/// `setconfig` entry, re-emitted as pg_dump's `makeAlterConfigCommand` does: the value as a
/// string literal, or for a list setting each element as one.
fn setting_sql(db: &str, setting: &DatabaseSetting) -> Result<String, Error> {
    let unusable = || {
        Error::Unexpected(format!(
            "the database to overwrite has a setting this program cannot copy: {:?}",
            setting.entry
        ))
    };
    let (name, value) = setting.entry.split_once('=').ok_or_else(unusable)?;
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(unusable());
    }
    let value = if LIST_QUOTE_SETTINGS
        .iter()
        .any(|s| s.eq_ignore_ascii_case(name))
    {
        let elements = split_guc_list(value).ok_or_else(unusable)?;
        if elements.is_empty() {
            "''".to_owned()
        } else {
            elements
                .iter()
                .map(|e| literal(e))
                .collect::<Result<Vec<_>, _>>()?
                .join(", ")
        }
    } else {
        literal(value)?
    };
    let target = match &setting.role {
        Some(role) => format!("ROLE {} IN DATABASE {db}", quote_ident(role)),
        None => format!("DATABASE {db}"),
    };
    Ok(format!(
        "ALTER {target} SET {} TO {value};",
        quote_ident(name)
    ))
}

/// The elements of a list setting's value as the server keeps it, split as pg_dump's
/// `SplitGUCList` does: separated by commas, each either `"quoted"` (`""` inside meaning
/// `"`) or bare up to a comma or white space, which is kept as it is (not down-cased).
/// `None` if it does not parse.
fn split_guc_list(raw: &str) -> Option<Vec<String>> {
    let is_space = |c: char| c.is_ascii_whitespace();
    let mut rest = raw.trim_start_matches(is_space);
    let mut out = Vec::new();
    if rest.is_empty() {
        return Some(out);
    }
    loop {
        let element;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                let (i, c) = chars.next()?;
                if c == '"' {
                    if quoted[i + 1..].starts_with('"') {
                        value.push('"');
                        chars.next();
                    } else {
                        break i + 1;
                    }
                } else {
                    value.push(c);
                }
            };
            element = value;
            rest = &quoted[end..];
        } else {
            let end = rest
                .find(|c: char| c == ',' || is_space(c))
                .unwrap_or(rest.len());
            if end == 0 {
                return None;
            }
            element = rest[..end].to_owned();
            rest = &rest[end..];
        }
        out.push(element);
        rest = rest.trim_start_matches(is_space);
        if let Some(next) = rest.strip_prefix(',') {
            rest = next.trim_start_matches(is_space);
        } else if rest.is_empty() {
            return Some(out);
        } else {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::options::CreateOptions;

    #[test]
    fn list_settings_split_as_pg_dump_does() {
        assert_eq!(
            split_guc_list(r#""$user", public, x"#),
            Some(vec!["$user".into(), "public".into(), "x".into()])
        );
        assert_eq!(
            split_guc_list(r#"  "A b", "", "y""z",Mixed"#),
            Some(vec![
                "A b".into(),
                String::new(),
                "y\"z".into(),
                "Mixed".into()
            ])
        );
        assert_eq!(split_guc_list("  "), Some(Vec::new()));
        assert_eq!(split_guc_list(r#""open"#), None);
        assert_eq!(split_guc_list("a,,b"), None);
        assert_eq!(split_guc_list("a b"), None);
        assert_eq!(split_guc_list("a,"), None);
    }

    fn setting(role: Option<&str>, entry: &str) -> DatabaseSetting {
        DatabaseSetting {
            role: role.map(str::to_owned),
            entry: entry.to_owned(),
        }
    }

    #[test]
    fn settings_are_re_emitted_as_literals() {
        assert_eq!(
            setting_sql("\"d\"", &setting(None, r#"search_path="$user", public, x"#)).unwrap(),
            r#"ALTER DATABASE "d" SET "search_path" TO '$user', 'public', 'x';"#
        );
        assert_eq!(
            setting_sql("\"d\"", &setting(Some("b\"ob"), "work_mem=16MB")).unwrap(),
            r#"ALTER ROLE "b""ob" IN DATABASE "d" SET "work_mem" TO '16MB';"#
        );
        assert_eq!(
            setting_sql("\"d\"", &setting(None, r"myapp.Foo=a'b\c=d")).unwrap(),
            r#"ALTER DATABASE "d" SET "myapp.Foo" TO E'a''b\\c=d';"#
        );
        assert_eq!(
            setting_sql("\"d\"", &setting(None, "DateStyle=ISO, MDY")).unwrap(),
            r#"ALTER DATABASE "d" SET "DateStyle" TO 'ISO, MDY';"#
        );
        assert!(setting_sql("\"d\"", &setting(None, "no equals sign")).is_err());
        assert!(setting_sql("\"d\"", &setting(None, "search_path=\"open")).is_err());
    }

    fn privilege(grantor: &str, grantee: Option<&str>, kind: PrivilegeKind, g: bool) -> Privilege {
        Privilege {
            grantor: grantor.into(),
            grantee: grantee.map(str::to_owned),
            kind,
            grantable: g,
        }
    }

    fn old(acl: Option<Vec<Privilege>>) -> OldDatabase {
        OldDatabase {
            options: CreateOptions::new(),
            owner: "alice".into(),
            tablespace: "pg_default".into(),
            is_template: false,
            comment: None,
            acl,
            settings: Vec::new(),
        }
    }

    #[test]
    fn privileges_are_rebuilt_exactly() {
        use PrivilegeKind::{Connect, Create, Temporary};
        // {=T/alice,alice=CTc/alice,carol=c/bob,bob=C*c*/alice}: bob's grant waits for
        // the grant option he needs.
        let acl = vec![
            privilege("alice", None, Temporary, false),
            privilege("alice", Some("alice"), Create, false),
            privilege("alice", Some("alice"), Temporary, false),
            privilege("alice", Some("alice"), Connect, false),
            privilege("bob", Some("carol"), Connect, false),
            privilege("alice", Some("bob"), Create, true),
            privilege("alice", Some("bob"), Connect, true),
        ];
        assert_eq!(
            sql("new", "alice", &old(Some(acl.clone()))).unwrap().unwrap(),
            "BEGIN;\
             REVOKE ALL ON DATABASE \"new\" FROM PUBLIC;REVOKE ALL ON DATABASE \"new\" FROM \"alice\";\
             GRANT TEMPORARY ON DATABASE \"new\" TO PUBLIC;\
             GRANT CREATE, TEMPORARY, CONNECT ON DATABASE \"new\" TO \"alice\";\
             GRANT CREATE, CONNECT ON DATABASE \"new\" TO \"bob\" WITH GRANT OPTION;\
             SET LOCAL ROLE \"bob\";GRANT CONNECT ON DATABASE \"new\" TO \"carol\";RESET ROLE;\
             COMMIT;"
        );
        // A new owner takes the old one's place.
        let moved = sql("new", "dave", &old(Some(acl))).unwrap().unwrap();
        assert!(moved.contains("FROM \"dave\";GRANT TEMPORARY ON DATABASE \"new\" TO PUBLIC;"));
        assert!(moved.contains("GRANT CREATE, TEMPORARY, CONNECT ON DATABASE \"new\" TO \"dave\";"));
        assert!(!moved.contains("alice"), "{moved}");
        // An empty datacl: every default revoked, nothing granted. A NULL one: nothing.
        assert_eq!(
            sql("new", "alice", &old(Some(Vec::new()))).unwrap().unwrap(),
            "BEGIN;REVOKE ALL ON DATABASE \"new\" FROM PUBLIC;REVOKE ALL ON DATABASE \"new\" FROM \"alice\";COMMIT;"
        );
        assert_eq!(sql("new", "alice", &old(None)).unwrap(), None);
    }

    #[test]
    fn comments_are_literals() {
        let mut db = old(None);
        db.comment = Some(r"it's a \ back".into());
        assert_eq!(
            sql("n", "alice", &db).unwrap().unwrap(),
            r#"BEGIN;COMMENT ON DATABASE "n" IS E'it''s a \\ back';COMMIT;"#
        );
    }
}
