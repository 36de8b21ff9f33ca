//! Dropping a database once its sessions are gone (`DropOptions::drain`), and the sessions
//! that block a drop.
//!
//! A drain sets `ALLOW_CONNECTIONS false` (no new session), then polls `pg_stat_activity`
//! every [`POLL`] until no session is left, and drops the database. Past the timeout it
//! drops anyway with `FORCE` if that was asked for (ending the sessions), else gives up
//! with [`Error::Drain`]. `ALLOW_CONNECTIONS` is put back (if it was true) whenever the
//! database is not dropped: a timeout, a failure, an interrupt. `FORCE` on a server older
//! than 13 is refused before any of that.
//!
//! The sessions are read on the maintenance database for `name` (`template1` when `name`
//! is `postgres`), since a database that refuses connections refuses ours too. A dry run
//! waits for nothing: it plans `ALLOW_CONNECTIONS false` and the drop.

use std::time::{Duration, Instant};

use super::name::quote_ident;
use super::{Cluster, DatabaseName, DropOptions, Mode};
use crate::error::{AfterDrain, Error, InUse, Session, Stage};

/// How often the sessions are looked at.
const POLL: Duration = Duration::from_millis(250);

/// SQLSTATE `object_in_use`: `database "x" is being accessed by other users`.
pub(super) const OBJECT_IN_USE: &str = "55006";

/// The sessions on a database, oldest first, our own excepted.
const SESSIONS_SQL: &str = "SELECT a.pid::text, a.usename::text, a.application_name, \
     a.client_addr::text, a.backend_start::text FROM pg_catalog.pg_stat_activity AS a \
     WHERE a.datname::text = $1::text AND a.pid <> pg_catalog.pg_backend_pid() \
     ORDER BY a.backend_start, a.pid";

impl Cluster {
    /// The sessions connected to database `name` (any, as `pg_stat_activity` shows them
    /// to this role; our own excepted), oldest first; with `None`, the database the
    /// setting names.
    pub async fn sessions(&self, name: impl DatabaseName) -> Result<Vec<Session>, Error> {
        let name = self.target(name.database_name())?;
        self.sessions_as(Mode::Work, &name).await
    }

    async fn sessions_as(&self, mode: Mode, name: &str) -> Result<Vec<Session>, Error> {
        let result = self
            .read_for(mode, &[name], SESSIONS_SQL, &[Some(name)])
            .await?;
        Ok(result
            .rows
            .iter()
            .map(|row| {
                let cell = |i: usize| row.get(i).cloned().flatten();
                Session {
                    pid: cell(0).and_then(|p| p.parse().ok()).unwrap_or(0),
                    user: cell(1),
                    application_name: cell(2).unwrap_or_default(),
                    client_addr: cell(3),
                    backend_start: cell(4),
                    pooler: false,
                }
            })
            .collect())
    }

    /// `e`, when it is the server's "being accessed by other users", as [`Error::InUse`]
    /// with the sessions on `name` now.
    pub(super) async fn with_sessions(&self, e: Error, name: &str) -> Error {
        match e {
            Error::Query(cause) if e_is_in_use(&cause) => {
                let mut sessions = self.sessions_as(Mode::Owed, name).await.unwrap_or_default();
                let pooler = self.pooler_address().await;
                if let Some(address) = &pooler {
                    for session in &mut sessions {
                        session.pooler = session.client_addr == *address;
                    }
                }
                Error::InUse(Box::new(InUse {
                    cause,
                    sessions,
                    pooler: pooler.is_some(),
                }))
            }
            e => e,
        }
    }

    /// Whether a pooler sits in front, and its address as the server sees it: a connection
    /// through the cluster's own setting (to the maintenance database, `postgres`, whatever
    /// the maintenance setting says; to the setting's database when that cannot be
    /// reached, as through a pooler that serves only the application's database) asks the
    /// server for its process id and client address; a pooler told us another process id
    /// (BackendKeyData). `None` when no pooler was seen (or neither connection nor the
    /// query succeeded); `Some(None)` for a pooler on the server's Unix socket.
    async fn pooler_address(&self) -> Option<Option<String>> {
        let mut conn = match self.open(super::MAINTENANCE_DB).await {
            Ok(conn) => conn,
            Err(_) => self.open(&self.database().ok()?).await.ok()?,
        };
        let told = conn.backend_pid();
        let result = conn
            .query(
                "SELECT pg_catalog.pg_backend_pid()::text, pg_catalog.inet_client_addr()::text",
                &[],
            )
            .await;
        conn.close().await;
        let row = result.ok()?.rows.into_iter().next()?;
        let pid: i32 = row.first().cloned().flatten()?.parse().ok()?;
        (told != Some(pid)).then(|| row.get(1).cloned().flatten())
    }

    /// Drops database `name` with `options` and their drain (see [`DropOptions::drain`]),
    /// calling `watch` with the sessions left at each look while it waits (not at all when
    /// there are none from the start).
    pub async fn drop_database_watching(
        &self,
        name: impl super::DatabaseName,
        options: &DropOptions,
        watch: &mut (dyn FnMut(&[Session], Duration) + Send),
    ) -> Result<(), Error> {
        let name =
            self.destructive_target(name.database_name(), crate::error::Destructive::Drop)?;
        let Some(timeout) = options.drain_timeout() else {
            return self.drop_as(Mode::Work, &name, *options).await;
        };
        if options.is_force() {
            // Before ALLOW_CONNECTIONS is touched: FORCE may be refused.
            self.check_force(&name).await?;
        }
        let allowed = self
            .read(
                "SELECT d.datallowconn::text FROM pg_catalog.pg_database AS d \
                 WHERE d.datname::text = $1::text",
                &[Some(&name)],
            )
            .await?;
        let Some(allowed) = allowed.rows.first() else {
            // Missing: the drop says so (or IF EXISTS passes).
            return self.drop_as(Mode::Work, &name, *options).await;
        };
        let allowed = allowed.first().cloned().flatten().as_deref() == Some("true");
        if allowed {
            self.ddl(&[&name], &allow_sql(&name, false)).await?;
        }
        if self.is_dry_run() {
            // Nothing was refused, so nothing is waited for: the plan is the drop that ends
            // a drain.
            return self.drop_as(Mode::Work, &name, *options).await;
        }
        let dropped = self.drain(&name, *options, timeout, watch).await;
        // Owed: also after an interrupt. A failure here leaves the first one reported.
        let restored = dropped.is_ok()
            || !allowed
            || self
                .ddl_as(Mode::Owed, &[&name], &allow_sql(&name, true))
                .await
                .is_ok();
        dropped.map_err(|gave_up| match gave_up {
            Drained::GaveUp { waited, sessions } => Error::Drain {
                database: name,
                waited,
                sessions,
                after: match (allowed, restored) {
                    (false, _) => AfterDrain::NotAllowedBefore,
                    (true, true) => AfterDrain::AllowedAgain,
                    (true, false) => AfterDrain::StillRefused,
                },
            },
            Drained::Failed(e) => e,
        })
    }

    async fn drain(
        &self,
        name: &str,
        options: DropOptions,
        timeout: Duration,
        watch: &mut (dyn FnMut(&[Session], Duration) + Send),
    ) -> Result<(), Drained> {
        let start = Instant::now();
        let deadline = start + timeout;
        loop {
            let sessions = self.sessions_as(Mode::Work, name).await?;
            if sessions.is_empty() {
                return Ok(self.drop_as(Mode::Work, name, options).await?);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            watch(&sessions, left);
            if left.is_zero() {
                if options.is_force() {
                    return Ok(self.drop_as(Mode::Work, name, options).await?);
                }
                return Err(Drained::GaveUp {
                    waited: start.elapsed(),
                    sessions,
                });
            }
            if self.interrupt.is_interrupted() {
                let sql = options.sql(name).map_err(Error::from)?;
                return Err(self
                    .interrupted(&[name], &sql, Stage::NotStarted)
                    .await
                    .into());
            }
            self.driver
                .sleep_until(deadline.min(Instant::now() + POLL))
                .await;
        }
    }
}

/// How a drain ended without a drop.
enum Drained {
    /// Time was up with sessions left, and `FORCE` was not asked for.
    GaveUp {
        waited: Duration,
        sessions: Vec<Session>,
    },
    /// Anything else that failed.
    Failed(Error),
}

impl From<Error> for Drained {
    fn from(e: Error) -> Self {
        Self::Failed(e)
    }
}

fn e_is_in_use(e: &crate::error::QueryError) -> bool {
    !e.connection_lost && e.fields.as_ref().and_then(|f| f.code.as_deref()) == Some(OBJECT_IN_USE)
}

/// `ALTER DATABASE "name" ALLOW_CONNECTIONS true|false;`
fn allow_sql(name: &str, yes: bool) -> String {
    format!(
        "ALTER DATABASE {} ALLOW_CONNECTIONS {yes};",
        quote_ident(name)
    )
}
