//! Board item groups: `{"data":{"items":[ids]}}`, cursor-paged list.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::{json, Value};

use super::{board, board_mut, json, json_object, no_content, numeric_id, Query};
use crate::app::Shared;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::paging;
use crate::state::Board;

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Group {id} not found"))
}

/// The item ids of a `{"data":{"items":[...]}}` body, all on the board.
fn items_of(b: &Board, body: &Bytes) -> ApiResult<Vec<u64>> {
    let body = json_object(body)?;
    let Some(list) = body
        .get("data")
        .and_then(|d| d.get("items"))
        .and_then(Value::as_array)
    else {
        return Err(ApiError::fields(vec![FieldError::new(
            "data.items",
            "is required",
        )]));
    };
    if list.is_empty() {
        return Err(ApiError::fields(vec![FieldError::new(
            "data.items",
            "must not be empty",
        )]));
    }
    let mut ids = Vec::with_capacity(list.len());
    let mut errors = Vec::new();
    for (i, v) in list.iter().enumerate() {
        match v.as_str().and_then(crate::ids::parse_numeric) {
            Some(id) if b.items.contains_key(&id) => {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            _ => errors.push(FieldError::new(
                format!("data.items.{i}"),
                "no such item on this board",
            )),
        }
    }
    if errors.is_empty() {
        Ok(ids)
    } else {
        Err(ApiError::fields(errors))
    }
}

fn group_json(id: u64, items: &[u64]) -> Value {
    json!({
        "id": id.to_string(),
        "type": "group",
        "data": {"items": items.iter().map(|i| i.to_string()).collect::<Vec<_>>()},
    })
}

/// `POST /v2/boards/{board_id}/groups`.
pub(crate) async fn create(
    State(app): State<Shared>,
    Path(board_id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let mut store = app.store.write();
    let b = board_mut(&mut store, &board_id)?;
    let items = items_of(b, &body)?;
    let id = app.ids.numeric();
    let out = json(StatusCode::CREATED, &group_json(id, &items));
    b.groups.insert(id, items);
    Ok(out)
}

/// `GET /v2/boards/{board_id}/groups` (cursor paging).
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
        b.groups
            .range(cursor.unwrap_or(0)..)
            .map(|(id, g)| (*id, g)),
        limit,
    );
    // take_cursor_page hands back the values; recover ids by position.
    let ids: Vec<u64> = b
        .groups
        .range(cursor.unwrap_or(0)..)
        .map(|(id, _)| *id)
        .take(page.len())
        .collect();
    let data: Vec<Bytes> = ids
        .iter()
        .zip(page)
        .map(|(id, items)| {
            Bytes::from(serde_json::to_vec(&group_json(*id, items)).unwrap_or_default())
        })
        .collect();
    Ok(paging::cursor_page(
        &app,
        &format!("/v2/boards/{board_id}/groups"),
        &[],
        b.groups.len(),
        limit,
        cursor,
        next,
        &data,
    ))
}

/// `GET /v2/boards/{board_id}/groups/{group_id}`.
pub(crate) async fn get(
    State(app): State<Shared>,
    Path((board_id, gid)): Path<(String, String)>,
) -> ApiResult {
    let id = numeric_id(&gid, "Group")?;
    let store = app.store.read();
    let items = board(&store, &board_id)?
        .groups
        .get(&id)
        .ok_or_else(|| not_found(&gid))?;
    Ok(json(StatusCode::OK, &group_json(id, items)))
}

/// `PUT /v2/boards/{board_id}/groups/{group_id}`: replaces the items.
pub(crate) async fn update(
    State(app): State<Shared>,
    Path((board_id, gid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let id = numeric_id(&gid, "Group")?;
    let mut store = app.store.write();
    let b = board_mut(&mut store, &board_id)?;
    if !b.groups.contains_key(&id) {
        return Err(not_found(&gid));
    }
    let items = items_of(b, &body)?;
    let out = json(StatusCode::OK, &group_json(id, &items));
    b.groups.insert(id, items);
    Ok(out)
}

/// `DELETE /v2/boards/{board_id}/groups/{group_id}`; `?delete_items=true` also
/// deletes the grouped items.
pub(crate) async fn delete(
    State(app): State<Shared>,
    Path((board_id, gid)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref())?;
    let id = numeric_id(&gid, "Group")?;
    let mut store = app.store.write();
    let b = board_mut(&mut store, &board_id)?;
    let Some(items) = b.groups.remove(&id) else {
        return Err(not_found(&gid));
    };
    if q.get("delete_items") == Some("true") {
        for item in items {
            b.remove_item(item);
        }
    }
    Ok(no_content())
}
