//! Whisper speech recognition on ONNX Runtime: an encoder run once per 30-second window (it also
//! gives every decoder layer's cross-attention keys and values), and a decoder with a KV cache,
//! decoded greedily with the timestamp rules faster-whisper applies (`rules`).

pub mod mel;
pub mod rules;

use super::manifest::{ModelDir, REBUILD_HINT};
use super::runtime::{ProviderReport, SessionConfig, open_session};
use super::{Transcribe, WindowText};
use crate::{Error, Result};
use ort::session::Session;
use ort::value::{DynValue, Tensor};
use rules::{Piece, Specials};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokenizers::Tokenizer;

pub struct WhisperModel {
    encoder: Mutex<Session>,
    decoder: Mutex<Session>,
    tokenizer: Tokenizer,
    specials: Specials,
    languages: BTreeMap<String, u32>,
    suppress: Vec<u32>,
    suppress_begin: Vec<u32>,
    filters: Arc<Vec<f32>>,
    layers: usize,
    heads: usize,
    head_dim: usize,
    id: String,
    pub provider: ProviderReport,
}

/// Which weights to run: int8 (the CPU default: a quarter of the memory traffic) or fp32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    Int8,
    Fp32,
}

impl WhisperModel {
    pub fn open(model: ModelDir, config: &SessionConfig, precision: Precision) -> Result<Self> {
        model.check()?;
        let m = &model.manifest;
        let merr = |message: String| Error::Model { model: m.name.clone(), message };
        let field = |k: &str| m.extra.get(k).ok_or_else(|| merr(format!("the manifest lacks `{k}` — {REBUILD_HINT}")));
        let num = |k: &str| -> Result<usize> { field(k)?.as_u64().map(|v| v as usize).ok_or_else(|| merr(format!("`{k}` is not a number"))) };
        let ids = |k: &str| -> Result<Vec<u32>> { serde_json::from_value(field(k)?.clone()).map_err(|e| merr(format!("`{k}`: {e}"))) };
        let special: BTreeMap<String, u32> = serde_json::from_value(field("special_tokens")?.clone()).map_err(|e| merr(format!("`special_tokens`: {e}")))?;
        let sp = |k: &str| special.get(k).copied().ok_or_else(|| merr(format!("`special_tokens` lacks `{k}`")));
        let specials = Specials {
            sot: sp("sot")?,
            eot: sp("eot")?,
            transcribe: sp("transcribe")?,
            no_timestamps: sp("no_timestamps")?,
            timestamp_begin: sp("timestamp_begin")?,
            no_speech: sp("no_speech")?,
        };
        let languages: BTreeMap<String, u32> = serde_json::from_value(field("language_tokens")?.clone()).map_err(|e| merr(format!("`language_tokens`: {e}")))?;
        let tokenizer_path = model.file("tokenizer")?;
        let tokenizer = Tokenizer::from_file(&tokenizer_path).map_err(|e| merr(format!("{} cannot be read: {e} — {REBUILD_HINT}", tokenizer_path.display())))?;
        let filters_path = model.file("mel_filters")?;
        let bytes = std::fs::read(&filters_path).map_err(|e| merr(format!("{}: {e}", filters_path.display())))?;
        let filters: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        let n_mels = m.extra.get("n_mels").and_then(|v| v.as_u64()).unwrap_or(mel::N_MELS as u64) as usize;
        if filters.len() != n_mels * (mel::N_FFT / 2 + 1) {
            return Err(merr(format!("{} holds {} values, not {n_mels} × 201 — {REBUILD_HINT}", filters_path.display(), filters.len())));
        }
        let (enc, dec) = match precision {
            Precision::Int8 => ("encoder_int8", "decoder_int8"),
            Precision::Fp32 => ("encoder", "decoder"),
        };
        // Windows all have one shape, but the decoder's cache grows every step.
        let config = &SessionConfig { cuda_graph: false, ..config.clone() };
        let (encoder, provider) = open_session(&model.file(enc)?, config).map_err(|e| model.verify().err().unwrap_or(e))?;
        let (decoder, _) = open_session(&model.file(dec)?, config).map_err(|e| model.verify().err().unwrap_or(e))?;
        let precision_name = match precision {
            Precision::Int8 => "int8",
            Precision::Fp32 => "fp32",
        };
        Ok(Self {
            encoder: Mutex::new(encoder),
            decoder: Mutex::new(decoder),
            tokenizer,
            specials,
            languages,
            suppress: ids("suppress_tokens")?,
            suppress_begin: ids("suppress_tokens_at_begin")?,
            filters: Arc::new(filters),
            layers: num("n_layers")?,
            heads: num("n_heads")?,
            head_dim: num("head_dim")?,
            id: format!("{}:{precision_name}", model.id()),
            provider,
        })
    }

    /// The cross-attention keys and values of one window [80 × 3000], layer by layer (key, value).
    fn encode(&self, window: &[f32]) -> Result<Vec<DynValue>> {
        let rt = |e: ort::Error| Error::Runtime(e.to_string());
        let n_mels = window.len() / mel::WINDOW_FRAMES;
        let input = Tensor::from_array(([1i64, n_mels as i64, mel::WINDOW_FRAMES as i64], window.to_vec())).map_err(rt)?;
        let mut session = self.encoder.lock().map_err(|_| Error::Runtime("whisper encoder poisoned".into()))?;
        let mut outputs = session.run(ort::inputs!["input_features" => input]).map_err(rt)?;
        let mut cross = Vec::with_capacity(2 * self.layers);
        for i in 0..self.layers {
            for kind in ["key", "value"] {
                let name = format!("cross_{kind}.{i}");
                cross.push(outputs.remove(name.as_str()).ok_or_else(|| Error::Runtime(format!("the encoder gave no {name}")))?);
            }
        }
        Ok(cross)
    }

    /// Feed `ids` after the cached tokens: the last position's logits and the grown cache.
    fn step(&self, ids: &[u32], past: Option<Vec<DynValue>>, cross: &[DynValue]) -> Result<(Vec<f32>, Vec<DynValue>)> {
        let rt = |e: ort::Error| Error::Runtime(e.to_string());
        let input = Tensor::from_array(([1i64, ids.len() as i64], ids.iter().map(|&t| t as i64).collect::<Vec<_>>())).map_err(rt)?;
        let past = match past {
            Some(p) => p,
            None => {
                let empty = || Tensor::<f32>::from_array(([1i64, self.heads as i64, 0, self.head_dim as i64], Vec::<f32>::new())).map(|t| t.into_dyn());
                (0..2 * self.layers).map(|_| empty().map_err(rt)).collect::<Result<Vec<_>>>()?
            }
        };
        let mut feed: Vec<(std::borrow::Cow<'_, str>, ort::session::SessionInputValue<'_>)> = vec![("input_ids".into(), input.into())];
        for (j, value) in past.into_iter().enumerate() {
            let kind = if j % 2 == 0 { "key" } else { "value" };
            feed.push((format!("past_{kind}.{}", j / 2).into(), value.into()));
        }
        for (j, value) in cross.iter().enumerate() {
            let kind = if j % 2 == 0 { "key" } else { "value" };
            feed.push((format!("cross_{kind}.{}", j / 2).into(), value.into()));
        }
        let mut session = self.decoder.lock().map_err(|_| Error::Runtime("whisper decoder poisoned".into()))?;
        let mut outputs = session.run(feed).map_err(rt)?;
        let logits = outputs["logits"].try_extract_tensor::<f32>().map_err(rt)?.1.to_vec();
        let mut present = Vec::with_capacity(2 * self.layers);
        for i in 0..self.layers {
            for kind in ["key", "value"] {
                let name = format!("present_{kind}.{i}");
                present.push(outputs.remove(name.as_str()).ok_or_else(|| Error::Runtime(format!("the decoder gave no {name}")))?);
            }
        }
        Ok((logits, present))
    }

    /// Greedy decoding of one window: tokens (without `<|endoftext|>`), P(no speech), mean log-prob.
    pub fn decode_window(&self, window: &[f32], language: u32) -> Result<(Vec<u32>, f32, f32)> {
        let sp = &self.specials;
        let cross = self.encode(window)?;
        // <|startoftranscript|> alone first: the logits after it give P(<|nocaptions|>).
        let (mut logits, cache) = self.step(&[sp.sot], None, &cross)?;
        let no_speech = log_softmax_copy(&logits)[sp.no_speech as usize].exp();
        let (l, mut cache) = self.step(&[language, sp.transcribe], Some(cache), &cross)?;
        logits = l;
        let mut tokens = Vec::new();
        let mut sum = 0.0f32;
        for i in 0..rules::SAMPLE_LEN {
            rules::suppress(&mut logits, &tokens, sp, &self.suppress, &self.suppress_begin);
            rules::log_softmax(&mut logits);
            let (t, lp) = logits.iter().enumerate().fold((0usize, f32::NEG_INFINITY), |b, (j, &v)| if v > b.1 { (j, v) } else { b });
            sum += lp;
            if t as u32 == sp.eot {
                break;
            }
            tokens.push(t as u32);
            if i + 1 < rules::SAMPLE_LEN {
                let (l, c) = self.step(&[t as u32], Some(cache), &cross)?;
                logits = l;
                cache = c;
            }
        }
        let avg = sum / (tokens.len() + 1) as f32;
        Ok((tokens, no_speech, avg))
    }
}

fn log_softmax_copy(x: &[f32]) -> Vec<f32> {
    let mut v = x.to_vec();
    rules::log_softmax(&mut v);
    v
}

impl Transcribe for WhisperModel {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn mel_filters(&self) -> Arc<Vec<f32>> {
        self.filters.clone()
    }

    fn detect_language(&self, window: &[f32]) -> Result<(String, f32)> {
        let cross = self.encode(window)?;
        let (logits, _) = self.step(&[self.specials.sot], None, &cross)?;
        let scores: Vec<(&String, f32)> = self.languages.iter().map(|(code, &id)| (code, logits[id as usize])).collect();
        let mut lp: Vec<f32> = scores.iter().map(|s| s.1).collect();
        rules::log_softmax(&mut lp);
        let best = lp.iter().enumerate().fold(0, |b, (i, &v)| if v > lp[b] { i } else { b });
        Ok((scores[best].0.clone(), lp[best].exp()))
    }

    fn knows_language(&self, code: &str) -> bool {
        self.languages.contains_key(code)
    }

    fn window(&self, window: &[f32], frames: usize, language: &str) -> Result<WindowText> {
        let lang = *self.languages.get(language).ok_or_else(|| Error::Invalid(format!("Whisper has no language \"{language}\"")))?;
        let (tokens, no_speech, avg) = self.decode_window(window, lang)?;
        if no_speech > rules::NO_SPEECH_THRESHOLD && avg <= rules::LOG_PROB_THRESHOLD {
            return Ok(WindowText { pieces: Vec::new(), advance: frames, tokens });
        }
        let (pieces, advance) = rules::split(&tokens, frames, self.specials.timestamp_begin);
        let eot = self.specials.eot;
        let pieces = pieces
            .into_iter()
            .filter_map(|Piece { start, end, tokens }| {
                let text: Vec<u32> = tokens.into_iter().filter(|&t| t < eot).collect();
                let text = self.tokenizer.decode(&text, true).ok()?;
                (start != end && !text.trim().is_empty()).then_some((start, end, text))
            })
            .collect();
        Ok(WindowText { pieces, advance, tokens })
    }
}
