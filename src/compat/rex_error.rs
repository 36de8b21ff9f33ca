//! rex.core's error text: a message and its payload, laid out as `Error.__str__` does.
//! [`crate::Error`]'s `Display` is built on it.

use std::fmt;

/// rex.core's `Error.__str__`: the message, then each line of the payload (split as
/// Python's `str.splitlines`) indented by four spaces, empty lines left empty.
pub(crate) fn rex_layout(f: &mut fmt::Formatter<'_>, message: &str, payload: &str) -> fmt::Result {
    f.write_str(message)?;
    f.write_str("\n")?;
    for (i, line) in splitlines(payload).enumerate() {
        if i > 0 {
            f.write_str("\n")?;
        }
        if !line.is_empty() {
            f.write_str("    ")?;
            f.write_str(line)?;
        }
    }
    Ok(())
}

/// Python's `str.splitlines()`: no trailing empty piece after a final line break.
fn splitlines(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = s;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        for (i, c) in rest.char_indices() {
            let brk = matches!(
                c,
                '\n' | '\r'
                    | '\x0b'
                    | '\x0c'
                    | '\x1c'
                    | '\x1d'
                    | '\x1e'
                    | '\u{85}'
                    | '\u{2028}'
                    | '\u{2029}'
            );
            if brk {
                let line = &rest[..i];
                let mut next = i + c.len_utf8();
                if c == '\r' && rest[next..].starts_with('\n') {
                    next += 1;
                }
                rest = &rest[next..];
                return Some(line);
            }
        }
        let line = rest;
        rest = "";
        Some(line)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitlines_matches_python() {
        let v: Vec<&str> = splitlines("a\r\nb\rc\x0bd\u{2028}e\n").collect();
        assert_eq!(v, ["a", "b", "c", "d", "e"]);
        let v: Vec<&str> = splitlines("a\n\nb").collect();
        assert_eq!(v, ["a", "", "b"]);
    }
}
