//! Fault injection: make chosen requests fail or answer oddly, so clients can
//! be tested against the failures the real service shows.
//!
//! A [`Fault`] has a [`FaultKind`], an optional route (`"GET /v2/boards/{board_id}/items"`;
//! parameter names don't matter, `*` as the method matches any) and a trigger:
//! every matching request, the next N matching requests, or each matching
//! request with a probability drawn from the emulator's seeded generator
//! (deterministic for a given seed and request order).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::ids::Rng;

/// What an injected fault does to a request.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FaultKind {
    /// Answer with this status (e.g. 502, 503) and an HTML body, without
    /// handling the request.
    ServerError(u16),
    /// Wait this long, then handle the request normally.
    Delay(Duration),
    /// Close the connection without sending any response.
    DropConnection,
    /// Send only the first half of the JSON body (Content-Length matches the
    /// shortened body, so only the JSON is broken).
    TruncatedBody,
    /// Send the JSON body with a syntax error in it.
    MalformedJson,
    /// Add unknown fields to every JSON object of the response.
    ExtraFields,
    /// Replace enum values (`origin`, `relativeTo`, `shape`, `role`,
    /// `fillColor`, `status`, ...) with a value no client knows.
    UnknownEnumValue,
    /// Make items of an unknown type appear: a single item's `type` is
    /// replaced; a list gets one extra item of an unknown type appended.
    UnknownItemType,
    /// Answer a cursor page with the same cursor the request sent (also in
    /// `links.next`). Only requests that carry a `cursor` match.
    RepeatedCursor,
}

impl FaultKind {
    /// Whether the fault changes the response of a handled request.
    pub(crate) fn is_response_transform(&self) -> bool {
        matches!(
            self,
            FaultKind::TruncatedBody
                | FaultKind::MalformedJson
                | FaultKind::ExtraFields
                | FaultKind::UnknownEnumValue
                | FaultKind::UnknownItemType
                | FaultKind::RepeatedCursor
        )
    }
}

/// When a fault fires.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trigger {
    /// On every matching request until removed.
    Always,
    /// On the next `n` matching requests, then the fault is removed.
    Next(u32),
    /// On each matching request with this probability (0.0..=1.0).
    Probability(f64),
}

/// A fault to inject with [`RunningEmulator::inject_fault`](crate::RunningEmulator::inject_fault).
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// What happens.
    pub kind: FaultKind,
    /// `"METHOD /path/{param}"`, or `None` for every route.
    pub route: Option<String>,
    /// When it happens.
    pub trigger: Trigger,
}

impl Fault {
    /// A fault that fires on every request of every route.
    pub fn new(kind: FaultKind) -> Self {
        Fault {
            kind,
            route: None,
            trigger: Trigger::Always,
        }
    }

    /// Restricts the fault to one route, e.g. `"GET /v2/boards/{board_id}/items"`.
    pub fn on(mut self, route: impl Into<String>) -> Self {
        self.route = Some(route.into());
        self
    }

    /// Fires on the next `n` matching requests only.
    pub fn times(mut self, n: u32) -> Self {
        self.trigger = Trigger::Next(n);
        self
    }

    /// Fires on each matching request with probability `p`.
    pub fn probability(mut self, p: f64) -> Self {
        self.trigger = Trigger::Probability(p);
        self
    }
}

/// The handle of an injected fault, to remove it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FaultId(u64);

#[derive(Debug)]
struct Active {
    id: u64,
    kind: FaultKind,
    method: Option<String>,
    pattern: Option<String>,
    trigger: Trigger,
}

/// The injected faults.
#[derive(Debug)]
pub(crate) struct Faults {
    count: AtomicUsize,
    inner: Mutex<(Vec<Active>, Rng, u64)>,
}

/// Replaces every `{name}` of a path pattern with `{}`.
pub(crate) fn normalize_pattern(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

impl Faults {
    pub(crate) fn new(seed: u64) -> Self {
        Faults {
            count: AtomicUsize::new(0),
            inner: Mutex::new((Vec::new(), Rng::new(seed ^ 0xFA17), 0)),
        }
    }

    pub(crate) fn add(&self, fault: Fault) -> Result<FaultId> {
        let (method, pattern) = match &fault.route {
            None => (None, None),
            Some(route) => {
                let mut it = route.split_whitespace();
                match (it.next(), it.next(), it.next()) {
                    (Some(m), Some(p), None) if p.starts_with('/') => {
                        let m = if m == "*" {
                            None
                        } else {
                            Some(m.to_ascii_uppercase())
                        };
                        (m, Some(normalize_pattern(p.trim_end_matches('/'))))
                    }
                    _ => return Err(Error::InvalidRoute(route.clone())),
                }
            }
        };
        if let Trigger::Probability(p) = fault.trigger {
            if !(0.0..=1.0).contains(&p) {
                return Err(Error::InvalidProbability(p));
            }
        }
        let mut inner = self.inner.lock();
        inner.2 += 1;
        let id = inner.2;
        inner.0.push(Active {
            id,
            kind: fault.kind,
            method,
            pattern,
            trigger: fault.trigger,
        });
        self.count.store(inner.0.len(), Ordering::Release);
        Ok(FaultId(id))
    }

    pub(crate) fn remove(&self, id: FaultId) -> bool {
        let mut inner = self.inner.lock();
        let before = inner.0.len();
        inner.0.retain(|a| a.id != id.0);
        self.count.store(inner.0.len(), Ordering::Release);
        inner.0.len() != before
    }

    pub(crate) fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.0.clear();
        self.count.store(0, Ordering::Release);
    }

    /// The faults firing for this request, in injection order.
    pub(crate) fn fire(
        &self,
        method: &str,
        pattern: Option<&str>,
        has_cursor: bool,
    ) -> Vec<FaultKind> {
        if self.count.load(Ordering::Acquire) == 0 {
            return Vec::new();
        }
        let normalized = pattern.map(normalize_pattern);
        let mut inner = self.inner.lock();
        let (active, rng, _) = &mut *inner;
        let mut fired = Vec::new();
        for a in active.iter_mut() {
            if a.method.as_deref().is_some_and(|m| m != method) {
                continue;
            }
            if let Some(p) = &a.pattern {
                if normalized.as_deref() != Some(p.as_str()) {
                    continue;
                }
            }
            if a.kind == FaultKind::RepeatedCursor && !has_cursor {
                continue;
            }
            let fires = match &mut a.trigger {
                Trigger::Always => true,
                Trigger::Next(n) => {
                    if *n > 0 {
                        *n -= 1;
                        true
                    } else {
                        false
                    }
                }
                Trigger::Probability(p) => rng.next_f64() < *p,
            };
            if fires {
                fired.push(a.kind.clone());
            }
        }
        active.retain(|a| a.trigger != Trigger::Next(0));
        self.count.store(active.len(), Ordering::Release);
        fired
    }
}

/// The HTML body of an injected server error.
pub(crate) fn html_error(status: u16) -> String {
    format!(
        "<html>\r\n<head><title>{status} Server Error</title></head>\r\n<body>\r\n<center><h1>{status} Server Error</h1></center>\r\n<hr><center>emulated gateway</center>\r\n</body>\r\n</html>\r\n"
    )
}

/// The first half of a body.
pub(crate) fn truncate(body: &Bytes) -> Bytes {
    body.slice(..body.len() / 2)
}

/// The body with its first `:` turned into `=`, which no JSON parser accepts.
pub(crate) fn malform(body: &Bytes) -> Bytes {
    let mut v = body.to_vec();
    match v.iter().position(|b| *b == b':') {
        Some(i) => v[i] = b'=',
        None => v.splice(0..0, b"{oops".iter().copied()).for_each(drop),
    }
    Bytes::from(v)
}

const UNKNOWN_FIELD: &str = "emulatorUnknownField";
const UNKNOWN_VALUE: &str = "emulator_unknown_value";
/// The item type that [`FaultKind::UnknownItemType`] introduces.
pub const UNKNOWN_ITEM_TYPE: &str = "emulator_unknown_type";
const ENUM_KEYS: &[&str] = &[
    "origin",
    "relativeTo",
    "shape",
    "role",
    "fillColor",
    "status",
    "textAlign",
    "textAlignVertical",
    "format",
];

/// Adds an unknown field to every object.
pub(crate) fn add_unknown_fields(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for child in map.values_mut() {
                add_unknown_fields(child);
            }
            map.insert(
                UNKNOWN_FIELD.to_string(),
                json!({"note": "a field this client does not know", "n": 1}),
            );
        }
        Value::Array(list) => list.iter_mut().for_each(add_unknown_fields),
        _ => {}
    }
}

/// Replaces string values of enum-like keys with an unknown value.
pub(crate) fn unknown_enum_values(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if child.is_string() && ENUM_KEYS.contains(&k.as_str()) {
                    *child = Value::from(UNKNOWN_VALUE);
                } else {
                    unknown_enum_values(child);
                }
            }
        }
        Value::Array(list) => list.iter_mut().for_each(unknown_enum_values),
        _ => {}
    }
}

/// Introduces an item of unknown type.
pub(crate) fn unknown_item_type(v: &mut Value) {
    let Some(map) = v.as_object_mut() else { return };
    if let Some(Value::Array(list)) = map.get_mut("data") {
        let id = list
            .iter()
            .filter_map(|i| i.get("id").and_then(Value::as_str))
            .next()
            .map(|s| s.to_string())
            .unwrap_or_else(|| "3458764599999999999".to_string());
        let mut extra = Map::new();
        extra.insert(
            "id".into(),
            Value::from(format!("9{}", &id[1.min(id.len())..])),
        );
        extra.insert("type".into(), Value::from(UNKNOWN_ITEM_TYPE));
        extra.insert(
            "data".into(),
            json!({"futureField": [1, 2, 3], "content": "?"}),
        );
        extra.insert(
            "position".into(),
            json!({"x": 0.0, "y": 0.0, "origin": "center", "relativeTo": "canvas_center"}),
        );
        list.push(Value::Object(extra));
    } else if map.contains_key("id") && map.get("type").is_some_and(Value::is_string) {
        map.insert("type".into(), Value::from(UNKNOWN_ITEM_TYPE));
    }
}

/// Makes a cursor page hand back the request's own cursor.
pub(crate) fn repeat_cursor(v: &mut Value, request_cursor: &str) {
    let Some(map) = v.as_object_mut() else { return };
    // A cursor page: board lists always carry `links`; the enterprise lists
    // carry only `data` (and `cursor` before the last page).
    let is_page = map.contains_key("cursor")
        || map.contains_key("links")
        || map.get("data").is_some_and(Value::is_array);
    if !is_page {
        return;
    }
    map.insert("cursor".into(), Value::from(request_cursor));
    if let Some(links) = map.get_mut("links").and_then(Value::as_object_mut) {
        if let Some(self_link) = links.get("self").cloned() {
            links.insert("next".into(), self_link);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_ignore_param_names() {
        assert_eq!(
            normalize_pattern("/v2/boards/{board_id}/items/{x}"),
            "/v2/boards/{}/items/{}"
        );
    }

    #[test]
    fn next_n_fires_n_times() {
        let f = Faults::new(1);
        f.add(
            Fault::new(FaultKind::DropConnection)
                .on("GET /v2/boards/{id}")
                .times(2),
        )
        .unwrap();
        assert_eq!(f.fire("GET", Some("/v2/boards/{board_id}"), false).len(), 1);
        assert!(f
            .fire("POST", Some("/v2/boards/{board_id}"), false)
            .is_empty());
        assert_eq!(f.fire("GET", Some("/v2/boards/{board_id}"), false).len(), 1);
        assert!(f
            .fire("GET", Some("/v2/boards/{board_id}"), false)
            .is_empty());
    }

    #[test]
    fn rejects_bad_routes() {
        let f = Faults::new(1);
        assert!(f
            .add(Fault::new(FaultKind::MalformedJson).on("/v2/boards"))
            .is_err());
        assert!(f
            .add(Fault::new(FaultKind::MalformedJson).probability(2.0))
            .is_err());
    }
}
