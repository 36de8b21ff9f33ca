//! Connecting from tests: settings resolved from a conninfo with an explicit environment
//! (never the process's), and the connection or its error, on either driver (the blocking
//! API or the async one: [`Driver`], from `support/driver.rs`).
//!
//! Include it with `mod connecting;`.
#![allow(dead_code, unreachable_pub, unused_imports)]

#[path = "../support/driver.rs"]
mod driver;

pub(crate) use driver::both_drivers;
pub use driver::{
    block_on, each_driver_at_once, for_each_driver, on_each_driver, run, AnyCluster, AnyConnection,
    Driver, SyncCluster, SyncConnection, Task,
};

use pgcluster::conninfo::{Config, Env, Resolved};
use pgcluster::error::ConnectError;

/// `conninfo` resolved with `env` as the whole environment.
pub fn resolve_env(conninfo: &str, env: &Env) -> Resolved {
    Config::parse(conninfo)
        .expect("conninfo parses")
        .resolve(env)
        .expect("conninfo resolves")
}

/// `conninfo` resolved with an empty environment.
pub fn resolve(conninfo: &str) -> Resolved {
    resolve_env(conninfo, &Env::empty())
}

/// `conninfo` resolved with only `PGSSLMODE=disable`: for fake servers, which would read
/// an SSLRequest as their startup packet.
pub fn resolve_plain(conninfo: &str) -> Resolved {
    resolve_env(conninfo, &Env::empty().with("PGSSLMODE", "disable"))
}

/// Connects with `config` on `driver`; panics with the error's text, naming `conninfo`.
pub async fn connect_with(driver: Driver, config: &Resolved, conninfo: &str) -> AnyConnection {
    match driver.connect(config).await {
        Ok(conn) => conn,
        Err(e) => panic!("connect {conninfo:?} ({driver:?}): {}", e.message),
    }
}

/// The error of connecting with `config` on `driver`; panics if it connects.
pub async fn connect_error_with(driver: Driver, config: &Resolved) -> ConnectError {
    match driver.connect(config).await {
        Ok(conn) => panic!("connected ({driver:?}): {conn:?}"),
        Err(e) => e,
    }
}

/// Connects (empty environment); panics on failure.
pub async fn connect(driver: Driver, conninfo: &str) -> AnyConnection {
    connect_with(driver, &resolve(conninfo), conninfo).await
}

/// The connect error (empty environment); panics if it connects.
pub async fn connect_error(driver: Driver, conninfo: &str) -> ConnectError {
    connect_error_with(driver, &resolve(conninfo)).await
}

/// The connect error's text (empty environment); panics if it connects.
pub async fn failure(driver: Driver, conninfo: &str) -> String {
    connect_error(driver, conninfo).await.message
}
