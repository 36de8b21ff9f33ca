//! Transactions and autocommit on the blocking connection, over the async connection's
//! (see [`crate::connection::Transaction`]): a [`BlockingTransaction`] dropped without
//! `commit` rolls back at once.

use std::ops::{Deref, DerefMut};

use super::connection::Connection;
use crate::error::Error;

impl Connection {
    /// Whether each statement runs on its own (the default).
    pub fn autocommit(&self) -> bool {
        self.inner().autocommit()
    }

    /// Turns autocommit on or off (see [`crate::Connection::set_autocommit`]).
    pub fn set_autocommit(&mut self, autocommit: bool) -> Result<(), Error> {
        self.parts().0.set_autocommit(autocommit)
    }

    /// Commits the open transaction (see [`crate::Connection::commit`]).
    pub fn commit(&mut self) -> Result<(), Error> {
        let (conn, runtime) = self.parts();
        runtime.block_on(conn.commit())
    }

    /// Rolls back the open transaction (see [`crate::Connection::rollback`]).
    pub fn rollback(&mut self) -> Result<(), Error> {
        let (conn, runtime) = self.parts();
        runtime.block_on(conn.rollback())
    }

    /// Opens a transaction and returns its guard (see [`crate::Connection::transaction`]).
    /// A guard dropped without `commit` rolls the transaction back at once.
    pub fn transaction(&mut self) -> Result<BlockingTransaction<'_>, Error> {
        let (conn, runtime) = self.parts();
        runtime.block_on(conn.begin())?;
        Ok(BlockingTransaction {
            conn: self,
            finished: false,
        })
    }

    /// Runs `f` in a transaction: committed when `f` returns `Ok`, rolled back when it
    /// returns `Err` (that error is returned) or panics.
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
/// connection. Dropped without [`BlockingTransaction::commit`], it rolls back at once
/// (inside an async runtime, where it cannot block, the rollback is left pending for the
/// connection's next use).
#[must_use = "a transaction is rolled back unless committed"]
pub struct BlockingTransaction<'a> {
    conn: &'a mut Connection,
    finished: bool,
}

impl BlockingTransaction<'_> {
    /// Commits (see [`crate::connection::Transaction::commit`]).
    pub fn commit(mut self) -> Result<(), Error> {
        self.finished = true;
        let (conn, runtime) = self.conn.parts();
        runtime.block_on(conn.end_transaction("COMMIT"))
    }

    /// Rolls back.
    pub fn rollback(mut self) -> Result<(), Error> {
        self.finished = true;
        let (conn, runtime) = self.conn.parts();
        runtime.block_on(conn.end_transaction("ROLLBACK"))
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
        let (conn, runtime) = self.conn.parts();
        conn.leave_rollback_pending();
        if tokio::runtime::Handle::try_current().is_err() {
            // A failed rollback leaves the connection broken or the transaction to the
            // server, which rolls it back when the connection ends.
            let _ = runtime.block_on(conn.settle());
        }
    }
}
