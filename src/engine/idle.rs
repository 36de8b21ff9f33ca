//! What the server's messages mean while the connection is idle (waiting for a
//! notification), sans-IO: libpq's rules for input that comes outside a query.
//!
//! A notification is delivered. A notice and a parameter change are applied. An
//! ErrorResponse (typically the FATAL a server sends before it closes the connection) is
//! kept for the text of the loss that follows, as libpq keeps it as a notice. Anything
//! else is dropped, as libpq drops it after a warning. A message that does not parse loses
//! the connection.
//!
//! ```text
//! frame ──► Idle::handle ──► Ok(Some(IdleEvent::Notification { .. }))  deliver it
//!                            Ok(Some(IdleEvent::Notice(fields)))        keep it
//!                            Ok(Some(IdleEvent::Parameter { .. }))      set it
//!                            Ok(None)                                   kept or dropped
//!                            Err(violation)       the connection is lost: Idle::lost
//! ```

use pgcluster_protocol::backend::BackendMessage;
use pgcluster_protocol::error_fields::ErrorFields;
use pgcluster_protocol::frame::Frame;
use pgcluster_protocol::ProtocolError;

/// What an idle wait has kept so far: the ErrorResponses received.
#[derive(Debug, Default)]
pub(crate) struct Idle {
    /// libpq's texts of the ErrorResponses, one after the other.
    errors: String,
    /// The first ErrorResponse's fields.
    fields: Option<ErrorFields>,
}

/// A message to apply.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum IdleEvent {
    /// A NOTIFY: the wait is over.
    Notification {
        process_id: i32,
        channel: String,
        payload: String,
    },
    /// A NoticeResponse.
    Notice(Box<ErrorFields>),
    /// A ParameterStatus.
    Parameter { name: String, value: String },
}

impl Idle {
    /// What `frame` means. A message that does not parse is the violation; the connection
    /// is then lost ([`Idle::lost`]).
    pub(crate) fn handle(&mut self, frame: &Frame) -> Result<Option<IdleEvent>, ProtocolError> {
        Ok(match BackendMessage::parse(frame)? {
            BackendMessage::NotificationResponse {
                process_id,
                channel,
                payload,
            } => Some(IdleEvent::Notification {
                process_id,
                channel,
                payload,
            }),
            BackendMessage::NoticeResponse(notice) => Some(IdleEvent::Notice(Box::new(notice))),
            BackendMessage::ParameterStatus { name, value } => {
                Some(IdleEvent::Parameter { name, value })
            }
            BackendMessage::ErrorResponse(error) => {
                self.errors.push_str(&error.libpq_text(None));
                self.fields.get_or_insert(error);
                None
            }
            _ => None,
        })
    }

    /// The error of a connection lost while idle: the ErrorResponses' texts, then
    /// `reason` (libpq's text for the loss, with its newline); and the first
    /// ErrorResponse's fields.
    pub(crate) fn lost(self, reason: &str) -> (String, Option<ErrorFields>) {
        let mut message = self.errors;
        message.push_str(reason);
        (message, self.fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(tag: u8, body: &[u8]) -> Frame {
        Frame::new(tag, body.to_vec())
    }

    fn fields(severity: &str, code: &str, message: &str) -> Vec<u8> {
        let mut body = Vec::new();
        for (tag, value) in [(b'S', severity), (b'C', code), (b'M', message)] {
            body.push(tag);
            body.extend_from_slice(value.as_bytes());
            body.push(0);
        }
        body.push(0);
        body
    }

    #[test]
    fn a_notification_notices_and_parameters_are_applied() {
        let mut idle = Idle::default();
        let mut body = 42i32.to_be_bytes().to_vec();
        body.extend_from_slice(b"jobs\0done\0");
        assert_eq!(
            idle.handle(&frame(b'A', &body)),
            Ok(Some(IdleEvent::Notification {
                process_id: 42,
                channel: "jobs".to_owned(),
                payload: "done".to_owned(),
            }))
        );
        assert_eq!(
            idle.handle(&frame(b'S', b"TimeZone\0UTC\0")),
            Ok(Some(IdleEvent::Parameter {
                name: "TimeZone".to_owned(),
                value: "UTC".to_owned(),
            }))
        );
        match idle.handle(&frame(b'N', &fields("WARNING", "01000", "careful"))) {
            Ok(Some(IdleEvent::Notice(notice))) => {
                assert_eq!(notice.message.as_deref(), Some("careful"));
            }
            other => panic!("{other:?}"),
        }
        // Nothing was kept for a loss.
        assert_eq!(idle.lost("gone\n"), ("gone\n".to_owned(), None));
    }

    #[test]
    fn errors_are_kept_for_the_loss_and_other_messages_dropped() {
        let mut idle = Idle::default();
        let fatal = fields("FATAL", "57P01", "terminating connection");
        assert_eq!(idle.handle(&frame(b'E', &fatal)), Ok(None));
        assert_eq!(idle.handle(&frame(b'Z', b"I")), Ok(None));
        let second = fields("FATAL", "XX000", "and another");
        assert_eq!(idle.handle(&frame(b'E', &second)), Ok(None));
        let (message, first) = idle.lost("server closed the connection unexpectedly\n");
        assert_eq!(
            message,
            "FATAL:  terminating connection\nFATAL:  and another\n\
             server closed the connection unexpectedly\n"
        );
        assert_eq!(first.unwrap().code.as_deref(), Some("57P01"));
    }

    #[test]
    fn a_message_that_does_not_parse_is_the_violation() {
        let mut idle = Idle::default();
        // A NotificationResponse whose channel has no terminating NUL.
        let mut body = 7i32.to_be_bytes().to_vec();
        body.extend_from_slice(b"jobs");
        assert!(idle.handle(&frame(b'A', &body)).is_err());
    }
}
