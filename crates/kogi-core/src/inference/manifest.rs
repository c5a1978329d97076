//! Model manifests: what a model folder holds and how to use it (`manifest.json` beside the files).

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    Embedder,
    Chat,
    CrossEncoder,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub kind: ModelKind,
    /// Role → file name, e.g. `model` → `model_int8.onnx`, `tokenizer` → `tokenizer.json`.
    pub files: BTreeMap<String, String>,
    /// File name → sha256 of the file as built.
    #[serde(default)]
    pub sha256: BTreeMap<String, String>,
    pub max_length: usize,
    #[serde(default)]
    pub dimensions: Option<usize>,
    #[serde(default)]
    pub query_prefix: Option<String>,
    #[serde(default)]
    pub passage_prefix: Option<String>,
    #[serde(default)]
    pub chat_template: Option<String>,
    #[serde(default)]
    pub bos_token_id: Option<u32>,
    #[serde(default)]
    pub eos_token_ids: Vec<u32>,
    #[serde(default)]
    pub end_of_turn: Option<String>,
    #[serde(default)]
    pub languages: Vec<String>,
    /// Anything else the build tool recorded (source package, layout, I/O names).
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// A model folder with its manifest read.
#[derive(Debug, Clone)]
pub struct ModelDir {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

/// What to tell a user whose model folder is broken.
pub const REBUILD_HINT: &str = "rebuild the default models with `scripts/setup.sh` (or `models/build.sh`)";

impl ModelDir {
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join("manifest.json");
        let err = |message: String| Error::Model { model: dir.display().to_string(), message };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                err(format!("{} is missing — is this a model folder? {REBUILD_HINT}", path.display()))
            } else {
                err(format!("cannot read {}: {e}", path.display()))
            }
        })?;
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|e| err(format!("{} is not a valid manifest ({e}) — {REBUILD_HINT}", path.display())))?;
        Ok(Self { dir: dir.to_owned(), manifest })
    }

    /// The path of a file by its role (`model`, `tokenizer`), which must exist.
    pub fn file(&self, role: &str) -> Result<PathBuf> {
        let name = self.manifest.files.get(role).ok_or_else(|| Error::Model {
            model: self.manifest.name.clone(),
            message: format!("the manifest names no `{role}` file"),
        })?;
        let p = self.dir.join(name);
        if !p.is_file() {
            return Err(Error::Model {
                model: self.manifest.name.clone(),
                message: format!("{} is missing — {REBUILD_HINT}", p.display()),
            });
        }
        Ok(p)
    }

    /// Check every file with a recorded sha256; a mismatch names the file.
    pub fn verify(&self) -> Result<()> {
        for (name, want) in &self.manifest.sha256 {
            let p = self.dir.join(name);
            let got = sha256_file(&p).map_err(|e| Error::Model {
                model: self.manifest.name.clone(),
                message: format!("{} cannot be read ({e}) — {REBUILD_HINT}", p.display()),
            })?;
            if &got != want {
                return Err(Error::Model {
                    model: self.manifest.name.clone(),
                    message: format!("{} is corrupt (sha256 {got}, expected {want}) — {REBUILD_HINT}", p.display()),
                });
            }
        }
        Ok(())
    }

    /// Stable identity: name plus the model file's recorded hash (embeddings are cached under it).
    pub fn id(&self) -> String {
        let file = self.manifest.files.get("model").cloned().unwrap_or_default();
        match self.manifest.sha256.get(&file) {
            Some(h) => format!("{}@{}", self.manifest.name, &h[..h.len().min(12)]),
            None => self.manifest.name.clone(),
        }
    }
}

pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// The default embedder's folder: `<models dir>/multilingual-e5-small`.
pub fn default_embedder_dir() -> PathBuf {
    crate::paths::models_dir().join("multilingual-e5-small")
}
