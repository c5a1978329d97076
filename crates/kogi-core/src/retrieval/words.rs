//! Keyword search by words and by readings, beside the trigram index.
//!
//! Trigrams cannot match a one- or two-character word (「則」「推論」), and ASR mishears words as
//! other words that sound alike (「推論」 スイロン → 「水温」 スイオン). So each chunk's content
//! words are indexed as tokens in two columns of an FTS5 table: their dictionary forms (`words`)
//! and their readings as they sound (`readings`, see [`sound_key`]). A question is analysed the
//! same way; its readings also match indexed readings one sound away (two for long ones), found in
//! the index's own vocabulary.
//!
//! A question's katakana loanwords also search their English (`text::loanwords`): 「トークン」 finds
//! 「token」. Chunks are not indexed that way: on the raw lecture that made results worse (its many
//! 「スケーリング」 then matched every "Scaling" question; BENCHMARKS.md, "Loanwords").
//!
//! Without the Japanese dictionary the `words` column holds character bigrams of CJK runs and
//! whole Latin words instead: two-character words still match; readings are empty.

use crate::retrieval::bm25::{quote, terms};
use crate::text::japanese::{Analyzer, sound_key};
use crate::text::script::{Script, script};
use crate::Result;
use crate::store::Db;
use std::sync::Arc;

/// How chunk text becomes searchable tokens.
#[derive(Clone)]
pub enum Words {
    Analyzer(Arc<Analyzer>),
    /// No dictionary: character bigrams.
    Bigrams,
}

/// What a chunk contributes to the word index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WordTokens {
    /// Space-separated dictionary forms of content words.
    pub words: String,
    /// Space-separated sound keys of their readings.
    pub readings: String,
}

/// A question's word query: tokens for the `words` column, and readings with their distance to the
/// question's own (0 = the same sound).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WordQuery {
    pub words: Vec<String>,
    pub readings: Vec<String>,
}

/// Shortest reading (in sounds) that is looked up one sound away; twice this, two sounds away.
const FUZZY_MIN: usize = 3;

impl Words {
    /// Names the analysis, so chunks analysed otherwise are analysed again.
    pub fn id(&self) -> String {
        match self {
            Words::Analyzer(a) => a.id().to_owned(),
            Words::Bigrams => "bigrams-1".to_owned(),
        }
    }

    pub fn has_readings(&self) -> bool {
        matches!(self, Words::Analyzer(_))
    }

    /// The Japanese analyser, when the dictionary is there.
    pub fn analyzer(&self) -> Option<&Analyzer> {
        match self {
            Words::Analyzer(a) => Some(a),
            Words::Bigrams => None,
        }
    }

    /// The tokens of a chunk's text.
    pub fn index(&self, text: &str) -> WordTokens {
        let (words, readings) = self.tokens(text, false);
        WordTokens { words: words.join(" "), readings: readings.join(" ") }
    }

    /// Content words (dictionary forms, FTS5-token-safe) and their readings' sound keys, in order;
    /// with `english`, a loanword's English words follow it.
    fn tokens(&self, text: &str, english: bool) -> (Vec<String>, Vec<String>) {
        match self {
            Words::Analyzer(a) => {
                let mut words = Vec::new();
                let mut readings = Vec::new();
                for m in a.analyze(text).into_iter().filter(|m| m.is_content()) {
                    words.push(token_safe(&m.base));
                    if english {
                        words.extend(a.loanwords().english(&m.base).iter().map(|e| token_safe(e)));
                    }
                    if let Some(r) = &m.reading {
                        let k: String = sound_key(r).into_iter().collect();
                        if !k.is_empty() {
                            readings.push(k);
                        }
                    }
                }
                words.retain(|w| !w.is_empty());
                (words, readings)
            }
            Words::Bigrams => (bigrams(text), Vec::new()),
        }
    }

    /// The question's words and readings (distinct, in order).
    pub fn question(&self, question: &str) -> WordQuery {
        let (mut words, mut readings) = self.tokens(question, true);
        dedup(&mut words);
        dedup(&mut readings);
        WordQuery { words, readings }
    }
}

impl WordQuery {
    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.readings.is_empty()
    }

    /// Readings of `vocabulary` (the index's) one sound from a question reading of at least
    /// [`FUZZY_MIN`] sounds, two from one of twice that, that the question does not already have.
    pub fn near_readings<'v>(&self, vocabulary: impl IntoIterator<Item = &'v str>) -> Vec<String> {
        let mine: Vec<Vec<char>> = self.readings.iter().map(|r| r.chars().collect()).filter(|r: &Vec<char>| r.len() >= FUZZY_MIN).collect();
        if mine.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for v in vocabulary {
            let vc: Vec<char> = v.chars().collect();
            let near = mine.iter().any(|r| {
                let allowed = if r.len() >= 2 * FUZZY_MIN { 2 } else { 1 };
                vc.len().abs_diff(r.len()) <= allowed && *r != vc && crate::correction::align::levenshtein(r, &vc) <= allowed
            });
            if near && !self.readings.iter().any(|r| r == v) {
                out.push(v.to_owned());
            }
        }
        out
    }

    /// Only the tokens that can tell chunks apart, at most `max` of the rarest (as for trigrams):
    /// absent ones match nothing, and ones in more than half of the chunks add no BM25 weight but
    /// cost the most to rank — unless nothing rarer is there (「モデル」 alone in a lecture on models).
    pub fn discriminating(&self, near: &[String], df: &std::collections::HashMap<String, i64>, total: i64, max: usize) -> (WordQuery, Vec<String>) {
        let present = |t: &String| df.get(t).copied().unwrap_or(0);
        let all: Vec<(i64, usize, u8, &String)> = self
            .words
            .iter()
            .map(|t| (0u8, t))
            .chain(self.readings.iter().map(|t| (1u8, t)))
            .chain(near.iter().map(|t| (2u8, t)))
            .enumerate()
            .filter(|(_, (_, t))| present(t) > 0)
            .map(|(i, (kind, t))| (present(t), i, kind, t))
            .collect();
        let rare = all.iter().any(|&(d, ..)| d * 2 <= total);
        let mut kept: Vec<_> = all.into_iter().filter(|&(d, ..)| !rare || d * 2 <= total).collect();
        kept.sort();
        kept.truncate(max.max(1));
        let n = super::within_postings_budget(kept.iter().map(|k| k.0), total);
        kept.truncate(n);
        kept.sort_by_key(|k| k.1);
        let pick = |kind: u8| kept.iter().filter(|k| k.2 == kind).map(|k| k.3.clone()).collect::<Vec<_>>();
        (WordQuery { words: pick(0), readings: pick(1) }, pick(2))
    }

    /// Every token the question searches for (words, readings, near readings).
    pub fn tokens<'a>(&'a self, near: &'a [String]) -> Vec<&'a str> {
        self.words.iter().chain(&self.readings).chain(near).map(String::as_str).collect()
    }

    /// The FTS5 MATCH expression over the word index: every word, every reading, every near
    /// reading, OR-ed and quoted (never query syntax).
    pub fn fts(&self, near: &[String]) -> Option<String> {
        let mut parts: Vec<String> = self.words.iter().map(|w| format!("words : {}", quote(w))).collect();
        parts.extend(self.readings.iter().chain(near).map(|r| format!("readings : {}", quote(r))));
        (!parts.is_empty()).then(|| parts.join(" OR "))
    }
}

/// Analyse every chunk whose words are missing or came from another analysis, in committed
/// batches (a stopped run keeps its work). Returns how many were analysed.
pub fn bring_up_to_date(db: &Db, words: &Words) -> Result<usize> {
    let by = words.id();
    let mut done = 0;
    loop {
        let pending = db.chunks_needing_words(&by, 512)?;
        if pending.is_empty() {
            return Ok(done);
        }
        let rows: Vec<(i64, String, String)> = pending
            .into_iter()
            .map(|(id, text)| {
                let t = words.index(&text);
                (id, t.words, t.readings)
            })
            .collect();
        db.put_words(&by, &rows)?;
        done += rows.len();
    }
}

fn dedup(v: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    v.retain(|x| seen.insert(x.clone()));
}

/// FTS5's unicode61 tokenizer splits at anything not a letter or digit: keep a word one token.
fn token_safe(word: &str) -> String {
    word.chars().filter(|c| c.is_alphanumeric()).collect()
}

/// Character bigrams of each CJK run and lower-cased Latin words (the fallback without a dictionary).
fn bigrams(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for run in terms(text) {
        let mut cjk: Vec<char> = Vec::new();
        let mut latin = String::new();
        let flush_cjk = |cjk: &mut Vec<char>, out: &mut Vec<String>| {
            if cjk.len() == 1 {
                out.push(cjk[0].to_string());
            }
            out.extend(cjk.windows(2).map(|w| w.iter().collect::<String>()));
            cjk.clear();
        };
        for c in run.chars() {
            match script(c) {
                Script::Kanji | Script::Katakana | Script::Hiragana => {
                    if !latin.is_empty() {
                        out.push(std::mem::take(&mut latin).to_lowercase());
                    }
                    cjk.push(c);
                }
                _ => {
                    flush_cjk(&mut cjk, &mut out);
                    latin.push(c);
                }
            }
        }
        flush_cjk(&mut cjk, &mut out);
        if !latin.is_empty() {
            out.push(latin.to_lowercase());
        }
    }
    out.retain(|t| !token_safe(t).is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_stored_without_words_are_analysed_before_the_next_search_and_found() {
        use crate::chunk::Chunk;
        use crate::store::SearchFilter;
        use crate::text::CharSpan;
        use crate::transcript::import::{ImportOptions, import_bytes};
        let mut db = Db::open_in_memory().unwrap();
        let text = "推論の話。\n\n学習の話。";
        let t = import_bytes("l.txt", text.as_bytes(), &ImportOptions::default()).unwrap();
        let imported = db.import_transcript(&t).unwrap();
        let (lecture, revision) = (imported.lecture.id, imported.lecture.head);
        let chunks = [Chunk { matched: CharSpan::new(0, 5), context: CharSpan::new(0, 5) }, Chunk { matched: CharSpan::new(7, 12), context: CharSpan::new(7, 12) }];
        // As a database from before the word index holds them: no words yet.
        db.put_chunk_set(lecture, revision, "s", "m", &chunks, &["推論の話。", "学習の話。"]).unwrap();
        assert_eq!(db.chunks_needing_words("bigrams-1", 10).unwrap().len(), 2);
        let q = Words::Bigrams.question("学習").fts(&[]).unwrap();
        assert!(db.keyword_search(crate::store::KeywordIndex::Words, &q, "s", "m", &SearchFilter::default(), 5).unwrap().is_empty());
        assert_eq!(bring_up_to_date(&db, &Words::Bigrams).unwrap(), 2);
        assert_eq!(bring_up_to_date(&db, &Words::Bigrams).unwrap(), 0, "nothing left to analyse");
        let found = db.keyword_search(crate::store::KeywordIndex::Words, &q, "s", "m", &SearchFilter::default(), 5).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0.chunk.matched, CharSpan::new(7, 12));
    }

    #[test]
    fn without_a_dictionary_two_character_words_still_become_tokens() {
        let t = Words::Bigrams.index("推論とはo1のこと");
        assert!(t.words.split(' ').any(|w| w == "推論"), "{t:?}");
        assert!(t.words.split(' ').any(|w| w == "o1"), "{t:?}");
        assert!(t.readings.is_empty());
    }

    #[test]
    fn a_reading_one_sound_away_is_near_and_short_readings_are_not_stretched() {
        let q = WordQuery { words: vec!["推論".into()], readings: vec!["スイロン".into(), "ソク".into()] };
        let near = q.near_readings(["スイオン", "スイロン", "ソコ", "スイエンジン", "カガク"]);
        assert_eq!(near, ["スイオン"]);
        let fts = q.fts(&near).unwrap();
        assert_eq!(fts, r#"words : "推論" OR readings : "スイロン" OR readings : "ソク" OR readings : "スイオン""#);
    }
}
