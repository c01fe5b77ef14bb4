//! A token store of your own, as the Python client's custom `Storage` subclass: here every
//! user's tokens are one JSON file in a folder (`<folder>/<user id>.json`).
//!
//! It implements [`TokenStore`] as the trait stands; the trait's docs spell out the contract
//! (a compare-and-set on each record's version, durable writes). This store serves one
//! process: its lock lives in that process.

use futures::future::BoxFuture;
use miro_api_extended::storage::{StorageError, StoredTokens, TokenState, TokenStore};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One JSON file per user in a folder.
#[derive(Debug)]
pub struct FolderStore {
    folder: PathBuf,
    /// Serialises the read-compare-write of [`TokenStore::replace_if`] with the other writes.
    lock: tokio::sync::Mutex<()>,
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

    /// The record in the file: the token fields, plus `version` and `marker`.
    async fn read(path: &Path) -> Result<Option<StoredTokens>, StorageError> {
        let bytes = match tokio::fs::read(path).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(failed("reading the tokens", e)),
        };
        let mut json: Value = serde_json::from_slice(&bytes)
            .map_err(|e| failed("reading the tokens", format!("{:?}", e.classify())))?;
        let version = json.get("version").and_then(Value::as_u64).unwrap_or(0);
        let marker = json
            .get("marker")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(fields) = json.as_object_mut() {
            fields.remove("version");
            fields.remove("marker");
        }
        let state: TokenState = serde_json::from_value(json)
            .map_err(|e| failed("reading the tokens", format!("{:?}", e.classify())))?;
        Ok(Some(StoredTokens::from_parts(state, version, marker)))
    }

    /// Writes `record` durably: a temporary file, synced, renamed over the old one.
    async fn write(path: &Path, record: &StoredTokens) -> Result<(), StorageError> {
        let mut json =
            serde_json::to_value(&record.state).map_err(|e| failed("encoding the tokens", e))?;
        if let Some(fields) = json.as_object_mut() {
            fields.insert("version".into(), record.version.into());
            if let Some(marker) = &record.marker {
                fields.insert("marker".into(), marker.clone().into());
            }
        }
        let json = serde_json::to_vec(&json).map_err(|e| failed("encoding the tokens", e))?;
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
    ) -> BoxFuture<'a, Result<Option<StoredTokens>, StorageError>> {
        Box::pin(async move { Self::read(&self.path(user_id)?).await })
    }

    fn put<'a>(
        &'a self,
        user_id: &'a str,
        record: &'a StoredTokens,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            let path = self.path(user_id)?;
            let _guard = self.lock.lock().await;
            Self::write(&path, record).await
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
        expected: u64,
        new: Option<&'a StoredTokens>,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            let path = self.path(user_id)?;
            let _guard = self.lock.lock().await;
            let current = Self::read(&path).await?;
            if current.map(|r| r.version) != Some(expected) {
                return Ok(false);
            }
            match new {
                Some(record) => Self::write(&path, record).await?,
                None => Self::delete(&path).await?,
            }
            Ok(true)
        })
    }
}
