//! Tag limits, attach/detach and an item's tags.

mod common;

use common::{enc, Api};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn ninth_tag_on_an_item_is_rejected() {
    let api = Api::start().await;
    let board = api.board("t").await;
    let b = enc(&board);
    let item = api.sticky(&board, "x").await;
    let mut tags = Vec::new();
    for i in 0..9 {
        let (s, t) = api
            .post(
                &format!("/v2/boards/{b}/tags"),
                json!({"title": format!("t{i}"), "fillColor": "blue"}),
            )
            .await;
        assert_eq!(s, 201, "{t}");
        assert_eq!(t["type"], "tag");
        tags.push(t["id"].as_str().unwrap().to_string());
    }
    for (i, t) in tags.iter().enumerate() {
        let resp = api
            .send(
                Method::POST,
                &format!("/v2/boards/{b}/items/{item}?tag_id={t}"),
                None,
            )
            .await;
        if i < 8 {
            assert_eq!(resp.status(), 204, "tag {i}");
        } else {
            assert_eq!(resp.status(), 400, "the 9th tag must be refused");
            let body: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(body["code"], "invalidParameters");
        }
    }
    let (s, on_item) = api.get(&format!("/v2/boards/{b}/items/{item}/tags")).await;
    assert_eq!(s, 200);
    let list = on_item["tags"].as_array().unwrap();
    assert_eq!(list.len(), 8);
    assert_eq!(list[0]["id"], tags[0].as_str());

    // Detach one, then the 9th fits.
    let resp = api
        .send(
            Method::DELETE,
            &format!("/v2/boards/{b}/items/{item}?tag_id={}", tags[0]),
            None,
        )
        .await;
    assert_eq!(resp.status(), 204);
    let resp = api
        .send(
            Method::POST,
            &format!("/v2/boards/{b}/items/{item}?tag_id={}", tags[8]),
            None,
        )
        .await;
    assert_eq!(resp.status(), 204);
    // The item itself still exists after a detach.
    let (s, _) = api.get(&format!("/v2/boards/{b}/items/{item}")).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn hundred_and_first_tag_on_a_board_is_rejected() {
    let api = Api::start().await;
    let board = api.board("t").await;
    let b = enc(&board);
    for i in 0..100 {
        let (s, t) = api
            .post(
                &format!("/v2/boards/{b}/tags"),
                json!({"title": format!("tag {i}")}),
            )
            .await;
        assert_eq!(s, 201, "tag {i}: {t}");
    }
    let (s, body) = api
        .post(
            &format!("/v2/boards/{b}/tags"),
            json!({"title": "one too many"}),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(body["code"], "invalidParameters");
    let (_, page) = api.get(&format!("/v2/boards/{b}/tags?limit=50")).await;
    assert_eq!(page["total"], 100);
}

#[tokio::test]
async fn tag_crud_and_validation() {
    let api = Api::start().await;
    let board = api.board("t").await;
    let b = enc(&board);
    let (s, _) = api
        .post(
            &format!("/v2/boards/{b}/tags"),
            json!({"title": "x", "fillColor": "pink"}),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = api
        .post(
            &format!("/v2/boards/{b}/tags"),
            json!({"title": "x".repeat(121)}),
        )
        .await;
    assert_eq!(s, 400);
    let (_, t) = api
        .post(&format!("/v2/boards/{b}/tags"), json!({"title": "todo"}))
        .await;
    let id = t["id"].as_str().unwrap();
    assert_eq!(t["fillColor"], "red");
    let (s, t2) = api
        .call(
            Method::PATCH,
            &format!("/v2/boards/{b}/tags/{id}"),
            Some(json!({"title": "done", "fillColor": "green"})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(t2["title"], "done");
    let item = api.sticky(&board, "x").await;
    api.send(
        Method::POST,
        &format!("/v2/boards/{b}/items/{item}?tag_id={id}"),
        None,
    )
    .await;
    let (s, _) = api
        .call(Method::DELETE, &format!("/v2/boards/{b}/tags/{id}"), None)
        .await;
    assert_eq!(s, 204);
    let (_, on_item) = api.get(&format!("/v2/boards/{b}/items/{item}/tags")).await;
    assert_eq!(on_item["tags"].as_array().unwrap().len(), 0);
    let (s, _) = api.get(&format!("/v2/boards/{b}/tags/{id}")).await;
    assert_eq!(s, 404);
}
