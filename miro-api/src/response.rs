//! Successful responses: the decoded body with its status and headers.

use std::ops::Deref;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::StatusCode;

use crate::decode::DecodeWarning;

/// The future of a request's response: what `.await` on a request (or its `send()`) gives.
pub type ResponseFuture<'a, T> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Response<T>, crate::Error>> + Send + 'a>,
>;

/// A successful response: the decoded body, its status, its headers and the attempts it took.
///
/// It derefs to the body, so fields read directly (`board.name`); to move a field out, take the
/// body first: `let id = api.create_board(&body).await?.into_inner().id;`.
///
/// The body as received stays readable: [`raw_json`](Response::raw_json) gives fields the
/// generated types lack, and [`decode_warnings`](Response::decode_warnings) lists what did not
/// match its documented type and was left out (optional fields, list items).
#[derive(Clone, Debug)]
pub struct Response<T> {
    status: StatusCode,
    headers: HeaderMap,
    body: T,
    attempts: u32,
    raw: bytes::Bytes,
    warnings: Vec<DecodeWarning>,
}

impl<T> Response<T> {
    pub(crate) fn new(
        status: StatusCode,
        headers: HeaderMap,
        body: T,
        attempts: u32,
        raw: bytes::Bytes,
    ) -> Self {
        Response {
            status,
            headers,
            body,
            attempts,
            raw,
            warnings: Vec::new(),
        }
    }

    pub(crate) fn with_warnings(mut self, warnings: Vec<DecodeWarning>) -> Self {
        self.warnings = warnings;
        self
    }

    /// The body exactly as received (empty for a response without one).
    pub fn raw_body(&self) -> &[u8] {
        &self.raw
    }

    /// The body parsed as JSON, with every field Miro sent, including those the generated
    /// type does not have (`null` for a response without a body):
    /// `resp.raw_json()?["sharingPolicy"]["access"]`.
    pub fn raw_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        if self.raw.iter().all(u8::is_ascii_whitespace) {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&self.raw)
    }

    /// What did not match its documented type and was left out: optional fields decoded as
    /// absent, list items left out of their list (with their index and raw JSON), and
    /// duplicate keys (empty when the body matched its type, and always with
    /// [`strict_decoding`](crate::MiroApiBuilder::strict_decoding)). Each was also logged as a
    /// `tracing` warning. See [`decode`](crate::decode) for the rule.
    pub fn decode_warnings(&self) -> &[DecodeWarning] {
        &self.warnings
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
        // Read on every answer (the pacing learns from them), so in one pass over the headers
        // (cheaper than three hashed lookups of custom names), each value read as ASCII digits
        // without a copy. A repeated header counts by its first value, as `HeaderMap::get`.
        let (mut limit, mut remaining, mut reset) = (None, None, None);
        for (name, value) in headers {
            let slot = match name.as_str() {
                "x-ratelimit-limit" => &mut limit,
                "x-ratelimit-remaining" => &mut remaining,
                "x-ratelimit-reset" => &mut reset,
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        let num = |value: Option<&HeaderValue>| parse_u64(value?.as_bytes());
        Some(RateLimit {
            limit: num(limit)?,
            remaining: num(remaining)?,
            reset: num(reset),
        })
    }
}

/// A decimal `u64` with optional surrounding spaces or tabs (what `str::trim` then
/// `str::parse::<u64>` took, for a header value); `None` for anything else or an overflow.
fn parse_u64(value: &[u8]) -> Option<u64> {
    let is_space = |b: &u8| matches!(b, b' ' | b'\t');
    let start = value.iter().position(|b| !is_space(b))?;
    let end = value.iter().rposition(|b| !is_space(b))? + 1;
    let digits = &value[start..end];
    // `str::parse` takes one leading `+`.
    let digits = digits.strip_prefix(b"+").unwrap_or(digits);
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d < 10)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte reader gives what reading the value as text, trimmed and parsed, gave.
    #[test]
    fn rate_limit_numbers_read_as_the_text_parse_did() {
        let values = [
            "0",
            "7",
            "100000",
            " 42",
            "42 ",
            "\t42\t",
            "+42",
            "++42",
            "-1",
            "4 2",
            "",
            " ",
            "42a",
            "0x10",
            "007",
            "18446744073709551615",
            "18446744073709551616",
            "1e3",
        ];
        for value in values {
            let text = value.trim().parse::<u64>().ok();
            assert_eq!(parse_u64(value.as_bytes()), text, "{value:?}");
        }
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-limit", " 100000".parse().unwrap());
        headers.insert("x-ratelimit-remaining", "99990".parse().unwrap());
        assert_eq!(
            RateLimit::from_headers(&headers),
            Some(RateLimit {
                limit: 100_000,
                remaining: 99_990,
                reset: None
            })
        );
        headers.insert("x-ratelimit-reset", "1700000000".parse().unwrap());
        assert_eq!(
            RateLimit::from_headers(&headers).unwrap().reset,
            Some(1_700_000_000)
        );
        // A repeated header counts by its first value.
        headers.append("x-ratelimit-reset", "5".parse().unwrap());
        assert_eq!(
            RateLimit::from_headers(&headers).unwrap().reset,
            Some(1_700_000_000)
        );
        headers.insert("x-ratelimit-remaining", "many".parse().unwrap());
        assert_eq!(RateLimit::from_headers(&headers), None);
    }
}
