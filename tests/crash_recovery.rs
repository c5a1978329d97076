//! A process killed with SIGKILL in the middle of indexing leaves a database that opens, passes
//! `PRAGMA integrity_check`, and finishes the job when indexing runs again.

mod support;

use kogi_core::store::Db;
use std::time::{Duration, Instant};
use support::Kogi;

#[test]
fn sigkill_during_indexing_leaves_a_sound_database_that_resumes() {
    let k = Kogi::new();
    // A long transcript: the real lecture if present, else the sample repeated with variations.
    let file = match support::shared_data() {
        Some(d) => d.join("LLM2024_day4_raw.txt"),
        None => {
            let base = std::fs::read_to_string(support::repo().join("examples/sample-lecture.srt")).unwrap();
            let body: String = (0..40).map(|i| base.replace("。", &format!("（第{i}部）。"))).collect::<Vec<_>>().join("\n");
            k.write("long.txt", body.as_bytes())
        }
    };
    k.ok(&["import", file.to_str().unwrap()]);
    let mut child = k.cmd().args(["-q", "index"]).spawn().unwrap();
    // Wait until some embeddings are committed, then kill without warning.
    let started = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let db = Db::open(&k.db()).unwrap();
        let n: i64 = db.conn().query_row("SELECT count(*) FROM embeddings", [], |r| r.get(0)).unwrap();
        if n > 0 {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("indexing ended ({status}) before it could be killed");
        }
        assert!(started.elapsed() < Duration::from_secs(120), "no embeddings committed in 2 minutes");
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let db = Db::open(&k.db()).unwrap();
    assert_eq!(db.integrity_check().unwrap(), "ok");
    let sets: i64 = db.conn().query_row("SELECT count(*) FROM chunk_sets", [], |r| r.get(0)).unwrap();
    assert_eq!(sets, 0, "a chunk set appeared from a killed run");
    drop(db);

    let report = k.json(&["index"]);
    let chunks = report[0]["chunks"].as_u64().unwrap();
    let reused = report[0]["reused"].as_u64().unwrap();
    assert!(reused > 0, "the second run redid the killed run's work: {report}");
    assert_eq!(report[0]["embedded"].as_u64().unwrap() + reused, chunks);
    let hits = k.json(&["search", "スケール則"]);
    assert!(!hits.as_array().unwrap().is_empty());
    assert_eq!(Db::open(&k.db()).unwrap().integrity_check().unwrap(), "ok");
}
