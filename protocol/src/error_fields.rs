//! ErrorResponse and NoticeResponse fields, and libpq's layout of them.

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
    /// Fields with codes this crate does not know, in arrival order.
    pub other: Vec<(u8, String)>,
}

impl ErrorFields {
    /// Decodes the body of an `E` or `N` message (`tag` is used in error texts).
    pub fn parse(tag: u8, body: &[u8]) -> Result<Self, crate::ProtocolError> {
        let _ = (tag, body);
        todo!()
    }

    /// The text libpq 13 builds for this error (`pqBuildErrorMessage3`, default verbosity),
    /// ending in `\n`. With `query`, a `P` position becomes the `LINE n:` and caret block;
    /// without it, ` at character N` is appended to the first line.
    pub fn libpq_text(&self, query: Option<&str>) -> String {
        let _ = query;
        todo!()
    }
}
