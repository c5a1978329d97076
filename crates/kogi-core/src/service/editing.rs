//! Correcting a transcript: revisions, edits, drafts, the course glossary, suspicious passages and
//! suggestions. Every change is a new revision; after one the lecture is indexed again.

use super::{Job, Kogi, Phase, lock, not_found};
use crate::correction::diff::Hunk;
use crate::correction::glossary::{self, Occurrence, ReplaceOptions, Term, TermSuggestion};
use crate::correction::suspicious::{self, Scan, ScanParams, Suggestion};
use crate::lecture::{Lecture, LectureId, Revision, RevisionId, RevisionKind};
use crate::store::Draft;
use crate::text::CharSpan;
use crate::{Error, Result};
use serde::Serialize;
use std::path::Path;

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct RevisionSummary {
    pub id: RevisionId,
    pub number: i64,
    pub parent: Option<RevisionId>,
    pub kind: RevisionKind,
    pub message: Option<String>,
    pub created_at: String,
    pub chars: usize,
}

impl From<&Revision> for RevisionSummary {
    fn from(r: &Revision) -> Self {
        Self {
            id: r.id,
            number: r.number,
            parent: r.parent,
            kind: r.kind,
            message: r.message.clone(),
            created_at: r.created_at.clone(),
            chars: r.text.chars().count(),
        }
    }
}

/// A lecture opened for correcting: the raw import, the newest revision, the history (newest
/// first) and an unsaved draft, if one was left.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct LectureView {
    pub lecture: Lecture,
    pub original: Revision,
    pub head: Revision,
    pub revisions: Vec<RevisionSummary>,
    pub draft: Option<Draft>,
    /// The lecture's recording, when one is kept (it plays at the cursor).
    pub recording: Option<crate::recording::Recording>,
}

/// A new revision; the lecture needs indexing again when `reindex` says so (front ends run
/// [`Kogi::reindex_after_edit`] as background work or at once).
#[derive(Debug, Clone, Serialize)]
pub struct Saved {
    pub revision: Revision,
    pub reindex: bool,
}

impl Kogi {
    pub fn open_lecture(&self, lecture: LectureId) -> Result<LectureView> {
        let db = self.db()?;
        let revisions = db.revisions(lecture)?;
        let original =
            revisions.first().cloned().ok_or_else(|| not_found(format!("lecture {lecture} has no revisions")))?;
        let head = db.head_revision(lecture)?;
        Ok(LectureView {
            lecture: db.lecture(lecture)?,
            original,
            head,
            revisions: revisions.iter().rev().map(RevisionSummary::from).collect(),
            draft: db.draft(lecture)?,
            recording: db.recording(lecture)?,
        })
    }

    pub fn revision(&self, revision: RevisionId) -> Result<Revision> {
        self.db()?.revision(revision)
    }

    /// A lecture's revisions, oldest first.
    pub fn revisions(&self, lecture: LectureId) -> Result<Vec<RevisionSummary>> {
        let db = self.db()?;
        db.lecture(lecture)?;
        Ok(db.revisions(lecture)?.iter().map(RevisionSummary::from).collect())
    }

    pub fn diff(&self, a: RevisionId, b: RevisionId) -> Result<Vec<Hunk>> {
        self.db()?.diff_revisions(a, b)
    }

    /// After the person's own edit was saved: its draft is that edit, and goes.
    fn saved(&self, revision: Revision) -> Result<Saved> {
        self.db()?.discard_draft(revision.lecture)?;
        Ok(Saved { revision, reindex: self.embedder_installed() })
    }

    /// After a revision the person did not type (a restore, a glossary replace, an accepted
    /// suggestion): unsaved typing in a draft stays, to be offered again, unless the new revision
    /// says the same.
    fn saved_not_typed(&self, revision: Revision) -> Result<Saved> {
        self.db()?.discard_draft_if_text(revision.lecture, &revision.text)?;
        Ok(Saved { revision, reindex: self.embedder_installed() })
    }

    /// Save the person's edit of `parent` (which must still be the newest revision) as a new revision.
    pub fn save_edit(&self, lecture: LectureId, parent: RevisionId, text: &str, message: Option<&str>) -> Result<Saved> {
        let message = message.map(str::trim).filter(|m| !m.is_empty());
        let rev = self.db()?.save_edit(lecture, parent, text, RevisionKind::Edit, message)?;
        self.saved(rev)
    }

    /// Make an old revision the newest again, as a new revision (nothing is overwritten).
    pub fn restore(&self, lecture: LectureId, revision: RevisionId) -> Result<Saved> {
        let rev = self.db()?.restore_revision(lecture, revision)?;
        self.saved_not_typed(rev)
    }

    pub fn put_draft(&self, lecture: LectureId, parent: RevisionId, text: &str) -> Result<Draft> {
        self.db()?.put_draft(lecture, parent, text)
    }

    pub fn discard_draft(&self, lecture: LectureId) -> Result<()> {
        self.db()?.discard_draft(lecture)
    }

    // ------------------------------------------------------------------------------- glossary

    /// The terms of a course (with the global ones), or every term.
    pub fn glossary(&self, course: Option<&str>) -> Result<Vec<Term>> {
        let db = self.db()?;
        match course {
            Some(c) => db.terms(Some(c)),
            None => db.all_terms(),
        }
    }

    /// The terms a course's lectures use: its own and the global ones.
    pub fn glossary_terms(&self, course: Option<&str>) -> Result<Vec<Term>> {
        self.db()?.terms(course)
    }

    /// Add a term with the wrong spellings ASR produces for it ("" course = every course).
    pub fn add_term(&self, term: &str, variants: &[String], course: &str) -> Result<Term> {
        let variants: Vec<&str> = variants.iter().map(|v| v.trim()).filter(|v| !v.is_empty()).collect();
        let mut t = Term::new(term, &variants);
        t.course = course.to_owned();
        self.db()?.add_term(&t)
    }

    /// Load terms from a file; terms without a course get `course`. Returns how many were stored.
    pub fn load_glossary(&self, file: &Path, course: &str) -> Result<usize> {
        let mut terms = glossary::load_glossary_file(file)?;
        for t in terms.iter_mut().filter(|t| t.course.is_empty()) {
            t.course = course.to_owned();
        }
        // One change: a term refused halfway leaves the glossary as it was.
        self.db()?.add_terms(&terms)?;
        Ok(terms.len())
    }

    fn lecture_terms(&self, lecture: &Lecture) -> Result<Vec<Term>> {
        let terms = self.db()?.terms(lecture.meta.course.as_deref())?;
        if terms.is_empty() {
            return Err(Error::Invalid("the glossary is empty — add the course's terms first".into()));
        }
        Ok(terms)
    }

    /// Every occurrence of the lecture course's glossary in a revision; nothing changes.
    pub fn glossary_preview(&self, revision: RevisionId, opts: &ReplaceOptions) -> Result<Vec<Occurrence>> {
        let rev = self.revision(revision)?;
        let lecture = self.db()?.lecture(rev.lecture)?;
        let terms = self.db()?.terms(lecture.meta.course.as_deref())?;
        Ok(glossary::preview(&rev.text, &terms, opts))
    }

    /// The occurrences in the newest revision of a lecture (an error when its course has no terms).
    pub fn glossary_preview_newest(&self, lecture: LectureId, opts: &ReplaceOptions) -> Result<(RevisionId, Vec<Occurrence>)> {
        let l = self.db()?.lecture(lecture)?;
        let terms = self.lecture_terms(&l)?;
        let head = self.revision(l.head)?;
        Ok((head.id, glossary::preview(&head.text, &terms, opts)))
    }

    /// Apply the occurrences the person kept, as one revision on top of `parent`.
    pub fn glossary_apply(&self, lecture: LectureId, parent: RevisionId, occurrences: &[Occurrence]) -> Result<Saved> {
        let rev = self.db()?.apply_occurrences(lecture, parent, occurrences)?;
        self.saved_not_typed(rev)
    }

    /// Spans of the newest revision that look like mis-heard glossary terms.
    pub fn glossary_suggestions(&self, lecture: LectureId) -> Result<Vec<TermSuggestion>> {
        let l = self.db()?.lecture(lecture)?;
        let terms = self.db()?.terms(l.meta.course.as_deref())?;
        let text = self.revision(l.head)?.text;
        Ok(crate::correction::readings::suggest_all(&text, &terms, self.words().analyzer()))
    }

    // ---------------------------------------------------------------------------- suspicious

    /// Passages of a revision the language model finds surprising, ranked (cached per revision,
    /// model and parameters).
    pub fn scan(&self, revision: RevisionId, params: &ScanParams, job: &mut Job) -> Result<Scan> {
        let mut db = self.db()?;
        db.revision(revision)?;
        let generator = self.generator(job)?;
        let mut lm = lock(&generator);
        job.enter(Phase::Scanning, 0);
        let cancel = job.cancel_flag();
        suspicious::scan_revision(&mut db, lm.as_mut(), revision, params, &mut |d, t| job.progress(d, t), cancel)
    }

    /// Replacements for one span of a revision: glossary terms first, then the model.
    pub fn suggest(&self, revision: RevisionId, span: CharSpan, job: &mut Job) -> Result<Vec<Suggestion>> {
        let rev = self.revision(revision)?;
        let n = rev.text.chars().count();
        if span.start >= span.end || span.end > n {
            return Err(Error::Invalid(format!(
                "the span {}..{} is empty or runs past the end of the text ({n} characters)",
                span.start, span.end
            )));
        }
        let course = self.db()?.lecture(rev.lecture)?.meta.course;
        let glossary: Vec<(String, Vec<String>)> =
            self.db()?.terms(course.as_deref())?.into_iter().map(|t| (t.term, t.variants)).collect();
        let generator = self.generator(job)?;
        let mut lm = lock(&generator);
        suspicious::suggest(lm.as_mut(), &rev.text, span, &glossary, suspicious::SUGGEST_CONTEXT_CHARS)
    }

    /// Accept a suggestion: a new revision on top of `parent` with the span replaced.
    pub fn accept(&self, lecture: LectureId, parent: RevisionId, suggestion: &Suggestion) -> Result<Saved> {
        let rev = suspicious::accept(&mut *self.db()?, lecture, parent, suggestion)?;
        self.saved_not_typed(rev)
    }
}
