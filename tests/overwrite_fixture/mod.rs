//! A database with every property `overwrite` must keep, made and read with `psql` (not our
//! own client): owned by a role of its own, LATIN1 with `LC_COLLATE`/`LC_CTYPE` `C` (so
//! copied from `template0`), connection limit 5, a comment with a quote and a backslash,
//! privileges granted to two other roles (with and without grant option, one granted by a
//! role that is not the owner), PUBLIC's `CONNECT` revoked, settings for every role
//! (`search_path` as a list, `work_mem`) and for one role, in a tablespace of its own, and
//! a template. It holds a table `marker`.
//!
//! Include it with `mod overwrite_fixture;`.
#![allow(dead_code, unreachable_pub)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

use pgcluster::testing::TestServer;

/// Roles and a tablespace for the fixture databases, all named after a prefix.
pub struct Fixture<'a> {
    pub server: &'a TestServer,
    /// The owner.
    pub alice: String,
    /// Granted CREATE and CONNECT with grant option, and a setting of its own.
    pub bob: String,
    /// Granted TEMPORARY by the owner and CONNECT by `bob`.
    pub carol: String,
    /// The tablespace.
    pub tablespace: String,
    dir: PathBuf,
}

impl<'a> Fixture<'a> {
    /// Makes the roles `{prefix}_alice`, `_bob`, `_carol` (if missing) and the tablespace
    /// `{prefix}_ts`, in a new directory owned by the server's OS user.
    pub fn new(server: &'a TestServer, prefix: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "pgc-{prefix}-ts-{}-{}",
            std::process::id(),
            server.port()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).expect("tablespace directory");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let uid = std::fs::metadata(server.data_dir()).unwrap().uid();
        let gid = std::fs::metadata(server.data_dir()).unwrap().gid();
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown tablespace dir");
        let fixture = Self {
            server,
            alice: format!("{prefix}_alice"),
            bob: format!("{prefix}_bob"),
            carol: format!("{prefix}_carol"),
            tablespace: format!("{prefix}_ts"),
            dir,
        };
        let mut sql = String::new();
        for role in [&fixture.alice, &fixture.bob, &fixture.carol] {
            sql.push_str(&format!(
                "DO $$BEGIN CREATE ROLE {role}; EXCEPTION WHEN duplicate_object THEN END$$;\n"
            ));
        }
        sql.push_str(&format!(
            "CREATE TABLESPACE {} LOCATION '{}';\n",
            fixture.tablespace,
            fixture.dir.display()
        ));
        server.psql(&sql).expect("fixture roles and tablespace");
        fixture
    }

    /// Makes database `name` with every property, and a table `marker` in it.
    pub fn database(&self, name: &str) {
        let Self {
            alice,
            bob,
            carol,
            tablespace,
            ..
        } = self;
        self.server
            .psql(&format!(
                "CREATE DATABASE {name} OWNER {alice} ENCODING LATIN1 LC_COLLATE 'C' \
                 LC_CTYPE 'C' TEMPLATE template0 TABLESPACE {tablespace}"
            ))
            .expect("fixture database");
        self.server
            .psql_db(
                name,
                "CREATE TABLE marker (x int); INSERT INTO marker VALUES (42)",
            )
            .expect("fixture marker");
        self.server
            .psql(&format!(
                "ALTER DATABASE {name} CONNECTION LIMIT 5;
                 ALTER DATABASE {name} IS_TEMPLATE true;
                 COMMENT ON DATABASE {name} IS 'it''s a \\ back';
                 REVOKE CONNECT ON DATABASE {name} FROM PUBLIC;
                 GRANT CREATE, CONNECT ON DATABASE {name} TO {bob} WITH GRANT OPTION;
                 GRANT TEMPORARY ON DATABASE {name} TO {carol};
                 SET ROLE {bob}; GRANT CONNECT ON DATABASE {name} TO {carol}; RESET ROLE;
                 ALTER DATABASE {name} SET search_path = \"$user\", public, x;
                 ALTER DATABASE {name} SET work_mem = '8MB';
                 ALTER ROLE {bob} IN DATABASE {name} SET work_mem = '16MB';"
            ))
            .expect("fixture properties");
    }

    /// What `database` makes, as [`properties`] shows it.
    pub fn expected(&self) -> String {
        let Self {
            alice,
            bob,
            carol,
            tablespace,
            ..
        } = self;
        format!(
            "{alice}|LATIN1|C|C|c||5|{tablespace}|t|t|\
             {{=T/{alice},{alice}=CTc/{alice},{bob}=C*c*/{alice},{carol}=T/{alice},{carol}=c/{bob}}}|\
             it's a \\ back|\
             *:search_path=\"$user\", public, x,work_mem=8MB;{bob}:work_mem=16MB"
        )
    }

    /// Drops database `name` (no longer a template), if it exists.
    pub fn drop_database(&self, name: &str) {
        self.server
            .psql(&format!(
                "DO $$BEGIN
                   IF EXISTS (SELECT FROM pg_database WHERE datname = '{name}') THEN
                     ALTER DATABASE {name} IS_TEMPLATE false;
                   END IF;
                 END$$;
                 DROP DATABASE IF EXISTS {name};"
            ))
            .expect("drop fixture database");
    }
}

impl Drop for Fixture<'_> {
    fn drop(&mut self) {
        let _ = self
            .server
            .psql(&format!("DROP TABLESPACE IF EXISTS {}", self.tablespace));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Database `name`'s OID and its properties: owner, encoding, collate, ctype, locale
/// provider, ICU locale, connection limit, tablespace, template, allows connections,
/// `datacl`, comment, and the settings (`*` for every role, else the role, then the
/// `setconfig` entries; by role). `None` if it does not exist. The locale provider and
/// the ICU locale are the columns of the version at hand: before 15 there are none, and
/// libc is the only provider; `daticulocale` in 15 and 16, `datlocale` from 17.
pub fn properties(server: &TestServer, name: &str) -> Option<(String, String)> {
    let locale = match server.server_version_num().expect("server version") {
        ..150_000 => "'c', NULL",
        150_000..170_000 => "d.datlocprovider, d.daticulocale",
        _ => "d.datlocprovider, d.datlocale",
    };
    let out = server
        .psql(&format!(
            "SELECT d.oid, pg_get_userbyid(d.datdba), pg_encoding_to_char(d.encoding), \
                    d.datcollate, d.datctype, {locale}, \
                    d.datconnlimit, t.spcname, d.datistemplate, d.datallowconn, d.datacl, \
                    shobj_description(d.oid, 'pg_database'), \
                    (SELECT string_agg(CASE WHEN s.setrole = 0 THEN '*' \
                                            ELSE pg_get_userbyid(s.setrole)::text END \
                                       || ':' || array_to_string(s.setconfig, ','), ';' \
                                       ORDER BY s.setrole) \
                       FROM pg_db_role_setting AS s WHERE s.setdatabase = d.oid) \
               FROM pg_database AS d JOIN pg_tablespace AS t ON t.oid = d.dattablespace \
              WHERE d.datname = '{name}'"
        ))
        .expect("read properties");
    let line = out.strip_suffix('\n')?;
    let (oid, rest) = line.split_once('|').expect("oid|properties");
    Some((oid.to_owned(), rest.to_owned()))
}

/// Whether database `name` holds the table `marker`.
pub fn has_marker(server: &TestServer, name: &str) -> bool {
    server
        .psql_db(
            name,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'marker'",
        )
        .expect("look for marker")
        == "1\n"
}

/// Names of databases that `overwrite` makes for a while.
pub fn temporary_databases(server: &TestServer) -> Vec<String> {
    server
        .psql(
            "SELECT datname FROM pg_database \
             WHERE datname LIKE 'pgcluster\\_new\\_%' OR datname LIKE 'pgcluster\\_old\\_%'",
        )
        .expect("list temporary databases")
        .lines()
        .map(str::to_owned)
        .collect()
}
