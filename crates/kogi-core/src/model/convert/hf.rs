//! Hugging Face folders (`config.json`, one or several `*.safetensors`, `tokenizer.json`,
//! `tokenizer_config.json`), read with the `safetensors` crate over memory maps: a tensor's bytes
//! are touched only when it is converted.

use super::source::{Arch, DecoderConfig, Llama3Scaling, Role, Source, TokenizerFiles, Weight};
use crate::{Error, Result};
use memmap2::Mmap;
use safetensors::{Dtype, SafeTensors};
use serde_json::Value as Json;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

pub struct HfFolder {
    dir: PathBuf,
    config: DecoderConfig,
    /// Tensor name → shard.
    index: HashMap<String, usize>,
    shards: Vec<Mmap>,
    raw_config: Json,
    tied: bool,
}

fn bad(path: &Path, message: String) -> Error {
    Error::BadModelFile { path: path.to_owned(), message }
}

fn read_json(path: &Path) -> Result<Json> {
    let text = std::fs::read_to_string(path).map_err(|e| bad(path, format!("cannot be read: {e}")))?;
    serde_json::from_str(&text).map_err(|e| bad(path, format!("is not valid JSON: {e}")))
}

fn tensor_name(role: Role) -> String {
    let l = |i: usize, s: &str| format!("model.layers.{i}.{s}");
    match role {
        Role::Embedding => "model.embed_tokens.weight".into(),
        Role::LmHead => "lm_head.weight".into(),
        Role::FinalNorm => "model.norm.weight".into(),
        Role::AttnNorm(i) => l(i, "input_layernorm.weight"),
        Role::Q(i) => l(i, "self_attn.q_proj.weight"),
        Role::K(i) => l(i, "self_attn.k_proj.weight"),
        Role::V(i) => l(i, "self_attn.v_proj.weight"),
        Role::O(i) => l(i, "self_attn.o_proj.weight"),
        Role::QBias(i) => l(i, "self_attn.q_proj.bias"),
        Role::KBias(i) => l(i, "self_attn.k_proj.bias"),
        Role::VBias(i) => l(i, "self_attn.v_proj.bias"),
        Role::QNorm(i) => l(i, "self_attn.q_norm.weight"),
        Role::KNorm(i) => l(i, "self_attn.k_norm.weight"),
        Role::FfnNorm(i) => l(i, "post_attention_layernorm.weight"),
        Role::Gate(i) => l(i, "mlp.gate_proj.weight"),
        Role::Up(i) => l(i, "mlp.up_proj.weight"),
        Role::Down(i) => l(i, "mlp.down_proj.weight"),
    }
}

impl HfFolder {
    pub fn open(dir: &Path) -> Result<Self> {
        let cfg_path = dir.join("config.json");
        if !cfg_path.is_file() {
            return Err(bad(dir, "this folder has no config.json — is it a Hugging Face model folder?".into()));
        }
        let c = read_json(&cfg_path)?;
        let archs: Vec<&str> = c["architectures"].as_array().map(|a| a.iter().filter_map(Json::as_str).collect()).unwrap_or_default();
        let arch = match archs.first().copied() {
            Some("LlamaForCausalLM" | "MistralForCausalLM") => Arch::Llama,
            Some("Qwen2ForCausalLM") => Arch::Qwen2,
            Some("Qwen3ForCausalLM") => Arch::Qwen3,
            other => {
                return Err(bad(
                    &cfg_path,
                    format!("the model is {}; kogi converts LlamaForCausalLM, Qwen2ForCausalLM and Qwen3ForCausalLM", other.unwrap_or("of no named architecture")),
                ));
            }
        };
        for f in ["tokenizer.json"] {
            if !dir.join(f).is_file() {
                return Err(bad(dir, format!("the folder has no {f}; kogi needs the model's own tokenizer")));
            }
        }
        let num = |k: &str| c[k].as_u64().map(|v| v as usize);
        let need = |k: &str| num(k).ok_or_else(|| bad(&cfg_path, format!("config.json lacks {k}")));
        let (hidden, heads) = (need("hidden_size")?, need("num_attention_heads")?);
        let scaling = c["rope_scaling"].as_object().and_then(|s| {
            let kind = s.get("rope_type").or_else(|| s.get("type")).and_then(Json::as_str)?;
            (kind == "llama3").then(|| Llama3Scaling {
                factor: s.get("factor").and_then(Json::as_f64).unwrap_or(8.0) as f32,
                low_freq_factor: s.get("low_freq_factor").and_then(Json::as_f64).unwrap_or(1.0) as f32,
                high_freq_factor: s.get("high_freq_factor").and_then(Json::as_f64).unwrap_or(4.0) as f32,
                original_context: s.get("original_max_position_embeddings").and_then(Json::as_u64).unwrap_or(8192) as usize,
            })
        });
        let config = DecoderConfig {
            arch,
            layers: need("num_hidden_layers")?,
            hidden,
            heads,
            kv_heads: num("num_key_value_heads").unwrap_or(heads),
            head_dim: num("head_dim").unwrap_or(hidden / heads.max(1)),
            intermediate: need("intermediate_size")?,
            vocab: need("vocab_size")?,
            rope_theta: c["rope_theta"].as_f64().unwrap_or(10000.0) as f32,
            llama3_scaling: scaling,
            rms_eps: c["rms_norm_eps"].as_f64().unwrap_or(1e-6) as f32,
            context: num("max_position_embeddings").unwrap_or(4096),
            rotary_interleaved: false,
        };
        // Shards: the index when there is one, else every *.safetensors file.
        let index_path = dir.join("model.safetensors.index.json");
        let files: Vec<String> = if index_path.is_file() {
            let idx = read_json(&index_path)?;
            let mut f: Vec<String> = idx["weight_map"].as_object().map(|m| m.values().filter_map(Json::as_str).map(str::to_owned).collect()).unwrap_or_default();
            f.sort();
            f.dedup();
            f
        } else {
            let mut f: Vec<String> = std::fs::read_dir(dir)
                .map_err(|e| bad(dir, e.to_string()))?
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".safetensors"))
                .collect();
            f.sort();
            f
        };
        if files.is_empty() {
            return Err(bad(dir, "the folder has no .safetensors weights".into()));
        }
        let mut shards = Vec::new();
        let mut index = HashMap::new();
        for (i, name) in files.iter().enumerate() {
            let p = dir.join(name);
            let file = File::open(&p).map_err(|e| bad(&p, format!("missing or unreadable shard: {e}")))?;
            // SAFETY: the file is only read, and kogi does not write to a user's model folder.
            let map = unsafe { Mmap::map(&file) }.map_err(|e| bad(&p, e.to_string()))?;
            let st = SafeTensors::deserialize(&map).map_err(|e| bad(&p, format!("is not a readable safetensors file ({e}) — is it complete?")))?;
            for n in st.names() {
                index.insert(n.to_string(), i);
            }
            drop(st);
            shards.push(map);
        }
        let tied = c["tie_word_embeddings"].as_bool().unwrap_or(false) || !index.contains_key("lm_head.weight");
        let f = HfFolder { dir: dir.to_owned(), config, index, shards, raw_config: c, tied };
        for role in super::decoder::required_roles(&f.config, !f.tied) {
            if !f.has(role) {
                return Err(bad(dir, format!("the weights lack {} — is a shard missing?", tensor_name(role))));
            }
        }
        Ok(f)
    }
}

impl Source for HfFolder {
    fn config(&self) -> &DecoderConfig {
        &self.config
    }

    fn describe(&self) -> String {
        format!("Hugging Face folder, {}", self.raw_config["torch_dtype"].as_str().or(self.raw_config["dtype"].as_str()).unwrap_or("float"))
    }

    fn name(&self) -> String {
        self.dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into())
    }

    fn has(&self, role: Role) -> bool {
        !(role == Role::LmHead && self.tied) && self.index.contains_key(&tensor_name(role))
    }

    fn weight(&mut self, role: Role) -> Result<Option<Weight>> {
        if !self.has(role) {
            return Ok(None);
        }
        let name = tensor_name(role);
        let shard = &self.shards[self.index[&name]];
        let st = SafeTensors::deserialize(shard).map_err(|e| bad(&self.dir, e.to_string()))?;
        let t = st.tensor(&name).map_err(|e| bad(&self.dir, format!("{name}: {e}")))?;
        let b = t.data();
        let (data, dtype): (Vec<f32>, &'static str) = match t.dtype() {
            Dtype::F32 => (b.chunks_exact(4).map(|x| f32::from_le_bytes([x[0], x[1], x[2], x[3]])).collect(), "F32"),
            Dtype::F16 => (b.chunks_exact(2).map(|x| half::f16::from_le_bytes([x[0], x[1]]).to_f32()).collect(), "F16"),
            Dtype::BF16 => (b.chunks_exact(2).map(|x| half::bf16::from_le_bytes([x[0], x[1]]).to_f32()).collect(), "BF16"),
            other => return Err(bad(&self.dir, format!("{name} is {other:?}; kogi converts bf16, fp16 and fp32 weights"))),
        };
        Ok(Some(Weight::Float { shape: t.shape().to_vec(), data, dtype }))
    }

    fn rope_factors(&mut self) -> Result<Option<Vec<f32>>> {
        Ok(None)
    }

    fn tokenizer(&self) -> Result<TokenizerFiles> {
        let tokenizer_json = std::fs::read_to_string(self.dir.join("tokenizer.json")).map_err(|e| bad(&self.dir, e.to_string()))?;
        let tc = self.dir.join("tokenizer_config.json");
        let tc = if tc.is_file() { read_json(&tc)? } else { Json::Null };
        let template_file = self.dir.join("chat_template.jinja");
        let chat_template = match tc["chat_template"].as_str() {
            Some(t) => Some(t.to_owned()),
            None if template_file.is_file() => std::fs::read_to_string(&template_file).ok(),
            None => None,
        };
        let tok_text = |v: &Json| v.as_str().map(str::to_owned).or_else(|| v["content"].as_str().map(str::to_owned));
        let vocab: Json = serde_json::from_str(&tokenizer_json).map_err(|e| bad(&self.dir, format!("tokenizer.json is not valid JSON: {e}")))?;
        let id_of = |t: &str| -> Option<u32> {
            vocab["added_tokens"].as_array().and_then(|a| a.iter().find(|x| x["content"] == t)).and_then(|x| x["id"].as_u64()).map(|x| x as u32).or_else(|| vocab["model"]["vocab"][t].as_u64().map(|x| x as u32))
        };
        let generation = self.dir.join("generation_config.json");
        let generation = if generation.is_file() { read_json(&generation)? } else { Json::Null };
        let ids = |v: &Json| -> Vec<u32> {
            match v {
                Json::Number(n) => n.as_u64().map(|x| vec![x as u32]).unwrap_or_default(),
                Json::Array(a) => a.iter().filter_map(Json::as_u64).map(|x| x as u32).collect(),
                _ => Vec::new(),
            }
        };
        let mut eos_ids = ids(&generation["eos_token_id"]);
        for x in ids(&self.raw_config["eos_token_id"]) {
            if !eos_ids.contains(&x) {
                eos_ids.push(x);
            }
        }
        let eos_token = tok_text(&tc["eos_token"]);
        if let Some(i) = eos_token.as_deref().and_then(id_of)
            && !eos_ids.contains(&i)
        {
            eos_ids.push(i);
        }
        let end_of_turn = ["<|im_end|>", "<|eot_id|>", "<end_of_turn>"]
            .iter()
            .find(|t| chat_template.as_deref().is_some_and(|c| c.contains(**t)))
            .map(|t| (*t).to_owned())
            .or_else(|| eos_token.clone());
        if let Some(i) = end_of_turn.as_deref().and_then(id_of)
            && !eos_ids.contains(&i)
        {
            eos_ids.push(i);
        }
        let bos_token = tok_text(&tc["bos_token"]);
        let bos_token_id = self.raw_config["bos_token_id"].as_u64().map(|x| x as u32).or_else(|| bos_token.as_deref().and_then(id_of));
        Ok(TokenizerFiles { tokenizer_json, chat_template, bos_token_id, eos_token_ids: eos_ids, end_of_turn, bos_token, eos_token })
    }

    fn weight_bytes(&self) -> u64 {
        self.shards.iter().map(|m| m.len() as u64).sum()
    }
}
