//! Emits the emulator's built-in answers: for each operation of the fixed spec, its wire path
//! template, method, required query parameters, documented success status and a JSON body valid
//! against the success schema (the spec's own example when it has one, else synthesized by
//! [`crate::synth`]). Paginated answers are last pages. The emulator serves them for every
//! request its stateful routes do not handle.

use proc_macro2::TokenStream;
use quote::quote;
use serde_json::Value;

use crate::model::{Operation, PaginationKind};
use crate::synth::{end_paging, Synth};

/// Where the table goes.
pub const PATH: &str = "tests/emulator/src/generated/spec_responses.rs";
/// Where the emulator's copy of the operations table is written (the same text as
/// `miro-api/src/generated/operations.rs`).
pub const OPERATIONS_PATH: &str = "tests/emulator/src/generated/operations.rs";

/// The operation object of `op` in the spec.
pub(crate) fn operation_json<'a>(spec: &'a Value, op: &Operation) -> Option<&'a Value> {
    spec.get("paths")?
        .get(&op.spec_path)?
        .get(op.method.to_lowercase())
}

/// The parameters of an operation (shared path-level ones first), `$ref`s resolved.
pub(crate) fn parameters<'a>(spec: &'a Value, op: &Operation) -> Vec<&'a Value> {
    let shared = spec
        .get("paths")
        .and_then(|p| p.get(&op.spec_path))
        .and_then(|i| i.get("parameters"))
        .and_then(Value::as_array);
    let own = operation_json(spec, op)
        .and_then(|o| o.get("parameters"))
        .and_then(Value::as_array);
    shared
        .into_iter()
        .flatten()
        .chain(own.into_iter().flatten())
        .filter_map(|p| match p.get("$ref").and_then(Value::as_str) {
            Some(r) => spec.pointer(r.strip_prefix('#')?),
            None => Some(p),
        })
        .collect()
}

/// The first example of a media-type object (`example`, else the first of `examples`).
pub(crate) fn media_example(media: &Value) -> Option<&Value> {
    media.get("example").or_else(|| {
        media
            .get("examples")?
            .as_object()?
            .values()
            .find_map(|e| e.get("value"))
    })
}

/// The documented success answer of an operation: status and JSON body (`None`: no body).
pub fn success_answer(spec: &Value, op: &Operation) -> (u16, Option<Value>) {
    let Some(responses) = operation_json(spec, op)
        .and_then(|o| o.get("responses"))
        .and_then(Value::as_object)
    else {
        return (200, None);
    };
    let Some((code, response)) = responses.iter().find(|(c, _)| c.starts_with('2')) else {
        return (200, None);
    };
    let status = code.parse().unwrap_or(200);
    let Some(media) = response.pointer("/content/application~1json") else {
        return (status, None);
    };
    let mut body = match media_example(media) {
        Some(example) => example.clone(),
        None => match media.get("schema") {
            Some(schema) => Synth::new(spec).value(schema, None),
            None => return (status, None),
        },
    };
    if op.pagination != PaginationKind::None {
        end_paging(&mut body);
    }
    (status, Some(body))
}

/// The names of the required query parameters of an operation.
pub fn required_query(spec: &Value, op: &Operation) -> Vec<String> {
    parameters(spec, op)
        .into_iter()
        .filter(|p| p["in"] == "query" && p["required"] == true)
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect()
}

/// The table's source, for [`PATH`].
pub fn table(spec: &Value, ops: &[Operation]) -> TokenStream {
    let rows = ops.iter().map(|op| {
        let id = &op.id;
        let method = &op.method;
        // The spec keeps one path apart with a trailing `?`; it is not part of the wire path.
        let path = op.path.trim_end_matches('?');
        let required = required_query(spec, op);
        let (status, body) = success_answer(spec, op);
        let body = match body {
            Some(b) => {
                let text = serde_json::to_string(&b).unwrap_or_default();
                quote!(::std::option::Option::Some(#text))
            }
            None => quote!(::std::option::Option::None),
        };
        quote! {
            SpecResponse {
                id: #id,
                method: #method,
                path: #path,
                required_query: &[#(#required),*],
                status: #status,
                body: #body,
            }
        }
    });
    let count = ops.len();
    quote! {
        /// The documented success answer of one operation.
        #[derive(Clone, Copy, Debug)]
        pub(crate) struct SpecResponse {
            /// The operationId.
            pub id: &'static str,
            /// Upper-case HTTP method.
            pub method: &'static str,
            /// Path template as it goes on the wire, e.g. `/v2/orgs/{org_id}/teams`.
            pub path: &'static str,
            /// Query parameters the operation requires (they tell operations on one path apart).
            pub required_query: &'static [&'static str],
            /// The documented success status.
            pub status: u16,
            /// A JSON body valid against the success schema, if the response has one.
            pub body: ::std::option::Option<&'static str>,
        }

        /// Every operation of the pinned spec, in the order of the operations table.
        pub(crate) static SPEC_RESPONSES: [SpecResponse; #count] = [#(#rows),*];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(path: &str, method: &str, pagination: PaginationKind) -> Operation {
        Operation {
            pagination,
            ..Operation::bare(method, path)
        }
    }

    #[test]
    fn answers_follow_the_success_response() {
        let spec = json!({
            "paths": {
                "/things": {
                    "parameters": [{"$ref": "#/components/parameters/q"}],
                    "get": {
                        "parameters": [{"in": "query", "name": "cursor", "schema": {"type": "string"}}],
                        "responses": {
                            "200": {"content": {"application/json": {"schema": {
                                "type": "object",
                                "required": ["data"],
                                "properties": {
                                    "data": {"type": "array", "items": {"type": "string", "example": "a"}},
                                    "cursor": {"type": "string", "example": "next"},
                                    "size": {"type": "integer", "example": 20}
                                }
                            }}}},
                            "404": {}
                        }
                    },
                    "delete": {"responses": {"204": {"description": "gone"}}}
                }
            },
            "components": {"parameters": {"q": {"in": "query", "name": "kind", "required": true}}}
        });
        let get = op("/things", "GET", PaginationKind::Cursor);
        assert_eq!(
            success_answer(&spec, &get),
            (200, Some(json!({"data": ["a"], "size": 1})))
        );
        assert_eq!(required_query(&spec, &get), vec!["kind".to_string()]);
        let delete = op("/things", "DELETE", PaginationKind::None);
        assert_eq!(success_answer(&spec, &delete), (204, None));
    }
}
