//! [`PostgresStore`]: tokens in a PostgreSQL database (cargo feature `postgres`).
//!
//! Why deadpool-postgres for the pool: it pools the tokio-postgres clients this store already
//! used (sqlx would replace the driver and its error types), it is small and maintained, and
//! it lets a connection be taken out of the pool for good ([`Object::take`]), which a call
//! that timed out needs. bb8 would do as well; its tokio-postgres adapter is a second crate.

use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod};
use futures::future::BoxFuture;
use tokio_postgres::{Client, Config, NoTls, Row};

use super::{Columns, StorageError, StoredTokens, TokenStore};

/// Creates the table, or adds the columns a table from an earlier version lacks, under an
/// advisory lock so that replicas starting together do not race on the DDL.
const SCHEMA: &str = "BEGIN;
SELECT pg_advisory_xact_lock(7305718462210841621);
CREATE TABLE IF NOT EXISTS miro_tokens (
    user_id       TEXT PRIMARY KEY,
    access_token  TEXT NOT NULL,
    refresh_token TEXT,
    expires_at    BIGINT,
    team_id       TEXT,
    scope         TEXT,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
ALTER TABLE miro_tokens ADD COLUMN IF NOT EXISTS version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE miro_tokens ADD COLUMN IF NOT EXISTS marker TEXT;
ALTER TABLE miro_tokens ADD COLUMN IF NOT EXISTS obtained_at BIGINT;
COMMIT;";

/// Every column the store reads or writes.
const COLUMNS: [&str; 10] = [
    "user_id",
    "access_token",
    "refresh_token",
    "expires_at",
    "team_id",
    "scope",
    "updated_at",
    "version",
    "marker",
    "obtained_at",
];

/// tokio-postgres's own default idle time before keepalive probes (two hours): a connection
/// string that leaves `keepalives_idle` at it gets the builder's.
const PG_DEFAULT_KEEPALIVE_IDLE: Duration = Duration::from_secs(2 * 60 * 60);
/// Unanswered keepalive probes before the kernel gives a connection up.
const KEEPALIVE_RETRIES: u32 = 3;

/// Tokens in PostgreSQL, shared by every process and machine that connects to the database.
///
/// Its table is `miro_tokens`. [`connect`](Self::connect) creates it (or adds columns of a
/// newer version) only when it is missing something, so an application role with only
/// `SELECT, INSERT, UPDATE, DELETE` on an existing table connects fine;
/// [`migrate`](Self::migrate) does the DDL on its own, for a deploy step with an owner role.
/// The compare-and-set is one `UPDATE .. WHERE version = $n` statement. Writes are committed
/// (durable with PostgreSQL's default `synchronous_commit`) when they return.
///
/// Connections come from a pool (deadpool-postgres, at most
/// [`DEFAULT_MAX_CONNECTIONS`](Self::DEFAULT_MAX_CONNECTIONS) by default) and every call is
/// bounded in time, so that a connection that stopped answering without closing (a frozen
/// server process, a network that drops packets) costs one call, not every call until TCP
/// gives up:
///
/// - getting a connection (waiting for a free one or opening one) fails with
///   [`StorageError::TimedOut`] after the connect time limit
///   ([`DEFAULT_CONNECT_TIMEOUT`](Self::DEFAULT_CONNECT_TIMEOUT), 4 s);
/// - a statement that does not answer within the statement time limit
///   ([`DEFAULT_STATEMENT_TIMEOUT`](Self::DEFAULT_STATEMENT_TIMEOUT), 5 s) fails with
///   [`StorageError::TimedOut`]; its connection is closed, not put back, and so are the
///   pool's idle connections (they may be cut off the same way), so the next call opens a
///   fresh one. The server gets the same limit as its `statement_timeout`, so that it does
///   not go on with a statement the client gave up on; a write that timed out may still have
///   been applied, which the `Miro` client handles. A call dropped by its caller half-way
///   closes its connection the same way;
/// - TCP keepalive probes find dead idle connections (the first after
///   [`DEFAULT_KEEPALIVE_IDLE`](Self::DEFAULT_KEEPALIVE_IDLE), 30 s, without traffic).
///
/// [`builder`](Self::builder) changes these. No TLS: run it over a trusted network or a Unix
/// socket.
pub struct PostgresStore {
    pool: Pool,
    target: String,
    statement_timeout: Duration,
    connect_timeout: Duration,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("database", &self.target)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .finish_non_exhaustive()
    }
}

/// Settings for a [`PostgresStore`]: pool size, time limits and TCP keepalive. Made by
/// [`PostgresStore::builder`]; [`connect`](Self::connect) opens the store.
///
/// ```no_run
/// # async fn f() -> Result<(), miro_api_extended::storage::StorageError> {
/// use std::time::Duration;
/// use miro_api_extended::storage::PostgresStore;
///
/// let store = PostgresStore::builder()
///     .statement_timeout(Duration::from_secs(2))
///     .connect("host=db.internal user=app dbname=app")
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct PostgresStoreBuilder {
    max_connections: usize,
    connect_timeout: Duration,
    statement_timeout: Duration,
    keepalive_idle: Duration,
}

impl Default for PostgresStoreBuilder {
    fn default() -> Self {
        PostgresStoreBuilder {
            max_connections: PostgresStore::DEFAULT_MAX_CONNECTIONS,
            connect_timeout: PostgresStore::DEFAULT_CONNECT_TIMEOUT,
            statement_timeout: PostgresStore::DEFAULT_STATEMENT_TIMEOUT,
            keepalive_idle: PostgresStore::DEFAULT_KEEPALIVE_IDLE,
        }
    }
}

impl PostgresStoreBuilder {
    /// How many connections the pool keeps open at most (default
    /// [`PostgresStore::DEFAULT_MAX_CONNECTIONS`], 8; at least 1). A call finding all of them
    /// busy waits for one, within the connect time limit.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long getting a connection may take, waiting for a free one of the pool or opening
    /// one (default [`PostgresStore::DEFAULT_CONNECT_TIMEOUT`], 4 s; at least 1 ms); then the
    /// call fails with [`StorageError::TimedOut`]. A `connect_timeout` in the connection
    /// string still limits each connection attempt.
    pub fn connect_timeout(mut self, limit: Duration) -> Self {
        self.connect_timeout = limit.max(Duration::from_millis(1));
        self
    }

    /// How long one statement may take (default
    /// [`PostgresStore::DEFAULT_STATEMENT_TIMEOUT`], 5 s; at least 1 ms); then the call fails
    /// with [`StorageError::TimedOut`] and its connection is closed. The server is given the
    /// same limit (`SET statement_timeout`) on every connection. [`PostgresStore::migrate`]'s
    /// DDL counts as one statement.
    ///
    /// Keep the connect and statement limits together below the `Miro` client's
    /// [`store_timeout`](crate::MiroBuilder::store_timeout).
    pub fn statement_timeout(mut self, limit: Duration) -> Self {
        self.statement_timeout = limit.max(Duration::from_millis(1));
        self
    }

    /// TCP keepalive on the connections: the first probe after `idle` without traffic
    /// (default [`PostgresStore::DEFAULT_KEEPALIVE_IDLE`], 30 s; at least 1 s), then every
    /// third of it; after 3 unanswered probes the kernel closes the connection (about twice
    /// `idle` after the peer went away). A connection string that sets `keepalives`,
    /// `keepalives_idle`, `keepalives_interval` or `keepalives_retries` keeps its own values.
    pub fn tcp_keepalive(mut self, idle: Duration) -> Self {
        self.keepalive_idle = idle.max(Duration::from_secs(1));
        self
    }

    /// Opens the store with a libpq-style connection string (`host=.. port=.. user=..
    /// dbname=..` or a `postgresql://` URL), as [`PostgresStore::connect`] does with the
    /// default settings.
    pub async fn connect(self, conninfo: &str) -> Result<PostgresStore, StorageError> {
        let store = self.open(conninfo)?;
        if !store.schema_ready().await? {
            store.migrate().await?;
        }
        Ok(store)
    }

    fn open(self, conninfo: &str) -> Result<PostgresStore, StorageError> {
        let mut config: Config = conninfo
            .parse()
            .map_err(pg_error("parse the connection string"))?;
        keepalive(&mut config, self.keepalive_idle);
        let target = describe_target(&config);
        let connector = Connector {
            target: target.clone(),
            statement_timeout_ms: self.statement_timeout.as_millis().max(1),
        };
        // Fast recycling: a pooled connection is handed out again unless it is closed. A
        // half-open one is caught by the statement time limit instead of a test query
        // before every call (which would cost a round trip each time).
        let manager = Manager::from_connect(
            config,
            connector,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(self.max_connections)
            .build()
            .map_err(|e| StorageError::Postgres {
                action: "set up the connection pool",
                reason: e.to_string(),
            })?;
        Ok(PostgresStore {
            pool,
            target,
            statement_timeout: self.statement_timeout,
            connect_timeout: self.connect_timeout,
        })
    }
}

/// TCP keepalive after `idle`, where the connection string did not set it (or turned it off).
fn keepalive(config: &mut Config, idle: Duration) {
    if !config.get_keepalives() {
        return;
    }
    if config.get_keepalives_idle() == PG_DEFAULT_KEEPALIVE_IDLE {
        config.keepalives_idle(idle);
    }
    if config.get_keepalives_interval().is_none() {
        config.keepalives_interval((idle / 3).max(Duration::from_secs(1)));
    }
    if config.get_keepalives_retries().is_none() {
        config.keepalives_retries(KEEPALIVE_RETRIES);
    }
}

/// `host:[ports]/dbname`, without the user or password.
fn describe_target(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    format!(
        "{}:{:?}/{}",
        hosts.join(","),
        config.get_ports(),
        config.get_dbname().unwrap_or("")
    )
}

/// A PostgreSQL error as text without row data: the SQLSTATE and message of a database error
/// (never its `DETAIL`, which can quote a row), else the client's error.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

fn pg_error(action: &'static str) -> impl FnOnce(tokio_postgres::Error) -> StorageError {
    move |e| StorageError::Postgres {
        action,
        reason: describe(&e),
    }
}

/// Opens the pool's connections: connects, runs the connection in a task that logs how it
/// ended, and gives the server the statement time limit.
struct Connector {
    target: String,
    statement_timeout_ms: u128,
}

impl deadpool_postgres::Connect for Connector {
    fn connect(
        &self,
        config: &Config,
    ) -> BoxFuture<'_, Result<(Client, tokio::task::JoinHandle<()>), tokio_postgres::Error>> {
        let config = config.clone();
        Box::pin(async move {
            let (client, connection) = config.connect(NoTls).await?;
            let target = self.target.clone();
            let task = tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(
                        database = %target, error = %describe(&e),
                        "a PostgreSQL token store connection ended"
                    );
                }
            });
            let set = format!("SET statement_timeout = {}", self.statement_timeout_ms);
            if let Err(e) = client.batch_execute(&set).await {
                task.abort();
                return Err(e);
            }
            Ok((client, task))
        })
    }
}

/// A connection checked out of the pool for one call. It goes back to the pool only when no
/// statement is under way: one that timed out, or whose call was dropped half-way, leaves a
/// connection in an unknown state (maybe cut off), which is then closed instead.
struct Conn<'s> {
    store: &'s PostgresStore,
    object: Option<Object>,
    /// No statement is under way.
    settled: AtomicBool,
}

impl Deref for Conn<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        self.object.as_ref().expect("taken only on drop")
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if !self.settled.load(Ordering::Acquire) {
            if let Some(object) = self.object.take() {
                // Out of the pool for good; dropping it closes the connection.
                drop(Object::take(object));
            }
        }
    }
}

impl Conn<'_> {
    /// Runs one statement within the statement time limit.
    async fn run<T>(
        &self,
        action: &'static str,
        statement: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, StorageError> {
        self.settled.store(false, Ordering::Release);
        let limit = self.store.statement_timeout;
        match tokio::time::timeout(limit, statement).await {
            Ok(result) => {
                self.settled.store(true, Ordering::Release);
                result.map_err(pg_error(action))
            }
            Err(_) => {
                // This connection is closed on drop; the idle ones may be cut off the same
                // way (a network fault), so they are closed too and the next call connects.
                let idle = self.store.pool.retain(|_, _| false).removed.len();
                tracing::warn!(
                    database = %self.store.target, action, ?limit, closed_idle = idle,
                    "a PostgreSQL token store statement timed out; its connection is closed"
                );
                Err(StorageError::TimedOut { action, limit })
            }
        }
    }
}

impl PostgresStore {
    /// How long getting a connection may take by default: waiting for a free one of the pool,
    /// or opening one (see [`PostgresStoreBuilder::connect_timeout`]).
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(4);
    /// How long one statement may take by default (see
    /// [`PostgresStoreBuilder::statement_timeout`]). Added to
    /// [`DEFAULT_CONNECT_TIMEOUT`](Self::DEFAULT_CONNECT_TIMEOUT) it stays below the `Miro`
    /// client's default store time limit
    /// ([`DEFAULT_STORE_TIMEOUT`](crate::oauth::DEFAULT_STORE_TIMEOUT), 10 s), so that the
    /// store's own error, which closes the connection, comes first.
    pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);
    /// The idle time before the first TCP keepalive probe by default (see
    /// [`PostgresStoreBuilder::tcp_keepalive`]).
    pub const DEFAULT_KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
    /// How many connections the pool keeps open at most by default (see
    /// [`PostgresStoreBuilder::max_connections`]).
    pub const DEFAULT_MAX_CONNECTIONS: usize = 8;

    /// Connects with a libpq-style connection string (`host=.. port=.. user=.. dbname=..`
    /// or a `postgresql://` URL) and the default pool size, time limits and keepalive (see
    /// [`builder`](Self::builder)); when the table or one of its columns is missing, creates
    /// them (which needs the rights to). The password, if any, never appears in `Debug` or
    /// errors.
    pub async fn connect(conninfo: &str) -> Result<Self, StorageError> {
        Self::builder().connect(conninfo).await
    }

    /// Settings other than the defaults: pool size, time limits, TCP keepalive.
    pub fn builder() -> PostgresStoreBuilder {
        PostgresStoreBuilder::default()
    }

    /// Creates the table, or adds the columns an older version's table lacks (idempotent).
    pub async fn migrate(&self) -> Result<(), StorageError> {
        let conn = self.conn().await?;
        conn.run("create or upgrade the table", conn.batch_execute(SCHEMA))
            .await
    }

    /// Whether the table has every column, as this role sees it.
    async fn schema_ready(&self) -> Result<bool, StorageError> {
        let conn = self.conn().await?;
        let row = conn
            .run(
                "look at the table",
                conn.query_one(
                    "SELECT count(*) FROM information_schema.columns
                     WHERE table_schema = current_schema() AND table_name = 'miro_tokens'
                       AND column_name = ANY($1)",
                    &[&&COLUMNS[..]],
                ),
            )
            .await?;
        Ok(row.get::<_, i64>(0) == COLUMNS.len() as i64)
    }

    /// A connection of the pool (opened when none is free), within the connect time limit.
    async fn conn(&self) -> Result<Conn<'_>, StorageError> {
        let object = tokio::time::timeout(self.connect_timeout, self.pool.get())
            .await
            .map_err(|_| StorageError::TimedOut {
                action: "connect",
                limit: self.connect_timeout,
            })?
            .map_err(|e| StorageError::Postgres {
                action: "connect",
                reason: match e {
                    PoolError::Backend(e) => describe(&e),
                    other => other.to_string(),
                },
            })?;
        Ok(Conn {
            store: self,
            object: Some(object),
            settled: AtomicBool::new(true),
        })
    }
}

fn record_of(row: &Row) -> StoredTokens {
    Columns::read((
        row.get(0),
        row.get(1),
        row.get(2),
        row.get(3),
        row.get(4),
        row.get(5),
        row.get(6),
        row.get(7),
    ))
}

impl TokenStore for PostgresStore {
    fn get<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredTokens>, StorageError>> {
        Box::pin(async move {
            let conn = self.conn().await?;
            let row = conn
                .run(
                    "read the tokens",
                    conn.query_opt(
                        "SELECT access_token, refresh_token, expires_at, team_id, scope, version, marker,
                                obtained_at
                         FROM miro_tokens WHERE user_id = $1",
                        &[&user_id],
                    ),
                )
                .await?;
            Ok(row.as_ref().map(record_of))
        })
    }

    fn put<'a>(
        &'a self,
        user_id: &'a str,
        record: &'a StoredTokens,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            let c = Columns::of(record);
            let conn = self.conn().await?;
            conn.run(
                "write the tokens",
                conn.execute(
                    "INSERT INTO miro_tokens
                         (user_id, access_token, refresh_token, expires_at, team_id, scope,
                          updated_at, version, marker, obtained_at)
                     VALUES ($1, $2, $3, $4, $5, $6, now(), $7, $8, $9)
                     ON CONFLICT (user_id) DO UPDATE SET
                         access_token = EXCLUDED.access_token,
                         refresh_token = EXCLUDED.refresh_token,
                         expires_at = EXCLUDED.expires_at,
                         team_id = EXCLUDED.team_id,
                         scope = EXCLUDED.scope,
                         updated_at = now(),
                         version = EXCLUDED.version,
                         marker = EXCLUDED.marker,
                         obtained_at = EXCLUDED.obtained_at",
                    &[
                        &user_id,
                        &c.access_token,
                        &c.refresh_token,
                        &c.expires_at,
                        &c.team_id,
                        &c.scope,
                        &c.version,
                        &c.marker,
                        &c.obtained_at,
                    ],
                ),
            )
            .await?;
            Ok(())
        })
    }

    fn remove<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            let conn = self.conn().await?;
            conn.run(
                "remove the tokens",
                conn.execute("DELETE FROM miro_tokens WHERE user_id = $1", &[&user_id]),
            )
            .await?;
            Ok(())
        })
    }

    fn replace_if<'a>(
        &'a self,
        user_id: &'a str,
        expected: u64,
        new: Option<&'a StoredTokens>,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            let conn = self.conn().await?;
            let expected = expected as i64;
            let changed = match new {
                Some(record) => {
                    let c = Columns::of(record);
                    conn.run(
                        "replace the tokens",
                        conn.execute(
                            "UPDATE miro_tokens SET
                             access_token = $3, refresh_token = $4, expires_at = $5,
                             team_id = $6, scope = $7, updated_at = now(), version = $8,
                             marker = $9, obtained_at = $10
                         WHERE user_id = $1 AND version = $2",
                            &[
                                &user_id,
                                &expected,
                                &c.access_token,
                                &c.refresh_token,
                                &c.expires_at,
                                &c.team_id,
                                &c.scope,
                                &c.version,
                                &c.marker,
                                &c.obtained_at,
                            ],
                        ),
                    )
                    .await?
                }
                None => {
                    conn.run(
                        "remove the tokens",
                        conn.execute(
                            "DELETE FROM miro_tokens WHERE user_id = $1 AND version = $2",
                            &[&user_id, &expected],
                        ),
                    )
                    .await?
                }
            };
            Ok(changed == 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(conninfo: &str) -> Config {
        let mut config: Config = conninfo.parse().unwrap();
        keepalive(&mut config, Duration::from_secs(30));
        config
    }

    #[test]
    fn keepalive_fills_in_what_the_connection_string_leaves_out() {
        let c = config("host=db user=app");
        assert!(c.get_keepalives());
        assert_eq!(c.get_keepalives_idle(), Duration::from_secs(30));
        assert_eq!(c.get_keepalives_interval(), Some(Duration::from_secs(10)));
        assert_eq!(c.get_keepalives_retries(), Some(3));

        let c = config("host=db keepalives_idle=7 keepalives_retries=9");
        assert_eq!(c.get_keepalives_idle(), Duration::from_secs(7));
        assert_eq!(c.get_keepalives_interval(), Some(Duration::from_secs(10)));
        assert_eq!(c.get_keepalives_retries(), Some(9));

        let c = config("host=db keepalives=0");
        assert!(!c.get_keepalives());
        assert_eq!(c.get_keepalives_interval(), None);
    }

    #[tokio::test]
    async fn debug_names_the_database_and_limits_not_the_password() {
        let store = PostgresStore::builder()
            .statement_timeout(Duration::from_secs(2))
            .open("host=db port=5433 user=app password=SECRET-pw dbname=tokens")
            .unwrap();
        let shown = format!("{store:?}");
        assert!(
            !shown.contains("SECRET") && !shown.contains("app"),
            "{shown}"
        );
        assert!(
            shown.contains("db:[5433]/tokens") && shown.contains("2s"),
            "{shown}"
        );
    }
}
