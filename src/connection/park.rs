//! An idle connection taken out of its runtime, so that the cluster can keep it and
//! resume it on whatever runtime runs its next operation.

use pgcluster_protocol::backend::TransactionStatus;
use pgcluster_protocol::frontend;

use super::session::Connection;
use crate::transport::ParkedStream;

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
