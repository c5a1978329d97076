//! kogi's core: every domain concept (lecture, transcript revision, chunk, passage, answer, citation)
//! and the pipelines over them. Front ends (CLI, desktop shell) are thin adapters over this crate.

pub mod answer;
pub mod bench;
pub mod bindings;
pub mod chunk;
pub mod correction;
pub mod error;
pub mod eval;
pub mod generate;
pub mod index;
pub mod inference;
pub mod lecture;
pub mod model;
pub mod paths;
pub mod recording;
pub mod retrieval;
pub mod server;
pub mod service;
pub mod settings;
pub mod store;
pub mod text;
pub mod transcript;

pub use error::{Error, Remedy, Result};
