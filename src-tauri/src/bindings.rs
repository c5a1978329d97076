//! The TypeScript types of what the shell itself sends the window (job events, the views its
//! commands build), generated into `ui/src/bindings/desktop/` next to kogi-core's types (see
//! `kogi_core::bindings`); `scripts/test.sh` fails when they differ from the committed files.

use crate::commands::{ImportStarted, MediaInfo, SavedView};
use crate::jobs::JobEvent;
use crate::state::UiError;
use kogi_core::bindings::{config, sync, ts_files};
use std::path::Path;
use ts_rs::TS;

#[test]
fn typescript_bindings_are_written_to_the_ui() {
    let bindings = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings");
    let ours = tempfile::tempdir().unwrap();
    let cfg = config(ours.path());
    JobEvent::export_all(&cfg).unwrap();
    ImportStarted::export_all(&cfg).unwrap();
    MediaInfo::export_all(&cfg).unwrap();
    SavedView::export_all(&cfg).unwrap();
    UiError::export_all(&cfg).unwrap();

    // The core's types these use are kogi-core's to write: each must be one it exports, as it
    // exports it.
    let core = tempfile::tempdir().unwrap();
    kogi_core::bindings::export(core.path()).unwrap();
    for name in ts_files(ours.path()).unwrap() {
        let core_file = std::fs::read(core.path().join(&name));
        assert!(
            core_file.is_ok_and(|c| c == std::fs::read(ours.path().join(&name)).unwrap()),
            "{name} is used by the desktop's types but kogi-core's bindings do not export it: add it to kogi_core::bindings::export"
        );
    }

    let changed = sync(&ours.path().join("desktop"), &bindings.join("desktop")).unwrap();
    if !changed.is_empty() {
        eprintln!("rewrote ui/src/bindings/desktop: {}", changed.join(", "));
    }
    let files = ts_files(&bindings.join("desktop")).unwrap();
    assert_eq!(
        files.into_iter().collect::<Vec<_>>(),
        [
            "ImportStarted.ts",
            "JobEvent.ts",
            "MediaInfo.ts",
            "SavedView.ts",
            "UiError.ts"
        ]
    );
}

#[test]
fn job_events_are_tagged_unions_with_unknown_results() {
    let cfg = config(Path::new("."));
    let decl = JobEvent::decl(&cfg);
    assert!(
        decl.contains(r#"{ "type": "done", job: number, "#),
        "{decl}"
    );
    assert!(decl.contains("result: unknown"), "{decl}");
}
