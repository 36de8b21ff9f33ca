//! `--json`: one JSON object per result on stdout, errors as one object on stderr. A small
//! value type rendered compactly (no blanks), strings escaped so that a terminal obeys
//! nothing in them (control characters, bidi controls and line separators as `\uXXXX`).

use pgcluster::ErrorFields;

use crate::escape;

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(&'static str, Json)>),
}

impl Json {
    /// An object with these fields, in this order.
    pub(crate) fn object(fields: impl IntoIterator<Item = (&'static str, Json)>) -> Self {
        Self::Object(fields.into_iter().collect())
    }

    /// The compact text.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Self::Null => out.push_str("null"),
            Self::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Self::Int(n) => out.push_str(&n.to_string()),
            Self::UInt(n) => out.push_str(&n.to_string()),
            Self::Str(s) => out.push_str(&string(s)),
            Self::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Self::Object(fields) => {
                out.push('{');
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&string(key));
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

impl From<&str> for Json {
    fn from(s: &str) -> Self {
        Self::Str(s.to_owned())
    }
}

impl From<String> for Json {
    fn from(s: String) -> Self {
        Self::Str(s)
    }
}

impl From<bool> for Json {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

impl From<i32> for Json {
    fn from(n: i32) -> Self {
        Self::Int(n.into())
    }
}

impl From<u64> for Json {
    fn from(n: u64) -> Self {
        Self::UInt(n)
    }
}

impl<T: Into<Json>> From<Option<T>> for Json {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Null, Into::into)
    }
}

impl<T: Into<Json>> From<Vec<T>> for Json {
    fn from(items: Vec<T>) -> Self {
        Self::Array(items.into_iter().map(Into::into).collect())
    }
}

/// A JSON string: `"` and `\` escaped, `\n`, `\r`, `\t`, and every other character a
/// terminal would obey as `\uXXXX` (all of them are in the BMP).
pub(crate) fn string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if escape::is_hazard(c) => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The server's error fields, by their names in PostgreSQL's protocol documentation
/// (`code` is the SQLSTATE); only those the server sent.
pub(crate) fn server_fields(f: &ErrorFields) -> Json {
    let named: [(&'static str, &Option<String>); 18] = [
        ("severity", &f.severity),
        ("severity_nonlocalized", &f.severity_nonlocalized),
        ("code", &f.code),
        ("message", &f.message),
        ("detail", &f.detail),
        ("hint", &f.hint),
        ("position", &f.position),
        ("internal_position", &f.internal_position),
        ("internal_query", &f.internal_query),
        ("context", &f.context),
        ("schema", &f.schema),
        ("table", &f.table),
        ("column", &f.column),
        ("data_type", &f.data_type),
        ("constraint", &f.constraint),
        ("file", &f.file),
        ("line", &f.line),
        ("routine", &f.routine),
    ];
    Json::object(
        named
            .into_iter()
            .filter_map(|(key, value)| value.as_deref().map(|v| (key, Json::from(v)))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_escaped() {
        let value = Json::object([
            ("a", Json::from("x\"\\\n\u{1b}\u{9b}\u{202e}\u{2028}数")),
            ("b", Json::from(vec![Json::Null, true.into(), (-1).into()])),
            ("c", Json::from(Some(7_u64))),
            ("d", Json::from(None::<bool>)),
        ]);
        assert_eq!(
            value.render(),
            "{\"a\":\"x\\\"\\\\\\n\\u001b\\u009b\\u202e\\u2028数\",\"b\":[null,true,-1],\"c\":7,\"d\":null}"
        );
    }

    #[test]
    fn server_fields_by_name() {
        let mut f = ErrorFields::default();
        f.severity = Some("ERROR".into());
        f.code = Some("3D000".into());
        f.message = Some("database \"x\" does not exist".into());
        assert_eq!(
            server_fields(&f).render(),
            r#"{"severity":"ERROR","code":"3D000","message":"database \"x\" does not exist"}"#
        );
    }
}
