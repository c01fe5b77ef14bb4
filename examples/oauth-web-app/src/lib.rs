//! An OAuth web app on axum: "Connect to Miro", the redirect handler with its `state` checked,
//! a session cookie per browser, the tokens in a [`SqliteStore`](miro_api_extended::storage::SqliteStore)
//! (any `TokenStore` works), a page listing the user's boards (each a link to it on Miro) with
//! a form creating a board with a sticky note, and sign-out revoking the tokens.
//!
//! - Sessions live in memory, keyed by an unguessable id in an `HttpOnly`, `SameSite=Lax`
//!   cookie (`Secure` when served over HTTPS); the id is replaced at sign-in. A session ends
//!   after [`Settings::idle_timeout`] without a request, and there are at most
//!   [`Settings::max_sessions`]: when full, the least recently used session with nobody signed
//!   in gives way (a flood of cookieless `/connect` requests cannot grow memory or push out
//!   signed-in users).
//! - Each sign-in started in a session keeps its own OAuth `state` (up to
//!   [`PENDING_PER_SESSION`], so two tabs can sign in at once); the callback takes the one the
//!   redirect carries and refuses any other before the code is sent anywhere, without
//!   cancelling the sign-ins in progress.
//! - Forms carry a per-session CSRF token; a form without it gets a 403 page.
//! - Every page is sent with `Cache-Control: no-store` (Back after sign-out does not show the
//!   signed-in page), a Content-Security-Policy allowing only the app's own stylesheet,
//!   `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer` and `X-Content-Type-Options:
//!   nosniff`.
//! - Served on a loopback address, the app sends a browser that opened it under another
//!   loopback name (`localhost` for `127.0.0.1`) to the host of its redirect URL, so that the
//!   session cookie is there when Miro sends the browser back.
//! - Access tokens are refreshed by [`Miro::as_user`] when they are about to expire; a user
//!   whose refresh Miro refuses is signed out.

#![warn(missing_docs)]

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, OriginalUri, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use miro_api::types::{BoardChanges, StickyNoteCreateRequest, StickyNoteData};
use miro_api_extended::prelude::*;
use miro_api_extended::{AuthState, Miro};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The name of the session cookie.
pub const COOKIE: &str = "miro_demo_session";
/// How many boards the boards page lists.
pub const BOARDS_SHOWN: usize = 50;
/// How many sign-ins one session may have in progress at once (one per tab); the oldest gives
/// way.
pub const PENDING_PER_SESSION: usize = 8;
/// The app's stylesheet, served at `/style.css`.
pub const STYLESHEET: &str = include_str!("style.css");
/// The Content-Security-Policy of every answer: the app's own stylesheet, nothing else.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// How sessions and cookies behave.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Add `Secure` to the session cookie: set it when the app is served over HTTPS.
    pub secure_cookies: bool,
    /// A session without a request for this long ends.
    pub idle_timeout: Duration,
    /// The most sessions kept at once.
    pub max_sessions: usize,
}

impl Default for Settings {
    /// Plain-HTTP cookies, 30 minutes idle, 10,000 sessions.
    fn default() -> Self {
        Settings {
            secure_cookies: false,
            idle_timeout: Duration::from_secs(30 * 60),
            max_sessions: 10_000,
        }
    }
}

struct Session {
    /// The `state` of each sign-in in progress, oldest first.
    pending: Vec<AuthState>,
    /// The signed-in Miro user: id and name.
    user: Option<(String, String)>,
    /// The token the session's forms carry.
    csrf: String,
    /// A message for the next page.
    flash: Option<String>,
    /// The last request of the session.
    seen: Instant,
}

/// The app: the OAuth client and the sessions.
pub struct WebApp {
    miro: Miro,
    sessions: Mutex<HashMap<String, Session>>,
    settings: Settings,
    /// `host:port` of the redirect URL, when it is a loopback address.
    loopback_host: Option<String>,
}

type Shared = Arc<WebApp>;

fn is_loopback(host: &str) -> bool {
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    matches!(name, "localhost" | "127.0.0.1" | "[::1]")
}

impl WebApp {
    /// An app over `miro` (its store keeps the tokens), with the default [`Settings`];
    /// `secure_cookies` adds `Secure` to the session cookie: set it when the app is served
    /// over HTTPS.
    pub fn new(miro: Miro, secure_cookies: bool) -> Arc<Self> {
        WebApp::with_settings(
            miro,
            Settings {
                secure_cookies,
                ..Settings::default()
            },
        )
    }

    /// An app over `miro` with these settings.
    pub fn with_settings(miro: Miro, settings: Settings) -> Arc<Self> {
        let loopback_host = miro
            .redirect_url()
            .split_once("://")
            .and_then(|(_, rest)| rest.split('/').next())
            .filter(|host| is_loopback(host))
            .map(str::to_owned);
        Arc::new(WebApp {
            miro,
            sessions: Mutex::new(HashMap::new()),
            settings,
            loopback_host,
        })
    }

    /// The OAuth client.
    pub fn miro(&self) -> &Miro {
        &self.miro
    }

    /// How many sessions are kept (expired ones are dropped first).
    pub fn session_count(&self) -> usize {
        let mut sessions = self.sessions();
        self.drop_expired(&mut sessions);
        sessions.len()
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn drop_expired(&self, sessions: &mut HashMap<String, Session>) {
        let idle = self.settings.idle_timeout;
        sessions.retain(|_, s| s.seen.elapsed() < idle);
    }

    fn cookie(&self, sid: &str) -> String {
        let secure = if self.settings.secure_cookies {
            "; Secure"
        } else {
            ""
        };
        format!("{COOKIE}={sid}; Path=/; HttpOnly; SameSite=Lax{secure}")
    }

    /// The session id of the request, when it names a live session (whose idle time starts
    /// again).
    fn sid(&self, headers: &HeaderMap) -> Option<String> {
        let sid = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|c| {
                c.trim()
                    .strip_prefix(&format!("{COOKIE}="))
                    .map(str::to_owned)
            })?;
        let mut sessions = self.sessions();
        let live = match sessions.get_mut(&sid) {
            Some(s) if s.seen.elapsed() < self.settings.idle_timeout => {
                s.seen = Instant::now();
                true
            }
            Some(_) => {
                sessions.remove(&sid);
                false
            }
            None => false,
        };
        live.then_some(sid)
    }

    /// Adds a session, making room if the app is at its maximum: expired sessions go first,
    /// then the least recently used one with nobody signed in.
    fn new_session(&self, user: Option<(String, String)>) -> Result<String, AppError> {
        let sid = random()?;
        let session = Session {
            pending: Vec::new(),
            user,
            csrf: random()?,
            flash: None,
            seen: Instant::now(),
        };
        let mut sessions = self.sessions();
        if sessions.len() >= self.settings.max_sessions {
            self.drop_expired(&mut sessions);
        }
        if sessions.len() >= self.settings.max_sessions {
            let oldest_anonymous = sessions
                .iter()
                .filter(|(_, s)| s.user.is_none())
                .min_by_key(|(_, s)| s.seen)
                .map(|(id, _)| id.clone());
            match oldest_anonymous {
                Some(id) => {
                    sessions.remove(&id);
                }
                None => {
                    return Err(AppError::Busy(
                        "too many people are signed in right now; try again later".into(),
                    ))
                }
            }
        }
        sessions.insert(sid.clone(), session);
        Ok(sid)
    }

    /// The session id and the signed-in user's id and name.
    fn user(&self, headers: &HeaderMap) -> Option<(String, String, String)> {
        let sid = self.sid(headers)?;
        let (id, name) = self.sessions().get(&sid)?.user.clone()?;
        Some((sid, id, name))
    }
}

fn random() -> Result<String, AppError> {
    AuthState::generate()
        .map(|s| s.as_str().to_owned())
        .map_err(|e| AppError::Internal(format!("no randomness: {e}")))
}

/// The routes: `/`, `/style.css`, `/connect`, `/callback`, `/boards` (GET and POST),
/// `/signout`; every answer with the security headers.
pub fn router(app: Arc<WebApp>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/style.css", get(stylesheet))
        .route("/connect", get(connect))
        .route("/callback", get(callback))
        .route("/boards", get(boards).post(create_board))
        .route("/signout", post(sign_out))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            canonical_host,
        ))
        .layer(middleware::map_response(security_headers))
        .with_state(app)
}

/// Sends a browser that opened the app under another loopback name to the redirect URL's
/// host (GET and HEAD only), so that its session cookie is where the callback lands.
async fn canonical_host(State(app): State<Shared>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    if let (Some(canonical), Some(host)) = (app.loopback_host.as_deref(), host) {
        let safe = request.method() == Method::GET || request.method() == Method::HEAD;
        if safe && host != canonical && is_loopback(host) {
            let path = request
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            return Redirect::temporary(&format!("http://{canonical}{path}")).into_response();
        }
    }
    next.run(request).await
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let static_asset = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"text/css"));
    if !static_asset {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// What a handler can fail with, as a page.
#[derive(Debug)]
enum AppError {
    BadRequest(String),
    Forbidden(String),
    Busy(String),
    Miro(String),
    Internal(String),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            AppError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            AppError::Busy(m) => (StatusCode::SERVICE_UNAVAILABLE, m),
            AppError::Miro(m) => (StatusCode::BAD_GATEWAY, m),
            AppError::Internal(m) => (StatusCode::INTERNAL_SERVER_ERROR, m),
        };
        let body = format!(
            "<section class=\"panel error\"><h1>Something went wrong</h1>\
             <p id=\"error\">{}</p><p><a class=\"button\" href=\"/\">Back to the start</a></p></section>",
            escape(&message)
        );
        (status, page("Error", None, &body)).into_response()
    }
}

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The signed-in user's part of the header: name, CSRF token.
struct Account<'a> {
    name: &'a str,
    csrf: &'a str,
}

fn page(title: &str, account: Option<Account<'_>>, body: &str) -> Html<String> {
    let account = match account {
        Some(a) => format!(
            "<div class=\"account\"><span id=\"user\">Signed in as {}</span>\
             <form method=\"post\" action=\"/signout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button id=\"signout\" class=\"quiet\" type=\"submit\">Sign out</button></form></div>",
            escape(a.name),
            escape(a.csrf)
        ),
        None => String::new(),
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Board Shelf</title><link rel=\"stylesheet\" href=\"/style.css\"></head>\
         <body><header class=\"top\"><a class=\"brand\" href=\"/\"><span class=\"logo\">▦</span> Board Shelf</a>{account}</header>\
         <main>{body}</main>\
         <footer>Board Shelf talks to Miro through miro-rs. Your tokens stay on this server.</footer>\
         </body></html>",
        escape(title)
    ))
}

#[derive(Deserialize)]
struct HomeQuery {
    signed_out: Option<String>,
}

async fn home(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HomeQuery>,
) -> Response {
    if app.user(&headers).is_some() {
        return Redirect::to("/boards").into_response();
    }
    let note = if q.signed_out.is_some() {
        "<p id=\"notice\" class=\"notice\">You are signed out; the app's tokens were revoked.</p>"
    } else {
        ""
    };
    page(
        "Welcome",
        None,
        &format!(
            "{note}<section class=\"hero\"><h1>Your Miro boards, one click away</h1>\
             <p>Sign in with your Miro account to see your boards and start a new one with a \
             sticky note on it.</p>\
             <a id=\"connect\" class=\"button primary\" href=\"/connect\">Connect to Miro</a></section>"
        ),
    )
    .into_response()
}

async fn connect(State(app): State<Shared>, headers: HeaderMap) -> Result<Response, AppError> {
    let (url, state) = app
        .miro
        .auth_url_with_new_state()
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let sid = match app.sid(&headers) {
        Some(sid) => sid,
        None => app.new_session(None)?,
    };
    if let Some(s) = app.sessions().get_mut(&sid) {
        if s.pending.len() >= PENDING_PER_SESSION {
            s.pending.remove(0);
        }
        s.pending.push(state);
    }
    Ok(([(header::SET_COOKIE, app.cookie(&sid))], Redirect::to(&url)).into_response())
}

async fn callback(
    State(app): State<Shared>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let sid = app.sid(&headers).ok_or_else(|| {
        AppError::BadRequest("no sign-in in progress in this browser (cookies off?)".into())
    })?;
    let received = params.get("state").map(String::as_str).unwrap_or("");
    // Only the sign-in this redirect belongs to is taken; another state changes nothing.
    let pending = {
        let mut sessions = app.sessions();
        let session = sessions.get_mut(&sid);
        match session {
            Some(s) if s.pending.is_empty() => None,
            Some(s) => match s.pending.iter().position(|p| p.verify(received)) {
                Some(i) => Some(Ok(s.pending.remove(i))),
                None => Some(Err(())),
            },
            None => None,
        }
    };
    let pending = match pending {
        None => {
            return Err(AppError::BadRequest(
                "no sign-in in progress in this browser".into(),
            ))
        }
        Some(Err(())) => {
            return Err(AppError::BadRequest(
                "sign-in refused: the redirect's state does not match a sign-in started here"
                    .into(),
            ))
        }
        Some(Ok(p)) => p,
    };
    if let Some(error) = params.get("error") {
        return Err(AppError::BadRequest(format!(
            "Miro did not sign you in ({error})"
        )));
    }
    let query = uri.query().unwrap_or("");
    let auth = app
        .miro
        .exchange_code_checked(&format!("/callback?{query}"), &pending)
        .await
        .map_err(|e| AppError::BadRequest(format!("sign-in failed: {e}")))?;
    let name = match app.miro.as_user(&auth.user_id).token_info().await {
        Ok(info) => info.into_inner().user.name,
        Err(e) => {
            tracing::warn!("reading the user's name: {e}");
            format!("Miro user {}", auth.user_id)
        }
    };
    // A new session id at sign-in, so that an id planted before cannot ride the sign-in; the
    // sign-ins still in progress in other tabs move with it.
    let others = app
        .sessions()
        .remove(&sid)
        .map(|s| s.pending)
        .unwrap_or_default();
    let sid = app.new_session(Some((auth.user_id, name)))?;
    if let Some(s) = app.sessions().get_mut(&sid) {
        s.pending = others;
    }
    Ok((
        [(header::SET_COOKIE, app.cookie(&sid))],
        Redirect::to("/boards"),
    )
        .into_response())
}

/// Ends the session of a user whose tokens stopped working.
fn signed_out_by_miro(app: &WebApp, sid: &str) -> Response {
    app.sessions().remove(sid);
    Redirect::to("/").into_response()
}

async fn boards(State(app): State<Shared>, headers: HeaderMap) -> Result<Response, AppError> {
    let Some((sid, user, name)) = app.user(&headers) else {
        return Ok(Redirect::to("/").into_response());
    };
    let api = app.miro.as_user(&user);
    let list: Result<Vec<_>, _> = api.get_all_boards().take(BOARDS_SHOWN).try_collect().await;
    let list = match list {
        Ok(list) => list,
        Err(miro_api_extended::PaginationError::Page {
            source: miro_api::Error::Token(_),
            ..
        }) => {
            return Ok(signed_out_by_miro(&app, &sid));
        }
        Err(e) => return Err(AppError::Miro(format!("listing your boards failed: {e}"))),
    };
    let (csrf, flash) = {
        let mut sessions = app.sessions();
        let s = sessions.get_mut(&sid);
        (
            s.as_ref().map(|s| s.csrf.clone()).unwrap_or_default(),
            s.and_then(|s| s.flash.take()),
        )
    };
    let mut items = String::new();
    for b in &list {
        let link = b
            .view_link
            .as_deref()
            .filter(|l| l.starts_with("https://") || l.starts_with("http://"))
            .unwrap_or("#");
        let when = b
            .modified_at
            .map(|t| format!("changed {}", t.format("%-d %b %Y")))
            .unwrap_or_default();
        items.push_str(&format!(
            "<li class=\"board\" data-id=\"{}\"><a href=\"{}\" target=\"_blank\" rel=\"noopener noreferrer\">{}</a>\
             <span class=\"meta\">{}</span></li>",
            escape(&b.id),
            escape(link),
            escape(&b.name),
            escape(&when),
        ));
    }
    let list_html = if list.is_empty() {
        "<div id=\"empty\" class=\"empty\"><p class=\"big\">No boards yet</p>\
         <p>Create your first board with the form on this page; it opens on Miro with one click.</p></div>"
            .to_owned()
    } else {
        format!("<ul id=\"boards\" class=\"boards\">{items}</ul>")
    };
    let flash = flash
        .map(|f| format!("<p id=\"notice\" class=\"notice\">{}</p>", escape(&f)))
        .unwrap_or_default();
    let body = format!(
        "{flash}<div class=\"columns\"><section><h1>Your boards</h1>{list_html}</section>\
         <section class=\"panel\"><h2>New board</h2>\
         <form id=\"create\" class=\"stack\" method=\"post\" action=\"/boards\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"board-name\">Board name</label>\
         <input id=\"board-name\" name=\"name\" maxlength=\"60\" required placeholder=\"Sprint planning\">\
         <label for=\"note\">First sticky note <span class=\"hint\">optional</span></label>\
         <input id=\"note\" name=\"note\" maxlength=\"300\" placeholder=\"Goals for this sprint\">\
         <button id=\"create-button\" class=\"primary\" type=\"submit\">Create board</button></form></section></div>",
        csrf = escape(&csrf),
    );
    let account = Account {
        name: &name,
        csrf: &csrf,
    };
    Ok(page("Your boards", Some(account), &body).into_response())
}

#[derive(Deserialize)]
struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    note: String,
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// The form, or a 400 page when the body is not a form at all.
fn form<T>(form: Result<Form<T>, FormRejection>) -> Result<T, AppError> {
    form.map(|Form(f)| f).map_err(|e| {
        AppError::BadRequest(format!(
            "the form could not be read ({}); reload the page and try again",
            e.body_text()
        ))
    })
}

fn check_csrf(app: &WebApp, sid: &str, sent: &str) -> Result<(), AppError> {
    let ok = !sent.is_empty()
        && app
            .sessions()
            .get(sid)
            .is_some_and(|s| AuthState::from_saved(s.csrf.clone()).verify(sent));
    if ok {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "the form has expired or did not come from this app; reload the page and try again"
                .into(),
        ))
    }
}

async fn create_board(
    State(app): State<Shared>,
    headers: HeaderMap,
    sent: Result<Form<CreateForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Some((sid, user, _)) = app.user(&headers) else {
        return Ok(Redirect::to("/").into_response());
    };
    let sent = form(sent)?;
    check_csrf(&app, &sid, &sent.csrf)?;
    let name = sent.name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(AppError::BadRequest(
            "a board name has 1 to 60 characters".into(),
        ));
    }
    let api = app.miro.as_user(&user);
    let board = match api
        .create_board(&BoardChanges::default().name(name.to_owned()))
        .await
    {
        Ok(b) => b.into_inner(),
        Err(miro_api::Error::Token(_)) => return Ok(signed_out_by_miro(&app, &sid)),
        Err(e) => return Err(AppError::Miro(format!("creating the board failed: {e}"))),
    };
    let note = sent.note.trim();
    let mut message = format!("Created board {}", board.name);
    if !note.is_empty() {
        let body = StickyNoteCreateRequest::default()
            .data(StickyNoteData::default().content(note.to_owned()))
            .at(0, 0);
        match api.create_sticky_note_item(&board.id, &body).await {
            Ok(_) => message.push_str(" with a sticky note"),
            Err(e) => message.push_str(&format!(", but the sticky note failed: {e}")),
        }
    }
    if let Some(s) = app.sessions().get_mut(&sid) {
        s.flash = Some(message);
    }
    Ok(Redirect::to("/boards").into_response())
}

async fn sign_out(
    State(app): State<Shared>,
    headers: HeaderMap,
    sent: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, AppError> {
    let Some((sid, user, _)) = app.user(&headers) else {
        return Ok(Redirect::to("/").into_response());
    };
    let sent = form(sent)?;
    check_csrf(&app, &sid, &sent.csrf)?;
    app.sessions().remove(&sid);
    if let Err(e) = app.miro.revoke(&user).await {
        // Forget the tokens here anyway; Miro will expire them.
        let _ = app.miro.store().remove(&user).await;
        return Err(AppError::Miro(format!(
            "signed out here, but Miro could not revoke the tokens: {e}"
        )));
    }
    let expired = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    Ok((
        [(header::SET_COOKIE, expired)],
        Redirect::to("/?signed_out=1"),
    )
        .into_response())
}
