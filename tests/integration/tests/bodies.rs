//! Bodies built with the generated setters, sent through `MiroApi` to the emulator: what goes
//! on the wire and what the board holds afterwards.

use miro_api::types::{
    CardData, ConnectorCreationData, ItemCreate, ShapeCreateRequest, ShapeDataForCreate,
    ShapeDataShape, StickyNoteCreateRequest, StickyNoteData, TagCreateRequest, TagFillColor,
};
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
        .create_board(&Default::default())
        .await
        .unwrap()
        .into_inner()
        .id;
    (emu, api, board)
}

fn last_body(emu: &RunningEmulator, method: &str, path_end: &str) -> Value {
    emu.requests()
        .iter()
        .rev()
        .find(|r| r.method == method && r.path.ends_with(path_end))
        .and_then(|r| r.json())
        .expect("the request was logged with a JSON body")
}

#[tokio::test]
async fn a_bulk_items_type_follows_from_its_data() {
    let (emu, api, board) = setup().await;
    let items = [
        ItemCreate::from(StickyNoteData::default().content("Idea")).at(0, 0),
        ItemCreate::from(CardData::default().title("Task")).at(300, 0),
    ];
    assert_eq!(items[0].item_type().as_str(), "sticky_note");
    let created = api.create_items(&board, &items).await.unwrap();
    assert_eq!(created.attempts(), 1);
    assert_eq!(
        last_body(&emu, "POST", "/items/bulk"),
        json!([
            {"type": "sticky_note", "data": {"content": "Idea"}, "position": {"x": 0.0, "y": 0.0}},
            {"type": "card", "data": {"title": "Task"}, "position": {"x": 300.0, "y": 0.0}}
        ])
    );
    let types: Vec<&str> = created.data.iter().map(|i| i.type_.as_str()).collect();
    assert_eq!(types, ["sticky_note", "card"]);
}

#[tokio::test]
async fn common_bodies_in_one_expression() {
    let (emu, api, board) = setup().await;
    let note = StickyNoteCreateRequest::default()
        .data(StickyNoteData::default().content("Hello"))
        .at(100, 200);
    let note = api.create_sticky_note_item(&board, &note).await.unwrap();
    let position = note.position.as_ref().unwrap();
    assert_eq!((position.x, position.y), (Some(100.0), Some(200.0)));

    let shape = ShapeCreateRequest::default()
        .data(
            ShapeDataForCreate::default()
                .shape(ShapeDataShape::Circle)
                .content("Start"),
        )
        .at(0, 300);
    let shape = api.create_shape_item(&board, &shape).await.unwrap();
    assert_eq!(
        last_body(&emu, "POST", "/shapes"),
        json!({"data": {"shape": "circle", "content": "Start"}, "position": {"x": 0.0, "y": 300.0}})
    );

    let line = ConnectorCreationData::between(&note.id, &shape.id);
    let line = api.create_connector(&board, &line).await.unwrap();
    assert_eq!(
        last_body(&emu, "POST", "/connectors"),
        json!({"startItem": {"id": note.id}, "endItem": {"id": shape.id}})
    );
    assert_eq!(
        line.start_item.as_ref().unwrap().id.as_deref(),
        Some(note.id.as_str())
    );

    // One colour type for tags: a colour read from a tag goes straight into a new one.
    let tag = TagCreateRequest::new("urgent").fill_color(TagFillColor::Red);
    let tag = api.create_tag(&board, &tag).await.unwrap();
    let again = TagCreateRequest::new("urgent too").fill_color(tag.fill_color.clone());
    let again = api.create_tag(&board, &again).await.unwrap();
    assert_eq!(again.fill_color, TagFillColor::Red);
}
