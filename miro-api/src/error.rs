//! The one error type of the client.

use std::fmt;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde::Deserialize;

use crate::auth::BoxError;
use crate::retry::{self, ServerWait};

/// Everything that can go wrong in a call.
///
/// Most callers branch on what they can act on: [`is_not_found`](Error::is_not_found),
/// [`is_rate_limited`](Error::is_rate_limited) (HTTP 429 Too Many Requests, however it
/// reached you), [`status`](Error::status) and [`retry_after`](Error::retry_after); the
/// variants hold the rest.
///
/// ## Rate limits and 429
///
/// A 429 is retried by the client itself (after its `Retry-After`, see
/// [`RetryPolicy`](crate::RetryPolicy)), so it reaches you in one of three shapes:
///
/// - [`Error::Api`] with status 429, when retries are off or used up;
/// - [`Error::Timeout`] whose `last_error` is that 429, when the wait it asked for passes the
///   call's time limit ([`TimeoutCause::RateLimitWait`]) or
///   [`MAX_SERVER_WAIT`](crate::MAX_SERVER_WAIT) ([`TimeoutCause::ServerWaitTooLong`]);
/// - [`Error::Timeout`] with [`TimeoutCause::RateLimitWait`] and no `last_error`, when pacing
///   saw the budget spent and did not send at all.
///
/// [`is_rate_limited`](Error::is_rate_limited) is true for all three, and
/// [`status`](Error::status) looks through `last_error`.
///
/// ```no_run
/// use std::time::Duration;
///
/// use miro_api::{Error, MiroApi, StatusCode};
///
/// async fn board_name(api: &MiroApi, board_id: &str) -> Result<Option<String>, Error> {
///     loop {
///         match api.get_specific_board(board_id).await {
///             Ok(board) => return Ok(Some(board.into_inner().name)),
///             Err(e) if e.is_not_found() => return Ok(None),
///             Err(e) if e.is_rate_limited() => {
///                 let wait = e.retry_after().unwrap_or(Duration::from_secs(60));
///                 tokio::time::sleep(wait).await;
///             }
///             Err(Error::Api(e)) if e.status == StatusCode::FORBIDDEN => {
///                 eprintln!("no access: {}", e.message().unwrap_or_default());
///                 return Ok(None);
///             }
///             Err(e) => return Err(e),
///         }
///     }
/// }
/// ```
#[doc(alias = "429")]
#[doc(alias = "rate limit")]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Miro answered with a non-2xx status.
    #[error(transparent)]
    Api(Box<ApiError>),
    /// A 2xx response whose body does not decode as the documented type. The raw body is kept.
    #[error("{operation}: the {status} response does not decode: {source}")]
    Decode {
        /// The operation's method name.
        operation: &'static str,
        /// The HTTP status.
        status: StatusCode,
        /// The response headers.
        headers: Box<HeaderMap>,
        /// The body as received (lossy UTF-8).
        body: String,
        /// The decoding error; for a field of the wrong type it names the field's path in the
        /// body, e.g. ``(at `data[3].id`)``.
        source: serde_json::Error,
    },
    /// The request could not be sent or its response not read (connection refused or dropped,
    /// timeout, TLS...).
    #[error("{operation}: {source} (after {attempts} attempt(s))")]
    Transport {
        /// The operation's method name.
        operation: &'static str,
        /// How many attempts were made.
        attempts: u32,
        /// The underlying error (it names the URL, which never holds a secret).
        source: reqwest::Error,
    },
    /// The call ran out of time: see [`TimeoutCause`] for which limit ended it.
    #[error("{operation}: {cause} after {elapsed:?} ({attempts} attempt(s))")]
    Timeout {
        /// The operation's method name.
        operation: &'static str,
        /// Which limit ended the call.
        cause: TimeoutCause,
        /// Time from the start of the call until it gave up.
        elapsed: Duration,
        /// How many attempts were made (0 when it never got to send).
        attempts: u32,
        /// The failure of the last attempt, when there was one (e.g. the 429 whose reset was
        /// too far away).
        last_error: Option<Box<Error>>,
    },
    /// The request could not be built: a body that does not serialize, an invalid header value.
    #[error("{operation}: invalid request: {message}")]
    InvalidRequest {
        /// The operation's method name.
        operation: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The client's settings are missing or invalid, e.g. `MIRO_ACCESS_TOKEN` unset for
    /// [`MiroApi::from_env`](crate::MiroApi::from_env).
    #[error("client configuration: {0}")]
    Config(String),
    /// The token provider failed to give an access token.
    #[error("could not get an access token: {0}")]
    Token(#[source] BoxError),
}

impl Error {
    /// The HTTP status of the answer that failed the call: of an API or decode error, or of
    /// the last attempt of a [`Timeout`](Error::Timeout) (its `last_error`, e.g. the 429 whose
    /// wait was too long). `None` when no answer came.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api(e) => Some(e.status),
            Error::Decode { status, .. } => Some(*status),
            Error::Transport { source, .. } => source.status(),
            Error::Timeout {
                last_error: Some(last),
                ..
            } => last.status(),
            _ => None,
        }
    }

    /// Whether Miro's rate limit stopped the call: a 429 (as [`Error::Api`], or as the last
    /// attempt of a [`Timeout`](Error::Timeout)), or a timeout while waiting for the rate-limit
    /// budget ([`TimeoutCause::RateLimitWait`], also when no 429 was received because pacing
    /// saw the budget run out). [`retry_after`](Self::retry_after) says how long Miro asked to
    /// wait, when it did.
    #[doc(alias = "429")]
    #[doc(alias = "too many requests")]
    pub fn is_rate_limited(&self) -> bool {
        matches!(
            self,
            Error::Timeout {
                cause: TimeoutCause::RateLimitWait,
                ..
            }
        ) || self.status() == Some(StatusCode::TOO_MANY_REQUESTS)
    }

    /// Whether Miro answered 404: the board, item or other object does not exist (or is not
    /// visible to this token).
    #[doc(alias = "404")]
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }

    /// How long Miro asked to wait before trying again, read as the retries read it: for a
    /// 429, its `Retry-After` (seconds or an HTTP date) or else its `X-RateLimit-Reset`; for
    /// another status, only a `Retry-After` (a 503's, say). Looks through a timeout's
    /// `last_error`. `None` when there was no answer, it named no wait, or the wait is zero or
    /// past.
    pub fn retry_after(&self) -> Option<Duration> {
        let headers = self.headers()?;
        if self.status() != Some(StatusCode::TOO_MANY_REQUESTS)
            && !headers.contains_key(reqwest::header::RETRY_AFTER)
        {
            return None;
        }
        match retry::server_wait(headers) {
            ServerWait::Within(wait) | ServerWait::TooLong(wait) => Some(wait),
            ServerWait::Unknown => None,
        }
    }

    /// Miro's error body, for API errors whose body decoded.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// How many attempts the call made, for errors that come from sending.
    pub fn attempts(&self) -> Option<u32> {
        match self {
            Error::Api(e) => Some(e.attempts),
            Error::Transport { attempts, .. } | Error::Timeout { attempts, .. } => Some(*attempts),
            _ => None,
        }
    }

    /// Whether the call ran out of time.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// The response headers, when there was a response (for a [`Timeout`](Error::Timeout),
    /// those of its `last_error`).
    pub fn headers(&self) -> Option<&HeaderMap> {
        match self {
            Error::Api(e) => Some(&e.headers),
            Error::Decode { headers, .. } => Some(headers),
            Error::Timeout {
                last_error: Some(last),
                ..
            } => last.headers(),
            _ => None,
        }
    }
}

/// Which time limit ended a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutCause {
    /// The last attempt got no complete response within the attempt timeout.
    Attempt,
    /// The call's total time ran out during an attempt or a backoff.
    Call,
    /// The rate-limit budget was spent and its reset (from pacing, or a 429's `Retry-After` /
    /// `X-RateLimit-Reset`) lies beyond the call's time limit.
    RateLimitWait,
    /// A 429 asked to wait (`Retry-After` or `X-RateLimit-Reset`) longer than
    /// [`MAX_SERVER_WAIT`](crate::MAX_SERVER_WAIT), whatever the call's time limit.
    ServerWaitTooLong,
    /// The call's time limit ran out while it waited for a free slot of
    /// [`max_concurrent_requests`](crate::MiroApiBuilder::max_concurrent_requests) or for a token
    /// from the [`TokenProvider`](crate::TokenProvider).
    Queue,
}

impl fmt::Display for TimeoutCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutCause::Attempt => "the attempt timed out",
            TimeoutCause::Call => "the call's time limit ran out",
            TimeoutCause::RateLimitWait => {
                "the rate-limit budget resets only after the call's time limit"
            }
            TimeoutCause::ServerWaitTooLong => {
                "the server asked to wait longer than the longest wait honoured"
            }
            TimeoutCause::Queue => {
                "the call's time limit ran out waiting for a request slot or an access token"
            }
        })
    }
}

/// A non-2xx response from Miro.
#[derive(Debug)]
#[non_exhaustive]
pub struct ApiError {
    /// The operation's method name.
    pub operation: &'static str,
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers (rate-limit headers included).
    pub headers: HeaderMap,
    /// Miro's error body, when the body is one.
    pub body: Option<ErrorBody>,
    /// The body as received (lossy UTF-8): an HTML error page, say.
    pub raw: String,
    /// How many attempts the call made; this is the last one's answer.
    pub attempts: u32,
}

impl ApiError {
    pub(crate) fn new(
        operation: &'static str,
        status: StatusCode,
        headers: HeaderMap,
        bytes: &[u8],
    ) -> Self {
        let body = serde_json::from_slice::<ErrorBody>(bytes)
            .ok()
            .filter(|b| b.code.is_some() || b.message.is_some());
        ApiError {
            operation,
            status,
            headers,
            body,
            raw: String::from_utf8_lossy(bytes).into_owned(),
            attempts: 1,
        }
    }

    /// Miro's error code (`notFound`, `tooManyRequests`, ...), when the body carried one.
    pub fn code(&self) -> Option<&str> {
        self.body.as_ref()?.code.as_deref()
    }

    /// Miro's error message, when the body carried one.
    pub fn message(&self) -> Option<&str> {
        self.body.as_ref()?.message.as_deref()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: Miro answered {}", self.operation, self.status)?;
        match &self.body {
            Some(b) => {
                if let Some(code) = &b.code {
                    write!(f, " {code}")?;
                }
                if let Some(message) = &b.message {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            None if self.raw.trim().is_empty() => Ok(()),
            None => {
                let text: String = self.raw.chars().take(200).collect();
                write!(f, ": {}", text.trim())
            }
        }?;
        if self.attempts > 1 {
            write!(f, " (after {} attempts)", self.attempts)?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// Miro's error body: `{status, code, message, type, context}`. Every field is optional so that
/// a partial body still decodes.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct ErrorBody {
    /// The HTTP status Miro put in the body.
    #[serde(default)]
    pub status: Option<u16>,
    /// Error code, e.g. `invalidParameters`.
    #[serde(default, deserialize_with = "string_or_number")]
    pub code: Option<String>,
    /// Human-readable message.
    #[serde(default)]
    pub message: Option<String>,
    /// Usually `"error"`.
    #[serde(default, rename = "type")]
    pub type_: Option<String>,
    /// Extra details, e.g. `{"fields": [{"field": "0.data.content", "message": "..."}]}`.
    #[serde(default)]
    pub context: Option<serde_json::Value>,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    })
}

/// A string that is not one of an enum's known values, from `FromStr` on a generated enum.
///
/// To send a value this version of the client does not know, use the enum's
/// `UnknownValue(..)` variant explicitly.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a known {type_name} value")]
pub struct UnknownEnumValue {
    /// The enum's name.
    pub type_name: &'static str,
    /// The string that was parsed.
    pub value: String,
}

impl UnknownEnumValue {
    #[doc(hidden)]
    pub fn new(type_name: &'static str, value: &str) -> Self {
        UnknownEnumValue {
            type_name,
            value: value.to_string(),
        }
    }
}
