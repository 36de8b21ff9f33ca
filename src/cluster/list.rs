//! `Cluster::list`: what `pg_database` says about each database.

use crate::error::Error;

/// One database of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DatabaseInfo {
    /// Name.
    pub name: String,
    /// Owning role.
    pub owner: String,
    /// Encoding name, e.g. `UTF8`.
    pub encoding: String,
    /// `LC_COLLATE`.
    pub collate: String,
    /// `LC_CTYPE`.
    pub ctype: String,
    /// Size in bytes; `None` when we may not connect to it or it is invalid.
    pub size: Option<u64>,
    /// Whether it is a template.
    pub is_template: bool,
    /// Whether it accepts connections.
    pub allow_connections: bool,
    /// Connection limit, -1 for none.
    pub connection_limit: i32,
    /// False for a database a failed `DROP DATABASE` left half-dropped (PostgreSQL 15.4+
    /// marks it with connection limit -2).
    pub is_valid: bool,
}

pub(super) const SQL: &str = "SELECT d.datname, pg_catalog.pg_get_userbyid(d.datdba), \
     pg_catalog.pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, \
     CASE WHEN d.datconnlimit <> -2 AND pg_catalog.has_database_privilege(d.oid, 'CONNECT') \
          THEN pg_catalog.pg_database_size(d.oid) END, \
     d.datistemplate, d.datallowconn, d.datconnlimit \
     FROM pg_catalog.pg_database AS d ORDER BY d.datname";

fn bad_row() -> Error {
    Error::Unexpected("pg_database returned a row of an unexpected shape".into())
}

pub(super) fn parse_row(row: &[Option<String>]) -> Result<DatabaseInfo, Error> {
    let [name, owner, encoding, collate, ctype, size, is_template, allow, limit] = row else {
        return Err(bad_row());
    };
    let text = |v: &Option<String>| v.clone().ok_or_else(bad_row);
    let flag = |v: &Option<String>| match v.as_deref() {
        Some("t") => Ok(true),
        Some("f") => Ok(false),
        _ => Err(bad_row()),
    };
    let connection_limit: i32 = limit
        .as_deref()
        .and_then(|v| v.parse().ok())
        .ok_or_else(bad_row)?;
    Ok(DatabaseInfo {
        name: text(name)?,
        owner: text(owner)?,
        encoding: text(encoding)?,
        collate: text(collate)?,
        ctype: text(ctype)?,
        size: size.as_deref().and_then(|v| v.parse().ok()),
        is_template: flag(is_template)?,
        allow_connections: flag(allow)?,
        connection_limit,
        is_valid: connection_limit != -2,
    })
}
