//! `kogi bench`: speed measured in one run, side by side, reported as medians and percentiles.

use crate::output::Out;
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use kogi_core::retrieval::{Retriever, SearchParams};
use kogi_core::service::{IndexWhen, Job, Kogi};
use kogi_core::transcript::import::ImportOptions;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

#[derive(Clone, Copy, ValueEnum)]
pub enum What {
    /// Time to index one lecture from scratch (no cached embeddings)
    Index,
    /// Hybrid query latency over a corpus of many lectures
    Search,
    /// Time to first token and decode speed of a chat model, plain greedy and with n-gram speculation
    Generate,
    /// Embedding throughput (passages/s) of an embedder model folder
    Embed,
}

#[derive(Args)]
pub struct BenchArgs {
    pub(crate) what: What,
    /// Transcript to use [default: the real raw lecture in ../shared/data]
    #[arg(long)]
    pub(crate) file: Option<PathBuf>,
    /// Repetitions (index) — the median is reported
    #[arg(long, default_value_t = 3)]
    pub(crate) runs: usize,
    /// Lectures in the search corpus
    #[arg(long, default_value_t = 100)]
    pub(crate) lectures: usize,
    /// Queries timed (search)
    #[arg(long, default_value_t = 200)]
    pub(crate) queries: usize,
    /// Keep the search corpus in this database file (reused when it exists)
    #[arg(long)]
    pub(crate) corpus_db: Option<PathBuf>,
    /// Search mode timed (search)
    #[arg(long, default_value = "hybrid")]
    pub(crate) mode: kogi_core::retrieval::Mode,
    /// Chat model folder (generate) [default: <models dir>/smollm2-135m-instruct]
    #[arg(long)]
    pub(crate) model: Option<PathBuf>,
    /// New tokens per generation (generate)
    #[arg(long, default_value_t = 256)]
    pub(crate) new_tokens: usize,
    /// n-gram speculation: longest suffix looked up, shortest, most drafted tokens (generate)
    #[arg(long, default_value = "4,1,8", value_delimiter = ',')]
    pub(crate) ngram: Vec<usize>,
    /// A chat to use instead of the built-in RAG prompt: JSON `[{"role": …, "content": …}, …]` (generate)
    #[arg(long)]
    pub(crate) chat: Option<PathBuf>,
    /// Synthetic prompt lengths in tokens instead of the RAG prompt, e.g. 512,2048 (generate)
    #[arg(long, value_delimiter = ',')]
    pub(crate) prompt_tokens: Vec<usize>,
    /// Prompt tokens per prefill pass (generate)
    #[arg(long, default_value_t = 512)]
    pub(crate) prefill_chunk: usize,
    /// Which decoding variants to time: plain (two-row exact steps), fast (one-row steps), spec (n-gram) (generate)
    #[arg(long, default_value = "plain,fast,spec", value_delimiter = ',')]
    pub(crate) variants: Vec<String>,
    /// Replay decode steps from CUDA graphs on the CUDA provider, as kogi does by default: true|false (generate)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub(crate) cuda_graph: bool,
    /// Decode steps: auto (step outputs in the graph on a GPU, fed on the device with CUDA graphs),
    /// on (always fed on the device), off (the model as exported, a separate greedy-head run) (generate)
    #[arg(long, default_value = "auto")]
    pub(crate) device_steps: kogi_core::generate::decoder::DeviceSteps,
    /// Read the GPU's used memory (nvidia-smi) after every generation (generate)
    #[arg(long)]
    pub(crate) gpu_memory: bool,
    /// Also time one pass verifying K = 1..N drafted tokens against one decode step (generate)
    #[arg(long, default_value_t = 0)]
    pub(crate) verify_k: usize,
    /// Also answer the RAG prompt this many times in a row, reading GPU memory after each (generate)
    #[arg(long, default_value_t = 0)]
    pub(crate) questions: usize,
    /// Passages embedded per run (embed)
    #[arg(long, default_value_t = 2000)]
    pub(crate) passages: usize,
    /// Characters per passage, cut from the transcript (embed)
    #[arg(long, default_value_t = 400)]
    pub(crate) passage_chars: usize,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub(crate) fn transcript(args: &BenchArgs) -> Result<(String, Vec<u8>)> {
    let path = match &args.file {
        Some(f) => f.clone(),
        None => crate::shared_data_dir().context("pass --file: no ../shared/data here")?.join("LLM2024_day4_raw.txt"),
    };
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok((path.file_name().unwrap_or_default().to_string_lossy().into_owned(), bytes))
}

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

pub fn run(args: BenchArgs, kogi: &Kogi, out: &Out) -> Result<()> {
    let cfg = kogi.settings();
    if let What::Generate = args.what {
        return crate::bench_generate::run(&args, &cfg, out);
    }
    if let What::Embed = args.what {
        return crate::bench_generate::embed(&args, &cfg, out);
    }
    let (name, bytes) = transcript(&args)?;
    let cancel = AtomicBool::new(false);
    let mut job = Job::silent(&cancel);
    match args.what {
        What::Index => {
            let mut secs = Vec::new();
            let mut chunks = 0;
            let mut provider = String::new();
            for _ in 0..args.runs.max(1) {
                let kogi = Kogi::in_memory(cfg.clone())?;
                // model load is not indexing
                provider = kogi.embedder(&mut job)?.provider().map(|p| p.to_string()).unwrap_or_default();
                let start = Instant::now();
                let id = kogi.import_bytes(&name, &bytes, &ImportOptions::default(), IndexWhen::Never, &mut job)?.lecture.id;
                let r = kogi.index(&[id], &mut job)?.remove(0);
                secs.push(start.elapsed().as_secs_f64());
                chunks = r.chunks;
            }
            secs.sort_by(f64::total_cmp);
            let report = serde_json::json!({
                "bench": "index", "file": name, "chars": String::from_utf8_lossy(&bytes).chars().count(),
                "strategy": cfg.chunking.name(), "chunks": chunks, "provider": provider,
                "threads": cfg.threads, "runs": secs.len(), "median_s": percentile(&secs, 0.5),
                "min_s": secs[0], "max_s": secs[secs.len() - 1],
            });
            if !out.json(&report) {
                println!("{}", serde_json::to_string_pretty(&report)?);
            }
        }
        What::Generate | What::Embed => unreachable!("handled above"),
        What::Search => {
            let dir = tempfile::tempdir()?;
            let db_path = args.corpus_db.clone().unwrap_or_else(|| dir.path().join("bench.sqlite3"));
            let kogi = Kogi::new(db_path, cfg.clone(), None);
            let build = Instant::now();
            // The corpus: copies of the lecture, each made distinct by a header line; their chunk
            // texts repeat, so embeddings are computed once and reused (indexing is benchmarked apart).
            let base = String::from_utf8(bytes).context("the benchmark transcript must be UTF-8")?;
            for i in 0..args.lectures {
                let text = format!("講義 {i} / lecture copy {i}\n{base}");
                let name = format!("copy-{i}-{name}");
                kogi.import_bytes(&name, text.as_bytes(), &ImportOptions::default(), IndexWhen::Always, &mut job)?;
            }
            let build_s = build.elapsed().as_secs_f64();
            let strategy = cfg.chunking.clone();
            let embedder = kogi.embedder(&mut job)?;
            let mut db = kogi.db()?;
            let db = &mut *db;
            let mut retriever = Retriever::new(embedder.as_ref(), &strategy);
            let params = SearchParams { mode: args.mode, ..Default::default() };
            let load = Instant::now();
            retriever.search(db, QUERIES[0], &params)?; // loads the dense index
            let load_s = load.elapsed().as_secs_f64();
            let chunks = db.current_chunks(&strategy.name(), embedder.model_id(), &Default::default())?.len();
            let mut ms = Vec::with_capacity(args.queries);
            for i in 0..args.queries {
                let t = Instant::now();
                let r = retriever.search(db, QUERIES[i % QUERIES.len()], &params)?;
                ms.push(t.elapsed().as_secs_f64() * 1e3);
                assert!(!r.is_empty());
            }
            ms.sort_by(f64::total_cmp);
            let report = serde_json::json!({
                "bench": "search", "mode": params.mode, "k": params.k, "lectures": args.lectures, "chunks": chunks,
                "strategy": strategy.name(), "provider": embedder.provider().map(|p| p.to_string()).unwrap_or_default(), "threads": cfg.threads,
                "corpus_build_s": build_s, "first_query_with_index_load_s": load_s,
                "queries": ms.len(), "p50_ms": percentile(&ms, 0.5), "p95_ms": percentile(&ms, 0.95),
                "max_ms": ms[ms.len() - 1],
                "note": "each query embeds the question, ranks all chunks densely, runs FTS5 BM25, fuses and reads passage texts",
            });
            if !out.json(&report) {
                println!("{}", serde_json::to_string_pretty(&report)?);
            }
        }
    }
    Ok(())
}
