//! The blocking `Cluster`: the cluster layer's one implementation (the async `Cluster`,
//! crate-private without the `async` feature), its connections on the blocking driver's
//! std sockets, each call run to its end by [`block_on`] (no runtime).

use std::fmt;

use super::connection::Connection;
use crate::cluster::{self, CreateOptions, DatabaseInfo, DatabaseName, DropOptions, Interrupter};
use crate::conninfo::{Config, Env};
use crate::driver::{block_on, Kind};
use crate::error::Error;

/// The cluster a connection setting points at, with blocking methods (the spec's API).
/// Its connections are std sockets: no runtime, no other thread (in an async task each
/// call would block the runtime's thread as well: use the async `pgcluster::Cluster`
/// there, feature `async`).
///
/// ```no_run
/// use pgcluster::blocking::get_cluster;
///
/// let cluster = get_cluster("pgsql:///deploy_demo")?;
/// assert_eq!(cluster.repr(), "Cluster('pgsql:///deploy_demo')");
/// let name = String::from("deploy_demo_derived");
/// cluster.create(&name)?;
/// assert!(cluster.exists(&name)?);
/// cluster.drop_database(&name)?;
/// assert!(!cluster.exists(name)?);
/// // `None`: the setting's own database.
/// assert!(cluster.exists(None)?);
/// # Ok::<(), pgcluster::Error>(())
/// ```
pub struct Cluster {
    /// Opens [`Kind::Blocking`] connections only.
    inner: cluster::Cluster,
}

/// A cluster for the application's database setting, as [`Cluster::new`] makes it, that
/// refuses anything that is not PostgreSQL: `pgsql`, `postgres` and `postgresql` URIs and
/// libpq `key=value` strings are PostgreSQL (rex itself took only `pgsql`).
///
/// # Errors
///
/// [`Error::NotPostgres`] for another engine's URI (`mysql://...`), with htsql's text;
/// [`Error::RexSetting`] or [`Error::ConnInfo`] for a setting that does not parse. Nothing is
/// sent: the setting is only parsed.
///
/// ```
/// use pgcluster::blocking::get_cluster;
///
/// assert!(get_cluster("pgsql:///deploy_demo").is_ok());
/// let e = get_cluster("mysql://h/deploy_demo").unwrap_err();
/// assert_eq!(
///     e.to_string(),
///     "Expected a PostgreSQL database; got:\n    mysql://h/deploy_demo"
/// );
/// ```
pub fn get_cluster(setting: &str) -> Result<Cluster, Error> {
    Ok(Cluster {
        inner: cluster::Cluster::get_with(setting, Kind::Blocking)?,
    })
}

impl Cluster {
    /// A cluster for `setting`: a rex URI (`pgsql://user:pass@host:port/db`), a libpq URI
    /// (`postgres://...`) or a libpq `key=value` string. What the setting leaves out
    /// (host, port, user, password, database) comes from the process environment, as libpq
    /// takes it, when a connection is opened. Nothing is sent here.
    ///
    /// # Errors
    ///
    /// [`Error::RexSetting`] or [`Error::ConnInfo`] for a setting that does not parse. A
    /// URI of another engine is taken here (rex's `Cluster` did not check it either); use
    /// [`get_cluster`] to refuse it.
    ///
    /// ```
    /// use pgcluster::blocking::Cluster;
    ///
    /// let cluster = Cluster::new("host=db.example port=5433 dbname=deploy_demo")?;
    /// assert_eq!(cluster.named_database(), Some("deploy_demo"));
    /// let e = Cluster::new("dbname=deploy_demo colour=blue").unwrap_err();
    /// assert!(e.to_string().contains("invalid connection option \"colour\""));
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn new(setting: &str) -> Result<Self, Error> {
        Ok(Self {
            inner: cluster::Cluster::new_with(setting, Kind::Blocking)?,
        })
    }

    /// rex's repr of the cluster, as the spec shows it: `Cluster('pgsql:///deploy_demo')`,
    /// the setting in Python's `repr()`, any password shown as `xxx`.
    ///
    /// ```
    /// let cluster = pgcluster::blocking::get_cluster("pgsql://aladdin:opensesame@h:2345/db")?;
    /// assert_eq!(cluster.repr(), "Cluster('pgsql://aladdin:xxx@h:2345/db')");
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn repr(&self) -> String {
        self.inner.repr()
    }

    /// A cluster for libpq settings already parsed ([`Config`]). It returns a `Result`
    /// for symmetry with [`Cluster::new`]; it does not fail today.
    ///
    /// ```
    /// use pgcluster::blocking::Cluster;
    /// use pgcluster::conninfo::Config;
    ///
    /// let config = Config::parse("host=/run/postgresql dbname=deploy_demo")?;
    /// let cluster = Cluster::from_config(config)?;
    /// assert_eq!(cluster.named_database(), Some("deploy_demo"));
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn from_config(config: Config) -> Result<Self, Error> {
        Ok(Self {
            inner: cluster::Cluster::from_config_with(config, Kind::Blocking),
        })
    }

    /// Uses `env` instead of the process environment for libpq's defaults (`PGHOST`,
    /// `PGDATABASE`, `PGPASSFILE`, ...), e.g. to run with a controlled environment in a
    /// test. Idle maintenance connections opened with the old environment are dropped.
    ///
    /// ```
    /// use pgcluster::blocking::Cluster;
    /// use pgcluster::conninfo::Env;
    ///
    /// let env = Env::empty().with("PGDATABASE", "from_env");
    /// let cluster = Cluster::new("postgres://")?.with_env(env);
    /// assert_eq!(cluster.database()?, "from_env");
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn with_env(self, env: Env) -> Self {
        Self {
            inner: self.inner.with_env(env),
        }
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
    /// # Errors
    ///
    /// Those of [`get_cluster`] for a setting that does not parse or is not PostgreSQL.
    ///
    /// ```
    /// use pgcluster::blocking::Cluster;
    ///
    /// let cluster = Cluster::new("postgres://app:pw@pooler.example:6432/app")?
    ///     .with_maintenance("postgres://app:pw@db.example:5432/app")?;
    /// assert_eq!(
    ///     cluster.maintenance_repr().as_deref(),
    ///     Some("'postgres://app:xxx@db.example:5432/app'")
    /// );
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn with_maintenance(self, setting: &str) -> Result<Self, Error> {
        Ok(Self {
            inner: self.inner.with_maintenance(setting)?,
        })
    }

    /// Where maintenance connections go when there is a maintenance setting
    /// ([`Cluster::with_maintenance`]), in the form of [`Cluster::server`]; `None` without
    /// one (they go to [`Cluster::server`]).
    pub fn maintenance_server(&self) -> Option<Result<String, Error>> {
        self.inner.maintenance_server()
    }

    /// The maintenance setting of [`Cluster::with_maintenance`], as [`Cluster::repr`] shows
    /// a setting (Python's `repr()`, any password as `xxx`); `None` without one.
    pub fn maintenance_repr(&self) -> Option<String> {
        self.inner.maintenance_repr()
    }

    /// Takes the warnings libpq would have printed on stderr while this cluster connected
    /// (e.g. a password file readable by others, which is then ignored), oldest first, each
    /// once. The library never prints them.
    pub fn take_warnings(&self) -> Vec<String> {
        self.inner.take_warnings()
    }

    /// What stops this cluster's work from another thread (see [`Interrupter`]): call
    /// [`Interrupter::interrupt`] from another thread (e.g. one that handles signals) to
    /// stop the call this thread is in. The statements under way are cancelled and no new
    /// one is sent; an interrupted call returns [`Error::Interrupted`], which says what
    /// `pg_database` shows once the statement ended. The clean-up an operation owes (an
    /// `overwrite` dropping its temporary copy) still runs.
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// let interrupter = cluster.interrupter();
    /// std::thread::spawn(move || {
    ///     std::thread::sleep(std::time::Duration::from_secs(60));
    ///     interrupter.interrupt();
    /// });
    /// match cluster.copy_database("deploy_demo", "deploy_demo_copy") {
    ///     Err(pgcluster::Error::Interrupted(report)) => eprintln!("{report}"),
    ///     other => other?,
    /// }
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn interrupter(&self) -> Interrupter {
        self.inner.interrupter()
    }

    /// The setting's database: what a `None` name means in `connect`, `exists`, `create`,
    /// `create_with` and `copy_database`. That is the database the setting names
    /// ([`Self::named_database`]), else the one a connection would take, as libpq does:
    /// `PGDATABASE`, a service file's `dbname`, else the user name. Reads only local
    /// settings; sends nothing.
    ///
    /// # Errors
    ///
    /// [`Error::ConnInfo`] when the local settings do not resolve (e.g. a `PGSERVICE` that
    /// no service file defines).
    ///
    /// ```
    /// let cluster = pgcluster::blocking::Cluster::new("postgres://h/deploy_demo")?;
    /// assert_eq!(cluster.database()?, "deploy_demo");
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn database(&self) -> Result<String, Error> {
        self.inner.database()
    }

    /// The database the setting names explicitly, if it names one: a rex setting's
    /// database, a libpq URI's path (`postgres://h/db`) or `?dbname=`, or a non-empty
    /// `dbname=` in a `key=value` string. What a `None` name means in `drop_database`,
    /// `drop_database_with`, `overwrite` and `rename`; a default from `PGDATABASE`, a
    /// service file or the user name does not count (as `dropdb` never takes a default).
    ///
    /// ```
    /// use pgcluster::blocking::Cluster;
    ///
    /// let cluster = Cluster::new("postgres://h/deploy_demo")?;
    /// assert_eq!(cluster.named_database(), Some("deploy_demo"));
    /// let cluster = Cluster::new("postgres://postgres@127.0.0.1:5455")?;
    /// assert_eq!(cluster.named_database(), None);
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn named_database(&self) -> Option<&str> {
        self.inner.named_database()
    }

    /// The libpq settings the setting stands for, before the environment is applied: every
    /// keyword of a libpq URI or `key=value` string; a rex setting's host, port, user,
    /// password and database (all rex passes to libpq).
    ///
    /// ```
    /// let cluster = pgcluster::blocking::get_cluster("pgsql://deploy@db1:5433/deploy_demo")?;
    /// let config = cluster.config();
    /// assert_eq!(config.get("host"), Some("db1"));
    /// assert_eq!(config.get("dbname"), Some("deploy_demo"));
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn config(&self) -> Config {
        self.inner.config()
    }

    /// Where connections go, for people to read (a confirmation prompt): `host:port` for
    /// TCP (`[addr]:port` for an IPv6 address), the socket's path for a Unix socket, several
    /// hosts separated by `, `. Reads the local settings (environment, service file) as a
    /// connection does; sends nothing, and never shows a password.
    ///
    /// # Errors
    ///
    /// [`Error::ConnInfo`] when the local settings do not resolve.
    ///
    /// ```
    /// use pgcluster::blocking::Cluster;
    ///
    /// let cluster = Cluster::new("postgres://aladdin:opensesame@db1:5433,[::1]:5434/app")?;
    /// assert_eq!(cluster.server()?, "db1:5433, [::1]:5434");
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn server(&self) -> Result<String, Error> {
        self.inner.server()
    }

    /// Opens a blocking connection to database `name` (`None`: the setting's database,
    /// [`Self::database`]), libpq's way: each host in order, each address in order, with
    /// `connect_timeout` per address. The connection is the caller's: it outlives this
    /// `Cluster` if need be, and an [`Interrupter`] does not touch it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] for a name refused before anything is sent (empty, over 63
    /// bytes, NUL); [`Error::Connect`] with libpq's whole message when no host took the
    /// connection (e.g. `FATAL:  database "x" does not exist`).
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// let mut conn = cluster.connect(None)?;
    /// let result = conn.query("SELECT $1::int + 1 AS n", &[Some("41")])?;
    /// assert_eq!(result.row(0).and_then(|row| row.get("n")), Some("42"));
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn connect(&self, name: impl DatabaseName) -> Result<Connection, Error> {
        let conn = block_on(self.inner.connect(name))?;
        Ok(Connection::from_inner(conn))
    }

    /// rex's `connect(name, autocommit)`: [`Cluster::connect`], then autocommit set as
    /// asked (with it off, `BEGIN` goes before the first statement; see
    /// [`Connection::set_autocommit`]).
    ///
    /// # Errors
    ///
    /// Those of [`Cluster::connect`].
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// let mut conn = cluster.connect_with(None, false)?;
    /// conn.simple_query("CREATE TABLE deploy_log (line text)")?; // after BEGIN
    /// conn.commit()?;
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn connect_with(
        &self,
        name: impl DatabaseName,
        autocommit: bool,
    ) -> Result<Connection, Error> {
        let conn = block_on(self.inner.connect_with(name, autocommit))?;
        Ok(Connection::from_inner(conn))
    }

    /// This cluster, recording instead of sending every statement that changes something
    /// (`CREATE`, `DROP`, `ALTER DATABASE`): each call then returns as if
    /// it had succeeded, and [`Self::take_planned`] gives what it would have run, and on
    /// which maintenance database. Read-only lookups are still sent (they decide what
    /// would run: whether a database exists, what `overwrite` copies, the server's
    /// version).
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?.dry_run();
    /// cluster.rename("deploy_demo_old", None)?;
    /// let planned = cluster.take_planned();
    /// assert_eq!(planned[0].database, "postgres");
    /// assert_eq!(
    ///     planned[0].sql,
    ///     r#"ALTER DATABASE "deploy_demo" RENAME TO "deploy_demo_old";"#
    /// );
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn dry_run(self) -> Self {
        Self {
            inner: self.inner.dry_run(),
        }
    }

    /// Whether this is a dry-run cluster ([`Self::dry_run`]).
    pub fn is_dry_run(&self) -> bool {
        self.inner.is_dry_run()
    }

    /// The statements a dry-run cluster recorded, oldest first, each once (empty for a
    /// cluster that sends them).
    pub fn take_planned(&self) -> Vec<cluster::PlannedStatement> {
        self.inner.take_planned()
    }

    /// Whether the server accepts connections, as libpq's `PQping` and `pg_isready` tell:
    /// a connection to the setting's database is opened and closed. A server that refuses
    /// with any error but "cannot connect now" (SQLSTATE 57P03) is up
    /// ([`Ping::Accepting`](cluster::Ping::Accepting): a wrong password or a missing
    /// database needs a running server); settings that cannot be used are
    /// [`Ping::NoAttempt`](cluster::Ping::NoAttempt). `connect_timeout` bounds the attempt
    /// when the setting has no `connect_timeout` of its own (whole seconds, rounded up).
    ///
    /// ```no_run
    /// use pgcluster::cluster::Ping;
    ///
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// let ping = cluster.ping(Some(std::time::Duration::from_secs(3)));
    /// if ping != Ping::Accepting {
    ///     eprintln!("server: {}", ping.text()); // e.g. "no response"
    ///     std::process::exit(ping.exit_status().into()); // pg_isready's status
    /// }
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn ping(&self, connect_timeout: Option<std::time::Duration>) -> cluster::Ping {
        block_on(self.inner.ping(connect_timeout))
    }

    /// Whether database `name` (`None`: the setting's database) exists. The name is bound
    /// as a `text` parameter and compared as `text`, so a name longer than 63 bytes never
    /// matches a truncated one and no setting of the session can change what is matched.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] before anything is sent; [`Error::Connect`] when the
    /// maintenance database (`postgres`) cannot be reached; [`Error::Query`] when the server
    /// refuses the read; [`Error::Interrupted`] after [`Self::interrupter`] was used.
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// if !cluster.exists("deploy_demo_derived")? {
    ///     cluster.create("deploy_demo_derived")?;
    /// }
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn exists(&self, name: impl DatabaseName) -> Result<bool, Error> {
        block_on(self.inner.exists(name))
    }

    /// Creates database `name` (`None`: the setting's database), UTF-8, from the server's
    /// default template (rex's `create(name)`). For a template, an owner and the rest, see
    /// [`Self::create_with`]; to copy a database, [`Self::copy_database`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] before anything is sent; [`Error::Connect`];
    /// [`Error::Query`] with the server's text (e.g. `ERROR:  database "x" already
    /// exists`); [`Error::OutcomeUnknown`] when the connection was lost after the
    /// statement was sent (it is not retried; the error says whether `pg_database` lists
    /// the database); [`Error::Interrupted`].
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// let name = String::from("deploy_demo_derived");
    /// cluster.create(&name)?;
    /// assert!(cluster.exists(&name)?);
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn create(&self, name: impl DatabaseName) -> Result<(), Error> {
        block_on(self.inner.create(name))
    }

    /// Creates database `name` (`None`: the setting's database) with `options`: a template,
    /// an owner, an encoding and the rest, by name (rex's `create(name, template)` is
    /// `create_with(name, &CreateOptions::new().template(t))`).
    ///
    /// # Errors
    ///
    /// Those of [`Self::create`], and [`Error::InvalidName`] for a template or owner name
    /// refused before anything is sent.
    ///
    /// ```no_run
    /// use pgcluster::cluster::CreateOptions;
    ///
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// let options = CreateOptions::new().template("template0").owner("deploy");
    /// cluster.create_with("deploy_demo_derived", &options)?;
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn create_with(
        &self,
        name: impl DatabaseName,
        options: &CreateOptions,
    ) -> Result<(), Error> {
        block_on(self.inner.create_with(name, options))
    }

    /// The spec's `clone(template, name)`: creates database `name` (`None`: the setting's
    /// database) as a copy of database `template`. The source comes first, as in
    /// `std::fs::copy(from, to)`. The server refuses to copy a database others are
    /// connected to.
    ///
    /// # Errors
    ///
    /// Those of [`Self::create`] (e.g. `ERROR:  source database "x" is being accessed by
    /// other users`).
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// cluster.copy_database("deploy_demo", "deploy_demo_backup")?;
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    #[doc(alias = "clone")]
    pub fn copy_database(
        &self,
        template: impl AsRef<str>,
        name: impl DatabaseName,
    ) -> Result<(), Error> {
        block_on(self.inner.copy_database(template, name))
    }

    /// The spec's `drop(name)`: drops database `name`; with `None`, the database the
    /// setting names explicitly ([`Self::named_database`]). A setting that names none is
    /// refused with [`Error::DatabaseNotNamed`] before anything is sent:
    /// `drop_database(None)` never drops a default (`PGDATABASE`, a service file, the user
    /// name), as `dropdb` never does.
    ///
    /// # Errors
    ///
    /// [`Error::DatabaseNotNamed`] and [`Error::InvalidName`] before anything is sent;
    /// [`Error::Connect`]; [`Error::Query`] (e.g. `ERROR:  database "x" does not exist`,
    /// or one in use); [`Error::OutcomeUnknown`]; [`Error::Interrupted`].
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// cluster.drop_database("deploy_demo_derived")?;
    /// // `None`: `deploy_demo`, which the setting names.
    /// cluster.drop_database(None)?;
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    #[doc(alias = "drop")]
    pub fn drop_database(&self, name: impl DatabaseName) -> Result<(), Error> {
        block_on(self.inner.drop_database(name))
    }

    /// Drops database `name` with `options` (`IF EXISTS`, `FORCE`, a drain); with `None`,
    /// the database the setting names explicitly, never a default (see
    /// [`Self::drop_database`]). `FORCE` needs PostgreSQL 13 or later: an older server gets
    /// [`Error::ServerTooOld`], and nothing is sent.
    ///
    /// # Errors
    ///
    /// Those of [`Self::drop_database`].
    ///
    /// ```no_run
    /// use pgcluster::cluster::DropOptions;
    ///
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// let options = DropOptions::new().if_exists(true).force(true);
    /// cluster.drop_database_with("deploy_demo_derived", &options)?;
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn drop_database_with(
        &self,
        name: impl DatabaseName,
        options: &DropOptions,
    ) -> Result<(), Error> {
        block_on(self.inner.drop_database_with(name, options))
    }

    /// [`Self::drop_database_with`], calling `watch` with the sessions still connected and
    /// the time left at each look while a drain ([`DropOptions::drain`]) waits for them.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use pgcluster::cluster::DropOptions;
    ///
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// let options = DropOptions::new().drain(Duration::from_secs(30));
    /// cluster.drop_database_watching("deploy_demo_derived", &options, &mut |sessions, left| {
    ///     eprintln!("{} sessions left, {} s to go", sessions.len(), left.as_secs());
    /// })?;
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn drop_database_watching(
        &self,
        name: impl DatabaseName,
        options: &DropOptions,
        watch: &mut (dyn FnMut(&[cluster::Session], std::time::Duration) + Send),
    ) -> Result<(), Error> {
        block_on(self.inner.drop_database_watching(name, options, watch))
    }

    /// The sessions connected to database `name`, as `pg_stat_activity` shows them to this
    /// role (our own excepted), oldest first: who blocks a drop. With `None`, the database
    /// the setting names.
    pub fn sessions(&self, name: impl DatabaseName) -> Result<Vec<cluster::Session>, Error> {
        block_on(self.inner.sessions(name))
    }

    /// Renames database `name` to `new` (the new name first, as in the spec); with `None`,
    /// the database the setting names explicitly. Renaming takes the name away as dropping
    /// does, so a setting that names none is refused the same way
    /// ([`Error::DatabaseNotNamed`], before anything is sent), never renaming a default.
    ///
    /// # Errors
    ///
    /// Those of [`Self::drop_database`], with [`Error::InvalidName`] for either name.
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// cluster.rename("deploy_demo_old", "deploy_demo_derived")?;
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn rename(&self, new: impl AsRef<str>, name: impl DatabaseName) -> Result<(), Error> {
        block_on(self.inner.rename(new, name))
    }

    /// Replaces database `name` (`None`: the database the setting names explicitly, never
    /// a default, as in [`Self::drop_database`]) by a new, empty one that keeps what the old
    /// one was (owner, encoding and locale, comment, privileges, settings, ...):
    /// [`Self::overwrite_with`] with no options.
    ///
    /// # Errors
    ///
    /// Those of [`Self::overwrite_with`].
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// cluster.overwrite(None)?; // `deploy_demo`, empty again
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn overwrite(&self, name: impl DatabaseName) -> Result<(), Error> {
        block_on(self.inner.overwrite(name))
    }

    /// Replaces database `name` (`None`: the database the setting names explicitly, never
    /// a default) by a new one made with `options`, so that the name is never missing and
    /// never shows a half-made database. What `options` does not give anew is kept from
    /// the old database: owner, encoding, collation and character classes, locale
    /// provider and locale, tablespace, template flag, connection settings, comment,
    /// privileges and settings. Its content is that of the template, not the old
    /// database's; a missing database is created with `options` alone.
    ///
    /// The new database is made under a temporary name, then the two names are swapped in
    /// one transaction, and the old database is dropped last, its sessions ended.
    ///
    /// # Errors
    ///
    /// Those of [`Self::drop_database`]. On failure the old database is still there under
    /// its name, or the new one is; [`Error::LeftBehind`] names any database left under a
    /// temporary name ([`Self::leftovers`] finds them later).
    ///
    /// ```no_run
    /// use pgcluster::cluster::CreateOptions;
    ///
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// cluster.overwrite_with(None, &CreateOptions::new().template("deploy_template"))?;
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn overwrite_with(
        &self,
        name: impl DatabaseName,
        options: &CreateOptions,
    ) -> Result<(), Error> {
        block_on(self.inner.overwrite_with(name, options))
    }

    /// Every database of the cluster, by name, with its owner, encoding, size and the
    /// rest ([`DatabaseInfo`]).
    ///
    /// # Errors
    ///
    /// [`Error::Connect`]; [`Error::Query`]; [`Error::Interrupted`].
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// for database in cluster.list()? {
    ///     println!("{}", database.name);
    /// }
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn list(&self) -> Result<Vec<DatabaseInfo>, Error> {
        block_on(self.inner.list())
    }

    /// The databases pgcluster's own interrupted work left behind: those whose names are
    /// the temporary names `overwrite` makes, `pgcluster_(new|old)_<pid>_<n>_<8 hex>`
    /// ([`is_temporary_name`](crate::cluster::is_temporary_name)), and nothing else. An
    /// `overwrite` running at this moment, in any process, has such databases too: it
    /// drops them itself when it ends.
    ///
    /// # Errors
    ///
    /// Those of [`Self::list`].
    pub fn leftovers(&self) -> Result<Vec<DatabaseInfo>, Error> {
        block_on(self.inner.leftovers())
    }

    /// Drops every database [`Self::leftovers`] lists, each with `DROP DATABASE IF EXISTS`
    /// (no `FORCE`: one with sessions on it stays). Do not run it while an `overwrite` is
    /// under way on the cluster: it would drop that one's new copy, and the `overwrite`
    /// would fail (its database unchanged).
    ///
    /// # Errors
    ///
    /// Those of [`Self::list`], or the first failed drop once every drop was tried.
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// for dropped in cluster.cleanup()? {
    ///     println!("dropped {}", dropped.name);
    /// }
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn cleanup(&self) -> Result<Vec<DatabaseInfo>, Error> {
        block_on(self.inner.cleanup())
    }
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}
