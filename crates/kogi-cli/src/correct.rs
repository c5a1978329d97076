//! Correction commands: diff, revisions, restore, glossary, suspicious, suggest, eval-correction.

use crate::output::Out;
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use kogi_core::app::Config;
use kogi_core::correction::align::{cer, error_spans, span_precision_recall};
use kogi_core::correction::diff::{Hunk, diff_texts};
use kogi_core::correction::glossary::{self, ReplaceOptions, Term};
use kogi_core::correction::suspicious::{self, ScanParams};
use kogi_core::generate::engine::LanguageModel;
use kogi_core::inference::runtime::SessionConfig;
use kogi_core::lecture::{LectureId, RevisionId};
use kogi_core::store::Db;
use kogi_core::text::CharSpan;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

#[derive(Subcommand)]
pub enum GlossaryCmd {
    /// Add a term with the wrong spellings ASR produces: `kogi glossary add スケール則 スケール足 スケール3`
    Add {
        term: String,
        variants: Vec<String>,
        /// Course it belongs to [default: every course]
        #[arg(long, default_value = "")]
        course: String,
    },
    /// Load terms from a file (`term = variant, variant` per line, or JSON)
    Load {
        file: PathBuf,
        #[arg(long, default_value = "")]
        course: String,
    },
    /// List the terms (of a course, plus the global ones)
    List {
        #[arg(long)]
        course: Option<String>,
    },
    /// Replace every variant in a lecture's newest revision, as one new revision
    Apply {
        lecture: i64,
        /// Show every occurrence with its context and change nothing
        #[arg(long)]
        preview: bool,
        /// Also replace matches inside longer words
        #[arg(long)]
        inside_words: bool,
    },
    /// Spans that look like mis-heard technical terms
    Suggest { lecture: i64 },
}

pub fn model_dir(model: &Option<PathBuf>) -> PathBuf {
    model.clone().unwrap_or_else(|| kogi_core::paths::models_dir().join("smollm2-135m-instruct"))
}

fn lm(cfg: &Config, model: &Option<PathBuf>) -> Result<LanguageModel> {
    let session = SessionConfig { provider: cfg.provider, threads: cfg.threads, ..Default::default() };
    Ok(LanguageModel::open(&model_dir(model), &session)?)
}

fn print_hunks(hunks: &[Hunk]) {
    if hunks.is_empty() {
        println!("no differences");
    }
    for h in hunks {
        println!(
            "@@ {}..{} → {}..{}  …{}[-{}-]{{+{}+}}{}…",
            h.old.start, h.old.end, h.new.start, h.new.end, h.before, h.old_text, h.new_text, h.after
        );
    }
}

pub fn diff(db: &Db, a: i64, b: i64, out: &Out) -> Result<()> {
    let hunks = db.diff_revisions(RevisionId(a), RevisionId(b))?;
    if !out.json(&hunks) {
        print_hunks(&hunks);
        println!("{} hunk(s)", hunks.len());
    }
    Ok(())
}

pub fn revisions(db: &Db, lecture: i64, out: &Out) -> Result<()> {
    let revs = db.revisions(LectureId(lecture))?;
    let rows: Vec<_> = revs
        .iter()
        .map(|r| serde_json::json!({"id": r.id, "number": r.number, "parent": r.parent, "kind": r.kind,
            "message": r.message, "chars": r.text.chars().count(), "created_at": r.created_at}))
        .collect();
    if !out.json(&rows) {
        for r in &revs {
            println!(
                "{:>5}  #{:<3} {:<10} parent {:<6} {:>7} chars  {}  {}",
                r.id.0,
                r.number,
                r.kind.as_str(),
                r.parent.map(|p| p.0.to_string()).unwrap_or("-".into()),
                r.text.chars().count(),
                r.created_at,
                r.message.as_deref().unwrap_or("")
            );
        }
    }
    Ok(())
}

pub fn restore(db: &mut Db, lecture: i64, revision: i64, out: &Out) -> Result<()> {
    let r = db.restore_revision(LectureId(lecture), RevisionId(revision))?;
    out.line(&format!("restored revision {revision} as revision {} (#{})", r.id, r.number));
    out.json(&serde_json::json!({"revision": r.id, "number": r.number}));
    Ok(())
}

pub fn glossary_cmd(db: &mut Db, cmd: GlossaryCmd, out: &Out) -> Result<()> {
    match cmd {
        GlossaryCmd::Add { term, variants, course } => {
            let t = Term { id: None, course, term, variants, note: None };
            let saved = db.add_term(&t)?;
            out.line(&format!("{} = {}", saved.term, saved.variants.join(", ")));
            out.json(&saved);
        }
        GlossaryCmd::Load { file, course } => {
            let mut n = 0;
            for mut t in glossary::load_glossary_file(&file)? {
                if t.course.is_empty() {
                    t.course = course.clone();
                }
                db.add_term(&t)?;
                n += 1;
            }
            out.line(&format!("{n} terms loaded from {}", file.display()));
        }
        GlossaryCmd::List { course } => {
            let terms = match &course {
                Some(c) => db.terms(Some(c))?,
                None => db.all_terms()?,
            };
            if !out.json(&terms) {
                for t in terms {
                    println!("{:>4}  [{}] {} = {}", t.id.unwrap_or(0), if t.course.is_empty() { "*" } else { &t.course }, t.term, t.variants.join(", "));
                }
            }
        }
        GlossaryCmd::Apply { lecture, preview, inside_words } => {
            let l = db.lecture(LectureId(lecture))?;
            let terms = db.terms(l.meta.course.as_deref())?;
            if terms.is_empty() {
                bail!("the glossary is empty — add terms with `kogi glossary add TERM VARIANT…`");
            }
            let opts = ReplaceOptions { whole_terms_only: !inside_words, ..Default::default() };
            let head = db.revision(l.head)?;
            let occ = glossary::preview(&head.text, &terms, &opts);
            if preview {
                if !out.json(&occ) {
                    for o in &occ {
                        println!(
                            "{} {:>6}..{:<6} …{}[{}→{}]{}…{}",
                            if o.applied { "✔" } else { "·" },
                            o.span.start,
                            o.span.end,
                            o.before,
                            o.found,
                            o.replacement,
                            o.after,
                            if o.whole_term { "" } else { "   (inside a longer word: not replaced unless --inside-words)" }
                        );
                    }
                    println!("{} occurrence(s), {} would be replaced; nothing changed", occ.len(), occ.iter().filter(|o| o.applied).count());
                }
                return Ok(());
            }
            let r = db.apply_occurrences(LectureId(lecture), head.id, &occ)?;
            out.line(&format!(
                "replaced {} occurrence(s) as revision {} (#{})",
                occ.iter().filter(|o| o.applied).count(),
                r.id,
                r.number
            ));
            out.json(&serde_json::json!({"revision": r.id, "number": r.number, "occurrences": occ}));
        }
        GlossaryCmd::Suggest { lecture } => {
            let l = db.lecture(LectureId(lecture))?;
            let terms = db.terms(l.meta.course.as_deref())?;
            let head = db.revision(l.head)?;
            let s = glossary::suggest_terms(&head.text, &terms);
            if !out.json(&s) {
                for x in &s {
                    println!("{} → {}  (×{}, the term ×{})  …{}[{}]{}…", x.variant, x.term, x.count, x.term_count, x.before, x.variant, x.after);
                }
            }
        }
    }
    Ok(())
}

pub fn suspicious_cmd(db: &mut Db, cfg: &Config, model: &Option<PathBuf>, lecture: i64, top: usize, out: &Out) -> Result<()> {
    let mut lm = lm(cfg, model)?;
    let head = db.lecture(LectureId(lecture))?.head;
    let bar = out.progress(&format!("scanning lecture {lecture}"));
    let scan = suspicious::scan_revision(db, &mut lm, head, &ScanParams::default(), &mut |d, t| {
        bar.set_length(t as u64);
        bar.set_position(d as u64);
    }, &AtomicBool::new(false))?;
    bar.finish_and_clear();
    let spans: Vec<_> = scan.spans.iter().take(top).collect();
    if !out.json(&serde_json::json!({"revision": scan.revision, "model": scan.model, "tokens": scan.tokens, "seconds": scan.seconds, "provider": scan.provider, "spans": spans})) {
        println!("{} tokens scanned in {:.1} s on {}", scan.tokens, scan.seconds, scan.provider);
        for s in spans {
            println!("{:>6}..{:<6} {:>5.2}  …{}[{}]{}…", s.span.start, s.span.end, s.score, s.before, s.text, s.after);
        }
    }
    Ok(())
}

fn parse_span(s: &str) -> Result<CharSpan> {
    let (a, b) = s.split_once("..").context("give the span as START..END (character offsets)")?;
    let (a, b): (usize, usize) = (a.trim().parse()?, b.trim().parse()?);
    if a >= b {
        bail!("the span {a}..{b} is empty");
    }
    Ok(CharSpan::new(a, b))
}

pub fn suggest_cmd(db: &mut Db, cfg: &Config, model: &Option<PathBuf>, lecture: i64, span: &str, accept: Option<usize>, out: &Out) -> Result<()> {
    let span = parse_span(span)?;
    let l = db.lecture(LectureId(lecture))?;
    let head = db.revision(l.head)?;
    let n = head.text.chars().count();
    if span.end > n {
        bail!("the span {}..{} runs past the end of the text ({n} characters)", span.start, span.end);
    }
    let terms: Vec<(String, Vec<String>)> = db.terms(l.meta.course.as_deref())?.into_iter().map(|t| (t.term, t.variants)).collect();
    let mut lm = lm(cfg, model)?;
    let suggestions = suspicious::suggest(&mut lm, &head.text, span, &terms, 60)?;
    if let Some(i) = accept {
        let s = suggestions.get(i.wrapping_sub(1)).context("no suggestion with that number")?;
        let r = suspicious::accept(db, LectureId(lecture), head.id, s)?;
        out.line(&format!("accepted: {} → {} as revision {} (#{})", s.original, s.replacement, r.id, r.number));
        out.json(&serde_json::json!({"revision": r.id, "number": r.number, "accepted": s}));
        return Ok(());
    }
    if !out.json(&suggestions) {
        if suggestions.is_empty() {
            println!("no suggestion for that span");
        }
        for (i, s) in suggestions.iter().enumerate() {
            println!("{}. {} → {}  ({:?}, score {:.2})", i + 1, s.original, s.replacement, s.source, s.score);
        }
        println!("accept one with --accept N (it becomes a new revision)");
    }
    Ok(())
}

/// CER of raw vs reference, after the glossary, and suspicious-span precision/recall.
pub fn eval_correction(cfg: &Config, model: &Option<PathBuf>, raw: &Path, reference: &Path, glossary_file: Option<&Path>, top: usize, out: &Out) -> Result<()> {
    let read = |p: &Path| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()));
    let (raw_text, ref_text) = (read(raw)?, read(reference)?);
    let before = cer(&raw_text, &ref_text);
    let mut report = serde_json::json!({"raw": raw, "reference": reference, "cer_raw": before});
    if let Some(g) = glossary_file {
        let terms = glossary::load_glossary_file(g)?;
        let occ = glossary::preview(&raw_text, &terms, &ReplaceOptions::default());
        let corrected = glossary::apply(&raw_text, &occ);
        let after = cer(&corrected, &ref_text);
        // A replacement is right when, after the glossary, the replaced text agrees with the reference:
        // no difference between the corrected text and the reference touches it.
        let mut applied: Vec<_> = occ.iter().filter(|o| o.applied).collect();
        applied.sort_by_key(|o| o.span.start);
        let mut shift: isize = 0;
        let mut placed = Vec::with_capacity(applied.len());
        for o in &applied {
            let start = (o.span.start as isize + shift) as usize;
            let len = o.replacement.chars().count();
            placed.push(CharSpan::new(start, start + len));
            shift += len as isize - o.span.len() as isize;
        }
        let hunks = diff_texts(&corrected, &ref_text);
        let wrong: Vec<_> = applied
            .iter()
            .zip(&placed)
            .filter(|(_, p)| hunks.iter().any(|h| h.old.overlaps(p) || (h.old.is_empty() && h.old.start > p.start && h.old.start < p.end)))
            .map(|(o, p)| {
                let h = hunks.iter().find(|h| h.old.overlaps(p) || (h.old.is_empty() && h.old.start > p.start && h.old.start < p.end));
                serde_json::json!({"occurrence": o, "reference_there": h.map(|h| format!("{}[{}]{}", h.before, h.new_text, h.after))})
            })
            .collect();
        // A wrong replacement changes text that was right: its span holds no recognition error.
        let truth = error_spans(&raw_text, &ref_text);
        let introduced: Vec<_> = applied.iter().filter(|o| !truth.iter().any(|t| t.overlaps(&o.span))).collect();
        report["glossary"] = serde_json::json!({
            "file": g, "terms": terms.len(), "occurrences": occ.len(), "applied": applied.len(),
            "not_whole_terms": occ.iter().filter(|o| !o.whole_term).count(),
            "wrong_replacements": introduced.len(), "wrong": introduced,
            "not_matching_reference": wrong.len(), "not_matching": wrong, "cer_after": after,
            "cer_reduction": before.cer - after.cer,
        });
    }
    if top == 0 {
        if !out.json(&report) {
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        return Ok(());
    }
    let truth = error_spans(&raw_text, &ref_text);
    let mut lm = lm(cfg, model)?;
    let bar = out.progress("scanning");
    let (spans, tokens) = suspicious::scan_text(&mut lm, &raw_text, &ScanParams::default(), &mut |d, t| {
        bar.set_length(t as u64);
        bar.set_position(d as u64);
    }, &AtomicBool::new(false))?;
    bar.finish_and_clear();
    let predicted: Vec<CharSpan> = spans.iter().take(top).map(|s| s.span).collect();
    let score = span_precision_recall(&predicted, &truth);
    report["suspicious"] = serde_json::json!({"model": model_dir(model), "tokens": tokens, "top": top, "true_error_spans": truth.len(), "score": score,
        "top_spans": spans.iter().take(top).map(|s| serde_json::json!({"span": s.span, "text": s.text, "score": s.score, "is_error": truth.iter().any(|t| t.overlaps(&s.span))})).collect::<Vec<_>>()});
    if !out.json(&report) {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}
