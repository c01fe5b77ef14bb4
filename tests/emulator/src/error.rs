//! Errors: the public [`Error`] of the emulator's API, and Miro's JSON error
//! bodies (`{"status","code","message","context","type":"error"}`) for HTTP.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// Errors from starting or driving an emulator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listening socket could not be bound.
    #[error("cannot bind the emulator's socket: {0}")]
    Bind(#[source] std::io::Error),
    /// A fault's route pattern is not `METHOD /path`.
    #[error("invalid route pattern {0:?}: expected \"METHOD /path/{{param}}\"")]
    InvalidRoute(String),
    /// A fault's probability is outside `0.0..=1.0`.
    #[error("invalid fault probability {0}: expected a number in 0.0..=1.0")]
    InvalidProbability(f64),
    /// [`RunningEmulator::authorize`](crate::RunningEmulator::authorize) refused the
    /// authorization URL or the user, as the sign-in page would.
    #[error("authorization refused: {0}")]
    Authorization(String),
    /// The state file (see [`EmulatorBuilder::state_file`](crate::EmulatorBuilder::state_file))
    /// could not be read, decoded or written.
    #[error("state file {}: {source}", path.display())]
    State {
        /// The state file's path.
        path: std::path::PathBuf,
        /// What went wrong.
        #[source]
        source: StateError,
    },
}

/// What went wrong with a state file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The file exists but cannot be read (permissions, a directory, ...).
    #[error("cannot read it: {0}")]
    Read(#[source] std::io::Error),
    /// The file is not a state file of this emulator, or is damaged (truncated, edited).
    #[error("not a valid emulator state file: {0}")]
    Corrupt(String),
    /// The file was written by a newer emulator, in a format version this one cannot read.
    #[error("format version {found} is newer than this emulator's ({supported})")]
    Version {
        /// The file's format version.
        found: u64,
        /// The newest version this emulator reads.
        supported: u64,
    },
    /// The file (or its temporary file beside it) cannot be written.
    #[error("cannot write it: {0}")]
    Write(#[source] std::io::Error),
}

/// A `Result` with the emulator's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One invalid field, as Miro reports it in `context.fields[]`.
#[derive(Debug, Clone)]
pub(crate) struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A request field Miro does not know, refused as live Miro refuses it.
    pub(crate) fn unsupported(field: impl Into<String>) -> Self {
        let field = field.into();
        let name = field.rsplit('.').next().unwrap_or(&field).to_string();
        FieldError::new(field, format!("Field [{name}] is not supported"))
    }

    fn is_unsupported(&self) -> bool {
        self.message.starts_with("Field [") && self.message.ends_with("] is not supported")
    }
}

/// An HTTP error answered with Miro's JSON error body.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub context: Option<Value>,
    pub extra_headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            context: None,
            extra_headers: Vec::new(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalidParameters", message)
    }

    /// A 400 listing the invalid fields in `context.fields`.
    /// With an unsupported field among them, the body is live Miro's: code `2.0703` and the
    /// message "Invalid parameters".
    pub(crate) fn fields(fields: Vec<FieldError>) -> Self {
        let live = fields.iter().any(FieldError::is_unsupported);
        let message = match fields.first() {
            _ if live => "Invalid parameters".to_string(),
            Some(f) => format!("Invalid parameters: {}: {}", f.field, f.message),
            None => "Invalid parameters".to_string(),
        };
        let list: Vec<Value> = fields
            .iter()
            .map(|f| json!({"field": f.field, "message": f.message}))
            .collect();
        let mut e = Self::bad_request(message);
        if live {
            e.code = "2.0703";
        }
        e.context = Some(json!({ "fields": list }));
        e
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "notFound", message)
    }

    pub(crate) fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub(crate) fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payloadTooLarge", message)
    }

    pub(crate) fn with_context(mut self, context: Value) -> Self {
        self.context = Some(context);
        self
    }

    pub(crate) fn body(&self) -> Value {
        json!({
            "status": self.status.as_u16(),
            "code": self.code,
            "message": self.message,
            "context": self.context,
            "type": "error",
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.body()).unwrap_or_default();
        let mut resp = (self.status, body).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        for (k, v) in self.extra_headers {
            headers.insert(k, v);
        }
        resp
    }
}

/// The result type of route handlers.
pub(crate) type ApiResult<T = Response> = std::result::Result<T, ApiError>;
