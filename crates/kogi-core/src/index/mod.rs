//! Indexing: chunk a lecture's newest revision, embed the chunks whose text is new for this model,
//! and store the chunk set. Embeddings are committed batch by batch, so a killed run keeps its work
//! and the next run finishes it; the chunk set itself appears in one transaction.

use crate::chunk::{self, Strategy};
use crate::inference::{Embed, Role, TokenSpans};
use crate::lecture::{LectureId, RevisionId};
use crate::store::{Db, sha256_hex};
use crate::text::CharIndex;
use crate::{Error, Result};
use serde::Serialize;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// The chunking kogi uses unless told otherwise (chosen on the dev questions; see README).
pub fn default_strategy() -> Strategy {
    Strategy::SentenceWindow { radius: 2, max_chars: 120 }
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct IndexReport {
    pub lecture: LectureId,
    pub revision: RevisionId,
    pub strategy: String,
    pub model: String,
    pub chunks: usize,
    /// Chunks whose text had to be embedded now.
    pub embedded: usize,
    /// Chunks whose embedding was already stored (same text, same model).
    pub reused: usize,
    pub up_to_date: bool,
    pub seconds: f64,
}

/// Progress of a long job: `done` of `total` units.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
}

pub struct Indexer<'a> {
    pub embedder: &'a dyn Embed,
    pub tokens: Option<&'a dyn TokenSpans>,
    /// Texts per embedding call (and per committed batch).
    pub batch: usize,
    /// Words and readings for keyword search, analysed as the chunks are stored.
    pub words: Option<crate::retrieval::Words>,
}

impl<'a> Indexer<'a> {
    pub fn new(embedder: &'a dyn Embed) -> Self {
        Self { embedder, tokens: None, batch: 64, words: None }
    }

    /// Index a lecture's newest revision.
    pub fn index_lecture(
        &self,
        db: &mut Db,
        lecture: LectureId,
        strategy: &Strategy,
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> Result<IndexReport> {
        let head = db.lecture(lecture)?.head;
        self.index_revision(db, head, strategy, progress, cancel)
    }

    /// Index one revision (the newest, or the original import for the raw rung of the RAG ladder).
    pub fn index_revision(
        &self,
        db: &mut Db,
        revision: RevisionId,
        strategy: &Strategy,
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> Result<IndexReport> {
        let started = Instant::now();
        let model = self.embedder.model_id().to_owned();
        let revision = db.revision(revision)?;
        let lecture = revision.lecture;
        let name = strategy.name();
        let report = |chunks, embedded, reused, up_to_date| IndexReport {
            lecture,
            revision: revision.id,
            strategy: name.clone(),
            model: model.clone(),
            chunks,
            embedded,
            reused,
            up_to_date,
            seconds: started.elapsed().as_secs_f64(),
        };
        if let Some(set) = db.chunk_set(revision.id, &name, &model)? {
            return Ok(report(set.chunks as usize, 0, set.chunks as usize, true));
        }
        let chunks = chunk::chunk(&revision.text, strategy, self.tokens, Some(self.embedder))?;
        let ix = CharIndex::new(&revision.text);
        let texts: Vec<&str> = chunks.iter().map(|c| ix.slice(c.matched)).collect();
        let hashes: Vec<String> = texts.iter().map(|t| sha256_hex(t.as_bytes())).collect();
        let hash_refs: Vec<&str> = hashes.iter().map(String::as_str).collect();
        let have = db.embeddings(&model, &hash_refs)?;
        // Embed each new text once, even if it occurs in several chunks.
        let mut seen = HashSet::new();
        let todo: Vec<usize> =
            (0..chunks.len()).filter(|&i| !have.contains_key(&hashes[i]) && seen.insert(&hashes[i])).collect();
        let reused = chunks.len() - todo.len();
        progress(Progress { done: 0, total: todo.len() });
        for (b, batch) in todo.chunks(self.batch.max(1)).enumerate() {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            let batch_texts: Vec<&str> = batch.iter().map(|&i| texts[i]).collect();
            let vectors = self.embedder.embed(&batch_texts, Role::Passage)?;
            let items: Vec<(&str, &[f32])> =
                batch.iter().zip(&vectors).map(|(&i, v)| (hashes[i].as_str(), v.as_slice())).collect();
            db.put_embeddings(&model, &items)?;
            progress(Progress { done: (b * self.batch + batch.len()).min(todo.len()), total: todo.len() });
        }
        db.put_chunk_set(lecture, revision.id, &name, &model, &chunks, &texts)?;
        if let Some(w) = &self.words {
            crate::retrieval::words::bring_up_to_date(db, w)?;
        }
        Ok(report(chunks.len(), todo.len(), reused, false))
    }
}
