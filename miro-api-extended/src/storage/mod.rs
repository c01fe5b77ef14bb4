//! Token storage: the [`TokenStore`] trait, keyed by Miro user id, and three stores.
//!
//! - [`MemoryStore`]: in the process, lost on exit.
//! - [`FileStore`]: one JSON file, replaced atomically (temp file, fsync, rename) and readable
//!   by its owner only.
//! - `SqliteStore` (cargo feature `sqlite`): a SQLite database, safe to share between processes.
//!
//! Each store instance has its own state: nothing is shared unless you share the instance.

mod file;
mod memory;
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
    /// The blocking task doing the work ended early (a panic, or the runtime shutting down).
    #[error("token store: the storage task ended early")]
    TaskEnded,
    /// A store of your own failed.
    #[error("token store: {0}")]
    Other(#[source] BoxError),
}

/// Where the [`Miro`](crate::Miro) client keeps each user's tokens.
///
/// Implementations must be safe to call concurrently. The futures are boxed so that the trait
/// can be used as `Arc<dyn TokenStore>`:
///
/// ```
/// use futures::future::BoxFuture;
/// use miro_api_extended::storage::{StorageError, TokenState, TokenStore};
///
/// struct Redis; // ...
/// impl TokenStore for Redis {
///     fn get<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<Option<TokenState>, StorageError>> {
///         Box::pin(async move { Ok(None) })
///     }
///     fn set<'a>(&'a self, user_id: &'a str, state: &'a TokenState) -> BoxFuture<'a, Result<(), StorageError>> {
///         Box::pin(async move { Ok(()) })
///     }
///     fn remove<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
///         Box::pin(async move { Ok(()) })
///     }
/// }
/// ```
pub trait TokenStore: Send + Sync {
    /// The state stored for `user_id`, if any.
    fn get<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<TokenState>, StorageError>>;

    /// Stores `state` for `user_id`, replacing what was there. When this returns `Ok`, the
    /// state must be durable (the client relies on it before using a rotated token).
    fn set<'a>(
        &'a self,
        user_id: &'a str,
        state: &'a TokenState,
    ) -> BoxFuture<'a, Result<(), StorageError>>;

    /// Forgets `user_id` (no error when nothing was stored).
    fn remove<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<(), StorageError>>;
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
