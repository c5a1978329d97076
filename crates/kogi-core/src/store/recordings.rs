//! Which recording belongs to which lecture (the files themselves live in the media folder).

use super::Db;
use crate::Result;
use crate::lecture::LectureId;
use crate::recording::Recording;
use rusqlite::{OptionalExtension, params};

const FILE_IN_USE: &str = "SELECT EXISTS (SELECT 1 FROM recordings WHERE file = ?1)";

impl Db {
    /// Link `r` to its lecture, replacing any recording linked before; returns the file it replaced.
    pub fn set_recording(&mut self, r: &Recording) -> Result<Option<String>> {
        let path = self.path.clone();
        let err = |e| super::db_error(&path, e);
        // Immediate: the read and the write must not let another writer in between (that would be
        // refused as busy at the write).
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(err)?;
        let old: Option<String> = tx.query_row("SELECT file FROM recordings WHERE lecture_id = ?1", [r.lecture.0], |row| row.get(0)).optional().map_err(err)?;
        tx.execute(
            "INSERT OR REPLACE INTO recordings (lecture_id, file, original_name, sha256, bytes, duration_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![r.lecture.0, r.file, r.original_name, r.sha256, r.bytes as i64, r.duration_ms.map(|d| d as i64)],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(old.filter(|f| *f != r.file))
    }

    pub fn recording(&self, lecture: LectureId) -> Result<Option<Recording>> {
        self.conn
            .query_row(
                "SELECT lecture_id, file, original_name, sha256, bytes, duration_ms FROM recordings WHERE lecture_id = ?1",
                [lecture.0],
                |r| {
                    Ok(Recording {
                        lecture: LectureId(r.get(0)?),
                        file: r.get(1)?,
                        original_name: r.get(2)?,
                        sha256: r.get(3)?,
                        bytes: r.get::<_, i64>(4)? as u64,
                        duration_ms: r.get::<_, Option<i64>>(5)?.map(|d| d as u64),
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Whether any lecture still uses the media file `file`.
    pub fn recording_file_in_use(&self, file: &str) -> Result<bool> {
        self.conn.query_row(FILE_IN_USE, [file], |r| r.get(0)).map_err(|e| self.err(e))
    }

    /// Whether any kogi database in the folder `dir` keeps `file` as a recording: databases in one
    /// folder share its `media` folder. Files that are not kogi databases, or that cannot be read,
    /// are passed over.
    pub fn recording_file_in_use_in_folder(dir: &std::path::Path, file: &str) -> bool {
        let Ok(entries) = std::fs::read_dir(dir) else { return false };
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).any(|p| {
            rusqlite::Connection::open_with_flags(&p, flags)
                .and_then(|c| c.query_row(FILE_IN_USE, [file], |r| r.get::<_, bool>(0)))
                .unwrap_or(false)
        })
    }

    /// Bytes of all recordings kept.
    pub fn recordings_bytes(&self) -> Result<u64> {
        self.conn.query_row("SELECT coalesce(sum(bytes), 0) FROM (SELECT DISTINCT file, bytes FROM recordings)", [], |r| r.get::<_, i64>(0)).map(|b| b as u64).map_err(|e| self.err(e))
    }
}
