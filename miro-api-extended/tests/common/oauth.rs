//! Helpers for the OAuth tests: an emulator with an OAuth app, and signing in.

use std::time::Duration;

use miro_api::MiroApi;
use miro_api_extended::storage::TokenState;
use miro_api_extended::{Miro, OAuthError};
use miro_emulator::{Emulator, RunningEmulator};

pub const CLIENT_ID: &str = "3458764599999999999";
pub const SECRET: &str = "client-secret-VERY-PRIVATE";
pub const REDIRECT: &str = "http://localhost:9876/oauth/callback";

pub async fn start() -> RunningEmulator {
    Emulator::builder()
        .rate_limit(10_000_000, Duration::from_secs(60))
        .oauth_client(CLIENT_ID, SECRET)
        .start()
        .await
        .expect("the emulator starts")
}

pub fn miro(emu: &RunningEmulator) -> Miro {
    Miro::builder()
        .client_id(CLIENT_ID)
        .client_secret(SECRET)
        .redirect_url(REDIRECT)
        .api_base_url(emu.base_url())
        .auth_base_url(emu.base_url())
        .build()
        .expect("a complete configuration")
}

/// Opens the authorization URL as a browser would and returns where Miro redirects to.
pub async fn authorize(url: &str) -> String {
    let browser = miro_api::http_client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = browser.get(url).send().await.unwrap();
    assert_eq!(
        resp.status(),
        302,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    resp.headers()["location"].to_str().unwrap().to_string()
}

/// Authorizes the emulator's user; returns the user id.
pub async fn sign_in(miro: &Miro) -> String {
    let (url, state) = miro.auth_url_with_new_state().unwrap();
    let redirect = authorize(&url).await;
    miro.exchange_code_checked(&redirect, &state)
        .await
        .unwrap()
        .user_id
}

pub async fn stored(miro: &Miro, user: &str) -> TokenState {
    miro.store()
        .get(user)
        .await
        .unwrap()
        .expect("tokens are stored")
        .state
}

pub fn oauth_error(e: &miro_api::Error) -> &OAuthError {
    match e {
        miro_api::Error::Token(source) => source
            .downcast_ref::<OAuthError>()
            .unwrap_or_else(|| panic!("not an OAuthError: {source}")),
        other => panic!("not a token error: {other}"),
    }
}

pub async fn new_board(api: &MiroApi) -> String {
    api.create_board(&Default::default())
        .await
        .unwrap()
        .id
        .clone()
}
