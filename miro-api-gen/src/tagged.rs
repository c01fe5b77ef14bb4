//! Outer-tagged values decode once, straight into their variant.
//!
//! A field whose type a sibling chooses (an item's `data` and `style`, chosen by its `type`) is
//! read as raw JSON text (the runtime's `RawText`: serde_json's raw-value capture, borrowed from
//! the body when the decoder can lend it, so nothing is copied or parsed), then decoded from that
//! text straight into the variant the sibling names, once the whole object is read. There is no
//! intermediate `serde_json::Value` on this path.
//!
//! Behaviour is that of the `Value` path (`from_outer_tag`, still generated and public): an
//! unknown tag keeps the data whole in `Unknown`, and data that does not decode as its
//! variant is handed to `from_outer_tag` as a parsed value, which decides exactly as before
//! (`Unknown` with the data kept). Tolerant decoding is unchanged: the raw text is captured
//! from a `Value` as well (the runtime's slow path decodes from one).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{parse_quote, Fields, Ident, Item, ItemStruct};

/// The private `from_outer_tag_raw` of the outer-tagged enum `name`, whose variant for each
/// `type` value is `arms` (`type` value, variant).
pub fn from_raw_impl(name: &Ident, arms: &[(String, Ident)]) -> Item {
    let arms: Vec<TokenStream> = arms
        .iter()
        .map(|(tag, variant)| {
            quote! { #tag => ::serde_json::from_str(raw).map(Self::#variant), }
        })
        .collect();
    parse_quote! {
        impl #name {
            /// Decodes the JSON text `raw` straight into the variant that the enclosing object's
            /// `type` names. An unknown `type` keeps the data in `Unknown`; data that does not
            /// fit its variant is decided by [`from_outer_tag`](Self::from_outer_tag) from the
            /// parsed value, as it always was.
            fn from_outer_tag_raw(
                tag: ::std::option::Option<&str>,
                raw: &str,
            ) -> ::std::result::Result<Self, ::serde_json::Error> {
                let decoded = match tag.unwrap_or_default() {
                    #(#arms)*
                    _ => return ::serde_json::from_str(raw).map(Self::Unknown),
                };
                match decoded {
                    ::std::result::Result::Ok(data) => ::std::result::Result::Ok(data),
                    ::std::result::Result::Err(_) => ::serde_json::from_str(raw)
                        .map(|value| Self::from_outer_tag(tag, value)),
                }
            }
        }
    }
}

/// A `Deserialize` impl for `s` that reads it through a shadow copy whose `tagged` fields
/// (field, enum name, optional) are raw JSON text, then decodes each of those once by the
/// `type` field.
pub fn deserialize_impl(s: &ItemStruct, tagged: &[(Ident, String, bool)]) -> Item {
    let name = &s.ident;
    let mut shadow = s.clone();
    shadow.ident = format_ident!("Shadow");
    shadow.generics = parse_quote!(<'raw>);
    shadow.vis = syn::Visibility::Inherited;
    shadow.attrs = vec![parse_quote!(#[derive(::serde::Deserialize)])];
    shadow.attrs.extend(
        s.attrs
            .iter()
            .filter(|a| a.path().is_ident("serde"))
            .cloned(),
    );
    let mut names = Vec::new();
    let mut decodes = Vec::new();
    if let Fields::Named(fields) = &mut shadow.fields {
        for f in fields.named.iter_mut() {
            f.attrs.retain(|a| a.path().is_ident("serde"));
            f.vis = syn::Visibility::Inherited;
            let ident = f.ident.clone().unwrap();
            if let Some((_, ty, optional)) = tagged.iter().find(|(i, _, _)| *i == ident) {
                let ty = format_ident!("{}", ty);
                f.attrs.push(parse_quote!(#[serde(borrow)]));
                if *optional {
                    f.ty = parse_quote!(::std::option::Option<crate::runtime::RawText<'raw>>);
                    decodes.push(quote! {
                        let #ident = #ident
                            .map(|raw| #ty::from_outer_tag_raw(tag, raw.get()))
                            .transpose()
                            .map_err(::serde::de::Error::custom)?;
                    });
                } else {
                    f.ty = parse_quote!(crate::runtime::RawText<'raw>);
                    decodes.push(quote! {
                        let #ident = #ty::from_outer_tag_raw(tag, #ident.get())
                            .map_err(::serde::de::Error::custom)?;
                    });
                }
            }
            names.push(ident);
        }
    }
    parse_quote! {
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                #shadow
                let Shadow { #(#names),* } = <Shadow<'de> as ::serde::Deserialize<'de>>::deserialize(deserializer)?;
                let tag = crate::runtime::OuterTag::outer_tag(&type_);
                #(#decodes)*
                ::std::result::Result::Ok(Self { #(#names),* })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_fields_are_read_as_raw_text_and_decoded_once() {
        let s: ItemStruct = parse_quote! {
            pub struct Item {
                #[serde(skip_serializing_if = "::std::option::Option::is_none")]
                pub data: ::std::option::Option<ItemData>,
                #[serde(rename = "type")]
                pub type_: ::std::string::String,
            }
        };
        let tagged = [(format_ident!("data"), "ItemData".to_string(), true)];
        let code = quote::ToTokens::to_token_stream(&deserialize_impl(&s, &tagged)).to_string();
        assert!(code.contains("RawText"), "{code}");
        assert!(code.contains("from_outer_tag_raw"), "{code}");
        assert!(
            !code.contains("serde_json :: Value"),
            "no intermediate Value: {code}"
        );

        let name = format_ident!("ItemData");
        let arms = [("card".to_string(), format_ident!("CardData"))];
        let code = quote::ToTokens::to_token_stream(&from_raw_impl(&name, &arms)).to_string();
        assert!(
            code.contains("\"card\" => :: serde_json :: from_str (raw) . map (Self :: CardData)"),
            "{code}"
        );
        assert!(
            code.contains("Self :: from_outer_tag (tag , value)"),
            "{code}"
        );
    }
}
