//! `kogi ask` and the answer evaluation of `kogi eval --answers`.

use crate::output::Out;
use anyhow::{Context, Result, bail};
use clap::Args;
use kogi_core::answer::prompt::Lang;
use kogi_core::answer::{AskParams, Answer, Answerer, Rung, Scorer, ThinkHarder};
use kogi_core::app::{Config, Kogi};
use kogi_core::eval::Question;
use kogi_core::generate::engine::LanguageModel;
use kogi_core::generate::ngram::NgramConfig;
use kogi_core::generate::sampling::SamplingParams;
use kogi_core::inference::runtime::SessionConfig;
use kogi_core::lecture::LectureId;
use kogi_core::store::SearchFilter;
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use unicode_normalization::UnicodeNormalization;

#[derive(Args, Clone)]
pub struct AnswerArgs {
    /// Step of the RAG ladder: none, raw, corrected, windows, reranked, chunks
    #[arg(long, default_value = "windows")]
    pub mode: Rung,
    /// Passages handed to the model
    #[arg(short, default_value_t = 5)]
    pub k: usize,
    /// Chat model folder [default: <models dir>/smollm2-135m-instruct]
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Answer language (ja, en) [default: the question's]
    #[arg(long)]
    pub lang: Option<Lang>,
    #[arg(long, default_value_t = 256)]
    pub max_tokens: usize,
    /// 0 = greedy
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f32,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Turn n-gram speculative decoding off (it is on for greedy answers; output is identical)
    #[arg(long)]
    pub no_speculation: bool,
    /// Think harder: self-consistency:N, best-of:N (log-probability) or best-of:N:judge
    #[arg(long)]
    pub think: Option<String>,
    /// Below this best passage similarity the lecture is taken not to cover the question
    #[arg(long, default_value_t = AskParams::default().min_similarity)]
    pub min_similarity: f32,
    /// Prime the answer with "[" so the model first names the excerpt it rests on (small models
    /// rarely cite on their own)
    #[arg(long)]
    pub lead_citation: bool,
    #[arg(long = "lecture")]
    pub lectures: Vec<i64>,
    #[arg(long)]
    pub course: Option<String>,
}

impl AnswerArgs {
    pub fn params(&self) -> Result<AskParams> {
        let mut p = AskParams { rung: self.mode, k: self.k, lang: self.lang, min_similarity: self.min_similarity, ..Default::default() };
        p.generate.max_new_tokens = self.max_tokens;
        p.generate.sampling = SamplingParams { temperature: self.temperature, top_p: self.top_p, seed: self.seed, ..Default::default() };
        p.generate.sampling.validate()?;
        if !self.no_speculation {
            p.generate.speculative = Some(NgramConfig::default());
        }
        p.filter = SearchFilter { lectures: self.lectures.iter().copied().map(LectureId).collect(), course: self.course.clone(), ..Default::default() };
        p.think = self.think.as_deref().map(parse_think).transpose()?;
        p.lead_citation = self.lead_citation;
        Ok(p)
    }

    pub fn model_dir(&self) -> PathBuf {
        self.model.clone().unwrap_or_else(|| kogi_core::paths::models_dir().join("smollm2-135m-instruct"))
    }
}

fn parse_think(s: &str) -> Result<ThinkHarder> {
    let parts: Vec<&str> = s.split(':').collect();
    let n = |x: Option<&&str>| -> Result<usize> {
        x.context("give the number of samples, e.g. self-consistency:5")?.parse::<usize>().context("samples must be a number")
    };
    Ok(match parts.first().copied() {
        Some("self-consistency") => ThinkHarder::SelfConsistency { n: n(parts.get(1))? },
        Some("best-of") => ThinkHarder::BestOfN {
            n: n(parts.get(1))?,
            scorer: match parts.get(2).copied() {
                None | Some("logprob") => Scorer::LogProb,
                Some("judge") => Scorer::Judge,
                Some(o) => bail!("unknown scorer {o:?} — use logprob or judge"),
            },
        },
        _ => bail!("--think takes self-consistency:N or best-of:N[:judge]"),
    })
}

fn clock(ms: u64) -> String {
    let s = ms / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn print_answer_tail(a: &Answer) {
    if a.trimmed_passages > 0 {
        println!("\n(note: {} passage(s) were left out or shortened to fit the model's window)", a.trimmed_passages);
    }
    if a.cut {
        println!("\n(the answer hit the token limit and may be incomplete — raise --max-tokens)");
    }
    if !a.citations.is_empty() {
        println!("\ncitations:");
        for c in &a.citations {
            let time = c.start_ms.map(|ms| format!(" @ {}", clock(ms))).unwrap_or_default();
            println!("  [{}] {} — lecture {}, revision {}, chars {}..{}{}", c.n, c.title, c.lecture, c.revision, c.span.start, c.span.end, time);
        }
    } else if !a.passages.is_empty() && !a.not_covered {
        println!("\n(the answer cites no passage; the passages it was given:)");
        for (i, p) in a.passages.iter().enumerate() {
            println!("  [{}] {} — lecture {}, revision {}, chars {}..{}", i + 1, p.title, p.lecture, p.revision, p.span.start, p.span.end);
        }
    }
    if let Some(t) = &a.think {
        println!(
            "\nthought harder: {} samples, chose #{} (scores {:?}); {} tokens generated in {:.1} s",
            t.samples,
            t.chosen + 1,
            t.scores.iter().map(|s| (s * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
            t.new_tokens,
            t.ms / 1e3
        );
    }
}

/// `kogi ask`: stream the answer, then list the citations; `--compare` runs several ladder steps.
pub fn ask(cfg: Config, question: &str, args: &AnswerArgs, compare: Option<Vec<Rung>>, out: &Out) -> Result<()> {
    let session = SessionConfig { provider: cfg.provider, threads: cfg.threads, ..Default::default() };
    let mut lm = LanguageModel::open(&args.model_dir(), &session)?;
    let mut kogi = Kogi::open(cfg)?;
    if kogi.db.lectures(None)?.is_empty() {
        bail!("there are no lectures yet — `kogi import FILE` adds one");
    }
    let (db, embedder) = kogi.parts()?;
    let mut answerer = Answerer::new(db, embedder, Some(embedder), &mut lm);
    let cancel = AtomicBool::new(false);
    let base = args.params()?;
    let rungs = compare.unwrap_or_else(|| vec![base.rung]);
    let mut answers = Vec::new();
    for rung in rungs {
        let p = AskParams { rung, ..base.clone() };
        let stream = !out.json && !out.quiet;
        if stream && answers.len() + 1 > 1 {
            println!("\n────────────────────────────────────────");
        }
        if stream {
            println!("[{}]", rung.name());
        }
        let a = answerer.ask(question, &p, &mut |t| {
            if stream {
                print!("{t}");
                let _ = std::io::stdout().flush();
            }
        }, &cancel)?;
        if stream {
            println!();
            print_answer_tail(&a);
        }
        answers.push(a);
    }
    out.json(&answers);
    Ok(())
}

/// NFKC, lower case: the comparison rule of the question sets.
fn norm(s: &str) -> String {
    s.nfkc().collect::<String>().to_lowercase()
}

#[derive(Serialize)]
pub struct RungResult {
    pub rung: Rung,
    pub fact_recall: f64,
    pub refusal_accuracy: f64,
    /// Answerable questions wrongly declined.
    pub false_refusals: usize,
    pub answerable: usize,
    pub unanswerable: usize,
    pub mean_new_tokens: f64,
    pub mean_seconds: f64,
    pub answers: Vec<serde_json::Value>,
}

/// Fact recall and refusal accuracy for each ladder step (rules of the question sets' README).
pub fn eval_answers(
    mut cfg: Config,
    questions: &[Question],
    raw: &std::path::Path,
    corrected: &std::path::Path,
    args: &AnswerArgs,
    rungs: &[Rung],
    out: &Out,
) -> Result<Vec<RungResult>> {
    use kogi_core::lecture::RevisionKind;
    use kogi_core::transcript::import::ImportOptions;
    let session = SessionConfig { provider: cfg.provider, threads: cfg.threads, ..Default::default() };
    let mut lm = LanguageModel::open(&args.model_dir(), &session)?;
    cfg.db = PathBuf::from(":memory:");
    let mut kogi = Kogi::with_db(cfg, kogi_core::store::Db::open_in_memory()?);
    // The raw ASR text is revision 1 and the hand-corrected text revision 2 of one lecture, as a
    // user who corrected the transcript in kogi would have it.
    let imp = kogi.import(raw, &ImportOptions::default())?;
    let text = std::fs::read_to_string(corrected).with_context(|| format!("reading {}", corrected.display()))?;
    let head = kogi.db.head_revision(imp.lecture.id)?;
    kogi.db.add_revision(imp.lecture.id, head.id, RevisionKind::Edit, Some("hand-corrected transcript"), &text, &[])?;
    let (db, embedder) = kogi.parts()?;
    let mut answerer = Answerer::new(db, embedder, Some(embedder), &mut lm);
    let cancel = AtomicBool::new(false);
    let mut results = Vec::new();
    for &rung in rungs {
        let p = AskParams { rung, ..args.params()? };
        let (mut covered, mut facts, mut refused_right, mut false_refusals) = (0usize, 0usize, 0usize, 0usize);
        let (mut answerable, mut unanswerable, mut tokens, mut secs) = (0usize, 0usize, 0usize, 0f64);
        let mut rows = Vec::new();
        for q in questions {
            let a = answerer.ask(&q.question, &p, &mut |_| {}, &cancel)?;
            let text = norm(&a.text);
            let hit: Vec<bool> = q.facts.iter().map(|alts| alts.iter().any(|x| text.contains(&norm(x)))).collect();
            if q.answerable {
                answerable += 1;
                facts += q.facts.len();
                covered += hit.iter().filter(|h| **h).count();
                false_refusals += a.not_covered as usize;
            } else {
                unanswerable += 1;
                refused_right += a.not_covered as usize;
            }
            tokens += a.stats.as_ref().map(|s| s.new_tokens).unwrap_or(0);
            secs += a.ms / 1e3;
            out.line(&format!("  [{}] {} → {}", rung.name(), q.id, a.text.chars().take(80).collect::<String>().replace('\n', " ")));
            rows.push(serde_json::json!({"id": q.id, "answer": a.text, "facts_covered": hit, "not_covered": a.not_covered,
                "gated": a.gated, "citations": a.citations.len(), "new_tokens": a.stats.as_ref().map(|s| s.new_tokens)}));
        }
        results.push(RungResult {
            rung,
            fact_recall: if facts == 0 { 0.0 } else { covered as f64 / facts as f64 },
            refusal_accuracy: if unanswerable == 0 { 0.0 } else { refused_right as f64 / unanswerable as f64 },
            false_refusals,
            answerable,
            unanswerable,
            mean_new_tokens: tokens as f64 / questions.len().max(1) as f64,
            mean_seconds: secs / questions.len().max(1) as f64,
            answers: rows,
        });
    }
    Ok(results)
}
