//! Language-model correction on the real default SmolLM2: surprisal scans (ranking, cache, cancel,
//! progress), span suggestions and accepting them as revisions. The `#[ignore]`d measurement scans
//! the real raw lecture transcript:
//! `cargo test --release -p kogi-cli --test correction_lm -- --ignored --nocapture`.

mod support;

use kogi_core::Error;
use kogi_core::correction::suspicious::{
    ScanParams, Suggestion, SuggestionSource, SuspiciousSpan, accept, scan_revision, scan_text, suggest,
};
use kogi_core::generate::LanguageModel;
use kogi_core::inference::runtime::{Provider, SessionConfig};
use kogi_core::lecture::{LectureId, RevisionKind};
use kogi_core::store::Db;
use kogi_core::text::CharSpan;
use kogi_core::transcript::import::{ImportOptions, import_bytes};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

fn smollm2() -> LanguageModel {
    let dir = support::models_dir().join("smollm2-135m-instruct");
    let config = SessionConfig { provider: Provider::Cpu, threads: Some(2), ..Default::default() };
    LanguageModel::open(&dir, &config).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

fn no_cancel() -> AtomicBool {
    AtomicBool::new(false)
}

fn char_span_of(text: &str, needle: &str) -> CharSpan {
    let b = text.find(needle).unwrap_or_else(|| panic!("{needle:?} not in {text:?}"));
    let start = text[..b].chars().count();
    CharSpan::new(start, start + needle.chars().count())
}

fn lecture(db: &mut Db, name: &str, content: &str) -> LectureId {
    let t = import_bytes(name, content.as_bytes(), &ImportOptions::default()).unwrap();
    db.import_transcript(&t).unwrap().lecture.id
}

const CLEAN: &str = "The capital of France is Paris. It is a large city on the river Seine, \
and many people visit it every year to see its museums and old churches.";
const DIRTY: &str = "The capital of France is xqzv blorf Paris. It is a large city on the river Seine, \
and many people visit it every year to see its museums and old churches.";

/// A longer English text (several windows with small parameters).
fn long_text() -> String {
    (0..12)
        .map(|i| {
            format!("In lecture {i} we studied how the loss of a language model falls as the model and the data grow. ")
        })
        .collect()
}

fn small_windows() -> ScanParams {
    ScanParams { window_tokens: 64, stride_tokens: 48, ..Default::default() }
}

#[test]
fn an_injected_nonsense_span_is_ranked_first() {
    let mut lm = smollm2();
    let (spans, tokens) = scan_text(&mut lm, DIRTY, &ScanParams::default(), &mut |_, _| {}, &no_cancel()).unwrap();
    assert!(tokens > 20, "{tokens}");
    let nonsense = char_span_of(DIRTY, "xqzv blorf");
    let top = spans.first().expect("something is flagged");
    eprintln!("top span: {top:?}");
    assert!(top.span.overlaps(&nonsense), "top span {top:?}\nall: {spans:#?}");
    assert!(top.text.contains("xqzv") || top.text.contains("blorf"), "{top:?}");
    assert!(top.score > 1.0, "{top:?}");
    // Every span's text is the text at its offsets, its context the text around it.
    for s in &spans {
        assert_eq!(kogi_core::text::slice_chars(DIRTY, s.span), s.text);
        assert!(DIRTY.contains(&format!("{}{}{}", s.before, s.text, s.after)));
    }
    // The same sentence without the nonsense has nothing as surprising.
    let (clean, _) = scan_text(&mut lm, CLEAN, &ScanParams::default(), &mut |_, _| {}, &no_cancel()).unwrap();
    let clean_top = clean.iter().map(|s| s.mean_surprisal).fold(0f32, f32::max);
    assert!(clean_top < top.mean_surprisal, "clean {clean:#?}\nvs {top:?}");
}

#[test]
fn a_second_scan_of_a_revision_comes_from_the_cache_unchanged() {
    let mut lm = smollm2();
    let mut db = Db::open_in_memory().unwrap();
    let id = lecture(&mut db, "dirty.txt", &long_text());
    let head = db.lecture(id).unwrap().head;
    let params = small_windows();

    let t = Instant::now();
    let first = scan_revision(&mut db, &mut lm, head, &params, &mut |_, _| {}, &no_cancel()).unwrap();
    let computed = t.elapsed();
    assert_eq!(first.revision, head);
    assert_eq!(first.model, "smollm2-135m-instruct");
    assert_eq!(first.params, params);
    assert!(first.tokens > 200, "{}", first.tokens);
    assert!(first.seconds > 0.0);
    assert_eq!(first.provider, "cpu");

    let mut passes = 0;
    let t = Instant::now();
    let second = scan_revision(&mut db, &mut lm, head, &params, &mut |_, _| passes += 1, &no_cancel()).unwrap();
    let cached = t.elapsed();
    assert_eq!(serde_json::to_value(&first).unwrap(), serde_json::to_value(&second).unwrap());
    assert_eq!(passes, 0, "the model did not run");
    assert!(cached * 10 < computed, "cached {cached:?} vs computed {computed:?}");

    // Other parameters are another scan.
    let other = ScanParams { stride_tokens: 40, ..params.clone() };
    let mut reported = 0;
    scan_revision(&mut db, &mut lm, head, &other, &mut |_, _| reported += 1, &no_cancel()).unwrap();
    assert!(reported > 0);
    let rows: i64 = db.conn().query_row("SELECT count(*) FROM scans", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, 2);
}

#[test]
fn a_raised_cancel_flag_stops_the_scan_and_caches_nothing() {
    let mut lm = smollm2();
    let text = long_text();
    // Raised before the start.
    let err = scan_text(&mut lm, &text, &small_windows(), &mut |_, _| {}, &AtomicBool::new(true)).unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");

    // Raised after the first window, through a revision scan.
    let mut db = Db::open_in_memory().unwrap();
    let id = lecture(&mut db, "long.txt", &text);
    let head = db.lecture(id).unwrap().head;
    let cancel = AtomicBool::new(false);
    let mut windows = 0;
    let err = scan_revision(
        &mut db,
        &mut lm,
        head,
        &small_windows(),
        &mut |done, _| {
            if done == 1 {
                cancel.store(true, Ordering::Relaxed);
            }
            windows = done;
        },
        &cancel,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    assert_eq!(windows, 1, "no window ran after the flag");
    let rows: i64 = db.conn().query_row("SELECT count(*) FROM scans", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, 0);
}

#[test]
fn progress_counts_every_window_up_to_the_total() {
    let mut lm = smollm2();
    let text = long_text();
    let params = small_windows();
    let mut calls: Vec<(usize, usize)> = Vec::new();
    let (_, tokens) = scan_text(&mut lm, &text, &params, &mut |d, t| calls.push((d, t)), &no_cancel()).unwrap();
    let total = calls[0].1;
    // Windows start every stride until one reaches the end.
    let expected = 1 + (tokens - params.window_tokens).div_ceil(params.stride_tokens);
    assert_eq!(total, expected, "{tokens} tokens");
    assert!(total > 3);
    let done: Vec<usize> = calls.iter().map(|c| c.0).collect();
    assert_eq!(done, (0..=total).collect::<Vec<_>>());
    assert!(calls.iter().all(|c| c.1 == total));
}

#[test]
fn a_glossary_variant_in_the_span_proposes_the_glossary_term_first() {
    let mut lm = smollm2();
    let text = "今日は言語モデルのスケール足について学びます。計算量を増やすと損失が下がります。";
    let span = char_span_of(text, "スケール足");
    let glossary = vec![
        ("スケール則".to_string(), vec!["スケール足".to_string(), "スケール速".to_string()]),
        ("推論時".to_string(), vec!["水温時".to_string()]),
    ];
    let s = suggest(&mut lm, text, span, &glossary, 40).unwrap();
    assert!(!s.is_empty());
    assert_eq!(s[0].source, SuggestionSource::Glossary { term: "スケール則".into() }, "{s:#?}");
    assert_eq!(s[0].replacement, "スケール則");
    assert_eq!(s[0].original, "スケール足");
    assert!(s.iter().filter(|x| x.source == SuggestionSource::Model).count() <= 1);
    for x in &s {
        assert_eq!(x.span, span, "a suggestion never rewrites more than the span");
        assert!(!x.replacement.is_empty() && x.replacement != x.original);
        assert!(x.replacement.chars().count() <= 3 * span.len());
    }
    // Glossary suggestions all come before the model's.
    let first_model = s.iter().position(|x| x.source == SuggestionSource::Model).unwrap_or(s.len());
    assert!(s[first_model..].iter().all(|x| x.source == SuggestionSource::Model));
    eprintln!("suggestions: {s:#?}");

    // Without a glossary only the model speaks, and only about the span.
    let s = suggest(&mut lm, text, span, &[], 40).unwrap();
    assert!(s.iter().all(|x| x.source == SuggestionSource::Model && x.span == span));
}

#[test]
fn a_misheard_word_gets_the_models_rewrite_of_that_word_only() {
    let mut lm = smollm2();
    let text = "The capital of France is Parish. It is a large city on the river Seine.";
    let span = char_span_of(text, "Parish");
    let s = suggest(&mut lm, text, span, &[], 60).unwrap();
    assert_eq!(s.len(), 1, "{s:#?}");
    assert_eq!(s[0].source, SuggestionSource::Model);
    assert_eq!(s[0].span, span);
    // The model echoes the whole sentence; only its word at the span is kept. Which word this tiny
    // model writes depends on near-ties (measured: "Paris", and "parish" from a fresh build of the
    // same GGUF), so the test pins the cut, not the model's spelling.
    let r = &s[0].replacement;
    assert!(!r.is_empty() && !r.contains(char::is_whitespace) && r != "Parish" && r.chars().count() <= 8, "only the span's part is kept: {s:?}");
    assert!(r.to_lowercase().starts_with("pari"), "{s:?}");
    assert!(s[0].score > 0.5, "the passage is more probable with it: {s:?}");
}

const SRT: &str = "1\n00:00:01,000 --> 00:00:03,000\n今日はスケール足の話です。\n\n\
2\n00:00:03,000 --> 00:00:06,000\n計算量を増やすと損失が下がります。\n";

fn glossary_fix(text: &str) -> Suggestion {
    let span = char_span_of(text, "スケール足");
    Suggestion {
        span,
        original: "スケール足".into(),
        replacement: "大規模言語モデルのスケール則".into(),
        source: SuggestionSource::Glossary { term: "スケール則".into() },
        score: 1.0,
    }
}

#[test]
fn accepting_a_suggestion_adds_a_child_of_the_newest_revision_that_differs_only_at_the_span() {
    let mut db = Db::open_in_memory().unwrap();
    let id = lecture(&mut db, "talk.srt", SRT);
    let parent = db.head_revision(id).unwrap();
    assert_eq!(parent.segments.len(), 2);
    let s = glossary_fix(&parent.text);
    let rev = accept(&mut db, id, parent.id, &s).unwrap();

    assert_eq!(rev.parent, Some(parent.id));
    assert_eq!(rev.kind, RevisionKind::Suggestion);
    assert_eq!(rev.number, parent.number + 1);
    assert_eq!(db.lecture(id).unwrap().head, rev.id);
    let old: Vec<char> = parent.text.chars().collect();
    let new: Vec<char> = rev.text.chars().collect();
    let grow = s.replacement.chars().count() - s.span.len();
    assert_eq!(new[..s.span.start], old[..s.span.start]);
    assert_eq!(new[s.span.start + s.replacement.chars().count()..], old[s.span.end..]);
    assert_eq!(
        new[s.span.start..s.span.start + s.replacement.chars().count()].iter().collect::<String>(),
        s.replacement
    );
    assert!(rev.message.as_deref().unwrap_or("").contains("スケール則"));
    // The segment holding the span grows, the next one moves; their times stay.
    assert_eq!(rev.segments[0].span, CharSpan::new(parent.segments[0].span.start, parent.segments[0].span.end + grow));
    assert_eq!(
        rev.segments[1].span,
        CharSpan::new(parent.segments[1].span.start + grow, parent.segments[1].span.end + grow)
    );
    assert_eq!(rev.segments[1].start_ms, parent.segments[1].start_ms);
    assert_eq!(kogi_core::text::slice_chars(&rev.text, rev.segments[1].span), "計算量を増やすと損失が下がります。");
}

#[test]
fn accepting_on_a_stale_parent_is_refused_and_changes_nothing() {
    let mut db = Db::open_in_memory().unwrap();
    let id = lecture(&mut db, "talk.srt", SRT);
    let first = db.head_revision(id).unwrap();
    let s = glossary_fix(&first.text);
    let second = accept(&mut db, id, first.id, &s).unwrap();
    // The same suggestion again on revision 1, which is no longer the newest.
    let err = accept(&mut db, id, first.id, &s).unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err}");
    assert!(err.to_string().contains("nothing was overwritten"), "{err}");
    assert_eq!(db.revisions(id).unwrap().len(), 2);
    assert_eq!(db.lecture(id).unwrap().head, second.id);
    // A suggestion whose text is no longer at its span is refused too.
    let err = accept(&mut db, id, second.id, &s).unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err}");
    assert_eq!(db.revisions(id).unwrap().len(), 2);
}

/// Whether a flagged span touches an ASR error, by a proxy that needs no alignment: the span with
/// `pad` characters of context on each side does not occur verbatim in the hand-corrected text.
fn touches_error(s: &SuspiciousSpan, corrected: &str, pad: usize) -> bool {
    let before: String = s.before.chars().rev().take(pad).collect::<Vec<_>>().into_iter().rev().collect();
    let after: String = s.after.chars().take(pad).collect();
    !corrected.contains(&format!("{before}{}{after}", s.text))
}

#[test]
#[ignore = "measurement: scans the real 31k-character raw transcript (minutes on 2 CPU cores)"]
fn measure_scan_of_the_real_raw_transcript() {
    let Some(data) = support::shared_data() else {
        eprintln!("skipped: ../shared/data is absent");
        return;
    };
    let Ok(raw) = std::fs::read_to_string(data.join("LLM2024_day4_raw.txt")) else {
        eprintln!("skipped: LLM2024_day4_raw.txt is absent");
        return;
    };
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<usize>().ok());
    let mut params = ScanParams::default();
    params.window_tokens = env("KOGI_SCAN_WINDOW").unwrap_or(params.window_tokens);
    params.stride_tokens = env("KOGI_SCAN_STRIDE").unwrap_or(params.stride_tokens);
    // KOGI_SCAN_CHARS: scan only the transcript's beginning (quick timing comparisons).
    let raw: String = match env("KOGI_SCAN_CHARS") {
        Some(n) => raw.chars().take(n).collect(),
        None => raw,
    };
    let mut lm = smollm2();
    let chars = raw.chars().count();
    let t = Instant::now();
    let mut windows = 0;
    let (spans, tokens) = scan_text(
        &mut lm,
        &raw,
        &params,
        &mut |d, total| {
            windows = total;
            if d % 50 == 0 {
                eprintln!("  window {d}/{total} at {:.0} s", t.elapsed().as_secs_f64());
            }
        },
        &no_cancel(),
    )
    .unwrap();
    let secs = t.elapsed().as_secs_f64();
    let fed: usize = (0..windows).map(|k| params.window_tokens.min(tokens - k * params.stride_tokens)).sum();
    println!(
        "scan: {chars} chars, {tokens} tokens, {windows} windows of {} (stride {}), {secs:.1} s on {}: \
         {:.0} text tokens/s ({:.0} tokens fed/s incl. overlap); {} spans flagged",
        params.window_tokens,
        params.stride_tokens,
        lm.decoder.provider.in_use,
        tokens as f64 / secs,
        fed as f64 / secs,
        spans.len()
    );
    let corrected = std::fs::read_to_string(data.join("LLM2024_day4.txt")).ok().map(|c| c.replace('\n', ""));
    println!("top 10:");
    for (i, s) in spans.iter().take(10).enumerate() {
        let mark = match &corrected {
            Some(c) if touches_error(s, c, 3) => "ERR?",
            Some(_) => "ok  ",
            None => "",
        };
        println!(
            "{:>2}. {mark} z={:.2} {:.2} nats/char  …{}【{}】{}…",
            i + 1,
            s.score,
            s.mean_surprisal,
            s.before,
            s.text,
            s.after
        );
    }
    if let Some(c) = &corrected {
        // The same proxy on spans of the same lengths at evenly spread places: the base rate.
        let raw_chars: Vec<char> = raw.chars().collect();
        for k in [10, 50, 100, spans.len()] {
            let top = &spans[..k.min(spans.len())];
            if top.is_empty() {
                continue;
            }
            let hits = top.iter().filter(|s| touches_error(s, c, 3)).count();
            let base = top
                .iter()
                .enumerate()
                .filter(|(i, s)| {
                    let start = (i * 7919 + 13) * 104729 % (raw_chars.len() - s.span.len() - 3).max(4) + 3;
                    let span = CharSpan::new(start, start + s.span.len());
                    let r = SuspiciousSpan {
                        span,
                        text: raw_chars[span.start..span.end].iter().collect(),
                        score: 0.0,
                        mean_surprisal: 0.0,
                        before: raw_chars[span.start - 3..span.start].iter().collect(),
                        after: raw_chars[span.end..(span.end + 3).min(raw_chars.len())].iter().collect(),
                    };
                    touches_error(&r, c, 3)
                })
                .count();
            println!(
                "top {:>4}: {hits} ({:.0}%) touch a difference from the corrected text; random spans of the same lengths: {base} ({:.0}%)",
                top.len(),
                100.0 * hits as f64 / top.len() as f64,
                100.0 * base as f64 / top.len() as f64
            );
        }
    }
}
