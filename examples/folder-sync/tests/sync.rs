//! The story against the emulator: a folder of images uploaded once (a failed upload retried),
//! a second run after a restart uploads nothing, a file still being written waits, and the
//! watch mode uploads new files and replaces changed ones.

use folder_sync::{Config, FolderSync};
use miro_api::MiroApi;
use miro_emulator::{Emulator, Fault, FaultKind, RunningEmulator};
use std::path::Path;
use std::time::{Duration, Instant};

fn config(folder: &Path, board: &str, state: &Path) -> Config {
    let mut c = Config::new(folder.to_owned(), board.to_owned(), state.to_owned());
    c.settle = Duration::from_millis(200);
    c.retry_delay = Duration::from_millis(20);
    c
}

fn image_bytes(seed: u8) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend(std::iter::repeat_n(seed, 64));
    bytes
}

fn writes(emu: &RunningEmulator) -> Vec<String> {
    emu.requests()
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.route.clone().unwrap_or_default()))
        .collect()
}

async fn image_count(api: &MiroApi, board: &str) -> usize {
    api.get_items(board)
        .type_(miro_api::types::ItemType::Image)
        .limit(50)
        .await
        .unwrap()
        .data
        .len()
}

#[tokio::test]
async fn a_folder_is_uploaded_once_and_watched() {
    let Setup {
        emu,
        api,
        board,
        folder,
        _state_dir,
        state,
    } = Setup::new().await;
    for (i, name) in ["a.png", "b.jpg", "c.gif", "d.png"].iter().enumerate() {
        std::fs::write(folder.path().join(name), image_bytes(i as u8)).unwrap();
    }
    std::fs::write(folder.path().join("notes.txt"), "not an image").unwrap();
    std::fs::write(folder.path().join(".partial.png"), "hidden").unwrap();
    // The first upload fails with a 503: it is retried.
    emu.inject_fault(
        Fault::new(FaultKind::ServerError(503))
            .on("POST /v2/boards/{board_id}/images")
            .times(1),
    )
    .unwrap();

    // First run: four images, each once, in a grid, the bytes as on disk.
    emu.clear_requests();
    let mut sync = FolderSync::open(api.clone(), config(folder.path(), &board, &state)).unwrap();
    let summary = sync.sync_once(false).await.unwrap();
    assert_eq!(summary.uploaded.len(), 4, "{summary:?}");
    assert!(summary.failed.is_empty(), "{summary:?}");
    assert_eq!(image_count(&api, &board).await, 4);
    let posts = writes(&emu)
        .iter()
        .filter(|w| w.as_str() == "POST /v2/boards/{board_id}/images")
        .count();
    assert_eq!(posts, 5, "four uploads, one of them retried");
    let remembered = sync.board_state();
    let a = &remembered.files["a.png"];
    let uploaded = emu.uploaded_file(&board, &a.item_id).unwrap();
    assert_eq!(uploaded.bytes.as_ref(), image_bytes(0).as_slice());

    // Second run, as after a restart: nothing uploaded twice, no write at all.
    drop(sync);
    emu.clear_requests();
    let mut sync = FolderSync::open(api.clone(), config(folder.path(), &board, &state)).unwrap();
    let summary = sync.sync_once(false).await.unwrap();
    assert!(summary.uploaded.is_empty(), "{summary:?}");
    assert_eq!(summary.unchanged.len(), 4);
    assert_eq!(writes(&emu), Vec::<String>::new());
    assert_eq!(image_count(&api, &board).await, 4);

    // A file still being written is left for later, then taken once it is complete.
    let growing = folder.path().join("growing.png");
    std::fs::write(&growing, image_bytes(9)).unwrap();
    let writer = {
        let growing = growing.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            for _ in 0..12 {
                std::thread::sleep(Duration::from_millis(50));
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&growing)
                    .unwrap();
                f.write_all(&[7; 32]).unwrap();
            }
        })
    };
    let summary = sync.sync_once(false).await.unwrap();
    assert_eq!(summary.deferred, ["growing.png"], "{summary:?}");
    assert!(summary.uploaded.is_empty());
    writer.join().unwrap();
    let summary = sync.sync_once(false).await.unwrap();
    assert_eq!(summary.uploaded, ["growing.png"]);
    let item = &sync.board_state().files["growing.png"].item_id;
    let stored = emu.uploaded_file(&board, item).unwrap();
    assert_eq!(stored.bytes.len(), 8 + 64 + 12 * 32, "the complete file");

    // Watch mode: a new file is uploaded, a changed one replaces its image.
    emu.clear_requests();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let watcher = tokio::spawn(async move {
        sync.watch(
            async {
                let _ = stop_rx.await;
            },
            |_| {},
        )
        .await
        .unwrap();
        sync
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::write(folder.path().join("late.png"), image_bytes(42)).unwrap();
    std::fs::write(folder.path().join("a.png"), image_bytes(43)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let w = writes(&emu);
        let posted = w.iter().any(|w| w == "POST /v2/boards/{board_id}/images");
        let patched = w
            .iter()
            .any(|w| w == "PATCH /v2/boards/{board_id}/images/{item_id}");
        if posted && patched {
            break;
        }
        assert!(Instant::now() < deadline, "watch mode did not sync: {w:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_tx.send(()).unwrap();
    let sync = watcher.await.unwrap();
    assert_eq!(image_count(&api, &board).await, 6);
    let files = sync.board_state().files;
    let a_now = emu.uploaded_file(&board, &files["a.png"].item_id).unwrap();
    assert_eq!(a_now.bytes.as_ref(), image_bytes(43).as_slice());
    assert_eq!(
        files["a.png"].item_id, a.item_id,
        "the same item, its image replaced"
    );
    let posts = writes(&emu)
        .iter()
        .filter(|w| w.starts_with("POST"))
        .count();
    assert_eq!(posts, 1, "only the new file was posted");
}

/// An emulator with a board, an empty folder and a state file.
struct Setup {
    emu: RunningEmulator,
    api: MiroApi,
    board: String,
    folder: tempfile::TempDir,
    _state_dir: tempfile::TempDir,
    state: std::path::PathBuf,
}

impl Setup {
    async fn new() -> Self {
        let emu = Emulator::builder()
            .rate_limit(1_000_000, Duration::from_secs(60))
            .start()
            .await
            .unwrap();
        let api = MiroApi::builder()
            .base_url(emu.base_url())
            .access_token(emu.access_token())
            .build();
        let board = api
            .create_board(&Default::default())
            .await
            .unwrap()
            .id
            .clone();
        let state_dir = tempfile::tempdir().unwrap();
        Setup {
            state: state_dir.path().join("state.json"),
            _state_dir: state_dir,
            folder: tempfile::tempdir().unwrap(),
            emu,
            api,
            board,
        }
    }

    fn config(&self) -> Config {
        config(self.folder.path(), &self.board, &self.state)
    }

    fn sync(&self) -> FolderSync {
        FolderSync::open(self.api.clone(), self.config()).unwrap()
    }

    fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.folder.path().join(name), bytes).unwrap();
    }

    fn count(&self, write: &str) -> usize {
        writes(&self.emu).iter().filter(|w| *w == write).count()
    }
}

const POST_IMAGE: &str = "POST /v2/boards/{board_id}/images";
const PATCH_IMAGE: &str = "PATCH /v2/boards/{board_id}/images/{item_id}";

/// Runs `sync.watch` for `run`, calling `during` once it has started; returns the sync and
/// every pass it reported.
async fn watch_for(
    mut sync: FolderSync,
    run: Duration,
    during: impl FnOnce(),
) -> (FolderSync, Vec<folder_sync::Summary>) {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let watcher = tokio::spawn(async move {
        let mut passes = Vec::new();
        sync.watch(
            async {
                let _ = stop_rx.await;
            },
            |s| passes.push(s.clone()),
        )
        .await
        .unwrap();
        (sync, passes)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    during();
    tokio::time::sleep(run).await;
    stop_tx.send(()).unwrap();
    watcher.await.unwrap()
}

#[tokio::test]
async fn two_files_with_the_same_content_are_two_images_and_changing_one_keeps_the_other() {
    let s = Setup::new().await;
    s.write("photo.png", &image_bytes(1));
    s.write("copy.png", &image_bytes(1));
    let mut sync = s.sync();
    let summary = sync.sync_once(false).await.unwrap();
    assert_eq!(summary.uploaded, ["copy.png", "photo.png"], "{summary:?}");
    let files = sync.board_state().files;
    let (photo, copy) = (&files["photo.png"].item_id, &files["copy.png"].item_id);
    assert_ne!(photo, copy, "one image per file");
    for (name, id) in [("photo.png", photo), ("copy.png", copy)] {
        let stored = s.emu.uploaded_file(&s.board, id).unwrap();
        assert_eq!(
            stored.file_name.as_deref(),
            Some(name),
            "titled by its own file"
        );
    }

    // Edit the copy: only the copy's image changes; the photo is still on the board.
    s.emu.clear_requests();
    s.write("copy.png", &image_bytes(2));
    let summary = sync.sync_once(false).await.unwrap();
    assert_eq!(summary.updated, ["copy.png"], "{summary:?}");
    assert_eq!(s.count(PATCH_IMAGE), 1);
    let photo_now = s.emu.uploaded_file(&s.board, photo).unwrap();
    assert_eq!(photo_now.bytes.as_ref(), image_bytes(1).as_slice());
    let copy_now = s.emu.uploaded_file(&s.board, copy).unwrap();
    assert_eq!(copy_now.bytes.as_ref(), image_bytes(2).as_slice());
    assert_eq!(image_count(&s.api, &s.board).await, 2);
}

#[tokio::test]
async fn permanent_errors_are_reported_once_and_not_retried() {
    let s = Setup::new().await;
    // Over Miro's 6 MB: refused before any upload.
    let mut big = image_bytes(3);
    big.resize(7 * 1024 * 1024, 0);
    s.write("big.png", &big);
    // Refused by Miro with a 400 every time.
    s.write("odd.png", &image_bytes(4));
    let fault = s
        .emu
        .inject_fault(Fault::new(FaultKind::ServerError(400)).on(POST_IMAGE))
        .unwrap();
    s.emu.clear_requests();
    let mut sync = s.sync();
    let summary = sync.sync_once(false).await.unwrap();
    let rejected: Vec<&str> = summary.rejected.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(rejected, ["big.png", "odd.png"], "{summary:?}");
    assert!(summary.rejected[0].1.contains("6 MB"), "{summary:?}");
    assert!(summary.failed.is_empty(), "{summary:?}");
    assert_eq!(s.count(POST_IMAGE), 1, "odd.png sent once, big.png never");

    // Watch mode does not try them again while they do not change.
    let (sync, passes) = watch_for(sync, Duration::from_millis(1200), || {}).await;
    assert_eq!(s.count(POST_IMAGE), 1, "no retry in watch mode: {passes:?}");
    // Once Miro takes it and the file changes, it is uploaded.
    s.emu.remove_fault(fault);
    let (sync, _) = watch_for(sync, Duration::from_millis(1500), || {
        s.write("odd.png", &image_bytes(5))
    })
    .await;
    assert_eq!(s.count(POST_IMAGE), 2);
    assert!(sync.board_state().files.contains_key("odd.png"));
    assert!(!sync.board_state().files.contains_key("big.png"));
}

#[tokio::test]
async fn a_board_that_does_not_exist_stops_the_sync() {
    let s = Setup::new().await;
    s.write("a.png", &image_bytes(1));
    s.write("b.png", &image_bytes(2));
    let mut config = s.config();
    config.board_id = "uXjVnot-a-board=".into();
    let mut sync = FolderSync::open(s.api.clone(), config).unwrap();
    s.emu.clear_requests();
    let err = sync.sync_once(false).await.unwrap_err();
    assert!(
        matches!(err, folder_sync::SyncError::BoardNotFound(_)),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("board uXjVnot-a-board= not found"),
        "{err}"
    );
    assert_eq!(s.count(POST_IMAGE), 0, "no file was tried");
}

#[tokio::test]
async fn empty_deleted_and_badly_named_files_are_reported_as_such() {
    let s = Setup::new().await;
    s.write("empty.png", b"");
    s.write("vanishing.png", &image_bytes(1));
    s.write("fine.png", &image_bytes(2));
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"caf\xe9.png");
        std::fs::write(s.folder.path().join(name), image_bytes(3)).unwrap();
    }
    let vanishing = s.folder.path().join("vanishing.png");
    let deleter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(60));
        std::fs::remove_file(vanishing).unwrap();
    });
    let mut sync = s.sync();
    let summary = sync.sync_once(false).await.unwrap();
    deleter.join().unwrap();
    assert_eq!(summary.uploaded, ["fine.png"], "{summary:?}");
    assert_eq!(summary.empty, ["empty.png"], "{summary:?}");
    assert_eq!(summary.gone, ["vanishing.png"], "{summary:?}");
    assert!(summary.deferred.is_empty(), "{summary:?}");
    #[cfg(unix)]
    assert_eq!(summary.bad_names, ["caf?.png"], "{summary:?}");
}

#[tokio::test]
async fn an_image_deleted_on_the_board_is_uploaded_again() {
    let s = Setup::new().await;
    s.write("a.png", &image_bytes(1));
    s.write("b.png", &image_bytes(2));
    let mut sync = s.sync();
    sync.sync_once(false).await.unwrap();
    let first = sync.board_state().files["a.png"].item_id.clone();
    s.api.delete_image_item(&s.board, &first).await.unwrap();

    // The next pass (the file did not change) puts it back.
    s.emu.clear_requests();
    let summary = sync.sync_once(false).await.unwrap();
    assert_eq!(summary.uploaded, ["a.png"], "{summary:?}");
    assert_eq!(summary.unchanged, ["b.png"], "{summary:?}");
    let again = sync.board_state().files["a.png"].item_id.clone();
    assert_ne!(again, first);
    assert_eq!(image_count(&s.api, &s.board).await, 2);

    // In watch mode, the periodic look at the board does the same.
    let mut config = s.config();
    config.board_check = Duration::from_millis(300);
    let sync = FolderSync::open(s.api.clone(), config).unwrap();
    s.emu.clear_requests();
    let api = s.api.clone();
    let board = s.board.clone();
    let (sync, _) = watch_for(sync, Duration::from_millis(1500), move || {
        tokio::spawn(async move { api.delete_image_item(&board, &again).await.unwrap() });
    })
    .await;
    assert_eq!(s.count(POST_IMAGE), 1, "{:?}", writes(&s.emu));
    assert_eq!(image_count(&s.api, &s.board).await, 2);
    assert!(sync.board_state().files.contains_key("a.png"));
}

#[tokio::test]
async fn watch_mode_goes_idle_after_reading_each_file_once() {
    let s = Setup::new().await;
    for i in 0..6u8 {
        let mut bytes = image_bytes(i);
        bytes.resize(256 * 1024, i);
        s.write(&format!("{i}.png"), &bytes);
    }
    let mut config = s.config();
    config.settle = Duration::from_millis(100);
    let mut sync = FolderSync::open(s.api.clone(), config).unwrap();
    assert_eq!(sync.sync_once(false).await.unwrap().uploaded.len(), 6);
    s.emu.clear_requests();
    let (_, passes) = watch_for(sync, Duration::from_millis(2500), || {
        s.write("new.png", &image_bytes(9))
    })
    .await;
    // Forty ticks: the new file is read and uploaded once, nothing is read again.
    let uploaded: Vec<&String> = passes.iter().flat_map(|p| &p.uploaded).collect();
    assert_eq!(uploaded, ["new.png"], "{passes:?}");
    let reread: usize = passes.iter().map(|p| p.unchanged.len()).sum();
    assert_eq!(reread, 0, "files read again: {passes:?}");
    assert_eq!(passes.len(), 1, "{passes:?}");
    assert_eq!(s.count(POST_IMAGE), 1);
}
