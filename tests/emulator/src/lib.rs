//! An offline, stateful fake of the Miro REST API v2, for tests and examples.
//!
//! The emulator serves Miro's real paths on `127.0.0.1` (an ephemeral port by
//! default): boards, members, items of every kind (with file uploads and bulk
//! create), tags, connectors, groups, the organisation's members and teams and
//! OAuth, with Miro's error bodies, paging, credit-based rate limiting (credits
//! from the spec's operations table), a request log and fault injection.
//! Every other operation of the pinned spec answers with its documented
//! success status and a body valid against its schema, generated from the spec
//! (see [`fallback`]).
//!
//! # Example: a client under test, an injected fault, the request log
//!
//! Start it in the test, point the client under test at [`RunningEmulator::base_url`] with
//! [`RunningEmulator::access_token`], then check what the emulator now holds and what it
//! received. Any HTTP client will do (here reqwest; with `miro-api`, set
//! `MiroApi::builder().base_url(..)`):
//!
//! ```
//! use miro_emulator::{Emulator, Fault, FaultKind};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // In this workspace reqwest is built without a crypto provider of its own (miro-api's
//! # // TLS set-up); a program that depends on reqwest with its defaults does not need this.
//! # let _ = rustls::crypto::ring::default_provider().install_default();
//! let emu = Emulator::start().await?; // 127.0.0.1, a free port
//! let http = reqwest::Client::new();
//! let boards = format!("{}/v2/boards", emu.base_url());
//!
//! // The client under test creates a board; the emulator keeps it.
//! let created: serde_json::Value = http
//!     .post(&boards)
//!     .bearer_auth(emu.access_token())
//!     .json(&serde_json::json!({"name": "Plans"}))
//!     .send()
//!     .await?
//!     .error_for_status()?
//!     .json()
//!     .await?;
//! assert_eq!(created["name"], "Plans");
//! assert_eq!(emu.board_count(), 1);
//!
//! // Without a valid token: Miro's 401 body.
//! let denied = http.get(&boards).bearer_auth("wrong").send().await?;
//! assert_eq!(denied.status(), 401);
//!
//! // A fault on one route: does the client survive a 503?
//! let fault = emu.inject_fault(Fault::new(FaultKind::ServerError(503)).on("GET /v2/boards"))?;
//! let failed = http.get(&boards).bearer_auth(emu.access_token()).send().await?;
//! assert_eq!(failed.status(), 503);
//! emu.remove_fault(fault);
//!
//! // Every request is logged (secrets redacted), for assertions on what was sent.
//! let log = emu.requests();
//! assert!(log.iter().any(|r| r.method == "POST" && r.path == "/v2/boards"));
//! emu.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! ## Enterprise lists
//!
//! [`EmulatorBuilder::enterprise`] seeds the organisation
//! ([`RunningEmulator::org_id`]) with members and teams, served with Miro's
//! enterprise cursor pages (`{data, cursor, limit, size, type}`, no `cursor` on
//! the last page, `limit` 1..=100, default 100):
//!
//! ```no_run
//! # async fn demo() -> miro_emulator::Result<()> {
//! let emu = miro_emulator::Emulator::builder()
//!     .enterprise(250, 3, 120) // 250 members; 3 teams of 120 members
//!     .start()
//!     .await?;
//! let org = emu.org_id();
//! // GET /v2/orgs/{org}/members?limit=100, then ?cursor=<cursor>&limit=100 ...
//! // GET /v2/orgs/{org}/teams, /v2/orgs/{org}/teams/{team_id}/members
//! # Ok(()) }
//! ```
//!
//! ## As a dev server: state across restarts
//!
//! [`EmulatorBuilder::state_file`] (the binary's `--state FILE`) keeps boards and
//! everything on them (members, items with their uploaded files, tags, connectors, groups,
//! comment threads) and the organisation in one JSON file: read at start, written
//! [`STATE_SAVE_DELAY`] after changes and at shutdown, always atomically. A file that
//! cannot be read or decoded is an error ([`Error::State`]), never an empty start.
//!
//! ```no_run
//! # async fn demo() -> miro_emulator::Result<()> {
//! let emu = miro_emulator::Emulator::builder()
//!     .port(8080)
//!     .state_file("emulator-state.json")
//!     .start()
//!     .await?;
//! // ... create boards over HTTP ...
//! emu.shutdown_and_save().await?; // the next start with this file finds them again
//! # Ok(()) }
//! ```
//!
//! It depends on no Miro client crate: it checks clients rather than sharing
//! their assumptions.

mod app;
mod clock;
mod error;
pub mod fallback;
pub mod faults;
mod gateway;
mod ids;
pub mod log;
mod multipart;
mod oauth;
mod paging;
mod persist;
pub mod rate_limit;
pub(crate) mod routes;
mod spec;
mod state;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use parking_lot::RwLock;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

pub use error::{Error, Result, StateError};
pub use fallback::{FallbackFn, FallbackRequest, FallbackResponse};
pub use faults::{Fault, FaultId, FaultKind, Trigger};
pub use gateway::{MAX_BODY, MAX_MULTIPART_BODY, MAX_TEXT_CHARS};
pub use log::{
    LoggedPart, LoggedRequest, LOGGED_BODY_LIMIT, LOG_BYTES_LIMIT, OAUTH_SECRET_KEYS, SECRET_KEYS,
};
pub use oauth::IssuedTokens;
pub use persist::STATE_SAVE_DELAY;
pub use routes::comments::MESSAGES_MAX as MAX_COMMENT_MESSAGES;
pub use routes::items::{MAX_BULK_ITEMS, MAX_FILE_BYTES};
pub use routes::tags::{MAX_TAGS_PER_BOARD, MAX_TAGS_PER_ITEM};
pub use state::UploadedFile;

/// The access token valid by default.
pub const DEFAULT_TOKEN: &str = "emulator-token";
/// The default OAuth client id.
pub const DEFAULT_CLIENT_ID: &str = "3458764500000000001";
/// The default OAuth client secret.
pub const DEFAULT_CLIENT_SECRET: &str = "emulator-client-secret";
/// The id of the emulator's user.
pub const DEFAULT_USER_ID: &str = "3458764500000000777";
/// The id of the emulator's team.
pub const DEFAULT_TEAM_ID: &str = "3458764500000000555";
/// The id of the emulator's organisation (see [`EmulatorBuilder::enterprise`]).
pub const DEFAULT_ORG_ID: &str = "3458764400000000111";

/// Entry point: `Emulator::builder()` or `Emulator::start()`.
#[derive(Debug, Clone, Copy)]
pub struct Emulator;

impl Emulator {
    /// A builder with the default settings.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// Starts an emulator with the default settings.
    pub async fn start() -> Result<RunningEmulator> {
        Self::builder().start().await
    }
}

/// Settings of an emulator; [`EmulatorBuilder::start`] runs it.
///
/// Defaults: 100,000 credits per 60 s; OAuth access tokens live 3599 s and
/// refresh tokens 60 days; one static token [`DEFAULT_TOKEN`]; client id and
/// secret [`DEFAULT_CLIENT_ID`] / [`DEFAULT_CLIENT_SECRET`]; port 0 (ephemeral);
/// request log on (100,000 entries); seed 0; no state file (state lives in memory only).
pub struct EmulatorBuilder {
    budget: u64,
    window: Duration,
    access_lifetime: Option<Duration>,
    refresh_lifetime: Duration,
    tokens: Vec<String>,
    client_id: String,
    client_secret: String,
    port: u16,
    seed: u64,
    log: bool,
    log_capacity: usize,
    team_id_as_number: bool,
    fallback: Option<Arc<FallbackFn>>,
    enterprise: (usize, usize, usize),
    oauth_users: Vec<(String, String)>,
    state_file: Option<PathBuf>,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        EmulatorBuilder {
            budget: 100_000,
            window: Duration::from_secs(60),
            access_lifetime: Some(Duration::from_secs(3599)),
            refresh_lifetime: Duration::from_secs(60 * 24 * 3600),
            tokens: vec![DEFAULT_TOKEN.to_string()],
            client_id: DEFAULT_CLIENT_ID.to_string(),
            client_secret: DEFAULT_CLIENT_SECRET.to_string(),
            port: 0,
            seed: 0,
            log: true,
            log_capacity: 100_000,
            team_id_as_number: false,
            fallback: None,
            enterprise: (0, 0, 0),
            oauth_users: Vec::new(),
            state_file: None,
        }
    }
}

impl std::fmt::Debug for EmulatorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorBuilder")
            .field("budget", &self.budget)
            .field("window", &self.window)
            .field("access_lifetime", &self.access_lifetime)
            .field("tokens", &self.tokens)
            .field("client_id", &self.client_id)
            .field("port", &self.port)
            .field("seed", &self.seed)
            .field("enterprise", &self.enterprise)
            .field("state_file", &self.state_file)
            .finish_non_exhaustive()
    }
}

impl EmulatorBuilder {
    /// Rate limit: `credits` per token per `window` (fixed windows).
    pub fn rate_limit(mut self, credits: u64, window: Duration) -> Self {
        self.budget = credits;
        self.window = window;
        self
    }

    /// Lifetime of access tokens issued through OAuth; `None` issues
    /// non-expiring tokens without refresh tokens. Static tokens never expire.
    pub fn access_token_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.access_lifetime = lifetime;
        self
    }

    /// Lifetime of refresh tokens (default 60 days).
    pub fn refresh_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.refresh_lifetime = lifetime;
        self
    }

    /// Replaces the set of static, always-valid access tokens. The first one is
    /// what [`RunningEmulator::access_token`] returns. An empty set leaves only
    /// OAuth-issued tokens.
    pub fn tokens<I, S>(mut self, tokens: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tokens = tokens.into_iter().map(Into::into).collect();
        self
    }

    /// The OAuth client credentials the token endpoint accepts.
    pub fn oauth_client(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.client_id = client_id.into();
        self.client_secret = client_secret.into();
        self
    }

    /// The port to listen on (0, the default, picks a free one).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Seed of the ids and of probabilistic faults.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Whether to keep the request log (default on).
    pub fn log_requests(mut self, on: bool) -> Self {
        self.log = on;
        self
    }

    /// How many requests the log keeps (the oldest are dropped first; default 100,000).
    pub fn request_log_capacity(mut self, capacity: usize) -> Self {
        self.log_capacity = capacity;
        self
    }

    /// Sends `team_id` in token responses as a bare JSON number, as Miro sometimes does.
    pub fn team_id_as_number(mut self, on: bool) -> Self {
        self.team_id_as_number = on;
        self
    }

    /// Answers requests no route matches (see [`fallback`]).
    pub fn fallback<F>(mut self, f: F) -> Self
    where
        F: Fn(&FallbackRequest) -> Option<FallbackResponse> + Send + Sync + 'static,
    {
        self.fallback = Some(Arc::new(f));
        self
    }

    /// Seeds the organisation ([`RunningEmulator::org_id`]) with `org_members`
    /// members and `teams` teams of `members_per_team` members each, for the
    /// enterprise lists (`GET /v2/orgs/{org_id}/members`, `.../teams`,
    /// `.../teams/{team_id}/members`). Team members are organisation members;
    /// a team larger than the organisation is filled with external users.
    /// Without it the organisation exists but is empty.
    pub fn enterprise(mut self, org_members: usize, teams: usize, members_per_team: usize) -> Self {
        self.enterprise = (org_members, teams, members_per_team);
        self
    }

    /// Adds a user who can sign in through OAuth. With at least one such user, `GET
    /// /oauth/authorize` shows a page with a "Sign in as NAME" link per user (the default
    /// user, [`RunningEmulator::user_id`], first) instead of approving at once; the link with
    /// `id="sign-in-ID"` approves as that user (also reachable directly with `&user=ID`).
    /// Tokens then belong to that user, and `GET /v2/boards` lists only the boards the caller
    /// is a member of.
    pub fn oauth_user(mut self, id: impl Into<String>, name: impl Into<String>) -> Self {
        self.oauth_users.push((id.into(), name.into()));
        self
    }

    /// Keeps the state in `path` across restarts: boards with their members, items (and
    /// uploaded files), tags, connectors, groups and comment threads, and the organisation.
    ///
    /// At start the file is read when it exists; one that cannot be read or decoded fails
    /// [`start`](Self::start) with [`Error::State`] (the file is left as it is). Without a
    /// file the emulator starts empty and writes one at once, so an unwritable path fails
    /// at start too. Then every successful change (any request but `GET`, `HEAD` and
    /// `OPTIONS`) is written [`STATE_SAVE_DELAY`] after it, changes in between together,
    /// and [`RunningEmulator::shutdown`] writes a last time. Each write goes to a temporary
    /// file in the same directory, flushed to disk, then renamed over `path`: a crash leaves
    /// the old or the new state, never half a file.
    ///
    /// Not kept: OAuth tokens and codes (static tokens come from the settings), the request
    /// log, faults and rate-limit windows. Links in the stored objects are rewritten when
    /// the base URL changed (another port). [`enterprise`](Self::enterprise) seeds only a
    /// fresh state. Two emulators must not share one file (the last write wins).
    pub fn state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }

    /// Binds `127.0.0.1:port` and serves in a background tokio task.
    ///
    /// Errors: [`Error::Bind`] when the port is taken; [`Error::State`] when the state
    /// file cannot be read, decoded or written.
    pub async fn start(self) -> Result<RunningEmulator> {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .map_err(Error::Bind)?;
        let addr = listener.local_addr().map_err(Error::Bind)?;
        let base_url = format!("http://{addr}");
        let cfg = app::Config {
            access_lifetime: self.access_lifetime,
            refresh_lifetime: self.refresh_lifetime,
            client_id: self.client_id,
            client_secret: self.client_secret,
            user_id: DEFAULT_USER_ID.to_string(),
            user_name: "Emulator User".to_string(),
            team_id: DEFAULT_TEAM_ID.to_string(),
            team_name: "Emulator Team".to_string(),
            team_id_as_number: self.team_id_as_number,
            scopes: "boards:read boards:write".to_string(),
            oauth_users: self.oauth_users,
        };
        let app = Arc::new(app::App {
            cfg,
            base_url: base_url.clone(),
            ids: ids::IdGen::new(self.seed),
            store: RwLock::new(state::Store::default()),
            auth: oauth::Auth::default(),
            rate: rate_limit::RateLimiter::new(self.budget, self.window),
            faults: faults::Faults::new(self.seed),
            log: log::RequestLog::new(self.log, self.log_capacity),
            fallback: self.fallback,
            persist: self.state_file.map(persist::Persist::new),
        });
        for t in &self.tokens {
            app.auth.add_static(t, DEFAULT_USER_ID);
        }
        app.store.write().org.id = DEFAULT_ORG_ID.to_string();
        let loaded = match &app.persist {
            None => None,
            Some(p) => persist::load(p.path(), &base_url).map_err(|source| Error::State {
                path: p.path().to_owned(),
                source,
            })?,
        };
        match loaded {
            Some(state) => persist::install(&app, state),
            None => {
                let (org_members, teams, per_team) = self.enterprise;
                routes::enterprise::seed(&app, org_members, teams, per_team);
                persist::save_now(&app, true).await?;
            }
        }
        let router = routes::router(app.clone());
        let (stop_tx, stop_rx) = watch::channel(false);
        let saver = tokio::spawn(persist::saver(app.clone(), stop_rx.clone()));
        let task = tokio::spawn(serve(listener, router, stop_rx));
        Ok(RunningEmulator {
            app,
            addr,
            base_url,
            token: self.tokens.first().cloned().unwrap_or_default(),
            stop: stop_tx,
            task: Some(task),
            saver: Some(saver),
        })
    }
}

/// The error a service returns to make hyper close the connection unanswered.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

/// Accepts connections until told to stop; HTTP/1.1 with keep-alive.
async fn serve(listener: TcpListener, router: axum::Router, mut stop: watch::Receiver<bool>) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let router = router.clone();
                let mut stop = stop.clone();
                conns.spawn(async move {
                    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                        let router = router.clone();
                        async move {
                            let resp = router
                                .oneshot(req.map(axum::body::Body::new))
                                .await
                                .unwrap_or_else(|e: Infallible| match e {});
                            if resp.extensions().get::<gateway::DropConnection>().is_some() {
                                Err(Dropped)
                            } else {
                                Ok(resp)
                            }
                        }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        _ = conn => {}
                        _ = stop.changed() => {}
                    }
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
    // Wait for them, so that no request changes the state after the last save.
    while conns.join_next().await.is_some() {}
}

/// Where the emulator's sign-in sends the browser back after approving an authorization
/// request: the app's redirect URL with `code` and `state` added. See
/// [`RunningEmulator::authorize`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The whole redirect URL, e.g. `http://localhost:3000/callback?code=..&state=..`.
    pub url: String,
    /// The authorization code, valid once for ten minutes at `POST /v1/oauth/token`.
    pub code: String,
    /// The `state` of the authorization URL, when it had one.
    pub state: Option<String>,
}

/// A running emulator. Dropping it stops the server too; [`shutdown`](Self::shutdown)
/// also waits for it.
pub struct RunningEmulator {
    app: Arc<app::App>,
    addr: SocketAddr,
    base_url: String,
    token: String,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
    saver: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for RunningEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningEmulator")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl RunningEmulator {
    /// The base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The socket address the emulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The first static access token (`"emulator-token"` by default).
    pub fn access_token(&self) -> String {
        self.token.clone()
    }

    /// The OAuth client id the token endpoint accepts.
    pub fn client_id(&self) -> String {
        self.app.cfg.client_id.clone()
    }

    /// The OAuth client secret the token endpoint accepts.
    pub fn client_secret(&self) -> String {
        self.app.cfg.client_secret.clone()
    }

    /// The id of the user every token belongs to.
    pub fn user_id(&self) -> String {
        self.app.cfg.user_id.clone()
    }

    /// The id of the organisation the enterprise operations serve.
    pub fn org_id(&self) -> String {
        self.app.store.read().org.id.clone()
    }

    /// Stops serving and waits for the server task to end; with a state file, then writes
    /// it a last time (a failed write is logged with `tracing`; see
    /// [`shutdown_and_save`](Self::shutdown_and_save) to get it).
    pub async fn shutdown(self) {
        if let Err(e) = self.shutdown_and_save().await {
            tracing::error!(error = %e, "the emulator's last state save failed");
        }
    }

    /// Stops serving, waits for the server task to end and, with a state file, writes it a
    /// last time; [`Error::State`] when that write fails.
    pub async fn shutdown_and_save(mut self) -> Result<()> {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if let Some(saver) = self.saver.take() {
            let _ = saver.await;
        }
        persist::save_now(&self.app, true).await.map(|_| ())
    }

    /// Writes the state file now (a no-op without one); [`Error::State`] when it fails.
    pub async fn save_state(&self) -> Result<()> {
        persist::save_now(&self.app, true).await.map(|_| ())
    }

    /// The state file, when the emulator has one ([`EmulatorBuilder::state_file`]).
    pub fn state_file(&self) -> Option<&Path> {
        self.app.persist.as_ref().map(persist::Persist::path)
    }

    /// A copy of the request log, oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.app.log.snapshot()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        self.app.log.clear()
    }

    /// Injects a fault; returns its handle.
    pub fn inject_fault(&self, fault: Fault) -> Result<FaultId> {
        self.app.faults.add(fault)
    }

    /// Removes one fault; `false` if it was already gone.
    pub fn remove_fault(&self, id: FaultId) -> bool {
        self.app.faults.remove(id)
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.app.faults.clear()
    }

    /// Changes the rate limit and starts every window afresh.
    pub fn set_rate_limit(&self, credits: u64, window: Duration) {
        self.app.rate.set(credits, window)
    }

    /// Starts every token's rate-limit window afresh.
    pub fn reset_rate_limits(&self) {
        self.app.rate.reset()
    }

    /// How many calls the token endpoint (`POST /v1/oauth/token`) received.
    pub fn token_endpoint_calls(&self) -> usize {
        self.app.auth.token_calls.load(Ordering::SeqCst)
    }

    /// How many of those were `grant_type=refresh_token`.
    pub fn refresh_calls(&self) -> usize {
        self.app.auth.refresh_calls.load(Ordering::SeqCst)
    }

    /// How many grants of `user_id` are alive: unspent, unexpired refresh tokens of theirs
    /// (each authorization starts a grant; a refresh replaces its token by a successor; a
    /// revocation ends it). Read-only: nothing is spent.
    pub fn live_refresh_tokens(&self, user_id: &str) -> usize {
        self.app.auth.live_refresh_tokens(user_id)
    }

    /// Whether `token` is a refresh token the token endpoint would take now (issued, not
    /// spent, revoked or expired). Read-only: the token is not spent.
    pub fn refresh_token_is_live(&self, token: &str) -> bool {
        self.app.auth.refresh_token_is_live(token)
    }

    /// Signs in as `user_id` on an authorization URL, as a browser on the sign-in page would,
    /// and returns the redirect it would follow (the code and the state), without any HTTP.
    ///
    /// `authorization_url` is what the app sends users to (`.../oauth/authorize?response_type=
    /// code&client_id=..&redirect_uri=..&state=..`); its host is not checked, so one built for
    /// `https://miro.com` works too. `user_id` is [`user_id`](Self::user_id) or a user added
    /// with [`EmulatorBuilder::oauth_user`]. The code is then exchanged as with Miro, at
    /// `POST /v1/oauth/token` with the same `redirect_uri`; tokens belong to that user.
    ///
    /// ```no_run
    /// # async fn demo() -> miro_emulator::Result<()> {
    /// let emu = miro_emulator::Emulator::builder()
    ///     .oauth_user("3458764500000000888", "Second User")
    ///     .start()
    ///     .await?;
    /// let url = format!(
    ///     "{}/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&state=xyz",
    ///     emu.base_url(),
    ///     emu.client_id(),
    ///     "http://localhost:3000/callback",
    /// );
    /// let redirect = emu.authorize(&url, "3458764500000000888")?;
    /// assert_eq!(redirect.state.as_deref(), Some("xyz"));
    /// let code = &redirect.code; // exchange it at POST /v1/oauth/token
    /// assert!(redirect.url.ends_with(&format!("?code={code}&state=xyz")));
    /// # Ok(()) }
    /// ```
    ///
    /// Errors ([`Error::Authorization`]): the URL's path is not `/oauth/authorize`, its
    /// `response_type` is not `code`, its `client_id` is not this emulator's, it has no
    /// `redirect_uri`, or the user is unknown.
    pub fn authorize(&self, authorization_url: &str, user_id: &str) -> Result<Redirect> {
        let refused = |m: String| Error::Authorization(m);
        let without_fragment = authorization_url.split('#').next().unwrap_or_default();
        let (path, query) = without_fragment
            .split_once('?')
            .unwrap_or((without_fragment, ""));
        if !path.ends_with("/oauth/authorize") {
            return Err(refused(format!(
                "{path:?} is not an authorization URL (its path must be /oauth/authorize)"
            )));
        }
        let q = oauth::query_map(query);
        oauth::check_authorization(&self.app, &q).map_err(|e| refused(e.message))?;
        if !oauth::is_user(&self.app, user_id) {
            return Err(refused(format!(
                "unknown user {user_id:?}: use the emulator's user_id() or add one with oauth_user()"
            )));
        }
        oauth::grant_code(&self.app, &q, user_id.to_string()).map_err(|e| refused(e.message))
    }

    /// Issues a fresh OAuth token pair, as a completed authorization would.
    pub fn issue_tokens(&self) -> IssuedTokens {
        self.app.auth.issue(&self.app)
    }

    /// Makes an access token expire now (the API answers 401 for it); `false`
    /// when the token is unknown.
    pub fn expire_access_token(&self, token: &str) -> bool {
        self.app.auth.expire(token)
    }

    /// Adds a static, never-expiring access token.
    pub fn add_token(&self, token: &str) {
        self.app.auth.add_static(token, &self.app.cfg.user_id)
    }

    /// Revokes an access token (and its refresh token).
    pub fn revoke_token(&self, token: &str) -> bool {
        self.app.auth.revoke(token)
    }

    /// The file uploaded for an image or document item, if any.
    pub fn uploaded_file(&self, board_id: &str, item_id: &str) -> Option<UploadedFile> {
        routes::items::file_of(&self.app, board_id, item_id)
    }

    /// How many boards exist.
    pub fn board_count(&self) -> usize {
        self.app.store.read().boards.len()
    }

    /// How many items a board has (`None` for an unknown board).
    pub fn item_count(&self, board_id: &str) -> Option<usize> {
        self.app
            .store
            .read()
            .boards
            .get(board_id)
            .map(|b| b.items.len())
    }
}

impl Drop for RunningEmulator {
    /// Stops the server; with a state file and unsaved changes (no
    /// [`shutdown`](RunningEmulator::shutdown) was awaited), writes it (blocking).
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        let unsaved = self.task.is_some() && self.app.persist.as_ref().is_some_and(|p| p.dirty());
        if unsaved {
            if let Err(e) = persist::save_blocking(&self.app, false) {
                tracing::error!(error = %e, "the emulator's last state save failed");
            }
        }
    }
}
