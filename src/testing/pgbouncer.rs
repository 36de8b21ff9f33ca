//! A throwaway PgBouncer in front of a [`TestServer`] ([`PgBouncer`]).

use std::ffi::OsString;
use std::fs;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::config::{percent_encode, userinfo};
use super::os::{self, clear_pg_env, create_dir_private, create_private_dir, free_port, RunAs};
use super::sweep;
use super::{
    checked, mask, Error, Password, TestServer, HOST_TCP, MD5_ROLE, PASSWORD_ROLE, SCRAM_ROLE,
    SUPERUSER,
};

/// Where Debian's package puts the program (`/usr/sbin` is not on every user's `PATH`).
const DEBIAN_PGBOUNCER: &str = "/usr/sbin/pgbouncer";
/// How often a start is tried when another process takes the free port first.
const PORT_ATTEMPTS: u32 = 5;
/// How long the pooler is given to listen.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// What the pooler logs when its port is taken.
const BIND_FAILURE: &str = "Address already in use";
/// Stops the pooler whose pid file is `$1` (an immediate shutdown: `SIGTERM`).
const STOP_SCRIPT: &str = r#"[ -f "$1" ] && kill -TERM "$(cat "$1")""#;
/// Kills the pooler whose pid file is `$1`.
const KILL_SCRIPT: &str = r#"[ -f "$1" ] && kill -KILL "$(cat "$1")""#;

/// PgBouncer's `pool_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolMode {
    /// A server connection per client connection, for as long as it is connected.
    Session,
    /// A server connection per transaction (a statement outside one): session state
    /// (`SET`, `LISTEN`, named prepared statements, advisory locks) does not carry over.
    Transaction,
}

impl PoolMode {
    fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Transaction => "transaction",
        }
    }
}

/// How clients authenticate to the pooler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolerAuth {
    /// `auth_type = scram-sha-256`, the server's password for every role; TCP and socket.
    Scram,
    /// `auth_type = trust`; the Unix socket only.
    Trust,
}

/// Options for a [`PgBouncer`]; start it with [`PgBouncerBuilder::start`].
#[derive(Debug, Clone)]
pub struct PgBouncerBuilder {
    auth: PoolerAuth,
    conf_lines: Vec<String>,
    /// `[databases]` entries; empty: `*`.
    databases: Vec<String>,
    mode: PoolMode,
    server_dir: PathBuf,
    server_port: u16,
    bin: PathBuf,
    password: Password,
}

impl PgBouncerBuilder {
    /// Sets `pool_mode` (default [`PoolMode::Session`]).
    pub fn pool_mode(mut self, mode: PoolMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets how clients authenticate (default [`PoolerAuth::Scram`]).
    pub fn auth(mut self, auth: PoolerAuth) -> Self {
        self.auth = auth;
        self
    }

    /// Serves only the databases `names` (one `[databases]` entry each), as a hosted pooler
    /// that serves the application's database alone; default: any (`*`).
    pub fn only_databases(mut self, names: &[&str]) -> Self {
        self.databases = names.iter().map(|n| (*n).to_owned()).collect();
        self
    }

    /// Appends a line to the `[pgbouncer]` section, e.g. `server_idle_timeout = 1`.
    pub fn conf_line(mut self, line: &str) -> Self {
        self.conf_lines.push(line.to_owned());
        self
    }

    /// Starts the pooler and waits until it listens. Without a `pgbouncer` program,
    /// [`Error::PgBouncerNotFound`].
    pub fn start(self) -> Result<PgBouncer, Error> {
        let program = find_pgbouncer()?;
        let run_as = RunAs::detect()?;
        let dir = create_private_dir(run_as != RunAs::Me)?;
        // From here on, dropping `pooler` removes the directory.
        let mut pooler = PgBouncer {
            sock: dir.join("sock"),
            dir,
            port: 0,
            mode: self.mode,
            auth: self.auth,
            run_as,
            child: None,
            guardian: None,
            password: self.password.clone(),
            psql: self.bin.join("psql"),
        };
        create_dir_private(&pooler.sock)?;
        pooler.run_as.give_dir(&pooler.sock)?;
        pooler.run_as.give_dir(&pooler.dir)?;
        let stop = pooler
            .run_as
            .argv(Path::new("/bin/sh"), pooler.shell_args(STOP_SCRIPT));
        let guardian = os::spawn_guardian(&pooler.dir, stop)?;
        let guardian_pid = guardian.id();
        pooler.guardian = Some(guardian);
        // For a later run's sweep, should this process and the guardian both be killed.
        pooler.write(sweep::OWNER_FILE, &sweep::server_record(guardian_pid))?;
        pooler.write("userlist.txt", &userlist(pooler.password()))?;
        let mut log = String::new();
        for _ in 0..PORT_ATTEMPTS {
            pooler.port = free_port()?;
            pooler.write("pgbouncer.ini", &self.ini(&pooler))?;
            let from = pooler.log().len();
            let started = pooler.spawn(&program);
            log = pooler.log().get(from..).unwrap_or("").trim().to_owned();
            match started {
                Ok(()) => return Ok(pooler),
                Err(err) if !log.contains(BIND_FAILURE) => return Err(err),
                Err(_) => {}
            }
        }
        Err(Error::Command {
            program: "pgbouncer".into(),
            status: format!("its port was taken by another process {PORT_ATTEMPTS} times in a row"),
            output: log,
        })
    }

    /// The text of `pgbouncer.ini`.
    fn ini(&self, pooler: &PgBouncer) -> String {
        let listen = match self.auth {
            PoolerAuth::Scram => HOST_TCP,
            PoolerAuth::Trust => "",
        };
        let auth = match self.auth {
            PoolerAuth::Scram => "scram-sha-256",
            PoolerAuth::Trust => "trust",
        };
        let target = format!(
            "host={} port={}",
            self.server_dir.display(),
            self.server_port
        );
        let databases = if self.databases.is_empty() {
            format!("* = {target}\n")
        } else {
            self.databases
                .iter()
                .map(|name| format!("{name} = {target}\n"))
                .collect()
        };
        let mut text = format!(
            "; Written by pgcluster::testing.\n\
             [databases]\n\
             {databases}\
             [pgbouncer]\n\
             listen_addr = {listen}\n\
             listen_port = {}\n\
             unix_socket_dir = {}\n\
             auth_type = {auth}\n\
             auth_file = {}\n\
             pidfile = {}\n\
             pool_mode = {}\n\
             admin_users = {SUPERUSER}\n\
             max_client_conn = 100\n\
             default_pool_size = 5\n",
            pooler.port,
            pooler.sock.display(),
            pooler.dir.join("userlist.txt").display(),
            pooler.pid_path().display(),
            self.mode.as_str(),
        );
        for line in &self.conf_lines {
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

/// A running throwaway PgBouncer in front of a [`TestServer`], for tests of what works
/// behind a pooler. Dropping it stops the pooler and removes its directory.
///
/// [`PgBouncer::builder`] takes the server and starts the `pgbouncer` program (found on
/// `PATH` or as `/usr/sbin/pgbouncer`, Debian's package) in a private directory of its own,
/// made and guarded like a server's: mode 0700, given to the `postgres` OS user when the
/// process runs as root (the program then runs as that user, as the server does, and its
/// files are written and read only as that user), the program stopped and the directory
/// removed on `Drop` (also while a panic unwinds), by a guardian process once the owning
/// process is gone, and by the next run's [sweep](super::sweep_servers) should both have
/// been killed. It listens on a free port of its own, on a Unix socket in its
/// directory, and (with [`PoolerAuth::Scram`], the default) on `127.0.0.1`.
///
/// The pooler reaches the server over the server's Unix socket (which trusts every role),
/// for any database (`* = host=<socket dir> port=<port>`; only some with
/// [`PgBouncerBuilder::only_databases`]). Clients authenticate to the
/// pooler itself:
///
/// - [`PoolerAuth::Scram`]: `auth_type = scram-sha-256`, with every role of the server
///   (`postgres`, the test roles but [`REJECT_ROLE`](super::REJECT_ROLE), the superuser named after the OS
///   user) in `userlist.txt`
///   with the server's [password](TestServer::password). The pooler accepts TCP then.
/// - [`PoolerAuth::Trust`]: `auth_type = trust` (the roles still have to be in
///   `userlist.txt`), on the Unix socket only: nothing is trusted over TCP, as for the server.
///
/// `postgres` is an `admin_users` of the pooler: [`PgBouncer::admin`] sends commands such as
/// `SHOW SERVERS`, `PAUSE db` or `KILL db` to its admin console (database `pgbouncer`).
///
/// ```no_run
/// use pgcluster::testing::{PgBouncer, PoolMode, TestServer, SCRAM_ROLE};
///
/// let server = TestServer::new()?;
/// let pooler = PgBouncer::builder(&server)
///     .pool_mode(PoolMode::Transaction)
///     .start()?;
/// // Through the pooler over TCP, SCRAM with the server's password:
/// let uri = pooler.tcp_uri(SCRAM_ROLE, "postgres");
/// println!("{}", pooler.admin("SHOW POOLS")?);
/// # let _ = uri;
/// # Ok::<(), pgcluster::testing::Error>(())
/// ```
#[derive(Debug)]
pub struct PgBouncer {
    auth: PoolerAuth,
    /// The shell whose child `pgbouncer` is ([`os::POSTMASTER_SCRIPT`]), while it runs.
    child: Option<Child>,
    dir: PathBuf,
    guardian: Option<Child>,
    mode: PoolMode,
    password: Password,
    port: u16,
    psql: PathBuf,
    run_as: RunAs,
    sock: PathBuf,
}

impl PgBouncer {
    /// Options for a pooler in front of `server`.
    pub fn builder(server: &TestServer) -> PgBouncerBuilder {
        PgBouncerBuilder {
            auth: PoolerAuth::Scram,
            conf_lines: Vec::new(),
            databases: Vec::new(),
            mode: PoolMode::Session,
            server_dir: server.socket_dir().to_owned(),
            server_port: server.port(),
            bin: server.bin_dir().to_owned(),
            password: server.password.clone(),
        }
    }

    /// Starts a pooler in front of `server` in `mode`, with SCRAM authentication.
    pub fn start(server: &TestServer, mode: PoolMode) -> Result<Self, Error> {
        Self::builder(server).pool_mode(mode).start()
    }

    /// The pooler's port (TCP and the socket's name).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the pooler's Unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.sock
    }

    /// The private directory of the pooler (`pgbouncer.ini`, `userlist.txt`,
    /// `pgbouncer.log`, `sock/`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its `pool_mode`.
    pub fn pool_mode(&self) -> PoolMode {
        self.mode
    }

    /// How clients authenticate to it.
    pub fn auth(&self) -> PoolerAuth {
        self.auth
    }

    /// The password of every role in its `userlist.txt`: the server's.
    pub fn password(&self) -> &str {
        &self.password.0
    }

    /// A rex URI to the pooler over its Unix socket, with the password when clients
    /// authenticate with SCRAM: `pgsql://user[:password]@%2Fsock%2Fdir:port/db`.
    pub fn uri(&self, user: &str, db: &str) -> String {
        let host = percent_encode(&self.sock.display().to_string());
        let password = (self.auth == PoolerAuth::Scram).then(|| self.password());
        format!(
            "pgsql://{}{host}:{}/{db}",
            userinfo(user, password),
            self.port
        )
    }

    /// A rex URI to the pooler over TCP with the password:
    /// `pgsql://user:password@127.0.0.1:port/db` (a [`PoolerAuth::Trust`] pooler does not
    /// listen on TCP).
    pub fn tcp_uri(&self, user: &str, db: &str) -> String {
        format!(
            "pgsql://{}{HOST_TCP}:{}/{db}",
            userinfo(user, Some(self.password())),
            self.port
        )
    }

    /// `PGHOST` (`127.0.0.1`, or the socket directory for a [`PoolerAuth::Trust`] pooler),
    /// `PGPORT`, `PGUSER` (`postgres`) and `PGPASSWORD`, for child processes.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        let host = match self.auth {
            PoolerAuth::Scram => HOST_TCP.to_owned(),
            PoolerAuth::Trust => self.sock.display().to_string(),
        };
        vec![
            ("PGHOST".to_owned(), host),
            ("PGPORT".to_owned(), self.port.to_string()),
            ("PGUSER".to_owned(), SUPERUSER.to_owned()),
            ("PGPASSWORD".to_owned(), self.password().to_owned()),
        ]
    }

    /// The process id of `pgbouncer`, from its pid file; `None` if it is not running.
    pub fn pid(&self) -> Option<u32> {
        let bytes = self.run_as.read_file(&self.pid_path())?;
        String::from_utf8_lossy(&bytes).trim().parse().ok()
    }

    /// The pooler's log so far (its stderr), the password masked.
    pub fn log(&self) -> String {
        self.run_as
            .read_file(&self.log_path())
            .map(|bytes| mask(&String::from_utf8_lossy(&bytes), self.password()))
            .unwrap_or_default()
    }

    /// Sends `command` (e.g. `SHOW SERVERS`, `PAUSE db`, `KILL db`, `RESUME db`) to the
    /// pooler's admin console as `postgres`, with the server's `psql`
    /// (`-X -A -t -q`); returns its output, one line per row, columns separated by `|`.
    pub fn admin(&self, command: &str) -> Result<String, Error> {
        let psql = if self.psql.is_file() {
            self.psql.clone()
        } else {
            PathBuf::from("psql")
        };
        let args: Vec<OsString> = vec![
            "-X".into(),
            "-A".into(),
            "-t".into(),
            "-q".into(),
            "-h".into(),
            self.sock.clone().into(),
            "-p".into(),
            self.port.to_string().into(),
            "-U".into(),
            SUPERUSER.into(),
            "-d".into(),
            "pgbouncer".into(),
            "-c".into(),
            command.into(),
        ];
        let mut cmd = self.run_as.command(&psql, args);
        cmd.current_dir("/").env("LC_ALL", "C").stdin(Stdio::null());
        clear_pg_env(&mut cmd);
        cmd.env("PGPASSWORD", self.password());
        let output = cmd.output().map_err(|e| Error::io("run", &psql, &e))?;
        checked("psql (pgbouncer admin console)", output, String::new())
            .map_err(|e| e.masking(self.password()))
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("pgbouncer.log")
    }

    fn pid_path(&self) -> PathBuf {
        self.dir.join("pgbouncer.pid")
    }

    /// Writes `name` in the private directory as the pooler's OS user.
    fn write(&self, name: &str, text: &str) -> Result<(), Error> {
        self.run_as.write_file(&self.dir.join(name), text)
    }

    /// The arguments of `sh` for `sh -c script pgcluster <pid file>`.
    fn shell_args(&self, script: &str) -> [OsString; 4] {
        [
            OsString::from("-c"),
            script.into(),
            "pgcluster".into(),
            self.pid_path().into(),
        ]
    }

    /// Runs `script` on the pid file as the pooler's OS user; whether it succeeded.
    fn signal(&self, script: &str) -> bool {
        self.run_as
            .command(Path::new("/bin/sh"), self.shell_args(script))
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Starts `program` in the foreground, its output appended to the log, and waits until
    /// its socket takes connections; the error carries the log when it ends first.
    fn spawn(&mut self, program: &Path) -> Result<(), Error> {
        let args: Vec<OsString> = vec![
            "-c".into(),
            os::POSTMASTER_SCRIPT.into(),
            "pgcluster-pgbouncer".into(),
            self.log_path().into(),
            program.into(),
            self.dir.join("pgbouncer.ini").into(),
        ];
        let mut cmd = self.run_as.command(Path::new("/bin/sh"), args);
        // Its working directory is its own: what tells a sweep that the pid is this
        // pooler's.
        cmd.current_dir(&self.dir)
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        clear_pg_env(&mut cmd);
        let mut child = cmd.spawn().map_err(|e| Error::io("run", program, &e))?;
        let socket = self.sock.join(format!(".s.PGSQL.{}", self.port));
        let started = Instant::now();
        let status = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break status.to_string();
            }
            // Its pid file written in full too: the stop and the sweep go by it.
            if UnixStream::connect(&socket).is_ok() && self.pid().is_some() {
                self.child = Some(child);
                return Ok(());
            }
            if started.elapsed() >= READY_TIMEOUT {
                self.child = Some(child);
                self.stop();
                break format!("not listening after {} s", READY_TIMEOUT.as_secs());
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Err(Error::Command {
            program: "pgbouncer".into(),
            status,
            output: self.log().trim().to_owned(),
        })
    }

    /// Stops the pooler (`SIGTERM`, then `SIGKILL` if it does not go) and reaps it.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        self.signal(STOP_SCRIPT);
        if !os::wait_child(&mut child, os::REAP_BOUND) {
            self.signal(KILL_SCRIPT);
            // The shell and pgbouncer both, should pgbouncer have written no pid file.
            os::kill_group(&mut child);
        }
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        self.stop();
        let _ = fs::remove_dir_all(&self.dir);
        if let Some(guardian) = self.guardian.take() {
            os::stop_guardian(guardian);
        }
    }
}

/// `pgbouncer` on `PATH`, else Debian's.
fn find_pgbouncer() -> Result<PathBuf, Error> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("pgbouncer"))
            .find(|p| p.is_file())
    });
    on_path
        .or_else(|| Some(PathBuf::from(DEBIAN_PGBOUNCER)).filter(|p| p.is_file()))
        .ok_or(Error::PgBouncerNotFound)
}

/// `userlist.txt`: every role of the server but [`REJECT_ROLE`](super::REJECT_ROLE) (which the server refuses
/// anyway) with `password` (`"name" "password"`, quotes doubled).
fn userlist(password: &str) -> String {
    let mut roles = vec![
        SUPERUSER.to_owned(),
        SCRAM_ROLE.to_owned(),
        MD5_ROLE.to_owned(),
        PASSWORD_ROLE.to_owned(),
    ];
    if let Some(user) = os::os_user_name().filter(|u| u != SUPERUSER) {
        roles.push(user);
    }
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    roles
        .iter()
        .map(|role| format!("{} {}\n", quote(role), quote(password)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userlist_quotes() {
        let text = userlist("p\"w");
        assert!(text.starts_with("\"postgres\" \"p\"\"w\"\n"), "{text}");
        assert!(text.contains("\"pgcluster_scram\" \"p\"\"w\"\n"), "{text}");
    }
}
