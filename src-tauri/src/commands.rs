//! The commands the window may call (each granted by name in capabilities/main.json). They only
//! translate between the window and kogi-core's service layer; long work becomes a job (see
//! jobs.rs). Commands are async so that none runs on the thread that draws the window.

use crate::jobs::{JobId, Reporter};
use crate::state::{AppState, CmdResult, UiError};
use kogi_core::Error;
use kogi_core::correction::glossary::{Occurrence, ReplaceOptions, Term, TermSuggestion};
use kogi_core::correction::suspicious::{ScanParams, Suggestion};
use kogi_core::lecture::{Lecture, LectureId, Revision, RevisionId};
use kogi_core::recording::Recording;
use kogi_core::service::{AddModel, AppStatus, AskRequest, Draft, IndexWhen, LectureView, ModelEntry, Saved};
use kogi_core::server::{ServerReport, ServerSettings};
use kogi_core::settings::Settings;
use kogi_core::text::CharSpan;
use kogi_core::transcript::import::ImportOptions;
use serde::Serialize;
use serde_json::json;
use std::path::{Path, PathBuf};
use tauri::{Manager, AppHandle, State};

// ------------------------------------------------------------------------------------------ app

#[tauri::command]
pub async fn app_status(state: State<'_, AppState>) -> CmdResult<AppStatus> {
    Ok(state.kogi.status())
}

#[tauri::command]
pub async fn save_settings(state: State<'_, AppState>, settings: Settings) -> CmdResult<AppStatus> {
    state.kogi.save_settings(settings)?;
    Ok(state.kogi.status())
}

/// The window calls this once its first screen is drawn: launch-to-usable time.
#[tauri::command]
pub async fn ui_ready(app: AppHandle, state: State<'_, AppState>) -> CmdResult<f64> {
    let ms = state.launched.elapsed().as_secs_f64() * 1e3;
    tracing::info!(ms, "window usable");
    // An edit saved while the app was closed or killed before its indexing finished: index it now,
    // in the background, so no lecture stays out of search.
    let handle = app.clone();
    std::thread::spawn(move || {
        let cancel = std::sync::atomic::AtomicBool::new(false);
        let kogi = &handle.state::<AppState>().kogi;
        match kogi.finish_interrupted_indexing_everywhere(&mut kogi_core::service::Job::silent(&cancel)) {
            Ok(done) if !done.is_empty() => tracing::info!(?done, "finished the index of interrupted edits"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not finish the index of interrupted edits"),
        }
    });
    if std::env::var_os("KOGI_EXIT_WHEN_READY").is_some() {
        // Wall-clock time too, so a caller can measure from before the process started.
        let epoch_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        println!("KOGI_READY_MS={ms:.1}\nKOGI_READY_EPOCH_MS={epoch_ms}");
        app.exit(0);
    }
    Ok(ms)
}

#[tauri::command]
pub async fn cancel_job(state: State<'_, AppState>, job: JobId) -> CmdResult<bool> {
    Ok(state.jobs.cancel(job))
}

// -------------------------------------------------------------------------------------- library

#[tauri::command]
pub async fn list_lectures(state: State<'_, AppState>) -> CmdResult<Vec<Lecture>> {
    Ok(state.kogi.lectures(None)?)
}

#[derive(Serialize, ts_rs::TS)]
#[ts(export_to = "desktop/")]
pub struct ImportStarted {
    job: JobId,
    name: String,
}

/// A path the window sent (a dropped file): it must name an existing regular file, given absolutely.
pub fn validate_import_path(raw: &str) -> std::result::Result<PathBuf, String> {
    let p = Path::new(raw);
    if raw.is_empty() || !p.is_absolute() {
        return Err(format!("{raw:?} is not an absolute file path"));
    }
    let meta = std::fs::metadata(p).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{raw} does not exist"),
        _ => format!("{raw} cannot be read: {e}"),
    })?;
    if meta.is_dir() {
        return Err(format!(
            "{raw} is a folder — drop the transcript files inside it instead"
        ));
    }
    if !meta.is_file() {
        return Err(format!("{raw} is not a regular file"));
    }
    p.canonicalize()
        .map_err(|e| format!("{raw} cannot be read: {e}"))
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// Import dropped files, one job each (progress per file; a bad file fails alone).
#[tauri::command]
pub async fn import_paths(
    app: AppHandle,
    state: State<'_, AppState>,
    paths: Vec<String>,
) -> CmdResult<Vec<ImportStarted>> {
    let mut started = Vec::new();
    for raw in paths {
        let checked = validate_import_path(&raw);
        let name = checked
            .as_deref()
            .map(file_name)
            .unwrap_or_else(|_| raw.clone());
        let job = state.jobs.spawn(&app, "import", move |r| {
            let path = checked.map_err(Error::Invalid)?;
            let opts = ImportOptions::default();
            let outcome = r.state().kogi.import_file(&path, &opts, IndexWhen::IfEmbedderInstalled, &mut r.job())?;
            Ok(json!(outcome))
        });
        started.push(ImportStarted { job, name });
    }
    Ok(started)
}

/// Import a file chosen in the file picker: its bytes, and its name in the `x-file-name` header.
#[tauri::command]
pub async fn import_bytes(
    app: AppHandle,
    state: State<'_, AppState>,
    request: tauri::ipc::Request<'_>,
) -> CmdResult<ImportStarted> {
    let tauri::ipc::InvokeBody::Raw(bytes) = request.body() else {
        return Err("the file's bytes must be sent as raw data"
            .to_string()
            .into());
    };
    let name = request
        .headers()
        .get("x-file-name")
        .and_then(|v| v.to_str().ok())
        .map(percent_decode)
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| UiError::from("the file's name is missing".to_string()))?;
    let bytes = bytes.clone();
    let shown = name.clone();
    let job = state.jobs.spawn(&app, "import", move |r| {
        let opts = ImportOptions::default();
        let kogi = &r.state().kogi;
        // A recording among them is transcribed: the core tells them apart by name.
        Ok(json!(kogi.import_bytes(&name, &bytes, &opts, IndexWhen::IfEmbedderInstalled, &mut r.job())?))
    });
    Ok(ImportStarted { job, name: shown })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A saved revision as the window gets it, with the background re-index when there is one.
#[derive(Serialize, ts_rs::TS)]
#[ts(export_to = "desktop/")]
pub struct SavedView {
    revision: Revision,
    index_job: Option<JobId>,
}

fn saved(app: &AppHandle, state: &AppState, saved: Saved) -> SavedView {
    let lecture = saved.revision.lecture;
    let index_job = saved.reindex.then(|| {
        state.jobs.spawn(app, "reindex", move |r: &Reporter| {
            Ok(json!(r.state().kogi.reindex_after_edit(lecture, &mut r.job())?))
        })
    });
    SavedView { revision: saved.revision, index_job }
}

// -------------------------------------------------------------------------------------- lecture

#[tauri::command]
pub async fn open_lecture(state: State<'_, AppState>, lecture: i64) -> CmdResult<LectureView> {
    Ok(state.kogi.open_lecture(LectureId(lecture))?)
}

#[tauri::command]
pub async fn revision(state: State<'_, AppState>, revision: i64) -> CmdResult<Revision> {
    Ok(state.kogi.revision(RevisionId(revision))?)
}

#[tauri::command]
pub async fn save_revision(
    app: AppHandle,
    state: State<'_, AppState>,
    lecture: i64,
    parent: i64,
    text: String,
    message: Option<String>,
) -> CmdResult<SavedView> {
    let s = state.kogi.save_edit(LectureId(lecture), RevisionId(parent), &text, message.as_deref())?;
    Ok(saved(&app, &state, s))
}

#[tauri::command]
pub async fn restore_revision(
    app: AppHandle,
    state: State<'_, AppState>,
    lecture: i64,
    revision: i64,
) -> CmdResult<SavedView> {
    let s = state.kogi.restore(LectureId(lecture), RevisionId(revision))?;
    Ok(saved(&app, &state, s))
}

#[tauri::command]
pub async fn put_draft(
    state: State<'_, AppState>,
    lecture: i64,
    parent: i64,
    text: String,
) -> CmdResult<Draft> {
    Ok(state.kogi.put_draft(LectureId(lecture), RevisionId(parent), &text)?)
}

#[tauri::command]
pub async fn discard_draft(state: State<'_, AppState>, lecture: i64) -> CmdResult<()> {
    Ok(state.kogi.discard_draft(LectureId(lecture))?)
}

// ----------------------------------------------------------------------------------- recordings

/// Where the window plays recordings from, and what they take on disk.
#[derive(Serialize, ts_rs::TS)]
#[ts(export_to = "desktop/")]
pub struct MediaInfo {
    /// A recording plays from this followed by its file name; `None` when recordings cannot play.
    url: Option<String>,
    /// Why recordings cannot play.
    problem: Option<String>,
    /// The media folder, beside the database.
    folder: String,
    #[ts(type = "number")]
    bytes: u64,
}

#[tauri::command]
pub async fn media_info(state: State<'_, AppState>) -> CmdResult<MediaInfo> {
    let (url, problem) = match &state.media {
        Ok(m) => (Some(m.base_url()), None),
        Err(e) => (None, Some(e.clone())),
    };
    Ok(MediaInfo { url, problem, folder: state.kogi.media_dir().display().to_string(), bytes: state.kogi.media_bytes()? })
}

#[tauri::command]
pub async fn recording(state: State<'_, AppState>, lecture: i64) -> CmdResult<Option<Recording>> {
    Ok(state.kogi.recording(LectureId(lecture))?)
}

/// Keep a recording with a lecture imported as text. Copying and hashing a long recording takes
/// seconds: off the async threads.
#[tauri::command]
pub async fn link_recording(app: AppHandle, lecture: i64, path: String) -> CmdResult<Recording> {
    let path = validate_import_path(path.trim())?;
    tauri::async_runtime::spawn_blocking(move || app.state::<AppState>().kogi.link_recording(LectureId(lecture), &path))
        .await
        .map_err(|e| UiError::from(format!("linking the recording stopped: {e}")))?
        .map_err(UiError::from)
}

// ------------------------------------------------------------------------------------- glossary

#[tauri::command]
pub async fn glossary_terms(
    state: State<'_, AppState>,
    course: Option<String>,
) -> CmdResult<Vec<Term>> {
    Ok(state.kogi.glossary_terms(course.as_deref())?)
}

#[tauri::command]
pub async fn glossary_add(
    state: State<'_, AppState>,
    term: String,
    variants: Vec<String>,
    course: String,
) -> CmdResult<Term> {
    Ok(state.kogi.add_term(&term, &variants, &course)?)
}

/// Every occurrence of the lecture course's glossary in a revision; nothing changes.
#[tauri::command]
pub async fn glossary_preview(
    state: State<'_, AppState>,
    revision: i64,
) -> CmdResult<Vec<Occurrence>> {
    Ok(state.kogi.glossary_preview(RevisionId(revision), &ReplaceOptions::default())?)
}

/// Spans of the newest revision that look or sound like mis-heard glossary terms, and new terms to
/// propose (spelled like, or sounding like, what the lecture says often); nothing changes.
#[tauri::command]
pub async fn glossary_suggestions(
    state: State<'_, AppState>,
    lecture: i64,
) -> CmdResult<Vec<TermSuggestion>> {
    Ok(state.kogi.glossary_suggestions(LectureId(lecture))?)
}

/// Apply the occurrences the person kept as one revision.
#[tauri::command]
pub async fn glossary_apply(
    app: AppHandle,
    state: State<'_, AppState>,
    lecture: i64,
    parent: i64,
    occurrences: Vec<Occurrence>,
) -> CmdResult<SavedView> {
    let s = state.kogi.glossary_apply(LectureId(lecture), RevisionId(parent), &occurrences)?;
    Ok(saved(&app, &state, s))
}

// ----------------------------------------------------------------------------------- suspicious

#[tauri::command]
pub async fn scan_suspicious(
    app: AppHandle,
    state: State<'_, AppState>,
    revision: i64,
) -> CmdResult<JobId> {
    Ok(state.jobs.spawn(&app, "scan", move |r| {
        let scan = r.state().kogi.scan(RevisionId(revision), &ScanParams::default(), &mut r.job())?;
        Ok(json!(scan))
    }))
}

#[tauri::command]
pub async fn suggest(
    state: State<'_, AppState>,
    revision: i64,
    start: usize,
    end: usize,
) -> CmdResult<Vec<Suggestion>> {
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let mut job = kogi_core::service::Job::silent(&cancel);
    Ok(state.kogi.suggest(RevisionId(revision), CharSpan { start, end }, &mut job)?)
}

#[tauri::command]
pub async fn accept_suggestion(
    app: AppHandle,
    state: State<'_, AppState>,
    lecture: i64,
    parent: i64,
    suggestion: Suggestion,
) -> CmdResult<SavedView> {
    let s = state.kogi.accept(LectureId(lecture), RevisionId(parent), &suggestion)?;
    Ok(saved(&app, &state, s))
}

// ------------------------------------------------------------------------------------------ ask

#[tauri::command]
pub async fn ask(
    app: AppHandle,
    state: State<'_, AppState>,
    request: AskRequest,
) -> CmdResult<JobId> {
    if request.question.trim().is_empty() {
        return Err("type a question first".to_string().into());
    }
    if request.modes.is_empty() {
        return Err("choose at least one step of the ladder".to_string().into());
    }
    Ok(state.jobs.spawn(&app, "ask", move |r| {
        Ok(json!(r.state().kogi.ask(&request, &mut r.job())?))
    }))
}

// --------------------------------------------------------------------------------------- models

#[tauri::command]
pub async fn list_models(state: State<'_, AppState>) -> CmdResult<Vec<ModelEntry>> {
    Ok(state.kogi.models())
}

/// A path the window sent for a model: an existing GGUF file or model folder, given absolutely.
pub fn validate_model_path(raw: &str) -> std::result::Result<PathBuf, String> {
    let p = Path::new(raw.trim());
    if raw.trim().is_empty() || !p.is_absolute() {
        return Err(format!("{raw:?} is not an absolute path — give the full path of a .gguf file or a model folder"));
    }
    let meta = std::fs::metadata(p).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{raw} does not exist"),
        _ => format!("{raw} cannot be read: {e}"),
    })?;
    if !meta.is_file() && !meta.is_dir() {
        return Err(format!("{raw} is not a regular file or folder"));
    }
    p.canonicalize().map_err(|e| format!("{raw} cannot be read: {e}"))
}

/// Convert a GGUF file or a Hugging Face folder into the models folder, as a job.
#[tauri::command]
pub async fn add_model(app: AppHandle, state: State<'_, AppState>, request: AddModel) -> CmdResult<JobId> {
    let source = validate_model_path(&request.source.to_string_lossy())?;
    let request = AddModel { source, ..request };
    Ok(state.jobs.spawn(&app, "add-model", move |r| Ok(json!(r.state().kogi.add_model(&request, &mut r.job())?))))
}

#[tauri::command]
pub async fn use_chat_model(state: State<'_, AppState>, name: String) -> CmdResult<AppStatus> {
    state.kogi.use_chat_model(&name)?;
    Ok(state.kogi.status())
}

#[tauri::command]
pub async fn remove_model(state: State<'_, AppState>, name: String) -> CmdResult<Vec<ModelEntry>> {
    state.kogi.remove_model(&name)?;
    Ok(state.kogi.models())
}

// --------------------------------------------------------------------------------------- server

/// "Test connection": the server's models and context window, before the settings are saved.
/// `key` is the one typed in the form (the stored one when empty). Off the async threads: the
/// client waits for its own runtime.
#[tauri::command]
pub async fn test_server(app: AppHandle, server: ServerSettings, key: Option<String>) -> CmdResult<ServerReport> {
    let handle = app.clone();
    let report = tauri::async_runtime::spawn_blocking(move || handle.state::<AppState>().kogi.test_server(&server, key.as_deref()))
        .await
        .map_err(|e| UiError::from(format!("the connection test stopped: {e}")))??;
    Ok(report)
}

/// Keep the server's API key (empty forgets it); the window only ever sees its last characters.
#[tauri::command]
pub async fn set_server_key(state: State<'_, AppState>, key: Option<String>) -> CmdResult<AppStatus> {
    state.kogi.set_server_key(key.as_deref())?;
    Ok(state.kogi.status())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_paths_of_existing_regular_files_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("講義.srt");
        std::fs::write(&f, "1\n00:00:00,000 --> 00:00:01,000\nこんにちは\n").unwrap();
        assert_eq!(
            validate_import_path(f.to_str().unwrap()).unwrap(),
            f.canonicalize().unwrap()
        );
        assert!(
            validate_import_path("講義.srt")
                .unwrap_err()
                .contains("absolute")
        );
        assert!(validate_import_path("").unwrap_err().contains("absolute"));
        assert!(
            validate_import_path(dir.path().to_str().unwrap())
                .unwrap_err()
                .contains("folder")
        );
        let missing = dir.path().join("nope.txt");
        assert!(
            validate_import_path(missing.to_str().unwrap())
                .unwrap_err()
                .contains("does not exist")
        );
        assert!(
            validate_import_path("/dev/null")
                .unwrap_err()
                .contains("regular file")
        );
    }

    #[test]
    fn file_names_sent_percent_encoded_decode_to_unicode() {
        assert_eq!(
            percent_decode("LLM2024_day4_raw.txt"),
            "LLM2024_day4_raw.txt"
        );
        assert_eq!(percent_decode("%E8%AC%9B%E7%BE%A9%201.srt"), "講義 1.srt");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
