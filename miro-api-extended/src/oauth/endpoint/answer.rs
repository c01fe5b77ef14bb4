//! Reading a 2xx answer of the token endpoint. On a refresh Miro has already rotated the
//! tokens when it answers, so an answer that holds an access token is used whatever its
//! other fields look like; only the tokens themselves can make it unreadable.
//!
//! The rules, each odd case logged at WARN (key names and kinds only, never values):
//!
//! - A UTF-8 byte-order mark and whitespace before the object are skipped, bytes that are
//!   not UTF-8 become U+FFFD, and anything after the object is ignored.
//! - A key given more than once: the **last** one counts (as in JavaScript's `JSON.parse`
//!   and `serde_json::Value`).
//! - `access_token`, `refresh_token`: a string, or a number (its text as sent). Empty or
//!   blank strings and other kinds count as absent.
//! - `user_id`, `team_id`: a string or a number (its exact text, so ids beyond 2^53 keep
//!   their digits); anything else counts as absent.
//! - `scope`: a string; a list (its strings and numbers, space-separated); a number (its
//!   text); anything else counts as absent.
//! - `expires_in`: see [`ExpiresIn`].

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::describe_json_error;
use crate::oauth::MAX_EXPIRES_IN;

/// The fields of a token answer, read by the rules of this module.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct TokenAnswer {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub expires_in: ExpiresIn,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    pub scope: Option<String>,
}

/// What `expires_in` means.
///
/// - absent or `null`: the token does not expire (Miro leaves `expires_in` out for
///   non-expiring tokens);
/// - a number, or a string holding one in JSON's number syntax (`"3600"`): that many
///   seconds, fractions rounded down, zero or negative meaning expired now, anything above
///   [`MAX_EXPIRES_IN`] (`1e30`, `1e400`) capped at it;
/// - anything else (`"abc"`, `true`, an object or a list): the lifetime is unknown and the
///   token counts as expired now, so it is refreshed before its next use (never "does not
///   expire" by accident).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExpiresIn {
    /// The token does not expire.
    #[default]
    Never,
    /// The lifetime in seconds, at most `MAX_EXPIRES_IN`; zero: expired now.
    Secs(u64),
}

/// The object's entries in order, duplicates kept, values unparsed.
struct Entries<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    entries.push((key, map.next_value::<&RawValue>()?));
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(EntriesVisitor)
    }
}

/// A JSON value by kind; numbers keep their text.
enum Value<'a> {
    Null,
    Text(String),
    Number(&'a str),
    List(&'a RawValue),
    /// Another kind (its name, for the log).
    Other(&'static str),
}

fn value_of(raw: &RawValue) -> Value<'_> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str(text).map_or(Value::Other("string"), Value::Text),
        Some(b'-' | b'0'..=b'9') => Value::Number(text),
        Some(b'n') => Value::Null,
        Some(b'[') => Value::List(raw),
        Some(b't' | b'f') => Value::Other("boolean"),
        _ => Value::Other("object"),
    }
}

/// Reads a 2xx body; `Err` with a reason that never quotes the body when it is not a JSON
/// object.
pub(crate) fn read(body: &[u8]) -> Result<TokenAnswer, String> {
    let text = String::from_utf8_lossy(body);
    if matches!(text, std::borrow::Cow::Owned(_)) {
        tracing::warn!(
            "the token endpoint's answer is not valid UTF-8; the bad bytes are replaced"
        );
    }
    let text = text.trim_start_matches(|c: char| c == '\u{feff}' || c.is_whitespace());
    let mut de = serde_json::Deserializer::from_str(text);
    let entries = Entries::deserialize(&mut de).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => "it is not a JSON object".to_string(),
        _ => describe_json_error(&e),
    })?;
    if de.end().is_err() {
        tracing::warn!(
            "the token endpoint's answer goes on after its JSON object; the rest is ignored"
        );
    }
    Ok(TokenAnswer {
        access_token: token(&entries, "access_token"),
        refresh_token: token(&entries, "refresh_token"),
        expires_in: expires_in(last(&entries, "expires_in")),
        user_id: id(&entries, "user_id"),
        team_id: id(&entries, "team_id"),
        scope: scope(&entries, "scope"),
    })
}

/// The last value given for `key`, with a warning when there are several.
fn last<'a>(entries: &Entries<'a>, key: &'static str) -> Option<&'a RawValue> {
    let mut found = entries.0.iter().filter(|(k, _)| k == key).map(|(_, v)| *v);
    let first = found.next()?;
    let (count, last) = found.fold((1, first), |(n, _), v| (n + 1, v));
    if count > 1 {
        tracing::warn!(
            key,
            count,
            "the token endpoint's answer gives a key several times; the last one is used"
        );
    }
    Some(last)
}

fn odd_kind(key: &'static str, kind: &'static str) {
    tracing::warn!(
        key,
        kind,
        "a field of the token endpoint's answer has an unexpected kind"
    );
}

/// A token: text, or a number (odd for a token, so warned about).
fn token(entries: &Entries<'_>, key: &'static str) -> Option<String> {
    text(entries, key, true)
}

/// An id: text, or a number (exact digits).
fn id(entries: &Entries<'_>, key: &'static str) -> Option<String> {
    text(entries, key, false)
}

/// A text field that may come as a number; blank, null or another kind is none.
fn text(entries: &Entries<'_>, key: &'static str, warn_number: bool) -> Option<String> {
    match value_of(last(entries, key)?) {
        Value::Text(s) if !s.trim().is_empty() => Some(s),
        Value::Number(n) => {
            if warn_number {
                odd_kind(key, "number");
            }
            Some(n.to_string())
        }
        Value::Null | Value::Text(_) => None,
        Value::List(_) => {
            odd_kind(key, "list");
            None
        }
        Value::Other(kind) => {
            odd_kind(key, kind);
            None
        }
    }
}

fn scope(entries: &Entries<'_>, key: &'static str) -> Option<String> {
    let words = match value_of(last(entries, key)?) {
        Value::Text(s) => s,
        Value::Number(n) => {
            odd_kind(key, "number");
            n.to_string()
        }
        Value::Null => return None,
        Value::List(raw) => {
            odd_kind(key, "list");
            let items: Vec<&RawValue> = serde_json::from_str(raw.get()).ok()?;
            let words: Vec<String> = items
                .into_iter()
                .filter_map(|item| match value_of(item) {
                    Value::Text(s) => Some(s),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect();
            words.join(" ")
        }
        Value::Other(kind) => {
            odd_kind(key, kind);
            return None;
        }
    };
    (!words.trim().is_empty()).then_some(words)
}

fn expires_in(raw: Option<&RawValue>) -> ExpiresIn {
    let Some(raw) = raw else {
        return ExpiresIn::Never;
    };
    let seconds = match value_of(raw) {
        Value::Null => return ExpiresIn::Never,
        Value::Number(n) => seconds(n),
        Value::Text(s) => {
            let s = s.trim();
            let numeric = s.bytes().any(|b| b.is_ascii_digit())
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
            if numeric {
                seconds(s)
            } else {
                None
            }
        }
        Value::List(_) | Value::Other(_) => None,
    };
    let seconds = seconds.unwrap_or_else(|| {
        tracing::warn!("the token endpoint's answer has an expires_in that is not a number; the access token counts as expired");
        0
    });
    if seconds == MAX_EXPIRES_IN.as_secs() {
        tracing::warn!(
            max = seconds,
            "the token endpoint's answer has an expires_in beyond the longest lifetime accepted; it is capped"
        );
    }
    ExpiresIn::Secs(seconds)
}

/// Whole seconds from a number's text: rounded down, at least 0, at most `MAX_EXPIRES_IN`
/// (`None` when it does not parse).
fn seconds(text: &str) -> Option<u64> {
    // Rust's parser gives ±infinity for numbers beyond f64 (serde_json refuses them).
    let f: f64 = text.parse().ok()?;
    let max = MAX_EXPIRES_IN.as_secs();
    Some(if f.is_nan() || f <= 0.0 {
        0
    } else if f >= max as f64 {
        max
    } else {
        f.floor() as u64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &str) -> TokenAnswer {
        read(body.as_bytes()).unwrap()
    }

    const TOKENS: &str = r#""access_token":"acc","refresh_token":"ref""#;

    #[test]
    fn a_usable_answer_is_read_whatever_the_other_fields_look_like() {
        for body in [
            format!(r#"{{{TOKENS},"scope":["boards:read","boards:write"],"user_id":42}}"#),
            format!(r#"{{{TOKENS},"scope":7,"team_id":{{"a":1}}}}"#),
            format!(r#"{{{TOKENS},"user_id":null,"team_id":true,"scope":{{}}}}"#),
            format!("\u{feff}{{{TOKENS}}}"),
            format!("\u{feff}\n {{{TOKENS}}} trailing <html>"),
            format!(r#"{{"access_token":1,{TOKENS},"expires_in":1e400,"expires_in":3599}}"#),
            format!(r#"{{{TOKENS},"team_id":1e400,"scope":[1e400,"x",{{}}]}}"#),
        ] {
            let a = answer(&body);
            assert_eq!(a.access_token.as_deref(), Some("acc"), "{body}");
            assert_eq!(a.refresh_token.as_deref(), Some("ref"), "{body}");
        }
        let mut bytes = format!("{{{TOKENS},\"scope\":\"a").into_bytes();
        bytes.extend_from_slice(&[0xff, 0xfe]);
        bytes.extend_from_slice(b"\"}");
        assert_eq!(read(&bytes).unwrap().access_token.as_deref(), Some("acc"));
    }

    #[test]
    fn fields_of_every_kind() {
        let a = answer(
            r#"{"access_token":12345678901234567890123,"refresh_token":"r","user_id":3458764517517819000,
                "team_id":"t1","scope":["boards:read",7,null,"team:read"]}"#,
        );
        assert_eq!(a.access_token.as_deref(), Some("12345678901234567890123"));
        assert_eq!(a.user_id.as_deref(), Some("3458764517517819000"));
        assert_eq!(a.team_id.as_deref(), Some("t1"));
        assert_eq!(a.scope.as_deref(), Some("boards:read 7 team:read"));
        let a = answer(r#"{"access_token":"a","scope":2.5,"user_id":"","team_id":[1]}"#);
        assert_eq!(a.scope.as_deref(), Some("2.5"));
        assert_eq!((a.user_id, a.team_id, a.refresh_token), (None, None, None));
        // Blank and other kinds of tokens count as absent.
        for t in [r#""""#, r#"" ""#, "null", "true", "{}", "[\"a\"]"] {
            let a = answer(&format!(r#"{{"access_token":{t},"refresh_token":{t}}}"#));
            assert_eq!((a.access_token, a.refresh_token), (None, None), "{t}");
        }
    }

    #[test]
    fn the_last_of_duplicate_keys_counts() {
        let a = answer(
            r#"{"access_token":"one","refresh_token":"r1","access_token":"two","refresh_token":"r2","user_id":"u1","user_id":5}"#,
        );
        assert_eq!(a.access_token.as_deref(), Some("two"));
        assert_eq!(a.refresh_token.as_deref(), Some("r2"));
        assert_eq!(a.user_id.as_deref(), Some("5"));
        // The last one counts even when it is no token.
        let a = answer(r#"{"access_token":"one","access_token":null}"#);
        assert_eq!(a.access_token, None);
    }

    #[test]
    fn expires_in_has_one_meaning() {
        let max = MAX_EXPIRES_IN.as_secs();
        for (value, want) in [
            ("3599", ExpiresIn::Secs(3599)),
            ("3599.9", ExpiresIn::Secs(3599)),
            ("\"3600\"", ExpiresIn::Secs(3600)),
            ("\" 60 \"", ExpiresIn::Secs(60)),
            ("\"1.5e2\"", ExpiresIn::Secs(150)),
            ("0", ExpiresIn::Secs(0)),
            ("0.4", ExpiresIn::Secs(0)),
            ("-1", ExpiresIn::Secs(0)),
            ("-1e400", ExpiresIn::Secs(0)),
            ("1e30", ExpiresIn::Secs(max)),
            ("1e400", ExpiresIn::Secs(max)),
            ("18446744073709551615", ExpiresIn::Secs(max)),
            ("\"1e999\"", ExpiresIn::Secs(max)),
            ("\"abc\"", ExpiresIn::Secs(0)),
            ("\"\"", ExpiresIn::Secs(0)),
            ("\"inf\"", ExpiresIn::Secs(0)),
            ("\"NaN\"", ExpiresIn::Secs(0)),
            ("\"--\"", ExpiresIn::Secs(0)),
            ("true", ExpiresIn::Secs(0)),
            ("{\"s\":1}", ExpiresIn::Secs(0)),
            ("[3600]", ExpiresIn::Secs(0)),
            ("null", ExpiresIn::Never),
        ] {
            let a = answer(&format!(r#"{{"access_token":"a","expires_in":{value}}}"#));
            assert_eq!(a.expires_in, want, "expires_in {value}");
        }
        assert_eq!(
            answer(r#"{"access_token":"a"}"#).expires_in,
            ExpiresIn::Never
        );
    }

    #[test]
    fn unreadable_answers_never_quote_the_body() {
        for body in [
            "",
            "<html>SECRET</html>",
            "[\"SECRET\"]",
            "\"SECRET\"",
            "{\"access_token\":\"SECRET",
        ] {
            let reason = read(body.as_bytes()).unwrap_err();
            assert!(!reason.contains("SECRET"), "{reason}");
        }
    }
}
