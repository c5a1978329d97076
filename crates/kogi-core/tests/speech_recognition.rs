//! Speech recognition on synthesised speech (scripts/setup-speech.sh): kogi's Whisper decodes the same
//! tokens as faster-whisper, window for window, and its transcripts are accurate and timed.

mod support;

use kogi_core::inference::manifest::ModelDir;
use kogi_core::inference::whisper::{Precision, WhisperModel};
use kogi_core::recording::transcribe::{Options, Transcription};
use kogi_core::service::Kogi;
use kogi_core::service::job::Job;
use kogi_core::settings::Settings;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use unicode_normalization::UnicodeNormalization;

fn speech(name: &str) -> PathBuf {
    let dir = std::env::var_os("KOGI_SPEECH").map(PathBuf::from).unwrap_or_else(|| support::reference_cache().join("speech"));
    let p = dir.join(name);
    assert!(p.exists(), "{} is missing — run `bash scripts/setup-speech.sh`", p.display());
    p
}

fn transcribe(file: &str, precision: Precision, language: Option<&str>) -> Transcription {
    let settings = Settings { models_dir: Some(support::models_dir()), ..Default::default() };
    let model = WhisperModel::open(ModelDir::open(&settings.transcriber_dir()).unwrap(), &settings.session(), precision).unwrap();
    let k = Kogi::in_memory(settings).unwrap().with_transcriber(Arc::new(model));
    let cancel = AtomicBool::new(false);
    k.transcribe(&speech(file), &Options { language: language.map(str::to_owned), ..Default::default() }, &mut Job::silent(&cancel)).unwrap()
}

/// Characters (Japanese) or words (English) after NFKC, lower case, without punctuation and spaces.
fn units(text: &str, words: bool) -> Vec<String> {
    let t: String = text.nfkc().collect::<String>().to_lowercase();
    let t: String = t.chars().map(|c| if c.is_alphanumeric() { c } else { ' ' }).collect();
    if words { t.split_whitespace().map(str::to_owned).collect() } else { t.chars().filter(|c| !c.is_whitespace()).map(String::from).collect() }
}

fn error_rate(reference: &[String], heard: &[String]) -> f64 {
    let mut row: Vec<usize> = (0..=heard.len()).collect();
    for (i, r) in reference.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, h) in heard.iter().enumerate() {
            let cur = (row[j + 1] + 1).min(row[j] + 1).min(prev + usize::from(r != h));
            prev = row[j + 1];
            row[j + 1] = cur;
        }
    }
    row[heard.len()] as f64 / reference.len() as f64
}

#[test]
fn the_same_tokens_as_faster_whisper_in_every_window() {
    let mut same = 0;
    let mut windows = 0;
    for (file, language) in [("ja-short.wav", "ja"), ("en-short.wav", "en")] {
        let ours = transcribe(file, Precision::Fp32, Some(language));
        let path = speech(file);
        let theirs = support::reference_tool("faster_whisper_run.py", &[path.to_str().unwrap(), "--compute-type", "float32", "--language", language, "--vad"]);
        let theirs: Vec<Vec<u32>> = theirs["windows"].as_array().unwrap().iter().map(|w| serde_json::from_value(w["tokens"].clone()).unwrap()).collect();
        eprintln!("{file}: {} windows here, {} in faster-whisper", ours.window_tokens.len(), theirs.len());
        windows += ours.window_tokens.len().max(theirs.len());
        same += ours.window_tokens.iter().zip(&theirs).filter(|((_, a), b)| a == *b).count();
    }
    assert!(same as f64 >= 0.95 * windows as f64, "{same} of {windows} windows identical");
}

#[test]
fn synthesised_lecture_speech_is_transcribed_accurately_with_times() {
    for (name, words, most) in [("ja-short", false, 0.08), ("en-short", true, 0.25)] {
        let truth: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(speech(&format!("{name}.json"))).unwrap()).unwrap();
        let heard = transcribe(&format!("{name}.wav"), Precision::Int8, None);
        assert_eq!(heard.language, if words { "en" } else { "ja" }, "the language is detected");
        let said = units(truth["text"].as_str().unwrap(), words);
        let text: Vec<String> = heard.segments.iter().map(|s| s.text.clone()).collect();
        let rate = error_rate(&said, &units(&text.join(" "), words));
        eprintln!("{name}: error rate {rate:.4} ({} segments)", heard.segments.len());
        assert!(rate <= most, "{name}: error rate {rate:.4} over {most}");
        // Every segment starts within 1 s of a sentence's start: the silences between (and the 8-s
        // one in ja-short) are not counted as speech.
        let starts: Vec<f64> = truth["segments"].as_array().unwrap().iter().map(|s| s["start"].as_f64().unwrap()).collect();
        for s in &heard.segments {
            let off = starts.iter().map(|t| (s.start - t).abs()).fold(f64::MAX, f64::min);
            assert!(off <= 1.0, "{name}: a segment starts at {:.2} s, {off:.2} s from any sentence ({:?})", s.start, s.text);
        }
    }
}
