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
