//! What can end a page stream early.

use super::Position;

/// Why a [`PageStream`](super::PageStream) yielded an error instead of an item.
///
/// After an error the stream yields nothing more; [`PaginationError::Page`] can be resumed with
/// [`PageStream::resume`](super::PageStream::resume) or from its [`position`](Self::position).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PaginationError {
    /// A page could not be fetched or decoded; nothing of it was yielded.
    #[error("{operation}: the page at {position} failed: {source}")]
    Page {
        /// The operation's method name.
        operation: &'static str,
        /// Where a resumed stream starts again (the failed page).
        position: Position,
        /// The client's error (status, Miro's error body, transport error...).
        #[source]
        source: miro_api::Error,
    },
    /// The background task fetching a page ended without an answer (it panicked or the runtime
    /// is shutting down).
    #[error("{operation}: the page at {position} was not fetched: the task ended early")]
    Interrupted {
        /// The operation's method name.
        operation: &'static str,
        /// Where a resumed stream starts again.
        position: Position,
    },
    /// Miro named a page that was already fetched: following it would loop forever.
    #[error(
        "{operation}: Miro answered with cursor {cursor:?} again; stopping instead of looping"
    )]
    RepeatedCursor {
        /// The operation's method name.
        operation: &'static str,
        /// The cursor seen twice.
        cursor: String,
    },
    /// The operation does not page its results.
    #[error("{operation} is not a paginated operation")]
    NotPaginated {
        /// The operation's method name.
        operation: &'static str,
    },
    /// No operation of the table has this operationId or method name.
    #[error("no operation is named {name:?}")]
    UnknownOperation {
        /// The name asked for.
        name: String,
    },
    /// The number of path arguments does not match the operation's path.
    #[error("{operation}: {path} takes {expected} path argument(s), {given} given")]
    PathArguments {
        /// The operation's method name.
        operation: &'static str,
        /// The path template.
        path: &'static str,
        /// How many the path has.
        expected: usize,
        /// How many were given.
        given: usize,
    },
    /// A query parameter the operation does not take, or one the stream sets itself.
    #[error("{operation}: query parameter {name:?} {reason}")]
    InvalidQuery {
        /// The operation's method name.
        operation: &'static str,
        /// The parameter name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A page size of 0, or above the largest the spec allows. No longer produced: page streams
    /// clamp their page size to what the operation accepts
    /// ([`page_size_bounds`](crate::pagination::page_size_bounds)).
    #[error("{operation}: page size {requested} is not allowed (1..={})", max.map_or_else(|| "any".to_string(), |m| m.to_string()))]
    InvalidPageSize {
        /// The operation's method name.
        operation: &'static str,
        /// The size asked for.
        requested: u32,
        /// The largest the spec allows, when it states one.
        max: Option<u32>,
    },
    /// A resume position of the other paging kind (an offset for a cursor-paged operation, or
    /// the reverse).
    #[error("{operation}: cannot start at {position}: the operation pages by {expected}")]
    PositionKind {
        /// The operation's method name.
        operation: &'static str,
        /// The position given.
        position: Position,
        /// `"cursor"` or `"offset"`.
        expected: &'static str,
    },
}

impl PaginationError {
    /// Where a resumed stream would start, for errors that can be resumed.
    pub fn position(&self) -> Option<&Position> {
        match self {
            PaginationError::Page { position, .. }
            | PaginationError::Interrupted { position, .. } => Some(position),
            _ => None,
        }
    }

    /// The client's error, when a page request failed.
    pub fn api_error(&self) -> Option<&miro_api::Error> {
        match self {
            PaginationError::Page { source, .. } => Some(source),
            _ => None,
        }
    }
}
