//! The service's workflows with a scripted generator and a bag-of-characters embedder: no model
//! file, real SQLite, the real answer pipeline, reranker and scan above them.

use super::*;
use crate::answer::Rung;
use crate::retrieval::SearchParams;
use crate::correction::suspicious::ScanParams;
use crate::generate::scripted::Scripted;
use crate::inference::{Embed, Role, TokenSpans};
use crate::text::CharSpan;
use crate::transcript::import::ImportOptions;
use std::sync::atomic::AtomicBool;

/// Similar texts get similar vectors: counts of characters hashed into 64 buckets.
struct CharBag;

impl Embed for CharBag {
    fn model_id(&self) -> &str {
        "char-bag@test"
    }
    fn dimensions(&self) -> usize {
        64
    }
    fn embed(&self, texts: &[&str], _role: Role) -> Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0f32; 64];
                for c in t.chars().filter(|c| !c.is_whitespace()) {
                    v[c as usize % 64] += 1.0;
                }
                let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
                v.iter().map(|x| x / n).collect()
            })
            .collect())
    }
}

impl TokenSpans for CharBag {
    fn token_spans(&self, text: &str) -> Result<Vec<CharSpan>> {
        Ok((0..text.chars().count()).map(|i| CharSpan::new(i, i + 1)).collect())
    }
}

impl crate::inference::TextEmbedder for CharBag {}

const LECTURE: &str = "1\n00:00:01,000 --> 00:00:06,000\n今日はスケール則について話します。\n\n\
2\n00:00:06,000 --> 00:00:12,000\n推論時に計算資源を増やすことを推論時スケーリングと呼びます。\n\n\
3\n00:00:12,000 --> 00:00:18,000\n推論時スケーリングでは多くの答えを生成して選びます。\n\n\
4\n00:00:18,000 --> 00:00:24,000\n答えを選ぶには報酬モデルを使います。\n\n\
5\n00:00:24,000 --> 00:00:30,000\n報酬モデルは人の好みを学習したものです。\n\n\
6\n00:00:30,000 --> 00:00:36,000\nここで話は学習の方に戻ります。\n\n\
7\n00:00:36,000 --> 00:00:42,000\n学習では計算量の配分が大切です。\n\n\
8\n00:00:42,000 --> 00:00:48,000\n配分の目安として有名な結果があります。\n\n\
9\n00:00:48,000 --> 00:00:54,000\nChinchillaでは最適なトークン数はパラメータ数の約20倍です。\n";

fn kogi(generator: Scripted) -> Kogi {
    let settings = Settings { min_similarity: -1.0, ..Default::default() };
    let kogi = Kogi::in_memory(settings).unwrap().with_models(Some(Arc::new(CharBag)), Some(Box::new(generator)));
    let cancel = AtomicBool::new(false);
    kogi.import_bytes("lecture.srt", LECTURE.as_bytes(), &ImportOptions::default(), IndexWhen::Always, &mut Job::silent(&cancel))
        .unwrap();
    kogi
}

fn request(question: &str, rung: Rung) -> AskRequest {
    AskRequest { question: question.into(), modes: vec![rung], ..Default::default() }
}

#[test]
fn ask_streams_an_answer_whose_citation_resolves_to_the_passage_it_names() {
    let kogi = kogi(Scripted::new(&["1] 推論時に計算資源を増やすことです。"]));
    let cancel = AtomicBool::new(false);
    let mut streamed = String::new();
    let asked = {
        let mut job = Job::new(&cancel, |e| {
            if let Event::Text { text, .. } = e {
                streamed.push_str(text)
            }
        });
        kogi.ask(&request("推論時スケーリングとは？", Rung::Corrected), &mut job).unwrap()
    };
    let a = &asked.answers[0];
    // Settings prime the answer with "[": the model wrote the rest.
    assert_eq!(a.text, "[1] 推論時に計算資源を増やすことです。");
    assert_eq!(streamed.trim(), a.text);
    assert_eq!(a.citations.len(), 1);
    let c = &a.citations[0];
    let rev = kogi.revision(c.revision).unwrap();
    let cited: String = rev.text.chars().skip(c.span.start).take(c.span.len()).collect();
    assert_eq!(cited, a.passages[0].text);
    assert!(cited.contains("推論時"), "the best passage for the question is cited: {cited}");
    assert_eq!(c.start_ms, Some(6000));
}

#[test]
fn the_yes_no_reranker_puts_the_passage_the_model_calls_relevant_first() {
    let mut g = Scripted::new(&["1] Chinchillaの結果です。"]);
    // The model says yes only to the Chinchilla passage.
    g.yes = Box::new(|prompt| if prompt.contains("Chinchilla") { 0.95 } else { 0.05 });
    let kogi = kogi(g);
    let asked = kogi.ask(&request("推論時スケーリングとは？", Rung::Reranked), &mut Job::silent(&AtomicBool::new(false))).unwrap();
    let a = &asked.answers[0];
    let texts: Vec<&str> = a.passages.iter().map(|p| p.text.as_str()).collect();
    assert!(texts.len() > 1 && texts[1..].iter().any(|t| !t.contains("Chinchilla")), "the reranker had a choice: {texts:?}");
    assert!(texts[0].contains("Chinchilla"), "{texts:?}");
    assert_eq!(a.citations[0].n, 1);
}

#[test]
fn a_scan_ranks_first_the_span_the_model_finds_surprising_and_caches_it() {
    let mut g = Scripted::new(&[]);
    // Characters of 「足」 (the ASR's 「スケール足」) are improbable; everything else is ordinary.
    g.char_logprob = Box::new(|chars, i| if chars[i] == '足' { -9.0 } else { -1.0 - (i % 3) as f32 * 0.1 });
    let kogi = kogi(g);
    let lecture = kogi.lectures(None).unwrap()[0].id;
    let head = kogi.open_lecture(lecture).unwrap().head;
    let saved = kogi.save_edit(lecture, head.id, &head.text.replace("スケール則", "スケール足"), None).unwrap();
    let params = ScanParams { window_tokens: 16, stride_tokens: 12, ..Default::default() };
    let cancel = AtomicBool::new(false);
    let scan = kogi.scan(saved.revision.id, &params, &mut Job::silent(&cancel)).unwrap();
    assert!(scan.spans[0].text.contains('足'), "{:?}", scan.spans);
    assert_eq!(scan.model, "scripted");
    // A second scan of the revision is read back, unchanged, without running the model.
    let mut phases = Vec::new();
    let again = kogi
        .scan(saved.revision.id, &params, &mut Job::new(&cancel, |e| {
            if let Event::Progress { phase, .. } = e {
                phases.push(phase.clone())
            }
        }))
        .unwrap();
    assert_eq!(again, scan);
    assert!(!phases.contains(&Phase::Scanning) || phases.len() <= 1, "{phases:?}");
}

#[test]
fn an_edit_whose_indexing_was_interrupted_is_indexed_by_the_next_search_not_silently_missing() {
    let kogi = kogi(Scripted::new(&[]));
    let lecture = kogi.lectures(None).unwrap()[0].id;
    let cancel = AtomicBool::new(false);
    kogi.index(&[], &mut Job::silent(&cancel)).unwrap();
    let head = kogi.open_lecture(lecture).unwrap().head;
    // Saved, then the process dies before reindex_after_edit.
    let saved = kogi.save_edit(lecture, head.id, &head.text.replace("約20倍", "およそ20倍"), None).unwrap();
    let hits = kogi.search("およそ20倍", &SearchParams::default(), &mut Job::silent(&cancel)).unwrap();
    assert!(!hits.is_empty() && hits.iter().all(|h| h.revision == saved.revision.id), "{hits:?}");
}

#[test]
fn an_edit_is_saved_as_a_new_revision_and_needs_reindexing() {
    let kogi = kogi(Scripted::new(&[]));
    let lecture = kogi.lectures(None).unwrap()[0].id;
    let head = kogi.open_lecture(lecture).unwrap().head;
    let saved = kogi.save_edit(lecture, head.id, &head.text.replace("約20倍", "およそ20倍"), Some("fix")).unwrap();
    assert!(saved.reindex);
    let r = kogi.reindex_after_edit(lecture, &mut Job::silent(&AtomicBool::new(false))).unwrap().unwrap();
    assert_eq!(r.revision, saved.revision.id);
    assert!(r.reused > 0, "unchanged chunks are not embedded again: {r:?}");
    assert_eq!(kogi.revisions(lecture).unwrap().len(), 2);
}

#[test]
fn a_quoted_answer_is_the_lectures_own_sentences_each_cited_with_its_time_and_no_model_is_asked() {
    // The script is empty: asking the model anything would fail the test.
    let kogi = kogi(Scripted::new(&[]));
    let mut r = request("Chinchillaでは最適なトークン数はパラメータ数の何倍ですか？", Rung::Windows);
    r.answer_with = Some(crate::answer::AnswerWith::Quotes);
    let asked = kogi.ask(&r, &mut Job::silent(&AtomicBool::new(false))).unwrap();
    assert_eq!(asked.quoted, Some(QuoteReason::Asked));
    let a = &asked.answers[0];
    assert!(a.quoted && !a.not_covered && a.stats.is_none());
    assert!((1..=3).contains(&a.citations.len()), "{a:?}");
    assert!(a.text.contains("約20倍"), "the sentence holding the answer is quoted: {}", a.text);
    for (c, line) in a.citations.iter().zip(a.text.lines()) {
        let rev = kogi.revision(c.revision).unwrap();
        let cited: String = rev.text.chars().skip(c.span.start).take(c.span.len()).collect();
        assert_eq!(line, format!("「{cited}」[{}]", c.n), "each line quotes its cited span verbatim");
        assert!(c.start_ms.is_some());
    }
    let twenty = a.citations.iter().find(|c| a.passages[c.n - 1].text.contains("20倍")).unwrap();
    assert_eq!(twenty.start_ms, Some(48000), "the time is the time of the quoted sentence's own segment");
}

#[test]
fn quoting_needs_passages_so_the_no_context_step_is_refused_with_a_reason() {
    let kogi = kogi(Scripted::new(&[]));
    let mut r = request("スケール則とは？", Rung::None);
    r.answer_with = Some(crate::answer::AnswerWith::Quotes);
    let err = kogi.ask(&r, &mut Job::silent(&AtomicBool::new(false))).unwrap_err();
    assert!(err.to_string().contains("none"), "{err}");
}

#[test]
fn restoring_an_old_revision_keeps_unsaved_typing_and_saving_the_typing_discards_it() {
    let kogi = kogi(Scripted::new(&[]));
    let lecture = kogi.lectures(None).unwrap()[0].id;
    let first = kogi.open_lecture(lecture).unwrap().head;
    let second = kogi.save_edit(lecture, first.id, &first.text.replace("約20倍", "およそ20倍"), None).unwrap().revision;
    let typing = second.text.replace("スケール則", "スケーリング則");
    kogi.put_draft(lecture, second.id, &typing).unwrap();
    let restored = kogi.restore(lecture, first.id).unwrap().revision;
    let kept = kogi.open_lecture(lecture).unwrap().draft.expect("the unsaved typing is still offered");
    assert_eq!((kept.parent, kept.text.as_str()), (second.id, typing.as_str()));
    kogi.save_edit(lecture, restored.id, &typing, None).unwrap();
    assert!(kogi.open_lecture(lecture).unwrap().draft.is_none(), "saved typing is no longer a draft");
}

#[test]
fn saving_settings_over_a_damaged_file_keeps_what_it_held() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    let damaged = "{\n \"k\": 12,\n \"temperature\": 0.7,,\n}\n";
    std::fs::write(&path, damaged).unwrap();
    let kogi = Kogi::load(dir.path().join("kogi.sqlite3"), path.clone());
    assert!(kogi.settings_problem().unwrap().contains("damaged"));
    kogi.save_settings(Settings { k: 7, ..kogi.settings() }).unwrap();
    assert_eq!(Settings::load(&path).unwrap().k, 7);
    let kept: Vec<_> = std::fs::read_dir(dir.path()).unwrap().filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().contains("damaged")).collect();
    assert_eq!(kept.len(), 1, "one copy of the damaged file");
    assert_eq!(std::fs::read_to_string(kept[0].path()).unwrap(), damaged);
    assert!(kogi.settings_problem().unwrap().contains(&*kept[0].file_name().to_string_lossy()));
    // Saving again over a good file keeps no further copy.
    kogi.save_settings(Settings { k: 6, ..kogi.settings() }).unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains("damaged")).count(), 1);
}

#[test]
fn the_status_answers_while_a_model_is_being_loaded() {
    let k = kogi(Scripted::new(&[]));
    // `embedder()` and `generator()` hold their slot for the whole of a load.
    let loading = (k.embedder.lock().unwrap(), k.generator.lock().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let answered = std::thread::scope(|s| {
        s.spawn(|| {
            let st = k.status();
            let _ = tx.send((st.embedder_provider.is_none(), st.chat_provider.is_none()));
        });
        let got = rx.recv_timeout(std::time::Duration::from_secs(20));
        drop(loading);
        got
    });
    assert_eq!(answered, Ok((true, true)), "the status waited for the load, or reported a model that is not loaded yet");
}
