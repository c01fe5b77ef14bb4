//! Folder-to-board sync: upload every image of a folder to a Miro board, straight from disk
//! (multipart), in a grid; then, optionally, watch the folder and upload new or changed files.
//!
//! - **One image per file.** A state file remembers, per board, each file's SHA-256 and the
//!   image item it became, by file name. A file whose content did not change is not uploaded
//!   again (after a restart too); a file whose content changed replaces its own item's image.
//!   Two files with the same content are two images: changing one never touches the other.
//!   The state is written (atomically: temp file, then rename) after every upload.
//! - **An image deleted on the board is uploaded again**: each pass (and, in watch mode, every
//!   `board_check`) reads the board's images and forgets the files whose item is gone.
//! - **Files still being written are skipped**: a file is taken only once its size and
//!   modification time stayed the same for the settle interval. Empty files, files deleted
//!   before they could be read, and names that are not valid UTF-8 are reported as such.
//! - **Only what may get better is retried.** Files over Miro's 6 MB limit are refused before
//!   any upload. A failure Miro may recover from (5xx, 429, a lost connection) is retried with a
//!   growing delay (`retries`, `retry_delay`), and in watch mode again on the next tick. A 4xx
//!   (e.g. 400, 413) is reported once and not retried until the file changes. A board that
//!   does not exist, or a token that may not write to it, stops the sync. An upload is a
//!   `POST`: one whose answer was lost after Miro stored it can appear twice on the board.
//! - **Watch mode goes idle**: the watcher ignores the events of reading a file (its own reads
//!   included), and a file whose size and modification time are those it last handled is not
//!   read again.
//!
//! Only the folder's own files are synced (not subfolders); names starting with `.` are
//! ignored, which keeps editors' temporary files and the state file out.

#![warn(missing_docs)]

use indicatif::{ProgressBar, ProgressStyle};
use miro_api::types::{ItemType, PositionChange, UploadFileFromDeviceData};
use miro_api::{FilePart, MiroApi};
use miro_api_extended::prelude::{PagedRequestExt, TryStreamExt};
use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecursiveMode, Watcher};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Miro's limit on an uploaded image, in bytes (6 MB).
pub const MAX_FILE_BYTES: u64 = 6 * 1024 * 1024;

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
    /// Retries of a failed upload (after the first attempt), for failures that may pass.
    pub retries: u32,
    /// The delay before the first retry; doubled for each further one.
    pub retry_delay: Duration,
    /// Images per row of the grid.
    pub columns: u32,
    /// The distance between grid cells, in board units.
    pub cell: f64,
    /// In watch mode, how often the board is read to find images deleted there.
    pub board_check: Duration,
}

impl Config {
    /// A configuration with the defaults: 1 s to settle, 3 retries from 500 ms, 5 columns
    /// 500 units apart, the board checked every minute in watch mode.
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
            board_check: Duration::from_secs(60),
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
    /// Miro says the board does not exist (or is not visible with this token).
    #[error("board {0} not found: check MIRO_BOARD_ID (--board-id) and that the token's user can open it")]
    BoardNotFound(String),
    /// Miro refuses the token for this board (401 or 403): no file would get through.
    #[error("Miro refused access to board {board_id}: {message}")]
    Refused {
        /// The board.
        board_id: String,
        /// Miro's answer.
        message: String,
    },
    /// Reading the board's images failed.
    #[error("reading the board's images: {0}")]
    Board(String),
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
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Summary {
    /// Files uploaded as new images (new files, and files whose image was deleted on the board).
    pub uploaded: Vec<String>,
    /// Files whose changed content replaced their image.
    pub updated: Vec<String>,
    /// Files whose content was already on the board.
    pub unchanged: Vec<String>,
    /// Files still being written (their size or time changed during the pass), left for later.
    pub deferred: Vec<String>,
    /// Empty files, not uploaded.
    pub empty: Vec<String>,
    /// Files deleted before they could be read.
    pub gone: Vec<String>,
    /// Image files whose name is not valid UTF-8 (shown with `?` for the bad bytes), not
    /// uploaded: rename them.
    pub bad_names: Vec<String>,
    /// Files that failed after every retry with an error that may pass, with the last error;
    /// tried again on the next pass.
    pub failed: Vec<(String, String)>,
    /// Files refused for good (over 6 MB, or a 4xx from Miro), with the reason; not tried again
    /// until they change.
    pub rejected: Vec<(String, String)>,
}

impl Summary {
    /// Whether the pass did or saw nothing.
    pub fn is_empty(&self) -> bool {
        *self == Summary::default()
    }
}

/// What became of one file in a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Uploaded, replaced or already there; or empty, or refused for good: nothing to do
    /// until the file changes.
    Settled,
    /// Failed in a way that may pass: try again.
    Retry,
    /// Deleted.
    Gone,
}

/// Why an upload failed.
enum Failure {
    /// It may pass (5xx, 429, a lost connection, a malformed answer).
    Transient(miro_api::Error),
    /// It will not pass without a change of the file (a 4xx; for a replacement, 404 is
    /// handled by the caller).
    Permanent(miro_api::Error),
}

fn classify(e: miro_api::Error) -> Failure {
    let status = e.status().map(|s| s.as_u16());
    match (&e, status) {
        (miro_api::Error::Api(_), Some(s)) if (400..500).contains(&s) && s != 408 && s != 429 => {
            Failure::Permanent(e)
        }
        _ => Failure::Transient(e),
    }
}

/// The sync of one folder to one board.
pub struct FolderSync {
    api: MiroApi,
    config: Config,
    state: State,
    /// The size and time of each file when it was last settled: unchanged, it is not read again.
    handled: HashMap<PathBuf, Snapshot>,
}

/// A file's size and modification time, to tell whether it is still being written.
type Snapshot = (u64, Option<SystemTime>);

fn snapshot(path: &Path) -> Option<Snapshot> {
    let meta = std::fs::metadata(path).ok()?;
    meta.is_file().then(|| (meta.len(), meta.modified().ok()))
}

/// Whether `path` is a file this sync takes: an image extension, not hidden (the name need not
/// be valid UTF-8; [`FolderSync`] reports such names).
pub fn is_candidate(path: &Path) -> bool {
    let Some(name) = path.file_name() else {
        return false;
    };
    if name.as_encoded_bytes().starts_with(b".") {
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

/// The folder's image files: those with a UTF-8 name (sorted), and the other names.
struct Listing {
    files: Vec<(PathBuf, String)>,
    bad_names: Vec<String>,
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
        Ok(FolderSync {
            api,
            config,
            state,
            handled: HashMap::new(),
        })
    }

    /// The remembered state of this board.
    pub fn board_state(&self) -> BoardState {
        self.state
            .boards
            .get(&self.config.board_id)
            .cloned()
            .unwrap_or_default()
    }

    fn board_mut(&mut self) -> &mut BoardState {
        self.state
            .boards
            .entry(self.config.board_id.clone())
            .or_default()
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

    fn list(&self) -> Result<Listing, SyncError> {
        let entries =
            std::fs::read_dir(&self.config.folder).map_err(|source| SyncError::Folder {
                path: self.config.folder.display().to_string(),
                source,
            })?;
        let mut listing = Listing {
            files: Vec::new(),
            bad_names: Vec::new(),
        };
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            if !is_candidate(&path) || !path.is_file() {
                continue;
            }
            match path.file_name().and_then(|n| n.to_str()) {
                Some(name) => {
                    let name = name.to_owned();
                    listing.files.push((path, name));
                }
                None => listing.bad_names.push(lossy_name(&path)),
            }
        }
        listing.files.sort();
        listing.bad_names.sort();
        Ok(listing)
    }

    /// The error that stops the sync, if `e` says the board is gone or closed to this token.
    fn board_error(&self, e: &miro_api::Error) -> Option<SyncError> {
        let board_id = self.config.board_id.clone();
        match e.status().map(|s| s.as_u16()) {
            Some(404) => Some(SyncError::BoardNotFound(board_id)),
            Some(401 | 403) if matches!(e, miro_api::Error::Api(_)) => Some(SyncError::Refused {
                board_id,
                message: e.to_string(),
            }),
            _ => None,
        }
    }

    /// Reads the board's images and forgets the files whose image is no longer there, so that
    /// they are uploaded again. Returns their names.
    pub async fn forget_deleted_images(&mut self) -> Result<Vec<String>, SyncError> {
        let mut on_board = HashSet::new();
        let mut images = self
            .api
            .get_items(&self.config.board_id)
            .type_(ItemType::Image)
            .limit(50)
            .stream();
        loop {
            match images.try_next().await {
                Ok(Some(item)) => {
                    on_board.insert(item.id);
                }
                Ok(None) => break,
                Err(miro_api_extended::PaginationError::Page { source, .. }) => {
                    return Err(self
                        .board_error(&source)
                        .unwrap_or_else(|| SyncError::Board(source.to_string())));
                }
                Err(e) => return Err(SyncError::Board(e.to_string())),
            }
        }
        let board = self.board_mut();
        let gone: Vec<String> = board
            .files
            .iter()
            .filter(|(_, entry)| !on_board.contains(&entry.item_id))
            .map(|(name, _)| name.clone())
            .collect();
        for name in &gone {
            board.files.remove(name);
        }
        if !gone.is_empty() {
            for name in &gone {
                self.handled.remove(&self.config.folder.join(name));
            }
            self.save()?;
        }
        Ok(gone)
    }

    /// Uploads every image of the folder not yet on the board, with a progress bar when
    /// `progress` is set. Files still being written are in [`Summary::deferred`].
    pub async fn sync_once(&mut self, progress: bool) -> Result<Summary, SyncError> {
        let listing = self.list()?;
        self.forget_deleted_images().await?;
        let mut summary = Summary {
            bad_names: listing.bad_names,
            ..Summary::default()
        };
        let before: HashMap<PathBuf, Option<Snapshot>> = listing
            .files
            .iter()
            .map(|(p, _)| (p.clone(), snapshot(p)))
            .collect();
        tokio::time::sleep(self.config.settle).await;
        let bar = if progress {
            let bar = ProgressBar::new(listing.files.len() as u64);
            if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}") {
                bar.set_style(style);
            }
            bar
        } else {
            ProgressBar::hidden()
        };
        for (path, name) in listing.files {
            bar.set_message(name.clone());
            let now = snapshot(&path);
            if now.is_some() && now != before[&path] {
                summary.deferred.push(name);
            } else {
                // A one-off pass reads every file (and reports an earlier refusal again).
                self.handled.remove(&path);
                self.process(&path, name, now, &mut summary).await?;
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        Ok(summary)
    }

    /// Handles one file whose size and time are `now` (settled); a file with the size and time
    /// it had when it was last settled is not read again.
    async fn process(
        &mut self,
        path: &Path,
        name: String,
        now: Option<Snapshot>,
        summary: &mut Summary,
    ) -> Result<Outcome, SyncError> {
        let Some(now) = now else {
            summary.gone.push(name);
            self.handled.remove(path);
            return Ok(Outcome::Gone);
        };
        if self.handled.get(path) == Some(&now) {
            return Ok(Outcome::Settled);
        }
        let outcome = self.upload_file(path, name, now, summary).await?;
        if outcome == Outcome::Settled {
            self.handled.insert(path.to_owned(), now);
        }
        Ok(outcome)
    }

    async fn upload_file(
        &mut self,
        path: &Path,
        name: String,
        now: Snapshot,
        summary: &mut Summary,
    ) -> Result<Outcome, SyncError> {
        if now.0 == 0 {
            summary.empty.push(name);
            return Ok(Outcome::Settled);
        }
        if now.0 > MAX_FILE_BYTES {
            summary.rejected.push((
                name,
                format!(
                    "{} bytes; Miro takes images up to 6 MB ({MAX_FILE_BYTES} bytes)",
                    now.0
                ),
            ));
            return Ok(Outcome::Settled);
        }
        let bytes = match tokio::fs::read(path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                summary.gone.push(name);
                return Ok(Outcome::Gone);
            }
            Err(e) => {
                summary.failed.push((name, format!("cannot read: {e}")));
                return Ok(Outcome::Retry);
            }
        };
        let hash = sha256_hex(&bytes);
        let board = self.board_mut();
        let previous = board.files.get(&name).cloned();
        if previous.as_ref().is_some_and(|e| e.sha256 == hash) {
            summary.unchanged.push(name);
            return Ok(Outcome::Settled);
        }
        let slot = board.next_slot;
        let result = match &previous {
            Some(old) => match self.replace(&old.item_id, &name, &bytes).await {
                // The image was deleted on the board: upload the file as a new one.
                Err(Failure::Permanent(e)) if e.status().map(|s| s.as_u16()) == Some(404) => {
                    self.upload(slot, &name, &bytes).await.map(|id| (id, true))
                }
                other => other.map(|()| (old.item_id.clone(), false)),
            },
            None => self.upload(slot, &name, &bytes).await.map(|id| (id, true)),
        };
        match result {
            Ok((item_id, new)) => {
                let board = self.board_mut();
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
                self.save()?;
                Ok(Outcome::Settled)
            }
            Err(Failure::Permanent(e)) => {
                if let Some(stop) = self.board_error(&e) {
                    return Err(stop);
                }
                summary
                    .rejected
                    .push((name, format!("Miro refused it (not retried): {e}")));
                Ok(Outcome::Settled)
            }
            Err(Failure::Transient(e)) => {
                summary.failed.push((name, e.to_string()));
                Ok(Outcome::Retry)
            }
        }
    }

    async fn with_retries<T, F, Fut>(&self, mut attempt: F) -> Result<T, Failure>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, miro_api::Error>>,
    {
        let mut delay = self.config.retry_delay;
        let mut tries = 0;
        loop {
            match attempt().await.map_err(classify) {
                Ok(v) => return Ok(v),
                Err(Failure::Transient(e)) if tries < self.config.retries => {
                    tries += 1;
                    eprintln!(
                        "upload failed ({e}); retry {tries} of {}",
                        self.config.retries
                    );
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(failure) => return Err(failure),
            }
        }
    }

    async fn upload(&self, slot: u64, name: &str, bytes: &[u8]) -> Result<String, Failure> {
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

    async fn replace(&self, item_id: &str, name: &str, bytes: &[u8]) -> Result<(), Failure> {
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
    /// it has settled; what failed in a way that may pass, or was still being written, is tried
    /// again on the next tick (every settle interval); every `board_check` the board is read
    /// and images deleted there are uploaded again. `on_pass` sees what each tick did, when it
    /// did something.
    pub async fn watch(
        &mut self,
        shutdown: impl Future<Output = ()>,
        mut on_pass: impl FnMut(&Summary),
    ) -> Result<(), SyncError> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<PathBuf>();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                // Opening, reading or closing a file unchanged is no change (and the sync's own
                // reads would wake it forever); a file closed after writing is.
                if matches!(event.kind, EventKind::Access(kind)
                    if kind != AccessKind::Close(AccessMode::Write))
                {
                    return;
                }
                for path in event.paths {
                    let _ = tx.send(path);
                }
            })?;
        watcher.watch(&self.config.folder, RecursiveMode::NonRecursive)?;
        // Every file present is looked at once (files an earlier pass handled, unchanged since,
        // are not read again), so nothing written between that pass and the watch's start is
        // missed, and what it deferred or failed is tried again.
        let listing = self.list()?;
        let mut pending: HashMap<PathBuf, Option<Snapshot>> =
            listing.files.into_iter().map(|(p, _)| (p, None)).collect();
        let mut bad_names: HashSet<String> = listing.bad_names.into_iter().collect();
        let mut tick = tokio::time::interval(self.config.settle);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut board_check = tokio::time::interval(self.config.board_check);
        board_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        board_check.tick().await; // the first tick is immediate; sync_once has just checked
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                Some(path) = rx.recv() => {
                    if is_candidate(&path) {
                        pending.insert(path, None);
                    }
                }
                _ = board_check.tick() => {
                    for name in self.forget_deleted_images().await? {
                        pending.insert(self.config.folder.join(name), None);
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
                        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                            // Reported once per name.
                            if bad_names.insert(lossy_name(&path)) {
                                summary.bad_names.push(lossy_name(&path));
                            }
                            pending.remove(&path);
                            continue;
                        };
                        let name = name.to_owned();
                        if now.is_some() && (pending[&path] != now) {
                            pending.insert(path, now); // new, or still changing
                            continue;
                        }
                        if now.is_none() && !self.handled.contains_key(&path)
                            && !self.board_state().files.contains_key(&name)
                        {
                            // Created and deleted between two ticks (a temporary file).
                            pending.remove(&path);
                            continue;
                        }
                        match self.process(&path, name, now, &mut summary).await? {
                            Outcome::Retry => {
                                pending.insert(path, None);
                            }
                            Outcome::Settled | Outcome::Gone => {
                                pending.remove(&path);
                            }
                        }
                    }
                    if !summary.is_empty() {
                        on_pass(&summary);
                    }
                }
            }
        }
        Ok(())
    }
}

/// The file name with bytes that are not UTF-8 shown as `?`.
fn lossy_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().replace('\u{FFFD}', "?"))
        .unwrap_or_default()
}
