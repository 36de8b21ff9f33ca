//! The blocking connection: the connection's one implementation over the blocking
//! driver's std sockets, each call run to its end by [`block_on`] (no runtime).

use std::fmt;
use std::time::Duration;

use pgcluster_protocol::backend::TransactionStatus;
use pgcluster_protocol::error_fields::ErrorFields;

use crate::connection::{self, CancelToken, Notification, QueryResult, State, Statement};
use crate::conninfo::Resolved;
use crate::driver::{block_on, Kind};
use crate::error::{ConnectError, Error};
use crate::rows::{Row, Rows};

/// A blocking connection to one database, on std sockets: no runtime, no other thread.
/// Each call blocks the calling thread until done (in an async task it would block the
/// runtime's thread as well: use [`crate::Connection`] there).
///
/// It has the same calls as the async [`crate::Connection`], with the same arguments and
/// results, each blocking until done instead of returning a future:
///
/// | what | calls |
/// |---|---|
/// | connecting and closing | [`connect`](Self::connect), [`close`](Self::close), [`state`](Self::state) |
/// | queries | [`simple_query`](Self::simple_query), [`simple_query_rows`](Self::simple_query_rows), [`query`](Self::query), [`query_rows`](Self::query_rows), [`query_each`](Self::query_each) |
/// | prepared statements | [`prepare`](Self::prepare), [`query_prepared`](Self::query_prepared) |
/// | transactions | [`autocommit`](Self::autocommit), [`set_autocommit`](Self::set_autocommit), [`commit`](Self::commit), [`rollback`](Self::rollback), [`transaction`](Self::transaction) (a [`BlockingTransaction`](super::BlockingTransaction) guard), and [`in_transaction`](Self::in_transaction), which has no async twin |
/// | COPY | [`copy_out`](Self::copy_out), [`copy_out_to`](Self::copy_out_to) (an [`io::Write`](std::io::Write)), [`copy_in`](Self::copy_in), [`copy_in_from`](Self::copy_in_from) (an [`io::Read`](std::io::Read)) |
/// | LISTEN/NOTIFY | [`wait_for_notification`](Self::wait_for_notification), [`take_notifications`](Self::take_notifications) |
/// | cancel | [`cancel_token`](Self::cancel_token); the token's [`cancel_blocking`](crate::connection::CancelToken::cancel_blocking) works from any thread |
/// | the session | [`parameter`](Self::parameter), [`backend_pid`](Self::backend_pid), [`transaction_status`](Self::transaction_status), [`take_notices`](Self::take_notices), [`dsn`](Self::dsn) |
pub struct Connection {
    /// Always on the blocking driver's sockets ([`Kind::Blocking`]).
    inner: connection::Connection,
}

impl Connection {
    /// Connects libpq 13's way (see [`crate::Connection::connect`]), blocking.
    pub fn connect(config: &Resolved) -> Result<Self, ConnectError> {
        let inner = block_on(connection::Connection::connect_with(config, Kind::Blocking))?;
        Ok(Self { inner })
    }

    /// Wraps a connection opened on the blocking driver (by the blocking Cluster).
    pub(crate) fn from_inner(inner: connection::Connection) -> Self {
        Self { inner }
    }

    /// Runs `sql` with the simple query protocol; one result per statement.
    pub fn simple_query(&mut self, sql: &str) -> Result<Vec<QueryResult>, Error> {
        block_on(self.inner.simple_query(sql))
    }

    /// [`Connection::simple_query`] with each statement's rows kept compactly in one
    /// buffer ([`Rows`]) instead of a `String` per value: one result per statement (see
    /// [`crate::Connection::simple_query_rows`]).
    pub fn simple_query_rows(&mut self, sql: &str) -> Result<Vec<Rows>, Error> {
        block_on(self.inner.simple_query_rows(sql))
    }

    /// Runs one statement with the extended query protocol and text parameters (see
    /// [`crate::Connection::query`]).
    pub fn query(&mut self, sql: &str, params: &[Option<&str>]) -> Result<QueryResult, Error> {
        block_on(self.inner.query(sql, params))
    }

    /// [`Connection::query`] with the rows kept compactly in one buffer ([`Rows`])
    /// instead of a `String` per value (see [`crate::Connection::query_rows`]).
    pub fn query_rows(&mut self, sql: &str, params: &[Option<&str>]) -> Result<Rows, Error> {
        block_on(self.inner.query_rows(sql, params))
    }

    /// [`Connection::query`] with each row handed to `f` as it arrives and then dropped,
    /// so that memory stays constant however many rows there are. The result holds the
    /// columns and the command tag, and no rows. After a server error `f` sees no more
    /// rows; the rows it has seen stay seen (see [`crate::Connection::query_each`]).
    pub fn query_each<F>(
        &mut self,
        sql: &str,
        params: &[Option<&str>],
        f: F,
    ) -> Result<QueryResult, Error>
    where
        F: FnMut(Row<'_>) + Send,
    {
        block_on(self.inner.query_each(sql, params, f))
    }

    /// Prepares `sql` as a named statement of this connection (Parse, Sync), for
    /// [`Connection::query_prepared`]. It lasts as long as the connection (see
    /// [`crate::Connection::prepare`]).
    pub fn prepare(&mut self, sql: &str) -> Result<Statement, Error> {
        block_on(self.inner.prepare(sql))
    }

    /// Runs a statement made by [`Connection::prepare`] on this connection (Bind,
    /// Describe, Execute, Sync, as libpq's `PQexecPrepared`), with `params` as text (see
    /// [`crate::Connection::query_prepared`]).
    pub fn query_prepared(
        &mut self,
        statement: &Statement,
        params: &[Option<&str>],
    ) -> Result<QueryResult, Error> {
        block_on(self.inner.query_prepared(statement, params))
    }

    /// Sends Terminate and closes the socket. Idempotent.
    pub fn close(&mut self) {
        block_on(self.inner.close());
    }

    /// Open, closed or broken.
    pub fn state(&self) -> State {
        self.inner.state()
    }

    /// A server parameter reported by ParameterStatus.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.inner.parameter(name)
    }

    /// Notices received so far, oldest first; taking them empties the list.
    pub fn take_notices(&mut self) -> Vec<ErrorFields> {
        self.inner.take_notices()
    }

    /// NOTIFY messages received so far, oldest first; taking them empties the list.
    pub fn take_notifications(&mut self) -> Vec<Notification> {
        self.inner.take_notifications()
    }

    /// The next notification, waiting up to `timeout` (see
    /// [`crate::Connection::wait_for_notification`]).
    pub fn wait_for_notification(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<Notification>, Error> {
        block_on(self.inner.wait_for_notification(timeout))
    }

    /// A token that cancels this connection's running statement from another thread (see
    /// [`crate::Connection::cancel_token`]).
    pub fn cancel_token(&self) -> Option<CancelToken> {
        self.inner.cancel_token()
    }

    /// The backend's process id.
    pub fn backend_pid(&self) -> Option<i32> {
        self.inner.backend_pid()
    }

    /// The transaction status reported by the last ReadyForQuery.
    pub fn transaction_status(&self) -> TransactionStatus {
        self.inner.transaction_status()
    }

    /// The dsn shown by [`Connection::repr`].
    pub fn dsn(&self) -> &str {
        self.inner.dsn()
    }

    /// psycopg2's repr of the connection, with this object's address:
    /// `<connection object at 0x…; dsn: '…', closed: 0>` (see
    /// [`crate::Connection::repr`]).
    pub fn repr(&self) -> String {
        self.inner.repr_at(std::ptr::from_ref(self).cast())
    }

    /// Sets the dsn shown by [`Connection::repr`].
    #[allow(dead_code, reason = "called by the Cluster, which sets psycopg2's dsn")]
    pub(crate) fn set_dsn(&mut self, dsn: String) {
        self.inner.set_dsn(dsn);
    }

    /// The connection under this one.
    pub(crate) fn inner(&self) -> &connection::Connection {
        &self.inner
    }

    /// The connection under this one, to run a call on with [`block_on`].
    pub(crate) fn inner_mut(&mut self) -> &mut connection::Connection {
        &mut self.inner
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Std sockets: this needs no runtime, wherever it runs.
        block_on(self.inner.close());
    }
}

impl fmt::Debug for Connection {
    /// A Rust view, as the async connection's. psycopg2's repr is [`Connection::repr`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("dsn", &self.dsn())
            .field("state", &self.state())
            .field("backend_pid", &self.backend_pid())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Stream;
    use pgcluster_protocol::frame::FrameReader;
    use pgcluster_protocol::limits::Limits;
    use std::io::Read;

    /// A blocking connection over one end of a socket pair; the other end is returned.
    fn pair() -> (Connection, std::os::unix::net::UnixStream) {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().expect("socket pair");
        let inner = connection::Connection::from_parts(
            Stream::from(ours),
            FrameReader::new(Limits::default()),
            connection::tests::ready(),
        );
        (Connection::from_inner(inner), theirs)
    }

    #[test]
    fn repr_uses_this_objects_address_and_state() {
        let (mut conn, _peer) = pair();
        conn.set_dsn("dbname=deploy_demo".to_owned());
        let addr = format!("{:p}", &conn);
        assert_eq!(
            conn.repr(),
            format!("<connection object at {addr}; dsn: 'dbname=deploy_demo', closed: 0>")
        );
        assert_eq!(conn.parameter("server_version"), Some("15.18"));
        conn.close();
        assert_eq!(conn.state(), State::Closed);
        assert!(conn.repr().ends_with(", closed: 1>"));
        assert_eq!(
            format!("{conn:?}"),
            "Connection { dsn: \"dbname=deploy_demo\", state: Closed, backend_pid: Some(42), .. }"
        );
        assert_eq!(conn.simple_query("SELECT 1"), Err(Error::Closed));
    }

    #[test]
    fn drop_sends_terminate() {
        let (conn, mut peer) = pair();
        drop(conn);
        let mut got = Vec::new();
        peer.read_to_end(&mut got).expect("read until EOF");
        assert_eq!(got, b"X\0\0\0\x04");
    }
}
