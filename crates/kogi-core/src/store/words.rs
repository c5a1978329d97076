//! The word index's rows: which chunks still need their words analysed, writing them, and the
//! readings the index holds (for near-reading lookups). Search itself is in `chunks.rs`.

use super::Db;
use crate::Result;
use rusqlite::{OptionalExtension, params};

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
            let mut term = tx.prepare_cached("INSERT OR IGNORE INTO reading_terms (reading) VALUES (?1)").map_err(|e| self.err(e))?;
            for (id, words, readings) in rows {
                stmt.execute(params![id, words, readings, by]).map_err(|e| self.err(e))?;
                for r in readings.split(' ').filter(|r| !r.is_empty()) {
                    term.execute([r]).map_err(|e| self.err(e))?;
                }
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Every reading the word index has held (one that left with its chunks still matches nothing).
    pub fn indexed_readings(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached("SELECT reading FROM reading_terms").map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    /// How many chunks hold each token of the word index (words and readings alike), and the total.
    pub fn word_document_frequencies(&self, tokens: &[&str]) -> Result<std::collections::HashMap<String, i64>> {
        let mut stmt = self.conn.prepare_cached("SELECT doc FROM chunks_words_vocab WHERE term = ?1").map_err(|e| self.err(e))?;
        let mut out = std::collections::HashMap::new();
        for t in tokens {
            // unicode61 folds case: the index holds the lower-cased token.
            let df: i64 = stmt.query_row([t.to_lowercase()], |r| r.get(0)).optional().map_err(|e| self.err(e))?.unwrap_or(0);
            out.insert((*t).to_owned(), df);
        }
        Ok(out)
    }
}
