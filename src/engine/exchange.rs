//! One query's replies, sans-IO: which protocol machine checks them, what a reply that
//! breaks the protocol does (libpq skips to ReadyForQuery), and when the query is over.
//!
//! The connection reads the frames and applies what [`Exchange::handle`] returns to the
//! result it builds; the rules of the exchange are here, tested with made-up frames.
//!
//! ```text
//! frame ──► Exchange::handle ──► Step::Nothing        (a row went to on_row)
//!                               Step::Event(event)    (a result, error, notice, COPY, ...)
//!                               Step::Violation(text) (then skip to ReadyForQuery)
//!                               Step::Over { .. }     (ReadyForQuery: done)
//! ```

use pgcluster_protocol::backend::DataRow;
use pgcluster_protocol::backend::TransactionStatus;
use pgcluster_protocol::frame::Frame;
use pgcluster_protocol::query::{ExtendedQuery, Memo, QueryEvent, SimpleQuery};

/// The protocol machine that checks a query's replies.
#[derive(Debug)]
pub(crate) enum Machine {
    /// A Query message's replies.
    Simple(SimpleQuery),
    /// An extended-protocol batch's replies (ending in Sync).
    Extended(ExtendedQuery),
}

impl Machine {
    fn memo_mut(&mut self) -> &mut Memo {
        match self {
            Self::Simple(m) => m.memo_mut(),
            Self::Extended(m) => m.memo_mut(),
        }
    }

    fn handle_rows(
        &mut self,
        frame: Frame,
        on_row: impl FnOnce(DataRow),
    ) -> Result<Option<QueryEvent>, pgcluster_protocol::ProtocolError> {
        match self {
            Self::Simple(m) => m.handle_rows(frame, on_row),
            Self::Extended(m) => m.handle_rows(frame, on_row),
        }
    }
}

/// What one reply means for the query.
#[derive(Debug)]
pub(crate) enum Step {
    /// Nothing to apply: a row went to `on_row`, or a reply after a violation was skipped.
    Nothing,
    /// A reply to apply: a result's columns, rows or tag, an error, a notice, a parameter, a
    /// notification, COPY.
    Event(QueryEvent),
    /// The reply broke the protocol: libpq's text for it, with its newline. The replies up
    /// to ReadyForQuery are skipped ([`Step::Nothing`]).
    Violation(String),
    /// ReadyForQuery: the query is over.
    Over {
        /// The transaction status it carried; none after a violation, or when it is itself
        /// malformed.
        status: Option<TransactionStatus>,
        /// A malformed ReadyForQuery's violation: it still ends the query (libpq goes
        /// idle).
        violation: Option<String>,
    },
}

/// One query's replies, frame by frame. It borrows the machine (which is large: a move
/// would be a `memcpy` per query).
#[derive(Debug)]
pub(crate) struct Exchange<'m> {
    machine: &'m mut Machine,
    /// A reply broke the protocol: skipping to ReadyForQuery.
    skipping: bool,
}

impl<'m> Exchange<'m> {
    /// The replies of a query checked by `machine`, which decodes with `memo`: what the
    /// connection remembers from earlier replies (columns, tags), taken (left empty) until
    /// [`Exchange::finish`] gives it back.
    pub(crate) fn new(machine: &'m mut Machine, memo: &mut Memo) -> Self {
        std::mem::swap(machine.memo_mut(), memo);
        Self {
            machine,
            skipping: false,
        }
    }

    /// The next reply. A row goes to `on_row` (rows are most of a reply, and a
    /// [`QueryEvent`] is large to move).
    pub(crate) fn handle(&mut self, frame: Frame, on_row: impl FnOnce(DataRow)) -> Step {
        let ready = frame.tag == b'Z';
        if self.skipping {
            if !ready {
                return Step::Nothing;
            }
            return Step::Over {
                status: None,
                violation: None,
            };
        }
        match self.machine.handle_rows(frame, on_row) {
            Ok(None) => Step::Nothing,
            Ok(Some(QueryEvent::Ready(status))) => Step::Over {
                status: Some(status),
                violation: None,
            },
            Ok(Some(event)) => Step::Event(event),
            Err(e) if ready => Step::Over {
                status: None,
                violation: Some(format!("{e}\n")),
            },
            Err(e) => {
                self.skipping = true;
                Step::Violation(format!("{e}\n"))
            }
        }
    }

    /// Gives back into `memo` what the connection remembers, with what these replies
    /// added.
    pub(crate) fn finish(self, memo: &mut Memo) {
        std::mem::swap(self.machine.memo_mut(), memo);
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;
    use pgcluster_protocol::backend::FieldDescription;
    use pgcluster_protocol::query::Sent;

    fn frame(tag: u8, body: &[u8]) -> Frame {
        Frame::new(tag, body.to_vec())
    }

    fn row_description(name: &str) -> Frame {
        let mut body = 1u16.to_be_bytes().to_vec();
        body.extend_from_slice(name.as_bytes());
        body.push(0);
        body.extend_from_slice(&0u32.to_be_bytes()); // table
        body.extend_from_slice(&0u16.to_be_bytes()); // column
        body.extend_from_slice(&23u32.to_be_bytes()); // int4
        body.extend_from_slice(&4i16.to_be_bytes());
        body.extend_from_slice(&(-1i32).to_be_bytes());
        body.extend_from_slice(&0u16.to_be_bytes()); // text
        frame(b'T', &body)
    }

    fn data_row(value: &[u8]) -> Frame {
        let mut body = 1u16.to_be_bytes().to_vec();
        body.extend_from_slice(&i32::try_from(value.len()).unwrap().to_be_bytes());
        body.extend_from_slice(value);
        frame(b'D', &body)
    }

    fn simple() -> Machine {
        Machine::Simple(SimpleQuery::new())
    }

    #[test]
    fn a_select_gives_its_columns_rows_tag_and_status() {
        let (mut machine, mut memo) = (simple(), Memo::default());
        let mut x = Exchange::new(&mut machine, &mut memo);
        let mut rows = Vec::new();
        let step = x.handle(row_description("n"), |_| unreachable!());
        let Step::Event(QueryEvent::RowDescription(d)) = step else {
            panic!("{step:?}")
        };
        let names: Vec<&str> = d
            .fields
            .iter()
            .map(|f: &FieldDescription| f.name.as_str())
            .collect();
        assert_eq!(names, ["n"]);
        for v in [&b"1"[..], b"2"] {
            let step = x.handle(data_row(v), |r| {
                rows.push(r.values().next().unwrap().unwrap().to_vec())
            });
            assert!(matches!(step, Step::Nothing), "{step:?}");
        }
        assert_eq!(rows, [b"1".to_vec(), b"2".to_vec()]);
        let step = x.handle(frame(b'C', b"SELECT 2\0"), |_| unreachable!());
        assert!(
            matches!(step, Step::Event(QueryEvent::CommandComplete(ref t)) if &**t == "SELECT 2"),
            "{step:?}"
        );
        let step = x.handle(frame(b'Z', b"T"), |_| unreachable!());
        assert!(
            matches!(
                step,
                Step::Over {
                    status: Some(TransactionStatus::InTransaction),
                    violation: None
                }
            ),
            "{step:?}"
        );
    }

    #[test]
    fn after_a_violation_replies_are_skipped_to_ready_for_query() {
        let (mut machine, mut memo) = (simple(), Memo::default());
        let mut x = Exchange::new(&mut machine, &mut memo);
        // A row before any RowDescription breaks the protocol.
        let Step::Violation(text) = x.handle(data_row(b"1"), |_| unreachable!()) else {
            panic!("a violation")
        };
        assert!(text.ends_with('\n') && text.len() > 1, "{text:?}");
        // Everything up to ReadyForQuery is skipped, even what would be valid.
        for f in [
            row_description("n"),
            frame(b'C', b"SELECT 0\0"),
            frame(b'E', b""),
        ] {
            assert!(matches!(x.handle(f, |_| unreachable!()), Step::Nothing));
        }
        // ReadyForQuery ends it; its status is not read.
        let step = x.handle(frame(b'Z', b"I"), |_| unreachable!());
        assert!(
            matches!(
                step,
                Step::Over {
                    status: None,
                    violation: None
                }
            ),
            "{step:?}"
        );
    }

    #[test]
    fn a_malformed_ready_for_query_still_ends_the_query() {
        let (mut machine, mut memo) = (simple(), Memo::default());
        let mut x = Exchange::new(&mut machine, &mut memo);
        let step = x.handle(frame(b'Z', b"?"), |_| unreachable!());
        let Step::Over {
            status: None,
            violation: Some(text),
        } = step
        else {
            panic!("{step:?}")
        };
        assert!(text.ends_with('\n'), "{text:?}");
    }

    #[test]
    fn the_memo_goes_in_and_comes_back_with_what_the_replies_added() {
        // One query's columns, decoded with `memo` (which comes back updated).
        let columns = |memo: &mut Memo| {
            let mut machine = simple();
            let mut x = Exchange::new(&mut machine, memo);
            let Step::Event(QueryEvent::RowDescription(d)) = x.handle(row_description("n"), |_| {})
            else {
                panic!("columns")
            };
            x.handle(frame(b'C', b"SELECT 0\0"), |_| {});
            assert!(matches!(
                x.handle(frame(b'Z', b"I"), |_| {}),
                Step::Over { .. }
            ));
            x.finish(memo);
            d
        };
        let mut memo = Memo::default();
        let _first = columns(&mut memo);
        let second = columns(&mut memo);
        let third = columns(&mut memo);
        // The same columns again: shared with the memo, not decoded anew.
        assert!(std::sync::Arc::ptr_eq(&second, &third));
        // Without the memo they are decoded anew.
        let fresh = columns(&mut Memo::default());
        assert!(!std::sync::Arc::ptr_eq(&third, &fresh));
    }

    #[test]
    fn an_extended_batch_reports_its_steps_and_rows() {
        let mut machine = Machine::Extended(ExtendedQuery::new(&[
            Sent::Bind,
            Sent::DescribePortal,
            Sent::Execute,
        ]));
        let mut memo = Memo::default();
        let mut x = Exchange::new(&mut machine, &mut memo);
        assert!(matches!(
            x.handle(frame(b'2', b""), |_| unreachable!()),
            Step::Event(QueryEvent::BindComplete)
        ));
        assert!(matches!(
            x.handle(row_description("n"), |_| unreachable!()),
            Step::Event(QueryEvent::RowDescription(_))
        ));
        let mut n = 0;
        assert!(matches!(
            x.handle(data_row(b"7"), |_| n += 1),
            Step::Nothing
        ));
        assert_eq!(n, 1);
        assert!(matches!(
            x.handle(frame(b'C', b"SELECT 1\0"), |_| unreachable!()),
            Step::Event(QueryEvent::CommandComplete(_))
        ));
        assert!(matches!(
            x.handle(frame(b'Z', b"I"), |_| unreachable!()),
            Step::Over {
                status: Some(TransactionStatus::Idle),
                violation: None
            }
        ));
    }
}
