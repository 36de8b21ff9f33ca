//! Throwaway PostgreSQL servers for tests and demos (feature `testing`).
//!
//! [`TestServer`] runs `initdb` and `pg_ctl` from the PostgreSQL server programs on `PATH` or
//! in Debian's `/usr/lib/postgresql/<version>/bin`, in a private directory under `$TMPDIR`
//! when it is set (and at most 40 bytes long, so that the socket's path fits), else in
//! memory under `/dev/shm` when that is a `tmpfs` of at least 1 GiB, else under `/tmp`. The server listens on `127.0.0.1` (and `::1` when it exists) on a free
//! port, and on a Unix socket in the private directory. It has one role per password method
//! ([`PASSWORD_ROLE`], [`MD5_ROLE`], [`SCRAM_ROLE`]) plus [`REJECT_ROLE`], which `pg_hba.conf`
//! always rejects over TCP. A superuser role named after the OS user running the process
//! (unless that is `postgres`) lets programs connect with only `PGHOST` and `PGPORT` set.
//! [`Builder::start_standby`] makes a hot standby; [`PgBouncer`] puts a throwaway PgBouncer
//! in front of a server.
//!
//! # Only its owner can reach it
//!
//! A throwaway server must not let other users of the machine in (the class of
//! CVE-2014-0067, PostgreSQL's own `make check`):
//!
//! - The private directory and the socket directory in it are mode 0700: only their owner
//!   (and root) can reach the socket, so the socket (`local` lines) trusts every role.
//! - Nothing is trusted over TCP. Every role needs a password there: `scram-sha-256` for
//!   the superuser `postgres` and all other roles, the test roles' own methods for them. The
//!   password is random and new for each server ([`TestServer::password`], 32 hex digits from
//!   the operating system); the owner's settings carry it ([`TestServer::tcp_uri`],
//!   [`TestServer::tcp_env_vars`]). `Debug` never shows it, and error texts and
//!   [`TestServer::log`] mask it.
//!
//! When the process runs as root, the directories are given to the `postgres` OS user (still
//! 0700: root reaches them anyway) and the server programs run as that user (each child
//! process switches to it before it runs a program; the guardian's script uses
//! `runuser -u postgres --`, or `su postgres` where there is no `runuser`), since
//! PostgreSQL refuses root. That user owns everything in
//! them, and so could put a symlink where root expects a file, to make root overwrite or
//! reveal any file. So root does nothing by path in there after giving the directories
//! away: it makes both directories while the private one is still its own, gives them away
//! with `fchown` on a handle checked to be the directory it made, and then writes
//! (`pg_hba.conf`, `pgcluster.conf`, the TLS files), appends (the `include` line of
//! `postgresql.conf`) and reads (the server log, `postmaster.pid`) only as the `postgres`
//! user, through `sh` and `cat`. Running as that user was chosen over opening files with
//! `O_NOFOLLOW` (which guards only the last component of a path, needs `libc`, and cannot
//! append safely to a file that user may swap): whatever that user planted, the write or
//! read can only reach what it could reach itself. Removing the directory follows no
//! symlinks (`rm -rf`, [`std::fs::remove_dir_all`]).
//!
//! Cleanup cannot be forgotten: `Drop` stops the server and removes the directory (also while
//! a panic unwinds), and a guardian process does the same as soon as the owning process is gone,
//! even when it exits without running destructors or is killed. That makes
//! [`TestServer::shared`], one server per process kept in a `static`, safe to use.
//!
//! # Crash safety
//!
//! - The postmaster is a child of a shell of this process's: [`TestServer::stop`] and
//!   `Drop` return only once it has exited *and been reaped* (and `Drop` once the guardian
//!   has too), so no zombie is left for `init` to reap after a test or `pgcluster demo`
//!   returns. A server that outlives this process ([`TestServer::shared`]'s, which the
//!   guardian stops once the process has exited) is reaped by that shell at once, not by
//!   `init`, which on some machines reaps only every few seconds.
//! - The guardian waits on a pipe whose other end only this process holds, which the
//!   kernel closes however the process ends (SIGKILL too).
//! - Should the guardian be killed as well (a whole process tree killed), the server's
//!   directory holds an owner record (pid and start time of this process and of the
//!   guardian, with the boot and pid namespace they ran in), and the first server started
//!   by a later process, or [`sweep_servers`], stops and removes servers whose owner and
//!   guardian are both gone — only directories named `pgcluster-test-<pid>-<n>-<hex>`,
//!   owned by the servers' user, whose record names that pid. Fresh databases and
//!   half-built templates are recorded and swept the same way ([`Template::sweep`]).

//! ```no_run
//! use pgcluster::testing::{TestServer, MD5_ROLE};
//!
//! let server = TestServer::builder().max_connections(30).start()?;
//! server.psql("CREATE DATABASE demo")?;
//! assert_eq!(server.psql("SELECT 1 + 1")?, "2\n");
//! // Over the Unix socket, as the superuser `postgres` (no password):
//! let uri = server.uri("postgres", "demo");
//! // Over TCP, with MD5 password authentication and the server's password:
//! let tcp = server.tcp_uri(MD5_ROLE, "demo");
//! # let _ = (uri, tcp);
//! // For child processes such as `psql` or the `pgcluster` CLI, over the socket:
//! let status = std::process::Command::new("psql")
//!     .envs(server.env_vars())
//!     .args(["-c", "SELECT 1", "demo"])
//!     .status();
//! // ... and over TCP (PGPASSWORD set):
//! let tcp_status = std::process::Command::new("psql")
//!     .envs(server.tcp_env_vars())
//!     .args(["-c", "SELECT 1", "demo"])
//!     .status();
//! # let _ = (status, tcp_status);
//! # Ok::<(), pgcluster::testing::Error>(())
//! ```

mod any_server;
mod clone_method;
mod config;
mod fresh;
mod initdb_cache;
mod leftovers;
mod names;
mod os;
mod owner;
mod pgbouncer;
mod ready;
mod sweep;
mod template;
mod tls;
mod uri;

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::conninfo::Env;
pub use any_server::{test_url, TEST_URL_VAR};
pub use clone_method::CloneMethod;
use config::{hba_conf, percent_encode, roles_sql, server_conf, userinfo};
pub use fresh::FreshDatabase;
pub use initdb_cache::{Init, INITDB_CACHE_VAR};
pub use names::FRESH_PREFIX;
use os::{
    clear_pg_env, create_dir_private, create_private_dir, find_bin_dir, free_port, ipv6_available,
    os_user_name, use_own_libpq, RunAs,
};
pub use pgbouncer::{PgBouncer, PgBouncerBuilder, PoolMode, PoolerAuth};
pub use sweep::sweep_servers;
pub use template::{
    Migrations, Session, SetupError, Template, TemplateError, BUILDING_PREFIX, DEFAULT_READY,
    MAX_FAMILY_LEN, TEMPLATE_PREFIX,
};
pub use tls::{CertPair, KeyKind, TestCerts};

/// A role that must log in over TCP with the `password` method (cleartext password).
pub const PASSWORD_ROLE: &str = "pgcluster_password";
/// A role that must log in over TCP with the `md5` method; its password is stored as MD5.
pub const MD5_ROLE: &str = "pgcluster_md5";
/// A role that must log in over TCP with `scram-sha-256`; its password is stored as SCRAM.
pub const SCRAM_ROLE: &str = "pgcluster_scram";
/// A role that `pg_hba.conf` rejects over TCP (`reject`).
pub const REJECT_ROLE: &str = "pgcluster_reject";
/// The bootstrap superuser (`initdb -U postgres`).
pub const SUPERUSER: &str = "postgres";
/// The TCP address the server listens on.
pub const HOST_TCP: &str = "127.0.0.1";
/// Default `max_connections`: enough for parallel tests, small enough to start fast.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 20;
/// Default time `pg_ctl` waits for the server to start, stop or promote. Generous, because
/// the machine may be busy with parallel builds and tests.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How often a start is tried when another process takes the free port first.
const PORT_ATTEMPTS: u32 = 5;
/// Random bytes in a server's password (shown as twice as many hex digits).
const PASSWORD_BYTES: usize = 16;
/// What stands for the password in error texts and logs.
const PASSWORD_MASK: &str = "********";
/// The line that makes `postgresql.conf` read our settings.
const INCLUDE_LINE: &str = "include 'pgcluster.conf'";

/// How long the first wait for `postmaster.pid` to say `ready` is; each next one is twice
/// as long, up to [`READY_POLL_MAX`]. A server from the cached `initdb` is ready about
/// 20 ms after its start, so a fixed 10 ms step waited 5 ms too long on average.
const READY_POLL_FIRST: Duration = Duration::from_millis(1);
/// The longest wait between two reads of `postmaster.pid` while the server starts.
const READY_POLL_MAX: Duration = Duration::from_millis(10);

/// The server's log message when a listen address is in use (`could not bind IPv4 address
/// "127.0.0.1": Address already in use`).
const BIND_FAILURE: &str = "could not bind";

/// Why a throwaway server could not be set up or controlled.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A program (`initdb`, `pg_ctl`, `psql`, ...) failed.
    Command {
        /// The program and its subcommand, e.g. `pg_ctl start`.
        program: String,
        /// How it ended, e.g. `exit status: 1`.
        status: String,
        /// Its stderr and stdout (and the server log for a failed start), trimmed.
        output: String,
    },
    /// A file or process operation failed.
    Io {
        /// What was being done, e.g. `create directory`.
        action: &'static str,
        /// The file or program concerned.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// The process runs as root, but there is no `postgres` OS user to run the server as.
    NoPostgresUser,
    /// `initdb` and `pg_ctl` were found neither on `PATH` nor in `/usr/lib/postgresql/*/bin`.
    NotFound,
    /// No `pgbouncer` program on `PATH` or in `/usr/sbin` (for a [`PgBouncer`]).
    PgBouncerNotFound,
    /// Every attempt to start the server found its port taken by another process.
    PortsInUse {
        /// The server log of the last attempt.
        log: String,
    },
    /// The operating system gave no random bytes for the server's password.
    Random {
        /// The error's text.
        message: String,
    },
    /// A statement sent with pgcluster's own client (creating the test roles) failed.
    Sql {
        /// What was being done, e.g. `create the test roles`.
        action: &'static str,
        /// The client's or the server's error.
        message: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Command {
                program,
                status,
                output,
            } => crate::test_certs::command_failed(f, program, status, output),
            Self::Io {
                action,
                path,
                message,
            } => crate::test_certs::io_failed(f, action, path, message),
            Self::NoPostgresUser => f.write_str(
                "running as root, but there is no OS user \"postgres\" in /etc/passwd to run \
                 the server as; create it, e.g. useradd --system postgres",
            ),
            Self::NotFound => f.write_str(
                "PostgreSQL server programs (initdb, pg_ctl) not found in PATH or \
                 /usr/lib/postgresql/*/bin; install them, e.g. apt-get install postgresql",
            ),
            Self::PgBouncerNotFound => f.write_str(
                "pgbouncer not found in PATH or /usr/sbin; install it, e.g. apt-get install \
                 pgbouncer",
            ),
            Self::PortsInUse { log } => write!(
                f,
                "the server found its port taken by another process {PORT_ATTEMPTS} times \
                 in a row; last server log:\n{log}"
            ),
            Self::Random { message } => {
                write!(f, "cannot make a random password for the server: {message}")
            }
            Self::Sql { action, message } => write!(f, "cannot {action}: {message}"),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    fn io(action: &'static str, path: impl AsRef<Path>, err: &std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.as_ref().display().to_string(),
            message: err.to_string(),
        }
    }

    /// The error with every occurrence of `secret` in its texts masked.
    fn masking(self, secret: &str) -> Self {
        match self {
            Self::Command {
                program,
                status,
                output,
            } => Self::Command {
                program,
                status,
                output: mask(&output, secret),
            },
            Self::PortsInUse { log } => Self::PortsInUse {
                log: mask(&log, secret),
            },
            Self::Sql { action, message } => Self::Sql {
                action,
                message: mask(&message, secret),
            },
            other => other,
        }
    }
}

/// `text` with every occurrence of `secret` replaced by [`PASSWORD_MASK`].
fn mask(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_owned();
    }
    text.replace(secret, PASSWORD_MASK)
}

/// A server's password: random, and never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
struct Password(String);

impl Password {
    /// [`PASSWORD_BYTES`] random bytes from the operating system, as hex digits.
    fn random() -> Result<Self, Error> {
        let mut bytes = [0u8; PASSWORD_BYTES];
        crate::random::fill(&mut bytes).map_err(|e| Error::Random {
            message: e.to_string(),
        })?;
        Ok(Self(hex(&bytes)))
    }
}

/// `bytes` as lowercase hex digits, two per byte.
fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("_")
    }
}

/// How `pg_ctl stop` shuts the server down (`-m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// Roll back open transactions and disconnect clients, then shut down cleanly.
    Fast,
    /// Quit without a shutdown checkpoint; the next start runs crash recovery.
    Immediate,
    /// Wait until all clients have disconnected.
    Smart,
}

impl StopMode {
    fn as_str(self) -> &'static str {
        match self {
            Self::Fast => "fast",
            Self::Immediate => "immediate",
            Self::Smart => "smart",
        }
    }
}

/// Options for a [`TestServer`]; start it with [`Builder::start`] or
/// [`Builder::start_standby`].
#[derive(Debug, Clone)]
pub struct Builder {
    bin_dir: Option<PathBuf>,
    conf_lines: Vec<String>,
    hba_lines: Vec<String>,
    /// `None`: the default cache; `Some(None)`: none.
    initdb_cache: Option<Option<PathBuf>>,
    max_connections: u32,
    timeout: Duration,
    tls: Option<ServerTls>,
}

/// The files of a server started with `ssl = on`, copied into its data directory.
#[derive(Debug, Clone)]
struct ServerTls {
    cert: PathBuf,
    key: PathBuf,
    ca: PathBuf,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            bin_dir: None,
            conf_lines: Vec::new(),
            hba_lines: Vec::new(),
            initdb_cache: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            timeout: DEFAULT_TIMEOUT,
            tls: None,
        }
    }
}

impl Builder {
    /// Uses the server programs in `dir` instead of searching for them.
    pub fn bin_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.bin_dir = Some(dir.into());
        self
    }

    /// Appends a line to `postgresql.conf`, e.g. `log_min_messages = debug1`.
    pub fn conf_line(mut self, line: &str) -> Self {
        self.conf_lines.push(line.to_owned());
        self
    }

    /// Adds a line to `pg_hba.conf` before the standard ones (the first matching line wins),
    /// e.g. `local all pgcluster_md5 md5`.
    pub fn hba_line(mut self, line: &str) -> Self {
        self.hba_lines.push(line.to_owned());
        self
    }

    /// Starts the server with `ssl = on`, the server certificate of `certs` (for `localhost`
    /// and `127.0.0.1`) and its CA as `ssl_ca_file` (for `cert` authentication). Add
    /// `hostssl`, `hostnossl` or `cert` lines with [`Builder::hba_line`].
    pub fn tls(self, certs: &TestCerts) -> Self {
        self.tls_files(&certs.server(), &certs.ca())
    }

    /// Like [`Builder::tls`], with any server certificate and key (e.g.
    /// [`TestCerts::expired_server`]) and CA file.
    pub fn tls_files(mut self, server: &CertPair, ca: &Path) -> Self {
        self.tls = Some(ServerTls {
            cert: server.cert.clone(),
            key: server.key.clone(),
            ca: ca.to_owned(),
        });
        for line in [
            "ssl = on",
            "ssl_cert_file = 'server.crt'",
            "ssl_key_file = 'server.key'",
            "ssl_ca_file = 'ca.crt'",
        ] {
            self.conf_lines.push(line.to_owned());
        }
        self
    }

    /// Caches `initdb`'s result in `dir` instead of the default cache directory (see
    /// [`TestServer::init`]).
    pub fn initdb_cache(mut self, dir: impl Into<PathBuf>) -> Self {
        self.initdb_cache = Some(Some(dir.into()));
        self
    }

    /// Runs `initdb` for this server, without the cache.
    pub fn no_initdb_cache(mut self) -> Self {
        self.initdb_cache = Some(None);
        self
    }

    /// Sets `max_connections` (default [`DEFAULT_MAX_CONNECTIONS`]).
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n;
        self
    }

    /// Sets how long `pg_ctl` waits for start, stop and promote (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Creates, configures and starts a new server with a new random
    /// [password](TestServer::password), and creates the test roles.
    pub fn start(self) -> Result<TestServer, Error> {
        let mut server = self.prepare(Password::random()?)?;
        let args: Vec<OsString> = [
            "--no-sync",
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            // 1 MB of WAL to copy for each server instead of 16.
            "--wal-segsize=1",
        ]
        .map(OsString::from)
        .to_vec();
        let cache = match &self.initdb_cache {
            Some(choice) => choice.clone(),
            None => initdb_cache::default_dir(&server.run_as),
        };
        server.init = initdb_cache::init_data(
            &server.run_as,
            &server.bin,
            cache.as_deref(),
            &args,
            &server.data,
        )?;
        server.configure(&self)?;
        server.first_start(&self)?;
        let roles = roles_sql(os_user_name().as_deref(), server.password());
        server
            .execute("create the test roles", &roles)
            .map_err(|e| e.masking(server.password()))?;
        Ok(server)
    }

    /// Creates a hot standby of `primary` with `pg_basebackup -R`, and starts it. The test
    /// roles, and so the [password](TestServer::password), come from the primary. Promote it
    /// with [`TestServer::promote`].
    pub fn start_standby(mut self, primary: &TestServer) -> Result<TestServer, Error> {
        // A hot standby refuses to start with fewer connections than its primary.
        self.max_connections = self.max_connections.max(primary.max_connections);
        if self.bin_dir.is_none() {
            self.bin_dir = Some(primary.bin.clone());
        }
        let mut server = self.prepare(primary.password.clone())?;
        let mut args = vec![OsString::from("-D"), server.data.clone().into()];
        args.extend(["-R", "-X", "stream", "-c", "fast", "-U", SUPERUSER].map(OsString::from));
        args.extend([
            "-h".into(),
            primary.sock.clone().into(),
            "-p".into(),
            primary.port.to_string().into(),
        ]);
        server.run(&server.bin.join("pg_basebackup"), "pg_basebackup", args)?;
        server.configure(&self)?;
        server.first_start(&self)?;
        Ok(server)
    }

    /// Finds the programs, creates the private directory and the socket directory (both
    /// 0700, given to the server's user), and spawns the guardian.
    fn prepare(&self, password: Password) -> Result<TestServer, Error> {
        let bin = match &self.bin_dir {
            Some(dir) => dir.clone(),
            None => find_bin_dir()?,
        };
        let run_as = RunAs::detect()?;
        sweep::sweep_once(&run_as);
        let dir = create_private_dir(run_as != RunAs::Me)?;
        // From here on, dropping `server` removes the directory.
        let mut server = TestServer {
            data: dir.join("data"),
            sock: dir.join("sock"),
            dir,
            bin,
            port: 0,
            max_connections: self.max_connections,
            timeout: self.timeout,
            run_as,
            guardian: None,
            postmaster: None,
            init: Init::Plain,
            password,
        };
        // Both are made and given away while the private directory is still ours alone; after
        // that, everything inside is done as the server's user.
        create_dir_private(&server.sock)?;
        server.run_as.give_dir(&server.sock)?;
        server.run_as.give_dir(&server.dir)?;
        let guardian = server.spawn_guardian()?;
        let guardian_pid = guardian.id();
        server.guardian = Some(guardian);
        server.record_owner(guardian_pid)?;
        Ok(server)
    }
}

/// A running throwaway PostgreSQL server in a private directory. Dropping it stops the server
/// and removes the directory; see the [module documentation](self).
#[derive(Debug)]
pub struct TestServer {
    bin: PathBuf,
    data: PathBuf,
    dir: PathBuf,
    guardian: Option<Child>,
    max_connections: u32,
    password: Password,
    port: u16,
    init: Init,
    /// The shell whose child the postmaster is ([`os::POSTMASTER_SCRIPT`]), while it runs.
    postmaster: Option<Child>,
    run_as: RunAs,
    sock: PathBuf,
    timeout: Duration,
}

impl TestServer {
    /// Options for a new server.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Starts a new server with the default options.
    pub fn new() -> Result<Self, Error> {
        Builder::default().start()
    }

    /// Starts a hot standby of `primary` with the default options.
    pub fn start_standby(primary: &TestServer) -> Result<Self, Error> {
        Builder::default().start_standby(primary)
    }

    /// One server per process, started on first use and kept for the life of the process.
    /// Its `Drop` never runs; the guardian stops it and removes its directory when the process
    /// is gone. A failed start is remembered and returned again.
    pub fn shared() -> Result<&'static TestServer, Error> {
        static SHARED: OnceLock<Result<TestServer, Error>> = OnceLock::new();
        SHARED
            .get_or_init(TestServer::new)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The TCP port (the same after a restart).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the server's Unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.sock
    }

    /// The TCP address the server listens on: `127.0.0.1`.
    pub fn host_tcp(&self) -> &'static str {
        HOST_TCP
    }

    /// The private directory holding everything of this server (`data/`, `sock/`,
    /// `server.log`); removed when the server is dropped.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// How the data directory was made. `initdb` runs once per set of server programs (and
    /// options): its result is cached in a private directory of the servers' user and
    /// copied for each new server, far faster than `initdb` itself (the servers run with
    /// `fsync = off`). The cache is `$PGCLUSTER_INITDB_CACHE`, else
    /// `$XDG_CACHE_HOME/pgcluster/initdb`, else `~/.cache/pgcluster/initdb` (as root, in the
    /// `postgres` user's home); [`Builder::initdb_cache`] and [`Builder::no_initdb_cache`]
    /// choose otherwise. Entries are built under a temporary name and renamed into place,
    /// so processes building at once never see half an entry.
    pub fn init(&self) -> Init {
        self.init
    }

    /// The directory of the server programs used.
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    /// The server log so far (empty if there is none yet), the password masked.
    pub fn log(&self) -> String {
        self.run_as
            .read_file(&self.log_path())
            .map(|bytes| mask(&String::from_utf8_lossy(&bytes), self.password()))
            .unwrap_or_default()
    }

    /// The password of this server's superuser `postgres` (and of the superuser named after
    /// the OS user), [`PASSWORD_ROLE`], [`MD5_ROLE`] and [`SCRAM_ROLE`]: 32 random hex digits,
    /// new for each server (a standby has its primary's). Needed over TCP only; the socket
    /// trusts every role, since only the owner can reach it. `Debug` does not show it.
    pub fn password(&self) -> &str {
        &self.password.0
    }

    /// `PGHOST` (the socket directory), `PGPORT` and `PGUSER` (`postgres`), for child
    /// processes (`Command::envs`). No password: the socket needs none. For TCP, see
    /// [`tcp_env_vars`](Self::tcp_env_vars).
    pub fn env_vars(&self) -> Vec<(String, String)> {
        vec![
            ("PGHOST".to_owned(), self.sock.display().to_string()),
            ("PGPORT".to_owned(), self.port.to_string()),
            ("PGUSER".to_owned(), SUPERUSER.to_owned()),
        ]
    }

    /// The same variables as [`env_vars`](Self::env_vars), as an [`Env`] for conninfo.
    pub fn env(&self) -> Env {
        to_env(&self.env_vars())
    }

    /// `PGHOST` (`127.0.0.1`), `PGPORT`, `PGUSER` (`postgres`) and `PGPASSWORD` (the server's
    /// [password](Self::password)), for child processes that are to connect over TCP.
    pub fn tcp_env_vars(&self) -> Vec<(String, String)> {
        vec![
            ("PGHOST".to_owned(), HOST_TCP.to_owned()),
            ("PGPORT".to_owned(), self.port.to_string()),
            ("PGUSER".to_owned(), SUPERUSER.to_owned()),
            ("PGPASSWORD".to_owned(), self.password().to_owned()),
        ]
    }

    /// The same variables as [`tcp_env_vars`](Self::tcp_env_vars), as an [`Env`].
    pub fn tcp_env(&self) -> Env {
        to_env(&self.tcp_env_vars())
    }

    /// A rex URI over the Unix socket: `pgsql://user@%2Fsock%2Fdir:port/db`. An empty `user`
    /// is left out.
    pub fn uri(&self, user: &str, db: &str) -> String {
        let host = percent_encode(&self.sock.display().to_string());
        format!("pgsql://{}{host}:{}/{db}", userinfo(user, None), self.port)
    }

    /// A rex URI over TCP with the server's [password](Self::password):
    /// `pgsql://user:password@127.0.0.1:port/db`.
    pub fn tcp_uri(&self, user: &str, db: &str) -> String {
        format!(
            "pgsql://{}{HOST_TCP}:{}/{db}",
            userinfo(user, Some(self.password())),
            self.port
        )
    }

    /// Runs `sql` with the `psql` program in database `postgres`; see
    /// [`psql_db`](Self::psql_db).
    pub fn psql(&self, sql: &str) -> Result<String, Error> {
        self.psql_db("postgres", sql)
    }

    /// The server's `server_version_num` (e.g. `180006` for 18.6), read with
    /// [`psql`](Self::psql): for a test whose expected text or behaviour depends on the
    /// version at hand.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), pgcluster::testing::Error> {
    /// let server = pgcluster::testing::TestServer::new()?;
    /// let major = server.server_version_num()? / 10_000;
    /// assert!(major >= 13);
    /// # Ok(())
    /// # }
    /// ```
    pub fn server_version_num(&self) -> Result<u32, Error> {
        let text = self.psql("SHOW server_version_num")?;
        text.trim().parse().map_err(|_| Error::Command {
            program: "psql SHOW server_version_num".into(),
            status: "not a number".into(),
            output: text.trim().to_owned(),
        })
    }

    /// Runs `sql` (one or more statements) with the `psql` program as `postgres` over the
    /// socket (`-X -A -t -q -v ON_ERROR_STOP=1`), and returns its output: one line per row,
    /// columns separated by `|`. For test setup that must not depend on our own client.
    pub fn psql_db(&self, db: &str, sql: &str) -> Result<String, Error> {
        let psql = self.bin.join("psql");
        let psql = if psql.is_file() {
            psql
        } else {
            PathBuf::from("psql")
        };
        let mut args = [
            "-X",
            "-A",
            "-t",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-U",
            SUPERUSER,
            "-d",
            db,
        ]
        .map(OsString::from)
        .to_vec();
        args.extend([
            "-h".into(),
            self.sock.clone().into(),
            "-p".into(),
            self.port.to_string().into(),
        ]);
        let mut cmd = self.command(&psql, args);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| Error::io("run", &psql, &e))?;
        if let Some(mut stdin) = child.stdin.take() {
            let sql = sql.to_owned();
            // A thread, so that a large result cannot block psql while we still write.
            std::thread::spawn(move || stdin.write_all(sql.as_bytes()));
        }
        let output = child
            .wait_with_output()
            .map_err(|e| Error::io("run", &psql, &e))?;
        checked("psql", output, String::new())
    }

    /// Runs `sql` (one or more statements) in database `postgres` as the superuser over the
    /// socket, with pgcluster's own client (no `psql` process to start).
    fn execute(&self, action: &'static str, sql: &str) -> Result<(), Error> {
        let failed = |e: crate::Error| Error::Sql {
            action,
            message: e.to_string(),
        };
        let mut conn = template::Target::of(self)
            .connect("postgres")
            .map_err(failed)?;
        let result = conn.simple_query(sql).map(drop);
        conn.close();
        result.map_err(failed)
    }

    /// Starts the server again after [`stop`](Self::stop), on the same port and directories,
    /// and waits until it accepts connections (or, for a standby, read-only ones).
    ///
    /// The postmaster is the child of a shell that is a child of this process (as the
    /// `postgres` user when root), in a process group of its own (so that Ctrl-C in a
    /// terminal does not reach it), with its output appended to the server log: so that
    /// stopping the server can wait until its postmaster has been reaped, rather than leave
    /// a zombie for `init`, and so that the shell reaps it should this process be gone
    /// first.
    pub fn start(&mut self) -> Result<(), Error> {
        // A postmaster stopped or killed from outside: reaped now.
        self.reap(Duration::ZERO);
        let from = self.log().len();
        let postgres = self.bin.join("postgres");
        let args: Vec<OsString> = vec![
            "-c".into(),
            os::POSTMASTER_SCRIPT.into(),
            "pgcluster-postmaster".into(),
            self.log_path().into(),
            postgres.into(),
            "-D".into(),
            self.data.clone().into(),
        ];
        let mut cmd = self.command(Path::new("/bin/sh"), args);
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::io("run", self.bin.join("postgres"), &e))?;
        let status = self.wait_ready(&mut child, since);
        let Err(status) = status else {
            self.postmaster = Some(child);
            return Ok(());
        };
        if !os::wait_child(&mut child, Duration::ZERO) {
            // Not ready in time: it must not outlive the error.
            self.postmaster = Some(child);
            let stopped = self
                .pg_ctl_output(["stop", "-m", "immediate"])
                .is_ok_and(|output| output.status.success());
            // Without a postmaster.pid to stop it by: its shell's process group.
            if !stopped || !self.reap(os::REAP_BOUND) {
                if let Some(mut child) = self.postmaster.take() {
                    os::kill_group(&mut child);
                }
            }
        }
        let log = self.log();
        Err(Error::Command {
            program: "postgres".into(),
            status,
            output: log.get(from..).unwrap_or("").trim().to_owned(),
        })
    }

    /// Waits until the postmaster `child` started (at `since`, in seconds since the epoch, or
    /// later) says in `postmaster.pid` that it is ready (`ready`, or `standby` for a hot
    /// standby), as `pg_ctl start -w` does; the error says how it ended instead.
    fn wait_ready(&self, child: &mut Child, since: u64) -> Result<(), String> {
        let started = Instant::now();
        let mut poll = READY_POLL_FIRST;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(status.to_string());
            }
            if let Some(bytes) = self.run_as.read_file(&self.data.join("postmaster.pid")) {
                let text = String::from_utf8_lossy(&bytes);
                let lines: Vec<&str> = text.lines().map(str::trim).collect();
                let start = lines.get(2).and_then(|l| l.parse::<u64>().ok());
                let fresh = start.is_some_and(|t| t.saturating_add(2) >= since);
                if fresh && matches!(lines.get(7), Some(&("ready" | "standby"))) {
                    return Ok(());
                }
            }
            if started.elapsed() >= self.timeout {
                return Err(format!(
                    "not ready after {} s",
                    self.timeout.as_secs_f64().ceil()
                ));
            }
            std::thread::sleep(poll);
            poll = poll.saturating_mul(2).min(READY_POLL_MAX);
        }
    }

    /// Reaps the postmaster's process (waiting up to `bound`); whether it is gone.
    fn reap(&mut self, bound: Duration) -> bool {
        let Some(child) = self.postmaster.as_mut() else {
            return true;
        };
        let gone = os::wait_child(child, bound);
        if gone {
            self.postmaster = None;
        }
        gone
    }

    /// Stops the server (`fast` mode).
    pub fn stop(&mut self) -> Result<(), Error> {
        self.stop_mode(StopMode::Fast)
    }

    /// Stops the server in the given mode and waits until it is gone.
    ///
    /// `pg_ctl` returns once `postmaster.pid` is gone; the postmaster removes that file on
    /// its way out, so this also waits (up to 10 s) until the postmaster has exited and has
    /// been reaped: when it returns, no process of the server is left, not even a zombie.
    pub fn stop_mode(&mut self, mode: StopMode) -> Result<(), Error> {
        let postmaster = self.pid();
        let output = self.pg_ctl_output(["stop", "-m", mode.as_str()]);
        if !self.reap(os::REAP_BOUND) {
            if let Some(pid) = postmaster {
                // Not started by this process (nothing of ours to reap): at least exited.
                os::wait_exited(pid, os::REAP_BOUND);
            }
        }
        let output = output?;
        checked("pg_ctl stop", output, String::new()).map(drop)
    }

    /// Makes the server reread its configuration files (`pg_ctl reload`).
    pub fn reload(&self) -> Result<(), Error> {
        let output = self.pg_ctl_output(["reload"])?;
        checked("pg_ctl reload", output, String::new()).map(drop)
    }

    /// Promotes a standby to a primary and waits until it accepts writes.
    pub fn promote(&self) -> Result<(), Error> {
        let output = self.pg_ctl_output(["promote"])?;
        checked("pg_ctl promote", output, String::new()).map(drop)
    }

    /// The process id of the postmaster, from `postmaster.pid`; `None` if it is not running.
    pub fn pid(&self) -> Option<u32> {
        let bytes = self.run_as.read_file(&self.data.join("postmaster.pid"))?;
        String::from_utf8_lossy(&bytes)
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// Writes the configuration files of a fresh (or freshly copied) data directory.
    fn configure(&self, options: &Builder) -> Result<(), Error> {
        let hba = self.data.join("pg_hba.conf");
        let mut text = String::new();
        for line in &options.hba_lines {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str(&hba_conf(ipv6_available()));
        self.write_file(&hba, &text)?;
        if let Some(tls) = &options.tls {
            for (from, to) in [
                (&tls.cert, "server.crt"),
                (&tls.key, "server.key"),
                (&tls.ca, "ca.crt"),
            ] {
                // The caller's files, read as the caller; written as the server's user.
                let text = fs::read_to_string(from).map_err(|e| Error::io("read", from, &e))?;
                self.write_file(&self.data.join(to), &text)?;
            }
        }
        // A copied data directory (a standby's) has the line already.
        self.run_as
            .append_line(&self.data.join("postgresql.conf"), INCLUDE_LINE)
    }

    /// Picks a free port and starts the server, retrying when another process takes the port
    /// between our probe and the server's bind. A server that could bind only some of its
    /// addresses starts with a warning; it is stopped and retried too, lest clients reach the
    /// other process on the address it missed.
    fn first_start(&mut self, options: &Builder) -> Result<(), Error> {
        let ipv6 = ipv6_available();
        let mut log = String::new();
        for _ in 0..PORT_ATTEMPTS {
            self.port = free_port()?;
            let conf = server_conf(
                ipv6,
                self.port,
                &self.sock,
                self.max_connections,
                &options.conf_lines,
            );
            self.write_file(&self.data.join("pgcluster.conf"), &conf)?;
            let from = self.log().len();
            let started = self.start();
            log = self.log().get(from..).unwrap_or("").trim().to_owned();
            match started {
                Ok(()) if !log.contains(BIND_FAILURE) => return Ok(()),
                Ok(()) => self.stop_mode(StopMode::Immediate)?,
                Err(err) if !log.contains(BIND_FAILURE) => return Err(err),
                Err(_) => {}
            }
        }
        Err(Error::PortsInUse { log })
    }

    /// Writes the [owner record](sweep) of the private directory: this process and the
    /// guardian, for a later run to tell whether they are gone.
    fn record_owner(&self, guardian: u32) -> Result<(), Error> {
        let text = sweep::server_record(guardian);
        self.write_file(&self.dir.join(sweep::OWNER_FILE), &text)
    }

    /// Writes a file as the server's OS user (see [`RunAs::write_file`]).
    fn write_file(&self, path: &Path, text: &str) -> Result<(), Error> {
        self.run_as.write_file(path, text)
    }

    /// `pg_ctl -D data -w -t <timeout> -l server.log <args>`, run as the server's user.
    fn pg_ctl_output<const N: usize>(&self, args: [&str; N]) -> Result<Output, Error> {
        let pg_ctl = self.bin.join("pg_ctl");
        let args = self.pg_ctl_args(&args);
        self.command(&pg_ctl, &args)
            .output()
            .map_err(|e| Error::io("run", &pg_ctl, &e))
    }

    fn pg_ctl_args(&self, args: &[&str]) -> Vec<OsString> {
        let mut all: Vec<OsString> = vec![
            "-D".into(),
            self.data.clone().into(),
            "-w".into(),
            "-t".into(),
            self.timeout.as_secs().max(1).to_string().into(),
            "-l".into(),
            self.log_path().into(),
        ];
        all.extend(args.iter().map(OsString::from));
        all
    }

    /// Runs a program as the server's user and fails unless it succeeds.
    fn run(&self, program: &Path, name: &str, args: Vec<OsString>) -> Result<(), Error> {
        let output = self
            .command(program, args)
            .output()
            .map_err(|e| Error::io("run", program, &e))?;
        checked(name, output, String::new()).map(drop)
    }

    /// A command run as the server's user, in the private directory, with untranslated
    /// messages (`LC_ALL=C`), without `PG*` variables (which would redirect `psql` and
    /// friends), with the installation's own libpq ([`use_own_libpq`]), and with stdin
    /// closed.
    fn command<I, S>(&self, program: &Path, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.run_as.command(program, args);
        cmd.current_dir(&self.dir)
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
        clear_pg_env(&mut cmd);
        use_own_libpq(&mut cmd, &self.bin);
        cmd
    }

    /// Spawns the guardian that stops the server and removes the directory once this
    /// process is gone.
    fn spawn_guardian(&self) -> Result<Child, Error> {
        let pg_ctl = self.bin.join("pg_ctl");
        let stop = self
            .run_as
            .argv(&pg_ctl, self.pg_ctl_args(&["stop", "-m", "immediate"]));
        os::spawn_guardian(&self.dir, stop)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.data.join("postmaster.pid").exists() {
            // Nothing to report to in a destructor; the guardian is the fallback.
            let _ = self.stop_mode(StopMode::Immediate);
        }
        // Stopped from outside (or it died): reaped all the same.
        self.reap(os::REAP_BOUND);
        let _ = fs::remove_dir_all(&self.dir);
        if let Some(guardian) = self.guardian.take() {
            os::stop_guardian(guardian);
        }
    }
}

/// `vars` as an [`Env`] holding nothing else.
fn to_env(vars: &[(String, String)]) -> Env {
    vars.iter().fold(Env::empty(), |env, (k, v)| env.with(k, v))
}

/// Turns a finished command into `Ok(stdout)` or an [`Error::Command`] carrying its output
/// and `extra` (e.g. the new part of the server log).
fn checked(program: &str, output: Output, extra: String) -> Result<String, Error> {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let text = [stderr.trim(), stdout.trim(), extra.trim()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("\n");
    Err(Error::Command {
        program: program.to_owned(),
        status: output.status.to_string(),
        output: text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts() {
        assert_eq!(
            Error::NotFound.to_string(),
            "PostgreSQL server programs (initdb, pg_ctl) not found in PATH or \
             /usr/lib/postgresql/*/bin; install them, e.g. apt-get install postgresql"
        );
        assert_eq!(
            Error::PgBouncerNotFound.to_string(),
            "pgbouncer not found in PATH or /usr/sbin; install it, e.g. apt-get install pgbouncer"
        );
        assert_eq!(
            Error::NoPostgresUser.to_string(),
            "running as root, but there is no OS user \"postgres\" in /etc/passwd to run the \
             server as; create it, e.g. useradd --system postgres"
        );
        let command = |output: &str| Error::Command {
            program: "pg_ctl start".into(),
            status: "exit status: 1".into(),
            output: output.into(),
        };
        assert_eq!(
            command("").to_string(),
            "pg_ctl start failed (exit status: 1)"
        );
        assert_eq!(
            command("pg_ctl: no server running").to_string(),
            "pg_ctl start failed (exit status: 1):\npg_ctl: no server running"
        );
        let io = Error::Io {
            action: "create directory",
            path: "/tmp/x".into(),
            message: "File exists (os error 17)".into(),
        };
        assert_eq!(
            io.to_string(),
            "cannot create directory /tmp/x: File exists (os error 17)"
        );
        let ports = Error::PortsInUse {
            log: "LOG:  could not bind".into(),
        };
        assert_eq!(
            ports.to_string(),
            "the server found its port taken by another process 5 times in a row; \
             last server log:\nLOG:  could not bind"
        );
        let sql = Error::Sql {
            action: "create the test roles",
            message: "role \"x\" already exists".into(),
        };
        assert_eq!(
            sql.to_string(),
            "cannot create the test roles: role \"x\" already exists"
        );
        assert_eq!(
            Error::Sql {
                action: "a",
                message: "pw 0123".into()
            }
            .masking("0123")
            .to_string(),
            "cannot a: pw ********"
        );
        let random = Error::Random {
            message: "cannot open /dev/urandom: No such file or directory (os error 2)".into(),
        };
        assert_eq!(
            random.to_string(),
            "cannot make a random password for the server: cannot open /dev/urandom: No such \
             file or directory (os error 2)"
        );
    }

    #[test]
    fn passwords_are_random_and_never_shown() {
        let (a, b) = (Password::random().unwrap(), Password::random().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.0.len(), 2 * PASSWORD_BYTES);
        assert!(a.0.bytes().all(|c| c.is_ascii_hexdigit()), "{}", a.0);
        assert_eq!(format!("{a:?}"), "_");
        let err = Error::Command {
            program: "psql".into(),
            status: "exit status: 3".into(),
            output: format!("LINE 1: ALTER ROLE postgres PASSWORD '{}'", a.0),
        };
        assert_eq!(
            err.masking(&a.0).to_string(),
            "psql failed (exit status: 3):\nLINE 1: ALTER ROLE postgres PASSWORD '********'"
        );
        let log = Error::PortsInUse { log: a.0.clone() }.masking(&a.0);
        assert_eq!(
            log,
            Error::PortsInUse {
                log: "********".into()
            }
        );
        assert_eq!(mask("no secret here", ""), "no secret here");
    }
}
