//! Every fault kind is observable by a client.

mod common;

use std::time::{Duration, Instant};

use common::{enc, Api};
use miro_emulator::{Fault, FaultKind};
use reqwest::Method;
use serde_json::{json, Value};

async fn setup() -> (Api, String) {
    let api = Api::start().await;
    let board = api.board("faults").await;
    (api, enc(&board))
}

#[tokio::test]
async fn server_error_with_html_body_for_next_n() {
    let (api, b) = setup().await;
    api.emu
        .inject_fault(
            Fault::new(FaultKind::ServerError(503))
                .on("GET /v2/boards/{board_id}")
                .times(2),
        )
        .unwrap();
    for _ in 0..2 {
        let resp = api
            .send(Method::GET, &format!("/v2/boards/{b}"), None)
            .await;
        assert_eq!(resp.status(), 503);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(resp.text().await.unwrap().contains("<html>"));
    }
    let resp = api
        .send(Method::GET, &format!("/v2/boards/{b}"), None)
        .await;
    assert_eq!(resp.status(), 200, "only the next 2 fail");
    // Other routes were never affected.
    let resp = api.send(Method::GET, "/v2/boards", None).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn delay_holds_the_response() {
    let (api, b) = setup().await;
    api.emu
        .inject_fault(Fault::new(FaultKind::Delay(Duration::from_millis(300))).times(1))
        .unwrap();
    let start = Instant::now();
    let resp = api
        .send(Method::GET, &format!("/v2/boards/{b}"), None)
        .await;
    assert_eq!(resp.status(), 200);
    assert!(start.elapsed() >= Duration::from_millis(300));
    let client = common::http_builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    api.emu
        .inject_fault(Fault::new(FaultKind::Delay(Duration::from_millis(500))).times(1))
        .unwrap();
    let err = client
        .get(api.url(&format!("/v2/boards/{b}")))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
}

#[tokio::test]
async fn dropped_connection_gets_no_response() {
    let (api, b) = setup().await;
    api.emu
        .inject_fault(
            Fault::new(FaultKind::DropConnection)
                .on("GET /v2/boards/{id}")
                .times(1),
        )
        .unwrap();
    let err = api
        .http
        .get(api.url(&format!("/v2/boards/{b}")))
        .bearer_auth(&api.token)
        .send()
        .await
        .expect_err("the connection closes without a response");
    assert!(!err.is_status() && !err.is_timeout(), "{err}");
    // The log shows the request with no status; the next request works.
    let logged = api.emu.requests();
    assert_eq!(logged.last().unwrap().status, None);
    let resp = api
        .send(Method::GET, &format!("/v2/boards/{b}"), None)
        .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn truncated_and_malformed_json_fail_to_parse() {
    let (api, b) = setup().await;
    for kind in [FaultKind::TruncatedBody, FaultKind::MalformedJson] {
        api.emu
            .inject_fault(Fault::new(kind.clone()).times(1))
            .unwrap();
        let resp = api
            .send(Method::GET, &format!("/v2/boards/{b}"), None)
            .await;
        assert_eq!(resp.status(), 200, "{kind:?}");
        let bytes = resp
            .bytes()
            .await
            .expect("the body arrives whole at the HTTP level");
        assert!(!bytes.is_empty());
        assert!(
            serde_json::from_slice::<Value>(&bytes).is_err(),
            "{kind:?}: {:?}",
            String::from_utf8_lossy(&bytes)
        );
    }
    let (s, v) = api.get(&format!("/v2/boards/{b}")).await;
    assert_eq!(s, 200);
    assert_eq!(v["type"], "board");
}

#[tokio::test]
async fn extra_fields_unknown_enums_and_item_types_appear() {
    let (api, b) = setup().await;
    let item = api.sticky(&api_board(&b), "x").await;
    api.emu
        .inject_fault(Fault::new(FaultKind::ExtraFields).times(1))
        .unwrap();
    let (_, v) = api
        .get(&format!("/v2/boards/{b}/sticky_notes/{item}"))
        .await;
    assert!(v.get("emulatorUnknownField").is_some(), "{v}");
    assert!(v["data"].get("emulatorUnknownField").is_some(), "{v}");
    assert_eq!(v["data"]["content"], "x");

    api.emu
        .inject_fault(Fault::new(FaultKind::UnknownEnumValue).times(1))
        .unwrap();
    let (_, v) = api
        .get(&format!("/v2/boards/{b}/sticky_notes/{item}"))
        .await;
    assert_eq!(v["data"]["shape"], "emulator_unknown_value", "{v}");
    assert_eq!(v["position"]["origin"], "emulator_unknown_value", "{v}");

    api.emu
        .inject_fault(
            Fault::new(FaultKind::UnknownItemType)
                .on("GET /v2/boards/{board_id}/items")
                .times(1),
        )
        .unwrap();
    let (_, page) = api.get(&format!("/v2/boards/{b}/items")).await;
    let types: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["sticky_note", miro_emulator::faults::UNKNOWN_ITEM_TYPE]
    );

    api.emu
        .inject_fault(Fault::new(FaultKind::UnknownItemType).times(1))
        .unwrap();
    let (_, v) = api.get(&format!("/v2/boards/{b}/items/{item}")).await;
    assert_eq!(v["type"], miro_emulator::faults::UNKNOWN_ITEM_TYPE);
}

fn api_board(encoded: &str) -> String {
    encoded.replace("%3D", "=")
}

#[tokio::test]
async fn repeated_cursor_returns_the_request_cursor() {
    let (api, b) = setup().await;
    let items: Vec<Value> = (0..15)
        .map(|i| json!({"type": "text", "data": {"content": format!("{i}")}}))
        .collect();
    let (s, _) = api
        .post(&format!("/v2/boards/{b}/items/bulk"), Value::Array(items))
        .await;
    assert_eq!(s, 201);
    let (_, first) = api.get(&format!("/v2/boards/{b}/items?limit=10")).await;
    let cursor = first["cursor"].as_str().unwrap().to_string();
    api.emu
        .inject_fault(
            Fault::new(FaultKind::RepeatedCursor)
                .on("GET /v2/boards/{board_id}/items")
                .times(1),
        )
        .unwrap();
    let (_, second) = api
        .get(&format!("/v2/boards/{b}/items?limit=10&cursor={cursor}"))
        .await;
    assert_eq!(
        second["cursor"],
        cursor.as_str(),
        "the page hands back the same cursor"
    );
    let (_, again) = api
        .get(&format!("/v2/boards/{b}/items?limit=10&cursor={cursor}"))
        .await;
    assert!(
        again.get("cursor").is_none(),
        "without the fault the last page has no cursor"
    );
}

#[tokio::test]
async fn probabilistic_faults_are_deterministic_for_a_seed() {
    async fn pattern(seed: u64) -> Vec<u16> {
        let api = Api::with(miro_emulator::Emulator::builder().seed(seed)).await;
        api.emu
            .inject_fault(
                Fault::new(FaultKind::ServerError(502))
                    .on("GET /v2/boards")
                    .probability(0.5),
            )
            .unwrap();
        let mut out = Vec::new();
        for _ in 0..30 {
            out.push(
                api.send(Method::GET, "/v2/boards", None)
                    .await
                    .status()
                    .as_u16(),
            );
        }
        out
    }
    let a = pattern(42).await;
    assert_eq!(a, pattern(42).await);
    let fails = a.iter().filter(|s| **s == 502).count();
    assert!((5..=25).contains(&fails), "{a:?}");
    assert!(a.iter().all(|s| *s == 200 || *s == 502));
}

#[tokio::test]
async fn invalid_fault_routes_are_errors_and_faults_can_be_removed() {
    let (api, b) = setup().await;
    assert!(api
        .emu
        .inject_fault(Fault::new(FaultKind::DropConnection).on("nonsense"))
        .is_err());
    let id = api
        .emu
        .inject_fault(Fault::new(FaultKind::ServerError(500)))
        .unwrap();
    let resp = api
        .send(Method::GET, &format!("/v2/boards/{b}"), None)
        .await;
    assert_eq!(resp.status(), 500);
    assert!(api.emu.remove_fault(id));
    let resp = api
        .send(Method::GET, &format!("/v2/boards/{b}"), None)
        .await;
    assert_eq!(resp.status(), 200);
}
