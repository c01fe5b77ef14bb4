//! The gateway every request passes: request log, faults, authentication and
//! rate limiting around the route handlers.

use axum::body::{to_bytes, Body};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::app::Shared;
use crate::error::ApiError;
use crate::faults::{self, FaultKind};
use crate::log::{self, LoggedPart, LoggedRequest};
use crate::multipart;
use crate::rate_limit::{credits_of, Quota};
use crate::spec::{self, SpecOp};

/// Largest multipart body read (uploads are limited per file further on).
pub const MAX_MULTIPART_BODY: usize = 64 * 1024 * 1024;

/// Largest body of any other request read.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// Marks a response the server must not send: the connection is closed instead.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropConnection;

/// Set by handlers that charged extra credits (bulk create): the quota after it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Recharged(pub Quota);

static LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
static REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
static RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// Paths that need no bearer token.
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/oauth/authorize" | "/v1/oauth/token" | "/v1/oauth/revoke" | "/v2/oauth/revoke"
    )
}

fn quota_headers(q: &Quota) -> [(HeaderName, HeaderValue); 3] {
    [
        (LIMIT.clone(), HeaderValue::from(q.limit)),
        (REMAINING.clone(), HeaderValue::from(q.remaining)),
        (RESET.clone(), HeaderValue::from(q.reset_unix)),
    ]
}

/// The 429 answer with Miro's body, rate-limit headers and `Retry-After`.
pub(crate) fn too_many_requests(q: &Quota) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "tooManyRequests",
        "Request rate limit exceed",
    );
    let retry = q.reset_in.as_secs() + u64::from(q.reset_in.subsec_nanos() > 0);
    e.extra_headers.extend(quota_headers(q));
    e.extra_headers
        .push((header::RETRY_AFTER, HeaderValue::from(retry.max(1))));
    e
}

/// Builds the log entry of a request.
async fn log_entry(
    parts: &axum::http::request::Parts,
    route: Option<&str>,
    body: &Bytes,
) -> LoggedRequest {
    let ct = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let mut logged_parts = Vec::new();
    let logged_body = if multipart::is_multipart(ct) {
        if let Ok(ps) = multipart::parse(ct.unwrap_or(""), body.clone()).await {
            logged_parts = ps
                .into_iter()
                .map(|p| LoggedPart {
                    text: std::str::from_utf8(&log::truncated(&p.data))
                        .ok()
                        .filter(|_| p.file_name.is_none())
                        .map(str::to_string),
                    name: p.name,
                    file_name: p.file_name,
                    content_type: p.content_type,
                    size: p.data.len(),
                })
                .collect();
        }
        body.clone()
    } else {
        log::redact_body(ct, body, log::is_oauth_path(parts.uri.path()))
    };
    LoggedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts
            .uri
            .query()
            .map(|q| log::redact_urlencoded(q, log::is_oauth_path(parts.uri.path()))),
        route: route.map(str::to_string),
        headers: log::redact_headers(&parts.headers),
        body_size: body.len(),
        body: log::truncated(&logged_body),
        parts: logged_parts,
        status: None,
    }
}

/// The middleware.
pub(crate) async fn gateway(State(app): State<Shared>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let op = spec::index().find(req.method().as_str(), req.uri().path(), req.uri().query());
    // The router's pattern for stateful routes, else the spec's template.
    let pattern = route
        .as_ref()
        .map(MatchedPath::as_str)
        .or(op.map(|o| o.path));
    let (parts, body) = req.into_parts();
    // Refused before the body is read: a body over the limit, or a request without a valid token.
    let ct = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let limit = if multipart::is_multipart(ct) {
        MAX_MULTIPART_BODY
    } else {
        MAX_BODY
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let refusal = if declared.is_some_and(|n| n > limit as u64) {
        Some(too_large(limit))
    } else if !is_public(parts.uri.path()) {
        app.auth.authenticate(&parts.headers).err()
    } else {
        None
    };
    let body = match refusal {
        Some(e) => Err(e),
        None => to_bytes(body, limit).await.map_err(|_| too_large(limit)),
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            let resp = e.into_response();
            if app.log.enabled() {
                let mut entry = log_entry(&parts, pattern, &Bytes::new()).await;
                entry.status = Some(resp.status().as_u16());
                app.log.push(entry);
            }
            return resp;
        }
    };
    if let Err(e) = check_text_fields(ct, &body) {
        let resp = e.into_response();
        if app.log.enabled() {
            let mut entry = log_entry(&parts, pattern, &body).await;
            entry.status = Some(resp.status().as_u16());
            app.log.push(entry);
        }
        return resp;
    }
    let query = parts.uri.query();
    let request_cursor = query.and_then(|q| {
        q.split('&')
            .find_map(|p| p.strip_prefix("cursor="))
            .filter(|c| !c.is_empty())
            .map(str::to_string)
    });
    let fired = app
        .faults
        .fire(parts.method.as_str(), pattern, request_cursor.is_some());
    let entry = if app.log.enabled() {
        Some(log_entry(&parts, pattern, &body).await)
    } else {
        None
    };
    let resp = handle(
        &app,
        parts,
        body,
        op,
        &fired,
        request_cursor.as_deref(),
        next,
    )
    .await;
    if let Some(mut entry) = entry {
        if resp.extensions().get::<DropConnection>().is_none() {
            entry.status = Some(resp.status().as_u16());
        }
        app.log.push(entry);
    }
    resp
}

async fn handle(
    app: &Shared,
    mut parts: axum::http::request::Parts,
    body: Bytes,
    op: Option<&SpecOp>,
    fired: &[FaultKind],
    request_cursor: Option<&str>,
    next: Next,
) -> Response {
    for f in fired {
        match f {
            FaultKind::ServerError(status) => {
                let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY);
                return (
                    status,
                    [(header::CONTENT_TYPE, "text/html")],
                    faults::html_error(status.as_u16()),
                )
                    .into_response();
            }
            FaultKind::DropConnection => {
                tracing::debug!("miro-emulator: fault drops the connection");
                let mut r = StatusCode::INTERNAL_SERVER_ERROR.into_response();
                r.extensions_mut().insert(DropConnection);
                return r;
            }
            FaultKind::Delay(d) => tokio::time::sleep(*d).await,
            _ => {}
        }
    }
    let path = parts.uri.path();
    let mut quota = None;
    if !is_public(path) {
        let caller = match app.auth.authenticate(&parts.headers) {
            Ok(c) => c,
            Err(e) => return e.into_response(),
        };
        match app
            .rate
            .charge(&caller.token, credits_of(parts.method.as_str(), op))
        {
            Ok(q) => quota = Some(q),
            Err(q) => return too_many_requests(&q).into_response(),
        }
        parts.extensions.insert(caller);
    }
    let mut resp = next.run(Request::from_parts(parts, Body::from(body))).await;
    if resp.status().as_u16() >= 400 && !is_json(&resp) {
        resp = as_miro_error(resp).await;
    }
    if let Some(Recharged(q)) = resp.extensions().get::<Recharged>().copied() {
        quota = Some(q);
    }
    if let Some(q) = quota {
        let headers = resp.headers_mut();
        for (k, v) in quota_headers(&q) {
            headers.insert(k, v);
        }
    }
    if fired.iter().any(FaultKind::is_response_transform) {
        resp = transform(resp, fired, request_cursor).await;
    }
    resp
}

/// The 413 for a body over `limit` bytes.
fn too_large(limit: usize) -> ApiError {
    ApiError::too_large(format!(
        "The request body is too large: the limit is {limit} bytes"
    ))
}

/// The longest text the emulator accepts in a `content`, `title` or `description` field of a
/// JSON body, in characters.
pub const MAX_TEXT_CHARS: usize = 100_000;

/// Refuses a JSON body with a `content`, `title` or `description` longer than
/// [`MAX_TEXT_CHARS`].
fn check_text_fields(content_type: Option<&str>, body: &Bytes) -> Result<(), ApiError> {
    if !content_type.is_some_and(|c| c.contains("json")) || body.len() <= MAX_TEXT_CHARS {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Ok(());
    };
    let mut errors = Vec::new();
    long_text_fields(&value, String::new(), &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::fields(errors))
    }
}

fn long_text_fields(
    value: &serde_json::Value,
    at: String,
    out: &mut Vec<crate::error::FieldError>,
) {
    let join = |key: &str| {
        if at.is_empty() {
            key.to_string()
        } else {
            format!("{at}.{key}")
        }
    };
    match value {
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                match child {
                    serde_json::Value::String(s)
                        if matches!(key.as_str(), "content" | "title" | "description")
                            && s.chars().count() > MAX_TEXT_CHARS =>
                    {
                        out.push(crate::error::FieldError::new(
                            join(key),
                            format!("must be at most {MAX_TEXT_CHARS} characters"),
                        ));
                    }
                    _ => long_text_fields(child, join(key), out),
                }
            }
        }
        serde_json::Value::Array(list) => {
            for (i, child) in list.iter().enumerate() {
                long_text_fields(child, join(&i.to_string()), out);
            }
        }
        _ => {}
    }
}

fn is_json(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
}

/// Rewrites a plain-text error (e.g. an extractor's rejection) as Miro's JSON error body.
async fn as_miro_error(resp: Response) -> Response {
    let status = resp.status();
    let text = match to_bytes(resp.into_body(), 64 * 1024).await {
        Ok(b) if !b.is_empty() => String::from_utf8_lossy(&b).into_owned(),
        _ => status.canonical_reason().unwrap_or("Error").to_string(),
    };
    let code = match status.as_u16() {
        400 => "invalidParameters",
        401 => "tokenNotProvided",
        403 => "forbiddenAccess",
        404 => "notFound",
        405 => "methodNotAllowed",
        409 => "conflict",
        413 => "payloadTooLarge",
        415 => "unsupportedMediaType",
        429 => "tooManyRequests",
        _ => "internalError",
    };
    ApiError::new(status, code, text).into_response()
}

/// Applies the response-changing faults to a JSON response.
async fn transform(resp: Response, fired: &[FaultKind], request_cursor: Option<&str>) -> Response {
    let (mut parts, body) = resp.into_parts();
    let Ok(mut bytes) = to_bytes(body, MAX_MULTIPART_BODY).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    tracing::debug!(?fired, "miro-emulator: fault changes the response");
    if is_json && !bytes.is_empty() {
        if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            let mut changed = false;
            for f in fired {
                changed = true;
                match f {
                    FaultKind::ExtraFields => faults::add_unknown_fields(&mut v),
                    FaultKind::UnknownEnumValue => faults::unknown_enum_values(&mut v),
                    FaultKind::UnknownItemType => faults::unknown_item_type(&mut v),
                    FaultKind::RepeatedCursor => {
                        if let Some(c) = request_cursor {
                            faults::repeat_cursor(&mut v, c);
                        }
                    }
                    _ => changed = false,
                }
            }
            if changed {
                bytes = Bytes::from(serde_json::to_vec(&v).unwrap_or_default());
            }
        }
        for f in fired {
            match f {
                FaultKind::TruncatedBody => bytes = faults::truncate(&bytes),
                FaultKind::MalformedJson => bytes = faults::malform(&bytes),
                _ => {}
            }
        }
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}
