//! [`PostgresStore`]: tokens in a PostgreSQL database (cargo feature `postgres`).

use std::fmt;
use std::sync::Arc;

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
COMMIT;";

/// Every column the store reads or writes.
const COLUMNS: [&str; 9] = [
    "user_id",
    "access_token",
    "refresh_token",
    "expires_at",
    "team_id",
    "scope",
    "updated_at",
    "version",
    "marker",
];

/// Tokens in PostgreSQL, shared by every process and machine that connects to the database.
///
/// Its table is `miro_tokens`. [`connect`](Self::connect) creates it (or adds columns of a
/// newer version) only when it is missing something, so an application role with only
/// `SELECT, INSERT, UPDATE, DELETE` on an existing table connects fine;
/// [`migrate`](Self::migrate) does the DDL on its own, for a deploy step with an owner role.
/// The compare-and-set is one `UPDATE .. WHERE version = $n` statement. Writes are committed
/// (durable with PostgreSQL's default `synchronous_commit`) when they return.
///
/// One connection, pipelining concurrent queries; it is opened again when it breaks. No TLS:
/// run it over a trusted network or a Unix socket.
pub struct PostgresStore {
    config: Config,
    target: String,
    client: tokio::sync::Mutex<Option<Arc<Client>>>,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("database", &self.target)
            .finish_non_exhaustive()
    }
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

impl PostgresStore {
    /// Connects with a libpq-style connection string (`host=.. port=.. user=.. dbname=..`
    /// or a `postgresql://` URL); when the table or one of its columns is missing, creates
    /// them (which needs the rights to). The password, if any, never appears in `Debug` or
    /// errors.
    pub async fn connect(conninfo: &str) -> Result<Self, StorageError> {
        let store = Self::open(conninfo)?;
        if !store.schema_ready().await? {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// Creates the table, or adds the columns an older version's table lacks (idempotent).
    pub async fn migrate(&self) -> Result<(), StorageError> {
        self.client()
            .await?
            .batch_execute(SCHEMA)
            .await
            .map_err(pg_error("create or upgrade the table"))
    }

    /// Whether the table has every column, as this role sees it.
    async fn schema_ready(&self) -> Result<bool, StorageError> {
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT count(*) FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = 'miro_tokens'
                   AND column_name = ANY($1)",
                &[&&COLUMNS[..]],
            )
            .await
            .map_err(pg_error("look at the table"))?;
        Ok(row.get::<_, i64>(0) == COLUMNS.len() as i64)
    }

    fn open(conninfo: &str) -> Result<Self, StorageError> {
        let config: Config = conninfo
            .parse()
            .map_err(pg_error("parse the connection string"))?;
        let hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .map(|h| match h {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        let target = format!(
            "{}:{:?}/{}",
            hosts.join(","),
            config.get_ports(),
            config.get_dbname().unwrap_or("")
        );
        Ok(PostgresStore {
            config,
            target,
            client: tokio::sync::Mutex::new(None),
        })
    }

    /// The open connection, opened again when it broke.
    async fn client(&self) -> Result<Arc<Client>, StorageError> {
        let mut slot = self.client.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let (client, connection) = self
            .config
            .connect(NoTls)
            .await
            .map_err(pg_error("connect"))?;
        let target = self.target.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(database = %target, error = %describe(&e), "the PostgreSQL token store connection ended");
            }
        });
        let client = Arc::new(client);
        *slot = Some(client.clone());
        Ok(client)
    }
}

fn record_of(row: &Row) -> StoredTokens {
    Columns::read(
        row.get(0),
        row.get(1),
        row.get(2),
        row.get(3),
        row.get(4),
        row.get(5),
        row.get(6),
    )
}

impl TokenStore for PostgresStore {
    fn get<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredTokens>, StorageError>> {
        Box::pin(async move {
            let row = self
                .client()
                .await?
                .query_opt(
                    "SELECT access_token, refresh_token, expires_at, team_id, scope, version, marker
                     FROM miro_tokens WHERE user_id = $1",
                    &[&user_id],
                )
                .await
                .map_err(pg_error("read the tokens"))?;
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
            self.client()
                .await?
                .execute(
                    "INSERT INTO miro_tokens
                         (user_id, access_token, refresh_token, expires_at, team_id, scope,
                          updated_at, version, marker)
                     VALUES ($1, $2, $3, $4, $5, $6, now(), $7, $8)
                     ON CONFLICT (user_id) DO UPDATE SET
                         access_token = EXCLUDED.access_token,
                         refresh_token = EXCLUDED.refresh_token,
                         expires_at = EXCLUDED.expires_at,
                         team_id = EXCLUDED.team_id,
                         scope = EXCLUDED.scope,
                         updated_at = now(),
                         version = EXCLUDED.version,
                         marker = EXCLUDED.marker",
                    &[
                        &user_id,
                        &c.access_token,
                        &c.refresh_token,
                        &c.expires_at,
                        &c.team_id,
                        &c.scope,
                        &c.version,
                        &c.marker,
                    ],
                )
                .await
                .map_err(pg_error("write the tokens"))?;
            Ok(())
        })
    }

    fn remove<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            self.client()
                .await?
                .execute("DELETE FROM miro_tokens WHERE user_id = $1", &[&user_id])
                .await
                .map_err(pg_error("remove the tokens"))?;
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
            let client = self.client().await?;
            let expected = expected as i64;
            let changed = match new {
                Some(record) => {
                    let c = Columns::of(record);
                    client
                        .execute(
                            "UPDATE miro_tokens SET
                             access_token = $3, refresh_token = $4, expires_at = $5,
                             team_id = $6, scope = $7, updated_at = now(), version = $8,
                             marker = $9
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
                            ],
                        )
                        .await
                        .map_err(pg_error("replace the tokens"))?
                }
                None => client
                    .execute(
                        "DELETE FROM miro_tokens WHERE user_id = $1 AND version = $2",
                        &[&user_id, &expected],
                    )
                    .await
                    .map_err(pg_error("remove the tokens"))?,
            };
            Ok(changed == 1)
        })
    }
}
