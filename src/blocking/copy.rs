//! COPY on the blocking connection: the connection's COPY calls with the caller's
//! [`io::Write`] or [`io::Read`], run to their end by [`block_on`].

use std::io;

use super::connection::Connection;
use crate::connection::{QueryResult, Sink, Source};
use crate::driver::block_on;
use crate::error::Error;

impl Connection {
    /// Runs `COPY ... TO STDOUT` and returns the data (see [`crate::Connection::copy_out`]).
    pub fn copy_out(&mut self, sql: &str) -> Result<Vec<u8>, Error> {
        block_on(self.inner_mut().copy_out(sql))
    }

    /// Runs `COPY ... TO STDOUT`, writing the data to `writer` as it arrives (see
    /// [`crate::Connection::copy_out_to`]).
    pub fn copy_out_to<W>(&mut self, sql: &str, mut writer: W) -> Result<QueryResult, Error>
    where
        W: io::Write + Unpin + Send,
    {
        block_on(self.inner_mut().copy_out_into(sql, Sink::Std(&mut writer)))
    }

    /// Runs `COPY ... FROM STDIN` with `data` as its input (see [`crate::Connection::copy_in`]).
    pub fn copy_in(&mut self, sql: &str, data: &[u8]) -> Result<QueryResult, Error> {
        block_on(self.inner_mut().copy_in(sql, data))
    }

    /// Runs `COPY ... FROM STDIN` with the input read from `reader` (see
    /// [`crate::Connection::copy_in_from`]).
    pub fn copy_in_from<R>(&mut self, sql: &str, mut reader: R) -> Result<QueryResult, Error>
    where
        R: io::Read + Unpin + Send,
    {
        block_on(self.inner_mut().copy_in_with(sql, Source::Std(&mut reader)))
    }
}
