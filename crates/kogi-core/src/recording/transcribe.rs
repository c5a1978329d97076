//! A recording to a timed transcript, as faster-whisper transcribes (greedy, no previous-text
//! prompt): the whole recording's log-mel features first — written to a scratch file as the sound is
//! decoded, since their floor depends on the loudest moment anywhere — then 30-second windows, each
//! starting where the last complete segment of the one before ended.

use super::audio::{AudioStream, SAMPLE_RATE};
use super::speech;
use crate::inference::vad::SileroVad;
use crate::inference::Transcribe;
use crate::inference::whisper::mel::{self, LogMel, WINDOW_FRAMES};
use crate::service::job::{Job, Phase};
use crate::text::CharSpan;
use crate::transcript::{Format, ImportedTranscript, LectureMeta, Segment};
use crate::{Error, Result};
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Samples read from the recording at a time (4 s).
const READ: usize = SAMPLE_RATE as usize * 4;

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Language code ("ja", "en"); detected from the first 30 s when `None`.
    pub language: Option<String>,
    /// Transcribe everything, silence included (no voice activity detection).
    pub all_sound: bool,
}

/// What was heard, with its times.
#[derive(Debug, Clone)]
pub struct Heard {
    pub start: f64,
    pub end: f64,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Transcription {
    pub language: String,
    /// Probability of the detected language (1 when it was given).
    pub language_probability: f32,
    pub duration: f64,
    pub segments: Vec<Heard>,
    /// Every window's decoded tokens, for comparison with a reference decoder.
    pub window_tokens: Vec<(usize, Vec<u32>)>,
}

/// Raw log-mel frames written to a scratch file as sound arrives.
struct Features {
    mel: LogMel,
    file: tempfile::NamedTempFile,
    out: Vec<f32>,
    frames: usize,
}

impl Features {
    fn new(model: &dyn Transcribe, scratch: &Path) -> Result<Self> {
        let file = tempfile::NamedTempFile::new_in(scratch).map_err(|e| Error::Io { path: scratch.to_owned(), message: e.to_string() })?;
        Ok(Self { mel: LogMel::new(model.mel_filters()), file, out: Vec::new(), frames: 0 })
    }

    fn push(&mut self, samples: &[f32]) -> Result<()> {
        self.mel.push(samples, &mut self.out);
        self.flush()
    }

    fn finish(&mut self) -> Result<()> {
        self.mel.finish(&mut self.out);
        self.flush()
    }

    fn flush(&mut self) -> Result<()> {
        let bytes: Vec<u8> = self.out.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.file.as_file().write_all_at(&bytes, (self.frames * self.mel.n_mels() * 4) as u64).map_err(|e| self.io(e))?;
        self.frames += self.out.len() / self.mel.n_mels();
        self.out.clear();
        Ok(())
    }

    /// Frames `from..from + n`, normalised into one model window.
    fn window(&self, from: usize, n: usize) -> Result<Vec<f32>> {
        let mels = self.mel.n_mels();
        let mut bytes = vec![0u8; n * mels * 4];
        self.file.as_file().read_exact_at(&mut bytes, (from * mels * 4) as u64).map_err(|e| self.io(e))?;
        let raw: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        Ok(mel::normalise(&raw, mels, self.mel.max()))
    }

    fn io(&self, e: std::io::Error) -> Error {
        Error::Io { path: self.file.path().to_owned(), message: e.to_string() }
    }
}

/// Transcribe `path`. With `vad`, only the runs of speech are transcribed (joined, as faster-whisper
/// does with its VAD filter), and times are mapped back. `scratch` holds the work files — the sound at
/// 16 kHz (3.8 MB a minute) and the features (1.9 MB a minute) — removed however this ends.
/// Progress: reading in seconds of sound, then transcribing in seconds.
pub fn transcribe(model: &dyn Transcribe, vad: Option<&SileroVad>, path: &Path, opts: &Options, scratch: &Path, job: &mut Job) -> Result<Transcription> {
    if let Some(code) = &opts.language
        && !model.knows_language(code)
    {
        return Err(Error::Invalid(format!("the speech model does not know the language \"{code}\" — give a code such as ja or en, or leave it out to detect it")));
    }
    let mut stream = AudioStream::open(path)?;
    std::fs::create_dir_all(scratch).map_err(|e| Error::Io { path: scratch.to_owned(), message: e.to_string() })?;
    let total_s = stream.duration().unwrap_or(0.0).ceil() as usize;
    job.enter(Phase::Reading, total_s);
    let mut features = Features::new(model, scratch)?;
    let pcm = if vad.is_some() { Some(tempfile::NamedTempFile::new_in(scratch).map_err(|e| Error::Io { path: scratch.to_owned(), message: e.to_string() })?) } else { None };
    let mut voice = vad.map(|v| v.stream());
    let mut samples = 0usize;
    {
        let mut pcm_out = pcm.as_ref().map(|f| BufWriter::new(f.as_file()));
        loop {
            job.check()?;
            let part = stream.read(READ)?;
            if part.is_empty() {
                break;
            }
            samples += part.len();
            match (&mut voice, &mut pcm_out) {
                (Some(v), Some(out)) => {
                    v.push(&part)?;
                    let bytes: Vec<u8> = part.iter().flat_map(|x| x.to_le_bytes()).collect();
                    out.write_all(&bytes).map_err(|e| Error::Io { path: scratch.to_owned(), message: e.to_string() })?;
                }
                _ => features.push(&part)?,
            }
            job.progress(samples / SAMPLE_RATE as usize, total_s.max(samples / SAMPLE_RATE as usize));
        }
        if let Some(out) = pcm_out.as_mut() {
            out.flush().map_err(|e| Error::Io { path: scratch.to_owned(), message: e.to_string() })?;
        }
    }
    if samples == 0 {
        return Err(Error::Media { path: path.to_owned(), message: "the recording is 0 seconds long — nothing to transcribe".into() });
    }
    let duration = samples as f64 / SAMPLE_RATE as f64;
    let map = match (voice, &pcm) {
        (Some(v), Some(pcm)) => {
            let (probs, len) = v.finish()?;
            let runs = speech::runs(&probs, len);
            if runs.is_empty() {
                return Ok(Transcription { language: opts.language.clone().unwrap_or_default(), language_probability: 0.0, duration, segments: Vec::new(), window_tokens: Vec::new() });
            }
            for r in &runs {
                let mut at = r.start;
                while at < r.end {
                    job.check()?;
                    let n = READ.min(r.end - at);
                    let mut bytes = vec![0u8; n * 4];
                    pcm.as_file().read_exact_at(&mut bytes, (at * 4) as u64).map_err(|e| Error::Io { path: pcm.path().to_owned(), message: e.to_string() })?;
                    let part: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
                    features.push(&part)?;
                    at += n;
                }
            }
            Some(speech::TimeMap::new(&runs))
        }
        _ => None,
    };
    drop(pcm);
    features.finish()?;
    let written = features.frames;
    let (language, language_probability) = match &opts.language {
        Some(code) => (code.clone(), 1.0),
        None => model.detect_language(&features.window(0, written.min(WINDOW_FRAMES))?)?,
    };
    // faster-whisper leaves out the last frame.
    let content = written - 1;
    job.enter(Phase::Transcribing, content / 100);
    let mut segments = Vec::new();
    let mut window_tokens = Vec::new();
    let mut seek = 0;
    while seek < content {
        job.check()?;
        let size = WINDOW_FRAMES.min(content - seek);
        let heard = model.window(&features.window(seek, size)?, size, &language)?;
        let offset = seek as f64 * mel::HOP as f64 / SAMPLE_RATE as f64;
        for (start, end, text) in heard.pieces {
            let (start, end) = (offset + start, offset + end);
            let (start, end) = match &map {
                Some(m) => m.segment(start, end),
                None => (start, end),
            };
            segments.push(Heard { start, end, text: text.trim().to_owned() });
        }
        window_tokens.push((seek, heard.tokens));
        // A window that does not move would be decoded again forever.
        seek += heard.advance.max(1);
        job.progress(seek.min(content) / 100, content / 100);
    }
    Ok(Transcription { language, language_probability, duration, segments, window_tokens })
}

impl Transcription {
    /// Revision 1 of a lecture, as an SRT of the same segments would be imported; `sha256` is the
    /// recording file's (the caller has it already: hashing an hour of video twice is not free).
    pub fn into_transcript(self, path: &Path, sha256: String) -> Result<ImportedTranscript> {
        let mut text = String::new();
        let mut segments = Vec::new();
        let mut chars = 0;
        for h in &self.segments {
            if !text.is_empty() {
                text.push('\n');
                chars += 1;
            }
            let n = h.text.chars().count();
            text.push_str(&h.text);
            segments.push(Segment { span: CharSpan::new(chars, chars + n), start_ms: Some((h.start * 1000.0).round() as u64), end_ms: Some((h.end * 1000.0).round() as u64) });
            chars += n;
        }
        if text.trim().is_empty() {
            return Err(Error::NoText { path: path.to_owned(), message: format!("no speech was heard in the {:.0} s of the recording — nothing to import", self.duration) });
        }
        let title = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        Ok(ImportedTranscript {
            text,
            segments,
            meta: LectureMeta { title, ..Default::default() },
            format: Format::Recording,
            encoding: "UTF-8".into(),
            source_sha256: sha256,
            file_name: path.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
        })
    }
}

pub fn file_sha256(path: &Path) -> Result<String> {
    crate::inference::manifest::sha256_file(path).map_err(|e| Error::Io { path: path.to_owned(), message: e.to_string() })
}
