//! The one handle long work takes: it reports what phase the work is in and how far along, streams
//! text (answers), and says when the person asked to stop.

use crate::answer::{Answer, Rung};
use crate::{Error, Result};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};

/// What a long piece of work is doing now. Front ends show [`Phase::label`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    Reading,
    LoadingEmbedder,
    LoadingLanguageModel,
    LoadingTranscriber,
    /// Chunking and embedding lectures (units: chunks, or per-mille per revision in a question).
    Indexing,
    /// Indexing a question needs before it can be answered, for one step of the ladder.
    IndexingFor { rung: Rung },
    Scanning,
    Answering { rung: Rung },
    /// Running an evaluation's questions.
    Evaluating,
    /// Converting a model file or folder (units: MB of weights read).
    Converting,
    /// Speech recognition of a recording (units: seconds of sound; reading it first is `Reading`).
    Transcribing,
    /// Running a chat model over its vocabulary for its own drafts (units: tokens).
    Drafting,
}

impl Phase {
    pub fn label(&self) -> String {
        match self {
            Phase::Reading => "reading".into(),
            Phase::LoadingEmbedder => "loading the embedding model".into(),
            Phase::LoadingLanguageModel => "loading the language model".into(),
            Phase::LoadingTranscriber => "loading the speech recognition model".into(),
            Phase::Indexing => "indexing".into(),
            Phase::IndexingFor { rung } => format!("indexing the lectures for {}", rung.name()),
            Phase::Scanning => "scanning".into(),
            Phase::Answering { rung } => format!("answering: {}", rung.name()),
            Phase::Evaluating => "evaluating".into(),
            Phase::Converting => "converting the model".into(),
            Phase::Transcribing => "transcribing the recording".into(),
            Phase::Drafting => "computing the model's own drafts".into(),
        }
    }
}

/// What work tells its front end.
#[derive(Debug, Clone, Copy)]
pub enum Event<'e> {
    Progress { phase: &'e Phase, done: usize, total: usize },
    /// A piece of streamed text; `part` names which answer of a comparison.
    Text { part: &'e str, text: &'e str },
    /// One answer of several is complete (the last one is also the work's result).
    Answered { answer: &'e Answer },
}

/// Progress, streamed text and cancellation for one piece of work.
pub struct Job<'a> {
    cancel: &'a AtomicBool,
    sink: Box<dyn FnMut(Event<'_>) + 'a>,
    phase: Phase,
}

impl<'a> Job<'a> {
    pub fn new(cancel: &'a AtomicBool, sink: impl FnMut(Event<'_>) + 'a) -> Self {
        Self { cancel, sink: Box::new(sink), phase: Phase::Reading }
    }

    /// Work nobody watches and nobody stops (`cancel` may still be raised by the caller).
    pub fn silent(cancel: &'a AtomicBool) -> Self {
        Self::new(cancel, |_| {})
    }

    /// Enter `phase` (reported at 0 of `total`).
    pub fn enter(&mut self, phase: Phase, total: usize) {
        self.phase = phase;
        self.progress(0, total);
    }

    pub fn progress(&mut self, done: usize, total: usize) {
        (self.sink)(Event::Progress { phase: &self.phase, done, total });
    }

    pub fn text(&mut self, part: &str, text: &str) {
        (self.sink)(Event::Text { part, text });
    }

    pub fn answered(&mut self, answer: &Answer) {
        (self.sink)(Event::Answered { answer });
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    pub fn cancel_flag(&self) -> &'a AtomicBool {
        self.cancel
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// `Err(Cancelled)` once the person asked to stop.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() { Err(Error::Cancelled) } else { Ok(()) }
    }
}
