//! The API area of each operation: one decision, from the spec's tags and paths, that groups
//! `MiroApi`'s methods in the docs and names the cargo feature of `miro-api` that compiles them
//! (see [`crate::features`]).

use crate::model::Operation;

/// An area of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Area {
    /// Place in the docs: the areas most apps use come first.
    pub order: u8,
    /// Short snake_case name.
    pub key: &'static str,
    /// Heading in the docs.
    pub title: &'static str,
}

impl Area {
    /// The cargo feature of `miro-api` that compiles the area: its key.
    pub fn feature(&self) -> &'static str {
        self.key
    }

    /// Whether the area is in `miro-api`'s default features: the areas most apps use.
    pub fn default(&self) -> bool {
        DEFAULT_AREAS.contains(&self.key)
    }
}

const fn area(order: u8, key: &'static str, title: &'static str) -> Area {
    Area { order, key, title }
}

/// The areas in `miro-api`'s default features: boards, board members, items (uploads
/// included), frames, tags, connectors, groups and tokens.
pub const DEFAULT_AREAS: &[&str] = &[
    "boards",
    "board_members",
    "items",
    "frames",
    "tags",
    "connectors",
    "groups",
    "tokens",
];

/// Every area, in docs order.
pub const AREAS: &[Area] = &[
    area(0, "boards", "Boards"),
    area(1, "board_members", "Board members"),
    area(2, "items", "Items"),
    area(3, "frames", "Frames"),
    area(4, "tags", "Tags"),
    area(5, "connectors", "Connectors"),
    area(6, "groups", "Groups of items"),
    area(7, "tokens", "Tokens"),
    area(8, "experimental", "Experimental"),
    area(
        9,
        "enterprise",
        "Enterprise: organizations, teams and user groups",
    ),
    area(10, "projects", "Projects"),
    area(11, "data_classification", "Data classification"),
    area(12, "exports", "Board exports"),
    area(13, "cases", "eDiscovery cases"),
    area(14, "legal_holds", "Legal holds"),
    area(15, "audit_logs", "Audit and content logs"),
    area(16, "scim", "SCIM user provisioning"),
];

fn named(key: &str) -> Area {
    *AREAS
        .iter()
        .find(|a| a.key == key)
        .unwrap_or(&AREAS[AREAS.len() - 1])
}

/// The area of `op`: by its path first (experimental operations under `/v2-experimental`, SCIM
/// outside `/v1` and `/v2`, enterprise under `/v2/orgs`), then by its tag.
pub fn of(op: &Operation) -> Area {
    let tag = op.tag.to_ascii_lowercase();
    let path = op.path.as_str();
    let key = if tag.contains("experimental") || path.starts_with("/v2-experimental/") {
        "experimental"
    } else if !path.starts_with("/v1/") && !path.starts_with("/v2/") {
        "scim"
    } else if path.contains("/legal-holds") {
        "legal_holds"
    } else if path.contains("/cases") {
        "cases"
    } else if path.contains("/export") {
        "exports"
    } else if tag.contains("classification") {
        "data_classification"
    } else if tag.contains("logs") {
        "audit_logs"
    } else if tag.contains("project") {
        "projects"
    } else if path.starts_with("/v2/orgs") || (tag.contains("group") && tag != "groups") {
        "enterprise"
    } else {
        match tag.as_str() {
            "boards" => "boards",
            "board members" => "board_members",
            "frames" => "frames",
            "tags" => "tags",
            "connectors" => "connectors",
            "groups" => "groups",
            "tokens" | "oauth" => "tokens",
            _ if path.starts_with("/v2/boards/") => "items",
            _ => "enterprise",
        }
    };
    named(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(tag: &str, path: &str) -> Operation {
        Operation {
            tag: tag.into(),
            ..Operation::bare("GET", path)
        }
    }

    #[test]
    fn areas_follow_paths_then_tags() {
        assert_eq!(of(&op("Boards", "/v2/boards")).key, "boards");
        assert_eq!(
            of(&op(
                "Sticky note items",
                "/v2/boards/{board_id}/sticky_notes"
            ))
            .key,
            "items"
        );
        assert_eq!(
            of(&op("groups", "/v2/boards/{board_id}/groups")).key,
            "groups"
        );
        assert_eq!(of(&op("User", "/Users")).key, "scim");
        assert_eq!(
            of(&op(
                "Legal holds",
                "/v2/orgs/{org_id}/cases/{case_id}/legal-holds"
            ))
            .key,
            "legal_holds"
        );
        assert_eq!(
            of(&op("Legal holds", "/v2/orgs/{org_id}/cases")).key,
            "cases"
        );
        assert_eq!(
            of(&op("User groups", "/v2/orgs/{org_id}/groups")).key,
            "enterprise"
        );
        assert_eq!(
            of(&op("Flowchart shapes (experimental)", "/v2-experimental/x")).key,
            "experimental"
        );
    }
}
