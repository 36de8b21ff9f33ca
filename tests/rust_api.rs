//! The public API as a Rust user meets it, on a throwaway server (`pgcluster::testing`):
//! the same calls on both connections (compact rows, rows streamed to a callback,
//! prepared statements), and values read by column name from every row type. Each test
//! runs on both drivers (`name::blocking`, `name::tokio`), through
//! `connecting::SyncConnection`: the blocking API's calls as they are, the async API's run
//! to the end on a current-thread runtime.
//! Run with `cargo test --features testing --test rust_api`.
#![cfg(feature = "testing")]

mod connecting;

use connecting::{both_drivers, resolve, Driver, SyncConnection};
use pgcluster::connection::Statement;
use pgcluster::error::{Error, Misuse};
use pgcluster::rows::ColumnError;
use pgcluster::testing::TestServer;
use pgcluster::Connection;

/// Over the Unix socket, as the superuser.
fn socket_conninfo() -> String {
    let s = TestServer::shared().expect("test server starts");
    format!(
        "host={} port={} user=postgres dbname=postgres",
        s.socket_dir().display(),
        s.port()
    )
}

fn connect_on(driver: Driver) -> SyncConnection {
    let conninfo = socket_conninfo();
    match driver.sync_connect(&resolve(&conninfo)) {
        Ok(conn) => conn,
        Err(e) => panic!("connect {conninfo:?}: {}", e.message),
    }
}

/// A server error's libpq text (anything else as its `Display`).
fn message(e: Error) -> String {
    match e {
        Error::Query(q) => q.message,
        other => other.to_string(),
    }
}

const SQL: &str = "SELECT g, CASE WHEN g % 2 = 0 THEN md5(g::text) END AS h \
                   FROM generate_series(1, 100) g";

both_drivers!(sync compact_rows);
fn compact_rows(driver: Driver) {
    let mut conn = connect_on(driver);
    let strings = conn.simple_query(SQL).expect("simple_query");
    let compact = conn
        .simple_query_rows(&format!(
            "{SQL}; SELECT 1 WHERE false; SET search_path = public"
        ))
        .expect("simple_query_rows");
    assert_eq!(compact.len(), 3);
    let rows = &compact[0];
    assert_eq!(rows.tag(), "SELECT 100");
    assert_eq!(rows.columns(), strings[0].columns.as_slice());
    assert_eq!(rows.len(), 100);
    let as_strings: Vec<Vec<Option<String>>> = rows
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| r.get(i).map(|v| v.into_owned()))
                .collect()
        })
        .collect();
    assert_eq!(as_strings, strings[0].rows);
    assert_eq!((compact[1].tag(), compact[1].len()), ("SELECT 0", 0));
    assert_eq!((compact[2].tag(), compact[2].columns().len()), ("SET", 0));

    let extended = conn
        .query_rows(
            "SELECT $1::int + 1 AS n, $2::text AS t",
            &[Some("41"), None],
        )
        .expect("query_rows");
    assert_eq!(extended.tag(), "SELECT 1");
    let row = extended.get(0).expect("a row");
    assert_eq!((row.get(0).as_deref(), row.get(1)), (Some("42"), None));
    assert_eq!(row.get("n").as_deref(), Some("42"));
    assert_eq!(row.try_get("t"), Ok(None));

    let err = conn
        .query_rows("SELECT 1/0", &[])
        .map(|_| ())
        .map_err(message);
    assert_eq!(err, Err("ERROR:  division by zero\n".to_owned()));
    // The connection stays usable after the server's error.
    assert_eq!(
        conn.query_rows("SELECT 'ok'", &[])
            .ok()
            .and_then(|r| r.get(0).and_then(|row| row.get(0).map(|v| v.into_owned()))),
        Some("ok".to_owned())
    );
    conn.close();
}

both_drivers!(sync rows_stream_to_a_callback);
fn rows_stream_to_a_callback(driver: Driver) {
    let mut conn = connect_on(driver);
    let (mut n, mut sum, mut nulls) = (0, 0, 0);
    let result = conn
        .query_each(SQL, &[], |row| {
            n += 1;
            sum += row
                .get("g")
                .and_then(|g| g.parse::<i64>().ok())
                .unwrap_or(0);
            nulls += usize::from(row.is_null("h"));
        })
        .expect("query_each");
    assert_eq!((n, sum, nulls), (100, 5050, 50));
    assert_eq!(result.tag, "SELECT 100");
    assert_eq!(result.column_names(), vec!["g", "h"]);
    assert!(result.rows.is_empty());

    // An error part-way: the rows before it were seen, then the server's error.
    let mut seen = Vec::new();
    let err = conn
        .query_each(
            "SELECT 10 / (5 - g) AS q FROM generate_series(1, 10) g",
            &[],
            |row| seen.push(row.get("q").map(|v| v.into_owned())),
        )
        .map(|_| ())
        .map_err(message);
    assert_eq!(err, Err("ERROR:  division by zero\n".to_owned()));
    let want: Vec<Option<String>> = ["2", "3", "5", "10"]
        .iter()
        .map(|v| Some((*v).to_owned()))
        .collect();
    assert_eq!(seen, want);
    assert_eq!(conn.simple_query("SELECT 1").map(|r| r.len()).ok(), Some(1));
    conn.close();
}

both_drivers!(sync prepared_statements);
fn prepared_statements(driver: Driver) {
    let mut conn = connect_on(driver);
    let one = conn.prepare("SELECT 1 AS one").expect("prepare");
    let add = conn
        .prepare("SELECT $1::int + $2::int AS sum")
        .expect("prepare");
    assert_eq!((one.name(), add.name()), ("pgcluster_0", "pgcluster_1"));
    for _ in 0..3 {
        let r = conn.query_prepared(&one, &[]).expect("query_prepared");
        assert_eq!(
            (r.rows.clone(), r.tag.as_str()),
            (vec![vec![Some("1".to_owned())]], "SELECT 1")
        );
    }
    let r = conn
        .query_prepared(&add, &[Some("40"), Some("2")])
        .expect("query_prepared");
    assert_eq!(r.row(0).and_then(|row| row.get("sum")), Some("42"));
    // The same with compact rows: values by name, the tag, a NULL.
    let rows = conn
        .query_prepared_rows(&add, &[Some("40"), None])
        .expect("query_prepared_rows");
    assert_eq!((rows.len(), rows.tag()), (1, "SELECT 1"));
    assert_eq!(rows.get(0).map(|row| row.get("sum")), Some(None));
    let rows = conn
        .query_prepared_rows(&add, &[Some("40"), Some("2")])
        .expect("query_prepared_rows");
    assert_eq!(
        rows.get(0).and_then(|row| row.get("sum")).as_deref(),
        Some("42")
    );
    let err = conn
        .query_prepared(&add, &[Some("x"), Some("2")])
        .map(|_| ())
        .map_err(message);
    assert_eq!(
        err,
        Err("ERROR:  invalid input syntax for type integer: \"x\"\n\
             CONTEXT:  unnamed portal parameter $1 = '...'\n"
            .to_owned())
    );
    let err = conn.prepare("SELEC 1").map(|_| ()).map_err(message);
    assert_eq!(
        err,
        Err("ERROR:  syntax error at or near \"SELEC\"\nLINE 1: SELEC 1\n        ^\n".to_owned())
    );
    // The failed Parse used no name: the next statement gets the next one.
    let next = conn.prepare("SELECT 2").expect("prepare");
    assert_eq!(next.name(), "pgcluster_2");
    // Statements live on the server under those names.
    let names = conn
        .query("SELECT name FROM pg_prepared_statements ORDER BY name", &[])
        .expect("query");
    let names: Vec<Option<&str>> = names.iter().map(|row| row.get("name")).collect();
    assert_eq!(
        names,
        vec![
            Some("pgcluster_0"),
            Some("pgcluster_1"),
            Some("pgcluster_2")
        ]
    );
    conn.close();
}

both_drivers!(sync a_statement_runs_only_on_its_own_connection);
/// Both connections name their first statement `pgcluster_0`: run on the other one, the
/// name would stand for that connection's statement. It is refused before anything is
/// sent, and both connections go on.
fn a_statement_runs_only_on_its_own_connection(driver: Driver) {
    let mut first = connect_on(driver);
    let mut second = connect_on(driver);
    let a = first.prepare("SELECT 'a' AS x").expect("prepare");
    let b = second.prepare("SELECT 'b' AS x").expect("prepare");
    assert_eq!((a.name(), b.name()), ("pgcluster_0", "pgcluster_0"));
    for refused in [
        second.query_prepared(&a, &[]).map(|_| ()),
        second.query_prepared_rows(&a, &[]).map(|_| ()),
    ] {
        match refused {
            Err(e @ Error::Misuse(Misuse::ForeignStatement)) => assert_eq!(
                e.to_string(),
                "the statement was prepared on another connection"
            ),
            other => panic!("a foreign statement ran: {other:?}"),
        }
    }
    let on = |conn: &mut SyncConnection, statement: &Statement| {
        let r = conn.query_prepared(statement, &[]).expect("query_prepared");
        r.row(0).and_then(|row| row.get("x")).map(str::to_owned)
    };
    assert_eq!(on(&mut second, &b).as_deref(), Some("b"));
    assert_eq!(on(&mut first, &a).as_deref(), Some("a"));
    // A clone is the same statement, on the same connection.
    assert_eq!(on(&mut first, &a.clone()).as_deref(), Some("a"));
    first.close();
    second.close();
}

both_drivers!(sync values_by_column_name_on_a_real_server);
/// Duplicate names, a quoted mixed-case name and names needing quotes, read by name from
/// every row type, with libpq's `PQfnumber` rule.
const NAMED: &str = "SELECT 1 AS id, 'first' AS dup, 'second' AS dup, \
                     'mixed' AS \"MixedCase\", 'spaced' AS \"a b\", NULL::text AS nothing";

fn values_by_column_name_on_a_real_server(driver: Driver) {
    let mut conn = connect_on(driver);

    let results = conn.simple_query(NAMED).expect("simple_query");
    let result = &results[0];
    assert_eq!(
        result.column_names(),
        vec!["id", "dup", "dup", "MixedCase", "a b", "nothing"]
    );
    let row = result.row(0).expect("a row");
    assert!(result.row(1).is_none());
    assert_eq!(row.get("id"), Some("1"));
    assert_eq!(row.get("ID"), Some("1"));
    assert_eq!(row.get("dup"), Some("first"));
    assert_eq!(row.get(2), Some("second"));
    assert_eq!(row.get("\"MixedCase\""), Some("mixed"));
    assert_eq!(row.get("MixedCase"), None);
    assert_eq!(
        row.try_get("MixedCase"),
        Err(ColumnError::UnknownName("MixedCase".to_owned()))
    );
    assert_eq!(row.get("a b"), Some("spaced"));
    assert_eq!(row.try_get("nothing"), Ok(None));
    assert_eq!(result.column_position("\"MixedCase\""), Some(3));
    assert_eq!(result.column_index("MixedCase"), Some(3));
    let err = row.try_get("nmae").unwrap_err();
    assert_eq!(err.to_string(), "no column \"nmae\" in the result");
    assert_eq!(
        row.try_get(6).unwrap_err().to_string(),
        "column index 6 is out of range for a row of 6 columns"
    );
    assert_eq!(result.iter().count(), 1);

    let rows = conn.query_rows(NAMED, &[]).expect("query_rows");
    let row = rows.get(0).expect("a row");
    assert_eq!(row.get("DUP").as_deref(), Some("first"));
    assert_eq!(row.get("\"MixedCase\"").as_deref(), Some("mixed"));
    assert_eq!(row.try_get("nothing"), Ok(None));
    assert_eq!(
        row.try_get_bytes("MixedCase"),
        Err(ColumnError::UnknownName("MixedCase".to_owned()))
    );

    let mut streamed = Vec::new();
    conn.query_each(NAMED, &[], |row| {
        streamed.push((
            row.get("dup").map(|v| v.into_owned()),
            row.get("\"MixedCase\"").map(|v| v.into_owned()),
            row.try_get("missing").map(|v| v.map(|v| v.into_owned())),
        ));
    })
    .expect("query_each");
    assert_eq!(
        streamed,
        vec![(
            Some("first".to_owned()),
            Some("mixed".to_owned()),
            Err(ColumnError::UnknownName("missing".to_owned()))
        )]
    );
    conn.close();
}

/// The async connection's streamed rows carry their columns too.
#[tokio::test]
async fn async_rows_by_name() {
    let conninfo = socket_conninfo();
    let mut conn = Connection::connect(&resolve(&conninfo))
        .await
        .unwrap_or_else(|e| panic!("connect {conninfo:?}: {}", e.message));
    let mut got = Vec::new();
    conn.query_each(NAMED, &[], |row| {
        got.push(row.get("\"a b\"").map(|v| v.into_owned()));
    })
    .await
    .expect("query_each");
    assert_eq!(got, vec![Some("spaced".to_owned())]);
    let result = conn.query(NAMED, &[]).await.expect("query");
    assert_eq!(result.row(0).and_then(|r| r.get("dup")), Some("first"));
    conn.close().await;
}
