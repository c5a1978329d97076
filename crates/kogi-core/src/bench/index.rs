//! Time to index one lecture from scratch: import into an empty database, chunk, embed, store.

use super::percentile;
use crate::Result;
use crate::chunk::Strategy;
use crate::index::Indexer;
use crate::inference::embed::OnnxEmbedder;
use crate::store::Db;
use crate::transcript::import::{ImportOptions, import_bytes};
use serde::{Deserialize, Serialize};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct IndexBench {
    /// Repetitions (at least one), each into a fresh in-memory database; the median is reported.
    pub runs: usize,
    /// Analyse Japanese words and readings too (what indexing does in the app).
    pub words: bool,
}

impl Default for IndexBench {
    fn default() -> Self {
        Self { runs: 3, words: true }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct IndexBenchReport {
    pub bench: &'static str,
    pub chars: usize,
    pub chunks: usize,
    pub file: String,
    pub max_s: f64,
    pub median_s: f64,
    pub min_s: f64,
    pub provider: String,
    pub runs: usize,
    pub strategy: String,
    pub threads: Option<usize>,
    /// The word analysis done while indexing (`None`: trigrams only).
    pub words: Option<String>,
}

/// Index the transcript `bytes` (named `file`) with `embedder`, which was opened with `threads`
/// (reported). The time covers import into the database and indexing, not the model load.
pub fn index(
    embedder: &OnnxEmbedder,
    strategy: &Strategy,
    threads: Option<usize>,
    file: &str,
    bytes: &[u8],
    params: &IndexBench,
    words: Option<crate::retrieval::Words>,
) -> Result<IndexBenchReport> {
    let cancel = AtomicBool::new(false);
    let mut indexer = Indexer::new(embedder);
    indexer.tokens = Some(embedder);
    indexer.words = words.filter(|_| params.words);
    let mut secs = Vec::new();
    let mut chunks = 0;
    for _ in 0..params.runs.max(1) {
        let mut db = Db::open_in_memory()?;
        let t = import_bytes(file, bytes, &ImportOptions::default())?;
        let start = Instant::now();
        let id = db.import_transcript(&t)?.lecture.id;
        let r = indexer.index_lecture(&mut db, id, strategy, &mut |_| {}, &cancel)?;
        secs.push(start.elapsed().as_secs_f64());
        chunks = r.chunks;
    }
    secs.sort_by(f64::total_cmp);
    Ok(IndexBenchReport {
        bench: "index",
        chars: String::from_utf8_lossy(bytes).chars().count(),
        chunks,
        file: file.to_owned(),
        max_s: secs[secs.len() - 1],
        median_s: percentile(&secs, 0.5),
        min_s: secs[0],
        provider: embedder.provider.to_string(),
        runs: secs.len(),
        strategy: strategy.name(),
        threads,
        words: indexer.words.as_ref().map(|w| w.id()),
    })
}
