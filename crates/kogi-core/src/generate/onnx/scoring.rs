//! Token log-probabilities of a given text under the ONNX model (what the suspicious-passage scan
//! and a suggestion's check need): windowed forward passes over fresh KV caches, no generation.

use super::LanguageModel;
use crate::generate::{TokenScore, TokenWindows};
use crate::text::CharSpan;
use crate::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};

/// The window starts for `n` tokens: 0, stride, 2·stride … until a window reaches the end.
pub fn window_starts(n: usize, window: usize, stride: usize) -> Vec<usize> {
    if n < 2 {
        return Vec::new();
    }
    let mut starts = vec![0];
    let mut s = 0;
    while s + window < n {
        s += stride;
        starts.push(s);
    }
    starts
}

/// −ln p(token) under `logits`, computed as `ln Σ exp(x − max) − (x_token − max)`.
pub fn surprisal(logits: &[f32], token: u32) -> f32 {
    let max = logits.iter().copied().filter(|v| !v.is_nan()).fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().filter(|v| !v.is_nan()).map(|&v| f64::from((v - max).exp())).sum();
    let x = logits.get(token as usize).copied().unwrap_or(f32::NEG_INFINITY);
    (sum.ln() as f32) - (x - max)
}

impl LanguageModel {
    /// Every token of `text` (no special tokens) with the code points it covers and its
    /// log-probability. Windows of `windows.tokens` start every `windows.stride`; each is one forward
    /// pass over a fresh KV cache returning the logits of all its positions, and scores the tokens the
    /// previous window did not reach. The first token has no left context and is not scored.
    pub fn score_tokens(
        &mut self,
        text: &str,
        windows: TokenWindows,
        progress: &mut dyn FnMut(usize, usize),
        cancel: &AtomicBool,
    ) -> Result<Vec<TokenScore>> {
        let enc = self
            .tokenizer
            .tokenizer()
            .encode_char_offsets(text, false)
            .map_err(|e| Error::Model { model: self.name.clone(), message: format!("tokenizer: {e}") })?;
        let ids = enc.get_ids();
        let n = ids.len();
        let mut out: Vec<TokenScore> = enc
            .get_offsets()
            .iter()
            .map(|&(s, e)| TokenScore { span: CharSpan::new(s, e.max(s)), logprob: None })
            .collect();
        let starts = window_starts(n, windows.tokens, windows.stride);
        let total = starts.len();
        progress(0, total);
        let vocab = self.decoder.info.vocab;
        // Tokens before `done` have a score (or, the first, never will).
        let mut done = 1;
        for (k, &start) in starts.iter().enumerate() {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            let end = (start + windows.tokens).min(n);
            let piece = &ids[start..end];
            let mut cache = self.decoder.new_cache(1, piece.len())?;
            let logits = self.decoder.forward(&mut cache, piece, piece.len())?;
            // The logits at window position i predict token start + i + 1.
            for j in done.max(start + 1)..end {
                let i = j - start - 1;
                out[j].logprob = Some(-surprisal(&logits[i * vocab..(i + 1) * vocab], ids[j]));
            }
            done = end;
            progress(k + 1, total);
        }
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        Ok(out)
    }

    /// Total log-probability (nats) of `text`, after BOS when the tokenizer has one (the last
    /// `context` tokens if it is longer than the model's window).
    pub fn document_logprob(&mut self, text: &str) -> Result<f64> {
        let mut ids: Vec<u32> = self.tokenizer.bos_id().into_iter().collect();
        ids.extend(self.tokenizer.encode(text)?);
        let ids = &ids[ids.len().saturating_sub(self.decoder.info.context)..];
        if ids.len() < 2 {
            return Ok(0.0);
        }
        let vocab = self.decoder.info.vocab;
        let mut cache = self.decoder.new_cache(1, ids.len())?;
        let logits = self.decoder.forward(&mut cache, ids, ids.len())?;
        Ok((1..ids.len()).map(|j| -f64::from(surprisal(&logits[(j - 1) * vocab..j * vocab], ids[j]))).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_overlap_and_reach_the_end() {
        assert!(window_starts(1, 256, 192).is_empty());
        assert_eq!(window_starts(100, 256, 192), vec![0]);
        assert_eq!(window_starts(256, 256, 192), vec![0]);
        assert_eq!(window_starts(257, 256, 192), vec![0, 192]);
        assert_eq!(window_starts(600, 256, 192), vec![0, 192, 384]);
    }

    #[test]
    fn surprisal_is_the_negative_log_softmax() {
        let logits = [1.0f32, 2.0, 3.0];
        let lp = crate::generate::sampling::log_softmax(&logits);
        for t in 0..3 {
            assert!((surprisal(&logits, t) + lp[t as usize]).abs() < 1e-5);
        }
    }
}
