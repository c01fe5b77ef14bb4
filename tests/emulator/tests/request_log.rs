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
    assert!(text.contains("refresh_token=[redacted]"), "{text}");
    assert!(text.contains("grant_type=refresh_token"), "{text}");
}

/// Every part of a logged request as text.
fn logged_text(r: &miro_emulator::LoggedRequest) -> String {
    format!(
        "{} {} {:?} {:?} {}",
        r.method,
        r.path,
        r.query,
        r.headers,
        String::from_utf8_lossy(&r.body)
    )
}

#[tokio::test]
async fn codes_and_tokens_are_redacted_from_oauth_forms_queries_and_json_bodies() {
    let api = Api::with(
        miro_emulator::Emulator::builder()
            .oauth_client("log-app", "log-s3cret")
            .access_token_lifetime(Some(std::time::Duration::from_secs(3600))),
    )
    .await;
    let no_redirects = common::http_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirect = "http://localhost:9/cb";
    let location = no_redirects
        .get(api.url("/oauth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", "log-app"),
            ("redirect_uri", redirect),
        ])
        .send()
        .await
        .unwrap()
        .headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    let code = reqwest::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let token = |form: Vec<(&'static str, String)>| {
        let request = api.http.post(api.url("/v1/oauth/token")).form(&form);
        async move {
            let r = request.send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    let first = token(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code.clone()),
        ("redirect_uri", redirect.into()),
        ("client_id", "log-app".into()),
        ("client_secret", "log-s3cret".into()),
    ])
    .await;
    let access = first["access_token"].as_str().unwrap().to_string();
    let refresh = first["refresh_token"].as_str().unwrap().to_string();
    let second = token(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", refresh.clone()),
        ("client_id", "log-app".into()),
        ("client_secret", "log-s3cret".into()),
    ])
    .await;
    let access2 = second["access_token"].as_str().unwrap().to_string();
    let access3 = second["refresh_token"].as_str().unwrap().to_string();
    // Revocation: the v2 JSON body and the v1 query.
    let r = api
        .http
        .post(api.url("/v2/oauth/revoke"))
        .json(&json!({"accessToken": access2, "clientId": "log-app", "clientSecret": "log-s3cret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = api
        .http
        .post(api.url("/v1/oauth/revoke"))
        .query(&[("access_token", &access)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);

    let log = api.emu.requests();
    assert!(log.len() >= 5, "{log:?}");
    for r in &log {
        let text = logged_text(r);
        for secret in [
            &code,
            &access,
            &refresh,
            &access2,
            &access3,
            &"log-s3cret".to_string(),
        ] {
            assert!(
                !text.contains(secret.as_str()),
                "{secret} is in the log: {text}"
            );
        }
    }
    let exchange = logged_text(&log[1]);
    assert!(exchange.contains("code=[redacted]"), "{exchange}");
    assert!(
        exchange.contains("grant_type=authorization_code"),
        "{exchange}"
    );
    assert!(exchange.contains("client_id=log-app"), "{exchange}");
    let revoke = log.iter().find(|r| r.path == "/v2/oauth/revoke").unwrap();
    assert_eq!(revoke.json().unwrap()["accessToken"], "[redacted]");
    assert_eq!(revoke.json().unwrap()["clientId"], "log-app");
    let revoke_v1 = log.iter().find(|r| r.path == "/v1/oauth/revoke").unwrap();
    assert_eq!(revoke_v1.query.as_deref(), Some("access_token=[redacted]"));
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
