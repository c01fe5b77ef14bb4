//! The async side of refreshing and revoking: runs the protocol's operations
//! ([`protocol`](super::protocol)) against the store and Miro, one at a time per user in
//! this process, each in a task of its own (a caller that stops waiting interrupts nothing),
//! and writes what is left over (unstored tokens, unsettled writes) from a background task.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use miro_api::AccessToken;
use tracing::Instrument;

use super::endpoint::{self, Grant};
use super::protocol::{needs_refresh, Action, Answer, Done, Env, Input, Kind, Op, UserCore};
use super::{lock, Inner, OAuthError};
use crate::secret::RefreshToken;
use crate::storage::{new_version, StorageError, StoredTokens, TokenState};

/// The first pause of the background task before it writes leftovers again (doubled each
/// time, up to [`TIDY_MAX`]).
const TIDY_FIRST: Duration = Duration::from_millis(250);
const TIDY_MAX: Duration = Duration::from_secs(30);
/// How many users' protocol states are kept before idle ones are dropped.
const CORES_KEPT: usize = 256;

/// One user's protocol state in this process, behind the lock that serialises its operations.
pub(crate) type SharedCore = Arc<tokio::sync::Mutex<UserCore>>;

/// A holder name unique to one `Miro` value: the process id and random bits.
pub(crate) fn holder_name() -> String {
    format!("pid{}-{:016x}", std::process::id(), new_version())
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

    pub(super) fn core(&self, user_id: &str) -> SharedCore {
        let mut cores = lock(&self.cores);
        if let Some(core) = cores.get(user_id) {
            return core.clone();
        }
        if cores.len() >= CORES_KEPT {
            cores.retain(|_, c| {
                Arc::strong_count(c) > 1 || c.try_lock().map_or(true, |c| !c.is_idle())
            });
        }
        let core = SharedCore::default();
        cores.insert(user_id.to_string(), core.clone());
        core
    }

    fn env<'a>(&'a self, rejected: Option<&'a AccessToken>) -> Env<'a> {
        Env {
            holder: &self.holder,
            margin: self.margin,
            wait: self.lease,
            timing: self.timing,
            now: SystemTime::now(),
            mono: self.origin.elapsed(),
            version: new_version(),
            rejected,
        }
    }

    /// The user's newest state: rotated tokens not stored yet, else the store's.
    pub(super) async fn current(&self, user_id: &str) -> Result<Option<TokenState>, OAuthError> {
        if let Ok(core) = self.core(user_id).try_lock() {
            if let Some(p) = &core.pending {
                return Ok(Some(p.state.clone()));
            }
        }
        Ok(self.read(user_id).await?.map(|r| r.state))
    }

    /// The token to use and whether it can be refreshed.
    pub(super) async fn token_for(
        self: &Arc<Self>,
        user_id: &str,
    ) -> Result<(AccessToken, bool), OAuthError> {
        let rejected = lock(&self.rejected).get(user_id).cloned();
        if let Some(state) = self.current(user_id).await? {
            if !needs_refresh(&state, SystemTime::now(), self.margin, rejected.as_ref()) {
                return Ok(usable(state));
            }
        }
        match self.run(user_id, Kind::Refresh).await? {
            Done::Tokens(state) => {
                let mut rejected = lock(&self.rejected);
                if rejected.get(user_id) != Some(&state.access_token) {
                    rejected.remove(user_id);
                }
                Ok(usable(state))
            }
            _ => Err(OAuthError::RefreshInterrupted),
        }
    }

    /// Revokes the user's tokens (see [`Miro::revoke`](super::Miro::revoke)).
    pub(super) async fn revoke(self: &Arc<Self>, user_id: &str) -> Result<bool, OAuthError> {
        match self.run(user_id, Kind::Revoke).await? {
            Done::Revoked(any) => {
                lock(&self.rejected).remove(user_id);
                Ok(any)
            }
            _ => Err(OAuthError::RefreshInterrupted),
        }
    }

    /// Writes the user's unstored tokens (and settles unknown writes) now.
    pub(super) async fn tidy(self: &Arc<Self>, user_id: &str) -> Result<(), OAuthError> {
        self.run(user_id, Kind::Tidy).await.map(drop)
    }

    /// Runs one operation under the user's lock, in a task of its own.
    async fn run(self: &Arc<Self>, user_id: &str, kind: Kind) -> Result<Done, OAuthError> {
        let inner = self.clone();
        let user = user_id.to_string();
        let core = self.core(user_id);
        let task = tokio::spawn(async move {
            let mut core = core.lock_owned().await;
            // A shutdown that began while we waited for the lock has passed this user.
            if kind != Kind::Tidy && inner.closing.load(Ordering::SeqCst) {
                return Err(OAuthError::ShuttingDown { user_id: user });
            }
            let result = inner.drive(&user, &mut core, kind).await;
            if core.needs_tidy() && !core.tidier {
                inner.start_tidier(&user, &mut core);
            }
            result
        });
        task.await.map_err(|_| OAuthError::RefreshInterrupted)?
    }

    /// Drives one operation to its end.
    async fn drive(
        &self,
        user_id: &str,
        core: &mut UserCore,
        kind: Kind,
    ) -> Result<Done, OAuthError> {
        let span = tracing::debug_span!("token_operation", user_id, ?kind);
        self.drive_op(user_id, core, kind).instrument(span).await
    }

    async fn drive_op(
        &self,
        user_id: &str,
        core: &mut UserCore,
        kind: Kind,
    ) -> Result<Done, OAuthError> {
        let mut op = Op::new(kind, user_id);
        let mut input = Input::Start;
        loop {
            let rejected = lock(&self.rejected).get(user_id).cloned();
            let action = op.step(core, input, &self.env(rejected.as_ref()));
            input = match action {
                Action::Read => Input::Read(self.read(user_id).await),
                Action::Write { expected, record } => {
                    Input::Wrote(self.write(user_id, expected, record.as_ref()).await)
                }
                Action::Spend(token) => Input::Spent(self.spend(user_id, &token).await),
                Action::Revoke(token) => Input::Revoked(self.revoke_at_miro(&token).await),
                Action::Sleep(pause) => {
                    tokio::time::sleep(pause).await;
                    Input::Slept
                }
                Action::Done(result) => return result,
            };
        }
    }

    async fn read(&self, user_id: &str) -> Result<Option<StoredTokens>, StorageError> {
        tokio::time::timeout(self.store_timeout, self.store.get(user_id))
            .await
            .unwrap_or(Err(StorageError::TimedOut {
                action: "read",
                limit: self.store_timeout,
            }))
    }

    async fn write(
        &self,
        user_id: &str,
        expected: u64,
        record: Option<&StoredTokens>,
    ) -> Result<bool, StorageError> {
        tokio::time::timeout(
            self.store_timeout,
            self.store.replace_if(user_id, expected, record),
        )
        .await
        .unwrap_or(Err(StorageError::TimedOut {
            action: "write",
            limit: self.store_timeout,
        }))
    }

    /// Sends the refresh token and sorts the answer: spent, refused, or unknown.
    async fn spend(&self, user_id: &str, token: &RefreshToken) -> Answer {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", token.expose()),
        ];
        let request = self.token_request(&form);
        match tokio::time::timeout(self.timing.request, request).await {
            Ok(Ok(Grant { state, .. })) => Answer::Granted(state),
            Ok(Err(e)) => classify(user_id, e),
            Err(_) => Answer::Lost(OAuthError::RefreshInterrupted),
        }
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

    /// See [`Miro::shutdown`](super::Miro::shutdown).
    pub(super) async fn shutdown(self: &Arc<Self>, deadline: Duration) -> Result<(), OAuthError> {
        self.closing.store(true, Ordering::SeqCst);
        let until = tokio::time::Instant::now() + deadline;
        // Each user's lock is held by their operation in flight: taking it waits for that
        // one to end. Then what it left (rotated tokens not stored, writes to settle) is
        // written. Operations that take the lock later see `closing` and do nothing.
        let work = async {
            let users: Vec<(String, SharedCore)> = lock(&self.cores)
                .iter()
                .map(|(user, core)| (user.clone(), core.clone()))
                .collect();
            for (user, core) in users {
                if core.lock().await.needs_tidy() {
                    if let Err(e) = self.tidy(&user).await {
                        tracing::warn!(user_id = %user, error = %e, "shutting down with the user's refreshed tokens unstored");
                    }
                }
            }
        };
        let finished = tokio::time::timeout_at(until, work).await.is_ok();
        let mut users = Vec::new();
        let cores: Vec<(String, SharedCore)> = lock(&self.cores)
            .iter()
            .map(|(user, core)| (user.clone(), core.clone()))
            .collect();
        for (user, core) in cores {
            match core.try_lock() {
                Ok(core) if !core.needs_tidy() => {}
                _ => users.push(user),
            }
        }
        if finished && users.is_empty() {
            tracing::info!("the OAuth client shut down with nothing left to do");
            return Ok(());
        }
        users.sort();
        tracing::warn!(
            users = users.len(),
            "the OAuth client shut down with work left"
        );
        Err(OAuthError::ShutdownIncomplete { users })
    }

    /// Starts the background task that writes the user's leftovers until none are left; it
    /// ends when the `Miro` is dropped.
    fn start_tidier(self: &Arc<Self>, user_id: &str, core: &mut UserCore) {
        core.tidier = true;
        let weak: Weak<Inner> = Arc::downgrade(self);
        let user = user_id.to_string();
        tokio::spawn(async move {
            let mut pause = TIDY_FIRST;
            loop {
                tokio::time::sleep(pause).await;
                let Some(inner) = weak.upgrade() else { return };
                let core = inner.core(&user);
                let mut core = core.lock().await;
                if let Err(e) = inner.drive(&user, &mut core, Kind::Tidy).await {
                    tracing::warn!(user_id = %user, error = %e, "the refreshed tokens are still not stored");
                }
                if !core.needs_tidy() {
                    core.tidier = false;
                    return;
                }
                pause = (pause * 2).min(TIDY_MAX);
            }
        });
    }
}

/// Sorts a failed token request: only an OAuth JSON `invalid_grant` says the token is no
/// good; an answer that never came (or came unreadable) may have spent it; anything else
/// (5xx, a proxy's HTML 400, `invalid_client`, no connection) did not.
pub(crate) fn classify(user_id: &str, e: OAuthError) -> Answer {
    match e {
        OAuthError::Endpoint {
            status,
            error,
            message,
            ..
        } if endpoint::is_grant_rejection(error.as_deref()) => {
            Answer::Rejected(OAuthError::RefreshRejected {
                user_id: user_id.to_string(),
                status,
                error,
                message,
            })
        }
        OAuthError::Transport { source, .. } if source.is_connect() => {
            Answer::Refused(OAuthError::Transport {
                endpoint: "token",
                source,
            })
        }
        e @ (OAuthError::Transport { .. } | OAuthError::InvalidResponse { .. }) => Answer::Lost(e),
        e => Answer::Refused(e),
    }
}

/// The token and whether it can be refreshed.
fn usable(state: TokenState) -> (AccessToken, bool) {
    (state.access_token, state.refresh_token.is_some())
}
