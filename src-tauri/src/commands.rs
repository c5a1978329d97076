//! The commands the window may call (each granted by name in capabilities/main.json). They only
//! translate between the window and kogi-core; long work becomes a job (see jobs.rs). Commands are
//! async so that none runs on the thread that draws the window.

use crate::jobs::{JobId, Reporter};
use crate::state::{AppState, CmdResult, UiError};
use kogi_core::answer::{Answer, Answerer, Rung};
use kogi_core::correction::glossary::{Occurrence, ReplaceOptions, Term, preview};
use kogi_core::correction::suspicious::{self, ScanParams, Suggestion};
use kogi_core::index::{IndexReport, Indexer};
use kogi_core::inference::runtime::ProviderReport;
use kogi_core::lecture::{Lecture, LectureId, Revision, RevisionId, RevisionKind};
use kogi_core::settings::{ModelsStatus, Settings};
use kogi_core::store::{Db, Draft};
use kogi_core::text::CharSpan;
use kogi_core::transcript::import::{ImportOptions, import_bytes as parse_bytes, import_file};
use kogi_core::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;
use tauri::{AppHandle, State};

// ------------------------------------------------------------------------------------------ app

#[derive(Serialize)]
pub struct AppStatus {
    version: &'static str,
    db_path: PathBuf,
    settings_path: PathBuf,
    settings: Settings,
    settings_problem: Option<String>,
    models: ModelsStatus,
    /// Where the ONNX Runtime library was found, or why it was not.
    runtime: std::result::Result<PathBuf, String>,
    embedder_provider: Option<ProviderReport>,
    chat_provider: Option<ProviderReport>,
}

fn status(state: &AppState) -> AppStatus {
    let settings = state.settings();
    AppStatus {
        version: env!("CARGO_PKG_VERSION"),
        db_path: state.db_path.clone(),
        settings_path: state.settings_path.clone(),
        models: settings.models_status(),
        settings,
        settings_problem: state.settings_problem.lock().expect("settings").clone(),
        runtime: runtime_library(),
        embedder_provider: state.loaded_embedder().map(|e| e.provider.clone()),
        chat_provider: state
            .lm
            .try_lock()
            .ok()
            .and_then(|lm| lm.as_ref().map(|m| m.decoder.provider.clone())),
    }
}

/// Where ONNX Runtime would be loaded from. Looked up, not loaded: the first screen asks for the
/// status, and loading the library there would add to every launch.
fn runtime_library() -> std::result::Result<PathBuf, String> {
    let candidates = kogi_core::inference::runtime::library_candidates();
    candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
        let looked: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
        format!("not found in {} — run `scripts/setup.sh` or set KOGI_ORT_LIB to its path", looked.join(", "))
    })
}

#[tauri::command]
pub async fn app_status(state: State<'_, AppState>) -> CmdResult<AppStatus> {
    Ok(status(&state))
}

#[tauri::command]
pub async fn save_settings(state: State<'_, AppState>, settings: Settings) -> CmdResult<AppStatus> {
    settings.save(&state.settings_path)?;
    let before = std::mem::replace(
        &mut *state.settings.lock().expect("settings"),
        settings.clone(),
    );
    *state.settings_problem.lock().expect("settings") = None;
    let models_changed = before.models_dir != settings.models_dir
        || before.embedder != settings.embedder
        || before.chat_model != settings.chat_model
        || before.provider != settings.provider
        || before.threads != settings.threads;
    if models_changed {
        state.unload_models();
    }
    Ok(status(&state))
}

/// The window calls this once its first screen is drawn: launch-to-usable time.
#[tauri::command]
pub async fn ui_ready(app: AppHandle, state: State<'_, AppState>) -> CmdResult<f64> {
    let ms = state.launched.elapsed().as_secs_f64() * 1e3;
    tracing::info!(ms, "window usable");
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
    Ok(state.db()?.lectures(None)?)
}

#[derive(Serialize)]
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
            r.progress("reading", 0, 1);
            let t = import_file(&path, &ImportOptions::default())?;
            import_and_index(r, t)
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
        r.progress("reading", 0, 1);
        let t = parse_bytes(&name, &bytes, &ImportOptions::default())?;
        import_and_index(r, t)
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

fn import_and_index(
    r: &Reporter,
    t: kogi_core::transcript::ImportedTranscript,
) -> Result<serde_json::Value> {
    let state = r.state();
    let mut db = state.db()?;
    let imported = db.import_transcript(&t)?;
    let lecture = imported.lecture.id;
    // Importing works without models; searching needs the index, built now when the embedder is there.
    let index = match state.settings().models_status().embedder_ready {
        true => Some(index_lecture(r, &mut db, lecture)?),
        false => None,
    };
    Ok(json!({ "lecture": imported.lecture, "created": imported.created, "index": index }))
}

fn index_lecture(r: &Reporter, db: &mut Db, lecture: LectureId) -> Result<IndexReport> {
    let state = r.state();
    r.progress("loading the embedding model", 0, 1);
    let embedder = state.embedder()?;
    let mut ix = Indexer::new(embedder.as_ref());
    ix.tokens = Some(embedder.as_ref());
    let strategy = state.settings().config(state.db_path.clone()).strategy;
    ix.index_lecture(
        db,
        lecture,
        &strategy,
        &mut |p| r.progress("indexing", p.done, p.total),
        &r.cancel,
    )
}

fn reindex_job(app: &AppHandle, state: &AppState, lecture: LectureId) -> Option<JobId> {
    state.settings().models_status().embedder_ready.then(|| {
        state.jobs.spawn(app, "reindex", move |r| {
            let mut db = r.state().db()?;
            Ok(json!(index_lecture(r, &mut db, lecture)?))
        })
    })
}

// -------------------------------------------------------------------------------------- lecture

#[derive(Serialize)]
pub struct RevisionSummary {
    id: RevisionId,
    number: i64,
    parent: Option<RevisionId>,
    kind: RevisionKind,
    message: Option<String>,
    created_at: String,
    chars: usize,
}

#[derive(Serialize)]
pub struct LectureView {
    lecture: Lecture,
    original: Revision,
    head: Revision,
    revisions: Vec<RevisionSummary>,
    draft: Option<Draft>,
}

#[tauri::command]
pub async fn open_lecture(state: State<'_, AppState>, lecture: i64) -> CmdResult<LectureView> {
    let db = state.db()?;
    let id = LectureId(lecture);
    let revisions = db.revisions(id)?;
    let original = revisions
        .first()
        .cloned()
        .ok_or_else(|| Error::NotFoundItem(format!("lecture {lecture} has no revisions")))?;
    let head = db.head_revision(id)?;
    Ok(LectureView {
        lecture: db.lecture(id)?,
        original,
        head,
        revisions: revisions
            .into_iter()
            .rev()
            .map(|r| RevisionSummary {
                id: r.id,
                number: r.number,
                parent: r.parent,
                kind: r.kind,
                message: r.message,
                created_at: r.created_at,
                chars: r.text.chars().count(),
            })
            .collect(),
        draft: db.draft(id)?,
    })
}

#[tauri::command]
pub async fn revision(state: State<'_, AppState>, revision: i64) -> CmdResult<Revision> {
    Ok(state.db()?.revision(RevisionId(revision))?)
}

#[derive(Serialize)]
pub struct Saved {
    revision: Revision,
    /// The background re-index, when the embedder is installed.
    index_job: Option<JobId>,
}

fn saved(app: &AppHandle, state: &AppState, db: &mut Db, revision: Revision) -> Result<Saved> {
    db.discard_draft(revision.lecture)?;
    let index_job = reindex_job(app, state, revision.lecture);
    Ok(Saved {
        revision,
        index_job,
    })
}

#[tauri::command]
pub async fn save_revision(
    app: AppHandle,
    state: State<'_, AppState>,
    lecture: i64,
    parent: i64,
    text: String,
    message: Option<String>,
) -> CmdResult<Saved> {
    let mut db = state.db()?;
    let message = message.filter(|m| !m.trim().is_empty());
    let rev = db.save_edit(
        LectureId(lecture),
        RevisionId(parent),
        &text,
        RevisionKind::Edit,
        message.as_deref(),
    )?;
    Ok(saved(&app, &state, &mut db, rev)?)
}

#[tauri::command]
pub async fn restore_revision(
    app: AppHandle,
    state: State<'_, AppState>,
    lecture: i64,
    revision: i64,
) -> CmdResult<Saved> {
    let mut db = state.db()?;
    let rev = db.restore_revision(LectureId(lecture), RevisionId(revision))?;
    Ok(saved(&app, &state, &mut db, rev)?)
}

#[tauri::command]
pub async fn put_draft(
    state: State<'_, AppState>,
    lecture: i64,
    parent: i64,
    text: String,
) -> CmdResult<Draft> {
    Ok(state
        .db()?
        .put_draft(LectureId(lecture), RevisionId(parent), &text)?)
}

#[tauri::command]
pub async fn discard_draft(state: State<'_, AppState>, lecture: i64) -> CmdResult<()> {
    Ok(state.db()?.discard_draft(LectureId(lecture))?)
}

// ------------------------------------------------------------------------------------- glossary

#[tauri::command]
pub async fn glossary_terms(
    state: State<'_, AppState>,
    course: Option<String>,
) -> CmdResult<Vec<Term>> {
    Ok(state.db()?.terms(course.as_deref())?)
}

#[tauri::command]
pub async fn glossary_add(
    state: State<'_, AppState>,
    term: String,
    variants: Vec<String>,
    course: String,
) -> CmdResult<Term> {
    let variants: Vec<&str> = variants
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    let mut t = Term::new(&term, &variants);
    t.course = course;
    Ok(state.db()?.add_term(&t)?)
}

/// Every occurrence of the lecture course's glossary in a revision; nothing changes.
#[tauri::command]
pub async fn glossary_preview(
    state: State<'_, AppState>,
    revision: i64,
) -> CmdResult<Vec<Occurrence>> {
    let db = state.db()?;
    let rev = db.revision(RevisionId(revision))?;
    let course = db.lecture(rev.lecture)?.meta.course;
    let terms = db.terms(course.as_deref())?;
    Ok(preview(&rev.text, &terms, &ReplaceOptions::default()))
}

/// Apply the occurrences the person kept as one revision.
#[tauri::command]
pub async fn glossary_apply(
    app: AppHandle,
    state: State<'_, AppState>,
    lecture: i64,
    parent: i64,
    occurrences: Vec<Occurrence>,
) -> CmdResult<Saved> {
    let mut db = state.db()?;
    let rev = db.apply_occurrences(LectureId(lecture), RevisionId(parent), &occurrences)?;
    Ok(saved(&app, &state, &mut db, rev)?)
}

// ----------------------------------------------------------------------------------- suspicious

#[tauri::command]
pub async fn scan_suspicious(
    app: AppHandle,
    state: State<'_, AppState>,
    revision: i64,
) -> CmdResult<JobId> {
    Ok(state.jobs.spawn(&app, "scan", move |r| {
        let state = r.state();
        let mut db = state.db()?;
        let scan = state.with_lm(
            || r.progress("loading the language model", 0, 1),
            |lm| {
                suspicious::scan_revision(
                    &mut db,
                    lm,
                    RevisionId(revision),
                    &ScanParams::default(),
                    &mut |done, total| r.progress("scanning", done, total),
                    &r.cancel,
                )
            },
        )?;
        Ok(json!(scan))
    }))
}

fn glossary_pairs(db: &Db, course: Option<&str>) -> Result<Vec<(String, Vec<String>)>> {
    Ok(db
        .terms(course)?
        .into_iter()
        .map(|t| (t.term, t.variants))
        .collect())
}

#[tauri::command]
pub async fn suggest(
    state: State<'_, AppState>,
    revision: i64,
    start: usize,
    end: usize,
) -> CmdResult<Vec<Suggestion>> {
    let state = state.inner();
    let db = state.db()?;
    let rev = db.revision(RevisionId(revision))?;
    let course = db.lecture(rev.lecture)?.meta.course;
    let glossary = glossary_pairs(&db, course.as_deref())?;
    let span = CharSpan { start, end };
    Ok(state.with_lm(
        || {},
        |lm| suspicious::suggest(lm, &rev.text, span, &glossary, suspicious::CONTEXT_CHARS),
    )?)
}

#[tauri::command]
pub async fn accept_suggestion(
    app: AppHandle,
    state: State<'_, AppState>,
    lecture: i64,
    parent: i64,
    suggestion: Suggestion,
) -> CmdResult<Saved> {
    let mut db = state.db()?;
    let rev = suspicious::accept(&mut db, LectureId(lecture), RevisionId(parent), &suggestion)?;
    Ok(saved(&app, &state, &mut db, rev)?)
}

// ------------------------------------------------------------------------------------------ ask

#[derive(Deserialize)]
pub struct AskRequest {
    question: String,
    /// One ladder step, or several for a side-by-side comparison.
    modes: Vec<Rung>,
    #[serde(default)]
    think: bool,
}

#[derive(Serialize)]
struct Asked {
    answers: Vec<Answer>,
    /// From the start of the job to the first streamed piece of each answer.
    first_text_ms: Vec<Option<f64>>,
}

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
        let started = Instant::now();
        let state = r.state();
        let settings = state.settings();
        let mut db = state.db()?;
        if db.lectures(None)?.is_empty() {
            return Err(Error::Invalid(
                "there are no lectures yet — import a transcript in the Library first".into(),
            ));
        }
        let embedder = state.embedder()?;
        state.with_lm(
            || r.progress("loading the language model", 0, 1),
            |lm| {
                let mut answerer =
                    Answerer::new(&mut db, embedder.as_ref(), Some(embedder.as_ref()), lm);
                let mut out = Asked {
                    answers: Vec::new(),
                    first_text_ms: Vec::new(),
                };
                for rung in &request.modes {
                    if r.cancel.load(Ordering::Relaxed) {
                        return Err(Error::Cancelled);
                    }
                    r.progress(
                        &format!("answering: {}", rung.name()),
                        out.answers.len(),
                        request.modes.len(),
                    );
                    let params = settings.ask_params(*rung, request.think);
                    let mut first = None;
                    let answer = answerer.ask(
                        &request.question,
                        &params,
                        &mut |t| {
                            first.get_or_insert_with(|| started.elapsed().as_secs_f64() * 1e3);
                            r.text(rung.name(), t);
                        },
                        &r.cancel,
                    )?;
                    out.answers.push(answer);
                    out.first_text_ms.push(first);
                }
                Ok(json!(out))
            },
        )
    }))
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
