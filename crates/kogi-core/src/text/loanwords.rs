//! Loanwords: katakana words and the English they come from (トークン ↔ token). Lectures and their
//! ASR write the same term either way (the corrected lecture has 「token数」 where a question asks
//! 「トークン数」, the raw one 「リワード」 where the slide says "Reward"), so a question's katakana
//! words also search their English, and a Latin glossary term gets a reading to be found by.
//!
//! The table comes from UniDic, whose lemmas carry a loanword's source spelling (「トークン-token」):
//! set-up reads it from the compiled MeCab dictionary of PyPI's `unidic-lite` (BSD licence) and stores
//! it as `loanwords.tsv` beside the analyser's dictionary. Nothing is fetched at run time.

use crate::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

/// The file name in the analyser folder.
pub const FILE: &str = "loanwords.tsv";

#[derive(Debug, Default, Clone)]
pub struct Loanwords {
    /// Katakana spelling (every spelling UniDic lists) → lower-case English words it may be
    /// (「ベスト」 is best or vest: a question searches both, a rare false match costs little).
    english: HashMap<String, Vec<String>>,
    /// Lower-case English → the lemma's katakana.
    katakana: HashMap<String, String>,
}

impl Loanwords {
    /// From `katakana\tenglish\tlemma` lines (`lemma` is 1 for the lemma's own spelling).
    pub fn parse(tsv: &str) -> Self {
        let mut me = Self::default();
        for line in tsv.lines() {
            let mut f = line.split('\t');
            let (Some(k), Some(e)) = (f.next(), f.next()) else { continue };
            let all = me.english.entry(k.to_owned()).or_default();
            if !all.iter().any(|x| x == e) {
                all.push(e.to_owned());
            }
            if f.next() == Some("1") {
                me.katakana.entry(e.to_owned()).or_insert_with(|| k.to_owned());
            }
        }
        me
    }

    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io { path: path.to_owned(), message: e.to_string() })?;
        Ok(Self::parse(&text))
    }

    pub fn len(&self) -> usize {
        self.english.len()
    }

    pub fn is_empty(&self) -> bool {
        self.english.is_empty()
    }

    /// The English words a katakana word may come from (「パラメータ」 → ["parameter"]).
    pub fn english(&self, katakana: &str) -> &[String] {
        self.english.get(katakana).map(Vec::as_slice).unwrap_or(&[])
    }

    /// How an English word is written in katakana ("reward" → 「リワード」), any case.
    pub fn katakana(&self, english: &str) -> Option<&str> {
        self.katakana.get(&english.to_lowercase()).map(String::as_str)
    }
}

/// Whether a word is written in katakana only (the long mark included).
pub fn is_katakana_word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(crate::text::japanese::is_kana)
}

/// The loanword table of a compiled MeCab dictionary with UniDic's features (`sys.dic`, or the
/// folder holding it), as `katakana\tenglish\tlemma` lines, sorted.
pub fn extract_from_unidic(source: &Path) -> Result<String> {
    let path = if source.is_dir() { source.join("sys.dic") } else { source.to_owned() };
    let bytes = std::fs::read(&path).map_err(|e| Error::Io { path: path.clone(), message: e.to_string() })?;
    let bad = |why: &str| Error::Invalid(format!("{} is not a compiled UniDic (MeCab sys.dic): {why} — unidic-lite's unidic_lite/dicdir/sys.dic is one", path.display()));
    // MeCab's header: ten u32 (magic, version, type, lexsize, lsize, rsize, dsize, tsize, fsize,
    // dummy), a 32-byte charset, then the double array, the token array and the feature strings.
    if bytes.len() < 72 {
        return Err(bad("too short"));
    }
    let word = |i: usize| u32::from_le_bytes(bytes[i * 4..i * 4 + 4].try_into().expect("4 bytes")) as usize;
    if word(0) ^ 0xef71_8f77 != bytes.len() {
        return Err(bad("its header does not match its size"));
    }
    let charset = String::from_utf8_lossy(&bytes[40..72]).trim_end_matches('\0').to_lowercase();
    let start = 72 + word(6) + word(7);
    let end = start + word(8);
    let features = bytes.get(start..end).ok_or_else(|| bad("its feature block is cut short"))?;
    let mut rows: Vec<(String, String, bool)> = Vec::new();
    for raw in features.split(|&b| b == 0) {
        let text = if charset.replace('-', "") == "utf8" {
            std::borrow::Cow::Borrowed(std::str::from_utf8(raw).unwrap_or(""))
        } else {
            encoding_rs::EUC_JP.decode(raw).0
        };
        // UniDic: pos1-4, cType, cForm, lForm, lemma, orth, pron, orthBase, …
        let f: Vec<&str> = text.split(',').collect();
        let (Some(lemma), Some(orth)) = (f.get(7), f.get(8)) else { continue };
        let Some((kana, english)) = lemma.split_once('-') else { continue };
        let english = english.trim().to_lowercase();
        let plain = english.chars().all(|c| c.is_ascii_lowercase() || c == '-' || c == ' ');
        if !is_katakana_word(kana) || english.len() < 2 || !plain || !english.starts_with(|c: char| c.is_ascii_lowercase()) {
            continue;
        }
        rows.push((kana.to_owned(), english.clone(), true));
        if *orth != kana && is_katakana_word(orth) {
            rows.push(((*orth).to_owned(), english, false));
        }
    }
    rows.sort();
    rows.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    if rows.is_empty() {
        return Err(bad("no lemma in it names a source word (is it UniDic?)"));
    }
    Ok(rows.into_iter().map(|(k, e, lemma)| format!("{k}\t{e}\t{}\n", u8::from(lemma))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_katakana_spelling_gives_its_english_and_english_its_lemmas_katakana() {
        let l = Loanwords::parse("トークン\ttoken\t1\nパラメータ\tparameter\t0\nパラメーター\tparameter\t1\nベスト\tbest\t1\nベスト\tvest\t1\n");
        assert_eq!(l.english("トークン"), ["token"]);
        assert_eq!(l.english("パラメータ"), ["parameter"]);
        assert_eq!(l.english("ベスト"), ["best", "vest"]);
        assert!(l.english("スケール則").is_empty());
        assert_eq!(l.katakana("Parameter"), Some("パラメーター"));
        assert_eq!(l.katakana("scale"), None);
        assert!(is_katakana_word("スケーリング") && !is_katakana_word("token数"));
    }

    #[test]
    fn a_file_that_is_not_a_mecab_dictionary_is_refused_with_what_to_use() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sys.dic"), vec![0u8; 100]).unwrap();
        let e = extract_from_unidic(dir.path()).unwrap_err().to_string();
        assert!(e.contains("not a compiled UniDic") && e.contains("unidic-lite"), "{e}");
    }
}
