//! Where a recording has speech, from the VAD's per-frame probabilities (faster-whisper's
//! `get_speech_timestamps` with its defaults for `transcribe(vad_filter=True)`), and the map from
//! times in the speech-only sound back to times in the recording.

use crate::inference::vad::FRAME;

/// Silero's speech threshold; a run of speech ends below `threshold − 0.15`.
const THRESHOLD: f32 = 0.5;
const NEG_THRESHOLD: f32 = 0.35;
/// Silence shorter than 2 s does not end a run of speech.
const MIN_SILENCE: usize = 16_000 * 2;
/// Runs are padded by 0.4 s each side (less where two runs are closer than 0.8 s).
const PAD: usize = 16_000 * 400 / 1000;

/// A run of speech, in samples [start, end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub start: usize,
    pub end: usize,
}

/// Runs of speech in a recording of `len` samples.
pub fn runs(probs: &[f32], len: usize) -> Vec<Run> {
    let mut triggered = false;
    let mut runs = Vec::new();
    let mut start = 0;
    let mut temp_end = 0;
    for (i, &p) in probs.iter().enumerate() {
        let at = FRAME * i;
        if p >= THRESHOLD && temp_end != 0 {
            temp_end = 0;
        }
        if p >= THRESHOLD && !triggered {
            triggered = true;
            start = at;
            continue;
        }
        if p < NEG_THRESHOLD && triggered {
            if temp_end == 0 {
                temp_end = at;
            }
            if at - temp_end < MIN_SILENCE {
                continue;
            }
            if temp_end > start {
                runs.push(Run { start, end: temp_end });
            }
            temp_end = 0;
            triggered = false;
        }
    }
    if triggered && len > start {
        runs.push(Run { start, end: len });
    }
    let n = runs.len();
    for i in 0..n {
        if i == 0 {
            runs[i].start = runs[i].start.saturating_sub(PAD);
        }
        if i + 1 < n {
            let silence = runs[i + 1].start - runs[i].end;
            if silence < 2 * PAD {
                runs[i].end += silence / 2;
                runs[i + 1].start = runs[i + 1].start.saturating_sub(silence / 2);
            } else {
                runs[i].end = (runs[i].end + PAD).min(len);
                runs[i + 1].start = runs[i + 1].start.saturating_sub(PAD);
            }
        } else {
            runs[i].end = (runs[i].end + PAD).min(len);
        }
    }
    runs
}

/// Times in the speech-only sound (the runs joined) back to times in the recording.
pub struct TimeMap {
    /// For each run: its end in the joined sound (samples), and the silence before it (seconds).
    ends: Vec<usize>,
    silence_before: Vec<f64>,
    /// Each run's end in the recording (seconds).
    run_ends: Vec<f64>,
}

impl TimeMap {
    pub fn new(runs: &[Run]) -> Self {
        let (mut ends, mut silence_before) = (Vec::new(), Vec::new());
        let run_ends = runs.iter().map(|r| (r.end as f64 / 16_000.0 * 100.0).round() / 100.0).collect();
        let (mut previous_end, mut silent) = (0, 0);
        for r in runs {
            silent += r.start - previous_end;
            previous_end = r.end;
            ends.push(r.end - silent);
            silence_before.push(silent as f64 / 16_000.0);
        }
        Self { ends, silence_before, run_ends }
    }

    /// A segment's start and end in the recording. Whisper often ends a segment at the next one's
    /// start; across a silence the VAD left out that end lies after the silence, so a segment is
    /// ended no later than the run of speech it starts in (what plays for it is then speech).
    pub fn segment(&self, start: f64, end: f64) -> (f64, f64) {
        let (s, e) = (self.original(start, false), self.original(end, true));
        if self.ends.is_empty() {
            return (s, e);
        }
        let sample = (start * 16_000.0) as usize;
        let i = self.ends.partition_point(|&x| x <= sample).min(self.ends.len() - 1);
        (s, e.min(self.run_ends[i]).max(s))
    }

    /// A segment boundary at `t` seconds of the joined sound; an end exactly at a run's end stays in
    /// that run.
    pub fn original(&self, t: f64, is_end: bool) -> f64 {
        if self.ends.is_empty() {
            return t;
        }
        let sample = (t * 16_000.0) as usize;
        let i = match self.ends.iter().position(|&e| e == sample) {
            Some(i) if is_end => i,
            _ => self.ends.partition_point(|&e| e <= sample).min(self.ends.len() - 1),
        };
        ((self.silence_before[i] + t) * 100.0).round() / 100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probs(pattern: &[(f32, usize)]) -> Vec<f32> {
        // (probability, frames of 32 ms) pieces
        pattern.iter().flat_map(|&(p, n)| std::iter::repeat_n(p, n)).collect()
    }

    #[test]
    fn silence_of_two_seconds_or_more_splits_speech_and_runs_are_padded() {
        // 1 s silence, 3 s speech, 1 s pause, 2 s speech, 5 s silence, 2 s speech, 1 s silence
        let p = probs(&[(0.0, 32), (0.9, 94), (0.1, 31), (0.9, 63), (0.0, 157), (0.9, 63), (0.0, 31)]);
        let len = p.len() * FRAME;
        let r = runs(&p, len);
        // The 1-s pause stays inside the first run; the 5-s silence splits.
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(r[0], Run { start: 32 * FRAME - PAD, end: 220 * FRAME + PAD });
        assert_eq!(r[1], Run { start: 377 * FRAME - PAD, end: len });
    }

    #[test]
    fn times_in_the_joined_speech_map_back_past_the_silences_left_out() {
        let runs = [Run { start: 16_000, end: 48_000 }, Run { start: 80_000, end: 96_000 }];
        let m = TimeMap::new(&runs);
        assert_eq!(m.original(0.5, false), 1.5); // 1 s of silence before run 1
        assert_eq!(m.original(2.0, true), 3.0); // the end of run 1 stays in run 1
        assert_eq!(m.original(2.0, false), 5.0); // a start there is in run 2 (3 s of silence before it)
        assert_eq!(m.original(2.5, false), 5.5);
        // A segment from 0.5 s to 2.5 s of the joined sound starts in run 1 and ends with it, not after
        // the silence.
        assert_eq!(m.segment(0.5, 2.5), (1.5, 3.0));
        assert_eq!(m.segment(2.2, 2.8), (5.2, 5.8));
    }
}
