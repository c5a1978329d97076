//! Correcting a transcript: character diffs between revisions, course glossaries applied as one
//! revision, passages the language model finds surprising, and small local suggestions a person
//! accepts or rejects. A model never rewrites a whole transcript: iterated rewriting distorts it.

pub mod align;
pub mod diff;
pub mod glossary;
pub mod readings;
pub mod suspicious;
