//! libpq URIs of a [`TestServer`], and its errors as [`crate::Error`]s.

use super::config::{percent_encode, userinfo};
use super::{Error, TestServer, HOST_TCP};

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
