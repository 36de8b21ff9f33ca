//! `Cluster::overwrite`: replace a database by a new one under the same name.

use super::name::quote_ident;
use super::{Cluster, DropOptions};
use crate::error::{Destructive, Error};

impl Cluster {
    /// Replaces database `name` (without one: the database the setting names explicitly,
    /// never a default, as in [`Self::drop`]) by a new one (from
    /// `template`, or the server's default), so that the name is never missing: the new
    /// database is made under a temporary name, the two names are swapped in one
    /// transaction, then the old database is dropped. On failure, the old database is still
    /// there under its name, or the new one is; any database left behind is named in the
    /// error.
    pub async fn overwrite<'a>(
        &self,
        name: impl Into<Option<&'a str>>,
        template: Option<&str>,
    ) -> Result<(), Error> {
        let name = self.destructive_target(name.into(), Destructive::Overwrite)?;
        let fresh = temporary_name("new");
        let old = temporary_name("old");
        self.create(fresh.as_str(), template).await?;
        let existed = self.exists(name.as_str()).await?;
        let swap = if existed {
            format!(
                "BEGIN; ALTER DATABASE {n} RENAME TO {o}; ALTER DATABASE {f} RENAME TO {n}; COMMIT;",
                n = quote_ident(&name),
                o = quote_ident(&old),
                f = quote_ident(&fresh)
            )
        } else {
            format!(
                "ALTER DATABASE {} RENAME TO {};",
                quote_ident(&fresh),
                quote_ident(&name)
            )
        };
        if let Err(e) = self.ddl(&[&name, &fresh], &swap).await {
            let leftover = match self.drop(fresh.as_str()).await {
                Ok(()) => None,
                Err(_) => Some(fresh),
            };
            return Err(Error::left_behind(e, leftover));
        }
        if existed {
            if let Err(e) = self
                .drop_with(old.as_str(), DropOptions::new().force(true))
                .await
            {
                return Err(Error::left_behind(e, Some(old)));
            }
        }
        Ok(())
    }
}

/// A name for a database that exists only during `overwrite`, unique to this process.
fn temporary_name(role: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut random = [0u8; 4];
    let salt = getrandom::getrandom(&mut random).map_or(0, |()| u32::from_le_bytes(random));
    format!("pgcluster_{role}_{}_{n}_{salt:08x}", std::process::id())
}
