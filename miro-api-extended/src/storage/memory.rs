//! [`MemoryStore`]: tokens in the process's memory.

use std::collections::HashMap;
use std::fmt;
use std::sync::RwLock;

use futures::future::BoxFuture;

use super::{StorageError, TokenState, TokenStore};

/// Tokens kept in memory, lost when the process exits. Each instance is separate.
#[derive(Default)]
pub struct MemoryStore {
    users: RwLock<HashMap<String, TokenState>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, TokenState>> {
        // A panic elsewhere cannot leave a map half-updated: every write is one insert/remove.
        self.users.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, TokenState>> {
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
    ) -> BoxFuture<'a, Result<Option<TokenState>, StorageError>> {
        Box::pin(async move { Ok(self.read().get(user_id).cloned()) })
    }

    fn set<'a>(
        &'a self,
        user_id: &'a str,
        state: &'a TokenState,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            self.write().insert(user_id.to_string(), state.clone());
            Ok(())
        })
    }

    fn remove<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            self.write().remove(user_id);
            Ok(())
        })
    }
}
