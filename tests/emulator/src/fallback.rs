//! The hook for requests no route answers.
//!
//! Unknown routes answer 404 with Miro's error body. A fallback installed with
//! [`EmulatorBuilder::fallback`](crate::EmulatorBuilder::fallback) is asked
//! first; it is where answers for the rest of the spec (e.g. generated from
//! the OpenAPI document's examples) plug in. Authentication, rate limiting,
//! faults and logging apply to fallback answers too.

use axum::extract::State;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::app::Shared;
use crate::error::ApiError;

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

/// A fallback: `None` lets the emulator answer 404.
pub type FallbackFn = dyn Fn(&FallbackRequest) -> Option<FallbackResponse> + Send + Sync;

/// Answers requests no route matched.
pub(crate) async fn handle(
    State(app): State<Shared>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
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
    ApiError::not_found(format!(
        "No operation {} {} in the emulator",
        req.method, req.path
    ))
    .into_response()
}
