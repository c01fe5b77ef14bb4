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
//! The code under [`generated`] comes from the pinned spec (see `openapi/pin.json`); the rest of
//! the crate is the small hand-written runtime: construction and auth ([`MiroApi`],
//! [`TokenProvider`]), errors ([`Error`]), responses ([`Response`]) and uploads ([`FilePart`]).
#![warn(missing_docs)]

mod auth;
mod client;
mod error;
#[rustfmt::skip]
pub mod generated;
mod pacing;
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
pub use error::{ApiError, Error, ErrorBody, TimeoutCause};
pub use generated::{operations, types};
pub use response::{RateLimit, Response};
pub use retry::{RetryPolicy, MAX_SERVER_WAIT};
pub use upload::FilePart;
