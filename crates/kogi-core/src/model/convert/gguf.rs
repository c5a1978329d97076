//! GGUF files (LM Studio, Ollama, Jan, GPT4All) read with candle's GGUF reader: the header and
//! metadata at once, each tensor's bytes only when it is converted.

use super::source::{Arch, DecoderConfig, Llama3Scaling, Role, Source, TokenizerFiles, Weight};
use super::tokenizer::gguf_tokenizer;
use crate::{Error, Result};
use candle_core::quantized::GgmlDType;
use candle_core::quantized::gguf_file::{Content, TensorInfo, Value};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The tensor types kogi converts (everything else is refused by name).
const ACCEPTED: &str = "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K (files called Q4_K_M, Q5_K_M, Q6_K, Q8_0 …)";

pub struct Gguf {
    path: PathBuf,
    /// One file, or every part of a split GGUF (llama.cpp's `-00001-of-00003.gguf` naming) in order.
    parts: Vec<Part>,
    metadata: HashMap<String, Value>,
    /// Each tensor with the part it lives in.
    tensors: HashMap<String, (usize, TensorInfo)>,
    config: DecoderConfig,
}

struct Part {
    path: PathBuf,
    file: BufReader<File>,
    data_offset: u64,
}

fn bad(path: &Path, message: String) -> Error {
    Error::BadModelFile { path: path.to_owned(), message }
}

/// GGML type ids that candle does not read, by name (ggml.h).
fn ggml_type_name(id: u32) -> String {
    let names = [
        (16, "IQ2_XXS"), (17, "IQ2_XS"), (18, "IQ3_XXS"), (19, "IQ1_S"), (20, "IQ4_NL"), (21, "IQ3_S"), (22, "IQ2_S"),
        (23, "IQ4_XS"), (24, "I8"), (25, "I16"), (26, "I32"), (27, "I64"), (28, "F64"), (29, "IQ1_M"), (34, "TQ1_0"),
        (35, "TQ2_0"), (39, "MXFP4"),
    ];
    names.iter().find(|(i, _)| *i == id).map(|(_, n)| (*n).to_owned()).unwrap_or_else(|| format!("type {id}"))
}

fn int(v: &Value) -> Option<u64> {
    Some(match v {
        Value::U8(x) => *x as u64,
        Value::I8(x) => *x as u64,
        Value::U16(x) => *x as u64,
        Value::I16(x) => *x as u64,
        Value::U32(x) => *x as u64,
        Value::I32(x) => *x as u64,
        Value::U64(x) => *x,
        Value::I64(x) => *x as u64,
        _ => return None,
    })
}

fn float(v: &Value) -> Option<f32> {
    match v {
        Value::F32(x) => Some(*x),
        Value::F64(x) => Some(*x as f32),
        other => int(other).map(|x| x as f32),
    }
}

/// One GGUF file's header, metadata and tensor index.
fn read_part(path: &Path) -> Result<(Content, BufReader<File>)> {
    let io = |e: std::io::Error| Error::Io { path: path.to_owned(), message: e.to_string() };
    let mut file = BufReader::new(File::open(path).map_err(io)?);
    let mut magic = [0u8; 4];
    file.read_exact(&mut magic).map_err(|_| bad(path, "the file is too short to be a GGUF model".into()))?;
    if &magic != b"GGUF" {
        return Err(bad(path, "this is not a GGUF file (it does not start with \"GGUF\")".into()));
    }
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let content = Content::read(&mut file).map_err(|e| {
        let m = e.to_string();
        match m.strip_prefix("unknown dtype for tensor ").and_then(|n| n.trim().parse::<u32>().ok()) {
            Some(id) => bad(path, format!("the file holds {} tensors, which kogi cannot convert; kogi converts {ACCEPTED}", ggml_type_name(id))),
            None => bad(path, format!("the GGUF header cannot be read ({m}) — is the file complete?")),
        }
    })?;
    let end = content.tensor_infos.values().map(|t| content.tensor_data_offset + t.offset + size_of(t)).max().unwrap_or(0);
    let len = std::fs::metadata(path).map_err(io)?.len();
    if end > len {
        return Err(bad(path, format!("the file is truncated: its tensors need {end} bytes, it has {len}")));
    }
    Ok((content, file))
}

/// The paths of all parts of a split GGUF, given any one of them (`NAME-00002-of-00003.gguf`).
fn split_paths(path: &Path, count: u64) -> Result<Vec<PathBuf>> {
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = file_name.strip_suffix(".gguf").unwrap_or(&file_name);
    let parsed = stem.rsplit_once("-of-").and_then(|(head, total)| {
        let (prefix, no) = head.rsplit_once('-')?;
        (no.len() == 5 && total.len() == 5 && total.parse::<u64>().ok()? == count && no.parse::<u64>().is_ok()).then_some(prefix)
    });
    let Some(prefix) = parsed else {
        return Err(bad(
            path,
            format!(
                "this is one part of a GGUF split into {count} files, but its name is not llama.cpp's NAME-00001-of-{count:05}.gguf, \
                 so kogi cannot find the other parts; give the parts their original names, or merge them first (`llama-gguf-split --merge`)"
            ),
        ));
    };
    let paths: Vec<PathBuf> = (1..=count).map(|i| path.with_file_name(format!("{prefix}-{i:05}-of-{count:05}.gguf"))).collect();
    let missing: Vec<String> = paths.iter().filter(|p| !p.is_file()).filter_map(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).collect();
    if !missing.is_empty() {
        return Err(bad(
            path,
            format!(
                "this is one part of a GGUF split into {count} files, and {} {} not beside it; put all {count} parts in one folder and add any one of them",
                missing.join(", "),
                if missing.len() == 1 { "is" } else { "are" }
            ),
        ));
    }
    Ok(paths)
}

impl Gguf {
    pub fn open(path: &Path) -> Result<Self> {
        let (first, file) = read_part(path)?;
        let count = first.metadata.get("split.count").and_then(int).unwrap_or(1);
        let paths = if count > 1 { split_paths(path, count)? } else { vec![path.to_owned()] };
        let (mut parts, mut tensors, mut metadata) = (Vec::new(), HashMap::new(), HashMap::new());
        let mut first = Some((first, file));
        for (i, p) in paths.iter().enumerate() {
            let (content, file) = match (count, first.take()) {
                (1, Some(c)) => c,
                _ => read_part(p)?,
            };
            let no = content.metadata.get("split.no").and_then(int).unwrap_or(0);
            if count > 1 && no != i as u64 {
                return Err(bad(p, format!("this file says it is part {} of the split GGUF, but its name says part {}", no + 1, i + 1)));
            }
            for (name, info) in content.tensor_infos {
                tensors.insert(name, (i, info));
            }
            if i == 0 {
                metadata = content.metadata;
            }
            parts.push(Part { path: p.clone(), file, data_offset: content.tensor_data_offset });
        }
        if let Some(n) = metadata.get("split.tensors.count").and_then(int)
            && n != tensors.len() as u64
        {
            return Err(bad(path, format!("the split GGUF should hold {n} tensors, its parts hold {}; is a part damaged?", tensors.len())));
        }
        let path = &paths[0];
        let meta = &metadata;
        let arch_name = meta.get("general.architecture").and_then(|v| v.to_string().ok()).cloned().unwrap_or_default();
        let arch = match arch_name.as_str() {
            "llama" => Arch::Llama,
            "qwen2" => Arch::Qwen2,
            "qwen3" => Arch::Qwen3,
            other => {
                return Err(bad(
                    path,
                    format!("its architecture is {other:?}; kogi converts Llama-architecture models (Llama 3, Swallow, ELYZA, Mistral …), Qwen2 (Qwen2.5, TinySwallow) and Qwen3"),
                ));
            }
        };
        for (name, (_, info)) in &tensors {
            if matches!(info.ggml_dtype, GgmlDType::Q2K | GgmlDType::Q3K | GgmlDType::Q8_1 | GgmlDType::Q8K) {
                return Err(bad(path, format!("tensor {name} is {:?}, which kogi does not convert; kogi converts {ACCEPTED}", info.ggml_dtype)));
            }
        }
        let a = arch.name();
        let get = |k: &str| meta.get(&format!("{a}.{k}"));
        let need = |k: &str| get(k).and_then(int).map(|v| v as usize).ok_or_else(|| bad(path, format!("the metadata lacks {a}.{k}")));
        let hidden = need("embedding_length")?;
        let heads = need("attention.head_count")?;
        let vocab = match get("vocab_size").and_then(int) {
            Some(v) => v as usize,
            None => meta.get("tokenizer.ggml.tokens").and_then(|v| v.to_vec().ok()).map(|v| v.len()).ok_or_else(|| bad(path, "the file has no vocabulary".into()))?,
        };
        let llama3_scaling = match get("rope.scaling.type").and_then(|v| v.to_string().ok()).map(String::as_str) {
            Some("llama3") => Some(Llama3Scaling {
                factor: get("rope.scaling.factor").and_then(float).unwrap_or(8.0),
                low_freq_factor: get("rope.scaling.low_freq_factor").and_then(float).unwrap_or(1.0),
                high_freq_factor: get("rope.scaling.high_freq_factor").and_then(float).unwrap_or(4.0),
                original_context: get("rope.scaling.original_context_length").and_then(int).unwrap_or(8192) as usize,
            }),
            _ => None,
        };
        let config = DecoderConfig {
            arch,
            layers: need("block_count")?,
            hidden,
            heads,
            kv_heads: get("attention.head_count_kv").and_then(int).map(|v| v as usize).unwrap_or(heads),
            head_dim: get("attention.key_length").and_then(int).map(|v| v as usize).unwrap_or(hidden / heads.max(1)),
            intermediate: need("feed_forward_length")?,
            vocab,
            rope_theta: get("rope.freq_base").and_then(float).unwrap_or(10000.0),
            llama3_scaling,
            rms_eps: get("attention.layer_norm_rms_epsilon").and_then(float).unwrap_or(1e-6),
            context: get("context_length").and_then(int).map(|v| v as usize).unwrap_or(4096),
            // convert_hf_to_gguf permutes Llama's Q and K rows so that rotary pairs sit side by side.
            rotary_interleaved: arch == Arch::Llama,
        };
        let g = Gguf { path: path.to_owned(), parts, metadata, tensors, config };
        // Every weight the graph needs must be there, with the shape the metadata implies.
        for role in super::decoder::required_roles(&g.config, g.has(Role::LmHead)) {
            if !g.has(role) {
                return Err(bad(path, format!("the file lacks the tensor {} — is it complete?", tensor_name(role))));
            }
        }
        Ok(g)
    }

    fn meta_str(&self, k: &str) -> Option<&str> {
        self.metadata.get(k).and_then(|v| v.to_string().ok()).map(String::as_str)
    }
}

fn size_of(t: &TensorInfo) -> u64 {
    (t.shape.elem_count() / t.ggml_dtype.block_size() * t.ggml_dtype.type_size()) as u64
}

/// GGUF's name for a weight.
pub fn tensor_name(role: Role) -> String {
    match role {
        Role::Embedding => "token_embd.weight".into(),
        Role::LmHead => "output.weight".into(),
        Role::FinalNorm => "output_norm.weight".into(),
        Role::AttnNorm(i) => format!("blk.{i}.attn_norm.weight"),
        Role::Q(i) => format!("blk.{i}.attn_q.weight"),
        Role::K(i) => format!("blk.{i}.attn_k.weight"),
        Role::V(i) => format!("blk.{i}.attn_v.weight"),
        Role::O(i) => format!("blk.{i}.attn_output.weight"),
        Role::QBias(i) => format!("blk.{i}.attn_q.bias"),
        Role::KBias(i) => format!("blk.{i}.attn_k.bias"),
        Role::VBias(i) => format!("blk.{i}.attn_v.bias"),
        Role::QNorm(i) => format!("blk.{i}.attn_q_norm.weight"),
        Role::KNorm(i) => format!("blk.{i}.attn_k_norm.weight"),
        Role::FfnNorm(i) => format!("blk.{i}.ffn_norm.weight"),
        Role::Gate(i) => format!("blk.{i}.ffn_gate.weight"),
        Role::Up(i) => format!("blk.{i}.ffn_up.weight"),
        Role::Down(i) => format!("blk.{i}.ffn_down.weight"),
    }
}

/// The `general.file_type` names llama.cpp gives its files.
fn file_type_name(t: u64) -> &'static str {
    match t {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        32 => "BF16",
        _ => "mixed",
    }
}

impl Source for Gguf {
    fn config(&self) -> &DecoderConfig {
        &self.config
    }

    fn describe(&self) -> String {
        let ft = self.metadata.get("general.file_type").and_then(int).map(file_type_name).unwrap_or("mixed");
        format!("GGUF {ft}")
    }

    fn name(&self) -> String {
        self.meta_str("general.name")
            .map(str::to_owned)
            .unwrap_or_else(|| self.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into()))
    }

    fn has(&self, role: Role) -> bool {
        self.tensors.contains_key(&tensor_name(role))
    }

    fn weight(&mut self, role: Role) -> Result<Option<Weight>> {
        let name = tensor_name(role);
        let Some((part, info)) = self.tensors.get(&name) else { return Ok(None) };
        let part = &mut self.parts[*part];
        let dims = info.shape.dims().to_vec();
        let io = |e: std::io::Error| Error::Io { path: part.path.clone(), message: e.to_string() };
        let mut bytes = vec![0u8; size_of(info) as usize];
        part.file.seek(SeekFrom::Start(part.data_offset + info.offset)).map_err(io)?;
        part.file.read_exact(&mut bytes).map_err(io)?;
        let (rows, cols) = match dims.as_slice() {
            [n] => (1, *n),
            [r, c] => (*r, *c),
            _ => return Err(bad(&self.path, format!("tensor {name} has shape {dims:?}"))),
        };
        let float = |data: Vec<f32>, dtype| Weight::Float { shape: dims.clone(), data, dtype };
        Ok(Some(match info.ggml_dtype {
            GgmlDType::F32 => float(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(), "F32"),
            GgmlDType::F16 => float(bytes.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(), "F16"),
            GgmlDType::BF16 => float(bytes.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(), "BF16"),
            dtype => Weight::Blocks { dtype, rows, cols, bytes },
        }))
    }

    fn rope_factors(&mut self) -> Result<Option<Vec<f32>>> {
        let Some((part, info)) = self.tensors.get("rope_freqs.weight") else { return Ok(None) };
        let part = &mut self.parts[*part];
        let t = info
            .read(&mut part.file, part.data_offset, &candle_core::Device::Cpu)
            .and_then(|q| q.dequantize(&candle_core::Device::Cpu))
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| bad(&self.path, format!("rope_freqs.weight cannot be read: {e}")))?;
        Ok(Some(t))
    }

    fn tokenizer(&self) -> Result<TokenizerFiles> {
        gguf_tokenizer(&self.metadata, &self.path)
    }

    fn weight_bytes(&self) -> u64 {
        self.tensors.values().map(|(_, t)| size_of(t)).sum()
    }
}
