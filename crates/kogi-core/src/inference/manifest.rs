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
    /// A dictionary for Japanese words and readings (`text::japanese`).
    Analyzer,
    /// Speech recognition (`inference::whisper`).
    Transcriber,
    /// Where speech is in a recording (`inference::vad`).
    VoiceActivity,
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

    /// Check the files against the manifest's sha256 on every load, cheaply: a file whose size and
    /// modification time match the record of its last full check is not read again; a changed one is
    /// hashed in full, and a damaged model is refused before anything is computed with it.
    pub fn check(&self) -> Result<()> {
        if let Some(name) = self.manifest.sha256.keys().find(|n| !self.dir.join(n).is_file()) {
            return Err(Error::Model {
                model: self.manifest.name.clone(),
                message: format!("{} is missing — {REBUILD_HINT}", self.dir.join(name).display()),
            });
        }
        for (name, want) in &self.manifest.sha256 {
            let got = self.content_hash(name)?;
            if &got != want {
                return Err(Error::Model {
                    model: self.manifest.name.clone(),
                    message: format!(
                        "{} has changed or is damaged (sha256 {got}, expected {want}) — {REBUILD_HINT}, or add the model again",
                        self.dir.join(name).display()
                    ),
                });
            }
        }
        Ok(())
    }

    /// The sha256 of one of the folder's files: from the record beside it while the file's size and
    /// modification time are those recorded, else hashed now (and recorded when the folder is writable).
    pub fn content_hash(&self, name: &str) -> Result<String> {
        let p = self.dir.join(name);
        let cannot = |e: std::io::Error| Error::Model {
            model: self.manifest.name.clone(),
            message: format!("{} cannot be read ({e}) — {REBUILD_HINT}", p.display()),
        };
        let stamp = Stamp::of(&p).map_err(cannot)?;
        let record_path = self.dir.join(VERIFIED);
        let mut record: BTreeMap<String, Stamp> =
            std::fs::read(&record_path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        if let Some(r) = record.get(name)
            && r.size == stamp.size
            && r.modified_ns == stamp.modified_ns
        {
            return Ok(r.sha256.clone());
        }
        let sha256 = sha256_file(&p).map_err(cannot)?;
        record.insert(name.to_owned(), Stamp { sha256: sha256.clone(), ..stamp });
        // Written whole then renamed; a read-only folder only costs a hash at every load.
        let tmp = self.dir.join(format!("{VERIFIED}.{}.tmp", std::process::id()));
        if std::fs::write(&tmp, serde_json::to_vec(&record).expect("json")).is_ok() && std::fs::rename(&tmp, &record_path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        Ok(sha256)
    }

    /// Stable identity, under which embeddings are cached: the name and the hash of the model file's
    /// content as it is now (the recorded hash only when the file cannot be read), so a changed model
    /// never reuses another's vectors.
    pub fn id(&self) -> String {
        let file = self.manifest.files.get("model").cloned().unwrap_or_default();
        let hash = self.content_hash(&file).ok().or_else(|| self.manifest.sha256.get(&file).cloned());
        match hash {
            Some(h) => format!("{}@{}", self.manifest.name, &h[..h.len().min(12)]),
            None => self.manifest.name.clone(),
        }
    }
}

/// The record of the files' last full check, beside them.
const VERIFIED: &str = ".verified.json";

#[derive(Serialize, Deserialize, Clone)]
struct Stamp {
    size: u64,
    modified_ns: u128,
    sha256: String,
}

impl Stamp {
    fn of(p: &Path) -> std::io::Result<Stamp> {
        let m = std::fs::metadata(p)?;
        let modified_ns = m.modified()?.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        Ok(Stamp { size: m.len(), modified_ns, sha256: String::new() })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(with_sha: bool) -> (tempfile::TempDir, ModelDir) {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("model.onnx"), vec![7u8; 4096]).unwrap();
        let sha = sha256_file(&t.path().join("model.onnx")).unwrap();
        let sums = if with_sha { format!(r#", "sha256": {{"model.onnx": "{sha}"}}"#) } else { String::new() };
        let manifest = format!(r#"{{"name": "m", "kind": "embedder", "files": {{"model": "model.onnx"}}, "max_length": 8{sums}}}"#);
        std::fs::write(t.path().join("manifest.json"), manifest).unwrap();
        let m = ModelDir::open(t.path()).unwrap();
        (t, m)
    }

    fn flip_one_byte(p: &Path) {
        let mut b = std::fs::read(p).unwrap();
        b[100] ^= 1;
        std::fs::write(p, b).unwrap();
    }

    #[test]
    fn a_model_changed_after_it_was_verified_is_refused_on_load() {
        let (t, m) = folder(true);
        m.check().unwrap();
        let id = m.id();
        flip_one_byte(&t.path().join("model.onnx"));
        let e = m.check().unwrap_err().to_string();
        assert!(e.contains("changed or is damaged") && e.contains("model.onnx"), "{e}");
        assert_ne!(m.id(), id, "a changed file never shares the intact one's cache id");
    }

    #[test]
    fn an_unchanged_model_is_not_hashed_again_and_a_model_without_sums_is_known_by_its_content() {
        let (t, m) = folder(true);
        m.check().unwrap();
        // The record is trusted while size and modification time match: a forged record shows it was not re-read.
        let record = t.path().join(VERIFIED);
        let text = std::fs::read_to_string(&record).unwrap();
        let real = sha256_file(&t.path().join("model.onnx")).unwrap();
        std::fs::write(&record, text.replace(&real, "f00d")).unwrap();
        assert_eq!(m.content_hash("model.onnx").unwrap(), "f00d");

        let (t, m) = folder(false);
        let id = m.id();
        assert!(id.starts_with("m@"), "{id}");
        flip_one_byte(&t.path().join("model.onnx"));
        assert_ne!(m.id(), id, "embeddings of the changed model are cached under another id");
    }
}
