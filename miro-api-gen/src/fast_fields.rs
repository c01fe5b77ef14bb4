//! Field decoders that give the value serde's default would, with less work on the page path:
//!
//! - dates and times (`DateTime<Utc>`, optional or not) decode through
//!   `runtime::date_time`: chrono's strict RFC 3339 parser first, its relaxed one (what
//!   chrono's own `Deserialize` uses) only for what the strict one rejects;
//! - the list of a page (the `data` list of a paginated operation's response) decodes through
//!   `runtime::page_list`, allocated once at the page size the request asked for instead of
//!   growing from empty.
//!
//! Applied to every struct that derives `Deserialize`, the shadow copies of the outer-tagged
//! decoders ([`crate::tagged`]) included.

use std::collections::{BTreeMap, BTreeSet};

use syn::visit_mut::VisitMut;
use syn::{parse_quote, Expr, Fields, Item, ItemStruct, Token, Type};

use crate::model::{Operation, PaginationKind};
use crate::postprocess::{option_inner, type_name};

/// What [`apply`] changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Date-time fields decoded by `runtime::date_time`.
    pub dates: usize,
    /// Page lists decoded by `runtime::page_list`.
    pub page_lists: usize,
}

/// Adds the decoders to `types`. `signatures` gives each method's success type, `ops` tells
/// which methods page.
pub fn apply(
    types: &mut [Item],
    ops: &[Operation],
    signatures: &BTreeMap<String, (Type, Option<Type>)>,
) -> Applied {
    let pages: BTreeSet<String> = ops
        .iter()
        .filter(|op| op.pagination != PaginationKind::None)
        .filter_map(|op| signatures.get(&op.fn_name))
        .filter_map(|(success, _)| type_name(option_inner(success).0))
        .collect();
    let mut visitor = Decoders {
        pages,
        applied: Applied::default(),
    };
    for item in types.iter_mut() {
        visitor.visit_item_mut(item);
    }
    visitor.applied
}

struct Decoders {
    pages: BTreeSet<String>,
    applied: Applied,
}

impl VisitMut for Decoders {
    fn visit_item_struct_mut(&mut self, s: &mut ItemStruct) {
        if derives_deserialize(s) {
            let is_page = self.pages.contains(&s.ident.to_string());
            if let Fields::Named(fields) = &mut s.fields {
                for f in fields.named.iter_mut() {
                    if serde_keys(&f.attrs).contains("deserialize_with") {
                        continue;
                    }
                    let (inner, optional) = option_inner(&f.ty);
                    if is_date_time(inner) {
                        if optional {
                            let default = (!serde_keys(&f.attrs).contains("default"))
                                .then(|| quote::quote!(default,));
                            f.attrs.push(parse_quote!(
                                #[serde(#default deserialize_with = "crate::runtime::opt_date_time")]
                            ));
                        } else {
                            f.attrs.push(parse_quote!(
                                #[serde(deserialize_with = "crate::runtime::date_time")]
                            ));
                        }
                        self.applied.dates += 1;
                    } else if is_page
                        && !optional
                        && f.ident.as_ref().is_some_and(|i| i == "data")
                        && type_name(&f.ty).as_deref() == Some("Vec")
                    {
                        f.attrs.push(parse_quote!(
                            #[serde(deserialize_with = "crate::runtime::page_list")]
                        ));
                        self.applied.page_lists += 1;
                    }
                }
            }
        }
        syn::visit_mut::visit_item_struct_mut(self, s);
    }
}

/// Whether `s` has `#[derive(.., Deserialize, ..)]`.
fn derives_deserialize(s: &ItemStruct) -> bool {
    s.attrs.iter().any(|a| {
        a.path().is_ident("derive")
            && a.parse_args_with(
                syn::punctuated::Punctuated::<syn::Path, Token![,]>::parse_terminated,
            )
            .is_ok_and(|paths| {
                paths
                    .iter()
                    .any(|p| p.segments.last().is_some_and(|s| s.ident == "Deserialize"))
            })
    })
}

/// The keys of a field's `#[serde(..)]` attributes (`default`, `rename`, ...).
fn serde_keys(attrs: &[syn::Attribute]) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if let Some(ident) = meta.path.get_ident() {
                keys.insert(ident.to_string());
            }
            if meta.input.peek(Token![=]) {
                let _: Expr = meta.value()?.parse()?;
            }
            Ok(())
        });
    }
    keys
}

/// Whether `ty` is `DateTime<Utc>` (any path to either).
fn is_date_time(ty: &Type) -> bool {
    let Type::Path(p) = ty else { return false };
    let Some(last) = p.path.segments.last() else {
        return false;
    };
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return false;
    };
    last.ident == "DateTime"
        && matches!(
            args.args.first(),
            Some(syn::GenericArgument::Type(tz)) if type_name(tz).as_deref() == Some("Utc")
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::ToTokens;

    #[test]
    fn dates_and_page_lists_get_their_decoders() {
        let mut types: Vec<Item> = vec![
            parse_quote! {
                #[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
                pub struct Page {
                    #[serde(default, skip_serializing_if = "::std::vec::Vec::is_empty")]
                    pub data: ::std::vec::Vec<Item>,
                    #[serde(rename = "createdAt", skip_serializing_if = "::std::option::Option::is_none")]
                    pub created_at: ::std::option::Option<::chrono::DateTime<::chrono::offset::Utc>>,
                    #[serde(default)]
                    pub modified_at: ::std::option::Option<::chrono::DateTime<::chrono::offset::Utc>>,
                    pub at: ::chrono::DateTime<::chrono::offset::Utc>,
                    pub day: ::std::option::Option<::chrono::NaiveDate>,
                }
            },
            parse_quote! {
                #[derive(::serde::Serialize)]
                pub struct Body {
                    pub at: ::chrono::DateTime<::chrono::offset::Utc>,
                    pub data: ::std::vec::Vec<Item>,
                }
            },
            parse_quote! {
                impl<'de> ::serde::Deserialize<'de> for Item {
                    fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                        #[derive(::serde::Deserialize)]
                        struct Shadow {
                            at: ::std::option::Option<::chrono::DateTime<::chrono::offset::Utc>>,
                            data: ::std::vec::Vec<u8>,
                        }
                        todo!()
                    }
                }
            },
        ];
        let mut op = Operation::bare("GET", "/v2/pages");
        op.fn_name = "get_page".into();
        op.pagination = PaginationKind::Cursor;
        let ops = vec![op];
        let signatures =
            BTreeMap::from([("get_page".to_string(), (parse_quote!(types::Page), None))]);
        let applied = apply(&mut types, &ops, &signatures);
        assert_eq!(
            applied,
            Applied {
                dates: 4,
                page_lists: 1
            }
        );
        let code: Vec<String> = types
            .iter()
            .map(|i| i.to_token_stream().to_string())
            .collect();
        assert!(
            code[0]
                .contains(r#"# [serde (deserialize_with = "crate::runtime::page_list")] pub data"#),
            "{}",
            code[0]
        );
        assert!(code[0].contains(r#"# [serde (default , deserialize_with = "crate::runtime::opt_date_time")] pub created_at"#), "{}", code[0]);
        // Not a second `default`.
        assert!(code[0].contains(r#"# [serde (default)] # [serde (deserialize_with = "crate::runtime::opt_date_time")] pub modified_at"#), "{}", code[0]);
        assert!(
            code[0]
                .contains(r#"# [serde (deserialize_with = "crate::runtime::date_time")] pub at"#),
            "{}",
            code[0]
        );
        assert!(
            code[0].contains(
                "pub at : :: chrono :: DateTime < :: chrono :: offset :: Utc > , pub day"
            ),
            "a date alone is untouched: {}",
            code[0]
        );
        assert!(
            !code[1].contains("deserialize_with"),
            "not decoded: {}",
            code[1]
        );
        assert!(
            code[2].contains("opt_date_time"),
            "the shadow copy: {}",
            code[2]
        );
        assert!(!code[2].contains("page_list"), "{}", code[2]);
    }
}
