//! The `kogi` command line end to end: real SQLite, real ONNX Runtime, the real default embedder.

mod support;

use support::Kogi;

fn sample() -> String {
    support::repo().join("examples/sample-lecture.srt").display().to_string()
}

#[test]
fn import_index_and_search_a_timed_transcript() {
    let k = Kogi::new();
    let imported = k.json(&["import", &sample(), "--course", "LLM2024", "--speaker", "Matsuo"]);
    assert_eq!(imported[0]["ok"], true);
    assert_eq!(imported[0]["created"], true);
    let lectures = k.json(&["lectures"]);
    assert_eq!(lectures[0]["meta"]["course"], "LLM2024");
    assert_eq!(lectures[0]["meta"]["speaker"], "Matsuo");
    assert_eq!(lectures[0]["format"], "srt");
    let index = k.json(&["index"]);
    assert!(index[0]["chunks"].as_u64().unwrap() > 5);
    for mode in ["hybrid", "dense", "bm25"] {
        let hits = k.json(&["search", "Chinchillaでは最適なトークン数はパラメータ数の何倍？", "--mode", mode, "-k", "3"]);
        let first = &hits[0];
        assert!(first["text"].as_str().unwrap().contains("20倍"), "{mode}: {first}");
        // Timestamps of the SRT cues travel with the passage.
        assert!(first["start_ms"].as_u64().is_some(), "{first}");
        assert!(first["span"]["end"].as_u64() > first["span"]["start"].as_u64());
        assert_eq!(first["revision"], lectures[0]["head"]);
    }
}

#[test]
fn importing_the_same_file_twice_keeps_one_lecture() {
    let k = Kogi::new();
    k.ok(&["import", &sample()]);
    let second = k.ok(&["import", &sample()]);
    assert!(second.contains("already imported"), "{second}");
    assert_eq!(k.json(&["lectures"]).as_array().unwrap().len(), 1);
}

#[test]
fn reindexing_an_unchanged_lecture_embeds_nothing() {
    let k = Kogi::new();
    k.ok(&["import", &sample(), "--index"]);
    let again = k.json(&["index"]);
    assert_eq!(again[0]["embedded"], 0);
    assert_eq!(again[0]["up_to_date"], true);
}

#[test]
fn query_syntax_in_a_question_is_never_interpreted() {
    let k = Kogi::new();
    k.ok(&["import", &sample(), "--index"]);
    for q in [r#"スケール則 "AND" NEAR(a b) OR *"#, "-推論 OR", "col:text ^x", "\"\"\"", "Best-of-N*"] {
        k.ok(&["search", q, "--mode", "bm25"]);
        k.ok(&["search", q]);
    }
}

#[test]
fn bad_files_get_clear_errors_and_leave_nothing_behind() {
    let k = Kogi::new();
    let cases: Vec<(std::path::PathBuf, &[&str], &str)> = vec![
        (k.write("empty.txt", b""), &[], "empty"),
        (k.write("image.txt", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), &[], "binary"),
        (k.write("broken.txt", "講義の文字起こし".repeat(50).as_bytes().iter().copied().chain([0xff, 0xfe, 0xfd, b'a']).chain("です".repeat(50).bytes()).collect::<Vec<u8>>().as_slice()), &[], "byte"),
        (k.write("bad.srt", b"1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:03,000 -> 00:00:04\nbad\n"), &[], "line 6"),
        (k.write("big.txt", "あ".repeat(100).as_bytes()), &["--max-bytes", "100"], "limit"),
        (k.dir.path().join("no-such-file.srt"), &[], "not found"),
    ];
    for (path, extra, expect) in cases {
        let p = path.display().to_string();
        let mut args = vec!["import", p.as_str()];
        args.extend_from_slice(extra);
        let err = k.fails(&args);
        assert!(err.contains(expect), "{p}: expected {expect:?} in: {err}");
        assert!(err.contains(path.file_name().unwrap().to_str().unwrap()), "error should name the file: {err}");
    }
    assert_eq!(k.json(&["lectures"]).as_array().unwrap().len(), 0, "a failed import left a lecture behind");
}

#[test]
fn a_damaged_model_file_is_named_with_how_to_rebuild_it() {
    let k = Kogi::new();
    k.ok(&["import", &sample()]);
    let real = support::models_dir().join("multilingual-e5-small");
    let broken = k.dir.path().join("e5-broken");
    std::fs::create_dir(&broken).unwrap();
    for f in ["manifest.json", "tokenizer.json", "config.json", "tokenizer_config.json"] {
        std::fs::copy(real.join(f), broken.join(f)).unwrap();
    }
    let model = std::fs::read(real.join("model_int8.onnx")).unwrap();
    std::fs::write(broken.join("model_int8.onnx"), &model[..model.len() / 3]).unwrap();
    let err = k.fails(&["--embedder", broken.to_str().unwrap(), "index"]);
    assert!(err.contains("model_int8.onnx") && err.contains("setup.sh"), "{err}");
    std::fs::remove_file(broken.join("tokenizer.json")).unwrap();
    let err = k.fails(&["--embedder", broken.to_str().unwrap(), "index"]);
    assert!(err.contains("tokenizer.json") && err.contains("missing"), "{err}");
}

#[test]
fn a_requested_gpu_provider_that_cannot_load_is_an_error_not_a_silent_cpu_run() {
    let k = Kogi::new();
    k.ok(&["import", &sample()]);
    let err = k.fails(&["--provider", "cuda", "index"]);
    assert!(err.contains("cuda") && err.contains("CUDA"), "{err}");
    // auto falls back, and says which provider it really uses.
    let models = k.ok(&["--provider", "auto", "models", "verify"]);
    assert!(models.contains("execution provider in use: cpu (auto"), "{models}");
}

#[test]
fn the_command_reads_the_apps_settings_and_a_flag_overrides_them_for_one_run() {
    let k = Kogi::new();
    let home = k.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join("settings.json"),
        r#"{"chunking": {"kind": "sentences", "max_chars": 200}, "provider": "cpu"}"#,
    )
    .unwrap();
    k.ok(&["import", &sample()]);
    let from_settings = k.json(&["index"]);
    assert_eq!(from_settings[0]["strategy"], "sentences:m200", "{from_settings}");
    let overridden = k.json(&["--chunking", "paragraphs:m800:w600:o100", "index"]);
    assert_eq!(overridden[0]["strategy"], "paragraphs:m800:w600:o100", "{overridden}");
    // The flag was for that run only: the file still says sentences.
    let again = k.json(&["index"]);
    assert_eq!(again[0]["strategy"], "sentences:m200");
    assert_eq!(again[0]["up_to_date"], true);
    // A damaged settings file is named, with what to do, and the defaults are used meanwhile.
    std::fs::write(home.join("settings.json"), "{ not json").unwrap();
    let out = k.cmd().args(["lectures"]).output().unwrap();
    let err = support::stderr(&out);
    assert!(out.status.success() && err.contains("settings.json") && err.contains("damaged"), "{err}");
}

#[test]
fn errors_name_the_flag_or_command_that_fixes_them() {
    let k = Kogi::new();
    let big = k.write("big.txt", "あ".repeat(100).as_bytes());
    let err = k.fails(&["import", big.to_str().unwrap(), "--max-bytes", "100"]);
    assert!(err.contains("--max-bytes"), "{err}");
    let err = k.fails(&["revisions", "999"]);
    assert!(err.contains("no lecture 999") && err.contains("kogi lectures"), "{err}");
    k.ok(&["import", &sample()]);
    let err = k.fails(&["search", "スケール則"]);
    assert!(err.contains("kogi index"), "{err}");
}

#[test]
fn server_commands_refuse_what_cannot_work_and_keep_the_key_private() {
    use std::io::Write;
    let k = Kogi::new();
    // Plain http outside the user's network is refused before anything is sent.
    let e = k.fails(&["server", "set", "http://llm.example.com/v1", "--model", "m"]);
    assert!(e.contains("https://"), "{e}");
    // Nothing listens on this port: the message names the host and says what to check; nothing is saved.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/v1");
    let e = k.fails(&["server", "set", &url, "--model", "m"]);
    assert!(e.contains(&format!("127.0.0.1:{port}")), "{e}");
    assert!(k.ok(&["server"]).contains("answers come from this computer"));
    // An ask for one run against it fails with the same words, not a panic.
    k.ok(&["import", &sample(), "--index"]);
    let e = k.fails(&["ask", "What is inference time scaling?", "--answer-with", "model", "--server", &url, "--server-model", "m"]);
    assert!(e.contains(&format!("127.0.0.1:{port}")), "{e}");
    // The key is read from standard input, stored owner-only, and shown only by its last characters.
    let mut child = k.cmd().args(["server", "key"]).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"sk-very-secret-4321\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let said = support::stdout(&out);
    assert!(out.status.success() && said.contains("…4321") && !said.contains("secret"), "{said}");
    let key_file = k.dir.path().join("home/server-key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    let shown = k.ok(&["server"]);
    assert!(!shown.contains("secret"), "{shown}");
    let settings = std::fs::read_to_string(k.dir.path().join("home/settings.json")).unwrap_or_default();
    assert!(!settings.contains("secret"));
    k.ok(&["server", "key", "--clear"]);
    assert!(!key_file.exists());
}
