//! `RunningEmulator::authorize`: an authorization URL and a user in, the redirect (code and
//! state) out, with no HTTP; the code is then exchanged at the token endpoint like one from the
//! sign-in page.

use miro_emulator::{Emulator, Error, RunningEmulator, DEFAULT_USER_ID};
use serde_json::Value;

const CALLBACK: &str = "http://127.0.0.1:3000/callback";

fn auth_url(emu: &RunningEmulator, state: Option<&str>) -> String {
    let mut url = format!(
        "https://miro.com/oauth/authorize?response_type=code&client_id={}&redirect_uri=http%3A%2F%2F127.0.0.1%3A3000%2Fcallback",
        emu.client_id()
    );
    if let Some(s) = state {
        url.push_str(&format!("&state={s}"));
    }
    url
}

async fn exchange(emu: &RunningEmulator, code: &str) -> (u16, Value) {
    let answer = http_builder()
        .build()
        .unwrap()
        .post(format!("{}/v1/oauth/token", emu.base_url()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("client_id", &emu.client_id()),
            ("client_secret", &emu.client_secret()),
        ])
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap())
}

#[tokio::test]
async fn the_redirect_carries_a_code_for_the_user_and_the_state() {
    let emu = Emulator::builder()
        .oauth_user("42", "Second User")
        .start()
        .await
        .unwrap();
    for user in [DEFAULT_USER_ID, "42"] {
        let redirect = emu.authorize(&auth_url(&emu, Some("s%201")), user).unwrap();
        assert_eq!(redirect.state.as_deref(), Some("s 1"));
        assert_eq!(
            redirect.url,
            format!("{CALLBACK}?code={}&state=s+1", redirect.code)
        );
        let (status, grant) = exchange(&emu, &redirect.code).await;
        assert_eq!(status, 200, "{grant}");
        assert_eq!(grant["user_id"], user);
        // The code is single use, as Miro's.
        let (again, _) = exchange(&emu, &redirect.code).await;
        assert_eq!(again, 400);
    }
    assert_eq!(
        emu.authorize(&auth_url(&emu, None), "42").unwrap().state,
        None
    );
}

#[tokio::test]
async fn refusals_are_typed_errors_naming_the_problem() {
    let emu = Emulator::start().await.unwrap();
    let good = auth_url(&emu, Some("x"));
    let cases = [
        (
            good.replace("/oauth/authorize", "/oauth/other"),
            DEFAULT_USER_ID,
            "/oauth/authorize",
        ),
        (
            good.replace("response_type=code", "response_type=token"),
            DEFAULT_USER_ID,
            "response_type",
        ),
        (
            good.replace(&emu.client_id(), "someone-else"),
            DEFAULT_USER_ID,
            "client_id",
        ),
        (
            good.replace("redirect_uri=", "redirect=").to_string(),
            DEFAULT_USER_ID,
            "redirect_uri",
        ),
        (good.clone(), "no-such-user", "unknown user"),
    ];
    for (url, user, needle) in cases {
        match emu.authorize(&url, user) {
            Err(e @ Error::Authorization(_)) => {
                assert!(e.to_string().contains(needle), "{needle:?} not in {e}")
            }
            other => panic!("{url} as {user}: expected a refusal, got {other:?}"),
        }
    }
    assert!(emu.authorize(&good, DEFAULT_USER_ID).is_ok());
}

/// reqwest's client builder (see `common::http_builder`: ring is installed as the process's
/// rustls provider, which a workspace-wide build leaves reqwest without).
fn http_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}
