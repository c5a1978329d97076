//! Evaluations on the project's question sets and lecture files, each in a private database in
//! memory unless asked otherwise, with the models the settings name.

use super::{IndexWhen, Job, Kogi, Phase, Storage, lock};
use crate::answer::{AskParams, Answerer, Rung};
use crate::correction::glossary::{ReplaceOptions, load_glossary_file};
use crate::eval::answers::{self, RungResult};
use crate::eval::retrieval::moved_gold;
use crate::eval::{self, Question, RetrievalMetrics, TranscriptVersion, load_questions};
use crate::generate::speculative::NgramConfig;
use crate::generate::sampling::SamplingParams;
use crate::lecture::RevisionKind;
use crate::retrieval::{Retriever, SearchParams};
use crate::store::{Db, SearchFilter};
use crate::transcript::import::ImportOptions;
use crate::{Error, Result};
use std::path::PathBuf;
use std::sync::{Mutex, RwLock};

/// Retrieval metrics of a question file against one version of the lecture.
#[derive(Debug, Clone)]
pub struct RetrievalEvalRequest {
    pub questions: PathBuf,
    pub transcript: TranscriptVersion,
    /// The lecture file of that version.
    pub lecture_file: PathBuf,
    /// Correct the transcript with this glossary first (gold ranges follow the edit).
    pub glossary: Option<PathBuf>,
    pub search: SearchParams,
    /// Use kogi's own database instead of a private one.
    pub in_database: bool,
}

/// Answers of every question at each step of the ladder, scored.
#[derive(Debug, Clone)]
pub struct AnswerEvalRequest {
    pub questions: PathBuf,
    /// The raw ASR text (revision 1) and the hand-corrected text (revision 2) of one lecture.
    pub raw: PathBuf,
    pub corrected: PathBuf,
    pub rungs: Vec<Rung>,
    pub k: usize,
    pub max_tokens: usize,
    /// Answer by quoting instead of generating.
    pub quotes: bool,
}

#[derive(Debug, Clone)]
pub struct CorrectionEvalRequest {
    pub raw: PathBuf,
    pub reference: PathBuf,
    pub glossary: Option<PathBuf>,
    /// Suspicious spans scored (0 = no scan).
    pub top: usize,
}

fn read(path: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound { path: path.to_owned() },
        _ => Error::Io { path: path.to_owned(), message: e.to_string() },
    })
}

impl Kogi {
    /// kogi over a fresh database in memory, sharing this one's settings and loaded models.
    fn private(&self) -> Result<Kogi> {
        Ok(Kogi {
            storage: Storage::Memory(Mutex::new(Db::open_in_memory()?)),
            settings: RwLock::new(self.settings()),
            settings_path: None,
            settings_problem: Mutex::new(None),
            embedder: Mutex::new(self.loaded_embedder()),
            generator: Mutex::new(self.loaded_generator()),
            fit: Mutex::new(None),
            injected_generator: self.injected_generator,
            server_key: Mutex::new(self.server_key.lock().expect("key").clone()),
            server_model: Mutex::new(self.server_model.lock().expect("server").clone()),
            words: Mutex::new(self.words.lock().expect("words").clone()),
            transcriber: Mutex::new(self.transcriber.lock().expect("transcriber").clone()),
        })
    }

    pub fn evaluate_retrieval(&self, r: &RetrievalEvalRequest, job: &mut Job) -> Result<RetrievalMetrics> {
        let questions = load_questions(&r.questions)?;
        let private;
        let k = if r.in_database {
            self
        } else {
            private = self.private()?;
            &private
        };
        let imported = k.import_file(&r.lecture_file, &ImportOptions::default(), IndexWhen::Never, job)?;
        let lecture = imported.lecture.id;
        let mut db = k.db()?;
        // Gold ranges are offsets into the file: a lecture of the person's that was edited since, or
        // that a glossary would add a revision to, is not evaluated (nor changed).
        if !imported.created && (db.head_revision(lecture)?.number != 1 || r.glossary.is_some()) {
            return Err(Error::Invalid(format!(
                "lecture {lecture} in this database already holds {} and {} — evaluate without --db (kogi then uses a private copy)",
                r.lecture_file.display(),
                if r.glossary.is_some() { "the glossary would add a revision to it" } else { "was edited since, so the gold ranges no longer point into it" }
            )));
        }
        // With a glossary the transcript is corrected first (one new revision), and the gold ranges
        // are carried through that edit like any citation.
        let mut moved: Option<(String, String)> = None;
        if let Some(g) = &r.glossary {
            let terms = load_glossary_file(g)?;
            let head = db.head_revision(lecture)?;
            let (rev, _) = db.apply_glossary(lecture, head.id, &terms, &ReplaceOptions::default())?;
            moved = Some((head.text, rev.text));
        }
        k.index_in(&mut db, lecture, job)?;
        let embedder = k.embedder(job)?;
        let strategy = k.settings().chunking;
        let mut retriever = Retriever::new(embedder.as_ref(), &strategy).with_words(Some(k.words()));
        let params = SearchParams { filter: SearchFilter { lectures: vec![lecture], ..Default::default() }, ..r.search.clone() };
        let answerable: Vec<&Question> = questions.iter().filter(|q| q.answerable).collect();
        let total = answerable.len();
        job.enter(Phase::Evaluating, total);
        let mut results = Vec::new();
        for (i, q) in answerable.into_iter().enumerate() {
            job.check()?;
            let passages = retriever.search(&mut db, &q.question, &params)?;
            let q = match &moved {
                Some((old, new)) => moved_gold(q, r.transcript, old, new),
                None => q.clone(),
            };
            results.push(eval::score_question(&q, &passages, r.transcript));
            job.progress(i + 1, total);
        }
        Ok(eval::aggregate(results))
    }

    /// The fixed protocol of the answer evaluation: greedy, speculation on, no priming, the
    /// default similarity gate — so figures compare across runs whatever the settings say.
    pub fn answer_eval_params(k: usize, max_tokens: usize) -> AskParams {
        let mut p = AskParams { k, ..Default::default() };
        p.generate.max_new_tokens = max_tokens;
        p.generate.sampling = SamplingParams { temperature: 0.0, top_p: 1.0, ..Default::default() };
        p.generate.speculative = Some(NgramConfig::default());
        p.lead_citation = false;
        p
    }

    /// `on_answer(rung, question id, answer text)` hears each answer as it is made.
    pub fn evaluate_answers(
        &self,
        r: &AnswerEvalRequest,
        job: &mut Job,
        on_answer: &mut dyn FnMut(Rung, &str, &str),
    ) -> Result<Vec<RungResult>> {
        let questions = load_questions(&r.questions)?;
        let embedder = self.embedder(job)?;
        // Quotes need no chat model, but the reranked step asks it for its yes/no judgements.
        let generator = if r.quotes && !r.rungs.contains(&Rung::Reranked) { None } else { Some(self.generator(job)?) };
        let k = self.private()?;
        // The raw ASR text is revision 1 and the hand-corrected text revision 2 of one lecture, as a
        // user who corrected the transcript in kogi would have it.
        let lecture = k.import_file(&r.raw, &ImportOptions::default(), IndexWhen::Never, job)?.lecture.id;
        let text = read(&r.corrected)?;
        let mut db = k.db()?;
        let head = db.head_revision(lecture)?;
        db.add_revision(lecture, head.id, RevisionKind::Edit, Some("hand-corrected transcript"), &text, &[])?;
        let mut lm = generator.as_ref().map(lock);
        let mut answerer = Answerer::new(&mut db, embedder.as_ref(), Some(embedder.as_ref()), lm.as_mut().map(|g| g.as_mut() as &mut dyn crate::generate::Generator));
        answerer.words = Some(self.words());
        job.enter(Phase::Evaluating, r.rungs.len() * questions.len());
        let mut params = Self::answer_eval_params(r.k, r.max_tokens);
        params.quotes = r.quotes;
        let mut done = 0;
        let cancel = job.cancel_flag();
        answers::evaluate(
            &mut answerer,
            &questions,
            &params,
            &r.rungs,
            &mut |rung, q, a| {
                done += 1;
                job.progress(done, r.rungs.len() * questions.len());
                on_answer(rung, &q.id, &a.text);
            },
            cancel,
        )
    }

    /// The report's JSON shape is what `kogi eval-correction --json` has always printed.
    pub fn evaluate_correction(&self, r: &CorrectionEvalRequest, job: &mut Job) -> Result<serde_json::Value> {
        let (raw_text, ref_text) = (read(&r.raw)?, read(&r.reference)?);
        let terms = r.glossary.as_deref().map(load_glossary_file).transpose()?;
        let words = self.words();
        let glossary = r.glossary.as_deref().zip(terms.as_deref()).map(|(f, t)| (f, t, words.analyzer()));
        if r.top == 0 {
            return eval::correction::evaluate(&r.raw, &r.reference, &raw_text, &ref_text, glossary, None, 0, &mut |_, _| {}, job.cancel_flag());
        }
        let generator = self.generator(job)?;
        let mut lm = lock(&generator);
        let model_dir = self.settings().chat_dir();
        job.enter(Phase::Scanning, 0);
        let cancel = job.cancel_flag();
        eval::correction::evaluate(
            &r.raw,
            &r.reference,
            &raw_text,
            &ref_text,
            glossary,
            Some((lm.as_mut(), &model_dir)),
            r.top,
            &mut |d, t| job.progress(d, t),
            cancel,
        )
    }
}
