//! The README tour against the emulator: sign-in, boards streamed, a note created, updated
//! and deleted, members listed; checked on the emulator's side.

use miro_api_extended::Miro;
use miro_emulator::Emulator;

#[tokio::test]
async fn the_python_readme_tour_runs() {
    let emu = Emulator::builder()
        .oauth_client("app", "secret")
        .start()
        .await
        .unwrap();
    let miro = Miro::builder()
        .client_id("app")
        .client_secret("secret")
        .redirect_url("http://127.0.0.1:3000/callback")
        .api_base_url(emu.base_url())
        .auth_base_url(emu.base_url())
        .build()
        .unwrap();
    // A board that exists before: get_all_boards must stream it.
    let api = miro_api::MiroApi::builder()
        .base_url(emu.base_url())
        .access_token(emu.access_token())
        .build();
    api.create_board(&miro_api::types::BoardChanges::default().name("Existing"))
        .await
        .unwrap();

    let (url, state) = miro.auth_url_with_new_state().unwrap();
    let redirect = emu.authorize(&url, &emu.user_id()).unwrap();
    let auth = miro
        .exchange_code_checked(&redirect.url, &state)
        .await
        .unwrap();
    assert!(miro.is_authorized(&auth.user_id).await.unwrap());

    emu.clear_requests();
    let tour = coming_from_python::tour(&miro, &auth.user_id)
        .await
        .unwrap();
    assert_eq!(tour.boards, ["Existing"]);
    assert_eq!(tour.updated_content, "Updated from Rust");
    assert_eq!(
        emu.item_count(&tour.board_id),
        Some(0),
        "the note was deleted"
    );
    let calls: Vec<String> = emu
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.route.clone().unwrap_or_default()))
        .collect();
    for expected in [
        "GET /v2/boards",
        "POST /v2/boards",
        "POST /v2/boards/{board_id}/sticky_notes",
        "PATCH /v2/boards/{board_id}/sticky_notes/{item_id}",
        "DELETE /v2/boards/{board_id}/sticky_notes/{item_id}",
        "GET /v2/boards/{board_id}/members",
    ] {
        assert!(
            calls.iter().any(|c| c == expected),
            "{expected} in {calls:?}"
        );
    }
    assert_eq!(tour.members.len(), 1);
    assert_eq!(tour.members[0].0, auth.user_id);
    assert_eq!(tour.members[0].2, "owner");

    assert!(miro.revoke(&auth.user_id).await.unwrap());
    assert!(!miro.is_authorized(&auth.user_id).await.unwrap());
}
