//! Bringing a model in: tiny random GGUF files of each architecture and tensor type (written here
//! with candle's GGUF writer, SmolLM2's real vocabulary) converted by kogi, their logits checked
//! against a plain reference forward pass over candle's own dequantisation of the same file; and
//! every kind of bad input refused by name with nothing left in the models folder.

mod support;

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use kogi_core::generate::onnx::decoder::Decoder;
use kogi_core::inference::runtime::SessionConfig;
use kogi_core::model::convert::{ConvertRequest, Target, convert};
use kogi_core::Error;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Arch {
    Llama,
    Qwen2,
    Qwen3,
}

const LAYERS: usize = 2;
const HIDDEN: usize = 256;
const HEADS: usize = 4;
const KV: usize = 2;
const HD: usize = 64;
const FF: usize = 512;

struct Vocab {
    tokens: Vec<String>,
    types: Vec<i32>,
    merges: Vec<String>,
    template: String,
}

fn smollm2_vocab() -> Vocab {
    let dir = support::models_dir().join("smollm2-135m-instruct");
    let (tokens, types, merges) = support::gpt2_vocab(&dir.join("tokenizer.json"));
    Vocab { tokens, types, merges, template: std::fs::read_to_string(dir.join("chat_template.jinja")).unwrap() }
}

/// A tiny GGUF's metadata (the shape constants above, SmolLM2's vocabulary) and its file.
fn write_file(path: &Path, a: &str, vocab: &Vocab, tensors: &[(String, QTensor)]) {
    let s = |x: &str| Value::String(x.into());
    let mut meta: Vec<(String, Value)> = vec![
        ("general.architecture".into(), s(a)),
        ("general.name".into(), s(&format!("tiny {a}"))),
        (format!("{a}.block_count"), Value::U32(LAYERS as u32)),
        (format!("{a}.embedding_length"), Value::U32(HIDDEN as u32)),
        (format!("{a}.feed_forward_length"), Value::U32(FF as u32)),
        (format!("{a}.attention.head_count"), Value::U32(HEADS as u32)),
        (format!("{a}.attention.head_count_kv"), Value::U32(KV as u32)),
        (format!("{a}.attention.key_length"), Value::U32(HD as u32)),
        (format!("{a}.rope.freq_base"), Value::F32(10000.0)),
        (format!("{a}.attention.layer_norm_rms_epsilon"), Value::F32(1e-6)),
        (format!("{a}.context_length"), Value::U32(2048)),
        ("tokenizer.ggml.model".into(), s("gpt2")),
        ("tokenizer.ggml.pre".into(), s("smollm")),
        ("tokenizer.ggml.tokens".into(), Value::Array(vocab.tokens.iter().map(|t| s(t)).collect())),
        ("tokenizer.ggml.token_type".into(), Value::Array(vocab.types.iter().map(|t| Value::I32(*t)).collect())),
        ("tokenizer.ggml.merges".into(), Value::Array(vocab.merges.iter().map(|m| s(m)).collect())),
        ("tokenizer.ggml.bos_token_id".into(), Value::U32(1)),
        ("tokenizer.ggml.eos_token_id".into(), Value::U32(2)),
        ("tokenizer.chat_template".into(), s(&vocab.template)),
    ];
    meta.sort_by(|a, b| a.0.cmp(&b.0));
    let meta_refs: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
    gguf_file::write(&mut std::fs::File::create(path).unwrap(), &meta_refs, &tensor_refs).unwrap();
}

/// Deterministic weights in [-1, 1) scaled by `scale`.
fn weights(seed: u64, n: usize, scale: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// A GGUF of `arch` whose matrices are `dtype` (norms and biases F32), as llama.cpp lays it out.
fn write_gguf(path: &Path, arch: Arch, dtype: GgmlDType, vocab: &Vocab, meta_arch: &str) {
    let v = vocab.tokens.len();
    let dev = Device::Cpu;
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    let mut seed = 1u64;
    let mut add = |name: String, shape: &[usize], scale: f32, dt: GgmlDType, offset: f32| {
        seed += 1;
        let data: Vec<f32> = weights(seed, shape.iter().product(), scale).into_iter().map(|x| x + offset).collect();
        let t = Tensor::from_vec(data, shape, &dev).unwrap();
        tensors.push((name, QTensor::quantize(&t, dt).unwrap()));
    };
    let lin = |fan_in: usize| 1.7 / (fan_in as f32).sqrt();
    add("token_embd.weight".into(), &[v, HIDDEN], 1.0, dtype, 0.0);
    for i in 0..LAYERS {
        let p = |s: &str| format!("blk.{i}.{s}");
        add(p("attn_norm.weight"), &[HIDDEN], 0.1, GgmlDType::F32, 1.0);
        add(p("attn_q.weight"), &[HEADS * HD, HIDDEN], 2.0 * lin(HIDDEN), dtype, 0.0);
        add(p("attn_k.weight"), &[KV * HD, HIDDEN], 2.0 * lin(HIDDEN), dtype, 0.0);
        add(p("attn_v.weight"), &[KV * HD, HIDDEN], lin(HIDDEN), dtype, 0.0);
        add(p("attn_output.weight"), &[HIDDEN, HEADS * HD], lin(HEADS * HD), dtype, 0.0);
        if arch == Arch::Qwen2 {
            add(p("attn_q.bias"), &[HEADS * HD], 0.3, GgmlDType::F32, 0.0);
            add(p("attn_k.bias"), &[KV * HD], 0.3, GgmlDType::F32, 0.0);
            add(p("attn_v.bias"), &[KV * HD], 0.3, GgmlDType::F32, 0.0);
        }
        if arch == Arch::Qwen3 {
            add(p("attn_q_norm.weight"), &[HD], 0.1, GgmlDType::F32, 1.0);
            add(p("attn_k_norm.weight"), &[HD], 0.1, GgmlDType::F32, 1.0);
        }
        add(p("ffn_norm.weight"), &[HIDDEN], 0.1, GgmlDType::F32, 1.0);
        add(p("ffn_gate.weight"), &[FF, HIDDEN], lin(HIDDEN), dtype, 0.0);
        add(p("ffn_up.weight"), &[FF, HIDDEN], lin(HIDDEN), dtype, 0.0);
        add(p("ffn_down.weight"), &[HIDDEN, FF], lin(FF), dtype, 0.0);
    }
    add("output_norm.weight".into(), &[HIDDEN], 0.1, GgmlDType::F32, 1.0);
    if arch == Arch::Qwen2 {
        add("output.weight".into(), &[v, HIDDEN], 0.5, dtype, 0.0);
    }
    write_file(path, meta_arch, vocab, &tensors);
}

/// Every tensor of a GGUF dequantised by candle, `[out][in]`.
fn read_all(path: &Path) -> HashMap<String, Vec<f32>> {
    let mut f = std::fs::File::open(path).unwrap();
    let c = gguf_file::Content::read(&mut f).unwrap();
    c.tensor_infos
        .keys()
        .map(|k| (k.clone(), c.tensor(&mut f, k, &Device::Cpu).unwrap().dequantize(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1().unwrap()))
        .collect()
}

fn rms(x: &[f64], w: &[f32]) -> Vec<f64> {
    let ms = x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64;
    let inv = 1.0 / (ms + 1e-6).sqrt();
    x.iter().zip(w).map(|(v, g)| v * inv * *g as f64).collect()
}

fn matvec(w: &[f32], x: &[f64], rows: usize) -> Vec<f64> {
    let cols = x.len();
    (0..rows).map(|r| w[r * cols..(r + 1) * cols].iter().zip(x).map(|(a, b)| *a as f64 * b).sum()).collect()
}

/// llama.cpp's forward pass, written out plainly: rotary pairs adjacent for `llama` (its Q/K rows
/// are permuted in GGUF), split in halves for the Qwens.
fn reference_logits(w: &HashMap<String, Vec<f32>>, arch: Arch, tokens: &[u32]) -> Vec<Vec<f64>> {
    let v = w["token_embd.weight"].len() / HIDDEN;
    let mut keys = vec![Vec::new(); LAYERS];
    let mut values = vec![Vec::new(); LAYERS];
    let mut out = Vec::new();
    for (pos, &t) in tokens.iter().enumerate() {
        let mut x: Vec<f64> = w["token_embd.weight"][t as usize * HIDDEN..(t as usize + 1) * HIDDEN].iter().map(|&a| a as f64).collect();
        for i in 0..LAYERS {
            let g = |s: &str| &w[&format!("blk.{i}.{s}")];
            let h = rms(&x, g("attn_norm.weight"));
            let mut q = matvec(g("attn_q.weight"), &h, HEADS * HD);
            let mut k = matvec(g("attn_k.weight"), &h, KV * HD);
            let mut vv = matvec(g("attn_v.weight"), &h, KV * HD);
            if arch == Arch::Qwen2 {
                for (a, b) in q.iter_mut().zip(g("attn_q.bias")) { *a += *b as f64; }
                for (a, b) in k.iter_mut().zip(g("attn_k.bias")) { *a += *b as f64; }
                for (a, b) in vv.iter_mut().zip(g("attn_v.bias")) { *a += *b as f64; }
            }
            if arch == Arch::Qwen3 {
                for hh in 0..HEADS { let n = rms(&q[hh * HD..(hh + 1) * HD], g("attn_q_norm.weight")); q[hh * HD..(hh + 1) * HD].copy_from_slice(&n); }
                for hh in 0..KV { let n = rms(&k[hh * HD..(hh + 1) * HD], g("attn_k_norm.weight")); k[hh * HD..(hh + 1) * HD].copy_from_slice(&n); }
            }
            let rope = |x: &mut [f64]| {
                for head in x.chunks_mut(HD) {
                    for j in 0..HD / 2 {
                        let theta = pos as f64 * 10000f64.powf(-2.0 * j as f64 / HD as f64);
                        let (a, b) = if arch == Arch::Llama { (2 * j, 2 * j + 1) } else { (j, j + HD / 2) };
                        let (x0, x1) = (head[a], head[b]);
                        head[a] = x0 * theta.cos() - x1 * theta.sin();
                        head[b] = x0 * theta.sin() + x1 * theta.cos();
                    }
                }
            };
            rope(&mut q);
            rope(&mut k);
            keys[i].push(k);
            values[i].push(vv);
            let mut attn = vec![0f64; HEADS * HD];
            for hh in 0..HEADS {
                let kvh = hh / (HEADS / KV);
                let qh = &q[hh * HD..(hh + 1) * HD];
                let scores: Vec<f64> = keys[i].iter().map(|kk| kk[kvh * HD..(kvh + 1) * HD].iter().zip(qh).map(|(a, b)| a * b).sum::<f64>() / (HD as f64).sqrt()).collect();
                let m = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = scores.iter().map(|s| (s - m).exp()).collect();
                let z: f64 = e.iter().sum();
                for (p, vvv) in e.iter().zip(&values[i]) {
                    for d in 0..HD {
                        attn[hh * HD + d] += p / z * vvv[kvh * HD + d];
                    }
                }
            }
            let o = matvec(g("attn_output.weight"), &attn, HIDDEN);
            for (a, b) in x.iter_mut().zip(&o) { *a += b; }
            let h = rms(&x, g("ffn_norm.weight"));
            let gate = matvec(g("ffn_gate.weight"), &h, FF);
            let up = matvec(g("ffn_up.weight"), &h, FF);
            let act: Vec<f64> = gate.iter().zip(&up).map(|(g, u)| g / (1.0 + (-g).exp()) * u).collect();
            let d = matvec(g("ffn_down.weight"), &act, HIDDEN);
            for (a, b) in x.iter_mut().zip(&d) { *a += b; }
        }
        let h = rms(&x, &w["output_norm.weight"]);
        let head = w.get("output.weight").unwrap_or(&w["token_embd.weight"]);
        out.push(matvec(head, &h, v));
    }
    out
}

fn kogi_logits(dir: &Path, tokens: &[u32]) -> Vec<Vec<f32>> {
    let mut d = Decoder::open(dir, &SessionConfig { threads: Some(2), ..Default::default() }).unwrap();
    let mut cache = d.new_cache(1, 64).unwrap();
    let flat = d.forward(&mut cache, tokens, tokens.len()).unwrap();
    flat.chunks(flat.len() / tokens.len()).map(|c| c.to_vec()).collect()
}

fn add(src: &Path, models: &Path, name: &str) -> kogi_core::Result<kogi_core::model::convert::Converted> {
    add_for(src, models, name, Target::Cpu)
}

fn add_for(src: &Path, models: &Path, name: &str, target: Target) -> kogi_core::Result<kogi_core::model::convert::Converted> {
    let req = ConvertRequest { source: src.to_owned(), name: Some(name.into()), target };
    convert(&req, models, &mut |_, _, _, _| {}, &AtomicBool::new(false))
}

/// The largest logit difference relative to each position's largest logit, and at how many
/// positions the top token agrees.
fn compare(reference: &[Vec<f64>], mine: &[Vec<f32>]) -> (f64, usize) {
    let (mut worst, mut agree) = (0f64, 0);
    for (r, m) in reference.iter().zip(mine) {
        let scale = r.iter().fold(0f64, |a, x| a.max(x.abs()));
        worst = worst.max(r.iter().zip(m).map(|(a, b)| (a - *b as f64).abs()).fold(0.0, f64::max) / scale);
        let top = |v: &[f64]| (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap();
        let mf: Vec<f64> = m.iter().map(|x| *x as f64).collect();
        agree += (top(r) == top(&mf)) as usize;
    }
    (worst, agree)
}

fn leftovers(models: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(models).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default()
}

#[test]
fn tiny_models_of_each_architecture_and_block_type_give_the_reference_logits() {
    let vocab = smollm2_vocab();
    let tmp = tempfile::tempdir().unwrap();
    let models = tmp.path().join("models");
    let tokens: Vec<u32> = vec![1, 504, 3537, 314, 260, 1345, 28, 2270, 45, 9, 3012, 17];
    let cases = [
        (Arch::Llama, "llama", GgmlDType::Q8_0),
        (Arch::Llama, "llama", GgmlDType::Q4K),
        (Arch::Qwen2, "qwen2", GgmlDType::Q4_0),
        (Arch::Qwen2, "qwen2", GgmlDType::Q6K),
        (Arch::Qwen3, "qwen3", GgmlDType::Q4_1),
        (Arch::Qwen3, "qwen3", GgmlDType::Q5K),
        (Arch::Llama, "llama", GgmlDType::F16),
    ];
    for (arch, name, dtype) in cases {
        let file = tmp.path().join(format!("{name}-{dtype:?}.gguf"));
        write_gguf(&file, arch, dtype, &vocab, name);
        let c = add(&file, &models, &format!("{name}-{dtype:?}").to_lowercase()).unwrap();
        let reference = reference_logits(&read_all(&file), arch, &tokens);
        let (worst, agree) = compare(&reference, &kogi_logits(&c.dir, &tokens));
        println!("{name} {dtype:?}: largest logit difference {:.4} of the largest logit, top-1 agrees at {agree}/{}", worst, tokens.len());
        // int8 activations (as llama.cpp computes) are the only approximation left.
        assert!(worst < 0.07, "{name} {dtype:?}: logits differ by {worst:.4} of their scale");
        assert!(agree * 100 >= tokens.len() * 90, "{name} {dtype:?}: top-1 agrees at {agree}/{}", tokens.len());
    }
}

/// The GPU 4-bit target, run here on the CPU (the same graph: fp16 activations, `MatMulNBits`).
#[test]
fn the_4_bit_gpu_target_keeps_4_bit_blocks_rounds_floats_to_4_bits_and_gives_the_reference_logits() {
    // (architecture, block type, what its linear layers become, largest relative logit difference:
    // kept blocks differ by fp16 arithmetic only)
    let cases = [
        (Arch::Qwen2, "qwen2", GgmlDType::Q4_0, "4-bit/32", 0.01),
        (Arch::Llama, "llama", GgmlDType::Q4K, "4-bit/32", 0.01),
        (Arch::Qwen3, "qwen3", GgmlDType::Q4_1, "4-bit/32", 0.01),
        // Higher-precision blocks are not squeezed to 4 bits: they stay fp16.
        (Arch::Qwen2, "qwen2", GgmlDType::Q6K, "fp16", 0.01),
        // Floats are rounded to 4 bits: the difference is the rounding's.
        (Arch::Llama, "llama", GgmlDType::F16, "4-bit/32", 0.35),
    ];
    let failed = far_from_the_reference(Target::CudaInt4, &cases, |_| {});
    assert!(failed.is_empty(), "{failed:#?}");
}

/// The fp16 GPU target, run here on the CPU: Q, K and V are one wider MatMul and gate and up another
/// (one weight read each a step), and the logits are the reference's up to fp16 arithmetic.
#[test]
fn the_fp16_gpu_target_fuses_the_projections_that_share_an_input_and_gives_the_reference_logits() {
    let cases = [
        (Arch::Llama, "llama", GgmlDType::Q4_0, "fp16", 0.01),
        (Arch::Qwen2, "qwen2", GgmlDType::F16, "fp16", 0.01),
        (Arch::Qwen3, "qwen3", GgmlDType::Q8_0, "fp16", 0.01),
    ];
    let failed = far_from_the_reference(Target::Cuda, &cases, |c| {
        let graph = std::fs::read(c.dir.join("model.onnx")).unwrap();
        let has = |s: &str| graph.windows(s.len()).any(|w| w == s.as_bytes());
        assert!(has("gate_up_proj/MatMul"), "{}: gate and up are one MatMul", c.dir.display());
        // Qwen3 normalises Q and K apart, so its projections stay three.
        assert_eq!(has("qkv_proj/MatMul"), !c.dir.display().to_string().contains("qwen3"), "{}", c.dir.display());
    });
    assert!(failed.is_empty(), "{failed:#?}");
}

/// Converts a tiny file of each case for `target` and compares its logits with a reference forward
/// pass: the cases whose largest difference reaches the bound or whose top-1 agrees at fewer than
/// 75% of positions. `also` checks each conversion further.
fn far_from_the_reference(target: Target, cases: &[(Arch, &str, GgmlDType, &str, f64)], also: impl Fn(&kogi_core::model::convert::Converted)) -> Vec<String> {
    let vocab = smollm2_vocab();
    let tmp = tempfile::tempdir().unwrap();
    let models = tmp.path().join("models");
    let tokens: Vec<u32> = vec![1, 504, 3537, 314, 260, 1345, 28, 2270, 45, 9, 3012, 17];
    let mut failed = Vec::new();
    for &(arch, name, dtype, written, bound) in cases {
        let file = tmp.path().join(format!("{name}-{dtype:?}.gguf"));
        write_gguf(&file, arch, dtype, &vocab, name);
        let c = add_for(&file, &models, &format!("{name}-{dtype:?}-{target}").to_lowercase(), target).unwrap();
        assert_eq!(c.target, target);
        assert!(c.built.written_as.get(written).copied().unwrap_or(0) >= LAYERS * 7, "{name} {dtype:?}: {:?}", c.built.written_as);
        also(&c);
        let (worst, agree) = compare(&reference_logits(&read_all(&file), arch, &tokens), &kogi_logits(&c.dir, &tokens));
        println!("{target} {name} {dtype:?} ({:?}): largest logit difference {worst:.4}, top-1 agrees at {agree}/{}", c.built.written_as, tokens.len());
        if worst >= bound || agree * 100 < tokens.len() * 75 {
            failed.push(format!("{name} {dtype:?}: logits differ by {worst:.4} of their scale, top-1 agrees at {agree}/{}", tokens.len()));
        }
    }
    failed
}

/// The faster CPU target: llama.cpp's re-quantisation to Q4_0, one `MatMulNBits` a layer with no
/// minimums' path (that its blocks are llama.cpp's bit for bit: `llama_cpp_fidelity`).
#[test]
fn the_fast_cpu_target_re_quantises_to_q4_0_in_one_matmul_a_layer_and_stays_near_the_reference_logits() {
    // (architecture, block type, what its linear layers become, largest relative logit difference)
    let cases = [
        // Q4_0 already: the blocks as they are (int8 activations, as on the cpu target).
        (Arch::Qwen2, "qwen2", GgmlDType::Q4_0, "4-bit/32", 0.07),
        // Other blocks and floats are rounded again: on these random weights as far off as the
        // first rounding of floats is (the F16 case), which is what llama.cpp's re-quantisation costs.
        (Arch::Llama, "llama", GgmlDType::Q4_1, "4-bit/32", 0.5),
        (Arch::Qwen3, "qwen3", GgmlDType::Q4K, "4-bit/32", 0.5),
        (Arch::Llama, "llama", GgmlDType::F16, "4-bit/32", 0.35),
    ];
    let failed = far_from_the_reference(Target::CpuFast, &cases, |c| {
        let graph = std::fs::read(c.dir.join("model.onnx")).unwrap();
        assert!(!graph.windows(b"AddMins".len()).any(|w| w == b"AddMins"), "{}: a minimums path is left", c.dir.display());
    });
    assert!(failed.is_empty(), "{failed:#?}");
}

/// A prompt pass asks for its last position only; the graph then projects that position alone and
/// its logits are the ones a pass over every position gives there.
#[test]
fn a_prompt_pass_computes_the_logits_of_its_last_position_only_and_the_same_ones() {
    let vocab = smollm2_vocab();
    let tmp = tempfile::tempdir().unwrap();
    let models = tmp.path().join("models");
    let file = tmp.path().join("llama.gguf");
    write_gguf(&file, Arch::Llama, GgmlDType::Q4_1, &vocab, "llama");
    let c = add(&file, &models, "llama").unwrap();
    let tokens: Vec<u32> = vec![1, 504, 3537, 314, 260, 1345, 28, 2270, 45, 9, 3012, 17];
    let every = kogi_logits(&c.dir, &tokens);
    let mut d = Decoder::open(&c.dir, &SessionConfig { threads: Some(2), ..Default::default() }).unwrap();
    for want in [1, 3] {
        let mut cache = d.new_cache(1, 64).unwrap();
        let last = d.forward(&mut cache, &tokens, want).unwrap();
        assert_eq!(last.len(), want * every[0].len());
        for (i, row) in last.chunks(every[0].len()).enumerate() {
            let full = &every[tokens.len() - want + i];
            let worst = row.iter().zip(full).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert!(worst < 1e-4, "want {want}, row {i}: differs by {worst}");
        }
        // The cache holds the whole prompt: the next step continues it.
        assert_eq!(d.forward(&mut cache, &[17], 1).unwrap().len(), every[0].len());
    }
}

#[test]
fn bad_model_files_are_refused_by_name_and_leave_nothing_behind() {
    let vocab = smollm2_vocab();
    let tmp = tempfile::tempdir().unwrap();
    let models = tmp.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    let good = tmp.path().join("good.gguf");
    write_gguf(&good, Arch::Llama, GgmlDType::Q8_0, &vocab, "llama");

    // Truncated.
    let bytes = std::fs::read(&good).unwrap();
    let cut = tmp.path().join("cut.gguf");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let e = add(&cut, &models, "cut").unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");

    // Another architecture.
    let gemma = tmp.path().join("gemma.gguf");
    write_gguf(&gemma, Arch::Llama, GgmlDType::Q8_0, &vocab, "gemma2");
    let e = add(&gemma, &models, "gemma").unwrap_err();
    assert!(e.to_string().contains("\"gemma2\"") && e.to_string().contains("Qwen3"), "{e}");

    // A tensor type kogi does not convert.
    let q2 = tmp.path().join("q2k.gguf");
    write_gguf(&q2, Arch::Llama, GgmlDType::Q2K, &vocab, "llama");
    let e = add(&q2, &models, "q2k").unwrap_err();
    assert!(e.to_string().contains("Q2K") && e.to_string().contains("Q4_K"), "{e}");

    // Not a GGUF at all.
    let txt = tmp.path().join("notes.gguf");
    std::fs::write(&txt, "just some text").unwrap();
    assert!(add(&txt, &models, "notes").unwrap_err().to_string().contains("not a GGUF"));

    // A Hugging Face folder without its tokenizer.
    let hf = tmp.path().join("hf");
    std::fs::create_dir_all(&hf).unwrap();
    std::fs::write(hf.join("config.json"), r#"{"architectures": ["LlamaForCausalLM"], "hidden_size": 256}"#).unwrap();
    let e = add(&hf, &models, "hf").unwrap_err();
    assert!(e.to_string().contains("tokenizer.json"), "{e}");

    // Cancelled half-way.
    let cancel = AtomicBool::new(false);
    let req = ConvertRequest { source: good.clone(), name: Some("cancelled".into()), target: Target::Cpu };
    let e = convert(&req, &models, &mut |_, _, done, of| if done * 2 >= of { cancel.store(true, Ordering::Relaxed) }, &cancel).unwrap_err();
    assert!(matches!(e, Error::Cancelled), "{e}");

    assert!(leftovers(&models).is_empty(), "nothing is left behind: {:?}", leftovers(&models));
    // The good file still converts, and a second model of the same name is refused without harm.
    add(&good, &models, "good").unwrap();
    let e = add(&good, &models, "good").unwrap_err();
    assert!(e.to_string().contains("installed already"), "{e}");
    assert_eq!(leftovers(&models), vec![models.join("good")]);
}

/// The same random weights as a Hugging Face folder (F32 safetensors, Q/K rows as transformers
/// holds them) and as a GGUF (F32, Q/K rows permuted for `llama` as convert_hf_to_gguf does).
fn write_pair(dir: &Path, arch: Arch) -> (PathBuf, PathBuf) {
    let smol = support::models_dir().join("smollm2-135m-instruct");
    let vocab = smollm2_vocab();
    let v = vocab.tokens.len();
    let mut hf: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    let mut seed = 100u64;
    let mut put = |name: String, shape: Vec<usize>, scale: f32, offset: f32| {
        seed += 1;
        let data = weights(seed, shape.iter().product(), scale).into_iter().map(|x| x + offset).collect();
        hf.push((name, shape, data));
    };
    put("model.embed_tokens.weight".into(), vec![v, HIDDEN], 1.0, 0.0);
    for i in 0..LAYERS {
        let p = |s: &str| format!("model.layers.{i}.{s}");
        put(p("input_layernorm.weight"), vec![HIDDEN], 0.1, 1.0);
        put(p("self_attn.q_proj.weight"), vec![HEADS * HD, HIDDEN], 0.2, 0.0);
        put(p("self_attn.k_proj.weight"), vec![KV * HD, HIDDEN], 0.2, 0.0);
        put(p("self_attn.v_proj.weight"), vec![KV * HD, HIDDEN], 0.1, 0.0);
        put(p("self_attn.o_proj.weight"), vec![HIDDEN, HEADS * HD], 0.1, 0.0);
        if arch == Arch::Qwen2 {
            put(p("self_attn.q_proj.bias"), vec![HEADS * HD], 0.3, 0.0);
            put(p("self_attn.k_proj.bias"), vec![KV * HD], 0.3, 0.0);
            put(p("self_attn.v_proj.bias"), vec![KV * HD], 0.3, 0.0);
        }
        if arch == Arch::Qwen3 {
            put(p("self_attn.q_norm.weight"), vec![HD], 0.1, 1.0);
            put(p("self_attn.k_norm.weight"), vec![HD], 0.1, 1.0);
        }
        put(p("post_attention_layernorm.weight"), vec![HIDDEN], 0.1, 1.0);
        put(p("mlp.gate_proj.weight"), vec![FF, HIDDEN], 0.1, 0.0);
        put(p("mlp.up_proj.weight"), vec![FF, HIDDEN], 0.1, 0.0);
        put(p("mlp.down_proj.weight"), vec![HIDDEN, FF], 0.07, 0.0);
    }
    put("model.norm.weight".into(), vec![HIDDEN], 0.1, 1.0);
    // The Hugging Face folder.
    let folder = dir.join(format!("{arch:?}-hf"));
    std::fs::create_dir_all(&folder).unwrap();
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = hf.iter().map(|(n, s, d)| (n.clone(), s.clone(), d.iter().flat_map(|x| x.to_le_bytes()).collect())).collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> =
        bytes.iter().map(|(n, s, b)| (n.clone(), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b).unwrap())).collect();
    safetensors::serialize_to_file(views, None, &folder.join("model.safetensors")).unwrap();
    let (archs, ty) = match arch {
        Arch::Llama => ("LlamaForCausalLM", "llama"),
        Arch::Qwen2 => ("Qwen2ForCausalLM", "qwen2"),
        Arch::Qwen3 => ("Qwen3ForCausalLM", "qwen3"),
    };
    let config = serde_json::json!({"architectures": [archs], "model_type": ty, "hidden_size": HIDDEN, "intermediate_size": FF,
        "num_hidden_layers": LAYERS, "num_attention_heads": HEADS, "num_key_value_heads": KV, "head_dim": HD, "vocab_size": v,
        "rope_theta": 10000.0, "rms_norm_eps": 1e-6, "max_position_embeddings": 2048, "tie_word_embeddings": true,
        "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32"});
    std::fs::write(folder.join("config.json"), config.to_string()).unwrap();
    std::fs::copy(smol.join("tokenizer.json"), folder.join("tokenizer.json")).unwrap();
    let tc = serde_json::json!({"chat_template": vocab.template, "bos_token": "<|im_start|>", "eos_token": "<|im_end|>"});
    std::fs::write(folder.join("tokenizer_config.json"), tc.to_string()).unwrap();
    // The GGUF of the same weights.
    let gname = |n: &str| -> String {
        let n = n.replace("model.embed_tokens.weight", "token_embd.weight").replace("model.norm.weight", "output_norm.weight").replace("model.layers.", "blk.");
        n.replace("input_layernorm", "attn_norm").replace("post_attention_layernorm", "ffn_norm").replace("self_attn.q_proj", "attn_q").replace("self_attn.k_proj", "attn_k")
            .replace("self_attn.v_proj", "attn_v").replace("self_attn.o_proj", "attn_output").replace("self_attn.q_norm", "attn_q_norm").replace("self_attn.k_norm", "attn_k_norm")
            .replace("mlp.gate_proj", "ffn_gate").replace("mlp.up_proj", "ffn_up").replace("mlp.down_proj", "ffn_down")
    };
    let permute = |d: &[f32], heads: usize| -> Vec<f32> {
        let mut out = vec![0f32; d.len()];
        for h in 0..heads {
            for i in 0..HD / 2 {
                for (dst, src) in [(2 * i, i), (2 * i + 1, i + HD / 2)] {
                    out[(h * HD + dst) * HIDDEN..(h * HD + dst + 1) * HIDDEN].copy_from_slice(&d[(h * HD + src) * HIDDEN..(h * HD + src + 1) * HIDDEN]);
                }
            }
        }
        out
    };
    let tensors: Vec<(String, QTensor)> = hf
        .iter()
        .map(|(n, s, d)| {
            let d = match (arch, n.contains("q_proj.weight"), n.contains("k_proj.weight")) {
                (Arch::Llama, true, _) => permute(d, HEADS),
                (Arch::Llama, _, true) => permute(d, KV),
                _ => d.clone(),
            };
            (gname(n), QTensor::quantize(&Tensor::from_vec(d, s.as_slice(), &Device::Cpu).unwrap(), GgmlDType::F32).unwrap())
        })
        .collect();
    let file = dir.join(format!("{arch:?}.gguf"));
    write_file(&file, ty, &vocab, &tensors);
    (folder, file)
}

#[test]
fn a_hugging_face_folder_converts_to_the_same_model_as_its_gguf() {
    let tmp = tempfile::tempdir().unwrap();
    let models = tmp.path().join("models");
    let tokens: Vec<u32> = vec![1, 504, 3537, 314, 260, 1345, 28, 2270, 45, 9];
    for arch in [Arch::Llama, Arch::Qwen2, Arch::Qwen3] {
        let (folder, file) = write_pair(tmp.path(), arch);
        let from_hf = add(&folder, &models, &format!("{arch:?}-hf").to_lowercase()).unwrap();
        let from_gguf = add(&file, &models, &format!("{arch:?}-gguf").to_lowercase()).unwrap();
        assert!(from_hf.source.starts_with("Hugging Face"), "{}", from_hf.source);
        let (a, b) = (kogi_logits(&from_hf.dir, &tokens), kogi_logits(&from_gguf.dir, &tokens));
        let worst = a.iter().flatten().zip(b.iter().flatten()).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        let scale = a.iter().flatten().fold(0f32, |m, x| m.max(x.abs()));
        println!("{arch:?}: Hugging Face folder vs GGUF, largest logit difference {worst:.5} (scale {scale:.2})");
        assert!(worst <= 1e-3 * scale, "{arch:?}: the two conversions differ by {worst}");
        // Both carry the same tokenizer: the folder's own, and one rebuilt from the GGUF's metadata.
        let tok = |d: &Path| tokenizers::Tokenizer::from_file(d.join("tokenizer.json")).unwrap();
        let text = "推論時に計算資源を増やす Inference Time Scaling, 2024年の o1 — 20倍のtoken数";
        assert_eq!(tok(&from_hf.dir).encode(text, false).unwrap().get_ids(), tok(&from_gguf.dir).encode(text, false).unwrap().get_ids());
    }
}

/// `file` split the way `llama-gguf-split` splits it: part 1 holds the metadata and the first
/// tensors, the rest hold only the split keys and their tensors.
fn split_gguf(file: &Path, parts: usize) -> Vec<PathBuf> {
    let mut f = std::fs::File::open(file).unwrap();
    let content = gguf_file::Content::read(&mut f).unwrap();
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let per = names.len().div_ceil(parts);
    let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
    let mut paths = Vec::new();
    for (i, chunk) in names.chunks(per).enumerate() {
        let tensors: Vec<(String, QTensor)> = chunk.iter().map(|n| ((*n).clone(), content.tensor(&mut f, n, &Device::Cpu).unwrap())).collect();
        let mut meta: Vec<(String, Value)> = vec![
            ("split.no".into(), Value::U16(i as u16)),
            ("split.count".into(), Value::U16(parts as u16)),
            ("split.tensors.count".into(), Value::I32(names.len() as i32)),
        ];
        if i == 0 {
            meta.extend(content.metadata.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let path = file.with_file_name(format!("{stem}-{:05}-of-{parts:05}.gguf", i + 1));
        let meta_refs: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
        gguf_file::write(&mut std::fs::File::create(&path).unwrap(), &meta_refs, &tensor_refs).unwrap();
        paths.push(path);
    }
    paths
}

#[test]
fn a_split_gguf_converts_from_any_part_and_a_missing_part_is_named() {
    let vocab = smollm2_vocab();
    let tmp = tempfile::tempdir().unwrap();
    let models = tmp.path().join("models");
    let whole = tmp.path().join("tiny.gguf");
    write_gguf(&whole, Arch::Qwen2, GgmlDType::Q4_0, &vocab, "qwen2");
    let parts = split_gguf(&whole, 3);
    let one = add(&whole, &models, "whole").unwrap();
    // Any part stands for the whole file: the same weights come out.
    let split = add(&parts[1], &models, "split").unwrap();
    let data = |d: &Path| std::fs::read(d.join("model.onnx.data")).unwrap();
    assert!(data(&one.dir) == data(&split.dir), "the split file converts to the same weights as the whole one");

    std::fs::remove_file(&parts[2]).unwrap();
    let e = add(&parts[0], &models, "incomplete").unwrap_err().to_string();
    assert!(e.contains("split into 3 files") && e.contains("tiny-00003-of-00003.gguf"), "{e}");
    let renamed = tmp.path().join("renamed.gguf");
    std::fs::rename(&parts[1], &renamed).unwrap();
    let e = add(&renamed, &models, "renamed").unwrap_err().to_string();
    assert!(e.contains("llama-gguf-split --merge"), "{e}");
    assert_eq!(leftovers(&models).len(), 2, "only the two good models: {:?}", leftovers(&models));
}

/// A small tmpfs at `dir`, unmounted on drop; `None` where mounting is not allowed.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_is_named_before_and_during_conversion_and_other_models_stay() {
    let vocab = smollm2_vocab();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("tiny.gguf");
    write_gguf(&file, Arch::Llama, GgmlDType::Q8_0, &vocab, "llama");
    let models = tmp.path().join("models");
    // The converted tiny model takes about 14 MB; kogi asks for that plus a 64 MB margin.
    let Some(_fs) = Tmpfs::mount(&models, "100m") else {
        // Mounting needs root (or CAP_SYS_ADMIN); CI and the dev machines run as root.
        panic!("cannot mount a tmpfs here (mount -t tmpfs needs root): this test needs it");
    };
    add(&file, &models, "first").unwrap();
    let first = std::fs::read(models.join("first/model.onnx.data")).unwrap();
    let filler = models.join("filler");
    let fill_leaving = |left: u64| {
        let free = fs4::available_space(&models).unwrap();
        let _ = std::fs::write(&filler, vec![0u8; free.saturating_sub(left) as usize]);
    };

    // Too little room from the start: refused before anything is written.
    fill_leaving(40 << 20);
    let e = add(&file, &models, "second").unwrap_err();
    assert!(matches!(e, Error::DiskFull { .. }) && e.to_string().contains("MB are free"), "{e}");
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(leftovers(&models), vec![models.join("first")]);

    // Room at the check, then the disk fills up mid-way (another program writing).
    let cancel = AtomicBool::new(false);
    let req = ConvertRequest { source: file.clone(), name: Some("second".into()), target: Target::Cpu };
    let mut filled = false;
    let e = convert(
        &req,
        &models,
        &mut |_, _, done, of| {
            if !filled && done * 3 >= of {
                filled = true;
                fill_leaving(64 << 10);
            }
        },
        &cancel,
    )
    .unwrap_err();
    assert!(matches!(e, Error::DiskFull { .. }) && e.to_string().contains("disk filled up"), "{e}");
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(leftovers(&models), vec![models.join("first")], "nothing half-written is left");
    assert_eq!(std::fs::read(models.join("first/model.onnx.data")).unwrap(), first, "the other model is untouched");
}
