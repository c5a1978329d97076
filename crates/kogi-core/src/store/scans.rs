//! The scan cache: a language-model scan of a revision (see [`crate::correction::suspicious`]),
//! stored as JSON per (revision, model, parameters) so asking again does not run the model.

use super::Db;
use crate::Result;
use crate::lecture::RevisionId;
use rusqlite::{OptionalExtension, params};

impl Db {
    /// The stored scan (its JSON) of `revision` by `model` with `params` (the cache key's JSON).
    pub fn cached_scan(&self, revision: RevisionId, model: &str, params: &str) -> Result<Option<String>> {
        self.conn()
            .query_row(
                "SELECT result FROM scans WHERE revision_id = ?1 AND model = ?2 AND params = ?3",
                params![revision.0, model, params],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Store a scan's JSON under (revision, model, params), replacing one stored before.
    pub fn put_scan(&mut self, revision: RevisionId, model: &str, params: &str, result: &str) -> Result<()> {
        self.conn()
            .execute(
                "INSERT OR REPLACE INTO scans (revision_id, model, params, result) VALUES (?1, ?2, ?3, ?4)",
                params![revision.0, model, params, result],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::store::Db;
    use crate::transcript::import::{ImportOptions, import_bytes};

    #[test]
    fn a_scan_is_cached_per_revision_model_and_params_and_replaced_when_put_again() {
        let mut db = Db::open_in_memory().unwrap();
        let t = import_bytes("a.txt", "最初の文。".as_bytes(), &ImportOptions::default()).unwrap();
        let rev = db.import_transcript(&t).unwrap().lecture.head;
        assert_eq!(db.cached_scan(rev, "m", "{}").unwrap(), None);
        db.put_scan(rev, "m", "{}", "[1]").unwrap();
        db.put_scan(rev, "m", "{\"w\":1}", "[2]").unwrap();
        assert_eq!(db.cached_scan(rev, "m", "{}").unwrap().as_deref(), Some("[1]"));
        assert_eq!(db.cached_scan(rev, "other", "{}").unwrap(), None);
        db.put_scan(rev, "m", "{}", "[3]").unwrap();
        assert_eq!(db.cached_scan(rev, "m", "{}").unwrap().as_deref(), Some("[3]"));
    }
}
