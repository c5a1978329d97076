//! `kogi`: the command-line shell over kogi-core's service layer. Parses arguments into service
//! calls, shows progress, prints results. Settings come from the same `settings.json` as the app;
//! a flag overrides one for this run only.

/// `println!` / `print!` / `eprintln!` with control characters from transcripts and file names made
/// visible: a terminal must never act on them.
macro_rules! say {
    () => { println!() };
    ($($t:tt)*) => { println!("{}", $crate::output::printable(&format!($($t)*))) };
}
macro_rules! say_inline {
    ($($t:tt)*) => { print!("{}", $crate::output::printable(&format!($($t)*))) };
}
macro_rules! say_err {
    ($($t:tt)*) => { eprintln!("{}", $crate::output::printable(&format!($($t)*))) };
}

mod ask;
mod bench;
mod correct;
mod models;
mod output;
mod server;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use kogi_core::eval::TranscriptVersion;
use kogi_core::lecture::LectureId;
use kogi_core::service::{IndexWhen, Kogi, Mode, Provider, RetrievalEvalRequest, SearchFilter, SearchParams, Strategy};
use kogi_core::settings::Settings;
use kogi_core::transcript::LectureMeta;
use kogi_core::transcript::import::{DEFAULT_MAX_BYTES, ImportOptions};
use kogi_core::{Error, Remedy};
use output::Out;
use std::path::{Path, PathBuf};

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
    /// Embedding model folder [default: the settings' embedder in the models folder]
    #[arg(long, global = true)]
    embedder: Option<PathBuf>,
    /// Execution provider: auto (TensorRT → CUDA → CPU), cpu, cuda, tensorrt [default: the settings']
    #[arg(long, global = true)]
    provider: Option<Provider>,
    /// Threads for inference [default: the settings', else all cores]
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
    #[command(flatten)]
    engine: server::EngineArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Import transcript files (text, SRT, WebVTT, JSON) or recordings (transcribed: WAV, FLAC, MP3, M4A, MP4, …) as lectures
    Import {
        files: Vec<PathBuf>,
        /// Language spoken in recordings (ja, en, …) [default: detected]
        #[arg(long)]
        language: Option<String>,
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
    /// What a recording says, with times (nothing is stored)
    Transcribe {
        file: PathBuf,
        /// Language spoken (ja, en, …) [default: detected from the first 30 s]
        #[arg(long)]
        language: Option<String>,
        /// Speech recognition model folder [default: the settings' transcriber in the models folder]
        #[arg(long)]
        model: Option<PathBuf>,
        /// Weights to run: int8 (default) or fp32
        #[arg(long, default_value = "int8")]
        precision: String,
        /// Transcribe all of the sound, silences too (no voice activity detection)
        #[arg(long)]
        all_sound: bool,
    },
    /// Show a lecture's recording, or keep FILE as its recording (a lecture imported as text)
    Recording {
        lecture: i64,
        file: Option<PathBuf>,
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
        /// Passages to return (1–50)
        #[arg(short, default_value_t = 5, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=50))]
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
        /// Passages to return (1–50)
        #[arg(short, default_value_t = 5, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=50))]
        k: usize,
        /// Weight of the dense ranking in hybrid fusion (0–1)
        #[arg(long, default_value_t = SearchParams::default().dense_weight)]
        dense_weight: f64,
        /// Weight of the word-and-reading ranking in hybrid fusion (0 leaves it out)
        #[arg(long, default_value_t = SearchParams::default().words_weight)]
        words_weight: f64,
        /// Weight of passages that say 「Xとは」 when the question asks 「Xとは…」 (0 leaves it out)
        #[arg(long, default_value_t = SearchParams::default().definition_weight)]
        definition_weight: f64,
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
        /// Chat model folder (with --answers) [default: the settings' chat model]
        #[arg(long)]
        model: Option<PathBuf>,
        /// Token budget of each answer (with --answers)
        #[arg(long, default_value_t = 128)]
        max_tokens: usize,
        /// Answer by quoting the lecture's best sentences instead of generating (with --answers)
        #[arg(long)]
        quotes: bool,
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
    /// The model manager: list, add a GGUF file or Hugging Face folder, use, remove
    Models {
        #[command(subcommand)]
        command: Option<models::ModelsCommand>,
    },
    /// Answers from a server (vLLM, llama.cpp, Ollama, LM Studio): show, set, test, key, off
    Server {
        #[command(subcommand)]
        command: Option<server::ServerCommand>,
    },
    /// Import a transcript, index it and answer a search: the quickest look at kogi
    Demo {
        /// Transcript to use [default: the real lecture in ../shared/data if present, else the bundled sample]
        file: Option<PathBuf>,
        #[arg(long, default_value = "LLMにおけるInference Time Scalingとは？")]
        question: String,
    },
}

fn main() {
    // `kogi lectures | head` ends quietly when the reader stops, as other command-line tools do, instead
    // of panicking on a broken pipe (sockets are unaffected: Rust writes to them without the signal).
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    // symphonia warns of every junk byte it skips in a container: not the user's concern.
    let base = if cli.global.quiet { "error" } else { "warn" };
    let filter = format!("{base},symphonia_core=off,symphonia_format_isomp4=off,symphonia_bundle_mp3=off");
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("KOGI_LOG").unwrap_or_else(|_| filter.as_str().into()))
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(cli) {
        say_err!("error: {}", explain(&e));
        std::process::exit(1);
    }
}

/// What to do about an error, in this command's terms.
fn remedy(r: Remedy) -> String {
    match r {
        Remedy::RaiseSizeLimit => "split it or raise --max-bytes".into(),
        Remedy::ChooseAnotherDatabase => "choose another with --db".into(),
        Remedy::IndexLectures => "run `kogi index` first".into(),
        Remedy::ListLectures => "`kogi lectures` lists them".into(),
        Remedy::ListRevisions(Some(l)) => format!("`kogi revisions {l}` lists its revisions"),
        Remedy::ListRevisions(None) => "`kogi revisions LECTURE` lists them".into(),
        Remedy::ListModels => "`kogi models` lists them".into(),
    }
}

fn explain(e: &anyhow::Error) -> String {
    match e.downcast_ref::<Error>() {
        Some(k) => k.explained(remedy),
        None => format!("{e:#}"),
    }
}

/// The settings file with this run's flags on top; `model` overrides the chat model.
fn settings(g: &Global, model: Option<&Path>) -> Result<Settings> {
    // Like the app, a damaged settings file is named and the defaults are used meanwhile.
    let mut s = Settings::load(&kogi_core::settings::default_path()).unwrap_or_else(|e| {
        say_err!("warning: {e}");
        Settings::default()
    });
    let absolute = |p: &Path| std::path::absolute(p).map(|p| p.to_string_lossy().into_owned());
    if let Some(e) = &g.embedder {
        s.embedder = absolute(e)?;
    }
    if let Some(m) = model {
        // A folder, or the name of an installed model; named on the command line, it must exist
        // (quoted answers because of a typo would look like the model's fault).
        s.chat_model = if m.exists() {
            absolute(m)?
        } else if m.components().count() == 1 && s.models_dir().join(m).is_dir() {
            m.to_string_lossy().into_owned()
        } else {
            anyhow::bail!("no model folder {} — `kogi models` lists the installed models (give a name from there, or a folder)", m.display());
        };
    }
    if let Some(p) = g.provider {
        s.provider = p;
    }
    if g.threads.is_some() {
        s.threads = g.threads;
    }
    if let Some(c) = &g.chunking {
        s.chunking = c.parse::<Strategy>()?;
    }
    g.engine.apply(&mut s);
    Ok(s)
}

/// The service for this run over `s`, with the server key: `KOGI_SERVER_KEY` for this run, else the
/// stored one.
fn service(g: &Global, s: Settings) -> Result<Kogi> {
    let k = Kogi::new(db_path(g), s, None);
    let key = match std::env::var("KOGI_SERVER_KEY") {
        Ok(key) if !key.trim().is_empty() => Some(key),
        _ => {
            let path = kogi_core::server::key::path_beside(&kogi_core::settings::default_path());
            kogi_core::server::key::load(&path)?.map(|k| k.secret().to_owned())
        }
    };
    k.set_server_key(key.as_deref())?;
    Ok(k)
}

fn db_path(g: &Global) -> PathBuf {
    g.db.clone().unwrap_or_else(kogi_core::service::default_db_path)
}

/// The service for this run (settings changed by flags are not saved).
fn kogi(g: &Global, model: Option<&Path>) -> Result<Kogi> {
    service(g, settings(g, model)?)
}

fn run(cli: Cli) -> Result<()> {
    let g = cli.global;
    let out = Out::new(g.json, g.quiet);
    match cli.command {
        Command::Import { files, language, course, title, date, speaker, max_bytes, index } => {
            if files.is_empty() {
                bail!("name at least one file to import");
            }
            let kogi = kogi(&g, None)?;
            let opts = ImportOptions { max_bytes, meta: LectureMeta { course, title, date, speaker }, format: None };
            let when = if index { IndexWhen::Always } else { IndexWhen::Never };
            let mut results = Vec::new();
            let mut failed = 0;
            for f in &files {
                let outcome = out.work(&format!("importing {}", f.display()), |job| match &language {
                    Some(l) if kogi_core::recording::audio::is_recording(f) => kogi.import_recording(f, &opts, Some(l.clone()), when, job),
                    _ => kogi.import_file(f, &opts, when, job),
                });
                match outcome {
                    Ok(imp) => {
                        out.line(&format!(
                            "{} lecture {}: {} ({} chars)",
                            if imp.created { "imported" } else { "already imported as" },
                            imp.lecture.id,
                            imp.lecture.meta.title.as_deref().unwrap_or(&imp.lecture.file_name),
                            imp.lecture.chars
                        ));
                        if let Some(r) = &imp.index {
                            out.line(&format!("  indexed: {} chunks ({} embedded now)", r.chunks, r.embedded));
                        }
                        if !imp.created && (opts.meta.title.is_some() || opts.meta.course.is_some() || opts.meta.date.is_some()) {
                            out.line("  (its title, course and date stay as they were: the file was imported before)");
                        }
                        results.push(serde_json::json!({"file": f, "ok": true, "created": imp.created, "lecture": imp.lecture}));
                    }
                    // A file that cannot be read or parsed fails alone; anything else (the database,
                    // the embedder) stops the run.
                    Err(e) if !e.is_bad_input() => return Err(e.into()),
                    Err(e) => {
                        failed += 1;
                        let message = e.explained(remedy);
                        say_err!("error: {message}");
                        results.push(serde_json::json!({"file": f, "ok": false, "error": message}));
                    }
                }
            }
            out.json(&results);
            if failed > 0 {
                bail!("{failed} of {} files could not be imported (nothing was stored for them)", files.len());
            }
        }
        Command::Lectures { course } => {
            let lectures = kogi(&g, None)?.lectures(course.as_deref())?;
            if out.json(&lectures) {
                return Ok(());
            }
            if lectures.is_empty() {
                say!("no lectures yet — `kogi import FILE` adds one");
            }
            for l in lectures {
                say!(
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
            let kogi = kogi(&g, None)?;
            let ids: Vec<LectureId> = if lectures.is_empty() {
                kogi.lectures(None)?.into_iter().map(|l| l.id).collect()
            } else {
                lectures.into_iter().map(LectureId).collect()
            };
            let mut reports = Vec::new();
            for id in ids {
                let r = out.work(&format!("indexing lecture {id}"), |job| kogi.index(&[id], job))?.remove(0);
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
            let params = SearchParams {
                mode,
                k,
                filter: SearchFilter { lectures: lectures.into_iter().map(LectureId).collect(), course, ..Default::default() },
                ..Default::default()
            };
            let kogi = kogi(&g, None)?;
            let passages = out.work("searching", |job| kogi.search(&question, &params, job))?;
            if !out.json(&passages) {
                output::print_passages(&passages);
            }
            // On stderr, so that --json output stays one document.
            for u in kogi.unsearchable(&params.filter)? {
                say_err!("note: lecture {} 「{}」 is not in these results: {} — `kogi index {}` indexes it", u.lecture, u.title, u.reason, u.lecture);
            }
        }
        Command::Ask { question, answer, compare } => {
            let compare = compare.map(|c| if c.is_empty() { kogi_core::answer::Rung::ALL.to_vec() } else { c });
            let mut s = settings(&g, answer.model.as_deref())?;
            answer.apply(&mut s)?;
            let kogi = service(&g, s)?;
            ask::ask(&kogi, &question, &answer, compare, &out)?;
        }
        Command::Eval { questions, data, k, answers: true, modes, model, max_tokens, quotes, .. } => {
            let data = data_dir(data)?;
            let kogi = kogi(&g, model.as_deref())?;
            let request = kogi_core::service::AnswerEvalRequest {
                questions,
                raw: data.join("LLM2024_day4_raw.txt"),
                corrected: data.join("LLM2024_day4.txt"),
                rungs: modes,
                k,
                max_tokens,
                quotes,
            };
            let results = out.work("answering", |job| {
                kogi.evaluate_answers(&request, job, &mut |rung, id, text| {
                    out.line(&format!("  [{}] {} → {}", rung.name(), id, text.chars().take(80).collect::<String>().replace('\n', " ")))
                })
            })?;
            if !out.json(&results) {
                say!("\n| step | fact recall | refusal accuracy | answerable declined | mean tokens | mean chars | mean s |");
                say!("|---|---|---|---|---|---|---|");
                for r in &results {
                    say!(
                        "| {} | {:.2} | {:.2} ({} q) | {} of {} | {:.0} | {:.0} | {:.1} |",
                        r.rung.name(), r.fact_recall, r.refusal_accuracy, r.unanswerable, r.false_refusals, r.answerable, r.mean_new_tokens, r.mean_chars, r.mean_seconds
                    );
                }
            }
        }
        Command::Eval { questions, transcript, data, mode, k, dense_weight, words_weight, definition_weight, max_terms, glossary, .. } => {
            let lecture_file = data_dir(data)?.join(match transcript {
                TranscriptVersion::Corrected => "LLM2024_day4.txt",
                TranscriptVersion::Raw => "LLM2024_day4_raw.txt",
            });
            let request = RetrievalEvalRequest {
                questions,
                transcript,
                lecture_file,
                glossary,
                search: SearchParams { mode, k, dense_weight, words_weight, definition_weight, max_terms, ..Default::default() },
                // A fresh private database unless --db was given, so any question file runs as is.
                in_database: g.db.is_some(),
            };
            let kogi = kogi(&g, None)?;
            let m = out.work("evaluating", |job| kogi.evaluate_retrieval(&request, job))?;
            if !out.json(&m) {
                output::print_metrics(&m, transcript);
            }
        }
        Command::Diff { a, b } => correct::diff(&kogi(&g, None)?, a, b, &out)?,
        Command::Revisions { lecture } => correct::revisions(&kogi(&g, None)?, lecture, &out)?,
        Command::Restore { lecture, revision } => correct::restore(&kogi(&g, None)?, lecture, revision, &out)?,
        Command::Glossary { cmd } => correct::glossary_cmd(&kogi(&g, None)?, cmd, &out)?,
        Command::Suspicious { lecture, top, model } => {
            correct::suspicious(&kogi(&g, model.as_deref())?, lecture, top, &out)?
        }
        Command::Suggest { lecture, span, accept, model } => {
            correct::suggest(&kogi(&g, model.as_deref())?, lecture, &span, accept, &out)?
        }
        Command::EvalCorrection { raw, reference, glossary, top, model } => {
            let request = kogi_core::service::CorrectionEvalRequest { raw, reference, glossary, top };
            let kogi = kogi(&g, model.as_deref())?;
            let report = out.work("scanning", |job| kogi.evaluate_correction(&request, job))?;
            if !out.json(&report) {
                say!("{}", serde_json::to_string_pretty(&report)?);
            }
        }
        Command::Bench(args) => bench::run(args, &kogi(&g, None)?, &out)?,
        Command::Models { command } => {
            // The stored settings (not this run's flags), so that `use` is kept.
            let kogi = Kogi::load(db_path(&g), kogi_core::settings::default_path());
            models::run(&kogi, command, &out)?
        }
        Command::Server { command } => {
            // The stored settings: `set`, `key` and `off` are kept.
            let kogi = Kogi::load(db_path(&g), kogi_core::settings::default_path());
            server::run(&kogi, command, &out)?
        }
        Command::Recording { lecture, file } => {
            let kogi = kogi(&g, None)?;
            let id = LectureId(lecture);
            let r = match file {
                Some(f) => Some(kogi.link_recording(id, &f)?),
                None => kogi.recording(id)?,
            };
            if !out.json(&serde_json::json!({"recording": r, "media_dir": kogi.media_dir(), "media_bytes": kogi.media_bytes()?})) {
                match r {
                    Some(r) => out.line(&format!(
                        "lecture {lecture}: {} ({:.1} MB{}), kept as {}",
                        r.original_name,
                        r.bytes as f64 / 1e6,
                        r.duration_ms.map(|d| format!(", {}", output::clock(d))).unwrap_or_default(),
                        kogi.media_dir().join(&r.file).display()
                    )),
                    None => out.line(&format!("lecture {lecture} has no recording — `kogi recording {lecture} FILE` keeps one with it")),
                }
                out.line(&format!("recordings kept: {:.1} MB in {}", kogi.media_bytes()? as f64 / 1e6, kogi.media_dir().display()));
            }
        }
        Command::Transcribe { file, language, model, precision, all_sound } => transcribe(&g, &file, language, model, &precision, all_sound, &out)?,
        Command::Demo { file, question } => demo(&g, file, &question, &out)?,
    }
    Ok(())
}

/// The folder of the project's real lecture data, when the checkout sits beside one.
pub fn shared_data_dir() -> Option<PathBuf> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    here.is_dir().then_some(here)
}

fn data_dir(data: Option<PathBuf>) -> Result<PathBuf> {
    match data {
        Some(d) => Ok(d),
        None => shared_data_dir().context("no data folder: pass --data DIR holding LLM2024_day4.txt and LLM2024_day4_raw.txt"),
    }
}

fn demo(g: &Global, file: Option<PathBuf>, question: &str, out: &Out) -> Result<()> {
    let file = match file {
        Some(f) => f,
        None => match shared_data_dir() {
            Some(d) => d.join("LLM2024_day4_raw.txt"),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sample-lecture.srt"),
        },
    };
    let mut db = db_path(g);
    if std::env::var_os("KOGI_DB").is_none() && db == kogi_core::service::default_db_path() {
        db = kogi_core::paths::data_dir().join("demo.sqlite3");
    }
    let kogi = Kogi::new(db, settings(g, None)?, None);
    say!("database: {}", kogi.db_path().display());
    let imp = out.work("importing", |job| kogi.import_file(&file, &ImportOptions::default(), IndexWhen::Always, job))?;
    say!(
        "{} lecture {}: {} ({} chars)",
        if imp.created { "imported" } else { "already imported:" },
        imp.lecture.id,
        imp.lecture.file_name,
        imp.lecture.chars
    );
    let r = imp.index.context("the lecture was not indexed")?;
    let provider = kogi.loaded_embedder().and_then(|e| e.provider()).map(|p| p.to_string()).unwrap_or_default();
    say!("indexed with {} on {}: {} chunks, {} embedded now ({:.1} s)", r.strategy, provider, r.chunks, r.embedded, r.seconds);
    say!("\nQ: {question}\n");
    let passages = out.work("searching", |job| kogi.search(question, &SearchParams { k: 3, ..Default::default() }, job))?;
    output::print_passages(&passages);
    Ok(())
}

fn transcribe(g: &Global, file: &Path, language: Option<String>, model: Option<PathBuf>, precision: &str, all_sound: bool, out: &Out) -> Result<()> {
    use kogi_core::service::Precision;
    let kogi = kogi(g, None)?;
    let precision = match precision {
        "int8" => Precision::Int8,
        "fp32" => Precision::Fp32,
        other => bail!("--precision is int8 or fp32, not {other}"),
    };
    let load = std::time::Instant::now();
    let kogi = kogi.load_transcriber(model.as_deref(), precision)?;
    let load_s = load.elapsed().as_secs_f64();
    let t0 = std::time::Instant::now();
    let heard = out.work(&format!("transcribing {}", file.display()), |job| {
        kogi.transcribe(file, &kogi_core::recording::transcribe::Options { language, all_sound }, job)
    })?;
    let seconds = t0.elapsed().as_secs_f64();
    if g.json {
        let segments: Vec<_> = heard.segments.iter().map(|h| serde_json::json!({"start": h.start, "end": h.end, "text": h.text})).collect();
        let windows: Vec<_> = heard.window_tokens.iter().map(|(seek, t)| serde_json::json!({"seek": seek, "tokens": t})).collect();
        out.json(&serde_json::json!({
            "file": file, "language": heard.language, "language_probability": heard.language_probability,
            "duration_s": heard.duration, "load_s": load_s, "seconds": seconds, "real_time_factor": seconds / heard.duration.max(1e-9),
            "segments": segments, "windows": windows,
        }));
    } else {
        for h in &heard.segments {
            out.line(&format!("[{} → {}] {}", stamp(h.start), stamp(h.end), h.text));
        }
        let said = if heard.segments.is_empty() { "no speech heard".to_owned() } else { format!("speech in {}", heard.language) };
        say_err!("{}: {:.1} s, {said}, in {:.1} s ({:.2} × real time)", file.display(), heard.duration, seconds, seconds / heard.duration.max(1e-9));
    }
    Ok(())
}

fn stamp(s: f64) -> String {
    let ms = (s * 1000.0).round() as u64;
    format!("{:02}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}
