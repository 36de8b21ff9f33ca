//! Transactions and autocommit, as rex's `connect(name, autocommit)` over psycopg2.
//!
//! With autocommit on (the default here) every statement runs on its own. With it off,
//! the connection sends `BEGIN` before the first statement run while no transaction is
//! open, as psycopg2 does, and the work stays uncommitted until [`Connection::commit`].
//! [`Connection::transaction`] opens a transaction whose guard rolls it back unless it is
//! committed: a guard dropped without `commit` or `rollback` leaves a rollback pending,
//! sent before anything else on the connection's next use (an async `Drop` cannot wait
//! for the server; the blocking connection's guard rolls back at once).

#[cfg(feature = "async")]
use std::ops::{Deref, DerefMut};

use pgcluster_protocol::backend::TransactionStatus;

use super::copy::CopyIo;
use super::session::{Connection, State};
use crate::error::{Error, Misuse};

impl Connection {
    /// Whether each statement runs on its own (the default), as psycopg2's
    /// `connection.autocommit`.
    pub fn autocommit(&self) -> bool {
        self.client.autocommit
    }

    /// Turns autocommit on or off. With it off, `BEGIN` is sent before the first statement
    /// run while no transaction is open, and [`Connection::commit`] or
    /// [`Connection::rollback`] ends the transaction. Refused while a transaction is open
    /// (psycopg2's `set_session cannot be used inside a transaction`).
    pub fn set_autocommit(&mut self, autocommit: bool) -> Result<(), Error> {
        if self.state() != State::Open {
            return Err(Error::Closed);
        }
        if self.transaction_status() != TransactionStatus::Idle && !self.client.pending_rollback {
            return Err(Error::Misuse(Misuse::AutocommitInTransaction));
        }
        self.client.autocommit = autocommit;
        Ok(())
    }

    /// Commits the open transaction; nothing to do when none is open (as psycopg2). A
    /// transaction that had failed is rolled back by the server, and that is an error
    /// here, not a silent success.
    pub async fn commit(&mut self) -> Result<(), Error> {
        self.settle().await?;
        self.end_transaction("COMMIT").await
    }

    /// Rolls back the open transaction; nothing to do when none is open.
    pub async fn rollback(&mut self) -> Result<(), Error> {
        self.settle().await?;
        self.end_transaction("ROLLBACK").await
    }

    /// Opens a transaction (`BEGIN`) and returns its guard. The guard gives access to the
    /// connection; [`Transaction::commit`] commits, and anything else (an error returned
    /// with `?`, a panic, the guard dropped) rolls it back. Refused while a transaction is
    /// already open.
    #[cfg(feature = "async")]
    pub async fn transaction(&mut self) -> Result<Transaction<'_>, Error> {
        self.begin().await?;
        Ok(Transaction {
            conn: self,
            finished: false,
        })
    }

    /// Sends `BEGIN` for a new transaction guard, after any pending rollback.
    pub(crate) async fn begin(&mut self) -> Result<(), Error> {
        self.settle().await?;
        if self.state() != State::Open {
            return Err(Error::Closed);
        }
        if self.transaction_status() != TransactionStatus::Idle {
            return Err(Error::Misuse(Misuse::TransactionAlreadyOpen));
        }
        self.simple_query_with("BEGIN", &mut CopyIo::Refuse).await?;
        Ok(())
    }

    /// What runs before each statement: a pending rollback, then `BEGIN` when autocommit
    /// is off and no transaction is open.
    pub(super) async fn before_statement(&mut self) -> Result<(), Error> {
        self.settle().await?;
        if !self.client.autocommit
            && self.state() == State::Open
            && self.transaction_status() == TransactionStatus::Idle
        {
            self.simple_query_with("BEGIN", &mut CopyIo::Refuse).await?;
        }
        Ok(())
    }

    /// Sends the rollback a dropped [`Transaction`] left pending.
    pub(crate) async fn settle(&mut self) -> Result<(), Error> {
        if self.client.pending_rollback {
            self.client.pending_rollback = false;
            if self.state() == State::Open && self.transaction_status() != TransactionStatus::Idle {
                self.simple_query_with("ROLLBACK", &mut CopyIo::Refuse)
                    .await?;
            }
        }
        Ok(())
    }

    /// Leaves a rollback pending, sent before anything else on the next use (what a
    /// transaction guard dropped uncommitted does).
    pub(crate) fn leave_rollback_pending(&mut self) {
        self.client.pending_rollback = true;
    }

    /// Sends `COMMIT` or `ROLLBACK` if a transaction is open.
    pub(crate) async fn end_transaction(&mut self, sql: &str) -> Result<(), Error> {
        if self.state() != State::Open {
            return Err(Error::Closed);
        }
        if self.transaction_status() == TransactionStatus::Idle {
            return Ok(());
        }
        let results = self.simple_query_with(sql, &mut CopyIo::Refuse).await?;
        let tag = results.last().map(|r| r.tag.as_str());
        if sql == "COMMIT" && tag == Some("ROLLBACK") {
            return Err(Error::CommitRolledBack);
        }
        Ok(())
    }
}

#[cfg(feature = "async")]
/// An open transaction on an async [`Connection`]. It dereferences to the connection.
/// Dropped without [`Transaction::commit`] or [`Transaction::rollback`], it leaves a
/// rollback pending that the connection sends before anything else on its next use (and
/// closing the connection rolls it back on the server).
#[must_use = "a transaction is rolled back unless committed"]
pub struct Transaction<'a> {
    conn: &'a mut Connection,
    finished: bool,
}

#[cfg(feature = "async")]
impl Transaction<'_> {
    /// Commits. A transaction in which a statement failed is rolled back by the server,
    /// and that is returned as an error.
    pub async fn commit(mut self) -> Result<(), Error> {
        self.finished = true;
        self.conn.end_transaction("COMMIT").await
    }

    /// Rolls back.
    pub async fn rollback(mut self) -> Result<(), Error> {
        self.finished = true;
        self.conn.end_transaction("ROLLBACK").await
    }
}

#[cfg(feature = "async")]
impl Deref for Transaction<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

#[cfg(feature = "async")]
impl DerefMut for Transaction<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn
    }
}

#[cfg(feature = "async")]
impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.conn.leave_rollback_pending();
        }
    }
}
