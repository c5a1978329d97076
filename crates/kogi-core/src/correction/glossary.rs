//! Per-course glossaries: the right spelling of each technical term and the wrong ones ASR produced
//! for it (「スケール則」 heard as 「スケール足」, 「o1」 as 「大湾」). A glossary is previewed as a list
//! of occurrences in context, a person keeps or drops each, and the kept ones are saved as ONE
//! revision. [`suggest_terms`] proposes new variants: runs that are one or two characters away from
//! a glossary term, or rare spellings of something the lecture says often. Terms are stored, and the
//! revision written, by the store (`Db::add_term`, `Db::apply_occurrences`).

use super::align::levenshtein;
use crate::lecture::Revision;
use crate::text::script::{Script, script};
use crate::text::{CharIndex, CharSpan};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// One glossary entry: the right spelling and the wrong spellings heard by ASR.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, ts_rs::TS)]
pub struct Term {
    /// Set once stored.
    #[serde(default)]
    pub id: Option<i64>,
    /// The course it belongs to; "" = every course.
    #[serde(default)]
    pub course: String,
    /// The right spelling: what every variant is replaced by.
    pub term: String,
    /// Wrong spellings heard by ASR.
    #[serde(default)]
    pub variants: Vec<String>,
    #[serde(default)]
    pub note: Option<String>,
}

impl Term {
    /// A global term (every course) with its variants.
    pub fn new(term: &str, variants: &[&str]) -> Self {
        Self {
            id: None,
            course: String::new(),
            term: term.to_string(),
            variants: variants.iter().map(|v| v.to_string()).collect(),
            note: None,
        }
    }

    /// Trimmed and checked: an empty term or an empty variant is refused; duplicate variants and a
    /// variant equal to the term itself are dropped.
    pub fn normalised(&self) -> Result<Term> {
        let term = self.term.trim();
        if term.is_empty() {
            return Err(Error::Invalid(format!(
                "a glossary term cannot be empty (variants: {}) — write the right spelling, then the wrong ones",
                self.variants.join(", ")
            )));
        }
        let mut variants: Vec<String> = Vec::new();
        for (i, v) in self.variants.iter().enumerate() {
            let v = v.trim();
            if v.is_empty() {
                return Err(Error::Invalid(format!(
                    "glossary term 「{term}」: variant {} is empty — every variant is a wrong spelling to replace",
                    i + 1
                )));
            }
            if v != term && !variants.iter().any(|x| x == v) {
                variants.push(v.to_string());
            }
        }
        Ok(Term {
            id: self.id,
            course: self.course.trim().to_string(),
            term: term.to_string(),
            variants,
            note: self.note.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned),
        })
    }
}

/// Merge entries with the same (course, term), keeping first-seen order.
pub(crate) fn merge_terms(terms: Vec<Term>) -> Vec<Term> {
    let mut out: Vec<Term> = Vec::new();
    for t in terms {
        match out.iter_mut().find(|o| o.course == t.course && o.term == t.term) {
            Some(o) => {
                for v in t.variants {
                    if !o.variants.contains(&v) {
                        o.variants.push(v);
                    }
                }
                if t.note.is_some() {
                    o.note = t.note;
                }
            }
            None => out.push(t),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Glossary files

/// Read a glossary file: JSON (`[{"term": "o1", "variants": ["大湾"]}, …]`, as [`Term`]) or the
/// text format, one term per line:
///
/// ```text
/// # comments start with '#'
/// スケール則 = スケール足, スケール3
/// o1 = 大湾          (a tab instead of `=` works too)
/// 推論時 = 水温時 # a comment after whitespace
/// Chinchilla          (a term alone: no variants yet, used by suggestions)
/// ```
///
/// Variants are separated by `,` `、` or `，`. Terms come back global (course ""); the same term
/// on two lines is merged.
pub fn load_glossary_file(path: impl AsRef<Path>) -> Result<Vec<Term>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound { path: path.to_owned() },
        _ => Error::Io { path: path.to_owned(), message: e.to_string() },
    })?;
    let text = String::from_utf8(bytes).map_err(|e| Error::Undecodable {
        path: path.to_owned(),
        encoding: "UTF-8".into(),
        offset: e.utf8_error().valid_up_to(),
    })?;
    parse_glossary(&text, path)
}

/// Parse glossary text (see [`load_glossary_file`]); `origin` names it in errors.
pub fn parse_glossary(text: &str, origin: &Path) -> Result<Vec<Term>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let malformed = |line: usize, message: String| Error::Malformed { path: PathBuf::from(origin), line, message };
    let list = text.trim_start().starts_with('[');
    // JSON that is not the list of terms (`{"terms": …}`) would otherwise load as one odd term.
    let json_named = origin.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if text.trim_start().starts_with('{') || (json_named && !list) {
        return Err(malformed(1, "a JSON glossary is a list of terms: [{\"term\": \"スケール則\", \"variants\": [\"スケール足\"]}, …]".into()));
    }
    if list {
        let terms: Vec<Term> = serde_json::from_str(text).map_err(|e| {
            malformed(e.line(), format!("not a JSON glossary ([{{\"term\": …, \"variants\": […]}}]): {e}"))
        })?;
        let mut out = Vec::with_capacity(terms.len());
        for (i, t) in terms.iter().enumerate() {
            out.push(
                t.normalised().map_err(|e| {
                    Error::Invalid(format!("{}: entry {} of the JSON list: {e}", origin.display(), i + 1))
                })?,
            );
        }
        return Ok(merge_terms(out));
    }
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let mut line = line.trim();
        if let Some(c) = line.find(" #").or_else(|| line.find("\t#")) {
            line = line[..c].trim_end();
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (term, variants) = match line.find(['=', '\t']) {
            None => (line, None),
            Some(at) => (line[..at].trim(), Some(line[at + 1..].trim_start_matches(['=', '>', '\t', ' ']).trim())),
        };
        if term.is_empty() {
            return Err(malformed(
                n,
                format!("no term before the separator in `{line}` — write `term = variant1, variant2`"),
            ));
        }
        let variants: Vec<String> = match variants {
            None => Vec::new(),
            Some("") => {
                return Err(malformed(
                    n,
                    format!(
                        "nothing after the separator for 「{term}」 — list its ASR spellings, or write the term alone"
                    ),
                ));
            }
            Some(list) => {
                let vs: Vec<&str> = list.split([',', '、', '，']).map(str::trim).collect();
                if let Some(k) = vs.iter().position(|v| v.is_empty()) {
                    return Err(malformed(
                        n,
                        format!("variant {} of 「{term}」 is empty (two commas in a row, or one at the end?)", k + 1),
                    ));
                }
                vs.into_iter().map(str::to_owned).collect()
            }
        };
        let t = Term { id: None, course: String::new(), term: term.to_string(), variants, note: None };
        out.push(t.normalised().map_err(|e| malformed(n, e.to_string()))?);
    }
    Ok(merge_terms(out))
}

// ---------------------------------------------------------------------------------------------
// Scripts and whole terms

/// The class a character has for deciding where a Japanese "word" may end: its [`Script`], with
/// digits and letters of other alphabets joining Latin words (「o1」, 「GPT4」 are one word).
/// Punctuation and space are no class: always a boundary.
fn word_class(c: char) -> Option<Script> {
    match script(c) {
        Script::Latin | Script::Digit | Script::OtherLetter => Some(Script::Latin),
        Script::Punctuation | Script::Space => None,
        s @ (Script::Kanji | Script::Hiragana | Script::Katakana) => Some(s),
    }
}

/// Whether `chars[span]` is a whole term: the character before it is not of the class of its
/// first character, and the one after it not of the class of its last (see `word_class`; for
/// Latin, that is a word boundary). Punctuation or space at an edge is always a boundary.
pub fn is_whole_term(chars: &[char], span: CharSpan) -> bool {
    if span.is_empty() || span.end > chars.len() {
        return false;
    }
    let edge_ok = |neighbour: Option<&char>, edge: char| {
        let s = word_class(edge);
        s.is_none() || neighbour.is_none_or(|n| word_class(*n) != s)
    };
    let before = span.start.checked_sub(1).and_then(|i| chars.get(i));
    edge_ok(before, chars[span.start]) && edge_ok(chars.get(span.end), chars[span.end - 1])
}

// ---------------------------------------------------------------------------------------------
// Preview and apply

/// One place a variant occurs, and what it would become.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, ts_rs::TS)]
pub struct Occurrence {
    /// Code points of the text.
    pub span: CharSpan,
    /// The variant found there.
    pub found: String,
    pub replacement: String,
    pub term: String,
    pub before: String,
    pub after: String,
    /// False when it sits inside a longer word (see [`is_whole_term`]).
    pub whole_term: bool,
    /// Whether [`apply`] replaces it: by default the whole-term ones; a UI lets a person toggle it.
    pub applied: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ReplaceOptions {
    /// Mark only whole-term occurrences as applied (default true).
    pub whole_terms_only: bool,
    /// Characters of context on each side (default 20).
    pub context_chars: usize,
}

impl Default for ReplaceOptions {
    fn default() -> Self {
        Self { whole_terms_only: true, context_chars: 20 }
    }
}

/// Every occurrence of every variant, with context, marked whether it is a whole term; the text is
/// not changed. Longer variants win over shorter ones they overlap (then earlier ones over later
/// ones); matches never overlap. A variant inside an occurrence of a glossary term itself is left
/// alone (variant 「スケール」 does not turn 「スケール則」 into 「スケール則則」). Matching is exact;
/// empty variants and variants equal to their term are ignored.
pub fn preview(text: &str, terms: &[Term], opts: &ReplaceOptions) -> Vec<Occurrence> {
    let ix = CharIndex::new(text);
    let chars: Vec<char> = text.chars().collect();
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for t in terms {
        let term = t.term.trim();
        if term.is_empty() {
            continue;
        }
        for v in &t.variants {
            let v = v.trim();
            if !v.is_empty() && v != term && !pairs.iter().any(|(pv, _)| *pv == v) {
                pairs.push((v, term));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.chars().count().cmp(&a.0.chars().count()).then(a.0.cmp(b.0)));
    let mut term_spans: HashMap<&str, Vec<CharSpan>> = HashMap::new();
    let mut taken = vec![false; chars.len()];
    let mut out = Vec::new();
    for (variant, term) in pairs {
        // Occurrences of glossary terms that contain this variant: matches inside them are right.
        let mut protect: Vec<CharSpan> = Vec::new();
        for t in terms.iter().map(|t| t.term.trim()).filter(|t| t.contains(variant)) {
            let spans = term_spans.entry(t).or_insert_with(|| find_all(text, &ix, t));
            protect.extend(spans.iter().copied());
        }
        for span in find_all(text, &ix, variant) {
            if taken[span.start..span.end].iter().any(|&x| x)
                || protect.iter().any(|p| p.start <= span.start && span.end <= p.end)
            {
                continue;
            }
            taken[span.start..span.end].iter_mut().for_each(|x| *x = true);
            let whole = is_whole_term(&chars, span);
            out.push(Occurrence {
                span,
                found: variant.to_string(),
                replacement: term.to_string(),
                term: term.to_string(),
                before: chars[span.start.saturating_sub(opts.context_chars)..span.start].iter().collect(),
                after: chars[span.end..(span.end + opts.context_chars).min(chars.len())].iter().collect(),
                whole_term: whole,
                applied: whole || !opts.whole_terms_only,
            });
        }
    }
    out.sort_by_key(|o| (o.span.start, o.span.end));
    out
}

/// Every (possibly overlapping) occurrence of `needle`, as code-point spans.
fn find_all(text: &str, ix: &CharIndex<'_>, needle: &str) -> Vec<CharSpan> {
    let n = needle.chars().count();
    let mut out = Vec::new();
    if n == 0 {
        return out;
    }
    let mut from = 0;
    while let Some(b) = text[from..].find(needle) {
        let at = from + b;
        let s = ix.char_of_byte(at);
        out.push(CharSpan::new(s, s + n));
        from = at + text[at..].chars().next().map_or(1, char::len_utf8);
    }
    out
}

/// Apply the occurrences marked `applied` to `text`. One that no longer matches the text (its
/// `found` is not at its span) or overlaps an earlier applied one is skipped, so a stale preview
/// can never garble the text.
pub fn apply(text: &str, occurrences: &[Occurrence]) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut todo: Vec<&Occurrence> = occurrences.iter().filter(|o| o.applied).collect();
    todo.sort_by_key(|o| (o.span.start, o.span.end));
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for o in todo {
        if o.span.start < pos
            || o.span.end > chars.len()
            || o.span.start > o.span.end
            || !chars[o.span.start..o.span.end].iter().copied().eq(o.found.chars())
        {
            continue;
        }
        out.extend(&chars[pos..o.span.start]);
        out.push_str(&o.replacement);
        pos = o.span.end;
    }
    out.extend(&chars[pos..]);
    out
}

fn summary(occurrences: &[Occurrence]) -> String {
    let mut counts: Vec<(String, String, usize)> = Vec::new();
    for o in occurrences.iter().filter(|o| o.applied) {
        match counts.iter_mut().find(|(f, r, _)| *f == o.found && *r == o.replacement) {
            Some(c) => c.2 += 1,
            None => counts.push((o.found.clone(), o.replacement.clone(), 1)),
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.2));
    let mut s: Vec<String> = counts.iter().take(5).map(|(f, r, n)| format!("{f}→{r} ×{n}")).collect();
    if counts.len() > 5 {
        s.push(format!("… {} more", counts.len() - 5));
    }
    s.join(", ")
}

/// The text and the revision message of `base` with the occurrences marked `applied` replaced (see
/// [`apply`]). Refused when that changes nothing, so an empty glossary revision is never saved.
pub(crate) fn applied_text(base: &Revision, occurrences: &[Occurrence]) -> Result<(String, String)> {
    let text = apply(&base.text, occurrences);
    if text == base.text {
        let found = occurrences.len();
        let whole = occurrences.iter().filter(|o| o.whole_term).count();
        return Err(Error::Invalid(format!(
            "the glossary changes nothing in revision {} ({found} occurrences found, {whole} of them whole terms, none to apply) — nothing was saved",
            base.number
        )));
    }
    Ok((text, format!("glossary: {}", summary(occurrences))))
}

// ---------------------------------------------------------------------------------------------
// Suggestions

/// Where the `term` of a [`TermSuggestion`] comes from: the glossary, or the transcript itself.
/// (Not the suspicious scan's `SuggestionSource`, which says who proposed a span's replacement.)
/// In JSON: `"glossary"`, `"frequency"`, `"reading"`, `"homophone"` or `"loanword"`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum TermSource {
    /// A term of the glossary given; the variant is close to it.
    Glossary,
    /// A run the transcript has many times; the variant is a rare spelling close to it.
    Frequency,
    /// A term of the glossary; the variant sounds like it (`correction::readings`).
    Reading,
    /// A noun compound the transcript has many times; the variant sounds like it.
    Homophone,
    /// A Latin glossary term; the variant is the same word in katakana (「コサイン」 for "Cosine"):
    /// a choice of spelling, not a mishearing, so never accepted without a person.
    Loanword,
}

/// A run that looks like a mis-heard `term`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, ts_rs::TS)]
pub struct TermSuggestion {
    /// The spelling found in the text.
    pub variant: String,
    /// What it probably should be.
    pub term: String,
    /// How many times the variant was found (as a suggestion).
    pub count: usize,
    /// How many times the term itself occurs in the text.
    pub term_count: usize,
    /// Levenshtein distance / the longer length (0 < distance ≤ 0.34).
    pub distance: f64,
    pub source: TermSource,
    /// The first occurrence, with context.
    pub span: CharSpan,
    pub before: String,
    pub after: String,
}

/// Normalised edit distance at most this is "close".
pub const MAX_DISTANCE: f64 = 0.34;
/// Frequency suggestions: the near-spelling occurs at least this often…
const FREQUENT: usize = 5;
/// …at least this often as a whole term (so fragments like 「スケー」 are not taken for words)…
const FREQUENT_WHOLE: usize = 3;
/// …and at least this many times as often as the variant.
const RATIO: usize = 4;
/// Frequency suggestions consider runs of 3 to this many characters.
const MAX_FORM: usize = 12;
/// At most this many frequency suggestions (the closest, most lopsided first).
const MAX_FREQUENCY_SUGGESTIONS: usize = 50;
const CONTEXT: usize = 20;

fn in_run(c: char) -> bool {
    matches!(word_class(c), Some(Script::Kanji | Script::Katakana | Script::Latin))
}

fn contains(hay: &[char], needle: &[char]) -> bool {
    needle.len() <= hay.len() && hay.windows(needle.len()).any(|w| w == needle)
}

struct Candidate {
    span: CharSpan,
    term: usize,
    distance: f64,
    source: TermSource,
}

/// Spans that look like mis-heard technical terms, ranked by closeness:
///
/// * **glossary**: runs of kanji, katakana and Latin letters/digits (mixed or not) of ≥ 2
///   characters, or a part of such a run, the length of a term ±1, whose normalised edit distance
///   to the term is at most [`MAX_DISTANCE`] (0.34) but not 0 — 「スケール足」 for 「スケール則」.
///   Runs that contain the term or lie inside it (「スケール」) are not suggested, nor variants the
///   glossary already lists.
/// * **frequency**, with or without a glossary: a whole-term run (3–12 characters, see
///   [`is_whole_term`]) one edit (substitution, insertion or deletion) away from a run the
///   transcript has at least 5 times (3 of them as a whole term) and at least 4 times as often —
///   「スケール足」 ×3 beside 「スケール則」 ×42. Only runs that are not part of a longer run with the
///   same count are taken as the frequent spellings. At most 50.
///
/// Neither cuts through a Latin word (「hinChilla」 is not a spelling of 「ChinChilla」).
///
/// One text position yields at most one suggestion (the closest); glossary suggestions come first.
pub fn suggest_terms(text: &str, terms: &[Term]) -> Vec<TermSuggestion> {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    // Run id per character (runs are maximal sequences of in-run scripts).
    let mut run = vec![usize::MAX; n];
    let mut id = 0;
    for i in 0..n {
        if in_run(chars[i]) {
            if i > 0 && run[i - 1] == usize::MAX {
                id += 1;
            }
            run[i] = id;
        }
    }
    let window_ok =
        |s: usize, len: usize| len > 0 && s + len <= n && run[s] != usize::MAX && run[s] == run[s + len - 1];
    // A window never cuts a Latin word (letters and digits): 「hinChilla」 is no spelling of anything.
    let latin = |i: usize| word_class(chars[i]) == Some(Script::Latin);
    let cuts_latin = |s: usize, len: usize| {
        (s > 0 && latin(s) && latin(s - 1)) || (s + len < n && latin(s + len - 1) && latin(s + len))
    };

    let mut targets: Vec<Vec<char>> = Vec::new();
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut known: HashSet<Vec<char>> = HashSet::new();
    for t in terms {
        known.insert(t.term.trim().chars().collect());
        for v in &t.variants {
            known.insert(v.trim().chars().collect());
        }
    }

    // Glossary: slide windows of the term's length ±1 over the runs.
    for t in terms {
        let tc: Vec<char> = t.term.trim().chars().collect();
        if tc.len() < 2 {
            continue;
        }
        let ti = targets.len();
        targets.push(tc.clone());
        let tset: HashSet<char> = tc.iter().copied().collect();
        for len in (tc.len() - 1).max(2)..=tc.len() + 1 {
            let max_edits = (MAX_DISTANCE * len.max(tc.len()) as f64).floor() as usize;
            if max_edits == 0 {
                continue;
            }
            for s in 0..n.saturating_sub(len - 1) {
                if !window_ok(s, len) || cuts_latin(s, len) {
                    continue;
                }
                let w = &chars[s..s + len];
                // At least len - max_edits of the window's characters must occur in the term.
                if w.iter().filter(|c| tset.contains(c)).count() + max_edits < len {
                    continue;
                }
                if known.contains(w) || contains(w, &tc) || contains(&tc, w) {
                    continue;
                }
                let d = levenshtein(w, &tc) as f64 / len.max(tc.len()) as f64;
                if d > 0.0 && d <= MAX_DISTANCE {
                    candidates.push(Candidate {
                        span: CharSpan::new(s, s + len),
                        term: ti,
                        distance: d,
                        source: TermSource::Glossary,
                    });
                }
            }
        }
    }

    // Frequency: count every run window of 2..=MAX_FORM+1 characters.
    let mut counts: HashMap<&[char], usize> = HashMap::new();
    let mut whole_counts: HashMap<&[char], usize> = HashMap::new();
    for s in 0..n {
        for len in 2..=MAX_FORM + 1 {
            if !window_ok(s, len) {
                break;
            }
            if cuts_latin(s, len) {
                continue;
            }
            *counts.entry(&chars[s..s + len]).or_default() += 1;
            if is_whole_term(&chars, CharSpan::new(s, s + len)) {
                *whole_counts.entry(&chars[s..s + len]).or_default() += 1;
            }
        }
    }
    // Closed frequent forms: no one-character extension occurs as often.
    let mut not_closed: HashSet<&[char]> = HashSet::new();
    for (w, &c) in &counts {
        if w.len() >= 4 && c >= FREQUENT {
            for part in [&w[..w.len() - 1], &w[1..]] {
                if counts.get(part) == Some(&c) {
                    not_closed.insert(part);
                }
            }
        }
    }
    let first_freq = targets.len();
    let mut index: HashMap<Vec<char>, Vec<usize>> = HashMap::new();
    let mut forms: Vec<&[char]> = counts
        .iter()
        .filter(|(w, c)| {
            w.len() >= 3
                && w.len() <= MAX_FORM
                && **c >= FREQUENT
                && whole_counts.get(*w).copied().unwrap_or(0) >= FREQUENT_WHOLE
                && !not_closed.contains(*w)
        })
        .map(|(w, _)| *w)
        .collect();
    forms.sort();
    for f in forms {
        let ti = targets.len();
        targets.push(f.to_vec());
        index.entry(f.to_vec()).or_default().push(ti);
        for k in 0..f.len() {
            let mut key = f.to_vec();
            key.remove(k);
            index.entry(key).or_default().push(ti);
        }
    }
    let mut key: Vec<char> = Vec::with_capacity(MAX_FORM + 1);
    let mut seen: HashSet<usize> = HashSet::new();
    for s in 0..n {
        for len in 3..=MAX_FORM + 1 {
            if !window_ok(s, len) {
                break;
            }
            // A rare spelling is taken only as a whole term (no cut through a word of its script).
            if cuts_latin(s, len) || !is_whole_term(&chars, CharSpan::new(s, s + len)) {
                continue;
            }
            let w = &chars[s..s + len];
            let wc = counts.get(w).copied().unwrap_or(1);
            if known.contains(w) {
                continue;
            }
            seen.clear();
            for k in 0..=len {
                key.clear();
                key.extend(w.iter().enumerate().filter(|(i, _)| *i != k).map(|(_, c)| *c));
                let Some(ts) = index.get(key.as_slice()) else { continue };
                for &ti in ts {
                    if !seen.insert(ti) {
                        continue;
                    }
                    let t = &targets[ti];
                    if t.len().abs_diff(len) > 1 || contains(w, t) || contains(t, w) {
                        continue;
                    }
                    let tcount = counts.get(t.as_slice()).copied().unwrap_or(0);
                    if tcount < FREQUENT || tcount < RATIO * wc {
                        continue;
                    }
                    let edits = levenshtein(w, t);
                    let d = edits as f64 / len.max(t.len()) as f64;
                    if edits == 1 && d <= MAX_DISTANCE {
                        candidates.push(Candidate {
                            span: CharSpan::new(s, s + len),
                            term: ti,
                            distance: d,
                            source: TermSource::Frequency,
                        });
                    }
                }
            }
        }
    }

    // One suggestion per text position: glossary first, then the closest, longest, earliest.
    candidates.sort_by(|a, b| {
        (a.source as u8)
            .cmp(&(b.source as u8))
            .then(a.distance.total_cmp(&b.distance))
            .then(b.span.len().cmp(&a.span.len()))
            .then(a.span.start.cmp(&b.span.start))
    });
    let mut taken = vec![false; n];
    let mut groups: HashMap<(String, usize), TermSuggestion> = HashMap::new();
    let mut order: Vec<(String, usize)> = Vec::new();
    for c in candidates {
        if taken[c.span.start..c.span.end].iter().any(|&x| x) {
            continue;
        }
        taken[c.span.start..c.span.end].iter_mut().for_each(|x| *x = true);
        let variant: String = chars[c.span.start..c.span.end].iter().collect();
        let key = (variant.clone(), c.term);
        match groups.get_mut(&key) {
            Some(g) => {
                g.count += 1;
                if c.span.start < g.span.start {
                    g.span = c.span;
                    g.before = chars[c.span.start.saturating_sub(CONTEXT)..c.span.start].iter().collect();
                    g.after = chars[c.span.end..(c.span.end + CONTEXT).min(n)].iter().collect();
                }
            }
            None => {
                let t = &targets[c.term];
                let term: String = t.iter().collect();
                let term_count = if c.term >= first_freq {
                    counts.get(t.as_slice()).copied().unwrap_or(0)
                } else {
                    text.matches(term.as_str()).count()
                };
                order.push(key.clone());
                groups.insert(
                    key,
                    TermSuggestion {
                        variant,
                        term,
                        count: 1,
                        term_count,
                        distance: c.distance,
                        source: c.source,
                        span: c.span,
                        before: chars[c.span.start.saturating_sub(CONTEXT)..c.span.start].iter().collect(),
                        after: chars[c.span.end..(c.span.end + CONTEXT).min(n)].iter().collect(),
                    },
                );
            }
        }
    }
    let mut out: Vec<TermSuggestion> = order.into_iter().filter_map(|k| groups.remove(&k)).collect();
    // A frequency suggestion for a spelling the glossary already corrects adds nothing.
    let glossary_variants: HashSet<String> =
        out.iter().filter(|s| s.source == TermSource::Glossary).map(|s| s.variant.clone()).collect();
    out.retain(|s| s.source == TermSource::Glossary || !glossary_variants.contains(&s.variant));
    let ratio = |s: &TermSuggestion| s.term_count as f64 / s.count.max(1) as f64;
    out.sort_by(|a, b| {
        (a.source as u8)
            .cmp(&(b.source as u8))
            .then(a.distance.total_cmp(&b.distance))
            .then_with(|| match a.source {
                TermSource::Frequency => ratio(b).total_cmp(&ratio(a)),
                _ => b.count.cmp(&a.count),
            })
            .then(a.span.start.cmp(&b.span.start))
    });
    let mut freq = 0;
    out.retain(|s| {
        if s.source == TermSource::Frequency {
            freq += 1;
            freq <= MAX_FREQUENCY_SUGGESTIONS
        } else {
            true
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correction::align::cer;
    use crate::correction::diff::tests::real_texts;
    use crate::store::Db;

    fn opts() -> ReplaceOptions {
        ReplaceOptions::default()
    }

    #[test]
    fn preview_never_changes_the_text_and_apply_replaces_whole_terms() {
        let text = "今日はスケール足の話。最近大湾と呼ばれる。o1は大湾です。";
        let before = text.to_string();
        let terms = [Term::new("スケール則", &["スケール足"]), Term::new("o1", &["大湾"])];
        let occ = preview(text, &terms, &opts());
        assert_eq!(text, before);
        let found: Vec<(&str, bool)> = occ.iter().map(|o| (o.found.as_str(), o.whole_term)).collect();
        // 「最近大湾」: kanji on both sides of the join, so not a whole term.
        assert_eq!(found, [("スケール足", true), ("大湾", false), ("大湾", true)]);
        assert_eq!(occ[0].before, "今日は");
        assert_eq!(occ[0].after, "の話。最近大湾と呼ばれる。o1は大湾です");
        assert_eq!(apply(text, &occ), "今日はスケール則の話。最近大湾と呼ばれる。o1はo1です。");
        let all = preview(text, &terms, &ReplaceOptions { whole_terms_only: false, context_chars: 3 });
        assert_eq!(all[0].before, "今日は");
        assert_eq!(all[1].after, "と呼ば");
        assert_eq!(apply(text, &all), "今日はスケール則の話。最近o1と呼ばれる。o1はo1です。");
    }

    #[test]
    fn a_variant_inside_a_longer_word_is_not_whole_and_not_applied_by_default() {
        let text = "モデルスケール足の話。スケール足湾岸。ABCo1x と o1。";
        let terms = [Term::new("スケール則", &["スケール足"]), Term::new("OpenAI o1", &["o1"])];
        let occ = preview(text, &terms, &opts());
        let whole: Vec<(usize, bool, bool)> = occ.iter().map(|o| (o.span.start, o.whole_term, o.applied)).collect();
        // モデル|スケール足 (katakana before katakana), スケール足|湾 (kanji after kanji), ABC|o1|x: not whole.
        assert_eq!(whole, [(3, false, false), (11, false, false), (22, false, false), (28, true, true)]);
        assert_eq!(apply(text, &occ), "モデルスケール足の話。スケール足湾岸。ABCo1x と OpenAI o1。");
    }

    #[test]
    fn whole_terms_end_at_punctuation_and_script_changes() {
        let chars: Vec<char> = "ニューラル・ネットとGPT4oの𠮷野".chars().collect();
        let at = |s: usize, e: usize| is_whole_term(&chars, CharSpan::new(s, e));
        assert!(at(6, 9), "「・」 before ネット is a boundary");
        assert!(!at(10, 14), "GPT4 goes on with o");
        assert!(at(10, 15), "GPT4o");
        assert!(!at(17, 18), "野 after the kanji 𠮷");
    }

    #[test]
    fn overlapping_variants_are_resolved_longest_first() {
        let text = "言語モデルスケール足について。スケールの話。スケール則も。";
        let terms = [
            Term::new("スケール則", &["スケール足", "スケール"]),
            Term::new("言語モデルのスケール則", &["言語モデルスケール足"]),
        ];
        let occ = preview(text, &terms, &opts());
        let found: Vec<&str> = occ.iter().map(|o| o.found.as_str()).collect();
        // The longest variant takes 言語モデルスケール足; スケール inside スケール則 is left alone.
        assert_eq!(found, ["言語モデルスケール足", "スケール"]);
        assert!(occ.windows(2).all(|w| w[0].span.end <= w[1].span.start));
        assert_eq!(apply(text, &occ), "言語モデルのスケール則について。スケール則の話。スケール則も。");
    }

    #[test]
    fn apply_skips_stale_and_overlapping_occurrences() {
        let text = "スケール足の話";
        let mut occ = preview(text, &[Term::new("スケール則", &["スケール足"])], &opts());
        assert_eq!(apply("まったく別の文章です", &occ), "まったく別の文章です");
        occ.push(Occurrence {
            span: CharSpan::new(2, 6),
            found: "ール足の".into(),
            replacement: "X".into(),
            ..occ[0].clone()
        });
        assert_eq!(apply(text, &occ), "スケール則の話");
    }

    #[test]
    fn bad_terms_are_refused_with_clear_messages() {
        let err = Term::new("  ", &["大湾"]).normalised().unwrap_err();
        assert!(matches!(err, Error::Invalid(_)) && err.to_string().contains("cannot be empty"), "{err}");
        let err = Term::new("o1", &["大湾", " "]).normalised().unwrap_err();
        assert!(matches!(err, Error::Invalid(_)) && err.to_string().contains("variant 2 is empty"), "{err}");
        let t = Term::new(" o1 ", &["o1", "大湾", "大湾"]).normalised().unwrap();
        assert_eq!((t.term.as_str(), t.variants.clone()), ("o1", vec!["大湾".to_string()]));
        let mut db = Db::open_in_memory().unwrap();
        assert!(matches!(db.add_term(&Term::new("", &["x"])), Err(Error::Invalid(_))));
    }

    #[test]
    fn glossary_files_parse_and_errors_name_the_line() {
        let p = Path::new("terms.txt");
        let ok = "# LLM 2024\n\nスケール則 = スケール足, スケール3\no1\t大湾\n推論時 => 水温時、推論字 # heard twice\nChinchilla\no1 = オーワン\n";
        let terms = parse_glossary(ok, p).unwrap();
        let got: Vec<(&str, Vec<&str>)> =
            terms.iter().map(|t| (t.term.as_str(), t.variants.iter().map(String::as_str).collect())).collect();
        assert_eq!(
            got,
            [
                ("スケール則", vec!["スケール足", "スケール3"]),
                ("o1", vec!["大湾", "オーワン"]),
                ("推論時", vec!["水温時", "推論字"]),
                ("Chinchilla", vec![]),
            ]
        );
        for (bad, line, what) in [
            ("o1 = 大湾\n= スケール足\n", 2, "no term"),
            ("# c\n\nスケール則 = スケール足,,スケール3\n", 3, "variant 2"),
            ("o1 = 大湾\nスケール則 =\n", 2, "nothing after"),
        ] {
            match parse_glossary(bad, p) {
                Err(Error::Malformed { line: l, message, .. }) => {
                    assert_eq!(l, line, "{message}");
                    assert!(message.contains(what), "{message}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        let json = r#"[{"term": "o1", "variants": ["大湾"]}, {"term": "スケール則", "variants": ["スケール足"], "course": "LLM"}]"#;
        let terms = parse_glossary(json, p).unwrap();
        assert_eq!((terms[1].course.as_str(), terms[0].variants.len()), ("LLM", 1));
        let err = parse_glossary("[{\"term\": \"o1\",\n \"variants\": [\"大湾\"]", p).unwrap_err();
        assert!(matches!(err, Error::Malformed { line: 2, .. }), "{err}");
        let err = parse_glossary(r#"[{"term": "o1", "variants": [""]}]"#, p).unwrap_err();
        assert!(err.to_string().contains("entry 1"), "{err}");
        for (text, name) in [(r#"{"terms": 5}"#, "terms.txt"), ("o1 = 大湾", "terms.json")] {
            let err = parse_glossary(text, Path::new(name)).unwrap_err();
            assert!(matches!(err, Error::Malformed { line: 1, .. }) && err.to_string().contains("list of terms"), "{name}: {err}");
        }
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("g.txt");
        std::fs::write(&f, "\u{feff}o1 = 大湾\n").unwrap();
        assert_eq!(load_glossary_file(&f).unwrap()[0].variants, ["大湾"]);
        assert!(matches!(load_glossary_file(dir.path().join("none.txt")), Err(Error::NotFound { .. })));
    }

    #[test]
    fn the_test_glossary_reduces_cer_on_the_real_raw_text() {
        let Some((raw, corrected)) = real_texts() else {
            eprintln!("shared/data not present: skipped");
            return;
        };
        let terms = [Term::new("o1", &["大湾"]), Term::new("スケール則", &["スケール足"])];
        let base = cer(&raw, &corrected);
        let occ = preview(&raw, &terms, &opts());
        assert_eq!(occ.iter().filter(|o| o.found == "スケール足").count(), 3);
        let fixed = apply(&raw, &occ);
        let after = cer(&fixed, &corrected);
        let all = apply(&raw, &preview(&raw, &terms, &ReplaceOptions { whole_terms_only: false, context_chars: 20 }));
        let after_all = cer(&all, &corrected);
        eprintln!(
            "CER raw {:.4} ({} errors) → glossary {:.4} ({} errors) → incl. not-whole {:.4} ({} errors)",
            base.cer,
            base.errors(),
            after.cer,
            after.errors(),
            after_all.cer,
            after_all.errors()
        );
        assert!(after.cer < base.cer, "{base:?} → {after:?}");
        assert!(after_all.errors() < after.errors(), "{after:?} → {after_all:?}");
    }

    #[test]
    fn suggest_terms_proposes_a_near_spelling_of_a_glossary_term() {
        let text = "今日はスケール足の話。スケール則は大事。言語モデルスケール3について。スケールする。";
        let s = suggest_terms(text, &[Term::new("スケール則", &[])]);
        let pairs: Vec<(&str, &str)> = s.iter().map(|s| (s.variant.as_str(), s.term.as_str())).collect();
        assert!(pairs.contains(&("スケール足", "スケール則")), "{s:#?}");
        assert!(pairs.contains(&("スケール3", "スケール則")), "{s:#?}");
        // 「スケール」 alone is a word of its own, not a mis-hearing.
        assert!(!pairs.iter().any(|(v, _)| *v == "スケール"), "{s:#?}");
        // A variant the glossary already lists is not suggested again.
        let s = suggest_terms(text, &[Term::new("スケール則", &["スケール足"])]);
        assert!(!s.iter().any(|s| s.variant == "スケール足"), "{s:#?}");
        // The JSON a front end reads.
        assert_eq!(serde_json::to_value(TermSource::Glossary).unwrap(), "glossary");
        assert_eq!(serde_json::to_value(TermSource::Frequency).unwrap(), "frequency");
    }

    #[test]
    fn suggest_terms_on_the_real_raw_text_finds_the_scaling_law_misspelling() {
        let Some((raw, _)) = real_texts() else {
            eprintln!("shared/data not present: skipped");
            return;
        };
        let t = std::time::Instant::now();
        let with = suggest_terms(&raw, &[Term::new("スケール則", &[])]);
        let took = t.elapsed();
        let hit = with
            .iter()
            .find(|s| s.variant == "スケール足" && s.term == "スケール則")
            .expect("スケール足 with a glossary");
        assert_eq!((hit.count, hit.source), (3, TermSource::Glossary));
        assert!(hit.term_count >= 40, "{hit:?}");
        let without = suggest_terms(&raw, &[]);
        for s in without.iter().take(30) {
            eprintln!(
                "{:.2} {} → {} ({}× vs {}×) …{}[{}]{}…",
                s.distance, s.variant, s.term, s.count, s.term_count, s.before, s.variant, s.after
            );
        }
        let hit = without.iter().find(|s| s.variant == "スケール足").expect("スケール足 without a glossary");
        assert_eq!((hit.term.as_str(), hit.count, hit.source), ("スケール則", 3, TermSource::Frequency));
        assert!(without.len() <= MAX_FREQUENCY_SUGGESTIONS);
        eprintln!("suggest_terms: {took:?}, {} suggestions without a glossary", without.len());
    }
}
