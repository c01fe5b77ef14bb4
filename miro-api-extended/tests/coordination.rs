//! Refresh coordinated through the store: replicas as OS processes and several `Miro` values
//! sharing one store, with tokens expiring during the run; a store whose writes fail; a revoke
//! racing a refresh; a lease holder that crashes; a refresh rejected after someone else
//! replaced the tokens.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use common::oauth::{new_board, sign_in, stored, CLIENT_ID, SECRET};
use common::replica::{self, Job, Report};
use futures::future::BoxFuture;
use miro_api_extended::storage::{
    FileStore, MemoryStore, SqliteStore, StorageError, TokenState, TokenStore,
};
use miro_api_extended::{Miro, OAuthError, RefreshToken};
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

/// A store that fails writes of refreshed tokens while `failing` (or the next `fail_next`).
#[derive(Default)]
struct Flaky {
    inner: MemoryStore,
    failing: AtomicBool,
    fail_next: AtomicUsize,
    failures: AtomicUsize,
}

impl Flaky {
    fn fails(&self) -> bool {
        let once = self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        let fail = once || self.failing.load(Ordering::SeqCst);
        if fail {
            self.failures.fetch_add(1, Ordering::SeqCst);
        }
        fail
    }
}

fn busy() -> StorageError {
    StorageError::Other("database is locked (SQLITE_BUSY)".into())
}

impl TokenStore for Flaky {
    fn get<'a>(&'a self, u: &'a str) -> BoxFuture<'a, Result<Option<TokenState>, StorageError>> {
        self.inner.get(u)
    }
    fn set<'a>(&'a self, u: &'a str, s: &'a TokenState) -> BoxFuture<'a, Result<(), StorageError>> {
        self.inner.set(u, s)
    }
    fn remove<'a>(&'a self, u: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        self.inner.remove(u)
    }
    fn replace_if<'a>(
        &'a self,
        u: &'a str,
        expected: &'a RefreshToken,
        new: Option<&'a TokenState>,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        if new.is_some() && self.fails() {
            return Box::pin(async { Err(busy()) });
        }
        self.inner.replace_if(u, expected, new)
    }
    fn try_lease<'a>(
        &'a self,
        u: &'a str,
        h: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        self.inner.try_lease(u, h, ttl)
    }
    fn release_lease<'a>(
        &'a self,
        u: &'a str,
        h: &'a str,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        self.inner.release_lease(u, h)
    }
}

/// Makes the stored access token expired in the client's eyes (the emulator still takes it).
async fn expire_locally(store: &dyn TokenStore, user: &str) -> TokenState {
    let state = store.get(user).await.unwrap().expect("stored");
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

#[tokio::test]
async fn a_failed_store_write_keeps_the_rotated_tokens() {
    let emu = emulator(None).await;
    let store = Arc::new(Flaky::default());
    let miro = replica::client(
        &emu.base_url(),
        store.clone(),
        MARGIN,
        Duration::from_secs(10),
    );
    let (user, board, _) = setup(&emu, &miro).await;

    // 1. The first write after the refresh fails (a transient SQLITE_BUSY): retried.
    expire_locally(&*store, &user).await;
    store.fail_next.store(1, Ordering::SeqCst);
    all_ok(&calls(&miro, &user, &board, 25).await, "one failed write");
    assert_eq!(store.failures.load(Ordering::SeqCst), 1);
    assert_eq!(emu.refresh_calls(), 1);
    assert!(miro.unsaved_users().is_empty());
    assert!(
        !stored(&miro, &user).await.expires_within(MARGIN),
        "the new tokens are stored"
    );

    // 2. The store refuses every write for a while: the rotated tokens are used from memory,
    //    the failure is typed, and nothing refreshes again.
    let before = expire_locally(&*store, &user).await;
    store.failing.store(true, Ordering::SeqCst);
    all_ok(&calls(&miro, &user, &board, 25).await, "store down");
    assert_eq!(emu.refresh_calls(), 2);
    assert_eq!(miro.unsaved_users(), vec![user.clone()]);
    assert_eq!(
        stored(&miro, &user).await,
        before,
        "the store still has the dead tokens"
    );
    let err = miro.store_unsaved_tokens().await.unwrap_err();
    assert!(matches!(err, OAuthError::UnsavedTokens { .. }), "{err}");
    all_ok(&calls(&miro, &user, &board, 25).await, "store still down");
    assert_eq!(emu.refresh_calls(), 2, "the tokens in memory are used");
    let in_memory = miro.access_token(&user).await.unwrap();

    // 3. The store recovers: the next call writes the newest tokens.
    store.failing.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    all_ok(&calls(&miro, &user, &board, 5).await, "store back");
    assert!(miro.unsaved_users().is_empty());
    let now = stored(&miro, &user).await;
    assert_eq!(
        now.access_token, in_memory,
        "the store holds the newest tokens"
    );
    assert_ne!(now.refresh_token, before.refresh_token);
    // And they work: the next refresh uses the stored refresh token.
    emu.expire_access_token(now.access_token.expose());
    all_ok(&calls(&miro, &user, &board, 5).await, "after recovery");
    assert_eq!(emu.refresh_calls(), 3);
    assert!(miro.is_authorized(&user).await.unwrap());
}

/// A store that remembers every state offered to it, and can be slow to store refreshed
/// tokens.
#[derive(Default)]
struct Recording {
    inner: MemoryStore,
    written: Mutex<Vec<TokenState>>,
    slow_writes_ms: AtomicUsize,
}

impl TokenStore for Recording {
    fn get<'a>(&'a self, u: &'a str) -> BoxFuture<'a, Result<Option<TokenState>, StorageError>> {
        self.inner.get(u)
    }
    fn set<'a>(&'a self, u: &'a str, s: &'a TokenState) -> BoxFuture<'a, Result<(), StorageError>> {
        self.written.lock().unwrap().push(s.clone());
        self.inner.set(u, s)
    }
    fn remove<'a>(&'a self, u: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        self.inner.remove(u)
    }
    fn replace_if<'a>(
        &'a self,
        u: &'a str,
        expected: &'a RefreshToken,
        new: Option<&'a TokenState>,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            let slow = self.slow_writes_ms.load(Ordering::SeqCst);
            if new.is_some() && slow > 0 {
                tokio::time::sleep(Duration::from_millis(slow as u64)).await;
            }
            // Offered, stored or not: a refresh's tokens must die with the revoke either way.
            if let Some(s) = new {
                self.written.lock().unwrap().push(s.clone());
            }
            self.inner.replace_if(u, expected, new).await
        })
    }
    fn try_lease<'a>(
        &'a self,
        u: &'a str,
        h: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        self.inner.try_lease(u, h, ttl)
    }
    fn release_lease<'a>(
        &'a self,
        u: &'a str,
        h: &'a str,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        self.inner.release_lease(u, h)
    }
}

/// Whether the emulator takes this access token.
async fn works(emu: &RunningEmulator, token: &str) -> bool {
    reqwest::Client::new()
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
    reqwest::Client::new()
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

#[tokio::test]
async fn a_revoke_during_a_refresh_leaves_no_working_token() {
    let emu = emulator(None).await;
    let store = Arc::new(Recording::default());
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
    let written = store.written.lock().unwrap().clone();
    assert!(
        written.len() >= 2,
        "the sign-in and the refresh were offered to the store"
    );
    for state in written {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_lease_holder_blocks_refreshes_only_until_the_lease_expires() {
    let emu = emulator(None).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.sqlite");
    let store: Arc<dyn TokenStore> = Arc::new(SqliteStore::open(&path).await.unwrap());
    let lease = Duration::from_millis(1500);
    let miro = replica::client(&emu.base_url(), store.clone(), MARGIN, lease);
    let (user, board, _) = setup(&emu, &miro).await;
    let old = expire_locally(&*store, &user).await;

    // The child takes the lease and starts a refresh that the emulator holds up.
    let stuck = emu
        .inject_fault(
            Fault::new(FaultKind::Delay(Duration::from_secs(60)))
                .on("POST /v1/oauth/token")
                .times(1),
        )
        .unwrap();
    let job = Job {
        base_url: emu.base_url(),
        store: format!("sqlite:{}", path.display()),
        user: user.clone(),
        board: board.clone(),
        until_ms: 0,
        margin: MARGIN,
        lease,
        concurrency: 1,
    };
    let mut child = replica::spawn("hold", &job);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // Probing with a 1 ms lease: `false` means the child holds it.
        if !store
            .try_lease(&user, "probe", Duration::from_millis(1))
            .await
            .unwrap()
        {
            break;
        }
        store.release_lease(&user, "probe").await.unwrap();
        assert!(Instant::now() < deadline, "the child never took the lease");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let killed_at = Instant::now();
    emu.remove_fault(stuck);
    assert_eq!(
        emu.refresh_calls(),
        0,
        "the child died before its refresh reached Miro"
    );
    let now = store.get(&user).await.unwrap().expect("stored");
    assert_eq!(
        now.refresh_token, old.refresh_token,
        "nothing stored by the child"
    );

    // Another process's call waits for the dead holder's lease to expire, then refreshes.
    all_ok(&calls(&miro, &user, &board, 5).await, "after the crash");
    assert_eq!(emu.refresh_calls(), 1, "one refresh, by the survivor");
    assert!(
        killed_at.elapsed() < lease + Duration::from_secs(2),
        "waited {:?}, longer than the lease",
        killed_at.elapsed()
    );
    assert!(miro.is_authorized(&user).await.unwrap());
}

/// A store whose lease never excludes anyone, as when a holder outlives its lease.
#[derive(Default)]
struct NoLease {
    inner: MemoryStore,
}

impl TokenStore for NoLease {
    fn get<'a>(&'a self, u: &'a str) -> BoxFuture<'a, Result<Option<TokenState>, StorageError>> {
        self.inner.get(u)
    }
    fn set<'a>(&'a self, u: &'a str, s: &'a TokenState) -> BoxFuture<'a, Result<(), StorageError>> {
        self.inner.set(u, s)
    }
    fn remove<'a>(&'a self, u: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        self.inner.remove(u)
    }
    fn replace_if<'a>(
        &'a self,
        u: &'a str,
        expected: &'a RefreshToken,
        new: Option<&'a TokenState>,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        self.inner.replace_if(u, expected, new)
    }
    fn try_lease<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: Duration,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async { Ok(true) })
    }
    fn release_lease<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn a_rejected_refresh_removes_only_tokens_nobody_replaced() {
    let emu = emulator(None).await;
    let store = Arc::new(NoLease::default());
    let lease = Duration::from_secs(10);
    let late = replica::client(&emu.base_url(), store.clone(), MARGIN, lease);
    let winner = replica::client(&emu.base_url(), store.clone(), MARGIN, lease);
    let (user, _board, _) = setup(&emu, &late).await;
    let old = expire_locally(&*store, &user).await;

    // `late` sends the refresh first, but the emulator holds it for 500 ms; meanwhile
    // `winner` refreshes with the same refresh token and stores the rotated tokens. Then
    // Miro rejects `late`'s refresh token, which was already replaced.
    emu.inject_fault(
        Fault::new(FaultKind::Delay(Duration::from_millis(500)))
            .on("POST /v1/oauth/token")
            .times(1),
    )
    .unwrap();
    let late_call = {
        let (late, user) = (late.clone(), user.clone());
        tokio::spawn(async move { late.access_token(&user).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let won = winner.access_token(&user).await.unwrap();
    let late_result = late_call.await.unwrap();
    assert_eq!(emu.refresh_calls(), 2, "both refreshed");
    let now = store.get(&user).await.unwrap().expect("still signed in");
    assert_eq!(now.access_token, won);
    assert_ne!(now.refresh_token, old.refresh_token);
    assert_eq!(
        late_result.unwrap(),
        won,
        "the late one uses the stored tokens"
    );
    assert!(winner.is_authorized(&user).await.unwrap());
}
