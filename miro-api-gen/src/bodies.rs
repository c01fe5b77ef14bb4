//! Request bodies in one readable expression, by three general rules over the request types
//! (every struct reachable from a request body, see [`crate::request_types`]):
//!
//! - every optional field gets a chained setter taking `impl Into<T>`
//!   (`StickyNoteData::default().content("Hello")`), and a struct with required fields a
//!   `new(..)` taking them;
//! - a struct with a `position` gets `.at(x, y)`;
//! - a struct whose item data is chosen by its `type` (the bulk `ItemCreate`) is built from its
//!   data (`ItemCreate::from(StickyNoteData::default().content("Hi"))`): its `type` follows from
//!   the data, and both fields are private, so they cannot disagree.

use std::collections::BTreeMap;

use quote::{format_ident, quote};
use syn::{parse_quote, Fields, Item};

use crate::postprocess::{option_inner, type_name as last_ident};

/// Adds the builder impls for the request types `names` to `types`. `outer_tags` maps a oneOf
/// type to its `type` value -> variant mapping.
pub fn add(
    types: &mut Vec<Item>,
    request_types: &BTreeMap<String, crate::request_types::Found>,
    outer_tags: &BTreeMap<String, BTreeMap<String, String>>,
) -> usize {
    let mut extra: Vec<Item> = Vec::new();
    let has_position_change = types
        .iter()
        .any(|i| matches!(i, Item::Struct(s) if s.ident == "PositionChange"));
    for item in types.iter_mut() {
        let Item::Struct(s) = item else { continue };
        let Some(found) = request_types.get(&s.ident.to_string()) else {
            continue;
        };
        // `new` takes the required fields in the spec's order (`startItem` before `endItem`),
        // not in the struct's alphabetical one.
        let spec_order: Vec<&str> = found
            .schema
            .get("required")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(serde_json::Value::as_str)
            .collect();
        let Fields::Named(fields) = &mut s.fields else {
            continue;
        };
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
        let mut required = Vec::new();
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
                let json = crate::request_types::json_name(f);
                let place = spec_order
                    .iter()
                    .position(|r| *r == json)
                    .unwrap_or(usize::MAX);
                required.push((place, ident, f.ty.clone()));
                continue;
            }
            let setter_ty = if optional { inner } else { &f.ty };
            let value = if optional {
                quote!(::std::option::Option::Some(value.into()))
            } else {
                quote!(value.into())
            };
            let doc = format!(" Sets `{}`.", ident.to_string().trim_end_matches('_'));
            methods.push(quote! {
                #[doc = #doc]
                pub fn #ident(mut self, value: impl ::std::convert::Into<#setter_ty>) -> Self {
                    self.#ident = #value;
                    self
                }
            });
        }
        if !required.is_empty() && skip.is_empty() {
            required.sort_by_key(|(place, _, _)| *place);
            let idents: Vec<_> = required.iter().map(|(_, i, _)| i).collect();
            let tys: Vec<_> = required.iter().map(|(_, _, t)| t).collect();
            let others = fields
                .named
                .iter()
                .filter_map(|f| f.ident.clone())
                .filter(|i| !idents.contains(&i));
            methods.push(quote! {
                /// A value with its required fields, in the spec's order; set the others with
                /// the setters.
                pub fn new(#(#idents: impl ::std::convert::Into<#tys>),*) -> Self {
                    Self {
                        #(#idents: #idents.into(),)*
                        #(#others: ::std::default::Default::default(),)*
                    }
                }
            });
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
