//! COPY on the blocking connection: the async connection's COPY calls, with the caller's
//! [`io::Write`] or [`io::Read`] seen as an async writer or reader.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::connection::Connection;
use crate::connection::QueryResult;
use crate::error::Error;

/// A blocking writer seen as an async one (see [`BlockingReader`]).
struct BlockingWriter<W>(W);

impl<W: io::Write + Unpin> AsyncWrite for BlockingWriter<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.get_mut().0.write(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.get_mut().0.flush())
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
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

impl Connection {
    /// Runs `COPY ... TO STDOUT` and returns the data (see [`crate::Connection::copy_out`]).
    pub fn copy_out(&mut self, sql: &str) -> Result<Vec<u8>, Error> {
        let (conn, runtime) = self.parts();
        runtime.block_on(conn.copy_out(sql))
    }

    /// Runs `COPY ... TO STDOUT`, writing the data to `writer` as it arrives (see
    /// [`crate::Connection::copy_out_to`]).
    pub fn copy_out_to<W>(&mut self, sql: &str, writer: W) -> Result<QueryResult, Error>
    where
        W: io::Write + Unpin + Send,
    {
        let (conn, runtime) = self.parts();
        runtime.block_on(conn.copy_out_to(sql, BlockingWriter(writer)))
    }

    /// Runs `COPY ... FROM STDIN` with `data` as its input (see [`crate::Connection::copy_in`]).
    pub fn copy_in(&mut self, sql: &str, data: &[u8]) -> Result<QueryResult, Error> {
        let (conn, runtime) = self.parts();
        runtime.block_on(conn.copy_in(sql, data))
    }

    /// Runs `COPY ... FROM STDIN` with the input read from `reader` (see
    /// [`crate::Connection::copy_in_from`]).
    pub fn copy_in_from<R>(&mut self, sql: &str, reader: R) -> Result<QueryResult, Error>
    where
        R: io::Read + Unpin + Send,
    {
        let (conn, runtime) = self.parts();
        runtime.block_on(conn.copy_in_from(sql, BlockingReader(reader)))
    }
}
