//! One SQLite file holds everything: lectures, every revision, chunks with their offsets,
//! embeddings keyed by (model, text hash), and an FTS5 trigram index (Japanese has no spaces).

mod chunks;
mod drafts;
mod embeddings;
mod glossary;
mod lectures;
mod revisions;
mod recordings;
mod scans;
mod words;
mod schema;

pub use chunks::{ChunkRow, ChunkSet, ChunkSetId, KeywordIndex, SearchFilter, Which};
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

/// kogi's mark in a database file's header (`PRAGMA application_id`): "kogi" in ASCII.
const APPLICATION_ID: i32 = 0x6b6f_6769;

/// A file kogi may use: its own (marked, or from before the mark: migrated and holding kogi's
/// `lectures`), or an empty one. Anything else is another application's database. Says whether
/// the file already carries kogi's mark.
fn check_ours(conn: &Connection, path: &Path) -> Result<bool> {
    // One read transaction: the mark, the version and the tables from the same moment, even while
    // another connection is creating the database.
    let tx = conn.unchecked_transaction().map_err(|e| db_error(path, e))?;
    let ours = check_ours_in(&tx, path);
    drop(tx);
    ours
}

fn check_ours_in(conn: &Connection, path: &Path) -> Result<bool> {
    let app: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0)).map_err(|e| db_error(path, e))?;
    if app == APPLICATION_ID {
        return Ok(true);
    }
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| db_error(path, e))?;
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .map_err(|e| db_error(path, e))?;
    let tables: Vec<String> =
        stmt.query_map([], |r| r.get(0)).and_then(|rows| rows.collect()).map_err(|e| db_error(path, e))?;
    let kogi_before_the_mark = app == 0 && version > 0 && tables.iter().any(|t| t == "lectures");
    if (app == 0 && tables.is_empty()) || kogi_before_the_mark {
        return Ok(false);
    }
    let shown: Vec<&str> = tables.iter().take(5).map(String::as_str).collect();
    let more = if tables.len() > 5 { format!(" and {} more", tables.len() - 5) } else { String::new() };
    Err(Error::Database {
        path: path.to_owned(),
        message: format!(
            "this is another application's SQLite database, not kogi's (it holds the tables {}{more}); kogi left it unchanged",
            shown.join(", ")
        ),
        remedy: Some(Remedy::ChooseAnotherDatabase),
    })
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
        // Before anything writes (WAL mode, kogi's tables): another application's file stays as it is.
        conn.busy_timeout(Duration::from_secs(5)).map_err(|e| db_error(path, e))?;
        let marked = check_ours(&conn, path)?;
        let mut db = Db { conn, path: path.to_owned() };
        db.configure()?;
        schema::migrate(&mut db.conn).map_err(|e| db_error(path, e))?;
        if !marked {
            db.conn.pragma_update(None, "application_id", APPLICATION_ID).map_err(|e| db_error(path, e))?;
        }
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
        // Switching a new file to WAL needs it alone for a moment: a second connection opening it at
        // the same time gets SQLITE_BUSY at once (no busy handler for that lock), so it tries again.
        let started = std::time::Instant::now();
        let mode: String = loop {
            match self.conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)) {
                Err(e)
                    if matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
                        && started.elapsed() < Duration::from_secs(5) =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                other => break other.map_err(|e| db_error(&path, e))?,
            }
        };
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
/// Less than 1 MiB free where the database lives.
fn nearly_full(path: &Path) -> bool {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs4::available_space(dir).is_ok_and(|free| free < 1 << 20)
}

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
        // SQLite reports a full disk met while creating its -wal/-shm files as an I/O error.
        Some(ErrorCode::SystemIoFailure) if nearly_full(path) => {
            ("the disk is full — free some space and try again".to_string(), None)
        }
        _ => (e.to_string(), None),
    };
    Error::Database { path: path.to_owned(), message, remedy }
}
