//! How results look in a terminal, and in JSON for scripts.

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kogi_core::app::Config;
use kogi_core::eval::{RetrievalMetrics, TranscriptVersion};
use kogi_core::inference::manifest::ModelDir;
use kogi_core::retrieval::Passage;
use serde::Serialize;
use std::io::IsTerminal;

pub struct Out {
    pub json: bool,
    pub quiet: bool,
}

impl Out {
    pub fn new(json: bool, quiet: bool) -> Self {
        Self { json, quiet }
    }

    /// A human line, unless `--json` or `--quiet`.
    pub fn line(&self, s: &str) {
        if !self.json && !self.quiet {
            println!("{s}");
        }
    }

    /// Print `v` as JSON when `--json`; says whether it did.
    pub fn json<T: Serialize>(&self, v: &T) -> bool {
        if self.json {
            println!("{}", serde_json::to_string_pretty(v).expect("serialisable"));
        }
        self.json
    }

    pub fn progress(&self, what: &str) -> ProgressBar {
        if self.quiet || self.json || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta})").expect("template").progress_chars("=> "),
        );
        bar.set_message(what.to_owned());
        bar
    }
}

fn clock(ms: u64) -> String {
    let s = ms / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

pub fn print_passages(passages: &[Passage]) {
    if passages.is_empty() {
        println!("nothing found");
    }
    for (i, p) in passages.iter().enumerate() {
        let time = match p.start_ms {
            Some(ms) => format!(" @ {}", clock(ms)),
            None => String::new(),
        };
        println!(
            "[{}] {} — lecture {}, revision {}, chars {}..{}{}  (score {:.4}{}{})",
            i + 1,
            p.title,
            p.lecture,
            p.revision,
            p.span.start,
            p.span.end,
            time,
            p.score,
            p.dense.map(|d| format!(", cosine {d:.3}")).unwrap_or_default(),
            p.bm25.map(|b| format!(", bm25 {b:.2}")).unwrap_or_default(),
        );
        let text: String = p.text.chars().take(300).collect();
        let more = if p.text.chars().count() > 300 { "…" } else { "" };
        println!("    {}{more}\n", text.replace('\n', " "));
    }
}

pub fn print_metrics(m: &RetrievalMetrics, v: TranscriptVersion) {
    println!("transcript: {v:?}, {} answerable questions", m.questions);
    println!(
        "hit@1 {:.2}  hit@3 {:.2}  hit@5 {:.2}  MRR@5 {:.2}  mean context {:.0} chars",
        m.hit_at_1, m.hit_at_3, m.hit_at_5, m.mrr_at_5, m.mean_context_chars
    );
    for q in &m.per_question {
        println!("  {:<8} first relevant at {}", q.id, q.first_relevant.map(|r| r.to_string()).unwrap_or("-".into()));
    }
}

pub fn models(cfg: &Config, out: &Out) -> Result<()> {
    let models_dir = kogi_core::paths::models_dir();
    let mut rows = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&models_dir) {
        let mut dirs: Vec<_> = entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
        dirs.sort();
        for d in dirs {
            let row = match ModelDir::open(&d) {
                Ok(m) => {
                    let verified = m.verify().map(|_| "ok".to_string()).unwrap_or_else(|e| e.to_string());
                    serde_json::json!({"dir": d, "name": m.manifest.name, "kind": m.manifest.kind, "id": m.id(), "verified": verified})
                }
                Err(e) => serde_json::json!({"dir": d, "error": e.to_string()}),
            };
            rows.push(row);
        }
    }
    let runtime = match kogi_core::inference::runtime::library_path() {
        Ok(p) => p.display().to_string(),
        Err(e) => e.to_string(),
    };
    let provider = {
        let mut kogi = kogi_core::app::Kogi::with_db(cfg.clone(), kogi_core::store::Db::open_in_memory()?);
        match kogi.embedder() {
            Ok(e) => e.provider.to_string(),
            Err(e) => format!("embedder not loaded: {e}"),
        }
    };
    let report = serde_json::json!({"models_dir": models_dir, "onnxruntime": runtime, "provider": provider, "models": rows});
    if out.json(&report) {
        return Ok(());
    }
    println!("ONNX Runtime: {runtime}");
    println!("execution provider in use: {provider}");
    println!("models in {}:", models_dir.display());
    if rows.is_empty() {
        println!("  none — run scripts/setup.sh to build the defaults");
    }
    for r in rows {
        println!("  {}", r);
    }
    Ok(())
}
