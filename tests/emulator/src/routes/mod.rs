//! HTTP routes: the router, and helpers shared by the handlers.

pub(crate) mod boards;
pub(crate) mod comments;
pub(crate) mod connectors;
pub(crate) mod enterprise;
pub(crate) mod groups;
pub(crate) mod items;
pub(crate) mod members;
pub(crate) mod tags;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use serde_json::Value;

use crate::app::{App, Shared};
use crate::error::{ApiError, ApiResult};
use crate::state::Board;
use crate::{fallback, gateway, oauth};

/// Path segments of the typed item routes, e.g. `/v2/boards/{board_id}/sticky_notes`.
pub const ITEM_KIND_PATHS: &[&str] = &[
    "sticky_notes",
    "cards",
    "app_cards",
    "shapes",
    "texts",
    "images",
    "documents",
    "embeds",
    "frames",
];

/// The item `type` of a typed route's path segment.
pub(crate) fn kind_of_path(segment: &str) -> Option<&'static str> {
    Some(match segment {
        "sticky_notes" => "sticky_note",
        "cards" => "card",
        "app_cards" => "app_card",
        "shapes" => "shape",
        "texts" => "text",
        "images" => "image",
        "documents" => "document",
        "embeds" => "embed",
        "frames" => "frame",
        _ => return None,
    })
}

/// The typed route's path segment of an item `type`.
pub(crate) fn path_of_kind(kind: &str) -> &'static str {
    ITEM_KIND_PATHS
        .iter()
        .copied()
        .find(|p| kind_of_path(p) == Some(kind))
        .unwrap_or("items")
}

/// Builds the router with every route, the gateway and the fallback.
pub(crate) fn router(app: Shared) -> Router {
    let mut r = Router::new()
        .route(
            "/v2/boards",
            get(boards::list).post(boards::create).put(boards::copy),
        )
        .route(
            "/v2/boards/{board_id}",
            get(boards::get)
                .patch(boards::update)
                .delete(boards::delete),
        )
        .route(
            "/v2/boards/{board_id}/members",
            get(members::list).post(members::share),
        )
        .route(
            "/v2/boards/{board_id}/members/{board_member_id}",
            get(members::get)
                .patch(members::update)
                .delete(members::delete),
        )
        .route("/v2/boards/{board_id}/items", get(items::list))
        .route("/v2/boards/{board_id}/items/bulk", post(items::bulk))
        .route(
            "/v2/boards/{board_id}/items/{item_id}",
            get(items::get_generic)
                .patch(items::update_generic)
                .delete(items::delete_generic)
                .post(tags::attach),
        )
        .route(
            "/v2/boards/{board_id}/items/{item_id}/tags",
            get(tags::item_tags),
        )
        .route(
            "/v2/boards/{board_id}/resources/{item_id}",
            get(items::resource),
        )
        .route(
            "/v2/boards/{board_id}/tags",
            get(tags::list).post(tags::create),
        )
        .route(
            "/v2/boards/{board_id}/tags/{tag_id}",
            get(tags::get).patch(tags::update).delete(tags::delete),
        )
        .route(
            "/v2/boards/{board_id}/connectors",
            get(connectors::list).post(connectors::create),
        )
        .route(
            "/v2/boards/{board_id}/connectors/{connector_id}",
            get(connectors::get)
                .patch(connectors::update)
                .delete(connectors::delete),
        )
        .route(
            "/v2/boards/{board_id}/groups",
            get(groups::list).post(groups::create),
        )
        // The spec's "items of a group" answer; without this route the group
        // route would take `items` for a group id.
        .route("/v2/boards/{board_id}/groups/items", get(fallback::handle))
        .route(
            "/v2/boards/{board_id}/groups/{group_id}",
            get(groups::get).put(groups::update).delete(groups::delete),
        )
        .route("/v2/orgs/{org_id}/members", get(enterprise::members))
        .route(
            "/v2/orgs/{org_id}/members/{member_id}",
            get(enterprise::member),
        )
        .route(
            "/v2/orgs/{org_id}/teams",
            get(enterprise::teams).post(enterprise::create_team),
        )
        .route(
            "/v2/orgs/{org_id}/teams/{team_id}",
            get(enterprise::get_team)
                .patch(enterprise::update_team)
                .delete(enterprise::delete_team),
        )
        .route(
            "/v2/orgs/{org_id}/teams/{team_id}/members",
            get(enterprise::team_members).post(enterprise::invite_team_member),
        )
        .route(
            "/v2/orgs/{org_id}/teams/{team_id}/members/{member_id}",
            get(enterprise::team_member)
                .patch(enterprise::update_team_member)
                .delete(enterprise::delete_team_member),
        )
        .route("/oauth/authorize", get(oauth::authorize))
        .route("/v1/oauth/token", post(oauth::token))
        .route("/v1/oauth/revoke", post(oauth::revoke_v1))
        .route("/v2/oauth/revoke", post(oauth::revoke_v2))
        .route("/v1/oauth-token", get(oauth::token_info));
    for kind in ITEM_KIND_PATHS {
        r = r
            .route(
                &format!("/v2/boards/{{board_id}}/{kind}"),
                post(items::create),
            )
            .route(
                &format!("/v2/boards/{{board_id}}/{kind}/{{item_id}}"),
                get(items::get_typed)
                    .patch(items::update_typed)
                    .delete(items::delete_typed),
            );
    }
    comments::routes(r)
        .fallback(fallback::handle)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            crate::persist::note_changes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            gateway::gateway,
        ))
        .layer(DefaultBodyLimit::disable())
        .with_state(app)
}

/// Decoded query parameters.
#[derive(Debug, Default)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    /// Parses a raw query string; malformed ones are a 400.
    pub(crate) fn parse(raw: Option<&str>) -> ApiResult<Self> {
        match raw {
            None | Some("") => Ok(Query::default()),
            Some(q) => serde_urlencoded::from_str(q)
                .map(Query)
                .map_err(|e| ApiError::bad_request(format!("Malformed query string: {e}"))),
        }
    }

    /// The first value of a parameter.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a JSON request body; an empty body reads as `{}`.
pub(crate) fn json_body(body: &Bytes) -> ApiResult<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))
}

/// Parses a JSON body that must be an object.
pub(crate) fn json_object(body: &Bytes) -> ApiResult<serde_json::Map<String, Value>> {
    match json_body(body)? {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::bad_request(
            "The request body must be a JSON object",
        )),
    }
}

/// A JSON response from a value.
pub(crate) fn json(status: StatusCode, v: &Value) -> Response {
    bytes_json(
        status,
        Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
    )
}

/// A JSON response from pre-serialized bytes.
pub(crate) fn bytes_json(status: StatusCode, b: Bytes) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], b).into_response()
}

/// A 204 with no body.
pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// The 404 for an unknown board.
pub(crate) fn board_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Board {id} not found"))
}

/// Looks up a board for reading.
pub(crate) fn board<'a>(store: &'a crate::state::Store, id: &str) -> ApiResult<&'a Board> {
    store.boards.get(id).ok_or_else(|| board_not_found(id))
}

/// Looks up a board for writing.
pub(crate) fn board_mut<'a>(
    store: &'a mut crate::state::Store,
    id: &str,
) -> ApiResult<&'a mut Board> {
    store.boards.get_mut(id).ok_or_else(|| board_not_found(id))
}

/// Parses a numeric id segment; unknown shapes are a 404 like unknown ids.
pub(crate) fn numeric_id(s: &str, what: &str) -> ApiResult<u64> {
    crate::ids::parse_numeric(s).ok_or_else(|| ApiError::not_found(format!("{what} {s} not found")))
}

/// `{id, type:"user"}` for createdBy/modifiedBy.
pub(crate) fn user_ref(user_id: &str) -> Value {
    serde_json::json!({"id": user_id, "type": "user"})
}

/// The API link of a board path, e.g. `/v2/boards/{id}/tags/{tag}`.
pub(crate) fn board_link(app: &App, board_id: &str, rest: &str) -> String {
    let mut p = String::with_capacity(12 + board_id.len() + rest.len());
    p.push_str("/v2/boards/");
    p.push_str(board_id);
    p.push_str(rest);
    app.url(&p)
}
