//! Backup and restore through the generated conversions alone: a board with every item kind
//! the emulator stores (frames with children, sticky notes, cards, shapes, texts, app cards,
//! images and documents by URL, embeds), connectors between items and tags on items is read
//! back through `MiroApi` and copied into new boards by `XCreateRequest::try_from(&read)` (one
//! board item by item, one through the bulk `ItemCreate::try_from(&GenericItem)`), with only
//! the ids that point at other items (parents, connector ends, tags) mapped to the copies.
//! Both copies are then compared with the original field by field. No value goes through
//! `serde_json` on its way from the read type to the write type.

use std::collections::BTreeMap;

use miro_api::types::{
    self, AppCardCreateRequest, AppCardDataChanges, AppCardDataStatus, BoardChanges,
    CardCreateRequest, CardData, CardStyle, ConnectorCreationData, ConnectorShape, ConnectorStyle,
    CustomField, DocumentCreateRequest, DocumentUpdateRequest, DocumentUrlData, EmbedCreateRequest,
    EmbedUrlData, FillColor, FixedRatioGeometry, FixedRatioNoRotationGeometry, FrameChanges,
    FrameCreateRequest, GenericItem, Geometry, GeometryNoRotation, ImageCreateRequest,
    ImageUrlData, ItemCreate, Parent, ShapeCreateRequest, ShapeDataForCreate, ShapeDataShape,
    ShapeStyleForCreate, StickyNoteCreateRequest, StickyNoteData, StickyNoteDataShape,
    StickyNoteStyle, TagCreateRequest, TagFillColor, TextCreateRequest, TextData, TextStyle,
    WidthOnlyAdjustableGeometry,
};
use miro_api::{ConversionError, ConversionKind, MiroApi};
use serde_json::{json, Value};

type Ids = BTreeMap<String, String>;

/// Builds the board to back up: two frames with children, every other kind on the canvas or
/// in a frame, connectors between items, tags on two items.
async fn original(api: &MiroApi) -> String {
    let board = api
        .create_board(
            &BoardChanges::default()
                .name("Sprint 12")
                .description("The board to copy"),
        )
        .await
        .unwrap()
        .id
        .clone();
    let b = board.as_str();
    let frame = |title: &str, x: f64| {
        FrameCreateRequest::new(FrameChanges::default().title(title))
            .at(x, 0.0)
            .geometry(GeometryNoRotation::default().width(900.0).height(700.0))
    };
    let todo = api
        .create_frame_item(b, &frame("To do", 0.0))
        .await
        .unwrap();
    let done = api
        .create_frame_item(b, &frame("Done", 1200.0))
        .await
        .unwrap();
    let in_frame = |frame: &str| Parent::default().id(frame.to_string());

    let note = api
        .create_sticky_note_item(
            b,
            &StickyNoteCreateRequest::default()
                .data(
                    StickyNoteData::default()
                        .content("Write the spec")
                        .shape(StickyNoteDataShape::Rectangle),
                )
                .style(StickyNoteStyle::default().fill_color(FillColor::LightGreen))
                .geometry(FixedRatioNoRotationGeometry::default().width(260.0))
                .parent(in_frame(&todo.id))
                .at(150.0, 120.0),
        )
        .await
        .unwrap();
    let card = api
        .create_card_item(
            b,
            &CardCreateRequest::default()
                .data(
                    CardData::default()
                        .title("Review")
                        .description("Read it twice")
                        .assignee_id("3458764517517852417")
                        .due_date(
                            "2030-05-01T12:00:00Z"
                                .parse::<miro_api::DateTime<miro_api::Utc>>()
                                .unwrap(),
                        ),
                )
                .style(CardStyle::default().card_theme("#2d9bf0"))
                .geometry(Geometry::default().width(320.0).height(94.0).rotation(5.0))
                .parent(in_frame(&done.id))
                .at(400.0, 300.0),
        )
        .await
        .unwrap();
    let shape = api
        .create_shape_item(
            b,
            &ShapeCreateRequest::default()
                .data(
                    ShapeDataForCreate::default()
                        .content("Decision")
                        .shape(ShapeDataShape::Rhombus),
                )
                .style(
                    ShapeStyleForCreate::default()
                        .fill_color("#ffcc00")
                        .border_color("#1a1a1a"),
                )
                .geometry(Geometry::default().width(180.0).height(120.0))
                .at(-600.0, 400.0),
        )
        .await
        .unwrap();
    let text = api
        .create_text_item(
            b,
            &TextCreateRequest::new(TextData::new("Notes"))
                .style(TextStyle::default().color("#ff0000"))
                .geometry(WidthOnlyAdjustableGeometry::default().width(300.0))
                .at(-600.0, -300.0),
        )
        .await
        .unwrap();
    api.create_app_card_item(
        b,
        &AppCardCreateRequest::default()
            .data(
                AppCardDataChanges::default()
                    .title("Ticket 42")
                    .description("From the tracker")
                    .status(AppCardDataStatus::Connected)
                    .fields(vec![CustomField::default().value("P1").tooltip("Priority")]),
            )
            .at(-300.0, 800.0),
    )
    .await
    .unwrap();
    api.create_image_item_using_url(
        b,
        &ImageCreateRequest::new(
            ImageUrlData::new("https://example.com/diagram.png").title("Diagram"),
        )
        .geometry(FixedRatioGeometry::default().width(640.0))
        .parent(in_frame(&todo.id))
        .at(500.0, 450.0),
    )
    .await
    .unwrap();
    let document = api
        .create_document_item_using_url(
            b,
            &DocumentCreateRequest::new(
                DocumentUrlData::new("https://example.com/spec.pdf").title("Spec"),
            )
            .at(2400.0, 0.0),
        )
        .await
        .unwrap();
    // A size the create request cannot set: the update sets it.
    api.update_document_item_using_url(
        b,
        &document.id,
        &DocumentUpdateRequest::default().geometry(FixedRatioGeometry::default().width(400.0)),
    )
    .await
    .unwrap();
    api.create_embed_item(
        b,
        &EmbedCreateRequest::new(EmbedUrlData::new(
            "https://www.youtube.com/watch?v=HlVSNEiFCBk",
        ))
        .geometry(FixedRatioNoRotationGeometry::default().width(480.0))
        .at(2400.0, 800.0),
    )
    .await
    .unwrap();

    api.create_connector(
        b,
        &ConnectorCreationData::between(note.id.clone(), card.id.clone())
            .shape(ConnectorShape::Curved)
            .captions(vec![types::Caption::new("then")])
            .style(ConnectorStyle::default().stroke_color("#ff00ff")),
    )
    .await
    .unwrap();
    api.create_connector(
        b,
        &ConnectorCreationData::between(shape.id.clone(), text.id.clone()),
    )
    .await
    .unwrap();

    let urgent = api
        .create_tag(
            b,
            &TagCreateRequest::new("urgent").fill_color(TagFillColor::Red),
        )
        .await
        .unwrap();
    let later = api
        .create_tag(
            b,
            &TagCreateRequest::new("later").fill_color(TagFillColor::Blue),
        )
        .await
        .unwrap();
    for (item, tag) in [
        (&note.id, &urgent.id),
        (&card.id, &urgent.id),
        (&card.id, &later.id),
    ] {
        api.attach_tag_to_item(b, item, tag).await.unwrap();
    }
    board
}

/// Every item of a board, frames first (they are the parents of the others).
async fn all_items(api: &MiroApi, board: &str) -> Vec<GenericItem> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = api.get_items(board).limit(10);
        if let Some(c) = &cursor {
            request = request.cursor(c);
        }
        let page = request.await.unwrap().into_inner();
        items.extend(page.data);
        match page.cursor {
            Some(c) if !c.is_empty() => cursor = Some(c),
            _ => break,
        }
    }
    items.sort_by_key(|i| i.type_ != "frame");
    items
}

async fn all_connectors(api: &MiroApi, board: &str) -> Vec<types::ConnectorWithLinks> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = api.get_connectors(board).limit(10);
        if let Some(c) = &cursor {
            request = request.cursor(c);
        }
        let page = request.await.unwrap().into_inner();
        out.extend(page.data);
        match page.cursor {
            Some(c) if !c.is_empty() => cursor = Some(c),
            _ => break,
        }
    }
    out
}

/// The copy's parent: the same frame of the new board.
fn mapped_parent(parent: &Option<Parent>, ids: &Ids) -> Option<Parent> {
    let id = parent.as_ref()?.id.as_ref()?;
    Some(Parent::default().id(ids[id].clone()))
}

/// Copies one item by its typed read and create types; returns the copy's id.
async fn copy_typed(api: &MiroApi, from: &str, to: &str, item: &GenericItem, ids: &Ids) -> String {
    let id = item.id.as_str();
    match item.type_.as_str() {
        "frame" => {
            let read = api.get_frame_item(from, id).await.unwrap();
            let write = FrameCreateRequest::try_from(&*read).unwrap();
            api.create_frame_item(to, &write).await.unwrap().id.clone()
        }
        "sticky_note" => {
            let read = api.get_sticky_note_item(from, id).await.unwrap();
            let mut write = StickyNoteCreateRequest::from(&*read);
            write.parent = mapped_parent(&read.parent, ids);
            api.create_sticky_note_item(to, &write)
                .await
                .unwrap()
                .id
                .clone()
        }
        "card" => {
            let read = api.get_card_item(from, id).await.unwrap();
            let mut write = CardCreateRequest::from(&*read);
            write.parent = mapped_parent(&read.parent, ids);
            api.create_card_item(to, &write).await.unwrap().id.clone()
        }
        "shape" => {
            let read = api.get_shape_item(from, id).await.unwrap();
            let mut write = ShapeCreateRequest::from(&*read);
            write.parent = mapped_parent(&read.parent, ids);
            api.create_shape_item(to, &write).await.unwrap().id.clone()
        }
        "text" => {
            let read = api.get_text_item(from, id).await.unwrap();
            let mut write = TextCreateRequest::try_from(&*read).unwrap();
            write.parent = mapped_parent(&read.parent, ids);
            api.create_text_item(to, &write).await.unwrap().id.clone()
        }
        "app_card" => {
            let read = api.get_app_card_item(from, id).await.unwrap();
            let mut write = AppCardCreateRequest::from(&*read);
            write.parent = mapped_parent(&read.parent, ids);
            api.create_app_card_item(to, &write)
                .await
                .unwrap()
                .id
                .clone()
        }
        "image" => {
            let read = api.get_image_item(from, id).await.unwrap();
            let mut write = ImageCreateRequest::try_from(&*read).unwrap();
            write.parent = mapped_parent(&read.parent, ids);
            api.create_image_item_using_url(to, &write)
                .await
                .unwrap()
                .id
                .clone()
        }
        "document" => {
            let read = api.get_document_item(from, id).await.unwrap();
            let mut write = DocumentCreateRequest::try_from(&*read).unwrap();
            write.parent = mapped_parent(&read.parent, ids);
            let copy = api
                .create_document_item_using_url(to, &write)
                .await
                .unwrap()
                .id
                .clone();
            // What the create request cannot carry (the size), the update does.
            let mut update = DocumentUpdateRequest::from(&*read);
            update.parent = None;
            update.position = None;
            api.update_document_item_using_url(to, &copy, &update)
                .await
                .unwrap();
            copy
        }
        "embed" => {
            let read = api.get_embed_item(from, id).await.unwrap();
            let mut write = EmbedCreateRequest::try_from(&*read).unwrap();
            write.parent = mapped_parent(&read.parent, ids);
            api.create_embed_item(to, &write).await.unwrap().id.clone()
        }
        other => panic!("no typed copy for {other}"),
    }
}

/// Copies the connectors between copied items and the tags of copied items.
async fn copy_connectors_and_tags(api: &MiroApi, from: &str, to: &str, ids: &Ids) {
    for connector in all_connectors(api, from).await {
        let mut write = ConnectorCreationData::try_from(&connector).unwrap();
        for end in [&mut write.start_item, &mut write.end_item] {
            end.id = end.id.as_ref().map(|id| ids[id].clone());
        }
        api.create_connector(to, &write).await.unwrap();
    }
    let tags = api
        .get_tags_from_board(from)
        .await
        .unwrap()
        .into_inner()
        .data;
    let mut tag_ids = Ids::new();
    for tag in &tags {
        let copy = api
            .create_tag(to, &TagCreateRequest::from(tag))
            .await
            .unwrap();
        tag_ids.insert(tag.id.clone(), copy.id.clone());
    }
    for (old, new) in ids {
        for tag in api
            .get_tags_from_item(from, old)
            .await
            .unwrap()
            .into_inner()
            .tags
        {
            api.attach_tag_to_item(to, new, &tag_ids[&tag.id])
                .await
                .unwrap();
        }
    }
}

/// A copy made item by item through the typed conversions.
async fn copy_board_typed(api: &MiroApi, from: &str) -> (String, Ids) {
    let board = api.get_specific_board(from).await.unwrap();
    let to = api
        .create_board(&BoardChanges::from(&*board))
        .await
        .unwrap()
        .id
        .clone();
    let mut ids = Ids::new();
    for item in all_items(api, from).await {
        let copy = copy_typed(api, from, &to, &item, &ids).await;
        ids.insert(item.id.clone(), copy);
    }
    copy_connectors_and_tags(api, from, &to, &ids).await;
    (to, ids)
}

/// A copy made by bulk creation from the generic items (frames, which the bulk operation
/// cannot create, item by item first).
async fn copy_board_bulk(api: &MiroApi, from: &str) -> (String, Ids) {
    let board = api.get_specific_board(from).await.unwrap();
    let to = api
        .create_board(&BoardChanges::from(&*board))
        .await
        .unwrap()
        .id
        .clone();
    let mut ids = Ids::new();
    let mut bulk: Vec<(String, ItemCreate)> = Vec::new();
    for item in all_items(api, from).await {
        match ItemCreate::try_from(&item) {
            Ok(mut write) => {
                write.parent = mapped_parent(&item.parent, &ids);
                bulk.push((item.id.clone(), write));
            }
            Err(e) => {
                // The one kind a bulk request cannot hold, by name.
                assert_eq!(item.type_, "frame");
                assert_eq!(
                    e,
                    ConversionError::NotCreatable {
                        write: "ItemDataCreate",
                        kind: ConversionKind::ItemType("frame")
                    },
                    "{e}"
                );
                let copy = copy_typed(api, from, &to, &item, &ids).await;
                ids.insert(item.id.clone(), copy);
            }
        }
    }
    for chunk in bulk.chunks(20) {
        let body: Vec<ItemCreate> = chunk.iter().map(|(_, w)| w.clone()).collect();
        let created = api.create_items(&to, &body).await.unwrap().into_inner();
        assert_eq!(created.data.len(), chunk.len());
        for ((old, _), new) in chunk.iter().zip(&created.data) {
            ids.insert(old.clone(), new.id.clone());
        }
    }
    copy_connectors_and_tags(api, from, &to, &ids).await;
    (to, ids)
}

/// An item as compared: what Miro keeps of it, without its own id, links, authors and times,
/// and with its parent's id mapped to the copy's (`ids`, for the original).
fn comparable(item: &GenericItem, ids: Option<&Ids>) -> Value {
    let mut v = serde_json::to_value(item).unwrap();
    let o = v.as_object_mut().unwrap();
    for key in [
        "id",
        "links",
        "createdAt",
        "createdBy",
        "modifiedAt",
        "modifiedBy",
    ] {
        o.remove(key);
    }
    if let Some(parent) = o.get_mut("parent") {
        let id = parent["id"].as_str().unwrap().to_string();
        let id = ids.map_or(id.clone(), |ids| ids[&id].clone());
        *parent = json!({ "id": id });
    }
    v
}

fn comparable_connector(c: &types::ConnectorWithLinks, ids: Option<&Ids>) -> Value {
    let mut v = serde_json::to_value(c).unwrap();
    let o = v.as_object_mut().unwrap();
    for key in [
        "id",
        "links",
        "createdAt",
        "createdBy",
        "modifiedAt",
        "modifiedBy",
    ] {
        o.remove(key);
    }
    for end in ["startItem", "endItem"] {
        let id = o[end]["id"].as_str().unwrap().to_string();
        let id = ids.map_or(id.clone(), |ids| ids[&id].clone());
        o[end] = json!({ "id": id, "position": o[end].get("position") });
    }
    v
}

/// Each item's tag titles, by the (mapped) item id.
async fn item_tags(api: &MiroApi, board: &str, ids: Option<&Ids>) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for item in all_items(api, board).await {
        let mut titles: Vec<String> = api
            .get_tags_from_item(board, &item.id)
            .await
            .unwrap()
            .into_inner()
            .tags
            .into_iter()
            .map(|t| t.title)
            .collect();
        titles.sort();
        let id = ids.map_or(item.id.clone(), |ids| ids[&item.id].clone());
        out.insert(id, titles);
    }
    out
}

/// Compares the copy with the original, field by field.
async fn assert_same_board(api: &MiroApi, original: &str, copy: &str, ids: &Ids, how: &str) {
    let (a, b) = (
        api.get_specific_board(original).await.unwrap(),
        api.get_specific_board(copy).await.unwrap(),
    );
    assert_eq!(
        (&a.name, &a.description),
        (&b.name, &b.description),
        "{how}"
    );

    let originals = all_items(api, original).await;
    let copies: BTreeMap<String, GenericItem> = all_items(api, copy)
        .await
        .into_iter()
        .map(|i| (i.id.clone(), i))
        .collect();
    assert_eq!(originals.len(), copies.len(), "{how}: item count");
    assert_eq!(ids.len(), originals.len(), "{how}: every item copied");
    let mut kinds: Vec<&str> = originals.iter().map(|i| i.type_.as_str()).collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "app_card",
            "card",
            "document",
            "embed",
            "frame",
            "image",
            "shape",
            "sticky_note",
            "text"
        ],
        "{how}: every kind"
    );
    for item in &originals {
        let copied = &copies[&ids[&item.id]];
        // What is compared: the data, the place and the size of every item, the style of
        // those that have one.
        let compared = comparable(item, Some(ids));
        for key in ["type", "data", "position", "geometry"] {
            assert!(compared.get(key).is_some(), "{how}: {key} of {compared}");
        }
        if !["image", "document", "embed"].contains(&item.type_.as_str()) {
            assert!(
                compared.get("style").is_some(),
                "{how}: style of {compared}"
            );
        }
        assert_eq!(
            comparable(copied, None),
            comparable(item, Some(ids)),
            "{how}: {} {}",
            item.type_,
            item.id
        );
    }
    let in_frames = originals.iter().filter(|i| i.parent.is_some()).count();
    assert_eq!(in_frames, 3, "{how}: children of frames");

    let mut original_connectors: Vec<Value> = all_connectors(api, original)
        .await
        .iter()
        .map(|c| comparable_connector(c, Some(ids)))
        .collect();
    let mut copied_connectors: Vec<Value> = all_connectors(api, copy)
        .await
        .iter()
        .map(|c| comparable_connector(c, None))
        .collect();
    original_connectors.sort_by_key(Value::to_string);
    copied_connectors.sort_by_key(Value::to_string);
    assert_eq!(original_connectors.len(), 2);
    assert_eq!(copied_connectors, original_connectors, "{how}: connectors");

    let tags = |board: &str| {
        let board = board.to_string();
        async move {
            let mut t: Vec<(String, Value)> = api
                .get_tags_from_board(&board)
                .await
                .unwrap()
                .into_inner()
                .data
                .into_iter()
                .map(|t| (t.title, serde_json::to_value(t.fill_color).unwrap()))
                .collect();
            t.sort_by(|a, b| a.0.cmp(&b.0));
            t
        }
    };
    assert_eq!(tags(copy).await, tags(original).await, "{how}: tags");
    let tagged = item_tags(api, original, Some(ids)).await;
    assert_eq!(tagged.values().filter(|t| !t.is_empty()).count(), 2);
    assert_eq!(
        item_tags(api, copy, None).await,
        tagged,
        "{how}: tags on items"
    );
}

#[tokio::test]
async fn a_board_is_copied_through_the_conversions_alone() {
    let (_emu, api, _) = miro_tests::emulator_with_board("Scratch", true).await;
    let board = original(&api).await;

    let (typed, ids) = copy_board_typed(&api, &board).await;
    assert_same_board(&api, &board, &typed, &ids, "item by item").await;

    let (bulk, ids) = copy_board_bulk(&api, &board).await;
    assert_same_board(&api, &board, &bulk, &ids, "in bulk").await;
}
