//! Whether the server accepts connections, as libpq's `PQping` and `pg_isready` tell.

use std::time::Duration;

use super::Cluster;
use crate::connection::Connection;
use crate::error::Ping;

impl Cluster {
    /// Whether the server accepts connections, as libpq's `PQping` (and `pg_isready`) tells:
    /// a connection to the setting's database is opened and closed. A server that refuses
    /// with any error but "cannot connect now" (57P03) is up ([`Ping::Accepting`]: a wrong
    /// password or a missing database needs a running server); settings that cannot be
    /// used are [`Ping::NoAttempt`]. `connect_timeout` bounds the attempt when the setting
    /// has no `connect_timeout` of its own (whole seconds, rounded up; libpq's minimum of
    /// 2 s applies).
    pub async fn ping(&self, connect_timeout: Option<Duration>) -> Ping {
        let Ok(dbname) = self.database() else {
            return Ping::NoAttempt;
        };
        let Ok((mut config, _)) = self.setting.connection(&dbname) else {
            return Ping::NoAttempt;
        };
        if let Some(timeout) = connect_timeout {
            if config.get("connect_timeout").is_none() {
                let seconds = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
                if config.set("connect_timeout", &seconds.to_string()).is_err() {
                    return Ping::NoAttempt;
                }
            }
        }
        let Ok(resolved) = config.resolve(&self.env) else {
            return Ping::NoAttempt;
        };
        match Connection::connect_with(&resolved, self.driver).await {
            Ok(mut conn) => {
                conn.close().await;
                Ping::Accepting
            }
            Err(e) => e.ping(),
        }
    }
}
