//! The OAuth client against the emulator: the whole flow, single-flight refresh, rejected
//! refreshes, `is_authorized`, revocation, and secrets kept out of URLs, logs and Debug.

mod common;

use std::time::{Duration, SystemTime};

use common::oauth::{
    authorize, miro, new_board, oauth_error, sign_in, start, stored, CLIENT_ID, REDIRECT, SECRET,
};
use miro_api_extended::storage::TokenState;
use miro_api_extended::{AuthState, Miro, OAuthError};
use miro_emulator::RunningEmulator;

#[tokio::test]
async fn the_whole_flow_authorize_exchange_call_expire_refresh_rotate_revoke() {
    let emu = start().await;
    let miro = miro(&emu);

    // Authorization URL.
    let (url, state) = miro.auth_url_with_new_state().unwrap();
    let parsed = reqwest::Url::parse(&url).unwrap();
    assert_eq!(parsed.path(), "/oauth/authorize");
    let q: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    for (k, v) in [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("state", state.as_str()),
    ] {
        assert!(q.contains(&(k.to_string(), v.to_string())), "{k} in {url}");
    }
    assert!(miro
        .auth_url_with(None, Some("team-7"))
        .contains("team_id=team-7"));
    assert!(!miro.auth_url().contains("state="));

    // Code exchange with the whole redirect URL.
    let redirect = authorize(&url).await;
    assert!(redirect.starts_with(REDIRECT), "{redirect}");
    let auth = miro.exchange_code_checked(&redirect, &state).await.unwrap();
    assert_eq!(auth.user_id, emu.user_id());
    assert!(auth.scope.as_deref().unwrap().contains("boards:read"));
    assert!(auth.expires_at.unwrap() > SystemTime::now() + Duration::from_secs(3000));
    let user = auth.user_id.clone();
    let first = stored(&miro, &user).await;
    assert!(first.refresh_token.is_some());
    assert!(miro.is_authorized(&user).await.unwrap());

    // Calls as the user.
    let api = miro.as_user(&user);
    let board = new_board(&api).await;
    api.get_specific_board(&board).await.unwrap();
    assert_eq!(emu.refresh_calls(), 0);

    // Miro expires the token early: the 401 makes one refresh, and the call goes through.
    assert!(emu.expire_access_token(first.access_token.expose()));
    api.get_specific_board(&board).await.unwrap();
    assert_eq!(emu.refresh_calls(), 1);
    let second = stored(&miro, &user).await;
    assert_ne!(second.access_token, first.access_token);
    assert_ne!(second.refresh_token, first.refresh_token, "rotated");
    // The old refresh token is spent.
    let reuse = miro_api::http_client_builder()
        .build()
        .unwrap()
        .post(format!("{}/v1/oauth/token", emu.base_url()))
        .form(&[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                first.refresh_token.as_ref().unwrap().expose(),
            ),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(reuse.status(), 400);

    // Ahead of expiry: a token within the two-minute margin is refreshed before it is sent.
    let soon = second
        .clone()
        .with_expires_at(SystemTime::now() + Duration::from_secs(60));
    miro.store().set(&user, &soon).await.unwrap();
    emu.clear_requests();
    let refreshes = emu.refresh_calls();
    api.get_specific_board(&board).await.unwrap();
    assert_eq!(emu.refresh_calls(), refreshes + 1);
    let log = emu.requests();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0].path, "/v1/oauth/token");
    assert_eq!(log[1].status, Some(200), "no 401 on the way");
    let third = stored(&miro, &user).await;
    assert_ne!(third.refresh_token, second.refresh_token);

    // Revoke: Miro forgets the token, and so does the store.
    assert!(miro.revoke(&user).await.unwrap());
    assert!(miro.store().get(&user).await.unwrap().is_none());
    let revoked = miro_api::http_client_builder()
        .build()
        .unwrap()
        .get(format!("{}/v2/boards/{board}", emu.base_url()))
        .bearer_auth(third.access_token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 401);
    assert!(!miro.is_authorized(&user).await.unwrap());
    assert!(!miro.revoke(&user).await.unwrap(), "nothing left to revoke");
    let err = api.get_specific_board(&board).await.unwrap_err();
    assert!(
        matches!(oauth_error(&err), OAuthError::NotAuthorized { .. }),
        "{err}"
    );

    // The secret and the tokens never went into a URL; the secret went in the form body.
    let log = emu.requests();
    for r in &log {
        let query = r.query.clone().unwrap_or_default();
        assert!(
            !query.contains("secret") && !query.contains("token"),
            "{query}"
        );
    }
    let revoke = log.iter().find(|r| r.path == "/v2/oauth/revoke").unwrap();
    assert!(revoke.body_text().unwrap().contains("clientSecret"));
}

#[tokio::test]
async fn the_code_exchange_accepts_the_bare_code_and_checks_the_state() {
    let emu = start().await;
    let miro = miro(&emu);

    // A forged state: the code is not even sent.
    let (url, _state) = miro.auth_url_with_new_state().unwrap();
    let redirect = authorize(&url).await;
    let other = AuthState::generate().unwrap();
    let err = miro
        .exchange_code_checked(&redirect, &other)
        .await
        .unwrap_err();
    assert!(matches!(err, OAuthError::StateMismatch), "{err}");
    let no_state = authorize(&miro.auth_url()).await;
    let err = miro
        .exchange_code_checked(&no_state, &other)
        .await
        .unwrap_err();
    assert!(matches!(err, OAuthError::StateMismatch), "{err}");
    assert_eq!(emu.token_endpoint_calls(), 0);

    // The bare code works; a used code is refused by Miro with a typed error.
    let code = reqwest::Url::parse(&redirect)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let auth = miro.exchange_code_for_access_token(&code).await.unwrap();
    assert_eq!(auth.user_id, emu.user_id());
    let err = miro
        .exchange_code_for_access_token(&code)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OAuthError::Endpoint { endpoint: "token", status: 400, error: Some(e), .. } if e == "invalid_grant"),
        "{err}"
    );

    // A refusal in the redirect.
    let err = miro
        .exchange_code_for_access_token(&format!("{REDIRECT}?error=access_denied"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, OAuthError::AuthorizationDenied { .. }),
        "{err}"
    );

    // Wrong client secret: a typed error that does not quote the secret.
    let wrong = Miro::builder()
        .client_id(CLIENT_ID)
        .client_secret("not-the-secret-42")
        .redirect_url(REDIRECT)
        .api_base_url(emu.base_url())
        .auth_base_url(emu.base_url())
        .build()
        .unwrap();
    let redirect = authorize(&wrong.auth_url()).await;
    let err = wrong
        .exchange_code_for_access_token(&redirect)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OAuthError::Endpoint { status: 401, error: Some(e), .. } if e == "invalid_client"),
        "{err}"
    );
    assert!(!format!("{err} {err:?}").contains("not-the-secret-42"));
}

/// Signs in, then makes the stored access token expired from the client's point of view
/// (`client_side`) and/or Miro's.
async fn expired_user(emu: &RunningEmulator, miro: &Miro, client_side: bool) -> (String, String) {
    let user = sign_in(miro).await;
    let board = new_board(&miro.as_user(&user)).await;
    let state = stored(miro, &user).await;
    emu.expire_access_token(state.access_token.expose());
    if client_side {
        let past = state.with_expires_at(SystemTime::now() - Duration::from_secs(5));
        miro.store().set(&user, &past).await.unwrap();
    }
    (user, board)
}

async fn hundred_calls(miro: &Miro, user: &str, board: &str) {
    let shared = miro.as_user(user);
    let calls: Vec<_> = (0..100)
        .map(|i| {
            // Half share one client, half get their own: the refresh is per user, not per client.
            let api = if i % 2 == 0 {
                shared.clone()
            } else {
                miro.as_user(user)
            };
            let board = board.to_string();
            tokio::spawn(async move { api.get_specific_board(&board).await.map(|b| b.id.clone()) })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap(), board);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_calls_with_an_expired_token_make_one_refresh() {
    let emu = start().await;
    let miro = miro(&emu);
    let (user, board) = expired_user(&emu, &miro, true).await;
    assert_eq!(emu.refresh_calls(), 0);
    hundred_calls(&miro, &user, &board).await;
    assert_eq!(emu.refresh_calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_401s_make_one_refresh() {
    let emu = start().await;
    let miro = miro(&emu);
    // Only Miro knows the token is dead: every call gets a 401 first.
    let (user, board) = expired_user(&emu, &miro, false).await;
    hundred_calls(&miro, &user, &board).await;
    assert_eq!(emu.refresh_calls(), 1);
    let statuses: Vec<_> = emu.requests().iter().filter_map(|r| r.status).collect();
    assert!(statuses.contains(&401));
}

#[tokio::test]
async fn a_rejected_refresh_is_typed_and_the_stale_tokens_are_dropped() {
    let emu = start().await;
    let miro = miro(&emu);
    let user = sign_in(&miro).await;
    let api = miro.as_user(&user);
    let board = new_board(&api).await;

    // Someone else spends the refresh token (e.g. a second process): ours is dead.
    let state = stored(&miro, &user).await;
    let spent = miro_api::http_client_builder()
        .build()
        .unwrap()
        .post(format!("{}/v1/oauth/token", emu.base_url()))
        .form(&[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                state.refresh_token.as_ref().unwrap().expose(),
            ),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(spent.status(), 200);

    let err = api.get_specific_board(&board).await.unwrap_err();
    assert!(
        matches!(
            oauth_error(&err),
            OAuthError::RefreshRejected { status: 400, .. }
        ),
        "{err}"
    );
    assert!(
        miro.store().get(&user).await.unwrap().is_none(),
        "stale tokens removed"
    );

    // Nothing stale is sent again: no more token endpoint calls, a clear error.
    let calls = emu.token_endpoint_calls();
    let err = api.get_specific_board(&board).await.unwrap_err();
    assert!(
        matches!(oauth_error(&err), OAuthError::NotAuthorized { .. }),
        "{err}"
    );
    assert_eq!(emu.token_endpoint_calls(), calls);
    assert!(!miro.is_authorized(&user).await.unwrap());
}

#[tokio::test]
async fn is_authorized_tells_no_from_cannot_tell() {
    let emu = start().await;
    let miro = miro(&emu);
    assert!(!miro.is_authorized("nobody").await.unwrap());
    let user = sign_in(&miro).await;
    assert!(miro.is_authorized(&user).await.unwrap());

    // Miro revoked the token behind our back: refreshing is not possible (the refresh token
    // went with it), so the answer is a clear no.
    let state = stored(&miro, &user).await;
    emu.revoke_token(state.access_token.expose());
    assert!(!miro.is_authorized(&user).await.unwrap());

    // A Miro that cannot be reached is an error, not a "no".
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let offline = Miro::builder()
        .client_id(CLIENT_ID)
        .client_secret(SECRET)
        .redirect_url(REDIRECT)
        .api_base_url(&dead)
        .auth_base_url(&dead)
        .build()
        .unwrap();
    offline
        .store()
        .set("u1", &TokenState::new("some-token"))
        .await
        .unwrap();
    let err = offline.is_authorized("u1").await.unwrap_err();
    assert!(matches!(err, OAuthError::Transport { .. }), "{err}");
}

#[tokio::test]
async fn each_client_has_its_own_store_by_default() {
    let emu = start().await;
    let a = miro(&emu);
    let b = miro(&emu);
    let user = sign_in(&a).await;
    assert!(a.is_authorized(&user).await.unwrap());
    assert!(!b.is_authorized(&user).await.unwrap());
}

#[tokio::test]
async fn as_user_handles_share_one_rate_budget() {
    // 10 000 credits per 2 s window; `get_specific_board` costs 50 (level 1): 200 calls fit.
    let emu = miro_emulator::Emulator::builder()
        .rate_limit(10_000, Duration::from_secs(2))
        .oauth_client(CLIENT_ID, SECRET)
        .start()
        .await
        .unwrap();
    let miro = miro(&emu);
    let user = sign_in(&miro).await;
    let board = new_board(&miro.as_user(&user)).await;
    // A new handle per call, as a web handler does: 300 calls need two windows.
    for _ in 0..300 {
        miro.as_user(&user)
            .get_specific_board(&board)
            .await
            .unwrap();
    }
    let too_many = emu
        .requests()
        .iter()
        .filter(|r| r.status == Some(429))
        .count();
    assert_eq!(too_many, 0, "the handles paced as one budget");
}

/// A token endpoint on 127.0.0.1 that grants tokens living `expires_in` seconds.
async fn token_endpoint(expires_in: serde_json::Value) -> String {
    let body = serde_json::json!({
        "access_token": "a-token",
        "refresh_token": "r-token",
        "expires_in": expires_in,
        "user_id": "3074457",
        "team_id": "1",
        "scope": "boards:read",
    })
    .to_string();
    let app = axum::Router::new().route(
        "/v1/oauth/token",
        axum::routing::post(move || {
            let body = body.clone();
            async move { ([("content-type", "application/json")], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn an_absurd_expires_in_is_capped_not_a_panic() {
    for expires_in in [
        serde_json::json!(u64::MAX),
        serde_json::json!("999999999999999"),
    ] {
        let base = token_endpoint(expires_in.clone()).await;
        let miro = Miro::builder()
            .client_id(CLIENT_ID)
            .client_secret(SECRET)
            .redirect_url(REDIRECT)
            .api_base_url(&base)
            .auth_base_url(&base)
            .build()
            .unwrap();
        let before = SystemTime::now();
        let auth = miro.exchange_code_for_access_token("code").await.unwrap();
        let cap = miro_api_extended::oauth::MAX_EXPIRES_IN;
        let at = auth.expires_at.expect("it expires");
        assert!(
            at >= before + cap && at <= SystemTime::now() + cap,
            "{expires_in}: capped at ten years"
        );
    }
    // An hour is fine.
    let base = token_endpoint(serde_json::json!(3600)).await;
    let miro = Miro::builder()
        .client_id(CLIENT_ID)
        .client_secret(SECRET)
        .redirect_url(REDIRECT)
        .api_base_url(&base)
        .auth_base_url(&base)
        .build()
        .unwrap();
    let auth = miro.exchange_code_for_access_token("code").await.unwrap();
    assert!(auth.expires_at.unwrap() > SystemTime::now() + Duration::from_secs(3500));
}
