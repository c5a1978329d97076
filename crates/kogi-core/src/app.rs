//! The use cases front ends call (CLI, desktop): one database, one embedder, one retriever.

use crate::chunk::Strategy;
use crate::index::{IndexReport, Indexer, Progress};
use crate::inference::embed::OnnxEmbedder;
use crate::inference::manifest::{ModelDir, default_embedder_dir};
use crate::inference::runtime::{Provider, SessionConfig};
use crate::inference::Embed;
use crate::lecture::LectureId;
use crate::retrieval::{Passage, Retriever, SearchParams};
use crate::store::{Db, Imported};
use crate::transcript::import::{ImportOptions, import_file};
use crate::Result;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    pub db: PathBuf,
    pub embedder: PathBuf,
    pub provider: Provider,
    pub threads: Option<usize>,
    pub strategy: Strategy,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            db: crate::store::default_path(),
            embedder: default_embedder_dir(),
            provider: Provider::Auto,
            threads: None,
            strategy: crate::index::default_strategy(),
        }
    }
}

pub struct Kogi {
    pub config: Config,
    pub db: Db,
    embedder: Option<OnnxEmbedder>,
}

impl Kogi {
    pub fn open(config: Config) -> Result<Self> {
        let db = Db::open(&config.db)?;
        Ok(Self { config, db, embedder: None })
    }

    pub fn with_db(config: Config, db: Db) -> Self {
        Self { config, db, embedder: None }
    }

    /// The embedding model, loaded on first use.
    pub fn embedder(&mut self) -> Result<&OnnxEmbedder> {
        if self.embedder.is_none() {
            let dir = ModelDir::open(&self.config.embedder)?;
            let cfg = SessionConfig { provider: self.config.provider, threads: self.config.threads, ..Default::default() };
            self.embedder = Some(OnnxEmbedder::open(dir, &cfg)?);
        }
        Ok(self.embedder.as_ref().expect("loaded"))
    }

    /// Import one file as a lecture (or find it, if the same file was imported before).
    pub fn import(&mut self, path: &Path, opts: &ImportOptions) -> Result<Imported> {
        let t = import_file(path, opts)?;
        self.db.import_transcript(&t)
    }

    /// Index a lecture's newest revision with the configured strategy.
    pub fn index(&mut self, lecture: LectureId, progress: &mut dyn FnMut(Progress), cancel: &AtomicBool) -> Result<IndexReport> {
        let strategy = self.config.strategy.clone();
        self.embedder()?;
        let Self { db, embedder, .. } = self;
        let e = embedder.as_ref().expect("loaded");
        let mut ix = Indexer::new(e);
        ix.tokens = Some(e);
        ix.index_lecture(db, lecture, &strategy, progress, cancel)
    }

    /// A retriever over this database (holds the dense index between queries).
    pub fn search(&mut self, question: &str, params: &SearchParams) -> Result<Vec<Passage>> {
        let strategy = self.config.strategy.clone();
        self.embedder()?;
        let Self { db, embedder, .. } = self;
        let mut r = Retriever::new(embedder.as_ref().expect("loaded") as &dyn Embed, &strategy);
        r.search(db, question, params)
    }

    /// Split borrows for callers that keep a [`Retriever`] across queries.
    pub fn parts(&mut self) -> Result<(&mut Db, &OnnxEmbedder)> {
        self.embedder()?;
        let Self { db, embedder, .. } = self;
        Ok((db, embedder.as_ref().expect("loaded")))
    }
}
