//! What the benches share: a board of sticky notes in the emulator.

use futures::{StreamExt, TryStreamExt};
use miro_api::operations;
use miro_api::MiroApi;
use serde_json::{json, Value};

/// Fills a new board with `n` sticky notes through bulk create, 8 requests at a time.
pub async fn seed(api: &MiroApi, n: usize) -> String {
    let board: Value = api
        .call_operation::<Value>(
            &operations::CREATE_BOARD,
            &[],
            &[],
            Some(&json!({"name": format!("{n} items")})),
        )
        .await
        .expect("create board")
        .into_inner();
    let board = board["id"].as_str().expect("board id").to_string();
    let batch = miro_emulator::MAX_BULK_ITEMS;
    futures::stream::iter((0..n).step_by(batch))
        .map(|start| {
            let items: Vec<Value> = (start..(start + batch).min(n))
                .map(|i| json!({"type": "sticky_note", "data": {"content": format!("note {i}")}}))
                .collect();
            let api = api.clone();
            let board = board.clone();
            async move {
                api.call_operation::<Value>(
                    &operations::CREATE_ITEMS,
                    &[&board],
                    &[],
                    Some(&Value::Array(items)),
                )
                .await
                .map(drop)
            }
        })
        .buffer_unordered(8)
        .try_collect::<()>()
        .await
        .expect("bulk create");
    board
}
