//! What the app holds between commands: kogi's service (settings, database, models) and the
//! running jobs.

use crate::jobs::Jobs;
use crate::media::MediaServer;
use kogi_core::service::Kogi;
use kogi_core::{Error, Remedy};
use serde::Serialize;
use std::time::Instant;

pub struct AppState {
    pub launched: Instant,
    pub kogi: Kogi,
    pub jobs: Jobs,
    /// Plays recordings to the window; why not, when it could not start.
    pub media: Result<MediaServer, String>,
}

/// A command's error as the window shows it: what went wrong and what to do, in the app's terms.
#[derive(Debug, Serialize, ts_rs::TS)]
#[ts(export_to = "desktop/")]
pub struct UiError {
    pub message: String,
}

/// What to do about an error, with the app's own controls.
pub fn remedy(r: Remedy) -> String {
    match r {
        Remedy::RaiseSizeLimit => "split the transcript into smaller files and import them".into(),
        Remedy::ChooseAnotherDatabase => {
            "the database file is named in Settings; move it aside (nothing in it is deleted) and restart kogi to begin a new one"
                .into()
        }
        Remedy::IndexLectures => {
            "install the embedding model (Settings → Models); lectures are indexed when they are imported or saved".into()
        }
        Remedy::ListLectures => "the Library lists the lectures".into(),
        Remedy::ListRevisions(_) => "the lecture's History lists its revisions".into(),
        Remedy::ListModels => "Settings → Models lists them".into(),
    }
}

impl From<Error> for UiError {
    fn from(e: Error) -> Self {
        Self { message: e.explained(remedy) }
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
        let kogi = Kogi::load(kogi_core::service::default_db_path(), kogi_core::settings::default_path());
        let media = MediaServer::start(kogi.media_dir()).map_err(|e| {
            tracing::warn!(%e, "recordings cannot play: the local player connection could not open");
            format!("kogi could not open its local connection for playing recordings ({e})")
        });
        Self { launched, kogi, jobs: Jobs::default(), media }
    }
}
