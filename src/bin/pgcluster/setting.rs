//! Which setting the program works with, in the order sqlx-cli and psql look: `--db`, then
//! `$DATABASE_URL`, then `DATABASE_URL` in `./.env`; with none of them, the PG* environment
//! and libpq's defaults (an empty `key=value` string), as psql, createdb and dropdb do.
//!
//! And where maintenance goes past a pooler: `--maintenance-db` (or
//! `$PGCLUSTER_MAINTENANCE_URL`, which clap reads), else — only when the setting is
//! `DATABASE_URL`'s, not one given with `--db` — `$DATABASE_URL_UNPOOLED`, then
//! `DATABASE_URL_UNPOOLED` in `./.env` (the direct URL hosted PostgreSQL vendors give
//! beside a pooled `DATABASE_URL`). With none, everything goes where the setting says.

use pgcluster::blocking::{get_cluster, Cluster};
use pgcluster::conninfo::Config;
use pgcluster::Error;

/// The vendors' direct URL beside a pooled `DATABASE_URL`.
const UNPOOLED: &str = "DATABASE_URL_UNPOOLED";

/// The cluster of `db` (`--db` or `$DATABASE_URL`, as clap read them), else of `./.env`'s
/// `DATABASE_URL`, else of the environment alone; its maintenance setting `maintenance`
/// (`--maintenance-db` or `$PGCLUSTER_MAINTENANCE_URL`), else `DATABASE_URL_UNPOOLED` when
/// the setting is `DATABASE_URL`'s.
pub(crate) fn cluster(db: Option<&str>, maintenance: Option<&str>) -> Result<Cluster, Error> {
    let (cluster, database_urls) = setting(db)?;
    let maintenance = match maintenance.filter(|m| !m.is_empty()) {
        Some(given) => Some(given.to_owned()),
        None if database_urls => env(UNPOOLED).or_else(|| from_file(UNPOOLED)),
        None => None,
    };
    match maintenance {
        Some(setting) => cluster.with_maintenance(&setting),
        None => Ok(cluster),
    }
}

/// [`cluster`] with no maintenance setting: everything goes where the setting says.
pub(crate) fn cluster_alone(db: Option<&str>) -> Result<Cluster, Error> {
    setting(db).map(|(cluster, _)| cluster)
}

/// A non-empty environment variable.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `key` in `./.env`.
fn from_file(key: &str) -> Option<String> {
    let dir = std::env::current_dir().ok()?;
    crate::dotenv::variable(&dir, key, |name| std::env::var(name).ok())
}

/// The cluster of the setting (see [`cluster`]), and whether the setting is
/// `DATABASE_URL`'s.
fn setting(db: Option<&str>) -> Result<(Cluster, bool), Error> {
    // `--db` on the command line is another setting than `DATABASE_URL`'s, and so is the
    // PG* environment alone: `DATABASE_URL_UNPOOLED` would point elsewhere.
    let (setting, database_urls) = match db {
        Some(db) => (
            Some(db.to_owned()),
            Some(db) == std::env::var("DATABASE_URL").ok().as_deref(),
        ),
        None => {
            let from_file = from_file("DATABASE_URL");
            let found = from_file.is_some();
            (from_file, found)
        }
    };
    let cluster = match setting {
        Some(setting) => get_cluster(&setting)?,
        None => Cluster::from_config(Config::default())?,
    };
    Ok((cluster, database_urls))
}
