//! Board members: share (invite by email), list (offset paging), get, update, remove.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::{json, Value};

use super::{board, board_link, board_mut, json, json_object, no_content, numeric_id, Query};
use crate::app::Shared;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::paging;

/// Roles a member can be given.
const ROLES: &[&str] = &["viewer", "commenter", "editor", "coowner", "owner", "guest"];

fn check_role(v: Option<&Value>, default: &'static str) -> ApiResult<String> {
    match v {
        None => Ok(default.to_string()),
        Some(Value::String(r)) if ROLES.contains(&r.as_str()) && r != "owner" => Ok(r.clone()),
        Some(_) => Err(ApiError::fields(vec![FieldError::new(
            "role",
            "must be one of viewer, commenter, editor, coowner, guest",
        )])),
    }
}

fn member_view(app: &crate::app::App, board_id: &str, m: &Value) -> Value {
    let mut v = m.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("email");
        let id = o
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        o.insert(
            "links".into(),
            json!({"self": board_link(app, board_id, &format!("/members/{id}"))}),
        );
    }
    v
}

/// `POST /v2/boards/{board_id}/members`: `{emails, role?, message?}`.
pub(crate) async fn share(
    State(app): State<Shared>,
    Path(board_id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let body = json_object(&body)?;
    let role = check_role(body.get("role"), "commenter")?;
    let emails: Vec<&str> = match body.get("emails") {
        Some(Value::Array(list)) if !list.is_empty() && list.len() <= 20 => {
            let mut out = Vec::new();
            for (i, e) in list.iter().enumerate() {
                match e.as_str() {
                    Some(s) => out.push(s),
                    None => {
                        return Err(ApiError::fields(vec![FieldError::new(
                            format!("emails.{i}"),
                            "must be a string",
                        )]))
                    }
                }
            }
            out
        }
        _ => {
            return Err(ApiError::fields(vec![FieldError::new(
                "emails",
                "must be an array of 1 to 20 email addresses",
            )]))
        }
    };
    let mut store = app.store.write();
    let b = board_mut(&mut store, &board_id)?;
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    for email in emails {
        let valid = email
            .split_once('@')
            .is_some_and(|(u, d)| !u.is_empty() && d.contains('.'));
        if !valid {
            failed.push(json!({"email": email, "reason": "invalid email address"}));
            continue;
        }
        let existing = b.members.iter_mut().find(|(_, m)| m["email"] == email);
        match existing {
            Some((id, m)) => {
                if m["role"] != "owner" {
                    m["role"] = Value::from(role.as_str());
                }
                successful.push(Value::from(*id));
            }
            None => {
                let id = app.ids.numeric();
                let name = email.split('@').next().unwrap_or(email);
                b.members.insert(
                    id,
                    json!({"id": id.to_string(), "name": name, "role": role, "type": "board_member", "email": email}),
                );
                successful.push(Value::from(id));
            }
        }
    }
    Ok(json(
        StatusCode::CREATED,
        &json!({"successful": successful, "failed": failed}),
    ))
}

/// `GET /v2/boards/{board_id}/members` (offset paging).
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
        .members
        .values()
        .skip(offset)
        .take(limit)
        .map(|m| {
            Bytes::from(serde_json::to_vec(&member_view(&app, &board_id, m)).unwrap_or_default())
        })
        .collect();
    Ok(paging::offset_page(
        &app,
        &format!("/v2/boards/{board_id}/members"),
        &[],
        b.members.len(),
        offset,
        limit,
        &page,
    ))
}

/// `GET /v2/boards/{board_id}/members/{board_member_id}`.
pub(crate) async fn get(
    State(app): State<Shared>,
    Path((board_id, member_id)): Path<(String, String)>,
) -> ApiResult {
    let id = numeric_id(&member_id, "Board member")?;
    let store = app.store.read();
    let b = board(&store, &board_id)?;
    let m = b
        .members
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("Board member {member_id} not found")))?;
    Ok(json(StatusCode::OK, &member_view(&app, &board_id, m)))
}

/// `PATCH /v2/boards/{board_id}/members/{board_member_id}`: `{role}`.
pub(crate) async fn update(
    State(app): State<Shared>,
    Path((board_id, member_id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let id = numeric_id(&member_id, "Board member")?;
    let body = json_object(&body)?;
    let role = check_role(body.get("role"), "commenter")?;
    let mut store = app.store.write();
    let b = board_mut(&mut store, &board_id)?;
    let m = b
        .members
        .get_mut(&id)
        .ok_or_else(|| ApiError::not_found(format!("Board member {member_id} not found")))?;
    if m["role"] == "owner" {
        return Err(ApiError::bad_request(
            "The board owner's role cannot be changed",
        ));
    }
    m["role"] = Value::from(role);
    let view = member_view(&app, &board_id, m);
    Ok(json(StatusCode::OK, &view))
}

/// `DELETE /v2/boards/{board_id}/members/{board_member_id}`.
pub(crate) async fn delete(
    State(app): State<Shared>,
    Path((board_id, member_id)): Path<(String, String)>,
) -> ApiResult {
    let id = numeric_id(&member_id, "Board member")?;
    let mut store = app.store.write();
    let b = board_mut(&mut store, &board_id)?;
    match b.members.get(&id) {
        None => Err(ApiError::not_found(format!(
            "Board member {member_id} not found"
        ))),
        Some(m) if m["role"] == "owner" => {
            Err(ApiError::bad_request("The board owner cannot be removed"))
        }
        Some(_) => {
            b.members.shift_remove(&id);
            Ok(no_content())
        }
    }
}
