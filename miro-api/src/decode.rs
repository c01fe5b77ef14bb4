//! Decoding response bodies: one rule for every generated type.
//!
//! Miro's live API does not always send what its spec documents: an id documented as a number
//! arrives as a string, a date is malformed, a number is out of range. By default such a
//! mismatch in an **optional** field does not fail the whole response: the field decodes as
//! absent (`None`, or an empty list), a `tracing` warning names it, and
//! [`Response::decode_warnings`](crate::Response::decode_warnings) lists it with the value that
//! was dropped (the whole body stays readable through
//! [`Response::raw_json`](crate::Response::raw_json)). A mismatch in a **required** field fails
//! the object holding it, which then counts as the mismatch of its own nearest optional
//! ancestor; with none, the call fails with [`Error::Decode`](crate::Error::Decode), naming the
//! path. [`MiroApiBuilder::strict_decoding`](crate::MiroApiBuilder::strict_decoding) turns the
//! tolerance off (for tests that must see every mismatch).
//!
//! The rule lives here, in the runtime, rather than in attributes on each generated field: a
//! body that decodes costs nothing extra, and the generated types compile as before.

use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_path_to_error::Segment;

/// At most this many fields are dropped from one body before decoding gives up.
const MAX_DROPPED: usize = 64;

/// An optional field of a response that did not match its documented type and was decoded as
/// absent. See the [module docs](self) for the rule.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct DecodeWarning {
    /// Where the field is in the body, e.g. `data[3].picture.id`.
    pub path: String,
    /// Why it did not decode, e.g. `invalid type: string "x", expected f64`.
    pub message: String,
    /// The value that was dropped.
    pub value: Value,
}

impl std::fmt::Display for DecodeWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} (decoded as absent)", self.path, self.message)
    }
}

/// A body that does not decode as its type: the error, and where in the body it is.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) path: String,
    pub(crate) source: serde_json::Error,
}

impl Failure {
    /// The error, naming the path when there is one: ``invalid type: integer `7`, expected a
    /// string at line 1 column 9 (at `data[0].name`)``.
    pub(crate) fn into_error(self) -> serde_json::Error {
        if self.path.is_empty() {
            return self.source;
        }
        serde::de::Error::custom(format_args!("{} (at `{}`)", self.source, self.path))
    }
}

/// Decodes `bytes` as `T`. Strict: any mismatch fails. Tolerant: mismatched optional fields are
/// dropped (see the module docs) and reported.
pub(crate) fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    strict: bool,
) -> Result<(T, Vec<DecodeWarning>), Failure> {
    let first = match crate::runtime::from_json::<T>(bytes) {
        Ok(body) => return Ok((body, Vec::new())),
        Err(e) => e,
    };
    // Malformed or truncated JSON has no field to drop.
    let value = match serde_json::from_slice::<Value>(bytes) {
        Ok(value) if first.is_data() => value,
        _ => {
            return Err(Failure {
                path: String::new(),
                source: first,
            })
        }
    };
    let (result, warnings) = decode_value::<T>(value, strict);
    match result {
        Ok(body) => {
            for w in &warnings {
                tracing::warn!(
                    path = %w.path,
                    error = %w.message,
                    type_name = std::any::type_name::<T>(),
                    "a response field does not match its documented type; decoded as absent"
                );
            }
            Ok((body, warnings))
        }
        Err(failure) => Err(Failure {
            path: failure.path,
            // The first error, with its line and column in the body as received.
            source: first,
        }),
    }
}

/// Decodes a parsed body, dropping mismatched optional fields unless `strict`.
fn decode_value<T: DeserializeOwned>(
    mut value: Value,
    strict: bool,
) -> (Result<T, Failure>, Vec<DecodeWarning>) {
    let mut warnings: Vec<DecodeWarning> = Vec::new();
    // For each warning, the path of the mismatch that led to it: a failure names that one.
    let mut origins: Vec<String> = Vec::new();
    loop {
        let err = match serde_path_to_error::deserialize::<_, T>(&value) {
            Ok(body) => return (Ok(body), warnings),
            Err(e) => e,
        };
        let mut path: Vec<Segment> = err.path().iter().cloned().collect();
        let message = err.inner().to_string();
        let mut origin = err.path().to_string();
        if let Some(field) = missing_field(&message) {
            // A required field is absent: if we dropped it, it was required after all, so the
            // object holding it is the mismatch. Put it back, and drop that object instead.
            let mut dropped = path.clone();
            dropped.push(Segment::Map {
                key: field.to_string(),
            });
            let dropped = path_string(&dropped);
            if let Some(i) = warnings.iter().position(|w| w.path == dropped) {
                let w = warnings.remove(i);
                origin = origins.remove(i);
                if let Some(Value::Object(parent)) = value_at(&mut value, &path) {
                    parent.insert(field.to_string(), w.value);
                }
            }
        }
        let failure = |origin: String| Failure {
            path: origin,
            source: serde::de::Error::custom(&message),
        };
        if strict || warnings.len() >= MAX_DROPPED {
            return (Err(failure(origin)), warnings);
        }
        // Otherwise the field at the path itself does not match its type. Either way, what is
        // dropped is the nearest enclosing field: the last map key of the path.
        let Some(key_at) = path.iter().rposition(|s| matches!(s, Segment::Map { .. })) else {
            return (Err(failure(origin)), warnings);
        };
        path.truncate(key_at + 1);
        let Some(Segment::Map { key }) = path.pop() else {
            return (Err(failure(origin)), warnings);
        };
        let Some(Value::Object(parent)) = value_at(&mut value, &path) else {
            return (Err(failure(origin)), warnings);
        };
        let Some(dropped) = parent.remove(&key) else {
            return (Err(failure(origin)), warnings);
        };
        path.push(Segment::Map { key });
        warnings.push(DecodeWarning {
            path: path_string(&path),
            message: message.clone(),
            value: dropped,
        });
        origins.push(origin);
    }
}

/// The field named by serde's "missing field `x`" error.
fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")?
        .split_once('`')
        .map(|(field, _)| field)
}

/// The value at `path`, when every segment leads somewhere.
fn value_at<'v>(value: &'v mut Value, path: &[Segment]) -> Option<&'v mut Value> {
    path.iter().try_fold(value, |v, segment| match segment {
        Segment::Seq { index } => v.get_mut(*index),
        Segment::Map { key } => v.get_mut(key.as_str()),
        Segment::Enum { variant } => v.get_mut(variant.as_str()),
        Segment::Unknown => None,
    })
}

/// `data[3].picture.id`, as serde_path_to_error spells a path.
fn path_string(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Page {
        data: Vec<Board>,
        #[serde(default)]
        total: Option<u32>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Board {
        id: String,
        #[serde(default)]
        picture: Option<Picture>,
        #[serde(default)]
        owner: Option<Owner>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Picture {
        #[serde(default)]
        id: Option<f64>,
        #[serde(default, rename = "imageURL")]
        image_url: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Owner {
        id: String,
        #[serde(default)]
        name: Option<String>,
    }

    fn tolerant<T: DeserializeOwned>(json: &str) -> Result<(T, Vec<DecodeWarning>), Failure> {
        decode(json.as_bytes(), false)
    }

    #[test]
    fn a_mismatched_optional_field_is_dropped_and_reported() {
        let body =
            r#"{"data":[{"id":"a"},{"id":"b","picture":{"id":"345","imageURL":"u"}}],"total":2}"#;
        let (page, warnings) = tolerant::<Page>(body).unwrap();
        assert_eq!(page.data[1].picture.as_ref().unwrap().id, None);
        assert_eq!(
            page.data[1].picture.as_ref().unwrap().image_url.as_deref(),
            Some("u")
        );
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].path, "data[1].picture.id");
        assert_eq!(warnings[0].value, Value::from("345"));
        assert!(decode::<Page>(body.as_bytes(), true).is_err());
    }

    #[test]
    fn a_mismatched_required_field_drops_its_nearest_optional_ancestor() {
        let body = r#"{"data":[{"id":"a","owner":{"id":7,"name":"Ada"}}],"total":-1}"#;
        let (page, warnings) = tolerant::<Page>(body).unwrap();
        assert_eq!(page.data[0].owner, None);
        assert_eq!(page.total, None);
        let paths: Vec<_> = warnings.iter().map(|w| w.path.as_str()).collect();
        assert_eq!(paths, ["data[0].owner", "total"]);
        // The dropped owner is reported whole, its id included.
        assert_eq!(warnings[0].value["id"], 7);
    }

    #[test]
    fn a_mismatched_required_field_without_optional_ancestor_fails_with_its_path() {
        let err = tolerant::<Page>(r#"{"data":[{"id":1}]}"#).unwrap_err();
        assert_eq!(err.path, "data[0].id");
        let err = tolerant::<Page>(r#"{"data":[{"picture":null}]}"#).unwrap_err();
        assert!(err.source.to_string().contains("missing field `id`"));
    }

    #[test]
    fn malformed_json_fails_at_once() {
        let err = tolerant::<Page>(r#"{"data":[{"id":"a"}"#).unwrap_err();
        assert!(err.source.is_eof());
    }
}
