//! The objects the all-operations walks refer to (a board with one item of each kind, a tag, a
//! connector, a group, a board member, an organization's team and member) and the arguments of
//! each operation's call: shared by the walk through `MiroApi` and the walk through the `miro`
//! command line.

use std::collections::HashMap;

use miro_api::operations::{Operation, OPERATIONS};
use miro_api::{FilePart, MiroApi};
use miro_emulator::{Emulator, RunningEmulator};
use serde_json::{json, Value};

use crate::all_operations::Args;

/// An id for the operations the emulator answers from the spec (any id of the right shape).
pub const ANY_ID: &str = "3458764517517819001";
pub const ANY_UUID: &str = "4b5a7c3e-9d21-4f0a-8e6b-2c1d3f4a5b6c";

/// Typed item paths, the method creating an item there and its body.
pub const KINDS: &[(&str, &str, &str)] = &[
    (
        "sticky_notes",
        "create_sticky_note_item",
        r#"{"data": {"content": "walk"}}"#,
    ),
    (
        "cards",
        "create_card_item",
        r#"{"data": {"title": "walk"}}"#,
    ),
    (
        "app_cards",
        "create_app_card_item",
        r#"{"data": {"title": "walk"}}"#,
    ),
    (
        "shapes",
        "create_shape_item",
        r#"{"data": {"shape": "rectangle", "content": "walk"}}"#,
    ),
    (
        "texts",
        "create_text_item",
        r#"{"data": {"content": "walk"}}"#,
    ),
    (
        "images",
        "create_image_item_using_url",
        r#"{"data": {"url": "https://miro.com/walk.png"}}"#,
    ),
    (
        "documents",
        "create_document_item_using_url",
        r#"{"data": {"url": "https://miro.com/walk.pdf"}}"#,
    ),
    (
        "embeds",
        "create_embed_item",
        r#"{"data": {"url": "https://www.youtube.com/watch?v=walk"}}"#,
    ),
    (
        "frames",
        "create_frame_item",
        r#"{"data": {"title": "walk"}}"#,
    ),
];

/// The table entry of a method.
pub fn op(method_name: &str) -> &'static Operation {
    OPERATIONS
        .iter()
        .find(|o| o.method_name == method_name)
        .unwrap_or_else(|| panic!("no operation {method_name}"))
}

/// The objects the calls refer to. Shared ones serve reads and updates; deletes get fresh ones.
pub struct World {
    /// A client of the emulator.
    pub api: MiroApi,
    /// The emulator.
    pub emu: RunningEmulator,
    board: String,
    items: HashMap<&'static str, String>,
    tag: String,
    connector: String,
    group: String,
    member: String,
    org: String,
    team: String,
    team_member: String,
}

/// Calls an operation untyped (fixtures must not depend on the types under test).
async fn raw(
    api: &MiroApi,
    method_name: &str,
    path: &[&str],
    query: &[(&str, String)],
    body: Option<Value>,
) -> Result<Value, String> {
    api.call_operation::<Value>(op(method_name), path, query, body.as_ref())
        .await
        .map(|r| r.into_inner())
        .map_err(|e| format!("fixture {method_name}: {e}"))
}

fn id_of(v: &Value) -> Result<String, String> {
    v["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no id in {v}"))
}

impl World {
    /// Starts an emulator (with an organization) and creates the shared objects.
    pub async fn new() -> Result<World, String> {
        let emu = Emulator::builder()
            .enterprise(4, 2, 3)
            .rate_limit(u64::MAX / 4, std::time::Duration::from_secs(60))
            .start()
            .await
            .map_err(|e| e.to_string())?;
        let api = MiroApi::builder()
            .base_url(emu.base_url())
            .access_token(emu.access_token())
            .build();
        let board = id_of(
            &raw(
                &api,
                "create_board",
                &[],
                &[],
                Some(json!({"name": "walk"})),
            )
            .await?,
        )?;
        let mut world = World {
            api,
            emu,
            board,
            items: HashMap::new(),
            tag: String::new(),
            connector: String::new(),
            group: String::new(),
            member: String::new(),
            org: String::new(),
            team: String::new(),
            team_member: String::new(),
        };
        for (segment, _, _) in KINDS {
            let id = world.fresh_item(segment).await?;
            world.items.insert(segment, id);
        }
        world.tag = world.fresh_tag().await?;
        world.connector = world.fresh_connector().await?;
        world.group = world.fresh_group().await?;
        world.member = world.fresh_member().await?;
        world.org = world.emu.org_id();
        let teams = raw(&world.api, "enterprise_get_teams", &[&world.org], &[], None).await?;
        world.team = id_of(&teams["data"][0])?;
        let members = raw(
            &world.api,
            "enterprise_get_team_members",
            &[&world.org, &world.team],
            &[],
            None,
        )
        .await?;
        world.team_member = id_of(&members["data"][0])?;
        Ok(world)
    }

    async fn fresh_item(&self, segment: &str) -> Result<String, String> {
        let (_, create, body) = KINDS
            .iter()
            .find(|(s, _, _)| *s == segment)
            .ok_or_else(|| format!("no item kind {segment}"))?;
        let body: Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
        id_of(&raw(&self.api, create, &[&self.board], &[], Some(body)).await?)
    }

    async fn fresh_tag(&self) -> Result<String, String> {
        let n = self.emu.requests().len();
        let body = json!({"title": format!("walk {n}")});
        id_of(&raw(&self.api, "create_tag", &[&self.board], &[], Some(body)).await?)
    }

    async fn fresh_connector(&self) -> Result<String, String> {
        let body = json!({
            "startItem": {"id": self.items["sticky_notes"]},
            "endItem": {"id": self.items["cards"]},
        });
        id_of(
            &raw(
                &self.api,
                "create_connector",
                &[&self.board],
                &[],
                Some(body),
            )
            .await?,
        )
    }

    async fn fresh_group(&self) -> Result<String, String> {
        let a = self.fresh_item("sticky_notes").await?;
        let b = self.fresh_item("texts").await?;
        let body = json!({"data": {"items": [a, b]}});
        id_of(&raw(&self.api, "create_group", &[&self.board], &[], Some(body)).await?)
    }

    async fn fresh_member(&self) -> Result<String, String> {
        let n = self.emu.requests().len();
        let body = json!({"emails": [format!("walker{n}@example.com")], "role": "editor"});
        let shared = raw(&self.api, "share_board", &[&self.board], &[], Some(body)).await?;
        match &shared["successful"][0] {
            Value::Number(n) => Ok(n.to_string()),
            Value::String(s) => Ok(s.clone()),
            other => Err(format!("share_board gave no member id: {other}")),
        }
    }

    /// The item kind a typed item path is about (`/v2/boards/{board_id}/cards/...` -> `cards`).
    fn kind_of(path: &str) -> Option<&'static str> {
        let rest = path.strip_prefix("/v2/boards/{board_id}/")?;
        let segment = rest.split('/').next()?;
        KINDS.iter().map(|(s, _, _)| *s).find(|s| *s == segment)
    }

    /// The arguments of one operation, with fresh objects for those that delete.
    pub async fn args(&self, op: &Operation) -> Result<Args, String> {
        let stateful = op.path.starts_with("/v2/boards");
        let deletes = stateful && op.http_method == "DELETE";
        let mut args = Args::default();
        let mut board = self.board.clone();
        let mut item = match Self::kind_of(op.path) {
            Some(kind) if deletes => self.fresh_item(kind).await?,
            Some(kind) => self.items[kind].clone(),
            None if deletes => self.fresh_item("sticky_notes").await?,
            None => self.items["sticky_notes"].clone(),
        };
        let mut tag = self.tag.clone();
        let mut connector = self.connector.clone();
        let mut group = self.group.clone();
        let mut member = self.member.clone();
        let mut team = self.team.clone();
        let mut team_member = self.team_member.clone();
        match op.method_name {
            "delete_board" => {
                board = id_of(
                    &raw(
                        &self.api,
                        "create_board",
                        &[],
                        &[],
                        Some(json!({"name": "gone"})),
                    )
                    .await?,
                )?;
            }
            "delete_tag" => tag = self.fresh_tag().await?,
            "delete_connector" => connector = self.fresh_connector().await?,
            "un_group" | "delete_group" => group = self.fresh_group().await?,
            "remove_board_member" => member = self.fresh_member().await?,
            "remove_tag_from_item" => {
                tag = self.fresh_tag().await?;
                raw(
                    &self.api,
                    "attach_tag_to_item",
                    &[&board, &item],
                    &[("tag_id", tag.clone())],
                    None,
                )
                .await?;
            }
            "attach_tag_to_item" => tag = self.fresh_tag().await?,
            "enterprise_delete_team" => {
                let body = json!({"name": "gone"});
                team = id_of(
                    &raw(
                        &self.api,
                        "enterprise_create_team",
                        &[&self.org],
                        &[],
                        Some(body),
                    )
                    .await?,
                )?;
            }
            "enterprise_delete_team_member" => {
                let n = self.emu.requests().len();
                let body = json!({"email": format!("leaver{n}@example.com")});
                let invited = raw(
                    &self.api,
                    "enterprise_invite_team_member",
                    &[&self.org, &self.team],
                    &[],
                    Some(body),
                )
                .await?;
                team_member = id_of(&invited)?;
            }
            "update_image_item_using_file_from_device" => item = self.items["images"].clone(),
            "update_document_item_using_file_from_device" => item = self.items["documents"].clone(),
            _ => {}
        }
        // Path parameters: the objects above on the stateful routes, any id elsewhere.
        for name in op.path_params {
            let value = match *name {
                "board_id" if stateful => board.clone(),
                "board_id" => ANY_ID.to_string(),
                "item_id" => item.clone(),
                "tag_id" => tag.clone(),
                "connector_id" => connector.clone(),
                "group_id" if stateful => group.clone(),
                "board_member_id" => member.clone(),
                "org_id" => self.org.clone(),
                "team_id" => team.clone(),
                "member_id" => team_member.clone(),
                "job_id" | "task_id" => ANY_UUID.to_string(),
                "resource" => "User".to_string(),
                "uri" => "urn:ietf:params:scim:schemas:core:2.0:User".to_string(),
                _ => ANY_ID.to_string(),
            };
            args = args.path(name, value);
        }
        // Query parameters and bodies that must name the objects above.
        let sticky = &self.items["sticky_notes"];
        let card = &self.items["cards"];
        args = match op.method_name {
            "copy_board" => args.query("copy_from", json!(self.board)),
            "get_items_by_tag" | "attach_tag_to_item" | "remove_tag_from_item" => {
                args.query("tag_id", json!(tag))
            }
            "get_items_within_frame" => args.query("parent_item_id", json!(self.items["frames"])),
            "revoke_token" => {
                args.query("access_token", json!(self.emu.issue_tokens().access_token))
            }
            "revoke_token_v2" => args.body(json!({
                "accessToken": self.emu.issue_tokens().access_token,
                "clientId": self.emu.client_id(),
                "clientSecret": self.emu.client_secret(),
            })),
            "create_connector" | "update_connector" => args.body(json!({
                "startItem": {"id": sticky},
                "endItem": {"id": card},
            })),
            "create_group" | "update_group" => {
                args.body(json!({"data": {"items": [sticky, card]}}))
            }
            "update_item_position_or_parent" => args.body(json!({"position": {"x": 10, "y": 20}})),
            // A text item needs its content (the synthesized item is a bare text).
            "create_items" => args.body(json!([
                {"type": "sticky_note", "data": {"content": "walk"}},
                {"type": "text", "data": {"content": "walk"}},
            ])),
            "share_board" => args.body(json!({"emails": ["walk@example.com"], "role": "viewer"})),
            "create_items_in_bulk_using_file_from_device" => args
                .body(json!([{"type": "image", "data": {"title": "walk"}}]))
                .files(vec![FilePart::new(
                    &b"\x89PNG\r\n\x1a\n"[..],
                    "walk.png",
                    "image/png",
                )]),
            _ => args,
        };
        Ok(args)
    }
}

/// The last request `emu` logged after the first `since` of its log, when it reached the emulator
/// as `op` (its method and its route); otherwise the failure to report, naming the operation.
pub fn reached_as(
    emu: &RunningEmulator,
    since: usize,
    op: &Operation,
) -> Result<miro_emulator::LoggedRequest, String> {
    let log = emu.requests();
    let Some(req) = log.get(since..).and_then(|new| new.last()) else {
        return Err(format!("{}: no request reached the emulator", op.id));
    };
    let route = req.route.as_deref().map(route_shape);
    if req.method != op.http_method || route != Some(route_shape(op.path)) {
        return Err(format!(
            "{}: the emulator saw {} {} (route {:?})",
            op.id, req.method, req.path, req.route
        ));
    }
    Ok(req.clone())
}

/// The path template of a logged route (or of an operation) with its parameter names blanked,
/// so that the two compare: `/v2/boards/{board_id}` and `/v2/boards/{id}` are both
/// `/v2/boards/{}`.
pub fn route_shape(template: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in template.trim_end_matches('?').chars() {
        match c {
            '{' => {
                inside = true;
                out.push_str("{}");
            }
            '}' => inside = false,
            _ if !inside => out.push(c),
            _ => {}
        }
    }
    out
}
