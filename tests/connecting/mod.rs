//! Connecting from tests: settings resolved from a conninfo with an explicit environment
//! (never the process's), and the connection or its error.
//!
//! Include it with `mod connecting;`.
#![allow(dead_code, unreachable_pub)]

use pgcluster::conninfo::{Config, Env, Resolved};
use pgcluster::error::ConnectError;
use pgcluster::Connection;

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

/// Connects with `config`; panics with the error's text, naming `conninfo`.
pub async fn connect_with(config: &Resolved, conninfo: &str) -> Connection {
    match Connection::connect(config).await {
        Ok(conn) => conn,
        Err(e) => panic!("connect {conninfo:?}: {}", e.message),
    }
}

/// The error of connecting with `config`; panics if it connects.
pub async fn connect_error_with(config: &Resolved) -> ConnectError {
    match Connection::connect(config).await {
        Ok(conn) => panic!("connected: {conn:?}"),
        Err(e) => e,
    }
}

/// Connects (empty environment); panics on failure.
pub async fn connect(conninfo: &str) -> Connection {
    connect_with(&resolve(conninfo), conninfo).await
}

/// The connect error (empty environment); panics if it connects.
pub async fn connect_error(conninfo: &str) -> ConnectError {
    connect_error_with(&resolve(conninfo)).await
}

/// The connect error's text (empty environment); panics if it connects.
pub async fn failure(conninfo: &str) -> String {
    connect_error(conninfo).await.message
}
