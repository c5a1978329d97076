//! Character offsets, and the script of a character ([`script`]). Every offset kogi stores or
//! reports counts Unicode code points (not bytes), the unit the evaluation sets and the UI use.

pub mod japanese;
pub mod loanwords;
pub mod script;

use serde::{Deserialize, Serialize};

/// A half-open range `[start, end)` of code points in one text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS)]
pub struct CharSpan {
    pub start: usize,
    pub end: usize,
}

impl CharSpan {
    pub fn new(start: usize, end: usize) -> Self {
        debug_assert!(start <= end, "span {start}..{end}");
        Self { start, end }
    }
    pub fn len(&self) -> usize {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
    pub fn overlaps(&self, other: &CharSpan) -> bool {
        self.start < other.end && other.start < self.end
    }
    pub fn union(&self, other: &CharSpan) -> CharSpan {
        CharSpan::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// Maps code-point offsets to byte offsets of one `&str` (and back) in O(1) / O(log n).
pub struct CharIndex<'a> {
    text: &'a str,
    /// byte offset of every char, plus `text.len()` at the end.
    bytes: Vec<usize>,
}

impl<'a> CharIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut bytes: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
        bytes.push(text.len());
        Self { text, bytes }
    }
    /// Number of code points.
    pub fn len(&self) -> usize {
        self.bytes.len() - 1
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn byte(&self, char_offset: usize) -> usize {
        self.bytes[char_offset.min(self.len())]
    }
    /// The char offset of a byte offset that lies on a char boundary.
    pub fn char_of_byte(&self, byte: usize) -> usize {
        match self.bytes.binary_search(&byte) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }
    pub fn slice(&self, span: CharSpan) -> &'a str {
        &self.text[self.byte(span.start)..self.byte(span.end)]
    }
    pub fn text(&self) -> &'a str {
        self.text
    }
}

/// Slice a string by code-point range (allocates an index; use [`CharIndex`] in loops).
pub fn slice_chars(text: &str, span: CharSpan) -> &str {
    CharIndex::new(text).slice(span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_index_maps_multibyte_text_both_ways() {
        let t = "aスケール則b";
        let ix = CharIndex::new(t);
        assert_eq!(ix.len(), 7);
        assert_eq!(ix.slice(CharSpan::new(1, 6)), "スケール則");
        assert_eq!(ix.char_of_byte(ix.byte(6)), 6);
    }
}
