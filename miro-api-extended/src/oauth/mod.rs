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
//! let boards = miro.as_user(&auth.user_id).get_boards(None, None, None, None, None, None, None).await?;
//! # Ok(()) }
//! ```

mod endpoint;
mod error;
mod provider;
mod state;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime};

use miro_api::{AccessToken, MiroApi};
use reqwest::Url;

pub use error::{ConfigError, OAuthError};
pub use state::AuthState;

use crate::secret::ClientSecret;
use crate::storage::{MemoryStore, TokenState, TokenStore};
use endpoint::Grant;

/// Miro's API host, where the token, revoke and token-info endpoints live too.
pub const DEFAULT_API_BASE_URL: &str = "https://api.miro.com";
/// Miro's web host, where users authorize apps.
pub const DEFAULT_AUTH_BASE_URL: &str = "https://miro.com";
/// How long before expiry an access token is refreshed by default.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(120);
/// The longest token lifetime (`expires_in`) accepted from the token endpoint: ten years. A
/// longer one is [`OAuthError::InvalidResponse`], not an expiry that overflows the clock.
pub const MAX_EXPIRES_IN: Duration = Duration::from_secs(10 * 365 * 86_400);

/// The environment variables [`MiroBuilder::build`] reads for settings not given to it.
pub const ENV_CLIENT_ID: &str = "MIRO_CLIENT_ID";
/// See [`ENV_CLIENT_ID`].
pub const ENV_CLIENT_SECRET: &str = "MIRO_CLIENT_SECRET";
/// See [`ENV_CLIENT_ID`].
pub const ENV_REDIRECT_URL: &str = "MIRO_REDIRECT_URL";

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
/// Cheap to clone; clones share the store, the HTTP clients and the refresh coordination.
/// `Debug` never shows the client secret.
#[derive(Clone)]
pub struct Miro {
    inner: Arc<Inner>,
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
    /// One refresh at a time per user.
    flights: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
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
            .finish_non_exhaustive()
    }
}

impl Miro {
    /// A builder; settings not given fall back to the environment.
    pub fn builder() -> MiroBuilder {
        MiroBuilder::default()
    }

    /// A client configured from `MIRO_CLIENT_ID`, `MIRO_CLIENT_SECRET` and
    /// `MIRO_REDIRECT_URL`, with a fresh in-memory store.
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
        self.inner.store.set(&user_id, &state).await?;
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
        endpoint::token_request(
            &self.inner.oauth_http,
            &format!("{}/v1/oauth/token", self.inner.api_base),
            &self.inner.client_id,
            self.inner.client_secret.expose(),
            form,
        )
        .await
    }

    /// A low-level client acting as `user_id`: each request takes the user's access token from
    /// the store, refreshing it first when it is about to expire, and once more after a 401.
    /// Token problems surface as `miro_api::Error::Token` wrapping an [`OAuthError`].
    pub fn as_user(&self, user_id: &str) -> MiroApi {
        MiroApi::builder()
            .base_url(self.inner.api_base.clone())
            .http_client(self.inner.api_http.clone())
            .token_provider(provider::UserTokens::new(self.clone(), user_id))
            .build()
    }

    /// The user's access token, refreshed first when it expires within the refresh margin or
    /// Miro rejected it.
    pub async fn access_token(&self, user_id: &str) -> Result<AccessToken, OAuthError> {
        self.token_for(user_id).await.map(|(token, _)| token)
    }

    /// Whether the user's tokens work: `Ok(false)` when none are stored or Miro refuses them
    /// (after a refresh when one is possible); an `Err` when it cannot tell (network, server
    /// or store errors).
    pub async fn is_authorized(&self, user_id: &str) -> Result<bool, OAuthError> {
        if self.inner.store.get(user_id).await?.is_none() {
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
                let (error, message) = endpoint::error_of(&body);
                return Err(OAuthError::Endpoint {
                    endpoint: "token info",
                    status: status.as_u16(),
                    error,
                    message,
                });
            }
            self.token_rejected(user_id, &token);
        }
        Ok(false)
    }

    /// Revokes the user's tokens at Miro (`POST /v2/oauth/revoke`, credentials in the JSON
    /// body) and removes them from the store. `Ok(false)` when none were stored. When Miro
    /// answers with an error the tokens stay stored; `store().remove(user_id)` forgets them
    /// locally.
    pub async fn revoke(&self, user_id: &str) -> Result<bool, OAuthError> {
        let Some(state) = self.inner.store.get(user_id).await? else {
            return Ok(false);
        };
        let body = serde_json::json!({
            "accessToken": state.access_token.expose(),
            "clientId": self.inner.client_id,
            "clientSecret": self.inner.client_secret.expose(),
        });
        let request = self
            .inner
            .oauth_http
            .post(format!("{}/v2/oauth/revoke", self.inner.api_base))
            .json(&body);
        endpoint::send("revoke", request).await?;
        self.inner.store.remove(user_id).await?;
        lock(&self.inner.rejected).remove(user_id);
        tracing::info!(user_id, "tokens revoked and removed");
        Ok(true)
    }

    /// Notes that Miro answered 401 to `token`, so the next use refreshes it.
    fn token_rejected(&self, user_id: &str, token: &AccessToken) {
        lock(&self.inner.rejected).insert(user_id.to_string(), token.clone());
    }

    fn needs_refresh(&self, user_id: &str, state: &TokenState) -> bool {
        lock(&self.inner.rejected).get(user_id) == Some(&state.access_token)
            || state.expires_within(self.inner.margin)
    }

    async fn load(&self, user_id: &str) -> Result<TokenState, OAuthError> {
        self.inner
            .store
            .get(user_id)
            .await?
            .ok_or_else(|| OAuthError::NotAuthorized {
                user_id: user_id.to_string(),
            })
    }

    /// The token to use and whether it can be refreshed.
    async fn token_for(&self, user_id: &str) -> Result<(AccessToken, bool), OAuthError> {
        let state = self.load(user_id).await?;
        if !self.needs_refresh(user_id, &state) {
            return Ok((state.access_token, state.refresh_token.is_some()));
        }
        let flight = self.flight(user_id);
        let turn = flight.lock_owned().await;
        // Whoever held the turn before may have refreshed already.
        let state = self.load(user_id).await?;
        if !self.needs_refresh(user_id, &state) {
            return Ok((state.access_token, state.refresh_token.is_some()));
        }
        // In its own task: a caller that stops waiting must not lose the rotated tokens.
        let miro = self.clone();
        let user = user_id.to_string();
        let refresh = tokio::spawn(async move {
            let _turn = turn;
            miro.refresh(&user, state).await
        });
        let fresh = refresh
            .await
            .map_err(|_| OAuthError::RefreshInterrupted)??;
        Ok((fresh.access_token, fresh.refresh_token.is_some()))
    }

    fn flight(&self, user_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut flights = lock(&self.inner.flights);
        if let Some(f) = flights.get(user_id).and_then(Weak::upgrade) {
            return f;
        }
        flights.retain(|_, f| f.strong_count() > 0);
        let f = Arc::new(tokio::sync::Mutex::new(()));
        flights.insert(user_id.to_string(), Arc::downgrade(&f));
        f
    }

    /// Refreshes the user's tokens; the caller holds the user's turn.
    async fn refresh(&self, user_id: &str, state: TokenState) -> Result<TokenState, OAuthError> {
        let rejected = lock(&self.inner.rejected).get(user_id) == Some(&state.access_token);
        let Some(refresh_token) = state.refresh_token.clone() else {
            if rejected || state.expires_within(Duration::ZERO) {
                return Err(OAuthError::NotRefreshable {
                    user_id: user_id.to_string(),
                });
            }
            // About to expire but still valid, and nothing to refresh with: use it meanwhile.
            return Ok(state);
        };
        tracing::debug!(user_id, rejected, "refreshing the access token");
        let grant = self
            .token_request(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose()),
            ])
            .await;
        match grant {
            Ok(Grant { state: fresh, .. }) => {
                let fresh = TokenState {
                    team_id: fresh.team_id.or(state.team_id),
                    scope: fresh.scope.or(state.scope),
                    ..fresh
                };
                // Stored before anyone uses it: the old refresh token is dead now.
                if let Err(e) = self.inner.store.set(user_id, &fresh).await {
                    tracing::error!(user_id, error = %e, "refreshed tokens could not be stored");
                    return Err(e.into());
                }
                lock(&self.inner.rejected).remove(user_id);
                tracing::info!(user_id, "access token refreshed");
                Ok(fresh)
            }
            Err(OAuthError::Endpoint {
                status,
                error,
                message,
                ..
            }) if endpoint::is_grant_rejection(status, error.as_deref()) => {
                tracing::warn!(
                    user_id,
                    status,
                    "Miro rejected the refresh token; removing the stored tokens"
                );
                lock(&self.inner.rejected).remove(user_id);
                self.inner.store.remove(user_id).await?;
                Err(OAuthError::RefreshRejected {
                    user_id: user_id.to_string(),
                    status,
                    error,
                    message,
                })
            }
            Err(e) => Err(e),
        }
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

    /// Where the API and the token, revoke and token-info endpoints are (default
    /// [`DEFAULT_API_BASE_URL`]); an emulator's base URL in tests.
    pub fn api_base_url(mut self, url: impl Into<String>) -> Self {
        self.api_base_url = Some(url.into());
        self
    }

    /// Where users authorize the app (default [`DEFAULT_AUTH_BASE_URL`]).
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

    /// How long before expiry a token is refreshed (default two minutes).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
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
        let api_base = check_url(
            "api_base_url",
            self.api_base_url.as_deref().unwrap_or(DEFAULT_API_BASE_URL),
        )?
        .trim_end_matches('/')
        .to_string();
        let auth_base = check_url(
            "auth_base_url",
            self.auth_base_url
                .as_deref()
                .unwrap_or(DEFAULT_AUTH_BASE_URL),
        )?
        .trim_end_matches('/')
        .to_string();
        let (oauth_http, api_http) = match self.http {
            Some(c) => (c.clone(), c),
            None => {
                let base = || {
                    reqwest::Client::builder()
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
                flights: Mutex::new(HashMap::new()),
                rejected: Mutex::new(HashMap::new()),
            }),
        })
    }
}
