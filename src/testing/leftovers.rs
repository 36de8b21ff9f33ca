//! Databases left behind by runs that were killed: recorded with their owner, swept by a
//! later run.
//!
//! Each fresh database and each template under construction gets a comment (`COMMENT ON
//! DATABASE`) with the [owner record](super::owner) of the process that made it. Building
//! a template (and [`Template::sweep`]) drops every database on the server that is
//!
//! - a fresh database `pgcluster_db_<pid>_...` whose comment is an owner record of that
//!   `<pid>`, or a template under construction `pgcluster_tpb_<family>_<hash>` with an
//!   owner record whose family's advisory lock is free (nobody is building it),
//! - and whose owner is gone: it ran in this boot and pid namespace, and no process with
//!   its pid and start time runs now.
//!
//! Databases of owners elsewhere (another machine or container sharing the server), or
//! without a record, are left alone; so is everything not named so.

use super::names::FRESH_PREFIX;
use super::owner::Owner;
use super::template::{
    execute, family_of, lock_id, run, Shared, Template, TemplateError, BUILDING_PREFIX,
};
use crate::blocking::Connection;
use crate::dbname::quote_ident;

impl Template {
    /// Drops the fresh databases and half-built templates on the template's server whose
    /// owners are gone (see above), and returns their names. Building a template does this
    /// too; a failed test's kept database is dropped so by the next run.
    ///
    /// ```
    /// use pgcluster::testing::{Migrations, TestServer};
    ///
    /// let template = Migrations::new("app")
    ///     .dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/migrations"))
    ///     .build(TestServer::shared()?)?;
    /// for name in template.sweep()? {
    ///     println!("dropped {name}, left by a run that was killed");
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sweep(&self) -> Result<Vec<String>, TemplateError> {
        self.shared
            .with_admin(|admin| self.shared.sweep_gone(admin))
    }
}

impl Shared {
    /// Records `owner` as the owner of database `name` (nothing for `None`, where `/proc`
    /// does not tell: such a database is never swept).
    pub(super) fn record_owner(
        &self,
        admin: &mut Connection,
        name: &str,
        owner: Option<&Owner>,
    ) -> Result<(), TemplateError> {
        let Some(owner) = owner else {
            return Ok(());
        };
        // The record is made of `a-z`, `0-9`, `-`, `=` and spaces: nothing to escape.
        let sql = format!(
            "COMMENT ON DATABASE {} IS '{}'",
            quote_ident(name),
            owner.record()
        );
        execute(admin, &sql, &format!("record the owner of \"{name}\""))
    }

    /// Drops the databases of gone owners (see the module documentation). A database that
    /// cannot be dropped (say, another role's) is left for later.
    pub(super) fn sweep_gone(&self, admin: &mut Connection) -> Result<Vec<String>, TemplateError> {
        let listed = admin
            .query(
                "SELECT d.datname, coalesce(shobj_description(d.oid, 'pg_database'), '') \
                 FROM pg_database d WHERE starts_with(d.datname, $1) \
                 OR starts_with(d.datname, $2) ORDER BY 1",
                &[Some(FRESH_PREFIX), Some(BUILDING_PREFIX)],
            )
            .map_err(|source| TemplateError::Server {
                action: "list the test databases".into(),
                source,
            })?;
        let mut dropped = Vec::new();
        for row in listed.rows {
            let mut row = row.into_iter().flatten();
            let (Some(name), Some(comment)) = (row.next(), row.next()) else {
                continue;
            };
            let swept = if name.starts_with(FRESH_PREFIX) {
                gone_fresh(&name, &comment) && self.drop_database(admin, &name).is_ok()
            } else {
                self.sweep_building(admin, &name).unwrap_or(false)
            };
            if swept {
                dropped.push(name);
            }
        }
        Ok(dropped)
    }

    /// Drops the template under construction `name` if its family's lock is free and its
    /// recorded owner is gone; whether it did.
    fn sweep_building(&self, admin: &mut Connection, name: &str) -> Result<bool, TemplateError> {
        let Some(family) = family_of(name) else {
            return Ok(false);
        };
        let lock = lock_id(family).to_string();
        let locked = run(
            admin,
            "SELECT pg_try_advisory_lock($1::bigint)",
            &[&lock],
            "try the template lock",
        )?;
        if locked.first().and_then(Option::as_deref) != Some("t") {
            return Ok(false); // someone is building this family now
        }
        // Read again under the lock: a builder may have replaced it meanwhile.
        let result = (|| {
            let comment = run(
                admin,
                "SELECT coalesce(shobj_description(oid, 'pg_database'), '') \
                 FROM pg_database WHERE datname = $1",
                &[name],
                "read the owner of a template under construction",
            )?;
            let gone = comment
                .first()
                .and_then(Option::as_deref)
                .and_then(Owner::parse)
                .is_some_and(|o| o.is_gone());
            if gone {
                self.drop_template(admin, name)?;
            }
            Ok(gone)
        })();
        let unlocked = run(
            admin,
            "SELECT pg_advisory_unlock($1::bigint)",
            &[&lock],
            "release the template lock",
        );
        let gone = result?;
        unlocked?;
        Ok(gone)
    }
}

/// Whether the fresh database `name` has an owner record naming the pid in its name, of an
/// owner that is gone.
fn gone_fresh(name: &str, comment: &str) -> bool {
    let Some(owner) = Owner::parse(comment) else {
        return false;
    };
    let head = format!("{FRESH_PREFIX}{}_", owner.pid());
    name.starts_with(&head) && owner.is_gone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_database_is_gone_only_with_a_matching_record_of_a_gone_owner() {
        let me = Owner::current().expect("/proc tells").record();
        let pid = std::process::id();
        let mine = format!("{FRESH_PREFIX}{pid}_0_t");
        assert!(!gone_fresh(&mine, &me));
        let mut child = std::process::Command::new("true").spawn().expect("true");
        let dead = Owner::of(child.id()).expect("child").record();
        child.wait().expect("reaped");
        let theirs = format!("{FRESH_PREFIX}{}_3_t", child.id());
        assert!(gone_fresh(&theirs, &dead));
        // The record must name the pid of the name, and be a record at all.
        assert!(!gone_fresh(&mine, &dead));
        assert!(!gone_fresh(&theirs, ""));
        assert!(!gone_fresh(&theirs, "kept for debugging"));
        assert!(!gone_fresh(
            &format!("{FRESH_PREFIX}{}0_3_t", child.id()),
            &dead
        ));
    }
}
