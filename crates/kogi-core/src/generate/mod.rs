//! Text generation with a local decoder model: KV cache, sampling, n-gram speculation, scoring.

pub mod batch;
pub mod chat;
pub mod decoder;
mod device_steps;
pub mod engine;
pub mod ngram;
pub mod sampling;
pub mod step_graph;
