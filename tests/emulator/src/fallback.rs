//! The answers for requests no stateful route handles.
//!
//! A fallback installed with
//! [`EmulatorBuilder::fallback`](crate::EmulatorBuilder::fallback) is asked
//! first. Then every other operation of the pinned spec answers with its
//! documented success status and a body valid against its schema, generated
//! from the spec by miro-api-gen (the spec's example where it has one; lists
//! are last pages). A known path with a method the spec does not have for it is
//! a 405 with an `Allow` header; anything else is a 404. Authentication, rate
//! limiting, faults and logging apply to all of these.

use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::app::Shared;
use crate::error::ApiError;
use crate::spec;

/// A request that matched none of the emulator's routes.
#[derive(Debug, Clone)]
pub struct FallbackRequest {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The path, still percent-encoded.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The request body.
    pub body: Bytes,
}

/// The answer of a fallback.
#[derive(Debug, Clone)]
pub struct FallbackResponse {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body (`Value::Null` sends no body).
    pub body: serde_json::Value,
}

/// A fallback: `None` lets the emulator answer (from the spec, else 405 or 404).
pub type FallbackFn = dyn Fn(&FallbackRequest) -> Option<FallbackResponse> + Send + Sync;

/// Answers requests no route matched.
pub(crate) async fn handle(
    State(app): State<Shared>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    answer(&app, method, uri, body, false)
}

/// Answers requests whose path a stateful route has, with another method.
pub(crate) async fn method_not_allowed(
    State(app): State<Shared>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    answer(&app, method, uri, body, true)
}

fn answer(app: &Shared, method: Method, uri: Uri, body: Bytes, known_path: bool) -> Response {
    let req = FallbackRequest {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        body,
    };
    if let Some(f) = &app.fallback {
        if let Some(answer) = f(&req) {
            let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
            if answer.body.is_null() {
                return status.into_response();
            }
            let bytes = serde_json::to_vec(&answer.body).unwrap_or_default();
            return (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response();
        }
    }
    let index = spec::index();
    if let Some(op) = index.find(&req.method, &req.path, req.query.as_deref()) {
        tracing::debug!(operation = op.id, "miro-emulator: the spec's answer");
        let status = StatusCode::from_u16(op.status).unwrap_or(StatusCode::OK);
        return match &op.body {
            Some(b) => (
                status,
                [(header::CONTENT_TYPE, "application/json")],
                b.clone(),
            )
                .into_response(),
            None => status.into_response(),
        };
    }
    let allowed = index.methods_for(&req.path);
    if known_path || !allowed.is_empty() {
        let mut e = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "methodNotAllowed",
            format!("Method {} is not allowed for {}", req.method, req.path),
        );
        if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
            if !allowed.is_empty() {
                e.extra_headers.push((header::ALLOW, v));
            }
        }
        return e.into_response();
    }
    ApiError::not_found(format!(
        "No operation {} {} in the emulator",
        req.method, req.path
    ))
    .into_response()
}
