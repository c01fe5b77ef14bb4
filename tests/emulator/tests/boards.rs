//! Boards and board members.

mod common;

use common::{enc, Api};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn board_lifecycle_and_copy() {
    let api = Api::start().await;
    let (s, board) = api
        .post("/v2/boards", json!({"name": "Plan", "description": "Q3"}))
        .await;
    assert_eq!(s, 201);
    assert_eq!(board["type"], "board");
    assert_eq!(board["description"], "Q3");
    let id = board["id"].as_str().unwrap().to_string();
    let b = enc(&id);
    let (s, patched) = api
        .call(
            Method::PATCH,
            &format!("/v2/boards/{b}"),
            Some(json!({"name": "Plan v2"})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(patched["name"], "Plan v2");
    assert_eq!(patched["description"], "Q3");

    let frame = api
        .post(
            &format!("/v2/boards/{b}/frames"),
            json!({"data": {"title": "F"}}),
        )
        .await
        .1;
    let fid = frame["id"].as_str().unwrap();
    let (s, child) = api
        .post(
            &format!("/v2/boards/{b}/texts"),
            json!({"data": {"content": "in"}, "parent": {"id": fid}}),
        )
        .await;
    assert_eq!(s, 201, "{child}");

    let (s, copy) = api
        .call(
            Method::PUT,
            &format!("/v2/boards?copy_from={b}"),
            Some(json!({"name": "Copy"})),
        )
        .await;
    assert_eq!(s, 201);
    assert_ne!(copy["id"], id.as_str());
    assert_eq!(copy["name"], "Copy");
    let cb = enc(copy["id"].as_str().unwrap());
    let (_, items) = api.get(&format!("/v2/boards/{cb}/items")).await;
    assert_eq!(items["total"], 2);
    let ids: Vec<&str> = items["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert!(!ids.contains(&fid), "copied items get new ids");
    let copied_child = items["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "text")
        .unwrap();
    assert!(
        ids.contains(&copied_child["parent"]["id"].as_str().unwrap()),
        "parents are remapped"
    );

    let (s, _) = api
        .call(
            Method::PUT,
            "/v2/boards?copy_from=uXnoSuchBrd=",
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = api
        .call(Method::DELETE, &format!("/v2/boards/{b}"), None)
        .await;
    assert_eq!(s, 204);
    let (s, _) = api.get(&format!("/v2/boards/{b}")).await;
    assert_eq!(s, 404);
    assert_eq!(api.emu.board_count(), 1);
}

#[tokio::test]
async fn board_search_filters_by_name() {
    let api = Api::start().await;
    for name in ["Alpha", "beta", "Alphabet"] {
        api.board(name).await;
    }
    let (_, page) = api.get("/v2/boards?query=alpha").await;
    assert_eq!(page["total"], 2);
}

#[tokio::test]
async fn members_share_list_update_remove() {
    let api = Api::start().await;
    let board = api.board("team").await;
    let b = enc(&board);
    let (s, res) = api
        .post(
            &format!("/v2/boards/{b}/members"),
            json!({"emails": ["ann@example.com", "bob@example.com", "nope"], "role": "editor"}),
        )
        .await;
    assert_eq!(s, 201, "{res}");
    assert_eq!(res["successful"].as_array().unwrap().len(), 2);
    assert_eq!(res["failed"].as_array().unwrap().len(), 1);
    let (_, page) = api.get(&format!("/v2/boards/{b}/members")).await;
    assert_eq!(page["total"], 3, "owner + 2");
    let ann = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "ann")
        .unwrap();
    assert_eq!(ann["role"], "editor");
    assert_eq!(ann["type"], "board_member");
    let mid = ann["id"].as_str().unwrap();
    let (s, m) = api
        .call(
            Method::PATCH,
            &format!("/v2/boards/{b}/members/{mid}"),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(m["role"], "viewer");
    let (s, _) = api
        .call(
            Method::PATCH,
            &format!("/v2/boards/{b}/members/{mid}"),
            Some(json!({"role": "king"})),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = api
        .call(
            Method::DELETE,
            &format!("/v2/boards/{b}/members/{mid}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = api.get(&format!("/v2/boards/{b}/members/{mid}")).await;
    assert_eq!(s, 404);
    let (s, _) = api
        .post(&format!("/v2/boards/{b}/members"), json!({"emails": []}))
        .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn connectors_validate_their_ends_and_vanish_with_items() {
    let api = Api::start().await;
    let board = api.board("c").await;
    let b = enc(&board);
    let a = api.sticky(&board, "a").await;
    let z = api.sticky(&board, "z").await;
    let (s, body) = api
        .post(
            &format!("/v2/boards/{b}/connectors"),
            json!({"startItem": {"id": a}, "endItem": {"id": "3458764599999999999"}}),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(body["context"]["fields"][0]["field"], "endItem.id");
    let (s, c) = api
        .post(
            &format!("/v2/boards/{b}/connectors"),
            json!({"startItem": {"id": a}, "endItem": {"id": z}, "captions": [{"content": "to"}]}),
        )
        .await;
    assert_eq!(s, 200, "the spec declares 200 for create-connector");
    assert_eq!(c["shape"], "curved");
    let cid = c["id"].as_str().unwrap();
    let (s, c2) = api
        .call(
            Method::PATCH,
            &format!("/v2/boards/{b}/connectors/{cid}"),
            Some(json!({"shape": "straight"})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(c2["shape"], "straight");
    api.call(Method::DELETE, &format!("/v2/boards/{b}/items/{z}"), None)
        .await;
    let (s, _) = api.get(&format!("/v2/boards/{b}/connectors/{cid}")).await;
    assert_eq!(s, 404, "deleting an end deletes the connector");
}
