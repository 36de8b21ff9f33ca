//! Query state machines: they check the order of the server's replies and turn them into
//! events.

use crate::backend::{DataRow, RowDescription, TransactionStatus};
use crate::error_fields::ErrorFields;
use crate::frame::Frame;
use crate::ProtocolError;

/// One step of a query's reply.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryEvent {
    /// The columns of the rows that follow.
    RowDescription(RowDescription),
    /// A row; its field count has been checked against the RowDescription.
    Row(DataRow),
    /// A statement finished, with its command tag.
    CommandComplete(String),
    /// The query string was empty.
    EmptyQuery,
    /// A statement failed; the server skips to ReadyForQuery.
    Error(ErrorFields),
    /// A notice (never an error).
    Notice(ErrorFields),
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
}

/// The simple-query protocol (`Q`): one machine per query sent. Errors are sticky.
#[derive(Debug, Default)]
pub struct SimpleQuery {
    columns: Option<usize>,
}

impl SimpleQuery {
    /// A machine for one query that has just been sent.
    pub fn new() -> Self {
        Self::default()
    }

    /// Handles one frame; returns the event it carries.
    pub fn handle(&mut self, frame: Frame) -> Result<QueryEvent, ProtocolError> {
        let _ = (frame, self.columns);
        todo!()
    }

    /// True once ReadyForQuery has been handled.
    pub fn is_done(&self) -> bool {
        todo!()
    }
}
