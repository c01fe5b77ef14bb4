//! Response bodies captured from the live API (and fixtures their authors say mirror it), read
//! from the shared corpus (`miro_tests::live_corpus`), served by a local server and decoded by
//! the real client: every one decodes with strict decoding, and the fields the spec lacks are
//! kept. The live facts come from spec fixes (`lossless-int64-ids`, `live-item-fields`,
//! `live-board-fields`, `live-member-and-token-fields`, `base-path-from-code-samples`).

use miro_api::types::{ItemStyle, WidgetDataOutput};
use miro_api::{operations, MiroApi};
use miro_tests::all_operations::{call, Args, CallError};
use miro_tests::live_corpus;
use miro_tests::scripted::{Answer, ScriptedServer};
use serde_json::{json, Value};

struct Entry {
    file: String,
    operation: String,
    status: u16,
    decode_as: Option<String>,
}

fn entries() -> Vec<Entry> {
    let dir = live_corpus();
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    index["bodies"]
        .as_array()
        .expect("index.json lists bodies")
        .iter()
        .map(|e| Entry {
            file: e["file"].as_str().unwrap().to_string(),
            operation: e["operation"].as_str().unwrap().to_string(),
            status: e["status"].as_u64().unwrap() as u16,
            decode_as: e["decode_as"].as_str().map(str::to_string),
        })
        .collect()
}

fn body(file: &str) -> String {
    std::fs::read_to_string(live_corpus().join("bodies").join(file)).unwrap()
}

/// A client of a server that answers every request with `status` and `body`.
async fn serving(status: u16, body: String) -> (MiroApi, ScriptedServer) {
    let server =
        ScriptedServer::start(move |_, _| Answer::new(status, "application/json", body.clone()))
            .await;
    let api = MiroApi::builder()
        .base_url(server.base_url())
        .access_token("corpus")
        .strict_decoding(true)
        .pacing(false)
        .build();
    (api, server)
}

/// The path arguments a call needs: any value will do, the server answers every path.
fn args_for(op: &operations::Operation) -> Args {
    op.path_params.iter().fold(Args::default(), |args, name| {
        args.path(name, "3458764517517819001")
    })
}

#[tokio::test]
async fn every_corpus_body_decodes_strictly_through_its_operation() {
    let entries = entries();
    assert!(entries.len() >= 50, "{} bodies", entries.len());
    let mut failures = Vec::new();
    for e in &entries {
        let text = body(&e.file);
        if e.decode_as.as_deref() == Some("GenericItem") {
            // A fragment: one element of a list's data.
            let value: Value = serde_json::from_str(&text).unwrap();
            let mut track = serde_path_to_error::Track::new();
            let de = serde_path_to_error::Deserializer::new(&value, &mut track);
            if let Err(err) = <miro_api::types::GenericItem as serde::Deserialize>::deserialize(de)
            {
                failures.push(format!("{}: at {}: {err}", e.file, track.path()));
            }
            continue;
        }
        let op = operations::find(&e.operation)
            .unwrap_or_else(|| panic!("{}: no operation {}", e.file, e.operation));
        let (api, _server) = serving(e.status, text).await;
        let outcome = call(&api, op, &args_for(op)).await;
        match (e.decode_as.as_deref(), outcome) {
            (None, Ok(status)) => assert_eq!(status, e.status, "{}", e.file),
            (Some("ErrorBody"), Err(CallError::Api(miro_api::Error::Api(err)))) => {
                assert_eq!(err.status.as_u16(), e.status, "{}", e.file);
                assert!(
                    err.message().is_some_and(|m| !m.is_empty()),
                    "{}: Miro's message is kept: {err:?}",
                    e.file
                );
            }
            (_, other) => failures.push(format!("{} ({}): {other:?}", e.file, e.operation)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bodies do not decode:\n{}",
        failures.len(),
        entries.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn live_board_fields_are_kept() {
    let (api, _s) = serving(200, body("028-get-boards.json")).await;
    let page = api.get_boards().await.unwrap();
    let board = &page.data[0];
    let permissions = board
        .permissions_policy
        .as_ref()
        .expect("permissionsPolicy");
    assert!(permissions.copy_access_level.is_some());
    let sharing = board.sharing_policy.as_ref().expect("sharingPolicy");
    assert!(sharing.access.is_some());
    assert!(board
        .links
        .as_ref()
        .and_then(|l| l.self_.as_deref())
        .is_some_and(|s| s.ends_with("/v2/boards/uXjVK21fJMM%3D")));
    let nested = board
        .policy
        .as_ref()
        .unwrap()
        .permissions_policy
        .as_ref()
        .unwrap();
    assert!(nested.copy_access_level.is_some());
    // Fields no type has are still readable from the raw body.
    assert_eq!(
        page.raw_json().unwrap()["data"][0]["team"]["name"],
        "Dev team"
    );

    // A null description (documented as a required string).
    let (api, _s) = serving(200, body("044-update-board.json")).await;
    let board = api
        .update_board("b", &miro_api::types::BoardChanges::default())
        .await
        .unwrap();
    assert_eq!(board.description, None);
}

#[tokio::test]
async fn live_item_fields_are_kept() {
    for file in [
        "033-get-items.json",
        "038-get-items.json",
        "054-get-items.json",
    ] {
        let (api, _s) = serving(200, body(file)).await;
        let page = api.get_items("b").await.unwrap();
        assert_eq!(page.type_.as_deref(), Some("cursor-list"), "{file}");
        assert!(!page.data.is_empty());
        for item in &page.data {
            let style = item
                .style
                .as_ref()
                .unwrap_or_else(|| panic!("{file}: style"));
            assert!(
                !matches!(style, ItemStyle::Unknown(_)),
                "{file}: {} style decodes as its type: {style:?}",
                item.type_
            );
            assert!(
                item.links.as_ref().and_then(|l| l.self_.as_ref()).is_some(),
                "{file}: links"
            );
        }
    }
    // A sticky note's colour, by name.
    let (api, _s) = serving(200, body("050-get-items.json")).await;
    let page = api.get_items("b").await.unwrap();
    let note = &page.data[0];
    assert!(matches!(
        note.data,
        Some(WidgetDataOutput::StickyNoteData(_))
    ));
    match &note.style {
        Some(ItemStyle::StickyNoteStyle(style)) => assert!(style.fill_color.is_some()),
        other => panic!("sticky note style: {other:?}"),
    }
}

#[tokio::test]
async fn live_member_and_token_fields_are_kept() {
    let (api, _s) = serving(200, body("029-get-board-members.json")).await;
    let members = api.get_board_members("b").await.unwrap();
    assert!(members.data[0]
        .links
        .as_ref()
        .and_then(|l| l.self_.as_deref())
        .is_some_and(|s| s.contains("/members/")));

    let (api, _s) = serving(200, body("023-token-info.json")).await;
    let info = api.token_info().await.unwrap();
    let app = info.application.as_ref().expect("application");
    assert_eq!(app.name.as_deref(), Some("Go Miro"));
    assert_eq!(app.id.as_deref(), Some("app-1"));
}

fn board_with_picture(id: Value) -> String {
    json!({
        "id": "uXjVOD6LSME=", "type": "board", "name": "Plans", "description": "",
        "picture": {"id": id, "imageURL": "https://miro.images/1.jpg", "type": "picture"}
    })
    .to_string()
}

#[tokio::test]
async fn picture_ids_keep_every_digit_as_string_or_number() {
    for id in [json!("3458764514006802400"), json!(3458764514006802400u64)] {
        let (api, _s) = serving(200, board_with_picture(id.clone())).await;
        let board = api.get_specific_board("b").await.unwrap();
        assert_eq!(
            board.picture.as_ref().and_then(|p| p.id.as_deref()),
            Some("3458764514006802400"),
            "from {id}"
        );
    }
}

#[tokio::test]
async fn a_mismatched_optional_field_decodes_as_absent_unless_strict() {
    let mut board: Value = serde_json::from_str(&board_with_picture(json!("1"))).unwrap();
    board["picture"]["imageURL"] = json!(5);
    board["createdAt"] = json!("yesterday");
    let server = ScriptedServer::start({
        let text = board.to_string();
        move |_, _| Answer::new(200, "application/json", text.clone())
    })
    .await;
    let api = MiroApi::builder()
        .base_url(server.base_url())
        .access_token("t")
        .build();
    let got = api.get_specific_board("b").await.unwrap();
    assert_eq!(got.name, "Plans");
    assert_eq!(got.created_at, None);
    assert_eq!(got.picture.as_ref().unwrap().image_url, None);
    assert_eq!(got.picture.as_ref().unwrap().id.as_deref(), Some("1"));
    let mut paths: Vec<_> = got
        .decode_warnings()
        .iter()
        .map(|w| w.path.clone())
        .collect();
    paths.sort();
    assert_eq!(paths, ["createdAt", "picture.imageURL"]);
    assert_eq!(got.raw_json().unwrap()["createdAt"], "yesterday");

    let strict = MiroApi::builder()
        .base_url(server.base_url())
        .access_token("t")
        .strict_decoding(true)
        .build();
    match strict.get_specific_board("b").await.unwrap_err() {
        miro_api::Error::Decode { source, .. } => {
            let message = source.to_string();
            assert!(
                message.contains("(at `createdAt`)") || message.contains("(at `picture.imageURL`)"),
                "{message}"
            )
        }
        other => panic!("expected a decode error, got {other:?}"),
    }

    // A required field stays strict.
    board["name"] = json!(7);
    let server = ScriptedServer::start({
        let text = board.to_string();
        move |_, _| Answer::new(200, "application/json", text.clone())
    })
    .await;
    let api = MiroApi::builder()
        .base_url(server.base_url())
        .access_token("t")
        .build();
    match api.get_specific_board("b").await.unwrap_err() {
        miro_api::Error::Decode { source, .. } => {
            assert!(source.to_string().contains("(at `name`)"), "{source}");
            assert_ne!(source.line(), 0, "the field's place in the body: {source}");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[tokio::test]
async fn scim_goes_to_api_v1_scim_as_scim_json() {
    let server = ScriptedServer::start(|_, _| {
        Answer::new(
            200,
            "application/scim+json",
            json!({"schemas": [], "totalResults": 0, "Resources": []}).to_string(),
        )
    })
    .await;
    let api = MiroApi::builder()
        .base_url(server.base_url())
        .access_token("t")
        .build();
    api.list_users().await.unwrap();
    let op = operations::find("createUser").unwrap();
    let _ = call(&api, op, &Args::default()).await;
    let log = server.requests();
    assert_eq!(log[0].path, "/api/v1/scim/Users");
    assert_eq!(log[0].headers["accept"], "application/scim+json");
    assert_eq!(log[1].method, "POST");
    assert_eq!(log[1].path, "/api/v1/scim/Users");
    assert_eq!(log[1].headers["content-type"], "application/scim+json");
}
