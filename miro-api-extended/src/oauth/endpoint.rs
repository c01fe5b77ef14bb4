//! The wire side of OAuth: token endpoint calls, their answers, and the redirect.

mod answer;
mod scrub;

use std::time::SystemTime;

use reqwest::Url;
use serde::{Deserialize, Deserializer};

use super::OAuthError;
use crate::storage::TokenState;
use answer::ExpiresIn;
pub(crate) use scrub::Sent;

/// A successful token endpoint answer.
pub(crate) struct Grant {
    pub state: TokenState,
    /// The user the answer names; a refresh answer without one is used all the same (the
    /// caller knows whose tokens it refreshed).
    pub user_id: Option<String>,
}

/// A string that Miro may send as a JSON number (`code`).
fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// An error body: OAuth's `{error, error_description}` or Miro's `{code, message, context}`.
#[derive(Deserialize, Default)]
struct ErrorResponse {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    context: Option<serde_json::Value>,
}

/// The `error` and message of an error answer to a request that carried no secret.
#[cfg(test)]
pub(crate) fn error_of(body: &[u8]) -> (Option<String>, Option<String>) {
    scrubbed_error_of(body, &Sent::default())
}

/// The `error` and message of an error answer, with everything secret that the request
/// carried (`sent`) cut out (see [`Sent::scrub`]).
pub(crate) fn scrubbed_error_of(body: &[u8], sent: &Sent) -> (Option<String>, Option<String>) {
    let e: ErrorResponse = serde_json::from_slice(body).unwrap_or_default();
    let context_error = e
        .context
        .as_ref()
        .and_then(|c| c.get("error"))
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let error = e.error.or(context_error).or(e.code);
    let message = e.error_description.or(e.message);
    (
        error.map(|t| sent.scrub(&t)),
        message.map(|t| sent.scrub(&t)),
    )
}

/// Whether a token endpoint error says the refresh token itself is no good (used, expired,
/// revoked): only an error read from a JSON body (`error`, Miro's `context.error` or `code`)
/// that is `invalid_grant`. A body without one (a proxy's HTML page) says nothing about it.
pub(crate) fn is_grant_rejection(error: Option<&str>) -> bool {
    matches!(error, Some("invalid_grant" | "invalidGrant"))
}

/// A decoding error's kind and place, never the content (which holds tokens).
pub(crate) fn describe_json_error(e: &serde_json::Error) -> String {
    match e.classify() {
        serde_json::error::Category::Data => {
            format!(
                "a field is missing or has the wrong type (line {}, column {})",
                e.line(),
                e.column()
            )
        }
        category => format!(
            "{category:?} error at line {}, column {}",
            e.line(),
            e.column()
        ),
    }
}

/// Sends a request to an OAuth endpoint (`token`, `revoke`, ...) and gives the body of a 2xx;
/// any other status becomes [`OAuthError::Endpoint`] with Miro's error and message, cut of
/// everything secret the request carried.
pub(crate) async fn send(
    endpoint: &'static str,
    request: reqwest::RequestBuilder,
) -> Result<bytes::Bytes, OAuthError> {
    let transport = |source| OAuthError::Transport { endpoint, source };
    let (client, request) = request
        .header(reqwest::header::ACCEPT, "application/json")
        .build_split();
    let request = request.map_err(transport)?;
    let sent = Sent::of(&request);
    let response = client.execute(request).await.map_err(transport)?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(transport)?;
    if !status.is_success() {
        let (error, message) = scrubbed_error_of(&bytes, &sent);
        return Err(OAuthError::Endpoint {
            endpoint,
            status: status.as_u16(),
            error,
            message,
        });
    }
    Ok(bytes)
}

/// `POST /v1/oauth/token` with `form` plus the client's credentials, all in the form body.
///
/// A 2xx answer holding an access token is used whatever its other fields look like (see
/// [`answer`] for the rules); one without is [`OAuthError::InvalidResponse`].
pub(crate) async fn token_request(
    http: &reqwest::Client,
    url: &str,
    client_id: &str,
    client_secret: &str,
    form: &[(&str, &str)],
) -> Result<Grant, OAuthError> {
    let mut body: Vec<(&str, &str)> = form.to_vec();
    body.push(("client_id", client_id));
    body.push(("client_secret", client_secret));
    let bytes = send("token", http.post(url).form(&body)).await?;
    let invalid = |reason: String| OAuthError::InvalidResponse {
        endpoint: "token",
        reason,
    };
    let t = answer::read(&bytes).map_err(invalid)?;
    let access_token = t
        .access_token
        .ok_or_else(|| invalid("it holds no access token".into()))?;
    let obtained = SystemTime::now();
    let mut state = TokenState::new(access_token).with_grant(t.team_id, t.scope);
    if let Some(r) = t.refresh_token {
        state = state.with_refresh_token(r);
    }
    if let ExpiresIn::Secs(secs) = t.expires_in {
        state = state.with_lifetime(obtained, std::time::Duration::from_secs(secs));
    }
    state.obtained_at = Some(obtained);
    Ok(Grant {
        state,
        user_id: t.user_id,
    })
}

impl super::Inner {
    /// The user `state`'s access token belongs to, from `GET /v1/oauth-token` (`user.id`):
    /// for a code exchange whose answer names no user, so that its tokens are stored all
    /// the same.
    pub(super) async fn user_of_token(&self, state: &TokenState) -> Result<String, OAuthError> {
        tracing::warn!(
            "the token endpoint's answer names no user_id; asking the token info endpoint"
        );
        user_of_token(
            &self.oauth_http,
            &self.api_base,
            state.access_token.expose(),
        )
        .await
    }
}

async fn user_of_token(
    http: &reqwest::Client,
    api_base: &str,
    access_token: &str,
) -> Result<String, OAuthError> {
    let request = http
        .get(format!("{api_base}/v1/oauth-token"))
        .bearer_auth(access_token);
    let bytes = send("token info", request).await?;
    let info: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| OAuthError::InvalidResponse {
            endpoint: "token info",
            reason: describe_json_error(&e),
        })?;
    match info.pointer("/user/id") {
        Some(serde_json::Value::String(id)) if !id.trim().is_empty() => Ok(id.clone()),
        Some(serde_json::Value::Number(id)) => Ok(id.to_string()),
        _ => Err(OAuthError::InvalidResponse {
            endpoint: "token info",
            reason: "it names no user id (and neither did the token endpoint's answer)".into(),
        }),
    }
}

/// What a redirect carries.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Redirect {
    pub code: String,
    pub state: Option<String>,
}

/// Reads the code (and state) from the whole redirect URL, a relative one (`/cb?code=..`), its
/// query (`code=..&state=..`) or the bare code.
pub(crate) fn parse_redirect(input: &str) -> Result<Redirect, OAuthError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(OAuthError::MissingCode("it is empty"));
    }
    if let Ok(url) = Url::parse(s) {
        if url.scheme() == "http" || url.scheme() == "https" {
            return from_query(&url);
        }
    }
    let relative = if s.contains('?') {
        Some(s.to_string())
    } else if s.contains('=') {
        Some(format!("?{s}"))
    } else {
        None
    };
    if let Some(relative) = relative {
        let base =
            Url::parse("http://localhost/").map_err(|_| OAuthError::MissingCode("bad URL"))?;
        let url = base
            .join(&relative)
            .map_err(|_| OAuthError::MissingCode("it is neither a URL nor a code"))?;
        return from_query(&url);
    }
    if s.chars().any(|c| c.is_whitespace() || c == '&' || c == '#') {
        return Err(OAuthError::MissingCode("it is neither a URL nor a code"));
    }
    Ok(Redirect {
        code: s.to_string(),
        state: None,
    })
}

fn from_query(url: &Url) -> Result<Redirect, OAuthError> {
    let get = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if let Some(error) = get("error") {
        return Err(OAuthError::AuthorizationDenied {
            error,
            description: get("error_description"),
        });
    }
    match get("code").filter(|c| !c.is_empty()) {
        Some(code) => Ok(Redirect {
            code,
            state: get("state"),
        }),
        None => Err(OAuthError::MissingCode("the URL has no `code` parameter")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> Result<(String, Option<String>), String> {
        parse_redirect(s)
            .map(|r| (r.code, r.state))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn redirects_in_every_form() {
        let want = Ok(("abc-123".to_string(), Some("s1".to_string())));
        assert_eq!(
            code("https://app.example.com/cb?code=abc-123&state=s1"),
            want
        );
        assert_eq!(code("http://localhost:3000/cb?state=s1&code=abc-123"), want);
        assert_eq!(code("/cb?code=abc-123&state=s1"), want);
        assert_eq!(code("?code=abc-123&state=s1"), want);
        assert_eq!(code("code=abc-123&state=s1"), want);
        assert_eq!(code("  abc-123\n"), Ok(("abc-123".to_string(), None)));
        assert_eq!(
            code("https://x.example/cb?code=a%2Bb%20c"),
            Ok(("a+b c".to_string(), None))
        );
    }

    #[test]
    fn redirects_without_a_code() {
        assert!(code("").is_err());
        assert!(code("https://app.example.com/cb?state=s1").is_err());
        assert!(code("two words").is_err());
        let denied =
            parse_redirect("https://app.example.com/cb?error=access_denied&error_description=nope")
                .unwrap_err();
        assert!(
            matches!(&denied, OAuthError::AuthorizationDenied { error, description: Some(d) } if error == "access_denied" && d == "nope"),
            "{denied:?}"
        );
    }

    #[test]
    fn error_bodies() {
        let miro = br#"{"status":400,"code":"invalidGrant","message":"used","context":{"error":"invalid_grant"}}"#;
        assert_eq!(
            error_of(miro),
            (Some("invalid_grant".into()), Some("used".into()))
        );
        let oauth = br#"{"error":"invalid_client","error_description":"who?"}"#;
        assert_eq!(
            error_of(oauth),
            (Some("invalid_client".into()), Some("who?".into()))
        );
        assert_eq!(error_of(b"<html>"), (None, None));
        assert!(is_grant_rejection(Some("invalid_grant")));
        assert!(is_grant_rejection(error_of(miro).0.as_deref()));
        // A proxy's HTML 400 says nothing about the token.
        assert!(!is_grant_rejection(
            error_of(b"<html><body>400 Bad Request</body></html>")
                .0
                .as_deref()
        ));
        assert!(!is_grant_rejection(Some("invalid_client")));
        assert!(!is_grant_rejection(None));
    }

    #[test]
    fn error_bodies_lose_what_we_sent() {
        let sent = Sent::new(["refresh-SECRET-123", "client-SECRET-456"]);
        let body = br#"{"error":"invalid_request refresh-SECRET-123","error_description":"got grant_type=refresh_token&refresh_token=refresh-SECRET-123&client_secret=client-SECRET-456"}"#;
        let (error, message) = scrubbed_error_of(body, &sent);
        let text = format!("{error:?} {message:?}");
        assert!(!text.contains("SECRET"), "{text}");
        assert_eq!(error.as_deref(), Some("invalid_request [redacted]"));
    }
}
