//! Long work (import, indexing, model loading, scans, answers) runs on its own thread and talks to
//! the window through one event, `job`, so the UI thread never waits; every job can be cancelled.

use kogi_core::service::{Event, Job};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tauri::{AppHandle, Emitter, Manager};

pub type JobId = u64;

/// What a job tells the window. Serialised with a `type` tag for the front end.
#[derive(Serialize, Clone, Debug, ts_rs::TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export_to = "desktop/")]
pub enum JobEvent {
    Progress {
        job: JobId,
        stage: String,
        done: usize,
        total: usize,
    },
    /// A piece of streamed text (an answer); `part` names which answer of a comparison.
    Text {
        job: JobId,
        part: String,
        text: String,
    },
    Done {
        job: JobId,
        /// What the work returned: an import `ImportOutcome`, a re-index `IndexReport | null`, a scan
        /// `Scan`, a question `Asked` (see commands.rs).
        #[ts(type = "unknown")]
        result: serde_json::Value,
    },
    Failed {
        job: JobId,
        message: String,
    },
    Cancelled {
        job: JobId,
    },
}

#[derive(Default)]
pub struct Jobs {
    next: AtomicU64,
    running: Mutex<HashMap<JobId, Arc<AtomicBool>>>,
}

/// Handed to a job's work: reports progress and text, and says whether to stop.
pub struct Reporter {
    app: AppHandle,
    pub job: JobId,
    pub cancel: Arc<AtomicBool>,
}

impl Reporter {
    pub fn progress(&self, stage: &str, done: usize, total: usize) {
        self.emit(JobEvent::Progress {
            job: self.job,
            stage: stage.into(),
            done,
            total,
        });
    }

    pub fn text(&self, part: &str, text: &str) {
        self.emit(JobEvent::Text {
            job: self.job,
            part: part.into(),
            text: text.into(),
        });
    }

    /// The app's state (it lives as long as the app).
    pub fn state(&self) -> tauri::State<'_, crate::state::AppState> {
        self.app.state::<crate::state::AppState>()
    }

    /// The core's handle for this job's work: its phases, streamed text and the cancel flag.
    pub fn job(&self) -> Job<'_> {
        Job::new(&self.cancel, move |e| match e {
            Event::Progress { phase, done, total } => self.progress(&phase.label(), done, total),
            Event::Text { part, text } => self.text(part, text),
            Event::Answered { .. } => {}
        })
    }

    fn emit(&self, e: JobEvent) {
        if let Err(err) = self.app.emit("job", e) {
            tracing::warn!(%err, "could not send a job event to the window");
        }
    }
}

impl Jobs {
    /// Start `work` on its own thread; its result (or error) arrives as the job's last event.
    pub fn spawn<F>(&self, app: &AppHandle, name: &str, work: F) -> JobId
    where
        F: FnOnce(&Reporter) -> kogi_core::Result<serde_json::Value> + Send + 'static,
    {
        let job = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let cancel = Arc::new(AtomicBool::new(false));
        self.running
            .lock()
            .expect("jobs")
            .insert(job, cancel.clone());
        let reporter = Reporter {
            app: app.clone(),
            job,
            cancel,
        };
        let app = app.clone();
        let name = name.to_owned();
        std::thread::Builder::new()
            .name(format!("job-{job}-{name}"))
            .spawn(move || {
                let started = std::time::Instant::now();
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&reporter)));
                let event = match outcome {
                    Ok(Ok(result)) => JobEvent::Done { job, result },
                    Ok(Err(kogi_core::Error::Cancelled)) => JobEvent::Cancelled { job },
                    Ok(Err(e)) => JobEvent::Failed { job, message: e.explained(crate::state::remedy) },
                    Err(_) => JobEvent::Failed {
                        job,
                        message: format!("{name} stopped on an internal error (a bug in kogi); nothing was lost — please report it"),
                    },
                };
                tracing::info!(job, name, ms = started.elapsed().as_millis() as u64, outcome = ?std::mem::discriminant(&event), "job finished");
                reporter.emit(event);
                if let Some(state) = app.try_state::<crate::state::AppState>() {
                    state.jobs.running.lock().expect("jobs").remove(&job);
                }
            })
            .expect("spawn a job thread");
        job
    }

    /// Ask a running job to stop; false when it already finished.
    pub fn cancel(&self, job: JobId) -> bool {
        match self.running.lock().expect("jobs").get(&job) {
            Some(flag) => {
                flag.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }
}
