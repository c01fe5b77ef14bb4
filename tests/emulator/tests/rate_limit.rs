//! Credit-based rate limiting, headers and 429s.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{enc, Api};
use miro_emulator::Emulator;
use reqwest::Method;
use serde_json::json;

fn header(resp: &reqwest::Response, name: &str) -> u64 {
    resp.headers()
        .get(name)
        .unwrap_or_else(|| panic!("missing {name}"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn headers_count_credits_by_level() {
    let api = Api::start().await;
    let resp = api
        .send(Method::POST, "/v2/boards", Some(json!({"name": "x"})))
        .await;
    assert_eq!(header(&resp, "x-ratelimit-limit"), 100_000);
    assert_eq!(
        header(&resp, "x-ratelimit-remaining"),
        100_000 - 500,
        "create board is level 3"
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let reset = header(&resp, "x-ratelimit-reset");
    assert!(reset >= now && reset <= now + 61, "reset {reset} now {now}");
    let board: serde_json::Value = resp.json().await.unwrap();
    let b = enc(board["id"].as_str().unwrap());

    let resp = api
        .send(Method::GET, &format!("/v2/boards/{b}"), None)
        .await;
    assert_eq!(
        header(&resp, "x-ratelimit-remaining"),
        99_500 - 50,
        "get board is level 1"
    );
    let resp = api
        .send(Method::GET, &format!("/v2/boards/{b}/items"), None)
        .await;
    assert_eq!(
        header(&resp, "x-ratelimit-remaining"),
        99_450 - 100,
        "get items is level 2"
    );
    let resp = api
        .send(
            Method::POST,
            &format!("/v2/boards/{b}/items/bulk"),
            Some(json!([
                {"type": "text", "data": {"content": "a"}},
                {"type": "text", "data": {"content": "b"}},
                {"type": "text", "data": {"content": "c"}}
            ])),
        )
        .await;
    assert_eq!(resp.status(), 201);
    assert_eq!(
        header(&resp, "x-ratelimit-remaining"),
        99_350 - 300,
        "bulk is level 2 per item"
    );
    let resp = api
        .send(
            Method::PUT,
            &format!("/v2/boards?copy_from={b}"),
            Some(json!({})),
        )
        .await;
    assert_eq!(resp.status(), 201);
    assert_eq!(
        header(&resp, "x-ratelimit-remaining"),
        99_050 - 2000,
        "copy is level 4"
    );
    let copy: serde_json::Value = resp.json().await.unwrap();
    let (_, items) = api
        .get(&format!(
            "/v2/boards/{}/items",
            enc(copy["id"].as_str().unwrap())
        ))
        .await;
    assert_eq!(items["total"], 3, "the copy has the items");
}

#[tokio::test]
async fn spent_budget_gets_429_then_recovers() {
    let api = Api::with(Emulator::builder().rate_limit(200, Duration::from_millis(700))).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let resp = api.send(Method::GET, "/v2/boards", None).await;
        statuses.push(resp.status().as_u16());
        if resp.status() == 429 {
            let retry: u64 = header(&resp, "retry-after");
            assert!((1..=1).contains(&retry), "retry-after {retry}");
            assert_eq!(header(&resp, "x-ratelimit-remaining"), 0);
            let body: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(
                body,
                json!({"status": 429, "code": "tooManyRequests", "message": "Request rate limit exceed", "context": null, "type": "error"})
            );
        }
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 429],
        "4 x 50 credits fit in 200"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    let resp = api.send(Method::GET, "/v2/boards", None).await;
    assert_eq!(resp.status(), 200, "a new window starts");
}

#[tokio::test]
async fn tokens_have_separate_budgets() {
    let api = Api::with(
        Emulator::builder()
            .tokens(["a", "b"])
            .rate_limit(50, Duration::from_secs(60)),
    )
    .await;
    let get = |t: &'static str| api.http.get(api.url("/v2/boards")).bearer_auth(t).send();
    assert_eq!(get("a").await.unwrap().status(), 200);
    assert_eq!(get("a").await.unwrap().status(), 429);
    assert_eq!(get("b").await.unwrap().status(), 200);
}
