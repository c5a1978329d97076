//! The word index's rows: which chunks still need their words analysed, writing them, and the
//! readings the index holds (for near-reading lookups). Search itself is in `chunks.rs`.

use super::Db;
use crate::Result;
use rusqlite::params;

impl Db {
    /// Up to `limit` chunks (id, context text) whose words were not analysed by `by`.
    pub fn chunks_needing_words(&self, by: &str, limit: usize) -> Result<Vec<(i64, String)>> {
        // Three ranges rather than `IS NOT`, so the index on words_by answers it.
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, context_text FROM chunks WHERE words_by IS NULL OR words_by < ?1 OR words_by > ?1 LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![by, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    /// Store analysed words (id, words, readings) in one transaction.
    pub fn put_words(&self, by: &str, rows: &[(i64, String, String)]) -> Result<()> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        {
            let mut stmt = tx
                .prepare_cached("UPDATE chunks SET words = ?2, readings = ?3, words_by = ?4 WHERE id = ?1")
                .map_err(|e| self.err(e))?;
            for (id, words, readings) in rows {
                stmt.execute(params![id, words, readings, by]).map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Every distinct reading in the word index.
    pub fn indexed_readings(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT term FROM chunks_words_vocab WHERE col = 'readings'")
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }
}
