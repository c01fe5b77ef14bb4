//! [`SqliteStore`]: tokens in a SQLite database (cargo feature `sqlite`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use rusqlite::{params, Connection, OptionalExtension};

use super::{blocking, to_unix, Columns, StorageError, StoredTokens, TokenStore};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS miro_tokens (
    user_id       TEXT PRIMARY KEY NOT NULL,
    access_token  TEXT NOT NULL,
    refresh_token TEXT,
    expires_at    INTEGER,
    team_id       TEXT,
    scope         TEXT,
    updated_at    INTEGER NOT NULL,
    version       INTEGER NOT NULL DEFAULT 0,
    marker        TEXT,
    obtained_at   INTEGER
)";

/// Columns added since the first schema, for databases created before them.
const ADDED_COLUMNS: [(&str, &str); 3] = [
    (
        "version",
        "ALTER TABLE miro_tokens ADD COLUMN version INTEGER NOT NULL DEFAULT 0",
    ),
    ("marker", "ALTER TABLE miro_tokens ADD COLUMN marker TEXT"),
    (
        "obtained_at",
        "ALTER TABLE miro_tokens ADD COLUMN obtained_at INTEGER",
    ),
];

/// Creates the table, or adds the columns a table from an earlier version lacks.
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)?;
    let mut columns = Vec::new();
    let mut info = conn.prepare("SELECT name FROM pragma_table_info('miro_tokens')")?;
    let mut rows = info.query([])?;
    while let Some(row) = rows.next()? {
        columns.push(row.get::<_, String>(0)?);
    }
    for (name, ddl) in ADDED_COLUMNS {
        if !columns.iter().any(|c| c == name) {
            conn.execute_batch(ddl)?;
        }
    }
    Ok(())
}

/// Tokens in a SQLite database file (created with mode 0600 on Unix; SQLite gives its journal
/// the same mode). Each write is a transaction that is on disk when it returns; several
/// processes on one machine can share the file, and their refreshes are coordinated through
/// the compare-and-set on each row's `version`.
pub struct SqliteStore {
    path: Arc<PathBuf>,
    conn: Arc<Mutex<Connection>>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (or creates) the database at `path` and its `miro_tokens` table.
    pub async fn open(path: impl Into<PathBuf>) -> Result<Self, StorageError> {
        let path = Arc::new(path.into());
        let at = path.clone();
        let conn = blocking(move || {
            create_private(&at)?;
            let sqlite = |source| StorageError::Sqlite {
                path: at.to_path_buf(),
                source,
            };
            let conn = Connection::open(&*at).map_err(sqlite)?;
            conn.busy_timeout(Duration::from_secs(5)).map_err(sqlite)?;
            conn.pragma_update(None, "synchronous", "FULL")
                .map_err(sqlite)?;
            migrate(&conn).map_err(sqlite)?;
            Ok(conn)
        })
        .await?;
        Ok(SqliteStore {
            path,
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn with<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let conn = self.conn.clone();
        let path = self.path.clone();
        blocking(move || {
            // A panic while holding the lock cannot leave a transaction half-applied.
            let conn = conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&conn).map_err(|source| StorageError::Sqlite {
                path: path.to_path_buf(),
                source,
            })
        })
        .await
    }
}

/// Creates the file with mode 0600 when it does not exist, so that it is never readable by
/// others, not even for a moment.
#[cfg(unix)]
fn create_private(path: &Path) -> Result<(), StorageError> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StorageError::Io {
            path: path.to_path_buf(),
            action: "create the database file",
            source,
        }),
    }
}

#[cfg(not(unix))]
fn create_private(_path: &Path) -> Result<(), StorageError> {
    Ok(())
}

fn record_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredTokens> {
    Ok(Columns::read((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
    )))
}

impl TokenStore for SqliteStore {
    fn get<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredTokens>, StorageError>> {
        let user_id = user_id.to_string();
        Box::pin(self.with(move |conn| {
            conn.query_row(
                "SELECT access_token, refresh_token, expires_at, team_id, scope, version, marker,
                        obtained_at
                 FROM miro_tokens WHERE user_id = ?1",
                params![user_id],
                record_of,
            )
            .optional()
        }))
    }

    fn replace_if<'a>(
        &'a self,
        user_id: &'a str,
        expected: u64,
        new: Option<&'a StoredTokens>,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        let user_id = user_id.to_string();
        let new = new.cloned();
        Box::pin(self.with(move |conn| {
            let changed = match new {
                Some(record) => {
                    let c = Columns::of(&record);
                    conn.execute(
                        "UPDATE miro_tokens SET
                             access_token = ?3, refresh_token = ?4, expires_at = ?5,
                             team_id = ?6, scope = ?7, updated_at = ?8, version = ?9,
                             marker = ?10, obtained_at = ?11
                         WHERE user_id = ?1 AND version = ?2",
                        params![
                            user_id,
                            expected as i64,
                            c.access_token,
                            c.refresh_token,
                            c.expires_at,
                            c.team_id,
                            c.scope,
                            to_unix(std::time::SystemTime::now()) as i64,
                            c.version,
                            c.marker,
                            c.obtained_at,
                        ],
                    )?
                }
                None => conn.execute(
                    "DELETE FROM miro_tokens WHERE user_id = ?1 AND version = ?2",
                    params![user_id, expected as i64],
                )?,
            };
            Ok(changed == 1)
        }))
    }

    fn put<'a>(
        &'a self,
        user_id: &'a str,
        record: &'a StoredTokens,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        let user_id = user_id.to_string();
        let record = record.clone();
        Box::pin(self.with(move |conn| {
            let now = to_unix(std::time::SystemTime::now()) as i64;
            let c = Columns::of(&record);
            conn.execute(
                "INSERT INTO miro_tokens
                     (user_id, access_token, refresh_token, expires_at, team_id, scope, updated_at,
                      version, marker, obtained_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT(user_id) DO UPDATE SET
                     access_token = excluded.access_token,
                     refresh_token = excluded.refresh_token,
                     expires_at = excluded.expires_at,
                     team_id = excluded.team_id,
                     scope = excluded.scope,
                     updated_at = excluded.updated_at,
                     version = excluded.version,
                     marker = excluded.marker,
                     obtained_at = excluded.obtained_at",
                params![
                    user_id,
                    c.access_token,
                    c.refresh_token,
                    c.expires_at,
                    c.team_id,
                    c.scope,
                    now,
                    c.version,
                    c.marker,
                    c.obtained_at,
                ],
            )
            .map(drop)
        }))
    }

    fn remove<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        let user_id = user_id.to_string();
        Box::pin(self.with(move |conn| {
            conn.execute(
                "DELETE FROM miro_tokens WHERE user_id = ?1",
                params![user_id],
            )
            .map(drop)
        }))
    }
}
