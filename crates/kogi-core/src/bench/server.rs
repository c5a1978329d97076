//! What kogi adds to a server's answer: the same chat sent straight to `/v1/chat/completions`
//! (a bare streaming request, as any client would send it) and through kogi's generation
//! interface, interleaved; then several questions at once through the service layer against
//! one at a time, greedy, with the answers compared.

use super::median;
use crate::answer::Rung;
use crate::generate::{Chat, GenerateParams, Generator, Message};
use crate::server::{Client, ServerModel};
use crate::service::{AskRequest, IndexWhen, Job, Kogi};
use crate::settings::Settings;
use crate::transcript::import::ImportOptions;
use crate::{Error, Result};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

pub struct ServerBench {
    /// Interleaved pairs (direct, kogi) of the same request.
    pub runs: usize,
    pub max_tokens: usize,
    /// The chat timed; the RAG prompt of the generate bench when `None`.
    pub chat: Option<Vec<Message>>,
    /// Lecture imported into a private database for the concurrency part.
    pub lecture: PathBuf,
    /// Questions asked at once (and then one at a time).
    pub questions: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StreamTiming {
    /// Request sent → first piece of text.
    pub ttft_ms: f64,
    /// Completion tokens per second after the first.
    pub decode_tokens_per_s: f64,
    pub tokens: usize,
    pub total_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub decode_tokens_per_s_median: f64,
    pub runs: Vec<StreamTiming>,
    pub total_ms_median: f64,
    pub ttft_ms_median: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Concurrency {
    /// Answers of the concurrent run equal to the one-at-a-time answers, of `questions`.
    pub identical: usize,
    pub concurrent_s: f64,
    pub questions: usize,
    pub sequential_s: f64,
    pub speedup: f64,
    /// The first differing answer pair, when any differ.
    pub first_difference: Option<(String, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerBenchReport {
    pub concurrency: Option<Concurrency>,
    pub direct: Side,
    pub host: String,
    pub kogi: Side,
    pub max_tokens: usize,
    pub model: String,
    pub prompt_tokens: usize,
    pub runs: usize,
    /// kogi's median time to first token minus the direct one.
    pub ttft_added_ms: f64,
    /// kogi's median decode rate over the direct one.
    pub decode_ratio: f64,
}

fn side(runs: Vec<StreamTiming>) -> Side {
    let m = |f: fn(&StreamTiming) -> f64| median(runs.iter().map(f).collect());
    Side { ttft_ms_median: m(|r| r.ttft_ms), decode_tokens_per_s_median: m(|r| r.decode_tokens_per_s), total_ms_median: m(|r| r.total_ms), runs }
}

fn rate(tokens: usize, ttft_ms: f64, total_ms: f64) -> f64 {
    if tokens > 1 && total_ms > ttft_ms { (tokens - 1) as f64 / ((total_ms - ttft_ms) / 1e3) } else { 0.0 }
}

/// One bare streaming request: the baseline a user's own client would see.
async fn direct(c: Arc<Client>, body: Value) -> Result<(StreamTiming, String)> {
    let started = Instant::now();
    let resp = c.request(reqwest::Method::POST, c.endpoint("chat/completions")).json(&body).send().await.map_err(|e| c.transport_error(&e))?;
    if !resp.status().is_success() {
        let status = resp.status();
        return Err(c.status_error(status, &resp.text().await.unwrap_or_default(), None, 1));
    }
    let mut events = resp.bytes_stream().eventsource();
    let (mut first, mut text, mut tokens) = (None, String::new(), 0usize);
    while let Some(e) = events.next().await {
        let e = e.map_err(|e| c.fault(format!("broke the stream: {e}")))?;
        if e.data.trim() == "[DONE]" {
            break;
        }
        let v: Value = serde_json::from_str(&e.data).map_err(|e| c.fault(format!("sent an event that is not JSON: {e}")))?;
        if let Some(t) = v.pointer("/choices/0/delta/content").and_then(|t| t.as_str())
            && !t.is_empty()
        {
            first.get_or_insert_with(|| started.elapsed().as_secs_f64() * 1e3);
            text.push_str(t);
            tokens += 1;
        }
        if let Some(n) = v.pointer("/usage/completion_tokens").and_then(|n| n.as_u64()) {
            tokens = n as usize;
        }
    }
    let total_ms = started.elapsed().as_secs_f64() * 1e3;
    let ttft_ms = first.unwrap_or(total_ms);
    Ok((StreamTiming { ttft_ms, decode_tokens_per_s: rate(tokens, ttft_ms, total_ms), tokens, total_ms }, text))
}

pub fn server(client: Arc<Client>, settings: &Settings, params: &ServerBench) -> Result<ServerBenchReport> {
    let mut lm = ServerModel::open(client.clone())?;
    let messages = params.chat.clone().unwrap_or_else(|| {
        let passages = super::RAG_PASSAGES.iter().enumerate().map(|(i, p)| format!("[{}] {p}", i + 1)).collect::<Vec<_>>().join("\n");
        vec![
            Message::new("system", "Answer the question from the excerpts, citing them by number."),
            Message::new("user", format!("Excerpts:\n{passages}\n\nQuestion: {}", super::generate::RAG_QUESTION)),
        ]
    });
    let chat = Chat::new(messages.clone());
    let greedy = GenerateParams { max_new_tokens: params.max_tokens, ..Default::default() };
    let body = json!({
        "model": client.settings.model,
        "messages": messages.iter().map(|m| json!({"role": m.role, "content": m.content})).collect::<Vec<_>>(),
        "max_tokens": params.max_tokens,
        "temperature": 0.0,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    let cancel = AtomicBool::new(false);
    // One of each first, untimed: the server's prompt cache and kogi's connection are warm for both.
    let c = client.clone();
    let b = body.clone();
    client.block_on(async move { direct(c, b).await })?;
    lm.reply(&chat, &greedy, &mut |_| {}, &cancel)?;
    let (mut d, mut k) = (Vec::new(), Vec::new());
    let mut prompt_tokens = 0;
    for i in 0..params.runs.max(1) {
        let mut pair = |kogi_first: bool| -> Result<()> {
            if kogi_first {
                let started = Instant::now();
                let mut first = None;
                let g = lm.reply(&chat, &greedy, &mut |_| {
                    first.get_or_insert_with(|| started.elapsed().as_secs_f64() * 1e3);
                }, &cancel)?;
                let total_ms = started.elapsed().as_secs_f64() * 1e3;
                let ttft_ms = first.unwrap_or(total_ms);
                prompt_tokens = g.stats.prompt_tokens;
                k.push(StreamTiming { ttft_ms, decode_tokens_per_s: rate(g.stats.new_tokens, ttft_ms, total_ms), tokens: g.stats.new_tokens, total_ms });
            } else {
                let c = client.clone();
                let b = body.clone();
                d.push(client.block_on(async move { direct(c, b).await })?.0);
            }
            Ok(())
        };
        // Alternate which goes first, so neither always meets a warmer server.
        pair(i % 2 == 0)?;
        pair(i % 2 == 1)?;
    }
    let (direct, kogi) = (side(d), side(k));
    let concurrency = if params.questions.is_empty() { None } else { Some(concurrent(settings, client.clone(), params)?) };
    Ok(ServerBenchReport {
        ttft_added_ms: kogi.ttft_ms_median - direct.ttft_ms_median,
        decode_ratio: if direct.decode_tokens_per_s_median > 0.0 { kogi.decode_tokens_per_s_median / direct.decode_tokens_per_s_median } else { 0.0 },
        concurrency,
        direct,
        kogi,
        host: client.host(),
        model: client.settings.model.clone(),
        max_tokens: params.max_tokens,
        prompt_tokens,
        runs: params.runs.max(1),
    })
}

/// The questions through the service layer one at a time, then all at once from as many threads.
fn concurrent(settings: &Settings, client: Arc<Client>, params: &ServerBench) -> Result<Concurrency> {
    let mut s = settings.clone();
    s.temperature = 0.0;
    s.max_tokens = params.max_tokens;
    s.server.max_concurrency = s.server.max_concurrency.max(params.questions.len());
    // A server that runs one request at a time (llama-cpp-python) queues the rest: the last one's
    // first word comes after all the others' answers.
    s.server.first_token_timeout_s = s.server.first_token_timeout_s.max(1800.0);
    // A database file, as the app has: each question gets its own connection and none waits for
    // another's (the in-memory database is one connection behind a lock, so questions would queue).
    let dir = std::env::temp_dir().join(format!("kogi-bench-server-{}-{}", std::process::id(), started_nanos()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::Io { path: dir.clone(), message: e.to_string() })?;
    struct Gone(std::path::PathBuf);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _gone = Gone(dir.clone());
    let k = Kogi::new(dir.join("bench.db"), s, None);
    if let Some(key) = client.key_secret() {
        k.set_server_key(Some(key))?;
    }
    let cancel = AtomicBool::new(false);
    k.import_file(&params.lecture, &ImportOptions::default(), IndexWhen::Always, &mut Job::silent(&cancel))?;
    let ask = |q: &String| -> Result<String> {
        let r = AskRequest { question: q.clone(), modes: vec![Rung::Windows], seed: Some(1), ..Default::default() };
        let cancel = AtomicBool::new(false);
        Ok(k.ask(&r, &mut Job::silent(&cancel))?.answers.remove(0).text)
    };
    ask(&params.questions[0])?; // warm: the embedder is loaded, the connection open
    let started = Instant::now();
    let one_by_one: Vec<String> = params.questions.iter().map(ask).collect::<Result<_>>()?;
    let sequential_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let at_once: Vec<Result<String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = params.questions.iter().map(|q| scope.spawn(|| ask(q))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(Error::Invalid("a question's thread panicked".into())))).collect()
    });
    let concurrent_s = started.elapsed().as_secs_f64();
    let at_once: Vec<String> = at_once.into_iter().collect::<Result<_>>()?;
    let identical = one_by_one.iter().zip(&at_once).filter(|(a, b)| a == b).count();
    let first_difference = one_by_one.iter().zip(&at_once).find(|(a, b)| a != b).map(|(a, b)| (a.clone(), b.clone()));
    Ok(Concurrency { identical, concurrent_s, questions: params.questions.len(), sequential_s, speedup: sequential_s / concurrent_s, first_difference })
}

fn started_nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}
