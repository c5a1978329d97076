//! Unsaved edits. A draft is what a person has typed on top of a revision and not yet saved; it is
//! written as they type, offered back after a crash or a closed window, and never becomes a
//! revision by itself. One draft per lecture: the newest typing wins.

use super::Db;
use crate::lecture::{LectureId, RevisionId};
use crate::{Error, Result};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Draft {
    pub lecture: LectureId,
    /// The revision the edits were made on.
    pub parent: RevisionId,
    pub text: String,
    pub updated_at: String,
}

impl Db {
    /// Keep `text` as the lecture's unsaved draft on top of `parent` (replacing an older draft).
    pub fn put_draft(&mut self, lecture: LectureId, parent: RevisionId, text: &str) -> Result<Draft> {
        let rev = self.revision(parent)?;
        if rev.lecture != lecture {
            return Err(Error::Invalid(format!("revision {} belongs to another lecture than {lecture}", parent.0)));
        }
        // What was written, from the write itself: a save in another window may discard it next.
        let updated_at: String = self
            .conn()
            .query_row(
                "INSERT INTO drafts (lecture_id, parent_id, text) VALUES (?1, ?2, ?3)
                 ON CONFLICT (lecture_id) DO UPDATE SET parent_id = excluded.parent_id, text = excluded.text,
                     updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
                 RETURNING updated_at",
                params![lecture.0, parent.0, text],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        Ok(Draft { lecture, parent, text: text.to_owned(), updated_at })
    }

    /// The lecture's unsaved draft, if any.
    pub fn draft(&self, lecture: LectureId) -> Result<Option<Draft>> {
        self.conn()
            .query_row(
                "SELECT parent_id, text, updated_at FROM drafts WHERE lecture_id = ?1",
                params![lecture.0],
                |r| Ok(Draft { lecture, parent: RevisionId(r.get(0)?), text: r.get(1)?, updated_at: r.get(2)? }),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Forget the lecture's draft (after it was saved as a revision, or discarded by the person).
    pub fn discard_draft(&mut self, lecture: LectureId) -> Result<()> {
        self.conn().execute("DELETE FROM drafts WHERE lecture_id = ?1", params![lecture.0]).map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Forget the lecture's draft only if it holds `text` (nothing unsaved is lost).
    pub fn discard_draft_if_text(&mut self, lecture: LectureId, text: &str) -> Result<()> {
        self.conn().execute("DELETE FROM drafts WHERE lecture_id = ?1 AND text = ?2", params![lecture.0, text]).map_err(|e| self.err(e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::lecture::RevisionKind;
    use crate::store::Db;
    use crate::transcript::import::{ImportOptions, import_bytes};

    fn lecture(db: &mut Db) -> crate::lecture::Lecture {
        let t = import_bytes("a.txt", "最初の文。次の文。".as_bytes(), &ImportOptions::default()).unwrap();
        db.import_transcript(&t).unwrap().lecture
    }

    #[test]
    fn a_draft_survives_reopening_the_database_and_the_newest_typing_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.sqlite3");
        let (id, head) = {
            let mut db = Db::open(&path).unwrap();
            let l = lecture(&mut db);
            db.put_draft(l.id, l.head, "最初の文を直した。").unwrap();
            db.put_draft(l.id, l.head, "最初の文を直した。次も。").unwrap();
            (l.id, l.head)
        };
        let db = Db::open(&path).unwrap();
        let d = db.draft(id).unwrap().expect("kept");
        assert_eq!((d.parent, d.text.as_str()), (head, "最初の文を直した。次も。"));
        // The draft never became a revision.
        assert_eq!(db.revisions(id).unwrap().len(), 1);
    }

    #[test]
    fn discarding_a_draft_removes_only_the_draft() {
        let mut db = Db::open_in_memory().unwrap();
        let l = lecture(&mut db);
        db.put_draft(l.id, l.head, "x").unwrap();
        let saved = db.save_edit(l.id, l.head, "x", RevisionKind::Edit, None).unwrap();
        db.discard_draft(l.id).unwrap();
        assert!(db.draft(l.id).unwrap().is_none());
        assert_eq!(db.head_revision(l.id).unwrap().id, saved.id);
    }

    #[test]
    fn a_draft_on_another_lectures_revision_is_refused() {
        let mut db = Db::open_in_memory().unwrap();
        let a = lecture(&mut db);
        let t = import_bytes("b.txt", "別の講義。".as_bytes(), &ImportOptions::default()).unwrap();
        let b = db.import_transcript(&t).unwrap().lecture;
        let e = db.put_draft(a.id, b.head, "x").unwrap_err().to_string();
        assert!(e.contains("another lecture"), "{e}");
        assert!(db.draft(a.id).unwrap().is_none());
    }
}
