//! The README tour against the emulator: sign-in, boards streamed, a note created, updated
//! and deleted, members listed; checked on the emulator's side. The tokens live in the
//! user's own store (one file per user), and the low-level `MiroApi` creates and reads a board.

use coming_from_python::folder_store::FolderStore;
use miro_api_extended::storage::TokenStore;
use miro_api_extended::Miro;
use miro_emulator::Emulator;

#[tokio::test]
async fn the_python_readme_tour_runs() {
    let emu = Emulator::builder()
        .oauth_client("app", "secret")
        .start()
        .await
        .unwrap();
    let folder = tempfile::tempdir().unwrap();
    let miro = Miro::builder()
        .client_id("app")
        .client_secret("secret")
        .redirect_url("http://127.0.0.1:3000/callback")
        .api_base_url(emu.base_url())
        .auth_base_url(emu.base_url())
        .store(FolderStore::open(folder.path()).unwrap())
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
    // The user's own store holds the tokens: one file, named by the user id, read back by it.
    let file = folder.path().join(format!("{}.json", auth.user_id));
    assert!(file.is_file(), "the tokens are in {}", file.display());
    let own = FolderStore::open(folder.path()).unwrap();
    let stored = own.get(&auth.user_id).await.unwrap().unwrap();
    assert_eq!(
        stored.access_token.expose(),
        miro.access_token(&auth.user_id).await.unwrap().expose()
    );
    assert!(own.get("../etc").await.is_err(), "no path from a user id");

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

    // The low-level client with the user's access token: create_board(), get_board(id).
    let token = miro.access_token(&auth.user_id).await.unwrap();
    let api = miro_api::MiroApi::builder()
        .base_url(emu.base_url())
        .access_token(token)
        .build();
    emu.clear_requests();
    let board = coming_from_python::create_and_get_board(&api)
        .await
        .unwrap();
    assert_eq!(board.fetched_id, board.created_id);
    let calls: Vec<String> = emu
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.route.clone().unwrap_or_default()))
        .collect();
    assert_eq!(calls, ["POST /v2/boards", "GET /v2/boards/{board_id}"]);

    assert!(miro.revoke(&auth.user_id).await.unwrap());
    assert!(!miro.is_authorized(&auth.user_id).await.unwrap());
    assert!(!file.exists(), "revoking removed the user's file");
}
