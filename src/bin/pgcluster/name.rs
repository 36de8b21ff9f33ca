//! Database names on the command line: any bytes the shell passes. One that is not UTF-8
//! is refused as the library refuses any invalid name (exit status 1, `Error: Invalid
//! database name "caf\xe9": it is not valid UTF-8`), not by clap as a usage error.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;

use clap::builder::{OsStringValueParser, TypedValueParser};

use crate::output::Failure;

/// A NAME argument: the name, or the refusal of one that is not UTF-8.
#[derive(Clone, Debug)]
pub(crate) struct NameArg(Result<String, String>);

impl NameArg {
    /// The value parser for `#[arg(value_parser = NameArg::parser())]`: it takes any bytes.
    pub(crate) fn parser() -> impl TypedValueParser<Value = Self> {
        OsStringValueParser::new().map(|os: OsString| Self::from_os(&os))
    }

    fn from_os(os: &OsStr) -> Self {
        Self(match os.to_str() {
            Some(name) => Ok(name.to_owned()),
            None => Err(format!(
                "Invalid database name \"{}\": it is not valid UTF-8",
                escaped_bytes(os.as_bytes())
            )),
        })
    }

    /// The name, or the failure to report (before anything is sent).
    pub(crate) fn get(&self) -> Result<&str, Failure> {
        self.0
            .as_deref()
            .map_err(|refusal| Failure::operation(refusal.as_str()))
    }
}

/// The name of an optional NAME argument, if given.
pub(crate) fn optional(name: &Option<NameArg>) -> Result<Option<&str>, Failure> {
    name.as_ref().map(NameArg::get).transpose()
}

/// The bytes as Rust's `escape_debug` shows text, each byte that is not part of a UTF-8
/// character as `\xNN`.
fn escaped_bytes(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        out.extend(chunk.valid().escape_debug());
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_names_pass_and_others_are_refused_as_invalid_names() {
        let ok = NameArg::from_os(OsStr::new("café \"x\""));
        assert_eq!(ok.get().ok(), Some("café \"x\""));
        let bad = NameArg::from_os(OsStr::from_bytes(b"caf\xe9\n\"\xff"));
        assert!(matches!(
            bad.get(),
            Err(Failure::Operation { text, .. })
                if text == "Invalid database name \"caf\\xe9\\n\\\"\\xff\": it is not valid UTF-8"
        ));
    }
}
