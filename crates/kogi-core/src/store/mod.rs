//! One SQLite file holds everything: lectures, every revision, chunks with their offsets,
//! embeddings keyed by (model, text hash), and an FTS5 trigram index (Japanese has no spaces).

mod chunks;
mod drafts;
mod embeddings;
mod glossary;
mod lectures;
mod revisions;
mod scans;
mod schema;

pub use chunks::{ChunkRow, ChunkSet, ChunkSetId, SearchFilter, Which};
pub use drafts::Draft;
pub use lectures::{Imported, sha256_hex};

use crate::error::Remedy;
use crate::{Error, Result};
use rusqlite::{Connection, ErrorCode, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct Db {
    conn: Connection,
    path: PathBuf,
}

/// The default database location: `$KOGI_DB`, else `<user data dir>/kogi/kogi.sqlite3`.
pub fn default_path() -> PathBuf {
    if let Some(p) = std::env::var_os("KOGI_DB") {
        return PathBuf::from(p);
    }
    crate::paths::data_dir().join("kogi.sqlite3")
}

impl Db {
    /// Open (creating if needed) and migrate to the current schema.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::Database {
                path: path.to_owned(),
                message: format!("cannot create the folder {}: {e}", dir.display()),
                remedy: Some(Remedy::ChooseAnotherDatabase),
            })?;
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| db_error(path, e))?;
        let mut db = Db { conn, path: path.to_owned() };
        db.configure()?;
        schema::migrate(&mut db.conn).map_err(|e| db_error(path, e))?;
        Ok(db)
    }

    /// A private database in memory (tests, `kogi eval` without `--db`).
    pub fn open_in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory().map_err(|e| db_error(Path::new(":memory:"), e))?;
        let mut db = Db { conn, path: PathBuf::from(":memory:") };
        db.configure()?;
        schema::migrate(&mut db.conn).map_err(|e| db_error(Path::new(":memory:"), e))?;
        Ok(db)
    }

    fn configure(&mut self) -> Result<()> {
        let path = self.path.clone();
        self.conn.busy_timeout(Duration::from_secs(5)).map_err(|e| db_error(&path, e))?;
        // WAL: readers never block the writer, and a killed writer leaves a consistent file.
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(|e| db_error(&path, e))?;
        if mode != "wal" && mode != "memory" {
            tracing::warn!(%mode, "database is not in WAL mode");
        }
        self.conn
            .execute_batch("PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;")
            .map_err(|e| db_error(&path, e))?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn schema_version(&self) -> Result<i64> {
        self.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| self.err(e))
    }

    /// `PRAGMA integrity_check` — "ok" when the file is sound.
    pub fn integrity_check(&self) -> Result<String> {
        self.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).map_err(|e| self.err(e))
    }

    pub(crate) fn err(&self, e: rusqlite::Error) -> Error {
        db_error(&self.path, e)
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }
}

/// Translate SQLite failures into what the user can do about them.
pub(crate) fn db_error(path: &Path, e: rusqlite::Error) -> Error {
    let other = Some(Remedy::ChooseAnotherDatabase);
    let (message, remedy) = match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
            ("the database is locked by another program (another kogi running?) — close it and try again".to_string(), None)
        }
        Some(ErrorCode::ReadOnly) => ("the database is read-only — check the file's permissions".to_string(), other),
        Some(ErrorCode::CannotOpen) => {
            ("cannot open the database file — check that its folder exists and is writable".to_string(), other)
        }
        Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => {
            ("the file is not a kogi database or is damaged".to_string(), other)
        }
        Some(ErrorCode::DiskFull) => ("the disk is full — free some space and try again".to_string(), None),
        _ => (e.to_string(), None),
    };
    Error::Database { path: path.to_owned(), message, remedy }
}
