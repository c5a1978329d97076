use super::Db;
use crate::chunk::Chunk;
use crate::lecture::{LectureId, RevisionId};
use crate::text::{CharIndex, CharSpan};
use crate::Result;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChunkSetId(pub i64);

#[derive(Debug, Clone, Serialize)]
pub struct ChunkSet {
    pub id: ChunkSetId,
    pub revision: RevisionId,
    pub strategy: String,
    pub model: String,
    pub chunks: i64,
}

/// A stored chunk with where it lives.
#[derive(Debug, Clone, Serialize)]
pub struct ChunkRow {
    pub id: i64,
    pub lecture: LectureId,
    pub revision: RevisionId,
    pub chunk: Chunk,
    pub text_sha256: String,
}

/// Which revision of each lecture a search reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Which {
    /// The newest revision (the corrected text).
    #[default]
    Newest,
    /// Revision 1: the transcript as imported (the raw ASR text).
    Original,
}

impl Which {
    fn sql(self) -> &'static str {
        match self {
            Which::Newest => "r.number = (SELECT max(number) FROM revisions r2 WHERE r2.lecture_id = l.id)",
            Which::Original => "r.number = 1",
        }
    }
}

/// Which lectures a search looks at. Empty means all.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ts_rs::TS)]
pub struct SearchFilter {
    pub lectures: Vec<LectureId>,
    pub course: Option<String>,
    #[serde(default)]
    pub revision: Which,
}

impl SearchFilter {
    /// SQL condition on `l` (lectures), with its parameters appended to `params`.
    fn sql(&self, params: &mut Vec<rusqlite::types::Value>) -> String {
        let mut cond = String::from(self.revision.sql());
        if !self.lectures.is_empty() {
            let marks: Vec<String> = self
                .lectures
                .iter()
                .map(|l| {
                    params.push(l.0.into());
                    format!("?{}", params.len())
                })
                .collect();
            cond.push_str(&format!(" AND l.id IN ({})", marks.join(",")));
        }
        if let Some(c) = &self.course {
            params.push(c.clone().into());
            cond.push_str(&format!(" AND l.course = ?{}", params.len()));
        }
        cond
    }
}

/// The two keyword indexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeywordIndex {
    /// Character trigrams of the context text (`retrieval::bm25`).
    Trigrams,
    /// Dictionary forms and readings (`retrieval::words`): forms weigh twice what readings do (a
    /// reading match may be another word that sounds alike).
    Words,
}

/// Chunk sets that search uses (the filter picks each lecture's newest or original revision).
const CURRENT_SETS: &str = "
    FROM chunk_sets s
    JOIN revisions r ON r.id = s.revision_id
    JOIN lectures l ON l.id = r.lecture_id
    WHERE 1";

fn chunk_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ChunkRow> {
    let g = |i| r.get::<_, i64>(i).map(|v| v as usize);
    Ok(ChunkRow {
        id: r.get(0)?,
        lecture: LectureId(r.get(1)?),
        revision: RevisionId(r.get(2)?),
        chunk: Chunk { matched: CharSpan::new(g(3)?, g(4)?), context: CharSpan::new(g(5)?, g(6)?) },
        text_sha256: r.get(7)?,
    })
}

const CHUNK_COLS: &str =
    "c.id, l.id, r.id, c.match_start, c.match_end, c.context_start, c.context_end, c.text_sha256";

impl Db {
    /// The embedding model the newest chunk set of `strategy` was indexed under.
    pub fn latest_index_model(&self, strategy: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT model FROM chunk_sets WHERE strategy = ?1 ORDER BY id DESC LIMIT 1", [strategy], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn chunk_set(&self, revision: RevisionId, strategy: &str, model: &str) -> Result<Option<ChunkSet>> {
        self.conn
            .query_row(
                "SELECT s.id, s.revision_id, s.strategy, s.model, (SELECT count(*) FROM chunks c WHERE c.chunk_set_id = s.id)
                 FROM chunk_sets s WHERE s.revision_id = ?1 AND s.strategy = ?2 AND s.model = ?3",
                params![revision.0, strategy, model],
                |r| {
                    Ok(ChunkSet {
                        id: ChunkSetId(r.get(0)?),
                        revision: RevisionId(r.get(1)?),
                        strategy: r.get(2)?,
                        model: r.get(3)?,
                        chunks: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Store the chunks of a revision in one transaction, replacing the same lecture's chunk sets of
    /// that strategy and model for intermediate revisions: the original (revision 1) and the newest
    /// stay searchable (chunks are derived data; revisions themselves are never deleted).
    /// `texts[i]` is the matched text of `chunks[i]`.
    pub fn put_chunk_set(
        &mut self,
        lecture: LectureId,
        revision: RevisionId,
        strategy: &str,
        model: &str,
        chunks: &[Chunk],
        texts: &[&str],
    ) -> Result<ChunkSetId> {
        assert_eq!(chunks.len(), texts.len());
        let path = self.path.clone();
        let err = |e| super::db_error(&path, e);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        // Another process indexing the same revision at the same time may have finished first:
        // its chunk set is the same, and stays.
        let existing: Option<i64> = tx
            .query_row(
                "SELECT id FROM chunk_sets WHERE revision_id = ?1 AND strategy = ?2 AND model = ?3",
                params![revision.0, strategy, model],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        if let Some(id) = existing {
            return Ok(ChunkSetId(id));
        }
        // Older revisions' sets go (revision 1's stays: the raw transcript is searched too). Never a
        // newer revision's: two saves in a row index concurrently, and the later one may commit first.
        tx.execute(
            "DELETE FROM chunk_sets WHERE strategy = ?1 AND model = ?2
               AND revision_id IN (SELECT id FROM revisions WHERE lecture_id = ?3 AND number != 1
                                     AND number < (SELECT number FROM revisions WHERE id = ?4))",
            params![strategy, model, lecture.0, revision.0],
        )
        .map_err(err)?;
        tx.execute(
            "INSERT INTO chunk_sets (revision_id, strategy, model) VALUES (?1, ?2, ?3)",
            params![revision.0, strategy, model],
        )
        .map_err(err)?;
        let set = tx.last_insert_rowid();
        // The context text feeds full-text search (a window is found by all of its words).
        let revision_text: String =
            tx.query_row("SELECT text FROM revisions WHERE id = ?1", params![revision.0], |r| r.get(0)).map_err(err)?;
        let ix = CharIndex::new(&revision_text);
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO chunks (chunk_set_id, ord, match_start, match_end, context_start, context_end, text, text_sha256, context_text)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(err)?;
            for (i, (c, t)) in chunks.iter().zip(texts).enumerate() {
                let context = if c.context == c.matched { *t } else { ix.slice(c.context) };
                stmt.execute(params![
                    set,
                    i as i64,
                    c.matched.start as i64,
                    c.matched.end as i64,
                    c.context.start as i64,
                    c.context.end as i64,
                    t,
                    super::sha256_hex(t.as_bytes()),
                    context
                ])
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        Ok(ChunkSetId(set))
    }

    /// The searchable chunks (newest revision of each lecture) of one strategy and model.
    pub fn current_chunks(&self, strategy: &str, model: &str, filter: &SearchFilter) -> Result<Vec<ChunkRow>> {
        let mut params: Vec<rusqlite::types::Value> = vec![strategy.to_owned().into(), model.to_owned().into()];
        let cond = filter.sql(&mut params);
        let sql = format!(
            "SELECT {CHUNK_COLS} {CURRENT_SETS} AND s.strategy = ?1 AND s.model = ?2 AND {cond}
             ORDER BY l.id, c.ord"
        )
        .replace("WHERE 1", "JOIN chunks c ON c.chunk_set_id = s.id WHERE 1");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let rows = stmt.query_map(rusqlite::params_from_iter(params), chunk_from_row).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    /// Keyword search (FTS5, BM25) over one of the keyword indexes of the searchable chunks: for a
    /// sentence window, over the whole window. `fts_query` must already be escaped (see
    /// `retrieval::bm25::fts_query`, `retrieval::words::WordQuery::fts`). Returns (chunk, bm25 score;
    /// higher is better).
    pub fn keyword_search(
        &self,
        index: KeywordIndex,
        fts_query: &str,
        strategy: &str,
        model: &str,
        filter: &SearchFilter,
        limit: usize,
    ) -> Result<Vec<(ChunkRow, f64)>> {
        let (table, rank) = match index {
            KeywordIndex::Trigrams => ("chunks_fts", "bm25(chunks_fts)"),
            KeywordIndex::Words => ("chunks_words", "bm25(chunks_words, 1.0, 0.5)"),
        };
        // Rank inside FTS5 first (a subquery over the index alone), then join and filter a pool of
        // the best rows: joining every matching row before sorting costs more than ranking them.
        // The pool grows when filters (other strategies, revisions, lectures) leave too few.
        let mut pool = (limit * 8).max(64);
        loop {
            let mut params: Vec<rusqlite::types::Value> =
                vec![fts_query.to_owned().into(), strategy.to_owned().into(), model.to_owned().into(), (pool as i64).into()];
            let cond = filter.sql(&mut params);
            params.push((limit as i64).into());
            let sql = format!(
                "SELECT {CHUNK_COLS}, -m.score AS score
                 FROM (SELECT rowid AS id, {rank} AS score FROM {table}
                       WHERE {table} MATCH ?1 ORDER BY score LIMIT ?4) m
                 JOIN chunks c ON c.id = m.id
                 JOIN chunk_sets s ON s.id = c.chunk_set_id
                 JOIN revisions r ON r.id = s.revision_id
                 JOIN lectures l ON l.id = r.lecture_id
                 WHERE s.strategy = ?2 AND s.model = ?3 AND {cond}
                 ORDER BY m.score LIMIT ?{}",
                params.len()
            );
            let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(params), |r| Ok((chunk_from_row(r)?, r.get::<_, f64>(8)?)))
                .map_err(|e| self.err(e))?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| self.err(e))?;
            let matched: i64 = if rows.len() >= limit {
                0
            } else {
                self.conn
                    .query_row(&format!("SELECT count(*) FROM {table} WHERE {table} MATCH ?1"), [fts_query], |r| r.get(0))
                    .map_err(|e| self.err(e))?
            };
            if rows.len() >= limit || matched as usize <= pool {
                return Ok(rows);
            }
            pool *= 4;
        }
    }

    /// How many indexed chunks contain each term (FTS5 trigram statistics), and the total.
    /// Chunks in the database, every strategy and revision (the N of the IDF).
    pub fn chunk_count(&self) -> Result<i64> {
        self.conn.query_row("SELECT count(*) FROM chunks", [], |r| r.get(0)).map_err(|e| self.err(e))
    }

    pub fn fts_document_frequencies(&self, terms: &[String]) -> Result<std::collections::HashMap<String, i64>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT doc FROM chunks_fts_vocab WHERE term = ?1")
            .map_err(|e| self.err(e))?;
        let mut out = std::collections::HashMap::new();
        for t in terms {
            let df: i64 = stmt.query_row([t], |r| r.get(0)).optional().map_err(|e| self.err(e))?.unwrap_or(0);
            out.insert(t.clone(), df);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::chunk::Chunk;
    use crate::lecture::RevisionKind;
    use crate::store::Db;
    use crate::text::CharSpan;
    use crate::transcript::import::{ImportOptions, import_bytes};

    #[test]
    fn an_older_revision_indexed_last_keeps_the_newer_revisions_chunks_and_drops_only_older_ones() {
        let mut db = Db::open_in_memory().unwrap();
        let t = import_bytes("l.txt", "推論の話。".as_bytes(), &ImportOptions::default()).unwrap();
        let l = db.import_transcript(&t).unwrap().lecture;
        let r1 = l.head;
        let r2 = db.save_edit(l.id, r1, "推論時の話。", RevisionKind::Edit, None).unwrap().id;
        let r3 = db.save_edit(l.id, r2, "推論時の話です。", RevisionKind::Edit, None).unwrap().id;
        let r4 = db.save_edit(l.id, r3, "推論時の話でした。", RevisionKind::Edit, None).unwrap().id;
        let chunk = [Chunk { matched: CharSpan::new(0, 5), context: CharSpan::new(0, 5) }];
        let put = |db: &mut Db, r| db.put_chunk_set(l.id, r, "s", "m", &chunk, &["推論時の話"]).unwrap();
        put(&mut db, r1);
        put(&mut db, r2);
        // Two saves indexed at once: revision 4's indexing commits before revision 3's.
        put(&mut db, r4);
        put(&mut db, r3);
        let has = |db: &Db, r| db.chunk_set(r, "s", "m").unwrap().is_some();
        assert!(has(&db, r4), "the newest revision stays searchable");
        assert!(has(&db, r1), "the original stays searchable");
        assert!(!has(&db, r2), "an older intermediate revision's chunks go");
        put(&mut db, r1);
        assert!(has(&db, r4) && has(&db, r3), "indexing the original again drops nothing newer");
    }
}
