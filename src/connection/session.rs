//! The connection itself: its fields (private to this tree), its state, opening and
//! closing it, and what the session reports (parameters, notices, notifications, the
//! backend's key, the transaction status, psycopg2's dsn and repr).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use pgcluster_protocol::backend::{FieldDescription, TransactionStatus};
use pgcluster_protocol::backend_key::BackendKey;
use pgcluster_protocol::error_fields::ErrorFields;
use pgcluster_protocol::frame::FrameReader;
use pgcluster_protocol::frontend;
use pgcluster_protocol::kept::Kept;
use pgcluster_protocol::limits::Limits;
use pgcluster_protocol::parameters::Parameters;
use pgcluster_protocol::query::Memo;
use pgcluster_protocol::startup::Ready;
use pgcluster_protocol::version::ProtocolVersion;

use crate::connect;
use crate::conninfo::Resolved;
use crate::driver::Kind;
use crate::engine::attempt::ConnectError;
use crate::transport::Stream;

/// The next connection's `id`.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// An open connection to one database (async, tokio). It has no background task: every
/// method drives the socket itself, so nothing needs to be spawned.
pub struct Connection {
    /// `None` once closed or broken.
    pub(super) stream: Option<Stream>,
    pub(super) reader: FrameReader,
    /// Outgoing bytes, coalesced into one write.
    pub(super) out: Vec<u8>,
    pub(super) state: State,
    /// ParameterStatus values; a later value replaces an earlier one. At most
    /// [`Limits::max_parameters`] names: later new names are ignored.
    pub(super) parameters: Parameters,
    pub(super) backend_key: Option<BackendKey>,
    /// The protocol version the startup exchange settled on.
    pub(super) protocol_version: ProtocolVersion,
    pub(super) transaction_status: TransactionStatus,
    /// Oldest first, within [`Limits::max_notice_bytes`] (the oldest dropped, counted).
    pub(super) notices: Kept<ErrorFields>,
    /// Oldest first, within [`Limits::max_notification_bytes`] (the oldest dropped,
    /// counted); a queue, so that draining one at a time is not quadratic.
    pub(super) notifications: Kept<Notification>,
    /// What [`Connection::repr`] shows as psycopg2's `dsn`.
    pub(super) dsn: String,
    /// True while a query's exchange runs. Still true at the next call only if that
    /// exchange's future was dropped half-way: the replies are then out of step.
    pub(super) busy: bool,
    /// This connection among the process's, for the statements prepared on it.
    pub(super) id: u64,
    /// Statements prepared so far, for the next statement's name.
    pub(super) prepared: u64,
    /// Autocommit and a dropped transaction's pending rollback (see the `transaction` module).
    pub(super) client: ClientState,
    /// The last RowDescription and command tag, lent to each query's machine (see
    /// `exchange`).
    pub(super) memo: Memo,
    /// The host-list entry it reached (see the `server` module).
    pub(super) reached: connect::Reached,
}

/// Whether a connection is open, closed by the user, or broken (psycopg2's 0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Open and usable.
    Open,
    /// Closed by [`Connection::close`](crate::doc_api::Connection::close).
    Closed,
    /// Lost (server closed it, protocol error, I/O error).
    Broken,
}

impl State {
    /// psycopg2's `connection.closed`: 0 open, 1 closed, 2 broken.
    pub fn closed_code(self) -> u8 {
        match self {
            Self::Open => 0,
            Self::Closed => 1,
            Self::Broken => 2,
        }
    }
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

/// A NOTIFY received on this connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The notifying backend's process id.
    pub process_id: i32,
    /// The channel.
    pub channel: String,
    /// The payload.
    pub payload: String,
}

impl Notification {
    /// What it counts as in the bounded queue: its text and a fixed amount.
    fn kept_size(&self) -> usize {
        self.channel
            .capacity()
            .saturating_add(self.payload.capacity())
            .saturating_add(std::mem::size_of::<Self>())
    }
}

/// Per-connection client settings (autocommit, see the `transaction` module).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ClientState {
    /// Each statement on its own (true), or `BEGIN` sent before the first statement.
    pub(super) autocommit: bool,
    /// A transaction guard was dropped while open: ROLLBACK goes first on the next use.
    pub(super) pending_rollback: bool,
}

impl Default for ClientState {
    fn default() -> Self {
        Self {
            autocommit: true,
            pending_rollback: false,
        }
    }
}

impl connect::Session for Connection {
    fn established(
        stream: Stream,
        reader: FrameReader,
        ready: Ready,
        reached: connect::Reached,
    ) -> Self {
        let mut conn = Self::from_parts(stream, reader, ready);
        conn.reached = reached;
        conn
    }
}

impl Connection {
    /// Connects libpq 13's way: each host in order, each address in order, with
    /// `connect_timeout` per address; on failure, libpq's whole message.
    #[cfg(feature = "async")]
    pub async fn connect(config: &Resolved) -> Result<Self, ConnectError> {
        Self::connect_with(config, Kind::Async).await
    }

    /// [`Connection::connect`] with the sockets of driver `kind`: the blocking API's
    /// connections are [`Kind::Blocking`], the async API's [`Kind::Async`].
    pub(crate) async fn connect_with(config: &Resolved, kind: Kind) -> Result<Self, ConnectError> {
        connect::connect(config, kind).await
    }

    /// A connection whose startup exchange has just finished.
    pub(crate) fn from_parts(stream: Stream, reader: FrameReader, ready: Ready) -> Self {
        Self {
            stream: Some(stream),
            reader,
            out: Vec::new(),
            state: State::Open,
            parameters: ready.parameters,
            backend_key: ready.backend_key,
            protocol_version: ready.protocol_version,
            transaction_status: TransactionStatus::Idle,
            notices: ready.notices,
            notifications: Kept::new(Limits::default().max_notification_bytes),
            dsn: String::new(),
            busy: false,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            prepared: 0,
            client: ClientState::default(),
            memo: Memo::default(),
            reached: connect::Reached::default(),
        }
    }

    /// Sends Terminate and closes the socket. Idempotent.
    pub async fn close(&mut self) {
        if let Some(mut stream) = self.stream.take() {
            if self.state == State::Open {
                let mut out = Vec::new();
                frontend::terminate(&mut out);
                // The connection is going away: a failed goodbye changes nothing.
                let _ = stream.write_all(&out).await;
                stream.finish().await;
            }
        }
        self.state = State::Closed;
    }

    /// Open, closed or broken.
    pub fn state(&self) -> State {
        self.state
    }

    /// A server parameter reported by ParameterStatus (e.g. `server_version`).
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters.get(name)
    }

    /// Notices received so far, oldest first; taking them empties the list. At most
    /// [`Limits::max_notice_bytes`] of them wait (1 MiB): when more arrive unread, the
    /// oldest are dropped ([`Connection::notices_dropped`]).
    pub fn take_notices(&mut self) -> Vec<ErrorFields> {
        self.notices.take_all()
    }

    /// How many notices were dropped unread to keep within [`Limits::max_notice_bytes`],
    /// since the connection was opened (a Cluster's pooled connection forgets its count when
    /// parked).
    pub fn notices_dropped(&self) -> u64 {
        self.notices.dropped()
    }

    /// NOTIFY messages received so far, oldest first; taking them empties the list. At
    /// most [`Limits::max_notification_bytes`] of them wait (16 MiB): when more arrive
    /// unread, the oldest are dropped ([`Connection::notifications_dropped`]).
    pub fn take_notifications(&mut self) -> Vec<Notification> {
        self.notifications.take_all()
    }

    /// How many notifications were dropped unread to keep within
    /// [`Limits::max_notification_bytes`], since the connection was opened (a Cluster's pooled
    /// connection forgets its count when parked).
    pub fn notifications_dropped(&self) -> u64 {
        self.notifications.dropped()
    }

    /// Keeps a notice for [`Connection::take_notices`].
    pub(super) fn keep_notice(&mut self, notice: ErrorFields) {
        let size = notice.kept_size();
        self.notices.push(notice, size);
    }

    /// Keeps a notification for [`Connection::take_notifications`].
    pub(super) fn keep_notification(&mut self, notification: Notification) {
        let size = notification.kept_size();
        self.notifications.push(notification, size);
    }

    /// The backend's process id (from BackendKeyData), e.g. for `pg_terminate_backend`.
    pub fn backend_pid(&self) -> Option<i32> {
        self.backend_key.as_ref().map(BackendKey::process_id)
    }

    /// The protocol version in use (libpq's `PQfullProtocolVersion`): 3.2 with
    /// `max_protocol_version=3.2` on PostgreSQL 18, else 3.0.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.protocol_version
    }

    /// The transaction status reported by the last ReadyForQuery.
    pub fn transaction_status(&self) -> TransactionStatus {
        self.transaction_status
    }

    /// The dsn shown by [`Connection::repr`] (psycopg2's `connection.dsn`; a password in
    /// it is shown as `xxx`).
    pub fn dsn(&self) -> &str {
        &self.dsn
    }

    /// Sets the dsn shown by [`Connection::repr`].
    #[allow(dead_code, reason = "called by the Cluster, which sets psycopg2's dsn")]
    pub(crate) fn set_dsn(&mut self, dsn: String) {
        self.dsn = dsn;
    }

    /// psycopg2's repr of the connection, as the spec shows it:
    /// `<connection object at 0x…; dsn: '…', closed: 0>`, with this object's address,
    /// [`Connection::dsn`] and the [`State`] as psycopg2's number.
    #[cfg(any(test, feature = "async"))]
    pub fn repr(&self) -> String {
        self.repr_at(std::ptr::from_ref(self).cast())
    }

    /// psycopg2's repr, with `addr` as the object's address.
    pub(crate) fn repr_at(&self, addr: *const ()) -> String {
        format!(
            "<connection object at {addr:p}; dsn: '{}', closed: {}>",
            self.dsn,
            self.state.closed_code()
        )
    }

    /// Records a ParameterStatus value (a later one replaces an earlier one). A new name
    /// past [`Limits::max_parameters`] is ignored: once connected, a flood of names must
    /// not cost memory, and none of them is one the crate reads.
    pub(super) fn set_parameter(&mut self, name: String, value: String) {
        let _ignored = self.parameters.set(name, value);
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Nothing can be awaited here: send Terminate only if the socket takes it at once.
        if let (State::Open, Some(stream)) = (self.state, self.stream.as_ref()) {
            let mut out = Vec::new();
            frontend::terminate(&mut out);
            let _ = stream.try_write(&out);
        }
    }
}

impl fmt::Debug for Connection {
    /// A Rust view: the dsn (its password, if any, is `xxx`), the state and the server's
    /// process ID. psycopg2's repr is [`Connection::repr`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("dsn", &self.dsn)
            .field("state", &self.state)
            .field("backend_pid", &self.backend_pid())
            .finish_non_exhaustive()
    }
}

impl QueryResult {
    pub(crate) fn empty() -> Self {
        Self {
            columns: Vec::new(),
            rows: Vec::new(),
            tag: String::new(),
        }
    }
}
