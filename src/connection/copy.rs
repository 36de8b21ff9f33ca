//! COPY out (`COPY ... TO STDOUT`) and in (`COPY ... FROM STDIN`), over the simple query
//! protocol as psycopg2's `copy_expert`: CopyData chunks, then CopyDone, or CopyFail when
//! the data cannot be read (what to send is the engine's [`CopyIn`]).
//!
//! The data comes from, or goes to, a std [`io::Read`] / [`io::Write`] (the blocking API,
//! and the async API's byte slices and vectors) or a tokio `AsyncRead` / `AsyncWrite`
//! (the async API, feature `async`).

use std::io;

#[cfg(feature = "async")]
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::session::{Connection, QueryResult};
use crate::engine::copy_in::{CopyIn, Next, CHUNK};
use crate::error::Error;
use crate::transport::WireError;

/// What a query does with COPY: refuse COPY FROM STDIN and drop COPY TO STDOUT data (a
/// plain query), send data from a reader, or write the data received to a writer.
pub(super) enum CopyIo<'a> {
    /// CopyFail for COPY FROM STDIN; COPY TO STDOUT data dropped.
    Refuse,
    /// The data for the first COPY FROM STDIN (later ones are refused).
    In(Option<Source<'a>>),
    /// Where COPY TO STDOUT data goes.
    Out {
        /// The destination.
        writer: Sink<'a>,
        /// The first failed write; the rest of the data is then dropped (the server
        /// sends it all the same).
        error: Option<io::Error>,
    },
}

/// Where COPY FROM STDIN data is read from.
pub(crate) enum Source<'a> {
    /// A std reader: it blocks the thread while it reads (the blocking API, or a byte
    /// slice, which never blocks).
    Std(&'a mut (dyn io::Read + Send + 'a)),
    /// A tokio reader.
    #[cfg(feature = "async")]
    Async(&'a mut (dyn AsyncRead + Unpin + Send + 'a)),
}

impl Source<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Std(r) => r.read(buf),
            #[cfg(feature = "async")]
            Self::Async(r) => r.read(buf).await,
        }
    }
}

/// Where COPY TO STDOUT data is written to.
pub(crate) enum Sink<'a> {
    /// A std writer (the blocking API, or a vector).
    Std(&'a mut (dyn io::Write + Send + 'a)),
    /// A tokio writer.
    #[cfg(feature = "async")]
    Async(&'a mut (dyn AsyncWrite + Unpin + Send + 'a)),
}

impl Sink<'_> {
    async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Self::Std(w) => w.write_all(data),
            #[cfg(feature = "async")]
            Self::Async(w) => w.write_all(data).await,
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Std(w) => w.flush(),
            #[cfg(feature = "async")]
            Self::Async(w) => w.flush().await,
        }
    }
}

impl CopyIo<'_> {
    /// One CopyData message of COPY TO STDOUT.
    pub(super) async fn receive(&mut self, data: &[u8]) {
        if let Self::Out {
            writer,
            error: error @ None,
        } = self
        {
            if let Err(e) = writer.write_all(data).await {
                *error = Some(e);
            }
        }
    }
}

impl Connection {
    /// Answers CopyInResponse: the reader's data as CopyData messages then CopyDone, or
    /// CopyFail (when there is no reader, or reading failed). `Err` is a failed write: the
    /// connection is then lost.
    pub(super) async fn send_copy_in(&mut self, copy: &mut CopyIo<'_>) -> Result<(), WireError> {
        let mut source = match copy {
            CopyIo::In(source) => source.take(),
            _ => None,
        };
        let Some(stream) = self.stream.as_mut() else {
            return Err(WireError::Gone);
        };
        let mut copy = match source {
            Some(_) => CopyIn::new(),
            None => CopyIn::refused(),
        };
        let mut chunk = Vec::new();
        loop {
            match copy.poll() {
                Next::Read => {
                    if chunk.is_empty() {
                        chunk = vec![0u8; CHUNK];
                    }
                    let read = match source.as_mut() {
                        Some(source) => source.read(&mut chunk).await,
                        // A refused COPY reads nothing.
                        None => Ok(0),
                    };
                    copy.handle_read(read.map(|n| chunk.get(..n).unwrap_or_default()));
                }
                Next::Send(bytes) => {
                    // The replies are drained meanwhile, so that a server sending an error
                    // cannot block the write.
                    stream
                        .write_draining(bytes, &mut self.reader)
                        .await
                        .map_err(WireError::Send)?;
                    copy.handle_sent();
                }
                Next::Done => return Ok(()),
            }
        }
    }

    /// Runs `COPY ... TO STDOUT` (simple query protocol) and returns the data the server
    /// sent, in the COPY format asked for. A server error is [`Error::Query`].
    pub async fn copy_out(&mut self, sql: &str) -> Result<Vec<u8>, Error> {
        let mut data = Vec::new();
        self.copy_out_into(sql, Sink::Std(&mut data)).await?;
        Ok(data)
    }

    /// Runs `COPY ... TO STDOUT`, writing the data to `writer` as it arrives (nothing is
    /// held in memory), then flushing it; the result's tag is `COPY <rows>`. When a write
    /// fails, the rest of the data is read and dropped (the server sends it all the same;
    /// the connection stays usable), and the error is `could not write the COPY data: ...`.
    #[cfg(feature = "async")]
    pub async fn copy_out_to<W>(&mut self, sql: &str, mut writer: W) -> Result<QueryResult, Error>
    where
        W: AsyncWrite + Unpin + Send,
    {
        self.copy_out_into(sql, Sink::Async(&mut writer)).await
    }

    /// [`Connection::copy_out_to`] for any [`Sink`].
    pub(crate) async fn copy_out_into(
        &mut self,
        sql: &str,
        writer: Sink<'_>,
    ) -> Result<QueryResult, Error> {
        self.before_statement().await?;
        let mut copy = CopyIo::Out {
            writer,
            error: None,
        };
        let mut results = self.simple_query_with(sql, &mut copy).await?;
        let CopyIo::Out { mut writer, error } = copy else {
            return Ok(results.pop().unwrap_or_else(QueryResult::empty));
        };
        match error {
            Some(e) => Err(write_error(&e)),
            None => {
                writer.flush().await.map_err(|e| write_error(&e))?;
                Ok(results.pop().unwrap_or_else(QueryResult::empty))
            }
        }
    }

    /// Runs `COPY ... FROM STDIN` with `data` as its input; the result's tag is
    /// `COPY <rows>` (see [`QueryResult::rows_affected`]). Bad data is the server's error
    /// (e.g. `ERROR:  invalid input syntax for type integer: "x"` with its CONTEXT).
    pub async fn copy_in(&mut self, sql: &str, mut data: &[u8]) -> Result<QueryResult, Error> {
        self.copy_in_with(sql, Source::Std(&mut data)).await
    }

    /// Runs `COPY ... FROM STDIN` with the input read from `reader`, sent in chunks as it
    /// is read. When reading fails, the COPY is ended with CopyFail and the server's error
    /// (`ERROR:  COPY from stdin failed: error reading the COPY data: ...`) is returned.
    #[cfg(feature = "async")]
    pub async fn copy_in_from<R>(&mut self, sql: &str, mut reader: R) -> Result<QueryResult, Error>
    where
        R: AsyncRead + Unpin + Send,
    {
        self.copy_in_with(sql, Source::Async(&mut reader)).await
    }

    /// [`Connection::copy_in_from`] for any [`Source`].
    pub(crate) async fn copy_in_with(
        &mut self,
        sql: &str,
        source: Source<'_>,
    ) -> Result<QueryResult, Error> {
        self.before_statement().await?;
        let mut results = self
            .simple_query_with(sql, &mut CopyIo::In(Some(source)))
            .await?;
        Ok(results.pop().unwrap_or_else(QueryResult::empty))
    }
}

/// The error for a COPY TO STDOUT whose data could not be written.
fn write_error(e: &io::Error) -> Error {
    Error::io("write the COPY data", e)
}

// The scripted peer answers from its own thread, so the test runs on either driver; the
// reader that fails is the one each driver's API takes (std's, or tokio's).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::tests::{connected, each_driver, msg};
    use crate::driver::Kind;
    use pgcluster_protocol::frame::FrameReader;
    use pgcluster_protocol::limits::Limits;
    use std::io::{Read as _, Write as _};
    use std::os::unix::net::UnixStream;

    /// Reads frames from the client until one with `tag`; returns them all.
    fn read_until(peer: &mut UnixStream, reader: &mut FrameReader, tag: u8) -> Vec<(u8, Vec<u8>)> {
        let mut frames = Vec::new();
        loop {
            while let Some(frame) = reader.next_frame().unwrap() {
                let done = frame.tag == tag;
                frames.push((frame.tag, frame.body.to_vec()));
                if done {
                    return frames;
                }
            }
            let n = peer.read(reader.spare()).unwrap();
            assert_ne!(n, 0);
            reader.commit(n);
        }
    }

    /// The peer's socket again, and the messages it read.
    type Served = (UnixStream, Vec<(u8, Vec<u8>)>);

    /// The server's side of one COPY FROM STDIN, on its own thread: reads the query,
    /// answers CopyInResponse, reads until `last` (CopyDone or CopyFail) and answers
    /// `reply`. Returns the peer and the messages after the query.
    fn serve_copy_in(
        mut peer: UnixStream,
        last: u8,
        reply: Vec<u8>,
    ) -> std::thread::JoinHandle<Served> {
        std::thread::spawn(move || {
            // No startup packet here: the frontend's messages all have a tag, so the
            // fake server reads them with a FrameReader.
            let mut theirs = FrameReader::new(Limits::default());
            let got = read_until(&mut peer, &mut theirs, b'Q');
            assert_eq!(got, vec![(b'Q', b"COPY t FROM STDIN\0".to_vec())]);
            peer.write_all(&msg(b'G', &[0, 0, 0])).unwrap();
            let got = read_until(&mut peer, &mut theirs, last);
            peer.write_all(&reply).unwrap();
            (peer, got)
        })
    }

    /// A reader that fails once its bytes are read.
    struct Failing(&'static [u8]);

    impl Failing {
        fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::other("gone\0away"));
            }
            let n = self.0.len().min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    impl io::Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.read_some(buf)
        }
    }

    #[cfg(feature = "async")]
    impl AsyncRead for Failing {
        fn poll_read(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            let n = self.get_mut().read_some(buf.initialize_unfilled())?;
            buf.advance(n);
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn copy_in_sends_chunks_then_done_or_fail() {
        each_driver(|kind| async move {
            let (mut conn, peer) = connected(kind);
            let data = vec![b'x'; CHUNK + 10];
            let mut reply = msg(b'C', b"COPY 1\0");
            reply.extend(msg(b'Z', b"I"));
            let server = serve_copy_in(peer, b'c', reply);
            let result = conn.copy_in("COPY t FROM STDIN", &data).await;
            let (peer, got) = server.join().unwrap();
            assert_eq!(result.unwrap().tag, "COPY 1");
            let sizes: Vec<(u8, usize)> = got.iter().map(|(t, b)| (*t, b.len())).collect();
            assert_eq!(sizes, vec![(b'd', CHUNK), (b'd', 10), (b'c', 0)]);

            let mut reply = msg(
                b'E',
                b"SERROR\0VERROR\0C57014\0MCOPY from stdin failed: x\0\0",
            );
            reply.extend(msg(b'Z', b"I"));
            let server = serve_copy_in(peer, b'f', reply);
            let mut failing = Failing(b"ab");
            let source = match kind {
                #[cfg(feature = "blocking")]
                Kind::Blocking => Source::Std(&mut failing),
                #[cfg(feature = "async")]
                Kind::Async => Source::Async(&mut failing),
            };
            let result = conn.copy_in_with("COPY t FROM STDIN", source).await;
            let (_peer, got) = server.join().unwrap();
            assert!(result.is_err());
            assert_eq!(
                got,
                vec![
                    (b'd', b"ab".to_vec()),
                    (b'f', b"error reading the COPY data: gone\\0away\0".to_vec())
                ]
            );
            assert_eq!(conn.state(), crate::connection::State::Open);
        });
    }
}
