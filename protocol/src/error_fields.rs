//! ErrorResponse and NoticeResponse fields, and libpq's layout of them.

use crate::limits::MAX_UNKNOWN_ERROR_FIELDS;
use crate::reader::Reader;

/// The fields of an ErrorResponse or NoticeResponse. Every field is kept; text is decoded
/// lossily (a server may send invalid UTF-8).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorFields {
    /// `S`: localized severity (`ERROR`, `FATAL`, `NOTICE`, ...).
    pub severity: Option<String>,
    /// `V`: non-localized severity.
    pub severity_nonlocalized: Option<String>,
    /// `C`: SQLSTATE.
    pub code: Option<String>,
    /// `M`: primary message.
    pub message: Option<String>,
    /// `D`
    pub detail: Option<String>,
    /// `H`
    pub hint: Option<String>,
    /// `P`: 1-based character position in the query.
    pub position: Option<String>,
    /// `p`
    pub internal_position: Option<String>,
    /// `q`
    pub internal_query: Option<String>,
    /// `W`
    pub context: Option<String>,
    /// `s`
    pub schema: Option<String>,
    /// `t`
    pub table: Option<String>,
    /// `c`
    pub column: Option<String>,
    /// `d`
    pub data_type: Option<String>,
    /// `n`
    pub constraint: Option<String>,
    /// `F`
    pub file: Option<String>,
    /// `L`
    pub line: Option<String>,
    /// `R`
    pub routine: Option<String>,
    /// Fields with codes this crate does not know, in arrival order: the first
    /// [`MAX_UNKNOWN_ERROR_FIELDS`] of them (PostgreSQL sends none).
    pub other: Vec<(u8, String)>,
    /// How many more unknown fields arrived than [`ErrorFields::other`] keeps.
    pub other_dropped: usize,
    /// True for a NoticeResponse. libpq leaves CONTEXT out of a notice's text; set it for an
    /// ErrorResponse that libpq reports as a notice (one arriving while idle).
    pub is_notice: bool,
}

impl ErrorFields {
    /// Decodes the body of an `E` or `N` message (`tag` is used in error texts).
    ///
    /// A field code repeated keeps its last value, as `PQresultErrorField` does. A body
    /// without its terminating NUL, or with bytes after it, is `LengthMismatch { tag }`.
    ///
    /// What is kept costs at most the body's size plus a fixed amount
    /// ([`ErrorFields::kept_size`]; three times the size for invalid UTF-8, each bad byte
    /// becoming a 3-byte U+FFFD): one value per known code, and only the first
    /// [`MAX_UNKNOWN_ERROR_FIELDS`] unknown fields (the others are counted in
    /// [`ErrorFields::other_dropped`]).
    pub fn parse(tag: u8, body: &[u8]) -> Result<Self, crate::ProtocolError> {
        let mut r = Reader::new(tag, body);
        let mut fields = Self {
            is_notice: tag == b'N',
            ..Self::default()
        };
        loop {
            let code = r.u8()?;
            if code == 0 {
                break;
            }
            let value = r.string()?;
            if let Some(slot) = fields.slot(code) {
                *slot = Some(value);
            } else if fields.other.len() < MAX_UNKNOWN_ERROR_FIELDS {
                fields.other.push((code, value));
            } else {
                fields.other_dropped = fields.other_dropped.saturating_add(1);
            }
        }
        r.finish()?;
        Ok(fields)
    }

    /// The field for a known code.
    fn slot(&mut self, code: u8) -> Option<&mut Option<String>> {
        Some(match code {
            b'S' => &mut self.severity,
            b'V' => &mut self.severity_nonlocalized,
            b'C' => &mut self.code,
            b'M' => &mut self.message,
            b'D' => &mut self.detail,
            b'H' => &mut self.hint,
            b'P' => &mut self.position,
            b'p' => &mut self.internal_position,
            b'q' => &mut self.internal_query,
            b'W' => &mut self.context,
            b's' => &mut self.schema,
            b't' => &mut self.table,
            b'c' => &mut self.column,
            b'd' => &mut self.data_type,
            b'n' => &mut self.constraint,
            b'F' => &mut self.file,
            b'L' => &mut self.line,
            b'R' => &mut self.routine,
            _ => return None,
        })
    }

    /// The bytes these fields hold, as the bounded queues of notices count them: the
    /// struct itself and every value's allocation.
    pub fn kept_size(&self) -> usize {
        let known = [
            &self.severity,
            &self.severity_nonlocalized,
            &self.code,
            &self.message,
            &self.detail,
            &self.hint,
            &self.position,
            &self.internal_position,
            &self.internal_query,
            &self.context,
            &self.schema,
            &self.table,
            &self.column,
            &self.data_type,
            &self.constraint,
            &self.file,
            &self.line,
            &self.routine,
        ]
        .into_iter()
        .flatten()
        .map(String::capacity);
        let other = self.other.iter().map(|(_, v)| {
            v.capacity()
                .saturating_add(std::mem::size_of::<(u8, String)>())
        });
        known
            .chain(other)
            .fold(std::mem::size_of::<Self>(), usize::saturating_add)
    }

    /// True when no field at all was received.
    fn has_no_fields(&self) -> bool {
        *self
            == Self {
                is_notice: self.is_notice,
                ..Self::default()
            }
    }

    /// The text libpq 13 builds for this error (`pqBuildErrorMessage3`, default verbosity),
    /// ending in `\n`. With `query`, a `P` position becomes the `LINE n:` and caret block;
    /// without it, ` at character N` is appended to the first line.
    ///
    /// CONTEXT is left out when [`ErrorFields::is_notice`] is set.
    pub fn libpq_text(&self, query: Option<&str>) -> String {
        if self.has_no_fields() {
            return "no error message available\n".to_owned();
        }
        // Sized up front: grown by doubling instead, a large message's text would take
        // twice its size (and three times while being copied).
        let fields_len = [
            &self.severity,
            &self.message,
            &self.position,
            &self.internal_position,
            &self.detail,
            &self.hint,
            &self.internal_query,
            &self.context,
        ]
        .into_iter()
        .flatten()
        .map(String::len)
        .fold(0usize, usize::saturating_add);
        // Labels, newlines, and the LINE block (60 columns of up to 4 bytes, the caret line).
        let mut out = String::with_capacity(fields_len.saturating_add(16 * DISPLAY_SIZE));
        if let Some(severity) = &self.severity {
            out.push_str(severity);
            out.push_str(":  ");
        }
        if let Some(message) = &self.message {
            out.push_str(message);
        }
        let mut cursor: Option<(&str, &str)> = None;
        if let Some(position) = &self.position {
            match query {
                Some(query) => cursor = Some((query, position)),
                None => {
                    out.push_str(" at character ");
                    out.push_str(position);
                }
            }
        } else if let Some(position) = &self.internal_position {
            match &self.internal_query {
                Some(query) => cursor = Some((query, position)),
                None => {
                    out.push_str(" at character ");
                    out.push_str(position);
                }
            }
        }
        out.push('\n');
        if let Some((query, position)) = cursor {
            if let Some(loc) = atoi(position).checked_sub(1) {
                push_error_position(&mut out, query, loc);
            }
        }
        let labelled = [
            ("DETAIL:  ", &self.detail),
            ("HINT:  ", &self.hint),
            ("QUERY:  ", &self.internal_query),
        ];
        for (label, value) in labelled {
            if let Some(value) = value {
                out.push_str(label);
                out.push_str(value);
                out.push('\n');
            }
        }
        if !self.is_notice {
            if let Some(context) = &self.context {
                out.push_str("CONTEXT:  ");
                out.push_str(context);
                out.push('\n');
            }
        }
        out
    }
}

/// Screen width libpq keeps for the `LINE n:` display.
const DISPLAY_SIZE: usize = 60;
/// Columns libpq tries to keep to the right of the error.
const MIN_RIGHT_CUT: usize = 10;

/// C's `atoi` on a position field: optional blanks and sign, then digits; anything else
/// (or no digits) is 0. Saturates instead of overflowing. Only positive values matter.
fn atoi(s: &str) -> usize {
    let s = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..).unwrap_or_default()),
        Some(b'+') => (false, s.get(1..).unwrap_or_default()),
        _ => (false, s),
    };
    if negative {
        return 0;
    }
    digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0usize, |n, d| {
            n.saturating_mul(10).saturating_add(usize::from(d - b'0'))
        })
}

/// Screen columns of a character, as libpq's `pg_encoding_dsplen` for UTF-8 with zero and
/// negative widths counted as 1: East Asian wide characters take 2.
fn char_width(c: char) -> usize {
    let u = u32::from(c);
    let wide = u >= 0x1100
        && (u <= 0x115f
            || (0x2e80..=0xa4cf).contains(&u) && (u & !0x0011) != 0x300a && u != 0x303f
            || (0xac00..=0xd7a3).contains(&u)
            || (0xf900..=0xfaff).contains(&u)
            || (0xfe30..=0xfe6f).contains(&u)
            || (0xff00..=0xff5f).contains(&u)
            || (0xffe0..=0xffe6).contains(&u)
            || (0x20000..=0x2ffff).contains(&u));
    if wide {
        2
    } else {
        1
    }
}

/// Appends libpq's `LINE n: ...` line and caret line for the 0-based character `loc` of
/// `query` (libpq's `reportErrorPosition`). Nothing if `loc` is past the end.
fn push_error_position(out: &mut String, query: &str, loc: usize) {
    // Per character up to the end of the error's line: byte offset and screen column.
    // qidx/scridx hold one more entry, the end of the line.
    let mut qidx: Vec<usize> = Vec::new();
    let mut scridx: Vec<usize> = Vec::new();
    let mut loc_line = 1usize;
    let mut ibeg = 0usize;
    let mut iend = None;
    let mut scroffset = 0usize;
    let mut prev = None;
    for (cno, (offset, ch)) in query.char_indices().enumerate() {
        qidx.push(offset);
        scridx.push(scroffset);
        if ch == '\r' || ch == '\n' {
            if cno < loc {
                if ch == '\r' || prev != Some('\r') {
                    loc_line = loc_line.saturating_add(1);
                }
                ibeg = cno.saturating_add(1);
            } else {
                iend = Some(cno);
                break;
            }
        }
        scroffset = scroffset.saturating_add(char_width(ch));
        prev = Some(ch);
    }
    let iend = match iend {
        Some(i) => i,
        None => {
            qidx.push(query.len());
            scridx.push(scroffset);
            qidx.len().saturating_sub(1)
        }
    };
    // `loc` must be within the computed query length (libpq: loc <= cno).
    if loc > iend {
        return;
    }
    let col = |i: usize| scridx.get(i).copied().unwrap_or(0);
    let mut iend = iend;
    let mut beg_trunc = false;
    let mut end_trunc = false;
    if col(iend).saturating_sub(col(ibeg)) > DISPLAY_SIZE {
        if col(ibeg).saturating_add(DISPLAY_SIZE) >= col(loc).saturating_add(MIN_RIGHT_CUT) {
            while col(iend).saturating_sub(col(ibeg)) > DISPLAY_SIZE {
                iend = iend.saturating_sub(1);
            }
            end_trunc = true;
        } else {
            while col(loc).saturating_add(MIN_RIGHT_CUT) < col(iend) {
                iend = iend.saturating_sub(1);
                end_trunc = true;
            }
            while col(iend).saturating_sub(col(ibeg)) > DISPLAY_SIZE {
                ibeg = ibeg.saturating_add(1);
                beg_trunc = true;
            }
        }
    }
    let start = qidx.get(ibeg).copied().unwrap_or(0);
    let end = qidx.get(iend).copied().unwrap_or(query.len());
    let line = query.get(start..end).unwrap_or_default().replace('\t', " ");
    let prefix = format!("LINE {loc_line}: {}", if beg_trunc { "..." } else { "" });
    // The prefix is ASCII: one column per byte.
    let caret_col = prefix
        .len()
        .saturating_add(col(loc).saturating_sub(col(ibeg)));
    out.push_str(&prefix);
    out.push_str(&line);
    if end_trunc {
        out.push_str("...");
    }
    out.push('\n');
    out.push_str(&" ".repeat(caret_col));
    out.push_str("^\n");
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;
    use crate::ProtocolError;

    /// `(query, ErrorResponse body, libpq 13.3's PQresultErrorMessage)`. The bodies were
    /// captured from a PostgreSQL 15.18 server (`lc_messages=C`, client_encoding UTF8) with a
    /// Python socket script sending a startup packet and one Query message
    /// (`protocol/tests/data/capture.py`); the texts are
    /// `rexref exec 'host=/tmp/sock port=N dbname=postgres' QUERY` against the same server.
    const CAPTURED: &[(&str, &[u8], &str)] = &[
            (
                "selec 1",
                b"SERROR\x00VERROR\x00C42601\x00Msyntax error at or near \x22selec\x22\x00P1\x00Fscan.l\x00L1188\x00Rscanner_yyerror\x00\x00",
                "ERROR:  syntax error at or near \"selec\"\nLINE 1: selec 1\n        ^\n",
            ),
            (
                "select * from foo",
                b"SERROR\x00VERROR\x00C42P01\x00Mrelation \x22foo\x22 does not exist\x00P15\x00Fparse_relation.c\x00L1392\x00RparserOpenTable\x00\x00",
                "ERROR:  relation \"foo\" does not exist\nLINE 1: select * from foo\n                      ^\n",
            ),
            (
                "SELECT\t'a'\t+ nosuch",
                b"SERROR\x00VERROR\x00C42703\x00Mcolumn \x22nosuch\x22 does not exist\x00P14\x00Fparse_relation.c\x00L3665\x00RerrorMissingColumn\x00\x00",
                "ERROR:  column \"nosuch\" does not exist\nLINE 1: SELECT 'a' + nosuch\n                     ^\n",
            ),
            (
                "SELECT 1;\n\tSELECT * FROM nosuch_table_with_a_rather_long_name_that_goes_on_and_on WHERE x = 1 AND y = 2",
                b"SERROR\x00VERROR\x00C42P01\x00Mrelation \x22nosuch_table_with_a_rather_long_name_that_goes_on_and_on\x22 does not exist\x00P26\x00Fparse_relation.c\x00L1392\x00RparserOpenTable\x00\x00",
                "ERROR:  relation \"nosuch_table_with_a_rather_long_name_that_goes_on_and_on\" does not exist\nLINE 2:  SELECT * FROM nosuch_table_with_a_rather_long_name_that_goe...\n                       ^\n",
            ),
            (
                "DO $$BEGIN RAISE EXCEPTION 'boom' USING DETAIL = 'd1', HINT = 'h1'; END$$",
                b"SERROR\x00VERROR\x00CP0001\x00Mboom\x00Dd1\x00Hh1\x00WPL/pgSQL function inline_code_block line 1 at RAISE\x00Fpl_exec.c\x00L3891\x00Rexec_stmt_raise\x00\x00",
                "ERROR:  boom\nDETAIL:  d1\nHINT:  h1\nCONTEXT:  PL/pgSQL function inline_code_block line 1 at RAISE\n",
            ),
            (
                "select 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + nosuch_col",
                b"SERROR\x00VERROR\x00C42703\x00Mcolumn \x22nosuch_col\x22 does not exist\x00P100\x00Fparse_relation.c\x00L3665\x00RerrorMissingColumn\x00\x00",
                "ERROR:  column \"nosuch_col\" does not exist\nLINE 1: ...+ 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + nosuch_col\n                                                             ^\n",
            ),
            (
                "select 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + nosuch_col + 2 + 2 + 2 + 2 + 2 + 2 + 2 + 2 + 2 + 2 + 2 + 2 + 2 + 2",
                b"SERROR\x00VERROR\x00C42703\x00Mcolumn \x22nosuch_col\x22 does not exist\x00P100\x00Fparse_relation.c\x00L3665\x00RerrorMissingColumn\x00\x00",
                "ERROR:  column \"nosuch_col\" does not exist\nLINE 1: ...+ 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + nosuch_col...\n                                                             ^\n",
            ),
            (
                "select '日本語日本語日本語日本語日本語日本語' || 'ééééééééééééééééé' || nosuch_col || 'x'",
                b"SERROR\x00VERROR\x00C42703\x00Mcolumn \x22nosuch_col\x22 does not exist\x00P55\x00Fparse_relation.c\x00L3665\x00RerrorMissingColumn\x00\x00",
                "ERROR:  column \"nosuch_col\" does not exist\nLINE 1: ...本語日本語日本語日本語' || 'ééééééééééééééééé' || nosuch_col...\n                                                             ^\n",
            ),
            (
                "select 'ééé', 1,\r\n  nosuch_col",
                b"SERROR\x00VERROR\x00C42703\x00Mcolumn \x22nosuch_col\x22 does not exist\x00P21\x00Fparse_relation.c\x00L3665\x00RerrorMissingColumn\x00\x00",
                "ERROR:  column \"nosuch_col\" does not exist\nLINE 2:   nosuch_col\n          ^\n",
            ),
            (
                "select 1,\r\r\n\n nosuch_col",
                b"SERROR\x00VERROR\x00C42703\x00Mcolumn \x22nosuch_col\x22 does not exist\x00P15\x00Fparse_relation.c\x00L3665\x00RerrorMissingColumn\x00\x00",
                "ERROR:  column \"nosuch_col\" does not exist\nLINE 4:  nosuch_col\n         ^\n",
            ),
            (
                "select (",
                b"SERROR\x00VERROR\x00C42601\x00Msyntax error at end of input\x00P9\x00Fscan.l\x00L1180\x00Rscanner_yyerror\x00\x00",
                "ERROR:  syntax error at end of input\nLINE 1: select (\n                ^\n",
            ),
            (
                "DO $$BEGIN PERFORM nosuch_col FROM pg_class; END$$",
                b"SERROR\x00VERROR\x00C42703\x00Mcolumn \x22nosuch_col\x22 does not exist\x00WPL/pgSQL function inline_code_block line 1 at PERFORM\x00p8\x00qSELECT nosuch_col FROM pg_class\x00Fparse_relation.c\x00L3665\x00RerrorMissingColumn\x00\x00",
                "ERROR:  column \"nosuch_col\" does not exist\nLINE 1: SELECT nosuch_col FROM pg_class\n               ^\nQUERY:  SELECT nosuch_col FROM pg_class\nCONTEXT:  PL/pgSQL function inline_code_block line 1 at PERFORM\n",
            ),
            (
                "CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql AS 'select nosuch_col'",
                b"SERROR\x00VERROR\x00C42703\x00Mcolumn \x22nosuch_col\x22 does not exist\x00P65\x00Fparse_relation.c\x00L3665\x00RerrorMissingColumn\x00\x00",
                "ERROR:  column \"nosuch_col\" does not exist\nLINE 1: ...N pg_temp.f() RETURNS int LANGUAGE sql AS 'select nosuch_col...\n                                                             ^\n",
            ),
            (
                "select 1/0",
                b"SERROR\x00VERROR\x00C22012\x00Mdivision by zero\x00Fint.c\x00L869\x00Rint4div\x00\x00",
                "ERROR:  division by zero\n",
            ),
            (
                "select \"\"",
                b"SERROR\x00VERROR\x00C42601\x00Mzero-length delimited identifier at or near \x22\x22\x22\x22\x00P8\x00Fscan.l\x00L1188\x00Rscanner_yyerror\x00\x00",
                "ERROR:  zero-length delimited identifier at or near \"\"\"\"\nLINE 1: select \"\"\n               ^\n",
            ),
        ];

    #[test]
    fn captured_errors_render_as_libpq_13() {
        for (query, body, text) in CAPTURED {
            let fields = ErrorFields::parse(b'E', body).unwrap();
            assert_eq!(fields.libpq_text(Some(query)), *text, "query {query:?}");
        }
    }

    #[test]
    fn parse_keeps_every_field() {
        let (_, body, _) = CAPTURED[11];
        let f = ErrorFields::parse(b'E', body).unwrap();
        assert_eq!(f.severity.as_deref(), Some("ERROR"));
        assert_eq!(f.severity_nonlocalized.as_deref(), Some("ERROR"));
        assert_eq!(f.code.as_deref(), Some("42703"));
        assert_eq!(
            f.message.as_deref(),
            Some("column \"nosuch_col\" does not exist")
        );
        assert_eq!(f.internal_position.as_deref(), Some("8"));
        assert_eq!(
            f.internal_query.as_deref(),
            Some("SELECT nosuch_col FROM pg_class")
        );
        assert_eq!(
            f.context.as_deref(),
            Some("PL/pgSQL function inline_code_block line 1 at PERFORM")
        );
        assert_eq!(f.file.as_deref(), Some("parse_relation.c"));
        assert_eq!(f.line.as_deref(), Some("3665"));
        assert_eq!(f.routine.as_deref(), Some("errorMissingColumn"));
        assert_eq!(f.position, None);
        assert!(f.other.is_empty());
        assert!(!f.is_notice);

        let body = b"SERROR\0s public\0ttab\0ccol\0dint4\0ncon\0Xodd\0Xtwo\0Mfirst\0Msecond\0\0";
        let f = ErrorFields::parse(b'N', body).unwrap();
        assert_eq!(f.schema.as_deref(), Some(" public"));
        assert_eq!(f.table.as_deref(), Some("tab"));
        assert_eq!(f.column.as_deref(), Some("col"));
        assert_eq!(f.data_type.as_deref(), Some("int4"));
        assert_eq!(f.constraint.as_deref(), Some("con"));
        assert_eq!(
            f.other,
            vec![(b'X', "odd".to_owned()), (b'X', "two".to_owned())]
        );
        // The last of a repeated field wins, as in PQresultErrorField.
        assert_eq!(f.message.as_deref(), Some("second"));
        assert!(f.is_notice);
    }

    #[test]
    fn parse_errors_are_length_mismatch() {
        let text = |tag, body: &[u8]| ErrorFields::parse(tag, body).unwrap_err().to_string();
        // Missing terminator, a field without its NUL, bytes after the terminator, empty.
        assert_eq!(
            text(b'E', b"SERROR\0Mx\0"),
            "message contents do not agree with length in message type \"E\""
        );
        assert_eq!(
            text(b'N', b"SERROR\0Mx"),
            "message contents do not agree with length in message type \"N\""
        );
        assert_eq!(
            ErrorFields::parse(b'E', b"Mx\0\0junk"),
            Err(ProtocolError::LengthMismatch { tag: b'E' })
        );
        assert_eq!(
            ErrorFields::parse(b'E', b""),
            Err(ProtocolError::LengthMismatch { tag: b'E' })
        );
    }

    /// A body of empty unknown fields (2 bytes each on the wire) keeps 16 of them and
    /// counts the rest; what is kept stays within the body's size plus a fixed amount.
    #[test]
    fn unknown_fields_are_capped() {
        let mut body = b"SERROR\0Mboom\0".to_vec();
        for _ in 0..100_000 {
            body.extend_from_slice(b"X\0");
        }
        body.extend_from_slice(b"Yone\0\0");
        let f = ErrorFields::parse(b'E', &body).unwrap();
        assert_eq!(f.other.len(), MAX_UNKNOWN_ERROR_FIELDS);
        assert_eq!(f.other[0], (b'X', String::new()));
        assert_eq!(f.other_dropped, 100_001 - MAX_UNKNOWN_ERROR_FIELDS);
        assert_eq!(f.libpq_text(None), "ERROR:  boom\n");
        assert!(f.kept_size() < 1000, "{}", f.kept_size());
        // Known fields: the values, and a fixed amount.
        let big = "m".repeat(1 << 20);
        let f = ErrorFields::parse(b'N', format!("M{big}\0D{big}\0\0").as_bytes()).unwrap();
        assert!(f.kept_size() <= (2 << 20) + 1000, "{}", f.kept_size());
    }

    #[test]
    fn invalid_utf8_is_decoded_lossily() {
        let f = ErrorFields::parse(b'E', b"SERROR\0Mbad \xff\xfe byte\0\0").unwrap();
        assert_eq!(f.libpq_text(None), "ERROR:  bad \u{fffd}\u{fffd} byte\n");
        // Each bad byte is three in the text, and no more is kept than the text holds
        // (the fuzz target error_fields found 7037 bytes kept for a body of 1643: the
        // decoded string's spare capacity).
        let mut body = b"SERROR\0M".to_vec();
        body.extend(std::iter::repeat_n(0xc6, 1600));
        body.extend_from_slice(b"\0\0");
        let f = ErrorFields::parse(b'E', &body).unwrap();
        assert_eq!(f.message.as_deref().map(str::len), Some(3 * 1600));
        assert!(f.kept_size() <= 3 * body.len() + 2000, "{}", f.kept_size());
    }

    /// libpq 13.3 against a scripted server (messages.md §6.1, [verified] F).
    #[test]
    fn position_without_query_is_at_character() {
        let body = b"SFATAL\0Mm\0P3\0Dd\0Hh\0qselect 1\0Ww\0\0";
        let f = ErrorFields::parse(b'E', body).unwrap();
        assert_eq!(
            f.libpq_text(None),
            "FATAL:  m at character 3\nDETAIL:  d\nHINT:  h\nQUERY:  select 1\nCONTEXT:  w\n"
        );
    }

    #[test]
    fn no_severity_and_multiline_fields() {
        let body = b"Mfirst line\nsecond line\0Ddetail one\n\ndetail after blank\0Ha hint\0Wsome context\0\0";
        let f = ErrorFields::parse(b'E', body).unwrap();
        assert_eq!(
            f.libpq_text(Some("select 1")),
            "first line\nsecond line\nDETAIL:  detail one\n\ndetail after blank\nHINT:  a hint\nCONTEXT:  some context\n"
        );
    }

    #[test]
    fn notices_have_no_context() {
        let body = b"SNOTICE\0Mhello\0Dd\0Wctx\0\0";
        let f = ErrorFields::parse(b'N', body).unwrap();
        assert_eq!(f.libpq_text(None), "NOTICE:  hello\nDETAIL:  d\n");
        let mut f = ErrorFields::parse(b'E', body).unwrap();
        assert_eq!(
            f.libpq_text(None),
            "NOTICE:  hello\nDETAIL:  d\nCONTEXT:  ctx\n"
        );
        f.is_notice = true;
        assert_eq!(f.libpq_text(None), "NOTICE:  hello\nDETAIL:  d\n");
    }

    #[test]
    fn no_fields_at_all() {
        let f = ErrorFields::parse(b'E', b"\0").unwrap();
        assert_eq!(f.libpq_text(None), "no error message available\n");
        let f = ErrorFields::parse(b'E', b"Z\0\0").unwrap();
        assert_eq!(f.libpq_text(None), "\n");
    }

    #[test]
    fn odd_positions() {
        let text = |pos: &str, query: &str| {
            let body = format!("SERROR\0Mm\0P{pos}\0\0");
            ErrorFields::parse(b'E', body.as_bytes())
                .unwrap()
                .libpq_text(Some(query))
        };
        // Not a number, zero, negative: no cursor and no " at character".
        assert_eq!(text("abc", "select 1"), "ERROR:  m\n");
        assert_eq!(text("0", "select 1"), "ERROR:  m\n");
        assert_eq!(text("-3", "select 1"), "ERROR:  m\n");
        // Past the end of the query: nothing; just past the last character: caret there.
        assert_eq!(text("10", "select 1"), "ERROR:  m\n");
        assert_eq!(
            text("9", "select 1"),
            "ERROR:  m\nLINE 1: select 1\n                ^\n"
        );
        // atoi: leading blanks and sign, trailing junk, overflow saturates.
        assert_eq!(
            text(" +2x", "select 1"),
            "ERROR:  m\nLINE 1: select 1\n         ^\n"
        );
        assert_eq!(text("99999999999999999999999", "select 1"), "ERROR:  m\n");
        // Empty query.
        assert_eq!(text("1", ""), "ERROR:  m\nLINE 1: \n        ^\n");
    }

    #[test]
    fn internal_position_without_internal_query() {
        let f = ErrorFields::parse(b'E', b"SERROR\0Mm\0p4\0\0").unwrap();
        assert_eq!(f.libpq_text(Some("select 1")), "ERROR:  m at character 4\n");
    }

    #[test]
    fn huge_line_stays_bounded() {
        let query = format!("select {}x", "1 + ".repeat(100_000));
        let pos = query.chars().count().to_string();
        let body = format!("SERROR\0Mm\0P{pos}\0\0");
        let text = ErrorFields::parse(b'E', body.as_bytes())
            .unwrap()
            .libpq_text(Some(&query));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[1],
            "LINE 1: ... + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + x"
        );
        assert_eq!(lines[2].len(), 8 + 3 + 60);
    }
}
