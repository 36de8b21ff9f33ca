//! `testdb-fresh` and `testdb-migrate`: what a test pays for a database of its own with the
//! migrations of `benches/migrations/` (50 tables with indexes and foreign keys, 1,000
//! rows), one database per operation.
//!
//! - `testdb-fresh`: [`Template::fresh`] from the template [`Migrations::build_at`] made
//!   (or found) before the timed region, then [`FreshDatabase::remove`]: `CREATE DATABASE
//!   .. TEMPLATE .. STRATEGY FILE_COPY` and `DROP DATABASE .. WITH (FORCE)` on a pooled
//!   session.
//! - `testdb-migrate`: the sqlx way: `CREATE DATABASE`, a new connection to it, each file
//!   as one simple query, close, `DROP DATABASE`.
//!
//! Both run on the blocking API (the testing API is blocking), whatever
//! `PGCLUSTER_BENCH_DRIVER` says. Before the timed region, one database of each kind is
//! made and checked to hold the 50 tables and 1,000 rows (exit 1 otherwise).
//!
//! [`Template::fresh`]: pgcluster::testing::Template::fresh
//! [`FreshDatabase::remove`]: pgcluster::testing::FreshDatabase::remove

use std::path::{Path, PathBuf};
use std::time::Instant;

use pgcluster::blocking::Connection;
use pgcluster::conninfo::{Config, Env};
use pgcluster::testing::Migrations;

use crate::{capacity, Failure, Measured, Region, Res};

/// Tables and rows the migrations make.
const TABLES: &str = "50";
const ROWS: &str = "1000";
/// The template family of the bench.
const FAMILY: &str = "bench";

/// `benches/migrations/`.
fn migrations_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations")
}

/// The migration files in name order, with their contents.
fn migration_files() -> Res<Vec<String>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(migrations_dir())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read_to_string(p).map_err(Failure::from))
        .collect()
}

/// A connection to database `db` of the conninfo's server.
fn connect(conninfo: &str, db: &str) -> Res<Connection> {
    let mut config = Config::parse(conninfo)?;
    config.set("dbname", db)?;
    Ok(Connection::connect(&config.resolve(&Env::from_process())?)?)
}

/// Fails unless the database of `conn` holds the migrations' tables and rows.
fn check(conn: &mut Connection) -> Res<()> {
    let rows: Vec<String> = (1..=50)
        .map(|i| format!("(SELECT count(*) FROM t{i:02})"))
        .collect();
    let sql = format!(
        "SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = 'public'), {}",
        rows.join(" + ")
    );
    let counted = conn.simple_query(&sql)?;
    let row = counted
        .first()
        .and_then(|r| r.rows.first())
        .ok_or_else(|| Failure::Failed("no counts".into()))?;
    let tables = row.first().cloned().flatten();
    let rows = row.get(1).cloned().flatten();
    if tables.as_deref() != Some(TABLES) || rows.as_deref() != Some(ROWS) {
        return Err(Failure::Failed(format!(
            "expected {TABLES} tables and {ROWS} rows, got {tables:?} and {rows:?}"
        )));
    }
    Ok(())
}

/// Runs `testdb-fresh` or `testdb-migrate`; the second value is an extra JSON field.
pub(crate) fn run(wl: &str, n: i64, conninfo: &str) -> Res<(Measured, String)> {
    match wl {
        "testdb-fresh" => fresh(n, conninfo),
        "testdb-migrate" => migrate(n, conninfo),
        other => Err(Failure::Unsupported(format!("unknown workload {other}"))),
    }
}

fn fresh(n: i64, conninfo: &str) -> Res<(Measured, String)> {
    let built = Instant::now();
    let template = Migrations::new(FAMILY)
        .dir(migrations_dir())
        .build_at(conninfo)?;
    let build_ms = built.elapsed().as_secs_f64() * 1e3;
    let probe = template.fresh()?;
    let method = probe.clone_method();
    check(&mut connect(conninfo, probe.name())?)?;
    probe.remove()?;
    let mut ops = Vec::with_capacity(capacity(n));
    let region = Region::start();
    for _ in 0..n {
        let a = Instant::now();
        template.fresh()?.remove()?;
        ops.push(a.elapsed().as_secs_f64());
    }
    let measured = region.stop(ops, 0);
    Ok((
        measured,
        format!(
            ",\"template\":\"{}\",\"built_now\":{},\"build_ms\":{build_ms:.1},\"clone_method\":\"{method}\"",
            template.name(),
            template.built_now()
        ),
    ))
}

fn migrate(n: i64, conninfo: &str) -> Res<(Measured, String)> {
    let files = migration_files()?;
    let db = format!("bench_testdb_pgcluster_{}", std::process::id());
    let mut admin = connect(conninfo, "postgres")?;
    let once = |admin: &mut Connection, verify: bool| -> Res<()> {
        admin.simple_query(&format!("CREATE DATABASE {db}"))?;
        let mut conn = connect(conninfo, &db)?;
        for file in &files {
            conn.simple_query(file)?;
        }
        if verify {
            check(&mut conn)?;
        }
        conn.close();
        admin.simple_query(&format!("DROP DATABASE {db}"))?;
        Ok(())
    };
    once(&mut admin, true)?;
    let mut ops = Vec::with_capacity(capacity(n));
    let region = Region::start();
    for _ in 0..n {
        let a = Instant::now();
        once(&mut admin, false)?;
        ops.push(a.elapsed().as_secs_f64());
    }
    let measured = region.stop(ops, 0);
    admin.close();
    Ok((measured, format!(",\"files\":{}", files.len())))
}
