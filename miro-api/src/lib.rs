//! A Rust client for the [Miro REST API v2](https://developers.miro.com/reference/api-reference).
//!
//! [`MiroApi`] has one async method per operation of Miro's OpenAPI spec, named after the
//! operationId in snake_case (`create_board`, `get_specific_board`, `create_sticky_note_item`,
//! `get_items`, ...). Every method returns a [`Response`] (the decoded body, status and headers,
//! rate-limit headers included) or one [`Error`] type.
//!
//! ```no_run
//! # async fn run() -> Result<(), miro_api::Error> {
//! let api = miro_api::MiroApi::new("<access token>");
//! let board = api.create_board(&Default::default()).await?;
//! println!("created {}", board.id);
//! # Ok(()) }
//! ```
//!
//! Request bodies send only the fields you set: a field left `None` is never serialized, so an
//! update that sets one field changes that field and nothing else. The spec's defaults (what
//! Miro does when a field is absent) are in each field's docs, not applied on the way out.
//!
//! ```no_run
//! # async fn run(api: miro_api::MiroApi, board_id: &str, note_id: &str) -> Result<(), miro_api::Error> {
//! use miro_api::types::{StickyNoteData, StickyNoteUpdateRequest};
//! // Sends {"data":{"content":"Done"}}: the note keeps its shape, colour and position.
//! let update = StickyNoteUpdateRequest {
//!     data: Some(StickyNoteData {
//!         content: Some("Done".into()),
//!         ..Default::default()
//!     }),
//!     ..Default::default()
//! };
//! api.update_sticky_note_item(board_id, note_id, &update).await?;
//! # Ok(()) }
//! ```
//!
//! Bodies are built with setters; a bulk item is built from its data, so its `type` follows
//! from it and the two cannot be set apart:
//!
//! ```compile_fail
//! use miro_api::types::{ItemCreate, ItemTypeChange, StickyNoteData};
//! let item = ItemCreate {
//!     type_: ItemTypeChange::Card,
//!     ..ItemCreate::from(StickyNoteData::default().content("Hi"))
//! };
//! ```
//!
//! Enums are open: a value Miro adds later decodes as `UnknownValue(..)` and is sent back
//! unchanged. A value you write is a known variant or an explicit `UnknownValue`, so a typo does
//! not compile into an unknown value:
//!
//! ```compile_fail
//! let role: miro_api::types::BoardRole = "edtor".into();
//! ```
//!
//! and parsing a string checks it: `"edtor".parse::<BoardRole>()` is an
//! [`UnknownEnumValue`] error.
//!
//! The code under [`generated`] comes from the pinned spec (see `openapi/pin.json`); the rest of
//! the crate is the small hand-written runtime: construction and auth ([`MiroApi`],
//! [`TokenProvider`]), errors ([`Error`]), responses ([`Response`]) and uploads ([`FilePart`]).
//!
//! What the spec lacks is reachable too: [`MiroApi::request`] sends a request to any path
//! through the same transport ([`RawRequest`]), and `comments` (feature `experimental`) wraps
//! the live `/v2-experimental/boards/{board_id}/comments` endpoints.
#![warn(missing_docs)]

mod auth;
#[cfg(feature = "connectors")]
mod bodies;
mod client;
#[cfg(feature = "experimental")]
pub mod comments;
mod error;
#[rustfmt::skip]
pub mod generated;
mod pacing;
mod paging;
mod request;
mod response;
mod retry;
#[doc(hidden)]
pub mod runtime;
mod upload;

pub use auth::{AccessToken, BoxError, TokenProvider};
pub use client::{
    MiroApi, MiroApiBuilder, DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_TIMEOUT,
};
pub use error::{ApiError, Error, ErrorBody, TimeoutCause, UnknownEnumValue};
pub use generated::{operations, requests, types};
pub use paging::{PagedRequest, Paging};
pub use request::RawRequest;
pub use reqwest::Method;
pub use response::{RateLimit, Response, ResponseFuture};
pub use retry::{RetryPolicy, MAX_SERVER_WAIT};
pub use runtime::MultipartBody;
pub use upload::FilePart;
