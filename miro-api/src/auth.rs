//! Access tokens and where they come from.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use reqwest::header::HeaderValue;

/// A boxed error from a [`TokenProvider`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An OAuth access token. Its `Debug` and `Display` never show the secret.
///
/// Cloning is cheap (two reference counts): the secret and its `Authorization` header value,
/// made once when the token is, are shared by the clones.
#[derive(Clone)]
pub struct AccessToken {
    secret: Arc<str>,
    /// `Bearer <secret>`, marked sensitive; `None` when the secret holds characters a header
    /// cannot carry (a request with it then fails with a clear error, see `MiroApi`).
    bearer: Option<HeaderValue>,
}

impl AccessToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        let secret: String = token.into();
        let mut header = Vec::with_capacity("Bearer ".len() + secret.len());
        header.extend_from_slice(b"Bearer ");
        header.extend_from_slice(secret.as_bytes());
        let bearer = HeaderValue::from_maybe_shared(bytes::Bytes::from(header))
            .ok()
            .map(|mut value| {
                value.set_sensitive(true);
                value
            });
        AccessToken {
            secret: secret.into(),
            bearer,
        }
    }

    /// The secret itself, for the `Authorization` header or a token store.
    pub fn expose(&self) -> &str {
        &self.secret
    }

    /// The `Authorization` header value (`Bearer <secret>`, sensitive), or `None` when the
    /// secret cannot be a header value.
    pub(crate) fn bearer_header(&self) -> Option<&HeaderValue> {
        self.bearer.as_ref()
    }
}

impl PartialEq for AccessToken {
    fn eq(&self, other: &Self) -> bool {
        self.secret == other.secret
    }
}

impl Eq for AccessToken {}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken([redacted])")
    }
}

impl From<String> for AccessToken {
    fn from(s: String) -> Self {
        AccessToken::new(s)
    }
}

impl From<&str> for AccessToken {
    fn from(s: &str) -> Self {
        AccessToken::new(s)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_made_once_and_marked_sensitive() {
        let token = AccessToken::new("abc.123");
        let header = token.bearer_header().expect("a valid token has a header");
        assert_eq!(header.as_bytes(), b"Bearer abc.123");
        assert!(header.is_sensitive(), "never printed by reqwest or http");
        let copy = token.clone();
        assert_eq!(copy, token);
        assert_eq!(copy.expose(), "abc.123");
        assert_ne!(AccessToken::from("other"), token);
        assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
    }

    #[test]
    fn a_secret_a_header_cannot_carry_has_no_header() {
        for bad in ["line\nbreak", "nul\0", "del\x7f"] {
            let token = AccessToken::new(bad);
            assert!(token.bearer_header().is_none(), "{bad:?}");
            assert_eq!(token.expose(), bad, "the secret itself is kept");
        }
    }
}
