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
mod recordings;

pub use asking::{AskRequest, Asked, QuoteReason, Unsearchable};
pub use editing::{LectureView, RevisionSummary, Saved};
pub use evaluation::{AnswerEvalRequest, CorrectionEvalRequest, RetrievalEvalRequest};
pub use job::{Event, Job, Phase};
pub use library::{ImportOutcome, IndexWhen};
pub use crate::inference::whisper::Precision;
pub use models::{AddModel, AppStatus, DictionaryReport, DraftsReport, ModelEntry, ModelsReport};
pub use crate::model::convert::{Converted, Target};

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
use crate::model::{LanguageFit, language_fit};
use crate::server::key::{self, ApiKey};
use crate::server::{Client, Engine, ServerEmbedder, ServerModel, ServerReport, ServerSettings};
use crate::retrieval::Words;
use crate::settings::Settings;
use crate::text::japanese::{Analyzer, DEFAULT_DICTIONARY};
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
    /// The chat model's language fit, for the folder it was measured on.
    fit: Mutex<Option<(PathBuf, LanguageFit)>>,
    /// A generator handed in by the caller (not the settings' model folder): its fit is unknown.
    injected_generator: bool,
    /// The server's API key (its own owner-only file beside the settings).
    server_key: Mutex<Option<ApiKey>>,
    /// The connected server model; each generation gets its own clone, so questions run at once.
    server_model: Mutex<Option<ServerModel>>,
    /// How text becomes words for keyword search (the Japanese dictionary, once loaded).
    words: Mutex<Option<Words>>,
    /// The speech recognition model, once loaded.
    transcriber: Mutex<Option<Arc<dyn crate::inference::Transcribe>>>,
}

impl Kogi {
    /// kogi over the database file `db` with `settings` (saved to `settings_path` when changed).
    pub fn new(db: PathBuf, settings: Settings, settings_path: Option<PathBuf>) -> Self {
        // Absolute, so that recordings kept beside the database (`media/`) stay beside it whatever
        // the working folder of a later run (`--db lectures.sqlite3` has no parent to keep them in).
        let db = std::path::absolute(&db).unwrap_or(db);
        Self {
            storage: Storage::File(db),
            settings: RwLock::new(settings),
            settings_path,
            settings_problem: Mutex::new(None),
            embedder: Mutex::new(None),
            generator: Mutex::new(None),
            fit: Mutex::new(None),
            injected_generator: false,
            server_key: Mutex::new(None),
            server_model: Mutex::new(None),
            words: Mutex::new(None),
            transcriber: Mutex::new(None),
        }
    }

    /// The settings stored at `settings_path` (their defaults, and the reason, when they cannot be
    /// read), over the database file `db`.
    pub fn load(db: PathBuf, settings_path: PathBuf) -> Self {
        let (settings, problem) = match Settings::load(&settings_path) {
            Ok(s) => (s, None),
            Err(e) => (Settings::default(), Some(e.to_string())),
        };
        let key = key::load(&key::path_beside(&settings_path));
        let k = Self::new(db, settings, Some(settings_path));
        let problem = match key {
            Ok(key) => {
                *k.server_key.lock().expect("key") = key;
                problem
            }
            Err(e) => Some(problem.map(|p| format!("{p}; ")).unwrap_or_default() + &e.to_string()),
        };
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
    pub fn with_models(mut self, embedder: Option<Arc<dyn TextEmbedder>>, generator: Option<Box<dyn Generator>>) -> Self {
        self.injected_generator = generator.is_some();
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

    /// How text becomes words for keyword search: the Japanese dictionary in the models folder
    /// (loaded once), else character bigrams. A dictionary that cannot be read is reported in the
    /// log and by `kogi models`, and search goes on with bigrams.
    pub fn words(&self) -> Words {
        let mut w = self.words.lock().expect("words");
        w.get_or_insert_with(|| {
            // The models folder, else the one the .deb installs beside the binary.
            let beside = std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join("../lib/kogi").join(DEFAULT_DICTIONARY)));
            let Some(dir) = std::iter::once(self.settings().models_dir().join(DEFAULT_DICTIONARY))
                .chain(beside)
                .find(|d| d.join("manifest.json").is_file())
            else {
                return Words::Bigrams;
            };
            match Analyzer::open(&dir) {
                Ok(a) => Words::Analyzer(Arc::new(a)),
                Err(e) => {
                    tracing::warn!(error = %e, "the Japanese dictionary cannot be used; keyword search uses character pairs");
                    Words::Bigrams
                }
            }
        })
        .clone()
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
        let mut kept_damaged = None;
        if let Some(p) = &self.settings_path {
            // A file kogi could not read is the person's to fix: it is kept, not overwritten.
            if p.exists() && Settings::load(p).is_err() {
                let copy = p.with_extension(format!("damaged-{}.json", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())));
                std::fs::copy(p, &copy).map_err(|e| Error::Io { path: copy.clone(), message: e.to_string() })?;
                kept_damaged = Some(copy);
            }
            new.save(p)?;
        }
        let before = std::mem::replace(&mut *self.settings.write().expect("settings"), new.clone());
        *self.settings_problem.lock().expect("settings") = kept_damaged
            .map(|c| format!("the settings file could not be read, so new settings were saved over it; what it held is kept in {}", c.display()));
        let runs_differently = before.provider != new.provider || before.threads != new.threads;
        let served_differently = before.engine != new.engine || before.server != new.server;
        if runs_differently || served_differently || before.embedder_dir() != new.embedder_dir() {
            *self.embedder.lock().expect("embedder") = None;
        }
        if before.models_dir() != new.models_dir() {
            *self.words.lock().expect("words") = None;
        }
        if runs_differently || served_differently || before.chat_dir() != new.chat_dir() {
            *self.generator.lock().expect("generator") = None;
            *self.server_model.lock().expect("server") = None;
        }
        Ok(())
    }

    /// Keep the server's API key (`None` or empty removes it), in its own owner-only file.
    pub fn set_server_key(&self, key: Option<&str>) -> Result<()> {
        let key = key.filter(|k| !k.trim().is_empty()).map(ApiKey::new).transpose()?;
        if let Some(p) = &self.settings_path {
            key::save(&key::path_beside(p), key.as_ref())?;
        }
        *self.server_key.lock().expect("key") = key;
        *self.server_model.lock().expect("server") = None;
        *self.embedder.lock().expect("embedder") = None;
        Ok(())
    }

    /// The stored key as the user may see it (its last characters).
    pub fn server_key_hint(&self) -> Option<String> {
        self.server_key.lock().expect("key").as_ref().map(|k| k.hint())
    }

    /// Try a server before choosing it: its models and context window. `key` overrides the stored one.
    pub fn test_server(&self, server: &ServerSettings, key: Option<&str>) -> Result<ServerReport> {
        server.url()?;
        let key = match key.filter(|k| !k.trim().is_empty()) {
            Some(k) => Some(ApiKey::new(k)?),
            None => self.server_key.lock().expect("key").clone(),
        };
        Client::new(server, key)?.report()
    }

    /// Answer from `server` from now on: tested first (a server that does not answer is not saved),
    /// its model taken from the list when it serves only one and checked against the list otherwise.
    pub fn choose_server(&self, mut server: ServerSettings) -> Result<ServerReport> {
        let report = self.test_server(&server, None)?;
        if server.model.trim().is_empty() {
            match report.models.as_slice() {
                [only] => server.model = only.clone(),
                [] => return Err(Error::Invalid(format!("{} lists no models: name the one to use", report.host))),
                many => return Err(Error::Invalid(format!("{} serves {} models: choose one ({})", report.host, many.len(), many.join(", ")))),
            }
        } else if report.model_listed == Some(false) {
            return Err(Error::Invalid(format!("{} does not serve {:?}: it lists {}", report.host, server.model, report.models.join(", "))));
        }
        server.privacy_acknowledged = true;
        let mut s = self.settings();
        s.engine = Engine::Server;
        s.server = server;
        self.save_settings(s)?;
        Ok(report)
    }

    /// Where answers come from: `None` for this computer, the server's host otherwise.
    pub fn answered_by(&self) -> Option<String> {
        let s = self.settings();
        (s.engine == Engine::Server && !self.injected_generator).then(|| s.server.host())
    }

    fn server_client(&self) -> Result<Arc<Client>> {
        let s = self.settings();
        s.server.validate()?;
        Ok(Arc::new(Client::new(&s.server, self.server_key.lock().expect("key").clone())?))
    }

    /// The embedding model, loaded on first use (`job` hears the load).
    pub fn embedder(&self, job: &mut Job) -> Result<Arc<dyn TextEmbedder>> {
        let mut slot = self.embedder.lock().expect("embedder");
        if let Some(e) = slot.as_ref() {
            return Ok(e.clone());
        }
        job.enter(Phase::LoadingEmbedder, 1);
        let s = self.settings();
        let e: Arc<dyn TextEmbedder> = match (&s.engine, &s.server.embed_model) {
            (Engine::Server, Some(model)) => Arc::new(ServerEmbedder::open(self.server_client()?, model)?),
            _ => Arc::new(OnnxEmbedder::open(ModelDir::open(&s.embedder_dir())?, &s.session())?),
        };
        *slot = Some(e.clone());
        Ok(e)
    }

    /// The embedder when it is loaded already. `embedder()` holds the slot for a whole load: one
    /// being loaded is not loaded yet, and nobody asking this waits for it.
    pub fn loaded_embedder(&self) -> Option<Arc<dyn TextEmbedder>> {
        self.embedder.try_lock().ok().and_then(|e| e.clone())
    }

    /// The chat model, loaded on first use. Callers lock it for the whole of their generation; a
    /// server's model is handed out as a fresh clone each time, so generations run side by side.
    pub fn generator(&self, job: &mut Job) -> Result<SharedGenerator> {
        if self.settings().engine == Engine::Server && !self.injected_generator {
            let mut slot = self.server_model.lock().expect("server");
            if slot.is_none() {
                job.enter(Phase::LoadingLanguageModel, 1);
                *slot = Some(ServerModel::open(self.server_client()?)?);
            }
            let model: Box<dyn Generator> = Box::new(slot.clone().expect("connected"));
            return Ok(Arc::new(Mutex::new(model)));
        }
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
        self.generator.try_lock().ok().and_then(|g| g.clone())
    }

    /// Whether the chat model the settings name can read Japanese (`None`: no usable model folder).
    pub fn chat_fit(&self) -> Option<LanguageFit> {
        if self.injected_generator || self.settings().engine == Engine::Server {
            return None;
        }
        let dir = self.settings().chat_dir();
        let mut slot = self.fit.lock().expect("fit");
        if let Some((d, f)) = slot.as_ref()
            && *d == dir
        {
            return Some(f.clone());
        }
        let fit = language_fit(&ModelDir::open(&dir).ok()?);
        *slot = Some((dir, fit.clone()));
        Some(fit)
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
