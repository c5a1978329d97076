//! What is installed and what runs: the models folder, the ONNX Runtime library, the providers.

use super::{Job, Kogi};
use crate::inference::manifest::ModelDir;
use crate::inference::runtime::{ProviderReport, library_candidates};
use crate::settings::{ModelsStatus, Settings};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

/// Everything the app's Settings screen shows.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct AppStatus {
    pub version: &'static str,
    pub db_path: PathBuf,
    pub settings_path: Option<PathBuf>,
    pub settings: Settings,
    pub settings_problem: Option<String>,
    pub models: ModelsStatus,
    /// Where the ONNX Runtime library was found, or why it was not.
    pub runtime: std::result::Result<PathBuf, String>,
    pub embedder_provider: Option<ProviderReport>,
    pub chat_provider: Option<ProviderReport>,
}

/// Every folder of the models folder, checked against its manifest's hashes.
#[derive(Debug, Clone, Serialize)]
pub struct ModelsReport {
    pub models_dir: PathBuf,
    pub onnxruntime: String,
    /// The embedder's execution provider (it is loaded to find out), or why it could not load.
    pub provider: String,
    pub models: Vec<serde_json::Value>,
}

/// Where ONNX Runtime would be loaded from. Looked up, not loaded: the app's first screen asks
/// for the status, and loading the library there would add to every launch.
pub fn runtime_library() -> std::result::Result<PathBuf, String> {
    let candidates = library_candidates();
    candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
        let looked: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
        format!("not found in {} — run `scripts/setup.sh` or set KOGI_ORT_LIB to its path", looked.join(", "))
    })
}

impl Kogi {
    /// What the app shows about itself; loads nothing.
    pub fn status(&self) -> AppStatus {
        let settings = self.settings();
        AppStatus {
            version: env!("CARGO_PKG_VERSION"),
            db_path: self.db_path(),
            settings_path: self.settings_path().map(|p| p.to_owned()),
            models: settings.models_status(),
            settings,
            settings_problem: self.settings_problem(),
            runtime: runtime_library(),
            embedder_provider: self.loaded_embedder().and_then(|e| e.provider()),
            chat_provider: self.loaded_generator().and_then(|g| g.try_lock().ok().and_then(|g| g.provider())),
        }
    }

    /// Installed models, verified against their manifests, and the provider the embedder gets.
    pub fn models_report(&self) -> ModelsReport {
        let models_dir = self.settings().models_dir();
        let mut models = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&models_dir) {
            let mut dirs: Vec<_> = entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
            dirs.sort();
            for d in dirs {
                models.push(match ModelDir::open(&d) {
                    Ok(m) => {
                        let verified = m.verify().map(|_| "ok".to_string()).unwrap_or_else(|e| e.to_string());
                        serde_json::json!({"dir": d, "name": m.manifest.name, "kind": m.manifest.kind, "id": m.id(), "verified": verified})
                    }
                    Err(e) => serde_json::json!({"dir": d, "error": e.to_string()}),
                });
            }
        }
        let onnxruntime = match crate::inference::runtime::library_path() {
            Ok(p) => p.display().to_string(),
            Err(e) => e.to_string(),
        };
        let cancel = AtomicBool::new(false);
        let provider = match self.embedder(&mut Job::silent(&cancel)) {
            Ok(e) => e.provider().map(|p| p.to_string()).unwrap_or_default(),
            Err(e) => format!("embedder not loaded: {e}"),
        };
        ModelsReport { models_dir, onnxruntime, provider, models }
    }
}
