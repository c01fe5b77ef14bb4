//! The organisation: its members, teams and team members, listed with cursor
//! paging (`limit` 1..=100, default 100) and read one at a time; teams are
//! created, renamed and deleted, and team members invited (by email; 409 for
//! someone already in the team), given another role and removed.
//!
//! One organisation exists, with the id [`crate::DEFAULT_ORG_ID`]; it is empty
//! unless [`EmulatorBuilder::enterprise`](crate::EmulatorBuilder::enterprise)
//! seeds it.

use std::collections::BTreeMap;

use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Value};

use super::{bytes_json, json, json_object, no_content, numeric_id, Query};
use crate::app::{App, Caller, Shared};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::paging;
use crate::state::{Org, Store, Stored, Team};

/// Bounds of `limit` for the enterprise lists: 1..=100, default 100.
pub(crate) const ENTERPRISE_LIMITS: (usize, usize, usize) = (1, 100, 100);

/// At most this many addresses in the `emails` filter of organisation members.
const MAX_EMAILS: usize = 10;

const ORG_ROLES: &[&str] = &[
    "organization_internal_admin",
    "organization_internal_user",
    "organization_external_user",
    "organization_team_guest_user",
    "unknown",
];

const LICENSES: &[&str] = &[
    "advanced",
    "standard",
    "basic",
    "full",
    "occasional",
    "free",
    "free_restricted",
    "full_trial",
    "unknown",
];

/// Seeds the organisation: `org_members` members, `teams` teams of
/// `members_per_team` members each. Team members are organisation members
/// (taken in turn); a team larger than the organisation is filled up with
/// external (`non_team`) users.
pub(crate) fn seed(app: &App, org_members: usize, teams: usize, members_per_team: usize) {
    let now = crate::clock::now_iso();
    let admin = app.cfg.user_id.clone();
    let mut member_ids = Vec::with_capacity(org_members);
    let mut members = BTreeMap::new();
    for i in 0..org_members {
        let id = app.ids.numeric();
        member_ids.push(id);
        let role = match i % 20 {
            0 => "organization_internal_admin",
            19 => "organization_external_user",
            _ => "organization_internal_user",
        };
        let license = match i % 4 {
            0 | 1 => "full",
            2 => "occasional",
            _ => "free",
        };
        let mut m = json!({
            "id": id.to_string(),
            "active": i % 10 != 9,
            "email": format!("member{}@emulator.example.com", i + 1),
            "license": license,
            "licenseAssignedAt": now,
            "lastActivityAt": now,
            "role": role,
            "type": "organization-member",
        });
        if role == "organization_internal_admin" {
            m["adminRoles"] = json!([{"type": "prebuilt", "name": "Content Admin"}]);
        }
        members.insert(id, Stored::new(m));
    }
    let mut team_map = BTreeMap::new();
    let mut next_user = 0usize;
    for t in 0..teams {
        let team_id = app.ids.numeric();
        let mut team_members = BTreeMap::new();
        for j in 0..members_per_team {
            let (user_id, role) = if j < org_members {
                let id = member_ids[(next_user + j) % org_members];
                (id, if j == 0 { "admin" } else { "member" })
            } else {
                (app.ids.numeric(), "non_team")
            };
            team_members.insert(
                user_id,
                Stored::new(json!({
                    "id": user_id.to_string(),
                    "role": role,
                    "teamId": team_id.to_string(),
                    "createdAt": now,
                    "createdBy": admin,
                    "modifiedAt": now,
                    "modifiedBy": admin,
                    "type": "team-member",
                })),
            );
        }
        next_user += members_per_team.min(org_members);
        team_map.insert(
            team_id,
            Team {
                stored: Stored::new(json!({
                    "id": team_id.to_string(),
                    "name": format!("Team {}", t + 1),
                    "type": "team",
                })),
                members: team_members,
            },
        );
    }
    let mut store = app.store.write();
    store.org.members = members;
    store.org.teams = team_map;
}

fn org<'a>(store: &'a crate::state::Store, org_id: &str) -> ApiResult<&'a Org> {
    if store.org.id == org_id {
        Ok(&store.org)
    } else {
        Err(ApiError::not_found(format!(
            "Organization {org_id} not found"
        )))
    }
}

fn team<'a>(o: &'a Org, team_id: &str) -> ApiResult<&'a Team> {
    let id = numeric_id(team_id, "Team")?;
    o.teams
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("Team {team_id} not found")))
}

fn org_mut<'a>(store: &'a mut Store, org_id: &str) -> ApiResult<&'a mut Org> {
    if store.org.id == org_id {
        Ok(&mut store.org)
    } else {
        Err(ApiError::not_found(format!(
            "Organization {org_id} not found"
        )))
    }
}

fn team_mut<'a>(o: &'a mut Org, team_id: &str) -> ApiResult<&'a mut Team> {
    let id = numeric_id(team_id, "Team")?;
    o.teams
        .get_mut(&id)
        .ok_or_else(|| ApiError::not_found(format!("Team {team_id} not found")))
}

/// The `name` of a team body: required on create, optional on update.
fn team_name(body: &serde_json::Map<String, Value>, required: bool) -> ApiResult<Option<String>> {
    match body.get("name") {
        Some(Value::String(n)) if !n.trim().is_empty() => Ok(Some(n.clone())),
        None if !required => Ok(None),
        _ => Err(ApiError::fields(vec![FieldError::new(
            "name",
            "must be a non-empty string",
        )])),
    }
}

/// A team member's `role`: `member` (the default) or `admin`.
fn team_role(v: Option<&Value>) -> ApiResult<Option<&'static str>> {
    match v {
        None => Ok(None),
        Some(Value::String(r)) if r == "member" => Ok(Some("member")),
        Some(Value::String(r)) if r == "admin" => Ok(Some("admin")),
        Some(_) => Err(ApiError::fields(vec![FieldError::new(
            "role",
            "must be member or admin",
        )])),
    }
}

/// `POST /v2/orgs/{org_id}/teams`: `{name}`.
pub(crate) async fn create_team(
    State(app): State<Shared>,
    Path(org_id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let body = json_object(&body)?;
    let name = team_name(&body, true)?.unwrap_or_default();
    let mut store = app.store.write();
    let o = org_mut(&mut store, &org_id)?;
    let id = app.ids.numeric();
    let stored = Stored::new(json!({"id": id.to_string(), "name": name, "type": "team"}));
    let out = bytes_json(StatusCode::CREATED, stored.bytes.clone());
    o.teams.insert(
        id,
        Team {
            stored,
            members: BTreeMap::new(),
        },
    );
    Ok(out)
}

/// `PATCH /v2/orgs/{org_id}/teams/{team_id}`: `{name?}`.
pub(crate) async fn update_team(
    State(app): State<Shared>,
    Path((org_id, team_id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let body = json_object(&body)?;
    let name = team_name(&body, false)?;
    let mut store = app.store.write();
    let t = team_mut(org_mut(&mut store, &org_id)?, &team_id)?;
    if let Some(n) = name {
        t.stored.json["name"] = Value::from(n);
        t.stored.refresh();
    }
    Ok(bytes_json(StatusCode::OK, t.stored.bytes.clone()))
}

/// `DELETE /v2/orgs/{org_id}/teams/{team_id}`.
pub(crate) async fn delete_team(
    State(app): State<Shared>,
    Path((org_id, team_id)): Path<(String, String)>,
) -> ApiResult {
    let id = numeric_id(&team_id, "Team")?;
    let mut store = app.store.write();
    match org_mut(&mut store, &org_id)?.teams.remove(&id) {
        Some(_) => Ok(no_content()),
        None => Err(ApiError::not_found(format!("Team {team_id} not found"))),
    }
}

/// `POST /v2/orgs/{org_id}/teams/{team_id}/members`: `{email, role?}`. An
/// address no organisation member has joins the organisation too; someone
/// already in the team is a 409.
pub(crate) async fn invite_team_member(
    State(app): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((org_id, team_id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let body = json_object(&body)?;
    let email = match body.get("email") {
        Some(Value::String(e))
            if e.split_once('@')
                .is_some_and(|(u, d)| !u.is_empty() && d.contains('.')) =>
        {
            e.to_ascii_lowercase()
        }
        _ => {
            return Err(ApiError::fields(vec![FieldError::new(
                "email",
                "must be an email address",
            )]))
        }
    };
    let role = team_role(body.get("role"))?.unwrap_or("member");
    let now = crate::clock::now_iso();
    let mut store = app.store.write();
    let o = org_mut(&mut store, &org_id)?;
    let team_numeric = numeric_id(&team_id, "Team")?;
    if !o.teams.contains_key(&team_numeric) {
        return Err(ApiError::not_found(format!("Team {team_id} not found")));
    }
    let existing = o
        .members
        .iter()
        .find(|(_, m)| {
            m.json["email"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(&email))
        })
        .map(|(id, _)| *id);
    let user_id = match existing {
        Some(id) => id,
        None => {
            let id = app.ids.numeric();
            o.members.insert(
                id,
                Stored::new(json!({
                    "id": id.to_string(),
                    "active": true,
                    "email": email,
                    "license": "full",
                    "licenseAssignedAt": now,
                    "role": "organization_internal_user",
                    "type": "organization-member",
                })),
            );
            id
        }
    };
    let t = team_mut(o, &team_id)?;
    if t.members.contains_key(&user_id) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("{email} is already a member of team {team_id}"),
        ));
    }
    let member = Stored::new(json!({
        "id": user_id.to_string(),
        "role": role,
        "teamId": team_id,
        "createdAt": now,
        "createdBy": &*caller.user_id,
        "modifiedAt": now,
        "modifiedBy": &*caller.user_id,
        "type": "team-member",
    }));
    let out = bytes_json(StatusCode::CREATED, member.bytes.clone());
    t.members.insert(user_id, member);
    Ok(out)
}

/// `PATCH /v2/orgs/{org_id}/teams/{team_id}/members/{member_id}`: `{role?}`.
pub(crate) async fn update_team_member(
    State(app): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((org_id, team_id, member_id)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let body = json_object(&body)?;
    let role = team_role(body.get("role"))?;
    let id = numeric_id(&member_id, "Team member")?;
    let mut store = app.store.write();
    let t = team_mut(org_mut(&mut store, &org_id)?, &team_id)?;
    let m = t
        .members
        .get_mut(&id)
        .ok_or_else(|| ApiError::not_found(format!("Team member {member_id} not found")))?;
    if let Some(r) = role {
        m.json["role"] = Value::from(r);
        m.json["modifiedAt"] = Value::from(crate::clock::now_iso());
        m.json["modifiedBy"] = Value::from(&*caller.user_id);
        m.refresh();
    }
    Ok(bytes_json(StatusCode::OK, m.bytes.clone()))
}

/// `DELETE /v2/orgs/{org_id}/teams/{team_id}/members/{member_id}`.
pub(crate) async fn delete_team_member(
    State(app): State<Shared>,
    Path((org_id, team_id, member_id)): Path<(String, String, String)>,
) -> ApiResult {
    let id = numeric_id(&member_id, "Team member")?;
    let mut store = app.store.write();
    let t = team_mut(org_mut(&mut store, &org_id)?, &team_id)?;
    match t.members.remove(&id) {
        Some(_) => Ok(no_content()),
        None => Err(ApiError::not_found(format!(
            "Team member {member_id} not found"
        ))),
    }
}

/// A cursor page of Miro's enterprise lists:
/// `{data, cursor?, limit, size, type:"cursor-list"}`.
fn enterprise_page<'a>(entries: impl Iterator<Item = (u64, &'a Stored)>, limit: usize) -> Response {
    let (page, next) = paging::take_cursor_page(entries, limit);
    let mut out = Vec::with_capacity(96 + page.iter().map(|s| s.bytes.len()).sum::<usize>());
    out.extend_from_slice(b"{\"data\":[");
    for (i, s) in page.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&s.bytes);
    }
    out.push(b']');
    if let Some(n) = next {
        out.extend_from_slice(format!(",\"cursor\":\"{n}\"").as_bytes());
    }
    out.extend_from_slice(
        format!(
            ",\"limit\":{limit},\"size\":{},\"type\":\"cursor-list\"}}",
            page.len()
        )
        .as_bytes(),
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        out,
    )
        .into_response()
}

fn one_of(q: &Query, name: &str, allowed: &[&str]) -> ApiResult<Option<String>> {
    match q.get(name) {
        None => Ok(None),
        Some(v) if allowed.contains(&v) => Ok(Some(v.to_string())),
        Some(_) => Err(ApiError::fields(vec![FieldError::new(
            name,
            format!("must be one of: {}", allowed.join(", ")),
        )])),
    }
}

/// `GET /v2/orgs/{org_id}/members`: cursor paging, filters `role`, `license`,
/// `active`; `emails` (comma-separated, at most 10) answers a plain array.
pub(crate) async fn members(
    State(app): State<Shared>,
    Path(org_id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref())?;
    let limit = paging::limit(&q, ENTERPRISE_LIMITS)?;
    let cursor = paging::cursor(&q)?;
    let store = app.store.read();
    let o = org(&store, &org_id)?;
    if let Some(emails) = q.get("emails").filter(|e| !e.trim().is_empty()) {
        let wanted: Vec<String> = emails
            .split(',')
            .map(|e| e.trim().to_ascii_lowercase())
            .filter(|e| !e.is_empty())
            .collect();
        if wanted.len() > MAX_EMAILS {
            return Err(ApiError::fields(vec![FieldError::new(
                "emails",
                format!("at most {MAX_EMAILS} emails"),
            )]));
        }
        let found: Vec<&Value> = o
            .members
            .values()
            .filter(|m| {
                m.json["email"]
                    .as_str()
                    .is_some_and(|e| wanted.contains(&e.to_ascii_lowercase()))
            })
            .map(|m| &m.json)
            .collect();
        return Ok(json(StatusCode::OK, &json!(found)));
    }
    let role = one_of(&q, "role", ORG_ROLES)?;
    let license = one_of(&q, "license", LICENSES)?;
    let active = match q.get("active") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return Err(ApiError::fields(vec![FieldError::new(
                "active",
                "must be true or false",
            )]))
        }
    };
    let matches = |m: &Stored| {
        role.as_deref().is_none_or(|r| m.json["role"] == r)
            && license.as_deref().is_none_or(|l| m.json["license"] == l)
            && active.is_none_or(|a| m.json["active"] == a)
    };
    Ok(enterprise_page(
        o.members
            .range(cursor.unwrap_or(0)..)
            .filter(|(_, m)| matches(m))
            .map(|(id, m)| (*id, m)),
        limit,
    ))
}

/// `GET /v2/orgs/{org_id}/members/{member_id}`.
pub(crate) async fn member(
    State(app): State<Shared>,
    Path((org_id, member_id)): Path<(String, String)>,
) -> ApiResult {
    let store = app.store.read();
    let o = org(&store, &org_id)?;
    let id = numeric_id(&member_id, "Organization member")?;
    let m = o
        .members
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("Organization member {member_id} not found")))?;
    Ok(bytes_json(StatusCode::OK, m.bytes.clone()))
}

/// `GET /v2/orgs/{org_id}/teams`: cursor paging, filter `name` (case-insensitive
/// substring).
pub(crate) async fn teams(
    State(app): State<Shared>,
    Path(org_id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref())?;
    let limit = paging::limit(&q, ENTERPRISE_LIMITS)?;
    let cursor = paging::cursor(&q)?;
    let name = q.get("name").map(str::to_lowercase);
    let store = app.store.read();
    let o = org(&store, &org_id)?;
    Ok(enterprise_page(
        o.teams
            .range(cursor.unwrap_or(0)..)
            .filter(|(_, t)| {
                name.as_deref().is_none_or(|n| {
                    t.stored.json["name"]
                        .as_str()
                        .is_some_and(|s| s.to_lowercase().contains(n))
                })
            })
            .map(|(id, t)| (*id, &t.stored)),
        limit,
    ))
}

/// `GET /v2/orgs/{org_id}/teams/{team_id}`.
pub(crate) async fn get_team(
    State(app): State<Shared>,
    Path((org_id, team_id)): Path<(String, String)>,
) -> ApiResult {
    let store = app.store.read();
    let t = team(org(&store, &org_id)?, &team_id)?;
    Ok(bytes_json(StatusCode::OK, t.stored.bytes.clone()))
}

/// `GET /v2/orgs/{org_id}/teams/{team_id}/members`: cursor paging, filter `role`.
pub(crate) async fn team_members(
    State(app): State<Shared>,
    Path((org_id, team_id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref())?;
    let limit = paging::limit(&q, ENTERPRISE_LIMITS)?;
    let cursor = paging::cursor(&q)?;
    let role = q.get("role");
    let store = app.store.read();
    let t = team(org(&store, &org_id)?, &team_id)?;
    Ok(enterprise_page(
        t.members
            .range(cursor.unwrap_or(0)..)
            .filter(|(_, m)| role.is_none_or(|r| m.json["role"] == r))
            .map(|(id, m)| (*id, m)),
        limit,
    ))
}

/// `GET /v2/orgs/{org_id}/teams/{team_id}/members/{member_id}`.
pub(crate) async fn team_member(
    State(app): State<Shared>,
    Path((org_id, team_id, member_id)): Path<(String, String, String)>,
) -> ApiResult {
    let store = app.store.read();
    let t = team(org(&store, &org_id)?, &team_id)?;
    let id = numeric_id(&member_id, "Team member")?;
    let m = t
        .members
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("Team member {member_id} not found")))?;
    Ok(bytes_json(StatusCode::OK, Bytes::clone(&m.bytes)))
}
