//! Miro's error bodies, authentication and ids.

mod common;

use common::{assert_error, enc, Api};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn missing_and_unknown_tokens_get_401() {
    let api = Api::start().await;
    let resp = api.http.get(api.url("/v2/boards")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(assert_error(&body, 401), "tokenNotProvided");

    let resp = api
        .http
        .get(api.url("/v2/boards"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_error(&body, 401);
}

#[tokio::test]
async fn configured_tokens_replace_the_default() {
    let api = Api::with(miro_emulator::Emulator::builder().tokens(["a", "b"])).await;
    assert_eq!(api.token, "a");
    for (t, ok) in [("a", true), ("b", true), ("emulator-token", false)] {
        let resp = api
            .http
            .get(api.url("/v2/boards"))
            .bearer_auth(t)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().is_success(), ok, "token {t}");
    }
}

#[tokio::test]
async fn unknown_ids_and_routes_get_404() {
    let api = Api::start().await;
    let (s, b) = api.get("/v2/boards/uXnoSuchBrd=").await;
    assert_eq!(s, 404);
    assert_eq!(assert_error(&b, 404), "notFound");

    let board = api.board("b").await;
    let (s, b) = api
        .get(&format!(
            "/v2/boards/{}/items/3458764599999999999",
            enc(&board)
        ))
        .await;
    assert_eq!(s, 404);
    assert_error(&b, 404);

    let (s, b) = api.get("/v2/no/such/route").await;
    assert_eq!(s, 404);
    assert_eq!(assert_error(&b, 404), "notFound");
}

#[tokio::test]
async fn bad_bodies_and_parameters_get_400() {
    let api = Api::start().await;
    let board = api.board("b").await;
    let path = format!("/v2/boards/{}/sticky_notes", enc(&board));
    let resp = api
        .http
        .post(api.url(&path))
        .bearer_auth(&api.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(assert_error(&body, 400), "invalidParameters");

    let (s, b) = api.post(&path, json!({"data": {"shape": "hexagon"}})).await;
    assert_eq!(s, 400);
    assert_eq!(b["context"]["fields"][0]["field"], "data.shape", "{b}");

    let (s, b) = api
        .post(
            &format!("/v2/boards/{}/texts", enc(&board)),
            json!({"data": {}}),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(b["context"]["fields"][0]["field"], "data.content", "{b}");

    let (s, b) = api
        .post("/v2/boards", json!({"name": "x".repeat(61)}))
        .await;
    assert_eq!(s, 400);
    assert_error(&b, 400);
}

#[tokio::test]
async fn board_ids_look_like_miros_and_decode_from_paths() {
    let api = Api::start().await;
    let board = api.board("encoded").await;
    assert_eq!(board.len(), 12, "{board}");
    assert!(board.ends_with('='));
    // Raw and percent-encoded forms reach the same board.
    let (s1, b1) = api.get(&format!("/v2/boards/{board}")).await;
    let (s2, b2) = api.get(&format!("/v2/boards/{}", enc(&board))).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(b1, b2);
    let item = api.sticky(&board, "x").await;
    assert_eq!(item.len(), 19);
    assert!(item.bytes().all(|b| b.is_ascii_digit()));
}

#[tokio::test]
async fn items_keep_client_fields_and_update() {
    let api = Api::start().await;
    let board = api.board("b").await;
    let b = enc(&board);
    let (s, sticky) = api
        .post(
            &format!("/v2/boards/{b}/sticky_notes"),
            json!({"data": {"content": "hi", "shape": "rectangle"}, "style": {"fillColor": "cyan"}, "position": {"x": 10.5, "y": -3}}),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(sticky["type"], "sticky_note");
    assert_eq!(sticky["data"]["shape"], "rectangle");
    assert_eq!(sticky["style"]["fillColor"], "cyan");
    assert_eq!(sticky["position"]["origin"], "center");
    assert_eq!(sticky["position"]["x"], 10.5);
    assert!(sticky["createdBy"]["id"].is_string());
    let id = sticky["id"].as_str().unwrap();

    let (s, card) = api
        .post(
            &format!("/v2/boards/{b}/cards"),
            json!({"data": {"title": "t", "assigneeId": "3458764500000000777"}}),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(card["data"]["assigneeId"], "3458764500000000777");

    let (s, patched) = api
        .call(
            Method::PATCH,
            &format!("/v2/boards/{b}/sticky_notes/{id}"),
            Some(json!({"data": {"content": "changed"}})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(patched["data"]["content"], "changed");
    assert_eq!(patched["data"]["shape"], "rectangle");

    // The typed route refuses an item of another type.
    let (s, _) = api.get(&format!("/v2/boards/{b}/cards/{id}")).await;
    assert_eq!(s, 404);

    // Frames hold items; deleting works once.
    let (_, frame) = api
        .post(
            &format!("/v2/boards/{b}/frames"),
            json!({"data": {"title": "F"}}),
        )
        .await;
    let fid = frame["id"].as_str().unwrap();
    let (s, moved) = api
        .call(
            Method::PATCH,
            &format!("/v2/boards/{b}/items/{id}"),
            Some(json!({"parent": {"id": fid}, "position": {"x": 1, "y": 1}})),
        )
        .await;
    assert_eq!(s, 200, "{moved}");
    assert_eq!(moved["parent"]["id"], fid);
    assert_eq!(moved["position"]["relativeTo"], "parent_top_left");
    let (s, page) = api
        .get(&format!("/v2/boards/{b}/items?parent_item_id={fid}"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(page["total"], 1);
    assert_eq!(page["data"][0]["id"], id);

    let (s, _) = api
        .call(
            Method::DELETE,
            &format!("/v2/boards/{b}/sticky_notes/{id}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = api
        .call(
            Method::DELETE,
            &format!("/v2/boards/{b}/sticky_notes/{id}"),
            None,
        )
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn unknown_routes_reach_the_fallback() {
    let api = Api::with(miro_emulator::Emulator::builder().fallback(|req| {
        (req.path == "/v2/orgs/1").then(|| miro_emulator::FallbackResponse {
            status: 200,
            body: json!({"id": "1", "type": "organization"}),
        })
    }))
    .await;
    let (s, b) = api.get("/v2/orgs/1").await;
    assert_eq!(s, 200);
    assert_eq!(b["type"], "organization");
    // The user's fallback declines: the spec's built-in answer follows.
    let (s, b) = api.get("/v2/orgs/2").await;
    assert_eq!(s, 200);
    assert!(b["id"].is_string(), "{b}");
    // Nothing answers a path the spec does not have.
    let (s, b) = api.get("/v2/no-such-thing/2").await;
    assert_eq!(s, 404);
    assert_eq!(assert_error(&b, 404), "notFound");
}

#[tokio::test]
async fn undecodable_path_segments_get_miros_400_body() {
    let api = Api::start().await;
    let (s, b) = api.get("/v2/boards/%FF%FE").await;
    assert_eq!(s, 400);
    assert_eq!(assert_error(&b, 400), "invalidParameters");
}

#[test]
fn the_binary_prints_help() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_miro-emulator"))
        .arg("--help")
        .output()
        .expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("--port"), "{text}");
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_miro-emulator"))
        .arg("--bogus")
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2));
}
