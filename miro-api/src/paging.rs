//! What a page stream needs from a request of a paginated operation.

use serde::de::DeserializeOwned;

use crate::generated::operations::Operation;
use crate::MiroApi;

/// A request of a paginated operation (`api.get_items(board)`, `api.get_boards()`, ...), with
/// the filters set on it. `miro-api-extended` turns it into a stream of every item of every page
/// (`.stream()`); this trait is the hand-over.
pub trait PagedRequest {
    /// The type of one item of a page (the elements of its `data`).
    type Item: DeserializeOwned + Send + 'static;

    /// The request as a page stream repeats it.
    fn into_paging(self) -> Paging;
}

/// A paginated request taken apart: the client, the operation, its path arguments and the
/// filters the caller set. A `limit` the caller set is the stream's page size; a `cursor` or
/// `offset` the caller set is in `query` and is where the stream starts.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Paging {
    /// The client that sends every page.
    pub api: MiroApi,
    /// The paginated operation.
    pub operation: &'static Operation,
    /// The path arguments, unencoded, in the order of the operation's path.
    pub path_args: Vec<String>,
    /// The query parameters the caller set, as they go on the wire: one pair per value, so a
    /// list filter (`board_ids`, `emails`) has one pair per element. A `cursor` or `offset`
    /// among them is the stream's starting point, not a filter.
    pub query: Vec<(String, String)>,
    /// The page size the caller asked for, if any.
    pub page_size: Option<u32>,
}

impl Paging {
    /// A paginated request of `operation` with its path arguments, no filters and the default
    /// page size: how a hand-written request (e.g. the comments list) implements
    /// [`PagedRequest`].
    pub fn new(api: MiroApi, operation: &'static Operation, path_args: Vec<String>) -> Self {
        Paging {
            api,
            operation,
            path_args,
            query: Vec::new(),
            page_size: None,
        }
    }
}
