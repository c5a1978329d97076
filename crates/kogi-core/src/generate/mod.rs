//! Text generation with a local decoder model: KV cache, sampling, n-gram speculation, scoring.

pub mod batch;
pub mod chat;
pub mod decoder;
pub mod engine;
pub mod ngram;
pub mod sampling;
