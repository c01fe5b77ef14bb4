//! Hand-written layers over [`miro_api`]: pagination streams over every paginated operation
//! and the high-level [`Miro`] client for OAuth and token storage.
#![warn(missing_docs)]

pub mod pagination;

pub use miro_api;
pub use pagination::{PageStream, PaginationError, PaginationExt, Position};
