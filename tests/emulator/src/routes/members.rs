//! Board members: share (invite by email), list (offset paging), get, update, remove.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::{json, Value};

use super::{board, board_link, board_mut, json, json_object, no_content, numeric_id, Query};
use crate::app::Shared;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::paging;

/// The roles of the spec's `BoardMembersInvite` and `BoardMemberChanges` (`BoardRole`).
const ROLES: &[&str] = &["viewer", "commenter", "editor", "coowner", "owner"];

/// The role of a share or update body (`default` when absent). `owner` is given as
/// `coowner`: the spec documents that inviting with `owner` "has the same effect as the role
/// `coowner`" (and a board keeps its one owner); any other value, `guest` included, is a 400.
fn check_role(v: Option<&Value>, default: &'static str) -> ApiResult<&'static str> {
    let known = match v {
        None => return Ok(default),
        Some(Value::String(r)) => ROLES.iter().copied().find(|x| x == r),
        Some(_) => None,
    };
    match known {
        Some("owner") => Ok("coowner"),
        Some(role) => Ok(role),
        None => Err(ApiError::fields(vec![FieldError::new(
            "role",
            format!("must be one of: {}", ROLES.join(", ")),
        )])),
    }
}

/// Whether `email` is an address the emulator invites. The rule (Miro documents none): at
/// most 254 characters; one `@`; a local part of 1 to 64 characters of ASCII letters,
/// digits and ``!#$%&'*+/=?^_`{|}~-``, with dots between them (no leading, trailing or
/// doubled dot, no quoted forms); a domain of at least two dot-separated labels of 1 to
/// 63 ASCII letters, digits or hyphens, no label starting or ending with a hyphen, and a
/// top-level label that is not all digits (no IP addresses). So no spaces anywhere and no
/// internationalised addresses.
pub(crate) fn valid_email(email: &str) -> bool {
    const LOCAL_SPECIALS: &str = "!#$%&'*+/=?^_`{|}~-";
    if email.len() > 254 {
        return false;
    }
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let local_ok = (1..=64).contains(&local.len())
        && local.split('.').all(|atom| {
            !atom.is_empty()
                && atom
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || LOCAL_SPECIALS.contains(c))
        });
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()));
    local_ok && domain_ok
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
///
/// Each address is invited on its own: one that is not valid ([`valid_email`]) is listed in
/// `failed` with the reason `INVITATION_FAILED` (the one reason Miro documents), the others
/// in `successful` by member id. An address that is already a member's (compared without
/// case) keeps its member and role: sharing adds members, `PATCH .../members/{id}` changes
/// roles. Each member id is listed once.
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
    let mut successful: Vec<u64> = Vec::new();
    let mut failed = Vec::new();
    for email in emails {
        if !valid_email(email) {
            failed.push(json!({"email": email, "reason": "INVITATION_FAILED"}));
            continue;
        }
        let existing = b.members.iter().find_map(|(id, m)| {
            m["email"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
                .then_some(*id)
        });
        let id = match existing {
            Some(id) => id,
            None => {
                let id = app.ids.numeric();
                let name = email.split('@').next().unwrap_or(email);
                b.members.insert(
                    id,
                    json!({"id": id.to_string(), "name": name, "role": role, "type": "board_member", "email": email}),
                );
                id
            }
        };
        if !successful.contains(&id) {
            successful.push(id);
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

/// `PATCH /v2/boards/{board_id}/members/{board_member_id}`: `{role}`. `owner` gives
/// `coowner`, as on invites (the spec lists `owner` here too without saying what it does).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_follow_the_documented_rule() {
        for ok in [
            "ann@example.com",
            "first.last+tag@sub.example.co.uk",
            "o'neil@example.com",
            "x@a-b.io",
        ] {
            assert!(valid_email(ok), "{ok}");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long_label = format!("a@{}.com", "b".repeat(64));
        for bad in [
            "a b@example.com",
            " ann@example.com",
            "ann@example.com ",
            "nope",
            "@example.com",
            "ann@",
            "ann@localhost",
            "ann@@example.com",
            "a@b@example.com",
            ".ann@example.com",
            "ann.@example.com",
            "a..b@example.com",
            "\"a b\"@example.com",
            "ann@-example.com",
            "ann@example-.com",
            "ann@example..com",
            "ann@127.0.0.1",
            "jörg@example.de",
            "ann@exämple.de",
            long_local.as_str(),
            long_label.as_str(),
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn owner_is_coowner_and_guest_is_refused() {
        let role = |v: Value| check_role(Some(&v), "commenter");
        assert_eq!(role(json!("owner")).unwrap(), "coowner");
        assert_eq!(role(json!("editor")).unwrap(), "editor");
        assert!(role(json!("guest")).is_err());
        assert!(role(json!(3)).is_err());
        assert_eq!(check_role(None, "commenter").unwrap(), "commenter");
    }
}
