//! The request log records what clients sent, with secrets redacted.

mod common;

use common::{enc, Api};
use serde_json::json;

#[tokio::test]
async fn log_records_requests_and_redacts_the_bearer_token() {
    let api = Api::start().await;
    let board = api.board("log").await;
    api.get(&format!("/v2/boards/{}/items?limit=10", enc(&board)))
        .await;
    let log = api.emu.requests();
    assert_eq!(log.len(), 2);
    let create = &log[0];
    assert_eq!(create.method, "POST");
    assert_eq!(create.path, "/v2/boards");
    assert_eq!(create.route.as_deref(), Some("/v2/boards"));
    assert_eq!(create.status, Some(201));
    assert_eq!(create.json().unwrap(), json!({"name": "log"}));
    assert_eq!(create.body_text(), Some(r#"{"name":"log"}"#));
    assert_eq!(create.header("authorization"), Some("Bearer [redacted]"));
    assert!(create.headers.iter().all(|(_, v)| !v.contains(&api.token)));
    let list = &log[1];
    assert_eq!(list.query.as_deref(), Some("limit=10"));
    assert_eq!(list.route.as_deref(), Some("/v2/boards/{board_id}/items"));
    api.emu.clear_requests();
    assert!(api.emu.requests().is_empty());
}

#[tokio::test]
async fn client_secret_is_redacted_in_form_bodies() {
    let api = Api::start().await;
    let secret = api.emu.client_secret();
    api.http
        .post(api.url("/v1/oauth/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "r"),
            ("client_id", &api.emu.client_id()),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    let logged = &api.emu.requests()[0];
    let text = logged.body_text().unwrap();
    assert!(text.contains("client_secret=[redacted]"), "{text}");
    assert!(!text.contains(&secret));
    assert!(text.contains("refresh_token=r"));
}

#[tokio::test]
async fn log_can_be_turned_off() {
    let api = Api::with(miro_emulator::Emulator::builder().log_requests(false)).await;
    api.board("quiet").await;
    assert!(api.emu.requests().is_empty());
}

#[tokio::test]
async fn log_keeps_the_most_recent_requests() {
    let api = Api::with(miro_emulator::Emulator::builder().request_log_capacity(3)).await;
    for i in 0..5 {
        api.board(&format!("b{i}")).await;
    }
    let names: Vec<String> = api
        .emu
        .requests()
        .iter()
        .map(|r| r.json().unwrap()["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["b2", "b3", "b4"]);
}
