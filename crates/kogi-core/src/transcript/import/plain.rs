//! Plain text: kept verbatim, apart from an optional leading front-matter block
//! (`---` / `key: value` lines / `---`) that gives the lecture's metadata.

use super::Parsed;
use crate::transcript::LectureMeta;

/// Front matter is only looked for in the first lines of the file.
const MAX_FRONT_MATTER_LINES: usize = 50;

pub(super) fn parse(text: String) -> Parsed {
    match front_matter(&text) {
        Some((meta, body_start)) => Parsed {
            text: text[body_start..].to_owned(),
            segments: Vec::new(),
            meta,
        },
        None => Parsed {
            text,
            ..Parsed::default()
        },
    }
}

/// The metadata of a leading `---` block and the byte offset where the body starts (just after
/// the closing `---` line). `None` unless the block is well formed and sets at least one field
/// (so a transcript that merely starts with a `---` rule stays untouched).
fn front_matter(text: &str) -> Option<(LectureMeta, usize)> {
    let mut rest = text.strip_prefix("---\n")?;
    let mut offset = text.len() - rest.len();
    let mut meta = LectureMeta::default();
    let mut any_key = false;
    for _ in 0..MAX_FRONT_MATTER_LINES {
        let (line, next) = match rest.find('\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        offset += rest.len() - next.len();
        rest = next;
        let line = line.trim_end();
        if line == "---" {
            return any_key.then_some((meta, offset));
        }
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once(':')?;
        let key = key.trim();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ' '))
        {
            return None;
        }
        any_key = true;
        let value = unquote(value.trim());
        let value = (!value.is_empty()).then(|| value.to_owned());
        match key.to_ascii_lowercase().as_str() {
            "course" => meta.course = value,
            "title" => meta.title = value,
            "date" => meta.date = value,
            "speaker" | "lecturer" => meta.speaker = value,
            _ => {}
        }
        if rest.is_empty() {
            return None;
        }
    }
    None
}

fn unquote(value: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return inner;
        }
    }
    value
}
