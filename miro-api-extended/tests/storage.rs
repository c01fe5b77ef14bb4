//! The token stores: tokens survive a restart, files are private, a crash mid-write loses
//! nothing, and each instance keeps its own state.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use common::oauth::{new_board, sign_in, start, stored, CLIENT_ID, REDIRECT, SECRET};
use miro_api_extended::storage::{
    FileStore, MemoryStore, SqliteStore, StorageError, TokenState, TokenStore,
};
use miro_api_extended::Miro;

fn state(n: u32) -> TokenState {
    TokenState::new(format!("access-{n}"))
        .with_refresh_token(format!("refresh-{n}"))
        .with_expires_at(UNIX_EPOCH + Duration::from_secs(1_900_000_000 + u64::from(n)))
        .with_grant(
            Some(format!("team-{n}")),
            Some("boards:read boards:write".into()),
        )
}

/// Set, get, replace and remove through the trait.
async fn exercise(store: &dyn TokenStore) {
    assert_eq!(store.get("u1").await.unwrap().map(|r| r.state), None);
    store.set("u1", &state(1)).await.unwrap();
    store.set("u2", &state(2)).await.unwrap();
    assert_eq!(
        store.get("u1").await.unwrap().map(|r| r.state),
        Some(state(1))
    );
    store.set("u1", &state(3)).await.unwrap();
    assert_eq!(
        store.get("u1").await.unwrap().map(|r| r.state),
        Some(state(3))
    );
    assert_eq!(
        store.get("u2").await.unwrap().map(|r| r.state),
        Some(state(2))
    );
    store.remove("u2").await.unwrap();
    store.remove("never-stored").await.unwrap();
    assert_eq!(store.get("u2").await.unwrap().map(|r| r.state), None);
    let bare = TokenState::new("non-expiring");
    store.set("u3", &bare).await.unwrap();
    assert_eq!(store.get("u3").await.unwrap().map(|r| r.state), Some(bare));
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn every_store_keeps_the_contract() {
    common::contract::check(&MemoryStore::new()).await;
    let dir = tempfile::tempdir().unwrap();
    common::contract::check(&FileStore::open(dir.path().join("t.json")).await.unwrap()).await;
    common::contract::check(
        &SqliteStore::open(dir.path().join("t.sqlite"))
            .await
            .unwrap(),
    )
    .await;
}

#[tokio::test]
async fn memory_stores_are_separate() {
    let a = MemoryStore::new();
    let b = MemoryStore::new();
    exercise(&a).await;
    assert_eq!(b.get("u1").await.unwrap().map(|r| r.state), None);
}

#[tokio::test]
async fn file_store_keeps_tokens_across_a_restart_in_a_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    {
        let store = FileStore::open(&path).await.unwrap();
        assert!(!path.exists(), "created by the first write");
        exercise(&store).await;
    }
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    let reopened = FileStore::open(&path).await.unwrap();
    assert_eq!(
        reopened.get("u1").await.unwrap().map(|r| r.state),
        Some(state(3))
    );
    assert_eq!(reopened.get("u2").await.unwrap().map(|r| r.state), None);
    // Nothing but the store and its lock file in the folder: no temporary files left behind.
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, [".tokens.json.lock", "tokens.json"]);
}

#[tokio::test]
async fn file_store_survives_a_crash_mid_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let store = FileStore::open(&path).await.unwrap();
    store.set("u1", &state(1)).await.unwrap();
    let good = std::fs::read(&path).unwrap();
    drop(store);

    // A crash while writing the next version leaves a half-written temporary file.
    let temp = dir.path().join(".tokens.json.tmp-4242-7");
    std::fs::write(&temp, &good[..good.len() / 2]).unwrap();
    let store = FileStore::open(&path).await.unwrap();
    assert_eq!(
        store.get("u1").await.unwrap().map(|r| r.state),
        Some(state(1))
    );
    assert!(!temp.exists(), "the leftover is removed");
    assert_eq!(std::fs::read(&path).unwrap(), good);
    store.set("u2", &state(2)).await.unwrap();
    assert_eq!(
        store.get("u1").await.unwrap().map(|r| r.state),
        Some(state(1))
    );
}

#[tokio::test]
async fn file_store_never_overwrites_a_file_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    std::fs::write(
        &path,
        b"{\"version\":1,\"users\":{\"u1\":{\"access_token\":\"SECRET-abc\"",
    )
    .unwrap();
    let err = FileStore::open(&path).await.unwrap_err();
    assert!(matches!(err, StorageError::Corrupt { .. }), "{err}");
    assert!(!err.to_string().contains("SECRET"), "{err}");
    assert!(std::fs::read(&path).unwrap().ends_with(b"SECRET-abc\""));

    // A store opened before the file went bad refuses to write over it.
    let other = dir.path().join("other.json");
    let store = FileStore::open(&other).await.unwrap();
    store.set("u1", &state(1)).await.unwrap();
    std::fs::write(&other, b"not json").unwrap();
    assert!(matches!(
        store.set("u2", &state(2)).await,
        Err(StorageError::Corrupt { .. })
    ));
    assert_eq!(std::fs::read(&other).unwrap(), b"not json");

    // A missing folder is an I/O error naming the folder.
    let err = FileStore::open(dir.path().join("missing/tokens.json"))
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Io { .. }), "{err}");
}

#[cfg(unix)]
#[tokio::test]
async fn file_store_tightens_loose_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    FileStore::open(&path)
        .await
        .unwrap()
        .set("u1", &state(1))
        .await
        .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = FileStore::open(&path).await.unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(
        store.get("u1").await.unwrap().map(|r| r.state),
        Some(state(1))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_store_readers_never_see_a_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        FileStore::open(dir.path().join("tokens.json"))
            .await
            .unwrap(),
    );
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..25 {
                    store
                        .set(&format!("user-{w}-{i}"), &state(i))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut reads = 0;
                for _ in 0..200 {
                    store
                        .get("user-0-0")
                        .await
                        .expect("a whole file every time");
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    for r in readers {
        assert_eq!(r.await.unwrap(), 200);
    }
    for w in 0..4 {
        for i in 0..25 {
            assert_eq!(
                store
                    .get(&format!("user-{w}-{i}"))
                    .await
                    .unwrap()
                    .map(|r| r.state),
                Some(state(i)),
                "no update lost"
            );
        }
    }
}

#[tokio::test]
async fn sqlite_store_keeps_tokens_across_a_restart_in_a_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.sqlite");
    {
        let store = SqliteStore::open(&path).await.unwrap();
        exercise(&store).await;
    }
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    let reopened = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        reopened.get("u1").await.unwrap().map(|r| r.state),
        Some(state(3))
    );
    assert_eq!(reopened.get("u2").await.unwrap().map(|r| r.state), None);
    // Two instances on one file see each other's writes.
    let second = SqliteStore::open(&path).await.unwrap();
    second.set("u9", &state(9)).await.unwrap();
    assert_eq!(
        reopened.get("u9").await.unwrap().map(|r| r.state),
        Some(state(9))
    );
    let err = SqliteStore::open(dir.path().join("missing/tokens.sqlite"))
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Io { .. }), "{err}");
}

/// A Miro client on `store`, as a restarted process would build it.
fn client(emu: &miro_emulator::RunningEmulator, store: impl TokenStore + 'static) -> Miro {
    Miro::builder()
        .client_id(CLIENT_ID)
        .client_secret(SECRET)
        .redirect_url(REDIRECT)
        .api_base_url(emu.base_url())
        .auth_base_url(emu.base_url())
        .store(store)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_restarted_app_keeps_its_users_signed_in() {
    let emu = start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let db = dir.path().join("tokens.sqlite");
    for backend in ["file", "sqlite"] {
        let open = || async {
            match backend {
                "file" => client(&emu, FileStore::open(&file).await.unwrap()),
                _ => client(&emu, SqliteStore::open(&db).await.unwrap()),
            }
        };
        let (user, board, before) = {
            let first = open().await;
            let user = sign_in(&first).await;
            let board = new_board(&first.as_user(&user)).await;
            (user.clone(), board, stored(&first, &user).await)
        };
        // "Restart": a new process opens the same file; the user needs no new sign-in, and the
        // refresh it makes after Miro expires the token is stored for the next restart.
        let second = open().await;
        assert!(second.is_authorized(&user).await.unwrap(), "{backend}");
        emu.expire_access_token(before.access_token.expose());
        second
            .as_user(&user)
            .get_specific_board(&board)
            .await
            .unwrap();
        let after = stored(&second, &user).await;
        assert_ne!(after.refresh_token, before.refresh_token, "{backend}");
        drop(second);
        let third = open().await;
        assert_eq!(stored(&third, &user).await, after, "{backend}");
        third
            .as_user(&user)
            .get_specific_board(&board)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_file_stores_on_one_file_lose_no_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let a = Arc::new(FileStore::open(&path).await.unwrap());
    let b = Arc::new(FileStore::open(&path).await.unwrap());
    let writes = (0..40u32).map(|n| {
        let store = if n % 2 == 0 { a.clone() } else { b.clone() };
        async move { store.set(&format!("user-{n}"), &state(n)).await }
    });
    for result in futures::future::join_all(writes).await {
        result.unwrap();
    }
    let reopened = FileStore::open(&path).await.unwrap();
    for n in 0..40u32 {
        assert_eq!(
            reopened
                .get(&format!("user-{n}"))
                .await
                .unwrap()
                .map(|r| r.state),
            Some(state(n)),
            "user-{n} was lost"
        );
    }
}

/// Holds the store's OS lock as another writer would while it writes its temporary file.
#[cfg(unix)]
fn hold_os_lock(dir: &Path) -> std::fs::File {
    use std::os::unix::io::AsRawFd;
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(".tokens.json.lock"))
        .unwrap();
    // SAFETY: flock on a descriptor the test owns.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    lock
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_a_file_store_never_deletes_another_writers_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    FileStore::open(&path)
        .await
        .unwrap()
        .set("u1", &state(1))
        .await
        .unwrap();
    // Another writer is in the middle of a write: it holds the lock and its temporary file.
    let writer = hold_os_lock(dir.path());
    let temp = dir.path().join(".tokens.json.tmp-4242-0");
    std::fs::write(&temp, b"{\"version\":1,\"users\":{}").unwrap();
    let opening = tokio::spawn({
        let path = path.clone();
        async move { FileStore::open(&path).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(temp.exists(), "the writer's temporary file was deleted");
    assert!(!opening.is_finished(), "opening waits for the writer");
    // The writer dies without finishing: its file is a leftover now, and is removed.
    drop(writer);
    let store = opening.await.unwrap().unwrap();
    assert!(!temp.exists(), "the leftover is removed once nobody writes");
    assert_eq!(
        store.get("u1").await.unwrap().map(|r| r.state),
        Some(state(1))
    );
}
