//! [`MiroApi`]: construction, auth, and the one place every generated method sends through.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{
    HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, USER_AGENT,
};
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::auth::{AccessToken, TokenProvider};
use crate::error::{ApiError, Error, TimeoutCause};
use crate::operations::Operation;
use crate::pacing::{Admission, Budget, Reservation};
use crate::response::{Response, ResponseFuture};
use crate::retry::{self, Failure, RetryPolicy, ServerWait};

/// Miro's API host.
pub const DEFAULT_BASE_URL: &str = "https://api.miro.com";
/// The environment variable that overrides [`DEFAULT_BASE_URL`] for clients built without
/// [`MiroApiBuilder::base_url`]: point it at the emulator to run a program offline.
pub const ENV_BASE_URL: &str = "MIRO_API_BASE_URL";
/// The environment variable [`MiroApi::from_env`] reads the access token from.
pub const ENV_ACCESS_TOKEN: &str = "MIRO_ACCESS_TOKEN";

const USER_AGENT_VALUE: &str = concat!("miro-api/", env!("CARGO_PKG_VERSION"), " (Rust; miro-rs)");

/// Default time limit of a whole call: attempts, backoff and rate-limit waits.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// Default time limit of one attempt (one HTTP exchange, body included).
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time limit for opening a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The low-level Miro client: one async method per operation of the spec.
///
/// Every call goes through one transport: it waits for the rate-limit budget (pacing), sends
/// with the current access token, retries what is safe to retry (see [`RetryPolicy`]) and keeps
/// to the call's time limits.
///
/// Cheap to clone; clones share the connection pool, the token provider and the rate-limit
/// budget. [`MiroApi::with_timeout`] and its siblings give a handle with other settings for the
/// calls made through it, sharing all of that too.
#[derive(Clone)]
pub struct MiroApi {
    inner: Arc<Inner>,
    options: CallOptions,
}

struct Inner {
    base_url: String,
    /// The non-empty path segments of `base_url`, counted once (not per call).
    base_segments: usize,
    http: reqwest::Client,
    /// Whether `http` was built here without a TLS back end (no `rustls-tls` or `native-tls`
    /// feature): such a client cannot reach an `https` URL, and says so (see [`no_tls`]).
    no_tls: bool,
    token: Arc<dyn TokenProvider>,
    /// `None` when pacing is off.
    budget: Option<Budget>,
    /// The cap on requests in flight, when set.
    in_flight: Option<Semaphore>,
}

/// Settings that may differ per call.
#[derive(Clone, Debug)]
struct CallOptions {
    timeout: Duration,
    attempt_timeout: Duration,
    retry: RetryPolicy,
    strict_decoding: bool,
}

impl Default for CallOptions {
    fn default() -> Self {
        CallOptions {
            timeout: DEFAULT_TIMEOUT,
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            retry: RetryPolicy::default(),
            strict_decoding: false,
        }
    }
}

impl fmt::Debug for MiroApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MiroApi")
            .field("base_url", &self.inner.base_url)
            .field("timeout", &self.options.timeout)
            .field("attempt_timeout", &self.options.attempt_timeout)
            .field("retry", &self.options.retry)
            .field("pacing", &self.inner.budget.is_some())
            .finish_non_exhaustive()
    }
}

/// What one attempt ended with.
enum Attempt {
    Answered(StatusCode, HeaderMap, bytes::Bytes),
    Failed(reqwest::Error),
    TimedOut,
}

impl MiroApi {
    /// A client for `https://api.miro.com` (or [`MIRO_API_BASE_URL`](ENV_BASE_URL) when set)
    /// that sends `access_token` with every request.
    pub fn new(access_token: impl Into<AccessToken>) -> Self {
        MiroApi::builder().access_token(access_token).build()
    }

    /// A client with the access token from `MIRO_ACCESS_TOKEN` and the base URL from
    /// `MIRO_API_BASE_URL` (default [`DEFAULT_BASE_URL`]); [`Error::Config`] names a variable
    /// that is missing, empty or not Unicode.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), miro_api::Error> {
    /// // MIRO_ACCESS_TOKEN=... [MIRO_API_BASE_URL=http://127.0.0.1:8080] cargo run
    /// let api = miro_api::MiroApi::from_env()?;
    /// # Ok(()) }
    /// ```
    pub fn from_env() -> Result<Self, Error> {
        let token = env_setting(ENV_ACCESS_TOKEN)?
            .ok_or_else(|| Error::Config(format!("{ENV_ACCESS_TOKEN} is not set")))?;
        Ok(MiroApi::builder().access_token(token).build())
    }

    /// A client that asks `provider` for the token before each request (e.g. one that refreshes).
    pub fn with_token_provider(provider: impl TokenProvider + 'static) -> Self {
        MiroApi::builder().token_provider(provider).build()
    }

    /// A builder for the base URL, the HTTP client, timeouts, retries, pacing and the token
    /// source.
    pub fn builder() -> MiroApiBuilder {
        MiroApiBuilder::default()
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// A handle whose calls have this total time limit (attempts, backoff and rate-limit waits
    /// included). It shares everything else with `self`.
    ///
    /// ```no_run
    /// # async fn run(api: miro_api::MiroApi) -> Result<(), miro_api::Error> {
    /// use std::time::Duration;
    /// let board = api
    ///     .with_timeout(Duration::from_secs(5))
    ///     .get_specific_board("uXjVOD6LSME=")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn with_timeout(&self, timeout: Duration) -> MiroApi {
        let mut api = self.clone();
        api.options.timeout = timeout;
        api
    }

    /// A handle whose calls give each attempt this long (one HTTP exchange, body included).
    /// `Duration::MAX` here and in [`with_timeout`](Self::with_timeout) means no limit at all:
    /// the call then registers no timer.
    pub fn with_attempt_timeout(&self, timeout: Duration) -> MiroApi {
        let mut api = self.clone();
        api.options.attempt_timeout = timeout;
        api
    }

    /// A handle whose calls follow `policy`, e.g. `RetryPolicy::new().retry_non_idempotent(true)`
    /// for a `POST` that is safe to repeat, or `RetryPolicy::none()`.
    pub fn with_retry_policy(&self, policy: RetryPolicy) -> MiroApi {
        let mut api = self.clone();
        api.options.retry = policy;
        api
    }

    // Used by the generated requests: unused when no API area's feature is on.
    #[allow(dead_code)]
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The future of a generated request: the built request (or the error building it) sent as
    /// `op`, its JSON body decoded. One future type per response type, not per operation.
    // Used by the generated requests: unused when no API area's feature is on.
    #[allow(dead_code)]
    pub(crate) fn respond_json<'a, T: DeserializeOwned + Send + 'a>(
        &'a self,
        request: Result<RequestBuilder, Error>,
        op: &'static Operation,
    ) -> ResponseFuture<'a, T> {
        Box::pin(async move { self.execute_json(request?, op).await })
    }

    /// [`respond_json`](Self::respond_json) for a success without a body.
    // Used by the generated requests: unused when no API area's feature is on.
    #[allow(dead_code)]
    pub(crate) fn respond_empty<'a>(
        &'a self,
        request: Result<RequestBuilder, Error>,
        op: &'static Operation,
    ) -> ResponseFuture<'a, ()> {
        Box::pin(async move { self.execute_empty(request?, op).await })
    }

    /// Sends a request of `op` and decodes a JSON body.
    pub(crate) async fn execute_json<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        op: &Operation,
    ) -> Result<Response<T>, Error> {
        let (status, headers, bytes, attempts, page_size) = self.send(request, op).await?;
        // A 2xx without a body (204, or a 202 "accepted") decodes as JSON null.
        let body: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"null"
        } else {
            &bytes
        };
        // A page's list is allocated once, at the page size the request asked for.
        let decoded = crate::runtime::with_page_size(page_size, || {
            crate::decode::decode::<T>(body, self.options.strict_decoding)
        });
        match decoded {
            Ok((body, warnings)) => {
                Ok(Response::new(status, headers, body, attempts, bytes).with_warnings(warnings))
            }
            Err(failure) => Err(Error::Decode {
                operation: op.method_name,
                status,
                headers: Box::new(headers),
                body: String::from_utf8_lossy(&bytes).into_owned(),
                source: failure.into_error(&bytes),
            }),
        }
    }

    /// Sends a request of `op` whose success has no body.
    pub(crate) async fn execute_empty(
        &self,
        request: RequestBuilder,
        op: &Operation,
    ) -> Result<Response<()>, Error> {
        let (status, headers, bytes, attempts, _) = self.send(request, op).await?;
        Ok(Response::new(status, headers, (), attempts, bytes))
    }

    /// The transport: pacing, attempts, retries and time limits, in one span per call. A success
    /// also says how many attempts it took, and the page size the request asked for.
    async fn send(
        &self,
        request: RequestBuilder,
        op: &Operation,
    ) -> Result<(StatusCode, HeaderMap, bytes::Bytes, u32, Option<u32>), Error> {
        let span = tracing::debug_span!(
            "miro_api",
            operation = op.id,
            method = op.http_method,
            path = op.path,
            status = tracing::field::Empty,
            attempts = tracing::field::Empty,
            budget_wait_ms = tracing::field::Empty,
        );
        async {
            let mut call = Call::new(self, op);
            let result = call.run(request).await;
            let span = tracing::Span::current();
            span.record("attempts", call.attempts);
            span.record("budget_wait_ms", call.budget_wait.as_millis() as u64);
            match &result {
                Ok((status, _, _)) => {
                    span.record("status", status.as_u16());
                }
                Err(e) => {
                    if let Some(status) = e.status() {
                        span.record("status", status.as_u16());
                    }
                    tracing::debug!(error = %e, "call failed");
                }
            }
            result.map(|(status, headers, bytes)| {
                (status, headers, bytes, call.attempts, call.page_size)
            })
        }
        .instrument(span)
        .await
    }

    /// One HTTP exchange: the status, headers and whole body.
    async fn exchange(
        &self,
        request: reqwest::Request,
    ) -> Result<(StatusCode, HeaderMap, bytes::Bytes), reqwest::Error> {
        let mut response = self.inner.http.execute(request).await?;
        let status = response.status();
        // Taken, not cloned: the body is read without them.
        let headers = std::mem::take(response.headers_mut());
        let bytes = response.bytes().await?;
        Ok((status, headers, bytes))
    }

    /// Calls any operation of the [operations table](crate::operations) by its entry, without a
    /// typed method: `path_args` fill the path's placeholders in order (each is percent-encoded),
    /// `query` is sent as given, and the JSON body, when there is one, as `body`. The response
    /// decodes as `T` (use `serde_json::Value` to keep it raw).
    ///
    /// This is what generic layers use (the pagination streams of `miro-api-extended`); the typed
    /// methods are the usual way in.
    pub async fn call_operation<T: DeserializeOwned>(
        &self,
        op: &'static Operation,
        path_args: &[&str],
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<Response<T>, Error> {
        let url = self.url_of(op, path_args)?;
        let method = reqwest::Method::from_bytes(op.http_method.as_bytes()).map_err(|e| {
            Error::InvalidRequest {
                operation: op.method_name,
                message: e.to_string(),
            }
        })?;
        let mut request = self.inner.http.request(method, url).query(query);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.execute_json(request, op).await
    }
}

impl MiroApi {
    /// The URL of a request of `op`: the base URL and `op.path` with its placeholders (`{name}`
    /// or `{}`) filled by `path_args` in order, each percent-encoded to stay one segment.
    pub(crate) fn url_of(&self, op: &Operation, path_args: &[&str]) -> Result<String, Error> {
        let placeholders = op.path.matches('{').count();
        if path_args.len() != placeholders {
            return Err(Error::InvalidRequest {
                operation: op.method_name,
                message: format!(
                    "{} takes {placeholders} path argument(s), {} given",
                    op.path,
                    path_args.len()
                ),
            });
        }
        let mut url = self.inner.base_url.clone();
        crate::runtime::push_path(&mut url, op.path, path_args);
        Ok(url)
    }
}

/// The state of one call across its attempts.
struct Call<'a> {
    api: &'a MiroApi,
    op: &'a Operation,
    started: Instant,
    deadline: Instant,
    attempts: u32,
    max_attempts: u32,
    budget_wait: Duration,
    /// The `limit` a request of a paginated operation sent, at most the operation's largest.
    page_size: Option<u32>,
}

impl<'a> Call<'a> {
    fn new(api: &'a MiroApi, op: &'a Operation) -> Self {
        let started = Instant::now();
        Call {
            api,
            op,
            started,
            deadline: after(started, api.options.timeout),
            attempts: 0,
            max_attempts: api.options.retry.attempts(),
            budget_wait: Duration::ZERO,
            page_size: None,
        }
    }

    async fn run(
        &mut self,
        request: RequestBuilder,
    ) -> Result<(StatusCode, HeaderMap, bytes::Bytes), Error> {
        let op = self.op;
        let request = request.build().map_err(|e| self.invalid(e.to_string()))?;
        if self.api.inner.no_tls && request.url().scheme() == "https" {
            return Err(no_tls(request.url()));
        }
        self.check_path(&request)?;
        self.page_size = page_size(op, &request);
        let cost = credits(op, &request);
        // With no limit at all (`Duration::MAX` for the call and for the attempt), attempts get
        // no timer: registering one can wake tokio's timer driver, a cost such a call need not
        // pay.
        let unlimited = self.api.options.timeout == Duration::MAX
            && self.api.options.attempt_timeout == Duration::MAX;
        let mut token_retry_left = true;
        loop {
            // The waits for a slot and for a token count against the call's time limit.
            let _permit = match &self.api.inner.in_flight {
                Some(s) => Some(
                    tokio::time::timeout_at(self.deadline.into(), s.acquire())
                        .await
                        .map_err(|_| self.timeout(TimeoutCause::Queue, None))?
                        .map_err(|_| self.invalid("the request limiter was closed".into()))?,
                ),
                None => None,
            };
            // Dropped without a response (an error, or the caller cancelling), the reservation
            // gives its credits back.
            let reservation = self.wait_for_budget(cost).await?;
            let token =
                tokio::time::timeout_at(self.deadline.into(), self.api.inner.token.access_token())
                    .await
                    .map_err(|_| self.timeout(TimeoutCause::Queue, None))?
                    .map_err(Error::Token)?;
            let attempt = self.prepare(&request, &token)?;
            let remaining = self.deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                // No time left: an attempt with a zero timeout could still reach the server.
                return Err(self.timeout(TimeoutCause::Call, None));
            }
            self.attempts += 1;
            let limit = self.api.options.attempt_timeout.min(remaining);
            let sent_at = Instant::now();
            let exchange = self.api.exchange(attempt);
            let exchanged = if unlimited {
                Ok(exchange.await)
            } else {
                tokio::time::timeout(limit, exchange).await
            };
            let outcome = match exchanged {
                Ok(Ok((status, headers, bytes))) => Attempt::Answered(status, headers, bytes),
                Ok(Err(e)) => Attempt::Failed(e),
                Err(_) => Attempt::TimedOut,
            };
            drop(_permit);
            let (failure, error, server_wait) = match outcome {
                Attempt::Answered(status, headers, bytes) => {
                    if let Some(reservation) = reservation {
                        let limited = status == StatusCode::TOO_MANY_REQUESTS;
                        reservation.settle(sent_at, &headers, limited);
                    }
                    if status.is_success() {
                        return Ok((status, headers, bytes));
                    }
                    if status == StatusCode::UNAUTHORIZED
                        && token_retry_left
                        && self.api.inner.token.token_rejected(&token)
                    {
                        // A refreshed token gets one more attempt, outside the retry policy.
                        token_retry_left = false;
                        self.max_attempts += 1;
                        continue;
                    }
                    let failure = retry::classify_status(status);
                    let wait = if failure == Failure::RateLimited {
                        retry::server_wait(&headers)
                    } else {
                        ServerWait::Unknown
                    };
                    let mut error = ApiError::new(op.method_name, status, headers, &bytes);
                    error.attempts = self.attempts;
                    (failure, Error::Api(Box::new(error)), wait)
                }
                Attempt::Failed(source) => {
                    drop(reservation);
                    let failure = retry::classify_transport(&source);
                    let error = Error::Transport {
                        operation: op.method_name,
                        attempts: self.attempts,
                        source,
                    };
                    (failure, error, ServerWait::Unknown)
                }
                Attempt::TimedOut => {
                    drop(reservation);
                    let cause = if limit < self.api.options.attempt_timeout {
                        TimeoutCause::Call
                    } else {
                        TimeoutCause::Attempt
                    };
                    (
                        Failure::Interrupted,
                        self.timeout(cause, None),
                        ServerWait::Unknown,
                    )
                }
            };
            let retry = self.attempts < self.max_attempts
                && self.api.options.retry.retries(op.http_method, failure);
            if !retry || Instant::now() >= self.deadline {
                return Err(error);
            }
            // A zero or past server wait falls back to the client's own backoff; one beyond the
            // longest wait honoured ends the call.
            let wait = match server_wait {
                ServerWait::Within(wait) => wait,
                ServerWait::Unknown => self.api.options.retry.backoff_before(self.attempts + 1),
                ServerWait::TooLong(wait) => {
                    tracing::debug!(
                        wait_s = wait.as_secs(),
                        "the server asks to wait longer than the longest wait honoured"
                    );
                    return Err(self.timeout(TimeoutCause::ServerWaitTooLong, Some(error)));
                }
            };
            let resume = after(Instant::now(), wait);
            if failure == Failure::RateLimited {
                if let Some(budget) = &self.api.inner.budget {
                    budget.exhaust_until(resume);
                }
            }
            if resume >= self.deadline {
                let cause = if failure == Failure::RateLimited {
                    TimeoutCause::RateLimitWait
                } else {
                    TimeoutCause::Call
                };
                return Err(self.timeout(cause, Some(error)));
            }
            tracing::debug!(
                attempt = self.attempts,
                failure = ?failure,
                wait_ms = wait.as_millis() as u64,
                error = %error,
                "retrying"
            );
            if failure == Failure::RateLimited {
                self.budget_wait += wait;
            }
            tokio::time::sleep_until(resume.into()).await;
        }
    }

    /// Waits until the budget can cover `cost` and reserves it (`None` when pacing is off), or
    /// fails if that is after the deadline.
    async fn wait_for_budget(&mut self, cost: u64) -> Result<Option<Reservation<'a>>, Error> {
        let api: &'a MiroApi = self.api;
        let Some(budget) = &api.inner.budget else {
            return Ok(None);
        };
        // The usual case first: admitted at once, with no waiter registered.
        if let Admission::Go(reservation) = budget.admit(cost) {
            return Ok(Some(reservation));
        }
        loop {
            // Listening before asking: a window learnt between the two still wakes this call.
            let changed = budget.changed();
            tokio::pin!(changed);
            changed.as_mut().enable();
            match budget.admit(cost) {
                Admission::Go(reservation) => return Ok(Some(reservation)),
                Admission::WaitUntil { at, assumed } => {
                    // A known reset past the deadline ends the call at once; a guessed one
                    // (a window assumed after the last one ended) may be learnt much sooner
                    // from an answer in flight, so the call waits for that until its deadline.
                    let now = Instant::now();
                    if now >= self.deadline || (at >= self.deadline && !assumed) {
                        return Err(self.timeout(TimeoutCause::RateLimitWait, None));
                    }
                    tracing::debug!(
                        wait_ms = at.saturating_duration_since(now).as_millis() as u64,
                        assumed,
                        "waiting for the rate-limit budget"
                    );
                    tokio::select! {
                        _ = tokio::time::sleep_until(at.min(self.deadline).into()) => {}
                        _ = &mut changed => {}
                    }
                    self.budget_wait += now.elapsed();
                }
            }
        }
    }

    /// A copy of the request for one attempt, with the token and the user agent.
    fn prepare(
        &self,
        request: &reqwest::Request,
        token: &AccessToken,
    ) -> Result<reqwest::Request, Error> {
        let mut attempt = request.try_clone().ok_or_else(|| {
            self.invalid("the request body is a stream and cannot be resent".into())
        })?;
        // Made once with the token (and marked sensitive), cloned by reference count here.
        let auth = token.bearer_header().cloned().ok_or_else(|| {
            self.invalid("the access token holds characters a header cannot carry".into())
        })?;
        let headers = attempt.headers_mut();
        headers.insert(AUTHORIZATION, auth);
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        // SCIM speaks `application/scim+json`: a JSON body is sent, and answers asked for, as it.
        if self.op.media_type != "application/json" {
            let media = HeaderValue::from_static(self.op.media_type);
            if headers
                .get(CONTENT_TYPE)
                .is_some_and(|v| v == "application/json")
            {
                headers.insert(CONTENT_TYPE, media.clone());
            }
            headers.insert(ACCEPT, media);
        }
        // A body-less POST, PUT or PATCH says so: some front ends answer 411 without a length.
        let needs_length = matches!(
            *attempt.method(),
            reqwest::Method::POST | reqwest::Method::PUT | reqwest::Method::PATCH
        );
        if needs_length && attempt.body().is_none() {
            attempt
                .headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        }
        Ok(attempt)
    }

    /// Fails unless every placeholder of the operation's path became exactly one non-empty
    /// segment of the URL. An argument of `.` or `..` would be collapsed by the URL parser (and
    /// an empty one leaves an empty segment), sending the request to another resource.
    fn check_path(&self, request: &reqwest::Request) -> Result<(), Error> {
        let base_segments = self.api.inner.base_segments;
        let fits = request.url().path_segments().is_some_and(|sent| {
            let mut sent = sent.skip(base_segments);
            let mut template = self.op.path.trim_start_matches('/').split('/');
            loop {
                match (sent.next(), template.next()) {
                    (None, None) => break true,
                    (Some(got), Some(want)) if want.starts_with('{') && !got.is_empty() => {}
                    (Some(got), Some(want)) if !want.starts_with('{') && got == want => {}
                    _ => break false,
                }
            }
        });
        if fits {
            Ok(())
        } else {
            Err(self.invalid(format!(
                "a path argument of {} is empty, `.` or `..`, which cannot stay one path segment",
                self.op.path
            )))
        }
    }

    fn invalid(&self, message: String) -> Error {
        Error::InvalidRequest {
            operation: self.op.method_name,
            message,
        }
    }

    fn timeout(&self, cause: TimeoutCause, last_error: Option<Error>) -> Error {
        Error::Timeout {
            operation: self.op.method_name,
            cause,
            elapsed: self.started.elapsed(),
            attempts: self.attempts,
            last_error: last_error.map(Box::new),
        }
    }
}

/// `at + d`, or a point far enough away that nothing waits for it, instead of overflowing.
fn after(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .or_else(|| at.checked_add(Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(at)
}

/// Credits a request of `op` costs: the operation's, times the items of a bulk body (JSON, or
/// the `data` part of a multipart body).
/// The page size a request of a paginated operation asks for (its `limit`), at most the
/// operation's largest.
fn page_size(op: &Operation, request: &reqwest::Request) -> Option<u32> {
    if op.pagination == crate::operations::Pagination::None {
        return None;
    }
    let (_, limit) = request.url().query_pairs().find(|(k, _)| k == "limit")?;
    let limit: u32 = limit.parse().ok()?;
    Some(op.max_page_size.map_or(limit, |max| limit.min(max)))
}

fn credits(op: &Operation, request: &reqwest::Request) -> u64 {
    let base = u64::from(op.credits);
    if !op.credits_per_item {
        return base;
    }
    let Some(body) = request.body().and_then(reqwest::Body::as_bytes) else {
        return base;
    };
    let json = if op.multipart {
        let content_type = request
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        multipart_part(content_type, body, "data")
    } else {
        Some(body)
    };
    let items = json.map_or(1, bulk_items).max(1);
    base.saturating_mul(items)
}

/// The items a bulk body prices: a JSON array's elements, or the elements of every array
/// field of a JSON object (members to add and to remove, say).
fn bulk_items(json: &[u8]) -> u64 {
    match serde_json::from_slice::<serde_json::Value>(json) {
        Ok(serde_json::Value::Array(items)) => items.len() as u64,
        Ok(serde_json::Value::Object(fields)) => fields
            .values()
            .filter_map(serde_json::Value::as_array)
            .map(|a| a.len() as u64)
            .sum(),
        _ => 1,
    }
}

/// The content of the part named `name` of a multipart body.
fn multipart_part<'b>(content_type: &str, body: &'b [u8], name: &str) -> Option<&'b [u8]> {
    let boundary = content_type.split("boundary=").nth(1)?.trim_matches('"');
    let delimiter = format!("--{boundary}");
    let header = format!("name=\"{name}\"");
    let mut rest = body;
    while let Some(start) = find(rest, delimiter.as_bytes()) {
        rest = &rest[start + delimiter.len()..];
        let end = find(rest, delimiter.as_bytes()).unwrap_or(rest.len());
        let part = &rest[..end];
        let head_end = find(part, b"\r\n\r\n")?;
        if find(&part[..head_end], header.as_bytes()).is_some() {
            let content = &part[head_end + 4..];
            return Some(content.strip_suffix(b"\r\n").unwrap_or(content));
        }
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Whether a TLS back end is compiled in (feature `rustls-tls` or `native-tls`).
const TLS_BACKEND: bool = cfg!(any(feature = "rustls-tls", feature = "native-tls"));

/// The error of a request to an `https` URL by a client built without a TLS back end.
fn no_tls(url: &reqwest::Url) -> Error {
    Error::Config(format!(
        "{}://{}: miro-api was built without a TLS back end; enable its `rustls-tls` (default) \
         or `native-tls` feature, or pass a client of your own to `MiroApiBuilder::http_client`",
        url.scheme(),
        url.host_str().unwrap_or_default()
    ))
}

/// Builds a [`MiroApi`].
#[derive(Default)]
pub struct MiroApiBuilder {
    base_url: Option<String>,
    token: Option<Arc<dyn TokenProvider>>,
    http: Option<reqwest::Client>,
    connect_timeout: Option<Duration>,
    options: CallOptions,
    no_pacing: bool,
    max_in_flight: Option<usize>,
}

impl fmt::Debug for MiroApiBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MiroApiBuilder")
            .field("base_url", &self.base_url)
            .field("has_token", &self.token.is_some())
            .field("options", &self.options)
            .field("pacing", &!self.no_pacing)
            .field("max_in_flight", &self.max_in_flight)
            .finish_non_exhaustive()
    }
}

/// A non-empty environment variable, trimmed; `Err` when it is not Unicode.
fn env_setting(name: &str) -> Result<Option<String>, Error> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(Some(v.trim().to_string())),
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Error::Config(format!("{name} is not valid Unicode")))
        }
    }
}

impl MiroApiBuilder {
    /// The API's base URL (default: `MIRO_API_BASE_URL` when set, else
    /// [`DEFAULT_BASE_URL`]); trailing slashes are ignored.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// A fixed access token.
    pub fn access_token(mut self, token: impl Into<AccessToken>) -> Self {
        self.token = Some(Arc::new(token.into()));
        self
    }

    /// A token provider, asked before each request.
    pub fn token_provider(mut self, provider: impl TokenProvider + 'static) -> Self {
        self.token = Some(Arc::new(provider));
        self
    }

    /// A shared token provider.
    pub fn token_provider_arc(mut self, provider: Arc<dyn TokenProvider>) -> Self {
        self.token = Some(provider);
        self
    }

    /// Uses this `reqwest::Client` (its own timeouts and proxies apply too; `connect_timeout`
    /// below doesn't). Build it from [`http_client_builder`](crate::http_client_builder): with
    /// the `rustls-tls` feature, a client from `reqwest::Client::new()` has no crypto provider.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Time allowed to open a connection (default [`DEFAULT_CONNECT_TIMEOUT`], 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Time allowed for a whole call: every attempt, backoff and rate-limit wait (default
    /// [`DEFAULT_TIMEOUT`], 120 s). [`MiroApi::with_timeout`] overrides it per call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = timeout;
        self
    }

    /// Time allowed for one attempt, the response body included (default
    /// [`DEFAULT_ATTEMPT_TIMEOUT`], 30 s). A timed-out attempt is retried like a lost
    /// connection. `Duration::MAX` here and in [`timeout`](Self::timeout) means no limit at all:
    /// calls then register no timer (registering one can wake tokio's timer driver).
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.options.attempt_timeout = timeout;
        self
    }

    /// Which failures are retried, how often and with what backoff (default
    /// [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.options.retry = policy;
        self
    }

    /// Whether a response must match its documented type exactly (default off). Off, an
    /// optional field that does not match its type decodes as absent and a list item that does
    /// not decode is left out, each reported by [`Response::decode_warnings`] (see
    /// [`decode`](crate::decode)); on, the body decodes as `serde_json` decodes it, and any
    /// mismatch or duplicate key fails the call with [`Error::Decode`], as a test that checks
    /// the spec against the server wants.
    pub fn strict_decoding(mut self, on: bool) -> Self {
        self.options.strict_decoding = on;
        self
    }

    /// Whether requests wait for the rate-limit budget instead of running into a 429 (default
    /// on). The budget is learnt from Miro's `X-RateLimit-*` headers and shared by clones.
    pub fn pacing(mut self, on: bool) -> Self {
        self.no_pacing = !on;
        self
    }

    /// At most `n` requests of this client (and its clones) in flight at once (default: no
    /// cap). `0` is taken as 1.
    pub fn max_concurrent_requests(mut self, n: usize) -> Self {
        self.max_in_flight = Some(n.max(1));
        self
    }

    /// Builds the client. Without a token, requests carry an empty bearer token and Miro answers 401.
    pub fn build(self) -> MiroApi {
        let base_url = self
            .base_url
            .or_else(|| env_setting(ENV_BASE_URL).ok().flatten())
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let base_url = base_url.trim_end_matches('/').to_string();
        let connect_timeout = self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let no_tls = self.http.is_none() && !TLS_BACKEND;
        let http = self.http.unwrap_or_else(|| {
            let builder = crate::http_client_builder()
                .connect_timeout(connect_timeout)
                .user_agent(USER_AGENT_VALUE);
            // Building fails only when the TLS back end cannot start (with `rustls-tls` its
            // configuration is made by `http_client_builder`); fall back to that builder's bare
            // client, then reqwest's default.
            builder
                .build()
                .unwrap_or_else(|_| crate::http_client_builder().build().unwrap_or_default())
        });
        let token = self.token.unwrap_or_else(|| Arc::new(AccessToken::new("")));
        let base_segments = reqwest::Url::parse(&base_url)
            .ok()
            .and_then(|u| {
                u.path_segments()
                    .map(|s| s.filter(|s| !s.is_empty()).count())
            })
            .unwrap_or(0);
        MiroApi {
            inner: Arc::new(Inner {
                base_url,
                base_segments,
                http,
                no_tls,
                token,
                budget: (!self.no_pacing).then(Budget::default),
                in_flight: self.max_in_flight.map(Semaphore::new),
            }),
            options: self.options,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operations;

    fn request(op: &Operation, content_type: &str, body: Vec<u8>) -> reqwest::Request {
        crate::http_client_builder()
            .build()
            .unwrap()
            .post("http://localhost/")
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .build()
            .unwrap_or_else(|e| panic!("{}: {e}", op.id))
    }

    #[test]
    #[cfg(feature = "items")]
    fn bulk_bodies_are_priced_per_item() {
        let items: Vec<serde_json::Value> = (0..20).map(|i| serde_json::json!({"n": i})).collect();
        let op = &operations::CREATE_ITEMS;
        let json = serde_json::to_vec(&items).unwrap();
        assert_eq!(credits(op, &request(op, "application/json", json)), 2_000);
        let op = &operations::CREATE_ITEMS_IN_BULK_USING_FILE_FROM_DEVICE;
        let (content_type, body) = crate::runtime::MultipartBody::new()
            .json("data", &items)
            .unwrap()
            .finish();
        assert_eq!(credits(op, &request(op, &content_type, body)), 2_000);
        #[cfg(feature = "enterprise")]
        {
            let op = &operations::ENTERPRISE_UPDATE_GROUP_MEMBERS;
            let members = serde_json::json!({"membersToAdd": ["a", "b"], "membersToRemove": ["c"]});
            let body = serde_json::to_vec(&members).unwrap();
            assert_eq!(credits(op, &request(op, "application/json", body)), 150);
        }
    }

    /// A client built without a TLS back end answers a call to an `https` URL with
    /// `Error::Config` naming the features, before anything is sent; `http` is unaffected.
    #[tokio::test]
    #[cfg(feature = "boards")]
    async fn without_tls_an_https_call_is_a_config_error() {
        let build = |url: &str| {
            let mut api = MiroApi::builder()
                .base_url(url)
                .access_token("secret-token")
                .retry_policy(crate::RetryPolicy::none())
                .build();
            // What `build` decides when neither TLS feature is on.
            Arc::get_mut(&mut api.inner).unwrap().no_tls = true;
            api
        };
        let err = build("https://api.miro.com")
            .get_specific_board("b")
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert!(text.contains("`rustls-tls`") && text.contains("https://api.miro.com"));
        assert!(!text.contains("secret-token"));
        // Plain http goes out (and fails to connect: nothing listens on port 1).
        let err = build("http://127.0.0.1:1")
            .get_specific_board("b")
            .await
            .unwrap_err();
        assert!(!matches!(err, Error::Config(_)), "{err:?}");
        assert_eq!(
            TLS_BACKEND,
            cfg!(any(feature = "rustls-tls", feature = "native-tls"))
        );
    }
}
