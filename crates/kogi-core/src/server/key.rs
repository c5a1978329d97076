//! The server's API key: kept in a file of its own beside the settings, readable by the owner only,
//! never logged, and shown only as its last four characters.

use crate::{Error, Result};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A key that cannot be printed by accident (`Debug` and `Display` show `…abcd`).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: &str) -> Result<Self> {
        let key = key.trim();
        if key.is_empty() {
            return Err(Error::Invalid("the API key is empty".into()));
        }
        if key.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(Error::Invalid("the API key has spaces or control characters in it — paste only the key".into()));
        }
        Ok(Self(key.to_owned()))
    }

    pub fn secret(&self) -> &str {
        &self.0
    }

    /// What the user is shown: the last four characters.
    pub fn hint(&self) -> String {
        let tail: String = self.0.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
        format!("…{tail}")
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({})", self.hint())
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hint())
    }
}

/// `server-key` beside the settings file.
pub fn path_beside(settings: &Path) -> PathBuf {
    settings.with_file_name("server-key")
}

/// The stored key, if any.
pub fn load(path: &Path) -> Result<Option<ApiKey>> {
    match std::fs::read_to_string(path) {
        Ok(t) if t.trim().is_empty() => Ok(None),
        Ok(t) => ApiKey::new(&t).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Io { path: path.to_owned(), message: format!("cannot read the API key: {e}") }),
    }
}

/// Store `key` (owner-only from the moment the file exists), or remove it.
pub fn save(path: &Path, key: Option<&ApiKey>) -> Result<()> {
    let io = |e: std::io::Error| Error::Io { path: path.to_owned(), message: format!("cannot store the API key: {e}") };
    let Some(key) = key else {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
            _ => Ok(()),
        };
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp).map_err(io)?;
    f.write_all(key.secret().as_bytes()).and_then(|()| f.sync_all()).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_key_is_owner_only_reads_back_and_never_prints_in_full() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_beside(&dir.path().join("settings.json"));
        assert_eq!(load(&path).unwrap(), None);
        let key = ApiKey::new("  sk-local-0123456789abcd\n").unwrap();
        save(&path, Some(&key)).unwrap();
        assert_eq!(load(&path).unwrap().unwrap().secret(), "sk-local-0123456789abcd");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(format!("{key} {key:?}"), "…abcd ApiKey(…abcd)");
        save(&path, None).unwrap();
        assert!(!path.exists());
        assert!(ApiKey::new("two words").is_err() && ApiKey::new("").is_err());
    }
}
