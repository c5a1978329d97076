//! Whisper's decoding rules as faster-whisper (CTranslate2) applies them in greedy decoding, and how
//! a window's tokens become timed segments. The specification, with the reasons for each rule, is
//! `models/tools/whisper_reference.py`, checked token for token against faster-whisper.

/// Seconds per timestamp token.
pub const TIME_PRECISION: f64 = 0.02;
/// Mel frames per timestamp step (the encoder halves the 100 frames a second).
pub const INPUT_STRIDE: usize = 2;
/// Most tokens sampled in one window.
pub const SAMPLE_LEN: usize = 224;
pub const MAX_INITIAL_TIMESTAMP: f64 = 1.0;
pub const NO_SPEECH_THRESHOLD: f32 = 0.6;
pub const LOG_PROB_THRESHOLD: f32 = -1.0;

#[derive(Debug, Clone)]
pub struct Specials {
    pub sot: u32,
    pub eot: u32,
    pub transcribe: u32,
    pub no_timestamps: u32,
    pub timestamp_begin: u32,
    pub no_speech: u32,
}

/// Log-softmax in place.
pub fn log_softmax(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = x.iter().map(|v| (v - max).exp()).sum();
    let log_sum = max + sum.ln();
    x.iter_mut().for_each(|v| *v -= log_sum);
}

/// The logit rules before choosing the next token, in CTranslate2's order: suppressed tokens,
/// blank at the start, no `<|notimestamps|>`, then the timestamp rules. `tokens`: sampled so far.
pub fn suppress(x: &mut [f32], tokens: &[u32], sp: &Specials, suppress: &[u32], suppress_begin: &[u32]) {
    let ninf = f32::NEG_INFINITY;
    let ts = sp.timestamp_begin as usize;
    for &t in suppress {
        x[t as usize] = ninf;
    }
    if tokens.is_empty() {
        for &t in suppress_begin {
            x[t as usize] = ninf;
        }
    }
    x[sp.no_timestamps as usize] = ninf;
    if tokens.is_empty() {
        // The window opens with a timestamp, at most 1 s in.
        x[..ts].fill(ninf);
        let last = ts + (MAX_INITIAL_TIMESTAMP / TIME_PRECISION).round() as usize + 1;
        if last < x.len() {
            x[last..].fill(ninf);
        }
        return;
    }
    let mut check_mass = true;
    let last = *tokens.last().expect("not empty");
    if last >= sp.timestamp_begin {
        let penultimate = if tokens.len() >= 2 { tokens[tokens.len() - 2] } else { last };
        if penultimate >= sp.timestamp_begin {
            x[ts..].fill(ninf);
            check_mass = false;
        } else {
            x[..sp.eot as usize].fill(ninf);
        }
    }
    // Timestamps never go back (the same one again is allowed, as in CTranslate2).
    if let Some(&last_ts) = tokens.iter().rev().find(|&&t| t >= sp.timestamp_begin) {
        x[ts..last_ts as usize].fill(ninf);
    }
    if check_mass {
        let mut lp = x.to_vec();
        log_softmax(&mut lp);
        let ts_max = lp[ts..].iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mass = if ts_max.is_finite() { ts_max + lp[ts..].iter().map(|v| (v - ts_max).exp()).sum::<f32>().ln() } else { ninf };
        let text_max = lp[..ts].iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if mass > text_max {
            x[..ts].fill(ninf);
        }
    }
}

/// A piece of a window: tokens between two timestamps, with times in seconds from the window start.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    pub start: f64,
    pub end: f64,
    pub tokens: Vec<u32>,
}

/// A window's pieces and how many mel frames the next window starts after this one's start
/// (faster-whisper's `_split_segments_by_timestamps`).
pub fn split(tokens: &[u32], window_frames: usize, ts_begin: u32) -> (Vec<Piece>, usize) {
    let at = |t: u32| (t - ts_begin) as f64 * TIME_PRECISION;
    let is_ts = |t: u32| t >= ts_begin;
    let mut cuts: Vec<usize> = (1..tokens.len()).filter(|&i| is_ts(tokens[i]) && is_ts(tokens[i - 1])).collect();
    let single_ending = tokens.len() >= 2 && !is_ts(tokens[tokens.len() - 2]) && is_ts(tokens[tokens.len() - 1]);
    if !cuts.is_empty() {
        if single_ending {
            cuts.push(tokens.len());
        }
        let mut pieces = Vec::new();
        let mut last = 0;
        for &cut in &cuts {
            let part = &tokens[last..cut];
            pieces.push(Piece { start: at(part[0]), end: at(part[part.len() - 1]), tokens: part.to_vec() });
            last = cut;
        }
        if single_ending {
            return (pieces, window_frames);
        }
        return (pieces, (tokens[last - 1] - ts_begin) as usize * INPUT_STRIDE);
    }
    let mut duration = window_frames as f64 * 160.0 / 16000.0;
    if let Some(&t) = tokens.iter().rev().find(|&&t| is_ts(t))
        && t != ts_begin
    {
        duration = at(t);
    }
    (vec![Piece { start: 0.0, end: duration, tokens: tokens.to_vec() }], window_frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TS: u32 = 100;

    fn sp() -> Specials {
        Specials { sot: 90, eot: 91, transcribe: 92, no_timestamps: 93, timestamp_begin: TS, no_speech: 94 }
    }

    #[test]
    fn the_first_token_is_a_timestamp_within_the_first_second() {
        let mut x = vec![0.0f32; 200];
        suppress(&mut x, &[], &sp(), &[5], &[6]);
        assert!(x[..100].iter().all(|v| v.is_infinite()));
        assert!(x[100..=150].iter().all(|v| v.is_finite()));
        assert!(x[151..].iter().all(|v| v.is_infinite()));
    }

    #[test]
    fn after_a_timestamp_pair_comes_text_and_timestamps_never_go_back() {
        let mut x = vec![0.0f32; 200];
        suppress(&mut x, &[100, 10, 120, 120], &sp(), &[], &[]);
        assert!(x[100..].iter().all(|v| v.is_infinite()), "a pair closed: text or end next");
        let mut x = vec![0.0f32; 200];
        x[115] = 9.0; // a likely earlier timestamp is still impossible
        suppress(&mut x, &[100, 10, 120, 120, 11], &sp(), &[], &[]);
        assert!(x[100..120].iter().all(|v| v.is_infinite()));
    }

    #[test]
    fn a_window_splits_at_timestamp_pairs_and_the_next_starts_at_the_last_complete_one() {
        // <|0.00|> a b <|1.00|><|1.20|> c <|2.00|><|2.40|> d   (d unfinished)
        let toks = [100, 1, 2, 150, 160, 3, 200, 220, 4];
        let (pieces, advance) = split(&toks, 3000, TS);
        assert_eq!(pieces.len(), 2);
        assert_eq!((pieces[0].start, pieces[0].end), (0.0, 1.0));
        assert!((pieces[1].start - 1.2).abs() < 1e-9 && (pieces[1].end - 2.0).abs() < 1e-9);
        assert_eq!(advance, 200); // <|2.00|> = 100 steps = 200 frames
        // Ending on a single timestamp: everything was said, the next window starts after this one.
        let (pieces, advance) = split(&[100, 1, 150, 150, 2, 170], 3000, TS);
        assert_eq!((pieces.len(), advance), (2, 3000));
    }
}
