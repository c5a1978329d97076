use super::Db;
use crate::Result;
use rusqlite::{TransactionBehavior, params};
use std::collections::HashMap;

fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_blob(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

impl Db {
    /// Vectors already stored for these text hashes under `model`.
    pub fn embeddings(&self, model: &str, hashes: &[&str]) -> Result<HashMap<String, Vec<f32>>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT vector FROM embeddings WHERE model = ?1 AND text_sha256 = ?2")
            .map_err(|e| self.err(e))?;
        let mut out = HashMap::with_capacity(hashes.len());
        for h in hashes {
            if out.contains_key(*h) {
                continue;
            }
            let mut rows = stmt.query(params![model, h]).map_err(|e| self.err(e))?;
            if let Some(row) = rows.next().map_err(|e| self.err(e))? {
                let blob: Vec<u8> = row.get(0).map_err(|e| self.err(e))?;
                out.insert((*h).to_owned(), from_blob(&blob));
            }
        }
        Ok(out)
    }

    /// Store vectors (one transaction per call: callers commit per batch, so a killed indexer keeps
    /// what it had finished).
    pub fn put_embeddings(&mut self, model: &str, items: &[(&str, &[f32])]) -> Result<()> {
        let path = self.path.clone();
        let err = |e| super::db_error(&path, e);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO embeddings (model, text_sha256, dims, vector) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(err)?;
            for (h, v) in items {
                stmt.execute(params![model, h, v.len() as i64, to_blob(v)]).map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    pub fn embedding_count(&self, model: &str) -> Result<i64> {
        self.conn
            .query_row("SELECT count(*) FROM embeddings WHERE model = ?1", [model], |r| r.get(0))
            .map_err(|e| self.err(e))
    }
}
