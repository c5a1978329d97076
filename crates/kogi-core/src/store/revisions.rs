//! Revisions made from other revisions: an edit saved with its segment times carried over, a
//! restore, a glossary applied, and the diff between two. The text work is in
//! [`crate::correction`]; what is written goes through [`Db::add_revision`], one transaction each.

use super::Db;
use crate::correction::diff::{Hunk, diff_texts, map_segments};
use crate::correction::glossary::{Occurrence, ReplaceOptions, Term, applied_text, preview};
use crate::lecture::{LectureId, Revision, RevisionId, RevisionKind};
use crate::{Error, Result};

fn stale(lecture: LectureId, parent: RevisionId, head: RevisionId) -> Error {
    Error::Invalid(format!(
        "lecture {lecture} changed since revision {parent} was opened (newest is revision {head}) — reload it and apply your edit again; nothing was overwritten"
    ))
}

impl Db {
    /// The hunks that turn revision `a` into revision `b` (both of one lecture).
    pub fn diff_revisions(&self, a: RevisionId, b: RevisionId) -> Result<Vec<Hunk>> {
        let ra = self.revision(a)?;
        let rb = self.revision(b)?;
        if ra.lecture != rb.lecture {
            return Err(Error::Invalid(format!(
                "revision {a} belongs to lecture {} and revision {b} to lecture {} — compare revisions of one lecture",
                ra.lecture, rb.lecture
            )));
        }
        Ok(diff_texts(&ra.text, &rb.text))
    }

    /// Restore `revision` as a new revision (kind Restore) on top of the lecture's newest one:
    /// nothing is overwritten, and the revisions in between stay in the history.
    pub fn restore_revision(&mut self, lecture: LectureId, revision: RevisionId) -> Result<Revision> {
        let old = self.revision(revision)?;
        if old.lecture != lecture {
            return Err(Error::Missing {
                message: format!("revision {revision} belongs to lecture {}, not lecture {lecture}", old.lecture),
                remedy: crate::Remedy::ListRevisions(Some(lecture.0)),
            });
        }
        let head = self.lecture(lecture)?.head;
        let newest = self.revision(head)?;
        if newest.text == old.text && newest.segments == old.segments {
            let which = if head == revision { "is the newest revision".to_owned() } else { format!("reads exactly as the newest, #{}", newest.number) };
            return Err(Error::Invalid(format!("revision #{} {which} — there is nothing to restore, nothing was saved", old.number)));
        }
        let message = format!("restore revision {}", old.number);
        self.add_revision(lecture, head, RevisionKind::Restore, Some(&message), &old.text, &old.segments)
    }

    /// Save an edit (the full new text) as a revision on top of `parent`, which must still be the
    /// lecture's newest revision (a stale save is refused, see [`Db::add_revision`]). Segment
    /// timestamps are carried over with [`map_segments`].
    pub fn save_edit(
        &mut self,
        lecture: LectureId,
        parent: RevisionId,
        text: &str,
        kind: RevisionKind,
        message: Option<&str>,
    ) -> Result<Revision> {
        if kind == RevisionKind::Import {
            return Err(Error::Invalid(
                "an edit cannot be saved as kind `import` — only a lecture's first revision is an import".into(),
            ));
        }
        let base = self.revision(parent)?;
        if base.lecture != lecture {
            return Err(Error::Invalid(format!(
                "revision {parent} belongs to lecture {}, not lecture {lecture} — edit a revision of the lecture you save to",
                base.lecture
            )));
        }
        // Refuse a stale save before spending a diff on it (add_revision checks again, atomically).
        let head = self.lecture(lecture)?.head;
        if head != parent {
            return Err(stale(lecture, parent, head));
        }
        let segments = map_segments(&base.text, text, &base.segments);
        self.add_revision(lecture, parent, kind, message, text, &segments)
    }

    /// Preview `terms` on revision `parent`, apply the occurrences `opts` marks, and save the result
    /// as ONE revision (kind Glossary) on top of `parent` (which must be the newest). Returns the
    /// revision and every occurrence found (applied or not). Refused, saving nothing, when no
    /// occurrence is to be applied.
    pub fn apply_glossary(
        &mut self,
        lecture: LectureId,
        parent: RevisionId,
        terms: &[Term],
        opts: &ReplaceOptions,
    ) -> Result<(Revision, Vec<Occurrence>)> {
        let terms = terms.iter().map(Term::normalised).collect::<Result<Vec<_>>>()?;
        let base = self.revision(parent)?;
        let occurrences = preview(&base.text, &terms, opts);
        let rev = self.apply_occurrences(lecture, parent, &occurrences)?;
        Ok((rev, occurrences))
    }

    /// Save the occurrences marked `applied` (a preview a person went through) as one revision
    /// (kind Glossary) on top of `parent`.
    pub fn apply_occurrences(
        &mut self,
        lecture: LectureId,
        parent: RevisionId,
        occurrences: &[Occurrence],
    ) -> Result<Revision> {
        let base = self.revision(parent)?;
        let (text, message) = applied_text(&base, occurrences)?;
        self.save_edit(lecture, parent, &text, RevisionKind::Glossary, Some(&message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correction::diff::apply_hunks;
    use crate::transcript::import::{ImportOptions, import_bytes};

    fn slice(t: &str, s: crate::text::CharSpan) -> String {
        crate::text::slice_chars(t, s).to_owned()
    }

    const SRT: &str = "1\n00:00:01,000 --> 00:00:03,000\n今日はスケール足の話です。\n\n2\n00:00:03,000 --> 00:00:05,000\n最近大湾と呼ばれる論文。\n\n3\n00:00:05,000 --> 00:00:07,000\n以上です。\n";

    fn lecture() -> (Db, LectureId, Revision) {
        let mut db = Db::open_in_memory().unwrap();
        let t = import_bytes("day4.srt", SRT.as_bytes(), &ImportOptions::default()).unwrap();
        let l = db.import_transcript(&t).unwrap().lecture.id;
        let r1 = db.head_revision(l).unwrap();
        (db, l, r1)
    }

    #[test]
    fn save_edit_maps_segments_and_refuses_a_stale_parent() {
        let (mut db, l, r1) = lecture();
        assert_eq!(r1.segments.len(), 3, "{:?}", r1.text);
        let edited = r1.text.replace("スケール足", "スケール則").replace("大湾", "o1");
        let r2 = db.save_edit(l, r1.id, &edited, RevisionKind::Edit, Some("fix terms")).unwrap();
        assert_eq!((r2.number, r2.parent, r2.kind), (2, Some(r1.id), RevisionKind::Edit));
        let texts: Vec<String> = r2.segments.iter().map(|s| slice(&r2.text, s.span)).collect();
        assert_eq!(texts, ["今日はスケール則の話です。", "最近o1と呼ばれる論文。", "以上です。"]);
        assert_eq!(
            r2.segments.iter().map(|s| s.start_ms).collect::<Vec<_>>(),
            r1.segments.iter().map(|s| s.start_ms).collect::<Vec<_>>()
        );
        let err = db.save_edit(l, r1.id, "別の編集", RevisionKind::Edit, None).unwrap_err();
        assert!(err.to_string().contains("changed since"), "{err}");
        assert_eq!(db.revisions(l).unwrap().len(), 2);
        assert!(db.save_edit(l, r2.id, "x", RevisionKind::Import, None).is_err());
    }

    #[test]
    fn restoring_the_newest_text_is_refused_and_adds_no_identical_revision() {
        let (mut db, l, r1) = lecture();
        let e = db.restore_revision(l, r1.id).unwrap_err().to_string();
        assert!(e.contains("is the newest revision") && e.contains("nothing was saved"), "{e}");
        let r2 = db.save_edit(l, r1.id, "全部書き換えた。", RevisionKind::Edit, None).unwrap();
        let r3 = db.restore_revision(l, r1.id).unwrap();
        let e = db.restore_revision(l, r1.id).unwrap_err().to_string();
        assert!(e.contains(&format!("newest, #{}", r3.number)), "{e}");
        assert_eq!(db.revisions(l).unwrap().len(), 3, "{r2:?}");
    }

    #[test]
    fn restore_makes_a_new_revision_equal_to_the_old_text_and_keeps_everything() {
        let (mut db, l, r1) = lecture();
        let r2 = db.save_edit(l, r1.id, "全部書き換えた。", RevisionKind::Edit, None).unwrap();
        let r3 = db.restore_revision(l, r1.id).unwrap();
        assert_eq!((r3.number, r3.parent, r3.kind), (3, Some(r2.id), RevisionKind::Restore));
        assert_eq!(r3.text, r1.text);
        assert_eq!(r3.segments, r1.segments);
        let all = db.revisions(l).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[1].text, "全部書き換えた。");
        assert_eq!(db.lecture(l).unwrap().head, r3.id);
        let back = db.diff_revisions(r2.id, r3.id).unwrap();
        assert_eq!(apply_hunks(&r2.text, &back), r1.text);
        assert!(db.diff_revisions(r1.id, r3.id).unwrap().is_empty());
    }

    #[test]
    fn diff_revisions_names_missing_revisions_and_refuses_two_lectures() {
        let (mut db, _l, r1) = lecture();
        let err = db.diff_revisions(r1.id, RevisionId(999)).unwrap_err();
        assert!(err.to_string().contains("no revision 999"), "{err}");
        let other = import_bytes("other.txt", "別の講義。".as_bytes(), &ImportOptions::default()).unwrap();
        let l2 = db.import_transcript(&other).unwrap().lecture.id;
        let r_other = db.head_revision(l2).unwrap();
        let err = db.diff_revisions(r1.id, r_other.id).unwrap_err();
        assert!(err.to_string().contains("one lecture"), "{err}");
        assert!(db.restore_revision(l2, r1.id).is_err());
    }

    #[test]
    fn apply_glossary_saves_one_revision_and_keeps_segments() {
        let srt = "1\n00:00:01,000 --> 00:00:02,000\nスケール足の話。\n\n2\n00:00:02,000 --> 00:00:03,000\nそれは大湾です。\n";
        let mut db = Db::open_in_memory().unwrap();
        let t = import_bytes("a.srt", srt.as_bytes(), &ImportOptions::default()).unwrap();
        let l = db.import_transcript(&t).unwrap().lecture.id;
        let r1 = db.head_revision(l).unwrap();
        let terms = [Term::new("スケール則", &["スケール足"]), Term::new("o1", &["大湾"])];
        let (r2, occ) = db.apply_glossary(l, r1.id, &terms, &ReplaceOptions::default()).unwrap();
        assert_eq!(occ.len(), 2);
        assert_eq!((r2.kind, r2.parent, r2.number), (RevisionKind::Glossary, Some(r1.id), 2));
        assert_eq!(r2.text, "スケール則の話。\nそれはo1です。");
        assert!(r2.message.as_deref().unwrap().contains("スケール足→スケール則 ×1"), "{:?}", r2.message);
        assert_eq!(r2.segments.len(), 2);
        assert_eq!(crate::text::slice_chars(&r2.text, r2.segments[1].span), "それはo1です。");
        // Nothing left to replace: refused, nothing saved.
        let err = db.apply_glossary(l, r2.id, &terms, &ReplaceOptions::default()).unwrap_err();
        assert!(err.to_string().contains("changes nothing"), "{err}");
        // Stale parent refused.
        let err = db.apply_glossary(l, r1.id, &terms, &ReplaceOptions::default()).unwrap_err();
        assert!(err.to_string().contains("changed since"), "{err}");
        assert!(matches!(
            db.apply_glossary(l, r2.id, &[Term::new("o1", &[""])], &ReplaceOptions::default()),
            Err(Error::Invalid(_))
        ));
        assert_eq!(db.revisions(l).unwrap().len(), 2);
    }
}
