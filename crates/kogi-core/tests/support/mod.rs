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
