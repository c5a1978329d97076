//! A decoder-only ONNX model and its KV cache, in either common layout:
//!
//! - **genai** (onnxruntime-genai builder): `GroupQueryAttention` reads and writes one preallocated
//!   `[batch, kv_heads, capacity, head_dim]` buffer per layer, bound through IoBinding as both the past
//!   input and the present output. Appending is in place, and rolling back is just a shorter length.
//! - **optimum**: standard ops, `position_ids`, the present grows by concatenation each step; rolling
//!   back slices it.
//!
//! Inputs and outputs are read from the graph, never assumed.

use super::device_steps::{self, Resident, graph_run_options};
use super::graph::{self, PICKED, Picked, greedy_head, read_picked};
use crate::inference::runtime::{Provider, ProviderReport, SessionConfig, open_built, open_session_with};
use crate::{Error, Result};
use half::f16;
use ort::memory::{AllocationDevice, Allocator, AllocatorType, MemoryInfo, MemoryType};
use ort::session::Session;
use ort::value::{DynValue, Tensor, TensorElementType, ValueType};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    Genai,
    Optimum,
}

#[derive(Debug, Clone, Serialize)]
pub struct DecoderInfo {
    pub layout: Layout,
    pub layers: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub vocab: usize,
    pub context: usize,
    pub kv_f16: bool,
}

pub struct Decoder {
    session: Session,
    pub info: DecoderInfo,
    past: Vec<[String; 2]>,
    present: Vec<[String; 2]>,
    has_position_ids: bool,
    /// The graph computes logits from a given position on (`logits_from`, kogi's conversions).
    has_logits_from: bool,
    logits_name: String,
    pub provider: ProviderReport,
    /// Forward passes run (for "tokens per forward pass" reports).
    pub forward_passes: u64,
    /// On-device greedy head (GPU providers, genai layout): argmax and its log-probability are
    /// computed where the logits are, so only the chosen ids cross to the host. Used for passes
    /// that pick at several positions (speculative verification) or not at the last (padded prefill).
    head: Option<Session>,
    /// The session has the step outputs of [`graph`]: the pick at the last position and the
    /// next step's inputs come out of the decoder run itself.
    fused: bool,
    /// Why the step outputs are missing although they were wanted.
    pub fused_note: Option<String>,
    /// The session captures CUDA graphs: every run must name its graph, or none.
    captures: bool,
    /// Fixed buffers for decode steps fed on the device (CUDA graphs need them).
    resident: Option<Resident>,
    /// Why CUDA graphs are off although they were asked for.
    pub cuda_graph_note: Option<String>,
    /// Short passes on the CPU reuse each cache's binding ([`HostSteps`]); f32 logits only.
    host_steps: bool,
    /// Whether they can (the CPU provider, f32 logits).
    host_steps_possible: bool,
    /// A logits buffer given back by the caller ([`Decoder::recycle`]), so a decode step allocates
    /// nothing (a vocabulary's logits are ~200 KB: a fresh one each step cost malloc and page faults).
    spare: Option<Vec<f32>>,
    /// A step's row comes out the same in a pass of one row as in one of several (every attention and
    /// int4 product node on kogi's kernels): greedy steps need no second row to equal speculation.
    pub rows_independent: bool,
    /// Query heads a row puts in the vector lanes of kogi's attention kernel, when attention runs there
    /// ([`super::attention::rows_filling_lanes`]).
    pub heads_per_kv: Option<usize>,
}

/// How decode steps get their inputs and make their greedy choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceSteps {
    /// On a GPU: the step outputs are added to the graph (the pick comes out of the decoder run);
    /// with CUDA graphs the steps are also fed on the device from fixed buffers.
    #[default]
    Auto,
    /// On any provider, always fed on the device from fixed buffers: tests pin the GPU's code
    /// on the CPU with this (it is slower there than the default path).
    On,
    /// Never: the model as exported, with the greedy head's separate run on a GPU (for comparisons).
    Off,
}

impl std::str::FromStr for DeviceSteps {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Self::Auto),
            "on" => Ok(Self::On),
            "off" => Ok(Self::Off),
            other => Err(Error::Invalid(format!("unknown device-steps mode {other:?} — use auto, on or off"))),
        }
    }
}


/// Largest sequence the fixed step buffers hold; longer requests take ordinary buffers.
const RESIDENT_CAPACITY: usize = 4096;

/// A KV cache for `batch` sequences that advance together.
pub struct KvCache {
    pub batch: usize,
    /// Tokens held per sequence.
    pub len: usize,
    pub capacity: usize,
    store: KvStore,
    /// Decode steps on the CPU with the KV buffers bound once (see [`HostSteps`]).
    steps: Option<HostSteps>,
}

/// One binding per cache, made at its first short pass: the KV buffers stay bound (two per layer,
/// ~120 binds for a 30-layer model that every step used to redo), and the logits go into buffers
/// kept per pass width. A step binds only its ids and mask.
struct HostSteps {
    binding: ort::session::IoBinding,
    options: ort::session::RunOptions,
    /// Per width `w` (index `w - 1`): `[batch, w, vocab]` logits.
    logits: Vec<Tensor<f32>>,
    bound_width: usize,
}

enum KvStore {
    /// One shared past/present buffer per layer and K/V.
    Shared(Vec<[DynValue; 2]>),
    /// The decoder's own fixed-address step buffers (one sequence at a time).
    Resident,
    /// The last step's present values (`None` before the first step).
    Grown(Option<Vec<[DynValue; 2]>>),
}

fn rt(e: impl std::fmt::Display) -> Error {
    Error::Runtime(e.to_string())
}

fn dims(t: &ValueType) -> Vec<i64> {
    t.tensor_shape().map(|s| s.iter().copied().collect()).unwrap_or_default()
}

impl Decoder {
    pub fn open(dir: &Path, config: &SessionConfig) -> Result<Self> {
        Self::open_with(dir, config, DeviceSteps::Auto)
    }

    pub fn open_with(dir: &Path, config: &SessionConfig, steps: DeviceSteps) -> Result<Self> {
        let device_steps = steps == DeviceSteps::On;
        let model_name = dir.display().to_string();
        let merr = |message: String| Error::Model { model: model_name.clone(), message };
        let model_file = dir.join("model.onnx");
        if !model_file.is_file() {
            return Err(merr(format!("{} is missing — export the model again (see models/README.md)", model_file.display())));
        }
        let genai: Option<serde_json::Value> = match std::fs::read_to_string(dir.join("genai_config.json")) {
            Ok(s) => Some(serde_json::from_str(&s).map_err(|e| merr(format!("genai_config.json is not valid JSON: {e}")))?),
            Err(_) => None,
        };
        let target = crate::inference::manifest::ModelDir::open(dir)
            .ok()
            .and_then(|m| m.manifest.extra.get("target").and_then(|t| serde_json::from_value::<crate::model::convert::Target>(t.clone()).ok()));
        let config = &SessionConfig { half_graph: target.is_some_and(|t| t.half()), kogi_graph: target.is_some(), ..config.clone() };
        // TensorRT builds one engine per optimisation profile: give it the decoder's shapes (one
        // token per step up to a whole-window prefill) unless the caller chose some.
        let profiled;
        let config = match (&genai, config.provider, &config.tensorrt_profile) {
            (Some(g), Provider::Auto | Provider::TensorRt, None) => {
                let n = |p: &str| g.pointer(p).and_then(|v| v.as_u64()).map(|x| x as usize);
                match (n("/model/decoder/num_hidden_layers"), n("/model/decoder/num_key_value_heads"), n("/model/decoder/head_size")) {
                    (Some(layers), Some(kv), Some(hd)) => {
                        let window = n("/model/context_length").unwrap_or(4096).min(8192);
                        let profile = crate::inference::runtime::decoder_tensorrt_profile(layers, kv, hd, window, 1, 512);
                        profiled = SessionConfig { tensorrt_profile: Some(profile), ..config.clone() };
                        &profiled
                    }
                    _ => config,
                }
            }
            _ => config,
        };
        // On a GPU the step outputs go into the graph (genai layout: shared KV buffers). If the
        // edit fails the model still opens as it is, with the reason kept.
        let shared_kv = genai
            .as_ref()
            .and_then(|c| c.pointer("/search/past_present_share_buffer"))
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let fused = std::cell::Cell::new(false);
        let fused_note = std::cell::RefCell::new(None);
        let rows_independent = std::cell::Cell::new(false);
        let heads_per_kv = std::cell::Cell::new(None);
        let own = own_kernels();
        let commit = |b: &mut ort::session::builder::SessionBuilder, p: Provider| {
            fused.set(false);
            rows_independent.set(false);
            heads_per_kv.set(None);
            let wanted = match steps {
                DeviceSteps::Auto => matches!(p, Provider::Cuda | Provider::TensorRt),
                DeviceSteps::On => true,
                DeviceSteps::Off => false,
            };
            if p == Provider::Cpu && (own.attention || own.matmul) {
                match with_own_kernels(b, &model_file, own) {
                    Ok(Some((session, independent, heads))) => {
                        rows_independent.set(independent);
                        heads_per_kv.set(heads);
                        return Ok(session);
                    }
                    Ok(None) => {}
                    Err(why) => tracing::info!(%why, "decoder opened with ONNX Runtime's kernels"),
                }
            }
            if !(shared_kv && wanted) {
                return b.commit_from_file(&model_file);
            }
            match with_step_outputs(b, &model_file) {
                Ok(session) => {
                    fused.set(true);
                    Ok(session)
                }
                Err(why) => {
                    tracing::info!(%why, "decoder opened without step outputs");
                    *fused_note.borrow_mut() = Some(why);
                    b.commit_from_file(&model_file)
                }
            }
        };
        // ONNX Runtime refuses graph capture for some graphs (nodes it cannot capture): then run
        // without it and say why.
        let mut cuda_graph_note = None;
        let mut graphs = config.cuda_graph;
        let (session, provider) = match open_session_with(&model_file, config, &commit) {
            Err(e) if config.cuda_graph => {
                cuda_graph_note = Some(format!("CUDA graphs refused: {e}"));
                graphs = false;
                open_session_with(&model_file, &SessionConfig { cuda_graph: false, ..config.clone() }, &commit)?
            }
            r => r?,
        };
        let fused = fused.get();
        let fused_note = fused_note.into_inner();
        let rows_independent = rows_independent.get();
        let heads_per_kv = heads_per_kv.get();
        let inputs: Vec<(String, ValueType)> =
            session.inputs().iter().map(|o| (o.name().to_owned(), o.dtype().clone())).collect();
        let outputs: Vec<(String, ValueType)> =
            session.outputs().iter().map(|o| (o.name().to_owned(), o.dtype().clone())).collect();
        for needed in ["input_ids", "attention_mask"] {
            if !inputs.iter().any(|(n, _)| n == needed) {
                return Err(merr(format!("model.onnx has no `{needed}` input — not a decoder kogi can run")));
            }
        }
        let logits_name = outputs
            .iter()
            .find(|(n, _)| n == "logits")
            .map(|(n, _)| n.clone())
            .ok_or_else(|| merr("model.onnx has no `logits` output".into()))?;
        // Pair every past input with its present output by layer number.
        let mut past = Vec::new();
        let mut present = Vec::new();
        for layer in 0.. {
            let find = |list: &[(String, ValueType)], pats: &[String]| {
                list.iter().find(|(n, _)| pats.iter().any(|p| p == n)).map(|(n, t)| (n.clone(), t.clone()))
            };
            let pk = find(&inputs, &[format!("past_key_values.{layer}.key"), format!("past.{layer}.key")]);
            let pv = find(&inputs, &[format!("past_key_values.{layer}.value"), format!("past.{layer}.value")]);
            let (Some(pk), Some(pv)) = (pk, pv) else { break };
            let ok = find(&outputs, &[format!("present.{layer}.key"), format!("present_key_values.{layer}.key")]);
            let ov = find(&outputs, &[format!("present.{layer}.value"), format!("present_key_values.{layer}.value")]);
            let (Some(ok), Some(ov)) = (ok, ov) else {
                return Err(merr(format!("model.onnx has {} but no matching present output", pk.0)));
            };
            past.push([pk.0, pv.0]);
            present.push([ok.0, ov.0]);
        }
        if past.is_empty() {
            return Err(merr("model.onnx has no past_key_values inputs: kogi needs a model exported with a KV cache".into()));
        }
        let kv_type = &inputs.iter().find(|(n, _)| n == &past[0][0]).expect("found").1;
        let kv_f16 = match kv_type.tensor_type() {
            Some(TensorElementType::Float32) => false,
            Some(TensorElementType::Float16) => true,
            other => return Err(merr(format!("unsupported KV cache type {other:?}"))),
        };
        let shape = dims(kv_type);
        let g = |path: &[&str]| -> Option<usize> {
            let mut v = genai.as_ref()?;
            for p in path {
                v = v.get(*p)?;
            }
            v.as_u64().map(|x| x as usize)
        };
        let kv_heads = g(&["model", "decoder", "num_key_value_heads"])
            .or((shape.len() == 4 && shape[1] > 0).then(|| shape[1] as usize))
            .ok_or_else(|| merr("cannot tell the number of KV heads (no genai_config.json and a dynamic shape)".into()))?;
        let head_dim = g(&["model", "decoder", "head_size"])
            .or((shape.len() == 4 && shape[3] > 0).then(|| shape[3] as usize))
            .ok_or_else(|| merr("cannot tell the head size".into()))?;
        let logits_shape = dims(&outputs.iter().find(|(n, _)| n == &logits_name).expect("found").1);
        let vocab = g(&["model", "vocab_size"])
            .or(logits_shape.get(2).filter(|&&v| v > 0).map(|&v| v as usize))
            .ok_or_else(|| merr("cannot tell the vocabulary size".into()))?;
        let context = g(&["model", "context_length"]).unwrap_or(4096);
        let has_position_ids = inputs.iter().any(|(n, _)| n == "position_ids");
        // An input with a default value: ONNX Runtime lists it among the overridable initializers.
        let has_logits_from = session.overridable_initializers().iter().any(|i| i.name() == crate::model::convert::LOGITS_FROM);
        let layout = if genai.is_some() && !has_position_ids && shared_kv { Layout::Genai } else { Layout::Optimum };
        let info = DecoderInfo { layout, layers: past.len(), kv_heads, head_dim, vocab, context, kv_f16 };
        tracing::debug!(?info, "decoder loaded");
        let on_gpu = matches!(provider.in_use, Provider::Cuda | Provider::TensorRt);
        let logits_type = outputs
            .iter()
            .find(|(n, _)| n == &logits_name)
            .and_then(|(_, t)| t.tensor_type())
            .unwrap_or(TensorElementType::Float32);
        let head = if (on_gpu || device_steps) && layout == Layout::Genai {
            Some(open_built(&greedy_head(logits_type).map_err(rt)?, provider.in_use, config, false)?)
        } else {
            None
        };
        let captures = graphs && provider.in_use == Provider::Cuda;
        let fused = fused && layout == Layout::Genai;
        let host_steps_possible = provider.in_use == Provider::Cpu && logits_type == TensorElementType::Float32;
        let mut me = Self {
            session,
            info,
            past,
            present,
            has_position_ids,
            has_logits_from,
            logits_name,
            provider,
            forward_passes: 0,
            head,
            fused,
            fused_note,
            captures,
            resident: None,
            cuda_graph_note,
            host_steps: host_steps_possible,
            host_steps_possible,
            spare: None,
            rows_independent,
            heads_per_kv,
        };
        // On other providers graphs do not apply; on CUDA they need the step outputs.
        if captures && !fused && me.cuda_graph_note.is_none() {
            let why = me.fused_note.clone().unwrap_or_else(|| format!("the model is in the {:?} layout", me.info.layout));
            me.cuda_graph_note = Some(format!("CUDA graphs need the decoder's step outputs, which could not be added: {why}"));
        }
        if fused && (captures || device_steps) {
            me.resident = Some(me.resident_buffers(logits_type, captures, config)?);
        }
        Ok(me)
    }

    /// Make greedy choices with the head graph on whatever provider the decoder runs on (GPU
    /// decoders have it already). On the CPU this runs the same head as on a GPU, so tests pin its
    /// numbers without one.
    pub fn enable_greedy_head(&mut self, config: &SessionConfig) -> Result<()> {
        if self.info.layout != Layout::Genai {
            return Err(Error::Invalid("the greedy head needs the genai layout (shared KV buffers)".into()));
        }
        if self.head.is_none() {
            let ty = self.session.outputs().iter().find(|o| o.name() == self.logits_name).and_then(|o| o.dtype().tensor_type());
            let ty = ty.unwrap_or(TensorElementType::Float32);
            self.head = Some(open_built(&greedy_head(ty).map_err(rt)?, self.provider.in_use, config, false)?);
        }
        Ok(())
    }

    /// Turn the CPU's per-cache step bindings ([`HostSteps`]) off (every pass binds afresh, as
    /// before they existed: for comparisons) or back on where they apply.
    pub fn set_host_steps(&mut self, on: bool) {
        self.host_steps = on && self.host_steps_possible;
    }

    /// Whether greedy choices are made on the device (see [`Decoder::forward_greedy`]).
    pub fn picks_on_device(&self) -> bool {
        self.head.is_some()
    }

    /// Whether decode steps are replayed from CUDA graphs.
    pub fn uses_cuda_graph(&self) -> bool {
        self.resident.as_ref().is_some_and(|r| r.capture)
    }

    /// Whether the pick and the next step's inputs come out of the decoder run (step outputs).
    pub fn fused_steps(&self) -> bool {
        self.fused
    }

    /// Whether single-sequence decode steps are fed on the device from fixed buffers.
    pub fn device_steps(&self) -> bool {
        self.resident.is_some()
    }

    /// Decode steps run from the fixed buffers, and how many of them had to upload ids or a mask
    /// from the host first (the rest were fed by the step before).
    pub fn device_step_counts(&self) -> Option<(u64, u64)> {
        self.resident.as_ref().map(|r| (r.steps, r.uploads))
    }

    fn resident_buffers(&self, logits_type: TensorElementType, capture: bool, config: &SessionConfig) -> Result<Resident> {
        let capacity = RESIDENT_CAPACITY.min(self.info.context);
        let device = self.memory_info()?;
        let allocator = Allocator::new(&self.session, device.clone()).map_err(rt)?;
        let mut kv = Vec::with_capacity(self.info.layers);
        for _ in 0..self.info.layers {
            kv.push([self.empty_kv(1, capacity, Some(&allocator))?, self.empty_kv(1, capacity, Some(&allocator))?]);
        }
        let host = matches!(self.provider.in_use, Provider::Cuda | Provider::TensorRt).then(Allocator::default);
        let names = device_steps::Names { past: &self.past, present: &self.present, logits: &self.logits_name };
        let head = (self.provider.in_use, config);
        Resident::new(&self.session, &allocator, host.as_ref(), kv, capacity, self.info.vocab, logits_type, capture, names, head)
    }

    fn memory_info(&self) -> Result<MemoryInfo<'static>> {
        // KV buffers live where the model runs: on the GPU for CUDA/TensorRT, so nothing but the
        // sampled id crosses to the host per token.
        let device = match self.provider.in_use {
            crate::inference::runtime::Provider::Cuda | crate::inference::runtime::Provider::TensorRt => AllocationDevice::CUDA,
            _ => AllocationDevice::CPU,
        };
        MemoryInfo::new(device, 0, AllocatorType::Device, MemoryType::Default).map_err(rt)
    }

    fn empty_kv(&self, batch: usize, len: usize, allocator: Option<&Allocator>) -> Result<DynValue> {
        let shape = [batch as i64, self.info.kv_heads as i64, len as i64, self.info.head_dim as i64];
        let n = shape.iter().product::<i64>() as usize;
        Ok(match (allocator, self.info.kv_f16) {
            (Some(a), false) => Tensor::<f32>::new(a, shape).map_err(rt)?.into_dyn(),
            (Some(a), true) => Tensor::<f16>::new(a, shape).map_err(rt)?.into_dyn(),
            (None, false) => Tensor::from_array((shape, vec![0f32; n])).map_err(rt)?.into_dyn(),
            (None, true) => Tensor::from_array((shape, vec![f16::ZERO; n])).map_err(rt)?.into_dyn(),
        })
    }

    /// A fresh cache for `batch` sequences of up to `capacity` tokens.
    pub fn new_cache(&self, batch: usize, capacity: usize) -> Result<KvCache> {
        let capacity = capacity.min(self.info.context);
        if let Some(r) = &self.resident
            && batch == 1
            && capacity <= r.capacity
        {
            return Ok(KvCache { batch, len: 0, capacity, store: KvStore::Resident, steps: None });
        }
        let store = match self.info.layout {
            Layout::Genai => {
                let allocator = Allocator::new(&self.session, self.memory_info()?).map_err(rt)?;
                let rows = self.kv_rows(capacity);
                let mut layers = Vec::with_capacity(self.info.layers);
                for _ in 0..self.info.layers {
                    layers.push([
                        self.empty_kv(batch, rows, Some(&allocator))?,
                        self.empty_kv(batch, rows, Some(&allocator))?,
                    ]);
                }
                KvStore::Shared(layers)
            }
            Layout::Optimum => KvStore::Grown(None),
        };
        Ok(KvCache { batch, len: 0, capacity, store, steps: None })
    }

    /// Rows of a shared KV buffer for `capacity` tokens. On a GPU they are rounded up to 512: every
    /// question asks for a slightly different capacity, and a new buffer size makes the CUDA arena
    /// allocate afresh (~40–60 ms on the 8B model, measured), while a size seen before reuses freed memory.
    fn kv_rows(&self, capacity: usize) -> usize {
        match self.provider.in_use {
            Provider::Cuda | Provider::TensorRt => capacity.div_ceil(512).saturating_mul(512).min(self.info.context).max(capacity),
            _ => capacity,
        }
    }

    /// Forget everything after the first `len` tokens of each sequence (rejected speculative tokens).
    pub fn truncate(&self, cache: &mut KvCache, len: usize) -> Result<()> {
        if len >= cache.len {
            return Ok(());
        }
        if let KvStore::Grown(Some(layers)) = &mut cache.store {
            // Slice [b, h, old, d] → [b, h, len, d].
            for kv in layers.iter_mut() {
                for v in kv.iter_mut() {
                    *v = slice_seq(v, len, self.info.kv_f16)?;
                }
            }
        }
        // The shared buffer needs nothing: entries past `len` are overwritten by the next step.
        cache.len = len;
        Ok(())
    }

    /// Run `tokens` (`batch` rows of equal length, row-major) after the cached ones and return the
    /// logits of the last `want` positions of every row: `[batch][want][vocab]` flattened.
    pub fn forward(&mut self, cache: &mut KvCache, tokens: &[u32], want: usize) -> Result<Vec<f32>> {
        match self.run(cache, tokens, Pick::Last(want), false)? {
            Scores::Logits(l) => Ok(l),
            Scores::Picked(_) => unreachable!("host logits were asked for"),
        }
    }

    /// Give back logits [`Decoder::forward`] returned, for the next step to fill.
    pub fn recycle(&mut self, logits: Vec<f32>) {
        self.spare = Some(logits);
    }

    /// Like [`Decoder::forward`], but return only the greedy choice (argmax) at each of the last
    /// `want` positions and its log-probability. On a GPU this is computed on the device and only
    /// the ids and log-probabilities are copied back; elsewhere from host logits (same numbers).
    pub fn forward_greedy(&mut self, cache: &mut KvCache, tokens: &[u32], want: usize) -> Result<Picked> {
        match self.run(cache, tokens, Pick::Last(want), self.head.is_some())? {
            Scores::Picked(p) => Ok(p),
            Scores::Logits(l) => {
                let vocab = self.info.vocab;
                let mut ids = Vec::with_capacity(l.len() / vocab);
                let mut logprobs = Vec::with_capacity(l.len() / vocab);
                for row in l.chunks(vocab) {
                    let t = crate::generate::sampling::argmax(row);
                    ids.push(t);
                    logprobs.push(row[t as usize] - crate::generate::sampling::logsumexp(row));
                }
                self.recycle(l);
                Ok(Picked { ids, logprobs })
            }
        }
    }

    /// Prefill in chunks (see [`Decoder::prefill`]) returning the greedy choice after the prompt.
    ///
    /// With the greedy head, each chunk is padded (repeating its last token) to one of a few lengths:
    /// ONNX Runtime's CUDA provider spends ~50 ms on the first pass of every new input length, and
    /// questions come with prompts of every length. Padding sits after the real tokens, so causal
    /// attention keeps it out of their results; its cache entries are dropped right away.
    pub fn prefill_greedy(&mut self, cache: &mut KvCache, tokens: &[u32], chunk: usize) -> Result<Picked> {
        if cache.batch != 1 {
            return Err(Error::Invalid("greedy prefill takes one sequence".into()));
        }
        let mut picked = None;
        for piece in tokens.chunks(chunk.max(1)) {
            let room = cache.capacity.saturating_sub(cache.len);
            let padded = if self.head.is_some() { prefill_bucket(piece.len()).min(room).max(piece.len()) } else { piece.len() };
            if padded == piece.len() {
                picked = Some(self.forward_greedy(cache, piece, 1)?);
                continue;
            }
            let mut feed = piece.to_vec();
            feed.resize(padded, *piece.last().expect("chunks are not empty"));
            let base = cache.len;
            match self.run(cache, &feed, Pick::At(piece.len() - 1), true)? {
                Scores::Picked(p) => picked = Some(p),
                Scores::Logits(_) => unreachable!("the head picks"),
            }
            self.truncate(cache, base + piece.len())?;
        }
        picked.ok_or_else(|| Error::Invalid("the prompt is empty".into()))
    }

    fn run(&mut self, cache: &mut KvCache, tokens: &[u32], pick: Pick, on_device: bool) -> Result<Scores> {
        let b = cache.batch;
        if tokens.is_empty() || !tokens.len().is_multiple_of(b) {
            return Err(Error::Invalid(format!("{} tokens do not split into {b} equal rows", tokens.len())));
        }
        let s = tokens.len() / b;
        let rows = match pick {
            Pick::Last(w) => s - w.clamp(1, s)..s,
            Pick::At(p) if p < s => p..p + 1,
            Pick::At(p) => return Err(Error::Invalid(format!("position {p} is past the {s} tokens given"))),
        };
        let total = cache.len + s;
        if total > cache.capacity {
            return Err(Error::Invalid(format!(
                "the sequence needs {total} tokens but the model's window holds {} — shorten the prompt",
                cache.capacity
            )));
        }
        let ids: Vec<i64> = tokens.iter().map(|&t| t as i64).collect();
        self.forward_passes += 1;
        // The pick at the last position is one of the decoder's own outputs.
        let fused_pick = on_device && self.fused && matches!(pick, Pick::Last(1));
        if let (Some(r), KvStore::Resident) = (&mut self.resident, &cache.store)
            && on_device
            && self.fused
            && r.serves(s)
        {
            let picked = match pick {
                Pick::Last(1) => Some(r.step(&mut self.session, &ids, total)?),
                // Speculative verification: picks at each wanted position, all made on the device.
                Pick::Last(want) => Some(r.verify(&mut self.session, &ids, total, want)?),
                Pick::At(_) => None,
            };
            if let Some(picked) = picked {
                cache.len = total;
                return Ok(Scores::Picked(picked));
            }
        }
        let input_ids = Tensor::from_array(([b as i64, s as i64], ids)).map_err(rt)?;
        let mask = Tensor::from_array(([b as i64, total as i64], vec![1i64; b * total])).map_err(rt)?;
        let vocab = self.info.vocab;
        if !on_device
            && self.host_steps
            && s <= device_steps::MAX_WIDTH
            && matches!(cache.store, KvStore::Shared(_))
        {
            let logits = self.host_step(cache, &input_ids, &mask, s, rows.len())?;
            cache.len = total;
            return Ok(Scores::Logits(logits));
        }
        let mut fresh_past = match &cache.store {
            KvStore::Grown(None) => {
                let mut v = Vec::with_capacity(self.info.layers);
                for _ in 0..self.info.layers {
                    v.push([self.empty_kv(b, 0, None)?, self.empty_kv(b, 0, None)?]);
                }
                Some(v)
            }
            _ => None,
        };
        let has_position_ids = self.has_position_ids;
        // Host logits are wanted for `rows` only: a graph that can skip the positions before them
        // computes no more (a prompt pass then projects one position, not hundreds).
        let skip = if self.has_logits_from && matches!(pick, Pick::Last(_)) { rows.start } else { 0 };
        let skip_input = if skip > 0 { Some(Tensor::from_array(([1i64], vec![skip as i64])).map_err(rt)?) } else { None };
        let device = self.memory_info()?;
        let captures = self.captures;
        let Decoder { session, resident, head, past, present, logits_name, .. } = self;
        // A session that captures graphs must be told not to capture passes other than steps.
        let no_graph = if captures { Some(graph_run_options(None)?) } else { None };
        let run = |session, binding| run_binding(session, binding, no_graph.as_ref());
        let scores = match &mut cache.store {
            store @ (KvStore::Shared(_) | KvStore::Resident) => {
                let layers: &mut Vec<[DynValue; 2]> = match store {
                    KvStore::Shared(l) => l,
                    _ => &mut resident.as_mut().expect("resident caches exist only with step buffers").kv,
                };
                let mut binding = session.create_binding().map_err(rt)?;
                binding.bind_input("input_ids", &input_ids).map_err(rt)?;
                binding.bind_input("attention_mask", &mask).map_err(rt)?;
                for (i, [k, v]) in layers.iter_mut().enumerate() {
                    binding.bind_input(&past[i][0], &*k).map_err(rt)?;
                    binding.bind_input(&past[i][1], &*v).map_err(rt)?;
                    binding.bind_output(&present[i][0], &mut *k).map_err(rt)?;
                    binding.bind_output(&present[i][1], &mut *v).map_err(rt)?;
                }
                let cpu = MemoryInfo::new(AllocationDevice::CPU, 0, AllocatorType::Device, MemoryType::Default).map_err(rt)?;
                match head.as_mut().filter(|_| on_device) {
                    _ if fused_pick => {
                        // Only the pick is fetched; the logits stay an intermediate on the device.
                        binding.bind_output_to_device(PICKED, &cpu).map_err(rt)?;
                        let outputs = run(session, &binding)?;
                        let (_, data) = outputs[PICKED].try_extract_tensor::<f32>().map_err(rt)?;
                        let (ids, logprobs) = read_picked(data);
                        Scores::Picked(Picked { ids, logprobs })
                    }
                    Some(head) => {
                        // Logits stay where the model runs; the head reduces them there.
                        binding.bind_output_to_device(logits_name.as_str(), &device).map_err(rt)?;
                        let outputs = run(session, &binding)?;
                        Scores::Picked(run_head(head, &outputs[logits_name.as_str()], rows, b)?)
                    }
                    None => {
                        if let Some(from) = &skip_input {
                            binding.bind_input(crate::model::convert::LOGITS_FROM, from).map_err(rt)?;
                        }
                        binding.bind_output_to_device(logits_name.as_str(), &cpu).map_err(rt)?;
                        let outputs = run(session, &binding)?;
                        Scores::Logits(last_rows(&outputs[logits_name.as_str()], b, s - skip, rows.len(), vocab)?)
                    }
                }
            }
            KvStore::Grown(prev) => {
                let mut feed: Vec<(std::borrow::Cow<'_, str>, ort::session::SessionInputValue<'_>)> = vec![
                    ("input_ids".into(), input_ids.into()),
                    ("attention_mask".into(), mask.into()),
                ];
                if has_position_ids {
                    let pos: Vec<i64> = (0..b).flat_map(|_| (cache.len..total).map(|p| p as i64)).collect();
                    feed.push(("position_ids".into(), Tensor::from_array(([b as i64, s as i64], pos)).map_err(rt)?.into()));
                }
                let values = match prev.take() {
                    Some(p) => p,
                    None => fresh_past.take().expect("made above for an empty grown cache"),
                };
                for (i, [k, v]) in values.into_iter().enumerate() {
                    feed.push((past[i][0].clone().into(), k.into()));
                    feed.push((past[i][1].clone().into(), v.into()));
                }
                if let Some(from) = skip_input {
                    feed.push((crate::model::convert::LOGITS_FROM.into(), from.into()));
                }
                let mut outputs = session.run(feed).map_err(rt)?;
                let logits = last_rows(&outputs[logits_name.as_str()], b, s - skip, rows.len(), vocab)?;
                let mut next = Vec::with_capacity(present.len());
                for names in present.iter() {
                    let k = outputs.remove(names[0].as_str()).ok_or_else(|| rt("present key missing"))?;
                    let v = outputs.remove(names[1].as_str()).ok_or_else(|| rt("present value missing"))?;
                    next.push([k, v]);
                }
                *prev = Some(next);
                Scores::Logits(logits)
            }
        };
        cache.len = total;
        Ok(scores)
    }

    /// A short pass (a decode step, a verification) through the cache's own binding.
    fn host_step(
        &mut self,
        cache: &mut KvCache,
        ids: &Tensor<i64>,
        mask: &Tensor<i64>,
        s: usize,
        want: usize,
    ) -> Result<Vec<f32>> {
        let b = cache.batch;
        let vocab = self.info.vocab;
        let KvStore::Shared(layers) = &mut cache.store else {
            unreachable!("host steps run on shared buffers")
        };
        if cache.steps.is_none() {
            let mut binding = self.session.create_binding().map_err(rt)?;
            for (i, [k, v]) in layers.iter_mut().enumerate() {
                binding.bind_input(&self.past[i][0], &*k).map_err(rt)?;
                binding.bind_input(&self.past[i][1], &*v).map_err(rt)?;
                binding
                    .bind_output(&self.present[i][0], &mut *k)
                    .map_err(rt)?;
                binding
                    .bind_output(&self.present[i][1], &mut *v)
                    .map_err(rt)?;
            }
            let options = ort::session::RunOptions::new().map_err(rt)?;
            cache.steps = Some(HostSteps {
                binding,
                options,
                logits: Vec::new(),
                bound_width: 0,
            });
        }
        let st = cache.steps.as_mut().expect("made above");
        st.binding.bind_input("input_ids", ids).map_err(rt)?;
        st.binding.bind_input("attention_mask", mask).map_err(rt)?;
        if st.bound_width != s {
            while st.logits.len() < s {
                let w = st.logits.len() + 1;
                st.logits.push(
                    Tensor::<f32>::new(&Allocator::default(), [b as i64, w as i64, vocab as i64])
                        .map_err(rt)?,
                );
            }
            st.binding
                .bind_output(self.logits_name.as_str(), &mut st.logits[s - 1])
                .map_err(rt)?;
            st.bound_width = s;
        }
        device_steps::run_bound(&self.session, &st.binding, &st.options)?;
        let (shape, data) = st.logits[s - 1].try_extract_tensor::<f32>().map_err(rt)?;
        check_logits(shape, b, s, vocab)?;
        let mut out = self.spare.take().unwrap_or_default();
        out.clear();
        out.reserve(b * want * vocab);
        for row in 0..b {
            out.extend_from_slice(&data[(row * s + s - want) * vocab..(row + 1) * s * vocab]);
        }
        Ok(out)
    }

    /// Feed a long prompt in pieces of at most `chunk` tokens (bounded memory for activations),
    /// returning the logits of its last position for each row.
    pub fn prefill(&mut self, cache: &mut KvCache, tokens: &[u32], chunk: usize) -> Result<Vec<f32>> {
        let b = cache.batch;
        let s = tokens.len() / b.max(1);
        let chunk = chunk.max(1);
        if b == 1 {
            let mut logits = Vec::new();
            for piece in tokens.chunks(chunk) {
                logits = self.forward(cache, piece, 1)?;
            }
            return Ok(logits);
        }
        let mut logits = Vec::new();
        let mut start = 0;
        while start < s {
            let end = (start + chunk).min(s);
            let rows: Vec<u32> = (0..b).flat_map(|r| tokens[r * s + start..r * s + end].iter().copied()).collect();
            logits = self.forward(cache, &rows, 1)?;
            start = end;
        }
        Ok(logits)
    }

    /// A cache of `n` rows that all continue the single sequence in `cache` (its prompt is computed
    /// once, then copied): self-consistency samples and beams start here.
    pub fn fork(&self, cache: &KvCache, n: usize) -> Result<KvCache> {
        if cache.batch != 1 {
            return Err(Error::Invalid("only a single-sequence cache can be forked".into()));
        }
        let mut out = self.new_cache(n, cache.capacity)?;
        if matches!(out.store, KvStore::Resident) || matches!(cache.store, KvStore::Resident) {
            // A fork must not alias the resident buffers, and copies rows of their length.
            let allocator = Allocator::new(&self.session, self.memory_info()?).map_err(rt)?;
            // Same rows as the resident buffers, so that rows copy one to one.
            let rows = self.resident.as_ref().map(|r| r.capacity).unwrap_or(out.capacity);
            let mut layers = Vec::with_capacity(self.info.layers);
            for _ in 0..self.info.layers {
                layers.push([self.empty_kv(n, rows, Some(&allocator))?, self.empty_kv(n, rows, Some(&allocator))?]);
            }
            out.store = KvStore::Shared(layers);
        }
        out.len = cache.len;
        let f16 = self.info.kv_f16;
        let resident = self.resident.as_ref().map(|r| &r.kv);
        let src_store = match (&cache.store, resident) {
            (KvStore::Resident, Some(kv)) => Some(kv),
            _ => None,
        };
        if let (Some(src), KvStore::Shared(dst)) = (src_store, &mut out.store) {
            for (s, d) in src.iter().zip(dst.iter_mut()) {
                for (sv, dv) in s.iter().zip(d.iter_mut()) {
                    repeat_into(sv, dv, n, f16)?;
                }
            }
            return Ok(out);
        }
        match (&cache.store, &mut out.store) {
            (KvStore::Shared(src), KvStore::Shared(dst)) => {
                for (s, d) in src.iter().zip(dst.iter_mut()) {
                    for (sv, dv) in s.iter().zip(d.iter_mut()) {
                        repeat_into(sv, dv, n, f16)?;
                    }
                }
            }
            (KvStore::Grown(Some(src)), KvStore::Grown(dst)) => {
                let mut layers = Vec::with_capacity(src.len());
                for [k, v] in src {
                    layers.push([repeat_new(k, n, f16)?, repeat_new(v, n, f16)?]);
                }
                *dst = Some(layers);
            }
            _ => {}
        }
        Ok(out)
    }

    /// Copy the cache rows into a new order (beam search): row `i` of the result is row `order[i]`.
    pub fn reorder(&self, cache: &mut KvCache, order: &[usize]) -> Result<()> {
        if order.len() != cache.batch {
            return Err(Error::Invalid("reorder needs one index per row".into()));
        }
        let f16 = self.info.kv_f16;
        match &mut cache.store {
            KvStore::Shared(layers) => {
                for kv in layers.iter_mut() {
                    for v in kv.iter_mut() {
                        gather_rows(v, order, f16)?;
                    }
                }
            }
            KvStore::Grown(Some(layers)) => {
                for kv in layers.iter_mut() {
                    for v in kv.iter_mut() {
                        gather_rows(v, order, f16)?;
                    }
                }
            }
            KvStore::Grown(None) | KvStore::Resident => {} // one row: nothing to reorder
        }
        Ok(())
    }
}

fn run_binding<'b>(
    session: &'b mut Session,
    binding: &'b ort::session::IoBinding,
    options: Option<&ort::session::RunOptions>,
) -> Result<ort::session::SessionOutputs<'b>> {
    match options {
        Some(o) => session.run_binding_with_options(binding, o).map_err(rt),
        None => session.run_binding(binding).map_err(rt),
    }
}

/// Open `file` with [`graph`]'s outputs added (in memory; external weights are read from the
/// file's folder as usual).
fn with_step_outputs(b: &mut ort::session::builder::SessionBuilder, file: &Path) -> std::result::Result<Session, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let edited = graph::with_step_outputs(&bytes)?;
    drop(bytes);
    commit_edited(b.clone(), file, &edited)
}

/// Open `edited` (the bytes of `file`, changed in memory), its weights still read from beside `file`.
fn commit_edited(b: ort::session::builder::SessionBuilder, file: &Path, edited: &[u8]) -> std::result::Result<Session, String> {
    let folder = file.parent().unwrap_or(Path::new(".")).display().to_string();
    let mut b = b.with_config_entry("session.model_external_initializers_file_folder_path", folder).map_err(|e| e.to_string())?;
    b.commit_from_memory(edited).map_err(|e| e.to_string())
}

/// Which of kogi's CPU kernels float32 decoders on the CPU run. Attention: the default, since it
/// steps faster at long prompts and is as close to llama.cpp as ONNX Runtime's kernel,
/// teacher-forced (BENCHMARKS.md, "kogi's own attention kernel"); `KOGI_ATTENTION=onnxruntime`
/// keeps ONNX Runtime's. `MatMulNBits`: the default on CPUs with AVX-512 VNNI or AVX2 (the same bits), since with its weights
/// packed once and the blocks' minimums folded in, first tokens come 2–2.5× and exact greedy steps
/// 1.7× as fast as with ONNX Runtime's kernel (BENCHMARKS.md, "Exact steps of one row");
/// `KOGI_MATMUL=onnxruntime` keeps ONNX Runtime's.
pub(crate) fn own_kernels() -> graph::OwnKernels {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    graph::OwnKernels { attention: var("KOGI_ATTENTION") != "onnxruntime", matmul: var("KOGI_MATMUL") != "onnxruntime" && super::nbits::vector() }
}

/// The decoder with nodes on kogi's CPU kernels; `None` when it has none to switch. An error leaves
/// the caller to open the file as it is.
fn with_own_kernels(b: &mut ort::session::builder::SessionBuilder, file: &Path, which: graph::OwnKernels) -> std::result::Result<Option<(Session, bool, Option<usize>)>, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let Some(edited) = graph::with_own_kernels(&bytes, which, file.parent())? else { return Ok(None) };
    drop(bytes);
    let t = std::time::Instant::now();
    let moved = edited.parked.collapse();
    tracing::debug!(mb = moved >> 20, ms = t.elapsed().as_millis() as u64, packed_mb = edited.parked.bytes() >> 20, "packed weights in huge pages");
    let domain = super::kernels_domain().map_err(|e| e.to_string())?;
    let b = b.clone().with_operators(domain).map_err(|e| e.to_string())?;
    commit_edited(b, file, &edited.model).map(|s| Some((s, edited.rows_independent, edited.heads_per_kv)))
}

/// Which positions' scores a pass returns: the last `n`, or one position (padded prefill).
#[derive(Clone, Copy)]
enum Pick {
    Last(usize),
    At(usize),
}

/// Lengths prefill chunks are padded to on the GPU: powers of two up to 256, then multiples of 256
/// (at most 255 padding tokens; fewer distinct lengths than prompts).
fn prefill_bucket(n: usize) -> usize {
    if n <= 256 { n.next_power_of_two().max(16) } else { n.div_ceil(256) * 256 }
}

enum Scores {
    Logits(Vec<f32>),
    Picked(Picked),
}

/// Run the greedy head on device logits for positions `rows`; only `[b][rows]` ids and
/// log-probabilities are copied back. One position per run (see [`add_pick_nodes`]).
fn run_head(head: &mut Session, logits: &DynValue, rows: std::ops::Range<usize>, b: usize) -> Result<Picked> {
    let n = rows.len();
    let mut ids = vec![0u32; b * n];
    let mut logprobs = vec![0f32; b * n];
    let one = |v: i64| Tensor::from_array(([1i64], vec![v])).map_err(rt);
    let axes = one(1)?;
    let cpu = MemoryInfo::new(AllocationDevice::CPU, 0, AllocatorType::Device, MemoryType::Default).map_err(rt)?;
    for (i, pos) in rows.enumerate() {
        let (starts, ends) = (one(pos as i64)?, one(pos as i64 + 1)?);
        let mut binding = head.create_binding().map_err(rt)?;
        binding.bind_input("logits", logits).map_err(rt)?;
        binding.bind_input("starts", &starts).map_err(rt)?;
        binding.bind_input("ends", &ends).map_err(rt)?;
        binding.bind_input("axes", &axes).map_err(rt)?;
        binding.bind_output_to_device("ids", &cpu).map_err(rt)?;
        binding.bind_output_to_device("logprobs", &cpu).map_err(rt)?;
        let out = head.run_binding(&binding).map_err(rt)?;
        let (_, got) = out["ids"].try_extract_tensor::<i64>().map_err(rt)?;
        let (_, lps) = out["logprobs"].try_extract_tensor::<f32>().map_err(rt)?;
        if got.len() != b || lps.len() != b {
            return Err(rt(format!("the greedy head returned {} ids for {b} rows", got.len())));
        }
        for row in 0..b {
            ids[row * n + i] = got[row] as u32;
            logprobs[row * n + i] = lps[row];
        }
    }
    Ok(Picked { ids, logprobs })
}

/// Rows `[b][want][vocab]` (f32) from logits `[b, s, vocab]` (f32 or f16).
fn last_rows(v: &DynValue, b: usize, s: usize, want: usize, vocab: usize) -> Result<Vec<f32>> {
    let mut out = Vec::with_capacity(b * want * vocab);
    let push = |out: &mut Vec<f32>, data: &dyn Fn(usize) -> f32| {
        for row in 0..b {
            for pos in s - want..s {
                let base = (row * s + pos) * vocab;
                for j in 0..vocab {
                    out.push(data(base + j));
                }
            }
        }
    };
    match v.try_extract_tensor::<f32>() {
        Ok((shape, data)) => {
            check_logits(shape, b, s, vocab)?;
            push(&mut out, &|i| data[i]);
        }
        Err(_) => {
            let (shape, data) = v.try_extract_tensor::<f16>().map_err(rt)?;
            check_logits(shape, b, s, vocab)?;
            push(&mut out, &|i| data[i].to_f32());
        }
    }
    Ok(out)
}

fn check_logits(shape: &ort::value::Shape, b: usize, s: usize, vocab: usize) -> Result<()> {
    let got: Vec<i64> = shape.iter().copied().collect();
    if got != [b as i64, s as i64, vocab as i64] {
        return Err(Error::Runtime(format!("logits have shape {got:?}, expected [{b}, {s}, {vocab}]")));
    }
    Ok(())
}

fn slice_seq(v: &DynValue, len: usize, f16: bool) -> Result<DynValue> {
    fn go<T: ort::value::PrimitiveTensorElementType + Copy + std::fmt::Debug + 'static>(v: &DynValue, len: usize) -> Result<DynValue> {
        let (shape, data) = v.try_extract_tensor::<T>().map_err(rt)?;
        let [b, h, old, d] = [shape[0] as usize, shape[1] as usize, shape[2] as usize, shape[3] as usize];
        let mut out = Vec::with_capacity(b * h * len * d);
        for bh in 0..b * h {
            out.extend_from_slice(&data[bh * old * d..bh * old * d + len * d]);
        }
        Ok(Tensor::from_array(([b as i64, h as i64, len as i64, d as i64], out)).map_err(rt)?.into_dyn())
    }
    if f16 { go::<f16>(v, len) } else { go::<f32>(v, len) }
}

fn gather_rows(v: &mut DynValue, order: &[usize], f16: bool) -> Result<()> {
    fn go<T: ort::value::PrimitiveTensorElementType + Copy + std::fmt::Debug + 'static>(v: &mut DynValue, order: &[usize]) -> Result<()> {
        let (shape, data) = v.try_extract_tensor_mut::<T>().map_err(rt)?;
        let row = data.len() / shape[0] as usize;
        let copy: Vec<T> = data.to_vec();
        for (i, &src) in order.iter().enumerate() {
            data[i * row..(i + 1) * row].copy_from_slice(&copy[src * row..(src + 1) * row]);
        }
        Ok(())
    }
    if f16 { go::<f16>(v, order) } else { go::<f32>(v, order) }
}

fn repeat_into(src: &DynValue, dst: &mut DynValue, n: usize, f16: bool) -> Result<()> {
    fn go<T: ort::value::PrimitiveTensorElementType + Copy + std::fmt::Debug + 'static>(src: &DynValue, dst: &mut DynValue, n: usize) -> Result<()> {
        let (_, s) = src.try_extract_tensor::<T>().map_err(rt)?;
        let (_, d) = dst.try_extract_tensor_mut::<T>().map_err(rt)?;
        for r in 0..n {
            d[r * s.len()..(r + 1) * s.len()].copy_from_slice(s);
        }
        Ok(())
    }
    if f16 { go::<f16>(src, dst, n) } else { go::<f32>(src, dst, n) }
}

fn repeat_new(src: &DynValue, n: usize, f16: bool) -> Result<DynValue> {
    fn go<T: ort::value::PrimitiveTensorElementType + Copy + std::fmt::Debug + 'static>(src: &DynValue, n: usize) -> Result<DynValue> {
        let (shape, s) = src.try_extract_tensor::<T>().map_err(rt)?;
        let mut dims: Vec<i64> = shape.iter().copied().collect();
        dims[0] *= n as i64;
        let data: Vec<T> = (0..n).flat_map(|_| s.iter().copied()).collect();
        Ok(Tensor::from_array((dims, data)).map_err(rt)?.into_dyn())
    }
    if f16 { go::<f16>(src, n) } else { go::<f32>(src, n) }
}
