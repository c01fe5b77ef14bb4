//! Hand-written layers over [`miro_api`]:
//!
//! - [`pagination`]: every paginated request as a [`futures::Stream`] of its items
//!   (`api.get_items(board).stream()`, [`PagedRequestExt`]), and the ten `get_all_*` helpers
//!   ([`PaginationExt`]).
//! - [`prelude`]: one import for the extension traits and the stream combinators.
//! - [`oauth`]: the high-level client [`Miro`] for apps with many users: authorization URL
//!   with CSRF state, code exchange, per-user [`MiroApi`](miro_api::MiroApi) clients whose
//!   tokens refresh by themselves (one refresh per user at a time), revocation.
//! - [`storage`]: where tokens are kept, behind the [`TokenStore`](storage::TokenStore)
//!   trait: memory, a file, SQLite (feature `sqlite`) or PostgreSQL (feature `postgres`).
//!
//! Tokens and the client secret never appear in `Debug` output, logs or error messages.
//!
//! # Example: sign a user in, then walk a board's items
//!
//! This runs as is against the in-process emulator (`miro-emulator`). Against Miro, drop the
//! two base URLs and the `emu` lines: the user's browser opens the authorization URL and Miro
//! redirects it to your `redirect_url`, whose full URL you pass to `exchange_code_checked`.
//!
//! ```
//! use miro_api::types::{BoardChanges, StickyNoteCreateRequest, StickyNoteData};
//! use miro_api_extended::prelude::*;
//! use miro_api_extended::Miro;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let emu = miro_emulator::Emulator::start().await?;
//! let miro = Miro::builder()
//!     .client_id(emu.client_id())
//!     .client_secret(emu.client_secret())
//!     .redirect_url("http://127.0.0.1:3000/callback")
//!     .api_base_url(emu.base_url())
//!     .auth_base_url(emu.base_url())
//!     .build()?; // tokens kept in memory; `.store(..)` for a file, SQLite or PostgreSQL
//!
//! // 1. Send the user to the authorization URL, with a fresh CSRF state.
//! let (url, state) = miro.auth_url_with_new_state()?;
//! let redirect = emu.authorize(&url, &emu.user_id())?; // what the browser does
//! // 2. The redirect comes back: check its state, exchange its code, store the tokens.
//! let auth = miro.exchange_code_checked(&redirect.url, &state).await?;
//! // 3. A client for that user, whose token refreshes by itself.
//! let api = miro.as_user(&auth.user_id);
//!
//! let board = api.create_board(&BoardChanges::default().name("Plans")).await?;
//! for i in 0..12 {
//!     let note = StickyNoteCreateRequest::default()
//!         .data(StickyNoteData::default().content(format!("Idea {i}")))
//!         .at(i * 250, 0);
//!     api.create_sticky_note_item(&board.id, &note).await?;
//! }
//! // 4. Every item, page after page (10 a page here), as one stream.
//! let items: Vec<_> = api.get_items(&board.id).limit(10).stream().try_collect().await?;
//! assert_eq!(items.len(), 12);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod oauth;
pub mod pagination;
mod secret;
pub mod storage;

pub use miro_api;
pub use oauth::{AuthState, Authorization, ConfigError, Miro, MiroBuilder, OAuthError};
pub use pagination::{PageStream, PagedRequestExt, PaginationError, PaginationExt, Position};

/// Everything a caller of the page streams needs in scope: `use miro_api_extended::prelude::*;`
/// brings the extension traits ([`PaginationExt`], [`PagedRequestExt`]) and the stream
/// combinators of `futures` (`try_next`, `try_collect`, `next`, ...), so no direct dependency on
/// `futures` is needed.
pub mod prelude {
    pub use crate::pagination::{PageStream, PagedRequestExt, PaginationError, PaginationExt};
    pub use futures::{StreamExt, TryStreamExt};
    pub use miro_api::{MiroApi, PagedRequest};
}
pub use secret::{ClientSecret, RefreshToken};
