//! The [`Generator`] over a server's `/v1/chat/completions`: answers stream over server-sent events
//! into the same answer stream as a local model's. A cut stream keeps what arrived, marked
//! incomplete; cancel drops the request at once (the connection closes, so the server stops).

use super::client::{Client, excerpt};
use crate::generate::{Chat, FinishReason, GenerateParams, Generation, GenerationStats, Generator, TokenScore, TokenWindows};
use crate::{Error, Result};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

/// Stop strings sent to the server (OpenAI's API takes four); all are also checked here.
const SERVER_STOPS: usize = 4;
/// Tokens a chat message's template adds around its text, for prompt budgets from a tokenizer
/// that sees only the text (generous: templates add 3–8).
const TEMPLATE_TOKENS_PER_MESSAGE: usize = 10;

/// How this server counts tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tokenize {
    /// `POST /tokenize` (llama.cpp's server, vLLM).
    Root,
    /// `POST /extras/tokenize` (llama-cpp-python).
    Extras,
    /// No tokenizer on the server: UTF-8 bytes, which no byte-level tokenizer exceeds.
    Bytes,
}

/// A chat model on a server. Cloning is cheap and clones answer independently, so questions from
/// several threads run at once (the server batches them).
#[derive(Clone)]
pub struct ServerModel {
    client: Arc<Client>,
    name: String,
    context: usize,
    tokenize: Tokenize,
}

/// What the streaming task reports to the waiting thread.
enum Piece {
    Text(String),
    Usage { prompt: usize, completion: usize },
    Finish(Option<String>),
    /// The stream broke after it began: keep what arrived, say why.
    Broken(String),
    Failed(Error),
}

impl ServerModel {
    /// Connect: the model is checked against the server's list, its context window read.
    pub fn open(client: Arc<Client>) -> Result<Self> {
        let c = client.clone();
        let (context, tokenize) = client.block_on(async move {
            let models = c.models().await?;
            let ids: Vec<&str> = models.iter().filter_map(|m| m.get("id").and_then(|i| i.as_str())).collect();
            if !ids.is_empty() && !ids.contains(&c.settings.model.as_str()) {
                return Err(c.fault(format!(
                    "has no model {:?} — it has {}; choose one in the server settings",
                    c.settings.model,
                    ids.iter().map(|i| format!("{i:?}")).collect::<Vec<_>>().join(", ")
                )));
            }
            let (context, _) = c.context_window(&models).await;
            Ok((context, probe_tokenizer(&c).await))
        })?;
        let name = format!("{} on {}", client.settings.model, client.host());
        tracing::info!(model = %name, context, tokenizer = ?tokenize, "server model ready");
        Ok(Self { client, name, context, tokenize })
    }

    pub fn host(&self) -> String {
        self.client.host()
    }

    fn messages(chat: &Chat) -> Value {
        Value::Array(chat.messages.iter().map(|m| json!({"role": m.role, "content": m.content})).collect())
    }

    /// The request body of a chat completion.
    fn body(&self, chat: &Chat, p: &GenerateParams, stream: bool) -> Value {
        let mut b = json!({
            "model": self.client.settings.model,
            "messages": Self::messages(chat),
            "max_tokens": p.max_new_tokens,
            "temperature": if p.sampling.is_greedy() { 0.0 } else { p.sampling.temperature },
            "stream": stream,
        });
        if p.sampling.top_p < 1.0 {
            b["top_p"] = json!(p.sampling.top_p);
        }
        if let Some(seed) = p.sampling.seed {
            b["seed"] = json!(seed);
        }
        if !p.stop_strings.is_empty() {
            b["stop"] = json!(p.stop_strings.iter().take(SERVER_STOPS).collect::<Vec<_>>());
        }
        if stream {
            b["stream_options"] = json!({"include_usage": true});
        }
        b
    }

    fn tokens_of(&self, text: &str) -> Result<usize> {
        let path = match self.tokenize {
            Tokenize::Bytes => return Ok(text.len()),
            Tokenize::Root => "/tokenize",
            Tokenize::Extras => "/extras/tokenize",
        };
        let c = self.client.clone();
        let body = tokenize_body(&c.settings.model, text);
        let v = self.client.block_on(async move { c.post_json(c.root_endpoint(path), &body).await })?;
        v.get("tokens").and_then(|t| t.as_array()).map(|t| t.len()).ok_or_else(|| self.client.fault("answered a token count kogi cannot read".into()))
    }

    /// One streamed reply; `on_text` hears the text as it arrives.
    fn stream(&self, chat: &Chat, p: &GenerateParams, on_text: &mut dyn FnMut(&str), cancel: &AtomicBool) -> Result<Generation> {
        let started = Instant::now();
        let (tx, rx) = channel();
        let task = self.client.spawn(stream_task(self.client.clone(), self.body(chat, p, true), tx));
        let mut text = String::new();
        let mut sent = 0; // bytes of `text` handed to `on_text`
        let mut stats = GenerationStats::default();
        let mut pieces = 0usize;
        let longest_stop = p.stop_strings.iter().map(|s| s.len()).max().unwrap_or(0);
        let finish = loop {
            if cancel.load(Ordering::Relaxed) {
                task.abort();
                break FinishReason::Cancelled;
            }
            let piece = match rx.recv_timeout(Duration::from_millis(10)) {
                Ok(p) => p,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break FinishReason::Interrupted,
            };
            match piece {
                Piece::Text(t) => {
                    if pieces == 0 {
                        stats.ttft_ms = started.elapsed().as_secs_f64() * 1e3;
                    }
                    pieces += 1;
                    text.push_str(&t);
                    if let Some(at) = p.stop_strings.iter().filter_map(|s| text.find(s.as_str())).min() {
                        text.truncate(at);
                        if text.len() > sent {
                            on_text(&text[sent..]);
                        }
                        sent = text.len();
                        task.abort();
                        break FinishReason::StopString;
                    }
                    // Hold back what could be the start of a stop string.
                    let mut safe = text.len().saturating_sub(longest_stop.saturating_sub(1)).max(sent);
                    while !text.is_char_boundary(safe) {
                        safe -= 1;
                    }
                    if safe > sent {
                        on_text(&text[sent..safe]);
                        sent = safe;
                    }
                }
                Piece::Usage { prompt, completion } => {
                    stats.prompt_tokens = prompt;
                    stats.new_tokens = completion;
                }
                Piece::Finish(reason) => {
                    break match reason.as_deref() {
                        Some("length") if stats.new_tokens > 0 && stats.new_tokens < p.max_new_tokens => FinishReason::ContextFull,
                        Some("length") => FinishReason::MaxTokens,
                        _ => FinishReason::EndOfTurn,
                    };
                }
                Piece::Broken(why) => {
                    tracing::warn!(server = %self.client.host(), %why, kept = text.len(), "answer stream broken");
                    let mut g = self.finish(text, sent, on_text, FinishReason::Interrupted, stats, pieces, started);
                    g.interrupted = Some(why);
                    return Ok(g);
                }
                Piece::Failed(e) => return Err(e),
            }
        };
        let mut g = self.finish(text, sent, on_text, finish, stats, pieces, started);
        if finish == FinishReason::Interrupted {
            g.interrupted = Some("the connection to the server ended before the answer did".into());
        }
        Ok(g)
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        text: String,
        sent: usize,
        on_text: &mut dyn FnMut(&str),
        finish: FinishReason,
        mut stats: GenerationStats,
        pieces: usize,
        started: Instant,
    ) -> Generation {
        if finish != FinishReason::Cancelled && text.len() > sent {
            on_text(&text[sent..]);
        }
        if stats.new_tokens == 0 {
            stats.new_tokens = pieces; // one streamed piece is one token on the servers kogi knows
        }
        stats.forward_passes = stats.new_tokens as u64;
        stats.total_ms = started.elapsed().as_secs_f64() * 1e3;
        let after_first = (stats.total_ms - stats.ttft_ms) / 1e3;
        if stats.new_tokens > 1 && after_first > 0.0 {
            stats.decode_tokens_per_s = (stats.new_tokens - 1) as f64 / after_first;
        }
        Generation { tokens: Vec::new(), text, finish, stats, logprob: 0.0, interrupted: None }
    }

    /// One reply without streaming (samples for "think harder"), with its tokens' log-probabilities
    /// where the server gives them.
    async fn complete(c: Arc<Client>, body: Value) -> Result<Generation> {
        let started = Instant::now();
        let v = c.post_json(c.endpoint("chat/completions"), &body).await?;
        let choice = v.pointer("/choices/0").ok_or_else(|| c.fault(format!("answered without a choice: {}", excerpt(&v.to_string()))))?;
        let text = choice.pointer("/message/content").and_then(|t| t.as_str()).unwrap_or_default().to_owned();
        let logprobs: Vec<f64> =
            choice.pointer("/logprobs/content").and_then(|c| c.as_array()).map(|a| a.iter().filter_map(|t| t.get("logprob")?.as_f64()).collect()).unwrap_or_default();
        let new_tokens = v.pointer("/usage/completion_tokens").and_then(|n| n.as_u64()).map(|n| n as usize).unwrap_or(logprobs.len());
        let finish = match choice.get("finish_reason").and_then(|f| f.as_str()) {
            Some("length") => FinishReason::MaxTokens,
            _ => FinishReason::EndOfTurn,
        };
        let total_ms = started.elapsed().as_secs_f64() * 1e3;
        let stats = GenerationStats {
            prompt_tokens: v.pointer("/usage/prompt_tokens").and_then(|n| n.as_u64()).unwrap_or(0) as usize,
            new_tokens,
            forward_passes: new_tokens as u64,
            ttft_ms: total_ms,
            total_ms,
            ..Default::default()
        };
        // Without log-probabilities every sample scores the same: best-of-N falls back to the first.
        Ok(Generation { tokens: Vec::new(), text, finish, stats, logprob: logprobs.iter().sum(), interrupted: None })
    }

    /// Run `bodies` with at most the settings' number in flight, results in order.
    fn many<T: Send + 'static, F>(&self, bodies: Vec<Value>, cancel: &AtomicBool, call: fn(Arc<Client>, Value) -> F) -> Result<Vec<T>>
    where
        F: std::future::Future<Output = Result<T>> + Send + 'static,
    {
        let c = self.client.clone();
        let limit = c.settings.max_concurrency.max(1);
        let (tx, rx) = channel();
        let task = self.client.spawn(async move {
            let results: Vec<Result<T>> =
                futures_util::stream::iter(bodies.into_iter().map(|b| call(c.clone(), b))).buffered(limit).collect().await;
            let _ = tx.send(results);
        });
        loop {
            if cancel.load(Ordering::Relaxed) {
                task.abort();
                return Err(Error::Cancelled);
            }
            match rx.recv_timeout(Duration::from_millis(10)) {
                Ok(results) => return results.into_iter().collect(),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return Err(self.client.fault("the requests ended without an answer".into())),
            }
        }
    }
}

/// Send a streamed chat completion and forward its pieces. Timeouts: the first piece within the
/// first-token timeout, each next one within the idle timeout.
async fn stream_task(c: Arc<Client>, body: Value, tx: Sender<Piece>) {
    let first = Duration::from_secs_f64(c.settings.first_token_timeout_s);
    let idle = Duration::from_secs_f64(c.settings.idle_timeout_s);
    let url = c.endpoint("chat/completions");
    let sent = tokio::time::timeout(first, c.send(|| c.request(Method::POST, url.clone()).json(&body))).await;
    let resp = match sent {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return drop(tx.send(Piece::Failed(e))),
        Err(_) => return drop(tx.send(Piece::Failed(c.fault(format!("sent nothing within {} s of the question (the first-word timeout)", first.as_secs_f64()))))),
    };
    let mut events = resp.bytes_stream().eventsource();
    let mut got_text = false;
    loop {
        let wait = if got_text { idle } else { first };
        let next = match tokio::time::timeout(wait, events.next()).await {
            Ok(n) => n,
            Err(_) => {
                let why = if got_text {
                    format!("the server went silent for {} s mid-answer (the idle timeout)", wait.as_secs_f64())
                } else {
                    format!("sent no words within {} s of the question (the first-word timeout)", wait.as_secs_f64())
                };
                return drop(tx.send(if got_text { Piece::Broken(why) } else { Piece::Failed(c.fault(why)) }));
            }
        };
        let event = match next {
            None => return drop(tx.send(broken_or_failed(&c, got_text, "the server closed the stream before the answer was finished".into()))),
            Some(Err(e)) => return drop(tx.send(broken_or_failed(&c, got_text, format!("the stream broke: {e}")))),
            Some(Ok(ev)) => ev,
        };
        let data = event.data.trim();
        if data.is_empty() {
            continue;
        }
        if data == "[DONE]" {
            return drop(tx.send(Piece::Finish(None)));
        }
        let v: Value = match serde_json::from_str(data) {
            Ok(v) => v,
            Err(_) => return drop(tx.send(broken_or_failed(&c, got_text, format!("the server sent an event kogi cannot read: {}", excerpt(data))))),
        };
        if let Some(err) = v.get("error") {
            let msg = err.get("message").and_then(|m| m.as_str()).map(str::to_owned).unwrap_or_else(|| err.to_string());
            return drop(tx.send(broken_or_failed(&c, got_text, format!("the server stopped with an error: {}", excerpt(&msg)))));
        }
        if let Some(u) = v.get("usage").filter(|u| !u.is_null()) {
            let n = |k: &str| u.get(k).and_then(|x| x.as_u64()).unwrap_or(0) as usize;
            let _ = tx.send(Piece::Usage { prompt: n("prompt_tokens"), completion: n("completion_tokens") });
        }
        let Some(choice) = v.pointer("/choices/0") else { continue };
        if let Some(t) = choice.pointer("/delta/content").and_then(|t| t.as_str())
            && !t.is_empty()
        {
            got_text = true;
            if tx.send(Piece::Text(t.to_owned())).is_err() {
                return;
            }
        }
        if let Some(reason) = choice.get("finish_reason").and_then(|f| f.as_str()) {
            // Some servers send the usage in one more event after the finish: read it if it comes soon.
            if let Ok(Some(Ok(ev))) = tokio::time::timeout(Duration::from_millis(200), events.next()).await
                && let Ok(v) = serde_json::from_str::<Value>(&ev.data)
                && let Some(u) = v.get("usage").filter(|u| !u.is_null())
            {
                let n = |k: &str| u.get(k).and_then(|x| x.as_u64()).unwrap_or(0) as usize;
                let _ = tx.send(Piece::Usage { prompt: n("prompt_tokens"), completion: n("completion_tokens") });
            }
            return drop(tx.send(Piece::Finish(Some(reason.to_owned()))));
        }
    }
}

fn broken_or_failed(c: &Client, got_text: bool, why: String) -> Piece {
    if got_text { Piece::Broken(why) } else { Piece::Failed(c.fault(why)) }
}

fn tokenize_body(model: &str, text: &str) -> Value {
    // One body for every server's tokenize route: llama.cpp reads `content`, vLLM `prompt`,
    // llama-cpp-python `input`.
    json!({"model": model, "content": text, "prompt": text, "input": text, "add_special": false})
}

async fn probe_tokenizer(c: &Client) -> Tokenize {
    for (route, path) in [(Tokenize::Root, "/tokenize"), (Tokenize::Extras, "/extras/tokenize")] {
        let resp = c.request(Method::POST, c.root_endpoint(path)).json(&tokenize_body(&c.settings.model, "kogi")).send().await;
        if let Ok(r) = resp
            && r.status().is_success()
            && let Ok(v) = r.json::<Value>().await
            && v.get("tokens").is_some_and(|t| t.is_array())
        {
            return route;
        }
    }
    Tokenize::Bytes
}

/// For each word, the log of the summed probability of the top tokens that spell it.
fn word_logprobs(top: &[Value], words: &[&str]) -> Vec<f32> {
    words
        .iter()
        .map(|w| {
            let p: f64 = top
                .iter()
                .filter(|t| t.get("token").and_then(|s| s.as_str()).is_some_and(|s| s.trim().eq_ignore_ascii_case(w)))
                .filter_map(|t| t.get("logprob").and_then(|l| l.as_f64()))
                .map(f64::exp)
                .sum();
            if p > 0.0 { p.ln() as f32 } else { f32::NEG_INFINITY }
        })
        .collect()
}

async fn judge(c: Arc<Client>, body: Value) -> Result<Value> {
    c.post_json(c.endpoint("chat/completions"), &body).await
}

impl Generator for ServerModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn runs_on(&self) -> String {
        format!("server {}", self.client.host())
    }

    fn context_window(&self) -> usize {
        self.context
    }

    fn count_tokens(&self, text: &str) -> Result<usize> {
        self.tokens_of(text)
    }

    fn count_chat_tokens(&self, chat: &Chat) -> Result<usize> {
        let mut n = TEMPLATE_TOKENS_PER_MESSAGE;
        for m in &chat.messages {
            n += self.tokens_of(&m.content)? + TEMPLATE_TOKENS_PER_MESSAGE;
        }
        Ok(n)
    }

    fn primes_replies(&self) -> bool {
        // The chat API has no portable way to make the reply begin with given text.
        false
    }

    fn fork(&self) -> Option<Box<dyn Generator>> {
        Some(Box::new(self.clone()))
    }

    fn reply(&mut self, chat: &Chat, params: &GenerateParams, on_text: &mut dyn FnMut(&str), cancel: &AtomicBool) -> Result<Generation> {
        self.stream(chat, params, on_text, cancel)
    }

    fn replies(&mut self, chat: &Chat, n: usize, params: &GenerateParams, cancel: &AtomicBool) -> Result<Vec<Generation>> {
        // Separate requests rather than `n`: not every server takes `n`, and each sample gets its
        // own seed, so a seeded run is reproducible.
        let bodies = (0..n)
            .map(|i| {
                let mut b = self.body(chat, params, false);
                if let Some(seed) = params.sampling.seed {
                    b["seed"] = json!(seed.wrapping_add(i as u64));
                }
                b["logprobs"] = json!(true);
                b
            })
            .collect();
        self.many(bodies, cancel, Self::complete)
    }

    fn next_word_logprobs(&mut self, chats: &[Chat], words: &[&str]) -> Result<Vec<Vec<f32>>> {
        let bodies = chats
            .iter()
            .map(|chat| {
                json!({
                    "model": self.client.settings.model,
                    "messages": Self::messages(chat),
                    "max_tokens": 1,
                    "temperature": 0.0,
                    "logprobs": true,
                    "top_logprobs": 10,
                })
            })
            .collect();
        let answers = self.many(bodies, &AtomicBool::new(false), judge)?;
        Ok(answers
            .iter()
            .map(|v| match v.pointer("/choices/0/logprobs/content/0/top_logprobs").and_then(|t| t.as_array()) {
                Some(top) => word_logprobs(top, words),
                // No log-probabilities from this server: the one-token answer itself decides.
                None => {
                    let said = v.pointer("/choices/0/message/content").and_then(|t| t.as_str()).unwrap_or_default().trim().to_lowercase();
                    words.iter().map(|w| if said.starts_with(&w.to_lowercase()) { 0.0 } else { f32::NEG_INFINITY }).collect()
                }
            })
            .collect())
    }

    fn token_logprobs(&mut self, _: &str, _: TokenWindows, _: &mut dyn FnMut(usize, usize), _: &AtomicBool) -> Result<Vec<TokenScore>> {
        Err(Error::Invalid(
            "the suspicious-passage scan reads the probability of every word of the transcript, which kogi can get only from a model on this computer — choose \"this computer\" for answers while scanning".into(),
        ))
    }

    fn text_logprob(&mut self, text: &str) -> Result<f64> {
        self.token_logprobs(text, TokenWindows { tokens: 1, stride: 1 }, &mut |_, _| {}, &AtomicBool::new(false)).map(|_| 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yes_and_no_sum_every_spelling_among_the_top_tokens() {
        let top: Vec<Value> = serde_json::from_str(
            r#"[{"token": "Yes", "logprob": -0.5}, {"token": " yes", "logprob": -2.0}, {"token": "No", "logprob": -1.5}, {"token": "Maybe", "logprob": -3.0}]"#,
        )
        .unwrap();
        let lp = word_logprobs(&top, &["yes", "no", "unsure"]);
        assert!((lp[0] as f64 - ((-0.5f64).exp() + (-2.0f64).exp()).ln()).abs() < 1e-6);
        assert!((lp[1] + 1.5).abs() < 1e-6);
        assert_eq!(lp[2], f32::NEG_INFINITY);
    }
}
