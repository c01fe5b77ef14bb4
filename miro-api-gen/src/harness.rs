//! Emits the all-operations harness of the integration tests: one call of each `MiroApi` method,
//! selected by the operation, with path parameters from the caller, required query parameters and
//! bodies synthesized from the spec (the caller may replace them), optional parameters left out
//! and a small file for each upload. The hand-written test walks the operations table through it,
//! so an operation the harness cannot call fails that test.

use std::collections::BTreeSet;

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};
use serde_json::Value;
use syn::{FnArg, ImplItem, Item, Pat, Type};

use crate::emulator_data::{media_example, operation_json, parameters};
use crate::model::{snake_case, Operation};
use crate::synth::Synth;
use crate::GenError;

/// Where the harness goes.
pub const PATH: &str = "tests/integration/src/all_operations.rs";

/// The parameters of each generated method: name and type, receiver left out.
pub fn signatures(methods: &Item) -> Vec<(String, Vec<(String, Type)>)> {
    let Item::Impl(imp) = methods else {
        return Vec::new();
    };
    imp.items
        .iter()
        .filter_map(|item| match item {
            ImplItem::Fn(f) => Some(f),
            _ => None,
        })
        .map(|f| {
            let params = f
                .sig
                .inputs
                .iter()
                .filter_map(|arg| match arg {
                    FnArg::Typed(t) => match &*t.pat {
                        Pat::Ident(i) => Some((i.ident.to_string(), (*t.ty).clone())),
                        _ => None,
                    },
                    FnArg::Receiver(_) => None,
                })
                .collect();
            (f.sig.ident.to_string(), params)
        })
        .collect()
}

fn last_segment(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

fn is_option(ty: &Type) -> bool {
    last_segment(ty).as_deref() == Some("Option")
}

fn mentions(ty: &Type, name: &str) -> bool {
    quote!(#ty).to_string().contains(name)
}

/// `&'a str`.
fn is_str_ref(ty: &Type) -> bool {
    matches!(ty, Type::Reference(r) if matches!(&*r.elem, Type::Path(p) if p.path.is_ident("str")))
}

/// The element type of `&'a [T]`.
fn slice_elem(ty: &Type) -> Option<&Type> {
    match ty {
        Type::Reference(r) => match &*r.elem {
            Type::Slice(s) => Some(&s.elem),
            _ => None,
        },
        _ => None,
    }
}

fn json_text(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Normalizes a parameter name for matching the spec's to progenitor's (`type` ~ `type_`,
/// `startIndex` ~ `start_index`).
fn norm(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The default value of a required query parameter: its example when it fits, else synthesized.
fn query_default(spec: &Value, param: &Value, name: &str) -> Value {
    let schema = param.get("schema").cloned().unwrap_or(Value::Null);
    let mut synth = Synth::new(spec);
    if let Some(ex) = param.get("example") {
        let mut with_example = schema.clone();
        if let Some(o) = with_example.as_object_mut() {
            o.insert("example".into(), ex.clone());
            if let Some(v) = synth.usable_example(&with_example) {
                return v;
            }
        }
    }
    synth.value(&schema, Some(name))
}

/// One call's match arm, its synthesized body (if any) and its required query parameters
/// (wire name, JSON text).
type CallArm = (TokenStream, Option<Value>, Vec<(String, String)>);

/// One call: the statements preparing the arguments and the call itself.
fn call_arm(spec: &Value, op: &Operation, params: &[(String, Type)]) -> Result<CallArm, GenError> {
    let mut required_queries = Vec::new();
    let fn_ident = format_ident!("{}", op.fn_name);
    let n_path = op.path_params.len();
    let spec_params = parameters(spec, op);
    let op_json = operation_json(spec, op);
    let multipart_parts: BTreeSet<String> = op
        .multipart
        .as_ref()
        .and_then(|m| m.get("properties"))
        .and_then(Value::as_object)
        .map(|p| p.keys().map(|k| snake_case(k)).collect())
        .unwrap_or_default();
    let mut stmts = Vec::new();
    let mut call_args = Vec::new();
    // Optional parameters are setters of the request the method returns.
    let mut setters = Vec::new();
    let mut default_body = None;
    for (i, (name, ty)) in params.iter().enumerate() {
        let var: Ident = format_ident!("a{}", i);
        let by_ref = matches!(ty, Type::Reference(_));
        let pass = if by_ref { quote!(&#var) } else { quote!(#var) };
        if i < n_path {
            if is_option(ty) {
                return Err(GenError::Syntax(format!(
                    "{}: path parameter {name} is optional",
                    op.fn_name
                )));
            }
            let wire = &op.path_params[i];
            if is_str_ref(ty) {
                stmts.push(quote!(let #var: ::std::string::String = path_arg(args, #wire)?;));
            } else {
                stmts.push(quote!(
                    let #var = typed(#wire, ::serde_json::Value::String(path_arg(args, #wire)?))?;
                ));
            }
            call_args.push(pass);
        } else if name == "body" {
            let media = op_json.and_then(|o| o.pointer("/requestBody/content/application~1json"));
            let body = match media {
                Some(m) => match media_example(m) {
                    Some(ex) => ex.clone(),
                    None => Synth::new(spec).value(&m["schema"], None),
                },
                None => Value::Object(Default::default()),
            };
            let text = json_text(&body);
            default_body = Some(body);
            match slice_elem(ty) {
                Some(elem) => stmts.push(quote!(
                    let #var: ::std::vec::Vec<#elem> = typed("body", body_arg(args, #text)?)?;
                )),
                None => stmts.push(quote!(let #var = typed("body", body_arg(args, #text)?)?;)),
            }
            call_args.push(pass);
        } else if mentions(ty, "FilePart") {
            let part = name.as_str();
            if is_option(ty) {
                let setter = format_ident!("{}", name);
                setters.push(quote!(.#setter(file_arg(args, #part))));
            } else if last_segment(ty).as_deref() == Some("Vec") {
                call_args.push(quote!(files_arg(args, #part)));
            } else {
                call_args.push(quote!(file_arg(args, #part)));
            }
        } else if multipart_parts.contains(name) {
            let schema = op
                .multipart
                .as_ref()
                .and_then(|m| m.get("properties"))
                .and_then(Value::as_object)
                .and_then(|p| p.iter().find(|(k, _)| snake_case(k) == *name))
                .map(|(_, s)| s.clone())
                .unwrap_or(Value::Null);
            let body = Synth::new(spec).value(&schema, Some(name));
            let text = json_text(&body);
            default_body = Some(body);
            let part = name.as_str();
            if let Some(elem) = slice_elem(ty) {
                stmts.push(quote!(
                    let #var: ::std::vec::Vec<#elem> = typed(#part, body_arg(args, #text)?)?;
                ));
                call_args.push(quote!(&#var));
            } else if is_option(ty) {
                let setter = format_ident!("{}", name);
                stmts.push(quote!(let #var = typed(#part, body_arg(args, #text)?)?;));
                setters.push(quote!(.#setter(&#var)));
            } else {
                stmts.push(quote!(let #var = typed(#part, body_arg(args, #text)?)?;));
                call_args.push(pass);
            }
        } else if is_option(ty) {
            // Left unset.
        } else {
            let param = spec_params
                .iter()
                .find(|p| {
                    p["in"] == "query" && p["name"].as_str().is_some_and(|n| norm(n) == norm(name))
                })
                .ok_or_else(|| {
                    GenError::Syntax(format!(
                        "{}: required parameter {name} is not a query parameter of the spec",
                        op.fn_name
                    ))
                })?;
            let wire = param["name"].as_str().unwrap_or(name);
            let default = json_text(&query_default(spec, param, wire));
            required_queries.push((wire.to_string(), default.clone()));
            if is_str_ref(ty) {
                stmts.push(quote!(
                    let #var: ::std::string::String = typed(#wire, query_arg(args, #wire, #default)?)?;
                ));
            } else {
                stmts.push(quote!(let #var = typed(#wire, query_arg(args, #wire, #default)?)?;));
            }
            call_args.push(pass);
        }
    }
    let method_name = &op.fn_name;
    let arm = quote! {
        #method_name => {
            #(#stmts)*
            let response = api.#fn_ident(#(#call_args),*)#(#setters)*.await.map_err(CallError::Api)?;
            ::std::result::Result::Ok(response.status().as_u16())
        }
    };
    Ok((arm, default_body, required_queries))
}

/// The harness's source, for [`PATH`].
pub fn harness(
    spec: &Value,
    ops: &[Operation],
    signatures: &[(String, Vec<(String, Type)>)],
) -> Result<TokenStream, GenError> {
    let mut arms = Vec::new();
    let mut names = Vec::new();
    let mut bodies = Vec::new();
    let mut queries = Vec::new();
    for op in ops {
        let Some((_, params)) = signatures.iter().find(|(n, _)| *n == op.fn_name) else {
            return Err(GenError::Syntax(format!("no method for {}", op.fn_name)));
        };
        let (arm, body, required) = call_arm(spec, op, params)?;
        if !required.is_empty() {
            let id = &op.id;
            let pairs = required.iter().map(|(n, v)| quote!((#n, #v)));
            queries.push(quote!((#id, &[#(#pairs),*])));
        }
        arms.push(arm);
        names.push(op.fn_name.clone());
        if let Some(b) = body {
            let id = &op.id;
            let text = json_text(&b);
            bodies.push(quote!((#id, #text)));
        }
    }
    Ok(quote! {
        use std::collections::BTreeMap;

        use miro_api::operations::Operation;
        #[allow(unused_imports)]
        use miro_api::types;
        use miro_api::{FilePart, MiroApi};
        use serde_json::Value;

        /// The arguments of one call.
        #[derive(Debug, Default)]
        pub struct Args {
            /// Every path parameter, by the name in the operation's path template.
            pub path: BTreeMap<String, String>,
            /// Replacements of the synthesized required query parameters, by wire name.
            pub query: BTreeMap<String, Value>,
            /// A replacement of the synthesized JSON body (for uploads: of the JSON part).
            pub body: ::std::option::Option<Value>,
            /// Replacements of the default file (for bulk uploads: one per item).
            pub files: ::std::option::Option<::std::vec::Vec<FilePart>>,
        }

        impl Args {
            /// Sets a path parameter.
            pub fn path(mut self, name: &str, value: impl Into<String>) -> Self {
                self.path.insert(name.to_string(), value.into());
                self
            }

            /// Replaces a required query parameter.
            pub fn query(mut self, name: &str, value: Value) -> Self {
                self.query.insert(name.to_string(), value);
                self
            }

            /// Replaces the JSON body.
            pub fn body(mut self, body: Value) -> Self {
                self.body = ::std::option::Option::Some(body);
                self
            }

            /// Replaces the files of an upload.
            pub fn files(mut self, files: ::std::vec::Vec<FilePart>) -> Self {
                self.files = ::std::option::Option::Some(files);
                self
            }
        }

        /// Why a call failed.
        #[derive(Debug)]
        pub enum CallError {
            /// The harness has no call for the operation.
            NotInHarness,
            /// A path parameter was not given.
            MissingPath(&'static str),
            /// An argument does not decode as the method's parameter type.
            Argument(&'static str, ::serde_json::Error),
            /// The call failed: a non-2xx answer, a body that does not decode, a transport error.
            Api(miro_api::Error),
        }

        impl ::std::fmt::Display for CallError {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                match self {
                    CallError::NotInHarness => f.write_str("the harness has no call for it"),
                    CallError::MissingPath(name) => write!(f, "path parameter {name} not given"),
                    CallError::Argument(name, e) => write!(f, "argument {name}: {e}"),
                    CallError::Api(e) => write!(f, "{e}"),
                }
            }
        }

        fn path_arg(args: &Args, name: &'static str) -> ::std::result::Result<String, CallError> {
            args.path.get(name).cloned().ok_or(CallError::MissingPath(name))
        }

        fn parse_default(name: &'static str, text: &str) -> ::std::result::Result<Value, CallError> {
            ::serde_json::from_str(text).map_err(|e| CallError::Argument(name, e))
        }

        fn query_arg(args: &Args, name: &'static str, default: &str) -> ::std::result::Result<Value, CallError> {
            match args.query.get(name) {
                ::std::option::Option::Some(v) => ::std::result::Result::Ok(v.clone()),
                ::std::option::Option::None => parse_default(name, default),
            }
        }

        fn body_arg(args: &Args, default: &str) -> ::std::result::Result<Value, CallError> {
            match &args.body {
                ::std::option::Option::Some(v) => ::std::result::Result::Ok(v.clone()),
                ::std::option::Option::None => parse_default("body", default),
            }
        }

        fn typed<T: ::serde::de::DeserializeOwned>(name: &'static str, v: Value) -> ::std::result::Result<T, CallError> {
            ::serde_json::from_value(v).map_err(|e| CallError::Argument(name, e))
        }

        /// A one-pixel PNG.
        const PNG: &[u8] = &[
            0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
            0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
            0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78,
            0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99,
            0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
        ];

        fn file_arg(args: &Args, part: &str) -> FilePart {
            match args.files.as_ref().and_then(|f| f.first()) {
                ::std::option::Option::Some(f) => f.clone(),
                ::std::option::Option::None => FilePart::new(PNG, format!("{part}.png"), "image/png"),
            }
        }

        fn files_arg(args: &Args, part: &str) -> ::std::vec::Vec<FilePart> {
            match &args.files {
                ::std::option::Option::Some(f) => f.clone(),
                ::std::option::Option::None => ::std::vec![FilePart::new(PNG, format!("{part}.png"), "image/png")],
            }
        }

        /// The method names the harness calls, in the order of the operations table.
        pub static CALLED: &[&str] = &[#(#names),*];

        /// The synthesized JSON body (for uploads: JSON part) of each operation that has one.
        pub static DEFAULT_BODIES: &[(&str, &str)] = &[#(#bodies),*];

        /// The synthesized required query parameters of each operation that has some: wire
        /// name and JSON value.
        pub static REQUIRED_QUERIES: &[(&str, &[(&str, &str)])] = &[#(#queries),*];

        /// The synthesized body of an operation, by operationId.
        pub fn default_body(operation_id: &str) -> ::std::option::Option<Value> {
            DEFAULT_BODIES
                .iter()
                .find(|(id, _)| *id == operation_id)
                .and_then(|(_, text)| ::serde_json::from_str(text).ok())
        }

        /// Calls `op`'s method on `api` with `args`; the answer's status when it is a 2xx whose
        /// body decodes as the method's type.
        pub async fn call(api: &MiroApi, op: &Operation, args: &Args) -> ::std::result::Result<u16, CallError> {
            match op.method_name {
                #(#arms)*
                _ => ::std::result::Result::Err(CallError::NotInHarness),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_across_spellings() {
        assert_eq!(norm("type"), norm("type_"));
        assert_eq!(norm("startIndex"), norm("start_index"));
        assert_ne!(norm("from"), norm("to"));
    }

    #[test]
    fn types_are_told_apart() {
        let s: Type = syn::parse_quote!(&'a str);
        let slice: Type = syn::parse_quote!(&'a [types::ItemCreate]);
        let opt: Type = syn::parse_quote!(Option<&'a str>);
        let file: Type = syn::parse_quote!(::std::vec::Vec<crate::FilePart>);
        assert!(is_str_ref(&s) && !is_str_ref(&slice));
        assert!(slice_elem(&slice).is_some());
        assert!(is_option(&opt) && !is_option(&s));
        assert!(mentions(&file, "FilePart"));
        assert_eq!(last_segment(&file).as_deref(), Some("Vec"));
    }
}
