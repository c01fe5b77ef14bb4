//! The PostgreSQL token store against a real server started from the system's binaries.

mod common;

use std::sync::Arc;

use common::postgres::Server;
use miro_api_extended::storage::{PostgresStore, StorageError, TokenState, TokenStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_creates_its_tables_keeps_tokens_and_keeps_the_contract() {
    let server = Server::start().await;
    let conninfo = server.conninfo();
    // Replicas starting together: the table creation does not race.
    let stores: Vec<PostgresStore> =
        futures::future::join_all((0..4).map(|_| PostgresStore::connect(&conninfo)))
            .await
            .into_iter()
            .map(|s| s.expect("connects and creates the tables"))
            .collect();
    let store = &stores[0];
    common::contract::check(store).await;

    let state = TokenState::new("access-SECRET")
        .with_refresh_token("refresh-SECRET")
        .with_expires_at(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_900_000_000))
        .with_grant(Some("team".into()), Some("boards:read".into()));
    store.set("u1", &state).await.unwrap();
    // Another connection (another replica) sees it at once; a new store keeps it.
    assert_eq!(stores[3].get("u1").await.unwrap(), Some(state.clone()));
    let reopened = PostgresStore::connect(&server.conninfo()).await.unwrap();
    assert_eq!(reopened.get("u1").await.unwrap(), Some(state.clone()));
    reopened.remove("u1").await.unwrap();
    assert_eq!(store.get("u1").await.unwrap(), None);
    assert!(!format!("{store:?}").contains("SECRET"));

    // Leases are exclusive across connections.
    let long = std::time::Duration::from_secs(60);
    assert!(stores[1].try_lease("u2", "one", long).await.unwrap());
    assert!(!stores[2].try_lease("u2", "two", long).await.unwrap());
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
