//! Token storage: the [`TokenStore`] trait, keyed by Miro user id, and three stores.
//!
//! - [`MemoryStore`]: in the process, lost on exit.
//! - [`FileStore`]: one JSON file, replaced atomically (temp file, fsync, rename) and readable
//!   by its owner only.
//! - `SqliteStore` (cargo feature `sqlite`): a SQLite database, safe to share between the
//!   processes of one machine.
//! - `PostgresStore` (cargo feature `postgres`): a PostgreSQL database, for replicas on several
//!   machines.
//!
//! A [`MemoryStore`] coordinates only the `Miro` values that share the instance; the other
//! stores coordinate every process that opens the same file or database.

mod file;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use miro_api::{AccessToken, BoxError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use file::FileStore;
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

use crate::secret::RefreshToken;

/// What is stored for one user: the tokens and when the access token expires.
///
/// `Debug` hides the tokens. The serde form (used by the file store, and available to your own
/// stores) holds them in clear text: keep it where only the app can read it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenState {
    /// The access token.
    pub access_token: AccessToken,
    /// The refresh token, when the access token expires.
    pub refresh_token: Option<RefreshToken>,
    /// When the access token expires (`None`: it does not).
    pub expires_at: Option<SystemTime>,
    /// The team the app was installed on, as Miro said.
    pub team_id: Option<String>,
    /// The scopes granted, space-separated.
    pub scope: Option<String>,
}

impl TokenState {
    /// A state with an access token that does not expire.
    pub fn new(access_token: impl Into<AccessToken>) -> Self {
        TokenState {
            access_token: access_token.into(),
            refresh_token: None,
            expires_at: None,
            team_id: None,
            scope: None,
        }
    }

    /// Sets the refresh token.
    pub fn with_refresh_token(mut self, token: impl Into<RefreshToken>) -> Self {
        self.refresh_token = Some(token.into());
        self
    }

    /// Sets when the access token expires.
    pub fn with_expires_at(mut self, at: SystemTime) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Sets the team id and the scopes.
    pub fn with_grant(mut self, team_id: Option<String>, scope: Option<String>) -> Self {
        self.team_id = team_id;
        self.scope = scope;
        self
    }

    /// Whether the access token expires within `margin` from now (or has expired).
    pub fn expires_within(&self, margin: Duration) -> bool {
        self.expires_at.is_some_and(|at| {
            SystemTime::now()
                .checked_add(margin)
                .is_none_or(|t| at <= t)
        })
    }
}

impl fmt::Debug for TokenState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenState")
            .field("access_token", &self.access_token)
            .field("refresh_token", &self.refresh_token)
            .field("expires_at", &self.expires_at)
            .field("team_id", &self.team_id)
            .field("scope", &self.scope)
            .finish()
    }
}

/// The serde form: plain strings and UNIX seconds.
#[derive(Serialize, Deserialize)]
struct Stored {
    access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    team_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

pub(crate) fn to_unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

pub(crate) fn from_unix(secs: u64) -> SystemTime {
    // A stored time the clock cannot hold reads as expired: the token is then refreshed.
    UNIX_EPOCH
        .checked_add(Duration::from_secs(secs))
        .unwrap_or(UNIX_EPOCH)
}

impl Serialize for TokenState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Stored {
            access_token: self.access_token.expose().to_string(),
            refresh_token: self.refresh_token.as_ref().map(|r| r.expose().to_string()),
            expires_at: self.expires_at.map(to_unix),
            team_id: self.team_id.clone(),
            scope: self.scope.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for TokenState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Stored::deserialize(d)?;
        Ok(TokenState {
            access_token: AccessToken::new(s.access_token),
            refresh_token: s.refresh_token.map(RefreshToken::new),
            expires_at: s.expires_at.map(from_unix),
            team_id: s.team_id,
            scope: s.scope,
        })
    }
}

/// A store failed. Messages name paths and operations, never tokens.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// Reading or writing a file failed.
    #[error("token store {}: {action} failed: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What was being done, e.g. "rename the temporary file".
        action: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file exists but does not hold a token store; it is left untouched.
    #[error("token store {}: not a token store file ({reason}); left untouched", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the content stopped making sense (never the content itself).
        reason: String,
    },
    /// The SQLite database failed.
    #[cfg(feature = "sqlite")]
    #[error("token store {}: SQLite: {source}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// The PostgreSQL database failed.
    #[cfg(feature = "postgres")]
    #[error("token store (PostgreSQL): {action} failed: {reason}")]
    Postgres {
        /// What was being done, e.g. "take the refresh lease".
        action: &'static str,
        /// The database's message and SQLSTATE (never row data).
        reason: String,
    },
    /// The blocking task doing the work ended early (a panic, or the runtime shutting down).
    #[error("token store: the storage task ended early")]
    TaskEnded,
    /// A store of your own failed.
    #[error("token store: {0}")]
    Other(#[source] BoxError),
}

/// Where the [`Miro`](crate::Miro) client keeps each user's tokens, and how processes that
/// share those tokens take turns to refresh them.
///
/// Implementations must be safe to call concurrently. The futures are boxed so that the trait
/// can be used as `Arc<dyn TokenStore>`.
///
/// # The contract, for people writing their own store (Redis, DynamoDB, ...)
///
/// Miro's refresh tokens are single use: a refresh returns a new refresh token and the old one
/// is dead. Every process that shares a store must therefore agree on who refreshes a user's
/// tokens, and nobody may overwrite or delete tokens that someone else has just replaced. The
/// client builds that from three primitives, each of which must be **atomic with respect to
/// every process that uses the same backing store**:
///
/// 1. **A lease per user** ([`try_lease`](Self::try_lease) /
///    [`release_lease`](Self::release_lease)). `try_lease(user, holder, ttl)` succeeds (returns
///    `true`) when no lease is held for the user, when the held lease has expired, or when
///    `holder` already holds it (then it is extended); the lease then lasts `ttl` from now.
///    Otherwise it returns `false` and changes nothing. `release_lease(user, holder)` ends the
///    lease only if `holder` holds it. Leases must expire by themselves: a process that
///    crashes while holding one must not block the user for longer than `ttl`. Use one clock
///    for all processes where you can (the database's, e.g. Redis `SET key holder NX PX ttl`,
///    a DynamoDB conditional put on `expires_at < :now`); with the processes' own clocks, keep
///    them synchronised well within `ttl`.
/// 2. **Compare-and-set on the refresh token** ([`replace_if`](Self::replace_if)). The state is
///    replaced (or, with `None`, deleted) only if a state is stored for the user and its refresh
///    token is the `expected` one; the answer says whether it was. A refresh stores its rotated
///    tokens this way, and a refresh that Miro rejected deletes the tokens this way, so a
///    process whose lease ran out can never overwrite or delete tokens that another process
///    already replaced. In SQL: `UPDATE .. WHERE user_id = $1 AND refresh_token = $2` and
///    looking at the row count; in Redis a `WATCH`/`MULTI` or a Lua script; in DynamoDB a
///    condition expression.
/// 3. **Durable writes.** When [`set`](Self::set) or [`replace_if`](Self::replace_if) returns
///    `Ok`, the state must survive a crash of the process and be visible to every other process
///    at once (read-your-writes across processes): [`get`](Self::get) right after must return
///    it.
///
/// The lease and the tokens may live in different places (a Redis lease in front of a SQL
/// table works), as long as each primitive holds on its own. Errors are reported as
/// [`StorageError`] and must never quote tokens. The client retries failed writes of rotated
/// tokens a few times and keeps them in memory meanwhile, so a transient error is fine.
///
/// ```
/// use std::time::Duration;
/// use futures::future::BoxFuture;
/// use miro_api_extended::storage::{StorageError, TokenState, TokenStore};
/// use miro_api_extended::RefreshToken;
///
/// struct Redis; // ...
/// impl TokenStore for Redis {
///     fn get<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<Option<TokenState>, StorageError>> {
///         Box::pin(async move { Ok(None) }) // GET tokens:{user_id}
///     }
///     fn set<'a>(&'a self, user_id: &'a str, state: &'a TokenState) -> BoxFuture<'a, Result<(), StorageError>> {
///         Box::pin(async move { Ok(()) }) // SET tokens:{user_id}
///     }
///     fn remove<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
///         Box::pin(async move { Ok(()) }) // DEL tokens:{user_id}
///     }
///     fn replace_if<'a>(&'a self, user_id: &'a str, expected: &'a RefreshToken, new: Option<&'a TokenState>) -> BoxFuture<'a, Result<bool, StorageError>> {
///         Box::pin(async move { Ok(false) }) // a Lua script comparing the refresh token
///     }
///     fn try_lease<'a>(&'a self, user_id: &'a str, holder: &'a str, ttl: Duration) -> BoxFuture<'a, Result<bool, StorageError>> {
///         Box::pin(async move { Ok(true) }) // SET lease:{user_id} holder NX PX ttl (or extend if ours)
///     }
///     fn release_lease<'a>(&'a self, user_id: &'a str, holder: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
///         Box::pin(async move { Ok(()) }) // DEL lease:{user_id} if its value is holder
///     }
/// }
/// ```
pub trait TokenStore: Send + Sync {
    /// The state stored for `user_id`, if any.
    fn get<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<TokenState>, StorageError>>;

    /// Stores `state` for `user_id`, replacing what was there (used after a code exchange).
    /// When this returns `Ok`, the state must be durable.
    fn set<'a>(
        &'a self,
        user_id: &'a str,
        state: &'a TokenState,
    ) -> BoxFuture<'a, Result<(), StorageError>>;

    /// Forgets `user_id` (no error when nothing was stored).
    fn remove<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<(), StorageError>>;

    /// Atomically: if a state is stored for `user_id` and its refresh token is `expected`,
    /// replace it with `new` (remove it when `new` is `None`) and return `true`; otherwise
    /// change nothing and return `false`. Durable when it returns `Ok(true)`.
    fn replace_if<'a>(
        &'a self,
        user_id: &'a str,
        expected: &'a RefreshToken,
        new: Option<&'a TokenState>,
    ) -> BoxFuture<'a, Result<bool, StorageError>>;

    /// Atomically takes (or extends) the refresh lease of `user_id` for `holder`, lasting
    /// `ttl` from now: `true` when no other holder has an unexpired lease, else `false`.
    fn try_lease<'a>(
        &'a self,
        user_id: &'a str,
        holder: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StorageError>>;

    /// Ends the refresh lease of `user_id` if `holder` holds it (else does nothing).
    fn release_lease<'a>(
        &'a self,
        user_id: &'a str,
        holder: &'a str,
    ) -> BoxFuture<'a, Result<(), StorageError>>;
}

impl<T: TokenStore + ?Sized> TokenStore for std::sync::Arc<T> {
    fn get<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<TokenState>, StorageError>> {
        (**self).get(user_id)
    }

    fn set<'a>(
        &'a self,
        user_id: &'a str,
        state: &'a TokenState,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        (**self).set(user_id, state)
    }

    fn remove<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        (**self).remove(user_id)
    }

    fn replace_if<'a>(
        &'a self,
        user_id: &'a str,
        expected: &'a RefreshToken,
        new: Option<&'a TokenState>,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        (**self).replace_if(user_id, expected, new)
    }

    fn try_lease<'a>(
        &'a self,
        user_id: &'a str,
        holder: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        (**self).try_lease(user_id, holder, ttl)
    }

    fn release_lease<'a>(
        &'a self,
        user_id: &'a str,
        holder: &'a str,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        (**self).release_lease(user_id, holder)
    }
}

/// Milliseconds since the UNIX epoch on this machine's clock (the lease clock of the file and
/// SQLite stores).
pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A duration in milliseconds, saturating.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Runs blocking storage work off the async threads.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, StorageError>
where
    F: FnOnce() -> Result<T, StorageError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| StorageError::TaskEnded)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_hides_tokens_in_debug() {
        let state = TokenState::new("acc-SECRET")
            .with_refresh_token("ref-SECRET")
            .with_expires_at(from_unix(1_900_000_000))
            .with_grant(Some("team".into()), Some("boards:read".into()));
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<TokenState>(&json).unwrap(), state);
        let debug = format!("{state:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
        assert!(debug.contains("team"));
    }

    #[test]
    fn expiry_margin() {
        let soon =
            TokenState::new("a").with_expires_at(SystemTime::now() + Duration::from_secs(60));
        assert!(soon.expires_within(Duration::from_secs(120)));
        assert!(!soon.expires_within(Duration::from_secs(10)));
        assert!(!TokenState::new("a").expires_within(Duration::from_secs(1_000_000)));
    }
}
