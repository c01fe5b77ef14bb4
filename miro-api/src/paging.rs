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
/// filters the caller set. The paging parameters (`cursor`, `offset`, `limit`) are the stream's
/// to set; a `limit` the caller set is the stream's page size.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Paging {
    /// The client that sends every page.
    pub api: MiroApi,
    /// The paginated operation.
    pub operation: &'static Operation,
    /// The path arguments, unencoded, in the order of the operation's path.
    pub path_args: Vec<String>,
    /// The query parameters the caller set, other than the paging ones, as they go on the wire.
    pub query: Vec<(String, String)>,
    /// The page size the caller asked for, if any.
    pub page_size: Option<u32>,
}
