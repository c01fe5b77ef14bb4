//! Updates through `MiroApi` send only the fields the caller set, and the emulator keeps every
//! other field as it was: the sent body (from the request log) and the object afterwards.

use miro_api::types;
use miro_api::MiroApi;
use miro_emulator::{Emulator, RunningEmulator};
use serde_json::{json, Value};

async fn setup() -> (RunningEmulator, MiroApi, String) {
    let emu = Emulator::start().await.unwrap();
    let api = MiroApi::builder()
        .base_url(emu.base_url())
        .access_token(emu.access_token())
        .build();
    let board = api
        .create_board(&types::BoardChanges::default().name("Roadmap"))
        .await
        .unwrap()
        .id
        .clone();
    (emu, api, board)
}

/// The JSON body of the last PATCH the emulator received.
fn last_patch(emu: &RunningEmulator) -> Value {
    emu.requests()
        .iter()
        .rev()
        .find(|r| r.method == "PATCH")
        .and_then(|r| r.json())
        .expect("a PATCH with a JSON body was sent")
}

/// A typed create body from JSON, so each test reads as the object it starts from.
fn body<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

#[tokio::test]
async fn a_description_only_board_update_keeps_the_name() {
    let (emu, api, board) = setup().await;
    let update = types::BoardChanges::default().description("Q3 plans");
    let updated = api.update_board(&board, &update).await.unwrap();
    assert_eq!(last_patch(&emu), json!({"description": "Q3 plans"}));
    assert_eq!(updated.name, "Roadmap");
    let fetched = api.get_specific_board(&board).await.unwrap();
    assert_eq!(fetched.name, "Roadmap");
    assert_eq!(fetched.description.as_deref(), Some("Q3 plans"));
}

#[tokio::test]
async fn a_content_only_sticky_note_update_keeps_the_shape() {
    let (emu, api, board) = setup().await;
    let note = api
        .create_sticky_note_item(
            &board,
            &body(json!({"data": {"content": "a", "shape": "rectangle"}})),
        )
        .await
        .unwrap();
    let update = types::StickyNoteUpdateRequest::default()
        .data(types::StickyNoteData::default().content("b"));
    let updated = api
        .update_sticky_note_item(&board, &note.id, &update)
        .await
        .unwrap();
    assert_eq!(last_patch(&emu), json!({"data": {"content": "b"}}));
    let data = updated.data.as_ref().unwrap();
    assert_eq!(data.content.as_deref(), Some("b"));
    assert_eq!(
        data.shape.as_ref().map(|s| s.as_str()),
        Some("rectangle"),
        "the note's shape changed"
    );
}

#[tokio::test]
async fn a_content_only_shape_update_keeps_the_shape() {
    let (emu, api, board) = setup().await;
    let shape = api
        .create_shape_item(
            &board,
            &body(json!({"data": {"content": "start", "shape": "circle"}})),
        )
        .await
        .unwrap();
    let update = types::ShapeUpdateRequest::default()
        .data(types::ShapeDataForUpdate::default().content("end"));
    let updated = api
        .update_shape_item(&board, &shape.id, &update)
        .await
        .unwrap();
    assert_eq!(last_patch(&emu), json!({"data": {"content": "end"}}));
    let data = updated.data.as_ref().unwrap();
    assert_eq!(data.content.as_deref(), Some("end"));
    assert_eq!(data.shape, Some(types::ShapeDataShape::Circle));
}

#[tokio::test]
async fn a_title_only_frame_update_keeps_the_format() {
    let (emu, api, board) = setup().await;
    let frame = api
        .create_frame_item(
            &board,
            &body(json!({"data": {"title": "Sprint", "format": "custom", "type": "freeform", "showContent": false}})),
        )
        .await
        .unwrap();
    let update =
        types::FrameUpdateRequest::default().data(types::FrameChanges::default().title("Sprint 2"));
    let updated = api
        .update_frame_item(&board, &frame.id, &update)
        .await
        .unwrap();
    assert_eq!(last_patch(&emu), json!({"data": {"title": "Sprint 2"}}));
    let data = serde_json::to_value(updated.data.as_ref().unwrap()).unwrap();
    assert_eq!(data["title"], "Sprint 2");
    assert_eq!(data["format"], "custom");
    assert_eq!(data["type"], "freeform");
    // `showContent` is not in Miro's response schema: read the stored frame raw.
    let raw: miro_api::Response<Value> = api
        .call_operation(
            miro_api::operations::find("get-frame-item").unwrap(),
            &[&board, &frame.id],
            &[],
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        raw["data"]["showContent"], false,
        "the frame shows its content again"
    );
}

#[tokio::test]
async fn an_x_only_position_update_keeps_y() {
    let (emu, api, board) = setup().await;
    let card = api
        .create_card_item(
            &board,
            &body(json!({"data": {"title": "Task"}, "position": {"x": 10, "y": 250}})),
        )
        .await
        .unwrap();
    let update =
        types::CardUpdateRequest::default().position(types::PositionChange::default().x(400.0));
    let updated = api
        .update_card_item(&board, &card.id, &update)
        .await
        .unwrap();
    assert_eq!(last_patch(&emu), json!({"position": {"x": 400.0}}));
    let position = updated.position.as_ref().unwrap();
    assert_eq!((position.x, position.y), (Some(400.0), Some(250.0)));
}

#[tokio::test]
async fn a_description_only_app_card_update_keeps_the_title_and_status() {
    let (emu, api, board) = setup().await;
    let card = api
        .create_app_card_item(
            &board,
            &body(json!({"data": {"title": "Deploy", "status": "connected"}})),
        )
        .await
        .unwrap();
    let update = types::AppCardUpdateRequest::default()
        .data(types::AppCardDataChanges::default().description("Ships on Friday"));
    let updated = api
        .update_app_card_item(&board, &card.id, &update)
        .await
        .unwrap();
    assert_eq!(
        last_patch(&emu),
        json!({"data": {"description": "Ships on Friday"}})
    );
    let data = serde_json::to_value(updated.data.as_ref().unwrap()).unwrap();
    assert_eq!(data["title"], "Deploy");
    assert_eq!(data["status"], "connected");
    assert_eq!(data["description"], "Ships on Friday");
}

/// A clearable field is sent as `null` only when cleared: an item moved out of its frame with
/// `.clear_parent()` is on the canvas afterwards, and an update that does not mention the
/// parent leaves the item in its frame.
#[tokio::test]
async fn clear_parent_sends_null_and_takes_the_note_out_of_its_frame() {
    let (emu, api, board) = setup().await;
    let frame = api
        .create_frame_item(
            &board,
            &types::FrameCreateRequest::new(types::FrameChanges::default().title("Doing")),
        )
        .await
        .unwrap();
    let note = api
        .create_sticky_note_item(
            &board,
            &types::StickyNoteCreateRequest::default()
                .data(types::StickyNoteData::default().content("task"))
                .parent(types::Parent::default().id(frame.id.clone())),
        )
        .await
        .unwrap();
    assert_eq!(
        note.parent.as_ref().and_then(|p| p.id.as_deref()),
        Some(frame.id.as_str())
    );

    // Not mentioned: not sent, the note stays in the frame.
    let content = types::StickyNoteUpdateRequest::default()
        .data(types::StickyNoteData::default().content("task, edited"));
    api.update_sticky_note_item(&board, &note.id, &content)
        .await
        .unwrap();
    assert_eq!(
        last_patch(&emu),
        json!({"data": {"content": "task, edited"}})
    );
    let still = api.get_sticky_note_item(&board, &note.id).await.unwrap();
    assert!(still.parent.is_some(), "{still:?}");

    // Cleared: sent as null, the note is on the canvas.
    let out = types::StickyNoteUpdateRequest::default().clear_parent();
    api.update_sticky_note_item(&board, &note.id, &out)
        .await
        .unwrap();
    assert_eq!(last_patch(&emu), json!({"parent": null}));
    let moved = api.get_sticky_note_item(&board, &note.id).await.unwrap();
    assert!(moved.parent.is_none(), "{moved:?}");
    let in_frame = api.get_items_within_frame(&board, &frame.id).await.unwrap();
    assert!(in_frame.data.iter().all(|i| i.id != note.id));
}
