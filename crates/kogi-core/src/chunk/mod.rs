//! Chunking strategies. Every chunk reports code-point offsets into the revision text it came from.
//!
//! All strategies start from [`sentences`], a splitter built for ASR transcripts (Japanese without
//! punctuation for hundreds of characters, no paragraph breaks). Spans always point into the original
//! text: nothing is copied or normalised, so offsets stay valid for highlighting and evaluation.
//! Everything is deterministic.

mod paragraphs;
mod semantic;
mod sentences;
mod tokens;
mod windows;

#[cfg(test)]
mod tests;

pub use semantic::EMBED_BATCH;
pub use sentences::sentences;

use crate::inference::{Embed, TokenSpans};
use crate::text::{CharIndex, CharSpan};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One retrievable unit: `matched` is what search compares with the question; `context` is what is
/// handed to the model (equal to `matched` except for sentence windows, where it adds ±N neighbours).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    pub matched: CharSpan,
    pub context: CharSpan,
}

impl Chunk {
    pub fn new(matched: CharSpan, context: CharSpan) -> Self {
        Self { matched, context }
    }
    /// A chunk whose context is what it matches.
    pub fn whole(span: CharSpan) -> Self {
        Self {
            matched: span,
            context: span,
        }
    }
}

/// Default `max_chars` of [`Strategy::Sentences`].
pub const DEFAULT_MAX_CHARS: usize = 200;

/// How a text is cut into chunks. [`Strategy::name`] is the stable key of a chunk set in the index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Strategy {
    /// One chunk per sentence; sentences longer than `max_chars` are cut at natural boundaries.
    Sentences { max_chars: usize },
    /// Match one sentence; hand the model the sentence with ±`radius` neighbouring sentences.
    SentenceWindow { radius: usize, max_chars: usize },
    /// Paragraphs (split on blank lines), long ones cut into sentence-aligned pieces under `max_chars`;
    /// a text without paragraph breaks becomes sentence-aligned windows of at most `window_chars`
    /// overlapping by at most `overlap_chars`.
    Paragraphs {
        max_chars: usize,
        window_chars: usize,
        overlap_chars: usize,
    },
    /// Windows of `size` tokens of the embedding model, advancing by `size - overlap` tokens.
    TokenWindows { size: usize, overlap: usize },
    /// Runs of similar consecutive sentences (embedding cosine), between `min_chars` and `max_chars`;
    /// breaks below `threshold`, or below mean − 1 std of the neighbour similarities when `None`.
    Semantic {
        max_chars: usize,
        min_chars: usize,
        threshold: Option<f32>,
    },
}

impl Default for Strategy {
    fn default() -> Self {
        Strategy::Sentences {
            max_chars: DEFAULT_MAX_CHARS,
        }
    }
}

impl Strategy {
    /// Stable name, the index key of a chunk set, e.g. `sentences:m200`, `sentence_window:r2:m200`,
    /// `paragraphs:m800:w600:o100`, `token_windows:s256:o32`, `semantic:m400:n100:tauto`,
    /// `semantic:m400:n100:t0.55`. [`Strategy::from_str`] parses it back.
    pub fn name(&self) -> String {
        match self {
            Strategy::Sentences { max_chars } => format!("sentences:m{max_chars}"),
            Strategy::SentenceWindow { radius, max_chars } => {
                format!("sentence_window:r{radius}:m{max_chars}")
            }
            Strategy::Paragraphs {
                max_chars,
                window_chars,
                overlap_chars,
            } => {
                format!("paragraphs:m{max_chars}:w{window_chars}:o{overlap_chars}")
            }
            Strategy::TokenWindows { size, overlap } => format!("token_windows:s{size}:o{overlap}"),
            Strategy::Semantic {
                max_chars,
                min_chars,
                threshold,
            } => match threshold {
                Some(t) => format!("semantic:m{max_chars}:n{min_chars}:t{t}"),
                None => format!("semantic:m{max_chars}:n{min_chars}:tauto"),
            },
        }
    }

    /// Whether [`chunk`] needs a [`TokenSpans`] for this strategy.
    pub fn needs_tokens(&self) -> bool {
        matches!(self, Strategy::TokenWindows { .. })
    }

    /// Whether [`chunk`] needs an [`Embed`] for this strategy.
    pub fn needs_embedder(&self) -> bool {
        matches!(self, Strategy::Semantic { .. })
    }

    /// Check the parameters (without the text).
    pub fn validate(&self) -> Result<()> {
        let invalid = |m: String| {
            Err(Error::Invalid(format!(
                "chunking strategy {}: {m}",
                self.name()
            )))
        };
        match *self {
            Strategy::Sentences { max_chars } | Strategy::SentenceWindow { max_chars, .. }
                if max_chars == 0 =>
            {
                invalid("max_chars must be at least 1".into())
            }
            Strategy::Paragraphs {
                max_chars,
                window_chars,
                overlap_chars,
            } => {
                if max_chars == 0 || window_chars == 0 {
                    invalid("max_chars and window_chars must be at least 1".into())
                } else if overlap_chars >= window_chars {
                    invalid(format!(
                        "overlap_chars ({overlap_chars}) must be below window_chars ({window_chars})"
                    ))
                } else {
                    Ok(())
                }
            }
            Strategy::TokenWindows { size, overlap } => {
                if size == 0 {
                    invalid("size must be at least 1 token".into())
                } else if overlap >= size {
                    invalid(format!("overlap ({overlap}) must be below size ({size})"))
                } else {
                    Ok(())
                }
            }
            Strategy::Semantic {
                max_chars,
                min_chars,
                threshold,
            } => {
                if max_chars == 0 {
                    invalid("max_chars must be at least 1".into())
                } else if min_chars > max_chars {
                    invalid(format!(
                        "min_chars ({min_chars}) must not exceed max_chars ({max_chars})"
                    ))
                } else if threshold.is_some_and(|t| !t.is_finite()) {
                    invalid("threshold must be a finite number".into())
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for Strategy {
    type Err = Error;

    /// Parse a [`Strategy::name`]: the kind, then `:`-separated parameters, each a letter and a value.
    fn from_str(name: &str) -> Result<Self> {
        let bad = |m: &str| {
            Error::Invalid(format!(
                "chunking strategy {name:?}: {m} — expected e.g. sentences:m200, sentence_window:r2:m200, \
                 paragraphs:m800:w600:o100, token_windows:s256:o32, semantic:m400:n100:tauto"
            ))
        };
        let mut parts = name.split(':');
        let kind = parts.next().unwrap_or_default();
        let params: Vec<(char, &str)> = parts
            .map(|p| {
                let mut cs = p.chars();
                cs.next()
                    .map(|k| (k, cs.as_str()))
                    .ok_or_else(|| bad("empty parameter"))
            })
            .collect::<Result<_>>()?;
        let expect = |keys: &str| -> Result<Vec<&str>> {
            let got: String = params.iter().map(|(k, _)| *k).collect();
            if got != keys {
                let want: Vec<String> = keys.chars().map(|k| k.to_string()).collect();
                return Err(bad(&format!(
                    "{kind} takes the parameters {} in that order",
                    want.join(", ")
                )));
            }
            Ok(params.iter().map(|(_, v)| *v).collect())
        };
        let num = |v: &str| {
            v.parse::<usize>()
                .map_err(|_| bad(&format!("{v:?} is not a whole number")))
        };
        let strategy = match kind {
            "sentences" => {
                let v = expect("m")?;
                Strategy::Sentences {
                    max_chars: num(v[0])?,
                }
            }
            "sentence_window" => {
                let v = expect("rm")?;
                Strategy::SentenceWindow {
                    radius: num(v[0])?,
                    max_chars: num(v[1])?,
                }
            }
            "paragraphs" => {
                let v = expect("mwo")?;
                Strategy::Paragraphs {
                    max_chars: num(v[0])?,
                    window_chars: num(v[1])?,
                    overlap_chars: num(v[2])?,
                }
            }
            "token_windows" => {
                let v = expect("so")?;
                Strategy::TokenWindows {
                    size: num(v[0])?,
                    overlap: num(v[1])?,
                }
            }
            "semantic" => {
                let v = expect("mnt")?;
                let threshold = match v[2] {
                    "auto" => None,
                    t => Some(
                        t.parse::<f32>()
                            .map_err(|_| bad(&format!("threshold {t:?} is not a number")))?,
                    ),
                };
                Strategy::Semantic {
                    max_chars: num(v[0])?,
                    min_chars: num(v[1])?,
                    threshold,
                }
            }
            _ => return Err(bad("unknown kind")),
        };
        Ok(strategy)
    }
}

/// Cut `text` into chunks with `strategy`.
///
/// `tokens` is required by [`Strategy::TokenWindows`] and `embedder` by [`Strategy::Semantic`]
/// (otherwise [`Error::Invalid`]); other strategies ignore them. Chunks are in text order, with
/// non-empty spans of code points into `text`, trimmed of surrounding whitespace (token windows: as
/// the tokenizer reports its tokens).
///
/// # Errors
/// [`Error::Invalid`] for invalid parameters ([`Strategy::validate`]) or a missing tokenizer/embedder;
/// the tokenizer's or embedder's own errors ([`Error::Model`] when an embedder returns the wrong
/// number of vectors).
pub fn chunk(
    text: &str,
    strategy: &Strategy,
    tokens: Option<&dyn TokenSpans>,
    embedder: Option<&dyn Embed>,
) -> Result<Vec<Chunk>> {
    strategy.validate()?;
    let chars: Vec<char> = text.chars().collect();
    let all = CharSpan::new(0, chars.len());
    let chunks = match *strategy {
        Strategy::Sentences { max_chars } => sentences::sentences_in(&chars, all, max_chars)
            .into_iter()
            .map(Chunk::whole)
            .collect(),
        Strategy::SentenceWindow { radius, max_chars } => {
            windows::sentence_windows(&sentences::sentences_in(&chars, all, max_chars), radius)
        }
        Strategy::Paragraphs {
            max_chars,
            window_chars,
            overlap_chars,
        } => paragraphs::paragraph_spans(&chars, max_chars, window_chars, overlap_chars)
            .into_iter()
            .map(Chunk::whole)
            .collect(),
        Strategy::TokenWindows { size, overlap } => {
            let tokens = tokens.ok_or_else(|| {
                Error::Invalid(format!(
                    "chunking strategy {}: token windows need the embedding model's tokenizer — \
                     load a model with a tokenizer or choose another strategy",
                    strategy.name()
                ))
            })?;
            let spans = tokens.token_spans(text)?;
            tokens::token_windows(spans, chars.len(), size, overlap)?
                .into_iter()
                .map(Chunk::whole)
                .collect()
        }
        Strategy::Semantic {
            max_chars,
            min_chars,
            threshold,
        } => {
            let embedder = embedder.ok_or_else(|| {
                Error::Invalid(format!(
                    "chunking strategy {}: semantic chunks need an embedding model — \
                     load one or choose another strategy",
                    strategy.name()
                ))
            })?;
            let sentences = sentences::sentences_in(&chars, all, max_chars);
            let ix = CharIndex::new(text);
            semantic::semantic_spans(&ix, &sentences, embedder, max_chars, min_chars, threshold)?
                .into_iter()
                .map(Chunk::whole)
                .collect()
        }
    };
    Ok(chunks)
}
