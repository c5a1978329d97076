//! A recording's sound as 16 kHz mono samples, read a piece at a time: audio files and the audio
//! track of videos (WAV, FLAC, MP3, AAC/M4A/MP4/MOV, Ogg Vorbis, MKV/WebM, AIFF, CAF) through
//! symphonia, down-mixed, and resampled with rubato's FFT resampler. Nothing holds the whole file.

use crate::{Error, Result};
use rubato::audioadapter_buffers::direct::SequentialSliceOfVecs;
use rubato::{Fft, FixedSync, Indexing, Resampler};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

/// The rate every model here listens at.
pub const SAMPLE_RATE: u32 = 16_000;

/// Source frames per resampler call.
const CHUNK: usize = 4096;

/// A recording opened for reading: `read` returns the next samples at 16 kHz, mono, in [-1, 1].
pub struct AudioStream {
    path: PathBuf,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track: u32,
    /// The source's rate and channels (taken from the first decoded packet when the container
    /// does not say).
    rate: u32,
    /// Expected length in seconds, when the container says.
    duration: Option<f64>,
    interleaved: Vec<f32>,
    /// Mono samples at the source rate, not yet resampled.
    pending: Vec<f32>,
    resampler: Option<Fft<f32>>,
    /// Output frames still to drop: the resampler's delay.
    skip: usize,
    /// Frames read from the source, and produced at 16 kHz (to cut the resampler's tail exactly).
    source_frames: u64,
    produced: u64,
    out: VecDeque<f32>,
    ended: bool,
}

impl AudioStream {
    pub fn open(path: &Path) -> Result<Self> {
        let media = |message: String| Error::Media { path: path.to_owned(), message };
        let file = std::fs::File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound { path: path.to_owned() },
            _ => Error::Io { path: path.to_owned(), message: e.to_string() },
        })?;
        if file.metadata().map(|m| m.len()).unwrap_or(0) == 0 {
            return Err(Error::EmptyFile { path: path.to_owned() });
        }
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        let format = symphonia::default::get_probe()
            .probe(&hint, mss, FormatOptions::default(), MetadataOptions::default())
            .map_err(|e| media(format!("kogi cannot read this file as audio or video ({e}) — {FORMATS}")))?;
        let Some(track) = format.default_track(TrackType::Audio) else {
            let video = format.default_track(TrackType::Video).is_some();
            return Err(media(if video {
                "the video has no sound track — nothing to transcribe".into()
            } else {
                format!("the file holds no audio track — {FORMATS}")
            }));
        };
        let params = track.codec_params.as_ref().and_then(|p| p.audio()).cloned().ok_or_else(|| {
            media(format!("the audio track's codec is not one kogi can decode — {FORMATS}"))
        })?;
        let decoder = symphonia::default::get_codecs().make_audio_decoder(&params, &AudioDecoderOptions::default()).map_err(|e| {
            media(format!("the audio track's codec is not one kogi can decode ({e}) — convert it to WAV, FLAC, MP3 or AAC (M4A) first"))
        })?;
        let rate = params.sample_rate.unwrap_or(0);
        let duration = match (track.num_frames, rate) {
            (Some(n), r) if r > 0 => Some(n as f64 / r as f64),
            _ => None,
        };
        let track = track.id;
        Ok(Self {
            path: path.to_owned(),
            format,
            decoder,
            track,
            rate,
            duration,
            interleaved: Vec::new(),
            pending: Vec::new(),
            resampler: None,
            skip: 0,
            source_frames: 0,
            produced: 0,
            out: VecDeque::new(),
            ended: false,
        })
    }

    /// Length in seconds as the container states it (`None` when it does not).
    pub fn duration(&self) -> Option<f64> {
        self.duration
    }

    /// Up to `max` samples; fewer only at the end, and an empty vector after it.
    pub fn read(&mut self, max: usize) -> Result<Vec<f32>> {
        while self.out.len() < max && !self.ended {
            self.fill()?;
        }
        let n = max.min(self.out.len());
        Ok(self.out.drain(..n).collect())
    }

    /// Decode packets until there is output or the stream ends.
    fn fill(&mut self) -> Result<()> {
        let packet = match self.format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) | Err(SymphoniaError::ResetRequired) => return self.finish(),
            // A file cut short ends where it was cut: what came before is kept.
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return self.finish(),
            Err(e) => return Err(self.broken(e)),
        };
        if packet.track_id != self.track {
            return Ok(());
        }
        let buf = match self.decoder.decode(&packet) {
            Ok(b) => b,
            // One damaged packet is skipped, as players do.
            Err(SymphoniaError::DecodeError(_)) => return Ok(()),
            Err(e) => return Err(self.broken(e)),
        };
        let (rate, channels) = (buf.spec().rate(), buf.spec().channels().count().max(1));
        if self.rate == 0 || self.resampler.is_none() && self.source_frames == 0 {
            self.rate = rate;
        }
        if rate != self.rate {
            return Err(Error::Media { path: self.path.clone(), message: format!("the sample rate changes inside the file ({} → {rate} Hz) — convert it to a plain WAV or FLAC first", self.rate) });
        }
        self.interleaved.resize(buf.samples_interleaved(), 0.0);
        buf.copy_to_slice_interleaved(&mut self.interleaved);
        let scale = 1.0 / channels as f32;
        self.pending.extend(self.interleaved.chunks_exact(channels).map(|f| f.iter().sum::<f32>() * scale));
        self.source_frames += buf.frames() as u64;
        self.resample(false)
    }

    fn finish(&mut self) -> Result<()> {
        self.resample(true)?;
        self.ended = true;
        // Damaged data often reads as a short, clean end: compare with the length the container
        // states (only roughly known for some MP3s, hence the wide margin).
        if let Some(d) = self.duration {
            let got = self.source_frames as f64 / self.rate.max(1) as f64;
            if d > 1.0 && got < d * 0.5 {
                return Err(Error::Media {
                    path: self.path.clone(),
                    message: format!("the file is damaged: only {got:.1} s of its {d:.1} s could be decoded — try another copy of the recording"),
                });
            }
        }
        Ok(())
    }

    /// Move whole chunks of `pending` through the resampler (at the end also the rest, and the
    /// resampler's tail up to the exact output length).
    fn resample(&mut self, last: bool) -> Result<()> {
        if self.rate == SAMPLE_RATE {
            self.produced += self.pending.len() as u64;
            self.out.extend(self.pending.drain(..));
            return Ok(());
        }
        if self.rate == 0 {
            return Ok(()); // nothing decoded yet
        }
        if self.resampler.is_none() {
            let r = Fft::<f32>::new(self.rate as usize, SAMPLE_RATE as usize, CHUNK, 1, FixedSync::Input)
                .map_err(|e| Error::Media { path: self.path.clone(), message: format!("cannot resample {} Hz audio: {e}", self.rate) })?;
            self.skip = r.output_delay();
            self.resampler = Some(r);
        }
        let want = (self.source_frames as u128 * SAMPLE_RATE as u128 / self.rate as u128) as u64;
        let path = self.path.clone();
        let r = self.resampler.as_mut().expect("made above");
        let mut output = vec![vec![0.0f32; r.output_frames_max()]];
        loop {
            let need = r.input_frames_next();
            let partial = self.pending.len() < need;
            if partial && !(last && (self.produced < want)) {
                break;
            }
            let take = need.min(self.pending.len());
            let input = vec![self.pending.drain(..take).collect::<Vec<f32>>()];
            let indexing = Indexing { input_offset: 0, output_offset: 0, partial_len: partial.then_some(take), active_channels_mask: None };
            let in_adapter = SequentialSliceOfVecs::new(&input, 1, take).map_err(|e| Error::Runtime(e.to_string()))?;
            let frames = output[0].len();
            let mut out_adapter = SequentialSliceOfVecs::new_mut(&mut output, 1, frames).map_err(|e| Error::Runtime(e.to_string()))?;
            let (_, made) = r
                .process_into_buffer(&in_adapter, &mut out_adapter, Some(&indexing))
                .map_err(|e| Error::Media { path: path.clone(), message: format!("resampling failed: {e}") })?;
            let dropped = self.skip.min(made);
            self.skip -= dropped;
            let keep = &output[0][dropped..made];
            let room = if last { (want - self.produced).min(keep.len() as u64) as usize } else { keep.len() };
            self.out.extend(&keep[..room]);
            self.produced += room as u64;
            if last && self.produced >= want {
                break;
            }
        }
        Ok(())
    }

    fn broken(&self, e: SymphoniaError) -> Error {
        Error::Media { path: self.path.clone(), message: format!("the file is damaged and cannot be decoded further ({e})") }
    }
}

/// File name endings of recordings (a transcript file is read as text). Some are formats kogi cannot
/// decode: they are still recordings, refused as such rather than as text that looks binary.
pub const EXTENSIONS: &[&str] = &[
    "wav", "wave", "flac", "mp3", "m4a", "aac", "mp4", "m4v", "mov", "ogg", "oga", "opus", "webm", "mkv", "mka", "aif", "aiff", "caf",
    "wma", "wmv", "asf", "avi", "flv", "3gp", "amr", "ac3", "ape", "wv",
];

/// Whether `path` names a recording (by its ending) rather than a transcript.
pub fn is_recording(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

const FORMATS: &str = "kogi reads WAV, FLAC, MP3, AAC (M4A), MP4/MOV, Ogg Vorbis, MKV/WebM, AIFF and CAF";

/// The whole recording at 16 kHz (for tests and short clips only).
pub fn read_all(path: &Path) -> Result<Vec<f32>> {
    let mut s = AudioStream::open(path)?;
    let mut all = Vec::new();
    loop {
        let part = s.read(1 << 16)?;
        if part.is_empty() {
            return Ok(all);
        }
        all.extend(part);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(path: &Path, rate: u32, channels: u16, samples: &[i16]) {
        let data_len = (samples.len() * 2) as u32;
        let mut b = Vec::new();
        b.extend(b"RIFF");
        b.extend((36 + data_len).to_le_bytes());
        b.extend(b"WAVEfmt ");
        b.extend(16u32.to_le_bytes());
        b.extend(1u16.to_le_bytes());
        b.extend(channels.to_le_bytes());
        b.extend(rate.to_le_bytes());
        b.extend((rate * channels as u32 * 2).to_le_bytes());
        b.extend((channels * 2).to_le_bytes());
        b.extend(16u16.to_le_bytes());
        b.extend(b"data");
        b.extend(data_len.to_le_bytes());
        for s in samples {
            b.extend(s.to_le_bytes());
        }
        std::fs::write(path, b).unwrap();
    }

    fn tone(rate: u32, seconds: f64, hz: f64) -> Vec<i16> {
        (0..(rate as f64 * seconds) as usize).map(|i| ((i as f64 / rate as f64 * hz * std::f64::consts::TAU).sin() * 16000.0) as i16).collect()
    }

    #[test]
    fn a_44k_stereo_file_becomes_16k_mono_of_the_same_length_and_pitch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        let mono = tone(44_100, 2.0, 440.0);
        let stereo: Vec<i16> = mono.iter().flat_map(|&s| [s, s]).collect();
        wav(&path, 44_100, 2, &stereo);
        let s = AudioStream::open(&path).unwrap();
        assert!((s.duration().unwrap() - 2.0).abs() < 1e-6);
        let out = read_all(&path).unwrap();
        assert_eq!(out.len(), 32_000);
        // Same pitch: 440 Hz crosses zero 880 times a second.
        let crossings = out[1600..30400].windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
        assert!((crossings as f64 - 440.0 * 1.8).abs() < 3.0, "{crossings}");
        // Same loudness (no gain from down-mixing or resampling).
        let peak = out[1600..30400].iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!((peak - 16000.0 / 32768.0).abs() < 0.02, "{peak}");
    }

    #[test]
    fn a_16k_file_is_read_sample_for_sample() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.wav");
        let samples = tone(16_000, 1.0, 300.0);
        wav(&path, 16_000, 1, &samples);
        let out = read_all(&path).unwrap();
        assert_eq!(out.len(), samples.len());
        for (a, b) in out.iter().zip(&samples) {
            assert!((a - *b as f32 / 32768.0).abs() < 1e-6);
        }
    }

    #[test]
    fn files_that_are_not_audio_are_refused_with_what_kogi_reads() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.mp3");
        std::fs::write(&text, "これは音声ではありません".repeat(100)).unwrap();
        let e = AudioStream::open(&text).err().unwrap().to_string();
        assert!(e.contains("cannot read this file as audio") && e.contains("kogi reads WAV"), "{e}");
        let empty = dir.path().join("empty.wav");
        std::fs::write(&empty, "").unwrap();
        assert!(matches!(AudioStream::open(&empty), Err(Error::EmptyFile { .. })));
    }
}
