//! Several OAuth users: the authorize page offers each, tokens belong to the one picked (also
//! after a refresh), and each sees only the boards they are a member of.

use miro_emulator::{Emulator, DEFAULT_USER_ID};
use serde_json::Value;

#[tokio::test]
async fn the_authorize_page_signs_in_the_user_picked() {
    let emu = Emulator::builder()
        .oauth_client("app", "secret")
        .oauth_user("42", "Second <User>")
        .start()
        .await
        .unwrap();
    let http = http_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize = format!(
        "{}/oauth/authorize?response_type=code&client_id=app&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&state=s1",
        emu.base_url()
    );
    let page = http.get(&authorize).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!("id=\"sign-in-{DEFAULT_USER_ID}\"")),
        "{html}"
    );
    assert!(html.contains("Sign in as Second &lt;User&gt;"), "{html}");

    let mut tokens = Vec::new();
    for user in [DEFAULT_USER_ID, "42"] {
        let answer = http
            .get(format!("{authorize}&user={user}"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 302);
        let location = answer.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.contains("state=s1"), "{location}");
        let code = location
            .split("code=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap();
        let grant: Value = http
            .post(format!("{}/v1/oauth/token", emu.base_url()))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", "http://127.0.0.1/cb"),
                ("client_id", "app"),
                ("client_secret", "secret"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(grant["user_id"], user);
        tokens.push(grant);
    }
    // A refresh keeps the user.
    let refreshed: Value = http
        .post(format!("{}/v1/oauth/token", emu.base_url()))
        .form(&[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                tokens[1]["refresh_token"].as_str().unwrap(),
            ),
            ("client_id", "app"),
            ("client_secret", "secret"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(refreshed["user_id"], "42");

    // Each user lists only their own boards.
    let bearer = [
        tokens[0]["access_token"].as_str().unwrap().to_owned(),
        refreshed["access_token"].as_str().unwrap().to_owned(),
    ];
    for (i, token) in bearer.iter().enumerate() {
        let created = http
            .post(format!("{}/v2/boards", emu.base_url()))
            .bearer_auth(token)
            .json(&serde_json::json!({"name": format!("board {i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }
    for (i, token) in bearer.iter().enumerate() {
        let list: Value = http
            .get(format!("{}/v2/boards", emu.base_url()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let names: Vec<&str> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, [format!("board {i}")]);
    }
}

/// reqwest's client builder (see `common::http_builder`: ring is installed as the process's
/// rustls provider, which a workspace-wide build leaves reqwest without).
fn http_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}
