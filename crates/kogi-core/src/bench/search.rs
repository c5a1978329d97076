//! Query latency over a corpus of many lectures.

use super::percentile;
use crate::chunk::Strategy;
use crate::index::Indexer;
use crate::inference::Embed;
use crate::inference::embed::OnnxEmbedder;
use crate::retrieval::{Mode, Retriever, SearchParams};
use crate::store::Db;
use crate::transcript::import::{ImportOptions, import_bytes};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

const QUERIES: &[&str] = &[
    "LLMにおけるInference Time Scalingとは？",
    "スケール則とは何ですか？",
    "Chinchillaの経験則では最適なトークン数は？",
    "学習に必要な計算量の近似式",
    "Self-Consistencyとはどのような手法ですか？",
    "GPT-4の開発でスケール則はどう使われたか",
    "Grokkingとはどんな現象ですか？",
    "Process Reward Model",
    "Contrastive Decoding",
    "μTransfer 学習率",
    "what is a scaling law?",
    "best-of-N sampling with a reward model",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchBench {
    /// Lectures in the corpus (copies of the transcript).
    pub lectures: usize,
    /// Queries timed.
    pub queries: usize,
    /// Search mode timed.
    pub mode: Mode,
    /// Index and search Japanese words and readings too (what the app does).
    pub words: bool,
}

impl Default for SearchBench {
    fn default() -> Self {
        Self { lectures: 100, queries: 200, mode: Mode::Hybrid, words: true }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SearchBenchReport {
    pub bench: &'static str,
    pub chunks: usize,
    pub corpus_build_s: f64,
    pub first_query_with_index_load_s: f64,
    pub k: usize,
    pub lectures: usize,
    pub max_ms: f64,
    pub mode: Mode,
    pub note: &'static str,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub provider: String,
    pub queries: usize,
    pub strategy: String,
    pub threads: Option<usize>,
    /// The word analysis searched beside trigrams (`None`: trigrams only).
    pub words: Option<String>,
}

/// Build a corpus of copies of the transcript `bytes` (named `file`) in `db` (a database kept
/// between runs is reused: its lectures are found again and are already indexed), then time queries.
/// `embedder` was opened with `threads` (reported).
#[allow(clippy::too_many_arguments)]
pub fn search(
    embedder: &OnnxEmbedder,
    strategy: &Strategy,
    threads: Option<usize>,
    db: &mut Db,
    file: &str,
    bytes: &[u8],
    params: &SearchBench,
    words: Option<crate::retrieval::Words>,
) -> Result<SearchBenchReport> {
    let cancel = AtomicBool::new(false);
    let words = words.filter(|_| params.words);
    let mut indexer = Indexer::new(embedder);
    indexer.tokens = Some(embedder);
    indexer.words = words.clone();
    let build = Instant::now();
    // The corpus: copies of the lecture, each made distinct by a header line; their chunk
    // texts repeat, so embeddings are computed once and reused (indexing is benchmarked apart).
    let base = std::str::from_utf8(bytes)
        .map_err(|e| Error::Invalid(format!("the benchmark transcript must be UTF-8: {e}")))?;
    for i in 0..params.lectures {
        let text = format!("講義 {i} / lecture copy {i}\n{base}");
        let t = import_bytes(&format!("copy-{i}-{file}"), text.as_bytes(), &ImportOptions::default())?;
        let id = db.import_transcript(&t)?.lecture.id;
        indexer.index_lecture(db, id, strategy, &mut |_| {}, &cancel)?;
    }
    let build_s = build.elapsed().as_secs_f64();
    let words_id = words.as_ref().map(|w| w.id());
    let weight = if words.is_some() { SearchParams::default().words_weight } else { 0.0 };
    let mut retriever = Retriever::new(embedder, strategy).with_words(words);
    let search = SearchParams { mode: params.mode, words_weight: weight, ..Default::default() };
    let load = Instant::now();
    retriever.search(db, QUERIES[0], &search)?; // loads the dense index
    let load_s = load.elapsed().as_secs_f64();
    let chunks = db.current_chunks(&strategy.name(), embedder.model_id(), &Default::default())?.len();
    let mut ms = Vec::with_capacity(params.queries);
    for i in 0..params.queries {
        let query = QUERIES[i % QUERIES.len()];
        let t = Instant::now();
        let r = retriever.search(db, query, &search)?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        if r.is_empty() {
            return Err(Error::Invalid(format!("the query {query:?} found nothing in the benchmark corpus")));
        }
    }
    ms.sort_by(f64::total_cmp);
    Ok(SearchBenchReport {
        bench: "search",
        chunks,
        corpus_build_s: build_s,
        first_query_with_index_load_s: load_s,
        k: search.k,
        lectures: params.lectures,
        max_ms: ms[ms.len() - 1],
        mode: search.mode,
        note: "each query embeds the question, ranks all chunks densely, runs FTS5 BM25, fuses and reads passage texts",
        p50_ms: percentile(&ms, 0.5),
        p95_ms: percentile(&ms, 0.95),
        provider: embedder.provider.to_string(),
        queries: ms.len(),
        strategy: strategy.name(),
        threads,
        words: words_id,
    })
}
