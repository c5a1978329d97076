//! What is installed and what runs: the models folder, the ONNX Runtime library, the providers.

use super::{Job, Kogi};
use super::Phase;
use crate::generate::onnx::LanguageModel;
use crate::generate::speculative::BigramTable;
use crate::inference::manifest::{ModelDir, ModelKind};
use crate::inference::runtime::{Provider, ProviderReport, library_candidates};
use crate::model::convert::{ConvertRequest, Converted, Target, convert};
use crate::model::{LanguageFit, language_fit};
use crate::settings::{DEFAULT_CHAT_MODEL, DEFAULT_EMBEDDER, DEFAULT_TRANSCRIBER, ModelsStatus, Settings, inventory};
use crate::{Error, Remedy, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
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
    /// Whether the chat model reads Japanese (`None`: no usable chat model folder, or a server).
    pub chat_fit: Option<LanguageFit>,
    /// The server's API key as the user may see it (`…abcd`), when one is stored.
    pub server_key: Option<String>,
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
    /// What the app shows about itself; loads no model (the chat model's tokenizer is read once) and
    /// never waits for one being loaded.
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
            chat_fit: self.chat_fit(),
            server_key: self.server_key_hint(),
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

/// One installed model, as the model manager shows it.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ModelEntry {
    pub name: String,
    pub dir: PathBuf,
    pub kind: Option<ModelKind>,
    pub architecture: Option<String>,
    pub parameters: Option<u64>,
    /// How the weights are stored ("4-bit/32 ×120, 8-bit/16 ×30", "int4", "fp16" …).
    pub quantization: Option<String>,
    pub bytes: u64,
    /// `cpu` or `cuda`, as converted (`None`: built elsewhere).
    pub target: Option<Target>,
    /// What a chat model's language fit is.
    pub fit: Option<LanguageFit>,
    /// Shipped with kogi (built at set-up); not removable from the app.
    pub default: bool,
    /// The settings use it (as the chat model or the embedder).
    pub in_use: bool,
    /// Why it cannot be used.
    pub problem: Option<String>,
}

/// A model file or folder to add.
#[derive(Debug, Clone, Deserialize, ts_rs::TS)]
pub struct AddModel {
    pub source: PathBuf,
    pub name: Option<String>,
    /// `None`: CUDA when the settings ask for a GPU, else the CPU.
    pub target: Option<Target>,
}

/// The dictionary kogi builds at set-up (`mecab-ipadic`'s copyright file has the full text).
pub const IPADIC_LICENCE: &str = "IPADIC (NAIST / ICOT licence: free use, modification and redistribution with the copyright notice kept)";

/// What building the Japanese dictionary made.
#[derive(Debug, Clone, Serialize)]
pub struct DictionaryReport {
    pub name: String,
    pub dir: PathBuf,
    pub entries: u64,
    /// Katakana words whose English the table gives (0 without UniDic).
    pub loanwords: u64,
    pub bytes: u64,
    pub seconds: f64,
}

/// What computing a model's own drafts made.
#[derive(Debug, Clone, Serialize)]
pub struct DraftsReport {
    pub name: String,
    /// Token ids covered (the first `tokens` of the vocabulary).
    pub tokens: usize,
    pub vocab: usize,
    pub seconds: f64,
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map(|it| it.flatten().filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum()).unwrap_or(0)
}

impl Kogi {
    /// Every model in the models folder, for the model manager.
    pub fn models(&self) -> Vec<ModelEntry> {
        let s = self.settings();
        let models_dir = s.models_dir();
        inventory(&models_dir)
            .into_iter()
            .map(|m| {
                let opened = ModelDir::open(&m.dir).ok();
                let extra = |k: &str| opened.as_ref().and_then(|o| o.manifest.extra.get(k).cloned());
                let quantization = extra("quantization").and_then(|q| {
                    q.as_object().map(|o| o.iter().map(|(k, v)| format!("{k} ×{v}")).collect::<Vec<_>>().join(", "))
                });
                let quantization = quantization.or_else(|| {
                    extra("source").and_then(|s| s.get("file").and_then(|f| f.as_str()).map(|f| f.rsplit('/').next().unwrap_or(f).to_owned()))
                });
                let in_use = m.dir == s.chat_dir() || m.dir == s.embedder_dir() || m.dir == s.transcriber_dir()
                    || m.dir == s.models_dir().join(super::recordings::VAD_MODEL);
                ModelEntry {
                    fit: (m.kind == Some(ModelKind::Chat)).then(|| opened.as_ref().map(language_fit)).flatten(),
                    architecture: extra("architecture").and_then(|a| a.as_str().map(str::to_owned)),
                    parameters: extra("parameters").and_then(|p| p.as_u64()),
                    quantization,
                    bytes: dir_bytes(&m.dir),
                    target: extra("target").and_then(|t| serde_json::from_value(t).ok()),
                    default: [DEFAULT_CHAT_MODEL, DEFAULT_EMBEDDER, DEFAULT_TRANSCRIBER, super::recordings::VAD_MODEL].contains(&m.name.as_str()),
                    in_use,
                    kind: m.kind,
                    problem: m.problem,
                    name: m.name,
                    dir: m.dir,
                }
            })
            .collect()
    }

    /// Convert a GGUF file or a Hugging Face folder into the models folder (phase `Converting`,
    /// progress in MB read; cancel leaves nothing behind).
    pub fn add_model(&self, req: &AddModel, job: &mut Job) -> Result<Converted> {
        let s = self.settings();
        let target = req.target.unwrap_or(match s.provider {
            Provider::Cuda | Provider::TensorRt => Target::Cuda,
            _ => Target::Cpu,
        });
        let request = ConvertRequest { source: req.source.clone(), name: req.name.clone(), target };
        job.enter(Phase::Converting, 0);
        let cancel = job.cancel_flag();
        convert(&request, &s.models_dir(), &mut |read, of, _, _| job.progress((read >> 20) as usize, (of >> 20).max(1) as usize), cancel)
    }

    /// Compute a chat model's own drafts ([`BigramTable`]: its top next tokens after each of the
    /// first `limit` token ids alone) and keep them in its folder; speculative answers then draft
    /// from them where the lecture offers nothing to copy. Phase `Drafting`, in tokens; cancel
    /// leaves the model as it was.
    pub fn build_drafts(
        &self,
        name: &str,
        limit: Option<usize>,
        job: &mut Job,
    ) -> Result<DraftsReport> {
        let started = std::time::Instant::now();
        let s = self.settings();
        let dir = s.models_dir().join(name);
        let m = ModelDir::open(&dir).map_err(|_| Error::Missing {
            message: format!("no model named {name:?} is installed"),
            remedy: Remedy::ListModels,
        })?;
        if m.manifest.kind != ModelKind::Chat {
            return Err(Error::Invalid(format!(
                "{name:?} is not a chat model: only chat models draft"
            )));
        }
        job.enter(Phase::LoadingLanguageModel, 1);
        let mut lm = LanguageModel::open(&dir, &s.session())?;
        let vocab = lm.decoder.info.vocab;
        job.enter(Phase::Drafting, vocab.min(limit.unwrap_or(usize::MAX)));
        let cancel = job.cancel_flag();
        let table = BigramTable::build(
            &mut lm,
            limit.unwrap_or(usize::MAX),
            &mut |done, of| job.progress(done, of),
            cancel,
        )?;
        table.save(&dir)?;
        // The loaded model (if it is this one) picks the table up when it is next opened.
        if s.chat_model == name {
            *self.generator.lock().expect("generator") = None;
        }
        Ok(DraftsReport {
            name: name.to_owned(),
            tokens: table.len(),
            vocab,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// Compile a MeCab-format dictionary source (IPADIC from Debian's `mecab-ipadic`) into the
    /// models folder as the Japanese analyser that keyword search and reading-based suggestions use.
    pub fn add_dictionary(&self, source: &Path, unidic: Option<&Path>, job: &mut Job) -> Result<DictionaryReport> {
        let started = std::time::Instant::now();
        job.enter(Phase::Converting, 0);
        let dir = self.settings().models_dir().join(crate::text::japanese::DEFAULT_DICTIONARY);
        let m = crate::text::japanese::build_dictionary(source, unidic, &dir, crate::text::japanese::DEFAULT_DICTIONARY, IPADIC_LICENCE)?;
        *self.words.lock().expect("words") = None;
        Ok(DictionaryReport {
            name: m.name,
            entries: m.extra.get("entries").and_then(|e| e.as_u64()).unwrap_or(0),
            loanwords: m.extra.get("loanwords").and_then(|e| e.as_u64()).unwrap_or(0),
            bytes: dir_bytes(&dir),
            dir,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// Use this installed model from now on: a chat model answers, a speech model (a Whisper
    /// converted by `models/tools/build_whisper.py`) transcribes recordings.
    pub fn use_chat_model(&self, name: &str) -> Result<()> {
        let mut s = self.settings();
        let dir = s.models_dir().join(name);
        let m = ModelDir::open(&dir).map_err(|_| Error::Missing { message: format!("no model named {name:?} is installed"), remedy: Remedy::ListModels })?;
        match m.manifest.kind {
            ModelKind::Chat => s.chat_model = name.to_owned(),
            ModelKind::Transcriber => {
                s.transcriber = name.to_owned();
                *self.transcriber.lock().expect("transcriber") = None;
            }
            _ => return Err(Error::Invalid(format!("{name:?} is not a chat or speech recognition model"))),
        }
        self.save_settings(s)
    }

    /// Remove an installed model the settings do not use. The defaults stay.
    pub fn remove_model(&self, name: &str) -> Result<()> {
        let s = self.settings();
        let dir = s.models_dir().join(name);
        if name.is_empty() || name.contains('/') || name.contains("..") || !dir.join("manifest.json").is_file() {
            return Err(Error::Missing { message: format!("no model named {name:?} is installed"), remedy: Remedy::ListModels });
        }
        if [DEFAULT_CHAT_MODEL, DEFAULT_EMBEDDER, DEFAULT_TRANSCRIBER, super::recordings::VAD_MODEL].contains(&name) {
            return Err(Error::Invalid(format!("{name:?} is one of kogi's default models; it stays")));
        }
        if dir == s.chat_dir() || dir == s.embedder_dir() || dir == s.transcriber_dir() {
            return Err(Error::Invalid(format!("{name:?} is in use — choose another chat model first")));
        }
        // Renamed out of the way first, so an interrupted removal never leaves a half model listed.
        let trash = s.models_dir().join(format!("{name}.{}.removing.part", std::process::id()));
        std::fs::rename(&dir, &trash).map_err(|e| Error::Io { path: dir.clone(), message: e.to_string() })?;
        std::fs::remove_dir_all(&trash).map_err(|e| Error::Io { path: trash, message: e.to_string() })
    }

    /// Correct what a model's manifest says it reads (e.g. `["ja", "en"]`).
    pub fn set_model_languages(&self, name: &str, languages: &[String]) -> Result<()> {
        let dir = self.settings().models_dir().join(name);
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path).map_err(|_| Error::Missing { message: format!("no model named {name:?} is installed"), remedy: Remedy::ListModels })?;
        let mut v: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::Model { model: name.into(), message: e.to_string() })?;
        let Some(fields) = v.as_object_mut() else {
            return Err(Error::Model { model: name.into(), message: "its manifest.json is not a JSON object — add the model again".into() });
        };
        fields.insert("languages".into(), serde_json::json!(languages));
        let tmp = dir.join("manifest.json.part");
        std::fs::write(&tmp, serde_json::to_string_pretty(&v).expect("json")).map_err(|e| Error::Io { path: tmp.clone(), message: e.to_string() })?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::Io { path, message: e.to_string() })?;
        *self.fit.lock().expect("fit") = None;
        Ok(())
    }
}
