//! Pagination: every paginated operation as a [`Stream`](futures::Stream) of its items.
//!
//! [`PagedRequestExt`] turns a request into a stream; [`PaginationExt`] adds to [`MiroApi`]:
//! [`paginate`](PaginationExt::paginate) for any
//! paginated operation of the [operations table](miro_api::operations) (cursor or offset
//! paging, chosen from the table, so an operation added by a newer spec is covered without
//! hand work), and the ten `get_all_*` helpers with typed items.
//!
//! Any paginated request becomes a stream with [`PagedRequestExt::stream`], keeping its typed
//! filters:
//!
//! ```no_run
//! use miro_api::types::ItemType;
//! use miro_api_extended::prelude::*;
//!
//! # async fn run(api: miro_api::MiroApi) -> Result<(), miro_api_extended::PaginationError> {
//! let mut notes = api
//!     .get_items("uXjVO_board")
//!     .type_(ItemType::StickyNote)
//!     .stream();
//! while let Some(item) = notes.try_next().await? {
//!     println!("{} {}", item.id, item.type_);
//! }
//! let boards: Vec<_> = api.get_all_boards().try_collect().await?;
//! # Ok(()) }
//! ```

mod error;
mod stream;

pub use error::PaginationError;
pub use stream::{page_size_bounds, PageStream, Position, MAX_KEPT_WARNINGS};

use miro_api::operations::{self, Operation};
#[cfg(feature = "boards")]
use miro_api::types::Board;
#[cfg(feature = "board_members")]
use miro_api::types::BoardMember;
#[cfg(feature = "connectors")]
use miro_api::types::ConnectorWithLinks;
#[cfg(any(feature = "items", feature = "tags"))]
use miro_api::types::GenericItem;
#[cfg(feature = "tags")]
use miro_api::types::Tag;
#[cfg(feature = "enterprise")]
use miro_api::types::{OrganizationMember, Team, TeamMember};
use miro_api::{MiroApi, PagedRequest};
use serde::de::DeserializeOwned;

/// Page streams for [`MiroApi`]: the generic [`paginate`](Self::paginate) and the ten named
/// helpers of Miro's official clients.
///
/// Each named helper compiles with the cargo feature of its API area (`boards`, `items`,
/// `tags`, `connectors`, `board_members`, `enterprise`), as the operation it pages does.
///
/// For filters, start from the request instead: `api.get_boards().team_id(team).stream()`
/// ([`PagedRequestExt`]); [`PageStream::query`] takes raw query pairs.
pub trait PaginationExt {
    /// The items of any paginated operation, decoded as `T` (`serde_json::Value` keeps them
    /// raw). Fails when `op` does not page or `path_args` has the wrong length.
    fn paginate<T: DeserializeOwned + Send + 'static>(
        &self,
        op: &'static Operation,
        path_args: &[&str],
    ) -> Result<PageStream<T>, PaginationError>;

    /// Like [`paginate`](Self::paginate), with the operation named by its operationId or
    /// method name (`"get-items"` or `"get_items"`).
    fn paginate_named<T: DeserializeOwned + Send + 'static>(
        &self,
        operation: &str,
        path_args: &[&str],
    ) -> Result<PageStream<T>, PaginationError>;

    #[cfg(feature = "boards")]
    /// `GET /v2/boards`: the boards the user can access (offset paging). Filters: `team_id`,
    /// `project_id`, `query`, `owner`, `sort`.
    fn get_all_boards(&self) -> PageStream<Board>;

    #[cfg(feature = "items")]
    /// `GET /v2/boards/{board_id}/items`: every item of a board (cursor paging). Filter:
    /// `type`.
    fn get_all_items(&self, board_id: &str) -> PageStream<GenericItem>;

    #[cfg(feature = "items")]
    /// The items whose parent is the frame `frame_id` (cursor paging). Filter: `type`.
    fn get_all_items_within_frame(&self, board_id: &str, frame_id: &str)
        -> PageStream<GenericItem>;

    #[cfg(feature = "tags")]
    /// The items carrying the tag `tag_id` (offset paging).
    fn get_all_items_by_tag(&self, board_id: &str, tag_id: &str) -> PageStream<GenericItem>;

    #[cfg(feature = "connectors")]
    /// `GET /v2/boards/{board_id}/connectors` (cursor paging).
    fn get_all_connectors(&self, board_id: &str) -> PageStream<ConnectorWithLinks>;

    #[cfg(feature = "tags")]
    /// `GET /v2/boards/{board_id}/tags` (offset paging).
    fn get_all_tags_from_board(&self, board_id: &str) -> PageStream<Tag>;

    #[cfg(feature = "board_members")]
    /// `GET /v2/boards/{board_id}/members` (offset paging).
    fn get_all_board_members(&self, board_id: &str) -> PageStream<BoardMember>;

    #[cfg(feature = "enterprise")]
    /// `GET /v2/orgs/{org_id}/teams` (cursor paging; Enterprise). Filter: `name`.
    fn get_all_enterprise_teams(&self, org_id: &str) -> PageStream<Team>;

    #[cfg(feature = "enterprise")]
    /// `GET /v2/orgs/{org_id}/members` (cursor paging; Enterprise). Filters: `role`,
    /// `license`, `active`.
    fn get_all_organization_members(&self, org_id: &str) -> PageStream<OrganizationMember>;

    #[cfg(feature = "enterprise")]
    /// `GET /v2/orgs/{org_id}/teams/{team_id}/members` (cursor paging; Enterprise). Filter:
    /// `role`.
    fn get_all_enterprise_team_members(
        &self,
        org_id: &str,
        team_id: &str,
    ) -> PageStream<TeamMember>;
}

/// Turns the request of a paginated operation into a stream of its items:
/// `api.get_items(board).type_(ItemType::Image).stream()`. The filters set on the request
/// go with every page (a list filter with all its values); a `limit` set on it is the page
/// size (clamped to what the operation accepts); a `cursor` or `offset` set on it is where
/// the stream starts.
pub trait PagedRequestExt: PagedRequest + Sized {
    /// Every item of every page, lazily, as a [`PageStream`].
    fn stream(self) -> PageStream<Self::Item>;
}

impl<R: PagedRequest> PagedRequestExt for R {
    fn stream(self) -> PageStream<Self::Item> {
        let paging = self.into_paging();
        let args: Vec<&str> = paging.path_args.iter().map(String::as_str).collect();
        let mut stream = known(&paging.api, paging.operation, &args);
        // One filter per name, with every value it was given (a list filter has several).
        let mut names: Vec<&str> = Vec::new();
        for (name, _) in &paging.query {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        for name in names {
            let mut values = paging
                .query
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.clone());
            stream = match name {
                // Where the caller's request started: the stream starts there too.
                "cursor" | "offset" => {
                    let start = values.next_back().unwrap_or_default();
                    start_at(stream, name, &start)
                }
                _ => stream.query_values(name, values),
            };
        }
        match paging.page_size {
            Some(size) => stream.page_size(size),
            None => stream,
        }
    }
}

/// `stream` resumed from the `cursor` or `offset` a request carried.
fn start_at<T: DeserializeOwned + Send + 'static>(
    stream: PageStream<T>,
    name: &str,
    value: &str,
) -> PageStream<T> {
    let position = match name {
        "cursor" => Ok(Position::cursor(value)),
        _ => value.trim().parse().map(Position::offset).map_err(|_| ()),
    };
    match position {
        Ok(position) => stream.resume_from(position),
        Err(()) => stream.invalid_start(name),
    }
}

/// A stream over an operation known to page, with the right number of path arguments.
fn known<T: DeserializeOwned + Send + 'static>(
    api: &MiroApi,
    op: &'static Operation,
    path_args: &[&str],
) -> PageStream<T> {
    match PageStream::new(api.clone(), op, path_args) {
        Ok(stream) => stream,
        // The table and these helpers come from the same spec; the unit tests check each.
        Err(e) => unreachable!("{}: {e}", op.method_name),
    }
}

impl PaginationExt for MiroApi {
    fn paginate<T: DeserializeOwned + Send + 'static>(
        &self,
        op: &'static Operation,
        path_args: &[&str],
    ) -> Result<PageStream<T>, PaginationError> {
        PageStream::new(self.clone(), op, path_args)
    }

    fn paginate_named<T: DeserializeOwned + Send + 'static>(
        &self,
        operation: &str,
        path_args: &[&str],
    ) -> Result<PageStream<T>, PaginationError> {
        let op = operations::find(operation).ok_or_else(|| PaginationError::UnknownOperation {
            name: operation.to_string(),
        })?;
        PageStream::new(self.clone(), op, path_args)
    }

    #[cfg(feature = "boards")]
    fn get_all_boards(&self) -> PageStream<Board> {
        known(self, &operations::GET_BOARDS, &[])
    }

    #[cfg(feature = "items")]
    fn get_all_items(&self, board_id: &str) -> PageStream<GenericItem> {
        known(self, &operations::GET_ITEMS, &[board_id])
    }

    #[cfg(feature = "items")]
    fn get_all_items_within_frame(
        &self,
        board_id: &str,
        frame_id: &str,
    ) -> PageStream<GenericItem> {
        known(self, &operations::GET_ITEMS_WITHIN_FRAME, &[board_id])
            .query("parent_item_id", frame_id)
    }

    #[cfg(feature = "tags")]
    fn get_all_items_by_tag(&self, board_id: &str, tag_id: &str) -> PageStream<GenericItem> {
        known(self, &operations::GET_ITEMS_BY_TAG, &[board_id]).query("tag_id", tag_id)
    }

    #[cfg(feature = "connectors")]
    fn get_all_connectors(&self, board_id: &str) -> PageStream<ConnectorWithLinks> {
        known(self, &operations::GET_CONNECTORS, &[board_id])
    }

    #[cfg(feature = "tags")]
    fn get_all_tags_from_board(&self, board_id: &str) -> PageStream<Tag> {
        known(self, &operations::GET_TAGS_FROM_BOARD, &[board_id])
    }

    #[cfg(feature = "board_members")]
    fn get_all_board_members(&self, board_id: &str) -> PageStream<BoardMember> {
        known(self, &operations::GET_BOARD_MEMBERS, &[board_id])
    }

    #[cfg(feature = "enterprise")]
    fn get_all_enterprise_teams(&self, org_id: &str) -> PageStream<Team> {
        known(self, &operations::ENTERPRISE_GET_TEAMS, &[org_id])
    }

    #[cfg(feature = "enterprise")]
    fn get_all_organization_members(&self, org_id: &str) -> PageStream<OrganizationMember> {
        known(
            self,
            &operations::ENTERPRISE_GET_ORGANIZATION_MEMBERS,
            &[org_id],
        )
    }

    #[cfg(feature = "enterprise")]
    fn get_all_enterprise_team_members(
        &self,
        org_id: &str,
        team_id: &str,
    ) -> PageStream<TeamMember> {
        known(
            self,
            &operations::ENTERPRISE_GET_TEAM_MEMBERS,
            &[org_id, team_id],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use miro_api::operations::{Pagination, OPERATIONS};

    #[test]
    fn every_paginated_operation_gets_a_stream() {
        let api = MiroApi::new("t");
        let mut count = 0;
        for op in OPERATIONS
            .iter()
            .filter(|op| op.pagination != Pagination::None)
        {
            let args: Vec<&str> = op.path_params.iter().map(|_| "x").collect();
            let stream = api.paginate::<serde_json::Value>(op, &args).unwrap();
            assert_eq!(stream.position(), Position::start_of(op));
            count += 1;
        }
        assert!(count >= 30, "{count} paginated operations");
        let not_paged = OPERATIONS
            .iter()
            .find(|op| op.pagination == Pagination::None)
            .unwrap();
        assert!(matches!(
            api.paginate::<serde_json::Value>(not_paged, &[]),
            Err(PaginationError::NotPaginated { .. })
        ));
        assert!(matches!(
            api.paginate::<serde_json::Value>(&operations::GET_ITEMS, &[]),
            Err(PaginationError::PathArguments {
                expected: 1,
                given: 0,
                ..
            })
        ));
        assert!(matches!(
            api.paginate_named::<serde_json::Value>("no-such-op", &[]),
            Err(PaginationError::UnknownOperation { .. })
        ));
    }

    #[test]
    fn the_named_helpers_build() {
        let api = MiroApi::new("t");
        assert_eq!(api.get_all_boards().operation().id, "get-boards");
        assert_eq!(api.get_all_items("b").operation().id, "get-items");
        let frame = api.get_all_items_within_frame("b", "f");
        assert_eq!(frame.operation().id, "get-items-within-frame");
        assert_eq!(
            api.get_all_items_by_tag("b", "t").operation().id,
            "get-items-by-tag"
        );
        assert_eq!(api.get_all_connectors("b").operation().id, "get-connectors");
        assert_eq!(
            api.get_all_tags_from_board("b").operation().id,
            "get-tags-from-board"
        );
        assert_eq!(
            api.get_all_board_members("b").operation().id,
            "get-board-members"
        );
        assert_eq!(
            api.get_all_enterprise_teams("o").operation().id,
            "enterprise-get-teams"
        );
        assert_eq!(
            api.get_all_organization_members("o").operation().id,
            "enterprise-get-organization-members"
        );
        assert_eq!(
            api.get_all_enterprise_team_members("o", "t").operation().id,
            "enterprise-get-team-members"
        );
    }
}
