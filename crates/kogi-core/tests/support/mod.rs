//! Shared by the core's integration tests: where the checkout, the real lecture data and the real
//! default models (built by scripts/setup.sh) are.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The project's real lecture data, when the checkout sits beside it.
pub fn shared_data() -> Option<PathBuf> {
    let p = repo().join("../shared/data");
    p.join("LLM2024_day4.txt").is_file().then_some(p)
}

/// Where setup installed the default models.
pub fn models_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("KOGI_MODELS") {
        return PathBuf::from(p);
    }
    kogi_core::paths::models_dir()
}

/// A byte-level BPE `tokenizer.json` as convert_hf_to_gguf writes it into a GGUF: tokens by id, their
/// types (1 normal, 3 control, 4 user-defined) and the merges as "a b".
pub fn gpt2_vocab(tokenizer_json: &Path) -> (Vec<String>, Vec<i32>, Vec<String>) {
    let source: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(tokenizer_json).expect("tokenizer.json")).unwrap();
    let vocab = source["model"]["vocab"].as_object().unwrap();
    let added = source["added_tokens"].as_array().unwrap();
    let n = added.iter().map(|a| a["id"].as_u64().unwrap() as usize + 1).max().unwrap_or(0).max(vocab.len());
    let mut tokens = vec![String::new(); n];
    let mut types = vec![1; n];
    for (t, id) in vocab {
        tokens[id.as_u64().unwrap() as usize] = t.clone();
    }
    for a in added {
        let id = a["id"].as_u64().unwrap() as usize;
        tokens[id] = a["content"].as_str().unwrap().to_owned();
        types[id] = if a["special"].as_bool().unwrap() { 3 } else { 4 };
    }
    let merges = source["model"]["merges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| match m {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(p) => format!("{} {}", p[0].as_str().unwrap(), p[1].as_str().unwrap()),
            _ => unreachable!("a merge is a string or a pair"),
        })
        .collect();
    (tokens, types, merges)
}

/// The reference tooling's cache (`scripts/setup-reference.sh`): llama.cpp's Python venv and GGUFs.
pub fn reference_cache() -> PathBuf {
    std::env::var_os("KOGI_CACHE").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/kogi"))
}

/// Run a tool of models/tools with the reference venv; its JSON answer.
pub fn reference_tool(tool: &str, args: &[&str]) -> serde_json::Value {
    let py = reference_cache().join("reference/bin/python");
    assert!(py.is_file(), "llama.cpp's reference is not set up: run scripts/setup-reference.sh");
    let out = std::process::Command::new(py).arg(repo().join("models/tools").join(tool)).args(args).output().unwrap();
    assert!(out.status.success(), "{tool} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}
