//! Retrieval on the real lecture and its question set, whenever the project's data sits beside the
//! checkout. The thresholds are the acceptance figures: a regression fails the run.

mod support;

use support::Kogi;

fn eval(transcript: &str) -> Option<serde_json::Value> {
    let Some(data) = support::shared_data() else {
        eprintln!("skipped: ../shared/data is not here");
        return None;
    };
    let questions = data.join("../eval/dev.jsonl");
    let k = Kogi::new();
    let out = k.cmd()
        .args(["--json", "-q", "eval", "--questions", questions.to_str().unwrap(), "--transcript", transcript, "--data", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", support::stderr(&out));
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!(
        "{transcript}: hit@1 {} hit@3 {} hit@5 {} MRR@5 {} context {}",
        m["hit_at_1"], m["hit_at_3"], m["hit_at_5"], m["mrr_at_5"], m["mean_context_chars"]
    );
    Some(m)
}

fn f(m: &serde_json::Value, k: &str) -> f64 {
    m[k].as_f64().unwrap()
}

#[test]
fn corrected_transcript_retrieval_meets_the_targets() {
    let Some(m) = eval("corrected") else { return };
    assert!(f(&m, "hit_at_5") >= 0.90, "hit@5 {}", m["hit_at_5"]);
    assert!(f(&m, "hit_at_1") >= 0.60, "hit@1 {}", m["hit_at_1"]);
    assert!(f(&m, "mean_context_chars") <= 2500.0, "context {}", m["mean_context_chars"]);
}

#[test]
fn raw_asr_transcript_retrieval_meets_the_targets() {
    let Some(m) = eval("raw") else { return };
    assert!(f(&m, "hit_at_5") >= 0.85, "hit@5 {}", m["hit_at_5"]);
    assert!(f(&m, "mean_context_chars") <= 2500.0, "context {}", m["mean_context_chars"]);
}
