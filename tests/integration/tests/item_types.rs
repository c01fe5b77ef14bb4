//! An item's type is one open enum, `ItemType`: what an item read says it is, what the get-items
//! filters take and what a bulk create sends (`ItemCreate::item_type`), so a type read from a
//! board filters it without going through a string; a type this version does not know is kept
//! as Miro sent it and sent back unchanged.

use std::collections::BTreeMap;

use miro_api::types::{GenericItem, ItemCreate, ItemType, StickyNoteData, WidgetDataOutput};
use serde_json::json;

#[tokio::test]
async fn a_type_read_from_an_item_filters_the_board_by_it() {
    let (_emu, api, board) = miro_tests::emulator_with_board("Item types", false).await;
    let kinds = ["sticky_note", "card", "frame", "shape", "text"];
    miro_tests::item_kinds::add_items(&api, &board, 10, |i| kinds[i % kinds.len()]).await;
    let all = api
        .get_items(&board)
        .limit(50)
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(all.len(), 10);
    let mut counts: BTreeMap<ItemType, usize> = BTreeMap::new();
    for item in &all {
        assert!(
            !matches!(item.type_, ItemType::UnknownValue(_)),
            "every type the emulator sends is known: {:?}",
            item.type_
        );
        *counts.entry(item.type_.clone()).or_default() += 1;
    }
    assert_eq!(counts.len(), kinds.len(), "{counts:?}");
    // The type read is what the filter takes.
    for (ty, n) in &counts {
        let page = api
            .get_items(&board)
            .type_(ty.clone())
            .limit(50)
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.data.len(), *n, "items of type {ty}");
        assert!(page.data.iter().all(|item| &item.type_ == ty));
    }
    // It compares with the wire value, as the string it was.
    assert_eq!(
        all.iter()
            .filter(|item| item.type_ == "sticky_note")
            .count(),
        2
    );
    // A bulk create says its type with the same enum.
    let create = ItemCreate::from(StickyNoteData::default().content("x"));
    assert_eq!(create.item_type(), &ItemType::StickyNote);
    assert!(counts.contains_key(create.item_type()));
}

#[test]
fn a_type_this_version_does_not_know_is_kept_and_sent_back() {
    let item: GenericItem = serde_json::from_value(json!({
        "id": "1", "type": "mindmap_node", "data": {"nodeView": {"content": "x"}}
    }))
    .unwrap();
    assert_eq!(item.type_, ItemType::UnknownValue("mindmap_node".into()));
    assert_eq!(item.type_, "mindmap_node");
    assert!(matches!(item.data, Some(WidgetDataOutput::Unknown(_))));
    let sent = serde_json::to_value(&item).unwrap();
    assert_eq!(sent["type"], "mindmap_node");
    assert_eq!(sent["data"], json!({"nodeView": {"content": "x"}}));
    // A known value decodes to its variant, and a typo in code is caught.
    let known: ItemType = serde_json::from_value(json!("frame")).unwrap();
    assert_eq!(known, ItemType::Frame);
    assert!("fram".parse::<ItemType>().is_err());
}
