//! Refreshing and revoking, coordinated through the store: the per-user lease, the
//! compare-and-set on the refresh token, and rotated tokens kept in memory while the store
//! refuses them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use miro_api::AccessToken;

use super::endpoint::{self, Grant};
use super::{lock, Inner, OAuthError};
use crate::secret::RefreshToken;
use crate::storage::TokenState;

/// How many times rotated tokens are written before they are kept in memory.
const WRITE_ATTEMPTS: u32 = 3;
/// The first pause between two writes of rotated tokens (doubled each time).
const WRITE_BACKOFF: Duration = Duration::from_millis(50);
/// How often rotated tokens kept in memory are written again, at most.
const FLUSH_INTERVAL: Duration = Duration::from_millis(250);
/// Pauses between two looks at a lease someone else holds.
const POLL_MIN: Duration = Duration::from_millis(10);
const POLL_MAX: Duration = Duration::from_millis(200);
/// How many store errors taking a lease are tolerated before the error is given to the caller.
const LEASE_ATTEMPTS: u32 = 3;

/// Rotated tokens the store has refused so far.
pub(crate) struct Pending {
    /// The newest tokens, used meanwhile.
    state: TokenState,
    /// The refresh token the store still holds (what the write replaces).
    replaces: RefreshToken,
    /// When to try the write again.
    next_try: Instant,
}

/// A lease holder name unique to one `Miro` value: the process id and random bits.
pub(crate) fn holder_name() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        // Unique enough within the process without randomness: the clock.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (nanos as u64).to_le_bytes();
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("pid{}-{hex}", std::process::id())
}

impl Inner {
    pub(super) async fn token_request(&self, form: &[(&str, &str)]) -> Result<Grant, OAuthError> {
        endpoint::token_request(
            &self.oauth_http,
            &format!("{}/v1/oauth/token", self.api_base),
            &self.client_id,
            self.client_secret.expose(),
            form,
        )
        .await
    }

    /// Notes that Miro answered 401 to `token`, so the next use refreshes it.
    pub(super) fn token_rejected(&self, user_id: &str, token: &AccessToken) {
        lock(&self.rejected).insert(user_id.to_string(), token.clone());
    }

    fn needs_refresh(&self, user_id: &str, state: &TokenState) -> bool {
        lock(&self.rejected).get(user_id) == Some(&state.access_token)
            || state.expires_within(self.margin)
    }

    /// The user's newest state: rotated tokens the store refused so far, else the store's.
    pub(super) async fn current(&self, user_id: &str) -> Result<Option<TokenState>, OAuthError> {
        if let Some(p) = lock(&self.pending).get(user_id) {
            return Ok(Some(p.state.clone()));
        }
        Ok(self.store.get(user_id).await?)
    }

    async fn load(&self, user_id: &str) -> Result<TokenState, OAuthError> {
        self.current(user_id)
            .await?
            .ok_or_else(|| OAuthError::NotAuthorized {
                user_id: user_id.to_string(),
            })
    }

    /// The token to use and whether it can be refreshed.
    pub(super) async fn token_for(
        self: &Arc<Self>,
        user_id: &str,
    ) -> Result<(AccessToken, bool), OAuthError> {
        self.flush_if_due(user_id).await;
        let state = self.load(user_id).await?;
        if !self.needs_refresh(user_id, &state) {
            return Ok(usable(state));
        }
        let flight = self.flight(user_id);
        let turn = flight.lock_owned().await;
        // Whoever held the turn before may have refreshed already.
        let state = self.load(user_id).await?;
        if !self.needs_refresh(user_id, &state) {
            return Ok(usable(state));
        }
        // In its own task: a caller that stops waiting must not lose the rotated tokens, nor
        // leave the lease held.
        let inner = self.clone();
        let user = user_id.to_string();
        let refresh = tokio::spawn(async move {
            let _turn = turn;
            inner.refresh(&user).await
        });
        let fresh = refresh
            .await
            .map_err(|_| OAuthError::RefreshInterrupted)??;
        Ok(usable(fresh))
    }

    fn flight(&self, user_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut flights = lock(&self.flights);
        if let Some(f) = flights.get(user_id).and_then(std::sync::Weak::upgrade) {
            return f;
        }
        flights.retain(|_, f| f.strong_count() > 0);
        let f = Arc::new(tokio::sync::Mutex::new(()));
        flights.insert(user_id.to_string(), Arc::downgrade(&f));
        f
    }

    /// Takes the user's lease in the store, waiting while another holder has it. With
    /// `for_refresh`, stops waiting (and gives the state) as soon as the stored tokens no
    /// longer need a refresh, or cannot be refreshed.
    async fn acquire(
        &self,
        user_id: &str,
        for_refresh: bool,
    ) -> Result<Option<TokenState>, OAuthError> {
        let deadline = Instant::now() + self.lease * 2 + Duration::from_secs(5);
        let mut pause = POLL_MIN;
        let mut waiting = false;
        let mut failures = 0;
        loop {
            if for_refresh {
                let state = self.load(user_id).await?;
                if !self.needs_refresh(user_id, &state) || state.refresh_token.is_none() {
                    if waiting {
                        tracing::debug!(user_id, "another holder refreshed the tokens");
                    }
                    return Ok(Some(state));
                }
            }
            match self
                .store
                .try_lease(user_id, &self.holder, self.lease)
                .await
            {
                Ok(true) => return Ok(None),
                Ok(false) => {}
                // A transient store error (a busy database): look again a few times.
                Err(e) if failures < LEASE_ATTEMPTS => {
                    failures += 1;
                    tracing::warn!(user_id, error = %e, "taking the refresh lease failed; trying again");
                }
                Err(e) => return Err(e.into()),
            }
            if !waiting {
                tracing::debug!(user_id, "another holder has the refresh lease; waiting");
                waiting = true;
            }
            if Instant::now() >= deadline {
                return Err(OAuthError::RefreshBusy {
                    user_id: user_id.to_string(),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(POLL_MAX);
        }
    }

    async fn release(&self, user_id: &str) {
        if let Err(e) = self.store.release_lease(user_id, &self.holder).await {
            tracing::warn!(user_id, error = %e, "the refresh lease could not be released; it will expire");
        }
    }

    /// Refreshes the user's tokens once, coordinated with every holder sharing the store.
    async fn refresh(&self, user_id: &str) -> Result<TokenState, OAuthError> {
        if let Some(state) = self.acquire(user_id, true).await? {
            return self.unrefreshed(user_id, state);
        }
        let result = self.refresh_leased(user_id).await;
        // Rotated tokens only this process knows: keep the lease so that nobody refreshes
        // with the dead refresh token still stored (it ends when they are written, or expires).
        if !lock(&self.pending).contains_key(user_id) {
            self.release(user_id).await;
        }
        result
    }

    /// What to do with a state that is not refreshed: use it, unless it is dead and has no
    /// refresh token.
    fn unrefreshed(&self, user_id: &str, state: TokenState) -> Result<TokenState, OAuthError> {
        if state.refresh_token.is_none() && self.needs_refresh(user_id, &state) {
            let rejected = lock(&self.rejected).get(user_id) == Some(&state.access_token);
            if rejected || state.expires_within(Duration::ZERO) {
                return Err(OAuthError::NotRefreshable {
                    user_id: user_id.to_string(),
                });
            }
        }
        // About to expire but still valid (or refreshed by someone else): use it.
        Ok(state)
    }

    /// The refresh itself; the caller holds the lease.
    async fn refresh_leased(&self, user_id: &str) -> Result<TokenState, OAuthError> {
        // Under the lease the stored state is the truth: another holder may have refreshed
        // between our last look and taking the lease.
        let state = self.load(user_id).await?;
        if !self.needs_refresh(user_id, &state) {
            return Ok(state);
        }
        let Some(refresh_token) = state.refresh_token.clone() else {
            return self.unrefreshed(user_id, state);
        };
        // What the store holds: our unsaved rotated tokens replace that.
        let in_store = lock(&self.pending)
            .get(user_id)
            .map(|p| p.replaces.clone())
            .unwrap_or_else(|| refresh_token.clone());
        tracing::debug!(user_id, "refreshing the access token");
        let grant = tokio::time::timeout(
            self.lease / 2,
            self.token_request(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose()),
            ]),
        )
        .await
        .map_err(|_| OAuthError::RefreshTimedOut {
            user_id: user_id.to_string(),
        })?;
        match grant {
            Ok(Grant { state: fresh, .. }) => {
                let fresh = TokenState {
                    team_id: fresh.team_id.or(state.team_id),
                    scope: fresh.scope.or(state.scope),
                    ..fresh
                };
                self.save_rotated(user_id, in_store, fresh).await
            }
            Err(OAuthError::Endpoint {
                status,
                error,
                message,
                ..
            }) if endpoint::is_grant_rejection(status, error.as_deref()) => {
                lock(&self.pending).remove(user_id);
                // Only if nobody replaced them meanwhile (a holder whose lease we took over).
                if self.store.replace_if(user_id, &in_store, None).await? {
                    tracing::warn!(
                        user_id,
                        status,
                        "Miro rejected the refresh token; the stored tokens were removed"
                    );
                    lock(&self.rejected).remove(user_id);
                    return Err(OAuthError::RefreshRejected {
                        user_id: user_id.to_string(),
                        status,
                        error,
                        message,
                    });
                }
                tracing::info!(
                    user_id,
                    "Miro rejected a refresh token that another holder had already replaced; using the stored tokens"
                );
                self.load(user_id).await
            }
            Err(e) => Err(e),
        }
    }

    /// Stores rotated tokens in place of `replaces`: a few attempts, then in memory (used
    /// meanwhile, written again later). The rotated refresh token is never dropped silently.
    async fn save_rotated(
        &self,
        user_id: &str,
        replaces: RefreshToken,
        fresh: TokenState,
    ) -> Result<TokenState, OAuthError> {
        let mut pause = WRITE_BACKOFF;
        let mut attempt = 0;
        let error = loop {
            attempt += 1;
            match self
                .store
                .replace_if(user_id, &replaces, Some(&fresh))
                .await
            {
                Ok(true) => {
                    lock(&self.pending).remove(user_id);
                    lock(&self.rejected).remove(user_id);
                    tracing::info!(user_id, "access token refreshed");
                    return Ok(fresh);
                }
                Ok(false) => {
                    lock(&self.pending).remove(user_id);
                    return self.orphaned(user_id, &fresh).await;
                }
                Err(e) if attempt >= WRITE_ATTEMPTS => break e,
                Err(e) => {
                    tracing::warn!(user_id, attempt, error = %e, "storing the refreshed tokens failed; trying again");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
            }
        };
        let error = OAuthError::UnsavedTokens {
            user_id: user_id.to_string(),
            source: error,
        };
        tracing::error!(
            user_id,
            error = %error,
            "the refreshed tokens are kept in memory and used until the store takes them"
        );
        lock(&self.rejected).remove(user_id);
        lock(&self.pending).insert(
            user_id.to_string(),
            Pending {
                state: fresh.clone(),
                replaces,
                next_try: Instant::now() + FLUSH_INTERVAL,
            },
        );
        Ok(fresh)
    }

    /// Rotated tokens whose store row was removed or replaced meanwhile (a revocation, or a
    /// holder whose lease we took over): revoked at Miro, so no unstored token keeps working;
    /// the stored state (if any) is used.
    async fn orphaned(&self, user_id: &str, fresh: &TokenState) -> Result<TokenState, OAuthError> {
        tracing::warn!(
            user_id,
            "the stored tokens changed during the refresh; revoking the new, unstored ones"
        );
        if let Err(e) = self.revoke_at_miro(&fresh.access_token).await {
            tracing::warn!(user_id, error = %e, "revoking the unstored tokens failed");
        }
        self.load(user_id).await
    }

    /// Writes the user's unsaved rotated tokens when the next try is due; errors are logged.
    async fn flush_if_due(&self, user_id: &str) {
        let due = lock(&self.pending)
            .get(user_id)
            .is_some_and(|p| p.next_try <= Instant::now());
        if due {
            if let Err(e) = self.flush(user_id).await {
                tracing::warn!(user_id, error = %e, "the refreshed tokens are still not stored");
            }
        }
    }

    /// Writes the user's unsaved rotated tokens now (if any); then ends the lease.
    pub(super) async fn flush(&self, user_id: &str) -> Result<(), OAuthError> {
        let Some((state, replaces)) = lock(&self.pending).get_mut(user_id).map(|p| {
            p.next_try = Instant::now() + FLUSH_INTERVAL;
            (p.state.clone(), p.replaces.clone())
        }) else {
            return Ok(());
        };
        // Still ours while we try: the other replicas keep waiting instead of refreshing
        // with the dead refresh token the store holds.
        if let Err(e) = self
            .store
            .try_lease(user_id, &self.holder, self.lease)
            .await
        {
            tracing::debug!(user_id, error = %e, "extending the refresh lease failed");
        }
        match self
            .store
            .replace_if(user_id, &replaces, Some(&state))
            .await
        {
            Ok(stored) => {
                let still_ours = {
                    let mut pending = lock(&self.pending);
                    let ours = pending
                        .get(user_id)
                        .is_some_and(|p| p.state.access_token == state.access_token);
                    if ours {
                        pending.remove(user_id);
                    }
                    ours
                };
                if still_ours {
                    self.release(user_id).await;
                    if stored {
                        tracing::info!(
                            user_id,
                            "the refreshed tokens kept in memory are stored now"
                        );
                    } else {
                        self.orphaned(user_id, &state).await?;
                    }
                }
                Ok(())
            }
            Err(source) => Err(OAuthError::UnsavedTokens {
                user_id: user_id.to_string(),
                source,
            }),
        }
    }

    /// Revokes the user's tokens under the lease, so that no refresh stores new ones after.
    pub(super) async fn revoke(&self, user_id: &str) -> Result<bool, OAuthError> {
        let flight = self.flight(user_id);
        let _turn = flight.lock().await;
        self.acquire(user_id, false).await?;
        let result = self.revoke_leased(user_id).await;
        self.release(user_id).await;
        result
    }

    async fn revoke_leased(&self, user_id: &str) -> Result<bool, OAuthError> {
        let unsaved = lock(&self.pending).get(user_id).map(|p| p.state.clone());
        let stored = self.store.get(user_id).await?;
        let mut tokens: Vec<AccessToken> = Vec::new();
        for state in unsaved.iter().chain(stored.iter()) {
            if !tokens.contains(&state.access_token) {
                tokens.push(state.access_token.clone());
            }
        }
        if tokens.is_empty() {
            return Ok(false);
        }
        for token in &tokens {
            self.revoke_at_miro(token).await?;
        }
        self.store.remove(user_id).await?;
        lock(&self.pending).remove(user_id);
        lock(&self.rejected).remove(user_id);
        tracing::info!(user_id, "tokens revoked and removed");
        Ok(true)
    }

    /// `POST /v2/oauth/revoke` for one access token (Miro revokes its refresh token too).
    async fn revoke_at_miro(&self, token: &AccessToken) -> Result<(), OAuthError> {
        let body = serde_json::json!({
            "accessToken": token.expose(),
            "clientId": self.client_id,
            "clientSecret": self.client_secret.expose(),
        });
        let request = self
            .oauth_http
            .post(format!("{}/v2/oauth/revoke", self.api_base))
            .json(&body);
        endpoint::send("revoke", request).await.map(drop)
    }
}

/// The token and whether it can be refreshed.
fn usable(state: TokenState) -> (AccessToken, bool) {
    (state.access_token, state.refresh_token.is_some())
}
