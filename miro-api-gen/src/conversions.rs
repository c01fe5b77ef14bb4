//! Read types to write types, by one rule: a request type `W` gets `impl From<&R> for W` when
//! `R` is a type Miro answers with that names the same object and holds every field of `W`.
//!
//! "Names the same object": both names reduce to the same words once the words that only say
//! which way the object travels are removed (`Update`, `Create`, `For`, `Request`, `Changes`,
//! `With`, `Links`, and progenitor's `Platform...` suffixes): `StickyNoteStyle` and
//! `UpdateStickyNoteStyle`, `ShapeStyle` and `ShapeStyleForUpdate`, `TagWithLinks` and
//! `TagCreateRequest`. "Holds every field": each field of `W` is a field of `R` with the same
//! JSON name and the same type, or `W`'s is an `Option` of `R`'s. So reading a sticky note's
//! style and writing it back is `UpdateStickyNoteStyle::from(&style)`, and nothing is lost: a
//! field `W` lacks is one Miro does not take back.

use std::collections::{BTreeMap, BTreeSet};

use quote::{quote, ToTokens};
use syn::{Fields, Ident, Item, Type, Visibility};

use crate::postprocess::option_inner;

/// Words of a type name that say which way an object travels, not what it is.
const DIRECTION_WORDS: &[&str] = &[
    "Update", "Create", "For", "Request", "Changes", "With", "Links",
];

/// Words that mark a type as something sent, so never the read side of a conversion.
const WRITE_WORDS: &[&str] = &["Update", "Create", "For", "Request", "Changes"];

/// The PascalCase words of `name`, without progenitor's `Platform...` disambiguation suffix.
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

struct Field {
    ident: Ident,
    json: String,
    ty: Type,
}

/// A struct whose fields are all public, by name.
fn public_structs(types: &[Item]) -> BTreeMap<String, Vec<Field>> {
    let mut out = BTreeMap::new();
    for item in types {
        let Item::Struct(s) = item else { continue };
        let Fields::Named(fields) = &s.fields else {
            continue;
        };
        if fields.named.is_empty()
            || fields
                .named
                .iter()
                .any(|f| !matches!(f.vis, Visibility::Public(_)))
        {
            continue;
        }
        let fields = fields
            .named
            .iter()
            .filter_map(|f| {
                Some(Field {
                    ident: f.ident.clone()?,
                    json: crate::request_types::json_name(f),
                    ty: f.ty.clone(),
                })
            })
            .collect();
        out.insert(s.ident.to_string(), fields);
    }
    out
}

fn same(a: &Type, b: &Type) -> bool {
    a.to_token_stream().to_string() == b.to_token_stream().to_string()
}

/// How `W`'s field is filled from `R`'s: as is, wrapped in `Some`, or not at all.
fn fill(read: &Field, write: &Field) -> Option<proc_macro2::TokenStream> {
    let (w, ident, r) = (&write.ident, &read.ident, &read.ty);
    if same(r, &write.ty) {
        return Some(quote!(#w: read.#ident.clone()));
    }
    let (inner, is_option) = option_inner(&write.ty);
    (is_option && same(r, inner))
        .then(|| quote!(#w: ::std::option::Option::Some(read.#ident.clone())))
}

/// Adds the conversions; returns how many.
pub fn add(
    types: &mut Vec<Item>,
    request_types: &BTreeMap<String, crate::request_types::Found>,
) -> usize {
    let structs = public_structs(types);
    let writes: BTreeSet<&String> = request_types
        .keys()
        .filter(|name| structs.contains_key(*name))
        .collect();
    let mut extra: Vec<Item> = Vec::new();
    for write in &writes {
        let words = object_words(write);
        if is_read_name(write) && words == self::words(write) {
            // A plain name (`StickyNoteStyle`): the read type itself, or a sibling of it.
            continue;
        }
        let write_fields = &structs[*write];
        for (read, read_fields) in &structs {
            if read == *write || !is_read_name(read) || object_words(read) != words {
                continue;
            }
            let fills: Option<Vec<_>> = write_fields
                .iter()
                .map(|w| {
                    let r = read_fields.iter().find(|r| r.json == w.json)?;
                    fill(r, w)
                })
                .collect();
            let Some(fills) = fills else { continue };
            let (read_ty, write_ty) = (
                syn::parse_str::<Ident>(read).expect("a type name"),
                syn::parse_str::<Ident>(write).expect("a type name"),
            );
            let doc = format!(
                " The fields of a [`{read}`] that Miro takes back, to send it (or a changed \
                 copy) as a [`{write}`]."
            );
            extra.push(syn::parse_quote! {
                #[doc = #doc]
                impl ::std::convert::From<&#read_ty> for #write_ty {
                    fn from(read: &#read_ty) -> Self {
                        #write_ty { #(#fills,)* }
                    }
                }
            });
        }
    }
    let n = extra.len();
    types.extend(extra);
    n
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
        assert_eq!(
            object_words("StickyNoteStylePlatformbulkcreateoperation"),
            ["Sticky", "Note", "Style"]
        );
        assert_ne!(object_words("CardStyle"), object_words("AppCardStyle"));
    }

    #[test]
    fn a_read_type_holding_every_field_converts() {
        let mut types: Vec<Item> = vec![
            syn::parse_quote! { pub struct NoteStyle { pub fill: Option<Color>, pub align: Option<Align>, pub extra: Option<String> } },
            syn::parse_quote! { pub struct UpdateNoteStyle { pub fill: Option<Color>, pub align: Option<Align> } },
            syn::parse_quote! { pub struct NoteStyleBad { pub fill: Option<String> } },
            syn::parse_quote! { pub struct Tag { pub title: String } },
            syn::parse_quote! { pub struct TagCreateRequest { pub title: Option<String> } },
        ];
        let found = |name: &str| {
            (
                name.to_string(),
                crate::request_types::Found {
                    operation: "x".into(),
                    schema: serde_json::Value::Null,
                },
            )
        };
        let writes: BTreeMap<_, _> = [found("UpdateNoteStyle"), found("TagCreateRequest")].into();
        assert_eq!(add(&mut types, &writes), 2);
        let text: String = types[5..]
            .iter()
            .map(|i| i.to_token_stream().to_string())
            .collect();
        assert!(
            text.contains("From < & NoteStyle > for UpdateNoteStyle"),
            "{text}"
        );
        assert!(
            text.contains("title : :: std :: option :: Option :: Some (read . title . clone ())")
        );
    }
}
