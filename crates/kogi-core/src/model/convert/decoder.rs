//! The decoder graph kogi runs (onnxruntime-genai's layout: `GroupQueryAttention` with the rotary
//! embedding inside and the KV cache shared in place, `Skip`/`SimplifiedLayerNormalization`,
//! `MatMulNBits` on the CPU, fp16 `MatMul` on CUDA), written from a [`Source`] one weight at a
//! time: each is read, converted, appended to `model.onnx.data` and dropped, so memory holds one
//! tensor, not the model.

use super::blocks::{NBits, from_ggml, int4_from_floats, int8_from_floats, q4_0_from, q4_0_from_floats};
use super::source::{Arch, DecoderConfig, Role, Source, Weight};
use crate::inference::onnx_proto::{
    self as pb, FLOAT, FLOAT16, INT32, INT64, ModelProto, Nodes, OperatorSetIdProto, StringStringEntryProto, TensorProto, UINT8, float, int,
    ints, value,
};
use crate::{Error, Result};
use candle_core::quantized::GgmlDType;
use half::f16;
use prost::Message;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// The output projection when it shares the embedding's weights.
enum Tied {
    Floats(Vec<f32>),
    Blocks { b: String, s: String, z: Option<String>, bits: u8, block: usize, mins: Option<usize> },
    /// The embedding's source weights, converted again for the head.
    Source(Weight),
}

/// Where the converted model will run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// `MatMulNBits` weights at the source's precision, int8 activations (as llama.cpp computes).
    Cpu,
    /// fp16 everywhere (CUDA, TensorRT).
    Cuda,
    /// fp16 activations with 4-bit `MatMulNBits` weights (CUDA), for GPUs that cannot hold the
    /// model in fp16: a file's 4-bit blocks are kept as they are, float weights are rounded to
    /// 4 bits, and higher-precision blocks (Q6_K, Q8_0 …) stay fp16 rather than lose bits.
    #[serde(rename = "cuda-int4")]
    #[ts(rename = "cuda-int4")]
    CudaInt4,
    /// The CPU, faster than [`Target::Cpu`]: llama.cpp's re-quantisation to Q4_0 (what
    /// `llama-quantize --allow-requantize … Q4_0` writes, bit for bit): every matrix but the output
    /// projection becomes 4-bit blocks of 32 with a half-precision scale — fewer bytes a step than
    /// K-quant mixes (Q6_K matrices become 4-bit), at a second rounding's cost in fidelity.
    #[serde(rename = "cpu-fast")]
    #[ts(rename = "cpu-fast")]
    CpuFast,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Target::Cpu => "cpu",
            Target::Cuda => "cuda",
            Target::CudaInt4 => "cuda-int4",
            Target::CpuFast => "cpu-fast",
        })
    }
}

impl Target {
    /// Whether the graph computes in fp16 (the GPU targets).
    pub fn half(self) -> bool {
        matches!(self, Target::Cuda | Target::CudaInt4)
    }
}

impl std::str::FromStr for Target {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cpu" => Ok(Target::Cpu),
            "cuda" | "gpu" => Ok(Target::Cuda),
            "cuda-int4" | "int4" => Ok(Target::CudaInt4),
            "cpu-fast" => Ok(Target::CpuFast),
            _ => Err(Error::Invalid(format!("unknown target {s:?} — use cpu, cpu-fast, cuda or cuda-int4"))),
        }
    }
}

/// The longest context the rotary tables are built for (they cost 2 · 4 · head_dim / 2 bytes a position).
const MAX_TABLE: usize = 32_768;
const OPSET: i64 = 21;
const ACCURACY_LEVEL: i64 = 4;
/// The graph input naming the first position whose logits are computed (see `build`).
pub const LOGITS_FROM: &str = "logits_from";

/// The weights a decoder of `cfg` needs.
pub fn required_roles(cfg: &DecoderConfig, has_lm_head: bool) -> Vec<Role> {
    let mut r = vec![Role::Embedding, Role::FinalNorm];
    if has_lm_head {
        r.push(Role::LmHead);
    }
    for i in 0..cfg.layers {
        r.extend([Role::AttnNorm(i), Role::Q(i), Role::K(i), Role::V(i), Role::O(i), Role::FfnNorm(i), Role::Gate(i), Role::Up(i), Role::Down(i)]);
        if cfg.arch == Arch::Qwen2 {
            r.extend([Role::QBias(i), Role::KBias(i), Role::VBias(i)]);
        }
        if cfg.arch == Arch::Qwen3 {
            r.extend([Role::QNorm(i), Role::KNorm(i)]);
        }
    }
    r
}

/// What [`Graph::linear_fused`] made: one output of the stacked rows (with each part's rows), or
/// one output per weight.
enum Fused {
    One(String, Vec<usize>),
    Each(Vec<String>),
}

/// What was written.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Built {
    /// Source tensor type → how many weights had it.
    pub source_types: BTreeMap<String, usize>,
    /// What the graph holds them as ("4-bit/32", "8-bit/16", "fp16" …) → count.
    pub written_as: BTreeMap<String, usize>,
    pub context: usize,
    pub tied: bool,
}

/// Progress of a conversion: source bytes read of all, weights done of all.
pub type OnProgress<'a> = dyn FnMut(u64, u64, usize, usize) + 'a;

struct Graph<'w> {
    target: Target,
    nodes: Nodes,
    inits: Vec<TensorProto>,
    data: BufWriter<File>,
    data_path: &'w Path,
    offset: u64,
    /// Block sums already computed for an input (name, blocks).
    block_sums: HashMap<(String, usize), String>,
    built: Built,
    /// Matrices are re-quantised to Q4_0 ([`Target::CpuFast`]; not the output projection).
    requant: bool,
}

impl Graph<'_> {
    fn elem(&self) -> i32 {
        if self.target.half() { FLOAT16 } else { FLOAT }
    }

    /// An initializer; large ones go to the external data file.
    fn init(&mut self, name: &str, dims: &[usize], data_type: i32, bytes: &[u8]) -> Result<String> {
        let dims = dims.iter().map(|&d| d as i64).collect();
        let mut t = TensorProto { dims, data_type, name: name.into(), ..Default::default() };
        if bytes.len() <= 1024 {
            t.raw_data = bytes.to_vec();
        } else {
            self.data.write_all(bytes).map_err(|e| self.io(e))?;
            let entry = |k: &str, v: String| StringStringEntryProto { key: k.into(), value: v };
            let file = self.data_path.file_name().expect("data file").to_string_lossy().into_owned();
            t.external_data = vec![entry("location", file), entry("offset", self.offset.to_string()), entry("length", bytes.len().to_string())];
            t.data_location = 1;
            self.offset += bytes.len() as u64;
        }
        self.inits.push(t);
        Ok(name.to_owned())
    }

    fn io(&self, e: std::io::Error) -> Error {
        super::write_error(self.data_path, e)
    }

    fn floats(&mut self, name: &str, dims: &[usize], data: &[f32]) -> Result<String> {
        if self.target.half() {
            self.init(name, dims, FLOAT16, &data.iter().flat_map(|x| f16::from_f32(*x).to_le_bytes()).collect::<Vec<_>>())
        } else {
            self.init(name, dims, FLOAT, &data.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>())
        }
    }

    fn i64s(&mut self, name: &str, v: &[i64]) -> Result<String> {
        if self.inits.iter().any(|t| t.name == name) {
            return Ok(name.to_owned());
        }
        self.init(name, &[v.len()], INT64, &v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>())
    }

    fn node(&mut self, op: &str, name: &str, inputs: &[&str], attrs: Vec<pb::AttributeProto>) -> String {
        let out = format!("{name}/output_0");
        self.nodes.add(op, name, inputs, &[&out], attrs);
        out
    }

    fn ms_node(&mut self, op: &str, name: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<pb::AttributeProto>) {
        self.nodes.add_in("com.microsoft", op, name, inputs, outputs, attrs);
    }

    /// `MatMulNBits` initializers for `nb` under `prefix`: (B, scales, zero points).
    fn nbits_inits(&mut self, prefix: &str, nb: &NBits, sources: usize) -> Result<(String, String, Option<String>)> {
        let kb = nb.blocks_per_row();
        let blob = nb.block * nb.bits as usize / 8;
        let b = self.init(&format!("{prefix}.qweight"), &[nb.n, kb, blob], UINT8, &nb.packed)?;
        // Scales have the activations' type (MatMulNBits' T).
        let s = self.floats(&format!("{prefix}.scales"), &[nb.n, kb], &nb.scales)?;
        let z = match &nb.zero_points {
            Some(z) => Some(self.init(&format!("{prefix}.qzeros"), &[nb.n, nb.zero_point_row_bytes()], UINT8, z)?),
            None => None,
        };
        *self.built.written_as.entry(format!("{}-bit/{}", nb.bits, nb.block)).or_default() += sources;
        Ok((b, s, z))
    }

    /// `x · Wᵀ` for a weight `[out][in]`; the result is named `out` when given.
    fn linear(&mut self, path: &str, x: &str, w: Weight, out: Option<&str>) -> Result<String> {
        let result = out.map(str::to_owned).unwrap_or_else(|| format!("{path}/MatMul/output_0"));
        match self.nbits_for(w)? {
            Ok(nb) => self.emit_nbits(path, x, nb, result, 1),
            Err(w) => self.half_matmul(path, x, w, result),
        }
    }

    /// Several weights that read the same input (Q, K and V; gate and up) as one `MatMulNBits`
    /// over their rows stacked: fewer, larger kernels, and one minimums path instead of several.
    /// When their blocks differ (Q4_K_M keeps some V in Q6_K) each gets its own, as [`Self::linear`].
    fn linear_fused(&mut self, path: &str, x: &str, parts: Vec<(String, Weight)>) -> Result<Fused> {
        let mut converted = Vec::with_capacity(parts.len());
        for (p, w) in parts {
            converted.push((p, self.nbits_for(w)?));
        }
        let alike = converted.windows(2).all(|w| match (&w[0].1, &w[1].1) {
            (Ok(a), Ok(b)) => (a.bits, a.block, a.k, a.zero_points.is_some(), a.mins.is_some()) == (b.bits, b.block, b.k, b.zero_points.is_some(), b.mins.is_some()),
            _ => false,
        });
        // fp16 weights (the `cuda` target) fuse as one wider MatMul: one weight read a step, fewer launches.
        if converted.len() > 1 && converted.iter().all(|(_, nb)| nb.is_err()) {
            let count = converted.len();
            let k = converted.iter().map(|(_, nb)| nb.as_ref().err().map_or(0, |w| w.shape()[1])).max().unwrap_or(0);
            let mut sizes = Vec::with_capacity(count);
            let mut data = Vec::new();
            for (_, nb) in converted {
                let w = nb.err().expect("all are floats");
                let shape = w.shape();
                if shape[1] != k {
                    return Err(Error::Invalid(format!("{path}: the weights to fuse take {} and {k} inputs", shape[1])));
                }
                sizes.push(shape[0]);
                data.extend(w.into_floats()?);
            }
            let n = sizes.iter().sum();
            let out = self.half_matmul(path, x, Weight::Float { shape: vec![n, k], data, dtype: "fused" }, format!("{path}/MatMul/output_0"))?;
            *self.built.written_as.entry("fp16".into()).or_default() += count - 1;
            return Ok(Fused::One(out, sizes));
        }
        if alike && converted.len() > 1 {
            let count = converted.len();
            let blocks: Vec<NBits> = converted.into_iter().filter_map(|(_, nb)| nb.ok()).collect();
            let sizes = blocks.iter().map(|b| b.n).collect();
            let out = self.emit_nbits(path, x, NBits::stacked(blocks), format!("{path}/MatMul/output_0"), count)?;
            return Ok(Fused::One(out, sizes));
        }
        let mut outs = Vec::with_capacity(converted.len());
        for (p, nb) in converted {
            let result = format!("{p}/MatMul/output_0");
            outs.push(match nb {
                Ok(nb) => self.emit_nbits(&p, x, nb, result, 1)?,
                Err(w) => self.half_matmul(&p, x, w, result)?,
            });
        }
        Ok(Fused::Each(outs))
    }

    /// The blocks a weight becomes on this target, or the weight back when it becomes fp16.
    fn nbits_for(&mut self, w: Weight) -> Result<std::result::Result<NBits, Weight>> {
        *self.built.source_types.entry(w.type_name()).or_default() += 1;
        let shape = w.shape();
        let (n, k) = (shape[0], shape[1]);
        let nb = match (self.target, w) {
            (Target::Cuda, w) => return Ok(Err(w)),
            (_, Weight::Blocks { dtype, rows, cols, bytes }) if self.requant && dtype != GgmlDType::Q4_0 => q4_0_from(dtype, rows, cols, &bytes)?,
            (_, Weight::Float { data, .. }) if self.requant => q4_0_from_floats(n, k, &data)?,
            (_, Weight::Blocks { dtype, rows, cols, bytes }) => {
                let nb = from_ggml(dtype, rows, cols, &bytes)?;
                if self.target == Target::CudaInt4 && nb.bits != 4 {
                    return Ok(Err(Weight::Float { shape: vec![n, k], data: nb.dequantize(), dtype: "blocks" }));
                }
                nb
            }
            (Target::CudaInt4 | Target::CpuFast, Weight::Float { data, .. }) => int4_from_floats(n, k, &data)?,
            (_, Weight::Float { data, .. }) => int8_from_floats(n, k, &data)?,
        };
        let mut nb = nb;
        if self.target.half() {
            nb.centre_mins();
        } else if self.target == Target::CpuFast {
            nb = without_mins(nb)?;
        }
        Ok(Ok(nb))
    }

    /// One `MatMulNBits` (and its minimums' path, when the blocks have minimums) named `result`;
    /// `sources` is how many of the model's weights it holds.
    fn emit_nbits(&mut self, path: &str, x: &str, nb: NBits, result: String, sources: usize) -> Result<String> {
        let (n, k) = (nb.n, nb.k);
        let prefix = path.trim_start_matches('/').replace('/', ".");
        let (b, s, z) = self.nbits_inits(&prefix, &nb, sources)?;
        let attrs = vec![int("K", k as i64), int("N", n as i64), int("bits", nb.bits as i64), int("block_size", nb.block as i64), int("accuracy_level", ACCURACY_LEVEL)];
        let main = if nb.mins.is_some() { format!("{path}/MatMulNBits/output_0") } else { result.clone() };
        let mut inputs = vec![x, b.as_str(), s.as_str()];
        if let Some(z) = &z {
            inputs.push(z);
        }
        self.ms_node("MatMulNBits", &format!("{path}/MatMulNBits"), &inputs, &[&main], attrs);
        if let Some(mins) = &nb.mins {
            let kb = nb.blocks_per_row();
            let sums = self.block_sums(x, kb, nb.block)?;
            // Minimums as [blocks][out] for MatMul.
            let mut t = vec![0f32; kb * n];
            for r in 0..n {
                for b in 0..kb {
                    t[b * n + r] = mins[r * kb + b];
                }
            }
            let m = self.floats(&format!("{prefix}.mins"), &[kb, n], &t)?;
            let shift = self.node("MatMul", &format!("{path}/Mins"), &[&sums, &m], vec![]);
            self.nodes.add("Add", format!("{path}/AddMins"), &[&main, &shift], &[&result], vec![]);
        }
        Ok(result)
    }

    /// `x · Wᵀ` as a plain fp16 `MatMul` (the weights dequantised), named `result`.
    fn half_matmul(&mut self, path: &str, x: &str, w: Weight, result: String) -> Result<String> {
        let shape = w.shape();
        let (n, k) = (shape[0], shape[1]);
        let data = match w {
            Weight::Float { data, .. } => data,
            Weight::Blocks { dtype, rows, cols, bytes } => from_ggml(dtype, rows, cols, &bytes)?.dequantize(),
        };
        let t = transpose_half(&data, n, k);
        drop(data);
        let wname = self.init(&format!("{}.weight", path.trim_start_matches('/').replace('/', ".")), &[k, n], FLOAT16, &t)?;
        *self.built.written_as.entry("fp16".into()).or_default() += 1;
        self.nodes.add("MatMul", format!("{path}/MatMul"), &[x, &wname], &[&result], vec![]);
        Ok(result)
    }

    /// The sums of `x` over each block of `block` inputs: `[b, s, blocks]`.
    fn block_sums(&mut self, x: &str, blocks: usize, block: usize) -> Result<String> {
        if let Some(s) = self.block_sums.get(&(x.to_owned(), blocks)) {
            return Ok(s.clone());
        }
        let shape = self.i64s(&format!("/const/blocks_{blocks}x{block}"), &[0, 0, blocks as i64, block as i64])?;
        let axes = self.i64s("/const/last_axis", &[-1])?;
        let base = format!("{}/BlockSums{blocks}", x.trim_end_matches("/output_0"));
        let r = self.node("Reshape", &format!("{base}/Reshape"), &[x, &shape], vec![]);
        let s = self.node("ReduceSum", &format!("{base}/ReduceSum"), &[&r, &axes], vec![int("keepdims", 0)]);
        self.block_sums.insert((x.to_owned(), blocks), s.clone());
        Ok(s)
    }

    fn vector(&mut self, name: &str, w: Weight) -> Result<String> {
        match w {
            Weight::Float { shape, data, .. } => self.floats(name, &[shape.iter().product()], &data),
            Weight::Blocks { dtype, rows, cols, bytes } => {
                let d = from_ggml(dtype, rows, cols, &bytes)?.dequantize();
                self.floats(name, &[d.len()], &d)
            }
        }
    }
}

/// Blocks for one `MatMulNBits` without the minimums' second path, for what [`Target::CpuFast`] does
/// not re-quantise to Q4_0 (the output projection, a tied embedding): 4-bit blocks with minimums
/// (Q4_1, Q4_K) are rounded again from their values; wider ones (Q5_1, Q5_K) become 8-bit, which
/// loses less than half a 5-bit step.
fn without_mins(nb: NBits) -> Result<NBits> {
    match (&nb.mins, nb.bits) {
        (None, _) => Ok(nb),
        (Some(_), 4) => int4_from_floats(nb.n, nb.k, &nb.dequantize()),
        (Some(_), _) => int8_from_floats(nb.n, nb.k, &nb.dequantize()),
    }
}

/// `[n][k]` floats → `[k][n]` fp16 little-endian bytes (MatMul's layout), in cache-sized tiles and
/// on every core, straight into the bytes written: an 8B model's output matrix alone is half a
/// billion weights.
fn transpose_half(data: &[f32], n: usize, k: usize) -> Vec<u8> {
    const TILE: usize = 64;
    let mut t = vec![0u8; n * k * 2];
    if n == 0 || k == 0 {
        return t;
    }
    let threads = std::thread::available_parallelism().map_or(1, |p| p.get());
    // Each thread fills whole output rows (input columns).
    let cols_per = k.div_ceil(threads).max(TILE);
    std::thread::scope(|s| {
        for (i, out) in t.chunks_mut(cols_per * n * 2).enumerate() {
            s.spawn(move || {
                let c_base = i * cols_per;
                let cols = out.len() / (n * 2);
                for r0 in (0..n).step_by(TILE) {
                    for c0 in (0..cols).step_by(TILE) {
                        for r in r0..(r0 + TILE).min(n) {
                            let row = &data[r * k + c_base..];
                            for c in c0..(c0 + TILE).min(cols) {
                                let at = (c * n + r) * 2;
                                out[at..at + 2].copy_from_slice(&f16::from_f32(row[c]).to_le_bytes());
                            }
                        }
                    }
                }
            });
        }
    });
    t
}

fn take(src: &mut dyn Source, role: Role) -> Result<Weight> {
    src.weight(role)?.ok_or_else(|| Error::Invalid(format!("the model lacks its {role:?} weight")))
}

fn check(w: &Weight, role: Role, shape: &[usize]) -> Result<()> {
    let got = w.shape();
    let flat: usize = got.iter().product();
    if got == shape || (shape.len() == 1 && flat == shape[0]) {
        Ok(())
    } else {
        Err(Error::Invalid(format!("the {role:?} weight has shape {got:?}, the configuration implies {shape:?}")))
    }
}

/// Write `model.onnx` and `model.onnx.data` for `src` into `dir`.
pub fn build(src: &mut dyn Source, target: Target, dir: &Path, on_progress: &mut OnProgress, cancel: &AtomicBool) -> Result<Built> {
    let cfg = src.config().clone();
    let tied = !src.has(Role::LmHead);
    let roles = required_roles(&cfg, !tied);
    let total_bytes = src.weight_bytes().max(1);
    let (mut done_bytes, mut done) = (0u64, 0usize);
    let data_path = dir.join("model.onnx.data");
    let file = File::create(&data_path).map_err(|e| super::write_error(&data_path, e))?;
    let mut g = Graph {
        target,
        nodes: Nodes::default(),
        inits: Vec::new(),
        data: BufWriter::with_capacity(1 << 20, file),
        data_path: &data_path,
        offset: 0,
        block_sums: HashMap::new(),
        built: Built { tied, ..Default::default() },
        requant: target == Target::CpuFast,
    };
    let elem = g.elem();
    let (h, hd, heads, kvh) = (cfg.hidden, cfg.head_dim, cfg.heads, cfg.kv_heads);
    let mut step = |w: &Weight, g: &Graph| -> Result<()> {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        let _ = g;
        done_bytes += match w {
            Weight::Blocks { bytes, .. } => bytes.len() as u64,
            Weight::Float { data, .. } => data.len() as u64 * 2,
        };
        done += 1;
        on_progress(done_bytes.min(total_bytes), total_bytes, done, roles.len());
        Ok(())
    };

    // GroupQueryAttention reads the real lengths: (tokens − 1) per row and the total, as int32.
    let one = g.i64s("/const/one", &[1])?;
    let total = g.node("ReduceSum", "/model/attn_mask/ReduceSum", &["attention_mask", &one], vec![int("keepdims", 0)]);
    let minus = g.node("Sub", "/model/attn_mask/Sub", &[&total, &one], vec![]);
    let seqlens_k = g.node("Cast", "/model/attn_mask/SeqLens", &[&minus], vec![int("to", INT32 as i64)]);
    let shape = g.node("Shape", "/model/attn_mask/Shape", &["attention_mask"], vec![]);
    let idx1 = g.init("/const/index_one", &[], INT64, &1i64.to_le_bytes())?;
    let width = g.node("Gather", "/model/attn_mask/Gather", &[&shape, &idx1], vec![int("axis", 0)]);
    let total_len = g.node("Cast", "/model/attn_mask/TotalLen", &[&width], vec![int("to", INT32 as i64)]);

    // Embedding (and, when tied, the output projection from the same weights).
    let emb = take(src, Role::Embedding)?;
    check(&emb, Role::Embedding, &[cfg.vocab, h])?;
    step(&emb, &g)?;
    *g.built.source_types.entry(emb.type_name()).or_default() += 1;
    let mut tied_head: Option<Tied> = None;
    let x = match (&emb, target) {
        (Weight::Blocks { dtype, rows, cols, bytes }, Target::Cpu | Target::CpuFast) => {
            // llama.cpp's Q4_0 files keep a tied embedding as fine as the output projection (Q6_K),
            // an untied one in Q4_0; the fast target does the same (a tied one as the file has it).
            let mut nb = if target == Target::CpuFast && !tied && *dtype != GgmlDType::Q4_0 { q4_0_from(*dtype, *rows, *cols, bytes)? } else { from_ggml(*dtype, *rows, *cols, bytes)? };
            if target == Target::CpuFast {
                nb = without_mins(nb)?;
            }
            let (b, s, z) = g.nbits_inits("model.embed_tokens", &nb, 1)?;
            let row_bytes = (h * nb.bits as usize / 8) as i64;
            let rshape = g.i64s("/const/embed_rows", &[cfg.vocab as i64, row_bytes])?;
            let data = g.node("Reshape", "/model/embed_tokens/Reshape", &[&b, &rshape], vec![]);
            let mut inputs = vec![data.as_str(), "input_ids", s.as_str()];
            if let Some(z) = &z {
                inputs.push(z);
            }
            let gathered = "/model/embed_tokens/GatherBlockQuantized/output_0";
            let attrs = vec![int("bits", nb.bits as i64), int("block_size", nb.block as i64), int("gather_axis", 0), int("quantize_axis", 1)];
            g.ms_node("GatherBlockQuantized", "/model/embed_tokens/GatherBlockQuantized", &inputs, &[gathered], attrs);
            let x = match &nb.mins {
                None => gathered.to_owned(),
                Some(mins) => {
                    // Each row's block minimums, gathered and spread over their blocks.
                    let kb = nb.blocks_per_row();
                    let m = g.init("model.embed_tokens.mins", &[cfg.vocab, kb], FLOAT, &mins.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>())?;
                    let gm = g.node("Gather", "/model/embed_tokens/GatherMins", &[&m, "input_ids"], vec![int("axis", 0)]);
                    let axes = g.i64s("/const/last_axis", &[-1])?;
                    let um = g.node("Unsqueeze", "/model/embed_tokens/UnsqueezeMins", &[&gm, &axes], vec![]);
                    let eshape = g.i64s("/const/embed_expand", &[1, 1, kb as i64, nb.block as i64])?;
                    let em = g.node("Expand", "/model/embed_tokens/ExpandMins", &[&um, &eshape], vec![]);
                    let fshape = g.i64s("/const/embed_flat", &[0, 0, h as i64])?;
                    let fm = g.node("Reshape", "/model/embed_tokens/FlatMins", &[&em, &fshape], vec![]);
                    g.node("Add", "/model/embed_tokens/AddMins", &[gathered, &fm], vec![])
                }
            };
            if tied {
                g.built.source_types.insert("(output tied to the embedding)".into(), 1);
                tied_head = Some(Tied::Blocks { b, s, z, bits: nb.bits, block: nb.block, mins: nb.mins.as_ref().map(|_| nb.blocks_per_row()) });
            }
            x
        }
        _ => {
            let data = match &emb {
                Weight::Float { data, .. } => data.clone(),
                Weight::Blocks { dtype, rows, cols, bytes } => from_ggml(*dtype, *rows, *cols, bytes)?.dequantize(),
            };
            let lossless_half = matches!(&emb, Weight::Float { dtype: "F16", .. });
            let x = if target == Target::Cpu && lossless_half {
                let t = g.init("model.embed_tokens.weight", &[cfg.vocab, h], FLOAT16, &data.iter().flat_map(|x| f16::from_f32(*x).to_le_bytes()).collect::<Vec<_>>())?;
                let gathered = g.node("Gather", "/model/embed_tokens/Gather", &[&t, "input_ids"], vec![int("axis", 0)]);
                g.node("Cast", "/model/embed_tokens/Cast", &[&gathered], vec![int("to", FLOAT as i64)])
            } else {
                let t = g.floats("model.embed_tokens.weight", &[cfg.vocab, h], &data)?;
                g.node("Gather", "/model/embed_tokens/Gather", &[&t, "input_ids"], vec![int("axis", 0)])
            };
            if tied {
                tied_head = Some(match &emb {
                    // The head reads the file's 4-bit blocks as they are, not re-rounded floats.
                    Weight::Blocks { dtype, rows, cols, bytes } if target == Target::CudaInt4 => {
                        Tied::Source(Weight::Blocks { dtype: *dtype, rows: *rows, cols: *cols, bytes: bytes.clone() })
                    }
                    _ => Tied::Floats(data),
                });
            }
            x
        }
    };
    drop(emb);

    // Rotary tables.
    let factors = src.rope_factors()?;
    let inv = cfg.inv_freq(factors.as_deref());
    let positions = cfg.context.clamp(2048, MAX_TABLE);
    g.built.context = positions;
    let (mut cos, mut sin) = (Vec::with_capacity(positions * hd / 2), Vec::with_capacity(positions * hd / 2));
    for p in 0..positions {
        for f in &inv {
            let a = p as f64 * *f as f64;
            cos.push(a.cos() as f32);
            sin.push(a.sin() as f32);
        }
    }
    let cos = g.floats("cos_cache", &[positions, hd / 2], &cos)?;
    let sin = g.floats("sin_cache", &[positions, hd / 2], &sin)?;

    let eps = cfg.rms_eps;
    let mut residual = x;
    let mut pending: Option<String> = None; // the last block's output, not yet added to the residual
    for i in 0..cfg.layers {
        let lp = format!("/model/layers.{i}");
        let w = take(src, Role::AttnNorm(i))?;
        check(&w, Role::AttnNorm(i), &[h])?;
        step(&w, &g)?;
        let ln = g.vector(&format!("model.layers.{i}.input_layernorm.weight"), w)?;
        let normed = match pending.take() {
            None => g.node("SimplifiedLayerNormalization", &format!("{lp}/input_layernorm/LayerNorm"), &[&residual, &ln], vec![float("epsilon", eps), int("axis", -1), int("stash_type", 1)]),
            Some(p) => {
                let (out, sum) = (format!("{lp}/input_layernorm/output_0"), format!("{lp}/input_layernorm/output_3"));
                g.ms_node("SkipSimplifiedLayerNormalization", &format!("{lp}/input_layernorm/SkipLayerNorm"), &[&residual, &p, &ln], &[&out, "", "", &sum], vec![float("epsilon", eps)]);
                residual = sum;
                out
            }
        };
        let qwen2 = cfg.arch == Arch::Qwen2;
        let qwen3 = cfg.arch == Arch::Qwen3;
        // Q, K and V as one packed projection when their blocks allow (GroupQueryAttention takes
        // the packed rows as they are), each on its own otherwise; Qwen3 normalises Q and K apart.
        let [q, k, v] = if qwen3 {
            let mut proj = |g: &mut Graph, role: Role, name: &str, rows: usize, norm: Option<(Role, usize)>| -> Result<String> {
                let w = take(src, role)?;
                check(&w, role, &[rows, h])?;
                step(&w, g)?;
                let mut y = g.linear(&format!("{lp}/attn/{name}"), &normed, w, None)?;
                if let Some((nrole, nheads)) = norm {
                    let w = take(src, nrole)?;
                    check(&w, nrole, &[hd])?;
                    step(&w, g)?;
                    let nw = g.vector(&format!("model.layers.{i}.attn.{name}_norm.weight"), w)?;
                    let split = g.i64s(&format!("/const/heads_{nheads}"), &[0, 0, nheads as i64, hd as i64])?;
                    let joined = g.i64s(&format!("/const/joined_{nheads}"), &[0, 0, (nheads * hd) as i64])?;
                    let r = g.node("Reshape", &format!("{lp}/attn/{name}_norm/Split"), &[&y, &split], vec![]);
                    let n = g.node("SimplifiedLayerNormalization", &format!("{lp}/attn/{name}_norm/LayerNorm"), &[&r, &nw], vec![float("epsilon", eps), int("axis", -1), int("stash_type", 1)]);
                    y = g.node("Reshape", &format!("{lp}/attn/{name}_norm/Join"), &[&n, &joined], vec![]);
                }
                Ok(y)
            };
            let q = proj(&mut g, Role::Q(i), "q_proj", heads * hd, Some((Role::QNorm(i), heads)))?;
            let k = proj(&mut g, Role::K(i), "k_proj", kvh * hd, Some((Role::KNorm(i), kvh)))?;
            let v = proj(&mut g, Role::V(i), "v_proj", kvh * hd, None)?;
            [q, k, v]
        } else {
            let mut parts = Vec::with_capacity(3);
            for (role, name, rows) in [(Role::Q(i), "q_proj", heads * hd), (Role::K(i), "k_proj", kvh * hd), (Role::V(i), "v_proj", kvh * hd)] {
                let w = take(src, role)?;
                check(&w, role, &[rows, h])?;
                step(&w, &g)?;
                parts.push((format!("{lp}/attn/{name}"), w));
            }
            let mut biases = Vec::new();
            if qwen2 {
                for (role, rows) in [(Role::QBias(i), heads * hd), (Role::KBias(i), kvh * hd), (Role::VBias(i), kvh * hd)] {
                    let w = take(src, role)?;
                    check(&w, role, &[rows])?;
                    step(&w, &g)?;
                    biases.push(w.into_floats()?);
                }
            }
            match g.linear_fused(&format!("{lp}/attn/qkv_proj"), &normed, parts)? {
                Fused::One(y, _) if biases.is_empty() => [y, String::new(), String::new()],
                Fused::One(y, _) => {
                    let bn = g.floats(&format!("model.layers.{i}.attn.qkv_proj.bias"), &[heads * hd + 2 * kvh * hd], &biases.concat())?;
                    [g.node("Add", &format!("{lp}/attn/qkv_proj/Bias"), &[&y, &bn], vec![]), String::new(), String::new()]
                }
                Fused::Each(ys) => {
                    let mut out: Vec<String> = Vec::with_capacity(3);
                    for (n, (y, name)) in ys.into_iter().zip(["q_proj", "k_proj", "v_proj"]).enumerate() {
                        out.push(match biases.get(n) {
                            Some(b) => {
                                let bn = g.floats(&format!("model.layers.{i}.attn.{name}.bias"), &[b.len()], b)?;
                                g.node("Add", &format!("{lp}/attn/{name}/Bias"), &[&y, &bn], vec![])
                            }
                            None => y,
                        });
                    }
                    out.try_into().expect("three projections")
                }
            }
        };
        let attn = format!("{lp}/attn/GroupQueryAttention/output_0");
        let (pk, pv) = (format!("past_key_values.{i}.key"), format!("past_key_values.{i}.value"));
        let (ok, ov) = (format!("present.{i}.key"), format!("present.{i}.value"));
        g.ms_node(
            "GroupQueryAttention",
            &format!("{lp}/attn/GroupQueryAttention"),
            &[&q, &k, &v, &pk, &pv, &seqlens_k, &total_len, &cos, &sin],
            &[&attn, &ok, &ov],
            vec![
                int("num_heads", heads as i64),
                int("kv_num_heads", kvh as i64),
                float("scale", 1.0 / (hd as f32).sqrt()),
                int("local_window_size", -1),
                float("softcap", 0.0),
                int("do_rotary", 1),
                int("rotary_interleaved", cfg.rotary_interleaved as i64),
            ],
        );
        let w = take(src, Role::O(i))?;
        check(&w, Role::O(i), &[h, heads * hd])?;
        step(&w, &g)?;
        let o = g.linear(&format!("{lp}/attn/o_proj"), &attn, w, None)?;
        let w = take(src, Role::FfnNorm(i))?;
        check(&w, Role::FfnNorm(i), &[h])?;
        step(&w, &g)?;
        let post = g.vector(&format!("model.layers.{i}.post_attention_layernorm.weight"), w)?;
        let (hn, sum) = (format!("{lp}/post_attention_layernorm/output_0"), format!("{lp}/post_attention_layernorm/output_3"));
        g.ms_node("SkipSimplifiedLayerNormalization", &format!("{lp}/post_attention_layernorm/SkipLayerNorm"), &[&residual, &o, &post], &[&hn, "", "", &sum], vec![float("epsilon", eps)]);
        residual = sum;
        let mut parts = Vec::with_capacity(2);
        for (role, name) in [(Role::Gate(i), "gate_proj"), (Role::Up(i), "up_proj")] {
            let w = take(src, role)?;
            check(&w, role, &[cfg.intermediate, h])?;
            step(&w, &g)?;
            parts.push((format!("{lp}/mlp/{name}"), w));
        }
        let (gate, up) = match g.linear_fused(&format!("{lp}/mlp/gate_up_proj"), &hn, parts)? {
            Fused::One(y, sizes) => {
                let split = g.i64s(&format!("/const/split_{}_{}", sizes[0], sizes[1]), &[sizes[0] as i64, sizes[1] as i64])?;
                let (gate, up) = (format!("{lp}/mlp/gate_up_proj/Split/output_0"), format!("{lp}/mlp/gate_up_proj/Split/output_1"));
                g.nodes.add("Split", format!("{lp}/mlp/gate_up_proj/Split"), &[&y, &split], &[&gate, &up], vec![int("axis", -1)]);
                (gate, up)
            }
            Fused::Each(mut ys) => {
                let up = ys.pop().expect("two projections");
                (ys.pop().expect("two projections"), up)
            }
        };
        let sig = g.node("Sigmoid", &format!("{lp}/mlp/act_fn/Sigmoid"), &[&gate], vec![]);
        let act = g.node("Mul", &format!("{lp}/mlp/act_fn/Mul"), &[&gate, &sig], vec![]);
        let prod = g.node("Mul", &format!("{lp}/mlp/Mul"), &[&act, &up], vec![]);
        let w = take(src, Role::Down(i))?;
        check(&w, Role::Down(i), &[h, cfg.intermediate])?;
        step(&w, &g)?;
        pending = Some(g.linear(&format!("{lp}/mlp/down_proj"), &prod, w, None)?);
    }

    let w = take(src, Role::FinalNorm)?;
    check(&w, Role::FinalNorm, &[h])?;
    step(&w, &g)?;
    let fnorm = g.vector("model.norm.weight", w)?;
    let last = format!("/model/layers.{}/final_norm_layernorm/output_0", cfg.layers);
    let p = pending.take().expect("at least one layer");
    g.ms_node("SkipSimplifiedLayerNormalization", &format!("/model/layers.{}/final_norm_layernorm/SkipLayerNorm", cfg.layers), &[&residual, &p, &fnorm], &[&last], vec![float("epsilon", eps)]);
    // A prompt pass needs the logits of its last position only, and the output projection is the
    // largest matrix: `logits_from` (an input defaulting to 0, all positions) drops the positions
    // before it. Engines that do not know it get every position, as before.
    let from = g.i64s(LOGITS_FROM, &[0])?;
    let ends = g.i64s("/const/slice_to_end", &[i64::MAX])?;
    let axis = g.i64s("/const/sequence_axis", &[1])?;
    let last = g.node("Slice", "/model/logits_from/Slice", &[&last, &from, &ends, &axis], vec![]);
    match tied_head {
        Some(Tied::Floats(data)) => {
            g.linear("/lm_head", &last, Weight::Float { shape: vec![cfg.vocab, h], data, dtype: "tied" }, Some("logits"))?;
        }
        Some(Tied::Source(w)) => {
            g.linear("/lm_head", &last, w, Some("logits"))?;
        }
        Some(Tied::Blocks { b, s, z, bits, block, mins }) => {
            // The embedding's block weights, read again as the output projection.
            let main = if mins.is_some() { "/lm_head/MatMulNBits/output_0".to_owned() } else { "logits".to_owned() };
            let mut inputs = vec![last.as_str(), b.as_str(), s.as_str()];
            if let Some(z) = &z {
                inputs.push(z);
            }
            let attrs = vec![int("K", h as i64), int("N", cfg.vocab as i64), int("bits", bits as i64), int("block_size", block as i64), int("accuracy_level", ACCURACY_LEVEL)];
            g.ms_node("MatMulNBits", "/lm_head/MatMulNBits", &inputs, &[&main], attrs);
            if let Some(kb) = mins {
                // The embedding's minimums are [vocab][blocks]: transposed for the MatMul.
                let sums = g.block_sums(&last, kb, block)?;
                let mt = g.node("Transpose", "/lm_head/MinsT", &["model.embed_tokens.mins"], vec![ints("perm", &[1, 0])]);
                let shift = g.node("MatMul", "/lm_head/Mins", &[&sums, &mt], vec![]);
                g.nodes.add("Add", "/lm_head/AddMins", &[&main, &shift], &["logits"], vec![]);
            }
        }
        None => {
            let w = take(src, Role::LmHead)?;
            check(&w, Role::LmHead, &[cfg.vocab, h])?;
            step(&w, &g)?;
            // llama.cpp's Q4_0 files keep the output projection finer (Q6_K); here: as the file has it.
            g.requant = false;
            g.linear("/lm_head", &last, w, Some("logits"))?;
        }
    }

    // Inputs and outputs, then the graph itself.
    let mut input = vec![value("input_ids", INT64, &["batch_size", "sequence_length"]), value("attention_mask", INT64, &["batch_size", "total_sequence_length"]), value(LOGITS_FROM, INT64, &["1"])];
    let mut output = vec![value("logits", elem, &["batch_size", "logits_length", &cfg.vocab.to_string()])];
    let (kvs, hds) = (kvh.to_string(), hd.to_string());
    for kind in ["key", "value"] {
        for i in 0..cfg.layers {
            input.push(value(&format!("past_key_values.{i}.{kind}"), elem, &["batch_size", &kvs, "past_sequence_length", &hds]));
            output.push(value(&format!("present.{i}.{kind}"), elem, &["batch_size", &kvs, "total_sequence_length", &hds]));
        }
    }
    g.data.flush().map_err(|e| g.io(e))?;
    g.data.get_ref().sync_all().map_err(|e| g.io(e))?;
    let model = ModelProto {
        ir_version: 10,
        producer_name: "kogi".into(),
        graph: Some(pb::GraphProto { node: g.nodes.0, name: "main_graph".into(), initializer: g.inits, input, output }),
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }, OperatorSetIdProto { domain: "com.microsoft".into(), version: 1 }],
    };
    let path = dir.join("model.onnx");
    std::fs::write(&path, model.encode_to_vec()).map_err(|e| super::write_error(&path, e))?;
    Ok(g.built)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_tiled_transpose_moves_every_weight_where_the_plain_one_does() {
        for (n, k) in [(1, 1), (3, 5), (64, 64), (130, 70), (7, 300)] {
            let data: Vec<f32> = (0..n * k).map(|i| i as f32 * 0.5).collect();
            let t = super::transpose_half(&data, n, k);
            for r in 0..n {
                for c in 0..k {
                    let at = (c * n + r) * 2;
                    assert_eq!(half::f16::from_le_bytes([t[at], t[at + 1]]), half::f16::from_f32(data[r * k + c]), "{n}×{k} at {r},{c}");
                }
            }
        }
    }
}
