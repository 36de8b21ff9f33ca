//! The blocking `Cluster`: the cluster layer's one implementation ([`crate::Cluster`]), its
//! connections on the blocking driver's std sockets, each call run to its end by
//! [`block_on`] (no runtime).

use std::fmt;

use super::connection::Connection;
use crate::cluster::{self, CreateOptions, DatabaseInfo, DatabaseName, DropOptions, Interrupter};
use crate::conninfo::{Config, Env};
use crate::driver::{block_on, Kind};
use crate::error::Error;

/// The cluster a connection setting points at, with blocking methods (the spec's API).
/// Its connections are std sockets: no runtime, no other thread (in an async task each
/// call would block the runtime's thread as well: use [`crate::Cluster`] there).
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

/// [`crate::get_cluster`], blocking.
pub fn get_cluster(setting: &str) -> Result<Cluster, Error> {
    Ok(Cluster {
        inner: cluster::Cluster::get_with(setting, Kind::Blocking)?,
    })
}

impl Cluster {
    /// See [`crate::Cluster::new`].
    pub fn new(setting: &str) -> Result<Self, Error> {
        Ok(Self {
            inner: cluster::Cluster::new_with(setting, Kind::Blocking)?,
        })
    }

    /// rex's repr of the cluster, `Cluster('pgsql:///deploy_demo')`; see
    /// [`crate::Cluster::repr`].
    pub fn repr(&self) -> String {
        self.inner.repr()
    }

    /// See [`crate::Cluster::from_config`].
    pub fn from_config(config: Config) -> Result<Self, Error> {
        Ok(Self {
            inner: cluster::Cluster::from_config_with(config, Kind::Blocking),
        })
    }

    /// See [`crate::Cluster::with_env`].
    pub fn with_env(self, env: Env) -> Self {
        Self {
            inner: self.inner.with_env(env),
        }
    }

    /// See [`crate::Cluster::take_warnings`].
    pub fn take_warnings(&self) -> Vec<String> {
        self.inner.take_warnings()
    }

    /// See [`crate::Cluster::interrupter`]: call [`Interrupter::interrupt`] from another
    /// thread (e.g. one that handles signals) to stop the call this thread is in.
    pub fn interrupter(&self) -> Interrupter {
        self.inner.interrupter()
    }

    /// See [`crate::Cluster::database`].
    pub fn database(&self) -> Result<String, Error> {
        self.inner.database()
    }

    /// See [`crate::Cluster::named_database`]: what a `None` name means in
    /// `drop_database`, `drop_database_with`, `overwrite` and `rename`.
    pub fn named_database(&self) -> Option<&str> {
        self.inner.named_database()
    }

    /// See [`crate::Cluster::config`].
    pub fn config(&self) -> Config {
        self.inner.config()
    }

    /// See [`crate::Cluster::server`].
    pub fn server(&self) -> Result<String, Error> {
        self.inner.server()
    }

    /// See [`crate::Cluster::connect`] (`None`: the setting's database). The connection
    /// outlives this `Cluster` if need be.
    pub fn connect(&self, name: impl DatabaseName) -> Result<Connection, Error> {
        let conn = block_on(self.inner.connect(name))?;
        Ok(Connection::from_inner(conn))
    }

    /// See [`crate::Cluster::connect_with`]: rex's `connect(name, autocommit)`.
    pub fn connect_with(
        &self,
        name: impl DatabaseName,
        autocommit: bool,
    ) -> Result<Connection, Error> {
        let mut conn = self.connect(name)?;
        conn.set_autocommit(autocommit)?;
        Ok(conn)
    }

    /// See [`crate::Cluster::exists`].
    pub fn exists(&self, name: impl DatabaseName) -> Result<bool, Error> {
        block_on(self.inner.exists(name))
    }

    /// See [`crate::Cluster::create`]: from the server's default template.
    pub fn create(&self, name: impl DatabaseName) -> Result<(), Error> {
        block_on(self.inner.create(name))
    }

    /// See [`crate::Cluster::create_with`]: a template, an owner and the rest, by name.
    pub fn create_with(
        &self,
        name: impl DatabaseName,
        options: &CreateOptions,
    ) -> Result<(), Error> {
        block_on(self.inner.create_with(name, options))
    }

    /// See [`crate::Cluster::copy_database`]: the spec's `clone(template, name)`.
    #[doc(alias = "clone")]
    pub fn copy_database(
        &self,
        template: impl AsRef<str>,
        name: impl DatabaseName,
    ) -> Result<(), Error> {
        block_on(self.inner.copy_database(template, name))
    }

    /// See [`crate::Cluster::drop_database`]: the spec's `drop(name)`. With `None`, only a
    /// database the setting names explicitly, else [`Error::DatabaseNotNamed`] before
    /// anything is sent.
    #[doc(alias = "drop")]
    pub fn drop_database(&self, name: impl DatabaseName) -> Result<(), Error> {
        block_on(self.inner.drop_database(name))
    }

    /// See [`crate::Cluster::drop_database_with`].
    pub fn drop_database_with(
        &self,
        name: impl DatabaseName,
        options: &DropOptions,
    ) -> Result<(), Error> {
        block_on(self.inner.drop_database_with(name, options))
    }

    /// See [`crate::Cluster::rename`]: the new name first.
    pub fn rename(&self, new: impl AsRef<str>, name: impl DatabaseName) -> Result<(), Error> {
        block_on(self.inner.rename(new, name))
    }

    /// See [`crate::Cluster::overwrite`].
    pub fn overwrite(&self, name: impl DatabaseName) -> Result<(), Error> {
        block_on(self.inner.overwrite(name))
    }

    /// See [`crate::Cluster::overwrite_with`].
    pub fn overwrite_with(
        &self,
        name: impl DatabaseName,
        options: &CreateOptions,
    ) -> Result<(), Error> {
        block_on(self.inner.overwrite_with(name, options))
    }

    /// See [`crate::Cluster::list`].
    pub fn list(&self) -> Result<Vec<DatabaseInfo>, Error> {
        block_on(self.inner.list())
    }

    /// See [`crate::Cluster::leftovers`].
    pub fn leftovers(&self) -> Result<Vec<DatabaseInfo>, Error> {
        block_on(self.inner.leftovers())
    }

    /// See [`crate::Cluster::cleanup`].
    pub fn cleanup(&self) -> Result<Vec<DatabaseInfo>, Error> {
        block_on(self.inner.cleanup())
    }
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}
