//! Sentence splitting for ASR transcripts.
//!
//! A sentence ends after a terminator (`。．！？!?｡`, plus any closing brackets or quotes right after it)
//! or at a line break. ASR output often runs for hundreds of characters without a terminator, so a
//! sentence longer than `max_chars` is cut at the most natural boundary found scanning back from the
//! limit (see [`split_long`]). Everything works on code-point offsets into the original text; nothing is
//! copied or normalised.

use crate::text::CharSpan;
use crate::text::script::{Script, script};

/// Split `text` into sentences of at most `max_chars` code points (`0` is treated as `1`).
///
/// Spans are code-point ranges into `text`, in order, never overlapping, trimmed of surrounding
/// whitespace and never empty; together they cover every non-whitespace character of the text.
pub fn sentences(text: &str, max_chars: usize) -> Vec<CharSpan> {
    let chars: Vec<char> = text.chars().collect();
    sentences_in(&chars, CharSpan::new(0, chars.len()), max_chars)
}

/// [`sentences`] over `chars[range]` (offsets stay relative to `chars`).
pub(crate) fn sentences_in(chars: &[char], range: CharSpan, max_chars: usize) -> Vec<CharSpan> {
    let max_chars = max_chars.max(1);
    let (lo, hi) = (range.start, range.end.min(chars.len()));
    let mut out = Vec::new();
    let mut start = lo;
    let mut i = lo;
    while i < hi {
        let c = chars[i];
        if is_line_break(c) {
            push_segment(chars, start, i, max_chars, &mut out);
            i += 1;
            start = i;
        } else if is_terminator_at(chars, i, hi) {
            let mut j = i + 1;
            while j < hi && (is_terminator_char(chars[j]) || is_closer(chars[j])) {
                j += 1;
            }
            push_segment(chars, start, j, max_chars, &mut out);
            i = j;
            start = j;
        } else {
            i += 1;
        }
    }
    push_segment(chars, start, hi, max_chars, &mut out);
    out
}

/// Trim `[start, end)`, drop it when empty, cut it under `max_chars` when long.
fn push_segment(
    chars: &[char],
    start: usize,
    end: usize,
    max_chars: usize,
    out: &mut Vec<CharSpan>,
) {
    let Some(span) = trim(chars, start, end) else {
        return;
    };
    if span.len() <= max_chars {
        out.push(span);
    } else {
        split_long(chars, span, max_chars, out);
    }
}

/// `[start, end)` without leading/trailing whitespace, or `None` when nothing is left.
pub(crate) fn trim(chars: &[char], mut start: usize, mut end: usize) -> Option<CharSpan> {
    while start < end && chars[start].is_whitespace() {
        start += 1;
    }
    while end > start && chars[end - 1].is_whitespace() {
        end -= 1;
    }
    (start < end).then(|| CharSpan::new(start, end))
}

/// Cut a trimmed span longer than `max_chars` into pieces of at most `max_chars`.
///
/// From each piece's start, the candidate cut points up to `start + max_chars` are ranked, best first:
/// 0. after `、，,` or before whitespace;
/// 1. after a clause-ending phrase (`けれども けど ですが ますが ので から` …) not followed by a kana
///    that would continue the word (`のです`, `からだ`, `けども` …);
/// 2. a change of script (Japanese ↔ Latin letters/digits, except Latin → hiragana, which would start
///    the next piece with a particle), or next to a bracket;
/// 3. hiragana followed by kanji/katakana (a rough word boundary);
///
/// The latest candidate of the best rank in the back half of the window wins; failing that, the latest
/// of the best rank anywhere in the window; failing that, a hard cut at `max_chars`.
fn split_long(chars: &[char], span: CharSpan, max_chars: usize, out: &mut Vec<CharSpan>) {
    let mut pos = span.start;
    let end = span.end;
    while end - pos > max_chars {
        let limit = pos + max_chars; // < end
        let back_half = pos + (max_chars / 2).max(1);
        let cut = best_cut(chars, back_half, limit, end)
            .or_else(|| best_cut(chars, pos + 1, limit, end))
            .unwrap_or(limit);
        // `pos` is non-whitespace and `cut > pos`, so the piece is never empty.
        if let Some(piece) = trim(chars, pos, cut) {
            out.push(piece);
        }
        pos = cut;
        while pos < end && chars[pos].is_whitespace() {
            pos += 1;
        }
    }
    if pos < end {
        out.push(CharSpan::new(pos, end));
    }
}

/// The latest cut point `c` in `[from, to]` of the best rank (`c < end`, so `chars[c]` exists).
fn best_cut(chars: &[char], from: usize, to: usize, end: usize) -> Option<usize> {
    let mut best: Option<(u8, usize)> = None;
    for c in (from..=to.min(end - 1)).rev() {
        if let Some(rank) = cut_rank(chars, c)
            && best.is_none_or(|(r, _)| rank < r)
        {
            best = Some((rank, c));
            if rank == 0 {
                break;
            }
        }
    }
    best.map(|(_, c)| c)
}

/// Clause-ending phrases (rank 1) and the characters that, right after one, show it is not a
/// clause ending after all.
const PHRASES: &[(&str, &[char])] = &[
    ("けれども", &[]),
    ("けども", &[]),
    ("けれど", &['も', 'ね', 'よ']),
    ("けど", &['も', 'ね', 'よ', 'さ']),
    ("ですが", &['ね']),
    ("ますが", &['ね']),
    ("ので", &['す', 'し', 'は', 'も', 'ね', 'よ']),
    (
        "から",
        &[
            'だ', 'で', 'す', 'ね', 'よ', 'こ', 'の', 'は', 'に', 'と', 'も', 'さ', 'ら', 'ず',
        ],
    ),
];

/// Rank of a cut between `chars[c - 1]` and `chars[c]` (lower is better), `None` if not a boundary.
fn cut_rank(chars: &[char], c: usize) -> Option<u8> {
    let (a, b) = (chars[c - 1], chars[c]);
    if matches!(a, '、' | '，' | ',' | '､') || (b.is_whitespace() && !a.is_whitespace()) {
        return Some(0);
    }
    if ends_with_phrase(chars, c) {
        return Some(1);
    }
    let (sa, sb) = (script(a), script(b));
    if (is_japanese(sa) && is_latin_or_digit(sb))
        || (is_latin_or_digit(sa) && is_japanese(sb) && sb != Script::Hiragana)
        || is_closer(a)
        || is_opener(b)
    {
        return Some(2);
    }
    if sa == Script::Hiragana && (sb == Script::Kanji || (sb == Script::Katakana && b != 'ー')) {
        return Some(3);
    }
    None
}

fn ends_with_phrase(chars: &[char], c: usize) -> bool {
    PHRASES.iter().any(|(phrase, not_before)| {
        let n = phrase.chars().count();
        c >= n
            && chars[c - n..c].iter().copied().eq(phrase.chars())
            && !not_before.contains(&chars[c])
    })
}

pub(crate) fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

fn is_terminator_char(c: char) -> bool {
    matches!(c, '。' | '．' | '！' | '？' | '!' | '?' | '.' | '｡')
}

/// A terminator ends a sentence, except a full stop inside a number or name. An ASCII `.` ends one
/// only before whitespace, a closing bracket/quote, another terminator or the end (`3.5`,
/// `example.com` and the decimals of Japanese ASR output such as `13.が` do not); a full-width `．`
/// ends one unless a digit or Latin letter follows.
fn is_terminator_at(chars: &[char], i: usize, hi: usize) -> bool {
    let next = (i + 1 < hi).then(|| chars[i + 1]);
    match chars[i] {
        '.' => next.is_none_or(|n| n.is_whitespace() || is_closer(n) || is_terminator_char(n)),
        '．' => !next.is_some_and(|n| is_latin_or_digit(script(n))),
        c => is_terminator_char(c),
    }
}

fn is_closer(c: char) -> bool {
    matches!(
        c,
        '」' | '』'
            | '）'
            | ')'
            | ']'
            | '］'
            | '】'
            | '〕'
            | '〉'
            | '》'
            | '”'
            | '’'
            | '"'
            | '\''
    )
}

fn is_opener(c: char) -> bool {
    matches!(
        c,
        '「' | '『' | '（' | '(' | '[' | '［' | '【' | '〔' | '〈' | '《' | '“' | '‘'
    )
}

/// Kanji, hiragana or katakana: one side of the script changes [`cut_rank`] cuts at.
fn is_japanese(s: Script) -> bool {
    matches!(s, Script::Kanji | Script::Hiragana | Script::Katakana)
}

/// Latin letters and digits (ASCII, accented or full-width): the other side.
fn is_latin_or_digit(s: Script) -> bool {
    matches!(s, Script::Latin | Script::Digit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::slice_chars;

    fn texts(text: &str, max_chars: usize) -> Vec<&str> {
        sentences(text, max_chars)
            .into_iter()
            .map(|s| slice_chars(text, s))
            .collect()
    }

    #[test]
    fn japanese_with_maru_splits_into_sentences() {
        assert_eq!(
            texts(
                "今日はスケール則の話です。推論時のスケーリングも扱います。最後に演習。",
                200
            ),
            [
                "今日はスケール則の話です。",
                "推論時のスケーリングも扱います。",
                "最後に演習。"
            ]
        );
    }

    #[test]
    fn english_splits_after_question_exclamation_and_full_stop() {
        assert_eq!(
            texts("Is it big? Yes! It scales. GPT-3.5 has 175B params.", 200),
            [
                "Is it big?",
                "Yes!",
                "It scales.",
                "GPT-3.5 has 175B params."
            ]
        );
    }

    #[test]
    fn repeated_terminators_stay_together() {
        assert_eq!(
            texts("Really?! Wait... ok。。次", 200),
            ["Really?!", "Wait...", "ok。。", "次"]
        );
    }

    #[test]
    fn closing_bracket_stays_with_its_sentence() {
        assert_eq!(
            texts(
                "彼は「そうです。」と言った。『本当？』次に進みます。(Really.) Next",
                200
            ),
            [
                "彼は「そうです。」",
                "と言った。",
                "『本当？』",
                "次に進みます。",
                "(Really.)",
                "Next"
            ]
        );
    }

    #[test]
    fn line_breaks_split_and_whitespace_is_trimmed() {
        let text = "  一行目です\r\n二行目\n\n\u{3000}三行目 \n   \n";
        assert_eq!(texts(text, 200), ["一行目です", "二行目", "三行目"]);
    }

    #[test]
    fn spans_are_code_point_offsets_into_the_original_text() {
        let text = "é😀 すごい。 Next.";
        let spans = sentences(text, 200);
        assert_eq!(spans, [CharSpan::new(0, 7), CharSpan::new(8, 13)]);
    }

    #[test]
    fn empty_and_whitespace_only_text_has_no_sentences() {
        assert!(sentences("", 200).is_empty());
        assert!(sentences(" \n\t\u{3000}\r\n", 200).is_empty());
    }

    #[test]
    fn long_unpunctuated_japanese_run_is_cut_under_max_chars_after_touten() {
        // 『、』 near the end of the window wins over earlier boundaries.
        let text = "早速内容ですけど目的はタイトルの通りですけど言語モデルのスケール則について学ぶってことで、大規模言語モデルっていうふうに呼ばれてますけどスケール則の話とか初回も少ししました";
        let spans = sentences(text, 50);
        assert!(spans.iter().all(|s| s.len() <= 50), "{spans:?}");
        let first = slice_chars(text, spans[0]);
        assert!(first.ends_with('、'), "{first}");
        assert_eq!(
            first,
            "早速内容ですけど目的はタイトルの通りですけど言語モデルのスケール則について学ぶってことで、"
        );
    }

    #[test]
    fn long_unpunctuated_run_without_touten_is_cut_after_kedo() {
        let text = "早速内容ですけど目的はタイトルの通りですけど言語モデルのスケール則について学ぶってことで大規模言語モデルっていうふうに呼ばれてます";
        let t = texts(text, 30);
        assert!(t.iter().all(|s| s.chars().count() <= 30), "{t:?}");
        assert_eq!(t[0], "早速内容ですけど目的はタイトルの通りですけど");
        assert_eq!(t.concat(), text);
    }

    #[test]
    fn phrase_endings_that_continue_the_word_are_not_cut() {
        // 「のです」 is not 「ので」+「す」; 「からだ」 is not 「から」+「だ」.
        assert!(!ends_with_phrase(
            &"ものです".chars().collect::<Vec<_>>(),
            3
        ));
        assert!(!ends_with_phrase(&"からだ".chars().collect::<Vec<_>>(), 2));
        assert!(ends_with_phrase(&"なのでそ".chars().collect::<Vec<_>>(), 3));
        assert!(ends_with_phrase(
            &"ですけど目".chars().collect::<Vec<_>>(),
            4
        ));
    }

    #[test]
    fn long_run_prefers_spaces_and_script_changes_over_hard_cuts() {
        let text = "最近はスケーリングPretrainingだけではなくてInference Time Scalingという話も出てきてまして";
        assert_eq!(
            texts(text, 24),
            [
                "最近はスケーリング",
                "Pretrainingだけではなくて",
                "Inference Time",
                "Scalingという話も出てきてまして"
            ]
        );
    }

    #[test]
    fn run_without_any_boundary_is_hard_cut_at_max_chars() {
        let text = "a".repeat(25);
        assert_eq!(
            sentences(&text, 10),
            [
                CharSpan::new(0, 10),
                CharSpan::new(10, 20),
                CharSpan::new(20, 25)
            ]
        );
        // max_chars 0 behaves as 1
        assert_eq!(
            sentences("ab", 0),
            [CharSpan::new(0, 1), CharSpan::new(1, 2)]
        );
    }

    #[test]
    fn script_changes_follow_the_shared_classifier() {
        let ch = |s: &str| s.chars().collect::<Vec<_>>();
        // 「・」 is punctuation, not katakana: no hiragana → katakana boundary before it.
        assert_eq!(cut_rank(&ch("の・ネ"), 1), None);
        // 「〇」 is a kanji: hiragana → kanji.
        assert_eq!(cut_rank(&ch("の〇"), 1), Some(3));
        // 「é」 is a Latin letter: kanji → Latin.
        assert_eq!(cut_rank(&ch("語été"), 1), Some(2));
    }

    #[test]
    fn full_stop_inside_numbers_and_names_does_not_split() {
        assert_eq!(
            texts("GPT-3.5とexample.comの話。v1.0.", 200),
            ["GPT-3.5とexample.comの話。", "v1.0."]
        );
        assert_eq!(
            texts("FLOPSは13.がいい。３．５倍です．次", 200),
            ["FLOPSは13.がいい。", "３．５倍です．", "次"]
        );
    }
}
