//! `kogi server`: answers from an OpenAI-compatible server (vLLM, llama.cpp's server, Ollama,
//! LM Studio) — set it, test it, keep its key, go back to this computer.

use crate::output::Out;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use kogi_core::server::{Engine, ServerReport, ServerSettings};
use kogi_core::service::Kogi;
use kogi_core::settings::Settings;
use std::io::{BufRead, IsTerminal};

/// What is sent, said once when a server is first chosen.
pub const PRIVACY: &str = "Sent to the server with each question: the question and the lecture passages retrieved for it \
(and, with --embed-model, the texts to embed). Not sent: your transcripts as a whole, their revisions, the database.";

#[derive(Subcommand)]
pub enum ServerCommand {
    /// Answer from a server: its address (with /v1) and model; tests it before saving
    Set(SetArgs),
    /// Try the saved server (or another address) without changing anything: its models and context window
    Test {
        /// Address to try instead of the saved one
        url: Option<String>,
        #[arg(long)]
        model: Option<String>,
    },
    /// Keep the server's API key (read from standard input, so it stays out of the shell's history)
    Key {
        /// Forget the stored key
        #[arg(long)]
        clear: bool,
    },
    /// Answer from this computer again (the server stays saved for later)
    Off,
}

#[derive(Args)]
pub struct SetArgs {
    /// Base address with its /v1, e.g. http://127.0.0.1:8080/v1
    url: String,
    /// The chat model's id on the server [default: the only one it lists]
    #[arg(long)]
    model: Option<String>,
    /// Embeddings from the server too, with this model (re-embeds what the cache lacks)
    #[arg(long)]
    embed_model: Option<String>,
    /// The model's context window, for servers that do not report it
    #[arg(long)]
    context_tokens: Option<usize>,
    #[arg(long)]
    connect_timeout: Option<f64>,
    /// Seconds from sending a question to the first word of its answer
    #[arg(long)]
    first_token_timeout: Option<f64>,
    /// Longest silence between two words of an answer, in seconds
    #[arg(long)]
    idle_timeout: Option<f64>,
    /// Requests in flight at once ("think harder", reranking)
    #[arg(long)]
    max_concurrency: Option<usize>,
}

/// The engine flags of one run (`--engine`, `--server`, `--server-model`) onto the settings.
#[derive(Args, Clone, Default)]
pub struct EngineArgs {
    /// Where answers come from for this run: local (this computer) or server [default: the settings']
    #[arg(long, global = true)]
    pub engine: Option<Engine>,
    /// Server address for this run (implies --engine server)
    #[arg(long, global = true)]
    pub server: Option<String>,
    /// Server model for this run
    #[arg(long, global = true)]
    pub server_model: Option<String>,
}

impl EngineArgs {
    pub fn apply(&self, s: &mut Settings) {
        if let Some(u) = &self.server {
            s.server.base_url = u.clone();
            s.engine = Engine::Server;
        }
        if let Some(m) = &self.server_model {
            s.server.model = m.clone();
        }
        if let Some(e) = self.engine {
            s.engine = e;
        }
    }
}

pub fn run(kogi: &Kogi, command: Option<ServerCommand>, out: &Out) -> Result<()> {
    match command {
        None => show(kogi, out),
        Some(ServerCommand::Set(a)) => set(kogi, a, out),
        Some(ServerCommand::Test { url, model }) => {
            let mut s = kogi.settings().server;
            if let Some(u) = url {
                s.base_url = u;
            }
            if let Some(m) = model {
                s.model = m;
            }
            if s.base_url.is_empty() {
                bail!("no server is set: `kogi server test URL` tries one, `kogi server set URL` chooses it");
            }
            let report = out.work("connecting", |_| kogi.test_server(&s, None))?;
            if !out.json(&report) {
                print_report(&report, &s);
            }
            Ok(())
        }
        Some(ServerCommand::Key { clear }) => {
            if clear {
                kogi.set_server_key(None)?;
                out.line("the server key is forgotten");
                return Ok(());
            }
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprintln!("paste the API key, then press Enter:");
            }
            let mut key = String::new();
            stdin.lock().read_line(&mut key).context("reading the key from standard input")?;
            if key.trim().is_empty() {
                bail!("no key was given (to forget the stored one: `kogi server key --clear`)");
            }
            kogi.set_server_key(Some(key.trim()))?;
            let path = kogi.settings_path().map(kogi_core::server::key::path_beside);
            out.line(&format!(
                "key {} kept{} (readable by you only)",
                kogi.server_key_hint().unwrap_or_default(),
                path.map(|p| format!(" in {}", p.display())).unwrap_or_default()
            ));
            Ok(())
        }
        Some(ServerCommand::Off) => {
            let mut s = kogi.settings();
            s.engine = Engine::Local;
            kogi.save_settings(s)?;
            out.line("answers come from this computer again (the server stays saved: `kogi server set` or --engine server)");
            Ok(())
        }
    }
}

fn show(kogi: &Kogi, out: &Out) -> Result<()> {
    let s = kogi.settings();
    let view = serde_json::json!({"engine": s.engine, "server": s.server, "key": kogi.server_key_hint()});
    if out.json(&view) {
        return Ok(());
    }
    match s.engine {
        Engine::Local => say!("answers come from this computer (ONNX Runtime)"),
        Engine::Server => say!("answers come from {} (model {})", s.server.host(), s.server.model),
    }
    if !s.server.base_url.is_empty() {
        say!("server: {}{}", s.server.base_url, if s.server.unencrypted() { "  (plain http: unencrypted on your network)" } else { "" });
        say!("model: {}", if s.server.model.is_empty() { "-" } else { &s.server.model });
        say!("embeddings: {}", s.server.embed_model.as_deref().map(|m| format!("from the server ({m})")).unwrap_or("this computer".into()));
        say!("key: {}", kogi.server_key_hint().unwrap_or("none".into()));
        say!(
            "timeouts: connect {} s, first word {} s, idle {} s; {} requests at once",
            s.server.connect_timeout_s,
            s.server.first_token_timeout_s,
            s.server.idle_timeout_s,
            s.server.max_concurrency
        );
    } else {
        say!("no server set — `kogi server set URL --model NAME` chooses one");
    }
    Ok(())
}

fn set(kogi: &Kogi, a: SetArgs, out: &Out) -> Result<()> {
    let s = kogi.settings();
    let first = s.server.base_url.is_empty() || !s.server.privacy_acknowledged;
    let mut server = ServerSettings { base_url: a.url, ..s.server.clone() };
    if let Some(m) = a.model {
        server.model = m;
    }
    if a.embed_model.is_some() {
        server.embed_model = a.embed_model.filter(|m| !m.is_empty());
    }
    if a.context_tokens.is_some() {
        server.context_tokens = a.context_tokens;
    }
    for (v, slot) in [
        (a.connect_timeout, &mut server.connect_timeout_s),
        (a.first_token_timeout, &mut server.first_token_timeout_s),
        (a.idle_timeout, &mut server.idle_timeout_s),
    ] {
        if let Some(v) = v {
            *slot = v;
        }
    }
    if let Some(c) = a.max_concurrency {
        server.max_concurrency = c;
    }
    let report = out.work("connecting", |_| kogi.choose_server(server))?;
    let s = kogi.settings();
    if out.json(&report) {
        return Ok(());
    }
    print_report(&report, &s.server);
    say!("answers now come from {} (model {}); `kogi server off` goes back to this computer", report.host, s.server.model);
    if first {
        say!("\n{PRIVACY}");
    }
    Ok(())
}

fn print_report(r: &ServerReport, s: &ServerSettings) {
    say!("{} answered in {:.0} ms{}", r.host, r.ms, if r.unencrypted { " — plain http: unencrypted on your network" } else { "" });
    if r.models.is_empty() {
        say!("models: the server does not list them");
    } else {
        say!("models: {}", r.models.join(", "));
    }
    if !s.model.is_empty() {
        match r.model_listed {
            Some(true) => say!("model {:?}: served", s.model),
            Some(false) => say!("model {:?}: NOT among them", s.model),
            None => {}
        }
    }
    say!("context window: {} tokens ({})", r.context_tokens, r.context_source);
}
