//! Reading recordings: every container and codec the test set-up encodes (scripts/setup-speech.sh),
//! and the bad files, each with the message a user sees.

mod support;

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



use kogi_core::service::job::{Event, Job};
use kogi_core::service::{IndexWhen, Kogi};
use kogi_core::settings::Settings;
use kogi_core::transcript::import::ImportOptions;
use std::sync::atomic::{AtomicBool, Ordering};

/// kogi over a database file in a fresh folder (the media and scratch folders go beside it).
fn kogi(dir: &std::path::Path) -> Kogi {
    Kogi::new(dir.join("kogi.sqlite3"), Settings { models_dir: Some(support::models_dir()), ..Default::default() }, None)
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default()
}

#[test]
fn a_recording_is_imported_as_a_timed_transcript_and_kept_with_its_lecture() {
    let dir = tempfile::tempdir().unwrap();
    let k = kogi(dir.path());
    let file = speech().join("ja-short.mp3");
    let cancel = AtomicBool::new(false);
    let imported = k.import_file(&file, &ImportOptions::default(), IndexWhen::Never, &mut Job::silent(&cancel)).unwrap();
    assert!(imported.created);
    let rev = k.db().unwrap().head_revision(imported.lecture.id).unwrap();
    assert!(rev.text.contains("思います"), "{}", rev.text);
    // Segment times are in the recording's time (the 8-s silence is not transcribed, yet the times
    // after it are where the sentences are).
    let last = rev.segments.last().unwrap();
    assert!(last.start_ms.unwrap() > 38_000 && last.end_ms.unwrap() <= 47_300, "{:?}", rev.segments);
    let r = k.recording(imported.lecture.id).unwrap().expect("the recording is kept");
    assert_eq!(r.original_name, "ja-short.mp3");
    assert_eq!(std::fs::read(k.media_dir().join(&r.file)).unwrap(), std::fs::read(&file).unwrap());
    assert!(files_in(&dir.path().join("scratch")).is_empty(), "work files are removed");
}

#[test]
fn a_recording_whose_indexing_fails_keeps_its_lecture_and_its_recording() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings { models_dir: Some(support::models_dir()), embedder: "no-such-embedder".into(), ..Default::default() };
    let k = Kogi::new(dir.path().join("kogi.sqlite3"), settings, None);
    let file = speech().join("ja-short.mp3");
    let cancel = AtomicBool::new(false);
    let e = k.import_file(&file, &ImportOptions::default(), IndexWhen::Always, &mut Job::silent(&cancel)).err().expect("indexing cannot work without the embedder");
    assert!(e.to_string().contains("no-such-embedder"), "{e}");
    let lecture = k.lectures(None).unwrap().pop().expect("the transcript is kept");
    let r = k.recording(lecture.id).unwrap().expect("and so is its recording");
    assert_eq!(std::fs::read(k.media_dir().join(&r.file)).unwrap(), std::fs::read(&file).unwrap());
    // Importing it again finds the lecture, recording and all.
    let again = k.import_file(&file, &ImportOptions::default(), IndexWhen::Never, &mut Job::silent(&cancel)).unwrap();
    assert!(!again.created && again.lecture.id == lecture.id);
    assert!(k.recording(lecture.id).unwrap().is_some());
}

#[test]
fn a_database_named_without_a_folder_keeps_recordings_beside_it() {
    // Not in the system's temporary folder, where they would not outlive a restart.
    let k = Kogi::new("kogi-relative.sqlite3".into(), Settings::default(), None);
    assert_eq!(k.media_dir(), std::env::current_dir().unwrap().join("media"));
}

#[test]
fn a_recording_replaced_in_one_database_stays_for_another_database_in_the_same_folder() {
    let dir = tempfile::tempdir().unwrap();
    let settings = || Settings { models_dir: Some(support::models_dir()), ..Default::default() };
    let (a, b) = (Kogi::new(dir.path().join("a.sqlite3"), settings(), None), Kogi::new(dir.path().join("b.sqlite3"), settings(), None));
    let cancel = AtomicBool::new(false);
    let lecture = |k: &Kogi| k.import_bytes("l.txt", "講義です。".as_bytes(), &ImportOptions::default(), IndexWhen::Never, &mut Job::silent(&cancel)).unwrap().lecture.id;
    let (la, lb) = (lecture(&a), lecture(&b));
    assert_eq!(a.media_dir(), b.media_dir(), "one folder, one media folder");
    let shared = a.link_recording(la, &speech().join("ja-short.flac")).unwrap();
    b.link_recording(lb, &speech().join("ja-short.flac")).unwrap();
    let e = a.link_recording(la, &speech().join("empty.wav")).unwrap_err().to_string();
    assert!(e.contains("0 seconds long"), "{e}");
    // a replaces its recording: the file b still keeps is not deleted with a's old link.
    a.link_recording(la, &speech().join("ja-short.mp3")).unwrap();
    assert!(a.media_dir().join(&shared.file).exists(), "b's recording is still there");
    // Once nobody keeps it, it goes.
    b.link_recording(lb, &speech().join("ja-short.mp3")).unwrap();
    assert!(!a.media_dir().join(&shared.file).exists());
}

#[test]
fn bad_recordings_leave_no_lecture_and_no_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let k = kogi(dir.path());
    let cancel = AtomicBool::new(false);
    for (name, says) in [
        ("corrupt.mp3", "the file is damaged"),
        ("no-audio.mp4", "the video has no sound track"),
        ("empty.wav", "the recording is 0 seconds long"),
        ("unsupported.wma", "cannot read this file as audio"),
        ("ja-short.opus", "codec is not one kogi can decode"),
    ] {
        let e = k.import_file(&speech().join(name), &ImportOptions::default(), IndexWhen::Never, &mut Job::silent(&cancel)).err().unwrap();
        assert!(e.to_string().contains(says), "{name}: {e}");
    }
    assert!(k.lectures(None).unwrap().is_empty());
    assert!(files_in(&k.media_dir()).is_empty());
    assert!(files_in(&dir.path().join("scratch")).is_empty());
}

#[test]
fn a_three_hour_recording_reports_progress_and_stops_when_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let k = kogi(dir.path());
    let cancel = AtomicBool::new(false);
    let mut seen = Vec::new();
    let result = {
        let mut job = Job::new(&cancel, |e| {
            if let Event::Progress { phase, done, total } = e {
                seen.push((phase.label(), done, total));
                if done >= 1200 {
                    cancel.store(true, Ordering::Relaxed); // 20 minutes in
                }
            }
        });
        k.import_file(&speech().join("silence-3h.flac"), &ImportOptions::default(), IndexWhen::Never, &mut job)
    };
    assert!(matches!(result, Err(kogi_core::Error::Cancelled)), "{result:?}");
    let reading: Vec<_> = seen.iter().filter(|s| s.0 == "reading").collect();
    assert_eq!(reading[0].2, 10_800, "the total is the recording's length in seconds");
    assert!(reading.windows(2).all(|w| w[0].1 <= w[1].1) && reading.len() > 100, "steady progress");
    assert!(k.lectures(None).unwrap().is_empty());
    assert!(files_in(&k.media_dir()).is_empty());
    assert!(files_in(&dir.path().join("scratch")).is_empty());
}

#[test]
fn a_recording_handed_over_as_bytes_is_transcribed_and_kept_under_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let k = kogi(dir.path());
    let bytes = std::fs::read(speech().join("ja-short.mp3")).unwrap();
    let cancel = AtomicBool::new(false);
    let imported = k.import_bytes("講義 1.mp3", &bytes, &ImportOptions::default(), IndexWhen::Never, &mut Job::silent(&cancel)).unwrap();
    let r = k.recording(imported.lecture.id).unwrap().expect("the recording is kept");
    assert_eq!(r.original_name, "講義 1.mp3");
    assert_eq!(std::fs::read(k.media_dir().join(&r.file)).unwrap(), bytes);
    assert!(files_in(&dir.path().join("scratch")).is_empty(), "the handed-over copy is removed");
}
