//! Where kogi keeps its files on the user's machine.

use std::path::PathBuf;

/// `$KOGI_HOME`, else the platform's user data folder (`~/.local/share/kogi` on Linux).
pub fn data_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("KOGI_HOME") {
        return PathBuf::from(p);
    }
    directories::ProjectDirs::from("", "", "kogi")
        .map(|d| d.data_dir().to_owned())
        .unwrap_or_else(|| PathBuf::from(".kogi-data"))
}

/// Installed models: `$KOGI_MODELS`, else `<data dir>/models`.
pub fn models_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("KOGI_MODELS") {
        return PathBuf::from(p);
    }
    data_dir().join("models")
}
