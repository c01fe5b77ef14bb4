//! Live endpoints the spec lacks: a board's comment threads
//! (`/v2-experimental/boards/{board_id}/comments`: offset-paged list, get, create, reply,
//! resolve; `DELETE` is a 405 as on Miro), and the board's diagrams and data table formats
//! (`GET /v2/boards/{board_id}/diagrams` and `.../data_table_formats`, cursor-paged lists of its
//! items of that type).
//!
//! The threads belong to their board: a board that is gone answers 404 for them, and its
//! threads go with it. A thread holds at most [`MESSAGES_MAX`] messages (Miro documents no
//! limit; this one keeps a thread's memory bounded), and a reply appends to the thread's bytes
//! instead of serializing the thread again.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use bytes::Bytes;
use serde_json::{json, Value};

use super::{board, board_mut, json_object, numeric_id, Query};
use crate::app::{App, Caller, Shared};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::paging;
use crate::state::Thread;

/// Longest message accepted, in characters.
const CONTENT_MAX: usize = 10_000;
/// The most messages a thread holds, its first one included: a reply past it is a 400.
pub const MESSAGES_MAX: usize = 500;
/// Bounds of `limit` for the comment list: (min, max, default).
const COMMENT_LIMITS: (usize, usize, usize) = (1, 50, 20);

/// Adds the routes of this module to `r`.
pub(crate) fn routes(r: Router<Shared>) -> Router<Shared> {
    r.route(
        "/v2-experimental/boards/{board_id}/comments",
        get(list).post(create),
    )
    .route(
        "/v2-experimental/boards/{board_id}/comments/{comment_id}",
        get(get_one).patch(resolve),
    )
    .route(
        "/v2-experimental/boards/{board_id}/comments/{comment_id}/messages",
        axum::routing::post(reply),
    )
    .route("/v2/boards/{board_id}/diagrams", get(diagrams))
    .route(
        "/v2/boards/{board_id}/data_table_formats",
        get(data_table_formats),
    )
}

/// The author object of the caller.
fn author(app: &App, caller: &Caller) -> Value {
    let name = app
        .cfg
        .oauth_users
        .iter()
        .find(|(id, _)| **id == *caller.user_id)
        .map(|(_, name)| name.as_str())
        .unwrap_or(app.cfg.user_name.as_str());
    json!({"id": &*caller.user_id, "type": "user", "name": name})
}

/// The `content` of a body: a non-empty string of at most [`CONTENT_MAX`] characters.
fn content(body: &serde_json::Map<String, Value>) -> ApiResult<String> {
    match body.get("content") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= CONTENT_MAX => {
            Ok(s.clone())
        }
        None => Err(ApiError::fields(vec![FieldError::new(
            "content",
            "is required",
        )])),
        Some(_) => Err(ApiError::fields(vec![FieldError::new(
            "content",
            format!("must be a string of 1 to {CONTENT_MAX} characters"),
        )])),
    }
}

fn message(app: &App, caller: &Caller, content: String) -> Value {
    json!({
        "id": app.ids.numeric().to_string(),
        "type": "message",
        "content": content,
        "createdAt": crate::clock::now_iso(),
        "createdBy": author(app, caller),
    })
}

/// A thread as the answer: its pieces streamed as they are, with their length.
fn streamed(status: StatusCode, thread: &Thread) -> Response {
    let pieces: Vec<Result<Bytes, std::convert::Infallible>> = thread.pieces().map(Ok).collect();
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CONTENT_LENGTH, HeaderValue::from(thread.len())),
        ],
        Body::from_stream(futures::stream::iter(pieces)),
    )
        .into_response()
}

fn thread_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Comment {id} not found"))
}

/// `POST .../comments`: `{content, itemId?}`; the thread, 201.
async fn create(
    State(app): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(board_id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let body = json_object(&body)?;
    let content = content(&body)?;
    let first = message(&app, &caller, content);
    let mut store = app.store.write();
    let b = board_mut(&mut store, &board_id)?;
    let position = match body.get("itemId") {
        None | Some(Value::Null) => json!({"type": "canvas", "x": 0.0, "y": 0.0}),
        Some(Value::String(item)) => {
            let id = numeric_id(item, "Item")?;
            if !b.items.contains_key(&id) {
                return Err(ApiError::not_found(format!("Item {item} not found")));
            }
            json!({"type": "attached", "x": 0.0, "y": 0.0, "itemId": item})
        }
        Some(_) => {
            return Err(ApiError::fields(vec![FieldError::new(
                "itemId",
                "must be a string",
            )]))
        }
    };
    let id = app.ids.numeric().to_string();
    let head = json!({
        "id": id,
        "type": "comment",
        "resolved": false,
        "position": position,
        "createdAt": crate::clock::now_iso(),
        "createdBy": author(&app, &caller),
    });
    let Value::Object(head) = head else {
        unreachable!("an object literal")
    };
    let thread = Thread::new(head, &first);
    let out = streamed(StatusCode::CREATED, &thread);
    b.comments.insert(id, thread);
    Ok(out)
}

/// `GET .../comments`: an offset page of threads, oldest first.
async fn list(
    State(app): State<Shared>,
    Path(board_id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref())?;
    let limit = paging::limit(&q, COMMENT_LIMITS)?;
    let offset = paging::offset(&q)?;
    let store = app.store.read();
    let threads = &board(&store, &board_id)?.comments;
    let total = threads.len();
    let data: Vec<Bytes> = threads
        .values()
        .skip(offset)
        .take(limit)
        .map(Thread::to_bytes)
        .collect();
    let path = format!("/v2-experimental/boards/{board_id}/comments");
    Ok(paging::offset_page(
        &app,
        &path,
        &[],
        total,
        offset,
        limit,
        &data,
    ))
}

/// Runs `f` on the thread `comment_id` of the board.
fn with_thread<R>(
    app: &App,
    board_id: &str,
    comment_id: &str,
    f: impl FnOnce(&mut Thread) -> ApiResult<R>,
) -> ApiResult<R> {
    let mut store = app.store.write();
    let thread = board_mut(&mut store, board_id)?
        .comments
        .get_mut(comment_id)
        .ok_or_else(|| thread_not_found(comment_id))?;
    f(thread)
}

/// `GET .../comments/{comment_id}`.
async fn get_one(
    State(app): State<Shared>,
    Path((board_id, comment_id)): Path<(String, String)>,
) -> ApiResult {
    let store = app.store.read();
    let thread = board(&store, &board_id)?
        .comments
        .get(&comment_id)
        .ok_or_else(|| thread_not_found(&comment_id))?;
    Ok(streamed(StatusCode::OK, thread))
}

/// `POST .../comments/{comment_id}/messages`: `{content}`; the thread, 201. A thread holds at
/// most [`MESSAGES_MAX`] messages.
async fn reply(
    State(app): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((board_id, comment_id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let content = content(&json_object(&body)?)?;
    let message = message(&app, &caller, content);
    let out = with_thread(&app, &board_id, &comment_id, |t| {
        if t.messages() >= MESSAGES_MAX {
            return Err(ApiError::bad_request(format!(
                "Comment {comment_id} already has {MESSAGES_MAX} messages, the most a thread holds"
            )));
        }
        t.reply(&message);
        Ok(streamed(StatusCode::CREATED, t))
    })?;
    Ok(out)
}

/// `PATCH .../comments/{comment_id}`: `{resolved: bool}`, either way.
async fn resolve(
    State(app): State<Shared>,
    Path((board_id, comment_id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let body = json_object(&body)?;
    let Some(resolved) = body.get("resolved").and_then(Value::as_bool) else {
        return Err(ApiError::fields(vec![FieldError::new(
            "resolved",
            "is required and must be a boolean",
        )]));
    };
    let out = with_thread(&app, &board_id, &comment_id, |t| {
        t.update(|head| {
            head.insert("resolved".into(), Value::Bool(resolved));
            head.insert("modifiedAt".into(), Value::from(crate::clock::now_iso()));
        });
        Ok(streamed(StatusCode::OK, t))
    })?;
    Ok(out)
}

/// A cursor page of the board's items of `kind`.
fn items_of_kind(app: &App, board_id: &str, q: Option<&str>, kind: &str, path: &str) -> ApiResult {
    let q = Query::parse(q)?;
    let limit = paging::limit(&q, paging::CURSOR_LIMITS)?;
    let cursor = paging::cursor(&q)?;
    let store = app.store.read();
    let b = board(&store, board_id)?;
    let of_kind = || b.items.iter().filter(|(_, it)| it.kind == kind);
    let total = of_kind().count();
    let (page, next) = paging::take_cursor_page(
        of_kind()
            .filter(|(id, _)| cursor.is_none_or(|c| **id >= c))
            .map(|(id, it)| (*id, &it.stored)),
        limit,
    );
    let data: Vec<Bytes> = page.into_iter().map(|s| s.bytes.clone()).collect();
    let path = format!("/v2/boards/{board_id}/{path}");
    Ok(paging::cursor_page(
        app,
        &path,
        &[],
        total,
        limit,
        cursor,
        next,
        &data,
    ))
}

/// `GET /v2/boards/{board_id}/diagrams`.
async fn diagrams(
    State(app): State<Shared>,
    Path(board_id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    items_of_kind(&app, &board_id, q.as_deref(), "diagram", "diagrams")
}

/// `GET /v2/boards/{board_id}/data_table_formats`.
async fn data_table_formats(
    State(app): State<Shared>,
    Path(board_id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    items_of_kind(
        &app,
        &board_id,
        q.as_deref(),
        "data_table_format",
        "data_table_formats",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_must_be_a_non_empty_string() {
        let body = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert!(content(&body(json!({"content": "hi"}))).is_ok());
        assert!(content(&body(json!({"content": " "}))).is_err());
        assert!(content(&body(json!({"content": 3}))).is_err());
        assert!(content(&body(json!({}))).is_err());
    }
}
