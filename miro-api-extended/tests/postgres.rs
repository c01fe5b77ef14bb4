//! The PostgreSQL token store against a real server started from the system's binaries:
//! the contract, an upgrade from an earlier table, an application role without DDL rights,
//! a server restart in the middle of a refresh, and server processes that freeze with their
//! connections open.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::faulty::{Faulty, WriteFault};
use common::oauth::{new_board, sign_in, CLIENT_ID, SECRET};
use common::postgres::{backend_pids, Frozen, Server};
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

/// The store's statement time limit in the freeze tests.
const LIMIT: Duration = Duration::from_secs(1);
/// Slack for a loaded machine on top of [`LIMIT`].
const SLACK: Duration = Duration::from_millis(700);

/// A store whose connections are named `app` in `pg_stat_activity`, with [`LIMIT`].
async fn limited_store(server: &Server, app: &str) -> Arc<PostgresStore> {
    let conninfo = format!("{} application_name={app}", server.conninfo());
    Arc::new(
        PostgresStore::builder()
            .statement_timeout(LIMIT)
            .connect(&conninfo)
            .await
            .expect("connects"),
    )
}

fn is_store_timeout(err: &StorageError) -> bool {
    matches!(err, StorageError::TimedOut { limit, .. } if *limit == LIMIT)
}

/// Issue 24: the server process behind the store's connection freezes (SIGSTOP: the socket
/// stays open, the kernel acknowledges, nothing answers). The old store kept its one
/// connection until it closed, so every call of the replica hung. Now the call during the
/// freeze fails with the store's own time-out within about the limit, and the next calls of
/// a `Miro` using the store, a refresh included, run on a fresh connection while the old
/// server process stays frozen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_server_process_costs_one_call_within_the_limit() {
    let server = Server::start().await;
    let admin = admin(&server).await;
    let emu = common::oauth::start().await;
    let store = limited_store(&server, "miro_frozen").await;
    let miro = Miro::builder()
        .client_id(CLIENT_ID)
        .client_secret(SECRET)
        .redirect_url(common::oauth::REDIRECT)
        .api_base_url(emu.base_url())
        .auth_base_url(emu.base_url())
        .store_arc(store.clone())
        .store_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let user = sign_in(&miro).await;
    let board = new_board(&miro.as_user(&user)).await;
    let token = miro.access_token(&user).await.unwrap();

    let pids = backend_pids(&admin, "miro_frozen").await;
    assert!(!pids.is_empty(), "the store has a connection");
    let frozen = Frozen::stop(&pids);

    // The call during the freeze: the store's typed time-out, not Miro's 10 s one.
    let started = Instant::now();
    let err = tokio::time::timeout(LIMIT * 4, miro.access_token(&user))
        .await
        .expect("the store gives up by itself")
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(&err, OAuthError::Storage(e) if is_store_timeout(e)),
        "{err:?}"
    );
    assert!(took >= LIMIT && took < LIMIT + SLACK, "{took:?}");
    println!("the call during the freeze failed after {took:?} (limit {LIMIT:?})");

    // The next calls run on a fresh connection, within the limit.
    let started = Instant::now();
    let again = tokio::time::timeout(LIMIT, miro.access_token(&user))
        .await
        .expect("the next call does not wait for the frozen connection")
        .expect("the next call succeeds");
    println!("the next call took {:?}", started.elapsed());
    assert_eq!(again, token);
    miro.as_user(&user)
        .get_specific_board(&board)
        .await
        .expect("API calls work");
    // A refresh (a marker write, a compare-and-set of the rotated tokens) works too.
    let record = store.get(&user).await.unwrap().unwrap();
    store
        .set(
            &user,
            &record.state.clone().with_expires_at(SystemTime::now()),
        )
        .await
        .unwrap();
    let refreshed = miro.access_token(&user).await.expect("refreshed");
    assert_ne!(refreshed, token);
    assert_eq!(emu.refresh_calls(), 1);
    let stored = store.get(&user).await.unwrap().expect("still signed in");
    assert_eq!(stored.access_token, refreshed);
    assert_eq!(stored.marker, None);
    assert!(miro.unsaved_users().await.is_empty());

    // The old server process is still frozen; the store uses another one.
    assert!(frozen.all_stopped());
    let now = backend_pids(&admin, "miro_frozen").await;
    assert!(
        now.iter().any(|pid| !frozen.pids().contains(pid)),
        "a fresh connection: {now:?} vs frozen {:?}",
        frozen.pids()
    );
    drop(frozen);
}

/// Issue 24: when every connection of the pool is cut off at once (all their server
/// processes frozen), one call pays the time limit and the pool drops its other idle
/// connections with it: the next call opens a fresh one instead of finding the next frozen
/// one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_time_out_drops_every_idle_connection_of_the_pool() {
    let server = Server::start().await;
    let admin = admin(&server).await;
    let store = limited_store(&server, "miro_pool").await;
    store.set("u1", &TokenState::new("a")).await.unwrap();
    // Concurrent calls open several connections, which then wait idle in the pool.
    let reads = futures::future::join_all((0..6).map(|_| store.get("u1"))).await;
    assert!(reads.iter().all(|r| r.as_ref().is_ok_and(|r| r.is_some())));
    let pids = backend_pids(&admin, "miro_pool").await;
    assert!(pids.len() >= 2, "several pooled connections: {pids:?}");
    let frozen = Frozen::stop(&pids);

    let started = Instant::now();
    let err = tokio::time::timeout(LIMIT * 4, store.get("u1"))
        .await
        .expect("the store gives up by itself")
        .unwrap_err();
    let took = started.elapsed();
    assert!(is_store_timeout(&err), "{err:?}");
    assert!(took >= LIMIT && took < LIMIT + SLACK, "{took:?}");
    println!(
        "with {} frozen connections, one call failed after {took:?} (limit {LIMIT:?})",
        pids.len()
    );
    assert!(err.to_string().contains("read the tokens"), "{err}");

    // Each of the next calls (a write and reads) finds a live connection at once.
    for i in 0..3 {
        let started = Instant::now();
        tokio::time::timeout(LIMIT, async {
            store.set("u1", &TokenState::new(format!("b{i}"))).await?;
            store.get("u1").await
        })
        .await
        .unwrap_or_else(|_| panic!("call {i} found a frozen connection"))
        .expect("the store works again");
        println!("call {i} after the freeze took {:?}", started.elapsed());
    }
    assert!(frozen.all_stopped());
    drop(frozen);
    assert_eq!(
        store
            .get("u1")
            .await
            .unwrap()
            .unwrap()
            .access_token
            .expose(),
        "b2"
    );
}

/// Issue 24: a call dropped by its caller while its statement is under way (here a caller's
/// own 300 ms time limit, shorter than the store's, as a `Miro` with a short `store_timeout`
/// would) closes its connection instead of handing it back: the next call does not find
/// the frozen one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_dropped_half_way_does_not_return_its_connection() {
    let server = Server::start().await;
    let admin = admin(&server).await;
    let conninfo = format!("{} application_name=miro_dropped", server.conninfo());
    // The store's own limit (5 s) is not what ends the call.
    let store = PostgresStore::connect(&conninfo).await.unwrap();
    store.set("u1", &TokenState::new("a")).await.unwrap();
    let pids = backend_pids(&admin, "miro_dropped").await;
    assert_eq!(pids.len(), 1, "one connection for calls one after another");
    let frozen = Frozen::stop(&pids);

    let dropped = tokio::time::timeout(Duration::from_millis(300), store.get("u1")).await;
    assert!(dropped.is_err(), "the frozen server cannot answer");
    let again = tokio::time::timeout(LIMIT, store.get("u1"))
        .await
        .expect("the next call does not find the frozen connection")
        .expect("the store works");
    assert_eq!(again.unwrap().access_token.expose(), "a");
    assert!(frozen.all_stopped());
    drop(frozen);
}
