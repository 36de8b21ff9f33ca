//! COPY on the blocking connection: the connection's COPY calls with the caller's
//! [`io::Write`] or [`io::Read`], run to their end by [`block_on`].

use std::io;

use super::connection::Connection;
use crate::connection::{QueryResult, Sink, Source};
use crate::driver::block_on;
use crate::error::Error;

impl Connection {
    /// Runs `COPY ... TO STDOUT` (simple query protocol) and returns the data the server
    /// sent, in the COPY format asked for.
    ///
    /// # Errors
    ///
    /// A server error is [`Error::Query`] (the connection stays usable).
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// let mut conn = cluster.connect(None)?;
    /// let csv = conn.copy_out("COPY (SELECT 1 AS n, 'a' AS s) TO STDOUT (FORMAT csv)")?;
    /// assert_eq!(csv, b"1,a\n");
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn copy_out(&mut self, sql: &str) -> Result<Vec<u8>, Error> {
        block_on(self.inner_mut().copy_out(sql))
    }

    /// Runs `COPY ... TO STDOUT`, writing the data to `writer` as it arrives (nothing is
    /// held in memory), then flushing it; the result's tag is `COPY <rows>`.
    ///
    /// # Errors
    ///
    /// A server error is [`Error::Query`]. When a write fails, the rest of the data is read
    /// and dropped (the server sends it all the same; the connection stays usable), and
    /// the error is `could not write the COPY data: ...`.
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// let mut conn = cluster.connect(None)?;
    /// let file = std::io::BufWriter::new(std::fs::File::create("/tmp/deploy_demo.csv")?);
    /// let result = conn.copy_out_to("COPY pg_database TO STDOUT (FORMAT csv)", file)?;
    /// println!("{:?} rows", result.rows_affected());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn copy_out_to<W>(&mut self, sql: &str, mut writer: W) -> Result<QueryResult, Error>
    where
        W: io::Write + Unpin + Send,
    {
        block_on(self.inner_mut().copy_out_into(sql, Sink::Std(&mut writer)))
    }

    /// Runs `COPY ... FROM STDIN` with `data` as its input; the result's tag is
    /// `COPY <rows>` (see [`QueryResult::rows_affected`]).
    ///
    /// # Errors
    ///
    /// Bad data is the server's error, [`Error::Query`] (e.g. `ERROR:  invalid input
    /// syntax for type integer: "x"` with its CONTEXT); the connection stays usable.
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// let mut conn = cluster.connect(None)?;
    /// conn.simple_query("CREATE TEMP TABLE t (n int, s text)")?;
    /// let result = conn.copy_in("COPY t FROM STDIN (FORMAT csv)", b"1,a\n2,b\n")?;
    /// assert_eq!(result.rows_affected(), Some(2));
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn copy_in(&mut self, sql: &str, data: &[u8]) -> Result<QueryResult, Error> {
        block_on(self.inner_mut().copy_in(sql, data))
    }

    /// Runs `COPY ... FROM STDIN` with the input read from `reader`, sent in chunks as it
    /// is read; the result's tag is `COPY <rows>`.
    ///
    /// # Errors
    ///
    /// Bad data is the server's error, [`Error::Query`]. When reading fails, the COPY is
    /// ended with CopyFail and the server's error (`ERROR:  COPY from stdin failed: error
    /// reading the COPY data: ...`) is returned; the connection stays usable.
    ///
    /// ```no_run
    /// let cluster = pgcluster::blocking::get_cluster("pgsql:///deploy_demo")?;
    /// let mut conn = cluster.connect(None)?;
    /// conn.simple_query("CREATE TEMP TABLE t (n int)")?;
    /// let input = std::io::Cursor::new("1\n2\n3\n");
    /// let result = conn.copy_in_from("COPY t FROM STDIN", input)?;
    /// assert_eq!(result.rows_affected(), Some(3));
    /// # Ok::<(), pgcluster::Error>(())
    /// ```
    pub fn copy_in_from<R>(&mut self, sql: &str, mut reader: R) -> Result<QueryResult, Error>
    where
        R: io::Read + Unpin + Send,
    {
        block_on(self.inner_mut().copy_in_with(sql, Source::Std(&mut reader)))
    }
}
