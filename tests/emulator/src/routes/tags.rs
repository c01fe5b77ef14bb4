//! Tags: CRUD, attach/detach to items, an item's tags, items by tag.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::{json, Value};

use super::{
    board, board_link, board_mut, bytes_json, json, json_object, no_content, numeric_id, Query,
};
use crate::app::{App, Shared};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::paging;

/// Most tags one item may carry.
pub const MAX_TAGS_PER_ITEM: usize = 8;
/// Most tags one board may hold.
pub const MAX_TAGS_PER_BOARD: usize = 100;
const TITLE_MAX: usize = 120;
const COLORS: &[&str] = &[
    "red",
    "light_green",
    "cyan",
    "yellow",
    "magenta",
    "green",
    "blue",
    "gray",
    "violet",
    "dark_green",
    "dark_blue",
    "black",
];
/// Item types that can carry tags.
const TAGGABLE: &[&str] = &["card", "sticky_note"];

fn validate(body: &serde_json::Map<String, Value>, creating: bool) -> ApiResult<()> {
    let mut errors = Vec::new();
    match body.get("title") {
        None if creating => errors.push(FieldError::new("title", "is required")),
        None => {}
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= TITLE_MAX => {}
        Some(_) => errors.push(FieldError::new(
            "title",
            format!("must be a string of 1 to {TITLE_MAX} characters"),
        )),
    }
    if let Some(c) = body.get("fillColor") {
        if !c.as_str().is_some_and(|c| COLORS.contains(&c)) {
            errors.push(FieldError::new(
                "fillColor",
                format!("must be one of: {}", COLORS.join(", ")),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::fields(errors))
    }
}

fn tag_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Tag {id} not found"))
}

/// `POST /v2/boards/{board_id}/tags`: `{title, fillColor?}`.
pub(crate) async fn create(
    State(app): State<Shared>,
    Path(board_id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let body = json_object(&body)?;
    validate(&body, true)?;
    let mut store = app.store.write();
    let b = board_mut(&mut store, &board_id)?;
    if b.tags.len() >= MAX_TAGS_PER_BOARD {
        return Err(ApiError::bad_request(format!(
            "A board can have at most {MAX_TAGS_PER_BOARD} tags"
        )));
    }
    let id = app.ids.numeric();
    let tag = json!({
        "id": id.to_string(),
        "type": "tag",
        "title": body["title"],
        "fillColor": body.get("fillColor").cloned().unwrap_or(Value::from("red")),
        "links": {"self": board_link(&app, &board_id, &format!("/tags/{id}"))},
    });
    let out = json(StatusCode::CREATED, &tag);
    b.tags.insert(id, tag);
    Ok(out)
}

/// `GET /v2/boards/{board_id}/tags` (offset paging).
pub(crate) async fn list(
    State(app): State<Shared>,
    Path(board_id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref())?;
    let limit = paging::limit(&q, paging::OFFSET_LIMITS)?;
    let offset = paging::offset(&q)?;
    let store = app.store.read();
    let b = board(&store, &board_id)?;
    let page: Vec<Bytes> = b
        .tags
        .values()
        .skip(offset)
        .take(limit)
        .map(|t| Bytes::from(serde_json::to_vec(t).unwrap_or_default()))
        .collect();
    Ok(paging::offset_page(
        &app,
        &format!("/v2/boards/{board_id}/tags"),
        &[],
        b.tags.len(),
        offset,
        limit,
        &page,
    ))
}

/// `GET /v2/boards/{board_id}/tags/{tag_id}`.
pub(crate) async fn get(
    State(app): State<Shared>,
    Path((board_id, tag_id)): Path<(String, String)>,
) -> ApiResult {
    let id = numeric_id(&tag_id, "Tag")?;
    let store = app.store.read();
    let tag = board(&store, &board_id)?
        .tags
        .get(&id)
        .ok_or_else(|| tag_not_found(&tag_id))?;
    Ok(json(StatusCode::OK, tag))
}

/// `PATCH /v2/boards/{board_id}/tags/{tag_id}`: `{title?, fillColor?}`.
pub(crate) async fn update(
    State(app): State<Shared>,
    Path((board_id, tag_id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let id = numeric_id(&tag_id, "Tag")?;
    let body = json_object(&body)?;
    validate(&body, false)?;
    let mut store = app.store.write();
    let tag = board_mut(&mut store, &board_id)?
        .tags
        .get_mut(&id)
        .ok_or_else(|| tag_not_found(&tag_id))?;
    for key in ["title", "fillColor"] {
        if let Some(v) = body.get(key) {
            tag[key] = v.clone();
        }
    }
    Ok(json(StatusCode::OK, tag))
}

/// `DELETE /v2/boards/{board_id}/tags/{tag_id}`: also detaches it everywhere.
pub(crate) async fn delete(
    State(app): State<Shared>,
    Path((board_id, tag_id)): Path<(String, String)>,
) -> ApiResult {
    let id = numeric_id(&tag_id, "Tag")?;
    let mut store = app.store.write();
    let b = board_mut(&mut store, &board_id)?;
    if b.tags.shift_remove(&id).is_none() {
        return Err(tag_not_found(&tag_id));
    }
    for item in b.items.values_mut() {
        item.tags.retain(|t| *t != id);
    }
    Ok(no_content())
}

fn tag_id_param(q: &Query) -> ApiResult<&str> {
    q.get("tag_id")
        .ok_or_else(|| ApiError::fields(vec![FieldError::new("tag_id", "is required")]))
}

/// `POST /v2/boards/{board_id}/items/{item_id}?tag_id=`: attach (204).
pub(crate) async fn attach(
    State(app): State<Shared>,
    Path((board_id, item_id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref())?;
    let tag_id = tag_id_param(&q)?;
    let mut store = app.store.write();
    let b = board_mut(&mut store, &board_id)?;
    let tid = numeric_id(tag_id, "Tag")?;
    if !b.tags.contains_key(&tid) {
        return Err(tag_not_found(tag_id));
    }
    let iid = numeric_id(&item_id, "Item")?;
    let item = b
        .items
        .get_mut(&iid)
        .ok_or_else(|| ApiError::not_found(format!("Item {item_id} not found")))?;
    if !TAGGABLE.contains(&item.kind.as_str()) {
        return Err(ApiError::bad_request(format!(
            "Tags can be attached to cards and sticky notes only, not to {}",
            item.kind
        )));
    }
    if !item.tags.contains(&tid) {
        if item.tags.len() >= MAX_TAGS_PER_ITEM {
            return Err(ApiError::bad_request(format!(
                "An item can have at most {MAX_TAGS_PER_ITEM} tags"
            )));
        }
        item.tags.push(tid);
    }
    Ok(no_content())
}

/// `DELETE /v2/boards/{board_id}/items/{item_id}?tag_id=`: detach (204).
pub(crate) fn detach(app: &App, board_id: &str, item_id: &str, tag_id: &str) -> ApiResult {
    let mut store = app.store.write();
    let b = board_mut(&mut store, board_id)?;
    let tid = numeric_id(tag_id, "Tag")?;
    if !b.tags.contains_key(&tid) {
        return Err(tag_not_found(tag_id));
    }
    let iid = numeric_id(item_id, "Item")?;
    let item = b
        .items
        .get_mut(&iid)
        .ok_or_else(|| ApiError::not_found(format!("Item {item_id} not found")))?;
    item.tags.retain(|t| *t != tid);
    Ok(no_content())
}

/// `GET /v2/boards/{board_id}/items/{item_id}/tags`: `{"tags": [...]}`.
pub(crate) async fn item_tags(
    State(app): State<Shared>,
    Path((board_id, item_id)): Path<(String, String)>,
) -> ApiResult {
    let store = app.store.read();
    let b = board(&store, &board_id)?;
    let iid = numeric_id(&item_id, "Item")?;
    let item = b
        .items
        .get(&iid)
        .ok_or_else(|| ApiError::not_found(format!("Item {item_id} not found")))?;
    let tags: Vec<&Value> = item.tags.iter().filter_map(|t| b.tags.get(t)).collect();
    Ok(bytes_json(
        StatusCode::OK,
        Bytes::from(serde_json::to_vec(&json!({ "tags": tags })).unwrap_or_default()),
    ))
}

/// `GET /v2/boards/{board_id}/items?tag_id=` (offset paging).
pub(crate) fn items_by_tag(app: &App, board_id: &str, tag_id: &str, q: &Query) -> ApiResult {
    let limit = paging::limit(q, paging::OFFSET_LIMITS)?;
    let offset = paging::offset(q)?;
    let store = app.store.read();
    let b = board(&store, board_id)?;
    let tid = numeric_id(tag_id, "Tag")?;
    if !b.tags.contains_key(&tid) {
        return Err(tag_not_found(tag_id));
    }
    let tagged: Vec<&crate::state::Item> =
        b.items.values().filter(|i| i.tags.contains(&tid)).collect();
    let page: Vec<Bytes> = tagged
        .iter()
        .skip(offset)
        .take(limit)
        .map(|i| i.stored.bytes.clone())
        .collect();
    Ok(paging::offset_page(
        app,
        &format!("/v2/boards/{board_id}/items"),
        &[("tag_id", tag_id.to_string())],
        tagged.len(),
        offset,
        limit,
        &page,
    ))
}
