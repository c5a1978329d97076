//! Sentence embeddings on ONNX Runtime: batched by length with dynamic padding, mean-pooled,
//! L2-normalised, with the model's query/passage prefixes.

use super::manifest::{ModelDir, REBUILD_HINT};
use super::runtime::{ProviderReport, SessionConfig, open_session};
use super::{Embed, Role, TokenSpans};
use crate::text::CharSpan;
use crate::{Error, Result};
use ort::session::Session;
use ort::value::Tensor;
use std::sync::Mutex;
use tokenizers::{Tokenizer, TruncationParams};

pub struct OnnxEmbedder {
    session: Mutex<Session>,
    tokenizer: Tokenizer,
    model: ModelDir,
    id: String,
    dims: usize,
    uses_token_type_ids: bool,
    pub provider: ProviderReport,
    /// Most padded tokens per batch (batch × longest): bounds memory and wasted work.
    pub max_batch_tokens: usize,
    /// Most texts per batch.
    pub max_batch: usize,
}

impl OnnxEmbedder {
    pub fn open(model: ModelDir, config: &SessionConfig) -> Result<Self> {
        model.check()?;
        let name = model.manifest.name.clone();
        let merr = |message: String| Error::Model { model: name.clone(), message };
        let tokenizer_path = model.file("tokenizer")?;
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path).map_err(|e| {
            merr(format!("{} cannot be read: {e} — {REBUILD_HINT}", tokenizer_path.display()))
        })?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: model.manifest.max_length, ..Default::default() }))
            .map_err(|e| merr(e.to_string()))?;
        // A damaged file fails to load: name it precisely by its checksum.
        // Batches come in every shape: a CUDA graph captured on one would replay it for the others.
        let config = &SessionConfig { cuda_graph: false, ..config.clone() };
        let (session, provider) = open_session(&model.file("model")?, config)
            .map_err(|e| model.verify().err().unwrap_or(e))?;
        let uses_token_type_ids = session.inputs().iter().any(|i| i.name() == "token_type_ids");
        let dims = model.manifest.dimensions.unwrap_or(384);
        let id = model.id();
        // A GPU is only busy with large batches; its memory holds them easily.
        let gpu = matches!(provider.in_use, super::runtime::Provider::Cuda | super::runtime::Provider::TensorRt);
        let (max_batch, max_batch_tokens) = if gpu { (256, 128 * 1024) } else { (64, 16 * 1024) };
        Ok(Self {
            session: Mutex::new(session),
            tokenizer,
            model,
            id,
            dims,
            uses_token_type_ids,
            provider,
            max_batch_tokens,
            max_batch,
        })
    }

    pub fn model(&self) -> &ModelDir {
        &self.model
    }

    fn prefix(&self, role: Role) -> &str {
        let m = &self.model.manifest;
        match role {
            Role::Query => m.query_prefix.as_deref().unwrap_or(""),
            Role::Passage => m.passage_prefix.as_deref().unwrap_or(""),
        }
    }

    fn run_batch(&self, ids: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let b = ids.len();
        let s = ids.iter().map(|x| x.len()).max().unwrap_or(0).max(1);
        let mut input = vec![1i64; b * s]; // pad id; masked out anyway
        let mut mask = vec![0i64; b * s];
        for (row, seq) in ids.iter().enumerate() {
            for (j, &t) in seq.iter().enumerate() {
                input[row * s + j] = t as i64;
                mask[row * s + j] = 1;
            }
        }
        let rt = |e: ort::Error| Error::Runtime(e.to_string());
        let shape = [b as i64, s as i64];
        let mut inputs = ort::inputs![
            "input_ids" => Tensor::from_array((shape, input)).map_err(rt)?,
            "attention_mask" => Tensor::from_array((shape, mask.clone())).map_err(rt)?,
        ];
        if self.uses_token_type_ids {
            inputs.push(("token_type_ids".into(), Tensor::from_array((shape, vec![0i64; b * s])).map_err(rt)?.into()));
        }
        let mut session = self.session.lock().map_err(|_| Error::Runtime("embedder session poisoned".into()))?;
        let outputs = session.run(inputs).map_err(rt)?;
        // fp16 models (GPU) give fp16 outputs.
        let (oshape, data): (Vec<i64>, std::borrow::Cow<'_, [f32]>) = match outputs[0].try_extract_tensor::<f32>() {
            Ok((shape, data)) => (shape.to_vec(), std::borrow::Cow::Borrowed(data)),
            Err(_) => {
                let (shape, data) = outputs[0].try_extract_tensor::<half::f16>().map_err(rt)?;
                (shape.to_vec(), std::borrow::Cow::Owned(data.iter().map(|x| x.to_f32()).collect()))
            }
        };
        let mut out = Vec::with_capacity(b);
        if oshape.len() == 2 {
            // Already pooled [batch, dims].
            let h = oshape[1] as usize;
            for row in 0..b {
                out.push(normalise(data[row * h..(row + 1) * h].to_vec()));
            }
        } else {
            let h = oshape[2] as usize;
            for row in 0..b {
                let mut v = vec![0f32; h];
                let mut n = 0f32;
                for j in 0..s {
                    if mask[row * s + j] == 1 {
                        let base = (row * s + j) * h;
                        for (k, x) in v.iter_mut().enumerate() {
                            *x += data[base + k];
                        }
                        n += 1.0;
                    }
                }
                v.iter_mut().for_each(|x| *x /= n.max(1.0));
                out.push(normalise(v));
            }
        }
        Ok(out)
    }
}

fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    v
}

impl Embed for OnnxEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }
    fn dimensions(&self) -> usize {
        self.dims
    }
    fn embed(&self, texts: &[&str], role: Role) -> Result<Vec<Vec<f32>>> {
        let prefix = self.prefix(role);
        let inputs: Vec<String> = texts.iter().map(|t| format!("{prefix}{t}")).collect();
        let encodings = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(|e| Error::Model { model: self.model.manifest.name.clone(), message: e.to_string() })?;
        let ids: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();
        // Sorting by length makes each batch's padding small.
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| (ids[i].len(), i));
        let mut out = vec![Vec::new(); ids.len()];
        let mut start = 0;
        while start < order.len() {
            let mut end = start + 1;
            while end < order.len() && ids[order[end]].len() * (end + 1 - start) <= self.max_batch_tokens && end - start < self.max_batch {
                end += 1;
            }
            let batch: Vec<&[u32]> = order[start..end].iter().map(|&i| ids[i]).collect();
            for (k, v) in self.run_batch(&batch)?.into_iter().enumerate() {
                out[order[start + k]] = v;
            }
            start = end;
        }
        Ok(out)
    }
}

impl TokenSpans for OnnxEmbedder {
    fn token_spans(&self, text: &str) -> Result<Vec<CharSpan>> {
        let mut tok = self.tokenizer.clone();
        tok.with_truncation(None).map_err(|e| Error::Runtime(e.to_string()))?;
        let enc = tok
            .encode_char_offsets(text, false)
            .map_err(|e| Error::Model { model: self.model.manifest.name.clone(), message: e.to_string() })?;
        Ok(enc.get_offsets().iter().filter(|(a, b)| b > a).map(|&(a, b)| CharSpan::new(a, b)).collect())
    }
}
