//! Retrieval evaluation with the rules of the question sets (see `shared/eval/README.md` in the
//! project's data): a passage is relevant when the range handed to the model overlaps a gold range of
//! the transcript version that was indexed; hit@k, MRR@5, and the mean context size.

use crate::retrieval::Passage;
use crate::text::CharSpan;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Which version of the lecture a question set's gold ranges point into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TranscriptVersion {
    Corrected,
    Raw,
}

impl std::str::FromStr for TranscriptVersion {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "corrected" => Ok(Self::Corrected),
            "raw" => Ok(Self::Raw),
            _ => Err(Error::Invalid(format!("unknown transcript {s:?} — use corrected or raw"))),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct GoldChars {
    pub corrected: Option<[usize; 2]>,
    pub raw: Option<[usize; 2]>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Question {
    pub id: String,
    pub question: String,
    #[serde(default)]
    pub gold: Vec<String>,
    #[serde(default)]
    pub gold_chars: Vec<GoldChars>,
    #[serde(default)]
    pub facts: Vec<Vec<String>>,
    #[serde(default = "yes")]
    pub answerable: bool,
}

fn yes() -> bool {
    true
}

impl Question {
    pub fn gold_spans(&self, v: TranscriptVersion) -> Vec<CharSpan> {
        self.gold_chars
            .iter()
            .filter_map(|g| match v {
                TranscriptVersion::Corrected => g.corrected,
                TranscriptVersion::Raw => g.raw,
            })
            .map(|[a, b]| CharSpan::new(a, b))
            .collect()
    }
}

/// Read a JSON-lines question file; a bad line is named.
pub fn load_questions(path: &Path) -> Result<Vec<Question>> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound { path: path.to_owned() },
        _ => Error::Io { path: path.to_owned(), message: e.to_string() },
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let q: Question = serde_json::from_str(line).map_err(|e| Error::Malformed {
            path: path.to_owned(),
            line: i + 1,
            message: format!("not a question object: {e}"),
        })?;
        out.push(q);
    }
    if out.is_empty() {
        return Err(Error::EmptyFile { path: path.to_owned() });
    }
    Ok(out)
}

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
