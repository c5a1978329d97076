//! Passages the language model finds surprising, and small local fixes for them.
//!
//! A scan scores every token of a revision with the model (surprisal = −ln p(token | left context),
//! in nats), spreads the token scores over the characters they cover, compares each character with
//! the document's other characters of the same script, and flags the stretches that stand out. ASR
//! errors tend to produce byte sequences the model did not expect ("スケール足" for "スケール則",
//! "xqzv blorf" in English), so surprisal is a signal, not a verdict: with a small English model and
//! Japanese text the flagged list is a reading aid, ranked, for a person to check.
//!
//! Fixes are local: [`suggest`] proposes replacements for one flagged span (course glossary first,
//! then the model asked to rewrite only that span); [`accept`] turns one into a new revision. The
//! model never rewrites more than the span.

use crate::generate::{Chat, FinishReason, GenerateParams, Generator, Message, TokenWindows};
use crate::lecture::{LectureId, Revision, RevisionId, RevisionKind};
use crate::store::Db;
use crate::text::script::{Script, script};
use crate::text::{CharIndex, CharSpan};
use crate::transcript::Segment;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// How a scan reads the text.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, ts_rs::TS)]
pub struct ScanParams {
    /// Tokens per forward pass (one fresh KV cache per window).
    pub window_tokens: usize,
    /// Tokens between window starts. Windows overlap by `window_tokens - stride_tokens`, so every
    /// token after the first window is scored with at least that much left context.
    pub stride_tokens: usize,
    /// Flagged spans shorter than this (in characters) are grown to it, or dropped.
    pub min_span_chars: usize,
    /// Flagged spans longer than this are cut to their most surprising stretch of this length.
    pub max_span_chars: usize,
}

/// The default windows overlap by 32 tokens: on 2 CPU cores SmolLM2-135M reads about 300 tokens a
/// second, and the 31k-character raw lecture transcript is 51k tokens, so a 64-token overlap
/// (stride 192, a third more work) took over three minutes; with stride 224 (an eighth more) the
/// scan stays near three. Tokens at a window's start still see at least 32 tokens of context.
impl Default for ScanParams {
    fn default() -> Self {
        Self { window_tokens: 256, stride_tokens: 224, min_span_chars: 2, max_span_chars: 24 }
    }
}

impl ScanParams {
    /// Check the settings against a model's context length.
    pub fn validate(&self, context: usize) -> Result<()> {
        let bad = |m: String| Err(Error::Invalid(m));
        if self.window_tokens < 2 || self.window_tokens > context {
            return bad(format!(
                "window_tokens must be between 2 and the model's context ({context}), got {}",
                self.window_tokens
            ));
        }
        if self.stride_tokens == 0 || self.stride_tokens >= self.window_tokens {
            return bad(format!(
                "stride_tokens must be at least 1 and less than window_tokens ({}) so windows overlap, got {}",
                self.window_tokens, self.stride_tokens
            ));
        }
        if self.min_span_chars == 0 || self.min_span_chars > self.max_span_chars {
            return bad(format!(
                "min_span_chars must be at least 1 and at most max_span_chars ({}), got {}",
                self.max_span_chars, self.min_span_chars
            ));
        }
        Ok(())
    }
}

/// One stretch of text the model found unusually surprising.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, ts_rs::TS)]
pub struct SuspiciousSpan {
    /// Code points into the scanned text.
    pub span: CharSpan,
    pub text: String,
    /// How surprising: the span's mean per-character z-score, each character measured against the
    /// document's characters of the same script (mean and standard deviation of their surprisal).
    /// Higher is more suspicious; spans are flagged from about 1 upwards.
    pub score: f32,
    /// Mean surprisal per character of the span, in nats.
    pub mean_surprisal: f32,
    /// Up to [`CONTEXT_CHARS`] characters before and after the span, for display.
    pub before: String,
    pub after: String,
}

/// A scan of one revision with one model and one set of parameters.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, ts_rs::TS)]
pub struct Scan {
    pub revision: RevisionId,
    pub model: String,
    pub params: ScanParams,
    /// Tokens in the revision's text.
    pub tokens: usize,
    /// Ranked, most suspicious first.
    pub spans: Vec<SuspiciousSpan>,
    /// Time the scan took when it was computed (a cached scan keeps its original time).
    pub seconds: f64,
    /// The execution provider that ran the model.
    pub provider: String,
}

/// Characters of context kept on each side of a flagged span.
pub const CONTEXT_CHARS: usize = 20;
/// Characters of context the model sees on each side of a span it is asked to rewrite.
pub const SUGGEST_CONTEXT_CHARS: usize = 60;
/// A character's smoothed z-score must reach this for it to seed a span.
const Z_THRESHOLD: f32 = 1.0;
/// Smoothing: mean of the z-scores within this many characters on each side.
const SMOOTH_RADIUS: usize = 2;
/// A script with fewer scored characters than this is measured against the whole document.
const MIN_CLASS_CHARS: usize = 30;
/// Names the scoring method in the cache key: a scan made by another method is not reused.
const SCAN_ALGORITHM: &str = "surprisal-script-z/1";

/// Score every token of `text` and return the flagged spans (ranked, best first) and the number of
/// tokens. `progress(done, total)` counts windows (one forward pass each); `cancel` stops the scan
/// between windows with [`Error::Cancelled`].
///
/// Windows of `window_tokens` start every `stride_tokens`; each is one forward pass over a fresh KV
/// cache returning the logits of all its positions, and scores the tokens the previous window did
/// not reach. The text's first token has no left context and is not scored (nor are the characters
/// it covers).
pub fn scan_text(
    lm: &mut dyn Generator,
    text: &str,
    params: &ScanParams,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<(Vec<SuspiciousSpan>, usize)> {
    params.validate(lm.context_window())?;
    let windows = TokenWindows { tokens: params.window_tokens, stride: params.stride_tokens };
    let scored = lm.token_logprobs(text, windows, progress, cancel)?;
    let offsets: Vec<(usize, usize)> = scored.iter().map(|t| (t.span.start, t.span.end)).collect();
    let surprisal: Vec<Option<f32>> = scored.iter().map(|t| t.logprob.map(|lp| -lp)).collect();
    let chars: Vec<char> = text.chars().collect();
    let per_char = char_surprisal(chars.len(), &offsets, &surprisal);
    Ok((find_spans(&chars, &per_char, params), scored.len()))
}

/// [`scan_text`] on a stored revision, cached in the `scans` table per (revision, model, params):
/// asking again returns the stored scan without running the model. A cancelled scan stores nothing.
pub fn scan_revision(
    db: &mut Db,
    lm: &mut dyn Generator,
    revision: RevisionId,
    params: &ScanParams,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &AtomicBool,
) -> Result<Scan> {
    let key = serde_json::to_string(&CacheKey { algorithm: SCAN_ALGORITHM, params })
        .map_err(|e| Error::Invalid(format!("scan parameters: {e}")))?;
    let model = lm.name().to_owned();
    let cached = db.cached_scan(revision, &model, &key)?;
    if let Some(scan) = cached.and_then(|json| serde_json::from_str::<Scan>(&json).ok()) {
        return Ok(scan);
    }
    let rev = db.revision(revision)?;
    let started = Instant::now();
    let (spans, tokens) = scan_text(lm, &rev.text, params, progress, cancel)?;
    let scan = Scan {
        revision,
        model: model.clone(),
        params: params.clone(),
        tokens,
        spans,
        seconds: started.elapsed().as_secs_f64(),
        provider: lm.runs_on(),
    };
    let json = serde_json::to_string(&scan).map_err(|e| Error::Invalid(format!("scan result: {e}")))?;
    db.put_scan(revision, &model, &key, &json)?;
    Ok(scan)
}

#[derive(Serialize)]
struct CacheKey<'a> {
    algorithm: &'a str,
    #[serde(flatten)]
    params: &'a ScanParams,
}

/// Where a suggestion comes from.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SuggestionSource {
    /// A course glossary term whose variant or close spelling matches the span.
    Glossary { term: String },
    /// The language model, asked to rewrite the span alone.
    Model,
}

/// A proposed replacement for exactly one span of a text.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, ts_rs::TS)]
pub struct Suggestion {
    pub span: CharSpan,
    /// The span's text when the suggestion was made.
    pub original: String,
    /// What replaces the whole span.
    pub replacement: String,
    pub source: SuggestionSource,
    /// Glossary: 1 for an exact variant, less for a contained or close spelling (similarity × 0.9).
    /// Model: how much more probable the model finds the passage with the replacement than without,
    /// as σ(Δ log p) = p(new) / (p(new) + p(old)): above 0.5, as only improvements are kept.
    pub score: f32,
}

/// Propose replacements for one span of `text`: glossary terms first, best match first, then at most
/// one rewrite by the model. `glossary` lists `(term, variants)`: a variant (or the term itself,
/// misspelled) found in the span, exactly or within a small edit distance, is replaced by the term.
/// The model sees up to `context_chars` characters on each side (cut to sentence boundaries where
/// there are some), the span marked, and is asked for the corrected span only (greedy, stopping at
/// a newline or the end of its turn). Its answer is dropped when empty, unchanged, more than three
/// times the span's length, cut off by the token limit before its end can be located, or when the
/// passage with it is less probable under the model than the passage as it is. A small model tends
/// to echo the whole sentence: only the part between the echoed context is taken, so the model never
/// rewrites more than the span (see [`extract_replacement`]); the token budget (16, plus room for
/// that echo) follows from it.
pub fn suggest(
    lm: &mut dyn Generator,
    text: &str,
    span: CharSpan,
    glossary: &[(String, Vec<String>)],
    context_chars: usize,
) -> Result<Vec<Suggestion>> {
    let ix = CharIndex::new(text);
    check_span(span, ix.len())?;
    let original = ix.slice(span).to_owned();
    let mut out: Vec<Suggestion> = glossary_matches(&original, glossary)
        .into_iter()
        .map(|(replacement, term, score)| Suggestion {
            span,
            original: original.clone(),
            replacement,
            source: SuggestionSource::Glossary { term },
            score,
        })
        .collect();

    let (before, after) = context(&ix, span, context_chars);
    let prompt = Chat::new(rewrite_prompt(&before, &original, &after));
    // Room for the answer alone, or for a small model echoing the context around it.
    let budget = 2 * lm.count_tokens(&original)? + lm.count_tokens(&before)? + 16;
    let gen_params =
        GenerateParams { max_new_tokens: budget.clamp(16, 256), stop_strings: vec!["\n".into()], ..Default::default() };
    let g = lm.reply(&prompt, &gen_params, &mut |_| {}, &AtomicBool::new(false))?;
    tracing::debug!(answer = %g.text, finish = ?g.finish, "model rewrite of a span");
    let complete = matches!(g.finish, FinishReason::EndOfTurn | FinishReason::StopString);
    let Some(replacement) = extract_replacement(&g.text, &before, &after, &original, complete) else {
        return Ok(out);
    };
    if out.iter().any(|s| s.replacement == replacement) {
        return Ok(out);
    }
    // Keep the rewrite only if the model finds the passage with it more probable than as it was.
    let gain = lm.text_logprob(&format!("{before}{replacement}{after}"))?
        - lm.text_logprob(&format!("{before}{original}{after}"))?;
    tracing::debug!(%replacement, gain, "model rewrite scored");
    if gain > 0.0 {
        let score = (1.0 / (1.0 + (-gain).exp())) as f32;
        out.push(Suggestion { span, original, replacement, source: SuggestionSource::Model, score });
    }
    Ok(out)
}

/// The rewrite request: two worked examples (the model is small; examples teach the answer's form
/// better than instructions), then the span in its context.
fn rewrite_prompt(before: &str, span: &str, after: &str) -> Vec<Message> {
    let ask = |b: &str, s: &str, a: &str| {
        format!("Transcript: {b}[[{s}]]{a}\nThe words in [[ ]] were misheard. Write the correct words for them only.")
    };
    vec![
        Message::system(
            "You fix speech-recognition errors in lecture transcripts. Reply with the corrected words only.",
        ),
        Message::user(ask("The model is trained on ", "lodge", " amounts of text.")),
        Message::assistant("large"),
        Message::user(ask("東京は日本の", "主と", "です。")),
        Message::assistant("首都"),
        Message::user(ask(before, span, after)),
    ]
}

/// Make a new revision (kind `suggestion`) of `lecture` on top of `parent`, with the suggestion's
/// span replaced. `parent` must still be the newest revision (else nothing is written and the
/// caller reloads), and its text at the span must still read `s.original`. Segments keep their
/// places: those after the span move by the change in length, one overlapping it stretches or
/// shrinks with it.
pub fn accept(db: &mut Db, lecture: LectureId, parent: RevisionId, s: &Suggestion) -> Result<Revision> {
    let rev = db.revision(parent)?;
    if rev.lecture != lecture {
        return Err(Error::Invalid(format!("revision {parent} belongs to lecture {}, not {lecture}", rev.lecture)));
    }
    let ix = CharIndex::new(&rev.text);
    check_span(s.span, ix.len())?;
    if ix.slice(s.span) != s.original {
        return Err(Error::Invalid(format!(
            "revision {parent} reads 「{}」 at {}..{}, not 「{}」 — scan the revision again",
            ix.slice(s.span),
            s.span.start,
            s.span.end,
            s.original
        )));
    }
    let mut text = String::with_capacity(rev.text.len() + s.replacement.len());
    text.push_str(&rev.text[..ix.byte(s.span.start)]);
    text.push_str(&s.replacement);
    text.push_str(&rev.text[ix.byte(s.span.end)..]);
    let segments = shift_segments(&rev.segments, s.span, s.replacement.chars().count());
    let source = match &s.source {
        SuggestionSource::Glossary { term } => format!("glossary: {term}"),
        SuggestionSource::Model => "model".to_string(),
    };
    let message = format!("「{}」→「{}」 ({source})", s.original, s.replacement);
    db.add_revision(lecture, parent, RevisionKind::Suggestion, Some(&message), &text, &segments)
}

fn check_span(span: CharSpan, len: usize) -> Result<()> {
    if span.start >= span.end || span.end > len {
        return Err(Error::Invalid(format!(
            "span {}..{} is empty or outside the text ({len} characters)",
            span.start, span.end
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Scoring

/// Per-character surprisal from per-token surprisal and the tokens' character offsets.
///
/// A token's surprisal is shared evenly among the characters it covers, and a character covered by
/// several tokens (byte-level BPE splits a multi-byte character into byte tokens, each reported with
/// the whole character's offsets) receives the SUM of their shares. The values therefore add up to
/// the text's total surprisal, and each is the information the model needed to write that
/// character, comparable between a 1-token English word and a 3-token kanji. Characters touched by
/// an unscored token, or by none (there are none with this tokenizer), are `None`.
fn char_surprisal(nchars: usize, offsets: &[(usize, usize)], tokens: &[Option<f32>]) -> Vec<Option<f32>> {
    let mut sum = vec![0f32; nchars];
    let mut covered = vec![false; nchars];
    let mut unscored = vec![false; nchars];
    for (&(s, e), t) in offsets.iter().zip(tokens) {
        if s >= nchars {
            continue;
        }
        let e = e.clamp(s + 1, nchars);
        match t {
            Some(t) => {
                let share = t / (e - s) as f32;
                for c in s..e {
                    sum[c] += share;
                    covered[c] = true;
                }
            }
            None => unscored[s..e].iter_mut().for_each(|u| *u = true),
        }
    }
    (0..nchars).map(|c| (covered[c] && !unscored[c]).then_some(sum[c])).collect()
}

/// The class a character is measured and grown in: its [`Script`], with the letters and digits of
/// every non-Japanese script as one class (`Latin` here): 「GPT4」 grows as one word, and a model's
/// surprisal on them is alike.
fn class(c: char) -> Script {
    match script(c) {
        Script::Latin | Script::Digit | Script::OtherLetter => Script::Latin,
        s => s,
    }
}

/// Letters and digits: a span never starts or ends on a space or punctuation, nor crosses
/// punctuation.
fn is_word(s: Script) -> bool {
    !matches!(s, Script::Space | Script::Punctuation)
}

/// Number of [`Script`] classes (the per-class baselines are indexed by `Script as usize`).
const CLASSES: usize = Script::Punctuation as usize + 1;

/// Mean and (population) standard deviation.
fn mean_sd(values: impl Iterator<Item = f32>) -> (f32, f32, usize) {
    let (mut n, mut s, mut s2) = (0usize, 0f64, 0f64);
    for v in values {
        n += 1;
        s += f64::from(v);
        s2 += f64::from(v) * f64::from(v);
    }
    if n == 0 {
        return (0.0, 0.0, 0);
    }
    let m = s / n as f64;
    ((m as f32), ((s2 / n as f64 - m * m).max(0.0).sqrt() as f32), n)
}

/// Flag, grow, clamp and rank the surprising spans of a text.
///
/// 1. z-score each character against the document's characters of its script (kanji are more
///    surprising than hiragana to any model; a script with too few characters uses the whole text);
/// 2. smooth (mean over ±[`SMOOTH_RADIUS`] characters) and take the runs at or above
///    [`Z_THRESHOLD`], split at punctuation;
/// 3. trim their edges to characters above their script's mean, then grow them to whole script runs
///    (a katakana word, a kanji compound, an English word), to `min_span_chars` if still shorter,
///    merge those that touch, and cut those over `max_span_chars` to their most surprising stretch;
/// 4. score each by its mean z-score and rank.
fn find_spans(chars: &[char], surprisal: &[Option<f32>], params: &ScanParams) -> Vec<SuspiciousSpan> {
    let n = chars.len();
    let script: Vec<Script> = chars.iter().map(|&c| class(c)).collect();
    let global = mean_sd(surprisal.iter().flatten().copied());
    if global.2 < 2 || global.1 <= f32::EPSILON {
        return Vec::new();
    }
    let mut baseline = [global; CLASSES];
    for (k, b) in baseline.iter_mut().enumerate() {
        let s = mean_sd(surprisal.iter().zip(&script).filter(|(_, c)| **c as usize == k).filter_map(|(v, _)| *v));
        if s.2 >= MIN_CLASS_CHARS && s.1 > f32::EPSILON {
            *b = s;
        }
    }
    let z: Vec<Option<f32>> = surprisal
        .iter()
        .zip(&script)
        .map(|(v, c)| {
            let (m, sd, _) = baseline[*c as usize];
            v.map(|v| (v - m) / sd)
        })
        .collect();
    let smooth: Vec<Option<f32>> = (0..n)
        .map(|i| {
            z[i]?;
            let lo = i.saturating_sub(SMOOTH_RADIUS);
            let hi = (i + SMOOTH_RADIUS + 1).min(n);
            let (m, _, k) = mean_sd(z[lo..hi].iter().flatten().copied());
            (k > 0).then_some(m)
        })
        .collect();
    let zi = |i: usize| z[i].unwrap_or(f32::NEG_INFINITY);

    // Seeds: runs of high smoothed z, never across punctuation.
    let mut spans: Vec<CharSpan> = Vec::new();
    let mut i = 0;
    while i < n {
        if smooth[i].is_some_and(|s| s >= Z_THRESHOLD) && script[i] != Script::Punctuation {
            let start = i;
            while i < n && smooth[i].is_some_and(|s| s >= Z_THRESHOLD) && script[i] != Script::Punctuation {
                i += 1;
            }
            spans.push(CharSpan::new(start, i));
        } else {
            i += 1;
        }
    }

    let trim = |mut s: CharSpan| {
        while s.start < s.end && (zi(s.start) < 0.0 || !is_word(script[s.start])) {
            s.start += 1;
        }
        while s.end > s.start && (zi(s.end - 1) < 0.0 || !is_word(script[s.end - 1])) {
            s.end -= 1;
        }
        s
    };
    let mut grown: Vec<CharSpan> = Vec::new();
    for s in spans {
        let mut s = trim(s);
        if s.is_empty() {
            continue;
        }
        while s.start > 0 && script[s.start - 1] == script[s.start] {
            s.start -= 1;
        }
        while s.end < n && script[s.end] == script[s.end - 1] {
            s.end += 1;
        }
        // Too short: take the more surprising neighbour (a word character) until long enough.
        while s.len() < params.min_span_chars {
            let left = (s.start > 0 && is_word(script[s.start - 1])).then(|| zi(s.start - 1));
            let right = (s.end < n && is_word(script[s.end])).then(|| zi(s.end));
            match (left, right) {
                (Some(l), Some(r)) if l >= r => s.start -= 1,
                (Some(_), None) => s.start -= 1,
                (_, Some(_)) => s.end += 1,
                (None, None) => break,
            }
        }
        if s.len() >= params.min_span_chars {
            grown.push(s);
        }
    }
    grown.sort();
    let mut merged: Vec<CharSpan> = Vec::new();
    for s in grown {
        match merged.last_mut() {
            Some(last) if s.start <= last.end => *last = last.union(&s),
            _ => merged.push(s),
        }
    }

    let mut out: Vec<SuspiciousSpan> = Vec::new();
    for mut s in merged {
        if s.len() > params.max_span_chars {
            // The stretch of max_span_chars with the highest total z.
            let w = params.max_span_chars;
            let zs = |i: usize| z[i].unwrap_or(0.0);
            let mut sum: f32 = (s.start..s.start + w).map(zs).sum();
            let (mut best, mut best_start) = (sum, s.start);
            for st in s.start + 1..=s.end - w {
                sum += zs(st + w - 1) - zs(st - 1);
                if sum > best {
                    best = sum;
                    best_start = st;
                }
            }
            s = trim(CharSpan::new(best_start, best_start + w));
            if s.len() < params.min_span_chars {
                continue;
            }
        }
        let (score, _, k) = mean_sd((s.start..s.end).filter_map(|i| z[i]));
        if k == 0 {
            continue;
        }
        let (mean_surprisal, _, _) = mean_sd((s.start..s.end).filter_map(|i| surprisal[i]));
        out.push(SuspiciousSpan {
            span: s,
            text: chars[s.start..s.end].iter().collect(),
            score,
            mean_surprisal,
            before: chars[s.start.saturating_sub(CONTEXT_CHARS)..s.start].iter().collect(),
            after: chars[s.end..(s.end + CONTEXT_CHARS).min(n)].iter().collect(),
        });
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.span.start.cmp(&b.span.start)));
    out
}

// ---------------------------------------------------------------------------------------------
// Suggestions

/// Similarity of a close spelling must reach this (1 − distance / longer length).
const MIN_SIMILARITY: f32 = 0.6;

/// `(replacement, term, score)` for every glossary term that matches the span text, best first.
/// An exact variant scores 1; a variant contained in the span 0.95 (the rest of the span is kept);
/// a close spelling of a variant or of the term itself (similarity ≥ 0.6, over the span's
/// substrings about that long) scores 0.9 × similarity.
fn glossary_matches(original: &str, glossary: &[(String, Vec<String>)]) -> Vec<(String, String, f32)> {
    let span: Vec<char> = original.chars().collect();
    let mut out: Vec<(String, String, f32)> = Vec::new();
    let mut add = |replacement: String, term: &str, score: f32| {
        if replacement == original || replacement.is_empty() {
            return;
        }
        match out.iter_mut().find(|(r, _, _)| *r == replacement) {
            Some(e) if e.2 >= score => {}
            Some(e) => *e = (replacement, term.to_owned(), score),
            None => out.push((replacement, term.to_owned(), score)),
        }
    };
    for (term, variants) in glossary {
        if term.is_empty() {
            continue;
        }
        let mut matched = false;
        for v in variants.iter().filter(|v| !v.is_empty() && *v != term) {
            if original == v {
                add(term.clone(), term, 1.0);
                matched = true;
            } else if original.contains(v.as_str()) {
                add(original.replace(v.as_str(), term), term, 0.95);
                matched = true;
            }
        }
        if matched || original.contains(term.as_str()) {
            continue;
        }
        // Close spellings: the span's substrings within one character of each spelling's length.
        let mut best: Option<(f32, usize, usize)> = None;
        for v in variants.iter().chain(std::iter::once(term)).filter(|v| !v.is_empty()) {
            let vc: Vec<char> = v.chars().collect();
            if vc.len() < 2 {
                continue;
            }
            for len in vc.len().saturating_sub(1).max(1)..=(vc.len() + 1).min(span.len()) {
                for st in 0..=span.len() - len {
                    let sub = &span[st..st + len];
                    let sim = 1.0 - crate::correction::align::levenshtein(sub, &vc) as f32 / len.max(vc.len()) as f32;
                    if sim >= MIN_SIMILARITY && best.is_none_or(|(b, _, _)| sim > b) {
                        best = Some((sim, st, st + len));
                    }
                }
            }
        }
        if let Some((sim, st, en)) = best {
            let replacement: String =
                span[..st].iter().copied().chain(term.chars()).chain(span[en..].iter().copied()).collect();
            add(replacement, term, 0.9 * sim);
        }
    }
    out.sort_by(|a, b| b.2.total_cmp(&a.2));
    out
}

/// Sentence marks: the prompt's context is cut at them where it can be.
fn is_sentence_end(c: char) -> bool {
    matches!(c, '。' | '．' | '！' | '？' | '.' | '!' | '?' | '\n')
}

/// Up to `n` characters before and after `span`: the before-part starts after a sentence mark in its
/// first half if there is one (the previous sentence and the span's own), the after-part ends at a
/// sentence mark in its second half if there is one.
fn context(ix: &CharIndex<'_>, span: CharSpan, n: usize) -> (String, String) {
    let before: Vec<char> = ix.slice(CharSpan::new(span.start.saturating_sub(n), span.start)).chars().collect();
    let after: Vec<char> = ix.slice(CharSpan::new(span.end, (span.end + n).min(ix.len()))).chars().collect();
    let cut = before[..before.len() / 2].iter().rposition(|&c| is_sentence_end(c)).map_or(0, |p| p + 1);
    let half = after.len() / 2;
    let end = after[half..].iter().position(|&c| is_sentence_end(c)).map_or(after.len(), |p| half + p + 1);
    (before[cut..].iter().collect::<String>().trim_start().to_owned(), after[..end].iter().collect())
}

/// Context anchors must be at least this long (characters) to be trusted.
const MIN_ANCHOR: usize = 4;

fn find_chars(hay: &[char], needle: &[char]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    (0..=hay.len() - needle.len()).find(|&i| hay[i..i + needle.len()] == *needle)
}

/// The span's replacement in the model's answer. Asked for the span alone, a small model often
/// echoes the sentence around it instead; only the part between the context it echoes (the longest
/// end of `before` and the longest start of `after` found in the answer, each at least
/// [`MIN_ANCHOR`] characters) is taken, so the model never rewrites more than the span. Brackets and
/// quotes around it are removed. `None` when nothing usable is left: empty, unchanged, more than
/// three times the span's length, a broken character, or (for an answer cut off by the token limit,
/// `complete` false) no end anchor showing where the span's replacement ends.
fn extract_replacement(answer: &str, before: &str, after: &str, original: &str, complete: bool) -> Option<String> {
    let a: Vec<char> = answer.replace("[[", "").replace("]]", "").trim().chars().collect();
    if a.contains(&char::REPLACEMENT_CHARACTER) {
        return None;
    }
    let b: Vec<char> = before.trim_end().chars().collect();
    let f: Vec<char> = after.trim_start().chars().collect();
    let start =
        (MIN_ANCHOR..=b.len()).rev().find_map(|len| find_chars(&a, &b[b.len() - len..]).map(|p| p + len)).unwrap_or(0);
    let end = (MIN_ANCHOR..=f.len()).rev().find_map(|len| find_chars(&a[start..], &f[..len]).map(|p| start + p));
    let end = match end {
        Some(e) => e,
        None if complete => a.len(),
        None => return None,
    };
    let middle: String = a[start..end].iter().collect();
    let mut m = middle.trim();
    for (open, close) in [("「", "」"), ("\"", "\""), ("'", "'"), ("`", "`")] {
        if let Some(inner) = m.strip_prefix(open).and_then(|r| r.strip_suffix(close)) {
            m = inner.trim();
        }
    }
    // A small model may echo the prompt's [[ ]] marker after its answer ("paris [paris]").
    if !original.contains('[')
        && let Some(cut) = m.find('[')
    {
        m = m[..cut].trim_end();
    }
    if m.is_empty() || m == original || m.chars().count() > 3 * original.chars().count() {
        return None;
    }
    Some(m.to_owned())
}

/// The parent's segments placed in the new text: offsets before the span stay, offsets after it
/// move by the change in length, and an offset inside the span keeps its distance from the span's
/// start, up to the replacement's end (monotone, so segments that did not overlap still do not).
fn shift_segments(segments: &[Segment], span: CharSpan, new_len: usize) -> Vec<Segment> {
    let new_end = span.start + new_len;
    let map = |p: usize| {
        if p <= span.start {
            p
        } else if p >= span.end {
            p - span.end + new_end
        } else {
            span.start + (p - span.start).min(new_len)
        }
    };
    segments.iter().map(|s| Segment { span: CharSpan::new(map(s.span.start), map(s.span.end)), ..s.clone() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> ScanParams {
        ScanParams::default()
    }

    #[test]
    fn a_scan_reads_back_from_its_json_bit_identical() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..2000 {
            let scan = Scan {
                revision: RevisionId(1),
                model: "m".into(),
                params: params(),
                tokens: 10,
                spans: vec![SuspiciousSpan {
                    span: CharSpan { start: 0, end: 1 },
                    text: "x".into(),
                    score: rng.random::<f32>() * 10.0,
                    mean_surprisal: rng.random::<f32>() * 20.0,
                    before: String::new(),
                    after: String::new(),
                }],
                seconds: rng.random::<f64>() * 100.0,
                provider: "cpu".into(),
            };
            let back: Scan = serde_json::from_str(&serde_json::to_string(&scan).unwrap()).unwrap();
            assert_eq!(back, scan);
        }
    }

    #[test]
    fn split_characters_sum_their_tokens_and_long_tokens_share() {
        // "ab" one token, "語" split into two byte tokens, first token unscored.
        let offsets = [(0, 1), (1, 3), (3, 4), (3, 4)];
        let toks = [None, Some(2.0), Some(1.0), Some(1.5)];
        let c = char_surprisal(4, &offsets, &toks);
        assert_eq!(c, vec![None, Some(1.0), Some(1.0), Some(2.5)]);
    }

    #[test]
    fn the_odd_stretch_is_flagged_and_grown_to_its_script_run() {
        let text = "これはテストの文章です。これはテストの文章です。スケール足の話をします。これはテストの文章です。";
        let chars: Vec<char> = text.chars().collect();
        let target = text.find("スケール足").map(|b| text[..b].chars().count()).unwrap();
        let s: Vec<Option<f32>> = (0..chars.len())
            .map(|i| Some(if (target + 3..target + 5).contains(&i) { 9.0 } else { 1.0 + (i % 3) as f32 * 0.2 }))
            .collect();
        let spans = find_spans(&chars, &s, &params());
        assert!(!spans.is_empty());
        let top = &spans[0];
        assert!(top.text.contains("ル足"), "{top:?}");
        assert!(top.span.start <= target, "grown to the katakana run's start: {top:?}");
        assert!(!top.text.contains('。'));
        assert!(top.score > 1.0);
    }

    #[test]
    fn a_span_grows_over_its_katakana_word_but_not_past_a_nakaguro() {
        let text = "これはテストの文章です。これはテストの文章です。ニューラル・ネットワークの話をします。これはテストの文章です。";
        let chars: Vec<char> = text.chars().collect();
        let target = text.find("ネット").map(|b| text[..b].chars().count()).unwrap();
        let s: Vec<Option<f32>> = (0..chars.len())
            .map(|i| Some(if (target + 2..target + 4).contains(&i) { 9.0 } else { 1.0 + (i % 3) as f32 * 0.2 }))
            .collect();
        let spans = find_spans(&chars, &s, &params());
        assert_eq!(spans[0].text, "ネットワーク", "{spans:?}");
    }

    #[test]
    fn long_spans_are_cut_to_the_maximum() {
        let chars: Vec<char> = "あ".repeat(100).chars().collect();
        let s: Vec<Option<f32>> =
            (0..100).map(|i| Some(if (20..70).contains(&i) { 5.0 + (i as f32) / 100.0 } else { 1.0 })).collect();
        let spans = find_spans(&chars, &s, &params());
        assert_eq!(spans.len(), 1);
        assert!(spans[0].span.len() <= 24 && spans[0].span.len() >= 2, "{:?}", spans[0].span);
        assert!(spans[0].span.start >= 20 && spans[0].span.end <= 70);
    }

    #[test]
    fn glossary_variants_contained_and_close_spellings_match() {
        let g = vec![
            ("スケール則".to_string(), vec!["スケール足".to_string()]),
            ("推論時".to_string(), vec!["水温時".to_string()]),
            ("Transformer".to_string(), vec![]),
        ];
        let m = glossary_matches("スケール足", &g);
        assert_eq!(m[0], ("スケール則".into(), "スケール則".into(), 1.0));
        let m = glossary_matches("スケール足の", &g);
        assert_eq!(m[0].0, "スケール則の");
        let m = glossary_matches("スケーる足", &g);
        assert_eq!(m[0].0, "スケール則");
        let m = glossary_matches("the Transfomer model", &g);
        assert_eq!(m[0].0, "the Transformer model");
        assert!(glossary_matches("全然違う", &g).is_empty());
        assert!(glossary_matches("スケール則", &g).is_empty());
    }

    #[test]
    fn model_answers_are_cleaned_bounded_and_cut_to_the_span() {
        let x = |a: &str, b: &str, f: &str, o: &str| extract_replacement(a, b, f, o, true);
        assert_eq!(x(" [[スケール則]] ", "言語モデルの", "について", "スケール足").as_deref(), Some("スケール則"));
        assert_eq!(x("「推論時」", "", "", "水温時").as_deref(), Some("推論時"));
        assert_eq!(x("スケール足", "", "", "スケール足"), None);
        assert_eq!(x("  ", "", "", "ab"), None);
        assert_eq!(x("abcdefg", "", "", "ab"), None);
        assert_eq!(x("ab\u{FFFD}", "", "", "xy"), None);
        assert_eq!(x("paris [paris]", "", "", "Parish").as_deref(), Some("paris"), "an echoed marker is cut off");
        // An echoed sentence: only the part between the echoed context counts.
        let (b, f) = ("The capital of France is ", ". It is a large city on the river Seine.");
        assert_eq!(x("The capital of France is Paris. It is a large city.", b, f, "Parish").as_deref(), Some("Paris"));
        let cut = "The capital of France is Paris. It is a large city on the river Se";
        assert_eq!(extract_replacement(cut, b, f, "Parish", false).as_deref(), Some("Paris"));
        assert_eq!(extract_replacement("The capital of France is Par", b, f, "Parish", false), None);
        // Echoing the context without the nonsense is a deletion: not proposed.
        assert_eq!(x("The capital of France is Paris.", b, " Paris.", "xqzv blorf"), None);
        assert_eq!(
            x("言語モデルのスケール則について学びます", "今日は言語モデルの", "について学びます。", "スケール足")
                .as_deref(),
            Some("スケール則")
        );
    }

    #[test]
    fn segments_after_the_span_move_and_overlapping_ones_stretch() {
        let seg = |a, b| Segment { span: CharSpan::new(a, b), start_ms: Some(a as u64), end_ms: None };
        let segs = [seg(0, 5), seg(5, 12), seg(12, 20)];
        // Replace 6..9 (3 chars) with 5 chars.
        let out = shift_segments(&segs, CharSpan::new(6, 9), 5);
        let spans: Vec<(usize, usize)> = out.iter().map(|s| (s.span.start, s.span.end)).collect();
        assert_eq!(spans, vec![(0, 5), (5, 14), (14, 22)]);
        assert_eq!(out[1].start_ms, Some(5));
        // A span across a boundary (4..7 → 1 char).
        let out = shift_segments(&segs, CharSpan::new(4, 7), 1);
        let spans: Vec<(usize, usize)> = out.iter().map(|s| (s.span.start, s.span.end)).collect();
        assert_eq!(spans, vec![(0, 5), (5, 10), (10, 18)]);
    }

    #[test]
    fn context_is_cut_at_sentence_marks() {
        let text = "前の前の文。前の文です。ここが問題の部分で、後ろの文です。次の文。";
        let ix = CharIndex::new(text);
        let start = text.find("問題").map(|b| text[..b].chars().count()).unwrap();
        let (b, a) = context(&ix, CharSpan::new(start, start + 2), 12);
        assert!(b.ends_with("ここが"), "{b}");
        assert!(a.starts_with("の部分"), "{a}");
    }
}
