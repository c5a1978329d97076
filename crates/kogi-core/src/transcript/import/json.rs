//! JSON transcripts:
//! - segment lists `[{"start": 1.5, "end": 3.0, "text": "…"}]` (times in seconds, or timestamp
//!   strings like `"00:01:02.500"`), optionally wrapped as `{"segments": [...], "title": …}`;
//!   Whisper's `{"text": …, "segments": [...]}` and whisper.cpp's `{"transcription": [{"offsets":
//!   {"from": ms, "to": ms}, "text": …}]}` included;
//! - chunk lists `[{"content": "…"}]` (no timing): contents joined by a blank line;
//! - `{"text": "…"}` alone.
//!
//! Segment texts are trimmed and joined by `\n`; timed segments become [`Segment`]s.

use super::subtitle::parse_timestamp;
use super::{Parsed, TextBuilder};
use crate::error::{Error, Result};
use crate::transcript::{LectureMeta, Segment};
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use std::fmt;
use std::path::Path;

const SHAPES: &str = r#"expected a list of segments `[{"start": 1.5, "end": 3.0, "text": "…"}]`, a list of chunks `[{"content": "…"}]`, or an object with `segments` or `text`"#;

/// Content that starts like JSON and is well-formed JSON.
pub(super) fn looks_like_json(text: &str) -> bool {
    text.trim_start().starts_with(['[', '{'])
        && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

pub(super) fn parse(path: &Path, text: &str) -> Result<Parsed> {
    let malformed = |line: usize, message: String| Error::Malformed {
        path: path.to_path_buf(),
        line: line.max(1),
        message,
    };
    let from_serde = |e: serde_json::Error| {
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let message = full.strip_suffix(&suffix).unwrap_or(&full);
        let message = match e.classify() {
            serde_json::error::Category::Data => message.to_owned(),
            _ => format!("invalid JSON: {message} (column {})", e.column()),
        };
        malformed(e.line(), message)
    };
    match text.trim_start().chars().next() {
        Some('[') => {
            let items: Vec<Item> = serde_json::from_str(text).map_err(from_serde)?;
            Ok(assemble(&items, LectureMeta::default()))
        }
        Some('{') => {
            let doc: Doc = serde_json::from_str(text).map_err(from_serde)?;
            let meta = LectureMeta {
                course: meta_value(doc.course),
                title: meta_value(doc.title),
                date: meta_value(doc.date),
                speaker: meta_value(doc.speaker),
            };
            match (doc.segments.or(doc.transcription), doc.text) {
                (Some(items), _) if !items.is_empty() => Ok(assemble(&items, meta)),
                (_, Some(Value::String(text))) => Ok(Parsed {
                    text: normalise_newlines(&text),
                    segments: Vec::new(),
                    meta,
                }),
                (Some(_), _) => Ok(Parsed {
                    meta,
                    ..Parsed::default()
                }),
                _ => Err(malformed(1, SHAPES.to_owned())),
            }
        }
        _ => Err(malformed(1, SHAPES.to_owned())),
    }
}

#[derive(Deserialize)]
struct Doc {
    segments: Option<Vec<Item>>,
    transcription: Option<Vec<Item>>,
    text: Option<Value>,
    course: Option<Value>,
    title: Option<Value>,
    date: Option<Value>,
    speaker: Option<Value>,
}

/// One element of a segment or chunk list: an object (or a bare string, taken as a chunk).
struct Item {
    text: String,
    /// Came from a `content` key (chunk form) rather than `text`.
    is_chunk: bool,
    start_ms: Option<u64>,
    end_ms: Option<u64>,
}

/// Deserialized through a visitor, so that an element's validation error is raised while
/// serde_json is still inside that element and gets its line number.
impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ItemVisitor;
        impl<'de> Visitor<'de> for ItemVisitor {
            type Value = Item;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"a segment {"start": 1.5, "end": 3.0, "text": "…"} or a chunk {"content": "…"}"#)
            }
            fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<Item, A::Error> {
                let map = Map::deserialize(MapAccessDeserializer::new(access))?;
                Item::from_map(map).map_err(de::Error::custom)
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Item, E> {
                Ok(Item {
                    text: text.to_owned(),
                    is_chunk: true,
                    start_ms: None,
                    end_ms: None,
                })
            }
        }
        deserializer.deserialize_any(ItemVisitor)
    }
}

impl Item {
    fn from_map(map: Map<String, Value>) -> Result<Self, String> {
        let (text, is_chunk) = match (map.get("text"), map.get("content")) {
            (Some(Value::String(t)), _) => (t.clone(), false),
            (None | Some(Value::Null), Some(Value::String(c))) => (c.clone(), true),
            (Some(other), _) | (None, Some(other)) if !other.is_null() => {
                return Err(format!(
                    "a segment's `text` / `content` must be a string, found `{other}`"
                ));
            }
            _ => {
                let keys: Vec<&str> = map.keys().map(String::as_str).collect();
                return Err(format!(
                    "each element needs a `text` or `content` string; found keys {keys:?}"
                ));
            }
        };
        let start_ms = time_of(&map, "start")?;
        let end_ms = time_of(&map, "end")?;
        if let (Some(s), Some(e)) = (start_ms, end_ms)
            && e < s
        {
            return Err(format!(
                "segment {text:?} ends ({e} ms) before it starts ({s} ms) — expected end ≥ start"
            ));
        }
        Ok(Item {
            text,
            is_chunk,
            start_ms,
            end_ms,
        })
    }
}

/// `start`/`end` (seconds or a timestamp string), `start_ms`/`end_ms`, or whisper.cpp's
/// `offsets.from/to` (ms) and `timestamps.from/to` (timestamp strings).
fn time_of(map: &Map<String, Value>, which: &str) -> Result<Option<u64>, String> {
    let bad = |v: &Value, what: &str| format!("`{which}` must be {what}, found `{v}`");
    if let Some(v) = map.get(which).filter(|v| !v.is_null()) {
        return match v {
            Value::Number(n) => seconds_to_ms(n.as_f64())
                .map(Some)
                .ok_or_else(|| bad(v, "a non-negative number of seconds")),
            Value::String(s) => parse_timestamp(s.trim())
                .or_else(|| seconds_to_ms(s.trim().parse().ok()))
                .map(Some)
                .ok_or_else(|| bad(v, r#"seconds or a timestamp like "00:01:02.500""#)),
            _ => Err(bad(v, r#"seconds or a timestamp like "00:01:02.500""#)),
        };
    }
    if let Some(v) = map.get(&format!("{which}_ms")).filter(|v| !v.is_null()) {
        return v
            .as_u64()
            .map(Some)
            .ok_or_else(|| bad(v, "a whole number of milliseconds"));
    }
    let key = if which == "start" { "from" } else { "to" };
    if let Some(v) = map.get("offsets").and_then(|o| o.get(key)) {
        return v
            .as_u64()
            .map(Some)
            .ok_or_else(|| bad(v, "a whole number of milliseconds"));
    }
    if let Some(v) = map.get("timestamps").and_then(|o| o.get(key)) {
        return v
            .as_str()
            .and_then(parse_timestamp)
            .map(Some)
            .ok_or_else(|| bad(v, r#"a timestamp like "00:01:02,500""#));
    }
    Ok(None)
}

fn seconds_to_ms(seconds: Option<f64>) -> Option<u64> {
    let s = seconds?;
    (0.0..1e12)
        .contains(&s)
        .then(|| (s * 1000.0).round() as u64)
}

fn meta_value(value: Option<Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn normalise_newlines(text: &str) -> String {
    let text = if text.contains('\r') { text.replace("\r\n", "\n").replace('\r', "\n") } else { text.to_owned() };
    // JSON escapes can carry control characters a text file never holds (`\u0000` ends a C
    // string and SQLite's length()); they are not part of what was said.
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        text.chars().filter(|&c| !c.is_control() || c == '\n' || c == '\t').collect()
    } else {
        text
    }
}

/// Join the items: chunk lists with a blank line, segments with `\n`; segments only when timed.
fn assemble(items: &[Item], meta: LectureMeta) -> Parsed {
    let timed = items
        .iter()
        .any(|it| it.start_ms.is_some() || it.end_ms.is_some());
    let separator = if !timed && items.iter().all(|it| it.is_chunk) {
        "\n\n"
    } else {
        "\n"
    };
    let mut out = TextBuilder::default();
    let mut segments = Vec::new();
    for item in items {
        let text = normalise_newlines(item.text.trim());
        if text.is_empty() {
            continue;
        }
        let span = out.push(separator, &text);
        if timed {
            segments.push(Segment {
                span,
                start_ms: item.start_ms,
                end_ms: item.end_ms,
            });
        }
    }
    Parsed {
        text: out.text,
        segments,
        meta,
    }
}
