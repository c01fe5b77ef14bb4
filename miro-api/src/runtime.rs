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

/// Appends `template` (an operation's path) to `url` with its placeholders (`{name}` or `{}`)
/// filled by `args` in order, each percent-encoded to stay one segment: the one filling of a
/// path, for the client's raw calls and the `miro` command line's `--dry-run`. The caller checks
/// that there are as many arguments as placeholders.
pub fn push_path<T: std::fmt::Display>(
    url: &mut String,
    template: &str,
    args: impl IntoIterator<Item = T>,
) {
    use std::fmt::Write as _;
    let mut rest = template;
    for arg in args {
        let (before, after) = rest.split_once('{').unwrap_or((rest, ""));
        url.push_str(before);
        // Writing to a `String` cannot fail.
        let _ = write!(url, "{}", path_segment(&arg));
        rest = after.split_once('}').map_or("", |(_, after)| after);
    }
    url.push_str(rest);
}

/// One path segment of a request's URL, percent-encoded as it is written (by `format!`), with no
/// copy of its own: what the generated requests put in their URLs.
pub fn path_segment<T: std::fmt::Display + ?Sized>(value: &T) -> PathSegment<'_, T> {
    PathSegment(value)
}

/// See [`path_segment`].
pub struct PathSegment<'a, T: ?Sized>(&'a T);

impl<T: std::fmt::Display + ?Sized> std::fmt::Display for PathSegment<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        /// Encodes what the value writes, piece by piece (each piece is whole characters).
        struct Encoding<'a, 'b>(&'a mut std::fmt::Formatter<'b>);
        impl std::fmt::Write for Encoding<'_, '_> {
            fn write_str(&mut self, s: &str) -> std::fmt::Result {
                utf8_percent_encode(s, PATH_SEGMENT).try_for_each(|part| self.0.write_str(part))
            }
        }
        std::fmt::write(&mut Encoding(f), format_args!("{}", self.0))
    }
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

pub use crate::nullable::present as nullable;

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

/// Decodes a JSON body as `T`, as `serde_json::from_slice` does: its text is checked as UTF-8
/// once, then read as a `str` (`from_slice` checks each string as it reads it, the keys
/// included). A body that is not UTF-8 goes to `from_slice`, for its error.
pub fn from_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    }
}

/// Decodes a date and time (`DateTime<Utc>`) as chrono's own `Deserialize` does, faster: chrono
/// reads every date through its relaxed RFC 3339 parser (a general format interpreter); this
/// tries its strict RFC 3339 parser first (what Miro sends), and only a string that one rejects
/// goes through the relaxed one. Both give the same instant for any string the strict one
/// accepts, so the value, and the error of a string neither accepts, are chrono's.
pub fn date_time<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<chrono::DateTime<chrono::Utc>, D::Error> {
    deserializer.deserialize_str(DateTimeVisitor)
}

/// [`date_time`] for an optional field (null is `None`, as for `Option<DateTime<Utc>>`).
pub fn opt_date_time<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, D::Error> {
    struct Date(chrono::DateTime<chrono::Utc>);
    impl<'de> serde::Deserialize<'de> for Date {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            date_time(d).map(Date)
        }
    }
    Ok(<Option<Date> as serde::Deserialize>::deserialize(deserializer)?.map(|d| d.0))
}

struct DateTimeVisitor;

impl serde::de::Visitor<'_> for DateTimeVisitor {
    type Value = chrono::DateTime<chrono::Utc>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // chrono's words, so that a mismatch reads the same.
        f.write_str("an RFC 3339 formatted date and time string")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if let Some(date) = utc_date_time(v) {
            return Ok(date);
        }
        chrono::DateTime::parse_from_rfc3339(v)
            .or_else(|_| v.parse::<chrono::DateTime<chrono::FixedOffset>>())
            .map(|d| d.with_timezone(&chrono::Utc))
            .map_err(E::custom)
    }
}

/// The one shape Miro writes its dates in, `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (a fraction of 1 to
/// 9 digits), read by position; anything else (an offset, a leap second, a longer fraction, an
/// invalid day) is `None` and left to chrono. For every string it reads, the instant is the one
/// chrono's RFC 3339 parser gives (a unit test compares them).
fn utc_date_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let b = s.as_bytes();
    if b.len() < 20 || b[b.len() - 1] != b'Z' {
        return None;
    }
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    // Two digits at `i`, as a number.
    let two = |i: usize| -> Option<u32> {
        let (high, low) = (b[i].wrapping_sub(b'0'), b[i + 1].wrapping_sub(b'0'));
        (high < 10 && low < 10).then_some(u32::from(high) * 10 + u32::from(low))
    };
    let nanos = match &b[19..b.len() - 1] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            let mut n = 0u32;
            for &c in fraction {
                let digit = c.wrapping_sub(b'0');
                if digit >= 10 {
                    return None;
                }
                n = n * 10 + u32::from(digit);
            }
            n * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    let year = two(0)? * 100 + two(2)?;
    let (second, minute, hour) = (two(17)?, two(14)?, two(11)?);
    if second > 59 {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(year as i32, two(5)?, two(8)?)?;
    let time = chrono::NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    Some(chrono::DateTime::from_naive_utc_and_offset(
        date.and_time(time),
        chrono::Utc,
    ))
}

thread_local! {
    /// The page size of the response being decoded on this thread (0: not known).
    static PAGE_SIZE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The most elements a page list reserves room for before it has seen them.
const MAX_RESERVED: usize = 1000;

/// Runs `decode` with `page_size` as the size [`page_list`] reserves: the page size a request
/// asked for (the `limit` it sent), for decoding its response on this thread. The client does
/// this for every paginated call; use it when decoding a page you fetched yourself
/// (re-exported as `miro_api::decode::with_page_size`).
pub fn with_page_size<R>(page_size: Option<u32>, decode: impl FnOnce() -> R) -> R {
    struct Restore(usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            PAGE_SIZE.with(|p| p.set(self.0));
        }
    }
    let size = page_size.map_or(0, |n| (n as usize).min(MAX_RESERVED));
    let _restore = Restore(PAGE_SIZE.with(|p| p.replace(size)));
    decode()
}

/// Decodes the list of a page (its `data`) as `Vec<T>` does, with room reserved for the page
/// size the request asked for, so that the list is allocated once instead of growing (and being
/// copied) five times on its way to 50 elements.
pub fn page_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    struct PageList<T>(std::marker::PhantomData<T>);
    impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for PageList<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            // What `Vec` expects, so that a mismatch reads the same.
            f.write_str("a sequence")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let reserve = seq
                .size_hint()
                .unwrap_or_else(|| PAGE_SIZE.with(std::cell::Cell::get));
            let mut out = Vec::with_capacity(reserve.min(MAX_RESERVED));
            while let Some(element) = seq.next_element()? {
                out.push(element);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_seq(PageList(std::marker::PhantomData))
}

/// The name under which serde_json's `RawValue` asks a deserializer for a value's JSON text
/// (borrowed from the input when it can) instead of the value.
pub(crate) const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// The JSON text of one value, as serde_json's `RawValue` captures it (nothing parsed), but
/// borrowed from the body when the decoder can lend it (`from_str`, `from_slice`): no copy. A
/// decoder that cannot (a `serde_json::Value`, a reader) hands over an owned copy.
pub struct RawText<'de>(std::borrow::Cow<'de, str>);

impl RawText<'_> {
    /// The JSON text.
    pub fn get(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for RawText<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
        use std::borrow::Cow;

        /// The text itself: borrowed, or owned.
        struct Text;
        impl<'de> Visitor<'de> for Text {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any valid JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
        }
        impl<'de> DeserializeSeed<'de> for Text {
            type Value = Cow<'de, str>;
            fn deserialize<D: serde::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Self::Value, D::Error> {
                d.deserialize_str(self)
            }
        }

        /// The raw value's one entry: its key (the token), then its text.
        struct Entry;
        impl<'de> Visitor<'de> for Entry {
            type Value = RawText<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any valid JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                if map.next_key::<de::IgnoredAny>()?.is_none() {
                    return Err(de::Error::invalid_length(0, &self));
                }
                map.next_value_seed(Text).map(RawText)
            }
        }
        let RawText(text) = deserializer.deserialize_newtype_struct(RAW_VALUE_TOKEN, Entry)?;
        Ok(RawText(text))
    }
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
        let encoded = |s: &str| path_segment(s).to_string();
        assert_eq!(encoded("uXjVOD6LSME="), "uXjVOD6LSME%3D");
        assert_eq!(encoded("a/b?c#d%e f"), "a%2Fb%3Fc%23d%25e%20f");
        assert_eq!(encoded("3458764517517819000"), "3458764517517819000");
        // What the generated requests write: the same, whatever the value's type, and for a
        // value written in several pieces (each piece encoded as it comes).
        assert_eq!(
            format!("/v2/boards/{}", path_segment("a/b?c#d%e f")),
            "/v2/boards/a%2Fb%3Fc%23d%25e%20f"
        );
        let id = uuid::Uuid::from_u128(0x1234);
        assert_eq!(path_segment(&id).to_string(), id.to_string());
        struct Pieces;
        impl std::fmt::Display for Pieces {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "é/{}?", 7)?;
                f.write_str("..")
            }
        }
        assert_eq!(path_segment(&Pieces).to_string(), encoded("é/7?.."));
        assert_eq!(path_segment(&Pieces).to_string(), "%C3%A9%2F7%3F..");
        // A path filled: each argument one segment, the template's text kept.
        let mut url = String::from("https://api.miro.com");
        push_path(&mut url, "/v2/boards/{board_id}/items/{}/x", ["a/b=", "7"]);
        assert_eq!(url, "https://api.miro.com/v2/boards/a%2Fb%3D/items/7/x");
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
    fn dates_decode_as_chrono_decodes_them() {
        type Chrono = chrono::DateTime<chrono::Utc>;
        let samples = [
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00.000Z",
            "2023-11-22T23:24:05.123456789Z",
            "2023-11-22T23:24:05.1234567891234Z",
            "2023-11-22t23:24:05z",
            "2023-11-22 23:24:05Z",
            "2023-11-22T23:24:05+05:30",
            "2023-11-22T23:24:05-00:00",
            "2023-11-22T23:24:05+0530",
            "2023-11-22T23:24:05+23:59",
            "2023-11-22T23:24:05+24:00",
            "2016-12-31T23:59:60Z",
            "2016-12-31T23:59:60.5+01:00",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999Z",
            "+12345-01-01T00:00:00Z",
            "2024-02-30T00:00:00Z",
            "2024-1-2T3:4:5Z",
            "2024-01-01T00:00:00 UTC",
            "2024-01-01T00:00:00",
            "2024-01-01",
            "yesterday",
            "",
            " 2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00Z ",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00,5Z",
            "2022-03-30T17:26:50.000Z",
            "2022-03-30T17:26:50.1Z",
            "2022-03-30T17:26:50.123456789Z",
            "2022-03-30T17:26:50.1234567891Z",
            "2022-03-30T17:26:60Z",
            "2016-12-31T23:59:60Z",
            "2022-03-30T24:00:00Z",
            "2022-03-30T23:60:00Z",
            "2022-13-30T23:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-02-29T00:00:00Z",
            "2022-03-30t17:26:50Z",
            "2022-03-30 17:26:50Z",
            "2022-03-30T17:26:50z",
            "2022-03-30T17:26:50.Z",
            "2022-03-30T17:26:5a.000Z",
            "2022-03-30T17:26:50.00aZ",
            "2022-03-30T17:26:50.-1Z",
            "-022-03-30T17:26:50Z",
            "0000-00-00T00:00:00Z",
            "2022-03-30T17:26:50.000+00:00",
            "2022-03-30T17:26:50.000-00:00",
        ];
        let mut accepted = 0;
        for s in samples {
            let json = serde_json::to_string(s).unwrap();
            let ours = date_time(&mut serde_json::Deserializer::from_str(&json));
            let theirs = serde_json::from_str::<Chrono>(&json);
            match (&ours, &theirs) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a, b, "{s}");
                    accepted += 1;
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{s}"),
                _ => panic!("{s}: ours {ours:?}, chrono's {theirs:?}"),
            }
        }
        assert!(accepted >= 12, "{accepted}");
        // Not a string, null, and the optional form.
        for json in ["7", "null", "{}"] {
            let ours =
                date_time(&mut serde_json::Deserializer::from_str(json)).map_err(|e| e.to_string());
            let theirs = serde_json::from_str::<Chrono>(json).map_err(|e| e.to_string());
            assert_eq!(ours.unwrap_err(), theirs.unwrap_err(), "{json}");
            let ours = opt_date_time(&mut serde_json::Deserializer::from_str(json))
                .map_err(|e| e.to_string());
            let theirs = serde_json::from_str::<Option<Chrono>>(json).map_err(|e| e.to_string());
            assert_eq!(ours, theirs, "{json}");
        }
        let value = serde_json::json!("2024-01-01T00:00:00.5+01:00");
        assert_eq!(
            opt_date_time(&value).unwrap(),
            Some(Chrono::deserialize(&value).unwrap())
        );
    }

    #[test]
    fn page_lists_reserve_the_page_size() {
        let list = |json: &str| -> Vec<u32> {
            page_list(&mut serde_json::Deserializer::from_str(json)).unwrap()
        };
        let reserved = with_page_size(Some(50), || list("[1,2,3]"));
        assert_eq!((reserved.len(), reserved.capacity()), (3, 50));
        let capped = with_page_size(Some(u32::MAX), || list("[]"));
        assert_eq!(capped.capacity(), MAX_RESERVED);
        // Restored afterwards; and a parsed value's exact length wins.
        assert_eq!(list("[]").capacity(), 0);
        let value = serde_json::json!([1, 2]);
        let from_value: Vec<u32> = with_page_size(Some(50), || page_list(&value).unwrap());
        assert_eq!(from_value.capacity(), 2);
        // Errors read as `Vec`'s.
        let err = |json: &str| {
            let ours = page_list::<_, u32>(&mut serde_json::Deserializer::from_str(json));
            let theirs = serde_json::from_str::<Vec<u32>>(json);
            assert_eq!(
                ours.unwrap_err().to_string(),
                theirs.unwrap_err().to_string()
            );
        };
        err("null");
        err("{}");
        err(r#"[1,"x"]"#);
    }

    #[test]
    fn bodies_decode_as_from_slice_decodes_them() {
        let cases: [&[u8]; 7] = [
            br#"{"a":"x","b":[1,2.5,null]}"#,
            b"{\"a\":\"\xc3\xa9\"}",
            b"{\"a\":\"\xff\"}",
            br#"{"a":1"#,
            br#"{"a":1} x"#,
            br#"{"a":"\ud800"}"#,
            b"",
        ];
        for bytes in cases {
            let ours = from_json::<serde_json::Value>(bytes).map_err(|e| e.to_string());
            let theirs =
                serde_json::from_slice::<serde_json::Value>(bytes).map_err(|e| e.to_string());
            assert_eq!(ours, theirs, "{}", String::from_utf8_lossy(bytes));
        }
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
