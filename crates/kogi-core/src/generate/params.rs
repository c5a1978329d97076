//! What a generation is asked for and what it gives back, whatever engine runs it.

use super::sampling::SamplingParams;
use super::speculative::NgramConfig;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GenerateParams {
    pub max_new_tokens: usize,
    pub sampling: SamplingParams,
    /// Generation stops before any of these strings (they are not part of the answer).
    pub stop_strings: Vec<String>,
    /// Extra stop ids besides the model's end-of-turn ids.
    pub stop_ids: Vec<u32>,
    /// n-gram speculation (greedy decoding only; output identical to plain greedy).
    pub speculative: Option<NgramConfig>,
    /// Prompt tokens per prefill pass.
    pub prefill_chunk: usize,
    /// Decode greedy answers with two-row steps so every logit equals an uncached pass bit for bit
    /// (see below). Off: one-row steps, faster on CPU int4 models, but their numbers differ slightly
    /// from multi-row passes, so speculative output would no longer be identical to it. Sampled
    /// answers always step one row at a time: they have no speculative twin to equal.
    pub exact_steps: bool,
}

impl Default for GenerateParams {
    fn default() -> Self {
        Self {
            max_new_tokens: 256,
            sampling: SamplingParams::default(),
            stop_strings: Vec::new(),
            stop_ids: Vec::new(),
            speculative: None,
            prefill_chunk: 512,
            exact_steps: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    EndOfTurn,
    StopString,
    /// Cut at `max_new_tokens`: the answer may be incomplete.
    MaxTokens,
    /// The model's context window is full.
    ContextFull,
    Cancelled,
    /// The engine stopped sending mid-answer (a server's stream cut): what arrived is kept.
    Interrupted,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ts_rs::TS)]
pub struct GenerationStats {
    pub prompt_tokens: usize,
    pub new_tokens: usize,
    pub forward_passes: u64,
    /// Milliseconds from the call to the first new token.
    pub ttft_ms: f64,
    /// New tokens after the first, per second of the time after the first.
    pub decode_tokens_per_s: f64,
    pub total_ms: f64,
    pub drafted: usize,
    pub accepted: usize,
    /// Of the drafted tokens, those from the model's own bigram table, and how many were kept.
    #[serde(default)]
    pub model_drafted: usize,
    #[serde(default)]
    pub model_accepted: usize,
}

impl GenerationStats {
    pub fn acceptance_rate(&self) -> f64 {
        if self.drafted == 0 { 0.0 } else { self.accepted as f64 / self.drafted as f64 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Generation {
    pub tokens: Vec<u32>,
    pub text: String,
    pub finish: FinishReason,
    pub stats: GenerationStats,
    /// Sum of the model's log-probabilities of the generated tokens (unmodified distribution).
    pub logprob: f64,
    /// Why the answer stopped early, when the engine broke off (`FinishReason::Interrupted`).
    #[serde(default)]
    pub interrupted: Option<String>,
}

impl Generation {
    /// Mean log-probability per token: a length-fair confidence score (best-of-N).
    pub fn mean_logprob(&self) -> f64 {
        // A server's reply has no token ids, only its count.
        let n = if self.tokens.is_empty() { self.stats.new_tokens } else { self.tokens.len() };
        if n == 0 { f64::NEG_INFINITY } else { self.logprob / n as f64 }
    }
}
