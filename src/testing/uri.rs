//! libpq URIs of a [`TestServer`], and its errors as [`crate::Error`]s.

use super::config::{percent_encode, userinfo};
use super::{Error, TestServer, HOST_TCP};
use crate::conninfo::{Config, ConnInfoError, Env};

/// The keywords a libpq URL of settings passes on besides host, port, user and database
/// (never `password` or `sslpassword`).
const PASSED_ON: [&str; 15] = [
    "hostaddr",
    "passfile",
    "connect_timeout",
    "options",
    "application_name",
    "sslmode",
    "sslnegotiation",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslcrl",
    "channel_binding",
    "require_auth",
    "gssencmode",
    "target_session_attrs",
];

/// The libpq URL of `config`'s server as it resolves with `env` (the `PG*` environment
/// and libpq's defaults applied), every part percent-encoded, with no password, in two
/// parts: `postgres://user@host:port,host2:port2` and the query (`?key=value&...`, or
/// empty). A database's URL is `{base}/{database}{query}`.
pub(super) fn libpq_url_parts(
    config: &Config,
    env: &Env,
) -> Result<(String, String), ConnInfoError> {
    let resolved = config.resolve(env)?;
    let hosts: Vec<String> = resolved
        .targets
        .iter()
        .map(|t| {
            let host = if t.host.contains(':') && !t.host.starts_with('/') {
                format!("[{}]", t.host) // an IPv6 address
            } else {
                percent_encode(&t.host)
            };
            format!("{host}:{}", percent_encode(&t.port_text))
        })
        .collect();
    let base = format!(
        "postgres://{}{}",
        userinfo(&resolved.user, None),
        hosts.join(",")
    );
    let params: Vec<String> = PASSED_ON
        .iter()
        .filter_map(|key| {
            config
                .get(key)
                .map(|v| format!("{key}={}", percent_encode(v)))
        })
        .collect();
    let query = if params.is_empty() {
        String::new()
    } else {
        format!("?{}", params.join("&"))
    };
    Ok((base, query))
}

impl TestServer {
    /// A libpq URI over the Unix socket, as `psql`, sqlx, tokio-postgres and other clients
    /// take it: `postgres://user@%2Fsock%2Fdir:port/db`, every part percent-encoded. No
    /// password: the socket needs none. An empty `user` is left out (the client then takes
    /// its default). [`uri`](Self::uri) is the same in rex's `pgsql://` form.
    ///
    /// ```
    /// use pgcluster::testing::TestServer;
    ///
    /// let server = TestServer::shared()?;
    /// let uri = server.libpq_uri("postgres", "postgres");
    /// let output = std::process::Command::new(server.bin_dir().join("psql"))
    ///     .args(["-X", "-A", "-t", &uri, "-c", "SELECT current_user"])
    ///     .output()
    ///     .expect("psql runs");
    /// assert_eq!(String::from_utf8_lossy(&output.stdout), "postgres\n");
    /// // Our own client takes it too.
    /// let cluster = pgcluster::blocking::Cluster::new(&uri)?;
    /// assert!(cluster.exists("postgres")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn libpq_uri(&self, user: &str, db: &str) -> String {
        let host = percent_encode(&self.socket_dir().display().to_string());
        format!(
            "postgres://{}{host}:{}/{}",
            userinfo(user, None),
            self.port(),
            percent_encode(db)
        )
    }

    /// A libpq URI over TCP with the server's [password](Self::password):
    /// `postgres://user:password@127.0.0.1:port/db`, every part percent-encoded.
    pub fn libpq_tcp_uri(&self, user: &str, db: &str) -> String {
        format!(
            "postgres://{}{HOST_TCP}:{}/{}",
            userinfo(user, Some(self.password())),
            self.port(),
            percent_encode(db)
        )
    }
}

impl From<Error> for crate::Error {
    /// A throwaway server's error as [`crate::Error::TestServer`], so that `?` takes it in
    /// code returning `pgcluster::Error`.
    fn from(e: Error) -> Self {
        Self::TestServer(crate::error::TestServerError::new(e))
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on unexpected input"
)]
mod tests {
    use super::*;

    fn url(conninfo: &str, db: &str) -> String {
        let (base, query) =
            libpq_url_parts(&Config::parse(conninfo).unwrap(), &Env::empty()).unwrap();
        format!("{base}/{}{query}", percent_encode(db))
    }

    #[test]
    fn urls_of_settings_carry_no_password() {
        assert_eq!(
            url(
                "host='/tmp/s x' port=5433 user=al@ice password=secret sslmode=disable dbname=x",
                "pgcluster_db_1_2_main"
            ),
            "postgres://al%40ice@%2Ftmp%2Fs%20x:5433/pgcluster_db_1_2_main?sslmode=disable"
        );
        assert_eq!(
            url(
                "host=::1,db.example port=5432,5433 user=u sslpassword=p",
                "d"
            ),
            "postgres://u@[::1]:5432,db.example:5433/d"
        );
    }
}
