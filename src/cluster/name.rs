//! Database names: checked before any I/O, always sent as quoted identifiers; and
//! [`DatabaseName`], what the [`Cluster`](crate::doc_api::Cluster) methods take as a name.
//!
//! The checks are defined in a module below [`crate::error`] (whose
//! [`Error::InvalidName`](crate::Error) holds a [`NameError`]) and re-exported here, where
//! they have always been.

use std::borrow::Cow;

pub use crate::dbname::{check, quote_ident, NameError, MAX_NAME_BYTES};

/// A database name as the methods of a [`Cluster`](crate::doc_api::Cluster) (async or
/// blocking) take it: any string
/// (`&str`, `String`, `&String`, `&&str`, `Cow<str>`), or `None` for "the setting's
/// database" (the spec's calls without a name, `cluster.connect()` in rex).
///
/// Sealed: `Option<&str>` is the only `Option` it is implemented for, so a bare `None`
/// needs no annotation.
///
/// ```
/// use std::borrow::Cow;
/// use pgcluster::cluster::DatabaseName;
///
/// fn target(name: impl DatabaseName) -> Option<String> {
///     name.database_name().map(str::to_owned)
/// }
/// let owned = String::from("app");
/// assert_eq!(target("app").as_deref(), Some("app"));
/// assert_eq!(target(&owned).as_deref(), Some("app"));
/// assert_eq!(target(&&*owned).as_deref(), Some("app"));
/// assert_eq!(target(Cow::Borrowed("app")).as_deref(), Some("app"));
/// assert_eq!(target(Some(owned.as_str())).as_deref(), Some("app"));
/// assert_eq!(target(owned).as_deref(), Some("app"));
/// assert_eq!(target(None), None); // the setting's database
/// ```
///
/// Not for other types, so that nothing else turns into a name by accident:
///
/// ```compile_fail,E0277
/// fn target(name: impl pgcluster::cluster::DatabaseName) {}
/// target(42);
/// ```
///
/// and not for types outside this crate (sealed):
///
/// ```compile_fail,E0277
/// struct Mine;
/// impl pgcluster::cluster::DatabaseName for Mine {
///     fn database_name(&self) -> Option<&str> { None }
/// }
/// ```
pub trait DatabaseName: sealed::Sealed {
    /// The name, or `None` for the setting's database.
    fn database_name(&self) -> Option<&str>;
}

mod sealed {
    use std::borrow::Cow;

    /// Keeps [`super::DatabaseName`] to the types this crate implements it for.
    pub trait Sealed {}

    impl Sealed for &str {}
    impl Sealed for &&str {}
    impl Sealed for String {}
    impl Sealed for &String {}
    impl Sealed for Cow<'_, str> {}
    impl Sealed for &Cow<'_, str> {}
    impl Sealed for Option<&str> {}
}

impl DatabaseName for &str {
    fn database_name(&self) -> Option<&str> {
        Some(self)
    }
}

impl DatabaseName for &&str {
    fn database_name(&self) -> Option<&str> {
        Some(self)
    }
}

impl DatabaseName for String {
    fn database_name(&self) -> Option<&str> {
        Some(self)
    }
}

impl DatabaseName for &String {
    fn database_name(&self) -> Option<&str> {
        Some(self)
    }
}

impl DatabaseName for Cow<'_, str> {
    fn database_name(&self) -> Option<&str> {
        Some(self)
    }
}

impl DatabaseName for &Cow<'_, str> {
    fn database_name(&self) -> Option<&str> {
        Some(self)
    }
}

impl DatabaseName for Option<&str> {
    fn database_name(&self) -> Option<&str> {
        *self
    }
}
