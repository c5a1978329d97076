//! Correction commands: diff, revisions, restore, glossary, suspicious, suggest.

use crate::output::Out;
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use kogi_core::correction::diff::Hunk;
use kogi_core::correction::glossary::{ReplaceOptions, TermSource};
use kogi_core::correction::suspicious::ScanParams;
use kogi_core::lecture::{LectureId, RevisionId};
use kogi_core::service::{Kogi, Saved};
use kogi_core::text::CharSpan;
use std::path::PathBuf;

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

fn print_hunks(hunks: &[Hunk]) {
    if hunks.is_empty() {
        say!("no differences");
    }
    for h in hunks {
        say!(
            "@@ {}..{} → {}..{}  …{}[-{}-]{{+{}+}}{}…",
            h.old.start, h.old.end, h.new.start, h.new.end, h.before, h.old_text, h.new_text, h.after
        );
    }
}

pub fn diff(kogi: &Kogi, a: i64, b: i64, out: &Out) -> Result<()> {
    let hunks = kogi.diff(RevisionId(a), RevisionId(b))?;
    if !out.json(&hunks) {
        print_hunks(&hunks);
        say!("{} hunk(s)", hunks.len());
    }
    Ok(())
}

pub fn revisions(kogi: &Kogi, lecture: i64, out: &Out) -> Result<()> {
    let revs = kogi.revisions(LectureId(lecture))?;
    if !out.json(&revs) {
        for r in &revs {
            say!(
                "{:>5}  #{:<3} {:<10} parent {:<6} {:>7} chars  {}  {}",
                r.id.0,
                r.number,
                r.kind.as_str(),
                r.parent.map(|p| p.0.to_string()).unwrap_or("-".into()),
                r.chars,
                r.created_at,
                r.message.as_deref().unwrap_or("")
            );
        }
    }
    Ok(())
}

/// After a new revision: index it again (when the embedder is installed), and say so.
fn reindex(kogi: &Kogi, saved: &Saved, out: &Out) -> Result<()> {
    let lecture = saved.revision.lecture;
    match saved.reindex.then(|| out.work("re-indexing", |job| kogi.reindex_after_edit(lecture, job))).transpose()?.flatten() {
        Some(r) => out.line(&format!("re-indexed: {} chunks, {} embedded now, {} reused", r.chunks, r.embedded, r.reused)),
        // Searches would still find the old text: say so, and how to fix it.
        None => out.line(&format!(
            "not re-indexed (the embedding model is not installed): searches of lecture {lecture} find its previous text until `kogi index {lecture}` runs with the model"
        )),
    }
    Ok(())
}

pub fn restore(kogi: &Kogi, lecture: i64, revision: i64, out: &Out) -> Result<()> {
    let saved = kogi.restore(LectureId(lecture), RevisionId(revision))?;
    let r = &saved.revision;
    out.line(&format!("restored revision {revision} as revision {} (#{})", r.id, r.number));
    out.json(&serde_json::json!({"revision": r.id, "number": r.number}));
    reindex(kogi, &saved, out)
}

pub fn glossary_cmd(kogi: &Kogi, cmd: GlossaryCmd, out: &Out) -> Result<()> {
    match cmd {
        GlossaryCmd::Add { term, variants, course } => {
            let saved = kogi.add_term(&term, &variants, &course)?;
            out.line(&format!("{} = {}", saved.term, saved.variants.join(", ")));
            out.json(&saved);
        }
        GlossaryCmd::Load { file, course } => {
            let n = kogi.load_glossary(&file, &course)?;
            out.line(&format!("{n} terms loaded from {}", file.display()));
        }
        GlossaryCmd::List { course } => {
            let terms = kogi.glossary(course.as_deref())?;
            if !out.json(&terms) {
                for t in terms {
                    say!("{:>4}  [{}] {} = {}", t.id.unwrap_or(0), if t.course.is_empty() { "*" } else { &t.course }, t.term, t.variants.join(", "));
                }
            }
        }
        GlossaryCmd::Apply { lecture, preview, inside_words } => {
            let opts = ReplaceOptions { whole_terms_only: !inside_words, ..Default::default() };
            let (head, occ) = kogi.glossary_preview_newest(LectureId(lecture), &opts)?;
            if preview {
                if !out.json(&occ) {
                    for o in &occ {
                        say!(
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
                    say!("{} occurrence(s), {} would be replaced; nothing changed", occ.len(), occ.iter().filter(|o| o.applied).count());
                }
                return Ok(());
            }
            let saved = kogi.glossary_apply(LectureId(lecture), head, &occ)?;
            let r = &saved.revision;
            out.line(&format!(
                "replaced {} occurrence(s) as revision {} (#{})",
                occ.iter().filter(|o| o.applied).count(),
                r.id,
                r.number
            ));
            out.json(&serde_json::json!({"revision": r.id, "number": r.number, "occurrences": occ}));
            reindex(kogi, &saved, out)?;
        }
        GlossaryCmd::Suggest { lecture } => {
            let s = kogi.glossary_suggestions(LectureId(lecture))?;
            if !out.json(&s) {
                for x in &s {
                    let why = match x.source {
                        TermSource::Glossary => "spelled like the term",
                        TermSource::Frequency => "spelled like a frequent word",
                        TermSource::Reading => "sounds like the term",
                        TermSource::Homophone => "sounds like a frequent word",
                        TermSource::Loanword => "the term written in katakana",
                    };
                    let one_line = |t: &str| t.replace(['\n', '\r'], " ");
                    say!("{} → {}  (×{}, the term ×{}; {why})  …{}[{}]{}…", x.variant, x.term, x.count, x.term_count, one_line(&x.before), x.variant, one_line(&x.after));
                }
            }
        }
    }
    Ok(())
}

pub fn suspicious(kogi: &Kogi, lecture: i64, top: usize, out: &Out) -> Result<()> {
    let head = kogi.open_lecture(LectureId(lecture))?.head.id;
    let scan = out.work(&format!("scanning lecture {lecture}"), |job| kogi.scan(head, &ScanParams::default(), job))?;
    let spans: Vec<_> = scan.spans.iter().take(top).collect();
    if !out.json(&serde_json::json!({"revision": scan.revision, "model": scan.model, "tokens": scan.tokens, "seconds": scan.seconds, "provider": scan.provider, "spans": spans})) {
        say!("{} tokens scanned in {:.1} s on {}", scan.tokens, scan.seconds, scan.provider);
        for s in spans {
            say!("{:>6}..{:<6} {:>5.2}  …{}[{}]{}…", s.span.start, s.span.end, s.score, s.before, s.text, s.after);
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

pub fn suggest(kogi: &Kogi, lecture: i64, span: &str, accept: Option<usize>, out: &Out) -> Result<()> {
    let span = parse_span(span)?;
    let head = kogi.open_lecture(LectureId(lecture))?.head;
    let suggestions = out.work("suggesting", |job| kogi.suggest(head.id, span, job))?;
    if let Some(i) = accept {
        let s = suggestions.get(i.wrapping_sub(1)).context("no suggestion with that number")?;
        let saved = kogi.accept(LectureId(lecture), head.id, s)?;
        let r = &saved.revision;
        out.line(&format!("accepted: {} → {} as revision {} (#{})", s.original, s.replacement, r.id, r.number));
        out.json(&serde_json::json!({"revision": r.id, "number": r.number, "accepted": s}));
        return reindex(kogi, &saved, out);
    }
    if !out.json(&suggestions) {
        if suggestions.is_empty() {
            say!("no suggestion for that span");
            return Ok(());
        }
        for (i, s) in suggestions.iter().enumerate() {
            let from = match &s.source {
                kogi_core::correction::suspicious::SuggestionSource::Glossary { term } => format!("glossary term {term}"),
                kogi_core::correction::suspicious::SuggestionSource::Model => "the language model".into(),
            };
            say!("{}. {} → {}  (from {from}, score {:.2})", i + 1, s.original, s.replacement, s.score);
        }
        say!("accept one with --accept N (it becomes a new revision)");
    }
    Ok(())
}
