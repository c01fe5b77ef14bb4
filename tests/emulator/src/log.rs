//! The request log: what clients sent, with secrets redacted.

use std::collections::VecDeque;

use axum::http::HeaderMap;
use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::Value;

/// The redaction marker that replaces secrets.
pub const REDACTED: &str = "[redacted]";

/// The most of a request body (and of a multipart part's text) the log keeps: 64 KiB.
pub const LOGGED_BODY_LIMIT: usize = 64 * 1024;

/// The most the whole request log holds, bodies, headers and paths counted: 16 MiB. The oldest
/// entries go first.
pub const LOG_BYTES_LIMIT: usize = 16 * 1024 * 1024;

/// One part of a logged multipart request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedPart {
    /// The part's field name (`resource`, `data`, `resources`, ...).
    pub name: Option<String>,
    /// The file name, for file parts.
    pub file_name: Option<String>,
    /// The part's content type, if sent.
    pub content_type: Option<String>,
    /// The part's size in bytes.
    pub size: usize,
    /// The part's content when it is UTF-8 text (e.g. the JSON `data` part).
    pub text: Option<String>,
}

/// A request as the emulator received it.
///
/// `Authorization` is logged as `Bearer [redacted]`. In the query, form and JSON bodies the
/// values of [`SECRET_KEYS`] (the client secret, access and refresh tokens, PKCE verifiers) are
/// replaced by `[redacted]`; for the OAuth endpoints (`/oauth/...`, `/v1/oauth/...`,
/// `/v2/oauth/...`) those of [`OAUTH_SECRET_KEYS`] too (authorization codes, `token`).
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The path as sent (still percent-encoded).
    pub path: String,
    /// The raw query string, if any (redacted).
    pub query: Option<String>,
    /// The route pattern that matched, e.g. `/v2/boards/{board_id}`.
    pub route: Option<String>,
    /// Header names (lower case) and values (redacted).
    pub headers: Vec<(String, String)>,
    /// The body bytes (redacted for form and JSON bodies), at most [`LOGGED_BODY_LIMIT`] of
    /// them: see [`body_size`](Self::body_size).
    pub body: Bytes,
    /// The size of the body as received, in bytes (0 when it was refused before being read).
    pub body_size: usize,
    /// The parts of a multipart body.
    pub parts: Vec<LoggedPart>,
    /// The response status, or `None` when the connection was dropped.
    pub status: Option<u16>,
}

impl LoggedRequest {
    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A decoded query parameter.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let q = self.query.as_deref()?;
        serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// The logged body as text, when it is UTF-8.
    pub fn body_text(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }

    /// Whether the logged body is cut short of what was received.
    pub fn body_truncated(&self) -> bool {
        self.body.len() < self.body_size
    }

    /// Roughly the memory the entry holds.
    fn weight(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(k, v)| k.len() + v.len() + 48)
            .sum();
        let parts: usize = self
            .parts
            .iter()
            .map(|p| 96 + p.text.as_ref().map_or(0, String::len))
            .sum();
        256 + self.path.len()
            + self.query.as_ref().map_or(0, String::len)
            + self.route.as_ref().map_or(0, String::len)
            + headers
            + self.body.len()
            + parts
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Keys whose values the log never keeps, in any query, form or JSON body.
pub const SECRET_KEYS: &[&str] = &[
    "client_secret",
    "clientSecret",
    "access_token",
    "accessToken",
    "refresh_token",
    "refreshToken",
    "id_token",
    "idToken",
    "code_verifier",
    "codeVerifier",
];

/// Keys whose values the log does not keep in requests to the OAuth endpoints: the
/// authorization code, and a token to revoke or introspect.
pub const OAUTH_SECRET_KEYS: &[&str] = &["code", "token"];

/// Whether a request path is one of the OAuth endpoints.
pub(crate) fn is_oauth_path(path: &str) -> bool {
    ["/oauth/", "/v1/oauth/", "/v2/oauth/"]
        .iter()
        .any(|p| path.starts_with(p))
}

fn is_secret(key: &str, oauth: bool) -> bool {
    SECRET_KEYS.contains(&key) || (oauth && OAUTH_SECRET_KEYS.contains(&key))
}

/// Redacts the secret values of a URL-encoded string (a query or a form body).
pub(crate) fn redact_urlencoded(s: &str, oauth: bool) -> String {
    s.split('&')
        .map(|pair| {
            let key = pair.split('=').next().unwrap_or("");
            let decoded = percent_encoding::percent_decode_str(&key.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned();
            if is_secret(&decoded, oauth) {
                format!("{key}={REDACTED}")
            } else {
                pair.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn redact_json(v: &mut Value, oauth: bool) -> bool {
    let mut changed = false;
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if is_secret(k, oauth) {
                    *child = Value::from(REDACTED);
                    changed = true;
                } else {
                    changed |= redact_json(child, oauth);
                }
            }
        }
        Value::Array(list) => {
            for child in list {
                changed |= redact_json(child, oauth);
            }
        }
        _ => {}
    }
    changed
}

/// Redacts a request body according to its content type (`oauth`: a request to an OAuth
/// endpoint, see [`is_oauth_path`]).
pub(crate) fn redact_body(content_type: Option<&str>, body: &Bytes, oauth: bool) -> Bytes {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    let form = ct.starts_with("application/x-www-form-urlencoded")
        || (ct.is_empty() && oauth && body.first() != Some(&b'{'));
    if form {
        if let Ok(s) = std::str::from_utf8(body) {
            return Bytes::from(redact_urlencoded(s, oauth));
        }
    } else if ct.contains("json") || (ct.is_empty() && body.first() == Some(&b'{')) {
        if let Ok(mut v) = serde_json::from_slice::<Value>(body) {
            if redact_json(&mut v, oauth) {
                return Bytes::from(serde_json::to_vec(&v).unwrap_or_default());
            }
        }
    }
    body.clone()
}

/// Header list with `Authorization` redacted.
pub(crate) fn redact_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
            let value = if k == axum::http::header::AUTHORIZATION {
                match value.split_once(' ') {
                    Some((scheme, _)) => format!("{scheme} {REDACTED}"),
                    None => REDACTED.to_string(),
                }
            } else {
                value
            };
            (k.as_str().to_string(), value)
        })
        .collect()
}

/// Cuts a body to what the log keeps.
pub(crate) fn truncated(body: &Bytes) -> Bytes {
    body.slice(..body.len().min(LOGGED_BODY_LIMIT))
}

/// The log itself: the most recent `capacity` requests, within [`LOG_BYTES_LIMIT`].
#[derive(Debug)]
pub(crate) struct RequestLog {
    enabled: bool,
    capacity: usize,
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    list: VecDeque<LoggedRequest>,
    bytes: usize,
}

impl RequestLog {
    pub(crate) fn new(enabled: bool, capacity: usize) -> Self {
        RequestLog {
            enabled: enabled && capacity > 0,
            capacity,
            entries: Mutex::new(Entries::default()),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    pub(crate) fn push(&self, mut entry: LoggedRequest) {
        // A body shared with the request would keep all of it alive: keep a copy of the part
        // logged.
        entry.body = Bytes::copy_from_slice(&truncated(&entry.body));
        let weight = entry.weight();
        let mut entries = self.entries.lock();
        while !entries.list.is_empty()
            && (entries.list.len() >= self.capacity || entries.bytes + weight > LOG_BYTES_LIMIT)
        {
            if let Some(old) = entries.list.pop_front() {
                entries.bytes -= old.weight();
            }
        }
        entries.bytes += weight;
        entries.list.push_back(entry);
    }

    pub(crate) fn snapshot(&self) -> Vec<LoggedRequest> {
        self.entries.lock().list.iter().cloned().collect()
    }

    pub(crate) fn clear(&self) {
        let mut entries = self.entries.lock();
        entries.list.clear();
        entries.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_client_secret_in_forms_and_json() {
        assert_eq!(
            redact_urlencoded("grant_type=x&client_secret=s3&client_id=1", false),
            "grant_type=x&client_secret=[redacted]&client_id=1"
        );
        let b = redact_body(
            Some("application/json"),
            &Bytes::from_static(br#"{"clientSecret":"s3","accessToken":"a"}"#),
            true,
        );
        assert!(!String::from_utf8_lossy(&b).contains("s3"));
    }

    fn entry(body: Bytes) -> LoggedRequest {
        LoggedRequest {
            method: "POST".into(),
            path: "/v2/boards".into(),
            query: None,
            route: None,
            headers: Vec::new(),
            body_size: body.len(),
            body,
            parts: Vec::new(),
            status: Some(400),
        }
    }

    #[test]
    fn the_log_truncates_bodies_and_stays_within_its_byte_limit() {
        let log = RequestLog::new(true, 100_000);
        for _ in 0..1_000 {
            log.push(entry(Bytes::from(vec![b'{'; 200 * 1024])));
        }
        let entries = log.snapshot();
        assert!(entries
            .iter()
            .all(|e| e.body.len() == LOGGED_BODY_LIMIT && e.body_truncated()));
        let held: usize = entries.iter().map(LoggedRequest::weight).sum();
        assert!(held <= LOG_BYTES_LIMIT, "{held}");
        assert!(entries.len() > 100, "{}", entries.len());
    }
}
