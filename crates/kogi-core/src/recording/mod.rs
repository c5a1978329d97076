//! Recordings: a lecture's sound, read for transcription and kept for listening. The file is copied
//! into the media folder beside the database (named by its sha256, so it still plays when the
//! original moves, and two lectures of one recording share one copy).

pub mod audio;
pub mod speech;
pub mod transcribe;

use crate::lecture::LectureId;
use serde::{Deserialize, Serialize};

/// A lecture's recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Recording {
    pub lecture: LectureId,
    /// The file's name in the media folder.
    pub file: String,
    /// The name it had when it was brought in.
    pub original_name: String,
    pub sha256: String,
    #[ts(type = "number")]
    pub bytes: u64,
    #[ts(type = "number | null")]
    pub duration_ms: Option<u64>,
}
