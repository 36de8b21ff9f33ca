//! Waiting for LISTEN/NOTIFY notifications on an idle connection.

use std::time::{Duration, Instant};

use super::exchange::ReadError;
use super::session::{Connection, Notification, State};
use crate::driver::is_deadline;
use crate::engine::idle::{Idle, IdleEvent};
use crate::error::{Error, QueryError};
use crate::transport::WireError;

impl Connection {
    /// The next notification (`LISTEN` first): one already received, or one read from the
    /// socket within `timeout`; `Ok(None)` when none came in time. Notices and parameter
    /// changes arriving meanwhile are kept as during a query. Cancel safe: dropping the
    /// future (e.g. in `select!`) loses nothing (except while the rollback that a dropped
    /// transaction guard left pending is sent first). The server delivers notifications
    /// only between transactions: with autocommit off, `LISTEN` itself takes effect at
    /// commit.
    ///
    /// A server that ends the connection (e.g. `pg_terminate_backend`) makes this an error
    /// with its FATAL message and libpq's `server closed the connection unexpectedly`
    /// text; the connection is then broken.
    pub async fn wait_for_notification(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<Notification>, Error> {
        if let Some(first) = self.notifications.pop_front() {
            return Ok(Some(first));
        }
        // A dropped transaction guard's rollback goes first, so that no transaction stays
        // open while waiting.
        self.settle().await?;
        if !self.usable() {
            return Err(Error::Closed);
        }
        // A timeout too long to be an instant has no deadline.
        let deadline = Instant::now().checked_add(timeout);
        self.read_notification(deadline).await
    }

    /// Reads messages while idle until a notification arrives; `None` once `deadline` has
    /// passed (what was read until then is kept). What each message means is the engine's
    /// [`Idle`].
    async fn read_notification(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<Option<Notification>, Error> {
        let mut idle = Idle::default();
        loop {
            let frame = match self.next_frame_by(deadline).await {
                Ok(frame) => frame,
                Err(ReadError::Wire(WireError::Receive(e))) if is_deadline(&e) => return Ok(None),
                Err(e) => return Err(self.lose_idle(idle, &e.to_string())),
            };
            match idle.handle(&frame) {
                Ok(Some(IdleEvent::Notification {
                    process_id,
                    channel,
                    payload,
                })) => {
                    return Ok(Some(Notification {
                        process_id,
                        channel,
                        payload,
                    }))
                }
                Ok(Some(IdleEvent::Notice(notice))) => self.keep_notice(*notice),
                Ok(Some(IdleEvent::Parameter { name, value })) => self.set_parameter(name, value),
                Ok(None) => {}
                Err(e) => {
                    let reason = ReadError::Protocol(e).to_string();
                    return Err(self.lose_idle(idle, &reason));
                }
            }
        }
    }

    /// Marks the connection broken after it failed while idle: what the server said
    /// (`idle`), then why (`reason`).
    fn lose_idle(&mut self, idle: Idle, reason: &str) -> Error {
        let (message, fields) = idle.lost(reason);
        self.stream = None;
        self.state = State::Broken;
        Error::Query(QueryError {
            message,
            fields: fields.map(Box::new),
            connection_lost: true,
        })
    }
}

// The peer writes between the connection's waits, on the test's thread, each write before
// the wait that reads it (the socket's buffer holds it): so on either driver.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::tests::{connected, each_driver, msg};
    use crate::io_text::SERVER_CLOSED;
    use std::io::Write;

    #[test]
    fn notices_kept_then_notification_then_fatal_and_close() {
        each_driver(|kind| async move {
            let (mut conn, mut b) = connected(kind);
            assert_eq!(conn.wait_for_notification(Duration::ZERO).await, Ok(None));
            let mut bytes = msg(b'N', b"SNOTICE\0VNOTICE\0C00000\0Mhello\0\0");
            bytes.extend(msg(b'S', b"TimeZone\0UTC\0"));
            bytes.extend(msg(b'A', b"\0\0\0\x09chan\0payload\0"));
            // Half of a second notification: kept for the next call.
            let second = msg(b'A', b"\0\0\0\x0achan\0\0");
            bytes.extend_from_slice(&second[..3]);
            b.write_all(&bytes).unwrap();
            let n = conn
                .wait_for_notification(Duration::from_secs(60))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (n.process_id, n.channel.as_str(), n.payload.as_str()),
                (9, "chan", "payload")
            );
            assert_eq!(conn.take_notices()[0].message.as_deref(), Some("hello"));
            assert_eq!(conn.parameter("TimeZone"), Some("UTC"));
            assert_eq!(conn.wait_for_notification(Duration::ZERO).await, Ok(None));
            b.write_all(&second[3..]).unwrap();
            let n = conn
                .wait_for_notification(Duration::from_secs(60))
                .await
                .unwrap()
                .unwrap();
            assert_eq!((n.process_id, n.payload.as_str()), (10, ""));

            b.write_all(&msg(
                b'E',
                b"SFATAL\0VFATAL\0C57P01\0Mterminating connection due to administrator command\0\0",
            ))
            .unwrap();
            drop(b);
            let Err(Error::Query(e)) = conn.wait_for_notification(Duration::from_secs(60)).await
            else {
                panic!("expected the connection to be lost")
            };
            assert_eq!(
                e.message,
                format!(
                    "FATAL:  terminating connection due to administrator command\n{SERVER_CLOSED}"
                )
            );
            assert!(e.connection_lost);
            assert_eq!(conn.state(), State::Broken);
            assert_eq!(
                conn.wait_for_notification(Duration::ZERO).await,
                Err(Error::Closed)
            );
        });
    }
}
