//! The `target_session_attrs` check of a server just connected to, libpq 18's way
//! (`CONNECTION_CHECK_TARGET` in fe-connect.c, unchanged since libpq 14): what the server
//! said about itself in ParameterStatus (`default_transaction_read_only`, `in_hot_standby`,
//! both reported by PostgreSQL 14 and later), else the answer to a query
//! (`SHOW transaction_read_only` or `SELECT pg_catalog.pg_is_in_recovery()`), decides
//! whether the connection is kept or the walk moves on to the next host.

use pgcluster_protocol::startup::Ready;

use super::attempt::ProbeOutcome;
use crate::conninfo::TargetSessionAttrs;

/// What the server has said about itself (libpq's `PGTernaryBool`s): `None` until it
/// reported the setting or answered a query.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ServerState {
    /// `default_transaction_read_only` is `on`.
    pub(crate) read_only: Option<bool>,
    /// `in_hot_standby` is `on` (or `pg_is_in_recovery()` is true).
    pub(crate) hot_standby: Option<bool>,
    /// The server is older than 9.0, which has no hot standby (`server_version`).
    pub(crate) before_9_0: bool,
}

impl ServerState {
    /// The state the startup exchange's ParameterStatus messages give.
    pub(crate) fn from_ready(ready: &Ready) -> Self {
        let mut state = Self::default();
        for (name, value) in ready.parameters.iter() {
            state.parameter(name, value);
        }
        state
    }

    /// One ParameterStatus (libpq's `pqSaveParameterStatus`: exactly `on` is yes).
    pub(crate) fn parameter(&mut self, name: &str, value: &str) {
        match name {
            "default_transaction_read_only" => self.read_only = Some(value == "on"),
            "in_hot_standby" => self.hot_standby = Some(value == "on"),
            "server_version" => {
                let major = value.split(|c: char| !c.is_ascii_digit()).next();
                self.before_9_0 = major
                    .and_then(|m| m.parse::<u32>().ok())
                    .is_some_and(|m| m < 9);
            }
            _ => {}
        }
    }

    /// The answer to `query`: its one row's first value (SQL NULL as empty).
    pub(crate) fn answer(&mut self, query: Query, value: &[u8]) {
        match query {
            // `on` proves one of the two is on, without saying which; libpq claims both.
            Query::TransactionReadOnly => {
                let on = value.starts_with(b"on");
                self.read_only = Some(on);
                self.hot_standby = Some(on);
            }
            Query::InRecovery => self.hot_standby = Some(value.starts_with(b"t")),
        }
    }
}

/// A query the check sends when the server has not said enough about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Query {
    /// `SHOW transaction_read_only` (`read-write`, `read-only`).
    TransactionReadOnly,
    /// `SELECT pg_catalog.pg_is_in_recovery()` (`primary`, `standby`, `prefer-standby`).
    InRecovery,
}

impl Query {
    /// The SQL sent.
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Self::TransactionReadOnly => "SHOW transaction_read_only",
            Self::InRecovery => "SELECT pg_catalog.pg_is_in_recovery()",
        }
    }

    /// How libpq's failure text names it (`"%s" failed`): without the schema.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::TransactionReadOnly => "SHOW transaction_read_only",
            Self::InRecovery => "SELECT pg_is_in_recovery()",
        }
    }
}

/// What the check concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The server will do: the connection is kept.
    Accept,
    /// Not the kind of server asked for: Terminate, close, next host.
    Reject(ProbeOutcome),
    /// Ask the server first.
    Ask(Query),
}

/// The check of `mode` (in the second pass of `prefer-standby`, every server will do).
pub(crate) fn check(mode: TargetSessionAttrs, second_pass: bool, state: &ServerState) -> Verdict {
    use TargetSessionAttrs as T;
    match mode {
        T::ReadWrite | T::ReadOnly => {
            let (Some(read_only), Some(hot_standby)) = (state.read_only, state.hot_standby) else {
                return Verdict::Ask(Query::TransactionReadOnly);
            };
            let read_only_server = read_only || hot_standby;
            match (mode, read_only_server) {
                (T::ReadWrite, true) => Verdict::Reject(ProbeOutcome::ReadOnly),
                (T::ReadOnly, false) => Verdict::Reject(ProbeOutcome::NotReadOnly),
                _ => Verdict::Accept,
            }
        }
        T::PreferStandby if second_pass => Verdict::Accept,
        T::Primary | T::Standby | T::PreferStandby => {
            let hot_standby = if state.before_9_0 {
                Some(false)
            } else {
                state.hot_standby
            };
            match (mode, hot_standby) {
                (_, None) => Verdict::Ask(Query::InRecovery),
                (T::Primary, Some(true)) => Verdict::Reject(ProbeOutcome::HotStandby),
                (T::Standby | T::PreferStandby, Some(false)) => {
                    Verdict::Reject(ProbeOutcome::NotHotStandby)
                }
                _ => Verdict::Accept,
            }
        }
        _ => Verdict::Accept,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TargetSessionAttrs as T;

    fn state(params: &[(&str, &str)]) -> ServerState {
        let mut s = ServerState::default();
        for (n, v) in params {
            s.parameter(n, v);
        }
        s
    }

    #[test]
    fn a_server_that_says_nothing_is_asked() {
        let silent = state(&[("server_version", "13.4")]);
        assert_eq!(check(T::Any, false, &silent), Verdict::Accept);
        for mode in [T::ReadWrite, T::ReadOnly] {
            assert_eq!(
                check(mode, false, &silent),
                Verdict::Ask(Query::TransactionReadOnly)
            );
        }
        for mode in [T::Primary, T::Standby, T::PreferStandby] {
            assert_eq!(check(mode, false, &silent), Verdict::Ask(Query::InRecovery));
        }
        // prefer-standby's second pass takes anything.
        assert_eq!(check(T::PreferStandby, true, &silent), Verdict::Accept);
        // Before 9.0 there is no hot standby: no query.
        let old = state(&[("server_version", "8.4.22")]);
        assert_eq!(check(T::Primary, false, &old), Verdict::Accept);
        assert_eq!(
            check(T::Standby, false, &old),
            Verdict::Reject(ProbeOutcome::NotHotStandby)
        );
        // One of the two reported is not enough for the read-only test.
        let half = state(&[("in_hot_standby", "off")]);
        assert_eq!(
            check(T::ReadWrite, false, &half),
            Verdict::Ask(Query::TransactionReadOnly)
        );
        assert_eq!(
            check(T::Primary, false, &half),
            Verdict::Accept,
            "in_hot_standby alone decides primary"
        );
    }

    #[test]
    fn what_postgresql_14_reports_decides_without_a_query() {
        let primary = state(&[
            ("default_transaction_read_only", "off"),
            ("in_hot_standby", "off"),
        ]);
        let standby = state(&[
            ("default_transaction_read_only", "off"),
            ("in_hot_standby", "on"),
        ]);
        let read_only_primary = state(&[
            ("default_transaction_read_only", "on"),
            ("in_hot_standby", "off"),
        ]);
        let rows = [
            (T::Any, [Verdict::Accept, Verdict::Accept, Verdict::Accept]),
            (
                T::ReadWrite,
                [
                    Verdict::Accept,
                    Verdict::Reject(ProbeOutcome::ReadOnly),
                    Verdict::Reject(ProbeOutcome::ReadOnly),
                ],
            ),
            (
                T::ReadOnly,
                [
                    Verdict::Reject(ProbeOutcome::NotReadOnly),
                    Verdict::Accept,
                    Verdict::Accept,
                ],
            ),
            (
                T::Primary,
                [
                    Verdict::Accept,
                    Verdict::Reject(ProbeOutcome::HotStandby),
                    Verdict::Accept,
                ],
            ),
            (
                T::Standby,
                [
                    Verdict::Reject(ProbeOutcome::NotHotStandby),
                    Verdict::Accept,
                    Verdict::Reject(ProbeOutcome::NotHotStandby),
                ],
            ),
            (
                T::PreferStandby,
                [
                    Verdict::Reject(ProbeOutcome::NotHotStandby),
                    Verdict::Accept,
                    Verdict::Reject(ProbeOutcome::NotHotStandby),
                ],
            ),
        ];
        for (mode, expected) in rows {
            for (server, want) in [&primary, &standby, &read_only_primary]
                .iter()
                .zip(expected)
            {
                assert_eq!(check(mode, false, server), want, "{mode} {server:?}");
            }
        }
        // Only exactly `on` is on.
        assert_eq!(state(&[("in_hot_standby", "On")]).hot_standby, Some(false));
    }

    #[test]
    fn answers_fill_in_the_state() {
        let mut s = ServerState::default();
        s.answer(Query::TransactionReadOnly, b"on");
        assert_eq!((s.read_only, s.hot_standby), (Some(true), Some(true)));
        s.answer(Query::TransactionReadOnly, b"off");
        assert_eq!((s.read_only, s.hot_standby), (Some(false), Some(false)));
        s.answer(Query::InRecovery, b"t");
        assert_eq!(s.hot_standby, Some(true));
        s.answer(Query::InRecovery, b"");
        assert_eq!(s.hot_standby, Some(false));
        assert_eq!(Query::InRecovery.label(), "SELECT pg_is_in_recovery()");
        assert_eq!(
            Query::InRecovery.sql(),
            "SELECT pg_catalog.pg_is_in_recovery()"
        );
    }
}
