//! Request bodies in one readable expression, by three general rules over the request types
//! (every struct reachable from a request body, see [`crate::request_types`]):
//!
//! - every optional field gets a chained setter taking `impl Into<T>`
//!   (`StickyNoteData::default().content("Hello")`);
//! - every struct without `Default` (request or answer) gets a `new(..)` taking its required
//!   fields in the order the spec declares them (`ConnectorCreationData::new(start, end)`), a
//!   list as any iterable (`BoardMembersInvite::new(["a@example.com"])`); a required field
//!   whose enum has one value (`contentType: markdown`) is filled in, not asked for;
//! - a struct with a `position` gets `.at(x, y)`;
//! - a struct whose item data is chosen by its `type` (the bulk `ItemCreate`) is built from its
//!   data (`ItemCreate::from(StickyNoteData::default().content("Hi"))`): its `type` follows from
//!   the data, and both fields are private, so they cannot disagree.

use std::collections::BTreeMap;

use quote::{format_ident, quote, ToTokens};
use syn::{parse_quote, Fields, Item};

use crate::postprocess::{option_inner, type_name as last_ident};

/// Adds the builder impls for the request types `names` to `types`. `outer_tags` maps a oneOf
/// type to its `type` value -> variant mapping.
pub fn add(
    types: &mut Vec<Item>,
    request_types: &BTreeMap<String, crate::request_types::Found>,
    outer_tags: &BTreeMap<String, BTreeMap<String, String>>,
    spec: &serde_json::Value,
) -> usize {
    let mut extra: Vec<Item> = Vec::new();
    let has_position_change = types
        .iter()
        .any(|i| matches!(i, Item::Struct(s) if s.ident == "PositionChange"));
    let constants = one_value_enums(types);
    let with_default = implements_default(types);
    for item in types.iter_mut() {
        let Item::Struct(s) = item else { continue };
        let name = s.ident.to_string();
        let found = request_types.get(&name);
        let schema = found
            .map(|f| f.schema.clone())
            .or_else(|| {
                spec.pointer(&format!("/components/schemas/{name}"))
                    .cloned()
            })
            .unwrap_or_default();
        // `new` takes the required fields in the order the spec declares them (`startItem`
        // before `endItem`), not in the struct's alphabetical one nor in the `required` list's
        // (also alphabetical in places).
        let spec_order: Vec<&str> = [crate::fixes::PROPERTY_ORDER_EXTENSION, "required"]
            .iter()
            .flat_map(|key| {
                schema
                    .get(*key)
                    .and_then(serde_json::Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(serde_json::Value::as_str)
            })
            .collect();
        let has_default = with_default.contains(&name);
        let Fields::Named(fields) = &mut s.fields else {
            continue;
        };
        if found.is_none() {
            // An answer's type: a constructor when it has no `Default`, nothing else.
            if !has_default {
                if let Some(new) = constructor(fields, &spec_order, &constants) {
                    let ident = &s.ident;
                    extra.push(parse_quote! { impl #ident { #new } });
                }
            }
            continue;
        }
        let name = s.ident.clone();
        // The data field chosen by `type`, when this struct is built from its data.
        let tagged = fields.named.iter().find_map(|f| {
            let (inner, _) = option_inner(&f.ty);
            let ty = last_ident(inner)?;
            let mapping = outer_tags.get(&ty)?;
            Some((f.ident.clone()?, ty, mapping))
        });
        let type_field = fields
            .named
            .iter()
            .find(|f| f.ident.as_ref().is_some_and(|i| i == "type_"))
            .map(|f| f.ty.clone());
        let mut methods = Vec::new();
        let mut skip: Vec<String> = Vec::new();
        // Only where `type` is an (open) enum, whose values the mapping names.
        let type_field =
            type_field.filter(|t| option_inner(t).0 != &parse_quote!(::std::string::String));
        if let (Some((data_field, data_ty, mapping)), Some(type_ty)) = (&tagged, &type_field) {
            skip = vec![data_field.to_string(), "type_".into()];
            for f in fields.named.iter_mut() {
                if f.ident
                    .as_ref()
                    .is_some_and(|i| skip.contains(&i.to_string()))
                {
                    f.vis = parse_quote!(pub(crate));
                }
            }
            let data_ty = format_ident!("{}", data_ty);
            let (type_enum, type_optional) = option_inner(type_ty);
            for (tag, variant) in mapping.iter() {
                let variant = format_ident!("{}", variant);
                let type_value = quote! {
                    #type_enum::known(#tag).unwrap_or_else(|| #type_enum::UnknownValue(#tag.to_owned()))
                };
                let type_value = if type_optional {
                    quote!(::std::option::Option::Some(#type_value))
                } else {
                    type_value
                };
                let others = fields
                    .named
                    .iter()
                    .filter_map(|f| f.ident.clone())
                    .filter(|i| !skip.contains(&i.to_string()));
                let doc = format!(" An item of type `{tag}` with this data.");
                extra.push(parse_quote! {
                    impl ::std::convert::From<#variant> for #name {
                        #[doc = #doc]
                        fn from(data: #variant) -> Self {
                            Self {
                                type_: #type_value,
                                #data_field: ::std::option::Option::Some(#data_ty::#variant(data)),
                                #(#others: ::std::default::Default::default(),)*
                            }
                        }
                    }
                });
            }
            let type_doc = " The item's type, which follows from its data.";
            let data_doc = " The item's data.";
            methods.push(quote! {
                #[doc = #type_doc]
                pub fn item_type(&self) -> &#type_ty { &self.type_ }
                #[doc = #data_doc]
                pub fn data(&self) -> ::std::option::Option<&#data_ty> { self.#data_field.as_ref() }
            });
        }
        for f in fields.named.iter() {
            let Some(ident) = f.ident.clone() else {
                continue;
            };
            if skip.contains(&ident.to_string()) {
                continue;
            }
            let (inner, optional) = option_inner(&f.ty);
            let is_list = last_ident(&f.ty).as_deref() == Some("Vec");
            if !optional && !is_list {
                continue;
            }
            let name = ident.to_string().trim_end_matches('_').to_string();
            if let Some(value_ty) = nullable_inner(inner) {
                let clear = format_ident!("clear_{}", name);
                let doc = format!(" Sets `{name}`.");
                let clear_doc = format!(
                    " Clears `{name}` on Miro's side: sends it as `null` (see [`crate::Nullable`])."
                );
                methods.push(quote! {
                    #[doc = #doc]
                    pub fn #ident(mut self, value: impl ::std::convert::Into<#value_ty>) -> Self {
                        self.#ident = ::std::option::Option::Some(crate::Nullable::Value(value.into()));
                        self
                    }
                    #[doc = #clear_doc]
                    pub fn #clear(mut self) -> Self {
                        self.#ident = ::std::option::Option::Some(crate::Nullable::Null);
                        self
                    }
                });
                continue;
            }
            let setter_ty = if optional { inner } else { &f.ty };
            let value = if optional {
                quote!(::std::option::Option::Some(value.into()))
            } else {
                quote!(value.into())
            };
            let doc = format!(" Sets `{name}`.");
            methods.push(quote! {
                #[doc = #doc]
                pub fn #ident(mut self, value: impl ::std::convert::Into<#setter_ty>) -> Self {
                    self.#ident = #value;
                    self
                }
            });
        }
        if skip.is_empty() && !has_default {
            methods.extend(constructor(fields, &spec_order, &constants));
        }
        let has_position = fields.named.iter().any(|f| {
            f.ident.as_ref().is_some_and(|i| i == "position")
                && last_ident(option_inner(&f.ty).0).as_deref() == Some("PositionChange")
        });
        if has_position && has_position_change {
            methods.push(quote! {
                /// Places it at (`x`, `y`) on the board (or in its parent frame).
                pub fn at(self, x: impl ::std::convert::Into<f64>, y: impl ::std::convert::Into<f64>) -> Self {
                    self.position(PositionChange::default().x(x).y(y))
                }
            });
        }
        if !methods.is_empty() {
            extra.push(parse_quote! {
                impl #name {
                    #(#methods)*
                }
            });
        }
    }
    let n = extra.len();
    types.extend(extra);
    n
}

/// Makes every optional field of a request type that its schema marks `nullable` an
/// `Option<crate::Nullable<T>>` (absent, `null`, or a value), decoded so that a present `null`
/// is `Some(Nullable::Null)`. Returns how many fields.
pub fn nullable_fields(
    types: &mut [Item],
    request_types: &BTreeMap<String, crate::request_types::Found>,
) -> usize {
    let mut n = 0;
    for item in types.iter_mut() {
        let Item::Struct(s) = item else { continue };
        let Some(found) = request_types.get(&s.ident.to_string()) else {
            continue;
        };
        let Fields::Named(fields) = &mut s.fields else {
            continue;
        };
        for f in fields.named.iter_mut() {
            let json = crate::request_types::json_name(f);
            let nullable = found
                .schema
                .pointer(&format!("/properties/{json}/nullable"))
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false);
            let (inner, optional) = option_inner(&f.ty);
            if !nullable || !optional {
                continue;
            }
            let inner = inner.clone();
            f.ty = parse_quote!(::std::option::Option<crate::Nullable<#inner>>);
            f.attrs.push(parse_quote!(
                #[serde(default, deserialize_with = "crate::runtime::nullable")]
            ));
            n += 1;
        }
    }
    n
}

/// The `T` of a `crate::Nullable<T>`.
pub(crate) fn nullable_inner(ty: &syn::Type) -> Option<&syn::Type> {
    crate::postprocess::generic_inner(ty, "Nullable")
}

/// Whether a field must be given: neither an `Option` nor filled in by serde when absent.
pub(crate) fn is_required(field: &syn::Field) -> bool {
    let serde_default = field.attrs.iter().any(|a| {
        a.path().is_ident("serde") && {
            let text = a.meta.to_token_stream().to_string();
            text.contains("default")
        }
    });
    !option_inner(&field.ty).1 && !serde_default
}

/// The enums with exactly one known value, by name: that value's variant.
fn one_value_enums(types: &[Item]) -> BTreeMap<String, syn::Ident> {
    types
        .iter()
        .filter_map(|item| {
            let Item::Enum(e) = item else { return None };
            let known: Vec<&syn::Variant> = e
                .variants
                .iter()
                .filter(|v| matches!(v.fields, Fields::Unit))
                .collect();
            match known[..] {
                [only] => Some((e.ident.to_string(), only.ident.clone())),
                _ => None,
            }
        })
        .collect()
}

/// The structs that implement `Default` (derived or by hand).
pub(crate) fn implements_default(types: &[Item]) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for item in types {
        match item {
            Item::Struct(s)
                if s.attrs.iter().any(|a| {
                    a.path().is_ident("derive")
                        && a.meta.to_token_stream().to_string().contains("Default")
                }) =>
            {
                out.insert(s.ident.to_string());
            }
            Item::Impl(imp) => {
                let is_default = imp.trait_.as_ref().is_some_and(|(_, path, _)| {
                    path.segments.last().is_some_and(|s| s.ident == "Default")
                });
                if let (true, Some(name)) = (is_default, last_ident(&imp.self_ty)) {
                    out.insert(name);
                }
            }
            _ => {}
        }
    }
    out
}

/// `new(..)` taking the required fields of a struct in `order` (JSON names; the others after,
/// in the struct's order), lists as any iterable; a field whose enum has one value is filled.
/// `None` when nothing is required.
fn constructor(
    fields: &syn::FieldsNamed,
    order: &[&str],
    constants: &BTreeMap<String, syn::Ident>,
) -> Option<proc_macro2::TokenStream> {
    let mut required: Vec<(usize, &syn::Field)> = fields
        .named
        .iter()
        .filter(|f| is_required(f))
        .map(|f| {
            let json = crate::request_types::json_name(f);
            let place = order.iter().position(|r| *r == json).unwrap_or(usize::MAX);
            (place, f)
        })
        .collect();
    if required.is_empty() {
        return None;
    }
    required.sort_by_key(|(place, _)| *place);
    let mut params = Vec::new();
    let mut inits = Vec::new();
    for (_, f) in &required {
        let ident = f.ident.clone()?;
        let ty = &f.ty;
        if let Some(variant) = last_ident(ty).and_then(|t| constants.get(&t)) {
            inits.push(quote!(#ident: #ty::#variant));
            continue;
        }
        match vec_element(ty) {
            Some(element) => {
                params.push(quote!(#ident: impl ::std::iter::IntoIterator<Item = impl ::std::convert::Into<#element>>));
                inits.push(
                    quote!(#ident: #ident.into_iter().map(::std::convert::Into::into).collect()),
                );
            }
            None => {
                params.push(quote!(#ident: impl ::std::convert::Into<#ty>));
                inits.push(quote!(#ident: #ident.into()));
            }
        }
    }
    let others = fields
        .named
        .iter()
        .filter(|f| !is_required(f))
        .filter_map(|f| f.ident.clone());
    Some(quote! {
        /// A value with its required fields, in the order the spec lists them; the others are
        /// unset (set them with the setters, or the fields).
        pub fn new(#(#params),*) -> Self {
            Self {
                #(#inits,)*
                #(#others: ::std::default::Default::default(),)*
            }
        }
    })
}

/// The `T` of a `Vec<T>`.
fn vec_element(ty: &syn::Type) -> Option<&syn::Type> {
    crate::postprocess::generic_inner(ty, "Vec")
}
