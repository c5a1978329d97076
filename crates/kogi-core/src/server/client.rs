//! The connection to a server: its addresses, the key, timeouts, retries, and every failure in the
//! user's words. Calls are async on a small runtime of the client's own; [`Client::block_on`] lets
//! kogi's synchronous pipeline wait for them from any thread (a job thread, or the desktop shell's).

use super::key::ApiKey;
use super::{ASSUMED_CONTEXT_TOKENS, ServerSettings};
use crate::{Error, Result};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::Serialize;
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Attempts of a request that can safely be repeated (nothing was generated or stored yet).
const ATTEMPTS: u32 = 3;
/// The longest `Retry-After` kogi waits before trying again.
const LONGEST_WAIT: Duration = Duration::from_secs(20);

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    rt: Arc<Threads>,
    base: Url,
    key: Option<ApiKey>,
    pub settings: ServerSettings,
}

/// The connection's runtime. The last clone of a client may be dropped inside one of its own tasks
/// (a stream that outlives its waiter): the runtime is then let go in the background, the one way
/// tokio allows from there.
struct Threads(Option<tokio::runtime::Runtime>);

impl Threads {
    fn get(&self) -> &tokio::runtime::Runtime {
        self.0.as_ref().expect("the runtime lives until drop")
    }
}

impl Drop for Threads {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// What "test connection" shows.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ServerReport {
    pub host: String,
    /// The models the server lists (empty when it has no list).
    pub models: Vec<String>,
    /// Whether the chosen model is among them (`None`: no list, or no model chosen).
    pub model_listed: Option<bool>,
    /// The context window kogi will plan prompts for, in tokens.
    pub context_tokens: usize,
    /// Where that number comes from ("the server (max_model_len)", "the settings", "assumed").
    pub context_source: String,
    /// Plain http: readable on the network between here and the server.
    pub unencrypted: bool,
    pub ms: f64,
}

impl Client {
    pub fn new(settings: &ServerSettings, key: Option<ApiKey>) -> Result<Self> {
        let mut base = settings.url()?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs_f64(settings.connect_timeout_s))
            .user_agent(concat!("kogi/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Invalid(format!("cannot set up the connection: {e}")))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kogi-server")
            .enable_all()
            .build()
            .map_err(|e| Error::Invalid(format!("cannot start the connection's threads: {e}")))?;
        Ok(Self { http, rt: Arc::new(Threads(Some(rt))), base, key, settings: settings.clone() })
    }

    /// The key this client sends (benchmarks hand it to a second service).
    pub fn key_secret(&self) -> Option<&str> {
        self.key.as_ref().map(ApiKey::secret)
    }

    pub fn host(&self) -> String {
        self.settings.host()
    }

    /// `path` under the API's base (`chat/completions` → `…/v1/chat/completions`).
    pub fn endpoint(&self, path: &str) -> Url {
        self.base.join(path).expect("a relative path joins")
    }

    /// `path` at the server's root, outside `/v1` (`/props`, `/tokenize` of llama.cpp and vLLM).
    pub fn root_endpoint(&self, path: &str) -> Url {
        let mut u = self.base.clone();
        u.set_path(path);
        u
    }

    pub fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let r = self.http.request(method, url);
        match &self.key {
            Some(k) => r.bearer_auth(k.secret()),
            None => r,
        }
    }

    /// Run `fut` on the client's runtime and wait for it here.
    pub fn block_on<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.rt.get().spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().expect("the server task ends with a result")
    }

    pub fn spawn<F>(&self, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.rt.get().spawn(fut)
    }

    /// Send a request, trying again on 429 (after its `Retry-After`) and on 502/503/504 — only
    /// requests that can be repeated come here: nothing was generated or stored when those answer.
    /// A status other than success is an error in the user's words.
    pub async fn send(&self, build: impl Fn() -> RequestBuilder) -> Result<Response> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let resp = build().send().await.map_err(|e| self.transport_error(&e))?;
            let status = resp.status();
            if status.is_success() {
                return Ok(resp);
            }
            let wait = retry_after(&resp);
            let again = status == StatusCode::TOO_MANY_REQUESTS
                || matches!(status, StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT);
            if again && attempt < ATTEMPTS {
                let wait = wait.unwrap_or(Duration::from_millis(500 << attempt)).min(LONGEST_WAIT);
                tracing::info!(status = status.as_u16(), wait_ms = wait.as_millis() as u64, "the server is busy; trying again");
                tokio::time::sleep(wait).await;
                continue;
            }
            let body = resp.text().await.unwrap_or_default();
            return Err(self.status_error(status, &body, wait, attempt));
        }
    }

    pub async fn get_json(&self, url: Url) -> Result<Value> {
        self.whole(async {
            let resp = self.send(|| self.request(Method::GET, url.clone())).await?;
            self.json_of(resp).await
        })
        .await
    }

    pub async fn post_json(&self, url: Url, body: &Value) -> Result<Value> {
        self.whole(async {
            let resp = self.send(|| self.request(Method::POST, url.clone()).json(body)).await?;
            self.json_of(resp).await
        })
        .await
    }

    /// A request answered all at once must be answered within the first-word timeout: for it, the
    /// whole answer is the first word (retries and `Retry-After` waits included).
    async fn whole(&self, fut: impl Future<Output = Result<Value>>) -> Result<Value> {
        let limit = self.settings.first_token_timeout_s;
        tokio::time::timeout(Duration::from_secs_f64(limit), fut).await.unwrap_or_else(|_| {
            Err(self.fault(format!(
                "no answer within {limit} s (the first-word timeout) — the server may be overloaded; try again, or raise the timeout in the server settings"
            )))
        })
    }

    async fn json_of(&self, resp: Response) -> Result<Value> {
        let text = resp.text().await.map_err(|e| self.transport_error(&e))?;
        serde_json::from_str(&text).map_err(|_| self.fault(format!("answered with something that is not JSON: {}", excerpt(&text))))
    }

    /// An error about this server.
    pub fn fault(&self, message: String) -> Error {
        Error::Server { host: self.host(), message }
    }

    /// A failure below HTTP: no connection, TLS, a timeout, a cut connection.
    pub fn transport_error(&self, e: &reqwest::Error) -> Error {
        let chain = error_chain(e);
        let lower = chain.to_lowercase();
        // rustls words a TLS failure in many ways: a certificate, an alert, or plain http where
        // https was expected ("corrupt message of type InvalidContentType").
        let tls = ["certificate", "tls", "handshake", "unknownissuer", "corrupt message", "invalidcontenttype", "alert", "peer"];
        let message = if self.base.scheme() == "https" && tls.iter().any(|t| lower.contains(t)) {
            format!("the secure connection failed ({chain}) — this computer does not trust the server's certificate, or the server does not speak https")
        } else if e.is_connect() && e.is_timeout() {
            format!("no connection within {} s — is the address right, and is the server up?", self.settings.connect_timeout_s)
        } else if e.is_connect() {
            format!("cannot reach {} ({chain}) — is the server running, and is the address right?", self.base)
        } else if e.is_timeout() {
            "the server did not answer in time".to_owned()
        } else {
            format!("the connection failed ({chain})")
        };
        self.fault(message)
    }

    /// A non-success status, with what to do.
    pub fn status_error(&self, status: StatusCode, body: &str, retry_after: Option<Duration>, attempts: u32) -> Error {
        let said = server_message(body);
        let said = if said.is_empty() { String::new() } else { format!(": {said}") };
        let code = status.as_u16();
        let message = match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN if self.key.is_none() => {
                format!("the server wants an API key ({code}{said}) — set the key in the server settings")
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                format!("the server refused the API key {} ({code}{said}) — check the key in the server settings", self.key.as_ref().map(|k| k.hint()).unwrap_or_default())
            }
            StatusCode::NOT_FOUND => format!(
                "not found ({code}{said}) — the server has no model {:?}, or the address lacks its /v1; test the connection to see the models",
                self.settings.model
            ),
            StatusCode::TOO_MANY_REQUESTS => format!(
                "the server is busy (429{said}); kogi tried {attempts} times{} — try again in a moment",
                retry_after.map(|w| format!(", waiting {} s as it asked", w.as_secs_f64().ceil())).unwrap_or_default()
            ),
            s if s.is_server_error() => format!("the server failed ({code}{said}) — its log says why; try again, or ask whoever runs it"),
            s if said.to_lowercase().contains("context") || said.to_lowercase().contains("too long") || said.to_lowercase().contains("exceed") => {
                format!("the prompt does not fit the server's model ({}{said}) — lower the context tokens in the server settings", s.as_u16())
            }
            _ => format!("the server refused the request ({code}{said})"),
        };
        self.fault(message)
    }

    /// The server's model ids (`GET /v1/models`; empty when it has no list) and the raw entries.
    pub async fn models(&self) -> Result<Vec<Value>> {
        let v = self.get_json(self.endpoint("models")).await;
        match v {
            Ok(v) => Ok(v.get("data").and_then(|d| d.as_array()).cloned().unwrap_or_default()),
            Err(Error::Server { message, .. }) if message.starts_with("not found") => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// A server that lists no models must at least have the chat endpoint: a one-token request
    /// there, refused for any reason but "not found", shows the address is right (a 404 for
    /// everything is a wrong path, most often a missing /v1).
    async fn chat_endpoint_exists(&self) -> Result<()> {
        let body = serde_json::json!({"model": self.settings.model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1});
        match self.post_json(self.endpoint("chat/completions"), &body).await {
            Err(Error::Server { message, .. }) if message.starts_with("not found") => Err(Error::Invalid(format!(
                "{} answers \"not found\" for both its model list and its chat endpoint ({}) — check the address: most servers want it to end in /v1",
                self.host(),
                self.endpoint("chat/completions")
            ))),
            _ => Ok(()),
        }
    }

    /// The context window of the chosen model and where the number comes from: the settings,
    /// vLLM's `max_model_len` in `/v1/models`, llama.cpp's `/props`, else assumed.
    pub async fn context_window(&self, models: &[Value]) -> (usize, String) {
        if let Some(n) = self.settings.context_tokens {
            return (n, "the settings".into());
        }
        let entry = models.iter().find(|m| m.get("id").and_then(|i| i.as_str()) == Some(self.settings.model.as_str()));
        if let Some(n) = entry.and_then(|m| m.get("max_model_len")).and_then(|n| n.as_u64()) {
            return (n as usize, "the server (max_model_len)".into());
        }
        if let Ok(props) = self.get_json(self.root_endpoint("/props")).await {
            let n = props.pointer("/default_generation_settings/n_ctx").or_else(|| props.get("n_ctx")).and_then(|n| n.as_u64());
            if let Some(n) = n {
                return (n as usize, "the server (/props n_ctx)".into());
            }
        }
        (ASSUMED_CONTEXT_TOKENS, "assumed: the server does not say — set the context tokens in the server settings".into())
    }

    /// Everything "test connection" reports.
    pub fn report(&self) -> Result<ServerReport> {
        let c = self.clone();
        let started = std::time::Instant::now();
        self.block_on(async move {
            let entries = c.models().await?;
            if entries.is_empty() {
                c.chat_endpoint_exists().await?;
            }
            let models: Vec<String> = entries.iter().filter_map(|m| m.get("id").and_then(|i| i.as_str()).map(str::to_owned)).collect();
            let (context_tokens, context_source) = c.context_window(&entries).await;
            let chosen = c.settings.model.trim();
            Ok(ServerReport {
                host: c.host(),
                model_listed: (!models.is_empty() && !chosen.is_empty()).then(|| models.iter().any(|m| m == chosen)),
                models,
                context_tokens,
                context_source,
                unencrypted: c.settings.unencrypted(),
                ms: started.elapsed().as_secs_f64() * 1e3,
            })
        })
    }
}

fn retry_after(resp: &Response) -> Option<Duration> {
    parse_retry_after(resp.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?, std::time::SystemTime::now())
}

/// `Retry-After` is seconds or an HTTP date (RFC 9110 §10.2.3); a date in the past means now.
fn parse_retry_after(v: &str, now: std::time::SystemTime) -> Option<Duration> {
    let v = v.trim();
    if let Ok(s) = v.parse::<f64>() {
        return (s.is_finite() && s >= 0.0).then(|| Duration::from_secs_f64(s));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The message inside an error body (`{"error": {"message": …}}`, `{"detail": …}`), or its start.
fn server_message(body: &str) -> String {
    let from_json = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.get("error"))
            .or_else(|| v.get("detail"))
            .or_else(|| v.get("message"))
            .map(|m| m.as_str().map(str::to_owned).unwrap_or_else(|| m.to_string()))
    });
    excerpt(&from_json.unwrap_or_else(|| body.to_owned()))
}

/// At most 200 characters of `text`, on one line.
pub fn excerpt(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = one_line.chars().take(200).collect();
    if one_line.chars().count() > 200 {
        out.push('…');
    }
    out
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        source = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_read_for_their_message_and_cut_short() {
        assert_eq!(server_message(r#"{"error": {"message": "model not found", "type": "x"}}"#), "model not found");
        assert_eq!(server_message(r#"{"detail": "Invalid API key"}"#), "Invalid API key");
        assert_eq!(server_message("upstream\n  timed out"), "upstream timed out");
        assert_eq!(excerpt(&"あ".repeat(300)).chars().count(), 201);
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_as_a_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2026 07:28:00 GMT").unwrap();
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2026 07:28:30 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2026 07:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }
}
