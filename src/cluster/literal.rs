//! SQL string literals, for the few values that cannot be identifiers (a comment, a setting's
//! value, ICU rules).

/// `value` as a string literal that means the same whatever `standard_conforming_strings`
/// says: each `'` and `\` doubled, and an `E` before the opening quote when there is a
/// backslash (what libpq's `PQescapeLiteral` and the server's `quote_literal` do). `None` if
/// `value` holds a NUL byte, which no PostgreSQL text can.
pub(crate) fn quote_literal(value: &str) -> Option<String> {
    if value.contains('\0') {
        return None;
    }
    let mut out = String::with_capacity(value.len().saturating_add(3));
    if value.contains('\\') {
        out.push('E');
    }
    out.push('\'');
    for c in value.chars() {
        if c == '\'' || c == '\\' {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::quote_literal;

    #[test]
    fn quotes_and_backslashes_are_doubled() {
        assert_eq!(quote_literal("plain").as_deref(), Some("'plain'"));
        assert_eq!(quote_literal("").as_deref(), Some("''"));
        assert_eq!(quote_literal("it's").as_deref(), Some("'it''s'"));
        assert_eq!(
            quote_literal(r"a\b'c").as_deref(),
            Some(r"E'a\\b''c'"),
            "E'' syntax whenever there is a backslash"
        );
        assert_eq!(quote_literal("\"$user\"").as_deref(), Some("'\"$user\"'"));
        assert_eq!(quote_literal("ünï\ncødé").as_deref(), Some("'ünï\ncødé'"));
        assert_eq!(quote_literal("a\0b"), None);
    }
}
