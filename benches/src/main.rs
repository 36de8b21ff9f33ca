//! pgcluster-bench: pgcluster's column in the client benchmark of `../shared/bench/`.
//!
//! ```text
//! pgcluster-bench WORKLOAD N 'CONNINFO'
//! ```
//!
//! The harness's contract (`../shared/bench/README.md`, "The client contract"): one JSON line
//! on stdout; the timed region is the workload loop only; `user_s`/`sys_s` are the process's
//! CPU over that region; exit 1 when a check fails, 3 for a workload that is not supported.
//!
//! `PGCLUSTER_BENCH_DRIVER=async` (default) uses [`pgcluster::Connection`] on tokio's
//! `current_thread` runtime, like the `tokio-postgres` column;
//! `PGCLUSTER_BENCH_DRIVER=blocking` uses [`pgcluster::blocking::Connection`] and creates no
//! runtime (a second column, added with
//! `--client pgcluster-blocking=BIN:PGCLUSTER_BENCH_DRIVER=blocking`). Every workload runs on
//! both, with the same calls. `PGCLUSTER_BENCH_API` is the variable's older name, read when
//! `PGCLUSTER_BENCH_DRIVER` is unset; any other value than `blocking` or `async` exits 2.
//!
//! `select1`, `select1-prepared` and the bulk workloads keep their rows in [`Rows`] (one
//! buffer per result); `PGCLUSTER_BENCH_ROWS=strings` uses [`QueryResult`] instead (a
//! `String` per value).
//!
//! `PGCLUSTER_BENCH_SCRAM_CACHE=off` empties pgcluster's SCRAM key cache
//! ([`pgcluster::scram_cache`]) before every connection, so that each one derives its keys
//! with PBKDF2, as the first connection of a process does (a column of its own, e.g.
//! `--client pgcluster-cold=BIN:PGCLUSTER_BENCH_SCRAM_CACHE=off`).
//!
//! CPU time is read from `/proc` rather than with `getrusage` (no `libc`, no `unsafe`): the
//! exact run time of every thread (`/proc/self/task/*/schedstat`, nanoseconds) split into
//! user and system time in the ratio of the tick-sampled `utime`/`stime` of `/proc/self/stat`,
//! which is what the kernel's `getrusage` does (`cputime_adjust`).

mod testdb;

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use pgcluster::connection::QueryResult;
use pgcluster::conninfo::{Config, Env, Resolved};
use pgcluster::rows::Rows;

/// What went wrong, and with which exit code.
enum Failure {
    /// Exit 3: the workload is not supported (shows as `-`).
    Unsupported(String),
    /// Exit 1: a check failed or the server said no.
    Failed(String),
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Self::Failed(e.to_string())
    }
}

type Res<T> = Result<T, Failure>;

/// Every workload of the contract, then pgcluster's own (not run by the harness):
/// `exists-warm` is N x `Cluster::exists` on a warm cluster, `exists-cold` N x what an
/// `exists` costs with a connection opened per call (connect, the same query, close).
/// `testdb-fresh` and `testdb-migrate` are issue 14's (see [`testdb`]): a database of its
/// own per operation, cloned from a template or migrated.
const WORKLOADS: [&str; 13] = [
    "connect",
    "select1",
    "select1-prepared",
    "bulk-simple",
    "bulk-extended",
    "bulk-stream",
    "createdrop",
    "exists-warm",
    "exists-cold",
    "testdb-fresh",
    "testdb-migrate",
    "testserver-cached",
    "testserver-initdb",
];

/// The query `Cluster::exists` runs.
const EXISTS_SQL: &str =
    "SELECT TRUE FROM pg_catalog.pg_database AS d WHERE d.datname::text = $1::text";

/// Process CPU time, seconds: (user, system).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Cpu {
    user: f64,
    sys: f64,
}

/// The process's CPU time so far, precise to the nanosecond in total (see the module docs).
fn cpu_now() -> Cpu {
    let total_ns = run_time_ns().unwrap_or(0);
    let (utime, stime) = stat_times().unwrap_or((0, 0));
    split(total_ns, utime, stime)
}

/// Splits `total_ns` into user and system time in the ratio `utime : stime`.
fn split(total_ns: u64, utime: u64, stime: u64) -> Cpu {
    // Precision loss is irrelevant here: these are measurements, not lengths.
    #[allow(clippy::cast_precision_loss)]
    let total = total_ns as f64 / 1e9;
    let ticks = utime.saturating_add(stime);
    if ticks == 0 {
        return Cpu {
            user: total,
            sys: 0.0,
        };
    }
    #[allow(clippy::cast_precision_loss)]
    let user = total * (utime as f64 / ticks as f64);
    Cpu {
        user,
        sys: total - user,
    }
}

/// Sum of the run time of every thread of this process, in nanoseconds.
fn run_time_ns() -> Option<u64> {
    let mut sum = 0u64;
    for entry in std::fs::read_dir("/proc/self/task").ok()? {
        let path = entry.ok()?.path().join("schedstat");
        // A thread that exited since the listing has no file left; skip it.
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        sum = sum.checked_add(parse_schedstat(&text)?)?;
    }
    Some(sum)
}

/// The first field of a `schedstat` line: time spent on the CPU, ns.
fn parse_schedstat(text: &str) -> Option<u64> {
    text.split_ascii_whitespace().next()?.parse().ok()
}

/// `utime` and `stime` (clock ticks) of `/proc/self/stat`.
fn stat_times() -> Option<(u64, u64)> {
    parse_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// Fields 14 and 15 of a `stat` line; the command name (field 2) may hold spaces and
/// parentheses, so counting starts after its last `)`.
fn parse_stat(text: &str) -> Option<(u64, u64)> {
    let rest = text.get(text.rfind(')')?.checked_add(1)?..)?;
    // After the name come field 3 (state) onwards: utime is field 14, the 12th of these.
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let utime = fields.next()?.parse().ok()?;
    let stime = fields.next()?.parse().ok()?;
    Some((utime, stime))
}

/// Peak RSS (`VmHWM` of `/proc/self/status`), KiB.
fn peak_rss_kb() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vmhwm(&text)
}

fn parse_vmhwm(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.get(6..)?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

/// The bulk workloads' checks: N rows, sum of g = N(N+1)/2, md5 lengths = 32N.
fn check_bulk(n: i64, totals: &Totals) -> Res<()> {
    let want_sum = n
        .checked_mul(n.checked_add(1).ok_or("N overflows")?)
        .ok_or("N overflows")?
        / 2;
    let want_len = n.checked_mul(32).ok_or("N overflows")?;
    if totals.rows != n || totals.sum != want_sum || totals.len != want_len {
        return Err(Failure::Failed(format!(
            "bulk check failed rows={} sum={} len={}",
            totals.rows, totals.sum, totals.len
        )));
    }
    Ok(())
}

/// What the bulk workloads add up.
#[derive(Default, Debug, PartialEq, Eq)]
struct Totals {
    rows: i64,
    sum: i64,
    len: i64,
}

impl Totals {
    /// Reads one row's values: `g` as an integer, the md5 column as text.
    fn add(&mut self, g: Option<&str>, md5: Option<&str>) -> Res<()> {
        let g: i64 = g.ok_or("g is NULL")?.parse()?;
        let md5 = md5.ok_or("md5 is NULL")?;
        self.rows += 1;
        self.sum = self.sum.checked_add(g).ok_or("sum overflows")?;
        self.len += i64::try_from(md5.len())?;
        Ok(())
    }

    /// Reads every row of a result.
    fn add_rows(&mut self, rows: &Rows) -> Res<()> {
        for row in rows {
            self.add(row.get(0).as_deref(), row.get(1).as_deref())?;
        }
        Ok(())
    }

    /// Reads every row of a result with a `String` per value.
    fn add_result(&mut self, result: &QueryResult) -> Res<()> {
        for row in &result.rows {
            let value = |i: usize| row.get(i).and_then(Option::as_deref);
            self.add(value(0), value(1))?;
        }
        Ok(())
    }
}

/// Checks that a `SELECT 1` answered 1.
fn check_one(results: &[QueryResult]) -> Res<()> {
    let value = results
        .first()
        .and_then(|r| r.rows.first())
        .and_then(|row| row.first())
        .and_then(Option::as_deref);
    check_value(value.map(str::as_bytes))
}

/// [`check_one`] for results collected as [`Rows`].
fn check_one_rows(results: &[Rows]) -> Res<()> {
    let value = results
        .first()
        .and_then(|r| r.get(0))
        .and_then(|row| row.get_bytes(0));
    check_value(value)
}

fn check_value(value: Option<&[u8]>) -> Res<()> {
    if value == Some(b"1") {
        Ok(())
    } else {
        Err(Failure::Failed(format!(
            "SELECT 1 returned {:?}, not 1",
            value.map(String::from_utf8_lossy)
        )))
    }
}

/// What one run measured.
struct Measured {
    /// Per-operation times, seconds (empty for the bulk workloads).
    ops: Vec<f64>,
    rows: i64,
    wall: f64,
    cpu0: Cpu,
    cpu1: Cpu,
}

/// The timer around the timed region.
struct Region {
    cpu0: Cpu,
    t0: Instant,
}

impl Region {
    fn start() -> Self {
        let cpu0 = cpu_now();
        Self {
            cpu0,
            t0: Instant::now(),
        }
    }

    fn stop(self, ops: Vec<f64>, rows: i64) -> Measured {
        let wall = self.t0.elapsed().as_secs_f64();
        let cpu1 = cpu_now();
        Measured {
            ops,
            rows,
            wall,
            cpu0: self.cpu0,
            cpu1,
        }
    }
}

fn bulk_sql(n: i64) -> String {
    format!("SELECT g, md5(g::text) FROM generate_series(1,{n}) g")
}

fn w4_names() -> (String, String) {
    let db = format!("bench_w4_pgcluster_{}", std::process::id());
    (
        format!("CREATE DATABASE {db}"),
        format!("DROP DATABASE {db}"),
    )
}

fn capacity(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

/// With `PGCLUSTER_BENCH_SCRAM_CACHE=off`, forgets the SCRAM keys of earlier connections.
fn cold_scram() {
    if COLD_SCRAM.load(std::sync::atomic::Ordering::Relaxed) {
        pgcluster::scram_cache::clear();
    }
}

/// Set once in `main` from `PGCLUSTER_BENCH_SCRAM_CACHE`.
static COLD_SCRAM: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `exists-warm` and `exists-cold` (see [`WORKLOADS`]).
async fn run_exists(wl: &str, n: i64, conninfo: &str, cfg: &Resolved) -> Res<Measured> {
    use pgcluster::Connection;
    let cluster = pgcluster::Cluster::from_config(Config::parse(conninfo)?);
    // Warm: the first call opens the connection that the timed ones reuse.
    if !cluster.exists("postgres").await? {
        return Err(Failure::Failed("database postgres does not exist".into()));
    }
    let mut ops = Vec::with_capacity(capacity(n));
    let region = Region::start();
    for _ in 0..n {
        let a = Instant::now();
        let found = if wl == "exists-warm" {
            cluster.exists("postgres").await?
        } else {
            let mut conn = Connection::connect(cfg)
                .await
                .map_err(pgcluster::Error::from)?;
            let result = conn.query(EXISTS_SQL, &[Some("postgres")]).await;
            conn.close().await;
            !result?.rows.is_empty()
        };
        if !found {
            return Err(Failure::Failed("database postgres not found".into()));
        }
        ops.push(a.elapsed().as_secs_f64());
    }
    Ok(region.stop(ops, 0))
}

/// The workloads on the async API.
async fn run_async(wl: &str, n: i64, cfg: &Resolved) -> Res<Measured> {
    use pgcluster::Connection;
    if wl == "connect" {
        let mut ops = Vec::with_capacity(capacity(n));
        let region = Region::start();
        for _ in 0..n {
            let a = Instant::now();
            cold_scram();
            let mut conn = Connection::connect(cfg)
                .await
                .map_err(pgcluster::Error::from)?;
            conn.close().await;
            ops.push(a.elapsed().as_secs_f64());
        }
        return Ok(region.stop(ops, 0));
    }
    // Set-up outside the timed region.
    let mut conn = Connection::connect(cfg)
        .await
        .map_err(pgcluster::Error::from)?;
    let prepared = if wl == "select1-prepared" {
        Some(conn.prepare("SELECT 1").await?)
    } else {
        None
    };
    let strings = std::env::var("PGCLUSTER_BENCH_ROWS").is_ok_and(|v| v == "strings");
    let (create, drop) = w4_names();
    let sql = bulk_sql(n);
    let mut ops = Vec::with_capacity(if wl.starts_with("bulk") {
        0
    } else {
        capacity(n)
    });
    let mut totals = Totals::default();
    let region = Region::start();
    match wl {
        "select1" => {
            for _ in 0..n {
                let a = Instant::now();
                if strings {
                    check_one(&conn.simple_query("SELECT 1").await?)?;
                } else {
                    check_one_rows(&conn.simple_query_rows("SELECT 1").await?)?;
                }
                ops.push(a.elapsed().as_secs_f64());
            }
        }
        "select1-prepared" => {
            let statement = prepared.as_ref().ok_or("not prepared")?;
            for _ in 0..n {
                let a = Instant::now();
                if strings {
                    check_one(&[conn.query_prepared(statement, &[]).await?])?;
                } else {
                    check_one_rows(&[conn.query_prepared_rows(statement, &[]).await?])?;
                }
                ops.push(a.elapsed().as_secs_f64());
            }
        }
        "bulk-simple" if strings => {
            for result in &conn.simple_query(&sql).await? {
                totals.add_result(result)?;
            }
        }
        "bulk-simple" => {
            for rows in &conn.simple_query_rows(&sql).await? {
                totals.add_rows(rows)?;
            }
        }
        "bulk-extended" if strings => totals.add_result(&conn.query(&sql, &[]).await?)?,
        "bulk-extended" => totals.add_rows(&conn.query_rows(&sql, &[]).await?)?,
        "bulk-stream" => {
            let mut failed = None;
            conn.query_each(&sql, &[], |row| {
                if failed.is_none() {
                    failed = totals
                        .add(row.get(0).as_deref(), row.get(1).as_deref())
                        .err();
                }
            })
            .await?;
            if let Some(failure) = failed {
                return Err(failure);
            }
        }
        "createdrop" => {
            for _ in 0..n {
                let a = Instant::now();
                conn.simple_query(&create).await?;
                conn.simple_query(&drop).await?;
                ops.push(a.elapsed().as_secs_f64());
            }
        }
        other => return Err(Failure::Unsupported(format!("unknown workload {other}"))),
    }
    let measured = region.stop(ops, totals.rows);
    if wl.starts_with("bulk") {
        check_bulk(n, &totals)?;
    }
    conn.close().await;
    Ok(measured)
}

/// The workloads on the blocking API: the same calls as [`run_async`], without `.await`.
fn run_blocking(wl: &str, n: i64, cfg: &Resolved) -> Res<Measured> {
    use pgcluster::blocking::Connection;
    if wl == "connect" {
        let mut ops = Vec::with_capacity(capacity(n));
        let region = Region::start();
        for _ in 0..n {
            let a = Instant::now();
            cold_scram();
            let mut conn = Connection::connect(cfg).map_err(pgcluster::Error::from)?;
            conn.close();
            ops.push(a.elapsed().as_secs_f64());
        }
        return Ok(region.stop(ops, 0));
    }
    // Set-up outside the timed region.
    let mut conn = Connection::connect(cfg).map_err(pgcluster::Error::from)?;
    let prepared = if wl == "select1-prepared" {
        Some(conn.prepare("SELECT 1")?)
    } else {
        None
    };
    let strings = std::env::var("PGCLUSTER_BENCH_ROWS").is_ok_and(|v| v == "strings");
    let (create, drop) = w4_names();
    let sql = bulk_sql(n);
    let mut ops = Vec::with_capacity(if wl.starts_with("bulk") {
        0
    } else {
        capacity(n)
    });
    let mut totals = Totals::default();
    let region = Region::start();
    match wl {
        "select1" => {
            for _ in 0..n {
                let a = Instant::now();
                if strings {
                    check_one(&conn.simple_query("SELECT 1")?)?;
                } else {
                    check_one_rows(&conn.simple_query_rows("SELECT 1")?)?;
                }
                ops.push(a.elapsed().as_secs_f64());
            }
        }
        "select1-prepared" => {
            let statement = prepared.as_ref().ok_or("not prepared")?;
            for _ in 0..n {
                let a = Instant::now();
                if strings {
                    check_one(&[conn.query_prepared(statement, &[])?])?;
                } else {
                    check_one_rows(&[conn.query_prepared_rows(statement, &[])?])?;
                }
                ops.push(a.elapsed().as_secs_f64());
            }
        }
        "bulk-simple" if strings => {
            for result in &conn.simple_query(&sql)? {
                totals.add_result(result)?;
            }
        }
        "bulk-simple" => {
            for rows in &conn.simple_query_rows(&sql)? {
                totals.add_rows(rows)?;
            }
        }
        "bulk-extended" if strings => totals.add_result(&conn.query(&sql, &[])?)?,
        "bulk-extended" => totals.add_rows(&conn.query_rows(&sql, &[])?)?,
        "bulk-stream" => {
            let mut failed = None;
            conn.query_each(&sql, &[], |row| {
                if failed.is_none() {
                    failed = totals
                        .add(row.get(0).as_deref(), row.get(1).as_deref())
                        .err();
                }
            })?;
            if let Some(failure) = failed {
                return Err(failure);
            }
        }
        "createdrop" => {
            for _ in 0..n {
                let a = Instant::now();
                conn.simple_query(&create)?;
                conn.simple_query(&drop)?;
                ops.push(a.elapsed().as_secs_f64());
            }
        }
        other => return Err(Failure::Unsupported(format!("unknown workload {other}"))),
    }
    let measured = region.stop(ops, totals.rows);
    if wl.starts_with("bulk") {
        check_bulk(n, &totals)?;
    }
    conn.close();
    Ok(measured)
}

/// `exists-warm` and `exists-cold` (see [`WORKLOADS`]) on the blocking API.
fn run_exists_blocking(wl: &str, n: i64, conninfo: &str, cfg: &Resolved) -> Res<Measured> {
    use pgcluster::blocking::Connection;
    let cluster = pgcluster::blocking::Cluster::from_config(Config::parse(conninfo)?)?;
    // Warm: the first call opens the connection that the timed ones reuse.
    if !cluster.exists("postgres")? {
        return Err(Failure::Failed("database postgres does not exist".into()));
    }
    let mut ops = Vec::with_capacity(capacity(n));
    let region = Region::start();
    for _ in 0..n {
        let a = Instant::now();
        let found = if wl == "exists-warm" {
            cluster.exists("postgres")?
        } else {
            let mut conn = Connection::connect(cfg).map_err(pgcluster::Error::from)?;
            let result = conn.query(EXISTS_SQL, &[Some("postgres")]);
            conn.close();
            !result?.rows.is_empty()
        };
        if !found {
            return Err(Failure::Failed("database postgres not found".into()));
        }
        ops.push(a.elapsed().as_secs_f64());
    }
    Ok(region.stop(ops, 0))
}

/// Which driver the workloads run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Driver {
    /// [`pgcluster::blocking::Connection`]; no runtime is created by this program.
    Blocking,
    /// [`pgcluster::Connection`] on tokio's `current_thread` runtime.
    Async,
}

/// The driver from `PGCLUSTER_BENCH_DRIVER` (or its older name `PGCLUSTER_BENCH_API`, read
/// only when the first is unset): `blocking` or `async`, async when neither is set.
fn driver_from(driver: Option<&str>, api: Option<&str>) -> Result<Driver, String> {
    let (name, value) = match (driver, api) {
        (Some(v), _) => ("PGCLUSTER_BENCH_DRIVER", v),
        (None, Some(v)) => ("PGCLUSTER_BENCH_API", v),
        (None, None) => return Ok(Driver::Async),
    };
    match value {
        "blocking" => Ok(Driver::Blocking),
        "async" => Ok(Driver::Async),
        other => Err(format!("{name}={other:?}: want blocking or async")),
    }
}

/// Median, minimum and 90th percentile (elements N/2, 0 and 9N/10 of the sorted times), µs.
fn op_stats(mut ops: Vec<f64>) -> (f64, f64, f64) {
    if ops.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    ops.sort_by(f64::total_cmp);
    let at = |i: usize| ops.get(i.min(ops.len() - 1)).copied().unwrap_or(0.0) * 1e6;
    (at(ops.len() / 2), at(0), at(ops.len() * 9 / 10))
}

/// The contract's JSON line.
fn json_line(client: &str, wl: &str, n: i64, m: Measured) -> String {
    let (med, min, p90) = op_stats(m.ops);
    let mut s = String::new();
    let _ = write!(
        s,
        "{{\"client\":\"{client}\",\"workload\":\"{wl}\",\"n\":{n},\"wall_s\":{:.6},\
         \"user_s\":{:.6},\"sys_s\":{:.6},\"maxrss_kb\":{},\"rows\":{},\
         \"op_med_us\":{med:.2},\"op_min_us\":{min:.2},\"op_p90_us\":{p90:.2}}}",
        m.wall,
        (m.cpu1.user - m.cpu0.user).max(0.0),
        (m.cpu1.sys - m.cpu0.sys).max(0.0),
        peak_rss_kb().unwrap_or(0),
        m.rows,
    );
    s
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, wl, n, conninfo] = args.as_slice() else {
        eprintln!("usage: pgcluster-bench WORKLOAD N CONNINFO");
        return ExitCode::from(2);
    };
    let n: i64 = match n.parse() {
        Ok(n) if (1..=100_000_000).contains(&n) => n,
        _ => {
            eprintln!("pgcluster-bench: bad N {n:?}");
            return ExitCode::from(2);
        }
    };
    let wl = wl.as_str();
    if !WORKLOADS.contains(&wl) {
        eprintln!("pgcluster-bench: unsupported workload {wl}");
        return ExitCode::from(3);
    }
    if wl.starts_with("testdb") || wl.starts_with("testserver") {
        // The testing API is blocking: the same column whichever driver is asked for.
        return report("pgcluster-blocking", wl, n, testdb::run(wl, n, conninfo));
    }
    let cfg = match Config::parse(conninfo).and_then(|c| c.resolve(&Env::from_process())) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("pgcluster-bench: conninfo: {e}");
            return ExitCode::from(2);
        }
    };
    let cold = std::env::var("PGCLUSTER_BENCH_SCRAM_CACHE").is_ok_and(|v| v == "off");
    COLD_SCRAM.store(cold, std::sync::atomic::Ordering::Relaxed);
    let var = |name: &str| std::env::var(name).ok();
    let driver = match driver_from(
        var("PGCLUSTER_BENCH_DRIVER").as_deref(),
        var("PGCLUSTER_BENCH_API").as_deref(),
    ) {
        Ok(driver) => driver,
        Err(e) => {
            eprintln!("pgcluster-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let (client, result) = match driver {
        Driver::Blocking => {
            let result = if wl.starts_with("exists") {
                run_exists_blocking(wl, n, conninfo, &cfg)
            } else {
                run_blocking(wl, n, &cfg)
            };
            ("pgcluster-blocking", result)
        }
        Driver::Async => {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("pgcluster-bench: runtime: {e}");
                    return ExitCode::from(1);
                }
            };
            let run = async {
                if wl.starts_with("exists") {
                    run_exists(wl, n, conninfo, &cfg).await
                } else {
                    run_async(wl, n, &cfg).await
                }
            };
            ("pgcluster", rt.block_on(run))
        }
    };
    report(client, wl, n, result.map(|m| (m, String::new())))
}

/// Prints the JSON line (with `extra` fields, `,"key":value...`) or the failure; the exit
/// status.
fn report(client: &str, wl: &str, n: i64, result: Res<(Measured, String)>) -> ExitCode {
    match result {
        Ok((m, extra)) => {
            let mut line = json_line(client, wl, n, m);
            line.pop(); // the closing brace
            println!("{line}{extra}}}");
            ExitCode::SUCCESS
        }
        Err(Failure::Unsupported(why)) => {
            eprintln!("pgcluster-bench: {why}");
            ExitCode::from(3)
        }
        Err(Failure::Failed(why)) => {
            eprint!("pgcluster-bench: {wl}: {why}");
            if !why.ends_with('\n') {
                eprintln!();
            }
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_a_name_with_spaces_and_parens() {
        let line = "1234 (a b) c)) S 1 2 3 4 5 6 7 8 9 10 417 23 0 0 20 0 1 0 5 6 7";
        assert_eq!(parse_stat(line), Some((417, 23)));
        assert_eq!(parse_stat("1 (x) S 1 2"), None);
    }

    #[test]
    fn schedstat_and_vmhwm() {
        assert_eq!(parse_schedstat("81332 6427990 2\n"), Some(81332));
        assert_eq!(parse_schedstat(""), None);
        assert_eq!(
            parse_vmhwm("VmPeak:\t  10 kB\nVmHWM:\t    2345 kB\nVmRSS:\t 1 kB\n"),
            Some(2345)
        );
        assert_eq!(parse_vmhwm("VmRSS:\t 1 kB\n"), None);
    }

    #[test]
    fn split_follows_the_tick_ratio() {
        assert_eq!(
            split(4_000_000_000, 3, 1),
            Cpu {
                user: 3.0,
                sys: 1.0
            }
        );
        assert_eq!(
            split(500_000_000, 0, 0),
            Cpu {
                user: 0.5,
                sys: 0.0
            }
        );
    }

    #[test]
    fn cpu_is_counted() {
        // Spin until the counters show our own CPU time: on a loaded machine this thread
        // may get little of it, so the bound is on the work's outcome, not on the clock.
        let a = cpu_now();
        let t = Instant::now();
        let mut x = 0u64;
        let used = loop {
            for _ in 0..100_000 {
                x = x.wrapping_add(std::hint::black_box(1));
            }
            let b = cpu_now();
            let used = (b.user + b.sys) - (a.user + a.sys);
            if used > 0.01 || t.elapsed().as_secs() >= 60 {
                break used;
            }
        };
        assert!(x > 0);
        assert!(used > 0.01 && used < 60.0, "cpu {used}");
    }

    #[test]
    fn driver_variable_and_its_alias() {
        assert_eq!(driver_from(None, None), Ok(Driver::Async));
        assert_eq!(driver_from(Some("blocking"), None), Ok(Driver::Blocking));
        assert_eq!(driver_from(Some("async"), None), Ok(Driver::Async));
        assert_eq!(driver_from(None, Some("blocking")), Ok(Driver::Blocking));
        assert_eq!(
            driver_from(Some("async"), Some("blocking")),
            Ok(Driver::Async)
        );
        assert_eq!(
            driver_from(Some("tokio"), None),
            Err("PGCLUSTER_BENCH_DRIVER=\"tokio\": want blocking or async".to_owned())
        );
        assert!(driver_from(None, Some("")).is_err());
    }

    #[test]
    fn op_stats_pick_elements() {
        let ops: Vec<f64> = (1..=10).rev().map(|i| f64::from(i) * 1e-6).collect();
        let (med, min, p90) = op_stats(ops);
        assert!((med - 6.0).abs() < 1e-9, "{med}");
        assert!((min - 1.0).abs() < 1e-9, "{min}");
        assert!((p90 - 10.0).abs() < 1e-9, "{p90}");
        assert_eq!(op_stats(Vec::new()), (0.0, 0.0, 0.0));
    }

    #[test]
    fn bulk_checks() {
        let mut t = Totals::default();
        t.add(Some("1"), Some("c4ca4238a0b923820dcc509a6f75849b"))
            .ok()
            .unwrap();
        t.add(Some("2"), Some("c81e728d9d4c2f636f067f89cc14862c"))
            .ok()
            .unwrap();
        assert_eq!(
            t,
            Totals {
                rows: 2,
                sum: 3,
                len: 64
            }
        );
        assert!(check_bulk(2, &t).is_ok());
        assert!(check_bulk(3, &t).is_err());
        assert!(t.add(None, Some("x")).is_err());
        assert!(t.add(Some("x"), Some("x")).is_err());
    }
}
