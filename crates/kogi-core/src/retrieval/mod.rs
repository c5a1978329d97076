//! Retrieval: dense exact top-k, BM25 through FTS5, and their reciprocal-rank fusion, over the
//! newest revision of each lecture. Both rankers score what a passage hands to the model: dense
//! similarity smoothed over a sentence window's sentences, BM25 over the window's text. Every passage
//! says where it lives (lecture, revision, range, time).

pub mod bm25;
mod dense;
pub mod words;

pub use dense::DenseIndex;
pub use words::Words;

use crate::chunk::Strategy;
use crate::inference::{Embed, Role};
use crate::lecture::{LectureId, RevisionId};
use crate::store::{ChunkRow, Db, KeywordIndex, SearchFilter, Which};
use crate::text::CharSpan;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Dense,
    Bm25,
    #[default]
    Hybrid,
}

impl std::str::FromStr for Mode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "dense" => Ok(Self::Dense),
            "bm25" => Ok(Self::Bm25),
            "hybrid" => Ok(Self::Hybrid),
            _ => Err(Error::Invalid(format!("unknown search mode {s:?} — use dense, bm25 or hybrid"))),
        }
    }
}

/// A piece of a lecture handed to the reader or the model.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
pub struct Passage {
    pub lecture: LectureId,
    pub title: String,
    pub course: Option<String>,
    pub revision: RevisionId,
    /// What is shown / handed to the model.
    pub span: CharSpan,
    /// The part that matched the question (inside `span`).
    pub matched: CharSpan,
    pub text: String,
    pub start_ms: Option<u64>,
    pub end_ms: Option<u64>,
    /// Fused score (higher is better).
    pub score: f64,
    pub dense: Option<f32>,
    pub bm25: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchParams {
    pub mode: Mode,
    pub k: usize,
    pub filter: SearchFilter,
    /// Candidates taken from each ranker before fusion.
    pub candidates: usize,
    /// Reciprocal-rank-fusion constant.
    pub rrf_k: f64,
    /// Weight of the dense ranking in the fusion (BM25 over trigrams gets 1 − this).
    pub dense_weight: f64,
    /// Weight of the word-and-reading ranking in the fusion (`words`), beside the two above.
    #[serde(default = "default_words_weight")]
    pub words_weight: f64,
    /// Weight of the passages that say 「Xとは」 where the question asks 「Xとは…」 ([`bm25::definition_query`]).
    #[serde(default = "default_definition_weight")]
    pub definition_weight: f64,
    /// Most trigram phrases in a full-text query (the rarest are kept).
    #[serde(default = "default_max_terms")]
    pub max_terms: usize,
    /// Largest passage a merge of overlapping windows may produce, in characters.
    #[serde(default = "default_max_passage_chars")]
    pub max_passage_chars: usize,
}

fn default_max_passage_chars() -> usize {
    SearchParams::default().max_passage_chars
}

fn default_words_weight() -> f64 {
    SearchParams::default().words_weight
}

fn default_definition_weight() -> f64 {
    SearchParams::default().definition_weight
}

fn default_max_terms() -> usize {
    SearchParams::default().max_terms
}

impl Default for SearchParams {
    fn default() -> Self {
        // A small fusion constant: with two rankers and five passages to fill, a passage either ranker
        // puts at the very top should beat one both rank middling.
        Self { mode: Mode::Hybrid, k: 5, filter: SearchFilter::default(), candidates: 50, rrf_k: 10.0, dense_weight: 0.5, words_weight: 0.25, definition_weight: 0.5, max_terms: 64, max_passage_chars: 600 }
    }
}

/// One ranker's results, best first.
type Ranked<S> = Vec<(ChunkRow, S)>;

/// Holds the dense index and revision texts in memory between queries (the app keeps one).
pub struct Retriever<'e> {
    embedder: &'e dyn Embed,
    /// How questions and chunks become words; `None` searches trigrams only.
    words: Option<Words>,
    /// The readings the word index holds (read once per retriever, dropped with the other caches).
    readings: Option<Vec<String>>,
    strategy: String,
    dense: HashMap<Which, DenseIndex>,
    texts: HashMap<RevisionId, Arc<RevisionText>>,
    meta: HashMap<LectureId, (String, Option<String>)>,
}

struct RevisionText {
    text: String,
    /// byte offset of each char (+ end)
    bytes: Vec<usize>,
    segments: Vec<crate::transcript::Segment>,
}

impl RevisionText {
    fn slice(&self, s: CharSpan) -> &str {
        let n = self.bytes.len() - 1;
        &self.text[self.bytes[s.start.min(n)]..self.bytes[s.end.min(n)]]
    }
}

/// Matches a keyword query may always rank, however large the library.
const POSTINGS_FLOOR: i64 = 5_000;

/// How many of a query's terms, rarest first (`dfs` ascending), to keep. FTS5's BM25 costs about
/// 1.5 µs per matching chunk and term: in a large library the rarest terms, until they match a quarter
/// of the chunks between them (at least one term, and never fewer than `POSTINGS_FLOOR` matches, under
/// 10 ms), carry nearly all of the IDF weight. A single lecture is never cut.
fn within_postings_budget(dfs: impl Iterator<Item = i64>, total: i64) -> usize {
    let budget = (total / 4).max(POSTINGS_FLOOR);
    let (mut postings, mut n) = (0, 0);
    for d in dfs {
        if n > 0 && postings + d > budget {
            break;
        }
        postings += d;
        n += 1;
    }
    n
}

/// `context` without what the better-ranked passages in `shown` already hold: the side of each
/// overlap that keeps `matched`. Left whole when `matched` itself is already shown.
fn beside_shown(shown: &[CharSpan], mut context: CharSpan, matched: CharSpan) -> CharSpan {
    for o in shown {
        if !o.overlaps(&context) || o.overlaps(&matched) {
            continue;
        }
        context = if matched.start >= o.end { CharSpan::new(o.end, context.end) } else { CharSpan::new(context.start, o.start.min(context.end)) };
    }
    context
}

/// Windows overlapping a better-ranked passage by less than half are listed, but each sentence only
/// once: the model reads nothing twice, and the reader sees why the passage is there.
fn without_repeats<S, D, L>(chosen: &mut [(ChunkRow, S, D, L)]) {
    for i in 1..chosen.len() {
        let (before, rest) = chosen.split_at_mut(i);
        let c = &mut rest[0].0;
        let shown: Vec<CharSpan> = before.iter().filter(|(o, ..)| o.revision == c.revision).map(|(o, ..)| o.chunk.context).collect();
        c.chunk.context = beside_shown(&shown, c.chunk.context, c.chunk.matched);
    }
}

impl<'e> Retriever<'e> {
    pub fn new(embedder: &'e dyn Embed, strategy: &Strategy) -> Self {
        Self { embedder, words: None, readings: None, strategy: strategy.name(), dense: HashMap::new(), texts: HashMap::new(), meta: HashMap::new() }
    }

    /// Search by words and readings too.
    pub fn with_words(mut self, words: Option<Words>) -> Self {
        self.words = words;
        self
    }

    /// Drop cached state (after indexing or editing).
    pub fn invalidate(&mut self) {
        self.readings = None;
        self.dense.clear();
        self.texts.clear();
        self.meta.clear();
    }

    fn dense_index(&mut self, db: &Db, which: Which) -> Result<&DenseIndex> {
        if !self.dense.contains_key(&which) {
            let ix = DenseIndex::load(db, &self.strategy, self.embedder.model_id(), which)?;
            self.dense.insert(which, ix);
        }
        Ok(&self.dense[&which])
    }

    pub fn search(&mut self, db: &Db, question: &str, p: &SearchParams) -> Result<Vec<Passage>> {
        let question = question.trim();
        if question.is_empty() {
            return Err(Error::Invalid("the question is empty — type what you want to find".into()));
        }
        let model = self.embedder.model_id().to_owned();
        let n = p.candidates.max(p.k);
        if p.mode != Mode::Bm25 {
            self.dense_index(db, p.filter.revision)?;
        }
        // The two rankers run side by side: the question's embedding and dense scan on a second
        // thread, full-text search here (the connection stays on its thread).
        if let (Some(w), false) = (&self.words, p.mode == Mode::Dense) {
            if words::bring_up_to_date(db, w)? > 0 || self.readings.is_none() {
                self.readings = if w.has_readings() { Some(db.indexed_readings()?) } else { Some(Vec::new()) };
            }
        }
        let this = &*self;
        let total = if p.mode == Mode::Dense { 0 } else { db.chunk_count()? };
        let (dense, lexical, worded, defining) = std::thread::scope(|scope| -> Result<(Ranked<f32>, Ranked<f64>, Ranked<f64>, Ranked<f64>)> {
            let dense = (p.mode != Mode::Bm25).then(|| {
                scope.spawn(|| -> Result<Vec<(ChunkRow, f32)>> {
                    let q = this.embedder.embed(&[question], Role::Query)?.pop().unwrap_or_default();
                    Ok(this.dense[&p.filter.revision].search(&q, n, &p.filter))
                })
            });
            let lexical = match (p.mode, this.lexical_query(db, question, total, p.max_terms)?) {
                (Mode::Dense, _) | (_, None) => Vec::new(),
                (_, Some(q)) => db.keyword_search(KeywordIndex::Trigrams, &q, &this.strategy, &model, &p.filter, n)?,
            };
            let worded = match (p.mode, &this.words) {
                (Mode::Dense, _) | (_, None) => Vec::new(),
                _ if p.words_weight <= 0.0 => Vec::new(),
                (_, Some(w)) => {
                    let q = w.question(question);
                    let near = if w.has_readings() && !q.readings.is_empty() {
                        q.near_readings(this.readings.iter().flatten().map(String::as_str))
                    } else {
                        Vec::new()
                    };
                    let df = db.word_document_frequencies(&q.tokens(&near))?;
                    let (q, near) = q.discriminating(&near, &df, total, p.max_terms);
                    match q.fts(&near) {
                        Some(fts) => db.keyword_search(KeywordIndex::Words, &fts, &this.strategy, &model, &p.filter, n)?,
                        None => Vec::new(),
                    }
                }
            };
            let defining = match bm25::definition_query(question) {
                Some(q) if p.mode != Mode::Dense && p.definition_weight > 0.0 => db.keyword_search(KeywordIndex::Trigrams, &q, &this.strategy, &model, &p.filter, n)?,
                _ => Vec::new(),
            };
            let dense = match dense {
                Some(h) => h.join().map_err(|_| Error::Runtime("dense search panicked".into()))??,
                None => Vec::new(),
            };
            Ok((dense, lexical, worded, defining))
        })?;
        if dense.is_empty() && lexical.is_empty() && worded.is_empty() && db.current_chunks(&self.strategy, &model, &p.filter)?.is_empty() {
            return Err(Error::NotIndexed(format!(
                "nothing is indexed for chunking {} and model {model}",
                self.strategy
            )));
        }
        // Reciprocal-rank fusion: robust to the two rankers' incomparable score scales.
        let (wd, wl) = match p.mode {
            Mode::Dense => (1.0, 0.0),
            Mode::Bm25 => (0.0, 1.0),
            Mode::Hybrid => (p.dense_weight, 1.0 - p.dense_weight),
        };
        let ww = if p.mode == Mode::Bm25 { 1.0 } else { p.words_weight };
        let mut fused: HashMap<i64, (ChunkRow, f64, Option<f32>, Option<f64>)> = HashMap::new();
        for (rank, (row, s)) in dense.into_iter().enumerate() {
            let e = fused.entry(row.id).or_insert_with(|| (row, 0.0, None, None));
            e.1 += wd / (p.rrf_k + rank as f64 + 1.0);
            e.2 = Some(s);
        }
        for (rank, (row, s)) in lexical.into_iter().enumerate() {
            let e = fused.entry(row.id).or_insert_with(|| (row, 0.0, None, None));
            e.1 += wl / (p.rrf_k + rank as f64 + 1.0);
            e.3 = Some(s);
        }
        for (rank, (row, s)) in worded.into_iter().enumerate() {
            let e = fused.entry(row.id).or_insert_with(|| (row, 0.0, None, None));
            e.1 += ww / (p.rrf_k + rank as f64 + 1.0);
            e.3 = Some(e.3.unwrap_or(0.0) + s);
        }
        // The phrase says where a term is introduced, not that the passage answers: passages another
        // ranker found get one bonus each, as large as a first rank, and keep their order among themselves.
        for (row, _) in &defining {
            if let Some(e) = fused.get_mut(&row.id) {
                e.1 += p.definition_weight / (p.rrf_k + 1.0);
            }
        }
        let mut ranked: Vec<_> = fused.into_values().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.id.cmp(&b.0.id)));
        // Overlapping windows say much the same thing: a candidate overlapping a chosen passage by more
        // than half is not listed again, but the chosen passage grows to cover it when the union stays
        // small, so what only the candidate held is not lost.
        let mut chosen: Vec<(ChunkRow, f64, Option<f32>, Option<f64>)> = Vec::new();
        for cand in ranked {
            let c = &cand.0;
            let dup = chosen.iter_mut().find(|(o, ..)| {
                o.revision == c.revision && {
                    let a = o.chunk.context;
                    let b = c.chunk.context;
                    let inter = a.end.min(b.end).saturating_sub(a.start.max(b.start));
                    inter * 2 > b.len().min(a.len())
                }
            });
            match dup {
                Some((o, ..)) => {
                    let union = o.chunk.context.union(&c.chunk.context);
                    if union.len() <= p.max_passage_chars {
                        o.chunk.context = union;
                    }
                }
                None => {
                    chosen.push(cand);
                    if chosen.len() == p.k {
                        break;
                    }
                }
            }
        }
        without_repeats(&mut chosen);
        chosen.into_iter().map(|(row, score, d, l)| self.passage(db, &row, score, d, l)).collect()
    }

    /// The question's trigrams that can discriminate: absent ones match nothing, and ones in more than
    /// half of all chunks get no BM25 weight (FTS5 floors their IDF) yet dominate the query's cost.
    /// FTS5's BM25 costs a few microseconds per matching row and phrase, so only the `max_terms`
    /// rarest are kept: they carry nearly all of the IDF weight.
    fn lexical_query(&self, db: &Db, question: &str, total: i64, max_terms: usize) -> Result<Option<String>> {
        let grams = bm25::trigrams(question);
        if grams.is_empty() {
            return Ok(None);
        }
        let df = db.fts_document_frequencies(&grams)?;
        let present: Vec<(i64, usize, String)> =
            grams.into_iter().enumerate().filter_map(|(i, g)| df.get(&g).copied().filter(|&d| d > 0).map(|d| (d, i, g))).collect();
        // When every trigram is common (「モデル」 in a lecture about models), the common ones are
        // still what the question asks for: better weak ranks than nothing found.
        let discriminating = present.iter().any(|&(d, ..)| d * 2 <= total);
        let mut useful: Vec<(i64, usize, String)> = present.into_iter().filter(|&(d, ..)| !discriminating || d * 2 <= total).collect();
        useful.sort();
        useful.truncate(max_terms.max(1));
        useful.truncate(within_postings_budget(useful.iter().map(|u| u.0), total));
        useful.sort_by_key(|u| u.1);
        Ok(bm25::phrase_query(&useful.into_iter().map(|u| u.2).collect::<Vec<_>>()))
    }

    fn passage(&mut self, db: &Db, row: &ChunkRow, score: f64, dense: Option<f32>, bm25: Option<f64>) -> Result<Passage> {
        if let std::collections::hash_map::Entry::Vacant(e) = self.texts.entry(row.revision) {
            let rev = db.revision(row.revision)?;
            let mut bytes: Vec<usize> = rev.text.char_indices().map(|(b, _)| b).collect();
            bytes.push(rev.text.len());
            e.insert(Arc::new(RevisionText { text: rev.text, bytes, segments: rev.segments }));
        }
        if let std::collections::hash_map::Entry::Vacant(e) = self.meta.entry(row.lecture) {
            let l = db.lecture(row.lecture)?;
            e.insert((l.meta.title.unwrap_or(l.file_name), l.meta.course));
        }
        let rt = &self.texts[&row.revision];
        let (title, course) = self.meta[&row.lecture].clone();
        let span = row.chunk.context;
        let timed: Vec<_> = rt.segments.iter().filter(|s| s.span.overlaps(&span)).collect();
        Ok(Passage {
            lecture: row.lecture,
            title,
            course,
            revision: row.revision,
            span,
            matched: row.chunk.matched,
            text: rt.slice(span).to_owned(),
            start_ms: timed.first().and_then(|s| s.start_ms),
            end_ms: timed.last().and_then(|s| s.end_ms),
            score,
            dense,
            bm25,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_drops_the_sentences_a_better_passage_shows_and_keeps_its_own() {
        let span = CharSpan::new;
        // Shown 0..100; the window 80..200 matched 120..150: it starts where the shown one ends.
        assert_eq!(beside_shown(&[span(0, 100)], span(80, 200), span(120, 150)), span(100, 200));
        // Shown after it: it ends where the shown one starts.
        assert_eq!(beside_shown(&[span(150, 300)], span(50, 180), span(60, 90)), span(50, 150));
        // Shown on both sides.
        assert_eq!(beside_shown(&[span(0, 60), span(150, 300)], span(40, 180), span(70, 90)), span(60, 150));
        // Its own matched sentence already shown: nothing to gain by cutting, left whole.
        assert_eq!(beside_shown(&[span(0, 130)], span(80, 200), span(120, 150)), span(80, 200));
        // Apart: untouched.
        assert_eq!(beside_shown(&[span(0, 50)], span(80, 200), span(120, 150)), span(80, 200));
    }
}
