//! Query state machines: they check the order of the server's replies and turn them into
//! events.
//!
//! [`SimpleQuery`] follows one `Query` message; [`ExtendedQuery`] follows a batch of
//! Parse/Bind/Describe/Execute/Close messages ended by one Sync. Both turn every frame into
//! exactly one [`QueryEvent`] (or an error) until [`QueryEvent::Ready`], with libpq 13's
//! texts for replies out of order:
//!
//! ```
//! use pgcluster_protocol::frame::Frame;
//! use pgcluster_protocol::query::SimpleQuery;
//!
//! let mut query = SimpleQuery::new();
//! let err = query.handle(Frame::new(b'D', &b"\0\0"[..])).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "server sent data (\"D\" message) without prior row description (\"T\" message)"
//! );
//! ```
//!
//! An error is sticky: every later call returns it again. libpq reports such an error once
//! the query ends; the I/O layer should read and drop frames up to ReadyForQuery.
//!
//! After an ErrorResponse the server skips to ReadyForQuery; anything else it still sends
//! (other than notices, parameter changes and notifications) comes out as
//! [`QueryEvent::Discarded`], as libpq discards it.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::buffer::Bytes;

use crate::backend::{
    parse_command_complete, parse_copy_response, parse_empty, parse_parameter_description,
    parse_ready_for_query, parse_row_description, tag, BackendMessage, CopyResponse, DataRow,
    RowDescription, TransactionStatus,
};
use crate::error_fields::ErrorFields;
use crate::frame::Frame;
use crate::ProtocolError;

/// One step of a query's reply.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryEvent {
    /// The columns of the rows that follow (shared with the connection's [`Memo`], so a
    /// repeated query's columns are not copied).
    RowDescription(Arc<RowDescription>),
    /// A row; its field count has been checked against the RowDescription.
    Row(DataRow),
    /// A statement finished, with its command tag (shared with the connection's
    /// [`Memo`], so a repeated query's tag is not copied).
    CommandComplete(Arc<str>),
    /// The query string was empty.
    EmptyQuery,
    /// A statement failed; the server skips to ReadyForQuery. (The fields are boxed, as
    /// in [`QueryEvent::Notice`], so that an event stays small to move.)
    Error(Box<ErrorFields>),
    /// A notice (never an error).
    Notice(Box<ErrorFields>),
    /// A run-time parameter changed.
    ParameterStatus {
        /// Name.
        name: String,
        /// New value.
        value: String,
    },
    /// A NOTIFY arrived.
    Notification {
        /// Notifying backend's process id.
        process_id: i32,
        /// Channel.
        channel: String,
        /// Payload.
        payload: String,
    },
    /// The query is over; the connection is ready for the next one.
    Ready(TransactionStatus),
    /// `COPY ... FROM STDIN` started: the server now waits for the client's CopyData
    /// messages and CopyDone, or CopyFail. Until it has them it sends nothing more.
    CopyIn(CopyResponse),
    /// `COPY ... TO STDOUT` started: [`QueryEvent::CopyData`] follow, then
    /// [`QueryEvent::CopyDone`].
    CopyOut(CopyResponse),
    /// One chunk of COPY TO STDOUT data.
    CopyData(Bytes),
    /// The end of COPY TO STDOUT data.
    CopyDone,
    /// ParseComplete (extended protocol).
    ParseComplete,
    /// BindComplete (extended protocol).
    BindComplete,
    /// CloseComplete (extended protocol).
    CloseComplete,
    /// The parameter types of a described statement (extended protocol).
    ParameterDescription(Vec<u32>),
    /// The described statement or portal returns no rows (extended protocol).
    NoData,
    /// Execute stopped at its row limit; the portal can be executed again (extended
    /// protocol).
    PortalSuspended,
    /// A message libpq silently drops here (e.g. a row after an error, CopyData outside
    /// COPY, BackendKeyData): nothing to do. The message type is given for logging.
    Discarded(u8),
}

/// Where a query's reply stands.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Results are arriving.
    #[default]
    Running,
    /// Inside COPY TO STDOUT: CopyData until CopyDone.
    CopyOut,
    /// An ErrorResponse arrived: everything up to ReadyForQuery is dropped.
    AfterError,
    /// ReadyForQuery arrived.
    Done,
}

/// State and checks shared by both machines.
#[derive(Debug, Default)]
struct Core {
    /// Field count of the current RowDescription, if any.
    columns: Option<usize>,
    phase: Phase,
    failed: Option<ProtocolError>,
    memo: Memo,
}

/// What a connection's query machines remember from one query to the next: the last
/// RowDescription and the last command tag, each with the body it came in. When a
/// query is run again and again its replies bring the same ones, which are then (from
/// the second repeat on, once the same body has come twice in a row) cloned instead of
/// decoded anew (no field-by-field parse, no UTF-8 check). The events are the same
/// either way: a body decodes to one value only.
///
/// The connection keeps one and swaps it into each query's machine (`memo_mut`) for
/// the length of the query:
///
/// ```
/// use pgcluster_protocol::frame::Frame;
/// use pgcluster_protocol::query::{Memo, QueryEvent, SimpleQuery};
///
/// let mut memo = Memo::default();
/// for _ in 0..3 {
///     let mut query = SimpleQuery::new();
///     std::mem::swap(query.memo_mut(), &mut memo);
///     let event = query.handle(Frame::new(b'C', &b"SELECT 1\0"[..])).unwrap();
///     assert_eq!(event, QueryEvent::CommandComplete("SELECT 1".into()));
///     std::mem::swap(query.memo_mut(), &mut memo);
/// }
/// ```
#[derive(Debug, Default)]
pub struct Memo {
    description: Remembered<Arc<RowDescription>>,
    tag: Remembered<Arc<str>>,
}

/// One remembered decoding: the body last seen and, once the same body has come twice
/// in a row, what it decodes to. A body seen once costs a copy of its bytes, not a
/// clone of its value, so replies that never repeat pay little for the memo.
#[derive(Debug)]
struct Remembered<T> {
    body: Vec<u8>,
    decoded: Option<T>,
}

impl<T> Default for Remembered<T> {
    fn default() -> Self {
        Self {
            body: Vec::new(),
            decoded: None,
        }
    }
}

impl<T: Clone> Remembered<T> {
    /// Bodies longer than this are decoded and not remembered, so that one wide
    /// RowDescription does not stay in memory for the connection's life.
    const MAX_BODY: usize = 4096;

    /// `decode(body)`, or a clone of it when `body` is the one remembered.
    fn decode(
        &mut self,
        body: &[u8],
        decode: impl FnOnce(&[u8]) -> Result<T, ProtocolError>,
    ) -> Result<T, ProtocolError> {
        // No valid `T` or `C` body is empty, and an empty one is what a new memo holds.
        if !body.is_empty() && self.body == body {
            if let Some(decoded) = &self.decoded {
                return Ok(decoded.clone());
            }
            let decoded = decode(body)?;
            self.decoded = Some(decoded.clone());
            return Ok(decoded);
        }
        let decoded = decode(body)?;
        if body.len() <= Self::MAX_BODY {
            self.body.clear();
            self.body.extend_from_slice(body);
        } else {
            self.body = Vec::new();
        }
        self.decoded = None;
        Ok(decoded)
    }
}

/// What a message means for the shared core: an event, a row to check, or "not mine,
/// decide yourself".
enum Outcome {
    Event(QueryEvent),
    /// A DataRow while results are arriving: decoded directly, because rows are most of
    /// what a query receives.
    Row(DataRow),
    Other(Msg),
}

/// A backend message as the machines see it: decoded and checked exactly as
/// [`BackendMessage::parse`] does, but small to move (a `BackendMessage` holds
/// [`ErrorFields`] inline, some 500 bytes, and each frame of a reply would move it
/// several times). The messages of every reply (`T`, `C`, `Z`, the extended protocol's
/// acknowledgements) are decoded without a `BackendMessage` at all.
#[derive(Debug)]
enum Msg {
    Notice(Box<ErrorFields>),
    Error(Box<ErrorFields>),
    ParameterStatus {
        name: String,
        value: String,
    },
    Notification {
        process_id: i32,
        channel: String,
        payload: String,
    },
    Ready(TransactionStatus),
    RowDescription(Arc<RowDescription>),
    CommandComplete(Arc<str>),
    EmptyQuery,
    CopyIn(CopyResponse),
    CopyOut(CopyResponse),
    CopyBoth,
    CopyData(Bytes),
    CopyDone,
    ParseComplete,
    BindComplete,
    CloseComplete,
    ParameterDescription(Vec<u32>),
    NoData,
    PortalSuspended,
    BackendKeyData,
    /// A valid message that no query's reply has in this place: a DataRow outside a
    /// result, Authentication, FunctionCallResponse, NegotiateProtocolVersion.
    Foreign,
}

impl Msg {
    /// Decodes `frame`: [`BackendMessage::parse`]'s checks and errors, message by message;
    /// a RowDescription or command tag that `memo` remembers is cloned from it.
    fn parse(frame: &Frame, memo: &mut Memo) -> Result<Self, ProtocolError> {
        let body = &frame.body;
        Ok(match frame.tag {
            tag::ROW_DESCRIPTION => Self::RowDescription(
                memo.description
                    .decode(body, |body| parse_row_description(body).map(Arc::new))?,
            ),
            tag::COMMAND_COMPLETE => Self::CommandComplete(
                memo.tag
                    .decode(body, |body| parse_command_complete(body).map(Arc::from))?,
            ),
            tag::READY_FOR_QUERY => Self::Ready(parse_ready_for_query(body)?),
            t @ (tag::BIND_COMPLETE
            | tag::CLOSE_COMPLETE
            | tag::COPY_DONE
            | tag::EMPTY_QUERY_RESPONSE
            | tag::NO_DATA
            | tag::PARSE_COMPLETE
            | tag::PORTAL_SUSPENDED) => {
                parse_empty(t, body)?;
                match t {
                    tag::BIND_COMPLETE => Self::BindComplete,
                    tag::CLOSE_COMPLETE => Self::CloseComplete,
                    tag::COPY_DONE => Self::CopyDone,
                    tag::EMPTY_QUERY_RESPONSE => Self::EmptyQuery,
                    tag::NO_DATA => Self::NoData,
                    tag::PARSE_COMPLETE => Self::ParseComplete,
                    _ => Self::PortalSuspended,
                }
            }
            tag::PARAMETER_DESCRIPTION => {
                Self::ParameterDescription(parse_parameter_description(body)?)
            }
            t @ tag::COPY_IN_RESPONSE => Self::CopyIn(parse_copy_response(t, body)?),
            t @ tag::COPY_OUT_RESPONSE => Self::CopyOut(parse_copy_response(t, body)?),
            t @ tag::COPY_BOTH_RESPONSE => {
                parse_copy_response(t, body)?;
                Self::CopyBoth
            }
            tag::COPY_DATA => Self::CopyData(body.clone()),
            t @ tag::ERROR_RESPONSE => Self::Error(Box::new(ErrorFields::parse(t, body)?)),
            t @ tag::NOTICE_RESPONSE => Self::Notice(Box::new(ErrorFields::parse(t, body)?)),
            _ => match BackendMessage::parse(frame)? {
                BackendMessage::ParameterStatus { name, value } => {
                    Self::ParameterStatus { name, value }
                }
                BackendMessage::NotificationResponse {
                    process_id,
                    channel,
                    payload,
                } => Self::Notification {
                    process_id,
                    channel,
                    payload,
                },
                BackendMessage::BackendKeyData { .. } => Self::BackendKeyData,
                _ => Self::Foreign,
            },
        })
    }
}

impl Core {
    /// Runs `f` unless an error is already recorded; records any error `f` returns.
    fn guard<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, ProtocolError>,
    ) -> Result<T, ProtocolError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = f(self);
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    /// Decodes `frame` and handles what both protocols share: asynchronous messages,
    /// errors, ReadyForQuery, rows and their description, command completion and COPY.
    fn common(&mut self, frame: &Frame) -> Result<Outcome, ProtocolError> {
        if self.phase == Phase::Done {
            // The query is over: whatever comes now belongs to no query of ours.
            return Err(ProtocolError::UnexpectedMessage { tag: frame.tag });
        }
        if self.phase == Phase::AfterError && matches!(frame.tag, b'D' | b'T') {
            // libpq skips these by their length word once a query has failed.
            return Ok(Outcome::Event(QueryEvent::Discarded(frame.tag)));
        }
        if frame.tag == b'D' && self.phase == Phase::Running {
            return Ok(Outcome::Row(self.checked_row(frame.body.clone())?));
        }
        let msg = Msg::parse(frame, &mut self.memo)?;
        let event = match msg {
            Msg::Notice(fields) => QueryEvent::Notice(fields),
            Msg::ParameterStatus { name, value } => QueryEvent::ParameterStatus { name, value },
            Msg::Notification {
                process_id,
                channel,
                payload,
            } => QueryEvent::Notification {
                process_id,
                channel,
                payload,
            },
            Msg::Ready(status) if self.phase == Phase::AfterError => {
                self.phase = Phase::Done;
                QueryEvent::Ready(status)
            }
            _ if self.phase == Phase::AfterError => QueryEvent::Discarded(frame.tag),
            Msg::Error(fields) => {
                self.phase = Phase::AfterError;
                self.columns = None;
                QueryEvent::Error(fields)
            }
            Msg::CopyData(data) if self.phase == Phase::CopyOut => QueryEvent::CopyData(data),
            Msg::CopyDone if self.phase == Phase::CopyOut => {
                self.phase = Phase::Running;
                QueryEvent::CopyDone
            }
            _ if self.phase == Phase::CopyOut => {
                return Err(ProtocolError::UnexpectedMessage { tag: frame.tag })
            }
            Msg::Ready(status) => {
                self.phase = Phase::Done;
                QueryEvent::Ready(status)
            }
            // libpq: "If we see Copy Data, just silently drop it."
            Msg::CopyData(_) | Msg::CopyDone => QueryEvent::Discarded(frame.tag),
            Msg::BackendKeyData => QueryEvent::Discarded(frame.tag),
            // Here results are arriving, so a DataRow was handled above: the machine
            // decides on everything left.
            other => return Ok(Outcome::Other(other)),
        };
        Ok(Outcome::Event(event))
    }

    fn row_description(&mut self, description: Arc<RowDescription>) -> QueryEvent {
        self.columns = Some(description.fields.len());
        QueryEvent::RowDescription(description)
    }

    /// A `D` body decoded, judged in libpq's order: no RowDescription before it (the body
    /// is not looked at, as `pqParseInput3` skips it), then its field count against the
    /// description's (`getAnotherTuple` reads the count first), then the values.
    fn checked_row(&self, body: Bytes) -> Result<DataRow, ProtocolError> {
        let Some(columns) = self.columns else {
            return Err(ProtocolError::DataWithoutDescription);
        };
        if let Some(&[high, low]) = body.get(..2) {
            if usize::from(u16::from_be_bytes([high, low])) != columns {
                return Err(ProtocolError::FieldCount);
            }
        }
        DataRow::parse_owned(body)
    }

    /// Whether `frame` takes the fast path of `handle_rows`: a DataRow where results are
    /// arriving.
    fn is_fast_row(&self, frame: &Frame) -> bool {
        frame.tag == b'D' && self.phase == Phase::Running
    }

    /// The fast path of `handle_rows`: a DataRow where results are arriving (see
    /// [`Core::is_fast_row`]), decoded and checked. The row takes the frame's body.
    fn fast_row(&mut self, frame: Frame) -> Result<DataRow, ProtocolError> {
        self.guard(|core| core.checked_row(frame.body))
    }

    fn copy_start(&mut self, msg: Msg, tag: u8) -> Result<QueryEvent, ProtocolError> {
        self.columns = None;
        match msg {
            Msg::CopyIn(r) => Ok(QueryEvent::CopyIn(r)),
            Msg::CopyOut(r) => {
                self.phase = Phase::CopyOut;
                Ok(QueryEvent::CopyOut(r))
            }
            // COPY BOTH is for replication connections, which pgcluster does not make.
            _ => Err(ProtocolError::UnexpectedMessage { tag }),
        }
    }
}

/// The simple-query protocol (`Q`): one machine per query sent. Errors are sticky.
#[derive(Debug, Default)]
pub struct SimpleQuery {
    core: Core,
}

impl SimpleQuery {
    /// A machine for one query that has just been sent.
    pub fn new() -> Self {
        Self::default()
    }

    /// What this machine remembers (see [`Memo`]): swap the connection's memo in before
    /// the first frame and out again after the last.
    pub fn memo_mut(&mut self) -> &mut Memo {
        &mut self.core.memo
    }

    /// Handles one frame; returns the event it carries.
    ///
    /// Errors (libpq 13's texts): a DataRow before any RowDescription
    /// ([`ProtocolError::DataWithoutDescription`]) or with another field count
    /// ([`ProtocolError::FieldCount`]); a message that has no place in a simple query
    /// ([`ProtocolError::UnexpectedMessage`]), including FunctionCallResponse, the
    /// extended protocol's replies and anything after ReadyForQuery; any decoding error.
    pub fn handle(&mut self, frame: Frame) -> Result<QueryEvent, ProtocolError> {
        self.core.guard(|core| {
            let msg = match core.common(&frame)? {
                Outcome::Event(event) => return Ok(event),
                Outcome::Row(row) => return Ok(QueryEvent::Row(row)),
                Outcome::Other(msg) => msg,
            };
            match msg {
                Msg::RowDescription(d) => Ok(core.row_description(d)),
                Msg::CommandComplete(tag) => {
                    core.columns = None;
                    Ok(QueryEvent::CommandComplete(tag))
                }
                Msg::EmptyQuery => {
                    core.columns = None;
                    Ok(QueryEvent::EmptyQuery)
                }
                msg @ (Msg::CopyIn(_) | Msg::CopyOut(_) | Msg::CopyBoth) => {
                    core.copy_start(msg, frame.tag)
                }
                _ => Err(ProtocolError::UnexpectedMessage { tag: frame.tag }),
            }
        })
    }

    /// [`SimpleQuery::handle`], except that a row goes to `on_row` and `None` is returned:
    /// rows are most of a query's reply, and a [`QueryEvent`] is large to move around.
    /// Checks and errors are those of `handle`.
    pub fn handle_rows(
        &mut self,
        frame: Frame,
        on_row: impl FnOnce(DataRow),
    ) -> Result<Option<QueryEvent>, ProtocolError> {
        if self.core.is_fast_row(&frame) {
            return self.core.fast_row(frame).map(on_row).map(|()| None);
        }
        self.handle(frame).map(Some)
    }

    /// True once ReadyForQuery has been handled.
    pub fn is_done(&self) -> bool {
        self.core.phase == Phase::Done
    }
}

/// A message of an extended-protocol batch, in the order it was sent (Sync excluded: a
/// batch ends with exactly one Sync).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// Parse: answered by ParseComplete.
    Parse,
    /// Bind: answered by BindComplete.
    Bind,
    /// Describe of a prepared statement: ParameterDescription, then RowDescription or
    /// NoData.
    DescribeStatement,
    /// Describe of a portal: RowDescription or NoData.
    DescribePortal,
    /// Execute: DataRows, then CommandComplete, EmptyQueryResponse or PortalSuspended
    /// (or a COPY).
    Execute,
    /// Close of a statement or portal: answered by CloseComplete.
    Close,
}

/// What the next reply must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    ParseComplete,
    BindComplete,
    ParameterDescription,
    Description,
    Execution,
    CloseComplete,
}

/// The extended-query protocol: the replies to one batch of [`Sent`] messages and its
/// Sync, checked in order. Errors are sticky.
#[derive(Debug)]
pub struct ExtendedQuery {
    core: Core,
    expect: Expected,
}

/// The replies still due, in order: a queue that holds the first [`Expected::INLINE`]
/// without allocating (a statement's batch is at most four), any more in a `VecDeque`.
#[derive(Debug)]
struct Expected {
    inline: [Expect; Expected::INLINE],
    /// `inline[head..len]` are due, before all of `more`.
    head: usize,
    len: usize,
    more: VecDeque<Expect>,
}

impl Expected {
    const INLINE: usize = 8;

    fn new() -> Self {
        Self {
            inline: [Expect::Execution; Self::INLINE],
            head: 0,
            len: 0,
            more: VecDeque::new(),
        }
    }

    fn push_back(&mut self, expect: Expect) {
        match self.inline.get_mut(self.len) {
            Some(slot) if self.more.is_empty() => {
                *slot = expect;
                self.len = self.len.saturating_add(1);
            }
            _ => self.more.push_back(expect),
        }
    }

    fn front(&self) -> Option<&Expect> {
        match self.inline.get(self.head..self.len) {
            Some([first, ..]) => Some(first),
            _ => self.more.front(),
        }
    }

    fn pop_front(&mut self) {
        if self.head < self.len {
            self.head = self.head.saturating_add(1);
        } else {
            self.more.pop_front();
        }
    }

    fn is_empty(&self) -> bool {
        self.head >= self.len && self.more.is_empty()
    }

    fn clear(&mut self) {
        self.head = self.len;
        self.more.clear();
    }
}

impl Default for ExtendedQuery {
    /// Parse, Bind, Describe (portal), Execute, then Sync: one statement, as libpq's
    /// `PQexecParams` sends it.
    fn default() -> Self {
        Self::new(&[Sent::Parse, Sent::Bind, Sent::DescribePortal, Sent::Execute])
    }
}

impl ExtendedQuery {
    /// A machine for the batch `sent`, followed by one Sync.
    pub fn new(sent: &[Sent]) -> Self {
        let mut expect = Expected::new();
        for s in sent {
            match s {
                Sent::Parse => expect.push_back(Expect::ParseComplete),
                Sent::Bind => expect.push_back(Expect::BindComplete),
                Sent::DescribeStatement => {
                    expect.push_back(Expect::ParameterDescription);
                    expect.push_back(Expect::Description);
                }
                Sent::DescribePortal => expect.push_back(Expect::Description),
                Sent::Execute => expect.push_back(Expect::Execution),
                Sent::Close => expect.push_back(Expect::CloseComplete),
            }
        }
        Self {
            core: Core::default(),
            expect,
        }
    }

    /// What this machine remembers (see [`Memo`]): swap the connection's memo in before
    /// the first frame and out again after the last.
    pub fn memo_mut(&mut self) -> &mut Memo {
        &mut self.core.memo
    }

    /// Handles one frame; returns the event it carries.
    ///
    /// Each reply must answer the next message of the batch; one that does not is
    /// [`ProtocolError::UnexpectedMessage`], as is ReadyForQuery before every message has
    /// been answered (unless an ErrorResponse ended the batch early). Rows are checked as
    /// in [`SimpleQuery::handle`]: they need a RowDescription from a Describe.
    pub fn handle(&mut self, frame: Frame) -> Result<QueryEvent, ProtocolError> {
        let expect = &mut self.expect;
        self.core.guard(|core| {
            let unexpected = ProtocolError::UnexpectedMessage { tag: frame.tag };
            if frame.tag == b'Z' && core.phase == Phase::Running && !expect.is_empty() {
                return Err(unexpected);
            }
            let msg = match core.common(&frame)? {
                Outcome::Event(event) => {
                    if matches!(event, QueryEvent::Error(_)) {
                        // The server skips the rest of the batch up to Sync.
                        expect.clear();
                    }
                    return Ok(event);
                }
                Outcome::Row(row) => {
                    return match expect.front() {
                        Some(Expect::Execution) => Ok(QueryEvent::Row(row)),
                        // A DataRow with no Execute to answer: judged as a row first (in
                        // `common`), as libpq judges it, then out of place.
                        _ => Err(unexpected),
                    };
                }
                Outcome::Other(msg) => msg,
            };
            let next = expect.front().copied();
            let (event, step_done) = match (next, msg) {
                (Some(Expect::ParseComplete), Msg::ParseComplete) => {
                    (QueryEvent::ParseComplete, true)
                }
                (Some(Expect::BindComplete), Msg::BindComplete) => (QueryEvent::BindComplete, true),
                (Some(Expect::CloseComplete), Msg::CloseComplete) => {
                    (QueryEvent::CloseComplete, true)
                }
                (Some(Expect::ParameterDescription), Msg::ParameterDescription(t)) => {
                    (QueryEvent::ParameterDescription(t), true)
                }
                (Some(Expect::Description), Msg::RowDescription(d)) => {
                    (core.row_description(d), true)
                }
                (Some(Expect::Description), Msg::NoData) => {
                    core.columns = None;
                    (QueryEvent::NoData, true)
                }
                (Some(Expect::Execution), Msg::CommandComplete(tag)) => {
                    (QueryEvent::CommandComplete(tag), true)
                }
                (Some(Expect::Execution), Msg::EmptyQuery) => (QueryEvent::EmptyQuery, true),
                (Some(Expect::Execution), Msg::PortalSuspended) => {
                    (QueryEvent::PortalSuspended, true)
                }
                (
                    Some(Expect::Execution),
                    msg @ (Msg::CopyIn(_) | Msg::CopyOut(_) | Msg::CopyBoth),
                ) => (core.copy_start(msg, frame.tag)?, false),
                _ => return Err(unexpected),
            };
            if step_done {
                expect.pop_front();
            }
            Ok(event)
        })
    }

    /// [`ExtendedQuery::handle`], except that a row answering an Execute goes to `on_row`
    /// and `None` is returned (see [`SimpleQuery::handle_rows`]).
    pub fn handle_rows(
        &mut self,
        frame: Frame,
        on_row: impl FnOnce(DataRow),
    ) -> Result<Option<QueryEvent>, ProtocolError> {
        if self.expect.front() == Some(&Expect::Execution) && self.core.is_fast_row(&frame) {
            return self.core.fast_row(frame).map(on_row).map(|()| None);
        }
        self.handle(frame).map(Some)
    }

    /// True once ReadyForQuery has been handled.
    pub fn is_done(&self) -> bool {
        self.core.phase == Phase::Done
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;
    use crate::frame::FrameReader;
    use crate::limits::Limits;

    fn frame(tag: u8, body: &[u8]) -> Frame {
        Frame::new(tag, Bytes::copy_from_slice(body))
    }

    /// RowDescription with `n` text columns named `c0`, `c1`, ...
    fn row_description(n: u16) -> Frame {
        let mut body = n.to_be_bytes().to_vec();
        for i in 0..n {
            body.extend_from_slice(format!("c{i}\0").as_bytes());
            body.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 25, 0xff, 0xff]);
            body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0, 0]);
        }
        frame(b'T', &body)
    }

    /// DataRow with the given text values.
    fn data_row(values: &[&str]) -> Frame {
        let mut body = u16::try_from(values.len()).unwrap().to_be_bytes().to_vec();
        for v in values {
            body.extend_from_slice(&i32::try_from(v.len()).unwrap().to_be_bytes());
            body.extend_from_slice(v.as_bytes());
        }
        frame(b'D', &body)
    }

    fn complete(tag: &str) -> Frame {
        frame(b'C', format!("{tag}\0").as_bytes())
    }

    fn error(message: &str) -> Frame {
        frame(b'E', format!("SERROR\0C42P01\0M{message}\0\0").as_bytes())
    }

    fn ready() -> Frame {
        frame(b'Z', b"I")
    }

    fn frames(stream: &[u8]) -> Vec<Frame> {
        let mut r = FrameReader::new(Limits::default());
        r.extend_from_slice(stream);
        let mut out = Vec::new();
        while let Some(f) = r.next_frame().unwrap() {
            out.push(f);
        }
        out
    }

    fn simple_err(frames: Vec<Frame>) -> String {
        let mut q = SimpleQuery::new();
        let (last, first) = frames.split_last().unwrap();
        for f in first {
            q.handle(f.clone()).unwrap();
        }
        let err = q.handle(last.clone()).unwrap_err();
        // Sticky: every later call gives the same error.
        assert_eq!(q.handle(ready()).unwrap_err(), err);
        assert!(!q.is_done());
        err.to_string()
    }

    /// `SELECT 1; SELECT 2`, captured from PostgreSQL 15.18.
    #[test]
    fn captured_multi_statement() {
        let mut q = SimpleQuery::new();
        let mut events = Vec::new();
        for f in frames(include_bytes!("../tests/data/multi.bin")) {
            assert!(!q.is_done());
            events.push(q.handle(f).unwrap());
        }
        assert!(q.is_done());
        assert_eq!(events.len(), 7);
        assert!(matches!(&events[0], QueryEvent::RowDescription(d) if d.fields.len() == 1));
        match &events[1] {
            QueryEvent::Row(row) => {
                assert_eq!(row.values().collect::<Vec<_>>(), vec![Some(&b"1"[..])]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(events[2], QueryEvent::CommandComplete("SELECT 1".into()));
        assert!(matches!(&events[3], QueryEvent::RowDescription(_)));
        assert!(matches!(&events[4], QueryEvent::Row(_)));
        assert_eq!(events[5], QueryEvent::CommandComplete("SELECT 1".into()));
        assert_eq!(events[6], QueryEvent::Ready(TransactionStatus::Idle));
    }

    /// Every captured simple-query reply passes the machine and ends in Ready.
    #[test]
    fn captured_replies_are_accepted() {
        let captures: [&[u8]; 8] = [
            include_bytes!("../tests/data/types.bin"),
            include_bytes!("../tests/data/notice.bin"),
            include_bytes!("../tests/data/empty.bin"),
            include_bytes!("../tests/data/copyout.bin"),
            include_bytes!("../tests/data/notify.bin"),
            include_bytes!("../tests/data/syntax.bin"),
            include_bytes!("../tests/data/raise.bin"),
            include_bytes!("../tests/data/relation.bin"),
        ];
        // Some captures hold several queries: a new machine starts after each Ready.
        for capture in captures {
            let mut q = SimpleQuery::new();
            let mut last = None;
            for f in frames(capture) {
                if q.is_done() {
                    q = SimpleQuery::new();
                }
                last = Some(q.handle(f).unwrap());
            }
            assert!(matches!(last, Some(QueryEvent::Ready(_))), "{last:?}");
            assert!(q.is_done());
        }
    }

    #[test]
    fn captured_copy_out() {
        let mut q = SimpleQuery::new();
        let events: Vec<QueryEvent> = frames(include_bytes!("../tests/data/copyout.bin"))
            .into_iter()
            .map(|f| q.handle(f).unwrap())
            .collect();
        assert!(matches!(events[0], QueryEvent::CopyOut(_)), "{events:?}");
        assert!(events.contains(&QueryEvent::CopyDone));
        assert!(events.iter().any(|e| matches!(e, QueryEvent::CopyData(_))));
    }

    #[test]
    fn data_without_description() {
        assert_eq!(
            simple_err(vec![data_row(&["1"])]),
            "server sent data (\"D\" message) without prior row description (\"T\" message)"
        );
        // A CommandComplete ends the description's statement.
        assert_eq!(
            simple_err(vec![
                row_description(1),
                data_row(&["1"]),
                complete("SELECT 1"),
                data_row(&["2"]),
            ]),
            "server sent data (\"D\" message) without prior row description (\"T\" message)"
        );
    }

    #[test]
    fn field_count() {
        assert_eq!(
            simple_err(vec![row_description(2), data_row(&["1"])]),
            "unexpected field count in \"D\" message"
        );
        assert_eq!(
            simple_err(vec![row_description(1), data_row(&["1", "2"])]),
            "unexpected field count in \"D\" message"
        );
    }

    /// libpq's order for a malformed DataRow: no description first (its body is not
    /// read), then the field count (read before the values), then the values.
    #[test]
    fn a_malformed_data_row_is_judged_in_libpqs_order() {
        let without =
            "server sent data (\"D\" message) without prior row description (\"T\" message)";
        let truncated = frame(b'D', b"\x00\x02\x00\x00\x00\x05ab");
        assert_eq!(simple_err(vec![truncated.clone()]), without);
        assert_eq!(simple_err(vec![frame(b'D', b"")]), without);
        assert_eq!(
            simple_err(vec![row_description(1), truncated.clone()]),
            "unexpected field count in \"D\" message"
        );
        assert_eq!(
            simple_err(vec![row_description(2), truncated]),
            "insufficient data in \"D\" message"
        );
        assert_eq!(
            simple_err(vec![row_description(1), frame(b'D', b"\x00")]),
            "insufficient data in \"D\" message"
        );
    }

    #[test]
    fn unexpected_messages() {
        let text = |tag: u8| {
            format!(
                "unexpected response from server; first received character was \"{}\"",
                char::from(tag)
            )
        };
        assert_eq!(simple_err(vec![frame(b'q', b"")]), text(b'q'));
        assert_eq!(
            simple_err(vec![frame(b'V', b"\xff\xff\xff\xff")]),
            text(b'V')
        );
        assert_eq!(simple_err(vec![frame(b'1', b"")]), text(b'1'));
        assert_eq!(simple_err(vec![frame(b'R', b"\0\0\0\0")]), text(b'R'));
        assert_eq!(simple_err(vec![frame(b'W', b"\0\0\0")]), text(b'W'));
        // Nothing belongs to the query after ReadyForQuery.
        let mut q = SimpleQuery::new();
        q.handle(ready()).unwrap();
        assert!(q.is_done());
        assert_eq!(
            q.handle(complete("SELECT 1")).unwrap_err().to_string(),
            text(b'C')
        );
    }

    #[test]
    fn decoding_errors_are_sticky() {
        assert_eq!(
            simple_err(vec![frame(b'Z', b"II")]),
            "message contents do not agree with length in message type \"Z\""
        );
    }

    #[test]
    fn after_an_error_skip_to_ready() {
        let mut q = SimpleQuery::new();
        assert!(
            matches!(q.handle(error("boom")).unwrap(), QueryEvent::Error(f) if f.message.as_deref() == Some("boom"))
        );
        assert_eq!(
            q.handle(data_row(&["1"])).unwrap(),
            QueryEvent::Discarded(b'D')
        );
        assert_eq!(
            q.handle(row_description(3)).unwrap(),
            QueryEvent::Discarded(b'T')
        );
        // Not even decoded, as libpq skips them.
        assert_eq!(
            q.handle(frame(b'D', b"\xff")).unwrap(),
            QueryEvent::Discarded(b'D')
        );
        assert_eq!(
            q.handle(complete("SELECT 1")).unwrap(),
            QueryEvent::Discarded(b'C')
        );
        assert!(matches!(
            q.handle(frame(b'N', b"SNOTICE\0Mhi\0\0")).unwrap(),
            QueryEvent::Notice(_)
        ));
        assert_eq!(
            q.handle(frame(b'S', b"a\0b\0")).unwrap(),
            QueryEvent::ParameterStatus {
                name: "a".to_owned(),
                value: "b".to_owned()
            }
        );
        assert_eq!(
            q.handle(frame(b'Z', b"E")).unwrap(),
            QueryEvent::Ready(TransactionStatus::Failed)
        );
        assert!(q.is_done());
    }

    #[test]
    fn empty_query_and_notifications() {
        let mut q = SimpleQuery::new();
        assert_eq!(q.handle(frame(b'I', b"")).unwrap(), QueryEvent::EmptyQuery);
        assert_eq!(
            q.handle(frame(b'A', b"\0\0\0\x07chan\0pay\0")).unwrap(),
            QueryEvent::Notification {
                process_id: 7,
                channel: "chan".to_owned(),
                payload: "pay".to_owned()
            }
        );
        assert_eq!(
            q.handle(frame(b'K', &[0; 8])).unwrap(),
            QueryEvent::Discarded(b'K')
        );
        assert_eq!(
            q.handle(frame(b'd', b"x")).unwrap(),
            QueryEvent::Discarded(b'd')
        );
        assert_eq!(
            q.handle(ready()).unwrap(),
            QueryEvent::Ready(TransactionStatus::Idle)
        );
    }

    #[test]
    fn copy_in_and_out() {
        let mut q = SimpleQuery::new();
        assert!(
            matches!(q.handle(frame(b'G', b"\0\0\x01\0\0")).unwrap(), QueryEvent::CopyIn(r) if r.column_formats == [0])
        );
        assert_eq!(
            q.handle(complete("COPY 2")).unwrap(),
            QueryEvent::CommandComplete("COPY 2".into())
        );
        assert!(matches!(
            q.handle(frame(b'H', b"\0\0\0")).unwrap(),
            QueryEvent::CopyOut(_)
        ));
        assert_eq!(
            q.handle(frame(b'd', b"1\n")).unwrap(),
            QueryEvent::CopyData(Bytes::copy_from_slice(b"1\n"))
        );
        assert_eq!(q.handle(frame(b'c', b"")).unwrap(), QueryEvent::CopyDone);
        assert_eq!(
            q.handle(complete("COPY 1")).unwrap(),
            QueryEvent::CommandComplete("COPY 1".into())
        );
        assert_eq!(
            q.handle(ready()).unwrap(),
            QueryEvent::Ready(TransactionStatus::Idle)
        );

        // Inside COPY OUT only data, its end, errors and asynchronous messages may come.
        assert_eq!(
            simple_err(vec![frame(b'H', b"\0\0\0"), row_description(1)]),
            "unexpected response from server; first received character was \"T\""
        );
    }

    fn extended(sent: &[Sent], frames: &[Frame]) -> Result<Vec<QueryEvent>, String> {
        let mut q = ExtendedQuery::new(sent);
        let mut events = Vec::new();
        for f in frames {
            match q.handle(f.clone()) {
                Ok(e) => events.push(e),
                Err(e) => {
                    assert_eq!(q.handle(ready()).unwrap_err(), e, "sticky");
                    return Err(e.to_string());
                }
            }
        }
        assert!(q.is_done());
        Ok(events)
    }

    fn unexpected(tag: u8) -> Result<Vec<QueryEvent>, String> {
        Err(format!(
            "unexpected response from server; first received character was \"{}\"",
            char::from(tag)
        ))
    }

    #[test]
    fn extended_select() {
        let events = extended(
            &[Sent::Parse, Sent::Bind, Sent::DescribePortal, Sent::Execute],
            &[
                frame(b'1', b""),
                frame(b'2', b""),
                row_description(2),
                data_row(&["a", "b"]),
                data_row(&["c", "d"]),
                complete("SELECT 2"),
                ready(),
            ],
        )
        .unwrap();
        assert_eq!(events[0], QueryEvent::ParseComplete);
        assert_eq!(events[1], QueryEvent::BindComplete);
        assert!(matches!(events[2], QueryEvent::RowDescription(_)));
        assert!(matches!(events[4], QueryEvent::Row(_)));
        assert_eq!(events[5], QueryEvent::CommandComplete("SELECT 2".into()));
        assert_eq!(events[6], QueryEvent::Ready(TransactionStatus::Idle));
    }

    #[test]
    fn extended_default_is_pqexecparams() {
        let mut q = ExtendedQuery::default();
        for f in [
            frame(b'1', b""),
            frame(b'2', b""),
            frame(b'n', b""),
            complete("INSERT 0 1"),
        ] {
            q.handle(f).unwrap();
        }
        assert_eq!(
            q.handle(ready()).unwrap(),
            QueryEvent::Ready(TransactionStatus::Idle)
        );
    }

    #[test]
    fn extended_describe_statement_and_close() {
        let events = extended(
            &[Sent::Parse, Sent::DescribeStatement, Sent::Close],
            &[
                frame(b'1', b""),
                frame(b't', b"\0\x01\0\0\0\x17"),
                frame(b'n', b""),
                frame(b'3', b""),
                ready(),
            ],
        )
        .unwrap();
        assert_eq!(
            events,
            vec![
                QueryEvent::ParseComplete,
                QueryEvent::ParameterDescription(vec![23]),
                QueryEvent::NoData,
                QueryEvent::CloseComplete,
                QueryEvent::Ready(TransactionStatus::Idle),
            ]
        );
    }

    #[test]
    fn a_memo_changes_no_event() {
        let select = |n: u16, tag: &str| {
            let values: Vec<String> = (0..n).map(|i| format!("v{i}")).collect();
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            vec![
                row_description(n),
                data_row(&values),
                complete(tag),
                ready(),
            ]
        };
        let replies = [
            select(2, "SELECT 1"),
            select(2, "SELECT 1"),
            select(2, "SELECT 1"),
            select(3, "SELECT 1"),
            select(2, "SELECT 2"),
            select(2, "SELECT 2"),
            // Bodies that fail to decode, twice: the same error each time.
            vec![frame(b'T', b"\0\x01"), ready()],
            vec![frame(b'T', b"\0\x01"), ready()],
            vec![frame(b'C', b"no nul"), ready()],
            vec![frame(b'C', b"no nul"), ready()],
            // Longer than what is remembered.
            select(300, "SELECT 1"),
            select(300, "SELECT 1"),
            select(2, "SELECT 1"),
            vec![error("boom"), ready()],
            select(2, "SELECT 1"),
        ];
        // Whether the memo holds a decoded value after each reply (from the second
        // time in a row a body comes; a failed decoding changes nothing; a body
        // longer than 4096 bytes is never kept).
        let descriptions = "FTTFFTTTTTFFFFT";
        let tags = "FTTTFTTTTTFTTTT";
        let mut memo = Memo::default();
        let (mut kept_descriptions, mut kept_tags) = (String::new(), String::new());
        for frames in &replies {
            let mut plain = SimpleQuery::new();
            let mut remembering = SimpleQuery::new();
            std::mem::swap(remembering.memo_mut(), &mut memo);
            for f in frames {
                assert_eq!(remembering.handle(f.clone()), plain.handle(f.clone()));
            }
            std::mem::swap(remembering.memo_mut(), &mut memo);
            let flag = |kept: bool| if kept { 'T' } else { 'F' };
            kept_descriptions.push(flag(memo.description.decoded.is_some()));
            kept_tags.push(flag(memo.tag.decoded.is_some()));
        }
        assert_eq!(
            (kept_descriptions.as_str(), kept_tags.as_str()),
            (descriptions, tags)
        );

        // The extended protocol's machine, the same.
        let mut memo = Memo::default();
        for _ in 0..3 {
            let frames = [
                frame(b'2', b""),
                row_description(1),
                data_row(&["1"]),
                complete("SELECT 1"),
                ready(),
            ];
            let sent = [Sent::Bind, Sent::DescribePortal, Sent::Execute];
            let mut plain = ExtendedQuery::new(&sent);
            let mut remembering = ExtendedQuery::new(&sent);
            std::mem::swap(remembering.memo_mut(), &mut memo);
            for f in frames {
                assert_eq!(remembering.handle(f.clone()), plain.handle(f));
            }
            std::mem::swap(remembering.memo_mut(), &mut memo);
        }
        assert!(memo.description.decoded.is_some() && memo.tag.decoded.is_some());
    }

    #[test]
    fn extended_batch_longer_than_the_inline_queue() {
        // Parse + 3 x DescribeStatement + 4 x Close: 11 replies due, 8 of them inline.
        let mut sent = vec![Sent::Parse];
        sent.extend([Sent::DescribeStatement; 3]);
        sent.extend([Sent::Close; 4]);
        let mut frames = vec![frame(b'1', b"")];
        for _ in 0..3 {
            frames.extend([frame(b't', b"\0\0"), frame(b'n', b"")]);
        }
        frames.extend(std::iter::repeat_with(|| frame(b'3', b"")).take(4));
        frames.push(ready());
        let events = extended(&sent, &frames).unwrap();
        assert_eq!(events.len(), 12);
        assert_eq!(events[7], QueryEvent::CloseComplete);
        assert_eq!(events[10], QueryEvent::CloseComplete);
        // One reply short: ReadyForQuery comes too early, whichever part it is due from.
        for short in [10, 5] {
            let mut cut = frames[..short].to_vec();
            cut.push(ready());
            assert_eq!(extended(&sent, &cut), unexpected(b'Z'), "{short}");
        }
        // The tenth reply is the wrong one.
        let mut wrong = frames.clone();
        wrong[9] = frame(b'2', b"");
        assert_eq!(extended(&sent, &wrong), unexpected(b'2'));
        // An error clears the whole queue, the part beyond the inline ones too.
        let mut failed = frames[..9].to_vec();
        failed.extend([error("boom"), ready()]);
        let events = extended(&sent, &failed).unwrap();
        assert!(matches!(events[9], QueryEvent::Error(_)));
    }

    #[test]
    fn extended_portal_suspended_and_empty_query() {
        let events = extended(
            &[Sent::Bind, Sent::DescribePortal, Sent::Execute],
            &[
                frame(b'2', b""),
                row_description(1),
                data_row(&["1"]),
                frame(b's', b""),
                ready(),
            ],
        )
        .unwrap();
        assert_eq!(events[3], QueryEvent::PortalSuspended);
        let events = extended(
            &[Sent::Parse, Sent::Bind, Sent::Execute],
            &[
                frame(b'1', b""),
                frame(b'2', b""),
                frame(b'I', b""),
                ready(),
            ],
        )
        .unwrap();
        assert_eq!(events[2], QueryEvent::EmptyQuery);
    }

    #[test]
    fn extended_order_rules() {
        let all = [Sent::Parse, Sent::Bind, Sent::DescribePortal, Sent::Execute];
        // BindComplete before ParseComplete.
        assert_eq!(extended(&all, &[frame(b'2', b"")]), unexpected(b'2'));
        // ReadyForQuery before every message has been answered.
        assert_eq!(
            extended(&all, &[frame(b'1', b""), ready()]),
            unexpected(b'Z')
        );
        // CommandComplete before the Describe's answer.
        assert_eq!(
            extended(
                &all,
                &[frame(b'1', b""), frame(b'2', b""), complete("SELECT 0")]
            ),
            unexpected(b'C')
        );
        // Rows without a RowDescription (NoData, or no Describe at all).
        let no_data = [
            frame(b'1', b""),
            frame(b'2', b""),
            frame(b'n', b""),
            data_row(&["1"]),
        ];
        assert_eq!(
            extended(&all, &no_data),
            Err(
                "server sent data (\"D\" message) without prior row description (\"T\" message)"
                    .to_owned()
            )
        );
        assert_eq!(
            extended(&[Sent::Execute], &[data_row(&["1"])]),
            Err(
                "server sent data (\"D\" message) without prior row description (\"T\" message)"
                    .to_owned()
            )
        );
        // Field count.
        let wrong = [
            frame(b'1', b""),
            frame(b'2', b""),
            row_description(2),
            data_row(&["1"]),
        ];
        assert_eq!(
            extended(&all, &wrong),
            Err("unexpected field count in \"D\" message".to_owned())
        );
        // A row after the Execute is answered.
        let late = [
            frame(b'1', b""),
            frame(b'2', b""),
            row_description(1),
            complete("SELECT 0"),
            data_row(&["1"]),
        ];
        assert_eq!(extended(&all, &late), unexpected(b'D'));
        // A second ParseComplete.
        assert_eq!(
            extended(&[Sent::Parse], &[frame(b'1', b""), frame(b'1', b"")]),
            unexpected(b'1')
        );
        // FunctionCallResponse has no place here.
        assert_eq!(
            extended(&all, &[frame(b'V', b"\xff\xff\xff\xff")]),
            unexpected(b'V')
        );
    }

    #[test]
    fn extended_error_skips_to_ready() {
        let events = extended(
            &[Sent::Parse, Sent::Bind, Sent::DescribePortal, Sent::Execute],
            &[
                error("relation \"nosuch\" does not exist"),
                frame(b'2', b""),
                frame(b'N', b"SNOTICE\0Mhi\0\0"),
                frame(b'Z', b"I"),
            ],
        )
        .unwrap();
        assert!(matches!(events[0], QueryEvent::Error(_)));
        assert_eq!(events[1], QueryEvent::Discarded(b'2'));
        assert!(matches!(events[2], QueryEvent::Notice(_)));
        assert_eq!(events[3], QueryEvent::Ready(TransactionStatus::Idle));
    }

    /// Feeds `frames` through `handle_rows`, rows turned back into events, stopping at the
    /// first error; `handle` must give the same.
    fn both_ways<M>(
        mut make: impl FnMut() -> M,
        handle: impl Fn(&mut M, Frame) -> Result<QueryEvent, ProtocolError>,
        handle_rows: impl Fn(
            &mut M,
            Frame,
            &mut Vec<QueryEvent>,
        ) -> Result<Option<QueryEvent>, ProtocolError>,
        frames: &[Frame],
    ) -> Result<Vec<QueryEvent>, String> {
        let mut run = |rows_way: bool| {
            let mut m = make();
            let mut events = Vec::new();
            for f in frames {
                if rows_way {
                    let mut rows = Vec::new();
                    let event =
                        handle_rows(&mut m, f.clone(), &mut rows).map_err(|e| e.to_string())?;
                    events.extend(rows);
                    events.extend(event);
                } else {
                    events.push(handle(&mut m, f.clone()).map_err(|e| e.to_string())?);
                }
            }
            Ok(events)
        };
        let (plain, rows) = (run(false), run(true));
        assert_eq!(plain, rows);
        rows
    }

    fn simple_both(frames: &[Frame]) -> Result<Vec<QueryEvent>, String> {
        both_ways(
            SimpleQuery::new,
            |m, f| m.handle(f),
            |m, f, rows| m.handle_rows(f, |r| rows.push(QueryEvent::Row(r))),
            frames,
        )
    }

    fn extended_both(sent: &[Sent], frames: &[Frame]) -> Result<Vec<QueryEvent>, String> {
        both_ways(
            || ExtendedQuery::new(sent),
            |m, f| m.handle(f),
            |m, f, rows| m.handle_rows(f, |r| rows.push(QueryEvent::Row(r))),
            frames,
        )
    }

    #[test]
    fn handle_rows_is_handle_with_rows_aside() {
        let ok = simple_both(&[
            row_description(2),
            data_row(&["1", "a"]),
            data_row(&["2", "b"]),
            complete("SELECT 2"),
            ready(),
        ])
        .unwrap();
        assert_eq!(ok.len(), 5);
        assert!(matches!(&ok[2], QueryEvent::Row(r) if r.values().next() == Some(Some(&b"2"[..]))));
        assert_eq!(
            simple_both(&[data_row(&["1"])]),
            Err(
                "server sent data (\"D\" message) without prior row description (\"T\" message)"
                    .to_owned()
            )
        );
        assert!(simple_both(&[row_description(2), data_row(&["1"])]).is_err());
        // Sticky: after the error, the next row gets the same error again.
        let mut q = SimpleQuery::new();
        assert!(q.handle_rows(data_row(&["1"]), |_| unreachable!()).is_err());
        assert_eq!(
            q.handle_rows(data_row(&["1"]), |_| unreachable!())
                .map_err(|e| e.to_string()),
            Err(
                "server sent data (\"D\" message) without prior row description (\"T\" message)"
                    .to_owned()
            )
        );
        // After an error, rows are discarded, not handed over.
        let after =
            simple_both(&[row_description(1), error("boom"), data_row(&["1"]), ready()]).unwrap();
        assert!(matches!(after[2], QueryEvent::Discarded(b'D')));

        let sent = [Sent::Parse, Sent::Bind, Sent::DescribePortal, Sent::Execute];
        let parse = frame(b'1', b"");
        let bind = frame(b'2', b"");
        let ok = extended_both(
            &sent,
            &[
                parse.clone(),
                bind.clone(),
                row_description(1),
                data_row(&["x"]),
                complete("SELECT 1"),
                ready(),
            ],
        )
        .unwrap();
        assert!(matches!(&ok[3], QueryEvent::Row(_)));
        // A row before the Execute's turn is refused the same way.
        assert!(extended_both(&sent, &[parse, row_description(1), data_row(&["x"])]).is_err());
        assert!(extended_both(&sent, &[data_row(&["x"])]).is_err());
    }
}
