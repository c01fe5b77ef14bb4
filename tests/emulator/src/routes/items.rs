//! Board items: the typed routes (`/sticky_notes`, `/cards`, ... ), the generic
//! `/items` routes with cursor paging, file uploads and bulk create.

use axum::extract::{MatchedPath, Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Extension;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::boards::merge;
use super::{
    board, board_link, board_mut, bytes_json, json, json_body, json_object, kind_of_path,
    no_content, numeric_id, path_of_kind, user_ref, Query,
};
use crate::app::{App, Caller, Shared};
use crate::clock::now_iso;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::gateway::Recharged;
use crate::multipart::{self, Part};
use crate::paging;
use crate::rate_limit::credits;
use crate::state::{Board, Item, Stored, UploadedFile};

/// The largest file accepted for an image or document (6 MB).
pub const MAX_FILE_BYTES: usize = 6 * 1024 * 1024;
/// The most items one bulk request may create.
pub const MAX_BULK_ITEMS: usize = 20;

/// Item types `GET /items?type=` accepts.
const LISTABLE_TYPES: &[&str] = &[
    "text",
    "shape",
    "sticky_note",
    "image",
    "document",
    "card",
    "app_card",
    "preview",
    "frame",
    "embed",
    "doc_format",
    "data_table_format",
];

const SHAPES: &[&str] = &[
    "rectangle",
    "round_rectangle",
    "circle",
    "triangle",
    "rhombus",
    "parallelogram",
    "trapezoid",
    "pentagon",
    "hexagon",
    "octagon",
    "wedge_round_rectangle_callout",
    "star",
    "flow_chart_predefined_process",
    "cloud",
    "cross",
    "can",
    "right_arrow",
    "left_arrow",
    "left_right_arrow",
    "left_brace",
    "right_brace",
];

/// A validated create or update body.
#[derive(Debug, Default)]
struct Input {
    data: Map<String, Value>,
    style: Map<String, Value>,
    position: Map<String, Value>,
    geometry: Map<String, Value>,
    /// `Some(None)` detaches from the frame (update only).
    parent: Option<Option<u64>>,
}

fn object_field(
    body: &Map<String, Value>,
    key: &str,
    prefix: &str,
    errors: &mut Vec<FieldError>,
) -> Map<String, Value> {
    match body.get(key) {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            errors.push(FieldError::new(
                format!("{prefix}{key}"),
                "must be an object",
            ));
            Map::new()
        }
    }
}

fn check_enum(
    map: &Map<String, Value>,
    key: &str,
    allowed: &[&str],
    field: &str,
    errors: &mut Vec<FieldError>,
) {
    if let Some(v) = map.get(key) {
        if !v.as_str().is_some_and(|s| allowed.contains(&s)) {
            errors.push(FieldError::new(
                field,
                format!("must be one of: {}", allowed.join(", ")),
            ));
        }
    }
}

/// Validates a body for `kind`. `creating` enforces required fields;
/// `from_file` waives the `url` of images and documents.
fn validate(
    kind: &str,
    body: &Value,
    creating: bool,
    from_file: bool,
    prefix: &str,
) -> Result<Input, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(body) = body.as_object() else {
        return Err(vec![FieldError::new(
            prefix.trim_end_matches('.'),
            "must be a JSON object",
        )]);
    };
    // A bulk item names its type; a single item's type is its path.
    let known: &[&str] = if prefix.is_empty() {
        &["data", "style", "position", "geometry", "parent"]
    } else {
        &["type", "data", "style", "position", "geometry", "parent"]
    };
    for key in body.keys().filter(|k| !known.contains(&k.as_str())) {
        errors.push(FieldError::unsupported(format!("{prefix}{key}")));
    }
    let data = object_field(body, "data", prefix, &mut errors);
    let style = object_field(body, "style", prefix, &mut errors);
    let position = object_field(body, "position", prefix, &mut errors);
    let geometry = object_field(body, "geometry", prefix, &mut errors);
    for key in ["x", "y"] {
        if position.get(key).is_some_and(|v| !v.is_number()) {
            errors.push(FieldError::new(
                format!("{prefix}position.{key}"),
                "must be a number",
            ));
        }
    }
    if position.get("origin").is_some_and(|v| v != "center") {
        errors.push(FieldError::new(
            format!("{prefix}position.origin"),
            "must be \"center\"",
        ));
    }
    for key in ["width", "height"] {
        if let Some(v) = geometry.get(key) {
            if !v.as_f64().is_some_and(|n| n > 0.0) {
                errors.push(FieldError::new(
                    format!("{prefix}geometry.{key}"),
                    "must be a positive number",
                ));
            }
        }
    }
    if geometry.get("rotation").is_some_and(|v| !v.is_number()) {
        errors.push(FieldError::new(
            format!("{prefix}geometry.rotation"),
            "must be a number",
        ));
    }
    let parent = match body.get("parent") {
        None => None,
        Some(Value::Null) if !creating => Some(None),
        Some(Value::Object(p)) => match p.get("id") {
            Some(Value::Null) if !creating => Some(None),
            Some(Value::String(s)) => match crate::ids::parse_numeric(s) {
                Some(id) => Some(Some(id)),
                None => {
                    errors.push(FieldError::new(
                        format!("{prefix}parent.id"),
                        "is not an item id",
                    ));
                    None
                }
            },
            _ => {
                errors.push(FieldError::new(
                    format!("{prefix}parent.id"),
                    "must be a string",
                ));
                None
            }
        },
        Some(_) => {
            errors.push(FieldError::new(
                format!("{prefix}parent"),
                "must be an object",
            ));
            None
        }
    };
    for key in [
        "content",
        "title",
        "description",
        "url",
        "altText",
        "assigneeId",
        "dueDate",
    ] {
        if data.get(key).is_some_and(|v| !v.is_string()) {
            errors.push(FieldError::new(
                format!("{prefix}data.{key}"),
                "must be a string",
            ));
        }
    }
    let d = |k: &str| format!("{prefix}data.{k}");
    let required = |k: &str, errors: &mut Vec<FieldError>| {
        if creating && !data.contains_key(k) {
            errors.push(FieldError::new(d(k), "is required"));
        }
    };
    match kind {
        "sticky_note" => check_enum(
            &data,
            "shape",
            &["square", "rectangle"],
            &d("shape"),
            &mut errors,
        ),
        "app_card" => check_enum(
            &data,
            "status",
            &["disconnected", "connected", "disabled"],
            &d("status"),
            &mut errors,
        ),
        "shape" => {
            if let Some(s) = data.get("shape") {
                if !s
                    .as_str()
                    .is_some_and(|s| SHAPES.contains(&s) || s.starts_with("flow_chart_"))
                {
                    errors.push(FieldError::new(d("shape"), "is not a known shape"));
                }
            }
        }
        "text" => required("content", &mut errors),
        "image" | "document" if !from_file => required("url", &mut errors),
        "embed" => {
            required("url", &mut errors);
            check_enum(&data, "mode", &["inline", "modal"], &d("mode"), &mut errors);
        }
        "frame" => {
            check_enum(&data, "format", &["custom"], &d("format"), &mut errors);
            check_enum(&data, "type", &["freeform"], &d("type"), &mut errors);
        }
        _ => {}
    }
    check_colours(kind, &style, prefix, &mut errors);
    if errors.is_empty() {
        Ok(Input {
            data,
            style,
            position,
            geometry,
            parent,
        })
    } else {
        Err(errors)
    }
}

/// Live Miro takes hex colours (`#1a1a1a`) on shapes, texts, frames and cards, and colour
/// names (`light_yellow`) on sticky notes.
fn check_colours(
    kind: &str,
    style: &Map<String, Value>,
    prefix: &str,
    errors: &mut Vec<FieldError>,
) {
    let hex = |s: &str| {
        s.strip_prefix('#').is_some_and(|h| {
            matches!(h.len(), 3 | 6 | 8) && h.chars().all(|c| c.is_ascii_hexdigit())
        })
    };
    let keys: &[&str] = match kind {
        "shape" => &["fillColor", "borderColor", "color"],
        "text" => &["fillColor", "color"],
        "frame" => &["fillColor"],
        "card" => &["cardTheme"],
        "sticky_note" => &["fillColor"],
        _ => &[],
    };
    for key in keys {
        let Some(value) = style.get(*key) else {
            continue;
        };
        let text = value.as_str().unwrap_or_default();
        let (ok, expected) = if kind == "sticky_note" {
            (
                !text.is_empty() && !text.starts_with('#'),
                "a colour name such as light_yellow",
            )
        } else {
            (
                hex(text) || (kind == "text" && text == "transparent"),
                "a hex colour such as #1a1a1a",
            )
        };
        if !ok {
            errors.push(FieldError::new(
                format!("{prefix}style.{key}"),
                format!("must be {expected}"),
            ));
        }
    }
}

fn default_data(kind: &str) -> Value {
    match kind {
        "sticky_note" => json!({"content": "", "shape": "square"}),
        "card" => json!({"title": ""}),
        "app_card" => json!({"title": "", "status": "disconnected"}),
        "shape" => json!({"content": "", "shape": "rectangle"}),
        "frame" => {
            json!({"title": "", "format": "custom", "type": "freeform", "showContent": true})
        }
        _ => json!({}),
    }
}

fn default_style(kind: &str) -> Option<Value> {
    Some(match kind {
        "sticky_note" => {
            json!({"fillColor": "light_yellow", "textAlign": "center", "textAlignVertical": "top"})
        }
        "card" => json!({"cardTheme": "#2d9bf0"}),
        "app_card" => json!({"fillBackground": false}),
        "shape" => json!({
            "fillColor": "#ffffff", "fillOpacity": "1.0", "fontFamily": "arial", "fontSize": "14",
            "borderColor": "#1a1a1a", "borderWidth": "2.0", "borderOpacity": "1.0", "borderStyle": "normal",
            "textAlign": "center", "textAlignVertical": "middle", "color": "#1a1a1a"
        }),
        "text" => {
            json!({"color": "#1a1a1a", "fontSize": "14", "fontFamily": "arial", "textAlign": "left", "fillColor": "transparent", "fillOpacity": "1.0"})
        }
        "frame" => json!({"fillColor": "#ffffffff"}),
        _ => return None,
    })
}

fn default_geometry(kind: &str) -> Value {
    let (w, h) = match kind {
        "sticky_note" => (199.0, 228.0),
        "card" | "app_card" => (320.0, 94.0),
        "shape" => (200.0, 200.0),
        "text" => (200.0, 50.0),
        "image" => (800.0, 600.0),
        "document" => (320.0, 450.0),
        "embed" => (720.0, 405.0),
        "frame" => (800.0, 450.0),
        _ => (100.0, 100.0),
    };
    json!({"width": w, "height": h})
}

/// Checks that `parent` is a frame on the board other than the item itself.
fn check_parent(
    b: &Board,
    parent: Option<u64>,
    self_id: Option<u64>,
    prefix: &str,
) -> Result<(), FieldError> {
    let Some(p) = parent else { return Ok(()) };
    match b.items.get(&p) {
        Some(item) if item.kind == "frame" && Some(p) != self_id => Ok(()),
        Some(_) => Err(FieldError::new(
            format!("{prefix}parent.id"),
            "must be a frame",
        )),
        None => Err(FieldError::new(
            format!("{prefix}parent.id"),
            "no such frame on this board",
        )),
    }
}

fn parent_json(app: &App, board_id: &str, parent: u64) -> Value {
    json!({"id": parent.to_string(), "links": {"self": board_link(app, board_id, &format!("/items/{parent}"))}})
}

fn resource_url(app: &App, board_id: &str, id: u64, kind: &str) -> String {
    let q = if kind == "image" {
        "?format=preview&redirect=false"
    } else {
        "?redirect=false"
    };
    board_link(app, board_id, &format!("/resources/{id}{q}"))
}

/// Builds a new item's JSON.
fn build(
    app: &App,
    board_id: &str,
    id: u64,
    kind: &str,
    input: Input,
    user: &str,
    file: Option<UploadedFile>,
) -> Item {
    let now = now_iso();
    let mut data = default_data(kind);
    merge(&mut data, &Value::Object(input.data));
    match kind {
        "image" => {
            let url = if file.is_some() {
                resource_url(app, board_id, id, kind)
            } else {
                data["url"].as_str().unwrap_or_default().to_string()
            };
            data["imageUrl"] = Value::from(url);
        }
        "document" => {
            let url = if file.is_some() {
                resource_url(app, board_id, id, kind)
            } else {
                data["url"].as_str().unwrap_or_default().to_string()
            };
            data["documentUrl"] = Value::from(url);
        }
        _ => {}
    }
    let parent = input.parent.flatten();
    let mut position = json!({
        "x": 0.0, "y": 0.0, "origin": "center",
        "relativeTo": if parent.is_some() { "parent_top_left" } else { "canvas_center" },
    });
    for k in ["x", "y"] {
        if let Some(v) = input.position.get(k) {
            position[k] = v.clone();
        }
    }
    let mut geometry = default_geometry(kind);
    merge(&mut geometry, &Value::Object(input.geometry));
    let by = user_ref(user);
    let mut obj = Map::new();
    obj.insert("id".into(), Value::from(id.to_string()));
    obj.insert("type".into(), Value::from(kind));
    obj.insert("data".into(), data);
    if let Some(mut style) = default_style(kind) {
        merge(&mut style, &Value::Object(input.style));
        obj.insert("style".into(), style);
    } else if !input.style.is_empty() {
        obj.insert("style".into(), Value::Object(input.style));
    }
    obj.insert("position".into(), position);
    obj.insert("geometry".into(), geometry);
    if let Some(p) = parent {
        obj.insert("parent".into(), parent_json(app, board_id, p));
    }
    obj.insert("isSupported".into(), Value::from(true));
    obj.insert("createdAt".into(), Value::from(now.as_str()));
    obj.insert("createdBy".into(), by.clone());
    obj.insert("modifiedAt".into(), Value::from(now));
    obj.insert("modifiedBy".into(), by);
    obj.insert(
        "links".into(),
        json!({"self": board_link(app, board_id, &format!("/{}/{id}", path_of_kind(kind)))}),
    );
    Item {
        stored: Stored::new(Value::Object(obj)),
        kind: kind.to_string(),
        parent,
        tags: Vec::new(),
        file,
    }
}

/// Applies a validated update to an item.
fn apply(
    app: &App,
    board_id: &str,
    item: &mut Item,
    input: Input,
    user: &str,
    only_position: bool,
) {
    let j = &mut item.stored.json;
    if !only_position {
        if !input.data.is_empty() {
            merge(&mut j["data"], &Value::Object(input.data));
        }
        if !input.style.is_empty() {
            if j.get("style").is_none() {
                j["style"] = json!({});
            }
            merge(&mut j["style"], &Value::Object(input.style));
        }
        if !input.geometry.is_empty() {
            merge(&mut j["geometry"], &Value::Object(input.geometry));
        }
    }
    for k in ["x", "y"] {
        if let Some(v) = input.position.get(k) {
            j["position"][k] = v.clone();
        }
    }
    if let Some(parent) = input.parent {
        item.parent = parent;
        match parent {
            Some(p) => {
                j["parent"] = parent_json(app, board_id, p);
                j["position"]["relativeTo"] = Value::from("parent_top_left");
            }
            None => {
                if let Some(o) = j.as_object_mut() {
                    o.remove("parent");
                }
                j["position"]["relativeTo"] = Value::from("canvas_center");
            }
        }
    }
    j["modifiedAt"] = Value::from(now_iso());
    j["modifiedBy"] = user_ref(user);
    item.stored.refresh();
}

fn kind_of(matched: &MatchedPath) -> ApiResult<&'static str> {
    matched
        .as_str()
        .split('/')
        .nth(4)
        .and_then(kind_of_path)
        .ok_or_else(|| ApiError::not_found("Unknown item route"))
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

/// Parses a multipart body; `Err` is a 400.
async fn parts(headers: &HeaderMap, body: Bytes) -> ApiResult<Vec<Part>> {
    multipart::parse(content_type(headers).unwrap_or(""), body)
        .await
        .map_err(|e| ApiError::bad_request(format!("Malformed multipart body: {e}")))
}

fn uploaded(part: &Part, field: &str) -> ApiResult<UploadedFile> {
    if part.data.len() > MAX_FILE_BYTES {
        return Err(ApiError::too_large(format!(
            "{field}: the file is {} bytes; the limit is {MAX_FILE_BYTES} bytes (6 MB)",
            part.data.len()
        )));
    }
    Ok(UploadedFile {
        file_name: part.file_name.clone(),
        content_type: part.content_type.clone(),
        bytes: part.data.clone(),
    })
}

/// Turns the `data` part of an upload (`{title, altText, position, geometry, parent}`)
/// into an item body.
fn upload_body(data: Option<&Part>) -> ApiResult<Value> {
    let Some(part) = data else {
        return Ok(json!({}));
    };
    let v: Value = serde_json::from_slice(&part.data).map_err(|e| {
        ApiError::fields(vec![FieldError::new("data", format!("invalid JSON: {e}"))])
    })?;
    let Value::Object(mut m) = v else {
        return Err(ApiError::fields(vec![FieldError::new(
            "data",
            "must be a JSON object",
        )]));
    };
    let mut data = match m.remove("data") {
        Some(Value::Object(d)) => d,
        _ => Map::new(),
    };
    for k in ["title", "altText"] {
        if let Some(v) = m.remove(k) {
            data.insert(k.into(), v);
        }
    }
    m.insert("data".into(), Value::Object(data));
    Ok(Value::Object(m))
}

/// An upload's item body and file; `require_file` for creates.
async fn read_upload(
    headers: &HeaderMap,
    body: Bytes,
    require_file: bool,
) -> ApiResult<(Value, Option<UploadedFile>)> {
    let parts = parts(headers, body).await?;
    let resource = parts.iter().find(|p| p.name.as_deref() == Some("resource"));
    let file = match resource {
        Some(p) => Some(uploaded(p, "resource")?),
        None if require_file => {
            return Err(ApiError::fields(vec![FieldError::new(
                "resource",
                "the file part is required",
            )]))
        }
        None => None,
    };
    let body = upload_body(parts.iter().find(|p| p.name.as_deref() == Some("data")))?;
    Ok((body, file))
}

/// `POST /v2/boards/{board_id}/<kind>` (JSON, or multipart for images and documents).
pub(crate) async fn create(
    State(app): State<Shared>,
    Extension(caller): Extension<Caller>,
    matched: MatchedPath,
    Path(board_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let kind = kind_of(&matched)?;
    let (body, file) = if (kind == "image" || kind == "document")
        && multipart::is_multipart(content_type(&headers))
    {
        read_upload(&headers, body, true).await?
    } else {
        (Value::Object(json_object(&body)?), None)
    };
    let input = validate(kind, &body, true, file.is_some(), "").map_err(ApiError::fields)?;
    let mut store = app.store.write();
    let b = board_mut(&mut store, &board_id)?;
    check_parent(b, input.parent.flatten(), None, "").map_err(|e| ApiError::fields(vec![e]))?;
    let id = app.ids.numeric();
    let item = build(&app, &board_id, id, kind, input, &caller.user_id, file);
    let out = item.stored.bytes.clone();
    b.items.insert(id, item);
    Ok(bytes_json(StatusCode::CREATED, out))
}

fn find_item<'a>(b: &'a Board, item_id: &str, kind: Option<&str>) -> ApiResult<&'a Item> {
    let id = numeric_id(item_id, "Item")?;
    b.items
        .get(&id)
        .filter(|i| kind.is_none_or(|k| i.kind == k))
        .ok_or_else(|| ApiError::not_found(format!("Item {item_id} not found")))
}

/// `GET /v2/boards/{board_id}/<kind>/{item_id}`.
pub(crate) async fn get_typed(
    State(app): State<Shared>,
    matched: MatchedPath,
    Path((board_id, item_id)): Path<(String, String)>,
) -> ApiResult {
    let kind = kind_of(&matched)?;
    let store = app.store.read();
    let item = find_item(board(&store, &board_id)?, &item_id, Some(kind))?;
    Ok(bytes_json(StatusCode::OK, item.stored.bytes.clone()))
}

/// `GET /v2/boards/{board_id}/items/{item_id}`.
pub(crate) async fn get_generic(
    State(app): State<Shared>,
    Path((board_id, item_id)): Path<(String, String)>,
) -> ApiResult {
    let store = app.store.read();
    let item = find_item(board(&store, &board_id)?, &item_id, None)?;
    Ok(bytes_json(StatusCode::OK, item.stored.bytes.clone()))
}

#[allow(clippy::too_many_arguments)]
async fn update(
    app: &App,
    caller: &Caller,
    board_id: &str,
    item_id: &str,
    kind: Option<&str>,
    headers: &HeaderMap,
    body: Bytes,
) -> ApiResult {
    let id = numeric_id(item_id, "Item")?;
    let multipart_body = multipart::is_multipart(content_type(headers));
    let (body, file) = if multipart_body && matches!(kind, Some("image") | Some("document")) {
        read_upload(headers, body, false).await?
    } else {
        (json_body(&body)?, None)
    };
    let mut store = app.store.write();
    let b = board_mut(&mut store, board_id)?;
    let actual = find_item(b, item_id, kind)?.kind.clone();
    let input = validate(&actual, &body, false, true, "").map_err(ApiError::fields)?;
    check_parent(b, input.parent.flatten(), Some(id), "").map_err(|e| ApiError::fields(vec![e]))?;
    let Some(item) = b.items.get_mut(&id) else {
        return Err(ApiError::not_found(format!("Item {item_id} not found")));
    };
    if let Some(f) = file {
        item.file = Some(f);
        let url = resource_url(app, board_id, id, &actual);
        let key = if actual == "image" {
            "imageUrl"
        } else {
            "documentUrl"
        };
        item.stored.json["data"][key] = Value::from(url);
    }
    apply(app, board_id, item, input, &caller.user_id, kind.is_none());
    Ok(bytes_json(StatusCode::OK, item.stored.bytes.clone()))
}

/// `PATCH /v2/boards/{board_id}/<kind>/{item_id}`.
pub(crate) async fn update_typed(
    State(app): State<Shared>,
    Extension(caller): Extension<Caller>,
    matched: MatchedPath,
    Path((board_id, item_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let kind = kind_of(&matched)?;
    update(
        &app,
        &caller,
        &board_id,
        &item_id,
        Some(kind),
        &headers,
        body,
    )
    .await
}

/// `PATCH /v2/boards/{board_id}/items/{item_id}`: position and parent only.
pub(crate) async fn update_generic(
    State(app): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((board_id, item_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    update(&app, &caller, &board_id, &item_id, None, &headers, body).await
}

fn delete(app: &App, board_id: &str, item_id: &str, kind: Option<&str>) -> ApiResult {
    let mut store = app.store.write();
    let b = board_mut(&mut store, board_id)?;
    let id = find_item(b, item_id, kind)?;
    let id = id.stored.json["id"]
        .as_str()
        .and_then(crate::ids::parse_numeric)
        .unwrap_or(0);
    b.remove_item(id);
    Ok(no_content())
}

/// `DELETE /v2/boards/{board_id}/<kind>/{item_id}`.
pub(crate) async fn delete_typed(
    State(app): State<Shared>,
    matched: MatchedPath,
    Path((board_id, item_id)): Path<(String, String)>,
) -> ApiResult {
    let kind = kind_of(&matched)?;
    delete(&app, &board_id, &item_id, Some(kind))
}

/// `DELETE /v2/boards/{board_id}/items/{item_id}`; with `?tag_id=` it detaches a tag.
pub(crate) async fn delete_generic(
    State(app): State<Shared>,
    Path((board_id, item_id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref())?;
    if let Some(tag_id) = q.get("tag_id") {
        return super::tags::detach(&app, &board_id, &item_id, tag_id);
    }
    delete(&app, &board_id, &item_id, None)
}

/// `GET /v2/boards/{board_id}/resources/{item_id}`: an uploaded file's bytes.
pub(crate) async fn resource(
    State(app): State<Shared>,
    Path((board_id, item_id)): Path<(String, String)>,
) -> ApiResult {
    let store = app.store.read();
    let item = find_item(board(&store, &board_id)?, &item_id, None)?;
    let Some(file) = &item.file else {
        return Err(ApiError::not_found(format!(
            "Item {item_id} has no uploaded file"
        )));
    };
    let ct = file
        .content_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".to_string());
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, ct)],
        file.bytes.clone(),
    )
        .into_response())
}

/// `GET /v2/boards/{board_id}/items`: cursor paging with `type` and
/// `parent_item_id` filters; offset paging with `tag_id`.
pub(crate) async fn list(
    State(app): State<Shared>,
    Path(board_id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref())?;
    if let Some(tag) = q.get("tag_id") {
        return super::tags::items_by_tag(&app, &board_id, tag, &q);
    }
    let limit = paging::limit(&q, paging::CURSOR_LIMITS)?;
    let cursor = paging::cursor(&q)?;
    let type_filter = q.get("type");
    if let Some(t) = type_filter {
        if !LISTABLE_TYPES.contains(&t) {
            return Err(ApiError::fields(vec![FieldError::new(
                "type",
                format!("must be one of: {}", LISTABLE_TYPES.join(", ")),
            )]));
        }
    }
    let store = app.store.read();
    let b = board(&store, &board_id)?;
    let parent = match q.get("parent_item_id") {
        None => None,
        Some(p) => {
            let id = numeric_id(p, "Item")?;
            if !b.items.contains_key(&id) {
                return Err(ApiError::not_found(format!("Item {p} not found")));
            }
            Some(id)
        }
    };
    let matches = |it: &Item| {
        type_filter.is_none_or(|t| it.kind == t) && parent.is_none_or(|p| it.parent == Some(p))
    };
    let total = if type_filter.is_none() && parent.is_none() {
        b.items.len()
    } else {
        b.items.values().filter(|it| matches(it)).count()
    };
    let (page, next) = paging::take_cursor_page(
        b.items
            .range(cursor.unwrap_or(0)..)
            .filter(|(_, it)| matches(it))
            .map(|(id, it)| (*id, it)),
        limit,
    );
    let data: Vec<Bytes> = page.iter().map(|it| it.stored.bytes.clone()).collect();
    let mut filters = Vec::new();
    for key in ["type", "parent_item_id"] {
        if let Some(v) = q.get(key) {
            filters.push((key, v.to_string()));
        }
    }
    Ok(paging::cursor_page(
        &app,
        &format!("/v2/boards/{board_id}/items"),
        &filters,
        total,
        limit,
        cursor,
        next,
        &data,
    ))
}

/// `POST /v2/boards/{board_id}/items/bulk`: 1..20 items, all or nothing.
/// JSON array, or multipart with a `data` array and `resources` files (given in
/// order to the image and document items that have no `data.url`).
pub(crate) async fn bulk(
    State(app): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(board_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let (list, mut files) = if multipart::is_multipart(content_type(&headers)) {
        let parts = parts(&headers, body).await?;
        let data = parts
            .iter()
            .find(|p| p.name.as_deref() == Some("data"))
            .ok_or_else(|| {
                ApiError::fields(vec![FieldError::new("data", "the data part is required")])
            })?;
        let v: Value = serde_json::from_slice(&data.data).map_err(|e| {
            ApiError::fields(vec![FieldError::new("data", format!("invalid JSON: {e}"))])
        })?;
        let mut files = Vec::new();
        for p in parts
            .iter()
            .filter(|p| p.name.as_deref() == Some("resources"))
        {
            files.push(uploaded(p, "resources")?);
        }
        (v, files)
    } else {
        (json_body(&body)?, Vec::new())
    };
    let Value::Array(list) = list else {
        return Err(ApiError::bad_request(
            "The body must be a JSON array of items",
        ));
    };
    if list.is_empty() || list.len() > MAX_BULK_ITEMS {
        return Err(ApiError::bad_request(format!(
            "A bulk request creates 1 to {MAX_BULK_ITEMS} items; got {}",
            list.len()
        )));
    }
    // Validate everything first.
    let mut errors = Vec::new();
    let mut inputs = Vec::with_capacity(list.len());
    let mut wants_file = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let prefix = format!("{i}.");
        let kind = entry.get("type").and_then(Value::as_str).and_then(|t| {
            super::ITEM_KIND_PATHS
                .iter()
                .filter_map(|p| kind_of_path(p))
                .find(|k| *k == t)
        });
        let Some(kind) = kind else {
            errors.push(FieldError::new(
                format!("{i}.type"),
                "must be a known item type",
            ));
            inputs.push(None);
            wants_file.push(false);
            continue;
        };
        let needs_file = matches!(kind, "image" | "document")
            && entry.get("data").and_then(|d| d.get("url")).is_none();
        let from_file = needs_file && !files.is_empty();
        match validate(kind, entry, true, from_file, &prefix) {
            Ok(input) => inputs.push(Some((kind, input))),
            Err(e) => {
                errors.extend(e);
                inputs.push(None);
            }
        }
        wants_file.push(from_file);
    }
    let needed = wants_file.iter().filter(|w| **w).count();
    if errors.is_empty() && needed != files.len() {
        errors.push(FieldError::new(
            "resources",
            format!(
                "{} files were sent for {needed} image/document items without a url",
                files.len()
            ),
        ));
    }
    let mut store = app.store.write();
    let b = board_mut(&mut store, &board_id)?;
    for (i, entry) in inputs.iter().enumerate() {
        if let Some((_, input)) = entry {
            if let Err(e) = check_parent(b, input.parent.flatten(), None, &format!("{i}.")) {
                errors.push(e);
            }
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::fields(errors));
    }
    // Bulk costs level 2 per item; the gateway charged the first.
    let extra = credits(2) * (list.len() as u64 - 1);
    let quota = match app.rate.charge(&caller.token, extra) {
        Ok(q) => q,
        Err(q) => return Err(crate::gateway::too_many_requests(&q)),
    };
    let mut created = Vec::with_capacity(list.len());
    files.reverse();
    for ((kind, input), wants) in inputs.into_iter().flatten().zip(wants_file) {
        let file = if wants { files.pop() } else { None };
        let id = app.ids.numeric();
        let item = build(&app, &board_id, id, kind, input, &caller.user_id, file);
        created.push(item.stored.json.clone());
        b.items.insert(id, item);
    }
    let mut resp = json(
        StatusCode::CREATED,
        &json!({"data": created, "type": "bulk-list"}),
    );
    resp.extensions_mut().insert(Recharged(quota));
    Ok(resp)
}

/// An item's uploaded file, for [`RunningEmulator::uploaded_file`](crate::RunningEmulator::uploaded_file).
pub(crate) fn file_of(app: &App, board_id: &str, item_id: &str) -> Option<UploadedFile> {
    let store = app.store.read();
    let b = store.boards.get(board_id)?;
    b.items
        .get(&crate::ids::parse_numeric(item_id)?)?
        .file
        .clone()
}
