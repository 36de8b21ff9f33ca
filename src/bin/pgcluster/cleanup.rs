//! `pgcluster cleanup`: the databases pgcluster's own interrupted work left behind, listed
//! with their size, then dropped.
//!
//! Only names `overwrite` makes for its temporary databases are ever considered:
//! `pgcluster_(new|old)_<pid>_<n>_<8 hex>` ([`pgcluster::cluster::is_temporary_name`], a
//! stable contract). On a terminal it asks before dropping, unless `--yes` (the question of
//! [`crate::confirm`]); without a terminal (a script) it drops them.

use std::io;

use pgcluster::blocking::Cluster;
use pgcluster::cluster::{DatabaseInfo, DropOptions, PlannedStatement};

use crate::escape;
use crate::json::Json;
use crate::output::{self, Failure, Stream};

/// `cleanup [--dry-run] [--yes]`; false if the question was declined (nothing dropped).
/// With `--json`, one object: `{"action":"cleanup","databases":[{"name","size"}...],
/// "dropped":[NAME...]}` (`dropped` empty for a dry run, which adds `"dry_run":true` and
/// the `statements` a real run would send).
pub(crate) fn run(
    cluster: &Cluster,
    dry_run: bool,
    yes: bool,
    quiet: bool,
) -> Result<bool, Failure> {
    let json = output::is_json();
    let leftovers = cluster.leftovers()?;
    let mut dropped = Vec::new();
    let result = |dropped: Vec<String>, planned: &[PlannedStatement]| {
        let mut fields = vec![
            ("action", "cleanup".into()),
            (
                "databases",
                Json::Array(
                    leftovers
                        .iter()
                        .map(|d| {
                            Json::object([
                                ("name", d.name.as_str().into()),
                                ("size", d.size.into()),
                            ])
                        })
                        .collect(),
                ),
            ),
            ("dropped", dropped.into()),
        ];
        if dry_run {
            fields.push(("dry_run", true.into()));
            fields.push(("statements", crate::dry_run::json(planned)));
        }
        output::json_line(&Json::object(fields))
    };
    if leftovers.is_empty() {
        if json {
            result(dropped, &[])?;
        } else if !quiet {
            output::stdout_line("no databases left behind by pgcluster")?;
        }
        return Ok(true);
    }
    if !json {
        output::write(Stream::Stdout, &table(&leftovers))?;
    }
    let if_exists = DropOptions::new().if_exists(true);
    if dry_run {
        if json {
            // A dry-run cluster plans the drops instead of sending them.
            for leftover in &leftovers {
                cluster.drop_database_with(&leftover.name, &if_exists)?;
            }
            result(dropped, &cluster.take_planned())?;
        } else if !quiet {
            output::stdout_line("dry run: nothing dropped")?;
        }
        return Ok(true);
    }
    if !yes && crate::confirm::on_terminal() {
        let question = format!(
            "Drop {} database{} listed above?",
            leftovers.len(),
            if leftovers.len() == 1 { "" } else { "s" }
        );
        let go = crate::interrupt::at_prompt(|| {
            crate::confirm::ask(&question, &mut io::stdin().lock(), &mut io::stderr())
        });
        if !go {
            return Ok(false);
        }
    }
    for leftover in &leftovers {
        cluster.drop_database_with(&leftover.name, &if_exists)?;
        if json {
            dropped.push(leftover.name.clone());
        } else if !quiet {
            output::stdout_line(&format!("dropped {}", escape::cell(&leftover.name)))?;
        }
    }
    if json {
        result(dropped, &[])?;
    }
    Ok(true)
}

/// `name  size` (bytes; `-` when unknown), aligned.
fn table(databases: &[DatabaseInfo]) -> String {
    let rows: Vec<(String, String)> = databases
        .iter()
        .map(|d| {
            (
                escape::cell(&d.name),
                d.size.map_or_else(|| "-".to_owned(), |s| s.to_string()),
            )
        })
        .collect();
    let width = rows
        .iter()
        .map(|(name, _)| escape::width(name))
        .chain([escape::width("name")])
        .max()
        .unwrap_or(0);
    let mut out = format!("{}  size\n", escape::pad("name", width));
    for (name, size) in rows {
        out.push_str(&format!("{}  {size}\n", escape::pad(&name, width)));
    }
    out
}
