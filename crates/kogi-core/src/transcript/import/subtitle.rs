//! SRT and WebVTT: one [`Segment`] per cue, cue texts joined by `\n`.
//!
//! Cue numbers / identifiers, timing lines, cue settings, the VTT header and `NOTE`/`STYLE`/`REGION`
//! blocks are dropped; inline tags (`<v Speaker>`, `<c.x>`, `<b>`, `<00:00:01.000>`, SRT's
//! `<font …>` and `{\an8}`) are stripped and character references (`&amp;` …) unescaped.
//! A cue's lines are joined with a space, or with nothing between two CJK characters.

use super::{Parsed, TextBuilder};
use crate::error::{Error, Result};
use crate::transcript::Segment;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Srt,
    Vtt,
}

const TIMING_EXAMPLE: &str = "`00:00:01,000 --> 00:00:04,000`";

pub(super) fn has_vtt_header(text: &str) -> bool {
    let first = text.split('\n').next().unwrap_or("");
    first
        .strip_prefix("WEBVTT")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
}

/// A cue number line followed by a timing line (or a timing line straight away).
pub(super) fn starts_like_srt(text: &str) -> bool {
    let mut lines = text.split('\n').map(str::trim).skip_while(|l| l.is_empty());
    match lines.next() {
        Some(first) if is_timing(first) => true,
        Some(first) if is_cue_number(first) => lines.next().is_some_and(is_timing),
        _ => false,
    }
}

pub(super) fn parse(path: &Path, text: &str, dialect: Dialect) -> Result<Parsed> {
    let lines: Vec<&str> = text.split('\n').collect();
    let malformed = |index: usize, message: String| Error::Malformed {
        path: path.to_path_buf(),
        line: index + 1,
        message,
    };
    let n = lines.len();
    let blank = |i: usize| lines[i].trim().is_empty();
    let mut i = 0;
    let headed = dialect == Dialect::Vtt && has_vtt_header(text);
    if headed {
        // The header block: `WEBVTT …` and any header lines up to the first blank line.
        while i < n && !blank(i) {
            i += 1;
        }
    }
    let mut out = TextBuilder::default();
    let mut segments = Vec::new();
    while i < n {
        if blank(i) {
            i += 1;
            continue;
        }
        let line = lines[i].trim();
        if dialect == Dialect::Vtt && is_vtt_block(line) {
            while i < n && !blank(i) {
                i += 1;
            }
            continue;
        }
        // Cue header: an optional identifier (SRT: the cue number), then the timing line.
        let timing_index = if line.contains("-->") {
            i
        } else if i + 1 < n && lines[i + 1].contains("-->") {
            // Without the WEBVTT line, a line of text before a timing line may be the transcript
            // itself: refused rather than dropped as a cue's name (numbers are SRT-style cue numbers).
            if dialect == Dialect::Vtt && !headed && !is_cue_number(line) {
                return Err(malformed(
                    i,
                    format!("`{line}` comes before a timing line, and without the WEBVTT line at the top kogi cannot tell whether it is a cue's name or its text — add a first line `WEBVTT`, or put the text after its timing line"),
                ));
            }
            i + 1
        } else if dialect == Dialect::Srt && is_cue_number(line) {
            let found = match lines.get(i + 1) {
                Some(l) if !l.trim().is_empty() => format!("found `{}`", l.trim()),
                _ => "found nothing".to_owned(),
            };
            return Err(malformed(
                i + 1,
                format!(
                    "expected a timing line like {TIMING_EXAMPLE} after cue number {line}, {found}"
                ),
            ));
        } else {
            let what = if dialect == Dialect::Srt {
                "a cue number"
            } else {
                "a cue identifier"
            };
            return Err(malformed(
                i,
                format!("expected {what} or a timing line like {TIMING_EXAMPLE}, found `{line}`"),
            ));
        };
        let (start_ms, end_ms) =
            parse_timing(lines[timing_index].trim()).map_err(|m| malformed(timing_index, m))?;
        i = timing_index + 1;
        let mut cue_text = String::new();
        while i < n && !blank(i) {
            let line = lines[i].trim();
            // A cue that starts without the blank line that should separate it from this one.
            if is_timing(line)
                || (is_cue_number(line) && i + 1 < n && is_timing(lines[i + 1].trim()))
            {
                break;
            }
            append_line(&mut cue_text, &clean_line(line, dialect));
            i += 1;
        }
        if !cue_text.is_empty() {
            let span = out.push("\n", &cue_text);
            segments.push(Segment {
                span,
                start_ms: Some(start_ms),
                end_ms: Some(end_ms),
            });
        }
    }
    Ok(Parsed {
        text: out.text,
        segments,
        meta: Default::default(),
    })
}

fn is_cue_number(line: &str) -> bool {
    !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit())
}

fn is_vtt_block(line: &str) -> bool {
    ["NOTE", "STYLE", "REGION"].iter().any(|kw| {
        line.strip_prefix(kw)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
    })
}

fn is_timing(line: &str) -> bool {
    line.contains("-->") && parse_timing(line).is_ok()
}

/// `start --> end [settings]` → milliseconds; the error says what was expected.
fn parse_timing(line: &str) -> Result<(u64, u64), String> {
    let Some((left, right)) = line.split_once("-->") else {
        return Err(format!(
            "expected a timing line like {TIMING_EXAMPLE}, found `{line}`"
        ));
    };
    let start_text = left.trim();
    let end_text = right.split_whitespace().next().unwrap_or("");
    let parse = |which: &str, t: &str| {
        parse_timestamp(t).ok_or_else(|| {
            format!("expected {which} time like `00:00:01,000` (hours optional, `,` or `.` before the milliseconds), found `{t}` in `{line}`")
        })
    };
    let start = parse("a start", start_text)?;
    let end = parse("an end", end_text)?;
    if end < start {
        return Err(format!(
            "the cue ends ({end_text}) before it starts ({start_text}) — expected end ≥ start"
        ));
    }
    Ok((start, end))
}

/// `[h…:]mm:ss[,.]fff` → milliseconds. Minutes and seconds are under 60; the fraction may have
/// 1–9 digits (beyond milliseconds it is truncated) or be absent.
pub(super) fn parse_timestamp(text: &str) -> Option<u64> {
    let (hms, fraction) = match text.find([',', '.']) {
        Some(p) => (&text[..p], Some(&text[p + 1..])),
        None => (text, None),
    };
    let number = |s: &str, max_digits: usize| -> Option<u64> {
        (!s.is_empty() && s.len() <= max_digits && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())?
    };
    let parts: Vec<&str> = hms.split(':').collect();
    let (hours, minutes, seconds) = match parts[..] {
        [m, s] => (0, number(m, 2)?, number(s, 2)?),
        [h, m, s] => (number(h, 9)?, number(m, 2)?, number(s, 2)?),
        _ => return None,
    };
    if minutes >= 60 || seconds >= 60 {
        return None;
    }
    let millis = match fraction {
        None => 0,
        Some(f) => {
            number(f, 9)?;
            let digits: String = f.chars().chain("00".chars()).take(3).collect();
            digits.parse::<u64>().ok()?
        }
    };
    Some(((hours * 60 + minutes) * 60 + seconds) * 1000 + millis)
}

/// Append one cleaned cue line: with nothing in between when both sides are CJK, else a space.
fn append_line(cue: &mut String, line: &str) {
    if line.is_empty() {
        return;
    }
    if let (Some(last), Some(first)) = (cue.chars().next_back(), line.chars().next())
        && !(is_cjk(last) && is_cjk(first))
    {
        cue.push(' ');
    }
    cue.push_str(line);
}

/// Characters written without spaces between them: Japanese and Chinese script, CJK punctuation
/// and full-width forms (not Hangul, which is written with spaces).
pub(super) fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3000}'..='\u{303f}'     // CJK symbols and punctuation
        | '\u{3040}'..='\u{30ff}'   // hiragana, katakana
        | '\u{31f0}'..='\u{31ff}'   // katakana phonetic extensions
        | '\u{3400}'..='\u{4dbf}'   // CJK extension A
        | '\u{4e00}'..='\u{9fff}'   // CJK unified ideographs
        | '\u{f900}'..='\u{faff}'   // CJK compatibility ideographs
        | '\u{fe30}'..='\u{fe4f}'   // CJK compatibility forms
        | '\u{ff00}'..='\u{ffef}'   // half- and full-width forms
        | '\u{20000}'..='\u{3ffff}' // CJK extensions B…
    )
}

/// Strip inline tags, unescape character references, trim.
fn clean_line(line: &str, dialect: Dialect) -> String {
    unescape(&strip_tags(line, dialect)).trim().to_owned()
}

fn strip_tags(line: &str, dialect: Dialect) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(pos) = rest.find(['<', '{']) {
        out.push_str(&rest[..pos]);
        rest = &rest[pos..];
        let tag_len = if rest.starts_with('<') {
            rest.find('>')
                .filter(|&end| is_tag(&rest[1..end]))
                .map(|end| end + 1)
        } else if dialect == Dialect::Srt && rest.starts_with("{\\") {
            // ASS override tags found in SRT files: `{\an8}`, `{\i1}`.
            rest.find('}')
                .filter(|&end| !rest[1..end].contains(['<', '{']))
                .map(|end| end + 1)
        } else {
            None
        };
        let skip = tag_len.unwrap_or(1);
        if tag_len.is_none() {
            out.push_str(&rest[..1]);
        }
        rest = &rest[skip..];
    }
    out.push_str(rest);
    out
}

/// The inside of `<…>`: a (closing) tag with optional classes and annotation, or a timestamp.
fn is_tag(inner: &str) -> bool {
    let name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    if let Some(name) = inner.strip_prefix('/') {
        return !name.is_empty() && name.chars().all(name_char);
    }
    let Some(first) = inner.chars().next() else {
        return false;
    };
    if first.is_ascii_digit() {
        return inner.contains(':')
            && inner
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, ':' | '.' | ','));
    }
    if !first.is_ascii_alphabetic() || inner.contains('<') {
        return false;
    }
    let after_name = inner.trim_start_matches(name_char);
    after_name.is_empty() || after_name.starts_with(char::is_whitespace)
}

/// `&amp; &lt; &gt; &nbsp; &quot; &apos; &lrm; &rlm; &#N; &#xH;`; anything else stays as is.
fn unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos..];
        let decoded = (|| {
            let end = rest.bytes().skip(1).take(12).position(|b| b == b';')?;
            let name = &rest[1..1 + end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "nbsp" => Some('\u{a0}'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "lrm" | "rlm" => None,
                _ => {
                    let code = if let Some(hex) =
                        name.strip_prefix("#x").or_else(|| name.strip_prefix("#X"))
                    {
                        u32::from_str_radix(hex, 16).ok()?
                    } else {
                        name.strip_prefix('#')?.parse().ok()?
                    };
                    // A numeric entity for a control character (`&#0;`) stays as written.
                    Some(char::from_u32(code).filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))?)
                }
            };
            Some((c, end + 2))
        })();
        match decoded {
            Some((c, len)) => {
                out.extend(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
