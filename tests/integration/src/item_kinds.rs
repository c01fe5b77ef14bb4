//! One creation body per item type, for boards of known items (the decode benches and the test
//! that compares decoders on the emulator's items).

use futures::{StreamExt, TryStreamExt};
use miro_api::{operations, MiroApi};
use serde_json::{json, Value};

/// An image URL the emulator accepts for images and documents.
const PICTURE: &str =
    "https://miro.com/static/images/page/mr-index/localization/en/slider/ideation_brainstorming.png";

/// Every item type the emulator creates: its `type`, and the body of a bulk-create entry
/// (`POST /v2/boards/{id}/items/bulk`) that makes one.
pub fn kinds() -> Vec<(&'static str, Value)> {
    vec![
        (
            "sticky_note",
            json!({"data": {"content": "note", "shape": "square"}, "style": {"fillColor": "light_yellow"}}),
        ),
        (
            "shape",
            json!({"data": {"shape": "circle", "content": "shape"}, "style": {"fillColor": "#ff0000"}}),
        ),
        ("text", json!({"data": {"content": "text"}})),
        ("card", json!({"data": {"title": "card"}})),
        ("app_card", json!({"data": {"title": "app card"}})),
        ("frame", json!({"data": {"title": "frame"}})),
        (
            "embed",
            json!({"data": {"url": "https://www.youtube.com/watch?v=HlVSNEiFCBk"}}),
        ),
        ("image", json!({"data": {"url": PICTURE}})),
        ("document", json!({"data": {"url": PICTURE}})),
    ]
}

/// The creation body of one item of `kind` (as [`kinds`] lists it), with its `type`.
pub fn body(kind: &str) -> Value {
    let (_, mut body) = kinds()
        .into_iter()
        .find(|(k, _)| *k == kind)
        .unwrap_or_else(|| panic!("no item kind {kind}"));
    body["type"] = json!(kind);
    body
}

/// Creates a board named `name` and returns its id.
pub async fn new_board(api: &MiroApi, name: &str) -> String {
    let board: Value = api
        .call_operation::<Value>(
            &operations::CREATE_BOARD,
            &[],
            &[],
            Some(&json!({ "name": name })),
        )
        .await
        .expect("create board")
        .into_inner();
    board["id"].as_str().expect("board id").to_string()
}

/// Adds `n` items to `board` through bulk create, 8 requests at a time: item `i` is of kind
/// `kind_of(i)`, its text numbered.
pub async fn add_items(
    api: &MiroApi,
    board: &str,
    n: usize,
    kind_of: impl Fn(usize) -> &'static str,
) {
    let batch = miro_emulator::MAX_BULK_ITEMS;
    let bodies: Vec<Value> = (0..n)
        .map(|i| {
            let mut b = body(kind_of(i));
            for field in ["content", "title"] {
                if let Some(text) = b["data"].get_mut(field) {
                    *text = json!(format!("{} {i}", text.as_str().unwrap_or_default()));
                }
            }
            b
        })
        .collect();
    futures::stream::iter(bodies.chunks(batch).map(<[Value]>::to_vec))
        .map(|items| async move {
            api.call_operation::<Value>(
                &operations::CREATE_ITEMS,
                &[board],
                &[],
                Some(&Value::Array(items)),
            )
            .await
            .map(drop)
        })
        .buffer_unordered(8)
        .try_collect::<()>()
        .await
        .expect("bulk create");
}
