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
    /// `None` (and the connection closed) otherwise. Notices and notifications not taken
    /// are dropped: a pooled connection's next user did not ask for them, and they must
    /// not pile up in a Cluster's idle connections.
    pub(crate) fn park(mut self) -> Option<ParkedConnection> {
        if !self.usable()
            || self.transaction_status != TransactionStatus::Idle
            || self.reader.buffered() != 0
        {
            return None;
        }
        self.notices.clear();
        self.notifications.clear();
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

#[cfg(test)]
mod tests {
    use crate::connection::tests::{connected, each_driver, msg};
    use std::io::Write;

    /// A parked connection keeps no notice or notification for its next user: a Cluster's
    /// idle connections do not pile them up (8000 `drop --if-exists` left 0.72 KB each).
    #[test]
    fn parking_drops_what_was_not_taken() {
        each_driver(|kind| async move {
            let (mut conn, mut b) = connected(kind);
            let mut reply = Vec::new();
            for _ in 0..3 {
                reply.extend(msg(b'N', b"SNOTICE\0C00000\0Mskipping\0\0"));
                reply.extend(msg(b'A', b"\0\0\0\x09chan\0payload\0"));
            }
            reply.extend(msg(b'C', b"DROP DATABASE\0"));
            reply.extend(msg(b'Z', b"I"));
            b.write_all(&reply).unwrap();
            conn.simple_query("drop database if exists x")
                .await
                .unwrap();
            assert_eq!((conn.notices.len(), conn.notifications.len()), (3, 3));
            let mut conn = conn.park().unwrap().resume().unwrap();
            assert!(conn.take_notices().is_empty());
            assert!(conn.take_notifications().is_empty());
            assert_eq!(
                (conn.notices_dropped(), conn.notifications_dropped()),
                (0, 0)
            );
        });
    }
}
