//! The connection's one read loop ([`Connection::next_frame_by`]: the next message, read
//! from the socket as needed), and the exchange on it: sends the query built in the
//! connection's output buffer, then reads the replies up to ReadyForQuery and applies
//! what the engine's [`Exchange`] makes of each (rows, results, errors, notices, COPY,
//! notifications), and marks the connection broken when it is lost. Waiting for
//! notifications while idle reads through the same loop.

use std::fmt;
use std::sync::Arc;

use pgcluster_protocol::backend::{DataRow, RowDescription};
use pgcluster_protocol::error_fields::ErrorFields;
use pgcluster_protocol::frame::Frame;
use pgcluster_protocol::query::QueryEvent;
use pgcluster_protocol::reader::lossy_string;
use pgcluster_protocol::ProtocolError;

use super::copy::CopyIo;
use super::session::{Connection, Notification, QueryResult, State};
use crate::engine::exchange::{Exchange, Machine, Step};
use crate::error::{Error, QueryError};
use crate::rows::{Row, Rows};
use crate::transport::WireError;

impl Connection {
    /// Whether a query can be sent. A query whose future was dropped before its end left
    /// unread replies behind, so the connection is then broken.
    pub(super) fn usable(&mut self) -> bool {
        if self.busy {
            self.busy = false;
            self.stream = None;
            self.state = State::Broken;
        }
        self.state == State::Open
    }

    /// Sends `self.out`, then reads and handles replies up to ReadyForQuery; what they
    /// carry goes into `run`.
    pub(super) async fn exchange(
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

        // The replies decode with what the connection remembers from earlier ones, which
        // comes back at the end (a lost connection needs it no more).
        let mut exchange = Exchange::new(machine, &mut self.memo);
        loop {
            let frame = match self.next_frame_by(None).await {
                Ok(frame) => frame,
                Err(ReadError::Wire(e)) => {
                    let e = write_failure.take().unwrap_or(e);
                    return Err(self.lose(run, &e.to_string()));
                }
                // Lost synchronization: the connection cannot be used any more.
                Err(e) => return Err(self.lose(run, &e.to_string())),
            };
            match exchange.handle(frame, |row| run.add_row(row)) {
                Step::Nothing => {}
                Step::Event(QueryEvent::CopyIn(_)) => {
                    // The server now waits for the data: `copy` sends it, or refuses the
                    // COPY (the server then answers with an error, then ReadyForQuery).
                    if let Err(e) = self.send_copy_in(copy).await {
                        return Err(self.lose(run, &e.to_string()));
                    }
                }
                Step::Event(QueryEvent::CopyData(data)) => copy.receive(&data).await,
                Step::Event(event) => self.handle_event(event, sql, run),
                Step::Violation(text) => run.set_error(text, None),
                Step::Over { status, violation } => {
                    if let Some(text) = violation {
                        run.set_error(text, None);
                    }
                    if let Some(status) = status {
                        self.transaction_status = status;
                    }
                    break;
                }
            }
        }
        exchange.finish(&mut self.memo);
        match run.error.take() {
            Some(message) => Err(Error::Query(QueryError {
                message,
                fields: run.fields.take(),
                connection_lost: false,
            })),
            None => Ok(()),
        }
    }

    fn handle_event(&mut self, event: QueryEvent, sql: &str, run: &mut Run) {
        match event {
            QueryEvent::RowDescription(description) => run.describe(description),
            QueryEvent::Row(row) => run.add_row(row),
            QueryEvent::CommandComplete(tag) => run.complete(Some(tag)),
            QueryEvent::EmptyQuery => {
                run.abandon();
                run.complete(None);
            }
            QueryEvent::Error(fields) => {
                run.abandon();
                run.set_error(fields.libpq_text(Some(sql)), Some(fields));
            }
            QueryEvent::Notice(fields) => self.keep_notice(*fields),
            QueryEvent::ParameterStatus { name, value } => self.set_parameter(name, value),
            QueryEvent::Notification {
                process_id,
                channel,
                payload,
            } => self.keep_notification(Notification {
                process_id,
                channel,
                payload,
            }),
            // ReadyForQuery is the engine's `Step::Over`; the rest needs nothing here.
            _ => {}
        }
    }

    /// The next whole message from the server, reading from the socket as needed, by
    /// `deadline` (a [`WireError::Receive`] of kind [`std::io::ErrorKind::TimedOut`] once
    /// it has passed). The one read loop under every exchange and every idle wait.
    pub(super) async fn next_frame_by(
        &mut self,
        deadline: Option<std::time::Instant>,
    ) -> Result<Frame, ReadError> {
        loop {
            match self.reader.next_frame() {
                Ok(Some(frame)) => return Ok(frame),
                Ok(None) => self.read_more_by(deadline).await.map_err(ReadError::Wire)?,
                Err(e) => return Err(ReadError::Protocol(e)),
            }
        }
    }

    /// Reads more bytes into the frame reader, by `deadline`; on EOF or error, why
    /// (displayed as libpq's text for it).
    async fn read_more_by(
        &mut self,
        deadline: Option<std::time::Instant>,
    ) -> Result<(), WireError> {
        let Some(stream) = self.stream.as_mut() else {
            return Err(WireError::Gone);
        };
        match stream.read_into(&mut self.reader, deadline).await {
            Ok(0) => Err(WireError::Closed {
                tls: stream.is_tls(),
            }),
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
            fields: run.fields.take(),
            connection_lost: true,
        })
    }
}

/// Why no next message came. `Display` is libpq's text, with its final newline.
#[derive(Debug)]
pub(super) enum ReadError {
    /// The stream failed or ended.
    Wire(WireError),
    /// The bytes are no valid message: synchronization is lost.
    Protocol(ProtocolError),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Wire(e) => e.fmt(f),
            Self::Protocol(e) => writeln!(f, "{e}"),
        }
    }
}

/// Where a query's rows go. The compact sink collects whole results as [`Rows`] and
/// builds no [`QueryResult`]; the others build a `QueryResult` per statement.
pub(super) enum RowSink<'f> {
    /// Into [`QueryResult::rows`], a `String` per value.
    Strings,
    /// Into [`Rows`]: the finished results, and the one being filled.
    Compact(Vec<Rows>, Option<Rows>),
    /// To a callback, one at a time.
    Each(&'f mut (dyn FnMut(Row<'_>) + Send)),
}

impl RowSink<'_> {
    pub(super) fn into_compact(self) -> Vec<Rows> {
        match self {
            Self::Compact(done, _) => done,
            _ => Vec::new(),
        }
    }
}

/// What one query has produced so far.
pub(super) struct Run<'f> {
    /// The finished results before the last one.
    done: Vec<QueryResult>,
    /// The last finished result: apart, so that a one-statement query, which returns
    /// it alone, allocates no vector for it.
    last: Option<QueryResult>,
    current: Option<QueryResult>,
    pub(super) rows: RowSink<'f>,
    /// The first error's libpq text.
    error: Option<String>,
    fields: Option<Box<ErrorFields>>,
}

impl<'f> Run<'f> {
    pub(super) fn new(rows: RowSink<'f>) -> Self {
        Self {
            done: Vec::new(),
            last: None,
            current: None,
            rows,
            error: None,
            fields: None,
        }
    }

    /// A statement's RowDescription: its result begins.
    fn describe(&mut self, description: Arc<RowDescription>) {
        match &mut self.rows {
            RowSink::Compact(_, current) => *current = Some(Rows::new(description)),
            _ => {
                self.current = Some(QueryResult {
                    // Unshared unless the memo keeps it: then it is copied.
                    columns: Arc::try_unwrap(description)
                        .map_or_else(|shared| shared.fields.clone(), |d| d.fields),
                    rows: Vec::new(),
                    tag: String::new(),
                });
            }
        }
    }

    /// A statement ended: its result, with the command tag (`None`: an empty query), is
    /// finished.
    fn complete(&mut self, tag: Option<Arc<str>>) {
        match &mut self.rows {
            RowSink::Compact(done, current) => {
                let mut rows = current.take().unwrap_or_else(Rows::without_columns);
                if let Some(tag) = tag {
                    rows.set_tag(tag);
                }
                done.push(rows);
            }
            _ => {
                let mut result = self.current.take().unwrap_or_else(QueryResult::empty);
                if let Some(tag) = tag {
                    result.tag = String::from(&*tag);
                }
                if let Some(previous) = self.last.replace(result) {
                    self.done.push(previous);
                }
            }
        }
    }

    /// Forgets the result being filled (a statement failed, or the query was empty).
    fn abandon(&mut self) {
        match &mut self.rows {
            RowSink::Compact(_, current) => *current = None,
            _ => self.current = None,
        }
    }

    /// Every finished result, in order.
    pub(super) fn take_results(&mut self) -> Vec<QueryResult> {
        match self.last.take() {
            None => std::mem::take(&mut self.done),
            Some(last) if self.done.is_empty() => vec![last],
            Some(last) => {
                let mut results = std::mem::take(&mut self.done);
                results.push(last);
                results
            }
        }
    }

    /// The compact sink's last finished result (a one-statement query's only one), or
    /// an empty one if none finished.
    pub(super) fn take_compact(self) -> Rows {
        self.rows
            .into_compact()
            .pop()
            .unwrap_or_else(Rows::without_columns)
    }

    /// The last finished result, or an empty one if none finished.
    pub(super) fn take_last(&mut self) -> QueryResult {
        self.last.take().unwrap_or_else(QueryResult::empty)
    }

    /// Stores a row, or hands it to the callback.
    fn add_row(&mut self, row: DataRow) {
        match &mut self.rows {
            RowSink::Strings => {
                let mut values = Vec::with_capacity(row.len());
                values.extend(row.values().map(|v| v.map(lossy_string)));
                self.current
                    .get_or_insert_with(QueryResult::empty)
                    .rows
                    .push(values);
            }
            RowSink::Compact(_, current) => {
                current.get_or_insert_with(Rows::without_columns).push(&row)
            }
            RowSink::Each(f) => {
                let columns = self.current.as_ref().map_or(&[][..], |c| &c.columns[..]);
                f(Row::new(&row, columns));
            }
        }
    }

    fn set_error(&mut self, text: String, fields: Option<Box<ErrorFields>>) {
        if self.error.is_none() {
            self.error = Some(text);
            self.fields = fields;
        }
    }
}
