//! Asking through the service layer on the real default models (multilingual-e5-small, SmolLM2-135M):
//! retrieval, the prompt, streaming, citations that resolve to their passage, and the not-covered
//! gate. SmolLM2 is tiny and English-only: these tests pin the pipeline's behaviour, not answer
//! quality.

mod support;

use kogi_core::answer::{Answer, AnswerWith, Rung};
use kogi_core::inference::runtime::Provider;
use kogi_core::service::{AskRequest, Event, IndexWhen, Job, Kogi, Phase};
use kogi_core::settings::Settings;
use kogi_core::transcript::import::ImportOptions;
use std::sync::atomic::AtomicBool;

fn kogi(lead_citation: bool, min_similarity: f32) -> Kogi {
    let settings = Settings {
        models_dir: Some(support::models_dir()),
        provider: Provider::Cpu,
        threads: Some(2),
        max_tokens: 24,
        lead_citation,
        min_similarity,
        // The sample lecture is Japanese, which SmolLM2 cannot read: left automatic, kogi would quote.
        // These tests pin the generation pipeline.
        answer_with: AnswerWith::Model,
        ..Default::default()
    };
    let kogi = Kogi::in_memory(settings).unwrap();
    let cancel = AtomicBool::new(false);
    let sample = support::repo().join("examples/sample-lecture.srt");
    kogi.import_file(&sample, &ImportOptions::default(), IndexWhen::Always, &mut Job::silent(&cancel)).unwrap();
    kogi
}

/// Ask at one rung; the streamed pieces and the phases reported come back with the answer.
fn ask(kogi: &Kogi, question: &str, rung: Rung) -> (Answer, Vec<String>, Vec<Phase>) {
    let cancel = AtomicBool::new(false);
    let (mut pieces, mut phases) = (Vec::new(), Vec::new());
    let request = AskRequest { question: question.into(), modes: vec![rung], ..Default::default() };
    let mut asked = {
        let mut job = Job::new(&cancel, |e| match e {
            Event::Text { text, .. } => pieces.push(text.to_owned()),
            Event::Progress { phase, .. } if phases.last() != Some(phase) => phases.push(phase.clone()),
            _ => {}
        });
        kogi.ask(&request, &mut job).unwrap()
    };
    (asked.answers.remove(0), pieces, phases)
}

#[test]
fn a_primed_answer_cites_a_passage_that_resolves_to_the_lecture_text() {
    let kogi = kogi(true, 0.75);
    let (a, pieces, _) = ask(&kogi, "What is Inference Time Scaling?", Rung::Windows);
    assert!(a.text.starts_with('['), "{}", a.text);
    // The primed bracket arrives with the model's first piece, never alone.
    assert!(pieces[0].starts_with('[') && pieces[0].chars().count() > 1, "{pieces:?}");
    assert_eq!(pieces.concat().trim(), a.text);
    assert!(!a.citations.is_empty(), "no citation in {:?}", a.text);
    for c in &a.citations {
        let passage = &a.passages[c.n - 1];
        let rev = kogi.revision(c.revision).unwrap();
        let cited: String = rev.text.chars().skip(c.span.start).take(c.span.end - c.span.start).collect();
        assert_eq!(cited, passage.text, "citation [{}] does not resolve to its passage", c.n);
        assert!(c.start_ms.is_some(), "an SRT passage has a time");
    }
}

#[test]
fn without_priming_the_answer_is_the_models_own_and_streams_whole() {
    let kogi = kogi(false, 0.75);
    let (a, pieces, _) = ask(&kogi, "What is Inference Time Scaling?", Rung::Windows);
    assert!(!a.passages.is_empty());
    assert_eq!(pieces.concat().trim(), a.text);
}

#[test]
fn a_question_below_the_similarity_gate_is_declined_without_running_the_model() {
    // e5-small's similarities sit in a narrow band (an unrelated question still scores ~0.77 here),
    // so the gate is pinned with a threshold above every passage.
    let kogi = kogi(true, 0.99);
    let (a, _, _) = ask(&kogi, "How do I bake sourdough bread at home?", Rung::Windows);
    assert!(a.not_covered && a.gated, "{a:?}");
    assert!(a.citations.is_empty() && a.stats.is_none());
}

#[test]
fn the_baseline_rung_gives_the_model_no_passages_and_is_not_primed() {
    let kogi = kogi(true, 0.75);
    let (a, _, _) = ask(&kogi, "What is Inference Time Scaling?", Rung::None);
    assert!(a.passages.is_empty() && a.citations.is_empty());
    assert!(!a.text.starts_with('['), "{}", a.text);
}

#[test]
fn a_rung_on_a_chunking_not_yet_indexed_reports_its_own_indexing_phase_first() {
    let kogi = kogi(false, 0.75);
    // Import indexed the default chunking; the chunks rung needs paragraphs, built as a phase.
    let (a, _, phases) = ask(&kogi, "What is Inference Time Scaling?", Rung::Chunks);
    let indexing = phases.iter().position(|p| *p == Phase::IndexingFor { rung: Rung::Chunks });
    let answering = phases.iter().position(|p| *p == Phase::Answering { rung: Rung::Chunks });
    assert!(indexing.is_some() && indexing < answering, "{phases:?}");
    assert!(!a.passages.is_empty());
    // Asked again, nothing is left to index.
    let (_, _, again) = ask(&kogi, "What is Inference Time Scaling?", Rung::Chunks);
    assert!(!again.iter().any(|p| matches!(p, Phase::IndexingFor { .. })), "{again:?}");
}

#[test]
fn a_raised_cancel_flag_stops_the_question_before_any_answer() {
    let kogi = kogi(false, 0.75);
    let cancel = AtomicBool::new(true);
    let request = AskRequest { question: "What is Inference Time Scaling?".into(), modes: vec![Rung::Chunks], ..Default::default() };
    let err = kogi.ask(&request, &mut Job::silent(&cancel)).unwrap_err();
    assert!(matches!(err, kogi_core::Error::Cancelled), "{err}");
}
