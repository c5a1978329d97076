//! A chat model's tokenizer and chat template: turn a conversation into the prompt's token ids the
//! way Hugging Face's `apply_chat_template` does, and turn generated ids back into text, all at once
//! or streamed.
//!
//! A model folder is read with its `manifest.json` when it has one (kogi's own builds) and without
//! (a user's onnxruntime-genai builder output): the template then comes from `chat_template.jinja`,
//! `chat_template.json` or `tokenizer_config.json`, and the end-of-turn ids from `genai_config.json`,
//! `tokenizer_config.json` and the well-known end-of-turn tokens the vocabulary has.

use crate::inference::manifest::{Manifest, REBUILD_HINT};
use crate::{Error, Result};
use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{AutoEscape, Environment, ErrorKind};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tokenizers::Tokenizer;

/// One turn of a conversation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self { role: role.into(), content: content.into() }
    }
    pub fn system(content: impl Into<String>) -> Self {
        Self::new("system", content)
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self::new("user", content)
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new("assistant", content)
    }
}

/// Special tokens that end a turn (or the whole text) in the common chat formats; any of them the
/// vocabulary holds as a special token stops generation.
const KNOWN_END_TOKENS: &[&str] = &[
    "<|eot_id|>",      // Llama 3
    "<|eom_id|>",      // Llama 3.1 (end of a tool-calling message)
    "<|end_of_text|>", // Llama 3
    "<|im_end|>",      // ChatML (SmolLM, Qwen)
    "<|endoftext|>",   // GPT-2 family, Qwen, SmolLM
    "<|end|>",         // Phi-3
    "<end_of_turn>",   // Gemma
];

/// The special tokens Hugging Face passes to a chat template (`special_tokens_map`).
const TEMPLATE_TOKENS: &[&str] =
    &["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];

/// What to tell a user whose own model folder lacks something.
const USER_FOLDER_HINT: &str = "copy it from the model's original Hugging Face repository into the folder";

/// A chat model's tokenizer with its chat template, BOS and end-of-turn tokens.
pub struct ChatTokenizer {
    tokenizer: Tokenizer,
    env: Environment<'static>,
    /// Where the template came from (a path, or a path and the key in it); also the template's name.
    template_origin: String,
    /// The model's name for errors.
    model: String,
    /// Special-token strings the template sees (`bos_token`, `eos_token`, …).
    template_tokens: BTreeMap<String, String>,
    bos_id: Option<u32>,
    bos_text: Option<String>,
    /// Whether the tokenizer's post-processor puts BOS in front of an encoded text.
    tokenizer_adds_bos: bool,
    end_of_turn: Vec<u32>,
    context_length: Option<usize>,
}

impl std::fmt::Debug for ChatTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTokenizer")
            .field("model", &self.model)
            .field("template", &self.template_origin)
            .field("vocab_size", &self.vocab_size())
            .field("bos_id", &self.bos_id)
            .field("end_of_turn", &self.end_of_turn)
            .finish_non_exhaustive()
    }
}

/// Where a template's text came from, and the text.
struct TemplateSource {
    origin: String,
    text: String,
}

/// Everything found for one model, before it is loaded.
struct Sources<'a> {
    model: String,
    tokenizer_json: PathBuf,
    tokenizer_config: Option<PathBuf>,
    template: Option<TemplateSource>,
    genai_config: Option<PathBuf>,
    manifest: Option<&'a Manifest>,
    /// Said when no template is found at all.
    no_template_hint: String,
}

impl ChatTokenizer {
    /// Load from a model folder. With a `manifest.json` its files, template, BOS and end-of-turn
    /// tokens are used; without one the usual Hugging Face / onnxruntime-genai file names are read.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let manifest_path = dir.join("manifest.json");
        if manifest_path.is_file() {
            let md = crate::inference::manifest::ModelDir::open(dir)?;
            let m = &md.manifest;
            let model = m.name.clone();
            let named = |role: &str, default: &str| -> Result<Option<PathBuf>> {
                match m.files.get(role) {
                    Some(name) => {
                        let p = dir.join(name);
                        if p.is_file() {
                            Ok(Some(p))
                        } else {
                            Err(model_err(
                                &model,
                                format!("{} is missing (the manifest names it) — {REBUILD_HINT}", p.display()),
                            ))
                        }
                    }
                    None => Ok(Some(dir.join(default)).filter(|p| p.is_file())),
                }
            };
            let tokenizer_json = match m.files.get("tokenizer") {
                Some(name) => dir.join(name),
                None => dir.join("tokenizer.json"),
            };
            let tokenizer_config = named("tokenizer_config", "tokenizer_config.json")?;
            let genai_config = named("genai_config", "genai_config.json")?;
            let template = match m.chat_template.as_deref() {
                Some(t) => Some(manifest_template(dir, &manifest_path, &model, t)?),
                None => match m.files.get("chat_template") {
                    Some(name) => Some(read_template_file(&model, &dir.join(name))?),
                    None => folder_template(dir, &model)?,
                },
            };
            Self::load(Sources {
                model,
                tokenizer_json,
                tokenizer_config,
                template,
                genai_config,
                manifest: Some(m),
                no_template_hint: REBUILD_HINT.to_owned(),
            })
        } else {
            if !dir.is_dir() {
                return Err(model_err(
                    &dir.display().to_string(),
                    format!("{} is not a folder — give the folder that holds the model's files", dir.display()),
                ));
            }
            let model = dir.display().to_string();
            let opt = |name: &str| Some(dir.join(name)).filter(|p| p.is_file());
            let template = folder_template(dir, &model)?;
            Self::load(Sources {
                tokenizer_json: dir.join("tokenizer.json"),
                tokenizer_config: opt("tokenizer_config.json"),
                genai_config: opt("genai_config.json"),
                template,
                manifest: None,
                no_template_hint: format!(
                    "{} has no chat_template.jinja and no chat_template in tokenizer_config.json — save the model's chat template as chat_template.jinja in the folder",
                    dir.display()
                ),
                model,
            })
        }
    }

    /// Load from explicit files. The template is `template_file` (a Jinja file, or a JSON file with a
    /// `chat_template` key) or else the `chat_template` in `tokenizer_config`.
    pub fn from_files(
        tokenizer_json: &Path,
        tokenizer_config: Option<&Path>,
        template_file: Option<&Path>,
        genai_config: Option<&Path>,
    ) -> Result<Self> {
        let model = tokenizer_json
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(tokenizer_json)
            .display()
            .to_string();
        for p in [tokenizer_config, template_file, genai_config].into_iter().flatten() {
            if !p.is_file() {
                return Err(model_err(&model, format!("{} is missing — check the path", p.display())));
            }
        }
        let template = template_file.map(|p| read_template_file(&model, p)).transpose()?;
        Self::load(Sources {
            tokenizer_json: tokenizer_json.to_owned(),
            tokenizer_config: tokenizer_config.map(Path::to_owned),
            genai_config: genai_config.map(Path::to_owned),
            template,
            manifest: None,
            no_template_hint:
                "no chat template was given and the tokenizer config has none — pass the model's chat_template.jinja"
                    .to_owned(),
            model,
        })
    }

    fn load(src: Sources<'_>) -> Result<Self> {
        let model = src.model;
        let tokenizer = load_tokenizer(&model, &src.tokenizer_json)?;

        let config = src.tokenizer_config.as_deref().map(|p| read_json(&model, p)).transpose()?;
        let genai = src.genai_config.as_deref().map(|p| read_json(&model, p)).transpose()?;

        let template = match src.template {
            Some(t) => t,
            None => match (&config, &src.tokenizer_config) {
                (Some(c), Some(p)) => config_template(&model, p, c)?,
                _ => None,
            }
            .ok_or_else(|| model_err(&model, format!("no chat template found — {}", src.no_template_hint)))?,
        };

        // BOS: the manifest, then genai_config, then the tokenizer config's `bos_token`.
        let config_token = |key: &str| config.as_ref().and_then(|c| token_content(c.get(key)?));
        let bos_id = src
            .manifest
            .and_then(|m| m.bos_token_id)
            .or_else(|| genai.as_ref().and_then(|g| g.pointer("/model/bos_token_id")?.as_u64()?.try_into().ok()))
            .or_else(|| tokenizer.token_to_id(&config_token("bos_token")?));
        let bos_text = bos_id.and_then(|id| tokenizer.id_to_token(id)).or_else(|| config_token("bos_token"));

        // End of turn: every source, in order of authority, without repeats.
        let mut end_of_turn: Vec<u32> = Vec::new();
        let mut add = |id: Option<u32>| {
            if let Some(id) = id
                && !end_of_turn.contains(&id)
            {
                end_of_turn.push(id);
            }
        };
        if let Some(m) = src.manifest {
            m.eos_token_ids.iter().for_each(|&id| add(Some(id)));
            add(m.end_of_turn.as_deref().and_then(|t| tokenizer.token_to_id(t)));
        }
        if let Some(ids) = genai.as_ref().and_then(|g| g.pointer("/model/eos_token_id")) {
            match ids {
                Json::Array(a) => a.iter().for_each(|v| add(v.as_u64().and_then(|v| v.try_into().ok()))),
                v => add(v.as_u64().and_then(|v| v.try_into().ok())),
            }
        }
        add(config_token("eos_token").and_then(|t| tokenizer.token_to_id(&t)));
        let added = tokenizer.get_added_tokens_decoder();
        for t in KNOWN_END_TOKENS {
            add(tokenizer.token_to_id(t).filter(|id| added.get(id).is_some_and(|a| a.special)));
        }
        if end_of_turn.is_empty() {
            return Err(model_err(
                &model,
                format!(
                    "no end-of-turn token found (no eos_token_id in genai_config.json, no eos_token in tokenizer_config.json) — {}",
                    if src.manifest.is_some() { REBUILD_HINT } else { USER_FOLDER_HINT }
                ),
            ));
        }

        // The strings the template sees: the tokenizer config's, else the tokens of the ids found.
        let mut template_tokens = BTreeMap::new();
        for key in TEMPLATE_TOKENS {
            if let Some(t) = config_token(key) {
                template_tokens.insert((*key).to_owned(), t);
            }
        }
        if !template_tokens.contains_key("bos_token")
            && let Some(t) = bos_text.clone()
        {
            template_tokens.insert("bos_token".to_owned(), t);
        }
        if !template_tokens.contains_key("eos_token")
            && let Some(t) = tokenizer.id_to_token(end_of_turn[0])
        {
            template_tokens.insert("eos_token".to_owned(), t);
        }

        let tokenizer_adds_bos = match bos_id {
            Some(bos) => {
                let with = tokenizer.encode_fast("a", true).map_err(|e| tok_err(&model, e))?;
                let without = tokenizer.encode_fast("a", false).map_err(|e| tok_err(&model, e))?;
                with.get_ids().first() == Some(&bos) && without.get_ids().first() != Some(&bos)
            }
            None => false,
        };

        let context_length = src
            .manifest
            .map(|m| m.max_length)
            .filter(|&n| n > 0)
            .or_else(|| genai.as_ref().and_then(|g| g.pointer("/model/context_length")?.as_u64()?.try_into().ok()));

        let env = template_env(&template.origin, template.text).map_err(|e| {
            model_err(
                &model,
                format!(
                    "the chat template in {} does not compile: {} — fix it or replace it with the model's original template",
                    template.origin,
                    describe(&e)
                ),
            )
        })?;

        let this = Self {
            tokenizer,
            env,
            template_origin: template.origin,
            model,
            template_tokens,
            bos_id,
            bos_text,
            tokenizer_adds_bos,
            end_of_turn,
            context_length,
        };
        // A template that cannot render a one-question conversation is broken: say so now, not at
        // the first question.
        this.render(&[Message::user("Hello")], true)?;
        Ok(this)
    }

    /// The prompt text for a conversation, as the model's chat template writes it.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        let mut ctx: BTreeMap<&str, Value> = BTreeMap::new();
        for (k, v) in &self.template_tokens {
            ctx.insert(k.as_str(), Value::from(v.as_str()));
        }
        let msgs: Vec<Value> = messages
            .iter()
            .map(|m| {
                Value::from(BTreeMap::from([
                    ("role", Value::from(m.role.as_str())),
                    ("content", Value::from(m.content.as_str())),
                ]))
            })
            .collect();
        ctx.insert("messages", Value::from(msgs));
        ctx.insert("add_generation_prompt", Value::from(add_generation_prompt));
        ctx.insert("tools", Value::from(()));
        ctx.insert("documents", Value::from(()));
        let fail = |e: minijinja::Error| {
            model_err(
                &self.model,
                format!("the chat template in {} failed to render: {}", self.template_origin, describe(&e)),
            )
        };
        let tmpl = self.env.get_template(&self.template_origin).map_err(fail)?;
        tmpl.render(Value::from(ctx)).map_err(fail)
    }

    /// The prompt's token ids for a conversation, ending with the generation prompt (the assistant's
    /// header). BOS appears once: the template's own when it writes one, else the tokenizer's when
    /// its post-processor adds one; nothing else is added (no EOS).
    pub fn encode_chat(&self, messages: &[Message]) -> Result<Vec<u32>> {
        let prompt = self.render(messages, true)?;
        let mut ids = self.encode(&prompt)?;
        if let Some(bos) = self.bos_id {
            let template_wrote_bos = self.bos_text.as_deref().is_some_and(|b| !b.is_empty() && prompt.starts_with(b));
            if self.tokenizer_adds_bos && !template_wrote_bos && ids.first() != Some(&bos) {
                ids.insert(0, bos);
            }
        }
        Ok(ids)
    }

    /// Plain text to ids, with no special tokens added (special-token text in it is still matched).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self.tokenizer.encode_fast(text, false).map_err(|e| tok_err(&self.model, e))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Ids to text, leaving out special tokens.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer.decode(ids, true).map_err(|e| tok_err(&self.model, e))
    }

    /// The vocabulary's string for an id, as stored (a byte-level BPE token reads `Ġyes` for " yes").
    pub fn token_str(&self, id: u32) -> Option<String> {
        self.tokenizer.id_to_token(id)
    }

    /// The id of a vocabulary string, as stored (`<|im_end|>`, `Ġyes`).
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.tokenizer.token_to_id(token)
    }

    pub fn bos_id(&self) -> Option<u32> {
        self.bos_id
    }

    /// Ids that end the assistant's turn; generation stops at any of them. The first is the model's
    /// own (manifest or genai_config), the rest are other end tokens the vocabulary has.
    pub fn end_of_turn_ids(&self) -> &[u32] {
        &self.end_of_turn
    }

    pub fn is_end_of_turn(&self, id: u32) -> bool {
        self.end_of_turn.contains(&id)
    }

    /// The number of ids the tokenizer knows, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.tokenizer.get_vocab_size(true)
    }

    /// The model's context length (manifest `max_length`, else genai_config `context_length`).
    pub fn context_length(&self) -> Option<usize> {
        self.context_length
    }

    /// The file (or file and key) the chat template was read from.
    pub fn template_origin(&self) -> &str {
        &self.template_origin
    }

    /// Token ids whose decoded text, stripped and lowercased, is exactly one of `words`
    /// (`["yes"]` matches `yes`, ` Yes`, `YES`); special tokens never match. Sorted ascending.
    pub fn ids_for_words(&self, words: &[&str]) -> Vec<u32> {
        let words: Vec<String> = words.iter().map(|w| w.trim().to_lowercase()).filter(|w| !w.is_empty()).collect();
        if words.is_empty() {
            return Vec::new();
        }
        let added = self.tokenizer.get_added_tokens_decoder();
        let mut ids: Vec<u32> = self
            .tokenizer
            .get_vocab(true)
            .into_values()
            .filter(|id| !added.get(id).is_some_and(|a| a.special))
            .filter(|&id| {
                self.tokenizer.decode(&[id], false).is_ok_and(|t| words.iter().any(|w| *w == t.trim().to_lowercase()))
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }
}

/// Incremental detokeniser for streaming: push ids one at a time and get back the text that is
/// complete. Bytes of a character split across tokens (byte-level BPE) are held back until the
/// character is whole, so no chunk ever ends in a half character; special tokens are left out.
pub struct StreamDecoder<'a> {
    tok: &'a ChatTokenizer,
    /// The ids of the last emitted chunk (context for the decoder) followed by those not yet emitted.
    ids: Vec<u32>,
    /// The text of `ids[..prefix_len]`, already emitted.
    prefix: String,
    prefix_len: usize,
}

impl<'a> StreamDecoder<'a> {
    pub fn new(tok: &'a ChatTokenizer) -> Self {
        Self { tok, ids: Vec::new(), prefix: String::new(), prefix_len: 0 }
    }

    /// Add one id; returns the text it completes (empty while a character is still partial).
    pub fn push(&mut self, id: u32) -> Result<String> {
        self.ids.push(id);
        let text = self.tok.decode(&self.ids)?;
        if text.len() <= self.prefix.len() || text.ends_with(char::REPLACEMENT_CHARACTER) {
            return Ok(String::new());
        }
        let new = text_after(&text, &self.prefix);
        // Keep the ids just emitted as context: decoders that treat a text's start specially
        // (SentencePiece's leading space) then decode the next chunk as they would mid-text.
        let keep_from = self.prefix_len;
        self.ids.drain(..keep_from);
        self.prefix = self.tok.decode(&self.ids)?;
        self.prefix_len = self.ids.len();
        Ok(new)
    }

    /// Flush what is held back and start afresh. A character still partial at the very end (the
    /// token budget ran out inside it) is dropped: streamed text and the final text stay the same,
    /// and neither shows U+FFFD.
    pub fn finish(&mut self) -> Result<String> {
        let text = self.tok.decode(&self.ids)?;
        let text = text.trim_end_matches(char::REPLACEMENT_CHARACTER);
        let out = if text.len() > self.prefix.len() { text_after(text, &self.prefix) } else { String::new() };
        self.ids.clear();
        self.prefix.clear();
        self.prefix_len = 0;
        Ok(out)
    }
}

/// `text` past `prefix`; if `text` does not start with it, past their common part.
fn text_after(text: &str, prefix: &str) -> String {
    if let Some(rest) = text.strip_prefix(prefix) {
        return rest.to_owned();
    }
    let mut common = text.bytes().zip(prefix.bytes()).take_while(|(a, b)| a == b).count();
    while !text.is_char_boundary(common) {
        common -= 1;
    }
    text[common..].to_owned()
}

fn model_err(model: &str, message: String) -> Error {
    Error::Model { model: model.to_owned(), message }
}

fn tok_err(model: &str, e: impl std::fmt::Display) -> Error {
    model_err(model, format!("tokenizer: {e}"))
}

/// A template error with its cause chain, on one line.
fn describe(e: &minijinja::Error) -> String {
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        s.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    s
}

fn load_tokenizer(model: &str, path: &Path) -> Result<Tokenizer> {
    if !path.is_file() {
        return Err(model_err(
            model,
            format!(
                "{} is missing — a chat model folder needs its tokenizer.json; {USER_FOLDER_HINT} (for the default model: {REBUILD_HINT})",
                path.display()
            ),
        ));
    }
    let mut tok = Tokenizer::from_file(path).map_err(|e| {
        model_err(model, format!("{} is not a valid tokenizer ({e}) — {USER_FOLDER_HINT}", path.display()))
    })?;
    tok.with_padding(None);
    tok.with_truncation(None).map_err(|e| tok_err(model, e))?;
    Ok(tok)
}

fn read_text(model: &str, path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            model_err(model, format!("{} is missing — check the path", path.display()))
        } else {
            model_err(model, format!("cannot read {}: {e}", path.display()))
        }
    })
}

fn read_json(model: &str, path: &Path) -> Result<Json> {
    let text = read_text(model, path)?;
    serde_json::from_str(&text)
        .map_err(|e| model_err(model, format!("{} is not valid JSON ({e}) — {USER_FOLDER_HINT}", path.display())))
}

/// A special token in tokenizer_config.json: a string, or an `AddedToken` object with `content`.
fn token_content(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Object(o) => o.get("content")?.as_str().map(str::to_owned),
        _ => None,
    }
}

/// A template file: Jinja text, or a JSON file with a `chat_template` key (`chat_template.json`).
fn read_template_file(model: &str, path: &Path) -> Result<TemplateSource> {
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
        let json = read_json(model, path)?;
        return config_template(model, path, &json)?
            .ok_or_else(|| model_err(model, format!("{} has no chat_template — {USER_FOLDER_HINT}", path.display())));
    }
    Ok(TemplateSource { origin: path.display().to_string(), text: read_text(model, path)? })
}

/// The `chat_template` of a JSON config: a string, or a list of `{name, template}` (the one named
/// `default`, else the first).
fn config_template(model: &str, path: &Path, json: &Json) -> Result<Option<TemplateSource>> {
    let origin = format!("{} (chat_template)", path.display());
    let bad = || model_err(model, format!("{origin} is neither a string nor a list of {{name, template}}"));
    match json.get("chat_template") {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(TemplateSource { origin, text: s.clone() })),
        Some(Json::Array(list)) => {
            let named = |name: &str| list.iter().find(|t| t.get("name").and_then(Json::as_str) == Some(name));
            let entry = named("default").or_else(|| list.first()).ok_or_else(bad)?;
            let name = entry.get("name").and_then(Json::as_str).unwrap_or("default");
            let text = entry.get("template").and_then(Json::as_str).ok_or_else(bad)?;
            Ok(Some(TemplateSource {
                origin: format!("{} (chat_template '{name}')", path.display()),
                text: text.to_owned(),
            }))
        }
        Some(_) => Err(bad()),
    }
}

/// A model folder's own template file, if any.
fn folder_template(dir: &Path, model: &str) -> Result<Option<TemplateSource>> {
    for name in ["chat_template.jinja", "chat_template.json"] {
        let p = dir.join(name);
        if p.is_file() {
            return read_template_file(model, &p).map(Some);
        }
    }
    Ok(None)
}

/// The manifest's `chat_template`: a file name in the folder, or the template itself.
fn manifest_template(dir: &Path, manifest: &Path, model: &str, value: &str) -> Result<TemplateSource> {
    let p = dir.join(value);
    if !value.contains(['{', '\n']) {
        if p.is_file() {
            return read_template_file(model, &p);
        }
        return Err(model_err(
            model,
            format!("{} is missing (the manifest names it as the chat template) — {REBUILD_HINT}", p.display()),
        ));
    }
    Ok(TemplateSource { origin: format!("{} (chat_template)", manifest.display()), text: value.to_owned() })
}

/// A Jinja environment like Hugging Face's for chat templates, holding the one template.
fn template_env(name: &str, source: String) -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_syntax(minijinja::syntax::SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).build()?);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function("raise_exception", |msg: String| -> Result<Value, minijinja::Error> {
        Err(minijinja::Error::new(ErrorKind::InvalidOperation, format!("the template raised: {msg}")))
    });
    env.add_function("strftime_now", |fmt: String| -> String {
        let secs =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        strftime(&fmt, secs)
    });
    env.add_filter("tojson", tojson);
    env.add_template_owned(name.to_owned(), strip_generation_tags(&source))?;
    Ok(env)
}

/// Hugging Face's `{% generation %}…{% endgeneration %}` (it marks the assistant's tokens for
/// training masks) has no meaning here: keep its body, drop the tag.
fn strip_generation_tags(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find("{%") {
        out.push_str(&rest[..start]);
        let tag = &rest[start..];
        let Some(end) = tag.find("%}") else {
            out.push_str(tag);
            return out;
        };
        let inner = tag[2..end].trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        if inner == "generation" || inner == "endgeneration" {
            let open = if tag[2..].starts_with('-') { "{%-" } else { "{%" };
            let close = if tag[..end].ends_with('-') { "-%}" } else { "%}" };
            let body = if inner == "generation" { " if true " } else { " endif " };
            out.push_str(open);
            out.push_str(body);
            out.push_str(close);
        } else {
            out.push_str(&tag[..end + 2]);
        }
        rest = &tag[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Hugging Face's `tojson`: `json.dumps(x, ensure_ascii=False, indent=indent)`, so no HTML escaping,
/// Python's `", "` / `": "` separators without an indent. (Map keys come out sorted.)
fn tojson(value: &Value, indent: Option<usize>, kwargs: Kwargs) -> Result<Value, minijinja::Error> {
    let indent = match indent {
        Some(n) => Some(n),
        None => kwargs.get::<Option<usize>>("indent")?,
    };
    // Accepted for compatibility; keys are always sorted and separators are Python's defaults.
    let _: Option<Value> = kwargs.get("sort_keys")?;
    let _: Option<Value> = kwargs.get("separators")?;
    kwargs.assert_all_used()?;
    let json = value_to_json(value)?;
    let mut buf = Vec::new();
    let written = match indent {
        Some(n) => {
            let pad = vec![b' '; n];
            let fmt = serde_json::ser::PrettyFormatter::with_indent(&pad);
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
            json.serialize(&mut ser)
        }
        None => {
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, PythonCompact);
            json.serialize(&mut ser)
        }
    };
    written.map_err(|e| minijinja::Error::new(ErrorKind::BadSerialization, e.to_string()))?;
    Ok(Value::from_safe_string(String::from_utf8_lossy(&buf).into_owned()))
}

/// `json.dumps`'s default separators: `", "` and `": "`.
struct PythonCompact;

impl serde_json::ser::Formatter for PythonCompact {
    fn begin_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
}

fn value_to_json(v: &Value) -> Result<Json, minijinja::Error> {
    Ok(match v.kind() {
        ValueKind::Undefined | ValueKind::None => Json::Null,
        ValueKind::Bool => Json::Bool(v.is_true()),
        ValueKind::Number => match v.as_i64() {
            Some(i) => Json::from(i),
            None => {
                f64::try_from(v.clone()).ok().and_then(serde_json::Number::from_f64).map_or(Json::Null, Json::Number)
            }
        },
        ValueKind::String => Json::String(v.as_str().unwrap_or_default().to_owned()),
        ValueKind::Bytes => Json::String(String::from_utf8_lossy(v.as_bytes().unwrap_or_default()).into_owned()),
        ValueKind::Seq | ValueKind::Iterable => {
            Json::Array(v.try_iter()?.map(|x| value_to_json(&x)).collect::<Result<_, _>>()?)
        }
        ValueKind::Map => {
            let mut m = serde_json::Map::new();
            for k in v.try_iter()? {
                let item = v.get_item(&k)?;
                let key = k.as_str().map_or_else(|| k.to_string(), str::to_owned);
                m.insert(key, value_to_json(&item)?);
            }
            Json::Object(m)
        }
        _ => Json::String(v.to_string()),
    })
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// Python's `strftime` for the common fields, in UTC, for `secs` since the Unix epoch. Unknown
/// fields are written as they are.
fn strftime(fmt: &str, secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (sod / 3600, sod % 3600 / 60, sod % 60);
    let wd = (days + 4).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
    let month = MONTHS[(m - 1) as usize];
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&y.to_string()),
            Some('y') => out.push_str(&format!("{:02}", y.rem_euclid(100))),
            Some('m') => out.push_str(&format!("{m:02}")),
            Some('d') => out.push_str(&format!("{d:02}")),
            Some('e') => out.push_str(&format!("{d:2}")),
            Some('B') => out.push_str(month),
            Some('b') | Some('h') => out.push_str(&month[..3]),
            Some('A') => out.push_str(WEEKDAYS[wd]),
            Some('a') => out.push_str(&WEEKDAYS[wd][..3]),
            Some('H') => out.push_str(&format!("{hh:02}")),
            Some('I') => out.push_str(&format!("{:02}", (hh + 11) % 12 + 1)),
            Some('p') => out.push_str(if hh < 12 { "AM" } else { "PM" }),
            Some('M') => out.push_str(&format!("{mm:02}")),
            Some('S') => out.push_str(&format!("{ss:02}")),
            Some('F') => out.push_str(&format!("{y:04}-{m:02}-{d:02}")),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// (year, month 1–12, day 1–31) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(rel: &str) -> Option<PathBuf> {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/models").join(rel);
        if p.exists() {
            Some(p)
        } else {
            eprintln!("skipped: {} is absent", p.display());
            None
        }
    }

    fn smollm() -> Option<ChatTokenizer> {
        Some(ChatTokenizer::from_dir(&shared("smollm2-135m-instruct")?).unwrap())
    }

    fn llama3() -> Option<ChatTokenizer> {
        let dir = shared("llama3-tokenizer")?;
        Some(
            ChatTokenizer::from_files(
                &dir.join("tokenizer.json"),
                Some(&dir.join("tokenizer_config.json")),
                None,
                None,
            )
            .unwrap(),
        )
    }

    fn conversation() -> Vec<Message> {
        vec![Message::system("You answer questions about lectures."), Message::user("What is a tensor?")]
    }

    /// A folder like the shared SmolLM2 one, with files changed or left out.
    fn smollm_copy(skip: &[&str], replace: &[(&str, &str)]) -> Option<tempfile::TempDir> {
        let src = shared("smollm2-135m-instruct")?;
        let tmp = tempfile::tempdir().unwrap();
        for name in ["tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "genai_config.json"] {
            if !skip.contains(&name) {
                std::fs::copy(src.join(name), tmp.path().join(name)).unwrap();
            }
        }
        for (name, text) in replace {
            std::fs::write(tmp.path().join(name), text).unwrap();
        }
        Some(tmp)
    }

    #[test]
    fn smollm2_chatml_renders_system_and_user_with_generation_prompt() {
        let Some(tok) = smollm() else { return };
        assert_eq!(
            tok.render(&conversation(), true).unwrap(),
            "<|im_start|>system\nYou answer questions about lectures.<|im_end|>\n\
             <|im_start|>user\nWhat is a tensor?<|im_end|>\n<|im_start|>assistant\n"
        );
        // Without a system message the template supplies its own; without the prompt no header.
        let r = tok.render(&[Message::user("Hi")], false).unwrap();
        assert!(r.starts_with("<|im_start|>system\nYou are a helpful AI assistant named SmolLM"), "{r}");
        assert!(r.ends_with("<|im_start|>user\nHi<|im_end|>\n"), "{r}");
    }

    #[test]
    fn smollm2_encode_chat_ends_with_the_assistant_header() {
        let Some(tok) = smollm() else { return };
        let ids = tok.encode_chat(&conversation()).unwrap();
        let header = tok.encode("<|im_start|>assistant\n").unwrap();
        assert_eq!(header[0], tok.token_id("<|im_start|>").unwrap());
        assert!(ids.ends_with(&header), "{ids:?} does not end with {header:?}");
        assert_eq!(ids[0], 1, "starts with <|im_start|>");
        assert_eq!(ids.iter().filter(|&&i| i == 1).count(), 3, "one <|im_start|> per turn");
        assert_eq!(
            tok.decode(&ids).unwrap(),
            "system\nYou answer questions about lectures.\nuser\nWhat is a tensor?\nassistant\n"
        );
    }

    #[test]
    fn smollm2_end_of_turn_is_im_end() {
        let Some(tok) = smollm() else { return };
        assert_eq!(tok.end_of_turn_ids()[0], 2);
        assert!(tok.end_of_turn_ids().iter().all(|&id| id == 2 || id == 0), "{:?}", tok.end_of_turn_ids());
        assert_eq!(tok.bos_id(), Some(1));
        assert_eq!(tok.vocab_size(), 49152);
        assert_eq!(tok.context_length(), Some(8192));
        assert!(tok.is_end_of_turn(2));
    }

    #[test]
    fn installed_smollm2_with_manifest_agrees_with_the_bare_folder() {
        let Some(home) = std::env::var_os("HOME") else { return };
        let dir = Path::new(&home).join(".local/share/kogi/models/smollm2-135m-instruct");
        let Some(bare) = smollm() else { return };
        if !dir.join("manifest.json").is_file() {
            eprintln!("skipped: {} has no manifest", dir.display());
            return;
        }
        let tok = ChatTokenizer::from_dir(&dir).unwrap();
        assert_eq!(tok.end_of_turn_ids()[0], 2);
        assert_eq!(tok.bos_id(), Some(1));
        assert_eq!(tok.encode_chat(&conversation()).unwrap(), bare.encode_chat(&conversation()).unwrap());
    }

    #[test]
    fn llama3_renders_headers_and_generation_prompt() {
        let Some(tok) = llama3() else { return };
        let r = tok.render(&conversation(), true).unwrap();
        assert!(r.starts_with("<|begin_of_text|><|start_header_id|>system<|end_header_id|>"), "{r}");
        assert!(r.ends_with("<|start_header_id|>assistant<|end_header_id|>\n\n"), "{r}");
        assert_eq!(
            r,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou answer questions about lectures.<|eot_id|>\
             <|start_header_id|>user<|end_header_id|>\n\nWhat is a tensor?<|eot_id|>\
             <|start_header_id|>assistant<|end_header_id|>\n\n"
        );
    }

    #[test]
    fn llama3_encode_chat_has_exactly_one_bos() {
        let Some(tok) = llama3() else { return };
        assert_eq!(tok.bos_id(), Some(128000));
        assert!(tok.tokenizer_adds_bos, "the Llama 3 post-processor adds BOS");
        let ids = tok.encode_chat(&conversation()).unwrap();
        assert_eq!(ids[0], 128000);
        assert_eq!(ids.iter().filter(|&&i| i == 128000).count(), 1, "{ids:?}");
        let header = tok.encode("<|start_header_id|>assistant<|end_header_id|>\n\n").unwrap();
        assert!(ids.ends_with(&header));
        // Plain encoding adds nothing.
        assert!(!tok.encode("hello").unwrap().contains(&128000));
    }

    #[test]
    fn llama3_end_of_turn_includes_eot_id() {
        let Some(tok) = llama3() else { return };
        let eot = tok.end_of_turn_ids();
        assert_eq!(eot[0], 128009, "{eot:?}");
        for id in [128009, 128001] {
            assert!(eot.contains(&id), "{eot:?} lacks {id}");
        }
        // This vocabulary is Llama 3.0's: 128008 is a reserved token there, not `<|eom_id|>`, and
        // only a real end token (or one genai_config names) may stop generation.
        assert_eq!(eot.contains(&128008), tok.token_id("<|eom_id|>") == Some(128008), "{eot:?}");
    }

    /// The Llama 3.1/3.2 template's parts that plain ChatML lacks: `bos_token`, `strftime_now`,
    /// `tools`, `raise_exception`, `messages[1:]`, `|trim`, `tojson`, whitespace control.
    const LLAMA31_STYLE: &str = r#"{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\n" }}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}
{%- for message in messages %}
    {%- if message.role not in ['user', 'assistant', 'system'] %}
        {{- raise_exception("Unknown role: " + message.role) }}
    {%- endif %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}
"#;

    #[test]
    fn llama31_style_template_renders_with_date_tools_and_exceptions() {
        let Some(dir) = shared("llama3-tokenizer") else { return };
        let tmp = tempfile::tempdir().unwrap();
        let template = tmp.path().join("chat_template.jinja");
        std::fs::write(&template, LLAMA31_STYLE).unwrap();
        let genai = tmp.path().join("genai_config.json");
        std::fs::write(&genai, r#"{"model": {"bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "context_length": 131072}}"#).unwrap();
        let tok = ChatTokenizer::from_files(
            &dir.join("tokenizer.json"),
            Some(&dir.join("tokenizer_config.json")),
            Some(&template),
            Some(&genai),
        )
        .unwrap();
        let r = tok.render(&conversation(), true).unwrap();
        assert!(r.starts_with("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: "), "{r}");
        assert!(!r.contains("Environment: ipython"), "tools is none: {r}");
        assert!(r.contains("\n\nYou answer questions about lectures.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhat is a tensor?<|eot_id|>"), "{r}");
        assert!(r.ends_with("<|start_header_id|>assistant<|end_header_id|>\n\n"), "{r}");
        let ids = tok.encode_chat(&conversation()).unwrap();
        assert_eq!(ids.iter().filter(|&&i| i == 128000).count(), 1);
        assert_eq!(tok.end_of_turn_ids()[..3], [128001, 128008, 128009]);
        assert_eq!(tok.context_length(), Some(131072));

        let err = tok.render(&[Message::new("robot", "beep")], true).unwrap_err().to_string();
        assert!(err.contains("Unknown role: robot") && err.contains("chat_template.jinja"), "{err}");
    }

    #[test]
    fn template_gets_python_string_methods_and_list_templates() {
        let Some(tmp) = smollm_copy(&["chat_template.jinja"], &[]) else { return };
        let config: Json =
            serde_json::from_str(&std::fs::read_to_string(tmp.path().join("tokenizer_config.json")).unwrap()).unwrap();
        let mut config = config.as_object().unwrap().clone();
        config.insert(
            "chat_template".into(),
            serde_json::json!([
                {"name": "tool_use", "template": "{{ raise_exception('wrong one') }}"},
                {"name": "default", "template": "{% for m in messages %}{{ m.role.upper() }}:{{ m.content.strip().split(' ')|join('_') }}|{% endfor %}{% if add_generation_prompt %}{{ bos_token }}{% endif %}"}
            ]),
        );
        std::fs::write(tmp.path().join("tokenizer_config.json"), serde_json::to_string(&config).unwrap()).unwrap();
        let tok = ChatTokenizer::from_dir(tmp.path()).unwrap();
        assert!(tok.template_origin().contains("'default'"), "{}", tok.template_origin());
        assert_eq!(tok.render(&[Message::user("  a b c ")], true).unwrap(), "USER:a_b_c|<|im_start|>");
    }

    #[test]
    fn broken_template_is_an_error_naming_the_file() {
        let Some(tmp) = smollm_copy(&[], &[("chat_template.jinja", "{% for m in messages %}{{ m.content }")]) else {
            return;
        };
        let err = ChatTokenizer::from_dir(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("chat_template.jinja") && err.contains("does not compile"), "{err}");

        // Compiles, but fails when rendered.
        let Some(tmp) = smollm_copy(&[], &[("chat_template.jinja", "{{ messages[0].content | no_such_filter }}")])
        else {
            return;
        };
        let err = ChatTokenizer::from_dir(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("chat_template.jinja"), "{err}");
    }

    #[test]
    fn missing_tokenizer_json_is_an_error_naming_it() {
        let Some(tmp) = smollm_copy(&["tokenizer.json"], &[]) else { return };
        let err = ChatTokenizer::from_dir(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("tokenizer.json") && err.contains("missing"), "{err}");
    }

    #[test]
    fn missing_template_everywhere_is_an_error_saying_what_to_do() {
        let Some(tmp) = smollm_copy(&["chat_template.jinja"], &[]) else { return };
        let err = ChatTokenizer::from_dir(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("no chat template") && err.contains("chat_template.jinja"), "{err}");
    }

    #[test]
    fn end_of_turn_without_genai_config_comes_from_tokenizer_config() {
        let Some(tmp) = smollm_copy(&["genai_config.json"], &[]) else { return };
        let tok = ChatTokenizer::from_dir(tmp.path()).unwrap();
        assert_eq!(tok.end_of_turn_ids()[0], 2);
        assert_eq!(tok.bos_id(), Some(1));
    }

    #[test]
    fn stream_decoder_yields_the_exact_text_without_split_characters() {
        let Some(tok) = smollm() else { return };
        let text = "推論時の計算資源は限られている 🎉😀 done.";
        let ids = tok.encode(text).unwrap();
        let mut dec = StreamDecoder::new(&tok);
        let mut out = String::new();
        let mut held = 0;
        for &id in &ids {
            let chunk = dec.push(id).unwrap();
            assert!(!chunk.contains(char::REPLACEMENT_CHARACTER), "chunk {chunk:?}");
            if chunk.is_empty() {
                held += 1;
            }
            out.push_str(&chunk);
        }
        out.push_str(&dec.finish().unwrap());
        assert_eq!(out, text);
        assert!(held > 0, "byte-level BPE splits some of these characters across tokens");

        // Special tokens are left out of the stream, and the decoder is reusable after finish.
        let mut ids = tok.encode("<|im_start|>assistant\n計算").unwrap();
        ids.push(2);
        let streamed: String = ids.iter().map(|&id| dec.push(id).unwrap()).collect::<String>() + &dec.finish().unwrap();
        assert_eq!(streamed, "assistant\n計算");
    }

    #[test]
    fn stream_decoder_drops_a_character_left_partial_at_finish() {
        let Some(tok) = smollm() else { return };
        let ids = tok.encode("資").unwrap();
        if ids.len() < 2 {
            eprintln!("skipped: 資 is one token");
            return;
        }
        let mut dec = StreamDecoder::new(&tok);
        assert_eq!(dec.push(ids[0]).unwrap(), "");
        assert_eq!(dec.finish().unwrap(), "");
    }

    #[test]
    fn ids_for_yes_include_its_spellings() {
        let Some(tok) = smollm() else { return };
        let ids = tok.ids_for_words(&["yes"]);
        for t in ["yes", "ĠYes", "Yes", "Ġyes"] {
            let id = tok.token_id(t).unwrap();
            assert!(ids.contains(&id), "{t} ({id}) not in {ids:?}");
        }
        assert!(!ids.contains(&tok.token_id("Ġno").unwrap()));
        for id in &ids {
            assert_eq!(tok.decode(&[*id]).unwrap().trim().to_lowercase(), "yes");
        }
        assert!(tok.ids_for_words(&[" "]).is_empty());
    }

    #[test]
    fn chat_tokenizer_can_be_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<ChatTokenizer>();
        assert_send_sync::<StreamDecoder<'static>>();
    }

    #[test]
    fn strftime_formats_a_fixed_instant() {
        // 2024-07-26 13:05:09 UTC, a Friday.
        let t = 1_721_999_109;
        assert_eq!(strftime("%d %b %Y", t), "26 Jul 2024");
        assert_eq!(
            strftime("%A %a %B %m %y %H:%M:%S %I%p %F %%", t),
            "Friday Fri July 07 24 13:05:09 01PM 2024-07-26 %"
        );
        assert_eq!(strftime("%d %b %Y", 0), "01 Jan 1970");
        assert_eq!(strftime("%F", 951_782_400), "2000-02-29");
    }

    #[test]
    fn generation_tags_are_dropped_and_tojson_is_pythonic() {
        assert_eq!(
            strip_generation_tags("a{%- generation %}b{% endgeneration -%}c{% if x %}"),
            "a{%- if true %}b{% endif -%}c{% if x %}"
        );
        let env = template_env(
            "t",
            "{{ x | tojson }}|{{ x | tojson(indent=2) }}|{% generation %}g{% endgeneration %}".into(),
        )
        .unwrap();
        let x = Value::from(BTreeMap::from([("a", Value::from(vec![1, 2])), ("b", Value::from("<é>"))]));
        let out = env.get_template("t").unwrap().render(BTreeMap::from([("x", x)])).unwrap();
        assert_eq!(out, "{\"a\": [1, 2], \"b\": \"<é>\"}|{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": \"<é>\"\n}|g");
    }
}
