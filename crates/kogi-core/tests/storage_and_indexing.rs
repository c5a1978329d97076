//! Storage, revisions and incremental indexing, with a deterministic stand-in embedder (the real
//! model is exercised in the workspace's `tests/` crate).

use kogi_core::chunk::Strategy;
use kogi_core::index::Indexer;
use kogi_core::inference::{Embed, Role};
use kogi_core::lecture::RevisionKind;
use kogi_core::retrieval::{Mode, Retriever, SearchParams};
use kogi_core::store::{Db, SearchFilter};
use kogi_core::transcript::import::{ImportOptions, import_bytes};
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

/// Bag-of-characters vectors: similar texts get similar vectors; counts how many texts it embedded.
struct CharBag {
    calls: Mutex<usize>,
}

impl CharBag {
    fn new() -> Self {
        Self { calls: Mutex::new(0) }
    }
    fn embedded(&self) -> usize {
        *self.calls.lock().unwrap()
    }
}

impl Embed for CharBag {
    fn model_id(&self) -> &str {
        "char-bag@test"
    }
    fn dimensions(&self) -> usize {
        64
    }
    fn embed(&self, texts: &[&str], _role: Role) -> kogi_core::Result<Vec<Vec<f32>>> {
        *self.calls.lock().unwrap() += texts.len();
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0f32; 64];
                for c in t.chars() {
                    v[(c as usize * 31) % 64] += 1.0;
                }
                let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
                v.into_iter().map(|x| x / n).collect()
            })
            .collect())
    }
}

const LECTURE: &str = "今日はスケール則について話します。計算資源とデータとパラメータ数の関係です。\n\
Chinchillaの経験則では最適なトークン数はパラメータ数の20倍です。\n\
推論時の計算資源を増やすと性能が上がります。これを推論時スケーリングと呼びます。\n\
最後に、PPOのような強化学習の話は次回にします。";

fn strategy() -> Strategy {
    Strategy::SentenceWindow { radius: 1, max_chars: 120 }
}

fn setup() -> (Db, kogi_core::lecture::LectureId) {
    let mut db = Db::open_in_memory().unwrap();
    let t = import_bytes("day4.txt", LECTURE.as_bytes(), &ImportOptions::default()).unwrap();
    let l = db.import_transcript(&t).unwrap().lecture.id;
    (db, l)
}

#[test]
fn import_makes_revision_one_and_the_same_file_twice_is_one_lecture() {
    let (mut db, l) = setup();
    let rev = db.head_revision(l).unwrap();
    assert_eq!(rev.number, 1);
    assert_eq!(rev.kind, RevisionKind::Import);
    assert_eq!(rev.text, LECTURE);
    let again = import_bytes("copy-with-another-name.txt", LECTURE.as_bytes(), &ImportOptions::default()).unwrap();
    let second = db.import_transcript(&again).unwrap();
    assert!(!second.created);
    assert_eq!(second.lecture.id, l);
    assert_eq!(db.lectures(None).unwrap().len(), 1);
}

#[test]
fn revisions_are_kept_immutable_and_never_deleted() {
    let (mut db, l) = setup();
    let r1 = db.head_revision(l).unwrap();
    let r2 = db.add_revision(l, r1.id, RevisionKind::Edit, Some("fix"), "直した本文。", &[]).unwrap();
    assert_eq!((r2.number, r2.parent), (2, Some(r1.id)));
    assert!(db.conn().execute("UPDATE revisions SET text = 'x' WHERE id = ?1", [r1.id.0]).is_err());
    assert!(db.conn().execute("DELETE FROM revisions WHERE id = ?1", [r1.id.0]).is_err());
    assert_eq!(db.revision(r1.id).unwrap().text, LECTURE);
    assert_eq!(db.revisions(l).unwrap().len(), 2);
}

#[test]
fn a_save_based_on_a_stale_revision_is_refused_and_loses_nothing() {
    let (mut db, l) = setup();
    let r1 = db.head_revision(l).unwrap();
    db.add_revision(l, r1.id, RevisionKind::Edit, None, "first save", &[]).unwrap();
    let err = db.add_revision(l, r1.id, RevisionKind::Edit, None, "second save", &[]).unwrap_err();
    assert!(err.to_string().contains("changed since"), "{err}");
    let revs = db.revisions(l).unwrap();
    assert_eq!(revs.len(), 2);
    assert_eq!(revs[1].text, "first save");
}

#[test]
fn migrations_record_the_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.sqlite3");
    let v = Db::open(&path).unwrap().schema_version().unwrap();
    assert!(v >= 1);
    // Reopening applies nothing twice.
    assert_eq!(Db::open(&path).unwrap().schema_version().unwrap(), v);
    let mode: String = Db::open(&path).unwrap().conn().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn reindexing_an_edited_revision_embeds_only_new_chunk_texts() {
    let (mut db, l) = setup();
    let e = CharBag::new();
    let ix = Indexer::new(&e);
    let cancel = AtomicBool::new(false);
    let first = ix.index_lecture(&mut db, l, &strategy(), &mut |_| {}, &cancel).unwrap();
    assert_eq!(first.embedded, first.chunks);
    let calls = e.embedded();
    // Unchanged revision: nothing to do.
    let same = ix.index_lecture(&mut db, l, &strategy(), &mut |_| {}, &cancel).unwrap();
    assert!(same.up_to_date);
    assert_eq!(e.embedded(), calls);
    // Change one sentence.
    let head = db.head_revision(l).unwrap();
    let edited = head.text.replace("これを推論時スケーリングと呼びます。", "これをInference Time Scalingと呼びます。");
    db.add_revision(l, head.id, RevisionKind::Edit, None, &edited, &[]).unwrap();
    let second = ix.index_lecture(&mut db, l, &strategy(), &mut |_| {}, &cancel).unwrap();
    assert_eq!(second.embedded, 1, "{second:?}");
    assert_eq!(e.embedded(), calls + 1);
    assert_eq!(second.reused, second.chunks - 1);
}

#[test]
fn search_uses_the_newest_revision_and_old_passages_still_resolve() {
    let (mut db, l) = setup();
    let e = CharBag::new();
    let cancel = AtomicBool::new(false);
    Indexer::new(&e).index_lecture(&mut db, l, &strategy(), &mut |_| {}, &cancel).unwrap();
    let mut r = Retriever::new(&e, &strategy());
    let params = SearchParams { mode: Mode::Bm25, k: 3, ..Default::default() };
    let before = r.search(&db, "Chinchillaの経験則", &params).unwrap();
    assert!(before[0].text.contains("Chinchilla"));
    let old_rev = before[0].revision;
    let head = db.head_revision(l).unwrap();
    db.add_revision(l, head.id, RevisionKind::Edit, None, &head.text.replace("Chinchilla", "チンチラ"), &[]).unwrap();
    Indexer::new(&e).index_lecture(&mut db, l, &strategy(), &mut |_| {}, &cancel).unwrap();
    r.invalidate();
    let after = r.search(&db, "Chinchillaの経験則", &params).unwrap();
    assert!(after.iter().all(|p| p.revision != old_rev));
    // A citation of the old revision still finds its text.
    let old = db.revision(old_rev).unwrap();
    assert!(kogi_core::text::slice_chars(&old.text, before[0].span).contains("Chinchilla"));
}

#[test]
fn bm25_finds_japanese_substrings_and_never_parses_user_syntax() {
    let (mut db, l) = setup();
    let e = CharBag::new();
    Indexer::new(&e).index_lecture(&mut db, l, &strategy(), &mut |_| {}, &AtomicBool::new(false)).unwrap();
    let mut r = Retriever::new(&e, &strategy());
    let params = SearchParams { mode: Mode::Bm25, k: 1, filter: SearchFilter::default(), ..Default::default() };
    let hit = r.search(&db, "推論時スケーリング", &params).unwrap();
    assert!(hit[0].text.contains("推論時スケーリング"), "{:?}", hit[0].text);
    for nasty in [r#"スケール則 "AND" NEAR(x y) OR *"#, "PPO -強化学習", "col:text ^スケール", r#"""""#, "強化学習*"] {
        r.search(&db, nasty, &params).unwrap_or_else(|e| panic!("{nasty}: {e}"));
    }
}

#[test]
fn filters_restrict_search_to_a_lecture_or_course() {
    let mut db = Db::open_in_memory().unwrap();
    let e = CharBag::new();
    let mut ids = Vec::new();
    for (i, course) in ["LLM", "NLP"].iter().enumerate() {
        let mut opts = ImportOptions::default();
        opts.meta.course = Some(course.to_string());
        let t = import_bytes(&format!("l{i}.txt"), format!("{LECTURE}\n講義{i}").as_bytes(), &opts).unwrap();
        let id = db.import_transcript(&t).unwrap().lecture.id;
        Indexer::new(&e).index_lecture(&mut db, id, &strategy(), &mut |_| {}, &AtomicBool::new(false)).unwrap();
        ids.push(id);
    }
    let mut r = Retriever::new(&e, &strategy());
    for mode in [Mode::Dense, Mode::Bm25, Mode::Hybrid] {
        let p = SearchParams { mode, k: 10, filter: SearchFilter { course: Some("NLP".into()), ..Default::default() }, ..Default::default() };
        let hits = r.search(&db, "スケール則の計算資源", &p).unwrap();
        assert!(!hits.is_empty() && hits.iter().all(|h| h.lecture == ids[1]), "{mode:?}");
        let p = SearchParams { mode, k: 10, filter: SearchFilter { lectures: vec![ids[0]], ..Default::default() }, ..Default::default() };
        assert!(r.search(&db, "スケール則の計算資源", &p).unwrap().iter().all(|h| h.lecture == ids[0]));
    }
}

#[test]
fn passages_never_repeat_what_a_better_ranked_passage_shows() {
    let (mut db, l) = setup();
    let e = CharBag::new();
    let s = Strategy::SentenceWindow { radius: 2, max_chars: 120 };
    Indexer::new(&e).index_lecture(&mut db, l, &s, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    let mut r = Retriever::new(&e, &s);
    let hits = r.search(&db, "推論時の計算資源", &SearchParams { k: 5, ..Default::default() }).unwrap();
    assert!(!hits.is_empty());
    for (i, a) in hits.iter().enumerate() {
        assert!(a.span.start <= a.matched.start && a.matched.end <= a.span.end, "{:?} holds {:?}", a.span, a.matched);
        for b in &hits[i + 1..] {
            // A later passage whose own matched sentence is already shown is left whole (nothing to gain).
            assert!(!a.span.overlaps(&b.span) || a.span.overlaps(&b.matched), "{:?} repeats part of {:?}", b.span, a.span);
        }
    }
}

#[test]
fn a_read_only_database_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.sqlite3");
    drop(Db::open(&path).unwrap());
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&path, perms).unwrap();
    // root ignores file modes: only check when the file really is read-only for us.
    if std::fs::OpenOptions::new().write(true).open(&path).is_ok() {
        return;
    }
    let t = import_bytes("a.txt", LECTURE.as_bytes(), &ImportOptions::default()).unwrap();
    let err = Db::open(&path).and_then(|mut db| db.import_transcript(&t).map(|_| ())).unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
}

#[test]
fn a_locked_database_is_a_clear_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.sqlite3");
    let holder = Db::open(&path).unwrap();
    holder.conn().execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut db = Db::open(&path).unwrap();
    let t = import_bytes("a.txt", LECTURE.as_bytes(), &ImportOptions::default()).unwrap();
    let err = db.import_transcript(&t).unwrap_err();
    assert!(err.to_string().contains("locked"), "{err}");
    holder.conn().execute_batch("ROLLBACK").unwrap();
    assert!(db.import_transcript(&t).unwrap().created);
}

#[test]
fn the_original_import_stays_searchable_beside_the_newest_revision() {
    use kogi_core::store::Which;
    let (mut db, l) = setup();
    let e = CharBag::new();
    let cancel = AtomicBool::new(false);
    let ix = Indexer::new(&e);
    let r1 = db.head_revision(l).unwrap();
    ix.index_lecture(&mut db, l, &strategy(), &mut |_| {}, &cancel).unwrap();
    let r2 = db.add_revision(l, r1.id, RevisionKind::Edit, None, &r1.text.replace("Chinchilla", "チンチラ"), &[]).unwrap();
    ix.index_lecture(&mut db, l, &strategy(), &mut |_| {}, &cancel).unwrap();
    let r3 = db.add_revision(l, r2.id, RevisionKind::Edit, None, &r2.text.replace("チンチラ", "ちんちら"), &[]).unwrap();
    ix.index_lecture(&mut db, l, &strategy(), &mut |_| {}, &cancel).unwrap();
    let mut r = Retriever::new(&e, &strategy());
    for (which, rev) in [(Which::Original, r1.id), (Which::Newest, r3.id)] {
        let p = SearchParams { mode: Mode::Hybrid, k: 3, filter: SearchFilter { revision: which, ..Default::default() }, ..Default::default() };
        let hits = r.search(&db, "経験則", &p).unwrap();
        assert!(!hits.is_empty() && hits.iter().all(|h| h.revision == rev), "{which:?}");
    }
    // The intermediate revision's chunks were dropped (derived data); the revision itself stays.
    assert!(db.chunk_set(r2.id, &strategy().name(), e.model_id()).unwrap().is_none());
    assert_eq!(db.revision(r2.id).unwrap().number, 2);
}

#[test]
fn two_connections_opening_a_new_database_at_once_both_get_the_whole_schema() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..20 {
        let path = dir.path().join(format!("race-{i}.sqlite3"));
        let opened: Vec<_> = std::thread::scope(|s| {
            let a = s.spawn(|| Db::open(&path).map(|db| db.schema_version().unwrap()));
            let b = s.spawn(|| Db::open(&path).map(|db| db.schema_version().unwrap()));
            vec![a.join().unwrap(), b.join().unwrap()]
        });
        for o in &opened {
            assert!(o.is_ok(), "round {i}: {o:?}");
        }
        assert_eq!(opened[0].as_ref().unwrap(), opened[1].as_ref().unwrap());
        assert_eq!(Db::open(&path).unwrap().integrity_check().unwrap(), "ok");
    }
}
