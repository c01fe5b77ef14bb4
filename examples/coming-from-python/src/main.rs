//! The Python client's README in Rust.
//!
//! ```sh
//! cargo run -p coming-from-python      # offline: the emulator plays Miro and approves at once
//! MIRO_CLIENT_ID=... MIRO_CLIENT_SECRET=... MIRO_REDIRECT_URL=http://localhost:3000/callback \
//!     cargo run -p coming-from-python  # prints the authorization URL, asks for the redirect
//! ```

use anyhow::{anyhow, Result};
use coming_from_python::folder_store::FolderStore;
use miro_api::MiroApi;
use miro_api_extended::Miro;

#[tokio::main]
async fn main() -> Result<()> {
    let mut offline = None;
    let online = std::env::var_os("MIRO_CLIENT_ID").is_some();
    // Python: miro = miro_api.Miro(storage=MyStorage())   (a storage class of your own; here
    // one JSON file per user in MIRO_TOKEN_FOLDER, by default a folder under the temp dir)
    let folder = std::env::var_os("MIRO_TOKEN_FOLDER")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("coming-from-python-tokens"));
    let store = FolderStore::open(&folder)?;
    println!("tokens kept in {}", folder.display());
    // Python: miro = miro_api.Miro()   (MIRO_CLIENT_ID, MIRO_CLIENT_SECRET, MIRO_REDIRECT_URL)
    let miro = if online {
        Miro::builder().store(store).build()?
    } else {
        let emulator = miro_emulator::Emulator::builder()
            .oauth_client("python-readme", "python-readme-secret")
            .start()
            .await?;
        println!(
            "no MIRO_CLIENT_ID: the in-process emulator at {} plays Miro",
            emulator.base_url()
        );
        let miro = Miro::builder()
            .client_id("python-readme")
            .client_secret("python-readme-secret")
            .redirect_url("http://127.0.0.1:3000/callback")
            .api_base_url(emulator.base_url())
            .auth_base_url(emulator.base_url())
            .store(store)
            .build()?;
        offline = Some(emulator);
        miro
    };

    // Python: miro.auth_url   (here with a fresh CSRF state to keep in the user's session)
    let (url, state) = miro.auth_url_with_new_state()?;
    println!("1. authorize at: {url}");
    let redirect = match &offline {
        None => {
            println!("2. paste the URL your browser was redirected to:");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim().to_owned()
        }
        // The emulator signs its user in, as a browser would, and gives the redirect.
        Some(emulator) => emulator.authorize(&url, &emulator.user_id())?.url,
    };

    // Python: miro.exchange_code_for_access_token(url_or_code)   (here the state is checked too)
    let auth = miro.exchange_code_checked(&redirect, &state).await?;
    // Python: miro.is_authorized   (a property there; here it asks Miro whether the token works)
    println!(
        "3. signed in as user {}; authorized: {}",
        auth.user_id,
        miro.is_authorized(&auth.user_id).await?
    );

    coming_from_python::tour(&miro, &auth.user_id)
        .await
        .map_err(|e| anyhow!("{e}"))?;

    // Python: api = miro_api.MiroApi("<access_token>")   (the low-level client, one token)
    let token = miro.access_token(&auth.user_id).await?;
    let api = match &offline {
        None => MiroApi::new(token),
        // Offline the same client, pointed at the emulator.
        Some(emulator) => MiroApi::builder()
            .base_url(emulator.base_url())
            .access_token(token)
            .build(),
    };
    coming_from_python::create_and_get_board(&api)
        .await
        .map_err(|e| anyhow!("{e}"))?;

    if !online {
        // Python: miro.revoke_token()
        miro.revoke(&auth.user_id).await?;
        println!(
            "revoked; authorized: {}",
            miro.is_authorized(&auth.user_id).await?
        );
    }
    Ok(())
}
