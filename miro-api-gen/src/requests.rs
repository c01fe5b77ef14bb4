//! Turns each positional method into a request builder, the one rule for every operation:
//!
//! - `MiroApi::get_items(&self, board_id)` takes the required parameters (path parameters, the
//!   body, required upload parts) and returns `requests::GetItems`;
//! - every optional parameter is a chained setter on it (`.limit(50)`), taking the value itself;
//! - the request is sent with `.send().await`, or just `.await` (`IntoFuture`);
//! - a paginated operation's request implements `miro_api::PagedRequest`, so the page streams of
//!   `miro-api-extended` start from the same request with the same typed filters.
//!
//! `MiroApi`'s constructors are emitted in one `impl` block per [`area`], so the
//! docs list them by area.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::{Group, Ident, TokenStream, TokenTree};
use quote::{format_ident, quote, ToTokens};
use serde_json::Value;
use syn::{parse_quote, FnArg, ImplItem, Item, Pat, Type};

use crate::area::{self, Area};
use crate::model::{Operation, PaginationKind};
use crate::GenError;

/// The generated constructors and request types.
pub struct Requests {
    /// `impl MiroApi` blocks, one per area, in docs order.
    pub methods: Vec<Item>,
    /// The request structs with their setters, `send` and `IntoFuture`.
    pub requests: Vec<Item>,
    /// Per area (its feature), every identifier its constructors and requests name: where
    /// [`crate::features`] starts the walk that finds the types each area needs.
    pub roots: BTreeMap<&'static str, BTreeSet<String>>,
}

/// Builds the request types from the rewritten `impl MiroApi` block.
pub fn build(
    methods: &Item,
    ops: &[Operation],
    spec: &Value,
    types: &[Item],
) -> Result<Requests, GenError> {
    let Item::Impl(imp) = methods else {
        return Err(GenError::Syntax("methods are not an impl block".into()));
    };
    let by_name: BTreeMap<&str, &Operation> = ops.iter().map(|o| (o.fn_name.as_str(), o)).collect();
    let mut by_area: BTreeMap<Area, Vec<ImplItem>> = BTreeMap::new();
    let mut requests = Vec::new();
    let mut roots: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    for item in &imp.items {
        let ImplItem::Fn(f) = item else { continue };
        let name = f.sig.ident.to_string();
        let op = by_name
            .get(name.as_str())
            .ok_or_else(|| GenError::Syntax(format!("{name}: no operation")))?;
        let (constructor, request) = split(f, op, spec, types)?;
        let area = area::of(op);
        let named = roots.entry(area.feature()).or_default();
        crate::features::idents(constructor.to_token_stream(), named);
        for item in &request {
            crate::features::idents(item.to_token_stream(), named);
        }
        by_area.entry(area).or_default().push(constructor);
        let areas = crate::features::one(area.feature());
        requests.extend(request.into_iter().map(|mut item| {
            let documented = !matches!(item, Item::Impl(_));
            if let Some(attrs) = item_attrs(&mut item) {
                crate::features::gate(attrs, &areas, documented);
            }
            item
        }));
    }
    let methods = by_area
        .into_iter()
        .map(|(area, items)| {
            let doc = format!(" # {}", area.title);
            let feature = area.feature();
            let feature_doc = format!(" Needs the `{feature}` feature of `miro-api`.");
            parse_quote! {
                #[doc = #doc]
                #[doc = ""]
                #[doc = #feature_doc]
                #[cfg(feature = #feature)]
                #[cfg_attr(docsrs, doc(cfg(feature = #feature)))]
                impl crate::MiroApi {
                    #(#items)*
                }
            }
        })
        .collect();
    Ok(Requests {
        methods,
        requests,
        roots,
    })
}

fn item_attrs(item: &mut Item) -> Option<&mut Vec<syn::Attribute>> {
    match item {
        Item::Struct(s) => Some(&mut s.attrs),
        Item::Impl(i) => Some(&mut i.attrs),
        Item::Enum(e) => Some(&mut e.attrs),
        Item::Fn(f) => Some(&mut f.attrs),
        _ => None,
    }
}

/// A parameter of a positional method.
struct Param {
    ident: Ident,
    ty: Type,
    /// The `T` of an `Option<T>` parameter; `None` when the parameter is required.
    optional: Option<Type>,
}

fn params(f: &syn::ImplItemFn) -> Vec<Param> {
    f.sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(t) => match &*t.pat {
                Pat::Ident(i) => Some(Param {
                    ident: i.ident.clone(),
                    ty: (*t.ty).clone(),
                    optional: option_inner(&t.ty).cloned(),
                }),
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect()
}

fn option_inner(ty: &Type) -> Option<&Type> {
    match crate::postprocess::option_inner(ty) {
        (inner, true) => Some(inner),
        _ => None,
    }
}

/// `get_items` -> `GetItems`.
fn pascal(name: &str) -> String {
    name.split('_')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut c = s.chars();
            c.next()
                .map(|first| first.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// Replaces the identifier `self` by `this` everywhere, macro arguments included.
fn self_to_this(tokens: TokenStream) -> TokenStream {
    tokens
        .into_iter()
        .map(|tt| match tt {
            TokenTree::Ident(i) if i == "self" => TokenTree::Ident(Ident::new("this", i.span())),
            TokenTree::Group(g) => {
                let mut inner = Group::new(g.delimiter(), self_to_this(g.stream()));
                inner.set_span(g.span());
                TokenTree::Group(inner)
            }
            other => other,
        })
        .collect()
}

/// The spec's description of each parameter of `op`, by Rust name.
fn param_docs(spec: &Value, op: &Operation) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(item) = spec.get("paths").and_then(|p| p.get(&op.spec_path)) else {
        return out;
    };
    // The path's shared parameters, then the operation's own (which win), `$ref`s followed.
    let params = [item, &item[op.method.to_lowercase()]]
        .into_iter()
        .filter_map(|o| o.get("parameters").and_then(Value::as_array))
        .flatten()
        .map(|p| crate::model::resolve_param(spec, p));
    for p in params {
        // Miro documents a parameter on itself or on its schema.
        let (Some(name), Some(desc)) = (
            p.get("name").and_then(Value::as_str),
            p.get("description")
                .or_else(|| p.pointer("/schema/description"))
                .and_then(Value::as_str),
        ) else {
            continue;
        };
        let text = crate::model::param_doc(desc);
        if !text.is_empty() {
            out.insert(crate::model::snake_case(name), text);
        }
    }
    out
}

/// What a parameter the spec leaves undescribed is for, for the names every list shares.
fn generic_param_doc(key: &str) -> Option<&'static str> {
    Some(match key {
        "cursor" => {
            "where the page starts: the `cursor` of the previous page's answer (none \
                     for the first page)."
        }
        "limit" => "the page size: at most this many results in one answer.",
        "offset" => {
            "where the page starts: the number of results to skip (0 for the first \
                     page)."
        }
        "data" => "the JSON part of the upload, describing the item the file becomes.",
        _ => return None,
    })
}

/// The item type of a paginated operation's page: the element type of its `data` list.
fn page_item(success: &Type, types: &[Item]) -> TokenStream {
    let name = match success {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    };
    let data = name.and_then(|name| {
        types.iter().find_map(|item| match item {
            Item::Struct(s) if s.ident == name => match &s.fields {
                syn::Fields::Named(fields) => fields
                    .named
                    .iter()
                    .find(|f| f.ident.as_ref().is_some_and(|i| i == "data"))
                    .map(|f| f.ty.clone()),
                _ => None,
            },
            _ => None,
        })
    });
    let element = data.and_then(|ty| {
        let ty = option_inner(&ty).cloned().unwrap_or(ty);
        let Type::Path(p) = &ty else { return None };
        let last = p.path.segments.last()?;
        if last.ident != "Vec" {
            return None;
        }
        match &last.arguments {
            syn::PathArguments::AngleBracketed(args) => match args.args.first()? {
                syn::GenericArgument::Type(t) => Some(t.clone()),
                _ => None,
            },
            _ => None,
        }
    });
    match element {
        Some(Type::Path(p)) if p.path.segments.len() == 1 => {
            let ident = &p.path.segments[0].ident;
            quote!(types::#ident)
        }
        Some(other) => quote!(#other),
        None => quote!(::serde_json::Value),
    }
}

fn split(
    f: &syn::ImplItemFn,
    op: &Operation,
    spec: &Value,
    types: &[Item],
) -> Result<(ImplItem, Vec<Item>), GenError> {
    let fn_name = &f.sig.ident;
    let struct_name = format_ident!("{}", pascal(&fn_name.to_string()));
    let params = params(f);
    let docs = param_docs(spec, op);
    let output = match &f.sig.output {
        syn::ReturnType::Type(_, ty) => (**ty).clone(),
        syn::ReturnType::Default => {
            return Err(GenError::Syntax(format!("{fn_name}: no return type")));
        }
    };
    let success = crate::postprocess::response_body(&output)
        .ok_or_else(|| GenError::Syntax(format!("{fn_name}: unexpected return type")))?;

    let required: Vec<&Param> = params.iter().filter(|p| p.optional.is_none()).collect();
    let optional: Vec<&Param> = params.iter().filter(|p| p.optional.is_some()).collect();
    let req_idents: Vec<&Ident> = required.iter().map(|p| &p.ident).collect();
    let req_types: Vec<&Type> = required.iter().map(|p| &p.ty).collect();
    let opt_idents: Vec<&Ident> = optional.iter().map(|p| &p.ident).collect();
    let all_idents: Vec<&Ident> = params.iter().map(|p| &p.ident).collect();
    let all_types: Vec<&Type> = params.iter().map(|p| &p.ty).collect();

    // The constructor on `MiroApi`, with the operation's docs.
    let mut doc_attrs: Vec<syn::Attribute> = f
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .cloned()
        .collect();
    let setters_note = if optional.is_empty() {
        format!("Returns a [`requests::{struct_name}`]; send it with `.await`.")
    } else {
        let list: Vec<String> = optional
            .iter()
            .map(|p| format!("[`{0}`](requests::{struct_name}::{0})", p.ident))
            .collect();
        format!(
            "Returns a [`requests::{struct_name}`]: set the optional parameters on it ({}), \
             then send it with `.await`.",
            list.join(", ")
        )
    };
    // A paragraph of its own: rustdoc drops a block comment's empty first line, which glued
    // this line onto the rate-limit bullet above it.
    doc_attrs.push(parse_quote!(#[doc = ""]));
    let mut extra = format!(" {setters_note}");
    if op.pagination != PaginationKind::None {
        extra.push_str(
            "\n\nEvery item of every page as one stream, with the same filters: `.stream()` on \
             the request (`use miro_api_extended::prelude::*`), e.g. \
             `api.get_items(board).stream()`. The request is a [`PagedRequest`](crate::PagedRequest).",
        );
    }
    doc_attrs.push(parse_quote!(#[doc = #extra]));
    let constructor: ImplItem = parse_quote! {
        #(#doc_attrs)*
        pub fn #fn_name<'a>(&'a self, #(#req_idents: #req_types),*) -> requests::#struct_name<'a> {
            requests::#struct_name {
                api: self,
                #(#req_idents,)*
                #(#opt_idents: ::std::option::Option::None,)*
            }
        }
    };

    // The request struct.
    let struct_doc = format!(
        " A request of [`MiroApi::{fn_name}`](crate::MiroApi::{fn_name}) (`{} {}`): set its \
         optional parameters, then `.await` it (or call [`send`](Self::send)).",
        op.method, op.path
    );
    let setters = optional.iter().map(|p| {
        let ident = &p.ident;
        let inner = p.optional.as_ref().expect("optional");
        let key = ident.to_string().trim_end_matches('_').to_string();
        let doc = match (docs.get(&key), generic_param_doc(&key)) {
            (Some(d), _) => format!(" Sets `{key}`: {d}"),
            (None, Some(d)) => format!(" Sets `{key}`: {d}"),
            (None, None) => format!(" Sets the optional `{key}`."),
        };
        quote! {
            #[doc = #doc]
            pub fn #ident(mut self, value: #inner) -> Self {
                self.#ident = ::std::option::Option::Some(value);
                self
            }
        }
    });
    let body = self_to_this(f.block.to_token_stream_inner());
    let paged = (op.pagination != PaginationKind::None).then(|| {
        let item = page_item(&success, types);
        let op_const = format_ident!("{}", op.fn_name.to_uppercase());
        // `limit` becomes the stream's page size; a `cursor` or `offset` set on the request goes
        // with the query, and the stream starts there.
        let paging: &[&str] = &["limit"];
        // The path parameters come first, in the path's order (as in the positional method);
        // every other parameter but the body is a query parameter, required or not.
        let n_path = op.path_params.len();
        let path_idents: Vec<&Ident> = required.iter().take(n_path).map(|p| &p.ident).collect();
        let filters: Vec<(&Ident, String)> = required
            .iter()
            .skip(n_path)
            .chain(optional.iter())
            .filter(|p| p.ident != "body")
            .map(|p| (&p.ident, wire_name(op, &p.ident)))
            .filter(|(_, wire)| !paging.contains(&wire.as_str()))
            .collect();
        let query_mut = (!filters.is_empty()).then(|| quote!(mut));
        let filter_idents = filters.iter().map(|(i, _)| *i);
        let filter_names = filters.iter().map(|(_, w)| w.as_str());
        let limit = optional
            .iter()
            .find(|p| p.ident == "limit")
            .map(|_| quote!(self.limit))
            .unwrap_or_else(|| quote!(::std::option::Option::None));
        quote! {
            impl<'a> crate::PagedRequest for #struct_name<'a> {
                type Item = #item;
                fn into_paging(self) -> crate::Paging {
                    let #query_mut query = ::std::vec::Vec::new();
                    #(crate::runtime::push_query(&mut query, #filter_names, &self.#filter_idents);)*
                    crate::Paging {
                        api: self.api.clone(),
                        operation: &crate::generated::operations::#op_const,
                        path_args: ::std::vec![#(self.#path_idents.to_string()),*],
                        query,
                        page_size: #limit,
                    }
                }
            }
        }
    });
    let request: syn::File = parse_quote! {
        #[doc = #struct_doc]
        #[must_use = "a request does nothing until it is awaited or sent"]
        pub struct #struct_name<'a> {
            pub(crate) api: &'a crate::MiroApi,
            #(pub(crate) #all_idents: #all_types,)*
        }

        impl<'a> #struct_name<'a> {
            #(#setters)*

            /// Sends the request: a future of the response (what `.await` on the request does).
            // Inline: the response future is compiled in the crate that sends the request, for
            // the requests it sends, not for all of them in this crate.
            #[inline]
            pub fn send(self) -> crate::ResponseFuture<'a, #success> {
                let Self { api: this, #(#all_idents),* } = self;
                #body
            }
        }

        impl<'a> ::std::future::IntoFuture for #struct_name<'a> {
            type Output = #output;
            type IntoFuture = crate::ResponseFuture<'a, #success>;
            #[inline]
            fn into_future(self) -> Self::IntoFuture {
                self.send()
            }
        }

        #paged
    };
    Ok((constructor, request.items))
}

/// The query parameter name on the wire of the Rust parameter `ident`.
fn wire_name(op: &Operation, ident: &Ident) -> String {
    let rust = ident.to_string();
    let rust = rust.trim_end_matches('_');
    op.query_params
        .iter()
        .find(|q| crate::model::snake_case(q) == rust)
        .cloned()
        .unwrap_or_else(|| rust.to_string())
}

trait BlockTokens {
    fn to_token_stream_inner(&self) -> TokenStream;
}

impl BlockTokens for syn::Block {
    /// The statements of the block, without its braces.
    fn to_token_stream_inner(&self) -> TokenStream {
        let stmts = &self.stmts;
        quote!(#(#stmts)*)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_self() {
        assert_eq!(pascal("get_items"), "GetItems");
        assert_eq!(pascal("revoke_token_v2"), "RevokeTokenV2");
        let t = self_to_this(quote!(self.execute(format!("{}", self.base_url()))));
        assert_eq!(
            t.to_string(),
            quote!(this.execute(format!("{}", this.base_url()))).to_string()
        );
    }
}
