//! Emits the table of the spec's examples: for each request and response example, its JSON
//! pointer in the spec and a function decoding it as the generated type. The integration tests
//! decode every one, so a drift between the types and Miro's own examples fails a test.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::quote;
use serde_json::Value;
use syn::Type;

use crate::model::Operation;

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Example pointers under one media-type object.
fn example_pointers(media: &Value, base: &str) -> Vec<String> {
    let mut out = Vec::new();
    if media.get("example").is_some() {
        out.push(format!("{base}/example"));
    }
    for (name, ex) in media
        .get("examples")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if ex.get("value").is_some() {
            out.push(format!("{base}/examples/{}/value", escape(name)));
        }
    }
    out
}

/// The table's source, for `tests/integration/src/spec_examples.rs`.
pub fn table(
    spec: &Value,
    ops: &[Operation],
    signatures: &BTreeMap<String, (Type, Option<Type>)>,
) -> TokenStream {
    let mut rows = Vec::new();
    for op in ops {
        let Some((success, body)) = signatures.get(&op.fn_name) else {
            continue;
        };
        let op_base = format!(
            "/paths/{}/{}",
            escape(&op.spec_path),
            op.method.to_lowercase()
        );
        let Some(op_json) = spec.pointer(&op_base) else {
            continue;
        };
        let id = &op.id;
        if let (Some(body), Some(media)) = (
            body,
            op_json.pointer("/requestBody/content/application~1json"),
        ) {
            for pointer in example_pointers(
                media,
                &format!("{op_base}/requestBody/content/application~1json"),
            ) {
                rows.push(quote! {
                    Example { operation: #id, pointer: #pointer, kind: Kind::Request,
                              decode: |v| ::serde::Deserialize::deserialize(v).map(|_: #body| ()) }
                });
            }
        }
        let is_unit = matches!(success, Type::Tuple(t) if t.elems.is_empty());
        if is_unit {
            continue;
        }
        for (code, response) in op_json
            .get("responses")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if !code.starts_with('2') {
                continue;
            }
            let Some(media) = response.pointer("/content/application~1json") else {
                continue;
            };
            let base = format!("{op_base}/responses/{code}/content/application~1json");
            for pointer in example_pointers(media, &base) {
                rows.push(quote! {
                    Example { operation: #id, pointer: #pointer, kind: Kind::Response,
                              decode: |v| ::serde::Deserialize::deserialize(v).map(|_: #success| ()) }
                });
            }
        }
    }
    quote! {
        use miro_api::types;

        /// Whether an example is of a request body or a response body.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Kind {
            /// A request body example.
            Request,
            /// A response body example.
            Response,
        }

        /// One example of the spec.
        pub struct Example {
            /// The operationId.
            pub operation: &'static str,
            /// JSON pointer of the example in the spec file.
            pub pointer: &'static str,
            /// Request or response.
            pub kind: Kind,
            /// Decodes the example as the generated type.
            pub decode: fn(&serde_json::Value) -> Result<(), serde_json::Error>,
        }

        /// Every request and response example of the pinned spec that has a generated type.
        pub static EXAMPLES: &[Example] = &[#(#rows),*];
    }
}
