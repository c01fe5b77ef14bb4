//! A first program's OAuth, offline: the settings come from the environment (`MIRO_API_BASE_URL`
//! pointing at the emulator), the emulator signs the user in, and no HTTP client of the
//! program's own is needed. One test in this binary: it sets process-wide variables.

use miro_api::MiroApi;
use miro_api_extended::Miro;
use miro_emulator::Emulator;

#[tokio::test]
async fn oauth_and_api_calls_from_the_environment_reach_the_emulator() {
    let emu = Emulator::builder()
        .oauth_user("42", "Second User")
        .start()
        .await
        .unwrap();
    // SAFETY (edition 2021: set_var is safe, but racy with other threads reading the
    // environment): this binary has this one test, which sets them before anything reads them.
    std::env::set_var("MIRO_CLIENT_ID", emu.client_id());
    std::env::set_var("MIRO_CLIENT_SECRET", emu.client_secret());
    std::env::set_var("MIRO_REDIRECT_URL", "http://127.0.0.1:3000/callback");
    std::env::set_var("MIRO_API_BASE_URL", emu.base_url());
    std::env::set_var("MIRO_ACCESS_TOKEN", emu.access_token());

    // The OAuth client: authorization URL, sign-in as user 42, code exchange, a call as them.
    let miro = Miro::from_env().unwrap();
    let (url, state) = miro.auth_url_with_new_state().unwrap();
    let redirect = emu.authorize(&url, "42").unwrap();
    let auth = miro
        .exchange_code_checked(&redirect.url, &state)
        .await
        .unwrap();
    assert_eq!(auth.user_id, "42");
    let api = miro.as_user("42");
    assert_eq!(api.base_url(), emu.base_url());
    let board = api.create_board(&Default::default()).await.unwrap();
    let listed = api.get_boards().await.unwrap();
    assert!(listed.data.iter().any(|b| b.id == board.id));

    // The low-level client from the environment talks to the emulator too.
    let api = MiroApi::from_env().unwrap();
    assert_eq!(api.base_url(), emu.base_url());
    api.get_boards().await.unwrap();
    assert_eq!(MiroApi::new("token").base_url(), emu.base_url());
    assert!(emu
        .requests()
        .iter()
        .any(|r| r.path == "/v2/boards" && r.method == "GET" && r.status == Some(200)));

    // Without a token, from_env names the variable.
    std::env::remove_var("MIRO_ACCESS_TOKEN");
    let e = MiroApi::from_env().unwrap_err();
    assert!(e.to_string().contains("MIRO_ACCESS_TOKEN"), "{e}");
}
