//! Refresh coordinated through the store: replicas as OS processes and several `Miro` values
//! sharing one store, with tokens expiring during the run; and one test per way our own
//! coordination used to sign a user out (a compare-and-set failing against our own write: a
//! lost acknowledgement, a late commit, two flushes at once; a flush during a refresh; a
//! proxy's HTML 400), plus a revoke racing a refresh, a cancelled revoke, and extreme
//! duration settings; and one test per way a user used to be stranded (issue 24): a process
//! killed mid-refresh (taken over after the bound), a revoke after such a kill, an answer lost
//! before or after Miro rotated the token, a short refresh wait, unsaved tokens Miro
//! rejected; and a graceful shutdown. The protocol itself is checked exhaustively by
//! the fault simulation in `src/oauth/simulation.rs`.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use common::faulty::{Faulty, WriteFault};
use common::oauth::{new_board, sign_in, stored, CLIENT_ID, SECRET};
use common::replica::{self, Job, Report};
use miro_api_extended::storage::{FileStore, MemoryStore, SqliteStore, TokenState, TokenStore};
use miro_api_extended::{Miro, OAuthError};
use miro_emulator::{Emulator, Fault, FaultKind, RunningEmulator};

/// Access tokens live this long at the emulator (whole seconds: `expires_in`).
const LIFETIME: Duration = Duration::from_secs(4);
/// Refreshed this long before expiry: a refresh every 2.5 s.
const MARGIN: Duration = Duration::from_millis(1500);
/// Three refreshes (due at about 2.5, 5.3 and 8.1 s, each taking 300 ms at the token
/// endpoint), the run ends at 9.6 s, the fourth would be due at 10.9 s.
const RUN: Duration = Duration::from_millis(9600);
const EXPIRIES: usize = 3;

async fn emulator(lifetime: Option<Duration>) -> RunningEmulator {
    Emulator::builder()
        .rate_limit(10_000_000, Duration::from_secs(60))
        .oauth_client(CLIENT_ID, SECRET)
        .access_token_lifetime(lifetime.or(Some(Duration::from_secs(3600))))
        .start()
        .await
        .expect("the emulator starts")
}

/// The child side of the process tests (a no-op in a normal run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_child() {
    replica::run_child().await;
}

/// Signs the user in through `miro` and creates a board; the run starts now.
async fn setup(emu: &RunningEmulator, miro: &Miro) -> (String, String, Instant) {
    let user = sign_in(miro).await;
    let start = Instant::now();
    let board = new_board(&miro.as_user(&user)).await;
    assert_eq!(emu.refresh_calls(), 0);
    (user, board, start)
}

/// Every refresh takes 300 ms at the token endpoint, so that every replica sees the expired
/// token while one of them refreshes it.
fn slow_refreshes(emu: &RunningEmulator) {
    emu.inject_fault(
        Fault::new(FaultKind::Delay(Duration::from_millis(300))).on("POST /v1/oauth/token"),
    )
    .unwrap();
}

fn assert_run(reports: &[Report], emu: &RunningEmulator, what: &str) {
    for (i, r) in reports.iter().enumerate() {
        assert_eq!(
            r.failed,
            0,
            "{what}: replica {i}: {} of {} calls failed, first: {}",
            r.failed,
            r.ok + r.failed,
            r.first_error
        );
        assert!(
            r.rounds >= 20,
            "{what}: replica {i} made only {} rounds",
            r.rounds
        );
    }
    assert_eq!(
        emu.refresh_calls(),
        EXPIRIES,
        "{what}: one refresh per expiry across all replicas"
    );
}

/// 4 processes × 25 concurrent calls for 9.6 s. The stored expiry is in whole seconds
/// (so a natural expiry's time would vary by a second); Miro expires the access token at 2,
/// 4.5 and 7 s instead, and every replica gets 401s until one of them has refreshed.
async fn four_processes(store_spec: String, store: Arc<dyn TokenStore>, what: &str) {
    let emu = emulator(None).await;
    let miro = replica::client(
        &emu.base_url(),
        store.clone(),
        MARGIN,
        Duration::from_secs(10),
    );
    let (user, board, start) = setup(&emu, &miro).await;
    let job = Job {
        base_url: emu.base_url(),
        store: store_spec,
        user: user.clone(),
        board,
        until_ms: replica::now_ms() + (RUN - start.elapsed()).as_millis(),
        margin: MARGIN,
        lease: Duration::from_secs(10),
        concurrency: 25,
    };
    slow_refreshes(&emu);
    let children: Vec<_> = (0..4).map(|_| replica::spawn("calls", &job)).collect();
    for at in [2000, 4500, 7000] {
        tokio::time::sleep_until((start + Duration::from_millis(at)).into()).await;
        let current = store.get(&user).await.unwrap().expect("signed in");
        assert!(
            emu.expire_access_token(current.access_token.expose()),
            "{what}: a live token"
        );
    }
    let mut reports = Vec::new();
    for child in children {
        reports.push(replica::report_of(child).await);
    }
    assert_run(&reports, &emu, what);
    assert!(
        miro.is_authorized(&user).await.unwrap(),
        "{what}: still signed in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_sharing_sqlite_refresh_once_per_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.sqlite");
    let store = Arc::new(SqliteStore::open(&path).await.unwrap());
    four_processes(format!("sqlite:{}", path.display()), store, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_sharing_a_file_refresh_once_per_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let store = Arc::new(FileStore::open(&path).await.unwrap());
    four_processes(format!("file:{}", path.display()), store, "file").await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_sharing_postgres_refresh_once_per_expiry() {
    let server = common::postgres::Server::start().await;
    let store = Arc::new(
        miro_api_extended::storage::PostgresStore::connect(&server.conninfo())
            .await
            .unwrap(),
    );
    four_processes(format!("postgres:{}", server.conninfo()), store, "postgres").await;
}

/// Two `Miro` values in one process over one store instance, 25 concurrent calls each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_miro_values_over_one_store_refresh_once_per_expiry() {
    let emu = emulator(Some(LIFETIME)).await;
    let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
    let lease = Duration::from_secs(10);
    let a = replica::client(&emu.base_url(), store.clone(), MARGIN, lease);
    let b = replica::client(&emu.base_url(), store, MARGIN, lease);
    let (user, board, start) = setup(&emu, &a).await;
    let job = Job {
        base_url: emu.base_url(),
        store: String::new(),
        user: user.clone(),
        board,
        until_ms: replica::now_ms() + (RUN - start.elapsed()).as_millis(),
        margin: MARGIN,
        lease,
        concurrency: 25,
    };
    slow_refreshes(&emu);
    let (ra, rb) = tokio::join!(replica::call_until(&a, &job), replica::call_until(&b, &job));
    assert_run(&[ra, rb], &emu, "two Miro values");
    assert!(b.is_authorized(&user).await.unwrap());
}

/// An emulator, one `Miro` over `store`, a signed-in user and a board of theirs.
async fn one_replica(store: Arc<dyn TokenStore>) -> (RunningEmulator, Miro, String, String) {
    let emu = emulator(None).await;
    let miro = replica::client(&emu.base_url(), store, MARGIN, Duration::from_secs(10));
    let (user, board, _) = setup(&emu, &miro).await;
    (emu, miro, user, board)
}

/// Makes the stored access token expired in the client's eyes (the emulator still takes it).
async fn expire_locally(store: &dyn TokenStore, user: &str) -> TokenState {
    let state = store.get(user).await.unwrap().expect("stored").state;
    let past = state
        .clone()
        .with_expires_at(SystemTime::now() - Duration::from_secs(1));
    store.set(user, &past).await.unwrap();
    past
}

async fn calls(miro: &Miro, user: &str, board: &str, n: usize) -> Vec<Result<(), miro_api::Error>> {
    let calls = (0..n).map(|_| {
        let api = miro.as_user(user);
        async move { api.get_specific_board(board).await.map(drop) }
    });
    futures::future::join_all(calls).await
}

fn all_ok(results: &[Result<(), miro_api::Error>], what: &str) {
    for r in results {
        if let Err(e) = r {
            panic!("{what}: a call failed: {e}");
        }
    }
}

/// Whether the emulator takes this access token.
async fn works(emu: &RunningEmulator, token: &str) -> bool {
    miro_api::http_client_builder()
        .build()
        .unwrap()
        .get(format!("{}/v1/oauth-token", emu.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .is_success()
}

/// Whether the emulator takes this refresh token (spending it).
async fn refreshes(emu: &RunningEmulator, token: &str) -> bool {
    miro_api::http_client_builder()
        .build()
        .unwrap()
        .post(format!("{}/v1/oauth/token", emu.base_url()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .is_success()
}

/// The user's stored tokens after a refresh: new, unmarked, and working at Miro.
async fn assert_signed_in(emu: &RunningEmulator, miro: &Miro, user: &str, old: &TokenState) {
    let now = miro
        .store()
        .get(user)
        .await
        .unwrap()
        .expect("still signed in");
    assert_eq!(now.marker, None, "no marker left");
    assert_ne!(
        now.refresh_token, old.refresh_token,
        "the rotated tokens are stored"
    );
    assert!(
        works(emu, now.access_token.expose()).await,
        "the stored access token works (it was not revoked)"
    );
    assert!(miro.is_authorized(user).await.unwrap());
}

/// Waits until the background task has written every unsaved token.
async fn until_saved(miro: &Miro) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !miro.unsaved_users().await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the background task never stored the tokens"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_failed_store_write_keeps_the_rotated_tokens() {
    let store = Arc::new(Faulty::memory());
    let (emu, miro, user, board) = one_replica(store.clone()).await;

    // 1. The first write after the refresh fails (a transient SQLITE_BUSY): retried.
    let before = expire_locally(&*store, &user).await;
    *store.next.lock().unwrap() = Some((WriteFault::Refuse, 1));
    all_ok(&calls(&miro, &user, &board, 25).await, "one failed write");
    assert_eq!(store.failures.load(Ordering::SeqCst), 1);
    assert_eq!(emu.refresh_calls(), 1);
    assert!(miro.unsaved_users().await.is_empty());
    assert_signed_in(&emu, &miro, &user, &before).await;

    // 2. The store refuses every write for a while: the rotated tokens are used from memory,
    //    the failure is typed, and nothing refreshes again (the record stays marked).
    let before = expire_locally(&*store, &user).await;
    *store.always.lock().unwrap() = Some(WriteFault::Refuse);
    all_ok(&calls(&miro, &user, &board, 25).await, "store down");
    assert_eq!(emu.refresh_calls(), 2);
    assert_eq!(miro.unsaved_users().await, vec![user.clone()]);
    let marked = store.get(&user).await.unwrap().unwrap();
    assert_eq!(marked.state, before, "the store still has the dead tokens");
    assert!(marked.marker.is_some(), "marked, so no one spends them");
    let err = miro.store_unsaved_tokens().await.unwrap_err();
    assert!(matches!(err, OAuthError::UnsavedTokens { .. }), "{err}");
    all_ok(&calls(&miro, &user, &board, 25).await, "store still down");
    assert_eq!(emu.refresh_calls(), 2, "the tokens in memory are used");
    let in_memory = miro.access_token(&user).await.unwrap();

    // 3. The store recovers: the background task writes the newest tokens, no call needed.
    *store.always.lock().unwrap() = None;
    until_saved(&miro).await;
    let now = stored(&miro, &user).await;
    assert_eq!(
        now.access_token, in_memory,
        "the store holds the newest tokens"
    );
    assert_signed_in(&emu, &miro, &user, &before).await;
    // And they work: the next refresh uses the stored refresh token.
    emu.expire_access_token(now.access_token.expose());
    all_ok(&calls(&miro, &user, &board, 5).await, "after recovery");
    assert_eq!(emu.refresh_calls(), 3);
}

/// Case 1 of issue 17, first two triggers: the write of the rotated tokens lands but the
/// client hears an error (its acknowledgement lost, or a commit after the client gave up).
/// The retry is refused, since the version moved; the old code read that as "someone replaced
/// the tokens" and revoked the tokens it had just stored.
#[tokio::test]
async fn a_write_that_landed_unheard_is_recognised_not_revoked() {
    for fault in [WriteFault::LoseAck, WriteFault::CommitLate] {
        let store = Arc::new(Faulty::memory());
        let (emu, miro, user, board) = one_replica(store.clone()).await;
        let before = expire_locally(&*store, &user).await;
        *store.next.lock().unwrap() = Some((fault, 1));
        all_ok(
            &calls(&miro, &user, &board, 10).await,
            "a write heard as failed",
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
        until_saved(&miro).await;
        assert_eq!(emu.refresh_calls(), 1, "{fault:?}");
        assert_signed_in(&emu, &miro, &user, &before).await;
        all_ok(&calls(&miro, &user, &board, 3).await, "afterwards");
    }
}

/// Case 1, third trigger, and case 3: the store refused the rotated tokens, and when it is
/// back a flush (`store_unsaved_tokens`) runs beside calls that refresh again (Miro rejected
/// the access token in memory) and beside the background task. They take turns per user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flushes_and_refreshes_at_once_take_turns() {
    let store = Arc::new(Faulty::memory());
    let (emu, miro, user, board) = one_replica(store.clone()).await;
    let before = expire_locally(&*store, &user).await;
    *store.always.lock().unwrap() = Some(WriteFault::Refuse);
    all_ok(&calls(&miro, &user, &board, 5).await, "store down");
    let in_memory = miro.access_token(&user).await.unwrap();
    // The store is back, slowly; Miro now rejects the access token held in memory.
    *store.always.lock().unwrap() = None;
    store.slow_writes_ms.store(100, Ordering::SeqCst);
    emu.expire_access_token(in_memory.expose());
    let flushes = (0..3).map(|_| miro.store_unsaved_tokens());
    let (flushed, results) = tokio::join!(
        futures::future::join_all(flushes),
        calls(&miro, &user, &board, 10)
    );
    all_ok(&results, "calls beside the flushes");
    for f in flushed {
        f.expect("a flush");
    }
    until_saved(&miro).await;
    assert_eq!(emu.refresh_calls(), 2, "the refresh after the 401, once");
    assert_signed_in(&emu, &miro, &user, &before).await;
    let now = stored(&miro, &user).await;
    assert_ne!(now.access_token, in_memory);
}

/// Case 4: a token endpoint answer without an OAuth `error` (a proxy's HTML 400) says
/// nothing about the refresh token: the tokens stay, and the next call refreshes. A JSON
/// `invalid_grant` for the stored token does remove them.
#[tokio::test]
async fn only_a_json_invalid_grant_removes_the_tokens() {
    let store = Arc::new(MemoryStore::new());
    let (emu, miro, user, board) = one_replica(store.clone()).await;
    let before = expire_locally(&*store, &user).await;
    emu.inject_fault(
        Fault::new(FaultKind::ServerError(400))
            .on("POST /v1/oauth/token")
            .times(1),
    )
    .unwrap();
    let err = miro.access_token(&user).await.unwrap_err();
    assert!(
        matches!(
            err,
            OAuthError::Endpoint {
                status: 400,
                error: None,
                ..
            }
        ),
        "{err:?}"
    );
    let kept = store.get(&user).await.unwrap().expect("the tokens stay");
    assert_eq!(
        (kept.state.clone(), kept.marker.clone()),
        (before.clone(), None)
    );
    all_ok(
        &calls(&miro, &user, &board, 3).await,
        "after the proxy's 400",
    );
    assert_signed_in(&emu, &miro, &user, &before).await;

    // Miro's own invalid_grant for the stored refresh token (spent elsewhere).
    let now = expire_locally(&*store, &user).await;
    assert!(refreshes(&emu, now.refresh_token.as_ref().unwrap().expose()).await);
    let err = miro.access_token(&user).await.unwrap_err();
    assert!(matches!(err, OAuthError::RefreshRejected { .. }), "{err:?}");
    assert!(store.get(&user).await.unwrap().is_none(), "removed");
    assert!(!miro.is_authorized(&user).await.unwrap());
}

#[tokio::test]
async fn a_revoke_during_a_refresh_leaves_no_working_token() {
    let emu = emulator(None).await;
    let store = Arc::new(Faulty::memory());
    let lease = Duration::from_secs(10);
    // The refresh and the revoke come from two Miro values (as from two processes).
    let refresher = replica::client(&emu.base_url(), store.clone(), MARGIN, lease);
    let revoker = replica::client(&emu.base_url(), store.clone(), MARGIN, lease);
    let (user, board, _) = setup(&emu, &refresher).await;

    expire_locally(&*store, &user).await;
    // Miro rotates the tokens at once, but storing them takes 400 ms: the revoke comes in
    // between, when the new tokens work and only the refreshing process knows them.
    store.slow_writes_ms.store(400, Ordering::SeqCst);
    let in_flight = {
        let (refresher, user, board) = (refresher.clone(), user.clone(), board.clone());
        tokio::spawn(async move { calls(&refresher, &user, &board, 10).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(revoker.revoke(&user).await.unwrap(), "tokens were stored");
    let _ = in_flight.await.unwrap();
    assert_eq!(emu.refresh_calls(), 1, "the refresh went through");

    assert!(store.get(&user).await.unwrap().is_none(), "nothing stored");
    let offered = store.offered.lock().unwrap().clone();
    assert!(
        offered.len() >= 2,
        "the sign-in and the refresh were offered to the store"
    );
    for state in offered {
        assert!(
            !works(&emu, state.access_token.expose()).await,
            "a stored access token still works after the revoke"
        );
        if let Some(r) = &state.refresh_token {
            assert!(
                !refreshes(&emu, r.expose()).await,
                "a stored refresh token still works"
            );
        }
    }
    assert!(!refresher.is_authorized(&user).await.unwrap());
}

/// A caller that stops waiting for `revoke` interrupts nothing: the revoke finishes in its
/// own task and leaves no marker behind.
#[tokio::test]
async fn a_cancelled_revoke_still_finishes() {
    let store = Arc::new(MemoryStore::new());
    let (emu, miro, user, _board) = one_replica(store.clone()).await;
    let tokens = stored(&miro, &user).await;
    emu.inject_fault(
        Fault::new(FaultKind::Delay(Duration::from_millis(300)))
            .on("POST /v2/oauth/revoke")
            .times(1),
    )
    .unwrap();
    let cancelled = tokio::time::timeout(Duration::from_millis(50), miro.revoke(&user)).await;
    assert!(cancelled.is_err(), "the caller gave up");
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.get(&user).await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the revoke never finished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!works(&emu, tokens.access_token.expose()).await);
    assert!(!miro.is_authorized(&user).await.unwrap());
}

/// The takeover bound of the liveness tests (issue 24), and their token request limit.
const TAKEOVER: Duration = Duration::from_secs(2);
const REQUEST_LIMIT: Duration = Duration::from_millis(500);

/// A replica with a short takeover bound and token request limit.
fn quick_replica(emu: &RunningEmulator, store: Arc<dyn TokenStore>, lease: Duration) -> Miro {
    Miro::builder()
        .client_id(CLIENT_ID)
        .client_secret(SECRET)
        .redirect_url(common::oauth::REDIRECT)
        .api_base_url(emu.base_url())
        .auth_base_url(emu.base_url())
        .store_arc(store)
        .refresh_margin(MARGIN)
        .refresh_lease(lease)
        .refresh_takeover(TAKEOVER)
        .token_request_timeout(REQUEST_LIMIT)
        .build()
        .expect("a complete configuration")
}

/// A quick replica over a memory store, a signed-in user with a board, the stored access
/// token expired locally, and the next token request failing with `fault`.
async fn one_quick_replica(
    fault: FaultKind,
) -> (
    RunningEmulator,
    Arc<dyn TokenStore>,
    Miro,
    String,
    String,
    TokenState,
) {
    let emu = emulator(None).await;
    let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
    let miro = quick_replica(&emu, store.clone(), Duration::from_secs(1));
    let (user, board, _) = setup(&emu, &miro).await;
    let old = expire_locally(&*store, &user).await;
    emu.inject_fault(Fault::new(fault).on("POST /v1/oauth/token").times(1))
        .unwrap();
    (emu, store, miro, user, board, old)
}

/// A child process marks the user's record and sends its refresh token, which the emulator
/// holds up (it has not reached Miro's processing yet), and is killed with SIGKILL.
async fn kill_a_refresher(emu: &RunningEmulator, path: &std::path::Path, user: &str, board: &str) {
    let held = emu
        .inject_fault(
            Fault::new(FaultKind::Delay(Duration::from_secs(60)))
                .on("POST /v1/oauth/token")
                .times(1),
        )
        .unwrap();
    let job = Job {
        base_url: emu.base_url(),
        store: format!("sqlite:{}", path.display()),
        user: user.to_string(),
        board: board.to_string(),
        until_ms: 0,
        margin: MARGIN,
        lease: Duration::from_secs(1),
        concurrency: 1,
    };
    let store = SqliteStore::open(path).await.unwrap();
    let mut child = replica::spawn("hold", &job);
    let deadline = Instant::now() + Duration::from_secs(30);
    while store
        .get(user)
        .await
        .unwrap()
        .expect("stored")
        .marker
        .is_none()
    {
        assert!(
            Instant::now() < deadline,
            "the child never marked the record"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    emu.remove_fault(held);
}

/// A quick replica over SQLite, a signed-in user whose stored access token expired, and a
/// refresher of it killed mid-refresh (its marker left on the record). The folder holds the
/// database.
async fn after_a_killed_refresher() -> (
    RunningEmulator,
    tempfile::TempDir,
    Arc<dyn TokenStore>,
    Miro,
    String,
    String,
    TokenState,
) {
    let emu = emulator(None).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.sqlite");
    let store: Arc<dyn TokenStore> = Arc::new(SqliteStore::open(&path).await.unwrap());
    let miro = quick_replica(&emu, store.clone(), Duration::from_millis(300));
    let (user, board, _) = setup(&emu, &miro).await;
    let old = expire_locally(&*store, &user).await;
    kill_a_refresher(&emu, &path, &user, &board).await;
    (emu, dir, store, miro, user, board, old)
}

/// Issue 24, case 1: a process killed while it spends the refresh token leaves its marker.
/// Within the takeover bound nobody sends the marked token (callers get `RefreshBusy`); once
/// the record has stayed marked for the bound, the next refresh takes it over and the user
/// keeps working without authorizing again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_mid_refresh_is_taken_over_after_the_bound() {
    let (emu, _dir, _store, miro, user, board, old) = after_a_killed_refresher().await;

    let seen = Instant::now();
    let err = miro.access_token(&user).await.unwrap_err();
    assert!(matches!(err, OAuthError::RefreshBusy { .. }), "{err:?}");
    assert_eq!(emu.refresh_calls(), 0, "not sent within the bound");

    let deadline = seen + TAKEOVER + Duration::from_secs(3);
    loop {
        match miro.access_token(&user).await {
            Ok(_) => break,
            Err(OAuthError::RefreshBusy { .. }) if Instant::now() < deadline => {}
            Err(e) => panic!("the user is stranded: {e}"),
        }
    }
    assert!(
        seen.elapsed() >= TAKEOVER,
        "taken over only after the bound"
    );
    assert_eq!(emu.refresh_calls(), 1, "the marked token was sent once");
    all_ok(&calls(&miro, &user, &board, 3).await, "after the takeover");
    assert_signed_in(&emu, &miro, &user, &old).await;
}

/// Issue 24, case 3: a revoke after a refresher was killed completes (it takes the record
/// over after the bound) instead of answering `RefreshBusy` for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_completes_after_a_refresher_was_killed() {
    let (emu, _dir, store, miro, user, _board, old) = after_a_killed_refresher().await;

    let started = Instant::now();
    assert!(miro.revoke(&user).await.expect("the revoke completes"));
    assert!(started.elapsed() >= TAKEOVER, "it waited for the bound");
    assert!(store.get(&user).await.unwrap().is_none(), "removed");
    assert!(
        !works(&emu, old.access_token.expose()).await,
        "revoked at Miro"
    );
    let refresh = old.refresh_token.as_ref().unwrap();
    assert!(
        !refreshes(&emu, refresh.expose()).await,
        "its refresh token too"
    );
    assert!(!miro.is_authorized(&user).await.unwrap());
}

/// Issue 24, case 2: an answer lost before Miro saw the request (a connection closed by the
/// server) is sent again by the process that lost it, at once: the user keeps working.
#[tokio::test]
async fn a_lost_answer_is_sent_again_by_the_process_that_lost_it() {
    let (emu, _store, miro, user, board, old) = one_quick_replica(FaultKind::DropConnection).await;
    all_ok(&calls(&miro, &user, &board, 3).await, "after a lost answer");
    assert_eq!(
        emu.token_endpoint_calls(),
        2,
        "sent twice: lost, then again"
    );
    assert_eq!(emu.refresh_calls(), 1, "Miro rotated it once");
    assert_signed_in(&emu, &miro, &user, &old).await;
}

/// Issue 24, case 2, the other way: Miro rotated the token and the answer was lost (a
/// truncated body). Sending it again gets `invalid_grant`: the successor reached nobody, so
/// the user is told to authorize again (not left in doubt), and the record is marked
/// rejected rather than deleted (a process holding the successor could still store it).
#[tokio::test]
async fn an_answer_lost_after_miro_rotated_ends_in_rejected_not_in_doubt() {
    let (emu, store, miro, user, _board, old) = one_quick_replica(FaultKind::TruncatedBody).await;
    let err = miro.access_token(&user).await.unwrap_err();
    assert!(matches!(err, OAuthError::RefreshRejected { .. }), "{err:?}");
    assert_eq!(emu.refresh_calls(), 2, "sent again once");
    let record = store.get(&user).await.unwrap().expect("kept");
    assert_eq!(record.state, old);
    assert!(
        record
            .marker
            .as_deref()
            .is_some_and(|m| m.starts_with("rejected ")),
        "{:?}",
        record.marker
    );
    assert!(!miro.is_authorized(&user).await.unwrap());
    // A new authorization replaces it.
    assert_eq!(sign_in(&miro).await, user);
    assert!(miro.is_authorized(&user).await.unwrap());
}

/// Issue 24, case 4: a short refresh wait does not cut the token request short (it has its
/// own limit): a 100 ms `refresh_lease` with a token endpoint taking 300 ms refreshes fine.
#[tokio::test]
async fn a_short_refresh_lease_does_not_cut_token_requests_short() {
    let emu = emulator(None).await;
    let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
    let miro = replica::client(
        &emu.base_url(),
        store.clone(),
        MARGIN,
        Duration::from_millis(100),
    );
    let (user, board, _) = setup(&emu, &miro).await;
    let old = expire_locally(&*store, &user).await;
    emu.inject_fault(
        Fault::new(FaultKind::Delay(Duration::from_millis(300))).on("POST /v1/oauth/token"),
    )
    .unwrap();
    all_ok(
        &calls(&miro, &user, &board, 1).await,
        "a slow token endpoint",
    );
    assert_eq!(emu.refresh_calls(), 1);
    assert_signed_in(&emu, &miro, &user, &old).await;
}

/// Issue 24, case 5: rotated tokens the store refused, then rejected by Miro (a 401), are
/// refreshed once they are stored, instead of being handed out again.
#[tokio::test]
async fn unsaved_tokens_that_miro_rejected_are_refreshed_once_stored() {
    let emu = emulator(None).await;
    let store = Arc::new(Faulty::memory());
    let miro = quick_replica(&emu, store.clone(), Duration::from_secs(1));
    let (user, board, _) = setup(&emu, &miro).await;
    expire_locally(&*store, &user).await;
    // The refresh's three writes are refused: its tokens are used from memory.
    *store.next.lock().unwrap() = Some((WriteFault::Refuse, 3));
    all_ok(&calls(&miro, &user, &board, 1).await, "store refusing");
    assert_eq!(miro.unsaved_users().await, vec![user.clone()]);
    let in_memory = miro.access_token(&user).await.unwrap();
    // Miro stops taking that access token; the store is back.
    assert!(emu.expire_access_token(in_memory.expose()));
    all_ok(&calls(&miro, &user, &board, 1).await, "after the 401");
    assert_eq!(emu.refresh_calls(), 2, "refreshed after storing");
    assert_ne!(miro.access_token(&user).await.unwrap(), in_memory);
    assert!(miro.unsaved_users().await.is_empty());
}

/// `Miro::shutdown`: refreshes in flight finish and are stored, rotated tokens the store
/// refused are written, and no new refresh starts afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_refreshes_and_stores_unsaved_tokens() {
    let emu = emulator(None).await;
    let store = Arc::new(Faulty::memory());
    let miro = quick_replica(&emu, store.clone(), Duration::from_secs(1));
    let (user, board, _) = setup(&emu, &miro).await;

    // Rotated tokens wait in memory (the store refused them): written at shutdown.
    let old = expire_locally(&*store, &user).await;
    *store.next.lock().unwrap() = Some((WriteFault::Refuse, 3));
    all_ok(&calls(&miro, &user, &board, 1).await, "store refusing");
    assert_eq!(miro.unsaved_users().await, vec![user.clone()]);
    miro.shutdown(Duration::from_secs(10))
        .await
        .expect("nothing left");
    let record = store.get(&user).await.unwrap().expect("stored");
    assert_eq!(record.marker, None);
    assert_ne!(record.state, old, "the rotated tokens are stored");
    assert!(works(&emu, record.access_token.expose()).await);

    // A refresh in flight (the token endpoint takes 400 ms) finishes and is stored.
    let miro = quick_replica(&emu, store.clone(), Duration::from_secs(1));
    let old = expire_locally(&*store, &user).await;
    emu.inject_fault(
        Fault::new(FaultKind::Delay(Duration::from_millis(400)))
            .on("POST /v1/oauth/token")
            .times(1),
    )
    .unwrap();
    let in_flight = {
        let (miro, user) = (miro.clone(), user.clone());
        tokio::spawn(async move { miro.access_token(&user).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    miro.shutdown(Duration::from_secs(10))
        .await
        .expect("nothing left");
    let token = in_flight
        .await
        .unwrap()
        .expect("the refresh in flight finished");
    let record = store.get(&user).await.unwrap().expect("stored");
    assert_eq!(record.marker, None);
    assert_ne!(record.state, old);
    assert_eq!(record.access_token, token);

    // No new refresh starts.
    expire_locally(&*store, &user).await;
    let err = miro.access_token(&user).await.unwrap_err();
    assert!(matches!(err, OAuthError::ShuttingDown { .. }), "{err:?}");
    assert_eq!(emu.refresh_calls(), 2);
}

/// I5: no duration setting makes the client panic, from zero to `Duration::MAX`.
#[tokio::test]
async fn no_duration_setting_panics() {
    let emu = emulator(None).await;
    // Every setting at each extreme (the store and HTTP time limits at `MAX` in the last).
    for d in [Duration::ZERO, Duration::from_nanos(1), Duration::MAX] {
        let miro = Miro::builder()
            .client_id(CLIENT_ID)
            .client_secret(SECRET)
            .redirect_url(common::oauth::REDIRECT)
            .api_base_url(emu.base_url())
            .auth_base_url(emu.base_url())
            .refresh_margin(d)
            .refresh_lease(d)
            .store_timeout(d.max(Duration::from_secs(5)))
            .timeout(d.max(Duration::from_secs(5)))
            .build()
            .unwrap();
        let user = sign_in(&miro).await;
        let board = new_board(&miro.as_user(&user)).await;
        expire_locally(&**miro.store(), &user).await;
        all_ok(&calls(&miro, &user, &board, 3).await, &format!("{d:?}"));
        assert!(miro.is_authorized(&user).await.unwrap());
        assert!(miro.revoke(&user).await.unwrap());
    }
}

/// Callers that stop waiting at any point (seeded time limits from 0 to 40 ms, while
/// refreshes take 0 to 30 ms at Miro and writes fail now and then), three `Miro` values over
/// one store: the operations they started run on, and nobody is signed out. The refresh
/// token is sent once per refresh: the emulator rejects a second use, which would show as an
/// error or a removed record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_cancelled_at_any_point_sign_nobody_out() {
    let emu = emulator(None).await;
    let store = Arc::new(Faulty::memory());
    let replicas: Vec<Miro> = (0..3)
        .map(|_| {
            replica::client(
                &emu.base_url(),
                store.clone(),
                MARGIN,
                Duration::from_secs(10),
            )
        })
        .collect();
    let (user, board, _) = setup(&emu, &replicas[0]).await;
    let mut seed: u64 = 17;
    let mut next = |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    for round in 0..40 {
        expire_locally(&*store, &user).await;
        let delay = Duration::from_millis(next(30));
        let fault = emu
            .inject_fault(
                Fault::new(FaultKind::Delay(delay))
                    .on("POST /v1/oauth/token")
                    .times(1),
            )
            .unwrap();
        if next(4) == 0 {
            *store.next.lock().unwrap() = Some((WriteFault::LoseAck, 1));
        }
        let attempts = (0..6).map(|i| {
            let miro = replicas[i % 3].clone();
            let limit = Duration::from_millis(next(40));
            let user = user.clone();
            async move { tokio::time::timeout(limit, miro.access_token(&user)).await }
        });
        for result in futures::future::join_all(attempts).await {
            if let Ok(Err(e)) = result {
                panic!("round {round}: a call that finished failed: {e}");
            }
        }
        emu.remove_fault(fault);
        // Whatever was cancelled, every replica ends up with working tokens.
        for miro in &replicas {
            all_ok(
                &calls(miro, &user, &board, 2).await,
                &format!("round {round}"),
            );
        }
    }
    for miro in &replicas {
        until_saved(miro).await;
        assert!(miro.is_authorized(&user).await.unwrap());
    }
    let now = store.get(&user).await.unwrap().expect("signed in");
    assert_eq!(now.marker, None);
    assert!(emu.refresh_calls() >= 40, "a refresh per round");
}
