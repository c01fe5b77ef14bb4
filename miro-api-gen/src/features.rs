//! Cargo features per API area: one rule for every generated type.
//!
//! Each operation belongs to one [`area`](crate::area), whose key is a cargo feature of
//! `miro-api`; its method, request struct and operations-table entry carry
//! `#[cfg(feature = "<area>")]`. A generated type is compiled when any area that reaches it is
//! enabled: the areas of a type are those whose methods or requests name it, directly or through
//! the fields, variants and impl blocks of the types they name. A type every area reaches gets
//! no `cfg`; a type reached by some areas gets `#[cfg(any(feature = "a", feature = "b"))]`, so
//! a type shared by an enabled and a disabled area is compiled once; a type no operation reaches
//! is compiled with `full` only. An impl block is compiled when every generated type it names is
//! (the intersection of their areas).

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::{parse_quote, Attribute, Item, Type};

use crate::area::AREAS;

/// The feature that turns every area on.
pub const FULL: &str = "full";

/// A set of area keys.
pub type Areas = BTreeSet<&'static str>;

/// Every identifier in `tokens`, groups included.
pub fn idents(tokens: TokenStream, out: &mut BTreeSet<String>) {
    for tt in tokens {
        match tt {
            TokenTree::Ident(i) => {
                out.insert(i.to_string());
            }
            TokenTree::Group(g) => idents(g.stream(), out),
            _ => {}
        }
    }
}

/// The `#[cfg(..)]` of an item compiled with any of `areas`; `None` when every area reaches it.
pub fn cfg(areas: &Areas) -> Option<Attribute> {
    if AREAS.iter().all(|a| areas.contains(a.key)) {
        return None;
    }
    if areas.is_empty() {
        return Some(parse_quote!(#[cfg(feature = "full")]));
    }
    if areas.len() == 1 {
        let key = areas.iter().next().expect("one");
        return Some(parse_quote!(#[cfg(feature = #key)]));
    }
    let keys = areas.iter();
    Some(parse_quote!(#[cfg(any(#(feature = #keys),*))]))
}

/// The feature condition of an item compiled with any of `areas` (as inside `cfg(..)`); `None`
/// when every area reaches it.
fn condition(areas: &Areas) -> Option<TokenStream> {
    if AREAS.iter().all(|a| areas.contains(a.key)) {
        return None;
    }
    Some(match areas.len() {
        0 => quote::quote!(feature = "full"),
        1 => {
            let key = areas.iter().next().expect("one");
            quote::quote!(feature = #key)
        }
        _ => {
            let keys = areas.iter();
            quote::quote!(any(#(feature = #keys),*))
        }
    })
}

/// The docs.rs badge of an item compiled with any of `areas`:
/// `#[cfg_attr(docsrs, doc(cfg(..)))]`, the same condition as [`cfg()`].
pub fn doc_cfg(areas: &Areas) -> Option<Attribute> {
    let c = condition(areas)?;
    Some(parse_quote!(#[cfg_attr(docsrs, doc(cfg(#c)))]))
}

/// The sentence that names the features an item compiled with any of `areas` needs.
pub fn area_sentence(areas: &Areas) -> Option<String> {
    condition(areas)?;
    let keys: Vec<String> = areas.iter().map(|k| format!("`{k}`")).collect();
    Some(match keys.len() {
        0 => "Available with the `full` feature of `miro-api` (no operation uses it).".into(),
        1 => format!("Available with the {} feature of `miro-api`.", keys[0]),
        _ => format!(
            "Available with any of the features {} of `miro-api`.",
            keys.join(", ")
        ),
    })
}

/// Puts the `cfg`, the docs.rs badge and, on a documented item, the sentence naming its
/// features on `attrs`, for an item compiled with any of `areas`.
pub fn gate(attrs: &mut Vec<Attribute>, areas: &Areas, name_in_docs: bool) {
    let Some(cfg) = cfg(areas) else { return };
    if name_in_docs {
        if let Some(sentence) = area_sentence(areas) {
            let last_doc = attrs.iter().rposition(|a| a.path().is_ident("doc"));
            let at = last_doc.map_or(0, |i| i + 1);
            let sentence = format!(" {sentence}");
            let mut lines: Vec<Attribute> = Vec::new();
            if last_doc.is_some() {
                lines.push(parse_quote!(#[doc = ""]));
            }
            lines.push(parse_quote!(#[doc = #sentence]));
            attrs.splice(at..at, lines);
        }
    }
    if let Some(badge) = doc_cfg(areas) {
        attrs.insert(0, badge);
    }
    attrs.insert(0, cfg);
}

/// The areas set of one area key.
pub fn one(key: &'static str) -> Areas {
    std::iter::once(key).collect()
}

fn type_name(item: &Item) -> Option<String> {
    match item {
        Item::Struct(s) => Some(s.ident.to_string()),
        Item::Enum(e) => Some(e.ident.to_string()),
        Item::Type(t) => Some(t.ident.to_string()),
        _ => None,
    }
}

fn self_name(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// The areas of every generated type: those whose `roots` (identifiers their methods and
/// requests name) reach it through the types' items and impl blocks.
pub fn areas_of_types(
    types: &[Item],
    roots: &BTreeMap<&'static str, BTreeSet<String>>,
) -> BTreeMap<String, Areas> {
    let names: BTreeSet<String> = types.iter().filter_map(type_name).collect();
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for item in types {
        let owner = match item {
            Item::Impl(imp) => self_name(&imp.self_ty).filter(|n| names.contains(n)),
            other => type_name(other),
        };
        let Some(owner) = owner else { continue };
        let mut found = BTreeSet::new();
        idents(item.to_token_stream(), &mut found);
        let entry = deps.entry(owner.clone()).or_default();
        entry.extend(
            found
                .into_iter()
                .filter(|i| names.contains(i) && *i != owner),
        );
    }
    let mut out: BTreeMap<String, Areas> =
        names.iter().map(|n| (n.clone(), Areas::new())).collect();
    for (area, named) in roots {
        let mut todo: Vec<&String> = named.iter().filter(|n| names.contains(*n)).collect();
        while let Some(name) = todo.pop() {
            let areas = out.get_mut(name).expect("a generated type");
            if !areas.insert(area) {
                continue;
            }
            todo.extend(deps.get(name).into_iter().flatten());
        }
    }
    // An alias no operation names is compiled with the type it stands for.
    for item in types {
        let Item::Type(alias) = item else { continue };
        let target = self_name(&alias.ty).and_then(|t| out.get(&t).cloned());
        if let Some(areas) = target {
            out.insert(alias.ident.to_string(), areas);
        }
    }
    out
}

/// Puts the `cfg` of its areas on every generated type and impl block (see the module docs).
/// Returns the areas of every type.
pub fn gate_types(
    types: &mut [Item],
    roots: &BTreeMap<&'static str, BTreeSet<String>>,
) -> BTreeMap<String, Areas> {
    let areas = areas_of_types(types, roots);
    for item in types.iter_mut() {
        let item_areas = match &*item {
            Item::Impl(_) => {
                let mut found = BTreeSet::new();
                idents(item.to_token_stream(), &mut found);
                let mut named = found.iter().filter_map(|i| areas.get(i));
                let Some(first) = named.next() else { continue };
                named.fold(first.clone(), |acc, a| {
                    acc.intersection(a).copied().collect()
                })
            }
            other => match type_name(other).and_then(|n| areas.get(&n)) {
                Some(a) => a.clone(),
                None => continue,
            },
        };
        match item {
            Item::Struct(s) => gate(&mut s.attrs, &item_areas, true),
            Item::Enum(e) => gate(&mut e.attrs, &item_areas, true),
            Item::Type(t) => gate(&mut t.attrs, &item_areas, true),
            Item::Impl(i) => gate(&mut i.attrs, &item_areas, false),
            _ => {}
        }
    }
    areas
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(src: &str) -> Vec<Item> {
        syn::parse_file(src).unwrap().items
    }

    fn roots(pairs: &[(&'static str, &[&str])]) -> BTreeMap<&'static str, BTreeSet<String>> {
        pairs
            .iter()
            .map(|(a, names)| (*a, names.iter().map(|n| n.to_string()).collect()))
            .collect()
    }

    fn cfg_of(item: &Item) -> Option<String> {
        let attrs = match item {
            Item::Struct(s) => &s.attrs,
            Item::Enum(e) => &e.attrs,
            Item::Impl(i) => &i.attrs,
            _ => return None,
        };
        attrs
            .iter()
            .find(|a| a.path().is_ident("cfg"))
            .map(|a| a.to_token_stream().to_string().replace(' ', ""))
    }

    const SRC: &str = r#"
        pub struct Board { pub owner: Option<User>, pub policy: Policy }
        pub struct User { pub id: String }
        pub struct Policy { pub role: Role }
        pub enum Role { Viewer, Editor }
        pub struct Case { pub holder: User }
        pub struct Orphan { pub x: u8 }
        pub struct Wrapper(Vec<u8>);
        pub struct Secret;
        impl Board { pub fn policy(self, p: Policy) -> Self { self } }
        impl From<Vec<Secret>> for Wrapper { fn from(v: Vec<Secret>) -> Self { Wrapper(vec![]) } }
        impl From<Case> for Vec<User> { fn from(c: Case) -> Self { vec![c.holder] } }
    "#;

    #[test]
    fn types_follow_the_areas_that_reach_them() {
        let types = items(SRC);
        let r = roots(&[
            ("boards", &["Board", "types", "str"]),
            ("cases", &["Case"]),
            ("exports", &["Wrapper"]),
        ]);
        let areas = areas_of_types(&types, &r);
        let keys = |n: &str| areas[n].iter().copied().collect::<Vec<_>>();
        assert_eq!(keys("Board"), ["boards"]);
        assert_eq!(keys("Policy"), ["boards"]);
        assert_eq!(keys("Role"), ["boards"], "through a field of a field");
        assert_eq!(keys("User"), ["boards", "cases"], "shared: compiled once");
        // Reached only through an impl block of the type that names it.
        assert_eq!(keys("Secret"), ["exports"]);
        assert!(keys("Orphan").is_empty());
    }

    #[test]
    fn cfgs_on_types_and_impls() {
        let mut types = items(SRC);
        let r = roots(&[
            ("boards", &["Board"]),
            ("cases", &["Case"]),
            ("exports", &["Wrapper"]),
        ]);
        gate_types(&mut types, &r);
        let cfgs: Vec<Option<String>> = types.iter().map(cfg_of).collect();
        let one = |k: &str| Some(format!("#[cfg(feature=\"{k}\")]"));
        assert_eq!(cfgs[0], one("boards"));
        assert_eq!(
            cfgs[1],
            Some("#[cfg(any(feature=\"boards\",feature=\"cases\"))]".into())
        );
        assert_eq!(cfgs[4], one("cases"));
        assert_eq!(cfgs[5], one("full"), "no operation reaches it");
        assert_eq!(cfgs[8], one("boards"), "an impl follows its type");
        assert_eq!(cfgs[9], one("exports"));
        // An impl for a foreign type: the intersection of the types it names.
        assert_eq!(cfgs[10], one("cases"));
    }

    #[test]
    fn a_type_every_area_reaches_has_no_cfg() {
        let mut types = items("pub struct Shared; pub struct Only;");
        let mut r: BTreeMap<&'static str, BTreeSet<String>> = AREAS
            .iter()
            .map(|a| (a.key, BTreeSet::from(["Shared".to_string()])))
            .collect();
        r.get_mut("scim").unwrap().insert("Only".into());
        gate_types(&mut types, &r);
        assert_eq!(cfg_of(&types[0]), None);
        assert_eq!(cfg_of(&types[1]), Some("#[cfg(feature=\"scim\")]".into()));
    }

    /// `miro-api`'s Cargo.toml declares one feature per area, the default set and `full`.
    #[test]
    fn cargo_features_match_the_areas() {
        let manifest = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../miro-api/Cargo.toml"),
        )
        .unwrap();
        let features = manifest
            .split("[features]")
            .nth(1)
            .unwrap()
            .split("\n[")
            .next()
            .unwrap();
        // `name = [..]`, on one line or several.
        let value = |name: &str| -> Vec<String> {
            let start = features
                .lines()
                .scan(0, |at, l| {
                    let here = *at;
                    *at += l.len() + 1;
                    Some((here, l))
                })
                .find(|(_, l)| l.split('=').next().unwrap().trim() == name)
                .unwrap_or_else(|| panic!("no feature {name}"))
                .0;
            let rest = &features[start..];
            rest[rest.find('[').unwrap() + 1..rest.find(']').unwrap()]
                .split(',')
                .map(|s| s.trim().trim_matches('"').to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        for area in AREAS {
            assert!(value(area.key).is_empty(), "{}", area.key);
            assert_eq!(
                value("default").contains(&area.key.to_string()),
                area.default(),
                "{} in the default set",
                area.key
            );
        }
        let full = value(FULL);
        let keys: Vec<String> = AREAS.iter().map(|a| a.key.to_string()).collect();
        assert_eq!(full, keys, "full = every area, in docs order");
    }
}
