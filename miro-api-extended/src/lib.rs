//! Hand-written layers over [`miro_api`]:
//!
//! - [`pagination`]: every paginated operation as a [`futures::Stream`] of its items, and the
//!   ten `get_all_*` helpers ([`PaginationExt`]).
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
pub use pagination::{PageStream, PaginationError, PaginationExt, Position};
pub use secret::{ClientSecret, RefreshToken};
