//! Whisper's log-mel features, computed as samples arrive, equal to faster-whisper's feature extractor
//! over the whole recording: 160 zero samples appended, frames centred with 200 samples of reflection
//! at the start, a periodic Hann window of 400, |rfft|², the mel filterbank, log10 floored at 1e-10.
//! The last step (floor at the recording's maximum − 8, then (x + 4) / 4) needs the maximum over the
//! whole recording, so frames come out as raw log10 values and [`normalise`] is applied per window.

use realfft::{RealFftPlanner, RealToComplex};
use std::sync::Arc;

pub const N_FFT: usize = 400;
pub const HOP: usize = 160;
/// Mel bands of most Whisper models (large-v3 has 128; the filterbank file says which).
pub const N_MELS: usize = 80;
/// Mel frames in one 30-second window.
pub const WINDOW_FRAMES: usize = 3000;
const BINS: usize = N_FFT / 2 + 1;

pub struct LogMel {
    filters: Arc<Vec<f32>>,
    n_mels: usize,
    window: Vec<f64>,
    fft: Arc<dyn RealToComplex<f64>>,
    /// The padded stream from sample `base` on (the first 200 are the reflection at the start).
    buf: Vec<f32>,
    base: usize,
    /// Audio samples received.
    received: usize,
    /// Frames emitted.
    frames: usize,
    started: bool,
    max: f32,
    scratch_in: Vec<f64>,
    scratch_out: Vec<realfft::num_complex::Complex<f64>>,
    power: Vec<f32>,
}

impl LogMel {
    /// `filters`: [mels × 201] row-major (the model folder's `mel_filters.bin`).
    pub fn new(filters: Arc<Vec<f32>>) -> Self {
        assert!(!filters.is_empty() && filters.len() % BINS == 0, "mel filters must be [mels × 201]");
        let n_mels = filters.len() / BINS;
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(N_FFT);
        // np.hanning(401)[:-1], taken to f32 as faster-whisper does.
        let window = (0..N_FFT).map(|i| (0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / N_FFT as f64).cos()) as f32 as f64).collect();
        let scratch_in = fft.make_input_vec();
        let scratch_out = fft.make_output_vec();
        Self { filters, n_mels, window, fft, buf: Vec::new(), base: 0, received: 0, frames: 0, started: false, max: f32::NEG_INFINITY, scratch_in, scratch_out, power: vec![0.0; BINS] }
    }

    pub fn n_mels(&self) -> usize {
        self.n_mels
    }

    /// The largest raw log10 value so far (the recording's, once finished).
    pub fn max(&self) -> f32 {
        self.max
    }

    /// Feed samples; frames whose window is complete are appended to `out` (80 values each).
    pub fn push(&mut self, samples: &[f32], out: &mut Vec<f32>) {
        self.received += samples.len();
        self.buf.extend_from_slice(samples);
        if !self.started {
            if self.buf.len() <= N_FFT / 2 {
                return; // the reflection needs 201 samples
            }
            self.start();
        }
        self.emit(false, out);
    }

    /// The end of the recording: the remaining frames, `len / 160 + 1` in all.
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        if !self.started {
            self.start();
        }
        self.buf.extend(std::iter::repeat_n(0.0, HOP + N_FFT / 2));
        self.emit(true, out);
    }

    fn start(&mut self) {
        // numpy's "reflect": x[200], …, x[1] before x[0] (shorter clips reflect what there is).
        let n = (N_FFT / 2).min(self.buf.len().saturating_sub(1));
        let mut pre: Vec<f32> = (1..=n).rev().map(|i| self.buf[i]).collect();
        pre.splice(0..0, std::iter::repeat_n(0.0, N_FFT / 2 - n));
        self.buf.splice(0..0, pre);
        self.started = true;
    }

    fn emit(&mut self, last: bool, out: &mut Vec<f32>) {
        let total = self.received / HOP + 1;
        loop {
            if last && self.frames >= total {
                break;
            }
            let start = self.frames * HOP - self.base;
            if start + N_FFT > self.buf.len() {
                break;
            }
            for (k, x) in self.scratch_in.iter_mut().enumerate() {
                *x = (self.buf[start + k] * self.window[k] as f32) as f64;
            }
            self.fft.process(&mut self.scratch_in, &mut self.scratch_out).expect("FFT of the planned length");
            for (p, c) in self.power.iter_mut().zip(&self.scratch_out) {
                let (re, im) = (c.re as f32, c.im as f32);
                *p = re * re + im * im;
            }
            for m in 0..self.n_mels {
                let row = &self.filters[m * BINS..(m + 1) * BINS];
                let mel: f32 = row.iter().zip(&self.power).map(|(a, b)| a * b).sum();
                let v = mel.max(1e-10).log10();
                self.max = self.max.max(v);
                out.push(v);
            }
            self.frames += 1;
        }
        // Keep only what later frames still read.
        let keep_from = (self.frames * HOP).saturating_sub(self.base);
        if keep_from > 0 && keep_from <= self.buf.len() {
            self.buf.drain(..keep_from);
            self.base += keep_from;
        }
    }
}

/// Raw frames (frame-major, `n_mels` each) into one model window: the values floored at `max − 8` and
/// scaled, transposed to [n_mels × 3000], and padded with zeros past the last frame (faster-whisper
/// pads the features, not the audio).
pub fn normalise(frames: &[f32], n_mels: usize, max: f32) -> Vec<f32> {
    let n = (frames.len() / n_mels).min(WINDOW_FRAMES);
    let mut w = vec![0.0f32; n_mels * WINDOW_FRAMES];
    let floor = max - 8.0;
    for t in 0..n {
        for m in 0..n_mels {
            w[m * WINDOW_FRAMES + t] = (frames[t * n_mels + m].max(floor) + 4.0) / 4.0;
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters() -> Arc<Vec<f32>> {
        // Any filterbank shows the streaming; each mel band sums a different bin range.
        Arc::new((0..N_MELS * BINS).map(|i| if (i % BINS) / 3 == (i / BINS) % 67 { 1.0 } else { 0.0 }).collect())
    }

    fn all_at_once(audio: &[f32]) -> Vec<f32> {
        let mut m = LogMel::new(filters());
        let mut out = Vec::new();
        m.push(audio, &mut out);
        m.finish(&mut out);
        out
    }

    #[test]
    fn frames_do_not_depend_on_how_the_samples_arrive() {
        let audio: Vec<f32> = (0..16_000 * 3 + 77).map(|i| ((i as f32 * 0.013).sin() + (i as f32 * 0.0071).cos()) * 0.3).collect();
        let whole = all_at_once(&audio);
        assert_eq!(whole.len() / N_MELS, audio.len() / HOP + 1);
        let mut m = LogMel::new(filters());
        let mut parts = Vec::new();
        for piece in audio.chunks(1234) {
            m.push(piece, &mut parts);
        }
        m.finish(&mut parts);
        assert_eq!(parts, whole);
    }

    #[test]
    fn the_first_frame_sees_the_reflection_and_the_last_the_zeros_after_the_end() {
        // A ramp: frame 0 is centred on sample 0 with x[200..1] mirrored before it.
        let audio: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        let mut mirrored: Vec<f32> = (1..=200).rev().map(|i| audio[i]).collect();
        mirrored.extend_from_slice(&audio[..200]);
        let mut reference = LogMel::new(filters());
        let mut frame0 = Vec::new();
        reference.started = true;
        reference.buf = mirrored;
        reference.received = 400;
        reference.emit(false, &mut frame0);
        assert_eq!(&all_at_once(&audio)[..N_MELS], &frame0[..N_MELS]);
        // 1,000 samples → 1000 / 160 + 1 = 7 frames.
        assert_eq!(all_at_once(&audio).len(), 7 * N_MELS);
    }

    #[test]
    fn a_window_is_floored_scaled_transposed_and_padded_with_zeros() {
        let frames = vec![-20.0f32, 1.0].repeat(N_MELS / 2); // one frame
        let w = normalise(&frames, N_MELS, 2.0);
        assert_eq!(w.len(), N_MELS * WINDOW_FRAMES);
        assert_eq!(w[0], (-6.0 + 4.0) / 4.0); // floored at 2 − 8
        assert_eq!(w[WINDOW_FRAMES], (1.0 + 4.0) / 4.0); // mel 1, frame 0
        assert_eq!(w[1], 0.0); // frame 1 is padding
    }
}
