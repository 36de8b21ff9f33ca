//! `testdb-fresh` and `testdb-migrate`: what a test pays for a database of its own with the
//! migrations of `benches/migrations/` (50 tables with indexes and foreign keys, 1,000
//! rows), one database per operation; and `testserver-cached` / `testserver-initdb`: what a
//! throwaway server's start costs with the `initdb` cache and without.
//!
//! - `testdb-fresh`: one operation is [`Template::fresh`] (what a test waits for before it
//!   can start), from the template [`Migrations::build_at`] (or, on a throwaway server,
//!   [`Migrations::build`], with its clones made ahead) made or found before the timed
//!   region; then [`FreshDatabase::remove`], timed apart (`remove_med_us`). With
//!   `PGCLUSTER_BENCH_TESTDB_PAUSE_MS` set, each operation is followed by that pause (a
//!   test's own work), during which the clones made ahead are made again.
//! - `testdb-migrate`: the sqlx way: `CREATE DATABASE`, a new connection to it, each file
//!   as one simple query, close, `DROP DATABASE`; `ready_med_us` is the part before the
//!   drop (to set beside `testdb-fresh`'s operation).
//! - `testserver-cached` / `testserver-initdb`: one operation is `TestServer::builder()
//!   .start()` (with [`no_initdb_cache`] for the second); the drop is not timed.
//!
//! CONNINFO `throwaway` (or `throwaway=BIN`, the server programs in `BIN`) starts a
//! throwaway server for the run (the `testserver-*` workloads need it).
//!
//! All run on the blocking API (the testing API is blocking), whatever
//! `PGCLUSTER_BENCH_DRIVER` says. Before the timed region, one database of each kind is
//! made and checked to hold the 50 tables and 1,000 rows (exit 1 otherwise).
//!
//! [`no_initdb_cache`]: pgcluster::testing::Builder::no_initdb_cache
//! [`Template::fresh`]: pgcluster::testing::Template::fresh
//! [`FreshDatabase::remove`]: pgcluster::testing::FreshDatabase::remove

use std::path::{Path, PathBuf};
use std::time::Instant;

use pgcluster::blocking::Connection;
use pgcluster::conninfo::{Config, Env};
use pgcluster::testing::{Migrations, TestServer};

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

/// The conninfo that asks for a throwaway server of pgcluster's own (`throwaway`, or
/// `throwaway=BIN` for the server programs in `BIN`), started for the run and dropped
/// after it.
const THROWAWAY: &str = "throwaway";

/// Runs `testdb-fresh`, `testdb-migrate`, `testserver-cached` or `testserver-initdb`; the
/// second value is extra JSON fields.
pub(crate) fn run(wl: &str, n: i64, conninfo: &str) -> Res<(Measured, String)> {
    let bin = throwaway_bin(conninfo);
    if wl.starts_with("testserver") {
        let Some(bin) = bin else {
            return Err(Failure::Unsupported(format!(
                "{wl} starts servers of its own: give {THROWAWAY} or {THROWAWAY}=BIN"
            )));
        };
        return starts(n, wl == "testserver-cached", bin);
    }
    // Kept until the run is over: dropping it stops the server.
    let server = match bin {
        Some(bin) => Some(start(bin)?),
        None => None,
    };
    let conninfo = match &server {
        Some(server) => server.libpq_uri("postgres", "postgres"),
        None => conninfo.to_owned(),
    };
    let (measured, mut extra) = match wl {
        "testdb-fresh" => fresh(n, &conninfo, server.as_ref())?,
        "testdb-migrate" => migrate(n, &conninfo)?,
        other => return Err(Failure::Unsupported(format!("unknown workload {other}"))),
    };
    if let Some(server) = &server {
        let version = server
            .psql("SHOW server_version")
            .map_err(|e| Failure::Failed(e.to_string()))?;
        extra.push_str(&format!(
            ",\"server\":\"throwaway {}\",\"data_dir\":\"{}\"",
            version.trim(),
            server.data_dir().display()
        ));
    }
    Ok((measured, extra))
}

/// `Some(bin dir)` (`None` inside: found as the testing module does) for a throwaway
/// conninfo, `None` for any other.
fn throwaway_bin(conninfo: &str) -> Option<Option<PathBuf>> {
    if conninfo == THROWAWAY {
        return Some(None);
    }
    let bin = conninfo.strip_prefix(THROWAWAY)?.strip_prefix('=')?;
    Some(Some(PathBuf::from(bin)))
}

/// A throwaway server of the programs in `bin` (or those the testing module finds).
fn start(bin: Option<PathBuf>) -> Res<TestServer> {
    let mut builder = TestServer::builder();
    if let Some(bin) = bin {
        builder = builder.bin_dir(bin);
    }
    builder.start().map_err(|e| Failure::Failed(e.to_string()))
}

/// `testserver-cached` / `testserver-initdb`: N throwaway servers started (the `initdb`
/// cache used, or not) and dropped; one operation is a start (the drop is not timed).
fn starts(n: i64, cached: bool, bin: Option<PathBuf>) -> Res<(Measured, String)> {
    let builder = |bin: &Option<PathBuf>| {
        let mut builder = TestServer::builder();
        if let Some(bin) = bin {
            builder = builder.bin_dir(bin);
        }
        if cached {
            builder
        } else {
            builder.no_initdb_cache()
        }
    };
    // The cache entry is made before the timed region (a miss is timed by neither).
    let probe = builder(&bin)
        .start()
        .map_err(|e| Failure::Failed(e.to_string()))?;
    let init = probe.init();
    drop(probe);
    let mut ops = Vec::with_capacity(capacity(n));
    let mut untimed = std::time::Duration::ZERO;
    let region = Region::start();
    for _ in 0..n {
        let a = Instant::now();
        let server = builder(&bin)
            .start()
            .map_err(|e| Failure::Failed(e.to_string()))?;
        ops.push(a.elapsed().as_secs_f64());
        let b = Instant::now();
        drop(server);
        untimed += b.elapsed();
    }
    let measured = region.stop(ops, 0);
    Ok((
        measured,
        format!(
            ",\"init\":\"{init:?}\",\"drop_ms_total\":{:.1}",
            untimed.as_secs_f64() * 1e3
        ),
    ))
}

/// `PGCLUSTER_BENCH_TESTDB_PAUSE_MS`: a pause after each of `testdb-fresh`'s operations
/// (in the timed region, not in an operation), standing for a test's own work, during
/// which clones made ahead are made again. Default 0: back to back.
fn pause() -> std::time::Duration {
    let ms = std::env::var("PGCLUSTER_BENCH_TESTDB_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    std::time::Duration::from_millis(ms)
}

/// The median of `values` (seconds), in microseconds.
fn median_us(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).map_or(0.0, |v| v * 1e6)
}

fn fresh(n: i64, conninfo: &str, server: Option<&TestServer>) -> Res<(Measured, String)> {
    let built = Instant::now();
    let migrations = Migrations::new(FAMILY).dir(migrations_dir());
    let template = match server {
        Some(server) => migrations.build(server)?,
        None => migrations.build_at(conninfo)?,
    };
    let build_ms = built.elapsed().as_secs_f64() * 1e3;
    let probe = template.fresh()?;
    let method = probe.clone_method();
    check(&mut connect(conninfo, probe.name())?)?;
    probe.remove()?;
    let pause = pause();
    let mut ops = Vec::with_capacity(capacity(n));
    let mut removes = Vec::with_capacity(capacity(n));
    let region = Region::start();
    for _ in 0..n {
        let a = Instant::now();
        let db = template.fresh()?;
        ops.push(a.elapsed().as_secs_f64());
        let b = Instant::now();
        db.remove()?;
        removes.push(b.elapsed().as_secs_f64());
        std::thread::sleep(pause);
    }
    let measured = region.stop(ops, 0);
    Ok((
        measured,
        format!(
            ",\"pause_ms\":{},\"remove_med_us\":{:.1},\"template\":\"{}\",\"built_now\":{},\"build_ms\":{build_ms:.1},\"clone_method\":\"{method}\"",
            pause.as_millis(),
            median_us(&mut removes),
            template.name(),
            template.built_now()
        ),
    ))
}

fn migrate(n: i64, conninfo: &str) -> Res<(Measured, String)> {
    let files = migration_files()?;
    let db = format!("bench_testdb_pgcluster_{}", std::process::id());
    let mut admin = connect(conninfo, "postgres")?;
    // The time until the database is ready for a test (made and migrated).
    let once = |admin: &mut Connection, verify: bool| -> Res<f64> {
        let a = Instant::now();
        admin.simple_query(&format!("CREATE DATABASE {db}"))?;
        let mut conn = connect(conninfo, &db)?;
        for file in &files {
            conn.simple_query(file)?;
        }
        let ready = a.elapsed().as_secs_f64();
        if verify {
            check(&mut conn)?;
        }
        conn.close();
        admin.simple_query(&format!("DROP DATABASE {db}"))?;
        Ok(ready)
    };
    once(&mut admin, true)?;
    let mut ops = Vec::with_capacity(capacity(n));
    let mut readies = Vec::with_capacity(capacity(n));
    let region = Region::start();
    for _ in 0..n {
        let a = Instant::now();
        readies.push(once(&mut admin, false)?);
        ops.push(a.elapsed().as_secs_f64());
    }
    let measured = region.stop(ops, 0);
    admin.close();
    Ok((
        measured,
        format!(
            ",\"ready_med_us\":{:.1},\"files\":{}",
            median_us(&mut readies),
            files.len()
        ),
    ))
}
