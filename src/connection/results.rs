//! Conveniences on [`QueryResult`]: column names and types, rows with values by column
//! name, the affected row count.

use super::session::QueryResult;
use crate::rows::{self, ResultRow, ResultRows};

impl QueryResult {
    /// The column names, in order (empty when the statement returns no rows).
    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    /// The columns' data type OIDs, in order (e.g. 23 for `int4`, 25 for `text`).
    pub fn column_types(&self) -> Vec<u32> {
        self.columns.iter().map(|c| c.type_oid).collect()
    }

    /// The position of the first column named `name` (exact, case-sensitive match). To
    /// look a name up as libpq's `PQfnumber` does (and as `get("name")` on a row does),
    /// use [`QueryResult::column_position`].
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The position of column `name`, looked up as libpq's `PQfnumber` does: unquoted
    /// letters folded to lower case, double-quoted parts as they are, the first of
    /// several columns of that name (see [`rows::column_position`]).
    pub fn column_position(&self, name: &str) -> Option<usize> {
        rows::column_position(&self.columns, name)
    }

    /// Row `i` with the result's columns, so that values can be read by column name; `None`
    /// past the last row.
    ///
    /// ```
    /// # fn demo(result: &pgcluster::connection::QueryResult) -> Option<()> {
    /// let row = result.row(0)?;
    /// let name: Option<&str> = row.get("datname");
    /// # let _ = name; Some(()) }
    /// ```
    pub fn row(&self, i: usize) -> Option<ResultRow<'_>> {
        self.rows
            .get(i)
            .map(|values| ResultRow::new(&self.columns, values))
    }

    /// The rows in order, each with the result's columns (see [`QueryResult::row`]);
    /// `for row in &result` does the same.
    pub fn iter(&self) -> ResultRows<'_> {
        ResultRows::new(&self.columns, &self.rows)
    }

    /// The row count of the command tag (`INSERT 0 3`, `UPDATE 2`, `SELECT 5`, `COPY 4`,
    /// ...): its last word, when that is a number. `None` for tags without one (`CREATE
    /// TABLE`, `BEGIN`) and for an empty query.
    pub fn rows_affected(&self) -> Option<u64> {
        let (_, last) = self.tag.rsplit_once(' ')?;
        last.parse().ok()
    }
}

impl<'a> IntoIterator for &'a QueryResult {
    type Item = ResultRow<'a>;
    type IntoIter = ResultRows<'a>;

    fn into_iter(self) -> ResultRows<'a> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgcluster_protocol::backend::FieldDescription;

    fn field(name: &str, type_oid: u32) -> FieldDescription {
        FieldDescription {
            name: name.to_owned(),
            table_oid: 0,
            column_id: 0,
            type_oid,
            type_size: -1,
            type_modifier: -1,
            format: 0,
        }
    }

    fn result(columns: Vec<FieldDescription>, tag: &str) -> QueryResult {
        QueryResult {
            columns,
            rows: Vec::new(),
            tag: tag.to_owned(),
        }
    }

    #[test]
    fn names_types_and_positions() {
        let r = result(
            vec![field("id", 23), field("Name", 25), field("id", 20)],
            "SELECT 0",
        );
        assert_eq!(r.column_names(), vec!["id", "Name", "id"]);
        assert_eq!(r.column_types(), vec![23, 25, 20]);
        assert_eq!(r.column_index("id"), Some(0));
        assert_eq!(r.column_index("Name"), Some(1));
        assert_eq!(r.column_index("name"), None);
    }

    #[test]
    fn rows_with_their_columns() {
        let mut r = result(vec![field("id", 23), field("Name", 25)], "SELECT 2");
        r.rows = vec![
            vec![Some("1".to_owned()), Some("one".to_owned())],
            vec![Some("2".to_owned()), None],
        ];
        assert_eq!(r.column_position("NAME"), None);
        assert_eq!(r.column_position("\"Name\""), Some(1));
        assert_eq!(r.row(1).and_then(|row| row.get("ID")), Some("2"));
        assert!(r.row(2).is_none());
        let names: Vec<Option<&str>> = (&r).into_iter().map(|row| row.get("\"Name\"")).collect();
        assert_eq!(names, vec![Some("one"), None]);
        let mut iter = r.iter();
        assert_eq!(iter.len(), 2);
        assert_eq!(
            iter.next_back().map(|row| row.values()),
            Some(&r.rows[1][..])
        );
        assert_eq!(iter.next().and_then(|row| row.get(0)), Some("1"));
        assert!(iter.next().is_none());
    }

    #[test]
    fn row_counts_from_tags() {
        let tags = [
            ("INSERT 0 3", Some(3)),
            ("UPDATE 2", Some(2)),
            ("SELECT 18446744073709551615", Some(u64::MAX)),
            ("COPY 4", Some(4)),
            ("CREATE TABLE", None),
            ("BEGIN", None),
            ("SELECT 18446744073709551616", None),
            ("", None),
        ];
        for (tag, count) in tags {
            assert_eq!(result(Vec::new(), tag).rows_affected(), count, "{tag:?}");
        }
    }
}
