//! Running one test on both drivers: the blocking API (`pgcluster::blocking`, the std
//! driver) and the async API (`pgcluster::Connection` / `Cluster`, the tokio driver).
//!
//! A test is written once as an `async fn name(driver: Driver)` whose calls go through
//! [`AnyConnection`] and [`AnyCluster`]: the same calls, arguments and result types on both
//! APIs. `both_drivers!(name)` generates the tests `name::blocking` and `name::tokio`, so a
//! failure names its driver:
//!
//! - `name::blocking` drives the body with [`block_on`], a thread-park executor with no
//!   runtime at all: every call is the blocking API's, on a thread that has no tokio
//!   context, as a program without a runtime would make it. A tokio-only call in the body
//!   (`tokio::time::sleep`, `tokio::spawn`) would panic there; use [`Driver::sleep`],
//!   [`Driver::spawn`] and [`Driver::join`].
//! - `name::tokio` drives it on a fresh current-thread tokio runtime, every call the async
//!   API's.
//!
//! Scripted servers and relays must not run on the test's own thread (a blocking call
//! would starve them): the threaded fake server has its own thread, and the tokio one in
//! `support/` its own background runtime.
//!
//! This file is the `driver` module of `connecting/` (`mod connecting;` brings it in).
#![allow(dead_code, unreachable_pub)]

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::Duration;

#[cfg(feature = "blocking")]
use pgcluster::blocking;
use pgcluster::cluster::{CreateOptions, DatabaseInfo, DatabaseName, DropOptions};
use pgcluster::connection::{Notification, QueryResult, State, Statement};
use pgcluster::conninfo::{Env, Resolved};
use pgcluster::error::{ConnectError, Error};
use pgcluster::rows::{Row, Rows};
#[cfg(feature = "async")]
use pgcluster::{Cluster, Connection};
use pgcluster::{ErrorFields, TransactionStatus};

/// Which API, and so which driver, a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// `pgcluster::blocking`: no runtime anywhere in the test.
    #[cfg(feature = "blocking")]
    Blocking,
    /// `pgcluster::Connection` / `pgcluster::Cluster` on a current-thread tokio runtime.
    #[cfg(feature = "async")]
    Async,
}

/// Generates `mod $name { #[test] fn blocking(); #[test] fn tokio(); }`, each running
/// `async fn $name(driver: Driver)` on its driver with `$runner` (by default
/// [`Driver::run`]; a runner is any `fn(Driver, impl Future<Output = T>) -> T`, e.g. one
/// that takes a lock first). `both_drivers!(sync $name)` calls a plain
/// `fn $name(driver: Driver)` instead, for a test that runs its own threads and runtimes.
#[allow(unused_macros)]
macro_rules! both_drivers {
    (sync $name:ident) => {
        mod $name {
            #[cfg(feature = "blocking")]
            #[test]
            fn blocking() {
                super::$name($crate::connecting::Driver::Blocking)
            }

            #[cfg(feature = "async")]
            #[test]
            fn tokio() {
                super::$name($crate::connecting::Driver::Async)
            }
        }
    };
    ($name:ident) => {
        $crate::connecting::both_drivers!($name, $crate::connecting::run);
    };
    ($name:ident, $runner:path) => {
        mod $name {
            // `$runner` is named as at the call site.
            #[allow(unused_imports)]
            use super::*;

            #[cfg(feature = "blocking")]
            #[test]
            fn blocking() {
                use $crate::connecting::Driver;
                $runner(Driver::Blocking, super::$name(Driver::Blocking))
            }

            #[cfg(feature = "async")]
            #[test]
            fn tokio() {
                use $crate::connecting::Driver;
                $runner(Driver::Async, super::$name(Driver::Async))
            }
        }
    };
}
pub(crate) use both_drivers;

/// Runs `test` on each driver in turn, blocking first, on this thread; names the driver
/// on stderr before each run (libtest shows it with a failure). For a test whose fixture
/// is too slow to make twice or cannot be made twice (a standby promoted, a network
/// namespace): each stage runs on both drivers before the next.
pub fn on_each_driver<F: Future>(mut test: impl FnMut(Driver) -> F) {
    for &driver in Driver::ALL {
        eprintln!("-- on the {} driver", driver.name());
        driver.run(test(driver));
    }
}

/// Runs `test` on `driver` ([`Driver::run`]): the default runner of [`both_drivers!`].
pub fn run<F: Future>(driver: Driver, test: F) -> F::Output {
    driver.run(test)
}

impl Driver {
    /// Both, blocking first (those the build has: `blocking`, `async`).
    pub const ALL: &'static [Driver] = &[
        #[cfg(feature = "blocking")]
        Driver::Blocking,
        #[cfg(feature = "async")]
        Driver::Async,
    ];

    /// `blocking` or `tokio`, as the generated tests are named: for names a test's two
    /// runs must not share (files, channels, databases) while they run side by side.
    pub fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "blocking")]
            Driver::Blocking => "blocking",
            #[cfg(feature = "async")]
            Driver::Async => "tokio",
        }
    }

    /// Runs `test` to the end on this thread: [`block_on`] with no runtime for
    /// [`Driver::Blocking`], a fresh current-thread tokio runtime for [`Driver::Async`].
    pub fn run<F: Future>(self, test: F) -> F::Output {
        match self {
            #[cfg(feature = "blocking")]
            Driver::Blocking => block_on(test),
            #[cfg(feature = "async")]
            Driver::Async => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime")
                .block_on(test),
        }
    }

    /// `blocking::Connection::connect` or `Connection::connect`.
    pub async fn connect(self, config: &Resolved) -> Result<AnyConnection, ConnectError> {
        match self {
            #[cfg(feature = "blocking")]
            Driver::Blocking => blocking::Connection::connect(config).map(AnyConnection::Blocking),
            #[cfg(feature = "async")]
            Driver::Async => Connection::connect(config).await.map(AnyConnection::Async),
        }
    }

    /// `blocking::Cluster::new` or `Cluster::new`.
    pub fn cluster(self, setting: &str) -> Result<AnyCluster, Error> {
        match self {
            #[cfg(feature = "blocking")]
            Driver::Blocking => blocking::Cluster::new(setting).map(AnyCluster::Blocking),
            #[cfg(feature = "async")]
            Driver::Async => Cluster::new(setting).map(AnyCluster::Async),
        }
    }

    /// Lets others run: `std::thread::yield_now` for [`Driver::Blocking`],
    /// `tokio::task::yield_now` for [`Driver::Async`].
    pub async fn yield_now(self) {
        match self {
            #[cfg(feature = "blocking")]
            Driver::Blocking => std::thread::yield_now(),
            #[cfg(feature = "async")]
            Driver::Async => tokio::task::yield_now().await,
        }
    }

    /// `blocking::get_cluster` or `get_cluster` (rex's name for it).
    pub fn get_cluster(self, setting: &str) -> Result<AnyCluster, Error> {
        match self {
            #[cfg(feature = "blocking")]
            Driver::Blocking => blocking::get_cluster(setting).map(AnyCluster::Blocking),
            #[cfg(feature = "async")]
            Driver::Async => pgcluster::get_cluster(setting).map(AnyCluster::Async),
        }
    }

    /// Sleeps: the thread for [`Driver::Blocking`], the task for [`Driver::Async`].
    pub async fn sleep(self, duration: Duration) {
        match self {
            #[cfg(feature = "blocking")]
            Driver::Blocking => std::thread::sleep(duration),
            #[cfg(feature = "async")]
            Driver::Async => tokio::time::sleep(duration).await,
        }
    }

    /// Runs `first` and `second` at the same time: `first` on a thread of its own for
    /// [`Driver::Blocking`] (each blocking call holds its thread), both on this task with
    /// `tokio::join!` for [`Driver::Async`].
    pub async fn join<A, B>(self, first: A, second: B) -> (A::Output, B::Output)
    where
        A: Future + Send,
        A::Output: Send,
        B: Future,
    {
        match self {
            #[cfg(feature = "blocking")]
            Driver::Blocking => std::thread::scope(|scope| {
                let first = scope.spawn(|| block_on(first));
                let second = block_on(second);
                (first.join().expect("first half panicked"), second)
            }),
            #[cfg(feature = "async")]
            Driver::Async => tokio::join!(first, second),
        }
    }

    /// Starts `task`: on a thread of its own for [`Driver::Blocking`], with `tokio::spawn`
    /// on the test's runtime for [`Driver::Async`].
    pub fn spawn<F>(self, task: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self {
            #[cfg(feature = "blocking")]
            Driver::Blocking => Task::Thread(std::thread::spawn(move || block_on(task))),
            #[cfg(feature = "async")]
            Driver::Async => Task::Tokio(tokio::spawn(task)),
        }
    }
}

/// A task started by [`Driver::spawn`].
pub enum Task<T> {
    /// On a thread of its own.
    #[cfg(feature = "blocking")]
    Thread(std::thread::JoinHandle<T>),
    /// On the test's tokio runtime.
    #[cfg(feature = "async")]
    Tokio(tokio::task::JoinHandle<T>),
}

impl<T> Task<T> {
    /// Its result; panics if it panicked.
    pub async fn join(self) -> T {
        match self {
            #[cfg(feature = "blocking")]
            Task::Thread(handle) => handle.join().expect("task panicked"),
            #[cfg(feature = "async")]
            Task::Tokio(handle) => handle.await.expect("task panicked"),
        }
    }

    /// Its result, or `None` if it has not finished within `limit` (a hang: a thread is
    /// then left behind, a tokio task dropped); panics if it panicked. For "never hangs"
    /// bounds, with generous limits.
    pub async fn join_within(self, limit: Duration) -> Option<T> {
        match self {
            #[cfg(feature = "blocking")]
            Task::Thread(handle) => {
                let started = std::time::Instant::now();
                while !handle.is_finished() {
                    if started.elapsed() > limit {
                        return None;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                Some(handle.join().expect("task panicked"))
            }
            #[cfg(feature = "async")]
            Task::Tokio(handle) => tokio::time::timeout(limit, handle)
                .await
                .ok()
                .map(|r| r.expect("task panicked")),
        }
    }
}

/// Runs `future` on this thread with no runtime, parking the thread while it is pending.
/// The blocking API never returns `Pending`; a body's own futures (joins, helpers) may.
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}

/// A connection of either API, with the calls both have. An async one lives on the tokio
/// runtime it was opened on: use it only inside the same [`Driver::run`].
pub enum AnyConnection {
    /// `pgcluster::blocking::Connection`.
    #[cfg(feature = "blocking")]
    Blocking(blocking::Connection),
    /// `pgcluster::Connection`.
    #[cfg(feature = "async")]
    Async(Connection),
}

impl AnyConnection {
    /// Which driver it runs on.
    pub fn driver(&self) -> Driver {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(_) => Driver::Blocking,
            #[cfg(feature = "async")]
            AnyConnection::Async(_) => Driver::Async,
        }
    }

    /// The address of the API's connection object (`{:p}`), as its repr shows it.
    pub fn address(&self) -> String {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(c) => format!("{c:p}"),
            #[cfg(feature = "async")]
            AnyConnection::Async(c) => format!("{c:p}"),
        }
    }

    /// `simple_query`.
    pub async fn simple_query(&mut self, sql: &str) -> Result<Vec<QueryResult>, Error> {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(c) => c.simple_query(sql),
            #[cfg(feature = "async")]
            AnyConnection::Async(c) => c.simple_query(sql).await,
        }
    }

    /// `simple_query_rows`.
    pub async fn simple_query_rows(&mut self, sql: &str) -> Result<Vec<Rows>, Error> {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(c) => c.simple_query_rows(sql),
            #[cfg(feature = "async")]
            AnyConnection::Async(c) => c.simple_query_rows(sql).await,
        }
    }

    /// `query`.
    pub async fn query(
        &mut self,
        sql: &str,
        params: &[Option<&str>],
    ) -> Result<QueryResult, Error> {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(c) => c.query(sql, params),
            #[cfg(feature = "async")]
            AnyConnection::Async(c) => c.query(sql, params).await,
        }
    }

    /// `query_rows`.
    pub async fn query_rows(&mut self, sql: &str, params: &[Option<&str>]) -> Result<Rows, Error> {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(c) => c.query_rows(sql, params),
            #[cfg(feature = "async")]
            AnyConnection::Async(c) => c.query_rows(sql, params).await,
        }
    }

    /// `prepare`.
    pub async fn prepare(&mut self, sql: &str) -> Result<Statement, Error> {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(c) => c.prepare(sql),
            #[cfg(feature = "async")]
            AnyConnection::Async(c) => c.prepare(sql).await,
        }
    }

    /// `query_prepared`.
    pub async fn query_prepared(
        &mut self,
        statement: &Statement,
        params: &[Option<&str>],
    ) -> Result<QueryResult, Error> {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(c) => c.query_prepared(statement, params),
            #[cfg(feature = "async")]
            AnyConnection::Async(c) => c.query_prepared(statement, params).await,
        }
    }

    /// `query_prepared_rows`.
    pub async fn query_prepared_rows(
        &mut self,
        statement: &Statement,
        params: &[Option<&str>],
    ) -> Result<Rows, Error> {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(c) => c.query_prepared_rows(statement, params),
            #[cfg(feature = "async")]
            AnyConnection::Async(c) => c.query_prepared_rows(statement, params).await,
        }
    }

    /// `query_each`.
    pub async fn query_each<F>(
        &mut self,
        sql: &str,
        params: &[Option<&str>],
        f: F,
    ) -> Result<QueryResult, Error>
    where
        F: FnMut(Row<'_>) + Send,
    {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(c) => c.query_each(sql, params, f),
            #[cfg(feature = "async")]
            AnyConnection::Async(c) => c.query_each(sql, params, f).await,
        }
    }

    /// `copy_in`.
    pub async fn copy_in(&mut self, sql: &str, data: &[u8]) -> Result<QueryResult, Error> {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(c) => c.copy_in(sql, data),
            #[cfg(feature = "async")]
            AnyConnection::Async(c) => c.copy_in(sql, data).await,
        }
    }

    /// `copy_out`.
    pub async fn copy_out(&mut self, sql: &str) -> Result<Vec<u8>, Error> {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(c) => c.copy_out(sql),
            #[cfg(feature = "async")]
            AnyConnection::Async(c) => c.copy_out(sql).await,
        }
    }

    /// `close`.
    pub async fn close(&mut self) {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(c) => c.close(),
            #[cfg(feature = "async")]
            AnyConnection::Async(c) => c.close().await,
        }
    }

    /// `state`.
    pub fn state(&self) -> State {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(c) => c.state(),
            #[cfg(feature = "async")]
            AnyConnection::Async(c) => c.state(),
        }
    }

    /// `parameter`.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(c) => c.parameter(name),
            #[cfg(feature = "async")]
            AnyConnection::Async(c) => c.parameter(name),
        }
    }

    /// `take_notices`.
    pub fn take_notices(&mut self) -> Vec<ErrorFields> {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(c) => c.take_notices(),
            #[cfg(feature = "async")]
            AnyConnection::Async(c) => c.take_notices(),
        }
    }

    /// `notices_dropped`.
    pub fn notices_dropped(&self) -> u64 {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(c) => c.notices_dropped(),
            #[cfg(feature = "async")]
            AnyConnection::Async(c) => c.notices_dropped(),
        }
    }

    /// `take_notifications`.
    pub fn take_notifications(&mut self) -> Vec<Notification> {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(c) => c.take_notifications(),
            #[cfg(feature = "async")]
            AnyConnection::Async(c) => c.take_notifications(),
        }
    }

    /// `backend_pid`.
    pub fn backend_pid(&self) -> Option<i32> {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(c) => c.backend_pid(),
            #[cfg(feature = "async")]
            AnyConnection::Async(c) => c.backend_pid(),
        }
    }

    /// `protocol_version`.
    pub fn protocol_version(&self) -> pgcluster::ProtocolVersion {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(c) => c.protocol_version(),
            #[cfg(feature = "async")]
            AnyConnection::Async(c) => c.protocol_version(),
        }
    }

    /// `cancel_token`.
    pub fn cancel_token(&self) -> Option<pgcluster::connection::CancelToken> {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(c) => c.cancel_token(),
            #[cfg(feature = "async")]
            AnyConnection::Async(c) => c.cancel_token(),
        }
    }

    /// `transaction_status`.
    pub fn transaction_status(&self) -> TransactionStatus {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(c) => c.transaction_status(),
            #[cfg(feature = "async")]
            AnyConnection::Async(c) => c.transaction_status(),
        }
    }

    /// `dsn`.
    pub fn dsn(&self) -> &str {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(c) => c.dsn(),
            #[cfg(feature = "async")]
            AnyConnection::Async(c) => c.dsn(),
        }
    }

    /// `repr`.
    pub fn repr(&self) -> String {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(c) => c.repr(),
            #[cfg(feature = "async")]
            AnyConnection::Async(c) => c.repr(),
        }
    }

    /// `autocommit`.
    pub fn autocommit(&self) -> bool {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(c) => c.autocommit(),
            #[cfg(feature = "async")]
            AnyConnection::Async(c) => c.autocommit(),
        }
    }
}

impl fmt::Debug for AnyConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            #[cfg(feature = "blocking")]
            AnyConnection::Blocking(c) => c.fmt(f),
            #[cfg(feature = "async")]
            AnyConnection::Async(c) => c.fmt(f),
        }
    }
}

/// A cluster of either API, with the calls both have.
pub enum AnyCluster {
    /// `pgcluster::blocking::Cluster`.
    #[cfg(feature = "blocking")]
    Blocking(blocking::Cluster),
    /// `pgcluster::Cluster`.
    #[cfg(feature = "async")]
    Async(Cluster),
}

impl AnyCluster {
    /// Which driver it runs on.
    pub fn driver(&self) -> Driver {
        match self {
            #[cfg(feature = "blocking")]
            AnyCluster::Blocking(_) => Driver::Blocking,
            #[cfg(feature = "async")]
            AnyCluster::Async(_) => Driver::Async,
        }
    }

    /// `with_env`.
    pub fn with_env(self, env: Env) -> Self {
        match self {
            #[cfg(feature = "blocking")]
            AnyCluster::Blocking(c) => AnyCluster::Blocking(c.with_env(env)),
            #[cfg(feature = "async")]
            AnyCluster::Async(c) => AnyCluster::Async(c.with_env(env)),
        }
    }

    /// `repr`.
    pub fn repr(&self) -> String {
        match self {
            #[cfg(feature = "blocking")]
            AnyCluster::Blocking(c) => c.repr(),
            #[cfg(feature = "async")]
            AnyCluster::Async(c) => c.repr(),
        }
    }

    /// `take_warnings`.
    pub fn take_warnings(&self) -> Vec<String> {
        match self {
            #[cfg(feature = "blocking")]
            AnyCluster::Blocking(c) => c.take_warnings(),
            #[cfg(feature = "async")]
            AnyCluster::Async(c) => c.take_warnings(),
        }
    }

    /// `database`.
    pub fn database(&self) -> Result<String, Error> {
        match self {
            #[cfg(feature = "blocking")]
            AnyCluster::Blocking(c) => c.database(),
            #[cfg(feature = "async")]
            AnyCluster::Async(c) => c.database(),
        }
    }

    /// `named_database`.
    pub fn named_database(&self) -> Option<&str> {
        match self {
            #[cfg(feature = "blocking")]
            AnyCluster::Blocking(c) => c.named_database(),
            #[cfg(feature = "async")]
            AnyCluster::Async(c) => c.named_database(),
        }
    }

    /// `server`.
    pub fn server(&self) -> Result<String, Error> {
        match self {
            #[cfg(feature = "blocking")]
            AnyCluster::Blocking(c) => c.server(),
            #[cfg(feature = "async")]
            AnyCluster::Async(c) => c.server(),
        }
    }

    /// `connect`.
    pub async fn connect(&self, name: impl DatabaseName) -> Result<AnyConnection, Error> {
        match self {
            #[cfg(feature = "blocking")]
            AnyCluster::Blocking(c) => c.connect(name).map(AnyConnection::Blocking),
            #[cfg(feature = "async")]
            AnyCluster::Async(c) => c.connect(name).await.map(AnyConnection::Async),
        }
    }

    /// `connect_with`.
    pub async fn connect_with(
        &self,
        name: impl DatabaseName,
        autocommit: bool,
    ) -> Result<AnyConnection, Error> {
        match self {
            #[cfg(feature = "blocking")]
            AnyCluster::Blocking(c) => c
                .connect_with(name, autocommit)
                .map(AnyConnection::Blocking),
            #[cfg(feature = "async")]
            AnyCluster::Async(c) => c
                .connect_with(name, autocommit)
                .await
                .map(AnyConnection::Async),
        }
    }

    /// `exists`.
    pub async fn exists(&self, name: impl DatabaseName) -> Result<bool, Error> {
        match self {
            #[cfg(feature = "blocking")]
            AnyCluster::Blocking(c) => c.exists(name),
            #[cfg(feature = "async")]
            AnyCluster::Async(c) => c.exists(name).await,
        }
    }

    /// `create`.
    pub async fn create(&self, name: impl DatabaseName) -> Result<(), Error> {
        match self {
            #[cfg(feature = "blocking")]
            AnyCluster::Blocking(c) => c.create(name),
            #[cfg(feature = "async")]
            AnyCluster::Async(c) => c.create(name).await,
        }
    }

    /// `create_with`.
    pub async fn create_with(
        &self,
        name: impl DatabaseName,
        options: &CreateOptions,
    ) -> Result<(), Error> {
        match self {
            #[cfg(feature = "blocking")]
            AnyCluster::Blocking(c) => c.create_with(name, options),
            #[cfg(feature = "async")]
            AnyCluster::Async(c) => c.create_with(name, options).await,
        }
    }

    /// `copy_database`.
    pub async fn copy_database(
        &self,
        template: impl AsRef<str>,
        name: impl DatabaseName,
    ) -> Result<(), Error> {
        match self {
            #[cfg(feature = "blocking")]
            AnyCluster::Blocking(c) => c.copy_database(template, name),
            #[cfg(feature = "async")]
            AnyCluster::Async(c) => c.copy_database(template, name).await,
        }
    }

    /// `drop_database`.
    pub async fn drop_database(&self, name: impl DatabaseName) -> Result<(), Error> {
        match self {
            #[cfg(feature = "blocking")]
            AnyCluster::Blocking(c) => c.drop_database(name),
            #[cfg(feature = "async")]
            AnyCluster::Async(c) => c.drop_database(name).await,
        }
    }

    /// `drop_database_with`.
    pub async fn drop_database_with(
        &self,
        name: impl DatabaseName,
        options: &DropOptions,
    ) -> Result<(), Error> {
        match self {
            #[cfg(feature = "blocking")]
            AnyCluster::Blocking(c) => c.drop_database_with(name, options),
            #[cfg(feature = "async")]
            AnyCluster::Async(c) => c.drop_database_with(name, options).await,
        }
    }

    /// `rename`.
    pub async fn rename(&self, new: impl AsRef<str>, name: impl DatabaseName) -> Result<(), Error> {
        match self {
            #[cfg(feature = "blocking")]
            AnyCluster::Blocking(c) => c.rename(new, name),
            #[cfg(feature = "async")]
            AnyCluster::Async(c) => c.rename(new, name).await,
        }
    }

    /// `overwrite`.
    pub async fn overwrite(&self, name: impl DatabaseName) -> Result<(), Error> {
        match self {
            #[cfg(feature = "blocking")]
            AnyCluster::Blocking(c) => c.overwrite(name),
            #[cfg(feature = "async")]
            AnyCluster::Async(c) => c.overwrite(name).await,
        }
    }

    /// `overwrite_with`.
    pub async fn overwrite_with(
        &self,
        name: impl DatabaseName,
        options: &CreateOptions,
    ) -> Result<(), Error> {
        match self {
            #[cfg(feature = "blocking")]
            AnyCluster::Blocking(c) => c.overwrite_with(name, options),
            #[cfg(feature = "async")]
            AnyCluster::Async(c) => c.overwrite_with(name, options).await,
        }
    }

    /// `list`.
    pub async fn list(&self) -> Result<Vec<DatabaseInfo>, Error> {
        match self {
            #[cfg(feature = "blocking")]
            AnyCluster::Blocking(c) => c.list(),
            #[cfg(feature = "async")]
            AnyCluster::Async(c) => c.list().await,
        }
    }

    /// `leftovers`.
    pub async fn leftovers(&self) -> Result<Vec<DatabaseInfo>, Error> {
        match self {
            #[cfg(feature = "blocking")]
            AnyCluster::Blocking(c) => c.leftovers(),
            #[cfg(feature = "async")]
            AnyCluster::Async(c) => c.leftovers().await,
        }
    }

    /// `cleanup`.
    pub async fn cleanup(&self) -> Result<Vec<DatabaseInfo>, Error> {
        match self {
            #[cfg(feature = "blocking")]
            AnyCluster::Blocking(c) => c.cleanup(),
            #[cfg(feature = "async")]
            AnyCluster::Async(c) => c.cleanup().await,
        }
    }
}

impl fmt::Debug for AnyCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            #[cfg(feature = "blocking")]
            AnyCluster::Blocking(c) => c.fmt(f),
            #[cfg(feature = "async")]
            AnyCluster::Async(c) => c.fmt(f),
        }
    }
}

/// Runs `test` on each driver in turn, blocking first, on this thread; names the driver on
/// stderr before each run (libtest shows it with a failure). For a test written as a plain
/// function over [`SyncCluster`], whose database names the two runs would share.
pub fn for_each_driver(mut test: impl FnMut(Driver)) {
    for &driver in Driver::ALL {
        eprintln!("-- on the {} driver", driver.name());
        test(driver);
    }
}

/// Runs `test` on every driver at once, each on a thread of its own: for a test that
/// mostly waits on the server (the server's 5 s before "being accessed by other users"),
/// so that the drivers' waits overlap. What each run creates needs a name of its own.
pub fn each_driver_at_once(test: impl Fn(Driver) + Sync) {
    std::thread::scope(|scope| {
        for &driver in Driver::ALL {
            let test = &test;
            scope.spawn(move || test(driver));
        }
    });
}

impl Driver {
    /// A [`SyncConnection`] on this driver (`Connection::connect`).
    pub fn sync_connect(self, config: &Resolved) -> Result<SyncConnection, ConnectError> {
        let runtime = self.sync_runtime();
        let conn = finish(&runtime, self.connect(config))?;
        Ok(SyncConnection {
            inner: Some(conn),
            runtime,
        })
    }

    /// None for [`Driver::Blocking`]; a current-thread runtime for [`Driver::Async`].
    fn sync_runtime(self) -> Option<Arc<tokio::runtime::Runtime>> {
        match self {
            #[cfg(feature = "blocking")]
            Driver::Blocking => None,
            #[cfg(feature = "async")]
            Driver::Async => Some(Arc::new(
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio runtime"),
            )),
        }
    }

    /// A [`SyncCluster`] on this driver for `setting` (`Cluster::new`).
    pub fn sync_cluster(self, setting: &str) -> Result<SyncCluster, Error> {
        Ok(self.sync(self.cluster(setting)?))
    }

    /// A [`SyncCluster`] on this driver for `setting` (`get_cluster`).
    pub fn sync_get_cluster(self, setting: &str) -> Result<SyncCluster, Error> {
        Ok(self.sync(self.get_cluster(setting)?))
    }

    fn sync(self, cluster: AnyCluster) -> SyncCluster {
        SyncCluster {
            inner: Some(cluster),
            runtime: self.sync_runtime(),
        }
    }
}

/// Runs `future` on `runtime` if there is one (the async API's calls), else with
/// [`block_on`] (the blocking API's, which never wait in a poll).
fn finish<F: Future>(runtime: &Option<Arc<tokio::runtime::Runtime>>, future: F) -> F::Output {
    match runtime {
        Some(runtime) => runtime.block_on(future),
        None => block_on(future),
    }
}

/// Either API's cluster with plain (non-async) calls, for tests written as plain
/// functions: the blocking API's calls as they are, the async API's each run to the end
/// on a current-thread runtime that the cluster and the connections it opens share.
pub struct SyncCluster {
    inner: Option<AnyCluster>,
    runtime: Option<Arc<tokio::runtime::Runtime>>,
}

impl SyncCluster {
    fn any(&self) -> &AnyCluster {
        self.inner.as_ref().expect("not dropped")
    }

    /// Which driver it runs on.
    pub fn driver(&self) -> Driver {
        self.any().driver()
    }

    /// `with_env`.
    pub fn with_env(mut self, env: Env) -> Self {
        self.inner = self.inner.take().map(|c| c.with_env(env));
        self
    }

    /// `repr`.
    pub fn repr(&self) -> String {
        self.any().repr()
    }

    /// `take_warnings`.
    pub fn take_warnings(&self) -> Vec<String> {
        self.any().take_warnings()
    }

    /// `database`.
    pub fn database(&self) -> Result<String, Error> {
        self.any().database()
    }

    /// `named_database`.
    pub fn named_database(&self) -> Option<&str> {
        self.any().named_database()
    }

    /// `server`.
    pub fn server(&self) -> Result<String, Error> {
        self.any().server()
    }

    /// `connect`.
    pub fn connect(&self, name: impl DatabaseName) -> Result<SyncConnection, Error> {
        let conn = finish(&self.runtime, self.any().connect(name))?;
        Ok(SyncConnection {
            inner: Some(conn),
            runtime: self.runtime.clone(),
        })
    }

    /// `exists`.
    pub fn exists(&self, name: impl DatabaseName) -> Result<bool, Error> {
        finish(&self.runtime, self.any().exists(name))
    }

    /// `create`.
    pub fn create(&self, name: impl DatabaseName) -> Result<(), Error> {
        finish(&self.runtime, self.any().create(name))
    }

    /// `create_with`.
    pub fn create_with(
        &self,
        name: impl DatabaseName,
        options: &CreateOptions,
    ) -> Result<(), Error> {
        finish(&self.runtime, self.any().create_with(name, options))
    }

    /// `copy_database`.
    pub fn copy_database(
        &self,
        template: impl AsRef<str>,
        name: impl DatabaseName,
    ) -> Result<(), Error> {
        finish(&self.runtime, self.any().copy_database(template, name))
    }

    /// `drop_database`.
    pub fn drop_database(&self, name: impl DatabaseName) -> Result<(), Error> {
        finish(&self.runtime, self.any().drop_database(name))
    }

    /// `drop_database_with`.
    pub fn drop_database_with(
        &self,
        name: impl DatabaseName,
        options: &DropOptions,
    ) -> Result<(), Error> {
        finish(&self.runtime, self.any().drop_database_with(name, options))
    }

    /// `rename`.
    pub fn rename(&self, new: impl AsRef<str>, name: impl DatabaseName) -> Result<(), Error> {
        finish(&self.runtime, self.any().rename(new, name))
    }

    /// `overwrite`.
    pub fn overwrite(&self, name: impl DatabaseName) -> Result<(), Error> {
        finish(&self.runtime, self.any().overwrite(name))
    }

    /// `overwrite_with`.
    pub fn overwrite_with(
        &self,
        name: impl DatabaseName,
        options: &CreateOptions,
    ) -> Result<(), Error> {
        finish(&self.runtime, self.any().overwrite_with(name, options))
    }

    /// `list`.
    pub fn list(&self) -> Result<Vec<DatabaseInfo>, Error> {
        finish(&self.runtime, self.any().list())
    }

    /// `leftovers`.
    pub fn leftovers(&self) -> Result<Vec<DatabaseInfo>, Error> {
        finish(&self.runtime, self.any().leftovers())
    }

    /// `cleanup`.
    pub fn cleanup(&self) -> Result<Vec<DatabaseInfo>, Error> {
        finish(&self.runtime, self.any().cleanup())
    }
}

impl Drop for SyncCluster {
    /// Dropped inside its runtime's context, as an async program drops it.
    fn drop(&mut self) {
        let _context = self.runtime.as_ref().map(|r| r.enter());
        drop(self.inner.take());
    }
}

impl fmt::Debug for SyncCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.any().fmt(f)
    }
}

/// A connection opened by a [`SyncCluster`] or [`Driver::sync_connect`], with plain calls
/// the same way.
pub struct SyncConnection {
    inner: Option<AnyConnection>,
    runtime: Option<Arc<tokio::runtime::Runtime>>,
}

impl SyncConnection {
    fn any(&mut self) -> &mut AnyConnection {
        self.inner.as_mut().expect("not dropped")
    }

    /// `simple_query`.
    pub fn simple_query(&mut self, sql: &str) -> Result<Vec<QueryResult>, Error> {
        let runtime = self.runtime.clone();
        finish(&runtime, self.any().simple_query(sql))
    }

    /// `query`.
    pub fn query(&mut self, sql: &str, params: &[Option<&str>]) -> Result<QueryResult, Error> {
        let runtime = self.runtime.clone();
        finish(&runtime, self.any().query(sql, params))
    }

    /// `simple_query_rows`.
    pub fn simple_query_rows(&mut self, sql: &str) -> Result<Vec<Rows>, Error> {
        let runtime = self.runtime.clone();
        finish(&runtime, self.any().simple_query_rows(sql))
    }

    /// `query_rows`.
    pub fn query_rows(&mut self, sql: &str, params: &[Option<&str>]) -> Result<Rows, Error> {
        let runtime = self.runtime.clone();
        finish(&runtime, self.any().query_rows(sql, params))
    }

    /// `query_each`.
    pub fn query_each<F>(
        &mut self,
        sql: &str,
        params: &[Option<&str>],
        f: F,
    ) -> Result<QueryResult, Error>
    where
        F: FnMut(Row<'_>) + Send,
    {
        let runtime = self.runtime.clone();
        finish(&runtime, self.any().query_each(sql, params, f))
    }

    /// `prepare`.
    pub fn prepare(&mut self, sql: &str) -> Result<Statement, Error> {
        let runtime = self.runtime.clone();
        finish(&runtime, self.any().prepare(sql))
    }

    /// `query_prepared`.
    pub fn query_prepared(
        &mut self,
        statement: &Statement,
        params: &[Option<&str>],
    ) -> Result<QueryResult, Error> {
        let runtime = self.runtime.clone();
        finish(&runtime, self.any().query_prepared(statement, params))
    }

    /// `query_prepared_rows`.
    pub fn query_prepared_rows(
        &mut self,
        statement: &Statement,
        params: &[Option<&str>],
    ) -> Result<Rows, Error> {
        let runtime = self.runtime.clone();
        finish(&runtime, self.any().query_prepared_rows(statement, params))
    }

    /// `close`.
    pub fn close(&mut self) {
        let runtime = self.runtime.clone();
        finish(&runtime, self.any().close());
    }

    /// `state`.
    pub fn state(&mut self) -> State {
        self.any().state()
    }

    /// `repr`.
    pub fn repr(&mut self) -> String {
        self.any().repr()
    }
}

impl Drop for SyncConnection {
    /// Dropped inside its runtime's context, as an async program drops it.
    fn drop(&mut self) {
        let _context = self.runtime.as_ref().map(|r| r.enter());
        drop(self.inner.take());
    }
}

impl fmt::Debug for SyncConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Some(conn) => conn.fmt(f),
            None => f.write_str("SyncConnection(dropped)"),
        }
    }
}
