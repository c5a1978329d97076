//! Inference behind small interfaces, so pipelines run with tiny models in tests.

pub mod cudart;
pub mod embed;
pub mod manifest;
pub mod onnx_proto;
pub mod runtime;
pub mod vad;
pub mod whisper;

use crate::Result;

/// Whether a text is a question or a passage: e5-style models embed the two with different prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Query,
    Passage,
}

/// Turns texts into L2-normalised vectors.
pub trait Embed: Send + Sync {
    /// Stable identity of the model (name plus a content hash), the key of cached embeddings.
    fn model_id(&self) -> &str;
    fn dimensions(&self) -> usize;
    fn embed(&self, texts: &[&str], role: Role) -> Result<Vec<Vec<f32>>>;
}

/// An embedding model known by its identity alone: keyword search finds the chunks indexed under
/// it without loading it; anything that needs vectors is refused with a message.
pub struct IndexedUnder {
    id: String,
}

impl IndexedUnder {
    pub fn new(id: String) -> Self {
        Self { id }
    }
}

impl Embed for IndexedUnder {
    fn model_id(&self) -> &str {
        &self.id
    }
    fn dimensions(&self) -> usize {
        0
    }
    fn embed(&self, _: &[&str], _: Role) -> Result<Vec<Vec<f32>>> {
        Err(crate::Error::Invalid(format!("this search needs the embedding model {} loaded; keyword search (--mode bm25) does not", self.id)))
    }
}

/// An embedding model that also reports its token spans (what indexing needs).
pub trait TextEmbedder: Embed + TokenSpans {
    /// The execution provider in use, for an ONNX Runtime model.
    fn provider(&self) -> Option<runtime::ProviderReport> {
        None
    }
}

impl TextEmbedder for embed::OnnxEmbedder {
    fn provider(&self) -> Option<runtime::ProviderReport> {
        Some(self.provider.clone())
    }
}

/// Splits a text into the model's tokens, reporting each token's char span (for token-window chunks).
pub trait TokenSpans: Send + Sync {
    fn token_spans(&self, text: &str) -> Result<Vec<crate::text::CharSpan>>;
}

/// Speech to text, one 30-second window of log-mel features ([80 × 3000], see `whisper::mel`) at a time;
/// the recording pipeline (`recording::transcribe`) cuts the windows and keeps the times.
pub trait Transcribe: Send + Sync {
    fn model_id(&self) -> &str;
    /// The mel filterbank the features are computed with ([80 × 201]).
    fn mel_filters(&self) -> std::sync::Arc<Vec<f32>>;
    /// The language most likely spoken in a window, and its probability.
    fn detect_language(&self, window: &[f32]) -> Result<(String, f32)>;
    fn knows_language(&self, code: &str) -> bool;
    /// The text of a window holding `frames` frames of sound (the rest is padding).
    fn window(&self, window: &[f32], frames: usize, language: &str) -> Result<WindowText>;
}

/// What was said in one window.
#[derive(Debug, Clone, Default)]
pub struct WindowText {
    /// (start, end, text): seconds from the window's start; empty for a window judged silent.
    pub pieces: Vec<(f64, f64, String)>,
    /// Mel frames from this window's start to the next one's.
    pub advance: usize,
    /// The tokens decoded (for checks against a reference decoder).
    pub tokens: Vec<u32>,
}
