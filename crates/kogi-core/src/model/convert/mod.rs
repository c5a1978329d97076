//! Bringing the model a person already has into kogi: a GGUF file or a Hugging Face folder
//! (Llama, Qwen2, Qwen3) converted into kogi's ONNX decoder layout with its tokenizer, chat
//! template and manifest, in the models folder. Written in a staging folder beside the models and
//! renamed into place at the end: a cancelled or failed conversion leaves nothing behind.

pub mod blocks;
pub mod decoder;
pub mod gguf;
pub mod hf;
pub mod source;
pub mod tokenizer;

pub use decoder::{Built, LOGITS_FROM, Target};
pub use source::Arch;

use crate::model::fit::{languages_from_measurement, tokens_per_japanese_char};
use crate::{Error, Result};
use serde::Serialize;
use serde_json::json;
use source::Source;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// A model file or folder to add.
#[derive(Debug, Clone)]
pub struct ConvertRequest {
    pub source: PathBuf,
    /// The folder name in the models folder (from the model's own name when `None`).
    pub name: Option<String>,
    pub target: Target,
}

/// A model added.
#[derive(Debug, Clone, Serialize)]
pub struct Converted {
    pub name: String,
    pub dir: PathBuf,
    pub architecture: Arch,
    pub parameters: u64,
    /// What the source was ("GGUF Q4_K_M").
    pub source: String,
    pub target: Target,
    pub built: Built,
    pub tokens_per_ja_char: Option<f32>,
    pub languages: Vec<String>,
    pub bytes: u64,
    pub seconds: f64,
}

/// Opens a GGUF file or a Hugging Face folder.
pub fn open_source(path: &Path) -> Result<Box<dyn Source>> {
    let meta = std::fs::metadata(path).map_err(|_| Error::NotFound { path: path.to_owned() })?;
    if meta.is_dir() {
        Ok(Box::new(hf::HfFolder::open(path)?))
    } else if meta.is_file() {
        Ok(Box::new(gguf::Gguf::open(path)?))
    } else {
        Err(Error::BadModelFile { path: path.to_owned(), message: "not a regular file or folder".into() })
    }
}

/// A folder name from a model's name: lower case, letters, digits, `.`, `_` and `-`.
pub fn folder_name(name: &str) -> String {
    let mut out: String = name
        .trim()
        .chars()
        .map(|c| if c.is_alphanumeric() || matches!(c, '.' | '_' | '-') { c.to_ascii_lowercase() } else { '-' })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    let out = out.trim_matches(|c| c == '-' || c == '.').to_owned();
    if out.is_empty() { "model".into() } else { out }
}

fn sha256_file(path: &Path) -> Result<String> {
    crate::inference::manifest::sha256_file(path).map_err(|e| Error::Io { path: path.to_owned(), message: e.to_string() })
}

/// Removes the staging folder unless the conversion finished.
struct Staging(Option<PathBuf>);

/// Held (locked) by the conversion writing a staging folder: a folder whose lock can be taken
/// belongs to a conversion that was killed, and is removed by the next one.
const STAGING_LOCK: &str = ".converting.lock";

/// Remove the staging folders of conversions that died (killed, crashed, power cut).
fn remove_abandoned_staging(models_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(models_dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if !(p.is_dir() && p.extension().is_some_and(|x| x == "part")) {
            continue;
        }
        let abandoned = match std::fs::OpenOptions::new().write(true).open(p.join(STAGING_LOCK)) {
            Ok(f) => f.try_lock().is_ok(),
            // No lock file: killed before it was made.
            Err(_) => true,
        };
        if abandoned {
            tracing::info!(path = %p.display(), "removing the staging folder of a conversion that did not finish");
            let _ = std::fs::remove_dir_all(&p);
        }
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

/// Bytes the converted model will take, with room to spare.
fn needed_bytes(src: &dyn Source, target: Target) -> u64 {
    let cfg = src.config();
    let params = cfg.parameters(!src.has(source::Role::LmHead));
    let weights = match target {
        // Blocks are kept as they are, floats become 8-bit; minimums add about 1 bit a weight.
        Target::Cpu | Target::CpuFast => src.weight_bytes().min(params) + params / 8,
        Target::Cuda => params * 2,
        // Half a byte a weight and its scales; embeddings and 8-bit sources stay fp16.
        Target::CudaInt4 => src.weight_bytes().min(params * 2) + params / 4,
    };
    weights + weights / 10 + (64 << 20)
}

/// Convert `req.source` into `models_dir/<name>`. `on_progress(bytes read, of bytes, weights done,
/// of weights)`; `cancel` is checked between weights.
pub fn convert(req: &ConvertRequest, models_dir: &Path, on_progress: &mut decoder::OnProgress, cancel: &AtomicBool) -> Result<Converted> {
    let started = Instant::now();
    let mut src = open_source(&req.source)?;
    let tok = src.tokenizer()?;
    let Some(template) = tok.chat_template.clone() else {
        return Err(Error::BadModelFile {
            path: req.source.clone(),
            message: "the model has no chat template — kogi needs an instruct (chat) model, not a base model".into(),
        });
    };
    let name = folder_name(req.name.as_deref().unwrap_or(&src.name()));
    std::fs::create_dir_all(models_dir).map_err(|e| Error::Io { path: models_dir.to_owned(), message: e.to_string() })?;
    let dir = models_dir.join(&name);
    if dir.exists() {
        return Err(Error::Invalid(format!("a model named {name:?} is installed already — remove it first or give the new one another name")));
    }
    let need = needed_bytes(src.as_ref(), req.target);
    if let Ok(free) = fs4::available_space(models_dir)
        && free < need
    {
        return Err(Error::DiskFull {
            path: models_dir.to_owned(),
            message: format!("the model needs about {} MB and {} MB are free", need >> 20, free >> 20),
        });
    }
    remove_abandoned_staging(models_dir);
    let staging_dir = models_dir.join(format!("{name}.{}.part", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging_dir);
    std::fs::create_dir_all(&staging_dir).map_err(|e| write_error(&staging_dir, e))?;
    let mut staging = Staging(Some(staging_dir.clone()));
    let lock_path = staging_dir.join(STAGING_LOCK);
    let lock = std::fs::File::create(&lock_path).map_err(|e| write_error(&lock_path, e))?;
    lock.lock().map_err(|e| write_error(&lock_path, e))?;

    let built = decoder::build(src.as_mut(), req.target, &staging_dir, on_progress, cancel)?;
    let cfg = src.config().clone();
    let write = |file: &str, text: &str| -> Result<()> {
        let p = staging_dir.join(file);
        std::fs::write(&p, text).map_err(|e| write_error(&p, e))
    };
    write("tokenizer.json", &tok.tokenizer_json)?;
    let loads = tokenizers::Tokenizer::from_file(staging_dir.join("tokenizer.json"));
    if let Err(e) = loads {
        return Err(Error::BadModelFile { path: req.source.clone(), message: format!("its tokenizer cannot be rebuilt ({e})") });
    }
    write("chat_template.jinja", &template)?;
    let tc = json!({"chat_template": template, "bos_token": tok.bos_token, "eos_token": tok.eos_token, "model_max_length": built.context});
    write("tokenizer_config.json", &serde_json::to_string_pretty(&tc).expect("json"))?;
    let eos: serde_json::Value = if tok.eos_token_ids.len() == 1 { json!(tok.eos_token_ids[0]) } else { json!(tok.eos_token_ids) };
    let genai = json!({
        "model": {
            "bos_token_id": tok.bos_token_id,
            "context_length": built.context,
            "decoder": {
                "session_options": {"log_id": "onnxruntime-genai", "provider_options": []},
                "filename": "model.onnx",
                "head_size": cfg.head_dim,
                "hidden_size": cfg.hidden,
                "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask",
                           "past_key_names": "past_key_values.%d.key", "past_value_names": "past_key_values.%d.value"},
                "outputs": {"logits": "logits", "present_key_names": "present.%d.key", "present_value_names": "present.%d.value"},
                "num_attention_heads": cfg.heads,
                "num_hidden_layers": cfg.layers,
                "num_key_value_heads": cfg.kv_heads
            },
            "eos_token_id": eos,
            "pad_token_id": tok.eos_token_ids.first(),
            "type": cfg.arch.name(),
            "vocab_size": cfg.vocab
        },
        "search": {"do_sample": false, "max_length": built.context, "num_beams": 1, "past_present_share_buffer": true}
    });
    write("genai_config.json", &serde_json::to_string_pretty(&genai).expect("json"))?;
    let per_char = tokens_per_japanese_char(&staging_dir.join("tokenizer.json")).ok();
    let languages = per_char.map(languages_from_measurement).unwrap_or_default();
    let files = ["model.onnx", "model.onnx.data", "genai_config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"];
    let mut sha = serde_json::Map::new();
    let mut bytes = 0;
    for f in files {
        let p = staging_dir.join(f);
        bytes += std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        sha.insert(f.into(), json!(sha256_file(&p)?));
    }
    let source_meta = std::fs::metadata(&req.source).ok();
    let manifest = json!({
        "name": name,
        "kind": "chat",
        "layout": "genai",
        "files": {"model": "model.onnx", "model_data": "model.onnx.data", "genai_config": "genai_config.json",
                  "tokenizer": "tokenizer.json", "tokenizer_config": "tokenizer_config.json", "chat_template": "chat_template.jinja"},
        "sha256": sha,
        "max_length": built.context,
        "chat_template": "chat_template.jinja",
        "bos_token_id": tok.bos_token_id,
        "eos_token_ids": tok.eos_token_ids,
        "end_of_turn": tok.end_of_turn,
        "languages": languages,
        "tokens_per_ja_char": per_char,
        "architecture": cfg.arch,
        "parameters": cfg.parameters(built.tied),
        "target": req.target,
        "quantization": built.written_as,
        "source": {"path": req.source, "format": src.describe(), "bytes": source_meta.map(|m| m.len()), "tensor_types": built.source_types},
        "converted_by": format!("kogi {}", env!("CARGO_PKG_VERSION")),
    });
    write("manifest.json", &serde_json::to_string_pretty(&manifest).expect("json"))?;
    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(Error::Cancelled);
    }
    drop(lock);
    let _ = std::fs::remove_file(&lock_path);
    std::fs::rename(&staging_dir, &dir).map_err(|e| Error::Io { path: dir.clone(), message: e.to_string() })?;
    staging.0 = None;
    Ok(Converted {
        name,
        dir,
        architecture: cfg.arch,
        parameters: cfg.parameters(built.tied),
        source: src.describe(),
        target: req.target,
        built,
        tokens_per_ja_char: per_char,
        languages,
        bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A failed write, told as a full disk when it is one (ENOSPC, or EDQUOT: over quota).
pub(crate) fn write_error(path: &Path, e: std::io::Error) -> Error {
    if matches!(e.raw_os_error(), Some(28 | 122)) {
        Error::DiskFull { path: path.to_owned(), message: "the disk filled up while the model was written".into() }
    } else {
        Error::Io { path: path.to_owned(), message: e.to_string() }
    }
}
