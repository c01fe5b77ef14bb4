//! Offset and cursor paging walk every object exactly once.

mod common;

use std::collections::HashSet;

use common::{enc, Api};
use miro_emulator::Emulator;
use serde_json::{json, Value};

async fn bulk_stickies(api: &Api, board: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut left = n;
    while left > 0 {
        let batch = left.min(20);
        let items: Vec<Value> = (0..batch)
            .map(|i| json!({"type": "sticky_note", "data": {"content": format!("n{i}")}}))
            .collect();
        let (s, b) = api
            .post(
                &format!("/v2/boards/{}/items/bulk", enc(board)),
                Value::Array(items),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        ids.extend(
            b["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_string()),
        );
        left -= batch;
    }
    ids
}

/// Walks a cursor list from the first page, following `cursor`.
async fn walk_cursor(api: &Api, path: &str, limit: Option<usize>) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let sep = if path.contains('?') { '&' } else { '?' };
    for _ in 0..1000 {
        let mut url = path.to_string();
        let mut q = Vec::new();
        if let Some(l) = limit {
            q.push(format!("limit={l}"));
        }
        if let Some(c) = &cursor {
            q.push(format!("cursor={c}"));
        }
        if !q.is_empty() {
            url.push(sep);
            url.push_str(&q.join("&"));
        }
        let (s, page) = api.get(&url).await;
        assert_eq!(s, 200, "{page}");
        let data = page["data"].as_array().unwrap();
        assert_eq!(page["size"], data.len());
        assert!(data.len() <= limit.unwrap_or(10));
        seen.extend(data.iter().map(|i| i["id"].as_str().unwrap().to_string()));
        match page["cursor"].as_str() {
            Some(c) => {
                assert!(page["links"]["next"].is_string());
                cursor = Some(c.to_string());
            }
            None => {
                assert!(page["links"].get("next").is_none());
                return seen;
            }
        }
    }
    panic!("cursor paging did not end");
}

fn assert_same_once(seen: &[String], expected: &[String]) {
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "an id came twice");
    let want: HashSet<&String> = expected.iter().collect();
    assert_eq!(unique, want);
}

#[tokio::test]
async fn cursor_paging_walks_every_item_once() {
    let api = Api::start().await;
    let board = api.board("many").await;
    let ids = bulk_stickies(&api, &board, 263).await;
    let path = format!("/v2/boards/{}/items", enc(&board));
    for limit in [None, Some(10), Some(37), Some(50)] {
        let seen = walk_cursor(&api, &path, limit).await;
        assert_same_once(&seen, &ids);
    }
    let (_, first) = api.get(&format!("{path}?limit=50")).await;
    assert_eq!(first["total"], 263);
    assert_eq!(first["limit"], 50);
}

#[tokio::test]
async fn cursor_paging_with_type_filter_and_limits() {
    let api = Api::start().await;
    let board = api.board("mixed").await;
    let b = enc(&board);
    let stickies = bulk_stickies(&api, &board, 45).await;
    let mut shapes = Vec::new();
    for _ in 0..23 {
        let (_, s) = api
            .post(
                &format!("/v2/boards/{b}/shapes"),
                json!({"data": {"shape": "circle"}}),
            )
            .await;
        shapes.push(s["id"].as_str().unwrap().to_string());
    }
    let seen = walk_cursor(&api, &format!("/v2/boards/{b}/items?type=shape"), Some(10)).await;
    assert_same_once(&seen, &shapes);
    let seen = walk_cursor(
        &api,
        &format!("/v2/boards/{b}/items?type=sticky_note"),
        Some(10),
    )
    .await;
    assert_same_once(&seen, &stickies);
    for bad in ["9", "51", "abc", "-1"] {
        let (s, body) = api.get(&format!("/v2/boards/{b}/items?limit={bad}")).await;
        assert_eq!(s, 400, "limit={bad}");
        assert_eq!(body["code"], "invalidParameters");
    }
    let (s, _) = api
        .get(&format!("/v2/boards/{b}/items?cursor=garbage"))
        .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn offset_paging_walks_every_board_once() {
    let api =
        Api::with(Emulator::builder().rate_limit(10_000_000, std::time::Duration::from_secs(60)))
            .await;
    let mut ids = Vec::new();
    for i in 0..217 {
        ids.push(api.board(&format!("board {i}")).await);
    }
    for limit in [1usize, 20, 50] {
        let mut seen = Vec::new();
        let mut offset = 0;
        loop {
            let (s, page) = api
                .get(&format!("/v2/boards?limit={limit}&offset={offset}"))
                .await;
            assert_eq!(s, 200, "{page}");
            assert_eq!(page["type"], "list");
            assert_eq!(page["total"], 217);
            assert_eq!(page["offset"], offset);
            assert_eq!(page["limit"], limit);
            let data = page["data"].as_array().unwrap();
            assert_eq!(page["size"], data.len());
            seen.extend(data.iter().map(|b| b["id"].as_str().unwrap().to_string()));
            if page["links"].get("next").is_none() {
                break;
            }
            offset += limit;
        }
        assert_same_once(&seen, &ids);
    }
    let (_, page) = api.get("/v2/boards").await;
    assert_eq!(page["limit"], 20);
    let (s, _) = api.get("/v2/boards?limit=0").await;
    assert_eq!(s, 400);
    let (s, _) = api.get("/v2/boards?limit=51").await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn items_by_tag_use_offset_paging() {
    let api = Api::start().await;
    let board = api.board("tagged").await;
    let b = enc(&board);
    let ids = bulk_stickies(&api, &board, 61).await;
    let (_, tag) = api
        .post(&format!("/v2/boards/{b}/tags"), json!({"title": "hot"}))
        .await;
    let tag = tag["id"].as_str().unwrap().to_string();
    let tagged: Vec<String> = ids.iter().step_by(2).cloned().collect();
    for id in &tagged {
        let resp = api
            .send(
                reqwest::Method::POST,
                &format!("/v2/boards/{b}/items/{id}?tag_id={tag}"),
                None,
            )
            .await;
        assert_eq!(resp.status(), 204);
    }
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let (s, page) = api
            .get(&format!(
                "/v2/boards/{b}/items?tag_id={tag}&limit=7&offset={offset}"
            ))
            .await;
        assert_eq!(s, 200, "{page}");
        assert_eq!(page["total"], tagged.len());
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_string()),
        );
        if page["links"].get("next").is_none() {
            break;
        }
        offset += 7;
    }
    assert_same_once(&seen, &tagged);
}

#[tokio::test]
async fn connectors_and_groups_page_by_cursor() {
    let api = Api::start().await;
    let board = api.board("links").await;
    let b = enc(&board);
    let items = bulk_stickies(&api, &board, 40).await;
    let mut connectors = Vec::new();
    for pair in items.windows(2).take(27) {
        let (s, c) = api
            .post(
                &format!("/v2/boards/{b}/connectors"),
                json!({"startItem": {"id": pair[0]}, "endItem": {"id": pair[1]}, "shape": "elbowed"}),
            )
            .await;
        assert_eq!(s, 200, "{c}");
        connectors.push(c["id"].as_str().unwrap().to_string());
    }
    let seen = walk_cursor(&api, &format!("/v2/boards/{b}/connectors"), Some(10)).await;
    assert_same_once(&seen, &connectors);

    let mut groups = Vec::new();
    for chunk in items.chunks(3).take(12) {
        let (s, g) = api
            .post(
                &format!("/v2/boards/{b}/groups"),
                json!({"data": {"items": chunk}}),
            )
            .await;
        assert_eq!(s, 201, "{g}");
        assert_eq!(g["type"], "group");
        assert_eq!(g["data"]["items"].as_array().unwrap().len(), chunk.len());
        groups.push(g["id"].as_str().unwrap().to_string());
    }
    let seen = walk_cursor(&api, &format!("/v2/boards/{b}/groups"), Some(10)).await;
    assert_same_once(&seen, &groups);
}
