//! Japanese words and readings: the IPADIC dictionary that set-up builds (`kogi models dictionary`),
//! keyword search by words and readings, and suggestions by sound — on small texts and on the real
//! lecture pair when `../shared/data` is present.

mod support;

use kogi_core::correction::glossary::{Term, TermSource};
use kogi_core::correction::readings::suggest_by_reading;
use kogi_core::inference::{Embed, Role, TextEmbedder, TokenSpans};
use kogi_core::retrieval::{Mode, SearchParams, Words};
use kogi_core::service::{CorrectionEvalRequest, IndexWhen, Job, Kogi};
use kogi_core::settings::Settings;
use kogi_core::text::CharSpan;
use kogi_core::text::japanese::{Analyzer, Pos};
use kogi_core::transcript::import::ImportOptions;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

fn analyzer() -> Analyzer {
    let dir = support::models_dir().join("ipadic");
    Analyzer::open(&dir).unwrap_or_else(|e| panic!("the Japanese dictionary is built by scripts/setup.sh: {e}"))
}

/// Texts that share characters get close vectors; enough to index, and dense search stays out of
/// the keyword tests (they search with `Mode::Bm25`).
struct CharBag;

impl Embed for CharBag {
    fn model_id(&self) -> &str {
        "char-bag@test"
    }
    fn dimensions(&self) -> usize {
        16
    }
    fn embed(&self, texts: &[&str], _role: Role) -> kogi_core::Result<Vec<Vec<f32>>> {
        Ok(texts.iter().map(|t| (0..16).map(|i| t.chars().filter(|c| *c as usize % 16 == i).count() as f32 + 0.1).collect()).collect())
    }
}

impl TokenSpans for CharBag {
    fn token_spans(&self, text: &str) -> kogi_core::Result<Vec<CharSpan>> {
        Ok((0..text.chars().count()).map(|i| CharSpan::new(i, i + 1)).collect())
    }
}

impl TextEmbedder for CharBag {}

/// A lecture of separate paragraphs, indexed, in a private kogi over the real models folder.
fn lecture(text: &str) -> (Kogi, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings { models_dir: Some(support::models_dir()), ..Default::default() };
    let k = Kogi::in_memory(settings).unwrap().with_models(Some(Arc::new(CharBag)), None);
    let f = dir.path().join("lecture.txt");
    std::fs::write(&f, text).unwrap();
    let cancel = AtomicBool::new(false);
    k.import_file(&f, &ImportOptions::default(), IndexWhen::Always, &mut Job::silent(&cancel)).unwrap();
    (k, dir)
}

fn keyword_search(k: &Kogi, q: &str) -> Vec<String> {
    let cancel = AtomicBool::new(false);
    let p = SearchParams { mode: Mode::Bm25, k: 3, ..Default::default() };
    k.search(q, &p, &mut Job::silent(&cancel)).unwrap().into_iter().map(|p| p.text).collect()
}

const PARAGRAPHS: &str = "今日の講義ではスケール則について話します。\n\n\
モデルを大きくすると性能が上がるという経験則です。\n\n\
次に推論の話をします。\n\n\
データを集めて学習を進めます。\n\n\
最後にまとめをします。\n";

#[test]
fn the_analyser_gives_words_base_forms_and_readings() {
    let a = analyzer();
    let words = a.analyze("推論時に計算を増やした");
    let forms: Vec<(&str, &str, Option<&str>)> = words.iter().map(|m| (m.surface.as_str(), m.base.as_str(), m.reading.as_deref())).collect();
    assert!(forms.contains(&("推論", "推論", Some("スイロン"))), "{forms:?}");
    assert!(forms.contains(&("増やし", "増やす", Some("フヤシ"))), "{forms:?}");
    assert!(words.iter().any(|m| m.surface == "に" && m.pos == Pos::Particle), "{forms:?}");
    // Offsets are code points of the text, across lines.
    let w = a.analyze("一行目\nGPTのモデル");
    let m = w.iter().find(|m| m.surface == "モデル").expect("モデル");
    assert_eq!(m.span.start, 8, "{w:?}");
    assert!(w.iter().any(|m| m.base == "gpt"), "Latin words are kept, lower-cased: {w:?}");
    assert_eq!(a.reading("すいろん"), "スイロン");
}

#[test]
fn one_and_two_character_words_are_found_by_keyword_search() {
    let (k, _dir) = lecture(PARAGRAPHS);
    let found = keyword_search(&k, "推論");
    assert!(found.first().is_some_and(|t| t.contains("推論")), "推論: {found:?}");
    let found = keyword_search(&k, "則");
    assert!(!found.is_empty() && found.iter().all(|t| t.contains('則')), "則: {found:?}");
    let found = keyword_search(&k, "学習とは何ですか");
    assert!(found.first().is_some_and(|t| t.contains("学習")), "学習: {found:?}");
}

#[test]
fn a_question_asking_what_a_term_is_prefers_the_passage_where_the_lecturer_says_to_wa() {
    // The first paragraph repeats the question's words; the second is where the term is introduced.
    let text = "スケール則の図、スケール則の表、スケール則は何ですか。何ですかと何度も聞かれます。\n\n\
スケール則とはべき乗で書ける経験則です。\n\n\
データを集めて学習を進めます。\n\n\
最後にまとめをします。\n";
    let (k, _dir) = lecture(text);
    let cancel = AtomicBool::new(false);
    let first = |definition_weight: f64| {
        let p = SearchParams { mode: Mode::Hybrid, k: 3, definition_weight, ..Default::default() };
        k.search("スケール則とは何ですか？", &p, &mut Job::silent(&cancel)).unwrap().remove(0).text
    };
    assert!(first(0.0).contains("何度も"), "without the phrase, the repeated words win: {}", first(0.0));
    assert!(first(SearchParams::default().definition_weight).contains("とはべき乗"), "{}", first(0.5));
}

#[test]
fn a_raw_passage_heard_as_suion_is_found_for_a_question_about_suiron_through_its_reading() {
    // The recogniser wrote 「水温時」 (スイオンジ) where the speaker said 「推論時」 (スイロンジ).
    let raw = "今日の講義ではスケール則について話します。\n\n\
水温時にたくさん計算すると答えが良くなります。\n\n\
データを集めて学習を進めます。\n\n\
最後にまとめをします。\n";
    let (k, _dir) = lecture(raw);
    let found = keyword_search(&k, "推論時の計算について教えて");
    assert!(found.first().is_some_and(|t| t.contains("水温時")), "{found:?}");
}

#[test]
fn a_question_in_katakana_finds_the_passage_that_writes_the_word_in_english() {
    // Lectures write technical words in Latin letters; a student asks in katakana.
    let text = "今日の講義ではスケール則について話します。\n\n\
最適なtoken数はパラメータ数の二十倍です。\n\n\
データを集めて学習を進めます。\n\n\
最後にまとめをします。\n";
    let (k, _dir) = lecture(text);
    let found = keyword_search(&k, "トークンについて教えて");
    assert!(found.first().is_some_and(|t| t.contains("token数")), "{found:?}");
    assert_eq!(analyzer().loanwords().english("トークン"), ["token"], "set-up reads the loanword table from UniDic");
}

#[test]
fn a_latin_glossary_term_is_suggested_where_something_sounds_like_it_and_its_katakana_is_only_offered() {
    let a = analyzer();
    let text = "候補を広げるビルサーチという方法です。コサインで減衰させます。";
    let terms = [Term::new("Beam Search", &[]), Term::new("Cosine", &[])];
    let s = suggest_by_reading(text, &terms, &a);
    let pairs: Vec<(&str, &str, TermSource)> = s.iter().map(|s| (s.variant.as_str(), s.term.as_str(), s.source)).collect();
    assert!(pairs.contains(&("ビルサーチ", "Beam Search", TermSource::Reading)), "{pairs:?}");
    // 「コサイン」 is "Cosine" spelled in katakana: a choice of style, never accepted without a person.
    let cosine = s.iter().find(|s| s.variant == "コサイン").expect("コサイン is offered");
    assert_eq!((cosine.term.as_str(), cosine.source), ("Cosine", TermSource::Loanword));
    assert!(!kogi_core::correction::readings::confident(cosine));
}

#[test]
fn without_the_dictionary_two_character_words_are_still_found() {
    let dir = tempfile::tempdir().unwrap();
    // An empty models folder: no dictionary, so words are character pairs.
    let settings = Settings { models_dir: Some(dir.path().to_owned()), ..Default::default() };
    let k = Kogi::in_memory(settings).unwrap().with_models(Some(Arc::new(CharBag)), None);
    assert!(matches!(k.words(), Words::Bigrams));
    let f = dir.path().join("l.txt");
    std::fs::write(&f, PARAGRAPHS).unwrap();
    let cancel = AtomicBool::new(false);
    k.import_file(&f, &ImportOptions::default(), IndexWhen::Always, &mut Job::silent(&cancel)).unwrap();
    let found = keyword_search(&k, "推論");
    assert!(found.first().is_some_and(|t| t.contains("推論")), "{found:?}");
}

#[test]
fn a_glossary_term_is_suggested_where_something_sounds_like_it() {
    let a = analyzer();
    let text = "水温時の計算を増やします。大湾というモデルがあります。推論時スケーリングです。水泳の話ではありません。";
    let terms = [Term::new("推論時", &[]), Term::new("o1", &["オーワン"])];
    let s = suggest_by_reading(text, &terms, &a);
    let pairs: Vec<(&str, &str, TermSource)> = s.iter().map(|s| (s.variant.as_str(), s.term.as_str(), s.source)).collect();
    assert!(pairs.contains(&("水温時", "推論時", TermSource::Reading)), "{pairs:?}");
    assert!(pairs.contains(&("大湾", "o1", TermSource::Reading)), "{pairs:?}");
    assert!(!pairs.iter().any(|(v, ..)| v.contains("推論") || v.contains("水泳")), "{pairs:?}");
}

/// The correction evaluation with a glossary file, on the real pair.
fn correction_report(data: &std::path::Path, glossary: &std::path::Path) -> serde_json::Value {
    let settings = Settings { models_dir: Some(support::models_dir()), ..Default::default() };
    let k = Kogi::in_memory(settings).unwrap();
    let req = CorrectionEvalRequest {
        raw: data.join("LLM2024_day4_raw.txt"),
        reference: data.join("LLM2024_day4.txt"),
        glossary: Some(glossary.to_owned()),
        top: 0,
    };
    let cancel = AtomicBool::new(false);
    k.evaluate_correction(&req, &mut Job::silent(&cancel)).unwrap()
}

fn print_report(name: &str, r: &serde_json::Value) {
    let (g, s) = (&r["glossary"], &r["reading_suggestions"]);
    for x in s["suggestions"].as_array().unwrap() {
        eprintln!("  {x}");
    }
    for w in s["not_matching"].as_array().unwrap() {
        eprintln!("  not matching: {} → {} ({})", w["occurrence"]["found"], w["occurrence"]["replacement"], w["reference_there"]);
    }
    eprintln!(
        "{name}: CER raw {:.4} → glossary {:.4} → glossary + confident reading suggestions {:.4}; {} proposed ({} confident) in {:.2} s; \
         {} replacements added, {} not matching the reference, {} where there was no error",
        r["cer_raw"]["cer"].as_f64().unwrap(),
        g["cer_after"]["cer"].as_f64().unwrap(),
        s["cer_after"]["cer"].as_f64().unwrap(),
        s["proposed"],
        s["accepted"],
        s["seconds"].as_f64().unwrap(),
        s["scored"],
        s["not_matching_reference"],
        s["wrong_replacements"],
    );
}

#[test]
fn reading_suggestions_on_the_real_pair_are_measured_with_and_without_the_glossarys_variants() {
    let Some(data) = support::shared_data() else {
        eprintln!("shared/data not present: skipped");
        return;
    };
    let full = support::repo().join("examples/glossary-llm2024.txt");
    let r = correction_report(&data, &full);
    print_report("the course glossary (terms and the variants found by hand)", &r);
    // The terms alone, as a student would start: every variant left for kogi to find.
    let dir = tempfile::tempdir().unwrap();
    let terms_only = dir.path().join("terms.txt");
    let text: String = std::fs::read_to_string(&full).unwrap().lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).map(|l| format!("{}\n", l.split('=').next().unwrap().trim())).collect();
    std::fs::write(&terms_only, text).unwrap();
    let t = correction_report(&data, &terms_only);
    print_report("the glossary's terms alone", &t);
    let s = &t["reading_suggestions"];
    assert!(
        s["suggestions"].as_array().unwrap().iter().any(|x| x["term"] == "推論時" && x["variant"] == "水温時" && x["source"] == "reading"),
        "「水温時」 is found as 「推論時」 by sound"
    );
    assert!(s["cer_after"]["cer"].as_f64().unwrap() < t["glossary"]["cer_after"]["cer"].as_f64().unwrap(), "accepting the confident ones lowers the CER");
}
