//! Answers and embeddings from a server the user runs: any engine that speaks the OpenAI-style HTTP
//! API (vLLM, llama.cpp's server, Ollama, LM Studio, TGI). Lectures, retrieval, citations and
//! corrections stay on this computer; only a question's prompt (and, when embeddings come from the
//! server, the texts to embed) is sent.
//!
//! [`client`] holds the connection (addresses, the key, timeouts, errors in the user's words);
//! [`generate`] is the [`crate::generate::Generator`] over `/v1/chat/completions`; [`embed`] the
//! embedder over `/v1/embeddings`; [`key`] keeps the API key in its own owner-only file.

pub mod client;
pub mod embed;
pub mod generate;
pub mod key;

pub use client::{Client, ServerReport};
pub use embed::ServerEmbedder;
pub use generate::ServerModel;

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Where answers come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// This computer, through ONNX Runtime.
    #[default]
    Local,
    /// The server of [`ServerSettings`].
    Server,
}

impl std::str::FromStr for Engine {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "local" | "this-computer" | "onnx" => Self::Local,
            "server" => Self::Server,
            other => return Err(Error::Invalid(format!("unknown engine {other:?} — use local or server"))),
        })
    }
}

/// A server, as the user sets it. The API key is not here: it lives in a file of its own
/// ([`key`]), so that the settings can be shown, logged and shared without it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(default)]
pub struct ServerSettings {
    /// The API's base address, with its `/v1` (e.g. `http://127.0.0.1:8080/v1`).
    pub base_url: String,
    /// The chat model's id on the server (`/v1/models` lists them).
    pub model: String,
    /// Embeddings from the server too, with this model; `None` keeps them on this computer.
    pub embed_model: Option<String>,
    /// The model's context window in tokens, for servers that do not report it.
    pub context_tokens: Option<usize>,
    pub connect_timeout_s: f64,
    /// From sending a question to the first piece of its answer (a long prompt on a busy server).
    pub first_token_timeout_s: f64,
    /// Longest silence between two pieces of an answer.
    pub idle_timeout_s: f64,
    /// Requests in flight at once from this computer ("think harder" samples, rerank judgements).
    pub max_concurrency: usize,
    /// The user has read what is sent to a server (the app says it once, the first time).
    pub privacy_acknowledged: bool,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            model: String::new(),
            embed_model: None,
            context_tokens: None,
            connect_timeout_s: 5.0,
            first_token_timeout_s: 120.0,
            idle_timeout_s: 30.0,
            max_concurrency: 4,
            privacy_acknowledged: false,
        }
    }
}

/// Context windows kogi assumes when neither the server nor the settings say.
pub const ASSUMED_CONTEXT_TOKENS: usize = 4096;

impl ServerSettings {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Invalid(m));
        self.url()?;
        if self.model.trim().is_empty() {
            return bad("choose the server's model (test the connection to list them)".into());
        }
        for (what, v) in [
            ("connect timeout", self.connect_timeout_s),
            ("first-word timeout", self.first_token_timeout_s),
            ("idle timeout", self.idle_timeout_s),
        ] {
            if !(0.1..=3600.0).contains(&v) {
                return bad(format!("the {what} must be between 0.1 and 3600 seconds, got {v}"));
            }
        }
        if !(1..=64).contains(&self.max_concurrency) {
            return bad(format!("requests at once must be between 1 and 64, got {}", self.max_concurrency));
        }
        if let Some(c) = self.context_tokens
            && !(256..=10_000_000).contains(&c)
        {
            return bad(format!("the server's context window must be at least 256 tokens, got {c}"));
        }
        Ok(())
    }

    /// The base address, checked: http(s), with a host; plain http only inside the user's network.
    pub fn url(&self) -> Result<reqwest::Url> {
        let text = self.base_url.trim();
        if text.is_empty() {
            return Err(Error::Invalid("type the server's address, e.g. http://127.0.0.1:8080/v1".into()));
        }
        let url = reqwest::Url::parse(text)
            .map_err(|e| Error::Invalid(format!("the server address {text:?} is not a web address ({e}) — e.g. http://127.0.0.1:8080/v1")))?;
        if url.host_str().is_none() {
            return Err(Error::Invalid(format!("the server address {text:?} has no host name")));
        }
        match url.scheme() {
            "https" => {}
            "http" if is_private_host(&url) => {}
            "http" => {
                return Err(Error::Invalid(format!(
                    "{} is outside your network: use https:// (plain http is allowed only for this computer and private addresses)",
                    url.host_str().unwrap_or_default()
                )));
            }
            s => return Err(Error::Invalid(format!("the server address must begin with https:// or http://, not {s}://"))),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::Invalid("put the API key in its own field, not in the address".into()));
        }
        Ok(url)
    }

    /// The host (and port) the user sees as "answered by …".
    pub fn host(&self) -> String {
        match self.url() {
            Ok(u) => match u.port() {
                Some(p) => format!("{}:{p}", u.host_str().unwrap_or_default()),
                None => u.host_str().unwrap_or_default().to_owned(),
            },
            Err(_) => self.base_url.clone(),
        }
    }

    /// Plain http (allowed inside the network, and said so beside the address).
    pub fn unencrypted(&self) -> bool {
        // Plain http to this computer itself never crosses a network.
        let loopback = |u: &reqwest::Url| match u.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        self.url().is_ok_and(|u| u.scheme() == "http" && !loopback(&u))
    }
}

/// Loopback, private, link-local and unique-local addresses, and names that only resolve inside a
/// network (`localhost`, single labels, `.local`, `.lan`, `.internal`, `.home.arpa`).
fn is_private_host(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => private_ip(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => private_ip(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost"
                || !name.contains('.')
                || [".localhost", ".local", ".lan", ".internal", ".home.arpa"].iter().any(|s| name.ends_with(s))
        }
        None => false,
    }
}

fn private_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local() || (v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1])),
        IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00 || (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(url: &str) -> ServerSettings {
        ServerSettings { base_url: url.into(), model: "m".into(), ..Default::default() }
    }

    #[test]
    fn plain_http_is_allowed_only_inside_the_network() {
        for ok in [
            "http://127.0.0.1:8080/v1",
            "http://localhost:11434/v1",
            "http://192.168.1.20/v1",
            "http://10.0.0.5:8000/v1",
            "http://[::1]:8080/v1",
            "http://gpu-box:8000/v1",
            "http://gpu.lab.internal/v1",
            "https://llm.example.ac.jp/v1",
        ] {
            assert!(at(ok).validate().is_ok(), "{ok}");
        }
        let e = at("http://llm.example.com/v1").validate().unwrap_err().to_string();
        assert!(e.contains("https://"), "{e}");
        assert!(at("ftp://127.0.0.1/v1").validate().is_err());
        assert!(at("not an address").validate().unwrap_err().to_string().contains("not a web address"));
        assert!(at("https://user:secret@llm.example.ac.jp/v1").validate().unwrap_err().to_string().contains("API key"));
        assert!(at("http://192.168.1.20:8080/v1").unencrypted() && !at("https://llm.example.ac.jp/v1").unencrypted());
        assert!(!at("http://127.0.0.1:8080/v1").unencrypted() && !at("http://localhost:11434/v1").unencrypted(), "loopback never crosses a network");
        assert_eq!(at("http://127.0.0.1:8080/v1").host(), "127.0.0.1:8080");
    }

    #[test]
    fn a_server_needs_a_model_and_sane_timeouts() {
        let no_model = ServerSettings { model: " ".into(), ..at("http://127.0.0.1:8080/v1") };
        assert!(no_model.validate().unwrap_err().to_string().contains("model"));
        let bad = ServerSettings { idle_timeout_s: 0.0, ..at("http://127.0.0.1:8080/v1") };
        assert!(bad.validate().unwrap_err().to_string().contains("idle timeout"));
    }
}
