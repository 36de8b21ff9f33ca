//! The async connection: a socket plus the protocol machines, no protocol logic of its own.

mod cancel;
mod copy;
mod notify;
mod results;
mod transaction;

use std::fmt;
use std::io;

use pgcluster_protocol::backend::{DataRow, FieldDescription, TransactionStatus};
use pgcluster_protocol::error_fields::ErrorFields;
use pgcluster_protocol::frame::{Frame, FrameReader};
use pgcluster_protocol::frontend::{self, EncodeError};
use pgcluster_protocol::query::{ExtendedQuery, QueryEvent, Sent, SimpleQuery};
use pgcluster_protocol::startup::Ready;
use pgcluster_protocol::ProtocolError;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::connect;
use crate::conninfo::Resolved;
use crate::error::{ConnectError, Error, QueryError};
use crate::io_text::WireError;
use crate::rows::{Row, Rows};
use crate::transport::{ParkedStream, Stream};

pub use cancel::{CancelError, CancelToken};
pub use transaction::{BlockingTransaction, Transaction};

/// An open connection to one database (async, tokio). It has no background task: every
/// method drives the socket itself, so nothing needs to be spawned.
pub struct Connection {
    /// `None` once closed or broken.
    pub(crate) stream: Option<Stream>,
    pub(crate) reader: FrameReader,
    /// Outgoing bytes, coalesced into one write.
    pub(crate) out: Vec<u8>,
    pub(crate) state: State,
    /// ParameterStatus values; a later value replaces an earlier one in place.
    parameters: Vec<(String, String)>,
    pub(crate) backend_key: Option<(i32, i32)>,
    transaction_status: TransactionStatus,
    pub(crate) notices: Vec<ErrorFields>,
    pub(crate) notifications: Vec<Notification>,
    /// What [`Connection::repr`] shows as psycopg2's `dsn`.
    dsn: String,
    /// True while a query's exchange runs. Still true at the next call only if that
    /// exchange's future was dropped half-way: the replies are then out of step.
    busy: bool,
    /// Statements prepared so far, for the next statement's name.
    prepared: u64,
    /// Autocommit and a dropped transaction's pending rollback (see [`crate::client`]).
    pub(crate) client: ClientState,
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

/// Per-connection client settings (autocommit, see [`crate::client`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientState {
    /// Each statement on its own (true), or `BEGIN` sent before the first statement.
    pub(crate) autocommit: bool,
    /// A [`Transaction`] was dropped while open: ROLLBACK goes first on the next use.
    pub(crate) pending_rollback: bool,
}

impl Default for ClientState {
    fn default() -> Self {
        Self {
            autocommit: true,
            pending_rollback: false,
        }
    }
}

/// What a query does with COPY: refuse COPY FROM STDIN and drop COPY TO STDOUT data (a
/// plain query), send data from a reader, or write the data received to a writer.
pub(crate) enum CopyIo<'a> {
    /// CopyFail for COPY FROM STDIN; COPY TO STDOUT data dropped.
    Refuse,
    /// The data for the first COPY FROM STDIN (later ones are refused).
    In(Option<&'a mut (dyn AsyncRead + Unpin + Send + 'a)>),
    /// Where COPY TO STDOUT data goes.
    Out {
        /// The destination.
        writer: &'a mut (dyn AsyncWrite + Unpin + Send + 'a),
        /// The first failed write; the rest of the data is then dropped (the server
        /// sends it all the same).
        error: Option<io::Error>,
    },
}

impl CopyIo<'_> {
    /// One CopyData message of COPY TO STDOUT.
    pub(crate) async fn receive(&mut self, data: &[u8]) {
        if let Self::Out {
            writer,
            error: error @ None,
        } = self
        {
            if let Err(e) = writer.write_all(data).await {
                *error = Some(e);
            }
        }
    }
}

impl connect::Session for Connection {
    fn established(stream: Stream, reader: FrameReader, ready: Ready) -> Self {
        Self::from_parts(stream, reader, ready)
    }

    async fn transaction_read_only(&mut self) -> Option<String> {
        // libpq: exactly one row is needed.
        match self.simple_query("SHOW transaction_read_only").await {
            Ok(results) => match results.first().map(|r| r.rows.as_slice()) {
                Some([row]) => Some(row.first().cloned().flatten().unwrap_or_default()),
                _ => None,
            },
            Err(_) => None,
        }
    }

    async fn end(&mut self) {
        self.close().await;
    }
}

impl Connection {
    /// Connects libpq 13's way: each host in order, each address in order, with
    /// `connect_timeout` per address; on failure, libpq's whole message.
    pub async fn connect(config: &Resolved) -> Result<Self, ConnectError> {
        connect::connect(config).await
    }

    /// A connection whose startup exchange has just finished.
    pub(crate) fn from_parts(stream: Stream, reader: FrameReader, ready: Ready) -> Self {
        let mut conn = Self {
            stream: Some(stream),
            reader,
            out: Vec::new(),
            state: State::Open,
            parameters: Vec::new(),
            backend_key: ready.backend_key,
            transaction_status: TransactionStatus::Idle,
            notices: ready.notices,
            notifications: Vec::new(),
            dsn: String::new(),
            busy: false,
            prepared: 0,
            client: ClientState::default(),
        };
        for (name, value) in ready.parameters {
            conn.set_parameter(name, value);
        }
        conn
    }

    /// Runs `sql` with the simple query protocol; one result per statement. A server
    /// error is [`Error::Query`] with libpq's text for it, and the connection stays usable.
    /// With autocommit off, `BEGIN` goes first when no transaction is open (see
    /// [`Connection::set_autocommit`]). `COPY ... FROM STDIN` is refused with CopyFail
    /// (use [`Connection::copy_in`]); `COPY ... TO STDOUT` data is dropped (use
    /// [`Connection::copy_out`]).
    ///
    /// Not cancel safe: if the future is dropped before it finishes (e.g. by a timeout),
    /// the connection counts as broken and later calls return [`Error::Closed`].
    pub async fn simple_query(&mut self, sql: &str) -> Result<Vec<QueryResult>, Error> {
        self.before_statement().await?;
        self.simple_query_with(sql, &mut CopyIo::Refuse).await
    }

    /// [`Connection::simple_query`] without autocommit's `BEGIN`, with `copy` answering
    /// any COPY.
    pub(crate) async fn simple_query_with(
        &mut self,
        sql: &str,
        copy: &mut CopyIo<'_>,
    ) -> Result<Vec<QueryResult>, Error> {
        if !self.usable() {
            return Err(Error::Closed);
        }
        self.out.clear();
        frontend::query(sql, &mut self.out).map_err(encode_error)?;
        let mut run = Run::new(RowSink::Strings);
        self.exchange(
            sql,
            &mut Machine::Simple(SimpleQuery::new()),
            copy,
            &mut run,
        )
        .await?;
        Ok(run.results)
    }

    /// [`Connection::simple_query`] with each statement's rows kept compactly in one
    /// buffer ([`Rows`]) instead of a `String` per value: one result per statement.
    pub async fn simple_query_rows(&mut self, sql: &str) -> Result<Vec<Rows>, Error> {
        self.before_statement().await?;
        if !self.usable() {
            return Err(Error::Closed);
        }
        self.out.clear();
        frontend::query(sql, &mut self.out).map_err(encode_error)?;
        let mut run = Run::new(RowSink::Compact(Vec::new(), None));
        let mut machine = Machine::Simple(SimpleQuery::new());
        self.exchange(sql, &mut machine, &mut CopyIo::Refuse, &mut run)
            .await?;
        Ok(run.rows.into_compact())
    }

    /// Runs one statement with the extended query protocol (Parse, Bind, Describe,
    /// Execute, Sync), with `params` bound as text (`None` is SQL NULL) to `$1`, `$2`, ...
    /// Parameter types are left to the server to infer (use casts such as `$1::text`).
    pub async fn query(
        &mut self,
        sql: &str,
        params: &[Option<&str>],
    ) -> Result<QueryResult, Error> {
        let mut run = Run::new(RowSink::Strings);
        self.extended(None, sql, params, &mut run).await?;
        Ok(run.results.pop().unwrap_or_else(QueryResult::empty))
    }

    /// [`Connection::query`] with the rows kept compactly in one buffer ([`Rows`])
    /// instead of a `String` per value.
    pub async fn query_rows(&mut self, sql: &str, params: &[Option<&str>]) -> Result<Rows, Error> {
        let mut run = Run::new(RowSink::Compact(Vec::new(), None));
        self.extended(None, sql, params, &mut run).await?;
        Ok(run
            .rows
            .into_compact()
            .pop()
            .unwrap_or_else(|| Rows::new(Vec::new())))
    }

    /// [`Connection::query`] with each row handed to `f` as it arrives and then dropped,
    /// so that memory stays constant however many rows there are. The result holds the
    /// columns and the command tag, and no rows. After a server error `f` sees no more
    /// rows; the rows it has seen stay seen.
    pub async fn query_each<F>(
        &mut self,
        sql: &str,
        params: &[Option<&str>],
        mut f: F,
    ) -> Result<QueryResult, Error>
    where
        F: FnMut(Row<'_>) + Send,
    {
        let mut run = Run::new(RowSink::Each(&mut f));
        self.extended(None, sql, params, &mut run).await?;
        Ok(run.results.pop().unwrap_or_else(QueryResult::empty))
    }

    /// Prepares `sql` as a named statement of this connection (Parse, Sync), for
    /// [`Connection::query_prepared`]. It lasts as long as the connection.
    pub async fn prepare(&mut self, sql: &str) -> Result<Statement, Error> {
        self.before_statement().await?;
        if !self.usable() {
            return Err(Error::Closed);
        }
        let name = format!("pgcluster_{}", self.prepared);
        self.out.clear();
        frontend::parse(&name, sql, &[], &mut self.out).map_err(|e| {
            self.out.clear();
            encode_error(e)
        })?;
        frontend::sync(&mut self.out);
        let mut run = Run::new(RowSink::Strings);
        let mut machine = Machine::Extended(ExtendedQuery::new(&[Sent::Parse]));
        self.exchange(sql, &mut machine, &mut CopyIo::Refuse, &mut run)
            .await?;
        self.prepared = self.prepared.saturating_add(1);
        Ok(Statement {
            name,
            sql: sql.to_owned(),
        })
    }

    /// Runs a statement made by [`Connection::prepare`] on this connection (Bind,
    /// Describe, Execute, Sync, as libpq's `PQexecPrepared`), with `params` as text.
    pub async fn query_prepared(
        &mut self,
        statement: &Statement,
        params: &[Option<&str>],
    ) -> Result<QueryResult, Error> {
        let mut run = Run::new(RowSink::Strings);
        self.extended(Some(&statement.name), &statement.sql, params, &mut run)
            .await?;
        Ok(run.results.pop().unwrap_or_else(QueryResult::empty))
    }

    /// One statement over the extended protocol: Parse (unless `statement` names a
    /// prepared one), Bind, Describe (portal), Execute, Sync. With autocommit off,
    /// `BEGIN` goes first when no transaction is open.
    async fn extended(
        &mut self,
        statement: Option<&str>,
        sql: &str,
        params: &[Option<&str>],
        run: &mut Run<'_>,
    ) -> Result<(), Error> {
        self.before_statement().await?;
        if !self.usable() {
            return Err(Error::Closed);
        }
        let values: Vec<Option<&[u8]>> = params.iter().map(|p| p.map(str::as_bytes)).collect();
        self.out.clear();
        let parse = match statement {
            Some(_) => Ok(()),
            None => frontend::parse("", sql, &[], &mut self.out),
        };
        parse
            .and_then(|()| {
                let name = statement.unwrap_or_default();
                frontend::bind("", name, &[], &values, &[], &mut self.out)
            })
            .and_then(|()| frontend::describe(frontend::Target::Portal, "", &mut self.out))
            .and_then(|()| frontend::execute("", 0, &mut self.out))
            .map_err(|e| {
                self.out.clear();
                encode_error(e)
            })?;
        frontend::sync(&mut self.out);
        let machine = match statement {
            Some(_) => ExtendedQuery::new(&[Sent::Bind, Sent::DescribePortal, Sent::Execute]),
            None => ExtendedQuery::default(),
        };
        let mut machine = Machine::Extended(machine);
        self.exchange(sql, &mut machine, &mut CopyIo::Refuse, run)
            .await
    }

    /// Whether a query can be sent. A query whose future was dropped before its end left
    /// unread replies behind, so the connection is then broken.
    pub(crate) fn usable(&mut self) -> bool {
        if self.busy {
            self.busy = false;
            self.stream = None;
            self.state = State::Broken;
        }
        self.state == State::Open
    }

    /// Sends `self.out`, then reads and handles replies up to ReadyForQuery; what they
    /// carry goes into `run`.
    async fn exchange(
        &mut self,
        sql: &str,
        machine: &mut Machine,
        copy: &mut CopyIo<'_>,
        run: &mut Run<'_>,
    ) -> Result<(), Error> {
        self.busy = true;
        let result = self.exchange_inner(sql, machine, copy, run).await;
        self.busy = false;
        result
    }

    async fn exchange_inner(
        &mut self,
        sql: &str,
        machine: &mut Machine,
        copy: &mut CopyIo<'_>,
        run: &mut Run<'_>,
    ) -> Result<(), Error> {
        let Some(stream) = self.stream.as_mut() else {
            return Err(Error::Closed);
        };
        // After a failed write, libpq still reads what the server sent before it went
        // away (typically a FATAL), then reports the socket closing.
        let mut write_failure = stream.write_all(&self.out).await.err().map(WireError::Send);
        self.out.clear();

        let mut draining = false;
        loop {
            let frame = match self.reader.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => {
                    if let Err(e) = self.read_more().await {
                        let e = write_failure.take().unwrap_or(e);
                        return Err(self.lose(run, &e.to_string()));
                    }
                    continue;
                }
                Err(e) => {
                    // Lost synchronization: the connection cannot be used any more.
                    return Err(self.lose(run, &format!("{e}\n")));
                }
            };
            if draining {
                // After a protocol violation libpq skips messages up to ReadyForQuery.
                if frame.tag == b'Z' {
                    break;
                }
                continue;
            }
            let tag = frame.tag;
            match machine.handle_rows(frame, |row| run.add_row(row)) {
                // A row, handed to `add_row` already.
                Ok(None) => {}
                Ok(Some(QueryEvent::Ready(status))) => {
                    self.transaction_status = status;
                    break;
                }
                Ok(Some(QueryEvent::CopyIn(_))) => {
                    // The server now waits for the data: `copy` sends it, or refuses the
                    // COPY (the server then answers with an error, then ReadyForQuery).
                    if let Err(e) = self.send_copy_in(copy).await {
                        return Err(self.lose(run, &e.to_string()));
                    }
                }
                Ok(Some(QueryEvent::CopyData(data))) => copy.receive(&data).await,
                Ok(Some(event)) => self.handle_event(event, sql, run),
                Err(e) => {
                    run.set_error(format!("{e}\n"), None);
                    // A malformed ReadyForQuery still ends the query (libpq goes idle).
                    if tag == b'Z' {
                        break;
                    }
                    draining = true;
                }
            }
        }
        match run.error.take() {
            Some(message) => Err(Error::Query(QueryError {
                message,
                fields: run.fields.take().map(Box::new),
                connection_lost: false,
            })),
            None => Ok(()),
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
                let _ = stream.shutdown().await;
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
        self.parameters
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Notices received so far, oldest first; taking them empties the list.
    pub fn take_notices(&mut self) -> Vec<ErrorFields> {
        std::mem::take(&mut self.notices)
    }

    /// NOTIFY messages received so far, oldest first; taking them empties the list.
    pub fn take_notifications(&mut self) -> Vec<Notification> {
        std::mem::take(&mut self.notifications)
    }

    /// The backend's process id (from BackendKeyData), e.g. for `pg_terminate_backend`.
    pub fn backend_pid(&self) -> Option<i32> {
        self.backend_key.map(|(pid, _)| pid)
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

    pub(crate) fn set_parameter(&mut self, name: String, value: String) {
        match self.parameters.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = value,
            None => self.parameters.push((name, value)),
        }
    }

    fn handle_event(&mut self, event: QueryEvent, sql: &str, run: &mut Run) {
        match event {
            QueryEvent::RowDescription(description) => {
                if let RowSink::Compact(_, current) = &mut run.rows {
                    *current = Some(Rows::new(description.fields.clone()));
                }
                run.current = Some(QueryResult {
                    columns: description.fields,
                    rows: Vec::new(),
                    tag: String::new(),
                });
            }
            QueryEvent::Row(row) => run.add_row(row),
            QueryEvent::CommandComplete(tag) => {
                let mut result = run.current.take().unwrap_or_else(QueryResult::empty);
                if let RowSink::Compact(done, current) = &mut run.rows {
                    let mut rows = current
                        .take()
                        .unwrap_or_else(|| Rows::new(result.columns.clone()));
                    rows.set_tag(tag.clone());
                    done.push(rows);
                }
                result.tag = tag;
                run.results.push(result);
            }
            QueryEvent::EmptyQuery => {
                run.current = None;
                run.results.push(QueryResult::empty());
                if let RowSink::Compact(done, current) = &mut run.rows {
                    *current = None;
                    done.push(Rows::new(Vec::new()));
                }
            }
            QueryEvent::Error(fields) => {
                run.current = None;
                if let RowSink::Compact(_, current) = &mut run.rows {
                    *current = None;
                }
                run.set_error(fields.libpq_text(Some(sql)), Some(fields));
            }
            QueryEvent::Notice(fields) => self.notices.push(fields),
            QueryEvent::ParameterStatus { name, value } => self.set_parameter(name, value),
            QueryEvent::Notification {
                process_id,
                channel,
                payload,
            } => self.notifications.push(Notification {
                process_id,
                channel,
                payload,
            }),
            QueryEvent::Ready(status) => self.transaction_status = status,
            _ => {}
        }
    }

    /// Reads more bytes into the frame reader; on EOF or error, why (displayed as libpq's
    /// text for it).
    pub(crate) async fn read_more(&mut self) -> Result<(), WireError> {
        let Some(stream) = self.stream.as_mut() else {
            return Err(WireError::Gone);
        };
        match stream.read_buf(self.reader.read_buf()).await {
            Ok(0) => Err(WireError::closed(stream)),
            Ok(_) => Ok(()),
            Err(e) => Err(WireError::Receive(e)),
        }
    }

    /// Marks the connection broken and builds the error: what the server said, then why
    /// the connection was lost.
    fn lose(&mut self, run: &mut Run, text: &str) -> Error {
        self.stream = None;
        self.state = State::Broken;
        let mut message = run.error.take().unwrap_or_default();
        message.push_str(text);
        Error::Query(QueryError {
            message,
            fields: run.fields.take().map(Box::new),
            connection_lost: true,
        })
    }
}

/// An idle connection taken out of its runtime by [`Connection::park`], so that it can be
/// resumed on whatever runtime runs the next operation. Dropping it sends Terminate.
pub(crate) struct ParkedConnection {
    conn: Connection,
    stream: ParkedStream,
}

impl Connection {
    /// Takes an open, idle connection (no transaction, nothing unread) out of its runtime;
    /// `None` (and the connection closed) otherwise.
    pub(crate) fn park(mut self) -> Option<ParkedConnection> {
        if !self.usable()
            || self.transaction_status != TransactionStatus::Idle
            || self.reader.buffered() != 0
        {
            return None;
        }
        let mut goodbye = Vec::new();
        frontend::terminate(&mut goodbye);
        let stream = self.stream.take()?.park(goodbye)?;
        Some(ParkedConnection { conn: self, stream })
    }
}

impl ParkedConnection {
    /// The connection again, on the current runtime; `None` if the server closed it or
    /// sent anything while it was parked (it is then closed).
    pub(crate) fn resume(self) -> Option<Connection> {
        let Self { mut conn, stream } = self;
        conn.stream = Some(stream.resume().ok()?);
        Some(conn)
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

/// The CopyFail message sent when a query starts `COPY ... FROM STDIN`.
pub(crate) const COPY_IN_REFUSED: &str = "COPY FROM STDIN is not supported by this connection";

/// The query text could not be encoded (e.g. it contains a NUL): nothing was sent.
fn encode_error(e: EncodeError) -> Error {
    Error::Query(QueryError {
        message: format!("{e}\n"),
        fields: None,
        connection_lost: false,
    })
}

/// The reply checker for the query in flight.
enum Machine {
    Simple(SimpleQuery),
    Extended(ExtendedQuery),
}

impl Machine {
    /// The machine's `handle_rows`: a row goes to `on_row`, anything else is returned.
    fn handle_rows(
        &mut self,
        frame: Frame,
        on_row: impl FnOnce(DataRow),
    ) -> Result<Option<QueryEvent>, ProtocolError> {
        match self {
            Self::Simple(m) => m.handle_rows(frame, on_row),
            Self::Extended(m) => m.handle_rows(frame, on_row),
        }
    }
}

/// A statement prepared by [`Connection::prepare`], valid on that connection only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The server-side name, `pgcluster_<n>`.
    name: String,
    /// Its text, for the position marker of an error's text.
    sql: String,
}

impl Statement {
    /// The name the server knows it by.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Where a query's rows go.
enum RowSink<'f> {
    /// Into [`QueryResult::rows`], a `String` per value.
    Strings,
    /// Into [`Rows`]: the finished results, and the one being filled.
    Compact(Vec<Rows>, Option<Rows>),
    /// To a callback, one at a time.
    Each(&'f mut (dyn FnMut(Row<'_>) + Send)),
}

impl RowSink<'_> {
    fn into_compact(self) -> Vec<Rows> {
        match self {
            Self::Compact(done, _) => done,
            _ => Vec::new(),
        }
    }
}

/// What one query has produced so far.
struct Run<'f> {
    results: Vec<QueryResult>,
    current: Option<QueryResult>,
    rows: RowSink<'f>,
    /// The first error's libpq text.
    error: Option<String>,
    fields: Option<ErrorFields>,
}

impl<'f> Run<'f> {
    fn new(rows: RowSink<'f>) -> Self {
        Self {
            results: Vec::new(),
            current: None,
            rows,
            error: None,
            fields: None,
        }
    }

    /// Stores a row, or hands it to the callback.
    fn add_row(&mut self, row: DataRow) {
        match &mut self.rows {
            RowSink::Strings => {
                let values = row
                    .values()
                    .map(|v| v.map(|bytes| String::from_utf8_lossy(bytes).into_owned()))
                    .collect();
                self.current
                    .get_or_insert_with(QueryResult::empty)
                    .rows
                    .push(values);
            }
            RowSink::Compact(_, current) => current
                .get_or_insert_with(|| Rows::new(Vec::new()))
                .push(&row),
            RowSink::Each(f) => {
                let columns = self.current.as_ref().map_or(&[][..], |c| &c.columns[..]);
                f(Row::new(&row, columns));
            }
        }
    }

    fn set_error(&mut self, text: String, fields: Option<ErrorFields>) {
        if self.error.is_none() {
            self.error = Some(text);
            self.fields = fields;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::io_text::SERVER_CLOSED;
    use pgcluster_protocol::limits::Limits;
    use tokio::net::UnixStream;

    /// What a trust login's startup ends with (for tests that fake a connection).
    pub(crate) fn ready() -> Ready {
        // `Ready` is non-exhaustive; build it the only way another crate can.
        let frames = [
            (b'R', &[0u8, 0, 0, 0][..]),
            (b'S', b"server_version\x0015.18\x00"),
            (b'K', &[0, 0, 0, 42, 0, 0, 0, 7]),
            (b'Z', b"I"),
        ];
        let mut machine = pgcluster_protocol::startup::Startup::new(
            pgcluster_protocol::startup::StartupConfig::new("u"),
            [0; 18],
        );
        let mut out = Vec::new();
        machine.start(&mut out).unwrap();
        for (tag, body) in frames {
            let frame = pgcluster_protocol::frame::Frame {
                tag,
                body: bytes::Bytes::copy_from_slice(body),
            };
            if let pgcluster_protocol::startup::Step::Done(r) =
                machine.handle(frame, &mut out).unwrap()
            {
                return r;
            }
        }
        panic!("startup did not finish");
    }

    /// One backend message: type byte, length word, body.
    pub(crate) fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        v.extend_from_slice(&u32::try_from(body.len() + 4).unwrap().to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    /// A connection just after startup, and the server's end of its socket.
    fn connected() -> (Connection, UnixStream) {
        let (a, b) = UnixStream::pair().unwrap();
        let conn = Connection::from_parts(
            Stream::Unix(a),
            FrameReader::new(Limits::default()),
            ready(),
        );
        (conn, b)
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("test runtime")
    }

    #[test]
    fn a_query_dropped_half_way_breaks_the_connection() {
        rt().block_on(async {
            let (a, _b) = UnixStream::pair().unwrap();
            let mut conn = Connection::from_parts(
                Stream::Unix(a),
                FrameReader::new(Limits::default()),
                ready(),
            );
            // The peer never answers: the query is still waiting when the timeout drops it.
            let cancelled =
                tokio::time::timeout(std::time::Duration::ZERO, conn.simple_query("select 1"))
                    .await;
            assert!(cancelled.is_err());
            assert_eq!(conn.state(), State::Open);
            assert_eq!(conn.simple_query("select 1").await, Err(Error::Closed));
            assert_eq!(conn.state(), State::Broken);
        });
    }

    #[test]
    fn repr_state_and_parameters() {
        rt().block_on(async {
            let (a, _b) = UnixStream::pair().unwrap();
            let mut conn = Connection::from_parts(
                Stream::Unix(a),
                FrameReader::new(Limits::default()),
                ready(),
            );
            conn.set_dsn("dbname=deploy_demo".into());
            let repr = conn.repr();
            let addr = format!("{:p}", &conn);
            assert_eq!(
                repr,
                format!("<connection object at {addr}; dsn: 'dbname=deploy_demo', closed: 0>")
            );
            assert_eq!(conn.parameter("server_version"), Some("15.18"));
            assert_eq!(conn.backend_pid(), Some(42));
            conn.close().await;
            assert_eq!(conn.state(), State::Closed);
            assert!(conn.repr().ends_with(", closed: 1>"));
            assert_eq!(
                format!("{conn:?}"),
                "Connection { dsn: \"dbname=deploy_demo\", state: Closed, backend_pid: Some(42), .. }"
            );
            assert_eq!(conn.simple_query("select 1").await, Err(Error::Closed));
        });
    }

    #[test]
    fn rows_nulls_notices_and_server_close_after_fatal() {
        rt().block_on(async {
            let (mut conn, mut b) = connected();
            let mut reply = Vec::new();
            let mut t = vec![0, 1];
            t.extend_from_slice(b"x\0");
            t.extend_from_slice(&[
                0, 0, 0, 0, 0, 0, 0, 0, 0, 25, 255, 255, 255, 255, 255, 255, 0, 0,
            ]);
            reply.extend(msg(b'N', b"SNOTICE\0VNOTICE\0C00000\0Mhello\0\0"));
            reply.extend(msg(b'T', &t));
            reply.extend(msg(b'D', &[0, 1, 0, 0, 0, 1, b'a']));
            reply.extend(msg(b'D', &[0, 1, 255, 255, 255, 255]));
            reply.extend(msg(b'C', b"SELECT 2\0"));
            reply.extend(msg(b'I', b""));
            reply.extend(msg(b'Z', b"I"));
            b.write_all(&reply).await.unwrap();
            let results = conn.simple_query("select x; ").await.unwrap();
            assert_eq!(results.len(), 2);
            assert_eq!(
                results[0].rows,
                vec![vec![Some("a".to_owned())], vec![None]]
            );
            assert_eq!(results[0].tag, "SELECT 2");
            assert_eq!(results[0].columns[0].name, "x");
            assert_eq!(results[1].tag, "");
            let notices = conn.take_notices();
            assert_eq!(notices.len(), 1);
            assert_eq!(notices[0].message.as_deref(), Some("hello"));

            b.write_all(&msg(
                b'E',
                b"SFATAL\0VFATAL\0C57P01\0Mterminating connection due to administrator command\0\0",
            ))
            .await
            .unwrap();
            drop(b);
            let err = conn.simple_query("select 1").await.unwrap_err();
            let Error::Query(e) = err else {
                panic!("not a query error: {err:?}")
            };
            assert_eq!(
                e.message,
                format!(
                    "FATAL:  terminating connection due to administrator command\n{SERVER_CLOSED}"
                )
            );
            assert!(e.connection_lost);
            assert_eq!(conn.state(), State::Broken);
            assert!(conn.repr().ends_with(", closed: 2>"));
            assert_eq!(conn.simple_query("select 1").await, Err(Error::Closed));
        });
    }

    #[test]
    fn lost_sync_breaks_and_bad_ready_for_query_ends_the_query() {
        rt().block_on(async {
            let (mut conn, mut b) = connected();
            b.write_all(&msg(b'Z', b"II")).await.unwrap();
            let err = conn.simple_query("select 1").await.unwrap_err();
            assert_eq!(
                err.to_string(),
                "Got an error from the database server:\n    message contents do not agree with length in message type \"Z\""
            );
            assert_eq!(conn.state(), State::Open);

            let mut reply = b"C".to_vec();
            reply.extend_from_slice(&40000u32.to_be_bytes());
            b.write_all(&reply).await.unwrap();
            let Err(Error::Query(e)) = conn.simple_query("select 1").await else {
                panic!("expected a query error")
            };
            assert_eq!(
                e.message,
                "lost synchronization with server: got message type \"C\", length 40000\n"
            );
            assert!(e.connection_lost);
            assert_eq!(conn.state(), State::Broken);
        });
    }

    #[test]
    fn unknown_message_keeps_the_connection_and_eof_appends_server_closed() {
        rt().block_on(async {
            let (a, mut b) = UnixStream::pair().unwrap();
            let mut conn =
                Connection::from_parts(Stream::Unix(a), FrameReader::new(Limits::default()), ready());
            let mut reply = msg(b'q', b"");
            reply.extend(msg(b'Z', b"I"));
            b.write_all(&reply).await.unwrap();
            let err = conn.simple_query("select 1").await.unwrap_err();
            assert_eq!(
                err.to_string(),
                "Got an error from the database server:\n    unexpected response from server; first received character was \"q\""
            );
            assert_eq!(conn.state(), State::Open);
            b.write_all(&msg(b'q', b"")).await.unwrap();
            drop(b);
            let err = conn.simple_query("select 1").await.unwrap_err();
            let Error::Query(e) = err else {
                panic!("not a query error: {err:?}")
            };
            assert_eq!(
                e.message,
                format!("unexpected response from server; first received character was \"q\"\n{SERVER_CLOSED}")
            );
        });
    }
}
