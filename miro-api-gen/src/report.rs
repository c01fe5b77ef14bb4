//! Compares two specs: which operations were added, removed or changed, and which schemas.
//! `cargo xtask gen --spec PATH --report` prints it before moving to a newer spec.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

/// The differences between an old and a new spec, both fixed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SpecDiff {
    /// Operations only in the new spec: `id (METHOD path)`.
    pub added: Vec<String>,
    /// Operations only in the old spec.
    pub removed: Vec<String>,
    /// Operations in both whose method, path, parameters, body or responses differ, with what.
    pub changed: Vec<(String, Vec<&'static str>)>,
    /// Schemas added, removed and changed (by name).
    pub schemas_added: Vec<String>,
    /// Schemas only in the old spec.
    pub schemas_removed: Vec<String>,
    /// Schemas in both whose definition differs.
    pub schemas_changed: Vec<String>,
}

fn op_parts(spec: &Value) -> BTreeMap<String, (String, BTreeMap<&'static str, Value>)> {
    let mut out = BTreeMap::new();
    for (path, item) in spec
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for (method, op) in item.as_object().into_iter().flatten() {
            let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                continue;
            };
            let mut parts = BTreeMap::new();
            parts.insert(
                "method/path",
                Value::String(format!(
                    "{} {}",
                    method.to_uppercase(),
                    crate::fixes::wire_path(path)
                )),
            );
            let mut params = op.get("parameters").cloned().unwrap_or(Value::Null);
            if let Some(shared) = item.get("parameters") {
                params = Value::Array(vec![shared.clone(), params]);
            }
            parts.insert("parameters", params);
            parts.insert(
                "request body",
                op.get("requestBody")
                    .or(op.get("x-miro-multipart"))
                    .cloned()
                    .unwrap_or(Value::Null),
            );
            let success: serde_json::Map<String, Value> = op
                .get("responses")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter(|(code, _)| code.starts_with('2'))
                .map(|(c, r)| (c.clone(), r.clone()))
                .collect();
            parts.insert("responses", Value::Object(success));
            parts.insert(
                "description",
                op.get("description").cloned().unwrap_or(Value::Null),
            );
            let label = format!(
                "{id} ({} {})",
                method.to_uppercase(),
                crate::fixes::wire_path(path)
            );
            out.insert(id.to_string(), (label, parts));
        }
    }
    out
}

/// Compares `old` and `new` (raw spec bytes); both get the same fixes first.
pub fn compare(old: &[u8], new: &[u8]) -> Result<SpecDiff, crate::GenError> {
    let (old, _) = crate::fixed_spec(old)?;
    let (new, _) = crate::fixed_spec(new)?;
    let (a, b) = (op_parts(&old), op_parts(&new));
    let mut diff = SpecDiff::default();
    for (id, (label, parts)) in &b {
        match a.get(id) {
            None => diff.added.push(label.clone()),
            Some((_, old_parts)) => {
                let what: Vec<&'static str> = parts
                    .iter()
                    .filter(|(k, v)| old_parts.get(*k) != Some(v))
                    .map(|(k, _)| *k)
                    .collect();
                if !what.is_empty() {
                    diff.changed.push((label.clone(), what));
                }
            }
        }
    }
    diff.removed = a
        .iter()
        .filter(|(id, _)| !b.contains_key(*id))
        .map(|(_, (l, _))| l.clone())
        .collect();
    let schemas = |s: &Value| {
        s.pointer("/components/schemas")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let (sa, sb) = (schemas(&old), schemas(&new));
    for (name, schema) in &sb {
        match sa.get(name) {
            None => diff.schemas_added.push(name.clone()),
            Some(old) if old != schema => diff.schemas_changed.push(name.clone()),
            _ => {}
        }
    }
    diff.schemas_removed = sa
        .keys()
        .filter(|k| !sb.contains_key(*k))
        .cloned()
        .collect();

    // rename for users even if its id is the same.

    Ok(diff)
}

impl fmt::Display for SpecDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "operations: {} added, {} removed, {} changed; schemas: {} added, {} removed, {} changed",
            self.added.len(),
            self.removed.len(),
            self.changed.len(),
            self.schemas_added.len(),
            self.schemas_removed.len(),
            self.schemas_changed.len()
        )?;
        for a in &self.added {
            writeln!(f, "+ {a}")?;
        }
        for r in &self.removed {
            writeln!(f, "- {r}")?;
        }
        for (c, what) in &self.changed {
            writeln!(f, "~ {c}: {}", what.join(", "))?;
        }
        if !self.schemas_added.is_empty() {
            writeln!(f, "schemas added: {}", self.schemas_added.join(", "))?;
        }
        if !self.schemas_removed.is_empty() {
            writeln!(f, "schemas removed: {}", self.schemas_removed.join(", "))?;
        }
        if !self.schemas_changed.is_empty() {
            writeln!(f, "schemas changed: {}", self.schemas_changed.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_removed_and_changed_operations_are_reported() {
        let old = br#"{"paths": {
            "/a": {"get": {"operationId": "get-a", "responses": {"200": {"description": "x"}}}},
            "/b": {"get": {"operationId": "get-b", "responses": {}}}},
            "components": {"schemas": {"A": {"type": "object"}}}}"#;
        let new = br#"{"paths": {
            "/a": {"get": {"operationId": "get-a", "parameters": [{"in": "query", "name": "x"}], "responses": {"200": {"description": "x"}}}},
            "/c": {"post": {"operationId": "post-c", "responses": {}}}},
            "components": {"schemas": {"A": {"type": "object", "properties": {}}, "C": {}}}}"#;
        let d = compare(old, new).unwrap();
        assert_eq!(d.added, ["post-c (POST /c)"]);
        assert_eq!(d.removed, ["get-b (GET /b)"]);
        assert_eq!(
            d.changed,
            [("get-a (GET /a)".to_string(), vec!["parameters"])]
        );
        assert_eq!(d.schemas_added, ["C"]);
        assert_eq!(d.schemas_changed, ["A"]);
        assert!(d
            .to_string()
            .starts_with("operations: 1 added, 1 removed, 1 changed"));
    }
}
