//! Any server: an existing one named by `PGCLUSTER_TEST_URL`, or a throwaway one.

use super::template::{Migrations, Template, TemplateError};
use super::TestServer;

/// The environment variable naming an existing server for the tests (a libpq connection
/// string, `postgres://...` or `key=value`): [`Migrations::build_default`] builds there
/// instead of on a throwaway server.
pub const TEST_URL_VAR: &str = "PGCLUSTER_TEST_URL";

/// The value of [`TEST_URL_VAR`], unless it is unset or empty.
pub fn test_url() -> Option<String> {
    std::env::var(TEST_URL_VAR).ok().filter(|v| !v.is_empty())
}

impl Migrations {
    /// Builds the template on the server of `PGCLUSTER_TEST_URL` when that is set (like
    /// [`build_at`](Self::build_at): the role must be allowed to create databases; no
    /// throwaway server is started), else on this process's
    /// [`TestServer::shared`] (started on first use).
    ///
    /// ```
    /// use pgcluster::testing::Migrations;
    ///
    /// // PGCLUSTER_TEST_URL='postgres://me@localhost/postgres' cargo test: that server;
    /// // cargo test: a throwaway one.
    /// let template = Migrations::new("app")
    ///     .dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/migrations"))
    ///     .build_default()?;
    /// let db = template.fresh()?;
    /// # drop(db);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build_default(&self) -> Result<Template, TemplateError> {
        match test_url() {
            Some(url) => self.build_at(&url),
            None => {
                let server = TestServer::shared().map_err(|e| TemplateError::Server {
                    action: "start a throwaway server".into(),
                    source: e.into(),
                })?;
                self.build(server)
            }
        }
    }
}
