//! Emits the operations table: one constant per operation with its id, method, wire path, tag,
//! rate-limit level and credits, pagination kind and page size, and parameter names. The runtime (pacing, tracing), the
//! pagination layer and the emulator read it.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::model::{credits_for_level, Operation};

/// Whether the client prices a call of `op` per item of its request body. The spec says "per
/// item" for bulk creates and for group member updates (both priced by the items they send), but
/// also "per item ID" for `getGroupById`, a `GET` whose price depends on the items it returns:
/// nothing to count before sending, so it is priced per call. Only operations with a body are
/// priced per item.
pub fn priced_per_item(op: &Operation) -> bool {
    op.per_item && !matches!(op.method.as_str(), "GET" | "HEAD" | "DELETE")
}

/// The table's source: self-contained, so that crates other than `miro-api` can include it.
pub fn table(ops: &[Operation]) -> TokenStream {
    let consts = ops.iter().map(|op| {
        let name = format_ident!("{}", op.fn_name.to_uppercase());
        let id = &op.id;
        let fn_name = &op.fn_name;
        let method = &op.method;
        let path = &op.path;
        let tag = &op.tag;
        let level = match op.level {
            Some(l) => quote!(::std::option::Option::Some(#l)),
            None => quote!(::std::option::Option::None),
        };
        let credits = credits_for_level(op.level.unwrap_or(1));
        let per_item = priced_per_item(op);
        let pagination = format_ident!("{}", op.pagination.variant());
        let multipart = op.multipart.is_some();
        let path_params = &op.path_params;
        let query_params = &op.query_params;
        let page_size = |bound: Option<u32>| match bound {
            Some(m) => quote!(::std::option::Option::Some(#m)),
            None => quote!(::std::option::Option::None),
        };
        let max_page_size = page_size(op.max_page_size);
        let min_page_size = page_size(op.min_page_size);
        let media_type = op.media_type.as_deref().unwrap_or("application/json");
        let doc = format!("`{} {}`: {}", op.method, op.path, op.summary);
        let feature = crate::area::of(op).feature();
        let feature_doc = format!(" Available with the `{feature}` feature of `miro-api`.");
        quote! {
            #[doc = #doc]
            #[doc = ""]
            #[doc = #feature_doc]
            #[cfg(feature = #feature)]
            #[cfg_attr(docsrs, doc(cfg(feature = #feature)))]
            pub const #name: Operation = Operation {
                id: #id,
                method_name: #fn_name,
                http_method: #method,
                path: #path,
                tag: #tag,
                level: #level,
                credits: #credits,
                credits_per_item: #per_item,
                pagination: Pagination::#pagination,
                max_page_size: #max_page_size,
                min_page_size: #min_page_size,
                path_params: &[#(#path_params),*],
                query_params: &[#(#query_params),*],
                multipart: #multipart,
                media_type: #media_type,
            };
        }
    });
    let names = ops.iter().map(|op| {
        let name = format_ident!("{}", op.fn_name.to_uppercase());
        let feature = crate::area::of(op).feature();
        quote!(#[cfg(feature = #feature)] #name)
    });
    quote! {
        /// How an operation pages its results.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Pagination {
            /// `cursor` and `limit` query parameters; the response's `cursor` names the next page.
            Cursor,
            /// `offset` and `limit` query parameters; the response's `total` tells when to stop.
            Offset,
            /// A single response.
            None,
        }

        /// One operation of the Miro REST API.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct Operation {
            /// The operationId as the spec spells it.
            pub id: &'static str,
            /// The client method's name.
            pub method_name: &'static str,
            /// Upper-case HTTP method.
            pub http_method: &'static str,
            /// Path template as it goes on the wire, e.g. `/v2/boards/{board_id}/items`.
            pub path: &'static str,
            /// The spec's first tag (the API area).
            pub tag: &'static str,
            /// Rate-limit level 1..=4, when the spec states one.
            pub level: ::std::option::Option<u8>,
            /// Credits one call costs (level 1 when the spec states none).
            pub credits: u32,
            /// Whether `credits` is charged per item of the request body (bulk create).
            pub credits_per_item: bool,
            /// Pagination kind.
            pub pagination: Pagination,
            /// The largest `limit` (page size) the spec allows, for paginated operations that
            /// state one.
            pub max_page_size: ::std::option::Option<u32>,
            /// The smallest `limit` (page size) the spec allows, for paginated operations that
            /// state one (Miro answers 400 below it).
            pub min_page_size: ::std::option::Option<u32>,
            /// Path parameter names, in the order they appear in `path`.
            pub path_params: &'static [&'static str],
            /// Query parameter names.
            pub query_params: &'static [&'static str],
            /// Whether the request body is multipart/form-data.
            pub multipart: bool,
            /// The media type of JSON bodies, sent as `Content-Type` and `Accept`:
            /// `application/json`, or `application/scim+json` for SCIM.
            pub media_type: &'static str,
        }

        #(#consts)*

        /// Every operation of the pinned spec whose area's feature is enabled.
        pub static OPERATIONS: &[Operation] = &[#(#names),*];

        /// Looks an operation up by its operationId or its method name.
        pub fn find(id_or_method: &str) -> ::std::option::Option<&'static Operation> {
            OPERATIONS.iter().find(|op| op.id == id_or_method || op.method_name == id_or_method)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_operations_with_a_body_are_priced_per_item() {
        let spec: serde_json::Value = serde_json::json!({"paths": {
            "/v2/boards/{board_id}/groups/{group_id}": {"get": {
                "operationId": "getGroupById",
                "description": "<h3>Rate limiting</h3> Level 2</a> per item ID"
            }},
            "/v2/boards/{board_id}/items/bulk": {"post": {
                "operationId": "create-items",
                "description": "<h3>Rate limiting</h3> Level 2</a> per item. For example"
            }}
        }});
        let ops = crate::model::operations(&spec);
        let marked = |id: &str| priced_per_item(ops.iter().find(|o| o.id == id).unwrap());
        assert!(!marked("getGroupById"));
        assert!(marked("create-items"));
    }
}
