//! Escaping of names and server texts for people, and their width on a terminal.
//!
//! A database name, a role name, a locale or a server's message may hold anything but NUL:
//! newlines that forge table rows, terminal escapes (`ESC [ ...`, or the one-character C1
//! CSI U+009B) that a terminal would obey, bidi overrides that show text in another order
//! than it is. None of them reaches the output raw: each is shown as `\n`, `\t`, `\r` or
//! `\u{hex}` (Rust's notation).
//!
//! Three strengths, for three kinds of output:
//!
//! - [`cell`]: a table cell. Everything above is escaped, newline and tab included, and so
//!   is the backslash (`\\`), so that what is shown reads back to exactly one name: a name
//!   holding the two characters `\` `n` and one holding a newline never look alike.
//! - [`line`]: one line of text that is already a quoted representation (the `Debug` of a
//!   connection or a cluster, which doubles its own backslashes): newline and tab escaped,
//!   backslashes left as they are.
//! - [`message`]: an error message or a warning. libpq's and rex's texts are several lines
//!   and indent with tabs, byte for byte as the spec shows them, so newline and tab stay;
//!   everything else dangerous is escaped.

use unicode_width::UnicodeWidthStr;

/// Whether `c` is never written raw: control characters (C0, DEL and C1), the Unicode
/// bidirectional controls (embeddings and overrides U+202A–U+202E, isolates U+2066–U+2069,
/// the marks U+200E, U+200F and U+061C) and the line and paragraph separators U+2028 and
/// U+2029.
pub(crate) fn is_hazard(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{061c}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// Appends `c` escaped: `\n`, `\t`, `\r`, or `\u{hex}`.
fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        c => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
    }
}

/// A table cell: every hazard, newline and tab included, and the backslash escaped. The
/// result is one line that reads back to exactly one text.
pub(crate) fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if is_hazard(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// One line of an already quoted text (a `Debug` representation): every hazard escaped,
/// newline and tab included; backslashes left alone.
pub(crate) fn line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_hazard(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// An error message or warning: every hazard but newline and tab escaped (the spec's
/// multi-line texts keep their layout byte for byte).
pub(crate) fn message(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_hazard(c) && c != '\n' && c != '\t' {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// How many terminal columns `s` takes (Unicode Standard Annex #11): East Asian wide and
/// fullwidth characters count 2, combining marks and zero-width characters 0, others 1.
/// Meant for text already escaped by [`cell`] (control characters have no width).
pub(crate) fn width(s: &str) -> usize {
    s.width()
}

/// `s` followed by spaces up to `columns` terminal columns (nothing added if it is wider).
pub(crate) fn pad(s: &str, columns: usize) -> String {
    let mut out = String::with_capacity(s.len() + columns);
    out.push_str(s);
    for _ in width(s)..columns {
        out.push(' ');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_one_line_and_read_back_to_one_name() {
        assert_eq!(cell("plain_name"), "plain_name");
        assert_eq!(cell("a\nb"), "a\\nb");
        assert_eq!(cell("a\tb\rc"), "a\\tb\\rc");
        assert_eq!(cell("a\\nb"), "a\\\\nb");
        assert_eq!(cell("\u{1b}[31mred\u{1b}[0m"), "\\u{1b}[31mred\\u{1b}[0m");
        assert_eq!(cell("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(cell("\u{7f}\u{0}\u{1}\u{85}"), "\\u{7f}\\u{0}\\u{1}\\u{85}");
        assert_eq!(cell("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(cell("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
        assert_eq!(cell("a\u{2028}b\u{2029}"), "a\\u{2028}b\\u{2029}");
        assert_eq!(
            cell("\u{200f}\u{200e}\u{61c}"),
            "\\u{200f}\\u{200e}\\u{61c}"
        );
        // Printable text beyond ASCII stays as it is.
        assert_eq!(cell("数据库 café e\u{301}"), "数据库 café e\u{301}");
        assert_eq!(cell("quote\"s 'x'"), "quote\"s 'x'");
        for c in (0..0x20).chain(0x7f..0xa0).filter_map(char::from_u32) {
            assert!(!cell(&c.to_string()).contains(c), "{c:?}");
        }
    }

    #[test]
    fn every_bidi_override_and_isolate_is_a_hazard() {
        for c in ('\u{202a}'..='\u{202e}').chain('\u{2066}'..='\u{2069}') {
            assert!(is_hazard(c), "{c:?}");
        }
        for c in ['a', ' ', '数', '\u{301}', '\u{200b}', '\u{200d}', '\u{a0}'] {
            assert!(!is_hazard(c), "{c:?}");
        }
    }

    #[test]
    fn lines_keep_backslashes() {
        assert_eq!(line("dsn: 'dbname=a\\\\b'"), "dsn: 'dbname=a\\\\b'");
        assert_eq!(line("a\nb\tc\u{1b}"), "a\\nb\\tc\\u{1b}");
    }

    #[test]
    fn messages_keep_their_layout() {
        let libpq = "Failed to connect to the database server:\n    could not connect to \
                     server: Connection refused\n    \tIs the server running on host \
                     \"127.0.0.1\" and accepting\n    \tTCP/IP connections on port 2345?";
        assert_eq!(message(libpq), libpq);
        assert_eq!(message("C:\\dir"), "C:\\dir");
        assert_eq!(
            message("database \"\u{1b}]0;owned\u{7}\r\u{202e}\" does not exist"),
            "database \"\\u{1b}]0;owned\\u{7}\\r\\u{202e}\" does not exist"
        );
    }

    #[test]
    fn widths_count_terminal_columns() {
        assert_eq!(width(""), 0);
        assert_eq!(width("postgres"), 8);
        assert_eq!(width("数据库"), 6);
        assert_eq!(width("ｆｕｌｌ"), 8); // fullwidth forms
        assert_eq!(width("e\u{301}"), 1); // combining acute accent
        assert_eq!(width("a\u{200b}b"), 2); // zero-width space
        assert_eq!(width("é"), 1);
        assert_eq!(width(&cell("a\nb")), 4);
    }

    #[test]
    fn padding_is_by_columns() {
        assert_eq!(pad("ab", 4), "ab  ");
        assert_eq!(pad("数据", 6), "数据  ");
        assert_eq!(pad("e\u{301}", 3), "e\u{301}  ");
        assert_eq!(pad("toolong", 3), "toolong");
    }
}
