//! Errors of the OAuth client. None of them carries a token or the client secret.

use crate::storage::StorageError;

/// The [`Miro`](crate::Miro) client's configuration is incomplete or invalid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Settings given neither to the builder nor in the environment.
    #[error("missing OAuth setting(s) {}: pass them to Miro::builder() or set the environment variable(s)", .missing.join(", "))]
    Missing {
        /// The environment variables' names, e.g. `["MIRO_CLIENT_SECRET"]`.
        missing: Vec<&'static str>,
    },
    /// A setting that must be a URL is not an absolute http(s) URL.
    #[error("{setting} is not an absolute http(s) URL: {reason}")]
    InvalidUrl {
        /// Which setting (`MIRO_REDIRECT_URL`, `api_base_url`, `auth_base_url`).
        setting: &'static str,
        /// Why.
        reason: String,
    },
    /// An environment variable is set but is not valid Unicode.
    #[error("{0} is not valid Unicode")]
    NotUnicode(&'static str),
}

/// Something the OAuth client could not do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    /// No tokens are stored for this user: they must authorize the app first.
    #[error("user {user_id} has not authorized the app")]
    NotAuthorized {
        /// The user.
        user_id: String,
    },
    /// The access token expired or was rejected, and there is no refresh token to get another.
    #[error("the access token of user {user_id} is no longer valid and cannot be refreshed")]
    NotRefreshable {
        /// The user.
        user_id: String,
    },
    /// Miro refused the refresh token (used already, expired or revoked). The stored tokens
    /// were removed: the user must authorize the app again.
    #[error("Miro rejected the refresh token of user {user_id} ({status}{}): they must authorize again", describe(.error, .message))]
    RefreshRejected {
        /// The user.
        user_id: String,
        /// The HTTP status.
        status: u16,
        /// OAuth's `error` (e.g. `invalid_grant`) or Miro's `code`.
        error: Option<String>,
        /// Miro's message.
        message: Option<String>,
    },
    /// An OAuth endpoint answered with an error status.
    #[error("the OAuth {endpoint} endpoint answered {status}{}", describe(.error, .message))]
    Endpoint {
        /// `token`, `revoke` or `token info`.
        endpoint: &'static str,
        /// The HTTP status.
        status: u16,
        /// OAuth's `error` or Miro's `code`.
        error: Option<String>,
        /// Miro's message.
        message: Option<String>,
    },
    /// An OAuth endpoint could not be reached or its answer not read.
    #[error("the OAuth {endpoint} endpoint could not be reached: {source}")]
    Transport {
        /// `token`, `revoke` or `token info`.
        endpoint: &'static str,
        /// The HTTP client's error (it names the URL, which never holds a secret).
        #[source]
        source: reqwest::Error,
    },
    /// A successful answer that is not what OAuth promises (the reason never quotes it).
    #[error("the OAuth {endpoint} endpoint answered something unexpected: {reason}")]
    InvalidResponse {
        /// `token`, `revoke` or `token info`.
        endpoint: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The redirect says the user (or Miro) refused the authorization.
    #[error("the authorization was refused: {error}{}", .description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    AuthorizationDenied {
        /// OAuth's `error`, e.g. `access_denied`.
        error: String,
        /// OAuth's `error_description`.
        description: Option<String>,
    },
    /// The redirect URL or code given holds no authorization code.
    #[error("no authorization code in what was given: {0}")]
    MissingCode(&'static str),
    /// The redirect's `state` is missing or is not the one this authorization started with
    /// (a forged or replayed redirect).
    #[error("the redirect's state does not match the one the authorization started with")]
    StateMismatch,
    /// The task refreshing the token ended without an answer (a panic, or the runtime
    /// shutting down).
    #[error("the token refresh ended early")]
    RefreshInterrupted,
    /// Another process (or `Miro` value) marked the user's record as being refreshed and has
    /// not finished within the refresh wait (see
    /// [`MiroBuilder::refresh_lease`](crate::MiroBuilder::refresh_lease)); its tokens are
    /// not used meanwhile. Try again. If that process stopped while spending the refresh
    /// token (killed, or its store went away), this lasts until its marker has stayed
    /// unchanged for the takeover bound ([`MiroBuilder::refresh_takeover`](crate::MiroBuilder::refresh_takeover)):
    /// then the next refresh takes the record over.
    #[error("the tokens of user {user_id} are being refreshed by another process; try again")]
    RefreshBusy {
        /// The user.
        user_id: String,
    },
    /// The refresh token was sent to Miro and sent again, and neither try got a usable
    /// answer: none at all (a time-out, a broken connection) or a success answer without an
    /// access token (not JSON, cut short), so whether Miro rotated it is unknown. The record
    /// stays marked `in-doubt`; the next refresh (in this process at once, in another after
    /// the takeover bound) sends it again: either Miro never saw it and the refresh
    /// succeeds, or Miro rotated it and nobody holds the successor, and the user must
    /// authorize again.
    #[error("the refresh of user {user_id} got no usable answer (none came, or it held no access token); the next refresh sends it again")]
    RefreshInDoubt {
        /// The user.
        user_id: String,
    },
    /// [`Miro::shutdown`](crate::Miro::shutdown) has begun: no new refresh or revocation
    /// starts (tokens that need none are still handed out).
    #[error("the OAuth client is shutting down; user {user_id}'s tokens were not refreshed")]
    ShuttingDown {
        /// The user.
        user_id: String,
    },
    /// [`Miro::shutdown`](crate::Miro::shutdown) reached its deadline with work left: these
    /// users' refreshes were still running or their rotated tokens were not stored (then
    /// they are lost with the process, and the next refresh of the user is decided by the
    /// takeover bound).
    #[error("the OAuth client shut down with {} user(s) unfinished", .users.len())]
    ShutdownIncomplete {
        /// The users whose work did not finish.
        users: Vec<String>,
    },
    /// Refreshed tokens could not be written to the store. They are kept in memory and used
    /// by this client until a write succeeds (see
    /// [`Miro::store_unsaved_tokens`](crate::Miro::store_unsaved_tokens)).
    #[error(
        "the refreshed tokens of user {user_id} could not be stored (kept in memory): {source}"
    )]
    UnsavedTokens {
        /// The user.
        user_id: String,
        /// The store's error.
        #[source]
        source: StorageError,
    },
    /// The system's random source failed.
    #[error("no randomness for the state: {0}")]
    Random(String),
    /// The token store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

fn describe(error: &Option<String>, message: &Option<String>) -> String {
    match (error, message) {
        (Some(e), Some(m)) => format!(" {e}: {m}"),
        (Some(e), None) => format!(" {e}"),
        (None, Some(m)) => format!(": {m}"),
        (None, None) => String::new(),
    }
}
