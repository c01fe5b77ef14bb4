//! An app's side of OAuth, then a page stream, offline against the in-process emulator:
//! authorization URL with a CSRF state, the redirect, the code exchange into a file store, and
//! a walk over a board's items as the signed-in user.
//!
//! `cargo run -p miro-api-extended --example oauth_walk`

use miro_api::types::{ItemCreate, ItemType, StickyNoteData};
use miro_api_extended::prelude::*;
use miro_api_extended::storage::FileStore;
use miro_api_extended::Miro;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = miro_emulator::Emulator::builder()
        .oauth_client("my-app", "my-app-secret")
        .start()
        .await?;
    let dir = tempfile::tempdir()?;
    let miro = Miro::builder()
        .client_id("my-app")
        .client_secret("my-app-secret")
        .redirect_url("http://localhost:3000/callback")
        .api_base_url(emulator.base_url())
        .auth_base_url(emulator.base_url())
        .store(FileStore::open(dir.path().join("tokens.json")).await?)
        .build()?;

    // 1. Send the user to Miro; keep `state` in their session.
    let (url, state) = miro.auth_url_with_new_state()?;
    println!("authorize at {url}");

    // 2. The user approves; Miro redirects their browser to the callback with a code.
    //    The emulator signs its user in as a browser would and gives that redirect.
    let callback = emulator.authorize(&url, &emulator.user_id())?.url;

    // 3. The callback checks the state and exchanges the code; the tokens go to the store.
    let auth = miro.exchange_code_checked(&callback, &state).await?;
    println!("signed in user {} (scopes {:?})", auth.user_id, auth.scope);

    // 4. Act as that user: create a board with 120 sticky notes, then stream them back.
    let api = miro.as_user(&auth.user_id);
    let board = api.create_board(&Default::default()).await?.into_inner().id;
    for batch in 0..6 {
        let items: Vec<ItemCreate> = (0..20)
            .map(|i| {
                let content = format!("note {}", batch * 20 + i);
                ItemCreate::from(StickyNoteData::default().content(content))
                    .at(i * 220, batch * 250)
            })
            .collect();
        api.create_items(&board, &items).await?;
    }
    let mut notes = api.get_items(&board).type_(ItemType::StickyNote).stream();
    let mut count = 0;
    while let Some(item) = notes.try_next().await? {
        count += 1;
        if count == 1 {
            println!("first item: {} ({})", item.id, item.type_);
        }
    }
    println!(
        "streamed {count} sticky notes in {} pages",
        notes.pages_fetched()
    );

    // 5. Sign out.
    miro.revoke(&auth.user_id).await?;
    println!(
        "revoked; authorized now: {}",
        miro.is_authorized(&auth.user_id).await?
    );
    Ok(())
}
