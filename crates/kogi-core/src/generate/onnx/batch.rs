//! Several sequences decoded together: sampled continuations of one prompt (self-consistency), and
//! beam search. The prompt is computed once and its cache forked into one row per sequence.

use super::LanguageModel;
use crate::generate::chat::StreamDecoder;
use crate::generate::params::{FinishReason, GenerateParams, Generation, GenerationStats};
use crate::generate::sampling::{Sampler, SamplingParams, log_softmax};
use crate::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

struct Row {
    tokens: Vec<u32>,
    logprob: f64,
    finish: Option<FinishReason>,
}

fn stop_string_cut(text: &mut String, stops: &[String]) -> bool {
    for s in stops {
        if let Some(p) = text.find(s.as_str()) {
            text.truncate(p);
            return true;
        }
    }
    false
}

impl LanguageModel {
    /// `n` sampled answers to one prompt, decoded as one batch. Row `i` samples with seed `seed + i`.
    pub fn generate_many(
        &mut self,
        prompt: &[u32],
        n: usize,
        params: &GenerateParams,
        cancel: &AtomicBool,
    ) -> Result<Vec<Generation>> {
        params.sampling.validate()?;
        if prompt.is_empty() || n == 0 {
            return Err(Error::Invalid("generate_many needs a prompt and at least one sample".into()));
        }
        let started = Instant::now();
        let passes_before = self.decoder.forward_passes;
        let capacity = (prompt.len() + params.max_new_tokens + 2).min(self.decoder.info.context);
        let mut single = self.decoder.new_cache(1, capacity)?;
        let first = self.decoder.prefill(&mut single, prompt, params.prefill_chunk)?;
        let mut cache = self.decoder.fork(&single, n)?;
        drop(single);
        let base_seed = params.sampling.seed.unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(7)
        });
        let mut samplers: Vec<Sampler> = (0..n)
            .map(|i| Sampler::new(SamplingParams { seed: Some(base_seed.wrapping_add(i as u64)), ..params.sampling.clone() }))
            .collect();
        let stops: Vec<u32> = self.tokenizer.end_of_turn_ids().iter().chain(&params.stop_ids).copied().collect();
        let vocab = self.decoder.info.vocab;
        let mut rows: Vec<Row> = (0..n).map(|_| Row { tokens: Vec::new(), logprob: 0.0, finish: None }).collect();
        let mut next: Vec<u32> = Vec::with_capacity(n);
        let mut next_lp: Vec<f32> = Vec::with_capacity(n);
        for s in samplers.iter_mut() {
            let mut l = first.clone();
            let lp = log_softmax(&first);
            let t = s.sample(&mut l, prompt);
            next.push(t);
            next_lp.push(lp[t as usize]);
        }
        let ttft = started.elapsed();
        loop {
            for i in 0..n {
                let r = &mut rows[i];
                if r.finish.is_some() {
                    continue;
                }
                let t = next[i];
                if stops.contains(&t) {
                    r.finish = Some(FinishReason::EndOfTurn);
                    continue;
                }
                r.tokens.push(t);
                r.logprob += next_lp[i] as f64;
                if !params.stop_strings.is_empty() {
                    let mut text = self.tokenizer.decode(&r.tokens)?;
                    if stop_string_cut(&mut text, &params.stop_strings) {
                        r.finish = Some(FinishReason::StopString);
                        continue;
                    }
                }
                if r.tokens.len() >= params.max_new_tokens {
                    r.finish = Some(FinishReason::MaxTokens);
                }
            }
            if rows.iter().all(|r| r.finish.is_some()) {
                break;
            }
            if cancel.load(Ordering::Relaxed) {
                rows.iter_mut().filter(|r| r.finish.is_none()).for_each(|r| r.finish = Some(FinishReason::Cancelled));
                break;
            }
            if cache.len + 2 > cache.capacity {
                rows.iter_mut().filter(|r| r.finish.is_none()).for_each(|r| r.finish = Some(FinishReason::ContextFull));
                break;
            }
            // With one sequence, two rows per step as in `generate` (exact numbers); with several,
            // one row each: GroupQueryAttention takes multi-token steps only at batch size 1.
            let exact = n == 1;
            let mut feed = Vec::with_capacity(2 * n);
            for (i, r) in rows.iter().enumerate() {
                let all = prompt.len() + r.tokens.len();
                let at = |idx: usize| if idx < prompt.len() { prompt[idx] } else { r.tokens[idx - prompt.len()] };
                let (prev, cur) = if r.finish.is_none() { (at(all - 2), next[i]) } else { (at(all - 1), at(all - 1)) };
                // Finished rows idle on a harmless token; their results are ignored.
                if exact {
                    feed.push(prev);
                }
                feed.push(cur);
            }
            if exact {
                let base = cache.len - 1;
                self.decoder.truncate(&mut cache, base)?;
            }
            let logits = self.decoder.forward(&mut cache, &feed, 1)?;
            for i in 0..n {
                if rows[i].finish.is_some() {
                    continue;
                }
                let mut l = logits[i * vocab..(i + 1) * vocab].to_vec();
                let lp = log_softmax(&l);
                let history: Vec<u32> = prompt.iter().chain(&rows[i].tokens).copied().collect();
                let t = samplers[i].sample(&mut l, &history);
                next[i] = t;
                next_lp[i] = lp[t as usize];
            }
        }
        let total = started.elapsed();
        let passes = self.decoder.forward_passes - passes_before;
        let mut out = Vec::with_capacity(n);
        for r in rows {
            let mut text = self.tokenizer.decode(&r.tokens)?;
            stop_string_cut(&mut text, &params.stop_strings);
            out.push(Generation {
                stats: GenerationStats {
                    prompt_tokens: prompt.len(),
                    new_tokens: r.tokens.len(),
                    forward_passes: passes,
                    ttft_ms: ttft.as_secs_f64() * 1e3,
                    decode_tokens_per_s: r.tokens.len() as f64 / (total - ttft).as_secs_f64().max(1e-9),
                    total_ms: total.as_secs_f64() * 1e3,
                    ..Default::default()
                },
                tokens: r.tokens,
                text,
                finish: r.finish.unwrap_or(FinishReason::MaxTokens),
                logprob: r.logprob,
                interrupted: None,
            });
        }
        Ok(out)
    }

    /// Beam search: keep the `beams` most probable continuations, reordering the KV cache rows
    /// between steps; the best finished beam by length-normalised log-probability wins.
    pub fn beam_search(
        &mut self,
        prompt: &[u32],
        beams: usize,
        params: &GenerateParams,
        on_text: &mut dyn FnMut(&str),
        cancel: &AtomicBool,
    ) -> Result<Generation> {
        let beams = beams.max(1);
        if prompt.is_empty() {
            return Err(Error::Invalid("the prompt is empty".into()));
        }
        let started = Instant::now();
        let passes_before = self.decoder.forward_passes;
        let capacity = (prompt.len() + params.max_new_tokens + 2).min(self.decoder.info.context);
        let mut single = self.decoder.new_cache(1, capacity)?;
        let first = log_softmax(&self.decoder.prefill(&mut single, prompt, params.prefill_chunk)?);
        let ttft = started.elapsed();
        let stops: Vec<u32> = self.tokenizer.end_of_turn_ids().iter().chain(&params.stop_ids).copied().collect();
        let vocab = self.decoder.info.vocab;
        let norm = |score: f64, len: usize| score / (len.max(1) as f64);
        // (tokens, cumulative logprob); `next` tokens are decided but not yet in the cache.
        let mut live: Vec<(Vec<u32>, f64)> = top_k(&first, beams).into_iter().map(|(t, lp)| (vec![t], lp as f64)).collect();
        let mut finished: Vec<(Vec<u32>, f64, FinishReason)> = Vec::new();
        let mut cache = self.decoder.fork(&single, live.len())?;
        drop(single);
        let mut finish = FinishReason::MaxTokens;
        loop {
            // Beams whose newest token ends the turn are done.
            let mut keep = Vec::new();
            for (i, (toks, score)) in live.iter().enumerate() {
                let last = *toks.last().expect("non-empty");
                if stops.contains(&last) {
                    finished.push((toks[..toks.len() - 1].to_vec(), *score, FinishReason::EndOfTurn));
                } else if toks.len() >= params.max_new_tokens {
                    finished.push((toks.clone(), *score, FinishReason::MaxTokens));
                } else {
                    keep.push(i);
                }
            }
            if keep.is_empty() || finished.len() >= beams {
                break;
            }
            if cancel.load(Ordering::Relaxed) {
                finish = FinishReason::Cancelled;
                break;
            }
            if cache.len + 2 > cache.capacity {
                finish = FinishReason::ContextFull;
                break;
            }
            live = keep.iter().map(|&i| live[i].clone()).collect();
            let mut order = keep.clone();
            order.resize(cache.batch, keep[0]);
            self.decoder.reorder(&mut cache, &order)?;
            // One beam: two rows per step, exactly as greedy decoding; several: one row each
            // (GroupQueryAttention takes multi-token steps only at batch size 1).
            let exact = cache.batch == 1;
            let mut feed = Vec::with_capacity(2 * cache.batch);
            for row in 0..cache.batch {
                let (toks, _) = &live[row.min(live.len() - 1)];
                if exact {
                    feed.push(if toks.len() >= 2 { toks[toks.len() - 2] } else { *prompt.last().expect("non-empty") });
                }
                feed.push(*toks.last().expect("non-empty"));
            }
            if exact {
                let base = cache.len - 1;
                self.decoder.truncate(&mut cache, base)?;
            }
            let logits = self.decoder.forward(&mut cache, &feed, 1)?;
            let mut cands: Vec<(f64, usize, u32)> = Vec::new();
            for (b, (_, score)) in live.iter().enumerate() {
                let lp = log_softmax(&logits[b * vocab..(b + 1) * vocab]);
                for (t, l) in top_k(&lp, beams) {
                    cands.push((score + l as f64, b, t));
                }
            }
            cands.sort_by(|a, b| b.0.total_cmp(&a.0));
            cands.truncate(beams);
            let parents: Vec<usize> = cands.iter().map(|c| c.1).collect();
            live = cands.iter().map(|&(s, b, t)| {
                let mut toks = live[b].0.clone();
                toks.push(t);
                (toks, s)
            }).collect();
            let mut order = parents;
            order.resize(cache.batch, order[0]);
            self.decoder.reorder(&mut cache, &order)?;
        }
        for (toks, score) in live {
            finished.push((toks, score, finish));
        }
        let (tokens, score, finish) = finished
            .into_iter()
            .max_by(|a, b| norm(a.1, a.0.len()).total_cmp(&norm(b.1, b.0.len())))
            .expect("at least one beam");
        let mut dec = StreamDecoder::new(&self.tokenizer);
        let mut text = String::new();
        for &t in &tokens {
            text.push_str(&dec.push(t)?);
        }
        text.push_str(&dec.finish()?);
        stop_string_cut(&mut text, &params.stop_strings);
        on_text(&text);
        let total = started.elapsed();
        Ok(Generation {
            stats: GenerationStats {
                prompt_tokens: prompt.len(),
                new_tokens: tokens.len(),
                forward_passes: self.decoder.forward_passes - passes_before,
                ttft_ms: ttft.as_secs_f64() * 1e3,
                decode_tokens_per_s: tokens.len() as f64 / (total - ttft).as_secs_f64().max(1e-9),
                total_ms: total.as_secs_f64() * 1e3,
                ..Default::default()
            },
            tokens,
            text,
            finish,
            logprob: score,
            interrupted: None,
        })
    }
}

/// The `k` largest entries as (index, value), best first.
fn top_k(v: &[f32], k: usize) -> Vec<(u32, f32)> {
    let mut idx: Vec<u32> = (0..v.len() as u32).collect();
    let k = k.min(v.len());
    if k == 0 {
        return Vec::new();
    }
    idx.select_nth_unstable_by(k - 1, |&a, &b| v[b as usize].total_cmp(&v[a as usize]));
    idx.truncate(k);
    idx.sort_by(|&a, &b| v[b as usize].total_cmp(&v[a as usize]).then(a.cmp(&b)));
    idx.into_iter().map(|i| (i, v[i as usize])).collect()
}
