//! What a converter needs from a model file or folder, whatever its format: the decoder's shape,
//! its weights by role, and its tokenizer and chat template.

use crate::Result;
use candle_core::quantized::GgmlDType;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Llama,
    Qwen2,
    Qwen3,
}

impl Arch {
    pub fn name(self) -> &'static str {
        match self {
            Arch::Llama => "llama",
            Arch::Qwen2 => "qwen2",
            Arch::Qwen3 => "qwen3",
        }
    }
}

/// Llama 3.1's stretch of the rotary frequencies for long contexts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Llama3Scaling {
    pub factor: f32,
    pub low_freq_factor: f32,
    pub high_freq_factor: f32,
    pub original_context: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DecoderConfig {
    pub arch: Arch,
    pub layers: usize,
    pub hidden: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub intermediate: usize,
    pub vocab: usize,
    pub rope_theta: f32,
    pub llama3_scaling: Option<Llama3Scaling>,
    pub rms_eps: f32,
    /// The model's own context length.
    pub context: usize,
    /// Q and K rows are in llama.cpp's order (pairs adjacent), so rotary embedding is interleaved.
    pub rotary_interleaved: bool,
}

impl DecoderConfig {
    /// Rotary inverse frequencies, `head_dim / 2` of them, Llama 3 scaling or per-frequency
    /// factors (GGUF's `rope_freqs`) applied.
    pub fn inv_freq(&self, factors: Option<&[f32]>) -> Vec<f32> {
        let d = self.head_dim as f64;
        (0..self.head_dim / 2)
            .map(|i| {
                let mut f = 1.0 / (self.rope_theta as f64).powf(2.0 * i as f64 / d);
                if let Some(fs) = factors {
                    f /= fs[i] as f64;
                } else if let Some(s) = self.llama3_scaling {
                    let low_wavelen = s.original_context as f64 / s.low_freq_factor as f64;
                    let high_wavelen = s.original_context as f64 / s.high_freq_factor as f64;
                    let wavelen = 2.0 * std::f64::consts::PI / f;
                    if wavelen > low_wavelen {
                        f /= s.factor as f64;
                    } else if wavelen >= high_wavelen {
                        let smooth = (s.original_context as f64 / wavelen - s.low_freq_factor as f64)
                            / (s.high_freq_factor as f64 - s.low_freq_factor as f64);
                        f = (1.0 - smooth) * f / s.factor as f64 + smooth * f;
                    }
                }
                f as f32
            })
            .collect()
    }

    /// Parameters in the weights (embedding counted once).
    pub fn parameters(&self, tied: bool) -> u64 {
        let (h, kv, i) = (self.hidden as u64, (self.kv_heads * self.head_dim) as u64, self.intermediate as u64);
        let q = (self.heads * self.head_dim) as u64;
        let layer = h * q + 2 * h * kv + q * h + 3 * h * i + 2 * h;
        let emb = self.vocab as u64 * h;
        self.layers as u64 * layer + emb * if tied { 1 } else { 2 } + h
    }
}

/// A weight's role in the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Embedding,
    /// The output projection (absent when tied to the embedding).
    LmHead,
    FinalNorm,
    AttnNorm(usize),
    Q(usize),
    K(usize),
    V(usize),
    O(usize),
    QBias(usize),
    KBias(usize),
    VBias(usize),
    QNorm(usize),
    KNorm(usize),
    FfnNorm(usize),
    Gate(usize),
    Up(usize),
    Down(usize),
}

/// A weight as the source holds it. Matrices are `[out][in]`, row-major.
pub enum Weight {
    Float { shape: Vec<usize>, data: Vec<f32>, dtype: &'static str },
    Blocks { dtype: GgmlDType, rows: usize, cols: usize, bytes: Vec<u8> },
}

impl Weight {
    pub fn shape(&self) -> Vec<usize> {
        match self {
            Weight::Float { shape, .. } => shape.clone(),
            Weight::Blocks { rows, cols, .. } => vec![*rows, *cols],
        }
    }

    /// The values as floats (blocks dequantised).
    pub fn into_floats(self) -> Result<Vec<f32>> {
        match self {
            Weight::Float { data, .. } => Ok(data),
            Weight::Blocks { dtype, rows, cols, bytes } => Ok(super::blocks::from_ggml(dtype, rows, cols, &bytes)?.dequantize()),
        }
    }

    pub fn type_name(&self) -> String {
        match self {
            Weight::Float { dtype, .. } => (*dtype).to_owned(),
            Weight::Blocks { dtype, .. } => format!("{dtype:?}").replace("K", "_K"),
        }
    }
}

/// The tokenizer and chat conventions, as kogi's model folder holds them.
#[derive(Debug, Clone)]
pub struct TokenizerFiles {
    /// A `tokenizer.json` the `tokenizers` crate loads.
    pub tokenizer_json: String,
    pub chat_template: Option<String>,
    pub bos_token_id: Option<u32>,
    pub eos_token_ids: Vec<u32>,
    /// The text of the token that ends an assistant turn.
    pub end_of_turn: Option<String>,
    pub bos_token: Option<String>,
    pub eos_token: Option<String>,
}

/// A model file or folder being converted.
pub trait Source {
    fn config(&self) -> &DecoderConfig;
    /// What the source is, in words ("GGUF Q4_K_M", "Hugging Face folder, bf16").
    fn describe(&self) -> String;
    fn name(&self) -> String;
    fn has(&self, role: Role) -> bool;
    /// Read one weight (`None` when the model has no such weight).
    fn weight(&mut self, role: Role) -> Result<Option<Weight>>;
    /// GGUF's per-frequency rotary factors (Llama 3.1 files carry them).
    fn rope_factors(&mut self) -> Result<Option<Vec<f32>>>;
    fn tokenizer(&self) -> Result<TokenizerFiles>;
    /// Bytes of weights to read, for progress.
    fn weight_bytes(&self) -> u64;
}
