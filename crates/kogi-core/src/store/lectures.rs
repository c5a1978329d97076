use super::Db;
use crate::lecture::{Lecture, LectureId, Revision, RevisionId, RevisionKind};
use crate::transcript::{Format, ImportedTranscript, LectureMeta, Segment};
use crate::text::CharSpan;
use crate::error::Remedy;
use crate::{Error, Result};
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
use sha2::{Digest, Sha256};

pub fn sha256_hex(s: &[u8]) -> String {
    hex::encode(Sha256::digest(s))
}

const LECTURE_COLS: &str = "l.id, l.course, l.title, l.date, l.speaker, l.file_name, l.format, l.encoding,
    l.source_sha256, l.created_at,
    (SELECT id FROM revisions r WHERE r.lecture_id = l.id ORDER BY number DESC LIMIT 1),
    (SELECT count(*) FROM revisions r WHERE r.lecture_id = l.id),
    (SELECT length(text) FROM revisions r WHERE r.lecture_id = l.id ORDER BY number DESC LIMIT 1)";

fn lecture_from_row(r: &Row<'_>) -> rusqlite::Result<Lecture> {
    let format: String = r.get(6)?;
    Ok(Lecture {
        id: LectureId(r.get(0)?),
        meta: LectureMeta { course: r.get(1)?, title: r.get(2)?, date: r.get(3)?, speaker: r.get(4)? },
        file_name: r.get(5)?,
        format: serde_json::from_value(serde_json::Value::String(format)).unwrap_or(Format::Text),
        encoding: r.get(7)?,
        source_sha256: r.get(8)?,
        created_at: r.get(9)?,
        head: RevisionId(r.get(10)?),
        revisions: r.get(11)?,
        chars: r.get(12)?,
    })
}

/// The outcome of an import: the lecture, and whether it was new (false: the same file was already there).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Imported {
    pub lecture: Lecture,
    pub created: bool,
}

impl Db {
    /// Store an imported transcript as a new lecture with revision 1, in one transaction.
    /// The same file (by content hash) imported again returns the existing lecture.
    pub fn import_transcript(&mut self, t: &ImportedTranscript) -> Result<Imported> {
        if let Some(l) = self.lecture_by_source(&t.source_sha256)? {
            return Ok(Imported { lecture: l, created: false });
        }
        let path = self.path.clone();
        let err = |e| super::db_error(&path, e);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        // Again inside the write lock: another process may have imported the same file meanwhile.
        let existing: Option<i64> = tx
            .query_row("SELECT id FROM lectures WHERE source_sha256 = ?1", [&t.source_sha256], |r| r.get(0))
            .optional()
            .map_err(err)?;
        if let Some(id) = existing {
            drop(tx);
            return Ok(Imported { lecture: self.lecture(LectureId(id))?, created: false });
        }
        let title = t.meta.title.clone().unwrap_or_else(|| t.file_name.clone());
        let format = serde_json::to_value(t.format).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        tx.execute(
            "INSERT INTO lectures (course, title, date, speaker, file_name, format, encoding, source_sha256)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![t.meta.course, title, t.meta.date, t.meta.speaker, t.file_name, format, t.encoding, t.source_sha256],
        )
        .map_err(err)?;
        let lecture_id = tx.last_insert_rowid();
        insert_revision(&tx, lecture_id, 1, None, RevisionKind::Import, None, &t.text, &t.segments).map_err(err)?;
        tx.commit().map_err(err)?;
        let lecture = self.lecture(LectureId(lecture_id))?;
        Ok(Imported { lecture, created: true })
    }

    pub fn lecture_by_source(&self, sha256: &str) -> Result<Option<Lecture>> {
        self.conn
            .query_row(&format!("SELECT {LECTURE_COLS} FROM lectures l WHERE l.source_sha256 = ?1"), [sha256], lecture_from_row)
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn lecture(&self, id: LectureId) -> Result<Lecture> {
        self.conn
            .query_row(&format!("SELECT {LECTURE_COLS} FROM lectures l WHERE l.id = ?1"), [id.0], lecture_from_row)
            .optional()
            .map_err(|e| self.err(e))?
            .ok_or_else(|| Error::Missing { message: format!("no lecture {id}"), remedy: Remedy::ListLectures })
    }

    /// All lectures, optionally of one course, by course then title.
    pub fn lectures(&self, course: Option<&str>) -> Result<Vec<Lecture>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {LECTURE_COLS} FROM lectures l WHERE (?1 IS NULL OR l.course = ?1)
                 ORDER BY l.course IS NULL, l.course, l.title, l.id"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([course], lecture_from_row).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    pub fn revision(&self, id: RevisionId) -> Result<Revision> {
        let mut rev = self
            .conn
            .query_row(
                "SELECT id, lecture_id, number, parent_id, kind, message, text, created_at FROM revisions WHERE id = ?1",
                [id.0],
                |r| {
                    Ok(Revision {
                        id: RevisionId(r.get(0)?),
                        lecture: LectureId(r.get(1)?),
                        number: r.get(2)?,
                        parent: r.get::<_, Option<i64>>(3)?.map(RevisionId),
                        kind: RevisionKind::parse(&r.get::<_, String>(4)?).unwrap_or(RevisionKind::Edit),
                        message: r.get(5)?,
                        text: r.get(6)?,
                        created_at: r.get(7)?,
                        segments: Vec::new(),
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))?
            .ok_or_else(|| Error::Missing { message: format!("no revision {id}"), remedy: Remedy::ListRevisions(None) })?;
        rev.segments = self.segments(id)?;
        Ok(rev)
    }

    pub fn head_revision(&self, lecture: LectureId) -> Result<Revision> {
        let head = self.lecture(lecture)?.head;
        self.revision(head)
    }

    /// Every revision of a lecture, oldest first.
    pub fn revisions(&self, lecture: LectureId) -> Result<Vec<Revision>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM revisions WHERE lecture_id = ?1 ORDER BY number")
            .map_err(|e| self.err(e))?;
        let ids = stmt
            .query_map([lecture.0], |r| r.get::<_, i64>(0))
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        ids.into_iter().map(|id| self.revision(RevisionId(id))).collect()
    }

    pub fn segments(&self, revision: RevisionId) -> Result<Vec<Segment>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT start_char, end_char, start_ms, end_ms FROM segments WHERE revision_id = ?1 ORDER BY ord",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([revision.0], |r| {
                Ok(Segment {
                    span: CharSpan::new(r.get::<_, i64>(0)? as usize, r.get::<_, i64>(1)? as usize),
                    start_ms: r.get::<_, Option<i64>>(2)?.map(|v| v as u64),
                    end_ms: r.get::<_, Option<i64>>(3)?.map(|v| v as u64),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    /// Add a revision on top of `parent`, which must still be the lecture's newest revision: a save
    /// based on an older one is refused (nothing is overwritten; the caller reloads and merges).
    pub fn add_revision(
        &mut self,
        lecture: LectureId,
        parent: RevisionId,
        kind: RevisionKind,
        message: Option<&str>,
        text: &str,
        segments: &[Segment],
    ) -> Result<Revision> {
        let path = self.path.clone();
        let err = |e| super::db_error(&path, e);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        let (head_id, head_number): (i64, i64) = tx
            .query_row(
                "SELECT id, number FROM revisions WHERE lecture_id = ?1 ORDER BY number DESC LIMIT 1",
                [lecture.0],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(err)?
            .ok_or_else(|| Error::NotFoundItem(format!("no lecture {lecture}")))?;
        if head_id != parent.0 {
            return Err(Error::Invalid(format!(
                "lecture {lecture} changed since revision {parent} was opened (newest is revision {head_id}) — reload it and apply your edit again; nothing was overwritten"
            )));
        }
        let id = insert_revision(&tx, lecture.0, head_number + 1, Some(parent.0), kind, message, text, segments)
            .map_err(err)?;
        tx.commit().map_err(err)?;
        self.revision(RevisionId(id))
    }
}

#[allow(clippy::too_many_arguments)]
fn insert_revision(
    tx: &rusqlite::Transaction<'_>,
    lecture: i64,
    number: i64,
    parent: Option<i64>,
    kind: RevisionKind,
    message: Option<&str>,
    text: &str,
    segments: &[Segment],
) -> rusqlite::Result<i64> {
    tx.execute(
        "INSERT INTO revisions (lecture_id, number, parent_id, kind, message, text, text_sha256)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![lecture, number, parent, kind.as_str(), message, text, sha256_hex(text.as_bytes())],
    )?;
    let id = tx.last_insert_rowid();
    let mut stmt = tx.prepare_cached(
        "INSERT INTO segments (revision_id, ord, start_char, end_char, start_ms, end_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (i, s) in segments.iter().enumerate() {
        stmt.execute(params![
            id,
            i as i64,
            s.span.start as i64,
            s.span.end as i64,
            s.start_ms.map(|v| v as i64),
            s.end_ms.map(|v| v as i64)
        ])?;
    }
    Ok(id)
}
