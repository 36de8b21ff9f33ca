//! A fresh database per test, cloned from a [`Template`](super::Template).

use std::fmt;
use std::sync::Arc;

use super::clone_method::CloneMethod;
use super::names::{fresh_name, name_for};
use super::owner::Owner;
use super::ready;
use super::template::{Shared, Template, TemplateError};
use crate::blocking::Connection;
use crate::Error;

/// A database of its own for one test, cloned from a [`Template`](super::Template) by
/// [`Template::fresh`](super::Template::fresh).
///
/// Its name tells whose it is: `pgcluster_db_<pid>_<n>_<thread name>`, where the thread
/// name is the test's (the test harness names each test's thread after the test; it is
/// made lowercase with anything but `a-z` and `0-9` turned into `_`, and shortened from
/// the front to fit 63 bytes).
///
/// When the handle is dropped, the database is dropped (`WITH (FORCE)` on PostgreSQL 13 and
/// later: sessions still connected to it are ended; before 13, a plain drop, which such
/// sessions make fail) — unless the thread is panicking, as in a failing test: then
/// the database is **kept**, and a line on stderr gives its connection string (a libpq
/// URI with no password, which `psql` takes) so that you can look inside while the server
/// runs (a [`TestServer`](super::TestServer) is stopped, and removed, when the process
/// ends; a `PGCLUSTER_TEST_URL` server keeps it until the next run sweeps it):
///
/// ```text
/// pgcluster: test failed; kept its database: psql 'postgres://postgres@%2Ftmp%2Fpgcluster-test-...%2Fsock:41234/pgcluster_db_1234_0_tests_users_start_empty'
/// ```
///
/// ```
/// use pgcluster::testing::{Migrations, TestServer};
///
/// let template = Migrations::new("app")
///     .dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/migrations"))
///     .build(TestServer::shared()?)?;
/// let db = template.fresh()?;
/// println!("{} cloned by {}", db.name(), db.clone_method());
/// let mut conn = db.connect()?;
/// conn.simple_query("INSERT INTO users (name) VALUES ('x')")?;
/// drop(conn);
/// let name = db.name().to_owned();
/// drop(db); // dropped: no panic
/// let other = template.fresh()?;
/// let mut admin = other.connect()?;
/// let left = admin.query("SELECT 1 FROM pg_database WHERE datname = $1", &[Some(&name)])?;
/// assert!(left.rows.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FreshDatabase {
    shared: Arc<Shared>,
    name: String,
    method: CloneMethod,
    /// Set once the database is dropped or deliberately kept.
    done: bool,
}

impl Template {
    /// A new database cloned from the template for the calling test, named
    /// `pgcluster_db_<pid>_<n>_<thread name>`; see [`FreshDatabase`].
    ///
    /// When a clone [made ahead](super::Migrations::ready) is ready, it is renamed to that
    /// name (no file is copied: milliseconds), and another one is made in the background;
    /// otherwise the template is cloned now.
    pub fn fresh(&self) -> Result<FreshDatabase, TemplateError> {
        let name = fresh_name();
        let method = match self.shared.take_ready(&name) {
            Some(method) => method,
            None => self.shared.clone_to(&name, Owner::current())?,
        };
        ready::refill(&self.shared);
        Ok(FreshDatabase::new(Arc::clone(&self.shared), name, method))
    }

    /// [`fresh`](Self::fresh) for another process: the database is named
    /// `pgcluster_db_<owner>_<n>_<thread name>`, `<n>` random (not this process's count), so
    /// that it tells which process it belongs to when this one only makes it and exits (the
    /// `pgcluster template clone` command, whose caller, a Python or Go test run, is the
    /// owner). Keep it with [`FreshDatabase::keep`] for the owner to use and drop.
    ///
    /// ```
    /// use pgcluster::testing::{Migrations, TestServer};
    ///
    /// let template = Migrations::new("app")
    ///     .dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/migrations"))
    ///     .build(TestServer::shared()?)?;
    /// let db = template.fresh_for(4242)?;
    /// assert!(db.name().starts_with("pgcluster_db_4242_"));
    /// db.remove()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fresh_for(&self, owner: u32) -> Result<FreshDatabase, TemplateError> {
        let mut random = [0u8; 4];
        // Without randomness, the time tells invocations apart almost as well.
        let n = crate::random::fill(&mut random).map_or_else(
            |_| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| u64::from(d.subsec_nanos()))
            },
            |()| u64::from(u32::from_le_bytes(random)),
        );
        let thread = std::thread::current();
        let name = name_for(owner, n, thread.name().unwrap_or("thread"));
        // Recorded as the owner's (if it runs here), so that it is swept once that is gone.
        let method = self.shared.clone_to(&name, Owner::of(owner).as_ref())?;
        Ok(FreshDatabase::new(Arc::clone(&self.shared), name, method))
    }
}

impl fmt::Debug for FreshDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FreshDatabase")
            .field("name", &self.name)
            .field("method", &self.method)
            .finish()
    }
}

impl FreshDatabase {
    pub(super) fn new(shared: Arc<Shared>, name: String, method: CloneMethod) -> Self {
        Self {
            shared,
            name,
            method,
            done: false,
        }
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How it was copied from the template.
    pub fn clone_method(&self) -> CloneMethod {
        self.method
    }

    /// A libpq URI of the database for `psql`, sqlx and other clients, every part
    /// percent-encoded, with no password: for a template built on a
    /// [`TestServer`](super::TestServer), `postgres://postgres@<socket dir>:<port>/<name>`
    /// (the server's socket needs no password); for one built with
    /// [`build_at`](super::Migrations::build_at) or
    /// [`build_with`](super::Migrations::build_with), the settings' user, hosts and
    /// ports as libpq resolves them here, and as `?key=value` those of their settings that
    /// say how to reach and authenticate to the server (`hostaddr`, `passfile`,
    /// `connect_timeout`, `options`, `application_name`, the `ssl*` files and modes,
    /// `channel_binding`, `require_auth`, `gssencmode`, `target_session_attrs`), never a
    /// password (the client finds it where libpq found it, e.g. `PGPASSWORD` or the
    /// password file).
    pub fn uri(&self) -> String {
        self.shared.target().uri(&self.name)
    }

    /// A new connection to the database (blocking API), as the user of the settings the
    /// template was built with (the superuser on a [`TestServer`](super::TestServer)).
    pub fn connect(&self) -> Result<Connection, Error> {
        self.shared.target().connect(&self.name)
    }

    /// Drops the database now, reporting a failure (which `Drop` can only print).
    pub fn remove(mut self) -> Result<(), TemplateError> {
        self.done = true;
        self.shared.drop_fresh(&self.name)
    }

    /// Keeps the database (it is not dropped), and returns its [URI](Self::uri).
    pub fn keep(mut self) -> String {
        self.done = true;
        self.uri()
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if std::thread::panicking() {
            eprintln!("{}", kept_message(&self.uri()));
        } else if let Err(e) = self.shared.drop_fresh(&self.name) {
            eprintln!(
                "pgcluster: cannot drop test database \"{}\": {e}",
                self.name.escape_debug()
            );
        }
    }
}

/// The line printed for a database kept after a panic.
fn kept_message(uri: &str) -> String {
    format!("pgcluster: test failed; kept its database: psql '{uri}'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_message_has_the_uri() {
        assert_eq!(
            kept_message("postgres://postgres@%2Fs:1/d"),
            "pgcluster: test failed; kept its database: psql 'postgres://postgres@%2Fs:1/d'"
        );
    }
}
