//! Helpers the generated code calls. Not part of the public API.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::ser::Error as _;
use serde::{Serialize, Serializer};

use crate::error::Error;
use crate::upload::FilePart;

/// Everything but RFC 3986's unreserved characters is encoded, so an id holding `/`, `?`, `#`,
/// `%` or `=` stays one path segment.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one path segment.
pub fn encode_path(segment: &str) -> String {
    utf8_percent_encode(segment, PATH_SEGMENT).to_string()
}

/// The pairs of one query parameter: none for `None`, one for a scalar, one per element of a list.
fn query_pairs<T: Serialize>(
    name: &str,
    value: &T,
) -> Result<Vec<(String, String)>, serde_json::Error> {
    let scalar = |v: serde_json::Value| match v {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    };
    Ok(match serde_json::to_value(value)? {
        serde_json::Value::Null => Vec::new(),
        serde_json::Value::Array(items) => items
            .into_iter()
            .map(|v| (name.to_string(), scalar(v)))
            .collect(),
        other => vec![(name.to_string(), scalar(other))],
    })
}

/// Appends the pairs of one query parameter (a paginated request's filters, for its stream).
pub fn push_query<T: Serialize>(query: &mut Vec<(String, String)>, name: &str, value: &T) {
    // The generated parameter types (strings, numbers, open enums, lists of them) always encode.
    query.extend(query_pairs(name, value).unwrap_or_default());
}

/// One query parameter: nothing for `None`, one pair for a scalar, one pair per element for a list.
pub struct QueryParam<'a, T> {
    name: &'a str,
    value: &'a T,
}

impl<'a, T> QueryParam<'a, T> {
    /// A parameter named `name`.
    pub fn new(name: &'a str, value: &'a T) -> Self {
        QueryParam { name, value }
    }
}

impl<T: Serialize> Serialize for QueryParam<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(query_pairs(self.name, self.value).map_err(S::Error::custom)?)
    }
}

/// A `multipart/form-data` body built in memory, so that a retry sends the same bytes.
pub struct MultipartBody {
    parts: Vec<Part>,
}

struct Part {
    name: String,
    file_name: Option<String>,
    content_type: String,
    bytes: bytes::Bytes,
}

impl Default for MultipartBody {
    fn default() -> Self {
        Self::new()
    }
}

impl MultipartBody {
    /// An empty body.
    pub fn new() -> Self {
        MultipartBody { parts: Vec::new() }
    }

    /// Adds `value` as a JSON part.
    pub fn json<T: Serialize + ?Sized>(mut self, name: &str, value: &T) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(value).map_err(|e| Error::InvalidRequest {
            operation: "multipart",
            message: format!("part {name}: {e}"),
        })?;
        self.parts.push(Part {
            name: name.to_string(),
            file_name: None,
            content_type: "application/json".into(),
            bytes: bytes.into(),
        });
        Ok(self)
    }

    /// Adds `value` as a JSON part when present.
    pub fn json_opt<T: Serialize + ?Sized>(
        self,
        name: &str,
        value: Option<&T>,
    ) -> Result<Self, Error> {
        match value {
            Some(v) => self.json(name, v),
            None => Ok(self),
        }
    }

    /// Adds a file part.
    pub fn file(mut self, name: &str, file: FilePart) -> Self {
        self.parts.push(Part {
            name: name.to_string(),
            file_name: Some(file.file_name),
            content_type: file.content_type,
            bytes: file.bytes,
        });
        self
    }

    /// Adds a file part when present.
    pub fn file_opt(self, name: &str, file: Option<FilePart>) -> Self {
        match file {
            Some(f) => self.file(name, f),
            None => self,
        }
    }

    /// Adds one part named `name` per file.
    pub fn files(self, name: &str, files: Vec<FilePart>) -> Self {
        files.into_iter().fold(self, |body, f| body.file(name, f))
    }

    /// A boundary that occurs in no part.
    fn boundary(&self) -> String {
        let mut n: u64 = 0x6d69_726f_2d72_7300;
        loop {
            let candidate = format!("miro-rs-boundary-{n:016x}");
            let needle = candidate.as_bytes();
            let clash = self
                .parts
                .iter()
                .any(|p| p.bytes.windows(needle.len()).any(|w| w == needle));
            if !clash {
                return candidate;
            }
            n = n
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
        }
    }

    /// The `Content-Type` header value and the encoded body (the boundary is chosen once).
    pub fn finish(self) -> (String, Vec<u8>) {
        let boundary = self.boundary();
        let size: usize = self.parts.iter().map(|p| p.bytes.len() + 200).sum();
        let mut out = Vec::with_capacity(size + 64);
        for part in &self.parts {
            out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            let name = quote_header_value(&part.name);
            match &part.file_name {
                Some(file) => out.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{}\"\r\n",
                        quote_header_value(file)
                    )
                    .as_bytes(),
                ),
                None => out.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n").as_bytes(),
                ),
            }
            out.extend_from_slice(
                format!("Content-Type: {}\r\n\r\n", part.content_type).as_bytes(),
            );
            out.extend_from_slice(&part.bytes);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        (format!("multipart/form-data; boundary={boundary}"), out)
    }
}

/// Escapes a quoted header parameter: quotes and line breaks can't end it early.
fn quote_header_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace(['\r', '\n'], " ")
}

/// Decodes an optional id that the spec documents as a number and Miro sends as a string: a
/// string is kept as is, a number becomes its digits (no float rounding), null is `None`.
pub fn lenient_id<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    struct Id;
    impl<'de> serde::de::Visitor<'de> for Id {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an id as a string or a number")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            // Only a number past u64 gets here; its digits are already rounded, keep them.
            Ok(Some(if v.fract() == 0.0 && v.abs() < 1e21 {
                format!("{v:.0}")
            } else {
                v.to_string()
            }))
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(Id)
        }
    }
    deserializer.deserialize_any(Id)
}

/// Decodes `value` as the union variant `label` (`Union::Variant`) that its discriminator
/// picked, so that a failure names the variant and the real error.
pub fn decode_variant<T: serde::de::DeserializeOwned, E: serde::de::Error>(
    value: &serde_json::Value,
    label: &str,
) -> Result<T, E> {
    T::deserialize(value).map_err(|e| E::custom(format_args!("{label}: {e}")))
}

/// Decodes an open enum (a generated string enum with an `UnknownValue(String)` variant) from a
/// string: a known value without allocating (`known`), any other kept whole (`unknown`). The
/// same as decoding a `String` first, errors included, without its allocation.
pub fn open_enum<'de, D, T>(
    deserializer: D,
    known: fn(&str) -> Option<T>,
    unknown: fn(String) -> T,
) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct OpenEnum<T> {
        known: fn(&str) -> Option<T>,
        unknown: fn(String) -> T,
    }
    impl<T> serde::de::Visitor<'_> for OpenEnum<T> {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            // What `String` expects, so that a mismatch reads the same.
            f.write_str("a string")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
            Ok((self.known)(v).unwrap_or_else(|| (self.unknown)(v.to_owned())))
        }
        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<T, E> {
            Ok(match (self.known)(&v) {
                Some(value) => value,
                None => (self.unknown)(v),
            })
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<T, E> {
            match std::str::from_utf8(v) {
                Ok(s) => self.visit_str(s),
                Err(_) => Err(E::invalid_value(serde::de::Unexpected::Bytes(v), &self)),
            }
        }
        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<T, E> {
            match String::from_utf8(v) {
                Ok(s) => self.visit_string(s),
                Err(e) => Err(E::invalid_value(
                    serde::de::Unexpected::Bytes(&e.into_bytes()),
                    &self,
                )),
            }
        }
    }
    deserializer.deserialize_string(OpenEnum { known, unknown })
}

/// The value of an item's `type` field, whatever its Rust type, for decoding its data.
pub trait OuterTag {
    /// The `type` as a string, if any.
    fn outer_tag(&self) -> Option<&str>;
}

impl OuterTag for String {
    fn outer_tag(&self) -> Option<&str> {
        Some(self)
    }
}

impl<T: OuterTag> OuterTag for Option<T> {
    fn outer_tag(&self) -> Option<&str> {
        self.as_ref().and_then(OuterTag::outer_tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[test]
    fn path_segments_stay_single() {
        assert_eq!(encode_path("uXjVOD6LSME="), "uXjVOD6LSME%3D");
        assert_eq!(encode_path("a/b?c#d%e f"), "a%2Fb%3Fc%23d%25e%20f");
        assert_eq!(encode_path("3458764517517819000"), "3458764517517819000");
    }

    #[test]
    fn ids_keep_every_digit_from_a_string_or_a_number() {
        #[derive(serde::Deserialize)]
        struct Picture {
            #[serde(default, deserialize_with = "lenient_id")]
            id: Option<String>,
        }
        let id = |json: &str| serde_json::from_str::<Picture>(json).unwrap().id;
        assert_eq!(
            id(r#"{"id":3458764514006802400}"#).as_deref(),
            Some("3458764514006802400")
        );
        assert_eq!(
            id(r#"{"id":"3458764514006802400"}"#).as_deref(),
            Some("3458764514006802400")
        );
        assert_eq!(id(r#"{"id":-12}"#).as_deref(), Some("-12"));
        assert_eq!(id(r#"{"id":null}"#), None);
        assert_eq!(id("{}"), None);
        assert!(serde_json::from_str::<Picture>(r#"{"id":[1]}"#).is_err());
    }

    #[derive(Debug, PartialEq)]
    enum Shape {
        Square,
        UnknownValue(String),
    }

    fn shape_known(v: &str) -> Option<Shape> {
        (v == "square").then_some(Shape::Square)
    }

    /// The open enum as it decoded before: a `String` first.
    fn shape_via_string(json: &str) -> Result<Shape, String> {
        serde_json::from_str::<String>(json)
            .map(|v| shape_known(&v).unwrap_or(Shape::UnknownValue(v)))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn open_enums_decode_as_through_a_string() {
        let decode = |json: &str| -> Result<Shape, String> {
            let mut de = serde_json::Deserializer::from_str(json);
            open_enum(&mut de, shape_known, Shape::UnknownValue).map_err(|e| e.to_string())
        };
        let from_value = |json: &str| -> Result<Shape, String> {
            let v: serde_json::Value = serde_json::from_str(json).unwrap();
            let by_ref = open_enum(&v, shape_known, Shape::UnknownValue).map_err(|e| e.to_string());
            let owned = open_enum(v, shape_known, Shape::UnknownValue).map_err(|e| e.to_string());
            assert_eq!(by_ref, owned);
            owned
        };
        for json in [
            r#""square""#,
            r#""sq\u0075are""#,
            r#""circle""#,
            r#""Square""#,
            r#""""#,
            r#""\u00e9\n""#,
            "7",
            "null",
            "[]",
            "{}",
            "true",
        ] {
            let expected = shape_via_string(json);
            assert_eq!(decode(json), expected, "{json}");
            let expected_value = serde_json::from_str::<serde_json::Value>(json)
                .map(|v| {
                    String::deserialize(v)
                        .map(|v| shape_known(&v).unwrap_or(Shape::UnknownValue(v)))
                        .map_err(|e| e.to_string())
                })
                .unwrap();
            assert_eq!(from_value(json), expected_value, "{json}");
        }
        assert_eq!(decode(r#""square""#), Ok(Shape::Square));
        assert_eq!(
            decode(r#""circle""#),
            Ok(Shape::UnknownValue("circle".into()))
        );
    }

    #[test]
    fn boundary_avoids_part_content() {
        let body = MultipartBody::new();
        let first = body.boundary();
        let body = body.file(
            "resource",
            FilePart::new(format!("x{first}x").into_bytes(), "a.txt", "text/plain"),
        );
        assert_ne!(body.boundary(), first);
    }
}
