//! Transactions and autocommit on the blocking connection, over the async connection's
//! (see [`crate::connection::Transaction`]): a [`BlockingTransaction`] dropped without
//! `commit` rolls back at once.

use std::ops::{Deref, DerefMut};

use super::connection::Connection;
use crate::driver::block_on;
use crate::error::Error;

impl Connection {
    /// Whether each statement runs on its own (the default).
    pub fn autocommit(&self) -> bool {
        self.inner().autocommit()
    }

    /// Turns autocommit on or off (see [`crate::Connection::set_autocommit`]).
    pub fn set_autocommit(&mut self, autocommit: bool) -> Result<(), Error> {
        self.inner_mut().set_autocommit(autocommit)
    }

    /// Commits the open transaction (see [`crate::Connection::commit`]).
    pub fn commit(&mut self) -> Result<(), Error> {
        block_on(self.inner_mut().commit())
    }

    /// Rolls back the open transaction (see [`crate::Connection::rollback`]).
    pub fn rollback(&mut self) -> Result<(), Error> {
        block_on(self.inner_mut().rollback())
    }

    /// Opens a transaction and returns its guard (see [`crate::Connection::transaction`]).
    /// A guard dropped without `commit` rolls the transaction back at once.
    pub fn transaction(&mut self) -> Result<BlockingTransaction<'_>, Error> {
        block_on(self.inner_mut().begin())?;
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
/// connection. Dropped without [`BlockingTransaction::commit`], it rolls back at once.
#[must_use = "a transaction is rolled back unless committed"]
pub struct BlockingTransaction<'a> {
    conn: &'a mut Connection,
    finished: bool,
}

impl BlockingTransaction<'_> {
    /// Commits (see [`crate::connection::Transaction::commit`]).
    pub fn commit(mut self) -> Result<(), Error> {
        self.finished = true;
        block_on(self.conn.inner_mut().end_transaction("COMMIT"))
    }

    /// Rolls back.
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
