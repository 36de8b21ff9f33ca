//! Which setting the program works with, in the order sqlx-cli and psql look: `--db`, then
//! `$DATABASE_URL`, then `DATABASE_URL` in `./.env`; with none of them, the PG* environment
//! and libpq's defaults (an empty `key=value` string), as psql, createdb and dropdb do.

use pgcluster::blocking::{get_cluster, Cluster};
use pgcluster::conninfo::Config;
use pgcluster::Error;

/// The cluster of `db` (`--db` or `$DATABASE_URL`, as clap read them), else of `./.env`'s
/// `DATABASE_URL`, else of the environment alone.
pub(crate) fn cluster(db: Option<&str>) -> Result<Cluster, Error> {
    let from_file = || {
        let dir = std::env::current_dir().ok()?;
        crate::dotenv::database_url(&dir, |name| std::env::var(name).ok())
    };
    match db.map(str::to_owned).or_else(from_file) {
        Some(setting) => get_cluster(&setting),
        None => Cluster::from_config(Config::default()),
    }
}
