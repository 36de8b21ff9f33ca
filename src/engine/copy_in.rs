//! The client's side of `COPY ... FROM STDIN`, sans-IO: what to send after
//! CopyInResponse, from what reading the data gave.
//!
//! The data is read in chunks of at most [`CHUNK`] bytes, each sent as one CopyData
//! message; the end of the data is CopyDone. A read that fails ends the COPY with CopyFail
//! and the reason, as psycopg2's `copy_expert` does; with no data to give at all the COPY
//! is refused with CopyFail. A read interrupted by a signal is tried again.
//!
//! ```text
//! CopyIn::poll ──► Read           read into a buffer of CHUNK bytes: handle_read(result)
//!                  Send(bytes)    send them (while the replies are drained): handle_sent()
//!                  Done           CopyDone or CopyFail is sent
//! ```

use std::io;

use pgcluster_protocol::frontend;

/// Size of the CopyData messages sent.
pub(crate) const CHUNK: usize = 64 * 1024;

/// The CopyFail text when the query starts `COPY ... FROM STDIN` and no data was given.
pub(crate) const REFUSED: &str = "COPY FROM STDIN is not supported by this connection";

/// One COPY FROM STDIN under way.
#[derive(Debug)]
pub(crate) struct CopyIn {
    /// The message to send next (empty: none).
    out: Vec<u8>,
    /// CopyDone or CopyFail is in `out` or sent: nothing more is read.
    ended: bool,
}

/// What the caller does next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next<'a> {
    /// Read up to [`CHUNK`] bytes of the data; answer with [`CopyIn::handle_read`].
    Read,
    /// Send these bytes; answer with [`CopyIn::handle_sent`].
    Send(&'a [u8]),
    /// The COPY data is all sent (CopyDone or CopyFail included).
    Done,
}

impl CopyIn {
    /// A COPY whose data will be read.
    pub(crate) fn new() -> Self {
        Self {
            out: Vec::new(),
            ended: false,
        }
    }

    /// A COPY refused: no data was given for it ([`REFUSED`]).
    pub(crate) fn refused() -> Self {
        let mut copy = Self::new();
        copy.fail(REFUSED);
        copy
    }

    /// What to do next.
    pub(crate) fn poll(&self) -> Next<'_> {
        if !self.out.is_empty() {
            Next::Send(&self.out)
        } else if self.ended {
            Next::Done
        } else {
            Next::Read
        }
    }

    /// What reading the data gave: a chunk (empty at the end of the data), or the error.
    pub(crate) fn handle_read(&mut self, result: io::Result<&[u8]>) {
        if self.ended || !self.out.is_empty() {
            return;
        }
        match result {
            Ok([]) => {
                frontend::copy_done(&mut self.out);
                self.ended = true;
            }
            Ok(data) => {
                if let Err(e) = frontend::copy_data(data, &mut self.out) {
                    self.out.clear();
                    self.fail(&e.to_string());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => self.fail(&format!("error reading the COPY data: {e}")),
        }
    }

    /// The bytes [`Next::Send`] gave are sent.
    pub(crate) fn handle_sent(&mut self) {
        self.out.clear();
    }

    /// CopyFail with `text` (a NUL in it written as `\0`, which the message cannot hold).
    fn fail(&mut self, text: &str) {
        let text = text.replace('\0', "\\0");
        if frontend::copy_fail(&text, &mut self.out).is_err() {
            // Only a NUL can make the encoder refuse, and there is none left.
            frontend::copy_done(&mut self.out);
        }
        self.ended = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `copy` over `reads`, returning the messages sent as (type, body).
    fn run(mut copy: CopyIn, reads: Vec<io::Result<Vec<u8>>>) -> Vec<(u8, Vec<u8>)> {
        let mut reads = reads.into_iter();
        let mut sent = Vec::new();
        loop {
            match copy.poll() {
                Next::Read => {
                    let read = reads.next().expect("a read after the data's end");
                    copy.handle_read(
                        read.as_deref()
                            .map_err(|e| io::Error::new(e.kind(), e.to_string())),
                    );
                }
                Next::Send(bytes) => {
                    sent.push((bytes[0], bytes[5..].to_vec()));
                    let len = u32::from_be_bytes(bytes[1..5].try_into().unwrap());
                    assert_eq!(usize::try_from(len).unwrap(), bytes.len() - 1);
                    copy.handle_sent();
                }
                Next::Done => return sent,
            }
        }
    }

    #[test]
    fn chunks_are_copy_data_then_copy_done() {
        let sent = run(
            CopyIn::new(),
            vec![
                Ok(b"1\tone\n".to_vec()),
                Ok(b"2\ttwo\n".to_vec()),
                Ok(Vec::new()),
            ],
        );
        assert_eq!(
            sent,
            [
                (b'd', b"1\tone\n".to_vec()),
                (b'd', b"2\ttwo\n".to_vec()),
                (b'c', Vec::new())
            ]
        );
    }

    #[test]
    fn a_failed_read_is_copy_fail_with_the_reason_and_an_interrupted_one_is_retried() {
        let sent = run(
            CopyIn::new(),
            vec![
                Ok(b"1\n".to_vec()),
                Err(io::Error::from(io::ErrorKind::Interrupted)),
                Err(io::Error::other("disk on fire")),
            ],
        );
        assert_eq!(
            sent,
            [
                (b'd', b"1\n".to_vec()),
                (
                    b'f',
                    b"error reading the COPY data: disk on fire\0".to_vec()
                )
            ]
        );
    }

    #[test]
    fn no_data_refuses_the_copy_and_a_nul_in_a_reason_is_written_out() {
        let mut refused = REFUSED.as_bytes().to_vec();
        refused.push(0);
        assert_eq!(run(CopyIn::refused(), vec![]), [(b'f', refused)]);
        let sent = run(CopyIn::new(), vec![Err(io::Error::other("a\0b"))]);
        assert_eq!(
            sent,
            [(b'f', b"error reading the COPY data: a\\0b\0".to_vec())]
        );
    }
}
