//! Access tokens and where they come from.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// A boxed error from a [`TokenProvider`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An OAuth access token. Its `Debug` and `Display` never show the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        AccessToken(token.into())
    }

    /// The secret itself, for the `Authorization` header or a token store.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken([redacted])")
    }
}

impl From<String> for AccessToken {
    fn from(s: String) -> Self {
        AccessToken(s)
    }
}

impl From<&str> for AccessToken {
    fn from(s: &str) -> Self {
        AccessToken(s.to_owned())
    }
}

/// Where a [`MiroApi`](crate::MiroApi) gets the access token for each request: a fixed token, or
/// something that refreshes it (the OAuth client of `miro-api-extended` plugs in here).
///
/// Closures returning a future of `Result<AccessToken, BoxError>` implement it.
pub trait TokenProvider: Send + Sync {
    /// The token to send with the next request.
    fn access_token(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<AccessToken, BoxError>> + Send + '_>>;

    /// Miro answered 401 to a request sent with `rejected`. Return `true` if the next
    /// [`access_token`](TokenProvider::access_token) call can give a different token (e.g. after
    /// a refresh); the client then sends the request once more. The default returns `false`.
    fn token_rejected(&self, rejected: &AccessToken) -> bool {
        let _ = rejected;
        false
    }
}

impl TokenProvider for AccessToken {
    fn access_token(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<AccessToken, BoxError>> + Send + '_>> {
        let token = self.clone();
        Box::pin(async move { Ok(token) })
    }
}

impl<F, Fut> TokenProvider for F
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<AccessToken, BoxError>> + Send + 'static,
{
    fn access_token(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<AccessToken, BoxError>> + Send + '_>> {
        Box::pin(self())
    }
}
