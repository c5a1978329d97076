//! Transcripts as they come in: text plus timed segments plus lecture metadata.

pub mod import;

use crate::text::CharSpan;
use serde::{Deserialize, Serialize};

/// One timed piece of the transcript (an SRT cue, a JSON segment), located in the imported text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Segment {
    pub span: CharSpan,
    pub start_ms: Option<u64>,
    pub end_ms: Option<u64>,
}

/// What a lecture is, as far as the file (or the user) says.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct LectureMeta {
    pub course: Option<String>,
    pub title: Option<String>,
    pub date: Option<String>,
    pub speaker: Option<String>,
}

impl LectureMeta {
    /// Fill the fields this one lacks from `other`.
    pub fn or(mut self, other: &LectureMeta) -> Self {
        self.course = self.course.or_else(|| other.course.clone());
        self.title = self.title.or_else(|| other.title.clone());
        self.date = self.date.or_else(|| other.date.clone());
        self.speaker = self.speaker.or_else(|| other.speaker.clone());
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Text,
    Srt,
    Vtt,
    Json,
    /// Transcribed by kogi from a recording.
    Recording,
}

/// A decoded, parsed transcript file, ready to become revision 1 of a lecture.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportedTranscript {
    /// The transcript text, normalised to `\n` line ends; segments joined by `\n`.
    pub text: String,
    /// Timed segments in text order (empty when the format has no timing).
    pub segments: Vec<Segment>,
    pub meta: LectureMeta,
    pub format: Format,
    /// Encoding the bytes were decoded from (`UTF-8`, `Shift_JIS`, `UTF-16LE`, …).
    pub encoding: String,
    /// sha256 of the raw file bytes: importing the same file twice is recognised by it.
    pub source_sha256: String,
    pub file_name: String,
}
