//! [`MiroApi`]: construction, auth, and the one place every generated method sends through.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderValue, AUTHORIZATION, USER_AGENT};
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::auth::{AccessToken, TokenProvider};
use crate::error::{ApiError, Error};
use crate::operations::Operation;
use crate::response::Response;

/// Miro's API host.
pub const DEFAULT_BASE_URL: &str = "https://api.miro.com";

const USER_AGENT_VALUE: &str = concat!("miro-api/", env!("CARGO_PKG_VERSION"), " (Rust; miro-rs)");

/// The low-level Miro client: one async method per operation of the spec.
///
/// Cheap to clone; clones share the connection pool and the token provider.
#[derive(Clone)]
pub struct MiroApi {
    inner: Arc<Inner>,
}

struct Inner {
    base_url: String,
    http: reqwest::Client,
    token: Arc<dyn TokenProvider>,
}

impl fmt::Debug for MiroApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MiroApi")
            .field("base_url", &self.inner.base_url)
            .finish_non_exhaustive()
    }
}

impl MiroApi {
    /// A client for `https://api.miro.com` that sends `access_token` with every request.
    pub fn new(access_token: impl Into<AccessToken>) -> Self {
        MiroApi::builder().access_token(access_token).build()
    }

    /// A client that asks `provider` for the token before each request (e.g. one that refreshes).
    pub fn with_token_provider(provider: impl TokenProvider + 'static) -> Self {
        MiroApi::builder().token_provider(provider).build()
    }

    /// A builder for the base URL, the HTTP client, timeouts and the token source.
    pub fn builder() -> MiroApiBuilder {
        MiroApiBuilder::default()
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// Sends a request of `op` and decodes a JSON body.
    pub(crate) async fn execute_json<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        op: &'static Operation,
    ) -> Result<Response<T>, Error> {
        let (status, headers, bytes) = self.send(request, op).await?;
        // A 2xx without a body (204, or a 202 "accepted") decodes as JSON null.
        let body: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"null"
        } else {
            &bytes
        };
        match serde_json::from_slice(body) {
            Ok(body) => Ok(Response::new(status, headers, body)),
            Err(source) => Err(Error::Decode {
                operation: op.method_name,
                status,
                headers: Box::new(headers),
                body: String::from_utf8_lossy(&bytes).into_owned(),
                source,
            }),
        }
    }

    /// Sends a request of `op` whose success has no body.
    pub(crate) async fn execute_empty(
        &self,
        request: RequestBuilder,
        op: &'static Operation,
    ) -> Result<Response<()>, Error> {
        let (status, headers, _) = self.send(request, op).await?;
        Ok(Response::new(status, headers, ()))
    }

    async fn send(
        &self,
        request: RequestBuilder,
        op: &'static Operation,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, bytes::Bytes), Error> {
        let span = tracing::debug_span!(
            "miro_api",
            operation = op.method_name,
            method = op.http_method,
            path = op.path,
            status = tracing::field::Empty,
        );
        async {
            // One more attempt when the provider says a rejected token can be replaced.
            let mut token_retry_left = true;
            loop {
                let token = self
                    .inner
                    .token
                    .access_token()
                    .await
                    .map_err(Error::Token)?;
                let attempt = request.try_clone().ok_or_else(|| Error::InvalidRequest {
                    operation: op.method_name,
                    message: "the request body is a stream and cannot be sent".into(),
                })?;
                let (status, headers, bytes) = self.send_once(attempt, &token, op).await?;
                tracing::Span::current().record("status", status.as_u16());
                if status.is_success() {
                    return Ok((status, headers, bytes));
                }
                if status == StatusCode::UNAUTHORIZED
                    && token_retry_left
                    && self.inner.token.token_rejected(&token)
                {
                    token_retry_left = false;
                    continue;
                }
                return Err(Error::Api(Box::new(ApiError::new(
                    op.method_name,
                    status,
                    headers,
                    &bytes,
                ))));
            }
        }
        .instrument(span)
        .await
    }
}

impl MiroApi {
    /// Sends one attempt with `token`; any status is `Ok`.
    async fn send_once(
        &self,
        request: RequestBuilder,
        token: &AccessToken,
        op: &'static Operation,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, bytes::Bytes), Error> {
        let mut auth =
            HeaderValue::try_from(format!("Bearer {}", token.expose())).map_err(|_| {
                Error::InvalidRequest {
                    operation: op.method_name,
                    message: "the access token holds characters a header cannot carry".into(),
                }
            })?;
        auth.set_sensitive(true);
        let request = request
            .header(AUTHORIZATION, auth)
            .header(USER_AGENT, USER_AGENT_VALUE)
            .build()
            .map_err(|e| Error::InvalidRequest {
                operation: op.method_name,
                message: e.to_string(),
            })?;
        let transport = |source| Error::Transport {
            operation: op.method_name,
            source,
        };
        let response = self.inner.http.execute(request).await.map_err(transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(transport)?;
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
        if path_args.len() != op.path_params.len() {
            return Err(Error::InvalidRequest {
                operation: op.method_name,
                message: format!(
                    "{} takes {} path argument(s) ({}), {} given",
                    op.path,
                    op.path_params.len(),
                    op.path_params.join(", "),
                    path_args.len()
                ),
            });
        }
        let mut url = self.inner.base_url.clone();
        let mut rest = op.path;
        for arg in path_args {
            let (before, after) = rest.split_once('{').unwrap_or((rest, ""));
            url.push_str(before);
            url.push_str(&crate::runtime::encode_path(arg));
            rest = after.split_once('}').map_or("", |(_, after)| after);
        }
        url.push_str(rest);
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

/// Builds a [`MiroApi`].
#[derive(Default)]
pub struct MiroApiBuilder {
    base_url: Option<String>,
    token: Option<Arc<dyn TokenProvider>>,
    http: Option<reqwest::Client>,
    connect_timeout: Option<Duration>,
    timeout: Option<Duration>,
}

impl fmt::Debug for MiroApiBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MiroApiBuilder")
            .field("base_url", &self.base_url)
            .field("has_token", &self.token.is_some())
            .finish_non_exhaustive()
    }
}

impl MiroApiBuilder {
    /// The API's base URL (default [`DEFAULT_BASE_URL`]); trailing slashes are ignored.
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

    /// Uses this `reqwest::Client` (its own timeouts and proxies apply; the timeouts below don't).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Time allowed to open a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Time allowed for a whole request, body included (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Builds the client. Without a token, requests carry an empty bearer token and Miro answers 401.
    pub fn build(self) -> MiroApi {
        let base_url = self
            .base_url
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let base_url = base_url.trim_end_matches('/').to_string();
        let http = self.http.unwrap_or_else(|| {
            let builder = reqwest::Client::builder()
                .connect_timeout(self.connect_timeout.unwrap_or(Duration::from_secs(10)))
                .timeout(self.timeout.unwrap_or(Duration::from_secs(60)))
                .user_agent(USER_AGENT_VALUE);
            // Building fails only when the TLS backend cannot start; fall back to the default client.
            builder.build().unwrap_or_default()
        });
        let token = self.token.unwrap_or_else(|| Arc::new(AccessToken::new("")));
        MiroApi {
            inner: Arc::new(Inner {
                base_url,
                http,
                token,
            }),
        }
    }
}
