//! The query calls: the simple query protocol, the extended one (one statement with text
//! parameters), and prepared statements. Each builds its messages into the connection's
//! output buffer and hands them to the exchange loop (`exchange`).

use pgcluster_protocol::frontend::{self, EncodeError};
use pgcluster_protocol::query::{ExtendedQuery, Sent, SimpleQuery};

use super::copy::CopyIo;
use super::exchange::{RowSink, Run};
use super::session::{Connection, QueryResult};
use crate::engine::exchange::Machine;
use crate::error::{Error, Misuse, QueryError};
use crate::rows::{Row, Rows};

impl Connection {
    /// Runs `sql` with the simple query protocol; one result per statement. A server
    /// error is [`Error::Query`] with libpq's text for it, and the connection stays usable.
    /// With autocommit off, `BEGIN` goes first when no transaction is open (see
    /// [`Connection::set_autocommit`]). `COPY ... FROM STDIN` is refused with CopyFail
    /// (use [`Connection::copy_in`]); `COPY ... TO STDOUT` data is dropped (use
    /// [`Connection::copy_out`]).
    ///
    /// Not cancel safe: if the future is dropped before it finishes (e.g. by a timeout),
    /// the connection counts as broken and later calls return [`Error::Closed`].
    pub async fn simple_query(&mut self, sql: &str) -> Result<Vec<QueryResult>, Error> {
        self.before_statement().await?;
        self.simple_query_with(sql, &mut CopyIo::Refuse).await
    }

    /// [`Connection::simple_query`] without autocommit's `BEGIN`, with `copy` answering
    /// any COPY.
    pub(super) async fn simple_query_with(
        &mut self,
        sql: &str,
        copy: &mut CopyIo<'_>,
    ) -> Result<Vec<QueryResult>, Error> {
        if !self.usable() {
            return Err(Error::Closed);
        }
        self.out.clear();
        frontend::query(sql, &mut self.out).map_err(encode_error)?;
        let mut run = Run::new(RowSink::Strings);
        self.exchange(
            sql,
            &mut Machine::Simple(SimpleQuery::new()),
            copy,
            &mut run,
        )
        .await?;
        Ok(run.take_results())
    }

    /// [`Connection::simple_query`] with each statement's rows kept compactly in one
    /// buffer ([`Rows`]) instead of a `String` per value: one result per statement.
    pub async fn simple_query_rows(&mut self, sql: &str) -> Result<Vec<Rows>, Error> {
        self.before_statement().await?;
        if !self.usable() {
            return Err(Error::Closed);
        }
        self.out.clear();
        frontend::query(sql, &mut self.out).map_err(encode_error)?;
        let mut run = Run::new(RowSink::Compact(Vec::new(), None));
        let mut machine = Machine::Simple(SimpleQuery::new());
        self.exchange(sql, &mut machine, &mut CopyIo::Refuse, &mut run)
            .await?;
        Ok(run.rows.into_compact())
    }

    /// Runs one statement with the extended query protocol (Parse, Bind, Describe,
    /// Execute, Sync), with `params` bound as text (`None` is SQL NULL) to `$1`, `$2`, ...
    /// Parameter types are left to the server to infer (use casts such as `$1::text`).
    pub async fn query(
        &mut self,
        sql: &str,
        params: &[Option<&str>],
    ) -> Result<QueryResult, Error> {
        let mut run = Run::new(RowSink::Strings);
        self.extended(None, sql, params, &mut run).await?;
        Ok(run.take_last())
    }

    /// [`Connection::query`] with the rows kept compactly in one buffer ([`Rows`])
    /// instead of a `String` per value.
    pub async fn query_rows(&mut self, sql: &str, params: &[Option<&str>]) -> Result<Rows, Error> {
        let mut run = Run::new(RowSink::Compact(Vec::new(), None));
        self.extended(None, sql, params, &mut run).await?;
        Ok(run.take_compact())
    }

    /// [`Connection::query`] with each row handed to `f` as it arrives and then dropped,
    /// so that memory stays constant however many rows there are. The result holds the
    /// columns and the command tag, and no rows. After a server error `f` sees no more
    /// rows; the rows it has seen stay seen.
    pub async fn query_each<F>(
        &mut self,
        sql: &str,
        params: &[Option<&str>],
        mut f: F,
    ) -> Result<QueryResult, Error>
    where
        F: FnMut(Row<'_>) + Send,
    {
        let mut run = Run::new(RowSink::Each(&mut f));
        self.extended(None, sql, params, &mut run).await?;
        Ok(run.take_last())
    }

    /// Prepares `sql` as a named statement of this connection (Parse, Sync), for
    /// [`Connection::query_prepared`]. It lasts as long as the connection.
    ///
    /// Not behind a pooler in transaction pooling (PgBouncer's `pool_mode = transaction`):
    /// the names (`pgcluster_0`, `pgcluster_1`, ... per connection) are the server
    /// connection's, which the pooler hands to other clients between transactions, so the
    /// statement may meet another client's of the same name (42P05, `already exists`) or
    /// be missing (26000, `does not exist`). [`Connection::query`] uses the unnamed
    /// statement, which works there; so does session pooling.
    pub async fn prepare(&mut self, sql: &str) -> Result<Statement, Error> {
        self.before_statement().await?;
        if !self.usable() {
            return Err(Error::Closed);
        }
        let name = format!("pgcluster_{}", self.prepared);
        self.out.clear();
        frontend::parse(&name, sql, &[], &mut self.out).map_err(|e| {
            self.out.clear();
            encode_error(e)
        })?;
        frontend::sync(&mut self.out);
        let mut run = Run::new(RowSink::Strings);
        let mut machine = Machine::Extended(ExtendedQuery::new(&[Sent::Parse]));
        self.exchange(sql, &mut machine, &mut CopyIo::Refuse, &mut run)
            .await?;
        self.prepared = self.prepared.saturating_add(1);
        Ok(Statement {
            name,
            sql: sql.to_owned(),
            connection: self.id,
        })
    }

    /// Runs a statement made by [`Connection::prepare`] on this connection (Bind,
    /// Describe, Execute, Sync, as libpq's `PQexecPrepared`), with `params` as text.
    /// A statement prepared on another connection is refused with
    /// [`Misuse::ForeignStatement`], before anything is sent.
    pub async fn query_prepared(
        &mut self,
        statement: &Statement,
        params: &[Option<&str>],
    ) -> Result<QueryResult, Error> {
        let mut run = Run::new(RowSink::Strings);
        self.execute_prepared(statement, params, &mut run).await?;
        Ok(run.take_last())
    }

    /// [`Connection::query_prepared`] with the rows kept compactly in one buffer
    /// ([`Rows`]) instead of a `String` per value.
    pub async fn query_prepared_rows(
        &mut self,
        statement: &Statement,
        params: &[Option<&str>],
    ) -> Result<Rows, Error> {
        let mut run = Run::new(RowSink::Compact(Vec::new(), None));
        self.execute_prepared(statement, params, &mut run).await?;
        Ok(run.take_compact())
    }

    async fn execute_prepared(
        &mut self,
        statement: &Statement,
        params: &[Option<&str>],
        run: &mut Run<'_>,
    ) -> Result<(), Error> {
        if statement.connection != self.id {
            return Err(Error::Misuse(Misuse::ForeignStatement));
        }
        self.extended(Some(&statement.name), &statement.sql, params, run)
            .await
    }

    /// One statement over the extended protocol: Parse (unless `statement` names a
    /// prepared one), Bind, Describe (portal), Execute, Sync. With autocommit off,
    /// `BEGIN` goes first when no transaction is open.
    async fn extended(
        &mut self,
        statement: Option<&str>,
        sql: &str,
        params: &[Option<&str>],
        run: &mut Run<'_>,
    ) -> Result<(), Error> {
        self.before_statement().await?;
        if !self.usable() {
            return Err(Error::Closed);
        }
        let values: Vec<Option<&[u8]>> = params.iter().map(|p| p.map(str::as_bytes)).collect();
        self.out.clear();
        let parse = match statement {
            Some(_) => Ok(()),
            None => frontend::parse("", sql, &[], &mut self.out),
        };
        parse
            .and_then(|()| {
                let name = statement.unwrap_or_default();
                frontend::bind("", name, &[], &values, &[], &mut self.out)
            })
            .and_then(|()| frontend::describe(frontend::Target::Portal, "", &mut self.out))
            .and_then(|()| frontend::execute("", 0, &mut self.out))
            .map_err(|e| {
                self.out.clear();
                encode_error(e)
            })?;
        frontend::sync(&mut self.out);
        let machine = match statement {
            Some(_) => ExtendedQuery::new(&[Sent::Bind, Sent::DescribePortal, Sent::Execute]),
            None => ExtendedQuery::default(),
        };
        let mut machine = Machine::Extended(machine);
        self.exchange(sql, &mut machine, &mut CopyIo::Refuse, run)
            .await
    }
}

/// The query text could not be encoded (e.g. it contains a NUL): nothing was sent.
fn encode_error(e: EncodeError) -> Error {
    Error::Query(QueryError {
        message: format!("{e}\n"),
        fields: None,
        connection_lost: false,
    })
}

/// A statement prepared by [`Connection::prepare`](crate::doc_api::Connection::prepare),
/// valid on that connection only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The server-side name, `pgcluster_<n>`.
    name: String,
    /// Its text, for the position marker of an error's text.
    sql: String,
    /// The connection it was prepared on (its `id`).
    connection: u64,
}

impl Statement {
    /// The name the server knows it by.
    pub fn name(&self) -> &str {
        &self.name
    }
}
