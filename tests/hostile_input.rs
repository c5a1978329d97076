//! Input a user or an attacker might hand the `kogi` command — special files, another application's
//! database, text that speaks to the terminal — each refused or shown harmlessly, nothing changed.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};
use support::Kogi;

fn sample() -> String {
    support::repo().join("examples/sample-lecture.srt").display().to_string()
}

#[test]
fn a_fifo_given_as_a_transcript_is_refused_at_once_and_the_batch_goes_on() {
    let k = Kogi::new();
    let fifo = k.dir.path().join("x.txt");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let mut child = k
        .cmd()
        .args(["import", fifo.to_str().unwrap(), &sample()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("kogi import waited on the FIFO");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (support::stdout(&out), support::stderr(&out));
    assert!(stderr.contains("not a regular file"), "{stderr}");
    assert!(stdout.contains("sample-lecture"), "the next file in the batch is imported: {stdout}");
    assert_eq!(k.json(&["lectures"]).as_array().unwrap().len(), 1);
}

/// `kogi --db DB` with the harness's private home and the real models.
fn kogi_on(k: &Kogi, db: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_kogi"));
    c.env("KOGI_HOME", k.dir.path().join("home")).env("KOGI_MODELS", support::models_dir()).env_remove("KOGI_DB").arg("--db").arg(db);
    c
}

#[test]
fn another_applications_sqlite_file_is_refused_unchanged() {
    let k = Kogi::new();
    let foreign = k.dir.path().join("browser-history.sqlite");
    {
        let c = rusqlite::Connection::open(&foreign).unwrap();
        c.execute_batch("CREATE TABLE visits (url TEXT, at INTEGER); INSERT INTO visits VALUES ('https://example.org', 1);").unwrap();
    }
    let before = std::fs::read(&foreign).unwrap();
    for args in [&["lectures"][..], &["import", &sample()][..]] {
        let out = kogi_on(&k, &foreign).args(args).output().unwrap();
        assert!(!out.status.success());
        let err = support::stderr(&out);
        assert!(err.contains("another application's SQLite database") && err.contains("visits") && err.contains("--db"), "{err}");
    }
    assert_eq!(std::fs::read(&foreign).unwrap(), before, "not a byte changed");
    assert!(!k.dir.path().join("browser-history.sqlite-wal").exists(), "not switched to WAL");
    // An empty file becomes a kogi database; kogi's own opens again.
    let empty = k.dir.path().join("new.sqlite3");
    std::fs::write(&empty, b"").unwrap();
    for _ in 0..2 {
        let out = kogi_on(&k, &empty).args(["lectures"]).output().unwrap();
        assert!(out.status.success(), "{}", support::stderr(&out));
    }
}

#[test]
fn terminal_escapes_in_a_transcript_and_its_name_are_shown_not_sent() {
    let k = Kogi::new();
    let evil = "講義\u{1b}[2J\u{1b}]0;pwned\u{7}";
    let file = k.write(&format!("{evil}.txt"), format!("スケール則の話です。{evil}計算量を増やすと損失が下がります。\n").as_bytes());
    k.ok(&["import", file.to_str().unwrap(), "--index"]);
    for args in [&["lectures"][..], &["search", "スケール則"][..], &["ask", "スケール則とは？", "--answer-with", "quotes"][..]] {
        let out = k.ok(args);
        assert!(!out.chars().any(|c| c.is_control() && c != '\n' && c != '\t'), "{args:?} sent a control character: {out:?}");
        assert!(out.contains("\\u{1b}[2J"), "{args:?} shows it as text: {out}");
    }
    // JSON for scripts keeps the exact text.
    let lectures = k.json(&["lectures"]);
    assert!(lectures[0]["meta"]["title"].as_str().unwrap().contains('\u{1b}'), "{lectures}");
}

#[test]
fn keyword_search_needs_no_embedding_model() {
    let k = Kogi::new();
    k.ok(&["import", &sample(), "--index"]);
    let q = "Chinchillaでは最適なトークン数はパラメータ数の何倍？";
    let missing = k.dir.path().join("no-such-model");
    let hits = k.json(&["--embedder", missing.to_str().unwrap(), "search", q, "--mode", "bm25", "-k", "3"]);
    assert!(hits[0]["text"].as_str().unwrap().contains("20倍"), "{hits}");
    // The dense search still says what it needs.
    let err = k.fails(&["--embedder", missing.to_str().unwrap(), "search", q]);
    assert!(err.contains("no-such-model"), "{err}");
}

#[test]
fn a_lecture_search_cannot_see_is_named_beside_the_results() {
    let k = Kogi::new();
    k.ok(&["import", &sample(), "--index"]);
    let other = k.write("second.txt", "スケール則について二回目の講義です。計算量とデータ量の関係を見ます。\n".as_bytes());
    k.ok(&["import", other.to_str().unwrap()]);
    let out = k.cmd().args(["search", "スケール則"]).output().unwrap();
    assert!(out.status.success());
    let err = support::stderr(&out);
    assert!(err.contains("second") && err.contains("has not been indexed") && err.contains("kogi index 2"), "{err}");
    k.ok(&["index"]);
    let out = k.cmd().args(["search", "スケール則"]).output().unwrap();
    assert!(!support::stderr(&out).contains("not in these results"), "{}", support::stderr(&out));
}
