//! The glossary table: per-course terms (see [`crate::correction::glossary`] for what they are and
//! how they are applied).

use super::Db;
use crate::correction::glossary::{Term, merge_terms};
use crate::{Error, Result};
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

const TERM_COLS: &str = "id, course, term, variants, note";

fn term_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Term> {
    let variants: String = r.get(3)?;
    Ok(Term {
        id: Some(r.get(0)?),
        course: r.get(1)?,
        term: r.get(2)?,
        variants: serde_json::from_str(&variants).unwrap_or_default(),
        note: r.get(4)?,
    })
}

impl Db {
    /// Store a term, or merge it into the stored one with the same (course, term): its variants are
    /// added to the stored ones, and its note (when it has one) replaces the stored note.
    pub fn add_term(&mut self, t: &Term) -> Result<Term> {
        let id = self.add_terms(std::slice::from_ref(t))?[0];
        self.glossary_term(id)
    }

    /// Store (or merge) several terms as one change: all of them, or none when one is refused.
    /// Returns their ids.
    pub fn add_terms(&mut self, terms: &[Term]) -> Result<Vec<i64>> {
        let terms = terms.iter().map(Term::normalised).collect::<Result<Vec<_>>>()?;
        let err = |e| super::db_error(&self.path, e);
        let tx = Transaction::new_unchecked(self.conn(), TransactionBehavior::Immediate).map_err(err)?;
        let mut ids = Vec::with_capacity(terms.len());
        for t in terms {
            let existing = tx
                .query_row(
                    &format!("SELECT {TERM_COLS} FROM glossary WHERE course = ?1 AND term = ?2"),
                    params![t.course, t.term],
                    term_from_row,
                )
                .optional()
                .map_err(err)?;
            ids.push(match existing {
                Some(old) => {
                    let merged = merge_terms(vec![old.clone(), t]).remove(0);
                    let variants = serde_json::to_string(&merged.variants).unwrap_or_else(|_| "[]".into());
                    tx.execute("UPDATE glossary SET variants = ?1, note = ?2 WHERE id = ?3", params![variants, merged.note, old.id])
                        .map_err(err)?;
                    old.id.unwrap_or_default()
                }
                None => {
                    let variants = serde_json::to_string(&t.variants).unwrap_or_else(|_| "[]".into());
                    tx.execute(
                        "INSERT INTO glossary (course, term, variants, note) VALUES (?1, ?2, ?3, ?4)",
                        params![t.course, t.term, variants, t.note],
                    )
                    .map_err(err)?;
                    tx.last_insert_rowid()
                }
            });
        }
        tx.commit().map_err(err)?;
        Ok(ids)
    }

    /// One stored term by id.
    pub fn glossary_term(&self, id: i64) -> Result<Term> {
        self.conn()
            .query_row(&format!("SELECT {TERM_COLS} FROM glossary WHERE id = ?1"), [id], term_from_row)
            .optional()
            .map_err(|e| self.err(e))?
            .ok_or_else(|| Error::NotFoundItem(format!("no glossary term {id} — list the glossary to see the ids")))
    }

    /// The terms that apply to a course: its own and the global ones (course ""), by term. `None`
    /// (a lecture without a course): the global ones only.
    pub fn terms(&self, course: Option<&str>) -> Result<Vec<Term>> {
        let mut stmt = self
            .conn()
            .prepare(&format!(
                "SELECT {TERM_COLS} FROM glossary WHERE course = '' OR course = ?1 ORDER BY term, course"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([course], term_from_row).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    /// Every stored term of every course, by course then term.
    pub fn all_terms(&self) -> Result<Vec<Term>> {
        let mut stmt = self
            .conn()
            .prepare(&format!("SELECT {TERM_COLS} FROM glossary ORDER BY course, term"))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], term_from_row).map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    pub fn remove_term(&mut self, id: i64) -> Result<()> {
        let n = self.conn().execute("DELETE FROM glossary WHERE id = ?1", [id]).map_err(|e| self.err(e))?;
        if n == 0 {
            return Err(Error::NotFoundItem(format!("no glossary term {id} — list the glossary to see the ids")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glossary_storage_upserts_by_course_and_lists_course_plus_global_terms() {
        let mut db = Db::open_in_memory().unwrap();
        let g = db.add_term(&Term::new("o1", &["大湾"])).unwrap();
        let mut t = Term::new("スケール則", &["スケール足"]);
        t.course = "LLM2024".into();
        let a = db.add_term(&t).unwrap();
        t.variants = vec!["スケール3".into(), "スケール足".into()];
        t.note = Some("scaling law".into());
        let b = db.add_term(&t).unwrap();
        assert_eq!(a.id, b.id);
        assert_eq!(b.variants, ["スケール足", "スケール3"]);
        assert_eq!(b.note.as_deref(), Some("scaling law"));
        let mut other = Term::new("スケール則", &["スケール側"]);
        other.course = "NLP".into();
        db.add_term(&other).unwrap();
        let names = |ts: Vec<Term>| ts.into_iter().map(|t| format!("{}:{}", t.course, t.term)).collect::<Vec<_>>();
        assert_eq!(names(db.terms(Some("LLM2024")).unwrap()), [":o1", "LLM2024:スケール則"]);
        assert_eq!(names(db.terms(None).unwrap()), [":o1"]);
        assert_eq!(db.all_terms().unwrap().len(), 3);
        db.remove_term(g.id.unwrap()).unwrap();
        assert_eq!(names(db.terms(Some("LLM2024")).unwrap()), ["LLM2024:スケール則"]);
        assert!(matches!(db.remove_term(g.id.unwrap()), Err(Error::NotFoundItem(_))));
    }
}
