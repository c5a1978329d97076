//! Lectures and their transcript revisions: the imported text is revision 1, every later edit a new
//! revision with its parent; none is ever deleted.

use crate::transcript::{Format, LectureMeta, Segment};
use serde::{Deserialize, Serialize};

// Ids are newtype structs, which serde writes as the bare number in JSON (and in TypeScript, see
// `crate::bindings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS)]
pub struct LectureId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS)]
pub struct RevisionId(pub i64);

impl std::fmt::Display for LectureId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}
impl std::fmt::Display for RevisionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
pub struct Lecture {
    pub id: LectureId,
    pub meta: LectureMeta,
    pub file_name: String,
    pub format: Format,
    pub encoding: String,
    pub source_sha256: String,
    pub created_at: String,
    /// The newest revision: what search and answers use.
    pub head: RevisionId,
    pub revisions: i64,
    pub chars: i64,
}

/// Why a revision exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum RevisionKind {
    Import,
    Edit,
    Glossary,
    Suggestion,
    Restore,
}

impl RevisionKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Import => "import",
            Self::Edit => "edit",
            Self::Glossary => "glossary",
            Self::Suggestion => "suggestion",
            Self::Restore => "restore",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "import" => Self::Import,
            "edit" => Self::Edit,
            "glossary" => Self::Glossary,
            "suggestion" => Self::Suggestion,
            "restore" => Self::Restore,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
pub struct Revision {
    pub id: RevisionId,
    pub lecture: LectureId,
    /// 1, 2, 3 … within its lecture.
    pub number: i64,
    pub parent: Option<RevisionId>,
    pub kind: RevisionKind,
    pub message: Option<String>,
    pub text: String,
    pub created_at: String,
    /// Timed segments located in this revision's text.
    pub segments: Vec<Segment>,
}
