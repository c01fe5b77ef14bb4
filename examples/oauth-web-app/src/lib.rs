//! An OAuth web app on axum: "Connect to Miro", the redirect handler with its `state` checked,
//! a session cookie per browser, the tokens in a [`SqliteStore`](miro_api_extended::storage::SqliteStore)
//! (any `TokenStore` works), a page listing the user's boards with a form creating a board with
//! a sticky note, and sign-out revoking the tokens.
//!
//! - Sessions live in memory, keyed by an unguessable id in an `HttpOnly`, `SameSite=Lax`
//!   cookie (`Secure` when served over HTTPS); the id is replaced at sign-in.
//! - The OAuth `state` is kept in the session and used once; the callback refuses a missing or
//!   different one before the code is sent anywhere.
//! - Forms carry a per-session CSRF token.
//! - Access tokens are refreshed by [`Miro::as_user`] when they are about to expire; a user
//!   whose refresh Miro refuses is signed out.

#![warn(missing_docs)]

use axum::extract::{Form, OriginalUri, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use miro_api::types::{BoardChanges, StickyNoteCreateRequest, StickyNoteData};
use miro_api_extended::prelude::*;
use miro_api_extended::{AuthState, Miro};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// The name of the session cookie.
pub const COOKIE: &str = "miro_demo_session";
/// How many boards the boards page lists.
pub const BOARDS_SHOWN: usize = 50;

#[derive(Default)]
struct Session {
    /// The `state` of the sign-in in progress.
    pending: Option<AuthState>,
    /// The signed-in Miro user.
    user_id: Option<String>,
    /// The token the session's forms carry.
    csrf: String,
    /// A message for the next page.
    flash: Option<String>,
}

/// The app: the OAuth client and the sessions.
pub struct WebApp {
    miro: Miro,
    sessions: Mutex<HashMap<String, Session>>,
    secure_cookies: bool,
}

type Shared = Arc<WebApp>;

impl WebApp {
    /// An app over `miro` (its store keeps the tokens). `secure_cookies` adds `Secure` to the
    /// session cookie: set it when the app is served over HTTPS.
    pub fn new(miro: Miro, secure_cookies: bool) -> Arc<Self> {
        Arc::new(WebApp {
            miro,
            sessions: Mutex::new(HashMap::new()),
            secure_cookies,
        })
    }

    /// The OAuth client.
    pub fn miro(&self) -> &Miro {
        &self.miro
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cookie(&self, sid: &str) -> String {
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        format!("{COOKIE}={sid}; Path=/; HttpOnly; SameSite=Lax{secure}")
    }

    /// The session id of the request, when it names a live session.
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
        self.sessions().contains_key(&sid).then_some(sid)
    }

    fn new_session(&self, session: Session) -> Result<String, AppError> {
        let sid = random()?;
        self.sessions().insert(sid.clone(), session);
        Ok(sid)
    }

    fn user(&self, headers: &HeaderMap) -> Option<(String, String)> {
        let sid = self.sid(headers)?;
        let user = self.sessions().get(&sid)?.user_id.clone()?;
        Some((sid, user))
    }
}

fn random() -> Result<String, AppError> {
    AuthState::generate()
        .map(|s| s.as_str().to_owned())
        .map_err(|e| AppError::Internal(format!("no randomness: {e}")))
}

/// The routes: `/`, `/connect`, `/callback`, `/boards` (GET and POST), `/signout`.
pub fn router(app: Arc<WebApp>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/connect", get(connect))
        .route("/callback", get(callback))
        .route("/boards", get(boards).post(create_board))
        .route("/signout", post(sign_out))
        .with_state(app)
}

/// What a handler can fail with, as a page.
#[derive(Debug)]
enum AppError {
    BadRequest(String),
    Miro(String),
    Internal(String),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            AppError::Miro(m) => (StatusCode::BAD_GATEWAY, m),
            AppError::Internal(m) => (StatusCode::INTERNAL_SERVER_ERROR, m),
        };
        let body = format!(
            "<h1>Something went wrong</h1><p id=\"error\">{}</p><p><a href=\"/\">Home</a></p>",
            escape(&message)
        );
        (status, page("Error", &body)).into_response()
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

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title></head><body>{body}</body></html>",
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
        "<p id=\"notice\">You are signed out; the app's tokens were revoked.</p>"
    } else {
        ""
    };
    page(
        "Miro boards",
        &format!("<h1>Miro boards</h1>{note}<p><a id=\"connect\" href=\"/connect\">Connect to Miro</a></p>"),
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
        None => app.new_session(Session {
            csrf: random()?,
            ..Session::default()
        })?,
    };
    if let Some(s) = app.sessions().get_mut(&sid) {
        s.pending = Some(state);
    }
    Ok(([(header::SET_COOKIE, app.cookie(&sid))], Redirect::to(&url)).into_response())
}

async fn callback(
    State(app): State<Shared>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, AppError> {
    let sid = app.sid(&headers).ok_or_else(|| {
        AppError::BadRequest("no sign-in in progress in this browser (cookies off?)".into())
    })?;
    let pending = app
        .sessions()
        .get_mut(&sid)
        .and_then(|s| s.pending.take())
        .ok_or_else(|| AppError::BadRequest("no sign-in in progress in this browser".into()))?;
    let query = uri.query().unwrap_or("");
    let auth = app
        .miro
        .exchange_code_checked(&format!("/callback?{query}"), &pending)
        .await
        .map_err(|e| AppError::BadRequest(format!("sign-in failed: {e}")))?;
    // A new session id at sign-in, so that an id planted before cannot ride the sign-in.
    let old = app.sessions().remove(&sid).unwrap_or_default();
    let sid = app.new_session(Session {
        user_id: Some(auth.user_id),
        csrf: random()?,
        pending: None,
        flash: old.flash,
    })?;
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
    let Some((sid, user)) = app.user(&headers) else {
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
        items.push_str(&format!(
            "<li class=\"board\" data-id=\"{}\">{}</li>",
            escape(&b.id),
            escape(&b.name)
        ));
    }
    let flash = flash
        .map(|f| format!("<p id=\"notice\">{}</p>", escape(&f)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Your Miro boards</h1><p id=\"user\">Signed in as {user}</p>{flash}\
         <ul id=\"boards\">{items}</ul>\
         <h2>New board</h2>\
         <form id=\"create\" method=\"post\" action=\"/boards\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label>Board name <input id=\"board-name\" name=\"name\" maxlength=\"60\" required></label>\
         <label>Sticky note <input id=\"note\" name=\"note\"></label>\
         <button id=\"create-button\" type=\"submit\">Create</button></form>\
         <form method=\"post\" action=\"/signout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button id=\"signout\" type=\"submit\">Sign out</button></form>",
        user = escape(&user),
        csrf = escape(&csrf),
    );
    Ok(page("Your Miro boards", &body).into_response())
}

#[derive(Deserialize)]
struct CreateForm {
    csrf: String,
    name: String,
    #[serde(default)]
    note: String,
}

fn check_csrf(app: &WebApp, sid: &str, sent: &str) -> Result<(), AppError> {
    let ok = app
        .sessions()
        .get(sid)
        .is_some_and(|s| AuthState::from_saved(s.csrf.clone()).verify(sent));
    if ok {
        Ok(())
    } else {
        Err(AppError::BadRequest(
            "the form has expired; reload the page".into(),
        ))
    }
}

async fn create_board(
    State(app): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<CreateForm>,
) -> Result<Response, AppError> {
    let Some((sid, user)) = app.user(&headers) else {
        return Ok(Redirect::to("/").into_response());
    };
    check_csrf(&app, &sid, &form.csrf)?;
    let name = form.name.trim();
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
    let note = form.note.trim();
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

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn sign_out(
    State(app): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AppError> {
    let Some((sid, user)) = app.user(&headers) else {
        return Ok(Redirect::to("/").into_response());
    };
    check_csrf(&app, &sid, &form.csrf)?;
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
