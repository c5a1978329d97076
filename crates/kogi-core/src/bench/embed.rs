//! Embedding throughput (passages per second) of an embedder.

use super::{RAG_PASSAGES, median};
use crate::inference::embed::OnnxEmbedder;
use crate::inference::{Embed, Role};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct EmbedBench {
    /// Repetitions (at least one); the median is reported.
    pub runs: usize,
    /// Passages embedded per run.
    pub passages: usize,
    /// Characters per passage, cut from the transcript.
    pub passage_chars: usize,
}

impl Default for EmbedBench {
    fn default() -> Self {
        Self { runs: 3, passages: 2000, passage_chars: 400 }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct EmbedBenchReport {
    pub all_s: Vec<f64>,
    pub bench: &'static str,
    pub max_batch: usize,
    pub max_batch_tokens: usize,
    pub median_s: f64,
    pub model: PathBuf,
    pub passage_chars: usize,
    pub passages: usize,
    pub passages_per_s: f64,
    pub provider: String,
    pub runs: usize,
    pub threads: Option<usize>,
}

/// Embed passages cut from `transcript` (its whitespace collapsed; the built-in RAG passages when
/// there is none) with `embedder`, which was opened with `threads` (reported). One warm-up call
/// is not timed.
pub fn embed(
    embedder: &OnnxEmbedder,
    threads: Option<usize>,
    transcript: Option<&[u8]>,
    params: &EmbedBench,
) -> Result<EmbedBenchReport> {
    let source: String = match transcript {
        Some(bytes) => String::from_utf8_lossy(bytes).split_whitespace().collect::<Vec<_>>().join(" "),
        None => RAG_PASSAGES.join(" "),
    };
    let chars: Vec<char> = source.chars().collect();
    let pieces: Vec<String> = chars.chunks(params.passage_chars.max(1)).map(|c| c.iter().collect()).collect();
    let texts: Vec<&str> = pieces.iter().map(|s| s.as_str()).cycle().take(params.passages).collect();
    embedder.embed(&texts[..texts.len().min(256)], Role::Passage)?; // warm-up
    let mut secs = Vec::new();
    for _ in 0..params.runs.max(1) {
        let t = Instant::now();
        let v = embedder.embed(&texts, Role::Passage)?;
        secs.push(t.elapsed().as_secs_f64());
        if v.len() != texts.len() || v.iter().any(|e| e.len() != embedder.dimensions()) {
            let message = format!("wrong embedding count: {} vectors for {} passages", v.len(), texts.len());
            return Err(Error::Model { model: embedder.model_id().to_owned(), message });
        }
    }
    let s = median(secs.clone());
    Ok(EmbedBenchReport {
        bench: "embed",
        model: embedder.model().dir.clone(),
        provider: embedder.provider.to_string(),
        threads,
        passages: texts.len(),
        passage_chars: params.passage_chars,
        runs: secs.len(),
        median_s: s,
        passages_per_s: texts.len() as f64 / s,
        max_batch: embedder.max_batch,
        max_batch_tokens: embedder.max_batch_tokens,
        all_s: secs,
    })
}
