//! Reading recordings: every container and codec the test set-up encodes (scripts/setup-speech.sh),
//! and the bad files, each with the message a user sees.

use kogi_core::recording::audio::{AudioStream, read_all};
use std::path::PathBuf;

fn speech() -> PathBuf {
    let dir = std::env::var_os("KOGI_SPEECH").map(PathBuf::from).unwrap_or_else(|| {
        std::env::home_dir().expect("a home folder").join(".cache/kogi/speech")
    });
    assert!(dir.join("ja-short.wav").exists(), "{} has no test speech — run `bash scripts/setup-speech.sh`", dir.display());
    dir
}

fn error_of(name: &str) -> String {
    match AudioStream::open(&speech().join(name)).and_then(|mut s| s.read(usize::MAX >> 8)) {
        Ok(samples) => format!("read {} samples", samples.len()),
        Err(e) => e.to_string(),
    }
}

/// The best normalised correlation of `b` against `a` over lags up to ±`max_lag` (codecs add delay).
fn correlation(a: &[f32], b: &[f32], max_lag: usize) -> f64 {
    let n = a.len().min(b.len()).saturating_sub(2 * max_lag);
    let energy = |x: &[f32]| x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
    (0..=2 * max_lag)
        .map(|lag| {
            let (x, y) = (&a[max_lag..max_lag + n], &b[lag..lag + n]);
            x.iter().zip(y).map(|(p, q)| *p as f64 * *q as f64).sum::<f64>() / (energy(x) * energy(y)).max(1e-12)
        })
        .fold(f64::MIN, f64::max)
}

#[test]
fn every_container_kogi_reads_gives_the_speech_of_the_wav() {
    let dir = speech();
    let wav = read_all(&dir.join("ja-short.wav")).unwrap();
    assert_eq!(AudioStream::open(&dir.join("ja-short.wav")).unwrap().duration().map(|d| (d * 16000.0).round() as usize), Some(wav.len()));
    // Lossless: the same samples.
    let flac = read_all(&dir.join("ja-short.flac")).unwrap();
    assert_eq!(flac.len(), wav.len());
    assert!(flac.iter().zip(&wav).all(|(a, b)| (a - b).abs() < 1e-4));
    // Lossy (64 kbit/s and Vorbis): the same length within 0.15 s (encoder priming) and the same sound.
    for name in ["ja-short.mp3", "ja-short.m4a", "ja-short.mp4", "ja-short.ogg"] {
        let got = read_all(&dir.join(name)).unwrap();
        assert!(got.len().abs_diff(wav.len()) < 2400, "{name}: {} samples, the WAV has {}", got.len(), wav.len());
        let speech = 16000..16000 * 5; // the first sentence; codec delays are under 1,300 samples
        let c = correlation(&wav[speech.clone()], &got[speech], 1300);
        assert!(c > 0.9, "{name}: correlation {c:.3}");
    }
}

#[test]
fn bad_recordings_are_refused_saying_what_went_wrong() {
    let cases = [
        ("ja-short.opus", "codec is not one kogi can decode"),
        ("unsupported-ac3.mka", "codec is not one kogi can decode"),
        ("unsupported.wma", "cannot read this file as audio or video"),
        ("no-audio.mp4", "the video has no sound track"),
        ("corrupt.mp3", "the file is damaged: only 0.4 s of its 47.1 s could be decoded"),
    ];
    for (name, says) in cases {
        let e = error_of(name);
        assert!(e.contains(says), "{name}: {e}");
    }
    // A valid file of no length reads as no samples (the transcriber refuses it, by name).
    assert_eq!(error_of("empty.wav"), "read 0 samples");
}
