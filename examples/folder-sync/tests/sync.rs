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
        .type_(miro_api::types::GetItemsType::Image)
        .limit(50)
        .await
        .unwrap()
        .data
        .len()
}

#[tokio::test]
async fn a_folder_is_uploaded_once_and_watched() {
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
    let folder = tempfile::tempdir().unwrap();
    let state_dir = tempfile::tempdir().unwrap();
    let state = state_dir.path().join("state.json");
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
