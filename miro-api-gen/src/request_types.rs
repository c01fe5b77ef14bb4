//! Emits the table of request types: every generated struct that can appear in a request body
//! (JSON bodies, the JSON parts of uploads, bulk item lists and everything nested in them), each
//! with its smallest valid value, the one with only the spec's required properties.
//!
//! The integration tests decode each value as its type and encode it again: the result must be
//! exactly the value, so a type that sends a field the caller did not set fails a test. The
//! types are found by walking the generated Rust types and the spec's schemas side by side from
//! each operation's body, so the names are the generated ones and a newer spec is covered by
//! regenerating.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::Value;
use syn::Ident;
use syn::{Fields, Item, Type};

use crate::model::Operation;
use crate::synth::{self, Synth};

/// Where the table goes.
pub const PATH: &str = "tests/integration/src/request_types.rs";

/// One request type found: the first operation whose body reaches it, and its schema.
pub struct Found {
    /// The operationId.
    pub operation: String,
    /// The type's schema (allOf parts merged).
    pub schema: Value,
}

struct Walker<'a> {
    spec: &'a Value,
    types: BTreeMap<String, &'a Item>,
    found: BTreeMap<String, Found>,
    seen: BTreeSet<String>,
}

/// The request types: every generated struct reachable from a request body, by name, with the
/// first operation that reaches it and its schema. `types` are the generated type items;
/// `signatures` the success and body type of each method.
pub fn reachable(
    spec: &Value,
    ops: &[Operation],
    types: &[Item],
    signatures: &BTreeMap<String, (Type, Option<Type>)>,
) -> BTreeMap<String, Found> {
    let mut walker = Walker {
        spec,
        types: types
            .iter()
            .filter_map(|item| match item {
                Item::Struct(s) => Some((s.ident.to_string(), item)),
                Item::Enum(e) => Some((e.ident.to_string(), item)),
                _ => None,
            })
            .collect(),
        found: BTreeMap::new(),
        seen: BTreeSet::new(),
    };
    for op in ops {
        for (rust, schema) in body_roots(spec, op, signatures) {
            walker.visit(&op.id, &rust, &schema);
        }
    }
    walker.found
}

/// How the table builds a type in one expression.
enum Build {
    /// `Default::default()`.
    Default,
    /// `new(..)`: its parameters, as (field name, field type, JSON name).
    New(Vec<(Ident, Type, String)>),
    /// From its item data (`ItemCreate::from(data)`).
    FromData,
    /// Neither.
    Missing,
}

/// How each generated struct with named fields is built, by name.
fn builds(types: &[Item]) -> BTreeMap<String, Build> {
    let with_default = crate::bodies::implements_default(types);
    let mut out = BTreeMap::new();
    let mut fields_of: BTreeMap<String, &syn::FieldsNamed> = BTreeMap::new();
    for item in types {
        if let Item::Struct(s) = item {
            if let Fields::Named(f) = &s.fields {
                if !f.named.is_empty() {
                    fields_of.insert(s.ident.to_string(), f);
                    let build = if with_default.contains(&s.ident.to_string()) {
                        Build::Default
                    } else {
                        Build::Missing
                    };
                    out.insert(s.ident.to_string(), build);
                }
            }
        }
    }
    for item in types {
        let Item::Impl(imp) = item else { continue };
        let Some(name) = crate::postprocess::type_name(&imp.self_ty) else {
            continue;
        };
        let Some(fields) = fields_of.get(&name) else {
            continue;
        };
        if let Some((_, path, _)) = &imp.trait_ {
            // `From<SomeData> for ItemCreate`, the data chosen by `type`.
            let is_from = path.segments.last().is_some_and(|s| s.ident == "From");
            let private = fields
                .named
                .iter()
                .any(|f| !matches!(f.vis, syn::Visibility::Public(_)));
            if is_from && private && matches!(out.get(&name), Some(Build::Missing)) {
                out.insert(name, Build::FromData);
            }
            continue;
        }
        for member in &imp.items {
            let syn::ImplItem::Fn(f) = member else {
                continue;
            };
            if f.sig.ident != "new" || matches!(out.get(&name), Some(Build::Default)) {
                continue;
            }
            let params = f
                .sig
                .inputs
                .iter()
                .filter_map(|arg| match arg {
                    syn::FnArg::Typed(t) => match &*t.pat {
                        syn::Pat::Ident(i) => Some(i.ident.clone()),
                        _ => None,
                    },
                    syn::FnArg::Receiver(_) => None,
                })
                .filter_map(|ident| {
                    let field = fields
                        .named
                        .iter()
                        .find(|f| f.ident.as_ref() == Some(&ident))?;
                    Some((ident, field.ty.clone(), json_name(field)))
                })
                .collect();
            out.insert(name.clone(), Build::New(params));
        }
    }
    out
}

/// `ty` with every generated type named as `types::X`, for code outside the types module.
fn qualified(ty: &Type, types: &BTreeSet<String>) -> Type {
    struct Qualify<'a>(&'a BTreeSet<String>);
    impl syn::visit_mut::VisitMut for Qualify<'_> {
        fn visit_type_path_mut(&mut self, p: &mut syn::TypePath) {
            syn::visit_mut::visit_type_path_mut(self, p);
            if p.qself.is_none() && p.path.leading_colon.is_none() && p.path.segments.len() == 1 {
                let ident = &p.path.segments[0].ident;
                if self.0.contains(&ident.to_string()) {
                    p.path.segments.insert(0, format_ident!("types").into());
                }
            }
        }
    }
    let mut ty = ty.clone();
    syn::visit_mut::VisitMut::visit_type_mut(&mut Qualify(types), &mut ty);
    ty
}

/// The table's source, from the [`reachable`] request types; `types` are the generated items
/// (for how each type is built).
pub fn table(
    spec: &Value,
    found: &BTreeMap<String, Found>,
    types: &[Item],
    conversions: &crate::conversions::Report,
) -> TokenStream {
    let builds = builds(types);
    let type_names = crate::postprocess::type_names(types);
    let rows = found.iter().map(|(name, found)| {
        let ty = format_ident!("{}", name);
        let operation = &found.operation;
        let value = Synth::required_only(spec).value(&found.schema, None);
        let json = serde_json::to_string(&value).unwrap_or_default();
        let build = match builds.get(name) {
            Some(Build::Default) => quote! {
                Construct::Built(|| serde_json::to_value(<types::#ty as ::std::default::Default>::default()))
            },
            Some(Build::New(params)) if params.is_empty() => quote! {
                Construct::Built(|| serde_json::to_value(types::#ty::new()))
            },
            Some(Build::New(params)) => {
                let args = params.iter().map(|(_, field_ty, json_name)| {
                    let field_ty = qualified(field_ty, &type_names);
                    quote!(arg::<#field_ty>(&value, #json_name)?)
                });
                quote! {
                    Construct::Built(|| {
                        let value: serde_json::Value = serde_json::from_str(#json)?;
                        serde_json::to_value(types::#ty::new(#(#args),*))
                    })
                }
            }
            Some(Build::FromData) => quote!(Construct::FromData),
            Some(Build::Missing) | None => quote!(Construct::Missing),
        };
        quote! {
            RequestType { name: #name, operation: #operation, required_only: #json,
                          round_trip: round_trip::<types::#ty>, construct: #build }
        }
    });
    let pairs = conversions.pairs.iter().map(|pair| {
        let (read, write) = (&pair.read, &pair.write);
        let (r, w) = (format_ident!("{}", read), format_ident!("{}", write));
        // An example of the read type, from the spec, when it is a component schema.
        let example = spec
            .pointer(&format!("/components/schemas/{read}"))
            .filter(|_| pair.structs)
            .map(|_| {
                let reference = serde_json::json!({"$ref": format!("#/components/schemas/{read}")});
                serde_json::to_string(&Synth::every_property(spec).value(&reference, None))
                    .unwrap_or_default()
            });
        let example = match example {
            Some(json) => quote!(::std::option::Option::Some(#json)),
            None => quote!(::std::option::Option::None),
        };
        let conversion = match pair.conversion {
            Some(true) => quote! {
                <types::#w as ::std::convert::TryFrom<&types::#r>>::try_from(&read)
                    .map_err(|e| e.to_string())?
            },
            _ => quote!(<types::#w as ::std::convert::From<&types::#r>>::from(&read)),
        };
        let convert = match pair.conversion {
            Some(_) if pair.structs => quote! {
                ::std::option::Option::Some(|value: &serde_json::Value| -> Result<serde_json::Value, String> {
                    let read: types::#r = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
                    let written = #conversion;
                    serde_json::to_value(written).map_err(|e| e.to_string())
                })
            },
            // Enums and unions: the conversion exists (checked by naming it).
            Some(fallible) => {
                let named = if fallible {
                    quote!(<types::#w as ::std::convert::TryFrom<&types::#r>>::try_from)
                } else {
                    quote!(<types::#w as ::std::convert::From<&types::#r>>::from)
                };
                quote! {
                    ::std::option::Option::Some(|_: &serde_json::Value| -> Result<serde_json::Value, String> {
                        let _ = #named;
                        Ok(serde_json::Value::Null)
                    })
                }
            }
            None => quote!(::std::option::Option::None),
        };
        let structs = pair.structs;
        quote! {
            Conversion { read: #read, write: #write, structs: #structs, example: #example, convert: #convert }
        }
    });
    let renames = conversions.renames.iter().map(|(w, r)| quote!((#w, #r)));
    let missing = builds
        .iter()
        .filter(|(_, b)| matches!(b, Build::Missing))
        .map(|(name, _)| name.as_str());
    quote! {
        use miro_api::types;

        /// A type that appears in a request body.
        pub struct RequestType {
            /// The generated type's name.
            pub name: &'static str,
            /// The first operation (by the operations table) whose body holds it.
            pub operation: &'static str,
            /// Its smallest valid value: only the spec's required properties, as JSON.
            pub required_only: &'static str,
            /// Decodes a value as the type and encodes it again.
            pub round_trip: fn(&serde_json::Value) -> Result<serde_json::Value, serde_json::Error>,
            /// How it is built in one expression.
            pub construct: Construct,
        }

        /// How a request type is built in one expression.
        pub enum Construct {
            /// By `Default::default()`, or by `new(..)` given the required fields of
            /// `required_only`: what the value built that way encodes to.
            Built(fn() -> Result<serde_json::Value, serde_json::Error>),
            /// From its item data (`ItemCreate::from(data)`), which chooses its `type`.
            FromData,
            /// Neither `Default` nor `new(..)`.
            Missing,
        }

        fn round_trip<T: ::serde::de::DeserializeOwned + ::serde::Serialize>(
            value: &serde_json::Value,
        ) -> Result<serde_json::Value, serde_json::Error> {
            let decoded: T = serde_json::from_value(value.clone())?;
            serde_json::to_value(&decoded)
        }

        /// The property `key` of `value` as a `T` (a `new(..)` argument).
        fn arg<T: ::serde::de::DeserializeOwned>(
            value: &serde_json::Value,
            key: &str,
        ) -> Result<T, serde_json::Error> {
            serde_json::from_value(value.get(key).cloned().unwrap_or(serde_json::Value::Null))
        }

        /// Every generated struct reachable from a request body of the pinned spec.
        pub static REQUEST_TYPES: &[RequestType] = &[#(#rows),*];

        /// The generated structs (answers included) with neither `Default` nor `new(..)`.
        pub static WITHOUT_CONSTRUCTOR: &[&str] = &[#(#missing),*];

        /// A read type and the write type it converts into (or should: `convert` is `None`).
        pub struct Conversion {
            /// The type Miro answers with.
            pub read: &'static str,
            /// The type sent back.
            pub write: &'static str,
            /// Whether both are structs (enums and unions have no `example`).
            pub structs: bool,
            /// A value of the read type from the spec's examples, as JSON.
            pub example: Option<&'static str>,
            /// Decodes a read value, converts it (`From` or `TryFrom`) and encodes the result;
            /// `None` when the generator found the pair but could not convert it.
            pub convert: Option<Convert>,
        }

        /// Decodes a read value as JSON, converts it and encodes the result.
        pub type Convert = fn(&serde_json::Value) -> Result<serde_json::Value, String>;

        /// Every read/write pair whose fields match, by the generator's conversion rule.
        pub static CONVERSIONS: &[Conversion] = &[#(#pairs),*];

        /// Field renames the conversions make: (write JSON name, read JSON name).
        pub static CONVERSION_RENAMES: &[(&str, &str)] = &[#(#renames),*];
    }
}

/// The Rust type and schema of each body of `op`: the JSON body, or each JSON part of an upload.
fn body_roots(
    spec: &Value,
    op: &Operation,
    signatures: &BTreeMap<String, (Type, Option<Type>)>,
) -> Vec<(String, Value)> {
    let mut roots = Vec::new();
    let op_json = spec
        .pointer("/paths")
        .and_then(|p| p.get(&op.spec_path))
        .and_then(|p| p.get(op.method.to_lowercase()));
    if let (Some((_, Some(body))), Some(schema)) = (
        signatures.get(&op.fn_name),
        op_json.and_then(|o| o.pointer("/requestBody/content/application~1json/schema")),
    ) {
        roots.extend(type_names(body).into_iter().map(|n| (n, schema.clone())));
    }
    for prop in op
        .multipart
        .as_ref()
        .and_then(|m| m.get("properties"))
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|p| p.values())
    {
        let part = prop.get("items").unwrap_or(prop);
        if let Some(name) = part
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
        {
            roots.push((name.to_string(), part.clone()));
        }
    }
    roots
}

/// The last path segments of every named type in `ty`, generic arguments included
/// (`Option<Vec<types::X>>` -> `Option`, `Vec`, `X`).
fn type_names(ty: &Type) -> Vec<String> {
    let mut out = Vec::new();
    match ty {
        Type::Path(p) => {
            for seg in &p.path.segments {
                if let syn::PathArguments::AngleBracketed(args) = &seg.arguments {
                    for arg in &args.args {
                        if let syn::GenericArgument::Type(t) = arg {
                            out.extend(type_names(t));
                        }
                    }
                }
            }
            if let Some(last) = p.path.segments.last() {
                out.push(last.ident.to_string());
            }
        }
        Type::Reference(r) => out.extend(type_names(&r.elem)),
        Type::Slice(s) => out.extend(type_names(&s.elem)),
        Type::Array(a) => out.extend(type_names(&a.elem)),
        _ => {}
    }
    out
}

/// The JSON name of a field: its `serde(rename)`, else the Rust name.
pub(crate) fn json_name(field: &syn::Field) -> String {
    crate::postprocess::serde_rename(&field.attrs).unwrap_or_else(|| {
        field
            .ident
            .as_ref()
            .map(|i| i.to_string().trim_start_matches("r#").to_string())
            .unwrap_or_default()
    })
}

impl Walker<'_> {
    /// The schema of the values a field or variant holds: an array's items, else the schema.
    fn element(&self, schema: &Value) -> Value {
        let (resolved, _) = synth::resolve(self.spec, schema);
        resolved.get("items").unwrap_or(schema).clone()
    }

    /// Visits the generated type `rust` whose schema is `schema`.
    fn visit(&mut self, operation: &str, rust: &str, schema: &Value) {
        let Some(item) = self.types.get(rust).copied() else {
            return; // a std type (String, Vec, ...) or a scalar alias
        };
        if !self.seen.insert(rust.to_string()) {
            return;
        }
        let (resolved, _) = synth::resolve(self.spec, schema);
        let object = match resolved.get("allOf").and_then(Value::as_array) {
            Some(parts) => Synth::new(self.spec).merge_all_of(parts),
            None => resolved.clone(),
        };
        match item {
            Item::Struct(s) => {
                let Fields::Named(fields) = &s.fields else {
                    return;
                };
                self.found.insert(
                    rust.to_string(),
                    Found {
                        operation: operation.to_string(),
                        schema: object.clone(),
                    },
                );
                for field in &fields.named {
                    let Some(prop) = object.pointer(&format!(
                        "/properties/{}",
                        json_name(field).replace('~', "~0").replace('/', "~1")
                    )) else {
                        continue;
                    };
                    let prop = self.element(prop);
                    for name in type_names(&field.ty) {
                        self.visit(operation, &name, &prop);
                    }
                }
            }
            Item::Enum(e) => {
                // A oneOf: each variant's payload against its schema (a referenced component
                // when the payload is named after one, else the variant at the same place).
                let variants: Vec<Value> = ["oneOf", "anyOf"]
                    .iter()
                    .find_map(|k| resolved.get(*k).and_then(Value::as_array))
                    .cloned()
                    .unwrap_or_default();
                for (i, variant) in e.variants.iter().enumerate() {
                    for field in variant.fields.iter() {
                        for name in type_names(&field.ty) {
                            let schema = self
                                .spec
                                .pointer(&format!("/components/schemas/{name}"))
                                .map(|_| serde_json::json!({"$ref": format!("#/components/schemas/{name}")}))
                                .or_else(|| variants.get(i).map(|v| self.element(v)));
                            if let Some(schema) = schema {
                                self.visit(operation, &name, &schema);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn walks_bodies_into_nested_types_with_generated_names() {
        let spec = json!({"components": {"schemas": {
            "NoteCreate": {"type": "object", "required": ["data"], "properties": {
                "data": {"$ref": "#/components/schemas/NoteData"},
                "position": {"$ref": "#/components/schemas/Position"}}},
            "NoteData": {"type": "object", "properties": {"content": {"type": "string"}}},
            "Position": {"type": "object", "properties": {"x": {"type": "number"}}}}}});
        let types: Vec<Item> = vec![
            syn::parse_quote!(
                pub struct NoteCreate {
                    pub data: NoteData,
                    pub position: Option<Position>,
                }
            ),
            syn::parse_quote!(
                pub struct NoteData {
                    pub content: Option<String>,
                }
            ),
            syn::parse_quote!(
                pub struct Position {
                    pub x: Option<f64>,
                }
            ),
        ];
        let mut walker = Walker {
            spec: &spec,
            types: types
                .iter()
                .map(|i| match i {
                    Item::Struct(s) => (s.ident.to_string(), i),
                    _ => unreachable!(),
                })
                .collect(),
            found: BTreeMap::new(),
            seen: BTreeSet::new(),
        };
        walker.visit(
            "create-note",
            "NoteCreate",
            &json!({"$ref": "#/components/schemas/NoteCreate"}),
        );
        let names: Vec<&str> = walker.found.keys().map(String::as_str).collect();
        assert_eq!(names, ["NoteCreate", "NoteData", "Position"]);
        let root = &walker.found["NoteCreate"].schema;
        assert_eq!(
            Synth::required_only(&spec).value(root, None),
            json!({"data": {}})
        );
    }
}
