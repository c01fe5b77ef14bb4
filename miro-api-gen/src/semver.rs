//! Generated types that a newer spec can extend without a major release, and their docs.
//!
//! [`seal`]: every struct with named fields is `#[non_exhaustive]`, request and answer types
//! alike. Miro adds optional properties to answers (a new field) and to request bodies (a new
//! option); with exhaustive structs either breaks every struct literal, so each regeneration
//! would be a major version. Sealed, a value is built through `Type::new(required..)` (or
//! `Type::default()` when nothing is required) and one setter per field named after it,
//! `.field(value)`, taking `impl Into<T>` and filling an `Option` with `Some`. A setter whose
//! name would hide another method or a trait's associated function (`default`, `new`, ..) is
//! `with_<field>`. Newtypes (`Foo(pub Vec<Bar>)`) stay open: they wrap one value and cannot gain
//! fields. Every enum is `#[non_exhaustive]` too: string enums already are (see
//! [`crate::postprocess`]), and the unions (item data by `type`, `oneOf`s) become so, since Miro
//! adds item types and shapes; their variants can still be built.
//!
//! [`document`]: the spec's descriptions on types, fields and variants become plain text and
//! markdown (HTML tags dropped, `<br>` as line breaks, lists as markdown lists, site-relative
//! links made absolute), and every public item without a description gets a generated sentence,
//! so that the `types` module compiles with `missing_docs` on.

use std::collections::{BTreeMap, BTreeSet};

use quote::{format_ident, quote, ToTokens};
use syn::{parse_quote, Attribute, Fields, Item, Visibility};

use crate::postprocess::{option_inner, type_name};

/// Names a setter may not take: they would hide a trait's method or associated function, or
/// the constructor.
const RESERVED: &[&str] = &[
    "new",
    "default",
    "clone",
    "from",
    "into",
    "fmt",
    "eq",
    "ne",
    "cmp",
    "partial_cmp",
    "hash",
    "deref",
    "serialize",
    "deserialize",
    "to_string",
    "to_owned",
    "as_str",
    "try_from",
    "from_str",
];

/// What [`seal`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sealed {
    /// Structs made `#[non_exhaustive]`.
    pub structs: usize,
    /// Enums made `#[non_exhaustive]` (the unions; string enums already are).
    pub enums: usize,
    /// Setters added (fields that had none).
    pub setters: usize,
    /// Constructors added (`new()` for a struct with neither `Default` nor a `new`).
    pub constructors: usize,
}

/// The inherent methods and associated functions of every type in `types`, by type name.
fn inherent_methods(types: &[Item]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for item in types {
        let Item::Impl(imp) = item else { continue };
        if imp.trait_.is_some() {
            continue;
        }
        let Some(name) = type_name(&imp.self_ty) else {
            continue;
        };
        for i in &imp.items {
            if let syn::ImplItem::Fn(f) = i {
                out.entry(name.clone())
                    .or_default()
                    .insert(f.sig.ident.to_string());
            }
        }
    }
    out
}

/// Seals every struct with named fields (see the module docs). `hand_written` names methods
/// that hand-written code of `miro-api` adds to a generated type, which setters must not take.
pub fn seal(types: &mut Vec<Item>, hand_written: &[(&str, &str)]) -> Sealed {
    let mut taken = inherent_methods(types);
    for (ty, method) in hand_written {
        taken
            .entry((*ty).to_string())
            .or_default()
            .insert((*method).to_string());
    }
    let with_default = crate::bodies::implements_default(types);
    let mut stats = Sealed::default();
    let mut extra = Vec::new();
    for item in types.iter_mut() {
        if let Item::Enum(e) = item {
            if matches!(e.vis, Visibility::Public(_))
                && !e.attrs.iter().any(|a| a.path().is_ident("non_exhaustive"))
            {
                e.attrs.push(parse_quote!(#[non_exhaustive]));
                stats.enums += 1;
            }
            continue;
        }
        let Item::Struct(s) = item else { continue };
        let Fields::Named(fields) = &s.fields else {
            continue;
        };
        if !matches!(s.vis, Visibility::Public(_)) {
            continue;
        }
        if !s.attrs.iter().any(|a| a.path().is_ident("non_exhaustive")) {
            s.attrs.push(parse_quote!(#[non_exhaustive]));
            stats.structs += 1;
        }
        let name = s.ident.to_string();
        let empty = BTreeSet::new();
        let methods = taken.get(&name).unwrap_or(&empty);
        let mut added = Vec::new();
        for f in &fields.named {
            let Some(ident) = f.ident.clone() else {
                continue;
            };
            if !matches!(f.vis, Visibility::Public(_)) || methods.contains(&ident.to_string()) {
                continue;
            }
            let plain = ident.to_string();
            let bare = plain.trim_end_matches('_');
            let setter = if RESERVED.contains(&bare) || RESERVED.contains(&plain.as_str()) {
                format_ident!("with_{}", bare)
            } else {
                ident.clone()
            };
            if methods.contains(&setter.to_string()) {
                continue;
            }
            let (inner, optional) = option_inner(&f.ty);
            let doc = format!(" Sets `{bare}`.");
            if optional {
                added.push(quote! {
                    #[doc = #doc]
                    pub fn #setter(mut self, value: impl ::std::convert::Into<#inner>) -> Self {
                        self.#ident = ::std::option::Option::Some(value.into());
                        self
                    }
                });
            } else {
                let ty = &f.ty;
                added.push(quote! {
                    #[doc = #doc]
                    pub fn #setter(mut self, value: impl ::std::convert::Into<#ty>) -> Self {
                        self.#ident = value.into();
                        self
                    }
                });
            }
        }
        stats.setters += added.len();
        let all_public = fields
            .named
            .iter()
            .all(|f| matches!(f.vis, Visibility::Public(_)));
        // A struct with private fields is built otherwise (`ItemCreate::from(data)`).
        if all_public && !with_default.contains(&name) && !methods.contains("new") {
            // Nothing is required (else `new` would exist) but a field has no `Default` derive
            // on the struct: every field is optional or filled by serde.
            let inits = fields.named.iter().filter_map(|f| f.ident.clone());
            added.push(quote! {
                /// A value with every field unset (set them with the setters).
                pub fn new() -> Self {
                    Self { #(#inits: ::std::default::Default::default(),)* }
                }
            });
            stats.constructors += 1;
        }
        if !added.is_empty() {
            let ident = &s.ident;
            extra.push(parse_quote! {
                impl #ident {
                    #(#added)*
                }
            });
        }
    }
    types.extend(extra);
    stats
}

// ---- docs ---------------------------------------------------------------------------------------

/// What [`document`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Documented {
    /// Public fields and variants that had no docs before.
    pub undocumented_before: usize,
    /// Of these, how many got a generated sentence (all of them).
    pub generated: usize,
    /// Doc comments whose HTML became text.
    pub cleaned: usize,
    /// Public types (structs, enums, aliases) that got a generated sentence.
    pub types_generated: usize,
}

fn doc_text(attrs: &[Attribute]) -> Option<String> {
    let mut parts = Vec::new();
    for a in attrs {
        if !a.path().is_ident("doc") {
            continue;
        }
        if let syn::Meta::NameValue(nv) = &a.meta {
            if let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
            {
                parts.push(s.value());
            }
        }
    }
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("\n"))
    }
}

/// Replaces the doc attributes of `attrs` by `text`, one attribute per line, before the others.
fn set_doc(attrs: &mut Vec<Attribute>, text: &str) {
    attrs.retain(|a| !a.path().is_ident("doc"));
    let docs: Vec<Attribute> = text
        .lines()
        .map(|l| {
            let l = if l.is_empty() {
                String::new()
            } else {
                format!(" {l}")
            };
            parse_quote!(#[doc = #l])
        })
        .collect();
    attrs.splice(0..0, docs);
}

/// Plain text and markdown from a spec description (see the module docs).
pub fn clean_description(raw: &str) -> String {
    let text = if raw.contains('<') || raw.contains('&') {
        crate::model::html_to_text(raw)
    } else {
        raw.to_string()
    };
    let text = text.replace("](/", "](https://developers.miro.com/");
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut out = lines.join("\n");
    while out.contains("\n\n\n") {
        out = out.replace("\n\n\n", "\n\n");
    }
    out.trim().to_string()
}

/// Words of an identifier: `created_at` -> `created at`, `type_` -> `type`.
fn words(ident: &str) -> String {
    ident
        .trim_start_matches("r#")
        .trim_end_matches('_')
        .replace('_', " ")
}

/// A generated type named by `ty` (inside `Option`, `Vec` or `Box`), for a doc link.
fn named_type(ty: &syn::Type, generated: &BTreeSet<String>) -> Option<String> {
    let (inner, _) = option_inner(ty);
    let syn::Type::Path(p) = inner else {
        return None;
    };
    let last = p.path.segments.last()?;
    if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
        if let Some(syn::GenericArgument::Type(t)) = args.args.first() {
            if ["Vec", "Box", "Nullable"].contains(&last.ident.to_string().as_str()) {
                return named_type(t, generated);
            }
        }
    }
    let name = last.ident.to_string();
    generated.contains(&name).then_some(name)
}

fn field_sentence(field: &syn::Field, generated: &BTreeSet<String>) -> Option<String> {
    let ident = field.ident.as_ref()?.to_string();
    let json = crate::request_types::json_name(field);
    let (_, optional) = option_inner(&field.ty);
    let mut s = format!("The {} (`{json}` in the JSON)", words(&ident));
    if let Some(ty) = named_type(&field.ty, generated) {
        s.push_str(&format!(": see [`{ty}`]"));
    }
    s.push('.');
    if optional {
        s.push_str(" `None` when absent.");
    }
    Some(s)
}

fn variant_sentence(v: &syn::Variant, generated: &BTreeSet<String>) -> String {
    match &v.fields {
        Fields::Unnamed(f) if f.unnamed.len() == 1 => {
            let ty = &f.unnamed[0].ty;
            match named_type(ty, generated) {
                Some(t) => format!("A value of the [`{t}`] form."),
                None => format!(
                    "A value of the `{}` form.",
                    ty.to_token_stream().to_string().replace(' ', "")
                ),
            }
        }
        _ => format!("The `{}` case.", v.ident),
    }
}

/// Cleans the spec's descriptions and documents every undocumented public type, field and
/// variant (see the module docs).
pub fn document(types: &mut [Item]) -> Documented {
    let generated = crate::postprocess::type_names(types);
    let mut stats = Documented::default();
    let clean = |attrs: &mut Vec<Attribute>, stats: &mut Documented| -> bool {
        match doc_text(attrs) {
            Some(text) if !text.trim().is_empty() => {
                let cleaned = clean_description(&text);
                if cleaned != text.trim() {
                    stats.cleaned += 1;
                }
                if cleaned.is_empty() {
                    return false;
                }
                set_doc(attrs, &cleaned);
                true
            }
            _ => false,
        }
    };
    for item in types.iter_mut() {
        match item {
            Item::Struct(s) => {
                if !clean(&mut s.attrs, &mut stats) {
                    set_doc(&mut s.attrs, &format!("`{}`.", s.ident));
                    stats.types_generated += 1;
                }
                if let Fields::Named(fields) = &mut s.fields {
                    for f in fields.named.iter_mut() {
                        if !matches!(f.vis, Visibility::Public(_)) {
                            continue;
                        }
                        if !clean(&mut f.attrs, &mut stats) {
                            stats.undocumented_before += 1;
                            if let Some(sentence) = field_sentence(f, &generated) {
                                set_doc(&mut f.attrs, &sentence);
                                stats.generated += 1;
                            }
                        }
                    }
                }
            }
            Item::Enum(e) => {
                if !clean(&mut e.attrs, &mut stats) {
                    set_doc(&mut e.attrs, &format!("`{}`.", e.ident));
                    stats.types_generated += 1;
                }
                for v in e.variants.iter_mut() {
                    if !clean(&mut v.attrs, &mut stats) {
                        stats.undocumented_before += 1;
                        let sentence = variant_sentence(v, &generated);
                        set_doc(&mut v.attrs, &sentence);
                        stats.generated += 1;
                    }
                }
            }
            Item::Type(t) => {
                let documented = clean(&mut t.attrs, &mut stats);
                if !documented {
                    set_doc(&mut t.attrs, &format!("`{}`.", t.ident));
                    stats.types_generated += 1;
                }
            }
            _ => {}
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(src: &str) -> Vec<Item> {
        syn::parse_file(src).unwrap().items
    }

    #[test]
    fn structs_are_sealed_with_setters_that_hide_nothing() {
        let mut types = items(
            r#"
            #[derive(Default)]
            pub struct Board { pub name: Option<String>, pub default: Option<bool>, pub id: String }
            pub struct Wrapper(pub Vec<Board>);
            pub struct Tagged { pub(crate) data: Option<u8>, pub x: u8 }
            impl Tagged { pub fn x(self) -> Self { self } pub fn new(x: u8) -> Self { todo!() } }
            "#,
        );
        let stats = seal(&mut types, &[("Board", "id")]);
        assert_eq!(stats.structs, 2, "named structs only");
        assert_eq!(
            stats.setters, 2,
            "name and with_default; id and x are taken"
        );
        assert_eq!(stats.constructors, 0);
        let text = prettyplease::unparse(&syn::File {
            shebang: None,
            attrs: vec![],
            items: types,
        });
        assert!(
            text.contains("pub fn with_default(mut self, value: impl ::std::convert::Into<bool>)"),
            "{text}"
        );
        assert!(text.contains("pub fn name(mut self"), "{text}");
        assert!(
            !text.contains("pub fn data("),
            "private fields get no setter"
        );
        assert_eq!(text.matches("#[non_exhaustive]").count(), 2, "{text}");
    }

    #[test]
    fn a_struct_without_default_or_new_gets_new() {
        let mut types = items("pub struct A { #[serde(default)] pub list: Vec<u8> }");
        assert_eq!(seal(&mut types, &[]).constructors, 1);
    }

    #[test]
    fn descriptions_become_text_and_gaps_get_sentences() {
        let mut types = items(
            r#"
            ///Date.<br>Format: UTC, see [docs](/reference/x).
            pub struct A {
                ///Id<br/>of it
                pub id: Option<String>,
                #[serde(rename = "createdBy")]
                pub created_by: Option<B>,
            }
            pub enum B { One, Two(A) }
            "#,
        );
        let stats = document(&mut types);
        assert_eq!(stats.undocumented_before, 3);
        assert_eq!(stats.generated, 3);
        assert_eq!(stats.types_generated, 1);
        let text = prettyplease::unparse(&syn::File {
            shebang: None,
            attrs: vec![],
            items: types,
        });
        assert!(
            text.contains(
                "/// Date.\n/// Format: UTC, see [docs](https://developers.miro.com/reference/x)."
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "/// The created by (`createdBy` in the JSON): see [`B`]. `None` when absent."
            ),
            "{text}"
        );
        assert!(text.contains("/// A value of the [`A`] form."), "{text}");
        assert!(!text.contains("<br"), "{text}");
    }
}

/// The committed generated types, checked for what [`seal`] and [`document`] promise.
#[cfg(test)]
mod committed {
    use super::*;

    #[test]
    fn every_generated_struct_is_sealed_buildable_and_documented() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(crate::GENERATED_DIR)
            .join("types.rs");
        let text = std::fs::read_to_string(&path).unwrap();
        let items = syn::parse_file(&text).unwrap().items;
        let methods = inherent_methods(&items);
        let with_default = crate::bodies::implements_default(&items);
        let mut problems = Vec::new();
        let mut structs = 0;
        let has_doc = |attrs: &[Attribute]| attrs.iter().any(|a| a.path().is_ident("doc"));
        for item in &items {
            match item {
                Item::Struct(s) if matches!(s.vis, Visibility::Public(_)) => {
                    let Fields::Named(fields) = &s.fields else {
                        continue;
                    };
                    structs += 1;
                    let name = s.ident.to_string();
                    if !s.attrs.iter().any(|a| a.path().is_ident("non_exhaustive")) {
                        problems.push(format!("{name}: not #[non_exhaustive]"));
                    }
                    let empty = BTreeSet::new();
                    let m = methods.get(&name).unwrap_or(&empty);
                    let buildable = with_default.contains(&name)
                        || m.contains("new")
                        || items.iter().any(|i| {
                            matches!(i, Item::Impl(imp) if imp.trait_.is_some()
                                && type_name(&imp.self_ty).as_deref() == Some(name.as_str()))
                        });
                    if !buildable {
                        problems.push(format!("{name}: neither Default, new nor a From"));
                    }
                    for f in fields
                        .named
                        .iter()
                        .filter(|f| matches!(f.vis, Visibility::Public(_)))
                    {
                        let field = f.ident.as_ref().unwrap().to_string();
                        let bare = field.trim_end_matches('_');
                        if !m.contains(&field) && !m.contains(&format!("with_{bare}")) {
                            problems.push(format!("{name}.{field}: no setter"));
                        }
                        if !has_doc(&f.attrs) {
                            problems.push(format!("{name}.{field}: no docs"));
                        }
                    }
                }
                Item::Enum(e) => {
                    if !e.attrs.iter().any(|a| a.path().is_ident("non_exhaustive")) {
                        problems.push(format!("{}: not #[non_exhaustive]", e.ident));
                    }
                    for v in &e.variants {
                        if !has_doc(&v.attrs) {
                            problems.push(format!("{}::{}: no docs", e.ident, v.ident));
                        }
                    }
                }
                _ => {}
            }
        }
        assert!(structs > 300, "{structs} structs with named fields");
        assert!(
            problems.is_empty(),
            "{} problems: {problems:#?}",
            problems.len()
        );
    }
}
