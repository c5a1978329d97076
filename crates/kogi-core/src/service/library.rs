//! Bringing transcripts in and keeping them searchable: import (then index), index, list.

use super::{Job, Kogi, Phase};
use crate::index::{IndexReport, Indexer};
use crate::lecture::{Lecture, LectureId};
use crate::store::Db;
use crate::transcript::ImportedTranscript;
use crate::transcript::import::{ImportOptions, import_bytes, import_file};
use crate::Result;
use serde::Serialize;
use std::path::Path;

/// Whether an import indexes the lecture it made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexWhen {
    /// Always (an error when the embedder is missing).
    Always,
    /// When the embedding model is installed; importing works without it.
    IfEmbedderInstalled,
    Never,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ImportOutcome {
    pub lecture: Lecture,
    /// False when the same file was imported before (the existing lecture is returned).
    pub created: bool,
    pub index: Option<IndexReport>,
}

impl Kogi {
    pub fn lectures(&self, course: Option<&str>) -> Result<Vec<Lecture>> {
        self.db()?.lectures(course)
    }

    /// Import one transcript file as a lecture (or find it, when the same file was imported before).
    pub fn import_file(&self, path: &Path, opts: &ImportOptions, index: IndexWhen, job: &mut Job) -> Result<ImportOutcome> {
        if crate::recording::audio::is_recording(path) {
            return self.import_recording(path, opts, None, index, job);
        }
        job.enter(Phase::Reading, 1);
        let t = import_file(path, opts)?;
        self.store_import(t, index, job)
    }

    /// Import a transcript already in memory (a file chosen in a picker); `name` gives its format.
    pub fn import_bytes(&self, name: &str, bytes: &[u8], opts: &ImportOptions, index: IndexWhen, job: &mut Job) -> Result<ImportOutcome> {
        if crate::recording::audio::is_recording(Path::new(name)) {
            return self.import_recording_bytes(name, bytes, opts, index, job);
        }
        job.enter(Phase::Reading, 1);
        let t = import_bytes(name, bytes, opts)?;
        self.store_import(t, index, job)
    }

    pub(super) fn store_import(&self, t: ImportedTranscript, index: IndexWhen, job: &mut Job) -> Result<ImportOutcome> {
        self.store_import_then(t, index, job, |_| Ok(()))
    }

    /// [`Self::store_import`], with `stored` run once the lecture is committed and before it is
    /// indexed (what must not depend on indexing succeeding).
    pub(super) fn store_import_then(&self, t: ImportedTranscript, index: IndexWhen, job: &mut Job, stored: impl FnOnce(LectureId) -> Result<()>) -> Result<ImportOutcome> {
        let mut db = self.db()?;
        let imported = db.import_transcript(&t)?;
        if imported.created {
            stored(imported.lecture.id)?;
        }
        let wanted = match index {
            IndexWhen::Always => true,
            IndexWhen::IfEmbedderInstalled => self.embedder_installed(),
            IndexWhen::Never => false,
        };
        let index = if wanted { Some(self.index_in(&mut db, imported.lecture.id, job)?) } else { None };
        Ok(ImportOutcome { lecture: imported.lecture, created: imported.created, index })
    }

    /// Index lectures' newest revisions (every lecture when `lectures` is empty); only chunk texts
    /// not embedded before are embedded.
    pub fn index(&self, lectures: &[LectureId], job: &mut Job) -> Result<Vec<IndexReport>> {
        let mut db = self.db()?;
        let ids: Vec<LectureId> =
            if lectures.is_empty() { db.lectures(None)?.into_iter().map(|l| l.id).collect() } else { lectures.to_vec() };
        ids.into_iter().map(|id| self.index_in(&mut db, id, job)).collect()
    }

    /// After an edit: bring the lecture's index up to date when the embedder is installed (old
    /// citations keep resolving to their revision). `None` when nothing was indexed.
    pub fn reindex_after_edit(&self, lecture: LectureId, job: &mut Job) -> Result<Option<IndexReport>> {
        if !self.embedder_installed() {
            return Ok(None);
        }
        let mut db = self.db()?;
        self.index_in(&mut db, lecture, job).map(Some)
    }

    pub(super) fn index_in(&self, db: &mut Db, lecture: LectureId, job: &mut Job) -> Result<IndexReport> {
        let embedder = self.embedder(job)?;
        let strategy = self.settings().chunking;
        let mut ix = Indexer::new(embedder.as_ref());
        ix.tokens = Some(embedder.as_ref());
        ix.words = Some(self.words());
        job.enter(Phase::Indexing, 0);
        let cancel = job.cancel_flag();
        ix.index_lecture(db, lecture, &strategy, &mut |p| job.progress(p.done, p.total), cancel)
    }
}
