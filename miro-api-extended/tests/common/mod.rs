//! Seeding helpers shared by the tests: they fill the emulator over HTTP.
#![allow(dead_code)]

pub mod capture;
pub mod contract;
pub mod faulty;
pub mod oauth;
pub mod postgres;
pub mod proxy;
pub mod replica;

use std::collections::HashSet;
use std::time::Duration;

use miro_api::operations;
use miro_api::MiroApi;
use miro_emulator::{Emulator, RunningEmulator};
use serde_json::{json, Value};

/// An emulator with a budget large enough for seeding a few thousand entries.
pub async fn emulator() -> RunningEmulator {
    Emulator::builder()
        .rate_limit(10_000_000, Duration::from_secs(60))
        .start()
        .await
        .expect("the emulator starts")
}

/// A client with the emulator's static token.
pub fn api(emu: &RunningEmulator) -> MiroApi {
    MiroApi::builder()
        .base_url(emu.base_url())
        .access_token(emu.access_token())
        .build()
}

async fn post(
    api: &MiroApi,
    op: &'static operations::Operation,
    args: &[&str],
    body: Value,
) -> Value {
    api.call_operation::<Value>(op, args, &[], Some(&body))
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", op.method_name))
        .into_inner()
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

/// Creates a board; returns its id.
pub async fn board(api: &MiroApi, name: &str) -> String {
    id_of(&post(api, &operations::CREATE_BOARD, &[], json!({"name": name})).await)
}

/// Creates `n` items of `kind` (`sticky_note` or `card`) with bulk create, optionally inside a
/// frame; returns their ids in creation order.
pub async fn items(
    api: &MiroApi,
    board: &str,
    kind: &str,
    n: usize,
    parent: Option<&str>,
) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    while ids.len() < n {
        let batch = (n - ids.len()).min(miro_emulator::MAX_BULK_ITEMS);
        let list: Vec<Value> = (0..batch)
            .map(|i| {
                let data = if kind == "card" {
                    json!({"title": format!("card {i}")})
                } else {
                    json!({"content": format!("note {i}")})
                };
                let mut item = json!({"type": kind, "data": data});
                if let Some(p) = parent {
                    item["parent"] = json!({"id": p});
                    item["position"] = json!({"x": 10.0, "y": 10.0});
                }
                item
            })
            .collect();
        let created = post(api, &operations::CREATE_ITEMS, &[board], Value::Array(list)).await;
        ids.extend(created["data"].as_array().expect("data").iter().map(id_of));
    }
    ids
}

/// Creates a frame; returns its id.
pub async fn frame(api: &MiroApi, board: &str) -> String {
    let body = json!({"data": {"title": "Frame", "format": "custom", "type": "freeform"},
                      "geometry": {"width": 4000.0, "height": 4000.0}});
    id_of(&post(api, &operations::CREATE_FRAME_ITEM, &[board], body).await)
}

/// Creates `n` tags; returns their ids.
pub async fn tags(api: &MiroApi, board: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let body = json!({"title": format!("tag {i}")});
        ids.push(id_of(
            &post(api, &operations::CREATE_TAG, &[board], body).await,
        ));
    }
    ids
}

/// Attaches `tag` to each of `items`.
pub async fn attach(api: &MiroApi, board: &str, tag: &str, items: &[String]) {
    for item in items {
        api.call_operation::<Value>(
            &operations::ATTACH_TAG_TO_ITEM,
            &[board, item],
            &[("tag_id", tag.to_string())],
            None,
        )
        .await
        .expect("attach tag");
    }
}

/// Connects consecutive items; returns the connector ids.
pub async fn connectors(api: &MiroApi, board: &str, items: &[String]) -> Vec<String> {
    let mut ids = Vec::new();
    for pair in items.windows(2) {
        let body = json!({"startItem": {"id": pair[0]}, "endItem": {"id": pair[1]}});
        ids.push(id_of(
            &post(api, &operations::CREATE_CONNECTOR, &[board], body).await,
        ));
    }
    ids
}

/// Shares the board with `n` new members, 20 emails per call.
pub async fn members(api: &MiroApi, board: &str, n: usize) {
    let emails: Vec<String> = (0..n).map(|i| format!("member{i}@example.com")).collect();
    for chunk in emails.chunks(20) {
        post(
            api,
            &operations::SHARE_BOARD,
            &[board],
            json!({"emails": chunk, "role": "editor"}),
        )
        .await;
    }
}

/// Asserts that `seen` holds each of `expected` exactly once and nothing else.
pub fn assert_exactly_once(seen: &[String], expected: &[String]) {
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "an id was yielded twice");
    let want: HashSet<&String> = expected.iter().collect();
    assert_eq!(want.len(), expected.len(), "the expected ids repeat");
    let missing: Vec<_> = want.difference(&unique).collect();
    let extra: Vec<_> = unique.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
}

/// The request log's entries for `GET route` (a route pattern such as
/// `/v2/boards/{board_id}/items`), in order.
pub fn gets(emu: &RunningEmulator, route: &str) -> Vec<miro_emulator::LoggedRequest> {
    emu.requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.route.as_deref() == Some(route))
        .collect()
}
