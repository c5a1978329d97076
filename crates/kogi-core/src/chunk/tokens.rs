//! Windows over the embedding model's tokens.

use crate::text::CharSpan;
use crate::{Error, Result};

/// Windows of `size` tokens advancing by `size - overlap` tokens; each window spans from its first
/// token's start to its last token's end. Empty token spans (special tokens) are skipped. The caller
/// checks `0 < size` and `overlap < size`.
pub(crate) fn token_windows(
    mut tokens: Vec<CharSpan>,
    char_count: usize,
    size: usize,
    overlap: usize,
) -> Result<Vec<CharSpan>> {
    if let Some(bad) = tokens
        .iter()
        .find(|t| t.start > t.end || t.end > char_count)
    {
        return Err(Error::Invalid(format!(
            "the tokenizer reported a token at chars {}..{}, outside the {char_count}-char text",
            bad.start, bad.end
        )));
    }
    tokens.retain(|t| !t.is_empty());
    tokens.sort(); // tokenizers report them in order; make sure
    let step = size - overlap;
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let window = &tokens[i..(i + size).min(tokens.len())];
        let end = window.iter().map(|t| t.end).max().unwrap_or(window[0].end);
        out.push(CharSpan::new(window[0].start, end));
        if i + size >= tokens.len() {
            break;
        }
        i += step;
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::chunk::{Strategy, chunk};
    use crate::inference::TokenSpans;

    /// A token every `n` chars.
    pub(crate) struct EveryN(pub usize);
    impl TokenSpans for EveryN {
        fn token_spans(&self, text: &str) -> Result<Vec<CharSpan>> {
            let len = text.chars().count();
            Ok((0..len)
                .step_by(self.0)
                .map(|s| CharSpan::new(s, (s + self.0).min(len)))
                .collect())
        }
    }

    #[test]
    fn token_windows_overlap_by_the_requested_number_of_tokens() {
        let text = "abcdefghijklmnopqrstuvwxyz0123"; // 30 chars = 10 tokens of 3
        let chunks = chunk(
            text,
            &Strategy::TokenWindows {
                size: 4,
                overlap: 1,
            },
            Some(&EveryN(3)),
            None,
        )
        .unwrap();
        let spans: Vec<(usize, usize)> = chunks
            .iter()
            .map(|c| (c.matched.start, c.matched.end))
            .collect();
        // tokens 0-3, 3-6, 6-9 (last window reaches the last token)
        assert_eq!(spans, [(0, 12), (9, 21), (18, 30)]);
        assert!(chunks.iter().all(|c| c.matched == c.context));
        let spans = token_windows(EveryN(3).token_spans(text).unwrap(), 30, 4, 2).unwrap();
        assert_eq!(spans.len(), 4); // starts at tokens 0, 2, 4, 6
        assert_eq!(spans[1], CharSpan::new(6, 18));
        assert_eq!(spans[3], CharSpan::new(18, 30));
    }

    #[test]
    fn token_windows_reject_overlap_not_below_size() {
        let err = chunk(
            "abc",
            &Strategy::TokenWindows {
                size: 4,
                overlap: 4,
            },
            Some(&EveryN(3)),
            None,
        );
        assert!(matches!(err, Err(Error::Invalid(m)) if m.contains("overlap")));
        let err = chunk(
            "abc",
            &Strategy::TokenWindows {
                size: 0,
                overlap: 0,
            },
            Some(&EveryN(3)),
            None,
        );
        assert!(matches!(err, Err(Error::Invalid(_))));
    }

    #[test]
    fn token_spans_outside_the_text_are_an_error_and_empty_ones_are_skipped() {
        assert!(token_windows(vec![CharSpan::new(0, 5)], 3, 2, 0).is_err());
        let spans = token_windows(
            vec![
                CharSpan::new(0, 0),
                CharSpan::new(0, 2),
                CharSpan::new(3, 3),
            ],
            3,
            2,
            0,
        );
        assert_eq!(spans.unwrap(), [CharSpan::new(0, 2)]);
        assert!(token_windows(vec![], 0, 2, 1).unwrap().is_empty());
    }
}
