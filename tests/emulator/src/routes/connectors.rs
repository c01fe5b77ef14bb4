//! Connectors between items: CRUD with cursor paging.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Extension;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::boards::merge;
use super::{
    board, board_link, board_mut, bytes_json, json_object, no_content, numeric_id, user_ref, Query,
};
use crate::app::{Caller, Shared};
use crate::clock::now_iso;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::paging;
use crate::state::{Board, Stored};

const SHAPES: &[&str] = &["straight", "elbowed", "curved"];
const MAX_CAPTIONS: usize = 20;

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Connector {id} not found"))
}

/// Validates a create/update body against the board.
fn validate(b: &Board, body: &Map<String, Value>, creating: bool) -> ApiResult<()> {
    let mut errors = Vec::new();
    for end in ["startItem", "endItem"] {
        match body.get(end) {
            None if creating => errors.push(FieldError::new(end, "is required")),
            None => {}
            Some(Value::Object(o)) => match o.get("id").and_then(Value::as_str) {
                Some(id) => {
                    if !crate::ids::parse_numeric(id).is_some_and(|id| b.items.contains_key(&id)) {
                        errors.push(FieldError::new(
                            format!("{end}.id"),
                            "no such item on this board",
                        ));
                    }
                }
                None => errors.push(FieldError::new(format!("{end}.id"), "is required")),
            },
            Some(_) => errors.push(FieldError::new(end, "must be an object")),
        }
    }
    if let Some(s) = body.get("shape") {
        if !s.as_str().is_some_and(|s| SHAPES.contains(&s)) {
            errors.push(FieldError::new(
                "shape",
                "must be straight, elbowed or curved",
            ));
        }
    }
    match body.get("captions") {
        None => {}
        Some(Value::Array(c)) if c.len() <= MAX_CAPTIONS => {
            for (i, cap) in c.iter().enumerate() {
                if !cap.get("content").is_some_and(Value::is_string) {
                    errors.push(FieldError::new(
                        format!("captions.{i}.content"),
                        "is required",
                    ));
                }
            }
        }
        Some(_) => errors.push(FieldError::new(
            "captions",
            format!("must be an array of at most {MAX_CAPTIONS} captions"),
        )),
    }
    if body.get("style").is_some_and(|s| !s.is_object()) {
        errors.push(FieldError::new("style", "must be an object"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::fields(errors))
    }
}

fn end_json(app: &crate::app::App, board_id: &str, v: &Value) -> Value {
    let mut v = v.clone();
    let id = v["id"].as_str().unwrap_or_default().to_string();
    v["links"] = json!({"self": board_link(app, board_id, &format!("/items/{id}"))});
    v
}

/// `POST /v2/boards/{board_id}/connectors`.
pub(crate) async fn create(
    State(app): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(board_id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let body = json_object(&body)?;
    let mut store = app.store.write();
    let b = board_mut(&mut store, &board_id)?;
    validate(b, &body, true)?;
    let id = app.ids.numeric();
    let now = now_iso();
    let by = user_ref(&caller.user_id);
    let mut style = json!({"strokeColor": "#000000", "strokeWidth": "1.0", "strokeStyle": "normal", "startStrokeCap": "none", "endStrokeCap": "stealth"});
    if let Some(s) = body.get("style") {
        merge(&mut style, s);
    }
    let c = json!({
        "id": id.to_string(),
        "type": "connector",
        "shape": body.get("shape").cloned().unwrap_or(Value::from("curved")),
        "startItem": end_json(&app, &board_id, &body["startItem"]),
        "endItem": end_json(&app, &board_id, &body["endItem"]),
        "captions": body.get("captions").cloned().unwrap_or(json!([])),
        "style": style,
        "isSupported": true,
        "createdAt": now,
        "createdBy": by,
        "modifiedAt": now,
        "modifiedBy": by,
        "links": {"self": board_link(&app, &board_id, &format!("/connectors/{id}"))},
    });
    let stored = Stored::new(c);
    let out = stored.bytes.clone();
    b.connectors.insert(id, stored);
    // The spec declares 200 for create-connector (the item creates declare 201).
    Ok(bytes_json(StatusCode::OK, out))
}

/// `GET /v2/boards/{board_id}/connectors` (cursor paging).
pub(crate) async fn list(
    State(app): State<Shared>,
    Path(board_id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref())?;
    let limit = paging::limit(&q, paging::CURSOR_LIMITS)?;
    let cursor = paging::cursor(&q)?;
    let store = app.store.read();
    let b = board(&store, &board_id)?;
    let (page, next) = paging::take_cursor_page(
        b.connectors
            .range(cursor.unwrap_or(0)..)
            .map(|(id, c)| (*id, c)),
        limit,
    );
    let data: Vec<Bytes> = page.iter().map(|c| c.bytes.clone()).collect();
    Ok(paging::cursor_page(
        &app,
        &format!("/v2/boards/{board_id}/connectors"),
        &[],
        b.connectors.len(),
        limit,
        cursor,
        next,
        &data,
    ))
}

/// `GET /v2/boards/{board_id}/connectors/{connector_id}`.
pub(crate) async fn get(
    State(app): State<Shared>,
    Path((board_id, cid)): Path<(String, String)>,
) -> ApiResult {
    let id = numeric_id(&cid, "Connector")?;
    let store = app.store.read();
    let c = board(&store, &board_id)?
        .connectors
        .get(&id)
        .ok_or_else(|| not_found(&cid))?;
    Ok(bytes_json(StatusCode::OK, c.bytes.clone()))
}

/// `PATCH /v2/boards/{board_id}/connectors/{connector_id}`.
pub(crate) async fn update(
    State(app): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((board_id, cid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let id = numeric_id(&cid, "Connector")?;
    let body = json_object(&body)?;
    let mut store = app.store.write();
    let b = board_mut(&mut store, &board_id)?;
    if !b.connectors.contains_key(&id) {
        return Err(not_found(&cid));
    }
    validate(b, &body, false)?;
    let Some(c) = b.connectors.get_mut(&id) else {
        return Err(not_found(&cid));
    };
    for key in ["startItem", "endItem"] {
        if let Some(v) = body.get(key) {
            c.json[key] = end_json(&app, &board_id, v);
        }
    }
    for key in ["shape", "captions"] {
        if let Some(v) = body.get(key) {
            c.json[key] = v.clone();
        }
    }
    if let Some(s) = body.get("style") {
        merge(&mut c.json["style"], s);
    }
    c.json["modifiedAt"] = Value::from(now_iso());
    c.json["modifiedBy"] = user_ref(&caller.user_id);
    c.refresh();
    Ok(bytes_json(StatusCode::OK, c.bytes.clone()))
}

/// `DELETE /v2/boards/{board_id}/connectors/{connector_id}`.
pub(crate) async fn delete(
    State(app): State<Shared>,
    Path((board_id, cid)): Path<(String, String)>,
) -> ApiResult {
    let id = numeric_id(&cid, "Connector")?;
    let mut store = app.store.write();
    match board_mut(&mut store, &board_id)?.connectors.remove(&id) {
        Some(_) => Ok(no_content()),
        None => Err(not_found(&cid)),
    }
}
