//! Embeddings from a server's `/v1/embeddings`. Vectors are cached per model as with a local
//! embedder (the model id names the server and model), so switching re-embeds only what is missing.

use super::client::Client;
use crate::inference::{Embed, Role, TextEmbedder, TokenSpans};
use crate::text::CharSpan;
use crate::{Error, Result};
use serde_json::{Value, json};
use std::sync::Arc;

/// Texts per request.
const BATCH: usize = 32;

pub struct ServerEmbedder {
    client: Arc<Client>,
    model: String,
    id: String,
    dimensions: usize,
}

impl ServerEmbedder {
    /// Connect and learn the vectors' size from one embedding.
    pub fn open(client: Arc<Client>, model: &str) -> Result<Self> {
        let id = format!("server:{}/{model}", client.host());
        let mut e = Self { client, model: model.to_owned(), id, dimensions: 0 };
        e.dimensions = e.embed(&["kogi"], Role::Passage)?.first().map(|v| v.len()).unwrap_or(0);
        if e.dimensions == 0 {
            return Err(e.client.fault(format!("the embedding model {model:?} gave an empty vector")));
        }
        Ok(e)
    }

    fn batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let c = self.client.clone();
        let body = json!({"model": self.model, "input": texts, "encoding_format": "float"});
        let v = self.client.block_on(async move { c.post_json(c.endpoint("embeddings"), &body).await })?;
        let data = v.get("data").and_then(|d| d.as_array()).ok_or_else(|| self.client.fault("answered embeddings without their data".into()))?;
        let mut out: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
        for (i, item) in data.iter().enumerate() {
            let at = item.get("index").and_then(|x| x.as_u64()).map(|x| x as usize).unwrap_or(i);
            let vector = item.get("embedding").and_then(|e| e.as_array()).map(|a| pooled(a));
            if let (Some(slot), Some(vector)) = (out.get_mut(at), vector) {
                *slot = Some(normalised(vector));
            }
        }
        out.into_iter()
            .map(|v| v.ok_or_else(|| self.client.fault(format!("returned {} embeddings for {} texts", data.len(), texts.len()))))
            .collect()
    }
}

/// One vector per text: a server without pooling (llama.cpp serving a chat model's GGUF) answers
/// with one vector per token, which are averaged here as embedding models' mean pooling does.
fn pooled(a: &[Value]) -> Vec<f32> {
    let floats = |a: &[Value]| a.iter().filter_map(|x| x.as_f64()).map(|x| x as f32).collect::<Vec<f32>>();
    let rows: Vec<Vec<f32>> = a.iter().filter_map(|r| r.as_array()).map(|r| floats(r)).collect();
    if rows.is_empty() {
        return floats(a);
    }
    let width = rows[0].len();
    let mut mean = vec![0f32; width];
    for r in rows.iter().filter(|r| r.len() == width) {
        mean.iter_mut().zip(r).for_each(|(m, x)| *m += x);
    }
    mean.iter_mut().for_each(|m| *m /= rows.len() as f32);
    mean
}

fn normalised(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

impl Embed for ServerEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }
    fn dimensions(&self) -> usize {
        self.dimensions
    }
    fn embed(&self, texts: &[&str], _role: Role) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for part in texts.chunks(BATCH) {
            let vs = self.batch(part)?;
            if self.dimensions > 0 && vs.iter().any(|v| v.len() != self.dimensions) {
                return Err(self.client.fault(format!("the embedding model {:?} changed its vectors' size", self.model)));
            }
            out.extend(vs);
        }
        Ok(out)
    }
}

impl TokenSpans for ServerEmbedder {
    fn token_spans(&self, _: &str) -> Result<Vec<CharSpan>> {
        Err(Error::Invalid("token-window chunks need the embedding model's tokenizer on this computer — choose another chunking, or local embeddings".into()))
    }
}

impl TextEmbedder for ServerEmbedder {}
