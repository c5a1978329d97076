//! Retrieval metrics: a passage is relevant when the range handed to the model overlaps a gold
//! range of the transcript version that was indexed; hit@k, MRR@5 and the mean context size.

use super::{GoldChars, Question, TranscriptVersion};
use crate::retrieval::Passage;
use crate::text::CharSpan;
use crate::transcript::Segment;
use serde::Serialize;

/// Per-question retrieval outcome.
#[derive(Debug, Clone, Serialize)]
pub struct QuestionResult {
    pub id: String,
    /// 1-based rank of the first relevant passage among the first k, if any.
    pub first_relevant: Option<usize>,
    pub context_chars: usize,
    pub passages: Vec<CharSpan>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RetrievalMetrics {
    pub questions: usize,
    pub hit_at_1: f64,
    pub hit_at_3: f64,
    pub hit_at_5: f64,
    pub mrr_at_5: f64,
    /// Mean characters of the passages handed to the model per question.
    pub mean_context_chars: f64,
    pub per_question: Vec<QuestionResult>,
}

pub fn score_question(q: &Question, passages: &[Passage], v: TranscriptVersion) -> QuestionResult {
    let gold = q.gold_spans(v);
    let first_relevant = passages.iter().position(|p| gold.iter().any(|g| g.overlaps(&p.span))).map(|i| i + 1);
    QuestionResult {
        id: q.id.clone(),
        first_relevant,
        context_chars: passages.iter().map(|p| p.span.len()).sum(),
        passages: passages.iter().map(|p| p.span).collect(),
    }
}

/// Aggregate over answerable questions (unanswerable ones have no gold range to hit).
pub fn aggregate(results: Vec<QuestionResult>) -> RetrievalMetrics {
    let n = results.len().max(1) as f64;
    let hit = |k: usize| results.iter().filter(|r| r.first_relevant.is_some_and(|x| x <= k)).count() as f64 / n;
    let mrr = results
        .iter()
        .map(|r| match r.first_relevant {
            Some(x) if x <= 5 => 1.0 / x as f64,
            _ => 0.0,
        })
        .sum::<f64>()
        / n;
    RetrievalMetrics {
        questions: results.len(),
        hit_at_1: hit(1),
        hit_at_3: hit(3),
        hit_at_5: hit(5),
        mrr_at_5: mrr,
        mean_context_chars: results.iter().map(|r| r.context_chars as f64).sum::<f64>() / n,
        per_question: results,
    }
}

/// The question with its gold ranges of `transcript` carried from `old` onto the edited `new`
/// text, like any citation (a glossary applied before indexing moves them).
pub fn moved_gold(q: &Question, transcript: TranscriptVersion, old: &str, new: &str) -> Question {
    let segs: Vec<Segment> =
        q.gold_spans(transcript).iter().map(|s| Segment { span: *s, start_ms: None, end_ms: None }).collect();
    let mapped = crate::correction::diff::map_segments(old, new, &segs);
    let mut q = q.clone();
    q.gold_chars = mapped
        .iter()
        .map(|m| {
            let r = Some([m.span.start, m.span.end]);
            match transcript {
                TranscriptVersion::Corrected => GoldChars { corrected: r, raw: None },
                TranscriptVersion::Raw => GoldChars { corrected: None, raw: r },
            }
        })
        .collect();
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(first: Option<usize>, chars: usize) -> QuestionResult {
        QuestionResult { id: "q".into(), first_relevant: first, context_chars: chars, passages: vec![] }
    }

    #[test]
    fn metrics_follow_the_eval_readme_definitions() {
        let m = aggregate(vec![res(Some(1), 100), res(Some(2), 200), res(Some(4), 300), res(None, 400)]);
        assert_eq!(m.hit_at_1, 0.25);
        assert_eq!(m.hit_at_3, 0.5);
        assert_eq!(m.hit_at_5, 0.75);
        assert!((m.mrr_at_5 - (1.0 + 0.5 + 0.25) / 4.0).abs() < 1e-12);
        assert_eq!(m.mean_context_chars, 250.0);
    }
}
