//! Correction evaluation: character error rate of a raw transcript against a reference, after a
//! glossary (with the replacements that were wrong), and how well suspicious spans find the errors.

use crate::correction::align::{cer, error_spans, span_precision_recall};
use crate::correction::diff::diff_texts;
use crate::correction::glossary::{self, ReplaceOptions, Term};
use crate::correction::suspicious::{self, ScanParams};
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
    glossary: Option<(&Path, &[Term])>,
    scan: Option<(&mut dyn Generator, &Path)>,
    top: usize,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<Value> {
    let before = cer(raw_text, ref_text);
    let mut report = json!({"raw": raw, "reference": reference, "cer_raw": before});
    if let Some((file, terms)) = glossary {
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
        let wrong: Vec<_> = applied
            .iter()
            .zip(&placed)
            .filter(|(_, p)| hunks.iter().any(|h| touches(h, p)))
            .map(|(o, p)| {
                let h = hunks.iter().find(|h| touches(h, p));
                json!({"occurrence": o, "reference_there": h.map(|h| format!("{}[{}]{}", h.before, h.new_text, h.after))})
            })
            .collect();
        // A wrong replacement changes text that was right: its span holds no recognition error.
        let truth = error_spans(raw_text, ref_text);
        let introduced: Vec<_> = applied.iter().filter(|o| !truth.iter().any(|t| t.overlaps(&o.span))).collect();
        report["glossary"] = json!({
            "file": file, "terms": terms.len(), "occurrences": occ.len(), "applied": applied.len(),
            "not_whole_terms": occ.iter().filter(|o| !o.whole_term).count(),
            "wrong_replacements": introduced.len(), "wrong": introduced,
            "not_matching_reference": wrong.len(), "not_matching": wrong, "cer_after": after,
            "cer_reduction": before.cer - after.cer,
        });
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
