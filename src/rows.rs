//! Rows stored compactly, and rows borrowed one at a time while they stream in.
//!
//! [`Rows`] keeps a whole result in one byte buffer: each value is a length prefix (a
//! LEB128 number: 0 for SQL NULL, otherwise the length plus one) followed by its bytes,
//! value after value, row after row. Besides that buffer there is only a sparse index (the
//! offset of every [`INDEX_STEP`]th row), so a result costs its values plus a byte or two
//! each, and filling it makes no allocation per row or value (the buffer grows by
//! doubling). Reading in order is as cheap as writing; [`Rows::get`] reaches any row by
//! skipping at most `INDEX_STEP - 1` rows from the nearest indexed one.
//!
//! [`Row`] is one row as it arrives, borrowed from the server's DataRow message: the
//! callback of [`crate::Connection::query_each`] receives it, and nothing is kept.
//!
//! Values are the server's text. [`RowRef::get`] and [`Row::get`] decode them as UTF-8,
//! replacing invalid sequences with U+FFFD as the rest of pgcluster does (borrowed, with no
//! allocation, when the text is valid); `get_bytes` gives the raw bytes.

use std::borrow::Cow;
use std::fmt;

use pgcluster_protocol::backend::{DataRow, FieldDescription};

/// Every this many rows, [`Rows`] records where a row starts.
pub const INDEX_STEP: usize = 32;

/// A result's rows in one buffer (see the module docs), with its columns and command tag.
#[derive(Clone, PartialEq, Eq)]
pub struct Rows {
    columns: Vec<FieldDescription>,
    tag: String,
    /// Values per row.
    width: usize,
    len: usize,
    data: Vec<u8>,
    /// `index[k]` is where row `k * INDEX_STEP` starts in `data`.
    index: Vec<usize>,
}

impl Rows {
    /// An empty result with these columns.
    pub(crate) fn new(columns: Vec<FieldDescription>) -> Self {
        Self {
            width: columns.len(),
            columns,
            tag: String::new(),
            len: 0,
            data: Vec::new(),
            index: Vec::new(),
        }
    }

    /// Appends one row. Its value count has been checked against the columns by the
    /// protocol machine.
    pub(crate) fn push(&mut self, row: &DataRow) {
        if self.len % INDEX_STEP == 0 {
            self.index.push(self.data.len());
        }
        for value in row.values() {
            match value {
                None => self.data.push(0),
                Some(bytes) => {
                    // A value is shorter than a message (at most 1 GiB): no overflow.
                    put_len(&mut self.data, bytes.len().saturating_add(1));
                    self.data.extend_from_slice(bytes);
                }
            }
        }
        self.len = self.len.saturating_add(1);
    }

    pub(crate) fn set_tag(&mut self, tag: String) {
        self.tag = tag;
    }

    /// The columns (empty for a statement that returns no rows).
    pub fn columns(&self) -> &[FieldDescription] {
        &self.columns
    }

    /// The command tag, e.g. `SELECT 3`.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes held by the values and their length prefixes.
    pub fn data_len(&self) -> usize {
        self.data.len()
    }

    /// The rows in order.
    pub fn iter(&self) -> RowsIter<'_> {
        RowsIter {
            rest: &self.data,
            width: self.width,
            left: self.len,
        }
    }

    /// Row `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<RowRef<'_>> {
        if i >= self.len {
            return None;
        }
        let start = *self.index.get(i / INDEX_STEP)?;
        let mut iter = RowsIter {
            rest: self.data.get(start..)?,
            width: self.width,
            left: self.len.checked_sub(i / INDEX_STEP * INDEX_STEP)?,
        };
        iter.nth(i % INDEX_STEP)
    }
}

impl fmt::Debug for Rows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rows")
            .field("columns", &self.columns.len())
            .field("tag", &self.tag)
            .field("rows", &self.iter().collect::<Vec<_>>())
            .finish()
    }
}

impl<'a> IntoIterator for &'a Rows {
    type Item = RowRef<'a>;
    type IntoIter = RowsIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Appends `n` as LEB128.
fn put_len(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        // The low seven bits, with the continuation bit.
        out.push(u8::try_from(n & 0x7f).unwrap_or(0) | 0x80);
        n >>= 7;
    }
    out.push(u8::try_from(n).unwrap_or(0));
}

/// Reads one LEB128 number from the front of `rest`.
fn take_len(rest: &mut &[u8]) -> Option<usize> {
    let mut n = 0usize;
    let mut shift = 0u32;
    loop {
        let (&byte, tail) = rest.split_first()?;
        *rest = tail;
        n |= usize::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some(n);
        }
        shift = shift.checked_add(7).filter(|&s| s < usize::BITS)?;
    }
}

/// Takes one value (`None` for NULL) from the front of `rest`; `Err` if the buffer ends.
fn take_value<'a>(rest: &mut &'a [u8]) -> Result<Option<&'a [u8]>, ()> {
    match take_len(rest).ok_or(())? {
        0 => Ok(None),
        n => {
            let len = n.checked_sub(1).ok_or(())?;
            if len > rest.len() {
                return Err(());
            }
            let (value, tail) = rest.split_at(len);
            *rest = tail;
            Ok(Some(value))
        }
    }
}

/// The rows of a [`Rows`] in order.
#[derive(Clone, Debug)]
pub struct RowsIter<'a> {
    rest: &'a [u8],
    width: usize,
    left: usize,
}

impl<'a> Iterator for RowsIter<'a> {
    type Item = RowRef<'a>;

    fn next(&mut self) -> Option<RowRef<'a>> {
        self.left = self.left.checked_sub(1)?;
        let all = self.rest;
        for _ in 0..self.width {
            take_value(&mut self.rest).ok()?;
        }
        let used = all.len().checked_sub(self.rest.len())?;
        Some(RowRef {
            data: all.get(..used)?,
            width: self.width,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for RowsIter<'_> {}

/// One row of a [`Rows`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RowRef<'a> {
    data: &'a [u8],
    width: usize,
}

impl<'a> RowRef<'a> {
    /// The number of values.
    pub fn len(&self) -> usize {
        self.width
    }

    /// True for a row of no columns.
    pub fn is_empty(&self) -> bool {
        self.width == 0
    }

    /// The values in order, `None` for SQL NULL.
    pub fn values(&self) -> impl Iterator<Item = Option<&'a [u8]>> + 'a {
        let mut rest = self.data;
        (0..self.width).map_while(move |_| take_value(&mut rest).ok())
    }

    /// Value `i` as raw bytes; `None` for SQL NULL or past the last column.
    pub fn get_bytes(&self, i: usize) -> Option<&'a [u8]> {
        self.values().nth(i).flatten()
    }

    /// Value `i` as text; `None` for SQL NULL or past the last column.
    pub fn get(&self, i: usize) -> Option<Cow<'a, str>> {
        self.get_bytes(i).map(String::from_utf8_lossy)
    }

    /// Whether value `i` is SQL NULL (false past the last column).
    pub fn is_null(&self, i: usize) -> bool {
        matches!(self.values().nth(i), Some(None))
    }
}

impl fmt::Debug for RowRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.values().map(|v| v.map(String::from_utf8_lossy)))
            .finish()
    }
}

/// One row as it streams in (see [`crate::Connection::query_each`]), borrowed from the
/// server's message.
#[derive(Clone, Copy)]
pub struct Row<'a> {
    row: &'a DataRow,
}

impl<'a> Row<'a> {
    pub(crate) fn new(row: &'a DataRow) -> Self {
        Self { row }
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.row.len()
    }

    /// True for a row of no columns.
    pub fn is_empty(&self) -> bool {
        self.row.is_empty()
    }

    /// The values in order, `None` for SQL NULL.
    pub fn values(&self) -> impl Iterator<Item = Option<&'a [u8]>> + 'a {
        self.row.values()
    }

    /// Value `i` as raw bytes; `None` for SQL NULL or past the last column.
    pub fn get_bytes(&self, i: usize) -> Option<&'a [u8]> {
        self.row.values().nth(i).flatten()
    }

    /// Value `i` as text; `None` for SQL NULL or past the last column.
    pub fn get(&self, i: usize) -> Option<Cow<'a, str>> {
        self.get_bytes(i).map(String::from_utf8_lossy)
    }
}

impl fmt::Debug for Row<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.values().map(|v| v.map(String::from_utf8_lossy)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    /// A DataRow body for these values.
    fn data_row(values: &[Option<&[u8]>]) -> DataRow {
        let mut body = u16::try_from(values.len())
            .unwrap_or_default()
            .to_be_bytes()
            .to_vec();
        for v in values {
            match v {
                None => body.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(v) => {
                    body.extend_from_slice(&i32::try_from(v.len()).unwrap_or(0).to_be_bytes());
                    body.extend_from_slice(v);
                }
            }
        }
        DataRow::parse(&Bytes::from(body)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn rows_of(width: usize, rows: &[Vec<Option<&[u8]>>]) -> Rows {
        let mut r = Rows {
            width,
            columns: Vec::new(),
            tag: String::new(),
            len: 0,
            data: Vec::new(),
            index: Vec::new(),
        };
        for row in rows {
            r.push(&data_row(row));
        }
        r
    }

    #[test]
    fn values_nulls_empties_and_long_values_round_trip() {
        let long = vec![b'x'; 300];
        let rows = rows_of(
            3,
            &[
                vec![Some(b"1"), None, Some(b"")],
                vec![Some(&long), Some("é".as_bytes()), Some(b"\xff")],
            ],
        );
        assert_eq!(rows.len(), 2);
        // 1 + 1 + 1 + 1 prefix bytes, then 2 bytes for 301 and one each for the others.
        assert_eq!(rows.data_len(), 2 + 1 + 1 + 2 + 300 + 1 + 2 + 1 + 1);
        let r0 = rows.get(0).unwrap_or_else(|| panic!("row 0"));
        assert_eq!(r0.get(0).as_deref(), Some("1"));
        assert_eq!(r0.get(1), None);
        assert!(r0.is_null(1) && !r0.is_null(2) && !r0.is_null(3));
        assert_eq!(r0.get(2).as_deref(), Some(""));
        assert_eq!(r0.get(3), None);
        let r1 = rows.get(1).unwrap_or_else(|| panic!("row 1"));
        assert_eq!(r1.get_bytes(0), Some(&long[..]));
        assert_eq!(r1.get(1).as_deref(), Some("é"));
        assert_eq!(r1.get(2).as_deref(), Some("\u{fffd}"));
        assert_eq!(r1.get_bytes(2), Some(&b"\xff"[..]));
        assert!(rows.get(2).is_none());
        assert_eq!(
            format!("{:?}", rows.iter().collect::<Vec<_>>()),
            format!("[[Some(\"1\"), None, Some(\"\")], [Some(\"{}\"), Some(\"é\"), Some(\"\u{fffd}\")]]", "x".repeat(300))
        );
    }

    #[test]
    fn random_access_agrees_with_iteration_across_index_steps() {
        let texts: Vec<String> = (0..INDEX_STEP * 3 + 5).map(|i| i.to_string()).collect();
        let rows: Vec<Vec<Option<&[u8]>>> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| vec![Some(t.as_bytes()), (i % 3 == 0).then_some(&b"z"[..])])
            .collect();
        let rows = rows_of(2, &rows);
        assert_eq!(rows.len(), texts.len());
        assert_eq!(rows.iter().len(), texts.len());
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(rows.get(i), Some(row));
            assert_eq!(row.get(0).as_deref(), Some(texts[i].as_str()));
            assert_eq!(row.get(1).is_some(), i % 3 == 0);
        }
        assert_eq!(rows.get(texts.len()), None);
    }

    #[test]
    fn leb128_lengths() {
        for n in [0usize, 1, 127, 128, 300, 16_383, 16_384, 1 << 30] {
            let mut buf = Vec::new();
            put_len(&mut buf, n);
            let mut rest = &buf[..];
            assert_eq!(take_len(&mut rest), Some(n), "{n}");
            assert!(rest.is_empty());
        }
        let mut truncated: &[u8] = &[0x80];
        assert_eq!(take_len(&mut truncated), None);
        let mut too_long: &[u8] = &[0xff; 11];
        assert_eq!(take_len(&mut too_long), None);
    }

    #[test]
    fn streamed_row_reads_the_data_row() {
        let row = data_row(&[Some(b"42"), None]);
        let r = Row::new(&row);
        assert_eq!((r.len(), r.is_empty()), (2, false));
        assert_eq!(r.get(0).as_deref(), Some("42"));
        assert_eq!(r.get(1), None);
        assert_eq!(r.get_bytes(5), None);
        assert_eq!(format!("{r:?}"), "[Some(\"42\"), None]");
    }

    /// The row APIs of the connection against a real server.
    #[cfg(feature = "testing")]
    mod server {
        use crate::connection::Connection;
        use crate::conninfo::{Config, Env};
        use crate::error::Error;
        use crate::testing::TestServer;

        fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("runtime: {e}"))
                .block_on(f)
        }

        async fn connect() -> Connection {
            let server = TestServer::shared().unwrap_or_else(|e| panic!("test server: {e}"));
            let conninfo = format!(
                "host={} port={} user=postgres dbname=postgres",
                server.socket_dir().display(),
                server.port()
            );
            let resolved = Config::parse(&conninfo)
                .and_then(|c| c.resolve(&Env::empty()))
                .unwrap_or_else(|e| panic!("conninfo: {e}"));
            Connection::connect(&resolved)
                .await
                .unwrap_or_else(|e| panic!("connect: {}", e.message))
        }

        fn message(e: Error) -> String {
            match e {
                Error::Query(q) => q.message,
                other => other.to_string(),
            }
        }

        const SQL: &str = "SELECT g, CASE WHEN g % 2 = 0 THEN md5(g::text) END AS h \
                           FROM generate_series(1, 100) g";

        #[test]
        fn compact_rows_hold_what_simple_query_holds() {
            block_on(async {
                let mut conn = connect().await;
                let strings = conn
                    .simple_query(SQL)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                let compact = conn
                    .simple_query_rows(&format!(
                        "{SQL}; SELECT 1 WHERE false; SET search_path = public"
                    ))
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(compact.len(), 3);
                let rows = &compact[0];
                assert_eq!(rows.tag(), "SELECT 100");
                assert_eq!(rows.columns(), strings[0].columns.as_slice());
                assert_eq!(rows.len(), 100);
                let as_strings: Vec<Vec<Option<String>>> = rows
                    .iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| r.get(i).map(|v| v.into_owned()))
                            .collect()
                    })
                    .collect();
                assert_eq!(as_strings, strings[0].rows);
                assert_eq!(rows.get(41).and_then(|r| r.get(0)).as_deref(), Some("42"));
                assert_eq!((compact[1].tag(), compact[1].len()), ("SELECT 0", 0));
                assert_eq!(compact[1].columns().len(), 1);
                assert_eq!((compact[2].tag(), compact[2].columns().len()), ("SET", 0));

                let extended = conn
                    .query_rows("SELECT $1::int + 1, $2::text", &[Some("41"), None])
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                let row = extended.get(0).unwrap_or_else(|| panic!("a row"));
                assert_eq!((row.get(0).as_deref(), row.get(1)), (Some("42"), None));
                conn.close().await;
            });
        }

        #[test]
        fn rows_stream_to_a_callback() {
            block_on(async {
                let mut conn = connect().await;
                let (mut n, mut sum, mut nulls) = (0, 0, 0);
                let result = conn
                    .query_each(SQL, &[], |row| {
                        n += 1;
                        sum += row.get(0).and_then(|g| g.parse::<i64>().ok()).unwrap_or(0);
                        nulls += usize::from(row.get_bytes(1).is_none());
                    })
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                assert_eq!((n, sum, nulls), (100, 5050, 50));
                assert_eq!(result.tag, "SELECT 100");
                assert_eq!(result.columns.len(), 2);
                assert!(result.rows.is_empty());

                // An error part-way: the rows before it were seen, then the server's error.
                let mut seen = 0;
                let err = conn
                    .query_each(
                        "SELECT 10 / (5 - g) FROM generate_series(1, 10) g",
                        &[],
                        |_| seen += 1,
                    )
                    .await
                    .map(|_| ())
                    .map_err(message);
                assert_eq!(err, Err("ERROR:  division by zero\n".to_owned()));
                assert_eq!(seen, 4);
                assert_eq!(
                    conn.simple_query("SELECT 1").await.map(|r| r.len()).ok(),
                    Some(1)
                );
                conn.close().await;
            });
        }

        #[test]
        fn prepared_statements() {
            block_on(async {
                let mut conn = connect().await;
                let one = conn
                    .prepare("SELECT 1")
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                let add = conn
                    .prepare("SELECT $1::int + $2::int")
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                assert_eq!((one.name(), add.name()), ("pgcluster_0", "pgcluster_1"));
                for _ in 0..3 {
                    let r = conn
                        .query_prepared(&one, &[])
                        .await
                        .unwrap_or_else(|e| panic!("{e}"));
                    assert_eq!(
                        (r.rows.clone(), r.tag.as_str()),
                        (vec![vec![Some("1".to_owned())]], "SELECT 1")
                    );
                }
                let r = conn
                    .query_prepared(&add, &[Some("40"), Some("2")])
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(r.rows, vec![vec![Some("42".to_owned())]]);
                let err = conn
                    .query_prepared(&add, &[Some("x"), Some("2")])
                    .await
                    .map(|_| ())
                    .map_err(message);
                assert_eq!(
                    err,
                    Err("ERROR:  invalid input syntax for type integer: \"x\"\n\
                         CONTEXT:  unnamed portal parameter $1 = '...'\n"
                        .to_owned())
                );
                let err = conn.prepare("SELEC 1").await.map(|_| ()).map_err(message);
                assert_eq!(
                    err,
                    Err(
                        "ERROR:  syntax error at or near \"SELEC\"\nLINE 1: SELEC 1\n        ^\n"
                            .to_owned()
                    )
                );
                // The failed Parse used no name: the next statement gets the next one.
                let next = conn
                    .prepare("SELECT 2")
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(next.name(), "pgcluster_2");
                conn.close().await;
            });
        }
    }
}
