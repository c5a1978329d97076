//! What the app holds between commands: the settings, the models once loaded, the running jobs.
//! Each command opens its own SQLite connection (WAL lets readers and one writer work at once), so a
//! long index or scan never blocks the library list.

use crate::jobs::Jobs;
use kogi_core::generate::engine::LanguageModel;
use kogi_core::inference::embed::OnnxEmbedder;
use kogi_core::inference::manifest::ModelDir;
use kogi_core::settings::Settings;
use kogi_core::store::Db;
use kogi_core::{Error, Result};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub struct AppState {
    pub launched: Instant,
    pub db_path: PathBuf,
    pub settings_path: PathBuf,
    pub settings: Mutex<Settings>,
    /// Why the stored settings could not be read (the defaults are in use meanwhile).
    pub settings_problem: Mutex<Option<String>>,
    embedder: Mutex<Option<Arc<OnnxEmbedder>>>,
    /// Held for the whole of a generation: one model, one user.
    pub lm: Mutex<Option<LanguageModel>>,
    pub jobs: Jobs,
}

/// A command's error as the window shows it: the core's message, which says what to do.
#[derive(Debug, Serialize)]
pub struct UiError {
    pub message: String,
}

impl From<Error> for UiError {
    fn from(e: Error) -> Self {
        Self {
            message: e.to_string(),
        }
    }
}

impl From<String> for UiError {
    fn from(message: String) -> Self {
        Self { message }
    }
}

pub type CmdResult<T> = std::result::Result<T, UiError>;

impl AppState {
    pub fn new(launched: Instant) -> Self {
        let settings_path = kogi_core::settings::default_path();
        let (settings, problem) = match Settings::load(&settings_path) {
            Ok(s) => (s, None),
            Err(e) => (Settings::default(), Some(e.to_string())),
        };
        Self {
            launched,
            db_path: kogi_core::store::default_path(),
            settings_path,
            settings: Mutex::new(settings),
            settings_problem: Mutex::new(problem),
            embedder: Mutex::new(None),
            lm: Mutex::new(None),
            jobs: Jobs::default(),
        }
    }

    pub fn settings(&self) -> Settings {
        self.settings.lock().expect("settings").clone()
    }

    pub fn db(&self) -> Result<Db> {
        if let Some(dir) = self.db_path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::Database {
                path: self.db_path.clone(),
                message: format!("cannot create its folder: {e}"),
            })?;
        }
        Db::open(&self.db_path)
    }

    /// The embedding model, loaded on first use.
    pub fn embedder(&self) -> Result<Arc<OnnxEmbedder>> {
        let mut slot = self.embedder.lock().expect("embedder");
        if let Some(e) = slot.as_ref() {
            return Ok(e.clone());
        }
        let s = self.settings();
        let e = Arc::new(OnnxEmbedder::open(
            ModelDir::open(&s.embedder_dir())?,
            &s.session(),
        )?);
        *slot = Some(e.clone());
        Ok(e)
    }

    pub fn loaded_embedder(&self) -> Option<Arc<OnnxEmbedder>> {
        self.embedder.lock().expect("embedder").clone()
    }

    /// Run `f` with the chat model, loading it first if needed (`loading` is told before a load).
    pub fn with_lm<T>(
        &self,
        loading: impl FnOnce(),
        f: impl FnOnce(&mut LanguageModel) -> Result<T>,
    ) -> Result<T> {
        let mut slot = self.lm.lock().expect("language model");
        if slot.is_none() {
            loading();
            let s = self.settings();
            *slot = Some(LanguageModel::open(&s.chat_dir(), &s.session())?);
        }
        f(slot.as_mut().expect("loaded"))
    }

    /// Forget loaded models (after the models folder or the provider changed).
    pub fn unload_models(&self) {
        *self.embedder.lock().expect("embedder") = None;
        *self.lm.lock().expect("language model") = None;
    }
}
