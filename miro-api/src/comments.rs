//! Comment threads of a board: the live `/v2-experimental/boards/{board_id}/comments`
//! endpoints, which Miro's OpenAPI spec lacks. Available with the `experimental` feature.
//!
//! A comment is a thread: the first message and its replies in `messages`, a `position` (on the
//! canvas, or `attached` to an item) and whether it is `resolved`. Lists are offset-paged
//! (`{data, total, offset, size, limit}`, up to 50 a page), so
//! `api.list_comments(board).stream()` (with `miro_api_extended::prelude::*`) walks every
//! thread. Miro answers `DELETE` with a 405, so there is no delete.
//!
//! ```no_run
//! # async fn run(api: miro_api::MiroApi, board: &str) -> Result<(), miro_api::Error> {
//! use miro_api::comments::CommentCreate;
//! let thread = api.create_comment(board, &CommentCreate::new("Looks good")).await?.into_inner();
//! api.add_comment_message(board, &thread.id, "Agreed").await?;
//! api.resolve_comment(board, &thread.id, true).await?;
//! let page = api.list_comments(board).limit(50).await?;
//! println!("{} threads", page.total.unwrap_or_default());
//! # Ok(()) }
//! ```
//!
//! The shapes follow what the live API answers; fields they lack decode without failing and are
//! dropped (read them from a [`MiroApi::request`] answered as `serde_json::Value`).

use serde::{Deserialize, Serialize};

use crate::operations::{Operation, Pagination};
use crate::request::unlisted_operation;
use crate::response::ResponseFuture;
use crate::MiroApi;

const PATH_LIST: &str = "/v2-experimental/boards/{board_id}/comments";
const PATH_ONE: &str = "/v2-experimental/boards/{board_id}/comments/{comment_id}";
const BOARD: &[&str] = &["board_id"];
const BOARD_COMMENT: &[&str] = &["board_id", "comment_id"];

/// `GET /v2-experimental/boards/{board_id}/comments` (offset-paged, at most 50 a page).
pub const LIST_COMMENTS: Operation = unlisted_operation(
    "list-comments-experimental",
    "list_comments",
    "GET",
    PATH_LIST,
    50,
    Pagination::Offset,
    Some(50),
    BOARD,
    &["limit", "offset"],
);
/// `GET /v2-experimental/boards/{board_id}/comments/{comment_id}`.
pub const GET_COMMENT: Operation = unlisted_operation(
    "get-comment-experimental",
    "get_comment",
    "GET",
    PATH_ONE,
    50,
    Pagination::None,
    None,
    BOARD_COMMENT,
    &[],
);
/// `POST /v2-experimental/boards/{board_id}/comments`.
pub const CREATE_COMMENT: Operation = unlisted_operation(
    "create-comment-experimental",
    "create_comment",
    "POST",
    PATH_LIST,
    100,
    Pagination::None,
    None,
    BOARD,
    &[],
);
/// `POST /v2-experimental/boards/{board_id}/comments/{comment_id}/messages`.
pub const ADD_COMMENT_MESSAGE: Operation = unlisted_operation(
    "add-comment-message-experimental",
    "add_comment_message",
    "POST",
    "/v2-experimental/boards/{board_id}/comments/{comment_id}/messages",
    100,
    Pagination::None,
    None,
    BOARD_COMMENT,
    &[],
);
/// `PATCH /v2-experimental/boards/{board_id}/comments/{comment_id}` with `{"resolved": ..}`.
pub const RESOLVE_COMMENT: Operation = unlisted_operation(
    "resolve-comment-experimental",
    "resolve_comment",
    "PATCH",
    PATH_ONE,
    100,
    Pagination::None,
    None,
    BOARD_COMMENT,
    &[],
);

/// A comment thread: its messages, where it is and whether it is resolved.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CommentThread {
    /// The thread's id.
    pub id: String,
    /// `comment`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Whether the thread is resolved.
    #[serde(default)]
    pub resolved: bool,
    /// Where the thread is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<CommentPosition>,
    /// The first message and the replies, oldest first.
    #[serde(default)]
    pub messages: Vec<CommentMessage>,
    /// When the thread was opened (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Who opened it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<CommentAuthor>,
    /// When it last changed (RFC 3339), when Miro says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_at: Option<String>,
}

/// One message of a thread.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CommentMessage {
    /// The message's id.
    pub id: String,
    /// `message`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Its text.
    #[serde(default)]
    pub content: String,
    /// When it was written (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Who wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<CommentAuthor>,
}

/// The author of a thread or message.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CommentAuthor {
    /// The user's id.
    pub id: String,
    /// `user`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// The user's name, when Miro sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Where a thread is: on the canvas (`type` `canvas`, at `x`, `y`) or attached to an item
/// (`type` `attached`, `item_id`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CommentPosition {
    /// `canvas` or `attached`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Horizontal position on the canvas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<f64>,
    /// Vertical position on the canvas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<f64>,
    /// The item an `attached` thread is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
}

/// One page of threads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CommentPage {
    /// The threads of this page.
    pub data: Vec<CommentThread>,
    /// Threads in the whole list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// The offset of this page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Threads on this page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The page size asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// The next page's cursor, should Miro move this list to cursor paging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// The body opening a thread: its first message, on the board or attached to an item (Miro
/// ignores a position given for a canvas thread).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CommentCreate {
    /// The first message.
    pub content: String,
    /// The item to attach the thread to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
}

impl CommentCreate {
    /// A thread on the board whose first message is `content`.
    pub fn new(content: impl Into<String>) -> Self {
        CommentCreate {
            content: content.into(),
            item_id: None,
        }
    }

    /// Attaches the thread to the item `item_id`.
    pub fn item_id(mut self, item_id: impl Into<String>) -> Self {
        self.item_id = Some(item_id.into());
        self
    }
}

/// The request of [`MiroApi::list_comments`]: set `limit` and `offset`, then `.await` it (or
/// turn it into a stream of every thread with `miro_api_extended`'s `.stream()`, which starts
/// at the `offset` set here).
#[must_use = "a request does nothing until it is awaited or sent"]
#[derive(Debug)]
pub struct ListComments<'a> {
    api: &'a MiroApi,
    board_id: &'a str,
    limit: Option<u32>,
    offset: Option<u64>,
}

impl<'a> ListComments<'a> {
    /// Threads per page (Miro: 1 to 50, default 20).
    pub fn limit(mut self, value: u32) -> Self {
        self.limit = Some(value);
        self
    }

    /// The index of the first thread of the page.
    pub fn offset(mut self, value: u64) -> Self {
        self.offset = Some(value);
        self
    }

    /// Sends the request: a future of the page.
    pub fn send(self) -> ResponseFuture<'a, CommentPage> {
        let request = self
            .api
            .request_of(&LIST_COMMENTS, [self.board_id])
            .query_opt("limit", self.limit)
            .query_opt("offset", self.offset);
        Box::pin(request.send())
    }
}

impl<'a> std::future::IntoFuture for ListComments<'a> {
    type Output = Result<crate::Response<CommentPage>, crate::Error>;
    type IntoFuture = ResponseFuture<'a, CommentPage>;
    fn into_future(self) -> Self::IntoFuture {
        self.send()
    }
}

impl crate::PagedRequest for ListComments<'_> {
    type Item = CommentThread;
    fn into_paging(self) -> crate::Paging {
        let mut paging =
            crate::Paging::new(self.api.clone(), &LIST_COMMENTS, vec![self.board_id.into()]);
        if let Some(offset) = self.offset {
            paging.query.push(("offset".into(), offset.to_string()));
        }
        paging.page_size = self.limit;
        paging
    }
}

impl MiroApi {
    /// `GET /v2-experimental/boards/{board_id}/comments`: a page of the board's comment threads
    /// (see [`comments`](crate::comments)).
    pub fn list_comments<'a>(&'a self, board_id: &'a str) -> ListComments<'a> {
        ListComments {
            api: self,
            board_id,
            limit: None,
            offset: None,
        }
    }

    /// `GET /v2-experimental/boards/{board_id}/comments/{comment_id}`: one thread with its
    /// messages.
    pub fn get_comment<'a>(
        &'a self,
        board_id: &str,
        comment_id: &str,
    ) -> ResponseFuture<'a, CommentThread> {
        Box::pin(self.request_of(&GET_COMMENT, [board_id, comment_id]).send())
    }

    /// `POST /v2-experimental/boards/{board_id}/comments`: opens a thread; the answer is the
    /// thread.
    pub fn create_comment<'a>(
        &'a self,
        board_id: &str,
        body: &CommentCreate,
    ) -> ResponseFuture<'a, CommentThread> {
        Box::pin(
            self.request_of(&CREATE_COMMENT, [board_id])
                .json(body)
                .send(),
        )
    }

    /// `POST /v2-experimental/boards/{board_id}/comments/{comment_id}/messages`: replies to a
    /// thread; the answer is the thread with the new message.
    pub fn add_comment_message<'a>(
        &'a self,
        board_id: &str,
        comment_id: &str,
        content: &str,
    ) -> ResponseFuture<'a, CommentThread> {
        Box::pin(
            self.request_of(&ADD_COMMENT_MESSAGE, [board_id, comment_id])
                .json(&serde_json::json!({ "content": content }))
                .send(),
        )
    }

    /// `PATCH /v2-experimental/boards/{board_id}/comments/{comment_id}`: resolves a thread
    /// (`true`) or reopens it (`false`); the answer is the thread.
    pub fn resolve_comment<'a>(
        &'a self,
        board_id: &str,
        comment_id: &str,
        resolved: bool,
    ) -> ResponseFuture<'a, CommentThread> {
        Box::pin(
            self.request_of(&RESOLVE_COMMENT, [board_id, comment_id])
                .json(&serde_json::json!({ "resolved": resolved }))
                .send(),
        )
    }
}
