//! The TypeScript types of what crosses the desktop window's IPC boundary, generated from the Rust
//! types (ts-rs reads their serde attributes) into `ui/src/bindings/`, one file per type, committed
//! with the code. The test below rewrites the files; `scripts/test.sh` fails when they then differ
//! from the committed ones. The desktop shell writes its own types (job events, the views it
//! builds) into `ui/src/bindings/desktop/` the same way.

use crate::correction::glossary::{Occurrence, Term, TermSuggestion};
use crate::correction::suspicious::{Scan, Suggestion};
use crate::index::IndexReport;
use crate::lecture::{Lecture, Revision};
use crate::service::{AddModel, AppStatus, AskRequest, Asked, ImportOutcome, LectureView, ModelEntry};
use crate::server::ServerReport;
use crate::settings::Settings;
use crate::store::Draft;
use std::collections::BTreeSet;
use std::path::Path;
use ts_rs::{Config, ExportError, TS};

/// How kogi's types are written into `out`: 64-bit integers (ids, milliseconds, token counts) as
/// `number`, which is what the window's JSON parser makes of them.
pub fn config(out: &Path) -> Config {
    Config::new().with_large_int("number").with_out_dir(out)
}

/// Write every core type the window sends or receives, with every type they use, into `out`.
pub fn export(out: &Path) -> Result<(), ExportError> {
    let cfg = config(out);
    AppStatus::export_all(&cfg)?;
    Settings::export_all(&cfg)?;
    Lecture::export_all(&cfg)?;
    LectureView::export_all(&cfg)?;
    Revision::export_all(&cfg)?;
    Draft::export_all(&cfg)?;
    Term::export_all(&cfg)?;
    Occurrence::export_all(&cfg)?;
    TermSuggestion::export_all(&cfg)?;
    Scan::export_all(&cfg)?;
    Suggestion::export_all(&cfg)?;
    AskRequest::export_all(&cfg)?;
    Asked::export_all(&cfg)?;
    ImportOutcome::export_all(&cfg)?;
    IndexReport::export_all(&cfg)?;
    ModelEntry::export_all(&cfg)?;
    AddModel::export_all(&cfg)?;
    ServerReport::export_all(&cfg)?;
    Ok(())
}

/// The `.ts` files directly inside `dir`, by name.
pub fn ts_files(dir: &Path) -> std::io::Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    if !dir.exists() {
        return Ok(names);
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_file() && name.ends_with(".ts") {
            names.insert(name);
        }
    }
    Ok(names)
}

/// Make the `.ts` files directly inside `target` those directly inside `generated`: new and
/// changed ones are written, ones no longer generated are removed (sub-folders are left alone).
/// Returns the names written or removed.
pub fn sync(generated: &Path, target: &Path) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(target)?;
    let mut changed = Vec::new();
    let wanted = ts_files(generated)?;
    for name in &wanted {
        let text = std::fs::read(generated.join(name))?;
        let path = target.join(name);
        if std::fs::read(&path).ok().as_deref() != Some(text.as_slice()) {
            std::fs::write(&path, text)?;
            changed.push(name.clone());
        }
    }
    for name in ts_files(target)?.difference(&wanted) {
        std::fs::remove_file(target.join(name))?;
        changed.push(name.clone());
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regenerates `ui/src/bindings/` (from any working directory); `scripts/test.sh` then fails
    /// when git sees a difference.
    #[test]
    fn typescript_bindings_are_written_to_the_ui() {
        let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/bindings");
        let tmp = tempfile::tempdir().unwrap();
        export(tmp.path()).unwrap();
        let changed = sync(tmp.path(), &target).unwrap();
        if !changed.is_empty() {
            eprintln!("rewrote ui/src/bindings: {}", changed.join(", "));
        }
        let files = ts_files(&target).unwrap();
        for t in [
            "AppStatus.ts",
            "Settings.ts",
            "Asked.ts",
            "LectureId.ts",
            "Strategy.ts",
            "FinishReason.ts",
        ] {
            assert!(files.contains(t), "{t} missing from {files:?}");
        }
    }

    #[test]
    fn ids_and_64_bit_integers_are_numbers_and_serde_attributes_are_followed() {
        let cfg = config(Path::new("."));
        assert_eq!(crate::lecture::LectureId::inline(&cfg), "number");
        assert_eq!(
            serde_json::to_string(&crate::lecture::RevisionId(7)).unwrap(),
            "7"
        );
        assert_eq!(
            serde_json::from_str::<crate::lecture::LectureId>("3").unwrap(),
            crate::lecture::LectureId(3)
        );
        let settings = Settings::decl(&cfg);
        for field in [
            "lead_citation: boolean",
            "min_similarity: number",
            "chunking: Strategy",
            "models_dir: string | null",
        ] {
            assert!(settings.contains(field), "{field} not in {settings}");
        }
        let strategy = crate::chunk::Strategy::decl(&cfg);
        assert!(
            strategy.contains(r#""kind": "sentence_window""#),
            "{strategy}"
        );
        let status = AppStatus::decl(&cfg);
        assert!(
            status.contains("runtime: { Ok : string } | { Err : string }"),
            "{status}"
        );
    }
}
