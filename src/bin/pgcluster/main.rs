//! `pgcluster`: test, create, drop, clone, rename, overwrite and list databases, and
//! connect to them; build template databases for test suites and clone them (`template`).
//!
//! The spec's verbs print what rex.deploy's `Cluster` prints for the same call. On
//! failure, stderr gets `Error: ` and the error's text, and the exit status is 1; a usage
//! error exits with 2; a question declined (see `confirm`) exits with 3. Every write goes
//! through [`output`] (never `println!`, which panics on a broken pipe or a full disk), and
//! every name or server text through [`escape`]. SIGINT and SIGTERM stop the work (see
//! [`interrupt`]) and exit with 130 and 143.
#![forbid(unsafe_code)]
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod cleanup;
mod confirm;
mod demo;
mod dotenv;
mod dry_run;
mod escape;
mod interrupt;
mod json;
mod list;
mod name;
mod output;
mod progress;
mod sessions;
mod setting;
mod template;
mod wait;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use pgcluster::blocking::Cluster;
use pgcluster::cluster::{CreateOptions, DropOptions, LocaleProvider, Strategy};
use pgcluster::Error;

use json::Json;
use name::NameArg;
use output::{Failure, Stream};

/// PostgreSQL cluster management: test, create, drop, clone, rename, overwrite and list
/// databases.
///
/// Exit status: 0 on success; 1 when the operation failed (stderr: `Error: ` and the
/// message); 2 for a usage error; 3 when `drop`, `overwrite`, `cleanup` or `template drop`
/// asked for confirmation and got no `y` (nothing was changed); 4 when `exists -q` finds no
/// such database; `wait` exits with pg_isready's statuses (0 accepting, 1 rejecting, 2 no
/// response, 3 no attempt); 74 when the output could not be
/// written (a full disk, an I/O error: the operation itself was done); 141 when the reader
/// of the output went away (a broken pipe, as in `pgcluster list | head -1`): nothing more
/// is printed; 141 = 128 + SIGPIPE is what a shell shows for `ls | head` when SIGPIPE kills
/// `ls`; 130 when interrupted by SIGINT (Ctrl-C), 143 when interrupted by SIGTERM; 124
/// when --timeout ran out.
///
/// Ctrl-C (SIGINT) or SIGTERM cancels the statement under way and starts no new one: the
/// program waits up to 10 s for it to end, says what pg_database shows (e.g. `interrupted:
/// CREATE DATABASE "big3" was cancelled; pg_database shows no database "big3"`), drops what
/// the interrupted verb made (an overwrite's temporary copy), and exits with 130 or 143. A
/// second Ctrl-C exits at once, without cleaning up: `pgcluster cleanup` drops what is left.
/// `demo` and `template` are the exceptions: Ctrl-C ends them at once (the demo's server
/// is stopped by its guardian; a half-built template is dropped by the next build), and
/// they take no --timeout.
///
/// Names, locales, encodings and the server's texts are escaped in the output: in the
/// `list` table every control character (newline and tab included), bidi override and
/// backslash is shown as `\n`, `\t`, `\u{1b}`, `\\` ..., so one database is one line;
/// error messages keep their newlines and tabs (libpq's layout) and escape the rest.
/// `list --json` holds the exact texts.
#[derive(Parser)]
#[command(name = "pgcluster", version, about, long_about)]
struct Cli {
    /// The database setting: `pgsql://user:pass@host:port/db`, a libpq `postgres://` URI or
    /// a `key=value` string. Defaults to $DATABASE_URL, then to DATABASE_URL in `./.env`
    /// (as sqlx-cli reads it); with neither, the PG* environment (PGHOST, PGPORT, PGUSER,
    /// PGDATABASE, PGSERVICE, ...) and libpq's defaults, as psql and createdb take them.
    #[arg(
        short = 'd',
        long,
        global = true,
        env = "DATABASE_URL",
        hide_env_values = true
    )]
    db: Option<String>,

    /// Where maintenance goes past a pooler (PgBouncer, a hosted one): `CREATE`, `DROP`
    /// and `ALTER DATABASE` and the catalog reads (exists, list, the sessions on a
    /// database), in the same forms as --db; `connect`, `wait` and the rest keep --db, and
    /// so does `template` (it connects to the databases it builds).
    /// Defaults to $PGCLUSTER_MAINTENANCE_URL; when the setting is DATABASE_URL's (no
    /// --db), then to $DATABASE_URL_UNPOOLED, then to DATABASE_URL_UNPOOLED in `./.env`.
    /// With none of them, everything goes where --db says.
    #[arg(
        long = "maintenance-db",
        global = true,
        value_name = "URI",
        env = "PGCLUSTER_MAINTENANCE_URL",
        hide_env_values = true
    )]
    maintenance_db: Option<String>,

    /// No status messages on stderr or stdout, only results and errors. With `exists`,
    /// not even `true` or `false`: the exit status answers.
    #[arg(short, long, global = true)]
    quiet: bool,

    /// Change nothing: print the statements that would run (`CREATE`, `DROP`, `ALTER
    /// DATABASE`) and the maintenance database each runs on; only
    /// read-only lookups are sent (whether a database exists, what `overwrite` copies, the
    /// server's version). Nothing is asked. Not for `demo` and `template`.
    #[arg(long, global = true)]
    dry_run: bool,

    /// Results as JSON, one object per result on stdout, and an error as one object on
    /// stderr. Stable field names: exists {database, exists}; create, clone, overwrite
    /// {action, database, template}; drop {action, database}; rename {action, database,
    /// new}; cleanup {action, databases [{name, size}], dropped}; list [{name, owner,
    /// encoding, collate, ctype, size, is_template, allow_connections, connection_limit,
    /// is_valid}]; connect {database, host, port, backend_pid, dsn,
    /// server_version, in_recovery}; cluster {repr,
    /// database, server, and maintenance_server with --maintenance-db}; wait {server, status, exit_status}; template build {template},
    /// clone {template, database, url}, drop {action, database}; with --dry-run also
    /// dry_run and statements [{database, sql}]. An error: {error, exit_status, sqlstate,
    /// server {severity, code, message, detail, hint, ... as the server sent them}},
    /// plus declined or interrupted when so; a warning: {warning}.
    #[arg(long, global = true)]
    json: bool,

    /// Give up after SECONDS: the statement under way is cancelled as Ctrl-C cancels it,
    /// what the verb made is cleaned up, pg_database is checked (`interrupted: ...`), and
    /// the program exits with 124 (as timeout(1) does). For `wait`: how long it keeps
    /// trying (default 60; 0 is one try, as pg_isready), exiting with pg_isready's status.
    /// Not for `demo`, `template` and `completions`.
    #[arg(long, global = true, value_name = "SECONDS")]
    timeout: Option<u64>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print `true` if database NAME (default: the setting's) exists, else `false`.
    ///
    /// With -q/--quiet nothing is printed and the exit status answers, for scripts:
    /// 0 if it exists, 4 if it does not (1 is kept for a failure to find out, e.g. no
    /// server): `if pgcluster -q exists app; then ...`.
    Exists {
        /// Database name.
        #[arg(value_parser = NameArg::parser())]
        name: Option<NameArg>,
    },
    /// Create database NAME (default: the setting's), UTF-8.
    Create {
        /// Database name.
        #[arg(value_parser = NameArg::parser())]
        name: Option<NameArg>,
        #[command(flatten)]
        options: CreateArgs,
    },
    /// Drop database NAME (default: the one the setting names).
    ///
    /// Without NAME, the database the setting names explicitly (a URI path or `dbname=`) is
    /// dropped; a setting that names none is refused (exit status 1): a default such as
    /// $PGDATABASE or the user name is never dropped.
    ///
    /// Without NAME on a terminal (stdin and stderr), it first asks on stderr, e.g.
    /// `Drop database "deploy_demo" on 127.0.0.1:5432? [y/N]`; anything but `y` or `yes`
    /// changes nothing and exits with 3. `-y`/`--yes` skips the question. With no terminal
    /// (scripts, CI) nothing is asked.
    Drop {
        /// Database name.
        #[arg(value_parser = NameArg::parser())]
        name: Option<NameArg>,
        /// Do not ask for confirmation on a terminal.
        #[arg(short, long)]
        yes: bool,
        /// No error if the database does not exist.
        #[arg(long)]
        if_exists: bool,
        /// Terminate the sessions connected to it first (with --drain: those left when
        /// time is up).
        #[arg(long)]
        force: bool,
        /// Refuse new connections, wait up to SECONDS (default 60) while showing the
        /// sessions left, and drop the database once they are gone; when time is up, give
        /// up (exit 1) unless --force. Connections are allowed again unless it was dropped
        /// (a timeout, a failure, Ctrl-C).
        #[arg(long, value_name = "SECONDS", num_args = 0..=1, require_equals = true, default_missing_value = "60")]
        drain: Option<u64>,
    },
    /// Create database NAME (default: the setting's) as a copy of TEMPLATE.
    Clone {
        /// The database to copy.
        #[arg(value_parser = NameArg::parser())]
        template: NameArg,
        /// Database name.
        #[arg(value_parser = NameArg::parser())]
        name: Option<NameArg>,
    },
    /// Rename database NAME (default: the one the setting names) to NEW.
    ///
    /// Without NAME, the database the setting names explicitly (a URI path or `dbname=`) is
    /// renamed; a setting that names none is refused (exit status 1): a default such as
    /// $PGDATABASE or the user name is never renamed. Nothing is asked.
    Rename {
        /// The new name.
        #[arg(value_parser = NameArg::parser())]
        new: NameArg,
        /// Database name.
        #[arg(value_parser = NameArg::parser())]
        name: Option<NameArg>,
    },
    /// Replace database NAME (default: the one the setting names) by a fresh, empty one
    /// that keeps what the old one was; the name is never missing, and the old database
    /// survives any failure.
    ///
    /// The new database keeps the old one's owner, encoding, locale (collation, character
    /// classes, provider, ICU locale and rules), connection limit, tablespace, template
    /// flag, whether it allows connections, comment, privileges and settings (`ALTER
    /// DATABASE ... SET`, and `ALTER ROLE ... IN DATABASE ... SET`), each unless given
    /// anew here: the options given win. Its content is the template's, not the old
    /// database's. Without --template, template1 is copied, or template0 when the encoding
    /// or locale differ from template1's (CREATE DATABASE copies only template0 to another
    /// encoding or locale).
    ///
    /// If database NAME does not exist, it is created as `create` would, with the options
    /// given (and the same choice of template); if another session creates it meanwhile,
    /// that one is overwritten in turn (up to three tries).
    ///
    /// Without NAME, the database the setting names explicitly (a URI path or `dbname=`) is
    /// overwritten; a setting that names none is refused (exit status 1): a default such as
    /// $PGDATABASE or the user name is never overwritten.
    ///
    /// Without NAME on a terminal (stdin and stderr), it first asks on stderr, e.g.
    /// `Overwrite database "deploy_demo" on 127.0.0.1:5432 with a fresh one? [y/N]`;
    /// anything but `y` or `yes` changes nothing and exits with 3. `-y`/`--yes` skips the
    /// question. With no terminal (scripts, CI) nothing is asked.
    #[command(verbatim_doc_comment)]
    Overwrite {
        /// Database name.
        #[arg(value_parser = NameArg::parser())]
        name: Option<NameArg>,
        /// Do not ask for confirmation on a terminal.
        #[arg(short, long)]
        yes: bool,
        #[command(flatten)]
        options: CreateArgs,
    },
    /// Drop the databases pgcluster's own interrupted work left behind: those named
    /// `pgcluster_new_<pid>_<n>_<8 hex>` or `pgcluster_old_<pid>_<n>_<8 hex>` (the names
    /// overwrite gives its temporary databases; never any other database). Lists them with
    /// their size in bytes first; on a terminal, asks before dropping (exit 3 if not
    /// confirmed). Do not run it while an overwrite is under way on the same server.
    Cleanup {
        /// Drop without asking, also on a terminal.
        #[arg(short = 'y', long)]
        yes: bool,
    },
    /// List the databases of the cluster: a table, one line per database, its texts
    /// escaped (`\n`, `\t`, `\u{1b}`, `\\` ...) and aligned by terminal width, sizes as
    /// psql's `\l+` shows them (`7572 kB`; in bytes with --json).
    List,
    /// Open a connection to database NAME (default: the setting's), print it, close it.
    Connect {
        /// Database name.
        #[arg(value_parser = NameArg::parser())]
        name: Option<NameArg>,
    },
    /// Print the cluster the setting points at.
    Cluster,
    /// Wait until the server accepts connections (for CI: `pgcluster wait && make test`)
    ///
    /// Tries every 0.25 s, each try as libpq's PQping (bounded by the setting's
    /// connect_timeout, else 3 s), until the server accepts connections or --timeout
    /// SECONDS (default 60; 0 is one try) have passed; then prints `SERVER - accepting connections` (or `rejecting connections`,
    /// `no response`, `no attempt`), nothing with -q.
    ///
    /// Exit status, pg_isready's: 0 accepting connections; 1 rejecting them (starting up,
    /// shutting down, in crash recovery: SQLSTATE 57P03); 2 no response; 3 no attempt (bad
    /// arguments or settings; a usage error of `wait` exits with 3 too). A server that
    /// refuses with another error (a wrong password, a missing database) is accepting: it
    /// is up.
    #[command(verbatim_doc_comment)]
    Wait,
    /// Start a throwaway PostgreSQL server, walk through the cluster spec on it, stop it.
    Demo,
    /// Print a completion script for SHELL on stdout, e.g.
    /// `pgcluster completions bash > ~/.local/share/bash-completion/completions/pgcluster`,
    /// `pgcluster completions zsh > ~/.zfunc/_pgcluster`,
    /// `pgcluster completions fish > ~/.config/fish/completions/pgcluster.fish`.
    #[command(verbatim_doc_comment)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Template databases for test suites: build one from a directory of `.sql` files,
    /// clone a fresh database from it per test (a libpq URL), drop it.
    ///
    /// For test suites in any language, the same templates the Rust API
    /// (`pgcluster::testing::Migrations`) makes: e.g. in Python
    /// `url = check_output(["pgcluster", "template", "clone", "migrations"])`, then
    /// `pgcluster template drop URL` when the test is done.
    #[command(subcommand, verbatim_doc_comment)]
    Template(template::TemplateCommand),
}

/// `create` options.
#[derive(Args)]
struct CreateArgs {
    /// Copy this database instead of the server's default template.
    #[arg(long)]
    template: Option<String>,
    /// Owning role.
    #[arg(long)]
    owner: Option<String>,
    /// Encoding (default UTF8; for overwrite, the old database's).
    #[arg(long)]
    encoding: Option<String>,
    /// Locale (collation and character classes).
    #[arg(long)]
    locale: Option<String>,
    /// Collation.
    #[arg(long)]
    lc_collate: Option<String>,
    /// Character classes.
    #[arg(long)]
    lc_ctype: Option<String>,
    /// Locale provider (PostgreSQL 15+; builtin: 17+).
    #[arg(long, value_enum)]
    locale_provider: Option<LocaleProviderArg>,
    /// ICU locale, with --locale-provider icu (PostgreSQL 15+).
    #[arg(long)]
    icu_locale: Option<String>,
    /// ICU collation rules (PostgreSQL 16+).
    #[arg(long)]
    icu_rules: Option<String>,
    /// The builtin provider's locale, e.g. C.UTF-8 (PostgreSQL 17+).
    #[arg(long)]
    builtin_locale: Option<String>,
    /// Collation version to record (PostgreSQL 15+; for pg_upgrade).
    #[arg(long)]
    collation_version: Option<String>,
    /// Default tablespace.
    #[arg(long)]
    tablespace: Option<String>,
    /// How the template is copied (PostgreSQL 15+).
    #[arg(long, value_enum)]
    strategy: Option<StrategyArg>,
    /// Make the new database a template.
    #[arg(long)]
    is_template: bool,
    /// Whether sessions may connect to it.
    #[arg(long, value_name = "BOOL")]
    allow_connections: Option<bool>,
    /// Maximum sessions at once (-1: no limit).
    #[arg(long, allow_negative_numbers = true)]
    connection_limit: Option<i32>,
    /// The new database's OID, 16384 or more (PostgreSQL 15+).
    #[arg(long)]
    oid: Option<u32>,
}

#[derive(Clone, Copy, ValueEnum)]
enum StrategyArg {
    WalLog,
    FileCopy,
}

#[derive(Clone, Copy, ValueEnum)]
enum LocaleProviderArg {
    Libc,
    Icu,
    Builtin,
}

impl CreateArgs {
    fn options(&self) -> CreateOptions {
        let mut o = CreateOptions::new();
        type Set = fn(CreateOptions, &str) -> CreateOptions;
        let text: [(&Option<String>, Set); 11] = [
            (&self.template, |o, v| o.template(v)),
            (&self.owner, |o, v| o.owner(v)),
            (&self.encoding, |o, v| o.encoding(v)),
            (&self.locale, |o, v| o.locale(v)),
            (&self.lc_collate, |o, v| o.lc_collate(v)),
            (&self.lc_ctype, |o, v| o.lc_ctype(v)),
            (&self.icu_locale, |o, v| o.icu_locale(v)),
            (&self.icu_rules, |o, v| o.icu_rules(v)),
            (&self.builtin_locale, |o, v| o.builtin_locale(v)),
            (&self.collation_version, |o, v| o.collation_version(v)),
            (&self.tablespace, |o, v| o.tablespace(v)),
        ];
        for (value, set) in text {
            if let Some(value) = value {
                o = set(o, value);
            }
        }
        if let Some(provider) = self.locale_provider {
            o = o.locale_provider(match provider {
                LocaleProviderArg::Libc => LocaleProvider::Libc,
                LocaleProviderArg::Icu => LocaleProvider::Icu,
                LocaleProviderArg::Builtin => LocaleProvider::Builtin,
            });
        }
        if let Some(yes) = self.allow_connections {
            o = o.allow_connections(yes);
        }
        if let Some(oid) = self.oid {
            o = o.oid(oid);
        }
        if let Some(strategy) = self.strategy {
            o = o.strategy(match strategy {
                StrategyArg::WalLog => Strategy::WalLog,
                StrategyArg::FileCopy => Strategy::FileCopy,
            });
        }
        if self.is_template {
            o = o.is_template(true);
        }
        if let Some(limit) = self.connection_limit {
            o = o.connection_limit(limit);
        }
        o
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let usage = if wait::is_wait(std::env::args_os()) {
                wait::NO_ATTEMPT
            } else {
                output::USAGE
            };
            return output::clap_exit(&e, usage);
        }
    };
    let quiet = cli.quiet;
    output::set_json(cli.json);
    // Global options that some verbs take no part in: a usage error there.
    let (demo, template, completing) = (
        matches!(cli.command, Command::Demo),
        matches!(cli.command, Command::Template(_)),
        matches!(cli.command, Command::Completions { .. }),
    );
    for (given, refused) in [
        (
            cli.json && (demo || completing),
            "--json does not apply to `demo` and `completions`",
        ),
        (
            cli.dry_run && (demo || template),
            "--dry-run does not apply to `demo` and `template`",
        ),
        (
            cli.timeout.is_some() && (demo || template || completing),
            "--timeout does not apply to `demo`, `template` and `completions`",
        ),
    ] {
        if given {
            return Failure::operation(refused)
                .with_status(output::USAGE)
                .report();
        }
    }
    let dry_run = cli.dry_run;
    let timeout = cli.timeout;
    // `wait` reports settings it cannot use with pg_isready's "no attempt".
    let settings_failed: fn(Error) -> Failure = if matches!(cli.command, Command::Wait) {
        |e| Failure::from(e).with_status(wait::NO_ATTEMPT)
    } else {
        Failure::from
    };
    let result = match cli.command {
        // The demo's throwaway server is stopped on Ctrl-C by its guardian.
        Command::Demo => demo::run().map(|()| Outcome::Done).map_err(Failure::from),
        Command::Completions { shell } => completions(shell),
        // Its connections are the testing API's: Ctrl-C ends the program (a half-built
        // template is dropped by the next build). It connects to what it builds, so all of
        // it goes where the setting says: no maintenance setting.
        Command::Template(command) => setting::cluster_alone(cli.db.as_deref())
            .map_err(Failure::from)
            .and_then(|cluster| template::run(&cluster, command))
            .map(|done| {
                if done {
                    Outcome::Done
                } else {
                    Outcome::Declined
                }
            }),
        command => setting::cluster(cli.db.as_deref(), cli.maintenance_db.as_deref())
            .map(|cluster| if dry_run { cluster.dry_run() } else { cluster })
            .map_err(settings_failed)
            .and_then(|cluster| {
                // `wait`'s --timeout is its own: how long it keeps trying.
                let deadline = match command {
                    Command::Wait => None,
                    _ => timeout.map(Duration::from_secs),
                };
                if let Err(e) = interrupt::install(cluster.interrupter(), deadline) {
                    output::warning(&format!(
                        "pgcluster: cannot catch SIGINT and SIGTERM, Ctrl-C will not cancel: {e}"
                    ))?;
                }
                let result = run(&cluster, command, quiet, timeout);
                // What libpq prints on stderr while connecting, as it does.
                let warned = cluster
                    .take_warnings()
                    .iter()
                    .try_for_each(|warning| output::warning(warning));
                // The operation's own failure comes first.
                result.and_then(|outcome| warned.map(|()| outcome).map_err(Failure::from))
            }),
    };
    interrupt::finish(|signal| match result {
        Ok(_) if signal.is_some() => {
            let _ = output::warning(
                "interrupted: the command had finished before the cancel took effect",
            );
            ExitCode::SUCCESS
        }
        Ok(Outcome::Declined) => {
            // Nothing was changed, whether or not this can be written.
            let text = "Cancelled: nothing was changed.";
            let _ = output::stderr_line(&if output::is_json() {
                output::error_json(text, DECLINED, None, &["declined"])
            } else {
                text.to_owned()
            });
            ExitCode::from(DECLINED)
        }
        Ok(Outcome::Status(status)) => ExitCode::from(status),
        result => output::exit(result.map(|_| ()), signal.map(interrupt::exit_status)),
    })
}

/// `completions SHELL`: clap_complete's script, from the same definition as `--help`.
fn completions(shell: clap_complete::Shell) -> Result<Outcome, Failure> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "pgcluster", &mut script);
    output::write(Stream::Stdout, &String::from_utf8_lossy(&script))?;
    Ok(Outcome::Done)
}

/// How a verb ended, when it did not fail.
enum Outcome {
    /// It did its work.
    Done,
    /// It asked for confirmation and was not given it: nothing was changed.
    Declined,
    /// It answers by this exit status (`exists -q`, `wait`).
    Status(u8),
}

/// A question was declined: nothing was changed.
const DECLINED: u8 = 3;
/// `exists -q`: the database does not exist.
const ABSENT: u8 = 4;

/// What the verbs print: `true`/`false`, tables and reprs as rex did, or with `--json`
/// one object per result (see README's "JSON output").
fn run(
    cluster: &Cluster,
    command: Command,
    quiet: bool,
    timeout: Option<u64>,
) -> Result<Outcome, Failure> {
    let json = output::is_json();
    // A change's result: {"action": ..., "database": ..., more}; a dry run's statements.
    let changed = |action: &str, database: Json, more: Vec<(&'static str, Json)>| {
        let planned = cluster.take_planned();
        if !json {
            return dry_run::show(&planned);
        }
        let mut fields = vec![("action", Json::from(action)), ("database", database)];
        fields.extend(more);
        if cluster.is_dry_run() {
            fields.push(("dry_run", true.into()));
            fields.push(("statements", dry_run::json(&planned)));
        }
        output::json_line(&Json::object(fields))
    };
    match command {
        Command::Exists { name } => {
            let name = name::optional(&name)?;
            let exists = cluster.exists(name)?;
            if quiet {
                return Ok(Outcome::Status(if exists { 0 } else { ABSENT }));
            }
            if json {
                output::json_line(&Json::object([
                    ("database", database_json(cluster, name)),
                    ("exists", exists.into()),
                ]))?;
            } else {
                output::stdout_line(&exists.to_string())?;
            }
        }
        Command::Create { name, options } => {
            let name = name::optional(&name)?;
            let options = options.options();
            cluster.create_with(name, &options)?;
            changed(
                "create",
                database_json(cluster, name),
                vec![("template", options.template_name().into())],
            )?;
        }
        Command::Drop {
            name,
            yes,
            if_exists,
            force,
            drain,
        } => {
            let name = name::optional(&name)?;
            if !confirm::go_ahead(cluster, name, yes, confirm::Verb::Drop)? {
                return Ok(Outcome::Declined);
            }
            let mut options = DropOptions::new().if_exists(if_exists).force(force);
            if let Some(seconds) = drain {
                options = options.drain(Duration::from_secs(seconds));
            }
            sessions::drop(cluster, name, &options, quiet)?;
            changed("drop", named_json(cluster, name), vec![])?;
        }
        Command::Clone { template, name } => {
            let (template, name) = (template.get()?, name::optional(&name)?);
            let target = progress::target(cluster, name);
            let copied = progress::copying(cluster, ("cloning", template, &target), quiet, || {
                cluster.copy_database(template, name)
            });
            sessions::explain(copied, template, "clone", quiet)?;
            changed(
                "clone",
                database_json(cluster, name),
                vec![("template", template.into())],
            )?;
        }
        Command::Rename { new, name } => {
            let (new, name) = (new.get()?, name::optional(&name)?);
            let renamed = name
                .or_else(|| cluster.named_database())
                .unwrap_or_default()
                .to_owned();
            sessions::explain(cluster.rename(new, name), &renamed, "rename", quiet)?;
            changed(
                "rename",
                named_json(cluster, name),
                vec![("new", new.into())],
            )?;
        }
        Command::Overwrite { name, yes, options } => {
            let verb = confirm::Verb::Overwrite {
                template: options.template.as_deref(),
            };
            let name = name::optional(&name)?;
            if !confirm::go_ahead(cluster, name, yes, verb)? {
                return Ok(Outcome::Declined);
            }
            let options = options.options();
            let overwrite = || cluster.overwrite_with(name, &options);
            // Without --template, template1 (or template0) is copied: small, not shown.
            let overwritten = match options.template_name() {
                Some(source) => {
                    let target = progress::target(cluster, name);
                    progress::copying(cluster, ("copying", source, &target), quiet, overwrite)
                }
                None => overwrite(),
            };
            let database = name
                .or_else(|| cluster.named_database())
                .unwrap_or_default()
                .to_owned();
            sessions::explain(overwritten, &database, "overwrite", quiet)?;
            changed(
                "overwrite",
                named_json(cluster, name),
                vec![("template", options.template_name().into())],
            )?;
        }
        Command::Cleanup { yes } => {
            if !cleanup::run(cluster, cluster.is_dry_run(), yes, quiet)? {
                return Ok(Outcome::Declined);
            }
        }
        Command::List => {
            let databases = cluster.list()?;
            output::write(
                Stream::Stdout,
                &if json {
                    list::json(&databases)
                } else {
                    list::table(&databases)
                },
            )?;
        }
        Command::Connect { name } => {
            let name = name::optional(&name)?;
            let mut conn = cluster.connect(name)?;
            let shown = if json {
                connect_json(cluster, name, &mut conn)
                    .map_err(Failure::from)
                    .and_then(|json| Ok(output::json_line(&json)?))
            } else {
                output::stdout_line(&escape::line(&conn.repr())).map_err(Failure::from)
            };
            conn.close();
            shown?;
        }
        Command::Cluster => {
            if json {
                let mut fields = vec![
                    ("repr", cluster.repr().into()),
                    ("database", cluster.named_database().into()),
                    ("server", cluster.server().ok().into()),
                ];
                if let Some(server) = cluster.maintenance_server() {
                    fields.push(("maintenance_server", server.ok().into()));
                }
                output::json_line(&Json::object(fields))?;
            } else {
                output::stdout_line(&escape::line(&cluster.repr()))?;
            }
        }
        Command::Wait => {
            let timeout = Duration::from_secs(timeout.unwrap_or(wait::DEFAULT_TIMEOUT_SECS));
            let ping = wait::run(cluster, timeout, quiet)?;
            return Ok(Outcome::Status(ping.exit_status()));
        }
        Command::Demo => demo::run()?,
        Command::Completions { shell } => return completions(shell),
        // `main` runs it without a cluster (and without catching Ctrl-C).
        Command::Template(_) => unreachable!("`template` is run by main"),
    }
    Ok(Outcome::Done)
}

/// The database a verb with optional NAME acted on: NAME, else the setting's database.
fn database_json(cluster: &Cluster, name: Option<&str>) -> Json {
    name.map(str::to_owned)
        .or_else(|| cluster.database().ok())
        .into()
}

/// The database a destructive verb acted on: NAME, else the one the setting names.
fn named_json(cluster: &Cluster, name: Option<&str>) -> Json {
    name.or_else(|| cluster.named_database()).into()
}

/// `connect --json`: the database, the host and port it reached (the host-list entry, as
/// given: a name, an address or a socket directory), the server process's pid, psycopg2's
/// dsn, the server's version (`server_version`) and whether it is in recovery (a standby:
/// `pg_is_in_recovery()`, asked now).
fn connect_json(
    cluster: &Cluster,
    name: Option<&str>,
    conn: &mut pgcluster::blocking::Connection,
) -> Result<Json, Error> {
    let in_recovery = conn.in_recovery()?;
    Ok(Json::object([
        ("database", database_json(cluster, name)),
        ("host", conn.host().into()),
        ("port", u64::from(conn.port()).into()),
        ("backend_pid", conn.backend_pid().into()),
        ("dsn", conn.dsn().into()),
        (
            "server_version",
            conn.server_version().map(str::to_owned).into(),
        ),
        ("in_recovery", in_recovery.into()),
    ]))
}
