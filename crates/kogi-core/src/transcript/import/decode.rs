//! Bytes → text: encoding detection (BOMs, BOM-less UTF-16, UTF-8, legacy encodings via chardetng),
//! strict decoding with the byte offset of the first bad byte, binary-file detection.

use crate::error::{Error, Result};
use chardetng::{EncodingDetector, Iso2022JpDetection, Utf8Detection};
use encoding_rs::{DecoderResult, Encoding, SHIFT_JIS, UTF_8, UTF_16BE, UTF_16LE};
use std::path::Path;

/// Decode a transcript file's raw bytes into text.
///
/// Returns the text and the name of the encoding it was decoded from (`UTF-8`, `UTF-16LE`,
/// `Shift_JIS`, …). The text has its byte-order mark removed and its line ends normalised to `\n`
/// (`\r\n` and lone `\r` both become `\n`); nothing else is changed, so code-point offsets into
/// the result match offsets into the original file's text.
///
/// `path_for_messages` only names the file in errors.
pub fn decode(path_for_messages: &Path, bytes: &[u8]) -> Result<(String, &'static str)> {
    let path = path_for_messages;
    if bytes.is_empty() {
        return Err(Error::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    let (text, encoding) = decode_raw(path, bytes)?;
    let text = normalise(text);
    if text.trim().is_empty() {
        return Err(Error::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    Ok((text, encoding.name()))
}

/// Remove a leading BOM character and normalise line ends to `\n`.
fn normalise(mut text: String) -> String {
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    if text.contains('\r') {
        text = text.replace("\r\n", "\n").replace('\r', "\n");
    }
    text
}

fn decode_raw(path: &Path, bytes: &[u8]) -> Result<(String, &'static Encoding)> {
    // 1. Byte-order marks say what the encoding is.
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        check_binary_ascii_compatible(path, rest, 3)?;
        return decode_utf8(path, rest, 3).map(|t| (t, UTF_8));
    }
    for (bom, enc) in [(b"\xFF\xFE", UTF_16LE), (b"\xFE\xFF", UTF_16BE)] {
        if let Some(rest) = bytes.strip_prefix(bom) {
            let text = decode_strict(path, enc, rest, 2)?;
            check_binary_utf16(path, &text, 2)?;
            return Ok((text, enc));
        }
    }
    // 2. NUL bytes: BOM-less UTF-16, or binary.
    if let Some(first_nul) = memchr0(bytes) {
        if let Some(enc) = sniff_utf16(bytes) {
            let text = decode_strict(path, enc, bytes, 0)?;
            check_binary_utf16(path, &text, 0)?;
            return Ok((text, enc));
        }
        let offset = first_offending_byte(bytes).unwrap_or(first_nul);
        return Err(Error::BinaryFile {
            path: path.to_path_buf(),
            offset,
        });
    }
    check_binary_ascii_compatible(path, bytes, 0)?;
    // 3. UTF-8, the common case.
    let utf8_error = match std::str::from_utf8(bytes) {
        Ok(text) => return Ok((text.to_owned(), UTF_8)),
        Err(e) => e,
    };
    let broken_utf8 = || Error::Undecodable {
        path: path.to_path_buf(),
        encoding: UTF_8.name().to_owned(),
        offset: utf8_error.valid_up_to(),
    };
    // Mostly valid UTF-8 with a few bad bytes is a damaged UTF-8 file, not another encoding.
    if looks_like_damaged_utf8(bytes) {
        return Err(broken_utf8());
    }
    // 4. A legacy encoding (Shift_JIS/CP932, EUC-JP, GBK, windows-1252, …).
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Allow);
    detector.feed(bytes, true);
    let mut guess = detector.guess(None, Utf8Detection::Allow);
    if guess == UTF_8 {
        return Err(broken_utf8());
    }
    // Lectures are mostly Japanese: when chardetng hesitates on a short text that is clean
    // Shift_JIS full of kana, trust the kana.
    if guess != SHIFT_JIS
        && let Some(sjis) = SHIFT_JIS.decode_without_bom_handling_and_without_replacement(bytes)
        && kana_share(&sjis) >= 0.2
    {
        guess = SHIFT_JIS;
    }
    let text = decode_strict(path, guess, bytes, 0)?;
    // A single-byte guess that yields C1 control characters is not text in that encoding either.
    if text.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)) {
        return Err(broken_utf8());
    }
    Ok((text, guess))
}

fn memchr0(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == 0)
}

/// C0 control characters that do not occur in text files (everything but tab, line feed,
/// form feed, carriage return and the escape of ISO-2022-JP), plus DEL.
fn is_offending_control(c: u32) -> bool {
    (c < 0x20 && !matches!(c, 0x09 | 0x0A | 0x0C | 0x0D | 0x1B)) || c == 0x7F
}

fn first_offending_byte(bytes: &[u8]) -> Option<usize> {
    bytes
        .iter()
        .position(|&b| is_offending_control(u32::from(b)))
}

/// Too many control characters for a text file: more than one, and over 1% of the input.
fn too_many_controls(count: usize, len: usize) -> bool {
    count > 1 && count * 100 > len
}

/// For encodings where bytes below 0x20 are always control characters (UTF-8, Shift_JIS, EUC-*,
/// GBK, Big5, single-byte encodings). `base` is the offset of `bytes` in the file.
fn check_binary_ascii_compatible(path: &Path, bytes: &[u8], base: usize) -> Result<()> {
    let Some(first) = first_offending_byte(bytes) else {
        return Ok(());
    };
    let nul = bytes.contains(&0);
    let count = bytes
        .iter()
        .filter(|&&b| is_offending_control(u32::from(b)))
        .count();
    if nul || too_many_controls(count, bytes.len()) {
        return Err(Error::BinaryFile {
            path: path.to_path_buf(),
            offset: base + first,
        });
    }
    Ok(())
}

/// Control-character check on decoded UTF-16 text; offsets are counted in the file's bytes.
fn check_binary_utf16(path: &Path, text: &str, base: usize) -> Result<()> {
    let mut first = None;
    let mut count = 0;
    let mut offset = base;
    for c in text.chars() {
        if is_offending_control(u32::from(c)) {
            count += 1;
            first.get_or_insert(offset);
        }
        offset += 2 * c.len_utf16();
    }
    match first {
        Some(first) if text.contains('\0') || too_many_controls(count, text.chars().count()) => {
            Err(Error::BinaryFile {
                path: path.to_path_buf(),
                offset: first,
            })
        }
        _ => Ok(()),
    }
}

/// Whether bytes with NULs in them read as BOM-less UTF-16 text, and in which byte order.
///
/// Conservative, since a wrong yes turns a binary file into CJK-looking garbage: the NULs must sit
/// mostly in the high-byte position of that byte order, nearly every code unit must be an ordinary
/// text character, and the text must be mostly ASCII (English) or contain kana (Japanese) —
/// ASCII bytes read pairwise as UTF-16 give kanji-like characters but hardly ever kana.
fn sniff_utf16(bytes: &[u8]) -> Option<&'static Encoding> {
    let even = &bytes[..bytes.len() & !1];
    let nuls_at = |parity: usize| {
        even.iter()
            .skip(parity)
            .step_by(2)
            .filter(|&&b| b == 0)
            .count()
    };
    let (nul_even, nul_odd) = (nuls_at(0), nuls_at(1));
    // Little-endian puts the high byte (NUL for ASCII) at odd offsets.
    let enc = if nul_odd > nul_even {
        UTF_16LE
    } else {
        UTF_16BE
    };
    let (right, wrong) = if enc == UTF_16LE {
        (nul_odd, nul_even)
    } else {
        (nul_even, nul_odd)
    };
    if right < 2 || wrong * 10 > right {
        return None;
    }
    let (text, _) = enc.decode_without_bom_handling(even);
    let (mut total, mut texty, mut ascii, mut kana) = (0usize, 0usize, 0usize, 0usize);
    for c in text.chars() {
        total += 1;
        texty += usize::from(is_texty(c));
        ascii += usize::from(c.is_ascii());
        kana += usize::from(('\u{3041}'..='\u{30fa}').contains(&c));
    }
    // UTF-16 text is almost all ASCII (English) or carries kana (Japanese); NUL-separated ASCII
    // read as UTF-16 gives half ASCII and half CJK-looking pairs, with no kana.
    let plausible = texty * 100 >= total * 95 && (ascii * 10 >= total * 9 || (kana > 0 && kana * 10 >= total - ascii));
    plausible.then_some(enc)
}

/// Characters that make up ordinary European / East-Asian text (used to tell UTF-16 from binary).
fn is_texty(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r' | '\u{0c}'
        | ' '..='~'
        | '\u{a0}'..='\u{24f}'      // Latin-1 supplement, Latin extended A/B
        | '\u{370}'..='\u{52f}'     // Greek, Cyrillic
        | '\u{1e00}'..='\u{1eff}'   // Latin extended additional
        | '\u{2000}'..='\u{2bff}'   // punctuation, symbols, arrows, math, box drawing, shapes
        | '\u{3000}'..='\u{30ff}'   // CJK punctuation, hiragana, katakana
        | '\u{31f0}'..='\u{31ff}'   // katakana extensions
        | '\u{3200}'..='\u{33ff}'   // enclosed CJK, CJK compatibility
        | '\u{4e00}'..='\u{9fff}'   // CJK unified ideographs
        | '\u{ac00}'..='\u{d7a3}'   // Hangul syllables
        | '\u{f900}'..='\u{faff}'   // CJK compatibility ideographs
        | '\u{fe30}'..='\u{fe4f}'   // CJK compatibility forms
        | '\u{ff00}'..='\u{ffef}'   // half- and fullwidth forms
        | '\u{feff}'
    )
}

fn kana_share(text: &str) -> f64 {
    let (mut non_ascii, mut kana) = (0usize, 0usize);
    for c in text.chars().filter(|c| !c.is_ascii()) {
        non_ascii += 1;
        if ('\u{3040}'..='\u{30ff}').contains(&c) {
            kana += 1;
        }
    }
    if non_ascii == 0 {
        0.0
    } else {
        kana as f64 / non_ascii as f64
    }
}

/// Many well-formed multi-byte UTF-8 sequences and few broken ones: a damaged UTF-8 file.
/// (Text in a legacy CJK encoding forms valid UTF-8 sequences by chance, but more invalid ones:
/// on a real Japanese lecture in Shift_JIS / EUC-JP / GBK / Big5 / EUC-KR, at most 0.64 valid
/// per invalid on any line; a damaged UTF-8 file has many valid ones per invalid.)
fn looks_like_damaged_utf8(bytes: &[u8]) -> bool {
    let (mut valid_multibyte, mut invalid) = (0usize, 0usize);
    for chunk in bytes.utf8_chunks() {
        valid_multibyte += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        if !chunk.invalid().is_empty() {
            invalid += 1;
        }
    }
    valid_multibyte > 0 && valid_multibyte >= 2 * invalid
}

fn decode_utf8(path: &Path, bytes: &[u8], base: usize) -> Result<String> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_owned()),
        Err(e) => Err(Error::Undecodable {
            path: path.to_path_buf(),
            encoding: UTF_8.name().to_owned(),
            offset: base + e.valid_up_to(),
        }),
    }
}

/// Decode without replacement; on the first malformed sequence, fail with its byte offset
/// (`base` is the offset of `bytes` in the file, e.g. after a BOM).
fn decode_strict(path: &Path, enc: &'static Encoding, bytes: &[u8], base: usize) -> Result<String> {
    let mut decoder = enc.new_decoder_without_bom_handling();
    let capacity = decoder
        .max_utf8_buffer_length_without_replacement(bytes.len())
        .unwrap_or(bytes.len().saturating_mul(3));
    let mut out = String::with_capacity(capacity);
    let mut read_total = 0;
    loop {
        let (result, read) =
            decoder.decode_to_string_without_replacement(&bytes[read_total..], &mut out, true);
        read_total += read;
        match result {
            DecoderResult::InputEmpty => return Ok(out),
            DecoderResult::OutputFull => out.reserve(bytes.len() - read_total + 16),
            DecoderResult::Malformed(bad, after) => {
                let offset = read_total.saturating_sub(usize::from(after) + usize::from(bad));
                return Err(Error::Undecodable {
                    path: path.to_path_buf(),
                    encoding: enc.name().to_owned(),
                    offset: base + offset,
                });
            }
        }
    }
}
