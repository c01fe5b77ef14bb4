//! A Rust client for the [Miro REST API v2](https://developers.miro.com/reference/api-reference).
//!
//! [`MiroApi`] has one async method per operation of Miro's OpenAPI spec, named after the
//! operationId in snake_case (`create_board`, `get_specific_board`, `create_sticky_note_item`,
//! `get_items`, ...) and grouped by API area on its page. This page is a short guide; the
//! [README](https://github.com/miro-rs/miro-rs#readme) has the rest.
//!
//! # Calls
//!
//! A method takes the required parameters and returns a request ([`requests`]); optional
//! parameters are setters on it, and `.await` sends it (`.send()` gives a plain future, for
//! `buffer_unordered` and friends). Every call returns a [`Response`], which derefs to the
//! decoded body and also gives the status, headers and [`rate_limit`](Response::rate_limit),
//! or one [`Error`].
//!
//! ```no_run
//! use miro_api::types::GetBoardsSort;
//! use miro_api::MiroApi;
//!
//! # async fn run() -> Result<(), miro_api::Error> {
//! let api = MiroApi::new("<access token>"); // or MiroApi::from_env()?
//! let boards = api
//!     .get_boards()
//!     .team_id("3458764500000000555")
//!     .sort(GetBoardsSort::LastModified)
//!     .limit(20)
//!     .await?;
//! for board in &boards.data {
//!     println!("{} {}", board.id, board.name);
//! }
//! # Ok(()) }
//! ```
//!
//! [`MiroApi::builder`] sets the base URL, timeouts, retries, pacing and the token source;
//! [`MiroApi::with_token_provider`] asks a [`TokenProvider`] (an async closure will do) for the
//! token before each request.
//!
//! # Bodies: setters, and only what you set is sent
//!
//! Every request type of [`types`] has chained setters (taking `impl Into<T>`), `new(..)` with
//! its required fields, and `.at(x, y)` when it has a position, so a body is one expression.
//! A field you do not set is `None` and never serialized, so an update changes exactly the
//! fields you set; the spec's defaults (what Miro does when a field is absent) are in the field
//! docs, not sent on your behalf.
//!
//! ```no_run
//! use miro_api::types::{
//!     BoardChanges, StickyNoteCreateRequest, StickyNoteData, StickyNoteUpdateRequest,
//!     TagCreateRequest, TagFillColor,
//! };
//!
//! # async fn run(api: miro_api::MiroApi) -> Result<(), miro_api::Error> {
//! let board = api
//!     .create_board(&BoardChanges::default().name("Plans"))
//!     .await?;
//! let note = StickyNoteCreateRequest::default()
//!     .data(StickyNoteData::default().content("Hello"))
//!     .at(0, 0);
//! let note = api.create_sticky_note_item(&board.id, &note).await?;
//! // Sends {"data":{"content":"Done"}}: the note keeps its shape, colour and position.
//! let update = StickyNoteUpdateRequest::default().data(StickyNoteData::default().content("Done"));
//! api.update_sticky_note_item(&board.id, &note.id, &update)
//!     .await?;
//! let tag = TagCreateRequest::new("urgent").fill_color(TagFillColor::Red);
//! api.create_tag(&board.id, &tag).await?;
//! # Ok(()) }
//! ```
//!
//! Enums are open: a value Miro adds later decodes as `UnknownValue(..)` and is sent back
//! unchanged; parsing a string checks it (`"edtor".parse::<BoardRole>()` is an
//! [`UnknownEnumValue`] error).
//!
//! # Pagination
//!
//! A list method returns one page (`limit`, `cursor` or `offset` are setters). To walk every
//! page, [`miro-api-extended`](https://docs.rs/miro-api-extended) turns any paginated request
//! into a `futures::Stream` of its items, with the request's filters:
//! `api.get_items(&board_id).type_(ItemType::Image).stream()` after
//! `use miro_api_extended::prelude::*;`, and `get_all_boards()`, `get_all_items(..)`, ... as
//! in Miro's other clients. The paginated requests implement [`PagedRequest`] for such layers.
//!
//! # Errors, rate limits and 429
//!
//! Every failure is an [`Error`]; branch with [`Error::is_not_found`],
//! [`Error::is_rate_limited`], [`Error::status`] and [`Error::retry_after`] (the
//! [`Error`] page has a `match` example). Calls are paced to Miro's rate-limit budget (learnt
//! from the `X-RateLimit-*` headers) and a 429 Too Many Requests is retried after its
//! `Retry-After` ([`RetryPolicy`]), within the call's time limit; so a 429 reaches you as
//! `Error::Api` with status 429, or as an [`Error::Timeout`] whose `last_error` is the 429 or
//! whose cause is [`TimeoutCause::RateLimitWait`]. `is_rate_limited()` is true for each.
//!
//! # OAuth
//!
//! [`MiroApi::new`] takes an access token. For the authorization-code flow, refresh tokens
//! and token storage, use `Miro` from
//! [`miro-api-extended`](https://docs.rs/miro-api-extended): `Miro::from_env()`,
//! `auth_url_with_new_state()`, `exchange_code_checked(..)` and `as_user(user_id)`, which
//! gives a `MiroApi` whose token refreshes itself.
//!
//! # Offline, against the emulator
//!
//! The [`miro-emulator`](https://docs.rs/miro-emulator) crate (a dev-dependency:
//! `miro-emulator = "0.1"`) is a stateful fake of the Miro API on localhost
//! (boards, items, tags, OAuth, rate limits and 429s, injected faults). Point a client at it
//! with [`MiroApiBuilder::base_url`], or set `MIRO_API_BASE_URL` ([`ENV_BASE_URL`]), which
//! clients built without a base URL read:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let emulator = miro_emulator::Emulator::start().await?;
//! let api = miro_api::MiroApi::builder()
//!     .base_url(emulator.base_url())
//!     .access_token(emulator.access_token())
//!     .build();
//! api.create_board(&Default::default()).await?;
//! assert_eq!(emulator.board_count(), 1);
//! // For the OAuth flow, `emulator.authorize(&auth_url, &emulator.user_id())?` signs in.
//! # Ok(()) }
//! ```
//!
//! # Cargo features
//!
//! One feature per API area (`boards`, `board_members`, `items`, `frames`, `tags`,
//! `connectors`, `groups` and `tokens` by default; `enterprise`, `projects`, `scim`, ... and
//! `full`), and `rustls-tls` (default) or `native-tls`. An area's methods, requests and the
//! types only it uses compile with its feature.
//!
//! With neither TLS feature, plain `http` works (the emulator) and a call to an `https` URL
//! fails before anything is sent, with [`Error::Config`] naming the features, unless the client
//! was given an HTTP client of your own ([`MiroApiBuilder::http_client`]).
//!
//! On docs.rs every item an area's feature gates carries a badge naming the feature, and its
//! docs say which features compile it.
//!
//! # Versions and the spec
//!
//! A release is generated from one version of Miro's spec: [`SPEC_REPOSITORY`] at
//! [`SPEC_COMMIT`] (file [`SPEC_PATH`], sha256 [`SPEC_SHA256`]), pinned in the repository's
//! `openapi/pin.json`. Moving to a newer spec is a release whose version follows from what the
//! spec change does to this crate's API, as `cargo xtask gen --report OLD NEW` classifies it:
//!
//! - **major**: an operation, type, field or variant removed, a field's type changed (a number
//!   becoming a string, a required field becoming optional, ...), a parameter or request field
//!   becoming required;
//! - **minor**: an operation, type, optional field, optional parameter or enum value added;
//! - **patch**: descriptions only (and fixes of the hand-written runtime).
//!
//! While the version is `0.x`, a major change releases `0.(x+1).0` and a minor or patch change
//! `0.x.(y+1)`. Additions stay minor because every generated struct with named fields is
//! `#[non_exhaustive]`, and so is every generated enum (a `match` needs a `_` arm): build a
//! value with `Type::new(required..)` or `Type::default()` and its setters (one per field,
//! named after it, or `with_<field>` where that name is taken), never with a struct literal:
//!
//! ```compile_fail
//! let tag = miro_api::types::TagCreateRequest { title: "urgent".into(), fill_color: None };
//! ```
//!
//! ```
//! let tag = miro_api::types::TagCreateRequest::new("urgent")
//!     .fill_color(miro_api::types::TagFillColor::Red);
//! assert_eq!(tag.title, "urgent");
//! ```
//!
//! # Types from other crates
//!
//! [`StatusCode`], [`HeaderMap`], [`DateTime`], [`Utc`], [`NaiveDate`] and [`Uuid`] appear
//! in public signatures and are re-exported here, so using them needs no dependency of your
//! own; so is [`reqwest`] itself (for [`MiroApiBuilder::http_client`] and the source of
//! [`Error::Transport`]).
//!
//! # What does not compile, on purpose
//!
//! A bulk item is built from its data, so its `type` follows from it and the two cannot be
//! set apart:
//!
//! ```compile_fail
//! use miro_api::types::{ItemCreate, ItemType, StickyNoteData};
//! let item = ItemCreate {
//!     type_: ItemType::Card,
//!     ..ItemCreate::from(StickyNoteData::default().content("Hi"))
//! };
//! ```
//!
//! A value you write into an enum is a known variant or an explicit `UnknownValue`, so a typo
//! does not compile into an unknown value:
//!
//! ```compile_fail
//! let role: miro_api::types::BoardRole = "edtor".into();
//! ```
//!
//! The code under [`generated`] comes from the pinned spec (see `openapi/pin.json`); the rest of
//! the crate is the small hand-written runtime: construction and auth ([`MiroApi`],
//! [`TokenProvider`]), errors ([`Error`]), responses ([`Response`]) and uploads ([`FilePart`]).
//!
//! What the spec lacks is reachable too: [`MiroApi::request`] sends a request to any path
//! through the same transport ([`RawRequest`]), and `comments` (feature `experimental`) wraps
//! the live `/v2-experimental/boards/{board_id}/comments` endpoints.
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod auth;
#[cfg(feature = "connectors")]
mod bodies;
mod client;
#[cfg(feature = "experimental")]
#[cfg_attr(docsrs, doc(cfg(feature = "experimental")))]
pub mod comments;
mod convert;
pub mod decode;
mod error;
mod nullable;
#[rustfmt::skip]
pub mod generated;
mod pacing;
mod paging;
mod request;
mod response;
mod retry;
#[doc(hidden)]
pub mod runtime;
mod tls;
mod upload;

pub use auth::{AccessToken, BoxError, TokenProvider};
pub use client::{
    MiroApi, MiroApiBuilder, DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_TIMEOUT, ENV_ACCESS_TOKEN, ENV_BASE_URL,
};
pub use convert::{ConversionError, Kind as ConversionKind};
pub use decode::DecodeWarning;
pub use error::{ApiError, Error, ErrorBody, TimeoutCause, UnknownEnumValue};
pub use generated::{operations, requests, types};
pub use generated::{SPEC_COMMIT, SPEC_PATH, SPEC_REPOSITORY, SPEC_SHA256};
pub use nullable::Nullable;
pub use paging::{PagedRequest, Paging};
pub use request::RawRequest;
pub use reqwest::Method;
pub use response::{RateLimit, Response, ResponseFuture};
pub use retry::{RetryPolicy, MAX_SERVER_WAIT};
pub use runtime::MultipartBody;
pub use tls::http_client_builder;
pub use upload::FilePart;

// Types from other crates that appear in this crate's public signatures, re-exported so that
// code using them needs no dependency of its own: HTTP statuses and headers, dates and times
// (chrono) and UUIDs (uuid).
#[doc(no_inline)]
pub use chrono::{DateTime, NaiveDate, Utc};
/// The `reqwest` this crate is built with (0.13): for [`MiroApiBuilder::http_client`], and to
/// read the source of [`Error::Transport`] (`reqwest::Error`) without a dependency of your own
/// that must match this one's version.
pub use reqwest;
#[doc(no_inline)]
pub use reqwest::header::HeaderMap;
#[doc(no_inline)]
pub use reqwest::StatusCode;
#[doc(no_inline)]
pub use uuid::Uuid;
