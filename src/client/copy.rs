//! COPY out (`COPY ... TO STDOUT`) and in (`COPY ... FROM STDIN`), over the simple query
//! protocol as psycopg2's `copy_expert`: CopyData chunks, then CopyDone, or CopyFail when
//! the data cannot be read.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use pgcluster_protocol::frontend;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};

use crate::blocking;
use crate::connect::{send_error_text, SERVER_CLOSED};
use crate::connection::{Connection, QueryResult, COPY_IN_REFUSED};
use crate::error::Error;

/// Size of the CopyData messages sent by `copy_in`.
const CHUNK: usize = 64 * 1024;

/// What a query does with COPY: refuse COPY FROM STDIN and drop COPY TO STDOUT data (a
/// plain query), send data from a reader, or collect the data sent.
pub(crate) enum CopyIo<'a> {
    /// CopyFail for COPY FROM STDIN; COPY TO STDOUT data dropped.
    Refuse,
    /// The data for the first COPY FROM STDIN (later ones are refused).
    In(Option<&'a mut (dyn AsyncRead + Unpin + Send + 'a)>),
    /// Where COPY TO STDOUT data goes.
    Out(&'a mut Vec<u8>),
}

impl CopyIo<'_> {
    /// One CopyData message of COPY TO STDOUT.
    pub(crate) fn receive(&mut self, data: &[u8]) {
        if let Self::Out(buffer) = self {
            buffer.extend_from_slice(data);
        }
    }
}

impl Connection {
    /// Answers CopyInResponse: the reader's data as CopyData messages then CopyDone, or
    /// CopyFail (when there is no reader, or reading failed). `Err` is the text of a failed
    /// write: the connection is then lost.
    pub(crate) async fn send_copy_in(&mut self, copy: &mut CopyIo<'_>) -> Result<(), String> {
        let source = match copy {
            CopyIo::In(source) => source.take(),
            _ => None,
        };
        self.out.clear();
        let result = self.send_copy_in_inner(source).await;
        self.out.clear();
        result
    }

    async fn send_copy_in_inner(
        &mut self,
        source: Option<&mut (dyn AsyncRead + Unpin + Send + '_)>,
    ) -> Result<(), String> {
        let Some(stream) = self.stream.as_mut() else {
            return Err(SERVER_CLOSED.to_owned());
        };
        let Some(source) = source else {
            copy_fail(COPY_IN_REFUSED, &mut self.out);
            return stream
                .write_all(&self.out)
                .await
                .map_err(|e| send_error_text(&e));
        };
        let mut chunk = vec![0u8; CHUNK];
        loop {
            match source.read(&mut chunk).await {
                Ok(0) => {
                    frontend::copy_done(&mut self.out);
                    break;
                }
                Ok(n) => {
                    let data = chunk.get(..n).unwrap_or_default();
                    if let Err(e) = frontend::copy_data(data, &mut self.out) {
                        copy_fail(&e.to_string(), &mut self.out);
                        break;
                    }
                    stream
                        .write_all(&self.out)
                        .await
                        .map_err(|e| send_error_text(&e))?;
                    self.out.clear();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    copy_fail(&format!("error reading the COPY data: {e}"), &mut self.out);
                    break;
                }
            }
        }
        stream
            .write_all(&self.out)
            .await
            .map_err(|e| send_error_text(&e))
    }

    /// Runs `COPY ... TO STDOUT` (simple query protocol) and returns the data the server
    /// sent, in the COPY format asked for. A server error is [`Error::Query`].
    pub async fn copy_out(&mut self, sql: &str) -> Result<Vec<u8>, Error> {
        self.before_statement().await?;
        let mut data = Vec::new();
        self.simple_query_with(sql, &mut CopyIo::Out(&mut data))
            .await?;
        Ok(data)
    }

    /// Runs `COPY ... FROM STDIN` with `data` as its input; the result's tag is
    /// `COPY <rows>` (see [`QueryResult::rows_affected`]). Bad data is the server's error
    /// (e.g. `ERROR:  invalid input syntax for type integer: "x"` with its CONTEXT).
    pub async fn copy_in(&mut self, sql: &str, data: &[u8]) -> Result<QueryResult, Error> {
        self.copy_in_from(sql, data).await
    }

    /// Runs `COPY ... FROM STDIN` with the input read from `reader`, sent in chunks as it
    /// is read. When reading fails, the COPY is ended with CopyFail and the server's error
    /// (`ERROR:  COPY from stdin failed: error reading the COPY data: ...`) is returned.
    pub async fn copy_in_from<R>(&mut self, sql: &str, mut reader: R) -> Result<QueryResult, Error>
    where
        R: AsyncRead + Unpin + Send,
    {
        self.before_statement().await?;
        let mut results = self
            .simple_query_with(sql, &mut CopyIo::In(Some(&mut reader)))
            .await?;
        Ok(results.pop().unwrap_or_else(QueryResult::empty))
    }
}

/// CopyFail with `text`, NULs (which the message cannot carry) shown as `\0`.
fn copy_fail(text: &str, out: &mut Vec<u8>) {
    let text = text.replace('\0', "\\0");
    if frontend::copy_fail(&text, out).is_err() {
        // Only a NUL can make the encoder refuse, and there is none left.
        frontend::copy_done(out);
    }
}

/// A blocking reader seen as an async one: only for the blocking facade's own
/// current-thread runtime, where blocking in `poll_read` blocks nothing else.
struct BlockingReader<R>(R);

impl<R: io::Read + Unpin> AsyncRead for BlockingReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let n = this.0.read(buf.initialize_unfilled())?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl blocking::Connection {
    /// Runs `COPY ... TO STDOUT` and returns the data (see [`Connection::copy_out`]).
    pub fn copy_out(&mut self, sql: &str) -> Result<Vec<u8>, Error> {
        let (conn, runtime) = self.parts();
        runtime.block_on(conn.copy_out(sql))
    }

    /// Runs `COPY ... FROM STDIN` with `data` as its input (see [`Connection::copy_in`]).
    pub fn copy_in(&mut self, sql: &str, data: &[u8]) -> Result<QueryResult, Error> {
        let (conn, runtime) = self.parts();
        runtime.block_on(conn.copy_in(sql, data))
    }

    /// Runs `COPY ... FROM STDIN` with the input read from `reader` (see
    /// [`Connection::copy_in_from`]).
    pub fn copy_in_from<R>(&mut self, sql: &str, reader: R) -> Result<QueryResult, Error>
    where
        R: io::Read + Unpin + Send,
    {
        let (conn, runtime) = self.parts();
        runtime.block_on(conn.copy_in_from(sql, BlockingReader(reader)))
    }
}
