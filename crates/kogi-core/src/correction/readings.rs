//! Correction suggestions by sound: ASR errors are mostly words that sound like the right one
//! (「推論時」 スイロンジ heard as 「水温時」 スイオンジ, 「o1」 オーワン as 「大湾」 オオワン).
//!
//! * **reading**: spans of the transcript whose reading is within a small edit distance of a
//!   glossary term's reading while the spelling differs. A term's readings are the analyser's
//!   reading of it, and its katakana-only variants (`o1 = オーワン` says how 「o1」 sounds).
//! * **homophone**: without a glossary, noun compounds the lecture writes often (≥ 3 times) whose
//!   near-homophones appear rarely (≥ 3× less often) — new glossary entries to propose.
//!
//! Both come back as [`TermSuggestion`]s: accepting one adds the variant to the glossary, and the
//! glossary preview applies it as one revision, as for spelling-based suggestions.

use super::align::levenshtein;
use super::glossary::{Term, TermSource, TermSuggestion};
use crate::text::CharSpan;
use crate::text::japanese::{Analyzer, Morpheme, Pos, phonemes};
use crate::text::loanwords;
use crate::text::script::{Script, script};
use std::collections::{HashMap, HashSet};

/// Readings shorter than this (in phonemes) are too ambiguous to look for: 「ソク」 is everywhere.
const MIN_PHONEMES: usize = 4;
/// Characters of context on each side of a suggestion.
const CONTEXT: usize = 12;
/// A homophone suggestion needs the lecture's spelling this often…
const FREQUENT: usize = 5;
/// …and at least this many times as often as the near-homophone.
const RATIO: usize = 3;
/// Farthest a suggested span may sound from its term: phoneme edits over the longer length.
pub const MAX_SOUND_DISTANCE: f64 = 0.25;
/// Suggestions for a glossary term this close are the confident ones (the eval accepts them all);
/// homophones of the lecture's own words are proposals of new glossary entries, never confident.
pub const CONFIDENT_DISTANCE: f64 = 0.15;

/// Whether a suggestion is one to accept without looking.
pub fn confident(s: &TermSuggestion) -> bool {
    s.source == TermSource::Reading && s.distance <= CONFIDENT_DISTANCE
}

/// Whether two spellings share two characters in a row: then spelling suggestions cover them, and a
/// match by sound is more likely another word built on the same part (「推論値」 for 「推論時」).
fn share_two(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    a.windows(2).any(|w| b.contains(&w.iter().collect::<String>()))
}

/// A word's phonemes, when it has a reading (kana words read as written).
fn key_of(m: &Morpheme) -> Option<Vec<char>> {
    m.reading.as_deref().map(phonemes).filter(|k| !k.is_empty())
}

/// Phoneme edits over the longer length.
fn sound_distance(a: &[char], b: &[char]) -> f64 {
    levenshtein(a, b) as f64 / a.len().max(b.len()).max(1) as f64
}

/// Where a window may start or end: not on a particle, an auxiliary or a symbol.
fn edge_ok(m: &Morpheme) -> bool {
    !matches!(m.pos, Pos::Particle | Pos::Auxiliary | Pos::Symbol)
}

/// Kanji or katakana: what ASR mis-writes a technical term as (a hiragana-only span is speech).
fn has_term_script(s: &str) -> bool {
    s.chars().any(|c| matches!(script(c), Script::Kanji | Script::Katakana))
}

/// What a technical term looks like: katakana or Latin letters in it, or three characters or more.
/// Two-kanji words (「検証」「厳密」) have too many everyday homophones (「現象」「現実」) to propose.
fn technical(s: &str) -> bool {
    s.chars().count() >= 3 || s.chars().any(|c| matches!(script(c), Script::Katakana | Script::Latin))
}

struct Window {
    span: CharSpan,
    key: Vec<char>,
}

/// Every run of whole words (not starting or ending on a particle, auxiliary or symbol) whose
/// reading has `min..=max` phonemes.
fn windows(words: &[Morpheme], keys: &[Option<Vec<char>>], min: usize, max: usize) -> Vec<Window> {
    let mut out = Vec::new();
    for i in 0..words.len() {
        if keys[i].is_none() || !edge_ok(&words[i]) {
            continue;
        }
        let mut key: Vec<char> = Vec::new();
        for j in i..words.len() {
            let Some(k) = &keys[j] else { break };
            // Words of one span are adjacent in the text.
            if j > i && words[j].span.start != words[j - 1].span.end {
                break;
            }
            key.extend_from_slice(k);
            if key.len() > max {
                break;
            }
            if key.len() >= min && edge_ok(&words[j]) {
                out.push(Window { span: CharSpan::new(words[i].span.start, words[j].span.end), key: key.clone() });
            }
        }
    }
    out
}

/// How a Latin term sounds in katakana, word by word through the loanword table ("Beam Search" →
/// 「ビームサーチ」); `None` when a word is not a known loanword.
fn latin_reading(term: &str, a: &Analyzer) -> Option<String> {
    let words: Vec<&str> = term.split(|c: char| c == ' ' || c == '-').filter(|w| !w.is_empty()).collect();
    if words.is_empty() || !words.iter().all(|w| w.chars().all(|c| c.is_ascii_alphabetic())) {
        return None;
    }
    words.iter().map(|w| a.loanwords().katakana(w)).collect()
}

/// A term's readings as sound keys: the analyser's reading of the term when it is all Japanese,
/// the loanwords' katakana when it is English words, and its katakana-only variants.
fn term_keys(t: &Term, a: &Analyzer) -> Vec<Vec<char>> {
    let mut keys: Vec<Vec<char>> = Vec::new();
    let term = t.term.trim();
    let japanese = term.chars().all(|c| matches!(script(c), Script::Kanji | Script::Katakana | Script::Hiragana));
    if japanese {
        let words = a.analyze(term);
        if words.iter().all(|m| m.reading.is_some()) {
            keys.push(words.iter().flat_map(|m| phonemes(m.reading.as_deref().unwrap_or(""))).collect());
        }
    } else if let Some(k) = latin_reading(term, a) {
        keys.push(phonemes(&k));
    }
    for v in &t.variants {
        let v = v.trim();
        if !v.is_empty() && v.chars().all(|c| matches!(script(c), Script::Katakana)) {
            keys.push(phonemes(v));
        }
    }
    keys.retain(|k| k.len() >= MIN_PHONEMES);
    keys.sort();
    keys.dedup();
    keys
}

/// Spans that sound like a glossary term but are spelled otherwise ([`TermSource::Reading`]),
/// then noun compounds that sound like a frequent one ([`TermSource::Homophone`]); closest first.
pub fn suggest_by_reading(text: &str, terms: &[Term], a: &Analyzer) -> Vec<TermSuggestion> {
    by_reading(text, &a.analyze(text), terms, a)
}

/// Every glossary suggestion for `text`: by spelling ([`super::glossary::suggest_terms`]) and, with
/// the analyser, by sound. With it, a spelling suggestion that cuts a word in two is dropped: it is a
/// piece of another word (「スケール速」 of 「スケール速度」), not a mishearing; one by sound is added
/// unless spelling found the same variant. The text is analysed once.
pub fn suggest_all(text: &str, terms: &[Term], a: Option<&Analyzer>) -> Vec<TermSuggestion> {
    let mut out = super::glossary::suggest_terms(text, terms);
    let Some(a) = a else { return out };
    let words = a.analyze(text);
    let mut edges: HashSet<usize> = words.iter().flat_map(|m| [m.span.start, m.span.end]).collect();
    edges.extend([0, text.chars().count()]);
    out.retain(|s| edges.contains(&s.span.start) && edges.contains(&s.span.end));
    for s in by_reading(text, &words, terms, a) {
        if !out.iter().any(|o| o.variant == s.variant) {
            out.push(s);
        }
    }
    out
}

fn by_reading(text: &str, words: &[Morpheme], terms: &[Term], a: &Analyzer) -> Vec<TermSuggestion> {
    let chars: Vec<char> = text.chars().collect();
    let keys: Vec<Option<Vec<char>>> = words.iter().map(key_of).collect();
    let slice = |s: CharSpan| chars[s.start..s.end].iter().collect::<String>();
    let mut known: HashSet<String> = HashSet::new();
    for t in terms {
        known.insert(t.term.trim().to_owned());
        known.extend(t.variants.iter().map(|v| v.trim().to_owned()));
    }
    let mut found: Vec<(CharSpan, String, f64, TermSource)> = Vec::new();

    for t in terms {
        let term = t.term.trim();
        let latin = latin_reading(term, a).is_some();
        for k in term_keys(t, a) {
            let slack = (k.len() as f64 * MAX_SOUND_DISTANCE).floor() as usize;
            for w in windows(&words, &keys, k.len().saturating_sub(slack), k.len() + slack) {
                let surface = slice(w.span);
                if surface == term || share_two(&surface, term) || known.contains(&surface) || !has_term_script(&surface) {
                    continue;
                }
                let d = sound_distance(&w.key, &k);
                // The same sound with a kanji in common is the same word written another way
                // (「線形」 and 「線型」), not a mishearing.
                if d == 0.0 && surface.chars().any(|c| script(c) == Script::Kanji && term.contains(c)) {
                    continue;
                }
                if d == 0.0 && latin && loanwords::is_katakana_word(&surface) {
                    found.push((w.span, term.to_owned(), d, TermSource::Loanword));
                } else if d <= MAX_SOUND_DISTANCE {
                    found.push((w.span, term.to_owned(), d, TermSource::Reading));
                }
            }
        }
    }

    // Homophones of the lecture's own frequent noun compounds.
    let compounds = noun_compounds(&words, &keys);
    let mut count: HashMap<String, (usize, Vec<char>)> = HashMap::new();
    for (span, key) in &compounds {
        let e = count.entry(slice(*span)).or_insert_with(|| (0, key.clone()));
        e.0 += 1;
    }
    let mut frequent: Vec<(&String, &(usize, Vec<char>))> =
        count.iter().filter(|(s, (c, k))| *c >= FREQUENT && k.len() >= MIN_PHONEMES + 2 && technical(s)).collect();
    frequent.sort_by(|a, b| a.0.cmp(b.0));
    for (span, key) in &compounds {
        let surface = slice(*span);
        let mine = count[&surface].0;
        if known.contains(&surface) || !has_term_script(&surface) {
            continue;
        }
        for (f, (fc, fk)) in &frequent {
            if *fc < RATIO * mine || key.len().abs_diff(fk.len()) > 1 || share_two(f, &surface) {
                continue;
            }
            let d = sound_distance(key, fk);
            if d <= CONFIDENT_DISTANCE {
                found.push((*span, (*f).clone(), d, TermSource::Homophone));
            }
        }
    }

    // One suggestion per text position: glossary readings first, then the closest, longest.
    found.sort_by(|a, b| {
        (a.3 as u8).cmp(&(b.3 as u8)).then(a.2.total_cmp(&b.2)).then(b.0.len().cmp(&a.0.len())).then(a.0.start.cmp(&b.0.start))
    });
    let mut taken = vec![false; chars.len()];
    let mut groups: Vec<TermSuggestion> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for (span, term, distance, source) in found {
        if taken[span.start..span.end].iter().any(|&x| x) {
            continue;
        }
        taken[span.start..span.end].iter_mut().for_each(|x| *x = true);
        let variant = slice(span);
        match index.get(&(variant.clone(), term.clone())) {
            Some(&g) => {
                groups[g].count += 1;
                if span.start < groups[g].span.start {
                    groups[g].span = span;
                }
            }
            None => {
                index.insert((variant.clone(), term.clone()), groups.len());
                groups.push(TermSuggestion {
                    term_count: text.matches(term.as_str()).count(),
                    variant,
                    term,
                    count: 1,
                    distance,
                    source,
                    span,
                    before: String::new(),
                    after: String::new(),
                });
            }
        }
    }
    for g in &mut groups {
        g.before = chars[g.span.start.saturating_sub(CONTEXT)..g.span.start].iter().collect();
        g.after = chars[g.span.end..(g.span.end + CONTEXT).min(chars.len())].iter().collect();
    }
    groups.sort_by(|a, b| (a.source as u8).cmp(&(b.source as u8)).then(a.distance.total_cmp(&b.distance)).then(b.count.cmp(&a.count)).then(a.span.start.cmp(&b.span.start)));
    groups
}

/// Maximal runs of adjacent nouns with readings (「スケール」「則」 → 「スケール則」), with their sound keys.
fn noun_compounds(words: &[Morpheme], keys: &[Option<Vec<char>>]) -> Vec<(CharSpan, Vec<char>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if words[i].pos != Pos::Noun || keys[i].is_none() {
            i += 1;
            continue;
        }
        let mut j = i;
        let mut key = keys[i].clone().unwrap_or_default();
        while j + 1 < words.len() && words[j + 1].pos == Pos::Noun && words[j + 1].span.start == words[j].span.end {
            let Some(k) = &keys[j + 1] else { break };
            key.extend_from_slice(k);
            j += 1;
        }
        if key.len() >= MIN_PHONEMES {
            out.push((CharSpan::new(words[i].span.start, words[j].span.end), key));
        }
        i = j + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_technical_looking_words_get_homophone_proposals() {
        assert!(technical("計算量") && technical("スケール") && technical("o1"));
        assert!(!technical("検証") && !technical("話"));
    }

    #[test]
    fn spellings_that_share_two_characters_in_a_row_are_left_to_spelling_suggestions() {
        assert!(share_two("推論値", "推論時"));
        assert!(!share_two("線形", "線型"));
        assert!(!share_two("水温時", "推論時"));
    }
}
