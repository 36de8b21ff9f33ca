//! Where a setting's `scheme://` ends: libpq's two URI designators, and any scheme at all
//! (rex's `pgsql://`, or a URI quoted in an error). Below both the URI parser and the
//! redaction of settings, which each need it.

/// libpq's URI designators (`uri_prefix_length` in fe-connect.c).
const DESIGNATORS: [&str; 2] = ["postgresql://", "postgres://"];

/// The length of the libpq URI designator `s` starts with, if any.
pub(super) fn prefix_len(s: &str) -> Option<usize> {
    DESIGNATORS
        .iter()
        .find(|d| s.starts_with(*d))
        .map(|d| d.len())
}

/// Where the user part after `scheme://` starts, if `text` begins with a scheme and `//`
/// (then it is a URI: no libpq keyword holds `://`).
pub(crate) fn scheme_end(text: &str) -> Option<usize> {
    let colon = text.find("://")?;
    let scheme = text.get(..colon)?;
    let is_scheme = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-._%".contains(&b));
    is_scheme.then_some(colon + 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn designators_and_schemes() {
        assert_eq!(prefix_len("postgresql://h"), Some(13));
        assert_eq!(prefix_len("postgres://h"), Some(11));
        assert_eq!(prefix_len("pgsql://h"), None);
        assert_eq!(scheme_end("pgsql:///db"), Some(8));
        assert_eq!(scheme_end("host=h dbname=a://b"), None);
        assert_eq!(scheme_end("://x"), None);
    }
}
