//! Rewrites progenitor's output where it is wrong for Miro.
//!
//! - String enums become open: an `UnknownValue(String)` variant keeps any value the spec does not
//!   list, and serializes it back unchanged (a known value decodes without allocating). Parsing
//!   a string (`FromStr`) accepts only known values, so a typo is an error rather than an
//!   unknown value; `UnknownValue(..)` is explicit.
//! - oneOfs marked by the `outer-type-discriminators` fix gain an `Unknown(serde_json::Value)`
//!   variant, and every struct holding one beside a `type` field decodes it by that `type`
//!   instead of guessing, once, from the raw text ([`crate::tagged`]).
//! - Other untagged unions decode by a discriminating property or their JSON kind
//!   ([`decode_unions_by_discriminator`]).
//! - Each method keeps progenitor's URL and request building, loses the `api-version` header,
//!   the hooks and the status match, and ends in one call into the hand-written runtime
//!   (`MiroApi::respond_json` / `respond_empty`), which owns auth, errors, retries and pacing.
//! - Multipart operations get their parts as parameters and a buffered multipart body.
//! - Method docs come from the spec via [`model::method_doc`].

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};
use serde_json::Value;
use syn::punctuated::Punctuated;
use syn::visit_mut::VisitMut;
use syn::{
    parse_quote, Expr, Fields, File, Ident, ImplItem, Item, ItemEnum, ItemStruct, Token, Type,
};

use crate::model::{self, Operation};
use crate::GenError;

/// The post-processed code: the `types` module's items and the methods of `MiroApi`.
pub struct Processed {
    /// Items of `generated/types.rs`.
    pub types: Vec<Item>,
    /// The `impl MiroApi { ... }` block of `generated/methods.rs`.
    pub methods: Item,
    /// How many enums were opened.
    pub open_enums: usize,
    /// How many structs decode item data by their `type`.
    pub tagged_structs: usize,
    /// Per method name: the success body type and the JSON request body type, if any.
    pub signatures: BTreeMap<String, (Type, Option<Type>)>,
}

/// Post-processes progenitor's tokens. `outer_tags` maps a oneOf type name to its
/// `type` value -> variant schema mapping.
pub fn process(
    tokens: TokenStream,
    ops: &[Operation],
    outer_tags: &BTreeMap<String, BTreeMap<String, String>>,
    spec: &Value,
) -> Result<Processed, GenError> {
    let file: File = syn::parse2(tokens).map_err(|e| GenError::Syntax(e.to_string()))?;
    let mut types = None;
    let mut methods = None;
    for item in file.items {
        match item {
            Item::Mod(m) if m.ident == "types" => {
                types = Some(m.content.map(|(_, items)| items).unwrap_or_default());
            }
            Item::Impl(imp)
                if imp.trait_.is_none()
                    && is_client(&imp.self_ty)
                    && imp
                        .items
                        .iter()
                        .any(|i| matches!(i, ImplItem::Fn(f) if f.sig.asyncness.is_some())) =>
            {
                methods = Some(imp);
            }
            // The Client struct, its constructors, hooks, re-exports and prelude are replaced by
            // the hand-written runtime.
            _ => {}
        }
    }
    let mut types =
        types.ok_or_else(|| GenError::Syntax("progenitor emitted no types module".into()))?;
    let methods =
        methods.ok_or_else(|| GenError::Syntax("progenitor emitted no methods".into()))?;

    let open_enums = open_string_enums(&mut types);
    document_referencing_fields(&mut types, spec);
    lenient_ids(&mut types, spec);
    let tagged_structs = decode_by_outer_tag(&mut types, outer_tags)?;
    let mut signatures = BTreeMap::new();
    let methods = rewrite_methods(methods, ops, &mut signatures)?;
    Ok(Processed {
        types,
        methods,
        open_enums,
        tagged_structs,
        signatures,
    })
}

fn is_client(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.path.is_ident("Client"))
}

fn derive_paths(attr: &syn::Attribute) -> Option<Punctuated<syn::Path, Token![,]>> {
    if !attr.path().is_ident("derive") {
        return None;
    }
    attr.parse_args_with(Punctuated::<syn::Path, Token![,]>::parse_terminated)
        .ok()
}

fn path_last(p: &syn::Path) -> String {
    p.segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default()
}

/// Removes the derives whose last segment is in `drop`; returns whether any was removed.
fn drop_derives(attrs: &mut [syn::Attribute], drop: &[&str]) -> bool {
    let mut removed = false;
    for attr in attrs.iter_mut() {
        if let Some(paths) = derive_paths(attr) {
            let kept: Vec<&syn::Path> = paths
                .iter()
                .filter(|p| !drop.contains(&path_last(p).as_str()))
                .collect();
            if kept.len() != paths.len() {
                removed = true;
                *attr = parse_quote!(#[derive(#(#kept),*)]);
            }
        }
    }
    removed
}

/// The `#[serde(rename = "..")]` among `attrs`, if any.
pub(crate) fn serde_rename(attrs: &[syn::Attribute]) -> Option<String> {
    let mut out = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let lit: syn::LitStr = meta.value()?.parse()?;
                out = Some(lit.value());
            } else if meta.input.peek(Token![=]) {
                let _: Expr = meta.value()?.parse()?;
            }
            Ok(())
        });
    }
    out
}

// ---- open enums -------------------------------------------------------------------------------

fn open_string_enums(types: &mut Vec<Item>) -> usize {
    let mut opened: BTreeSet<String> = BTreeSet::new();
    let mut extra: Vec<Item> = Vec::new();
    for item in types.iter_mut() {
        let Item::Enum(e) = item else { continue };
        if e.variants.is_empty() || !e.variants.iter().all(|v| matches!(v.fields, Fields::Unit)) {
            continue;
        }
        let values: Vec<(Ident, String)> = e
            .variants
            .iter()
            .map(|v| {
                (
                    v.ident.clone(),
                    serde_rename(&v.attrs).unwrap_or_else(|| v.ident.to_string()),
                )
            })
            .collect();
        drop_derives(&mut e.attrs, &["Copy", "Serialize", "Deserialize"]);
        e.attrs.retain(|a| !a.path().is_ident("serde"));
        for (v, (_, wire)) in e.variants.iter_mut().zip(&values) {
            v.attrs.retain(|a| !a.path().is_ident("serde"));
            if !v.attrs.iter().any(|a| a.path().is_ident("doc")) {
                let doc = format!(" `{wire}` on the wire.");
                v.attrs.insert(0, parse_quote!(#[doc = #doc]));
            }
        }
        e.variants.push(parse_quote! {
            /// A value this version of the client does not know, kept as Miro sent it.
            UnknownValue(::std::string::String)
        });
        e.attrs.push(parse_quote!(#[non_exhaustive]));
        extra.extend(open_enum_impls(e, &values));
        opened.insert(e.ident.to_string());
    }
    // typify's conversions are replaced by the infallible ones above.
    types.retain(|item| {
        let Item::Impl(imp) = item else { return true };
        let Type::Path(self_ty) = &*imp.self_ty else {
            return true;
        };
        if !opened.contains(&path_last(&self_ty.path)) {
            return true;
        }
        let Some((_, trait_path, _)) = &imp.trait_ else {
            return true;
        };
        !matches!(
            path_last(trait_path).as_str(),
            "Display" | "FromStr" | "TryFrom"
        )
    });
    types.extend(extra);
    opened.len()
}

fn open_enum_impls(e: &ItemEnum, values: &[(Ident, String)]) -> Vec<Item> {
    let name = &e.ident;
    let name_str = name.to_string();
    let idents: Vec<&Ident> = values.iter().map(|(i, _)| i).collect();
    let strs: Vec<&String> = values.iter().map(|(_, s)| s).collect();
    let file: File = parse_quote! {
        impl #name {
            /// The value as it goes on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    #(Self::#idents => #strs,)*
                    Self::UnknownValue(value) => value.as_str(),
                }
            }
            fn known(value: &str) -> ::std::option::Option<Self> {
                match value {
                    #(#strs => ::std::option::Option::Some(Self::#idents),)*
                    _ => ::std::option::Option::None,
                }
            }
        }
        impl ::std::fmt::Display for #name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl ::std::str::FromStr for #name {
            type Err = crate::UnknownEnumValue;
            /// A known value; anything else is an error, so a typo is caught (write
            /// `UnknownValue(..)` to send a value this version does not know).
            fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
                Self::known(value).ok_or_else(|| crate::UnknownEnumValue::new(#name_str, value))
            }
        }
        impl ::serde::Serialize for #name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                crate::runtime::open_enum(deserializer, Self::known, Self::UnknownValue)
            }
        }
        impl crate::runtime::OuterTag for #name {
            fn outer_tag(&self) -> ::std::option::Option<&str> {
                ::std::option::Option::Some(self.as_str())
            }
        }
        /// Compares the value as it goes on the wire: `item.type_ == "frame"`.
        impl ::std::cmp::PartialEq<str> for #name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }
        /// Compares the value as it goes on the wire: `item.type_ == "frame"`.
        impl ::std::cmp::PartialEq<&str> for #name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
    file.items
}

// ---- field docs ---------------------------------------------------------------------------------

/// Calls `f` with every field of a generated struct and its property in the struct's schema.
fn for_each_schema_field(
    types: &mut [Item],
    spec: &Value,
    mut f: impl FnMut(&mut syn::Field, &Value),
) {
    for item in types.iter_mut() {
        let Item::Struct(s) = item else { continue };
        let Some(props) = spec
            .pointer(&format!("/components/schemas/{}/properties", s.ident))
            .and_then(Value::as_object)
        else {
            continue;
        };
        let Fields::Named(fields) = &mut s.fields else {
            continue;
        };
        for field in fields.named.iter_mut() {
            if let Some(prop) = props.get(&crate::request_types::json_name(field)) {
                f(field, prop);
            }
        }
    }
}

/// A property that is a `$ref` with a `description` beside it loses that description in typify
/// (OpenAPI 3.0 ignores siblings of `$ref`), so the field would have no docs, or lose the spec's
/// default noted there; the field gets it back from the spec.
fn document_referencing_fields(types: &mut [Item], spec: &Value) {
    for_each_schema_field(types, spec, |field, prop| {
        if field.attrs.iter().any(|a| a.path().is_ident("doc")) {
            return;
        }
        let Some(description) = prop
            .get("description")
            .filter(|_| prop.get("$ref").is_some())
            .and_then(Value::as_str)
        else {
            return;
        };
        let doc = model::param_doc(description);
        if !doc.is_empty() {
            let doc = format!(" {doc}");
            field.attrs.insert(0, parse_quote!(#[doc = #doc]));
        }
    });
}

/// Fields the `lossless-int64-ids` fix marked decode from a string or a number
/// (`runtime::lenient_id`), so an id Miro sends as either keeps every digit.
fn lenient_ids(types: &mut [Item], spec: &Value) {
    for_each_schema_field(types, spec, |field, prop| {
        let lenient = prop
            .get(crate::fixes::LENIENT_ID_EXTENSION)
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if lenient {
            field.attrs.push(parse_quote!(
                #[serde(default, deserialize_with = "crate::runtime::lenient_id")]
            ));
        }
    });
}

// ---- aliases for the names fixes removed ---------------------------------------------------------

/// A deprecated alias for every type name a fix removed (recorded under
/// [`crate::fixes::RENAMED_EXTENSION`]) whose replacement is a generated type, so code naming
/// the old type keeps compiling with a warning that names the new one. Returns how many.
pub fn renamed_aliases(types: &mut Vec<Item>, spec: &Value) -> usize {
    let names = type_names(types);
    let mut aliases = Vec::new();
    for (old, new) in spec
        .get(crate::fixes::RENAMED_EXTENSION)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let Some(new) = new.as_str() else { continue };
        if names.contains(old) || !names.contains(new) {
            continue;
        }
        let (old_ident, new_ident) = (format_ident!("{}", old), format_ident!("{}", new));
        let note = format!("the same type as `{new}`; use that name");
        let doc = format!(" Renamed: an identical copy of [`{new}`] in the spec.");
        aliases.push(parse_quote! {
            #[doc = #doc]
            #[deprecated(note = #note)]
            pub type #old_ident = #new_ident;
        });
    }
    let n = aliases.len();
    types.extend(aliases);
    n
}

// ---- item data decoded by the outer `type` ----------------------------------------------------

fn decode_by_outer_tag(
    types: &mut Vec<Item>,
    outer_tags: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<usize, GenError> {
    let mut extra = Vec::new();
    let mut tagged_enums = BTreeSet::new();
    for item in types.iter_mut() {
        let Item::Enum(e) = item else { continue };
        let Some(mapping) = outer_tags.get(&e.ident.to_string()) else {
            continue;
        };
        tagged_enums.insert(e.ident.to_string());
        e.variants.push(parse_quote! {
            /// Data of a `type` this version of the client does not know (or that did not match
            /// its documented shape), kept as raw JSON.
            Unknown(::serde_json::Value)
        });
        let name = &e.ident;
        let mut arms = Vec::new();
        let mut raw_arms = Vec::new();
        for (tag, schema) in mapping {
            let variant = e
                .variants
                .iter()
                .find(|v| v.ident == schema.as_str())
                .ok_or_else(|| GenError::Syntax(format!("{name} has no variant {schema}")))?;
            let v = &variant.ident;
            raw_arms.push((tag.clone(), v.clone()));
            arms.push(quote! {
                #tag => match ::serde::Deserialize::deserialize(&value) {
                    ::std::result::Result::Ok(data) => Self::#v(data),
                    ::std::result::Result::Err(_) => Self::Unknown(value),
                },
            });
        }
        extra.push(parse_quote! {
            impl #name {
                /// Decodes `value` as the variant that the enclosing object's `type` names;
                /// an unknown `type`, or data that does not fit, is kept raw in `Unknown`.
                pub fn from_outer_tag(tag: ::std::option::Option<&str>, value: ::serde_json::Value) -> Self {
                    match tag.unwrap_or_default() {
                        #(#arms)*
                        _ => Self::Unknown(value),
                    }
                }
            }
        });
        extra.push(crate::tagged::from_raw_impl(name, &raw_arms));
    }
    let mut count = 0;
    for item in types.iter_mut() {
        let Item::Struct(s) = item else { continue };
        let Fields::Named(fields) = &s.fields else {
            continue;
        };
        let has_type = fields
            .named
            .iter()
            .any(|f| f.ident.as_ref().is_some_and(|i| i == "type_"));
        let tagged: Vec<(Ident, String, bool)> = fields
            .named
            .iter()
            .filter_map(|f| {
                let (inner, optional) = option_inner(&f.ty);
                let name = type_name(inner)?;
                tagged_enums
                    .contains(&name)
                    .then(|| (f.ident.clone().unwrap(), name, optional))
            })
            .collect();
        if !has_type || tagged.is_empty() {
            continue;
        }
        extra.push(crate::tagged::deserialize_impl(s, &tagged));
        drop_derives(&mut s.attrs, &["Deserialize"]);
        count += 1;
    }
    types.extend(extra);
    Ok(count)
}

/// The `T` of an `Option<T>` and `true`, or the type itself and `false`.
pub(crate) fn option_inner(ty: &Type) -> (&Type, bool) {
    match generic_inner(ty, "Option") {
        Some(inner) => (inner, true),
        None => (ty, false),
    }
}

/// The `T` of a `Wrapper<T>` whose last path segment is `wrapper` (`Option`, `Vec`,
/// `Nullable`, whatever its path prefix).
pub(crate) fn generic_inner<'t>(ty: &'t Type, wrapper: &str) -> Option<&'t Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != wrapper {
        return None;
    }
    match &last.arguments {
        syn::PathArguments::AngleBracketed(args) => match args.args.first()? {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        },
        _ => None,
    }
}

/// The last segment of a path type (`types::Foo` -> `Foo`).
pub(crate) fn type_name(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) => Some(path_last(&p.path)),
        _ => None,
    }
}

// ---- untagged unions decoded by a discriminating property ---------------------------------------

/// How the variant of a union is recognised in the JSON.
#[derive(Debug)]
enum Discriminator {
    /// A string property whose value each object variant fixes (`contentType`: `html` or
    /// `markdown`): variant name -> value.
    Const(String, Vec<(Ident, String)>),
    /// An HTTP `status` beside an `error` in one variant: a status of 400 or more, or an
    /// `error`, picks that variant; anything else the other.
    Status { success: Ident, error: Ident },
    /// A single object variant.
    Only(Ident),
}

/// The JSON kind a variant's Rust type decodes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JsonKind {
    Object,
    Array,
    String,
}

/// Untagged unions (`#[serde(untagged)]` enums without an `Unknown` variant) decode by what the
/// spec says tells their variants apart, instead of trying each variant in turn (which picks the
/// first that happens to fit, and hides the real error of the right one behind "data did not
/// match any variant"): first the JSON kind (object, array, string), then for several object
/// variants a property whose value each variant's schema fixes (a one-value `enum`, as a
/// `discriminator` names), or an HTTP `status` beside an `error`. A union with no such rule is
/// left as it is. Returns how many unions were rewritten.
pub fn decode_unions_by_discriminator(types: &mut Vec<Item>, spec: &Value) -> usize {
    let schemas: BTreeMap<String, &Value> = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, schema)| (crate::fixes::upper_camel(name), schema))
        .collect();
    let structs: BTreeMap<String, ItemStruct> = types
        .iter()
        .filter_map(|i| match i {
            Item::Struct(s) => Some((s.ident.to_string(), s.clone())),
            _ => None,
        })
        .collect();
    let mut extra = Vec::new();
    for item in types.iter_mut() {
        let Item::Enum(e) = item else { continue };
        let Some(imp) = union_deserialize(e, &schemas, &structs) else {
            continue;
        };
        drop_derives(&mut e.attrs, &["Deserialize"]);
        extra.push(imp);
    }
    let count = extra.len();
    types.extend(extra);
    count
}

/// The `Deserialize` impl of an untagged union, when a rule tells its variants apart.
fn union_deserialize(
    e: &ItemEnum,
    schemas: &BTreeMap<String, &Value>,
    structs: &BTreeMap<String, ItemStruct>,
) -> Option<Item> {
    let untagged = e.attrs.iter().any(|a| {
        a.path().is_ident("serde") && a.meta.to_token_stream().to_string().contains("untagged")
    });
    if !untagged || e.variants.iter().any(|v| v.ident == "Unknown") {
        return None;
    }
    let mut by_kind: BTreeMap<&'static str, Vec<(Ident, Option<String>)>> = BTreeMap::new();
    for v in &e.variants {
        let Fields::Unnamed(f) = &v.fields else {
            return None;
        };
        let [field] = f.unnamed.iter().collect::<Vec<_>>()[..] else {
            return None;
        };
        let (kind, schema) = json_kind(&field.ty, structs)?;
        let key = match kind {
            JsonKind::Object => "object",
            JsonKind::Array => "array",
            JsonKind::String => "string",
        };
        by_kind
            .entry(key)
            .or_default()
            .push((v.ident.clone(), schema));
    }
    let name = &e.ident;
    let union = name.to_string();
    let mut arms = Vec::new();
    for (kind, variants) in &by_kind {
        let arm = match *kind {
            "object" => {
                let rule = object_rule(variants, schemas)?;
                let body = rule_body(&union, &rule);
                quote! { ::serde_json::Value::Object(map) => { #body } }
            }
            _ if variants.len() > 1 => return None,
            kind => {
                let v = &variants[0].0;
                let label = format!("{union}::{v}");
                let pattern = if kind == "array" {
                    quote!(::serde_json::Value::Array(_))
                } else {
                    quote!(::serde_json::Value::String(_))
                };
                quote! { #pattern => crate::runtime::decode_variant(&value, #label).map(Self::#v), }
            }
        };
        arms.push(arm);
    }
    let kinds = by_kind.keys().copied().collect::<Vec<_>>().join(" or ");
    let expected = format!("{union}: expected {kinds}");
    Some(parse_quote! {
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                let value = <::serde_json::Value as ::serde::Deserialize>::deserialize(deserializer)?;
                match &value {
                    #(#arms)*
                    _ => ::std::result::Result::Err(<D::Error as ::serde::de::Error>::custom(#expected)),
                }
            }
        }
    })
}

/// The JSON kind of a variant's type, and the schema name of a struct.
fn json_kind(
    ty: &Type,
    structs: &BTreeMap<String, ItemStruct>,
) -> Option<(JsonKind, Option<String>)> {
    let Type::Path(p) = ty else { return None };
    let last = path_last(&p.path);
    match last.as_str() {
        "Vec" => return Some((JsonKind::Array, None)),
        "String" => return Some((JsonKind::String, None)),
        _ => {}
    }
    let s = structs.get(&last)?;
    match &s.fields {
        Fields::Named(_) => Some((JsonKind::Object, Some(last))),
        Fields::Unnamed(f) => {
            let inner = &f.unnamed.first()?.ty;
            match type_name(inner).as_deref() {
                Some("Vec") => Some((JsonKind::Array, None)),
                Some("String") => Some((JsonKind::String, None)),
                _ => None,
            }
        }
        Fields::Unit => None,
    }
}

/// The rule telling object variants apart, from their schemas.
fn object_rule(
    variants: &[(Ident, Option<String>)],
    schemas: &BTreeMap<String, &Value>,
) -> Option<Discriminator> {
    if let [(only, _)] = variants {
        return Some(Discriminator::Only(only.clone()));
    }
    let props: Vec<(&Ident, &serde_json::Map<String, Value>)> = variants
        .iter()
        .map(|(v, schema)| {
            let props = schemas
                .get(schema.as_deref()?)?
                .get("properties")?
                .as_object()?;
            Some((v, props))
        })
        .collect::<Option<_>>()?;
    // A property each variant fixes to a different string.
    let fixed = |props: &serde_json::Map<String, Value>, name: &str| -> Option<String> {
        match props.get(name)?.get("enum")?.as_array()?.as_slice() {
            [Value::String(v)] => Some(v.clone()),
            _ => None,
        }
    };
    for name in props[0].1.keys() {
        let values: Option<Vec<(Ident, String)>> = props
            .iter()
            .map(|(v, p)| Some(((*v).clone(), fixed(p, name)?)))
            .collect();
        if let Some(values) = values {
            let distinct: BTreeSet<&String> = values.iter().map(|(_, v)| v).collect();
            if distinct.len() == values.len() {
                return Some(Discriminator::Const(name.clone(), values));
            }
        }
    }
    // An HTTP status in both, an error in one.
    if let [(a, pa), (b, pb)] = props[..] {
        let integer_status = |p: &serde_json::Map<String, Value>| {
            p.get("status").and_then(|s| s.get("type")) == Some(&Value::from("integer"))
        };
        if integer_status(pa) && integer_status(pb) {
            match (pa.contains_key("error"), pb.contains_key("error")) {
                (false, true) => {
                    return Some(Discriminator::Status {
                        success: a.clone(),
                        error: b.clone(),
                    })
                }
                (true, false) => {
                    return Some(Discriminator::Status {
                        success: b.clone(),
                        error: a.clone(),
                    })
                }
                _ => {}
            }
        }
    }
    None
}

/// The decoding of an object (bound to `map`, the whole in `value`) by a rule.
fn rule_body(union: &str, rule: &Discriminator) -> TokenStream {
    let decode = |v: &Ident| {
        let label = format!("{union}::{v}");
        quote!(crate::runtime::decode_variant(&value, #label).map(Self::#v))
    };
    match rule {
        Discriminator::Only(v) => {
            let d = decode(v);
            quote! { let _ = map; #d }
        }
        Discriminator::Const(property, values) => {
            let arms = values.iter().map(|(v, value)| {
                let d = decode(v);
                quote! { ::std::option::Option::Some(#value) => #d, }
            });
            let known = values
                .iter()
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let message = format!("{union}: {property} {{:?}} is none of {known}");
            quote! {
                match map.get(#property).and_then(::serde_json::Value::as_str) {
                    #(#arms)*
                    other => ::std::result::Result::Err(<D::Error as ::serde::de::Error>::custom(
                        ::std::format!(#message, other),
                    )),
                }
            }
        }
        Discriminator::Status { success, error } => {
            let ok = decode(success);
            let failed = decode(error);
            quote! {
                let failed = map.contains_key("error")
                    || map
                        .get("status")
                        .and_then(::serde_json::Value::as_u64)
                        .is_some_and(|s| s >= 400);
                if failed { #failed } else { #ok }
            }
        }
    }
}

// ---- methods ------------------------------------------------------------------------------------

fn rewrite_methods(
    mut imp: syn::ItemImpl,
    ops: &[Operation],
    signatures: &mut BTreeMap<String, (Type, Option<Type>)>,
) -> Result<Item, GenError> {
    let by_name: BTreeMap<&str, &Operation> = ops.iter().map(|o| (o.fn_name.as_str(), o)).collect();
    let mut seen = 0;
    for item in imp.items.iter_mut() {
        let ImplItem::Fn(f) = item else { continue };
        let name = f.sig.ident.to_string();
        let op = by_name.get(name.as_str()).ok_or_else(|| {
            GenError::Syntax(format!("progenitor method {name} matches no operation"))
        })?;
        let body = f.sig.inputs.iter().find_map(|arg| match arg {
            syn::FnArg::Typed(t) if matches!(&*t.pat, syn::Pat::Ident(i) if i.ident == "body") => {
                match &*t.ty {
                    Type::Reference(r) => Some((*r.elem).clone()),
                    other => Some(other.clone()),
                }
            }
            _ => None,
        });
        let success = success_type(&f.sig.output)
            .ok_or_else(|| GenError::Syntax(format!("{name}: unexpected return type")))?;
        rewrite_method(f, op, &success)?;
        signatures.insert(name.clone(), (success, body));
        seen += 1;
    }
    if seen != ops.len() {
        return Err(GenError::Syntax(format!(
            "{seen} methods for {} operations",
            ops.len()
        )));
    }
    imp.self_ty = parse_quote!(crate::MiroApi);
    imp.attrs =
        vec![parse_quote!(#[allow(clippy::too_many_arguments, clippy::needless_lifetimes)])];
    Ok(Item::Impl(imp))
}

/// What to hand `runtime::path_segment` for progenitor's `encode_path(arg)`: `&x` when `arg` is
/// `&x.to_string()` (no copy of `x`), `arg` itself otherwise.
fn path_segment_arg(e: &Expr) -> Option<Expr> {
    let Expr::Call(call) = e else { return None };
    let Expr::Path(func) = &*call.func else {
        return None;
    };
    if !func.path.is_ident("encode_path") || call.args.len() != 1 {
        return None;
    }
    let arg = &call.args[0];
    if let Expr::Reference(reference) = arg {
        if let Expr::MethodCall(to_string) = &*reference.expr {
            if to_string.method == "to_string" && to_string.args.is_empty() {
                let value = &to_string.receiver;
                return Some(parse_quote!(&#value));
            }
        }
    }
    Some(arg.clone())
}

/// Renames `board_id_platform_*` parameters to `board_id`, and points progenitor's helpers at
/// the runtime.
struct Renamer;

impl VisitMut for Renamer {
    fn visit_ident_mut(&mut self, i: &mut Ident) {
        if i.to_string().starts_with("board_id_") {
            *i = Ident::new("board_id", i.span());
        }
    }
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        // progenitor's `encode_path(&x.to_string())` copies the value twice (the string, then
        // its encoding) before `format!` copies it into the URL: the runtime's `path_segment`
        // encodes it while it is written into the URL.
        if let Some(mut arg) = path_segment_arg(e) {
            self.visit_expr_mut(&mut arg);
            *e = parse_quote!(crate::runtime::path_segment(#arg));
            return;
        }
        if let Expr::Field(field) = e {
            if matches!(&*field.base, Expr::Path(p) if p.path.is_ident("self")) {
                if let syn::Member::Named(m) = &field.member {
                    if m == "baseurl" {
                        *e = parse_quote!(self.base_url());
                        return;
                    }
                    if m == "client" {
                        *e = parse_quote!(self.http());
                        return;
                    }
                }
            }
        }
        syn::visit_mut::visit_expr_mut(self, e);
    }
    fn visit_macro_mut(&mut self, m: &mut syn::Macro) {
        // format!(...) arguments are tokens to syn: parse, rewrite, and put them back.
        if m.path.is_ident("format") {
            if let Ok(mut args) = m.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated)
            {
                for arg in args.iter_mut() {
                    self.visit_expr_mut(arg);
                }
                m.tokens = quote!(#args);
            }
        }
    }
    fn visit_path_mut(&mut self, p: &mut syn::Path) {
        if p.segments
            .first()
            .is_some_and(|s| s.ident == "progenitor_client")
        {
            // progenitor_client::X::... -> crate::runtime::X::...
            let rest: Vec<_> = p.segments.iter().skip(1).cloned().collect();
            *p = parse_quote!(crate::runtime::#(#rest)::*);
        } else {
            syn::visit_mut::visit_path_mut(self, p);
        }
    }
}

fn rewrite_method(f: &mut syn::ImplItemFn, op: &Operation, success: &Type) -> Result<(), GenError> {
    let fn_name = f.sig.ident.to_string();
    Renamer.visit_signature_mut(&mut f.sig);
    vec_bodies_as_slices(&mut f.sig);
    let empty = matches!(&success, Type::Tuple(t) if t.elems.is_empty());
    f.sig.output = parse_quote!(-> ::std::result::Result<crate::Response<#success>, crate::Error>);

    let mut url = None;
    let mut request = None;
    // Before the request is built, progenitor's only statement that is not a `let` appends the
    // api-version header; more of them would be header parameters, which this would drop.
    let mut header_statements = 0;
    for stmt in &f.block.stmts {
        let syn::Stmt::Local(local) = stmt else {
            header_statements += usize::from(request.is_none());
            continue;
        };
        let syn::Pat::Ident(pat) = strip_pat(&local.pat) else {
            continue;
        };
        let Some(init) = &local.init else { continue };
        if pat.ident == "url" {
            url = Some((*init.expr).clone());
        } else if pat.ident == "request" {
            request = Some((*init.expr).clone());
        }
    }
    if header_statements > 1 {
        return Err(GenError::Syntax(format!(
            "{fn_name}: header parameters are not supported"
        )));
    }
    let mut url = url.ok_or_else(|| GenError::Syntax(format!("{fn_name}: no url")))?;
    let mut request =
        strip_build(request.ok_or_else(|| GenError::Syntax(format!("{fn_name}: no request")))?);
    Renamer.visit_expr_mut(&mut url);
    Renamer.visit_expr_mut(&mut request);

    let mut prelude: Vec<syn::Stmt> = Vec::new();
    if let Some(schema) = &op.multipart {
        let (params, stmts) = multipart_parts(schema, &fn_name)?;
        f.sig.inputs.extend(params);
        prelude.extend(stmts);
        request = parse_quote! {
            #request
                .header(::reqwest::header::CONTENT_TYPE, content_type)
                .body(body)
        };
    }
    let op_const = format_ident!("{}", op.fn_name.to_uppercase());
    let respond = if empty {
        quote!(respond_empty)
    } else {
        quote!(respond_json)
    };
    // Building the request is synchronous and specific to the operation; sending it is one
    // future of the runtime, shared by every operation with the same response type, so the
    // crate does not compile (and check `Send` for) a future per operation.
    f.block = parse_quote! {{
        let request = (|| -> ::std::result::Result<::reqwest::RequestBuilder, crate::Error> {
            let url = #url;
            #(#prelude)*
            ::std::result::Result::Ok(#request)
        })();
        self.#respond(request, &crate::generated::operations::#op_const)
    }};
    f.sig.asyncness = None;
    f.attrs.retain(|a| !a.path().is_ident("doc"));
    let doc = model::method_doc(op);
    f.attrs.insert(0, parse_quote!(#[doc = #doc]));
    Ok(())
}

/// A list body is taken as a slice (`&'a [T]`, like the upload parts), not `&'a Vec<T>`.
fn vec_bodies_as_slices(sig: &mut syn::Signature) {
    for arg in sig.inputs.iter_mut() {
        let syn::FnArg::Typed(t) = arg else { continue };
        let Type::Reference(r) = &mut *t.ty else {
            continue;
        };
        let Type::Path(p) = &*r.elem else { continue };
        let Some(last) = p.path.segments.last() else {
            continue;
        };
        if last.ident != "Vec" {
            continue;
        }
        if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
            if let Some(syn::GenericArgument::Type(elem)) = args.args.first() {
                let elem = elem.clone();
                *r.elem = parse_quote!([#elem]);
            }
        }
    }
}

fn strip_pat(p: &syn::Pat) -> &syn::Pat {
    match p {
        syn::Pat::Type(t) => strip_pat(&t.pat),
        other => other,
    }
}

fn success_type(output: &syn::ReturnType) -> Option<Type> {
    match output {
        // progenitor's `Result<ResponseValue<T>, Error<..>>` has the same shape.
        syn::ReturnType::Type(_, ty) => response_body(ty),
        syn::ReturnType::Default => None,
    }
}

/// The `T` of a `Result<crate::Response<T>, crate::Error>` (or of progenitor's
/// `Result<ResponseValue<T>, Error<..>>`).
pub(crate) fn response_body(output: &Type) -> Option<Type> {
    let Type::Path(result) = output else {
        return None;
    };
    let syn::PathArguments::AngleBracketed(args) = &result.path.segments.last()?.arguments else {
        return None;
    };
    let Some(syn::GenericArgument::Type(Type::Path(response))) = args.args.first() else {
        return None;
    };
    let syn::PathArguments::AngleBracketed(inner) = &response.path.segments.last()?.arguments
    else {
        return None;
    };
    match inner.args.first()? {
        syn::GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    }
}

/// `x.headers(header_map).build()?` -> `x`.
fn strip_build(e: Expr) -> Expr {
    match e {
        Expr::Try(t) => strip_build(*t.expr),
        Expr::MethodCall(m) if m.method == "build" || m.method == "headers" => {
            strip_build(*m.receiver)
        }
        Expr::MethodCall(mut m) => {
            m.receiver = Box::new(strip_build(*m.receiver));
            Expr::MethodCall(m)
        }
        other => other,
    }
}

/// Parameters and body-building statements for a multipart schema.
fn multipart_parts(
    schema: &Value,
    fn_name: &str,
) -> Result<(Vec<syn::FnArg>, Vec<syn::Stmt>), GenError> {
    let required: BTreeSet<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let props = schema
        .get("properties")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            GenError::Syntax(format!("{fn_name}: multipart schema without properties"))
        })?;
    let mut params = Vec::new();
    let mut calls = Vec::new();
    for (part, prop) in props {
        let ident = Ident::new(&model::snake_case(part), Span::call_site());
        let is_required = required.contains(part.as_str());
        let binary = |v: &Value| v.get("format").and_then(Value::as_str) == Some("binary");
        let item_ref = |v: &Value| {
            v.get("$ref")
                .and_then(Value::as_str)
                .map(|r| format_ident!("{}", r.trim_start_matches("#/components/schemas/")))
        };
        if binary(prop) {
            if is_required {
                params.push(parse_quote!(#ident: crate::FilePart));
                calls.push(quote!(.file(#part, #ident)));
            } else {
                params.push(parse_quote!(#ident: ::std::option::Option<crate::FilePart>));
                calls.push(quote!(.file_opt(#part, #ident)));
            }
        } else if prop.get("type").and_then(Value::as_str) == Some("array")
            && binary(&prop["items"])
        {
            params.push(parse_quote!(#ident: ::std::vec::Vec<crate::FilePart>));
            calls.push(quote!(.files(#part, #ident)));
        } else if let Some(t) = item_ref(prop) {
            if is_required {
                params.push(parse_quote!(#ident: &'a types::#t));
                calls.push(quote!(.json(#part, #ident)?));
            } else {
                params.push(parse_quote!(#ident: ::std::option::Option<&'a types::#t>));
                calls.push(quote!(.json_opt(#part, #ident)?));
            }
        } else if prop.get("type").and_then(Value::as_str) == Some("array") {
            let t = item_ref(&prop["items"]).ok_or_else(|| {
                GenError::Syntax(format!("{fn_name}: part {part} has no item type"))
            })?;
            params.push(parse_quote!(#ident: &'a [types::#t]));
            calls.push(quote!(.json(#part, #ident)?));
        } else {
            return Err(GenError::Syntax(format!(
                "{fn_name}: unsupported multipart part {part}"
            )));
        }
    }
    let stmt: syn::Stmt = parse_quote! {
        let (content_type, body) = crate::runtime::MultipartBody::new() #(#calls)*.finish();
    };
    Ok((params, vec![stmt]))
}

/// The names of the generated types (structs, enums, aliases) among `types`.
pub fn type_names(types: &[Item]) -> BTreeSet<String> {
    types
        .iter()
        .filter_map(|i| match i {
            Item::Struct(s) => Some(s.ident.to_string()),
            Item::Enum(e) => Some(e.ident.to_string()),
            Item::Type(t) => Some(t.ident.to_string()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types() -> Vec<Item> {
        vec![
            parse_quote! {
                #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
                #[serde(untagged)]
                pub enum Doc { Html(DocHtml), Markdown(DocMarkdown) }
            },
            parse_quote! { #[derive(::serde::Deserialize)] pub struct DocHtml { pub content: String } },
            parse_quote! { #[derive(::serde::Deserialize)] pub struct DocMarkdown { pub content: String } },
            parse_quote! {
                #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
                #[serde(untagged)]
                pub enum Result { Ok(ResOk), Failed(ResFailed) }
            },
            parse_quote! { #[derive(::serde::Deserialize)] pub struct ResOk { pub status: Option<i64> } },
            parse_quote! { #[derive(::serde::Deserialize)] pub struct ResFailed { pub status: Option<i64> } },
            parse_quote! {
                #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
                #[serde(untagged)]
                pub enum Guess { A(ResOk), B(DocHtml) }
            },
        ]
    }

    #[test]
    fn unions_decode_by_a_fixed_property_a_status_or_not_at_all() {
        let spec = serde_json::json!({"components": {"schemas": {
            "DocHtml": {"properties": {"contentType": {"enum": ["html"]}, "content": {}}},
            "DocMarkdown": {"properties": {"contentType": {"enum": ["markdown"]}, "content": {}}},
            "ResOk": {"properties": {"status": {"type": "integer"}}},
            "ResFailed": {"properties": {"status": {"type": "integer"}, "error": {}}},
        }}});
        let mut items = types();
        assert_eq!(decode_unions_by_discriminator(&mut items, &spec), 2);
        let code = items
            .iter()
            .map(|i| i.to_token_stream().to_string())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(code.contains("map . get (\"contentType\")"), "{code}");
        assert!(code.contains("Some (\"markdown\") => crate :: runtime :: decode_variant"));
        assert!(code.contains("map . contains_key (\"error\")"));
        // Two object variants with nothing telling them apart stay untagged, derive included.
        let guess = items[6].to_token_stream().to_string();
        assert!(guess.contains(":: serde :: Deserialize"), "{guess}");
    }

    #[test]
    fn every_encoded_path_argument_is_written_through_path_segment() {
        let rewrite = |e: Expr| {
            let mut e = e;
            Renamer.visit_expr_mut(&mut e);
            e.to_token_stream().to_string()
        };
        // The form progenitor writes: the value itself, not its string copy.
        assert_eq!(
            rewrite(parse_quote!(encode_path(&board_id.to_string()))),
            "crate :: runtime :: path_segment (& board_id)"
        );
        // Any other argument is handed over as it is.
        assert_eq!(
            rewrite(parse_quote!(encode_path(name))),
            "crate :: runtime :: path_segment (name)"
        );
        assert_eq!(rewrite(parse_quote!(encode(x))), "encode (x)");
    }
}
