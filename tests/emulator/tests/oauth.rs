//! OAuth: authorization codes, token exchange, rotating refresh tokens, revocation.

mod common;

use std::time::Duration;

use common::Api;
use miro_emulator::Emulator;
use serde_json::Value;

fn no_redirects() -> reqwest::Client {
    common::http_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn authorize(api: &Api, redirect: &str, state: &str) -> String {
    let resp = no_redirects()
        .get(api.url("/oauth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", &api.emu.client_id()),
            ("redirect_uri", redirect),
            ("state", state),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(redirect), "{location}");
    let url = reqwest::Url::parse(&location).unwrap();
    let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert!(
        q.contains(&("state".to_string(), state.to_string())),
        "{location}"
    );
    q.into_iter().find(|(k, _)| k == "code").expect("code").1
}

async fn token_call(api: &Api, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = api
        .http
        .post(api.url("/v1/oauth/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn status_with(api: &Api, token: &str) -> u16 {
    api.http
        .get(api.url("/v2/boards"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn code_exchange_and_refresh_rotation() {
    let api = Api::with(Emulator::builder().oauth_client("my-app", "s3cret")).await;
    let code = authorize(&api, "http://localhost:9/cb", "xyz").await;
    let (s, t) = token_call(
        &api,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost:9/cb"),
            ("client_id", "my-app"),
            ("client_secret", "s3cret"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["token_type"], "bearer");
    assert_eq!(t["expires_in"], 3599);
    assert!(t["team_id"].is_string() && t["user_id"].is_string() && t["scope"].is_string());
    let access1 = t["access_token"].as_str().unwrap().to_string();
    let refresh1 = t["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(status_with(&api, &access1).await, 200);

    // The code is single use.
    let (s, _) = token_call(
        &api,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost:9/cb"),
            ("client_id", "my-app"),
            ("client_secret", "s3cret"),
        ],
    )
    .await;
    assert_eq!(s, 400);

    let refresh = |r: String| {
        let api = &api;
        async move {
            token_call(
                api,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &r),
                    ("client_id", "my-app"),
                    ("client_secret", "s3cret"),
                ],
            )
            .await
        }
    };
    let user = api.emu.user_id();
    assert_eq!(api.emu.live_refresh_tokens(&user), 1);
    assert!(
        api.emu.refresh_token_is_live(&refresh1),
        "asking spends nothing"
    );
    let (s, t2) = refresh(refresh1.clone()).await;
    assert_eq!(s, 200, "{t2}");
    let access2 = t2["access_token"].as_str().unwrap().to_string();
    let refresh2 = t2["refresh_token"].as_str().unwrap().to_string();
    // The grant lives on in the successor alone.
    assert!(!api.emu.refresh_token_is_live(&refresh1));
    assert!(api.emu.refresh_token_is_live(&refresh2));
    assert_eq!(api.emu.live_refresh_tokens(&user), 1);
    assert_eq!(api.emu.live_refresh_tokens("someone else"), 0);
    assert_ne!(access1, access2);
    assert_ne!(refresh1, refresh2);
    // The old pair stops working; the new one works.
    assert_eq!(status_with(&api, &access1).await, 401);
    assert_eq!(status_with(&api, &access2).await, 200);
    let (s, err) = refresh(refresh1).await;
    assert_eq!(s, 400, "reusing a refresh token must fail: {err}");
    assert_eq!(err["type"], "error");
    assert_eq!(err["context"]["error"], "invalid_grant");
    // Still fine after the failed reuse.
    assert_eq!(status_with(&api, &access2).await, 200);
    let (s, _) = refresh(refresh2).await;
    assert_eq!(s, 200);
    assert_eq!(api.emu.token_endpoint_calls(), 5);
    assert_eq!(api.emu.refresh_calls(), 3);
}

#[tokio::test]
async fn token_parameters_are_accepted_in_the_query_too() {
    let api = Api::start().await;
    let code = authorize(&api, "http://localhost/cb", "s").await;
    let resp = api
        .http
        .post(api.url("/v1/oauth/token"))
        .query(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost/cb"),
            ("client_id", &api.emu.client_id()),
            ("client_secret", &api.emu.client_secret()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // The log redacts the secret in the query.
    let logged = api
        .emu
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/oauth/token")
        .unwrap();
    assert_eq!(
        logged.query_param("client_secret").as_deref(),
        Some("[redacted]")
    );
    assert!(!logged.query.unwrap().contains(&api.emu.client_secret()));
}

#[tokio::test]
async fn wrong_client_and_redirect_are_refused() {
    let api = Api::start().await;
    let code = authorize(&api, "http://localhost/cb", "s").await;
    let (s, _) = token_call(
        &api,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost/cb"),
            ("client_id", &api.emu.client_id()),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_eq!(s, 401);
    let (s, _) = token_call(
        &api,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://elsewhere/cb"),
            ("client_id", &api.emu.client_id()),
            ("client_secret", &api.emu.client_secret()),
        ],
    )
    .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn access_tokens_expire() {
    let api =
        Api::with(Emulator::builder().access_token_lifetime(Some(Duration::from_millis(300))))
            .await;
    let t = api.emu.issue_tokens();
    assert_eq!(status_with(&api, &t.access_token).await, 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(status_with(&api, &t.access_token).await, 401);

    let t = api.emu.issue_tokens();
    assert!(api.emu.expire_access_token(&t.access_token));
    let resp = api
        .http
        .get(api.url("/v2/boards"))
        .bearer_auth(&t.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "tokenExpired");
}

#[tokio::test]
async fn revoke_and_token_info() {
    let api = Api::start().await;
    let t = api.emu.issue_tokens();
    let (s, info) = {
        let r = api
            .http
            .get(api.url("/v1/oauth-token"))
            .bearer_auth(&t.access_token)
            .send()
            .await
            .unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(s, 200);
    assert_eq!(info["user"]["id"], api.emu.user_id());
    assert_eq!(info["organization"]["id"], api.emu.org_id());
    assert!(info["scopes"].as_array().is_some_and(|s| !s.is_empty()));

    let resp = api
        .http
        .post(api.url("/v2/oauth/revoke"))
        .json(&serde_json::json!({"accessToken": t.access_token, "clientId": api.emu.client_id(), "clientSecret": api.emu.client_secret()}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(status_with(&api, &t.access_token).await, 401);
    // A revocation ends the grant.
    let refresh = t.refresh_token.as_deref().expect("OAuth tokens expire");
    assert!(!api.emu.refresh_token_is_live(refresh));
    assert_eq!(api.emu.live_refresh_tokens(&api.emu.user_id()), 0);
    let logged = api
        .emu
        .requests()
        .into_iter()
        .find(|r| r.path == "/v2/oauth/revoke")
        .unwrap();
    assert_eq!(logged.json().unwrap()["clientSecret"], "[redacted]");

    let t = api.emu.issue_tokens();
    let resp = api
        .http
        .post(api.url("/v1/oauth/revoke"))
        .query(&[("access_token", &t.access_token)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(status_with(&api, &t.access_token).await, 401);
}

#[tokio::test]
async fn team_id_can_arrive_as_a_bare_number() {
    let api = Api::with(Emulator::builder().team_id_as_number(true)).await;
    let code = authorize(&api, "http://localhost/cb", "s").await;
    let resp = api
        .http
        .post(api.url("/v1/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://localhost/cb"),
            ("client_id", &api.emu.client_id()),
            ("client_secret", &api.emu.client_secret()),
        ])
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    assert!(
        text.contains(&format!("\"team_id\":{}", miro_emulator::DEFAULT_TEAM_ID)),
        "{text}"
    );
}
