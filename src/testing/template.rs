//! Template databases keyed by their migrations, and the fresh databases cloned from them.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::clone_method::CloneMethod;
use super::config::percent_encode;
use super::owner::Owner;
use super::ready::{self, Ready};
use super::uri::libpq_url_parts;
use super::{hex, TestServer, SUPERUSER};
use crate::blocking::Connection;
use crate::conninfo::{Config, Env};
use crate::dbname::quote_ident;
use crate::Error;

/// The prefix of every finished template's name.
pub const TEMPLATE_PREFIX: &str = "pgcluster_tpl_";
/// The prefix of a template's name while it is being built.
pub const BUILDING_PREFIX: &str = "pgcluster_tpb_";
/// The longest family name (so that a template's name fits PostgreSQL's 63 bytes).
pub const MAX_FAMILY_LEN: usize = 36;
/// Hex digits of the key in a template's name.
const HASH_DIGITS: usize = 12;
/// The SQLSTATE of "database ... is being accessed by other users".
const OBJECT_IN_USE: &str = "55006";
/// The SQLSTATE of "template database ... does not exist" (a template swept meanwhile).
const INVALID_CATALOG_NAME: &str = "3D000";
/// How often a statement failing with 55006 is tried in all.
const BUSY_ATTEMPTS: u32 = 3;
/// The first pause after a 55006; doubled after each further one.
const BUSY_BACKOFF: Duration = Duration::from_millis(50);
/// Idle administration sessions a template keeps for its clones and drops.
const POOL_SIZE: usize = 4;
/// Clones made ahead for a template on a [`TestServer`] (see [`Migrations::ready`]).
pub const DEFAULT_READY: usize = 2;

/// The boxed error a setup closure returns (anything `?` takes).
pub type SetupError = Box<dyn std::error::Error + Send + Sync>;

/// The setup closure: gets a connection to the template being built.
type SetupFn = dyn Fn(&mut Connection) -> Result<(), SetupError> + Send + Sync;

/// Why a template or a fresh database could not be made or dropped.
#[non_exhaustive]
#[derive(Debug)]
pub enum TemplateError {
    /// The family name is not 1 to [`MAX_FAMILY_LEN`] bytes of `a-z`, `0-9` and `_`.
    Family {
        /// The name given.
        family: String,
    },
    /// The migrations directory or one of its files could not be read.
    Read {
        /// The directory or file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A migration file failed on the server; the template was not made.
    Migration {
        /// The file.
        path: PathBuf,
        /// The server's error.
        source: Error,
    },
    /// The setup closure failed; the template was not made.
    Setup {
        /// The closure's version string.
        version: String,
        /// What the closure returned.
        source: SetupError,
    },
    /// A database stayed busy: other sessions are connected to it.
    Busy {
        /// The database.
        database: String,
        /// The sessions connected to it when the last attempt failed.
        sessions: Vec<Session>,
        /// The server's error.
        source: Error,
    },
    /// Talking to the server failed while doing `action`.
    Server {
        /// What was being done, e.g. `create database "x"`.
        action: String,
        /// The error.
        source: Error,
    },
}

/// A session from `pg_stat_activity`, as [`TemplateError::Busy`] names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The backend's process id.
    pub pid: i32,
    /// The role (`usename`), if any.
    pub user: Option<String>,
    /// `application_name` (empty when not set).
    pub application_name: String,
    /// `client_addr`, or `None` for a Unix socket (or a background process).
    pub client_addr: Option<String>,
}

impl fmt::Display for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pid {}, user {}, application_name \"{}\", client {}",
            self.pid,
            self.user.as_deref().unwrap_or("(none)"),
            self.application_name.escape_debug(),
            self.client_addr.as_deref().unwrap_or("local socket"),
        )
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Family { family } => write!(
                f,
                "template family \"{}\" must be 1 to {MAX_FAMILY_LEN} bytes of a-z, 0-9 and _",
                family.escape_debug()
            ),
            Self::Read { path, source } => {
                write!(f, "cannot read migrations {}: {source}", path.display())
            }
            Self::Migration { path, source } => {
                write!(f, "migration {} failed: {source}", path.display())
            }
            Self::Setup { version, source } => write!(
                f,
                "template setup (version \"{}\") failed: {source}",
                version.escape_debug()
            ),
            Self::Busy {
                database,
                sessions,
                source,
            } => {
                write!(
                    f,
                    "database \"{}\" is being accessed by other sessions ({source})",
                    database.escape_debug()
                )?;
                if sessions.is_empty() {
                    f.write_str("; none is left in pg_stat_activity")?;
                }
                for session in sessions {
                    write!(f, "\n  {session}")?;
                }
                Ok(())
            }
            Self::Server { action, source } => write!(f, "cannot {action}: {source}"),
        }
    }
}

impl std::error::Error for TemplateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Family { .. } => None,
            Self::Read { source, .. } => Some(source),
            Self::Migration { source, .. }
            | Self::Busy { source, .. }
            | Self::Server { source, .. } => Some(source),
            Self::Setup { source, .. } => Some(&**source),
        }
    }
}

/// The inputs of a template: a family name, migration files and/or a setup closure.
///
/// [`Migrations`] names the inputs: a *family* (the application's name, e.g. `app`), a
/// directory of `.sql` files applied in name order, and/or a setup closure with a version
/// string the user bumps when the closure changes. Their SHA-256 is the template's *key*.
/// [`Migrations::build`] makes the template once per key and server and returns a
/// [`Template`]; [`Template::fresh`] clones it into a [`FreshDatabase`](super::FreshDatabase) for one test.
///
/// # How a template is built
///
/// On a session in the `postgres` database, under `pg_advisory_lock` on a number derived
/// from the family (so several test binaries or nextest processes building at once take
/// turns, and all but the first find the result):
///
/// 1. If `pgcluster_tpl_<family>_<hash>` exists, it is the finished template: reused.
/// 2. Otherwise a database left under the temporary name `pgcluster_tpb_<family>_<hash>`
///    by a builder that died is dropped, the temporary database is created from
///    `template0` (never connectable, so never busy), the `.sql` files are applied (each
///    file one simple query, in byte order of the file names) and then the setup closure,
///    the database is flagged `IS_TEMPLATE true ALLOW_CONNECTIONS false`, and finally it is
///    renamed to its real name. The rename is last, so a name in place is always complete.
/// 3. Templates (and leftover temporary databases) of the same family with another key
///    are swept: they are the migrations of another (usually an older) version of the
///    code.
///
/// `<hash>` is the first 12 hex digits of the key. Family names are 1 to 36 bytes of
/// `a-z`, `0-9` and `_` (so a name is at most 63 bytes and no family's names can be taken
/// for another's).
///
/// A build also sweeps what gone processes left, of any family: fresh databases
/// (`pgcluster_db_...`) and templates under construction whose recorded owner no longer
/// runs. Nothing else is touched: only databases whose names have exactly these shapes are
/// ever dropped.
///
/// # Clones and 55006
///
/// A template that allows no connections can only be "accessed by other users" (SQLSTATE
/// 55006) by a concurrent `CREATE DATABASE`, and those share their lock on it; so clones of
/// one template run in parallel without failing. A clone is still retried (a few times,
/// with a short backoff) if the server reports 55006; if it persists, the error names the
/// sessions connected to the database (from `pg_stat_activity`).
///
///
/// # Example
///
/// ```
/// use pgcluster::testing::{Migrations, TestServer};
///
/// let server = TestServer::shared()?;
/// let template = Migrations::new("app")
///     .dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/migrations"))
///     .setup("1", |conn| {
///         conn.simple_query("INSERT INTO users (name) VALUES ('admin')")?;
///         Ok(())
///     })
///     .build(server)?;
/// let db = template.fresh()?;
/// let mut conn = db.connect()?;
/// let users = conn.query("SELECT name FROM users", &[])?;
/// assert_eq!(users.rows, [[Some("admin".to_owned())]]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Migrations {
    family: String,
    dir: Option<PathBuf>,
    setup: Option<(String, Arc<SetupFn>)>,
    ready: Option<usize>,
}

impl fmt::Debug for Migrations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Migrations")
            .field("family", &self.family)
            .field("dir", &self.dir)
            .field("setup_version", &self.setup.as_ref().map(|(v, _)| v))
            .field("ready", &self.ready)
            .finish()
    }
}

impl Migrations {
    /// Inputs of the template family `family` (checked by [`build`](Self::build)): 1 to
    /// [`MAX_FAMILY_LEN`] bytes of `a-z`, `0-9` and `_`.
    pub fn new(family: &str) -> Self {
        Self {
            family: family.to_owned(),
            dir: None,
            setup: None,
            ready: None,
        }
    }

    /// Keeps `n` clones of the template made ahead, in the background, so that
    /// [`Template::fresh`] is a rename (see [`Template::fresh`]). The default is
    /// [`DEFAULT_READY`] for a template on a [`TestServer`], whose clones all go with the
    /// server when the process ends, and 0 for [`build_at`](Self::build_at) and
    /// [`build_with`](Self::build_with): on a server that outlives the process, clones
    /// still unused when it exits stay until a later run sweeps them (their owner is gone
    /// by then). Not part of the key.
    pub fn ready(mut self, n: usize) -> Self {
        self.ready = Some(n);
        self
    }

    /// Applies the `.sql` files of `dir` (not its subdirectories), in byte order of their
    /// names, each as one simple query (so several statements per file are fine, and run
    /// in one implicit transaction). Their names and contents are part of the key.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// Runs `setup` on a connection to the template being built, after the files. Its code
    /// cannot be hashed: `version` stands for it in the key, so change `version` whenever
    /// you change what `setup` does.
    pub fn setup<F>(mut self, version: &str, setup: F) -> Self
    where
        F: Fn(&mut Connection) -> Result<(), SetupError> + Send + Sync + 'static,
    {
        self.setup = Some((version.to_owned(), Arc::new(setup)));
        self
    }

    /// The family name.
    pub fn family(&self) -> &str {
        &self.family
    }

    /// The key: the SHA-256 (64 hex digits) of the family, each `.sql` file's name and
    /// contents, and the setup version. Reads the files.
    pub fn key(&self) -> Result<String, TemplateError> {
        check_family(&self.family)?;
        Ok(hex(&self.digest(&self.files()?)))
    }

    /// Builds the template on `server` if it is not there yet (see the
    /// [`Migrations`] documentation), sweeps the family's templates of other keys, and
    /// returns it. Blocks while another process builds the same family.
    pub fn build(&self, server: &TestServer) -> Result<Template, TemplateError> {
        self.build_on(Target::of(server))
    }

    /// [`build`](Self::build) on the server of a libpq connection string (`key=value` or
    /// `postgres://` URI; its database is ignored, `postgres` is used), resolved with the
    /// process environment as libpq does (`PGPASSWORD`, the password file, ...). The role
    /// must be allowed to create and drop databases.
    pub fn build_at(&self, conninfo: &str) -> Result<Template, TemplateError> {
        self.build_on(Target::parse(conninfo)?)
    }

    /// [`build_at`](Self::build_at) on settings already parsed (any database in them is
    /// ignored), resolved with the process environment. The `pgcluster template` command
    /// uses it with the settings of its `--db` / `$DATABASE_URL`.
    ///
    /// ```
    /// use pgcluster::conninfo::Config;
    /// use pgcluster::testing::{Migrations, TestServer};
    ///
    /// let server = TestServer::shared()?;
    /// let config = Config::parse(&server.libpq_uri("postgres", "ignored"))?;
    /// let template = Migrations::new("app")
    ///     .dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/migrations"))
    ///     .build_with(&config)?;
    /// assert!(template.name().starts_with("pgcluster_tpl_app_"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build_with(&self, config: &Config) -> Result<Template, TemplateError> {
        self.build_on(Target::from_config(config.clone())?)
    }

    fn build_on(&self, target: Target) -> Result<Template, TemplateError> {
        check_family(&self.family)?;
        let files = self.files()?;
        let key = hex(&self.digest(&files));
        let hash = key.get(..HASH_DIGITS).unwrap_or(&key);
        let mut admin = target
            .connect("postgres")
            .map_err(|source| TemplateError::Server {
                action: "connect to database \"postgres\"".into(),
                source,
            })?;
        let server_version = server_version(&mut admin)?;
        let throwaway = target.throwaway;
        let mut shared = Shared {
            name: format!("{TEMPLATE_PREFIX}{}_{hash}", self.family),
            key: key.clone(),
            target,
            migrations: self.clone(),
            pool: Mutex::new(Vec::new()),
            clone_unsupported: AtomicBool::new(false),
            ready: Ready::new(
                self.ready
                    .unwrap_or(if throwaway { DEFAULT_READY } else { 0 }),
            ),
            server_version,
            built_now: false,
        };
        shared.built_now = shared.ensure(&mut admin, &files)?;
        // Housekeeping: a failure here is no reason to fail the build (`Template::sweep`
        // reports it).
        let _ = shared.sweep_gone(&mut admin);
        shared.put_back(admin);
        let shared = Arc::new(shared);
        ready::refill(&shared);
        Ok(Template { shared })
    }

    /// The `.sql` files of the directory, sorted by name, with their contents.
    fn files(&self) -> Result<Vec<(PathBuf, String)>, TemplateError> {
        let Some(dir) = &self.dir else {
            return Ok(Vec::new());
        };
        let read_err = |path: &Path| {
            let path = path.to_owned();
            move |source| TemplateError::Read { path, source }
        };
        let mut paths = Vec::new();
        for entry in fs::read_dir(dir).map_err(read_err(dir))? {
            let path = entry.map_err(read_err(dir))?.path();
            if path.extension().is_some_and(|e| e == "sql") && path.is_file() {
                paths.push(path);
            }
        }
        paths.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
        paths
            .into_iter()
            .map(|path| {
                let text = fs::read_to_string(&path).map_err(read_err(&path))?;
                Ok((path, text))
            })
            .collect()
    }

    /// SHA-256 over the inputs, each length-prefixed so that no two input sets collide.
    fn digest(&self, files: &[(PathBuf, String)]) -> [u8; 32] {
        let mut hash = Sha256::new();
        let mut field = |bytes: &[u8]| {
            hash.update((bytes.len() as u64).to_be_bytes());
            hash.update(bytes);
        };
        field(b"pgcluster template 1");
        field(self.family.as_bytes());
        for (path, text) in files {
            let name = path
                .file_name()
                .map(|n| n.as_encoded_bytes())
                .unwrap_or(b"");
            field(b"file");
            field(name);
            field(text.as_bytes());
        }
        if let Some((version, _)) = &self.setup {
            field(b"setup");
            field(version.as_bytes());
        }
        hash.finalize().into()
    }
}

/// Fails unless `family` is 1 to [`MAX_FAMILY_LEN`] bytes of `a-z`, `0-9` and `_`.
fn check_family(family: &str) -> Result<(), TemplateError> {
    let ok = !family.is_empty()
        && family.len() <= MAX_FAMILY_LEN
        && family
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(TemplateError::Family {
            family: family.to_owned(),
        })
    }
}

/// A template built on a server: clone it with [`fresh`](Self::fresh). Cheap to clone
/// (shared); `Send` and `Sync`, so one can live in a `static` for a whole test binary.
#[derive(Clone)]
pub struct Template {
    pub(super) shared: Arc<Shared>,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template")
            .field("name", &self.shared.name)
            .field("key", &self.shared.key)
            .field("built_now", &self.shared.built_now)
            .finish()
    }
}

impl Template {
    /// The template database's name: `pgcluster_tpl_<family>_<12 hex digits of the key>`.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The key (64 hex digits; see [`Migrations::key`]).
    pub fn key(&self) -> &str {
        &self.shared.key
    }

    /// Whether [`Migrations::build`] built the template (`false`: it found it, built by an
    /// earlier run or by another process).
    pub fn built_now(&self) -> bool {
        self.shared.built_now
    }

    /// The server's `server_version_num`, e.g. `150004`.
    pub fn server_version(&self) -> u32 {
        self.shared.server_version
    }
}

/// Where the server is, for connections and for the connection strings shown to people.
#[derive(Debug, Clone)]
pub(super) struct Target {
    /// The settings without a database.
    config: Config,
    /// The environment the settings are resolved with.
    env: Env,
    /// `postgres://user@host:port` (percent-encoded, no password): a database's URI is
    /// `{uri_base}/{database}{uri_query}`.
    uri_base: String,
    /// `?key=value&...` of the settings passed on, or empty.
    uri_query: String,
    /// Whether it is a [`TestServer`] (gone with the process that started it).
    throwaway: bool,
}

impl Target {
    /// The server's socket, as the superuser.
    pub(super) fn of(server: &TestServer) -> Self {
        let sock = server.socket_dir().display().to_string();
        let mut config = Config::default();
        for (key, value) in [
            ("host", sock.as_str()),
            ("port", &server.port().to_string()),
            ("user", SUPERUSER),
        ] {
            config
                .set(key, value)
                .unwrap_or_else(|_| unreachable!("{key} is a libpq keyword"));
        }
        Self {
            config,
            env: Env::empty(),
            uri_base: format!(
                "postgres://{SUPERUSER}@{}:{}",
                percent_encode(&sock),
                server.port()
            ),
            uri_query: String::new(),
            throwaway: true,
        }
    }

    fn parse(conninfo: &str) -> Result<Self, TemplateError> {
        let config = Config::parse(conninfo).map_err(|e| TemplateError::Server {
            action: "parse the connection string".into(),
            source: e.into(),
        })?;
        Self::from_config(config)
    }

    fn from_config(mut config: Config) -> Result<Self, TemplateError> {
        config.unset("dbname");
        let env = Env::from_process();
        let (uri_base, uri_query) =
            libpq_url_parts(&config, &env).map_err(|e| TemplateError::Server {
                action: "resolve the connection settings".into(),
                source: e.into(),
            })?;
        Ok(Self {
            config,
            env,
            uri_base,
            uri_query,
            throwaway: false,
        })
    }

    /// A libpq URI of database `db` that `psql` takes, with no password.
    pub(super) fn uri(&self, db: &str) -> String {
        format!("{}/{}{}", self.uri_base, percent_encode(db), self.uri_query)
    }

    /// Connects to database `db` (blocking API).
    pub(super) fn connect(&self, db: &str) -> Result<Connection, Error> {
        let mut config = self.config.clone();
        config.set("dbname", db)?;
        if config.get("application_name").is_none() {
            config.set("application_name", "pgcluster-testing")?;
        }
        let resolved = config.resolve(&self.env)?;
        Ok(Connection::connect(&resolved)?)
    }
}

/// What a template and its fresh databases share.
pub(super) struct Shared {
    name: String,
    key: String,
    target: Target,
    migrations: Migrations,
    /// Idle sessions in `postgres`, for clones and drops.
    pool: Mutex<Vec<Connection>>,
    /// Set once `file_copy_method = clone` failed on this server.
    clone_unsupported: AtomicBool,
    /// Clones made ahead.
    ready: Ready,
    server_version: u32,
    built_now: bool,
}

impl Drop for Shared {
    /// Drops the clones made ahead that no test took (the last handle of a template that
    /// is not in a `static` is gone).
    fn drop(&mut self) {
        for name in self.ready.take_all() {
            let _ = self.drop_fresh(&name);
        }
    }
}

impl Shared {
    pub(super) fn target(&self) -> &Target {
        &self.target
    }

    fn connect_admin(&self) -> Result<Connection, TemplateError> {
        self.target
            .connect("postgres")
            .map_err(|source| TemplateError::Server {
                action: "connect to database \"postgres\"".into(),
                source,
            })
    }

    /// An idle session in `postgres`, or a new one.
    fn admin(&self) -> Result<Connection, TemplateError> {
        let pooled = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match pooled {
            Some(conn) => Ok(conn),
            None => self.connect_admin(),
        }
    }

    /// Keeps `conn` for the next [`admin`](Self::admin) if there is room.
    fn put_back(&self, mut conn: Connection) {
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < POOL_SIZE {
            pool.push(conn);
        } else {
            drop(pool);
            conn.close();
        }
    }

    /// Runs `f` on an administration session; the session goes back to the pool unless the
    /// connection failed (an error with no SQLSTATE).
    pub(super) fn with_admin<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, TemplateError>,
    ) -> Result<T, TemplateError> {
        let mut conn = self.admin()?;
        let result = f(&mut conn);
        let healthy = match &result {
            Ok(_) => true,
            Err(e) => server_sqlstate(e).is_some(),
        };
        if healthy {
            self.put_back(conn);
        }
        result
    }

    /// Makes sure the template exists, under the family's advisory lock; sweeps the
    /// family's other keys. Returns whether it was built now.
    fn ensure(
        &self,
        admin: &mut Connection,
        files: &[(PathBuf, String)],
    ) -> Result<bool, TemplateError> {
        let lock = lock_id(&self.migrations.family).to_string();
        run(
            admin,
            "SELECT pg_advisory_lock($1::bigint)",
            &[&lock],
            "take the template lock",
        )?;
        let result = self.ensure_locked(admin, files);
        let unlocked = run(
            admin,
            "SELECT pg_advisory_unlock($1::bigint)",
            &[&lock],
            "release the template lock",
        );
        let built = result?;
        unlocked?;
        Ok(built)
    }

    fn ensure_locked(
        &self,
        admin: &mut Connection,
        files: &[(PathBuf, String)],
    ) -> Result<bool, TemplateError> {
        let exists = !run(
            admin,
            "SELECT 1 FROM pg_database WHERE datname = $1",
            &[&self.name],
            "look for the template",
        )?
        .is_empty();
        if !exists {
            self.build_locked(admin, files)?;
        }
        self.sweep(admin)?;
        Ok(!exists)
    }

    /// Builds the template under its temporary name and renames it into place.
    fn build_locked(
        &self,
        admin: &mut Connection,
        files: &[(PathBuf, String)],
    ) -> Result<(), TemplateError> {
        let building = self.building_name();
        // Left by a builder that died (we hold the lock, so nobody is building it).
        self.drop_database(admin, &building)?;
        let create = format!(
            "CREATE DATABASE {} TEMPLATE template0",
            quote_ident(&building)
        );
        execute(admin, &create, &format!("create database \"{building}\""))?;
        if let Err(e) = self.record_owner(admin, &building, Owner::current()) {
            let _ = self.drop_database(admin, &building);
            return Err(e);
        }
        if let Err(e) = self.migrate(&building, files) {
            let _ = self.drop_database(admin, &building);
            return Err(e);
        }
        let quoted = quote_ident(&building);
        self.busy_retry(admin, &building, |admin| {
            execute(
                admin,
                &format!("ALTER DATABASE {quoted} IS_TEMPLATE true ALLOW_CONNECTIONS false"),
                &format!("flag database \"{building}\" as a template"),
            )
        })?;
        self.busy_retry(admin, &building, |admin| {
            execute(
                admin,
                &format!(
                    "ALTER DATABASE {quoted} RENAME TO {}",
                    quote_ident(&self.name)
                ),
                &format!("rename database \"{building}\" to \"{}\"", self.name),
            )
        })
    }

    /// Applies the files and the setup closure to the database `db`.
    fn migrate(&self, db: &str, files: &[(PathBuf, String)]) -> Result<(), TemplateError> {
        let mut conn = self
            .target
            .connect(db)
            .map_err(|source| TemplateError::Server {
                action: format!("connect to database \"{db}\""),
                source,
            })?;
        let result = (|| {
            for (path, text) in files {
                conn.simple_query(text)
                    .map_err(|source| TemplateError::Migration {
                        path: path.clone(),
                        source,
                    })?;
            }
            if let Some((version, setup)) = &self.migrations.setup {
                setup(&mut conn).map_err(|source| TemplateError::Setup {
                    version: version.clone(),
                    source,
                })?;
            }
            Ok(())
        })();
        conn.close();
        result
    }

    fn building_name(&self) -> String {
        let tail = self
            .name
            .strip_prefix(TEMPLATE_PREFIX)
            .unwrap_or(&self.name);
        format!("{BUILDING_PREFIX}{tail}")
    }

    /// Drops the family's templates and temporary databases of other keys.
    fn sweep(&self, admin: &mut Connection) -> Result<(), TemplateError> {
        let family = &self.migrations.family;
        let rows = run(
            admin,
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1) \
             OR starts_with(datname, $2) ORDER BY datname",
            &[
                &format!("{TEMPLATE_PREFIX}{family}_"),
                &format!("{BUILDING_PREFIX}{family}_"),
            ],
            "list the family's templates",
        )?;
        let building = self.building_name();
        for name in rows.into_iter().flatten() {
            if name != self.name && name != building && is_family_name(&name, family) {
                self.drop_template(admin, &name)?;
            }
        }
        Ok(())
    }

    /// Drops a template: clears its flag first (a template cannot be dropped).
    pub(super) fn drop_template(
        &self,
        admin: &mut Connection,
        name: &str,
    ) -> Result<(), TemplateError> {
        execute(
            admin,
            &format!("ALTER DATABASE {} IS_TEMPLATE false", quote_ident(name)),
            &format!("unflag template \"{name}\""),
        )?;
        self.drop_database(admin, name)
    }

    /// `DROP DATABASE IF EXISTS`, `WITH (FORCE)` on 13 and later (it ends sessions in that
    /// database only); retried and then reported with its sessions when busy.
    pub(super) fn drop_database(
        &self,
        admin: &mut Connection,
        name: &str,
    ) -> Result<(), TemplateError> {
        let force = if self.server_version >= 130_000 || self.server_version == 0 {
            " WITH (FORCE)"
        } else {
            ""
        };
        let sql = format!("DROP DATABASE IF EXISTS {}{force}", quote_ident(name));
        self.busy_retry(admin, name, |admin| {
            execute(admin, &sql, &format!("drop database \"{name}\""))
        })
    }

    /// Drops `name` on a pooled session.
    pub(super) fn drop_fresh(&self, name: &str) -> Result<(), TemplateError> {
        self.with_admin(|admin| self.drop_database(admin, name))
    }

    /// Clones the template into `name`; rebuilds it once if it was swept meanwhile (by a
    /// process with other migrations of the same family).
    pub(super) fn clone_to(
        &self,
        name: &str,
        owner: Option<&Owner>,
    ) -> Result<CloneMethod, TemplateError> {
        let method = self.clone_unrecorded(name)?;
        self.recorded(name, owner)?;
        Ok(method)
    }

    /// Records `owner` as the owner of the new database `name`, or drops it.
    fn recorded(&self, name: &str, owner: Option<&Owner>) -> Result<(), TemplateError> {
        self.with_admin(|admin| {
            self.record_owner(admin, name, owner).inspect_err(|_| {
                let _ = self.drop_database(admin, name);
            })
        })
    }

    /// Hands the ready clone `ready` out as `name` (a rename: no file is copied); `None`
    /// when none was ready (or the rename failed: that clone is dropped).
    pub(super) fn take_ready(&self, name: &str) -> Option<CloneMethod> {
        let (ready, method) = self.ready.take()?;
        let sql = format!(
            "ALTER DATABASE {} RENAME TO {}",
            quote_ident(&ready),
            quote_ident(name)
        );
        let action = format!("rename database \"{ready}\" to \"{name}\"");
        let renamed = self.with_admin(|admin| {
            self.busy_retry(admin, &ready, |admin| execute(admin, &sql, &action))
        });
        match renamed {
            Ok(()) => Some(method),
            Err(_) => {
                let _ = self.drop_fresh(&ready);
                None
            }
        }
    }

    fn clone_unrecorded(&self, name: &str) -> Result<CloneMethod, TemplateError> {
        match self.with_admin(|admin| self.clone_once(admin, name)) {
            Err(e) if server_sqlstate(&e) == Some(INVALID_CATALOG_NAME) => {
                let files = self.migrations.files()?;
                self.with_admin(|admin| self.ensure(admin, &files))?;
                self.with_admin(|admin| self.clone_once(admin, name))
            }
            other => other,
        }
    }

    fn clone_once(&self, admin: &mut Connection, name: &str) -> Result<CloneMethod, TemplateError> {
        let method = self.clone_method(admin);
        let mut sql = format!(
            "CREATE DATABASE {} TEMPLATE {}",
            quote_ident(name),
            quote_ident(&self.name)
        );
        if method != CloneMethod::Copy {
            sql.push_str(" STRATEGY FILE_COPY");
        }
        let action = format!("create database \"{name}\" from \"{}\"", self.name);
        let result = self.busy_retry(admin, &self.name, |admin| execute(admin, &sql, &action));
        match result {
            Err(TemplateError::Server { source, .. })
                if method == CloneMethod::Clone && is_clone_failure(&source) =>
            {
                // The file system cannot clone: plain copies from now on.
                self.clone_unsupported.store(true, Ordering::Relaxed);
                let _ = execute(admin, "RESET file_copy_method", "reset file_copy_method");
                self.clone_once(admin, name)
            }
            Err(e) => Err(e),
            Ok(()) => Ok(method),
        }
    }

    /// Which way this session clones: `file_copy_method = clone` on 18 and later unless it
    /// failed before (or the server refuses the setting), `FILE_COPY` on 15 to 17, and a
    /// plain `CREATE DATABASE .. TEMPLATE` (a file copy too) before 15.
    fn clone_method(&self, admin: &mut Connection) -> CloneMethod {
        if self.server_version < 150_000 {
            return CloneMethod::Copy;
        }
        if self.server_version < 180_000 || self.clone_unsupported.load(Ordering::Relaxed) {
            return CloneMethod::FileCopy;
        }
        match execute(
            admin,
            "SET file_copy_method = clone",
            "set file_copy_method",
        ) {
            Ok(()) => CloneMethod::Clone,
            Err(_) => {
                self.clone_unsupported.store(true, Ordering::Relaxed);
                CloneMethod::FileCopy
            }
        }
    }

    /// Runs `op`, retrying with a doubling backoff while it fails with 55006 on `database`;
    /// after the last attempt, the error names the sessions connected to `database`.
    fn busy_retry(
        &self,
        admin: &mut Connection,
        database: &str,
        mut op: impl FnMut(&mut Connection) -> Result<(), TemplateError>,
    ) -> Result<(), TemplateError> {
        let mut pause = BUSY_BACKOFF;
        for attempt in 1..=BUSY_ATTEMPTS {
            match op(admin) {
                Err(TemplateError::Server { source, .. })
                    if source.sqlstate() == Some(OBJECT_IN_USE) && attempt == BUSY_ATTEMPTS =>
                {
                    let sessions = sessions_in(admin, database).unwrap_or_default();
                    return Err(TemplateError::Busy {
                        database: database.to_owned(),
                        sessions,
                        source,
                    });
                }
                Err(TemplateError::Server { source, .. })
                    if source.sqlstate() == Some(OBJECT_IN_USE) =>
                {
                    std::thread::sleep(pause);
                    pause = pause.saturating_mul(2);
                }
                other => return other,
            }
        }
        unreachable!("the last attempt returns")
    }
}

impl ready::Source for Shared {
    fn ready(&self) -> &Ready {
        &self.ready
    }

    fn family(&self) -> &str {
        &self.migrations.family
    }

    /// Clones the template into `name`, recorded as this process's; unlike
    /// [`clone_to`](Shared::clone_to), never rebuilds a template that was swept (the
    /// process that swept it has newer migrations).
    fn clone_ready(&self, name: &str) -> Result<CloneMethod, ()> {
        let method = self
            .with_admin(|admin| self.clone_once(admin, name))
            .map_err(drop)?;
        self.recorded(name, Owner::current()).map_err(drop)?;
        Ok(method)
    }
}

/// The family of a template under construction `pgcluster_tpb_<family>_<12 hex digits>`.
pub(super) fn family_of(name: &str) -> Option<&str> {
    let (family, _) = name.strip_prefix(BUILDING_PREFIX)?.rsplit_once('_')?;
    (check_family(family).is_ok() && is_family_name(name, family)).then_some(family)
}

/// Whether `name` is `<prefix><family>_<12 hex digits>` for one of the two prefixes.
fn is_family_name(name: &str, family: &str) -> bool {
    [TEMPLATE_PREFIX, BUILDING_PREFIX].iter().any(|prefix| {
        name.strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix(family))
            .and_then(|rest| rest.strip_prefix('_'))
            .is_some_and(|hash| {
                hash.len() == HASH_DIGITS
                    && hash
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            })
    })
}

/// The advisory lock of a family: the first 8 bytes of a SHA-256, as a signed bigint.
pub(super) fn lock_id(family: &str) -> i64 {
    let digest = Sha256::digest(format!("pgcluster template family {family}"));
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// Whether a clone with `file_copy_method = clone` failed because the file system cannot.
fn is_clone_failure(e: &Error) -> bool {
    e.server_error().is_some_and(|f| {
        f.message
            .as_deref()
            .is_some_and(|m| m.starts_with("could not clone file"))
    })
}

/// The SQLSTATE of a server error inside `e`.
fn server_sqlstate(e: &TemplateError) -> Option<&str> {
    match e {
        TemplateError::Server { source, .. }
        | TemplateError::Busy { source, .. }
        | TemplateError::Migration { source, .. } => source.sqlstate(),
        _ => None,
    }
}

/// `server_version_num`.
fn server_version(admin: &mut Connection) -> Result<u32, TemplateError> {
    let rows = run(
        admin,
        "SELECT current_setting('server_version_num')",
        &[],
        "read the server version",
    )?;
    rows.first()
        .and_then(|v| v.as_deref())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| TemplateError::Server {
            action: "read the server version".into(),
            source: Error::Unexpected("server_version_num is not a number".into()),
        })
}

/// The sessions connected to `database`.
fn sessions_in(admin: &mut Connection, database: &str) -> Result<Vec<Session>, Error> {
    let result = admin.query(
        "SELECT pid, usename, coalesce(application_name, ''), host(client_addr) \
         FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() ORDER BY pid",
        &[Some(database)],
    )?;
    Ok(result
        .rows
        .into_iter()
        .filter_map(|row| {
            let mut row = row.into_iter();
            let pid = row.next()??.parse().ok()?;
            Some(Session {
                pid,
                user: row.next()?,
                application_name: row.next()?.unwrap_or_default(),
                client_addr: row.next()?,
            })
        })
        .collect())
}

/// Runs a one-column query with text parameters; the column's values.
pub(super) fn run(
    conn: &mut Connection,
    sql: &str,
    params: &[&str],
    action: &str,
) -> Result<Vec<Option<String>>, TemplateError> {
    let params: Vec<Option<&str>> = params.iter().map(|p| Some(*p)).collect();
    let result = conn
        .query(sql, &params)
        .map_err(|source| TemplateError::Server {
            action: action.to_owned(),
            source,
        })?;
    Ok(result
        .rows
        .into_iter()
        .map(|row| row.into_iter().next().flatten())
        .collect())
}

/// Runs one statement with the simple protocol (no parameters: utility statements).
pub(super) fn execute(conn: &mut Connection, sql: &str, action: &str) -> Result<(), TemplateError> {
    conn.simple_query(sql)
        .map(drop)
        .map_err(|source| TemplateError::Server {
            action: action.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_names() {
        for good in ["app", "a", "my_app_2", &"x".repeat(MAX_FAMILY_LEN)] {
            assert!(check_family(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "App",
            "my-app",
            "a b",
            "é",
            &"x".repeat(MAX_FAMILY_LEN + 1),
        ] {
            let e = check_family(bad).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "template family \"{}\" must be 1 to 36 bytes of a-z, 0-9 and _",
                    bad.escape_debug()
                )
            );
        }
        // The longest name fits PostgreSQL's limit.
        let longest = format!(
            "{BUILDING_PREFIX}{}_{}",
            "x".repeat(MAX_FAMILY_LEN),
            "0".repeat(HASH_DIGITS)
        );
        assert_eq!(longest.len(), 63);
    }

    #[test]
    fn family_names_are_recognised_exactly() {
        let hash = "0123456789ab";
        assert!(is_family_name(&format!("pgcluster_tpl_app_{hash}"), "app"));
        assert!(is_family_name(&format!("pgcluster_tpb_app_{hash}"), "app"));
        // Another family whose name starts with this one's.
        assert!(!is_family_name(
            &format!("pgcluster_tpl_app_x_{hash}"),
            "app"
        ));
        assert!(!is_family_name(
            &format!("pgcluster_tpl_app_{hash}_x"),
            "app"
        ));
        assert!(!is_family_name("pgcluster_tpl_app_0123456789aB", "app"));
        assert!(!is_family_name("pgcluster_tpl_app_0123456789a", "app"));
        assert!(!is_family_name(&format!("pgcluster_db_app_{hash}"), "app"));
        assert!(!is_family_name(&format!("app_{hash}"), "app"));
    }

    #[test]
    fn keys_follow_every_input() {
        let dir = std::env::temp_dir().join(format!("pgcluster-key-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("002_b.sql"), "CREATE TABLE b ();").unwrap();
        fs::write(dir.join("001_a.sql"), "CREATE TABLE a ();").unwrap();
        fs::write(dir.join("notes.txt"), "not a migration").unwrap();
        let m = Migrations::new("app").dir(&dir);
        let files = m.files().unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|(p, _)| p.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["001_a.sql", "002_b.sql"]);
        let base = m.key().unwrap();
        assert_eq!(base.len(), 64);
        assert_eq!(base, m.key().unwrap(), "stable");
        // A change in any input changes the key.
        fs::write(dir.join("notes.txt"), "changed, but not a migration").unwrap();
        assert_eq!(m.key().unwrap(), base);
        fs::write(dir.join("002_b.sql"), "CREATE TABLE b (x int);").unwrap();
        let edited = m.key().unwrap();
        assert_ne!(edited, base);
        fs::rename(dir.join("002_b.sql"), dir.join("003_b.sql")).unwrap();
        assert_ne!(m.key().unwrap(), edited);
        let with_setup = m.clone().setup("1", |_| Ok(()));
        assert_ne!(with_setup.key().unwrap(), m.key().unwrap());
        let bumped = m.clone().setup("2", |_| Ok(()));
        assert_ne!(bumped.key().unwrap(), with_setup.key().unwrap());
        let other_family = Migrations::new("other").dir(&dir);
        assert_ne!(other_family.key().unwrap(), m.key().unwrap());
        fs::remove_dir_all(&dir).unwrap();
        let missing = m.key().unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with(&format!("cannot read migrations {}: ", dir.display())),
            "{missing}"
        );
        assert!(std::error::Error::source(&missing).is_some());
    }

    #[test]
    fn busy_errors_name_the_sessions() {
        let source = Error::Unexpected("source database is being accessed by other users".into());
        let e = TemplateError::Busy {
            database: "db".into(),
            sessions: vec![
                Session {
                    pid: 42,
                    user: Some("alice".into()),
                    application_name: "psql".into(),
                    client_addr: Some("127.0.0.1".into()),
                },
                Session {
                    pid: 43,
                    user: None,
                    application_name: String::new(),
                    client_addr: None,
                },
            ],
            source: source.clone(),
        };
        assert_eq!(
            e.to_string(),
            "database \"db\" is being accessed by other sessions (source database is being \
             accessed by other users)\n  pid 42, user alice, application_name \"psql\", client \
             127.0.0.1\n  pid 43, user (none), application_name \"\", client local socket"
        );
        let none = TemplateError::Busy {
            database: "db".into(),
            sessions: vec![],
            source,
        };
        assert!(none
            .to_string()
            .ends_with("; none is left in pg_stat_activity"));
    }

    #[test]
    fn lock_ids_differ_by_family() {
        assert_eq!(lock_id("app"), lock_id("app"));
        assert_ne!(lock_id("app"), lock_id("app2"));
    }
}
