//! The async connection: a socket plus the protocol machines, no protocol logic of its own.

use std::fmt;

use pgcluster_protocol::backend::FieldDescription;
use pgcluster_protocol::error_fields::ErrorFields;

use crate::conninfo::Resolved;
use crate::error::{ConnectError, Error};

/// An open connection to one database (async, tokio). It has no background task: every
/// method drives the socket itself, so nothing needs to be spawned.
pub struct Connection {
    _private: (),
}

/// Whether a connection is open, closed by the user, or broken (psycopg2's 0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Open and usable.
    Open,
    /// Closed by [`Connection::close`].
    Closed,
    /// Lost (server closed it, protocol error, I/O error).
    Broken,
}

/// The result of one statement of a simple query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryResult {
    /// Columns, when the statement returns rows.
    pub columns: Vec<FieldDescription>,
    /// Rows: text values, `None` for SQL NULL.
    pub rows: Vec<Vec<Option<String>>>,
    /// The command tag, e.g. `SELECT 1` or `CREATE DATABASE`; empty for an empty query.
    pub tag: String,
}

impl Connection {
    /// Connects libpq 13's way: each host in order, each address in order, with
    /// `connect_timeout` per address; on failure, libpq's whole message.
    pub async fn connect(config: &Resolved) -> Result<Self, ConnectError> {
        let _ = config;
        todo!()
    }

    /// Runs `sql` with the simple query protocol; one result per statement. A server
    /// error is [`Error::Query`] with libpq's text for it.
    pub async fn simple_query(&mut self, sql: &str) -> Result<Vec<QueryResult>, Error> {
        let _ = sql;
        todo!()
    }

    /// Sends Terminate and closes the socket. Idempotent.
    pub async fn close(&mut self) {
        todo!()
    }

    /// Open, closed or broken.
    pub fn state(&self) -> State {
        todo!()
    }

    /// A server parameter reported by ParameterStatus (e.g. `server_version`).
    pub fn parameter(&self, name: &str) -> Option<&str> {
        let _ = name;
        todo!()
    }

    /// Notices received so far, oldest first; taking them empties the list.
    pub fn take_notices(&mut self) -> Vec<ErrorFields> {
        todo!()
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}
