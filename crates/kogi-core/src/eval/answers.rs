//! Answer evaluation: for each step of the RAG ladder, fact recall (the share of expected facts an
//! answer states) on answerable questions and refusal accuracy on unanswerable ones.

use super::Question;
use crate::answer::{Answer, Answerer, AskParams, Rung};
use crate::Result;
use serde::Serialize;
use std::sync::atomic::AtomicBool;
use unicode_normalization::UnicodeNormalization;

/// NFKC, lower case: the comparison rule of the question sets.
fn norm(s: &str) -> String {
    s.nfkc().collect::<String>().to_lowercase()
}

/// Which expected facts (each a list of accepted spellings) an answer states.
pub fn facts_covered(q: &Question, answer: &str) -> Vec<bool> {
    let text = norm(answer);
    q.facts.iter().map(|alts| alts.iter().any(|x| text.contains(&norm(x)))).collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct AnswerRow {
    pub id: String,
    pub answer: String,
    pub facts_covered: Vec<bool>,
    pub not_covered: bool,
    pub gated: bool,
    pub citations: usize,
    pub new_tokens: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RungResult {
    pub rung: Rung,
    pub fact_recall: f64,
    pub refusal_accuracy: f64,
    /// Answerable questions wrongly declined.
    pub false_refusals: usize,
    pub answerable: usize,
    pub unanswerable: usize,
    pub mean_new_tokens: f64,
    /// Mean characters of the answers to answerable questions (for quotes: the quoted sentences).
    pub mean_chars: f64,
    pub mean_seconds: f64,
    pub answers: Vec<AnswerRow>,
}

/// Answer every question at every rung with `params` (the rung replaced), scoring as the question
/// sets' README says. `on_answer` hears each answer as it is made.
pub fn evaluate(
    answerer: &mut Answerer,
    questions: &[Question],
    params: &AskParams,
    rungs: &[Rung],
    on_answer: &mut dyn FnMut(Rung, &Question, &Answer),
    cancel: &AtomicBool,
) -> Result<Vec<RungResult>> {
    let mut results = Vec::new();
    for &rung in rungs {
        let p = AskParams { rung, ..params.clone() };
        let (mut covered, mut facts, mut refused_right, mut false_refusals) = (0usize, 0usize, 0usize, 0usize);
        let (mut answerable, mut unanswerable, mut tokens, mut secs) = (0usize, 0usize, 0usize, 0f64);
        let mut chars = 0usize;
        let mut rows = Vec::new();
        for q in questions {
            let a = answerer.ask(&q.question, &p, &mut |_| {}, cancel)?;
            let hit = facts_covered(q, &a.text);
            if q.answerable {
                answerable += 1;
                facts += q.facts.len();
                covered += hit.iter().filter(|h| **h).count();
                false_refusals += a.not_covered as usize;
                chars += if a.quoted { a.passages.iter().map(|p| p.text.chars().count()).sum() } else { a.text.chars().count() };
            } else {
                unanswerable += 1;
                refused_right += a.not_covered as usize;
            }
            tokens += a.stats.as_ref().map(|s| s.new_tokens).unwrap_or(0);
            secs += a.ms / 1e3;
            on_answer(rung, q, &a);
            rows.push(AnswerRow {
                id: q.id.clone(),
                answer: a.text.clone(),
                facts_covered: hit,
                not_covered: a.not_covered,
                gated: a.gated,
                citations: a.citations.len(),
                new_tokens: a.stats.as_ref().map(|s| s.new_tokens),
            });
        }
        results.push(RungResult {
            rung,
            fact_recall: if facts == 0 { 0.0 } else { covered as f64 / facts as f64 },
            refusal_accuracy: if unanswerable == 0 { 0.0 } else { refused_right as f64 / unanswerable as f64 },
            false_refusals,
            answerable,
            unanswerable,
            mean_new_tokens: tokens as f64 / questions.len().max(1) as f64,
            mean_chars: chars as f64 / answerable.max(1) as f64,
            mean_seconds: secs / questions.len().max(1) as f64,
            answers: rows,
        });
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_match_after_nfkc_and_lower_case() {
        let q = Question {
            id: "q".into(),
            question: "?".into(),
            gold: vec![],
            gold_chars: vec![],
            facts: vec![vec!["GPT-4".into()], vec!["推論時".into(), "inference time".into()]],
            answerable: true,
        };
        assert_eq!(facts_covered(&q, "ＧＰＴ－４ uses more compute at Inference Time"), vec![true, true]);
        assert_eq!(facts_covered(&q, "nothing"), vec![false, false]);
    }
}
