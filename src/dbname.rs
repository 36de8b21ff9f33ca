//! Database names: checked before any I/O, always sent as quoted identifiers.
//!
//! Public as [`crate::cluster::name`]; here, below [`crate::error`], so that the error type
//! can hold a [`NameError`] without importing from the cluster layer.

use std::fmt;

/// PostgreSQL's identifier limit (`NAMEDATALEN - 1`). A longer name is silently cut by the
/// server, so an operation would act on a different database.
pub const MAX_NAME_BYTES: usize = 63;

/// Why a database name was refused before anything was sent.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    /// The name is empty.
    Empty,
    /// The name is longer than [`MAX_NAME_BYTES`].
    TooLong {
        /// The name as given.
        name: String,
    },
    /// The name contains a NUL byte, which no PostgreSQL name can hold.
    Nul {
        /// The name as given.
        name: String,
    },
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("Invalid database name: the name is empty"),
            Self::TooLong { name } => write!(
                f,
                "Invalid database name \"{}\": it is {} bytes long, and PostgreSQL names are at \
                 most {MAX_NAME_BYTES} bytes (the server would cut it and act on another name)",
                name.escape_debug(),
                name.len()
            ),
            Self::Nul { name } => write!(
                f,
                "Invalid database name \"{}\": it contains a NUL byte",
                name.escape_debug()
            ),
        }
    }
}

impl std::error::Error for NameError {}

/// Checks a database name: not empty, at most 63 bytes, no NUL.
pub fn check(name: &str) -> Result<&str, NameError> {
    if name.is_empty() {
        Err(NameError::Empty)
    } else if name.len() > MAX_NAME_BYTES {
        Err(NameError::TooLong { name: name.into() })
    } else if name.contains('\0') {
        Err(NameError::Nul { name: name.into() })
    } else {
        Ok(name)
    }
}

/// A checked name as a quoted SQL identifier: `"` doubled, wrapped in `"`.
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_doubles_quotes_only() {
        assert_eq!(quote_ident("deploy_demo"), "\"deploy_demo\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_ident("Mixed Case; DROP"), "\"Mixed Case; DROP\"");
        assert_eq!(quote_ident("back\\slash'"), "\"back\\slash'\"");
    }

    #[test]
    fn limits_are_in_bytes() {
        let ok = "é".repeat(31) + "x"; // 63 bytes
        assert_eq!(check(&ok), Ok(ok.as_str()));
        let long = "é".repeat(32); // 64 bytes
        assert_eq!(
            check(&long).unwrap_err().to_string(),
            format!(
                "Invalid database name \"{long}\": it is 64 bytes long, and PostgreSQL names are \
                 at most 63 bytes (the server would cut it and act on another name)"
            )
        );
        assert_eq!(
            check("").unwrap_err().to_string(),
            "Invalid database name: the name is empty"
        );
        assert_eq!(
            check("a\0b").unwrap_err().to_string(),
            "Invalid database name \"a\\0b\": it contains a NUL byte"
        );
    }
}
