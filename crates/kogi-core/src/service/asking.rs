//! Asking: search the lectures, and answer a question along one or several steps of the RAG ladder.

use super::{Job, Kogi, Phase, lock};
use crate::answer::prompt::Lang;
use crate::answer::{Answer, AnswerWith, Answerer, AskParams, Rung, ThinkHarder};
use crate::model::LanguageFit;
use crate::inference::IndexedUnder;
use crate::inference::manifest::ModelDir;
use crate::retrieval::{Mode, Passage, Retriever, SearchParams};
use crate::lecture::LectureId;
use crate::store::{Db, SearchFilter};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// A question, as a front end sends it; everything else comes from the settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ts_rs::TS)]
#[serde(default)]
pub struct AskRequest {
    pub question: String,
    /// One ladder step, or several for a side-by-side comparison; empty = the settings' step.
    pub modes: Vec<Rung>,
    /// "Think harder" with the settings' sample count (self-consistency).
    pub think: bool,
    /// A specific way to think harder (overrides `think`).
    pub think_method: Option<ThinkHarder>,
    /// Which lectures to search.
    pub filter: SearchFilter,
    /// Seed for sampled answers (reproducible runs).
    pub seed: Option<u64>,
    /// Who words the answer for this question (the settings' choice otherwise).
    pub answer_with: Option<AnswerWith>,
}

/// Why an answer was quoted rather than written by the chat model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum QuoteReason {
    /// The person asked for quotes.
    Asked,
    /// The chat model cannot read the language of the question or the lectures.
    ModelCannotRead,
    /// No usable chat model is installed.
    NoModel,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct Asked {
    pub answers: Vec<Answer>,
    /// From the start of the work to the first streamed piece of each answer.
    pub first_text_ms: Vec<Option<f64>>,
    /// The chat model the settings name (whether or not it answered).
    pub chat_model: String,
    /// How well it reads Japanese (`None`: no usable model folder).
    pub fit: Option<LanguageFit>,
    /// Set when the answers are quotes.
    pub quoted: Option<QuoteReason>,
    /// The server that wrote the answers (its host); `None`: this computer.
    pub answered_by: Option<String>,
}

/// A lecture search cannot see, and why.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, ts_rs::TS)]
pub struct Unsearchable {
    pub lecture: LectureId,
    pub title: String,
    pub reason: String,
}

impl Kogi {
    /// The passages that best match a query.
    pub fn search(&self, query: &str, params: &SearchParams, job: &mut Job) -> Result<Vec<Passage>> {
        let mut db = self.db()?;
        // A lecture that does not exist is the question's mistake, not a missing index.
        for &l in &params.filter.lectures {
            db.lecture(l)?;
        }
        let strategy = self.settings().chunking;
        // Keyword search reads the full-text index alone: it needs to know which model the chunks
        // were indexed under, not the model itself (which may be missing or damaged).
        if params.mode == Mode::Bm25 && self.loaded_embedder().is_none() {
            let id = self.index_model_id(&db)?.ok_or_else(|| Error::NotIndexed("nothing is indexed yet".into()))?;
            let known = IndexedUnder::new(id);
            return Retriever::new(&known, &strategy).with_words(Some(self.words())).search(&mut db, query, params);
        }
        self.finish_interrupted_indexing(&mut db, &params.filter, job)?;
        let embedder = self.embedder(job)?;
        Retriever::new(embedder.as_ref(), &strategy).with_words(Some(self.words())).search(&mut db, query, params)
    }

    /// Index the lectures whose newest revision is not indexed although an earlier one was: an edit
    /// saved while its indexing was interrupted (killed, cancelled, crashed). Done before a search,
    /// so such a lecture never drops out of the results silently. Returns the lectures indexed.
    pub fn finish_interrupted_indexing(&self, db: &mut Db, filter: &SearchFilter, job: &mut Job) -> Result<Vec<LectureId>> {
        let strategy = self.settings().chunking.name();
        let Some(model) = self.index_model_id(db)? else { return Ok(Vec::new()) };
        let mut pending = Vec::new();
        for l in db.lectures(filter.course.as_deref())? {
            if (!filter.lectures.is_empty() && !filter.lectures.contains(&l.id)) || db.chunk_set(l.head, &strategy, &model)?.is_some() {
                continue;
            }
            for r in db.revisions(l.id)? {
                if db.chunk_set(r.id, &strategy, &model)?.is_some() {
                    pending.push(l.id);
                    break;
                }
            }
        }
        for &id in &pending {
            tracing::info!(lecture = %id, "finishing the index of an edit whose indexing was interrupted");
            self.index_in(db, id, job)?;
        }
        Ok(pending)
    }

    /// The id chunks are indexed under for the current embedding model, without loading it: the
    /// loaded model's, its manifest's, or (model missing or damaged) the newest in the index.
    fn index_model_id(&self, db: &Db) -> Result<Option<String>> {
        if let Some(e) = self.loaded_embedder() {
            return Ok(Some(e.model_id().to_owned()));
        }
        match ModelDir::open(&self.settings().embedder_dir()).and_then(|m| m.check().map(|()| m)) {
            Ok(m) => Ok(Some(m.id())),
            Err(_) => db.latest_index_model(&self.settings().chunking.name()),
        }
    }

    /// At start-up: finish the index of every lecture whose edit was saved but not indexed (the app
    /// was closed or killed in between). Loads the embedding model only when there is such a lecture.
    pub fn finish_interrupted_indexing_everywhere(&self, job: &mut Job) -> Result<Vec<LectureId>> {
        let mut db = self.db()?;
        self.finish_interrupted_indexing(&mut db, &SearchFilter::default(), job)
    }

    /// Lectures in `filter` that search cannot see: their newest revision is not indexed under the
    /// current chunking and embedding model. Front ends say so beside the results, never silently.
    pub fn unsearchable(&self, filter: &SearchFilter) -> Result<Vec<Unsearchable>> {
        let db = self.db()?;
        let strategy = self.settings().chunking.name();
        let Some(model) = self.index_model_id(&db)? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for l in db.lectures(filter.course.as_deref())? {
            if (!filter.lectures.is_empty() && !filter.lectures.contains(&l.id)) || db.chunk_set(l.head, &strategy, &model)?.is_some() {
                continue;
            }
            let mut indexed_before = false;
            for r in db.revisions(l.id)? {
                indexed_before |= db.chunk_set(r.id, &strategy, &model)?.is_some();
            }
            let reason = if indexed_before { "its newest revision is not indexed yet" } else { "it has not been indexed" };
            out.push(Unsearchable { lecture: l.id, title: l.meta.title.clone().unwrap_or(l.file_name.clone()), reason: reason.into() });
        }
        Ok(out)
    }

    /// The parameters one step of the ladder answers with, from the settings and the request.
    pub fn ask_params(&self, request: &AskRequest, rung: Rung) -> Result<AskParams> {
        let mut p = self.settings().ask_params(rung, request.think);
        if let Some(m) = request.think_method {
            p.think = Some(m);
        }
        p.generate.sampling.seed = request.seed;
        p.filter = request.filter.clone();
        p.generate.sampling.validate()?;
        Ok(p)
    }

    /// Answer a question along each requested step of the ladder. Phases: loading the models,
    /// indexing what a step needs and is missing (cancellable, with progress), answering (streamed
    /// through the job as text parts named after the step).
    pub fn ask(&self, request: &AskRequest, job: &mut Job) -> Result<Asked> {
        let started = Instant::now();
        if request.question.trim().is_empty() {
            return Err(Error::Invalid("type a question first".into()));
        }
        let settings = self.settings();
        let modes = if request.modes.is_empty() { vec![settings.mode] } else { request.modes.clone() };
        let mut db = self.db()?;
        let lectures = db.lectures(None)?;
        if lectures.is_empty() {
            return Err(Error::Invalid("there are no lectures yet — import a transcript first".into()));
        }
        let japanese = Lang::detect(&request.question) == Lang::Ja
            || lectures
                .iter()
                .filter(|l| request.filter.lectures.is_empty() || request.filter.lectures.contains(&l.id))
                .take(20)
                .any(|l| db.revision(l.head).is_ok_and(|r| Lang::detect(&r.text.chars().take(2000).collect::<String>()) == Lang::Ja));
        let fit = self.chat_fit();
        // A generator handed in, or a server, has no language fit to judge: it answers.
        let unjudged = self.injected_generator || settings.engine == crate::server::Engine::Server;
        let quoted = match request.answer_with.unwrap_or(settings.answer_with) {
            AnswerWith::Quotes => Some(QuoteReason::Asked),
            AnswerWith::Model => None,
            AnswerWith::Auto => match &fit {
                None if !unjudged => Some(QuoteReason::NoModel),
                Some(f) if japanese && !f.reads_japanese => Some(QuoteReason::ModelCannotRead),
                _ => None,
            },
        };
        // The no-context baseline has nothing to quote: asked for quotes it is refused, and in
        // automatic mode the model answers it (that is the baseline's point).
        if quoted == Some(QuoteReason::Asked) && modes.contains(&Rung::None) {
            return Err(Error::Invalid("quoted answers need passages: choose a step other than \"none\", or answer with the model".into()));
        }
        let embedder = self.embedder(job)?;
        // Quotes need no chat model, but the reranked step asks it for its yes/no judgements.
        let generator = if quoted.is_none() || modes.iter().any(|r| matches!(r, Rung::Reranked | Rung::None)) { Some(self.generator(job)?) } else { None };
        let mut lm = generator.as_ref().map(lock);
        let mut answerer = Answerer::new(&mut db, embedder.as_ref(), Some(embedder.as_ref()), lm.as_mut().map(|g| g.as_mut() as &mut dyn crate::generate::Generator));
        answerer.words = Some(self.words());
        let answered_by = if quoted.is_none() { self.answered_by() } else { None };
        let chat_model = if answered_by.is_some() { settings.server.model.clone() } else { settings.chat_model.clone() };
        let mut out = Asked { answers: Vec::new(), first_text_ms: Vec::new(), chat_model, fit, quoted, answered_by };
        for &rung in &modes {
            job.check()?;
            let mut params = self.ask_params(request, rung)?;
            params.quotes = quoted.is_some() && rung != Rung::None;
            if !answerer.unindexed(rung, &params.filter)?.is_empty() {
                job.enter(Phase::IndexingFor { rung }, 0);
                let cancel = job.cancel_flag();
                answerer.ensure_indexed(rung, &params.filter, &mut |d, t| job.progress(d, t), cancel)?;
            }
            job.enter(Phase::Answering { rung }, modes.len());
            job.progress(out.answers.len(), modes.len());
            let mut first = None;
            let cancel = job.cancel_flag();
            let answer = answerer.ask(
                &request.question,
                &params,
                &mut |t| {
                    first.get_or_insert_with(|| started.elapsed().as_secs_f64() * 1e3);
                    job.text(rung.name(), t);
                },
                cancel,
            )?;
            job.answered(&answer);
            out.answers.push(answer);
            out.first_text_ms.push(first);
        }
        Ok(out)
    }
}
