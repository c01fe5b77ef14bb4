//! The organisation: its members, teams and team members, listed with cursor
//! paging (`limit` 1..=100, default 100) and read one at a time.
//!
//! One organisation exists, with the id [`crate::DEFAULT_ORG_ID`]; it is empty
//! unless [`EmulatorBuilder::enterprise`](crate::EmulatorBuilder::enterprise)
//! seeds it.

use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Value};

use super::{bytes_json, json, numeric_id, Query};
use crate::app::{App, Shared};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::paging;
use crate::state::{Org, Stored, Team};

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
