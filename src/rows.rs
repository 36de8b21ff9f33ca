//! Rows stored compactly, and rows borrowed one at a time while they stream in.
//!
//! [`Rows`] keeps a whole result in one byte buffer: each value is a length prefix (a
//! LEB128 number: 0 for SQL NULL, otherwise the length plus one) followed by its bytes,
//! value after value, row after row. Besides that buffer there is only a sparse index (the
//! offset of every [`INDEX_STEP`]th row after the first, so that a result of fewer rows
//! has no index at all), so a result costs its values plus a byte or two
//! each, and filling it makes no allocation per row or value (the buffer grows by
//! doubling). Reading in order is as cheap as writing; [`Rows::get`] reaches any row by
//! skipping at most `INDEX_STEP - 1` rows from the nearest indexed one.
//!
//! [`Row`] is one row as it arrives, borrowed from the server's DataRow message: the
//! callback of [`Connection::query_each`](crate::doc_api::Connection::query_each) receives it, and nothing is kept.
//!
//! [`ResultRow`] is one row of a [`QueryResult`](crate::connection::QueryResult), whose
//! values are already `String`s.
//!
//! Values are the server's text. [`RowRef::get`] and [`Row::get`] decode them as UTF-8,
//! replacing invalid sequences with U+FFFD as the rest of pgcluster does (borrowed, with no
//! allocation, when the text is valid); `get_bytes` gives the raw bytes.
//!
//! # Columns by position or by name
//!
//! Every row type takes a [`ColumnIndex`]: a position (`usize`, from 0) or a name (`&str`,
//! `String`). A name is looked up as libpq's `PQfnumber` does it (see [`column_position`]):
//! unquoted letters are folded to lower case and a double-quoted part is taken as it is,
//! so `row.get("Name")` finds a column `name` and `row.get("\"Name\"")` a column `Name`;
//! when several columns have the name, the first one wins. `get` returns `None` for SQL
//! NULL and for a column that does not exist; `try_get` tells these apart, with a
//! [`ColumnError`] for the column that does not exist.
//!
//! ```
//! # use pgcluster::rows::{column_position, ColumnError};
//! # use pgcluster_protocol::backend::FieldDescription;
//! # let field = |name: &str| FieldDescription {
//! #     name: name.to_owned(), table_oid: 0, column_id: 0, type_oid: 25,
//! #     type_size: -1, type_modifier: -1, format: 0,
//! # };
//! let columns = [field("id"), field("Name"), field("id")];
//! assert_eq!(column_position(&columns, "ID"), Some(0));
//! assert_eq!(column_position(&columns, "Name"), None);
//! assert_eq!(column_position(&columns, "\"Name\""), Some(1));
//! assert_eq!(
//!     ColumnError::UnknownName("Name".to_owned()).to_string(),
//!     "no column \"Name\" in the result"
//! );
//! ```

use std::borrow::Cow;
use std::error;
use std::fmt;
use std::sync::Arc;

use pgcluster_protocol::backend::{DataRow, FieldDescription, RowDescription};

/// Every this many rows, [`Rows`] records where a row starts.
pub const INDEX_STEP: usize = 32;

/// A result's rows in one buffer (see the module docs), with its columns and command tag.
#[derive(Clone, PartialEq, Eq)]
pub struct Rows {
    /// The RowDescription, shared with the connection's memo of it (a repeated query's
    /// results copy no column); `None` when the statement returned no rows.
    columns: Option<Arc<RowDescription>>,
    /// Shared with the connection's memo of it; `None` until the statement completes.
    tag: Option<Arc<str>>,
    /// Values per row.
    width: usize,
    len: usize,
    data: Vec<u8>,
    /// `index[k]` is where row `(k + 1) * INDEX_STEP` starts in `data` (row 0 starts at 0).
    index: Vec<usize>,
}

impl Rows {
    /// An empty result with these columns.
    pub(crate) fn new(columns: Arc<RowDescription>) -> Self {
        Self::with_columns(Some(columns))
    }

    /// The result of a statement that returns no rows.
    pub(crate) fn without_columns() -> Self {
        Self::with_columns(None)
    }

    fn with_columns(columns: Option<Arc<RowDescription>>) -> Self {
        Self {
            width: columns.as_deref().map_or(0, |d| d.fields.len()),
            columns,
            tag: None,
            len: 0,
            data: Vec::new(),
            index: Vec::new(),
        }
    }

    /// Appends one row. Its value count has been checked against the columns by the
    /// protocol machine.
    pub(crate) fn push(&mut self, row: &DataRow) {
        if self.len % INDEX_STEP == 0 && self.len > 0 {
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

    pub(crate) fn set_tag(&mut self, tag: Arc<str>) {
        self.tag = Some(tag);
    }

    /// The columns (empty for a statement that returns no rows).
    pub fn columns(&self) -> &[FieldDescription] {
        self.columns.as_deref().map_or(&[], |d| &d.fields)
    }

    /// The command tag, e.g. `SELECT 3`.
    pub fn tag(&self) -> &str {
        self.tag.as_deref().unwrap_or_default()
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
            columns: self.columns(),
            width: self.width,
            left: self.len,
        }
    }

    /// The position of column `name`, looked up as libpq's `PQfnumber` does (see
    /// [`column_position`]).
    pub fn column_position(&self, name: &str) -> Option<usize> {
        column_position(self.columns(), name)
    }

    /// Row `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<RowRef<'_>> {
        if i >= self.len {
            return None;
        }
        let start = match (i / INDEX_STEP).checked_sub(1) {
            None => 0,
            Some(k) => *self.index.get(k)?,
        };
        let mut iter = RowsIter {
            rest: self.data.get(start..)?,
            columns: self.columns(),
            width: self.width,
            left: self.len.checked_sub(i / INDEX_STEP * INDEX_STEP)?,
        };
        iter.nth(i % INDEX_STEP)
    }
}

impl fmt::Debug for Rows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rows")
            .field("columns", &self.columns().len())
            .field("tag", &self.tag())
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
    columns: &'a [FieldDescription],
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
            columns: self.columns,
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
    /// The result's columns (as many as values, or none for rows made without them).
    columns: &'a [FieldDescription],
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

    /// The result's columns.
    pub fn columns(&self) -> &'a [FieldDescription] {
        self.columns
    }

    /// The value in column `idx` (a position or a name, see [`ColumnIndex`]) as raw bytes;
    /// `None` for SQL NULL or a column that does not exist.
    pub fn get_bytes<I: ColumnIndex>(&self, idx: I) -> Option<&'a [u8]> {
        self.try_get_bytes(idx).ok().flatten()
    }

    /// The value in column `idx` as raw bytes, `Ok(None)` for SQL NULL; an error for a
    /// column that does not exist.
    pub fn try_get_bytes<I: ColumnIndex>(&self, idx: I) -> Result<Option<&'a [u8]>, ColumnError> {
        let i = idx.position(self.columns, self.width)?;
        Ok(self.values().nth(i).flatten())
    }

    /// The value in column `idx` (a position or a name, see [`ColumnIndex`]) as text;
    /// `None` for SQL NULL or a column that does not exist.
    pub fn get<I: ColumnIndex>(&self, idx: I) -> Option<Cow<'a, str>> {
        self.get_bytes(idx).map(String::from_utf8_lossy)
    }

    /// The value in column `idx` as text, `Ok(None)` for SQL NULL; an error for a column
    /// that does not exist.
    pub fn try_get<I: ColumnIndex>(&self, idx: I) -> Result<Option<Cow<'a, str>>, ColumnError> {
        Ok(self.try_get_bytes(idx)?.map(String::from_utf8_lossy))
    }

    /// Whether the value in column `idx` is SQL NULL (false for a column that does not
    /// exist).
    pub fn is_null<I: ColumnIndex>(&self, idx: I) -> bool {
        matches!(self.try_get_bytes(idx), Ok(None))
    }
}

impl fmt::Debug for RowRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.values().map(|v| v.map(String::from_utf8_lossy)))
            .finish()
    }
}

/// One row as it streams in (see [`Connection::query_each`](crate::doc_api::Connection::query_each)), borrowed from the
/// server's message.
#[derive(Clone, Copy)]
pub struct Row<'a> {
    row: &'a DataRow,
    /// The result's columns (from its RowDescription).
    columns: &'a [FieldDescription],
}

impl<'a> Row<'a> {
    pub(crate) fn new(row: &'a DataRow, columns: &'a [FieldDescription]) -> Self {
        Self { row, columns }
    }

    /// The result's columns.
    pub fn columns(&self) -> &'a [FieldDescription] {
        self.columns
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

    /// The value in column `idx` (a position or a name, see [`ColumnIndex`]) as raw bytes;
    /// `None` for SQL NULL or a column that does not exist.
    pub fn get_bytes<I: ColumnIndex>(&self, idx: I) -> Option<&'a [u8]> {
        self.try_get_bytes(idx).ok().flatten()
    }

    /// The value in column `idx` as raw bytes, `Ok(None)` for SQL NULL; an error for a
    /// column that does not exist.
    pub fn try_get_bytes<I: ColumnIndex>(&self, idx: I) -> Result<Option<&'a [u8]>, ColumnError> {
        let i = idx.position(self.columns, self.row.len())?;
        Ok(self.row.values().nth(i).flatten())
    }

    /// The value in column `idx` (a position or a name, see [`ColumnIndex`]) as text;
    /// `None` for SQL NULL or a column that does not exist.
    pub fn get<I: ColumnIndex>(&self, idx: I) -> Option<Cow<'a, str>> {
        self.get_bytes(idx).map(String::from_utf8_lossy)
    }

    /// The value in column `idx` as text, `Ok(None)` for SQL NULL; an error for a column
    /// that does not exist.
    pub fn try_get<I: ColumnIndex>(&self, idx: I) -> Result<Option<Cow<'a, str>>, ColumnError> {
        Ok(self.try_get_bytes(idx)?.map(String::from_utf8_lossy))
    }

    /// Whether the value in column `idx` is SQL NULL (false for a column that does not
    /// exist).
    pub fn is_null<I: ColumnIndex>(&self, idx: I) -> bool {
        matches!(self.try_get_bytes(idx), Ok(None))
    }
}

impl fmt::Debug for Row<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.values().map(|v| v.map(String::from_utf8_lossy)))
            .finish()
    }
}

/// One row of a [`QueryResult`](crate::connection::QueryResult): its values, already
/// decoded, with the result's columns (see [`QueryResult::row`](crate::connection::QueryResult::row)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResultRow<'a> {
    columns: &'a [FieldDescription],
    values: &'a [Option<String>],
}

impl<'a> ResultRow<'a> {
    /// A row of `values` under `columns`.
    pub(crate) fn new(columns: &'a [FieldDescription], values: &'a [Option<String>]) -> Self {
        Self { columns, values }
    }

    /// The result's columns.
    pub fn columns(&self) -> &'a [FieldDescription] {
        self.columns
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True for a row of no columns.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The values in order, `None` for SQL NULL.
    pub fn values(&self) -> &'a [Option<String>] {
        self.values
    }

    /// The value in column `idx` (a position or a name, see [`ColumnIndex`]); `None` for
    /// SQL NULL or a column that does not exist.
    pub fn get<I: ColumnIndex>(&self, idx: I) -> Option<&'a str> {
        self.try_get(idx).ok().flatten()
    }

    /// The value in column `idx`, `Ok(None)` for SQL NULL; an error for a column that does
    /// not exist.
    pub fn try_get<I: ColumnIndex>(&self, idx: I) -> Result<Option<&'a str>, ColumnError> {
        let i = idx.position(self.columns, self.values.len())?;
        Ok(self.values.get(i).and_then(Option::as_deref))
    }

    /// Whether the value in column `idx` is SQL NULL (false for a column that does not
    /// exist).
    pub fn is_null<I: ColumnIndex>(&self, idx: I) -> bool {
        matches!(self.try_get(idx), Ok(None))
    }
}

/// The rows of a [`QueryResult`](crate::connection::QueryResult) in order, each with the
/// result's columns (see [`QueryResult::iter`](crate::connection::QueryResult::iter)).
#[derive(Clone, Debug)]
pub struct ResultRows<'a> {
    columns: &'a [FieldDescription],
    rows: std::slice::Iter<'a, Vec<Option<String>>>,
}

impl<'a> ResultRows<'a> {
    /// The rows `rows` under `columns`.
    pub(crate) fn new(columns: &'a [FieldDescription], rows: &'a [Vec<Option<String>>]) -> Self {
        Self {
            columns,
            rows: rows.iter(),
        }
    }
}

impl<'a> Iterator for ResultRows<'a> {
    type Item = ResultRow<'a>;

    fn next(&mut self) -> Option<ResultRow<'a>> {
        self.rows.next().map(|v| ResultRow::new(self.columns, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.rows.size_hint()
    }
}

impl DoubleEndedIterator for ResultRows<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.rows
            .next_back()
            .map(|v| ResultRow::new(self.columns, v))
    }
}

impl ExactSizeIterator for ResultRows<'_> {}

/// The position of the column `name` in `columns` by libpq's rule (`PQfnumber`), or
/// `None`:
///
/// - outside double quotes, ASCII letters are folded to lower case (`Name` and `NAME` find
///   `name`, as an unquoted identifier in SQL does); other characters are kept;
/// - inside double quotes, characters are taken as they are and `""` is one `"`
///   (`"Name"` finds `Name`; `"a""b"` finds `a"b`); a quoted part may sit inside a longer
///   name (`x"Y"z` looks for `xYz`) and an unclosed quote runs to the end;
/// - the first column with the resulting name wins (a result may have several);
/// - an empty `name` finds nothing; `""` finds a column whose name is empty.
///
/// Like libpq in the C locale, only ASCII letters are folded.
pub fn column_position(columns: &[FieldDescription], name: &str) -> Option<usize> {
    if name.is_empty() {
        return None;
    }
    let mut folded = String::with_capacity(name.len());
    let mut in_quotes = false;
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.next_if_eq(&'"').is_some() {
                    folded.push('"');
                } else {
                    in_quotes = false;
                }
            } else {
                folded.push(c);
            }
        } else if c == '"' {
            in_quotes = true;
        } else {
            folded.push(c.to_ascii_lowercase());
        }
    }
    columns.iter().position(|c| c.name == folded)
}

/// Picks a column of a row: a position (`usize`, from 0) or a name (`&str`, `String`),
/// which is looked up by [`column_position`] (libpq's `PQfnumber` rule). Sealed: only
/// these types (and references to them) implement it.
pub trait ColumnIndex: sealed::Sealed {
    /// The position this picks in a row of `width` values under `columns`, or why none.
    fn position(&self, columns: &[FieldDescription], width: usize) -> Result<usize, ColumnError>;
}

impl ColumnIndex for usize {
    fn position(&self, _columns: &[FieldDescription], width: usize) -> Result<usize, ColumnError> {
        if *self < width {
            Ok(*self)
        } else {
            Err(ColumnError::OutOfRange {
                index: *self,
                columns: width,
            })
        }
    }
}

impl ColumnIndex for str {
    fn position(&self, columns: &[FieldDescription], width: usize) -> Result<usize, ColumnError> {
        column_position(columns, self)
            .filter(|&i| i < width)
            .ok_or_else(|| ColumnError::UnknownName(self.to_owned()))
    }
}

impl ColumnIndex for String {
    fn position(&self, columns: &[FieldDescription], width: usize) -> Result<usize, ColumnError> {
        self.as_str().position(columns, width)
    }
}

impl<T: ColumnIndex + ?Sized> ColumnIndex for &T {
    fn position(&self, columns: &[FieldDescription], width: usize) -> Result<usize, ColumnError> {
        (**self).position(columns, width)
    }
}

mod sealed {
    use super::ColumnIndex;

    /// Keeps [`ColumnIndex`] to the types of this module.
    pub trait Sealed {}

    impl Sealed for usize {}
    impl Sealed for str {}
    impl Sealed for String {}
    impl<T: ColumnIndex + ?Sized> Sealed for &T {}
}

/// A row has no such column.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ColumnError {
    /// No column has this name (looked up by [`column_position`]); the name as given.
    UnknownName(String),
    /// The position is past the last column.
    OutOfRange {
        /// The position asked for.
        index: usize,
        /// How many columns the row has.
        columns: usize,
    },
}

impl fmt::Display for ColumnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownName(name) => write!(f, "no column \"{name}\" in the result"),
            Self::OutOfRange { index, columns } => write!(
                f,
                "column index {index} is out of range for a row of {columns} columns"
            ),
        }
    }
}

impl error::Error for ColumnError {}

/// A `text` column named `name`, as a RowDescription of a simple query gives it: for the
/// unit tests and the `rows` fuzz harness.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn text_column(name: &str) -> FieldDescription {
    FieldDescription {
        name: name.to_owned(),
        table_oid: 0,
        column_id: 0,
        type_oid: 25,
        type_size: -1,
        type_modifier: -1,
        format: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgcluster_protocol::buffer::Bytes;

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
            columns: None,
            tag: None,
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
        let columns = [field("n"), field("v")];
        let r = Row::new(&row, &columns);
        assert_eq!((r.len(), r.is_empty()), (2, false));
        assert_eq!(r.get(0).as_deref(), Some("42"));
        assert_eq!(r.get(1), None);
        assert_eq!(r.get_bytes(5), None);
        assert_eq!(r.get("N").as_deref(), Some("42"));
        assert_eq!(r.try_get("v"), Ok(None));
        assert!(r.is_null("v") && !r.is_null("n") && !r.is_null("w"));
        assert_eq!(
            r.try_get_bytes("w"),
            Err(ColumnError::UnknownName("w".to_owned()))
        );
        assert_eq!(
            r.try_get(2),
            Err(ColumnError::OutOfRange {
                index: 2,
                columns: 2
            })
        );
        assert_eq!(r.columns(), &columns[..]);
        assert_eq!(format!("{r:?}"), "[Some(\"42\"), None]");
    }

    fn field(name: &str) -> FieldDescription {
        super::text_column(name)
    }

    #[test]
    fn names_are_looked_up_as_pqfnumber_does() {
        let columns: Vec<FieldDescription> = [
            "id", "Name", "id", "a\"b", "", "x y", "MiXeD", "mixed", "é", "É",
        ]
        .into_iter()
        .map(field)
        .collect();
        let cases: [(&str, Option<usize>); 22] = [
            // Unquoted: folded to lower case; the first of duplicate names wins.
            ("id", Some(0)),
            ("ID", Some(0)),
            ("iD", Some(0)),
            ("Name", None),
            ("name", None),
            ("NAME", None),
            ("mixed", Some(7)),
            ("MiXeD", Some(7)),
            // Quoted: as written, `""` inside quotes is one `"`.
            ("\"Name\"", Some(1)),
            ("\"name\"", None),
            ("\"MiXeD\"", Some(6)),
            ("\"id\"", Some(0)),
            ("\"a\"\"b\"", Some(3)),
            ("\"x y\"", Some(5)),
            ("x y", Some(5)),
            // A quoted part inside a longer name, and a quote left open.
            ("m\"iXeD", None),
            ("\"MiX\"e\"D", Some(6)),
            // Empty: nothing; `""` is the empty name.
            ("", None),
            ("\"\"", Some(4)),
            // Only ASCII letters are folded.
            ("é", Some(8)),
            ("É", Some(9)),
            ("nope", None),
        ];
        for (name, want) in cases {
            assert_eq!(column_position(&columns, name), want, "{name:?}");
        }
    }

    #[test]
    fn rows_and_result_rows_by_name_and_their_errors() {
        let mut rows = Rows::new(Arc::new(RowDescription {
            fields: vec![field("n"), field("Label"), field("n")],
        }));
        rows.push(&data_row(&[Some(b"1"), None, Some(b"2")]));
        let row = rows.get(0).unwrap_or_else(|| panic!("row 0"));
        assert_eq!(row.columns().len(), 3);
        assert_eq!(row.get("n").as_deref(), Some("1"));
        assert_eq!(row.get(String::from("N")).as_deref(), Some("1"));
        let owned = "n".to_owned();
        assert_eq!(row.get(&owned).as_deref(), Some("1"));
        let borrowed: &&str = &owned.as_str();
        assert_eq!(row.get(borrowed).as_deref(), Some("1"));
        assert_eq!(row.get_bytes("n"), Some(&b"1"[..]));
        assert_eq!(row.try_get("\"Label\""), Ok(None));
        assert!(row.is_null("\"Label\""));
        assert!(!row.is_null("Label"));
        assert_eq!(
            row.try_get("Label"),
            Err(ColumnError::UnknownName("Label".to_owned()))
        );
        assert_eq!(rows.column_position("LABEL"), None);
        assert_eq!(rows.column_position("\"Label\""), Some(1));
        assert_eq!(rows.iter().next(), Some(row));

        let values = vec![Some("7".to_owned()), None];
        let columns = [field("id"), field("note")];
        let r = ResultRow::new(&columns, &values);
        assert_eq!((r.len(), r.is_empty()), (2, false));
        assert_eq!(r.get("id"), Some("7"));
        assert_eq!(r.get(0), Some("7"));
        assert_eq!(r.try_get("note"), Ok(None));
        assert!(r.is_null(1) && !r.is_null(0) && !r.is_null(2));
        assert_eq!(r.values(), &values[..]);
        assert_eq!(r.columns(), &columns[..]);
        let unknown = r.try_get("nmae").unwrap_err();
        assert_eq!(unknown, ColumnError::UnknownName("nmae".to_owned()));
        assert_eq!(unknown.to_string(), "no column \"nmae\" in the result");
        let past = r.try_get(2).unwrap_err();
        assert_eq!(
            past.to_string(),
            "column index 2 is out of range for a row of 2 columns"
        );
        assert!(error::Error::source(&past).is_none());
    }

    /// The row APIs of the connection against a real server (on the async API, which
    /// `testing` alone does not build).
    #[cfg(all(feature = "testing", feature = "async"))]
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
