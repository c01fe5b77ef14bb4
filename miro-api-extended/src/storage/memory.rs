//! [`MemoryStore`]: tokens in the process's memory.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use super::{StorageError, TokenState, TokenStore};
use crate::secret::RefreshToken;

/// Tokens kept in memory, lost when the process exits. Each instance is separate: share one
/// instance (`Arc`) between the [`Miro`](crate::Miro) values of a process to coordinate their
/// refreshes; it cannot coordinate processes.
#[derive(Default)]
pub struct MemoryStore {
    users: RwLock<HashMap<String, TokenState>>,
    /// Refresh leases: holder and end.
    leases: Mutex<HashMap<String, (String, Instant)>>,
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

    fn leases(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Instant)>> {
        // Every change is one insert/remove: a panic cannot leave the map inconsistent.
        self.leases.lock().unwrap_or_else(|e| e.into_inner())
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

    fn replace_if<'a>(
        &'a self,
        user_id: &'a str,
        expected: &'a RefreshToken,
        new: Option<&'a TokenState>,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            let mut users = self.write();
            let matches = users
                .get(user_id)
                .is_some_and(|s| s.refresh_token.as_ref() == Some(expected));
            if matches {
                match new {
                    Some(state) => users.insert(user_id.to_string(), state.clone()),
                    None => users.remove(user_id),
                };
            }
            Ok(matches)
        })
    }

    fn try_lease<'a>(
        &'a self,
        user_id: &'a str,
        holder: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            let now = Instant::now();
            let mut leases = self.leases();
            let free = match leases.get(user_id) {
                Some((h, until)) => h == holder || *until <= now,
                None => true,
            };
            if free {
                leases.insert(user_id.to_string(), (holder.to_string(), now + ttl));
            }
            Ok(free)
        })
    }

    fn release_lease<'a>(
        &'a self,
        user_id: &'a str,
        holder: &'a str,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            let mut leases = self.leases();
            if leases.get(user_id).is_some_and(|(h, _)| h == holder) {
                leases.remove(user_id);
            }
            Ok(())
        })
    }
}
