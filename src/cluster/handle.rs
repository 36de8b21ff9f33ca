//! The `Cluster` itself: what it holds (the setting, the environment, the idle
//! maintenance connections, the warnings, the interrupt state). Its methods are in the
//! parent module; without the `async` feature it is crate-private, the core of
//! [`blocking::Cluster`](crate::blocking::Cluster).

use std::sync::{Arc, Mutex};

use super::dry_run::Plan;
use super::interrupt;
use super::setting::Setting;
use crate::connection::ParkedConnection;
use crate::conninfo::Env;
use crate::driver::Kind;

/// The cluster a connection setting points at (async API; `blocking::Cluster` has the
/// same calls without `async`).
///
/// [`Cluster::repr`] shows the setting as rex does, `Cluster('pgsql:///deploy_demo')`, with
/// any password replaced by `xxx`.
///
/// ```no_run
/// # #[cfg(feature = "async")]
/// # async fn demo() -> Result<(), pgcluster::Error> {
/// let cluster = pgcluster::get_cluster("pgsql:///deploy_demo")?;
/// let name = String::from("deploy_demo_derived");
/// if !cluster.exists(&name).await? {
///     cluster.create(&name).await?;
/// }
/// let mut conn = cluster.connect(&name).await?;
/// let results = conn.simple_query("SELECT 1").await?;
/// assert_eq!(results[0].rows[0][0].as_deref(), Some("1"));
/// conn.close().await;
/// cluster.drop_database(&name).await?;
/// // The setting's own database: `None`.
/// let mut conn = cluster.connect(None).await?;
/// conn.close().await;
/// # Ok(()) }
/// ```
///
/// A `Cluster` keeps up to two idle maintenance connections and reuses them (rex opened
/// a new connection for every call); one the server closed while idle is noticed before
/// use and replaced. It can be shared by many threads and tasks at once.
pub struct Cluster {
    /// The driver of every connection it opens: [`Kind::Async`] for this async API,
    /// [`Kind::Blocking`] under [`blocking::Cluster`](crate::blocking::Cluster).
    pub(super) driver: Kind,
    pub(super) setting: Setting,
    /// Where maintenance statements and the catalog reads go, when not where `setting`
    /// says: a direct setting past a pooler ([`Cluster::with_maintenance`]).
    pub(super) maintenance: Option<Setting>,
    pub(super) env: Env,
    /// Idle maintenance connections to `postgres`.
    pub(super) idle: Mutex<Vec<ParkedConnection>>,
    /// What libpq would have printed on stderr while connecting, not yet taken.
    pub(super) warnings: Mutex<Vec<String>>,
    /// The statements under way, and whether an [`Interrupter`] stopped the work.
    pub(super) interrupt: Arc<interrupt::State>,
    /// A dry run's statements, recorded instead of sent (`None`: statements are sent).
    pub(super) plan: Option<Plan>,
}
