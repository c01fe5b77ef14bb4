//! Emits the command table of the `miro` command line (`miro-cli/src/generated/commands.rs`):
//! one static [`Command`]-like entry per operation (area and action names, method, path
//! template, parameters with their types and enum values, body kind, scope, rate-limit level,
//! pagination, plain-text help), and one function that checks a JSON body against the
//! operation's typed request body of `miro-api` before anything is sent.
//!
//! The table is data: the hand-written runtime of `miro-cli` builds its clap commands from it
//! and sends through `miro-api`'s raw requests, so only what the user gave goes out.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use serde_json::Value;
use syn::visit_mut::VisitMut;
use syn::Type;

use crate::area;
use crate::emulator_data::{operation_json, parameters};
use crate::model::{html_to_text, param_doc, snake_case, Operation, PaginationKind};
use crate::synth::resolve;
use crate::GenError;

/// Where the command table goes.
pub const PATH: &str = "miro-cli/src/generated/commands.rs";
/// The module file of the generated folder.
pub const MOD_PATH: &str = "miro-cli/src/generated/mod.rs";

/// Flags the runtime defines on every operation command; a parameter or body field of the
/// same name gets no flag of its own (the `--body` / `--set` route still reaches it).
pub const RESERVED_FLAGS: &[&str] = &[
    "all", "body", "set", "file", "output", "token", "base-url", "dry-run", "help", "no-check",
    "quiet", "verbose", "version",
];

/// Verbs an operationId may start with (after `enterprise`); the first one found leads the
/// action name.
const VERBS: &[&str] = &[
    "get", "list", "create", "delete", "update", "patch", "replace", "copy", "share", "remove",
    "attach", "revoke", "move", "edit", "set", "add", "invite", "post", "un",
];

/// Words that say nothing in an action name.
const NOISE: &[&str] = &[
    "enterprise",
    "experimental",
    "specific",
    "all",
    "item",
    "items",
    "mindmap",
    "dataclassification",
];

/// Prepositions: the word after one is kept (`list-by-tag`, `remove-from-item`).
const PREPOSITIONS: &[&str] = &["by", "from", "to", "within", "in", "of", "using"];

fn kebab(words: &[String]) -> String {
    words.join("-")
}

fn words_of(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// The singular of a word, roughly (`boards` -> `board`, `notes` -> `note`).
fn singular(word: &str) -> &str {
    word.strip_suffix('s').unwrap_or(word)
}

/// The command area of an operation: its tag in kebab case, `X items` as `xs`
/// (`Sticky note items` -> `sticky-notes`), experimental and SCIM tags marked.
pub fn area_name(op: &Operation) -> String {
    let tag = op
        .tag
        .to_ascii_lowercase()
        .replace("(experimental)", "")
        .replace("board classification:", "classification");
    let mut words = words_of(&tag);
    if words.len() > 1 && words.last().map(String::as_str) == Some("items") {
        words.pop();
        if let Some(last) = words.last_mut() {
            if !last.ends_with('s') {
                last.push('s');
            }
        }
    }
    if words.is_empty() {
        words.push("other".into());
    }
    if area::of(op).key == "scim" {
        words.insert(0, "scim".into());
    }
    kebab(&words)
}

/// The action of an operation within its area: the operationId's verb and what is left once
/// the area's own words and noise are dropped (`get-specific-board` in `boards` -> `get`,
/// `get-boards` -> `list`, `get-items-by-tag` in `tags` -> `list-by-tag`).
pub fn action_name(op: &Operation, area: &str) -> String {
    let area_words: BTreeSet<String> = area.split('-').map(|w| singular(w).to_string()).collect();
    let words: Vec<String> = snake_case(&op.id).split('_').map(str::to_string).collect();
    let verb_at = words.iter().position(|w| VERBS.contains(&w.as_str()));
    let (verb, rest): (String, Vec<String>) = match verb_at {
        Some(i) => {
            let mut rest = words.clone();
            let verb = rest.remove(i);
            (verb, rest)
        }
        None => (String::new(), words.clone()),
    };
    let mut plural_dropped = false;
    let mut kept = Vec::new();
    for (i, w) in rest.iter().enumerate() {
        let after_preposition = i > 0 && PREPOSITIONS.contains(&rest[i - 1].as_str());
        let of_area = area_words.contains(singular(w));
        if !after_preposition && (NOISE.contains(&w.as_str()) || of_area) {
            // The last area word dropped is the object: `get-team-members` lists,
            // `get-groups-team` (a team of a group) gets one.
            if of_area {
                plural_dropped = w.ends_with('s') && w.len() > 3 && w != "settings";
            }
            continue;
        }
        kept.push(w.clone());
    }
    // `... by id` says nothing more than `get`.
    if kept.ends_with(&["by".to_string(), "id".to_string()]) {
        kept.truncate(kept.len() - 2);
    }
    let verb = match verb.as_str() {
        "get" if op.pagination != PaginationKind::None || plural_dropped => "list".to_string(),
        "un" => format!("un{}", rest.first().map(String::as_str).unwrap_or("do")),
        _ => verb,
    };
    let mut out = Vec::new();
    if !verb.is_empty() {
        out.push(verb);
    }
    out.extend(kept);
    if out.is_empty() {
        out = words;
    }
    kebab(&out)
}

/// A flag name for a wire name: `startIndex` -> `start-index`, `board_id` -> `board-id`.
pub fn flag_name(wire: &str) -> String {
    snake_case(wire).replace('_', "-")
}

/// What a parameter or body field holds, for the flag's value parser.
fn kind_of(spec: &Value, schema: &Value) -> (&'static str, Vec<String>, bool) {
    let (s, _) = resolve(spec, schema);
    let enum_values = |s: &Value| -> Vec<String> {
        s.get("enum")
            .and_then(Value::as_array)
            .map(|v| {
                v.iter()
                    .filter_map(|x| match x {
                        Value::String(s) => Some(s.clone()),
                        Value::Null => None,
                        other => Some(other.to_string()),
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    match s.get("type").and_then(Value::as_str) {
        Some("array") => {
            let items = s.get("items").cloned().unwrap_or(Value::Null);
            let (kind, values, _) = kind_of(spec, &items);
            (kind, values, true)
        }
        Some("integer") => ("Integer", enum_values(s), false),
        Some("number") => ("Number", enum_values(s), false),
        Some("boolean") => ("Boolean", Vec::new(), false),
        Some("string") | None if s.get("properties").is_none() => ("String", enum_values(s), false),
        _ => ("Json", Vec::new(), false),
    }
}

fn one_line(text: &str) -> String {
    param_doc(text)
}

/// Rewrites `types::X` and `crate::X` to `miro_api::types::X` and `miro_api::X`, and drops
/// lifetimes, so a method's parameter type names a type of `miro-api` from another crate.
struct External;

impl VisitMut for External {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::Reference(r) = ty {
            *ty = (*r.elem).clone();
            self.visit_type_mut(ty);
            return;
        }
        if let Type::Slice(s) = ty {
            let mut elem = (*s.elem).clone();
            self.visit_type_mut(&mut elem);
            *ty = syn::parse_quote!(::std::vec::Vec<#elem>);
            return;
        }
        syn::visit_mut::visit_type_mut(self, ty);
    }

    fn visit_path_mut(&mut self, path: &mut syn::Path) {
        if path.leading_colon.is_none() {
            if let Some(first) = path.segments.first() {
                let first = first.ident.to_string();
                if first == "types" {
                    *path = syn::parse_quote!(::miro_api::#path);
                } else if first == "crate" {
                    let rest: syn::punctuated::Punctuated<syn::PathSegment, syn::Token![::]> =
                        path.segments.iter().skip(1).cloned().collect();
                    *path = syn::parse_quote!(::miro_api::#rest);
                }
            }
        }
        syn::visit_mut::visit_path_mut(self, path);
    }
}

/// `Option<T>` -> `T`.
fn without_option(ty: &Type) -> Type {
    if let Type::Path(p) = ty {
        if let Some(last) = p.path.segments.last() {
            if last.ident == "Option" {
                if let syn::PathArguments::AngleBracketed(a) = &last.arguments {
                    if let Some(syn::GenericArgument::Type(inner)) = a.args.first() {
                        return inner.clone();
                    }
                }
            }
        }
    }
    ty.clone()
}

fn external(ty: &Type) -> Type {
    let mut ty = without_option(ty);
    External.visit_type_mut(&mut ty);
    ty
}

fn opt_str(v: Option<&str>) -> TokenStream {
    match v {
        Some(s) => quote!(::std::option::Option::Some(#s)),
        None => quote!(::std::option::Option::None),
    }
}

/// The top-level properties of a JSON body schema (following `$ref`s and `allOf`), with
/// whether each is required.
fn body_properties(spec: &Value, schema: &Value) -> Vec<(String, Value, bool)> {
    let (s, _) = resolve(spec, schema);
    let mut out = Vec::new();
    let required: BTreeSet<&str> = s
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        for (name, p) in props {
            out.push((name.clone(), p.clone(), required.contains(name.as_str())));
        }
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for part in all {
            out.extend(body_properties(spec, part));
        }
    }
    out
}

/// One parameter's table entry.
fn param_tokens(
    spec: &Value,
    wire: &str,
    flag: &str,
    required: bool,
    schema: &Value,
    description: &str,
) -> TokenStream {
    let (kind, values, many) = kind_of(spec, schema);
    let kind = syn::Ident::new(kind, proc_macro2::Span::call_site());
    let help = one_line(description);
    quote! {
        Param {
            name: #wire,
            flag: #flag,
            required: #required,
            kind: Kind::#kind,
            many: #many,
            values: &[#(#values),*],
            help: #help,
        }
    }
}

/// The plain-text help of an operation: summary, description and the facts a script needs.
fn help_text(op: &Operation) -> String {
    let mut text = String::new();
    if !op.summary.is_empty() {
        text.push_str(&op.summary);
        text.push_str("\n\n");
    }
    let description = crate::model::without_website_instructions(&op.description);
    let description = html_to_text(&description);
    if !description.trim().is_empty() {
        text.push_str(description.trim());
        text.push_str("\n\n");
    }
    text.push_str(&format!("{} {} (operation {})", op.method, op.path, op.id));
    text.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .replace("](/", "](https://developers.miro.com/")
}

/// Words of an operationId that never tell two operations apart.
const FILLER: &[&str] = &["enterprise", "specific", "all"];

/// Operations of one area that got the same action name: each gets the words of its
/// operationId that the others' lack (`delete-item-experimental` beside `delete-item`:
/// `delete-experimental` and `delete`), leaving out the area's words and filler; when that
/// still leaves two alike, each is named by its whole operationId.
fn tell_apart(ops: &[Operation], names: &mut [(String, String)]) {
    let mut groups: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, n) in names.iter().enumerate() {
        groups.entry(n.clone()).or_default().push(i);
    }
    let id_words = |op: &Operation| -> Vec<String> {
        snake_case(&op.id)
            .split('_')
            .filter(|w| !w.is_empty() && !FILLER.contains(w))
            .map(str::to_string)
            .collect()
    };
    let taken: BTreeSet<(String, String)> = groups.keys().cloned().collect();
    for ((area, action), members) in groups.into_iter().filter(|(_, m)| m.len() > 1) {
        let area_words: BTreeSet<&str> = area.split('-').map(singular).collect();
        let action_words: BTreeSet<&str> = action.split('-').collect();
        let words: Vec<Vec<String>> = members.iter().map(|&i| id_words(&ops[i])).collect();
        let proposed: Vec<String> = words
            .iter()
            .enumerate()
            .map(|(k, own)| {
                let mut out = vec![action.clone()];
                for w in own {
                    let elsewhere = words
                        .iter()
                        .enumerate()
                        .any(|(j, o)| j != k && o.contains(w));
                    if !elsewhere
                        && !area_words.contains(singular(w))
                        && !action_words.contains(w.as_str())
                        && !out.contains(w)
                    {
                        out.push(w.clone());
                    }
                }
                kebab(&out)
            })
            .collect();
        let distinct: BTreeSet<&String> = proposed.iter().collect();
        let clash = proposed
            .iter()
            .any(|p| *p != action && taken.contains(&(area.clone(), p.clone())));
        for (k, &i) in members.iter().enumerate() {
            names[i].1 = if distinct.len() == members.len() && !clash {
                proposed[k].clone()
            } else {
                kebab(&words[k])
            };
        }
    }
}

/// The one-line about of an area: the first sentence of its tag's description in the spec's
/// `tags` list, else the tag's name (the area's most used tag), marked with what every one of
/// its operations shares where a reader needs it (`(experimental)`, `(SCIM)`, `(Enterprise)`
/// for Enterprise plans only).
fn area_about(spec: &Value, ops: &[&Operation]) -> String {
    let described = |tag: &str| -> Option<String> {
        spec.get("tags")?
            .as_array()?
            .iter()
            .find(|t| t.get("name").and_then(Value::as_str) == Some(tag))?
            .get("description")?
            .as_str()
            .map(first_sentence)
            .filter(|d| !d.is_empty())
    };
    let mut uses: Vec<(&str, usize)> = Vec::new();
    for op in ops {
        match uses.iter_mut().find(|(t, _)| *t == op.tag) {
            Some((_, n)) => *n += 1,
            None => uses.push((&op.tag, 1)),
        }
    }
    // Most used first; the spec's order among equals (a stable sort).
    uses.sort_by_key(|u| std::cmp::Reverse(u.1));
    let mut about = uses
        .iter()
        .find_map(|(t, _)| described(t))
        .unwrap_or_else(|| {
            let name = uses.first().map_or("", |(t, _)| *t);
            let name = strip_marker(name, "(experimental)");
            let mut chars = name.chars();
            match chars.next() {
                Some(c) => c.to_uppercase().chain(chars).collect(),
                None => "Other operations".into(),
            }
        });
    let mut marks = Vec::new();
    let all = |f: &dyn Fn(&Operation) -> bool| ops.iter().all(|op| f(op));
    if all(&|op| area::of(op).key == "experimental") {
        marks.push("experimental");
    }
    if all(&|op| area::of(op).key == "scim") {
        marks.push("SCIM");
    }
    if all(&|op| op.enterprise_only) {
        marks.push("Enterprise");
    }
    if !marks.is_empty() {
        about = strip_marker(&about, "(experimental)");
        about.push_str(&format!(" ({})", marks.join(", ")));
    }
    about
}

/// `text` without `marker` (ASCII case ignored), whitespace collapsed.
fn strip_marker(text: &str, marker: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let text = match lower.find(marker) {
        Some(at) => format!("{}{}", &text[..at], &text[at + marker.len()..]),
        None => text.to_string(),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first sentence of an HTML description, as plain text (no bold marks) without its final
/// period.
fn first_sentence(html: &str) -> String {
    let text = one_line(html).replace("**", "");
    let end = text
        .match_indices(". ")
        .map(|(at, _)| at)
        .next()
        .unwrap_or(text.len());
    text[..end].trim().trim_end_matches('.').to_string()
}

/// The command table's source, for [`PATH`].
pub fn table(
    spec: &Value,
    ops: &[Operation],
    body_types: &BTreeMap<String, (Type, Option<Type>)>,
    method_params: &[(String, Vec<(String, Type)>)],
) -> Result<TokenStream, GenError> {
    // Names first; operations whose names collide get the words that tell them apart.
    let mut names: Vec<(String, String)> = ops
        .iter()
        .map(|op| {
            let area = area_name(op);
            let action = action_name(op, &area);
            (area, action)
        })
        .collect();
    tell_apart(ops, &mut names);
    let mut seen = BTreeSet::new();
    for (i, n) in names.iter().enumerate() {
        if !seen.insert(n.clone()) {
            return Err(GenError::Syntax(format!(
                "two commands are named `{} {}` ({})",
                n.0, n.1, ops[i].id
            )));
        }
    }
    // Each area once, with its about line.
    let mut by_area: BTreeMap<&str, Vec<&Operation>> = BTreeMap::new();
    for (op, (area, _)) in ops.iter().zip(&names) {
        by_area.entry(area).or_default().push(op);
    }
    let areas = by_area.iter().map(|(name, area_ops)| {
        let about = area_about(spec, area_ops);
        quote!(Area { name: #name, about: #about })
    });
    // Commands by area, then action: a stable order for help, whatever the spec's order.
    let mut order: Vec<usize> = (0..ops.len()).collect();
    order.sort_by(|&a, &b| names[a].cmp(&names[b]));

    let mut entries = Vec::new();
    let mut checks = Vec::new();
    for (op, (area_key, action)) in order.iter().map(|&i| (&ops[i], &names[i])) {
        let id = &op.id;
        let method = &op.method;
        let path = &op.path;
        let op_json = operation_json(spec, op);
        let params = parameters(spec, op);
        let mut flags: BTreeSet<String> = RESERVED_FLAGS.iter().map(|s| s.to_string()).collect();
        let mut path_params = Vec::new();
        for name in &op.path_params {
            let p = params
                .iter()
                .find(|p| p["in"] == "path" && p["name"].as_str() == Some(name.as_str()));
            let description = p
                .and_then(|p| {
                    p.get("description")
                        .or_else(|| p.pointer("/schema/description"))
                })
                .and_then(Value::as_str)
                .unwrap_or("");
            let flag = flag_name(name);
            flags.insert(flag.clone());
            let schema = p
                .and_then(|p| p.get("schema"))
                .cloned()
                .unwrap_or(Value::Null);
            path_params.push(param_tokens(spec, name, &flag, true, &schema, description));
        }
        let mut query_params = Vec::new();
        for p in params.iter().filter(|p| p["in"] == "query") {
            let Some(name) = p["name"].as_str() else {
                continue;
            };
            let flag = flag_name(name);
            if !flags.insert(flag.clone()) {
                continue;
            }
            let description = p
                .get("description")
                .or_else(|| p.pointer("/schema/description"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
            let schema = p.get("schema").cloned().unwrap_or(Value::Null);
            query_params.push(param_tokens(
                spec,
                name,
                &flag,
                required,
                &schema,
                description,
            ));
        }
        // The body: JSON, multipart, or none.
        let json_media = op_json
            .and_then(|o| o.get("requestBody"))
            .and_then(|b| b.get("content"))
            .and_then(Value::as_object)
            .and_then(|c| c.values().next())
            .cloned();
        let body_required = op_json
            .and_then(|o| o.pointer("/requestBody/required"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut body_fields = Vec::new();
        let mut body_schema = None;
        let mut body_type: Option<Type> = body_types
            .get(&op.fn_name)
            .and_then(|(_, body)| body.clone())
            .filter(|_| json_media.is_some());
        let (body, multipart_json_part, file_parts) = if let Some(m) = &op.multipart {
            let props = m.get("properties").and_then(Value::as_object);
            let mut json_part = None;
            let mut files = Vec::new();
            for (name, schema) in props.into_iter().flatten() {
                let (s, _) = resolve(spec, schema);
                let is_file = |s: &Value| s.get("format").and_then(Value::as_str) == Some("binary");
                let items = s.get("items").map(|i| resolve(spec, i).0);
                if is_file(s) {
                    files.push((name.clone(), false));
                } else if items.is_some_and(is_file) {
                    files.push((name.clone(), true));
                } else {
                    json_part = Some(name.clone());
                    body_schema = Some(schema.clone());
                    let snake = snake_case(name);
                    body_type = method_params
                        .iter()
                        .find(|(n, _)| *n == op.fn_name)
                        .and_then(|(_, ps)| ps.iter().find(|(p, _)| *p == snake))
                        .map(|(_, t)| t.clone());
                }
            }
            (quote!(BodyKind::Multipart), json_part, files)
        } else if let Some(media) = &json_media {
            body_schema = media.get("schema").cloned();
            (
                quote!(BodyKind::Json { required: #body_required }),
                None,
                Vec::new(),
            )
        } else {
            (quote!(BodyKind::None), None, Vec::new())
        };
        if let Some(schema) = &body_schema {
            for (name, p, required) in body_properties(spec, schema) {
                let (kind, _, many) = kind_of(spec, &p);
                if many || kind == "Json" {
                    continue;
                }
                let flag = flag_name(&name);
                if !flags.insert(flag.clone()) {
                    continue;
                }
                let (resolved, _) = resolve(spec, &p);
                let description = resolved
                    .get("description")
                    .or_else(|| p.get("description"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                body_fields.push(param_tokens(spec, &name, &flag, required, &p, description));
            }
        }
        let json_part = opt_str(multipart_json_part.as_deref());
        let files = file_parts
            .iter()
            .map(|(name, many)| quote!(FilePart { name: #name, many: #many }));
        let pagination = match op.pagination {
            PaginationKind::Cursor => quote!(Pagination::Cursor),
            PaginationKind::Offset => quote!(Pagination::Offset),
            PaginationKind::None => quote!(Pagination::None),
        };
        let scope = opt_str(op.scope.as_deref());
        let level = match op.level {
            Some(l) => quote!(::std::option::Option::Some(#l)),
            None => quote!(::std::option::Option::None),
        };
        let credits = crate::model::credits_for_level(op.level.unwrap_or(1));
        let per_item = crate::operations::priced_per_item(op);
        let summary = &op.summary;
        let help = help_text(op);
        let media_type = op.media_type.as_deref().unwrap_or("application/json");
        let enterprise = op.enterprise_only;
        let deprecated = op.deprecated;
        let area_title = area::of(op).title;
        entries.push(quote! {
            Command {
                area: #area_key,
                area_title: #area_title,
                action: #action,
                id: #id,
                http_method: #method,
                path: #path,
                path_params: &[#(#path_params),*],
                query_params: &[#(#query_params),*],
                body: #body,
                body_fields: &[#(#body_fields),*],
                json_part: #json_part,
                file_parts: &[#(#files),*],
                pagination: #pagination,
                scope: #scope,
                level: #level,
                credits: #credits,
                credits_per_item: #per_item,
                enterprise_only: #enterprise,
                deprecated: #deprecated,
                media_type: #media_type,
                summary: #summary,
                help: #help,
            }
        });
        if let Some(ty) = body_type {
            let ty = external(&ty);
            let ty_tokens = ty.to_token_stream();
            checks.push(quote!(#id => check::<#ty_tokens>(json),));
        }
    }
    Ok(quote! {
        use super::super::body::{check, BodyError};
        use super::super::table::*;

        /// The command groups (`miro AREA`), by name.
        pub static AREAS: &[Area] = &[#(#areas),*];

        /// Every operation of the pinned spec as a command, by area, then action.
        pub static COMMANDS: &[Command] = &[#(#entries),*];

        /// Checks a JSON body against the operation's typed request body of `miro-api`: the
        /// error names the field (`data.content: invalid type ...`). Operations without a JSON
        /// body accept anything (nothing is sent for them).
        pub fn check_body(operation_id: &str, json: &str) -> ::std::result::Result<(), BodyError> {
            match operation_id {
                #(#checks)*
                _ => ::std::result::Result::Ok(()),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(id: &str, tag: &str, method: &str, path: &str, paged: bool) -> Operation {
        Operation {
            id: id.into(),
            fn_name: snake_case(id),
            tag: tag.into(),
            pagination: if paged {
                PaginationKind::Cursor
            } else {
                PaginationKind::None
            },
            ..Operation::bare(method, path)
        }
    }

    fn name(o: &Operation) -> (String, String) {
        let a = area_name(o);
        let b = action_name(o, &a);
        (a, b)
    }

    #[test]
    fn names_read_like_commands() {
        let n = |id, tag, m, p, paged| name(&op(id, tag, m, p, paged));
        assert_eq!(
            n("get-boards", "Boards", "GET", "/v2/boards", true),
            ("boards".into(), "list".into())
        );
        assert_eq!(
            n(
                "get-specific-board",
                "Boards",
                "GET",
                "/v2/boards/{board_id}",
                false
            ),
            ("boards".into(), "get".into())
        );
        assert_eq!(
            n(
                "create-sticky-note-item",
                "Sticky note items",
                "POST",
                "/v2/boards/{board_id}/sticky_notes",
                false
            ),
            ("sticky-notes".into(), "create".into())
        );
        assert_eq!(
            n(
                "get-items",
                "Items",
                "GET",
                "/v2/boards/{board_id}/items",
                true
            ),
            ("items".into(), "list".into())
        );
        assert_eq!(
            n(
                "get-items-by-tag",
                "tags",
                "GET",
                "/v2/boards/{board_id}/items",
                true
            ),
            ("tags".into(), "list-by-tag".into())
        );
        assert_eq!(
            n(
                "unGroup",
                "groups",
                "DELETE",
                "/v2/boards/{board_id}/groups/{group_id}",
                false
            )
            .1,
            "ungroup"
        );
        assert_eq!(
            n(
                "getGroupById",
                "groups",
                "GET",
                "/v2/boards/{board_id}/groups/{group_id}",
                false
            )
            .1,
            "get"
        );
    }

    #[test]
    fn colliding_names_keep_the_words_that_differ() {
        let ops = [
            op(
                "delete-item-experimental",
                "items",
                "DELETE",
                "/v2-experimental/boards/{board_id}/items/{item_id}",
                false,
            ),
            op(
                "delete-item",
                "Items",
                "DELETE",
                "/v2/boards/{board_id}/items/{item_id}",
                false,
            ),
            op(
                "get-specific-item-experimental",
                "Flowchart shapes (experimental)",
                "GET",
                "/v2-experimental/boards/{board_id}/items/{item_id}",
                false,
            ),
            op(
                "get-shape-item-flowchart",
                "Flowchart shapes (experimental)",
                "GET",
                "/v2-experimental/boards/{board_id}/shapes/{item_id}",
                false,
            ),
        ];
        let mut names: Vec<(String, String)> = ops.iter().map(name).collect();
        assert_eq!(names[0], names[1]);
        tell_apart(&ops, &mut names);
        let actions: Vec<&str> = names.iter().map(|n| n.1.as_str()).collect();
        assert_eq!(
            actions,
            ["delete-experimental", "delete", "get-experimental", "get"]
        );
    }

    #[test]
    fn an_area_is_about_its_tag() {
        let spec = serde_json::json!({"tags": [
            {"name": "Boards", "description": "<p>Boards are <b>where</b> work happens. More text.</p>"}
        ]});
        let boards = op("get-boards", "Boards", "GET", "/v2/boards", true);
        let items = op(
            "get-items",
            "Items",
            "GET",
            "/v2/boards/{board_id}/items",
            true,
        );
        let items_too = op(
            "delete-item",
            "items",
            "DELETE",
            "/v2/boards/{board_id}/items/{item_id}",
            false,
        );
        let flow = op(
            "get-items-experimental",
            "Flowchart shapes (experimental)",
            "GET",
            "/v2-experimental/boards/{board_id}/items",
            true,
        );
        let tags = op(
            "get-tag",
            "tags",
            "GET",
            "/v2/boards/{board_id}/tags/{tag_id}",
            false,
        );
        let scim = op("listGroups", "Group", "GET", "/Groups", false);
        assert_eq!(
            area_about(&spec, &[&boards]),
            "Boards are where work happens"
        );
        assert_eq!(area_about(&spec, &[&items, &items, &items_too]), "Items");
        assert_eq!(
            area_about(&spec, &[&flow]),
            "Flowchart shapes (experimental)"
        );
        assert_eq!(area_about(&spec, &[&items, &flow]), "Items");
        assert_eq!(area_about(&spec, &[&tags]), "Tags");
        assert_eq!(area_about(&spec, &[&scim]), "Group (SCIM)");
    }

    #[test]
    fn types_name_miro_api_from_outside() {
        let t: Type = syn::parse_quote!(&'a [types::ItemCreate]);
        assert_eq!(
            external(&t).to_token_stream().to_string().replace(' ', ""),
            "::std::vec::Vec<::miro_api::types::ItemCreate>"
        );
        let t: Type = syn::parse_quote!(::std::option::Option<&'a types::Data>);
        assert_eq!(
            external(&t).to_token_stream().to_string().replace(' ', ""),
            "::miro_api::types::Data"
        );
    }
}
