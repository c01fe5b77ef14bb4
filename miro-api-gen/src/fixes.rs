//! The spec fixes: named, documented transformations of the raw spec that run before generation.
//!
//! Each fix repairs a defect of Miro's spec (or a construct progenitor cannot handle) in the
//! most general form that covers it, so that a newer spec with the same defect elsewhere is fixed
//! too. [`FIXES`] is the ordered list; [`apply_all`] runs it and reports what each one changed.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

/// One spec fix.
pub struct Fix {
    /// Short stable name, used in reports and tests.
    pub name: &'static str,
    /// Why the fix exists: the defect it repairs.
    pub reason: &'static str,
    /// The transformation. Returns how many places it changed.
    pub apply: fn(&mut Value) -> usize,
}

/// The fixes, in the order they run.
pub const FIXES: &[Fix] = &[
    Fix {
        name: "base-path-from-code-samples",
        reason:
            "The SCIM operations are keyed `/Users`, `/Groups`, `/Schemas`... at the API root, \
                 but every code sample of each of them (13 of 13 operations with samples) calls \
                 `https://api.miro.com/api/v1/scim/...`, and the spec names no other server, so \
                 the client sent them to the root. An operation whose code samples all call its \
                 path under one longer prefix is moved under that prefix. Runs before \
                 `json-media-type-only`, so it can record the media type those operations \
                 declare first (`application/scim+json`) in `x-miro-media-type`, which the \
                 client then sends as Content-Type and Accept.",
        apply: base_path_from_code_samples,
    },
    Fix {
        name: "consistent-board-id-placeholders",
        reason: "The spec keeps operations on one path apart with fake placeholder names \
                 ({board_id_PlatformTags}, ...); the bulk upload's placeholder does not match its \
                 declared `board_id` parameter. The parameter takes the placeholder's name. (The \
                 post-processor names every such Rust parameter `board_id`, and the operations \
                 table shows the wire path, see `wire_path`.)",
        apply: consistent_board_id_placeholders,
    },
    Fix {
        name: "synthesize-error-responses",
        reason:
            "Over 600 error responses point at #/components/responses/*, which does not exist, \
                 and 49 operations declare several different inline error schemas. Every non-2xx \
                 response becomes one body-less response: the runtime decodes Miro's error body \
                 itself, the same way for every operation.",
        apply: synthesize_error_responses,
    },
    Fix {
        name: "json-media-type-only",
        reason: "Some SCIM operations offer application/scim+json beside application/json, and \
                 progenitor accepts one media type per body; the JSON one is kept.",
        apply: json_media_type_only,
    },
    Fix {
        name: "no-content-has-no-body",
        reason: "Some 204 responses declare a JSON body, which a 204 cannot carry.",
        apply: no_content_has_no_body,
    },
    Fix {
        name: "one-success-response",
        reason:
            "update-board declares a 200 with a body and a 202 without one; progenitor wants one \
                 success type. The 202 is dropped (the runtime accepts any 2xx).",
        apply: one_success_response,
    },
    Fix {
        name: "multipart-to-extension",
        reason:
            "progenitor cannot generate multipart/form-data bodies. The five upload bodies move \
                 to the x-miro-multipart extension, where the generator builds their methods \
                 itself; inline schemas of their `data` parts become named components so they get \
                 types.",
        apply: multipart_to_extension,
    },
    Fix {
        name: "array-enum-into-items",
        reason: "PatchGroupResource puts `enum` on an array schema, which is invalid JSON Schema \
                 for an array value; the enum belongs to the items.",
        apply: array_enum_into_items,
    },
    Fix {
        name: "merge-case-colliding-schemas",
        reason: "createdBy/CreatedBy and modifiedBy/ModifiedBy differ only by case and become the \
                 same Rust name; the lower-case copies are merged into the others.",
        apply: merge_case_colliding_schemas,
    },
    Fix {
        name: "integer-paging-parameters",
        reason:
            "Some `limit` and `offset` parameters are typed as strings, and `minimum: 1` makes \
                 typify use NonZeroU32, and some refer to a shared limit schema; Miro takes plain \
                 integers. They all become u32 (the type of every page size in the client), and \
                 their bounds move into the description (Miro enforces them).",
        apply: integer_paging_parameters,
    },
    Fix {
        name: "listed-query-values-as-enum",
        reason: "Some query filters are free strings whose description lists the accepted \
                 values (get-items-within-frame's `type`: \"Possible values: `app_card`, \
                 `card`...\"; the team members' `role`: \"Accepted values are: * \\\"member\\\"...\"), \
                 where another operation's filter of the same name is an enum (get-items' \
                 `type`), so one took `&str` and the other an enum. The listed values become the \
                 parameter's enum; when a query parameter of the same name has an enum holding \
                 all of them, both take that one (a component named as typify named it, \
                 `GetItemsType`).",
        apply: listed_query_values_as_enum,
    },
    Fix {
        name: "defaults-are-documentation",
        reason: "A schema `default` says what Miro does when a field is absent, not a value to \
                 send; typify turns it into a plain field that is always serialized, so an update \
                 that sets one field also sent every defaulted one (a content-only sticky-note \
                 update reset the shape to square, a description-only board update renamed the \
                 board). Every body schema's default moves into its description and the \
                 x-miro-default extension, so a field the caller does not set stays `None` and is \
                 never sent. (Parameters are already optional and keep theirs.)",
        apply: defaults_are_documentation,
    },
    Fix {
        name: "shared-inline-enums",
        reason: "The spec repeats the same inline enum in the request and response schemas of \
                 one thing (a tag's fillColor in Tag, TagCreateRequest, TagUpdateRequest and \
                 TagWithLinks), so typify makes one Rust enum per copy and a colour read from a \
                 tag cannot be sent back. Inline string enums with the same property name and \
                 the same values become one component schema, named by what the schemas share \
                 (TagFillColor).",
        apply: shared_inline_enums,
    },
    Fix {
        name: "allof-object-and-string",
        reason: "The export-job status of enterprise-update-board-export-job is \
                 allOf[object, string], which no value satisfies (progenitor makes an empty enum); \
                 Miro sends a string.",
        apply: allof_object_and_string,
    },
    Fix {
        name: "drop-undeclared-required",
        reason: "A few schemas require properties they never declare, which typify turns into \
                 required untyped fields that fail on real responses.",
        apply: drop_undeclared_required,
    },
    Fix {
        name: "board-item-group-schema",
        reason:
            "Board item groups (createGroup, updateGroup, GroupResponseShort) refer to `Group`, \
                 which was overwritten by the enterprise user-group schema; they get their own \
                 BoardItemGroup schema with the `items` list Miro sends.",
        apply: board_item_group_schema,
    },
    Fix {
        name: "drop-string-constraints",
        reason: "typify turns pattern and length limits into validating newtypes, so a server \
                 value that drifts from the documented pattern (an id that is not numeric, a \
                 longer title) would fail the whole response, and callers must convert every \
                 string. Miro validates its input itself; the limits stay in the docs.",
        apply: drop_string_constraints,
    },
    Fix {
        name: "lossless-int64-ids",
        reason: "`Picture.id` is documented as an int64 number, but live boards send it as a \
                 string (the official Python client's issue #452: `get_boards()` fails on it), \
                 and as a number it was an f64 that loses digits (3458764514006802400 came back \
                 as ...432). Every `id` documented as an int64 number becomes a string that \
                 also accepts a number, digit for digit (`x-miro-lenient-id`).",
        apply: lossless_int64_ids,
    },
    Fix {
        name: "live-item-fields",
        reason: "Items in live get-items, get-items-within-frame and get-specific-item answers \
                 carry `style` (fillColor, cardTheme...) and `links` (self, related), and their \
                 `parent` carries `links` (captured bodies 015, 033, 038, 054, 012, 014 of the \
                 live corpus); `GenericItem` had neither, so a caller of get_items never saw an \
                 item's colours. Cursor pages carry `\"type\": \"cursor-list\"` (033, 038, 054). \
                 Frames have a style too (FrameStyle joins the ItemStyle union).",
        apply: live_item_fields,
    },
    Fix {
        name: "live-board-fields",
        reason: "Live boards carry `permissionsPolicy` and `sharingPolicy` at the top level \
                 besides `policy`, `links` in lists, and `copyAccessLevel` in the permissions \
                 policy (captured bodies 027, 028, 037); their `description` may be null \
                 (fixtures 041, 044) and `description`/`type` absent (fixture 024, mirroring \
                 get-boards), though documented as required strings.",
        apply: live_board_fields,
    },
    Fix {
        name: "live-member-and-token-fields",
        reason: "Board members in live lists carry `links` (captured body 029, fixture 004), \
                 and the token information carries the `application` the token belongs to \
                 (fixture 023, mirroring the live GET /v1/oauth-token); the spec has neither.",
        apply: live_member_and_token_fields,
    },
    Fix {
        name: "shape-names-as-enum",
        reason: "The flowchart shape schemas (`ShapeDataForCreate`, `ShapeDataForUpdate`, \
                 experimental) type `shape` as a free string and list the names in an HTML \
                 description, while the other shape schemas use an enum; a caller had to know \
                 the names. Every untyped `shape` of a Shape* schema becomes the shape enum \
                 the others share, and the names its description lists join that enum.",
        apply: shape_names_as_enum,
    },
    Fix {
        name: "inline-scalar-schemas",
        reason: "Ids, times and coordinates are named plain scalars (ItemId, BoardId, GroupId, \
                 CreationTime, XCoordinate...), each a newtype in Rust: a bulk result's id was an \
                 `ItemId` where every other item's is a `String`, and `get_all_groups` took a \
                 `&BoardId` where every other method takes a `&str`. A component that is a plain \
                 string, number, integer or boolean (no enum) is inlined at every reference and \
                 removed, so its values have the scalar's Rust type everywhere.",
        apply: inline_scalar_schemas,
    },
    Fix {
        name: "collapse-same-shape-copies",
        reason: "The spec repeats schemas under other names: 54 `*Platform*` copies \
                 (GeometryPlatformcreateitemsinbulkusingfilefromdevice is Geometry), and three \
                 names for an item's parent (Parent, ParentLinksEnvelope, ParentWithLinks) or \
                 item data (ImageData, ImageDataResponse). Schemas with the same shape (ignoring \
                 documentation, with references compared by the shape they point at) whose \
                 names say the same thing (equal once the `Platform...` suffix and the words \
                 `Response`, `With`, `Links`, `Envelope` are removed) become one schema, under \
                 the plainest name. Look-alikes whose names differ are different concepts and \
                 stay apart: CreatedBy/ModifiedBy, CreationTime/ModificationTime, \
                 BoardLinks/WidgetLinks, and a read schema and its write schema (ShapeStyle, \
                 ShapeStyleForUpdate), which conversions join instead. The old names are kept \
                 as deprecated aliases (x-miro-renamed).",
        apply: collapse_same_shape_copies,
    },
    Fix {
        name: "either-or-properties",
        reason: "Some geometries take the width or the height, not both (\"You can set either \
                 the width or height. You cannot set both\", FixedRatioGeometry, \
                 FixedRatioNoRotationGeometry): a sticky note read with both and written back \
                 as is is refused. A schema whose description says \"either the A or B\" of two \
                 of its properties lists them in x-miro-exclusive; the read-to-write \
                 conversions set only the first one the read value has.",
        apply: either_or_properties,
    },
    Fix {
        name: "clearable-fields",
        reason: "Request bodies send only what is set, so a field could not be cleared. The \
                 spec marks no request field nullable; the fields Miro is known to clear on an \
                 explicit null are marked here, each with its evidence (CLEARABLE), and become \
                 `Option<Nullable<T>>` with a `clear_<field>()` setter. Only those: a null Miro \
                 does not take is a 400, so a field without evidence (a card's assigneeId or \
                 dueDate: none in the spec, the docs or the live corpus) stays unset-or-value.",
        apply: clearable_fields,
    },
    Fix {
        name: "outer-type-discriminators",
        reason: "Item data and style are oneOfs without a discriminator: the item's own `type` \
                 field says which variant it is. The x-miro-outer-tag extension records that \
                 mapping; the post-processor decodes by it instead of guessing.",
        apply: outer_type_discriminators,
    },
    Fix {
        name: "one-item-type",
        reason: "An item's type had four types: a free string on every item read (GenericItem, \
                 Item, StickyNoteItem...), `ItemTypeChange` on bulk create and update, and \
                 `GetItemsType` on the get-items filters; a type read from an item could be \
                 neither filtered by nor sent back without going through a string, and every \
                 item decoded allocated its type. They become one open enum, `ItemType`: its \
                 values are those of the enums it replaces (unknown ones stay readable and \
                 are sent back as received), it is the `type` of every schema whose `data` is \
                 an item-data union (`x-miro-outer-tag`) or one of its variants, and the `type` \
                 filter of every operation whose pages list such items and that takes every \
                 type those unions know (a filter restricted to fewer keeps its own enum). The replaced names stay \
                 as deprecated aliases (x-miro-renamed). Runs after `outer-type-discriminators`.",
        apply: one_item_type,
    },
];

/// Where [`record_property_order`] keeps a component schema's property names in the order the
/// spec declares them (the parsed JSON sorts them): constructors take required fields in it.
pub const PROPERTY_ORDER_EXTENSION: &str = "x-miro-property-order";

/// The keys of a JSON document's objects in document order (values other than objects are
/// skipped), read from its bytes.
struct KeyOrder(Vec<(String, KeyOrder)>);

impl<'de> serde::Deserialize<'de> for KeyOrder {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = KeyOrder;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<KeyOrder, A::Error> {
                let mut keys = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, KeyOrder>()? {
                    keys.push((key, value));
                }
                Ok(KeyOrder(keys))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<KeyOrder, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(KeyOrder(Vec::new()))
            }
            fn visit_bool<E>(self, _: bool) -> Result<KeyOrder, E> {
                Ok(KeyOrder(Vec::new()))
            }
            fn visit_i64<E>(self, _: i64) -> Result<KeyOrder, E> {
                Ok(KeyOrder(Vec::new()))
            }
            fn visit_u64<E>(self, _: u64) -> Result<KeyOrder, E> {
                Ok(KeyOrder(Vec::new()))
            }
            fn visit_f64<E>(self, _: f64) -> Result<KeyOrder, E> {
                Ok(KeyOrder(Vec::new()))
            }
            fn visit_str<E>(self, _: &str) -> Result<KeyOrder, E> {
                Ok(KeyOrder(Vec::new()))
            }
            fn visit_unit<E>(self) -> Result<KeyOrder, E> {
                Ok(KeyOrder(Vec::new()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl KeyOrder {
    fn get(&self, key: &str) -> Option<&KeyOrder> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// Records in each component schema of `spec` its property names in the order `bytes` (the
/// spec's text) declares them, under [`PROPERTY_ORDER_EXTENSION`]. Returns how many schemas.
pub fn record_property_order(spec: &mut Value, bytes: &[u8]) -> usize {
    let Ok(order) = serde_json::from_slice::<KeyOrder>(bytes) else {
        return 0;
    };
    let Some(declared) = order.get("components").and_then(|c| c.get("schemas")) else {
        return 0;
    };
    let Some(schemas) = schemas(spec) else {
        return 0;
    };
    let mut n = 0;
    for (name, schema) in &declared.0 {
        let Some(props) = schema.get("properties") else {
            continue;
        };
        let names: Vec<Value> = props.0.iter().map(|(k, _)| json!(k)).collect();
        if let Some(Value::Object(target)) = schemas.get_mut(name) {
            target.insert(PROPERTY_ORDER_EXTENSION.into(), Value::Array(names));
            n += 1;
        }
    }
    n
}

/// What [`apply_all`] did: the number of changes each fix made, in order.
pub type FixReport = Vec<(&'static str, usize)>;

/// Applies every fix in [`FIXES`] to `spec`.
pub fn apply_all(spec: &mut Value) -> FixReport {
    FIXES.iter().map(|f| (f.name, (f.apply)(spec))).collect()
}

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Calls `f` for every operation object of the spec.
fn for_each_operation(spec: &mut Value, mut f: impl FnMut(&str, &str, &mut Value)) {
    let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            if op.is_object() {
                f(path, method, op);
            }
        }
    }
}

/// Calls `f` on every JSON object in `value`, depth first.
fn walk_objects(value: &mut Value, f: &mut impl FnMut(&mut Map<String, Value>) -> usize) -> usize {
    match value {
        Value::Object(map) => {
            let mut n = f(map);
            for v in map.values_mut() {
                n += walk_objects(v, f);
            }
            n
        }
        Value::Array(items) => items.iter_mut().map(|v| walk_objects(v, f)).sum(),
        _ => 0,
    }
}

fn schemas(spec: &mut Value) -> Option<&mut Map<String, Value>> {
    spec.pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
}

fn consistent_board_id_placeholders(spec: &mut Value) -> usize {
    let shared_params = spec
        .pointer("/components/parameters")
        .cloned()
        .unwrap_or_default();
    let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) else {
        return 0;
    };
    let mut changed = 0;
    for (path, item) in paths.iter_mut() {
        let placeholders: Vec<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .filter(|s| s.starts_with("board_id_"))
            .collect();
        let [placeholder] = placeholders[..] else {
            continue;
        };
        changed += walk_objects(item, &mut |obj| {
            // A shared parameter is inlined so that only this path's copy is renamed.
            if let Some(name) = obj
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/parameters/"))
            {
                if let Some(Value::Object(shared)) = shared_params.get(name) {
                    *obj = shared.clone();
                }
            }
            let is_path_param = obj.get("in").and_then(Value::as_str) == Some("path");
            if is_path_param && obj.get("name").and_then(Value::as_str) == Some("board_id") {
                obj.insert("name".into(), json!(placeholder));
                1
            } else {
                0
            }
        });
    }
    changed
}

/// The path as it goes on the wire: every `{board_id_*}` placeholder is the board id.
pub fn wire_path(path: &str) -> String {
    path.split('/')
        .map(|s| {
            if s.starts_with("{board_id_") {
                "{board_id}"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn synthesize_error_responses(spec: &mut Value) -> usize {
    let mut changed = 0;
    for_each_operation(spec, |_, _, op| {
        let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
            return;
        };
        for (code, response) in responses.iter_mut() {
            if code.starts_with('2') {
                continue;
            }
            let description = response
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("Error")
                .to_string();
            *response = json!({ "description": description });
            changed += 1;
        }
    });
    if let Some(components) = spec.get_mut("components").and_then(Value::as_object_mut) {
        components.remove("responses");
    }
    changed
}

fn json_media_type_only(spec: &mut Value) -> usize {
    let mut changed = 0;
    for_each_operation(spec, |_, _, op| {
        let mut contents: Vec<&mut Value> = Vec::new();
        for (key, part) in op.as_object_mut().into_iter().flatten() {
            match key.as_str() {
                "requestBody" => contents.extend(part.get_mut("content")),
                "responses" => contents.extend(
                    part.as_object_mut()
                        .into_iter()
                        .flat_map(|r| r.values_mut())
                        .filter_map(|r| r.get_mut("content")),
                ),
                _ => {}
            }
        }
        for content in contents {
            let Some(map) = content.as_object_mut() else {
                continue;
            };
            if map.len() > 1 && map.contains_key("application/json") {
                changed += map.len() - 1;
                map.retain(|k, _| k == "application/json");
            }
        }
    });
    changed
}

fn no_content_has_no_body(spec: &mut Value) -> usize {
    let mut changed = 0;
    for_each_operation(spec, |_, _, op| {
        if let Some(r) = op
            .pointer_mut("/responses/204")
            .and_then(Value::as_object_mut)
        {
            if r.remove("content").is_some() {
                changed += 1;
            }
        }
    });
    changed
}

fn one_success_response(spec: &mut Value) -> usize {
    let mut changed = 0;
    for_each_operation(spec, |_, _, op| {
        let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
            return;
        };
        let success: Vec<String> = responses
            .keys()
            .filter(|c| c.starts_with('2'))
            .cloned()
            .collect();
        let with_body: Vec<&String> = success
            .iter()
            .filter(|c| responses[c.as_str()].get("content").is_some())
            .collect();
        if success.len() > 1 && !with_body.is_empty() {
            let keep = with_body[0].clone();
            for code in &success {
                if *code != keep && responses[code.as_str()].get("content").is_none() {
                    responses.remove(code);
                    changed += 1;
                }
            }
        }
    });
    changed
}

fn multipart_to_extension(spec: &mut Value) -> usize {
    let mut hoisted: Vec<(String, Value)> = Vec::new();
    let mut changed = 0;
    for_each_operation(spec, |_, _, op| {
        let Some(content) = op
            .pointer("/requestBody/content")
            .and_then(Value::as_object)
        else {
            return;
        };
        let Some(mut schema) = content
            .get("multipart/form-data")
            .and_then(|m| m.get("schema"))
            .cloned()
        else {
            return;
        };
        let op_id = op
            .get("operationId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        // The bulk upload's `data` part is a JSON file holding the item list: type it as one.
        if let Some(data) = schema.pointer_mut("/properties/data") {
            if data.get("format").and_then(Value::as_str) == Some("binary") {
                let description = data.get("description").cloned().unwrap_or(Value::Null);
                *data = json!({
                    "type": "array",
                    "description": description,
                    "items": { "$ref": "#/components/schemas/ItemCreate" }
                });
            }
        }
        // An inline `data` part schema gets a name of its own so that it becomes a type.
        if let Some(data) = schema.pointer_mut("/properties/data") {
            if data.get("type").and_then(Value::as_str) == Some("object") {
                let name = format!("{}Data", upper_camel(&op_id));
                hoisted.push((name.clone(), data.clone()));
                *data = json!({ "$ref": format!("#/components/schemas/{name}") });
            }
        }
        let op = op.as_object_mut().expect("operations are objects");
        op.remove("requestBody");
        op.insert("x-miro-multipart".into(), schema);
        changed += 1;
    });
    // A `$ref` to a shared multipart schema: inline the `data` part the same way.
    let refs: Vec<(String, String)> = spec
        .get("paths")
        .map(collect_multipart_refs)
        .unwrap_or_default();
    for (op_id, target) in refs {
        let pointer = format!("/components/schemas/{target}");
        // An inline `data` part of the shared schema is named once, in the schema itself.
        if let Some(data) = spec.pointer_mut(&format!("{pointer}/properties/data")) {
            if data.get("type").and_then(Value::as_str) == Some("object") {
                let name = format!("{target}Data");
                hoisted.push((name.clone(), data.clone()));
                *data = json!({ "$ref": format!("#/components/schemas/{name}") });
            }
        }
        if let Some(shared) = spec.pointer(&pointer).cloned() {
            set_multipart_schema(spec, &op_id, shared);
        }
    }
    if let Some(schemas) = schemas(spec) {
        for (name, schema) in hoisted {
            schemas.insert(name, schema);
        }
    }
    changed
}

fn collect_multipart_refs(paths: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for item in paths.as_object().into_iter().flat_map(|p| p.values()) {
        for op in item.as_object().into_iter().flat_map(|i| i.values()) {
            if let Some(r) = op.pointer("/x-miro-multipart/$ref").and_then(Value::as_str) {
                let id = op["operationId"].as_str().unwrap_or_default().to_string();
                out.push((
                    id,
                    r.trim_start_matches("#/components/schemas/").to_string(),
                ));
            }
        }
    }
    out
}

fn set_multipart_schema(spec: &mut Value, op_id: &str, schema: Value) {
    let mut schema = Some(schema);
    for_each_operation(spec, |_, _, op| {
        if op.get("operationId").and_then(Value::as_str) == Some(op_id) {
            if let Some(s) = schema.take() {
                op["x-miro-multipart"] = s;
            }
        }
    });
}

/// `create-board` -> `CreateBoard`.
pub(crate) fn upper_camel(s: &str) -> String {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            let first = c.next().unwrap().to_ascii_uppercase();
            std::iter::once(first).chain(c).collect::<String>()
        })
        .collect()
}

fn array_enum_into_items(spec: &mut Value) -> usize {
    walk_objects(spec, &mut |obj| {
        if obj.get("type").and_then(Value::as_str) != Some("array") {
            return 0;
        }
        let Some(values) = obj.remove("enum") else {
            return 0;
        };
        if let Some(items) = obj.get_mut("items").and_then(Value::as_object_mut) {
            items.insert("enum".into(), values);
        }
        1
    })
}

fn merge_case_colliding_schemas(spec: &mut Value) -> usize {
    let Some(schemas) = schemas(spec) else {
        return 0;
    };
    let names: Vec<String> = schemas.keys().cloned().collect();
    let mut renames: BTreeMap<String, String> = BTreeMap::new();
    for name in &names {
        let Some(first) = name.chars().next() else {
            continue;
        };
        if !first.is_ascii_lowercase() {
            continue;
        }
        let upper = format!("{}{}", first.to_ascii_uppercase(), &name[1..]);
        if names.contains(&upper) {
            renames.insert(name.clone(), upper);
        }
    }
    for lower in renames.keys() {
        schemas.remove(lower);
    }
    let n = renames.len();
    if n > 0 {
        walk_objects(spec, &mut |obj| {
            let Some(Value::String(r)) = obj.get_mut("$ref") else {
                return 0;
            };
            let Some(name) = r.strip_prefix("#/components/schemas/") else {
                return 0;
            };
            match renames.get(name) {
                Some(new) => {
                    *r = format!("#/components/schemas/{new}");
                    1
                }
                None => 0,
            }
        });
    }
    n
}

/// Where `integer-paging-parameters` keeps the `maximum` of a `limit` parameter.
pub const MAX_PAGE_SIZE_EXTENSION: &str = "x-miro-maximum";
/// Where `integer-paging-parameters` keeps the `minimum` of a `limit` parameter.
pub const MIN_PAGE_SIZE_EXTENSION: &str = "x-miro-minimum";

fn integer_paging_parameters(spec: &mut Value) -> usize {
    // A parameter schema may be a reference to a shared limit schema (`QueryLimit`): it is
    // replaced by a copy, so every page size has the same type.
    let shared = spec
        .pointer("/components/schemas")
        .cloned()
        .unwrap_or(Value::Null);
    walk_objects(spec, &mut |obj| {
        let name = obj.get("name").and_then(Value::as_str).unwrap_or_default();
        if !(name == "limit" || name == "offset")
            || obj.get("in").and_then(Value::as_str) != Some("query")
        {
            return 0;
        }
        let Some(schema) = obj.get_mut("schema").and_then(Value::as_object_mut) else {
            return 0;
        };
        let referenced = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .and_then(|name| shared.get(name))
            .and_then(Value::as_object)
            .cloned();
        let was_reference = referenced.is_some();
        if let Some(copy) = referenced {
            *schema = copy;
        }
        let bounds = [schema.remove("minimum"), schema.remove("maximum")];
        let was_integer = !was_reference
            && schema.get("type").and_then(Value::as_str) == Some("integer")
            && schema.get("format").and_then(Value::as_str) == Some("uint32");
        schema.insert("type".into(), json!("integer"));
        schema.insert("format".into(), json!("uint32"));
        if let Some(Value::String(d)) = schema.get("default") {
            match d.parse::<i64>() {
                Ok(n) => {
                    schema.insert("default".into(), json!(n));
                }
                Err(_) => {
                    schema.remove("default");
                }
            }
        }
        if let [Some(min), Some(max)] = &bounds {
            let note = format!(" Range: {min} to {max}.");
            let description = obj
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default();
            obj.insert(
                "description".into(),
                json!(format!("{description}{note}").trim()),
            );
        }
        // The bounds leave the schema (progenitor would make them types) but the table keeps
        // the smallest and largest page sizes for the pagination streams (Miro answers 400
        // outside them).
        if let Some(min) = &bounds[0] {
            obj.insert(MIN_PAGE_SIZE_EXTENSION.into(), min.clone());
        }
        if let Some(max) = &bounds[1] {
            obj.insert(MAX_PAGE_SIZE_EXTENSION.into(), max.clone());
        }
        usize::from(!was_integer || bounds.iter().any(Option::is_some))
    })
}

/// The values a description lists after "Possible values" or "Accepted values", each in
/// backticks or double quotes (`` `card` ``, `"member"`); empty when it lists fewer than two.
fn listed_enum_values(description: &str) -> Vec<String> {
    let lower = description.to_ascii_lowercase();
    let Some(start) = ["possible values", "accepted values"]
        .iter()
        .filter_map(|marker| lower.find(marker))
        .min()
    else {
        return Vec::new();
    };
    let mut values: Vec<String> = Vec::new();
    let rest = &description[start..];
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '`' && c != '"' {
            continue;
        }
        let Some(len) = rest[i + 1..].find(c) else {
            break;
        };
        let token = &rest[i + 1..i + 1 + len];
        // A camelCase word in backticks is a field name, not a value.
        let mixed_case = token.chars().any(|c| c.is_ascii_lowercase())
            && token.chars().any(|c| c.is_ascii_uppercase());
        if !token.is_empty()
            && !mixed_case
            && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !values.iter().any(|v| v == token)
        {
            values.push(token.to_string());
        }
        // Past the closing quote.
        for _ in 0..=token.chars().count() {
            chars.next();
        }
    }
    if values.len() < 2 {
        values.clear();
    }
    values
}

fn listed_query_values_as_enum(spec: &mut Value) -> usize {
    // Every query parameter: (operationId, name, its schema).
    let mut params: Vec<(String, String, Value, Option<String>)> = Vec::new();
    for_each_operation(spec, |_, _, op| {
        let id = op
            .get("operationId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        for p in op
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if p.get("in").and_then(Value::as_str) != Some("query") {
                continue;
            }
            let (Some(name), Some(schema)) =
                (p.get("name").and_then(Value::as_str), p.get("schema"))
            else {
                continue;
            };
            let description = p
                .get("description")
                .or_else(|| schema.get("description"))
                .and_then(Value::as_str)
                .map(str::to_string);
            params.push((id.clone(), name.to_string(), schema.clone(), description));
        }
    });
    // (operation, parameter) -> the new schema; component schemas to add.
    let mut changes: BTreeMap<(String, String), Value> = BTreeMap::new();
    let mut shared: BTreeMap<String, Value> = BTreeMap::new();
    let components = spec
        .pointer("/components/schemas")
        .cloned()
        .unwrap_or_default();
    let free_string = |schema: &Value| -> Option<Value> {
        let schema = match schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
        {
            Some(name) => components.get(name)?,
            None => schema,
        };
        (schema.get("type").and_then(Value::as_str) == Some("string")
            && schema.get("enum").is_none()
            && schema.get("format").is_none())
        .then(|| schema.clone())
    };
    for (op, name, schema, description) in &params {
        // A string, or a list of strings (the values are listed on the list or its items).
        let (string, list) = match free_string(schema) {
            Some(s) => (s, false),
            None if schema.get("type").and_then(Value::as_str) == Some("array") => {
                match schema.get("items").and_then(&free_string) {
                    Some(items) => (items, true),
                    None => continue,
                }
            }
            None => continue,
        };
        let listed = [
            description.as_deref(),
            string.get("description").and_then(Value::as_str),
        ]
        .into_iter()
        .flatten()
        .map(listed_enum_values)
        .find(|v| !v.is_empty())
        .unwrap_or_default();
        if listed.is_empty() {
            continue;
        }
        if list {
            let mut items = string.clone();
            items["enum"] = json!(listed);
            let mut replacement = schema.clone();
            replacement["items"] = items;
            changes.insert((op.clone(), name.clone()), replacement);
            continue;
        }
        // Another filter of the same name whose enum holds every listed value.
        let wider = params.iter().find(|(other_op, other, s, _)| {
            other == name && other_op != op && {
                let values = enum_values(s);
                listed.iter().all(|v| values.contains(v))
            }
        });
        let mut replacement = match wider {
            Some((other_op, _, other_schema, _)) => {
                let component = format!("{}{}", upper_camel(other_op), upper_camel(name));
                shared.insert(component.clone(), other_schema.clone());
                changes.insert((other_op.clone(), name.clone()), schema_ref(&component));
                schema_ref(&component)
            }
            None => {
                let mut s = schema.clone();
                s["enum"] = json!(listed);
                s
            }
        };
        if let (Some(d), Some(obj)) = (schema.get("description"), replacement.as_object_mut()) {
            obj.insert("description".into(), d.clone());
        }
        changes.insert((op.clone(), name.clone()), replacement);
    }
    let mut changed = 0;
    for_each_operation(spec, |_, _, op| {
        let id = op
            .get("operationId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        for p in op
            .get_mut("parameters")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let Some(name) = p.get("name").and_then(Value::as_str).map(str::to_string) else {
                continue;
            };
            if p.get("in").and_then(Value::as_str) != Some("query") {
                continue;
            }
            if let Some(schema) = changes.get(&(id.clone(), name)) {
                p["schema"] = schema.clone();
                changed += 1;
            }
        }
    });
    if let Some(schemas) = schemas(spec) {
        for (name, schema) in shared {
            schemas.entry(name).or_insert(schema);
        }
    }
    changed
}

/// Where `defaults-are-documentation` keeps a schema's `default`, for the generator's own use
/// (the emulator's synthesized answers); typify ignores it.
pub const DEFAULT_EXTENSION: &str = "x-miro-default";

fn defaults_are_documentation(spec: &mut Value) -> usize {
    /// `value` is a schema (or a spec object that may hold schemas); `parameters` lists are
    /// skipped, and the keys of a `properties` map are property names, not keywords.
    fn schema(value: &mut Value) -> usize {
        let Value::Object(obj) = value else {
            return match value {
                Value::Array(items) => items.iter_mut().map(schema).sum(),
                _ => 0,
            };
        };
        let mut changed = 0;
        if let Some(default) = obj.remove("default") {
            let shown = match &default {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let note = format!("Miro's default: `{shown}`.");
            let description = match obj.get("description").and_then(Value::as_str) {
                Some(d) if !d.trim().is_empty() => format!("{}\n\n{note}", d.trim_end()),
                _ => note,
            };
            obj.insert("description".into(), Value::String(description));
            obj.insert(DEFAULT_EXTENSION.into(), default);
            changed += 1;
        }
        for (key, child) in obj.iter_mut() {
            match key.as_str() {
                "properties" => {
                    if let Value::Object(props) = child {
                        changed += props.values_mut().map(schema).sum::<usize>();
                    }
                }
                "parameters" | "example" | "examples" | DEFAULT_EXTENSION => {}
                _ => changed += schema(child),
            }
        }
        changed
    }
    schema(spec)
}

/// The words of a PascalCase name (`TagCreateRequest` -> `Tag`, `Create`, `Request`).
fn pascal_words(name: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for c in name.chars() {
        match words.last_mut() {
            Some(w) if !c.is_ascii_uppercase() => w.push(c),
            _ => words.push(c.to_string()),
        }
    }
    words
}

/// The name shared enums get: the words their schemas' names start with (unless that is only a
/// verb), then the property name.
fn shared_enum_name(parents: &[String], property: &str) -> String {
    let split: Vec<Vec<String>> = parents.iter().map(|p| pascal_words(p)).collect();
    let mut prefix: Vec<String> = Vec::new();
    for (i, word) in split[0].iter().enumerate() {
        if split.iter().all(|w| w.get(i) == Some(word)) {
            prefix.push(word.clone());
        } else {
            break;
        }
    }
    if matches!(prefix.as_slice(), [w] if ["Create", "Update", "Get", "Delete"].contains(&w.as_str()))
    {
        prefix.clear();
    }
    let mut chars = property.chars();
    let property: String = chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default();
    format!("{}{property}", prefix.concat())
}

fn shared_inline_enums(spec: &mut Value) -> usize {
    let Some(schemas) = schemas(spec) else {
        return 0;
    };
    // (property, sorted values) -> the schemas holding that inline enum.
    let mut groups: BTreeMap<(String, Vec<String>), Vec<String>> = BTreeMap::new();
    for (name, schema) in schemas.iter() {
        for (prop, p) in schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if p.get("type").and_then(Value::as_str) != Some("string") {
                continue;
            }
            let Some(values) = p.get("enum").and_then(Value::as_array) else {
                continue;
            };
            // Miro's read schemas add `unknown` ("returned for unsupported shapes") to the
            // values the write schemas list: the same enum all the same.
            let mut values: Vec<String> = values
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .filter(|v| v != UNKNOWN_VALUE)
                .collect();
            values.sort();
            groups
                .entry((prop.clone(), values))
                .or_default()
                .push(name.clone());
        }
    }
    let mut changed = 0;
    let mut renames = BTreeMap::new();
    for ((prop, _), parents) in groups {
        if parents.len() < 2 {
            continue;
        }
        let name = shared_enum_name(&parents, &prop);
        // typify names an inline property schema `{Schema}{Property}`: those of the properties
        // that stay inline are taken too.
        let taken_inline = schemas.iter().any(|(schema_name, schema)| {
            schema
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .any(|(p, v)| {
                    v.get("$ref").is_none()
                        && !(p == &prop && parents.contains(schema_name))
                        && shared_enum_name(std::slice::from_ref(schema_name), p) == name
                })
        });
        if schemas.contains_key(&name) || taken_inline {
            continue; // taken, by a schema, an earlier group or an inline type: left inline
        }
        let reference = format!("#/components/schemas/{name}");
        let lists_unknown = |parent: &String| {
            schemas
                .get(parent)
                .and_then(|s| s.pointer(&format!("/properties/{prop}/enum")))
                .and_then(Value::as_array)
                .is_some_and(|v| v.iter().any(|v| v == UNKNOWN_VALUE))
        };
        let unknown_in: Vec<bool> = parents.iter().map(lists_unknown).collect();
        let some_unknown = unknown_in.contains(&true) && unknown_in.contains(&false);
        let mut shared: Option<Map<String, Value>> = None;
        for (parent, has_unknown) in parents.iter().zip(unknown_in) {
            let Some(p) = schemas
                .get_mut(parent)
                .and_then(|s| s.pointer_mut(&format!("/properties/{prop}")))
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            match &mut shared {
                None => {
                    let mut enum_schema = Map::new();
                    for key in ["type", "enum", "description"] {
                        if let Some(v) = p.get(key) {
                            enum_schema.insert(key.into(), v.clone());
                        }
                    }
                    shared = Some(enum_schema);
                }
                // The shared enum keeps `unknown` when any copy lists it: an answer may carry it.
                Some(enum_schema) if has_unknown => {
                    if let Some(Value::Array(values)) = enum_schema.get_mut("enum") {
                        if !values.iter().any(|v| v == UNKNOWN_VALUE) {
                            values.push(json!(UNKNOWN_VALUE));
                        }
                    }
                }
                Some(_) => {}
            }
            // A copy that had a value the others lack was an enum of its own before; its old
            // name stays as an alias.
            if has_unknown && some_unknown {
                renames.insert(
                    format!("{}{}", upper_camel(parent), upper_camel(&prop)),
                    name.clone(),
                );
            }
            // The field keeps its own description (and default) beside the reference.
            p.remove("type");
            p.remove("enum");
            p.insert("$ref".into(), Value::String(reference.clone()));
            changed += 1;
        }
        if let Some(enum_schema) = shared {
            schemas.insert(name, Value::Object(enum_schema));
        }
    }
    record_renames(spec, renames);
    changed
}

fn allof_object_and_string(spec: &mut Value) -> usize {
    walk_objects(spec, &mut |obj| {
        let Some(Value::Array(parts)) = obj.get("allOf") else {
            return 0;
        };
        let string_part = parts
            .iter()
            .find(|p| p.get("type").and_then(Value::as_str) == Some("string"))
            .cloned();
        let has_other = parts.iter().any(|p| {
            p.get("$ref").is_some() || p.get("type").and_then(Value::as_str) == Some("object")
        });
        match (string_part, has_other) {
            (Some(Value::Object(s)), true) => {
                obj.remove("allOf");
                obj.extend(s);
                1
            }
            _ => 0,
        }
    })
}

fn drop_undeclared_required(spec: &mut Value) -> usize {
    walk_objects(spec, &mut |obj| {
        let Some(props) = obj.get("properties").and_then(Value::as_object) else {
            return 0;
        };
        if obj.contains_key("allOf") || obj.contains_key("oneOf") || obj.contains_key("anyOf") {
            return 0;
        }
        let declared: Vec<String> = props.keys().cloned().collect();
        let Some(Value::Array(required)) = obj.get_mut("required") else {
            return 0;
        };
        let before = required.len();
        required.retain(|r| r.as_str().is_some_and(|r| declared.iter().any(|d| d == r)));
        before - required.len()
    })
}

fn board_item_group_schema(spec: &mut Value) -> usize {
    let mut changed = 0;
    let group_ref = json!({ "$ref": "#/components/schemas/Group" });
    let new_ref = json!({ "$ref": "#/components/schemas/BoardItemGroup" });
    for_each_operation(spec, |path, _, op| {
        if !path.starts_with("/v2/boards/") {
            return;
        }
        if let Some(schema) = op.pointer_mut("/requestBody/content/application~1json/schema") {
            if *schema == group_ref {
                *schema = new_ref.clone();
                changed += 1;
            }
        }
    });
    if changed == 0 {
        return 0;
    }
    if let Some(schemas) = schemas(spec) {
        schemas.insert(
            "BoardItemGroupData".into(),
            json!({
                "type": "object",
                "description": "The items of a board item group.",
                "properties": {
                    "items": {
                        "type": "array",
                        "description": "Unique identifiers (IDs) of the items in the group.",
                        "items": { "type": "string" },
                        "example": ["3458764517517818867", "3458764517517818868"]
                    }
                }
            }),
        );
        schemas.insert(
            "BoardItemGroup".into(),
            json!({
                "type": "object",
                "description": "A group of board items.",
                "properties": { "data": { "$ref": "#/components/schemas/BoardItemGroupData" } },
                "required": ["data"]
            }),
        );
        if let Some(data) = schemas
            .get_mut("GroupResponseShort")
            .and_then(|s| s.pointer_mut("/properties/data"))
        {
            *data = json!({ "$ref": "#/components/schemas/BoardItemGroupData" });
            changed += 1;
        }
    }
    changed
}

fn drop_string_constraints(spec: &mut Value) -> usize {
    walk_objects(spec, &mut |obj| {
        let is_schema = obj.get("type").and_then(Value::as_str) == Some("string")
            || obj.contains_key("pattern")
            || obj.get("minLength").is_some_and(Value::is_u64);
        if !is_schema {
            return 0;
        }
        ["pattern", "minLength", "maxLength"]
            .iter()
            .filter(|k| obj.get(**k).is_some_and(|v| !v.is_object()) && obj.remove(**k).is_some())
            .count()
    })
}

/// The value Miro's read schemas add to an enum for what they cannot describe.
const UNKNOWN_VALUE: &str = "unknown";

/// Where fixes record the generated type names they removed, at the spec's root: old Rust type
/// name -> the type that replaces it. The generator emits a deprecated alias for each.
pub const RENAMED_EXTENSION: &str = "x-miro-renamed";

fn record_renames(spec: &mut Value, renames: BTreeMap<String, String>) {
    if renames.is_empty() {
        return;
    }
    let Some(root) = spec.as_object_mut() else {
        return;
    };
    let entry = root
        .entry(RENAMED_EXTENSION)
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(map) = entry.as_object_mut() {
        for (old, new) in renames {
            map.insert(old, Value::String(new));
        }
    }
}

/// Replaces every `$ref` to a schema named in `targets` (`name` -> replacement): by the
/// replacement object, with the referencing object's other keys (its docs) laid over it.
fn replace_refs(spec: &mut Value, targets: &BTreeMap<String, Value>) -> usize {
    walk_objects(spec, &mut |obj| {
        let Some(name) = obj
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
        else {
            return 0;
        };
        let Some(replacement) = targets.get(name) else {
            return 0;
        };
        obj.remove("$ref");
        let own = std::mem::take(obj);
        if let Value::Object(r) = replacement {
            obj.extend(r.clone());
        }
        obj.extend(own);
        1
    })
}

fn inline_scalar_schemas(spec: &mut Value) -> usize {
    let Some(schemas) = schemas(spec) else {
        return 0;
    };
    let scalars: BTreeMap<String, Value> = schemas
        .iter()
        .filter(|(_, s)| {
            let scalar = matches!(
                s.get("type").and_then(Value::as_str),
                Some("string" | "number" | "integer" | "boolean")
            );
            let composite = [
                "enum",
                "properties",
                "items",
                "oneOf",
                "anyOf",
                "allOf",
                "$ref",
            ]
            .iter()
            .any(|k| s.get(*k).is_some());
            scalar && !composite
        })
        .map(|(name, s)| (name.clone(), s.clone()))
        .collect();
    for name in scalars.keys() {
        schemas.remove(name);
    }
    replace_refs(spec, &scalars);
    scalars.len()
}

/// Keys that document a schema without changing what it accepts.
const DOC_KEYS: &[&str] = &[
    "description",
    "example",
    "examples",
    "title",
    "externalDocs",
    DEFAULT_EXTENSION,
    PROPERTY_ORDER_EXTENSION,
    EXCLUSIVE_EXTENSION,
];

/// A canonical text of `schema`'s shape: documentation left out, object keys and `required`
/// and `enum` lists sorted, each reference to a component replaced by that component's class.
fn shape_key(schema: &Value, class: &BTreeMap<String, usize>, out: &mut String) {
    match schema {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for key in keys {
                if DOC_KEYS.contains(&key.as_str()) {
                    continue;
                }
                let value = &map[key];
                out.push_str(&format!("{key:?}:"));
                match key.as_str() {
                    "$ref" => match value
                        .as_str()
                        .and_then(|r| r.strip_prefix("#/components/schemas/"))
                    {
                        Some(name) => {
                            out.push_str(&format!("#{}", class.get(name).map_or(-1, |c| *c as i64)))
                        }
                        None => out.push_str(&value.to_string()),
                    },
                    // Property names are names, not keywords.
                    "properties" => {
                        let mut props: Vec<(&String, &Value)> =
                            value.as_object().into_iter().flatten().collect();
                        props.sort_by_key(|(name, _)| *name);
                        out.push('{');
                        for (name, prop) in props {
                            out.push_str(&format!("{name:?}:"));
                            shape_key(prop, class, out);
                            out.push(',');
                        }
                        out.push('}');
                    }
                    "required" | "enum" => {
                        let mut items: Vec<String> = value
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(Value::to_string)
                            .collect();
                        items.sort();
                        out.push_str(&items.join(","));
                    }
                    _ => shape_key(value, class, out),
                }
                out.push(',');
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for item in items {
                shape_key(item, class, out);
                out.push(',');
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The classes of schemas with the same shape, references followed: schema name -> class.
/// Partition refinement: start with one class, split by shape (references named by their
/// target's class) until nothing splits.
fn shape_classes(schemas: &Map<String, Value>) -> BTreeMap<String, usize> {
    let mut class: BTreeMap<String, usize> = schemas.keys().map(|n| (n.clone(), 0)).collect();
    let mut count = 1;
    loop {
        let mut ids: BTreeMap<String, usize> = BTreeMap::new();
        let mut next = BTreeMap::new();
        for (name, schema) in schemas {
            let mut key = format!("{}|", class[name]);
            shape_key(schema, &class, &mut key);
            let n = ids.len();
            next.insert(name.clone(), *ids.entry(key).or_insert(n));
        }
        let grown = ids.len() > count;
        count = ids.len();
        class = next;
        if !grown {
            return class;
        }
    }
}

/// Words a schema name adds to say how a thing travels or is wrapped, not what it is.
const WRAPPER_WORDS: &[&str] = &["Response", "With", "Links", "Envelope"];

/// What a schema name says the schema is: its words without the `Platform...` disambiguation
/// suffix and the [`WRAPPER_WORDS`] (`ParentWithLinks` and `ParentLinksEnvelope` -> `Parent`).
fn concept(name: &str) -> String {
    let base = match name.find("Platform") {
        Some(i) if i > 0 => &name[..i],
        _ => name,
    };
    pascal_words(&upper_camel(base))
        .into_iter()
        .filter(|w| !WRAPPER_WORDS.contains(&w.as_str()))
        .collect()
}

fn collapse_same_shape_copies(spec: &mut Value) -> usize {
    let Some(schemas) = schemas(spec) else {
        return 0;
    };
    let class = shape_classes(schemas);
    // (class, concept) -> the schemas.
    let mut groups: BTreeMap<(usize, String), Vec<String>> = BTreeMap::new();
    for (name, c) in &class {
        groups
            .entry((*c, concept(name)))
            .or_default()
            .push(name.clone());
    }
    let mut targets: BTreeMap<String, Value> = BTreeMap::new();
    let mut renames = BTreeMap::new();
    for ((_, concept), mut names) in groups {
        if names.len() < 2 {
            continue;
        }
        // The plainest name: the concept itself, else the shortest.
        names.sort_by_key(|n| (*n != concept, n.len(), n.clone()));
        let keep = names[0].clone();
        for name in &names[1..] {
            schemas.remove(name);
            targets.insert(name.clone(), schema_ref(&keep));
            renames.insert(upper_camel(name), upper_camel(&keep));
        }
    }
    let n = targets.len();
    replace_refs(spec, &targets);
    record_renames(spec, renames);
    n
}

/// The request fields Miro clears on an explicit `null`: (the schemas, by how their name ends;
/// the property; the evidence).
pub const CLEARABLE: &[(&[&str], &str, &str)] = &[(
    &["UpdateRequest", "ItemUpdate"],
    "parent",
    "An item's parent frame on update (and GenericItemUpdate's). Miro's changelog of \
     2022-05-11 replaced `parentId` by `parent` because a null `parentId` detached items from \
     their frame (\"attached an item to the canvas\"); the emulator does the same for a null \
     `parent`. Not confirmed by a capture of the current API.",
)];

fn clearable_fields(spec: &mut Value) -> usize {
    let Some(schemas) = schemas(spec) else {
        return 0;
    };
    let mut changed = 0;
    for (name, schema) in schemas.iter_mut() {
        for (suffixes, property, _) in CLEARABLE {
            if !suffixes.iter().any(|s| name.ends_with(s)) {
                continue;
            }
            if let Some(Value::Object(prop)) =
                schema.pointer_mut(&format!("/properties/{property}"))
            {
                if prop.get("nullable") != Some(&json!(true)) {
                    prop.insert("nullable".into(), json!(true));
                    changed += 1;
                }
            }
        }
    }
    changed
}

/// Where `either-or-properties` lists the properties of a schema of which one may be set.
pub const EXCLUSIVE_EXTENSION: &str = "x-miro-exclusive";

fn either_or_properties(spec: &mut Value) -> usize {
    let Some(schemas) = schemas(spec) else {
        return 0;
    };
    let mut changed = 0;
    for schema in schemas.values_mut() {
        let Some(description) = schema.get("description").and_then(Value::as_str) else {
            continue;
        };
        let lower = description.to_ascii_lowercase();
        let Some(start) = lower.find("either the ") else {
            continue;
        };
        let words: Vec<&str> = lower[start + "either the ".len()..]
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .filter(|w| !w.is_empty())
            .take(3)
            .collect();
        let [a, "or", b] = words[..] else { continue };
        let has = |name: &str| schema.pointer(&format!("/properties/{name}")).is_some();
        if has(a) && has(b) {
            schema[EXCLUSIVE_EXTENSION] = json!([a, b]);
            changed += 1;
        }
    }
    changed
}

/// Variant schema name -> the `type` value Miro sends for it, for the oneOfs whose variant is
/// chosen by the enclosing object's `type`.
fn outer_type_of(variant: &str) -> Option<&'static str> {
    const KNOWN: &[(&str, &str)] = &[
        ("AppCard", "app_card"),
        ("StickyNote", "sticky_note"),
        ("Card", "card"),
        ("Document", "document"),
        ("Embed", "embed"),
        ("Image", "image"),
        ("Shape", "shape"),
        ("Text", "text"),
        ("Frame", "frame"),
    ];
    KNOWN
        .iter()
        .find(|(prefix, _)| {
            variant.strip_prefix(prefix).is_some_and(|rest| {
                rest.starts_with("Data") || rest.starts_with("Style") || rest.starts_with("Url")
            })
        })
        .map(|(_, t)| *t)
}

fn outer_type_discriminators(spec: &mut Value) -> usize {
    let Some(schemas) = schemas(spec) else {
        return 0;
    };
    let mut changed = 0;
    for schema in schemas.values_mut() {
        let Some(Value::Array(variants)) = schema.get("oneOf") else {
            continue;
        };
        if schema.get("discriminator").is_some() {
            continue;
        }
        let mut mapping = Map::new();
        for v in variants {
            let Some(name) = v.get("$ref").and_then(Value::as_str) else {
                continue;
            };
            let name = name.trim_start_matches("#/components/schemas/");
            if let Some(t) = outer_type_of(name) {
                mapping.insert(t.to_string(), json!(name));
            }
        }
        // Every variant must be accounted for, or the oneOf is not of this kind.
        if !mapping.is_empty() && mapping.len() == variants.len() {
            schema["x-miro-outer-tag"] = json!({ "property": "type", "mapping": mapping });
            changed += 1;
        }
    }
    changed
}

/// The one item-type enum of `one-item-type`.
const ITEM_TYPE: &str = "ItemType";

fn one_item_type(spec: &mut Value) -> usize {
    let Some(schemas) = schemas(spec) else {
        return 0;
    };
    // The item-data unions and their variants, and the types they know.
    let mut item_data: BTreeSet<String> = BTreeSet::new();
    let mut item_types: Vec<String> = Vec::new();
    for (name, schema) in schemas.iter() {
        let Some(mapping) = schema
            .pointer("/x-miro-outer-tag/mapping")
            .and_then(Value::as_object)
        else {
            continue;
        };
        item_data.insert(name.clone());
        for (tag, variant) in mapping {
            item_data.extend(variant.as_str().map(str::to_string));
            push_unique(&mut item_types, tag);
        }
    }
    if item_data.is_empty() {
        return 0;
    }
    let enum_components: BTreeMap<String, Vec<String>> = schemas
        .iter()
        .filter(|(_, s)| s.get("enum").is_some())
        .map(|(name, s)| (name.clone(), enum_values(s)))
        .collect();
    // The item schemas: a `data` of item data, and a `type` that is a free string or an enum
    // component (whose name is then replaced).
    let mut items: BTreeSet<String> = BTreeSet::new();
    let mut replaced: BTreeSet<String> = BTreeSet::new();
    for (name, schema) in schemas.iter() {
        let Some(props) = schema.get("properties").and_then(Value::as_object) else {
            continue;
        };
        let (Some(data), Some(ty)) = (props.get("data"), props.get("type")) else {
            continue;
        };
        if !component_name(data).is_some_and(|d| item_data.contains(d)) {
            continue;
        }
        match component_name(ty) {
            Some(e) if enum_components.contains_key(e) => {
                replaced.insert(e.to_string());
                items.insert(name.clone());
            }
            Some(_) => {}
            None if ty.get("type").and_then(Value::as_str) == Some("string")
                && ty.get("enum").is_none() =>
            {
                items.insert(name.clone());
            }
            None => {}
        }
    }
    // The pages that list items (component schemas, by name).
    let lists_items = |page: &Value| {
        page.pointer("/properties/data/items")
            .and_then(component_name)
            .is_some_and(|item| items.contains(item))
    };
    let pages: BTreeSet<String> = schemas
        .iter()
        .filter(|(_, s)| lists_items(s))
        .map(|(name, _)| name.clone())
        .collect();
    // The `type` filters of the operations whose pages list items and that take every type the
    // unions know (a filter restricted to fewer, get-items-experimental's `shape`, keeps its own
    // enum): their values, and the enum component they name, if any.
    let values_of = |schema: &Value| match component_name(schema) {
        Some(e) => enum_components.get(e).cloned().unwrap_or_default(),
        None => enum_values(schema),
    };
    let mut filters: Vec<(String, String)> = Vec::new();
    let mut values: Vec<String> = Vec::new();
    for name in &replaced {
        enum_components[name]
            .iter()
            .for_each(|v| push_unique(&mut values, v));
    }
    let mut filter_values: Vec<String> = Vec::new();
    for_each_operation(spec, |path, method, op| {
        let pages_items = op
            .get("responses")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter(|(status, _)| status.starts_with('2'))
            .filter_map(|(_, r)| r.pointer("/content/application~1json/schema"))
            .any(|body| match component_name(body) {
                Some(page) => pages.contains(page),
                None => lists_items(body),
            });
        let filter = op
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|p| p.get("name").and_then(Value::as_str) == Some("type"))
            .and_then(|p| p.get("schema"));
        let Some(filter) = filter.filter(|_| pages_items) else {
            return;
        };
        let accepted = values_of(filter);
        if item_types.iter().all(|t| accepted.contains(t)) {
            filters.push((path.to_string(), method.to_string()));
            accepted.iter().for_each(|v| filter_values.push(v.clone()));
            if let Some(e) = component_name(filter).filter(|e| enum_components.contains_key(*e)) {
                replaced.insert(e.to_string());
            }
        }
    });
    for v in filter_values.iter().chain(&item_types) {
        push_unique(&mut values, v);
    }
    let Some(schemas) = crate::fixes::schemas(spec) else {
        return 0;
    };
    schemas.insert(
        ITEM_TYPE.into(),
        json!({
            "type": "string",
            "description": "The type of a board item: what an item read says it is, what a \
                            bulk create or update sends, what the get-items filters take.",
            "enum": values,
        }),
    );
    // A `$ref` to the one type, keeping the description beside it.
    let item_type_ref = |old: &Value| {
        let mut replacement = schema_ref(ITEM_TYPE);
        if let Some(d) = old.get("description") {
            replacement["description"] = d.clone();
        }
        replacement
    };
    let mut changed = 0;
    for name in &items {
        let ty = &mut schemas[name]["properties"]["type"];
        *ty = item_type_ref(ty);
        changed += 1;
    }
    for name in &replaced {
        schemas.remove(name);
    }
    for_each_operation(spec, |path, method, op| {
        if !filters.iter().any(|(p, m)| p == path && m == method) {
            return;
        }
        for p in op
            .get_mut("parameters")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if p.get("name").and_then(Value::as_str) == Some("type") {
                p["schema"] = item_type_ref(&p["schema"]);
                changed += 1;
            }
        }
    });
    // Every other reference to a replaced enum (a request body's copy) points at the one type.
    let targets: BTreeMap<String, Value> = replaced
        .iter()
        .map(|name| (name.clone(), schema_ref(ITEM_TYPE)))
        .collect();
    changed += replace_refs(spec, &targets);
    record_renames(
        spec,
        replaced
            .into_iter()
            .map(|name| (name, ITEM_TYPE.to_string()))
            .collect(),
    );
    changed
}

/// The component a `{"$ref": "#/components/schemas/Name"}` names.
fn component_name(schema: &Value) -> Option<&str> {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
}

/// The string values of a schema's `enum`.
fn enum_values(schema: &Value) -> Vec<String> {
    schema
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// Appends `value` unless `values` has it.
fn push_unique(values: &mut Vec<String>, value: &str) {
    if !values.iter().any(|known| known == value) {
        values.push(value.to_string());
    }
}

/// Where `base-path-from-code-samples` records an operation's media type, when it is not
/// `application/json`.
pub const MEDIA_TYPE_EXTENSION: &str = "x-miro-media-type";

/// The path part of each code sample's `https://...` URL of an operation.
fn code_sample_paths(op: &Value) -> Vec<String> {
    op.get("x-codeSamples")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|sample| sample.get("source").and_then(Value::as_str))
        .filter_map(|source| {
            let start = source.find("https://")? + "https://".len();
            let rest = &source[start..];
            let end = rest
                .find(|c: char| c == '\'' || c == '"' || c == '?' || c.is_whitespace())
                .unwrap_or(rest.len());
            let url = &rest[..end];
            url.find('/').map(|slash| url[slash..].to_string())
        })
        .collect()
}

fn base_path_from_code_samples(spec: &mut Value) -> usize {
    let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) else {
        return 0;
    };
    let mut moves: Vec<(String, String)> = Vec::new();
    for (path, item) in paths.iter() {
        let mut prefixes = item
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(method, _)| METHODS.contains(&method.as_str()))
            .flat_map(|(_, op)| code_sample_paths(op))
            .map(|sample| {
                sample
                    .strip_suffix(path.as_str())
                    .map(str::to_string)
                    .unwrap_or_default()
            });
        let Some(first) = prefixes.next() else {
            continue;
        };
        if !first.is_empty() && first.starts_with('/') && prefixes.all(|p| p == first) {
            moves.push((path.clone(), format!("{first}{path}")));
        }
    }
    for (from, to) in &moves {
        if let Some(mut item) = paths.remove(from) {
            for (method, op) in item.as_object_mut().into_iter().flatten() {
                if !METHODS.contains(&method.as_str()) {
                    continue;
                }
                // The declared JSON media type other than plain JSON (`application/scim+json`).
                let contents = op.pointer("/requestBody/content").into_iter().chain(
                    op.get("responses")
                        .and_then(Value::as_object)
                        .into_iter()
                        .flat_map(|r| r.values())
                        .filter_map(|r| r.get("content")),
                );
                let declared = contents
                    .filter_map(Value::as_object)
                    .flat_map(|c| c.keys())
                    .find(|m| m.ends_with("+json"))
                    .cloned();
                if let Some(media) = declared {
                    op[MEDIA_TYPE_EXTENSION] = json!(media);
                }
            }
            paths.insert(to.clone(), item);
        }
    }
    moves.len()
}

/// Marks the schema extension `lossless-int64-ids` adds: decoded from a string or a number.
pub const LENIENT_ID_EXTENSION: &str = "x-miro-lenient-id";

fn lossless_int64_ids(spec: &mut Value) -> usize {
    let Some(schemas) = schemas(spec) else {
        return 0;
    };
    let mut changed = 0;
    for schema in schemas.values_mut() {
        let Some(id) = schema.pointer_mut("/properties/id") else {
            continue;
        };
        let numeric = matches!(
            id.get("type").and_then(Value::as_str),
            Some("number" | "integer")
        ) && id.get("format").and_then(Value::as_str) == Some("int64");
        if !numeric {
            continue;
        }
        let mut replacement = json!({ "type": "string", LENIENT_ID_EXTENSION: true });
        if let Some(d) = id.get("description") {
            replacement["description"] = d.clone();
        }
        *id = replacement;
        changed += 1;
    }
    changed
}

/// Adds `property` to the schema `name` unless it has one; 1 when added.
fn add_property(
    schemas: &mut Map<String, Value>,
    name: &str,
    property: &str,
    schema: Value,
) -> usize {
    let Some(props) = schemas
        .get_mut(name)
        .and_then(|s| s.get_mut("properties"))
        .and_then(Value::as_object_mut)
    else {
        return 0;
    };
    if props.contains_key(property) {
        return 0;
    }
    props.insert(property.to_string(), schema);
    1
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// The schemas whose properties include all of `keys`.
fn schemas_with(schemas: &Map<String, Value>, keys: &[&str]) -> Vec<String> {
    schemas
        .iter()
        .filter(|(_, s)| {
            s.get("properties")
                .and_then(Value::as_object)
                .is_some_and(|p| keys.iter().all(|k| p.contains_key(*k)))
        })
        .map(|(name, _)| name.clone())
        .collect()
}

fn live_item_fields(spec: &mut Value) -> usize {
    let Some(schemas) = schemas(spec) else {
        return 0;
    };
    let mut changed = 0;
    // A board item as lists and get-specific-item return it: id, type, data and position.
    for name in schemas_with(schemas, &["id", "type", "data", "position", "geometry"]) {
        if !name.starts_with("GenericItem") {
            continue;
        }
        changed += add_property(schemas, &name, "style", schema_ref("ItemStyle"));
        changed += add_property(schemas, &name, "links", schema_ref("WidgetLinks"));
    }
    changed += add_property(schemas, "Parent", "links", schema_ref("SelfLink"));
    for name in schemas_with(schemas, &["data", "cursor", "limit", "size"]) {
        changed += add_property(
            schemas,
            &name,
            "type",
            json!({"type": "string", "description": "The kind of list (`cursor-list`)."}),
        );
    }
    if schemas.contains_key("FrameStyle") {
        if let Some(Value::Array(variants)) = schemas
            .get_mut("ItemStyle")
            .and_then(|s| s.get_mut("oneOf"))
        {
            let frame = schema_ref("FrameStyle");
            if !variants.contains(&frame) {
                variants.push(frame);
                changed += 1;
            }
        }
    }
    changed
}

fn live_board_fields(spec: &mut Value) -> usize {
    let Some(schemas) = schemas(spec) else {
        return 0;
    };
    let mut changed = 0;
    // A board as Miro returns it: id, name, viewLink and policy.
    for name in schemas_with(schemas, &["id", "name", "viewLink", "policy"]) {
        changed += add_property(
            schemas,
            &name,
            "permissionsPolicy",
            schema_ref("BoardPermissionsPolicy"),
        );
        changed += add_property(
            schemas,
            &name,
            "sharingPolicy",
            schema_ref("BoardSharingPolicy"),
        );
        changed += add_property(schemas, &name, "links", schema_ref("BoardLinks"));
        let board = &mut schemas[&name];
        if let Some(description) = board.pointer_mut("/properties/description") {
            if description.get("nullable").is_none() {
                description["nullable"] = json!(true);
                changed += 1;
            }
        }
        if let Some(Value::Array(required)) = board.get_mut("required") {
            let before = required.len();
            required.retain(|r| r != "description" && r != "type");
            changed += before - required.len();
        }
    }
    let copy_access = schemas
        .get("BoardPermissionsPolicy")
        .and_then(|s| s.pointer("/properties/copyAccess"))
        .cloned();
    if let Some(mut copy_access) = copy_access {
        copy_access["description"] =
            json!("Who can copy the board (live answers carry it beside `copyAccess`).");
        changed += add_property(
            schemas,
            "BoardPermissionsPolicy",
            "copyAccessLevel",
            copy_access,
        );
    }
    changed
}

fn live_member_and_token_fields(spec: &mut Value) -> usize {
    let mut changed = 0;
    if let Some(schemas) = schemas(spec) {
        changed += add_property(schemas, "BoardMember", "links", schema_ref("SelfLink"));
    }
    let application = json!({
        "title": "Application information",
        "type": "object",
        "description": "The app the token was issued to.",
        "properties": {
            "type": {"type": "string", "description": "`application`."},
            "id": {"type": "string", "description": "The app's id."},
            "name": {"type": "string", "description": "The app's name."}
        }
    });
    for_each_operation(spec, |path, method, op| {
        if path != "/v1/oauth-token" || method != "get" {
            return;
        }
        let schema = op
            .pointer_mut("/responses/200/content/application~1json/schema/properties")
            .and_then(Value::as_object_mut);
        if let Some(props) = schema {
            if !props.contains_key("application") {
                props.insert("application".into(), application.clone());
                changed += 1;
            }
        }
    });
    changed
}

/// The values an HTML description lists (`<li>value</li>`).
fn listed_values(description: &str) -> Vec<String> {
    description
        .split("<li>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</li>"))
        .map(|(value, _)| value.trim().to_string())
        .filter(|v| !v.is_empty() && !v.contains(char::is_whitespace))
        .collect()
}

fn shape_names_as_enum(spec: &mut Value) -> usize {
    let Some(schemas) = schemas(spec) else {
        return 0;
    };
    // The enum the typed `shape` properties of the Shape* schemas already share.
    let shared = schemas.iter().find_map(|(name, s)| {
        if !name.starts_with("Shape") {
            return None;
        }
        let target = s.pointer("/properties/shape/$ref")?.as_str()?;
        let enum_name = target.strip_prefix("#/components/schemas/")?;
        schemas.get(enum_name)?.get("enum")?;
        Some(enum_name.to_string())
    });
    let Some(shared) = shared else {
        return 0;
    };
    let mut changed = 0;
    let mut listed: Vec<String> = Vec::new();
    for (name, schema) in schemas.iter_mut() {
        if !name.starts_with("Shape") {
            continue;
        }
        let Some(shape) = schema.pointer_mut("/properties/shape") else {
            continue;
        };
        if shape.get("type").and_then(Value::as_str) != Some("string")
            || shape.get("enum").is_some()
        {
            continue;
        }
        let description = shape
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default();
        listed.extend(listed_values(description));
        let mut replacement = json!({ "$ref": format!("#/components/schemas/{shared}") });
        if let Some(d) = shape.get("description") {
            replacement["description"] = d.clone();
        }
        *shape = replacement;
        changed += 1;
    }
    if let Some(Value::Array(values)) = schemas.get_mut(&shared).and_then(|s| s.get_mut("enum")) {
        for value in listed {
            if !values.iter().any(|v| v == value.as_str()) {
                values.push(json!(value));
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, spec: &mut Value) -> usize {
        (FIXES.iter().find(|f| f.name == name).unwrap().apply)(spec)
    }

    #[test]
    fn fix_names_are_unique_and_documented() {
        for (i, f) in FIXES.iter().enumerate() {
            assert!(f.reason.len() > 40, "{} needs a reason", f.name);
            assert!(
                FIXES[i + 1..].iter().all(|g| g.name != f.name),
                "{} twice",
                f.name
            );
        }
    }

    #[test]
    fn placeholders_and_parameters_agree() {
        let mut spec = json!({"paths": {
            "/v2/boards/{board_id_Platformx}/items/bulk": {"parameters": [
                {"$ref": "#/components/parameters/boardId"}], "post": {}},
            "/v2/boards/{board_id_PlatformTags}/items": {"get": {"parameters": [
                {"in": "path", "name": "board_id_PlatformTags", "schema": {"type": "string"}}]}},
            "/v2/boards/{board_id}/items": {"get": {"parameters": [
                {"in": "path", "name": "board_id", "schema": {"type": "string"}}]}}
        }, "components": {"parameters": {"boardId": {"in": "path", "name": "board_id"}}}});
        assert_eq!(run("consistent-board-id-placeholders", &mut spec), 1);
        let p = &spec["paths"]["/v2/boards/{board_id_Platformx}/items/bulk"]["parameters"][0];
        assert_eq!(p["name"], "board_id_Platformx");
        assert_eq!(spec["paths"].as_object().unwrap().len(), 3);
        assert_eq!(
            wire_path("/v2/boards/{board_id_PlatformTags}/items"),
            "/v2/boards/{board_id}/items"
        );
    }

    #[test]
    fn error_responses_lose_their_dangling_refs() {
        let mut spec = json!({"paths": {"/a": {"get": {"responses": {
            "200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}},
            "400": {"$ref": "#/components/responses/400"},
            "404": {"description": "nope", "content": {"application/json": {"schema": {"type": "string"}}}}
        }}}}});
        assert_eq!(run("synthesize-error-responses", &mut spec), 2);
        let r = &spec["paths"]["/a"]["get"]["responses"];
        assert_eq!(r["400"], json!({"description": "Error"}));
        assert_eq!(r["404"], json!({"description": "nope"}));
        assert!(r["200"]["content"].is_object());
    }

    #[test]
    fn scim_media_type_is_dropped() {
        let mut spec = json!({"paths": {"/a": {"post": {
            "requestBody": {"content": {"application/scim+json": {}, "application/json": {}}},
            "responses": {"200": {"content": {"application/scim+json": {}, "application/json": {}}}}}}}});
        assert_eq!(run("json-media-type-only", &mut spec), 2);
        let body = spec["paths"]["/a"]["post"]["requestBody"]["content"]
            .as_object()
            .unwrap();
        assert_eq!(body.keys().collect::<Vec<_>>(), ["application/json"]);
    }

    #[test]
    fn no_content_and_single_success() {
        let mut spec = json!({"paths": {"/a": {
            "delete": {"responses": {"204": {"description": "x", "content": {"application/json": {}}}}},
            "patch": {"responses": {"200": {"content": {"application/json": {}}}, "202": {"description": "later"}}}}}});
        assert_eq!(run("no-content-has-no-body", &mut spec), 1);
        assert_eq!(run("one-success-response", &mut spec), 1);
        assert!(spec["paths"]["/a"]["delete"]["responses"]["204"]
            .get("content")
            .is_none());
        assert!(spec["paths"]["/a"]["patch"]["responses"]
            .get("202")
            .is_none());
    }

    #[test]
    fn multipart_moves_to_the_extension_with_named_data() {
        let mut spec = json!({
            "paths": {"/v2/boards/{board_id}/documents": {"post": {
                "operationId": "create-document-item-using-file-from-device",
                "requestBody": {"content": {"multipart/form-data": {"schema": {"type": "object",
                    "properties": {"data": {"type": "object", "properties": {"title": {"type": "string"}}},
                                   "resource": {"type": "string", "format": "binary"}}}}}}}},
             "/v2/boards/{board_id}/images": {"post": {
                "operationId": "create-image",
                "requestBody": {"content": {"multipart/form-data": {"schema": {"$ref": "#/components/schemas/Up"}}}}}}},
            "components": {"schemas": {"Up": {"type": "object", "properties": {
                "data": {"type": "object", "properties": {"altText": {"type": "string"}}},
                "resource": {"type": "string", "format": "binary"}}}}}
        });
        assert_eq!(run("multipart-to-extension", &mut spec), 2);
        let op = &spec["paths"]["/v2/boards/{board_id}/documents"]["post"];
        assert!(op.get("requestBody").is_none());
        assert_eq!(
            op["x-miro-multipart"]["properties"]["data"]["$ref"],
            "#/components/schemas/CreateDocumentItemUsingFileFromDeviceData"
        );
        let img = &spec["paths"]["/v2/boards/{board_id}/images"]["post"]["x-miro-multipart"];
        assert_eq!(
            img["properties"]["data"]["$ref"],
            "#/components/schemas/UpData"
        );
        assert!(spec["components"]["schemas"]["UpData"]["properties"]["altText"].is_object());
    }

    #[test]
    fn array_enum_moves_into_items() {
        let mut spec = json!({"a": {"type": "array", "enum": ["x"], "items": {"type": "string"}}});
        assert_eq!(run("array-enum-into-items", &mut spec), 1);
        assert_eq!(
            spec["a"],
            json!({"type": "array", "items": {"type": "string", "enum": ["x"]}})
        );
    }

    #[test]
    fn case_colliding_schemas_merge() {
        let mut spec = json!({"components": {"schemas": {
            "CreatedBy": {"type": "object"}, "createdBy": {"type": "object"},
            "Item": {"properties": {"c": {"$ref": "#/components/schemas/createdBy"}}}}}});
        assert_eq!(run("merge-case-colliding-schemas", &mut spec), 1);
        let s = &spec["components"]["schemas"];
        assert!(s.get("createdBy").is_none());
        assert_eq!(
            s["Item"]["properties"]["c"]["$ref"],
            "#/components/schemas/CreatedBy"
        );
    }

    #[test]
    fn paging_parameters_become_plain_integers() {
        let mut spec = json!({"parameters": [
            {"in": "query", "name": "limit", "schema": {"type": "string", "default": "10", "minimum": 10, "maximum": 50}},
            {"in": "query", "name": "offset", "schema": {"type": "string"}},
            {"in": "query", "name": "cursor", "schema": {"type": "string"}},
            {"in": "query", "name": "limit", "schema": {"$ref": "#/components/schemas/QueryLimit"}}],
            "components": {"schemas": {"QueryLimit": {"type": "integer", "format": "int32", "maximum": 100}}}});
        assert_eq!(run("integer-paging-parameters", &mut spec), 3);
        let limit = &spec["parameters"][0];
        assert_eq!(
            limit["schema"],
            json!({"type": "integer", "format": "uint32", "default": 10})
        );
        assert_eq!(
            spec["parameters"][3]["schema"],
            json!({"type": "integer", "format": "uint32"})
        );
        assert_eq!(spec["parameters"][3][MAX_PAGE_SIZE_EXTENSION], 100);
        assert_eq!(limit["description"], "Range: 10 to 50.");
        assert_eq!(spec["parameters"][1]["schema"]["type"], "integer");
        assert_eq!(spec["parameters"][2]["schema"]["type"], "string");
    }

    #[test]
    fn defaults_become_documentation() {
        let mut spec = json!({
            "paths": {"/b": {"get": {"parameters": [
                {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 10}}]}}},
            "components": {"schemas": {
                "StickyNoteData": {"type": "object", "properties": {
                    "shape": {"type": "string", "enum": ["square", "rectangle"], "default": "square",
                              "description": "The shape."},
                    "default": {"type": "number", "default": 0}}},
                "PageLimit": {"type": "integer", "default": 100}}}
        });
        assert_eq!(run("defaults-are-documentation", &mut spec), 3);
        let shape = &spec["components"]["schemas"]["StickyNoteData"]["properties"]["shape"];
        assert!(shape.get("default").is_none());
        assert_eq!(
            shape["description"],
            "The shape.\n\nMiro's default: `square`."
        );
        assert_eq!(shape[DEFAULT_EXTENSION], "square");
        // A property named `default` is a property, not a keyword.
        let named = &spec["components"]["schemas"]["StickyNoteData"]["properties"]["default"];
        assert_eq!(named["description"], "Miro's default: `0`.");
        assert_eq!(
            spec["components"]["schemas"]["PageLimit"]["description"],
            "Miro's default: `100`."
        );
        // Parameters are optional already and keep their default.
        assert_eq!(
            spec["paths"]["/b"]["get"]["parameters"][0]["schema"]["default"],
            10
        );
    }

    #[test]
    fn repeated_inline_enums_become_one_schema() {
        let colors =
            json!({"type": "string", "enum": ["red", "blue"], "description": "Fill color."});
        let mut spec = json!({"components": {"schemas": {
            "Tag": {"properties": {"fillColor": colors}},
            "TagCreateRequest": {"properties": {"fillColor": colors}},
            "TagUpdateRequest": {"properties": {"fillColor": colors}},
            "CreateBoardUserGroupsRequest": {"properties": {"role": {"type": "string", "enum": ["VIEWER", "EDITOR"]}}},
            "CreateProjectUserGroupsRequest": {"properties": {"role": {"type": "string", "enum": ["EDITOR", "VIEWER"]}}},
            "Card": {"properties": {"fillColor": {"type": "string", "enum": ["red"]}}}}}});
        assert_eq!(run("shared-inline-enums", &mut spec), 5);
        let s = &spec["components"]["schemas"];
        assert_eq!(s["TagFillColor"]["enum"], json!(["red", "blue"]));
        assert_eq!(
            s["TagCreateRequest"]["properties"]["fillColor"],
            json!({"$ref": "#/components/schemas/TagFillColor", "description": "Fill color."})
        );
        // Only a verb in common: named by the property alone.
        assert_eq!(
            s["CreateBoardUserGroupsRequest"]["properties"]["role"]["$ref"],
            "#/components/schemas/Role"
        );
        // A different set of values stays inline.
        assert_eq!(s["Card"]["properties"]["fillColor"]["enum"], json!(["red"]));
    }

    #[test]
    fn an_enum_that_only_adds_unknown_is_the_same_enum() {
        let mut spec = json!({"components": {"schemas": {
            "ShapeStyle": {"properties": {"textAlign": {"type": "string", "enum": ["left", "center"]}}},
            "TextStyle": {"properties": {"textAlign": {"type": "string", "enum": ["left", "center"]}}},
            "ShapeStyleForCreate": {"properties": {"textAlign": {"type": "string", "enum": ["left", "center", "unknown"]}}}}}});
        assert_eq!(run("shared-inline-enums", &mut spec), 3);
        let s = &spec["components"]["schemas"];
        assert_eq!(s["TextAlign"]["enum"], json!(["left", "center", "unknown"]));
        assert_eq!(
            s["ShapeStyleForCreate"]["properties"]["textAlign"]["$ref"],
            "#/components/schemas/TextAlign"
        );
        // The copy that was an enum of its own keeps its old name as an alias.
        assert_eq!(
            spec[RENAMED_EXTENSION],
            json!({"ShapeStyleForCreateTextAlign": "TextAlign"})
        );
    }

    #[test]
    fn scalar_schemas_are_inlined() {
        let mut spec = json!({
            "paths": {"/g/{board_id}": {"get": {"parameters": [
                {"name": "board_id", "in": "path", "schema": {"$ref": "#/components/schemas/BoardId"}}]}}},
            "components": {"schemas": {
                "BoardId": {"type": "string", "description": "A board."},
                "ItemId": {"type": "string", "format": "int64"},
                "Kind": {"type": "string", "enum": ["a", "b"]},
                "Item": {"properties": {
                    "id": {"$ref": "#/components/schemas/ItemId", "description": "The item."},
                    "kind": {"$ref": "#/components/schemas/Kind"}}}}}});
        assert_eq!(run("inline-scalar-schemas", &mut spec), 2);
        let s = &spec["components"]["schemas"];
        assert!(s.get("ItemId").is_none() && s.get("BoardId").is_none());
        assert_eq!(
            s["Item"]["properties"]["id"],
            json!({"type": "string", "format": "int64", "description": "The item."})
        );
        // An enum is a type of its own.
        assert_eq!(
            s["Item"]["properties"]["kind"]["$ref"],
            "#/components/schemas/Kind"
        );
        assert_eq!(
            spec["paths"]["/g/{board_id}"]["get"]["parameters"][0]["schema"],
            json!({"type": "string", "description": "A board."})
        );
    }

    #[test]
    fn same_shape_copies_of_one_concept_collapse() {
        let by = json!({"type": "object", "properties": {"id": {"type": "string"}, "type": {"type": "string"}}});
        let link = json!({"type": "object", "properties": {"self": {"type": "string"}}});
        let parent = |desc: &str, links: &str| {
            json!({"type": "object", "description": desc, "properties": {
            "id": {"type": "string", "example": desc},
            "links": {"$ref": format!("#/components/schemas/{links}")}}})
        };
        let mut spec = json!({"components": {"schemas": {
            "CreatedBy": by, "ModifiedBy": by, "CreatedByPlatformTags": by,
            "SelfLink": link, "SelfLinkPlatformTags": link,
            "Parent": parent("a", "SelfLink"),
            "ParentWithLinks": parent("b", "SelfLinkPlatformTags"),
            "ParentLinksEnvelope": parent("c", "SelfLink"),
            "Geometry": {"properties": {"width": {"type": "number"}}},
            "GeometryPlatformTags": {"properties": {"width": {"type": "number"}, "height": {"type": "number"}}},
            "ShapeStyle": link, "ShapeStyleForUpdate": link,
            "Item": {"properties": {
                "parent": {"$ref": "#/components/schemas/ParentWithLinks", "description": "Its frame."},
                "createdBy": {"$ref": "#/components/schemas/CreatedByPlatformTags"}}}}}});
        assert_eq!(run("collapse-same-shape-copies", &mut spec), 4);
        let s = &spec["components"]["schemas"];
        for gone in [
            "CreatedByPlatformTags",
            "SelfLinkPlatformTags",
            "ParentWithLinks",
            "ParentLinksEnvelope",
        ] {
            assert!(s.get(gone).is_none(), "{gone}");
        }
        // Same shape, different concept or direction, or a different shape: kept apart.
        for kept in [
            "CreatedBy",
            "ModifiedBy",
            "Parent",
            "GeometryPlatformTags",
            "ShapeStyle",
            "ShapeStyleForUpdate",
        ] {
            assert!(s.get(kept).is_some(), "{kept}");
        }
        assert_eq!(
            s["Item"]["properties"]["parent"],
            json!({"$ref": "#/components/schemas/Parent", "description": "Its frame."})
        );
        assert_eq!(
            s["Item"]["properties"]["createdBy"]["$ref"],
            "#/components/schemas/CreatedBy"
        );
        assert_eq!(spec[RENAMED_EXTENSION]["ParentLinksEnvelope"], "Parent");
        assert_eq!(spec[RENAMED_EXTENSION]["SelfLinkPlatformTags"], "SelfLink");
    }

    #[test]
    fn listed_query_values_become_an_enum_shared_by_name() {
        let param = |name: &str, schema: Value, description: &str| json!({"in": "query", "name": name, "schema": schema, "description": description});
        let mut spec = json!({"paths": {
            "/items": {"get": {"operationId": "get-items", "parameters": [
                param("type", json!({"type": "string", "enum": ["card", "frame", "text"]}), "")]}},
            "/frame": {"get": {"operationId": "get-items-within-frame", "parameters": [
                param("type", json!({"type": "string"}), "Set `type` to `cards`.\n Possible values: `card`, `text`")]}},
            "/members": {"get": {"operationId": "get-members", "parameters": [
                param("role", json!({"type": "string"}), "Accepted values are:\n* \"member\": a member.\n* \"admin\": an admin."),
                param("status", json!({"type": "array", "items": {"type": "string",
                    "description": "Possible values:\n`DONE`: see `errorMessage`.\n`FAILED`: no."}}), ""),
                param("query", json!({"type": "string"}), "Any text, e.g. `x`.")]}}},
            "components": {"schemas": {}}});
        assert_eq!(run("listed-query-values-as-enum", &mut spec), 4);
        let get =
            |path: &str, i: usize| spec["paths"][path]["get"]["parameters"][i]["schema"].clone();
        assert_eq!(
            get("/frame", 0)["$ref"],
            "#/components/schemas/GetItemsType"
        );
        assert_eq!(
            get("/items", 0)["$ref"],
            "#/components/schemas/GetItemsType"
        );
        assert_eq!(
            spec["components"]["schemas"]["GetItemsType"]["enum"],
            json!(["card", "frame", "text"])
        );
        assert_eq!(get("/members", 0)["enum"], json!(["member", "admin"]));
        // Values of a list's items; a camelCase word in backticks is a field, not a value.
        assert_eq!(
            get("/members", 1)["items"]["enum"],
            json!(["DONE", "FAILED"])
        );
        assert!(get("/members", 2).get("enum").is_none());
    }

    #[test]
    fn the_declared_property_order_is_recorded() {
        let text = br#"{"components": {"schemas": {"Connector": {"required": ["endItem", "startItem"],
            "properties": {"startItem": {"properties": {"z": {}, "a": {}}}, "endItem": {}, "style": {}}}}}}"#;
        let mut spec: Value = serde_json::from_slice(text).unwrap();
        assert_eq!(record_property_order(&mut spec, text), 1);
        assert_eq!(
            spec["components"]["schemas"]["Connector"][PROPERTY_ORDER_EXTENSION],
            json!(["startItem", "endItem", "style"])
        );
    }

    #[test]
    fn either_or_descriptions_mark_exclusive_properties() {
        let mut spec = json!({"components": {"schemas": {
            "FixedRatioGeometry": {"description": "You can set either the width or height, not both.",
                "properties": {"width": {}, "height": {}, "rotation": {}}},
            "Other": {"description": "Either the board or its team.", "properties": {"width": {}}}}}});
        assert_eq!(run("either-or-properties", &mut spec), 1);
        assert_eq!(
            spec["components"]["schemas"]["FixedRatioGeometry"][EXCLUSIVE_EXTENSION],
            json!(["width", "height"])
        );
    }

    #[test]
    fn clearable_fields_are_marked_nullable_on_update_requests_only() {
        let parent = json!({"$ref": "#/components/schemas/Parent"});
        let mut spec = json!({"components": {"schemas": {
            "CardUpdateRequest": {"properties": {"parent": parent, "data": {}}},
            "GenericItemUpdate": {"properties": {"parent": parent}},
            "CardCreateRequest": {"properties": {"parent": parent}}}}});
        assert_eq!(run("clearable-fields", &mut spec), 2);
        let s = &spec["components"]["schemas"];
        assert_eq!(
            s["CardUpdateRequest"]["properties"]["parent"]["nullable"],
            true
        );
        assert_eq!(
            s["GenericItemUpdate"]["properties"]["parent"]["nullable"],
            true
        );
        assert!(s["CardCreateRequest"]["properties"]["parent"]
            .get("nullable")
            .is_none());
        assert!(s["CardUpdateRequest"]["properties"]["data"]
            .get("nullable")
            .is_none());
    }

    #[test]
    fn impossible_allof_becomes_the_string() {
        let mut spec = json!({"status": {"allOf": [{"$ref": "#/x"}, {"type": "string", "example": "CANCELLED"}]}});
        assert_eq!(run("allof-object-and-string", &mut spec), 1);
        assert_eq!(
            spec["status"],
            json!({"type": "string", "example": "CANCELLED"})
        );
    }

    #[test]
    fn undeclared_required_is_dropped() {
        let mut spec = json!({"s": {"properties": {"a": {}}, "required": ["a", "ghost"]}});
        assert_eq!(run("drop-undeclared-required", &mut spec), 1);
        assert_eq!(spec["s"]["required"], json!(["a"]));
    }

    #[test]
    fn board_groups_get_their_own_schema() {
        let mut spec = json!({
            "paths": {
                "/v2/boards/{board_id}/groups": {"post": {"requestBody": {"content": {"application/json":
                    {"schema": {"$ref": "#/components/schemas/Group"}}}}}},
                "/v2/orgs/{org_id}/groups": {"post": {"requestBody": {"content": {"application/json":
                    {"schema": {"$ref": "#/components/schemas/Group"}}}}}}},
            "components": {"schemas": {"Group": {}, "GroupResponseShort": {"properties": {"data": {"$ref": "#/components/schemas/Group"}}}}}
        });
        assert_eq!(run("board-item-group-schema", &mut spec), 2);
        assert_eq!(
            spec["paths"]["/v2/orgs/{org_id}/groups"]["post"]["requestBody"]["content"]
                ["application/json"]["schema"]["$ref"],
            "#/components/schemas/Group"
        );
        assert_eq!(
            spec["components"]["schemas"]["GroupResponseShort"]["properties"]["data"]["$ref"],
            "#/components/schemas/BoardItemGroupData"
        );
    }

    #[test]
    fn string_constraints_go() {
        let mut spec = json!({
            "a": {"type": "string", "minLength": 0, "maxLength": 120, "pattern": "^[0-9]+$"},
            "b": {"type": "integer", "minimum": 1},
            "properties": {"pattern": {"type": "object"}}
        });
        assert_eq!(run("drop-string-constraints", &mut spec), 3);
        assert_eq!(spec["a"], json!({"type": "string"}));
        assert_eq!(spec["b"]["minimum"], 1);
        assert!(spec["properties"]["pattern"].is_object());
    }

    #[test]
    fn item_data_oneofs_get_their_outer_tag() {
        let mut spec = json!({"components": {"schemas": {
            "WidgetDataOutput": {"oneOf": [{"$ref": "#/components/schemas/StickyNoteData"}, {"$ref": "#/components/schemas/CardData"}]},
            "Other": {"oneOf": [{"$ref": "#/components/schemas/StickyNoteData"}, {"$ref": "#/components/schemas/Mystery"}]}}}});
        assert_eq!(run("outer-type-discriminators", &mut spec), 1);
        let tag = &spec["components"]["schemas"]["WidgetDataOutput"]["x-miro-outer-tag"];
        assert_eq!(tag["mapping"]["sticky_note"], "StickyNoteData");
        assert_eq!(tag["mapping"]["card"], "CardData");
        assert!(spec["components"]["schemas"]["Other"]
            .get("x-miro-outer-tag")
            .is_none());
    }

    #[test]
    fn an_items_type_is_one_enum_read_sent_and_filtered_by() {
        let r = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
        let page = |item: &str| {
            json!({"200": {"content": {"application/json": {"schema":
            {"type": "object", "properties": {"data": {"type": "array", "items": r(item)}}}}}}})
        };
        let type_param = |schema: Value| json!([{"in": "query", "name": "type", "schema": schema}]);
        let mut spec = json!({"paths": {
            "/items": {"get": {"operationId": "get-items",
                "parameters": type_param(r("GetItemsType")), "responses": page("GenericItem")}},
            "/frame": {"get": {"operationId": "get-items-within-frame",
                "parameters": type_param(json!({"type": "string", "enum": ["card", "preview", "sticky_note"]})),
                "responses": page("GenericItem")}},
            "/experimental": {"get": {"operationId": "get-items-experimental",
                "parameters": type_param(json!({"type": "string", "enum": ["card"]})),
                "responses": page("GenericItem")}},
            "/other": {"get": {"operationId": "get-others",
                "parameters": type_param(json!({"type": "string", "enum": ["a", "b"]})),
                "responses": page("Other")}}},
            "components": {"schemas": {
                "WidgetDataOutput": {"oneOf": [r("StickyNoteData"), r("CardData")]},
                "StickyNoteData": {"type": "object"},
                "CardData": {"type": "object"},
                "GenericItem": {"type": "object", "properties": {"data": r("WidgetDataOutput"),
                    "type": {"type": "string", "description": "Type of item."}}},
                "StickyNoteItem": {"type": "object", "properties": {"data": r("StickyNoteData"),
                    "type": {"type": "string"}}},
                "ItemCreate": {"type": "object", "properties": {"data": r("WidgetDataOutput"),
                    "type": r("ItemTypeChange")}},
                "BulkBody": {"type": "array", "items": {"type": "object",
                    "properties": {"kind": r("ItemTypeChange")}}},
                "ItemTypeChange": {"type": "string", "enum": ["sticky_note", "card", "frame"]},
                "GetItemsType": {"type": "string", "enum": ["card", "sticky_note", "doc_format"]},
                "Other": {"type": "object", "properties": {"data": {"type": "object"},
                    "type": {"type": "string"}}}}}});
        assert_eq!(run("outer-type-discriminators", &mut spec), 1);
        // Three item schemas' types, the two item filters, and the bulk body's copy.
        assert_eq!(run("one-item-type", &mut spec), 6);
        let schemas = &spec["components"]["schemas"];
        assert_eq!(
            schemas["ItemType"]["enum"],
            json!(["sticky_note", "card", "frame", "preview", "doc_format"]),
            "the item schemas' enums' values, then the filters' (by path)"
        );
        for item in ["GenericItem", "StickyNoteItem", "ItemCreate"] {
            assert_eq!(
                schemas[item]["properties"]["type"]["$ref"], "#/components/schemas/ItemType",
                "{item}"
            );
        }
        assert_eq!(
            schemas["GenericItem"]["properties"]["type"]["description"],
            "Type of item."
        );
        assert_eq!(
            schemas["BulkBody"]["items"]["properties"]["kind"]["$ref"],
            "#/components/schemas/ItemType"
        );
        assert!(schemas.get("ItemTypeChange").is_none() && schemas.get("GetItemsType").is_none());
        assert_eq!(spec[RENAMED_EXTENSION]["ItemTypeChange"], "ItemType");
        assert_eq!(spec[RENAMED_EXTENSION]["GetItemsType"], "ItemType");
        for path in ["/items", "/frame"] {
            assert_eq!(
                spec["paths"][path]["get"]["parameters"][0]["schema"]["$ref"],
                "#/components/schemas/ItemType",
                "{path}"
            );
        }
        // A filter restricted to fewer types than the unions know keeps its enum.
        assert_eq!(
            spec["paths"]["/experimental"]["get"]["parameters"][0]["schema"]["enum"],
            json!(["card"])
        );
        // Not items: a `type` beside other data, and a filter of pages of other things.
        assert_eq!(
            schemas["Other"]["properties"]["type"],
            json!({"type": "string"})
        );
        assert_eq!(
            spec["paths"]["/other"]["get"]["parameters"][0]["schema"]["enum"],
            json!(["a", "b"])
        );
    }

    #[test]
    fn code_samples_move_root_paths_under_their_base() {
        let sample = |url: &str| json!([{"lang": "curl", "source": format!("curl -X GET '{url}' \\\n -H 'x: y'")}]);
        let mut spec = json!({"paths": {
            "/Users": {"get": {"operationId": "listUsers", "x-codeSamples": sample("https://api.miro.com/api/v1/scim/Users"),
                "responses": {"200": {"content": {"application/json": {}, "application/scim+json": {}}}}}},
            "/v2/boards": {"get": {"operationId": "getBoards", "x-codeSamples": sample("https://api.miro.com/v2/boards?limit=1"),
                "responses": {"200": {"content": {"application/json": {}}}}}},
            "/Mixed": {"get": {"x-codeSamples": sample("https://a.example/one/Mixed")},
                       "put": {"x-codeSamples": sample("https://a.example/two/Mixed")}}
        }});
        assert_eq!(run("base-path-from-code-samples", &mut spec), 1);
        let paths = spec["paths"].as_object().unwrap();
        assert!(paths.contains_key("/api/v1/scim/Users"));
        assert!(
            paths.contains_key("/v2/boards"),
            "a path its samples call as is stays"
        );
        assert!(
            paths.contains_key("/Mixed"),
            "samples that disagree move nothing"
        );
        assert_eq!(
            spec["paths"]["/api/v1/scim/Users"]["get"][MEDIA_TYPE_EXTENSION],
            "application/scim+json"
        );
        assert!(spec["paths"]["/v2/boards"]["get"]
            .get(MEDIA_TYPE_EXTENSION)
            .is_none());
    }

    #[test]
    fn int64_ids_become_lossless_strings() {
        let mut spec = json!({"components": {"schemas": {
            "Picture": {"properties": {"id": {"type": "number", "format": "int64", "description": "Id"}}},
            "Count": {"properties": {"id": {"type": "integer", "format": "int32"}}}
        }}});
        assert_eq!(run("lossless-int64-ids", &mut spec), 1);
        let id = &spec["components"]["schemas"]["Picture"]["properties"]["id"];
        assert_eq!(id["type"], "string");
        assert_eq!(id[LENIENT_ID_EXTENSION], true);
        assert_eq!(id["description"], "Id");
        assert_eq!(
            spec["components"]["schemas"]["Count"]["properties"]["id"]["type"],
            "integer"
        );
    }

    #[test]
    fn live_fields_join_items_boards_members_and_token_info() {
        let mut spec = json!({
        "paths": {"/v1/oauth-token": {"get": {"responses": {"200": {"content": {"application/json": {
            "schema": {"type": "object", "properties": {"type": {"type": "string"}}}}}}}}}},
        "components": {"schemas": {
            "GenericItem": {"properties": {"id": {}, "type": {}, "data": {}, "position": {}, "geometry": {}}},
            "ItemsPage": {"properties": {"data": {}, "cursor": {}, "limit": {}, "size": {}}},
            "Parent": {"properties": {"id": {}}},
            "ItemStyle": {"oneOf": [{"$ref": "#/components/schemas/CardStyle"}]},
            "FrameStyle": {"properties": {}},
            "Board": {"properties": {"id": {}, "name": {}, "viewLink": {}, "policy": {},
                "description": {"type": "string"}}, "required": ["id", "name", "description", "type"]},
            "BoardPermissionsPolicy": {"properties": {"copyAccess": {"type": "string", "enum": ["anyone"]}}},
            "BoardMember": {"properties": {"id": {}}}
        }}});
        assert_eq!(run("live-item-fields", &mut spec), 5);
        assert_eq!(run("live-board-fields", &mut spec), 7);
        assert_eq!(run("live-member-and-token-fields", &mut spec), 2);
        let schemas = &spec["components"]["schemas"];
        assert_eq!(
            schemas["GenericItem"]["properties"]["style"]["$ref"],
            "#/components/schemas/ItemStyle"
        );
        assert!(schemas["GenericItem"]["properties"]["links"].is_object());
        assert!(schemas["Parent"]["properties"]["links"].is_object());
        assert!(schemas["ItemsPage"]["properties"]["type"].is_object());
        assert_eq!(
            schemas["ItemStyle"]["oneOf"][1]["$ref"],
            "#/components/schemas/FrameStyle"
        );
        assert!(schemas["Board"]["properties"]["sharingPolicy"].is_object());
        assert_eq!(
            schemas["Board"]["properties"]["description"]["nullable"],
            true
        );
        assert_eq!(schemas["Board"]["required"], json!(["id", "name"]));
        assert_eq!(
            schemas["BoardPermissionsPolicy"]["properties"]["copyAccessLevel"]["enum"],
            json!(["anyone"])
        );
        assert!(schemas["BoardMember"]["properties"]["links"].is_object());
        assert!(spec.pointer("/paths/~1v1~1oauth-token/get/responses/200/content/application~1json/schema/properties/application").is_some());
        // Twice is a no-op.
        assert_eq!(run("live-item-fields", &mut spec), 0);
        assert_eq!(run("live-board-fields", &mut spec), 0);
    }

    #[test]
    fn untyped_shape_names_join_the_shared_enum() {
        let mut spec = json!({"components": {"schemas": {
            "ShapeData": {"properties": {"shape": {"$ref": "#/components/schemas/ShapeDataShape"}}},
            "ShapeDataShape": {"type": "string", "enum": ["rectangle", "circle"]},
            "ShapeDataForCreate": {"properties": {"shape": {"type": "string",
                "description": "Shapes: <ul><li>rectangle</li><li>flow_chart_process</li></ul>"}}},
            "TextData": {"properties": {"shape": {"type": "string"}}}
        }}});
        assert_eq!(run("shape-names-as-enum", &mut spec), 1);
        let schemas = &spec["components"]["schemas"];
        assert_eq!(
            schemas["ShapeDataForCreate"]["properties"]["shape"]["$ref"],
            "#/components/schemas/ShapeDataShape"
        );
        assert_eq!(
            schemas["ShapeDataShape"]["enum"],
            json!(["rectangle", "circle", "flow_chart_process"])
        );
        assert_eq!(schemas["TextData"]["properties"]["shape"]["type"], "string");
    }
}
