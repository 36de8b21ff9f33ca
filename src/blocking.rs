//! The blocking facade: the async [`crate::Connection`] driven by its own current-thread
//! tokio runtime. Nothing is spawned; each call blocks the calling thread until done.

use std::fmt;
use std::io;

use pgcluster_protocol::backend::TransactionStatus;
use pgcluster_protocol::error_fields::ErrorFields;
use tokio::runtime::{Builder, Runtime};

pub use crate::cluster::blocking::{get_cluster, Cluster};
use crate::connection::{self, Notification, QueryResult, State};
use crate::conninfo::Resolved;
use crate::error::{ConnectError, Error};

/// A blocking connection to one database. Must not be used from inside an async runtime
/// (it runs its own).
pub struct Connection {
    inner: connection::Connection,
    runtime: Runtime,
}

impl Connection {
    /// Connects libpq 13's way (see [`crate::Connection::connect`]), blocking.
    pub fn connect(config: &Resolved) -> Result<Self, ConnectError> {
        let runtime = new_runtime().map_err(|e| ConnectError {
            message: format!("could not create runtime: {e}\n"),
            fields: None,
        })?;
        let inner = runtime.block_on(connection::Connection::connect(config))?;
        Ok(Self { inner, runtime })
    }

    /// Wraps an async connection with the runtime its socket was opened on (tokio
    /// registers a socket with the runtime that created it, so it must be this one).
    #[allow(dead_code, reason = "used by the blocking Cluster")]
    pub(crate) fn from_parts(inner: connection::Connection, runtime: Runtime) -> Self {
        Self { inner, runtime }
    }

    /// Runs `sql` with the simple query protocol; one result per statement.
    pub fn simple_query(&mut self, sql: &str) -> Result<Vec<QueryResult>, Error> {
        self.runtime.block_on(self.inner.simple_query(sql))
    }

    /// Runs one statement with the extended query protocol and text parameters (see
    /// [`crate::Connection::query`]).
    pub fn query(&mut self, sql: &str, params: &[Option<&str>]) -> Result<QueryResult, Error> {
        self.runtime.block_on(self.inner.query(sql, params))
    }

    /// Sends Terminate and closes the socket. Idempotent.
    pub fn close(&mut self) {
        self.runtime.block_on(self.inner.close());
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

    /// The backend's process id.
    pub fn backend_pid(&self) -> Option<i32> {
        self.inner.backend_pid()
    }

    /// The transaction status reported by the last ReadyForQuery.
    pub fn transaction_status(&self) -> TransactionStatus {
        self.inner.transaction_status()
    }

    /// The dsn shown by `Debug`.
    pub fn dsn(&self) -> &str {
        self.inner.dsn()
    }

    /// Sets the dsn shown by `Debug`.
    #[allow(dead_code, reason = "called by the Cluster, which sets psycopg2's dsn")]
    pub(crate) fn set_dsn(&mut self, dsn: String) {
        self.inner.set_dsn(dsn);
    }

    /// The async connection under this one.
    pub(crate) fn inner(&self) -> &connection::Connection {
        &self.inner
    }

    /// The async connection and the runtime that drives it.
    pub(crate) fn parts(&mut self) -> (&mut connection::Connection, &Runtime) {
        (&mut self.inner, &self.runtime)
    }
}

/// The runtime a blocking object drives its I/O on: current-thread, I/O and timers on.
pub(crate) fn new_runtime() -> io::Result<Runtime> {
    Builder::new_current_thread().enable_all().build()
}

impl Drop for Connection {
    fn drop(&mut self) {
        // `block_on` panics inside another runtime; there the async `Drop` still tries
        // to send Terminate without waiting.
        if tokio::runtime::Handle::try_current().is_err() {
            self.runtime.block_on(self.inner.close());
        }
    }
}

impl fmt::Debug for Connection {
    /// psycopg2's repr, with this object's address.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt_repr(std::ptr::from_ref(self).cast(), f)
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
        let runtime = new_runtime().expect("runtime");
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().expect("socket pair");
        ours.set_nonblocking(true).expect("nonblocking");
        let inner = runtime.block_on(async {
            let stream = tokio::net::UnixStream::from_std(ours).expect("register");
            connection::Connection::from_parts(
                Stream::Unix(stream),
                FrameReader::new(Limits::default()),
                connection::tests::ready(),
            )
        });
        (Connection::from_parts(inner, runtime), theirs)
    }

    #[test]
    fn repr_uses_this_objects_address_and_state() {
        let (mut conn, _peer) = pair();
        conn.set_dsn("dbname=deploy_demo".to_owned());
        let addr = format!("{:p}", &conn);
        assert_eq!(
            format!("{conn:?}"),
            format!("<connection object at {addr}; dsn: 'dbname=deploy_demo', closed: 0>")
        );
        assert_eq!(conn.parameter("server_version"), Some("15.18"));
        conn.close();
        assert_eq!(conn.state(), State::Closed);
        assert!(format!("{conn:?}").ends_with(", closed: 1>"));
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
