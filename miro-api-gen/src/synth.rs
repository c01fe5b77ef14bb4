//! Synthesizes JSON values that satisfy the fixed spec's schemas: the emulator's built-in answers
//! and the default arguments of the all-operations harness.
//!
//! The rules, in order: a usable `example` of the schema itself (one that has the schema's type,
//! is in its enum and, for strings, has its format); for a oneOf, the variant a `discriminator`
//! names first, else the first variant; allOf parts merged; the first enum value; objects with
//! their required properties plus the optional ones whose schema carries a usable example (a
//! oneOf chosen by the object's `type` through `x-miro-outer-tag` follows that `type`); arrays
//! with one element (or `minItems`); strings by format (date-time, date, uri, email, uuid) and by
//! name (ids look like Miro's); numbers at their `default` or `minimum`.

use serde_json::{json, Map, Value};

/// How deep objects are built before only required properties are kept.
const MAX_DEPTH: usize = 12;

/// A numeric id as Miro hands them out.
pub const NUMERIC_ID: &str = "3458764517517819001";
/// A board id as Miro hands them out.
pub const BOARD_ID: &str = "uXjVOD6LSME=";

/// A synthesizer over one (fixed) spec.
pub struct Synth<'a> {
    spec: &'a Value,
    /// `$ref`s being expanded, to cut recursion.
    stack: Vec<String>,
    /// Objects get their required properties only (no optional ones from examples).
    required_only: bool,
    /// Objects get every property (to a depth), not only those with examples.
    every_property: bool,
}

impl<'a> Synth<'a> {
    /// A synthesizer for `spec`.
    pub fn new(spec: &'a Value) -> Self {
        Synth {
            spec,
            stack: Vec::new(),
            required_only: false,
            every_property: false,
        }
    }

    /// A synthesizer for `spec` whose objects hold every property they declare (to a depth,
    /// recursion cut): the fullest value of a type.
    pub fn every_property(spec: &'a Value) -> Self {
        Synth {
            every_property: true,
            ..Synth::new(spec)
        }
    }

    /// A synthesizer for `spec` whose objects hold their required properties and nothing else:
    /// the smallest valid value of a type.
    pub fn required_only(spec: &'a Value) -> Self {
        Synth {
            required_only: true,
            ..Synth::new(spec)
        }
    }

    fn resolve<'v>(&self, schema: &'v Value) -> (&'v Value, Option<&'v str>)
    where
        'a: 'v,
    {
        resolve(self.spec, schema)
    }

    fn lookup(&self, reference: &str) -> Option<&'a Value> {
        lookup(self.spec, reference)
    }

    /// A value for `schema`; `name` is the property or parameter name, when there is one.
    pub fn value(&mut self, schema: &Value, name: Option<&str>) -> Value {
        self.value_at(schema, name, 0)
    }

    fn value_at(&mut self, schema: &Value, name: Option<&str>, depth: usize) -> Value {
        let (s, reference) = resolve(self.spec, schema);
        if let Some(r) = reference {
            if self.stack.iter().any(|x| x == r) {
                return minimal(s);
            }
            self.stack.push(r.to_string());
        }
        let v = self.expand(s, name, depth);
        if reference.is_some() {
            self.stack.pop();
        }
        v
    }

    fn expand(&mut self, s: &Value, name: Option<&str>, depth: usize) -> Value {
        if let Some(ex) = self.usable_example(s) {
            return ex;
        }
        if let Some(variants) = s
            .get("oneOf")
            .or_else(|| s.get("anyOf"))
            .and_then(Value::as_array)
        {
            if let Some((key, target)) = s
                .pointer("/discriminator/mapping")
                .and_then(Value::as_object)
                .and_then(|m| m.iter().next())
            {
                let prop = s
                    .pointer("/discriminator/propertyName")
                    .and_then(Value::as_str)
                    .unwrap_or("type");
                if let Some(target) = target.as_str().and_then(|t| self.lookup(t)) {
                    let mut v = self.value_at(target, name, depth);
                    if let Some(o) = v.as_object_mut() {
                        o.insert(prop.to_string(), Value::from(key.as_str()));
                    }
                    return v;
                }
            }
            if let Some(first) = variants.first() {
                return self.value_at(first, name, depth);
            }
        }
        if let Some(parts) = s.get("allOf").and_then(Value::as_array) {
            let merged = self.merge_all_of(parts);
            return self.object(&merged, depth);
        }
        if let Some(first) = s
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|e| e.iter().find(|v| !v.is_null()))
        {
            return spec_default(s)
                .filter(|d| s["enum"].as_array().is_some_and(|e| e.contains(d)))
                .unwrap_or(first)
                .clone();
        }
        match s.get("type").and_then(Value::as_str) {
            Some("object") => self.object(s, depth),
            Some("array") => self.array(s, name, depth),
            Some("string") => Value::from(string_for(s, name)),
            Some("integer") => integer_for(s),
            Some("number") => number_for(s),
            Some("boolean") => spec_default(s).cloned().unwrap_or(Value::Bool(false)),
            _ if s.get("properties").is_some() => self.object(s, depth),
            _ => json!({}),
        }
    }

    /// The properties and required names of allOf parts (references followed), as one object
    /// schema.
    pub fn merge_all_of(&self, parts: &[Value]) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for part in parts {
            let (p, _) = self.resolve(part);
            if let Some(props) = p.get("properties").and_then(Value::as_object) {
                for (k, v) in props {
                    properties.insert(k.clone(), v.clone());
                }
            }
            for r in p
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if !required.contains(r) {
                    required.push(r.clone());
                }
            }
        }
        json!({"type": "object", "properties": properties, "required": required})
    }

    fn object(&mut self, s: &Value, depth: usize) -> Value {
        let mut out = Map::new();
        let Some(props) = s.get("properties").and_then(Value::as_object) else {
            return Value::Object(out);
        };
        let required: Vec<&str> = s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut outer_tagged = Vec::new();
        for (key, prop) in props {
            let (resolved, _) = resolve(self.spec, prop);
            let wanted = required.contains(&key.as_str())
                || (!self.required_only
                    && depth < MAX_DEPTH
                    && (self.every_property || self.usable_example(resolved).is_some()));
            if !wanted {
                continue;
            }
            if resolved.get("x-miro-outer-tag").is_some() {
                outer_tagged.push((key.clone(), resolved));
                continue;
            }
            let v = self.value_at(prop, Some(key), depth + 1);
            out.insert(key.clone(), v);
        }
        for (key, resolved) in outer_tagged {
            let Some(mapping) = resolved
                .pointer("/x-miro-outer-tag/mapping")
                .and_then(Value::as_object)
            else {
                continue;
            };
            let tag_prop = resolved
                .pointer("/x-miro-outer-tag/property")
                .and_then(Value::as_str)
                .unwrap_or("type");
            let current = out
                .get(tag_prop)
                .and_then(Value::as_str)
                .map(str::to_string);
            let chosen = current
                .filter(|t| mapping.contains_key(t))
                .or_else(|| mapping.keys().next().cloned());
            let Some(tag) = chosen else { continue };
            let Some(variant) = mapping.get(&tag).and_then(Value::as_str) else {
                continue;
            };
            let Some(variant_schema) = self.lookup(&format!("#/components/schemas/{variant}"))
            else {
                continue;
            };
            out.insert(tag_prop.to_string(), Value::from(tag));
            let v = self.value_at(variant_schema, Some(&key), depth + 1);
            out.insert(key, v);
        }
        Value::Object(out)
    }

    fn array(&mut self, s: &Value, name: Option<&str>, depth: usize) -> Value {
        let min = s.get("minItems").and_then(Value::as_u64).unwrap_or(1);
        let max = s
            .get("maxItems")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX);
        let n = min.max(1).min(max);
        let Some(items) = s.get("items") else {
            return json!([]);
        };
        let (_, reference) = resolve(self.spec, items);
        let recursive = reference.is_some_and(|r| self.stack.iter().any(|x| x == r));
        if n == 0 || (min == 0 && (recursive || depth >= MAX_DEPTH)) {
            return json!([]);
        }
        let one = self.value_at(items, name, depth + 1);
        Value::Array((0..n).map(|_| one.clone()).collect())
    }

    /// The schema's own `example`, when it satisfies the schema.
    pub fn usable_example(&self, s: &Value) -> Option<Value> {
        let ex = s.get("example")?;
        self.conforms(s, ex).then(|| ex.clone())
    }

    /// Whether `v` satisfies the (resolved) schema `s`, as far as examples need checking.
    fn conforms(&self, s: &Value, v: &Value) -> bool {
        if let Some(e) = s.get("enum").and_then(Value::as_array) {
            if !e.contains(v) {
                return false;
            }
        }
        if s.get("oneOf").is_some() || s.get("anyOf").is_some() || s.get("allOf").is_some() {
            return false;
        }
        match s.get("type").and_then(Value::as_str) {
            Some("string") => v
                .as_str()
                .is_some_and(|t| string_has_format(t, s.get("format").and_then(Value::as_str))),
            Some("integer") => integer_fits(s, v),
            Some("number") => v.is_number() && within_bounds(s, v),
            Some("boolean") => v.is_boolean(),
            Some("array") => {
                let Some(list) = v.as_array() else {
                    return false;
                };
                let Some(items) = s.get("items") else {
                    return true;
                };
                let (items, _) = self.resolve(items);
                let scalar = matches!(
                    items.get("type").and_then(Value::as_str),
                    Some("string" | "integer" | "number" | "boolean")
                );
                scalar && list.iter().all(|x| self.conforms(items, x))
            }
            Some("object") | None => s.get("properties").is_none() && v.is_object(),
            Some(_) => false,
        }
    }
}

/// Follows `$ref`s; returns the schema and the last reference followed.
pub fn resolve<'v>(spec: &'v Value, mut schema: &'v Value) -> (&'v Value, Option<&'v str>) {
    let mut last = None;
    for _ in 0..16 {
        let Some(r) = schema.get("$ref").and_then(Value::as_str) else {
            break;
        };
        last = Some(r);
        match lookup(spec, r) {
            Some(s) => schema = s,
            None => break,
        }
    }
    (schema, last)
}

fn lookup<'v>(spec: &'v Value, reference: &str) -> Option<&'v Value> {
    spec.pointer(reference.strip_prefix('#')?)
}

/// The smallest value of a schema met again inside itself.
fn minimal(s: &Value) -> Value {
    match s.get("type").and_then(Value::as_str) {
        Some("array") => json!([]),
        Some("string") => Value::from(""),
        Some("integer") | Some("number") => json!(0),
        Some("boolean") => json!(false),
        _ => json!({}),
    }
}

fn integer_fits(s: &Value, v: &Value) -> bool {
    let Some(n) = v.as_i64() else {
        return false;
    };
    let fits = match s.get("format").and_then(Value::as_str) {
        Some("int32") => i32::try_from(n).is_ok(),
        _ => true,
    };
    fits && within_bounds(s, v)
}

fn within_bounds(s: &Value, v: &Value) -> bool {
    let Some(x) = v.as_f64() else { return false };
    let min_ok = s
        .get("minimum")
        .and_then(Value::as_f64)
        .is_none_or(|m| x >= m);
    let max_ok = s
        .get("maximum")
        .and_then(Value::as_f64)
        .is_none_or(|m| x <= m);
    min_ok && max_ok
}

/// The schema's documented default, wherever the fixes left it.
fn spec_default(s: &Value) -> Option<&Value> {
    s.get("default")
        .or_else(|| s.get(crate::fixes::DEFAULT_EXTENSION))
}

fn integer_for(s: &Value) -> Value {
    if let Some(d) = spec_default(s).filter(|d| integer_fits(s, d)) {
        return d.clone();
    }
    let min = s.get("minimum").and_then(Value::as_f64).unwrap_or(0.0);
    let max = s.get("maximum").and_then(Value::as_f64).unwrap_or(f64::MAX);
    let n = if 0.0 >= min && 0.0 <= max {
        0
    } else {
        min.ceil() as i64
    };
    Value::from(n)
}

fn number_for(s: &Value) -> Value {
    if let Some(d) = spec_default(s).filter(|d| d.is_number()) {
        return d.clone();
    }
    let min = s.get("minimum").and_then(Value::as_f64).unwrap_or(0.0);
    Value::from(min.max(0.0))
}

/// A string for a schema without a usable example: by format, then by name.
fn string_for(s: &Value, name: Option<&str>) -> String {
    if let Some(d) = spec_default(s).and_then(Value::as_str) {
        if string_has_format(d, s.get("format").and_then(Value::as_str)) {
            return d.to_string();
        }
    }
    match s.get("format").and_then(Value::as_str) {
        Some("date-time") => return "2024-01-15T09:30:00Z".to_string(),
        Some("date") => return "2024-01-15".to_string(),
        Some("uri" | "url" | "uri-reference") => return "https://miro.com/".to_string(),
        Some("email") => return "user@example.com".to_string(),
        Some("uuid") => return "4b5a7c3e-9d21-4f0a-8e6b-2c1d3f4a5b6c".to_string(),
        Some("int64" | "int32") => return NUMERIC_ID.to_string(),
        Some("binary" | "byte") => return String::new(),
        _ => {}
    }
    let name = name.unwrap_or("");
    let lower = name.to_ascii_lowercase();
    if lower.contains("board") && (lower.ends_with("id") || lower.ends_with("_id")) {
        return BOARD_ID.to_string();
    }
    if name == "id" || name.ends_with("Id") || name.ends_with("_id") || name.ends_with("ID") {
        return NUMERIC_ID.to_string();
    }
    if lower.contains("email") {
        return "user@example.com".to_string();
    }
    if lower.ends_with("url") || lower.ends_with("uri") || lower == "self" || lower == "href" {
        return "https://miro.com/".to_string();
    }
    if lower.ends_with("at") && (lower.contains("created") || lower.contains("modified")) {
        return "2024-01-15T09:30:00Z".to_string();
    }
    if name.is_empty() {
        "text".to_string()
    } else {
        name.to_string()
    }
}

/// Whether a string has the schema's format (only the formats a client decodes into types).
fn string_has_format(s: &str, format: Option<&str>) -> bool {
    match format {
        Some("date-time") => is_date_time(s),
        Some("date") => is_date(s),
        Some("uuid") => is_uuid(s),
        _ => true,
    }
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && digits(&s[0..4])
        && b[4] == b'-'
        && digits(&s[5..7])
        && b[7] == b'-'
        && digits(&s[8..10])
}

fn is_date_time(s: &str) -> bool {
    if s.len() < 20 || !s.is_char_boundary(10) || !is_date(&s[..10]) {
        return false;
    }
    let rest = &s[10..];
    let Some(time) = rest.strip_prefix('T').or_else(|| rest.strip_prefix('t')) else {
        return false;
    };
    let b = time.as_bytes();
    if b.len() < 9 || !time.is_char_boundary(8) {
        return false;
    }
    let hms_ok = digits(&time[0..2]) && b[2] == b':' && digits(&time[3..5]) && b[5] == b':';
    if !hms_ok || !digits(&time[6..8]) {
        return false;
    }
    let mut zone = &time[8..];
    if let Some(frac) = zone.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        zone = &frac[n..];
    }
    match zone {
        "Z" | "z" => true,
        z => {
            let b = z.as_bytes();
            b.len() == 6
                && (b[0] == b'+' || b[0] == b'-')
                && digits(&z[1..3])
                && b[3] == b':'
                && digits(&z[4..6])
        }
    }
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Makes a synthesized page the last one: no `cursor`, no `links.next`, `size` and `total` equal
/// to the length of `data`, `offset` 0.
pub fn end_paging(v: &mut Value) {
    let Some(o) = v.as_object_mut() else { return };
    o.remove("cursor");
    if let Some(links) = o.get_mut("links").and_then(Value::as_object_mut) {
        links.remove("next");
        links.remove("prev");
    }
    let n = o.get("data").and_then(Value::as_array).map(Vec::len);
    if let Some(n) = n {
        for key in ["size", "total"] {
            if o.contains_key(key) {
                o.insert(key.to_string(), Value::from(n));
            }
        }
    }
    if o.contains_key("offset") {
        o.insert("offset".to_string(), Value::from(0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Value {
        json!({
            "components": {"schemas": {
                "Item": {
                    "type": "object",
                    "required": ["id", "type", "data"],
                    "properties": {
                        "id": {"type": "string"},
                        "type": {"type": "string", "example": "card"},
                        "createdAt": {"type": "string", "format": "date-time", "example": "yesterday"},
                        "note": {"type": "string", "example": "kept"},
                        "count": {"type": "integer", "format": "int32", "example": 3074457345618265000i64},
                        "data": {"$ref": "#/components/schemas/Data"},
                        "children": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}
                    }
                },
                "Data": {
                    "type": "object",
                    "oneOf": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}],
                    "x-miro-outer-tag": {"property": "type", "mapping": {"sticky_note": "A", "card": "B"}}
                },
                "A": {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}},
                "B": {"type": "object", "required": ["b"], "properties": {"b": {"type": "string", "enum": ["x", "y"]}}},
                "Page": {
                    "type": "object",
                    "required": ["data", "size", "total"],
                    "properties": {
                        "data": {"type": "array", "items": {"$ref": "#/components/schemas/A"}},
                        "size": {"type": "integer", "example": 20},
                        "total": {"type": "integer", "example": 87},
                        "cursor": {"type": "string", "example": "abc"}
                    }
                },
                "Tree": {
                    "type": "object",
                    "required": ["self"],
                    "properties": {"self": {"$ref": "#/components/schemas/Tree"}}
                },
                "Doc": {
                    "oneOf": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}],
                    "discriminator": {"propertyName": "kind", "mapping": {"bee": "#/components/schemas/B"}}
                },
                "Both": {"allOf": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}]}
            }}
        })
    }

    fn synth(spec: &Value, name: &str) -> Value {
        let schema = json!({"$ref": format!("#/components/schemas/{name}")});
        Synth::new(spec).value(&schema, None)
    }

    #[test]
    fn objects_keep_required_and_example_properties() {
        let spec = spec();
        let v = synth(&spec, "Item");
        assert_eq!(v["id"], NUMERIC_ID);
        assert_eq!(v["note"], "kept");
        // Examples that break their own schema are not used, and optional ones are left out.
        assert!(v.get("createdAt").is_none(), "{v}");
        assert!(v.get("count").is_none(), "{v}");
        assert!(v.get("children").is_none(), "{v}");
        // The data variant follows the item's `type`.
        assert_eq!(v["type"], "card");
        assert_eq!(v["data"], json!({"b": "x"}));
    }

    #[test]
    fn recursion_ends() {
        let spec = spec();
        assert_eq!(synth(&spec, "Tree"), json!({"self": {}}));
    }

    #[test]
    fn discriminators_and_all_of() {
        let spec = spec();
        assert_eq!(synth(&spec, "Doc"), json!({"b": "x", "kind": "bee"}));
        assert_eq!(synth(&spec, "Both"), json!({"a": "a", "b": "x"}));
    }

    #[test]
    fn pages_end() {
        let spec = spec();
        let mut v = synth(&spec, "Page");
        assert_eq!(v["cursor"], "abc");
        end_paging(&mut v);
        assert_eq!(v, json!({"data": [{"a": "a"}], "size": 1, "total": 1}));
    }

    #[test]
    fn formats() {
        assert!(is_date_time("2022-03-30T17:26:50.000Z"));
        assert!(is_date_time("2022-03-30T17:26:50+02:00"));
        assert!(!is_date_time("2022-03-30"));
        assert!(is_uuid("4b5a7c3e-9d21-4f0a-8e6b-2c1d3f4a5b6c"));
        assert!(!is_uuid("not-a-uuid"));
        assert_eq!(
            string_for(&json!({"type": "string"}), Some("boardId")),
            BOARD_ID
        );
        assert_eq!(
            string_for(&json!({"type": "string", "format": "date-time"}), None),
            "2024-01-15T09:30:00Z"
        );
    }
}
