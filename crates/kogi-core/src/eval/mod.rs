//! Evaluation with the rules of the question sets (see `shared/eval/README.md` in the project's
//! data): the questions and their gold ranges here; retrieval (hit@k, MRR@5, context size), answers
//! (fact recall, refusal accuracy) and correction (CER, glossary, suspicious spans) beside them.

pub mod answers;
pub mod correction;
pub mod retrieval;

pub use retrieval::{QuestionResult, RetrievalMetrics, aggregate, score_question};

use crate::text::CharSpan;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Which version of the lecture a question set's gold ranges point into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TranscriptVersion {
    Corrected,
    Raw,
}

impl std::str::FromStr for TranscriptVersion {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "corrected" => Ok(Self::Corrected),
            "raw" => Ok(Self::Raw),
            _ => Err(Error::Invalid(format!("unknown transcript {s:?} — use corrected or raw"))),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct GoldChars {
    pub corrected: Option<[usize; 2]>,
    pub raw: Option<[usize; 2]>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Question {
    pub id: String,
    pub question: String,
    #[serde(default)]
    pub gold: Vec<String>,
    #[serde(default)]
    pub gold_chars: Vec<GoldChars>,
    #[serde(default)]
    pub facts: Vec<Vec<String>>,
    #[serde(default = "yes")]
    pub answerable: bool,
}

fn yes() -> bool {
    true
}

impl Question {
    pub fn gold_spans(&self, v: TranscriptVersion) -> Vec<CharSpan> {
        self.gold_chars
            .iter()
            .filter_map(|g| match v {
                TranscriptVersion::Corrected => g.corrected,
                TranscriptVersion::Raw => g.raw,
            })
            .map(|[a, b]| CharSpan::new(a, b))
            .collect()
    }
}

/// Read a JSON-lines question file; a bad line is named.
pub fn load_questions(path: &Path) -> Result<Vec<Question>> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound { path: path.to_owned() },
        _ => Error::Io { path: path.to_owned(), message: e.to_string() },
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let q: Question = serde_json::from_str(line).map_err(|e| Error::Malformed {
            path: path.to_owned(),
            line: i + 1,
            message: format!("not a question object: {e}"),
        })?;
        out.push(q);
    }
    if out.is_empty() {
        return Err(Error::EmptyFile { path: path.to_owned() });
    }
    Ok(out)
}

