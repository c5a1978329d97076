//! Faults through the real `kogi` binary: every workflow that writes is killed (SIGKILL) at points
//! spread over its run time, two writers share one database, and the database's disk fills up.
//!
//! After every kill: the database opens and passes `PRAGMA integrity_check`, the full-text index's
//! own check and the foreign-key check; no revision is half-written (revision numbers run 1..n,
//! each parent is the revision before, the text matches its hash, segments and chunks lie inside
//! their text, every chunk has its embedding); after a `kogi search` (which finishes an edit's
//! interrupted index) every lecture is searchable or the search says it is not; the models folder
//! holds no half model; and the same command run again completes (or, when the killed run had
//! already done the work, says there is nothing left to do), after which every lecture is
//! searchable and no `*.part` is left.
//!
//! Workflows: import (a batch of two files with --index), index, glossary apply, restore, accept a
//! suggestion, model import (`kogi models add` of the reference SmolLM2 GGUF that
//! scripts/setup-reference.sh fetches; skipped, saying so, without it). Saving an edit has no
//! command (the desktop app's editor); its store path is the one glossary apply and restore take.
//!
//! Budget: `KOGI_KILL_POINTS` kills per workflow (default 3), at deterministic pseudo-random
//! delays (`KOGI_KILL_SEED` picks others), one per equal slice of the workflow's measured run
//! time. The figures are printed: `cargo test -p kogi-cli --test fault_kill -- --nocapture`.

mod support;

use kogi_core::lecture::{LectureId, RevisionKind};
use kogi_core::store::{Db, sha256_hex};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;
use support::Kogi;

/// The kill points are timed against a measured run: the tests take the machine one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

fn kill_points() -> usize {
    env_number("KOGI_KILL_POINTS", 3).max(1) as usize
}

/// SplitMix64, seeded by the workflow's name: the same delays on every run unless `KOGI_KILL_SEED`.
struct Rng(u64);

impl Rng {
    fn for_workflow(name: &str) -> Rng {
        let mut h = 0xcbf2_9ce4_8422_2325_u64 ^ env_number("KOGI_KILL_SEED", 14);
        for b in name.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Rng(h)
    }

    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

// ------------------------------------------------------------------------------ transcripts

/// Words that occur in one lecture only: its marker for search.
const TAGS: &[&str] = &[
    "アルパカ", "ペンギン", "カモノハシ", "ハリネズミ", "カピバラ", "フラミンゴ", "コアラ", "ラッコ", "ナマケモノ", "シマウマ",
    "オカピ", "ビーバー", "アザラシ", "セイウチ", "トナカイ", "ダチョウ", "フクロウ", "ハヤブサ", "カメレオン", "イグアナ",
    "マンボウ", "ウミガメ", "ヤマアラシ", "アルマジロ",
];

fn tag(i: usize) -> String {
    let n = TAGS.len();
    if i < n { TAGS[i].to_owned() } else { format!("{}{}", TAGS[i % n], TAGS[(i / n) % n]) }
}

/// A lecture of its own: the sample lecture's sentences, each marked with the tag (so that every
/// chunk is new and is embedded), a marker sentence for search, and a few words the glossary fixes.
fn lecture_text(tag: &str, parts: usize) -> String {
    let srt = std::fs::read_to_string(support::repo().join("examples/sample-lecture.srt")).unwrap();
    let lines: Vec<&str> =
        srt.lines().map(str::trim).filter(|l| !l.is_empty() && !l.contains("-->") && l.parse::<u32>().is_err()).collect();
    let mut s = format!("この講義の合言葉は{tag}です。\n");
    for p in 0..parts {
        s += &format!("ここでスケール足と水温時とブロッキングについて補足します（{tag}{p}）。\n");
        for l in &lines {
            s += &l.replace('。', &format!("（{tag}{p}）。"));
            s.push('\n');
        }
    }
    s
}

fn query(tag: &str) -> String {
    format!("合言葉は{tag}")
}

/// Character offsets of the first `needle` in `text`.
fn char_span(text: &str, needle: &str) -> (usize, usize) {
    let at = text.find(needle).unwrap();
    let start = text[..at].chars().count();
    (start, start + needle.chars().count())
}

// ---------------------------------------------------------------------------- the database

/// The chunking strategy and embedding model the index is built with here.
#[derive(Clone)]
struct IndexKey {
    strategy: String,
    model: String,
}

fn index_key(db: &Path) -> IndexKey {
    let db = Db::open(db).unwrap();
    let mut stmt = db.conn().prepare("SELECT DISTINCT strategy, model FROM chunk_sets").unwrap();
    let keys: Vec<(String, String)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(keys.len(), 1, "one chunking and one model expected: {keys:?}");
    let (strategy, model) = keys.into_iter().next().unwrap();
    IndexKey { strategy, model }
}

/// Everything that must hold in a database kogi leaves behind, killed or not: the problems found.
fn soundness(path: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    let db = match Db::open(path) {
        Ok(db) => db,
        Err(e) => return vec![format!("the database does not open: {e}")],
    };
    match db.integrity_check() {
        Ok(s) if s == "ok" => {}
        other => bad.push(format!("PRAGMA integrity_check: {other:?}")),
    }
    let c = db.conn();
    let fk = c.prepare("PRAGMA foreign_key_check").and_then(|mut s| s.query_map([], |_| Ok(())).map(|r| r.count()));
    if fk.as_ref().map_or(true, |n| *n > 0) {
        bad.push(format!("PRAGMA foreign_key_check: {fk:?} rows"));
    }
    if let Err(e) = c.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)", []) {
        bad.push(format!("the full-text index does not match the chunks: {e}"));
    }
    if let Err(e) = c.execute("INSERT INTO chunks_words(chunks_words, rank) VALUES ('integrity-check', 1)", []) {
        bad.push(format!("the word index does not match the chunks: {e}"));
    }

    // Revisions: numbered 1..n per lecture, each on top of the one before, text matching its hash.
    let mut stmt = c.prepare("SELECT id, lecture_id, number, parent_id, kind, text, text_sha256 FROM revisions ORDER BY lecture_id, number").unwrap();
    #[allow(clippy::type_complexity)]
    let revs: Vec<(i64, i64, i64, Option<i64>, String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut texts: HashMap<i64, Vec<char>> = HashMap::new();
    let mut prev: Option<(i64, i64, i64)> = None; // lecture, number, id
    for (id, lecture, number, parent, kind, text, sha) in &revs {
        let expected_parent = match prev {
            Some((l, n, pid)) if l == *lecture => {
                if *number != n + 1 {
                    bad.push(format!("lecture {lecture}: revision #{number} follows #{n}"));
                }
                Some(pid)
            }
            _ => {
                if *number != 1 || kind != "import" {
                    bad.push(format!("lecture {lecture}: its first revision is #{number} ({kind})"));
                }
                None
            }
        };
        if *parent != expected_parent {
            bad.push(format!("revision {id} (lecture {lecture} #{number}): parent {parent:?}, expected {expected_parent:?}"));
        }
        if sha256_hex(text.as_bytes()) != *sha {
            bad.push(format!("revision {id}: its text does not match its hash (half-written?)"));
        }
        if text.trim().is_empty() {
            bad.push(format!("revision {id}: empty text"));
        }
        texts.insert(*id, text.chars().collect());
        prev = Some((*lecture, *number, *id));
    }
    let orphans: Vec<i64> = c
        .prepare("SELECT id FROM lectures l WHERE NOT EXISTS (SELECT 1 FROM revisions r WHERE r.lecture_id = l.id)")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    if !orphans.is_empty() {
        bad.push(format!("lectures without a revision (half-imported): {orphans:?}"));
    }

    // Segments: numbered 0..m, inside their revision's text.
    let mut stmt = c.prepare("SELECT revision_id, ord, start_char, end_char FROM segments ORDER BY revision_id, ord").unwrap();
    let segs: Vec<(i64, i64, i64, i64)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap().collect::<Result<_, _>>().unwrap();
    let mut expect = (0, 0);
    for (rev, ord, start, end) in segs {
        if rev != expect.0 {
            expect = (rev, 0);
        }
        let n = texts.get(&rev).map_or(-1, |t| t.len() as i64);
        if ord != expect.1 || start < 0 || start > end || end > n {
            bad.push(format!("revision {rev}: segment {ord} ({start}..{end}) of a {n}-character text"));
        }
        expect.1 = ord + 1;
    }

    // Chunk sets: not empty, chunks numbered 0..k, slices of their revision, each with its embedding.
    let mut stmt = c
        .prepare(
            "SELECT s.id, s.revision_id, c.ord, c.match_start, c.match_end, c.context_start, c.context_end, c.text, c.text_sha256,
                    c.context_text, EXISTS (SELECT 1 FROM embeddings e WHERE e.model = s.model AND e.text_sha256 = c.text_sha256)
             FROM chunk_sets s LEFT JOIN chunks c ON c.chunk_set_id = s.id ORDER BY s.id, c.ord",
        )
        .unwrap();
    #[allow(clippy::type_complexity)]
    let rows: Vec<(i64, i64, Option<i64>, Option<i64>, Option<i64>, Option<i64>, Option<i64>, Option<String>, Option<String>, Option<String>, bool)> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut expect = (0, 0);
    let mut chunk_problems = 0;
    for (set, rev, ord, ms, me, cs, ce, text, sha, ctx, embedded) in rows {
        let Some(ord) = ord else {
            bad.push(format!("chunk set {set} (revision {rev}) has no chunks"));
            continue;
        };
        if set != expect.0 {
            expect = (set, 0);
        }
        let Some(chars) = texts.get(&rev) else {
            bad.push(format!("chunk set {set}: no revision {rev}"));
            continue;
        };
        let slice = |a: i64, b: i64| -> Option<String> {
            (0 <= a && a <= b && b as usize <= chars.len()).then(|| chars[a as usize..b as usize].iter().collect())
        };
        let (ms, me, cs, ce) = (ms.unwrap(), me.unwrap(), cs.unwrap(), ce.unwrap());
        let problem = if ord != expect.1 {
            Some(format!("chunk {ord} where {} was expected", expect.1))
        } else if slice(ms, me).as_deref() != text.as_deref() {
            Some(format!("chunk {ord}: its text is not the revision's {ms}..{me}"))
        } else if slice(cs, ce).as_deref() != ctx.as_deref() {
            Some(format!("chunk {ord}: its context is not the revision's {cs}..{ce}"))
        } else if text.as_deref().map(|t| sha256_hex(t.as_bytes())) != sha {
            Some(format!("chunk {ord}: its text does not match its hash"))
        } else if !embedded {
            Some(format!("chunk {ord}: no embedding"))
        } else {
            None
        };
        if let Some(p) = problem {
            chunk_problems += 1;
            if chunk_problems <= 5 {
                bad.push(format!("chunk set {set} (revision {rev}): {p}"));
            }
        }
        expect.1 = ord + 1;
    }
    bad
}

/// Lectures (id, title) whose newest revision has no index.
fn unsearchable(path: &Path, key: &IndexKey) -> Vec<(i64, String)> {
    let db = Db::open(path).unwrap();
    let mut stmt = db
        .conn()
        .prepare(
            "SELECT l.id, l.title FROM lectures l
             WHERE NOT EXISTS (SELECT 1 FROM chunk_sets s
                               WHERE s.strategy = ?1 AND s.model = ?2
                                 AND s.revision_id = (SELECT id FROM revisions r WHERE r.lecture_id = l.id ORDER BY number DESC LIMIT 1))
             ORDER BY l.id",
        )
        .unwrap();
    stmt.query_map([&key.strategy, &key.model], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap()
}

fn revision_count(path: &Path, lecture: i64) -> i64 {
    let db = Db::open(path).unwrap();
    db.conn().query_row("SELECT count(*) FROM revisions WHERE lecture_id = ?1", [lecture], |r| r.get(0)).unwrap()
}

fn head(path: &Path, lecture: i64) -> (i64, String, String) {
    let db = Db::open(path).unwrap();
    db.conn()
        .query_row(
            "SELECT id, kind, text FROM revisions WHERE lecture_id = ?1 ORDER BY number DESC LIMIT 1",
            [lecture],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
}

fn lecture_by_source(path: &Path, file: &Path) -> Option<i64> {
    let sha = sha256_hex(&std::fs::read(file).unwrap());
    let db = Db::open(path).unwrap();
    db.conn().query_row("SELECT id FROM lectures WHERE source_sha256 = ?1", [sha], |r| r.get(0)).ok()
}

/// Does `text` speak of lecture `id` as not (yet) searchable?
fn reports_pending(text: &str, id: i64) -> bool {
    let t = text.to_lowercase();
    let named = t.match_indices(&format!("lecture {id}")).any(|(at, m)| {
        !t[at + m.len()..].starts_with(|c: char| c.is_ascii_digit())
    });
    named && ["index", "searchable", "pending"].iter().any(|w| t.contains(w))
}

/// Run a search (as a person would after the fault) and judge it: every lecture must be searchable
/// afterwards, or the search must have said it is not; an indexed target must be found by its marker.
fn search_judgement(k: &Kogi, key: &IndexKey, query: &str, target: Option<i64>) -> Vec<String> {
    let mut bad = Vec::new();
    let out = k.cmd().args(["--json", "search", query, "-k", "10"]).output().unwrap();
    let said = format!("{}\n{}", support::stdout(&out), support::stderr(&out));
    let hits: Vec<i64> = if out.status.success() {
        match serde_json::from_str::<serde_json::Value>(&support::stdout(&out)) {
            Ok(v) => v.as_array().map(|a| a.iter().filter_map(|p| p["lecture"].as_i64()).collect()).unwrap_or_default(),
            Err(e) => {
                bad.push(format!("search printed no JSON ({e}): {said}"));
                Vec::new()
            }
        }
    } else {
        if out.status.code() != Some(1) || !said.to_lowercase().contains("index") {
            bad.push(format!("search failed ({}): {}", out.status, said.trim()));
        }
        Vec::new()
    };
    let missing = unsearchable(&k.db(), key);
    for (id, title) in &missing {
        // A failed search that says nothing is indexed has told the person too.
        let told = reports_pending(&said, *id) || (!out.status.success() && said.to_lowercase().contains("index"));
        if !told {
            bad.push(format!("lecture {id} ({title}) is not searchable and `kogi search` did not say so: it is silently missing"));
        }
    }
    if let Some(t) = target
        && !missing.iter().any(|(id, _)| *id == t)
        && lecture_exists(&k.db(), t)
        && !hits.contains(&t)
    {
        bad.push(format!("lecture {t} is indexed but `kogi search {query:?}` did not return it (hits from {hits:?})"));
    }
    bad
}

fn lecture_exists(path: &Path, id: i64) -> bool {
    let db = Db::open(path).unwrap();
    db.conn().query_row("SELECT count(*) FROM lectures WHERE id = ?1", [id], |r| r.get::<_, i64>(0)).unwrap() > 0
}

// ----------------------------------------------------------------------------- the harness

/// One run of a workflow: its arguments, environment, and what it works on.
#[derive(Default, Clone)]
struct Step {
    args: Vec<String>,
    envs: Vec<(String, PathBuf)>,
    /// The lecture it changes (edits, index), when known before.
    lecture: Option<i64>,
    /// The marker of the lecture it makes or changes, for the search afterwards.
    tag: String,
    /// Files it imports; a model folder name it makes.
    files: Vec<PathBuf>,
    name: String,
    /// Revisions of `lecture` before the run.
    revisions_before: i64,
}

fn command(k: &Kogi, s: &Step) -> Command {
    let mut c = k.cmd();
    for (key, v) in &s.envs {
        c.env(key, v);
    }
    c.args(&s.args);
    c
}

fn run(k: &Kogi, s: &Step) -> Output {
    command(k, s).output().unwrap()
}

fn ok(k: &Kogi, s: &Step) -> Output {
    let out = run(k, s);
    assert!(out.status.success(), "kogi {:?} failed:\n{}\n{}", s.args, support::stdout(&out), support::stderr(&out));
    out
}

#[derive(Default)]
struct Figures {
    tried: usize,
    mid_run: usize,
    finished_first: usize,
    survived: usize,
    landed: BTreeMap<String, usize>,
    reruns: BTreeMap<String, usize>,
    violations: Vec<String>,
}

/// What each workflow brings to the harness.
struct Workflow<'a> {
    name: &'a str,
    uses_db: bool,
    /// Prepare run `j` (0: the uninterrupted calibration run) and say what it is.
    prepare: &'a mut dyn FnMut(&Kogi, usize) -> Step,
    /// Where a kill landed, judged from what is on disk.
    landed: &'a dyn Fn(&Kogi, &Step) -> String,
    /// The workflow's effect is in place.
    done: &'a dyn Fn(&Kogi, &Step) -> bool,
    /// Checks of its own (the models folder); `after_rerun` once the same command ran again.
    extra: &'a dyn Fn(&Kogi, &Step, bool) -> Vec<String>,
}

fn kill_workflow(k: &Kogi, w: Workflow<'_>) -> Figures {
    let started = Instant::now();
    let mut f = Figures::default();
    let cal = (w.prepare)(k, 0);
    let t0 = Instant::now();
    ok(k, &cal);
    let took = t0.elapsed();
    assert!((w.done)(k, &cal), "{}: the uninterrupted run did not do its work", w.name);
    let key = w.uses_db.then(|| index_key(&k.db()));
    let n = kill_points();
    let mut rng = Rng::for_workflow(w.name);
    println!("\n== kill {}: uninterrupted run {:.2} s; {n} kill points", w.name, took.as_secs_f64());
    for j in 1..=n {
        let step = (w.prepare)(k, j);
        // Over 90% of the measured time: a later run may be a little quicker.
        let delay = took.mul_f64(0.9 * ((j - 1) as f64 + rng.unit()) / n as f64);
        let mut child = command(k, &step).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(delay);
        let alive = child.try_wait().unwrap().is_none();
        if alive {
            child.kill().unwrap(); // SIGKILL
        }
        let status = child.wait().unwrap();
        f.tried += 1;
        let landed = if alive {
            f.mid_run += 1;
            (w.landed)(k, &step)
        } else {
            f.finished_first += 1;
            format!("finished before the kill ({status})")
        };
        *f.landed.entry(landed.clone()).or_default() += 1;

        let mut bad = Vec::new();
        if let Some(key) = &key {
            bad.extend(soundness(&k.db()).into_iter().map(|p| format!("after the kill: {p}")));
            // The lecture the run changes, or the first one it imports (the tag's).
            let target = step.lecture.or_else(|| step.files.first().and_then(|f| lecture_by_source(&k.db(), f)));
            bad.extend(search_judgement(k, key, &query(&step.tag), target).into_iter().map(|p| format!("after the kill: {p}")));
        }
        bad.extend((w.extra)(k, &step, false).into_iter().map(|p| format!("after the kill: {p}")));

        // The same command again.
        let was_done = (w.done)(k, &step);
        let again = run(k, &step);
        let rerun = if again.status.success() {
            "completed".to_owned()
        } else {
            let err = support::stderr(&again);
            if again.status.code() != Some(1) || err.contains("panicked") {
                bad.push(format!("the rerun crashed ({}): {}", again.status, err.trim()));
            } else if !was_done {
                bad.push(format!("the rerun failed although the killed run had not done the work: {}", err.trim()));
            }
            format!("refused, the work being done: {}", err.trim().chars().take(90).collect::<String>())
        };
        *f.reruns.entry(if again.status.success() { "completed".into() } else { "nothing left to do".into() }).or_default() += 1;
        if !(w.done)(k, &step) {
            bad.push("after the rerun the work is not done".into());
        }
        if let Some(key) = &key {
            bad.extend(soundness(&k.db()).into_iter().map(|p| format!("after the rerun: {p}")));
            for (id, title) in unsearchable(&k.db(), key) {
                bad.push(format!("after the rerun: lecture {id} ({title}) is not searchable"));
            }
        }
        bad.extend((w.extra)(k, &step, true).into_iter().map(|p| format!("after the rerun: {p}")));

        println!(
            "  kill {j}/{n} at {:>5.0} ms: {:<44} rerun {rerun:.60} → {}",
            delay.as_secs_f64() * 1e3,
            landed,
            if bad.is_empty() { "sound".to_owned() } else { format!("{} PROBLEM(S)", bad.len()) }
        );
        for b in &bad {
            println!("      PROBLEM: {b}");
        }
        if alive && bad.is_empty() {
            f.survived += 1;
        }
        f.violations.extend(bad.into_iter().map(|b| format!("kill {j} ({landed}): {b}")));
    }
    println!(
        "== {}: kill points tried {}, landed mid-run {}, finished before the kill {}, faults survived {} of {}; in {:.0} s",
        w.name,
        f.tried,
        f.mid_run,
        f.finished_first,
        f.survived,
        f.mid_run,
        started.elapsed().as_secs_f64()
    );
    println!("   where the kills landed: {:?}; reruns: {:?}", f.landed, f.reruns);
    f
}

fn assert_sound(name: &str, f: &Figures) {
    assert!(f.violations.is_empty(), "{name}: {} problem(s) after kills:\n{}", f.violations.len(), f.violations.join("\n"));
}

/// Lectures made by `kogi import FILES --index`, their ids in file order.
fn import_indexed(k: &Kogi, files: &[PathBuf]) -> Vec<i64> {
    let mut args = vec!["import".to_owned()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    args.push("--index".into());
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let v = k.json(&a);
    v.as_array().unwrap().iter().map(|r| r["lecture"]["id"].as_i64().unwrap()).collect()
}

fn glossary_file() -> String {
    support::repo().join("examples/glossary-llm2024.txt").display().to_string()
}

/// The label of an edit's kill: before its revision, after it but before its index, or after both.
fn edit_landed(k: &Kogi, s: &Step) -> String {
    let l = s.lecture.unwrap();
    if revision_count(&k.db(), l) == s.revisions_before {
        return "before the new revision".into();
    }
    let key = index_key(&k.db());
    if unsearchable(&k.db(), &key).iter().any(|(id, _)| *id == l) {
        "revision saved, its index not finished".into()
    } else {
        "revision saved and indexed".into()
    }
}

fn nothing_extra(_: &Kogi, _: &Step, _: bool) -> Vec<String> {
    Vec::new()
}

// --------------------------------------------------------------------------- kill: workflows

#[test]
fn kill_import() {
    let _serial = serial();
    let k = Kogi::new();
    // A batch of two files, imported and indexed.
    let mut prepare = |k: &Kogi, j: usize| {
        let files: Vec<PathBuf> = (0..2).map(|i| k.write(&format!("import-{j}-{i}.txt"), lecture_text(&tag(2 * j + i), 2).as_bytes())).collect();
        let mut args = vec!["import".to_owned()];
        args.extend(files.iter().map(|f| f.display().to_string()));
        args.push("--index".into());
        Step { args, tag: tag(2 * j), files, ..Default::default() }
    };
    let landed = |k: &Kogi, s: &Step| {
        let ids: Vec<i64> = s.files.iter().filter_map(|f| lecture_by_source(&k.db(), f)).collect();
        let key = index_key(&k.db());
        let missing = unsearchable(&k.db(), &key);
        let indexed = ids.iter().filter(|id| !missing.iter().any(|(m, _)| m == *id)).count();
        format!("{} of 2 imported, {indexed} indexed", ids.len())
    };
    let done = |k: &Kogi, s: &Step| {
        let key = index_key(&k.db());
        let missing = unsearchable(&k.db(), &key);
        s.files.iter().all(|f| lecture_by_source(&k.db(), f).is_some_and(|id| !missing.iter().any(|(m, _)| *m == id)))
    };
    let f = kill_workflow(&k, Workflow { name: "import (2 files, --index)", uses_db: true, prepare: &mut prepare, landed: &landed, done: &done, extra: &nothing_extra });
    assert_sound("import", &f);
}

#[test]
fn kill_index() {
    let _serial = serial();
    let k = Kogi::new();
    let mut prepare = |k: &Kogi, j: usize| {
        let file = k.write(&format!("index-{j}.txt"), lecture_text(&tag(j), 3).as_bytes());
        let v = k.json(&["import", file.to_str().unwrap()]);
        let id = v[0]["lecture"]["id"].as_i64().unwrap();
        Step { args: vec!["index".into()], tag: tag(j), lecture: Some(id), ..Default::default() }
    };
    let landed = |k: &Kogi, s: &Step| {
        let db = Db::open(&k.db()).unwrap();
        let embedded: i64 = db.conn().query_row("SELECT count(*) FROM embeddings", [], |r| r.get(0)).unwrap();
        let key = index_key(&k.db());
        if unsearchable(&k.db(), &key).iter().any(|(id, _)| Some(*id) == s.lecture) {
            format!("mid-index ({embedded} embeddings cached in all)")
        } else {
            "indexed".into()
        }
    };
    let done = |k: &Kogi, s: &Step| {
        let key = index_key(&k.db());
        !unsearchable(&k.db(), &key).iter().any(|(id, _)| Some(*id) == s.lecture)
    };
    let f = kill_workflow(&k, Workflow { name: "index", uses_db: true, prepare: &mut prepare, landed: &landed, done: &done, extra: &nothing_extra });
    assert_sound("index", &f);
}

#[test]
fn kill_glossary_apply() {
    let _serial = serial();
    let k = Kogi::new();
    let n = kill_points();
    let files: Vec<PathBuf> = (0..=n).map(|j| k.write(&format!("g-{j}.txt"), lecture_text(&tag(j), 2).as_bytes())).collect();
    let ids = import_indexed(&k, &files);
    k.ok(&["glossary", "load", &glossary_file()]);
    let mut prepare = |k: &Kogi, j: usize| {
        let l = ids[j];
        Step {
            args: vec!["glossary".into(), "apply".into(), l.to_string()],
            lecture: Some(l),
            tag: tag(j),
            revisions_before: revision_count(&k.db(), l),
            ..Default::default()
        }
    };
    let done = |k: &Kogi, s: &Step| head(&k.db(), s.lecture.unwrap()).1 == "glossary";
    let f = kill_workflow(&k, Workflow { name: "glossary apply", uses_db: true, prepare: &mut prepare, landed: &edit_landed, done: &done, extra: &nothing_extra });
    assert_sound("glossary apply", &f);
}

#[test]
fn kill_restore() {
    let _serial = serial();
    let k = Kogi::new();
    let n = kill_points();
    let files: Vec<PathBuf> = (0..=n).map(|j| k.write(&format!("r-{j}.txt"), lecture_text(&tag(j), 2).as_bytes())).collect();
    let ids = import_indexed(&k, &files);
    // A second revision of each (an edit), indexed: restore brings revision 1 back.
    let mut first = Vec::new();
    {
        let mut db = Db::open(&k.db()).unwrap();
        for &l in &ids {
            let h = db.head_revision(LectureId(l)).unwrap();
            let text = h.text.replacen("スケール足", "スケール則", 1).replace("水温時", "推論時");
            db.save_edit(LectureId(l), h.id, &text, RevisionKind::Edit, Some("corrected by hand")).unwrap();
            first.push(h.id.0);
        }
    }
    k.ok(&["index"]);
    let mut prepare = |k: &Kogi, j: usize| {
        let l = ids[j];
        Step {
            args: vec!["restore".into(), l.to_string(), first[j].to_string()],
            lecture: Some(l),
            tag: tag(j),
            revisions_before: revision_count(&k.db(), l),
            ..Default::default()
        }
    };
    let done = |k: &Kogi, s: &Step| {
        let l = s.lecture.unwrap();
        let (_, kind, text) = head(&k.db(), l);
        let original = Db::open(&k.db()).unwrap().revisions(LectureId(l)).unwrap()[0].text.clone();
        kind == "restore" && text == original
    };
    let f = kill_workflow(&k, Workflow { name: "restore", uses_db: true, prepare: &mut prepare, landed: &edit_landed, done: &done, extra: &nothing_extra });
    assert_sound("restore", &f);
}

#[test]
fn kill_accept_suggestion() {
    let _serial = serial();
    let k = Kogi::new();
    let n = kill_points();
    let texts: Vec<String> = (0..=n).map(|j| lecture_text(&tag(j), 2)).collect();
    let files: Vec<PathBuf> = texts.iter().enumerate().map(|(j, t)| k.write(&format!("s-{j}.txt"), t.as_bytes())).collect();
    let ids = import_indexed(&k, &files);
    k.ok(&["glossary", "load", &glossary_file()]);
    let mut prepare = |k: &Kogi, j: usize| {
        let l = ids[j];
        // The glossary's suggestion comes first: スケール足 → スケール則.
        let (a, b) = char_span(&texts[j], "スケール足");
        Step {
            args: vec!["suggest".into(), l.to_string(), "--span".into(), format!("{a}..{b}"), "--accept".into(), "1".into()],
            lecture: Some(l),
            tag: tag(j),
            revisions_before: revision_count(&k.db(), l),
            ..Default::default()
        }
    };
    let done = |k: &Kogi, s: &Step| {
        let revs = Db::open(&k.db()).unwrap().revisions(LectureId(s.lecture.unwrap())).unwrap();
        revs.iter().any(|r| r.kind == RevisionKind::Suggestion && r.text.starts_with(&format!("この講義の合言葉は{}です。\nここでスケール則と", s.tag)))
    };
    let f = kill_workflow(
        &k,
        Workflow { name: "accept a suggestion", uses_db: true, prepare: &mut prepare, landed: &edit_landed, done: &done, extra: &nothing_extra },
    );
    assert_sound("accept a suggestion", &f);
}

/// The reference GGUF that scripts/setup-reference.sh fetches.
fn reference_gguf() -> Option<PathBuf> {
    let p = PathBuf::from(std::env::var_os("HOME")?).join(".cache/kogi/gguf/SmolLM2-135M-Instruct.Q4_1.gguf");
    p.is_file().then_some(p)
}

fn dir_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn file_sizes(dir: &Path) -> BTreeMap<String, u64> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_name() != "manifest.json")
                .map(|e| (e.file_name().to_string_lossy().into_owned(), e.metadata().map(|m| m.len()).unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn kill_model_import() {
    let _serial = serial();
    let Some(gguf) = reference_gguf() else {
        println!("kill model import: SKIPPED — ~/.cache/kogi/gguf/SmolLM2-135M-Instruct.Q4_1.gguf is missing (scripts/setup-reference.sh fetches it)");
        return;
    };
    let k = Kogi::new();
    let models = k.dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    let mut prepare = |_: &Kogi, j: usize| {
        let name = format!("smol-{j}");
        Step {
            args: vec!["models".into(), "add".into(), gguf.display().to_string(), "--name".into(), name.clone(), "--target".into(), "cpu".into()],
            envs: vec![("KOGI_MODELS".into(), models.clone())],
            name,
            ..Default::default()
        }
    };
    let landed = |k: &Kogi, s: &Step| {
        let models = k.dir.path().join("models");
        let names = dir_names(&models);
        if names.contains(&s.name) {
            "the model in place".into()
        } else if names.iter().any(|n| n.starts_with(&format!("{}.", s.name)) && n.ends_with(".part")) {
            "converting (staging folder written)".into()
        } else {
            "nothing written yet".into()
        }
    };
    let done = |k: &Kogi, s: &Step| k.dir.path().join("models").join(&s.name).join("manifest.json").is_file();
    let extra = |k: &Kogi, _: &Step, after_rerun: bool| {
        let models = k.dir.path().join("models");
        let reference = file_sizes(&models.join("smol-0"));
        let mut bad = Vec::new();
        for n in dir_names(&models) {
            if n.ends_with(".part") {
                if after_rerun {
                    bad.push(format!("a leftover in the models folder: {n} ({} MB)", file_sizes(&models.join(&n)).values().sum::<u64>() >> 20));
                }
                continue;
            }
            let dir = models.join(&n);
            if !dir.join("manifest.json").is_file() || file_sizes(&dir) != reference {
                bad.push(format!("a half-written model is installed: {n} ({:?})", file_sizes(&dir)));
            }
        }
        // And kogi lists no broken model.
        let out = k.cmd().env("KOGI_MODELS", &models).args(["--json", "models"]).output().unwrap();
        if let Ok(serde_json::Value::Array(list)) = serde_json::from_slice(&out.stdout) {
            for m in list {
                if !m["problem"].is_null() {
                    bad.push(format!("`kogi models` lists {} with a problem: {}", m["name"], m["problem"]));
                }
            }
        } else {
            bad.push(format!("`kogi --json models` failed: {}", support::stderr(&out)));
        }
        bad
    };
    let f = kill_workflow(&k, Workflow { name: "model import (models add)", uses_db: false, prepare: &mut prepare, landed: &landed, done: &done, extra: &extra });
    assert_sound("model import", &f);
}

// ------------------------------------------------------------------------- two writers at once

/// Two `kogi` processes started together on one database: each finishes, or fails with a clear
/// message (the database is locked; the lecture changed under an edit). Then the failed one runs
/// again and completes, the database is sound, every file is one lecture, and every lecture is
/// searchable after `kogi index`.
#[test]
fn two_writers_on_one_database() {
    let _serial = serial();
    let started = Instant::now();
    let k = Kogi::new();
    let base = k.write("base.txt", lecture_text(&tag(0), 2).as_bytes());
    let base_id = import_indexed(&k, std::slice::from_ref(&base))[0];
    k.ok(&["glossary", "load", &glossary_file()]);
    let mut files = vec![base];
    let mut file = |name: String, text: String| {
        let f = k.write(&name, text.as_bytes());
        files.push(f.clone());
        f.display().to_string()
    };
    // The last one long, so that two indexers work on it at the same time.
    let w: Vec<String> = (1..=8).map(|i| file(format!("w{i}.txt"), lecture_text(&tag(i), if i == 8 { 8 } else { 2 }))).collect();
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<String>>();
    // (what, run first, writer A, writer B)
    #[allow(clippy::type_complexity)]
    let mut rounds: Vec<(String, Vec<String>, Vec<String>, Vec<String>)> = vec![
        (
            "import 3 files --index | glossary apply".into(),
            vec![],
            s(&["import", &w[0], &w[1], &w[2], "--index"]),
            s(&["glossary", "apply", &base_id.to_string()]),
        ),
        (
            "import 3 files --index | import 3 files --index, 2 of them the same".into(),
            vec![],
            s(&["import", &w[3], &w[4], &w[5], "--index"]),
            s(&["import", &w[5], &w[4], &w[6], "--index"]),
        ),
        ("index | index (the same new lecture)".into(), s(&["import", &w[7]]), s(&["index"]), s(&["index"])),
    ];
    // The same nine short files imported by both, in opposite orders (three times, fresh files).
    for r in 0..3 {
        let batch: Vec<String> =
            (0..9).map(|i| file(format!("same-{r}-{i}.txt"), format!("講義{r}の{i}番目の短い話です。スケール則について。\n"))).collect();
        let mut a = vec!["import".to_owned()];
        a.extend(batch.iter().cloned());
        let mut b = vec!["import".to_owned()];
        b.extend(batch.iter().rev().cloned());
        rounds.push((format!("import 9 files | the same 9 files in the other order (try {})", r + 1), vec![], a, b));
    }
    let mut problems = Vec::new();
    for (name, first, a, b) in &rounds {
        if !first.is_empty() {
            k.ok(&first.iter().map(String::as_str).collect::<Vec<_>>());
        }
        let spawn = |args: &[String]| k.cmd().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let (pa, pb) = (spawn(a), spawn(b));
        let (oa, ob) = (pa.wait_with_output().unwrap(), pb.wait_with_output().unwrap());
        let mut line = format!("  {name}:");
        for (args, out) in [(a, &oa), (b, &ob)] {
            let err = support::stderr(out);
            if out.status.success() {
                line += " finished;";
                continue;
            }
            let said = err.trim().lines().last().unwrap_or_default().to_owned();
            let clear = out.status.code() == Some(1)
                && !err.contains("panicked")
                && (err.contains("locked") || err.contains("changed since"));
            line += &format!(" refused ({said});");
            if !clear {
                problems.push(format!("{name}: `kogi {}` failed without a clear reason ({}): {said}", args.join(" "), out.status));
            }
            // The one that failed runs again, alone, and completes.
            let again = k.cmd().args(args).output().unwrap();
            if !again.status.success() && !support::stderr(&again).contains("changes nothing") {
                problems.push(format!("{name}: `kogi {}` run again failed: {}", args.join(" "), support::stderr(&again).trim()));
            }
        }
        for p in soundness(&k.db()) {
            problems.push(format!("{name}: {p}"));
        }
        println!("{line}");
    }
    k.ok(&["index"]);
    let key = index_key(&k.db());
    for (id, title) in unsearchable(&k.db(), &key) {
        problems.push(format!("lecture {id} ({title}) is not searchable after `kogi index`"));
    }
    for f in &files {
        if lecture_by_source(&k.db(), f).is_none() {
            problems.push(format!("{} was never imported", f.display()));
        }
    }
    let lectures = k.json(&["lectures"]).as_array().unwrap().len();
    if lectures != files.len() {
        problems.push(format!("{lectures} lectures from {} files", files.len()));
    }
    println!("== two writers: {} rounds in {:.0} s, {} problem(s)", rounds.len(), started.elapsed().as_secs_f64(), problems.len());
    for p in &problems {
        println!("   PROBLEM: {p}");
    }
    assert!(problems.is_empty(), "two writers:\n{}", problems.join("\n"));
}

// ------------------------------------------------------------------------------- a full disk

/// A tmpfs mounted for the test (needs root, as CI and the dev machines have), unmounted after.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_owned()))
    }

    /// Fill the file system, then give back `room` bytes.
    fn fill_leaving(&self, room: u64) {
        use std::io::Write;
        let path = self.0.join("filler");
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).unwrap();
        let block = vec![0x55u8; 64 << 10];
        loop {
            match f.write(&block) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let len = f.metadata().unwrap().len();
        f.set_len(len.saturating_sub(room)).unwrap();
    }

    fn unfill(&self) {
        let _ = std::fs::remove_file(self.0.join("filler"));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// `kogi --db DB` with the harness's private home and the real models.
fn kogi_on(k: &Kogi, db: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kogi"));
    c.env("KOGI_HOME", k.dir.path().join("home")).env("KOGI_MODELS", support::models_dir()).env_remove("KOGI_DB").arg("--db").arg(db);
    c
}

fn says_disk_full(message: &str) -> bool {
    let m = message.to_lowercase();
    m.contains("disk is full") || m.contains("disk space") || m.contains("no space")
}

/// Importing into a database whose disk is (nearly) full fails with a message that says the disk is
/// full; the database still opens, passes its checks and holds nothing half-imported; with room
/// again the same import completes.
#[test]
fn a_full_disk_under_the_database_is_named_and_loses_nothing() {
    let _serial = serial();
    let started = Instant::now();
    let k = Kogi::new();
    // Room for the database with a few indexed lectures (chunks, embeddings, trigram and word
    // indexes); the fill below leaves only the stated space free whatever the size.
    let Some(fs) = Tmpfs::mount(&k.dir.path().join("fs"), "16m") else {
        panic!("cannot mount a tmpfs here (mount -t tmpfs needs root): this test needs it");
    };
    let db = fs.0.join("kogi.sqlite3");
    let small = k.write("small.txt", lecture_text(&tag(0), 1).as_bytes());
    let out = kogi_on(&k, &db).args(["import", small.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", support::stderr(&out));
    let mut problems = Vec::new();
    let mut figures = Vec::new();
    // Each a big transcript of its own (about 100 KB), the last imported with --index.
    for (i, (room, index)) in [(0u64, false), (8 << 10, false), (64 << 10, false), (256 << 10, true)].into_iter().enumerate() {
        let big: String = (0..12).map(|p| lecture_text(&format!("{}{p}", tag(10 + i)), 4)).collect();
        let file = k.write(&format!("big-{i}.txt"), big.as_bytes());
        let lectures_before = Db::open(&db).unwrap().lectures(None).unwrap().len();
        fs.fill_leaving(room);
        let mut args = vec!["import".to_owned(), file.display().to_string()];
        if index {
            args.push("--index".into());
        }
        let out = kogi_on(&k, &db).args(&args).output().unwrap();
        let err = support::stderr(&out).trim().to_owned();
        let label = format!("{} KiB free, import{} of {} KB", room >> 10, if index { " --index" } else { "" }, big.len() >> 10);
        if out.status.success() {
            figures.push(format!("{label}: it fitted"));
        } else {
            figures.push(format!("{label}: refused: {err}"));
            if out.status.code() != Some(1) || err.contains("panicked") {
                problems.push(format!("{label}: kogi crashed ({}): {err}", out.status));
            } else if !says_disk_full(&err) {
                problems.push(format!("{label}: the error does not say the disk is full: {err:?}"));
            }
        }
        // While the disk is still full: the database opens and is sound, or says that the disk is full.
        match Db::open(&db) {
            Ok(_) => problems.extend(soundness(&db).into_iter().map(|p| format!("{label}, disk still full: {p}"))),
            Err(e) if says_disk_full(&e.to_string()) => {}
            Err(e) => problems.push(format!("{label}: with the disk full the database does not open, and the message does not say why: {e}")),
        }
        fs.unfill();
        // With room: sound, and nothing half-imported.
        for p in soundness(&db) {
            problems.push(format!("{label}, room again: {p}"));
        }
        let after = Db::open(&db).unwrap().lectures(None).unwrap().len();
        if !out.status.success() {
            if let Some(f) = figures.last_mut() {
                *f += &format!(" [lectures stored: {} → {after}]", lectures_before);
            }
            if after != lectures_before && !index {
                problems.push(format!("{label}: the refused import left {} lecture(s) behind", after as i64 - lectures_before as i64));
            }
        }
        // Room again: the same import completes.
        let again = kogi_on(&k, &db).args(&args).output().unwrap();
        if !again.status.success() {
            problems.push(format!("{label}: with room again the import failed: {}", support::stderr(&again).trim()));
        }
        for p in soundness(&db) {
            problems.push(format!("{label}, after the retry: {p}"));
        }
    }
    println!("\n== full disk (16 MB tmpfs) in {:.1} s", started.elapsed().as_secs_f64());
    for f in &figures {
        println!("   {f}");
    }
    for p in &problems {
        println!("   PROBLEM: {p}");
    }
    let refused = figures.iter().filter(|f| f.contains("refused")).count();
    assert!(refused > 0, "no import met the full disk: {figures:?}");
    assert!(problems.is_empty(), "full disk:\n{}", problems.join("\n"));
}
