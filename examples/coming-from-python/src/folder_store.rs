//! A token store of your own, as the Python client's custom `Storage` subclass: here every
//! user's tokens are one JSON file in a folder (`<folder>/<user id>.json`).
//!
//! It implements [`TokenStore`] as the trait stands; the trait's docs spell out the contract
//! (a refresh lease per user, compare-and-set on the refresh token, durable writes). This store
//! serves one process: its lock and its leases live in that process.

use futures::future::BoxFuture;
use miro_api_extended::storage::{StorageError, TokenState, TokenStore};
use miro_api_extended::RefreshToken;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One JSON file per user in a folder.
#[derive(Debug)]
pub struct FolderStore {
    folder: PathBuf,
    /// Serialises the read-compare-write of [`TokenStore::replace_if`] with the other writes.
    lock: tokio::sync::Mutex<()>,
    /// Refresh leases: user id → (holder, end).
    leases: Mutex<HashMap<String, (String, Instant)>>,
}

fn failed(action: &str, e: impl std::fmt::Display) -> StorageError {
    // The message names the action and the OS error, never the file's content.
    StorageError::Other(format!("folder store: {action}: {e}").into())
}

impl FolderStore {
    /// A store in `folder` (created if missing).
    pub fn open(folder: impl Into<PathBuf>) -> Result<Self, StorageError> {
        let folder = folder.into();
        std::fs::create_dir_all(&folder).map_err(|e| failed("creating the folder", e))?;
        Ok(FolderStore {
            folder,
            lock: tokio::sync::Mutex::new(()),
            leases: Mutex::new(HashMap::new()),
        })
    }

    /// The file of `user_id`; user ids are Miro's numeric ids, so anything else is refused
    /// (no path can be built from it).
    pub fn path(&self, user_id: &str) -> Result<PathBuf, StorageError> {
        if user_id.is_empty() || !user_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(failed("user id", "not a Miro user id"));
        }
        Ok(self.folder.join(format!("{user_id}.json")))
    }

    async fn read(path: &Path) -> Result<Option<TokenState>, StorageError> {
        match tokio::fs::read(path).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| failed("reading the tokens", e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(failed("reading the tokens", e)),
        }
    }

    /// Writes `state` durably: a temporary file, synced, renamed over the old one.
    async fn write(path: &Path, state: &TokenState) -> Result<(), StorageError> {
        let json = serde_json::to_vec(state).map_err(|e| failed("encoding the tokens", e))?;
        let tmp = path.with_extension("json.tmp");
        let mut file = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| failed("writing the tokens", e))?;
        use tokio::io::AsyncWriteExt;
        file.write_all(&json)
            .await
            .map_err(|e| failed("writing the tokens", e))?;
        file.sync_all()
            .await
            .map_err(|e| failed("writing the tokens", e))?;
        tokio::fs::rename(&tmp, path)
            .await
            .map_err(|e| failed("replacing the tokens", e))
    }

    async fn delete(path: &Path) -> Result<(), StorageError> {
        match tokio::fs::remove_file(path).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(failed("removing the tokens", e))
            }
            _ => Ok(()),
        }
    }
}

impl TokenStore for FolderStore {
    fn get<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<TokenState>, StorageError>> {
        Box::pin(async move { Self::read(&self.path(user_id)?).await })
    }

    fn set<'a>(
        &'a self,
        user_id: &'a str,
        state: &'a TokenState,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            let path = self.path(user_id)?;
            let _guard = self.lock.lock().await;
            Self::write(&path, state).await
        })
    }

    fn remove<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            let path = self.path(user_id)?;
            let _guard = self.lock.lock().await;
            Self::delete(&path).await
        })
    }

    fn replace_if<'a>(
        &'a self,
        user_id: &'a str,
        expected: &'a RefreshToken,
        new: Option<&'a TokenState>,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            let path = self.path(user_id)?;
            let _guard = self.lock.lock().await;
            let current = Self::read(&path).await?;
            if current.and_then(|s| s.refresh_token).as_ref() != Some(expected) {
                return Ok(false);
            }
            match new {
                Some(state) => Self::write(&path, state).await?,
                None => Self::delete(&path).await?,
            }
            Ok(true)
        })
    }

    fn try_lease<'a>(
        &'a self,
        user_id: &'a str,
        holder: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let taken = leases
                .get(user_id)
                .is_some_and(|(h, end)| h != holder && *end > now);
            if !taken {
                leases.insert(user_id.to_owned(), (holder.to_owned(), now + ttl));
            }
            Ok(!taken)
        })
    }

    fn release_lease<'a>(
        &'a self,
        user_id: &'a str,
        holder: &'a str,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
            if leases.get(user_id).is_some_and(|(h, _)| h == holder) {
                leases.remove(user_id);
            }
            Ok(())
        })
    }
}
