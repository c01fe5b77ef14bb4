//! [`FileStore`]: every user's tokens in one JSON file, replaced atomically.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::{blocking, StorageError, StoredTokens, TokenState, TokenStore};

const VERSION: u32 = 1;

/// The file's content.
#[derive(Serialize, Deserialize, Default)]
struct Body {
    version: u32,
    users: BTreeMap<String, Entry>,
}

/// One user's record: the token fields, then the version and the marker (absent in files
/// written before they existed: version 0, no marker).
#[derive(Serialize, Deserialize, Clone)]
struct Entry {
    #[serde(flatten)]
    state: TokenState,
    #[serde(default)]
    record_version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    marker: Option<String>,
}

impl From<Entry> for StoredTokens {
    fn from(e: Entry) -> Self {
        StoredTokens::from_parts(e.state, e.record_version, e.marker)
    }
}

impl From<&StoredTokens> for Entry {
    fn from(r: &StoredTokens) -> Self {
        Entry {
            state: r.state.clone(),
            record_version: r.version,
            marker: r.marker.clone(),
        }
    }
}

/// Tokens in one JSON file that only its owner can read (mode 0600 on Unix).
///
/// Every change writes a new temporary file beside it, flushes it to disk, renames it over the
/// old one and flushes the folder: a crash at any point leaves either the old file or the new
/// one, never a mix, and a half-written temporary file never replaces the good one. Reads go
/// to the file each time, so a restarted process sees what the last one stored.
///
/// Every change (read, modify, replace) holds an exclusive OS lock (`flock`) on a lock file
/// beside the store (`.NAME.lock`), so several `FileStore`s, in one process or in several
/// processes on one machine, can share a file without losing writes or their compare-and-set. (Not on network file systems whose `flock` is
/// not shared between machines; on non-Unix systems only one `FileStore` may use a file.)
pub struct FileStore {
    path: Arc<PathBuf>,
    write: Arc<tokio::sync::Mutex<()>>,
}

impl fmt::Debug for FileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.path)
            .finish()
    }
}

fn io_error<'a>(
    path: &'a Path,
    action: &'static str,
) -> impl FnOnce(io::Error) -> StorageError + 'a {
    move |source| StorageError::Io {
        path: path.to_path_buf(),
        action,
        source,
    }
}

impl FileStore {
    /// Opens the store at `path`; the file is created by the first write. Its folder must
    /// exist. An existing file must hold a token store (it is never overwritten otherwise),
    /// gets its permissions tightened to 0600 if they were looser, and temporary files left by
    /// an interrupted write are removed (under the OS lock, so never a file another writer is
    /// still writing).
    pub async fn open(path: impl Into<PathBuf>) -> Result<Self, StorageError> {
        let path = path.into();
        let checked = path.clone();
        blocking(move || {
            let dir = folder_of(&checked);
            let meta = fs::metadata(&dir).map_err(io_error(&dir, "open the folder"))?;
            if !meta.is_dir() {
                return Err(StorageError::Io {
                    path: dir,
                    action: "open the folder",
                    source: io::Error::new(io::ErrorKind::NotADirectory, "not a folder"),
                });
            }
            let _lock = OsLock::acquire(&checked)?;
            remove_leftovers(&checked)?;
            read(&checked)?;
            tighten_permissions(&checked)?;
            Ok(())
        })
        .await?;
        Ok(FileStore {
            path: Arc::new(path),
            write: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads, changes and replaces the file (when `f` says it changed something), holding
    /// this instance's lock and the OS lock until the change is on disk (even if the caller
    /// stops waiting). `f` gives whether it changed something, and the answer.
    async fn change<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        F: FnOnce(&mut Body) -> (bool, T) + Send + 'static,
        T: Send + 'static,
    {
        let guard = self.write.clone().lock_owned().await;
        let path = self.path.clone();
        blocking(move || {
            let _guard = guard;
            let _lock = OsLock::acquire(&path)?;
            let mut body = read_body(&path)?;
            let (changed, answer) = f(&mut body);
            if changed {
                write(&path, &body)?;
            }
            Ok(answer)
        })
        .await
    }
}

fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn temp_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tokens".to_string());
    format!(".{name}.tmp-")
}

/// The lock file's path: `.NAME.lock` beside the store.
fn lock_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tokens".to_string());
    folder_of(path).join(format!(".{name}.lock"))
}

/// An exclusive OS lock on the store's lock file, held until dropped (closing the file
/// releases it, also when the process dies).
struct OsLock {
    _file: File,
}

impl OsLock {
    fn acquire(path: &Path) -> Result<OsLock, StorageError> {
        let lock = lock_path(path);
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options
            .open(&lock)
            .map_err(io_error(&lock, "open the lock file"))?;
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            loop {
                // SAFETY: flock on a file descriptor this function owns; no memory is shared.
                let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
                if rc == 0 {
                    break;
                }
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(io_error(&lock, "lock the lock file")(e));
                }
            }
        }
        Ok(OsLock { _file: file })
    }
}

/// The users in the file; none when it does not exist yet.
fn read(path: &Path) -> Result<BTreeMap<String, Entry>, StorageError> {
    read_body(path).map(|b| b.users)
}

/// The file's content; an empty body when it does not exist yet.
fn read_body(path: &Path) -> Result<Body, StorageError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(Body {
                version: VERSION,
                ..Body::default()
            })
        }
        Err(e) => return Err(io_error(path, "read the file")(e)),
    };
    let corrupt = |reason: String| StorageError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    // The serde error names a position, never the content.
    let body: Body = serde_json::from_slice(&bytes).map_err(|e| {
        corrupt(format!(
            "{:?} error at line {}, column {}",
            e.classify(),
            e.line(),
            e.column()
        ))
    })?;
    if body.version != VERSION {
        return Err(corrupt(format!("unknown version {}", body.version)));
    }
    Ok(body)
}

/// Replaces the file: temporary file (0600), write, fsync, rename, fsync of the folder.
fn write(path: &Path, body: &Body) -> Result<(), StorageError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = folder_of(path);
    let temp = dir.join(format!(
        "{}{}-{}",
        temp_prefix(path),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let bytes = serde_json::to_vec_pretty(body).map_err(|e| StorageError::Other(Box::new(e)))?;

    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&temp)
        .map_err(io_error(&temp, "create the temporary file"))?;
    let written = file
        .write_all(&bytes)
        .and_then(|()| file.sync_all())
        .map_err(io_error(&temp, "write the temporary file"));
    drop(file);
    let renamed = written.and_then(|()| {
        fs::rename(&temp, path).map_err(io_error(path, "rename the temporary file over the store"))
    });
    if let Err(e) = renamed {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    sync_folder(&dir)
}

#[cfg(unix)]
fn sync_folder(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir, "flush the folder"))
}

#[cfg(not(unix))]
fn sync_folder(_dir: &Path) -> Result<(), StorageError> {
    Ok(())
}

/// Removes temporary files an interrupted write left beside the store.
fn remove_leftovers(path: &Path) -> Result<(), StorageError> {
    let dir = folder_of(path);
    let prefix = temp_prefix(path);
    let entries = fs::read_dir(&dir).map_err(io_error(&dir, "list the folder"))?;
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            tracing::warn!(file = %entry.path().display(), "removing the temporary file of an interrupted token store write");
            let _ = fs::remove_file(entry.path());
        }
    }
    Ok(())
}

#[cfg(unix)]
fn tighten_permissions(path: &Path) -> Result<(), StorageError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error(path, "read the file's permissions")(e)),
    };
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(file = %path.display(), "the token store was readable by others; setting mode 0600");
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .map_err(io_error(path, "set the file's permissions"))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn tighten_permissions(_path: &Path) -> Result<(), StorageError> {
    Ok(())
}

impl TokenStore for FileStore {
    fn get<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredTokens>, StorageError>> {
        Box::pin(async move {
            let path = self.path.clone();
            let user_id = user_id.to_string();
            blocking(move || Ok(read(&path)?.remove(&user_id).map(StoredTokens::from))).await
        })
    }

    fn put<'a>(
        &'a self,
        user_id: &'a str,
        record: &'a StoredTokens,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        let user_id = user_id.to_string();
        let entry = Entry::from(record);
        Box::pin(self.change(move |body| {
            body.users.insert(user_id, entry);
            (true, ())
        }))
    }

    fn remove<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        let user_id = user_id.to_string();
        Box::pin(self.change(move |body| (body.users.remove(&user_id).is_some(), ())))
    }

    fn replace_if<'a>(
        &'a self,
        user_id: &'a str,
        expected: u64,
        new: Option<&'a StoredTokens>,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        let user_id = user_id.to_string();
        let new = new.map(Entry::from);
        Box::pin(self.change(move |body| {
            let matches = body
                .users
                .get(&user_id)
                .is_some_and(|e| e.record_version == expected);
            if matches {
                match new {
                    Some(entry) => body.users.insert(user_id, entry),
                    None => body.users.remove(&user_id),
                };
            }
            (matches, matches)
        }))
    }
}
