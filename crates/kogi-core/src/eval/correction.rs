//! Correction evaluation: character error rate of a raw transcript against a reference, after a
//! glossary (with the replacements that were wrong), and how well suspicious spans find the errors.

use crate::correction::align::{cer, error_spans, span_precision_recall};
use crate::correction::diff::diff_texts;
use crate::correction::glossary::{self, ReplaceOptions, Term};
use crate::correction::readings::{CONFIDENT_DISTANCE, confident, suggest_by_reading};
use crate::correction::suspicious::{self, ScanParams};
use crate::text::japanese::Analyzer;
use crate::generate::Generator;
use crate::text::CharSpan;
use crate::Result;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::atomic::AtomicBool;

/// The report as JSON (its shape is what `kogi eval-correction --json` has always printed).
/// `glossary` is the glossary file and its terms; `lm` scans for suspicious spans (the `top` best
/// are scored) when given and `top` is above 0.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    raw: &Path,
    reference: &Path,
    raw_text: &str,
    ref_text: &str,
    glossary: Option<(&Path, &[Term], Option<&Analyzer>)>,
    scan: Option<(&mut dyn Generator, &Path)>,
    top: usize,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<Value> {
    let before = cer(raw_text, ref_text);
    let mut report = json!({"raw": raw, "reference": reference, "cer_raw": before});
    if let Some((file, terms, analyzer)) = glossary {
        let mut g = glossary_section(raw_text, ref_text, terms, before.cer, &|_| true);
        g["file"] = json!(file);
        report["glossary"] = g;
        if let Some(a) = analyzer {
            // Every suggestion by sound accepted: its variant joins its term, and the glossary is
            // applied again. Precision counts the replacements the suggestions added.
            let started = std::time::Instant::now();
            let suggestions = suggest_by_reading(raw_text, terms, a);
            let seconds = started.elapsed().as_secs_f64();
            let confident: Vec<_> = suggestions.iter().filter(|s| confident(s)).collect();
            let mut accepted: Vec<Term> = terms.to_vec();
            for s in &confident {
                match accepted.iter_mut().find(|t| t.term == s.term) {
                    Some(t) => t.variants.push(s.variant.clone()),
                    None => accepted.push(Term::new(&s.term, &[&s.variant])),
                }
            }
            let added: std::collections::HashSet<&str> = confident.iter().map(|s| s.variant.as_str()).collect();
            let mut r = glossary_section(raw_text, ref_text, &accepted, before.cer, &|found| added.contains(found));
            r["proposed"] = json!(suggestions.len());
            r["accepted"] = json!(confident.len());
            r["accept_distance"] = json!(CONFIDENT_DISTANCE);
            r["seconds"] = json!(seconds);
            r["suggestions"] = json!(suggestions.iter().map(|s| json!({"variant": s.variant, "term": s.term, "source": s.source, "count": s.count, "distance": s.distance})).collect::<Vec<_>>());
            report["reading_suggestions"] = r;
        }
    }
    let Some((lm, model_dir)) = scan.filter(|_| top > 0) else { return Ok(report) };
    let truth = error_spans(raw_text, ref_text);
    let (spans, tokens) = suspicious::scan_text(lm, raw_text, &ScanParams::default(), progress, cancel)?;
    let predicted: Vec<CharSpan> = spans.iter().take(top).map(|s| s.span).collect();
    let score = span_precision_recall(&predicted, &truth);
    report["suspicious"] = json!({"model": model_dir, "tokens": tokens, "top": top, "true_error_spans": truth.len(), "score": score,
        "top_spans": spans.iter().take(top).map(|s| json!({"span": s.span, "text": s.text, "score": s.score, "is_error": truth.iter().any(|t| t.overlaps(&s.span))})).collect::<Vec<_>>()});
    Ok(report)
}

/// The glossary applied to the raw text: CER after, and which replacements were wrong. Only
/// occurrences whose found text passes `counted` are scored for rightness (all of them change the CER).
fn glossary_section(raw_text: &str, ref_text: &str, terms: &[Term], cer_before: f64, counted: &dyn Fn(&str) -> bool) -> Value {
    let occ = glossary::preview(raw_text, terms, &ReplaceOptions::default());
    let corrected = glossary::apply(raw_text, &occ);
    let after = cer(&corrected, ref_text);
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
    let hunks = diff_texts(&corrected, ref_text);
    let touches = |h: &crate::correction::diff::Hunk, p: &CharSpan| {
        h.old.overlaps(p) || (h.old.is_empty() && h.old.start > p.start && h.old.start < p.end)
    };
    let scored: Vec<_> = applied.iter().zip(&placed).filter(|(o, _)| counted(&o.found)).collect();
    let wrong: Vec<_> = scored
        .iter()
        .filter(|(_, p)| hunks.iter().any(|h| touches(h, p)))
        .map(|(o, p)| {
            let h = hunks.iter().find(|h| touches(h, p));
            json!({"occurrence": o, "reference_there": h.map(|h| format!("{}[{}]{}", h.before, h.new_text, h.after))})
        })
        .collect();
    // A wrong replacement changes text that was right: its span holds no recognition error.
    let truth = error_spans(raw_text, ref_text);
    let introduced: Vec<_> = scored.iter().map(|(o, _)| *o).filter(|o| !truth.iter().any(|t| t.overlaps(&o.span))).collect();
    json!({
        "terms": terms.len(), "occurrences": occ.len(), "applied": applied.len(), "scored": scored.len(),
        "not_whole_terms": occ.iter().filter(|o| !o.whole_term).count(),
        "wrong_replacements": introduced.len(), "wrong": introduced,
        "not_matching_reference": wrong.len(), "not_matching": wrong, "cer_after": after,
        "cer_reduction": cer_before - after.cer,
    })
}
