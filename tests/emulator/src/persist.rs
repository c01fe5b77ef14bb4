//! The state file: boards (with their members, items, uploaded files, tags, connectors,
//! groups and comment threads) and the organisation, written as one JSON document and read
//! back at start.
//!
//! Saving: every successful request other than `GET`/`HEAD`/`OPTIONS` counts as a change
//! ([`note_changes`]); a background task writes the whole state [`STATE_SAVE_DELAY`] after
//! the first unsaved change (changes in between join that write), and shutting down writes
//! what is left. A write goes to a temporary file in the same directory, is flushed to disk
//! and renamed over the state file, so the file is always either the old or the new state.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use bytes::Bytes;
use indexmap::IndexMap;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{watch, Notify};

use crate::app::{App, Shared};
use crate::error::StateError;
use crate::state::{Board, Item, Org, Store, Stored, Team, Thread, UploadedFile};

/// How long after the first unsaved change the state file is written (changes made
/// meanwhile are written with it). A process killed without a shutdown loses at most the
/// changes of this last interval.
pub const STATE_SAVE_DELAY: Duration = Duration::from_millis(200);

/// The `format` of a state file.
const FORMAT: &str = "miro-emulator-state";
/// The format version written; files of a newer version are refused.
const VERSION: u64 = 1;

/// The state file of a running emulator and what of the state it holds.
#[derive(Debug)]
pub(crate) struct Persist {
    path: PathBuf,
    /// Changes counted so far.
    changes: AtomicU64,
    /// The change count the file holds; its lock also keeps writes one at a time.
    saved: Mutex<u64>,
    wake: Notify,
}

impl Persist {
    pub(crate) fn new(path: PathBuf) -> Self {
        Persist {
            path,
            changes: AtomicU64::new(0),
            saved: Mutex::new(0),
            wake: Notify::new(),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Counts a change and wakes the saver.
    pub(crate) fn changed(&self) {
        self.changes.fetch_add(1, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Writes the state when it changed since the last write (or always, with `force`);
    /// `true` when it wrote. After a failed write the changes stay unsaved.
    pub(crate) fn save(&self, app: &App, force: bool) -> Result<bool, StateError> {
        let mut saved = self.saved.lock();
        // Read before the snapshot: a change counted after this is either in the snapshot
        // or saved by the next write, never lost.
        let changes = self.changes.load(Ordering::SeqCst);
        if changes == *saved && !force {
            return Ok(false);
        }
        let bytes = encode(app).map_err(|e| StateError::Write(std::io::Error::other(e)))?;
        write_atomic(&self.path, &bytes).map_err(StateError::Write)?;
        *saved = changes;
        Ok(true)
    }

    /// Whether changes wait to be written.
    pub(crate) fn dirty(&self) -> bool {
        self.changes.load(Ordering::SeqCst) != *self.saved.lock()
    }
}

/// Middleware: counts every successful request that may have changed the state.
pub(crate) async fn note_changes(State(app): State<Shared>, req: Request, next: Next) -> Response {
    let reads = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let resp = next.run(req).await;
    if !reads && resp.status().is_success() {
        if let Some(p) = &app.persist {
            p.changed();
        }
    }
    resp
}

/// The saver task: writes [`STATE_SAVE_DELAY`] after a change until told to stop.
pub(crate) async fn saver(app: Shared, mut stop: watch::Receiver<bool>) {
    let Some(persist) = app.persist.as_ref() else {
        return;
    };
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = persist.wake.notified() => {}
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(STATE_SAVE_DELAY) => {}
        }
        let app = app.clone();
        let done = tokio::task::spawn_blocking(move || {
            let persist = app.persist.as_ref().expect("checked above");
            persist
                .save(&app, false)
                .map_err(|e| (persist.path().to_owned(), e))
        })
        .await;
        match done {
            Ok(Ok(_)) => {}
            Ok(Err((path, e))) => {
                tracing::error!(path = %path.display(), error = %e, "cannot save the emulator's state; retrying after the next change");
            }
            Err(e) => tracing::error!(error = %e, "the emulator's state saver failed"),
        }
    }
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, flushed, renamed over it.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".miro-emulator-state-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // Make the rename itself durable.
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The state file's document. Maps are JSON objects keyed by id, in the store's order.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Snapshot<'a> {
    format: Cow<'a, str>,
    version: u64,
    /// The base URL the links in the stored objects were made with.
    base_url: Cow<'a, str>,
    /// How many ids were handed out.
    next_id: u64,
    org: OrgSnap<'a>,
    boards: IndexMap<String, BoardSnap<'a>>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OrgSnap<'a> {
    id: Cow<'a, str>,
    members: IndexMap<String, Cow<'a, Value>>,
    teams: IndexMap<String, TeamSnap<'a>>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TeamSnap<'a> {
    team: Cow<'a, Value>,
    members: IndexMap<String, Cow<'a, Value>>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BoardSnap<'a> {
    board: Cow<'a, Value>,
    members: IndexMap<String, Cow<'a, Value>>,
    items: IndexMap<String, ItemSnap<'a>>,
    tags: IndexMap<String, Cow<'a, Value>>,
    connectors: IndexMap<String, Cow<'a, Value>>,
    /// Group id to the ids of its items.
    groups: IndexMap<String, Vec<String>>,
    /// Comment threads by id, oldest first.
    comments: IndexMap<String, Cow<'a, Value>>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ItemSnap<'a> {
    item: Cow<'a, Value>,
    kind: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parent: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file: Option<FileSnap<'a>>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FileSnap<'a> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file_name: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_type: Option<Cow<'a, str>>,
    /// The bytes, base64 (standard alphabet, padded).
    bytes: String,
}

fn borrowed<'a, K: ToString>(
    it: impl Iterator<Item = (K, &'a Value)>,
) -> IndexMap<String, Cow<'a, Value>> {
    it.map(|(k, v)| (k.to_string(), Cow::Borrowed(v))).collect()
}

/// The state as the file's JSON, read under the store's lock.
fn encode(app: &App) -> serde_json::Result<Vec<u8>> {
    let store = app.store.read();
    // After taking the locks: every id in the snapshot was handed out before this.
    let next_id = app.ids.position();
    let b64 = base64::engine::general_purpose::STANDARD;
    let boards = store
        .boards
        .iter()
        .map(|(id, b)| {
            let items = b
                .items
                .iter()
                .map(|(iid, it)| {
                    let snap = ItemSnap {
                        item: Cow::Borrowed(&it.stored.json),
                        kind: Cow::Borrowed(&it.kind),
                        parent: it.parent.map(|p| p.to_string()),
                        tags: it.tags.iter().map(u64::to_string).collect(),
                        file: it.file.as_ref().map(|f| FileSnap {
                            file_name: f.file_name.as_deref().map(Cow::Borrowed),
                            content_type: f.content_type.as_deref().map(Cow::Borrowed),
                            bytes: b64.encode(&f.bytes),
                        }),
                    };
                    (iid.to_string(), snap)
                })
                .collect();
            let snap = BoardSnap {
                board: Cow::Borrowed(&b.stored.json),
                members: borrowed(b.members.iter()),
                items,
                tags: borrowed(b.tags.iter()),
                connectors: borrowed(b.connectors.iter().map(|(k, c)| (k, &c.json))),
                groups: b
                    .groups
                    .iter()
                    .map(|(g, m)| (g.to_string(), m.iter().map(u64::to_string).collect()))
                    .collect(),
                comments: b
                    .comments
                    .iter()
                    .map(|(k, t)| (k.clone(), Cow::Owned(t.to_json())))
                    .collect(),
            };
            (id.clone(), snap)
        })
        .collect();
    let org = OrgSnap {
        id: Cow::Borrowed(&store.org.id),
        members: borrowed(store.org.members.iter().map(|(k, s)| (k, &s.json))),
        teams: store
            .org
            .teams
            .iter()
            .map(|(k, t)| {
                let snap = TeamSnap {
                    team: Cow::Borrowed(&t.stored.json),
                    members: borrowed(t.members.iter().map(|(k, s)| (k, &s.json))),
                };
                (k.to_string(), snap)
            })
            .collect(),
    };
    serde_json::to_vec(&Snapshot {
        format: Cow::Borrowed(FORMAT),
        version: VERSION,
        base_url: Cow::Borrowed(&app.base_url),
        next_id,
        org,
        boards,
    })
}

/// A state read from a file, ready to be put in place.
pub(crate) struct Loaded {
    pub store: Store,
    pub next_id: u64,
}

/// Reads the state file at `path`: `Ok(None)` when there is none (a fresh start).
pub(crate) fn load(path: &Path, base_url: &str) -> Result<Option<Loaded>, StateError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StateError::Read(e)),
    };
    decode(&bytes, base_url).map(Some)
}

/// Decodes a state file's bytes; links made with another base URL are rewritten to `base_url`.
fn decode(bytes: &[u8], base_url: &str) -> Result<Loaded, StateError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(StateError::Corrupt("the file is empty".into()));
    }
    /// The fields that tell a state file and its version, whatever else it holds.
    #[derive(Deserialize)]
    struct Header {
        format: Option<String>,
        version: Option<u64>,
    }
    let corrupt = |e: serde_json::Error| StateError::Corrupt(e.to_string());
    let header: Header = serde_json::from_slice(bytes).map_err(corrupt)?;
    if header.format.as_deref() != Some(FORMAT) {
        return Err(StateError::Corrupt(format!(
            "its \"format\" is not \"{FORMAT}\""
        )));
    }
    match header.version {
        Some(VERSION) => {}
        Some(found) if found > VERSION => {
            return Err(StateError::Version {
                found,
                supported: VERSION,
            })
        }
        _ => return Err(StateError::Corrupt("unknown format version".into())),
    }
    let snap: Snapshot<'static> = serde_json::from_slice(bytes).map_err(corrupt)?;
    let rebase = Rebase::new(&snap.base_url, base_url);
    let value = |v: Cow<'static, Value>| Stored::new(rebase.apply(v.into_owned()));

    let mut store = Store {
        org: Org {
            id: snap.org.id.into_owned(),
            members: BTreeMap::new(),
            teams: BTreeMap::new(),
        },
        ..Store::default()
    };
    for (k, m) in snap.org.members {
        store
            .org
            .members
            .insert(id(&k, "organisation member")?, value(m));
    }
    for (k, t) in snap.org.teams {
        let mut members = BTreeMap::new();
        for (mk, m) in t.members {
            members.insert(id(&mk, "team member")?, value(m));
        }
        let team = Team {
            stored: value(t.team),
            members,
        };
        store.org.teams.insert(id(&k, "team")?, team);
    }
    for (board_id, b) in snap.boards {
        let mut board = Board::new(rebase.apply(b.board.into_owned()));
        for (k, m) in b.members {
            board
                .members
                .insert(id(&k, "board member")?, rebase.apply(m.into_owned()));
        }
        for (k, it) in b.items {
            let file = match it.file {
                None => None,
                Some(f) => Some(UploadedFile {
                    file_name: f.file_name.map(Cow::into_owned),
                    content_type: f.content_type.map(Cow::into_owned),
                    bytes: Bytes::from(
                        base64::engine::general_purpose::STANDARD
                            .decode(f.bytes.as_bytes())
                            .map_err(|e| {
                                StateError::Corrupt(format!("the file of item {k}: {e}"))
                            })?,
                    ),
                }),
            };
            let item = Item {
                stored: value(it.item),
                kind: it.kind.into_owned(),
                parent: it.parent.as_deref().map(|p| id(p, "parent")).transpose()?,
                tags: it
                    .tags
                    .iter()
                    .map(|t| id(t, "tag"))
                    .collect::<Result<_, _>>()?,
                file,
            };
            board.items.insert(id(&k, "item")?, item);
        }
        for (k, t) in b.tags {
            board
                .tags
                .insert(id(&k, "tag")?, rebase.apply(t.into_owned()));
        }
        for (k, c) in b.connectors {
            board.connectors.insert(id(&k, "connector")?, value(c));
        }
        for (k, members) in b.groups {
            let members = members
                .iter()
                .map(|m| id(m, "group item"))
                .collect::<Result<_, _>>()?;
            board.groups.insert(id(&k, "group")?, members);
        }
        for (k, t) in b.comments {
            let thread = Thread::from_json(rebase.apply(t.into_owned()))
                .ok_or_else(|| StateError::Corrupt(format!("comment thread {k}")))?;
            board.comments.insert(k, thread);
        }
        store.boards.insert(board_id, board);
    }
    Ok(Loaded {
        store,
        next_id: snap.next_id,
    })
}

/// Parses a numeric id of the file.
fn id(s: &str, what: &str) -> Result<u64, StateError> {
    s.parse()
        .map_err(|_| StateError::Corrupt(format!("{what} id {s:?} is not a number")))
}

/// Rewrites URLs that start with the old base URL to start with the new one.
struct Rebase<'a> {
    from: &'a str,
    to: &'a str,
}

impl<'a> Rebase<'a> {
    fn new(from: &'a str, to: &'a str) -> Self {
        Rebase { from, to }
    }

    fn apply(&self, mut v: Value) -> Value {
        if self.from != self.to && !self.from.is_empty() {
            self.walk(&mut v);
        }
        v
    }

    fn walk(&self, v: &mut Value) {
        match v {
            Value::String(s) => {
                if let Some(rest) = s.strip_prefix(self.from) {
                    // `http://127.0.0.1:80` must not match `http://127.0.0.1:8080/...`.
                    if rest.is_empty() || rest.starts_with(['/', '?', '#']) {
                        *s = format!("{}{rest}", self.to);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.walk(x)),
            Value::Object(o) => o.values_mut().for_each(|x| self.walk(x)),
            _ => {}
        }
    }
}

/// Puts a loaded state in place of the emulator's (at start, before serving).
pub(crate) fn install(app: &App, loaded: Loaded) {
    *app.store.write() = loaded.store;
    app.ids.resume_at(loaded.next_id);
}

/// [`save_blocking`] on a blocking thread.
pub(crate) async fn save_now(app: &Shared, force: bool) -> Result<bool, crate::Error> {
    let Some(p) = &app.persist else {
        return Ok(false);
    };
    let path = p.path().to_owned();
    let app = app.clone();
    match tokio::task::spawn_blocking(move || save_blocking(&app, force)).await {
        Ok(r) => r,
        Err(e) => Err(crate::Error::State {
            path,
            source: StateError::Write(std::io::Error::other(e.to_string())),
        }),
    }
}

/// Writes the state now when there is a state file (and, without `force`, unsaved changes).
pub(crate) fn save_blocking(app: &Arc<App>, force: bool) -> Result<bool, crate::Error> {
    match &app.persist {
        None => Ok(false),
        Some(p) => p.save(app, force).map_err(|source| crate::Error::State {
            path: p.path().to_owned(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebase_rewrites_only_whole_base_urls() {
        let r = Rebase::new("http://127.0.0.1:80", "http://127.0.0.1:9");
        let v = r.apply(serde_json::json!({
            "a": "http://127.0.0.1:80/v2/boards/x",
            "b": ["http://127.0.0.1:8080/v2/boards/x", "http://127.0.0.1:80"],
            "c": "see http://127.0.0.1:80/v2",
        }));
        assert_eq!(v["a"], "http://127.0.0.1:9/v2/boards/x");
        assert_eq!(v["b"][0], "http://127.0.0.1:8080/v2/boards/x");
        assert_eq!(v["b"][1], "http://127.0.0.1:9");
        assert_eq!(v["c"], "see http://127.0.0.1:80/v2");
    }

    #[test]
    fn damaged_files_are_refused() {
        let refused = |bytes: &[u8]| decode(bytes, "http://x").err().map(|e| e.to_string());
        assert!(refused(b"").unwrap().contains("empty"));
        assert!(refused(b"{\"format\":").is_some());
        assert!(refused(b"[1,2]").is_some());
        assert!(refused(b"{\"format\":\"other\",\"version\":1}")
            .unwrap()
            .contains("format"));
        assert!(
            refused(b"{\"format\":\"miro-emulator-state\",\"version\":99}")
                .unwrap()
                .contains("newer")
        );
        // The right header with a missing field.
        assert!(refused(b"{\"format\":\"miro-emulator-state\",\"version\":1}").is_some());
    }
}
