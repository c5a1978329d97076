//! Turning a user's question into an FTS5 query that can never be query syntax.
//!
//! The index uses the `trigram` tokenizer, so a query term matches as a substring. A question is cut
//! into runs of letters (kanji, kana, Latin/digits; spaces and punctuation end a run), and every run
//! contributes its character trigrams as quoted phrases OR-ed together. Partial overlap still scores,
//! which is what noisy ASR text needs (「スケール足」 still shares 「スケー」「ケール」 with 「スケール則」).
//! Hiragana stays in: Japanese content words and phrases are written with it (「しょぼい」, 「則とは何」),
//! and BM25's IDF already gives the common particle trigrams (「ですか」) little weight.

use crate::text::script::{Script, script};

/// Runs of letters (kanji, kana, Latin letters/digits, other letters) worth searching for: spaces
/// and punctuation (「・」 included, see [`script`]) end a run. 「スケール則とは？」 gives 「スケール則とは」.
pub fn terms(question: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for c in question.chars() {
        // Fold full-width ASCII so 「ＧＰＴ」 matches "GPT".
        let c = match c {
            '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
            _ => c,
        };
        match script(c) {
            Script::Kanji
            | Script::Katakana
            | Script::Hiragana
            | Script::Latin
            | Script::Digit
            | Script::OtherLetter => cur.push(c),
            Script::Punctuation | Script::Space => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Quote a string as one FTS5 phrase: inside double quotes, `"` is doubled and nothing else is special.
pub fn quote(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

/// The FTS5 MATCH expression for a question, or `None` when nothing in it can be searched
/// (trigram phrases shorter than 3 characters match nothing).
pub fn fts_query(question: &str) -> Option<String> {
    phrase_query(&trigrams(question))
}

/// For a question that asks what a term is (「スケール則とは何ですか」, 「LLMにおけるInference Time
/// Scalingとは？」), the term followed by 「とは」 as phrases OR-ed together: the passage where the
/// lecturer says 「Xとは」 is where X is introduced. The term is what precedes the question's first
/// 「とは」 back to its hiragana or sentence punctuation; 「Process Reward Model（PRM）」 gives its
/// full name and its abbreviation as well. `None` for other questions.
pub fn definition_query(question: &str) -> Option<String> {
    let at = question.find("とは")?;
    let before: Vec<char> = question[..at].chars().collect();
    let stop = |c: char| script(c) == Script::Hiragana || matches!(c, '、' | '。' | '，' | '．' | '？' | '?' | '！' | '!' | '「' | '」' | '『' | '』' | '\n');
    let from = before.iter().rposition(|&c| stop(c)).map_or(0, |i| i + 1);
    let term: String = before[from..].iter().collect::<String>().trim().to_owned();
    let mut names = vec![term.clone()];
    if let Some(open) = term.find(['（', '(']) {
        let inner = term[open..].trim_start_matches(['（', '(']).trim_end_matches(['）', ')']).trim();
        names = vec![term[..open].trim().to_owned(), inner.to_owned()];
    }
    let phrases: Vec<String> = names.into_iter().filter(|n| !n.is_empty()).map(|n| format!("{n}とは")).collect();
    phrase_query(&phrases)
}

/// OR of quoted trigram phrases, or `None` for none.
pub fn phrase_query(grams: &[String]) -> Option<String> {
    if grams.is_empty() {
        return None;
    }
    Some(grams.iter().map(|g| quote(g)).collect::<Vec<_>>().join(" OR "))
}

/// The distinct lower-cased character trigrams of the question's runs, in order.
pub fn trigrams(question: &str) -> Vec<String> {
    let mut grams: Vec<String> = Vec::new();
    for t in terms(question) {
        let chars: Vec<char> = t.chars().collect();
        if chars.len() < 3 {
            continue;
        }
        for w in chars.windows(3) {
            let g: String = w.iter().collect::<String>().to_lowercase();
            if !grams.contains(&g) {
                grams.push(g);
            }
        }
    }
    grams
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn japanese_question_becomes_trigram_phrases_across_scripts() {
        let q = fts_query("スケール則とは？").unwrap();
        assert_eq!(q, r#""スケー" OR "ケール" OR "ール則" OR "ル則と" OR "則とは""#);
        assert_eq!(terms("Self-Consistencyとは何ですか？"), ["Self", "Consistencyとは何ですか"]);
        assert_eq!(terms("ＧＰＴ４とｏ1"), ["GPT4とo1"]);
    }

    #[test]
    fn a_question_asking_what_a_term_is_gives_the_term_followed_by_to_wa() {
        assert_eq!(definition_query("スケール則とは何ですか？").as_deref(), Some(r#""スケール則とは""#));
        assert_eq!(definition_query("LLMにおけるInference Time Scalingとは？").as_deref(), Some(r#""Inference Time Scalingとは""#));
        assert_eq!(definition_query("Process Reward Model（PRM）とは何ですか？").as_deref(), Some(r#""Process Reward Modelとは" OR "PRMとは""#));
        assert_eq!(definition_query("では、Grokkingとはどんな現象ですか"), Some(r#""Grokkingとは""#.to_owned()));
        assert_eq!(definition_query("Llama3のアスペクト比はどのくらいですか？"), None);
        assert_eq!(definition_query("とは？"), None, "no term");
        assert_eq!(definition_query(r#"a"bとは"#).as_deref(), Some(r#""a""bとは""#), "quoted, never query syntax");
    }

    #[test]
    fn nakaguro_separates_katakana_words() {
        assert_eq!(terms("ニューラル・ネットワーク"), ["ニューラル", "ネットワーク"]);
        assert_eq!(terms("𠮷野家の〇〇"), ["𠮷野家の〇〇"]);
    }

    #[test]
    fn query_syntax_in_a_question_is_quoted_not_interpreted() {
        let q = fts_query(r#"NEAR(a b) OR "quoted" -minus * col:x AND NOT"#).unwrap();
        for part in q.split(" OR ") {
            assert!(part.starts_with('"') && part.ends_with('"'), "{part}");
        }
        assert!(fts_query("*** ? --").is_none());
    }

    #[test]
    fn quote_doubles_embedded_quotes() {
        assert_eq!(quote(r#"a"b"#), r#""a""b""#);
    }
}
