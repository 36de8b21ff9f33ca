//! The error type of the library, whose `Display` is rex.deploy's text, byte for byte.

use std::fmt;
#[cfg(feature = "testing")]
use std::sync::Arc;

use pgcluster_protocol::error_fields::ErrorFields;

use crate::compat::psycopg2::strip_severity;
use crate::compat::rex::RexSettingError;
use crate::compat::rex_error::rex_layout;
use crate::conninfo::ConnInfoError;
use crate::dbname::NameError;
pub use crate::engine::attempt::{ConnectError, Ping};

/// Everything that can go wrong. `Display` is what rex prints after `Error: `.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Opening a connection failed: `Failed to connect to the database server:` and libpq's
    /// message, indented.
    Connect(ConnectError),
    /// The server (or the connection) failed an operation: `Got an error from the database
    /// server:` and the message with its severity stripped, as psycopg2 does.
    Query(QueryError),
    /// The server refused to drop (rename, copy) a database because other sessions are
    /// connected to it (SQLSTATE 55006, `database "x" is being accessed by other users`):
    /// `Display` is exactly [`Error::Query`]'s for the same error; [`InUse::sessions`] are
    /// the sessions `pg_stat_activity` showed on it right after.
    InUse(Box<InUse>),
    /// A drain ([`DropOptions::drain`](crate::cluster::DropOptions::drain)) gave up: sessions
    /// were still connected to the database when its time was up, and `FORCE` was not
    /// asked for. The database was not dropped; [`AfterDrain`] says whether it allows
    /// connections again.
    Drain {
        /// The database.
        database: String,
        /// How long it waited.
        waited: std::time::Duration,
        /// The sessions still connected.
        sessions: Vec<Session>,
        /// What became of its `ALLOW_CONNECTIONS`.
        after: AfterDrain,
    },
    /// `get_cluster` was given a setting for another engine:
    /// `Expected a PostgreSQL database; got:` and the setting.
    NotPostgres {
        /// The setting as htsql renders it (password redacted).
        setting: String,
    },
    /// A rex/htsql setting that does not parse (htsql's text, no payload).
    RexSetting(RexSettingError),
    /// A libpq connection string that does not parse. Laid out as a connect failure, since
    /// that is where libpq reports it.
    ConnInfo(ConnInfoError),
    /// The connection was closed by `close()`, or is broken: lost, or left out of step by
    /// a query whose future was dropped half-way (psycopg2's `connection already closed`).
    Closed,
    /// No database setting was given (rex's text for a missing `db` setting).
    NoSetting,
    /// A database name refused before anything was sent (empty, over 63 bytes, NUL).
    InvalidName(NameError),
    /// `drop`, `overwrite` or `rename` was given no name, and the setting names no database
    /// (no URI path, no `dbname=`): refused before anything was sent. The default a
    /// connection would take (`PGDATABASE`, a service file, the user name) is never dropped,
    /// overwritten or renamed.
    DatabaseNotNamed {
        /// What was refused.
        action: Destructive,
        /// The database the default would have been, when it could be worked out.
        default: Option<String>,
    },
    /// The connection was lost after a `CREATE`/`DROP`/`ALTER DATABASE` was sent, so whether
    /// it took effect is unknown. It was not retried.
    OutcomeUnknown(Box<OutcomeUnknown>),
    /// The work was stopped by [`Interrupter::interrupt`](crate::cluster::Interrupter): a
    /// statement was cancelled, was refused before it was sent, or finished before the
    /// cancel took effect. Says what `pg_database` shows afterwards.
    Interrupted(Box<Interrupted>),
    /// An operation failed and left a database behind under a temporary name.
    LeftBehind {
        /// Why the operation failed.
        cause: Box<Error>,
        /// The database left behind.
        database: String,
    },
    /// The server is too old for an option given: refused after the connection told the
    /// server's version, before the statement was sent.
    ServerTooOld(ServerTooOld),
    /// The caller used a connection in a way that cannot work (never caused by the server).
    Misuse(Misuse),
    /// `COMMIT` was answered with `ROLLBACK`: a statement in the transaction had failed.
    CommitRolledBack,
    /// A local I/O operation failed (not the connection to the server).
    Io {
        /// What failed, e.g. `write the COPY data`.
        what: &'static str,
        /// The operating system's text.
        message: String,
    },
    /// The server answered something we cannot make sense of.
    Unexpected(String),
    /// A throwaway test server (feature `testing`) could not be set up or controlled: the
    /// testing layer's error, with its text.
    #[cfg(feature = "testing")]
    TestServer(TestServerError),
}

/// A throwaway test server's failure (feature `testing`), as [`Error::TestServer`] holds
/// it: the testing layer's own error (`pgcluster::testing::Error`), behind this wrapper so
/// that the library's error type does not depend on the layer above it. `Display` is that
/// error's text; [`source()`](std::error::Error::source) is the error itself (downcast it
/// to read its fields). Two are equal when their texts are.
#[cfg(feature = "testing")]
#[derive(Debug, Clone)]
pub struct TestServerError(Arc<dyn std::error::Error + Send + Sync>);

#[cfg(feature = "testing")]
impl TestServerError {
    /// Wraps the testing layer's error.
    pub(crate) fn new(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Arc::new(e))
    }
}

#[cfg(feature = "testing")]
impl fmt::Display for TestServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(feature = "testing")]
impl std::error::Error for TestServerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

#[cfg(feature = "testing")]
impl PartialEq for TestServerError {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.to_string() == other.to_string()
    }
}

#[cfg(feature = "testing")]
impl Eq for TestServerError {}

/// An operation that takes a database's name away: the ones [`Error::DatabaseNotNamed`]
/// refuses without a name. `Display` is the verb (`drop`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destructive {
    /// `Cluster::drop_database`, `Cluster::drop_database_with`.
    Drop,
    /// `Cluster::overwrite`.
    Overwrite,
    /// `Cluster::rename`.
    Rename,
}

impl Destructive {
    /// The verb's past participle (`dropped`).
    fn participle(self) -> &'static str {
        match self {
            Self::Drop => "dropped",
            Self::Overwrite => "overwritten",
            Self::Rename => "renamed",
        }
    }
}

impl fmt::Display for Destructive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Drop => "drop",
            Self::Overwrite => "overwrite",
            Self::Rename => "rename",
        })
    }
}

/// What became of a database's `ALLOW_CONNECTIONS` after a drain that gave up
/// ([`Error::Drain`]). `Display` is the end of that error's text.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterDrain {
    /// It was put back to true: connections to it are allowed again.
    AllowedAgain,
    /// It was false before the drain, and was left so.
    NotAllowedBefore,
    /// Putting it back to true failed: connections to it are still refused.
    StillRefused,
}

impl fmt::Display for AfterDrain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AllowedAgain => "connections to it are allowed again",
            Self::NotAllowedBefore => "it allowed no connections before, and still does not",
            Self::StillRefused => "connections to it are still refused: allowing them again failed",
        })
    }
}

/// How a connection was misused. `Display` is psycopg2's text where it has one.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misuse {
    /// Changing autocommit while a transaction is open.
    AutocommitInTransaction,
    /// Opening a transaction while one is open.
    TransactionAlreadyOpen,
    /// Running a statement prepared on another connection (whose name may stand for
    /// another statement on this one).
    ForeignStatement,
}

impl fmt::Display for Misuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AutocommitInTransaction => "set_session cannot be used inside a transaction",
            Self::TransactionAlreadyOpen => "a transaction is already open on this connection",
            Self::ForeignStatement => "the statement was prepared on another connection",
        })
    }
}

impl Error {
    /// A local I/O failure: `could not {what}: {error}`.
    pub(crate) fn io(what: &'static str, e: &std::io::Error) -> Self {
        Self::Io {
            what,
            message: e.to_string(),
        }
    }
}

impl Error {
    /// The server's SQLSTATE, when the error came from the server.
    pub fn sqlstate(&self) -> Option<&str> {
        self.server_error().and_then(|f| f.code.as_deref())
    }

    /// The server's error fields, when the error came from the server.
    pub fn server_error(&self) -> Option<&ErrorFields> {
        match self {
            Self::Connect(e) => e.fields.as_deref(),
            Self::Query(e) => e.fields.as_deref(),
            Self::InUse(e) => e.cause.fields.as_deref(),
            Self::OutcomeUnknown(e) => e.cause.fields.as_deref(),
            Self::LeftBehind { cause, .. } => cause.server_error(),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect(e) => {
                rex_layout(f, "Failed to connect to the database server:", &e.message)
            }
            Self::Query(e) => rex_layout(
                f,
                "Got an error from the database server:",
                strip_severity(&e.message),
            ),
            Self::InUse(e) => Self::Query(e.cause.clone()).fmt(f),
            Self::Drain {
                database,
                waited,
                sessions,
                after,
            } => write!(
                f,
                "database \"{}\" was not dropped: {} session{} still connected after {} s of \
                 waiting ({after})",
                database.escape_debug(),
                sessions.len(),
                if sessions.len() == 1 { "" } else { "s" },
                waited.as_secs()
            ),
            Self::NotPostgres { setting } => {
                rex_layout(f, "Expected a PostgreSQL database; got:", setting)
            }
            Self::RexSetting(e) => e.fmt(f),
            Self::ConnInfo(e) => rex_layout(
                f,
                "Failed to connect to the database server:",
                &e.to_string(),
            ),
            Self::Closed => f.write_str("connection already closed"),
            Self::NoSetting => f.write_str("Expected a PostgreSQL database; got:"),
            Self::InvalidName(e) => e.fmt(f),
            Self::DatabaseNotNamed { action, default } => {
                write!(
                    f,
                    "refusing to {action} without a name: the setting names no database, and the default "
                )?;
                if let Some(default) = default {
                    write!(f, "(\"{}\") ", default.escape_debug())?;
                }
                write!(
                    f,
                    "is never {}; give the name, or name the database in the setting \
                     (a URI path or dbname=)",
                    action.participle()
                )
            }
            Self::OutcomeUnknown(e) => e.fmt(f),
            Self::Interrupted(e) => e.fmt(f),
            Self::LeftBehind { cause, database } => write!(
                f,
                "{cause}\nThe database \"{}\" was left behind; drop it once it is not needed.",
                database.escape_debug()
            ),
            Self::ServerTooOld(e) => e.fmt(f),
            Self::Misuse(m) => m.fmt(f),
            Self::CommitRolledBack => f.write_str(
                "the transaction was rolled back, not committed: a statement in it had failed",
            ),
            Self::Io { what, message } => write!(f, "could not {what}: {message}"),
            Self::Unexpected(what) => f.write_str(what),
            #[cfg(feature = "testing")]
            Self::TestServer(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// `cause`, naming the database it left behind, if any.
    pub(crate) fn left_behind(cause: Error, database: Option<String>) -> Self {
        match database {
            Some(database) => Self::LeftBehind {
                cause: Box::new(cause),
                database,
            },
            None => cause,
        }
    }
}

impl From<NameError> for Error {
    fn from(e: NameError) -> Self {
        Self::InvalidName(e)
    }
}

impl From<ConnectError> for Error {
    fn from(e: ConnectError) -> Self {
        Self::Connect(e)
    }
}

impl From<QueryError> for Error {
    fn from(e: QueryError) -> Self {
        Self::Query(e)
    }
}

impl From<RexSettingError> for Error {
    fn from(e: RexSettingError) -> Self {
        Self::RexSetting(e)
    }
}

impl From<ConnInfoError> for Error {
    fn from(e: ConnInfoError) -> Self {
        Self::ConnInfo(e)
    }
}

/// A failed operation on an open connection: the text libpq's result carries
/// (`PQresultErrorMessage`), severity included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// The whole message, e.g. `ERROR:  database "x" does not exist\n`.
    pub message: String,
    /// The server's error, if there was one.
    pub fields: Option<Box<ErrorFields>>,
    /// True when the connection can no longer be used (psycopg2's `closed` = 2).
    pub connection_lost: bool,
}

/// The error of [`Error::InUse`]: the server's refusal and who was connected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InUse {
    /// The server's error, as [`Error::Query`] would hold it.
    pub cause: QueryError,
    /// The sessions connected to the database right after (may be empty: they had gone).
    pub sessions: Vec<Session>,
    /// Whether a pooler sits in front of the server: a connection through the cluster's
    /// setting reached a server process other than the one it was told of (PgBouncer and
    /// the other poolers hand out process ids of their own). The sessions from the
    /// pooler's address are then marked [`Session::pooler`].
    pub pooler: bool,
}

impl InUse {
    /// The sessions most likely the pooler's own server connections (see
    /// [`Session::pooler`]): a pooler keeps connections to the databases its clients used,
    /// idle, after the clients are gone.
    pub fn pooler_sessions(&self) -> impl Iterator<Item = &Session> {
        self.sessions.iter().filter(|s| s.pooler)
    }
}

/// A session connected to a database, as `pg_stat_activity` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Session {
    /// The server process (`pid`).
    pub pid: i32,
    /// The role (`usename`), when the reader may see it.
    pub user: Option<String>,
    /// `application_name` (empty when the client set none).
    pub application_name: String,
    /// The client's address (`client_addr`); `None` for a Unix socket.
    pub client_addr: Option<String>,
    /// When it connected (`backend_start`, the server's text).
    pub backend_start: Option<String>,
    /// Whether it comes from the address the pooler in front reaches the server from
    /// ([`InUse::pooler`]), and so is most likely one of the pooler's server connections
    /// (a Unix socket counts as one address). Always false in other errors.
    pub pooler: bool,
}

/// A DDL statement whose connection was lost after it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutcomeUnknown {
    /// The error the connection ended with.
    pub cause: QueryError,
    /// The statement sent.
    pub statement: String,
    /// The server it was sent to, as libpq names one in its messages: `host:port`, the
    /// host-list entry the connection had reached (`/socket/dir:port` for a socket).
    pub server: String,
    /// The database it acted on.
    pub database: String,
    /// Whether `pg_database` lists that database after reconnecting (`None`: could not
    /// reconnect to check).
    pub exists: Option<bool>,
}

impl fmt::Display for OutcomeUnknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        rex_layout(
            f,
            "Got an error from the database server:",
            strip_severity(&self.cause.message),
        )?;
        let name = self.database.escape_debug();
        write!(
            f,
            "\nThe connection to server \"{}\" was lost after this statement was sent, so its \
             outcome is unknown; it was not retried:\n    {}\n",
            self.server.escape_debug(),
            self.statement
        )?;
        match self.exists {
            Some(true) => write!(f, "After reconnecting, database \"{name}\" exists."),
            Some(false) => write!(f, "After reconnecting, database \"{name}\" does not exist."),
            None => f.write_str("Could not reconnect to check pg_database."),
        }
    }
}

/// An option a server is too old for, refused before the statement was sent.
///
/// `Display`, e.g. `CREATE DATABASE option ICU_RULES needs PostgreSQL 16 or later; the
/// server is PostgreSQL 15.14, and nothing was sent`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerTooOld {
    /// The statement's command: `CREATE DATABASE`.
    pub command: &'static str,
    /// The option, as the command spells it: `ICU_RULES`.
    pub option: &'static str,
    /// The first version that has it, as `server_version_num` (`160000`).
    pub needs: u32,
    /// The server's version, as `server_version_num` (`150014`).
    pub server_version_num: u32,
}

impl ServerTooOld {
    pub(crate) fn new(
        command: &'static str,
        option: &'static str,
        needs: u32,
        server_version_num: u32,
    ) -> Self {
        Self {
            command,
            option,
            needs,
            server_version_num,
        }
    }
}

/// A `server_version_num` as people write it: `15.14` from 15 on, `9.6.5` before; with
/// `release = false`, only the major version (`16`, `9.5`).
fn version_text(num: u32, release: bool) -> String {
    let (major, minor) = (num / 10_000, num % 10_000);
    match (major >= 10, release) {
        (true, true) => format!("{major}.{minor}"),
        (true, false) => major.to_string(),
        (false, true) => format!("{major}.{}.{}", minor / 100, minor % 100),
        (false, false) => format!("{major}.{}", minor / 100),
    }
}

impl fmt::Display for ServerTooOld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} option {} needs PostgreSQL {} or later; the server is PostgreSQL {}, and nothing was sent",
            self.command,
            self.option,
            version_text(self.needs, false),
            version_text(self.server_version_num, true)
        )
    }
}

/// How far an interrupted statement got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// The interrupt came first: the statement was never sent.
    NotStarted,
    /// The statement was sent and the server cancelled it (`57014`).
    Cancelled,
    /// The statement was sent and completed before the cancel took effect.
    Finished,
}

/// A statement stopped by an interrupt, and what `pg_database` shows once it ended.
///
/// `Display`, one line, e.g.
/// `interrupted: CREATE DATABASE "big3" was cancelled; pg_database shows no database "big3"`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Interrupted {
    /// What the statement does, e.g. `CREATE DATABASE "big3"`; `None` for a read of the
    /// catalog.
    pub action: Option<String>,
    /// The statement as it was, or would have been, sent.
    pub statement: String,
    /// How far it got.
    pub stage: Stage,
    /// The database `pg_database` was checked for after the statement ended (`None` for a
    /// read of the catalog, where nothing was checked).
    pub database: Option<String>,
    /// Whether `pg_database` lists `database` (`None`: not checked, or the check failed).
    pub exists: Option<bool>,
    /// A temporary database the interrupted operation had made and then dropped (an
    /// `overwrite`'s copy).
    pub dropped: Option<String>,
}

impl Interrupted {
    /// A read of the catalog (`exists`, `list`), stopped at `stage`.
    pub(crate) fn read(statement: &str, stage: Stage) -> Self {
        Self {
            action: None,
            statement: statement.to_owned(),
            stage,
            database: None,
            exists: None,
            dropped: None,
        }
    }
}

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let action = self.action.as_deref().unwrap_or("a query of pg_database");
        let stage = match self.stage {
            Stage::NotStarted => "was not started",
            Stage::Cancelled => "was cancelled",
            Stage::Finished => "finished before the cancel took effect",
        };
        write!(f, "interrupted: {action} {stage}")?;
        if let Some(database) = &self.database {
            let name = database.escape_debug();
            match self.exists {
                Some(true) => write!(f, "; pg_database shows database \"{name}\"")?,
                Some(false) => write!(f, "; pg_database shows no database \"{name}\"")?,
                None => write!(f, "; pg_database could not be read for \"{name}\"")?,
            }
        }
        if let Some(dropped) = &self.dropped {
            write!(
                f,
                "; the temporary database \"{}\" was dropped",
                dropped.escape_debug()
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_too_old_names_the_option_and_both_versions() {
        let e = Error::ServerTooOld(ServerTooOld::new(
            "CREATE DATABASE",
            "ICU_RULES",
            160_000,
            150_014,
        ));
        assert_eq!(
            e.to_string(),
            "CREATE DATABASE option ICU_RULES needs PostgreSQL 16 or later; the server is \
             PostgreSQL 15.14, and nothing was sent"
        );
        let old = ServerTooOld::new("CREATE DATABASE", "IS_TEMPLATE", 90_500, 90_424);
        assert_eq!(
            old.to_string(),
            "CREATE DATABASE option IS_TEMPLATE needs PostgreSQL 9.5 or later; the server is \
             PostgreSQL 9.4.24, and nothing was sent"
        );
    }

    #[test]
    fn a_drain_that_gave_up_says_what_became_of_its_connections() {
        let texts = [
            AfterDrain::AllowedAgain,
            AfterDrain::NotAllowedBefore,
            AfterDrain::StillRefused,
        ]
        .map(|after| {
            Error::Drain {
                database: "app\"x".to_owned(),
                waited: std::time::Duration::from_millis(30_400),
                sessions: Vec::new(),
                after,
            }
            .to_string()
        });
        let head = "database \"app\\\"x\" was not dropped: 0 sessions still connected after 30 s \
                    of waiting";
        assert_eq!(
            texts,
            [
                format!("{head} (connections to it are allowed again)"),
                format!("{head} (it allowed no connections before, and still does not)"),
                format!("{head} (connections to it are still refused: allowing them again failed)"),
            ]
        );
    }

    #[test]
    fn the_servers_fields_are_found_through_the_errors_that_wrap_them() {
        let mut fields = ErrorFields::default();
        fields.code = Some("57P01".to_owned());
        let cause = QueryError {
            message: "FATAL:  terminating connection due to administrator command\n".to_owned(),
            fields: Some(Box::new(fields)),
            connection_lost: true,
        };
        let unknown = Error::OutcomeUnknown(Box::new(OutcomeUnknown {
            cause: cause.clone(),
            statement: "DROP DATABASE \"x\";".to_owned(),
            server: "/tmp:5432".to_owned(),
            database: "x".to_owned(),
            exists: None,
        }));
        assert_eq!(unknown.sqlstate(), Some("57P01"));
        let left = Error::LeftBehind {
            cause: Box::new(Error::Query(cause)),
            database: "pgcluster_new_1_0_0000abcd".to_owned(),
        };
        assert_eq!(left.sqlstate(), Some("57P01"));
        assert_eq!(Error::Closed.sqlstate(), None);
    }

    fn connect(message: &str) -> String {
        Error::Connect(ConnectError::local(message.to_owned())).to_string()
    }

    fn query(message: &str) -> String {
        Error::Query(QueryError {
            message: message.to_owned(),
            fields: None,
            connection_lost: false,
        })
        .to_string()
    }

    #[test]
    fn connect_refused_layout_is_the_spec_text() {
        let libpq = "could not connect to server: Connection refused\n\tIs the server running on host \"127.0.0.1\" and accepting\n\tTCP/IP connections on port 2345?\n";
        assert_eq!(
            connect(libpq),
            "Failed to connect to the database server:\n    could not connect to server: Connection refused\n    \tIs the server running on host \"127.0.0.1\" and accepting\n    \tTCP/IP connections on port 2345?"
        );
    }

    #[test]
    fn query_error_strips_severity_once_and_keeps_empty_lines() {
        let raw = "ERROR:  first line\nsecond line\nDETAIL:  detail one\n\ndetail after blank\nHINT:  a hint\nCONTEXT:  some context\n";
        assert_eq!(
            query(raw),
            "Got an error from the database server:\n    first line\n    second line\n    DETAIL:  detail one\n\n    detail after blank\n    HINT:  a hint\n    CONTEXT:  some context"
        );
        assert_eq!(
            query("FATAL:  x\n"),
            "Got an error from the database server:\n    x"
        );
        // WARNING is kept; an 8-byte text is not stripped.
        assert_eq!(
            query("WARNING:  w\n"),
            "Got an error from the database server:\n    WARNING:  w"
        );
    }

    #[test]
    fn not_postgres_and_empty_payload() {
        let e = Error::NotPostgres {
            setting: "mysql:///deploy_demo".into(),
        };
        assert_eq!(
            e.to_string(),
            "Expected a PostgreSQL database; got:\n    mysql:///deploy_demo"
        );
        assert_eq!(connect(""), "Failed to connect to the database server:\n");
    }

    #[test]
    fn database_not_named_says_what_and_what_to_do() {
        let e = Error::DatabaseNotNamed {
            action: Destructive::Drop,
            default: Some("postgres".into()),
        };
        assert_eq!(
            e.to_string(),
            "refusing to drop without a name: the setting names no database, and the default \
             (\"postgres\") is never dropped; give the name, or name the database in the setting \
             (a URI path or dbname=)"
        );
        // The default can hold anything: escaped.
        let e = Error::DatabaseNotNamed {
            action: Destructive::Overwrite,
            default: Some("a\"b\n\x1b[31m".into()),
        };
        assert_eq!(
            e.to_string(),
            "refusing to overwrite without a name: the setting names no database, and the default \
             (\"a\\\"b\\n\\u{1b}[31m\") is never overwritten; give the name, or name the database \
             in the setting (a URI path or dbname=)"
        );
        let e = Error::DatabaseNotNamed {
            action: Destructive::Rename,
            default: None,
        };
        assert_eq!(
            e.to_string(),
            "refusing to rename without a name: the setting names no database, and the default \
             is never renamed; give the name, or name the database in the setting \
             (a URI path or dbname=)"
        );
    }
}
