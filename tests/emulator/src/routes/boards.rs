//! Boards: create, list (offset paging), get, update, delete and copy.

use std::collections::HashMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::{board, board_link, board_mut, json_object, no_content, user_ref, Query};
use crate::app::{App, Caller, Shared};
use crate::clock::now_iso;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::paging;
use crate::state::{Board, Stored};

const NAME_MAX: usize = 60;
const DESCRIPTION_MAX: usize = 300;

fn default_policy() -> Value {
    json!({
        "permissionsPolicy": {
            "collaborationToolsStartAccess": "all_editors",
            "copyAccess": "anyone",
            "copyAccessLevel": "anyone",
            "sharingAccess": "team_members_with_editing_rights"
        },
        "sharingPolicy": {
            "access": "private",
            "inviteToAccountAndBoardLinkAccess": "no_access",
            "organizationAccess": "private",
            "teamAccess": "private"
        }
    })
}

/// Live boards repeat `policy.permissionsPolicy` and `policy.sharingPolicy` at the top level.
fn mirror_policies(board: &mut Value) {
    for key in ["permissionsPolicy", "sharingPolicy"] {
        board[key] = board["policy"][key].clone();
    }
}

/// Merges `patch` into `target` recursively (objects merge, the rest replaces).
pub(crate) fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// Validates `name`, `description`, `policy`, `teamId` of a create/update body; any other
/// field is refused as live Miro refuses it.
fn validate(body: &Map<String, Value>) -> ApiResult<()> {
    let known = ["name", "description", "policy", "teamId", "projectId"];
    let mut errors: Vec<FieldError> = body
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .map(FieldError::unsupported)
        .collect();
    match body.get("name") {
        None => {}
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= NAME_MAX => {}
        Some(_) => errors.push(FieldError::new(
            "name",
            format!("must be a string of 1 to {NAME_MAX} characters"),
        )),
    }
    match body.get("description") {
        None => {}
        Some(Value::String(s)) if s.chars().count() <= DESCRIPTION_MAX => {}
        Some(_) => errors.push(FieldError::new(
            "description",
            format!("must be a string of at most {DESCRIPTION_MAX} characters"),
        )),
    }
    if body.get("policy").is_some_and(|p| !p.is_object()) {
        errors.push(FieldError::new("policy", "must be an object"));
    }
    if body.get("teamId").is_some_and(|p| !p.is_string()) {
        errors.push(FieldError::new("teamId", "must be a string"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::fields(errors))
    }
}

/// A new board's JSON and store entry, with its owner as first member.
fn new_board(app: &App, caller: &Caller, body: &Map<String, Value>) -> Board {
    let id = app.ids.board();
    let now = now_iso();
    let user = &*caller.user_id;
    let mut policy = default_policy();
    if let Some(p) = body.get("policy") {
        merge(&mut policy, p);
    }
    let team_id = body
        .get("teamId")
        .and_then(Value::as_str)
        .unwrap_or(&app.cfg.team_id);
    let mut owner = user_ref(user);
    owner["name"] = Value::from(app.cfg.user_name.as_str());
    let board_json = json!({
        "id": id,
        "type": "board",
        "name": body.get("name").and_then(Value::as_str).unwrap_or("Untitled"),
        "description": body.get("description").and_then(Value::as_str).unwrap_or(""),
        "team": {"id": team_id, "name": app.cfg.team_name, "type": "team"},
        "policy": policy,
        "viewLink": format!("{}/app/board/{id}/", app.base_url),
        "owner": owner,
        "currentUserMembership": {"id": user, "name": app.cfg.user_name, "role": "owner", "type": "board_member"},
        "createdAt": now,
        "createdBy": owner,
        "modifiedAt": now,
        "modifiedBy": owner,
        "links": {
            "self": board_link(app, &id, ""),
            "related": board_link(app, &id, "/members?limit=20&offset=0"),
        },
        // Live boards carry a picture whose id is a string (documented as a number).
        "picture": {
            "id": app.ids.numeric().to_string(),
            "imageURL": format!("{}/emulator/board-picture.png", app.base_url),
            "type": "picture"
        },
    });
    let mut board_json = board_json;
    mirror_policies(&mut board_json);
    let mut b = Board::new(board_json);
    let member_id: u64 = user.parse().unwrap_or_else(|_| app.ids.numeric());
    b.members.insert(
        member_id,
        json!({"id": user, "name": app.cfg.user_name, "role": "owner", "type": "board_member", "email": "emulator@example.com"}),
    );
    b
}

/// `POST /v2/boards`.
pub(crate) async fn create(
    State(app): State<Shared>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> ApiResult {
    let body = json_object(&body)?;
    validate(&body)?;
    let b = new_board(&app, &caller, &body);
    let json_out = b.stored.bytes.clone();
    let id = b.stored.json["id"].as_str().unwrap_or_default().to_string();
    app.store.write().boards.insert(id, b);
    Ok(super::bytes_json(StatusCode::CREATED, json_out))
}

/// `GET /v2/boards` with `query`, `team_id`, `sort`, `offset`, `limit`.
pub(crate) async fn list(
    State(app): State<Shared>,
    Extension(caller): Extension<Caller>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref())?;
    let limit = paging::limit(&q, paging::OFFSET_LIMITS)?;
    let offset = paging::offset(&q)?;
    let needle = q.get("query").map(str::to_lowercase);
    let team = q.get("team_id");
    let sort = q.get("sort").unwrap_or("default");
    if ![
        "default",
        "last_modified",
        "last_opened",
        "last_created",
        "alphabetically",
    ]
    .contains(&sort)
    {
        return Err(ApiError::fields(vec![FieldError::new(
            "sort",
            "unknown sort order",
        )]));
    }
    let store = app.store.read();
    let mut matching: Vec<&Board> = store
        .boards
        .values()
        .filter(|b| {
            needle.as_deref().is_none_or(|n| {
                b.stored.json["name"]
                    .as_str()
                    .is_some_and(|name| name.to_lowercase().contains(n))
            }) && team.is_none_or(|t| b.stored.json["team"]["id"] == t)
                && visible_to(&app, b, &caller)
        })
        .collect();
    match sort {
        "alphabetically" => {
            matching.sort_by_key(|b| b.stored.json["name"].as_str().unwrap_or("").to_lowercase())
        }
        "last_modified" | "last_opened" => matching.reverse(),
        _ => {}
    }
    let page: Vec<Bytes> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|b| b.stored.bytes.clone())
        .collect();
    let mut filters = Vec::new();
    for key in ["query", "team_id", "sort"] {
        if let Some(v) = q.get(key) {
            filters.push((key, v.to_string()));
        }
    }
    Ok(paging::offset_page(
        &app,
        "/v2/boards",
        &filters,
        matching.len(),
        offset,
        limit,
        &page,
    ))
}

/// `GET /v2/boards/{board_id}`.
pub(crate) async fn get(State(app): State<Shared>, Path(board_id): Path<String>) -> ApiResult {
    let store = app.store.read();
    let b = board(&store, &board_id)?;
    Ok(super::bytes_json(StatusCode::OK, b.stored.bytes.clone()))
}

/// `PATCH /v2/boards/{board_id}`.
pub(crate) async fn update(
    State(app): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(board_id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let body = json_object(&body)?;
    validate(&body)?;
    let mut store = app.store.write();
    let b = board_mut(&mut store, &board_id)?;
    let j = &mut b.stored.json;
    for key in ["name", "description"] {
        if let Some(v) = body.get(key) {
            j[key] = v.clone();
        }
    }
    if let Some(p) = body.get("policy") {
        merge(&mut j["policy"], p);
        mirror_policies(j);
    }
    if let Some(t) = body.get("teamId") {
        j["team"]["id"] = t.clone();
    }
    j["modifiedAt"] = Value::from(now_iso());
    let mut by = user_ref(&caller.user_id);
    by["name"] = Value::from(app.cfg.user_name.as_str());
    j["modifiedBy"] = by;
    b.stored.refresh();
    Ok(super::bytes_json(StatusCode::OK, b.stored.bytes.clone()))
}

/// `DELETE /v2/boards/{board_id}`.
pub(crate) async fn delete(State(app): State<Shared>, Path(board_id): Path<String>) -> ApiResult {
    match app.store.write().boards.shift_remove(&board_id) {
        Some(_) => Ok(no_content()),
        None => Err(super::board_not_found(&board_id)),
    }
}

/// `PUT /v2/boards?copy_from=ID`: a new board with copies of the source's
/// items, tags, connectors and groups (all with new ids).
pub(crate) async fn copy(
    State(app): State<Shared>,
    Extension(caller): Extension<Caller>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let q = Query::parse(q.as_deref())?;
    let Some(source_id) = q.get("copy_from") else {
        return Err(ApiError::fields(vec![FieldError::new(
            "copy_from",
            "is required",
        )]));
    };
    let mut body = json_object(&body)?;
    validate(&body)?;
    let mut store = app.store.write();
    let source = board(&store, source_id)?.clone();
    if !body.contains_key("name") {
        let name = source.stored.json["name"].as_str().unwrap_or("Untitled");
        let copied: String = format!("Copy of {name}").chars().take(NAME_MAX).collect();
        body.insert("name".into(), Value::from(copied));
    }
    if !body.contains_key("description") {
        body.insert(
            "description".into(),
            source.stored.json["description"].clone(),
        );
    }
    let mut b = new_board(&app, &caller, &body);
    let new_id = b.stored.json["id"].as_str().unwrap_or_default().to_string();
    let mut remap: HashMap<u64, u64> = HashMap::new();
    for id in source
        .items
        .keys()
        .chain(source.tags.keys())
        .chain(source.connectors.keys())
    {
        remap.insert(*id, app.ids.numeric());
    }
    let map_id = |old: u64| remap.get(&old).copied().unwrap_or(old);
    let old_prefix = format!("/v2/boards/{source_id}/");
    let new_prefix = format!("/v2/boards/{new_id}/");
    let rewrite = |v: &Value| -> Value {
        // Ids and links are rewritten through the text form: old ids are unique 19-digit strings.
        let mut text = serde_json::to_string(v).unwrap_or_default();
        text = text.replace(&old_prefix, &new_prefix);
        for (old, new) in &remap {
            text = text.replace(&format!("\"{old}\""), &format!("\"{new}\""));
            text = text.replace(&format!("/{old}\""), &format!("/{new}\""));
        }
        serde_json::from_str(&text).unwrap_or(Value::Null)
    };
    for (id, tag) in &source.tags {
        b.tags.insert(map_id(*id), rewrite(tag));
    }
    for (id, item) in &source.items {
        let mut copy = item.clone();
        copy.stored = Stored::new(rewrite(&item.stored.json));
        copy.parent = item.parent.map(map_id);
        copy.tags = item.tags.iter().map(|t| map_id(*t)).collect();
        b.items.insert(map_id(*id), copy);
    }
    for (id, c) in &source.connectors {
        b.connectors
            .insert(map_id(*id), Stored::new(rewrite(&c.json)));
    }
    for members in source.groups.values() {
        b.groups.insert(
            app.ids.numeric(),
            members.iter().map(|m| map_id(*m)).collect(),
        );
    }
    let out = b.stored.bytes.clone();
    store.boards.insert(new_id, b);
    Ok(super::bytes_json(StatusCode::CREATED, out))
}

/// Whether the caller sees the board in `GET /v2/boards`: always, unless several OAuth users
/// are configured; then only the boards they are a member of.
fn visible_to(app: &App, board: &Board, caller: &Caller) -> bool {
    app.cfg.oauth_users.is_empty()
        || board
            .members
            .values()
            .any(|m| m["id"].as_str() == Some(&*caller.user_id))
}
