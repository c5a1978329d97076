//! `kogi bench`: speed measured in one run, side by side, reported as medians and percentiles.

use crate::output::Out;
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use kogi_core::bench::{BenchChat, ServerBench, DeviceSteps, EmbedBench, GenerateBench, IndexBench, Message, NgramConfig, SearchBench};
use kogi_core::service::{Kogi, Mode};
use serde::Serialize;
use std::path::PathBuf;

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
    /// What kogi adds to a server's answers (the same chat sent straight to it, interleaved), and
    /// questions at once against one at a time (set the server with --server/--server-model)
    Server,
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
    /// Leave Japanese words and readings out: trigrams and dense only, as before issue 15 (index, search)
    #[arg(long)]
    pub(crate) no_words: bool,
    /// Search mode timed (search)
    #[arg(long, default_value = "hybrid")]
    pub(crate) mode: Mode,
    /// Chat model folder (generate) [default: <models dir>/smollm2-135m-instruct]
    #[arg(long)]
    pub(crate) model: Option<PathBuf>,
    /// New tokens per generation (generate)
    #[arg(long, default_value_t = 256)]
    pub(crate) new_tokens: usize,
    /// n-gram speculation: longest suffix looked up, shortest, most drafted tokens[, most drafted from
    /// the model's own bigrams] (generate)
    #[arg(long, default_value = "12,1,16", value_delimiter = ',')]
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
    /// Which decoding variants to time: plain (two-row exact steps), fast (one-row steps), spec
    /// (context n-grams, then the model's own drafts), spec-context (context n-grams only) (generate)
    #[arg(
        long,
        default_value = "plain,fast,spec,spec-context",
        value_delimiter = ','
    )]
    pub(crate) variants: Vec<String>,
    /// Replay decode steps from CUDA graphs on the CUDA provider, as kogi does by default: true|false (generate)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub(crate) cuda_graph: bool,
    /// Decode steps: auto (step outputs in the graph on a GPU, fed on the device with CUDA graphs),
    /// on (always fed on the device), off (the model as exported, a separate greedy-head run) (generate)
    #[arg(long, default_value = "auto")]
    pub(crate) device_steps: DeviceSteps,
    /// Read the GPU's used memory (nvidia-smi) after every generation (generate)
    #[arg(long)]
    pub(crate) gpu_memory: bool,
    /// Also time one pass verifying K = 1..N drafted tokens against one decode step (generate)
    #[arg(long, default_value_t = 0)]
    pub(crate) verify_k: usize,
    /// Also replay draft strategies (context, model chain, draft trees) on each prompt's greedy answer,
    /// costed with verification passes of up to 16 rows timed in the same run (generate)
    #[arg(long)]
    pub(crate) draft_replay: bool,
    /// CPU decode steps reuse one binding per KV cache: true|false (false binds every pass afresh,
    /// as kogi did before; for comparisons) (generate)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub(crate) host_steps: bool,
    /// Write ONNX Runtime's per-node profile of the chat model to PREFIX_<time>.json (generate;
    /// summarise with models/tools/ort_profile.py)
    #[arg(long, value_name = "PREFIX")]
    pub(crate) ort_profile: Option<std::path::PathBuf>,
    /// Open a second copy of the model with NAME=VALUE set while it loads and time its one-row
    /// decode against the first, run by run in one process (generate; repeatable)
    #[arg(long, value_name = "NAME=VALUE")]
    pub(crate) paired_env: Vec<String>,
    /// Also answer the RAG prompt this many times in a row, reading GPU memory after each (generate)
    #[arg(long, default_value_t = 0)]
    pub(crate) questions: usize,
    /// Passages embedded per run (embed)
    #[arg(long, default_value_t = 2000)]
    pub(crate) passages: usize,
    /// Questions asked at once through the service layer, from the dev set (server)
    #[arg(long, default_value_t = 8)]
    pub(crate) concurrent: usize,
    /// Characters per passage, cut from the transcript (embed)
    #[arg(long, default_value_t = 400)]
    pub(crate) passage_chars: usize,
}

fn transcript(args: &BenchArgs) -> Result<(String, Vec<u8>)> {
    let path = match &args.file {
        Some(f) => f.clone(),
        None => crate::shared_data_dir().context("pass --file: no ../shared/data here")?.join("LLM2024_day4_raw.txt"),
    };
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok((path.file_name().unwrap_or_default().to_string_lossy().into_owned(), bytes))
}

pub fn run(args: BenchArgs, kogi: &Kogi, out: &Out) -> Result<()> {
    match args.what {
        What::Index => {
            let (name, bytes) = transcript(&args)?;
            let params = IndexBench { runs: args.runs, words: !args.no_words };
            show(out, &kogi.bench_index(&name, &bytes, &params)?)
        }
        What::Search => {
            let (name, bytes) = transcript(&args)?;
            let dir = tempfile::tempdir()?;
            let corpus = args.corpus_db.clone().unwrap_or_else(|| dir.path().join("bench.sqlite3"));
            let params = SearchBench { lectures: args.lectures, queries: args.queries, mode: args.mode, words: !args.no_words };
            show(out, &kogi.bench_search(&corpus, &name, &bytes, &params)?)
        }
        What::Generate => {
            let ngram = match args.ngram[..] {
                [max_n, min_n, max_k] => NgramConfig { max_n, min_n, max_k, ..Default::default() },
                [max_n, min_n, max_k, model_k] => NgramConfig { max_n, min_n, max_k, model_k, ..Default::default() },
                _ => bail!("--ngram takes three or four numbers: max_n,min_n,max_k[,model_k]"),
            };
            let variants = args.variants.iter().map(|v| v.parse()).collect::<Result<Vec<_>, kogi_core::Error>>()?;
            let chat = match &args.chat {
                Some(path) => {
                    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                    let messages: Vec<Message> =
                        serde_json::from_str(&text).with_context(|| format!("{}: not a list of messages", path.display()))?;
                    Some(BenchChat { name: path.display().to_string(), messages })
                }
                None => None,
            };
            let params = GenerateBench {
                runs: args.runs,
                new_tokens: args.new_tokens,
                ngram,
                chat,
                prompt_tokens: args.prompt_tokens.clone(),
                prefill_chunk: args.prefill_chunk,
                variants,
                gpu_memory: args.gpu_memory,
                verify_k: args.verify_k,
                draft_replay: args.draft_replay,
                questions: args.questions,
                host_steps: args.host_steps,
                ort_profile: args.ort_profile.clone(),
                paired_env: args
                    .paired_env
                    .iter()
                    .map(|kv| kv.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).context("--paired-env takes NAME=VALUE"))
                    .collect::<Result<_>>()?,
            };
            show(out, &kogi.bench_generate(args.model.as_deref(), args.device_steps, args.cuda_graph, &params)?)
        }
        What::Embed => {
            // Passages are cut from the transcript, or from built-in text when there is none.
            let bytes = transcript(&args).ok().map(|(_, bytes)| bytes);
            let params = EmbedBench { runs: args.runs, passages: args.passages, passage_chars: args.passage_chars };
            show(out, &kogi.bench_embed(args.model.as_deref(), bytes.as_deref(), &params)?)
        }
        What::Server => {
            let lecture = match &args.file {
                Some(f) => f.clone(),
                None => crate::shared_data_dir()
                    .map(|d| d.join("LLM2024_day4_raw.txt"))
                    .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sample-lecture.srt")),
            };
            let chat = match &args.chat {
                Some(p) => Some(serde_json::from_str::<Vec<Message>>(&std::fs::read_to_string(p)?)?),
                None => None,
            };
            let params = ServerBench { runs: args.runs, max_tokens: args.new_tokens, chat, lecture, questions: dev_questions(args.concurrent)? };
            show(out, &kogi.bench_server(&params)?)
        }
    }
}

/// The first `n` questions of the dev set (the real lecture's), or English ones without it.
fn dev_questions(n: usize) -> Result<Vec<String>> {
    let dev = crate::shared_data_dir().map(|d| d.join("../eval/dev.jsonl")).filter(|p| p.is_file());
    let mut qs: Vec<String> = match dev {
        Some(p) => std::fs::read_to_string(p)?
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v.get("question").and_then(|q| q.as_str()).map(str::to_owned))
            .collect(),
        None => ["What is a scaling law?", "What is inference time scaling?", "What does Chinchilla say about tokens?", "What is Best-of-N?"]
            .map(String::from)
            .to_vec(),
    };
    qs = qs.into_iter().cycle().take(n).collect();
    Ok(qs)
}

/// A report as JSON: with `--json` through [`Out`], else pretty-printed all the same.
fn show<T: Serialize>(out: &Out, report: &T) -> Result<()> {
    if !out.json(report) {
        say!("{}", serde_json::to_string_pretty(report)?);
    }
    Ok(())
}
