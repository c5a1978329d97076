//! Japanese words and their readings: a morphological analyser (vibrato, a Viterbi tokenizer over a
//! MeCab-format dictionary) that cuts text into words with base form, part of speech and reading.
//!
//! The dictionary is IPADIC from Debian's `mecab-ipadic` package, compiled by [`build_dictionary`]
//! at set-up into the models folder (`ipadic/`, kind `analyzer`, with a manifest like every model).
//! Nothing is fetched at run time; without the dictionary, search falls back to character bigrams
//! and reading-based suggestions are unavailable (see `retrieval::words`).

use crate::inference::manifest::{Manifest, ModelDir, ModelKind};
use crate::text::CharSpan;
use crate::text::loanwords::{self, Loanwords};
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// The folder name of the default dictionary in the models folder.
pub const DEFAULT_DICTIONARY: &str = "ipadic";

/// One word of a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Morpheme {
    /// Where it is, in code points of the analysed text.
    pub span: CharSpan,
    pub surface: String,
    /// The dictionary form (「学習し」 → 「学習」, 「言っ」 → 「言う」); the surface when unknown.
    pub base: String,
    pub pos: Pos,
    /// The reading in katakana (「推論」 → 「スイロン」); `None` for words without one (Latin letters,
    /// digits, symbols the dictionary does not know).
    pub reading: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pos {
    Noun,
    Verb,
    Adjective,
    Adverb,
    Particle,
    Auxiliary,
    Symbol,
    Other,
}

impl Morpheme {
    /// A word that says what a passage is about: nouns (not pronouns, suffix-like or dependent
    /// ones), independent verbs and adjectives, and unknown runs of letters. 「則」 (a suffix noun in
    /// IPADIC) counts: it is a content word of its own in 「スケール則」.
    pub fn is_content(&self) -> bool {
        match self.pos {
            Pos::Noun | Pos::Verb | Pos::Adjective => !self.base.is_empty() && !STOP_BASES.contains(&self.base.as_str()),
            _ => false,
        }
    }
}

/// Dictionary forms too common in speech to say what a passage is about.
const STOP_BASES: &[&str] = &[
    "する", "いる", "ある", "なる", "れる", "られる", "せる", "させる", "こと", "もの", "よう", "の", "ん", "さん", "そう",
    "これ", "それ", "あれ", "ここ", "そこ", "ため", "とき", "時", "方", "感じ", "なん", "何", "いう", "言う", "思う", "みる",
    "くる", "いく", "おる", "ない", "いい", "よい",
];

pub struct Analyzer {
    tokenizer: vibrato::Tokenizer,
    /// Katakana ↔ English, when the dictionary folder has the table (see `text::loanwords`).
    loanwords: Loanwords,
    /// Names the dictionary and its build, so stored analyses can tell whether they are current.
    id: String,
}

impl Analyzer {
    /// The analyser of a dictionary folder (a manifest of kind `analyzer` naming its `dictionary`).
    pub fn open(dir: &Path) -> Result<Self> {
        let m = ModelDir::open(dir)?;
        if m.manifest.kind != ModelKind::Analyzer {
            return Err(Error::Model { model: m.manifest.name.clone(), message: "this folder is not a dictionary for Japanese words".into() });
        }
        let path = m.file("dictionary")?;
        let file = std::fs::File::open(&path).map_err(|e| Error::Io { path: path.clone(), message: e.to_string() })?;
        let dict = vibrato::Dictionary::read(std::io::BufReader::new(file)).map_err(|e| Error::Model {
            model: m.manifest.name.clone(),
            message: format!("{} cannot be read ({e}) — build it again with `scripts/setup.sh`", path.display()),
        })?;
        let tokenizer = vibrato::Tokenizer::new(dict)
            .ignore_space(true)
            .map_err(|e| Error::Model { model: m.manifest.name.clone(), message: e.to_string() })?;
        let loanwords = match m.manifest.files.get("loanwords") {
            Some(_) => Loanwords::read(&m.file("loanwords")?)?,
            None => Loanwords::default(),
        };
        // The dictionary's hash: the loanword table is used on questions only, so chunks analysed
        // before it came stay current.
        let sha = m.manifest.files.get("dictionary").and_then(|f| m.manifest.sha256.get(f)).map(|s| s[..s.len().min(12)].to_owned()).unwrap_or_default();
        Ok(Self { tokenizer, loanwords, id: format!("{}-{sha}", m.manifest.name) })
    }

    pub fn loanwords(&self) -> &Loanwords {
        &self.loanwords
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The words of `text`, in order. Spaces are skipped; offsets are code points of `text`.
    pub fn analyze(&self, text: &str) -> Vec<Morpheme> {
        let mut worker = self.tokenizer.new_worker();
        let mut out = Vec::new();
        // The Viterbi lattice grows with the input: analyse line by line.
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let n = line.chars().count();
            let body = line.trim_end_matches(['\n', '\r']);
            if !body.trim().is_empty() {
                worker.reset_sentence(body);
                worker.tokenize();
                for i in 0..worker.num_tokens() {
                    let t = worker.token(i);
                    let r = t.range_char();
                    out.push(morpheme(t.surface(), t.feature(), CharSpan::new(offset + r.start, offset + r.end)));
                }
            }
            offset += n;
        }
        out
    }

    /// The reading of `text` in katakana, word by word; words without a reading keep their surface.
    pub fn reading(&self, text: &str) -> String {
        self.analyze(text).into_iter().map(|m| m.reading.unwrap_or(m.surface)).collect()
    }
}

/// A word from vibrato's surface and IPADIC's feature string
/// (`品詞,細分類1,細分類2,細分類3,活用型,活用形,原形,読み,発音`; unknown words stop at 原形 `*`).
fn morpheme(surface: &str, feature: &str, span: CharSpan) -> Morpheme {
    let f: Vec<&str> = feature.split(',').collect();
    let field = |i: usize| f.get(i).copied().filter(|s| !s.is_empty() && *s != "*");
    let pos = match f.first().copied().unwrap_or("") {
        "名詞" => match (field(1), field(2)) {
            (Some("代名詞" | "非自立" | "数"), _) if !surface.chars().any(|c| c.is_ascii_alphanumeric()) => Pos::Other,
            (Some("接尾"), Some("助数詞" | "人名")) => Pos::Other,
            _ => Pos::Noun,
        },
        "動詞" if field(1) == Some("自立") => Pos::Verb,
        "形容詞" if field(1) == Some("自立") => Pos::Adjective,
        "副詞" => Pos::Adverb,
        "助詞" => Pos::Particle,
        "助動詞" => Pos::Auxiliary,
        "記号" => Pos::Symbol,
        _ => Pos::Other,
    };
    let base = field(6).unwrap_or(surface);
    // Latin words are matched case-blind and full-width folded (「ＧＰＴ」 is "gpt").
    let base: String = base.chars().map(fold_width).collect::<String>().to_lowercase();
    let reading = field(7).map(str::to_owned).or_else(|| {
        let k = to_katakana(surface);
        k.chars().all(is_kana).then_some(k).filter(|k| !k.is_empty())
    });
    Morpheme { span, surface: surface.to_owned(), base, pos, reading }
}

fn fold_width(c: char) -> char {
    match c {
        '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
        _ => c,
    }
}

/// A katakana letter or the long mark.
pub(crate) fn is_kana(c: char) -> bool {
    matches!(c, '\u{30a1}'..='\u{30fa}' | 'ー' | 'ヽ' | 'ヾ')
}

/// Hiragana turned into katakana; everything else as it is.
pub fn to_katakana(s: &str) -> String {
    s.chars().map(|c| if ('\u{3041}'..='\u{3096}').contains(&c) { char::from_u32(c as u32 + 0x60).unwrap_or(c) } else { c }).collect()
}

/// A reading as it sounds, for comparing readings: the long mark becomes the vowel it lengthens
/// (オー → オオ, so 「オーワン」 and 「オオワン」 are one key), ヲ → オ, ヂ → ジ, ヅ → ズ, ヴ → ブ.
pub fn sound_key(reading: &str) -> Vec<char> {
    let mut out: Vec<char> = Vec::with_capacity(reading.len() / 3);
    for c in to_katakana(reading).chars() {
        let c = match c {
            'ー' => match out.last().copied().and_then(vowel) {
                Some(v) => v,
                None => continue,
            },
            'ヲ' => 'オ',
            'ヂ' => 'ジ',
            'ヅ' => 'ズ',
            'ヴ' => 'ブ',
            c => c,
        };
        out.push(c);
    }
    out
}

/// A reading as Latin phonemes (「スイロンジ」 → "suironzi", 「キャ」 → "kya", 「ッ」 → "q"), so that
/// readings compare sound by sound: 「スイオンジ」 is one phoneme from it, 「カンケイ」 two from 「センケイ」.
pub fn phonemes(reading: &str) -> Vec<char> {
    let mut out: Vec<char> = Vec::with_capacity(reading.len());
    for c in sound_key(reading) {
        match c {
            'ャ' | 'ュ' | 'ョ' => {
                if out.last() == Some(&'i') {
                    out.pop();
                }
                out.push('y');
                out.push(match c { 'ャ' => 'a', 'ュ' => 'u', _ => 'o' });
            }
            'ァ' | 'ィ' | 'ゥ' | 'ェ' | 'ォ' => {
                if out.last().is_some_and(|v| "aiueo".contains(*v)) && out.len() > 1 {
                    out.pop();
                }
                out.push(match c { 'ァ' => 'a', 'ィ' => 'i', 'ゥ' => 'u', 'ェ' => 'e', _ => 'o' });
            }
            'ッ' => out.push('q'),
            'ン' => out.push('n'),
            c => match romaji(c) {
                Some(r) => out.extend(r.chars()),
                None => out.push(c),
            },
        }
    }
    out
}

/// The syllable of a plain katakana (ヂ and ヅ are folded by [`sound_key`] already).
fn romaji(c: char) -> Option<String> {
    const ROWS: &[(&str, &str)] = &[
        ("アイウエオ", ""),
        ("カキクケコ", "k"),
        ("ガギグゲゴ", "g"),
        ("サシスセソ", "s"),
        ("ザジズゼゾ", "z"),
        ("タチツテト", "t"),
        ("ダヂヅデド", "d"),
        ("ナニヌネノ", "n"),
        ("ハヒフヘホ", "h"),
        ("バビブベボ", "b"),
        ("パピプペポ", "p"),
        ("マミムメモ", "m"),
        ("ヤ\u{0}ユ\u{0}ヨ", "y"),
        ("ラリルレロ", "r"),
        ("ワヰ\u{0}ヱヲ", "w"),
    ];
    const VOWELS: [char; 5] = ['a', 'i', 'u', 'e', 'o'];
    ROWS.iter().find_map(|(row, consonant)| {
        row.chars().position(|k| k == c && k != '\u{0}').map(|i| format!("{consonant}{}", VOWELS[i]))
    })
}

/// The vowel a katakana ends in.
fn vowel(c: char) -> Option<char> {
    const ROWS: [(&str, char); 5] = [
        ("アカガサザタダナハバパマヤャラワァ", 'ア'),
        ("イキギシジチヂニヒビピミリィ", 'イ'),
        ("ウクグスズツヅヌフブプムユュルゥヴ", 'ウ'),
        ("エケゲセゼテデネヘベペメレェ", 'エ'),
        ("オコゴソゾトドノホボポモヨョロヲォ", 'オ'),
    ];
    ROWS.iter().find(|(row, _)| row.contains(c)).map(|(_, v)| *v)
}

// ---------------------------------------------------------------------------------------------
// Building the dictionary

/// What a MeCab dictionary source folder must hold besides its `*.csv` lexicon files.
const SOURCE_FILES: [&str; 3] = ["matrix.def", "char.def", "unk.def"];

/// Whether `dir` looks like a MeCab-format dictionary source (IPADIC, UniDic).
pub fn is_dictionary_source(dir: &Path) -> bool {
    SOURCE_FILES.iter().all(|f| dir.join(f).is_file())
        && std::fs::read_dir(dir).is_ok_and(|rd| rd.flatten().any(|e| e.path().extension().is_some_and(|x| x == "csv")))
}

/// Compile the MeCab-format dictionary source in `source` (EUC-JP as IPADIC ships it, or UTF-8)
/// into an analyser folder at `out` (written beside, then renamed: never half there), with the
/// loanword table of a compiled UniDic when `unidic` is given.
pub fn build_dictionary(source: &Path, unidic: Option<&Path>, out: &Path, name: &str, licence: &str) -> Result<Manifest> {
    if !is_dictionary_source(source) {
        return Err(Error::Invalid(format!(
            "{} is not a MeCab dictionary source (it needs *.csv, matrix.def, char.def and unk.def) — on Debian, `apt-get install mecab-ipadic` puts one in /usr/share/mecab/dic/ipadic",
            source.display()
        )));
    }
    let read = |p: &Path| -> Result<String> {
        let bytes = std::fs::read(p).map_err(|e| Error::Io { path: p.to_owned(), message: e.to_string() })?;
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => encoding_rs::EUC_JP.decode(e.as_bytes()).0.into_owned(),
        })
    };
    let mut csvs: Vec<_> = std::fs::read_dir(source)
        .map_err(|e| Error::Io { path: source.to_owned(), message: e.to_string() })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    csvs.sort();
    let mut lexicon = String::new();
    for p in &csvs {
        let text = read(p)?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            lexicon.push_str(line);
            lexicon.push('\n');
        }
    }
    let [matrix, chars, unk] = SOURCE_FILES.map(|f| read(&source.join(f)));
    let dict = vibrato::SystemDictionaryBuilder::from_readers(lexicon.as_bytes(), matrix?.as_bytes(), chars?.as_bytes(), unk?.as_bytes())
        .map_err(|e| Error::Invalid(format!("the dictionary in {} cannot be compiled: {e}", source.display())))?;
    let part = out.with_extension("part");
    let _ = std::fs::remove_dir_all(&part);
    std::fs::create_dir_all(&part).map_err(|e| Error::Io { path: part.clone(), message: e.to_string() })?;
    let file = "system.dic";
    let path = part.join(file);
    let mut bytes = Vec::new();
    dict.write(&mut bytes).map_err(|e| Error::Invalid(format!("cannot write the dictionary: {e}")))?;
    std::fs::write(&path, &bytes).map_err(|e| Error::Io { path: path.clone(), message: e.to_string() })?;
    let mut extra = BTreeMap::new();
    extra.insert("source".into(), serde_json::json!(source.display().to_string()));
    extra.insert("licence".into(), serde_json::json!(licence));
    extra.insert("entries".into(), serde_json::json!(lexicon.lines().count()));
    let mut files = BTreeMap::from([("dictionary".to_owned(), file.to_owned())]);
    let mut sha256 = BTreeMap::from([(file.to_owned(), crate::store::sha256_hex(&bytes))]);
    if let Some(unidic) = unidic {
        let table = loanwords::extract_from_unidic(unidic)?;
        let path = part.join(loanwords::FILE);
        std::fs::write(&path, &table).map_err(|e| Error::Io { path: path.clone(), message: e.to_string() })?;
        files.insert("loanwords".into(), loanwords::FILE.into());
        sha256.insert(loanwords::FILE.into(), crate::store::sha256_hex(table.as_bytes()));
        extra.insert("loanwords".into(), serde_json::json!(Loanwords::parse(&table).len()));
        extra.insert("loanwords_source".into(), serde_json::json!(format!("{} (UniDic, BSD licence)", unidic.display())));
    }
    let manifest = Manifest {
        name: name.to_owned(),
        kind: ModelKind::Analyzer,
        files,
        sha256,
        max_length: 0,
        dimensions: None,
        query_prefix: None,
        passage_prefix: None,
        chat_template: None,
        bos_token_id: None,
        eos_token_ids: Vec::new(),
        end_of_turn: None,
        languages: vec!["ja".into()],
        extra,
    };
    let json = serde_json::to_string_pretty(&manifest).expect("a manifest serialises");
    std::fs::write(part.join("manifest.json"), json).map_err(|e| Error::Io { path: part.clone(), message: e.to_string() })?;
    let _ = std::fs::remove_dir_all(out);
    std::fs::rename(&part, out).map_err(|e| Error::Io { path: out.to_owned(), message: e.to_string() })?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_become_phonemes() {
        let p = |s: &str| phonemes(s).into_iter().collect::<String>();
        assert_eq!(p("スイロンジ"), "suironzi");
        assert_eq!(p("キャッシュ"), "kyaqsyu");
        assert_eq!(p("オーワン"), "oowan");
        assert_eq!(p("ファイル"), "fairu".replace('f', "h"));
        assert_eq!(p("ヴァ"), "ba");
    }

    #[test]
    fn readings_compare_by_sound() {
        assert_eq!(sound_key("オーワン"), sound_key("オオワン"));
        assert_eq!(sound_key("すいろん"), sound_key("スイロン"));
        assert_ne!(sound_key("スイロンジ"), sound_key("スイオンジ"));
        assert_eq!(sound_key("ーア"), vec!['ア']);
    }

    #[test]
    fn ipadic_features_give_base_form_reading_and_part_of_speech() {
        let m = morpheme("学習", "名詞,サ変接続,*,*,*,*,学習,ガクシュウ,ガクシュー", CharSpan::new(0, 2));
        assert_eq!((m.pos, m.base.as_str(), m.reading.as_deref()), (Pos::Noun, "学習", Some("ガクシュウ")));
        assert!(m.is_content());
        let m = morpheme("言っ", "動詞,自立,*,*,五段・ワ行促音便,連用タ接続,言う,イッ,イッ", CharSpan::new(0, 2));
        assert_eq!((m.pos, m.base.as_str()), (Pos::Verb, "言う"));
        assert!(!m.is_content(), "言う is too common in speech to say what a passage is about");
        let m = morpheme("Chinchilla", "名詞,一般,*,*,*,*,*", CharSpan::new(0, 10));
        assert_eq!((m.base.as_str(), m.reading), ("chinchilla", None));
        let m = morpheme("の", "助詞,連体化,*,*,*,*,の,ノ,ノ", CharSpan::new(0, 1));
        assert!(!m.is_content());
        let m = morpheme("スケーリング", "名詞,一般,*,*,*,*,*", CharSpan::new(0, 6));
        assert_eq!(m.reading.as_deref(), Some("スケーリング"));
    }
}
