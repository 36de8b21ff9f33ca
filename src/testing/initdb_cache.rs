//! `initdb` once per set of server programs: its result is cached and copied for each new
//! throwaway server.
//!
//! The cache is a private directory (mode 0700) of the user the servers run as:
//! `$PGCLUSTER_INITDB_CACHE`, else `$XDG_CACHE_HOME/pgcluster/initdb`, else
//! `~/.cache/pgcluster/initdb` (as root: the home of the `postgres` OS user, who runs the
//! servers). Each entry is a data directory named after the SHA-256 of the programs'
//! directory, the size and modification time of its `initdb` and `postgres` (which change
//! with the version), and the `initdb` options. An entry is built as that user in a
//! temporary directory inside the cache and renamed into place (`rename` is atomic: of two
//! processes building at once, one wins and the other uses its result), so an entry in
//! place is always complete. Should the cache be unusable (no home, not its owner's), the
//! server runs `initdb` itself.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use super::os::{clear_pg_env, RunAs};
use super::{hex, Error};
use crate::conninfo::osuser;

/// The environment variable naming the cache directory.
pub const INITDB_CACHE_VAR: &str = "PGCLUSTER_INITDB_CACHE";

/// Builds the entry `$2` of the cache `$1` if it is missing (running `initdb` `$4...` with
/// `-D`), then copies it to `$3`; prints `hit` or `built`. Exits 3 when the cache directory
/// cannot be used, 4 when `initdb` failed (its output on stderr).
const CACHE_SCRIPT: &str = r#"cache=$1 key=$2 dest=$3; shift 3
umask 077
mkdir -p -- "$cache" 2>/dev/null && [ -d "$cache" ] && [ ! -L "$cache" ] && [ -O "$cache" ] \
  && chmod 700 -- "$cache" || exit 3
# Left by a builder that was killed (a build takes seconds, not an hour).
find "$cache" -maxdepth 1 -name 'building-*' -mmin +60 -exec rm -rf {} + 2>/dev/null
state=hit
if [ ! -f "$cache/$key/PG_VERSION" ]; then
  state=built
  tmp=$(mktemp -d "$cache/building-XXXXXXXX") || exit 3
  if ! "$@" -D "$tmp/data" >"$tmp/log" 2>&1; then
    cat "$tmp/log" >&2; rm -rf "$tmp"; exit 4
  fi
  # Another process may have won the race: its entry is as good.
  mv -T -- "$tmp/data" "$cache/$key" 2>/dev/null || state=hit
  rm -rf "$tmp"
fi
# Each database's directory copied beside the rest (about 300 files each): making files is
# the cost, and two cores make them about a quarter faster than one. Sparse: most of the
# first WAL segment is zeros.
src=$cache/$key
mkdir -m 700 -- "$dest" "$dest/base" || exit 5
jobs=
for db in "$src"/base/*; do
  cp -a --sparse=always -- "$db" "$dest/base/" & jobs="$jobs $!"
done
failed=0
find "$src" -mindepth 1 -maxdepth 1 ! -name base \
  -exec cp -a --sparse=always -t "$dest" -- {} + || failed=1
for job in $jobs; do wait "$job" || failed=1; done
[ "$failed" = 0 ] || exit 5
echo "$state""#;

/// How a [`TestServer`](super::TestServer)'s data directory was made
/// ([`TestServer::init`](super::TestServer::init)).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// Copied from the `initdb` cache, where it was already.
    Hit,
    /// `initdb` ran into the cache (the first server of these programs), then copied.
    Built,
    /// `initdb` ran into the data directory (no cache, or it could not be used), or a
    /// standby's `pg_basebackup`.
    Plain,
}

/// The default cache directory for servers run as `run_as` (see the module documentation).
pub(super) fn default_dir(run_as: &RunAs) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(INITDB_CACHE_VAR).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let home = match run_as {
        RunAs::Me => {
            if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
                return Some(Path::new(&xdg).join("pgcluster/initdb"));
            }
            PathBuf::from(std::env::var_os("HOME").filter(|d| !d.is_empty())?)
        }
        RunAs::Postgres { uid, .. } => PathBuf::from(osuser::passwd_entry(*uid)?.1),
    };
    Some(home.join(".cache/pgcluster/initdb"))
}

/// The cache key of `initdb` in `bin` with `args`.
fn key(bin: &Path, args: &[OsString]) -> String {
    let mut hash = Sha256::new();
    let bin = fs::canonicalize(bin).unwrap_or_else(|_| bin.to_owned());
    hash.update(bin.as_os_str().as_encoded_bytes());
    for program in ["initdb", "postgres"] {
        let (size, mtime) = fs::metadata(bin.join(program))
            .map(|m| (m.size(), m.mtime()))
            .unwrap_or_default();
        hash.update(format!("\0{program}\0{size}\0{mtime}").as_bytes());
    }
    for arg in args {
        hash.update(b"\0");
        hash.update(arg.as_encoded_bytes());
    }
    hex(&hash.finalize()[..16])
}

/// Makes the data directory `data` (in a directory of the server's user) as `initdb` in
/// `bin` with `args` would: copied from the cache `cache` (built there first if needed),
/// or by `initdb` itself when there is no cache or it cannot be used.
pub(super) fn init_data(
    run_as: &RunAs,
    bin: &Path,
    cache: Option<&Path>,
    args: &[OsString],
    data: &Path,
) -> Result<Init, Error> {
    let initdb = bin.join("initdb");
    if let Some(cache) = cache {
        let mut all: Vec<OsString> = ["-c", CACHE_SCRIPT, "pgcluster-initdb-cache"]
            .map(OsString::from)
            .to_vec();
        all.extend([
            cache.as_os_str().to_owned(),
            key(bin, args).into(),
            data.as_os_str().to_owned(),
            initdb.clone().into(),
        ]);
        all.extend(args.iter().cloned());
        let output = command(run_as, Path::new("/bin/sh"), &all)
            .output()
            .map_err(|e| Error::io("run", "/bin/sh", &e))?;
        match output.status.code() {
            Some(0) if output.stdout.starts_with(b"hit") => return Ok(Init::Hit),
            Some(0) => return Ok(Init::Built),
            Some(4) => {
                return Err(Error::Command {
                    program: "initdb".into(),
                    status: output.status.to_string(),
                    output: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
                })
            }
            // The cache cannot be used (or the copy failed): initdb as if there were none,
            // into a clean place.
            _ => {
                let _ = run_as
                    .command(Path::new("rm"), [OsStr::new("-rf"), data.as_os_str()])
                    .status();
            }
        }
    }
    let mut all = vec![OsString::from("-D"), data.as_os_str().to_owned()];
    all.extend(args.iter().cloned());
    let output = command(run_as, &initdb, &all)
        .output()
        .map_err(|e| Error::io("run", &initdb, &e))?;
    super::checked("initdb", output, String::new())?;
    Ok(Init::Plain)
}

/// `program args` as the server's user, in `/`, with untranslated messages and no `PG*`
/// variables.
fn command(run_as: &RunAs, program: &Path, args: &[OsString]) -> Command {
    let mut cmd = run_as.command(program, args);
    cmd.current_dir("/").env("LC_ALL", "C").stdin(Stdio::null());
    clear_pg_env(&mut cmd);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_programs_and_the_options() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        let a = key(Path::new("/nonexistent/a"), &args(&["-U", "postgres"]));
        assert_eq!(a.len(), 32);
        assert_eq!(
            a,
            key(Path::new("/nonexistent/a"), &args(&["-U", "postgres"]))
        );
        assert_ne!(
            a,
            key(Path::new("/nonexistent/b"), &args(&["-U", "postgres"]))
        );
        assert_ne!(a, key(Path::new("/nonexistent/a"), &args(&["-U", "other"])));
        assert_ne!(a, key(Path::new("/nonexistent/a"), &args(&["-Upostgres"])));
    }
}
