//! The wire side of OAuth: token endpoint calls, their answers, and the redirect.

use std::time::{Duration, SystemTime};

use reqwest::Url;
use serde::{Deserialize, Deserializer};

use super::OAuthError;
use crate::storage::TokenState;

/// A successful token endpoint answer.
pub(crate) struct Grant {
    pub state: TokenState,
    pub user_id: String,
}

/// A string that Miro may send as a JSON number (`team_id`, `user_id`).
fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// A count of seconds, as a number or a numeric string.
fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default, deserialize_with = "seconds")]
    expires_in: Option<u64>,
    #[serde(default, deserialize_with = "string_or_number")]
    user_id: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    team_id: Option<String>,
    #[serde(default)]
    scope: Option<String>,
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

/// The `error` and message of an error answer.
pub(crate) fn error_of(body: &[u8]) -> (Option<String>, Option<String>) {
    let e: ErrorResponse = serde_json::from_slice(body).unwrap_or_default();
    let context_error = e
        .context
        .as_ref()
        .and_then(|c| c.get("error"))
        .and_then(|v| v.as_str())
        .map(str::to_string);
    (
        e.error.or(context_error).or(e.code),
        e.error_description.or(e.message),
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
/// any other status becomes [`OAuthError::Endpoint`] with Miro's error and message.
pub(crate) async fn send(
    endpoint: &'static str,
    request: reqwest::RequestBuilder,
) -> Result<bytes::Bytes, OAuthError> {
    let transport = |source| OAuthError::Transport { endpoint, source };
    let response = request
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(transport)?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(transport)?;
    if !status.is_success() {
        let (error, message) = error_of(&bytes);
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
    let t: TokenResponse =
        serde_json::from_slice(&bytes).map_err(|e| OAuthError::InvalidResponse {
            endpoint: "token",
            reason: describe_json_error(&e),
        })?;
    if t.access_token.is_empty() {
        return Err(OAuthError::InvalidResponse {
            endpoint: "token",
            reason: "the access token is empty".into(),
        });
    }
    let user_id = t.user_id.ok_or(OAuthError::InvalidResponse {
        endpoint: "token",
        reason: "no user_id".into(),
    })?;
    let mut state = TokenState::new(t.access_token).with_grant(t.team_id, t.scope);
    if let Some(r) = t.refresh_token.filter(|r| !r.is_empty()) {
        state = state.with_refresh_token(r);
    }
    if let Some(secs) = t.expires_in {
        let lifetime = Duration::from_secs(secs);
        let expires_at = (lifetime <= super::MAX_EXPIRES_IN)
            .then(|| SystemTime::now().checked_add(lifetime))
            .flatten()
            .ok_or_else(|| OAuthError::InvalidResponse {
                endpoint: "token",
                reason: format!(
                    "expires_in of {secs} s is beyond the longest lifetime accepted ({} s)",
                    super::MAX_EXPIRES_IN.as_secs()
                ),
            })?;
        state = state.with_expires_at(expires_at);
    }
    Ok(Grant { state, user_id })
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
    fn json_errors_never_quote_the_body() {
        let e = serde_json::from_str::<TokenResponse>(r#"{"access_token": 12345678}"#)
            .err()
            .unwrap();
        assert!(!describe_json_error(&e).contains("12345678"));
        let e = serde_json::from_str::<TokenResponse>(r#"{"refresh_token":"SECRET"}"#)
            .err()
            .unwrap();
        assert!(!describe_json_error(&e).contains("SECRET"));
    }
}
