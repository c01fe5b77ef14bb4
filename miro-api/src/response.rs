//! Successful responses: the decoded body with its status and headers.

use std::ops::Deref;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

/// The future of a request's response: what `.await` on a request (or its `send()`) gives.
pub type ResponseFuture<'a, T> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Response<T>, crate::Error>> + Send + 'a>,
>;

/// A successful response: the decoded body, its status, its headers and the attempts it took.
///
/// It derefs to the body, so fields read directly (`board.name`); to move a field out, take the
/// body first: `let id = api.create_board(&body).await?.into_inner().id;`.
#[derive(Clone, Debug)]
pub struct Response<T> {
    status: StatusCode,
    headers: HeaderMap,
    body: T,
    attempts: u32,
}

impl<T> Response<T> {
    pub(crate) fn new(status: StatusCode, headers: HeaderMap, body: T, attempts: u32) -> Self {
        Response {
            status,
            headers,
            body,
            attempts,
        }
    }

    /// How many HTTP attempts the call made (1 unless it was retried), like
    /// [`Error::attempts`](crate::Error::attempts) for a failure.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The rate-limit headers, when Miro sent them.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        RateLimit::from_headers(&self.headers)
    }

    /// The decoded body.
    pub fn body(&self) -> &T {
        &self.body
    }

    /// Takes the decoded body, to move fields out of it:
    /// `let id = api.get_specific_board(board).await?.into_inner().id;`.
    pub fn into_inner(self) -> T {
        self.body
    }
}

impl<T> Deref for Response<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.body
    }
}

/// Miro's `X-RateLimit-*` headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Credits per window (`X-RateLimit-Limit`).
    pub limit: u64,
    /// Credits left in this window (`X-RateLimit-Remaining`).
    pub remaining: u64,
    /// When the window resets, in UNIX seconds (`X-RateLimit-Reset`).
    pub reset: Option<u64>,
}

impl RateLimit {
    /// Reads the headers; `None` unless both limit and remaining are present and numeric.
    pub fn from_headers(headers: &HeaderMap) -> Option<RateLimit> {
        let num = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
        Some(RateLimit {
            limit: num("x-ratelimit-limit")?,
            remaining: num("x-ratelimit-remaining")?,
            reset: num("x-ratelimit-reset"),
        })
    }
}
