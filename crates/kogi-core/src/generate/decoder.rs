//! A decoder-only ONNX model and its KV cache, in either common layout:
//!
//! - **genai** (onnxruntime-genai builder): `GroupQueryAttention` reads and writes one preallocated
//!   `[batch, kv_heads, capacity, head_dim]` buffer per layer, bound through IoBinding as both the past
//!   input and the present output. Appending is in place, and rolling back is just a shorter length.
//! - **optimum**: standard ops, `position_ids`, the present grows by concatenation each step; rolling
//!   back slices it.
//!
//! Inputs and outputs are read from the graph, never assumed.

use crate::inference::runtime::{ProviderReport, SessionConfig, open_session};
use crate::{Error, Result};
use half::f16;
use ort::memory::{AllocationDevice, Allocator, AllocatorType, MemoryInfo, MemoryType};
use ort::session::Session;
use ort::value::{DynValue, Tensor, TensorElementType, ValueType};
use serde::Serialize;
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
    logits_name: String,
    pub provider: ProviderReport,
    /// Forward passes run (for "tokens per forward pass" reports).
    pub forward_passes: u64,
}

/// A KV cache for `batch` sequences that advance together.
pub struct KvCache {
    pub batch: usize,
    /// Tokens held per sequence.
    pub len: usize,
    pub capacity: usize,
    store: KvStore,
}

enum KvStore {
    /// One shared past/present buffer per layer and K/V.
    Shared(Vec<[DynValue; 2]>),
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
        let (session, provider) = open_session(&model_file, config)?;
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
        let share = genai
            .as_ref()
            .and_then(|c| c.pointer("/search/past_present_share_buffer"))
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let layout = if genai.is_some() && !has_position_ids && share { Layout::Genai } else { Layout::Optimum };
        let info = DecoderInfo { layout, layers: past.len(), kv_heads, head_dim, vocab, context, kv_f16 };
        tracing::debug!(?info, "decoder loaded");
        Ok(Self { session, info, past, present, has_position_ids, logits_name, provider, forward_passes: 0 })
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
        let store = match self.info.layout {
            Layout::Genai => {
                let allocator = Allocator::new(&self.session, self.memory_info()?).map_err(rt)?;
                let mut layers = Vec::with_capacity(self.info.layers);
                for _ in 0..self.info.layers {
                    layers.push([
                        self.empty_kv(batch, capacity, Some(&allocator))?,
                        self.empty_kv(batch, capacity, Some(&allocator))?,
                    ]);
                }
                KvStore::Shared(layers)
            }
            Layout::Optimum => KvStore::Grown(None),
        };
        Ok(KvCache { batch, len: 0, capacity, store })
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
        let b = cache.batch;
        if tokens.is_empty() || !tokens.len().is_multiple_of(b) {
            return Err(Error::Invalid(format!("{} tokens do not split into {b} equal rows", tokens.len())));
        }
        let s = tokens.len() / b;
        let want = want.clamp(1, s);
        let total = cache.len + s;
        if total > cache.capacity {
            return Err(Error::Invalid(format!(
                "the sequence needs {total} tokens but the model's window holds {} — shorten the prompt",
                cache.capacity
            )));
        }
        let ids: Vec<i64> = tokens.iter().map(|&t| t as i64).collect();
        let input_ids = Tensor::from_array(([b as i64, s as i64], ids)).map_err(rt)?;
        let mask = Tensor::from_array(([b as i64, total as i64], vec![1i64; b * total])).map_err(rt)?;
        self.forward_passes += 1;
        let vocab = self.info.vocab;
        let logits = match &mut cache.store {
            KvStore::Shared(layers) => {
                let mut binding = self.session.create_binding().map_err(rt)?;
                binding.bind_input("input_ids", &input_ids).map_err(rt)?;
                binding.bind_input("attention_mask", &mask).map_err(rt)?;
                for (i, [k, v]) in layers.iter_mut().enumerate() {
                    binding.bind_input(&self.past[i][0], &*k).map_err(rt)?;
                    binding.bind_input(&self.past[i][1], &*v).map_err(rt)?;
                    binding.bind_output(&self.present[i][0], &mut *k).map_err(rt)?;
                    binding.bind_output(&self.present[i][1], &mut *v).map_err(rt)?;
                }
                let cpu = MemoryInfo::new(AllocationDevice::CPU, 0, AllocatorType::Device, MemoryType::Default).map_err(rt)?;
                binding.bind_output_to_device(&self.logits_name, &cpu).map_err(rt)?;
                let outputs = self.session.run_binding(&binding).map_err(rt)?;
                last_rows(&outputs[self.logits_name.as_str()], b, s, want, vocab)?
            }
            KvStore::Grown(prev) => {
                let mut feed: Vec<(std::borrow::Cow<'_, str>, ort::session::SessionInputValue<'_>)> = vec![
                    ("input_ids".into(), input_ids.into()),
                    ("attention_mask".into(), mask.into()),
                ];
                if self.has_position_ids {
                    let pos: Vec<i64> = (0..b).flat_map(|_| (cache.len..total).map(|p| p as i64)).collect();
                    feed.push(("position_ids".into(), Tensor::from_array(([b as i64, s as i64], pos)).map_err(rt)?.into()));
                }
                let past = match prev.take() {
                    Some(p) => p,
                    None => {
                        let mut v = Vec::with_capacity(self.info.layers);
                        for _ in 0..self.info.layers {
                            v.push([self.empty_kv(b, 0, None)?, self.empty_kv(b, 0, None)?]);
                        }
                        v
                    }
                };
                for (i, [k, v]) in past.into_iter().enumerate() {
                    feed.push((self.past[i][0].clone().into(), k.into()));
                    feed.push((self.past[i][1].clone().into(), v.into()));
                }
                let mut outputs = self.session.run(feed).map_err(rt)?;
                let logits = last_rows(&outputs[self.logits_name.as_str()], b, s, want, vocab)?;
                let mut next = Vec::with_capacity(self.info.layers);
                for names in &self.present {
                    let k = outputs.remove(names[0].as_str()).ok_or_else(|| rt("present key missing"))?;
                    let v = outputs.remove(names[1].as_str()).ok_or_else(|| rt("present value missing"))?;
                    next.push([k, v]);
                }
                *prev = Some(next);
                logits
            }
        };
        cache.len = total;
        Ok(logits)
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
        out.len = cache.len;
        let f16 = self.info.kv_f16;
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
            KvStore::Grown(None) => {}
        }
        Ok(())
    }
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
