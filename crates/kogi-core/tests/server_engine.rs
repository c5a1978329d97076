//! kogi answering from a real OpenAI-compatible engine: llama.cpp's server (llama-cpp-python,
//! set up by scripts/setup-reference.sh) serving the real SmolLM2 GGUF, started here on a free
//! port. The answer streams through the same ladder as a local model's and is exactly what the
//! engine itself writes for the same messages; the reranker reads the engine's log-probabilities;
//! "think harder" runs its samples at once; embeddings can come from the engine and are cached
//! apart from the local model's; cancel closes the request and the engine keeps serving.

mod support;

use kogi_core::answer::{AnswerWith, Rung, ThinkHarder};
use kogi_core::inference::runtime::Provider;
use kogi_core::generate::sampling::SamplingParams;
use kogi_core::generate::{Chat, GenerateParams, Generator, Message};
use kogi_core::server::{Client, Engine, ServerModel, ServerSettings};
use kogi_core::service::{AskRequest, Event, IndexWhen, Job, Kogi, SearchParams};
use kogi_core::settings::Settings;
use kogi_core::transcript::import::ImportOptions;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

const CHAT: &str = "smollm2";
const EMBED: &str = "smollm2-embed";
const CONTEXT: usize = 2048;

struct LlamaServer {
    port: u16,
    _child: ChildGuard,
}

struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One engine for every test of this file (loading it takes seconds); it dies with the process
/// because its stdin is ours (see the wrapper below).
fn engine() -> &'static LlamaServer {
    static ENGINE: OnceLock<LlamaServer> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let py = support::reference_cache().join("reference/bin/python");
        let gguf = support::reference_cache().join("gguf/SmolLM2-135M-Instruct.Q4_1.gguf");
        assert!(py.is_file() && gguf.is_file(), "llama.cpp's reference is not set up: run scripts/setup-reference.sh");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = serde_json::json!({
            "host": "127.0.0.1",
            "port": port,
            // Concurrent requests queue instead of cancelling the one in flight.
            "interrupt_requests": false,
            "models": [
                {"model": gguf, "model_alias": CHAT, "n_ctx": CONTEXT, "n_threads": 2, "logits_all": true, "verbose": false},
                {"model": gguf, "model_alias": EMBED, "n_ctx": 2048, "n_batch": 2048, "n_ubatch": 2048, "n_threads": 2, "embedding": true, "verbose": false}
            ]
        });
        let dir = std::env::temp_dir().join(format!("kogi-llama-server-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config_path = dir.join("config.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        // The engine exits when this test process does: the wrapper watches its stdin (our pipe).
        let wrapper = "import sys, os, threading, runpy\n\
                       threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()\n\
                       sys.argv = ['llama_cpp.server', '--config_file', sys.argv[1]]\n\
                       runpy.run_module('llama_cpp.server', run_name='__main__')\n";
        let mut child = Command::new(py)
            .args(["-c", wrapper, config_path.to_str().unwrap()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let l = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                l.lock().unwrap().push(line);
            }
        });
        std::mem::forget(child.stdin.take());
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("llama.cpp's server exited ({status}):\n{}", lines.lock().unwrap().join("\n"));
            }
            assert!(started.elapsed() < Duration::from_secs(120), "llama.cpp's server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        LlamaServer { port, _child: ChildGuard(child) }
    })
}

fn server_settings(model: &str) -> ServerSettings {
    ServerSettings { base_url: format!("http://127.0.0.1:{}/v1", engine().port), model: model.into(), ..Default::default() }
}

/// A lecture database on disk, indexed on this computer, answered by the engine.
fn kogi(dir: &std::path::Path, server: ServerSettings) -> Kogi {
    kogi_on(dir, server, &support::repo().join("examples/sample-lecture.srt"))
}

fn kogi_on(dir: &std::path::Path, server: ServerSettings, lecture: &std::path::Path) -> Kogi {
    let settings = Settings {
        models_dir: Some(support::models_dir()),
        provider: Provider::Cpu,
        threads: Some(2),
        answer_with: AnswerWith::Model,
        max_tokens: 48,
        engine: Engine::Server,
        server,
        ..Default::default()
    };
    let k = Kogi::new(dir.join("kogi.sqlite3"), settings, Some(dir.join("settings.json")));
    let cancel = AtomicBool::new(false);
    k.import_file(lecture, &ImportOptions::default(), IndexWhen::Always, &mut Job::silent(&cancel)).unwrap();
    k
}

fn request(modes: Vec<Rung>) -> AskRequest {
    AskRequest { question: "What is inference time scaling?".into(), modes, seed: Some(7), ..Default::default() }
}

#[test]
fn test_connection_lists_the_engines_models_and_takes_the_context_window_from_the_settings_when_it_says_none() {
    let dir = tempfile::tempdir().unwrap();
    let k = Kogi::new(dir.path().join("kogi.sqlite3"), Settings::default(), None);
    let report = k.test_server(&server_settings(CHAT), None).unwrap();
    assert!(report.models.contains(&CHAT.to_owned()) && report.models.contains(&EMBED.to_owned()), "{report:?}");
    assert_eq!(report.model_listed, Some(true));
    // Plain http, but to this computer: nothing crosses a network.
    assert!(!report.unencrypted);
    // llama-cpp-python reports no context window: kogi says it assumes one, or uses the setting.
    assert!(report.context_source.starts_with("assumed"), "{report:?}");
    let set = ServerSettings { context_tokens: Some(CONTEXT), ..server_settings(CHAT) };
    let report = k.test_server(&set, None).unwrap();
    assert_eq!((report.context_tokens, report.context_source.as_str()), (CONTEXT, "the settings"));
    let missing = k.test_server(&server_settings("no-such-model"), None).unwrap();
    assert_eq!(missing.model_listed, Some(false));
}

#[test]
fn every_step_of_the_ladder_answers_from_the_engine_on_the_real_lecture_streamed_and_cited_to_the_text() {
    // The real raw lecture where the checkout sits beside the data, else the bundled sample.
    let lecture = support::shared_data().map(|d| d.join("LLM2024_day4_raw.txt")).filter(|f| f.is_file()).unwrap_or_else(|| support::repo().join("examples/sample-lecture.srt"));
    let dir = tempfile::tempdir().unwrap();
    let k = kogi_on(dir.path(), ServerSettings { context_tokens: Some(CONTEXT), ..server_settings(CHAT) }, &lecture);
    let text = std::fs::read_to_string(&lecture).unwrap();
    let cancel = AtomicBool::new(false);
    let mut streamed = std::collections::BTreeMap::<String, String>::new();
    let request = AskRequest { question: "LLMにおけるInference Time Scalingとは？".into(), modes: Rung::ALL.to_vec(), seed: Some(7), ..Default::default() };
    let asked = {
        let mut job = Job::new(&cancel, |e| {
            if let Event::Text { part, text } = e {
                streamed.entry(part.to_string()).or_default().push_str(text);
            }
        });
        k.ask(&request, &mut job).unwrap()
    };
    assert_eq!(asked.answered_by.as_deref(), Some(format!("127.0.0.1:{}", engine().port).as_str()));
    assert_eq!(asked.answers.len(), Rung::ALL.len());
    for a in &asked.answers {
        assert!(!a.text.trim().is_empty() && a.interrupted.is_none() && !a.quoted, "{:?}: {a:?}", a.rung);
        assert!(a.rung == Rung::None || !a.passages.is_empty(), "{:?} handed no passages to the engine", a.rung);
        assert!(streamed.values().any(|s| s.contains(a.text.trim())), "{:?} did not stream: {streamed:?}", a.rung);
        // A prompt too long for the engine's window is trimmed and said so, never cut by the engine.
        assert!(a.stats.as_ref().unwrap().prompt_tokens + 48 <= CONTEXT, "{:?}: {:?}", a.rung, a.stats);
        for c in &a.citations {
            let p = &a.passages[c.n - 1];
            assert_eq!((c.lecture, c.revision, c.span), (p.lecture, p.revision, p.span), "{:?}", a.rung);
        }
        eprintln!("[{:?}] {} passages ({} trimmed), {} citations: {}", a.rung, a.passages.len(), a.trimmed_passages, a.citations.len(), a.text.chars().take(100).collect::<String>());
    }
    assert!(asked.answers.iter().any(|a| a.trimmed_passages > 0) || text.chars().count() < 3000, "the whole-transcript steps must be trimmed to the window");
}

/// The engine's chat model behind kogi's generation interface, and its client for direct requests.
fn model() -> (ServerModel, Arc<Client>) {
    let client = Arc::new(Client::new(&ServerSettings { context_tokens: Some(CONTEXT), ..server_settings(CHAT) }, None).unwrap());
    (ServerModel::open(client.clone()).unwrap(), client)
}

fn chat(question: &str) -> Chat {
    Chat::new(vec![Message::new("system", "Answer in one short sentence."), Message::new("user", question)])
}

#[test]
fn streamed_words_are_exactly_what_the_engine_writes_for_the_same_messages() {
    let (mut lm, client) = model();
    let greedy = GenerateParams { max_new_tokens: 40, sampling: SamplingParams { temperature: 0.0, ..Default::default() }, ..Default::default() };
    for q in ["What is the capital of France?", "Name three colours.", "Why is the sky blue?"] {
        let mut pieces = Vec::new();
        let g = lm.reply(&chat(q), &greedy, &mut |t| pieces.push(t.to_owned()), &AtomicBool::new(false)).unwrap();
        assert!(pieces.len() > 1, "the answer did not stream: {pieces:?}");
        assert_eq!(pieces.concat(), g.text);
        let body = serde_json::json!({
            "model": CHAT,
            "messages": [{"role": "system", "content": "Answer in one short sentence."}, {"role": "user", "content": q}],
            "temperature": 0.0,
            "max_tokens": 40,
            "stream": false,
        });
        let c = client.clone();
        let direct = client.block_on(async move { c.post_json(c.endpoint("chat/completions"), &body).await }).unwrap();
        assert_eq!(g.text, direct.pointer("/choices/0/message/content").and_then(|c| c.as_str()).unwrap(), "{q}");
        assert_eq!(g.stats.new_tokens as u64, direct.pointer("/usage/completion_tokens").and_then(|n| n.as_u64()).unwrap(), "{q}");
    }
}

#[test]
fn a_stop_string_ends_the_answer_before_it() {
    let (mut lm, _) = model();
    let params = GenerateParams { max_new_tokens: 60, stop_strings: vec![",".into()], ..Default::default() };
    let g = lm.reply(&chat("List five fruits separated by commas."), &params, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    assert!(!g.text.contains(','), "{:?}", g.text);
}

#[test]
fn the_yes_no_judge_reads_the_engines_log_probabilities() {
    let (mut lm, _) = model();
    let ask = |q: &str| Chat::new(vec![Message::new("user", format!("{q} Answer yes or no."))]);
    let lp = lm.next_word_logprobs(&[ask("Is Paris the capital of France?"), ask("Is the sun cold?")], &["yes", "no"]).unwrap();
    assert_eq!(lp.len(), 2);
    for pair in &lp {
        assert_eq!(pair.len(), 2);
        assert!(pair.iter().all(|l| *l <= 0.0) && pair.iter().any(|l| l.is_finite()), "{lp:?}");
        assert!(pair.iter().map(|l| l.exp()).sum::<f32>() <= 1.0 + 1e-3, "{lp:?}");
    }
    // The reranked step runs on them end to end.
    let dir = tempfile::tempdir().unwrap();
    let k = kogi(dir.path(), ServerSettings { context_tokens: Some(CONTEXT), ..server_settings(CHAT) });
    let a = k.ask(&request(vec![Rung::Reranked]), &mut Job::silent(&AtomicBool::new(false))).unwrap().answers.remove(0);
    assert!(!a.text.trim().is_empty() && !a.passages.is_empty(), "{a:?}");
}

#[test]
fn thinking_harder_sends_its_samples_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let k = kogi(dir.path(), ServerSettings { context_tokens: Some(CONTEXT), ..server_settings(CHAT) });
    let cancel = AtomicBool::new(false);
    let mut r = request(vec![Rung::Windows]);
    r.think_method = Some(ThinkHarder::SelfConsistency { n: 3 });
    let mut s = k.settings();
    s.temperature = 0.7;
    k.save_settings(s).unwrap();
    let a = k.ask(&r, &mut Job::silent(&cancel)).unwrap().answers.remove(0);
    let t = a.think.clone().expect("thought harder");
    assert_eq!(t.samples, 3);
    assert!(t.new_tokens > 0 && !a.text.trim().is_empty(), "{a:?}");
}

#[test]
fn embeddings_from_the_engine_are_cached_apart_and_search_works_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let k = kogi(dir.path(), ServerSettings { context_tokens: Some(CONTEXT), ..server_settings(CHAT) });
    let cancel = AtomicBool::new(false);
    // The lecture was indexed with the local embedder on import; the engine's vectors are new.
    let mut s = k.settings();
    s.server.embed_model = Some(EMBED.into());
    k.save_settings(s).unwrap();
    let first = k.index(&[], &mut Job::silent(&cancel)).unwrap();
    assert!(first.iter().map(|r| r.embedded).sum::<usize>() > 0, "{first:?}");
    let again = k.index(&[], &mut Job::silent(&cancel)).unwrap();
    assert_eq!(again.iter().map(|r| r.embedded).sum::<usize>(), 0, "{again:?}");
    let id = k.loaded_embedder().unwrap().model_id().to_owned();
    assert!(id.starts_with("server:127.0.0.1:") && id.ends_with(EMBED), "{id}");
    let hits = k.search("inference time scaling", &SearchParams { k: 3, ..Default::default() }, &mut Job::silent(&cancel)).unwrap();
    assert!(!hits.is_empty());
    // Back to local embeddings: nothing to embed again.
    let mut s = k.settings();
    s.server.embed_model = None;
    k.save_settings(s).unwrap();
    let local = k.index(&[], &mut Job::silent(&cancel)).unwrap();
    assert_eq!(local.iter().map(|r| r.embedded).sum::<usize>(), 0, "{local:?}");
}

#[test]
fn cancel_closes_the_request_and_the_engine_answers_the_next_question() {
    let dir = tempfile::tempdir().unwrap();
    let k = kogi(dir.path(), ServerSettings { context_tokens: Some(CONTEXT), ..server_settings(CHAT) });
    let mut s = k.settings();
    s.max_tokens = 400;
    k.save_settings(s).unwrap();
    let cancel = Arc::new(AtomicBool::new(false));
    let pieces = AtomicUsize::new(0);
    let (result, took) = std::thread::scope(|scope| {
        let h = scope.spawn(|| {
            let mut job = Job::new(&cancel, |e| {
                if let Event::Text { .. } = e {
                    pieces.fetch_add(1, Ordering::SeqCst);
                }
            });
            k.ask(&request(vec![Rung::None]), &mut job)
        });
        while pieces.load(Ordering::SeqCst) < 2 && !h.is_finished() {
            std::thread::sleep(Duration::from_millis(2));
        }
        let at = Instant::now();
        cancel.store(true, Ordering::SeqCst);
        let r = h.join().unwrap();
        (r, at.elapsed())
    });
    assert!(took < Duration::from_millis(500), "cancel took {took:?}");
    assert!(matches!(result, Err(kogi_core::Error::Cancelled)) || result.is_ok());
    cancel.store(false, Ordering::SeqCst);
    let next = k.ask(&request(vec![Rung::Windows]), &mut Job::silent(&cancel)).unwrap();
    assert!(!next.answers[0].text.trim().is_empty());
}
