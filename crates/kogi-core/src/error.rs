use std::path::PathBuf;

/// Every failure a user can meet, each phrased as what went wrong and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: file not found — check the path")]
    NotFound { path: PathBuf },
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{path}: the file is empty — nothing to import")]
    EmptyFile { path: PathBuf },
    #[error("{path}: looks like a binary file, not a transcript (byte {offset}) — import plain text, SRT, WebVTT or JSON")]
    BinaryFile { path: PathBuf, offset: usize },
    #[error("{path}: cannot decode the text as {encoding} at byte {offset} — save the file as UTF-8 and import it again")]
    Undecodable { path: PathBuf, encoding: String, offset: usize },
    #[error("{path}: line {line}: {message}")]
    Malformed { path: PathBuf, line: usize, message: String },
    #[error("{path}: the file is {size} bytes, over the {limit}-byte limit for a transcript — split it or raise --max-bytes")]
    TooLarge { path: PathBuf, size: u64, limit: u64 },
    #[error("database {path}: {message}")]
    Database { path: PathBuf, message: String },
    #[error("model {model}: {message}")]
    Model { model: String, message: String },
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    #[error("{0}")]
    NotFoundItem(String),
    #[error("{0}")]
    Invalid(String),
    #[error("cancelled")]
    Cancelled,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
