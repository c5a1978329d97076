//! A GGUF's tokenizer (`tokenizer.ggml.*`) as a `tokenizer.json` the `tokenizers` crate loads and
//! that splits text the way llama.cpp does for the same file: byte-level BPE with the merges, and
//! the pre-tokenizer llama.cpp picks by `tokenizer.ggml.pre`; or SentencePiece (`"llama"`) as a BPE
//! whose merges follow the pieces' scores, with byte fallback.

use super::source::TokenizerFiles;
use crate::{Error, Result};
use candle_core::quantized::gguf_file::Value;
use serde_json::{Value as Json, json};
use std::collections::HashMap;
use std::path::Path;

/// llama.cpp's regular expressions (llama-vocab.cpp), by `tokenizer.ggml.pre`.
const LLAMA3: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

fn bad(path: &Path, message: String) -> Error {
    Error::BadModelFile { path: path.to_owned(), message }
}

fn strings(meta: &HashMap<String, Value>, key: &str) -> Option<Vec<String>> {
    let v = meta.get(key)?.to_vec().ok()?;
    v.iter().map(|x| x.to_string().ok().cloned()).collect()
}

/// A number array; llama.cpp takes scores as f32 or i32.
fn floats(meta: &HashMap<String, Value>, key: &str) -> Option<Vec<f32>> {
    let v = meta.get(key)?.to_vec().ok()?;
    v.iter()
        .map(|x| match x {
            Value::F32(f) => Some(*f),
            Value::F64(f) => Some(*f as f32),
            Value::I32(i) => Some(*i as f32),
            _ => None,
        })
        .collect()
}

fn id(meta: &HashMap<String, Value>, key: &str) -> Option<u32> {
    match meta.get(key)? {
        Value::U32(x) => Some(*x),
        Value::I32(x) => Some(*x as u32),
        Value::U64(x) => Some(*x as u32),
        Value::I64(x) => Some(*x as u32),
        Value::U16(x) => Some(*x as u32),
        _ => None,
    }
}

/// The pre-tokenizer for llama.cpp's pre-tokenizer name.
fn pre_tokenizer(pre: &str, path: &Path) -> Result<Json> {
    let byte_level = |use_regex: bool| json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": use_regex});
    let split = |re: &str| json!({"type": "Split", "pattern": {"Regex": re}, "behavior": "Isolated", "invert": false});
    Ok(match pre {
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "pixtral" | "superbpe" => {
            json!({"type": "Sequence", "pretokenizers": [split(LLAMA3), byte_level(false)]})
        }
        "qwen2" | "deepseek-r1-qwen" | "megrez" | "hunyuan" => json!({"type": "Sequence", "pretokenizers": [split(QWEN2), byte_level(false)]}),
        // Digits one by one, then GPT-2's expression.
        "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone" | "minerva-7b" => {
            json!({"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true}, byte_level(true)]})
        }
        "gpt-2" | "gpt2" | "default" | "" | "phi-2" | "jina-es" | "jina-de" | "olmo" | "dbrx" | "smaug-bpe" | "stablelm2" => byte_level(true),
        other => {
            return Err(bad(
                path,
                format!("its tokenizer splits text the {other:?} way, which kogi does not know; put the model's Hugging Face tokenizer.json beside the file and add it again"),
            ));
        }
    })
}

/// The tokenizer files for a GGUF: its `tokenizer.json` built from the metadata (GPT-2-style BPE,
/// SentencePiece) — or, for tokenizers kogi does not rebuild, a `tokenizer.json` lying beside the file.
pub fn gguf_tokenizer(meta: &HashMap<String, Value>, path: &Path) -> Result<TokenizerFiles> {
    let tokens = strings(meta, "tokenizer.ggml.tokens").ok_or_else(|| bad(path, "the file has no vocabulary (tokenizer.ggml.tokens)".into()))?;
    let model = meta.get("tokenizer.ggml.model").and_then(|v| v.to_string().ok()).map(String::as_str).unwrap_or("");
    let types: Vec<i64> = meta
        .get("tokenizer.ggml.token_type")
        .and_then(|v| v.to_vec().ok())
        .map(|v| v.iter().map(|x| x.to_i32().map(i64::from).unwrap_or(1)).collect())
        .unwrap_or_default();
    let flag = |key: &str, default: bool| meta.get(key).and_then(|v| v.to_bool().ok()).unwrap_or(default);
    let in_vocab = |i: Option<u32>| i.filter(|&i| (i as usize) < tokens.len());
    // llama.cpp's defaults for a SentencePiece vocabulary whose metadata names no special ids.
    let (bos, eos) = if model == "llama" {
        (in_vocab(id(meta, "tokenizer.ggml.bos_token_id").or(Some(1))), in_vocab(id(meta, "tokenizer.ggml.eos_token_id").or(Some(2))))
    } else {
        (id(meta, "tokenizer.ggml.bos_token_id"), id(meta, "tokenizer.ggml.eos_token_id"))
    };
    let beside = path.with_file_name("tokenizer.json");
    let read_beside = || std::fs::read_to_string(&beside).map_err(|e| Error::Io { path: beside.clone(), message: e.to_string() });
    let put_beside = "put the model's Hugging Face tokenizer.json beside the file and add it again, or add the Hugging Face folder instead";
    let scores = floats(meta, "tokenizer.ggml.scores").filter(|s| s.len() >= tokens.len());
    // One score for every token (gguf-py writes -1000 for a vocabulary taken from a tokenizer.json):
    // llama.cpp then merges the leftmost pair first, which no merge order reproduces.
    let ranked = |scores: &[f32]| {
        let mut normal = scores.iter().zip(0..).filter(|&(_, i)| types.get(i).is_none_or(|&t| t == 1)).map(|(s, _)| *s + 0.0);
        normal.next().is_some_and(|first| normal.any(|s| s != first))
    };
    let tokenizer_json = match (model, scores) {
        ("gpt2", _) => {
            let pre = meta.get("tokenizer.ggml.pre").and_then(|v| v.to_string().ok()).map(String::as_str).unwrap_or("default");
            let merges = strings(meta, "tokenizer.ggml.merges").ok_or_else(|| bad(path, "the BPE vocabulary has no merges".into()))?;
            build_bpe(&tokens, &types, &merges, pre, path)?
        }
        ("llama", Some(scores)) if ranked(&scores) => {
            let vocab = SpmVocab {
                tokens: &tokens,
                scores: &scores,
                types: &types,
                unk: in_vocab(id(meta, "tokenizer.ggml.unknown_token_id").or(Some(0))),
                bos,
                eos,
                add_bos: flag("tokenizer.ggml.add_bos_token", true),
                add_eos: flag("tokenizer.ggml.add_eos_token", false),
                add_space_prefix: flag("tokenizer.ggml.add_space_prefix", true),
            };
            build_spm(&vocab)
        }
        _ if beside.is_file() => read_beside()?,
        ("llama", None) => {
            return Err(bad(
                path,
                format!("its SentencePiece vocabulary has no scores for its {} tokens (tokenizer.ggml.scores), which kogi needs to rebuild the tokenizer; {put_beside}", tokens.len()),
            ));
        }
        ("llama", Some(_)) => {
            return Err(bad(
                path,
                format!(
                    "its SentencePiece vocabulary gives all its tokens one score (tokenizer.ggml.scores), so llama.cpp merges them left to right, \
                     which kogi does not reproduce; {put_beside}"
                ),
            ));
        }
        (other, _) => {
            return Err(bad(
                path,
                format!(
                    "its tokenizer is {other:?}, which kogi does not rebuild from a GGUF (it rebuilds SentencePiece tokenizers — Llama 2, Mistral, \
                     llm-jp, ELYZA — and GPT-2-style BPE ones — Llama 3, Qwen, SmolLM); {put_beside}"
                ),
            ));
        }
    };
    let text = |i: Option<u32>| i.and_then(|i| tokens.get(i as usize)).cloned();
    let eot = id(meta, "tokenizer.ggml.eot_token_id");
    let chat_template = meta.get("tokenizer.chat_template").and_then(|v| v.to_string().ok()).cloned();
    let mut eos_ids: Vec<u32> = [eot, eos].into_iter().flatten().collect();
    // End-of-turn tokens the template writes, when the metadata names another end.
    for t in ["<|eot_id|>", "<|im_end|>", "<|end_of_text|>", "<|endoftext|>", "<end_of_turn>", "</s>"] {
        if let Some(i) = tokens.iter().position(|x| x == t)
            && chat_template.as_deref().is_some_and(|c| c.contains(t))
            && !eos_ids.contains(&(i as u32))
        {
            eos_ids.push(i as u32);
        }
    }
    let end_of_turn = text(eot)
        .or_else(|| ["<|im_end|>", "<|eot_id|>", "<end_of_turn>"].iter().find(|t| chat_template.as_deref().is_some_and(|c| c.contains(**t))).map(|t| (*t).to_owned()))
        .or_else(|| text(eos));
    Ok(TokenizerFiles { tokenizer_json, chat_template, bos_token_id: bos, eos_token_ids: eos_ids, end_of_turn, bos_token: text(bos), eos_token: text(eos) })
}

/// A byte-level BPE `tokenizer.json`. GGUF token types: 1 normal, 3 control (special),
/// 4 user-defined (added, not special).
pub fn build_bpe(tokens: &[String], types: &[i64], merges: &[String], pre: &str, path: &Path) -> Result<String> {
    let added: Vec<Json> = tokens
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let ty = types.get(i).copied().unwrap_or(1);
            (ty == 3 || ty == 4).then(|| {
                json!({"id": i, "content": t, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": ty == 3})
            })
        })
        .collect();
    let vocab: serde_json::Map<String, Json> = tokens.iter().enumerate().map(|(i, t)| (t.clone(), json!(i))).collect();
    let merges: Vec<Json> = merges
        .iter()
        .map(|m| match m.split_once(' ') {
            Some((a, b)) => Ok(json!([a, b])),
            None => Err(bad(path, format!("a merge rule {m:?} is not two tokens"))),
        })
        .collect::<Result<_>>()?;
    // llama.cpp uses a whole-word vocabulary entry before merging for Llama 3's tokenizer.
    let ignore_merges = matches!(pre, "llama3" | "llama-v3" | "llama-bpe");
    let obj = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": pre_tokenizer(pre, path)?,
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null, "end_of_word_suffix": null,
                  "fuse_unk": false, "byte_fallback": false, "ignore_merges": ignore_merges, "vocab": vocab, "merges": merges}
    });
    Ok(serde_json::to_string(&obj).expect("json"))
}

/// A SentencePiece vocabulary as a GGUF holds it (`tokenizer.ggml.model = "llama"`).
pub struct SpmVocab<'a> {
    pub tokens: &'a [String],
    pub scores: &'a [f32],
    /// 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
    pub types: &'a [i64],
    pub unk: Option<u32>,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub add_bos: bool,
    pub add_eos: bool,
    /// `tokenizer.ggml.add_space_prefix`: "▁" before the text (and after every special token).
    pub add_space_prefix: bool,
}

/// A `tokenizer.json` that encodes as llama.cpp's SentencePiece tokenizer (`llm_tokenizer_spm`):
/// that one merges, over the whole text, the adjacent pair whose joined text is the best-scored
/// vocabulary entry (leftmost on ties), which a BPE does when its merges are every split of every
/// entry ordered by the entry's score; characters outside the vocabulary become `<0xXX>` tokens.
/// The one thing a fixed merge order cannot always mirror: two different entries of exactly equal
/// score competing for overlapping pairs, where llama.cpp takes the leftmost.
pub fn build_spm(v: &SpmVocab) -> String {
    // llama.cpp renames empty entries; a later duplicate wins, as in its text-to-id map.
    let names: Vec<String> = v.tokens.iter().enumerate().map(|(i, t)| if t.is_empty() { format!("[EMPTY_{i}]") } else { t.clone() }).collect();
    let mut ids: HashMap<&str, u32> = HashMap::with_capacity(names.len());
    for (i, t) in names.iter().enumerate() {
        ids.insert(t.as_str(), i as u32);
    }
    // -0.0 and 0.0 are one score to llama.cpp's comparison.
    let score = |i: u32| v.scores.get(i as usize).map(|s| if s.is_nan() { f32::NEG_INFINITY } else { s + 0.0 }).unwrap_or(0.0);
    let mut merges: Vec<(f32, usize, u32, &str, &str)> = Vec::new();
    for (&piece, &i) in &ids {
        for (at, _) in piece.char_indices().skip(1) {
            let (l, r) = piece.split_at(at);
            if ids.contains_key(l) && ids.contains_key(r) {
                merges.push((score(i), l.len(), i, l, r));
            }
        }
    }
    // Best score first; among splits of one entry the longer left part first, which takes the
    // leftmost pair, as llama.cpp does, where two splits of an entry overlap as in "ab a ba".
    merges.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    let merges: Vec<Json> = merges.iter().map(|m| json!([m.3, m.4])).collect();
    let ty = |i: usize| v.types.get(i).copied().unwrap_or(1);
    // Unknown and control tokens are special; user-defined ones are matched in the raw text too.
    let added: Vec<Json> = (0..names.len())
        .filter(|&i| matches!(ty(i), 2..=4))
        .map(|i| json!({"id": i, "content": names[i], "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": ty(i) != 4}))
        .collect();
    let vocab: serde_json::Map<String, Json> = names.iter().enumerate().map(|(i, t)| (t.clone(), json!(i))).collect();
    let replace = |from: &str, to: &str| json!({"type": "Replace", "pattern": {"String": from}, "content": to});
    // A normalizer, not a pre-tokenizer, so that each text between added tokens gets its "▁", as
    // llama.cpp prefixes every text fragment that follows a special token.
    let normalizer = if v.add_space_prefix {
        json!({"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}, replace(" ", "▁")]})
    } else {
        replace(" ", "▁")
    };
    let mut decoders = vec![replace("▁", " "), json!({"type": "ByteFallback"}), json!({"type": "Fuse"})];
    if v.add_space_prefix {
        decoders.push(json!({"type": "Strip", "content": " ", "start": 1, "stop": 0}));
    }
    let name = |i: Option<u32>| i.and_then(|i| Some((names.get(i as usize)?.clone(), i)));
    let bos = name(v.bos).filter(|_| v.add_bos);
    let eos = name(v.eos).filter(|_| v.add_eos);
    let post_processor = if bos.is_some() || eos.is_some() {
        let special = |t: &(String, u32), ty: u32| json!({"SpecialToken": {"id": t.0, "type_id": ty}});
        let part = |s: &str, ty: u32| -> Vec<Json> {
            bos.iter().map(|t| special(t, ty)).chain([json!({"Sequence": {"id": s, "type_id": ty}})]).chain(eos.iter().map(|t| special(t, ty))).collect()
        };
        let (single, pair) = (part("A", 0), [part("A", 0), part("B", 1)].concat());
        let tokens: serde_json::Map<String, Json> =
            bos.iter().chain(eos.iter()).map(|t| (t.0.clone(), json!({"id": t.0, "ids": [t.1], "tokens": [t.0]}))).collect();
        json!({"type": "TemplateProcessing", "single": single, "pair": pair, "special_tokens": tokens})
    } else {
        Json::Null
    };
    let obj = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": normalizer,
        "pre_tokenizer": null,
        "post_processor": post_processor,
        "decoder": {"type": "Sequence", "decoders": decoders},
        "model": {"type": "BPE", "dropout": null, "unk_token": name(v.unk).map(|t| t.0), "continuing_subword_prefix": null, "end_of_word_suffix": null,
                  "fuse_unk": true, "byte_fallback": true, "ignore_merges": false, "vocab": vocab, "merges": merges}
    });
    serde_json::to_string(&obj).expect("json")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SentencePiece GGUF's tokenizer metadata: (piece, score, type) by id.
    fn spm_meta(vocab: &[(&str, f32, i32)], scores: bool) -> HashMap<String, Value> {
        let mut m = HashMap::new();
        m.insert("tokenizer.ggml.model".to_owned(), Value::String("llama".into()));
        m.insert("tokenizer.ggml.tokens".to_owned(), Value::Array(vocab.iter().map(|v| Value::String(v.0.into())).collect()));
        m.insert("tokenizer.ggml.token_type".to_owned(), Value::Array(vocab.iter().map(|v| Value::I32(v.2)).collect()));
        if scores {
            m.insert("tokenizer.ggml.scores".to_owned(), Value::Array(vocab.iter().map(|v| Value::F32(v.1)).collect()));
        }
        m
    }

    const VOCAB: &[(&str, f32, i32)] = &[
        ("<unk>", 0.0, 2),
        ("<s>", 0.0, 3),
        ("</s>", 0.0, 3),
        ("<0xC3>", 0.0, 6),
        ("<0xA9>", 0.0, 6),
        ("▁", -10.0, 1),
        ("a", -11.0, 1),
        ("b", -12.0, 1),
        ("c", -13.0, 1),
        ("ab", -5.0, 1),
        ("bc", -1.0, 1),
        ("▁a", -3.0, 1),
    ];

    #[test]
    fn sentencepiece_pieces_merge_by_score_with_byte_fallback_and_special_ids_by_llama_cpp_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let files = gguf_tokenizer(&spm_meta(VOCAB, true), &dir.path().join("m.gguf")).unwrap();
        let tok: tokenizers::Tokenizer = files.tokenizer_json.parse().unwrap();
        let ids = |text: &str| tok.encode(text, false).unwrap().get_ids().to_vec();
        // "▁abc": bc (-1) before ▁a (-3) before ab (-5), whatever the ids.
        assert_eq!(ids("abc"), [11, 10]);
        // "é" is not a piece: its two bytes; " " is "▁"; control text is the control token.
        assert_eq!(ids("é c</s>a"), [5, 3, 4, 5, 8, 2, 11]);
        assert_eq!(tok.decode(&ids("é c</s>a"), true).unwrap(), "é c a");
        assert_eq!(tok.encode("abc", true).unwrap().get_ids(), [1, 11, 10]);
        assert_eq!((files.bos_token_id, files.bos_token.as_deref(), files.eos_token.as_deref()), (Some(1), Some("<s>"), Some("</s>")));
        assert_eq!(files.eos_token_ids, [2]);
    }

    #[test]
    fn a_sentencepiece_vocabulary_without_usable_scores_takes_the_tokenizer_json_beside_it_or_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.gguf");
        let e = gguf_tokenizer(&spm_meta(VOCAB, false), &path).unwrap_err().to_string();
        assert!(e.contains("tokenizer.ggml.scores") && e.contains("tokenizer.json"), "{e}");
        let flat: Vec<_> = VOCAB.iter().map(|&(t, _, ty)| (t, -1000.0, ty)).collect();
        let e = gguf_tokenizer(&spm_meta(&flat, true), &path).unwrap_err().to_string();
        assert!(e.contains("one score") && e.contains("tokenizer.json"), "{e}");
        let mut other = spm_meta(VOCAB, true);
        other.insert("tokenizer.ggml.model".to_owned(), Value::String("t5".into()));
        let e = gguf_tokenizer(&other, &path).unwrap_err().to_string();
        assert!(e.contains("\"t5\"") && e.contains("tokenizer.json"), "{e}");
        std::fs::write(dir.path().join("tokenizer.json"), "{\"beside\": true}").unwrap();
        assert_eq!(gguf_tokenizer(&spm_meta(&flat, true), &path).unwrap().tokenizer_json, "{\"beside\": true}");
        assert_eq!(gguf_tokenizer(&other, &path).unwrap().tokenizer_json, "{\"beside\": true}");
    }
}
