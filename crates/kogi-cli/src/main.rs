//! `kogi`: the command-line shell over kogi-core. Parses arguments, shows progress, prints results.

mod ask;
mod bench;
mod correct;
mod bench_generate;
mod output;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use kogi_core::app::{Config, Kogi};
use kogi_core::chunk::Strategy;
use kogi_core::eval::{self, TranscriptVersion};
use kogi_core::inference::runtime::Provider;
use kogi_core::lecture::LectureId;
use kogi_core::retrieval::{Mode, SearchParams};
use kogi_core::store::{Db, SearchFilter};
use kogi_core::transcript::LectureMeta;
use kogi_core::transcript::import::{DEFAULT_MAX_BYTES, ImportOptions};
use output::Out;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;


#[derive(Parser)]
#[command(name = "kogi", version, about = "Question your lecture transcripts, offline.")]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Global {
    /// Database file [default: $KOGI_DB, else ~/.local/share/kogi/kogi.sqlite3]
    #[arg(long, global = true)]
    db: Option<PathBuf>,
    /// Embedding model folder [default: <models dir>/multilingual-e5-small]
    #[arg(long, global = true)]
    embedder: Option<PathBuf>,
    /// Execution provider: auto (TensorRT → CUDA → CPU), cpu, cuda, tensorrt
    #[arg(long, global = true, default_value = "auto")]
    provider: Provider,
    /// Threads for inference [default: all cores]
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Chunking: sentences:m200, sentence_window:r2:m120, paragraphs:m800:w600:o100, token_windows:s128:o32, semantic:m400:n100:tauto
    #[arg(long, global = true)]
    chunking: Option<String>,
    /// Print results as JSON (for scripts)
    #[arg(long, global = true)]
    json: bool,
    /// No progress bars or chatter
    #[arg(long, short, global = true)]
    quiet: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Import transcript files (text, SRT, WebVTT, JSON) as lectures
    Import {
        files: Vec<PathBuf>,
        #[arg(long)]
        course: Option<String>,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        date: Option<String>,
        #[arg(long)]
        speaker: Option<String>,
        /// Refuse files larger than this many bytes
        #[arg(long, default_value_t = DEFAULT_MAX_BYTES)]
        max_bytes: u64,
        /// Index each lecture right after importing it
        #[arg(long)]
        index: bool,
    },
    /// List lectures
    Lectures {
        #[arg(long)]
        course: Option<String>,
    },
    /// Chunk and embed lectures (all by default); only new chunk texts are embedded
    Index { lectures: Vec<i64> },
    /// Search the lectures
    Search {
        /// The question (may start with '-')
        #[arg(allow_hyphen_values = true)]
        question: String,
        #[arg(long, default_value = "hybrid")]
        mode: Mode,
        #[arg(short, default_value_t = 5)]
        k: usize,
        #[arg(long = "lecture")]
        lectures: Vec<i64>,
        #[arg(long)]
        course: Option<String>,
    },
    /// Ask a question: the answer streams in, then its citations
    Ask {
        #[arg(allow_hyphen_values = true)]
        question: String,
        #[command(flatten)]
        answer: ask::AnswerArgs,
        /// Run several steps of the RAG ladder and show their answers one after another (all when no list)
        #[arg(long, value_delimiter = ',', num_args = 0..)]
        compare: Option<Vec<kogi_core::answer::Rung>>,
    },
    /// Retrieval metrics (hit@1/3/5, MRR@5, context size) on a question file; with --answers also
    /// fact recall and refusal accuracy of each step of the RAG ladder
    Eval {
        #[arg(long)]
        questions: PathBuf,
        #[arg(long, default_value = "corrected")]
        transcript: TranscriptVersion,
        /// Folder with LLM2024_day4.txt / LLM2024_day4_raw.txt [default: ../shared/data beside the checkout]
        #[arg(long)]
        data: Option<PathBuf>,
        #[arg(long, default_value = "hybrid")]
        mode: Mode,
        #[arg(short, default_value_t = 5)]
        k: usize,
        /// Weight of the dense ranking in hybrid fusion (0–1)
        #[arg(long, default_value_t = SearchParams::default().dense_weight)]
        dense_weight: f64,
        /// Most trigram phrases per full-text query
        #[arg(long, default_value_t = SearchParams::default().max_terms)]
        max_terms: usize,
        /// Correct the transcript with this glossary before indexing (gold ranges follow the edit)
        #[arg(long)]
        glossary: Option<PathBuf>,
        /// Also generate answers and score them (fact recall, refusal accuracy)
        #[arg(long)]
        answers: bool,
        /// Ladder steps to answer with (with --answers)
        #[arg(long, value_delimiter = ',', default_value = "none,raw,corrected,windows,reranked,chunks")]
        modes: Vec<kogi_core::answer::Rung>,
        /// Chat model folder (with --answers)
        #[arg(long)]
        model: Option<PathBuf>,
        /// Token budget of each answer (with --answers)
        #[arg(long, default_value_t = 128)]
        max_tokens: usize,
    },
    /// Character diff between two revisions
    Diff { a: i64, b: i64 },
    /// A lecture's revisions, oldest first
    Revisions { lecture: i64 },
    /// Restore a revision as a new one (nothing is overwritten)
    Restore { lecture: i64, revision: i64 },
    /// The course glossary: terms and the wrong spellings ASR produces for them
    Glossary {
        #[command(subcommand)]
        cmd: correct::GlossaryCmd,
    },
    /// Passages the language model finds surprising (probable recognition errors), ranked
    Suspicious {
        lecture: i64,
        #[arg(long, default_value_t = 20)]
        top: usize,
        #[arg(long)]
        model: Option<PathBuf>,
    },
    /// Replacements for one span: glossary terms first, then the model (never more than the span)
    Suggest {
        lecture: i64,
        #[arg(long)]
        span: String,
        /// Accept suggestion N: it becomes a new revision
        #[arg(long)]
        accept: Option<usize>,
        #[arg(long)]
        model: Option<PathBuf>,
    },
    /// CER of a raw transcript against a reference, after a glossary, and how well suspicious spans find errors
    EvalCorrection {
        #[arg(long)]
        raw: PathBuf,
        #[arg(long)]
        reference: PathBuf,
        #[arg(long)]
        glossary: Option<PathBuf>,
        #[arg(long, default_value_t = 50)]
        top: usize,
        #[arg(long)]
        model: Option<PathBuf>,
    },
    /// Benchmarks: indexing time and query latency
    Bench(bench::BenchArgs),
    /// Installed models and the ONNX Runtime in use
    Models,
    /// Import a transcript, index it and answer a search: the quickest look at kogi
    Demo {
        /// Transcript to use [default: the real lecture in ../shared/data if present, else the bundled sample]
        file: Option<PathBuf>,
        #[arg(long, default_value = "LLMにおけるInference Time Scalingとは？")]
        question: String,
    },
}

fn main() {
    let cli = Cli::parse();
    let filter = if cli.global.quiet { "error" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("KOGI_LOG").unwrap_or_else(|_| filter.into()))
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn config(g: &Global) -> Result<Config> {
    let mut c = Config::default();
    if let Some(db) = &g.db {
        c.db = db.clone();
    }
    if let Some(e) = &g.embedder {
        c.embedder = e.clone();
    }
    c.provider = g.provider;
    c.threads = g.threads;
    if let Some(s) = &g.chunking {
        c.strategy = s.parse::<Strategy>()?;
    }
    Ok(c)
}

fn run(cli: Cli) -> Result<()> {
    let g = cli.global;
    let out = Out::new(g.json, g.quiet);
    match cli.command {
        Command::Import { files, course, title, date, speaker, max_bytes, index } => {
            if files.is_empty() {
                bail!("name at least one file to import");
            }
            let mut kogi = Kogi::open(config(&g)?)?;
            let opts = ImportOptions { max_bytes, meta: LectureMeta { course, title, date, speaker }, format: None };
            let mut results = Vec::new();
            let mut failed = 0;
            for f in &files {
                match kogi.import(f, &opts) {
                    Ok(imp) => {
                        out.line(&format!(
                            "{} lecture {}: {} ({} chars)",
                            if imp.created { "imported" } else { "already imported as" },
                            imp.lecture.id,
                            imp.lecture.meta.title.as_deref().unwrap_or(&imp.lecture.file_name),
                            imp.lecture.chars
                        ));
                        if index {
                            let r = index_one(&mut kogi, imp.lecture.id, &out)?;
                            out.line(&format!("  indexed: {} chunks ({} embedded now)", r.chunks, r.embedded));
                        }
                        results.push(serde_json::json!({"file": f, "ok": true, "created": imp.created, "lecture": imp.lecture}));
                    }
                    Err(e) => {
                        failed += 1;
                        eprintln!("error: {e}");
                        results.push(serde_json::json!({"file": f, "ok": false, "error": e.to_string()}));
                    }
                }
            }
            out.json(&results);
            if failed > 0 {
                bail!("{failed} of {} files could not be imported (nothing was stored for them)", files.len());
            }
        }
        Command::Lectures { course } => {
            let db = Db::open(&config(&g)?.db)?;
            let lectures = db.lectures(course.as_deref())?;
            if out.json(&lectures) {
                return Ok(());
            }
            if lectures.is_empty() {
                println!("no lectures yet — `kogi import FILE` adds one");
            }
            for l in lectures {
                println!(
                    "{:>4}  {:<16} {:<40} {:>10} {:>8} chars  {} revision(s)",
                    l.id.0,
                    l.meta.course.as_deref().unwrap_or("-"),
                    l.meta.title.as_deref().unwrap_or(&l.file_name),
                    l.meta.date.as_deref().unwrap_or(""),
                    l.chars,
                    l.revisions
                );
            }
        }
        Command::Index { lectures } => {
            let mut kogi = Kogi::open(config(&g)?)?;
            let ids: Vec<LectureId> = if lectures.is_empty() {
                kogi.db.lectures(None)?.into_iter().map(|l| l.id).collect()
            } else {
                lectures.into_iter().map(LectureId).collect()
            };
            let mut reports = Vec::new();
            for id in ids {
                let r = index_one(&mut kogi, id, &out)?;
                out.line(&format!(
                    "lecture {}: {} chunks, {} embedded now, {} reused{} ({:.1} s)",
                    id,
                    r.chunks,
                    r.embedded,
                    r.reused,
                    if r.up_to_date { ", already up to date" } else { "" },
                    r.seconds
                ));
                reports.push(r);
            }
            out.json(&reports);
        }
        Command::Search { question, mode, k, lectures, course } => {
            let mut kogi = Kogi::open(config(&g)?)?;
            let params = SearchParams {
                mode,
                k,
                filter: SearchFilter { lectures: lectures.into_iter().map(LectureId).collect(), course, ..Default::default() },
                ..Default::default()
            };
            let passages = kogi.search(&question, &params)?;
            if !out.json(&passages) {
                output::print_passages(&passages);
            }
        }
        Command::Ask { question, answer, compare } => {
            let compare = compare.map(|c| if c.is_empty() { kogi_core::answer::Rung::ALL.to_vec() } else { c });
            ask::ask(config(&g)?, &question, &answer, compare, &out)?;
        }
        Command::Eval { questions, transcript: _, data, k, answers: true, modes, model, max_tokens, .. } => {
            let qs = eval::load_questions(&questions)?;
            let data = match data {
                Some(d) => d,
                None => shared_data_dir().context("no data folder: pass --data DIR")?,
            };
            let args = ask::AnswerArgs {
                mode: kogi_core::answer::Rung::Windows,
                k,
                model,
                lang: None,
                max_tokens,
                temperature: 0.0,
                top_p: 1.0,
                seed: None,
                no_speculation: false,
                think: None,
                min_similarity: kogi_core::answer::AskParams::default().min_similarity,
                lead_citation: false,
                lectures: vec![],
                course: None,
            };
            let results = ask::eval_answers(
                config(&g)?,
                &qs,
                &data.join("LLM2024_day4_raw.txt"),
                &data.join("LLM2024_day4.txt"),
                &args,
                &modes,
                &out,
            )?;
            if !out.json(&results) {
                println!("\n| step | fact recall | refusal accuracy | answerable declined | mean tokens | mean s |");
                println!("|---|---|---|---|---|---|");
                for r in &results {
                    println!(
                        "| {} | {:.2} | {:.2} ({} q) | {} of {} | {:.0} | {:.1} |",
                        r.rung.name(), r.fact_recall, r.refusal_accuracy, r.unanswerable, r.false_refusals, r.answerable, r.mean_new_tokens, r.mean_seconds
                    );
                }
            }
        }
        Command::Eval { questions, transcript, data, mode, k, dense_weight, max_terms, glossary, .. } => {
            let cfg = config(&g)?;
            let params = SearchParams { mode, k, dense_weight, max_terms, ..Default::default() };
            let input = EvalInput { questions: &questions, transcript, data: data.as_deref(), glossary: glossary.as_deref() };
            let m = run_eval(cfg, g.db.is_some(), &input, params, &out)?;
            if !out.json(&m) {
                output::print_metrics(&m, transcript);
            }
        }
        Command::Diff { a, b } => correct::diff(&Db::open(&config(&g)?.db)?, a, b, &out)?,
        Command::Revisions { lecture } => correct::revisions(&Db::open(&config(&g)?.db)?, lecture, &out)?,
        Command::Restore { lecture, revision } => {
            correct::restore(&mut Db::open(&config(&g)?.db)?, lecture, revision, &out)?;
            reindex(&g, lecture, &out)?;
        }
        Command::Glossary { cmd } => {
            let edited = match &cmd {
                correct::GlossaryCmd::Apply { lecture, preview: false, .. } => Some(*lecture),
                _ => None,
            };
            correct::glossary_cmd(&mut Db::open(&config(&g)?.db)?, cmd, &out)?;
            if let Some(l) = edited {
                reindex(&g, l, &out)?;
            }
        }
        Command::Suspicious { lecture, top, model } => {
            let cfg = config(&g)?;
            correct::suspicious_cmd(&mut Db::open(&cfg.db)?, &cfg, &model, lecture, top, &out)?
        }
        Command::Suggest { lecture, span, accept, model } => {
            let cfg = config(&g)?;
            correct::suggest_cmd(&mut Db::open(&cfg.db)?, &cfg, &model, lecture, &span, accept, &out)?;
            if accept.is_some() {
                reindex(&g, lecture, &out)?;
            }
        }
        Command::EvalCorrection { raw, reference, glossary, top, model } => {
            correct::eval_correction(&config(&g)?, &model, &raw, &reference, glossary.as_deref(), top, &out)?
        }
        Command::Bench(args) => bench::run(args, config(&g)?, &out)?,
        Command::Models => output::models(&config(&g)?, &out)?,
        Command::Demo { file, question } => demo(config(&g)?, file, &question, &out)?,
    }
    Ok(())
}

/// After an edit: bring the index of an already indexed lecture up to date (only new chunk texts
/// are embedded; old citations keep resolving to their revision).
fn reindex(g: &Global, lecture: i64, out: &Out) -> Result<()> {
    let mut kogi = Kogi::open(config(g)?)?;
    let indexed: i64 = kogi.db.conn().query_row(
        "SELECT count(*) FROM chunk_sets s JOIN revisions r ON r.id = s.revision_id WHERE r.lecture_id = ?1",
        [lecture],
        |r| r.get(0),
    )?;
    if indexed > 0 {
        let r = index_one(&mut kogi, LectureId(lecture), out)?;
        out.line(&format!("re-indexed: {} chunks, {} embedded now, {} reused", r.chunks, r.embedded, r.reused));
    }
    Ok(())
}

fn index_one(kogi: &mut Kogi, id: LectureId, out: &Out) -> Result<kogi_core::index::IndexReport> {
    let bar = out.progress(&format!("indexing lecture {id}"));
    let cancel = AtomicBool::new(false);
    let r = kogi.index(id, &mut |p| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
    }, &cancel);
    bar.finish_and_clear();
    Ok(r?)
}

/// The folder of the project's real lecture data, when the checkout sits beside one.
pub fn shared_data_dir() -> Option<PathBuf> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    here.is_dir().then_some(here)
}

/// What `kogi eval` evaluates: a question file against one version of the lecture.
pub struct EvalInput<'a> {
    pub questions: &'a Path,
    pub transcript: TranscriptVersion,
    /// Folder with the lecture files (default: the data beside the checkout).
    pub data: Option<&'a Path>,
    /// Correct the transcript with this glossary first.
    pub glossary: Option<&'a Path>,
}

pub fn run_eval(mut cfg: Config, keep_db: bool, input: &EvalInput, mut params: SearchParams, out: &Out) -> Result<eval::RetrievalMetrics> {
    let EvalInput { questions, transcript, data, glossary } = *input;
    let qs = eval::load_questions(questions)?;
    let data = match data {
        Some(d) => d.to_owned(),
        None => shared_data_dir().context("no data folder: pass --data DIR holding LLM2024_day4.txt and LLM2024_day4_raw.txt")?,
    };
    let file = data.join(match transcript {
        TranscriptVersion::Corrected => "LLM2024_day4.txt",
        TranscriptVersion::Raw => "LLM2024_day4_raw.txt",
    });
    // A fresh private database unless --db was given, so any question file runs as is.
    let mut kogi = if keep_db {
        Kogi::open(cfg)?
    } else {
        let db = Db::open_in_memory()?;
        cfg.db = PathBuf::from(":memory:");
        Kogi::with_db(cfg, db)
    };
    let imp = kogi.import(&file, &ImportOptions::default())?;
    // With a glossary, the transcript is corrected first (one new revision), and the gold ranges
    // are carried through that edit like any citation.
    let mut moved: Option<(String, String)> = None;
    if let Some(g) = glossary {
        let terms = kogi_core::correction::glossary::load_glossary_file(g)?;
        let head = kogi.db.head_revision(imp.lecture.id)?;
        let opts = kogi_core::correction::glossary::ReplaceOptions::default();
        let (rev, _) = kogi.db.apply_glossary(imp.lecture.id, head.id, &terms, &opts)?;
        moved = Some((head.text, rev.text));
    }
    index_one(&mut kogi, imp.lecture.id, out)?;
    params.filter = SearchFilter { lectures: vec![imp.lecture.id], ..Default::default() };
    let strategy = kogi.config.strategy.clone();
    let (db, embedder) = kogi.parts()?;
    let mut retriever = kogi_core::retrieval::Retriever::new(embedder, &strategy);
    let mut results = Vec::new();
    for q in qs.iter().filter(|q| q.answerable) {
        let passages = retriever.search(db, &q.question, &params)?;
        let q = match &moved {
            Some((old, new)) => moved_gold(q, transcript, old, new),
            None => q.clone(),
        };
        results.push(eval::score_question(&q, &passages, transcript));
    }
    Ok(eval::aggregate(results))
}

/// The question with its gold ranges of `transcript` carried from `old` onto the edited `new` text.
fn moved_gold(q: &eval::Question, transcript: TranscriptVersion, old: &str, new: &str) -> eval::Question {
    use kogi_core::transcript::Segment;
    let spans = q.gold_spans(transcript);
    let segs: Vec<Segment> = spans.iter().map(|s| Segment { span: *s, start_ms: None, end_ms: None }).collect();
    let mapped = kogi_core::correction::diff::map_segments(old, new, &segs);
    let mut q = q.clone();
    q.gold_chars = mapped
        .iter()
        .map(|m| {
            let r = Some([m.span.start, m.span.end]);
            match transcript {
                TranscriptVersion::Corrected => eval::GoldChars { corrected: r, raw: None },
                TranscriptVersion::Raw => eval::GoldChars { corrected: None, raw: r },
            }
        })
        .collect();
    q
}

fn demo(mut cfg: Config, file: Option<PathBuf>, question: &str, out: &Out) -> Result<()> {
    let file = match file {
        Some(f) => f,
        None => match shared_data_dir() {
            Some(d) => d.join("LLM2024_day4_raw.txt"),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sample-lecture.srt"),
        },
    };
    if std::env::var_os("KOGI_DB").is_none() && cfg.db == kogi_core::store::default_path() {
        cfg.db = kogi_core::paths::data_dir().join("demo.sqlite3");
    }
    let mut kogi = Kogi::open(cfg)?;
    println!("database: {}", kogi.db.path().display());
    let imp = kogi.import(&file, &ImportOptions::default())?;
    println!(
        "{} lecture {}: {} ({} chars)",
        if imp.created { "imported" } else { "already imported:" },
        imp.lecture.id,
        imp.lecture.file_name,
        imp.lecture.chars
    );
    let r = index_one(&mut kogi, imp.lecture.id, out)?;
    println!(
        "indexed with {} on {}: {} chunks, {} embedded now ({:.1} s)",
        r.strategy,
        kogi.embedder()?.provider,
        r.chunks,
        r.embedded,
        r.seconds
    );
    println!("\nQ: {question}\n");
    let passages = kogi.search(question, &SearchParams { k: 3, ..Default::default() })?;
    output::print_passages(&passages);
    Ok(())
}
