//! A token store with faults on the writes of refreshed tokens (records without a marker):
//! refused, applied with the acknowledgement lost, or committed late.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use miro_api_extended::storage::{MemoryStore, StorageError, StoredTokens, TokenState, TokenStore};

/// How a [`Faulty`] store treats the next writes of refreshed tokens (records without a
/// marker).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum WriteFault {
    /// Refused (not applied).
    Refuse,
    /// Applied, but the caller gets an error (the acknowledgement is lost).
    LoseAck,
    /// The caller gets an error at once; the write commits 300 ms later.
    CommitLate,
}

/// A store over another with faults on the writes of refreshed tokens.
pub struct Faulty<S> {
    inner: Arc<S>,
    /// Every write of refreshed tokens fails this way while set.
    pub always: Mutex<Option<WriteFault>>,
    /// The next `n` writes of refreshed tokens fail this way.
    pub next: Mutex<Option<(WriteFault, usize)>>,
    /// How many writes met a fault.
    pub failures: AtomicUsize,
    /// Every record offered to the store.
    pub offered: Mutex<Vec<TokenState>>,
    /// Writes wait this long first.
    pub slow_writes_ms: AtomicUsize,
}

impl Faulty<MemoryStore> {
    /// Over a new [`MemoryStore`].
    pub fn memory() -> Self {
        Faulty::over(MemoryStore::new())
    }
}

impl<S> Faulty<S> {
    /// Over `store`, with no faults yet.
    pub fn over(store: S) -> Self {
        Faulty {
            inner: Arc::new(store),
            always: Mutex::new(None),
            next: Mutex::new(None),
            failures: AtomicUsize::new(0),
            offered: Mutex::new(Vec::new()),
            slow_writes_ms: AtomicUsize::new(0),
        }
    }

    fn fault(&self) -> Option<WriteFault> {
        let mut next = self.next.lock().unwrap();
        let fault = match &mut *next {
            Some((f, n)) if *n > 0 => {
                *n -= 1;
                Some(*f)
            }
            _ => *self.always.lock().unwrap(),
        };
        if fault.is_some() {
            self.failures.fetch_add(1, Ordering::SeqCst);
        }
        fault
    }
}

fn busy() -> StorageError {
    StorageError::Other("database is locked (SQLITE_BUSY)".into())
}

impl<S: TokenStore + 'static> TokenStore for Faulty<S> {
    fn get<'a>(&'a self, u: &'a str) -> BoxFuture<'a, Result<Option<StoredTokens>, StorageError>> {
        self.inner.get(u)
    }
    fn put<'a>(
        &'a self,
        u: &'a str,
        r: &'a StoredTokens,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        self.offered.lock().unwrap().push(r.state.clone());
        self.inner.put(u, r)
    }
    fn remove<'a>(&'a self, u: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        self.inner.remove(u)
    }
    fn replace_if<'a>(
        &'a self,
        u: &'a str,
        expected: u64,
        new: Option<&'a StoredTokens>,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            let slow = self.slow_writes_ms.load(Ordering::SeqCst);
            if new.is_some() && slow > 0 {
                tokio::time::sleep(Duration::from_millis(slow as u64)).await;
            }
            if let Some(r) = new {
                self.offered.lock().unwrap().push(r.state.clone());
            }
            // Only writes of refreshed tokens (no marker) meet the faults.
            let refreshed = new.is_some_and(|r| r.marker.is_none());
            let fault = if refreshed { self.fault() } else { None };
            match fault {
                None => self.inner.replace_if(u, expected, new).await,
                Some(WriteFault::Refuse) => Err(busy()),
                Some(WriteFault::LoseAck) => {
                    self.inner.replace_if(u, expected, new).await?;
                    Err(StorageError::Other(
                        "connection reset before the answer".into(),
                    ))
                }
                Some(WriteFault::CommitLate) => {
                    let (inner, user, record) = (self.inner.clone(), u.to_string(), new.cloned());
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        let _ = inner.replace_if(&user, expected, record.as_ref()).await;
                    });
                    Err(StorageError::TimedOut {
                        action: "write",
                        limit: Duration::from_millis(1),
                    })
                }
            }
        })
    }
}
