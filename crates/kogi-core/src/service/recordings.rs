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
use crate::lecture::LectureId;
use crate::recording::Recording;
use crate::recording::audio::AudioStream;
use crate::{Error, Result};
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

    /// Use the speech model in `dir` (the settings' model when `None`) with `precision` from now on.
    pub fn load_transcriber(self, dir: Option<&Path>, precision: Precision) -> Result<Self> {
        let s = self.settings();
        let dir = dir.map(Path::to_owned).unwrap_or_else(|| s.transcriber_dir());
        let model = WhisperModel::open(ModelDir::open(&dir)?, &s.session(), precision)?;
        Ok(self.with_transcriber(Arc::new(model)))
    }

    /// Use this transcriber instead of the settings' model (tests, benchmarks).
    pub fn with_transcriber(self, t: Arc<dyn Transcribe>) -> Self {
        *self.transcriber.lock().expect("transcriber") = Some(t);
        self
    }

    /// Where work files of this database go (beside it; the system's temporary folder for a
    /// database in memory).
    fn scratch_dir(&self) -> PathBuf {
        self.data_folder().join("scratch")
    }

    /// What a recording says, with times (nothing stored).
    pub fn transcribe(&self, path: &Path, opts: &transcribe::Options, job: &mut Job) -> Result<Transcription> {
        let model = self.transcriber(job)?;
        let vad = if opts.all_sound { None } else { Some(SileroVad::open(ModelDir::open(&self.settings().models_dir().join(VAD_MODEL))?)?) };
        transcribe::transcribe(model.as_ref(), vad.as_ref(), path, opts, &self.scratch_dir(), job)
    }

    /// Transcribe a recording and import the transcript as a lecture (revision 1, with segment times),
    /// the recording kept with it. A recording imported before is not transcribed again.
    pub fn import_recording(&self, path: &Path, opts: &ImportOptions, language: Option<String>, index: IndexWhen, job: &mut Job) -> Result<ImportOutcome> {
        let sha = transcribe::file_sha256(path)?;
        if let Some(lecture) = self.db()?.lecture_by_source(&sha)? {
            // A lecture from this recording that lost its copy (an import stopped between the two
            // steps by an older version) gets it back.
            if self.recording(lecture.id)?.is_none() {
                self.link_recording(lecture.id, path)?;
            }
            return Ok(ImportOutcome { lecture, created: false, index: None });
        }
        let heard = self.transcribe(path, &transcribe::Options { language, ..Default::default() }, job)?;
        let duration_ms = (heard.duration * 1000.0).round() as u64;
        let mut t = heard.into_transcript(path, sha.clone())?;
        t.meta = opts.meta.clone().or(&t.meta);
        // The copy first: a lecture is never left pointing at a file that is not there. It is linked
        // as soon as the lecture is stored, before indexing: a failed or cancelled indexing leaves a
        // lecture that still has its recording (and is indexed later), not one that lost it.
        let kept = self.keep_media(path, &sha)?;
        let outcome = self.store_import_then(t, index, job, |lecture| self.link(lecture, path, &kept, &sha, Some(duration_ms)).map(drop));
        if outcome.is_err() {
            self.forget_media_if_unused(&kept);
        }
        outcome
    }

    /// A recording handed over as bytes (a file picker's): written to a scratch file under its own name
    /// (transcription reads a piece at a time, and the kept copy keeps the name), then imported.
    pub(super) fn import_recording_bytes(&self, name: &str, bytes: &[u8], opts: &ImportOptions, index: IndexWhen, job: &mut Job) -> Result<ImportOutcome> {
        let scratch = self.scratch_dir();
        std::fs::create_dir_all(&scratch).map_err(|e| Error::Io { path: scratch.clone(), message: e.to_string() })?;
        let dir = tempfile::tempdir_in(&scratch).map_err(|e| Error::Io { path: scratch.clone(), message: e.to_string() })?;
        let path = dir.path().join(Path::new(name).file_name().unwrap_or("recording".as_ref()));
        std::fs::write(&path, bytes).map_err(|e| Error::Io { path: path.clone(), message: e.to_string() })?;
        self.import_recording(&path, opts, None, index, job)
    }

    /// Keep `path` as the recording of a lecture imported as text (it plays at the cursor and at
    /// citations). Replaces the lecture's earlier recording.
    pub fn link_recording(&self, lecture: LectureId, path: &Path) -> Result<Recording> {
        self.db()?.lecture(lecture)?;
        let mut stream = AudioStream::open(path)?;
        let duration_ms = stream.duration().map(|d| (d * 1000.0).round() as u64);
        // A recording with no sound to play is refused, as an import refuses it.
        if duration_ms == Some(0) || (duration_ms.is_none() && stream.read(1)?.is_empty()) {
            return Err(Error::Media { path: path.to_owned(), message: "the recording is 0 seconds long — nothing to play".into() });
        }
        drop(stream);
        let sha = transcribe::file_sha256(path)?;
        let kept = self.keep_media(path, &sha)?;
        self.link(lecture, path, &kept, &sha, duration_ms)
    }

    fn link(&self, lecture: LectureId, path: &Path, kept: &str, sha: &str, duration_ms: Option<u64>) -> Result<Recording> {
        let bytes = std::fs::metadata(self.media_dir().join(kept)).map(|m| m.len()).unwrap_or(0);
        let r = Recording {
            lecture,
            file: kept.to_owned(),
            original_name: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            sha256: sha.to_owned(),
            bytes,
            duration_ms,
        };
        let replaced = match self.db()?.set_recording(&r) {
            Ok(old) => old,
            Err(e) => {
                self.forget_media_if_unused(kept);
                return Err(e);
            }
        };
        if let Some(old) = replaced {
            self.forget_media_if_unused(&old);
        }
        Ok(r)
    }

    /// The recording kept with a lecture, if any.
    pub fn recording(&self, lecture: LectureId) -> Result<Option<Recording>> {
        let db = self.db()?;
        db.lecture(lecture)?;
        db.recording(lecture)
    }

    /// Where recordings are kept: `media` beside the database.
    pub fn media_dir(&self) -> PathBuf {
        self.data_folder().join("media")
    }

    /// Bytes the kept recordings take.
    pub fn media_bytes(&self) -> Result<u64> {
        self.db()?.recordings_bytes()
    }

    fn data_folder(&self) -> PathBuf {
        match self.db_path().parent() {
            Some(p) if !p.as_os_str().is_empty() && self.db_path() != Path::new(":memory:") => p.to_owned(),
            _ => std::env::temp_dir().join("kogi-memory"),
        }
    }

    /// Copy `path` into the media folder as `<sha256>.<ending>` (through a temporary file renamed into
    /// place: never a half-written recording). Returns the file's name there.
    fn keep_media(&self, path: &Path, sha: &str) -> Result<String> {
        let dir = self.media_dir();
        std::fs::create_dir_all(&dir).map_err(|e| Error::Io { path: dir.clone(), message: e.to_string() })?;
        let ext = path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).filter(|e| e.chars().all(|c| c.is_ascii_alphanumeric())).unwrap_or_else(|| "bin".into());
        let name = format!("{sha}.{ext}");
        let target = dir.join(&name);
        if target.exists() && transcribe::file_sha256(&target).ok().as_deref() == Some(sha) {
            return Ok(name);
        }
        let tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| Error::Io { path: dir.clone(), message: e.to_string() })?;
        std::fs::copy(path, tmp.path()).map_err(|e| match e.raw_os_error() {
            Some(28) => Error::DiskFull { path: dir.clone(), message: format!("the recording ({} MB) does not fit", std::fs::metadata(path).map(|m| m.len() >> 20).unwrap_or(0)) },
            _ => Error::Io { path: path.to_owned(), message: e.to_string() },
        })?;
        tmp.persist(&target).map_err(|e| Error::Io { path: target.clone(), message: e.to_string() })?;
        Ok(name)
    }

    fn forget_media_if_unused(&self, file: &str) {
        if let Ok(db) = self.db()
            && !db.recording_file_in_use(file).unwrap_or(true)
            && !crate::store::Db::recording_file_in_use_in_folder(&self.data_folder(), file)
        {
            let _ = std::fs::remove_file(self.media_dir().join(file));
        }
    }
}
