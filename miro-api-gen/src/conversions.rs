//! Read types to write types, by one rule: what Miro answers converts into what it takes back.
//!
//! **Which pairs.** A read type `R` and a write type `W` are a pair when
//! - an operation takes `W` and answers `R` (create-sticky-note-item takes a
//!   `StickyNoteCreateRequest` and answers a `StickyNoteItem`; a bulk operation takes a list of
//!   `W` and answers a page whose `data` lists `R`);
//! - their names say the same object once the words that only say which way it travels are
//!   removed (`Update`, `Create`, `For`, `Request`, `Changes`, `With`, `Links`, `Generic`, and
//!   the spec's `Platform...` suffixes): `StickyNoteStyle` and `UpdateStickyNoteStyle`,
//!   `ShapeStyle` and `ShapeStyleForCreate`, `GenericItem` and `ItemCreate`;
//! - or they are the types of the same field of a pair (a `StickyNoteItem`'s `position` is a
//!   `Position`, a `StickyNoteCreateRequest`'s a `PositionChange`), or the variants for the
//!   same item `type` of two unions chosen by it.
//!
//! **How fields are filled.** Each field of `W` takes the field of `R` with the same JSON name
//! (or, failing that, the one field of `R` whose name ends with it: `imageUrl` fills `url`), as
//! it is, wrapped in `Some`, or converted by the pair its types make; a list element by element;
//! a string into an enum by its value, and an enum into another one that shares a value by its
//! value. A field `R` lacks is left unset when `W` does not require it. Of fields the spec marks
//! as exclusive ("either the width or height") only the first one `R` has is set.
//!
//! **`From` or `TryFrom`.** `impl From<&R> for W` when every field `W` requires is always in
//! `R`; `impl TryFrom<&R> for W` (error [`ConversionError`]) when `R` may lack one (an item read
//! without `data`), or holds a kind `W` cannot (a frame as a bulk item, HTML content as Markdown
//! data). Nothing is invented to fill a gap.
//!
//! [`Report`] lists every pair whose field names match, with or without its conversion, for the
//! generated test that fails when one has none.
//!
//! [`ConversionError`]: https://docs.rs/miro-api/latest/miro_api/enum.ConversionError.html

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::TokenStream;
use quote::{format_ident, quote, ToTokens};
use serde_json::Value;
use syn::{Fields, Ident, Item, Type};

use crate::postprocess::{option_inner, type_name};

/// Words of a type name that say which way an object travels, not what it is.
const DIRECTION_WORDS: &[&str] = &[
    "Update", "Create", "For", "Request", "Changes", "With", "Links", "Generic",
];

/// Words that mark a type as something sent, so never the read side of a conversion.
const WRITE_WORDS: &[&str] = &["Update", "Create", "For", "Request", "Changes"];

/// Where the `either-or-properties` fix lists properties of which one may be set.
const EXCLUSIVE: &str = crate::fixes::EXCLUSIVE_EXTENSION;

/// The PascalCase words of `name`, without the spec's `Platform...` disambiguation suffix.
fn words(name: &str) -> Vec<String> {
    let name = name.split("Platform").next().unwrap_or(name);
    let mut words: Vec<String> = Vec::new();
    for c in name.chars() {
        match words.last_mut() {
            Some(w) if !c.is_ascii_uppercase() => w.push(c),
            _ => words.push(c.to_string()),
        }
    }
    words
}

/// The words of `name` that name the object: without direction words.
fn object_words(name: &str) -> Vec<String> {
    let mut words = words(name);
    words.retain(|w| !DIRECTION_WORDS.contains(&w.as_str()));
    words
}

/// Whether `name` reads as a type Miro answers with (no word marks it as sent).
fn is_read_name(name: &str) -> bool {
    !words(name)
        .iter()
        .any(|w| WRITE_WORDS.contains(&w.as_str()))
}

#[derive(Clone)]
struct Field {
    ident: Ident,
    json: String,
    ty: Type,
    /// Neither an `Option` nor filled in by serde when absent.
    required: bool,
}

/// What a generated type is, as far as conversions go.
enum Kind {
    Struct(Vec<Field>),
    /// A string enum with an `UnknownValue`, and its known values.
    OpenEnum(BTreeSet<String>),
    /// A union chosen by the enclosing item's `type`: tag -> (variant, payload).
    Tagged(BTreeMap<String, (Ident, Type)>),
    /// A union of structs told apart by their content: (variant, payload).
    Untagged(Vec<(Ident, Type)>),
    /// A struct wrapping one value (`LegalHoldRequestScope(LegalHoldRequestScopeUsers)`).
    Newtype(Type),
}

/// One read/write pair the rule found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    /// The read type.
    pub read: String,
    /// The write type.
    pub write: String,
    /// Whether the conversion is generated and is a `TryFrom` (`Some(true)`), a `From`
    /// (`Some(false)`); `None` when the field names match but some value cannot be converted.
    pub conversion: Option<bool>,
    /// Whether both are structs (so an example of the read type can be converted in a test).
    pub structs: bool,
}

/// What [`add`] found and generated.
#[derive(Debug, Default)]
pub struct Report {
    /// Every pair whose field names match (or enums that share a value, unions a `type`).
    pub pairs: Vec<Pair>,
    /// JSON field renames the conversions make: (write name, read name).
    pub renames: BTreeSet<(String, String)>,
}

struct Rule<'a> {
    kinds: BTreeMap<String, Kind>,
    spec: &'a Value,
    /// (read, write) -> `Some(fallible)` once generated, `None` when impossible.
    done: BTreeMap<(String, String), Option<bool>>,
    in_progress: BTreeSet<(String, String)>,
    impls: Vec<Item>,
    /// (read, write, names match, structs) in the order found.
    seen: Vec<(String, String, bool, bool)>,
    renames: BTreeSet<(String, String)>,
}

fn same(a: &Type, b: &Type) -> bool {
    a.to_token_stream().to_string() == b.to_token_stream().to_string()
}

fn is_string(ty: &Type) -> bool {
    type_name(ty).as_deref() == Some("String")
}

/// The `T` of a `Vec<T>`.
fn vec_element(ty: &Type) -> Option<&Type> {
    crate::postprocess::generic_inner(ty, "Vec")
}

/// `url` -> `Url`.
fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// The field of `read` that fills `write`: the same JSON name, else the only one whose name
/// ends with it (`imageUrl` for `url`).
fn counterpart<'f>(read: &'f [Field], write: &Field) -> Option<&'f Field> {
    if let Some(f) = read.iter().find(|r| r.json == write.json) {
        return Some(f);
    }
    let suffix = capitalized(&write.json);
    let mut candidates = read
        .iter()
        .filter(|r| r.json.len() > suffix.len() && r.json.ends_with(&suffix));
    match (candidates.next(), candidates.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

fn kinds(
    types: &[Item],
    outer_tags: &BTreeMap<String, BTreeMap<String, String>>,
) -> BTreeMap<String, Kind> {
    let mut out = BTreeMap::new();
    for item in types {
        match item {
            Item::Struct(s) => {
                if let Fields::Unnamed(f) = &s.fields {
                    if f.unnamed.len() == 1 {
                        out.insert(s.ident.to_string(), Kind::Newtype(f.unnamed[0].ty.clone()));
                    }
                    continue;
                }
                let Fields::Named(fields) = &s.fields else {
                    continue;
                };
                let fields = fields
                    .named
                    .iter()
                    .filter_map(|f| {
                        Some(Field {
                            ident: f.ident.clone()?,
                            json: crate::request_types::json_name(f),
                            ty: f.ty.clone(),
                            required: crate::bodies::is_required(f),
                        })
                    })
                    .collect();
                out.insert(s.ident.to_string(), Kind::Struct(fields));
            }
            Item::Enum(e) => {
                let name = e.ident.to_string();
                let payload = |v: &syn::Variant| match &v.fields {
                    Fields::Unnamed(f) if f.unnamed.len() == 1 => Some(f.unnamed[0].ty.clone()),
                    _ => None,
                };
                if let Some(mapping) = outer_tags.get(&name) {
                    let tags = mapping
                        .iter()
                        .filter_map(|(tag, variant)| {
                            let v = e.variants.iter().find(|v| v.ident == variant.as_str())?;
                            Some((tag.clone(), (v.ident.clone(), payload(v)?)))
                        })
                        .collect();
                    out.insert(name, Kind::Tagged(tags));
                } else if e.variants.iter().any(|v| v.ident == "UnknownValue") {
                    // The wire values are in `as_str`, which `open_string_enums` wrote; the
                    // variants' names are enough to compare (each is its value's PascalCase).
                    let values = e
                        .variants
                        .iter()
                        .filter(|v| matches!(v.fields, Fields::Unit))
                        .map(|v| v.ident.to_string())
                        .collect();
                    out.insert(name, Kind::OpenEnum(values));
                } else {
                    let variants: Option<Vec<(Ident, Type)>> = e
                        .variants
                        .iter()
                        .map(|v| Some((v.ident.clone(), payload(v)?)))
                        .collect();
                    if let Some(variants) = variants {
                        out.insert(name, Kind::Untagged(variants));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

impl Rule<'_> {
    /// The conversion of `read` into `write`, generated on first use: `Some(fallible)`, or
    /// `None` when there is none.
    fn convert(&mut self, read: &str, write: &str) -> Option<bool> {
        let key = (read.to_string(), write.to_string());
        if let Some(done) = self.done.get(&key) {
            return *done;
        }
        if !self.in_progress.insert(key.clone()) {
            return None; // a cycle: not convertible this way
        }
        let result = match (self.kinds.get(read), self.kinds.get(write)) {
            (Some(Kind::Struct(r)), Some(Kind::Struct(w))) => {
                let (r, w) = (r.clone(), w.clone());
                self.structs(read, write, &r, &w)
            }
            (Some(Kind::OpenEnum(r)), Some(Kind::OpenEnum(w))) => {
                let shared = r.intersection(w).next().is_some();
                self.seen.push((read.into(), write.into(), shared, false));
                shared.then(|| self.enums(read, write))
            }
            (Some(Kind::Tagged(r)), Some(Kind::Tagged(w))) => {
                let (r, w) = (r.clone(), w.clone());
                self.tagged(read, write, &r, &w)
            }
            (Some(Kind::Untagged(r)), Some(Kind::Struct(_))) => {
                let r = r.clone();
                self.untagged(read, write, &r)
            }
            (Some(Kind::Newtype(inner)), _) => {
                let inner = inner.clone();
                let w: Type = syn::parse_str(write).ok()?;
                self.newtype(read, write, quote!(&read.0), &inner, &w, false)
            }
            (_, Some(Kind::Newtype(inner))) => {
                let inner = inner.clone();
                let r: Type = syn::parse_str(read).ok()?;
                self.newtype(read, write, quote!(read), &r, &inner, true)
            }
            _ => None,
        };
        self.in_progress.remove(&key);
        self.done.insert(key, result);
        result
    }

    /// An expression of type `tw` from `expr`, an expression of type `&tr`; and whether it
    /// may fail (then it holds a `?`).
    fn value(&mut self, expr: TokenStream, tr: &Type, tw: &Type) -> Option<(TokenStream, bool)> {
        if same(tr, tw) {
            return Some((quote!(::std::clone::Clone::clone(#expr)), false));
        }
        // A read value is sent as a value, never as the `null` that clears.
        if let Some(inner) = crate::bodies::nullable_inner(tw) {
            let (value, fallible) = self.value(expr, tr, inner)?;
            return Some((quote!(crate::Nullable::Value(#value)), fallible));
        }
        if let (Some(a), Some(b)) = (vec_element(tr), vec_element(tw)) {
            let (inner, fallible) = self.value(quote!(x), a, b)?;
            return Some(if fallible {
                (
                    quote! {
                        #expr.iter().map(|x| -> ::std::result::Result<_, crate::ConversionError> {
                            ::std::result::Result::Ok(#inner)
                        }).collect::<::std::result::Result<::std::vec::Vec<_>, _>>()?
                    },
                    true,
                )
            } else {
                (quote!(#expr.iter().map(|x| #inner).collect()), false)
            });
        }
        let w = type_name(tw)?;
        if is_string(tr) && matches!(self.kinds.get(&w), Some(Kind::OpenEnum(_))) {
            let w = format_ident!("{}", w);
            return Some((
                quote!(#w::known(#expr).unwrap_or_else(|| #w::UnknownValue(::std::clone::Clone::clone(#expr)))),
                false,
            ));
        }
        let r = type_name(tr)?;
        let fallible = self.convert(&r, &w)?;
        let (r, w) = (format_ident!("{}", r), format_ident!("{}", w));
        Some(if fallible {
            (
                quote!(<#w as ::std::convert::TryFrom<&#r>>::try_from(#expr)?),
                true,
            )
        } else {
            (
                quote!(<#w as ::std::convert::From<&#r>>::from(#expr)),
                false,
            )
        })
    }

    fn structs(&mut self, read: &str, write: &str, r: &[Field], w: &[Field]) -> Option<bool> {
        let names_match = self.fields_match(r, w, &mut vec![(read.into(), write.into())]);
        self.seen
            .push((read.into(), write.into(), names_match, true));
        if !names_match {
            return None;
        }
        let exclusive: Vec<String> = self
            .spec
            .pointer(&format!("/components/schemas/{write}/{EXCLUSIVE}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let (read_name, write_name) = (read.to_string(), write.to_string());
        let mut lets = Vec::new();
        let mut fallible = false;
        let mut renames = Vec::new();
        for f in w {
            let ident = &f.ident;
            let Some(rf) = counterpart(r, f) else {
                lets.push(quote!(let #ident = ::std::default::Default::default();));
                continue;
            };
            let (r_inner, r_opt) = option_inner(&rf.ty);
            let (w_inner, w_opt) = option_inner(&f.ty);
            let (value, may_fail) = self.value(quote!(v), r_inner, w_inner)?;
            fallible |= may_fail;
            let source = &rf.ident;
            let json = &f.json;
            let plain = same(r_inner, w_inner);
            let fill = match (r_opt, w_opt) {
                (true, true) | (false, false) if plain => {
                    quote!(::std::clone::Clone::clone(&read.#source))
                }
                (true, true) if !may_fail => quote!(read.#source.as_ref().map(|v| #value)),
                (true, true) => quote! {
                    match &read.#source {
                        ::std::option::Option::Some(v) => ::std::option::Option::Some(#value),
                        ::std::option::Option::None => ::std::option::Option::None,
                    }
                },
                (false, true) => {
                    quote!({ let v = &read.#source; ::std::option::Option::Some(#value) })
                }
                (false, false) => quote!({ let v = &read.#source; #value }),
                (true, false) if !f.required => quote! {
                    match &read.#source {
                        ::std::option::Option::Some(v) => #value,
                        ::std::option::Option::None => ::std::default::Default::default(),
                    }
                },
                (true, false) => {
                    fallible = true;
                    quote! {
                        match &read.#source {
                            ::std::option::Option::Some(v) => #value,
                            ::std::option::Option::None => return ::std::result::Result::Err(
                                crate::ConversionError::missing(#read_name, #write_name, #json),
                            ),
                        }
                    }
                }
            };
            lets.push(quote!(let #ident = #fill;));
            if rf.json != f.json {
                renames.push((f.json.clone(), rf.json.clone()));
            }
        }
        // Of exclusive fields, only the first one set is kept.
        let exclusive: Vec<&Field> = exclusive
            .iter()
            .filter_map(|json| w.iter().find(|f| &f.json == json))
            .filter(|f| option_inner(&f.ty).1)
            .collect();
        for (i, later) in exclusive.iter().enumerate().skip(1) {
            let earlier = exclusive[..i].iter().map(|f| &f.ident);
            let ident = &later.ident;
            lets.push(quote! {
                let #ident = if false #(|| #earlier.is_some())* { ::std::option::Option::None } else { #ident };
            });
        }
        let idents = w.iter().map(|f| &f.ident);
        let (r_ty, w_ty) = (format_ident!("{}", read), format_ident!("{}", write));
        let doc = format!(
            " The fields of a [`{read}`] that Miro takes back, to send it (or a changed copy) as \
             a [`{write}`]."
        );
        let item: Item = if fallible {
            let try_doc = format!(
                " Fails when the [`{read}`] lacks what a [`{write}`] requires, or holds what it \
                 cannot."
            );
            syn::parse_quote! {
                #[doc = #doc]
                #[doc = ""]
                #[doc = #try_doc]
                impl ::std::convert::TryFrom<&#r_ty> for #w_ty {
                    type Error = crate::ConversionError;
                    fn try_from(read: &#r_ty) -> ::std::result::Result<Self, Self::Error> {
                        #(#lets)*
                        ::std::result::Result::Ok(#w_ty { #(#idents),* })
                    }
                }
            }
        } else {
            syn::parse_quote! {
                #[doc = #doc]
                impl ::std::convert::From<&#r_ty> for #w_ty {
                    fn from(read: &#r_ty) -> Self {
                        #(#lets)*
                        #w_ty { #(#idents),* }
                    }
                }
            }
        };
        self.impls.push(item);
        self.renames.extend(renames);
        Some(fallible)
    }

    /// A conversion through the value a newtype wraps: `read.0` into `write`, or `read` into
    /// the value `write` wraps.
    fn newtype(
        &mut self,
        read: &str,
        write: &str,
        expr: TokenStream,
        from: &Type,
        to: &Type,
        wrap: bool,
    ) -> Option<bool> {
        let (value, fallible) = self.value(expr, from, to)?;
        self.seen.push((read.into(), write.into(), true, false));
        let (r_ty, w_ty) = (format_ident!("{}", read), format_ident!("{}", write));
        let value = if wrap { quote!(#w_ty(#value)) } else { value };
        let doc = format!(" The value of a [`{read}`] as a [`{write}`].");
        self.impls.push(if fallible {
            syn::parse_quote! {
                #[doc = #doc]
                impl ::std::convert::TryFrom<&#r_ty> for #w_ty {
                    type Error = crate::ConversionError;
                    fn try_from(read: &#r_ty) -> ::std::result::Result<Self, Self::Error> {
                        ::std::result::Result::Ok(#value)
                    }
                }
            }
        } else {
            syn::parse_quote! {
                #[doc = #doc]
                impl ::std::convert::From<&#r_ty> for #w_ty {
                    fn from(read: &#r_ty) -> Self { #value }
                }
            }
        });
        Some(fallible)
    }

    /// Whether values of `tr` can fill a `tw`: the same type, lists of such, a string for an
    /// enum, enums that share a value, unions that share a `type`, structs whose fields match
    /// (newtypes by what they wrap): what "the fields match" means.
    fn compatible(&self, tr: &Type, tw: &Type, visiting: &mut Vec<(String, String)>) -> bool {
        if same(tr, tw) {
            return true;
        }
        if let Some(inner) = crate::bodies::nullable_inner(tw) {
            return self.compatible(tr, inner, visiting);
        }
        if let (Some(a), Some(b)) = (vec_element(tr), vec_element(tw)) {
            return self.compatible(a, b, visiting);
        }
        let (Some(r), Some(w)) = (type_name(tr), type_name(tw)) else {
            return false;
        };
        let key = (r.clone(), w.clone());
        if visiting.contains(&key) {
            return true; // a cycle: decided where it started
        }
        visiting.push(key);
        let result = match (self.kinds.get(&r), self.kinds.get(&w)) {
            (_, Some(Kind::OpenEnum(_))) if is_string(tr) => true,
            (Some(Kind::OpenEnum(a)), Some(Kind::OpenEnum(b))) => {
                a.intersection(b).next().is_some()
            }
            (Some(Kind::Tagged(a)), Some(Kind::Tagged(b))) => a.keys().any(|t| b.contains_key(t)),
            (Some(Kind::Struct(a)), Some(Kind::Struct(b))) => self.fields_match(a, b, visiting),
            (Some(Kind::Untagged(variants)), Some(Kind::Struct(_))) => variants
                .iter()
                .any(|(_, p)| self.compatible(p, tw, visiting)),
            (Some(Kind::Newtype(inner)), _) => self.compatible(inner, tw, visiting),
            (_, Some(Kind::Newtype(inner))) => self.compatible(tr, inner, visiting),
            _ => false,
        };
        visiting.pop();
        result
    }

    /// Whether the fields of `r` fill those of `w`: at least one has a counterpart, every one
    /// with a counterpart has a compatible type, every required one has a counterpart.
    fn fields_match(&self, r: &[Field], w: &[Field], visiting: &mut Vec<(String, String)>) -> bool {
        w.iter().any(|f| counterpart(r, f).is_some())
            && w.iter().all(|f| match counterpart(r, f) {
                Some(rf) => {
                    self.compatible(option_inner(&rf.ty).0, option_inner(&f.ty).0, visiting)
                }
                None => !f.required,
            })
    }

    fn enums(&mut self, read: &str, write: &str) -> bool {
        let (r, w) = (format_ident!("{}", read), format_ident!("{}", write));
        let doc = format!(" The same value as a [`{write}`] (by its value on the wire).");
        self.impls.push(syn::parse_quote! {
            #[doc = #doc]
            impl ::std::convert::From<&#r> for #w {
                fn from(read: &#r) -> Self {
                    #w::known(read.as_str())
                        .unwrap_or_else(|| #w::UnknownValue(read.as_str().to_owned()))
                }
            }
        });
        false
    }

    fn tagged(
        &mut self,
        read: &str,
        write: &str,
        r: &BTreeMap<String, (Ident, Type)>,
        w: &BTreeMap<String, (Ident, Type)>,
    ) -> Option<bool> {
        let shared = r.keys().any(|t| w.contains_key(t));
        self.seen.push((read.into(), write.into(), shared, false));
        if !shared {
            return None;
        }
        let (r_ty, w_ty) = (format_ident!("{}", read), format_ident!("{}", write));
        let mut arms = Vec::new();
        let mut any = false;
        for (tag, (rv, rp)) in r {
            let converted = match w.get(tag) {
                Some((wv, wp)) => self
                    .value(quote!(v), rp, wp)
                    .map(|(value, _)| quote!(#r_ty::#rv(v) => ::std::result::Result::Ok(#w_ty::#wv(#value)),)),
                None => None,
            };
            match converted {
                Some(arm) => {
                    any = true;
                    arms.push(arm);
                }
                None => arms.push(quote! {
                    #r_ty::#rv(_) => ::std::result::Result::Err(crate::ConversionError::not_creatable(
                        #write, crate::ConversionKind::ItemType(#tag),
                    )),
                }),
            }
        }
        if !any {
            return None;
        }
        let doc = format!(
            " The same item data as a [`{write}`], by its item `type`; fails for a `type` a \
             [`{write}`] cannot hold."
        );
        self.impls.push(syn::parse_quote! {
            #[doc = #doc]
            impl ::std::convert::TryFrom<&#r_ty> for #w_ty {
                type Error = crate::ConversionError;
                fn try_from(read: &#r_ty) -> ::std::result::Result<Self, Self::Error> {
                    match read {
                        #(#arms)*
                        #r_ty::Unknown(_) => ::std::result::Result::Err(crate::ConversionError::not_creatable(
                            #write, crate::ConversionKind::Unknown,
                        )),
                    }
                }
            }
        });
        Some(true)
    }

    fn untagged(&mut self, read: &str, write: &str, r: &[(Ident, Type)]) -> Option<bool> {
        let w_ty: Type = syn::parse_str(write).ok()?;
        let r_ty = format_ident!("{}", read);
        let mut arms = Vec::new();
        let mut any = false;
        for (variant, payload) in r {
            let label = format!("{read}::{variant}");
            match self.value(quote!(v), payload, &w_ty) {
                Some((value, _)) => {
                    any = true;
                    arms.push(quote!(#r_ty::#variant(v) => ::std::result::Result::Ok(#value),));
                }
                None => arms.push(quote! {
                    #r_ty::#variant(_) => ::std::result::Result::Err(crate::ConversionError::not_creatable(
                        #write, crate::ConversionKind::Variant(#label),
                    )),
                }),
            }
        }
        self.seen.push((read.into(), write.into(), any, false));
        if !any {
            return None;
        }
        let doc =
            format!(" The variant of a [`{read}`] that is a [`{write}`]; fails for the others.");
        self.impls.push(syn::parse_quote! {
            #[doc = #doc]
            impl ::std::convert::TryFrom<&#r_ty> for #w_ty {
                type Error = crate::ConversionError;
                fn try_from(read: &#r_ty) -> ::std::result::Result<Self, Self::Error> {
                    match read { #(#arms)* }
                }
            }
        });
        Some(true)
    }
}

/// The pairs an operation makes: it takes `W` and answers `R` (or takes a list of `W` and
/// answers a page whose `data` lists `R`); and `W` with what a `GET` of the same path answers
/// (get-specific-board's board and update-board's changes).
fn operation_pairs(
    signatures: &BTreeMap<String, (Type, Option<Type>)>,
    ops: &[crate::model::Operation],
    kinds: &BTreeMap<String, Kind>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut answers: Vec<(Type, Option<Type>)> = Vec::new();
    for op in ops {
        let Some((success, Some(body))) = signatures.get(&op.fn_name) else {
            continue;
        };
        answers.push((success.clone(), Some(body.clone())));
        for get in ops
            .iter()
            .filter(|g| g.method == "GET" && g.path == op.path)
        {
            if let Some((got, _)) = signatures.get(&get.fn_name) {
                answers.push((got.clone(), Some(body.clone())));
            }
        }
    }
    for (success, body) in &answers {
        let Some(body) = body else { continue };
        let Some(answer) = type_name(success) else {
            continue;
        };
        let element = match body {
            Type::Slice(s) => Some((*s.elem).clone()),
            other => vec_element(other).cloned(),
        };
        let pair = match element {
            Some(element) => {
                let Some(Kind::Struct(fields)) = kinds.get(&answer) else {
                    continue;
                };
                let listed = fields
                    .iter()
                    .find(|f| f.json == "data")
                    .and_then(|f| vec_element(option_inner(&f.ty).0))
                    .and_then(type_name);
                listed.zip(type_name(&element))
            }
            None => type_name(body).map(|w| (answer, w)),
        };
        if let Some((read, write)) = pair {
            if read != write && !out.contains(&(read.clone(), write.clone())) {
                out.push((read, write));
            }
        }
    }
    out
}

/// The pairs whose names say the same object.
fn name_pairs(
    kinds: &BTreeMap<String, Kind>,
    request_types: &BTreeMap<String, crate::request_types::Found>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for write in request_types.keys() {
        if !matches!(kinds.get(write), Some(Kind::Struct(_))) {
            continue;
        }
        let object = object_words(write);
        if is_read_name(write) && object == words(write) {
            // A plain name (`StickyNoteStyle`): the read type itself, or a sibling of it.
            continue;
        }
        for (read, kind) in kinds {
            if read != write
                && matches!(kind, Kind::Struct(_))
                && is_read_name(read)
                && object_words(read) == object
            {
                out.push((read.clone(), write.clone()));
            }
        }
    }
    out
}

/// Adds the conversions to `types`; returns every pair found.
pub fn add(
    types: &mut Vec<Item>,
    request_types: &BTreeMap<String, crate::request_types::Found>,
    signatures: &BTreeMap<String, (Type, Option<Type>)>,
    ops: &[crate::model::Operation],
    outer_tags: &BTreeMap<String, BTreeMap<String, String>>,
    spec: &Value,
) -> Report {
    let kinds = kinds(types, outer_tags);
    let mut seeds = operation_pairs(signatures, ops, &kinds);
    for pair in name_pairs(&kinds, request_types) {
        if !seeds.contains(&pair) {
            seeds.push(pair);
        }
    }
    let mut rule = Rule {
        kinds,
        spec,
        done: BTreeMap::new(),
        in_progress: BTreeSet::new(),
        impls: Vec::new(),
        seen: Vec::new(),
        renames: BTreeSet::new(),
    };
    for (read, write) in &seeds {
        rule.convert(read, write);
    }
    let mut pairs: Vec<Pair> = Vec::new();
    for (read, write, names_match, structs) in &rule.seen {
        if !names_match || pairs.iter().any(|p| &p.read == read && &p.write == write) {
            continue;
        }
        pairs.push(Pair {
            read: read.clone(),
            write: write.clone(),
            conversion: rule
                .done
                .get(&(read.clone(), write.clone()))
                .copied()
                .flatten(),
            structs: *structs,
        });
    }
    pairs.sort_by(|a, b| (&a.read, &a.write).cmp(&(&b.read, &b.write)));
    types.extend(rule.impls);
    Report {
        pairs,
        renames: rule.renames,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_reduce_to_the_object() {
        assert_eq!(
            object_words("UpdateStickyNoteStyle"),
            ["Sticky", "Note", "Style"]
        );
        assert_eq!(object_words("StickyNoteStyle"), ["Sticky", "Note", "Style"]);
        assert_eq!(object_words("ShapeStyleForUpdate"), ["Shape", "Style"]);
        assert_eq!(object_words("TagWithLinks"), ["Tag"]);
        assert_eq!(object_words("TagCreateRequest"), ["Tag"]);
        assert_eq!(object_words("GenericItem"), object_words("ItemCreate"));
        assert_eq!(
            object_words("StickyNoteStylePlatformbulkcreateoperation"),
            ["Sticky", "Note", "Style"]
        );
        assert_ne!(object_words("CardStyle"), object_words("AppCardStyle"));
    }

    fn generate(src: &str, sigs: &[(&str, &str, &str)], writes: &[&str]) -> (String, Report) {
        let mut types: Vec<Item> = syn::parse_file(src).unwrap().items;
        let found = |name: &str| {
            (
                name.to_string(),
                crate::request_types::Found {
                    operation: "x".into(),
                    schema: Value::Null,
                },
            )
        };
        let writes: BTreeMap<_, _> = writes.iter().map(|w| found(w)).collect();
        let signatures = sigs
            .iter()
            .map(|(name, answer, body)| {
                (
                    name.to_string(),
                    (
                        syn::parse_str(answer).unwrap(),
                        Some(syn::parse_str(body).unwrap()),
                    ),
                )
            })
            .collect();
        let spec = serde_json::json!({"components": {"schemas": {
            "Size": {EXCLUSIVE: ["width", "height"]}}}});
        let n = types.len();
        let ops: Vec<crate::model::Operation> = sigs
            .iter()
            .map(|(name, _, _)| {
                let mut op = crate::model::Operation::bare("POST", &format!("/{name}"));
                op.fn_name = name.to_string();
                op
            })
            .collect();
        let report = add(
            &mut types,
            &writes,
            &signatures,
            &ops,
            &BTreeMap::new(),
            &spec,
        );
        let text = types[n..]
            .iter()
            .map(|i| i.to_token_stream().to_string())
            .collect::<Vec<_>>()
            .join("\n");
        (text, report)
    }

    #[test]
    fn an_operations_answer_converts_into_its_body_field_by_field() {
        let src = r#"
            pub struct NoteItem { pub id: String, pub data: Option<NoteData>, pub position: Option<Position>,
                                  pub geometry: Option<Geometry>, pub kind: Option<Align> }
            pub struct NoteCreate { pub data: NoteData, pub position: Option<PositionChange>,
                                    pub geometry: Option<Size>, pub kind: Option<AlignForCreate> }
            pub struct NoteData { pub content: Option<String> }
            pub struct Position { pub x: Option<f64>, pub origin: Option<String> }
            pub struct PositionChange { pub x: Option<f64> }
            pub struct Geometry { pub width: Option<f64>, pub height: Option<f64> }
            pub struct Size { pub width: Option<f64>, pub height: Option<f64> }
            pub enum Align { Left, Right, UnknownValue(String) }
            pub enum AlignForCreate { Left, UnknownValue(String) }
            pub struct ImageData { #[serde(rename = "imageUrl")] pub image_url: Option<String> }
            pub struct ImageUrl { pub url: String }
            pub struct ImageItem { pub data: Option<ImageData> }
            pub struct ImageCreate { pub data: ImageUrl }
        "#;
        let sigs = [
            ("create_note", "types::NoteItem", "types::NoteCreate"),
            ("create_image", "types::ImageItem", "types::ImageCreate"),
        ];
        let (text, report) = generate(src, &sigs, &["NoteCreate", "ImageCreate"]);
        // A required field from an optional one: TryFrom, with the field named in the error.
        assert!(
            text.contains("TryFrom < & NoteItem > for NoteCreate"),
            "{text}"
        );
        assert!(text.contains("missing (\"NoteItem\" , \"NoteCreate\" , \"data\")"));
        assert!(text.contains("From < & Position > for PositionChange"));
        assert!(text.contains("From < & Align > for AlignForCreate"));
        // Only the first of the exclusive fields.
        assert!(
            text.contains("let height = if false || width . is_some ()"),
            "{text}"
        );
        // `imageUrl` fills `url`.
        assert!(text.contains("TryFrom < & ImageData > for ImageUrl"));
        assert!(report.renames.contains(&("url".into(), "imageUrl".into())));
        let converted: Vec<(&str, &str, Option<bool>)> = report
            .pairs
            .iter()
            .map(|p| (p.read.as_str(), p.write.as_str(), p.conversion))
            .collect();
        assert!(converted.contains(&("NoteItem", "NoteCreate", Some(true))));
        assert!(converted.contains(&("Geometry", "Size", Some(false))));
        assert!(converted.contains(&("ImageItem", "ImageCreate", Some(true))));
    }

    #[test]
    fn fields_of_other_types_make_no_pair() {
        let src = r#"
            pub struct TagItem { pub title: Option<String>, pub color: Option<u8> }
            pub struct TagCreateRequest { pub title: Option<String>, pub color: Option<String> }
            pub struct Html { #[serde(rename = "contentType")] pub content_type: HtmlType, pub content: String }
            pub struct Markdown { #[serde(rename = "contentType")] pub content_type: MarkdownType, pub content: String }
            pub enum HtmlType { Html, UnknownValue(String) }
            pub enum MarkdownType { Markdown, UnknownValue(String) }
            pub struct DocItem { pub data: Option<Html> }
            pub struct DocCreateRequest { pub data: Markdown }
        "#;
        let sigs = [("create_doc", "types::DocItem", "types::DocCreateRequest")];
        let (text, report) = generate(src, &sigs, &["TagCreateRequest"]);
        // A number is not a string; enums without a value in common are different kinds.
        assert!(text.is_empty(), "{text}");
        assert!(report.pairs.is_empty(), "{:?}", report.pairs);
    }
}
