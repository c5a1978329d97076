//! Time to first token and decode speed of a chat model: plain greedy (two-row exact steps and
//! one-row steps) against n-gram speculation, measured side by side in one run on the same prompts,
//! with the outputs compared token for token.

use super::{RAG_PASSAGES, median};
use crate::answer::prompt::{self, Lang};
use crate::generate::chat::Message;
use crate::generate::onnx::decoder::{DeviceSteps, Layout};
use crate::generate::{FinishReason, GenerateParams, Generation, LanguageModel};
use crate::generate::speculative::NgramConfig;
use crate::inference::runtime::SessionConfig;
use crate::lecture::{LectureId, RevisionId};
use crate::retrieval::Passage;
use crate::text::CharSpan;
use crate::{Error, Result};
use serde::{Deserialize, Serialize, Serializer};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// A question asked with no passages: nothing in the prompt to copy, so only the model's own
/// drafts can speed it up.
pub const OPEN_QUESTION: &str = "Explain to a first-year student how a neural network learns from examples, step by step.";

pub const RAG_QUESTION: &str =
    "What does the lecture say about the optimal number of training tokens and about the compute needed for training?";

/// Questions asked one after another about the RAG passages (memory must stay flat across them).
const QUESTIONS: &[&str] = &[
    RAG_QUESTION,
    "How does the test loss change as compute grows?",
    "What is the formula for the compute needed to train a transformer?",
    "How many tokens should a 70 billion parameter model be trained on?",
    "What is inference time scaling?",
    "What do scaling laws look like on log-log axes?",
    "What did the Chinchilla paper find?",
    "Why is the six times formula useful before training starts?",
    "How can a model spend more compute when answering?",
    "What grows together in a scaling law?",
];

/// A way of decoding that is timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// Plain greedy with two-row exact steps.
    Plain,
    /// Plain greedy with one-row steps.
    Fast,
    /// Speculation with every drafting strategy (context n-grams, then the model's own bigrams).
    Spec,
    /// Speculation with context n-gram drafts only.
    SpecContext,
}

impl std::str::FromStr for Variant {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "plain" => Ok(Self::Plain),
            "fast" => Ok(Self::Fast),
            "spec" => Ok(Self::Spec),
            "spec-context" => Ok(Self::SpecContext),
            other => Err(Error::Invalid(format!("unknown variant {other:?}: use plain, fast, spec or spec-context"))),
        }
    }
}

/// A chat timed instead of the built-in RAG prompt; its results carry `name`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchChat {
    pub name: String,
    pub messages: Vec<Message>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerateBench {
    /// Generations per variant and prompt (at least one); medians are reported.
    pub runs: usize,
    /// New tokens per generation.
    pub new_tokens: usize,
    /// n-gram speculation settings.
    pub ngram: NgramConfig,
    /// A chat to time instead of the built-in RAG prompt.
    pub chat: Option<BenchChat>,
    /// Synthetic prompt lengths in tokens instead of the RAG prompt (when there is no chat).
    pub prompt_tokens: Vec<usize>,
    /// Prompt tokens per prefill pass.
    pub prefill_chunk: usize,
    /// Which decoding variants to time.
    pub variants: Vec<Variant>,
    /// Read the GPU's used memory (nvidia-smi) after every generation.
    pub gpu_memory: bool,
    /// Also time one pass verifying K = 1..N drafted tokens against one decode step (0: not).
    pub verify_k: usize,
    /// Also replay the draft strategies of [`super::drafts`] on each prompt's greedy answer, costed
    /// with passes of up to 16 rows timed in this run.
    pub draft_replay: bool,
    /// Also answer the RAG prompt this many times in a row, reading GPU memory after each.
    pub questions: usize,
    /// CPU decode steps reuse one binding per cache (false: bind every pass afresh, for comparisons).
    pub host_steps: bool,
    /// Write ONNX Runtime's per-node profile of the chat model's session to files starting here.
    pub ort_profile: Option<PathBuf>,
    /// `NAME=VALUE` settings a second copy of the model is opened with; one-row decode of the two
    /// copies is then timed run by run in alternating order, in this one process (this machine's
    /// speed drifts by a third between processes; side by side, by a few percent).
    pub paired_env: Vec<(String, String)>,
}

impl Default for GenerateBench {
    fn default() -> Self {
        Self {
            runs: 3,
            new_tokens: 256,
            ngram: NgramConfig::default(),
            chat: None,
            prompt_tokens: Vec::new(),
            prefill_chunk: 512,
            variants: vec![
                Variant::Plain,
                Variant::Fast,
                Variant::Spec,
                Variant::SpecContext,
            ],
            gpu_memory: false,
            verify_k: 0,
            draft_replay: false,
            questions: 0,
            host_steps: true,
            ort_profile: None,
            paired_env: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct GenerateBenchReport {
    pub bench: &'static str,
    pub cuda_graph: bool,
    pub cuda_graph_note: Option<String>,
    pub device_fed_steps: bool,
    pub device_step_counts: Option<StepCounts>,
    pub device_steps_mode: DeviceSteps,
    pub draft_replay: Vec<super::drafts::DraftReplay>,
    pub gpu_memory_mib: GpuMemory,
    pub host_steps: bool,
    pub layout: Layout,
    pub load_s: f64,
    pub model: PathBuf,
    #[serde(serialize_with = "sorted_keys")]
    pub ngram: NgramConfig,
    pub picks_on_device: bool,
    pub prefill_chunk: usize,
    pub provider: String,
    pub questions: Vec<QuestionRun>,
    pub results: Vec<PromptResult>,
    /// Every attention and int4 product node on kogi's kernels: exact greedy steps are one row.
    pub rows_independent: bool,
    /// As asked (0 runs once).
    pub runs: usize,
    pub step_outputs: bool,
    pub step_outputs_note: Option<String>,
    pub threads: Option<usize>,
    pub verify_cost: Option<VerifyCost>,
}

/// Decode steps run from the fixed buffers, and those that had to upload ids or a mask first.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct StepCounts {
    pub steps: u64,
    pub uploads: u64,
}

/// GPU memory in use (MiB, nvidia-smi) when asked for and there is a GPU.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GpuMemory {
    pub after_each_generation: Vec<u64>,
    pub after_load: Option<u64>,
}

/// The variants timed on one prompt (`null` for a variant not timed).
#[derive(Debug, Clone, Serialize)]
pub struct PromptResult {
    /// Whether speculation produced plain greedy's tokens (when both were timed; else it fails).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identical_output: Option<bool>,
    pub plain: Option<Decoding>,
    pub plain_one_row_steps: Option<Decoding>,
    pub prompt: String,
    /// The prompt's token ids (for running other engines on exactly this prompt).
    pub prompt_ids: Vec<u32>,
    pub prompt_tokens: usize,
    pub speculative: Option<Decoding>,
    /// Speculation drafting from the context only.
    pub speculative_context_only: Option<Decoding>,
    /// Speculative over plain decode speed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speedup: Option<f64>,
    /// Context-only speculation over plain decode speed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speedup_context_only: Option<f64>,
    /// Speculative over one-row-step decode speed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speedup_vs_one_row_steps: Option<f64>,
    /// The first variant's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The first variant's answer as token ids.
    pub tokens: Vec<u32>,
    /// One-row decode of the copy opened with `paired_env` against this one, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paired: Option<Paired>,
}

/// Two copies of the model timed side by side, run by run.
#[derive(Debug, Clone, Serialize)]
pub struct Paired {
    pub env: Vec<String>,
    /// Decode tok/s of this copy and of the other, run by run.
    pub decode_tokens_per_s: Vec<f64>,
    pub paired_decode_tokens_per_s: Vec<f64>,
    /// The median of the runs' paired / this ratios, and in how many runs the paired copy was faster.
    pub ratio_median: f64,
    pub paired_faster: usize,
}

/// One variant on one prompt: medians over the runs, and every run's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct Decoding {
    /// Speculation only (first run), as the next two and `drafted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acceptance_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<usize>,
    pub decode_tokens_per_s: f64,
    pub decode_tokens_per_s_all: Vec<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drafted: Option<usize>,
    pub finish: FinishReason,
    /// Of `drafted` and `accepted`, the model's own bigram drafts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_accepted: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_drafted: Option<usize>,
    pub new_tokens: usize,
    /// One-row steps only: whether they produced the two-row steps' tokens (first runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_tokens_as_exact: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_per_forward_pass: Option<f64>,
    pub ttft_ms: f64,
    pub ttft_ms_all: Vec<f64>,
}

/// One answer of the questions asked in a row.
#[derive(Debug, Clone, Serialize)]
pub struct QuestionRun {
    pub decode_tokens_per_s: f64,
    pub gpu_memory_mib: Option<u64>,
    pub new_tokens: usize,
    pub prompt_tokens: usize,
    pub question: String,
    pub ttft_ms: f64,
}

/// The cost of verifying K drafted tokens in one pass, against one decode step.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyCost {
    pub context_tokens: usize,
    pub passes: Vec<VerifyPass>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyPass {
    pub drafted_k: usize,
    pub ms: f64,
    pub relative_to_one_decode_step: f64,
    pub rows: usize,
}

/// Serialise through a JSON map, whose keys are sorted (for a type declared in another order).
fn sorted_keys<T: Serialize, S: Serializer>(v: &T, s: S) -> std::result::Result<S::Ok, S::Error> {
    serde_json::to_value(v).map_err(serde::ser::Error::custom)?.serialize(s)
}

/// The model opened again with `env` set while it loads (the switches kogi reads at load, e.g.
/// `KOGI_MATMUL`, `KOGI_HUGE_PAGES`), then set back.
fn open_with_env(dir: &Path, session: &SessionConfig, steps: DeviceSteps, env: &[(String, String)]) -> Result<LanguageModel> {
    let before: Vec<Option<std::ffi::OsString>> = env.iter().map(|(k, _)| std::env::var_os(k)).collect();
    let set = |k: &str, v: Option<&std::ffi::OsStr>| {
        // SAFETY: a benchmark's own process, between loads; kogi reads these switches only while
        // a model loads, on this thread.
        unsafe {
            match v {
                Some(v) => std::env::set_var(k, v),
                None => std::env::remove_var(k),
            }
        }
    };
    for (k, v) in env {
        set(k, Some(v.as_ref()));
    }
    let lm = LanguageModel::open_with(dir, session, steps);
    for ((k, _), v) in env.iter().zip(&before) {
        set(k, v.as_deref());
    }
    lm
}

/// Open the chat model in `dir` with `session` and `steps` (the load is timed), then time the
/// variants on each prompt: `params.chat`, or synthetic prompts of `params.prompt_tokens`, or the
/// built-in RAG prompt. Fails if speculation's output differs from plain greedy's.
pub fn generate(
    dir: &Path,
    session: &SessionConfig,
    steps: DeviceSteps,
    params: &GenerateBench,
) -> Result<GenerateBenchReport> {
    params.ngram.validate()?;
    let has = |v: Variant| params.variants.contains(&v);
    let load = Instant::now();
    let session = &SessionConfig { profile: params.ort_profile.clone(), ..session.clone() };
    let mut lm = LanguageModel::open_with(dir, session, steps)?;
    lm.decoder.set_host_steps(params.host_steps);
    let load_s = load.elapsed().as_secs_f64();
    let mut other = (!params.paired_env.is_empty()).then(|| open_with_env(dir, session, steps, &params.paired_env)).transpose()?;
    let cancel = AtomicBool::new(false);
    let mem_after_load = if params.gpu_memory { gpu_memory_mib() } else { None };
    // The prompts: the RAG prompt, or synthetic ones of given lengths (real tokenizer, real text).
    let mut prompts: Vec<(String, Vec<u32>)> = Vec::new();
    if let Some(chat) = &params.chat {
        prompts.push((chat.name.clone(), lm.encode_chat(&chat.messages)?));
    } else if params.prompt_tokens.is_empty() {
        prompts.push(("rag".into(), rag_prompt(&lm, RAG_QUESTION)?));
        prompts.push((
            "open".into(),
            lm.encode_chat(&[Message::user(OPEN_QUESTION)])?,
        ));
    } else {
        let text: String = RAG_PASSAGES.join(" ");
        let unit = lm.tokenizer.encode(&text)?;
        for &n in &params.prompt_tokens {
            let ids: Vec<u32> = unit.iter().copied().cycle().take(n).collect();
            prompts.push((format!("synthetic-{n}"), ids));
        }
    }
    let mut gpu_mem_mib: Vec<u64> = Vec::new();
    let mut results = Vec::new();
    for (name, prompt) in &prompts {
        let plain_params = GenerateParams {
            max_new_tokens: params.new_tokens,
            prefill_chunk: params.prefill_chunk,
            ..Default::default()
        };
        let spec_params = GenerateParams { speculative: Some(params.ngram.clone()), ..plain_params.clone() };
        let context_params =
            GenerateParams { speculative: Some(NgramConfig { model_k: 0, ..params.ngram.clone() }), ..plain_params.clone() };
        let fast_params = GenerateParams { exact_steps: false, ..plain_params.clone() };
        // Warm-up (allocations, kernels, graph capture) is not measured.
        for p in [&plain_params, &fast_params] {
            lm.generate(prompt, &GenerateParams { max_new_tokens: 8, ..p.clone() }, &mut |_| {}, &cancel)?;
        }
        if let Some(o) = other.as_mut() {
            o.generate(prompt, &GenerateParams { max_new_tokens: 8, ..fast_params.clone() }, &mut |_| {}, &cancel)?;
        }
        let mut plain: Vec<Generation> = Vec::new();
        let mut fast: Vec<Generation> = Vec::new();
        let mut pairs: Vec<(f64, f64)> = Vec::new();
        let mut spec: Vec<Generation> = Vec::new();
        let mut context: Vec<Generation> = Vec::new();
        // Interleave the variants so that machine noise hits all alike.
        for run in 0..params.runs.max(1) {
            if let Some(o) = other.as_mut() {
                let time = |m: &mut LanguageModel| m.generate(prompt, &fast_params, &mut |_| {}, &cancel).map(|g| g.stats.decode_tokens_per_s);
                pairs.push(if run % 2 == 0 {
                    let a = time(&mut lm)?;
                    (a, time(o)?)
                } else {
                    let b = time(o)?;
                    (time(&mut lm)?, b)
                });
            }
            for (v, p, into) in [
                (Variant::Plain, &plain_params, &mut plain),
                (Variant::Fast, &fast_params, &mut fast),
                (Variant::Spec, &spec_params, &mut spec),
                (Variant::SpecContext, &context_params, &mut context),
            ] {
                if has(v) {
                    into.push(lm.generate(prompt, p, &mut |_| {}, &cancel)?);
                    if params.gpu_memory {
                        gpu_mem_mib.extend(gpu_memory_mib());
                    }
                }
            }
        }
        // Every run with two-row steps or speculation gives the same greedy tokens.
        let exact: Vec<&Generation> = plain.iter().chain(&spec).chain(&context).collect();
        let differing = exact.iter().find(|g| g.tokens != exact[0].tokens);
        let identical = differing.is_none();
        if let Some(other) = differing {
            let (a, b) = (&exact[0].tokens, &other.tokens);
            let at = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
            return Err(Error::Invalid(format!(
                "speculative output differs from plain greedy output on prompt {name} at token {at} — this is a bug\nplain: {:?}\nspeculative: {:?}",
                &a[at.saturating_sub(3)..a.len().min(at + 5)],
                &b[at.saturating_sub(3)..b.len().min(at + 5)]
            )));
        }
        let tps =
            |g: &[Generation]| (!g.is_empty()).then(|| median(g.iter().map(|g| g.stats.decode_tokens_per_s).collect()));
        let mut fast_summary = summary(&fast);
        if let (Some(s), Some(f), Some(p)) = (&mut fast_summary, fast.first(), plain.first()) {
            s.same_tokens_as_exact = Some(f.tokens == p.tokens);
        }
        let speculative = |g: &[Generation]| {
            let mut out = summary(g);
            if let (Some(s), Some(g)) = (&mut out, g.first()) {
                let st = &g.stats;
                s.acceptance_rate = Some(st.acceptance_rate());
                s.drafted = Some(st.drafted);
                s.accepted = Some(st.accepted);
                s.model_drafted = Some(st.model_drafted);
                s.model_accepted = Some(st.model_accepted);
                s.tokens_per_forward_pass = Some(st.new_tokens as f64 / st.forward_passes.max(1) as f64);
            }
            out
        };
        let speedup = tps(&spec).zip(tps(&plain)).map(|(s, p)| s / p);
        results.push(PromptResult {
            identical_output: (speedup.is_some() || !context.is_empty()).then_some(identical),
            plain: summary(&plain),
            plain_one_row_steps: fast_summary,
            prompt: name.clone(),
            prompt_ids: prompt.clone(),
            prompt_tokens: prompt.len(),
            speculative: speculative(&spec),
            speculative_context_only: speculative(&context),
            speedup_context_only: tps(&context).zip(tps(&plain)).map(|(s, p)| s / p),
            speedup,
            speedup_vs_one_row_steps: tps(&spec).zip(tps(&fast)).map(|(s, f)| s / f),
            // Greedy's exact tokens where they were produced (the draft replay reads them).
            text: plain.first().or(spec.first()).or(fast.first()).map(|g| g.text.clone()),
            tokens: plain.first().or(spec.first()).or(fast.first()).map(|g| g.tokens.clone()).unwrap_or_default(),
            paired: (!pairs.is_empty()).then(|| Paired {
                env: params.paired_env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                decode_tokens_per_s: pairs.iter().map(|p| p.0).collect(),
                paired_decode_tokens_per_s: pairs.iter().map(|p| p.1).collect(),
                ratio_median: median(pairs.iter().map(|(a, b)| b / a).collect()),
                paired_faster: pairs.iter().filter(|(a, b)| b > a).count(),
            }),
        });
    }
    let verify_k = if params.draft_replay { params.verify_k.max(15) } else { params.verify_k };
    let verify_cost = if verify_k > 0 {
        Some(verify_cost(&mut lm, &prompts[0].1, verify_k, params.prefill_chunk)?)
    } else {
        None
    };
    let mut draft_replay = Vec::new();
    if let (true, Some(vc)) = (params.draft_replay, &verify_cost) {
        let cost: Vec<(usize, f64)> = vc.passes.iter().map(|p| (p.rows, p.ms)).collect();
        // Plain greedy steps as the generator takes them.
        let step_rows = if lm.decoder.rows_independent { 1 } else { 2 };
        for r in results.iter().filter(|r| r.plain.is_some() || r.speculative.is_some()) {
            for &s in super::drafts::STRATEGIES {
                draft_replay.push(super::drafts::replay(&r.prompt, &r.prompt_ids, &r.tokens, s, lm.drafts.as_ref(), &params.ngram, &cost, step_rows));
            }
        }
    }
    let mut questions = Vec::new();
    for q in QUESTIONS.iter().cycle().take(params.questions) {
        let prompt = rag_prompt(&lm, q)?;
        let p = GenerateParams {
            max_new_tokens: params.new_tokens,
            prefill_chunk: params.prefill_chunk,
            ..Default::default()
        };
        let g = lm.generate(&prompt, &p, &mut |_| {}, &cancel)?;
        questions.push(QuestionRun {
            decode_tokens_per_s: g.stats.decode_tokens_per_s,
            gpu_memory_mib: gpu_memory_mib(),
            new_tokens: g.tokens.len(),
            prompt_tokens: prompt.len(),
            question: (*q).to_owned(),
            ttft_ms: g.stats.ttft_ms,
        });
    }
    let d = &lm.decoder;
    Ok(GenerateBenchReport {
        bench: "generate",
        cuda_graph: d.uses_cuda_graph(),
        cuda_graph_note: d.cuda_graph_note.clone(),
        device_fed_steps: d.device_steps(),
        device_step_counts: d.device_step_counts().map(|(steps, uploads)| StepCounts { steps, uploads }),
        device_steps_mode: steps,
        draft_replay,
        gpu_memory_mib: GpuMemory { after_each_generation: gpu_mem_mib, after_load: mem_after_load },
        host_steps: params.host_steps,
        layout: d.info.layout,
        load_s,
        model: dir.to_owned(),
        ngram: params.ngram.clone(),
        picks_on_device: d.picks_on_device(),
        rows_independent: d.rows_independent,
        prefill_chunk: params.prefill_chunk,
        provider: d.provider.to_string(),
        questions,
        results,
        runs: params.runs,
        step_outputs: d.fused_steps(),
        step_outputs_note: d.fused_note.clone(),
        threads: session.threads,
        verify_cost,
    })
}

/// Medians over the generations of one variant (`None` when it was not timed).
fn summary(g: &[Generation]) -> Option<Decoding> {
    let first = g.first()?;
    let ttft: Vec<f64> = g.iter().map(|g| g.stats.ttft_ms).collect();
    let tps: Vec<f64> = g.iter().map(|g| g.stats.decode_tokens_per_s).collect();
    Some(Decoding {
        accepted: None,
        acceptance_rate: None,
        decode_tokens_per_s: median(tps.clone()),
        decode_tokens_per_s_all: tps,
        drafted: None,
        finish: first.finish,
        model_accepted: None,
        model_drafted: None,
        new_tokens: first.tokens.len(),
        same_tokens_as_exact: None,
        tokens_per_forward_pass: None,
        ttft_ms: median(ttft.clone()),
        ttft_ms_all: ttft,
    })
}

/// The prompt `kogi ask` builds (English) for `question` over the built-in passages.
pub fn rag_prompt(lm: &LanguageModel, question: &str) -> Result<Vec<u32>> {
    let passages: Vec<Passage> = RAG_PASSAGES
        .iter()
        .enumerate()
        .map(|(i, t)| Passage {
            lecture: LectureId(1),
            title: "Scaling laws".into(),
            course: None,
            revision: RevisionId(1),
            span: CharSpan::new(i * 1000, i * 1000 + t.chars().count()),
            matched: CharSpan::new(i * 1000, i * 1000 + t.chars().count()),
            text: (*t).to_owned(),
            start_ms: None,
            end_ms: None,
            score: 1.0,
            dense: None,
            bm25: None,
        })
        .collect();
    let built = prompt::build(lm, question, &passages, Lang::En, false, 4096)?;
    lm.encode_prompt(&built.chat)
}

/// Memory in use on the GPU (MiB) as nvidia-smi reports it, when there is one.
fn gpu_memory_mib() -> Option<u64> {
    let out = std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=memory.used", "--format=csv,noheader,nounits"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).lines().next()?.trim().parse().ok()
}

/// Time one forward pass that verifies K drafted tokens (K+1 rows: the last accepted token and the
/// drafts) against a plain decode step (one row), on the KV cache of `prompt`.
fn verify_cost(lm: &mut LanguageModel, prompt: &[u32], max_k: usize, chunk: usize) -> Result<VerifyCost> {
    let d = &mut lm.decoder;
    let mut cache = d.new_cache(1, prompt.len() + max_k + 2)?;
    d.prefill_greedy(&mut cache, prompt, chunk)?;
    let base = cache.len;
    let mut passes = Vec::new();
    let mut one_row_ms = 0.0;
    for k in 0..=max_k {
        let feed: Vec<u32> = prompt.iter().copied().cycle().take(k + 1).collect();
        let mut ms = Vec::new();
        for i in 0..23 {
            d.truncate(&mut cache, base)?;
            let t = Instant::now();
            d.forward_greedy(&mut cache, &feed, k + 1)?;
            if i >= 3 {
                ms.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        let m = median(ms);
        if k == 0 {
            one_row_ms = m;
        }
        passes.push(VerifyPass { drafted_k: k, ms: m, relative_to_one_decode_step: m / one_row_ms, rows: k + 1 });
    }
    Ok(VerifyCost { context_tokens: base, passes })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A report with every optional part present.
    pub fn sample_report() -> GenerateBenchReport {
        let decoding = Decoding {
            accepted: Some(2),
            acceptance_rate: Some(0.1),
            decode_tokens_per_s: 10.0,
            decode_tokens_per_s_all: vec![10.0],
            drafted: Some(20),
            finish: FinishReason::MaxTokens,
            model_accepted: Some(1),
            model_drafted: Some(5),
            new_tokens: 32,
            same_tokens_as_exact: Some(true),
            tokens_per_forward_pass: Some(1.5),
            ttft_ms: 100.0,
            ttft_ms_all: vec![100.0],
        };
        GenerateBenchReport {
            bench: "generate",
            cuda_graph: true,
            cuda_graph_note: Some("note".into()),
            device_fed_steps: true,
            device_step_counts: Some(StepCounts { steps: 3, uploads: 1 }),
            device_steps_mode: DeviceSteps::Auto,
            draft_replay: vec![super::super::drafts::DraftReplay {
                mean_rows: 3.0,
                modelled_speedup: 1.1,
                passes: 10,
                prompt: "open".into(),
                strategy: "context".into(),
                tokens_per_pass: 1.2,
            }],
            gpu_memory_mib: GpuMemory { after_each_generation: vec![1], after_load: Some(1) },
            host_steps: true,
            layout: Layout::Genai,
            load_s: 1.0,
            model: "m".into(),
            ngram: NgramConfig::default(),
            picks_on_device: true,
            rows_independent: true,
            prefill_chunk: 512,
            provider: "cpu".into(),
            questions: vec![QuestionRun {
                decode_tokens_per_s: 1.0,
                gpu_memory_mib: Some(1),
                new_tokens: 1,
                prompt_tokens: 1,
                question: "q".into(),
                ttft_ms: 1.0,
            }],
            results: vec![PromptResult {
                identical_output: Some(true),
                plain: Some(decoding.clone()),
                plain_one_row_steps: None,
                prompt: "rag".into(),
                prompt_ids: vec![1, 2, 3],
                prompt_tokens: 3,
                speculative: Some(decoding.clone()),
                speculative_context_only: Some(decoding),
                speedup: Some(1.0),
                speedup_context_only: Some(1.0),
                speedup_vs_one_row_steps: Some(1.0),
                text: Some("t".into()),
                tokens: vec![4],
                paired: None,
            }],
            runs: 1,
            step_outputs: true,
            step_outputs_note: None,
            threads: Some(2),
            verify_cost: Some(VerifyCost {
                context_tokens: 3,
                passes: vec![VerifyPass { drafted_k: 0, ms: 1.0, relative_to_one_decode_step: 1.0, rows: 1 }],
            }),
        }
    }

    #[test]
    fn variants_parse_by_name() {
        assert_eq!("spec".parse::<Variant>().unwrap(), Variant::Spec);
        assert!("slow".parse::<Variant>().unwrap_err().to_string().contains("use plain, fast, spec or spec-context"));
        assert_eq!("spec-context".parse::<Variant>().unwrap(), Variant::SpecContext);
    }
}
