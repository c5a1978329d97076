//! Answers grounded in the lecture: the seed notebook's RAG ladder, numbered passages, citations
//! that resolve to (lecture, revision, character range, time), an honest "not covered", and
//! "think harder" (self-consistency, best-of-N).

pub mod prompt;
pub mod quote;
pub mod rerank;

use crate::chunk::Strategy;
use crate::generate::{FinishReason, GenerateParams, Generation, GenerationStats};
use crate::generate::sampling::SamplingParams;
use crate::generate::{Chat, Generator, Message};
use crate::index::Indexer;
use crate::inference::{Embed, Role, TokenSpans};
use crate::lecture::{LectureId, RevisionId};
use crate::retrieval::{Passage, Retriever, SearchParams};
use crate::store::{Db, SearchFilter, Which};
use crate::text::CharSpan;
use crate::{Error, Result};
use prompt::Lang;
use rerank::{LlmJudge, Rerank};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// The steps of the seed notebook's RAG ladder, each selectable and comparable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Rung {
    /// No context: the model alone (baseline).
    None,
    /// Sentences of the transcript as imported (raw ASR).
    Raw,
    /// Sentences of the newest (corrected) revision.
    Corrected,
    /// Sentences matched, handed over with ±2 neighbours (kogi's default retrieval).
    Windows,
    /// Windows reranked by the model's yes/no relevance judgement (or a cross-encoder).
    Reranked,
    /// Paragraph chunks, with lecture metadata (title, course, time) in the prompt.
    Chunks,
}

impl Rung {
    pub const ALL: [Rung; 6] = [Rung::None, Rung::Raw, Rung::Corrected, Rung::Windows, Rung::Reranked, Rung::Chunks];

    pub fn name(self) -> &'static str {
        match self {
            Rung::None => "none",
            Rung::Raw => "raw",
            Rung::Corrected => "corrected",
            Rung::Windows => "windows",
            Rung::Reranked => "reranked",
            Rung::Chunks => "chunks",
        }
    }

    /// Chunking and revision this rung retrieves from (none for the baseline).
    pub fn source(self) -> Option<(Strategy, Which)> {
        let sentences = Strategy::Sentences { max_chars: 200 };
        match self {
            Rung::None => None,
            Rung::Raw => Some((sentences, Which::Original)),
            Rung::Corrected => Some((sentences, Which::Newest)),
            Rung::Windows | Rung::Reranked => Some((crate::index::default_strategy(), Which::Newest)),
            Rung::Chunks => Some((Strategy::Paragraphs { max_chars: 600, window_chars: 500, overlap_chars: 150 }, Which::Newest)),
        }
    }
}

impl std::str::FromStr for Rung {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Rung::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| Error::Invalid(format!("unknown mode {s:?} — use none, raw, corrected, windows, reranked or chunks")))
    }
}

/// Spend more compute for a better answer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum ThinkHarder {
    /// Sample `n` answers and return the one that agrees most with the others (embedding similarity).
    SelfConsistency { n: usize },
    /// Sample `n` answers and return the one a scorer likes best.
    BestOfN { n: usize, scorer: Scorer },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Scorer {
    /// Mean log-probability of the answer's tokens under the model.
    LogProb,
    /// The model asked whether the answer is supported by the excerpts (P(yes)).
    Judge,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AskParams {
    pub rung: Rung,
    /// Passages handed to the model.
    pub k: usize,
    /// Candidates the reranker looks at (rung `reranked`).
    pub rerank_candidates: usize,
    /// Answer language; `None` follows the question.
    pub lang: Option<Lang>,
    pub generate: GenerateParams,
    /// Largest prompt in tokens (bounded by the model's window minus the answer's budget).
    pub max_prompt_tokens: usize,
    /// Below this best passage similarity the lecture is taken not to cover the question, and the
    /// model is not asked.
    pub min_similarity: f32,
    pub filter: SearchFilter,
    pub think: Option<ThinkHarder>,
    /// Begin the answer with "[" (the assistant's reply primed with it), so that the model first
    /// names the excerpt it rests on. Small models rarely cite on their own; this costs nothing.
    pub lead_citation: bool,
    /// Answer by quoting the passages' best sentences instead of asking the model.
    pub quotes: bool,
}

/// Who words an answer: the chat model, or the lecture itself by quotes. `Auto` quotes when the
/// chat model cannot read the language of the question and lectures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum AnswerWith {
    #[default]
    Auto,
    Model,
    Quotes,
}

impl std::str::FromStr for AnswerWith {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Self::Auto),
            "model" => Ok(Self::Model),
            "quotes" => Ok(Self::Quotes),
            _ => Err(Error::Invalid(format!("unknown answer source {s:?} — use auto, model or quotes"))),
        }
    }
}

impl Default for AskParams {
    fn default() -> Self {
        Self {
            rung: Rung::Windows,
            k: 5,
            rerank_candidates: 15,
            lang: None,
            generate: GenerateParams { max_new_tokens: 256, ..Default::default() },
            max_prompt_tokens: 3072,
            min_similarity: 0.75,
            filter: SearchFilter::default(),
            think: None,
            lead_citation: false,
            quotes: false,
        }
    }
}

/// A citation resolves to the exact passage: lecture, revision, character range, time.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
pub struct Citation {
    /// The number used in the answer, `[n]`.
    pub n: usize,
    pub lecture: LectureId,
    pub title: String,
    pub revision: RevisionId,
    pub span: CharSpan,
    pub start_ms: Option<u64>,
    pub end_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
pub struct ThinkReport {
    pub method: ThinkHarder,
    pub samples: usize,
    pub chosen: usize,
    /// Each sample's agreement (self-consistency) or score (best-of-N).
    pub scores: Vec<f64>,
    pub texts: Vec<String>,
    /// Compute spent over all samples.
    pub new_tokens: usize,
    pub forward_passes: u64,
    pub ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
pub struct Answer {
    pub question: String,
    pub rung: Rung,
    pub lang: Lang,
    pub text: String,
    pub citations: Vec<Citation>,
    /// The passages in the prompt, numbered from 1 in this order.
    pub passages: Vec<Passage>,
    /// The answer says the lecture does not cover the question.
    pub not_covered: bool,
    /// Decided before generation: no passage was similar enough.
    pub gated: bool,
    /// Passages left out or shortened to fit the model's window.
    pub trimmed_passages: usize,
    /// The answer hit the token limit and may be incomplete.
    pub cut: bool,
    pub finish: Option<FinishReason>,
    pub stats: Option<GenerationStats>,
    pub think: Option<ThinkReport>,
    /// The text is sentences quoted verbatim from the lecture (no model wrote it); each is one of
    /// `passages` and cited.
    #[serde(default)]
    pub quoted: bool,
    /// Why the answer stopped early when its engine broke off (a server's stream cut): the text
    /// is what arrived, and is incomplete.
    #[serde(default)]
    pub interrupted: Option<String>,
    pub ms: f64,
}

/// `[1]`, `[2, 3]`, `［１］` → the numbers cited, in order of first use.
pub fn cited_numbers(text: &str) -> Vec<usize> {
    let norm: String = text
        .chars()
        .map(|c| match c {
            '［' => '[',
            '］' => ']',
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            '、' | '，' => ',',
            _ => c,
        })
        .collect();
    let mut out = Vec::new();
    let mut rest = norm.as_str();
    while let Some(open) = rest.find('[') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find(']') else { break };
        let inside = &rest[..close];
        if inside.chars().all(|c| c.is_ascii_digit() || c == ',' || c == ' ' || c == '-') {
            for part in inside.split(',') {
                if let Ok(n) = part.trim().parse::<usize>()
                    && !out.contains(&n)
                {
                    out.push(n);
                }
            }
        }
        rest = &rest[close + 1..];
    }
    out
}

/// Answers questions over one database with one embedder and one chat model.
pub struct Answerer<'a> {
    pub db: &'a mut Db,
    embedder: &'a dyn Embed,
    tokens: Option<&'a dyn TokenSpans>,
    /// `None` when answers are quoted and no chat model is needed.
    pub lm: Option<&'a mut dyn Generator>,
    retrievers: HashMap<String, Retriever<'a>>,
    /// Optional cross-encoder for the reranked rung (the model's yes/no judgement otherwise).
    pub cross_encoder: Option<rerank::CrossEncoder>,
    /// Keyword search by words and readings (trigrams only when `None`).
    pub words: Option<crate::retrieval::Words>,
}

impl<'a> Answerer<'a> {
    pub fn new(db: &'a mut Db, embedder: &'a dyn Embed, tokens: Option<&'a dyn TokenSpans>, lm: Option<&'a mut dyn Generator>) -> Self {
        Self { db, embedder, tokens, lm, retrievers: HashMap::new(), cross_encoder: None, words: None }
    }

    fn lm(&mut self) -> Result<&mut (dyn Generator + 'a)> {
        self.lm.as_deref_mut().ok_or_else(|| Error::Invalid("this needs a chat model, and none is loaded".into()))
    }

    /// The revisions in scope that a rung needs indexed and are not yet (none for the baseline).
    pub fn unindexed(&mut self, rung: Rung, filter: &SearchFilter) -> Result<Vec<RevisionId>> {
        let Some((strategy, which)) = rung.source() else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for l in self.db.lectures(filter.course.as_deref())?.iter().filter(|l| filter.lectures.is_empty() || filter.lectures.contains(&l.id)) {
            let rev = match which {
                Which::Newest => l.head,
                Which::Original => self.db.revisions(l.id)?.first().map(|r| r.id).unwrap_or(l.head),
            };
            if self.db.chunk_set(rev, &strategy.name(), self.embedder.model_id())?.is_none() {
                out.push(rev);
            }
        }
        Ok(out)
    }

    /// Index what a rung needs and is missing. `progress(done, total)` counts chunks embedded over
    /// all revisions; `cancel` stops between batches.
    pub fn ensure_indexed(&mut self, rung: Rung, filter: &SearchFilter, progress: &mut dyn FnMut(usize, usize), cancel: &AtomicBool) -> Result<()> {
        let Some((strategy, _)) = rung.source() else { return Ok(()) };
        let missing = self.unindexed(rung, filter)?;
        let mut ix = Indexer::new(self.embedder);
        ix.tokens = self.tokens;
        ix.words = self.words.clone();
        let changed = !missing.is_empty();
        let n = missing.len();
        for (i, rev) in missing.into_iter().enumerate() {
            ix.index_revision(self.db, rev, &strategy, &mut |p| progress(i * 1000 + p.done * 1000 / p.total.max(1), n * 1000), cancel)?;
        }
        if changed && let Some(r) = self.retrievers.get_mut(&strategy.name()) {
            r.invalidate();
        }
        Ok(())
    }

    /// The passages a rung hands to the model, best first.
    pub fn passages(&mut self, question: &str, p: &AskParams) -> Result<Vec<Passage>> {
        let Some((strategy, which)) = p.rung.source() else { return Ok(Vec::new()) };
        self.ensure_indexed(p.rung, &p.filter, &mut |_, _| {}, &AtomicBool::new(false))?;
        let embedder = self.embedder;
        let words = self.words.clone();
        let retriever = self.retrievers.entry(strategy.name()).or_insert_with(|| Retriever::new(embedder, &strategy).with_words(words));
        let k = if p.rung == Rung::Reranked { p.rerank_candidates.max(p.k) } else { p.k };
        let params = SearchParams { k, filter: SearchFilter { revision: which, ..p.filter.clone() }, ..Default::default() };
        let mut passages = retriever.search(self.db, question, &params)?;
        if p.rung == Rung::Reranked && !passages.is_empty() {
            let scores = match self.cross_encoder.as_mut() {
                Some(ce) => ce.relevance(question, &passages)?,
                None => LlmJudge::new(self.lm()?).relevance(question, &passages)?,
            };
            let mut scored: Vec<(f32, usize, Passage)> =
                scores.into_iter().zip(passages).enumerate().map(|(i, (s, p))| (s, i, p)).collect();
            // Ties keep the retrieval order.
            scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            passages = scored.into_iter().take(p.k).map(|(_, _, p)| p).collect();
        }
        Ok(passages)
    }

    /// Answer one question, streaming the text through `on_text`.
    pub fn ask(&mut self, question: &str, p: &AskParams, on_text: &mut dyn FnMut(&str), cancel: &AtomicBool) -> Result<Answer> {
        let started = Instant::now();
        let question = question.trim();
        if question.is_empty() {
            return Err(Error::Invalid("the question is empty".into()));
        }
        let lang = p.lang.unwrap_or_else(|| Lang::detect(question));
        if p.quotes && p.rung == Rung::None {
            return Err(Error::Invalid("quoted answers need passages: choose a step other than \"none\"".into()));
        }
        let passages = self.passages(question, p)?;
        let mut answer = Answer {
            question: question.to_owned(),
            rung: p.rung,
            lang,
            text: String::new(),
            citations: Vec::new(),
            passages: Vec::new(),
            not_covered: false,
            gated: false,
            trimmed_passages: 0,
            cut: false,
            finish: None,
            stats: None,
            think: None,
            quoted: false,
            interrupted: None,
            ms: 0.0,
        };
        if p.rung != Rung::None {
            let best = passages.iter().filter_map(|x| x.dense).fold(f32::NEG_INFINITY, f32::max);
            if passages.is_empty() || best < p.min_similarity {
                answer.text = lang.not_covered().to_owned();
                on_text(&answer.text);
                answer.not_covered = true;
                answer.gated = true;
                answer.ms = started.elapsed().as_secs_f64() * 1e3;
                return Ok(answer);
            }
        }
        if p.quotes {
            self.quote(question, passages, &mut answer)?;
            on_text(&answer.text);
            answer.ms = started.elapsed().as_secs_f64() * 1e3;
            return Ok(answer);
        }
        let context = self.lm()?.context_window();
        let budget = p.max_prompt_tokens.min(context.saturating_sub(p.generate.max_new_tokens + 8)).max(64);
        let built = prompt::build(self.lm()?, question, &passages, lang, p.rung == Rung::Chunks, budget)?;
        answer.passages = passages.into_iter().take(built.passages_used).collect();
        answer.trimmed_passages = built.trimmed;
        if built.trimmed > 0 {
            tracing::info!(trimmed = built.trimmed, budget, "passages left out or shortened to fit the model's window");
        }
        // The primed "[" is part of the answer: kept in the text, and streamed together with the
        // model's first piece (so the stream's first text still marks the model's first token).
        // With one excerpt there is nothing to choose: the answer begins with its citation.
        let lead = match answer.passages.len() {
            _ if !p.lead_citation || p.think.is_some() || !self.lm()?.primes_replies() => "",
            0 => "",
            1 => "[1]",
            _ => "[",
        };
        let chat = Chat { reply_prefix: lead.to_owned(), ..built.chat.clone() };
        let mut unsent = lead;
        let mut stream = |t: &str| {
            if unsent.is_empty() {
                on_text(t);
            } else {
                on_text(&format!("{unsent}{t}"));
                unsent = "";
            }
        };
        let generation = match p.think {
            None => self.lm()?.reply(&chat, &p.generate, &mut stream, cancel)?,
            Some(method) => {
                let (g, report) = self.think_harder(method, question, &answer.passages, &built.chat, p, cancel)?;
                on_text(&g.text);
                answer.think = Some(report);
                g
            }
        };
        answer.text = format!("{lead}{}", generation.text).trim().to_owned();
        answer.cut = matches!(generation.finish, FinishReason::MaxTokens | FinishReason::Interrupted);
        answer.interrupted = generation.interrupted.clone();
        answer.finish = Some(generation.finish);
        answer.stats = Some(generation.stats.clone());
        answer.not_covered = prompt::is_refusal(&answer.text);
        for n in cited_numbers(&answer.text) {
            if let Some(ps) = n.checked_sub(1).and_then(|i| answer.passages.get(i)) {
                answer.citations.push(Citation {
                    n,
                    lecture: ps.lecture,
                    title: ps.title.clone(),
                    revision: ps.revision,
                    span: ps.span,
                    start_ms: ps.start_ms,
                    end_ms: ps.end_ms,
                });
            }
        }
        answer.ms = started.elapsed().as_secs_f64() * 1e3;
        Ok(answer)
    }

    /// Fill `answer` with the best sentences of `passages`, each a passage of its own with the time
    /// of the segment it starts in, cited in order.
    fn quote(&mut self, question: &str, passages: Vec<Passage>, answer: &mut Answer) -> Result<()> {
        let quotes = quote::choose(self.embedder, question, &passages, &quote::QuoteParams::default())?;
        answer.quoted = true;
        if quotes.is_empty() {
            answer.text = answer.lang.not_covered().to_owned();
            answer.not_covered = true;
            return Ok(());
        }
        let mut segments: HashMap<RevisionId, Vec<crate::transcript::Segment>> = HashMap::new();
        let mut lines = Vec::new();
        for (i, q) in quotes.into_iter().enumerate() {
            let from = &passages[q.passage];
            if !segments.contains_key(&from.revision) {
                segments.insert(from.revision, self.db.segments(from.revision)?);
            }
            let seg = segments[&from.revision].iter().find(|s| s.span.start <= q.span.start && q.span.start < s.span.end.max(s.span.start + 1));
            let (start_ms, end_ms) = match seg {
                Some(s) if s.start_ms.is_some() => (s.start_ms, s.end_ms),
                _ => (from.start_ms, from.end_ms),
            };
            let n = i + 1;
            lines.push(match answer.lang {
                Lang::Ja => format!("「{}」[{n}]", q.text),
                Lang::En => format!("\"{}\" [{n}]", q.text),
            });
            answer.citations.push(Citation { n, lecture: from.lecture, title: from.title.clone(), revision: from.revision, span: q.span, start_ms, end_ms });
            answer.passages.push(Passage { span: q.span, matched: q.span, text: q.text, start_ms, end_ms, score: q.score as f64, ..from.clone() });
        }
        answer.text = lines.join("\n");
        Ok(())
    }

    fn think_harder(
        &mut self,
        method: ThinkHarder,
        question: &str,
        passages: &[Passage],
        prompt: &Chat,
        p: &AskParams,
        cancel: &AtomicBool,
    ) -> Result<(Generation, ThinkReport)> {
        let started = Instant::now();
        let n = match method {
            ThinkHarder::SelfConsistency { n } | ThinkHarder::BestOfN { n, .. } => n.max(1),
        };
        // Diversity needs sampling; keep the user's settings when they already sample.
        let sampling = if p.generate.sampling.is_greedy() {
            SamplingParams { temperature: 0.7, top_p: 0.95, seed: p.generate.sampling.seed, ..Default::default() }
        } else {
            p.generate.sampling.clone()
        };
        let params = GenerateParams { sampling, speculative: None, ..p.generate.clone() };
        let samples = self.lm()?.replies(prompt, n, &params, cancel)?;
        let texts: Vec<String> = samples.iter().map(|g| g.text.trim().to_owned()).collect();
        let scores: Vec<f64> = match method {
            ThinkHarder::SelfConsistency { .. } => {
                let refs: Vec<&str> = texts.iter().map(|t| if t.is_empty() { " " } else { t.as_str() }).collect();
                let v = self.embedder.embed(&refs, Role::Passage)?;
                (0..n)
                    .map(|i| {
                        let others = (0..n).filter(|&j| j != i);
                        let sum: f64 = others.map(|j| v[i].iter().zip(&v[j]).map(|(a, b)| (a * b) as f64).sum::<f64>()).sum();
                        if n > 1 { sum / (n - 1) as f64 } else { 1.0 }
                    })
                    .collect()
            }
            ThinkHarder::BestOfN { scorer: Scorer::LogProb, .. } => samples.iter().map(|g| g.mean_logprob()).collect(),
            ThinkHarder::BestOfN { scorer: Scorer::Judge, .. } => {
                let excerpts: String = passages.iter().enumerate().map(|(i, x)| format!("[{}] {}\n", i + 1, x.text)).collect();
                let chats: Vec<_> = texts
                    .iter()
                    .map(|t| {
                        Chat::new(vec![
                            Message::system("Answer with yes or no."),
                            Message::user(format!(
                                "Excerpts:\n{excerpts}\nQuestion: {question}\nAnswer: {t}\nIs the answer correct and supported by the excerpts? Answer yes or no."
                            )),
                        ])
                    })
                    .collect();
                LlmJudge::new(self.lm()?).yes_probability(&chats)?.into_iter().map(|x| x as f64).collect()
            }
        };
        let chosen = scores
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
            .map(|(i, _)| i)
            .unwrap_or(0);
        let report = ThinkReport {
            method,
            samples: n,
            chosen,
            scores,
            texts,
            new_tokens: samples.iter().map(|g| g.stats.new_tokens).sum(),
            forward_passes: samples.first().map(|g| g.stats.forward_passes).unwrap_or(0),
            ms: started.elapsed().as_secs_f64() * 1e3,
        };
        Ok((samples.into_iter().nth(chosen).expect("chosen exists"), report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citations_are_read_in_ascii_and_full_width_forms() {
        assert_eq!(cited_numbers("計算資源を使う[1]。また[2, 3]も［４］。"), vec![1, 2, 3, 4]);
        assert_eq!(cited_numbers("see [1][1] and [x] and [2"), vec![1]);
        assert!(cited_numbers("no citations").is_empty());
    }

    #[test]
    fn rung_names_round_trip() {
        for r in Rung::ALL {
            assert_eq!(r.name().parse::<Rung>().unwrap(), r);
        }
    }

    #[test]
    fn refusals_are_recognised_in_both_languages() {
        assert!(prompt::is_refusal(Lang::Ja.not_covered()));
        assert!(prompt::is_refusal("Sorry, the lecture does not cover this question."));
        assert!(!prompt::is_refusal("推論時に計算資源を増やすことです[1]。"));
    }
}
