//! Token storage: the [`TokenStore`] trait, keyed by Miro user id, and three stores.
//!
//! - [`MemoryStore`]: in the process, lost on exit.
//! - [`FileStore`]: one JSON file, replaced atomically (temp file, fsync, rename) and readable
//!   by its owner only.
//! - `SqliteStore` (cargo feature `sqlite`): a SQLite database, safe to share between the
//!   processes of one machine.
//! - `PostgresStore` (cargo feature `postgres`): a PostgreSQL database through a connection
//!   pool with time limits, for replicas on several machines.
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
pub use postgres::{PostgresStore, PostgresStoreBuilder};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

use crate::secret::RefreshToken;

/// What is stored for one user: the tokens and when the access token expires.
///
/// The refresh margin (see [`MiroBuilder::refresh_margin`](crate::MiroBuilder::refresh_margin))
/// is at most half of the access token's lifetime when that is known (`expires_at` minus
/// `obtained_at`): a token that lives one minute is refreshed after thirty seconds, not on
/// every use.
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
    /// When the access token was obtained, if known; with `expires_at` it gives the token's
    /// lifetime, which caps the refresh margin at half of it. `None`: the whole margin
    /// applies. [`MemoryStore`] and [`FileStore`] keep it; the SQL stores have no column for
    /// it and give back `None`.
    pub obtained_at: Option<SystemTime>,
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
            obtained_at: None,
        }
    }

    /// Sets the refresh token.
    pub fn with_refresh_token(mut self, token: impl Into<RefreshToken>) -> Self {
        self.refresh_token = Some(token.into());
        self
    }

    /// Sets when the access token expires, its lifetime unknown (`obtained_at` is cleared).
    pub fn with_expires_at(mut self, at: SystemTime) -> Self {
        self.expires_at = Some(at);
        self.obtained_at = None;
        self
    }

    /// Sets when the access token was obtained and how long it lives from then (an expiry
    /// past the clock's end is `obtained` plus [`MAX_EXPIRES_IN`](crate::oauth::MAX_EXPIRES_IN),
    /// or `obtained` if even that is past it).
    pub fn with_lifetime(mut self, obtained: SystemTime, lifetime: Duration) -> Self {
        let expires_at = obtained
            .checked_add(lifetime)
            .or_else(|| obtained.checked_add(crate::oauth::MAX_EXPIRES_IN))
            .unwrap_or(obtained);
        self.expires_at = Some(expires_at);
        self.obtained_at = Some(obtained);
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
                .is_none_or(|limit| at <= limit)
        })
    }

    /// `margin`, but at most half of the access token's lifetime when that is known (a
    /// token obtained after its expiry, or without one, has a margin of zero).
    pub fn refresh_margin(&self, margin: Duration) -> Duration {
        match (self.obtained_at, self.expires_at) {
            (Some(obtained), Some(expires)) => {
                margin.min(expires.duration_since(obtained).unwrap_or_default() / 2)
            }
            _ => margin,
        }
    }

    /// Whether the access token is due for a refresh at `now`: it expires within
    /// [`refresh_margin(margin)`](Self::refresh_margin) of it (a margin past the clock's end
    /// counts as expiring). With a zero margin: whether it has expired.
    pub(crate) fn expires_within_from(&self, now: SystemTime, margin: Duration) -> bool {
        let margin = self.refresh_margin(margin);
        self.expires_at
            .is_some_and(|at| now.checked_add(margin).is_none_or(|limit| at <= limit))
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
            .field("obtained_at", &self.obtained_at)
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    obtained_at: Option<u64>,
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
            obtained_at: self.obtained_at.map(to_unix),
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
            obtained_at: s.obtained_at.map(from_unix),
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
        /// What was being done, e.g. "replace the tokens".
        action: &'static str,
        /// The database's message and SQLSTATE (never row data).
        reason: String,
    },
    /// A store call took longer than the client's store time limit; it may still be
    /// applied.
    #[error("token store: {action} did not finish within {limit:?}")]
    TimedOut {
        /// `read`, `write`, ...
        action: &'static str,
        /// The time limit.
        limit: std::time::Duration,
    },
    /// The blocking task doing the work ended early (a panic, or the runtime shutting down).
    #[error("token store: the storage task ended early")]
    TaskEnded,
    /// A store of your own failed.
    #[error("token store: {0}")]
    Other(#[source] BoxError),
}

/// One user's stored tokens with the two fields the [`Miro`](crate::Miro) client coordinates
/// through: a version that every write changes, and a refresh marker.
///
/// Dereferences to the [`TokenState`]. Stores keep all three fields as given and compare only
/// the version (see [`TokenStore`]); a store of your own without a place for
/// [`TokenState::obtained_at`] may give it back as `None` (then the whole refresh margin
/// applies to short-lived tokens).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredTokens {
    /// The tokens.
    pub state: TokenState,
    /// Chosen at random by whoever writes the record (see [`new_version`]): a compare-and-set
    /// names the version it replaces, and a writer recognises its own earlier write by it.
    pub version: u64,
    /// Set while a process is spending the stored refresh token (or revoking the tokens): an
    /// opaque text the client writes and reads back; store it as given.
    pub marker: Option<String>,
}

impl StoredTokens {
    /// `state` with a new random version and no marker (what [`TokenStore::set`] stores).
    pub fn new(state: TokenState) -> Self {
        StoredTokens {
            state,
            version: new_version(),
            marker: None,
        }
    }

    /// A record as a store read it back.
    pub fn from_parts(state: TokenState, version: u64, marker: Option<String>) -> Self {
        StoredTokens {
            state,
            version,
            marker,
        }
    }
}

/// A record as SQL columns (the SQLite and PostgreSQL stores): expiry in UNIX seconds, the
/// version as its two's-complement `i64`.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) struct Columns<'a> {
    pub access_token: &'a str,
    pub refresh_token: Option<&'a str>,
    pub expires_at: Option<i64>,
    pub team_id: Option<&'a str>,
    pub scope: Option<&'a str>,
    pub version: i64,
    pub marker: Option<&'a str>,
    pub obtained_at: Option<i64>,
}

/// The values of [`Columns`] as read from a row, in its order.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) type ColumnValues = (
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    i64,
    Option<String>,
    Option<i64>,
);

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl<'a> Columns<'a> {
    pub fn of(r: &'a StoredTokens) -> Self {
        Columns {
            access_token: r.access_token.expose(),
            refresh_token: r.refresh_token.as_ref().map(|t| t.expose()),
            expires_at: r.expires_at.map(|t| to_unix(t) as i64),
            team_id: r.team_id.as_deref(),
            scope: r.scope.as_deref(),
            version: r.version as i64,
            marker: r.marker.as_deref(),
            obtained_at: r.obtained_at.map(|t| to_unix(t) as i64),
        }
    }

    /// The record back from its columns, in the order of [`Columns`].
    pub fn read(row: ColumnValues) -> StoredTokens {
        let (access_token, refresh_token, expires_at, team_id, scope, version, marker, obtained_at) =
            row;
        let state = TokenState {
            access_token: AccessToken::new(access_token),
            refresh_token: refresh_token.map(RefreshToken::new),
            expires_at: expires_at.map(|s| from_unix(s.max(0) as u64)),
            team_id,
            scope,
            obtained_at: obtained_at.map(|s| from_unix(s.max(0) as u64)),
        };
        StoredTokens::from_parts(state, version as u64, marker)
    }
}

impl std::ops::Deref for StoredTokens {
    type Target = TokenState;
    fn deref(&self) -> &TokenState {
        &self.state
    }
}

impl fmt::Debug for StoredTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredTokens")
            .field("state", &self.state)
            .field("version", &self.version)
            .field("marker", &self.marker)
            .finish()
    }
}

/// A new random record version (64 bits from the operating system; the clock and a counter if
/// it has none).
pub fn new_version() -> u64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_ok() {
        return u64::from_le_bytes(bytes);
    }
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos
        ^ COUNTER
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .rotate_left(32)
}

/// Where the [`Miro`](crate::Miro) client keeps each user's tokens, and through which the
/// processes sharing them agree on who refreshes them.
///
/// Implementations must be safe to call concurrently. The futures are boxed so that the trait
/// can be used as `Arc<dyn TokenStore>`.
///
/// # The contract, for people writing their own store (Redis, DynamoDB, ...)
///
/// Miro's refresh tokens are single use. The client coordinates every process that shares a
/// store through one primitive, **a compare-and-set on the record's version**
/// ([`replace_if`](Self::replace_if)), which must be atomic with respect to every process
/// using the same backing store: the record is replaced (or, with `None`, deleted) only if a
/// record is stored for the user and its version is `expected`. In SQL:
/// `UPDATE .. WHERE user_id = $1 AND version = $2` and the row count; in Redis a Lua script;
/// in DynamoDB a condition expression. Store the version and the marker exactly as given.
/// [`TokenState::obtained_at`] only narrows the refresh margin of short-lived tokens: keep
/// it if you can, else give back `None`.
///
/// Writes must be durable and visible to every process at once when they return `Ok`. A write
/// that fails, times out or whose answer is lost may still be applied later: the client is
/// built for that (every write names the version it replaces, and recognises its own write by
/// the new version), so a store needs no retries or idempotency keys of its own. Errors are
/// [`StorageError`]s and never quote tokens.
///
/// What the client guarantees on top (checked by a seeded fault simulation of several
/// processes, a faulty store and a faulty token endpoint, in the crate's tests):
///
/// - **I1**: a user's tokens are deleted only after Miro's token endpoint answered an OAuth
///   `invalid_grant` (a JSON error) for the refresh token that is still stored, re-read after
///   the answer.
/// - **I2**: a token the store holds is never revoked automatically; only rotated tokens that
///   no store can ever hold (the record they were to replace is gone) are.
/// - **I3**: a refresh token is sent to Miro at most once, across any number of processes: a
///   process first marks the record (a compare-and-set), and nobody spends a marked token.
/// - **I4**: once [`Miro::revoke`](crate::Miro::revoke) returns `Ok`, no token of the user
///   that a process or the store holds works; a cancelled revoke finishes in its own task.
/// - **I5**: no duration setting makes the client panic.
///
/// ```
/// use futures::future::BoxFuture;
/// use miro_api_extended::storage::{StorageError, StoredTokens, TokenStore};
///
/// struct Redis; // ...
/// impl TokenStore for Redis {
///     fn get<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<Option<StoredTokens>, StorageError>> {
///         Box::pin(async move { Ok(None) }) // HGETALL tokens:{user_id}
///     }
///     fn put<'a>(&'a self, user_id: &'a str, record: &'a StoredTokens) -> BoxFuture<'a, Result<(), StorageError>> {
///         Box::pin(async move { Ok(()) }) // HSET tokens:{user_id} ...
///     }
///     fn remove<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
///         Box::pin(async move { Ok(()) }) // DEL tokens:{user_id}
///     }
///     fn replace_if<'a>(&'a self, user_id: &'a str, expected: u64, new: Option<&'a StoredTokens>) -> BoxFuture<'a, Result<bool, StorageError>> {
///         Box::pin(async move { Ok(false) }) // a Lua script comparing the version
///     }
/// }
/// ```
pub trait TokenStore: Send + Sync {
    /// The record stored for `user_id`, if any.
    fn get<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredTokens>, StorageError>>;

    /// Stores `record` for `user_id`, replacing what was there. Durable when it returns `Ok`.
    fn put<'a>(
        &'a self,
        user_id: &'a str,
        record: &'a StoredTokens,
    ) -> BoxFuture<'a, Result<(), StorageError>>;

    /// Forgets `user_id` (no error when nothing was stored).
    fn remove<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<(), StorageError>>;

    /// Atomically: if a record is stored for `user_id` and its version is `expected`, replace
    /// it with `new` (remove it when `new` is `None`) and return `true`; otherwise change
    /// nothing and return `false`. Durable when it returns `Ok(true)`.
    fn replace_if<'a>(
        &'a self,
        user_id: &'a str,
        expected: u64,
        new: Option<&'a StoredTokens>,
    ) -> BoxFuture<'a, Result<bool, StorageError>>;

    /// Stores `state` for `user_id` with a new version and no marker (after a code exchange,
    /// or to seed a store).
    fn set<'a>(
        &'a self,
        user_id: &'a str,
        state: &'a TokenState,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move { self.put(user_id, &StoredTokens::new(state.clone())).await })
    }
}

impl<T: TokenStore + ?Sized> TokenStore for std::sync::Arc<T> {
    fn get<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredTokens>, StorageError>> {
        (**self).get(user_id)
    }

    fn put<'a>(
        &'a self,
        user_id: &'a str,
        record: &'a StoredTokens,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        (**self).put(user_id, record)
    }

    fn remove<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        (**self).remove(user_id)
    }

    fn replace_if<'a>(
        &'a self,
        user_id: &'a str,
        expected: u64,
        new: Option<&'a StoredTokens>,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        (**self).replace_if(user_id, expected, new)
    }
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
    fn the_refresh_margin_is_at_most_half_the_lifetime() {
        let now = SystemTime::now();
        let secs = Duration::from_secs;
        let margin = secs(120);
        let minute = TokenState::new("a").with_lifetime(now, secs(60));
        assert_eq!(minute.refresh_margin(margin), secs(30));
        assert!(!minute.expires_within_from(now, margin));
        assert!(!minute.expires_within_from(now + secs(29), margin));
        assert!(minute.expires_within_from(now + secs(30), margin));
        // A token Miro says is expired, or one whose lifetime is unknown, keeps the margin.
        let expired = TokenState::new("a").with_lifetime(now, Duration::ZERO);
        assert!(expired.expires_within_from(now, margin));
        let unknown = minute.clone().with_expires_at(now + secs(60));
        assert_eq!(unknown.obtained_at, None);
        assert!(unknown.expires_within_from(now, margin));
        let hour = TokenState::new("a").with_lifetime(now, secs(3599));
        assert_eq!(hour.refresh_margin(margin), margin);
        assert!(hour.expires_within_from(now + secs(3599 - 120), margin));
        // The public check is the plain one.
        assert!(minute.expires_within(margin));
        // Lifetimes past the clock's end do not panic.
        let far = TokenState::new("a").with_lifetime(now, Duration::MAX);
        assert!(far.expires_at.unwrap() > now);
        // The serde form (the file store's) keeps it, in seconds.
        let json = serde_json::to_string(&minute).unwrap();
        let back: TokenState = serde_json::from_str(&json).unwrap();
        assert_eq!(back.obtained_at.map(to_unix), Some(to_unix(now)));
        assert_eq!(back.refresh_margin(margin).as_secs().abs_diff(30), 0);
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
