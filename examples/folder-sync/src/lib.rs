//! Folder-to-board sync: upload every image of a folder to a Miro board, straight from disk
//! (multipart), in a grid; then, optionally, watch the folder and upload new or changed files.
//!
//! - **Nothing twice.** A state file remembers, per board, each file's SHA-256 and the image
//!   item it became. A file whose content is already on the board is not uploaded again (after
//!   a restart, a rename or a copy); a file whose content changed replaces its item's image.
//!   The state is written (atomically: temp file, then rename) after every upload.
//! - **Files still being written are skipped**: a file is taken only once its size and
//!   modification time stayed the same for the settle interval, and is not empty.
//! - **Failed uploads are retried** with a growing delay (`retries`, `retry_delay`); in watch
//!   mode what still failed is tried again on the next tick. An upload is a `POST`: one whose
//!   answer was lost after Miro stored it can appear twice on the board.
//! - A changed file whose image was deleted on the board is uploaded as a new image.
//!
//! Only the folder's own files are synced (not subfolders); names starting with `.` are
//! ignored, which keeps editors' temporary files and the state file out.

#![warn(missing_docs)]

use indicatif::{ProgressBar, ProgressStyle};
use miro_api::types::{PositionChange, UploadFileFromDeviceData};
use miro_api::{FilePart, MiroApi};
use notify::{RecursiveMode, Watcher};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The extensions taken as images (Miro accepts these for image items).
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "gif", "webp", "svg", "bmp"];

/// How the sync runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The folder to upload and watch.
    pub folder: PathBuf,
    /// The board the images go to.
    pub board_id: String,
    /// The state file.
    pub state_path: PathBuf,
    /// How long a file's size and modification time must stay the same before it is taken.
    pub settle: Duration,
    /// Retries of a failed upload (after the first attempt).
    pub retries: u32,
    /// The delay before the first retry; doubled for each further one.
    pub retry_delay: Duration,
    /// Images per row of the grid.
    pub columns: u32,
    /// The distance between grid cells, in board units.
    pub cell: f64,
}

impl Config {
    /// A configuration with the defaults: 1 s to settle, 3 retries from 500 ms, 5 columns
    /// 500 units apart.
    pub fn new(folder: PathBuf, board_id: String, state_path: PathBuf) -> Self {
        Config {
            folder,
            board_id,
            state_path,
            settle: Duration::from_secs(1),
            retries: 3,
            retry_delay: Duration::from_millis(500),
            columns: 5,
            cell: 500.0,
        }
    }
}

/// What stops the sync.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The folder cannot be listed.
    #[error("cannot read the folder {path}: {source}")]
    Folder {
        /// The folder.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The state file cannot be read, parsed or written.
    #[error("state file {path}: {message}")]
    State {
        /// The state file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The folder cannot be watched.
    #[error("cannot watch the folder: {0}")]
    Watch(#[from] notify::Error),
}

/// One uploaded file, as remembered.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    /// The SHA-256 of the content uploaded, in hex.
    pub sha256: String,
    /// The image item on the board.
    pub item_id: String,
}

/// What one board's sync remembers.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BoardState {
    /// The next free cell of the grid.
    pub next_slot: u64,
    /// By file name.
    pub files: BTreeMap<String, Entry>,
}

/// The state file: one [`BoardState`] per board.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    /// By board id.
    pub boards: BTreeMap<String, BoardState>,
}

/// What a pass did.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    /// Files uploaded as new images.
    pub uploaded: Vec<String>,
    /// Files whose changed content replaced their image.
    pub updated: Vec<String>,
    /// Files whose content was already on the board.
    pub unchanged: Vec<String>,
    /// Files still being written, left for later.
    pub deferred: Vec<String>,
    /// Files that failed after every retry, with the last error.
    pub failed: Vec<(String, String)>,
}

/// The sync of one folder to one board.
pub struct FolderSync {
    api: MiroApi,
    config: Config,
    state: State,
}

/// A file's size and modification time, to tell whether it is still being written.
type Snapshot = (u64, Option<SystemTime>);

fn snapshot(path: &Path) -> Option<Snapshot> {
    let meta = std::fs::metadata(path).ok()?;
    meta.is_file().then(|| (meta.len(), meta.modified().ok()))
}

/// Whether `path` is a file this sync takes: an image extension, not hidden.
pub fn is_candidate(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    if name.starts_with('.') {
        return false;
    }
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl FolderSync {
    /// Opens the state file (a missing one is an empty state).
    pub fn open(api: MiroApi, config: Config) -> Result<Self, SyncError> {
        let state = match std::fs::read(&config.state_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| SyncError::State {
                path: config.state_path.display().to_string(),
                message: format!("not a state file: {e}"),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => {
                return Err(SyncError::State {
                    path: config.state_path.display().to_string(),
                    message: e.to_string(),
                })
            }
        };
        Ok(FolderSync { api, config, state })
    }

    /// The remembered state of this board.
    pub fn board_state(&self) -> BoardState {
        self.state
            .boards
            .get(&self.config.board_id)
            .cloned()
            .unwrap_or_default()
    }

    fn save(&self) -> Result<(), SyncError> {
        let fail = |message: String| SyncError::State {
            path: self.config.state_path.display().to_string(),
            message,
        };
        let json = serde_json::to_vec_pretty(&self.state).map_err(|e| fail(e.to_string()))?;
        let tmp = self.config.state_path.with_extension("tmp");
        std::fs::write(&tmp, json).map_err(|e| fail(e.to_string()))?;
        std::fs::rename(&tmp, &self.config.state_path).map_err(|e| fail(e.to_string()))
    }

    fn list(&self) -> Result<Vec<PathBuf>, SyncError> {
        let entries =
            std::fs::read_dir(&self.config.folder).map_err(|source| SyncError::Folder {
                path: self.config.folder.display().to_string(),
                source,
            })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_candidate(p) && p.is_file())
            .collect();
        files.sort();
        Ok(files)
    }

    /// Uploads every image of the folder not yet on the board, with a progress bar when
    /// `progress` is set. Files still being written are in [`Summary::deferred`].
    pub async fn sync_once(&mut self, progress: bool) -> Result<Summary, SyncError> {
        let files = self.list()?;
        let before: HashMap<PathBuf, Option<Snapshot>> =
            files.iter().map(|p| (p.clone(), snapshot(p))).collect();
        tokio::time::sleep(self.config.settle).await;
        let bar = if progress {
            let bar = ProgressBar::new(files.len() as u64);
            if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}") {
                bar.set_style(style);
            }
            bar
        } else {
            ProgressBar::hidden()
        };
        let mut summary = Summary::default();
        for path in files {
            let name = file_name(&path);
            bar.set_message(name.clone());
            let now = snapshot(&path);
            let stable = now.is_some() && now == before[&path] && now.is_some_and(|s| s.0 > 0);
            if stable {
                self.process(&path, &mut summary).await?;
            } else {
                summary.deferred.push(name);
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        Ok(summary)
    }

    /// Uploads one settled file (or records that it is already there).
    async fn process(&mut self, path: &Path, summary: &mut Summary) -> Result<(), SyncError> {
        let name = file_name(path);
        let bytes = match tokio::fs::read(path).await {
            Ok(b) => b,
            Err(e) => {
                summary.failed.push((name, format!("cannot read: {e}")));
                return Ok(());
            }
        };
        let hash = sha256_hex(&bytes);
        let board = self
            .state
            .boards
            .entry(self.config.board_id.clone())
            .or_default();
        if board.files.get(&name).is_some_and(|e| e.sha256 == hash) {
            summary.unchanged.push(name);
            return Ok(());
        }
        if let Some(same) = board.files.values().find(|e| e.sha256 == hash).cloned() {
            // The same content under another name (a copy or a rename): already on the board.
            board.files.insert(name.clone(), same);
            summary.unchanged.push(name);
            return self.save();
        }
        let previous = board.files.get(&name).cloned();
        let slot = board.next_slot;
        let result = match &previous {
            Some(old) => match self.replace(&old.item_id, &name, &bytes).await {
                // The image was deleted on the board: upload the file as a new one.
                Err(e) if e.status().map(|s| s.as_u16()) == Some(404) => {
                    self.upload(slot, &name, &bytes).await.map(|id| (id, true))
                }
                other => other.map(|()| (old.item_id.clone(), false)),
            },
            None => self.upload(slot, &name, &bytes).await.map(|id| (id, true)),
        };
        match result {
            Ok((item_id, new)) => {
                let board = self
                    .state
                    .boards
                    .entry(self.config.board_id.clone())
                    .or_default();
                if new {
                    board.next_slot += 1;
                    summary.uploaded.push(name.clone());
                } else {
                    summary.updated.push(name.clone());
                }
                board.files.insert(
                    name,
                    Entry {
                        sha256: hash,
                        item_id,
                    },
                );
                self.save()
            }
            Err(e) => {
                summary.failed.push((name, e.to_string()));
                Ok(())
            }
        }
    }

    async fn with_retries<T, F, Fut>(&self, mut attempt: F) -> Result<T, miro_api::Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, miro_api::Error>>,
    {
        let mut delay = self.config.retry_delay;
        let mut tries = 0;
        loop {
            match attempt().await {
                Ok(v) => return Ok(v),
                // A 404 will not get better (the board or the item is gone).
                Err(e)
                    if tries < self.config.retries
                        && e.status().map(|s| s.as_u16()) != Some(404) =>
                {
                    tries += 1;
                    eprintln!(
                        "upload failed ({e}); retry {tries} of {}",
                        self.config.retries
                    );
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn upload(&self, slot: u64, name: &str, bytes: &[u8]) -> Result<String, miro_api::Error> {
        let columns = u64::from(self.config.columns.max(1));
        let x = (slot % columns) as f64 * self.config.cell;
        let y = (slot / columns) as f64 * self.config.cell;
        let data = UploadFileFromDeviceData::default()
            .title(name.to_owned())
            .position(PositionChange::default().x(x).y(y));
        let board = self.config.board_id.as_str();
        self.with_retries(|| {
            let part = FilePart::from_bytes(bytes.to_vec(), name.to_owned());
            let data = &data;
            async move {
                let item = self
                    .api
                    .create_image_item_using_local_file(board, part)
                    .data(data)
                    .await?;
                Ok(item.id.clone())
            }
        })
        .await
    }

    async fn replace(
        &self,
        item_id: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<(), miro_api::Error> {
        let data = UploadFileFromDeviceData::default().title(name.to_owned());
        let board = self.config.board_id.as_str();
        self.with_retries(|| {
            let part = FilePart::from_bytes(bytes.to_vec(), name.to_owned());
            let data = &data;
            async move {
                self.api
                    .update_image_item_using_file_from_device(board, item_id, part)
                    .data(data)
                    .await?;
                Ok(())
            }
        })
        .await
    }

    /// Watches the folder until `shutdown` completes: a new or changed image is uploaded once
    /// it has settled; what failed or was still being written is tried again on the next tick
    /// (every settle interval). `on_pass` sees what each tick did.
    pub async fn watch(
        &mut self,
        shutdown: impl Future<Output = ()>,
        mut on_pass: impl FnMut(&Summary),
    ) -> Result<(), SyncError> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<PathBuf>();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if let Ok(event) = event {
                    for path in event.paths {
                        let _ = tx.send(path);
                    }
                }
            })?;
        watcher.watch(&self.config.folder, RecursiveMode::NonRecursive)?;
        // Every file present is looked at once (cheap for what is already on the board), so
        // nothing written between an earlier pass and the watch's start is missed, and what
        // such a pass deferred or failed is tried again.
        let mut pending: HashMap<PathBuf, Option<Snapshot>> =
            self.list()?.into_iter().map(|p| (p, None)).collect();
        let mut tick = tokio::time::interval(self.config.settle);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                Some(path) = rx.recv() => {
                    if is_candidate(&path) {
                        pending.insert(path, None);
                    }
                }
                _ = tick.tick() => {
                    if pending.is_empty() {
                        continue;
                    }
                    let mut summary = Summary::default();
                    let paths: Vec<PathBuf> = pending.keys().cloned().collect();
                    for path in paths {
                        let now = snapshot(&path);
                        if now.is_none() {
                            pending.remove(&path); // deleted or not a file
                            continue;
                        }
                        if pending[&path] != now || now.is_some_and(|s| s.0 == 0) {
                            pending.insert(path.clone(), now); // still changing
                            continue;
                        }
                        let failed_before = summary.failed.len();
                        self.process(&path, &mut summary).await?;
                        if summary.failed.len() == failed_before {
                            pending.remove(&path);
                        } else {
                            pending.insert(path, None); // try again next tick
                        }
                    }
                    on_pass(&summary);
                }
            }
        }
        Ok(())
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
