use std::path::PathBuf;

/// Every failure a user can meet, each phrased as what went wrong. Where what to do depends on the
/// front end (a flag on the command line, a control in the app), the error names a [`Remedy`] and
/// the front end words it; the message itself says only what went wrong and front-end-free advice.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: file not found — check the path")]
    NotFound { path: PathBuf },
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{path}: the file is empty — nothing to import")]
    EmptyFile { path: PathBuf },
    /// A well-formed file of its format that holds no text (a WebVTT without cues, JSON `[]`).
    #[error("{path}: {message}")]
    NoText { path: PathBuf, message: String },
    #[error("{path}: looks like a binary file, not a transcript (byte {offset}) — import plain text, SRT, WebVTT or JSON, or a recording (WAV, MP3, M4A, MP4, …)")]
    BinaryFile { path: PathBuf, offset: usize },
    #[error("{path}: cannot decode the text as {encoding} at byte {offset} — save the file as UTF-8 and import it again")]
    Undecodable { path: PathBuf, encoding: String, offset: usize },
    #[error("{path}: line {line}: {message}")]
    Malformed { path: PathBuf, line: usize, message: String },
    #[error("{path}: the file is {size} bytes, over the {limit}-byte limit for a transcript")]
    TooLarge { path: PathBuf, size: u64, limit: u64 },
    /// A recording kogi cannot read (not audio, no sound track, a codec it lacks, damaged).
    #[error("{path}: {message}")]
    Media { path: PathBuf, message: String },
    #[error("database {path}: {message}")]
    Database { path: PathBuf, message: String, remedy: Option<Remedy> },
    #[error("model {model}: {message}")]
    Model { model: String, message: String },
    /// A model file or folder brought to kogi that it cannot convert.
    #[error("{path}: {message}")]
    BadModelFile { path: PathBuf, message: String },
    /// Not enough room to write something.
    #[error("{path}: not enough disk space — {message}")]
    DiskFull { path: PathBuf, message: String },
    /// A server the user set for answers or embeddings failed, in words saying what to check.
    #[error("server {host}: {message}")]
    Server { host: String, message: String },
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    #[error("{0}")]
    NotFoundItem(String),
    /// A lecture, revision or other item that does not exist, with how to list what does.
    #[error("{message}")]
    Missing { message: String, remedy: Remedy },
    /// Search or answers need an index that is not there (or not whole).
    #[error("{0}")]
    NotIndexed(String),
    #[error("{0}")]
    Invalid(String),
    #[error("cancelled")]
    Cancelled,
}

/// What the user can do about an error, worded by each front end in its own terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remedy {
    /// Split the file, or raise the import size limit.
    RaiseSizeLimit,
    /// Use another database file.
    ChooseAnotherDatabase,
    /// Index the lectures (their chunks and embeddings).
    IndexLectures,
    /// See which lectures exist.
    ListLectures,
    /// See which revisions a lecture has (the lecture's id when known).
    ListRevisions(Option<i64>),
    /// Show the installed models.
    ListModels,
}

impl Error {
    pub fn remedy(&self) -> Option<Remedy> {
        match self {
            Error::TooLarge { .. } => Some(Remedy::RaiseSizeLimit),
            Error::Database { remedy, .. } => *remedy,
            Error::Missing { remedy, .. } => Some(*remedy),
            Error::NotIndexed(_) => Some(Remedy::IndexLectures),
            _ => None,
        }
    }

    /// The input itself is at fault (a file that cannot be read, decoded or parsed, a bad value):
    /// other inputs may still work.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Error::NotFound { .. }
                | Error::Io { .. }
                | Error::EmptyFile { .. }
                | Error::NoText { .. }
                | Error::BinaryFile { .. }
                | Error::Undecodable { .. }
                | Error::Malformed { .. }
                | Error::TooLarge { .. }
                | Error::BadModelFile { .. }
                | Error::DiskFull { .. }
                | Error::Media { .. }
                | Error::Invalid(_)
        )
    }

    /// The message with the remedy in `words` (a front end's phrasing) appended.
    pub fn explained(&self, words: impl Fn(Remedy) -> String) -> String {
        match self.remedy() {
            Some(r) => format!("{self} — {}", words(r)),
            None => self.to_string(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
