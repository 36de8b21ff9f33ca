//! Dry runs: a [`Cluster`] that records the statements that would change something, and
//! on which maintenance database, instead of sending them. What only reads (whether a
//! database exists, the catalog `overwrite` copies, the server's version) is still sent,
//! so the statements are the ones a real run would send now.

use std::sync::{Mutex, PoisonError};

use super::Cluster;

/// A statement a dry run did not send.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedStatement {
    /// The maintenance database it would run on (`postgres`, or `template1` when the
    /// statement is about `postgres`).
    pub database: String,
    /// The statement (one or several, as one simple query).
    pub sql: String,
}

/// The statements recorded by a dry-run cluster.
pub(super) type Plan = Mutex<Vec<PlannedStatement>>;

impl Cluster {
    /// This cluster, recording instead of sending every statement that changes something
    /// (`CREATE`, `DROP`, `ALTER DATABASE`): each call then returns as if
    /// it had succeeded, and [`Cluster::take_planned`] gives what it would have run.
    /// Read-only lookups are still sent (they decide what would run).
    ///
    /// ```no_run
    /// # #[cfg(feature = "async")]
    /// # async fn demo() -> Result<(), pgcluster::Error> {
    /// let cluster = pgcluster::get_cluster("pgsql:///deploy_demo")?.dry_run();
    /// cluster.drop_database("deploy_demo_derived").await?;
    /// let planned = cluster.take_planned();
    /// assert_eq!(planned[0].database, "postgres");
    /// assert_eq!(planned[0].sql, r#"DROP DATABASE "deploy_demo_derived";"#);
    /// # Ok(()) }
    /// ```
    pub fn dry_run(mut self) -> Self {
        self.plan = Some(Plan::default());
        self
    }

    /// Whether this is a dry-run cluster ([`Cluster::dry_run`]).
    pub fn is_dry_run(&self) -> bool {
        self.plan.is_some()
    }

    /// The statements a dry-run cluster recorded, oldest first, each once (empty for a
    /// cluster that sends them).
    pub fn take_planned(&self) -> Vec<PlannedStatement> {
        self.plan.as_ref().map_or_else(Vec::new, |plan| {
            std::mem::take(&mut *plan.lock().unwrap_or_else(PoisonError::into_inner))
        })
    }

    /// Records `sql` on maintenance database `database` if this is a dry run (then it must
    /// not be sent): whether it was recorded.
    pub(super) fn planned(&self, database: &str, sql: &str) -> bool {
        let Some(plan) = &self.plan else {
            return false;
        };
        plan.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(PlannedStatement {
                database: database.to_owned(),
                sql: sql.to_owned(),
            });
        true
    }
}
