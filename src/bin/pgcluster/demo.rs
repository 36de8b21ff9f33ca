//! `pgcluster demo`: the examples of `cluster.rst`, run for real on a throwaway server.
//!
//! Each step is a real call; what it returns or prints is compared with the text the spec
//! shows, and the walkthrough fails if any differs.

use pgcluster::blocking::{get_cluster, Cluster};
use pgcluster::cluster::{CreateOptions, DropOptions};
use pgcluster::testing::TestServer;
use pgcluster::Error;

use crate::escape;
use crate::output::{stdout_line, WriteError};

/// One spec example: what the call printed, and what the spec says it prints.
struct Checker {
    failures: usize,
    count: usize,
}

impl Checker {
    fn step(&mut self, call: &str, got: &str, expected: &Expected) -> Result<(), WriteError> {
        self.count += 1;
        show(call, got)?;
        if !expected.matches(got) {
            self.failures += 1;
            stdout_line(&format!(
                "!!! differs from cluster.rst, which shows:\n{}",
                escape::message(&expected.text())
            ))?;
        }
        Ok(())
    }
}

/// Shows a call and what it printed (escaped as a message: the spec's errors are several
/// lines).
fn show(call: &str, got: impl AsRef<str>) -> Result<(), WriteError> {
    let got = got.as_ref();
    stdout_line(&format!(">>> {}", escape::message(call)))?;
    if !got.is_empty() {
        stdout_line(&escape::message(got))?;
    }
    Ok(())
}

/// The spec's text for a step: exact, or with `...` standing for the connection address.
enum Expected {
    Exact(String),
    Ellipsis(&'static str, String),
}

impl Expected {
    fn exact(s: &str) -> Self {
        Self::Exact(s.to_owned())
    }

    fn matches(&self, got: &str) -> bool {
        match self {
            Self::Exact(s) => got == s,
            Self::Ellipsis(head, tail) => {
                got.len() >= head.len() + tail.len()
                    && got.starts_with(head)
                    && got.ends_with(tail.as_str())
            }
        }
    }

    fn text(&self) -> String {
        match self {
            Self::Exact(s) => s.clone(),
            Self::Ellipsis(head, tail) => format!("{head}...{tail}"),
        }
    }
}

fn shown<T>(result: Result<T, Error>, ok: impl FnOnce(T) -> String) -> String {
    match result {
        Ok(v) => ok(v),
        Err(e) => format!("Error: {e}"),
    }
}

fn unit(result: Result<(), Error>) -> String {
    shown(result, |()| String::new())
}

fn connection_expected(dsn: &str, closed: u8) -> Expected {
    Expected::Ellipsis(
        "<connection object at ",
        format!("; dsn: '{dsn}', closed: {closed}>"),
    )
}

/// What rex.deploy could not do safely: overwrite, force-drop, list.
fn beyond_the_spec(cluster: &Cluster) -> Result<(), Box<dyn std::error::Error>> {
    stdout_line("\n## Beyond the spec\n")?;
    let name = "deploy_demo_derived";
    cluster.create(name)?;
    let mut conn = cluster.connect(name)?;
    conn.simple_query("CREATE TABLE marker (x int); INSERT INTO marker VALUES (1)")?;
    conn.close();
    show(
        "cluster.create(\"deploy_demo_derived\", None)  // with a table `marker` in it",
        String::new(),
    )?;
    show(
        "cluster.overwrite(\"deploy_demo_derived\", Some(\"no_such_template\"))",
        unit(cluster.overwrite_with(name, &CreateOptions::new().template("no_such_template"))),
    )?;
    let mut conn = cluster.connect(name)?;
    let kept = conn.simple_query("SELECT count(*) FROM marker")?;
    conn.close();
    show(
        "// the failed overwrite lost nothing: SELECT count(*) FROM marker",
        format!("{:?}", kept.first().and_then(|r| r.rows.first())),
    )?;
    show(
        "cluster.overwrite(\"deploy_demo_derived\", None)  // a fresh database, same name",
        unit(cluster.overwrite(name)),
    )?;
    let mut conn = cluster.connect(name)?;
    let tables = conn.simple_query("SELECT count(*) FROM pg_tables WHERE tablename = 'marker'")?;
    show(
        "// a session is still connected to it: cluster.drop(\"deploy_demo_derived\")",
        unit(cluster.drop_database(name)),
    )?;
    show(
        "cluster.drop_with(\"deploy_demo_derived\", DropOptions::new().force(true))",
        unit(cluster.drop_database_with(name, &DropOptions::new().force(true))),
    )?;
    show(
        "// the forced drop ended that session: connection.simple_query(\"SELECT 1\")",
        shown(conn.simple_query("SELECT 1"), |r| format!("{r:?}")),
    )?;
    show(
        "cluster.exists(\"deploy_demo_derived\")",
        shown(cluster.exists(name), |b| b.to_string()),
    )?;
    show(
        "cluster.drop(\"x\".repeat(64))  // refused before anything is sent",
        unit(cluster.drop_database("x".repeat(64))),
    )?;
    let names: Vec<String> = cluster.list()?.into_iter().map(|d| d.name).collect();
    show("cluster.list()  // names only", format!("{names:?}"))?;
    if tables.first().and_then(|r| r.rows.first()) != Some(&vec![Some("0".to_owned())]) {
        return Err("overwrite did not make a fresh database".into());
    }
    Ok(())
}

/// Runs the walkthrough.
pub(crate) fn run() -> Result<(), Box<dyn std::error::Error>> {
    stdout_line("pgcluster demo: starting a throwaway PostgreSQL server ...")?;
    let server = TestServer::new()?;
    stdout_line(&escape::message(&format!(
        "PostgreSQL {} on port {}, socket directory {}\n",
        server.psql("SHOW server_version")?.trim(),
        server.port(),
        server.socket_dir().display()
    )))?;
    let env = server.env();
    let mut c = Checker {
        failures: 0,
        count: 0,
    };

    // The spec's application database.
    let setup = Cluster::new("pgsql:///deploy_demo")?.with_env(env.clone());
    setup.create(None)?;
    stdout_line("(setup: created the application database deploy_demo)\n")?;

    stdout_line("## Creating and dropping databases\n")?;
    let cluster = get_cluster("pgsql:///deploy_demo")?.with_env(env.clone());
    c.step(
        "let cluster = get_cluster(\"pgsql:///deploy_demo\")?;  cluster",
        &cluster.repr(),
        &Expected::exact("Cluster('pgsql:///deploy_demo')"),
    )?;
    c.step(
        "get_cluster(\"mysql:///deploy_demo\")",
        &shown(get_cluster("mysql:///deploy_demo"), |c| c.repr()),
        &Expected::exact("Error: Expected a PostgreSQL database; got:\n    mysql:///deploy_demo"),
    )?;
    let derived = "deploy_demo_derived";
    c.step(
        "cluster.create(\"deploy_demo_derived\", None)",
        &unit(cluster.create(derived)),
        &Expected::exact(""),
    )?;
    c.step(
        "cluster.exists(\"deploy_demo_derived\")",
        &shown(cluster.exists(derived), |b| b.to_string()),
        &Expected::exact("true"),
    )?;
    c.step(
        "cluster.drop(\"deploy_demo_derived\")",
        &unit(cluster.drop_database(derived)),
        &Expected::exact(""),
    )?;
    c.step(
        "cluster.exists(\"deploy_demo_derived\")",
        &shown(cluster.exists(derived), |b| b.to_string()),
        &Expected::exact("false"),
    )?;
    c.step(
        "cluster.drop(\"deploy_demo_derived\")",
        &unit(cluster.drop_database(derived)),
        &Expected::exact(
            "Error: Got an error from the database server:\n    database \"deploy_demo_derived\" does not exist",
        ),
    )?;

    stdout_line("\n## Connecting to the database\n")?;
    let mut conn = cluster.connect(None)?;
    c.step(
        "let connection = cluster.connect(None)?;  connection",
        &conn.repr(),
        &connection_expected("dbname=deploy_demo", 0),
    )?;
    conn.close();
    c.step(
        "connection.close();  connection",
        &conn.repr(),
        &connection_expected("dbname=deploy_demo", 1),
    )?;
    c.step(
        "cluster.create(\"deploy_demo_derived\", None)",
        &unit(cluster.create(derived)),
        &Expected::exact(""),
    )?;
    let mut conn = cluster.connect(derived)?;
    c.step(
        "let connection = cluster.connect(\"deploy_demo_derived\")?;  connection",
        &conn.repr(),
        &connection_expected("dbname=deploy_demo_derived", 0),
    )?;
    c.step(
        "connection.simple_query(\"SELECT current_database()\")",
        &shown(conn.simple_query("SELECT current_database()"), |r| {
            format!("{:?}", r.first().and_then(|r| r.rows.first()))
        }),
        &Expected::exact("Some([Some(\"deploy_demo_derived\")])"),
    )?;
    conn.close();
    c.step(
        "cluster.drop(\"deploy_demo_derived\")",
        &unit(cluster.drop_database(derived)),
        &Expected::exact(""),
    )?;
    c.step(
        "cluster.connect(\"deploy_demo_derived\")",
        &shown(cluster.connect(derived), |c| c.repr()),
        &Expected::exact(
            "Error: Failed to connect to the database server:\n    FATAL:  database \"deploy_demo_derived\" does not exist",
        ),
    )?;
    let uri = "pgsql://aladdin:opensesame@127.0.0.1:2345/deploy_demo";
    let cluster_2345 = Cluster::new(uri)?.with_env(env);
    c.step(
        "let cluster_2345 = Cluster::new(\"pgsql://aladdin:opensesame@127.0.0.1:2345/deploy_demo\")?;  cluster_2345",
        &cluster_2345.repr(),
        &Expected::exact("Cluster('pgsql://aladdin:xxx@127.0.0.1:2345/deploy_demo')"),
    )?;
    c.step(
        "cluster_2345.connect(None)",
        &shown(cluster_2345.connect(None), |c| c.repr()),
        &Expected::exact(
            "Error: Failed to connect to the database server:\n    could not connect to server: Connection refused\n    \tIs the server running on host \"127.0.0.1\" and accepting\n    \tTCP/IP connections on port 2345?",
        ),
    )?;

    beyond_the_spec(&cluster)?;

    setup.drop_database(None)?;
    drop(server);
    stdout_line("\nthe throwaway server is stopped and its directory removed.")?;
    if c.failures == 0 {
        stdout_line(&format!("all {} examples match cluster.rst.", c.count))?;
        Ok(())
    } else {
        Err(format!(
            "{} of {} examples differ from cluster.rst",
            c.failures, c.count
        )
        .into())
    }
}
