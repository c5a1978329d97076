//! Recordings in: speech recognition into revision 1 of a lecture.

use super::Kogi;
use super::job::{Job, Phase};
use super::library::{ImportOutcome, IndexWhen};
use crate::inference::Transcribe;
use crate::inference::vad::SileroVad;
use crate::inference::manifest::ModelDir;
use crate::inference::whisper::{Precision, WhisperModel};
use crate::recording::transcribe::{self, Transcription};
use crate::transcript::import::ImportOptions;
use crate::Result;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The voice activity model's folder in the models folder.
pub const VAD_MODEL: &str = "silero-vad";

impl Kogi {
    /// The speech recognition model, loaded on first use.
    pub fn transcriber(&self, job: &mut Job) -> Result<Arc<dyn Transcribe>> {
        let mut slot = self.transcriber.lock().expect("transcriber");
        if let Some(t) = slot.as_ref() {
            return Ok(t.clone());
        }
        job.enter(Phase::LoadingTranscriber, 1);
        let s = self.settings();
        let t: Arc<dyn Transcribe> = Arc::new(WhisperModel::open(ModelDir::open(&s.transcriber_dir())?, &s.session(), Precision::Int8)?);
        *slot = Some(t.clone());
        Ok(t)
    }

    /// Use this transcriber instead of the settings' model (tests, benchmarks).
    pub fn with_transcriber(self, t: Arc<dyn Transcribe>) -> Self {
        *self.transcriber.lock().expect("transcriber") = Some(t);
        self
    }

    /// Where work files of this database go (beside it; the system's temporary folder for a
    /// database in memory).
    fn scratch_dir(&self) -> PathBuf {
        match self.db_path().parent() {
            Some(p) if !p.as_os_str().is_empty() && self.db_path() != Path::new(":memory:") => p.join("scratch"),
            _ => std::env::temp_dir().join("kogi-scratch"),
        }
    }

    /// What a recording says, with times (nothing stored).
    pub fn transcribe(&self, path: &Path, opts: &transcribe::Options, job: &mut Job) -> Result<Transcription> {
        let model = self.transcriber(job)?;
        let vad = if opts.all_sound { None } else { Some(SileroVad::open(ModelDir::open(&self.settings().models_dir().join(VAD_MODEL))?)?) };
        transcribe::transcribe(model.as_ref(), vad.as_ref(), path, opts, &self.scratch_dir(), job)
    }

    /// Transcribe a recording and import the transcript as a lecture (revision 1, with segment times).
    pub fn import_recording(&self, path: &Path, opts: &ImportOptions, language: Option<String>, index: IndexWhen, job: &mut Job) -> Result<ImportOutcome> {
        let heard = self.transcribe(path, &transcribe::Options { language, ..Default::default() }, job)?;
        let mut t = heard.into_transcript(path)?;
        t.meta = opts.meta.clone().or(&t.meta);
        self.store_import(t, index, job)
    }
}
