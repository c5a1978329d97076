//! Asking: search the lectures, and answer a question along one or several steps of the RAG ladder.

use super::{Job, Kogi, Phase, lock};
use crate::answer::{Answer, Answerer, AskParams, Rung, ThinkHarder};
use crate::retrieval::{Passage, Retriever, SearchParams};
use crate::store::SearchFilter;
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
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct Asked {
    pub answers: Vec<Answer>,
    /// From the start of the work to the first streamed piece of each answer.
    pub first_text_ms: Vec<Option<f64>>,
}

impl Kogi {
    /// The passages that best match a query.
    pub fn search(&self, query: &str, params: &SearchParams, job: &mut Job) -> Result<Vec<Passage>> {
        let mut db = self.db()?;
        let strategy = self.settings().chunking;
        let embedder = self.embedder(job)?;
        Retriever::new(embedder.as_ref(), &strategy).search(&mut db, query, params)
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
        let modes = if request.modes.is_empty() { vec![self.settings().mode] } else { request.modes.clone() };
        let mut db = self.db()?;
        if db.lectures(None)?.is_empty() {
            return Err(Error::Invalid("there are no lectures yet — import a transcript first".into()));
        }
        let embedder = self.embedder(job)?;
        let generator = self.generator(job)?;
        let mut lm = lock(&generator);
        let mut answerer = Answerer::new(&mut db, embedder.as_ref(), Some(embedder.as_ref()), lm.as_mut());
        let mut out = Asked { answers: Vec::new(), first_text_ms: Vec::new() };
        for &rung in &modes {
            job.check()?;
            let params = self.ask_params(request, rung)?;
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
