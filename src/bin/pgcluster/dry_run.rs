//! `--dry-run`: the statements a verb would have run, on which maintenance database.

use pgcluster::cluster::PlannedStatement;

use crate::escape;
use crate::json::Json;
use crate::output::{self, WriteError};

/// Prints what a dry run recorded, as SQL a person can read and run: a comment naming
/// each maintenance database, then its statements. Nothing when nothing was recorded.
pub(crate) fn show(planned: &[PlannedStatement]) -> Result<(), WriteError> {
    if planned.is_empty() {
        return Ok(());
    }
    let mut out = String::from("-- dry run: nothing was changed; this would run:\n");
    let mut database = None;
    for statement in planned {
        if database != Some(&statement.database) {
            out.push_str(&format!(
                "-- on database \"{}\"\n",
                escape::line(&statement.database)
            ));
            database = Some(&statement.database);
        }
        out.push_str(&escape::message(&statement.sql));
        out.push('\n');
    }
    output::write(output::Stream::Stdout, &out)
}

/// `[{"database": ..., "sql": ...}, ...]`.
pub(crate) fn json(planned: &[PlannedStatement]) -> Json {
    Json::Array(
        planned
            .iter()
            .map(|p| {
                Json::object([
                    ("database", p.database.as_str().into()),
                    ("sql", p.sql.as_str().into()),
                ])
            })
            .collect(),
    )
}
