//! Sentence windows: each sentence is matched on its own and handed to the model with ±`radius`
//! neighbouring sentences (the seed notebook's "sentence ±N neighbours" recipe).

use super::Chunk;
use crate::text::CharSpan;

/// One chunk per sentence: `matched` is sentence `i`, `context` runs from the start of sentence
/// `i - radius` to the end of sentence `i + radius`, clamped to the first and last sentence.
pub(crate) fn sentence_windows(sentences: &[CharSpan], radius: usize) -> Vec<Chunk> {
    let last = sentences.len().saturating_sub(1);
    sentences
        .iter()
        .enumerate()
        .map(|(i, &matched)| {
            let from = sentences[i.saturating_sub(radius)].start;
            let to = sentences[i.saturating_add(radius).min(last)].end;
            Chunk::new(matched, CharSpan::new(from, to))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::{Strategy, chunk};
    use crate::text::slice_chars;

    #[test]
    fn windows_clamp_at_the_ends() {
        let text = "一。二。三。四。五。";
        let chunks = chunk(
            text,
            &Strategy::SentenceWindow {
                radius: 2,
                max_chars: 200,
            },
            None,
            None,
        )
        .unwrap();
        let pairs: Vec<(&str, &str)> = chunks
            .iter()
            .map(|c| (slice_chars(text, c.matched), slice_chars(text, c.context)))
            .collect();
        assert_eq!(
            pairs,
            [
                ("一。", "一。二。三。"),
                ("二。", "一。二。三。四。"),
                ("三。", "一。二。三。四。五。"),
                ("四。", "二。三。四。五。"),
                ("五。", "三。四。五。"),
            ]
        );
    }

    #[test]
    fn radius_zero_windows_are_the_sentences_themselves() {
        let s = [CharSpan::new(0, 2), CharSpan::new(3, 5)];
        let chunks = sentence_windows(&s, 0);
        assert!(
            chunks
                .iter()
                .zip(&s)
                .all(|(c, s)| c.matched == *s && c.context == *s)
        );
    }

    #[test]
    fn huge_radius_does_not_overflow() {
        let s = [CharSpan::new(0, 2), CharSpan::new(3, 5)];
        let chunks = sentence_windows(&s, usize::MAX);
        assert!(chunks.iter().all(|c| c.context == CharSpan::new(0, 5)));
        assert!(sentence_windows(&[], 3).is_empty());
    }
}
