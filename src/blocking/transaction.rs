//! Transactions and autocommit on the blocking connection, over the connection layer's: a
//! [`BlockingTransaction`] dropped without `commit` rolls back at once.

use std::ops::{Deref, DerefMut};

use super::connection::Connection;
use crate::driver::block_on;
use crate::error::Error;

impl Connection {
    /// Whether each statement runs on its own (the default), as psycopg2's
    /// `connection.autocommit`.
    pub fn autocommit(&self) -> bool {
        self.inner().autocommit()
    }

    /// Turns autocommit on or off. With it off, `BEGIN` is sent before the first statement
    /// run while no transaction is open, and [`Connection::commit`] or
    /// [`Connection::rollback`] ends the transaction.
    ///
    /// # Errors
    ///
    /// [`Error::Misuse`] while a transaction is open (psycopg2's `set_session cannot be
    /// used inside a transaction`); [`Error::Closed`] on a closed or broken connection.
    /// Nothing is sent.
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// let mut conn = cluster.connect(None)?;
    /// conn.set_autocommit(false)?;
    /// conn.simple_query("CREATE TABLE deploy_log (line text)")?; // after BEGIN
    /// conn.rollback()?; // the table is gone again
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn set_autocommit(&mut self, autocommit: bool) -> Result<(), Error> {
        self.inner_mut().set_autocommit(autocommit)
    }

    /// Commits the open transaction; nothing to do when none is open (as psycopg2).
    ///
    /// # Errors
    ///
    /// [`Error::CommitRolledBack`] when a statement of the transaction had failed (the
    /// server rolls it back, and that is not a silent success); [`Error::Query`] when the
    /// connection is lost.
    pub fn commit(&mut self) -> Result<(), Error> {
        block_on(self.inner_mut().commit())
    }

    /// Rolls back the open transaction; nothing to do when none is open.
    ///
    /// # Errors
    ///
    /// [`Error::Query`] when the connection is lost.
    pub fn rollback(&mut self) -> Result<(), Error> {
        block_on(self.inner_mut().rollback())
    }

    /// Opens a transaction (`BEGIN`) and returns its guard, which dereferences to the
    /// connection. [`BlockingTransaction::commit`] commits; a guard dropped without
    /// `commit` (an error returned with `?`, a panic) rolls the transaction back at once.
    ///
    /// # Errors
    ///
    /// [`Error::Misuse`] while a transaction is already open; [`Error::Closed`]; the
    /// errors of [`Connection::simple_query`] for `BEGIN`.
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// let mut conn = cluster.connect(None)?;
    /// let mut tx = conn.transaction()?;
    /// tx.simple_query("CREATE TABLE deploy_log (line text)")?;
    /// tx.query("INSERT INTO deploy_log VALUES ($1)", &[Some("started")])?;
    /// tx.commit()?;
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn transaction(&mut self) -> Result<BlockingTransaction<'_>, Error> {
        block_on(self.inner_mut().begin())?;
        Ok(BlockingTransaction {
            conn: self,
            finished: false,
        })
    }

    /// Runs `f` in a transaction: committed when `f` returns `Ok`, rolled back when it
    /// returns `Err` (that error is returned) or panics.
    ///
    /// # Errors
    ///
    /// Those of [`Connection::transaction`] and [`BlockingTransaction::commit`], or the
    /// error `f` returned.
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// let mut conn = cluster.connect(None)?;
    /// let rows = conn.in_transaction(|conn| {
    ///     conn.simple_query("CREATE TEMP TABLE t (n int)")?;
    ///     conn.query("INSERT INTO t VALUES ($1::int)", &[Some("7")])?.rows_affected()
    ///         .ok_or(pgcluster::Error::Unexpected("no INSERT tag".into()))
    /// })?;
    /// assert_eq!(rows, 1);
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn in_transaction<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut tx = self.transaction()?;
        let value = f(&mut tx)?;
        tx.commit()?;
        Ok(value)
    }
}

/// An open transaction on a blocking [`Connection`]; it dereferences to the
/// connection. Dropped without [`BlockingTransaction::commit`], it rolls back at once.
#[must_use = "a transaction is rolled back unless committed"]
pub struct BlockingTransaction<'a> {
    conn: &'a mut Connection,
    finished: bool,
}

impl BlockingTransaction<'_> {
    /// Commits. A transaction in which a statement failed is rolled back by the server,
    /// and that is returned as [`Error::CommitRolledBack`].
    pub fn commit(mut self) -> Result<(), Error> {
        self.finished = true;
        block_on(self.conn.inner_mut().end_transaction("COMMIT"))
    }

    /// Rolls back; dropping the guard does the same.
    pub fn rollback(mut self) -> Result<(), Error> {
        self.finished = true;
        block_on(self.conn.inner_mut().end_transaction("ROLLBACK"))
    }
}

impl Deref for BlockingTransaction<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl DerefMut for BlockingTransaction<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn
    }
}

impl Drop for BlockingTransaction<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let conn = self.conn.inner_mut();
        conn.leave_rollback_pending();
        // Std sockets: this needs no runtime, wherever it runs. A failed rollback leaves
        // the connection broken or the transaction to the server, which rolls it back
        // when the connection ends.
        let _ = block_on(conn.settle());
    }
}
