//! The blocking connection: the connection's one implementation over the blocking
//! driver's std sockets, each call run to its end by [`block_on`] (no runtime).

use std::fmt;
use std::time::Duration;

use pgcluster_protocol::backend::TransactionStatus;
use pgcluster_protocol::error_fields::ErrorFields;
use pgcluster_protocol::version::ProtocolVersion;

use crate::connection::{self, CancelToken, Notification, QueryResult, State, Statement};
use crate::conninfo::Resolved;
use crate::driver::{block_on, Kind};
use crate::error::{ConnectError, Error};
use crate::rows::{Row, Rows};

/// A blocking connection to one database, on std sockets: no runtime, no other thread.
/// Each call blocks the calling thread until done (in an async task it would block the
/// runtime's thread as well: use the async `pgcluster::Connection` there, feature `async`).
///
/// It has the same calls as the async connection, with the same arguments and results,
/// each blocking until done instead of returning a future:
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
    /// Connects libpq 13's way: each host in order, each address in order, with
    /// `connect_timeout` per address, TLS as `sslmode` asks, then startup and
    /// authentication. Most programs open connections with
    /// [`Cluster::connect`](super::Cluster::connect) instead, which also resolves the
    /// setting.
    ///
    /// # Errors
    ///
    /// When no host took the connection, libpq's whole message: one paragraph per
    /// attempt, e.g. `connection to server on socket "/run/postgresql/.s.PGSQL.5432"
    /// failed: No such file or directory`.
    ///
    /// ```no_run
    /// use pgcluster::blocking::Connection;
    /// use pgcluster::conninfo::{Config, Env};
    ///
    /// let config = Config::parse("host=/run/postgresql dbname=deploy_demo")?;
    /// let mut conn = Connection::connect(&config.resolve(&Env::from_process())?)?;
    /// conn.close();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect(config: &Resolved) -> Result<Self, ConnectError> {
        let inner = block_on(connection::Connection::connect_with(config, Kind::Blocking))?;
        Ok(Self { inner })
    }

    /// Wraps a connection opened on the blocking driver (by the blocking Cluster).
    pub(crate) fn from_inner(inner: connection::Connection) -> Self {
        Self { inner }
    }

    /// Runs `sql` with the simple query protocol: one result per statement, so `sql` may
    /// hold several statements. With autocommit off, `BEGIN` goes first when no
    /// transaction is open (see [`Connection::set_autocommit`]). `COPY ... FROM STDIN` is
    /// refused with CopyFail (use [`Connection::copy_in`]); `COPY ... TO STDOUT` data is
    /// dropped (use [`Connection::copy_out`]).
    ///
    /// # Errors
    ///
    /// A server error is [`Error::Query`] with libpq's text for it (the connection stays
    /// usable; the statements after the failed one are not run); a lost connection is
    /// [`Error::Query`] too, and the connection is then broken; [`Error::Closed`] after
    /// [`Connection::close`].
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// let mut conn = cluster.connect(None)?;
    /// let sql = "CREATE TEMP TABLE t (n int); INSERT INTO t VALUES (1), (2)";
    /// let results = conn.simple_query(sql)?;
    /// assert_eq!(results[1].rows_affected(), Some(2));
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn simple_query(&mut self, sql: &str) -> Result<Vec<QueryResult>, Error> {
        block_on(self.inner.simple_query(sql))
    }

    /// [`Connection::simple_query`] with each statement's rows kept compactly in one
    /// buffer ([`Rows`]) instead of a `String` per value: one result per statement.
    ///
    /// # Errors
    ///
    /// Those of [`Connection::simple_query`].
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// let mut conn = cluster.connect(None)?;
    /// let results = conn.simple_query_rows("SELECT datname FROM pg_database")?;
    /// for row in &results[0] {
    ///     println!("{}", row.get("datname").unwrap_or_default());
    /// }
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn simple_query_rows(&mut self, sql: &str) -> Result<Vec<Rows>, Error> {
        block_on(self.inner.simple_query_rows(sql))
    }

    /// Runs one statement with the extended query protocol (Parse, Bind, Describe,
    /// Execute, Sync), with `params` bound as text (`None` is SQL NULL) to `$1`, `$2`, ...
    /// Parameter types are left to the server to infer (use casts such as `$1::text`).
    /// Values are read by position or by column name ([`QueryResult::row`]).
    ///
    /// # Errors
    ///
    /// Those of [`Connection::simple_query`] (e.g. `ERROR:  bind message supplies 1
    /// parameters, but prepared statement "" requires 2`).
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// let mut conn = cluster.connect(None)?;
    /// let sql = "SELECT $1::int * 2 AS answer, $2::text AS nothing";
    /// let result = conn.query(sql, &[Some("21"), None])?;
    /// let row = result.row(0).expect("one row");
    /// assert_eq!(row.get("answer"), Some("42"));
    /// assert_eq!(row.get(1), None); // SQL NULL
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn query(&mut self, sql: &str, params: &[Option<&str>]) -> Result<QueryResult, Error> {
        block_on(self.inner.query(sql, params))
    }

    /// [`Connection::query`] with the rows kept compactly in one buffer ([`Rows`])
    /// instead of a `String` per value.
    ///
    /// # Errors
    ///
    /// Those of [`Connection::query`].
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// let mut conn = cluster.connect(None)?;
    /// let rows = conn.query_rows("SELECT g FROM generate_series(1, $1::int) AS g", &[Some("3")])?;
    /// assert_eq!(rows.len(), 3);
    /// assert_eq!(rows.get(2).and_then(|row| row.get("g")).as_deref(), Some("3"));
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn query_rows(&mut self, sql: &str, params: &[Option<&str>]) -> Result<Rows, Error> {
        block_on(self.inner.query_rows(sql, params))
    }

    /// [`Connection::query`] with each row handed to `f` as it arrives and then dropped,
    /// so that memory stays constant however many rows there are. The result holds the
    /// columns and the command tag, and no rows. After a server error `f` sees no more
    /// rows; the rows it has seen stay seen.
    ///
    /// # Errors
    ///
    /// Those of [`Connection::query`].
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// let mut conn = cluster.connect(None)?;
    /// let mut total = 0u64;
    /// conn.query_each("SELECT g FROM generate_series(1, 1000000) AS g", &[], |row| {
    ///     total += row.get("g").and_then(|g| g.parse::<u64>().ok()).unwrap_or(0);
    /// })?;
    /// assert_eq!(total, 500_000_500_000);
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
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
    /// [`Connection::query_prepared`]. It lasts as long as the connection.
    ///
    /// Not behind a pooler in transaction pooling (PgBouncer's `pool_mode = transaction`):
    /// the names (`pgcluster_0`, `pgcluster_1`, ... per connection) are the server
    /// connection's, which the pooler hands to other clients between transactions, so the
    /// statement may meet another client's of the same name (42P05, `already exists`) or
    /// be missing (26000, `does not exist`). [`Connection::query`] uses the unnamed
    /// statement, which works there; so does session pooling.
    ///
    /// # Errors
    ///
    /// Those of [`Connection::simple_query`] (e.g. a syntax error in `sql`).
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// let mut conn = cluster.connect(None)?;
    /// let statement = conn.prepare("SELECT $1::int + 1 AS next")?;
    /// for n in ["1", "2"] {
    ///     let result = conn.query_prepared(&statement, &[Some(n)])?;
    ///     println!("{:?}", result.row(0).and_then(|row| row.get("next")));
    /// }
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn prepare(&mut self, sql: &str) -> Result<Statement, Error> {
        block_on(self.inner.prepare(sql))
    }

    /// Runs a statement made by [`Connection::prepare`] on this connection (Bind,
    /// Describe, Execute, Sync, as libpq's `PQexecPrepared`), with `params` as text
    /// (`None` is SQL NULL).
    ///
    /// # Errors
    ///
    /// Those of [`Connection::query`]; [`Error::Misuse`] for a statement prepared on
    /// another connection (nothing is sent then).
    pub fn query_prepared(
        &mut self,
        statement: &Statement,
        params: &[Option<&str>],
    ) -> Result<QueryResult, Error> {
        block_on(self.inner.query_prepared(statement, params))
    }

    /// [`Connection::query_prepared`] with the rows kept compactly in one buffer
    /// ([`Rows`]) instead of a `String` per value.
    ///
    /// # Errors
    ///
    /// Those of [`Connection::query_prepared`].
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// let mut conn = cluster.connect(None)?;
    /// let squares = conn.prepare("SELECT g * g AS square FROM generate_series(1, $1::int) AS g")?;
    /// let rows = conn.query_prepared_rows(&squares, &[Some("4")])?;
    /// assert_eq!(rows.len(), 4);
    /// assert_eq!(rows.get(3).and_then(|row| row.get("square")).as_deref(), Some("16"));
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn query_prepared_rows(
        &mut self,
        statement: &Statement,
        params: &[Option<&str>],
    ) -> Result<Rows, Error> {
        block_on(self.inner.query_prepared_rows(statement, params))
    }

    /// Sends Terminate and closes the socket. Idempotent; dropping the connection does
    /// the same. Later calls return [`Error::Closed`].
    pub fn close(&mut self) {
        block_on(self.inner.close());
    }

    /// Open, closed (by [`Connection::close`]) or broken (the server closed it, a
    /// protocol or I/O error).
    pub fn state(&self) -> State {
        self.inner.state()
    }

    /// A server parameter reported by ParameterStatus (e.g. `server_version`,
    /// `client_encoding`), its latest value.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.inner.parameter(name)
    }

    /// Notices received so far, oldest first; taking them empties the list. At most
    /// [`Limits::max_notice_bytes`](pgcluster_protocol::limits::Limits::max_notice_bytes)
    /// of them wait (1 MiB): when more arrive unread, the oldest are dropped
    /// ([`Connection::notices_dropped`]).
    pub fn take_notices(&mut self) -> Vec<ErrorFields> {
        self.inner.take_notices()
    }

    /// How many notices were dropped unread to keep within the bound.
    pub fn notices_dropped(&self) -> u64 {
        self.inner.notices_dropped()
    }

    /// NOTIFY messages received so far, oldest first; taking them empties the list. At
    /// most [`Limits::max_notification_bytes`](pgcluster_protocol::limits::Limits::max_notification_bytes)
    /// of them wait (16 MiB): when more arrive unread, the oldest are dropped
    /// ([`Connection::notifications_dropped`]).
    pub fn take_notifications(&mut self) -> Vec<Notification> {
        self.inner.take_notifications()
    }

    /// How many notifications were dropped unread to keep within the bound.
    pub fn notifications_dropped(&self) -> u64 {
        self.inner.notifications_dropped()
    }

    /// The next notification (`LISTEN` first): one already received, or one read from the
    /// socket within `timeout`; `Ok(None)` when none came in time. Notices and parameter
    /// changes arriving meanwhile are kept as during a query. The server delivers
    /// notifications only between transactions: with autocommit off, `LISTEN` itself
    /// takes effect at commit.
    ///
    /// # Errors
    ///
    /// A server that ends the connection (e.g. `pg_terminate_backend`) makes this
    /// [`Error::Query`] with its FATAL message and libpq's `server closed the connection
    /// unexpectedly` text; the connection is then broken.
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// let mut conn = cluster.connect(None)?;
    /// conn.simple_query("LISTEN deploys")?;
    /// if let Some(n) = conn.wait_for_notification(std::time::Duration::from_secs(5))? {
    ///     println!("{} from backend {}: {}", n.channel, n.process_id, n.payload);
    /// }
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn wait_for_notification(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<Notification>, Error> {
        block_on(self.inner.wait_for_notification(timeout))
    }

    /// A token that cancels this connection's running statement from another thread
    /// ([`CancelToken::cancel_blocking`]); `None` once the connection is closed or broken,
    /// or if the server sent no BackendKeyData.
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// let mut conn = cluster.connect(None)?;
    /// let token = conn.cancel_token().expect("an open connection");
    /// let canceller = std::thread::spawn(move || {
    ///     std::thread::sleep(std::time::Duration::from_secs(1));
    ///     token.cancel_blocking()
    /// });
    /// let e = conn.simple_query("SELECT pg_sleep(60)").unwrap_err();
    /// assert_eq!(e.sqlstate(), Some("57014")); // canceling statement due to user request
    /// canceller.join().expect("no panic").expect("cancel sent");
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn cancel_token(&self) -> Option<CancelToken> {
        self.inner.cancel_token()
    }

    /// The host-list entry this connection reached, as libpq's `PQhost` shows it: its
    /// `host` as given (a name, an address, a socket directory), or its `hostaddr` when no
    /// `host` was given. With several hosts (`host=a,b`), the one that accepted it.
    pub fn host(&self) -> &str {
        self.inner.host()
    }

    /// The port of the host-list entry it reached (libpq's `PQport`).
    pub fn port(&self) -> u16 {
        self.inner.port()
    }

    /// The server's version as it reported it (`server_version`).
    pub fn server_version(&self) -> Option<&str> {
        self.inner.server_version()
    }

    /// The server's version as a number (`server_version_num`'s layout: `150014` for
    /// 15.14, `90600` for 9.6.x, `170000` for `17devel`); `None` if the server reported no
    /// version, or one that does not start with a number. A number too large for a `u32`
    /// reads as `u32::MAX`, the newest version there can be.
    pub fn server_version_num(&self) -> Option<u32> {
        self.inner.server_version_num()
    }

    /// Whether the server is a hot standby, as it last reported (`in_hot_standby`, which
    /// PostgreSQL 14 and later send at startup and again when a standby is promoted);
    /// `None` from an older server. To ask the server now, see
    /// [`in_recovery`](Self::in_recovery).
    pub fn in_hot_standby(&self) -> Option<bool> {
        self.inner.in_hot_standby()
    }

    /// Asks the server whether it is in recovery (`pg_is_in_recovery()`).
    pub fn in_recovery(&mut self) -> Result<bool, Error> {
        block_on(self.inner.in_recovery())
    }

    /// The backend's process id (from BackendKeyData), e.g. for `pg_terminate_backend`.
    pub fn backend_pid(&self) -> Option<i32> {
        self.inner.backend_pid()
    }

    /// The protocol version in use (libpq's `PQfullProtocolVersion`): 3.2 with
    /// `max_protocol_version=3.2` on PostgreSQL 18, else 3.0.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.inner.protocol_version()
    }

    /// The transaction status reported by the last ReadyForQuery.
    pub fn transaction_status(&self) -> TransactionStatus {
        self.inner.transaction_status()
    }

    /// The dsn shown by [`Connection::repr`] (psycopg2's `connection.dsn`; a password in
    /// it is shown as `xxx`).
    pub fn dsn(&self) -> &str {
        self.inner.dsn()
    }

    /// psycopg2's repr of the connection, with this object's address:
    /// `<connection object at 0x…; dsn: '…', closed: 0>`, with [`Connection::dsn`] and the
    /// [`State`] as psycopg2's number ([`State::closed_code`]).
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
