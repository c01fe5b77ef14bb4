//! Compares two specs, for `cargo xtask gen --report OLD NEW` before moving to a newer spec.
//!
//! - [`compare`]: the raw difference, after the fixes: operations and schemas added, removed
//!   or changed.
//! - [`classify_specs`]: what the change does to the generated API, and so to semver. Both
//!   specs go through the whole generator; the [`Surface`] of each (every public type, field,
//!   variant, method and trait impl with its signature, its cfg and its docs) is compared
//!   item by item ([`classify`]): removed items, changed signatures or field types, lost
//!   traits or features, added required fields are major; added items, optional fields and
//!   variants of `#[non_exhaustive]` types are minor; docs alone are a patch. The field types
//!   are compared as generated, so a change the fixes absorb is none, and one
//!   cargo-semver-checks misses (`f64` -> `String`, `String` -> `Option<String>`) is major.
//!   [`next_version`] turns the largest into the release version (0.x rules).

use std::collections::BTreeMap;
use std::fmt;

use quote::ToTokens;
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

// ---- the semver class of a spec change ----------------------------------------------------------

/// How a spec change affects the generated API, in semver terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bump {
    /// Nothing users can compile against changed (descriptions only, or nothing).
    Patch,
    /// Additions only: operations, types, optional fields and parameters, enum values.
    Minor,
    /// Something users compile against was removed or changed.
    Major,
}

impl fmt::Display for Bump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Bump::Patch => "patch",
            Bump::Minor => "minor",
            Bump::Major => "major",
        })
    }
}

/// One change of the generated API and the bump it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The bump this change needs on its own.
    pub bump: Bump,
    /// What changed, e.g. `field Board.description: String -> Option<String>`.
    pub what: String,
}

/// The generated API's surface: one entry per public item users can name, with its signature
/// (what code compiled against it depends on) and its docs (what it does not).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Surface {
    /// Key (`type Board`, `field Board.name`, `variant Role::Editor`, `fn MiroApi::get_boards`,
    /// `impl From<A> for B`) -> signature.
    pub items: BTreeMap<String, String>,
    /// Key -> docs.
    pub docs: BTreeMap<String, String>,
    /// Types that are `#[non_exhaustive]`.
    pub sealed: std::collections::BTreeSet<String>,
    /// Per type, its field names (setters named after them are compared through the fields).
    pub fields: BTreeMap<String, std::collections::BTreeSet<String>>,
}

fn tokens<T: ToTokens>(t: &T) -> String {
    // Readable and stable: `:: std :: option :: Option < T >` -> `Option<T>`. Generated code
    // writes a leading `::` only before these crates.
    let mut s = t.to_token_stream().to_string();
    for krate in ["std", "serde_json", "serde", "chrono", "uuid", "bytes"] {
        s = s.replace(&format!(":: {krate} ::"), &format!("{krate} ::"));
    }
    s = s.replace(" :: ", "::");
    for prefix in [
        "std::option::",
        "std::string::",
        "std::vec::",
        "std::collections::",
        "std::convert::",
        "std::iter::",
    ] {
        s = s.replace(prefix, "");
    }
    s.replace(" < ", "<")
        .replace(" <", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
        .replace(",)", ")")
        .replace(",>", ">")
        .replace(" (", "(")
        .replace(" : ", ": ")
        .replace("& '", "&'")
        .replace("& ", "&")
}

fn docs_of(attrs: &[syn::Attribute]) -> String {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .map(|a| a.meta.to_token_stream().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The attributes that are part of an item's contract: its `cfg` (which features compile it),
/// its derives (which traits it has) and `non_exhaustive`.
fn contract_attrs(attrs: &[syn::Attribute]) -> String {
    let mut parts = Vec::new();
    for a in attrs {
        if a.path().is_ident("cfg") {
            if let syn::Meta::List(l) = &a.meta {
                parts.push(format!("cfg({})", tokens(&l.tokens)));
            }
        } else if a.path().is_ident("derive") {
            let mut names: Vec<String> = Vec::new();
            let _ = a.parse_nested_meta(|m| {
                names.push(
                    m.path
                        .segments
                        .last()
                        .map(|s| s.ident.to_string())
                        .unwrap_or_default(),
                );
                Ok(())
            });
            names.sort();
            parts.push(format!("derive({})", names.join(", ")));
        } else if a.path().is_ident("non_exhaustive") {
            parts.push("non_exhaustive".into());
        }
    }
    parts.join(" ")
}

/// The parts of a type's contract (`cfg(..)`, `derive(..)`, `non_exhaustive`) as a set of
/// words: each cfg, each derived trait, and the kind.
fn contract_words(sig: &str) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    let mut rest = sig;
    while !rest.is_empty() {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("derive(") {
            let end = r.find(')').unwrap_or(r.len());
            for d in r[..end].split(", ").filter(|d| !d.is_empty()) {
                out.insert(format!("implements {d}"));
            }
            rest = r.get(end + 1..).unwrap_or("");
        } else if let Some(r) = rest.strip_prefix("cfg(") {
            // Balanced parentheses.
            let mut depth = 1;
            let mut end = r.len();
            for (i, c) in r.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            out.insert(format!("compiled with cfg({})", &r[..end]));
            rest = r.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            out.insert(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    out
}

/// What changed in a type's contract, and the bump it needs: a trait, a cfg or the kind lost
/// (or `non_exhaustive` gained) is major; a trait gained is minor.
fn type_change(old: &str, new: &str) -> Vec<(Bump, String)> {
    let shape = |sig: &str| -> String {
        match sig.strip_prefix("= ") {
            Some(alias) => format!("alias of {}", alias.split(" cfg(").next().unwrap_or(alias)),
            None => sig.split(' ').next().unwrap_or(sig).to_string(),
        }
    };
    let (old_shape, new_shape) = (shape(old), shape(new));
    let strip = |sig: &str| -> String {
        match sig.strip_prefix("= ") {
            Some(alias) => alias
                .find(" cfg(")
                .map_or(String::new(), |i| alias[i..].to_string()),
            None => sig
                .split_once(' ')
                .map_or(String::new(), |(_, r)| r.to_string()),
        }
    };
    let (a, b) = (contract_words(&strip(old)), contract_words(&strip(new)));
    let mut out = Vec::new();
    if old_shape != new_shape {
        out.push((Bump::Major, format!("was {old_shape}, now {new_shape}")));
    }
    for w in a.difference(&b) {
        if w == "non_exhaustive" {
            out.push((Bump::Minor, "no longer non_exhaustive".to_string()));
        } else if let Some(t) = w.strip_prefix("implements ") {
            out.push((Bump::Major, format!("no longer implements {t}")));
        } else if w.starts_with("compiled with") {
            out.push((Bump::Major, format!("no longer {w}")));
        } else {
            out.push((Bump::Major, format!("no longer a {w}")));
        }
    }
    for w in b.difference(&a) {
        if w == "non_exhaustive" {
            out.push((Bump::Major, "became non_exhaustive".to_string()));
        } else if w.starts_with("implements ") {
            out.push((Bump::Minor, format!("now {w}")));
        } else if w.starts_with("compiled with") {
            out.push((Bump::Major, format!("now {w}")));
        } else {
            out.push((Bump::Major, format!("now a {w}")));
        }
    }
    out
}

fn is_pub(vis: &syn::Visibility) -> bool {
    matches!(vis, syn::Visibility::Public(_))
}

fn add_items(surface: &mut Surface, items: &[syn::Item]) {
    use syn::{Fields, Item};
    for item in items {
        match item {
            Item::Struct(s) if is_pub(&s.vis) => {
                let name = s.ident.to_string();
                let key = format!("type {name}");
                let shape = match &s.fields {
                    Fields::Unnamed(f) => format!(
                        "({})",
                        f.unnamed
                            .iter()
                            .map(|f| tokens(&f.ty))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    _ => String::new(),
                };
                surface.items.insert(
                    key.clone(),
                    format!("struct{shape} {}", contract_attrs(&s.attrs)),
                );
                surface.docs.insert(key, docs_of(&s.attrs));
                if s.attrs.iter().any(|a| a.path().is_ident("non_exhaustive")) {
                    surface.sealed.insert(name.clone());
                }
                if let Fields::Named(fields) = &s.fields {
                    for f in fields.named.iter().filter(|f| is_pub(&f.vis)) {
                        let Some(ident) = &f.ident else { continue };
                        let field = ident.to_string();
                        surface
                            .fields
                            .entry(name.clone())
                            .or_default()
                            .insert(field.clone());
                        let key = format!("field {name}.{field}");
                        let serde_default = f.attrs.iter().any(|a| {
                            a.path().is_ident("serde")
                                && a.meta.to_token_stream().to_string().contains("default")
                        });
                        let optional = crate::postprocess::option_inner(&f.ty).1;
                        let sig = if serde_default && !optional {
                            format!("{} (default when absent)", tokens(&f.ty))
                        } else {
                            tokens(&f.ty)
                        };
                        surface.items.insert(key.clone(), sig);
                        surface.docs.insert(key, docs_of(&f.attrs));
                    }
                }
            }
            Item::Enum(e) if is_pub(&e.vis) => {
                let name = e.ident.to_string();
                let key = format!("type {name}");
                surface
                    .items
                    .insert(key.clone(), format!("enum {}", contract_attrs(&e.attrs)));
                surface.docs.insert(key, docs_of(&e.attrs));
                if e.attrs.iter().any(|a| a.path().is_ident("non_exhaustive")) {
                    surface.sealed.insert(name.clone());
                }
                for v in &e.variants {
                    let key = format!("variant {name}::{}", v.ident);
                    surface.items.insert(key.clone(), tokens(&v.fields));
                    surface.docs.insert(key, docs_of(&v.attrs));
                }
            }
            Item::Type(t) if is_pub(&t.vis) => {
                let key = format!("type {}", t.ident);
                surface.items.insert(
                    key.clone(),
                    format!("= {} {}", tokens(&t.ty), contract_attrs(&t.attrs)),
                );
                surface.docs.insert(key, docs_of(&t.attrs));
            }
            Item::Impl(imp) => {
                let self_name = crate::postprocess::type_name(&imp.self_ty).unwrap_or_default();
                if let Some((_, path, _)) = &imp.trait_ {
                    let key = format!("impl {} for {}", tokens(path), tokens(&imp.self_ty));
                    surface.items.insert(key, contract_attrs(&imp.attrs));
                    continue;
                }
                for i in &imp.items {
                    let syn::ImplItem::Fn(f) = i else { continue };
                    if !is_pub(&f.vis) {
                        continue;
                    }
                    let key = format!("fn {self_name}::{}", f.sig.ident);
                    surface.items.insert(
                        key.clone(),
                        format!("{} {}", tokens(&f.sig), contract_attrs(&imp.attrs)),
                    );
                    surface.docs.insert(key, docs_of(&f.attrs));
                }
            }
            _ => {}
        }
    }
}

/// The surface of the generated `miro-api` files among `files`.
pub fn surface(files: &[crate::GeneratedFile]) -> Result<Surface, crate::GenError> {
    let mut out = Surface::default();
    for file in files {
        if !file.path.starts_with(crate::GENERATED_DIR) || file.path.ends_with("operations.rs") {
            continue;
        }
        let parsed = syn::parse_file(&file.contents)
            .map_err(|e| crate::GenError::Syntax(format!("{}: {e}", file.path)))?;
        add_items(&mut out, &parsed.items);
    }
    Ok(out)
}

/// The name of the type a key is about (`field Board.name` -> `Board`).
fn owner(key: &str) -> Option<&str> {
    let rest = key.split_once(' ')?.1;
    Some(match key.split(' ').next()? {
        "impl" => {
            let ty = rest.rsplit(" for ").next()?;
            ty.split('<').next()?.rsplit("::").next()?
        }
        "field" => rest.split('.').next()?,
        "variant" | "fn" => rest.split("::").next()?,
        _ => rest,
    })
}

/// Whether a `fn T::name` is the setter of one of `T`'s fields in either surface (those are
/// reported through the field).
fn is_setter(key: &str, old: &Surface, new: &Surface) -> bool {
    let Some(rest) = key.strip_prefix("fn ") else {
        return false;
    };
    let Some((ty, name)) = rest.split_once("::") else {
        return false;
    };
    let bare = name.strip_prefix("with_").unwrap_or(name);
    [old, new].iter().any(|s| {
        s.fields.get(ty).is_some_and(|f| {
            f.contains(name) || f.contains(bare) || f.contains(&format!("{bare}_"))
        })
    })
}

/// Every change from `old` to `new` with the bump it needs, majors first.
pub fn classify(old: &Surface, new: &Surface) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut push = |bump, what: String| out.push(Finding { bump, what });
    for (key, sig) in &old.items {
        if is_setter(key, old, new) {
            continue;
        }
        match new.items.get(key) {
            None => {
                // A field or variant of a removed type is reported with the type.
                let parent_gone = !key.starts_with("type ")
                    && !key.starts_with("impl ")
                    && owner(key).is_some_and(|o| {
                        !new.items.contains_key(&format!("type {o}"))
                            && old.items.contains_key(&format!("type {o}"))
                    });
                if !parent_gone {
                    push(Bump::Major, format!("removed {key}"));
                }
            }
            Some(now) if now != sig && key.starts_with("type ") => {
                for (bump, what) in type_change(sig, now) {
                    push(bump, format!("{key}: {what}"));
                }
            }
            Some(now) if now != sig => {
                let split = |s: &str| -> (String, String) {
                    match s.find("cfg(") {
                        Some(i) => (s[..i].trim().to_string(), s[i..].to_string()),
                        None => (s.trim().to_string(), "every area".to_string()),
                    }
                };
                let ((a, a_cfg), (b, b_cfg)) = (split(sig), split(now));
                if a == b {
                    push(
                        Bump::Major,
                        format!("{key}: the features that compile it changed: {a_cfg} -> {b_cfg}"),
                    );
                } else {
                    push(Bump::Major, format!("changed {key}: {a} -> {b}"));
                }
            }
            Some(_) => {}
        }
    }
    for (key, sig) in &new.items {
        if old.items.contains_key(key) || is_setter(key, old, new) {
            continue;
        }
        let o = owner(key).unwrap_or_default();
        // The same kind of type before: fields belong to a struct with named fields, variants
        // to an enum (an alias that became a struct is reported with the type).
        let parent_existed = match key.split(' ').next() {
            Some("field") => old.fields.contains_key(o),
            Some("variant") => old
                .items
                .get(&format!("type {o}"))
                .is_some_and(|s| s.starts_with("enum")),
            _ => old.items.contains_key(&format!("type {o}")),
        };
        if key.starts_with("field ") && parent_existed {
            let required = !sig.starts_with("Option<") && !sig.ends_with("(default when absent)");
            if required {
                push(Bump::Major, format!("added required {key}: {sig}"));
            } else if old.sealed.contains(o) {
                push(Bump::Minor, format!("added {key}: {sig}"));
            } else {
                push(
                    Bump::Major,
                    format!("added {key}: {sig} (to {o}, which is not #[non_exhaustive])"),
                );
            }
        } else if key.starts_with("variant ") && parent_existed {
            if old.sealed.contains(o) {
                push(Bump::Minor, format!("added {key}"));
            } else {
                push(
                    Bump::Major,
                    format!("added {key} (to {o}, which is not #[non_exhaustive])"),
                );
            }
        } else if !key.starts_with("type ")
            && !parent_existed
            && new.items.contains_key(&format!("type {o}"))
        {
            // Part of an added type (its fields, variants, methods and impls), or of a type
            // whose kind changed (reported with the type).
        } else {
            push(Bump::Minor, format!("added {key}"));
        }
    }
    let docs_changed = new
        .docs
        .iter()
        .filter(|(k, d)| old.docs.get(*k).is_some_and(|o| o != *d))
        .count();
    if docs_changed > 0 {
        push(
            Bump::Patch,
            format!("docs changed on {docs_changed} item(s) (descriptions in the spec)"),
        );
    }
    out.sort_by(|a, b| b.bump.cmp(&a.bump).then_with(|| a.what.cmp(&b.what)));
    out
}

/// The bump a list of findings needs: the largest; `None` when nothing changed.
pub fn bump_of(findings: &[Finding]) -> Option<Bump> {
    findings.iter().map(|f| f.bump).max()
}

/// The version a release needs after `current` for `bump`. While the major version is 0, a
/// major change bumps the minor version and a minor or patch change the patch version.
pub fn next_version(current: &str, bump: Bump) -> Result<String, String> {
    let core = current.split(['-', '+']).next().unwrap_or(current);
    let parts: Vec<u64> = core
        .split('.')
        .map(|p| {
            p.parse::<u64>()
                .map_err(|_| format!("not a version: {current:?}"))
        })
        .collect::<Result<_, _>>()?;
    let [major, minor, patch] = parts[..] else {
        return Err(format!("not a major.minor.patch version: {current:?}"));
    };
    Ok(match (major, bump) {
        (0, Bump::Major) => format!("0.{}.0", minor + 1),
        (0, _) => format!("0.{minor}.{}", patch + 1),
        (_, Bump::Major) => format!("{}.0.0", major + 1),
        (_, Bump::Minor) => format!("{major}.{}.0", minor + 1),
        (_, Bump::Patch) => format!("{major}.{minor}.{}", patch + 1),
    })
}

/// Generates the API of both specs (with the same fixes and post-processing) and classifies the
/// change between them.
pub fn classify_specs(
    pin: &crate::spec::Pin,
    old: &[u8],
    new: &[u8],
) -> Result<Vec<Finding>, crate::GenError> {
    let (old_files, _) = crate::generate(pin, old)?;
    let (new_files, _) = crate::generate(pin, new)?;
    Ok(classify(&surface(&old_files)?, &surface(&new_files)?))
}

#[cfg(test)]
mod semver_tests {
    use super::*;

    fn pin() -> crate::spec::Pin {
        crate::spec::Pin {
            repository: "https://example.com/spec".into(),
            path: "spec.json".into(),
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            sha256: "0".repeat(64),
        }
    }

    /// A small spec: `get-board` answers a `Board`; `create-board` takes a `BoardChanges`.
    /// `board` and `changes` are the two schemas' JSON, `extra_ops` more paths.
    fn spec(board: &str, changes: &str, extra_ops: &str) -> Vec<u8> {
        format!(
            r##"{{"openapi": "3.0.1", "info": {{"title": "t", "version": "1"}},
            "paths": {{
              "/v2/boards/{{board_id}}": {{"get": {{"operationId": "get-specific-board", "tags": ["Boards"],
                "parameters": [{{"name": "board_id", "in": "path", "required": true, "schema": {{"type": "string"}}}}],
                "responses": {{"200": {{"description": "ok", "content": {{"application/json": {{"schema": {{"$ref": "#/components/schemas/Board"}}}}}}}}}}}}}},
              "/v2/boards": {{"post": {{"operationId": "create-board", "tags": ["Boards"],
                "requestBody": {{"content": {{"application/json": {{"schema": {{"$ref": "#/components/schemas/BoardChanges"}}}}}}}},
                "responses": {{"201": {{"description": "ok", "content": {{"application/json": {{"schema": {{"$ref": "#/components/schemas/Board"}}}}}}}}}}}}}}
              {extra_ops}
            }},
            "components": {{"schemas": {{
              "Board": {board},
              "BoardChanges": {changes},
              "Role": {{"type": "string", "enum": ["viewer", "editor"]}}
            }}}}}}"##
        )
        .into_bytes()
    }

    const BOARD: &str = r###"{"type": "object", "required": ["id"], "properties": {
        "id": {"type": "string", "description": "Id."},
        "role": {"$ref": "#/components/schemas/Role"}, "size": {"type": "number"}}}"###;
    const CHANGES: &str = r###"{"type": "object", "properties": {
        "name": {"type": "string", "description": "Name."}}}"###;

    fn classify_pair(old: &[u8], new: &[u8]) -> Vec<Finding> {
        classify_specs(&pin(), old, new).unwrap()
    }

    fn base() -> Vec<u8> {
        spec(BOARD, CHANGES, "")
    }

    #[test]
    fn the_same_spec_is_no_change() {
        assert_eq!(classify_pair(&base(), &base()), []);
        assert_eq!(bump_of(&[]), None);
    }

    #[test]
    fn a_description_is_a_patch() {
        let new = spec(BOARD, &CHANGES.replace("Name.", "The board's name."), "");
        let f = classify_pair(&base(), &new);
        assert_eq!(bump_of(&f), Some(Bump::Patch), "{f:#?}");
    }

    #[test]
    fn an_optional_field_a_variant_an_operation_are_minor() {
        let board = BOARD.replace(
            r###""size": {"type": "number"}"###,
            r###""size": {"type": "number"}, "color": {"type": "string"}"###,
        );
        let f = classify_pair(&base(), &spec(&board, CHANGES, ""));
        assert_eq!(bump_of(&f), Some(Bump::Minor), "{f:#?}");
        assert!(
            f.iter()
                .any(|f| f.what.starts_with("added field Board.color")),
            "{f:#?}"
        );

        let new = base()
            .iter()
            .map(|b| *b as char)
            .collect::<String>()
            .replace(
                r###"["viewer", "editor"]"###,
                r###"["viewer", "editor", "owner"]"###,
            );
        let f = classify_pair(&base(), new.as_bytes());
        assert_eq!(bump_of(&f), Some(Bump::Minor), "{f:#?}");
        assert!(
            f.iter().any(|f| f.what == "added variant Role::Owner"),
            "{f:#?}"
        );

        let op = r###", "/v2/boards/{board_id}/copy": {"put": {"operationId": "copy-board", "tags": ["Boards"],
            "parameters": [{"name": "board_id", "in": "path", "required": true, "schema": {"type": "string"}}],
            "responses": {"201": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Board"}}}}}}}"###;
        let f = classify_pair(&base(), &spec(BOARD, CHANGES, op));
        assert_eq!(bump_of(&f), Some(Bump::Minor), "{f:#?}");
        assert!(
            f.iter()
                .any(|f| f.what.starts_with("added fn MiroApi::copy_board")),
            "{f:#?}"
        );
    }

    #[test]
    fn removals_type_changes_and_required_request_fields_are_major() {
        // A field removed.
        let board = BOARD.replace(r###", "size": {"type": "number"}"###, "");
        let f = classify_pair(&base(), &spec(&board, CHANGES, ""));
        assert_eq!(bump_of(&f), Some(Bump::Major), "{f:#?}");
        assert!(
            f.iter().any(|f| f.what == "removed field Board.size"),
            "{f:#?}"
        );
        // number -> string.
        let board = BOARD.replace(
            r###""size": {"type": "number"}"###,
            r###""size": {"type": "string"}"###,
        );
        let f = classify_pair(&base(), &spec(&board, CHANGES, ""));
        assert!(
            f.iter().any(|f| f.bump == Bump::Major
                && f.what
                    .starts_with("changed field Board.size: Option<f64> -> Option<String>")),
            "{f:#?}"
        );
        // required -> optional: `String` -> `Option<String>`.
        let board = BOARD.replace(r###""required": ["id"], "###, "");
        let f = classify_pair(&base(), &spec(&board, CHANGES, ""));
        assert!(
            f.iter().any(|f| f.bump == Bump::Major
                && f.what
                    .starts_with("changed field Board.id: String -> Option<String>")),
            "{f:#?}"
        );
        // A required request field added.
        let changes = r###"{"type": "object", "required": ["teamId"], "properties": {
            "name": {"type": "string", "description": "Name."}, "teamId": {"type": "string"}}}"###;
        let f = classify_pair(&base(), &spec(BOARD, changes, ""));
        assert!(
            f.iter().any(|f| f.bump == Bump::Major
                && f.what
                    .starts_with("added required field BoardChanges.team_id")),
            "{f:#?}"
        );
        // An operation removed.
        let without_get = base()
            .iter()
            .map(|b| *b as char)
            .collect::<String>()
            .replace("get-specific-board", "get-specific-board-v2");
        let f = classify_pair(&base(), without_get.as_bytes());
        assert!(
            f.iter().any(|f| f.bump == Bump::Major
                && f.what.starts_with("removed fn MiroApi::get_specific_board")),
            "{f:#?}"
        );
    }

    #[test]
    fn versions_follow_the_0x_rules() {
        assert_eq!(next_version("0.1.0", Bump::Major).unwrap(), "0.2.0");
        assert_eq!(next_version("0.1.0", Bump::Minor).unwrap(), "0.1.1");
        assert_eq!(next_version("0.1.3", Bump::Patch).unwrap(), "0.1.4");
        assert_eq!(next_version("1.2.3", Bump::Major).unwrap(), "2.0.0");
        assert_eq!(next_version("1.2.3", Bump::Minor).unwrap(), "1.3.0");
        assert_eq!(next_version("1.2.3", Bump::Patch).unwrap(), "1.2.4");
        assert!(next_version("one", Bump::Patch).is_err());
    }
}
