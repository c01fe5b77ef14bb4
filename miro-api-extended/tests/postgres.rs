//! The PostgreSQL token store against a real server started from the system's binaries:
//! the contract, an upgrade from an earlier table, an application role without DDL rights,
//! and a server restart in the middle of a refresh.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::faulty::{Faulty, WriteFault};
use common::oauth::{new_board, sign_in, CLIENT_ID, SECRET};
use common::postgres::Server;
use miro_api_extended::storage::{PostgresStore, StorageError, TokenState, TokenStore};
use miro_api_extended::{Miro, OAuthError};
use miro_emulator::{Emulator, Fault, FaultKind};

/// A superuser connection for set-up SQL.
async fn admin(server: &Server) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&server.conninfo(), tokio_postgres::NoTls)
        .await
        .expect("the superuser connects");
    tokio::spawn(connection);
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_creates_its_table_keeps_tokens_and_keeps_the_contract() {
    let server = Server::start().await;
    let conninfo = server.conninfo();
    // Replicas starting together: the table creation does not race.
    let stores: Vec<PostgresStore> =
        futures::future::join_all((0..4).map(|_| PostgresStore::connect(&conninfo)))
            .await
            .into_iter()
            .map(|s| s.expect("connects and creates the table"))
            .collect();
    let store = &stores[0];
    common::contract::check(store).await;

    let state = TokenState::new("access-SECRET")
        .with_refresh_token("refresh-SECRET")
        .with_expires_at(UNIX_EPOCH + Duration::from_secs(1_900_000_000))
        .with_grant(Some("team".into()), Some("boards:read".into()));
    store.set("u1", &state).await.unwrap();
    // Another connection (another replica) sees it at once; a new store keeps it.
    let seen = stores[3].get("u1").await.unwrap().unwrap();
    assert_eq!(seen.state, state);
    let reopened = PostgresStore::connect(&server.conninfo()).await.unwrap();
    assert_eq!(reopened.get("u1").await.unwrap(), Some(seen));
    reopened.remove("u1").await.unwrap();
    assert_eq!(store.get("u1").await.unwrap(), None);
    assert!(!format!("{store:?}").contains("SECRET"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_of_an_earlier_version_is_upgraded_in_place() {
    let server = Server::start().await;
    admin(&server)
        .await
        .batch_execute(
            "CREATE TABLE miro_tokens (
                 user_id TEXT PRIMARY KEY, access_token TEXT NOT NULL, refresh_token TEXT,
                 expires_at BIGINT, team_id TEXT, scope TEXT,
                 updated_at TIMESTAMPTZ NOT NULL DEFAULT now());
             INSERT INTO miro_tokens (user_id, access_token, refresh_token)
                 VALUES ('u1', 'old-access', 'old-refresh');",
        )
        .await
        .unwrap();
    let store = PostgresStore::connect(&server.conninfo()).await.unwrap();
    let row = store.get("u1").await.unwrap().expect("the row is kept");
    assert_eq!(row.access_token.expose(), "old-access");
    assert_eq!((row.version, row.marker.clone()), (0, None));
    assert!(store
        .replace_if(
            "u1",
            0,
            Some(&miro_api_extended::storage::StoredTokens::new(
                TokenState::new("new")
            ))
        )
        .await
        .unwrap());
    common::contract::check(&store).await;
}

/// An application role with only SELECT, INSERT, UPDATE and DELETE on the table connects
/// (the old `connect` always ran `CREATE TABLE IF NOT EXISTS`, which needs CREATE on the
/// schema); on a database without the table it fails and says what it tried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_role_without_ddl_rights_connects() {
    let server = Server::start().await;
    let admin = admin(&server).await;
    admin
        .batch_execute(
            "CREATE ROLE app LOGIN;
             REVOKE CREATE ON SCHEMA public FROM PUBLIC;",
        )
        .await
        .unwrap();
    let err = PostgresStore::connect(&server.conninfo_as("app"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StorageError::Postgres { action, reason } if action.contains("create") && reason.contains("42501")),
        "{err}"
    );
    // A deploy step with the owner's role creates the table; the app role gets DML only.
    let owner = PostgresStore::connect(&server.conninfo()).await.unwrap();
    owner.migrate().await.expect("migrate is idempotent");
    admin
        .batch_execute("GRANT SELECT, INSERT, UPDATE, DELETE ON miro_tokens TO app;")
        .await
        .unwrap();
    let app = PostgresStore::connect(&server.conninfo_as("app"))
        .await
        .expect("DML rights are enough");
    common::contract::check(&app).await;
}

/// Case 2 of issue 17: PostgreSQL restarts while replica A refreshes a user's tokens, and A
/// cannot store the rotated ones for a while. Replica B's call comes after any lease A's old
/// code would have held: it finds the record marked and does not spend the dead refresh
/// token (the old code did, got `invalid_grant`, deleted the row, and A then revoked its
/// working tokens). When A can write again, its tokens are stored and B uses them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_during_a_refresh_signs_nobody_out() {
    let server = Server::start().await;
    let emu = Emulator::builder()
        .rate_limit(10_000_000, Duration::from_secs(60))
        .oauth_client(CLIENT_ID, SECRET)
        .access_token_lifetime(Some(Duration::from_secs(3600)))
        .start()
        .await
        .unwrap();
    let wait = Duration::from_secs(2);
    let replica = |store: Arc<dyn TokenStore>| {
        Miro::builder()
            .client_id(CLIENT_ID)
            .client_secret(SECRET)
            .redirect_url(common::oauth::REDIRECT)
            .api_base_url(emu.base_url())
            .auth_base_url(emu.base_url())
            .store_arc(store)
            .store_timeout(Duration::from_secs(1))
            .refresh_lease(wait)
            .build()
            .unwrap()
    };
    // A's store refuses writes of refreshed tokens while A is cut off.
    let a_store = Arc::new(Faulty::over(
        PostgresStore::connect(&server.conninfo()).await.unwrap(),
    ));
    let a = replica(a_store.clone());
    let b = replica(Arc::new(
        PostgresStore::connect(&server.conninfo()).await.unwrap(),
    ));
    let user = sign_in(&a).await;
    let board = new_board(&a.as_user(&user)).await;
    // The stored access token has expired: the next call refreshes.
    let old = a.store().get(&user).await.unwrap().unwrap().state;
    a.store()
        .set(&user, &old.clone().with_expires_at(SystemTime::now()))
        .await
        .unwrap();

    // A's refresh takes 800 ms at Miro; the server goes down meanwhile.
    emu.inject_fault(
        Fault::new(FaultKind::Delay(Duration::from_millis(800)))
            .on("POST /v1/oauth/token")
            .times(1),
    )
    .unwrap();
    let refreshing = {
        let a = a.clone();
        let user = user.clone();
        tokio::spawn(async move { a.access_token(&user).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.stop();
    *a_store.always.lock().unwrap() = Some(WriteFault::Refuse);
    let fresh = refreshing
        .await
        .unwrap()
        .expect("A uses the rotated tokens from memory");
    assert_ne!(fresh, old.access_token);
    assert_eq!(a.unsaved_users().await, vec![user.clone()]);
    let err = b
        .as_user(&user)
        .get_specific_board(&board)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("token store"), "{err}");

    // The server is back; A still cannot write. B does not spend the marked token.
    server.start_server();
    let err = b.access_token(&user).await.unwrap_err();
    assert!(matches!(err, OAuthError::RefreshBusy { .. }), "{err:?}");
    assert_eq!(emu.refresh_calls(), 1, "the refresh token was spent once");
    let row = b.store().get(&user).await.unwrap().expect("still stored");
    assert_eq!(row.state.refresh_token, old.refresh_token);
    assert!(row.marker.is_some());

    // A can write again: its tokens are stored (by its background task, or now), B uses them.
    *a_store.always.lock().unwrap() = None;
    a.store_unsaved_tokens().await.expect("stored");
    b.as_user(&user)
        .get_specific_board(&board)
        .await
        .expect("B uses A's tokens");
    assert_eq!(emu.refresh_calls(), 1);
    let stored = b
        .store()
        .get(&user)
        .await
        .unwrap()
        .expect("still signed in");
    assert_eq!(
        stored.access_token, fresh,
        "A's rotated tokens are the stored ones"
    );
    assert_eq!(stored.marker, None);
    assert!(a.unsaved_users().await.is_empty());
    assert!(a.is_authorized(&user).await.unwrap());
    assert!(b.is_authorized(&user).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_errors_are_typed_and_name_the_action() {
    let server = Server::start().await;
    let store = Arc::new(PostgresStore::connect(&server.conninfo()).await.unwrap());
    store.set("u1", &TokenState::new("a")).await.unwrap();
    drop(server); // the server stops
    let err = store.get("u1").await.unwrap_err();
    assert!(matches!(err, StorageError::Postgres { .. }), "{err}");
    let bad = PostgresStore::connect("host=127.0.0.1 port=1 user=postgres connect_timeout=2")
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("connect"), "{bad}");
}
