//! The request log: what clients sent, with secrets redacted.

use std::collections::VecDeque;

use axum::http::HeaderMap;
use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::Value;

/// The redaction marker that replaces secrets.
pub const REDACTED: &str = "[redacted]";

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
/// `Authorization` is logged as `Bearer [redacted]`; `client_secret` /
/// `clientSecret` values are replaced by `[redacted]` in the query, form and
/// JSON bodies.
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
    /// The body bytes (redacted for form and JSON bodies).
    pub body: Bytes,
    /// The body as text when it is UTF-8.
    pub body_text: Option<String>,
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

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Redacts `client_secret` values of a URL-encoded string.
pub(crate) fn redact_urlencoded(s: &str) -> String {
    s.split('&')
        .map(|pair| {
            let key = pair.split('=').next().unwrap_or("");
            let decoded = key.replace("%5F", "_").replace("%5f", "_");
            if decoded == "client_secret" || decoded == "clientSecret" {
                format!("{key}={REDACTED}")
            } else {
                pair.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn redact_json(v: &mut Value) -> bool {
    let mut changed = false;
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if k == "client_secret" || k == "clientSecret" {
                    *child = Value::from(REDACTED);
                    changed = true;
                } else {
                    changed |= redact_json(child);
                }
            }
        }
        Value::Array(list) => {
            for child in list {
                changed |= redact_json(child);
            }
        }
        _ => {}
    }
    changed
}

/// Redacts a request body according to its content type.
pub(crate) fn redact_body(content_type: Option<&str>, body: &Bytes) -> Bytes {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    if ct.starts_with("application/x-www-form-urlencoded") {
        if let Ok(s) = std::str::from_utf8(body) {
            return Bytes::from(redact_urlencoded(s));
        }
    } else if ct.contains("json") || (ct.is_empty() && body.first() == Some(&b'{')) {
        if let Ok(mut v) = serde_json::from_slice::<Value>(body) {
            if redact_json(&mut v) {
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

/// The log itself: the most recent `capacity` requests.
#[derive(Debug)]
pub(crate) struct RequestLog {
    enabled: bool,
    capacity: usize,
    entries: Mutex<VecDeque<LoggedRequest>>,
}

impl RequestLog {
    pub(crate) fn new(enabled: bool, capacity: usize) -> Self {
        RequestLog {
            enabled: enabled && capacity > 0,
            capacity,
            entries: Mutex::new(VecDeque::new()),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    pub(crate) fn push(&self, entry: LoggedRequest) {
        let mut entries = self.entries.lock();
        if entries.len() >= self.capacity {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    pub(crate) fn snapshot(&self) -> Vec<LoggedRequest> {
        self.entries.lock().iter().cloned().collect()
    }

    pub(crate) fn clear(&self) {
        self.entries.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_client_secret_in_forms_and_json() {
        assert_eq!(
            redact_urlencoded("grant_type=x&client_secret=s3&client_id=1"),
            "grant_type=x&client_secret=[redacted]&client_id=1"
        );
        let b = redact_body(
            Some("application/json"),
            &Bytes::from_static(br#"{"clientSecret":"s3","accessToken":"a"}"#),
        );
        assert!(!String::from_utf8_lossy(&b).contains("s3"));
    }
}
