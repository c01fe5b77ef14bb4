//! The generated code against the pinned spec: every operation has a method and a table entry,
//! and every example of the spec decodes with the generated types.

use miro_api::operations::{Pagination, OPERATIONS};
use miro_tests::spec_examples::{Kind, EXAMPLES};

fn spec() -> serde_json::Value {
    serde_json::from_slice(&miro_tests::pinned_spec()).expect("the spec is JSON")
}

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

#[test]
fn every_operation_of_the_spec_has_a_method() {
    let spec = spec();
    let mut spec_ops = Vec::new();
    let mut multipart = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            spec_ops.push(op["operationId"].as_str().unwrap().to_string());
            if op
                .pointer("/requestBody/content/multipart~1form-data")
                .is_some()
            {
                multipart += 1;
                let entry = OPERATIONS
                    .iter()
                    .find(|o| o.id == op["operationId"])
                    .unwrap();
                assert!(
                    entry.multipart,
                    "{} is multipart in the spec ({path})",
                    entry.id
                );
            }
        }
    }
    let methods_rs = include_str!("../../../miro-api/src/generated/methods.rs");
    let generated: Vec<&str> = OPERATIONS.iter().map(|o| o.id).collect();
    for id in &spec_ops {
        assert!(
            generated.contains(&id.as_str()),
            "operation {id} has no table entry"
        );
    }
    for op in OPERATIONS.iter() {
        assert!(
            methods_rs.contains(&format!("pub fn {}<", op.method_name)),
            "operation {} has no method {}",
            op.id,
            op.method_name
        );
    }
    assert_eq!(spec_ops.len(), 197, "the pinned spec has 197 operations");
    assert_eq!(
        OPERATIONS.len(),
        spec_ops.len(),
        "{} of {} operations generated",
        OPERATIONS.len(),
        spec_ops.len()
    );
    assert_eq!(multipart, 5);
    assert_eq!(OPERATIONS.iter().filter(|o| o.multipart).count(), 5);
}

#[test]
fn the_table_knows_levels_paths_and_paging() {
    let find = |name: &str| OPERATIONS.iter().find(|o| o.method_name == name).unwrap();
    let items = find("get_items");
    assert_eq!(
        (items.http_method, items.path, items.level, items.credits),
        ("GET", "/v2/boards/{board_id}/items", Some(2), 100)
    );
    assert_eq!(items.pagination, Pagination::Cursor);
    assert_eq!(items.max_page_size, Some(50));
    assert_eq!(items.path_params, ["board_id"]);
    assert!(items.query_params.contains(&"type"));
    assert_eq!(find("get_boards").pagination, Pagination::Offset);
    // A `limit` declared through a shared parameter keeps its maximum too.
    assert_eq!(
        find("enterprise_get_organization_members").max_page_size,
        Some(100)
    );
    let member = find("enterprise_get_team_member");
    assert_eq!(member.path_params, ["org_id", "team_id", "member_id"]);
    assert_eq!(find("create_board").credits, 500);
    assert_eq!(find("copy_board").credits, 2000);
    // The fake placeholder names of the spec never reach the wire.
    let by_tag = find("get_items_by_tag");
    assert_eq!(by_tag.path, "/v2/boards/{board_id}/items");
    assert_eq!(by_tag.pagination, Pagination::Offset);
    assert!(find("create_items").credits_per_item);
    assert!(find("create_items_in_bulk_using_file_from_device").credits_per_item);
    assert!(find("enterprise_update_group_members").credits_per_item);
    // "Per item ID" of a GET: priced by what it returns, unknowable before sending.
    assert!(!find("get_group_by_id").credits_per_item);
    assert!(OPERATIONS.iter().all(|o| !o.path.contains("Platform")));
    let paginated = OPERATIONS
        .iter()
        .filter(|o| o.pagination != Pagination::None)
        .count();
    assert!(
        (28..=40).contains(&paginated),
        "{paginated} paginated operations"
    );
}

#[test]
fn every_spec_example_decodes_with_the_generated_types() {
    // The examples table points into the fixed spec (paths moved by fixes included).
    let (spec, _) = miro_api_gen::fixed_spec(&miro_tests::pinned_spec()).unwrap();
    assert!(
        EXAMPLES.len() >= 15,
        "only {} examples found",
        EXAMPLES.len()
    );
    assert!(EXAMPLES.iter().any(|e| e.kind == Kind::Request));
    let mut failures = Vec::new();
    for example in EXAMPLES {
        let value = spec
            .pointer(example.pointer)
            .unwrap_or_else(|| panic!("no example at {}", example.pointer));
        if let Err(e) = (example.decode)(value) {
            failures.push(format!(
                "{} {:?} at {}: {e}",
                example.operation, example.kind, example.pointer
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} examples fail:\n{}",
        failures.len(),
        EXAMPLES.len(),
        failures.join("\n")
    );
}

/// Whether two JSON values are equal, numbers compared by value (`0` and `0.0` are one number).
fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// Every type that can appear in a request body, holding only the spec's required properties,
/// encodes to exactly those: nothing the caller did not set is sent (a spec default included).
#[test]
fn request_types_send_only_what_is_set() {
    use miro_tests::request_types::REQUEST_TYPES;
    assert!(
        REQUEST_TYPES.len() > 100,
        "the walk from the request bodies found only {} types",
        REQUEST_TYPES.len()
    );
    for name in [
        "StickyNoteData",
        "PositionChange",
        "FrameChanges",
        "ItemCreate",
    ] {
        assert!(
            REQUEST_TYPES.iter().any(|t| t.name == name),
            "{name} is not among the request types"
        );
    }
    let mut failures = Vec::new();
    for t in REQUEST_TYPES {
        let value: serde_json::Value = serde_json::from_str(t.required_only).unwrap();
        match (t.round_trip)(&value) {
            Ok(sent) if same_json(&sent, &value) => {}
            Ok(sent) => failures.push(format!(
                "{} ({}): set {value}, sends {sent}",
                t.name, t.operation
            )),
            Err(e) => failures.push(format!(
                "{} ({}): {value} does not decode: {e}",
                t.name, t.operation
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} request types send what was not set:\n{}",
        failures.len(),
        REQUEST_TYPES.len(),
        failures.join("\n")
    );
}

/// Every request type is built in one expression, by `Default` or by `new(..)` with its
/// required fields (the bulk `ItemCreate` from its item data), and what `new(..)` builds from
/// the spec's required properties encodes to exactly those; every other generated struct has
/// `Default` or `new(..)` too.
#[test]
fn every_request_type_has_default_or_new() {
    use miro_tests::request_types::{Construct, REQUEST_TYPES, WITHOUT_CONSTRUCTOR};
    let mut failures = Vec::new();
    let mut built = 0;
    for t in REQUEST_TYPES {
        match &t.construct {
            Construct::Built(build) => {
                built += 1;
                let expected: serde_json::Value = serde_json::from_str(t.required_only).unwrap();
                match build() {
                    Ok(value) if same_json(&value, &expected) => {}
                    Ok(value) => failures.push(format!(
                        "{}: built {value}, the required properties are {expected}",
                        t.name
                    )),
                    Err(e) => failures.push(format!("{}: not built: {e}", t.name)),
                }
            }
            Construct::FromData => assert_eq!(t.name, "ItemCreate"),
            Construct::Missing => failures.push(format!("{}: neither Default nor new", t.name)),
        }
    }
    assert!(built > 100, "only {built} request types built");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        WITHOUT_CONSTRUCTOR.is_empty(),
        "generated structs with neither Default nor new: {WITHOUT_CONSTRUCTOR:?}"
    );
}

/// `new(..)` takes the required fields in the order the spec declares them (a connector's start
/// before its end), lists as any iterable, and fills a one-value enum itself.
#[test]
fn constructors_take_fields_in_the_spec_order() {
    use miro_api::types::{
        BoardMembersInvite, ConnectorCreationData, DocFormatHtmlData, DocFormatMarkdownData,
        ItemConnectionCreationData,
    };
    let line = ConnectorCreationData::new(
        ItemConnectionCreationData::default().id("start"),
        ItemConnectionCreationData::default().id("end"),
    );
    assert_eq!(line.start_item.id.as_deref(), Some("start"));
    assert_eq!(line.end_item.id.as_deref(), Some("end"));
    let invite = BoardMembersInvite::new(["a@example.com", "b@example.com"]);
    assert_eq!(
        serde_json::to_value(&invite).unwrap(),
        serde_json::json!({"emails": ["a@example.com", "b@example.com"]})
    );
    assert_eq!(
        serde_json::to_value(DocFormatMarkdownData::new("# Title")).unwrap(),
        serde_json::json!({"content": "# Title", "contentType": "markdown"})
    );
    assert_eq!(
        serde_json::to_value(DocFormatHtmlData::new("<p>x</p>")).unwrap(),
        serde_json::json!({"content": "<p>x</p>", "contentType": "html"})
    );
}
