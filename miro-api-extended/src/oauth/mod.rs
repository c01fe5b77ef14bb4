//! The high-level OAuth client [`Miro`]: authorization, code exchange, per-user clients whose
//! tokens come from a [`TokenStore`], refresh and revocation.
//!
//! ```no_run
//! use miro_api_extended::{storage::FileStore, Miro};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // MIRO_CLIENT_ID, MIRO_CLIENT_SECRET and MIRO_REDIRECT_URL come from the environment.
//! let miro = Miro::builder().store(FileStore::open("tokens.json").await?).build()?;
//!
//! // 1. Send the user to Miro, keeping the state in their session.
//! let (url, state) = miro.auth_url_with_new_state()?;
//! # let redirect = String::new();
//! // 2. Miro redirects back to MIRO_REDIRECT_URL?code=..&state=..
//! let auth = miro.exchange_code_checked(&redirect, &state).await?;
//! // 3. Call the API as that user; tokens refresh by themselves.
//! let boards = miro.as_user(&auth.user_id).get_boards().limit(20).await?;
//! # Ok(()) }
//! ```

mod endpoint;
mod error;
mod protocol;
mod provider;
mod refresh;
#[cfg(test)]
mod simulation;
mod state;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use miro_api::{AccessToken, MiroApi};
use reqwest::Url;

pub use error::{ConfigError, OAuthError};
pub use state::AuthState;

use crate::secret::ClientSecret;
use crate::storage::{MemoryStore, TokenStore};
use endpoint::Grant;

/// Miro's API host, where the token, revoke and token-info endpoints live too.
pub const DEFAULT_API_BASE_URL: &str = "https://api.miro.com";
/// Miro's web host, where users authorize apps.
pub const DEFAULT_AUTH_BASE_URL: &str = "https://miro.com";
/// How long before expiry an access token is refreshed by default.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(120);
/// The largest refresh margin [`MiroBuilder::refresh_margin`] takes.
pub const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(30 * 60);
/// How long a refresh waits by default for another process's refresh of the same user (see
/// [`MiroBuilder::refresh_lease`]).
pub const DEFAULT_REFRESH_LEASE: Duration = Duration::from_secs(30);
/// How long a record another process marked for a refresh must stay unchanged before a
/// refresh or revoke here takes it over, by default (see [`MiroBuilder::refresh_takeover`]).
pub const DEFAULT_REFRESH_TAKEOVER: Duration = Duration::from_secs(60);
/// The longest takeover bound [`MiroBuilder::refresh_takeover`] takes: a user is never
/// stranded for longer by a process that went away.
pub const MAX_REFRESH_TAKEOVER: Duration = Duration::from_secs(3600);
/// How long one token endpoint request may take by default (see
/// [`MiroBuilder::token_request_timeout`]).
pub const DEFAULT_TOKEN_REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How long one token store call may take by default (see [`MiroBuilder::store_timeout`]).
pub const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(10);
/// How many users' [`as_user`](Miro::as_user) clients a [`Miro`] keeps (the least recently
/// used ones are dropped beyond that, with their rate budget).
pub const USER_CLIENT_CACHE: usize = 4096;
/// The longest token lifetime (`expires_in`) taken from the token endpoint: ten years. A
/// longer one is capped at it, never an expiry that overflows the clock.
pub const MAX_EXPIRES_IN: Duration = Duration::from_secs(10 * 365 * 86_400);

/// The environment variables [`MiroBuilder::build`] reads for settings not given to it.
pub const ENV_CLIENT_ID: &str = "MIRO_CLIENT_ID";
/// See [`ENV_CLIENT_ID`].
pub const ENV_CLIENT_SECRET: &str = "MIRO_CLIENT_SECRET";
/// See [`ENV_CLIENT_ID`].
pub const ENV_REDIRECT_URL: &str = "MIRO_REDIRECT_URL";
/// The API's base URL when [`MiroBuilder::api_base_url`] is not given (the emulator's, to run
/// offline); the same variable [`MiroApi`] reads.
pub const ENV_API_BASE_URL: &str = miro_api::ENV_BASE_URL;
/// Where users authorize the app when [`MiroBuilder::auth_base_url`] is not given.
pub const ENV_AUTH_BASE_URL: &str = "MIRO_AUTH_BASE_URL";

/// What a completed authorization gave: whose tokens were stored, and what they allow.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Authorization {
    /// The Miro user who authorized the app; the key of their tokens in the store.
    pub user_id: String,
    /// The team the app was installed on.
    pub team_id: Option<String>,
    /// The scopes granted, space-separated.
    pub scope: Option<String>,
    /// When the access token expires (`None`: it does not).
    pub expires_at: Option<SystemTime>,
}

/// The OAuth client for an app with many users.
///
/// It sends users to Miro to authorize the app, exchanges the code Miro sends back for tokens
/// and stores them under the user's id, and gives a [`MiroApi`] per user
/// ([`as_user`](Self::as_user)) whose token comes from the store and is refreshed shortly
/// before it expires (or after Miro rejects it): one refresh per user at a time, the rotated
/// refresh token stored before the new access token is used.
///
/// Refreshes are coordinated through the store: a refresh token is sent by one process at a
/// time, a user's tokens are deleted only when Miro rejected the stored refresh token, and
/// rotated tokens the store refuses are kept in memory and written by a background task.
/// Refreshes and revocations run in tasks of their own: a caller that stops waiting (a
/// time-out, a dropped request) interrupts nothing. The invariants, checked by a seeded
/// fault simulation over every user (kills, lost answers and acknowledgements, late writes,
/// store outages, stalls, skewed clocks):
///
/// - **I1** tokens are deleted only after Miro answered an OAuth `invalid_grant` (JSON) for
///   the refresh token still stored (after a resend, the record is marked rejected instead);
/// - **I2** a token the store holds is never revoked automatically;
/// - **I3** a refresh token is never sent while its successor is stored, and two processes
///   never send it at the same time, unless one stalled past its own deadline (then the
///   successor Miro gave, to whichever, is stored over the record that holds the token);
/// - **I4** once [`revoke`](Self::revoke) returns, no token of the user that the store holds
///   works, nor one a process holds unless it could not reach the store for the takeover
///   bound (it revokes those when it next can, and never stores them);
/// - **I5** no duration setting makes it panic;
/// - **I6** after faults heal, every user whose grant is alive at Miro and whose newest
///   refresh token is stored or held by a live process gets a working access token without
///   authorizing again, within the takeover bound ([`MiroBuilder::refresh_takeover`]) of a
///   killed refresher or a lost answer; a revoke always completes.
///
/// A process that loses an answer sends its token again; a marker that stays at one version
/// for the takeover bound is taken over. For a deploy, call [`shutdown`](Self::shutdown).
/// See [`TokenStore`] for how, and for the contract of a store of your own.
///
/// Cheap to clone; clones share the store, the HTTP clients, the refresh coordination and the
/// per-user clients. `Debug` never shows the client secret.
#[derive(Clone)]
pub struct Miro {
    inner: Arc<Inner>,
    /// One client per user (and so one rate budget), with when it was last handed out.
    users: Arc<Mutex<HashMap<String, (MiroApi, Instant)>>>,
}

struct Inner {
    client_id: String,
    client_secret: ClientSecret,
    redirect_url: String,
    api_base: String,
    auth_base: String,
    oauth_http: reqwest::Client,
    api_http: reqwest::Client,
    store: Arc<dyn TokenStore>,
    margin: Duration,
    /// How long a caller waits for another process's refresh.
    lease: Duration,
    /// The takeover bound, and the time limit of a token request (see
    /// [`protocol::Timing`]).
    timing: protocol::Timing,
    /// The origin of this client's monotonic clock.
    origin: Instant,
    /// Set by [`Miro::shutdown`]: no new refresh or revoke starts.
    closing: std::sync::atomic::AtomicBool,
    /// How long one store call may take.
    store_timeout: Duration,
    /// This value's name in the store's markers (process id and a random part).
    holder: String,
    /// Each user's protocol state, behind the lock that runs their operations one at a time.
    cores: Mutex<HashMap<String, refresh::SharedCore>>,
    /// Access tokens Miro answered 401 to, per user: refresh them even if not expired.
    rejected: Mutex<HashMap<String, AccessToken>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The maps are updated by single inserts/removes: a panic cannot leave them inconsistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl fmt::Debug for Miro {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Miro")
            .field("client_id", &self.inner.client_id)
            .field("client_secret", &self.inner.client_secret)
            .field("redirect_url", &self.inner.redirect_url)
            .field("api_base_url", &self.inner.api_base)
            .field("auth_base_url", &self.inner.auth_base)
            .field("refresh_margin", &self.inner.margin)
            .field("refresh_lease", &self.inner.lease)
            .field("refresh_takeover", &self.inner.timing.takeover)
            .field("token_request_timeout", &self.inner.timing.request)
            .finish_non_exhaustive()
    }
}

impl Miro {
    /// A builder; settings not given fall back to the environment.
    pub fn builder() -> MiroBuilder {
        MiroBuilder::default()
    }

    /// A client configured from `MIRO_CLIENT_ID`, `MIRO_CLIENT_SECRET` and
    /// `MIRO_REDIRECT_URL` (and `MIRO_API_BASE_URL`, `MIRO_AUTH_BASE_URL` when set), with a
    /// fresh in-memory store.
    pub fn from_env() -> Result<Miro, ConfigError> {
        MiroBuilder::default().build()
    }

    /// The app's client id.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The redirect URL registered for the app.
    pub fn redirect_url(&self) -> &str {
        &self.inner.redirect_url
    }

    /// The token store.
    pub fn store(&self) -> &Arc<dyn TokenStore> {
        &self.inner.store
    }

    /// The URL to send a user to so that they authorize the app (no `state`: prefer
    /// [`auth_url_with_new_state`](Self::auth_url_with_new_state)).
    pub fn auth_url(&self) -> String {
        self.auth_url_with(None, None)
    }

    /// The authorization URL with a `state` and/or the team to install the app on.
    pub fn auth_url_with(&self, state: Option<&str>, team_id: Option<&str>) -> String {
        let base = format!("{}/oauth/authorize", self.inner.auth_base);
        let mut url = match Url::parse(&base) {
            Ok(u) => u,
            // The base URL was checked when the client was built.
            Err(_) => return base,
        };
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &self.inner.client_id)
                .append_pair("redirect_uri", &self.inner.redirect_url);
            if let Some(s) = state {
                q.append_pair("state", s);
            }
            if let Some(t) = team_id {
                q.append_pair("team_id", t);
            }
        }
        url.into()
    }

    /// An authorization URL with a new unguessable `state`, and that state: keep it in the
    /// user's session and check the redirect with [`exchange_code_checked`](Self::exchange_code_checked).
    pub fn auth_url_with_new_state(&self) -> Result<(String, AuthState), OAuthError> {
        let state = AuthState::generate()?;
        Ok((self.auth_url_with(Some(state.as_str()), None), state))
    }

    /// Exchanges the authorization code for tokens and stores them under the user's id.
    ///
    /// `url_or_code` is the whole redirect URL (absolute or relative), its query, or the bare
    /// code. A redirect carrying `error=` is [`OAuthError::AuthorizationDenied`]. This does not
    /// check `state`; [`exchange_code_checked`](Self::exchange_code_checked) does.
    pub async fn exchange_code_for_access_token(
        &self,
        url_or_code: &str,
    ) -> Result<Authorization, OAuthError> {
        let redirect = endpoint::parse_redirect(url_or_code)?;
        self.exchange(&redirect.code).await
    }

    /// Like [`exchange_code_for_access_token`](Self::exchange_code_for_access_token), after
    /// checking that the redirect's `state` is `expected` (else [`OAuthError::StateMismatch`],
    /// and the code is not sent).
    pub async fn exchange_code_checked(
        &self,
        redirect_url: &str,
        expected: &AuthState,
    ) -> Result<Authorization, OAuthError> {
        let redirect = endpoint::parse_redirect(redirect_url)?;
        match &redirect.state {
            Some(received) if expected.verify(received) => self.exchange(&redirect.code).await,
            _ => Err(OAuthError::StateMismatch),
        }
    }

    async fn exchange(&self, code: &str) -> Result<Authorization, OAuthError> {
        let Grant { state, user_id } = self
            .token_request(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.inner.redirect_url),
            ])
            .await?;
        let user_id = match user_id {
            Some(user_id) => user_id,
            None => self.inner.user_of_token(&state).await?,
        };
        let core = self.inner.core(&user_id);
        let mut core = core.lock().await;
        self.inner.store.set(&user_id, &state).await?;
        core.reset();
        drop(core);
        lock(&self.inner.rejected).remove(&user_id);
        tracing::info!(user_id = %user_id, "authorization code exchanged; tokens stored");
        Ok(Authorization {
            user_id,
            team_id: state.team_id,
            scope: state.scope,
            expires_at: state.expires_at,
        })
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<Grant, OAuthError> {
        self.inner.token_request(form).await
    }

    /// A low-level client acting as `user_id`: each request takes the user's access token from
    /// the store, refreshing it first when it is about to expire, and once more after a 401.
    /// Token problems surface as `miro_api::Error::Token` wrapping an [`OAuthError`].
    ///
    /// Every call for the same user gives a clone of one client, so they share one rate
    /// budget (Miro's limit is per user and app) and the connection pool; calling this per
    /// request is fine. The [`USER_CLIENT_CACHE`] most recently used users are kept.
    pub fn as_user(&self, user_id: &str) -> MiroApi {
        let mut users = lock(&self.users);
        let now = Instant::now();
        if let Some((api, used)) = users.get_mut(user_id) {
            *used = now;
            return api.clone();
        }
        if users.len() >= USER_CLIENT_CACHE {
            let oldest = users
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(user, _)| user.clone());
            if let Some(oldest) = oldest {
                users.remove(&oldest);
            }
        }
        let api = MiroApi::builder()
            .base_url(self.inner.api_base.clone())
            .http_client(self.inner.api_http.clone())
            .token_provider(provider::UserTokens::new(self.inner.clone(), user_id))
            .build();
        users.insert(user_id.to_string(), (api.clone(), now));
        api
    }

    /// The user's access token, refreshed first when it expires within the refresh margin or
    /// Miro rejected it.
    pub async fn access_token(&self, user_id: &str) -> Result<AccessToken, OAuthError> {
        self.inner.token_for(user_id).await.map(|(token, _)| token)
    }

    /// Users whose rotated tokens the store has refused so far, or with writes whose outcome
    /// is still being settled (a background task writes them with growing pauses; the
    /// tokens are used from memory meanwhile).
    pub async fn unsaved_users(&self) -> Vec<String> {
        let cores: Vec<_> = lock(&self.inner.cores)
            .iter()
            .map(|(user, core)| (user.clone(), core.clone()))
            .collect();
        let mut users = Vec::new();
        for (user, core) in cores {
            if core.lock().await.needs_tidy() {
                users.push(user);
            }
        }
        users
    }

    /// Writes the rotated tokens the store refused earlier, now (each user's in turn with
    /// their other operations): `Ok(n)` when all `n` users' were stored, else the first
    /// error (they stay in memory and the background task keeps trying).
    pub async fn store_unsaved_tokens(&self) -> Result<usize, OAuthError> {
        let mut stored = 0;
        for user in self.unsaved_users().await {
            // `Ok` once nothing is left for the user (stored, or gone for good).
            self.inner.tidy(&user).await?;
            stored += 1;
        }
        Ok(stored)
    }

    /// Whether the user's tokens work: `Ok(false)` when none are stored or Miro refuses them
    /// (after a refresh when one is possible); an `Err` when it cannot tell (network, server
    /// or store errors).
    pub async fn is_authorized(&self, user_id: &str) -> Result<bool, OAuthError> {
        if self.inner.current(user_id).await?.is_none() {
            return Ok(false);
        }
        for _ in 0..2 {
            let token = match self.access_token(user_id).await {
                Ok(t) => t,
                Err(
                    OAuthError::NotAuthorized { .. }
                    | OAuthError::NotRefreshable { .. }
                    | OAuthError::RefreshRejected { .. },
                ) => return Ok(false),
                Err(e) => return Err(e),
            };
            let transport = |source| OAuthError::Transport {
                endpoint: "token info",
                source,
            };
            let response = self
                .inner
                .oauth_http
                .get(format!("{}/v1/oauth-token", self.inner.api_base))
                .bearer_auth(token.expose())
                .send()
                .await
                .map_err(transport)?;
            let status = response.status();
            if status.is_success() {
                return Ok(true);
            }
            let body = response.bytes().await.map_err(transport)?;
            if status != reqwest::StatusCode::UNAUTHORIZED {
                let sent = endpoint::Sent::new([token.expose()]);
                let (error, message) = endpoint::scrubbed_error_of(&body, &sent);
                return Err(OAuthError::Endpoint {
                    endpoint: "token info",
                    status: status.as_u16(),
                    error,
                    message,
                });
            }
            self.inner.token_rejected(user_id, &token);
        }
        Ok(false)
    }

    /// Revokes the user's tokens at Miro (`POST /v2/oauth/revoke`, credentials in the JSON
    /// body) and removes them from the store. `Ok(false)` when none were stored. When Miro
    /// answers with an error the tokens stay stored; `store().remove(user_id)` forgets them
    /// locally.
    ///
    /// Revocation marks the stored record first, so it waits for a refresh in flight (in any
    /// process sharing the store, up to the refresh wait, else [`OAuthError::RefreshBusy`])
    /// and revokes the tokens that refresh stored: once this returns `Ok(true)`, no token of
    /// the user that a process or the store holds works, and no refresh stores one
    /// afterwards. It runs in a task of its own, so a caller that stops waiting leaves it to
    /// finish.
    pub async fn revoke(&self, user_id: &str) -> Result<bool, OAuthError> {
        self.inner.revoke(user_id).await
    }

    /// Shuts the client down gracefully, for a deploy's SIGTERM: no new refresh or revoke
    /// starts (a call that needs one gets [`OAuthError::ShuttingDown`]; tokens that need
    /// none are still handed out), the refreshes and revokes in flight finish, and rotated
    /// tokens the store has not taken yet are written, all within `deadline`.
    ///
    /// Call it once the app has stopped taking requests (after the web server's own
    /// graceful shutdown), then exit. `Ok` when nothing is left; else
    /// [`OAuthError::ShutdownIncomplete`] names the users whose work did not finish. A
    /// process that is killed instead leaves at most a marker on a user's record, which
    /// the other processes take over after the takeover bound
    /// ([`MiroBuilder::refresh_takeover`]).
    pub async fn shutdown(&self, deadline: Duration) -> Result<(), OAuthError> {
        self.inner.shutdown(deadline).await
    }
}

/// Builds a [`Miro`]. Settings not given come from `MIRO_CLIENT_ID`, `MIRO_CLIENT_SECRET`
/// and `MIRO_REDIRECT_URL`.
pub struct MiroBuilder {
    client_id: Option<String>,
    client_secret: Option<ClientSecret>,
    redirect_url: Option<String>,
    api_base_url: Option<String>,
    auth_base_url: Option<String>,
    store: Option<Arc<dyn TokenStore>>,
    http: Option<reqwest::Client>,
    margin: Duration,
    lease: Duration,
    takeover: Duration,
    token_timeout: Duration,
    store_timeout: Duration,
    timeout: Duration,
}

impl Default for MiroBuilder {
    fn default() -> Self {
        MiroBuilder {
            client_id: None,
            client_secret: None,
            redirect_url: None,
            api_base_url: None,
            auth_base_url: None,
            store: None,
            http: None,
            margin: DEFAULT_REFRESH_MARGIN,
            lease: DEFAULT_REFRESH_LEASE,
            takeover: DEFAULT_REFRESH_TAKEOVER,
            token_timeout: DEFAULT_TOKEN_REQUEST_TIMEOUT,
            store_timeout: DEFAULT_STORE_TIMEOUT,
            timeout: Duration::from_secs(60),
        }
    }
}

impl fmt::Debug for MiroBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MiroBuilder")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("redirect_url", &self.redirect_url)
            .field("api_base_url", &self.api_base_url)
            .field("auth_base_url", &self.auth_base_url)
            .field("has_store", &self.store.is_some())
            .finish_non_exhaustive()
    }
}

fn from_env(name: &'static str) -> Result<Option<String>, ConfigError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(Some(v.trim().to_string())),
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError::NotUnicode(name)),
    }
}

fn check_url(setting: &'static str, value: &str) -> Result<String, ConfigError> {
    let url = Url::parse(value).map_err(|e| ConfigError::InvalidUrl {
        setting,
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::InvalidUrl {
            setting,
            reason: format!("the scheme is {:?}", url.scheme()),
        });
    }
    Ok(value.to_string())
}

impl MiroBuilder {
    /// The app's client id (else `MIRO_CLIENT_ID`).
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }

    /// The app's client secret (else `MIRO_CLIENT_SECRET`).
    pub fn client_secret(mut self, secret: impl Into<ClientSecret>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }

    /// The redirect URL registered for the app (else `MIRO_REDIRECT_URL`).
    pub fn redirect_url(mut self, url: impl Into<String>) -> Self {
        self.redirect_url = Some(url.into());
        self
    }

    /// Where the API and the token, revoke and token-info endpoints are (else
    /// `MIRO_API_BASE_URL`, else [`DEFAULT_API_BASE_URL`]); an emulator's base URL in tests.
    pub fn api_base_url(mut self, url: impl Into<String>) -> Self {
        self.api_base_url = Some(url.into());
        self
    }

    /// Where users authorize the app (else `MIRO_AUTH_BASE_URL`, else
    /// [`DEFAULT_AUTH_BASE_URL`]).
    pub fn auth_base_url(mut self, url: impl Into<String>) -> Self {
        self.auth_base_url = Some(url.into());
        self
    }

    /// The token store (default: a new, empty [`MemoryStore`] for this client alone).
    pub fn store(mut self, store: impl TokenStore + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// A shared token store.
    pub fn store_arc(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Uses this HTTP client for the API and the OAuth endpoints. By default the OAuth calls
    /// use a client that follows no redirects (so the form with the secret goes nowhere else).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// How long before expiry a token is refreshed (default two minutes). At most
    /// [`MAX_REFRESH_MARGIN`] (half of the hour Miro's access tokens live), so that a token
    /// just refreshed is not due again at once.
    /// A token with a shorter lifetime gets at most half of it (see
    /// [`TokenState`](crate::storage::TokenState)).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.margin = margin.min(MAX_REFRESH_MARGIN);
        self
    }

    /// How long a refresh waits for another process's refresh of the same user before it
    /// answers [`OAuthError::RefreshBusy`] (default [`DEFAULT_REFRESH_LEASE`], 30 s). At
    /// least 100 ms; any larger value works. It bounds the caller's wait only: token
    /// requests have their own limit ([`token_request_timeout`](Self::token_request_timeout)).
    pub fn refresh_lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(100));
        self
    }

    /// How long a record another process marked (`refreshing` or `in-doubt`) must stay
    /// unchanged, as this process's monotonic clock measures it, before a refresh or revoke
    /// here takes it over and sends its refresh token itself (default
    /// [`DEFAULT_REFRESH_TAKEOVER`], 60 s). This is the most a killed process or a lost
    /// answer delays its users. It is raised to at least three times the token request
    /// limit (a holder sends only within that limit of marking the record, and abandons its
    /// request after it), and capped at [`MAX_REFRESH_TAKEOVER`]. No clock agreement
    /// between machines is needed.
    pub fn refresh_takeover(mut self, bound: Duration) -> Self {
        self.takeover = bound;
        self
    }

    /// How long one token endpoint request may take before it is abandoned (default
    /// [`DEFAULT_TOKEN_REQUEST_TIMEOUT`], 15 s; at least 50 ms). An abandoned refresh
    /// counts as a lost answer: this process sends the refresh token again.
    pub fn token_request_timeout(mut self, limit: Duration) -> Self {
        self.token_timeout = limit;
        self
    }

    /// How long one token store call may take before it counts as failed (default
    /// [`DEFAULT_STORE_TIMEOUT`], 10 s; it may still be applied, which the client handles).
    pub fn store_timeout(mut self, limit: Duration) -> Self {
        self.store_timeout = limit;
        self
    }

    /// Time allowed for one request of the default HTTP clients (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Builds the client; the error names every missing setting.
    pub fn build(self) -> Result<Miro, ConfigError> {
        let client_id = match self.client_id {
            Some(id) => Some(id),
            None => from_env(ENV_CLIENT_ID)?,
        };
        let client_secret = match self.client_secret {
            Some(s) => Some(s),
            None => from_env(ENV_CLIENT_SECRET)?.map(ClientSecret::new),
        };
        let redirect_url = match self.redirect_url {
            Some(u) => Some(u),
            None => from_env(ENV_REDIRECT_URL)?,
        };
        let (client_id, client_secret, redirect_url) =
            match (client_id, client_secret, redirect_url) {
                (Some(id), Some(secret), Some(url)) => (id, secret, url),
                (id, secret, url) => {
                    let mut missing = Vec::new();
                    if id.is_none() {
                        missing.push(ENV_CLIENT_ID);
                    }
                    if secret.is_none() {
                        missing.push(ENV_CLIENT_SECRET);
                    }
                    if url.is_none() {
                        missing.push(ENV_REDIRECT_URL);
                    }
                    return Err(ConfigError::Missing { missing });
                }
            };
        let redirect_url = check_url(ENV_REDIRECT_URL, &redirect_url)?;
        let api_base_url = match self.api_base_url {
            Some(u) => Some(u),
            None => from_env(ENV_API_BASE_URL)?,
        };
        let auth_base_url = match self.auth_base_url {
            Some(u) => Some(u),
            None => from_env(ENV_AUTH_BASE_URL)?,
        };
        let api_base = check_url(
            "api_base_url",
            api_base_url.as_deref().unwrap_or(DEFAULT_API_BASE_URL),
        )?
        .trim_end_matches('/')
        .to_string();
        let auth_base = check_url(
            "auth_base_url",
            auth_base_url.as_deref().unwrap_or(DEFAULT_AUTH_BASE_URL),
        )?
        .trim_end_matches('/')
        .to_string();
        let (oauth_http, api_http) = match self.http {
            Some(c) => (c.clone(), c),
            None => {
                let base = || {
                    // miro-api's TLS set-up (with `rustls-tls`, reqwest has no crypto provider
                    // of its own).
                    miro_api::http_client_builder()
                        .connect_timeout(Duration::from_secs(10))
                        .timeout(self.timeout)
                        .user_agent(concat!(
                            "miro-api-extended/",
                            env!("CARGO_PKG_VERSION"),
                            " (Rust; miro-rs)"
                        ))
                };
                (
                    base()
                        .redirect(reqwest::redirect::Policy::none())
                        .build()
                        .unwrap_or_default(),
                    base().build().unwrap_or_default(),
                )
            }
        };
        Ok(Miro {
            inner: Arc::new(Inner {
                client_id,
                client_secret,
                redirect_url,
                api_base,
                auth_base,
                oauth_http,
                api_http,
                store: self.store.unwrap_or_else(|| Arc::new(MemoryStore::new())),
                margin: self.margin,
                lease: self.lease,
                timing: protocol::Timing::new(self.takeover, self.token_timeout),
                origin: Instant::now(),
                closing: std::sync::atomic::AtomicBool::new(false),
                store_timeout: self.store_timeout,
                holder: refresh::holder_name(),
                cores: Mutex::new(HashMap::new()),
                rejected: Mutex::new(HashMap::new()),
            }),
            users: Arc::new(Mutex::new(HashMap::new())),
        })
    }
}
