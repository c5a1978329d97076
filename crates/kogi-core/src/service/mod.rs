//! The service layer: every use case a front end offers, by name. It owns the settings, the
//! database location and the models (loaded on first use, shared between calls). The desktop shell
//! and the `kogi` command only translate arguments into these calls and results into their output.
//!
//! Each call opens its own SQLite connection (WAL lets readers and one writer work at once), so a
//! long index or scan never blocks a quick listing from another thread.

mod asking;
mod benchmarks;
mod editing;
mod evaluation;
pub mod job;
mod library;
mod models;

pub use asking::{AskRequest, Asked};
pub use editing::{LectureView, RevisionSummary, Saved};
pub use evaluation::{AnswerEvalRequest, CorrectionEvalRequest, RetrievalEvalRequest};
pub use job::{Event, Job, Phase};
pub use library::{ImportOutcome, IndexWhen};
pub use models::{AppStatus, ModelsReport};

// Types front ends pass in or get back, re-exported from the modules that own them so that a front
// end needs nothing but the service layer (and the domain types: lectures, answers, corrections).
pub use crate::chunk::Strategy;
pub use crate::index::IndexReport;
pub use crate::inference::runtime::{Provider, ProviderReport};
pub use crate::retrieval::{Mode, Passage, SearchParams};
pub use crate::store::{Draft, SearchFilter, Which, default_path as default_db_path};

use crate::generate::Generator;
use crate::generate::LanguageModel;
use crate::inference::TextEmbedder;
use crate::inference::embed::OnnxEmbedder;
use crate::inference::manifest::ModelDir;
use crate::settings::Settings;
use crate::store::Db;
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// Where the lectures live: a file (a connection per call), or memory (one shared connection).
enum Storage {
    File(PathBuf),
    Memory(Mutex<Db>),
}

/// A database connection for one call.
pub enum DbHandle<'a> {
    Own(Db),
    Shared(MutexGuard<'a, Db>),
}

impl std::ops::Deref for DbHandle<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        match self {
            DbHandle::Own(d) => d,
            DbHandle::Shared(g) => g,
        }
    }
}

impl std::ops::DerefMut for DbHandle<'_> {
    fn deref_mut(&mut self) -> &mut Db {
        match self {
            DbHandle::Own(d) => d,
            DbHandle::Shared(g) => g,
        }
    }
}

type SharedGenerator = Arc<Mutex<Box<dyn Generator>>>;

/// kogi as a front end sees it.
pub struct Kogi {
    storage: Storage,
    settings: RwLock<Settings>,
    /// Where settings are saved; `None` keeps them for this run only.
    settings_path: Option<PathBuf>,
    /// Why the stored settings could not be read (the defaults are in use meanwhile).
    settings_problem: Mutex<Option<String>>,
    embedder: Mutex<Option<Arc<dyn TextEmbedder>>>,
    /// Held for the whole of a generation: one model, one user.
    generator: Mutex<Option<SharedGenerator>>,
}

impl Kogi {
    /// kogi over the database file `db` with `settings` (saved to `settings_path` when changed).
    pub fn new(db: PathBuf, settings: Settings, settings_path: Option<PathBuf>) -> Self {
        Self {
            storage: Storage::File(db),
            settings: RwLock::new(settings),
            settings_path,
            settings_problem: Mutex::new(None),
            embedder: Mutex::new(None),
            generator: Mutex::new(None),
        }
    }

    /// The settings stored at `settings_path` (their defaults, and the reason, when they cannot be
    /// read), over the database file `db`.
    pub fn load(db: PathBuf, settings_path: PathBuf) -> Self {
        let (settings, problem) = match Settings::load(&settings_path) {
            Ok(s) => (s, None),
            Err(e) => (Settings::default(), Some(e.to_string())),
        };
        let k = Self::new(db, settings, Some(settings_path));
        *k.settings_problem.lock().expect("settings") = problem;
        k
    }

    /// A private database in memory (evaluations, benchmarks, tests).
    pub fn in_memory(settings: Settings) -> Result<Self> {
        let mut k = Self::new(PathBuf::from(":memory:"), settings, None);
        k.storage = Storage::Memory(Mutex::new(Db::open_in_memory()?));
        Ok(k)
    }

    /// Use these models instead of loading the ones the settings name (tests, other backends).
    pub fn with_models(self, embedder: Option<Arc<dyn TextEmbedder>>, generator: Option<Box<dyn Generator>>) -> Self {
        *self.embedder.lock().expect("embedder") = embedder;
        *self.generator.lock().expect("generator") = generator.map(|g| Arc::new(Mutex::new(g)));
        self
    }

    pub fn db_path(&self) -> PathBuf {
        match &self.storage {
            Storage::File(p) => p.clone(),
            Storage::Memory(_) => PathBuf::from(":memory:"),
        }
    }

    pub fn settings_path(&self) -> Option<&Path> {
        self.settings_path.as_deref()
    }

    /// A connection to the database.
    pub fn db(&self) -> Result<DbHandle<'_>> {
        match &self.storage {
            Storage::File(p) => Ok(DbHandle::Own(Db::open(p)?)),
            Storage::Memory(m) => Ok(DbHandle::Shared(m.lock().expect("database"))),
        }
    }

    pub fn settings(&self) -> Settings {
        self.settings.read().expect("settings").clone()
    }

    pub fn settings_problem(&self) -> Option<String> {
        self.settings_problem.lock().expect("settings").clone()
    }

    /// Validate and keep new settings (saved when kogi has a settings file); models whose folder,
    /// provider or threads changed are loaded afresh on next use.
    pub fn save_settings(&self, new: Settings) -> Result<()> {
        new.validate()?;
        if let Some(p) = &self.settings_path {
            new.save(p)?;
        }
        let before = std::mem::replace(&mut *self.settings.write().expect("settings"), new.clone());
        *self.settings_problem.lock().expect("settings") = None;
        let runs_differently = before.provider != new.provider || before.threads != new.threads;
        if runs_differently || before.embedder_dir() != new.embedder_dir() {
            *self.embedder.lock().expect("embedder") = None;
        }
        if runs_differently || before.chat_dir() != new.chat_dir() {
            *self.generator.lock().expect("generator") = None;
        }
        Ok(())
    }

    /// The embedding model, loaded on first use (`job` hears the load).
    pub fn embedder(&self, job: &mut Job) -> Result<Arc<dyn TextEmbedder>> {
        let mut slot = self.embedder.lock().expect("embedder");
        if let Some(e) = slot.as_ref() {
            return Ok(e.clone());
        }
        job.enter(Phase::LoadingEmbedder, 1);
        let s = self.settings();
        let e: Arc<dyn TextEmbedder> = Arc::new(OnnxEmbedder::open(ModelDir::open(&s.embedder_dir())?, &s.session())?);
        *slot = Some(e.clone());
        Ok(e)
    }

    /// The embedder when it is loaded already.
    pub fn loaded_embedder(&self) -> Option<Arc<dyn TextEmbedder>> {
        self.embedder.lock().expect("embedder").clone()
    }

    /// The chat model, loaded on first use. Callers lock it for the whole of their generation.
    pub fn generator(&self, job: &mut Job) -> Result<SharedGenerator> {
        let mut slot = self.generator.lock().expect("generator");
        if let Some(g) = slot.as_ref() {
            return Ok(g.clone());
        }
        job.enter(Phase::LoadingLanguageModel, 1);
        let s = self.settings();
        let lm: Box<dyn Generator> = Box::new(LanguageModel::open(&s.chat_dir(), &s.session())?);
        let g = Arc::new(Mutex::new(lm));
        *slot = Some(g.clone());
        Ok(g)
    }

    /// The chat model when it is loaded and not busy.
    pub fn loaded_generator(&self) -> Option<SharedGenerator> {
        self.generator.lock().expect("generator").clone()
    }

    /// Whether the embedding model the settings name is installed (importing works without it).
    pub fn embedder_installed(&self) -> bool {
        self.embedder.lock().expect("embedder").is_some() || self.settings().models_status().embedder_ready
    }
}

/// Lock a shared generator (a poisoned lock means an earlier generation panicked; the model itself
/// holds no state between calls, so it is still usable).
fn lock(g: &SharedGenerator) -> MutexGuard<'_, Box<dyn Generator>> {
    g.lock().unwrap_or_else(|p| p.into_inner())
}

fn not_found(what: String) -> Error {
    Error::NotFoundItem(what)
}

#[cfg(test)]
mod tests;
