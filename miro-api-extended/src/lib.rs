//! Hand-written layers over [`miro_api`]: pagination streams over every paginated operation and
//! the high-level `Miro` client for OAuth and token storage (being built; see the project issues).
//!
//! For now it re-exports the low-level client.
pub use miro_api;
