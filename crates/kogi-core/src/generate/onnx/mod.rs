//! The ONNX engine: a chat model (decoder + tokenizer + template) run by ONNX Runtime, and its
//! generation loop — prefill, then token by token (or, greedily, several at once with n-gram
//! speculation: [`super::speculative`]), streaming text as it is produced, stopping on end-of-turn
//! ids, stop strings, the token limit or a cancel flag.
//!
//! Parts: [`decoder`] (the session, KV cache, prefill and steps), [`device_steps`] (GPU decode steps
//! from fixed buffers, replayed as CUDA graphs), [`graph`] (every graph kogi adds to or builds beside
//! a model), [`batch`] (several sequences at once: samples, beams), [`scoring`] (token
//! log-probabilities of a given text).

pub mod attention;
pub mod batch;
pub mod decoder;
mod device_steps;
pub mod graph;
pub mod nbits;
mod pages;
pub mod scoring;

/// The domain nodes switched to kogi's CPU kernels ([`attention`], [`nbits`]) are put in: as long
/// as `com.microsoft`, so the switch rewrites the name in place ([`graph::with_own_kernels`]).
pub const DOMAIN: &str = "kogi.kern.cpu";
const _: () = assert!(DOMAIN.len() == "com.microsoft".len());

/// What a second row adds to a one-row step on kogi's CPU kernels, as a share of the step: 0.29 for
/// SmolLM2 at 283 cached tokens on a 2-core Zen 5 with AVX-512 (`kogi bench generate --verify-k 2`),
/// about 0.25 at 2,900; 0.26–0.30 on a 2-core Zen 3 with AVX2 only (0.54 before its attention and
/// four-bit sums had intrinsics). Model drafts must keep more than this share of their tokens to pay.
pub fn one_row_step_row_cost() -> f64 {
    if nbits::vector() { 0.3 } else { 0.55 }
}

/// The drafter's row cost ([`NgramDrafter::with_row_cost`]) where plain greedy steps feed
/// `step_rows` rows: a second row is already paid for by two-row exact steps.
pub fn draft_row_cost(step_rows: usize) -> f64 {
    if step_rows == 1 { one_row_step_row_cost() } else { 0.0 }
}

/// The operator domain to register on a session that runs switched nodes.
pub fn kernels_domain() -> ort::Result<ort::operator::OperatorDomain> {
    ort::operator::OperatorDomain::new(DOMAIN)?.add(attention::GroupQueryAttention)?.add(nbits::MatMulNBits)
}

/// Runs `f(0..n)` for a kernel on ONNX Runtime's intra-op threads; one task needs no threads, and a
/// refused parallel loop still runs, on this thread.
pub(crate) fn on_pool(ctx: &ort::operator::ComputeContext, n: usize, f: &(dyn Fn(usize) + Sync)) {
    if n <= 1 || ctx.par_for(n, n.min(1024), f).is_err() {
        (0..n).for_each(f);
    }
}

use super::chat::{ChatTokenizer, Message, StreamDecoder};
use super::params::{FinishReason, GenerateParams, Generation, GenerationStats};
use super::sampling::{Sampler, log_softmax, logsumexp};
use super::speculative::{BigramTable, Fill, NgramDrafter, verifier};
use super::{Chat, Generator, TokenScore, TokenWindows};
use crate::inference::runtime::SessionConfig;
use crate::{Error, Result};
use decoder::{Decoder, DeviceSteps, KvCache};
use graph::Picked;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Sample with `sampler` and return the token with its log-probability under the raw logits.
fn pick(sampler: &mut Sampler, logits: &mut [f32], history: &[u32]) -> (u32, f32) {
    let lse = logsumexp(logits);
    // A copy only when the sampler changes the logits (not for greedy picks, every step).
    let raw = (!sampler.keeps_logits()).then(|| logits.to_vec());
    let t = sampler.sample(logits, history);
    (t, raw.as_deref().unwrap_or(logits)[t as usize] - lse)
}


/// A chat model: decoder + tokenizer + template.
pub struct LanguageModel {
    pub decoder: Decoder,
    pub tokenizer: ChatTokenizer,
    pub dir: PathBuf,
    pub name: String,
    /// The model's own bigram drafts ([`BigramTable`]), when they were built for it.
    pub drafts: Option<std::sync::Arc<BigramTable>>,
}

impl LanguageModel {
    pub fn open(dir: &Path, config: &SessionConfig) -> Result<Self> {
        check_files(dir)?;
        Self::with_decoder(dir, Decoder::open(dir, config)?)
    }

    /// With decode steps chosen explicitly (see [`DeviceSteps`]).
    pub fn open_with(dir: &Path, config: &SessionConfig, steps: DeviceSteps) -> Result<Self> {
        check_files(dir)?;
        Self::with_decoder(dir, Decoder::open_with(dir, config, steps)?)
    }

    fn with_decoder(dir: &Path, decoder: Decoder) -> Result<Self> {
        let tokenizer = ChatTokenizer::from_dir(dir)?;
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        // A missing or unreadable table only costs speed: answer without it, and say why.
        let drafts = match BigramTable::load(dir) {
            Ok(Some(t)) if t.len() <= decoder.info.vocab => Some(std::sync::Arc::new(t)),
            Ok(Some(t)) => {
                tracing::warn!(rows = t.len(), vocab = decoder.info.vocab, "the draft table is for another vocabulary: not used");
                None
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(%e, "the draft table cannot be read: not used");
                None
            }
        };
        Ok(Self { decoder, tokenizer, dir: dir.to_owned(), name, drafts })
    }

    pub fn encode_chat(&self, messages: &[Message]) -> Result<Vec<u32>> {
        self.tokenizer.encode_chat(messages)
    }

    /// Log-probabilities of the next token after each prompt, for the given candidate ids
    /// (`[prompt][candidate]`). Prompts run as one batch when they have equal length, else one by one.
    pub fn next_token_logprobs(&mut self, prompts: &[Vec<u32>], candidates: &[u32]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(prompts.len());
        let mut i = 0;
        while i < prompts.len() {
            // Batch runs of equal-length prompts (no padding needed).
            let mut j = i + 1;
            while j < prompts.len() && prompts[j].len() == prompts[i].len() && j - i < 16 {
                j += 1;
            }
            let group = &prompts[i..j];
            let len = group[0].len();
            let mut cache = self.decoder.new_cache(group.len(), len + 1)?;
            let flat: Vec<u32> = group.iter().flat_map(|p| p.iter().copied()).collect();
            let logits = self.decoder.prefill(&mut cache, &flat, usize::MAX)?;
            let v = self.decoder.info.vocab;
            for row in 0..group.len() {
                let lp = log_softmax(&logits[row * v..(row + 1) * v]);
                out.push(candidates.iter().map(|&c| lp.get(c as usize).copied().unwrap_or(f32::NEG_INFINITY)).collect());
            }
            i = j;
        }
        Ok(out)
    }
}

/// Where text and stop strings are tracked while tokens arrive.
struct Output<'a> {
    decoder: StreamDecoder<'a>,
    text: String,
    /// Bytes of `text` already handed to the caller (held back while a stop string may be starting).
    emitted: usize,
    stops: &'a [String],
}

impl<'a> Output<'a> {
    /// Add a token; returns true when a stop string completed.
    fn push(&mut self, id: u32, on_text: &mut dyn FnMut(&str)) -> Result<bool> {
        let piece = self.decoder.push(id)?;
        self.text.push_str(&piece);
        for s in self.stops {
            if let Some(pos) = self.text.find(s.as_str()) {
                self.text.truncate(pos);
                self.flush(on_text, self.text.len());
                return Ok(true);
            }
        }
        // Hold back a tail that could be the start of a stop string.
        let hold = self
            .stops
            .iter()
            .map(|s| {
                (1..s.len().min(self.text.len() + 1))
                    .rev()
                    .find(|&n| s.is_char_boundary(n) && self.text.ends_with(&s[..n]))
                    .unwrap_or(0)
            })
            .max()
            .unwrap_or(0);
        self.flush(on_text, self.text.len() - hold);
        Ok(false)
    }

    fn flush(&mut self, on_text: &mut dyn FnMut(&str), upto: usize) {
        if upto > self.emitted && self.text.is_char_boundary(upto) {
            on_text(&self.text[self.emitted..upto]);
            self.emitted = upto;
        }
    }

    fn finish(&mut self, on_text: &mut dyn FnMut(&str)) -> Result<()> {
        let rest = self.decoder.finish()?;
        self.text.push_str(&rest);
        self.flush(on_text, self.text.len());
        Ok(())
    }
}

impl LanguageModel {
    /// Continue `prompt` (token ids), streaming text through `on_text`.
    pub fn generate(
        &mut self,
        prompt: &[u32],
        params: &GenerateParams,
        on_text: &mut dyn FnMut(&str),
        cancel: &AtomicBool,
    ) -> Result<Generation> {
        params.sampling.validate()?;
        if prompt.is_empty() {
            return Err(Error::Invalid("the prompt is empty".into()));
        }
        let started = Instant::now();
        let context = self.decoder.info.context;
        if prompt.len() >= context {
            return Err(Error::Invalid(format!(
                "the prompt has {} tokens but the model's context window is {context} — shorten it",
                prompt.len()
            )));
        }
        let speculate = params.speculative.clone().filter(|_| params.sampling.is_greedy());
        let max_k = speculate.as_ref().map(|c| c.max_k).unwrap_or(0);
        let capacity = (prompt.len() + params.max_new_tokens + max_k + 1).min(context);
        let passes_before = self.decoder.forward_passes;
        let mut cache: KvCache = self.decoder.new_cache(1, capacity)?;
        // Greedy choices on the GPU: the argmax is taken where the logits are, and only the id (and
        // its log-probability) crosses to the host each step.
        let device_greedy =
            params.sampling.is_greedy() && params.sampling.repetition_penalty == 1.0 && self.decoder.picks_on_device();
        let mut sampler = Sampler::new(params.sampling.clone());
        let mut history: Vec<u32> = prompt.to_vec();
        let (mut next, mut next_lp) = if device_greedy {
            let p = self.decoder.prefill_greedy(&mut cache, prompt, params.prefill_chunk)?;
            (p.ids[0], p.logprobs[0])
        } else {
            let mut logits = self.decoder.prefill(&mut cache, prompt, params.prefill_chunk)?;
            pick(&mut sampler, &mut logits, &history)
        };
        let step = |decoder: &mut Decoder, cache: &mut KvCache, feed: &[u32], sampler: &mut Sampler, history: &[u32]| -> Result<(u32, f32)> {
            if device_greedy {
                let p = decoder.forward_greedy(cache, feed, 1)?;
                Ok((p.ids[0], p.logprobs[0]))
            } else {
                let mut l = decoder.forward(cache, feed, 1)?;
                let picked = pick(sampler, &mut l, history);
                decoder.recycle(l);
                Ok(picked)
            }
        };
        let mut logprob = 0f64;
        let ttft = started.elapsed();
        let mut stops: Vec<u32> = self.tokenizer.end_of_turn_ids().to_vec();
        stops.extend(&params.stop_ids);
        let mut out = Output { decoder: StreamDecoder::new(&self.tokenizer), text: String::new(), emitted: 0, stops: &params.stop_strings };
        let mut generated: Vec<u32> = Vec::new();
        // Two-row steps keep greedy answers equal to speculative ones; a sampled answer has no
        // speculative twin, so it steps one row at a time. On kogi's kernels one row already
        // computes as it would among several: no re-fed rows at all.
        let independent = self.decoder.rows_independent;
        let exact_steps = params.exact_steps && params.sampling.is_greedy() && !independent;
        let mut drafter = speculate.map(|cfg| {
            // Where attention runs on kogi's kernel, drafts fill the lane sets their verification opens.
            let fill = self.decoder.heads_per_kv.map(|g| std::sync::Arc::new(move |rows| attention::rows_filling_lanes(rows, g)) as Fill);
            let mut d = NgramDrafter::new(cfg).with_table(self.drafts.clone()).with_row_cost(draft_row_cost(if exact_steps { 2 } else { 1 })).with_fill(fill);
            d.extend(prompt);
            d
        });
        let finish = 'outer: loop {
            // `next` is decided but not yet in the cache: accept it.
            if stops.contains(&next) {
                break FinishReason::EndOfTurn;
            }
            generated.push(next);
            history.push(next);
            logprob += next_lp as f64;
            if let Some(d) = drafter.as_mut() {
                d.extend(&[next]);
            }
            if out.push(next, on_text)? {
                break FinishReason::StopString;
            }
            if generated.len() >= params.max_new_tokens {
                break FinishReason::MaxTokens;
            }
            if cancel.load(Ordering::Relaxed) {
                break FinishReason::Cancelled;
            }
            if cache.len + 1 >= cache.capacity {
                break FinishReason::ContextFull;
            }
            // Exact steps re-feed the last cached token with the new one: ONNX Runtime's int4 kernels
            // compute a one-row call differently from a multi-row one (up to ~1 logit apart), and
            // multi-row results do not depend on the other rows. With at least two rows per call,
            // plain and speculative decoding see the same numbers, bit for bit. Decoders whose
            // nodes are all on kogi's kernels need no second row (`independent`).
            let last = *history.iter().rev().nth(1).expect("prompt is not empty");
            let base = cache.len - 1;
            match drafter.as_mut() {
                None if !exact_steps => {
                    let pass = std::time::Instant::now();
                    (next, next_lp) = step(&mut self.decoder, &mut cache, &[next], &mut sampler, &history)?;
                    tracing::trace!(us = pass.elapsed().as_micros() as u64, "stepped");
                }
                None => {
                    self.decoder.truncate(&mut cache, base)?;
                    (next, next_lp) = step(&mut self.decoder, &mut cache, &[last, next], &mut sampler, &history)?;
                }
                Some(d) => {
                    let room = (cache.capacity - base - 2).min(params.max_new_tokens - generated.len());
                    let mut draft = d.propose();
                    draft.truncate(room);
                    // With a draft the call has two rows or more already; without, re-feed `last`.
                    // The first step re-feeds it anyway: the prompt pass computed its keys and values
                    // (a prompt's attention rounds differently from a step's), and plain exact steps
                    // replace them with a step's numbers. Rows-independent decoders re-feed nothing,
                    // as their plain steps do not.
                    let mut feed = Vec::with_capacity(draft.len() + 2);
                    if !independent && (draft.is_empty() || generated.len() == 1) {
                        self.decoder.truncate(&mut cache, base)?;
                        feed.push(last);
                    }
                    feed.push(next);
                    feed.extend_from_slice(&draft);
                    // Greedy prediction after `next` and after each draft; accept drafts while they agree.
                    let pass = std::time::Instant::now();
                    let Picked { ids: preds, logprobs: lps } =
                        self.decoder.forward_greedy(&mut cache, &feed, draft.len() + 1)?;
                    let accepted = verifier::accepted(&draft, &preds);
                    tracing::trace!(rows = feed.len(), drafted = draft.len(), accepted, us = pass.elapsed().as_micros() as u64, "verified");
                    if !draft.is_empty() {
                        d.observe(draft.len(), accepted);
                    }
                    // Keep `next` and the accepted drafts in the cache; drop the rest.
                    self.decoder.truncate(&mut cache, base + 2 + accepted)?;
                    for (i, &t) in draft[..accepted].iter().enumerate() {
                        if stops.contains(&t) {
                            break 'outer FinishReason::EndOfTurn;
                        }
                        generated.push(t);
                        history.push(t);
                        logprob += lps[i] as f64;
                        d.extend(&[t]);
                        if out.push(t, on_text)? {
                            break 'outer FinishReason::StopString;
                        }
                        if generated.len() >= params.max_new_tokens {
                            break 'outer FinishReason::MaxTokens;
                        }
                    }
                    next = preds[accepted];
                    next_lp = lps[accepted];
                }
            }
        };
        out.finish(on_text)?;
        let total = started.elapsed();
        let decode_s = (total - ttft).as_secs_f64();
        let drafts = drafter.as_ref().map(|d| d.stats()).unwrap_or_default();
        let forward_passes = self.decoder.forward_passes - passes_before;
        let stats = GenerationStats {
            prompt_tokens: prompt.len(),
            new_tokens: generated.len(),
            forward_passes,
            ttft_ms: ttft.as_secs_f64() * 1e3,
            decode_tokens_per_s: if decode_s > 0.0 { generated.len().saturating_sub(1) as f64 / decode_s } else { 0.0 },
            total_ms: total.as_secs_f64() * 1e3,
            drafted: drafts.drafted,
            accepted: drafts.accepted,
            model_drafted: drafts.model_drafted,
            model_accepted: drafts.model_accepted,
        };
        Ok(Generation { tokens: generated, text: out.text, finish, stats, logprob, interrupted: None })
    }
}

impl LanguageModel {
    /// The prompt of a chat: its template rendered for the reply, then the reply prefix.
    pub fn encode_prompt(&self, chat: &Chat) -> Result<Vec<u32>> {
        let mut ids = self.tokenizer.encode_chat(&chat.messages)?;
        if !chat.reply_prefix.is_empty() {
            ids.extend(self.tokenizer.encode(&chat.reply_prefix)?);
        }
        Ok(ids)
    }
}

impl Generator for LanguageModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn runs_on(&self) -> String {
        self.decoder.provider.in_use.to_string()
    }

    fn provider(&self) -> Option<crate::inference::runtime::ProviderReport> {
        Some(self.decoder.provider.clone())
    }

    fn context_window(&self) -> usize {
        self.decoder.info.context
    }

    fn count_tokens(&self, text: &str) -> Result<usize> {
        Ok(self.tokenizer.encode(text)?.len())
    }

    fn count_chat_tokens(&self, chat: &Chat) -> Result<usize> {
        Ok(self.encode_prompt(chat)?.len())
    }

    fn reply(
        &mut self,
        chat: &Chat,
        params: &GenerateParams,
        on_text: &mut dyn FnMut(&str),
        cancel: &AtomicBool,
    ) -> Result<Generation> {
        let prompt = self.encode_prompt(chat)?;
        self.generate(&prompt, params, on_text, cancel)
    }

    fn replies(&mut self, chat: &Chat, n: usize, params: &GenerateParams, cancel: &AtomicBool) -> Result<Vec<Generation>> {
        let prompt = self.encode_prompt(chat)?;
        self.generate_many(&prompt, n, params, cancel)
    }

    fn next_word_logprobs(&mut self, chats: &[Chat], words: &[&str]) -> Result<Vec<Vec<f32>>> {
        let ids: Vec<Vec<u32>> = words.iter().map(|w| self.tokenizer.ids_for_words(&[w])).collect();
        if let Some(i) = ids.iter().position(|v| v.is_empty()) {
            return Err(Error::Model {
                model: self.name.clone(),
                message: format!("its vocabulary has no token for {:?}, so it cannot answer with it", words[i]),
            });
        }
        let candidates: Vec<u32> = ids.iter().flatten().copied().collect();
        let prompts = chats.iter().map(|c| self.encode_prompt(c)).collect::<Result<Vec<_>>>()?;
        let lps = self.next_token_logprobs(&prompts, &candidates)?;
        Ok(lps
            .iter()
            .map(|lp| {
                let mut at = 0;
                ids.iter()
                    .map(|w| {
                        let x = logsumexp(&lp[at..at + w.len()]);
                        at += w.len();
                        x
                    })
                    .collect()
            })
            .collect())
    }

    fn token_logprobs(
        &mut self,
        text: &str,
        windows: TokenWindows,
        progress: &mut dyn FnMut(usize, usize),
        cancel: &AtomicBool,
    ) -> Result<Vec<TokenScore>> {
        self.score_tokens(text, windows, progress, cancel)
    }

    fn text_logprob(&mut self, text: &str) -> Result<f64> {
        self.document_logprob(text)
    }
}

/// A model folder with a manifest is checked against it before it is loaded (see
/// [`ModelDir::check`](crate::inference::manifest::ModelDir::check)); a bare exported folder has nothing to check against.
fn check_files(dir: &Path) -> Result<()> {
    if dir.join("manifest.json").is_file() {
        crate::inference::manifest::ModelDir::open(dir)?.check()?;
    }
    Ok(())
}
