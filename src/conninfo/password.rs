//! [`Password`]: a password of the settings (given, `PGPASSWORD`, or from a password file),
//! wiped when dropped and never shown by `Debug`.

use std::fmt;
use std::ops::Deref;

use pgcluster_protocol::secret::wipe_string;

/// A password as the settings resolved it. It reads as a `&str` (`Deref`); every copy is
/// wiped when it goes (`pgcluster_protocol::secret::wipe_string`), and `Debug` shows `_`.
///
/// ```
/// use pgcluster::conninfo::{Config, Env};
///
/// let resolved = Config::parse("host=db password=s3cret")?.resolve(&Env::empty())?;
/// assert_eq!(resolved.password.as_deref(), Some("s3cret"));
/// assert!(!format!("{resolved:?}").contains("s3cret"));
/// # Ok::<(), pgcluster::conninfo::ConnInfoError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// The password `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// Its text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Password {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Password {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

impl From<String> for Password {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"_\"")
    }
}

impl Drop for Password {
    fn drop(&mut self) {
        wipe_string(&mut self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_as_its_text_and_debug_hides_it() {
        let p = Password::from("s3cret");
        assert_eq!(&*p, "s3cret");
        assert_eq!(p.as_str(), "s3cret");
        assert_eq!(p.clone(), Password::new(String::from("s3cret")));
        assert_eq!(format!("{p:?}"), "\"_\"");
        assert_eq!(format!("{:?}", Some(p)), "Some(\"_\")");
    }
}
