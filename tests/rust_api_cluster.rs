//! The `Cluster` API as a Rust user meets it, on a throwaway server (`pgcluster::testing`):
//! names as `String`, `&String`, `&str`, `&&str` or `Cow<str>`, `None` for the setting's
//! database, options by name, and `drop_database` / `copy_database` called through an
//! `Arc`, on the blocking and the async `Cluster`. After each call, `pg_database` is read
//! on a connection of its own. Run with `cargo test --features testing --test
//! rust_api_cluster`.
#![cfg(feature = "testing")]

use std::borrow::Cow;
use std::sync::Arc;
use std::thread;

use pgcluster::cluster::{CreateOptions, DropOptions};
use pgcluster::error::Destructive;
use pgcluster::testing::TestServer;
use pgcluster::{blocking, Error};

fn server() -> &'static TestServer {
    TestServer::shared().expect("a throwaway PostgreSQL server")
}

/// A blocking cluster on the server's socket, as the superuser, naming database `db`.
fn cluster_on(db: &str) -> blocking::Cluster {
    blocking::Cluster::new(&server().uri("postgres", db)).expect("a cluster")
}

/// The databases whose names start with `prefix`, as `pg_database` shows them now, read
/// on a connection of its own (not through the cluster under test), on a thread of its own
/// (the blocking API must not run inside an async runtime).
fn databases(prefix: &str) -> Vec<String> {
    let rows = catalog(
        "SELECT datname::text FROM pg_catalog.pg_database \
         WHERE starts_with(datname::text, $1) ORDER BY 1",
        prefix,
    );
    rows.into_iter().map(|row| row.expect("a name")).collect()
}

/// The OID `pg_database` shows for `name`.
fn oid(name: &str) -> String {
    let rows = catalog(
        "SELECT oid::text FROM pg_catalog.pg_database WHERE datname::text = $1",
        name,
    );
    assert_eq!(rows.len(), 1, "{name} in pg_database");
    rows[0].clone().expect("an oid")
}

/// The first column of `sql`'s rows, with `param` as `$1`, on database `postgres`.
fn catalog(sql: &str, param: &str) -> Vec<Option<String>> {
    thread::scope(|s| {
        s.spawn(|| {
            let mut conn = cluster_on("postgres")
                .connect("postgres")
                .expect("connect to postgres");
            let result = conn.query(sql, &[Some(param)]).expect("read pg_database");
            conn.close();
            result
                .rows
                .into_iter()
                .map(|mut row| row.remove(0))
                .collect()
        })
        .join()
        .expect("the catalog read")
    })
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn blocking_names_are_any_string() {
    let p = "rapi_cl_str_";
    let cluster = cluster_on("postgres");
    let name: String = format!("{p}a");
    let copy: String = format!("{p}b");
    let renamed: String = format!("{p}c");

    // `&String`, the call that did not compile before.
    cluster.create(&name).unwrap();
    assert_eq!(databases(p), names(&["rapi_cl_str_a"]));
    assert!(cluster.exists(&name).unwrap());
    assert!(!cluster.exists(copy.as_str()).unwrap());

    // The spec's `clone(template, name)`: template first, the new name second; a `String`
    // by value.
    cluster.copy_database(&name, copy.clone()).unwrap();
    assert_eq!(databases(p), names(&["rapi_cl_str_a", "rapi_cl_str_b"]));

    // `rename(new, name)`, both as `&String`.
    cluster.rename(&renamed, &copy).unwrap();
    assert_eq!(databases(p), names(&["rapi_cl_str_a", "rapi_cl_str_c"]));

    // `Cow<str>` and `&&str`.
    cluster
        .drop_database(Cow::<str>::Owned(renamed.clone()))
        .unwrap();
    assert_eq!(databases(p), names(&["rapi_cl_str_a"]));
    // `&&str`, as a `&[&str]`'s `first()` or `iter()` yields.
    let list: &[&str] = &[&name];
    let first: &&str = list.first().expect("one name");
    cluster.drop_database(first).unwrap();
    assert!(databases(p).is_empty());

    // A name from `Option<String>`, as the CLI holds it.
    let maybe: Option<String> = Some(name.clone());
    cluster.create(maybe.as_deref()).unwrap();
    assert_eq!(databases(p), names(&["rapi_cl_str_a"]));
    cluster.drop_database(name).unwrap();
    assert!(databases(p).is_empty());
}

#[test]
fn blocking_options_by_name() {
    let p = "rapi_cl_opt_";
    let cluster = cluster_on("postgres");
    let name = format!("{p}a");

    cluster
        .create_with(
            &name,
            // Option values are any string too.
            &CreateOptions::new()
                .template(String::from("template0"))
                .owner(String::from("postgres"))
                .connection_limit(7),
        )
        .unwrap();
    assert_eq!(databases(p), names(&["rapi_cl_opt_a"]));
    let mut conn = cluster.connect("postgres").unwrap();
    let limit = conn
        .query(
            "SELECT datconnlimit::text FROM pg_catalog.pg_database WHERE datname::text = $1",
            &[Some(name.as_str())],
        )
        .unwrap();
    conn.close();
    assert_eq!(limit.rows[0][0].as_deref(), Some("7"));

    // `overwrite(name)`: a new database under the same name, keeping what the old one was.
    let before = oid(&name);
    cluster.overwrite(&name).unwrap();
    assert_eq!(databases(p), names(&["rapi_cl_opt_a"]));
    let after = oid(&name);
    assert_ne!(before, after, "overwrite made a new database");

    // `overwrite_with(name, &options)`: a template given by name; a missing one is the
    // server's error, and the database is left as it was.
    let e = cluster
        .overwrite_with(&name, &CreateOptions::new().template("rapi_cl_opt_missing"))
        .unwrap_err();
    assert_eq!(e.sqlstate(), Some("3D000"), "{e}");
    assert_eq!(databases(p), names(&["rapi_cl_opt_a"]));
    assert_eq!(oid(&name), after);

    // `drop_database_with`: `FORCE` ends a session on it.
    let mut session = cluster.connect(&name).unwrap();
    cluster
        .drop_database_with(&name, &DropOptions::new().force(true))
        .unwrap();
    assert!(databases(p).is_empty());
    assert!(session.simple_query("SELECT 1").is_err());
    // `IF EXISTS` on a missing one.
    cluster
        .drop_database_with(&name, &DropOptions::new().if_exists(true))
        .unwrap();
    assert!(databases(p).is_empty());
}

#[test]
fn none_is_the_setting_database() {
    let p = "rapi_cl_none_";
    let cluster = cluster_on("rapi_cl_none_db");
    assert_eq!(cluster.named_database(), Some("rapi_cl_none_db"));

    cluster.create(None).unwrap();
    assert_eq!(databases(p), names(&["rapi_cl_none_db"]));
    assert!(cluster.exists(None).unwrap());

    let mut conn = cluster.connect(None).unwrap();
    let current = conn.simple_query("SELECT current_database()").unwrap();
    conn.close();
    assert_eq!(current[0].rows[0][0].as_deref(), Some("rapi_cl_none_db"));

    let before = oid("rapi_cl_none_db");
    cluster.overwrite(None).unwrap();
    assert_eq!(databases(p), names(&["rapi_cl_none_db"]));
    assert_ne!(oid("rapi_cl_none_db"), before);

    cluster.drop_database(None).unwrap();
    assert!(databases(p).is_empty());
    assert!(!cluster.exists(None).unwrap());

    // A setting that names no database: nameless destructive calls are refused before
    // anything is sent, whatever the default would be.
    let keep = format!("{p}keep");
    let nameless = blocking::Cluster::new(&format!(
        "host={} port={} user=postgres",
        server().socket_dir().display(),
        server().port()
    ))
    .expect("a cluster");
    assert_eq!(nameless.named_database(), None);
    nameless.create(&keep).unwrap();
    for (result, action) in [
        (nameless.drop_database(None), Destructive::Drop),
        (nameless.overwrite(None), Destructive::Overwrite),
        (
            nameless.rename("rapi_cl_none_new", None),
            Destructive::Rename,
        ),
    ] {
        match result {
            Err(Error::DatabaseNotNamed { action: a, .. }) => assert_eq!(a, action),
            other => panic!("{action:?}: {other:?}"),
        }
    }
    assert_eq!(databases(p), names(&["rapi_cl_none_keep"]));
    nameless.drop_database(&keep).unwrap();
    assert!(databases(p).is_empty());
}

#[test]
fn blocking_cluster_through_an_arc() {
    let p = "rapi_cl_arc_";
    let cluster = Arc::new(cluster_on("postgres"));
    let source = format!("{p}src");
    cluster.create(&source).unwrap();
    assert_eq!(databases(p), names(&["rapi_cl_arc_src"]));

    // Each thread copies the source and drops its copy, calling through the `Arc`:
    // `copy_database` and `drop_database` are not shadowed by `Clone::clone` or
    // `Drop::drop`.
    let handles: Vec<_> = (0..3)
        .map(|i| {
            let cluster = Arc::clone(&cluster);
            let source = source.clone();
            thread::spawn(move || {
                let copy = format!("rapi_cl_arc_copy_{i}");
                cluster.copy_database(&source, &copy).unwrap();
                assert_eq!(databases(&copy), std::slice::from_ref(&copy));
                assert!(cluster.exists(&copy).unwrap());
                cluster.drop_database(&copy).unwrap();
                assert!(databases(&copy).is_empty());
                assert!(!cluster.exists(&copy).unwrap());
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(databases(p), names(&["rapi_cl_arc_src"]));
    cluster.drop_database(&source).unwrap();
    assert!(databases(p).is_empty());
}

#[test]
fn async_cluster_through_an_arc() {
    fn assert_send<T: Send>(t: T) -> T {
        t
    }
    let p = "rapi_cl_async_";
    let cluster = Arc::new(
        pgcluster::Cluster::new(&server().uri("postgres", "postgres")).expect("a cluster"),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let name: String = format!("{p}a");
        let copy: String = format!("{p}b");

        // The futures of calls with borrowed names are `Send` (tasks may move).
        assert_send(cluster.create(&name)).await.unwrap();
        assert_eq!(databases(p), names(&["rapi_cl_async_a"]));
        assert!(cluster.exists(&name).await.unwrap());

        assert_send(cluster.copy_database(&name, &copy))
            .await
            .unwrap();
        assert_eq!(databases(p), names(&["rapi_cl_async_a", "rapi_cl_async_b"]));

        cluster
            .create_with(
                Cow::Borrowed("rapi_cl_async_c"),
                &CreateOptions::new().template(&copy),
            )
            .await
            .unwrap();
        assert_eq!(
            databases(p),
            names(&["rapi_cl_async_a", "rapi_cl_async_b", "rapi_cl_async_c"])
        );

        let mut conn = cluster.connect(&copy).await.unwrap();
        let current = conn
            .simple_query("SELECT current_database()")
            .await
            .unwrap();
        conn.close().await;
        assert_eq!(current[0].rows[0][0].as_deref(), Some("rapi_cl_async_b"));

        let before = oid(&copy);
        cluster
            .overwrite_with(&copy, &CreateOptions::new().template("template0"))
            .await
            .unwrap();
        assert_ne!(oid(&copy), before);

        assert_send(cluster.drop_database(&copy)).await.unwrap();
        assert_eq!(databases(p), names(&["rapi_cl_async_a", "rapi_cl_async_c"]));
        cluster
            .drop_database_with("rapi_cl_async_c", &DropOptions::new().force(true))
            .await
            .unwrap();
        cluster.drop_database(name).await.unwrap();
        assert!(databases(p).is_empty());

        // The setting's database: `postgres`.
        assert!(cluster.exists(None).await.unwrap());
    });
    // Shared with another thread, which drops through the `Arc` too.
    let shared = Arc::clone(&cluster);
    thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            shared.create("rapi_cl_async_t").await.unwrap();
            assert_eq!(databases("rapi_cl_async_"), names(&["rapi_cl_async_t"]));
            shared.drop_database("rapi_cl_async_t").await.unwrap();
        });
    })
    .join()
    .unwrap();
    assert!(databases(p).is_empty());
}
