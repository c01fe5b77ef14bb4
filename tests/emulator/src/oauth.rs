//! OAuth 2.0: authorization codes, expiring access tokens, single-use rotating
//! refresh tokens, revocation and token info; plus the bearer-token check every
//! API request goes through.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use serde_json::{json, Value};

use crate::app::{App, Caller, Shared};
use crate::error::{ApiError, ApiResult};

/// How long an authorization code stays usable.
const CODE_LIFETIME: Duration = Duration::from_secs(600);

#[derive(Debug, Clone)]
struct AccessRecord {
    token: Arc<str>,
    user_id: Arc<str>,
    expires_at: Option<Instant>,
    refresh: Option<String>,
}

#[derive(Debug, Clone)]
struct RefreshRecord {
    access: String,
    user_id: Arc<str>,
    expires_at: Instant,
}

#[derive(Debug, Clone)]
struct CodeRecord {
    redirect_uri: String,
    user_id: String,
    expires_at: Instant,
}

/// Tokens issued by the emulator (newly issued by OAuth, or fixed at start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedTokens {
    /// The access token for `Authorization: Bearer`.
    pub access_token: String,
    /// The refresh token, when access tokens expire.
    pub refresh_token: Option<String>,
    /// Seconds until the access token expires, when it does.
    pub expires_in: Option<u64>,
}

/// The token registry.
#[derive(Debug, Default)]
pub(crate) struct Auth {
    access: RwLock<HashMap<String, AccessRecord>>,
    refresh: Mutex<HashMap<String, RefreshRecord>>,
    codes: Mutex<HashMap<String, CodeRecord>>,
    pub token_calls: AtomicUsize,
    pub refresh_calls: AtomicUsize,
}

impl Auth {
    /// Registers a token that never expires.
    pub(crate) fn add_static(&self, token: &str, user_id: &str) {
        self.access.write().insert(
            token.to_string(),
            AccessRecord {
                token: Arc::from(token),
                user_id: Arc::from(user_id),
                expires_at: None,
                refresh: None,
            },
        );
    }

    /// Checks an `Authorization` header.
    pub(crate) fn authenticate(&self, headers: &HeaderMap) -> ApiResult<Caller> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized(
                "tokenNotProvided",
                "No access token was provided in the Authorization header",
            ));
        };
        let value = value.to_str().unwrap_or("");
        let token = match value.split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
            _ => {
                return Err(ApiError::unauthorized(
                    "tokenNotProvided",
                    "The Authorization header must be \"Bearer <access token>\"",
                ))
            }
        };
        if token.is_empty() {
            return Err(ApiError::unauthorized(
                "tokenNotProvided",
                "No access token was provided in the Authorization header",
            ));
        }
        let access = self.access.read();
        match access.get(token) {
            Some(rec) if rec.expires_at.is_none_or(|t| Instant::now() < t) => Ok(Caller {
                token: rec.token.clone(),
                user_id: rec.user_id.clone(),
            }),
            Some(_) => Err(ApiError::unauthorized(
                "tokenExpired",
                "The access token has expired",
            )),
            None => Err(ApiError::unauthorized(
                "invalidToken",
                "The access token is invalid or was revoked",
            )),
        }
    }

    /// Issues a new access token (and refresh token when they expire).
    pub(crate) fn issue(&self, app: &App) -> IssuedTokens {
        self.issue_for(app, &app.cfg.user_id)
    }

    /// Issues a new access token (and refresh token when they expire) to `user_id`.
    pub(crate) fn issue_for(&self, app: &App, user_id: &str) -> IssuedTokens {
        let access = app.ids.token("eyJtaXJvLmVtdWxhdG9yIn0_");
        let lifetime = app.cfg.access_lifetime;
        let refresh = lifetime.map(|_| app.ids.token("emulator-refresh-"));
        let now = Instant::now();
        self.access.write().insert(
            access.clone(),
            AccessRecord {
                token: Arc::from(access.as_str()),
                user_id: Arc::from(user_id),
                expires_at: lifetime.map(|l| now + l),
                refresh: refresh.clone(),
            },
        );
        if let Some(r) = &refresh {
            self.refresh.lock().insert(
                r.clone(),
                RefreshRecord {
                    access: access.clone(),
                    user_id: Arc::from(user_id),
                    expires_at: now + app.cfg.refresh_lifetime,
                },
            );
        }
        IssuedTokens {
            access_token: access,
            refresh_token: refresh,
            expires_in: lifetime.map(|l| l.as_secs()),
        }
    }

    /// Makes an access token expire now. `false` when unknown.
    pub(crate) fn expire(&self, token: &str) -> bool {
        match self.access.write().get_mut(token) {
            Some(rec) => {
                rec.expires_at = Some(Instant::now());
                true
            }
            None => false,
        }
    }

    /// Revokes an access token and its refresh token.
    pub(crate) fn revoke(&self, token: &str) -> bool {
        let rec = self.access.write().remove(token);
        match rec {
            Some(rec) => {
                if let Some(r) = rec.refresh {
                    self.refresh.lock().remove(&r);
                }
                true
            }
            None => false,
        }
    }

    /// How many unspent, unexpired refresh tokens `user_id` has (one per live grant).
    pub(crate) fn live_refresh_tokens(&self, user_id: &str) -> usize {
        let now = Instant::now();
        self.refresh
            .lock()
            .values()
            .filter(|r| &*r.user_id == user_id && now < r.expires_at)
            .count()
    }

    /// Whether `token` is an unspent, unexpired refresh token (without spending it).
    pub(crate) fn refresh_token_is_live(&self, token: &str) -> bool {
        self.refresh
            .lock()
            .get(token)
            .is_some_and(|r| Instant::now() < r.expires_at)
    }

    /// Uses a refresh token once: revokes it and its access token. The token's user.
    fn redeem_refresh(&self, refresh_token: &str) -> Result<Arc<str>, ApiError> {
        let rec = self.refresh.lock().remove(refresh_token);
        match rec {
            Some(rec) if Instant::now() < rec.expires_at => {
                self.access.write().remove(&rec.access);
                Ok(rec.user_id)
            }
            Some(_) => Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "The refresh token has expired",
            )),
            None => Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "The refresh token is invalid or was already used",
            )),
        }
    }
}

/// A Miro error body that also carries OAuth's `error` field.
fn oauth_error(status: StatusCode, error: &'static str, message: &str) -> ApiError {
    let code = match error {
        "invalid_client" => "invalidClient",
        "invalid_grant" => "invalidGrant",
        "unsupported_grant_type" => "unsupportedGrantType",
        _ => "invalidParameters",
    };
    ApiError::new(status, code, message).with_context(json!({ "error": error }))
}

/// Query and form parameters of a token-endpoint call, body last (wins).
fn params(query: Option<&str>, headers: &HeaderMap, body: &Bytes) -> HashMap<String, String> {
    let mut map: HashMap<String, String> = HashMap::new();
    if let Some(q) = query {
        if let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(q) {
            map.extend(pairs);
        }
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct.contains("json") {
        if let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(body) {
            for (k, v) in obj {
                if let Some(s) = v.as_str() {
                    map.insert(k, s.to_string());
                }
            }
        }
    } else if !body.is_empty() {
        if let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body) {
            map.extend(pairs);
        }
    }
    map
}

fn check_client(
    app: &App,
    client_id: Option<&String>,
    client_secret: Option<&String>,
) -> ApiResult<()> {
    match (client_id, client_secret) {
        (Some(id), Some(secret))
            if *id == app.cfg.client_id && *secret == app.cfg.client_secret =>
        {
            Ok(())
        }
        (None, _) | (_, None) => Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id and client_secret are required",
        )),
        _ => Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Unknown client_id or wrong client_secret",
        )),
    }
}

/// `GET /oauth/authorize`: approves at once and redirects with a code.
pub(crate) async fn authorize(State(app): State<Shared>, RawQuery(query): RawQuery) -> ApiResult {
    let q = query_map(query.as_deref().unwrap_or(""));
    check_authorization(&app, &q)?;
    let user_id = match sign_in_page(&app, &q, query.as_deref().unwrap_or("")) {
        Ok(user) => user,
        Err(page) => return Ok(page),
    };
    let location = grant_code(&app, &q, user_id)?.url;
    Ok((StatusCode::FOUND, [(header::LOCATION, location)]).into_response())
}

/// The pairs of a query string (later ones win).
pub(crate) fn query_map(query: &str) -> HashMap<String, String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .map(|v| v.into_iter().collect())
        .unwrap_or_default()
}

/// Checks an authorization request: `response_type=code`, this emulator's client id and a
/// redirect URI.
pub(crate) fn check_authorization(app: &App, q: &HashMap<String, String>) -> ApiResult<()> {
    if q.get("response_type").map(String::as_str) != Some("code") {
        return Err(ApiError::bad_request("response_type must be \"code\""));
    }
    if q.get("client_id") != Some(&app.cfg.client_id) {
        return Err(ApiError::bad_request("Unknown client_id"));
    }
    if q.get("redirect_uri").is_none_or(|r| r.is_empty()) {
        return Err(ApiError::bad_request("redirect_uri is required"));
    }
    Ok(())
}

/// Whether `user_id` can sign in: the default user or one added with
/// [`crate::EmulatorBuilder::oauth_user`].
pub(crate) fn is_user(app: &App, user_id: &str) -> bool {
    user_id == app.cfg.user_id || app.cfg.oauth_users.iter().any(|(id, _)| id == user_id)
}

/// Issues a code for `user_id` on a checked request; the redirect carrying it.
pub(crate) fn grant_code(
    app: &App,
    q: &HashMap<String, String>,
    user_id: String,
) -> ApiResult<crate::Redirect> {
    let Some(redirect_uri) = q.get("redirect_uri").filter(|r| !r.is_empty()) else {
        return Err(ApiError::bad_request("redirect_uri is required"));
    };
    let code = app.ids.token("emulator-code-");
    app.auth.codes.lock().insert(
        code.clone(),
        CodeRecord {
            redirect_uri: redirect_uri.clone(),
            user_id,
            expires_at: Instant::now() + CODE_LIFETIME,
        },
    );
    let state = q.get("state").cloned();
    let mut pairs = vec![("code", code.as_str())];
    if let Some(state) = &state {
        pairs.push(("state", state.as_str()));
    }
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    let url = format!(
        "{redirect_uri}{sep}{}",
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    );
    Ok(crate::Redirect { url, code, state })
}

/// With users configured ([`crate::EmulatorBuilder::oauth_user`]): the user chosen by
/// `user=`, or (none chosen) `Err` with the page offering each user. Without: the default user.
#[allow(clippy::result_large_err)]
fn sign_in_page(app: &App, q: &HashMap<String, String>, query: &str) -> Result<String, Response> {
    if app.cfg.oauth_users.is_empty() {
        return Ok(app.cfg.user_id.clone());
    }
    let mut users = vec![(app.cfg.user_id.clone(), app.cfg.user_name.clone())];
    users.extend(app.cfg.oauth_users.iter().cloned());
    if let Some(chosen) = q.get("user") {
        if users.iter().any(|(id, _)| id == chosen) {
            return Ok(chosen.clone());
        }
    }
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut html = String::from(
        "<!doctype html><html><head><title>Miro emulator: sign in</title></head><body><h1>Sign in to the Miro emulator</h1><ul>",
    );
    for (id, name) in &users {
        let href = format!(
            "/oauth/authorize?{query}&{}",
            serde_urlencoded::to_string([("user", id.as_str())]).unwrap_or_default()
        );
        html.push_str(&format!(
            "<li><a id=\"sign-in-{}\" href=\"{}\">Sign in as {}</a></li>",
            escape(id),
            escape(&href),
            escape(name)
        ));
    }
    html.push_str("</ul></body></html>");
    Err((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response())
}

/// The token response; `team_id` as a bare number when configured so.
fn token_response(app: &App, t: &IssuedTokens, user_id: &str) -> Response {
    let mut obj = json!({
        "access_token": t.access_token,
        "token_type": "bearer",
        "scope": app.cfg.scopes,
        "user_id": user_id,
        "team_id": app.cfg.team_id,
    });
    if let Some(r) = &t.refresh_token {
        obj["refresh_token"] = Value::from(r.as_str());
    }
    if let Some(e) = t.expires_in {
        obj["expires_in"] = Value::from(e);
    }
    let mut text = serde_json::to_string(&obj).unwrap_or_default();
    if app.cfg.team_id_as_number && app.cfg.team_id.bytes().all(|b| b.is_ascii_digit()) {
        text = text.replace(
            &format!("\"team_id\":\"{}\"", app.cfg.team_id),
            &format!("\"team_id\":{}", app.cfg.team_id),
        );
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response()
}

/// `POST /v1/oauth/token`: exchanges a code or a refresh token.
pub(crate) async fn token(
    State(app): State<Shared>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    app.auth.token_calls.fetch_add(1, Ordering::SeqCst);
    let p = params(query.as_deref(), &headers, &body);
    check_client(&app, p.get("client_id"), p.get("client_secret"))?;
    match p.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = p.get("code").ok_or_else(|| {
                oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "code is required",
                )
            })?;
            let rec = app.auth.codes.lock().remove(code);
            let Some(rec) = rec.filter(|r| Instant::now() < r.expires_at) else {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The authorization code is invalid, expired or was already used",
                ));
            };
            if p.get("redirect_uri") != Some(&rec.redirect_uri) {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "redirect_uri does not match the authorization request",
                ));
            }
            let issued = app.auth.issue_for(&app, &rec.user_id);
            Ok(token_response(&app, &issued, &rec.user_id))
        }
        Some("refresh_token") => {
            app.auth.refresh_calls.fetch_add(1, Ordering::SeqCst);
            let refresh = p.get("refresh_token").ok_or_else(|| {
                oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "refresh_token is required",
                )
            })?;
            let user_id = app.auth.redeem_refresh(refresh)?;
            let issued = app.auth.issue_for(&app, &user_id);
            Ok(token_response(&app, &issued, &user_id))
        }
        _ => Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        )),
    }
}

/// `POST /v2/oauth/revoke` with `{accessToken, clientId, clientSecret}`.
pub(crate) async fn revoke_v2(State(app): State<Shared>, body: Bytes) -> ApiResult {
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))?;
    let get = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    check_client(&app, get("clientId").as_ref(), get("clientSecret").as_ref())?;
    let token =
        get("accessToken").ok_or_else(|| ApiError::bad_request("accessToken is required"))?;
    app.auth.revoke(&token);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /v1/oauth/revoke?access_token=` (deprecated by Miro).
pub(crate) async fn revoke_v1(State(app): State<Shared>, RawQuery(query): RawQuery) -> ApiResult {
    let token = query
        .as_deref()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .and_then(|v| v.into_iter().find(|(k, _)| k == "access_token"))
        .map(|(_, v)| v)
        .ok_or_else(|| ApiError::bad_request("access_token is required"))?;
    app.auth.revoke(&token);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v1/oauth-token`: what the calling token is.
pub(crate) async fn token_info(
    State(app): State<Shared>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let user = json!({"type": "user", "id": &*caller.user_id, "name": app.cfg.user_name_of(&caller.user_id)});
    let org_id = app.store.read().org.id.clone();
    let body = json!({
        "type": "token",
        "organization": {"type": "organization", "id": org_id, "name": "Emulator Organization"},
        "scopes": app.cfg.scopes.split(' ').collect::<Vec<_>>(),
        "team": {"type": "team", "id": app.cfg.team_id, "name": app.cfg.team_name},
        "createdBy": user,
        "user": user,
    });
    axum::Json(body).into_response()
}
