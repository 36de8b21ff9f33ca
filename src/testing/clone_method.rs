//! How a fresh database is copied from its template.

use std::fmt;

/// How a fresh database was copied from its template.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloneMethod {
    /// `STRATEGY FILE_COPY` with `file_copy_method = clone` (PostgreSQL 18 and later, where
    /// the operating system can clone files): the files are cloned, not copied, where the
    /// file system supports it (e.g. XFS, Btrfs).
    Clone,
    /// `STRATEGY FILE_COPY` (PostgreSQL 15 and later): the template's files are copied,
    /// instead of the default `WAL_LOG` strategy's block-by-block copy through the WAL.
    FileCopy,
    /// A plain `CREATE DATABASE .. TEMPLATE` (before PostgreSQL 15, where that copies the
    /// files too).
    Copy,
}

impl fmt::Display for CloneMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Clone => "STRATEGY FILE_COPY with file_copy_method = clone",
            Self::FileCopy => "STRATEGY FILE_COPY",
            Self::Copy => "TEMPLATE (file copy)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_methods_say_what_ran() {
        assert_eq!(
            CloneMethod::Clone.to_string(),
            "STRATEGY FILE_COPY with file_copy_method = clone"
        );
        assert_eq!(CloneMethod::FileCopy.to_string(), "STRATEGY FILE_COPY");
        assert_eq!(CloneMethod::Copy.to_string(), "TEMPLATE (file copy)");
    }
}
