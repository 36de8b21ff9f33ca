//! `Cluster`: test, create, drop, clone, rename, overwrite and list databases in one
//! PostgreSQL server, and open connections to any database in it.
//!
//! Safety rules, kept by every method:
//! - A name is checked before any I/O ([`name::check`]): an empty name, one over 63 bytes
//!   (the server would cut it and act on *another* database) or one with NUL is refused.
//! - Names are always sent as quoted identifiers; the values looked up are bound
//!   parameters (compared as `text`), and the texts `overwrite` copies (a comment, a
//!   setting) go as string literals that mean the same whatever
//!   `standard_conforming_strings` says.
//! - Maintenance statements run on the `postgres` database, or on `template1` when the
//!   database acted on, or the template, is `postgres` (a session on a database blocks
//!   dropping, renaming and copying it), and when there is no `postgres` (3D000), as
//!   createdb and dropdb go on to `template1`.
//! - A connection lost after `CREATE`/`DROP`/`ALTER DATABASE` was sent is never retried:
//!   the error says so, and what `pg_database` shows after reconnecting.
//! - `drop_database`, `overwrite` and `rename` without a name act only on a database the
//!   setting names explicitly
//!   ([`Cluster::named_database`](crate::doc_api::Cluster::named_database)), never on a
//!   default ([`Error::DatabaseNotNamed`], before anything is sent).
//!
//! # Names and the spec's calls
//!
//! Every method that takes a database name takes an [`impl DatabaseName`](DatabaseName):
//! `&str`, `String`, `&String`, `Cow<str>`, or `None` for the setting's database. Options
//! go by name, in [`CreateOptions`] and [`DropOptions`], never as positional `None`s.
//!
//! | spec (rex) | `Cluster` (the async one and `blocking::Cluster` alike) |
//! |---|---|
//! | `exists(name=None)` | [`exists(name)`](crate::doc_api::Cluster::exists) |
//! | `create(name=None, template=None)` | [`create(name)`](crate::doc_api::Cluster::create), [`create_with(name, &options)`](crate::doc_api::Cluster::create_with) |
//! | `clone(template, name=None)` | [`copy_database(template, name)`](crate::doc_api::Cluster::copy_database) |
//! | `drop(name=None)` | [`drop_database(name)`](crate::doc_api::Cluster::drop_database), [`drop_database_with(name, &options)`](crate::doc_api::Cluster::drop_database_with) |
//! | `rename(new, name=None)` | [`rename(new, name)`](crate::doc_api::Cluster::rename) |
//! | `overwrite(name=None, template=None)` | [`overwrite(name)`](crate::doc_api::Cluster::overwrite), [`overwrite_with(name, &options)`](crate::doc_api::Cluster::overwrite_with) |
//! | `connect(name=None, autocommit=False)` | [`connect(name)`](crate::doc_api::Cluster::connect), [`connect_with(name, autocommit)`](crate::doc_api::Cluster::connect_with) |
//!
//! The spec's `drop` and `clone` are not method names here: `Drop::drop` and
//! `Clone::clone` are found first through an `Arc<Cluster>` (or any smart pointer), so a
//! `cluster.drop(name)` there would not compile, and a `cluster.clone()` would copy the
//! pointer. (Searching the docs for `drop` or `clone` finds the methods.)

mod drain;
mod dry_run;
mod handle;
mod interrupt;
mod list;
mod literal;
pub mod name;
mod options;
mod overwrite;
mod ping;
mod setting;
mod temporary;

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

pub use crate::error::{InUse, Ping, Session};
pub use dry_run::PlannedStatement;
#[cfg(feature = "async")]
pub use handle::Cluster;
/// Without `async`, the cluster under [`crate::blocking::Cluster`] only.
#[cfg(not(feature = "async"))]
pub(crate) use handle::Cluster;
pub use interrupt::Interrupter;
pub use list::DatabaseInfo;
pub use name::DatabaseName;
pub use options::{CreateOptions, DropOptions, LocaleProvider, Needs, Strategy};
pub use temporary::is_temporary_name;

use crate::connection::{Connection, ParkedConnection, QueryResult};
use crate::conninfo::{Address, Config, Env};
use crate::driver::Kind;
use crate::error::{Destructive, Error, Interrupted, OutcomeUnknown, ServerTooOld, Stage};
use interrupt::Flight;
use name::quote_ident;
use setting::Setting;

/// The database maintenance statements run on.
const MAINTENANCE_DB: &str = "postgres";
/// The server's default template, what `CREATE DATABASE` copies without `TEMPLATE`.
const DEFAULT_TEMPLATE: &str = "template1";
/// The maintenance database when a statement acts on `postgres` itself, or when there is
/// no `postgres`.
const FALLBACK_MAINTENANCE_DB: &str = "template1";
/// The keyword that picks a primary or a standby among several hosts.
const TARGET_SESSION_ATTRS: &str = "target_session_attrs";
/// How many idle maintenance connections a `Cluster` keeps for reuse.
const MAX_IDLE: usize = 2;

/// Whether a statement is work (refused and cancelled once the cluster is interrupted) or
/// owed by an interrupted operation (sent anyway: reporting the outcome, dropping a
/// temporary copy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Work,
    Owed,
}

/// A cluster for the application's database setting; refuses anything that is not
/// PostgreSQL. `pgsql`, `postgres` and `postgresql` URIs and libpq `key=value` strings are
/// PostgreSQL (rex itself took only `pgsql`).
#[cfg(feature = "async")]
pub fn get_cluster(setting: &str) -> Result<Cluster, Error> {
    Cluster::get_with(setting, Kind::Async)
}

impl Cluster {
    /// A cluster for `setting`: a rex URI (`pgsql://user:pass@host:port/db`), a libpq URI
    /// (`postgres://...`) or a libpq `key=value` string. What the setting leaves out
    /// (host, port, user, password, database) comes from the process environment, as libpq
    /// takes it, when a connection is opened.
    #[cfg(feature = "async")]
    pub fn new(setting: &str) -> Result<Self, Error> {
        Self::new_with(setting, Kind::Async)
    }

    /// [`Cluster::new`] whose connections use driver `driver`.
    pub(crate) fn new_with(setting: &str, driver: Kind) -> Result<Self, Error> {
        Ok(Self::from_setting(Setting::parse(setting)?, driver))
    }

    /// [`get_cluster`] whose connections use driver `driver`.
    pub(crate) fn get_with(setting: &str, driver: Kind) -> Result<Self, Error> {
        let cluster = Self::new_with(setting, driver)?;
        cluster.setting.check_postgres()?;
        Ok(cluster)
    }

    /// rex's repr of the cluster, as the spec shows it: `Cluster('pgsql:///deploy_demo')`,
    /// the setting in Python's `repr()`, any password shown as `xxx`.
    ///
    /// ```
    /// # #[cfg(feature = "async")] {
    /// let cluster = pgcluster::get_cluster("pgsql://aladdin:opensesame@h:2345/db")?;
    /// assert_eq!(cluster.repr(), "Cluster('pgsql://aladdin:xxx@h:2345/db')");
    /// # }
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn repr(&self) -> String {
        format!(
            "Cluster({})",
            crate::compat::pyrepr::py_repr(&self.setting.render())
        )
    }

    /// A cluster for libpq settings already parsed.
    #[cfg(feature = "async")]
    pub fn from_config(config: Config) -> Self {
        Self::from_config_with(config, Kind::Async)
    }

    /// [`Cluster::from_config`] whose connections use driver `driver`.
    pub(crate) fn from_config_with(config: Config, driver: Kind) -> Self {
        Self::from_setting(
            Setting::LibPq {
                config,
                given: None,
            },
            driver,
        )
    }

    fn from_setting(setting: Setting, driver: Kind) -> Self {
        Self {
            driver,
            setting,
            maintenance: None,
            env: Env::from_process(),
            idle: Mutex::new(Vec::new()),
            warnings: Mutex::new(Vec::new()),
            interrupt: Arc::default(),
            plan: None,
        }
    }

    /// What stops this cluster's work from another thread (see [`Interrupter`]): the
    /// statements under way are cancelled, and no new one is sent. An interrupted call
    /// returns [`Error::Interrupted`], which says what `pg_database` shows once the
    /// statement ended; the clean-up an operation owes (an `overwrite` dropping its
    /// temporary copy) still runs.
    pub fn interrupter(&self) -> Interrupter {
        Interrupter::new(Arc::clone(&self.interrupt))
    }

    /// Registers a statement about to be sent on `conn` (work is tracked, what is owed is
    /// not); `None` if it is work and the cluster is interrupted.
    fn begin(&self, mode: Mode, conn: &Connection) -> Option<Flight> {
        match mode {
            Mode::Work => self.interrupt.begin(conn.cancel_token()),
            Mode::Owed => Some(Flight::untracked()),
        }
    }

    /// Whether work is refused before even connecting.
    fn refused(&self, mode: Mode) -> bool {
        mode == Mode::Work && self.interrupt.is_interrupted()
    }

    /// Takes the warnings libpq would have printed on stderr while this cluster connected
    /// (e.g. a password file readable by others, which is then ignored), oldest first, each
    /// once. The library never prints them.
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Sends the maintenance statements (`CREATE`, `DROP`, `ALTER DATABASE`) and the reads
    /// of the catalog (`exists`, `list`, the sessions on a database) to `setting` (a rex URI,
    /// a libpq URI or `key=value` string) instead of the cluster's own setting, which
    /// [`Cluster::connect`] keeps using: a direct URL past a pooler (PgBouncer and the
    /// hosted ones), such as the `DATABASE_URL_UNPOOLED` hosted PostgreSQL vendors give. Its
    /// database is not used (maintenance statements run on `postgres`, or `template1`);
    /// what it leaves out comes from the environment, as for the cluster's own. Without
    /// it, everything goes where the cluster's setting says. Idle maintenance connections
    /// are closed (each sends Terminate); nothing else is sent here.
    ///
    /// ```
    /// # #[cfg(feature = "async")] {
    /// let cluster = pgcluster::Cluster::new("postgres://app:pw@pooler.example:6432/app")?
    ///     .with_maintenance("postgres://app:pw@db.example:5432/app")?;
    /// assert_eq!(
    ///     cluster.maintenance_repr().as_deref(),
    ///     Some("'postgres://app:xxx@db.example:5432/app'")
    /// );
    /// # }
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn with_maintenance(mut self, setting: &str) -> Result<Self, Error> {
        let setting = Setting::parse(setting)?;
        setting.check_postgres()?;
        self.maintenance = Some(setting);
        self.idle_connections().clear();
        Ok(self)
    }

    /// The maintenance setting of [`Cluster::with_maintenance`], as [`Cluster::repr`] shows
    /// a setting (Python's `repr()`, any password as `xxx`); `None` without one.
    pub fn maintenance_repr(&self) -> Option<String> {
        self.maintenance
            .as_ref()
            .map(|s| crate::compat::pyrepr::py_repr(&s.render()))
    }

    /// Uses `env` instead of the process environment for libpq's defaults (`PGHOST`, ...).
    pub fn with_env(mut self, env: Env) -> Self {
        self.env = env;
        self.idle_connections().clear();
        self
    }

    fn idle_connections(&self) -> std::sync::MutexGuard<'_, Vec<ParkedConnection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The setting's database: what a `None` name means in `connect`, `exists`, `create`,
    /// `create_with` and `copy_database`. That is the database the setting names
    /// ([`Self::named_database`]), else the one a connection would take, as libpq does:
    /// `PGDATABASE`, a service file's `dbname`, else the user name.
    pub fn database(&self) -> Result<String, Error> {
        if let Some(db) = self.setting.database() {
            return Ok(db.to_owned());
        }
        let mut config = self.setting.base_config();
        config.unset("dbname");
        Ok(config.resolve(&self.env)?.dbname)
    }

    /// The database the setting names explicitly, if it names one: a rex setting's
    /// database, a libpq URI's path (`postgres://h/db`) or `?dbname=`, or a non-empty
    /// `dbname=` in a `key=value` string. What a `None` name means in `drop_database`,
    /// `drop_database_with`, `overwrite` and `rename`; a default from `PGDATABASE`, a
    /// service file or the user name does not count (as `dropdb` never takes a default).
    ///
    /// ```
    /// # #[cfg(feature = "async")] {
    /// let cluster = pgcluster::Cluster::new("postgres://h/deploy_demo")?;
    /// assert_eq!(cluster.named_database(), Some("deploy_demo"));
    /// let cluster = pgcluster::Cluster::new("postgres://postgres@127.0.0.1:5455")?;
    /// assert_eq!(cluster.named_database(), None);
    /// # }
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn named_database(&self) -> Option<&str> {
        self.setting.database()
    }

    /// The libpq settings the setting stands for, before the environment is applied: every
    /// keyword of a libpq URI or `key=value` string; a rex setting's host, port, user,
    /// password and database (all rex passes to libpq).
    pub fn config(&self) -> Config {
        self.setting.base_config()
    }

    /// Where connections go, for people to read (a confirmation prompt): `host:port` for
    /// TCP (`[addr]:port` for an IPv6 address), the socket's path for a Unix socket, several
    /// hosts separated by `, `. Reads the local settings (environment, service file) as a
    /// connection does; sends nothing, and never shows a password.
    pub fn server(&self) -> Result<String, Error> {
        self.server_of(&self.setting)
    }

    /// Where maintenance connections go when there is a maintenance setting
    /// ([`Cluster::with_maintenance`]), in the form of [`Cluster::server`]; `None` without
    /// one (they go to [`Cluster::server`]).
    pub fn maintenance_server(&self) -> Option<Result<String, Error>> {
        self.maintenance.as_ref().map(|s| self.server_of(s))
    }

    fn server_of(&self, setting: &Setting) -> Result<String, Error> {
        let resolved = setting.base_config().resolve(&self.env)?;
        let servers: Vec<String> = resolved
            .targets
            .iter()
            .map(|target| match &target.address {
                Address::Unix(dir) => format!(
                    "{}/.s.PGSQL.{}",
                    dir.trim_end_matches('/'),
                    target.port_text
                ),
                Address::Tcp(address) => {
                    let host = if target.host.is_empty() {
                        address
                    } else {
                        &target.host
                    };
                    if host.contains(':') {
                        format!("[{host}]:{}", target.port_text)
                    } else {
                        format!("{host}:{}", target.port_text)
                    }
                }
            })
            .collect();
        Ok(servers.join(", "))
    }

    /// The name to act on: `name`, or the setting's database; checked.
    fn target(&self, name: Option<&str>) -> Result<String, Error> {
        let name = match name {
            Some(name) => name.to_owned(),
            None => self.database()?,
        };
        name::check(&name)?;
        Ok(name)
    }

    /// The name a `drop_database`, `overwrite` or `rename` acts on: `name`, or the database the
    /// setting names explicitly; checked. Without either, [`Error::DatabaseNotNamed`],
    /// naming the default that was not taken (best effort: only local settings are read).
    fn destructive_target(&self, name: Option<&str>, action: Destructive) -> Result<String, Error> {
        let name = match name.or(self.setting.database()) {
            Some(name) => name.to_owned(),
            None => {
                return Err(Error::DatabaseNotNamed {
                    action,
                    default: self.database().ok(),
                })
            }
        };
        name::check(&name)?;
        Ok(name)
    }

    /// Opens a connection to database `name` (default: the setting's database).
    pub async fn connect(&self, name: impl DatabaseName) -> Result<Connection, Error> {
        let name = self.target(name.database_name())?;
        self.open(&name).await
    }

    /// rex's `connect(name, autocommit)`: [`Cluster::connect`], then autocommit set as
    /// asked (with it off, `BEGIN` goes before the first statement; see
    /// [`Connection::set_autocommit`]).
    pub async fn connect_with(
        &self,
        name: impl DatabaseName,
        autocommit: bool,
    ) -> Result<Connection, Error> {
        let mut conn = self.connect(name).await?;
        conn.set_autocommit(autocommit)?;
        Ok(conn)
    }

    async fn open(&self, dbname: &str) -> Result<Connection, Error> {
        self.open_for(dbname, false).await
    }

    /// Opens a connection to `dbname`; a `maintenance` one goes to the primary when the
    /// setting lists several hosts and says nothing of `target_session_attrs` (neither the
    /// setting, nor its service file, nor `PGTARGETSESSIONATTRS`): as if it said `target_session_attrs=read-write`,
    /// the hosts tried in order until one takes writes. (`read-write` rather than libpq
    /// 14's `primary`: `CREATE`, `DROP` and `ALTER DATABASE` need a session that can write,
    /// which a primary with `default_transaction_read_only = on` is not.) A setting that
    /// names a value, `any` included, is followed as given; so are a single host and the
    /// connections of [`Cluster::connect`]. A `maintenance` one takes the maintenance
    /// setting, when there is one ([`Cluster::with_maintenance`]).
    async fn open_for(&self, dbname: &str, maintenance: bool) -> Result<Connection, Error> {
        let setting = match &self.maintenance {
            Some(direct) if maintenance => direct,
            _ => &self.setting,
        };
        let (mut config, dsn) = setting.connection(dbname)?;
        let mut resolved = config.resolve(&self.env)?;
        if maintenance && resolved.targets.len() > 1 && !resolved.target_session_attrs_given {
            config.set(TARGET_SESSION_ATTRS, "read-write")?;
            resolved = config.resolve(&self.env)?;
        }
        if !resolved.warnings.is_empty() {
            let mut warnings = self.warnings.lock().unwrap_or_else(PoisonError::into_inner);
            for w in &resolved.warnings {
                if !warnings.contains(w) {
                    warnings.push(w.clone());
                }
            }
        }
        let mut conn = Connection::connect_with(&resolved, self.driver).await?;
        conn.set_dsn(dsn);
        Ok(conn)
    }

    /// The maintenance database for statements about the databases in `names`.
    fn maintenance_db(names: &[&str]) -> &'static str {
        if names.contains(&MAINTENANCE_DB) {
            FALLBACK_MAINTENANCE_DB
        } else {
            MAINTENANCE_DB
        }
    }

    /// A connection for maintenance statements about the databases in `names`: an idle one
    /// if the server kept it open, else a new one.
    async fn maintenance(&self, names: &[&str]) -> Result<(&'static str, Connection), Error> {
        let (db, conn, _) = self.maintenance_reused(names).await?;
        Ok((db, conn))
    }

    /// [`Self::maintenance`], also telling whether the connection was an idle one reused.
    async fn maintenance_reused(
        &self,
        names: &[&str],
    ) -> Result<(&'static str, Connection, bool), Error> {
        let db = Self::maintenance_db(names);
        if db != MAINTENANCE_DB {
            // Our own idle sessions on `postgres` would block acting on it or copying it.
            self.idle_connections().clear();
            return Ok((db, self.open_for(db, true).await?, false));
        }
        loop {
            let parked = self.idle_connections().pop();
            match parked {
                Some(parked) => {
                    if let Some(conn) = parked.resume() {
                        return Ok((db, conn, true));
                    }
                }
                None => {
                    return match self.open_for(db, true).await {
                        // Gone (dropped, say): `template1`, as createdb and dropdb go on.
                        Err(e) if e.sqlstate() == Some(UNDEFINED_DATABASE) => Ok((
                            FALLBACK_MAINTENANCE_DB,
                            self.open_for(FALLBACK_MAINTENANCE_DB, true).await?,
                            false,
                        )),
                        opened => Ok((db, opened?, false)),
                    };
                }
            }
        }
    }

    /// Runs a read-only query on a maintenance connection. A reused idle connection the
    /// server ended just before (a termination not yet visible when it was resumed) is
    /// replaced and the read tried once more: reads, unlike DDL, are safe to repeat.
    ///
    /// An interrupt that comes first, or cancels the read, makes it [`Error::Interrupted`]; a
    /// read that finished is returned as usual.
    async fn read(&self, sql: &str, params: &[Option<&str>]) -> Result<QueryResult, Error> {
        self.read_as(Mode::Work, sql, params).await
    }

    async fn read_as(
        &self,
        mode: Mode,
        sql: &str,
        params: &[Option<&str>],
    ) -> Result<QueryResult, Error> {
        self.read_for(mode, &[], sql, params).await
    }

    /// [`Self::read_as`] on the maintenance database for the databases in `names` (see
    /// [`Self::maintenance`]).
    async fn read_for(
        &self,
        mode: Mode,
        names: &[&str],
        sql: &str,
        params: &[Option<&str>],
    ) -> Result<QueryResult, Error> {
        let not_started = || read_interrupted(sql, Stage::NotStarted);
        loop {
            if self.refused(mode) {
                return Err(not_started());
            }
            let (db, mut conn, reused) = self.maintenance_reused(names).await?;
            let Some(flight) = self.begin(mode, &conn) else {
                self.release(db, conn);
                return Err(not_started());
            };
            let result = if params.is_empty() {
                flight
                    .run(conn.simple_query(sql))
                    .await
                    .map(|mut r| r.pop().unwrap_or_else(QueryResult::empty))
            } else {
                flight.run(conn.query(sql, params)).await
            };
            let interrupted = flight.finish();
            if !interrupted {
                self.release(db, conn);
            }
            match result {
                Err(Error::Query(e)) if reused && e.connection_lost => continue,
                Err(e) if interrupted && is_cancel(&e) => {
                    return Err(read_interrupted(sql, Stage::Cancelled))
                }
                result => return result,
            }
        }
    }

    /// Keeps a maintenance connection on `postgres` for reuse, if it is idle and there is
    /// room. (Never one on `template1`: it would block every `CREATE DATABASE` that copies
    /// the default template.)
    fn release(&self, db: &'static str, conn: Connection) {
        let mut idle = self.idle_connections();
        if db == MAINTENANCE_DB && idle.len() < MAX_IDLE {
            if let Some(parked) = conn.park() {
                idle.push(parked);
            }
        }
    }

    /// Runs one DDL statement about `names` (the first is the database it acts on). If the
    /// connection is lost after the statement was sent, the outcome is unknown: the error
    /// says what `pg_database` shows after reconnecting, and nothing is retried.
    ///
    /// If the cluster is interrupted before or while it runs, the error is
    /// [`Error::Interrupted`] (not started, cancelled, or finished first), with what
    /// `pg_database` shows for the database once the statement ended.
    async fn ddl(&self, names: &[&str], sql: &str) -> Result<(), Error> {
        self.ddl_as(Mode::Work, names, sql).await
    }

    async fn ddl_as(&self, mode: Mode, names: &[&str], sql: &str) -> Result<(), Error> {
        self.ddl_checked(mode, names, sql, None).await
    }

    /// [`Self::ddl_as`] for a `CREATE DATABASE` with `options`: on a server too old for one
    /// of them, [`Error::ServerTooOld`] once the connection told the server's version,
    /// before the statement is sent.
    async fn ddl_checked(
        &self,
        mode: Mode,
        names: &[&str],
        sql: &str,
        options: Option<&CreateOptions>,
    ) -> Result<(), Error> {
        if self.refused(mode) {
            return Err(self.interrupted(names, sql, Stage::NotStarted).await);
        }
        loop {
            let (db, mut conn, reused) = self.maintenance_reused(names).await?;
            if let Some(e) = options.and_then(|options| too_old(options, &conn)) {
                self.release(db, conn);
                return Err(e);
            }
            if self.planned(db, sql) {
                self.release(db, conn);
                return Ok(());
            }
            let Some(flight) = self.begin(mode, &conn) else {
                self.release(db, conn);
                return Err(self.interrupted(names, sql, Stage::NotStarted).await);
            };
            let server = format!("{}:{}", conn.host(), conn.port());
            let result = flight.run(conn.simple_query(sql)).await;
            let interrupted = flight.finish();
            // A kept connection whose server now refuses writes (a standby, after a
            // failover): the statement did nothing; the connection is dropped, and the
            // statement sent again on a new one, which goes to the primary.
            let read_only = reused
                && !interrupted
                && matches!(&result, Err(e) if e.sqlstate() == Some(READ_ONLY_SQL_TRANSACTION));
            if read_only {
                continue;
            }
            if !interrupted {
                self.release(db, conn);
            }
            return match result {
                Ok(_) if interrupted => Err(self.interrupted(names, sql, Stage::Finished).await),
                Ok(_) => Ok(()),
                Err(Error::Query(cause)) if cause.connection_lost => {
                    let database = names.first().copied().unwrap_or_default().to_owned();
                    let exists = self.exists_as(Mode::Owed, &database).await.ok();
                    Err(Error::OutcomeUnknown(Box::new(OutcomeUnknown {
                        cause,
                        statement: sql.to_owned(),
                        server,
                        database,
                        exists,
                    })))
                }
                Err(e) if interrupted && is_cancel(&e) => {
                    Err(self.interrupted(names, sql, Stage::Cancelled).await)
                }
                Err(e) => Err(e),
            };
        }
    }

    /// [`Error::Interrupted`] for DDL statement `sql` about `names`, stopped at `stage`,
    /// with what `pg_database` now shows for the database it acts on.
    async fn interrupted(&self, names: &[&str], sql: &str, stage: Stage) -> Error {
        let database = names.first().copied().unwrap_or_default();
        Error::Interrupted(Box::new(Interrupted {
            action: Some(format!(
                "{} \"{}\"",
                ddl_command(sql),
                database.escape_debug()
            )),
            statement: sql.to_owned(),
            stage,
            database: Some(database.to_owned()),
            exists: self.exists_as(Mode::Owed, database).await.ok(),
            dropped: None,
        }))
    }

    /// Whether database `name` (default: the setting's database) exists. The name is bound
    /// as a `text` parameter and compared as `text`, so a name longer than 63 bytes never
    /// matches a truncated one and no setting of the session can change what is matched.
    pub async fn exists(&self, name: impl DatabaseName) -> Result<bool, Error> {
        let name = self.target(name.database_name())?;
        self.exists_as(Mode::Work, &name).await
    }

    async fn exists_as(&self, mode: Mode, name: &str) -> Result<bool, Error> {
        let result = self
            .read_as(
                mode,
                "SELECT TRUE FROM pg_catalog.pg_database AS d WHERE d.datname::text = $1::text",
                &[Some(name)],
            )
            .await?;
        Ok(!result.rows.is_empty())
    }

    /// Creates database `name` (`None`: the setting's database), UTF-8, from the server's
    /// default template (rex's `create(name)`). For a template, an owner and the rest, see
    /// [`Self::create_with`]; to copy a database, [`Self::copy_database`].
    pub async fn create(&self, name: impl DatabaseName) -> Result<(), Error> {
        self.create_with(name, &CreateOptions::new()).await
    }

    /// Creates database `name` (`None`: the setting's database) with `options` (rex's
    /// `create(name, template)` is `create_with(name, &CreateOptions::new().template(t))`).
    pub async fn create_with(
        &self,
        name: impl DatabaseName,
        options: &CreateOptions,
    ) -> Result<(), Error> {
        let name = self.target(name.database_name())?;
        let sql = options.sql(&name)?;
        let mut names = vec![name.as_str()];
        names.extend(options.template_name());
        match self
            .ddl_checked(Mode::Work, &names, &sql, Some(options))
            .await
        {
            // `source database "x" is being accessed by other users`: the sessions on it.
            Err(e) => {
                let source = options.template_name().unwrap_or(DEFAULT_TEMPLATE);
                Err(self.with_sessions(e, source).await)
            }
            ok => ok,
        }
    }

    /// The spec's `clone(template, name)`: creates database `name` (`None`: the setting's
    /// database) as a copy of database `template`. The source comes first, as in
    /// `std::fs::copy(from, to)`.
    #[doc(alias = "clone")]
    pub async fn copy_database(
        &self,
        template: impl AsRef<str>,
        name: impl DatabaseName,
    ) -> Result<(), Error> {
        let options = CreateOptions::new().template(template.as_ref());
        self.create_with(name, &options).await
    }

    /// The spec's `drop(name)`: drops database `name`; with `None`, the database the
    /// setting names explicitly ([`Self::named_database`]). A setting that names none is
    /// refused with [`Error::DatabaseNotNamed`] before anything is sent:
    /// `drop_database(None)` never drops a default (`PGDATABASE`, a service file, the user
    /// name), as `dropdb` never does.
    #[doc(alias = "drop")]
    pub async fn drop_database(&self, name: impl DatabaseName) -> Result<(), Error> {
        self.drop_database_with(name, &DropOptions::new()).await
    }

    /// Drops database `name` with `options` (`IF EXISTS`, `FORCE`); with `None`, the
    /// database the setting names explicitly, never a default (see
    /// [`Self::drop_database`]). `FORCE` needs PostgreSQL 13 or later: an older server gets
    /// [`Error::ServerTooOld`], and nothing is sent.
    pub async fn drop_database_with(
        &self,
        name: impl DatabaseName,
        options: &DropOptions,
    ) -> Result<(), Error> {
        self.drop_database_watching(name, options, &mut |_, _| {})
            .await
    }

    /// [`Error::ServerTooOld`] if the server has no `DROP DATABASE ... WITH (FORCE)`, asked
    /// on a maintenance connection for `name` (the version comes with it: nothing is sent).
    async fn check_force(&self, name: &str) -> Result<(), Error> {
        let (db, conn) = self.maintenance(&[name]).await?;
        let too_old = force_too_old(&conn);
        self.release(db, conn);
        too_old.map_or(Ok(()), Err)
    }

    /// Drops database `name` (checked) with `options`, as work or as what is owed. `FORCE`
    /// needs PostgreSQL 13: an older server gets [`Error::ServerTooOld`], and nothing is sent
    /// (the version comes with the connection).
    async fn drop_as(&self, mode: Mode, name: &str, options: DropOptions) -> Result<(), Error> {
        let sql = options.sql(name)?;
        if options.is_force() {
            self.check_force(name).await?;
        }
        match self.ddl_as(mode, &[name], &sql).await {
            Err(e) => Err(self.with_sessions(e, name).await),
            ok => ok,
        }
    }

    /// Renames database `name` to `new` (the new name first, as in the spec); with `None`,
    /// the database the setting names explicitly. Renaming takes the name away as dropping does, so a
    /// setting that names none is refused the same way ([`Error::DatabaseNotNamed`],
    /// before anything is sent), never renaming a default.
    pub async fn rename(&self, new: impl AsRef<str>, name: impl DatabaseName) -> Result<(), Error> {
        let new = new.as_ref();
        let name = self.destructive_target(name.database_name(), Destructive::Rename)?;
        name::check(new)?;
        let sql = format!(
            "ALTER DATABASE {} RENAME TO {};",
            quote_ident(&name),
            quote_ident(new)
        );
        match self.ddl(&[&name, new], &sql).await {
            Err(e) => Err(self.with_sessions(e, &name).await),
            ok => ok,
        }
    }

    /// Every database of the cluster, by name.
    pub async fn list(&self) -> Result<Vec<DatabaseInfo>, Error> {
        let result = self.read(list::SQL, &[]).await?;
        result.rows.iter().map(|row| list::parse_row(row)).collect()
    }

    /// The databases pgcluster's own interrupted work left behind: those whose names are
    /// the temporary names `overwrite` makes, `pgcluster_(new|old)_<pid>_<n>_<8 hex>`
    /// ([`is_temporary_name`]), and nothing else.
    ///
    /// An `overwrite` running at this moment, in any process, has such databases too: it
    /// drops them itself when it ends.
    pub async fn leftovers(&self) -> Result<Vec<DatabaseInfo>, Error> {
        let mut databases = self.list().await?;
        databases.retain(|d| is_temporary_name(&d.name));
        Ok(databases)
    }

    /// Drops every database [`Cluster::leftovers`] lists, each with
    /// `DROP DATABASE IF EXISTS` (no `FORCE`: one with sessions on it stays). Returns those
    /// dropped, or the first failure once every drop was tried. Do not run it while an
    /// `overwrite` is under way on the cluster: it would drop that one's new copy, and the
    /// `overwrite` would fail (its database unchanged).
    pub async fn cleanup(&self) -> Result<Vec<DatabaseInfo>, Error> {
        let mut dropped = Vec::new();
        let mut first = None;
        for leftover in self.leftovers().await? {
            match self
                .drop_as(
                    Mode::Work,
                    &leftover.name,
                    DropOptions::new().if_exists(true),
                )
                .await
            {
                Ok(()) => dropped.push(leftover),
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        first.map_or(Ok(dropped), Err)
    }

    /// After `overwrite` of `name` failed with `e` once the temporary database `fresh` may
    /// exist: drops `fresh` (owed, so also after an interrupt) and names it in the error if
    /// it is left. An interrupt's report then says what `pg_database` shows for `name`, and
    /// that `fresh` was dropped.
    pub(super) async fn discard(&self, e: Error, name: &str, fresh: &str) -> Error {
        let dropped = match self.ddl_as(Mode::Owed, &[fresh], &drop_sql(fresh)).await {
            Ok(()) => Some(fresh.to_owned()),
            Err(e) if e.sqlstate() == Some(UNDEFINED_DATABASE) => None,
            Err(_) => return Error::left_behind(e, Some(fresh.to_owned())),
        };
        match e {
            Error::Interrupted(mut i) => {
                i.database = Some(name.to_owned());
                i.exists = self.exists_as(Mode::Owed, name).await.ok();
                i.dropped = dropped;
                Error::Interrupted(i)
            }
            e => e,
        }
    }

    /// Drops database `name` (checked) with `options` as what an interrupted operation
    /// owes: no interrupt refuses or cancels it.
    pub(super) async fn drop_owed(&self, name: &str, options: DropOptions) -> Result<(), Error> {
        self.drop_as(Mode::Owed, name, options).await
    }
}

/// The first version with `DROP DATABASE ... WITH (FORCE)`, which `drop --force` and
/// `overwrite` use: the oldest server pgcluster supports for them.
const FORCE_VERSION_NUM: u32 = 130_000;

/// [`Error::ServerTooOld`] if the server of `conn` has no `DROP DATABASE ... WITH (FORCE)`.
fn force_too_old(conn: &Connection) -> Option<Error> {
    let version = conn.server_version_num().unwrap_or(0);
    (version < FORCE_VERSION_NUM).then(|| {
        Error::ServerTooOld(ServerTooOld::new(
            "DROP DATABASE",
            "FORCE",
            FORCE_VERSION_NUM,
            version,
        ))
    })
}

/// [`Error::ServerTooOld`] for the first of `options` the server of `conn` does not have.
fn too_old(options: &CreateOptions, conn: &Connection) -> Option<Error> {
    let version = conn.server_version_num().unwrap_or(0);
    options.unsupported_on(version).map(|needs| {
        Error::ServerTooOld(ServerTooOld::new(
            "CREATE DATABASE",
            needs.option,
            needs.version_num,
            version,
        ))
    })
}

/// SQLSTATE `query_canceled`: a cancel request (or a statement timeout) stopped it.
const QUERY_CANCELED: &str = "57014";
/// SQLSTATE `read_only_sql_transaction`: `cannot execute CREATE DATABASE in a read-only
/// transaction`, as a standby answers.
const READ_ONLY_SQL_TRANSACTION: &str = "25006";
/// SQLSTATE `invalid_catalog_name`: `database "x" does not exist`.
const UNDEFINED_DATABASE: &str = "3D000";

/// [`Error::Interrupted`] for a read of the catalog, `sql`, stopped at `stage`.
fn read_interrupted(sql: &str, stage: Stage) -> Error {
    Error::Interrupted(Box::new(Interrupted::read(sql, stage)))
}

/// Whether `e` is the server's answer to a cancel request.
fn is_cancel(e: &Error) -> bool {
    matches!(e, Error::Query(q) if !q.connection_lost) && e.sqlstate() == Some(QUERY_CANCELED)
}

/// `CREATE DATABASE`, `DROP DATABASE` or `ALTER DATABASE`: the command of DDL statement
/// `sql` (the first one of a transaction).
fn ddl_command(sql: &str) -> &str {
    let sql = sql.strip_prefix("BEGIN; ").unwrap_or(sql);
    let end = sql.match_indices(' ').nth(1).map_or(sql.len(), |(i, _)| i);
    &sql[..end]
}

/// `DROP DATABASE "name";`
fn drop_sql(name: &str) -> String {
    format!("DROP DATABASE {};", quote_ident(name))
}

impl fmt::Debug for Cluster {
    /// A Rust view: the setting, any password shown as `xxx`. rex's repr is
    /// [`Cluster::repr`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("setting", &self.setting.render())
            .finish_non_exhaustive()
    }
}
