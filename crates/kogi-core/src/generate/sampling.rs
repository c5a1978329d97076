//! Turning one decoding step's logits into the next token id.
//!
//! The pipeline follows Hugging Face's logits processors, so each setting means what it means in
//! `transformers`: repetition penalty → (greedy: argmax) → temperature → top-k → top-p → min-p →
//! typical-p → renormalise → draw. The filters work on a candidate list that shrinks stage by stage;
//! a 128k vocabulary is scanned a few times per step, never fully sorted: top-k is a selection, and
//! the nucleus filters sort only as long a prefix as they need.

use crate::{Error, Result};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How to choose each token. The default is greedy decoding; every filter's neutral value turns it off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplingParams {
    /// Softmax temperature; 0 means greedy (argmax).
    pub temperature: f32,
    /// Keep only the `top_k` most likely tokens; 0 turns it off.
    pub top_k: usize,
    /// Nucleus sampling: keep the smallest set of most likely tokens whose probability reaches `top_p`; 1 turns it off.
    pub top_p: f32,
    /// Keep tokens whose probability is at least `min_p` times the most likely one's; 0 turns it off.
    pub min_p: f32,
    /// Locally typical sampling: keep the tokens whose surprisal is closest to the entropy, up to
    /// `typical_p` of the probability mass; 1 turns it off.
    pub typical_p: f32,
    /// CTRL-style penalty for every token id already in the history: positive logits are divided by
    /// it, negative ones multiplied; 1 turns it off.
    pub repetition_penalty: f32,
    /// Seed of the sampler's random generator; `None` seeds it from the operating system.
    pub seed: Option<u64>,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self { temperature: 0.0, top_k: 0, top_p: 1.0, min_p: 0.0, typical_p: 1.0, repetition_penalty: 1.0, seed: None }
    }
}

impl SamplingParams {
    /// Whether the choice is deterministic argmax: temperature 0, or top-k 1 (which leaves a single candidate).
    pub fn is_greedy(&self) -> bool {
        self.temperature == 0.0 || self.top_k == 1
    }

    pub fn validate(&self) -> Result<()> {
        let check = |ok: bool, message: String| if ok { Ok(()) } else { Err(Error::Invalid(message)) };
        let t = self.temperature;
        check(t.is_finite() && t >= 0.0, format!("temperature must be a finite number ≥ 0 (0 = greedy), got {t}"))?;
        let p = self.top_p;
        check(p > 0.0 && p <= 1.0, format!("top_p must be in (0, 1] (1 = off), got {p}"))?;
        let p = self.min_p;
        check((0.0..=1.0).contains(&p), format!("min_p must be in [0, 1] (0 = off), got {p}"))?;
        let p = self.typical_p;
        check(p > 0.0 && p <= 1.0, format!("typical_p must be in (0, 1] (1 = off), got {p}"))?;
        let r = self.repetition_penalty;
        check(r.is_finite() && r > 0.0, format!("repetition_penalty must be a finite number > 0 (1 = off), got {r}"))
    }
}

/// The id of the largest logit: ties go to the lowest id, NaN is never chosen. Returns 0 when there is
/// nothing to choose (empty or all NaN).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    let mut best_value = f32::NEG_INFINITY;
    let mut found = false;
    for (i, &v) in logits.iter().enumerate() {
        // `!found` lets an all -inf slice still pick its first entry; comparisons with NaN are false.
        if v > best_value || (!found && !v.is_nan()) {
            best = i;
            best_value = v;
            found = true;
        }
    }
    best as u32
}

/// log Σ exp(v), stable; NaN entries are ignored, and all −∞ gives −∞.
///
/// It runs on every decode step over the whole vocabulary, so it is written to vectorise: sixteen
/// lanes of maxima and sums, and [`exp_nonpositive`] instead of libm's scalar `expf` (the step's
/// largest host cost before).
pub fn logsumexp(v: &[f32]) -> f32 {
    const LANES: usize = 16;
    let chunks = v.chunks_exact(LANES);
    let tail = chunks.remainder();
    // Comparisons with NaN are false, so NaN never becomes the maximum.
    let mut top = [f32::NEG_INFINITY; LANES];
    for c in chunks.clone() {
        for i in 0..LANES {
            top[i] = if c[i] > top[i] { c[i] } else { top[i] };
        }
    }
    let m = top.iter().chain(tail).fold(f32::NEG_INFINITY, |a, &x| if x > a { x } else { a });
    if !m.is_finite() {
        return m;
    }
    let term = |x: f32| if x.is_nan() { 0.0 } else { exp_nonpositive(x - m) };
    let mut sum = [0f32; LANES];
    for c in chunks {
        for i in 0..LANES {
            sum[i] += term(c[i]);
        }
    }
    m + (sum.iter().sum::<f32>() + tail.iter().map(|&x| term(x)).sum::<f32>()).ln()
}

/// `e^x` for `x <= 0` (what a log-sum-exp needs after subtracting the maximum), within 3e-7
/// relative for x ≥ -10 and 1e-5 below (where the terms are tiny), in branch-free arithmetic the
/// compiler vectorises: `x·log2 e` split into an integer `k` (rounded by adding 1.5·2^23) and a rest
/// `f` in [-0.5, 0.5], then `2^k · 2^f` with `2^f` from its degree-6 Taylor polynomial. Below -86
/// the result is negligible next to the maximum's 1.
#[inline(always)]
pub fn exp_nonpositive(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0;
    // A comparison, not `f32::max`: the same result (NaN also gives -86) without its NaN check,
    // which kept the attention kernels' softmax loops from running at full width.
    let t = if x > -86.0 { x } else { -86.0 } * std::f32::consts::LOG2_E;
    let r = t + ROUND;
    let f = t - (r - ROUND);
    let k = (r.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let p = 1.0 + f * (0.693_147_2 + f * (0.240_226_5 + f * (0.055_504_11 + f * (0.009_618_129 + f * (0.001_333_355_8 + f * 0.000_154_035_3)))));
    f32::from_bits(((k + 127) << 23) as u32) * p
}

/// Log-probabilities of `logits`, computed as `x - max - ln Σ exp(x - max)` so large logits do not
/// overflow; the sum is accumulated in f64 so a large vocabulary does not lose precision. NaN entries
/// stay NaN and take no part in the normaliser; +inf entries share all the mass. With no entry above
/// -inf the result is all NaN (there is no distribution).
pub fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let max = max_ignoring_nan(logits);
    if max == f32::INFINITY {
        let share = -(logits.iter().filter(|&&v| v == f32::INFINITY).count() as f32).ln();
        return logits
            .iter()
            .map(|&v| {
                if v.is_nan() {
                    v
                } else if v == f32::INFINITY {
                    share
                } else {
                    f32::NEG_INFINITY
                }
            })
            .collect();
    }
    let sum: f64 = logits.iter().filter(|v| !v.is_nan()).map(|&v| f64::from((v - max).exp())).sum();
    let log_normaliser = f64::from(max) + sum.ln();
    logits.iter().map(|&v| (f64::from(v) - log_normaliser) as f32).collect()
}

fn max_ignoring_nan(values: &[f32]) -> f32 {
    values.iter().copied().filter(|v| !v.is_nan()).fold(f32::NEG_INFINITY, f32::max)
}

/// A token still in the running: its temperature-scaled logit (relative to the maximum), once
/// computed its probability within the current candidate set, and the sort key of the filter at work
/// (stored, not computed in the comparator: typical-p's key takes a logarithm).
#[derive(Debug, Clone, Copy)]
struct Candidate {
    id: u32,
    logit: f32,
    p: f32,
    key: f32,
}

/// Picks tokens according to [`SamplingParams`], deterministically for a given seed. Keeps its buffers
/// between steps, so sampling allocates nothing after the first token.
pub struct Sampler {
    params: SamplingParams,
    rng: ChaCha8Rng,
    candidates: Vec<Candidate>,
    seen: Vec<u32>,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler").field("params", &self.params).finish_non_exhaustive()
    }
}

impl Sampler {
    /// A sampler for `params`, which are taken as they are: call [`SamplingParams::validate`] first (or
    /// use [`Sampler::try_new`]) when they come from a user.
    pub fn new(params: SamplingParams) -> Self {
        // ChaCha8 rather than `StdRng`: its output is specified, so a seed keeps meaning the same
        // sequence across rand upgrades.
        let rng = match params.seed {
            Some(seed) => ChaCha8Rng::seed_from_u64(seed),
            None => rand::make_rng(),
        };
        Self { params, rng, candidates: Vec::new(), seen: Vec::new() }
    }

    /// Whether [`Self::sample`] leaves the logits as they are (greedy without a repetition penalty).
    pub fn keeps_logits(&self) -> bool {
        self.params.is_greedy() && self.params.repetition_penalty == 1.0
    }

    pub fn try_new(params: SamplingParams) -> Result<Self> {
        params.validate()?;
        Ok(Self::new(params))
    }

    pub fn params(&self) -> &SamplingParams {
        &self.params
    }

    /// Pick the next token; `history` = prompt + generated ids (for the repetition penalty). May modify
    /// `logits` in place (the penalty is applied there).
    ///
    /// # Panics
    /// If `logits` is empty.
    pub fn sample(&mut self, logits: &mut [f32], history: &[u32]) -> u32 {
        assert!(!logits.is_empty(), "Sampler::sample: empty logits");
        let SamplingParams { temperature, top_k, top_p, min_p, typical_p, repetition_penalty, .. } = self.params;
        if repetition_penalty != 1.0 {
            apply_repetition_penalty(logits, history, repetition_penalty, &mut self.seen);
        }
        if self.params.is_greedy() {
            return argmax(logits);
        }

        let cands = &mut self.candidates;
        collect_scaled(logits, temperature, cands);
        if cands.is_empty() {
            // Every logit is -inf or NaN: no distribution to draw from, fall back to the deterministic choice.
            return argmax(logits);
        }
        if top_k > 0 && top_k < cands.len() {
            cands.select_nth_unstable_by(top_k - 1, |a, b| b.logit.total_cmp(&a.logit));
            cands.truncate(top_k);
        }
        softmax_in_place(cands);
        if top_p < 1.0 {
            cands.iter_mut().for_each(|c| c.key = -c.p);
            let keep = sorted_prefix_reaching(cands, f64::from(top_p));
            cands.truncate(keep);
            renormalise(cands);
        }
        if min_p > 0.0 {
            let threshold = min_p * cands.iter().map(|c| c.p).fold(0.0, f32::max);
            cands.retain(|c| c.p >= threshold);
            renormalise(cands);
        }
        if typical_p < 1.0 {
            // Surprisal -ln p, kept in `key` until the entropy is known; p = 0 gives +inf, sorting last.
            cands.iter_mut().for_each(|c| c.key = -c.p.ln());
            let entropy = cands.iter().filter(|c| c.p > 0.0).map(|c| f64::from(c.p * c.key)).sum::<f64>() as f32;
            cands.iter_mut().for_each(|c| c.key = (c.key - entropy).abs());
            let keep = sorted_prefix_reaching(cands, f64::from(typical_p));
            cands.truncate(keep);
            renormalise(cands);
        }
        draw(cands, self.rng.random::<f64>())
    }
}

/// Penalise each distinct id of `history` once (as Hugging Face's gather/scatter does), whatever
/// its number of occurrences. Ids outside the vocabulary are ignored.
fn apply_repetition_penalty(logits: &mut [f32], history: &[u32], penalty: f32, seen: &mut Vec<u32>) {
    seen.clear();
    seen.extend_from_slice(history);
    seen.sort_unstable();
    seen.dedup();
    for &id in seen.iter() {
        if let Some(l) = logits.get_mut(id as usize) {
            *l = if *l > 0.0 { *l / penalty } else { *l * penalty };
        }
    }
}

/// Fill `out` with every token of non-zero probability and its logit scaled as `(x - max) / t`.
/// Subtracting the maximum first keeps a tiny temperature from overflowing to inf - inf = NaN; the
/// maximum maps to 0, so the limit t → 0 is argmax. If some logits are +inf, they alone share the mass.
fn collect_scaled(logits: &[f32], temperature: f32, out: &mut Vec<Candidate>) {
    out.clear();
    let max = max_ignoring_nan(logits);
    let candidate = |i: usize, logit: f32| Candidate { id: i as u32, logit, p: 0.0, key: 0.0 };
    if max == f32::INFINITY {
        let infinite = logits.iter().enumerate().filter(|(_, v)| **v == f32::INFINITY);
        out.extend(infinite.map(|(i, _)| candidate(i, 0.0)));
    } else if max > f32::NEG_INFINITY {
        let possible = logits.iter().enumerate().filter(|(_, v)| **v > f32::NEG_INFINITY);
        out.extend(possible.map(|(i, &v)| candidate(i, (v - max) / temperature)));
    }
}

fn softmax_in_place(cands: &mut [Candidate]) {
    let max = cands.iter().map(|c| c.logit).fold(f32::NEG_INFINITY, f32::max);
    for c in cands.iter_mut() {
        c.p = (c.logit - max).exp();
    }
    renormalise(cands);
}

fn renormalise(cands: &mut [Candidate]) {
    let sum: f64 = cands.iter().map(|c| f64::from(c.p)).sum();
    if sum > 0.0 {
        let inv = (1.0 / sum) as f32;
        cands.iter_mut().for_each(|c| c.p *= inv);
    }
}

/// Reorder `cands` so that a prefix is sorted by ascending `key`, and return the length of the
/// shortest such prefix whose probability reaches `mass` (at least 1). This is the rule of both
/// Hugging Face's top-p and typical-p warpers. The nucleus is usually a few dozen tokens of a huge
/// vocabulary, so rather than sorting everything the prefix grows geometrically: each round selects
/// the next-smallest keys (linear) and sorts only those.
fn sorted_prefix_reaching(cands: &mut [Candidate], mass: f64) -> usize {
    let n = cands.len();
    let cmp = |a: &Candidate, b: &Candidate| a.key.total_cmp(&b.key);
    let mut sorted = 0;
    let mut end = n.min(64);
    let mut cumulative = 0.0;
    loop {
        let rest = &mut cands[sorted..];
        let take = end - sorted;
        if take < rest.len() {
            rest.select_nth_unstable_by(take - 1, cmp);
        }
        rest[..take].sort_unstable_by(cmp);
        for (i, c) in cands[sorted..end].iter().enumerate() {
            cumulative += f64::from(c.p);
            if cumulative >= mass {
                return sorted + i + 1;
            }
        }
        if end == n {
            // Rounding left the total just short of `mass`: keep everything.
            return n;
        }
        sorted = end;
        end = n.min(end * 4);
    }
}

/// Inverse-CDF draw with `u` uniform in [0, 1). Scaling `u` by the actual total makes the draw
/// immune to the sum not being exactly 1; tokens of probability 0 can never be drawn.
fn draw(cands: &[Candidate], u: f64) -> u32 {
    let total: f64 = cands.iter().map(|c| f64::from(c.p)).sum();
    let target = u * total;
    let mut cumulative = 0.0;
    for c in cands {
        cumulative += f64::from(c.p);
        if target < cumulative {
            return c.id;
        }
    }
    // Only reachable through rounding at the very top of the range: take the likeliest.
    cands.iter().max_by(|a, b| a.p.total_cmp(&b.p)).map_or(0, |c| c.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sampling(temperature: f32, seed: u64) -> SamplingParams {
        SamplingParams { temperature, seed: Some(seed), ..SamplingParams::default() }
    }

    fn sample_once(params: SamplingParams, logits: &[f32]) -> u32 {
        Sampler::new(params).sample(&mut logits.to_vec(), &[])
    }

    /// Reference softmax at temperature `t`, in f64.
    fn softmax64(logits: &[f32], t: f32) -> Vec<f64> {
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let e: Vec<f64> = logits.iter().map(|&l| ((f64::from(l) - f64::from(max)) / f64::from(t)).exp()).collect();
        let sum: f64 = e.iter().sum();
        e.into_iter().map(|x| x / sum).collect()
    }

    fn draws(params: SamplingParams, logits: &[f32], n: usize) -> Vec<u32> {
        let mut sampler = Sampler::new(params);
        (0..n).map(|_| sampler.sample(&mut logits.to_vec(), &[])).collect()
    }

    fn counts(ids: &[u32], vocab: usize) -> Vec<usize> {
        let mut c = vec![0; vocab];
        ids.iter().for_each(|&id| c[id as usize] += 1);
        c
    }

    /// Deterministic pseudo-random logits for tests that need a large vocabulary.
    fn random_logits(vocab: usize, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..vocab).map(|_| rng.random::<f32>() * 20.0 - 10.0).collect()
    }

    #[test]
    fn default_params_are_greedy_and_valid() {
        let p = SamplingParams::default();
        assert!(p.is_greedy());
        p.validate().unwrap();
        assert!(SamplingParams { top_k: 1, ..sampling(0.8, 0) }.is_greedy());
        assert!(!sampling(0.8, 0).is_greedy());
    }

    #[test]
    fn validate_rejects_out_of_range_params_naming_the_field() {
        let ok = sampling(0.7, 1);
        let cases = [
            (SamplingParams { temperature: -0.1, ..ok.clone() }, "temperature"),
            (SamplingParams { temperature: f32::NAN, ..ok.clone() }, "temperature"),
            (SamplingParams { temperature: f32::INFINITY, ..ok.clone() }, "temperature"),
            (SamplingParams { top_p: 0.0, ..ok.clone() }, "top_p"),
            (SamplingParams { top_p: 1.5, ..ok.clone() }, "top_p"),
            (SamplingParams { top_p: f32::NAN, ..ok.clone() }, "top_p"),
            (SamplingParams { min_p: -0.1, ..ok.clone() }, "min_p"),
            (SamplingParams { min_p: 1.1, ..ok.clone() }, "min_p"),
            (SamplingParams { typical_p: 0.0, ..ok.clone() }, "typical_p"),
            (SamplingParams { typical_p: 2.0, ..ok.clone() }, "typical_p"),
            (SamplingParams { repetition_penalty: 0.0, ..ok.clone() }, "repetition_penalty"),
            (SamplingParams { repetition_penalty: f32::NAN, ..ok.clone() }, "repetition_penalty"),
        ];
        for (params, field) in cases {
            match params.validate() {
                Err(Error::Invalid(message)) => assert!(message.contains(field), "{message}"),
                other => panic!("{params:?}: expected Invalid mentioning {field}, got {other:?}"),
            }
            assert!(Sampler::try_new(params).is_err());
        }
        ok.validate().unwrap();
        SamplingParams { top_p: 1.0, min_p: 1.0, typical_p: 1.0, repetition_penalty: 1.3, ..ok }.validate().unwrap();
    }

    #[test]
    fn params_deserialise_with_defaults_for_missing_fields() {
        let p: SamplingParams = serde_json::from_str(r#"{"temperature": 0.7, "top_p": 0.9, "seed": 5}"#).unwrap();
        assert_eq!(p, SamplingParams { temperature: 0.7, top_p: 0.9, seed: Some(5), ..SamplingParams::default() });
        let round: SamplingParams = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(round, p);
    }

    #[test]
    fn argmax_breaks_ties_to_the_lowest_id_and_never_picks_nan() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, 2.0]), 1);
        assert_eq!(argmax(&[f32::NAN, 1.0, f32::NAN, 0.5]), 1);
        assert_eq!(argmax(&[0.0, f32::NAN, 5.0, f32::NAN]), 2);
        assert_eq!(argmax(&[f32::NAN, f32::NEG_INFINITY, f32::NEG_INFINITY]), 1);
        assert_eq!(argmax(&[-1.0, f32::INFINITY, f32::INFINITY]), 1);
        assert_eq!(argmax(&[f32::NAN, f32::NAN]), 0);
        assert_eq!(argmax(&[]), 0);
    }

    #[test]
    fn logsumexp_matches_the_f64_definition_and_skips_nan() {
        let reference = |v: &[f32]| {
            let m = v.iter().copied().filter(|x| !x.is_nan()).fold(f64::NEG_INFINITY, |a, x| a.max(x as f64));
            m + v.iter().filter(|x| !x.is_nan()).map(|&x| (x as f64 - m).exp()).sum::<f64>().ln()
        };
        let mut seed = 7u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 40) as f32 / (1u64 << 24) as f32
        };
        for n in [1, 15, 16, 17, 1000, 49_152] {
            let v: Vec<f32> = (0..n).map(|_| next() * 60.0 - 40.0).collect();
            let (got, want) = (logsumexp(&v) as f64, reference(&v));
            assert!((got - want).abs() <= 1e-5 * want.abs().max(1.0), "{n}: {got} vs {want}");
        }
        assert_eq!(logsumexp(&[f32::NAN, 0.0, f32::NAN]), 0.0);
        assert_eq!(logsumexp(&[f32::NEG_INFINITY; 20]), f32::NEG_INFINITY);
        assert_eq!(logsumexp(&[1.0, f32::INFINITY]), f32::INFINITY);
        for x in [0.0f32, -1e-6, -0.5, -1.0, -3.3, -10.0, -40.0, -85.0] {
            let (got, want) = (exp_nonpositive(x) as f64, (x as f64).exp());
            // Rounding x·log2 e to f32 costs relative precision as |x| grows; the terms are tiny there.
            let bound = if x >= -10.0 { 3e-7 } else { 1e-5 };
            assert!((got - want).abs() <= bound * want, "e^{x}: {got} vs {want}");
        }
    }

    #[test]
    fn log_softmax_matches_the_definition() {
        let logits = [1.0f32, 2.0, 0.5, -3.0];
        let reference = softmax64(&logits, 1.0);
        for (got, want) in log_softmax(&logits).iter().zip(&reference) {
            assert!((f64::from(*got) - want.ln()).abs() < 1e-6, "{got} vs {}", want.ln());
        }
    }

    #[test]
    fn log_softmax_is_stable_for_huge_and_tiny_logits() {
        let out = log_softmax(&[1000.0, 1000.0, -1000.0]);
        let ln2 = std::f32::consts::LN_2;
        assert!((out[0] + ln2).abs() < 1e-6 && (out[1] + ln2).abs() < 1e-6, "{out:?}");
        assert!((out[2] - (-2000.0 - ln2)).abs() < 1e-2, "{out:?}");

        let big = random_logits(128_000, 3).iter().map(|l| l * 10.0).collect::<Vec<_>>();
        let total: f64 = log_softmax(&big).iter().map(|&l| f64::from(l).exp()).sum();
        assert!((total - 1.0).abs() < 1e-4, "{total}");
    }

    #[test]
    fn log_softmax_handles_nan_and_infinities() {
        let out = log_softmax(&[0.0, f32::NAN, 0.0, f32::NEG_INFINITY]);
        assert!(out[1].is_nan());
        assert!((out[0] + std::f32::consts::LN_2).abs() < 1e-6);
        assert_eq!(out[3], f32::NEG_INFINITY);
        let out = log_softmax(&[f32::INFINITY, 1.0, f32::INFINITY]);
        assert_eq!(out, vec![-std::f32::consts::LN_2, f32::NEG_INFINITY, -std::f32::consts::LN_2]);
    }

    #[test]
    fn temperature_to_zero_converges_to_argmax() {
        let logits = [0.3f32, 1.5, 1.0, -2.0, 1.4];
        for t in [1e-2f32, 1e-4, 1e-8, 1e-30] {
            for seed in 0..100 {
                assert_eq!(sample_once(sampling(t, seed), &logits), 1, "t={t} seed={seed}");
            }
        }
        // And the approach is gradual: at a low but non-zero temperature the runner-up (0.1 below)
        // still appears sometimes, less often as t falls.
        let share_of_argmax = |t| counts(&draws(sampling(t, 9), &logits, 4000), 5)[1];
        let (warm, cool) = (share_of_argmax(1.0), share_of_argmax(0.05));
        assert!(warm < cool && cool < 4000, "t=1: {warm}, t=0.05: {cool}");
    }

    #[test]
    fn a_fixed_seed_reproduces_the_same_sequence() {
        let params = SamplingParams { top_k: 50, top_p: 0.95, repetition_penalty: 1.1, ..sampling(0.9, 42) };
        let run = || {
            let mut sampler = Sampler::new(params.clone());
            let mut history = vec![1, 2, 3];
            for step in 0..60 {
                let mut logits = random_logits(1000, step);
                history.push(sampler.sample(&mut logits, &history));
            }
            history
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn different_seeds_give_different_sequences() {
        let logits = vec![0.0f32; 1000];
        assert_ne!(draws(sampling(1.0, 1), &logits, 50), draws(sampling(1.0, 2), &logits, 50));
    }

    #[test]
    fn unseeded_samplers_still_sample_valid_ids() {
        let mut sampler = Sampler::new(SamplingParams { seed: None, ..sampling(1.0, 0) });
        let id = sampler.sample(&mut random_logits(100, 1), &[]);
        assert!(id < 100);
    }

    #[test]
    fn temperature_one_without_filters_matches_softmax() {
        let logits = [1.0f32, 0.5, 0.0, -0.5, 2.0];
        let n = 20_000;
        let observed = counts(&draws(sampling(1.0, 1234), &logits, n), logits.len());
        let chi2: f64 = softmax64(&logits, 1.0)
            .iter()
            .zip(&observed)
            .map(|(p, &o)| {
                let expected = p * n as f64;
                (o as f64 - expected).powi(2) / expected
            })
            .sum();
        // 4 degrees of freedom: P(χ² > 18.47) = 0.001.
        assert!(chi2 < 18.47, "χ² = {chi2}, counts {observed:?}");
    }

    #[test]
    fn repetition_penalty_makes_a_seen_greedy_winner_lose() {
        let logits = [2.0f32, 1.9, -1.0, 0.5];
        let greedy = SamplingParams { repetition_penalty: 1.2, ..SamplingParams::default() };
        assert_eq!(Sampler::new(greedy.clone()).sample(&mut logits.to_vec(), &[]), 0);
        let mut penalised = logits.to_vec();
        assert_eq!(Sampler::new(greedy.clone()).sample(&mut penalised, &[0, 2]), 1);
        // Positive logits are divided, negative ones multiplied: both move down.
        assert_eq!(penalised, vec![2.0 / 1.2, 1.9, -1.2, 0.5]);

        // Negative winner: multiplying pushes it below its neighbour.
        let mut negative = vec![-0.5f32, -0.55];
        assert_eq!(Sampler::new(greedy.clone()).sample(&mut negative, &[0]), 1);
    }

    #[test]
    fn repetition_penalty_applies_once_per_distinct_id_and_ignores_unknown_ids() {
        let greedy = SamplingParams { repetition_penalty: 1.2, ..SamplingParams::default() };
        let mut logits = vec![2.0f32, 1.5];
        // Once: 2/1.2 = 1.67 still wins; three times it would be 1.16 and lose.
        assert_eq!(Sampler::new(greedy).sample(&mut logits, &[0, 0, 0, 99]), 0);
        assert_eq!(logits, vec![2.0 / 1.2, 1.5]);
    }

    #[test]
    fn repetition_penalty_lowers_the_sampled_share_of_seen_tokens() {
        let logits = [1.0f32, 1.0, 1.0, 1.0];
        let n = 4000;
        let share = |penalty| {
            let mut sampler = Sampler::new(SamplingParams { repetition_penalty: penalty, ..sampling(1.0, 7) });
            (0..n).filter(|_| sampler.sample(&mut logits.to_vec(), &[0]) == 0).count()
        };
        let (plain, penalised) = (share(1.0), share(2.0));
        // Expected 1/4 without, e^0.5 / (e^0.5 + 3e) ≈ 0.168 with.
        assert!(penalised < plain, "{penalised} !< {plain}");
        assert!((penalised as f64 / n as f64 - 0.168).abs() < 0.03, "{penalised}");
    }

    #[test]
    fn typical_p_keeps_the_token_whose_surprisal_is_closest_to_the_entropy() {
        // p = (0.5, 0.3, 0.2): entropy 1.03 nats, surprisals 0.69, 1.20, 1.61 → token 1 is the most
        // typical, though token 0 is the most likely.
        let logits = [0.5f32.ln(), 0.3f32.ln(), 0.2f32.ln()];
        for seed in 0..200 {
            let tiny = SamplingParams { typical_p: 0.01, ..sampling(1.0, seed) };
            assert_eq!(sample_once(tiny, &logits), 1, "seed {seed}");
        }
        // Mass 0.6 takes token 1 (0.3) then token 0 (0.5 more → 0.8 ≥ 0.6); token 2 is never drawn.
        let observed = counts(&draws(SamplingParams { typical_p: 0.6, ..sampling(1.0, 5) }, &logits, 2000), 3);
        assert_eq!(observed[2], 0, "{observed:?}");
        assert!(observed[0] > 0 && observed[1] > 0, "{observed:?}");
    }

    #[test]
    fn min_p_one_keeps_only_the_likeliest() {
        let logits = random_logits(500, 8);
        let best = argmax(&logits);
        for seed in 0..50 {
            assert_eq!(sample_once(SamplingParams { min_p: 1.0, ..sampling(1.5, seed) }, &logits), best);
        }
    }

    #[test]
    fn infinite_logits_take_all_the_mass_and_impossible_ones_none() {
        let logits = [0.0f32, f32::INFINITY, 100.0, f32::INFINITY, f32::NAN];
        let observed = counts(&draws(sampling(1.0, 3), &logits, 400), logits.len());
        assert_eq!(observed[0] + observed[2] + observed[4], 0, "{observed:?}");
        assert!(observed[1] > 100 && observed[3] > 100, "{observed:?}");

        let logits = [f32::NEG_INFINITY, 0.0, f32::NAN, f32::NEG_INFINITY];
        assert!(draws(sampling(1.0, 3), &logits, 200).iter().all(|&id| id == 1));
        // Nothing possible at all: fall back to argmax rather than inventing a distribution.
        assert_eq!(sample_once(sampling(1.0, 3), &[f32::NAN, f32::NEG_INFINITY]), 1);
    }

    #[test]
    fn large_vocabulary_with_all_filters_samples_from_the_head() {
        let logits = random_logits(128_256, 11);
        let mut order: Vec<u32> = (0..logits.len() as u32).collect();
        order.sort_by(|&a, &b| logits[b as usize].total_cmp(&logits[a as usize]));
        let params = SamplingParams { top_k: 40, top_p: 0.9, min_p: 0.05, typical_p: 0.95, ..sampling(0.7, 1) };
        let mut sampler = Sampler::new(params);
        for _ in 0..20 {
            let id = sampler.sample(&mut logits.clone(), &[]);
            assert!(order[..40].contains(&id));
        }
        // top-p alone on the full vocabulary: the geometric prefix growth has to go past 64 candidates.
        let flat = random_logits(128_256, 12).iter().map(|l| l * 0.1).collect::<Vec<_>>();
        let probs = softmax64(&flat, 1.0);
        let mut sampler = Sampler::new(SamplingParams { top_p: 0.5, ..sampling(1.0, 2) });
        for _ in 0..5 {
            let id = sampler.sample(&mut flat.clone(), &[]) as usize;
            let above: f64 = probs.iter().filter(|&&p| p > probs[id]).sum();
            assert!(above < 0.5 + 1e-4, "{above}");
        }
    }

    proptest! {
        #[test]
        fn greedy_equals_argmax(
            logits in prop::collection::vec(prop_oneof![9 => -50.0f32..50.0, 1 => Just(f32::NAN)], 1..200),
            top_k in 0usize..5,
            top_p in 0.1f32..=1.0,
            seed: u64,
        ) {
            let params = SamplingParams { top_k, top_p, ..sampling(0.0, seed) };
            prop_assert_eq!(sample_once(params, &logits), argmax(&logits));
            let top1 = SamplingParams { top_k: 1, ..sampling(1.3, seed) };
            prop_assert_eq!(sample_once(top1, &logits), argmax(&logits));
        }

        #[test]
        fn top_k_never_samples_outside_the_k_highest(
            logits in prop::collection::vec(-10.0f32..10.0, 1..64),
            k in 1usize..10,
            t in 0.1f32..3.0,
            seed: u64,
        ) {
            let id = sample_once(SamplingParams { top_k: k, ..sampling(t, seed) }, &logits) as usize;
            let higher = logits.iter().filter(|&&l| l > logits[id]).count();
            prop_assert!(higher < k, "id {} has {} higher logits, k = {}", id, higher, k);
        }

        #[test]
        fn top_p_never_samples_outside_the_smallest_nucleus(
            logits in prop::collection::vec(-10.0f32..10.0, 1..64),
            top_p in 0.01f32..=1.0,
            t in 0.1f32..3.0,
            seed: u64,
        ) {
            let id = sample_once(SamplingParams { top_p, ..sampling(t, seed) }, &logits) as usize;
            // In the nucleus iff the tokens strictly likelier than it hold less than top_p (tie-robust).
            let probs = softmax64(&logits, t);
            let above: f64 = probs.iter().filter(|&&p| p > probs[id]).sum();
            prop_assert!(above < f64::from(top_p) + 1e-4, "id {} has {} above it, top_p = {}", id, above, top_p);
        }

        #[test]
        fn min_p_never_samples_below_the_threshold(
            logits in prop::collection::vec(-10.0f32..10.0, 1..64),
            min_p in 0.0f32..=1.0,
            t in 0.1f32..3.0,
            seed: u64,
        ) {
            let id = sample_once(SamplingParams { min_p, ..sampling(t, seed) }, &logits) as usize;
            let probs = softmax64(&logits, t);
            let p_max = probs.iter().copied().fold(0.0, f64::max);
            prop_assert!(probs[id] >= f64::from(min_p) * p_max * (1.0 - 1e-4), "p {} < {} * {}", probs[id], min_p, p_max);
        }

        #[test]
        fn combined_filters_respect_each_bound(
            logits in prop::collection::vec(-10.0f32..10.0, 1..64),
            k in 1usize..20,
            top_p in 0.05f32..=1.0,
            t in 0.1f32..3.0,
            seed: u64,
        ) {
            let id = sample_once(SamplingParams { top_k: k, top_p, ..sampling(t, seed) }, &logits) as usize;
            prop_assert!(logits.iter().filter(|&&l| l > logits[id]).count() < k);
            // top-p applies to the renormalised top-k distribution, so test against that.
            let mut head = logits.clone();
            head.sort_by(|a, b| b.total_cmp(a));
            head.truncate(k);
            let probs = softmax64(&head, t);
            let p_id = probs[0] * ((f64::from(logits[id]) - f64::from(head[0])) / f64::from(t)).exp();
            let above: f64 = probs.iter().filter(|&&p| p > p_id * (1.0 + 1e-9)).sum();
            prop_assert!(above < f64::from(top_p) + 1e-4);
        }
    }
}
