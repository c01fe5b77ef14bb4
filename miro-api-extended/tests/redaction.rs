//! Tokens and the client secret stay out of logs, `Debug` output and error messages. In its own
//! test binary so that the global log subscriber sees every event of the flow.

mod common;

use common::capture::Captured;
use common::faulty::{Faulty, WriteFault};
use common::oauth::{miro, new_board, sign_in, start, stored, CLIENT_ID, REDIRECT, SECRET};
use miro_api_extended::storage::MemoryStore;
use miro_api_extended::{AuthState, Miro};

/// A store that refuses to store refreshed tokens (it takes markers and deletes).
fn refusing_writes() -> Faulty<MemoryStore> {
    let store = Faulty::memory();
    *store.always.lock().unwrap() = Some(WriteFault::Refuse);
    store
}

#[tokio::test]
async fn logs_and_debug_output_never_show_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let emu = start().await;
    let miro = miro(&emu);
    let user = sign_in(&miro).await;
    let api = miro.as_user(&user);
    let board = new_board(&api).await;
    let mut secrets = vec![SECRET.to_string()];
    let first = stored(&miro, &user).await;
    emu.expire_access_token(first.access_token.expose());
    api.get_specific_board(&board).await.unwrap();
    let second = stored(&miro, &user).await;
    for s in [&first, &second] {
        secrets.push(s.access_token.expose().to_string());
        secrets.push(s.refresh_token.as_ref().unwrap().expose().to_string());
    }
    // A rejected refresh and its error.
    let spend = miro_api::http_client_builder()
        .build()
        .unwrap()
        .post(format!("{}/v1/oauth/token", emu.base_url()))
        .form(&[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                second.refresh_token.as_ref().unwrap().expose(),
            ),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
        ])
        .send()
        .await
        .unwrap();
    let third: serde_json::Value = spend.json().await.unwrap();
    secrets.push(third["access_token"].as_str().unwrap().to_string());
    secrets.push(third["refresh_token"].as_str().unwrap().to_string());
    emu.expire_access_token(second.access_token.expose());
    let err = api.get_specific_board(&board).await.unwrap_err();

    // Refreshed tokens the store refuses: kept in memory, the failure logged and typed.
    let refusing = Miro::builder()
        .client_id(CLIENT_ID)
        .client_secret(SECRET)
        .redirect_url(REDIRECT)
        .api_base_url(emu.base_url())
        .auth_base_url(emu.base_url())
        .store(refusing_writes())
        .build()
        .unwrap();
    let user2 = sign_in(&refusing).await;
    let signed_in = stored(&refusing, &user2).await;
    secrets.push(signed_in.access_token.expose().to_string());
    secrets.push(
        signed_in
            .refresh_token
            .as_ref()
            .unwrap()
            .expose()
            .to_string(),
    );
    emu.expire_access_token(signed_in.access_token.expose());
    refusing
        .as_user(&user2)
        .get_specific_board(&board)
        .await
        .unwrap();
    let in_memory = refusing.access_token(&user2).await.unwrap();
    secrets.push(in_memory.expose().to_string());
    let unsaved = refusing.store_unsaved_tokens().await.unwrap_err();
    assert!(refusing.revoke(&user2).await.unwrap());

    let builder = Miro::builder()
        .client_id(CLIENT_ID)
        .client_secret(SECRET)
        .redirect_url(REDIRECT);
    let debug = format!(
        "{miro:?} {builder:?} {api:?} {first:?} {second:?} {err} {err:?} {unsaved} {unsaved:?} {refusing:?} {:?}",
        AuthState::generate().unwrap()
    );
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("access token refreshed"),
        "the capture works: {logs}"
    );
    assert!(logs.contains("rejected the refresh token"), "{logs}");
    assert!(logs.contains("kept in memory"), "{logs}");
    assert!(logs.contains("tokens revoked"), "{logs}");
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret in the logs");
        assert!(!debug.contains(secret.as_str()), "a secret in {debug}");
    }
    assert!(debug.contains(CLIENT_ID) && debug.contains("[redacted]"));
}
