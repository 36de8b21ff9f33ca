//! The question `drop` and `overwrite` ask on a terminal before acting on the database the
//! setting names, when no NAME was given (sqlx-cli's `(y/N)`; `-y`/`--yes` skips it).

use std::io::{self, BufRead, IsTerminal, Write};

use pgcluster::blocking::Cluster;
use pgcluster::Error;

use crate::escape;

/// A verb that asks before acting on the setting's database.
pub(crate) enum Verb<'a> {
    /// `drop`.
    Drop,
    /// `overwrite`, with its template, if any.
    Overwrite { template: Option<&'a str> },
}

/// Whether `verb` may go on. Only a nameless verb (`name` is `None`) without `--yes` or
/// `--dry-run` (which changes nothing), with
/// a person at a terminal (stdin and stderr are terminals) and a setting that names its
/// database, asks: `Drop database "deploy_demo" on 127.0.0.1:5432? [y/N] ` on stderr, and
/// goes on only for `y` or `yes`. Otherwise nothing is asked and the answer is yes: a
/// setting that names no database is then refused by the library itself, before anything
/// is sent.
pub(crate) fn go_ahead(
    cluster: &Cluster,
    name: Option<&str>,
    yes: bool,
    verb: Verb<'_>,
) -> Result<bool, Error> {
    if name.is_some() || yes || cluster.is_dry_run() || !on_terminal() {
        return Ok(true);
    }
    let Some(database) = cluster.named_database() else {
        return Ok(true);
    };
    let question = question(database, &cluster.server()?, &verb);
    // A signal while it waits exits at once: nothing was changed.
    Ok(crate::interrupt::at_prompt(|| {
        ask(&question, &mut io::stdin().lock(), &mut io::stderr())
    }))
}

/// Whether a person can answer: stdin and stderr are both terminals.
pub(crate) fn on_terminal() -> bool {
    io::stdin().is_terminal() && io::stderr().is_terminal()
}

/// The question, without the ` [y/N] ` that [`ask`] adds. The names are quoted and
/// escaped, and the server's text has its control characters escaped: a name can hold
/// anything, terminal escapes included.
fn question(database: &str, server: &str, verb: &Verb<'_>) -> String {
    let database = database.escape_debug();
    let server = escape::line(server);
    match verb {
        Verb::Drop => format!("Drop database \"{database}\" on {server}?"),
        Verb::Overwrite { template: None } => {
            format!("Overwrite database \"{database}\" on {server} with a fresh one?")
        }
        Verb::Overwrite {
            template: Some(template),
        } => format!(
            "Overwrite database \"{database}\" on {server} with a copy of \"{}\"?",
            template.escape_debug()
        ),
    }
}

/// Writes `question` and ` [y/N] ` to `out` and reads one line from `input`: yes only for
/// `y` or `yes` (any case, blanks around ignored). Anything else is no: an empty line, end
/// of input (then a line break is written, so that what follows starts on a line of its
/// own), a line that is not UTF-8, or a failure to write or read.
pub(crate) fn ask(question: &str, input: &mut impl BufRead, out: &mut impl Write) -> bool {
    if write!(out, "{question} [y/N] ")
        .and_then(|()| out.flush())
        .is_err()
    {
        return false;
    }
    let mut line = String::new();
    match input.read_line(&mut line) {
        Ok(0) => {
            let _ = writeln!(out);
            false
        }
        Ok(_) => {
            let answer = line.trim();
            answer.eq_ignore_ascii_case("y") || answer.eq_ignore_ascii_case("yes")
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(input: &[u8]) -> (bool, String) {
        let mut out = Vec::new();
        let yes = ask("Drop it?", &mut &input[..], &mut out);
        (yes, String::from_utf8(out).unwrap())
    }

    #[test]
    fn only_y_or_yes_goes_on() {
        for input in [
            &b"y\n"[..],
            b"Y\n",
            b"yes\n",
            b"YES\r\n",
            b"  yes  \n",
            b"y",
        ] {
            assert_eq!(
                answer(input),
                (true, "Drop it? [y/N] ".to_owned()),
                "{input:?}"
            );
        }
        for input in [
            &b"\n"[..],
            b"n\n",
            b"no\n",
            b"yess\n",
            b"y es\n",
            b"ja\n",
            b"\xff\n",
            b"\n y\n",
        ] {
            assert_eq!(
                answer(input),
                (false, "Drop it? [y/N] ".to_owned()),
                "{input:?}"
            );
        }
        // End of input: no, and the next text starts on a line of its own.
        assert_eq!(answer(b""), (false, "Drop it? [y/N] \n".to_owned()));
    }

    #[test]
    fn the_question_names_database_and_server_escaped() {
        assert_eq!(
            question("deploy_demo", "127.0.0.1:5432", &Verb::Drop),
            "Drop database \"deploy_demo\" on 127.0.0.1:5432?"
        );
        assert_eq!(
            question(
                "a\"b\n\x1b[2J",
                "/tmp/\x1b]0;x/.s.PGSQL.5432",
                &Verb::Overwrite { template: None }
            ),
            "Overwrite database \"a\\\"b\\n\\u{1b}[2J\" on /tmp/\\u{1b}]0;x/.s.PGSQL.5432 with a fresh one?"
        );
        assert_eq!(
            question(
                "d",
                "[::1]:5433",
                &Verb::Overwrite {
                    template: Some("t\"1")
                }
            ),
            "Overwrite database \"d\" on [::1]:5433 with a copy of \"t\\\"1\"?"
        );
    }
}
