//! What a person chooses once and keeps: where models live, which execution provider runs them, how
//! answers are generated. Stored as JSON in the data folder; every front end reads the same file.

use crate::answer::prompt::Lang;
use crate::answer::{AnswerWith, AskParams, Rung, ThinkHarder};
use crate::chunk::Strategy;
use crate::generate::speculative::NgramConfig;
use crate::generate::sampling::SamplingParams;
use crate::inference::manifest::{ModelDir, ModelKind, REBUILD_HINT};
use crate::inference::runtime::{Provider, SessionConfig};
use crate::server::{Engine, ServerSettings};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const DEFAULT_EMBEDDER: &str = "multilingual-e5-small";
pub const DEFAULT_CHAT_MODEL: &str = "smollm2-135m-instruct";
pub const DEFAULT_TRANSCRIBER: &str = "whisper-base";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(default)]
pub struct Settings {
    /// Folder of installed models; `None` = the default (`$KOGI_MODELS` or `<data dir>/models`).
    pub models_dir: Option<PathBuf>,
    /// Folder names inside the models folder, or absolute paths of model folders elsewhere.
    pub embedder: String,
    pub chat_model: String,
    /// The speech recognition model (recordings).
    pub transcriber: String,
    pub provider: Provider,
    /// CPU threads per model; `None` = ONNX Runtime's choice.
    pub threads: Option<usize>,
    pub temperature: f32,
    pub top_p: f32,
    pub max_tokens: usize,
    /// n-gram speculative decoding (greedy output is identical with it; only speed changes).
    pub speculation: bool,
    pub mode: Rung,
    /// Passages handed to the model.
    pub k: usize,
    /// Largest prompt in tokens; passages are cut to fit. On a CPU the time to the first word grows
    /// with it (SmolLM2's tokenizer spends about two tokens per Japanese character).
    pub max_prompt_tokens: usize,
    /// `None` answers in the question's language.
    pub lang: Option<Lang>,
    /// Samples for "think harder" (self-consistency).
    pub think_samples: usize,
    /// Answers begin with the number of the excerpt they rest on (see `AskParams::lead_citation`).
    pub lead_citation: bool,
    /// Below this best passage similarity the lecture is taken not to cover a question.
    pub min_similarity: f32,
    /// How lectures are cut into passages for search.
    pub chunking: Strategy,
    /// Who words answers: the chat model, quotes from the lecture, or `auto` (quotes when the chat
    /// model cannot read the lecture's language).
    pub answer_with: AnswerWith,
    /// Where answers come from: this computer, or the server below.
    pub engine: Engine,
    /// The server (kept while answers come from this computer, so switching back needs no retyping).
    pub server: ServerSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            models_dir: None,
            embedder: DEFAULT_EMBEDDER.into(),
            chat_model: DEFAULT_CHAT_MODEL.into(),
            transcriber: DEFAULT_TRANSCRIBER.into(),
            provider: Provider::Auto,
            threads: None,
            temperature: 0.0,
            top_p: 1.0,
            max_tokens: 256,
            speculation: true,
            mode: Rung::Windows,
            k: 5,
            max_prompt_tokens: AskParams::default().max_prompt_tokens,
            lang: None,
            think_samples: 5,
            lead_citation: true,
            min_similarity: AskParams::default().min_similarity,
            chunking: crate::index::default_strategy(),
            answer_with: AnswerWith::Auto,
            engine: Engine::Local,
            server: ServerSettings::default(),
        }
    }
}

/// `<data dir>/settings.json`.
pub fn default_path() -> PathBuf {
    crate::paths::data_dir().join("settings.json")
}

impl Settings {
    /// The stored settings; defaults when the file does not exist yet.
    pub fn load(path: &Path) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(Error::Invalid(format!("cannot read the settings file {}: {e}", path.display()))),
        };
        let s: Settings = serde_json::from_str(&text).map_err(|e| {
            Error::Invalid(format!(
                "the settings file {} is damaged ({e}) — fix or delete it; kogi uses its defaults meanwhile",
                path.display()
            ))
        })?;
        s.validate()?;
        Ok(s)
    }

    /// Write atomically (a temporary file renamed over the old one), after validating.
    pub fn save(&self, path: &Path) -> Result<()> {
        self.validate()?;
        let io = |e: std::io::Error| Error::Invalid(format!("cannot write the settings file {}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        // A temporary file of its own (two processes may save at once), renamed into place.
        let mut tmp = tempfile::NamedTempFile::new_in(path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))).map_err(io)?;
        std::io::Write::write_all(&mut tmp, &serde_json::to_vec_pretty(self).expect("serialisable")).map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error)).map(drop)
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Invalid(m));
        if !(0.0..=2.0).contains(&self.temperature) {
            return bad(format!("temperature must be between 0 (greedy) and 2, got {}", self.temperature));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad(format!("top-p must be above 0 and at most 1, got {}", self.top_p));
        }
        if !(1..=4096).contains(&self.max_tokens) {
            return bad(format!("max tokens must be between 1 and 4096, got {}", self.max_tokens));
        }
        if !(1..=20).contains(&self.k) {
            return bad(format!("passages (k) must be between 1 and 20, got {}", self.k));
        }
        if !(256..=131_072).contains(&self.max_prompt_tokens) {
            return bad(format!("the prompt budget must be between 256 and 131072 tokens, got {}", self.max_prompt_tokens));
        }
        if !(2..=16).contains(&self.think_samples) {
            return bad(format!("think-harder samples must be between 2 and 16, got {}", self.think_samples));
        }
        if !(-1.0..=1.0).contains(&self.min_similarity) {
            return bad(format!("the similarity gate must be between -1 and 1, got {}", self.min_similarity));
        }
        for (what, name) in [("embedder", &self.embedder), ("chat model", &self.chat_model)] {
            let ok = Path::new(name).is_absolute()
                || (!name.is_empty() && !name.contains(['/', '\\']) && name != "." && name != "..");
            if !ok {
                return bad(format!(
                    "the {what} must be a folder name inside the models folder or an absolute path, got {name:?}"
                ));
            }
        }
        if self.engine == Engine::Server {
            self.server.validate()?;
        }
        if let Some(dir) = &self.models_dir
            && !dir.is_absolute()
        {
            return bad(format!("the models folder must be an absolute path, got {}", dir.display()));
        }
        Ok(())
    }

    pub fn models_dir(&self) -> PathBuf {
        self.models_dir.clone().unwrap_or_else(crate::paths::models_dir)
    }

    /// The embedder's folder (a name is looked up in the models folder; `join` keeps an absolute path).
    pub fn embedder_dir(&self) -> PathBuf {
        self.models_dir().join(&self.embedder)
    }

    pub fn chat_dir(&self) -> PathBuf {
        self.models_dir().join(&self.chat_model)
    }

    pub fn transcriber_dir(&self) -> PathBuf {
        self.models_dir().join(&self.transcriber)
    }

    pub fn session(&self) -> SessionConfig {
        SessionConfig { provider: self.provider, threads: self.threads, ..Default::default() }
    }

    /// Parameters for one question at ladder step `rung`, thinking harder when asked.
    pub fn ask_params(&self, rung: Rung, think: bool) -> AskParams {
        let mut p = AskParams { rung, k: self.k, lang: self.lang, max_prompt_tokens: self.max_prompt_tokens, ..Default::default() };
        p.generate.max_new_tokens = self.max_tokens;
        p.generate.sampling = SamplingParams { temperature: self.temperature, top_p: self.top_p, ..Default::default() };
        p.generate.speculative = self.speculation.then(NgramConfig::default);
        p.think = think.then_some(ThinkHarder::SelfConsistency { n: self.think_samples });
        p.lead_citation = self.lead_citation;
        p.min_similarity = self.min_similarity;
        p
    }
}

/// One folder of the models folder.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct InstalledModel {
    pub name: String,
    pub dir: PathBuf,
    pub kind: Option<ModelKind>,
    pub languages: Vec<String>,
    /// Why it cannot be used (missing manifest or files); `None` when usable.
    pub problem: Option<String>,
}

/// What is installed, and whether the chosen models are usable.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ModelsStatus {
    pub dir: PathBuf,
    pub models: Vec<InstalledModel>,
    pub embedder_ready: bool,
    pub chat_ready: bool,
    /// What to do when something is missing; empty when everything is ready.
    pub help: String,
}

/// The models in `dir`: every sub-folder with a manifest (unfinished `*.part` builds are skipped).
pub fn inventory(dir: &Path) -> Vec<InstalledModel> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<InstalledModel> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir() && !e.file_name().to_string_lossy().ends_with(".part"))
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            match ModelDir::open(&e.path()) {
                Ok(m) => {
                    let missing = m.manifest.files.values().find(|f| !m.dir.join(f).is_file());
                    InstalledModel {
                        name,
                        kind: Some(m.manifest.kind),
                        languages: m.manifest.languages.clone(),
                        problem: missing.map(|f| format!("{f} is missing — {REBUILD_HINT}")),
                        dir: m.dir,
                    }
                }
                Err(err) => InstalledModel { name, dir: e.path(), kind: None, languages: vec![], problem: Some(err.to_string()) },
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

impl Settings {
    pub fn models_status(&self) -> ModelsStatus {
        let dir = self.models_dir();
        let models = inventory(&dir);
        let ready = |name: &str, kind: ModelKind| {
            if Path::new(name).is_absolute() {
                return ModelDir::open(Path::new(name)).is_ok_and(|m| m.manifest.kind == kind);
            }
            models.iter().any(|m| m.name == name && m.kind == Some(kind) && m.problem.is_none())
        };
        let served = self.engine == Engine::Server;
        let embedder_ready = (served && self.server.embed_model.is_some()) || ready(&self.embedder, ModelKind::Embedder);
        let chat_ready = served || ready(&self.chat_model, ModelKind::Chat);
        let mut help = Vec::new();
        if !embedder_ready {
            help.push(format!(
                "The embedding model {:?} is not installed in {} — importing works, but search and answers need it.",
                self.embedder,
                dir.display()
            ));
        }
        if !chat_ready {
            help.push(format!(
                "The chat model {:?} is not installed in {} — answers and suspicious-passage scans need it.",
                self.chat_model,
                dir.display()
            ));
        }
        if !help.is_empty() {
            help.push(
                "To build the default models, run `scripts/setup.sh` in kogi's source folder (it needs no GPU; about \
                 five minutes), or point the models folder at one that holds them. To bring your own Llama 3 \
                 export, see models/README.md."
                    .into(),
            );
        }
        ModelsStatus { dir, models, embedder_ready, chat_ready, help: help.join("\n") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_settings_file_gives_defaults_and_saved_settings_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/settings.json");
        assert_eq!(Settings::load(&path).unwrap(), Settings::default());
        let s = Settings { provider: Provider::Cpu, temperature: 0.7, speculation: false, mode: Rung::Reranked, ..Default::default() };
        s.save(&path).unwrap();
        assert_eq!(Settings::load(&path).unwrap(), s);
        assert!(!path.with_extension("json.tmp").exists());
    }

    #[test]
    fn damaged_or_invalid_settings_are_clear_errors_and_are_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        std::fs::write(&path, "{ not json").unwrap();
        let e = Settings::load(&path).unwrap_err().to_string();
        assert!(e.contains("damaged") && e.contains("settings.json"), "{e}");
        let bad = Settings { top_p: 0.0, ..Default::default() };
        assert!(bad.save(&path).unwrap_err().to_string().contains("top-p"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{ not json");
        let escape = Settings { chat_model: "../elsewhere".into(), ..Default::default() };
        assert!(escape.validate().unwrap_err().to_string().contains("folder name"));
        let elsewhere = Settings { chat_model: "/opt/models/llama".into(), ..Default::default() };
        assert!(elsewhere.validate().is_ok());
        assert_eq!(elsewhere.chat_dir(), PathBuf::from("/opt/models/llama"));
        let relative = Settings { models_dir: Some("models".into()), ..Default::default() };
        assert!(relative.validate().unwrap_err().to_string().contains("absolute"));
    }

    #[test]
    fn an_empty_models_folder_explains_how_to_get_models() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("half-built.part")).unwrap();
        std::fs::create_dir(dir.path().join("junk")).unwrap();
        let s = Settings { models_dir: Some(dir.path().to_owned()), ..Default::default() };
        let st = s.models_status();
        assert!(!st.embedder_ready && !st.chat_ready);
        assert!(st.help.contains("scripts/setup.sh"), "{}", st.help);
        assert_eq!(st.models.len(), 1, "the .part folder is skipped");
        assert!(st.models[0].problem.as_deref().unwrap().contains("manifest.json"));
    }

    #[test]
    fn ask_params_follow_the_settings() {
        let s = Settings { speculation: false, max_tokens: 64, k: 3, max_prompt_tokens: 1024, ..Default::default() };
        let p = s.ask_params(Rung::Chunks, true);
        assert_eq!((p.rung, p.k, p.generate.max_new_tokens, p.max_prompt_tokens), (Rung::Chunks, 3, 64, 1024));
        assert!(p.generate.speculative.is_none());
        assert!(matches!(p.think, Some(ThinkHarder::SelfConsistency { n: 5 })));
        assert!(Settings::default().ask_params(Rung::Windows, false).generate.speculative.is_some());
    }
}
