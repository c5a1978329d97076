//! Importing transcript files: plain text, SRT, WebVTT and JSON (segment lists, Whisper output,
//! chunk lists), in UTF-8, UTF-16 or a legacy encoding such as Shift_JIS.
//!
//! Offsets: every [`Segment::span`] counts code points of [`ImportedTranscript::text`]. Plain text
//! is kept verbatim (only the BOM is dropped and line ends become `\n`), so offsets into it equal
//! offsets into the original file's text.

mod decode;
mod json;
mod plain;
mod subtitle;
#[cfg(test)]
mod tests;

pub use decode::decode;

use super::{Format, ImportedTranscript, LectureMeta, Segment};
use crate::error::{Error, Result};
use crate::text::CharSpan;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// The default size limit for one transcript file (20 MiB).
pub const DEFAULT_MAX_BYTES: u64 = 20 * 1024 * 1024;

/// How to import a file.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// Files larger than this are refused with [`Error::TooLarge`].
    pub max_bytes: u64,
    /// Metadata given by the user; each field that is set overrides the file's own.
    pub meta: LectureMeta,
    /// Force a format instead of detecting it from the file name and content.
    pub format: Option<Format>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_BYTES,
            meta: LectureMeta::default(),
            format: None,
        }
    }
}

/// Read, decode and parse a transcript file.
pub fn import_file(path: &Path, opts: &ImportOptions) -> Result<ImportedTranscript> {
    let io_error = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound {
            path: path.to_path_buf(),
        },
        _ => Error::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        },
    };
    // Opened once, without waiting (a FIFO would block the open until a writer came), and the
    // type checked on the handle itself, so a path swapped in between cannot fool the check.
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path).map_err(io_error)?;
    let metadata = file.metadata().map_err(io_error)?;
    if metadata.is_dir() {
        return Err(Error::Io {
            path: path.to_path_buf(),
            message: "is a directory, not a transcript file".into(),
        });
    }
    if !metadata.is_file() {
        return Err(Error::Io {
            path: path.to_path_buf(),
            message: "is not a regular file (a pipe, device or socket) — kogi imports transcript files only; save the transcript to a file first".into(),
        });
    }
    let too_large = |size| Error::TooLarge {
        path: path.to_path_buf(),
        size,
        limit: opts.max_bytes,
    };
    if metadata.len() > opts.max_bytes {
        return Err(too_large(metadata.len()));
    }
    // Read at most one byte past the limit, in case the file grew since `metadata`.
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.take(opts.max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > opts.max_bytes {
        return Err(too_large(bytes.len() as u64));
    }
    let file_name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    import(path, &file_name, &bytes, opts)
}

/// Decode and parse a transcript already in memory. `file_name` names it in messages, gives the
/// default title (its stem) and, through its extension, the format.
pub fn import_bytes(
    file_name: &str,
    bytes: &[u8],
    opts: &ImportOptions,
) -> Result<ImportedTranscript> {
    let path = Path::new(file_name);
    if bytes.len() as u64 > opts.max_bytes {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            limit: opts.max_bytes,
        });
    }
    let name = path
        .file_name()
        .map_or(file_name.to_owned(), |n| n.to_string_lossy().into_owned());
    import(path, &name, bytes, opts)
}

/// What a format parser makes of the decoded text.
#[derive(Debug, Default)]
struct Parsed {
    text: String,
    segments: Vec<Segment>,
    meta: LectureMeta,
}

fn import(
    path: &Path,
    file_name: &str,
    bytes: &[u8],
    opts: &ImportOptions,
) -> Result<ImportedTranscript> {
    let source_sha256 = hex::encode(Sha256::digest(bytes));
    let (text, encoding) = decode(path, bytes)?;
    let format = opts
        .format
        .unwrap_or_else(|| detect_format(file_name, &text));
    let parsed = match format {
        Format::Text => plain::parse(text),
        Format::Srt => subtitle::parse(path, &text, subtitle::Dialect::Srt)?,
        Format::Vtt => subtitle::parse(path, &text, subtitle::Dialect::Vtt)?,
        Format::Json => json::parse(path, &text)?,
        Format::Recording => {
            return Err(Error::Invalid(format!("{file_name}: a recording is transcribed, not read as a text file")));
        }
    };
    if parsed.text.trim().is_empty() {
        let what = match format {
            _ if bytes.iter().all(u8::is_ascii_whitespace) => None,
            Format::Vtt => Some("the WebVTT file has no cues"),
            Format::Srt => Some("the SRT file has no subtitles"),
            Format::Json => Some("the JSON holds no segments with text"),
            Format::Text | Format::Recording => None,
        };
        return Err(match what {
            Some(w) => Error::NoText {
                path: path.to_path_buf(),
                message: format!("{w} — nothing to import"),
            },
            None => Error::EmptyFile {
                path: path.to_path_buf(),
            },
        });
    }
    let mut meta = opts.meta.clone().or(&parsed.meta);
    if meta.title.is_none() {
        meta.title = Path::new(file_name)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty());
    }
    Ok(ImportedTranscript {
        text: parsed.text,
        segments: parsed.segments,
        meta,
        format,
        encoding: encoding.to_owned(),
        source_sha256,
        file_name: file_name.to_owned(),
    })
}

/// `.srt`, `.vtt` and `.json` say what they are; anything else is sniffed: a `WEBVTT` header,
/// an SRT cue (`1` then `00:00:01,000 --> …`), or well-formed JSON starting with `[`/`{`; failing
/// those it is plain text.
fn detect_format(file_name: &str, text: &str) -> Format {
    let ext = Path::new(file_name)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "vtt" => Format::Vtt,
        "json" => Format::Json,
        "srt" if subtitle::has_vtt_header(text) => Format::Vtt,
        "srt" => Format::Srt,
        _ => sniff_format(text),
    }
}

fn sniff_format(text: &str) -> Format {
    if subtitle::has_vtt_header(text) {
        Format::Vtt
    } else if subtitle::starts_like_srt(text) {
        Format::Srt
    } else if json::looks_like_json(text) {
        Format::Json
    } else {
        Format::Text
    }
}

/// Builds the imported text piece by piece, tracking code-point offsets.
#[derive(Default)]
struct TextBuilder {
    text: String,
    chars: usize,
}

impl TextBuilder {
    /// Append `piece` (preceded by `separator` unless it is the first) and return its span.
    fn push(&mut self, separator: &str, piece: &str) -> CharSpan {
        if !self.text.is_empty() {
            self.text.push_str(separator);
            self.chars += separator.chars().count();
        }
        let start = self.chars;
        self.text.push_str(piece);
        self.chars += piece.chars().count();
        CharSpan::new(start, self.chars)
    }
}
