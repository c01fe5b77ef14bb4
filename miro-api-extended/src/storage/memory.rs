//! [`MemoryStore`]: tokens in the process's memory.

use std::collections::HashMap;
use std::fmt;
use std::sync::RwLock;

use futures::future::BoxFuture;

use super::{StorageError, StoredTokens, TokenStore};

/// Tokens kept in memory, lost when the process exits. Each instance is separate: share one
/// instance (`Arc`) between the [`Miro`](crate::Miro) values of a process to coordinate their
/// refreshes; it cannot coordinate processes.
#[derive(Default)]
pub struct MemoryStore {
    users: RwLock<HashMap<String, StoredTokens>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, StoredTokens>> {
        // A panic elsewhere cannot leave a map half-updated: every write is one insert/remove.
        self.users.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, StoredTokens>> {
        self.users.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("users", &self.read().len())
            .finish()
    }
}

impl TokenStore for MemoryStore {
    fn get<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredTokens>, StorageError>> {
        Box::pin(async move { Ok(self.read().get(user_id).cloned()) })
    }

    fn put<'a>(
        &'a self,
        user_id: &'a str,
        record: &'a StoredTokens,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            self.write().insert(user_id.to_string(), record.clone());
            Ok(())
        })
    }

    fn remove<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            self.write().remove(user_id);
            Ok(())
        })
    }

    fn replace_if<'a>(
        &'a self,
        user_id: &'a str,
        expected: u64,
        new: Option<&'a StoredTokens>,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            let mut users = self.write();
            let matches = users.get(user_id).is_some_and(|s| s.version == expected);
            if matches {
                match new {
                    Some(record) => users.insert(user_id.to_string(), record.clone()),
                    None => users.remove(user_id),
                };
            }
            Ok(matches)
        })
    }
}
