//! Paragraph chunks: split on blank lines; long paragraphs become sentence-aligned pieces; a text with
//! no paragraph breaks (typical raw ASR output) falls back to overlapping sentence-aligned windows.

use super::sentences::{is_line_break, sentences_in, trim};
use crate::text::CharSpan;

/// Paragraph chunks over `chars` (see the module docs). Parameters are validated by the caller:
/// `max_chars >= 1`, `window_chars >= 1`, `overlap_chars < window_chars`.
pub(crate) fn paragraph_spans(
    chars: &[char],
    max_chars: usize,
    window_chars: usize,
    overlap_chars: usize,
) -> Vec<CharSpan> {
    let paragraphs = paragraphs(chars);
    if paragraphs.len() <= 1 {
        let cap = max_chars.min(window_chars);
        let sentences = sentences_in(chars, CharSpan::new(0, chars.len()), cap);
        return windows(&sentences, window_chars, overlap_chars);
    }
    let mut out = Vec::new();
    for p in paragraphs {
        if p.len() <= max_chars {
            out.push(p);
        } else {
            out.extend(pack(&sentences_in(chars, p, max_chars), max_chars));
        }
    }
    out
}

/// Maximal runs of non-blank lines (a blank line is empty or whitespace only), trimmed.
/// `\r\n` counts as one line break.
pub(crate) fn paragraphs(chars: &[char]) -> Vec<CharSpan> {
    let mut out = Vec::new();
    let mut para_start: Option<usize> = None;
    let mut line_start = 0;
    let mut i = 0;
    let n = chars.len();
    while i <= n {
        let at_break = i == n || is_line_break(chars[i]);
        if at_break {
            let blank = chars[line_start..i].iter().all(|c| c.is_whitespace());
            if blank {
                if let Some(s) = para_start.take() {
                    out.extend(trim(chars, s, line_start));
                }
            } else if para_start.is_none() {
                para_start = Some(line_start);
            }
            if i < n && chars[i] == '\r' && i + 1 < n && chars[i + 1] == '\n' {
                i += 1;
            }
            line_start = i + 1;
        }
        i += 1;
    }
    if let Some(s) = para_start {
        out.extend(trim(chars, s, n));
    }
    out
}

/// Greedily pack consecutive sentences (each at most `max_chars`) into spans of at most `max_chars`.
pub(crate) fn pack(sentences: &[CharSpan], max_chars: usize) -> Vec<CharSpan> {
    let mut out = Vec::new();
    let mut cur: Option<CharSpan> = None;
    for &s in sentences {
        cur = Some(match cur {
            Some(c) if s.end - c.start <= max_chars => c.union(&s),
            Some(c) => {
                out.push(c);
                s
            }
            None => s,
        });
    }
    out.extend(cur);
    out
}

/// Windows of whole sentences, each at most `window_chars` (sentences are at most that long), each
/// overlapping the previous one by whole sentences totalling at most `overlap_chars`. Every window
/// reaches further than the previous one, so starts and ends strictly increase.
pub(crate) fn windows(
    sentences: &[CharSpan],
    window_chars: usize,
    overlap_chars: usize,
) -> Vec<CharSpan> {
    let n = sentences.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let start = sentences[i].start;
        let mut j = i;
        while j + 1 < n && sentences[j + 1].end - start <= window_chars {
            j += 1;
        }
        out.push(CharSpan::new(start, sentences[j].end));
        if j + 1 >= n {
            break;
        }
        // The earliest next start that keeps the overlap within budget and still reaches sentence j+1
        // (k = j + 1 always qualifies).
        let end = sentences[j].end;
        let reach = sentences[j + 1].end;
        i = (i + 1..=j + 1)
            .find(|&k| {
                let s = sentences[k].start;
                end.saturating_sub(s) <= overlap_chars && reach - s <= window_chars
            })
            .unwrap_or(j + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::{Strategy, chunk};
    use crate::text::slice_chars;

    fn texts(text: &str, strategy: &Strategy) -> Vec<String> {
        chunk(text, strategy, None, None)
            .unwrap()
            .into_iter()
            .map(|c| {
                assert_eq!(c.matched, c.context);
                slice_chars(text, c.matched).to_string()
            })
            .collect()
    }

    #[test]
    fn paragraphs_split_on_blank_lines() {
        let text = "第一段落です。\n続きです。\n\n第二段落。\r\n \r\n\t\n第三段落\n";
        let s = Strategy::Paragraphs {
            max_chars: 200,
            window_chars: 100,
            overlap_chars: 20,
        };
        assert_eq!(
            texts(text, &s),
            ["第一段落です。\n続きです。", "第二段落。", "第三段落"]
        );
    }

    #[test]
    fn crlf_line_breaks_are_not_blank_lines() {
        let chars: Vec<char> = "一行目\r\n二行目\r\n\r\n三行目".chars().collect();
        assert_eq!(
            paragraphs(&chars),
            [CharSpan::new(0, 8), CharSpan::new(12, 15)]
        );
    }

    #[test]
    fn long_paragraph_is_split_into_sentence_aligned_pieces() {
        let text = "一文目です。二文目です。三文目です。\n\n短い段落。";
        let s = Strategy::Paragraphs {
            max_chars: 13,
            window_chars: 100,
            overlap_chars: 20,
        };
        assert_eq!(
            texts(text, &s),
            ["一文目です。二文目です。", "三文目です。", "短い段落。"]
        );
    }

    #[test]
    fn no_blank_line_falls_back_to_overlapping_sentence_windows() {
        let text = "aa。bb。cc。dd。ee。ff。gg。";
        let s = Strategy::Paragraphs {
            max_chars: 200,
            window_chars: 9,
            overlap_chars: 3,
        };
        assert_eq!(
            texts(text, &s),
            ["aa。bb。cc。", "cc。dd。ee。", "ee。ff。gg。"]
        );
        // no overlap requested → adjacent windows
        let s = Strategy::Paragraphs {
            max_chars: 200,
            window_chars: 9,
            overlap_chars: 0,
        };
        assert_eq!(texts(text, &s), ["aa。bb。cc。", "dd。ee。ff。", "gg。"]);
    }

    #[test]
    fn fallback_window_never_is_contained_in_the_previous_one() {
        // A long sentence after the window: the next window must start late enough to take it.
        let s = [
            CharSpan::new(0, 3),
            CharSpan::new(3, 6),
            CharSpan::new(6, 9),
            CharSpan::new(9, 18),
        ];
        let w = windows(&s, 9, 6);
        assert_eq!(w, [CharSpan::new(0, 9), CharSpan::new(9, 18)]);
        for pair in w.windows(2) {
            assert!(pair[0].start < pair[1].start && pair[0].end < pair[1].end);
        }
    }
}
