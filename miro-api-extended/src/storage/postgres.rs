//! [`PostgresStore`]: tokens in a PostgreSQL database (cargo feature `postgres`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use miro_api::AccessToken;
use tokio_postgres::{Client, Config, NoTls, Row};

use super::{from_unix, millis, to_unix, StorageError, TokenState, TokenStore};
use crate::secret::RefreshToken;

/// Creates the tables once, under an advisory lock so that replicas starting together do not
/// race on `CREATE TABLE`.
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
CREATE TABLE IF NOT EXISTS miro_token_leases (
    user_id    TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
COMMIT;";

/// Tokens in PostgreSQL, shared by every process and machine that connects to the database.
///
/// It creates its tables (`miro_tokens`, `miro_token_leases`) if they are missing. Refreshes
/// are coordinated with the database's own locking: taking a lease is one
/// `INSERT .. ON CONFLICT DO UPDATE .. WHERE` statement, which locks the user's lease row, and
/// lease ends are on the database server's clock (`now()`), so the replicas' clocks do not
/// matter. Writes are committed (durable with PostgreSQL's default `synchronous_commit`) when
/// they return.
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
    /// or a `postgresql://` URL) and creates the tables if missing. The password, if any,
    /// never appears in `Debug` or errors.
    pub async fn connect(conninfo: &str) -> Result<Self, StorageError> {
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
        let store = PostgresStore {
            config,
            target,
            client: tokio::sync::Mutex::new(None),
        };
        let client = store.client().await?;
        client
            .batch_execute(SCHEMA)
            .await
            .map_err(pg_error("create the tables"))?;
        Ok(store)
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

fn state_of(row: &Row) -> TokenState {
    TokenState {
        access_token: AccessToken::new(row.get::<_, String>(0)),
        refresh_token: row.get::<_, Option<String>>(1).map(RefreshToken::new),
        expires_at: row
            .get::<_, Option<i64>>(2)
            .map(|s| from_unix(s.max(0) as u64)),
        team_id: row.get(3),
        scope: row.get(4),
    }
}

impl TokenStore for PostgresStore {
    fn get<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<TokenState>, StorageError>> {
        Box::pin(async move {
            let row = self
                .client()
                .await?
                .query_opt(
                    "SELECT access_token, refresh_token, expires_at, team_id, scope
                     FROM miro_tokens WHERE user_id = $1",
                    &[&user_id],
                )
                .await
                .map_err(pg_error("read the tokens"))?;
            Ok(row.as_ref().map(state_of))
        })
    }

    fn set<'a>(
        &'a self,
        user_id: &'a str,
        state: &'a TokenState,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            self.client()
                .await?
                .execute(
                    "INSERT INTO miro_tokens
                         (user_id, access_token, refresh_token, expires_at, team_id, scope, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, now())
                     ON CONFLICT (user_id) DO UPDATE SET
                         access_token = EXCLUDED.access_token,
                         refresh_token = EXCLUDED.refresh_token,
                         expires_at = EXCLUDED.expires_at,
                         team_id = EXCLUDED.team_id,
                         scope = EXCLUDED.scope,
                         updated_at = now()",
                    &[
                        &user_id,
                        &state.access_token.expose(),
                        &state.refresh_token.as_ref().map(|r| r.expose()),
                        &state.expires_at.map(|t| to_unix(t) as i64),
                        &state.team_id,
                        &state.scope,
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
        expected: &'a RefreshToken,
        new: Option<&'a TokenState>,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            let client = self.client().await?;
            let changed = match new {
                Some(state) => client
                    .execute(
                        "UPDATE miro_tokens SET
                             access_token = $3, refresh_token = $4, expires_at = $5,
                             team_id = $6, scope = $7, updated_at = now()
                         WHERE user_id = $1 AND refresh_token = $2",
                        &[
                            &user_id,
                            &expected.expose(),
                            &state.access_token.expose(),
                            &state.refresh_token.as_ref().map(|r| r.expose()),
                            &state.expires_at.map(|t| to_unix(t) as i64),
                            &state.team_id,
                            &state.scope,
                        ],
                    )
                    .await
                    .map_err(pg_error("replace the tokens"))?,
                None => client
                    .execute(
                        "DELETE FROM miro_tokens WHERE user_id = $1 AND refresh_token = $2",
                        &[&user_id, &expected.expose()],
                    )
                    .await
                    .map_err(pg_error("remove the tokens"))?,
            };
            Ok(changed == 1)
        })
    }

    fn try_lease<'a>(
        &'a self,
        user_id: &'a str,
        holder: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            let changed = self
                .client()
                .await?
                .execute(
                    "INSERT INTO miro_token_leases (user_id, holder, expires_at)
                     VALUES ($1, $2, now() + $3::bigint * interval '1 millisecond')
                     ON CONFLICT (user_id) DO UPDATE SET
                         holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
                     WHERE miro_token_leases.holder = EXCLUDED.holder
                        OR miro_token_leases.expires_at <= now()",
                    &[&user_id, &holder, &millis(ttl)],
                )
                .await
                .map_err(pg_error("take the refresh lease"))?;
            Ok(changed == 1)
        })
    }

    fn release_lease<'a>(
        &'a self,
        user_id: &'a str,
        holder: &'a str,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            self.client()
                .await?
                .execute(
                    "DELETE FROM miro_token_leases WHERE user_id = $1 AND holder = $2",
                    &[&user_id, &holder],
                )
                .await
                .map_err(pg_error("release the refresh lease"))?;
            Ok(())
        })
    }
}
