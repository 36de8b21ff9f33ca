//! `pgcluster template build|clone|drop`: the templates of [`pgcluster::testing`] for test
//! suites in other languages (a Python or Go run calls the program, reads one line).
//!
//! `build DIR` makes (or finds) the template of the `.sql` files in DIR on the server of
//! the setting and prints its name; `clone DIR` does the same and then clones a fresh
//! database from it, printing a libpq `postgres://` URL of it; `drop` drops such a fresh
//! database (by name or by that URL), or a template. The URL never holds a password: the
//! caller's client authenticates as it would for the setting (`PGPASSWORD`, the password
//! file, a socket that needs none).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use pgcluster::blocking::Cluster;
use pgcluster::cluster::name::quote_ident;
use pgcluster::conninfo::{Config, Env};
use pgcluster::testing::{Migrations, Template, FRESH_PREFIX, MAX_FAMILY_LEN, TEMPLATE_PREFIX};
use pgcluster::Error;

use crate::confirm;
use crate::json::Json;
use crate::output::{self, Failure};

#[derive(Subcommand)]
pub(crate) enum TemplateCommand {
    /// Build the template of the `.sql` files in DIR (or find it, built before), print its
    /// name.
    ///
    /// The files (not those of subdirectories) are applied in byte order of their names,
    /// each as one simple query, to a new database made from template0, which is then
    /// flagged IS_TEMPLATE and ALLOW_CONNECTIONS false and renamed to
    /// `pgcluster_tpl_<family>_<12 hex digits>`. The digits are the start of the SHA-256 of
    /// the family, the files' names and contents and --version: the same inputs give the
    /// same template, which is reused; builders running at once (several test runs) take
    /// turns on an advisory lock, and all but the first reuse the result. Templates of the
    /// same family with other inputs are dropped: they are older migrations.
    ///
    /// The database of the setting is ignored (the work is done from `postgres`); its role
    /// must be allowed to create databases. Nothing is made when a file fails: the error
    /// names the file (exit status 1).
    #[command(verbatim_doc_comment)]
    Build {
        #[command(flatten)]
        inputs: Inputs,
    },
    /// Print a libpq URL of a new database cloned from the template of DIR (built first
    /// if needed, as `template build` does).
    ///
    /// The URL is `postgres://user@host:port/pgcluster_db_<owner>_<n>_main` (percent-
    /// encoded, with the setting's TLS and other options as `?key=value`), for psql, psycopg,
    /// pgx, database/sql and other clients. It holds no password, even when the setting
    /// does: the client authenticates as it would for the setting, with $PGPASSWORD or the
    /// password file (~/.pgpass, $PGPASSFILE), or over a Unix socket that needs none.
    ///
    /// The clone is `STRATEGY FILE_COPY` on PostgreSQL 15 and later, and
    /// `file_copy_method = clone` on 18 where the file system can. Drop it with `pgcluster
    /// template drop URL` when the test is done. <owner> is the process that uses it:
    /// --owner, by default the process that ran this program (the test run); name a
    /// longer-lived process with --owner when a shell runs pgcluster (e.g. `--owner $$`).
    /// Once the owner has exited (a run killed before it dropped its databases), the next
    /// `template build` or `template clone` on the server drops the database.
    #[command(verbatim_doc_comment)]
    Clone {
        #[command(flatten)]
        inputs: Inputs,
        /// The pid of the process the database belongs to (default: the parent process).
        #[arg(long, value_name = "PID")]
        owner: Option<u32>,
    },
    /// Drop a database `template clone` made, given by NAME or by the URL it printed; or a
    /// template `template build` made (`pgcluster_tpl_...`).
    ///
    /// Only those names are taken (any other is refused, exit status 1: `pgcluster drop`
    /// drops any database). Sessions still connected to a fresh database are ended
    /// (`WITH (FORCE)`, PostgreSQL 13 and later). A template is shared by every test run of
    /// its migrations: on a terminal (stdin and stderr) dropping one first asks, e.g.
    /// `Drop template "pgcluster_tpl_app_0123456789ab" on 127.0.0.1:5432? [y/N]`; anything
    /// but `y` or `yes` changes nothing and exits with 3. `-y`/`--yes` skips the question.
    #[command(verbatim_doc_comment)]
    Drop {
        /// A fresh database's name or URL, or a template's name.
        database: String,
        /// Do not ask for confirmation on a terminal.
        #[arg(short, long)]
        yes: bool,
        /// No error if the database does not exist.
        #[arg(long)]
        if_exists: bool,
    },
}

/// What a template is made of.
#[derive(Args)]
pub(crate) struct Inputs {
    /// The directory of `.sql` files.
    dir: PathBuf,
    /// The template's family: 1 to 36 bytes of a-z, 0-9 and _ (default: the directory's
    /// name, made so: `db/Migrations-v2` gives `migrations_v2`). Give each project its own
    /// when projects share a server.
    #[arg(long)]
    family: Option<String>,
    /// A text that is part of the template's key: change it to rebuild the template when
    /// something the files do not show changed (e.g. the data they load from elsewhere).
    #[arg(long)]
    version: Option<String>,
}

impl Inputs {
    fn migrations(&self) -> Migrations {
        let family = self
            .family
            .clone()
            .unwrap_or_else(|| default_family(&self.dir));
        let migrations = Migrations::new(&family).dir(&self.dir);
        match &self.version {
            Some(version) => migrations.setup(version, |_| Ok(())),
            None => migrations,
        }
    }
}

/// `template ...`: `Ok(false)` when a question was declined.
pub(crate) fn run(cluster: &Cluster, command: TemplateCommand) -> Result<bool, Failure> {
    match command {
        TemplateCommand::Build { inputs } => {
            let template = build(cluster, &inputs)?;
            if output::is_json() {
                output::json_line(&Json::object([("template", template.name().into())]))?;
            } else {
                output::stdout_line(template.name())?;
            }
        }
        TemplateCommand::Clone { inputs, owner } => {
            // The settings of the URL are checked, in the words of every other verb,
            // before anything is made.
            cluster
                .config()
                .resolve(&Env::from_process())
                .map_err(Error::from)?;
            let template = build(cluster, &inputs)?;
            let owner = owner.unwrap_or_else(std::os::unix::process::parent_id);
            let db = template.fresh_for(owner).map_err(operation)?;
            let name = db.name().to_owned();
            let url = db.keep();
            if output::is_json() {
                output::json_line(&Json::object([
                    ("template", template.name().into()),
                    ("database", name.into()),
                    ("url", url.into()),
                ]))?;
            } else {
                output::stdout_line(&url)?;
            }
        }
        TemplateCommand::Drop {
            database,
            yes,
            if_exists,
        } => return drop_database(cluster, &database, yes, if_exists),
    }
    Ok(true)
}

fn operation(e: impl std::fmt::Display) -> Failure {
    Failure::operation(e.to_string())
}

fn build(cluster: &Cluster, inputs: &Inputs) -> Result<Template, Failure> {
    inputs
        .migrations()
        .build_with(&cluster.config())
        .map_err(operation)
}

/// The family a directory gives: its name, lowercase, anything but `a-z` and `0-9` made
/// `_` (runs of them one), trimmed of `_`, at most [`MAX_FAMILY_LEN`] bytes; `migrations`
/// when nothing is left.
fn default_family(dir: &std::path::Path) -> String {
    let name = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let mut family = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            family.push(c);
        } else if !family.ends_with('_') {
            family.push('_');
        }
    }
    let family = family.trim_matches('_');
    // ASCII only: any byte offset is a character boundary.
    let family = family.get(..MAX_FAMILY_LEN).unwrap_or(family);
    let family = family.trim_end_matches('_');
    if family.is_empty() {
        "migrations".to_owned()
    } else {
        family.to_owned()
    }
}

/// The database a `drop` argument names: the path of a `postgres://` URL, or the text.
fn database_of(argument: &str) -> Result<String, Error> {
    if argument.starts_with("postgres://") || argument.starts_with("postgresql://") {
        let config = Config::parse(argument)?;
        return Ok(config.get("dbname").unwrap_or("").to_owned());
    }
    Ok(argument.to_owned())
}

/// `template drop`: `Ok(false)` when the question was declined.
fn drop_database(
    cluster: &Cluster,
    argument: &str,
    yes: bool,
    if_exists: bool,
) -> Result<bool, Failure> {
    let name = database_of(argument)?;
    // Before the ALTER below: the server would cut a longer name short, to another
    // database's.
    pgcluster::cluster::name::check(&name).map_err(Error::from)?;
    let is_template = name.starts_with(TEMPLATE_PREFIX);
    if !is_template && !name.starts_with(FRESH_PREFIX) {
        return Err(Failure::operation(format!(
            "\"{}\" is not a database `pgcluster template` made (pgcluster_db_... or \
             pgcluster_tpl_...); `pgcluster drop` drops any database",
            name.escape_debug()
        )));
    }
    if is_template && !yes && confirm::on_terminal() {
        let question = format!(
            "Drop template \"{}\" on {}?",
            name.escape_debug(),
            crate::escape::line(&cluster.server()?)
        );
        let go = crate::interrupt::at_prompt(|| {
            confirm::ask(
                &question,
                &mut std::io::stdin().lock(),
                &mut std::io::stderr(),
            )
        });
        if !go {
            return Ok(false);
        }
    }
    if is_template {
        // A template cannot be dropped: its flag goes first.
        let mut conn = cluster.connect("postgres")?;
        let result = conn.simple_query(&format!(
            "ALTER DATABASE {} IS_TEMPLATE false",
            quote_ident(&name)
        ));
        conn.close();
        match result {
            Err(e) if if_exists && e.sqlstate() == Some("3D000") => return dropped(&name),
            other => drop(other?),
        }
    }
    cluster.drop_database_with(
        name.as_str(),
        &pgcluster::cluster::DropOptions::new()
            .if_exists(if_exists)
            .force(true),
    )?;
    dropped(&name)
}

/// `template drop`'s result: nothing, or with `--json` `{"action":"drop","database":NAME}`.
fn dropped(name: &str) -> Result<bool, Failure> {
    if output::is_json() {
        output::json_line(&Json::object([
            ("action", "drop".into()),
            ("database", name.into()),
        ]))?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn families_come_from_the_directory_name() {
        assert_eq!(
            default_family(Path::new("/nonexistent/db/Migrations-v2")),
            "migrations_v2"
        );
        assert_eq!(default_family(Path::new("/nonexistent/sql")), "sql");
        assert_eq!(
            default_family(Path::new("/nonexistent/..-..")),
            "migrations"
        );
        let long = default_family(Path::new(&format!("/nonexistent/{}", "ab_".repeat(20))));
        assert!(
            long.len() <= MAX_FAMILY_LEN && !long.ends_with('_'),
            "{long}"
        );
    }

    #[test]
    fn drop_takes_a_name_or_the_url() {
        assert_eq!(
            database_of("postgres://u@%2Ftmp:5432/pgcluster_db_1_2_main?sslmode=disable").unwrap(),
            "pgcluster_db_1_2_main"
        );
        assert_eq!(database_of("pgcluster_db_1").unwrap(), "pgcluster_db_1");
    }
}
