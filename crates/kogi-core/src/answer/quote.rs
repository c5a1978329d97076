//! Answers by quoting: when no chat model can read the lecture's language (or the person asks for
//! it), the answer is the one to three sentences of the retrieved passages that best answer the
//! question, verbatim, each cited. No model writes anything, so nothing is made up.
//!
//! A sentence is scored with what retrieval already has: its dense similarity to the question, how
//! many of the question's content bigrams it contains, and the rank of the passage it came from.

use crate::chunk::sentences;
use crate::inference::{Embed, Role};
use crate::retrieval::Passage;
use crate::text::CharSpan;
use crate::text::script::{Script, script};
use crate::Result;
use std::collections::HashSet;

/// How quotes are chosen (tuned on the dev questions: `kogi eval --answers --quotes`).
#[derive(Debug, Clone, Copy)]
pub struct QuoteParams {
    pub max_quotes: usize,
    /// A sentence longer than this is cut at its most natural boundary (ASR text rarely has 。).
    pub max_sentence_chars: usize,
    /// Shorter sentences carry no answer ("はい。", "そうですね。").
    pub min_sentence_chars: usize,
    pub keyword_weight: f32,
    /// Retrieval already fused dense and keyword evidence over the whole passage; its rank is
    /// worth trusting.
    pub rank_weight: f32,
}

impl Default for QuoteParams {
    fn default() -> Self {
        Self { max_quotes: 3, max_sentence_chars: 80, min_sentence_chars: 8, keyword_weight: 0.25, rank_weight: 0.05 }
    }
}

/// One quoted sentence, located in its lecture.
#[derive(Debug, Clone)]
pub struct Quote {
    /// Index of the passage it was taken from.
    pub passage: usize,
    /// Where the sentence is in the revision (code points).
    pub span: CharSpan,
    pub text: String,
    pub score: f32,
    /// The candidate just before it in the same passage.
    previous: Option<usize>,
}

/// Character bigrams that carry content: at least one of the two is kanji, katakana, a Latin
/// letter or a digit (so particles like 「とは」「です」 do not count), compared case-insensitively.
fn content_bigrams(text: &str) -> HashSet<(char, char)> {
    let chars: Vec<char> = text.chars().flat_map(|c| c.to_lowercase()).collect();
    let content = |c: char| matches!(script(c), Script::Kanji | Script::Katakana | Script::Latin | Script::Digit | Script::OtherLetter);
    let gap = |c: char| matches!(script(c), Script::Space | Script::Punctuation);
    chars.windows(2).filter(|w| (content(w[0]) || content(w[1])) && !gap(w[0]) && !gap(w[1])).map(|w| (w[0], w[1])).collect()
}

/// The sentence of `passages` (ranked best first) that best matches `question`, and the sentences
/// that follow it in its passage, at most `p.max_quotes` in all. A lecturer names a topic, then
/// explains it: the answer is most often just after the sentence that matches the question best,
/// so quoting the best sentences wherever they are (tried too) loses to quoting a run.
pub fn choose(embedder: &dyn Embed, question: &str, passages: &[Passage], p: &QuoteParams) -> Result<Vec<Quote>> {
    let mut candidates: Vec<Quote> = Vec::new();
    let mut seen = HashSet::new();
    for (i, passage) in passages.iter().enumerate() {
        let chars: Vec<char> = passage.text.chars().collect();
        let mut previous = None;
        for s in sentences(&passage.text, p.max_sentence_chars) {
            let span = CharSpan::new(passage.span.start + s.start, passage.span.start + s.end);
            let text: String = chars[s.start..s.end].iter().collect();
            // Overlapping windows hand the same sentence over again: the first (best) passage keeps it.
            if text.chars().filter(|c| !c.is_whitespace()).count() < p.min_sentence_chars || !seen.insert((passage.lecture, passage.revision, span)) {
                continue;
            }
            candidates.push(Quote { passage: i, span, text, score: 0.0, previous });
            previous = Some(candidates.len() - 1);
        }
    }
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let q = embedder.embed(&[question], Role::Query)?.remove(0);
    let texts: Vec<&str> = candidates.iter().map(|c| c.text.as_str()).collect();
    let vectors = embedder.embed(&texts, Role::Passage)?;
    let wanted = content_bigrams(question);
    for (c, v) in candidates.iter_mut().zip(&vectors) {
        let dense: f32 = q.iter().zip(v).map(|(a, b)| a * b).sum();
        let keywords = if wanted.is_empty() { 0.0 } else { content_bigrams(&c.text).intersection(&wanted).count() as f32 / wanted.len() as f32 };
        c.score = dense + p.keyword_weight * keywords + p.rank_weight / (1.0 + c.passage as f32);
    }
    // Ties go to the earlier candidate (the better passage, then reading order).
    let best = (0..candidates.len()).max_by(|&a, &b| candidates[a].score.total_cmp(&candidates[b].score).then(b.cmp(&a))).expect("candidates");
    let mut run = vec![best];
    while run.len() < p.max_quotes.max(1) {
        let last = *run.last().expect("run");
        match candidates.iter().position(|c| c.previous == Some(last)) {
            Some(next) => run.push(next),
            None => break,
        }
    }
    Ok(run.into_iter().map(|i| candidates[i].clone()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn particles_do_not_count_as_content() {
        let b = content_bigrams("推論とは何ですか");
        assert!(b.contains(&('推', '論')));
        assert!(b.contains(&('論', 'と')));
        assert!(!b.contains(&('と', 'は')));
        assert!(!b.contains(&('で', 'す')));
        assert!(content_bigrams("O1 model").contains(&('o', '1')));
    }
}
